"""Sharpening (Huang et al., arXiv 2412.01951): self-rewards, selectors, BoN subsampling, LoRA SFT, tabular theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbook.papers import sharpening as sh

# ---------------------------------------------------------------- the exact tabular check

# V = 2, H = 2, one prompt: first token P(0) = 0.6; after 0: (0.5, 0.5); after 1: (0.9, 0.1).
# Sequences 00: 0.30, 01: 0.30, 10: 0.36, 11: 0.04 → y* = "10" (index 2), π* = 0.36 < 1/2, greedy gives "00".
HAND = sh.TabularModel(2, 2, np.array([[[0.6, 0.4], [0.5, 0.5], [0.9, 0.1]]]))


def test_tabular_hand_model_exact_values():
    np.testing.assert_allclose(sh.sequence_probabilities(HAND), [[0.30, 0.30, 0.36, 0.04]])
    y, pi = sh.best_sequences(HAND)
    assert int(y[0]) == 2 and pi[0] == pytest.approx(0.36)
    assert int(sh.greedy_sequences(HAND)[0]) == 0          # greedy fails when π(y*|x) < 1/2
    assert sh.coverage_coefficient(pi) == pytest.approx(1 / 0.36)
    assert int(sh.bon_samples_needed(pi, 0.05)[0]) == 9    # ⌈log(20)/0.36⌉ = ⌈8.32⌉
    assert sh.bon_success_probability(0.36, 9) == pytest.approx(1 - 0.64**9)  # 0.98199
    assert sh.bon_success_probability(0.36, 9) >= 0.95
    # RLHF-sharpening optimum π_base^(1+1/β): β = 1 squares the probabilities
    np.testing.assert_allclose(sh.rlhf_sharpened(sh.sequence_probabilities(HAND), 1.0),
                               [[0.09, 0.09, 0.1296, 0.0016]] / np.float64(0.3112))
    assert sh.rlhf_sharpened(sh.sequence_probabilities(HAND), 1.0)[0, 2] == pytest.approx(0.41645, abs=1e-5)


def test_greedy_proposition_on_random_models():
    m = sh.random_tabular_model(2000, vocab_size=3, horizon=4, concentration=0.3, seed=0)
    p = sh.sequence_probabilities(m)
    np.testing.assert_allclose(p.sum(-1), 1.0)
    y, pi = sh.best_sequences(m)
    g = sh.greedy_sequences(m)
    confident = pi > 0.5
    assert confident.sum() > 100 and (~confident).sum() > 100   # both regimes are exercised
    assert np.all(g[confident] == y[confident])                  # Prop. 3.1: π(y*|x) > 1/2 ⇒ greedy = y*
    assert np.any(g[~confident] != y[~confident])                # and it can fail below 1/2
    assert sh.coverage_coefficient(pi) == pytest.approx(np.mean(1 / pi))


def test_bon_bound_holds_exactly_and_in_simulation():
    m = sh.random_tabular_model(50, vocab_size=3, horizon=3, concentration=0.5, seed=1)
    _, pi = sh.best_sequences(m)
    for rho in (0.5, 0.1, 0.01):
        n = sh.bon_samples_needed(pi, rho)
        assert np.all(sh.bon_success_probability(pi, n) >= 1 - rho)   # Prop. C.1
    sim = sh.simulate_bon_success(m, n=4, n_trials=4000, seed=0)
    exact = sh.bon_success_probability(pi, 4)
    assert np.max(np.abs(sim - exact)) < 0.04


def test_sft_and_rlhf_sharpening_raise_pi_star():
    m = sh.random_tabular_model(30, vocab_size=3, horizon=3, concentration=0.5, seed=2)
    _, pi = sh.best_sequences(m)
    y = sh.best_sequences(m)[0]
    sharp = sh.sft_sharpen_tabular(m, n=32, n_train=200, seed=0)
    pi_sharp = sh.sequence_probabilities(sharp)[np.arange(len(y)), y]
    assert pi_sharp.mean() > pi.mean() + 0.3 and pi_sharp.mean() > 0.9
    p = sh.sequence_probabilities(m)
    r_small, r_large = sh.rlhf_sharpened(p, 0.05), sh.rlhf_sharpened(p, 100.0)
    at_star = [sh.rlhf_sharpened(p, b)[np.arange(len(y)), y] for b in (10.0, 1.0, 0.1, 0.01)]
    assert all(np.all(a <= b + 1e-12) for a, b in zip(at_star, at_star[1:]))  # smaller β → sharper
    assert np.all(at_star[0] >= pi - 1e-12) and at_star[-1].mean() > 0.99
    np.testing.assert_allclose(r_large, p, atol=0.02)


def test_tabular_model_validation():
    with pytest.raises(ValueError):
        sh.TabularModel(2, 2, np.ones((1, 3, 2)))  # rows do not sum to 1
    with pytest.raises(ValueError):
        sh.bon_samples_needed(0.3, 1.5)
    with pytest.raises(ValueError):
        sh.rlhf_sharpened([[0.5, 0.5]], 0.0)


# ---------------------------------------------------------------- self-rewards and selectors

def test_self_rewards():
    assert sh.sequence_logp([-1.0, -0.5]) == pytest.approx(-1.5)
    assert sh.length_normalized_logp([-1.0, -0.5]) == pytest.approx(-0.75)
    assert sh.length_normalized_logp([]) == float("-inf")


def test_selectors():
    answers = ["1", "2", "2", "3", None]
    scores = [5.0, 1.0, 2.0, 9.0, 10.0]
    assert sh.select_max_score(scores) == 4
    assert sh.select_majority(answers) == 1
    assert sh.select_majority([None, None]) == 0
    # power 0 → majority; large power → the best-scored answer wins
    assert answers[sh.select_borda(answers, scores, 0.0)] == "2"
    assert sh.select_borda(answers, scores, 5.0) == 3
    # ranks: 4(None),3,0,2,1 → weights for "3": 4, "1": 3, "2": 2 + 1 = 3 at power 1 → "3"
    assert sh.select_borda(answers, scores, 1.0) == 3
    assert sh.borda_power(16) == 0.3 and sh.borda_power(64) == 1.2
    with pytest.raises(ValueError):
        sh.choose("oracle", answers, scores)
    with pytest.raises(ValueError):
        sh.choose("logp", answers, None)


# ---------------------------------------------------------------- BoN by subsampling on hand-made data

def test_bon_curve_on_hand_made_data():
    # problem 0: the highest-scored completion is correct; problem 1: the highest-scored is wrong.
    answers = [["1", "2", "2", "2"], ["5", "5", "5", "6"]]
    correct = np.array([[True, False, False, False], [True, True, True, False]])
    scores = np.array([[0.0, -3.0, -2.0, -1.0], [-4.0, -3.0, -2.0, -0.5]])
    ns = [1, 2, 4]
    c = sh.bon_curve(answers, correct, scores, ns, "logp", n_seeds=2000, seed=0)
    assert c.per_seed.shape == (2000, 3) and c.per_problem.shape == (2000, 2, 3)
    # N = 4 uses every completion: problem 0 right, problem 1 wrong → exactly 0.5 for every seed
    np.testing.assert_array_equal(c.per_seed[:, 2], 0.5)
    # N = 1 is a uniform draw: expected accuracy (1/4 + 3/4)/2 = 0.5
    assert c.mean[0] == pytest.approx(0.5, abs=0.03)
    # N = 2, problem 0 right iff index 0 drawn (1/2); problem 1 wrong iff index 3 drawn (1/2) → 0.5
    assert c.mean[1] == pytest.approx(0.5, abs=0.03)
    maj = sh.bon_curve(answers, correct, None, ns, "majority", n_seeds=5, seed=0)
    np.testing.assert_array_equal(maj.per_seed[:, 2], 0.5)  # "2" wins problem 0 (wrong), "5" wins problem 1 (right)
    est = c.estimates(over="seeds")
    assert len(est) == 3 and est[2].value == pytest.approx(0.5) and est[2].n == 2000
    assert est[0].lo <= est[0].value <= est[0].hi
    assert sh.bon_curve(answers, correct, scores, ns, "logp", n_seeds=3, seed=4).per_seed.tolist() == \
        sh.bon_curve(answers, correct, scores, ns, "logp", n_seeds=3, seed=4).per_seed.tolist()
    with pytest.raises(ValueError):
        sh.bon_curve(answers, correct, scores, [5], "logp")
    with pytest.raises(ValueError):
        sh.bon_curve(answers, correct, scores[:, :3], ns, "logp")


def test_selection_auroc_is_within_problem():
    # problem 0: the correct completion has the top score; problem 1: the lowest; problem 2: all correct (skipped)
    scores = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 5.0], [1.0, 1.0, 1.0]])
    correct = np.array([[True, False, False], [True, False, False], [True, True, True]])
    auc, used = sh.selection_auroc(scores, correct)
    assert used == 2 and auc == pytest.approx(0.5)
    auc, _ = sh.selection_auroc(scores[:1], correct[:1])
    assert auc == pytest.approx(1.0)
    tie, _ = sh.selection_auroc([[1.0, 1.0]], [[True, False]])
    assert tie == pytest.approx(0.5)


def test_coverage_and_lift():
    correct = np.array([[True, False, False, False], [False, False, False, False]])
    np.testing.assert_allclose(sh.coverage_curve(correct, [1, 2, 4]), [0.125, 0.25, 0.5])
    assert sh.percent_lift(0.6, 0.5) == pytest.approx(20.0)


def test_sft_examples_pick_max_likelihood():
    ex = sh.sft_sharpening_examples(["p1", "p2"], [["a", "b"], ["c", "d"]], [[-3.0, -1.0], [-0.1, -2.0]])
    assert [e["completion"] for e in ex] == ["b", "c"] and ex[0]["prompt"] == "p1"
    with pytest.raises(ValueError):
        sh.sft_sharpening_examples(["p1"], [["a"]], [[0.0], [1.0]])


# ---------------------------------------------------------------- tiny model built from a config

def _tiny_model_and_tokenizer():
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = list("0123456789+-*=() abcxyz\\{}")
    vocab = {"<pad>": 0, "<eos>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      pad_token_id=0, eos_token_id=1, tie_word_embeddings=True, initializer_range=0.3)
    return LlamaForCausalLM(cfg), tokenizer


def test_base_loglik_and_lora_sft_raise_likelihood():
    import torch

    from workbook.generation import TransformersBackend

    torch.set_num_threads(1)
    model, tok = _tiny_model_and_tokenizer()
    assert tok("1+2=3", add_special_tokens=False)["input_ids"] == [3, 12, 4, 15, 5]
    prompts, comps = ["1+2=", "2*3="], ["3", "6"]
    before = sh.base_loglik(TransformersBackend(model, tok, batch_size=2), prompts, comps)
    # the same numbers from token ids, one at a time (padding must not change them)
    alone = sh.base_loglik(TransformersBackend(model, tok, batch_size=1), prompts[:1],
                           [tok("3", add_special_tokens=False)["input_ids"]])
    assert alone[0] == pytest.approx(before[0], abs=1e-5) and np.all(before < 0)
    examples = [{"prompt": p, "completion": c} for p, c in zip(prompts, comps)]
    peft_model, losses = sh.train_lora_sft(model, tok, examples,
                                           sh.LoRASFTConfig(rank=4, alpha=8, lr=1e-2, max_grad_norm=1.0,
                                                            batch_size=2, epochs=40, weight_decay=0.0))
    assert len(losses) == 40 and losses[-1] < losses[0]
    after = sh.base_loglik(TransformersBackend(peft_model, tok), prompts, comps)
    assert np.all(after > before + 0.5)
    with peft_model.disable_adapter():
        base_again = sh.base_loglik(TransformersBackend(peft_model, tok), prompts, comps)
    assert base_again[0] == pytest.approx(before[0], abs=1e-5)
    with pytest.raises(ValueError):
        sh.train_lora_sft(model, tok, [], sh.LoRASFTConfig())


def test_plan_and_validate():
    from workbook.params import ParameterError, resolve_params

    params, _ = resolve_params("sharpening", "paper")
    out = sh.plan(params)
    tok = params["max_new_tokens"]
    assert out["stages"]["evaluation samples"] == params["n_problems"] * params["n_samples"] * tok  # no control
    assert out["stages"]["SFT samples"] == len(params["sft_seeds"]) * params["sft_problems"] * params["sft_n"] * tok
    assert out["max_generated_tokens"] == sum(out["stages"].values()) and out["gpu_hours"] > 0
    sh.validate(params)
    for bad in ({"ns": [1, params["n_samples"] + 1]}, {"selectors": ["logp", "oracle"]}):
        with pytest.raises(ParameterError):
            sh.validate({**params, **bad})


def test_tabular_summary_matches_propositions():
    table, nums = sh.tabular_summary(sh.random_tabular_model(300, 3, 3, 0.3, seed=0), rho=0.05)
    assert nums["greedy_ok_confident"] == 1.0 and nums["min_success_at_bound"] >= 0.95
    assert len(table) == len(nums)


def test_reported_file_follows_schema():
    from workbook.reporting import load_reported

    claims = {c["id"]: c for c in load_reported("sharpening")}
    assert claims["S4"]["value"] == pytest.approx(19.24) and claims["S4"]["scale"] == "paper"
    assert {"S1", "S3", "S8", "S9", "S9mc", "S10"} <= set(claims)
    assert all(claims[c]["kind"] == "check" for c in ("S8", "S9", "S9mc"))
    assert "S5" not in claims  # Table 1's "lift in log-likelihood" has no defined unit (see the file's header)


def test_monte_carlo_bon_at_the_bound_matches_closed_form():
    m = sh.random_tabular_model(120, vocab_size=3, horizon=3, concentration=0.5, seed=3)
    _, pi = sh.best_sequences(m)
    n = sh.bon_samples_needed(pi, 0.1)
    sim = sh.simulate_bon_success_at(m, n, n_trials=2000, seed=0, chunk=25)
    exact = sh.bon_success_probability(pi, n)
    assert np.max(np.abs(sim - exact)) < 0.05 and abs(sim.mean() - exact.mean()) < 0.005
    assert sim.mean() >= 0.9 - 0.01
    # N = 1 everywhere: BoN is one sample, so success is π* itself
    one = sh.simulate_bon_success_at(m, np.ones(len(pi), dtype=int), n_trials=4000, seed=1)
    assert abs(one.mean() - pi.mean()) < 0.01
    with pytest.raises(ValueError):
        sh.simulate_bon_success_at(m, n[:5], n_trials=10, seed=0)


def _regime(pi, ystar_correct, greedy_is_ystar, greedy_correct, correct):
    p = len(pi)
    curve = sh.bon_curve([[str(int(c)) for c in row] for row in correct], correct,
                         np.where(correct, 0.0, -1.0), [1, 2], "logp", n_seeds=2, seed=0)
    return sh.RegimeSamples(name="r", model="m", correct=correct, answers=[["1"] * correct.shape[1]] * p,
                            rewards={"logp": np.zeros(correct.shape)}, greedy_correct=np.asarray(greedy_correct, float),
                            greedy_logp=np.zeros(p), ystar_logp=np.log(pi), ystar_correct=np.asarray(ystar_correct, float),
                            greedy_is_ystar=np.asarray(greedy_is_ystar), curves={"logp": curve})


def test_theory_curve_and_regime_table_on_hand_made_regime():
    correct = np.array([[True, False], [False, False], [True, True]])
    r = _regime(np.array([0.2, 0.6, 0.9]), [1, 0, 1], [False, True, True], [0, 0, 1], correct)
    # Prop. C.1 with π̂: E[1{ŷ* correct}(1 − (1 − π)^N)] = ((1 − 0.8^N) + (1 − 0.1^N)) / 3
    np.testing.assert_allclose(sh.theory_bon_curve(r, [1, 2]), [(0.2 + 0.9) / 3, (0.36 + 0.99) / 3])
    t = sh.regime_table([r], n_bon=2, n_boot=200).set_index("quantity")
    assert t.loc["share of problems with π̂(ŷ*|x) > 1/2", "value"] == pytest.approx(2 / 3)
    assert t.loc["share where greedy = ŷ* (the maximum-likelihood response)", "value"] == pytest.approx(2 / 3)
    assert t.loc["T = 1 accuracy (pass@1)", "value"] == pytest.approx(0.5)
    # the score ranks correct completions first, so BoN at N = 2 is right wherever one of the 2 is: problems 0, 2
    assert t.loc["BoN (N = 2) − greedy", "value"] == pytest.approx(2 / 3 - 1 / 3)
    r.sft = sh.SFTResult(correct_after=np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 1.0]]), loglik_before=np.zeros(3),
                         loglik_after=np.zeros((3, 2)), losses=[[1.0], [1.0]],
                         t1_after=np.full((3, 2), 0.75), pi_star_after=np.full((3, 2), 0.9))
    t = sh.regime_table([r], n_bon=2, n_boot=200).set_index("quantity")
    assert t.loc["after − before SFT: π̂(ŷ*|x)", "value"] == pytest.approx(0.9 - np.mean([0.2, 0.6, 0.9]))
    assert t.loc["after − before SFT: greedy accuracy", "value"] == pytest.approx(5 / 6 - 1 / 3)
    est = sh.reproduced(r, {"greedy_ok_confident": 1.0, "confident": 5, "min_success_at_bound": 0.96,
                            "prompts": 9, "mc_mean_success_at_bound": 0.97}, False, n_boot=200)
    assert est["S3"].value == pytest.approx(5 / 6 - 1 / 3) and est["S10"].value > 0
    assert est["S4"] is None and est["S9mc"].value == pytest.approx(0.97) and est["S1"] is None  # no N = 16


def test_guess_prone_pool_and_disjoint_sft_prompts():
    from workbook.params import ParameterError
    from workbook.toy.world import is_guess_prone

    from workbook.data import load_problems

    gp = sh.pool_filter("guess_prone")
    ev = load_problems("synthetic", 12, "test", 1, min_operands=2, max_operands=4, where=gp)
    tr = load_problems("synthetic", 12, "train", 2, min_operands=2, max_operands=4, where=gp)
    assert len(ev) == 12 and all(is_guess_prone(p.problem) for p in ev + tr)
    assert not {p.problem for p in ev} & {p.problem for p in tr}
    assert sh.pool_filter("all") is None
    # The paper profile's sets, as the notebook draws them: 256 integer-answer problems, SFT on the other 244.
    m_ev = load_problems("math500", 256, "test", 0, integer_answers_only=True)
    m_tr = load_problems("math500", 244, "train", 0, exclude=m_ev)
    assert all(p.answer.strip().lstrip("-").isdigit() for p in m_ev)
    assert not {p.problem_id for p in m_ev} & {p.problem_id for p in m_tr}
    with pytest.raises(ParameterError):
        load_problems("math500", 245, "train", 0, exclude=m_ev)
    with pytest.raises(ParameterError):
        sh.pool_filter("hard")


def test_selectors_have_distinct_colours():
    from workbook.plotting import method_color

    assert len({method_color(s) for s in sh.SELECTORS} | {method_color("sharpening"), method_color("base")}) == \
        len(sh.SELECTORS) + 2


def test_measure_regime_picks_the_most_likely_response():
    import torch

    from workbook.generation import TransformersBackend

    torch.set_num_threads(1)
    model, tok = _tiny_model_and_tokenizer()
    gen = TransformersBackend(model, tok, batch_size=8)
    probs = [{"problem": q, "answer": a, "problem_id": f"p{i}", "dataset": "t"}
             for i, (q, a) in enumerate([("1+2=", "3"), ("2*3=", "6")])]
    r = sh.measure_regime("r", "tiny", gen, probs, lambda p: p["problem"], lambda text, ans: text.strip() == ans,
                          n_samples=6, temperature=1.0, top_p=1.0, max_new_tokens=3, seed=0)
    assert r.correct.shape == (2, 6) and len(r.ystar_token_ids) == 2 and len(r.greedy_token_ids) == 2
    # ŷ* is at least as likely as the greedy response and as every sample (same teacher-forced pass)
    assert np.all(r.ystar_logp >= r.greedy_logp - 1e-6)
    again = sh.base_loglik(gen, [p["problem"] for p in probs], r.ystar_token_ids)
    np.testing.assert_allclose(again, r.ystar_logp, atol=1e-4)
    # where greedy is ŷ*, their likelihoods agree; the greedy answer's correctness is ŷ*'s there
    assert np.all(np.abs(r.greedy_logp - r.ystar_logp)[r.greedy_is_ystar] < 1e-6)
    assert np.all(r.greedy_correct[r.greedy_is_ystar] == r.ystar_correct[r.greedy_is_ystar])


def test_self_rewards_from_completions_and_scores():
    from types import SimpleNamespace as C

    comps = [[C(logprobs=[-1.0, -1.0], token_ids=[1, 2]), C(logprobs=[-0.5], token_ids=[3])]]
    scored = [{"self_certainty": np.array([1.0, 3.0])}, {"self_certainty": np.array([0.5])}]
    r = sh.self_rewards(comps, scored)
    np.testing.assert_allclose(r["logp"], [[-2.0, -0.5]])
    np.testing.assert_allclose(r["logp_norm"], [[-1.0, -0.5]])
    np.testing.assert_allclose(r["self_certainty"], [[2.0, 0.5]])
    assert r["n_tokens"].shape == (1, 2)
    with pytest.raises(ValueError):
        sh.self_rewards(comps, scored[:1])


def test_percent_lift_bootstrap_and_one_shot_prompt():
    before = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=float)   # 0.5
    after = np.array([1, 1, 1, 0, 1, 0, 1, 1], dtype=float)    # 0.75 → +50 %
    est = sh.bootstrap_percent_lift(after, before, n_boot=500, seed=0)
    assert est.value == pytest.approx(50.0) and est.lo <= 50.0 <= est.hi and est.n == 8
    text = sh.one_shot_prompt(None, "What is 2+2?")
    assert text.index("17n") < text.index("What is 2+2?") and "\\boxed{3}" in text
