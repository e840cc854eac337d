"""The exported estimator and loss against verl 0.9.1's built-ins and workbook.rl.objectives (docs/cluster.md).

verl's FSDP engine splits a mini-batch over dp ranks and each rank's share into micro-batches, backpropagates each
micro-batch's loss as is (normalised by ``config.global_batch_info``: the mini-batch's tokens over all ranks, and
the dp size) and averages gradients over ranks. So sum over micro-batches, mean over ranks of the micro-batch losses
must equal the mini-batch loss of ``workbook.rl.objectives`` -- for every shape, split and dp size.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from verl.trainer.ppo.core_algos import agg_loss, compute_grpo_outcome_advantage, compute_policy_loss_vanilla
from verl.workers.config.actor import FSDPActorConfig

from workbook.rl import objectives as obj
from workbook.rl.methods import METHODS, get_method

EXPORTABLE = sorted(m for m in METHODS if m != "lp_reg")
SHAPES = [(4, 5), (8, 16), (12, 33)]  # (completions B, tokens T)
SPLITS = [(1, 1), (1, 2), (2, 1), (2, 2), (4, 1)]  # (dp size, micro-batches per rank); B % (dp * micro) == 0


def _batch(B: int, T: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(B, T, generator=g) * 3
    old = logp + 0.6 * torch.randn(B, T, generator=g)  # ratios far outside [0.8, 1.2] and beyond 3 too
    mask = (torch.rand(B, T, generator=g) < 0.8).float()
    mask[:, 0] = 1.0  # every completion has at least one token
    adv = torch.randn(B, 1, generator=g).expand(B, T).contiguous()
    return logp, old, adv, mask


def _actor_cfg(clip_low: float, clip_high: float, clip_ratio_c: float = 3.0, **batch_info) -> FSDPActorConfig:
    cfg = FSDPActorConfig(strategy="fsdp", ppo_mini_batch_size=4, ppo_micro_batch_size_per_gpu=1,
                          clip_ratio_low=clip_low, clip_ratio_high=clip_high, clip_ratio_c=clip_ratio_c,
                          rollout_n=1)  # fmt: skip
    cfg.global_batch_info.update(batch_info)
    return cfg


def _engine_sum(loss_fn, logp, old, adv, mask, mode: str, dp: int, micro: int, **cfg_kw) -> torch.Tensor:
    """Returns what verl's engine optimises: mean over dp ranks of the sum over micro-batches of the loss."""
    B = logp.shape[0]
    info = {"dp_size": dp, "batch_num_tokens": int(mask.sum()), "global_batch_size": int((mask.sum(-1) > 0).sum())}
    total = torch.zeros(())
    for chunk in torch.arange(B).chunk(dp * micro):
        cfg = _actor_cfg(**cfg_kw, **info)
        loss, _ = loss_fn(old[chunk], logp[chunk], adv[chunk], mask[chunk], mode, cfg)
        total = total + loss
    return total / dp


@pytest.mark.parametrize("B,T", SHAPES)
@pytest.mark.parametrize("dp,micro", SPLITS)
@pytest.mark.parametrize("verl_mode,our_mode", [("token-mean", "token_mean"), ("seq-mean-token-mean", "seq_mean_token_mean")])
def test_loss_equals_ours_and_verls_without_dual_clip_for_every_split(B, T, dp, micro, verl_mode, our_mode, exported):
    if B % (dp * micro):
        pytest.skip("split does not divide the batch")
    _, ext = exported("nsr")
    m = get_method("nsr")
    logp, old, adv, mask = _batch(B, T, seed=B * 100 + T)
    ours = obj.aggregate_loss(obj.ppo_clip_loss(logp, old, adv, m.clip_low, m.clip_high)[0], mask, our_mode)
    kw = {"clip_low": m.clip_low, "clip_high": m.clip_high}
    exported_loss = _engine_sum(ext.compute_workbook_policy_loss, logp, old, adv, mask, verl_mode, dp, micro, **kw)
    assert exported_loss.item() == pytest.approx(ours.item(), rel=1e-5, abs=1e-6)
    # verl's own vanilla loss with dual-clip switched off (clip_ratio_c huge) is the same number
    verl_loss = _engine_sum(compute_policy_loss_vanilla, logp, old, adv, mask, verl_mode, dp, micro,
                            clip_ratio_c=1e9, **kw)  # fmt: skip
    assert verl_loss.item() == pytest.approx(ours.item(), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dp,micro", [(1, 2), (2, 2)])
def test_gradients_equal_the_mini_batch_gradient(dp, micro, exported):
    _, ext = exported("grpo")
    logp, old, adv, mask = _batch(8, 12, seed=7)
    a = logp.clone().requires_grad_(True)
    obj.aggregate_loss(obj.ppo_clip_loss(a, old, adv)[0], mask).backward()
    b = logp.clone().requires_grad_(True)
    _engine_sum(ext.compute_workbook_policy_loss, b, old, adv, mask, "token-mean", dp, micro,
                clip_low=0.2, clip_high=0.2).backward()  # fmt: skip
    assert torch.allclose(a.grad, b.grad, atol=1e-7)


def test_without_global_batch_info_the_old_scale_was_micro_batches_times_too_large(exported):
    """Bug A of the first export: a micro-batch holding half the tokens gave twice verl's loss."""
    _, ext = exported("grpo")
    logp, old, adv, mask = _batch(8, 12, seed=3)
    full = _engine_sum(ext.compute_workbook_policy_loss, logp, old, adv, mask, "token-mean", 1, 1,
                       clip_low=0.2, clip_high=0.2)  # fmt: skip
    halves = [ext.compute_workbook_policy_loss(old[i], logp[i], adv[i], mask[i], "token-mean", None)[0]
              for i in (slice(0, 4), slice(4, 8))]  # no global_batch_info: each half normalised by its own tokens
    naive = sum(halves)
    assert naive.item() == pytest.approx(2 * full.item(), rel=0.3)  # about micro-batches x too large
    assert _engine_sum(ext.compute_workbook_policy_loss, logp, old, adv, mask, "token-mean", 1, 2,
                       clip_low=0.2, clip_high=0.2).item() == pytest.approx(full.item(), rel=1e-6)  # fmt: skip


def test_dual_clip_is_the_only_difference_to_verls_default(exported):
    """verl's vanilla loss (clip_ratio_c = 3) bounds -A*ratio for A < 0; the papers' forks and ours do not."""
    _, ext = exported("nsr")
    logp = torch.tensor([[2.0, 0.5, 2.0]])
    old = torch.zeros(1, 3)
    mask = torch.ones(1, 3)
    adv = torch.tensor([[-1.0, -1.0, 1.0]])
    ours, _ = ext.compute_workbook_policy_loss(old, logp, adv, mask, "token-mean", _actor_cfg(0.2, 0.2))
    verl, _ = compute_policy_loss_vanilla(old, logp, adv, mask, "token-mean", _actor_cfg(0.2, 0.2))
    # A = -1, ratio e^2 = 7.389: ours 7.389, verl's min(7.389, 3) = 3; the other two tokens agree
    assert ours.item() * 3 == pytest.approx(np.exp(2.0) + np.exp(0.5) - 1.2, rel=1e-6)
    assert verl.item() * 3 == pytest.approx(3.0 + np.exp(0.5) - 1.2, rel=1e-6)
    per_tok, _, _ = obj.ppo_clip_loss(logp, old, adv)
    assert per_tok[0, 0].item() == pytest.approx(np.exp(2.0))  # the TRL path agrees with the export


@pytest.mark.parametrize("name", EXPORTABLE)
@pytest.mark.parametrize("B,n", [(8, 4), (12, 3), (16, 8)])
def test_estimator_equals_ours_and_verls_grpo(name, B, n, exported):
    _, ext = exported(name)
    m = get_method(name)
    g = torch.Generator().manual_seed(B + n)
    T = 9
    rewards = (torch.rand(B, generator=g) < 0.5).float()
    rewards[:n] = 1.0  # one all-correct group: zero advantage, no division blow-up
    mask = (torch.rand(B, T, generator=g) < 0.8).float()
    mask[:, 0] = 1.0
    token_rewards = torch.zeros(B, T)
    token_rewards[torch.arange(B), mask.sum(-1).long() - 1] = rewards  # verl puts the score on the last token
    # verl groups by uid; shuffle the order so grouping is by id, not by position
    perm = torch.randperm(B, generator=g)
    index = np.array([f"uid{i // n}" for i in range(B)], dtype=object)[perm.numpy()]
    adv, ret = ext.compute_workbook_advantage(token_rewards[perm], mask[perm], index=index)
    ours = m.advantages(rewards, n)[perm]
    assert torch.allclose(adv, ours.unsqueeze(-1) * mask[perm], atol=1e-6) and torch.equal(adv, ret)
    if m.advantage == "grpo":
        v_adv, _ = compute_grpo_outcome_advantage(token_rewards[perm], mask[perm], index, epsilon=1e-6)
        assert torch.allclose(adv, v_adv, atol=1e-6)


def test_agg_matches_verls_agg_loss_with_global_batch_info(exported):
    _, ext = exported("grpo")
    logp, old, adv, mask = _batch(12, 10, seed=11)
    loss_mat = obj.ppo_clip_loss(logp, old, adv)[0]
    for mode in ("token-mean", "seq-mean-token-mean"):
        for info in ({}, {"dp_size": 2, "batch_num_tokens": 97, "global_batch_size": 24}):
            got = ext._agg(loss_mat[:6], mask[:6], mode, **info)
            want = agg_loss(loss_mat[:6], mask[:6], mode, **info)
            assert got.item() == pytest.approx(want.item(), rel=1e-6), (mode, info)
