"""Evaluation metrics: unbiased pass@k, maj@k, mean@k, task-bootstrap CIs, IQM, probability of improvement.

Spec: ``shared/specs/evaluation.md`` ("pass@k and friends", "Honest uncertainty"). pass@k is the unbiased
estimator of Chen et al. 2021 (Codex, Eq. 1) in its numerically stable product form; IQM and probability of
improvement follow rliable (Agarwal et al., NeurIPS 2021).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "bootstrap_ci", "grouped_estimates", "hierarchical_bootstrap", "hierarchical_difference",
           "iqm", "maj_at_k", "mean_at_k", "pass_at_k", "pass_at_k_curve", "probability_of_improvement"]


def _as_int_array(x, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{what} must hold whole numbers, got {x!r}")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{what} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def pass_at_k(n, n_correct, k) -> float | np.ndarray:
    """Return the unbiased pass@k = 1 − C(n−c, k)/C(n, k), elementwise over broadcast ``n, n_correct, k``.

    Chen et al. 2021, Eq. (1), in the stable product form 1 − Π_{i=n−c+1}^{n} (1 − k/i) (evaluation.md).
    Needs 0 ≤ n_correct ≤ n and 1 ≤ k ≤ n. Scalars in → float out; arrays in → array of the broadcast shape.
    For many k per problem use `pass_at_k_curve` (one cumulative product; ~100x faster at n = 256).
    """
    n_arr, c_arr, k_arr = np.broadcast_arrays(_as_int_array(n, "n"), _as_int_array(n_correct, "n_correct"),
                                              _as_int_array(k, "k"))
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= n_correct <= n")
    if np.any(k_arr < 1) or np.any(k_arr > n_arr):
        raise ValueError("need 1 <= k <= n")
    scalar = n_arr.ndim == 0
    n_f, c_f, k_f = (a.reshape(-1).astype(np.float64) for a in (n_arr, c_arr, k_arr))
    out = np.ones_like(n_f)
    # Product over the c largest i ≤ n; when n − c < k some factor (1 − k/i) is ≤ 0 and pass@k = 1.
    certain = (n_f - c_f) < k_f
    todo = ~certain
    if np.any(todo):
        n_t, c_t, k_t = n_f[todo], c_f[todo], k_f[todo]
        c_max = int(c_t.max()) if c_t.size else 0
        prod = np.ones_like(n_t)
        if c_max > 0:
            j = np.arange(c_max, dtype=np.float64)                      # i = n − j for j < c
            i = n_t[:, None] - j[None, :]
            factors = np.where(j[None, :] < c_t[:, None], 1.0 - k_t[:, None] / np.maximum(i, 1.0), 1.0)
            prod = np.prod(factors, axis=1)
        out[todo] = 1.0 - prod
    out = out.reshape(n_arr.shape)
    return float(out) if scalar else out


def pass_at_k_curve(n_correct: np.ndarray, n: int | np.ndarray, ks: Sequence[int] | np.ndarray) -> np.ndarray:
    """Return pass@k for every problem and every k in ``ks`` in one pass, shape (problems, len(ks)).

    Chen et al. 2021, Eq. (1): 1 − C(n−c, k)/C(n, k) = 1 − Π_{j=0}^{k−1} (n−c−j)/(n−j); a cumulative product over
    j gives every k at once, with factors in [0, 1] (no overflow). ``n_correct`` shape (problems,); ``n`` scalar or
    (problems,); each k in 1..min(n).
    """
    c = _as_int_array(n_correct, "n_correct").reshape(-1)
    n_arr = np.broadcast_to(_as_int_array(n, "n"), c.shape)
    ks_arr = _as_int_array(ks, "ks").reshape(-1)
    if ks_arr.size == 0:
        return np.zeros((c.size, 0))
    if np.any(c < 0) or np.any(c > n_arr):
        raise ValueError("need 0 <= n_correct <= n")
    if np.any(ks_arr < 1) or (c.size and ks_arr.max() > n_arr.min()):
        raise ValueError(f"need 1 <= k <= n for every problem (max k {ks_arr.max()}, min n {n_arr.min()})")
    k_max = int(ks_arr.max())
    j = np.arange(k_max, dtype=np.float64)[None, :]
    n_f = n_arr.astype(np.float64)[:, None]
    wrong = (n_arr - c).astype(np.float64)[:, None]
    ratio = np.clip(wrong - j, 0.0, None) / (n_f - j)                 # (n−c−j)/(n−j), 0 once j ≥ n−c
    all_wrong = np.cumprod(ratio, axis=1)                               # P(k draws all wrong), k = 1..k_max
    return 1.0 - all_wrong[:, ks_arr - 1]


def mean_at_k(correct: np.ndarray, k: int) -> np.ndarray:
    """Return the per-problem accuracy averaged over the first k completions, shape (problems,).

    evaluation.md: mean@k (what One-Shot-RLVR's README calls "pass@8" on AIME/AMC). ``correct`` shape (problems, n).
    """
    arr = np.asarray(correct, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"correct must be 2-D (problems, n), got shape {arr.shape}")
    if not 1 <= k <= arr.shape[1]:
        raise ValueError(f"need 1 <= k <= n = {arr.shape[1]}, got k={k}")
    return arr[:, :k].mean(axis=1)


def _majority_correct(answers: Sequence[str | None], correct: Sequence[bool], idx: np.ndarray) -> float:
    """Return 1.0 if the most frequent non-None answer among ``idx`` is correct; ties go to the earliest sample."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for j in sorted(int(i) for i in idx):
        a = answers[j]
        if a is None:
            continue
        counts[a] = counts.get(a, 0) + 1
        first.setdefault(a, j)
    if not counts:
        return 0.0
    winner = max(counts, key=lambda a: (counts[a], -first[a]))
    return float(bool(correct[first[winner]]))


def maj_at_k(answers: list[list[str | None]], correct: list[list[bool]], k: int, seed: int = 0,
             n_subsets: int = 32) -> np.ndarray:
    """Return per-problem maj@k: whether the majority answer of k completions is correct, shape (problems,).

    evaluation.md: majority vote over k samples; ties go to the answer seen first (lowest completion index);
    ``None`` answers (nothing extracted) do not vote, and a problem with no votes counts wrong. With k = n the
    vote uses all completions; with k < n the value is the mean over ``n_subsets`` random size-k subsets drawn
    with ``seed`` (an estimate of the expected maj@k). Answers are grouped by exact string: normalize first.
    """
    if len(answers) != len(correct):
        raise ValueError(f"answers has {len(answers)} problems but correct has {len(correct)}")
    rng = np.random.default_rng(seed)
    out = np.zeros(len(answers))
    for p, (ans, cor) in enumerate(zip(answers, correct)):
        n = len(ans)
        if len(cor) != n:
            raise ValueError(f"problem {p}: {n} answers but {len(cor)} correctness flags")
        if not 1 <= k <= n:
            raise ValueError(f"problem {p}: need 1 <= k <= n = {n}, got k={k}")
        if k == n:
            out[p] = _majority_correct(ans, cor, np.arange(n))
        else:
            out[p] = np.mean([_majority_correct(ans, cor, rng.choice(n, size=k, replace=False))
                              for _ in range(n_subsets)])
    return out


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% (or other) CI; ``n`` = number of units resampled (problems)."""

    value: float
    lo: float
    hi: float
    n: int
    what: str = ""
    n_seeds: int | None = None   # set by the hierarchical bootstrap: seeds resampled above the n problems

    def __str__(self) -> str:
        seeds = f"{self.n_seeds} seeds × " if self.n_seeds is not None else ""
        return (f"{self.value:.4g} [{self.lo:.4g}, {self.hi:.4g}] "
                f"(n={seeds}{self.n}{', ' + self.what if self.what else ''})")

    def to_dict(self) -> dict:
        """Return value, lo, hi, n (and n_seeds, what when set) as plain floats/ints: what metrics.json stores."""
        out: dict = {"value": float(self.value), "lo": float(self.lo), "hi": float(self.hi), "n": int(self.n)}
        if self.n_seeds is not None:
            out["n_seeds"] = int(self.n_seeds)
        if self.what:
            out["what"] = self.what
        return out


def bootstrap_ci(per_unit: np.ndarray, stat: Callable = np.mean, n_boot: int = 2000, confidence: float = 0.95,
                 seed: int = 0, what: str = "") -> Estimate:
    """Return ``stat`` over units with a percentile task-bootstrap CI, as an `Estimate`.

    evaluation.md "Honest uncertainty": resample problems (rows) with replacement; with shape (units, runs) the
    runs (seeds, chains) are averaged within each row, so the interval is over problems. ``stat`` is called as
    ``stat(x, axis=1)`` on a (n_boot, units) array when it accepts ``axis``, else once per replicate.
    """
    x = np.asarray(per_unit, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"per_unit must have shape (units,) or (units, runs), got {x.shape}")
    if x.size == 0:
        raise ValueError("per_unit is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError("per_unit contains NaN or inf")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    samples = x[idx]
    try:
        reps = np.asarray(stat(samples, axis=1), dtype=np.float64)
        if reps.shape != (n_boot,):
            raise TypeError
    except TypeError:
        reps = np.array([stat(s) for s in samples], dtype=np.float64)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return Estimate(value=float(stat(x)), lo=float(lo), hi=float(hi), n=int(x.size), what=what)


def _clean_seeds_by_problems(values, what: str) -> np.ndarray:
    """Return ``values`` as a float (seeds, problems) array without all-NaN seeds or problems."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]                                                   # one seed
    if x.ndim != 2:
        raise ValueError(f"{what} must have shape (seeds, problems), got {x.shape}")
    if np.isinf(x).any():
        raise ValueError(f"{what} contains inf (use NaN for a missing value)")
    obs = ~np.isnan(x)
    return x[obs.any(axis=1)][:, obs.any(axis=0)] if x.size else x


def _seed_and_problem_means(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=1), np.nanmean(x, axis=0)


def _resampled_means(arms: Sequence[np.ndarray], signs: Sequence[float], n_boot: int, crossed: bool,
                     rng: np.random.Generator) -> np.ndarray:
    """Return n_boot replicates of Σ sign·(mean over seeds of the per-seed mean): seeds, then problems."""
    import warnings

    n_problems = arms[0].shape[1]
    biggest = max(a.shape[0] for a in arms) * n_problems
    chunk = max(1, min(n_boot, 4_000_000 // max(biggest, 1)))          # bound memory to ~32 MB per array
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        shared = rng.integers(0, n_problems, size=(b, 1, n_problems)) if crossed else None
        total = np.zeros(b)
        for arm, sign in zip(arms, signs):
            n_seeds = arm.shape[0]
            s_idx = rng.integers(0, n_seeds, size=(b, n_seeds, 1))
            p_idx = shared if crossed else rng.integers(0, n_problems, size=(b, n_seeds, n_problems))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)        # a resample with no observed value: NaN
                per_seed = np.nanmean(arm[s_idx, p_idx], axis=2)
                total += sign * np.nanmean(per_seed, axis=1)
        out[start:start + b] = total
    return out[np.isfinite(out)]


def _t_interval(value: float, reps: np.ndarray, components: Sequence[tuple[float, int]],
                confidence: float) -> tuple[float, float]:
    """Return value ± t_df·se from bootstrap replicates, corrected for few units (see hierarchical_bootstrap)."""
    from scipy import stats

    comps = [(v, n) for v, n in components if n > 1 and np.isfinite(v) and v > 0]
    if not comps or reps.size < 2:
        return value, value
    total = sum(v for v, _ in comps)
    shrunk = sum(v * (n - 1) / n for v, n in comps)                    # what a bootstrap of n units sees
    se = float(np.std(reps, ddof=1)) * float(np.sqrt(total / shrunk))
    df = total ** 2 / sum(v ** 2 / (n - 1) for v, n in comps)          # Welch–Satterthwaite
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df)) * se
    return value - half, value + half


def _finish(value: float, lo: float, hi: float, bounds: tuple[float | None, float | None] | None, **kw) -> Estimate:
    if bounds is not None:
        b_lo = -np.inf if bounds[0] is None else bounds[0]
        b_hi = np.inf if bounds[1] is None else bounds[1]
        lo, hi = float(np.clip(lo, b_lo, b_hi)), float(np.clip(hi, b_lo, b_hi))
    return Estimate(value=float(value), lo=float(lo), hi=float(hi), **kw)


def _check_boot_args(n_boot: int, confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 2:
        raise ValueError(f"n_boot must be >= 2, got {n_boot}")


def hierarchical_bootstrap(values, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
                           crossed: bool = True, bounds: tuple[float | None, float | None] | None = None,
                           what: str = "") -> Estimate:
    """Return the mean over seeds of the per-seed mean over problems, with a CI covering seeds *and* problems.

    ``values`` has shape (seeds, problems) (a 1-D array is one seed); NaN marks a missing value and all-NaN seeds
    or problems are dropped. Each replicate resamples seeds with replacement, then problems (Davison & Hinkley
    1997, Sec. 3.8, the two-stage bootstrap); with ``crossed=True`` (the default: column j is the same problem in
    every seed, as when every seed is evaluated on one held-out set) one problem resample is shared by the
    replicate's seeds, so problem difficulty counts once; ``crossed=False`` resamples problems within each seed.

    The interval is value ± t_df·se, not the percentile interval: with the 3 seeds of an RL notebook a bootstrap
    sees only 10 distinct seed resamples and shrinks the seed variance by (S−1)/S, so percentile intervals
    under-cover (tests/test_verdict_calibration.py measures it). ``se`` is the replicates' standard deviation with
    that shrinkage undone per level; df is Welch–Satterthwaite over the seed level (S−1) and the problem level
    (P−1). ``bounds`` clips the interval to the metric's range (e.g. (0, 1) for accuracy). No observed value →
    an Estimate of NaN with n = 0 (the verdict layer reads it as "untestable here"), never an exception.
    """
    _check_boot_args(n_boot, confidence)
    x = _clean_seeds_by_problems(values, "values")
    n_seeds, n_problems = x.shape if x.ndim == 2 else (0, 0)
    if x.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, what or "no observed value", n_seeds=0)
    seed_means, problem_means = _seed_and_problem_means(x)
    value = float(seed_means.mean())
    reps = _resampled_means([x], [1.0], n_boot, crossed, np.random.default_rng(seed))
    var_seeds = float(np.var(seed_means, ddof=1)) / n_seeds if n_seeds > 1 else 0.0
    var_problems = float(np.var(problem_means, ddof=1)) / n_problems if n_problems > 1 else 0.0
    lo, hi = _t_interval(value, reps, [(var_seeds, n_seeds), (var_problems, n_problems)], confidence)
    return _finish(value, lo, hi, bounds, n=n_problems, what=what, n_seeds=n_seeds)


def hierarchical_difference(a, b, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
                            what: str = "") -> Estimate:
    """Return mean(a) − mean(b) for two arms on the same problems, each (seeds, problems), seeds independent.

    As `hierarchical_bootstrap`, with the seeds of each arm resampled on their own (seed s of one arm has nothing
    to do with seed s of the other) and one problem resample shared by both arms (the comparison is paired over
    problems). ``b`` may have a single seed (e.g. the untrained base model). df: Welch–Satterthwaite over the seed
    level of each arm and the paired problem level.
    """
    _check_boot_args(n_boot, confidence)
    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    xa, xb = (x[None, :] if x.ndim == 1 else x for x in (xa, xb))
    if xa.ndim != 2 or xb.ndim != 2 or xa.shape[1] != xb.shape[1]:
        raise ValueError(f"a and b must be (seeds, problems) on the same problems, got {xa.shape} and {xb.shape}")
    if np.isinf(xa).any() or np.isinf(xb).any():
        raise ValueError("a or b contains inf (use NaN for a missing value)")
    keep = (~np.isnan(xa)).any(axis=0) & (~np.isnan(xb)).any(axis=0)   # problems observed in both arms
    xa, xb = xa[:, keep], xb[:, keep]
    xa, xb = xa[(~np.isnan(xa)).any(axis=1)], xb[(~np.isnan(xb)).any(axis=1)]
    if xa.size == 0 or xb.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, what or "no problem observed in both arms",
                        n_seeds=0)
    (sa, pa), (sb, pb) = _seed_and_problem_means(xa), _seed_and_problem_means(xb)
    value = float(sa.mean() - sb.mean())
    reps = _resampled_means([xa, xb], [1.0, -1.0], n_boot, True, np.random.default_rng(seed))
    n_problems = xa.shape[1]
    comps = [(float(np.var(sa, ddof=1)) / sa.size if sa.size > 1 else 0.0, sa.size),
             (float(np.var(sb, ddof=1)) / sb.size if sb.size > 1 else 0.0, sb.size),
             (float(np.var(pa - pb, ddof=1)) / n_problems if n_problems > 1 else 0.0, n_problems)]
    lo, hi = _t_interval(value, reps, comps, confidence)
    return _finish(value, lo, hi, None, n=n_problems, what=what, n_seeds=int(min(sa.size, sb.size)))


def grouped_estimates(frame, *, by: str | Sequence[str], y: str, unit: str = "seed",
                      bounds: tuple[float | None, float | None] | None = None, n_boot: int = 1000, seed: int = 0,
                      confidence: float = 0.95):
    """Return one row per group of ``by``: value, lo, hi, n, n_seeds — the mean of ``y`` and its CI over units.

    ``frame`` is tidy (one row per unit and x, or per unit, problem and x). With both ``unit`` and a
    ``problem_id`` column the CI is `hierarchical_bootstrap` over (units, problems); with ``unit`` only it is the
    same interval over units (a Student-t interval over seeds); with neither, over rows. ``bounds`` keeps every
    interval inside the metric's range. This is what `workbook.plotting.band` draws.
    """
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*keys, y] if c not in frame.columns]
    if missing:
        raise KeyError(f"grouped_estimates: frame has no column(s) {missing}; columns: {list(frame.columns)}")
    has_unit, has_problem = unit in frame.columns, "problem_id" in frame.columns and unit != "problem_id"
    rows = []
    for key, g in frame.groupby(keys, sort=True, dropna=False):
        if has_unit and has_problem:
            grid = g.pivot_table(index=unit, columns="problem_id", values=y, aggfunc="mean", dropna=False)
            values = grid.to_numpy(dtype=np.float64)
        elif has_unit:
            values = g.groupby(unit)[y].mean().to_numpy(dtype=np.float64)[:, None]
        else:
            values = g[y].to_numpy(dtype=np.float64)[:, None]
        est = hierarchical_bootstrap(values, n_boot=n_boot, seed=seed, confidence=confidence, bounds=bounds)
        key_t = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key_t)), "value": est.value, "lo": est.lo, "hi": est.hi, "n": est.n,
                     "n_seeds": est.n_seeds})
    return pd.DataFrame(rows, columns=[*keys, "value", "lo", "hi", "n", "n_seeds"])


def iqm(x) -> float:
    """Return the interquartile mean (25%-trimmed mean over all values) of ``x``; rliable's IQM."""
    from scipy.stats import trim_mean

    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("iqm of an empty array")
    return float(trim_mean(arr, proportiontocut=0.25))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """Return P(X > Y) + ½ P(X = Y) = Mann–Whitney U / (n_x · n_y) for scores ``x`` and ``y``.

    Agarwal et al. 2021 (rliable), probability of improvement on one task; ties count one half.
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.sort(np.asarray(y, dtype=np.float64).reshape(-1))
    if xs.size == 0 or ys.size == 0:
        raise ValueError("probability_of_improvement needs non-empty x and y")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("x and y must be finite")
    below = np.searchsorted(ys, xs, side="left")                        # #y < x
    at_or_below = np.searchsorted(ys, xs, side="right")                 # #y <= x
    u = below.sum() + 0.5 * (at_or_below - below).sum()
    return float(u / (xs.size * ys.size))
