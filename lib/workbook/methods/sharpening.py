"""Sharpening: best-of-N by self-reward, SFT-sharpening with LoRA, and an exact tabular check of the theory.

Huang, Block, Foster et al., "Self-Improvement in Language Models: The Sharpening Mechanism", arXiv 2412.01951
(ICLR 2025); spec ``shared/specs/sharpening.md``. Self-certainty and Borda voting: Kang et al., arXiv 2502.18581
(spec ``evaluation.md``).

Layout: self-rewards → selectors → best-of-N curves by subsampling → SFT-sharpening → the tabular model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from workbook.methods.dser import majority_vote

logger = logging.getLogger(__name__)

SELECTORS = ("logp", "logp_norm", "self_certainty", "majority", "borda")

# --------------------------------------------------------------------------------------------------------------
# Self-rewards (spec sharpening.md "Definitions"; evaluation.md "Self-certainty")


def sequence_logp(logprobs: Sequence[float]) -> float:
    """Return r_self = log π(y|x) = Σ_t log π(y_t | x, y_<t) from per-token log-probs (Eq. 2 of Huang et al.)."""
    return float(np.sum(np.asarray(logprobs, dtype=float)))


def length_normalized_logp(logprobs: Sequence[float]) -> float:
    """Return the mean per-token log-probability (−inf for an empty completion, which is never preferred)."""
    lp = np.asarray(logprobs, dtype=float)
    return float(lp.mean()) if lp.size else float("-inf")


def self_certainty_from_logits(logits, mask=None) -> float:
    """Return SC = mean over tokens of KL(Uniform ‖ p_i) = logsumexp(z_i) − mean(z_i) − log V.

    Kang et al. 2025, Eq. (4); spec evaluation.md "Self-certainty". logits: (tokens, V) of the output tokens;
    mask: (tokens,) 1 for tokens that count.
    """
    import torch

    z = torch.as_tensor(logits, dtype=torch.float32)
    per_token = torch.logsumexp(z, -1) - z.mean(-1) - math.log(z.shape[-1])
    m = torch.ones_like(per_token) if mask is None else torch.as_tensor(mask, dtype=torch.float32)
    return float((per_token * m).sum() / m.sum().clamp(min=1))


def teacher_forced_scores(model, tokenizer, prompts: Sequence[str], completions: Sequence[str | Sequence[int]],
                          batch_size: int = 8) -> list[dict]:
    """Return per completion {"logp", "logp_norm", "self_certainty", "n_tokens"} from one teacher-forced pass.

    Completions are texts or token-id lists (e.g. ``Completion.token_ids``, which avoids re-tokenization drift).
    Self-certainty needs the full next-token distribution, which is why this pass exists (evaluation.md).
    """
    import torch

    if len(prompts) != len(completions):
        raise ValueError("prompts and completions must have the same length")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    device = next(model.parameters()).device
    out: list[dict] = []
    was_training = model.training
    model.eval()
    for start in range(0, len(prompts), batch_size):
        p_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts[start:start + batch_size]]
        c_ids = [list(c) if not isinstance(c, str) else tokenizer(c, add_special_tokens=False)["input_ids"]
                 for c in completions[start:start + batch_size]]
        seqs = [p + c for p, c in zip(p_ids, c_ids)]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        attn = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, : len(s)], attn[i, : len(s)] = torch.tensor(s), 1
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
        for i, (p, c) in enumerate(zip(p_ids, c_ids)):
            if not c:
                out.append({"logp": 0.0, "logp_norm": float("-inf"), "self_certainty": float("-inf"), "n_tokens": 0})
                continue
            z = logits[i, len(p) - 1: len(p) + len(c) - 1]  # position t-1 predicts token t
            lp = torch.log_softmax(z, -1).gather(-1, torch.tensor(c, device=z.device)[:, None])[:, 0].cpu().numpy()
            out.append({"logp": sequence_logp(lp), "logp_norm": length_normalized_logp(lp),
                        "self_certainty": self_certainty_from_logits(z), "n_tokens": len(c)})
    model.train(was_training)
    return out


def self_rewards(completions: Sequence[Sequence], scored: Sequence[dict] | None = None) -> dict[str, np.ndarray]:
    """Return {"logp", "logp_norm", "n_tokens"[, "self_certainty"]}, arrays of shape (problems, M).

    completions: [problem][M] generation Completions, whose ``logprobs`` are the raw sampled-token log-probs
    (vLLM ``raw_logprobs``; the paper's "not processed" logprobs). ``scored``: the flat row-major output of
    ``backend.score`` over the same completions, whose per-token ``self_certainty`` is averaged.
    """
    m = len(completions[0]) if completions else 0
    if any(len(row) != m for row in completions):
        raise ValueError("every problem needs the same number of completions")
    flat = [c for row in completions for c in row]
    out = {"logp": np.array([sequence_logp(c.logprobs) for c in flat]),
           "logp_norm": np.array([length_normalized_logp(c.logprobs) for c in flat]),
           "n_tokens": np.array([len(c.token_ids) for c in flat], dtype=float)}
    if scored is not None:
        if len(scored) != len(flat):
            raise ValueError(f"scored has {len(scored)} rows for {len(flat)} completions")
        out["self_certainty"] = np.array([float(np.mean(s["self_certainty"])) if len(s["self_certainty"])
                                          else float("-inf") for s in scored])
    return {k: v.reshape(len(completions), m) for k, v in out.items()}


#: The 1-shot exemplar of the paper profile (the paper's exemplar is not published in reachable form; ours).
ONE_SHOT = (
    "What is the smallest positive integer $n$ such that $17n \\equiv 1234 \\pmod{7}$?",
    "First reduce modulo 7: $17 \\equiv 3$ and $1234 = 7 \\cdot 176 + 2$, so $1234 \\equiv 2$. We need "
    "$3n \\equiv 2 \\pmod 7$. The inverse of 3 modulo 7 is 5 because $3 \\cdot 5 = 15 \\equiv 1$. Hence "
    "$n \\equiv 2 \\cdot 5 = 10 \\equiv 3 \\pmod 7$, and the smallest positive solution is $\\boxed{3}$.",
)


def one_shot_prompt(tokenizer, question: str, instruction: str = "Please reason step by step, and put your final "
                    "answer within \\boxed{}.", example: tuple[str, str] = ONE_SHOT) -> str:
    """Return a chat prompt with one solved exemplar turn before ``question`` (the paper's 1-shot protocol)."""
    messages = [{"role": "user", "content": f"{example[0]} {instruction}"},
                {"role": "assistant", "content": example[1]},
                {"role": "user", "content": f"{question} {instruction}"}]
    if getattr(tokenizer, "chat_template", None) is None:
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant: "
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# --------------------------------------------------------------------------------------------------------------
# Selectors: each returns the index of the chosen completion among N


def select_max_score(scores: Sequence[float]) -> int:
    """Return argmax of a self-reward (first index on ties); BoN by log-likelihood, normalized LL or SC."""
    return int(np.argmax(np.asarray(scores, dtype=float)))


def select_majority(answers: Sequence[str | None]) -> int:
    """Return the index of the first completion carrying the majority answer (0 if no completion has an answer)."""
    v = majority_vote(answers)
    return 0 if v is None else list(answers).index(v)


def select_borda(answers: Sequence[str | None], scores: Sequence[float], power: float) -> int:
    """Return the index of the best-scored completion of the answer with the largest Borda weight.

    Kang et al. 2025 (spec evaluation.md "Borda voting"): rank N outputs by score (r = 1 best); weight
    (N − r + 1)^power; sum per answer. power = 0 is majority vote (ties go to the first-seen answer).
    """
    s = np.asarray(scores, dtype=float)
    n = len(s)
    order = np.argsort(-s, kind="stable")
    weight = np.empty(n)
    weight[order] = (n - np.arange(n)) ** power  # rank r = position + 1 → N − r + 1
    totals: dict[str, float] = {}
    for a, w in zip(answers, weight):
        if a is not None:
            totals[a] = totals.get(a, 0.0) + w
    if not totals:
        return int(order[0])
    best = max(totals.values())
    winner = next(a for a in answers if a is not None and totals[a] == best)
    return int(next(i for i in order if answers[i] == winner))


def borda_power(n: int) -> float:
    """Return the paper's heuristic Borda exponent: 0.3 for N ≤ 16, 1.2 for N ≥ 32, 0.7 between (evaluation.md)."""
    return 0.3 if n <= 16 else (1.2 if n >= 32 else 0.7)


def choose(selector: str, answers: Sequence[str | None], scores: Sequence[float] | None,
           power: float | None = None) -> int:
    """Return the chosen index among N completions for a named selector (one of :data:`SELECTORS`)."""
    if selector not in SELECTORS:
        raise ValueError(f"unknown selector {selector!r}; choose from {SELECTORS}")
    if selector == "majority":
        return select_majority(answers)
    if scores is None:
        raise ValueError(f"selector {selector!r} needs scores")
    if selector == "borda":
        return select_borda(answers, scores, borda_power(len(answers)) if power is None else power)
    return select_max_score(scores)


# --------------------------------------------------------------------------------------------------------------
# Best-of-N by subsampling (spec sharpening.md "Experiments": smaller N by subsampling, 10 seeds)


@dataclass
class BoNCurve:
    """BoN accuracy per N. ``per_seed``: (n_seeds, len(ns)) accuracy averaged over problems."""

    ns: list[int]
    per_seed: np.ndarray
    per_problem: np.ndarray  # (n_seeds, problems, len(ns)) 0/1 correctness of the pick
    selector: str

    @property
    def mean(self) -> np.ndarray:
        return self.per_seed.mean(0)

    def estimates(self, over: str = "seeds", confidence: float = 0.95, seed: int = 0) -> list:
        """Return one metrics.Estimate per N: bootstrap over subsampling seeds, or over problems (seeds averaged)."""
        from workbook.metrics import bootstrap_ci

        if over == "seeds":
            return [bootstrap_ci(self.per_seed[:, j], confidence=confidence, seed=seed) for j in range(len(self.ns))]
        if over == "problems":
            return [bootstrap_ci(self.per_problem[:, :, j].T, confidence=confidence, seed=seed)
                    for j in range(len(self.ns))]
        raise ValueError("over must be 'seeds' or 'problems'")


def bon_curve(answers: Sequence[Sequence[str | None]], correct, scores, ns: Sequence[int], selector: str,
              n_seeds: int = 10, seed: int = 0, power: float | None = None) -> BoNCurve:
    """Return BoN accuracy vs N by drawing N of the M completions per problem without replacement.

    answers: [problem][M]; correct: bool (problems, M); scores: (problems, M) self-reward (None for
    majority). No re-generation: every N reuses the same M completions, as the paper does for N < 50.
    """
    correct = np.asarray(correct, dtype=bool)
    n_problems, m = correct.shape
    if len(answers) != n_problems or any(len(a) != m for a in answers):
        raise ValueError("answers must be [problem][M] matching correct's shape")
    if scores is not None and np.shape(scores) != correct.shape:
        raise ValueError(f"scores shape {np.shape(scores)} != correct shape {correct.shape}")
    if any(not 1 <= n <= m for n in ns):
        raise ValueError(f"every N must be in [1, {m}]")
    choose(selector, [None], [0.0], power)  # validates the selector name before the loop
    sc = None if scores is None else np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    per_problem = np.zeros((n_seeds, n_problems, len(ns)))
    for s in range(n_seeds):
        for i in range(n_problems):
            perm = rng.permutation(m)
            for j, n in enumerate(ns):
                idx = perm[:n]
                k = choose(selector, [answers[i][t] for t in idx], None if sc is None else sc[i, idx], power)
                per_problem[s, i, j] = correct[i, idx[k]]
    return BoNCurve(ns=list(ns), per_seed=per_problem.mean(1), per_problem=per_problem, selector=selector)


def coverage_curve(correct, ns: Sequence[int]) -> np.ndarray:
    """Return mean pass@N over problems for each N (the skyline: any correct among N). correct: (problems, M)."""
    from workbook.metrics import pass_at_k

    correct = np.asarray(correct, dtype=bool)
    m = correct.shape[1]
    n_correct = correct.sum(1)
    return np.array([float(np.mean(pass_at_k(m, n_correct, n))) for n in ns])


def selection_auroc(scores, correct) -> tuple[float, int]:
    """Return (mean within-problem AUROC of a self-reward for correct vs wrong completions, problems used).

    AUROC = P(score of a random correct completion > score of a random wrong one), ties 1/2, computed inside each
    problem that has both kinds and averaged: what matters for picking among one problem's N completions
    (a pooled AUROC would mostly measure which problems are easy). scores, correct: (problems, M).
    """
    sc, ok = np.asarray(scores, dtype=float), np.asarray(correct, dtype=bool)
    vals = []
    for s, c in zip(sc, ok):
        if c.any() and (~c).any():
            diff = s[c][:, None] - s[~c][None, :]
            vals.append(float(np.mean((diff > 0) + 0.5 * (diff == 0))))
    return (float(np.mean(vals)) if vals else float("nan")), len(vals)


def percent_lift(accuracy, greedy_accuracy):
    """Return 100·(accuracy − greedy)/greedy, the paper's "% lift in accuracy over greedy decoding"."""
    g = np.asarray(greedy_accuracy, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (np.asarray(accuracy, dtype=float) - g) / g


def bootstrap_percent_lift(after, before, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0):
    """Return a metrics.Estimate of 100·(mean(after) − mean(before))/mean(before), bootstrapping problems jointly.

    after, before: per-problem values of shape (problems,) or (problems, runs) (runs averaged inside a row).
    Replicates whose baseline mean is 0 are dropped.
    """
    from workbook.metrics import Estimate

    a, b = (np.asarray(x, dtype=float) for x in (after, before))
    a, b = (x.mean(1) if x.ndim == 2 else x for x in (a, b))
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("after and before must be non-empty with the same number of problems")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    base = b[idx].mean(1)
    reps = percent_lift(a[idx].mean(1)[base != 0], base[base != 0])
    alpha = (1 - confidence) / 2
    lo, hi = (np.quantile(reps, [alpha, 1 - alpha]) if reps.size else (np.nan, np.nan))
    return Estimate(value=float(percent_lift(a.mean(), b.mean())), lo=float(lo), hi=float(hi), n=int(a.size),
                    what="% lift (bootstrap over problems)")


# --------------------------------------------------------------------------------------------------------------
# SFT-sharpening (spec sharpening.md "Algorithms", "Experiments")


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
    """LoRA SFT settings; defaults follow the paper's Phi-3.5/MATH run (spec "Experiments")."""

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


# --------------------------------------------------------------------------------------------------------------
# The exact tabular check (spec sharpening.md "What is exact without a GPU")


@dataclass(frozen=True)
class TabularModel:
    """An autoregressive model over V tokens and horizon H with one next-token table per prompt.

    probs: (prompts, n_prefixes, V); prefix of length h with base-V digits d gets row (V^h − 1)/(V − 1) + int(d).
    Sequences are indexed by their base-V value (first token most significant), 0 … V^H − 1.
    """

    vocab_size: int
    horizon: int
    probs: np.ndarray

    def __post_init__(self):
        v, h = self.vocab_size, self.horizon
        if v < 2 or h < 1:
            raise ValueError("vocab_size must be >= 2 and horizon >= 1")
        if self.probs.ndim != 3 or self.probs.shape[1:] != (prefix_offset(v, h), v):
            raise ValueError(f"probs must have shape (prompts, {prefix_offset(v, h)}, {v})")
        if not np.allclose(self.probs.sum(-1), 1.0) or np.any(self.probs < 0):
            raise ValueError("each row of probs must be a probability distribution")


def prefix_offset(vocab_size: int, length: int) -> int:
    """Return the number of prefixes shorter than ``length``: Σ_{h<length} V^h."""
    return (vocab_size**length - 1) // (vocab_size - 1)


def random_tabular_model(n_prompts: int, vocab_size: int, horizon: int, concentration: float, seed: int) -> TabularModel:
    """Return a tabular model with every next-token row drawn from Dirichlet(concentration · 1)."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(vocab_size, concentration), size=(n_prompts, prefix_offset(vocab_size, horizon)))
    return TabularModel(vocab_size, horizon, probs)


def sequence_probabilities(model: TabularModel) -> np.ndarray:
    """Return π(y|x) for every full sequence: shape (prompts, V^H), rows summing to 1."""
    v = model.vocab_size
    p = np.ones((model.probs.shape[0], 1))
    for h in range(model.horizon):
        rows = model.probs[:, prefix_offset(v, h) + np.arange(v**h), :]  # (prompts, V^h, V)
        p = (p[:, :, None] * rows).reshape(p.shape[0], -1)
    return p


def greedy_sequences(model: TabularModel) -> np.ndarray:
    """Return the greedy-decoded sequence index per prompt (argmax token at each step; first on ties)."""
    v = model.vocab_size
    idx = np.zeros(model.probs.shape[0], dtype=np.int64)
    for h in range(model.horizon):
        row = model.probs[np.arange(len(idx)), prefix_offset(v, h) + idx]
        idx = idx * v + row.argmax(-1)
    return idx


def best_sequences(model: TabularModel) -> tuple[np.ndarray, np.ndarray]:
    """Return (y*, π(y*|x)) per prompt: y*(x) = argmax_y π(y|x) (Def. 3.1), shapes (prompts,)."""
    p = sequence_probabilities(model)
    y = p.argmax(-1)
    return y, p[np.arange(len(y)), y]


def coverage_coefficient(pi_star) -> float:
    """Return C_cov = E_x[1 / π(y*(x)|x)] (Eq. 6 of Huang et al.)."""
    return float(np.mean(1.0 / np.asarray(pi_star, dtype=float)))


def bon_success_probability(pi_star, n):
    """Return P(y* among N i.i.d. samples) = 1 − (1 − π*)^N: exact success of BoN-by-likelihood (unique argmax)."""
    return 1.0 - (1.0 - np.asarray(pi_star, dtype=float)) ** np.asarray(n)


def bon_samples_needed(pi_star, rho: float):
    """Return ⌈log(1/ρ) / π*⌉, the N at which Prop. C.1 guarantees BoN success with probability ≥ 1 − ρ."""
    if not 0 < rho < 1:
        raise ValueError("rho must be in (0, 1)")
    return np.ceil(np.log(1.0 / rho) / np.asarray(pi_star, dtype=float)).astype(int)


def sample_sequences(model: TabularModel, n: int, seed: int) -> np.ndarray:
    """Return n sampled sequence indices per prompt, shape (prompts, n), by ancestral sampling."""
    rng = np.random.default_rng(seed)
    v, n_prompts = model.vocab_size, model.probs.shape[0]
    idx = np.zeros((n_prompts, n), dtype=np.int64)
    for h in range(model.horizon):
        rows = model.probs[np.arange(n_prompts)[:, None], prefix_offset(v, h) + idx]  # (prompts, n, V)
        u = rng.random((n_prompts, n, 1))
        tok = np.minimum((rows.cumsum(-1) < u).sum(-1), v - 1)
        idx = idx * v + tok
    return idx


def simulate_bon_success(model: TabularModel, n: int, n_trials: int, seed: int) -> np.ndarray:
    """Return the Monte-Carlo frequency, per prompt, that BoN-by-likelihood over n samples returns y*."""
    p = sequence_probabilities(model)
    y_star = p.argmax(-1)
    draws = sample_sequences(model, n * n_trials, seed).reshape(len(y_star), n_trials, n)
    pick = np.take_along_axis(draws, np.take_along_axis(p[:, None, :].repeat(n_trials, 1), draws, -1)
                              .argmax(-1)[..., None], -1)[..., 0]
    return (pick == y_star[:, None]).mean(-1)


def rlhf_sharpened(seq_probs, beta: float) -> np.ndarray:
    """Return π*_β ∝ π_base^(1 + 1/β) over full sequences (optimum of E[log π_base] − β KL; §4.2)."""
    if beta <= 0:
        raise ValueError("beta must be > 0")
    logp = np.log(np.asarray(seq_probs, dtype=float)) * (1.0 + 1.0 / beta)
    logp -= logp.max(-1, keepdims=True)
    w = np.exp(logp)
    return w / w.sum(-1, keepdims=True)


def sft_sharpen_tabular(model: TabularModel, n: int, n_train: int, seed: int) -> TabularModel:
    """Return the tabular MLE on BoN-by-likelihood picks: n_train prompts' worth of picks from n samples each.

    For every prompt x we draw ``n_train`` BoN picks (each the max-likelihood of n samples) and fit each
    next-token row by counts; prefixes never visited keep π_base's row (the tabular class is unconstrained).
    """
    p = sequence_probabilities(model)
    v, h_max = model.vocab_size, model.horizon
    draws = sample_sequences(model, n * n_train, seed).reshape(p.shape[0], n_train, n)
    lik = np.take_along_axis(p[:, None, :].repeat(n_train, 1), draws, -1)
    picks = np.take_along_axis(draws, lik.argmax(-1)[..., None], -1)[..., 0]  # (prompts, n_train)
    counts = np.zeros_like(model.probs)
    for x in range(p.shape[0]):
        for y in picks[x]:
            digits = [(y // v ** (h_max - 1 - k)) % v for k in range(h_max)]
            prefix = 0
            for h, d in enumerate(digits):
                counts[x, prefix_offset(v, h) + prefix, d] += 1
                prefix = prefix * v + d
    tot = counts.sum(-1, keepdims=True)
    probs = np.where(tot > 0, counts / np.maximum(tot, 1), model.probs)
    return TabularModel(v, h_max, probs)
