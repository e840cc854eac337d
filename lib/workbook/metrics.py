"""Evaluation metrics: unbiased pass@k, maj@k, mean@k, task-bootstrap CIs, IQM, probability of improvement.

Spec: ``shared/specs/evaluation.md`` ("pass@k and friends", "Honest uncertainty"). pass@k is the unbiased
estimator of Chen et al. 2021 (Codex, Eq. 1) in its numerically stable product form; IQM and probability of
improvement follow rliable (Agarwal et al., NeurIPS 2021).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "bootstrap_ci", "iqm", "maj_at_k", "mean_at_k", "pass_at_k", "pass_at_k_curve",
           "probability_of_improvement"]


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

    def __str__(self) -> str:
        return f"{self.value:.4g} [{self.lo:.4g}, {self.hi:.4g}] (n={self.n}{', ' + self.what if self.what else ''})"


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
