"""Self-Improvement in Language Models: The Sharpening Mechanism (Huang, Block, Foster et al., arXiv 2412.01951).

``tabular``: the theory, exactly, on an enumerable model (Prop. 3.1, Prop. C.1, C_cov of Thm 4.1, the RLHF optimum).
``selection``: self-rewards, best-of-N selectors and curves (Sec. 5; self-certainty and Borda of Kang et al. 2025).
``lora_sft``: SFT-sharpening with LoRA (Sec. 4.1). ``regimes``: the theory's quantities (π̂(y*|x), greedy = y*, BoN
against coverage, SFT before/after) on a real model in a non-sharp regime and a sharp control. This module: the cost plan, parameter checks and the tables the
notebook shows. The mapping from the paper to this code is in ``docs/papers/sharpening.md``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci, hierarchical_difference
from workbook.papers import require, token_plan
from workbook.papers.sharpening.lora_sft import (
    LoRASFTConfig, SFTResult, sft_sharpen, sft_sharpening_examples, train_lora_sft,
)
from workbook.papers.sharpening.regimes import (
    RegimeSamples, measure_regime, regime_metrics, regime_rows, regime_table, theory_bon_curve,
)
from workbook.papers.sharpening.selection import (
    ONE_SHOT, SELECTORS, BoNCurve, base_loglik, bon_curve, bootstrap_percent_lift, borda_power, choose,
    coverage_curve, length_normalized_logp, one_shot_prompt, percent_lift, select_borda, select_majority,
    select_max_score, selection_auroc, self_rewards, sequence_logp,
)
from workbook.papers.sharpening.tabular import (
    TabularModel, best_sequences, bon_samples_needed, bon_success_probability, coverage_coefficient,
    greedy_sequences, prefix_offset, random_tabular_model, rlhf_sharpened, sample_sequences, sequence_probabilities,
    sft_sharpen_tabular, simulate_bon_success, simulate_bon_success_at,
)

__all__ = [
    "ONE_SHOT", "SELECTORS", "BoNCurve", "LoRASFTConfig", "RegimeSamples", "SFTResult", "TabularModel", "base_loglik",
    "measure_regime", "regime_metrics", "regime_rows", "regime_table", "theory_bon_curve",
    "best_sequences", "bon_curve", "bon_samples_needed", "bon_success_probability", "bon_table",
    "bootstrap_percent_lift", "borda_power", "choose", "coverage_coefficient", "coverage_curve",
    "greedy_sequences", "length_normalized_logp", "one_shot_prompt", "percent_lift", "plan", "pool_filter",
    "prefix_offset", "random_tabular_model", "reproduced", "rlhf_sharpened", "sample_sequences", "select_borda",
    "select_majority", "select_max_score", "selection_auroc", "self_rewards", "sequence_logp",
    "sequence_probabilities", "sft_sharpen", "sft_sharpen_tabular", "sft_sharpening_examples",
    "simulate_bon_success", "simulate_bon_success_at", "tabular_summary", "train_lora_sft", "validate",
]


def validate(params: Mapping[str, Any]) -> None:
    """Raise ParameterError when the sharpening parameters contradict each other (before any model loads)."""
    from workbook.params import ParameterError

    ns, n_samples, selectors = require(params, "ns n_samples selectors", "sharpening")
    if not ns or max(ns) > n_samples or min(ns) < 1:
        raise ParameterError(f"sharpening: ns must lie in [1, n_samples={n_samples}], got {ns}")
    bad = sorted(set(selectors) - set(SELECTORS))
    if bad:
        raise ParameterError(f"sharpening: unknown selectors {bad}; valid: {', '.join(SELECTORS)}")
    if params.get("problem_pool", "all") not in ("all", "guess_prone"):
        raise ParameterError(f"sharpening: problem_pool must be 'all' or 'guess_prone', got {params['problem_pool']!r}")
    if params.get("problem_pool") == "guess_prone" and params.get("dataset", "synthetic") != "synthetic":
        raise ParameterError("sharpening: problem_pool 'guess_prone' exists only in the synthetic toy world")
    if params.get("min_operands", 1) > params.get("max_operands", 1):
        raise ParameterError("sharpening: min_operands must not exceed max_operands")


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the token plan per regime (treatment and, if any, control): M samples and greedy per evaluation
    problem, then per SFT seed the training samples, greedy and ``sft_eval_n`` samples after sharpening."""
    n_problems, n_samples, tok, seeds, sft_problems, sft_n, gpu = require(
        params, "n_problems n_samples max_new_tokens sft_seeds sft_problems sft_n gpu_tokens_per_s", "sharpening")
    arms = 2 if params.get("control_model") else 1
    after = int(params.get("sft_eval_n", 0))
    stages = {"evaluation samples": arms * n_problems * n_samples * tok,
              "greedy (before + after per seed)": arms * n_problems * tok * (1 + len(seeds)),
              "samples after SFT": arms * len(seeds) * n_problems * after * tok,
              "SFT samples": arms * len(seeds) * sft_problems * sft_n * tok}
    what = (f"{arms} regime(s) × {n_problems} problems × {n_samples} samples; SFT-sharpening on {sft_problems} prompts"
            f" × {sft_n} samples × {len(seeds)} seeds")
    return token_plan(stages, gpu, what)


def tabular_summary(model: TabularModel, rho: float, mc_trials: int = 200, seed: int = 0
                    ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Return the exact checks of Prop. 3.1, Prop. C.1 and C_cov on ``model`` as a table and as numbers.

    Beside Prop. C.1's closed form 1 − (1 − π*)^N at the bound's N, a Monte-Carlo run (``mc_trials`` BoN draws per
    prompt: sample N, keep the most likely, compare with y*) gives the mean success over prompts.
    """
    y_star, pi_star = best_sequences(model)
    greedy_ok = greedy_sequences(model) == y_star
    confident = pi_star > 0.5
    n_needed = bon_samples_needed(pi_star, rho)
    nums = {"prompts": len(pi_star), "confident": int(confident.sum()),
            "greedy_ok_confident": float(greedy_ok[confident].mean()),
            "greedy_ok_unconfident": float(greedy_ok[~confident].mean()),
            "c_cov": float(coverage_coefficient(pi_star)), "median_n_at_bound": float(np.median(n_needed)),
            "min_success_at_bound": float(bon_success_probability(pi_star, n_needed).min()),
            "mean_success_at_bound": float(bon_success_probability(pi_star, n_needed).mean()),
            "mc_mean_success_at_bound": float(simulate_bon_success_at(model, n_needed, mc_trials, seed).mean()),
            "mc_trials": mc_trials}
    labels = {"prompts": "prompts", "confident": "prompts with π* > 1/2",
              "greedy_ok_confident": "greedy = y* among π* > 1/2 (Prop. 3.1)",
              "greedy_ok_unconfident": "greedy = y* among π* ≤ 1/2", "c_cov": "C_cov = E[1/π*]",
              "median_n_at_bound": f"median N at the bound, ρ = {rho}",
              "min_success_at_bound": "min over prompts of P(BoN = y*) at the bound, closed form (Prop. C.1: ≥ 1 − ρ)",
              "mean_success_at_bound": "mean over prompts of P(BoN = y*) at the bound, closed form",
              "mc_mean_success_at_bound": "mean over prompts of P(BoN = y*) at the bound, Monte Carlo",
              "mc_trials": "Monte-Carlo BoN draws per prompt"}
    return pd.DataFrame([{"quantity": labels[k], "value": v} for k, v in nums.items()]), nums


def bon_table(curves: Mapping[str, BoNCurve], greedy_accuracy: float, seed: int = 0) -> pd.DataFrame:
    """Return per selector and N: accuracy with a 95% CI over subsampling seeds and the % lift over greedy."""
    rows = []
    for sel, curve in curves.items():
        for n, est in zip(curve.ns, curve.estimates(over="seeds", seed=seed)):
            rows.append({"selector": sel, "N": n, "accuracy": est.value, "lo": est.lo, "hi": est.hi,
                         "% lift over greedy": float(percent_lift(est.value, greedy_accuracy))})
    return pd.DataFrame(rows)


def reproduced(regime: RegimeSamples, tab: Mapping[str, float], on_paper_setting: bool, n_boot: int = 2000,
               seed: int = 0) -> dict[str, Estimate | None]:
    """Return the estimate of each claim (None where not tested) from the treatment ``regime`` and the tabular check.

    S1: BoN-by-log-likelihood at N = 16 − greedy (per problem, subsampling seeds averaged; bootstrap over problems);
    S2: BoN at the largest N − at N = 16; S3: greedy accuracy after SFT − before and S10: π̂(ŷ*|x) after − before
    (seeds × problems, `hierarchical_difference`); S4: % lift in accuracy (Table 1; paper setting only);
    S8, S9, S9mc: the tabular checks (Prop. 3.1; Prop. C.1 closed form and Monte Carlo), whose interval is the point.
    """
    def ci(x: np.ndarray) -> Estimate:
        return bootstrap_ci(x, n_boot=n_boot, seed=seed)

    def exact(x: float, n: int) -> Estimate:
        return Estimate(float(x), float(x), float(x), int(n), "exact")

    logp, sft, g = regime.curves.get("logp"), regime.sft, regime.greedy_correct
    j16 = logp.ns.index(16) if logp is not None and 16 in logp.ns else None
    at = (lambda j: logp.per_problem[:, :, j].mean(0)) if j16 is not None else None
    diff = (lambda a, b: hierarchical_difference(a, b, n_boot=n_boot, seed=seed))  # noqa: E731
    return {
        "S1": ci(at(j16) - g) if at else None,
        "S2": ci(at(-1) - at(j16)) if at else None,
        "S3": diff(sft.correct_after.T, g) if sft is not None else None,
        "S10": diff(sft.pi_star_after.T, regime.pi_star) if sft is not None and sft.pi_star_after is not None
        else None,
        "S4": bootstrap_percent_lift(sft.correct_after, g, n_boot=n_boot, seed=seed)
        if on_paper_setting and sft is not None else None,
        "S8": exact(tab["greedy_ok_confident"], tab["confident"]),
        "S9": exact(tab["min_success_at_bound"], tab["prompts"]),
        "S9mc": exact(tab["mc_mean_success_at_bound"], tab["prompts"]),
    }


def pool_filter(pool: str):
    """Return the ``where`` filter of `workbook.data.load_problems` for a synthetic ``problem_pool``.

    ``"all"``: None (every problem); ``"guess_prone"``: the toy world's guess-prone problems
    (``workbook.toy.world.is_guess_prone``: first operand ≥ the knob's threshold), the regime where the toy reasoner
    is not sharp. Raises ``ParameterError`` for any other name.
    """
    from workbook.params import ParameterError

    if pool == "all":
        return None
    if pool == "guess_prone":
        from workbook.toy.world import is_guess_prone

        return lambda p: is_guess_prone(p.problem)
    raise ParameterError(f"problem_pool must be 'all' or 'guess_prone', got {pool!r}")
