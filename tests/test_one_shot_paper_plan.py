"""The 1-shot RLVR paper profile resolves its parameters and prints its plan without a GPU (no model is loaded)."""

import sys

import pytest

from workbook.params import resolve_params
from workbook.reporting import load_reported
from workbook.rl import experiments as ex


def test_paper_profile_resolves_to_the_papers_recipe():
    params, runner = resolve_params("one_shot_rlvr", "paper")
    assert params["profile"] == "paper" and params["model"] == "qwen2.5-math-1.5b"
    assert params["train_set"] == "one_shot_rlvr_pi1" and params["prompts_per_step"] == 128
    assert params["num_generations"] == 8 and params["max_completion_length"] == 3072
    assert params["learning_rate"] == 1e-6 and params["generation_backend"] == "vllm"
    assert set(params["official_protocol"]) == {"math500", "minerva", "olympiadbench", "aime24", "aime25", "amc23"}
    assert runner["timeout_s"] > 3600


def test_paper_profile_prints_plan_without_loading_a_model(capsys):
    params, _ = resolve_params("one_shot_rlvr", "paper")
    before = set(sys.modules)
    plan = ex.plan_from_params(params)
    print(plan)
    out = capsys.readouterr().out
    assert "GPU-hours" in out and "1,024 rollouts" not in out  # 500 steps x 1024 rollouts x 2 arms
    assert plan.total_rollouts == 2 * 500 * 128 * 8 and plan.params_b == pytest.approx(1.54)
    assert plan.eval_tokens > 0 and plan.gpu_hours > 1
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("vllm", "trl", "workbook.models")) for m in loaded), sorted(loaded)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_profile_resolves(profile):
    params, _ = resolve_params("one_shot_rlvr", profile)
    assert params["profile"] == profile and "pi1" in params["arms"]
    assert ex.plan_from_params(params).runs == len(params["seeds"]) * len(params["arms"])


def test_reported_numbers_load():
    ids = {c["id"] for c in load_reported("one_shot_rlvr")}
    assert {"OS-1b", "OS-2", "OS-3a", "OS-3b", "OS-4", "OS-4t"} <= ids
