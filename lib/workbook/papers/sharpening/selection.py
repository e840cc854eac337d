"""Sharpening at inference time: self-rewards, best-of-N selectors and best-of-N curves by subsampling.

Huang, Block, Foster et al., "Self-Improvement in Language Models: The Sharpening Mechanism", arXiv 2412.01951
(ICLR 2025), eq. 2 (the self-reward r_self = log π(y|x)) and Sec. 5 (best-of-N on MATH, smaller N by subsampling M
samples over 10 seeds). Self-certainty and Borda voting: Kang et al., "Scalable Best-of-N Selection for Large Language
Models via Self-Certainty", arXiv 2502.18581 (official code backprop07/Self-Certainty). See
``docs/papers/sharpening.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from workbook.generation import MATH_INSTRUCTION
from workbook.metrics import Estimate, majority_vote

SELECTORS = ("logp", "logp_norm", "self_certainty", "majority", "borda")

# --------------------------------------------------------------------------------------------------------------
# Self-rewards (Huang et al. eq. 2: r_self = log π(y|x); Kang et al. 2025: self-certainty)


def sequence_logp(logprobs: Sequence[float]) -> float:
    """Return r_self = log π(y|x) = Σ_t log π(y_t | x, y_<t) from per-token log-probs (Eq. 2 of Huang et al.)."""
    return float(np.sum(np.asarray(logprobs, dtype=float)))


def length_normalized_logp(logprobs: Sequence[float]) -> float:
    """Return the mean per-token log-probability (−inf for an empty completion, which is never preferred)."""
    lp = np.asarray(logprobs, dtype=float)
    return float(lp.mean()) if lp.size else float("-inf")


def base_loglik(backend, prompts: Sequence[str], completions: Sequence) -> np.ndarray:
    """Return log π_base(y|x) per (prompt, completion) from the backend's teacher-forced ``score`` pass.

    ``completions``: texts, token-id lists or Completions (token ids avoid re-tokenization drift). Used for the
    "lift in log-likelihood" of SFT-sharpening (Huang et al. Table 1): the base model's likelihood of a response.
    """
    return np.array([float(np.sum(s["logprobs"])) for s in backend.score(list(prompts), list(completions))])


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


def one_shot_prompt(tokenizer, question: str, instruction: str = MATH_INSTRUCTION,
                    example: tuple[str, str] = ONE_SHOT) -> str:
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

    Kang et al. 2025 (Borda voting; official code backprop07/Self-Certainty): rank N outputs by score (r = 1 best);
    weight (N − r + 1)^power; sum per answer. power = 0 is majority vote (ties go to the first-seen answer).
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
# Best-of-N by subsampling (Huang et al. Sec. 5: smaller N by subsampling the M samples, 10 seeds)


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
