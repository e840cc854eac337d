"""Held-out evaluation during RL training: accuracy and pass@k with 95% CIs, written as a curve into the run dir."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from transformers import TrainerCallback

__all__ = ["build_prompts", "evaluate_policy", "EvalCallback"]

log = logging.getLogger(__name__)


def build_prompts(tokenizer, questions: Sequence[str], instruction: str) -> list[str]:
    """Returns the prompt strings "{question} {instruction}" under the tokenizer's chat template (if it has one).

    Same rule as ``workbook.generation.build_prompt`` (CONTRACTS.md); kept local so the RL engine has no import
    cycle with generation.
    """
    out = []
    for q in questions:
        user = f"{q} {instruction}".strip()
        if getattr(tokenizer, "chat_template", None):
            out.append(tokenizer.apply_chat_template(
                [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True))  # fmt: skip
        else:
            out.append(user + "\n")
    return out


def _pass_at_k(n: int, c: np.ndarray, k: int) -> np.ndarray:
    try:
        from workbook.metrics import pass_at_k

        return np.asarray(pass_at_k(n, c, k), dtype=float)
    except ImportError:  # owner DATA; same unbiased product form 1 - prod_{i=n-c+1}^{n} (1 - k/i)
        return np.array([1.0 if n - ci < k else 1.0 - np.prod(1.0 - k / np.arange(n - ci + 1, n + 1)) for ci in c])


def _ci(per_problem: np.ndarray, seed: int) -> tuple[float, float, float]:
    try:
        from workbook.metrics import bootstrap_ci

        e = bootstrap_ci(per_problem, seed=seed)
        return float(e.value), float(e.lo), float(e.hi)
    except ImportError:  # percentile bootstrap over problems
        rng = np.random.default_rng(seed)
        boots = per_problem[rng.integers(0, len(per_problem), (2000, len(per_problem)))].mean(1)
        return float(per_problem.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


@torch.no_grad()
def evaluate_policy(
    model, tokenizer, problems: Sequence, grader, n: int = 4, ks: Sequence[int] = (1, 4), temperature: float = 0.6,
    max_new_tokens: int = 64, instruction: str = "", seed: int = 0, batch_size: int = 16,
) -> dict:
    """Returns {accuracy, accuracy_lo, accuracy_hi, pass@k(+_lo/_hi), n, n_problems} for ``model`` on ``problems``.

    accuracy = mean over problems of n_correct/n (mean@n); pass@k unbiased (evaluation.md); 95% CIs bootstrap over
    problems. temperature 0 means greedy (then n is forced to 1).
    """
    questions = [p.problem if hasattr(p, "problem") else p["problem"] for p in problems]
    golds = [p.answer if hasattr(p, "answer") else p["answer"] for p in problems]
    n = 1 if temperature == 0 else n
    prompts = build_prompts(tokenizer, questions, instruction)
    n_correct = np.zeros(len(prompts), dtype=int)
    devices = [model.device] if model.device.type == "cuda" else []
    # Evaluation samples under its own seed and leaves the training RNG stream untouched.
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        _generate_and_grade(model, tokenizer, prompts, golds, grader, n, temperature, max_new_tokens, batch_size,
                            n_correct)  # fmt: skip
    out = {"n": n, "n_problems": len(prompts)}
    out["accuracy"], out["accuracy_lo"], out["accuracy_hi"] = _ci(n_correct / n, seed)
    for k in ks:
        if k <= n:
            v, lo, hi = _ci(_pass_at_k(n, n_correct, k), seed)
            out[f"pass@{k}"], out[f"pass@{k}_lo"], out[f"pass@{k}_hi"] = v, lo, hi
    return out


def _generate_and_grade(model, tokenizer, prompts, golds, grader, n, temperature, max_new_tokens, batch_size,
                        n_correct) -> None:
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for s in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[s : s + batch_size], return_tensors="pt", padding=True).to(model.device)
            kw = {"do_sample": True, "temperature": temperature, "top_p": 1.0} if temperature > 0 else {"do_sample": False}
            ids = model.generate(**batch, max_new_tokens=max_new_tokens, num_return_sequences=n,
                                 pad_token_id=tokenizer.pad_token_id, **kw)  # fmt: skip
            texts = tokenizer.batch_decode(ids[:, batch["input_ids"].size(1) :], skip_special_tokens=True)
            gold = [g for g in golds[s : s + batch_size] for _ in range(n)]
            ok = np.array(grader.grade_many(texts, gold), dtype=int).reshape(-1, n)
            n_correct[s : s + batch_size] = ok.sum(1)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)


class EvalCallback(TrainerCallback):
    """Evaluates the policy every ``every`` optimizer steps (and before step 1); appends records to ``path`` (jsonl)."""

    def __init__(self, problems, tokenizer, path: str | Path, every: int, grader, **eval_kw):
        self.problems, self.tokenizer, self.path, self.every = list(problems), tokenizer, Path(path), every
        self.grader, self.eval_kw = grader, eval_kw

    def _run(self, state, model):
        if not state.is_world_process_zero:
            return
        done = set()
        if self.path.exists():
            done = {json.loads(line)["step"] for line in self.path.read_text().splitlines() if line.strip()}
        if state.global_step in done:  # a resumed run does not repeat an evaluation
            return
        rec = {"step": state.global_step, **evaluate_policy(model, self.tokenizer, self.problems, self.grader,
                                                            **self.eval_kw)}  # fmt: skip
        with self.path.open("a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
        log.info("eval at step %d: %s", state.global_step, rec)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._run(state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0 or state.global_step == state.max_steps:
            self._run(state, model)
