"""Self-Improvement in Language Models: The Sharpening Mechanism (Huang, Block, Foster et al., arXiv 2412.01951).

``tabular``: the theory, exactly, on an enumerable model (Prop. 3.1, Prop. C.1, C_cov of Thm 4.1, the RLHF optimum).
``selection``: self-rewards, best-of-N selectors and curves (Sec. 5; self-certainty and Borda of Kang et al. 2025).
``lora_sft``: SFT-sharpening with LoRA (Sec. 4.1). This module: the cost plan, parameter checks and the tables the
notebook shows. The mapping from the paper to this code is in ``docs/papers/sharpening.md``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci
from workbook.papers import require, token_plan
from workbook.papers.sharpening.lora_sft import (
    LoRASFTConfig, SFTResult, sft_sharpen, sft_sharpening_examples, train_lora_sft,
)
from workbook.papers.sharpening.selection import (
    ONE_SHOT, SELECTORS, BoNCurve, base_loglik, bon_curve, bootstrap_percent_lift, borda_power, choose,
    coverage_curve, length_normalized_logp, one_shot_prompt, percent_lift, select_borda, select_majority,
    select_max_score, selection_auroc, self_rewards, sequence_logp,
)
from workbook.papers.sharpening.tabular import (
    TabularModel, best_sequences, bon_samples_needed, bon_success_probability, coverage_coefficient,
    greedy_sequences, prefix_offset, random_tabular_model, rlhf_sharpened, sample_sequences, sequence_probabilities,
    sft_sharpen_tabular, simulate_bon_success,
)

__all__ = [
    "ONE_SHOT", "SELECTORS", "BoNCurve", "LoRASFTConfig", "SFTResult", "TabularModel", "base_loglik",
    "best_sequences", "bon_curve", "bon_samples_needed", "bon_success_probability", "bon_table",
    "bootstrap_percent_lift", "borda_power", "choose", "coverage_coefficient", "coverage_curve", "difficulty_table",
    "greedy_sequences", "length_normalized_logp", "load_problems", "one_shot_prompt", "percent_lift", "plan",
    "prefix_offset", "random_tabular_model", "reproduced", "rlhf_sharpened", "sample_sequences", "select_borda",
    "select_majority", "select_max_score", "selection_auroc", "self_rewards", "sequence_logp",
    "sequence_probabilities", "sft_sharpen", "sft_sharpen_tabular", "sft_sharpening_examples", "sft_table",
    "simulate_bon_success", "tabular_summary", "train_lora_sft", "validate",
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
    if params.get("min_operands", 1) > params.get("max_operands", 1):
        raise ParameterError("sharpening: min_operands must not exceed max_operands")


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the token plan: M samples per evaluation problem, greedy before/after per seed, and the SFT samples."""
    n_problems, n_samples, tok, seeds, sft_problems, sft_n, gpu = require(
        params, "n_problems n_samples max_new_tokens sft_seeds sft_problems sft_n gpu_tokens_per_s", "sharpening")
    stages = {"evaluation samples": n_problems * n_samples * tok,
              "greedy (before + after per seed)": n_problems * tok * (1 + len(seeds)),
              "SFT samples": len(seeds) * sft_problems * sft_n * tok}
    what = (f"{n_problems} problems × {n_samples} samples; SFT-sharpening on {sft_problems} prompts × {sft_n} samples "
            f"× {len(seeds)} seeds")
    return token_plan(stages, gpu, what)


def tabular_summary(model: TabularModel, rho: float) -> tuple[pd.DataFrame, dict[str, float]]:
    """Return the exact checks of Prop. 3.1, Prop. C.1 and C_cov on ``model`` as a table and as numbers."""
    y_star, pi_star = best_sequences(model)
    greedy_ok = greedy_sequences(model) == y_star
    confident = pi_star > 0.5
    n_needed = bon_samples_needed(pi_star, rho)
    nums = {"prompts": len(pi_star), "confident": int(confident.sum()),
            "greedy_ok_confident": float(greedy_ok[confident].mean()),
            "greedy_ok_unconfident": float(greedy_ok[~confident].mean()),
            "c_cov": float(coverage_coefficient(pi_star)), "median_n_at_bound": float(np.median(n_needed)),
            "min_success_at_bound": float(bon_success_probability(pi_star, n_needed).min())}
    labels = {"prompts": "prompts", "confident": "prompts with π* > 1/2",
              "greedy_ok_confident": "greedy = y* among π* > 1/2 (Prop. 3.1)",
              "greedy_ok_unconfident": "greedy = y* among π* ≤ 1/2", "c_cov": "C_cov = E[1/π*]",
              "median_n_at_bound": f"median N at the bound, ρ = {rho}",
              "min_success_at_bound": "min over prompts of P(BoN = y*) at the bound (Prop. C.1: ≥ 1 − ρ)"}
    return pd.DataFrame([{"quantity": labels[k], "value": v} for k, v in nums.items()]), nums


def bon_table(curves: Mapping[str, BoNCurve], greedy_accuracy: float, seed: int = 0) -> pd.DataFrame:
    """Return per selector and N: accuracy with a 95% CI over subsampling seeds and the % lift over greedy."""
    rows = []
    for sel, curve in curves.items():
        for n, est in zip(curve.ns, curve.estimates(over="seeds", seed=seed)):
            rows.append({"selector": sel, "N": n, "accuracy": est.value, "lo": est.lo, "hi": est.hi,
                         "% lift over greedy": float(percent_lift(est.value, greedy_accuracy))})
    return pd.DataFrame(rows)


def difficulty_table(curves: Mapping[str, BoNCurve], correct: np.ndarray, greedy_correct: np.ndarray,
                     level: np.ndarray) -> pd.DataFrame:
    """Return the BoN curves split by problem difficulty (``level`` per problem), with greedy and coverage."""
    rows = []
    for lv in sorted(set(np.asarray(level).tolist())):
        sel_rows = np.asarray(level) == lv
        for sel, curve in curves.items():
            rows.append({"difficulty": lv, "selector": sel, "problems": int(sel_rows.sum()),
                         "greedy": greedy_correct[sel_rows].mean(),
                         **{f"N={n}": curve.per_problem[:, sel_rows, j].mean() for j, n in enumerate(curve.ns)},
                         f"coverage N={curve.ns[-1]}": float(correct[sel_rows].any(1).mean())})
    return pd.DataFrame(rows)


def sft_table(sft: SFTResult, greedy_correct: np.ndarray, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Return greedy accuracy before/after SFT-sharpening, its % lift and the gain in log π_base (bootstrap CIs)."""
    lift = bootstrap_percent_lift(sft.correct_after, greedy_correct, n_boot=n_boot, seed=seed)
    gain = bootstrap_ci(sft.loglik_after - sft.loglik_before[:, None], n_boot=n_boot, seed=seed,
                        what="Δ log π_base(greedy)")
    return pd.DataFrame([
        {"quantity": "greedy accuracy before", "value": greedy_correct.mean(), "lo": np.nan, "hi": np.nan},
        {"quantity": "greedy accuracy after (mean over seeds)", "value": sft.correct_after.mean(), "lo": np.nan,
         "hi": np.nan},
        {"quantity": "% lift in accuracy", "value": lift.value, "lo": lift.lo, "hi": lift.hi},
        {"quantity": "Δ log π_base of the greedy response (nats)", "value": gain.value, "lo": gain.lo, "hi": gain.hi},
    ])


def reproduced(curves: Mapping[str, BoNCurve], greedy_correct: np.ndarray, sft: SFTResult, tab: Mapping[str, float],
               on_paper_setting: bool, n_boot: int = 2000, seed: int = 0) -> dict[str, Estimate | None]:
    """Return the estimate of each claim S1–S5, S8, S9 (None where not tested); bootstrap 95% CIs over problems.

    S1: BoN-by-log-likelihood at N = 16 − greedy; S2: BoN at the largest N − at N = 16; S3: greedy after SFT − before;
    S4/S5: % lift in accuracy / in base log-likelihood (Table 1; only on the paper's setting); S8/S9: exact tabular
    values (Prop. 3.1, Prop. C.1), whose interval is the point.
    """
    def ci(x: np.ndarray) -> Estimate:
        return bootstrap_ci(x, n_boot=n_boot, seed=seed)

    def exact(x: float, n: int) -> Estimate:
        return Estimate(float(x), float(x), float(x), int(n), "exact")

    logp = curves.get("logp")
    j16 = logp.ns.index(16) if logp is not None and 16 in logp.ns else None
    at = (lambda j: logp.per_problem[:, :, j].mean(0)) if j16 is not None else None
    ll_pct = bootstrap_percent_lift(-sft.loglik_after, -sft.loglik_before, n_boot=n_boot, seed=seed)
    return {
        "S1": ci(at(j16) - greedy_correct) if at else None,
        "S2": ci(at(-1) - at(j16)) if at else None,
        "S3": ci(sft.correct_after - greedy_correct[:, None]),
        "S4": bootstrap_percent_lift(sft.correct_after, greedy_correct, n_boot=n_boot, seed=seed)
        if on_paper_setting else None,
        "S5": Estimate(-ll_pct.value, -ll_pct.hi, -ll_pct.lo, ll_pct.n, "% lift in base log-likelihood")
        if on_paper_setting else None,
        "S8": exact(tab["greedy_ok_confident"], tab["confident"]),
        "S9": exact(tab["min_success_at_bound"], tab["prompts"]),
    }


def load_problems(dataset: str, n: int, split: str, seed: int, *, min_operands: int = 2, max_operands: int = 4,
                  integer_answers_only: bool = False, skip: int = 0) -> list:
    """Return ``n`` problems: fresh synthetic arithmetic of ``split``, or a benchmark's (after ``skip`` for train).

    For a benchmark the training problems (``split="train"``) are taken after the ``skip`` evaluation problems, so the
    two sets are disjoint. ``integer_answers_only`` keeps problems with integer answers (the paper's MATH filter).
    """
    from workbook.data import load_benchmark
    from workbook.data.synthetic import ArithmeticSpec, generate_problems
    from workbook.params import ParameterError

    if dataset == "synthetic":
        return generate_problems(n, seed=seed, spec=ArithmeticSpec(n_operands=max_operands, min_operands=min_operands),
                                 split=split)
    probs = load_benchmark(dataset)
    if integer_answers_only:
        probs = [p for p in probs if p.answer.strip().lstrip("-").isdigit()]
    start = 0 if split == "test" else skip
    if split != "test" and len(probs) <= skip:
        raise ParameterError(f"{dataset}: no problems left for SFT after the {skip} evaluation problems; "
                             "set sft_on_eval_prompts = True")
    return probs[start:start + n]
