"""workbook.papers.lp_reg: the min-p proxy as shown, token selection, the low-probability probe, spark counting;
the notebook's profiles, cost plans and reported claims."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
import torch

from workbook.papers import lp_reg as lpa
from workbook.params import ParameterError, notebook_defaults, resolve_params
from workbook.reporting import load_reported, reported_vs_reproduced
from workbook.rl import objectives as obj


def test_proxy_keeps_tokens_above_kappa_max_and_renormalises():
    p = torch.tensor([0.6, 0.3, 0.09, 0.006, 0.004])
    logits = torch.log(p)
    q, kept, proxy = lpa.proxy_distribution(logits, kappa=0.02)
    assert torch.allclose(q, p, atol=1e-6)
    assert kept.tolist() == [True, True, True, False, False]  # threshold 0.012
    assert torch.allclose(proxy[:3], p[:3] / p[:3].sum(), atol=1e-6)
    assert proxy[3:].tolist() == [0.0, 0.0] and proxy.sum().item() == pytest.approx(1.0)


def test_proxy_agrees_with_the_engines_proxy_logp():
    torch.manual_seed(0)
    logits = torch.randn(5, 17) * 3
    ids = torch.randint(0, 17, (5,))
    _, kept, proxy = lpa.proxy_distribution(logits, kappa=0.05, temperature=0.7)
    engine = obj.min_p_proxy_logp(logits[None], ids[None], kappa=0.05, temperature=0.7)[0]
    k = kept.gather(-1, ids[:, None])[:, 0]
    assert torch.allclose(engine[k], torch.log(proxy.gather(-1, ids[:, None])[:, 0][k]), atol=1e-5)
    assert (engine[~k] < -1e3).all()


def test_proxy_rejects_bad_kappa():
    with pytest.raises(ValueError, match="kappa"):
        lpa.proxy_distribution(torch.zeros(3), kappa=1.5)


def _table(logp, proxy_logp):
    return pd.DataFrame({"position": range(len(logp)), "token": ["x"] * len(logp), "logp": logp,
                         "proxy_logp": proxy_logp, "low_prob": [q < -1e3 for q in proxy_logp]})


def test_selection_regularises_low_kept_tokens_and_excludes_noise():
    # 2 negative completions x 150 tokens = 300 negative tokens -> k = 3 at rho 1%
    neg1 = _table([-0.1] * 148 + [-5.0, -6.0], [0.0] * 148 + [-4.0, -1e4])  # -6.0 is filtered noise
    neg2 = _table([-0.1] * 149 + [-5.5], [0.0] * 149 + [-4.5])
    pos = _table([-9.0] * 10, [-8.0] * 10)  # positive advantage: never selected even though lowest
    sel = lpa.selection_table([neg1, neg2, pos], [-1.0, -1.0, 1.0], rho=0.01)
    assert int(sel["bottom_rho"].sum()) == 3
    regs = sel[sel["regularized"]]
    assert sorted(regs["logp"].tolist()) == [-5.5, -5.0]
    noise = sel[sel["noise_excluded"]]
    assert noise["logp"].tolist() == [-6.0] and not sel.loc[sel["completion"] == 2, "bottom_rho"].any()


def test_selection_does_nothing_when_k_is_at_most_one():
    t = _table([-5.0] * 20, [-1.0] * 20)
    sel = lpa.selection_table([t], [-1.0], rho=0.01)  # 20 negative tokens -> k = 1 -> nothing
    assert not sel["regularized"].any() and not sel["bottom_rho"].any()
    with pytest.raises(ValueError, match="advantages"):
        lpa.selection_table([t], [-1.0, 1.0])


def test_spark_counts_need_a_later_correct_solution_with_the_same_prefix():
    events = pd.DataFrame([
        {"label": "a", "seed": 0, "step": 0, "problem_id": "p", "prefix": [1, 2], "token_id": 7, "correct": False},
        {"label": "a", "seed": 0, "step": 0, "problem_id": "p", "prefix": [1], "token_id": 9, "correct": False},
        {"label": "a", "seed": 0, "step": 5, "problem_id": "p", "prefix": [1, 2], "token_id": 7, "correct": True},
        {"label": "b", "seed": 0, "step": 0, "problem_id": "p", "prefix": [1, 2], "token_id": 7, "correct": False},
    ])
    correct = pd.DataFrame([
        {"label": "a", "seed": 0, "step": 0, "problem_id": "p", "correct_ids": [[1, 9, 3]]},  # same step: not later
        {"label": "a", "seed": 0, "step": 5, "problem_id": "p", "correct_ids": [[1, 2, 7, 4]]},
        {"label": "b", "seed": 0, "step": 5, "problem_id": "q", "correct_ids": [[1, 2, 7]]},  # other problem
    ])
    out = lpa.spark_counts(events, correct).set_index(["label", "step"])
    assert out.loc[("a", 0), "n_low_prob"] == 2 and out.loc[("a", 0), "n_sparks"] == 1
    assert out.loc[("a", 5), "n_sparks"] == 0 and out.loc[("a", 5), "n_in_correct"] == 1
    assert out.loc[("b", 0), "n_sparks"] == 0
    assert out.loc[("a", 0), "spark_rate"] == pytest.approx(0.5)


def test_spark_counts_of_no_events_is_an_empty_frame():
    out = lpa.spark_counts(pd.DataFrame(), pd.DataFrame())
    assert len(out) == 0 and "n_sparks" in out.columns


def test_low_prob_probe_validates():
    from workbook.data.synthetic import generate_problems

    with pytest.raises(ValueError, match="at least once"):
        lpa.LowProbProbe(generate_problems(1, 0), every=0, at_start=False, at_end=False)
    with pytest.raises(ValueError, match="temperature"):
        lpa.LowProbProbe(generate_problems(1, 0), temperature=0.0)


@pytest.fixture(scope="module")
def smoke_model():
    from workbook.models import load_model

    torch.set_num_threads(1)
    return load_model("toy-reasoner-smoke")


def test_probe_and_token_table_on_the_smoke_toy(smoke_model):
    from workbook.data.synthetic import generate_problems
    from workbook.generation import build_prompt
    from workbook.grading import Grader
    from workbook.rl.probes import ProbeContext

    model, tok = smoke_model
    problems = generate_problems(2, 0, split="test")
    inst = "Please reason step by step, and put your final answer within \\boxed{}."
    probe = lpa.LowProbProbe(problems, n=2, max_new_tokens=24, kappa=0.2)  # a large kappa: some tokens are "low"
    ctx = ProbeContext(None, tok, Grader(), inst, seed=3)
    rows = probe.measure(model, ctx, 0)
    assert rows == probe.measure(model, ctx, 0)  # seeded
    summary, per_problem = rows[0], [r for r in rows if r["kind"] == "problem"]
    events = [r for r in rows if r["kind"] == "event"]
    assert 0 <= summary["low_prob_mass"] <= 1 and summary["entropy"] >= 0 and summary["tokens"] > 0
    assert summary["n_low_prob"] == len(events)
    assert [r["problem_id"] for r in per_problem] == [p.problem_id for p in problems]
    assert all(len(r["correct_ids"]) == r["n_correct"] <= 2 for r in per_problem)
    assert all(e["p"] < 1.0 for e in events)

    prompt = build_prompt(tok, problems[0].problem, inst)
    ids = tok(problems[0].metadata["solution"], add_special_tokens=False).input_ids
    logits = lpa.next_token_logits(model, tok, prompt, ids)
    assert logits.shape == (len(ids), model.config.vocab_size)
    t = lpa.token_table(logits, ids, tok, kappa=0.02)
    assert len(t) == len(ids) and ((t["proxy_logp"] >= t["logp"] - 1e-4) | t["low_prob"]).all()
    pt = lpa.proxy_table(logits[0], tok, top=5, sampled_id=ids[0])
    assert pt["proxy_p"].sum() <= 1 + 1e-6 and pt["kept"].iloc[0]


@pytest.mark.slow
def test_a_run_with_the_probe_records_step_zero_and_the_last_step(tmp_path):
    from workbook.data.synthetic import generate_problems
    from workbook.rl import experiments as ex

    cfg = ex.ExperimentConfig(model="toy-reasoner-smoke", max_steps=2, prompts_per_step=2, num_generations=2,
                              max_completion_length=16)
    count = {"params": {"count_tokens": {"all_ids": list(range(200)), "none": [10**6]}}}  # every toy id / none
    spec = ex.RunSpec("lp_reg", "lp_reg", generate_problems(2, 0, split="train"), seed=0, method_overrides=count)
    probe = lpa.LowProbProbe(generate_problems(2, 0, split="test"), every=5, n=2, max_new_tokens=16)
    res = ex.run_one(spec, cfg, [probe], run_root=tmp_path)
    t = res.train  # the per-kind counts: a kind holding every id counts the whole set, an absent id nothing
    assert (t["lp_reg/n_bottom_rho_all_ids"] == t["lp_reg/n_bottom_rho"]).all()
    assert (t["lp_reg/n_regularized_all_ids"] == t["lp_reg/n_regularized"]).all()
    assert (t["lp_reg/n_regularized_none"] == 0).all() and (t["lp_reg/n_regularized"] <= t["lp_reg/n_bottom_rho"]).all()
    assert sorted(res["lowprob"]["step"]) == [0, 2]  # step 0 and the last step (2 is not a multiple of 5)
    assert set(res["lowprob_problems"]["step"]) == {0, 2} and len(res["lowprob_problems"]) == 4
    assert list(res.train["step"]) == [1, 2] and "lp_reg/n_regularized" in res.train
    assert (tmp_path / "lp_reg" / "seed0" / "probe_lowprob.jsonl").is_file()


# ---- the notebook's profiles, plans and claims --------------------------------------------------------------------

def test_paper_recipe_parameter_is_the_papers_qwen3_14b_recipe():
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


def test_paper_profile_plans_both_without_loading_a_model():
    params, _ = resolve_params("lp_reg", "paper")
    before = set(sys.modules)
    plan = lpa.plan(params)
    recipe = plan["paper_recipe"]
    assert "GPU-hours" in plan["summary"] and "GPU-hours" in recipe["summary"]
    assert recipe["params_b"] == pytest.approx(14.0) and recipe["total_rollouts"] == 3 * 1000 * 256 * 8
    assert plan["params_b"] == pytest.approx(1.7) and plan["runs"] == 3
    assert recipe["gpu_hours"] > 10 * plan["gpu_hours"] > 0
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("vllm", "trl", "workbook.models", "transformers")) for m in loaded), sorted(loaded)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_profile_resolves_and_plans(profile):
    params, _ = resolve_params("lp_reg", profile)
    assert params["profile"] == profile and "lp_reg" in params["methods"] and "grpo" in params["methods"]
    worlds = [params["seeds"]] + ([params["control_seeds"]] if params["control_model"] else [])
    # every arm on every seed of each world, GRPO + entropy on only the first entropy_seeds of them
    runs = sum(2 * len(s) + min(len(s), params["entropy_seeds"]) for s in worlds)
    assert lpa.plan(params)["runs"] == runs


def test_validate_needs_grpo_and_lp_reg():
    params, _ = resolve_params("lp_reg", "smoke")
    with pytest.raises(ParameterError, match="methods"):
        lpa.validate({**params, "methods": ["grpo"]})
    with pytest.raises(ParameterError, match="probe_every"):
        lpa.validate({**params, "probe_every": 0})


def test_cpu_profile_runs_the_spark_world_and_its_control_with_seeds():
    params, _ = resolve_params("lp_reg", "cpu")
    assert len(params["seeds"]) >= 3 and params["model"] == "toy-reasoner" and params["control_seeds"]
    assert params["control_model"] == "toy-reasoner-control" and params["n_branch_problems"] >= 16
    assert params["kappa"] == 0.02 and params["lp_reg_coef"] == 1.0 and params["rho"] > 0.01  # rho: a deviation
    paper, _ = resolve_params("lp_reg", "paper")
    assert paper["control_model"] == "" and paper["n_branch_problems"] == 0


def test_comparable_setting_is_the_14b_recipe():
    match = lpa.comparable_setting()
    assert match["model"] == "qwen3-14b-base" and match["prompts_per_step"] == 256


def test_reported_numbers_load_and_paper_rows_need_the_paper_profile():
    claims = {c["id"]: c for c in load_reported("lp_reg")}
    assert claims["LP-3"]["value"] == pytest.approx(0.6017) and claims["LP-3"]["scale"] == "paper"
    assert {"LP-1a", "LP-1b", "LP-1c", "LP-1d", "LP-2a", "LP-2b", "LP-2d", "LP-2e", "LP-2f"} <= set(claims)
    assert claims["LP-1a"]["min_effect"] == 0.5 and claims["LP-2f"]["kind"] == "check"
    est = {"value": 0.6, "lo": 0.59, "hi": 0.61, "n": 1507}
    cpu = reported_vs_reproduced("lp_reg", {"LP-3": est}, "cpu").set_index("claim_id")
    assert cpu.loc["LP-3", "verdict"] == "not run at this scale"
    variant, _ = resolve_params("lp_reg", "paper")  # the one-GPU variant: a 1.7B model is not the 14B of the table
    recipe = {**variant, **variant["paper_recipe"], "eval_benchmarks": variant["eval_benchmarks"]}
    one_gpu = reported_vs_reproduced("lp_reg", {"LP-3": est}, "paper", params=variant).set_index("claim_id")
    full = reported_vs_reproduced("lp_reg", {"LP-3": est}, "paper", params=recipe).set_index("claim_id")
    assert one_gpu.loc["LP-3", "verdict"] == "not comparable" and full.loc["LP-3", "verdict"] == "reproduced"


def test_lp1a_is_the_relative_entropy_change_per_seed():
    rows = []
    for s, (e0, e1) in enumerate([(0.2, 0.05), (0.1, 0.03), (0.4, 0.08)]):
        for step, e in ((0, e0), (10, e1)):
            rows.append({"label": "grpo", "seed": s, "step": step, "entropy": e, "low_prob_mass": 0.01,
                         "n_sparks": 0, "tokens": 100})
    curves = pd.DataFrame(rows)
    final = pd.DataFrame(columns=["label", "seed", "problem_id", "n", "n_correct"])
    est = lpa.toy_claims(curves, final, n_boot=200)["LP-1a"]
    assert est.value == pytest.approx((0.05 / 0.2 - 1 + 0.03 / 0.1 - 1 + 0.08 / 0.4 - 1) / 3)
    assert est.n == 3 and est.hi < 0
    collapsed, sentence = lpa.collapse_verdict(curves, est)
    assert collapsed == (est.hi < -0.5) and "relative change" in sentence


# ---- the mechanism: the spark at its branch point -----------------------------------------------------------------

def test_branch_probe_measures_the_spark_on_the_smoke_toy(smoke_model):
    from workbook.data.synthetic import generate_problems
    from workbook.grading import Grader
    from workbook.papers.lp_reg_sparks import BranchProbe
    from workbook.rl.probes import ProbeContext

    model, tok = smoke_model
    problems = generate_problems(3, 0, split="test")
    model.train()
    rows = BranchProbe(problems).measure(model, ProbeContext(None, tok, Grader(), "", seed=0), 0)
    assert model.training  # the probe measures in eval mode and restores the mode it found
    model.eval()
    assert [r["problem_id"] for r in rows] == [p.problem_id for p in problems]
    assert all(0 < r["p_spark"] < r["p_max"] <= 1 and 0 < r["p_noise"] < 1 for r in rows)
    assert all(r["entropy"] > 0 and 0 <= r["low_prob_mass"] < 1 and r["tokens"] > 0 for r in rows)


def test_trace_measures_are_the_policy_s_exact_entropy_on_the_reference_solution(smoke_model):
    from workbook.data.synthetic import generate_problems
    from workbook.papers.lp_reg_sparks import trace_measures
    from workbook.rl import objectives as obj
    from workbook.toy.world import solve_prompt

    model, tok = smoke_model
    p = generate_problems(1, 3, split="test")[0]
    row = trace_measures(model, tok, [p], kappa=0.02).iloc[0]
    ids = tok(solve_prompt(tok, p.problem) + p.metadata["solution"], add_special_tokens=False)["input_ids"]
    n = len(tok(p.metadata["solution"], add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        lg = model(input_ids=torch.tensor([ids])).logits[0, len(ids) - n - 1 : -1].float()
    assert row["tokens"] == n  # the prompt and the solution tokenize apart as they do together
    assert row["entropy"] == pytest.approx(float(obj.entropy_from_logits(lg).mean()), rel=1e-5)
    assert row["low_prob_mass"] == pytest.approx(float(obj.low_prob_mass(lg, 0.02).mean()), rel=1e-5, abs=1e-9)


def _sel(tokens, logp, proxy, adv, regularized):
    return pd.DataFrame({"token": tokens, "logp": logp, "proxy_logp": proxy, "adv": adv,
                         "bottom_rho": regularized, "regularized": regularized, "noise_excluded": False})


def test_selection_composition_and_the_rho_that_reaches_the_sparks():
    from workbook.papers import lp_reg_sparks as sp

    tokens = ["Wait, check:", "Hmm.", "7", "+", "Wait, check:", "Okay."]
    sel = _sel(tokens, [-3.0, -4.6, -5.0, -0.01, -3.0, -4.6], [-2.9, -1e4, -4.9, 0.0, -2.9, -1e4],
               [-1.0, -1.0, -1.0, -1.0, 1.0, 1.0], [True, False, True, False, False, False])
    comp = sp.selection_composition(sel)
    assert comp.loc["spark", "sampled"] == 2 and comp.loc["spark", "negative"] == 1
    assert comp.loc["noise", "negative"] == 1 and comp.loc["noise", "regularized"] == 0
    assert comp.loc["other", "regularized"] == 1
    # 4 negative tokens; the spark (-3.0) is above the noise (-4.6) and the digit (-5.0): k = 3 reaches it
    assert sp.rho_to_reach_sparks(sel) == pytest.approx(4 / 4)
    assert sp.token_kind(" Hmm.") == "noise" and sp.token_kind("x") == "other"
    pull = sp.regulariser_pull(sel)
    assert len(pull) == 1 and pull["pull_per_beta"].iloc[0] == pytest.approx(torch.exp(torch.tensor(0.1)).item() - 1)


def test_spark_claims_see_grpo_drain_the_spark_and_lp_reg_keep_it():
    from workbook.papers.lp_reg_sparks import spark_claims

    rows = []
    for label, end in (("grpo", 0.01), ("lp_reg", 0.02)):
        for s in (0, 1, 2):
            for j in range(8):
                for step, p in ((0, 0.05), (10, end + 0.001 * s + 0.0005 * j)):
                    rows.append({"label": label, "seed": s, "step": step, "problem_id": f"p{j}", "p_spark": p,
                                 "p_noise": 0.08, "p_max": 0.6})
    out = spark_claims(pd.DataFrame(rows), n_boot=200)
    assert out["grpo_change"].hi < 0 and out["grpo_change"].value == pytest.approx(0.01 + 0.001 + 0.00175 - 0.05)
    assert out["lp_reg_minus_grpo"].lo > 0 and out["lp_reg_minus_grpo"].value == pytest.approx(0.01)
    assert out["noise_lp_reg_minus_grpo"].value == pytest.approx(0.0)
    # the gap over training: one probe after step 0 here, so it equals the last probe's gap
    assert out["lp_reg_minus_grpo_over_training"].value == pytest.approx(0.01)


def test_gap_over_training_averages_the_paired_gap_over_the_probes_after_step_0():
    from workbook.papers.lp_reg_sparks import gap_over_training

    rows = []
    for label, slope in (("grpo", -0.002), ("lp_reg", -0.001)):
        for s in (0, 1, 2):
            for j in range(4):
                for step in (0, 4, 8, 12):
                    rows.append({"label": label, "seed": s, "step": step, "problem_id": f"p{j}",
                                 "p_spark": 0.05 + slope * step + 0.0001 * (s * j) * (label == "lp_reg"),
                                 "entropy": 0.3 - 0.001 * step})
    b = pd.DataFrame(rows)
    est = gap_over_training(b, "lp_reg", "p_spark", n_boot=200)
    # per probe the gap is 0.001 * step (+ 0.0001 s j); mean over steps 4, 8, 12 is 0.008, + 0.0001 * mean(s j)
    assert est.value == pytest.approx(0.008 + 0.0001 * 1.0 * 1.5) and est.lo > 0 and est.n_seeds == 3
    none = gap_over_training(b, "lp_reg", "entropy", n_boot=200)
    assert none.value == pytest.approx(0.0) and none.lo == none.hi == 0.0  # no difference: no spread


def test_branch_prefix_is_the_step_lines_before_one_answer_line():
    from workbook.papers.lp_reg_sparks import branch_prefix

    assert branch_prefix("7 - 7 = 0\n27 * 0 = 0\n\\boxed{0}") == "7 - 7 = 0\n27 * 0 = 0\n"
    assert branch_prefix("4 + 68 = 72\nThe answer is 72.") == "4 + 68 = 72\n"
    assert branch_prefix("7 + 72 = 79\nWait, check:\nStep 1: 7 + 72 = 79, check 79 ok\n\\boxed{79}") is None
    assert branch_prefix("7 - 7 = 0\nOkay.\n\\boxed{0}") is None  # a noise filler before the answer
    assert branch_prefix("\\boxed{81}") is None and branch_prefix("3 + 4 = 7\n5 * 2 = 10") is None


def test_spark_gain_forces_the_spark_on_the_same_solutions(smoke_model):
    from workbook.data.synthetic import generate_problems
    from workbook.generation import TransformersBackend
    from workbook.papers.lp_reg_sparks import spark_gain, spark_gain_estimates

    model, tok = smoke_model
    problems = generate_problems(4, 0, split="test")
    backend = TransformersBackend(model, tok)
    gain = spark_gain(backend, problems, 4, seed=0, max_new_tokens=48)
    assert len(gain) == 16 and set(gain["problem_id"]) == {p.problem_id for p in problems}
    assert gain.loc[gain["spark"], "forced_correct"].isna().all()  # a sample with its own spark is not re-forced
    assert gain["forced_correct"].dropna().isin([0.0, 1.0]).all()
    again = spark_gain(backend, problems, 4, seed=0, max_new_tokens=48)
    pd.testing.assert_frame_equal(gain, again)  # seeded
    est = spark_gain_estimates(gain, pool="test", n_boot=100).set_index("quantity")
    assert 0 <= est.loc["share of samples with a spark", "value"] <= 1
    f = gain.dropna(subset=["forced_correct"])
    if len(f):
        per = f.assign(d=f["forced_correct"] - f["correct"].astype(float)).groupby("problem_id")["d"].mean()
        assert est.loc["spark forced - as sampled (same solutions)", "value"] == pytest.approx(per.mean())


def test_selection_shares_count_sparks_and_noise_among_selected_tokens():
    from workbook.papers.lp_reg_sparks import selection_shares

    train = pd.DataFrame({"seed": [0, 0, 1, 1], "lp_reg/n_bottom_rho": [10, 10, 8, 12],
                          "lp_reg/n_bottom_rho_spark": [1, 1, 2, 0], "lp_reg/n_bottom_rho_noise": [5, 3, 4, 4],
                          "lp_reg/n_regularized": [2, 0, 2, 2], "lp_reg/n_regularized_spark": [1, 0, 2, 0],
                          "lp_reg/n_regularized_noise": [0, 0, 0, 0]})
    out = selection_shares(train, n_boot=100).set_index(["kind", "set"])
    assert out.loc[("spark", "bottom_rho"), "value"] == pytest.approx((2 / 20 + 2 / 20) / 2)
    assert out.loc[("noise", "bottom_rho"), "value"] == pytest.approx((8 / 20 + 8 / 20) / 2)
    assert out.loc[("spark", "regularized"), "value"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert out.loc[("noise", "regularized"), "tokens"] == 0 and out.loc[("spark", "bottom_rho"), "runs"] == 2


def test_decision_table_gives_the_chance_of_not_reproduced_where_the_expected_effect_is_short_of_min_effect():
    from workbook.reporting.power import decision_table, power_table

    params, _ = resolve_params("lp_reg", "cpu")
    dec = decision_table("lp_reg", params, n_sim=60, n_boot=100).set_index("claim_id")
    pw = power_table("lp_reg", params, n_sim=60, n_boot=100).set_index("claim_id")
    assert dec.loc["LP-2a", "expects"] == "not reproduced" and dec.loc["LP-2e", "expects"] == "reproduced"
    assert dec.loc["LP-2a", "chance"] > 0.8 and pw.loc["LP-2a", "power"] < 0.05  # decided, but not as "reproduced"
    assert dec.loc["LP-2e", "chance"] == pytest.approx(pw.loc["LP-2e", "power"])  # the same simulation
    assert (dec["decided"] >= dec["chance"] - 1e-12).all()


def test_counterfactual_claims_reads_offset_and_push():
    import pandas as pd

    from workbook.papers.lp_reg_sparks import counterfactual_claims

    rows = []
    for seed in (1, 2, 3):
        for step in (0, 4):
            for j, pid in enumerate(("a", "b")):
                base = 0.05 - 0.002 * step
                vals = {"none": base, "grpo": base - 0.001 * (1 + j), "lp_reg": base - 0.001 * (1 + j) + 1e-5 * seed}
                rows += [{"seed": seed, "step": step, "problem_id": pid, "update": u, "p_spark": v}
                         for u, v in vals.items()]
    out = counterfactual_claims(pd.DataFrame(rows), n_boot=200)
    off, push = out["lp_reg_update_offset"], out["grpo_update_push"]
    assert abs(off.value - 2e-5) < 1e-12 and off.lo < 2e-5 < off.hi  # seeds 1, 2, 3: offsets 1e-5, 2e-5, 3e-5
    assert abs(push.value + 0.0015) < 1e-12 and push.n_seeds == 3
