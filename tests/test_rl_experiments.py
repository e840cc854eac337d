"""The RL experiment driver (workbook.rl.experiments), its probes (workbook.rl.probes) and the cost plan.

One real grid on the smoke toy (two steps, four rollouts per step) checks the frames end to end; a second run is
interrupted and resumed; the rest are pure functions, so the file stays within seconds plus a few short runs.
"""

import pandas as pd
import pytest

from workbook.rl import experiments as ex
from workbook.rl import plan as rl_plan
from workbook.rl.probes import EvalProbe, Probe


def _problems(n, split):
    from workbook.data.synthetic import ArithmeticSpec, generate_problems

    return generate_problems(n, 0, ArithmeticSpec(n_operands=3, min_operands=2, digits=1), split=split)


def _cfg(**kw):
    base = dict(model="toy-reasoner-smoke", max_steps=2, prompts_per_step=2, num_generations=2,
                max_completion_length=24, learning_rate=1e-3)  # fmt: skip
    return ex.ExperimentConfig(**{**base, **kw})


def _probes(test):
    return [EvalProbe(test, every=1, max_new_tokens=24, name="curve"),
            EvalProbe(test, at_start=False, n=2, temperature=1.0, max_new_tokens=24, name="final")]  # fmt: skip


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    train, test = _problems(4, "train"), _problems(3, "test")
    spec = ex.RunSpec("full_set", "one_shot_rlvr", train, seed=0)
    return ex.run_grid([spec], _cfg(), _probes(test), run_root=tmp_path_factory.mktemp("runs")), train, test


def test_run_produces_tidy_frames_keyed_by_probe(smoke_results):
    res, train, test = smoke_results
    assert list(res.train["step"]) == [1, 2]
    for col in ("label", "method", "seed", "accuracy", "entropy", "kl", "reward"):
        assert col in res.train, col
    assert (res.train["label"] == "full_set").all() and (res.train["entropy"] > 0).all()
    assert set(res.probes) == {"curve", "final"}
    curve = res["curve"]
    assert sorted(curve["step"].unique()) == [0, 1, 2]  # before training, then every step (the end is not repeated)
    assert len(curve) == 3 * len(test) and (curve["n"] == 1).all() and curve["accuracy"].between(0, 1).all()
    # every rollout group is recorded against its problem: 2 prompts x 2 completions per step
    assert set(res.history["problem_id"]) <= {p.problem_id for p in train}
    assert res.history.groupby("step")["n"].sum().tolist() == [4, 4]
    assert (res.history["n_correct"] <= res.history["n"]).all()
    final = res["final"]
    assert sorted(final["problem_id"]) == sorted(p.problem_id for p in test) and (final["step"] == 2).all()
    assert (final["n"] == 2).all() and set(final["dataset"]) == {"synthetic"} and (final["label"] == "full_set").all()
    assert res.timing["seconds"].iloc[0] > 0 and res.timing["cpu_seconds"].iloc[0] > 0
    with pytest.raises(KeyError, match="curve"):
        res["nope"]


def test_evaluate_measures_the_base_model_with_the_same_probe(smoke_results):
    res, _, test = smoke_results
    base = ex.evaluate(_cfg(), _probes(test)[:1], seed=0)["curve"]
    assert (base["label"] == "base").all() and (base["step"] == 0).all()
    # the run's step-0 measurement is the same (seeded) sampling of the same initial weights
    first = res["curve"].query("step == 0").sort_values("problem_id")
    assert first["n_correct"].tolist() == base.sort_values("problem_id")["n_correct"].tolist()


def test_resume_after_a_kill_continues_from_the_checkpoint(tmp_path):
    """A run killed after step 3 of 4 (checkpoint at 2) resumes at step 3 with its logs and probes intact."""
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise KeyboardInterrupt

    @__import__("dataclasses").dataclass(frozen=True)
    class Killer(Probe):
        name: str = "killer"

        def callback(self, ctx):
            return Kill()

        def collect(self, run_dir):
            return {}

    train, test = _problems(4, "train"), _problems(2, "test")
    cfg, spec = _cfg(max_steps=4, save_steps=2), ex.RunSpec("grpo", "grpo", train, seed=0)
    curve = EvalProbe(test, every=1, max_new_tokens=16, name="curve")
    with pytest.raises(KeyboardInterrupt):
        ex.run_one(spec, cfg, [curve, Killer(test, every=1)], run_root=tmp_path)
    res = ex.run_one(spec, cfg, [curve], run_root=tmp_path, resume=True)
    assert list(res.train["step"]) == [1, 2, 3, 4]
    assert sorted(res["curve"]["step"].unique()) == [0, 1, 2, 3, 4] and len(res["curve"]) == 5 * len(test)
    assert res.history.groupby("step")["n"].sum().tolist() == [4, 4, 4, 4]


def test_duplicate_runs_and_probe_names_rejected():
    spec = ex.RunSpec("a", "grpo", _problems(1, "train"), seed=0)
    with pytest.raises(ValueError, match="duplicate"):
        ex.run_grid([spec, spec], _cfg())
    with pytest.raises(ValueError, match="unique"):
        ex.run_one(spec, _cfg(), [EvalProbe(_problems(1, "test"))] * 2)
    with pytest.raises(TypeError, match="Probe"):
        ex.run_one(spec, _cfg(), ["eval"])


def test_bad_config_probe_and_empty_problems_fail_early():
    with pytest.raises(ValueError, match="num_generations"):
        ex.ExperimentConfig(num_generations=1)
    with pytest.raises(ValueError, match="generation_backend"):
        ex.ExperimentConfig(generation_backend="sglang")
    with pytest.raises(ValueError, match="no training problems"):
        ex.RunSpec("a", "grpo", [])
    with pytest.raises(ValueError, match="no problems"):
        EvalProbe([])
    with pytest.raises(ValueError, match="at least once"):
        EvalProbe(_problems(1, "test"), every=0, at_start=False, at_end=False)
    with pytest.raises(ValueError, match="temperature"):
        EvalProbe(_problems(1, "test"), temperature=-1.0)


def test_eval_probe_groups_by_protocol_and_samples_greedy_once():
    from workbook.data import Problem

    probs = [Problem("a", "1+1", "2", "aime24", {}), Problem("b", "2+2", "4", "math500", {})]
    groups = EvalProbe(probs, n=4, temperature=0.0, protocol={"aime24": (8, 0.6)}).groups()
    assert {k: [p.problem_id for p in v] for k, v in groups.items()} == {(8, 0.6): ["a"], (1, 0.0): ["b"]}


def test_results_concat_matches_probe_frames_by_name():
    def r(label, names):
        t = pd.DataFrame({"label": [label]})
        return ex.Results(t, t, t, {n: pd.DataFrame({"label": [label], "x": [1]}) for n in names})

    both = ex.Results.concat([r("a", ["p", "q"]), r("b", ["q"])])
    assert both["p"]["label"].tolist() == ["a"] and both["q"]["label"].tolist() == ["a", "b"]


def test_plan_needs_no_gpu_and_scales_with_steps():
    kw = dict(model="qwen2.5-math-1.5b", prompts_per_step=128, num_generations=8, max_completion_length=3072,
              gpu="A100")  # fmt: skip
    small, big = rl_plan.plan(steps=10, **kw), rl_plan.plan(steps=20, **kw)
    if not small.gpu_found:
        assert small.gpu == "A100"
    assert small.total_rollouts == 10 * 1024 and small.params_b == 1.54
    assert big.gpu_hours == pytest.approx(2 * small.gpu_hours) and small.gpu_hours > 0
    assert "GPU-hours" in str(small) and "10,240 rollouts" in str(small)
    assert small.to_dict()["summary"] == str(small) and small.to_dict()["runs"] == 1
    # gradient checkpointing recomputes the forward: 2N more per trained token, generation unchanged
    ckpt = rl_plan.plan(steps=10, gradient_checkpointing=True, **kw)
    nogen = dict(kw, max_completion_length=1)  # ~all cost in training: the ratio tends to (6+2+2)/(6+2)
    assert ckpt.gpu_hours > small.gpu_hours and ckpt.generated_tokens == small.generated_tokens
    assert rl_plan.plan(steps=10, gradient_checkpointing=True, prompt_tokens=10**6, **nogen).gpu_hours == \
        pytest.approx(1.25 * rl_plan.plan(steps=10, prompt_tokens=10**6, **nogen).gpu_hours, rel=1e-3)
    assert rl_plan.model_params_b("qwen3-14b-base") == 14.0
    with pytest.raises(ValueError):
        rl_plan.model_params_b("mystery-model")
    if not small.gpu_found:  # a named GPU is only used when none is visible
        with pytest.raises(ValueError, match="unknown GPU"):
            rl_plan.detect_gpu("Z9000")


def test_read_jsonl_drops_only_a_truncated_last_line(tmp_path):
    from workbook.rl.probes import read_jsonl

    p = tmp_path / "x.jsonl"
    p.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert read_jsonl(p) == [{"step": 1}, {"step": 2}]
    p.write_text('{"step": 1}\n{"st\n{"step": 2}\n')
    with pytest.raises(ValueError):
        read_jsonl(p)
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_run_grid_in_a_notebook_refuses_a_missing_toy_checkpoint_before_spawning(tmp_path, monkeypatch):
    """Spawned workers are not a notebook kernel: without the check in the parent they would train the missing
    checkpoint inside the notebook's timeout."""
    import sys

    from workbook.toy import ToyNotPrepared

    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKBOOK_TOY_TRAIN", raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel") or object())
    specs = [ex.RunSpec("a", "grpo", _problems(1, "train"), seed=s) for s in (0, 1)]
    with pytest.raises(ToyNotPrepared, match="make toy"):
        ex.run_grid(specs, _cfg(model="toy-reasoner"), run_root=tmp_path / "runs", workers=2)
    assert not (tmp_path / "runs").exists()
