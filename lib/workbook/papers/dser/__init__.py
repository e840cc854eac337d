"""Deep Self-Evolving Reasoning (DSER): Liu, Zheng, Wen et al., arXiv 2510.17498 (2025).

``theory``: the two-state Markov chain (π_C = p_IC / (p_IC + p_CI), P_n(C) = π_C + (P_0 − π_C)(1 − p_IC − p_CI)^n),
its estimators, simulation and voting (Figure 1: majority vote over the last ten iterations of parallel chains).
``loop``: the verify-then-refine loop over a generation backend and our prompts. This module: the cost plan,
parameter checks, and the analyses the notebook shows (base samples, one-step prediction, claims). The mapping from
the paper to this code is in ``docs/papers/dser.md``; the paper has no public code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci
from workbook.papers import require, token_plan
from workbook.papers.dser.loop import (
    PROMPTS, DSERConfig, DSERPrompts, DSERRun, chat_prompts, estimate_run_tokens, run_dser, strip_reasoning,
)
from workbook.papers.dser.theory import (
    BetaPrior, TransitionCounts, binomial_majority_accuracy, bootstrap_rates, estimate_rates, majority_vote,
    per_problem_rates, shrunk_rates, simulate_chains, simulated_vote_correct, stationary_accuracy, transient_accuracy,
    transition_counts, transition_matrix, vote_across_chains, vote_last, wilson_interval,
)
from workbook.reporting import untestable

__all__ = [
    "PROMPTS", "BetaPrior", "DSERConfig", "DSERPrompts", "DSERRun", "TransitionCounts", "OneStep",
    "binomial_majority_accuracy", "bootstrap_rates", "chat_prompts", "estimate_rates", "estimate_run_tokens",
    "accuracy_summary", "hardest", "majority_vote", "one_step_prediction", "per_problem_rates", "plan",
    "reproduced", "run_dser", "shrunk_rates", "simulate_chains", "simulated_vote_correct", "stationary_accuracy",
    "strip_reasoning", "theory_votes", "toy_prompts", "transient_accuracy", "transition_counts",
    "transition_matrix", "validate", "vote_across_chains", "vote_last", "wilson_interval",
]


def validate(params: Mapping[str, Any]) -> None:
    """Raise ParameterError when the DSER parameters contradict each other (before any model loads)."""
    from workbook.params import ParameterError

    n_problems, benchmarks, n_base, n_hard, n_pool, n_iterations, window = require(
        params, "n_problems benchmarks n_base n_hard n_pool n_iterations window", "dser")
    if n_pool > n_base:
        raise ParameterError(f"dser: n_pool ({n_pool}) must not exceed n_base ({n_base})")
    if n_hard > n_problems * len(benchmarks):
        raise ParameterError(f"dser: n_hard ({n_hard}) exceeds the {n_problems * len(benchmarks)} problems")
    if not 1 <= window <= n_iterations + 1:
        raise ParameterError(f"dser: window must lie in [1, n_iterations + 1 = {n_iterations + 1}], got {window}")
    if params.get("min_operands", 1) > params.get("max_operands", 1):
        raise ParameterError("dser: min_operands must not exceed max_operands")


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the token plan: base samples on every problem, the one-step diagnostic and the chains (upper bounds).

    One solve per chain, then per iteration one verification and one refinement per chain; the diagnostic adds one
    verify+refine per pool solution (``workbook.papers.token_plan`` gives the shape).
    """
    (n_problems, benchmarks, n_base, n_hard, n_pool, n_chains, n_iterations, tok, tok_v,
     gpu) = require(params, "n_problems benchmarks n_base n_hard n_pool n_chains n_iterations max_new_tokens "
                            "max_new_tokens_verify gpu_tokens_per_s", "dser")
    n_total = n_problems * len(benchmarks)
    n_run = n_hard or n_total
    stages = {"base samples": n_total * n_base * tok,
              "one-step diagnostic": estimate_run_tokens(n_run, n_pool, 1, 0, tok_v, tok),
              "chains": estimate_run_tokens(n_run, n_chains, n_iterations, tok, tok_v)}
    out = token_plan(stages, gpu, f"{n_run} problems × {n_chains} chains × {n_iterations} iterations")
    out["problems"] = n_run
    return out


def hardest(problems: Sequence, base: pd.DataFrame, n_hard: int) -> tuple[list, pd.DataFrame]:
    """Return the ``n_hard`` problems with the lowest base pass@1 (stable order) and their rows of ``base``.

    ``base`` is a ``workbook.evaluation.sample_and_grade`` frame. ``n_hard = 0`` keeps everything. Selecting on the
    same samples that give P_0 biases P_0 low (regression to the mean favours DSER): the notebook says so.
    """
    if not n_hard:
        return list(problems), base
    rate = base.groupby("problem_id", sort=False)["correct"].mean()
    keep = set(rate.index[np.argsort(rate.to_numpy(), kind="stable")[:n_hard]])
    return [p for p in problems if p.problem_id in keep], base[base["problem_id"].isin(keep)]


def theory_votes(sim: np.ndarray, chains: Sequence[int], window: int, seed: int) -> pd.DataFrame:
    """Return the simulated vote accuracy per number of chains M and number of distinct wrong answers (1 or 4)."""
    return pd.DataFrame([{"chains": m, "wrong answers": w, "vote accuracy":
                          simulated_vote_correct(sim[:, :m], window=window, n_wrong_answers=w, seed=seed).mean()}
                         for m in chains for w in (1, 4)])


@dataclass
class OneStep:
    """The one-step diagnostic: pooled rates (Wilson and bootstrap CIs), shrunk per-problem rates, the prediction."""

    p_ic: Estimate
    p_ci: Estimate
    p_ic_boot: Estimate
    p_ci_boot: Estimate
    pp_ic: np.ndarray          # per problem, shrunk toward the pooled rate
    pp_ci: np.ndarray
    pi_c: float                # pooled stationary accuracy
    predicted: np.ndarray      # (problems, n_iterations + 1): P_n(C) with P_0 = the problem's base pass@1

    def __str__(self) -> str:
        rel = ">" if self.p_ic.value > self.p_ci.value else "<="
        boot = "\n       bootstrap over problems: [{:.3f}, {:.3f}]"
        return (f"p̂_IC = {self.p_ic}" + boot.format(self.p_ic_boot.lo, self.p_ic_boot.hi)
                + f"\np̂_CI = {self.p_ci}" + boot.format(self.p_ci_boot.lo, self.p_ci_boot.hi)
                + f"\npooled prediction: π_C = {self.pi_c:.3f} (p_IC {rel} p_CI)")


def one_step_prediction(states: np.ndarray, p0: np.ndarray, n_iterations: int, prior_strength: float = 2.0,
                        n_boot: int = 2000, seed: int = 0) -> OneStep:
    """Return the rates of one verify+refine step and the accuracy they predict for ``n_iterations`` refinements.

    ``states``: bool (problems, pool, 2) from ``run_dser(..., n_iterations=1)``; ``p0``: base pass@1 per problem.
    The per-problem rates are shrunk toward the pooled rate (``shrunk_rates``; our choice, not the paper's).
    """
    counts = transition_counts(states, per_problem=True)
    p_ic, p_ci = estimate_rates(counts)
    p_ic_boot, p_ci_boot = bootstrap_rates(states, n_boot=n_boot, seed=seed)
    pp_ic, pp_ci = shrunk_rates(counts, prior_strength=prior_strength)
    pi_c = stationary_accuracy(p_ic.value, p_ci.value) if p_ic.value + p_ci.value > 0 else float("nan")
    predicted = transient_accuracy(np.asarray(p0)[:, None], pp_ic[:, None], pp_ci[:, None],
                                   np.arange(n_iterations + 1)[None])
    return OneStep(p_ic, p_ci, p_ic_boot, p_ci_boot, pp_ic, pp_ci, pi_c, predicted)


def reproduced(run: DSERRun, one: OneStep, p0: np.ndarray, base_maj: np.ndarray, window: int, datasets: Sequence[str],
               n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Return the estimate of each claim D1–D7 (None where not tested at this scale); bootstrap over problems.

    D1: mean over iterations 1..T of observed − predicted accuracy, given with the no-dynamics prediction's error
    (observed − P_0, accuracy staying at the base pass@1) as ``base``, so the verdict can exclude it; D2: acc(T) −
    acc(0) on problems whose shrunk one-step rates say p̃_IC > p̃_CI (``untestable`` when there is none); D3 = D5: share of never-solved problems the vote solves; D4: vote − base maj@k;
    D6/D7: 100 × (last-iteration accuracy − base pass@1) on AIME 2024 / 2025.
    """
    def ci(x: np.ndarray, what: str) -> Estimate:
        return bootstrap_ci(x, n_boot=n_boot, seed=seed, what=what)

    obs = run.correct.mean(1)
    vote = run.vote_correct(window=window)
    improving, never = one.pp_ic > one.pp_ci, np.asarray(p0) == 0
    out: dict[str, Any] = {
        "D1": {"estimate": ci((obs - one.predicted)[:, 1:].mean(1), "observed − predicted"),
               "base": ci((obs - np.asarray(p0)[:, None])[:, 1:].mean(1), "observed − P_0 (no dynamics)")},
        "D2": ci((obs[:, -1] - obs[:, 0])[improving], "acc(T) − acc(0), problems with p̃_IC > p̃_CI")
        if improving.any() else untestable("no problem has p̂_IC > p̂_CI (shrunk one-step rates), so the "
                                           "guarantee's premise never holds in this run"),
        "D3": ci(vote[never], "never-solved problems solved") if never.any() else None,
        "D4": ci(vote - base_maj, "DSER vote − base maj@k"),
    }
    out["D5"] = out["D3"]
    for claim_id, bench in (("D6", "aime24"), ("D7", "aime25")):
        rows = np.asarray(datasets) == bench
        out[claim_id] = ci(100 * (obs[rows, -1] - p0[rows]), f"{bench}: pass@1 points") if rows.any() else None
    return out


def toy_prompts(tokenizer) -> DSERPrompts:
    """Return the toy reasoner's own solve/verify/refine formats (``workbook.toy``), which it was trained on."""
    from workbook import toy

    return DSERPrompts(solve=lambda q: toy.solve_prompt(tokenizer, q),
                       verify=lambda q, s: toy.verify_prompt(tokenizer, q, s),
                       refine=lambda q, s, r: toy.refine_prompt(tokenizer, q, s, r))


def accuracy_summary(run: DSERRun, base_correct: np.ndarray, base_maj: np.ndarray, k_equal: int,
                     window: int) -> pd.DataFrame:
    """Return base pass@1, base maj@k (≈ equal tokens), DSER's last iteration and DSER's vote, one row each."""
    n_problems, n_base = base_correct.shape
    capped = "" if k_equal < n_base else ", capped at n_base"
    return pd.DataFrame([
        {"method": "base pass@1", "accuracy": base_correct.mean(), "n": f"{n_problems} × {n_base}"},
        {"method": f"base maj@{k_equal} (≈ equal tokens{capped})", "accuracy": base_maj.mean(), "n": f"{n_problems}"},
        {"method": "DSER last iteration (mean over chains)", "accuracy": run.correct[:, :, -1].mean(),
         "n": f"{n_problems} × {run.correct.shape[1]}"},
        {"method": f"DSER vote, last {window} iterations × {run.correct.shape[1]} chains",
         "accuracy": run.vote_correct(window=window).mean(), "n": f"{n_problems}"},
    ])
