"""RLVR objectives as pure torch functions: advantages, per-token losses, aggregation.

Nothing here imports a trainer; `workbook.rl.trainer` (TRL) and the code written by `workbook.rl.verl` bind these
to a training loop. Shapes: ``B`` completions, ``T`` completion tokens, ``V`` vocabulary. Names: ``logp``,
``old_logp``, ``ref_logp``, ``proxy_logp``, ``adv``, ``mask``, ``ratio``, ``clip_low``, ``clip_high``.
Sources: the papers' official verl forks (NSR: RLVR-Decomposed; 1-shot RLVR: One-Shot-RLVR; Lp-Reg: Lp-Reg-dev),
functions named in each docstring; docs/cluster.md records where they differ from stock verl 0.9.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "grpo_advantages",
    "psr_advantages",
    "nsr_advantages",
    "w_reinforce_advantages",
    "zero_advantages",
    "ADVANTAGE_FNS",
    "ppo_clip_loss",
    "k3_kl",
    "entropy_from_logits",
    "min_p_proxy_logp",
    "low_prob_mass",
    "lp_reg_bottom_mask",
    "lp_reg_token_mask",
    "lp_reg_loss",
    "aggregate_loss",
    "PolicyLossOutput",
    "LOSS_AGGREGATIONS",
]

LOSS_AGGREGATIONS = ("token_mean", "seq_mean_token_mean")


def _group(rewards: torch.Tensor, n: int) -> torch.Tensor:
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D (groups*n,), got shape {tuple(rewards.shape)}")
    if n < 1 or rewards.numel() % n != 0:
        raise ValueError(f"{rewards.numel()} rewards cannot be split into groups of n={n}")
    return rewards.view(-1, n)


def grpo_advantages(rewards: torch.Tensor, n: int, eps: float = 1e-6, scale: bool = True) -> torch.Tensor:
    """Returns GRPO advantages A_i = (r_i - mean_G r) / (std_G r + eps), shape (B,).

    verl ``compute_grpo_outcome_advantage`` (as in the One-Shot-RLVR and Lp-Reg-dev forks): ``torch.std`` is the unbiased
    estimator and eps = 1e-6 (TRL uses 1e-4). A group of one gets mean 0 and std 1, as in verl. ``rewards`` is laid
    out group-major: completions of one problem are contiguous, ``n`` per group.
    """
    grouped = _group(rewards, n)
    if n == 1:
        mean, std = torch.zeros_like(grouped), torch.ones_like(grouped)
    else:
        mean = grouped.mean(dim=1, keepdim=True)
        std = grouped.std(dim=1, keepdim=True, unbiased=True)
    adv = grouped - mean
    if scale:
        adv = adv / (std + eps)
    return adv.reshape(-1)


def psr_advantages(rewards: torch.Tensor, n: int = 1) -> torch.Tensor:
    """Returns PSR advantages A = r, shape (B,): only correct samples push probability up.

    Zhu et al. 2025, Sec. 3: no group baseline, no normalisation.
    """
    return torch.as_tensor(rewards, dtype=torch.float32).clone().reshape(-1)


def nsr_advantages(rewards: torch.Tensor, n: int = 1) -> torch.Tensor:
    """Returns NSR advantages A = r - 1, shape (B,): -1 on incorrect samples, 0 on correct ones.

    Zhu et al. 2025, Sec. 3.
    """
    return torch.as_tensor(rewards, dtype=torch.float32).reshape(-1) - 1.0


def w_reinforce_advantages(rewards: torch.Tensor, n: int = 1, lam: float = 0.1) -> torch.Tensor:
    """Returns W-REINFORCE advantages, shape (B,): lambda on correct (r == 1), -1 on incorrect (r == 0).

    Zhu et al. 2025, the W-REINFORCE objective (RLVR-Decomposed ``compute_psr_nsr_outcome_advantage``,
    ``algorithm.advantage=weighted``); lambda = 0.1 is the official README's recommendation.
    Requires binary rewards: a reward outside {0, 1} has no defined advantage here, so it raises.
    """
    r = torch.as_tensor(rewards, dtype=torch.float32).reshape(-1)
    if not bool(((r == 0) | (r == 1)).all()):
        bad = r[(r != 0) & (r != 1)][:5].tolist()
        raise ValueError(f"w_reinforce needs binary rewards in {{0, 1}}; got e.g. {bad}")
    return torch.where(r == 1, torch.full_like(r, lam), torch.full_like(r, -1.0))


def zero_advantages(rewards: torch.Tensor, n: int = 1) -> torch.Tensor:
    """Returns zeros, shape (B,): the entropy-loss-only ablation (pg_loss_coeff = 0).

    Wang et al. 2025, Sec. 4 "entropy loss alone".
    """
    return torch.zeros(torch.as_tensor(rewards).numel(), dtype=torch.float32)


ADVANTAGE_FNS = {
    "grpo": grpo_advantages,
    "psr": psr_advantages,
    "nsr": nsr_advantages,
    "w_reinforce": w_reinforce_advantages,
    "zero": zero_advantages,
}


def ppo_clip_loss(
    logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, clip_low: float = 0.2, clip_high: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (per-token loss, low-clipped mask, high-clipped mask), each (B, T).

    PPO clipped surrogate max(-A*ratio, -A*clip(ratio, 1-clip_low, 1+clip_high)), ratio = exp(logp - old_logp)
    (the forks' ``core_algos.compute_policy_loss``). ``adv`` is (B,) or (B, T). The masks mark tokens where the
    clipped branch is active and its gradient is zero: ratio < 1-clip_low with A < 0, ratio > 1+clip_high with A > 0.

    No dual-clip: the loss of a negative-advantage token is not bounded by -A * clip_ratio_c, as in all three
    papers' forks (RLVR-Decomposed and One-Shot-RLVR ``compute_policy_loss``; Lp-Reg-dev has those lines commented
    out) and unlike verl 0.9.1's ``compute_policy_loss_vanilla`` (docs/cluster.md, section 2).
    """
    if adv.dim() == 1:
        adv = adv.unsqueeze(1)
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(-adv * ratio, -adv * clipped)
    is_low = (ratio < 1.0 - clip_low) & (adv < 0)
    is_high = (ratio > 1.0 + clip_high) & (adv > 0)
    return loss, is_low, is_high


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor, clamp: float | None = 10.0) -> torch.Tensor:
    """Returns the per-token k3 estimator e^{ref-logp} - (ref-logp) - 1, (B, T), clamped to [-clamp, clamp].

    verl ``kl_penalty(..., "low_var_kl")``; the same form with the proxy in place of the reference is Lp-Reg's
    regulariser (Huang et al. 2025; Lp-Reg-dev ``compute_policy_loss_lp_reg``). It is >= 0 and 0 exactly where logp == ref_logp.
    """
    d = ref_logp - logp
    kl = torch.exp(d) - d - 1.0
    if clamp is not None:
        kl = torch.clamp(kl, min=-clamp, max=clamp)
    return kl


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Returns the per-position entropy of softmax(logits / T), shape logits.shape[:-1].

    verl computes entropy on temperature-scaled logits (``dp_actor._forward_micro_batch``).
    """
    logp_all = torch.log_softmax(logits.float() / temperature, dim=-1)
    return -(logp_all.exp() * logp_all).sum(-1)


def _min_p_filtered_logits(logits: torch.Tensor, kappa: float, temperature: float, fill: float) -> torch.Tensor:
    z = logits.float() / temperature
    p = torch.softmax(z, dim=-1)
    keep = p >= kappa * p.max(dim=-1, keepdim=True).values
    return z.masked_fill(~keep, fill)


def min_p_proxy_logp(
    logits: torch.Tensor, token_ids: torch.Tensor, kappa: float = 0.02, temperature: float = 1.0, fill: float = -1e4
) -> torch.Tensor:
    """Returns log pi_proxy(y_t), shape (B, T): the sampled token's log-prob under the min-p renormalised policy.

    Lp-Reg proxy (Huang et al. 2025; Lp-Reg-dev ``apply_min_p``): keep v iff p(v) >= kappa * max_u p(u); set
    every other logit to ``fill`` (-1e4), renormalise. A filtered token's proxy log-prob is about -1e4.
    ``logits`` (B, T, V) are those of pi_old at the rollout temperature; ``token_ids`` (B, T). No gradient flows.
    """
    with torch.no_grad():
        z = _min_p_filtered_logits(logits, kappa, temperature, fill)
        return torch.log_softmax(z, dim=-1).gather(-1, token_ids.long().unsqueeze(-1)).squeeze(-1)


def low_prob_mass(logits: torch.Tensor, kappa: float = 0.02, temperature: float = 1.0) -> torch.Tensor:
    """Returns the probability mass below the min-p threshold, 1 - sum_{kept} p, shape (B, T).

    The "low-probability tokens" whose mass Lp-Reg tracks (Huang et al. 2025, "reasoning sparks"); kept set as in ``min_p_proxy_logp``.
    """
    with torch.no_grad():
        p = torch.softmax(logits.float() / temperature, dim=-1)
        keep = p >= kappa * p.max(dim=-1, keepdim=True).values
        return (p * (~keep)).sum(-1)


def lp_reg_bottom_mask(logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, rho: float = 0.01) -> torch.Tensor:
    """Returns the boolean (B, T) mask of Lp-Reg's bottom-rho set, before the proxy condition.

    Lp-Reg-dev ``compute_policy_loss_lp_reg``, per micro-batch: among valid tokens with A < 0 (N- of them), the
    k = max(1, floor(rho * N-)) with the lowest current log-prob (``neg_logp_k``); nothing if k <= 1. Ties at the
    k-th value are broken by ``torch.topk``'s order.
    """
    if adv.dim() == 1:
        adv = adv.unsqueeze(1).expand_as(logp)
    neg = (adv < 0) & mask.bool()
    n_neg = int(neg.sum())
    k = max(1, int(rho * n_neg))
    bottom = torch.zeros_like(neg)
    if k <= 1 or n_neg == 0:
        return bottom
    lp = logp.detach().masked_fill(~neg, float("inf")).reshape(-1)
    bottom.view(-1)[torch.topk(lp, k, largest=False).indices] = True
    return bottom


def lp_reg_token_mask(
    logp: torch.Tensor, proxy_logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, rho: float = 0.01
) -> torch.Tensor:
    """Returns the boolean (B, T) mask of tokens Lp-Reg regularises: the bottom-rho set (``lp_reg_bottom_mask``)
    restricted to logp < proxy_logp, which drops filtered noise tokens (proxy ~ -1e4). Lp-Reg-dev
    ``compute_policy_loss_lp_reg`` (``apply_kl_penalty_selective``)."""
    return lp_reg_bottom_mask(logp, adv, mask, rho) & (logp.detach() < proxy_logp)


@dataclass
class PolicyLossOutput:
    """Per-token loss (B, T) and the boolean masks the trainer logs (``bottom_rho``: Lp-Reg's candidate set before
    the proxy condition; ``regularized``: the tokens whose loss it replaced)."""

    loss: torch.Tensor
    is_low_clipped: torch.Tensor
    is_high_clipped: torch.Tensor
    regularized: torch.Tensor | None = None
    bottom_rho: torch.Tensor | None = None


def lp_reg_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    proxy_logp: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    rho: float = 0.01,
    lp_reg_coef: float = 1.0,
    clip_low: float = 1.0,
    clip_high: float = 9.0,
) -> PolicyLossOutput:
    """Returns the Lp-Reg per-token loss (B, T) with its clip and selection masks.

    Lp-Reg-dev ``compute_policy_loss_lp_reg``: selected tokens (``lp_reg_token_mask``) get
    -A*ratio + lp_reg_coef * clamp(k3(proxy), -10, 10) with no clipping; every other token the clipped surrogate
    with clip_low = 1.0, clip_high = 9.0 (ratio clamped to [0, 10]).
    """
    if adv.dim() == 1:
        adv = adv.unsqueeze(1)
    clipped, is_low, is_high = ppo_clip_loss(logp, old_logp, adv, clip_low, clip_high)
    bottom = lp_reg_bottom_mask(logp, adv.expand_as(logp), mask, rho)
    selected = bottom & (logp.detach() < proxy_logp)
    ratio = torch.exp(logp - old_logp)
    reg = -adv * ratio + lp_reg_coef * k3_kl(logp, proxy_logp, clamp=10.0)
    loss = torch.where(selected, reg, clipped)
    return PolicyLossOutput(loss, is_low & ~selected, is_high & ~selected, selected, bottom)


def aggregate_loss(per_token_loss: torch.Tensor, mask: torch.Tensor, mode: str = "token_mean") -> torch.Tensor:
    """Returns the scalar loss: the masked token mean over the batch, or the mean over sequences of token means.

    verl ``agg_loss`` "token-mean" (the setting of all three papers' forks) and
    "seq-mean-token-mean" (the original GRPO normalisation). An all-masked batch gives 0 (still differentiable).
    """
    m = mask.to(per_token_loss.dtype)
    if mode == "token_mean":
        return (per_token_loss * m).sum() / m.sum().clamp(min=1.0)
    if mode == "seq_mean_token_mean":
        return ((per_token_loss * m).sum(-1) / m.sum(-1).clamp(min=1.0)).mean()
    raise ValueError(f"unknown loss aggregation {mode!r}; choose one of {LOSS_AGGREGATIONS}")
