"""RL training resumes after a kill: SIGKILL a training process right after a checkpoint, then resume in a new one.

The trainer's own resume (``workbook.rl.trainer.train(trainer, resume=True)`` from the last ``checkpoint-N``) is what
a re-run relies on when a long run is killed (Ctrl-C escalated, OOM killer, a lost session). The process is killed
for real, so nothing after the checkpoint (an exception handler, a final save) can help it along.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

SCRIPT = r'''
import json, os, pathlib, sys, time
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM, TrainerCallback
from workbook.rl.trainer import RLConfig, build_trainer, train

torch.set_num_threads(1)
run, marker, hang = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3] == "hang"
PROBLEMS = [{"problem": f"{i}+{i}=", "answer": str(2 * i), "problem_id": f"p{i}"} for i in range(4)]


class ExactGrader:
    name = "exact"

    def grade_many(self, completions, golds):
        return [c.strip() == g for c, g in zip(completions, golds)]


def parity_reward(completions, answers, completion_ids):
    return [float(len(ids) > 0 and ids[0] % 2 == 0) for ids in completion_ids]


try:
    from workbook.toy.tokenizer import build_tokenizer
    tok = build_tokenizer()
except ImportError:
    from workbook.models import load_model
    _, tok = load_model("tiny-random")
torch.manual_seed(0 if hang else 123)  # the resumed process starts from other weights: only the checkpoint helps
model = Qwen2ForCausalLM(Qwen2Config(
    vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id))


class HangAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kw):
        if state.global_step == 2:
            marker.write_text(str(os.getpid()))
            time.sleep(900)  # killed here by the test


cfg = RLConfig(max_steps=4, prompts_per_step=2, num_generations=4, max_completion_length=8, learning_rate=1e-2,
               instruction="", seed=0, save_steps=2)
tr = build_trainer("grpo", model, tok, PROBLEMS, run, cfg, reward_fn=parity_reward, grader=ExactGrader(),
                   callbacks=[HangAfterSave()] if hang else None)
train(tr, resume=True)
print(json.dumps({"global_step": tr.state.global_step}))
'''


def test_rl_training_resumes_after_sigkill(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    run, marker = tmp_path / "run", tmp_path / "saved"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(run), str(marker), "hang"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t_end = time.monotonic() + 600  # generous: imports and two steps on a loaded machine
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < t_end, "training never reached its step-2 checkpoint"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert (run / "checkpoints" / "checkpoint-2").is_dir() and not (run / "checkpoints" / "checkpoint-4").exists()
    steps_before = [json.loads(x)["step"] for x in (run / "train_log.jsonl").read_text().splitlines()
                    if "loss" in json.loads(x)]
    assert steps_before == [1, 2]

    done = subprocess.run([sys.executable, str(script), str(run), str(marker), "resume"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"global_step": 4}
    steps = [json.loads(x)["step"] for x in (run / "train_log.jsonl").read_text().splitlines()
             if "loss" in json.loads(x)]
    assert steps == [1, 2, 3, 4], "the resumed run continues at step 3; a fresh start would log 1, 2 again"
    assert (run / "checkpoints" / "checkpoint-4").is_dir()
