"""Verdict rules: from a claim of ``reported/<paper>.yaml`` and our 95% CI to one of eight verdicts.

The verdicts, and what each means:

- evidence (kinds ``value``, ``direction``, ``at_least``, ``at_most``): ``reproduced`` | ``not reproduced`` |
  ``inconclusive`` (the CI is too wide to tell);
- checks (kind ``check``: identities, theorems, exact computations that cannot come out otherwise when the code is
  right): ``check passed`` | ``check failed``. A check is never evidence that the paper's finding reproduces;
- the run could not decide: ``untestable here`` (it ran, but the design could not decide the claim for a reason
  the code detects: the estimate is empty or NaN, every unit sits at the metric's floor or ceiling, a stated
  precondition failed, or the untrained base would also satisfy the claim — unless our CI already lies outside a
  ``value`` claim's band, which refutes it whatever the base does); ``not comparable`` (a paper-profile run
  whose resolved parameters differ from the claim's setting: the differences are listed); ``not run at this
  scale`` (not measured by this run, or a ``scale: paper`` claim at a smaller profile).

Rules, with ``[lo, hi]`` the reproduced 95% CI and ``m`` the claim's ``min_effect``:

- ``value``: equivalence test (two one-sided tests at 2.5% each) against ``[value − tolerance, value + tolerance]``:
  CI inside → reproduced; disjoint → not reproduced; else inconclusive;
- ``direction`` (the estimate is a difference; flipped so that the expected effect is positive): ``lo > m`` →
  reproduced; ``hi < m`` → not reproduced (the effect is excluded from being as large as the claim needs); else
  inconclusive. A CI of exactly ``[0, 0]`` means no unit differs: untestable here;
- ``at_least``: ``lo ≥ value − tolerance`` → reproduced, ``hi < value − tolerance`` → not reproduced;
  ``at_most`` mirrors it;
- ``check``: the point value against ``value`` by ``relation`` (``=``: within ``tolerance``; ``>=``/``<=``).

Each rule is a one-sided test at level 2.5% when the truth sits exactly on the claim's boundary;
``tests/test_verdict_calibration.py`` measures that on simulated data, and `workbook.reporting.power` the chance
of "reproduced" at the effect a claim expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from workbook.params import PROFILES

EVIDENCE_VERDICTS: tuple[str, ...] = ("reproduced", "not reproduced", "inconclusive")
CHECK_VERDICTS: tuple[str, ...] = ("check passed", "check failed")
UNDECIDED_VERDICTS: tuple[str, ...] = ("untestable here", "not comparable", "not run at this scale")
VERDICTS: tuple[str, ...] = EVIDENCE_VERDICTS + CHECK_VERDICTS + UNDECIDED_VERDICTS


@dataclass(frozen=True)
class Untestable:
    """What a notebook passes instead of an estimate when its run could not decide a claim, and why."""

    reason: str


def untestable(reason: str) -> Untestable:
    """Return the marker for "the run happened but cannot decide this claim" (reason shown in the table)."""
    return Untestable(str(reason))


@dataclass(frozen=True)
class Checked:
    """An estimate whose claim's precondition was checked and held (what `requires` returns)."""

    estimate: Any
    condition: str


def requires(condition: Any, reason: str, estimate: Any) -> Checked | Untestable:
    """Return ``estimate`` marked `Checked` when ``condition``'s 95% CI lies above 0, else `untestable`.

    For claims that presuppose an effect (e.g. "NSR keeps GRPO's gain over the base" needs GRPO − base > 0). A
    claim whose file states ``requires:`` reads "untestable here" unless its estimate came through here.
    """
    c = as_estimate(condition)
    if c is None or not (c.lo > 0):
        shown = "not measured" if c is None else f"{c.value:.3g} [{c.lo:.3g}, {c.hi:.3g}]"
        return Untestable(f"{reason} ({shown})")
    return Checked(estimate, reason)


@dataclass(frozen=True)
class Verdict:
    """A verdict and, for the undecided ones, the reason (empty otherwise)."""

    verdict: str
    reason: str = ""


@dataclass(frozen=True)
class _Est:
    value: float
    lo: float
    hi: float
    n: int | None
    n_seeds: int | None = None


def as_estimate(est: Any) -> _Est | None:
    """Return a uniform view of a metrics.Estimate or a dict with value/lo/hi/n; None for None/Untestable.

    A NaN value or bound stays NaN (the caller reads it as "untestable here"); lo > hi is an error.
    """
    if est is None or isinstance(est, Untestable):
        return None
    if isinstance(est, Checked):
        return as_estimate(est.estimate)
    if isinstance(est, Mapping) and "estimate" in est:
        return as_estimate(est["estimate"])
    get = est.get if isinstance(est, Mapping) else (lambda k, d=None: getattr(est, k, d))
    value, lo, hi = get("value"), get("lo"), get("hi")
    if value is None or lo is None or hi is None:
        raise ValueError(f"a reproduced estimate needs value, lo and hi; got {est!r}")
    value, lo, hi = float(value), float(lo), float(hi)
    if all(math.isfinite(x) for x in (lo, hi)) and lo > hi:
        raise ValueError(f"estimate has lo > hi: {est!r}")
    n, n_seeds = get("n"), get("n_seeds")
    return _Est(value, lo, hi, None if n is None or (isinstance(n, float) and math.isnan(n)) else int(n),
                None if n_seeds is None else int(n_seeds))


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return bool(want) == bool(got)
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(float(want), float(got), rel_tol=1e-9, abs_tol=1e-12)
    return str(want).strip().lower() == str(got).strip().lower()


def setting_differences(claim: Mapping, params: Mapping | None) -> list[str]:
    """Return how the run's resolved ``params`` differ from the claim's ``setting.match`` ([] when they match).

    ``match`` maps a notebook parameter to the value the paper's setting needs: a scalar must be equal, a list
    must be contained in the run's list (e.g. benchmarks), ``{min: x}`` / ``{max: x}`` bound a number.
    """
    setting = claim.get("setting")
    match = (setting.get("match") or {}) if isinstance(setting, Mapping) else {}
    if not match:
        return []
    if params is None:
        return ["the run's parameters were not given to the verdict"]
    out = []
    for key, want in match.items():
        if key not in params:
            out.append(f"{key}: paper {want!r}, run has no such parameter")
            continue
        got = params[key]
        if isinstance(want, Mapping):
            lo, hi = want.get("min"), want.get("max")
            ok = isinstance(got, (int, float)) and (lo is None or got >= lo) and (hi is None or got <= hi)
        elif isinstance(want, (list, tuple)):
            have = got if isinstance(got, (list, tuple)) else [got]
            ok = all(any(_same(w, g) for g in have) for w in want)
        elif isinstance(got, (list, tuple)):
            ok = len(got) == 1 and _same(want, got[0])
        else:
            ok = _same(want, got)
        if not ok:
            out.append(f"{key}: paper {want!r}, run {got!r}")
    return out


def _base_overlaps_band(claim: Mapping, base: _Est) -> bool:
    """Whether the base's CI reaches into the region where the claim would read "reproduced"."""
    kind, tol = claim["kind"], float(claim.get("tolerance") or 0.0)
    if kind == "value":
        return not (base.hi < claim["value"] - tol or base.lo > claim["value"] + tol)
    if kind == "at_least":
        return base.hi >= claim["value"] - tol
    if kind == "at_most":
        return base.lo <= claim["value"] + tol
    sign = 1.0 if claim["expected_sign"] == "+" else -1.0
    return max(sign * base.lo, sign * base.hi) > float(claim.get("min_effect") or 0.0)


def decide(claim: Mapping, estimate: Any, profile: str, *, params: Mapping | None = None) -> Verdict:
    """Return the `Verdict` for one validated claim given our estimate (rules in this module's docstring).

    ``estimate``: a metrics.Estimate or dict (value, lo, hi, n), `Untestable`, None (not measured), or a dict
    ``{"estimate": ..., "base": ...}`` where ``base`` is the untrained base's value of the same quantity (claims
    with ``excludes_base: true``: a claim the base would also pass is untestable here). ``params``: the run's
    resolved parameters, compared with ``setting.match`` at the ``paper`` profile.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if claim["scale"] == "paper" and profile != "paper":
        return Verdict("not run at this scale", "needs the paper profile")
    if estimate is None:
        return Verdict("not run at this scale", "not measured by this run")
    if profile == "paper":
        diffs = setting_differences(claim, params)
        if diffs:
            return Verdict("not comparable", "; ".join(diffs))
    if isinstance(estimate, Untestable):
        return Verdict("untestable here", estimate.reason)
    if claim.get("requires") and not isinstance(estimate, Checked):
        return Verdict("untestable here", f"its precondition ({claim['requires']}) was not checked: pass the "
                                          "estimate through workbook.reporting.requires")
    base = as_estimate(estimate.get("base")) if isinstance(estimate, Mapping) and "estimate" in estimate else None
    est = as_estimate(estimate)
    if est is None:
        return Verdict("not run at this scale", "not measured by this run")
    if not all(math.isfinite(x) for x in (est.value, est.lo, est.hi)) or est.n == 0:
        return Verdict("untestable here", "empty or NaN estimate (no unit could be measured)")
    kind, tol = claim["kind"], float(claim.get("tolerance") or 0.0)
    if kind == "check":
        rel = claim.get("relation", "=")
        ok = (abs(est.value - claim["value"]) <= tol if rel == "=" else
              est.value >= claim["value"] - tol if rel == ">=" else est.value <= claim["value"] + tol)
        return Verdict("check passed" if ok else "check failed")
    if claim.get("excludes_base"):
        if kind == "value" and (est.hi < claim["value"] - tol or est.lo > claim["value"] + tol):
            return Verdict("not reproduced")  # refuted whatever the base does: the base rule guards "reproduced"
        if base is None:
            return Verdict("untestable here", "the base's value of this quantity was not given, so the run "
                                              "cannot show that the base itself would fail the claim")
        if _base_overlaps_band(claim, base):
            return Verdict("untestable here", f"the untrained base ({base.value:.3g} [{base.lo:.3g}, {base.hi:.3g}])"
                                              " is not excluded: this run cannot tell the claim from no training")
    if kind == "value":
        band_lo, band_hi = claim["value"] - tol, claim["value"] + tol
        if band_lo <= est.lo and est.hi <= band_hi:
            return Verdict("reproduced")
        if est.hi < band_lo or est.lo > band_hi:
            return Verdict("not reproduced")
        return Verdict("inconclusive")
    if kind == "direction":
        if est.lo == est.hi == 0.0:
            return Verdict("untestable here", "the estimate has no spread (every unit gave the same value, e.g. "
                                              "all at the metric's floor or ceiling), so its interval cannot "
                                              "show a difference")
        sign = 1.0 if claim["expected_sign"] == "+" else -1.0
        lo, hi = sorted((sign * est.lo, sign * est.hi))
        m = float(claim.get("min_effect") or 0.0)
        return Verdict("reproduced" if lo > m else "not reproduced" if hi < m else "inconclusive")
    if kind == "at_least":
        t = claim["value"] - tol
        return Verdict("reproduced" if est.lo >= t else "not reproduced" if est.hi < t else "inconclusive")
    t = claim["value"] + tol
    return Verdict("reproduced" if est.hi <= t else "not reproduced" if est.lo > t else "inconclusive")
