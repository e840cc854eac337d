"""DSER's verifier-quality sweep: one refiner, verification reports of controlled quality, the chain law across it.

Liu, Zheng, Wen et al. 2025, Sec. 3: the long-run accuracy π_C = p_IC / (p_IC + p_CI) depends on the ratio of
improvement to degradation, not on how good verification is. To test that, each *arm* keeps the model's own refine
step and changes only the verification report: the exact step check with its verdict flipped with probability ε
(``workbook.toy.evaluate.noisy_oracle_report``; ε = 0 the oracle, ε = 0.5 a coin), or the model's own trained
verifier. Per arm: a one-step diagnostic on base solutions gives p̂_IC, p̂_CI and the predicted curve
P_n(C) = π_C + (P_0 − π_C)(1 − p_IC − p_CI)^n; long chains from shared starting solutions give the observed one.
Our design; the paper has no public code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci, wilson_interval
from workbook.papers.dser.loop import DSERConfig, DSERRun, run_dser
from workbook.papers.dser.theory import (
    OneStep, estimate_rates, one_step_prediction, transient_accuracy, transition_counts,
)

VerifyFn = Callable[[Sequence, Sequence[str]], list[str]]


@dataclass(frozen=True)
class Arm:
    """One verifier: ``eps`` = the flip probability of the noisy oracle, or None for the model's own verifier."""

    name: str
    eps: float | None = None

    @property
    def is_own(self) -> bool:
        return self.eps is None


def make_arms(eps: Sequence[float], own: bool = True) -> list[Arm]:
    """Return the sweep's arms: one noisy oracle per ε (ascending), then the model's own verifier."""
    for e in eps:
        if not 0.0 <= float(e) <= 0.5:
            raise ValueError(f"verifier flip probability ε must lie in [0, 0.5], got {e}")
    out = [Arm(f"oracle, ε = {float(e):.2g}", float(e)) for e in sorted(eps)]
    return out + ([Arm("own verifier")] if own else [])


def noisy_oracle_verifier(eps: float, seed: int) -> VerifyFn:
    """Return a ``run_dser`` ``verify_fn``: the toy's exact step check with its verdict flipped with probability ε.

    Seeded: one ``random.Random(seed)`` stream over all calls, so a run is reproducible.
    """
    from workbook.toy.evaluate import noisy_oracle_report

    rng = random.Random(seed)
    return lambda problems, solutions: [noisy_oracle_report(s, eps, rng) for s in solutions]


def stratified_pool(texts: Sequence[Sequence[str]], correct: np.ndarray, n_pool: int) -> list[list[str]]:
    """Return ``n_pool`` base solutions per problem: up to half of them correct, the rest incorrect.

    The rates are conditional on the starting state (p_IC on I, p_CI on C), so choosing the mix does not bias
    them; it makes sure C is visited on hard problems, where p̂_CI would otherwise rest on a handful of moves.
    A problem with too few of one kind is filled with the other, in sample order.
    """
    correct = np.asarray(correct, dtype=bool)
    out = []
    for row, ok in zip(texts, correct):
        if len(row) < n_pool:
            raise ValueError(f"need {n_pool} base solutions per problem, got {len(row)}")
        right = [t for t, c in zip(row, ok) if c]
        wrong = [t for t, c in zip(row, ok) if not c]
        n_right = max(min(len(right), n_pool // 2), n_pool - len(wrong))
        out.append(right[:n_right] + wrong[:n_pool - n_right])
    return out


@dataclass
class ArmResult:
    """One arm: the diagnostic run (one step on the pool), its `OneStep`, the chains, the verdicts' quality."""

    arm: Arm
    diag: DSERRun
    one: OneStep
    run: DSERRun
    verify: dict          # verdict quality on the diagnostic pool (workbook.toy.evaluate.verification_metrics)

    @property
    def eps_effective(self) -> float:
        """1 − balanced accuracy of the verdicts: ε itself for the noisy oracle, the own verifier's place on the
        axis."""
        bal = self.verify.get("verify_balanced_accuracy")
        return float("nan") if bal is None else 1.0 - bal


def verdict_quality(diag: DSERRun) -> dict:
    """Return the verdicts' accuracy against the truth of the verified solution (``verification_metrics``)."""
    from workbook.toy.evaluate import verification_metrics
    from workbook.toy.world import parse_verdict

    truth = diag.correct[:, :, 0].ravel()
    verdicts = [parse_verdict(r[0].lower()) for chains in diag.reports for r in chains]  # real models: CORRECT
    return verification_metrics(truth, verdicts)


def run_arm(arm: Arm, problems: Sequence, backend, prompts, grader, pool: Sequence[Sequence[str]],
            starts: Sequence[Sequence[str]], p0: np.ndarray, config: DSERConfig, prior_strength: float = 2.0,
            n_boot: int = 2000, seed: int = 0) -> ArmResult:
    """Run one arm: one verify+refine step on ``pool`` (→ rates, prediction), then chains from ``starts``.

    Every arm starts its chains from the same ``starts`` ([problem][chain]; common random numbers across arms)
    and gets its own verifier seed. ``config.n_chains`` must equal the chains per problem in ``starts``.
    """
    verify = None if arm.is_own else (lambda s: noisy_oracle_verifier(arm.eps, s))
    one_cfg = DSERConfig(**{**vars(config), "n_chains": len(pool[0]), "n_iterations": 1, "seed": seed + 100})
    diag = run_dser(problems, backend, prompts, grader, one_cfg, initial_solutions=pool,
                    verify_fn=None if verify is None else verify(seed + 1))
    one = one_step_prediction(diag.correct, p0, config.n_iterations, prior_strength=prior_strength, n_boot=n_boot,
                              seed=seed)
    run = run_dser(problems, backend, prompts, grader, config, initial_solutions=starts,
                   verify_fn=None if verify is None else verify(seed + 2))
    return ArmResult(arm, diag, one, run, verdict_quality(diag))


# --------------------------------------------------------------------------------------------------------------
# Prediction vs observation, with the estimation error of the rates propagated


def _predict(diag_states: np.ndarray, p0: np.ndarray, n_iterations: int, prior_strength: float,
             idx: np.ndarray) -> np.ndarray:
    """Return shrunk per-problem predictions for resampled problems ``idx`` (B, N): shape (B, N, T + 1)."""
    c = transition_counts(diag_states, per_problem=True)
    out = []
    for k, v in ((c.n_ic, c.visits_i), (c.n_ci, c.visits_c)):
        kb, vb = k[idx].astype(float), v[idx].astype(float)
        pool = np.divide(kb.sum(1), vb.sum(1), out=np.zeros(len(idx)), where=vb.sum(1) > 0)[:, None]
        out.append((kb + prior_strength * pool) / np.maximum(vb + prior_strength, 1e-12))
    n = np.arange(n_iterations + 1)
    return transient_accuracy(np.asarray(p0, float)[idx][..., None], out[0][..., None], out[1][..., None],
                              n[None, None, :])


@dataclass
class Calibration:
    """Observed and predicted mean accuracy per iteration (95% CIs over problems) and their gap.

    ``predicted`` re-estimates the rates in every bootstrap resample of problems, so its band carries the
    diagnostic's estimation error; ``gap`` is mean over iterations 1..T of observed − predicted (D1) and
    ``no_dynamics`` the same for a chain that never moves from P_0.
    """

    observed: list[Estimate]
    predicted: list[Estimate]
    gap: Estimate
    no_dynamics: Estimate
    change: Estimate       # accuracy at iteration T − at iteration 0 (chains averaged), over problems


def calibration(res: ArmResult, p0: np.ndarray, prior_strength: float = 2.0, n_boot: int = 2000,
                seed: int = 0) -> Calibration:
    """Return the arm's `Calibration`; one bootstrap over problems shared by every quantity (paired)."""
    obs = res.run.correct.mean(1)                           # (problems, T + 1)
    n_problems, t1 = obs.shape
    rng = np.random.default_rng(seed)
    idx = np.vstack([np.arange(n_problems), rng.integers(0, n_problems, size=(n_boot, n_problems))])
    pred = _predict(res.diag.correct, p0, t1 - 1, prior_strength, idx)   # (1 + B, N, T + 1)
    ob = obs[idx]

    def est(x: np.ndarray, what: str) -> Estimate:       # x: (1 + B,) point first
        lo, hi = np.quantile(x[1:], [0.025, 0.975])
        return Estimate(float(x[0]), float(lo), float(hi), n_problems, what=what)

    p0b = np.asarray(p0, float)[idx][..., None]
    return Calibration(
        observed=[est(ob[:, :, t].mean(1), f"observed accuracy, iteration {t}") for t in range(t1)],
        predicted=[est(pred[:, :, t].mean(1), f"predicted accuracy, iteration {t}") for t in range(t1)],
        gap=est((ob - pred)[:, :, 1:].mean((1, 2)), "observed − predicted, iterations 1..T"),
        no_dynamics=est((ob - p0b)[:, :, 1:].mean((1, 2)), "observed − P_0 (no dynamics), iterations 1..T"),
        change=est((ob[:, :, -1] - ob[:, :, 0]).mean(1), "acc(T) − acc(0)"))


def sweep_table(results: Sequence[ArmResult], cals: Sequence[Calibration], p0: np.ndarray, window: int,
                n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Return one row per arm: verdict quality, one-step rates (Wilson CIs), π_C, predicted vs observed, votes."""
    rows = []
    for res, cal in zip(results, cals):
        one = res.one
        vote = res.run.vote_correct(window=window)
        single = res.run.correct[:, :, -1].mean(1)
        rows.append({
            "arm": res.arm.name, "eps": res.arm.eps, "eps_effective": res.eps_effective,
            "verify_tpr": res.verify.get("verify_tpr"), "verify_tnr": res.verify.get("verify_tnr"),
            "p_ic": one.p_ic.value, "p_ic_lo": one.p_ic.lo, "p_ic_hi": one.p_ic.hi,
            "p_ci": one.p_ci.value, "p_ci_lo": one.p_ci.lo, "p_ci_hi": one.p_ci.hi,
            "pi_c": one.pi_c, "p0": float(np.mean(p0)),
            "predicted_T": cal.predicted[-1].value, "predicted_T_lo": cal.predicted[-1].lo,
            "predicted_T_hi": cal.predicted[-1].hi,
            "observed_T": cal.observed[-1].value, "observed_T_lo": cal.observed[-1].lo,
            "observed_T_hi": cal.observed[-1].hi,
            "gap": cal.gap.value, "gap_lo": cal.gap.lo, "gap_hi": cal.gap.hi,
            "change": cal.change.value, "change_lo": cal.change.lo, "change_hi": cal.change.hi,
            "vote": float(vote.mean()), "single_chain_T": float(single.mean()),
            "chain_tokens": res.run.n_generated_tokens,
        })
    return pd.DataFrame(rows)


def chain_rates(res: ArmResult) -> tuple[Estimate, Estimate]:
    """Return the rates seen along the long chains (pooled moves, Wilson): the check on stationarity of the rates."""
    return estimate_rates(transition_counts(res.run.correct))


def rates_by_iteration(states: np.ndarray) -> pd.DataFrame:
    """Return p̂_IC and p̂_CI of each move n → n + 1 along chains (Wilson 95% CIs), one row per n.

    The two-state reduction assumes the same rates at every iteration (a time-homogeneous chain). If wrong
    solutions differ in how fixable they are, the fixable ones leave I first and p̂_IC falls with n: the
    one-step rates, measured on base solutions, then overstate later improvement.
    """
    s = np.asarray(states, dtype=bool)
    rows = []
    for n in range(s.shape[-1] - 1):
        ic, ci = estimate_rates(transition_counts(s[..., n:n + 2]))
        rows.append({"move": f"{n}→{n + 1}", "n": n, "p_ic": ic.value, "p_ic_lo": ic.lo, "p_ic_hi": ic.hi,
                     "visits_i": ic.n, "p_ci": ci.value, "p_ci_lo": ci.lo, "p_ci_hi": ci.hi, "visits_c": ci.n})
    return pd.DataFrame(rows)


def rates_by_verdict(res: ArmResult) -> pd.DataFrame:
    """Return the one-step p̂_IC and p̂_CI split by the report's verdict (Wilson 95% CIs), one row per verdict.

    Which side of the step moves the chain: if p̂_CI stays high when the report says ``correct``, the refiner
    breaks right solutions on its own and no verifier can lift π_C = p_IC / (p_IC + p_CI) (Sec. 3); if it falls
    there, the verifier's false alarms carry the degradation. Verdicts as `verdict_quality` reads them (None: no
    ``\\boxed{}`` verdict in the report).
    """
    from workbook.toy.world import parse_verdict

    s = np.asarray(res.diag.correct, dtype=bool)                     # (problems, pool, 2)
    verdict = np.array([[str(parse_verdict(r[0].lower())) for r in chains] for chains in res.diag.reports])
    rows = []
    for v in ("correct", "incorrect", "None"):
        m = verdict == v
        row = {"verdict": v if v != "None" else "none"}
        for key, start in (("p_ic", False), ("p_ci", True)):
            visits = m & (s[..., 0] == start)
            k, n = int((visits & (s[..., 1] != start)).sum()), int(visits.sum())
            lo, hi = wilson_interval(k, n)
            row.update({key: k / n if n else float("nan"), f"{key}_lo": float(lo), f"{key}_hi": float(hi),
                        f"visits_{'i' if key == 'p_ic' else 'c'}": n})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------------------
# Equal compute for the base model


def equal_compute_k(run: DSERRun, mean_base_tokens: float, max_k: int) -> int:
    """Return k such that k base samples per problem cost about the chains' generated tokens per problem (≤ max_k)."""
    per_problem = run.n_generated_tokens / max(len(run.problem_ids), 1)
    return int(max(1, min(max_k, round(per_problem / max(mean_base_tokens, 1.0)))))


def worst_arm(estimates: Sequence[Estimate], band: tuple[float, float]) -> Estimate:
    """Return the arm estimate that decides "the claim holds in every arm" (an intersection–union test).

    ``band`` = the claim's [value − tolerance, value + tolerance]. If some arm's CI lies outside the band, that
    arm (the furthest out) decides: not reproduced. Otherwise the arm whose CI reaches furthest beyond the band
    decides: reproduced only when every arm's CI lies inside. Each arm is a test at level 2.5% per side, and an
    intersection–union test needs no multiplicity correction (Berger 1982).
    """
    lo_b, hi_b = band
    out = [e for e in estimates if e.hi < lo_b or e.lo > hi_b]
    pool = out or list(estimates)
    key = (lambda e: max(lo_b - e.hi, e.lo - hi_b)) if out else (lambda e: max(lo_b - e.lo, e.hi - hi_b))
    return max(pool, key=key)


def most_distinct(estimates: Sequence[Estimate], band: tuple[float, float]) -> Estimate:
    """Return the estimate furthest from ``band`` (the no-dynamics base most able to fail the claim)."""
    lo_b, hi_b = band
    return max(estimates, key=lambda e: max(lo_b - e.hi, e.lo - hi_b))


def per_problem_ci(x: np.ndarray, what: str, n_boot: int, seed: int) -> Estimate:
    """Return the mean of per-problem values with a bootstrap CI over problems."""
    return bootstrap_ci(np.asarray(x, float), n_boot=n_boot, seed=seed, what=what)
