"""The CPU fast path (StaticDecoder) samples exactly what the ordinary ``model.forward`` path samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbook.generation import TransformersBackend, build_prompt
from workbook.generation.static_decode import StaticDecoder, supports
from workbook.models import load_model


def _qwen2_toy():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from workbook.toy.tokenizer import build_tokenizer

    tok = build_tokenizer()
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():  # make EOS likely so that rows stop at different steps
        model.lm_head.weight[tok.eos_token_id] *= 0  # tied: also the embedding row; harmless for the test
        model.model.norm.weight.mul_(3.0)
    return model, tok


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9), (0.0, 1.0)])
def test_fast_path_equals_model_forward_path(temperature, top_p):
    """Same tokens, same logprobs (102-token vocabulary: no float ties in the inverse CDF)."""
    torch.set_num_threads(1)
    model, tok = _qwen2_toy()
    prompts = ["<|user|>12+3=\n<|assistant|>", "<|user|>7\n<|assistant|>", "<|user|>99*9-1\n<|assistant|>"]
    assert supports(model)
    kw = dict(n=5, temperature=temperature, top_p=top_p, max_new_tokens=12, seed=4)
    fast = TransformersBackend(model, tok, batch_size=8, fast=True).generate(prompts, **kw)
    slow = TransformersBackend(model, tok, batch_size=8, fast=False).generate(prompts, **kw)
    if temperature > 0:  # rows stop at different steps (greedy never picks the EOS here)
        assert {c.finish_reason for per in fast for c in per} == {"stop", "length"}
    for fp, sp in zip(fast, slow):
        for f, s in zip(fp, sp):
            assert f.token_ids == s.token_ids and f.finish_reason == s.finish_reason
            np.testing.assert_allclose(f.logprobs, s.logprobs, atol=1e-4)


def test_fast_path_logprobs_equal_teacher_forced_score_on_llama_gqa():
    """tiny-random: Llama with grouped-query attention (4 query heads, 2 key/value heads), 49k vocabulary."""
    torch.set_num_threads(1)
    model, tok = load_model("tiny-random")
    prompts = [build_prompt(tok, "What is 2 + 3?"), "Plain text", build_prompt(tok, "A longer question here?")]
    backend = TransformersBackend(model, tok, batch_size=8)
    assert backend.fast
    out = backend.generate(prompts, n=3, temperature=0.8, max_new_tokens=10, seed=2)
    flat = [c for per in out for c in per]
    scores = backend.score([p for p, per in zip(prompts, out) for _ in per], flat)
    for c, s in zip(flat, scores):
        np.testing.assert_allclose(s["logprobs"], c.logprobs, atol=1e-4)


def test_static_decoder_prefill_matches_forward_with_left_padding():
    model, tok = _qwen2_toy()
    ids = torch.tensor([[0, 0, 10, 11, 12], [13, 14, 15, 16, 17]])
    mask = (torch.arange(5)[None] >= torch.tensor([[2], [0]])).long()
    dec = StaticDecoder(model)
    with torch.inference_mode():
        got = dec.prefill(ids, mask, capacity=8)
        for row in range(2):
            real = ids[row][mask[row].bool()][None]
            ref = model(input_ids=real).logits[0, -1]
            np.testing.assert_allclose(got[row].numpy(), ref.numpy(), atol=1e-4)
        with pytest.raises(RuntimeError, match="cache is full"):
            for _ in range(4):
                dec.step(torch.tensor([20, 21]))


def test_fast_true_rejects_other_architectures():
    class NotLlama(torch.nn.Linear):
        config = type("C", (), {"model_type": "gpt2"})()

    assert not supports(NotLlama(2, 2))
