"""Statistics in one place: unbiased pass@k, maj@k, mean@k, bootstrap CIs over problems and over seeds × problems,
IQM, probability of improvement, and `Estimate` (a value with its 95% CI).

pass@k is the unbiased estimator of Chen et al. 2021 (Codex, Eq. 1) in its numerically stable product form; IQM and
probability of improvement follow rliable (Agarwal et al., NeurIPS 2021), which also motivates interval estimates
over problems; anything trained with several seeds gets the hierarchical seeds × problems interval
(`hierarchical_bootstrap`, `hierarchical_difference`), so seed-to-seed variation is part of every CI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "bootstrap_ci", "grouped_estimates", "hierarchical_bootstrap", "hierarchical_contrast",
           "hierarchical_difference", "hierarchical_intervals", "iqm", "maj_at_k", "mean_at_k", "pass_at_k",
           "pass_at_k_curve", "probability_of_improvement", "wilson_interval"]


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

    Chen et al. 2021, Eq. (1), in the stable product form 1 − Π_{i=n−c+1}^{n} (1 − k/i).
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

    mean@k: what the One-Shot-RLVR README calls "pass@8" on AIME/AMC. ``correct`` shape (problems, n).
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

    Majority vote over k samples (self-consistency); ties go to the answer seen first (lowest completion index);
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

    Task bootstrap (rliable, Agarwal et al. 2021): resample problems (rows) with replacement; with shape
    (units, runs) the runs (chains, subsampling seeds) are averaged within each row, so the interval is over
    problems only. For several *training* seeds use `hierarchical_bootstrap`, whose interval also covers the
    seeds. ``stat`` is called as ``stat(x, axis=1)`` on a (n_boot, units) array when it accepts ``axis``, else
    once per replicate.
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


def _nanmean(x: np.ndarray, axis) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                # an all-NaN slice is NaN, on purpose
        return np.nanmean(x, axis=axis)


def _nanvar(x: np.ndarray, axis: int) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanvar(x, axis=axis, ddof=1)


def hierarchical_intervals(arms: Sequence[np.ndarray], signs: Sequence[float], *, n_boot: int = 2000,
                           seed: int = 0, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (value, lo, hi), each shape (datasets,), of Σ sign·mean(arm) for a batch of datasets at once.

    The engine of `hierarchical_bootstrap` and `hierarchical_difference`, vectorised over a leading dataset axis
    so that power and calibration simulations (`workbook.reporting.power`) run the very same estimator: each arm
    has shape (datasets, seeds, problems), all arms on the same problems; NaN = missing. Per replicate the seeds
    of every arm are resampled on their own and one problem resample is shared by all arms (paired problems).
    The interval is value ± t_df·se (see `hierarchical_bootstrap` for why, and for se and df).
    """
    from scipy import stats

    arms = [np.asarray(a, dtype=np.float64) for a in arms]
    n_data, _, n_problems = arms[0].shape
    rng = np.random.default_rng(seed)
    value = np.zeros(n_data)
    # Variance of Σ w·mean(arm), per dataset (two-way crossed layout: seed s, problem p of each arm). The seed
    # means of an arm carry its seed variance plus its cell noise/P; the contrast's problem means carry the problem
    # variance plus every arm's cell noise/S. Counting the cell noise once (the ANOVA estimate; the crossed
    # "pigeonhole" bootstrap counts it twice, Owen 2007, Ann. Appl. Stat. 1(2)):
    #   total = Σ w²·(σ²_seed/S + σ²_cell/(S·P)) + σ²_problem/P.
    # The bootstrap's own variance is the raw sum with each level shrunk by (n − 1)/n (`shrunk`); its replicates'
    # spread is rescaled from that to `total`.
    problem_means = np.zeros((n_data, n_problems))
    total = np.zeros(n_data)
    cell_total = np.zeros(n_data)
    shrunk = np.zeros(n_data)
    dfden = np.zeros(n_data)                                            # Σ v²/df over the raw components
    raw_sum = np.zeros(n_data)
    for arm, w in zip(arms, signs):
        n_seeds = arm.shape[1]
        seed_means = _nanmean(arm, axis=2)                              # (D, S)
        arm_problem_means = _nanmean(arm, axis=1)                       # (D, P)
        value += w * _nanmean(seed_means, axis=1)
        problem_means += w * arm_problem_means
        if n_seeds > 1:
            v_seed = _nanvar(seed_means, axis=1) / n_seeds
            shrunk += w * w * np.nan_to_num(v_seed) * (n_seeds - 1) / n_seeds
            dfden += (w * w * np.nan_to_num(v_seed)) ** 2 / (n_seeds - 1)
            raw_sum += w * w * np.nan_to_num(v_seed)
            v_cell = np.zeros(n_data)
            if n_problems > 1:
                resid = arm - seed_means[:, :, None] - arm_problem_means[:, None, :] + \
                    _nanmean(seed_means, axis=1)[:, None, None]
                dof = (n_seeds - 1) * (n_problems - 1)
                v_cell = np.nansum(resid ** 2, axis=(1, 2)) / dof / (n_seeds * n_problems)
                cell_total += w * w * v_cell
            total += w * w * np.nan_to_num(np.maximum(v_seed - v_cell, 0.0) + v_cell)
    if n_problems > 1:
        v_problem_raw = _nanvar(problem_means, axis=1) / n_problems
        shrunk += np.nan_to_num(v_problem_raw) * (n_problems - 1) / n_problems
        dfden += np.nan_to_num(v_problem_raw) ** 2 / (n_problems - 1)
        raw_sum += np.nan_to_num(v_problem_raw)
        total += np.nan_to_num(np.maximum(v_problem_raw - cell_total, 0.0))

    biggest = max(a.shape[1] for a in arms) * n_problems * n_boot
    chunk = max(1, 4_000_000 // max(biggest, 1))                       # datasets per chunk: ~32 MB per array
    boot_sd = np.zeros(n_data)
    for d0 in range(0, n_data, chunk):
        sl = slice(d0, min(d0 + chunk, n_data))
        b = sl.stop - sl.start
        p_idx = rng.integers(0, n_problems, size=(b, n_boot, 1, n_problems))
        d_idx = np.arange(b)[:, None, None, None]
        reps = np.zeros((b, n_boot))
        for arm, sign in zip(arms, signs):
            n_seeds = arm.shape[1]
            s_idx = rng.integers(0, n_seeds, size=(b, n_boot, n_seeds, 1))
            reps += sign * _nanmean(_nanmean(arm[sl][d_idx, s_idx, p_idx], axis=3), axis=2)
        boot_sd[sl] = np.nanstd(reps, axis=1, ddof=1)
    ok = (total > 0) & (shrunk > 0) & np.isfinite(boot_sd)
    se = np.where(ok, boot_sd * np.sqrt(np.where(ok, total / np.where(shrunk > 0, shrunk, 1.0), 1.0)), 0.0)
    # Welch–Satterthwaite df from the raw components (seed means: S − 1, problem means: P − 1): with the cell
    # noise left in the seed level this errs towards fewer df (wider intervals) when there are few seeds.
    df = np.where(dfden > 0, raw_sum ** 2 / np.where(dfden > 0, dfden, 1.0), np.inf)
    half = stats.t.ppf(0.5 + confidence / 2.0, df) * se
    return value, value - half, value + half


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
                           bounds: tuple[float | None, float | None] | None = None,
                           what: str = "") -> Estimate:
    """Return the mean over seeds of the per-seed mean over problems, with a CI covering seeds *and* problems.

    ``values`` has shape (seeds, problems) (a 1-D array is one seed); NaN marks a missing value and all-NaN seeds
    or problems are dropped. Each replicate resamples seeds with replacement, then problems (Davison & Hinkley
    1997, Sec. 3.8, the two-stage bootstrap). Column j must be the same problem in every seed (every seed is
    evaluated on one held-out set), so one problem resample is shared by the replicate's seeds and a hard
    problem counts once, not once per seed.

    The interval is value ± t_df·se, not the percentile interval: with the 3 seeds of an RL notebook a bootstrap
    sees only 10 distinct seed resamples and shrinks the seed variance by (S−1)/S, so percentile intervals
    under-cover (tests/test_verdict_calibration.py measures the verdicts built on this interval). ``se`` is the
    replicates' standard deviation rescaled to the two-way ANOVA variance (shrinkage undone per level, the cell
    noise counted once); df is Welch–Satterthwaite over the seed level (S−1) and the problem level (P−1). ``bounds`` clips the interval to the metric's range (e.g. (0, 1) for accuracy). No observed value →
    an Estimate of NaN with n = 0 (the verdict layer reads it as "untestable here"), never an exception.
    """
    _check_boot_args(n_boot, confidence)
    x = _clean_seeds_by_problems(values, "values")
    n_seeds, n_problems = x.shape if x.ndim == 2 else (0, 0)
    if x.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, what or "no observed value", n_seeds=0)
    value, lo, hi = hierarchical_intervals([x[None]], [1.0], n_boot=n_boot, seed=seed, confidence=confidence)
    return _finish(value[0], lo[0], hi[0], bounds, n=n_problems, what=what, n_seeds=n_seeds)


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
    value, lo, hi = hierarchical_intervals([xa[None], xb[None]], [1.0, -1.0], n_boot=n_boot, seed=seed,
                                           confidence=confidence)
    return _finish(value[0], lo[0], hi[0], None, n=xa.shape[1], what=what, n_seeds=int(max(len(xa), len(xb))))


def hierarchical_contrast(arms: Sequence, weights: Sequence[float], *, n_boot: int = 2000, seed: int = 0,
                          confidence: float = 0.95, what: str = "") -> Estimate:
    """Return Σ weight·mean(arm) over arms on the same problems (each (seeds, problems)), seeds independent.

    For claims that compare more than two arms, e.g. the non-inferiority contrast NSR − (base + GRPO)/2 =
    ``hierarchical_contrast([nsr, base, grpo], [1, -0.5, -0.5])``; `hierarchical_difference` is the two-arm case.
    Problems observed in every arm are kept; the interval is that of `hierarchical_bootstrap`.
    """
    _check_boot_args(n_boot, confidence)
    if len(arms) != len(weights) or not arms:
        raise ValueError(f"need one weight per arm, got {len(arms)} arms and {len(weights)} weights")
    xs = [np.asarray(a, dtype=np.float64) for a in arms]
    xs = [x[None, :] if x.ndim == 1 else x for x in xs]
    if any(x.ndim != 2 or x.shape[1] != xs[0].shape[1] for x in xs):
        raise ValueError(f"arms must be (seeds, problems) on the same problems, got {[x.shape for x in xs]}")
    if any(np.isinf(x).any() for x in xs):
        raise ValueError("an arm contains inf (use NaN for a missing value)")
    keep = np.logical_and.reduce([(~np.isnan(x)).any(axis=0) for x in xs])
    xs = [x[:, keep] for x in xs]
    xs = [x[(~np.isnan(x)).any(axis=1)] for x in xs]
    if any(x.size == 0 for x in xs):
        return Estimate(float("nan"), float("nan"), float("nan"), 0, what or "no problem observed in every arm",
                        n_seeds=0)
    value, lo, hi = hierarchical_intervals([x[None] for x in xs], [float(w) for w in weights], n_boot=n_boot,
                                           seed=seed, confidence=confidence)
    return _finish(value[0], lo[0], hi[0], None, n=xs[0].shape[1], what=what, n_seeds=int(max(len(x) for x in xs)))


def wilson_interval(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson score interval (lo, hi) for k successes in n trials, elementwise; (0, 1) where n = 0.

    Wilson 1927 (JASA 22:209): better coverage than the normal interval near 0 and 1 and for small n.
    """
    from scipy import stats

    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    safe_n = np.where(n > 0, n, 1.0)
    p = k / safe_n
    denom = 1 + z ** 2 / safe_n
    centre = (p + z ** 2 / (2 * safe_n)) / denom
    half = z * np.sqrt(p * (1 - p) / safe_n + z ** 2 / (4 * safe_n ** 2)) / denom
    return (np.where(n > 0, np.clip(centre - half, 0, 1), 0.0), np.where(n > 0, np.clip(centre + half, 0, 1), 1.0))


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


# added by C1: the six-benchmark average of the 1-shot RLVR and Lp-Reg tables, used by both papers' notebooks.
def benchmark_average_ci(correct, seed: int = 0, n_boot: int = 2000) -> Estimate:
    """Return the mean over datasets of per-dataset accuracy with a stratified bootstrap CI (problems resampled
    within each dataset; several seeds per problem averaged first): the benchmark average of Wang et al. 2025
    (Table 1) and Huang et al. 2025 (Table 1). ``correct`` has columns dataset, problem_id, n, n_correct."""
    acc = correct.assign(acc=correct["n_correct"] / correct["n"]).groupby(["dataset", "problem_id"])["acc"].mean()
    per = [g.to_numpy() for _, g in acc.groupby(level=0)]
    rng = np.random.default_rng(seed)
    boots = np.mean([[x[rng.integers(0, len(x), len(x))].mean() for x in per] for _ in range(n_boot)], axis=1)
    value = float(np.mean([x.mean() for x in per]))
    return Estimate(value, float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)), int(len(acc)),
                    f"average over {len(per)} datasets")


# added by C2: the answer-level majority vote, shared by DSER's chain votes and sharpening's selectors.
def majority_vote(answers: Sequence[str | None]) -> str | None:
    """Return the most frequent non-None answer; ties go to the answer seen first. None when nothing voted.

    The same rule as :func:`maj_at_k` (answers grouped by exact string: normalize first).
    """
    counts: dict[str, int] = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)
