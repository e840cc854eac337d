"""The sharpening theory, exactly: a tabular autoregressive model where y* and π_base(y*|x) are enumerable.

Huang, Block, Foster et al., arXiv 2412.01951: Prop. 3.1 (greedy returns y* when π(y*|x) > 1/2), Prop. C.1 (best-of-N
returns y* w.p. ≥ 1 − ρ once N ≥ log(1/ρ)/π(y*|x)), the coverage coefficient C_cov = E_x[1/π(y*|x)] of Thm 4.1
(SFT-sharpening), and the RLHF-sharpening optimum π*_β ∝ π_base^(1+1/β) (Sec. 4.2). See ``docs/papers/sharpening.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def simulate_bon_success_at(model: TabularModel, n_per_prompt, n_trials: int, seed: int,
                            chunk: int = 50) -> np.ndarray:
    """Return the Monte-Carlo frequency, per prompt x, that BoN-by-likelihood over ``n_per_prompt[x]`` samples
    returns y*(x): Prop. C.1 simulated (sample, pick the most likely, compare with y*) beside its closed form.

    Prompts are processed ``chunk`` at a time so that memory stays (chunk × n_trials × max N).
    """
    n_per_prompt = np.asarray(n_per_prompt, dtype=int)
    n_prompts = model.probs.shape[0]
    if n_per_prompt.shape != (n_prompts,) or np.any(n_per_prompt < 1):
        raise ValueError(f"n_per_prompt must hold one N >= 1 per prompt ({n_prompts})")
    out = np.empty(n_prompts)
    for start in range(0, n_prompts, chunk):
        sl = slice(start, min(start + chunk, n_prompts))
        sub = TabularModel(model.vocab_size, model.horizon, model.probs[sl])
        n, n_max = n_per_prompt[sl], int(n_per_prompt[sl].max())
        p = sequence_probabilities(sub)
        y_star = p.argmax(-1)
        draws = sample_sequences(sub, n_max * n_trials, seed + start).reshape(len(y_star), n_trials, n_max)
        lik = np.take_along_axis(p[:, None, :].repeat(n_trials, 1), draws, -1)
        lik = np.where(np.arange(n_max)[None, None, :] < n[:, None, None], lik, -1.0)  # only the first N count
        pick = np.take_along_axis(draws, lik.argmax(-1)[..., None], -1)[..., 0]
        out[sl] = (pick == y_star[:, None]).mean(-1)
    return out
