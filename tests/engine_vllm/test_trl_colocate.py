"""TRL's colocate mode on vLLM's CPU platform, as the RL notebooks' paper path runs it in the rehearsal.

``workbook.rl.trainer.build_trainer(generation_backend="vllm")`` builds a GRPOTrainer whose rollouts come from an
in-process vLLM engine; after every step TRL pushes the policy's weights into it. On CPU that needs
``workbook.generation.vllm_backend.prepare_cpu_colocate`` (vLLM 0.31 drops prepacked linear weights). Each test
runs in a fresh process: one in-process vLLM engine per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, tempfile, torch
    from workbook.data import load_benchmark
    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.trainer import RLConfig, build_trainer, train
    m, tok = load_model("toy-reasoner-smoke")
    problems = load_benchmark("one_shot_rlvr_pi1", limit=2)  # the paper's pi1 prompt: longer than the toy's positions
    cfg = RLConfig(max_steps=2, prompts_per_step=2, num_generations=2, max_completion_length=24,
                   generation_backend="vllm")
    with tempfile.TemporaryDirectory() as d:
        tr = build_trainer("grpo", m, tok, problems, d, cfg, grader=Grader(mode="strict"))
        train(tr, resume=False)
        runner = tr.vllm_generation.llm.llm_engine.model_executor.driver_worker.worker.model_runner
        name = "model.layers.0.mlp.down_proj.weight"
        policy = m.model.layers[0].mlp.down_proj.weight
        with torch.no_grad():
            policy.add_(0.5)  # a policy update the engine has not seen yet
        before = (dict(runner.model.named_parameters())[name].float() - policy.float()).abs().max().item()
        tr.vllm_generation.sync_weights()
        engine = dict(runner.model.named_parameters())[name]
        after = (engine.float() - policy.float()).abs().max().item()
        print("RESULT", json.dumps({"use_vllm": bool(tr.use_vllm), "dtype": str(engine.dtype),
                                    "before": before, "after": after, "steps": tr.state.global_step}))
""")


def test_grpo_steps_through_vllm_colocate_and_weights_sync():
    env = {**os.environ, "VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1", "WORKBOOK_VLLM_MAX_MODEL_LEN": "1024"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])
    assert res["use_vllm"] and res["steps"] == 2
    # TRL passes no dtype: the engine samples in bf16 while the policy trains in fp32 (docs/rehearsal.md)
    assert res["dtype"] == "torch.bfloat16"
    assert res["before"] > 0.4  # the engine still held the old weights
    assert res["after"] < 0.01  # synced, up to bf16 rounding of weights of magnitude ~1 (2^-8)


SAVED = textwrap.dedent("""
    import json, sys, torch
    from pathlib import Path
    from workbook.data import load_benchmark
    from workbook.evaluation import sample_and_grade
    from workbook.generation import TransformersBackend, VLLMBackend, prompt_fn
    from workbook.generation.vllm_backend import _checkpoint_tokenizer
    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.trainer import RLConfig, build_trainer, train
    from transformers import AutoModelForCausalLM
    out = Path(sys.argv[1])
    m, tok = load_model("toy-reasoner-smoke")
    problems = load_benchmark("math500", limit=3)
    cfg = RLConfig(max_steps=1, prompts_per_step=2, num_generations=2, max_completion_length=16, learning_rate=0.05)
    tr = build_trainer("grpo", m, tok, problems, out / "run", cfg, grader=Grader(mode="strict"))
    train(tr, resume=False)
    tr.save_model(str(out / "policy"))  # what an RL run leaves: weights, config, tokenizer
    backend = VLLMBackend(out / "policy", dtype="float32")
    frame = sample_and_grade(backend, problems, 2, grader=Grader(mode="strict"),
                             prompt_fn=prompt_fn(backend.tokenizer), seed=0, temperature=0.0, max_new_tokens=24)
    hf = TransformersBackend(AutoModelForCausalLM.from_pretrained(out / "policy"), _checkpoint_tokenizer(out / "policy"))
    ref = sample_and_grade(hf, problems, 2, grader=Grader(mode="strict"), prompt_fn=prompt_fn(hf.tokenizer), seed=0,
                           temperature=0.0, max_new_tokens=24)
    print("RESULT", json.dumps({"columns": list(frame.columns), "rows": len(frame),
                                "same": frame["token_ids"].tolist() == ref["token_ids"].tolist()}))
""")


def test_saved_rl_policy_is_evaluated_through_vllm(tmp_path):
    """A policy saved by the RL trainer is evaluated through VLLMBackend by the one sample-and-grade path, with
    the same greedy completions as transformers on the same folder."""
    env = {**os.environ, "VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1", "WORKBOOK_VLLM_MAX_MODEL_LEN": "1024"}
    proc = subprocess.run([sys.executable, "-c", SAVED, str(tmp_path)], capture_output=True, text=True, timeout=900,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])
    assert res["rows"] == 6 and {"problem_id", "text", "logprobs", "correct"} <= set(res["columns"])
    assert res["same"]
