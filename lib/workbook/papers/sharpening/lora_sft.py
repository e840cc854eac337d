"""SFT-sharpening with LoRA: fine-tune on each prompt's maximum-likelihood sample among N (Huang et al. Sec. 4.1).

y_BoN = argmax_j log π_base(y_j | x) over N samples, then maximize Σ_i log π(y_BoN,i | x_i); amortizes best-of-N into
greedy decoding. Settings of the paper's Phi-3.5-mini / MATH run (Sec. 5): LoRA rank 16, lr 3e-4, weight decay 0.1,
"grad clamp 0.1". See ``docs/papers/sharpening.md``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from workbook.papers.sharpening.selection import base_loglik, select_max_score, self_rewards

def sft_sharpening_examples(prompts: Sequence[str], completions: Sequence[Sequence[str]], scores) -> list[dict]:
    """Return [{"prompt", "completion", "index"}]: per prompt the completion with the largest log-likelihood.

    y_BoN = argmax_j log π_base(y_j | x) (Huang et al. §4.1). completions: [prompt][N]; scores: (prompts, N).
    """
    sc = np.asarray(scores, dtype=float)
    if sc.shape[0] != len(prompts) or len(completions) != len(prompts):
        raise ValueError("prompts, completions and scores must agree on the number of prompts")
    out = []
    for p, comps, s in zip(prompts, completions, sc):
        j = select_max_score(s)
        out.append({"prompt": p, "completion": comps[j], "index": j})
    return out


@dataclass
class LoRASFTConfig:
    """LoRA SFT settings; defaults follow the paper's Phi-3.5/MATH run (Huang et al. Sec. 5)."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: str | list[str] = "all-linear"
    lr: float = 3e-4
    weight_decay: float = 0.1
    max_grad_norm: float = 0.1   # the paper's "grad clamp 0.1", read as a gradient-norm clip
    batch_size: int = 4
    epochs: int = 30
    max_steps: int | None = None
    seed: int = 0

    def __post_init__(self):
        if self.rank < 1 or self.batch_size < 1 or self.epochs < 1 or self.lr <= 0:
            raise ValueError("rank, batch_size, epochs must be >= 1 and lr > 0")


def train_lora_sft(model, tokenizer, examples: Sequence[dict], config: LoRASFTConfig,
                   append_eos: bool = True) -> tuple[object, list[float]]:
    """Return (peft model, per-step losses) after LoRA SFT on prompt → completion pairs.

    Loss on completion tokens only; AdamW with linear decay to 0; gradient-norm clipping. The base weights
    are frozen, so ``model.disable_adapter()`` gives back π_base for comparisons.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    if not examples:
        raise ValueError("no training examples")
    torch.manual_seed(config.seed)
    peft_model = get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha,
                                                  lora_dropout=config.dropout,
                                                  target_modules=config.target_modules, task_type="CAUSAL_LM"))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    eos = [tokenizer.eos_token_id] if append_eos and tokenizer.eos_token_id is not None else []
    rows = []
    for ex in examples:
        p = tokenizer(ex["prompt"], add_special_tokens=False)["input_ids"]
        c = tokenizer(ex["completion"], add_special_tokens=False)["input_ids"] + eos
        rows.append((p + c, [-100] * len(p) + c))
    steps_per_epoch = math.ceil(len(rows) / config.batch_size)
    total = config.max_steps or steps_per_epoch * config.epochs
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(0.0, 1.0 - step / total))
    gen = torch.Generator().manual_seed(config.seed)
    device = next(peft_model.parameters()).device
    losses: list[float] = []
    peft_model.train()
    step = 0
    while step < total:
        for b in torch.randperm(len(rows), generator=gen).split(config.batch_size):
            batch = [rows[i] for i in b.tolist()]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.tensor([s + [pad] * (width - len(s)) for s, _ in batch], device=device)
            labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch], device=device)
            attn = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s, _ in batch], device=device)
            loss = peft_model(input_ids=ids, attention_mask=attn, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            if step >= total:
                break
    peft_model.eval()
    return peft_model, losses


@dataclass
class SFTResult:
    """What SFT-sharpening changed on the evaluation problems, per problem × seed.

    ``correct_after``: greedy correctness; ``loglik_before/after``: log π_base of the greedy response;
    ``t1_after``: accuracy at T = 1 (mean of ``n_after`` samples); ``pi_star_after``: π̂(ŷ*|x), the sharpened model's
    probability of the base model's maximum-likelihood response ŷ* (teacher-forced; NaN when ŷ* was not given).
    """

    correct_after: np.ndarray     # (problems, seeds) 0/1
    loglik_before: np.ndarray     # (problems,) log π_base of the greedy response before sharpening
    loglik_after: np.ndarray      # (problems, seeds)
    losses: list[list[float]]     # per seed, per optimizer step
    t1_after: np.ndarray | None = None       # (problems, seeds)
    pi_star_after: np.ndarray | None = None  # (problems, seeds)


def sft_sharpen(backend, base_model, tokenizer, problems: Sequence, train_problems: Sequence,
                prompt_fn: Callable[[Any], str], greedy, grader, seeds: Sequence[int], config: "LoRASFTConfig", *,
                n: int, temperature: float, top_p: float, max_new_tokens: int, seed: int = 0,
                batch_size: int = 64, n_after: int = 0, ystar_token_ids: Sequence | None = None) -> SFTResult:
    """Return SFT-sharpening measured on the evaluation ``problems``: one LoRA run per seed in ``seeds``.

    Per seed: ``n`` samples per training problem from ``backend`` (seed ``seed + 10000 + s``), keep each problem's
    max-likelihood sample, LoRA-SFT a copy of ``base_model`` on them (``config`` with ``seed=s``), then decode and
    grade the evaluation problems greedily and score those responses under π_base. Sampling and grading go through
    ``workbook.evaluation``; ``greedy`` is the base model's greedy ``sample_and_grade`` frame (the "before").
    ``n_after`` > 0 also samples that many completions per problem at ``temperature`` (T = 1 accuracy after);
    ``ystar_token_ids`` (one per problem: the base model's maximum-likelihood response ŷ*) are scored under the
    sharpened model, giving π̂(ŷ*|x) after sharpening (Def. 3.1's quantity).
    """
    from workbook.evaluation import by_problem, correct_matrix, sample, sample_and_grade
    from workbook.generation import TransformersBackend

    prompts = [prompt_fn(p) for p in problems]
    train_prompts = [prompt_fn(p) for p in train_problems]
    scorer = TransformersBackend(base_model, tokenizer, batch_size=32)
    before = base_loglik(scorer, prompts, greedy["token_ids"].tolist())
    correct, after_ll, losses, t1, pi_star = [], [], [], [], []
    for s in seeds:
        pool = sample(backend, train_problems, n, prompt_fn=prompt_fn, seed=seed + 10_000 + s,
                      temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        logp = self_rewards(by_problem(pool))["logp"]  # the max-likelihood pick of each training problem
        examples = sft_sharpening_examples(train_prompts, by_problem(pool, "text"), logp)
        model, loss = train_lora_sft(copy.deepcopy(base_model), tokenizer, examples,
                                     LoRASFTConfig(**{**vars(config), "seed": s}))
        sharp = TransformersBackend(model.merge_and_unload(), tokenizer, batch_size=batch_size)
        after = sample_and_grade(sharp, problems, 1, grader=grader, prompt_fn=prompt_fn, seed=seed, temperature=0.0,
                                 max_new_tokens=max_new_tokens)
        correct.append(after["correct"].to_numpy(dtype=float))
        after_ll.append(base_loglik(scorer, prompts, after["token_ids"].tolist()))
        losses.append(loss)
        if n_after > 0:
            t1_frame = sample_and_grade(sharp, problems, n_after, grader=grader, prompt_fn=prompt_fn,
                                        seed=seed + 20_000 + s, temperature=temperature, top_p=top_p,
                                        max_new_tokens=max_new_tokens)
            t1.append(correct_matrix(t1_frame).mean(1))
        if ystar_token_ids is not None:
            pi_star.append(np.exp(base_loglik(sharp, prompts, list(ystar_token_ids))))
    stack = (lambda xs: np.stack(xs, 1) if xs else None)  # noqa: E731
    return SFTResult(np.stack(correct, 1), before, np.stack(after_ll, 1), losses, stack(t1), stack(pi_star))
