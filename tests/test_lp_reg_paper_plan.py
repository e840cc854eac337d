"""The Lp-Reg notebook's profiles resolve; the paper profile prints its plan without a GPU (no model is loaded)."""

import sys

import pytest

from workbook.params import notebook_defaults, resolve_params
from workbook.reporting import load_reported, reported_vs_reproduced
from workbook.rl import experiments as ex


def test_paper_recipe_parameter_is_the_specs_qwen3_14b_recipe():
    recipe = notebook_defaults("lp_reg")["paper_recipe"]
    assert recipe["model"] == "qwen3-14b-base" and recipe["prompts_per_step"] == 256
    assert recipe["num_generations"] == 8 and recipe["max_completion_length"] == 8192
    assert recipe["temperature"] == 1.0 and recipe["kappa"] == 0.02 and recipe["rho"] == 0.01
    assert recipe["lp_reg_coef"] == 1.0 and (recipe["clip_low"], recipe["clip_high"]) == (1.0, 9.0)


def test_paper_profile_resolves_to_the_one_gpu_variant():
    params, runner = resolve_params("lp_reg", "paper")
    assert params["profile"] == "paper" and params["model"] == "qwen3-1.7b-base"
    assert params["kappa"] == 0.02 and params["rho"] == 0.01 and params["lp_reg_coef"] == 1.0
    assert set(params["methods"]) == {"grpo", "grpo_entropy", "lp_reg"}
    assert params["generation_backend"] == "vllm" and params["device"] == "cuda"
    assert set(params["eval_benchmarks"]) == {"aime24", "aime25", "math500", "minerva", "olympiadbench"}
    assert runner["timeout_s"] > 3600


def test_paper_profile_prints_both_plans_without_loading_a_model(capsys):
    params, _ = resolve_params("lp_reg", "paper")
    r = params["paper_recipe"]
    before = set(sys.modules)
    recipe_plan = ex.plan(model=r["model"], steps=r["steps"], prompts_per_step=r["prompts_per_step"],
                          num_generations=r["num_generations"], max_completion_length=r["max_completion_length"],
                          runs=r["runs"], prompt_tokens=r["prompt_tokens"], eval_every=r["eval_every"],
                          eval_problems=r["n_eval_problems"], eval_n=r["eval_n"], with_reference=False)
    variant = ex.plan_from_params({**params, "arms": params["methods"], "eval_every": params["probe_every"],
                                   "n_curve_problems": params["n_probe_problems"], "eval_n": params["probe_n"],
                                   "eval_max_new_tokens": params["probe_max_new_tokens"]}, with_reference=False)
    print(recipe_plan)
    print(variant)
    out = capsys.readouterr().out
    assert out.count("GPU-hours") == 2
    assert recipe_plan.params_b == pytest.approx(14.0) and recipe_plan.total_rollouts == 3 * 1000 * 256 * 8
    assert variant.params_b == pytest.approx(1.7) and variant.runs == 3
    assert recipe_plan.gpu_hours > 10 * variant.gpu_hours > 0
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("vllm", "trl", "workbook.models", "transformers")) for m in loaded), sorted(loaded)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_profile_resolves(profile):
    params, _ = resolve_params("lp_reg", profile)
    assert params["profile"] == profile and "lp_reg" in params["methods"] and "grpo" in params["methods"]
    runs = len(params["seeds"]) * len(params["methods"])
    assert ex.plan_from_params({**params, "arms": params["methods"]}).runs == runs


def test_cpu_profile_has_three_seeds_and_the_same_budget_per_arm():
    params, _ = resolve_params("lp_reg", "cpu")
    assert len(params["seeds"]) >= 3 and params["model"] == "toy-reasoner"


def test_reported_numbers_load_and_paper_rows_need_the_paper_profile():
    claims = {c["id"]: c for c in load_reported("lp_reg")}
    assert claims["LP-3"]["value"] == pytest.approx(0.6017) and claims["LP-3"]["scale"] == "paper"
    assert {"LP-1a", "LP-1b", "LP-1c", "LP-2a", "LP-2b", "LP-2c", "LP-2d"} <= set(claims)
    est = {"value": 0.6, "lo": 0.59, "hi": 0.61, "n": 1507}
    cpu = reported_vs_reproduced("lp_reg", {"LP-3": est}, "cpu").set_index("claim_id")
    paper = reported_vs_reproduced("lp_reg", {"LP-3": est}, "paper").set_index("claim_id")
    assert cpu.loc["LP-3", "verdict"] == "not run at this scale" and paper.loc["LP-3", "verdict"] == "reproduced"
