"""Model strengths × temperatures: pass@1 and the resampling ceiling per point, and the line through them.

Stroebl, Kapoor & Narayanan (arXiv 2411.17501), Sec. 3 / Fig. 2: every model is one point (pass@1, ceiling) with the
ceiling the mean over tasks of a/m (correct among verifier-accepted samples); across models the points lie on a line
(HumanEval+: ceiling = 0.22·pass@1 + 0.72), so a weak model's ceiling stays below a strong model's pass@1. The
official code computes the points in ``evalplus/visualizations.ipynb`` and fits the line with ``np.polyfit``.

Here a *point* is one toy checkpoint (a training snapshot or the control world's model) sampled at one
temperature on the same held-out problems; each sample is judged by several verifiers (``VERIFIER_NAMES``): the
exact answer check (the control: no false positives), the last-digit check (partial answer) and the toy's own
trained verify skill (one sampled verification report per sample: its false-positive rate is measured, not set).
The verify skill accepts only a sample with a boxed answer (``verify_skill``): its training candidates always end
in one, and a sample without an answer is rejected before any check, as a program that does not run fails its unit
tests; ``verify_skill_raw`` keeps its verdict alone, to show how many false positives are unboxed answers.
All intervals are 95% percentile bootstraps over problems; points share the problems, so the line's bootstrap
resamples problems jointly for every point (``line_fit``) and a contrast of two points is paired (``ceiling_gap``).
An estimate with no measurable unit is returned as ``workbook.reporting.untestable``, never raised.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbook.metrics import Estimate

__all__ = ["VERIFIER_NAMES", "Point", "Strength", "ceiling_gap", "collect_pair", "collect_points", "judge",
           "line_fit", "line_table", "load_strength", "pair_table", "parse_strength", "point_table", "safe_mean_ci",
           "sample_point", "verifier_lift", "verify_skill_accepts"]

#: The verifiers every point is judged by: exact (control, no false positives), last digit, the trained verify skill.
VERIFIER_NAMES = ("exact", "last_digit", "verify_skill", "verify_skill_raw")


@dataclass(frozen=True)
class Strength:
    """One model strength: a toy preset and optionally one of its training snapshots (``None``: the final model)."""

    preset: str
    step: int | None = None

    @property
    def label(self) -> str:
        return self.preset if self.step is None else f"{self.preset}@{self.step}"


def parse_strength(spec: str) -> Strength:
    """Return the `Strength` of ``"preset"`` or ``"preset@step"``; ValueError naming the problem otherwise."""
    from workbook.toy import RECIPES

    name, _, step = str(spec).partition("@")
    if name not in RECIPES:
        raise ValueError(f"model strength {spec!r}: unknown toy preset {name!r}; valid: {sorted(RECIPES)}")
    if not step:
        return Strength(name)
    recipe = RECIPES[name]
    if not step.isdigit() or (int(step) not in recipe.snapshots and int(step) != recipe.steps):
        raise ValueError(f"model strength {spec!r}: {name} has snapshots at steps {list(recipe.snapshots)} and "
                         f"{recipe.steps}")
    return Strength(name, None if int(step) == recipe.steps else int(step))


def load_strength(strength: Strength, device: str = "cpu", batch_size: int = 256):
    """Return a ``workbook.generation.TransformersBackend`` on the checkpoint of ``strength``."""
    from workbook.generation import TransformersBackend
    from workbook.toy import RECIPES, load_toy

    model, tokenizer = load_toy(RECIPES[strength.preset], device=device, step=strength.step)
    return TransformersBackend(model, tokenizer, batch_size=batch_size)


def sample_point(backend, problems: Sequence, n: int, temperature: float, seed: int, max_new_tokens: int,
                 grader) -> pd.DataFrame:
    """Return the graded samples of one point (``workbook.evaluation.sample_and_grade``; ``correct`` = truth)."""
    from workbook import evaluation

    return evaluation.sample_and_grade(backend, problems, n, grader=grader, seed=seed, temperature=temperature,
                                       max_new_tokens=max_new_tokens)


def verify_skill_accepts(verifier, problems: Sequence, frame: pd.DataFrame, temperature: float, seed: int,
                         max_new_tokens: int) -> np.ndarray:
    """Return, per sample of ``frame`` (row order), whether the toy's verify skill reports it correct.

    One verification report per sample (``workbook.toy.evaluate.verify_solutions``, the DSER verify prompt),
    sampled at ``temperature``; a report without a ``\\boxed{correct}`` / ``\\boxed{incorrect}`` verdict rejects.
    """
    from workbook.toy.evaluate import verify_solutions
    from workbook.toy.world import parse_verdict

    by_id = {p.problem_id: p for p in problems}
    reports = verify_solutions(verifier, verifier.tokenizer, [by_id[i] for i in frame["problem_id"]],
                               frame["text"].tolist(), temperature=temperature, seed=seed,
                               max_new_tokens=max_new_tokens)
    return np.array([parse_verdict(r) == "correct" for r in reports], dtype=bool)


@dataclass
class Point:
    """One (model strength, temperature): ``correct`` and each verifier's ``accepted``, shape (problems, n)."""

    label: str
    temperature: float
    correct: np.ndarray
    accepted: dict[str, np.ndarray] = field(default_factory=dict)

    def per_problem(self, verifier: str) -> dict[str, np.ndarray]:
        """Return per-problem counts a, f, m, wrong, n (shape (problems,)) under ``verifier``."""
        acc, cor = self.accepted[verifier], self.correct
        return {"a": (acc & cor).sum(1), "f": (acc & ~cor).sum(1), "m": acc.sum(1), "wrong": (~cor).sum(1),
                "right": cor.sum(1), "n": np.full(len(cor), cor.shape[1])}


def judge(frame: pd.DataFrame, problems: Sequence, verifier, *, seed: int, verify_temperature: float,
          verify_max_new_tokens: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return (correct, accepted) of one point's graded ``frame`` (rows in (problem, sample) order), shape
    (problems, n): ``accepted`` by every verifier of ``VERIFIER_NAMES``; ``verifier=None`` judges by the exact check
    only (a point whose ceiling is not read: no verification reports, the costliest part of a point)."""
    from workbook.grading import extract_boxed
    from workbook.papers.inference_scaling_limits.resampling import last_digit_check

    shape = (len(problems), len(frame) // max(len(problems), 1))
    correct = frame["correct"].to_numpy(dtype=bool).reshape(shape)
    accepted = {"exact": correct.copy()}
    if verifier is None:
        return correct, accepted
    skill = verify_skill_accepts(verifier, problems, frame, verify_temperature, seed,
                                 verify_max_new_tokens).reshape(shape)
    boxed = np.array([extract_boxed(t or "") is not None for t in frame["text"]], dtype=bool).reshape(shape)
    accepted.update({"last_digit": np.array([last_digit_check(t, a) for t, a in zip(frame["text"], frame["answer"])],
                                            dtype=bool).reshape(shape),
                     "verify_skill": skill & boxed, "verify_skill_raw": skill})
    return correct, accepted


def collect_points(strengths: Sequence[str], temperatures: Sequence[float], problems: Sequence, n: int, *,
                   verifier, grader, seed: int, max_new_tokens: int, verify_temperature: float,
                   verify_max_new_tokens: int, device: str = "cpu", batch_size: int = 256,
                   log=print) -> tuple[list[Point], dict[tuple[str, float], pd.DataFrame]]:
    """Sample every (strength, temperature) on ``problems`` and judge each sample by every verifier.

    ``verifier``: the generation backend whose verify skill judges all points (one fixed verifier, as the paper's
    unit tests). Returns (points, frames): frames keyed by (label, temperature), rows in (problem, sample) order.
    Seeds differ per point (``seed + 10·i + j``) and per verification (``+ 5``), so each point is reproducible alone.
    """
    points, frames = [], {}
    for i, spec in enumerate(strengths):
        strength = parse_strength(spec)
        backend = load_strength(strength, device=device, batch_size=batch_size)
        for j, temp in enumerate(temperatures):
            s = seed + 10 * i + j
            frame = sample_point(backend, problems, n, temp, s, max_new_tokens, grader)
            correct, accepted = judge(frame, problems, verifier, seed=s + 5, verify_temperature=verify_temperature,
                                      verify_max_new_tokens=verify_max_new_tokens)
            points.append(Point(strength.label, float(temp), correct, accepted))
            frames[(strength.label, float(temp))] = frame
            log(f"{strength.label:>22} T={temp:g}: pass@1 {correct.mean():.3f}, verify skill accepts "
                f"{accepted['verify_skill'].mean():.3f} of samples")
        del backend
    return points, frames


def collect_pair(weak: str, strong: str, temperature: float, problems: Sequence, n: int, *, verifier, grader,
                 seed: int, max_new_tokens: int, verify_temperature: float, verify_max_new_tokens: int,
                 device: str = "cpu", batch_size: int = 256, log=print) -> tuple[Point, Point]:
    """Return (weak, strong) points for the contrast ceiling(weak) − pass@1(strong) (Sec. 3, Fig. 2's consequence).

    Both strengths sample the same ``problems`` with the same seed (common random numbers: sample j of problem p
    reads the same uniforms in both models, so the contrast is paired by problem and by draw). Only the weak
    model's ceiling is read, so only its samples are verified (every verifier; the verify skill once each, seed
    ``seed + 5``); the strong model's samples are graded by the exact check alone (its pass@1).
    """
    out = []
    for spec, judged_by in ((weak, verifier), (strong, None)):
        strength = parse_strength(spec)
        backend = load_strength(strength, device=device, batch_size=batch_size)
        frame = sample_point(backend, problems, n, temperature, seed, max_new_tokens, grader)
        correct, accepted = judge(frame, problems, judged_by, seed=seed + 5, verify_temperature=verify_temperature,
                                  verify_max_new_tokens=verify_max_new_tokens)
        out.append(Point(strength.label, float(temperature), correct, accepted))
        log(f"{strength.label:>22} T={temperature:g}: pass@1 {correct.mean():.3f} on {len(problems)} problems × {n}")
        del backend
    return out[0], out[1]


def _boot_idx(n_units: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_units, size=(n_boot, n_units))


def _interval(value: float, reps: np.ndarray, n: int, what: str) -> Estimate:
    """Return an `Estimate` with the 2.5/97.5% percentiles of the finite replicates (NaN when none or no value)."""
    reps = np.asarray(reps, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if not np.isfinite(value) or reps.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), n, what)
    return Estimate(float(value), float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975)), n, what)


def _nanmean_rows(x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a replicate without any finite unit is NaN, handled above
        return np.nanmean(x, axis=-1)


def safe_mean_ci(per_unit, n_boot: int = 2000, seed: int = 0, what: str = "", reason: str = "") -> Any:
    """Return the mean of the finite ``per_unit`` values with a bootstrap CI, or `untestable` when there are none.

    Units that are NaN (e.g. tasks the verifier never accepts: no ceiling) are dropped first; an empty input or one
    without a finite unit gives ``untestable(reason)`` instead of an error, so no run crashes on it.
    """
    from workbook.metrics import bootstrap_ci
    from workbook.reporting import untestable

    x = np.asarray(per_unit, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return untestable(reason or f"no unit could be measured for {what or 'this estimate'}")
    return bootstrap_ci(x, n_boot=n_boot, seed=seed, what=what)


def _ceiling_units(c: dict[str, np.ndarray]) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c["m"] > 0, c["a"] / np.maximum(c["m"], 1), np.nan)


def point_table(points: Sequence[Point], verifiers: Sequence[str] | None = None, n_boot: int = 2000,
                seed: int = 0) -> pd.DataFrame:
    """Return one row per (point, verifier): pass@1, the ceiling (tasks with m > 0), the verifier's false-positive
    rate P(accept | wrong), true-positive rate P(accept | right) and balanced accuracy (their mean distance from
    chance: (TPR + 1 − FPR)/2), and the *lift* — per task with m > 0, the ceiling a/m minus the task's pass rate —
    each with a 95% CI over problems. ``verifiers``: by default every one of ``VERIFIER_NAMES`` the point carries.

    The lift measures what the verifier knows: a verifier blind to correctness accepts a uniform subset, so
    E[a/m | m > 0] is the task's pass rate and the lift is 0 in expectation; the exact check lifts every task to 1.
    The rates are pooled over samples (ratio of sums), resampled by problem. Empty classes give NaN, not errors.
    """
    rows = []
    for p in points:
        for v in verifiers or [v for v in VERIFIER_NAMES if v in p.accepted]:
            c = _point_estimates(p, v, n_boot, seed)
            row = {"model": p.label, "temperature": p.temperature, "verifier": v,
                   "tasks with m > 0": int((p.per_problem(v)["m"] > 0).sum()), "tasks": len(p.correct)}
            for key, est in c.items():
                row[key], row[f"{key} lo"], row[f"{key} hi"] = est.value, est.lo, est.hi
            rows.append(row)
    return pd.DataFrame(rows)


def _point_estimates(p: Point, verifier: str, n_boot: int, seed: int) -> dict[str, Estimate]:
    c = p.per_problem(verifier)
    idx = _boot_idx(len(p.correct), n_boot, seed)
    pass1 = c["right"] / c["n"]
    ceil = _ceiling_units(c)

    def ratio(num: np.ndarray, den: np.ndarray, what: str) -> Estimate:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = num.sum() / den.sum() if den.sum() else np.nan
            reps = num[idx].sum(1) / np.where(den[idx].sum(1) > 0, den[idx].sum(1), np.nan)
        return _interval(value, reps, len(num), what)

    fpr, tpr = ratio(c["f"], c["wrong"], "P(accept | wrong)"), ratio(c["a"], c["right"], "P(accept | right)")
    with np.errstate(invalid="ignore", divide="ignore"):  # a replicate without right or wrong samples is NaN
        fpr_reps = c["f"][idx].sum(1) / c["wrong"][idx].sum(1)
        tpr_reps = c["a"][idx].sum(1) / c["right"][idx].sum(1)
    lift = ceil - pass1  # NaN where m = 0: resampling until accepted never stops there
    return {"pass@1": _interval(pass1.mean(), pass1[idx].mean(1), len(pass1), "pass@1"),
            "ceiling": _interval(float(_nanmean_rows(ceil[None])[0]), _nanmean_rows(ceil[idx]), len(ceil),
                                 "ceiling (mean a/m, m > 0)"),
            "false-positive rate": fpr, "true-positive rate": tpr,
            "balanced accuracy": _interval((tpr.value + 1 - fpr.value) / 2, (tpr_reps + 1 - fpr_reps) / 2,
                                           len(pass1), "(P(accept | right) + P(reject | wrong)) / 2"),
            "lift": _interval(float(_nanmean_rows(lift[None])[0]), _nanmean_rows(lift[idx]), len(lift),
                              "mean a/m − a_correct/n over tasks with m > 0")}


def verifier_lift(point: Point, verifier: str, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Return the lift of ``point``'s ceiling over its pass@1 under ``verifier`` (``point_table``'s ``lift``): the
    mean over tasks with m > 0 of a/m minus the task's pass rate, 95% CI over problems; 0 in expectation for a
    verifier blind to correctness, so a claim about the ceiling presupposes it is above 0 (NaN when m = 0 everywhere).
    """
    return _point_estimates(point, verifier, n_boot, seed)["lift"]


def line_fit(points: Sequence[Point], verifier: str, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Return the least-squares line ceiling = slope·pass@1 + intercept through the points (official: np.polyfit),
    with slope, intercept and R² as `Estimate`s whose CIs resample the shared problems jointly for every point.

    Points whose ceiling is undefined (no accepted sample) are left out of each fit; fewer than two points with a
    spread in pass@1 give NaN estimates (read "untestable here").
    """
    from workbook.papers.inference_scaling_limits.resampling import linear_fit

    n_units = len(points[0].correct) if points else 0
    if any(len(p.correct) != n_units for p in points):
        raise ValueError("every point of a line must be measured on the same problems")
    x_units = np.stack([p.correct.mean(1) for p in points]) if points else np.zeros((0, 0))
    y_units = np.stack([_ceiling_units(p.per_problem(verifier)) for p in points]) if points else np.zeros((0, 0))

    def fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 2 or np.ptp(x[ok]) == 0:
            return float("nan"), float("nan"), float("nan")
        return linear_fit(x[ok], y[ok])

    full = fit(x_units.mean(1) if n_units else np.array([]), _nanmean_rows(y_units) if n_units else np.array([]))
    reps = np.full((n_boot, 3), np.nan)
    if n_units:
        for b, row in enumerate(_boot_idx(n_units, n_boot, seed)):
            reps[b] = fit(x_units[:, row].mean(1), _nanmean_rows(y_units[:, row]))
    names = ("slope", "intercept", "r2")
    out = {k: _interval(full[i], reps[:, i], n_units, f"line {k}") for i, k in enumerate(names)}
    out["points"] = len(points)
    return out


def line_table(points: Sequence[Point], verifiers: Sequence[str], paper_fit: dict, n_boot: int = 2000,
               seed: int = 0) -> pd.DataFrame:
    """Return the fitted line per verifier (slope, intercept, R² with 95% CIs) beside the paper's HumanEval+ fit, and
    whether the paper's slope / intercept lies inside the toy's interval (a comparison, not a test: other task,
    other verifier)."""
    rows = []
    for v in verifiers:
        fit = line_fit(points, v, n_boot, seed)
        row: dict[str, Any] = {"verifier": v, "points": fit["points"]}
        for k in ("slope", "intercept", "r2"):
            row[k], row[f"{k} lo"], row[f"{k} hi"] = fit[k].value, fit[k].lo, fit[k].hi
        for k in ("slope", "intercept"):
            row[f"paper {k} in CI"] = bool(fit[k].lo <= paper_fit[k] <= fit[k].hi)  # False when the CI is NaN
        rows.append(row)
    rows.append({"verifier": "paper (HumanEval+, base tests; 17 models)", "points": 17, "slope": paper_fit["slope"],
                 "intercept": paper_fit["intercept"], "r2": paper_fit["r2"]})
    return pd.DataFrame(rows)


def ceiling_gap(weak: Point, strong: Point, verifier: str, n_boot: int = 2000, seed: int = 0) -> Any:
    """Return ceiling(weak) − pass@1(strong) with a paired 95% bootstrap CI over the shared problems (Sec. 3: can the
    weaker model resample its way to the stronger model's single-sample accuracy?); `untestable` when the weak
    model's ceiling is undefined (no sample accepted).
    """
    from workbook.reporting import untestable

    if weak.correct.shape[0] != strong.correct.shape[0] or weak.correct.shape[0] == 0:
        return untestable("the two points are not measured on the same (non-empty) problems")
    ceil = _ceiling_units(weak.per_problem(verifier))
    if not np.isfinite(ceil).any():
        return untestable(f"no sample of {weak.label} was accepted by {verifier}: its ceiling is undefined")
    strong_p1 = strong.correct.mean(1)
    idx = _boot_idx(len(ceil), n_boot, seed)
    value = float(np.nanmean(ceil) - strong_p1.mean())
    est = _interval(value, _nanmean_rows(ceil[idx]) - strong_p1[idx].mean(1), len(ceil),
                    f"ceiling({weak.label}) − pass@1({strong.label}), {verifier}")
    return est if np.isfinite(est.value) else untestable("the contrast is NaN")


def pair_table(weak: Point, strong: Point, verifiers: Sequence[str] = ("verify_skill", "last_digit"),
               n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Return one row per verifier for a weak/strong pair (`collect_pair`): the weak model's ``point_table`` row
    (pass@1, ceiling, false- and true-positive rate, balanced accuracy, lift, with CIs), the strong model's pass@1,
    the gap ceiling(weak) − pass@1(strong) with its paired CI (`ceiling_gap`), and the sd per problem that CI
    implies, (hi − lo)/3.92·√problems: the scale of the ``sd`` a power analysis of the gap assumes."""
    weak_rows = point_table([weak], verifiers, n_boot=n_boot, seed=seed).set_index("verifier")
    rows = []
    for v in verifiers:
        gap = ceiling_gap(weak, strong, v, n_boot=n_boot, seed=seed)
        lo, hi = (getattr(gap, "lo", float("nan")), getattr(gap, "hi", float("nan")))
        rows.append({**weak_rows.loc[v].to_dict(), "verifier": v, "strong model": strong.label,
                     "strong pass@1": float(strong.correct.mean()), "gap": getattr(gap, "value", float("nan")),
                     "gap lo": lo, "gap hi": hi,
                     "gap sd per problem": (hi - lo) / 3.92 * np.sqrt(len(weak.correct))})
    return pd.DataFrame(rows)
