"""Tests for workbook.generation on the tiny-random model (seconds each, no download)."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
import torch

from workbook.generation import (
    Completion, TransformersBackend, VLLMBackend, build_prompt, build_prompts, make_backend, prompt_fn,
)
from workbook.generation.hf import inverse_cdf_sample, token_stats, top_p_filter
from workbook.models import UnknownModelError, load_model


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny-random")


@pytest.fixture(scope="module")
def backend(tiny):
    model, tok = tiny
    return TransformersBackend(model, tok, batch_size=16)


@pytest.fixture(scope="module")
def prompts(tiny):
    _, tok = tiny
    return [build_prompt(tok, "What is 2 + 3?"),
            build_prompt(tok, "A train leaves at 3 pm and travels 120 km at 60 km/h. When does it arrive?"),
            "Plain text prompt without a template"]


def test_build_prompt_uses_chat_template(tiny):
    _, tok = tiny
    p = build_prompt(tok, "What is 1+1?")
    assert p.startswith("<|im_start|>system") and p.endswith("<|im_start|>assistant\n")
    assert "What is 1+1? Please reason step by step, and put your final answer within \\boxed{}." in p
    p2 = build_prompt(tok, "Q", instruction="", system="Be brief.")
    assert "<|im_start|>system\nBe brief.<|im_end|>" in p2 and "user\nQ<|im_end|>" in p2


def test_prompt_fn_and_build_prompts_agree_with_build_prompt(tiny):
    _, tok = tiny
    f = prompt_fn(tok, instruction="Answer in a box.")
    expected = build_prompt(tok, "Q1", instruction="Answer in a box.")
    assert f("Q1") == f({"problem": "Q1"}) == expected
    assert build_prompts(tok, ["Q1", "Q2"])[0] == build_prompt(tok, "Q1") == prompt_fn(tok)("Q1")


def test_shapes_and_fields(backend, prompts):
    out = backend.generate(prompts, n=3, temperature=1.0, max_new_tokens=12, seed=0)
    assert len(out) == len(prompts) and all(len(per) == 3 for per in out)
    for per in out:
        for c in per:
            assert isinstance(c, Completion)
            assert 1 <= len(c.token_ids) <= 12 and len(c.logprobs) == len(c.token_ids)
            assert c.finish_reason in ("stop", "length")
            assert all(lp <= 0 and math.isfinite(lp) for lp in c.logprobs)
            assert c.text == backend.tokenizer.decode(c.token_ids, skip_special_tokens=True)
    # samples of one prompt differ (random model, 12 tokens over a 49k vocabulary)
    assert len({tuple(c.token_ids) for c in out[0]}) == 3


def test_same_seed_same_output_different_seed_differs(backend, prompts):
    a = backend.generate(prompts, n=2, temperature=1.0, max_new_tokens=10, seed=7)
    b = backend.generate(prompts, n=2, temperature=1.0, max_new_tokens=10, seed=7)
    c = backend.generate(prompts, n=2, temperature=1.0, max_new_tokens=10, seed=8)
    ids = lambda out: [[cc.token_ids for cc in per] for per in out]  # noqa: E731
    assert ids(a) == ids(b)
    assert [[cc.logprobs for cc in per] for per in a] == [[cc.logprobs for cc in per] for per in b]
    assert ids(a) != ids(c)


def test_batching_and_left_padding_do_not_change_samples(tiny, prompts):
    """Per-sample seeds: the same (prompt, sample) gives the same tokens alone, in a padded batch, or chunked."""
    model, tok = tiny
    big = TransformersBackend(model, tok, batch_size=64).generate(prompts, n=2, max_new_tokens=10, seed=3)
    one = TransformersBackend(model, tok, batch_size=1).generate(prompts, n=2, max_new_tokens=10, seed=3)
    alone = TransformersBackend(model, tok, batch_size=64).generate(prompts[:1], n=2, max_new_tokens=10, seed=3)
    assert [[c.token_ids for c in per] for per in big] == [[c.token_ids for c in per] for per in one]
    assert [c.token_ids for c in alone[0]] == [c.token_ids for c in big[0]]
    np.testing.assert_allclose(big[1][1].logprobs, one[1][1].logprobs, atol=1e-5)


def _naive_greedy(model, ids: list[int], steps: int) -> tuple[list[int], list[float]]:
    """Greedy decoding with a full forward pass per token (no cache, no padding)."""
    seq = list(ids)
    out, logps = [], []
    with torch.inference_mode():
        for _ in range(steps):
            logits = model(input_ids=torch.tensor([seq])).logits[0, -1].float()
            tok = int(logits.argmax())
            out.append(tok)
            logps.append(float(torch.log_softmax(logits, -1)[tok]))
            seq.append(tok)
    return out, logps


def test_greedy_equals_argmax_decoding_in_a_padded_batch(backend, prompts, tiny):
    model, _ = tiny
    out = backend.generate(prompts, n=2, temperature=0, max_new_tokens=8)
    for p, per in zip(prompts, out):
        ref, ref_logp = _naive_greedy(model, backend.encode_prompt(p), 8)
        assert per[0].token_ids == ref and per[1].token_ids == ref
        np.testing.assert_allclose(per[0].logprobs, ref_logp, atol=1e-4)
    # a vanishing nucleus keeps only the argmax: sampling then equals greedy
    nucleus = backend.generate(prompts, n=1, temperature=1.0, top_p=1e-9, max_new_tokens=8, seed=5)
    assert [per[0].token_ids for per in nucleus] == [per[0].token_ids for per in out]


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9)])
def test_generate_logprobs_equal_teacher_forced_score(backend, prompts, temperature, top_p):
    out = backend.generate(prompts, n=2, temperature=temperature, top_p=top_p, max_new_tokens=10, seed=11)
    flat_prompts = [p for p, per in zip(prompts, out) for _ in per]
    flat = [c for per in out for c in per]
    scores = backend.score(flat_prompts, flat)
    vocab = backend.model.get_output_embeddings().weight.shape[0]
    for c, s in zip(flat, scores):
        assert s["token_ids"].tolist() == c.token_ids
        np.testing.assert_allclose(s["logprobs"], c.logprobs, atol=1e-4)
        assert s["entropies"].shape == s["self_certainty"].shape == (len(c.token_ids),)
        assert np.all(s["entropies"] >= 0) and np.all(s["entropies"] <= math.log(vocab) + 1e-6)
        assert np.all(s["self_certainty"] >= -1e-6)


def test_score_accepts_text_and_ids_and_chunks(backend, prompts):
    tok = backend.tokenizer
    text = " The answer is \\boxed{5}."
    ids = tok(text, add_special_tokens=False).input_ids
    a = backend.score(prompts, [text] * 3)
    b = backend.score(prompts, [ids] * 3)
    small = TransformersBackend(backend.model, tok, batch_size=16, score_max_logit_bytes=1)  # one row per chunk
    c = small.score(prompts, [ids] * 3)
    for x, y, z in zip(a, b, c):
        np.testing.assert_allclose(x["logprobs"], y["logprobs"], atol=1e-6)
        np.testing.assert_allclose(x["entropies"], z["entropies"], atol=1e-4)
    empty = backend.score(prompts[:1], [[]])[0]
    assert empty["logprobs"].shape == (0,)


def test_token_stats_against_direct_formulas():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    logp, ent, sc = token_stats(logits, torch.tensor([0, 3]))
    p = torch.softmax(logits, -1)
    np.testing.assert_allclose(logp, torch.log(p[[0, 1], [0, 3]]), atol=1e-6)
    np.testing.assert_allclose(ent, -(p * p.log()).sum(-1), atol=1e-6)
    kl_uniform = (0.25 * (math.log(0.25) - p.log())).sum(-1)  # KL(U || p)
    np.testing.assert_allclose(sc, kl_uniform, atol=1e-6)
    assert abs(float(sc[1])) < 1e-6 and abs(float(ent[1]) - math.log(4)) < 1e-6


def test_inverse_cdf_sample_frequencies_and_zero_mass():
    probs = torch.tensor([[0.0, 0.2, 0.0, 0.5, 0.3, 0.0]]).repeat(20000, 1)
    u = torch.rand(20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    tokens = inverse_cdf_sample(probs, u)
    freq = torch.bincount(tokens, minlength=6).double() / 20000
    assert freq[[0, 2, 5]].sum() == 0  # zero-probability tokens never drawn
    np.testing.assert_allclose(freq[[1, 3, 4]], [0.2, 0.5, 0.3], atol=0.015)
    edge = inverse_cdf_sample(probs[:2], torch.tensor([0.0, 1.0 - 1e-12], dtype=torch.float64))
    assert edge.tolist() == [1, 4]


def test_top_p_filter_keeps_smallest_nucleus():
    probs = torch.tensor([[0.1, 0.5, 0.3, 0.1]])
    assert torch.equal(top_p_filter(probs, 0.5), torch.tensor([[0.0, 0.5, 0.0, 0.0]]))
    assert torch.equal(top_p_filter(probs, 0.6), torch.tensor([[0.0, 0.5, 0.3, 0.0]]))
    assert torch.equal(top_p_filter(probs, 0.85), torch.tensor([[0.1, 0.5, 0.3, 0.0]]) * (probs > 0)) or \
        torch.equal(top_p_filter(probs, 0.85), torch.tensor([[0.0, 0.5, 0.3, 0.1]]))  # tie at 0.1: either one
    assert torch.equal(top_p_filter(probs, 1.0), probs)


def test_stop_token_ends_each_row_without_disturbing_others(tiny, prompts):
    """With eos set to a token that some samples draw, each completion is the unstopped one cut at that token."""
    model, tok = tiny
    free = TransformersBackend(model, tok, batch_size=16).generate(prompts, n=4, max_new_tokens=12, seed=2)
    stop_tok = free[0][0].token_ids[3]
    stopping = TransformersBackend(model, tok, batch_size=16)
    stopping.eos_token_ids = {stop_tok}
    out = stopping.generate(prompts, n=4, max_new_tokens=12, seed=2)
    n_stopped = 0
    for per_free, per in zip(free, out):
        for f, c in zip(per_free, per):
            if stop_tok in f.token_ids:
                cut = f.token_ids.index(stop_tok) + 1
                assert c.token_ids == f.token_ids[:cut] and c.finish_reason == "stop"
                np.testing.assert_allclose(c.logprobs, f.logprobs[:cut], atol=1e-5)
                n_stopped += 1
            else:
                assert c.token_ids == f.token_ids and c.finish_reason == "length"
    assert n_stopped >= 1 and out[0][0].token_ids == free[0][0].token_ids[:4]


@pytest.mark.parametrize("kwargs, err", [
    (dict(n=0), ValueError), (dict(temperature=-0.1), ValueError), (dict(top_p=0.0), ValueError),
    (dict(max_new_tokens=0), ValueError), (dict(seed="a"), TypeError),
])
def test_bad_arguments_fail_fast(backend, prompts, kwargs, err):
    with pytest.raises(err):
        backend.generate(prompts, **kwargs)


def test_bad_prompts_fail_fast(backend):
    with pytest.raises(TypeError):
        backend.generate("a single string")
    with pytest.raises(ValueError):
        backend.generate([""], max_new_tokens=2)
    with pytest.raises(ValueError):
        backend.score(["a", "b"], ["c"])


def test_make_backend_checks_names_before_loading():
    with pytest.raises(UnknownModelError, match="tiny-random"):
        make_backend("no-such-model")
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend("tiny-random", backend="tensorrt")
    be = make_backend("tiny-random", batch_size=4)
    assert isinstance(be, TransformersBackend) and be.batch_size == 4


def test_vllm_backend_without_vllm_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(ImportError, match="vllm"):
        VLLMBackend("tiny-random")


def test_vllm_backend_maps_parameters_and_outputs(monkeypatch):
    """A stand-in vllm module checks what we pass to vLLM and how its outputs become Completions."""
    calls = {}

    class SamplingParams:
        def __init__(self, **kw):
            self.kw = kw

    class LLM:
        def __init__(self, **kw):
            calls["llm"] = kw

        def generate(self, prompts, params, use_tqdm=True):
            calls["prompts"], calls["params"] = prompts, [p.kw for p in params]
            lp = types.SimpleNamespace
            outs = []
            for prompt, p in zip(prompts, params):
                outs.append(types.SimpleNamespace(outputs=[
                    types.SimpleNamespace(text="vLLM's own decoding", token_ids=[ord("x"), 2],
                                          logprobs=[{120: lp(logprob=-0.5), 9: lp(logprob=-1.0)},
                                                    {2: lp(logprob=-0.1)}],
                                          finish_reason="stop" if j == 0 else "length")
                    for j in range(p.kw["n"])]))
            return outs

    class Tokenizer:  # the project's tokenizer: one id per character, EOS = 2
        bos_token, eos_token_id, pad_token_id = None, 2, 0

        def __call__(self, text, add_special_tokens=True):
            return types.SimpleNamespace(input_ids=[ord(c) for c in text])

        def decode(self, ids, skip_special_tokens=True):
            return "".join(chr(i) for i in ids if i != 2)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    monkeypatch.setattr("workbook.models.model_path", lambda name: "/models/tiny")
    monkeypatch.setattr("workbook.generation.vllm_backend._load_tokenizer", lambda source, preset: Tokenizer())
    be = VLLMBackend("tiny-random", seed=1)
    assert calls["llm"]["trust_remote_code"] is False and calls["llm"]["model"] == "/models/tiny"
    out = be.generate(["a", "b"], n=2, temperature=0.6, top_p=0.9, max_new_tokens=7, seed=4)
    # prompts go as the project tokenizer's ids (vLLM's AutoTokenizer may differ), text is decoded by it too
    assert calls["prompts"] == [{"prompt_token_ids": [97]}, {"prompt_token_ids": [98]}]
    assert [len(per) for per in out] == [2, 2]
    assert out[0][0] == Completion("x", [120, 2], [-0.5, -0.1], "stop") and out[1][1].finish_reason == "length"
    p0, p1 = calls["params"]
    assert {k: p0[k] for k in ("n", "temperature", "top_p", "max_tokens", "logprobs", "stop_token_ids")} == dict(
        n=2, temperature=0.6, top_p=0.9, max_tokens=7, logprobs=1, stop_token_ids=[2])
    assert p0["seed"] != p1["seed"]  # each prompt its own stream
