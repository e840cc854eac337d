"""PSR/NSR analysis: the gradient on a categorical policy, solution diversity of sampled completions, pass@k curves.

Zhu et al. 2025, "The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning", arXiv 2506.01347
(spec ``shared/specs/nsr.md``). The objectives come from ``workbook.rl`` (advantages, PPO clip, token-mean); this
module adds what the NSR notebook measures on top of them: the categorical-policy demonstration of where NSR moves
probability mass (Sec. 4 of the paper), per-problem counts of correct and *distinct* correct completions, a
training driver that tracks them during RL, and pass@k curves with bootstrap CIs over problems (seeds averaged).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

log = logging.getLogger(__name__)

__all__ = [
    "categorical_step", "logit_shift", "categorical_training", "normalize_solution", "count_distinct_correct",
    "sample_stats", "TrackConfig", "run_tracked", "run_tracked_grid", "pass_at_k_curves", "pass_at_k_difference",
    "mean_pass_at_k", "seed_mean_ci", "paper_ks",
]


# ---- 1. a categorical policy trained with the library's objectives ---------------------------------------------

def categorical_step(logits: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, method: str = "nsr",
                     lr: float = 1.0, updates: int = 1, **method_overrides) -> torch.Tensor:
    """Returns the logits (V,), float64, after ``updates`` SGD steps of ``method``'s clipped loss on one sampled batch.

    The policy is softmax(logits) over V candidate answers; ``actions`` (B,) are sampled indices and ``rewards``
    (B,) their 0/1 rewards. The advantage is ``workbook.rl.methods.get_method(method).advantages`` (the B samples
    form one group), the loss ``objectives.ppo_clip_loss`` against the logits before the first update, aggregated
    by ``objectives.aggregate_loss`` (token-mean): exactly what the trainer computes, with one token per sample.
    Plain SGD keeps the first step's change equal to -lr times the gradient (Zhu et al. 2025, Sec. 4).
    """
    from workbook.rl import get_method
    from workbook.rl import objectives as obj

    m = get_method(method, **method_overrides)
    actions = torch.as_tensor(actions, dtype=torch.long).reshape(-1)
    rewards = torch.as_tensor(rewards, dtype=torch.float32).reshape(-1)
    if actions.shape != rewards.shape or actions.numel() == 0:
        raise ValueError(f"actions {tuple(actions.shape)} and rewards {tuple(rewards.shape)} must match and be non-empty")
    adv = m.advantages(rewards, len(rewards))
    # float64: the analysis compares logit changes of order lr * p to 1e-6
    old_logp = torch.log_softmax(logits.detach().double(), -1)[actions].unsqueeze(1)
    z = logits.detach().double().clone().requires_grad_(True)
    adv = adv.double()
    mask = torch.ones_like(old_logp)
    for _ in range(updates):
        logp = torch.log_softmax(z, -1)[actions].unsqueeze(1)
        per_token, _, _ = obj.ppo_clip_loss(logp, old_logp, adv, m.clip_low, m.clip_high)
        loss = obj.aggregate_loss(per_token, mask, m.loss_agg)
        (grad,) = torch.autograd.grad(loss, z)
        with torch.no_grad():
            z -= lr * grad
    return z.detach()


def logit_shift(probs: Sequence[float], sampled: int, reward: float, method: str = "nsr", lr: float = 0.1,
                **method_overrides) -> pd.DataFrame:
    """Returns one row per candidate: p_before, p_after, dlogit, dlogit / (lr * p_before), after one update on one sample.

    Sec. 4 of Zhu et al. 2025: for NSR on a wrong sample y the gradient step lowers z_y by lr * (1 - p_y) and raises
    every other logit z_v by lr * p_v, i.e. in proportion to the model's prior: ``dlogit / (lr * p)`` is exactly 1 for
    v != y. For PSR on a correct sample the signs flip (every other candidate is pushed down by its prior).
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.dim() != 1 or (p <= 0).any() or abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError("probs must be a 1-D positive probability vector summing to 1")
    z0 = torch.log(p)
    z1 = categorical_step(z0, torch.tensor([sampled]), torch.tensor([float(reward)]), method, lr, 1, **method_overrides)
    dz = (z1 - z0).double()
    return pd.DataFrame({
        "candidate": np.arange(len(p)), "sampled": np.arange(len(p)) == sampled, "p_before": p.numpy(),
        "p_after": torch.softmax(z1.double(), -1).numpy(), "dlogit": dz.numpy(),
        "dlogit_over_lr_p": (dz / (lr * p)).numpy(),
    })


def categorical_training(prior_logits: Sequence[float], correct: Sequence[bool], method: str, steps: int = 50,
                         n: int = 8, lr: float = 0.5, updates: int = 4, seed: int = 0, ks: Sequence[int] = (1, 16),
                         **method_overrides) -> pd.DataFrame:
    """Returns per step: p_correct, pass@k = 1 - (1 - p_correct)^k, entropy, and the effective number of correct
    answers exp(H(p restricted to correct, renormalised)) of a categorical policy trained by ``method``.

    Each step samples ``n`` answers from the current policy (seeded), rewards 1 for answers in ``correct`` and
    applies ``categorical_step`` with ``updates`` clipped updates per batch (the official code's 4 mini-batches).
    """
    z = torch.as_tensor(prior_logits, dtype=torch.float64).clone()
    ok = torch.as_tensor(correct, dtype=torch.bool)
    if ok.shape != z.shape or not ok.any():
        raise ValueError("correct must be a boolean vector like prior_logits with at least one True")
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for step in range(steps + 1):
        p = torch.softmax(z, -1)
        pc = float(p[ok].sum())
        q = p[ok] / p[ok].sum()
        row = {"method": method, "step": step, "p_correct": pc,
               "entropy": float(-(p * torch.log(p.clamp_min(1e-300))).sum()),
               "effective_correct": float(torch.exp(-(q * torch.log(q.clamp_min(1e-300))).sum()))}
        row.update({f"pass@{k}": 1.0 - (1.0 - pc) ** k for k in ks})
        rows.append(row)
        if step == steps:
            break
        actions = torch.multinomial(p.float(), n, replacement=True, generator=gen)
        z = categorical_step(z, actions, ok[actions].float(), method, lr, updates, **method_overrides)
    return pd.DataFrame(rows)


# ---- 2. sampled completions: correct and distinct correct per problem --------------------------------------------

def normalize_solution(text: str) -> str:
    """Returns ``text`` with runs of whitespace collapsed and the ends stripped (two solutions differing only in
    spacing count once)."""
    return " ".join(text.split())


def count_distinct_correct(texts: Sequence[str], correct: Sequence[bool]) -> int:
    """Returns the number of distinct (whitespace-normalised) completions among the correct ones."""
    if len(texts) != len(correct):
        raise ValueError(f"{len(texts)} texts but {len(correct)} correctness flags")
    return len({normalize_solution(t) for t, c in zip(texts, correct) if c})


def sample_stats(model, tokenizer, problems: Sequence, n: int, temperature: float = 1.0, top_p: float = 1.0,
                 max_new_tokens: int = 64, seed: int = 0, instruction: str = "", grader=None,
                 batch_size: int = 256) -> pd.DataFrame:
    """Returns one row per problem: problem_id, dataset, n, n_correct, n_distinct_correct, n_distinct, nll, length.

    ``nll`` is the mean over sampled tokens of -log pi(token) under the raw (T = 1) distribution: at T = 1 a Monte
    Carlo estimate of the policy's per-token entropy on its own samples. Generation: ``workbook.generation``'s
    transformers backend (seeded per problem and sample); grading: ``workbook.grading.Grader`` (strict by default).
    """
    from workbook.generation import TransformersBackend
    from workbook.grading import Grader
    from workbook.rl.evaluation import build_prompts

    if not problems:
        raise ValueError("no problems to sample")
    grader = grader or Grader()
    prompts = build_prompts(tokenizer, [p.problem for p in problems], instruction)
    was_training = model.training
    model.eval()
    try:
        outs = TransformersBackend(model, tokenizer, batch_size=batch_size).generate(
            prompts, n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    finally:
        model.train(was_training)
    rows = []
    for p, comps in zip(problems, outs):
        texts = [c.text for c in comps]
        ok = grader.grade_many(texts, [p.answer] * len(texts))
        logps = [lp for c in comps for lp in c.logprobs]
        rows.append({"problem_id": p.problem_id, "dataset": p.dataset, "n": len(texts), "n_correct": int(sum(ok)),
                     "n_distinct_correct": count_distinct_correct(texts, ok),
                     "n_distinct": len({normalize_solution(t) for t in texts}),
                     "nll": float(-np.mean(logps)) if logps else float("nan"),
                     "length": float(np.mean([len(c.token_ids) for c in comps]))})
    return pd.DataFrame(rows)


# ---- 3. training with diversity tracking ------------------------------------------------------------------------

@dataclass(frozen=True)
class TrackConfig:
    """What to measure during and after training: every ``every`` optimizer steps, ``n`` samples on ``problems``
    at ``temperature`` (entropy, distinct correct); after training, ``final_n`` samples per ``final_problems``."""

    problems: tuple = ()
    every: int = 0
    n: int = 32
    temperature: float = 1.0
    final_problems: tuple = ()
    final_n: int = 256
    final_temperature: float = 1.0
    final_top_p: float = 1.0
    max_new_tokens: int = 64
    batch_size: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", tuple(self.problems))
        object.__setattr__(self, "final_problems", tuple(self.final_problems))
        if self.every < 0 or self.n < 1 or self.final_n < 0:
            raise ValueError("every must be >= 0, n >= 1 and final_n >= 0")
        if self.every and not self.problems:
            raise ValueError("tracking every > 0 steps needs problems")


def _tracking_callback(track: TrackConfig, tokenizer, instruction: str, grader, seed: int, sink: list):
    from transformers import TrainerCallback

    class DiversityCallback(TrainerCallback):
        """Samples the tracked problems every ``track.every`` optimizer steps (rank 0 only)."""

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if track.every and state.global_step % track.every == 0 and state.is_world_process_zero:
                df = sample_stats(model, tokenizer, track.problems, track.n, track.temperature, 1.0,
                                  track.max_new_tokens, seed + state.global_step, instruction, grader,
                                  track.batch_size)
                sink.append(df.assign(step=state.global_step))

    return DiversityCallback()


def run_tracked(spec, cfg, track: TrackConfig, run_root: str | Path = "rl_runs") -> dict[str, pd.DataFrame]:
    """Returns frames {train, track, final, timing} of one fresh run of ``spec`` (a ``workbook.rl.experiments.RunSpec``)
    under ``cfg`` (an ``ExperimentConfig``), tagged with label, method and seed.

    ``train``: the trainer's per-step log (reward, accuracy, entropy, clip ratios...); ``track``: per tracked step
    and problem ``sample_stats``; ``final``: ``sample_stats`` after training (n = ``track.final_n``); ``timing``:
    wall and CPU seconds of the process (CPU seconds / threads estimate the wall time on an idle core). A step-0 row
    (the initial model) is not recorded here: evaluate the base model once with ``sample_stats``.
    """
    import json

    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.trainer import RLConfig, build_trainer, train

    torch.set_num_threads(cfg.torch_threads)
    run_dir = Path(run_root) / spec.label / f"seed{spec.seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    t0, c0 = time.time(), time.process_time()
    torch.manual_seed(spec.seed)
    model, tok = load_model(cfg.model, device=cfg.device)
    rl_cfg = RLConfig(max_steps=cfg.steps, prompts_per_step=cfg.prompts_per_step,
                      num_generations=cfg.num_generations, micro_batch_size=cfg.micro_batch_size,
                      max_completion_length=cfg.max_completion_length, learning_rate=cfg.learning_rate,
                      generation_backend=cfg.generation_backend, instruction=cfg.instruction,
                      grading_mode=cfg.grading_mode, seed=spec.seed, bf16=cfg.bf16,
                      method_overrides=dict(spec.method_overrides))
    grader = Grader(mode=cfg.grading_mode)
    sink: list[pd.DataFrame] = []
    cb = _tracking_callback(track, tok, cfg.instruction, grader, spec.seed, sink)
    trainer = build_trainer(spec.method, model, tok, list(spec.problems), run_dir, rl_cfg, callbacks=[cb],
                            grader=grader)
    train(trainer, resume=False)
    final = pd.DataFrame()
    if track.final_n and track.final_problems:
        final = sample_stats(model, tok, track.final_problems, track.final_n, track.final_temperature,
                             track.final_top_p, track.max_new_tokens, spec.seed, cfg.instruction, grader,
                             track.batch_size)
    log_path = run_dir / "train_log.jsonl"
    logs = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()] if log_path.exists() else []
    tags = {"label": spec.label, "method": spec.method, "seed": spec.seed}
    train_df = pd.DataFrame([r for r in logs if "train_runtime" not in r])
    tracked = pd.concat(sink, ignore_index=True) if sink else pd.DataFrame()
    return {"train": train_df.assign(**tags), "track": tracked.assign(**tags) if len(tracked) else tracked,
            "final": final.assign(**tags) if len(final) else final,
            "timing": pd.DataFrame([{**tags, "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}])}


def run_tracked_grid(specs: Sequence, cfg, track: TrackConfig, run_root: str | Path = "rl_runs",
                     workers: int = 1) -> dict[str, pd.DataFrame]:
    """Returns the row-wise concatenation of ``run_tracked`` over ``specs``; ``workers`` > 1 runs them in spawned
    processes (seeded and independent, so the frames do not depend on ``workers``)."""
    keys = [(s.label, s.seed) for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate (label, seed) in specs: {keys}")
    jobs = [(s, cfg, track, str(run_root)) for s in specs]
    if workers <= 1 or len(jobs) == 1:
        parts = [run_tracked(*j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(run_tracked, *zip(*jobs)))
    return {k: pd.concat([p[k] for p in parts], ignore_index=True) for k in ("train", "track", "final", "timing")}


# ---- 4. pass@k curves and differences with CIs over problems ------------------------------------------------------

def _per_problem_pass(final: pd.DataFrame, label: str, ks: Sequence[int]) -> np.ndarray:
    """Returns pass@k per problem averaged over the label's seeds, shape (problems, len(ks)), problems sorted by id."""
    from workbook.metrics import pass_at_k_curve

    g = final[final["label"] == label]
    if g.empty:
        raise ValueError(f"no final evaluation rows for label {label!r}; have {sorted(final['label'].unique())}")
    curve = pass_at_k_curve(g["n_correct"].to_numpy(), g["n"].to_numpy(), list(ks))
    df = pd.DataFrame(curve, columns=list(ks)).assign(problem_id=g["problem_id"].to_numpy())
    return df.groupby("problem_id", sort=True)[list(ks)].mean().to_numpy()


def pass_at_k_curves(final: pd.DataFrame, ks: Sequence[int], n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Returns per (label, k): pass@k (unbiased estimator, mean over problems of the seed-averaged value), lo, hi
    (95% bootstrap over problems), n (problems), seeds. One vectorised pass per label (``pass_at_k_curve``)."""
    from workbook.metrics import bootstrap_ci

    rows = []
    for label in dict.fromkeys(final["label"]):
        per = _per_problem_pass(final, label, ks)
        n_seeds = final.loc[final["label"] == label, "seed"].nunique()
        for j, k in enumerate(ks):
            e = bootstrap_ci(per[:, j], n_boot=n_boot, seed=seed)
            rows.append({"label": label, "k": int(k), "value": e.value, "lo": e.lo, "hi": e.hi, "n": e.n,
                         "seeds": int(n_seeds)})
    return pd.DataFrame(rows)


def pass_at_k_difference(final: pd.DataFrame, a: str, b: str, ks: Sequence[int], n_boot: int = 2000,
                         seed: int = 0):
    """Returns an ``Estimate`` of mean_k pass@k(a) - pass@k(b) over ``ks``, paired over problems (bootstrap over
    problems; each arm's seeds averaged per problem first). Both arms must cover the same problems."""
    from workbook.metrics import bootstrap_ci

    pa, pb = _per_problem_pass(final, a, ks), _per_problem_pass(final, b, ks)
    if pa.shape != pb.shape:
        raise ValueError(f"{a!r} and {b!r} cover different problems ({pa.shape[0]} vs {pb.shape[0]})")
    diff = (pa - pb).mean(axis=1)
    e = bootstrap_ci(diff, n_boot=n_boot, seed=seed)
    return type(e)(e.value, e.lo, e.hi, e.n, f"pass@{list(ks)} {a} - {b}")


def mean_pass_at_k(final: pd.DataFrame, label: str, ks: Sequence[int]) -> float:
    """Returns the mean over problems and ``ks`` of the seed-averaged pass@k of ``label`` (for ranking arms)."""
    return float(_per_problem_pass(final, label, ks).mean())


def seed_mean_ci(frame: pd.DataFrame, value: str, by: Sequence[str] = ("label", "step"),
                 n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Returns per group ``by``: mean of ``value`` over problems (seeds averaged per problem first), lo, hi (95%
    bootstrap over problems), n. ``frame`` has columns ``by``, problem_id, seed and ``value``."""
    from workbook.metrics import bootstrap_ci

    rows = []
    for key, g in frame.dropna(subset=[value]).groupby(list(by), sort=True):
        per = g.groupby("problem_id")[value].mean().to_numpy(float)
        e = bootstrap_ci(per, n_boot=n_boot, seed=seed)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "value": e.value, "lo": e.lo, "hi": e.hi, "n": e.n})
    return pd.DataFrame(rows)


def paper_ks(n: int) -> list[int]:
    """Returns k = 1, 2, 4, ..., up to n (``calculate_metrics.py``'s grid), plus n itself if not a power of two."""
    ks = [2 ** i for i in range(int(math.log2(n)) + 1)] if n >= 1 else []
    return ks + ([n] if ks and ks[-1] != n else [])
