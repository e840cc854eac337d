"""workbook.methods.lp_reg_analysis: the min-p proxy as shown, token selection, the probe and spark counting."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from workbook.methods import lp_reg_analysis as lpa
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


def test_probe_config_validates():
    with pytest.raises(ValueError):
        lpa.ProbeConfig(every=0)
    with pytest.raises(ValueError):
        lpa.ProbeConfig(temperature=0.0)


def test_completion_mask_stops_after_the_first_eos():
    comp = torch.tensor([[5, 6, 2, 0, 0], [5, 2, 2, 2, 2], [5, 6, 7, 8, 9]])
    m = lpa._completion_mask(comp, eos_id=2, pad_id=0)
    assert m.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]


@pytest.fixture(scope="module")
def smoke_model():
    from workbook.models import load_model

    torch.set_num_threads(1)
    return load_model("toy-reasoner-smoke")


def test_probe_and_token_table_on_the_smoke_toy(smoke_model):
    from workbook.data.synthetic import generate_problems
    from workbook.grading import Grader
    from workbook.rl.evaluation import build_prompts

    model, tok = smoke_model
    problems = generate_problems(2, 0, split="test")
    cfg = lpa.ProbeConfig(n=2, max_new_tokens=24, kappa=0.2)  # a large kappa so some sampled tokens are "low"
    inst = "Please reason step by step, and put your final answer within \\boxed{}."
    summary, rows, events = lpa.probe_policy(model, tok, problems, Grader(), cfg, inst, seed=3)
    again = lpa.probe_policy(model, tok, problems, Grader(), cfg, inst, seed=3)
    assert summary == again[0]  # seeded
    assert 0 <= summary["low_prob_mass"] <= 1 and summary["entropy"] >= 0 and summary["tokens"] > 0
    assert summary["n_low_prob"] == len(events)
    assert [r["problem_id"] for r in rows] == [p.problem_id for p in problems]
    assert all(len(r["correct_ids"]) == r["n_correct"] <= 2 for r in rows)
    assert all(e["p"] < 1.0 for e in events)

    prompt = build_prompts(tok, [problems[0].problem], inst)[0]
    ids = tok(problems[0].metadata["solution"], add_special_tokens=False).input_ids
    logits = lpa.next_token_logits(model, tok, prompt, ids)
    assert logits.shape == (len(ids), model.config.vocab_size)
    t = lpa.token_table(logits, ids, tok, kappa=0.02)
    assert len(t) == len(ids) and ((t["proxy_logp"] >= t["logp"] - 1e-4) | t["low_prob"]).all()
    pt = lpa.proxy_table(logits[0], tok, top=5, sampled_id=ids[0])
    assert pt["proxy_p"].sum() <= 1 + 1e-6 and pt["kept"].iloc[0]


@pytest.mark.slow
def test_run_probed_records_probes_at_step_zero_and_the_last_step(tmp_path):
    from workbook.data.synthetic import generate_problems
    from workbook.rl import experiments as ex

    cfg = ex.ExperimentConfig(model="toy-reasoner-smoke", steps=2, prompts_per_step=2, num_generations=2,
                              max_completion_length=16, eval_every=0, final_n=1, eval_max_new_tokens=16)
    spec = ex.RunSpec("lp_reg", "lp_reg", generate_problems(2, 0, split="train"), seed=0)
    probe = lpa.ProbeConfig(every=5, n=2, max_new_tokens=16)
    res = lpa.run_probed_grid([spec], cfg, generate_problems(2, 0, split="test"), tmp_path, probe)
    assert sorted(res.probe["step"]) == [0, 2]  # step 0 and the last step (2 is not a multiple of 5)
    assert set(res.probe_problems["step"]) == {0, 2} and len(res.probe_problems) == 4
    assert list(res.results.train["step"]) == [1, 2] and "lp_reg/n_regularized" in res.results.train
    assert len(res.results.final) == 2 and {"seconds", "cpu_seconds"} <= set(res.results.timing.columns)
    assert (tmp_path / "lp_reg" / "seed0" / "probe.jsonl").is_file()
