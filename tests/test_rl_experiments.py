"""The RL experiment driver (workbook.rl.experiments): runs, tidy frames, the selection rule, CIs, the plan.

One real training run on the smoke toy (two steps, four rollouts) checks the frames end to end; the rest are pure
functions on small hand-made frames, so the file stays within seconds plus one short run.
"""

import math

import numpy as np
import pandas as pd
import pytest

from workbook.rl import experiments as ex


def _problems(n, split):
    from workbook.data.synthetic import ArithmeticSpec, generate_problems

    return generate_problems(n, 0, ArithmeticSpec(n_operands=3, min_operands=2, digits=1), split=split)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    cfg = ex.ExperimentConfig(model="toy-reasoner-smoke", steps=2, prompts_per_step=2, num_generations=2,
                              max_completion_length=24, learning_rate=1e-3, eval_every=1, eval_n=1, eval_ks=(1,),
                              eval_temperature=0.0, final_n=2, final_temperature=1.0)  # fmt: skip
    train, test = _problems(4, "train"), _problems(3, "test")
    spec = ex.RunSpec("full_set", "one_shot_rlvr", train, seed=0)
    return ex.run_grid([spec], cfg, test, tmp_path_factory.mktemp("runs")), train, test


def test_run_produces_tidy_frames(smoke_results):
    res, train, test = smoke_results
    assert list(res.train["step"]) == [1, 2]
    for col in ("label", "seed", "accuracy", "entropy", "kl", "reward"):
        assert col in res.train, col
    assert (res.train["label"] == "full_set").all() and (res.train["entropy"] > 0).all()
    assert sorted(res.eval["step"]) == [0, 1, 2]  # before training, then every step
    assert res.eval["accuracy"].between(0, 1).all() and (res.eval["accuracy_lo"] <= res.eval["accuracy_hi"]).all()
    # every rollout group is recorded against its problem: 2 prompts x 2 completions per step
    assert set(res.history["problem_id"]) <= {p.problem_id for p in train}
    assert res.history.groupby("step")["n"].sum().tolist() == [4, 4]
    assert (res.history["n_correct"] <= res.history["n"]).all()
    assert sorted(res.final["problem_id"]) == sorted(p.problem_id for p in test)
    assert (res.final["n"] == 2).all() and set(res.final["dataset"]) == {"synthetic"}
    assert res.timing["seconds"].iloc[0] > 0 and res.timing["cpu_seconds"].iloc[0] > 0


def test_duplicate_runs_rejected():
    spec = ex.RunSpec("a", "grpo", _problems(1, "train"), seed=0)
    with pytest.raises(ValueError, match="duplicate"):
        ex.run_grid([spec, spec], ex.ExperimentConfig())


def test_bad_config_and_empty_problems_fail_early():
    with pytest.raises(ValueError):
        ex.ExperimentConfig(num_generations=1)
    with pytest.raises(ValueError):
        ex.ExperimentConfig(eval_n=2, eval_ks=(1, 4), eval_temperature=0.6)
    with pytest.raises(ValueError, match="no training problems"):
        ex.RunSpec("a", "grpo", [])


def test_selection_rule_picks_highest_variance():
    # p1 moves 0 -> 1 across epochs (std 0.5), p2 is constant, p3 moves a little; 2 steps per epoch
    rows = []
    for step in range(1, 7):
        epoch = (step - 1) // 2
        rows += [{"step": step, "problem_id": "p1", "n": 4, "n_correct": [0, 2, 4][epoch]},
                 {"step": step, "problem_id": "p2", "n": 4, "n_correct": 2},
                 {"step": step, "problem_id": "p3", "n": 4, "n_correct": [1, 2, 2][epoch]}]  # fmt: skip
    hist = ex.historical_accuracy(pd.DataFrame(rows), steps_per_epoch=2)
    assert len(hist) == 9 and set(hist["epoch"]) == {0, 1, 2}
    assert hist.query("problem_id == 'p1'")["accuracy"].tolist() == [0.0, 0.5, 1.0]
    pid, rank = ex.select_by_variance(hist)
    assert pid == "p1" and rank["problem_id"].tolist() == ["p1", "p3", "p2"]
    assert rank.loc[0, "std"] == pytest.approx(np.std([0, 0.5, 1.0]))
    assert ex.select_by_variance(hist, top_index=2)[0] == "p2"
    with pytest.raises(ValueError):
        ex.select_by_variance(hist, top_index=3)


def test_seed_ci_is_a_t_interval_over_seeds():
    df = pd.DataFrame({"label": "a", "step": 5, "seed": [0, 1, 2], "accuracy": [0.5, 0.6, 0.7]})
    row = ex.seed_ci(df, "accuracy").iloc[0]
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t_{0.975, 2} * sd / sqrt(n)
    assert row["value"] == pytest.approx(0.6) and row["n"] == 3
    assert row["lo"] == pytest.approx(0.6 - half) and row["hi"] == pytest.approx(0.6 + half)
    one = ex.seed_ci(df.iloc[:1], "accuracy").iloc[0]
    assert one["lo"] == one["hi"] == one["value"] == 0.5


def test_pass_at_k_table_and_benchmark_average():
    correct = pd.DataFrame({"problem_id": ["a", "b", "c", "d"], "dataset": ["x", "x", "y", "y"],
                            "n": 4, "n_correct": [0, 4, 1, 2]})  # fmt: skip
    tab = ex.pass_at_k_table(correct, [1, 4], n_boot=200)
    assert tab["value"].tolist() == pytest.approx([(0 + 1 + 0.25 + 0.5) / 4, 0.75])
    assert (tab["lo"] <= tab["value"]).all() and (tab["value"] <= tab["hi"]).all()
    est = ex.benchmark_average_ci(correct, n_boot=200)
    assert est.value == pytest.approx((0.5 + 0.375) / 2) and est.n == 4 and est.lo <= est.value <= est.hi


def test_plan_needs_no_gpu_and_scales_with_steps():
    kw = dict(model="qwen2.5-math-1.5b", prompts_per_step=128, num_generations=8, max_completion_length=3072,
              gpu="A100")  # fmt: skip
    small, big = ex.plan(steps=10, **kw), ex.plan(steps=20, **kw)
    if not small.gpu_found:
        assert small.gpu == "A100"
    assert small.total_rollouts == 10 * 1024 and small.params_b == 1.54
    assert big.gpu_hours == pytest.approx(2 * small.gpu_hours) and small.gpu_hours > 0
    assert "GPU-hours" in str(small) and "10,240 rollouts" in str(small)
    assert ex.model_params_b("qwen3-14b-base") == 14.0
    with pytest.raises(ValueError):
        ex.model_params_b("mystery-model")
    if not small.gpu_found:  # a named GPU is only used when none is visible
        with pytest.raises(ValueError, match="unknown GPU"):
            ex.detect_gpu("Z9000")
