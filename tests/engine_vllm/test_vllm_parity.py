"""VLLMBackend against TransformersBackend on the smoke toy (head_dim 32, which vLLM's CPU attention supports).

The same fp32 weights, the same prompt ids (the project's tokenizer, passed as ``prompt_token_ids``):

- greedy decoding gives the same tokens and text;
- the logprobs vLLM returns with its samples are the *raw* logprobs (before temperature/top-p) the teacher-forced
  ``TransformersBackend.score`` computes, within ``LOGP_TOL`` nats per token;
- one seed gives the same samples twice, another seed other samples;
- a saved checkpoint directory (what an RL run leaves) is loaded by path, and its own weights generate;
- in bfloat16 (TRL colocate's rollouts) the sampled logprobs stay within bf16 rounding of the fp32 policy's.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

MODEL = "toy-reasoner-smoke"
#: Both backends compute in float32 from the same weights; they differ only in kernels (vLLM's CPU attention and
#: fused ops vs SDPA), i.e. in summation order: measured max 3.3e-6 nats over ~800 sampled tokens (2 cores, AVX2).
#: 1e-4 leaves 30x room for other CPUs and still fails on any real mismatch: a temperature-scaled logprob
#: (T = 0.7 below), an off-by-one position or a different prompt moves per-token logprobs by 1e-2 or more.
LOGP_TOL = 1e-4
#: vLLM in bfloat16 (what TRL's colocated engine samples in: TRL passes no dtype) against the fp32 trainer: bf16
#: keeps 8 mantissa bits, ~4e-3 relative error on logits of magnitude ~10. Measured max 3.6e-2, mean 4.7e-3 nats.
BF16_MAX_TOL, BF16_MEAN_TOL = 0.15, 0.02


@pytest.fixture(scope="module")
def backends():
    from workbook.generation import TransformersBackend, VLLMBackend
    from workbook.models import load_model

    model, tok = load_model(MODEL, device="cpu")
    hf = TransformersBackend(model, tok, batch_size=64)
    vl = VLLMBackend(MODEL, seed=0, dtype="float32")
    yield vl, hf
    del vl
    gc.collect()


@pytest.fixture(scope="module")
def prompts(backends):
    from workbook.data.synthetic import generate_problems
    from workbook.generation import build_prompt
    from workbook.toy import MATH_INSTRUCTION

    tok = backends[1].tokenizer
    return [build_prompt(tok, p.problem, MATH_INSTRUCTION) for p in generate_problems(6, 0, split="test")]


def test_prompt_ids_are_the_project_tokenizers(backends, prompts):
    vl, hf = backends
    assert [vl.encode_prompt(p) for p in prompts] == [hf.encode_prompt(p) for p in prompts]


def test_greedy_tokens_equal(backends, prompts):
    vl, hf = backends
    a = vl.generate(prompts, n=2, temperature=0.0, max_new_tokens=48, seed=0)  # n > 1: copies (vLLM refuses it)
    b = hf.generate(prompts, n=2, temperature=0.0, max_new_tokens=48, seed=0)
    for x, y in zip(a, b):
        assert len(x) == 2 and x[0].token_ids == x[1].token_ids
        assert x[0].token_ids == y[0].token_ids
        assert x[0].text == y[0].text
        assert x[0].finish_reason == y[0].finish_reason
    assert any(c[0].finish_reason == "stop" for c in a), "no completion reached EOS: stop ids not honoured"


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampled_logprobs_are_raw_and_match_teacher_forcing(backends, prompts, temperature):
    vl, hf = backends
    out = vl.generate(prompts, n=4, temperature=temperature, max_new_tokens=40, seed=1)
    flat_prompts = [p for p, cs in zip(prompts, out) for _ in cs]
    flat = [c for cs in out for c in cs]
    scored = hf.score(flat_prompts, flat)
    diffs = np.concatenate([np.abs(np.asarray(c.logprobs) - np.asarray(s["logprobs"]))
                            for c, s in zip(flat, scored)])
    assert len(diffs) > 0 and all(len(c.logprobs) == len(c.token_ids) for c in flat)
    assert diffs.max() < LOGP_TOL, f"max |vLLM - teacher-forced| = {diffs.max():.2e} nats"


def test_same_seed_same_samples(backends, prompts):
    vl, _ = backends
    a = vl.generate(prompts, n=3, temperature=1.0, max_new_tokens=32, seed=7)
    b = vl.generate(prompts, n=3, temperature=1.0, max_new_tokens=32, seed=7)
    c = vl.generate(prompts, n=3, temperature=1.0, max_new_tokens=32, seed=8)
    ids = lambda out: [[s.token_ids for s in cs] for cs in out]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_checkpoint_directory_is_loaded_by_path(tmp_path):
    """A saved policy (weights changed, as after RL) is evaluated through vLLM from its folder: greedy output is the
    checkpoint's own (equal to transformers on the same folder) and differs from the base model's. Runs in a fresh
    process: one process holds one in-process vLLM engine at a time here."""
    import torch

    from workbook.models import load_model

    model, tok = load_model(MODEL, device="cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "mlp" in name:
                p.add_(torch.randn_like(p, generator=torch.Generator().manual_seed(0)) * 0.3)
    model.save_pretrained(tmp_path / "ckpt")
    tok.save_pretrained(tmp_path / "ckpt")
    script = textwrap.dedent(f"""
        import json
        from workbook.data.synthetic import generate_problems
        from workbook.generation import TransformersBackend, VLLMBackend, build_prompt
        from workbook.models import load_model
        from workbook.toy import MATH_INSTRUCTION
        from workbook.generation.vllm_backend import _checkpoint_tokenizer
        from transformers import AutoModelForCausalLM
        path = {str(tmp_path / "ckpt")!r}
        tok = _checkpoint_tokenizer(__import__("pathlib").Path(path))
        prompts = [build_prompt(tok, p.problem, MATH_INSTRUCTION) for p in generate_problems(4, 0, split="test")]
        vl = VLLMBackend(path, dtype="float32")
        a = [c[0].token_ids for c in vl.generate(prompts, n=1, temperature=0.0, max_new_tokens=32)]
        hf = TransformersBackend(AutoModelForCausalLM.from_pretrained(path), tok)
        b = [c[0].token_ids for c in hf.generate(prompts, n=1, temperature=0.0, max_new_tokens=32)]
        m, t = load_model({MODEL!r})
        base = [c[0].token_ids for c in TransformersBackend(m, t).generate(prompts, n=1, temperature=0.0,
                                                                             max_new_tokens=32)]
        print("RESULT", json.dumps({{"vllm": a, "hf": b, "base": base}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    res = json.loads(line[len("RESULT "):])
    assert res["vllm"] == res["hf"]
    assert res["vllm"] != res["base"]


def test_bf16_sampling_logprobs_within_bf16_tolerance():
    """The RL rollouts' situation: samples and logprobs from vLLM in bf16, scored by the fp32 policy. The gap is
    bf16 rounding (BF16_* above), an order below the log-ratio clip a PPO step tolerates (0.2). Fresh process:
    one in-process vLLM engine per process."""
    script = textwrap.dedent(f"""
        import json
        import numpy as np
        from workbook.data.synthetic import generate_problems
        from workbook.generation import TransformersBackend, VLLMBackend, build_prompt
        from workbook.models import load_model
        from workbook.toy import MATH_INSTRUCTION
        m, tok = load_model({MODEL!r})
        prompts = [build_prompt(tok, p.problem, MATH_INSTRUCTION) for p in generate_problems(6, 0, split="test")]
        out = VLLMBackend({MODEL!r}, dtype="bfloat16").generate(prompts, n=4, temperature=1.0, max_new_tokens=40,
                                                                seed=1)
        fp = [p for p, cs in zip(prompts, out) for _ in cs]
        fl = [c for cs in out for c in cs]
        sc = TransformersBackend(m, tok).score(fp, fl)
        d = np.concatenate([np.abs(np.asarray(c.logprobs) - np.asarray(s["logprobs"])) for c, s in zip(fl, sc)])
        print("RESULT", json.dumps({{"max": float(d.max()), "mean": float(d.mean()), "n": int(d.size)}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])
    assert res["n"] > 100
    assert res["max"] < BF16_MAX_TOL and res["mean"] < BF16_MEAN_TOL, res
    assert res["max"] > 1e-4, "bf16 sampled logprobs equal fp32 ones: the engine did not run in bf16"


def test_context_beyond_the_models_positions_with_the_override():
    """$WORKBOOK_VLLM_MAX_MODEL_LEN above the toy's 256 positions (the rehearsal: the paper's prompts are longer)
    must raise vLLM's RoPE cache too; without it a prompt past 256 tokens kills the process with no Python error."""
    script = textwrap.dedent(f"""
        from workbook.generation import VLLMBackend
        vl = VLLMBackend({MODEL!r})
        prompt = "<|user|>" + "Compute 1 + 2. " * 50 + "\\n<|assistant|>"
        n_prompt = len(vl.encode_prompt(prompt))
        out = vl.generate([prompt], n=2, temperature=1.0, max_new_tokens=40)
        print("RESULT", n_prompt, min(len(c.token_ids) for c in out[0]))
    """)
    env = {**os.environ, "VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1", "WORKBOOK_VLLM_MAX_MODEL_LEN": "512"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    n_prompt, shortest = map(int, next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:].split())
    assert n_prompt > 256 and shortest >= 1  # the prompt alone is past the trained positions
