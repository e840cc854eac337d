"""Pre-registered power: the chance that a notebook's design reads "reproduced" at the effect a claim expects.

Each claim testable at the ``cpu`` profile states ``expected_effect`` (the value its estimate is expected to take at
toy scale, with a reason written before running). Power is computed by simulation, with the very estimator the
notebooks use (`workbook.metrics.hierarchical_intervals`, seeds × problems) and the very verdict rules
(`workbook.reporting.verdicts`), on a design of ``problems × samples × seeds``:

- ``model: accuracy`` — each (seed, problem) cell is the mean of ``samples`` Bernoulli draws with success
  probability σ(θ_p + u_s + δ): problem logits θ_p ~ N(logit(base_rate), problem_sd²), seed offsets
  u_s ~ N(0, seed_sd²) for trained arms (defaults 1.0 and 0.3 on the logit scale; a claim may override them), δ
  solved so that the expected difference equals ``expected_effect.value``;
- ``model: continuous`` — each cell is μ + seed_sd·z_s + sd·z_sp (``sd`` required, per unit; ``base_sd``, default
  ``sd``, for the untrained base of a ``base`` comparison, when it is measured with more samples per problem).

``comparison`` says what the estimate contrasts: ``arms`` (two trained arms, ``seeds`` each, e.g. NSR − GRPO),
``base`` (a trained arm against the one untrained base model, e.g. NSR − base) or ``single`` (one arm's own
quantity, e.g. a change over training). A design under 80% power for its own expected effect should say so in
the notebook's deviations: `power_table` flags it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from workbook.reporting.verdicts import decide

__all__ = ["Design", "design_for", "power", "power_table", "print_power", "simulate", "decision_table"]

TARGET_POWER = 0.8


@dataclass(frozen=True)
class Design:
    """Units of one estimate: ``problems`` × ``samples`` per problem × ``seeds`` per trained arm."""

    problems: int
    samples: int = 1
    seeds: int = 1
    comparison: str = "arms"

    def __post_init__(self) -> None:
        if self.problems < 1 or self.samples < 1 or self.seeds < 1:
            raise ValueError(f"a design needs problems, samples, seeds >= 1, got {self}")
        if self.comparison not in ("arms", "base", "single"):
            raise ValueError(f"comparison must be arms, base or single, got {self.comparison!r}")

    def __str__(self) -> str:
        return f"{self.problems} problems × {self.samples} samples × {self.seeds} seeds ({self.comparison})"


def _resolve(spec: Any, params: Mapping, key: str) -> int:
    if isinstance(spec, bool):
        raise ValueError(f"design.{key}: {spec!r} is not a count")
    if isinstance(spec, (int, float)):
        return int(spec)
    if str(spec) not in params:
        raise KeyError(f"design.{key} reads parameter {spec!r}, which the run's parameters do not have")
    v = params[str(spec)]
    return len(v) if isinstance(v, (list, tuple)) else int(v)


def design_for(doc_design: Mapping | None, claim: Mapping, params: Mapping) -> Design:
    """Return the `Design` of ``claim``: the file's ``design`` overridden by the claim's, resolved on ``params``."""
    spec = {**(doc_design or {}), **(claim.get("design") or {})}
    if "problems" not in spec:
        raise KeyError(f"claim {claim.get('id')}: no design.problems (in the claim or at the top of its file)")
    return Design(problems=_resolve(spec["problems"], params, "problems"),
                  samples=_resolve(spec.get("samples", 1), params, "samples"),
                  seeds=_resolve(spec.get("seeds", 1), params, "seeds"),
                  comparison=str(spec.get("comparison", "arms")))


_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(64)
_GH_W = _GH_W / _GH_W.sum()


def _mean_acc(mu: float, sd: float, shift: float = 0.0) -> float:
    """E[σ(θ + shift)] for θ ~ N(mu, sd²), by Gauss–Hermite quadrature."""
    return float(np.sum(_GH_W / (1.0 + np.exp(-(mu + sd * _GH_X + shift)))))


def _solve_shift(mu: float, sd: float, diff: float) -> float:
    """The logit shift δ with E[σ(θ + δ)] − E[σ(θ)] = diff (bisection; |diff| must stay
    inside (−base, 1 − base))."""
    base = _mean_acc(mu, sd)
    if not -base < diff < 1.0 - base:
        raise ValueError(f"an accuracy difference of {diff} is impossible from a base accuracy of {base:.3f}")
    lo, hi = -30.0, 30.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _mean_acc(mu, sd, mid) - base < diff else (lo, mid)
    return 0.5 * (lo + hi)


def simulate(claim: Mapping, design: Design, effect: float | None = None, *, n_sim: int = 1000, seed: int = 0,
             n_boot: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (value, lo, hi) of ``n_sim`` simulated estimates of ``claim``'s quantity under ``design``.

    ``effect`` is the true value of the quantity (default: the claim's ``expected_effect.value``); the model and
    its nuisance parameters come from ``expected_effect`` (module docstring).
    """
    from workbook.metrics import hierarchical_intervals

    ee = dict(claim.get("expected_effect") or {})
    effect = float(ee["value"] if effect is None else effect)
    rng = np.random.default_rng(seed)
    S, P, n = design.seeds, design.problems, design.samples
    seed_sd = float(ee.get("seed_sd", 0.3 if ee.get("model", "accuracy") == "accuracy" else 0.0))
    base_sd = None
    if ee.get("model", "accuracy") == "continuous":
        sd = float(ee["sd"])
        # the untrained base may be measured with more samples than each trained run (a smaller cell spread)
        base_sd = float(ee.get("base_sd", sd))

        def arm(mu: float, n_seeds: int, s_sd: float, c_sd: float | None = None) -> np.ndarray:
            return (mu + s_sd * rng.standard_normal((n_sim, n_seeds, 1))
                    + (sd if c_sd is None else c_sd) * rng.standard_normal((n_sim, n_seeds, P)))

        a_mu, b_mu = effect, 0.0
    else:
        base_rate = float(ee.get("base_rate", 0.5))
        problem_sd = float(ee.get("problem_sd", 1.0))
        mu = float(np.log(base_rate / (1.0 - base_rate)))
        shared = mu + problem_sd * rng.standard_normal((n_sim, 1, P))            # the same problems in each arm
        if design.comparison == "single":
            # one arm's own accuracy level: effect is that level
            shift = _solve_shift(mu, problem_sd, effect - _mean_acc(mu, problem_sd))
        else:
            shift = _solve_shift(mu, problem_sd, effect)

        def arm(delta: float, n_seeds: int, s_sd: float, c_sd: float | None = None) -> np.ndarray:
            logits = shared + delta + s_sd * rng.standard_normal((n_sim, n_seeds, 1))
            return rng.binomial(n, 1.0 / (1.0 + np.exp(-logits))) / n

        a_mu, b_mu = shift, 0.0
    if design.comparison == "single":
        arms, signs = [arm(a_mu, S, seed_sd)], [1.0]
    elif design.comparison == "base":
        arms, signs = [arm(a_mu, S, seed_sd), arm(b_mu, 1, 0.0, base_sd)], [1.0, -1.0]
    else:
        arms, signs = [arm(a_mu, S, seed_sd), arm(b_mu, S, seed_sd)], [1.0, -1.0]
    return hierarchical_intervals(arms, signs, n_boot=n_boot, seed=seed + 1)


def verdict_rates(claim: Mapping, design: Design, effect: float | None = None, *, n_sim: int = 1000,
                  seed: int = 0, n_boot: int = 200) -> dict[str, float]:
    """Return the share of each verdict over ``n_sim`` simulated datasets (cpu profile, no base contrast).

    A claim with ``requires:`` is simulated as if its precondition held (the power given it): otherwise every
    simulated estimate, not passed through ``requires``, would read "untestable here" and the power be 0.
    """
    value, lo, hi = simulate(claim, design, effect, n_sim=n_sim, seed=seed, n_boot=n_boot)
    c = {**{k: v for k, v in claim.items() if k != "requires"}, "excludes_base": False}
    counts: dict[str, int] = {}
    for v, a, b in zip(value, lo, hi):
        key = decide(c, {"value": v, "lo": a, "hi": b, "n": design.problems}, "cpu").verdict
        counts[key] = counts.get(key, 0) + 1
    return {k: cnt / len(value) for k, cnt in sorted(counts.items())}


def power(claim: Mapping, design: Design, effect: float | None = None, *, n_sim: int = 1000, seed: int = 0,
          n_boot: int = 200) -> float:
    """Return P("reproduced") for ``claim`` under ``design`` when the truth is ``effect`` (default: expected)."""
    if claim["kind"] == "check":
        raise ValueError(f"claim {claim.get('id')} is a check: exact, no sampling, so no power")
    return verdict_rates(claim, design, effect, n_sim=n_sim, seed=seed, n_boot=n_boot).get("reproduced", 0.0)


def power_table(method: str, params: Mapping, *, n_sim: int = 400, seed: int = 0, n_boot: int = 200):
    """Return one row per claim of ``method`` testable at the cpu profile: expected effect, design and its power.

    Columns: claim_id, kind, expected_effect, why, design, power, note ("under 80% power" or why there is none).
    """
    import pandas as pd

    from workbook.reporting.claims import REPORTED_DIR, load_reported_file

    doc = load_reported_file(REPORTED_DIR / f"{method}.yaml")
    rows = []
    for c in doc["claims"]:
        if c["scale"] != "any" or c["kind"] == "check":
            continue
        ee = c["expected_effect"]
        row = {"claim_id": c["id"], "kind": c["kind"], "expected_effect": ee["value"], "why": ee["why"],
               "design": "", "power": float("nan"), "note": ""}
        try:
            d = design_for(doc["design"], c, params)
            row["design"] = str(d)
            row["power"] = power(c, d, n_sim=n_sim, seed=seed, n_boot=n_boot)
            if row["power"] < TARGET_POWER:
                row["note"] = f"under {TARGET_POWER:.0%} power for its own expected effect"
        except (KeyError, ValueError) as exc:
            row["note"] = f"no power: {exc}"
        rows.append(row)
    return pd.DataFrame(rows, columns=["claim_id", "kind", "expected_effect", "why", "design", "power", "note"])


def print_power(method: str, params: Mapping, **kw) -> Any:
    """Print, before running, each cpu claim's pre-registered effect and this design's power; return the table."""
    tab = power_table(method, params, **kw)
    for r in tab.itertuples():
        p = "—" if r.power != r.power else f"{r.power:.0%}"
        print(f"{r.claim_id:>7}  power {p:>4}  to see {r.expected_effect:+.3g} with {r.design or '?'}"
              + (f"  [{r.note}]" if r.note else ""))
    return tab


# The chance of the verdict a claim's expected effect implies, "not reproduced" included (one table for every paper)
def _holds_at(claim: Mapping, effect: float) -> bool:
    """Whether an estimate exactly at ``effect`` (no spread) satisfies ``claim`` (the verdict rules of
    `workbook.reporting.verdicts` for each kind): the verdict its expected effect implies."""
    kind, tol = claim["kind"], float(claim.get("tolerance") or 0.0)
    if kind == "direction":
        sign = -1.0 if claim.get("expected_sign") == "-" else 1.0
        return sign * effect > float(claim.get("min_effect") or 0.0)
    if kind == "value":
        return abs(effect - float(claim["value"])) <= tol
    if kind == "at_least":
        return effect >= float(claim["value"]) - tol
    return effect <= float(claim["value"]) + tol  # at_most


def decision_table(method: str, params: Mapping, ids: Sequence[str] | None = None, *, n_sim: int = 400,
                   seed: int = 0, n_boot: int = 200):
    """Return one row per claim: the verdict its expected effect implies and this design's chance of it (and of each).

    ``power_table`` gives the chance of "reproduced"; a claim whose expected effect lies short of its min_effect
    (a direction claim expected to read "not reproduced") has power ~0 there, although the design may decide it
    almost surely. ``ids``: these claims, in file order (default: every cpu-testable claim that is not a check).
    A claim whose design cannot be resolved on ``params`` (e.g. the paper profile, with no toy design) gets
    ``design`` = "no power: <why>" and NaN rates instead of an error. ``expects``: the verdict an estimate exactly at
    the expected effect would get, for every kind (`_holds_at`). Columns: claim_id, expected_effect,
    min_effect, expects ("reproduced" / "not reproduced"), chance (of that verdict), decided (of either),
    reproduced, not reproduced, inconclusive, design, note.
    """
    import pandas as pd

    from workbook.reporting.claims import REPORTED_DIR, load_reported_file

    doc = load_reported_file(REPORTED_DIR / f"{method}.yaml")
    verdicts = ("reproduced", "not reproduced", "inconclusive")
    rows = []
    for c in doc["claims"]:
        if (c["id"] not in ids) if ids is not None else (c["scale"] != "any" or c["kind"] == "check"):
            continue
        ee = c["expected_effect"]
        expects = "reproduced" if _holds_at(c, float(ee["value"])) else "not reproduced"
        row = {"claim_id": c["id"], "expected_effect": ee["value"], "min_effect": c.get("min_effect"),
               "expects": expects, "chance": float("nan"), "decided": float("nan"),
               **{v: float("nan") for v in verdicts}, "design": "", "note": ""}
        try:
            d = design_for(doc["design"], c, params)
        except (KeyError, ValueError) as exc:
            row.update(design=f"no power: {exc}", note="no toy design at these parameters")
            rows.append(row)
            continue
        rates = verdict_rates(c, d, n_sim=n_sim, seed=seed, n_boot=n_boot)
        row.update(design=str(d), chance=rates.get(expects, 0.0),
                   decided=rates.get("reproduced", 0.0) + rates.get("not reproduced", 0.0),
                   **{v: rates.get(v, 0.0) for v in verdicts})
        if row["chance"] < TARGET_POWER:
            row["note"] = f"under {TARGET_POWER:.0%} chance of the verdict its expected effect implies"
        rows.append(row)
    return pd.DataFrame(rows, columns=["claim_id", "expected_effect", "min_effect", "expects", "chance", "decided",
                                       *verdicts, "design", "note"])
