"""Returns accuracy ceilings, expected utilities and optimal sample counts for resampling with an imperfect verifier.

Stroebl, Kapoor & Narayanan, "Inference Scaling fLaws: The Limits of LLM Resampling with Imperfect Verifiers"
(arXiv 2411.17501): per-task quantities, the utility of resampling and the easy/hard theoretical model (see
``docs/papers/inference_scaling_limits.md``). Official code: benediktstroebl/inference-scaling-limits @ 11a8f6e.

Per task t with n samples: ``a`` = samples the verifier accepts that are correct, ``f`` = accepted but wrong (false
positives), ``m = a + f``. Resampling until the verifier accepts returns a uniformly random accepted sample, so with
unlimited samples the accuracy is a/m (the ceiling), and with at most k samples drawn without replacement

    U_t(k) = [1 - C(n-m, k) / C(n, k)] * (a - c*f) / m        (0 when m = 0)

where a false positive costs c and a correct answer is worth 1. This is the exact expectation of the official
Monte-Carlo simulation (:func:`simulate_utility`), which the tests check within Monte-Carlo error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

# ----------------------------------------------------------------------------------------------- per-task counts


@dataclass(frozen=True)
class TaskCounts:
    """Per-task counts: ``a`` accepted & correct, ``f`` accepted & wrong, ``n`` samples; arrays of shape (tasks,)."""

    a: np.ndarray
    f: np.ndarray
    n: np.ndarray
    task_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        a, f, n = (np.asarray(x, dtype=np.int64) for x in (self.a, self.f, self.n))
        if not (a.shape == f.shape == n.shape) or a.ndim != 1:
            raise ValueError(f"a, f, n must be 1-d arrays of one shape, got {a.shape}, {f.shape}, {n.shape}")
        if (a < 0).any() or (f < 0).any() or (a + f > n).any() or (n <= 0).any():
            raise ValueError("counts need 0 <= a, 0 <= f, a + f <= n and n > 0 for every task")
        if self.task_ids and len(self.task_ids) != len(a):
            raise ValueError(f"{len(self.task_ids)} task_ids for {len(a)} tasks")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "f", f)
        object.__setattr__(self, "n", n)

    @property
    def m(self) -> np.ndarray:
        """Samples the verifier accepts, shape (tasks,)."""
        return self.a + self.f

    def __len__(self) -> int:
        return len(self.a)

    def subset(self, idx) -> "TaskCounts":
        """Return the counts of the tasks selected by ``idx`` (indices or boolean mask)."""
        idx = np.asarray(idx)
        ids = tuple(np.asarray(self.task_ids, dtype=object)[idx]) if self.task_ids else ()
        return TaskCounts(self.a[idx], self.f[idx], self.n[idx], ids)


def task_counts(verifier_pass, correct, task_ids=None) -> TaskCounts:
    """Return :class:`TaskCounts` from per-sample booleans ``verifier_pass`` and ``correct``.

    Both are (tasks, n) arrays or lists of per-task lists (ragged n allowed). ``correct`` is the ground truth
    (e.g. EvalPlus plus tests); a = accepted & correct, f = accepted & not correct.
    """
    if len(verifier_pass) != len(correct):
        raise ValueError(f"{len(verifier_pass)} verifier rows for {len(correct)} ground-truth rows")
    a, f, n = [], [], []
    for i, (v, c) in enumerate(zip(verifier_pass, correct)):
        v, c = np.asarray(v, dtype=bool), np.asarray(c, dtype=bool)
        if v.shape != c.shape or v.ndim != 1 or v.size == 0:
            raise ValueError(f"task {i}: verifier and ground truth need the same non-empty 1-d shape")
        a.append(int((v & c).sum()))
        f.append(int((v & ~c).sum()))
        n.append(v.size)
    return TaskCounts(np.array(a), np.array(f), np.array(n), tuple(task_ids) if task_ids is not None else ())


def counts_from_code_results(results, require_base_for_correct: bool = True) -> TaskCounts:
    """Return counts from ``workbook.code_eval`` results: verifier = base tests, correct = plus (and base) pass.

    The paper's definitions: a = samples passing base AND plus tests, f = passing base but failing plus.
    """
    verifier = [[r.base_pass for r in row] for row in results]
    correct = [[(r.base_pass or not require_base_for_correct) and r.plus_pass for r in row] for row in results]
    ids = [row[0].problem_id if row else "" for row in results]
    return task_counts(verifier, correct, ids)


# ------------------------------------------------------------------------------------------------------- ceiling


def per_task_ceiling(counts: TaskCounts) -> np.ndarray:
    """Return a/m per task (NaN where m = 0: the verifier never accepts, resampling never answers), shape (tasks,)."""
    m = counts.m
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m > 0, counts.a / np.maximum(m, 1), np.nan)


def accuracy_ceiling(counts: TaskCounts, m0: str = "exclude") -> float:
    """Return the paper's accuracy ceiling: the mean over tasks of a/m.

    ``m0`` says what a task with m = 0 counts as: ``"exclude"`` (the paper's point estimate), ``"zero"`` or ``"one"``
    (the two ends of the paper's error bars).
    """
    r = per_task_ceiling(counts)
    if m0 == "exclude":
        r = r[~np.isnan(r)]
        return float(r.mean()) if r.size else float("nan")
    if m0 in ("zero", "one"):
        return float(np.where(np.isnan(r), 0.0 if m0 == "zero" else 1.0, r).mean()) if r.size else float("nan")
    raise ValueError(f"m0 must be 'exclude', 'zero' or 'one', got {m0!r}")


def pass_at_1(counts: TaskCounts) -> np.ndarray:
    """Return per-task single-sample accuracy a/n (correct = accepted by the verifier and correct), shape (tasks,)."""
    return counts.a / counts.n


# ----------------------------------------------------------------------------------------------------- utility


def prob_any_accept(n, m, ks) -> np.ndarray:
    """Return P(at least one of k samples drawn without replacement is accepted) = 1 - C(n-m,k)/C(n,k).

    ``n``, ``m``: shape (tasks,); ``ks``: shape (K,). Returns shape (tasks, K). Exact in log space; k > n is
    treated as k = n (all samples drawn).
    """
    n = np.asarray(n, dtype=np.float64)[:, None]
    m = np.asarray(m, dtype=np.float64)[:, None]
    k = np.minimum(np.asarray(ks, dtype=np.float64)[None, :], n)
    if (np.asarray(ks) < 0).any():
        raise ValueError("k must be >= 0")
    none_ok = k <= n - m  # otherwise every draw of k samples contains an accepted one
    log_ratio = (gammaln(n - m + 1) - gammaln(np.maximum(n - m - k, 0) + 1)
                 - gammaln(n + 1) + gammaln(n - k + 1))
    p_none = np.where(none_ok, np.exp(np.where(none_ok, log_ratio, 0.0)), 0.0)
    return 1.0 - p_none


def expected_utility(counts: TaskCounts, ks, cost: float) -> np.ndarray:
    """Return the exact U_t(k) = [1 - C(n-m,k)/C(n,k)]·(a - c·f)/m per task, shape (tasks, len(ks)).

    The utility of resampling (our closed form of ``run_optimized_simulation``); 0 for tasks with m = 0.
    """
    m = counts.m
    value = np.where(m > 0, (counts.a - cost * counts.f) / np.maximum(m, 1), 0.0)
    return prob_any_accept(counts.n, m, ks) * value[:, None]


def utility_curve(counts: TaskCounts, ks, cost: float) -> np.ndarray:
    """Return the mean over tasks of U_t(k), shape (len(ks),)."""
    return expected_utility(counts, ks, cost).mean(axis=0)


def simulate_utility(verifier_pass, correct, ks, cost: float, n_sims: int = 1000, seed: int = 0) -> np.ndarray:
    """Return the Monte-Carlo U(k) of the official code, mean over tasks and ``n_sims`` shuffles, shape (len(ks),).

    Official ``run_optimized_simulation``: shuffle a task's samples; K = position (1-based) of the first sample the
    verifier accepts; reward 1 if it is correct, -cost if not; U(k) = mean of reward·1[K <= k] (0 if none accepted).
    ``verifier_pass``, ``correct``: (tasks, n) booleans or per-task lists.
    """
    rng = np.random.default_rng(seed)
    ks = np.asarray(ks)
    total = np.zeros(len(ks))
    for v, c in zip(verifier_pass, correct):
        v, c = np.asarray(v, dtype=bool), np.asarray(c, dtype=bool)
        perm = rng.permuted(np.tile(np.arange(v.size), (n_sims, 1)), axis=1)  # (n_sims, n)
        acc = v[perm]
        any_acc = acc.any(axis=1)
        first = np.where(any_acc, acc.argmax(axis=1), v.size)  # 0-based position of the first accepted sample
        reward = np.where(c[perm[np.arange(n_sims), np.minimum(first, v.size - 1)]], 1.0, -cost)
        reward = np.where(any_acc, reward, 0.0)
        total += (reward[:, None] * ((first[:, None] + 1) <= ks[None, :])).mean(axis=0)
    return total / len(verifier_pass)


def optimal_k(ks, curve) -> tuple[int, float]:
    """Return (k_opt, U(k_opt)): the smallest argmax of ``curve``; k_opt = 0 (abstain, U = 0) if the max is < 0."""
    ks, curve = np.asarray(ks), np.asarray(curve, dtype=np.float64)
    i = int(np.argmax(curve))
    return (0, 0.0) if curve[i] < 0 else (int(ks[i]), float(curve[i]))


def k_opt_table(counts: TaskCounts, costs, k_max: int = 200) -> dict[float, tuple[int, float]]:
    """Return {cost: (k_opt, U(k_opt))} for k in 1..k_max from the exact closed form."""
    ks = np.arange(1, k_max + 1)
    return {float(c): optimal_k(ks, utility_curve(counts, ks, c)) for c in costs}


def bootstrap_k_opt(counts: TaskCounts, cost: float, k_max: int = 200, n_boot: int = 1000, seed: int = 0,
                    confidence: float = 0.95) -> tuple[int, float, float]:
    """Return (k_opt, lo, hi): k_opt and a percentile interval from resampling tasks with replacement."""
    ks = np.arange(1, k_max + 1)
    per_task = expected_utility(counts, ks, cost)  # (tasks, K)
    k0, _ = optimal_k(ks, per_task.mean(axis=0))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(counts), size=(n_boot, len(counts)))
    boots = [optimal_k(ks, per_task[row].mean(axis=0))[0] for row in idx]
    q = (1 - confidence) / 2
    return k0, float(np.quantile(boots, q)), float(np.quantile(boots, 1 - q))


def bootstrap_best_utility(counts: TaskCounts, cost: float, k_max: int = 200, n_boot: int = 1000, seed: int = 0,
                           confidence: float = 0.95) -> tuple[float, float, float]:
    """Return (max_k U(k), lo, hi): the best expected utility over k = 1..k_max and a percentile interval from the
    task bootstrap of :func:`bootstrap_k_opt` (same seed, same resamples). Below 0, every k loses on average and
    the best choice is to abstain (k_opt = 0): then "U(k) peaks early" has no peak to locate (Sec. 4)."""
    ks = np.arange(1, k_max + 1)
    per_task = expected_utility(counts, ks, cost)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(counts), size=(n_boot, len(counts)))
    boots = per_task[idx].mean(axis=1).max(axis=1)
    q = (1 - confidence) / 2
    return float(per_task.mean(axis=0).max()), float(np.quantile(boots, q)), float(np.quantile(boots, 1 - q))


# -------------------------------------------------------------------------------------------- theoretical model


@dataclass(frozen=True)
class EasyHardModel:
    """Two task types with priors ``p``, per-sample correctness ``r``; verifier completeness ``c_v``, soundness ``s``.

    The theoretical model (official notebook): rejection probability β_t = (1 - c_v)·r_t + s·(1 - r_t); a correct
    accept has probability c_v·r_t, a false positive (1 - r_t)(1 - s).
    """

    r: tuple[float, float]
    p: tuple[float, float]
    s: float
    c_v: float = 1.0

    def __post_init__(self) -> None:
        vals = [*self.r, *self.p, self.s, self.c_v]
        if any(not 0.0 <= v <= 1.0 for v in vals) or abs(sum(self.p) - 1.0) > 1e-9:
            raise ValueError(f"probabilities must lie in [0, 1] and p must sum to 1, got {self}")

    @property
    def beta(self) -> np.ndarray:
        r = np.asarray(self.r)
        return (1 - self.c_v) * r + self.s * (1 - r)

    @property
    def p_correct(self) -> np.ndarray:
        return self.c_v * np.asarray(self.r)

    @property
    def p_fp(self) -> np.ndarray:
        return (1 - np.asarray(self.r)) * (1 - self.s)


def model_utility(model: EasyHardModel, ks, cost: float, form: str = "exact") -> np.ndarray:
    """Return E(K) for K in ``ks`` (shape (len(ks),)) with V_correct = 1 and V_fp = -cost.

    ``form="exact"``: E(K) = Σ_{k≤K} Σ_t p_t·β_t^(k−1)·(P_correct,t − c·P_fp,t), the probability that the first
    accept is the k-th attempt on a type-t task times its value.
    ``form="repo"``: the official notebook's E(K) = Σ_{k≤K} [Σ_t b_t(k)·(P_correct,t − c·P_fp,t)]·[Σ_t b_t(k)·β_t^(k−1)]
    with the posterior b_t(k) ∝ p_t·β_t^(k−1). It weights each attempt by the posterior twice (once in each bracket)
    instead of by the prior once, so it is not the expectation of the reward; on the demo parameters the two agree
    on k_opt but not on the utility.
    """
    ks = np.asarray(ks)
    k_all = np.arange(1, int(ks.max()) + 1)
    beta, p = model.beta, np.asarray(model.p)
    value = model.p_correct - cost * model.p_fp  # (2,)
    surv = beta[None, :] ** (k_all[:, None] - 1)  # (k, 2): P(first k-1 attempts rejected | type)
    if form == "exact":
        per_k = (p[None, :] * surv * value[None, :]).sum(axis=1)
    elif form == "repo":
        post = p[None, :] * surv
        post = post / post.sum(axis=1, keepdims=True)
        per_k = (post * value[None, :]).sum(axis=1) * (post * surv).sum(axis=1)
    else:
        raise ValueError(f"form must be 'exact' or 'repo', got {form!r}")
    return np.cumsum(per_k)[ks - 1]


def model_optimal_k(model: EasyHardModel, cost: float, k_max: int = 15, form: str = "exact") -> tuple[int, float]:
    """Return (k_opt, E(k_opt)) over K = 1..k_max; (0, 0) when the best E is negative (as the official notebook)."""
    ks = np.arange(1, k_max + 1)
    return optimal_k(ks, model_utility(model, ks, cost, form))


def fit_easy_hard(counts: TaskCounts, plus_rate=None, threshold: float = 0.5, form: str = "exact") -> EasyHardModel:
    """Return the easy/hard model fitted to per-task counts (completeness c_v = 1), as official `calculate_model_params`.

    Tasks with correct-rate ≥ ``threshold`` are easy; r_t = mean correct-rate of each group, p_t = group fraction.
    ``plus_rate`` (per-task ground-truth pass rate) defaults to a/n.
    Soundness ``s`` = P(reject | incorrect):
      ``form="exact"``: mean_t((n−m)/n) / mean_t((n−a)/n) — the rejected share of incorrect samples;
      ``form="repo"``: the official ``calculate_model_params``: (1 − B − Q + mean_t(a/m)·B)/(1 − Q) with
      B = mean base-pass rate, Q = mean plus-pass rate; it replaces mean(P(base ∧ plus)) by the product of the means
      of P(plus | base) and P(base), which differ when pass rates vary across tasks.
    """
    base_rate = counts.m / counts.n
    q = counts.a / counts.n if plus_rate is None else np.asarray(plus_rate, dtype=np.float64)
    easy = q >= threshold
    groups = [q[easy], q[~easy]]
    r = tuple(float(g.mean()) if g.size else 0.0 for g in groups)
    p = (float(easy.mean()), float(1 - easy.mean()))
    B, Q = float(base_rate.mean()), float(q.mean())
    if Q >= 1:
        s = 1.0
    elif form == "exact":
        s = float(np.mean((counts.n - counts.m) / counts.n) / np.mean((counts.n - counts.a) / counts.n))
    elif form == "repo":
        cond = per_task_ceiling(counts)
        cond_mean = float(np.nanmean(cond)) if np.isfinite(cond).any() else 0.0
        s = (1 - B - Q + cond_mean * B) / (1 - Q)
    else:
        raise ValueError(f"form must be 'exact' or 'repo', got {form!r}")
    return EasyHardModel(r=r, p=p, s=float(np.clip(s, 0.0, 1.0)))


# -------------------------------------------------------------------------------------- pass@1 vs ceiling line


def linear_fit(x, y) -> tuple[float, float, float]:
    """Return (slope, intercept, R²) of the least-squares line y = slope·x + intercept."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 2:
        raise ValueError("need at least two points for a line")
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * x + intercept
    ss_res, ss_tot = float(((y - pred) ** 2).sum()), float(((y - y.mean()) ** 2).sum())
    return float(slope), float(intercept), (1 - ss_res / ss_tot) if ss_tot > 0 else float("nan")


def paper_figure_data() -> dict:
    """Return the paper's HumanEval+ (pass@1, ceiling) points and fitted lines (reported/inference_scaling_limits.yaml)."""
    from pathlib import Path

    import yaml

    import workbook

    path = Path(workbook.__file__).resolve().parent / "reported" / "inference_scaling_limits.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["figure_data"]


# ------------------------------------------------------------------------------------------ weak verifiers


def last_digit_check(completion: str, gold: str) -> bool:
    """Return True when the final boxed answer's last digit equals the gold answer's last digit; never raises.

    A deliberately weak verifier for integer-answer tasks: it checks only part of the answer, so it accepts every
    correct integer and about one wrong integer in ten (the paper's weak unit tests, on arithmetic).
    """
    from workbook.grading import extract_boxed

    try:
        pred = extract_boxed(completion or "")
        if pred is None:
            return False
        pred, gold = pred.strip().replace(",", ""), str(gold).strip().replace(",", "")
        if not pred.lstrip("-").isdigit() or not gold.lstrip("-").isdigit():
            return False
        return pred[-1] == gold[-1]
    except Exception:  # model output must never crash a verifier
        return False
