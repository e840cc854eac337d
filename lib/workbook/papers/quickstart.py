"""Quickstart: sample, grade and estimate pass@k with confidence intervals — the workbook's measurement loop.

The claim it checks is the one behind "Large Language Monkeys" (Brown et al. 2024, arXiv 2407.21787): coverage
(pass@k) grows with the number of samples k. pass@k is the unbiased estimator of Chen et al. 2021 (arXiv 2107.03374,
Eq. 1), averaged over problems; intervals are a bootstrap over problems. Sampling and grading go through
``workbook.evaluation.sample_and_grade``; see ``docs/papers/quickstart.md``.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci
from workbook.papers import require, token_plan

__all__ = ["plan", "reproduced", "validate"]

def validate(params: Mapping[str, Any]) -> None:
    """Raise ParameterError when ``ks`` is empty, unsorted or exceeds ``n`` (before any model loads)."""
    from workbook.params import ParameterError

    n, ks = require(params, "n ks", "quickstart")
    if not ks or sorted(ks) != list(ks) or min(ks) < 1 or max(ks) > n:
        raise ParameterError(f"quickstart: ks must be increasing values in [1, n={n}], got {ks}")


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the token plan: ``n`` completions for every MATH-500 and synthetic problem, each ≤ max_new_tokens."""
    n_problems, n_synthetic, n, tok = require(params, "n_problems n_synthetic n max_new_tokens", "quickstart")
    stages = {"benchmark samples": n_problems * n * tok, "synthetic samples": n_synthetic * n * tok}
    return token_plan(stages, params.get("gpu_tokens_per_s"),
                      f"{n_problems} benchmark + {n_synthetic} synthetic problems × {n} completions")


def reproduced(frame: pd.DataFrame, ks: list[int], benchmark: str = "math500", n_boot: int = 2000,
               seed: int = 0) -> dict[str, Estimate | None]:
    """Return per claim the per-problem pass@k_max − pass@1, averaged over problems, with a bootstrap CI.

    Q1 is measured on ``benchmark`` (MATH-500 by default), Q2 on the synthetic problems; ``frame`` is a
    ``sample_and_grade`` frame whose ``dataset`` column says which.
    """
    from workbook.evaluation import per_problem
    from workbook.metrics import pass_at_k_curve

    counts = per_problem(frame)
    out: dict[str, Estimate | None] = {}
    for claim_id, name in (("Q1", benchmark), ("Q2", "synthetic")):
        g = counts[counts["dataset"] == name]
        if g.empty:
            out[claim_id] = None
            continue
        curve = pass_at_k_curve(g["n_correct"].to_numpy(), g["n"].to_numpy(), [ks[0], ks[-1]])
        out[claim_id] = bootstrap_ci(curve[:, 1] - curve[:, 0], n_boot=n_boot, seed=seed,
                                     what=f"{name}, pass@{ks[-1]} − pass@{ks[0]}")
    return out
