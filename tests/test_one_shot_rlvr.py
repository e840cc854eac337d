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


def _curve(rows):
    return pd.DataFrame(rows, columns=["label", "seed", "step", "problem_id", "n", "n_correct", "n_unboxed",
                                       "accuracy"])


def test_post_saturation_change_starts_at_the_first_evaluation_after_saturation():
    train = pd.DataFrame({"label": "pi1", "seed": [0] * 4 + [1] * 4, "step": [1, 2, 3, 4] * 2,
                          "accuracy": [0.2, 0.9, 1.0, 1.0, 0.1, 0.2, 0.3, 0.4]})  # seed 1 never saturates
    acc = {0: [0.5, 0.5], 2: [0.5, 0.75], 4: [1.0, 0.75]}                   # seed 0, problems a and b
    rows = [("pi1", s, st, p, 4, int(4 * a[k] if s == 0 else 2), 4 - int(4 * a[k]), a[k] if s == 0 else 0.5)
            for s in (0, 1) for st, a in acc.items() for k, p in enumerate("ab")]
    curve = _curve(rows)
    assert osr.saturation_steps(train, curve, "pi1", 0.85) == {0: 2}
    change = osr.post_saturation_change(train, curve, "pi1", 0.85, ["a", "b"])
    assert change.shape == (1, 2) and change[0].tolist() == pytest.approx([0.5, 0.0])
    unboxed = osr.post_saturation_change(train, curve, "pi1", 0.85, ["a", "b"], y="unboxed")
    assert unboxed[0].tolist() == pytest.approx([-0.5, 0.0])
    assert osr.post_saturation_change(train, curve, "pi1", 1.01, ["a", "b"]).shape == (0, 2)


def test_peak_is_chosen_on_the_selection_problems_and_scored_on_the_others():
    # step 4 is best on the selection problem s; step 8 would be best on the scoring problem t
    rows = [("arm", 0, st, p, 4, c, 0, c / 4) for st, p, c in
            [(0, "s", 4), (0, "t", 1), (4, "s", 3), (4, "t", 2), (8, "s", 2), (8, "t", 4)]]  # step 0: the base
    curve = _curve(rows)
    assert osr.peak_steps(curve, "arm", ["s"]) == {0: 4}
    assert osr.at_peak(curve, "arm", ["s"], ["t"]).tolist() == [[0.5]]          # not the 1.0 of step 8
    tab = osr.peak_table(curve, ["s"], ["t"], n_boot=50)
    assert tab.loc[0, "peak_steps"] == "4" and tab.loc[0, "accuracy"] == pytest.approx(0.5)


def test_copies_are_separate_groups_and_live_share_counts_mixed_groups():
    from workbook.data.synthetic import generate_problems

    pi1 = generate_problems(1, 0, split="train")[0]
    cps = osr.copies(pi1, 3)
    assert [c.problem_id for c in cps] == [f"{pi1.problem_id}#{i}" for i in range(3)]
    assert all(c.problem == pi1.problem and c.answer == pi1.answer for c in cps)
    hist = pd.DataFrame({"label": "pi1", "seed": 0, "step": [1, 1, 1, 1, 2, 2],
                         "problem_id": list("abcdab"), "n": 8, "n_correct": [0, 3, 8, 7, 8, 8]})  # fmt: skip
    live = osr.live_share(hist)
    assert live["live"].tolist() == [0.5, 0.0]
    with pytest.raises(ValueError):
        osr.copies(pi1, 0)


def test_format_probe_counts_answers_without_a_box():
    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.probes import ProbeContext

    model, tok = load_model("toy-reasoner-smoke")
    problems = osr.training_pool("synthetic", 2, 1, 0)
    assert problems[-1].problem_id.endswith("/hard") and len(problems) == 3
    probe = osr.FormatProbe(problems, n=3, temperature=1.0, max_new_tokens=40, name="f")
    ctx = ProbeContext(".", tok, Grader(), "Please reason step by step, and put your final answer within \\boxed{}.")
    frame = probe.sample(model, ctx, 0)
    rows = probe.measure(model, ctx, 0)
    assert [r["problem_id"] for r in rows] == [p.problem_id for p in problems]
    want = (~frame["text"].str.contains("\\boxed{", regex=False)).groupby(frame["problem_id"], sort=False).sum()
    assert [r["n_unboxed"] for r in rows] == want.tolist()
    assert all(r["n_unboxed"] + r["n_correct"] <= r["n"] for r in rows)          # an unboxed answer is never right
    system = osr.FormatProbe(problems, n=1, system=osr.QWEN25_MATH_COT_SYSTEM, name="g")
    assert system.measure(model, ctx, 0)                                          # the qwen25-math-cot layout runs
    same = osr.FormatProbe(problems, n=3, temperature=1.0, max_new_tokens=40, same_draws=True, name="h")
    assert same.sample(model, ctx, 5)["text"].tolist() == frame["text"].tolist()  # step 5 reuses step 0's draws
    assert probe.sample(model, ctx, 5)["text"].tolist() != frame["text"].tolist()  # without it, fresh draws


def test_prompt_cap_drops_long_prompts_and_refuses_to_drop_all():
    from workbook.data.synthetic import generate_problems

    probs = generate_problems(3, 0, split="train")
    assert osr.prompt_cap(probs, "toy-reasoner-smoke", "x", 0).kept == probs
    assert len(osr.prompt_cap(probs, "toy-reasoner-smoke", "x", 10_000).kept) == 3
    with pytest.raises(ValueError, match="max_prompt_tokens"):
        osr.prompt_cap(probs, "toy-reasoner-smoke", "x", 2)


def test_arm_specs_label_the_entropy_sweep():
    specs = osr.arm_specs(["full_set", "pi1", "pi1_control", "no_entropy", "entropy_sweep", "entropy_only"],
                          [0.01, 0.03])
    assert [s[0] for s in specs] == ["pi1", "pi1_control", "no_entropy", "entropy_0.01", "entropy_0.03",
                                     "entropy_only"]
    assert dict((s[0], s[2]) for s in specs)["entropy_0.03"] == {"entropy_coef": 0.03}
    assert specs[-1][1] == "entropy_only" and osr.arm_specs(["pi1"], [0.01]) == [("pi1", "one_shot_rlvr", {})]


def test_paper_profile_resolves_to_the_papers_recipe():
    params, runner = resolve_params("one_shot_rlvr", "paper")
    assert params["profile"] == "paper" and params["model"] == "qwen2.5-math-1.5b"
    assert params["train_set"] == "one_shot_rlvr_pi1" and params["prompts_per_step"] == 128
    assert params["num_generations"] == 8 and params["max_completion_length"] == 3072
    assert params["learning_rate"] == 1e-6 and params["generation_backend"] == "vllm"
    assert set(params["official_protocol"]) == {"math500", "minerva", "olympiadbench", "aime24", "aime25", "amc23"}
    assert runner["timeout_s"] > 3600
    assert params["n_post_problems"] == 0 and params["max_prompt_tokens"] == 1024
    assert params["eval_system_prompt"] == osr.QWEN25_MATH_COT_SYSTEM and params["full_train_set"].endswith("dsr_sub")
    no_design = osr.decision_power(params, n_sim=10)["design"]                   # all problems (0): no toy design
    assert no_design.str.startswith("no power").all()


def test_paper_plan_without_loading_a_model():
    params, _ = resolve_params("one_shot_rlvr", "paper")
    before = set(sys.modules)
    plan = osr.plan(params)
    assert "GPU-hours" in plan["summary"] and "1,024 rollouts" not in plan["summary"]
    assert plan["total_rollouts"] == 3 * 500 * 128 * 8  # DSR-sub, pi1, entropy-only and plan["params_b"] == pytest.approx(1.54)
    assert plan["eval_tokens"] > 0 and plan["gpu_hours"] > 1
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("vllm", "trl", "workbook.models", "transformers")) for m in loaded), sorted(loaded)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_profile_resolves_and_plans(profile):
    params, _ = resolve_params("one_shot_rlvr", profile)
    assert params["profile"] == profile and "pi1" in params["arms"]
    labels = [a[0] for a in osr.arm_specs(params["arms"], params["entropy_sweep"])] + ["full_set"]
    assert osr.plan(params)["runs"] == sum(len(osr.arm_seeds(lab, params["seeds"], params["side_seeds"],
                                                             params["pi1_seeds"]))
                                           for lab in labels)


def test_side_arms_run_on_side_seeds_only():
    assert osr.arm_seeds("pi1", [0, 1, 2], [0]) == [0, 1, 2] and osr.arm_seeds("entropy_0.01", [0, 1, 2], [0]) == [0]
    assert osr.arm_seeds("full_set", [0, 1], None) == [0, 1]
    assert osr.arm_seeds("pi1", [0, 1], [0], [0, 1, 5]) == [0, 1, 5] and osr.arm_seeds("pi1_control", [0, 1], [0],
                                                                                       [0, 1, 5]) == [0, 1]
    params, _ = resolve_params("one_shot_rlvr", "cpu")
    with pytest.raises(ParameterError, match="side_seeds"):
        osr.validate({**params, "side_seeds": [99]})


def test_validate_rejects_bad_arms_and_training_sets():
    params, _ = resolve_params("one_shot_rlvr", "cpu")
    osr.validate(params)
    with pytest.raises(ParameterError, match="arms"):
        osr.validate({**params, "arms": ["full_set"]})
    with pytest.raises(ParameterError, match="train_set"):
        osr.validate({**params, "train_set": "nope"})
    with pytest.raises(ParameterError, match="full-set"):
        osr.validate({**params, "arms": ["pi1"]})
    with pytest.raises(ParameterError, match="control_model"):
        osr.validate({**params, "control_model": ""})


def test_reported_numbers_load():
    ids = {c["id"] for c in load_reported("one_shot_rlvr")}
    assert {"OS-1b", "OS-2", "OS-2m", "OS-2c", "OS-3a", "OS-3b", "OS-4", "OS-4t"} <= ids


def test_claims_compare_arms_at_their_peaks_against_the_base():
    from workbook.reporting.verdicts import Checked, Untestable

    probs = [f"p{i}" for i in range(40)]
    select = probs[::4]                                          # p0, p4, ..., p36
    score = [p for p in probs if p not in select]

    def arm(label, solved_at):  # solved_at: {step: problems solved}; 3 seeds, seed s solves s more
        return [(label, s, st, p, 1, int(i < k + s), 0, float(i < k + s)) for s in range(3)
                for st, k in solved_at.items() for i, p in enumerate(probs)]

    curve = _curve(arm("pi1", {0: 10, 4: 28, 8: 26}) + arm("full_set", {0: 10, 4: 30, 8: 30})
                   + arm("entropy_only", {0: 10, 4: 9, 8: 10}))
    train = pd.DataFrame({"label": "pi1", "seed": [0, 1, 2], "step": 1, "accuracy": 0.5})  # never saturates
    out = osr.claims(curve, train, select, score, 0.9, n_boot=200)
    assert isinstance(out["OS-1d"], Checked) and isinstance(out["OS-2"], Untestable)
    def on_score(k):  # share of the scoring problems among the first k
        return np.mean([np.mean([p in score for p in probs[:k + s]]) * (k + s) / 30 for s in range(3)])

    base, pi1, full = on_score(10), on_score(28), on_score(30)                     # pi1's peak on select: step 4
    assert out["OS-1d"].estimate.value == pytest.approx(pi1 - 0.5 * base - 0.5 * full)
    # entropy-only ties on select at steps 4 and 8 (step 0 is the base, not a checkpoint): the earlier one counts
    assert out["OS-4t"].value == pytest.approx(on_score(9) - base)
    assert "OS-3b" in out and out["OS-3b"] is None   # no no_entropy arm ran
    # paired by seed: the same difference, without the seed offset both arms share (seed s solves s more)
    pairs = osr.claims(curve, train, select, score, 0.9, n_boot=200, paired=True)
    assert pairs["OS-4t"].value == pytest.approx(out["OS-4t"].value)
    assert pairs["OS-4t"].hi - pairs["OS-4t"].lo < out["OS-4t"].hi - out["OS-4t"].lo
    sweep = _curve(arm("pi1", {0: 10, 4: 28}) + arm("same", {0: 10, 4: 28}) + arm("less", {0: 10, 4: 20}))
    tab = osr.sweep_table(sweep, ["same", "less"], select, score, n_boot=200).set_index("arm")
    assert tab.loc["same", "identical_to_pi1"] == 1.0 and tab.loc["same", "accuracy_minus_pi1"] == 0.0
    assert tab.loc["less", "accuracy_minus_pi1"] == pytest.approx(on_score(20) - on_score(28))
    side = osr.claims(curve[~((curve["label"] == "entropy_only") & (curve["seed"] == 2))], train, select, score, 0.9,
                      n_boot=200, paired=True)                                   # a side arm on seeds 0 and 1 only
    assert side["OS-4t"].n_seeds == 2 and side["OS-4t"].value == pytest.approx(pairs["OS-4t"].value)
    flat = _curve(arm("pi1", {0: 10, 4: 10}) + arm("full_set", {0: 10, 4: 10}))
    assert isinstance(osr.claims(flat, train, select, score, 0.9, n_boot=200)["OS-1d"], Untestable)


def test_saturation_probe_measures_at_saturation_and_at_the_end_only(tmp_path):
    import json
    from types import SimpleNamespace

    from workbook.rl.probes import ProbeContext

    rollouts = tmp_path / "rollouts.jsonl"
    acc = {1: 2, 2: 5, 3: 8, 4: 7, 5: 8, 6: 8}                       # of 8 per step: 0.9 first reached at step 3
    rollouts.write_text("".join(json.dumps({"step": s, "problem_id": f"p#{i}", "n": 4, "n_correct": c // 2
                                            + (i == 0) * (c % 2)}) + "\n" for s, c in acc.items() for i in range(2)))
    assert not osr.rollout_saturated(rollouts, 0.9, 2) and osr.rollout_saturated(rollouts, 0.9, 3)
    assert osr.rollout_saturated(rollouts, 0.9, 6) and not osr.rollout_saturated(tmp_path / "none.jsonl", 0.9, 6)

    class Counting(osr.SaturationProbe):
        def measure(self, model, ctx, step):
            return [{"problem_id": "q", "n": 1}]

    probe = Counting(("q",), every=2, threshold=0.9)
    assert probe.name == "post" and not probe.at_start
    cb = probe.callback(ProbeContext(tmp_path, None, None, ""))
    for s in range(1, 7):                                             # saturated at 3: first even step 4, then 6
        cb.on_step_end(None, SimpleNamespace(global_step=s, is_world_process_zero=True), None)
    cb.on_train_end(None, SimpleNamespace(global_step=6, is_world_process_zero=True), None)
    assert [r["step"] for r in map(json.loads, probe.path(tmp_path).read_text().splitlines())] == [4, 6]


def test_claims_read_the_post_saturation_probe_when_given():
    train = pd.DataFrame({"label": "pi1", "seed": [0, 0, 1, 1], "step": [1, 2, 1, 2], "accuracy": [0.95, 1.0] * 2})
    curve = _curve([("pi1", s, st, "c", 4, 2, 0, 0.5) for s in (0, 1) for st in (0, 2, 4)])   # flat
    post = _curve([("pi1", s, st, p, 4, 2 + (st == 4) * (p < "b"), 1 - (st == 4), 0.0) for s in (0, 1)
                   for st in (2, 4) for p in ("a", "b")]).assign(accuracy=lambda d: d["n_correct"] / d["n"])
    flat = osr.claims(curve, train, ["c"], ["c"], 0.9, n_boot=200)
    assert flat["OS-2"].value == 0.0
    out = osr.claims(curve, train, ["c"], ["c"], 0.9, n_boot=200, post=post)
    assert out["OS-2"].value == pytest.approx(0.125) and out["OS-2"].n == 2     # (0.25 + 0) / 2 on a, b
    assert out["OS-2m"].value == pytest.approx(-0.25)


def test_os2c_reads_the_post_probe_only_when_it_measured_both_worlds():
    """With the post probe on pi1 alone (post_arms), OS-2c compares the worlds on the curve's problems, where both
    were measured; with pi1_control in the probe too, on the probe's problems."""
    train = pd.DataFrame({"label": np.repeat(["pi1", "pi1_control"], 4), "seed": [0, 0, 1, 1] * 2,
                          "step": [1, 2] * 4, "accuracy": 0.95})
    rows = [("pi1", s, st, "c", 4, 2 + (st == 4), 0, 0.0) for s in (0, 1) for st in (0, 2, 4)]     # curve: +0.25
    rows += [("pi1_control", s, st, "c", 4, 2, 0, 0.0) for s in (0, 1) for st in (0, 2, 4)]        # curve: flat
    curve = _curve(rows).assign(accuracy=lambda d: d["n_correct"] / d["n"])

    def post(labels, gain):  # the probe: pi1 gains `gain` on a and b, the control nothing
        return _curve([(lab, s, st, p, 4, 2 + (st == 4) * gain * (lab == "pi1"), 0, 0.0) for lab in labels
                       for s in (0, 1) for st in (2, 4) for p in ("a", "b")]).assign(
            accuracy=lambda d: d["n_correct"] / d["n"])

    alone = osr.claims(curve, train, ["c"], ["c"], 0.9, n_boot=200, post=post(["pi1"], 2))
    assert alone["OS-2"].value == pytest.approx(0.5)                                  # OS-2 reads the probe
    assert alone["OS-2c"].value == pytest.approx(0.25)                                # OS-2c the curve
    both = osr.claims(curve, train, ["c"], ["c"], 0.9, n_boot=200, post=post(["pi1", "pi1_control"], 2))
    assert both["OS-2c"].value == pytest.approx(0.5)
    params, _ = resolve_params("one_shot_rlvr", "cpu")
    assert params["post_arms"] == ["pi1"]
    osr.validate({**params, "post_arms": ["pi1", "pi1_control"]})
    with pytest.raises(ParameterError, match="post_arms"):
        osr.validate({**params, "post_arms": ["pi1_control"]})


def test_run_jobs_refuses_duplicate_runs_and_post_problems_need_a_curve():
    from workbook.rl import experiments as ex

    spec = ex.RunSpec("pi1", "one_shot_rlvr", ["x"], 0)
    with pytest.raises(ValueError, match="duplicate"):
        ex.run_jobs([(spec, None, ()), (spec, None, ())], run_root="/tmp/none")
    params, _ = resolve_params("one_shot_rlvr", "cpu")
    with pytest.raises(ParameterError, match="n_post_problems"):
        osr.validate({**params, "n_eval_problems": 0})


def test_paper_claims_read_entropy_only_at_step_60_for_the_third_party_check():
    probs = [f"p{i}" for i in range(8)]
    curve = _curve([(lab, 0, st, p, 1, int(i < k), 0, float(i < k)) for lab, ks in
                    [("pi1", {0: 2, 60: 5, 120: 6}), ("entropy_only", {0: 2, 60: 6, 120: 3})]
                    for st, k in ks.items() for i, p in enumerate(probs)])
    final = pd.DataFrame([{"label": lab, "seed": 0, "problem_id": p, "dataset": "math500", "n": 1, "n_correct": c}
                          for lab, c in (("base", 0), ("pi1", 1)) for p in probs])
    train = pd.DataFrame({"label": "pi1", "seed": [0], "step": [1], "accuracy": [0.5]})
    out = osr.claims(curve, train, probs[:4], probs[4:], 0.9, final=final, datasets=["math500"], n_boot=200)
    assert osr.OS4B_STEP == 60 and out["OS-4b"].value == pytest.approx((6 - 2) / 8)   # step 60, not its last (120)
    assert out["OS-1a"].value == 0.0 and out["OS-1b"].value == 1.0
