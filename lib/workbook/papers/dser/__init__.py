"""Deep Self-Evolving Reasoning (DSER): Liu, Zheng, Wen et al., arXiv 2510.17498 (2025).

``theory``: the two-state Markov chain (π_C = p_IC / (p_IC + p_CI),
P_n(C) = π_C + (P_0 − π_C)(1 − p_IC − p_CI)^n), its estimators, simulation and voting (Figure 1: majority vote
over the last ten iterations of parallel chains).
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
from workbook.papers.dser.sweep import (
    Arm, ArmResult, Calibration, calibration, chain_rates, equal_compute_k, make_arms, most_distinct,
    noisy_oracle_verifier, rates_by_iteration, rates_by_verdict, run_arm, stratified_pool, sweep_table, worst_arm,
)
from workbook.papers.dser.theory import (
    BetaPrior, OneStep, TransitionCounts, binomial_majority_accuracy, bootstrap_rates, estimate_rates, majority_vote,
    one_step_prediction, per_problem_rates, shrunk_rates, simulate_chains, simulated_vote_correct,
    stationary_accuracy, transient_accuracy, transition_counts, transition_matrix, vote_across_chains, vote_last,
    wilson_interval,
)
from workbook.reporting import untestable

__all__ = [
    "PROMPTS", "Arm", "ArmResult", "BetaPrior", "Calibration", "DSERConfig", "DSERPrompts", "DSERRun",
    "TransitionCounts", "OneStep", "calibration", "chain_rates", "equal_compute_k", "make_arms", "most_distinct",
    "noisy_oracle_verifier", "rates_by_iteration", "rates_by_verdict", "run_arm", "stratified_pool", "sweep_table",
    "theory_checks", "worst_arm",
    "binomial_majority_accuracy", "bootstrap_rates", "chat_prompts", "estimate_rates", "estimate_run_tokens",
    "hardest", "majority_vote", "one_step_prediction", "per_problem_rates", "plan",
    "reproduced", "run_dser", "shrunk_rates", "simulate_chains", "simulated_vote_correct", "stationary_accuracy",
    "strip_reasoning", "theory_votes", "toy_prompts", "transient_accuracy", "transition_counts",
    "transition_matrix", "validate", "vote_across_chains", "vote_last", "wilson_interval",
]


#: The paper's chain length and vote window (Figure 1: about 80 iterations, a vote over the last ten).
PAPER_ITERATIONS, PAPER_WINDOW = 80, 10


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
    eps = list(params.get("verifier_eps") or [])
    if any(not 0.0 <= float(e) <= 0.5 for e in eps):
        raise ParameterError(f"dser: verifier_eps must lie in [0, 0.5] (0.5 is a coin), got {eps}")
    if eps and not str(params.get("model", "")).startswith("toy-reasoner"):
        raise ParameterError("dser: the noisy-oracle verifier (verifier_eps) exists only for the toy reasoner's step "
                             "format; set verifier_eps: [] for other models")


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the token plan (upper bounds) and the named deviations from the paper's chain length and window.

    Per arm (one per ``verifier_eps`` plus the model's own verifier): one verify+refine step per pool solution,
    then the chains (one solve shared by all arms; per iteration a refinement, and a verification when the model
    verifies itself). Then the base model's equal-compute samples (as many tokens per problem as the own-verifier
    chains, at most ``max_k_equal`` samples). ``deviations`` names each departure from the paper's ~80 iterations
    and window of ten, with the tokens the paper's setting would cost instead.
    """
    (n_problems, benchmarks, n_base, n_hard, n_pool, n_chains, n_iterations, window, tok, tok_v,
     gpu) = require(params, "n_problems benchmarks n_base n_hard n_pool n_chains n_iterations window "
                            "max_new_tokens max_new_tokens_verify gpu_tokens_per_s", "dser")
    n_eps, max_k = len(params.get("verifier_eps") or []), int(params.get("max_k_equal", n_base))
    n_total = n_problems * len(benchmarks)
    n_run = n_hard or n_total

    def chains(t: int) -> int:
        return (estimate_run_tokens(n_run, n_chains, t, tok, tok_v)
                + n_eps * estimate_run_tokens(n_run, n_chains, t, 0, 0, tok))

    k_equal = min(max_k, round(estimate_run_tokens(1, n_chains, n_iterations, tok, tok_v) / tok))
    stages = {"base samples": n_total * n_base * tok,
              "one-step diagnostic": (estimate_run_tokens(n_run, n_pool, 1, 0, tok_v, tok)
                                      + n_eps * estimate_run_tokens(n_run, n_pool, 1, 0, 0, tok)),
              "chains": chains(n_iterations),
              f"equal-compute base samples (k ≈ {k_equal})": n_run * k_equal * tok}
    arms = f"{n_eps} noisy-oracle arms + the own verifier" if n_eps else "the own verifier"
    out = token_plan(stages, gpu, f"{n_run} problems × {n_chains} chains × {n_iterations} iterations × ({arms})")
    out["problems"], out["k_equal"] = n_run, k_equal
    devs = []
    if n_iterations < PAPER_ITERATIONS:
        extra = chains(PAPER_ITERATIONS) - chains(n_iterations)
        devs.append(f"{n_iterations} iterations instead of the paper's ~{PAPER_ITERATIONS}: the paper's length would "
                    f"add ≤ {extra:,} generated tokens"
                    + (f" ≈ {extra / gpu / 3600:.1f} GPU-hours" if gpu else ""))
    if window != PAPER_WINDOW:
        devs.append(f"vote window {window} instead of the paper's {PAPER_WINDOW} (needs ≥ {PAPER_WINDOW - 1} "
                    "iterations; no extra tokens beyond the iterations)")
    if n_hard:
        devs.append(f"chains on the {n_hard} hardest of {n_total} problems: the per-year Pass@1 claims need every "
                    f"problem (n_hard = 0), ≤ {(n_total - n_hard) * (chains(n_iterations) // max(n_run, 1)):,} "
                    "more tokens; until then they read 'not comparable'")
    out["deviations"] = devs
    if devs:
        out["summary"] += "\ndeviations from the paper: " + "; ".join(devs)
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


def theory_checks(sim: np.ndarray, analytic: np.ndarray) -> dict[str, Estimate]:
    """Return the checks D0a (the worked example P_10) and D0b (simulated chains match the analytic mixture).

    D0b is measured in Monte-Carlo standard errors: max over iterations of |simulated − analytic| divided by
    0.5 / √(problems × chains), an upper bound on the standard error of a mean of that many Bernoulli states.
    """
    p10 = float(transient_accuracy(0.05, 0.10, 0.08, 10))
    z = float(np.max(np.abs(sim.mean(axis=(0, 1)) - analytic)) / (0.5 / np.sqrt(sim.shape[0] * sim.shape[1])))
    return {"D0a": Estimate(p10, p10, p10, 1, what="P_10 of the worked example"),
            "D0b": Estimate(z, z, z, int(sim.shape[0]), what="max |simulated − analytic| in standard errors")}


def reproduced(results: Sequence[ArmResult], cals: Sequence[Calibration], p0: np.ndarray, never_solved: np.ndarray,
               base_maj_equal: np.ndarray, window: int, datasets: Sequence[str], checks: Mapping[str, Estimate],
               n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Return the estimate of each claim (None where not measured at this scale); bootstrap over problems.

    ``results``/``cals``: the sweep's arms (`run_arm`, `calibration`); the last arm whose ``arm.is_own`` is DSER
    proper (the model verifies itself), used for D3–D7. ``base_maj_equal``: per problem, the base model's majority
    vote over fresh samples with about the chains' generated tokens (`equal_compute_k`); ``never_solved``: no
    correct answer among the base samples that gave P_0 (a different sample, so regression to the mean favours
    neither side).

    D1: observed − predicted in *every* arm (`worst_arm`, an intersection–union test), the no-dynamics error of
    the arm most able to fail as ``base``. D2: acc(T) − acc(0) on arms whose one-step rates have p̂_IC > p̂_CI
    (per problem, averaged over those arms); D2b the same on arms whose π̂_C lies below the mean P_0 (the law
    predicts decline). D3: DSER vote − base equal-compute vote on never-solved problems; D4: the same on all
    problems; D4b: vote over the last ``window`` iterations of all chains − one chain's last iteration (mean over
    chains), own verifier. D5: share of never-solved problems the DSER vote solves. D6/D7: 100 × (last-iteration
    accuracy − base pass@1) on AIME 2024 / 2025.
    """
    from workbook.reporting import load_reported

    def ci(x: np.ndarray, what: str) -> Estimate:
        return bootstrap_ci(np.asarray(x, float), n_boot=n_boot, seed=seed, what=what)

    d1 = next(c for c in load_reported("dser") if c["id"] == "D1")
    band = (d1["value"] - d1["tolerance"], d1["value"] + d1["tolerance"])
    p0 = np.asarray(p0, float)
    change = np.stack([r.run.correct[:, :, -1].mean(1) - r.run.correct[:, :, 0].mean(1) for r in results])  # (arms, N)
    improving = np.array([r.one.p_ic.value > r.one.p_ci.value for r in results])
    declining = np.array([r.one.pi_c < p0.mean() for r in results])
    vote_gain = np.stack([r.run.vote_correct(window=window) - r.run.correct[:, :, -1].mean(1) for r in results])
    own = [r for r in results if r.arm.is_own]
    out: dict[str, Any] = dict(checks)
    out["D1"] = {"estimate": worst_arm([c.gap for c in cals], band),
                 "base": most_distinct([c.no_dynamics for c in cals], band)}
    out["D2"] = (ci(change[improving].mean(0), "acc(T) − acc(0), arms with p̂_IC > p̂_CI") if improving.any() else
                 untestable("no arm has p̂_IC > p̂_CI (one-step rates), so the guarantee's premise never holds here"))
    out["D2b"] = (ci(change[declining].mean(0), "acc(T) − acc(0), arms with π̂_C < P_0") if declining.any() else
                  untestable("no arm has π̂_C below the starting accuracy, so the law predicts no decline here"))
    out.update({k: None for k in ("D3", "D4", "D4b", "D5", "D6", "D7")})
    if own:
        run = own[-1].run
        vote, never = run.vote_correct(window=window), np.asarray(never_solved, bool)
        out["D4"] = ci(vote - base_maj_equal, "DSER vote − base vote at equal tokens")
        out["D4b"] = ci(vote_gain[[r.arm.is_own for r in results]][-1], "DSER vote − one chain's last iteration")
        out["D3"] = (ci((vote - base_maj_equal)[never], "never-solved: DSER vote − base vote at equal tokens")
                     if never.any() else untestable("the base model solved every problem at least once"))
        out["D5"] = ci(vote[never], "never-solved problems solved") if never.any() else out["D3"]
        obs_t = run.correct[:, :, -1].mean(1)
        for claim_id, bench in (("D6", "aime24"), ("D7", "aime25")):
            rows = np.asarray(datasets) == bench
            out[claim_id] = ci(100 * (obs_t[rows] - p0[rows]), f"{bench}: pass@1 points") if rows.any() else None
    return out


def toy_prompts(tokenizer) -> DSERPrompts:
    """Return the toy reasoner's own solve/verify/refine formats (``workbook.toy``), which it was trained on."""
    from workbook import toy

    return DSERPrompts(solve=lambda q: toy.solve_prompt(tokenizer, q),
                       verify=lambda q, s: toy.verify_prompt(tokenizer, q, s),
                       refine=lambda q, s, r: toy.refine_prompt(tokenizer, q, s, r))
