"""workbook.papers.nsr: the categorical gradient (Sec. 4 of Zhu et al. 2025), distinct-solution counting, pass@k
curves, the diversity probe; the notebook's profiles, cost plan and reported claims."""

import ast
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from workbook.metrics import pass_at_k
from workbook.papers import nsr as na
from workbook.params import ParameterError, resolve_params
from workbook.paths import notebooks_dir
from workbook.reporting import load_reported, reported_vs_reproduced


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


PROBS = [0.30, 0.25, 0.20, 0.12, 0.08, 0.05]


def test_nsr_raises_other_logits_in_proportion_to_prior():
    df = na.logit_shift(PROBS, sampled=2, reward=0.0, method="nsr", lr=0.1)
    others = df[~df["sampled"]]
    np.testing.assert_allclose(others["dlogit_over_lr_p"], 1.0, atol=1e-5)
    sampled = df[df["sampled"]].iloc[0]
    assert sampled["dlogit"] == pytest.approx(-0.1 * (1 - 0.20), abs=1e-6)
    assert sampled["p_after"] < sampled["p_before"]
    # mass moves to every other candidate, and more to those the model already preferred
    gain = (others["p_after"] - others["p_before"]).to_numpy()
    assert (gain > 0).all() and np.all(np.diff(gain) < 0)


def test_psr_pushes_others_down_in_proportion_to_prior():
    df = na.logit_shift(PROBS, sampled=0, reward=1.0, method="psr", lr=0.1)
    np.testing.assert_allclose(df.loc[~df["sampled"], "dlogit_over_lr_p"], -1.0, atol=1e-5)
    assert df.loc[df["sampled"], "p_after"].iloc[0] > PROBS[0]


def test_correct_sample_gives_nsr_no_gradient_and_wrong_sample_gives_psr_none():
    z = torch.log(torch.tensor(PROBS, dtype=torch.float64))
    same = na.categorical_step(z, torch.tensor([1]), torch.tensor([1.0]), "nsr", lr=1.0)
    torch.testing.assert_close(same, z)
    same = na.categorical_step(z, torch.tensor([1]), torch.tensor([0.0]), "psr", lr=1.0)
    torch.testing.assert_close(same, z)


def test_w_reinforce_is_lambda_weighted_psr_plus_nsr():
    z = torch.log(torch.tensor(PROBS, dtype=torch.float64))
    acts, rew = torch.tensor([0, 3, 5, 0]), torch.tensor([1.0, 0.0, 0.0, 1.0])
    dz = lambda m, **kw: na.categorical_step(z, acts, rew, m, lr=0.01, **kw) - z  # noqa: E731
    torch.testing.assert_close(dz("w_reinforce", lam=0.3), 0.3 * dz("psr") + dz("nsr"), atol=1e-6, rtol=1e-4)


def test_clip_stops_later_mini_batches():
    """Four disjoint mini-batches of one wrong sample each: after the first update the sampled token's ratio is below
    1 - 0.2, so the clipped branch gives the next three mini-batches no gradient."""
    z = torch.log(torch.tensor(PROBS, dtype=torch.float64))
    z1 = na.categorical_step(z, torch.tensor([0]), torch.tensor([0.0]), "nsr", lr=5.0, updates=1)
    assert torch.softmax(z1, -1)[0] / PROBS[0] < 0.8
    acts, rew = torch.tensor([0, 0, 0, 0]), torch.tensor([0.0] * 4)
    torch.testing.assert_close(na.categorical_step(z, acts, rew, "nsr", lr=5.0, updates=4), z1)
    unclipped = na.categorical_step(z, acts, rew, "nsr", lr=5.0, updates=4, clip_low=10.0, clip_high=10.0)
    assert torch.softmax(unclipped, -1)[0] < torch.softmax(z1, -1)[0]


def test_mini_batches_are_disjoint_slices_of_the_batch():
    """With the clip off, 2 mini-batches = the first half's step, then the second half's step from there (each
    against the batch's old log-probs); one update on the whole batch is a different step."""
    z = torch.log(torch.tensor(PROBS, dtype=torch.float64))
    acts, rew = torch.tensor([1, 4, 2, 5]), torch.tensor([0.0, 0.0, 0.0, 0.0])
    off = {"clip_low": 100.0, "clip_high": 100.0}
    two = na.categorical_step(z, acts, rew, "nsr", lr=0.3, updates=2, **off)
    first = na.categorical_step(z, acts[:2], rew[:2], "nsr", lr=0.3, updates=1, **off)
    # the second step's ratio uses the batch's old log-probs; unclipped, its gradient is -A * ratio * grad log p
    logp0 = torch.log_softmax(z, -1)
    zz = first.clone().requires_grad_(True)
    ratio = torch.exp(torch.log_softmax(zz, -1)[acts[2:]] - logp0[acts[2:]])
    (grad,) = torch.autograd.grad((ratio * 1.0).mean(), zz)  # NSR: A = -1 on wrong samples, loss = -A * ratio
    torch.testing.assert_close(two, first - 0.3 * grad)
    assert not torch.allclose(two, na.categorical_step(z, acts, rew, "nsr", lr=0.3, updates=1, **off))
    with pytest.raises(ValueError, match="mini-batches"):
        na.categorical_step(z, acts[:3], rew[:3], "nsr", updates=2)


def test_categorical_training_is_seeded_and_reports_pass_at_k():
    prior = np.log([0.2, 0.1, 0.3, 0.4])
    a = na.categorical_training(prior, [True, True, False, False], "nsr", steps=5, n=4, lr=0.3, seed=3, ks=(1, 4))
    b = na.categorical_training(prior, [True, True, False, False], "nsr", steps=5, n=4, lr=0.3, seed=3, ks=(1, 4))
    pd.testing.assert_frame_equal(a, b)
    assert a["p_correct"].iloc[0] == pytest.approx(0.3)
    np.testing.assert_allclose(a["pass@4"], 1 - (1 - a["p_correct"]) ** 4)
    assert a["p_correct"].iloc[-1] > a["p_correct"].iloc[0]  # NSR removes mass from wrong answers
    with pytest.raises(ValueError):
        na.categorical_training(prior, [False] * 4, "nsr")


def test_logit_shift_rejects_bad_probs():
    with pytest.raises(ValueError):
        na.logit_shift([0.5, 0.6], 0, 0.0)


def test_count_distinct_correct():
    texts = ["1+2=3\n\\boxed{3}", "1+2=3 \\boxed{3}", "2+1=3 \\boxed{3}", "1+2=4 \\boxed{4}"]
    assert na.count_distinct_correct(texts, [True, True, True, False]) == 2  # first two differ only in spacing
    assert na.count_distinct_correct(texts, [False] * 4) == 0
    with pytest.raises(ValueError):
        na.count_distinct_correct(texts, [True])


def _final(rows):
    return pd.DataFrame(rows, columns=["label", "seed", "problem_id", "n", "n_correct"])


def test_pass_at_k_curves_average_seeds_per_problem():
    final = _final([("a", 0, "p1", 8, 2), ("a", 1, "p1", 8, 4), ("a", 0, "p2", 8, 0), ("a", 1, "p2", 8, 8),
                    ("b", 0, "p1", 8, 8), ("b", 0, "p2", 8, 8)])
    cur = na.pass_at_k_curves(final, [1, 2, 8], n_boot=200)
    a1 = cur.query("label == 'a' and k == 1").iloc[0]
    assert a1["value"] == pytest.approx(np.mean([(2 / 8 + 4 / 8) / 2, (0 + 1) / 2]))
    a2 = cur.query("label == 'a' and k == 2").iloc[0]
    expect = np.mean([(pass_at_k(8, 2, 2) + pass_at_k(8, 4, 2)) / 2, 0.5])
    assert a2["value"] == pytest.approx(expect)
    assert a1["n"] == 2 and a1["seeds"] == 2 and a1["lo"] <= a1["value"] <= a1["hi"]
    assert cur.query("label == 'b'")["value"].eq(1.0).all()


def test_pass_at_k_curves_reach_each_labels_own_largest_k_with_a_seeds_by_problems_interval():
    from workbook.metrics import hierarchical_bootstrap

    rng = np.random.default_rng(0)
    rows = [("base", 0, f"p{i}", 32, int(rng.integers(0, 6))) for i in range(12)]
    rows += [("arm", s, f"p{i}", 8, int(rng.integers(0, 3))) for s in range(3) for i in range(12)]
    cur = na.pass_at_k_curves(_final(rows), [1, 2, 4, 8, 16, 32], n_boot=200)
    assert cur.query("label == 'base'")["k"].tolist() == [1, 2, 4, 8, 16, 32]
    assert cur.query("label == 'arm'")["k"].max() == 8  # no pass@k beyond the arm's own n
    arm4 = cur.query("label == 'arm' and k == 4").iloc[0]
    e = hierarchical_bootstrap(na.seed_problem_pass(_final(rows), "arm", [4]), n_boot=200, bounds=(0, 1))
    assert (arm4["value"], arm4["lo"], arm4["hi"], arm4["seeds"]) == pytest.approx((e.value, e.lo, e.hi, 3))


def test_pass_at_k_difference_is_paired_and_signed():
    final = _final([("x", 0, f"p{i}", 16, c) for i, c in enumerate([2, 4, 6, 8, 10])]
                   + [("base", 0, f"p{i}", 16, c) for i, c in enumerate([1, 2, 3, 4, 5])])
    d = na.pass_at_k_difference(final, "x", "base", [1], n_boot=500)
    assert d.value == pytest.approx(np.mean([1, 2, 3, 4, 5]) / 16)
    assert d.lo > 0 and d.n == 5
    assert na.pass_at_k_difference(final, "base", "x", [1], n_boot=500).value == pytest.approx(-d.value)
    assert na.pass_at_k_difference(final, "nope", "x", [1]) is None
    with pytest.raises(ValueError, match="no final evaluation rows"):
        na.mean_pass_at_k(final, "nope", [1])


def test_paper_ks():
    assert na.paper_ks(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert na.paper_ks(6) == [1, 2, 4, 6]


def test_diversity_rows_count_distinct_and_nll():
    frame = pd.DataFrame({"problem_id": ["p"] * 3 + ["q"], "dataset": "d", "text": ["a b", "a  b", "c", "x"],
                          "correct": [True, True, True, False], "logprobs": [[-1.0, -1.0], [-1.0], [-4.0], [-2.0]],
                          "n_tokens": [2, 1, 1, 1]})  # fmt: skip
    p, q = na.diversity_rows(frame)
    assert (p["n"], p["n_correct"], p["n_distinct_correct"], p["n_distinct"]) == (3, 3, 2, 2)
    assert p["nll"] == pytest.approx(7 / 4) and p["length"] == pytest.approx(4 / 3)
    assert (q["n_correct"], q["n_distinct_correct"]) == (0, 0)


def test_diversity_probe_is_seeded_on_the_smoke_toy():
    from workbook.data.synthetic import generate_problems
    from workbook.rl.experiments import ExperimentConfig, evaluate

    problems = generate_problems(2, 5, split="test")
    probe = na.DiversityProbe(problems, n=4, max_new_tokens=24)
    cfg = ExperimentConfig(model="toy-reasoner-smoke")
    a, b = (evaluate(cfg, [probe], seed=1)["diversity"] for _ in range(2))
    pd.testing.assert_frame_equal(a, b)
    assert list(a["problem_id"]) == [p.problem_id for p in problems] and (a["n"] == 4).all()
    assert ((0 <= a["n_distinct_correct"]) & (a["n_distinct_correct"] <= a["n_correct"])).all()
    assert (a["n_distinct"] <= 4).all() and (a["nll"] > 0).all()


def test_pass_at_k_frame_is_tidy():
    final = _final([("a", 0, "p1", 8, 2), ("a", 1, "p1", 8, 8)])
    f = na.pass_at_k_frame(final, [1, 8])
    assert len(f) == 4 and set(f.columns) == {"label", "seed", "problem_id", "k", "pass_at_k"}
    assert f.query("seed == 0 and k == 1")["pass_at_k"].iloc[0] == pytest.approx(0.25)


# ---- the notebook's profiles, plan and claims ---------------------------------------------------------------------

NB_PY = Path(notebooks_dir()) / "nsr.py"


def test_paper_profile_is_the_official_recipe():
    params, runner = resolve_params("nsr", "paper")
    assert params["model"] == "qwen2.5-math-7b" and params["num_generations"] == 8
    assert params["learning_rate"] == 1e-6 and params["eval_n"] == 256
    assert params["eval_temperature"] == 0.6 and params["eval_top_p"] == 0.95
    assert params["eval_max_new_tokens"] == 4096
    assert set(params["eval_benchmarks"]) == {"math500", "aime25", "amc23"}
    assert params["updates_per_rollout"] == 4 and params["prompts_per_step"] * 4 == 1024
    assert set(params["methods"]) == {"grpo", "psr", "nsr", "w_reinforce"}
    assert runner["timeout_s"] > 86400


def test_paper_plan_without_loading_a_model():
    params, _ = resolve_params("nsr", "paper")
    before = set(sys.modules)
    plan = na.plan(params)
    assert "GPU-hours" in plan["summary"]
    assert plan["runs"] == 4 and plan["total_rollouts"] == 4 * 440 * 256 * 8
    assert plan["params_b"] == pytest.approx(7.62) and plan["eval_tokens"] > 0 and plan["gpu_hours"] > 10
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("vllm", "trl", "workbook.models", "transformers")) for m in loaded), sorted(loaded)


def test_one_gpu_variant_plan_is_cheaper():
    params, _ = resolve_params("nsr", "paper", overrides={"model": "qwen2.5-math-1.5b"})
    assert na.plan(params)["gpu_hours"] < na.plan(resolve_params("nsr", "paper")[0])["gpu_hours"]


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_profile_resolves_and_plans(profile):
    params, _ = resolve_params("nsr", profile)
    assert params["profile"] == profile and "nsr" in params["methods"]
    assert na.plan(params)["runs"] == len(params["methods"]) * len(params["seeds"]) + len(params["lam_sweep"])


def test_validate_rejects_unknown_arms_and_negative_lambda():
    params, _ = resolve_params("nsr", "smoke")
    na.validate(params)
    with pytest.raises(ParameterError, match="methods"):
        na.validate({**params, "methods": ["nsr", "ppo"]})
    with pytest.raises(ParameterError, match="lam_sweep"):
        na.validate({**params, "lam_sweep": [-0.1]})


def test_parameters_cell_is_literals_and_notebook_pair_in_sync():
    src = NB_PY.read_text()
    assert '# %% tags=["parameters"]' in src and '# %% tags=["solution"]' in src
    import nbformat

    nb = nbformat.read(NB_PY.with_suffix(".ipynb"), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit without outputs"
    params_cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params_cells) == 1
    for node in ast.parse(params_cells[0].source).body:
        assert isinstance(node, ast.Assign)
        ast.literal_eval(node.value)
    import jupytext

    paired = jupytext.read(NB_PY)
    assert [c.source for c in paired.cells] == [c.source for c in nb.cells], "run jupytext --sync notebooks/nsr.py"


def test_reported_claims_load_and_verdicts_compute():
    claims = load_reported("nsr")
    ids = {c["id"] for c in claims}
    assert {"NSR-1a", "NSR-1b", "NSR-1c", "NSR-2a", "NSR-2b", "NSR-2c", "NSR-3a", "NSR-3b", "NSR-3c", "NSR-3d", "NSR-4",
            "NSR-1p"} <= ids
    assert all(c["source"] for c in claims)
    from workbook.metrics import Estimate

    df = reported_vs_reproduced("nsr", {"NSR-1a": Estimate(0.05, 0.01, 0.09, 16),
                                        "NSR-2b": Estimate(0.02, 0.01, 0.03, 16),
                                        "NSR-4": Estimate(1e-7, 1e-7, 1e-7, 5)}, "cpu")
    v = dict(zip(df["claim_id"], df["verdict"]))
    assert v["NSR-1a"] == "reproduced" and v["NSR-2b"] == "not reproduced" and v["NSR-4"] == "check passed"
    assert v["NSR-1p"] == "not run at this scale" and v["NSR-3a"] == "not run at this scale"


def test_nsr3a_is_the_noninferiority_contrast_and_needs_grpo_to_beat_the_base():
    from workbook.reporting.verdicts import Checked, Untestable

    rng = np.random.default_rng(0)
    probs = [f"p{i}" for i in range(30)]
    base_c = rng.integers(0, 5, 30)

    def arm(label, seeds, lift):
        return [(label, s, p, 16, int(min(16, c + lift + (s + i) % 2))) for s in seeds for i, (p, c) in
                enumerate(zip(probs, base_c))]

    base = [("base", s, p, 16, int(c)) for s in range(3) for p, c in zip(probs, base_c)]   # one draw per seed
    final = _final(base + arm("grpo", [0, 1, 2], 6) + arm("nsr", [0, 1, 2], 5))
    ks = [1, 2, 4]
    est = na.noninferiority(final, "nsr", "grpo", ks, n_boot=200)
    assert isinstance(est, Checked)
    x, b, g = (na.seed_problem_pass(final, lab, ks) for lab in ("nsr", "base", "grpo"))
    assert x.shape == (3, 30) and b.shape == (3, 30)
    assert est.estimate.value == pytest.approx(x.mean() - 0.5 * b.mean() - 0.5 * g.mean())
    df = reported_vs_reproduced("nsr", {"NSR-3a": est}, "cpu")
    assert df.set_index("claim_id").loc["NSR-3a", "verdict"] == "reproduced"   # NSR keeps most of GRPO's gain
    flat = _final(base + [("grpo", s, p, 16, int(c)) for s in range(3) for p, c in zip(probs, base_c)]
                  + arm("nsr", [0, 1, 2], 5))
    assert isinstance(na.noninferiority(flat, "nsr", "grpo", ks, n_boot=200), Untestable)  # no gain to keep
    assert na.noninferiority(final, "w_reinforce", "grpo", ks) is None


def test_the_rl_notebooks_default_instruction_is_the_one_math_instruction():
    # parameters cells hold literals only (workbook.params), so the string is repeated there; this keeps the copies
    # equal to the one prompt-building constant
    from workbook.generation import MATH_INSTRUCTION
    from workbook.params import notebook_defaults

    for nb in ("nsr", "one_shot_rlvr", "lp_reg"):
        assert notebook_defaults(nb)["instruction"] == MATH_INSTRUCTION, nb


# ---- the large-k regime: hard pool, curve differences, learning signal ---------------------------------------------

def test_hard_candidates_come_from_the_hard_tier_and_differ_from_in_distribution():
    hard = na.regime.hard_candidates(6, 3)
    assert all(p.dataset == "hard" and p.problem_id.startswith("hard-") for p in hard)
    assert all(p.metadata["n_operands"] in (5, 6) for p in hard)
    assert [p.problem for p in hard] == [p.problem for p in na.regime.hard_candidates(6, 3)]


def test_screen_pool_keeps_the_band_and_the_limit():
    counts = pd.DataFrame({"problem_id": list("abcde"), "n": 32, "n_correct": [0, 1, 3, 4, 2]})
    s = na.regime.screen_pool(counts, 16, (0.3, 0.9))
    assert s["pass_at_k"].iloc[1] == pytest.approx(0.5)              # 1 of 32 at k = 16: 1 - C(31,16)/C(32,16)
    assert s["keep"].tolist() == [False, True, True, False, True]    # 0 -> 0, 4 -> 0.95: outside the band
    assert na.regime.screen_pool(counts, 16, (0.3, 0.9), limit=2)["keep"].tolist() == [False, True, True, False, False]
    with pytest.raises(ValueError, match="band"):
        na.regime.screen_pool(counts, 16, (0.9, 0.3))
    with pytest.raises(ValueError, match="k = 64"):
        na.regime.screen_pool(counts, 64)


def _two_sets(lift_nsr=3, lift_psr=-1, seeds=(0, 1, 2), n=16, n_problems=24, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(1, 4, n_problems)
    rows = [("base", s, f"h{i}", "hard", n, int(c)) for s in seeds for i, c in enumerate(base)]
    rows += [("base", s, f"e{i}", "synthetic", n, 12) for s in seeds for i in range(n_problems)]
    for label, lift in (("nsr", lift_nsr), ("psr", lift_psr), ("grpo", 0), ("w_reinforce", lift_nsr)):
        for s in seeds:
            rows += [(label, s, f"h{i}", "hard", n, int(np.clip(c + lift + (s + i) % 2, 0, n)))
                     for i, c in enumerate(base)]
            rows += [(label, s, f"e{i}", "synthetic", n, 12 + (lift > 0)) for i in range(n_problems)]
    return pd.DataFrame(rows, columns=["label", "seed", "problem_id", "dataset", "n", "n_correct"])


def test_curve_differences_and_k_star():
    final = _two_sets()
    hard = final[final["dataset"] == "hard"]
    ks = na.paper_ks(16)
    d = na.regime.curve_differences(hard, "nsr", "base", ks, n_boot=200)
    assert d["k"].tolist() == ks and (d["lo"] <= d["value"]).all() and (d["value"] <= d["hi"]).all()
    assert d.loc[d["k"] == 1, "lo"].iloc[0] > 0                     # +3 or +4 successes of 16 on every problem
    assert d["seeds"].eq(3).all() and d["n"].eq(24).all()
    k_star = na.regime.largest_k_below(hard, "base", ks, 0.95)
    assert k_star in ks and float(np.mean(na.regime.k_matrix(hard, "base", [k_star]))) < 0.95
    assert na.regime.largest_k_below(hard, "base", ks, 0.01) is None
    tail = na.regime.mean_over_k(hard, "psr", "base", ks, 8, n_boot=200)
    assert tail.value < 0 and na.regime.mean_over_k(hard, "psr", "base", ks, 32) is None


def test_paired_contrast_cancels_what_the_arms_share_and_needs_common_seeds():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 9, (3, 20))                                   # sampling noise: different per seed
    rows = [(lab, s, f"p{j}", 16, int(c + lift)) for lab, lift in (("base", 0), ("nsr", 2)) for s in range(3)
            for j, c in enumerate(base[s])]
    final = _final(rows)
    e = na.regime.paired_contrast(final, ["nsr", "base"], [1, -1], [1], n_boot=200)
    assert e.value == pytest.approx(2 / 16) and e.hi - e.lo < 1e-9 and e.n_seeds == 3   # the shared noise is gone
    assert na.regime.paired_sd(final, "nsr", "base", [1])["sd"] == pytest.approx(0.0, abs=1e-12)
    assert na.regime.paired_contrast(final, ["psr", "base"], [1, -1], [1]) is None
    lone = _final([r for r in rows if r[0] == "nsr"] + [("base", 9, f"p{j}", 16, 1) for j in range(20)])
    with pytest.raises(ValueError, match="share no seed"):
        na.regime.paired_contrast(lone, ["nsr", "base"], [1, -1], [1])


def test_same_draws_sample_with_the_run_seed_and_digests_tell_identical_completions(tmp_path):
    from workbook.data.synthetic import generate_problems
    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.probes import ProbeContext

    model, tok = load_model("toy-reasoner-smoke")
    ctx = ProbeContext(tmp_path, tok, Grader(), "Solve.", seed=3)
    problems = generate_problems(2, 5, split="test")
    crn = na.DiversityProbe(problems, n=4, max_new_tokens=24, temperature=0.6, same_draws=True)
    fresh = na.DiversityProbe(problems, n=4, max_new_tokens=24, temperature=0.6)
    at0, at7 = crn.measure(model, ctx, 0), crn.measure(model, ctx, 7)
    assert at0 == at7 and all(len(r["digests"].split()) == 4 for r in at0)   # the step does not enter the seed
    frame = pd.DataFrame([{**r, "label": lab, "seed": 3} for lab, rows in
                          (("base", at0), ("crn", at7), ("fresh", fresh.measure(model, ctx, 7))) for r in rows])
    assert na.identical_share(frame, "crn", "base")["identical"].tolist() == [1.0]
    assert na.identical_share(frame, "fresh", "base")["identical"].iloc[0] < 1.0
    assert na.sample_digests(["a  b", "a b", "c"]).split()[:2] == na.sample_digests(["a b", "a b"]).split()


def test_claims_read_pass1_in_distribution_and_large_k_on_the_hard_pool():
    final = _two_sets()
    ks = na.paper_ks(16)
    est, ctx = na.claims(final, list(na.ARMS), ks, n_boot=200)
    assert ctx["k_star"] == na.regime.largest_k_below(final[final["dataset"] == "hard"], "base", ks)
    assert est["NSR-1a"].value == pytest.approx(1 / 16)             # in-distribution: 13 vs 12 of 16
    assert est["NSR-1b"].lo > 0 and est["NSR-2b"].hi < 0 and est["NSR-1c"].value > 0
    v = dict(zip(*reported_vs_reproduced("nsr", est, "cpu")[["claim_id", "verdict"]].T.values))
    assert v["NSR-1b"] == "reproduced" and v["NSR-2b"] == "reproduced" and v["NSR-3c"] == "reproduced"
    flipped, _ = na.claims(_two_sets(lift_nsr=-1, lift_psr=3), list(na.ARMS), ks, n_boot=200)
    v = dict(zip(*reported_vs_reproduced("nsr", flipped, "cpu")[["claim_id", "verdict"]].T.values))
    assert v["NSR-1b"] == "not reproduced" and v["NSR-2b"] == "not reproduced"


def test_group_signal_uses_each_arms_advantage_rule():
    hist = pd.DataFrame({"label": ["grpo"] * 3 + ["nsr"] * 3 + ["psr"] * 3, "method": ["grpo"] * 3 + ["nsr"] * 3
                         + ["psr"] * 3, "seed": 0, "step": 1, "n": 8, "n_correct": [0, 3, 8] * 3,
                         "n_distinct_correct": [0, 2, 1] * 3})  # fmt: skip
    g = na.regime.group_signal(hist).set_index("label")
    assert g.loc["grpo", "nonzero_adv"] == pytest.approx(1 / 3)     # only the mixed group
    assert g.loc["nsr", "nonzero_adv"] == pytest.approx(2 / 3)      # every group with a wrong answer
    assert g.loc["psr", "nonzero_adv"] == pytest.approx(2 / 3)      # every group with a right answer
    assert g["all_wrong"].eq(1 / 3).all() and g["distinct_correct"].eq(1.0).all()


def test_training_problems_mix_the_hard_tier():
    mixed = na.training_problems("synthetic", 8, 0.5, seed=1)
    assert [p.dataset for p in mixed] == ["hard", "synthetic"] * 4
    assert all(p.metadata["split"] == "train" for p in mixed)
    assert [p.dataset for p in na.training_problems("synthetic", 4, 0.0)] == ["synthetic"] * 4
    with pytest.raises(ValueError, match="n_train_problems"):
        na.training_problems("synthetic", 0, 0.5)


# ---- paper profile: MATH train, its epochs, the official prompt ---------------------------------------------------

def test_math_train_loader_reads_a_local_file_and_checks_its_sha(tmp_path):
    import json

    from workbook.data.benchmarks import sha256_file

    path = tmp_path / "math_train.jsonl"
    rows = [{"problem": "What is $1+1$?", "solution": "It is $\\boxed{2}$.", "level": "Level 1"},
            {"problem": "Simplify $\\frac{2}{4}$.", "solution": "We get \\boxed{\\frac{1}{2}}."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    probs = na.math_train.load_math_train(path=path, sha256=sha256_file(path))
    assert [p.answer for p in probs] == ["2", "\\frac{1}{2}"] and probs[0].dataset == "math_train"
    assert len(na.math_train.load_math_train(limit=1, path=path)) == 1
    with pytest.raises(ValueError, match="sha256"):
        na.math_train.load_math_train(path=path, sha256="0" * 64)
    with pytest.raises(FileNotFoundError):
        na.math_train.load_math_train(path=tmp_path / "missing.jsonl")
    path.write_text(json.dumps({"problem": "x", "solution": "no box"}) + "\n")
    with pytest.raises(ValueError, match="boxed"):
        na.math_train.load_math_train(path=path)


def test_math_train_refuses_to_download_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("WORKBOOK_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="downloads are off"):
        na.math_train.load_math_train()


def test_official_prompt_template():
    msgs = na.math_train.official_messages("What is 2+3?")
    assert msgs[0] == {"role": "system", "content": "You are a helpful assistant."}
    assert msgs[1]["content"] == ("What is 2+3?\nPlease reason step by step, and put your final answer within "
                                  "\\boxed{}.")
    assert na.math_train.last_boxed("a \\boxed{x^{2}} b \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert na.math_train.last_boxed("no box") is None


def test_paper_plan_prints_its_epochs_and_dsr_sub_is_a_named_deviation():
    params, _ = resolve_params("nsr", "paper")
    assert params["train_set"] == "math_train"
    math = na.plan(params)
    assert math["epochs"] == pytest.approx(440 * 256 / 7500) and "epochs" in math["summary"]
    dsr = na.plan({**params, "train_set": "one_shot_rlvr_dsr_sub"})
    assert dsr["epochs"] == pytest.approx(440 * 256 / 1209) and dsr["epochs"] > 90


def test_rollout_log_counts_distinct_correct_completions(tmp_path):
    """The rollout log (``Results.history``) that `regime.group_signal` reads: per group n, n_correct and the
    distinct correct completions up to whitespace."""
    import json
    from types import SimpleNamespace

    from workbook.rl.experiments import _record_rollouts

    def reward(prompts, completions, completion_ids, **kw):
        return [1.0 if "\\boxed{3}" in c else 0.0 for c in completions]

    trainer = SimpleNamespace(reward_funcs=[reward])
    path = tmp_path / "rollouts.jsonl"
    _record_rollouts(trainer, path)
    completions = ["1+2=3 \\boxed{3}", "1+2=3  \\boxed{3}", "2+1=3 \\boxed{3}", "\\boxed{4}", "\\boxed{5}", "\\boxed{6}"]
    trainer.reward_funcs[0](prompts=["p"] * 6, completions=completions, completion_ids=[[0]] * 6,
                            problem_id=["a", "a", "a", "a", "b", "b"], trainer_state=SimpleNamespace(global_step=2))
    rows = {r["problem_id"]: r for r in map(json.loads, path.read_text().splitlines())}
    assert rows["a"] == {"step": 3, "problem_id": "a", "n": 4, "n_correct": 3, "n_distinct_correct": 2}
    assert rows["b"]["n_correct"] == 0 and rows["b"]["n_distinct_correct"] == 0


def test_paper_profile_threads_the_official_system_line_into_rollout_and_probe_prompts():
    from workbook.papers.nsr.math_train import SYSTEM_PROMPT
    from workbook.rl.probes import ProbeContext
    from workbook.rl.trainer import RLConfig, _rows
    from workbook.toy.tokenizer import build_tokenizer

    params, _ = resolve_params("nsr", "paper")
    assert params["system_prompt"] == SYSTEM_PROMPT and resolve_params("nsr", "cpu")[0]["system_prompt"] == ""
    assert "system=system_prompt or None" in NB_PY.read_text()  # the notebook passes it to the RL driver
    tok, inst = build_tokenizer(), params["instruction"]
    problem = {"problem": "What is 2 + 3?", "answer": "5", "problem_id": "p"}
    cfg = RLConfig(system=params["system_prompt"])
    with_sys = _rows([problem], tok, inst, cfg.system)[0]["prompt"]
    probe = ProbeContext(None, tok, None, inst, system=cfg.system).prompt(problem)
    plain = _rows([problem], tok, inst)[0]["prompt"]
    assert with_sys == probe and SYSTEM_PROMPT in with_sys and SYSTEM_PROMPT not in plain
    assert with_sys.index(SYSTEM_PROMPT) < with_sys.index("What is 2 + 3?")


def test_solution_mass_probe_is_exact_and_mass_change_pairs_steps(tmp_path):
    """The mass probe sums the teacher-forced probabilities of the given solutions (checked against a direct
    forward per solution), skips problems without one, and mass_change reads last step minus step 0 per cell."""
    import math

    import pandas as pd
    import torch

    from tests.test_rl_trainer import tiny_policy
    from workbook.papers.nsr.mass import SolutionMassProbe, correct_solutions, mass_change, solution_log_mass
    from workbook.rl.probes import ProbeContext, policy_backend

    model, tok = tiny_policy()
    model.eval()
    sols = ("1+1=2", "2")
    with policy_backend(model, tok, 1) as one, policy_backend(model, tok, 8) as eight:
        got = solution_log_mass(one, "Q:", sols)
        padded = solution_log_mass(eight, "Q:", sols)
        p_ids = one.encode_prompt("Q:")
    direct = []
    with torch.no_grad():
        for s in sols:
            ids = p_ids + tok(s, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            lp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], -1)
            direct.append(sum(float(lp[i - 1, ids[i]]) for i in range(len(p_ids), len(ids))))
    assert math.isclose(got, math.log(sum(math.exp(x) for x in direct)), rel_tol=0, abs_tol=1e-4)
    assert math.isclose(padded, got, abs_tol=1e-4)  # padding

    frame = pd.DataFrame({"problem_id": ["a", "a", "a", "b"], "text": ["x 1", "x  1", "y", "z"],
                          "correct": [True, True, True, False]})
    assert correct_solutions(frame) == {"a": ("x 1", "y")}  # whitespace-normalised duplicates once; b has none

    class P:  # a problem with the attributes the probe and the context read
        def __init__(self, pid):
            self.problem_id, self.problem = pid, "1+1"

    probe = SolutionMassProbe([P("a"), P("b")], solutions={"a": sols})
    rows = probe.measure(model, ProbeContext(tmp_path, tok, None, "", 0), 0)
    assert [r["problem_id"] for r in rows] == ["a"] and rows[0]["n_solutions"] == 2

    m = pd.DataFrame([{"label": "nsr", "seed": s, "problem_id": p, "step": t, "log_mass": v}
                      for s in (0, 1) for p, base in (("a", -2.0), ("b", -3.0))
                      for t, v in ((0, base), (5, base - 0.5 - 0.1 * s))])  # fmt: skip
    est = mass_change(m, "nsr", n_boot=200)
    assert math.isclose(est.value, -0.55, abs_tol=1e-12) and est.n_seeds == 2 and est.lo < -0.55 < est.hi
