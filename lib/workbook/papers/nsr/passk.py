"""NSR's pass@k curves and differences with CIs over problems (Zhu et al. 2025, arXiv 2506.01347, Sec. 3).

The unbiased pass@k estimator of Chen et al. 2021 per problem, on the k grid of the official
``calculate_metrics.py`` (``paper_ks``); curves per arm with the seeds × problems interval
(``workbook.metrics.hierarchical_bootstrap``), paired differences between arms and the non-inferiority contrast
of NSR-3a. Re-exported by ``workbook.papers.nsr``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["seed_problem_pass", "noninferiority", "pass_at_k_curves", "pass_at_k_difference", "mean_pass_at_k",
           "paper_ks", "pass_at_k_frame"]


def _per_problem_pass(final: pd.DataFrame, label: str, ks: Sequence[int]) -> np.ndarray:
    """Returns pass@k per problem averaged over the label's seeds, shape (problems, len(ks)), problems sorted by id."""
    from workbook.metrics import pass_at_k_curve

    g = final[final["label"] == label]
    if g.empty:
        raise ValueError(f"no final evaluation rows for label {label!r}; have {sorted(final['label'].unique())}")
    curve = pass_at_k_curve(g["n_correct"].to_numpy(), g["n"].to_numpy(), list(ks))
    df = pd.DataFrame(curve, columns=list(ks)).assign(problem_id=g["problem_id"].to_numpy())
    return df.groupby("problem_id", sort=True)[list(ks)].mean().to_numpy()


def seed_problem_pass(final: pd.DataFrame, label: str, ks: Sequence[int]) -> np.ndarray | None:
    """Returns pass@k of ``label`` averaged over ``ks``, shape (seeds, problems) with problems sorted by id (the
    units of ``workbook.metrics.hierarchical_contrast``), or None when the label has no rows."""
    from workbook.metrics import pass_at_k_curve

    g = final[final["label"] == label]
    if g.empty:
        return None
    curve = pass_at_k_curve(g["n_correct"].to_numpy(), g["n"].to_numpy(), list(ks)).mean(axis=1)
    wide = pd.DataFrame({"seed": g["seed"].to_numpy(), "problem_id": g["problem_id"].to_numpy(), "p": curve})
    return (wide.pivot_table(index="seed", columns="problem_id", values="p", aggfunc="mean")
            .sort_index(axis=1).to_numpy())


def noninferiority(final: pd.DataFrame, arm: str, comparator: str, ks: Sequence[int], n_boot: int = 2000,
                   seed: int = 0):
    """Returns the non-inferiority contrast mean_k pass@k: ``arm`` − (base + ``comparator``)/2, paired by (seed,
    problem) (`regime.paired_contrast`), passed through ``requires(comparator − base > 0)``; None when an arm is
    missing.

    ``arm`` − ``comparator`` > −(``comparator`` − base)/2 is the FDA margin of half the comparator's gain; without
    a gain over the base there is nothing to keep, so the claim reads "untestable here"."""
    from workbook.reporting import requires

    from .regime import paired_contrast

    if not {arm, "base", comparator} <= set(final["label"]):
        return None
    gain = paired_contrast(final, [comparator, "base"], [1.0, -1.0], ks, n_boot=n_boot, seed=seed,
                           what=f"{comparator} - base")
    return requires(gain, f"{comparator} beats the base", paired_contrast(
        final, [arm, "base", comparator], [1.0, -0.5, -0.5], ks, n_boot=n_boot, seed=seed,
        what=f"{arm} - (base + {comparator})/2"))


def pass_at_k_curves(final: pd.DataFrame, ks: Sequence[int], n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Returns per (label, k): pass@k (unbiased estimator of Chen et al. 2021, mean over seeds of the mean over
    problems), lo, hi (the 95% seeds × problems interval, `workbook.metrics.hierarchical_bootstrap`), n (problems),
    seeds, n_samples (the fewest samples of a problem).

    Each label is drawn to the largest k of ``ks`` its samples allow (k <= its fewest samples per problem): the base
    model, measured once with more samples than each trained run, reaches further along the curve."""
    from workbook.metrics import hierarchical_bootstrap

    rows = []
    for label in dict.fromkeys(final["label"]):
        n_min = int(final.loc[final["label"] == label, "n"].min())
        for k in (k for k in ks if k <= n_min):
            x = seed_problem_pass(final, label, [k])
            e = hierarchical_bootstrap(x, n_boot=n_boot, seed=seed, bounds=(0, 1))
            rows.append({"label": label, "k": int(k), "value": e.value, "lo": e.lo, "hi": e.hi, "n": e.n,
                         "seeds": int(x.shape[0]), "n_samples": n_min})  # fmt: skip
    return pd.DataFrame(rows)


def pass_at_k_difference(final: pd.DataFrame, a: str, b: str, ks: Sequence[int], n_boot: int = 2000,
                         seed: int = 0):
    """Returns an ``Estimate`` of mean_k pass@k(a) - pass@k(b) over ``ks``, paired over problems (bootstrap over
    problems; each arm's seeds averaged per problem first), or None when either arm has no rows."""
    from workbook.metrics import bootstrap_ci

    if not {a, b} <= set(final["label"]):
        return None
    pa, pb = _per_problem_pass(final, a, ks), _per_problem_pass(final, b, ks)
    if pa.shape != pb.shape:
        raise ValueError(f"{a!r} and {b!r} cover different problems ({pa.shape[0]} vs {pb.shape[0]})")
    e = bootstrap_ci((pa - pb).mean(axis=1), n_boot=n_boot, seed=seed)
    return type(e)(e.value, e.lo, e.hi, e.n, f"pass@{list(ks)} {a} - {b}")


def mean_pass_at_k(final: pd.DataFrame, label: str, ks: Sequence[int]) -> float:
    """Returns the mean over problems and ``ks`` of the seed-averaged pass@k of ``label`` (for ranking arms)."""
    return float(_per_problem_pass(final, label, ks).mean())


def paper_ks(n: int) -> list[int]:
    """Returns k = 1, 2, 4, ..., up to n (``calculate_metrics.py``'s grid), plus n itself if not a power of two."""
    ks = [2 ** i for i in range(int(math.log2(n)) + 1)] if n >= 1 else []
    return ks + ([n] if ks and ks[-1] != n else [])


def pass_at_k_frame(final: pd.DataFrame, ks: Sequence[int]) -> pd.DataFrame:
    """Returns one row per (label, seed, problem_id, k) with the unbiased ``pass_at_k`` of that problem: the tidy
    frame ``workbook.plotting.band`` draws with a seeds × problems interval."""
    from workbook.metrics import pass_at_k_curve

    curve = pass_at_k_curve(final["n_correct"].to_numpy(), final["n"].to_numpy(), list(ks))
    wide = pd.DataFrame(curve, columns=list(ks)).assign(**{c: final[c].to_numpy()
                                                          for c in ("label", "seed", "problem_id")})
    return wide.melt(id_vars=["label", "seed", "problem_id"], var_name="k", value_name="pass_at_k")
