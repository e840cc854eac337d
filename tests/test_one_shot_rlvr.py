"""workbook.papers.one_shot_rlvr: the selection rule, the post-saturation gain; the notebook's profiles, cost plan
(computed without a GPU or a model) and reported claims."""

import sys

import numpy as np
import pandas as pd
import pytest

from workbook.papers import one_shot_rlvr as osr
from workbook.params import ParameterError, resolve_params
from workbook.reporting import load_reported


def test_selection_rule_picks_highest_variance():
    # p1 moves 0 -> 1 across epochs (std 0.5), p2 is constant, p3 moves a little; 2 steps per epoch
    rows = []
    for step in range(1, 7):
        epoch = (step - 1) // 2
        rows += [{"step": step, "problem_id": "p1", "n": 4, "n_correct": [0, 2, 4][epoch]},
                 {"step": step, "problem_id": "p2", "n": 4, "n_correct": 2},
                 {"step": step, "problem_id": "p3", "n": 4, "n_correct": [1, 2, 2][epoch]}]  # fmt: skip
    hist = osr.historical_accuracy(pd.DataFrame(rows), steps_per_epoch=2)
    assert len(hist) == 9 and set(hist["epoch"]) == {0, 1, 2}
    assert hist.query("problem_id == 'p1'")["accuracy"].tolist() == [0.0, 0.5, 1.0]
    pid, rank = osr.select_by_variance(hist)
    assert pid == "p1" and rank["problem_id"].tolist() == ["p1", "p3", "p2"]
    assert rank.loc[0, "std"] == pytest.approx(np.std([0, 0.5, 1.0]))
    assert osr.select_by_variance(hist, top_index=2)[0] == "p2"
    with pytest.raises(ValueError):
        osr.select_by_variance(hist, top_index=3)


def test_post_saturation_gain_starts_at_the_first_evaluation_after_saturation():
    train = pd.DataFrame({"label": "pi1", "seed": [0] * 4 + [1] * 4, "step": [1, 2, 3, 4] * 2,
                          "accuracy": [0.2, 0.9, 1.0, 1.0, 0.1, 0.2, 0.3, 0.4]})  # seed 1 never saturates
    curve = pd.DataFrame({"label": "pi1", "seed": [0] * 3 + [1] * 3, "step": [0, 2, 4] * 2,
                          "accuracy": [0.5, 0.6, 0.8, 0.5, 0.5, 0.5]})  # fmt: skip
    gains = osr.post_saturation_gains(train, curve, threshold=0.85)
    assert gains["seed"].tolist() == [0] and gains["saturated_at"].tolist() == [2]
    assert gains["gain"].iloc[0] == pytest.approx(0.8 - 0.6)


def test_paper_profile_resolves_to_the_papers_recipe():
    params, runner = resolve_params("one_shot_rlvr", "paper")
    assert params["profile"] == "paper" and params["model"] == "qwen2.5-math-1.5b"
    assert params["train_set"] == "one_shot_rlvr_pi1" and params["prompts_per_step"] == 128
    assert params["num_generations"] == 8 and params["max_completion_length"] == 3072
    assert params["learning_rate"] == 1e-6 and params["generation_backend"] == "vllm"
    assert set(params["official_protocol"]) == {"math500", "minerva", "olympiadbench", "aime24", "aime25", "amc23"}
    assert runner["timeout_s"] > 3600


def test_paper_plan_without_loading_a_model():
    params, _ = resolve_params("one_shot_rlvr", "paper")
    before = set(sys.modules)
    plan = osr.plan(params)
    assert "GPU-hours" in plan["summary"] and "1,024 rollouts" not in plan["summary"]
    assert plan["total_rollouts"] == 2 * 500 * 128 * 8 and plan["params_b"] == pytest.approx(1.54)
    assert plan["eval_tokens"] > 0 and plan["gpu_hours"] > 1
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("vllm", "trl", "workbook.models", "transformers")) for m in loaded), sorted(loaded)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_profile_resolves_and_plans(profile):
    params, _ = resolve_params("one_shot_rlvr", profile)
    assert params["profile"] == profile and "pi1" in params["arms"]
    assert osr.plan(params)["runs"] == len(params["seeds"]) * len(params["arms"])


def test_validate_rejects_bad_arms_and_training_sets():
    params, _ = resolve_params("one_shot_rlvr", "cpu")
    osr.validate(params)
    with pytest.raises(ParameterError, match="arms"):
        osr.validate({**params, "arms": ["full_set"]})
    with pytest.raises(ParameterError, match="train_set"):
        osr.validate({**params, "train_set": "nope"})
    with pytest.raises(ParameterError, match="full-set"):
        osr.validate({**params, "arms": ["pi1"]})


def test_reported_numbers_load():
    ids = {c["id"] for c in load_reported("one_shot_rlvr")}
    assert {"OS-1b", "OS-2", "OS-3a", "OS-3b", "OS-4", "OS-4t"} <= ids


def test_os1d_is_pi1_minus_half_of_base_plus_full_set_and_needs_a_full_set_gain():
    from workbook.reporting.verdicts import Checked, Untestable

    probs = [f"p{i}" for i in range(40)]

    def arm(label, seeds, solved):
        return [{"label": label, "seed": s, "problem_id": p, "dataset": "toy", "n": 1,
                 "n_correct": int(i < solved + s)} for s in seeds for i, p in enumerate(probs)]

    final = pd.DataFrame(arm("base", [0], 10) + arm("full_set", [0, 1, 2], 30) + arm("pi1", [0, 1, 2], 28))
    est = osr.noninferiority(final, "pi1", "full_set", n_boot=200)
    assert isinstance(est, Checked)
    expect = np.mean([(28 + s) / 40 for s in range(3)]) - 0.5 * 10 / 40 - 0.5 * np.mean([(30 + s) / 40 for s in range(3)])
    assert est.estimate.value == pytest.approx(expect) and est.estimate.n == 40 and est.estimate.n_seeds == 3
    assert osr.claims(final, pd.DataFrame(columns=["seed", "gain"]), ["toy"], n_boot=200)["OS-1d"].estimate.value \
        == pytest.approx(expect)
    flat = pd.DataFrame(arm("base", [0], 30) + arm("full_set", [0, 1, 2], 28) + arm("pi1", [0, 1, 2], 28))
    assert isinstance(osr.noninferiority(flat, "pi1", "full_set", n_boot=200), Untestable)
