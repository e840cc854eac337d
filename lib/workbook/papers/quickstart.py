"""Quickstart: sample, grade and estimate pass@k with confidence intervals — the workbook's measurement loop.

The claim it checks is the one behind "Large Language Monkeys" (Brown et al. 2024, arXiv 2407.21787): coverage
(pass@k) grows with the number of samples k. pass@k is the unbiased estimator of Chen et al. 2021 (arXiv 2107.03374,
Eq. 1), averaged over problems; intervals are a bootstrap over problems. Sampling and grading go through
``workbook.evaluation.sample_and_grade``; see ``docs/papers/quickstart.md``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci
from workbook.papers import require, token_plan
from workbook.reporting.verdicts import Untestable, untestable

__all__ = ["HARD", "load_problems", "plan", "reproduced", "validate"]

#: Dataset name of the hard arithmetic tier (more operands than the ordinary synthetic problems).
HARD = "synthetic-hard"


def validate(params: Mapping[str, Any]) -> None:
    """Raise ParameterError when ``ks`` is empty, unsorted or exceeds ``n``, no problem set is requested, or
    ``hard_operands`` is not an increasing pair above 1 (before any model loads)."""
    from workbook.params import ParameterError

    n, ks = require(params, "n ks", "quickstart")
    if not ks or sorted(ks) != list(ks) or min(ks) < 1 or max(ks) > n:
        raise ParameterError(f"quickstart: ks must be increasing values in [1, n={n}], got {ks}")
    sizes = [params.get(k, 0) for k in ("n_problems", "n_synthetic", "n_hard")]
    if not any(sizes):
        raise ParameterError("quickstart: n_problems, n_synthetic and n_hard are all 0: nothing to sample")
    lo_hi = params.get("hard_operands", [5, 6])
    if len(lo_hi) != 2 or not 2 <= lo_hi[0] <= lo_hi[1]:
        raise ParameterError(f"quickstart: hard_operands must be [min, max] with 2 <= min <= max, got {lo_hi}")


def load_problems(params: Mapping[str, Any]) -> list:
    """Return the run's problems: the first ``n_problems`` of ``benchmark``, ``n_synthetic`` synthetic problems
    with 2..``synthetic_max_operands`` operands and ``n_hard`` with ``hard_operands`` operands (dataset
    :data:`HARD`, ids prefixed likewise so the two synthetic sets never share an id). All from the test split,
    seeded by ``seed``; the toy reasoner trains on the train split with 2–4 operands (``docs/toy_world.md``).
    """
    from workbook.data import load_benchmark
    from workbook.data.synthetic import ArithmeticSpec, generate_problems

    bench, n_bench, n_syn, max_ops, seed = require(
        params, "benchmark n_problems n_synthetic synthetic_max_operands seed", "quickstart")
    n_hard = params.get("n_hard", 0)
    lo, hi = params.get("hard_operands", [5, 6])
    problems = load_benchmark(bench, limit=n_bench) if n_bench else []
    problems += generate_problems(n_syn, seed=seed, spec=ArithmeticSpec(n_operands=max_ops, min_operands=2))
    hard = generate_problems(n_hard, seed=seed, spec=ArithmeticSpec(n_operands=hi, min_operands=lo))
    problems += [replace(p, dataset=HARD, problem_id=p.problem_id.replace("synthetic/", f"{HARD}/", 1))
                 for p in hard]
    return problems


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the token plan: ``n`` completions for every benchmark and synthetic problem, each ≤ max_new_tokens."""
    n_problems, n_synthetic, n, tok = require(params, "n_problems n_synthetic n max_new_tokens", "quickstart")
    n_hard = params.get("n_hard", 0)
    stages = {"benchmark samples": n_problems * n * tok, "synthetic samples": n_synthetic * n * tok,
              "hard synthetic samples": n_hard * n * tok}
    return token_plan(stages, params.get("gpu_tokens_per_s"),
                      f"{n_problems} benchmark + {n_synthetic} synthetic + {n_hard} hard synthetic problems "
                      f"× {n} completions")


def reproduced(frame: pd.DataFrame, ks: list[int], benchmark: str = "math500", n_boot: int = 2000,
               seed: int = 0) -> dict[str, Estimate | Untestable]:
    """Return per claim the per-problem pass@k_max − pass@1, averaged over problems, with a bootstrap CI.

    Q1 is measured on ``benchmark`` (MATH-500 by default), Q2 on the synthetic problems, Q3 on the hard tier
    (:data:`HARD`); ``frame`` is a ``sample_and_grade`` frame whose ``dataset`` column says which. A set this run
    did not sample makes its claim `Untestable` (e.g. no MATH problems for the arithmetic-only toy reasoner).
    """
    from workbook.evaluation import per_problem
    from workbook.metrics import pass_at_k_curve

    counts = per_problem(frame)
    out: dict[str, Estimate | Untestable] = {}
    for claim_id, name in (("Q1", benchmark), ("Q2", "synthetic"), ("Q3", HARD)):
        g = counts[counts["dataset"] == name]
        if g.empty:
            out[claim_id] = untestable(f"this run sampled no {name} problems")
            continue
        curve = pass_at_k_curve(g["n_correct"].to_numpy(), g["n"].to_numpy(), [ks[0], ks[-1]])
        out[claim_id] = bootstrap_ci(curve[:, 1] - curve[:, 0], n_boot=n_boot, seed=seed,
                                     what=f"{name}, pass@{ks[-1]} − pass@{ks[0]}")
    return out
