"""NSR's large-k regime on the toy: the screened hard pool, pass@k differences at every k, and the learning signal.

Zhu et al. 2025 (arXiv 2506.01347) claim that NSR keeps or raises pass@k across the whole spectrum (k up to 256)
while PSR raises pass@1 and lowers pass@k at large k (abstract, Sec. 3). That can only show where the base model's
pass@k is still below 1 at the largest k: on problems it solves rarely but not never. This module

- draws the toy world's hard tier (`workbook.toy.world.hard_spec`, 5-6 operands, seen in 4% of the training
  traces) and screens it by *separate* base samples to the problems whose base pass@k lies in a band
  (`screen_pool`), so the base measured later on fresh samples is not selected on its own noise;
- compares two arms at every k with the seeds × problems interval, paired by (seed, problem) (`curve_differences`,
  `paired_contrast`: the final samples of every arm and of the base are drawn with common random numbers), finds
  the largest k where the base is still below a ceiling (`largest_k_below`) and averages over k >= k_min
  (`mean_over_k`);
- measures the learning signal each arm gets per step from the rollout log (`group_signal`): the share of groups
  with a non-zero advantage under each arm's own rule (official ``compute_psr_nsr_outcome_advantage``: PSR A = r,
  NSR A = r − 1, W-REINFORCE λ·r − (1 − r); GRPO's group-normalised advantage vanishes on all-right and
  all-wrong groups), all-wrong groups and distinct correct solutions.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["hard_candidates", "screen_pool", "pool_samples", "k_matrix", "paired_matrix", "paired_contrast",
           "paired_sd", "curve_differences", "largest_k_below", "mean_over_k", "group_signal", "NONZERO_ADVANTAGE"]

#: Whether a group of n rollouts with c correct gives the arm a non-zero advantage on some rollout (official
#: ``core_algos.py``: GRPO normalises within the group, so all-equal groups give 0; PSR's A = r is 0 on wrong
#: samples, NSR's A = r − 1 is 0 on correct ones; W-REINFORCE is non-zero on every sample).
NONZERO_ADVANTAGE = {
    "grpo": lambda c, n: (c > 0) & (c < n),
    "psr": lambda c, n: c > 0,
    "nsr": lambda c, n: c < n,
    "w_reinforce": lambda c, n: np.ones_like(c, dtype=bool),
}


def hard_candidates(n: int, seed: int) -> list:
    """Returns ``n`` held-out (test-split) problems of the toy world's hard tier (`workbook.toy.world.hard_spec`
    of the default spec and knobs): the candidates `screen_pool` screens."""
    from workbook.data.synthetic import ArithmeticSpec, generate_problems
    from workbook.toy.world import WorldKnobs, hard_spec

    problems = generate_problems(n, seed, spec=hard_spec(ArithmeticSpec(), WorldKnobs()), split="test")
    return [type(p)(f"hard-{p.problem_id}", p.problem, p.answer, "hard", p.metadata) for p in problems]


def screen_pool(counts: pd.DataFrame, k: int, band: Sequence[float] = (0.3, 0.9), limit: int = 0) -> pd.DataFrame:
    """Returns ``counts`` (problem_id, n, n_correct: the screening samples of the base model) with ``pass_at_k``
    (unbiased, Chen et al. 2021 Eq. 1) and ``keep``: lo <= pass@k <= hi, at most ``limit`` kept (0: all), in the
    frame's order.

    The screen's samples must not be reused to measure the base: selecting problems on a noisy estimate and then
    re-using it would bias the base's curve (regression to the mean)."""
    from workbook.metrics import pass_at_k

    lo, hi = (float(b) for b in band)
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"band must be 0 <= lo <= hi <= 1, got {band!r}")
    if int(k) < 1 or (counts["n"] < int(k)).any():
        raise ValueError(f"screen k = {k} needs k >= 1 and at least k samples per problem")
    out = counts[["problem_id", "n", "n_correct"]].copy()
    out["pass_at_k"] = [float(pass_at_k(int(n), int(c), int(k))) for n, c in zip(out["n"], out["n_correct"])]
    keep = (out["pass_at_k"] >= lo) & (out["pass_at_k"] <= hi)
    if limit:
        keep &= keep.cumsum() <= int(limit)
    return out.assign(keep=keep.to_numpy())


def pool_samples(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per (label, method, dataset, problem_id) of a final-samples frame with the samples of every
    sampling seed pooled: n and n_correct summed, seed 0.

    For a fixed model (the untrained base) more sampling seeds are only more samples of the same distribution, so
    the unbiased pass@k (Chen et al. 2021, Eq. 1) of the pooled n reaches k = n, and at every k it is the
    minimum-variance unbiased estimate, below the mean of the per-seed estimates. Never pool trained runs: their
    seeds are different models."""
    keys = [c for c in ("label", "method", "dataset", "problem_id") if c in frame]
    out = frame.groupby(keys, sort=False)[["n", "n_correct"]].sum().reset_index()
    return out.assign(seed=0, step=int(frame["step"].max()) if "step" in frame else 0)


def k_matrix(final: pd.DataFrame, label: str, ks: Sequence[int]) -> np.ndarray | None:
    """Returns pass@k of ``label`` averaged over ``ks``, shape (seeds, problems), problems sorted by id (None when
    the label has no rows)."""
    from workbook.papers.nsr.passk import seed_problem_pass

    return seed_problem_pass(final, label, ks)


def paired_matrix(final: pd.DataFrame, arms: Sequence[str], ks: Sequence[int]) -> list[np.ndarray] | None:
    """Returns one (seeds, problems) matrix of pass@k averaged over ``ks`` per arm in ``arms``, on the seeds every
    arm ran (rows in the same seed order, problems sorted by id), or None when an arm has no rows.

    Row s of each matrix comes from the same sampling seed when the final samples were drawn with common random
    numbers (``DiversityProbe(same_draws=True)`` and the base evaluated once per training seed), so a difference of
    rows is paired by (seed, problem): the sampling noise the arms share cancels."""
    from workbook.papers.nsr.passk import seed_problem_pass

    frames = []
    for label in arms:
        g = final[final["label"] == label]
        if g.empty:
            return None
        frames.append(g)
    common = sorted(set.intersection(*(set(g["seed"]) for g in frames)))
    if not common:
        raise ValueError(f"{list(arms)} share no seed: a paired difference needs each arm's final samples at the "
                         f"same sampling seeds (seeds: {[sorted(set(g['seed'])) for g in frames]})")
    out = [seed_problem_pass(g[g["seed"].isin(common)], label, ks) for g, label in zip(frames, arms)]
    if len({x.shape for x in out}) != 1:
        raise ValueError(f"{list(arms)} cover different problems: {[x.shape for x in out]}")
    return out


def paired_contrast(final: pd.DataFrame, arms: Sequence[str], weights: Sequence[float], ks: Sequence[int],
                    n_boot: int = 2000, seed: int = 0, what: str = ""):
    """Returns the `Estimate` of Σ weight · pass@k(arm), mean over ``ks``, formed within each (seed, problem)
    cell (`paired_matrix`) and bootstrapped over seeds × problems (`workbook.metrics.hierarchical_bootstrap`); None
    when an arm has no rows. With common random numbers this removes the sampling noise the arms share, which
    `workbook.metrics.hierarchical_difference` (arms' seeds resampled independently) would keep."""
    from workbook.metrics import hierarchical_bootstrap

    xs = paired_matrix(final, arms, ks)
    if xs is None:
        return None
    d = sum(float(w) * x for w, x in zip(weights, xs))
    return hierarchical_bootstrap(d, n_boot=n_boot, seed=seed, what=(what or " ".join(
        f"{w:+g}·{a}" for w, a in zip(weights, arms))) + ", paired by seed")


def paired_sd(final: pd.DataFrame, a: str, b: str, ks: Sequence[int]) -> dict:
    """Returns the spread of pass@k(``a``) − pass@k(``b``) (mean over ``ks``) per (seed, problem) cell: ``sd``
    (the cell sd after removing each seed's mean, the noise the paired bootstrap sees) and ``seed_sd`` (the sd of
    the seeds' means), the nuisance parameters of `workbook.reporting.power`'s continuous model."""
    xs = paired_matrix(final, [a, b], ks)
    if xs is None:
        raise ValueError(f"no rows for {a!r} or {b!r}")
    d = xs[0] - xs[1]
    resid = d - np.nanmean(d, axis=1, keepdims=True)
    return {"sd": float(np.nanstd(resid, ddof=1)),
            "seed_sd": float(np.nanstd(np.nanmean(d, axis=1), ddof=1)) if len(d) > 1 else float("nan"),
            "seeds": int(d.shape[0]), "problems": int(d.shape[1])}


def curve_differences(final: pd.DataFrame, a: str, b: str, ks: Sequence[int], n_boot: int = 2000,
                      seed: int = 0) -> pd.DataFrame:
    """Returns one row per k: pass@k(a) − pass@k(b) with the 95% seeds × problems interval, paired by (seed,
    problem) (`paired_contrast`: both arms' final samples drawn at the same sampling seeds).

    Columns: k, value, lo, hi, n (problems), seeds, contrast."""
    rows = []
    for k in ks:
        e = paired_contrast(final, [a, b], [1.0, -1.0], [k], n_boot=n_boot, seed=seed, what=f"pass@{k} {a} - {b}")
        if e is None:
            raise ValueError(f"no rows for {a!r} or {b!r}; have {sorted(final['label'].unique())}")
        rows.append({"k": int(k), "value": e.value, "lo": e.lo, "hi": e.hi, "n": e.n, "seeds": e.n_seeds,
                     "contrast": f"{a} − {b}"})
    return pd.DataFrame(rows)


def largest_k_below(final: pd.DataFrame, label: str, ks: Sequence[int], ceiling: float = 0.95) -> int | None:
    """Returns the largest k of ``ks`` where ``label``'s pass@k (mean over problems of the seed-averaged value) is
    below ``ceiling``: the largest k at which a gain can still show. None when even k = min(ks) is at the ceiling."""
    below = [k for k in ks if float(np.nanmean(k_matrix(final, label, [k]))) < ceiling]
    return max(below) if below else None


def mean_over_k(final: pd.DataFrame, a: str, b: str, ks: Sequence[int], k_min: int = 8, n_boot: int = 2000,
                seed: int = 0):
    """Returns the `Estimate` of mean over k >= ``k_min`` (of ``ks``) of pass@k(a) − pass@k(b), paired by (seed,
    problem) (`paired_contrast`); None when no k qualifies or an arm has no rows."""
    kk = [k for k in ks if k >= k_min]
    if not kk:
        return None
    return paired_contrast(final, [a, b], [1.0, -1.0], kk, n_boot=n_boot, seed=seed,
                           what=f"mean pass@k, k >= {k_min}: {a} - {b}")


def group_signal(history: pd.DataFrame) -> pd.DataFrame:
    """Returns per (label, method, seed, step) of a rollout log (``Results.history``: one row per group with n,
    n_correct): ``nonzero_adv`` (share of groups giving the run's own method a non-zero advantage,
    `NONZERO_ADVANTAGE`), ``mixed`` (share with 0 < c < n: GRPO's non-zero groups), ``all_wrong`` (c = 0), and
    ``distinct_correct`` (mean distinct correct completions per group) when the log has it."""
    if history.empty:
        return pd.DataFrame(columns=["label", "method", "seed", "step", "nonzero_adv", "mixed", "all_wrong"])
    c, n = history["n_correct"].to_numpy(), history["n"].to_numpy()
    rule = history["method"].map(lambda m: NONZERO_ADVANTAGE.get(m, NONZERO_ADVANTAGE["grpo"]))
    nonzero = np.array([f(np.array([ci]), np.array([ni]))[0] for f, ci, ni in zip(rule, c, n)], dtype=bool)
    h = history.assign(nonzero_adv=nonzero, mixed=(c > 0) & (c < n), all_wrong=c == 0)
    cols = ["nonzero_adv", "mixed", "all_wrong"] + (["n_distinct_correct"] if "n_distinct_correct" in h else [])
    out = h.groupby(["label", "method", "seed", "step"], sort=False)[cols].mean().reset_index()
    return out.rename(columns={"n_distinct_correct": "distinct_correct"})
