"""Preparation outside the notebooks: resume after a kill, hash-checked cache, fail-fast refusals, world knobs."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from workbook.data.synthetic import ArithmeticSpec
from workbook.toy import prepare
from workbook.toy.train import (
    SMOKE_RECIPE, ToyNotPrepared, checkpoint_hash, ensure_trained, is_trained, recipe_dir, require, train_model,
)
from workbook.toy.world import (
    CONTROLS, SPARK, WorldKnobs, WorldNoise, guess_prone, hard_spec, is_guess_prone, sample_example,
)

# The smoke world, few steps: trains in seconds on one thread.
MICRO = dataclasses.replace(SMOKE_RECIPE, name="toy-micro", steps=6, batch_size=4, log_every=2, checkpoint_every=2,
                            snapshots=(3,))


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKBOOK_TOY_TRAIN", raising=False)
    return tmp_path / "cache"


def test_same_seed_same_bytes_and_resume_after_stop_gives_the_same_bytes(tmp_path):
    train_model(MICRO, tmp_path / "a", progress=None)
    assert train_model(MICRO, tmp_path / "b", progress=None, stop_after=4) == {}  # "killed" after step 4
    assert (tmp_path / "b" / "state.pkl").exists() and not (tmp_path / "b" / "model.safetensors").exists()
    log = train_model(MICRO, tmp_path / "b", progress=None)  # resumes at step 4
    assert log["resumed_at"] == [4]
    assert checkpoint_hash(tmp_path / "a") == checkpoint_hash(tmp_path / "b")
    assert checkpoint_hash(tmp_path / "a" / "step-3") == checkpoint_hash(tmp_path / "b" / "step-3")
    train_model(dataclasses.replace(MICRO, seed=1), tmp_path / "c", progress=None)
    assert checkpoint_hash(tmp_path / "a") != checkpoint_hash(tmp_path / "c")


def test_resume_after_sigkill(tmp_path):
    recipe = dataclasses.replace(MICRO, steps=40, checkpoint_every=5, snapshots=())
    code = ("import dataclasses; from pathlib import Path; from workbook.toy.train import SMOKE_RECIPE, train_model; "
            f"r = dataclasses.replace(SMOKE_RECIPE, name='toy-micro', steps=40, batch_size=4, log_every=2, "
            f"checkpoint_every=5, snapshots=()); train_model(r, Path({str(tmp_path / 'killed')!r}), progress=None)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    state = tmp_path / "killed" / "state.pkl"
    deadline = time.time() + 300
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    log = train_model(recipe, tmp_path / "killed", progress=None)
    assert log["resumed_at"] and log["resumed_at"][0] % 5 == 0
    train_model(recipe, tmp_path / "whole", progress=None)
    assert checkpoint_hash(tmp_path / "killed") == checkpoint_hash(tmp_path / "whole")


def test_corrupt_or_partial_checkpoint_is_detected_and_retrained(cache):
    path = ensure_trained(MICRO, progress=None)
    good = checkpoint_hash(path)
    assert is_trained(MICRO) and require(MICRO) == path
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-7] + b"garbage")  # flipped bytes, same file
    assert not is_trained(MICRO)
    with pytest.raises(ToyNotPrepared, match="make toy"):
        require(MICRO)
    assert ensure_trained(MICRO, progress=None) == path and checkpoint_hash(path) == good  # retrained, same bytes
    (path / "step-3" / "model.safetensors").unlink()  # a partial directory: a snapshot is missing
    assert not is_trained(MICRO)
    ensure_trained(MICRO, progress=None)
    assert is_trained(MICRO)


def test_notebooks_refuse_to_train_expensive_recipes(cache, monkeypatch):
    expensive = dataclasses.replace(MICRO, steps=500)
    monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel") or object())
    with pytest.raises(ToyNotPrepared, match="run `make toy`"):
        ensure_trained(expensive)
    assert not recipe_dir(expensive).exists()
    monkeypatch.setenv("WORKBOOK_TOY_TRAIN", "never")
    with pytest.raises(ToyNotPrepared):
        ensure_trained(MICRO)  # even a cheap one when the policy says never


def test_prepare_main(cache, monkeypatch, capsys):
    monkeypatch.setattr(prepare, "RECIPES", {MICRO.name: MICRO})
    monkeypatch.setattr(prepare, "DEFAULT", (MICRO.name,))
    assert prepare.main(["--recipe", "nope"]) == 2
    assert "unknown toy preset" in capsys.readouterr().err
    assert prepare.main(["--log-every", "0"]) == 2
    assert prepare.main(["--list"]) == 0 and "to train" in capsys.readouterr().out
    assert prepare.main([]) == 0
    out = capsys.readouterr().out
    assert "step 2/6" in out and "ready" in out and is_trained(MICRO)
    assert prepare.main([]) == 0 and "cached" in capsys.readouterr().out


def test_prepare_jobs_checks_and_reports_a_failed_child(capsys):
    import argparse
    from types import SimpleNamespace

    assert prepare.main(["--jobs", "0"]) == 2 and "--jobs must be >= 1" in capsys.readouterr().err
    # a child that fails (here: a preset name it does not know) is reported with its exit code, not swallowed
    args = argparse.Namespace(log_every=None)
    rc = prepare._train_in_parallel([SimpleNamespace(name="nope-a"), SimpleNamespace(name="nope-b")], args, 1, 2)
    assert rc == 2 and "nope-a: FAILED (exit 2)" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- knobs


def test_bad_knobs_fail_before_training():
    with pytest.raises(ValueError, match="unknown world knob"):
        WorldKnobs.from_dict({"spark_shar": 0.1})
    with pytest.raises(ValueError, match=r"spark_share must be a rate in \[0, 1\]"):
        WorldKnobs(spark_share=1.5)
    with pytest.raises(ValueError, match="verify_miss"):
        WorldNoise(verify_miss=-0.1)
    with pytest.raises(ValueError, match="hard_operands"):
        WorldKnobs(hard_operands=(6, 5))
    with pytest.raises(ValueError, match="no control setting"):
        WorldKnobs().control("hard_operands")
    with pytest.raises(ValueError, match="head dimension >= 32"):
        dataclasses.replace(SMOKE_RECIPE, num_heads=4)


def _solve_traces(knobs, n=4000, seed=0):
    rng = random.Random(seed)
    return [sample_example("solve", ArithmeticSpec(), WorldNoise(), rng, knobs) for _ in range(n)]


def test_control_world_has_no_mechanism():
    control = WorldKnobs().control()
    assert all(getattr(control, k) == v for k, v in CONTROLS.items())
    traces = _solve_traces(control, n=500)
    assert not any(e.tags for e in traces)
    assert all(SPARK not in e.completion and "The answer is" not in e.completion for e in traces)


def test_each_knob_creates_its_mechanism_at_its_rate():
    knobs = WorldKnobs()
    traces = _solve_traces(knobs)
    tags = Counter(t for e in traces for t in e.tags)
    stepwise = [e for e in traces if "guess" not in e.tags]
    assert abs(tags["deficient"] / len(stepwise) - knobs.deficiency_share) < 0.03
    assert abs(tags["spark"] / len(stepwise) - knobs.spark_share) < 0.015
    assert abs(tags["noise"] / len(stepwise) - knobs.noise_share) < 0.02
    assert abs(tags["hard"] / len(traces) - knobs.hard_share) < 0.015
    assert all(e.n_operands in range(knobs.hard_operands[0], knobs.hard_operands[1] + 1)
               for e in traces if "hard" in e.tags)
    # guesses only on guess-prone problems, at the set share there; never the right answer
    prone = [e for e in traces if is_guess_prone(e.message, knobs)]
    guesses = [e for e in prone if "guess" in e.tags]
    assert all(is_guess_prone(e.message, knobs) for e in traces if "guess" in e.tags)
    assert abs(len(guesses) / len(prone) - knobs.guess_share) < 0.08 and not any(e.correct for e in guesses)
    assert not any(e.correct for e in traces if "deficient" in e.tags)


def test_spark_self_check_raises_accuracy_on_hard_problems():
    knobs = WorldKnobs(spark_share=0.5, noise_share=0.0, deficiency_share=0.0, guess_share=0.0, hard_share=1.0)
    traces = _solve_traces(knobs, n=3000, seed=1)
    with_spark = [e.correct for e in traces if "spark" in e.tags]
    without = [e.correct for e in traces if "spark" not in e.tags]
    assert sum(with_spark) / len(with_spark) > sum(without) / len(without) + 0.15


def test_hard_spec_and_guess_prone():
    from workbook.data.synthetic import parse_expression

    spec = hard_spec(ArithmeticSpec(), WorldKnobs())
    assert spec.operand_counts == (5, 6) and spec.max_value == 99
    assert guess_prone(parse_expression("85 + 3"), WorldKnobs()) and not guess_prone(parse_expression("8 + 85"),
                                                                                      WorldKnobs())


def test_knob_effects_measures_each_mechanism_on_a_scripted_model():
    """A scripted 'model' that always writes the deficient answer and always says incorrect."""
    from workbook.generation import Completion
    from workbook.toy.knobs import knob_effects
    from workbook.toy.train import make_tokenizer

    class Scripted:
        tokenizer = make_tokenizer()

        def generate(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=96, seed=0):
            def text(p):
                if "Check each step" in p:
                    return "Step 1: 1 + 1 = 2 ok\n\\boxed{incorrect}"
                return "1 + 1 = 2\nWait, check:\nThe answer is 2." if seed % 2 else "\\boxed{81}"
            return [[Completion(text(p), [1], [-0.1], "stop") for _ in range(n)] for p in prompts]

    df = knob_effects(Scripted(), n_problems=3, n=4, n_hard=8, n_boot=50, seed=1).set_index("quantity")
    assert df.loc["pass@8 on the hard pool (mean; any of 8 samples correct)", "n_units"] == 3
    assert df.loc["share of samples answering without \\boxed{}", "value"] == 1.0
    assert df.loc["share of samples with a spark", "value"] == 1.0
    assert df.loc["true-negative rate (says incorrect | incorrect)", "value"] == 1.0
    assert set(df.paper) == {"one_shot_rlvr", "lp_reg", "dser", "nsr", "sharpening"}
    assert "balanced accuracy (TPR + TNR) / 2" in df.index  # NaN here: the scripted solutions are all wrong
    assert df.loc["P(I→C): a wrong solution refined to a correct one", "n_units"] > 0
    assert ((df.lo <= df.value + 1e-12) & (df.value <= df.hi + 1e-12) | df.value.isna()).all()


def test_verify_line_consistency_reads_the_decision_against_the_recomputed_value():
    from workbook.toy.knobs import verify_line_consistency

    solution = "2 * 21 = 42\n1 + 42 = 33\n\\boxed{33}"
    reports = ["Step 1: 2 * 21 = 42, claimed 42 ok\nStep 2: 1 + 42 = 43, claimed 33 wrong\n\\boxed{incorrect}",  # consistent
               "Step 1: 2 * 21 = 40, claimed 42 ok\nStep 2: 1 + 42 = 33, claimed 33 wrong\n\\boxed{incorrect}"]  # inconsistent twice
    lines = verify_line_consistency([solution, solution], reports)
    assert lines.value_right.tolist() == [True, True, False, False]
    assert lines.value_equals_claim.tolist() == [True, False, False, True]
    assert lines.says_ok.tolist() == [True, False, True, False]


def test_noisy_oracle_flips_verdicts_at_rate_eps():
    from workbook.toy.evaluate import noisy_oracle_report, oracle_report
    from workbook.toy.world import parse_verdict

    right, wrong = "3 - 1 = 2\n7 * 2 = 14\n\\boxed{14}", "3 - 1 = 2\n7 * 2 = 15\n\\boxed{15}"
    rng = random.Random(0)
    assert noisy_oracle_report(right, 0.0, rng) == oracle_report(right)
    for sol, truth in ((right, "correct"), (wrong, "incorrect")):
        flips = [parse_verdict(noisy_oracle_report(sol, 0.3, rng)) != truth for _ in range(2000)]
        assert abs(sum(flips) / 2000 - 0.3) < 0.04
    with pytest.raises(ValueError, match="eps"):
        noisy_oracle_report(right, 1.2, rng)


def test_guess_prone_traces_are_not_sharp():
    """On a guess-prone problem the first token is most often a guess, yet the most frequent answer is right
    and its probability is below one half (the sharpening regime); the control world is sharp."""
    from workbook.data.synthetic import parse_expression
    from workbook.toy.world import solve_completion

    tree = parse_expression("85 + 3 - 7")
    for knobs, sharp in ((WorldKnobs(), False), (WorldKnobs().control(), True)):
        rng = random.Random(0)
        traces = [solve_completion(tree, rng.getrandbits(32), WorldNoise(), knobs, rng) for _ in range(3000)]
        answers = Counter(final for _, final, tags in traces if "deficient" not in tags)
        starts_with_guess = sum(text.startswith("\\boxed{") for text, _, _ in traces) / len(traces)
        p_correct = sum(final == 81 and "deficient" not in tags for _, final, tags in traces) / len(traces)
        assert answers.most_common(1)[0][0] == 81
        if sharp:
            assert starts_with_guess == 0 and p_correct > 0.5
        else:
            assert starts_with_guess > 0.5 and p_correct < 0.5
