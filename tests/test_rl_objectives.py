"""Asserted values for workbook.rl.objectives (issue 4: advantages, PPO clip, k3, Lp-Reg proxy/selection, NSR)."""

import math

import pytest
import torch

from workbook.rl import objectives as obj

torch.set_num_threads(1)


# ---- advantages on hand-made groups ---------------------------------------------------------------------------
def test_grpo_advantages_hand_computed():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    adv = obj.grpo_advantages(r, n=4)
    # group 1: mean 0.25, unbiased std = sqrt(0.75/3 ... ) = sqrt(((.75)^2 + 3*(.25)^2)/3) = 0.5
    s1 = math.sqrt((0.75**2 + 3 * 0.25**2) / 3)
    assert s1 == pytest.approx(0.5)
    expected1 = [0.75 / (s1 + 1e-6)] + [-0.25 / (s1 + 1e-6)] * 3
    # group 2: mean 0.75, std 0.5
    expected2 = [0.25 / (0.5 + 1e-6)] * 2 + [-0.75 / (0.5 + 1e-6)] + [0.25 / (0.5 + 1e-6)]
    assert adv.tolist() == pytest.approx(expected1 + expected2, rel=1e-6)
    # all-equal group -> exactly zero (no division blow-up)
    assert obj.grpo_advantages(torch.ones(4), n=4).tolist() == [0.0] * 4
    # unscaled (Dr. GRPO style) keeps only the baseline
    assert obj.grpo_advantages(r[:4], n=4, scale=False).tolist() == pytest.approx([0.75, -0.25, -0.25, -0.25])


def test_grpo_uses_unbiased_std_and_eps():
    r = torch.tensor([2.0, 0.0])
    # unbiased std of {2, 0} = sqrt(2); biased would be 1
    assert obj.grpo_advantages(r, n=2, eps=0.0).tolist() == pytest.approx([1 / math.sqrt(2), -1 / math.sqrt(2)])
    with pytest.raises(ValueError):
        obj.grpo_advantages(torch.ones(5), n=4)


def test_psr_nsr_wreinforce_zero_advantages():
    r = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert obj.psr_advantages(r).tolist() == [1.0, 0.0, 1.0, 0.0]
    assert obj.nsr_advantages(r).tolist() == [0.0, -1.0, 0.0, -1.0]
    assert obj.w_reinforce_advantages(r, lam=0.1).tolist() == pytest.approx([0.1, -1.0, 0.1, -1.0])
    assert obj.w_reinforce_advantages(r, lam=0.5).tolist() == pytest.approx([0.5, -1.0, 0.5, -1.0])
    assert obj.zero_advantages(r).tolist() == [0.0] * 4
    with pytest.raises(ValueError, match="binary"):
        obj.w_reinforce_advantages(torch.tensor([0.5, 1.0]))


# ---- PPO clip at the boundaries ---------------------------------------------------------------------------------
def _ratio_grad(ratio: float, adv: float, clip_low=0.2, clip_high=0.2):
    logp = torch.tensor([[math.log(ratio)]], requires_grad=True)
    loss, lo, hi = obj.ppo_clip_loss(logp, torch.zeros(1, 1), torch.tensor([adv]), clip_low, clip_high)
    loss.sum().backward()
    return loss.item(), logp.grad.item(), bool(lo), bool(hi)


def test_ppo_clip_boundaries_positive_advantage():
    # A > 0: loss = -A*min(ratio, 1+eps); gradient zero beyond 1.2, live below (even far below 0.8)
    loss, g, lo, hi = _ratio_grad(1.5, 2.0)
    assert loss == pytest.approx(-2.0 * 1.2) and g == 0.0 and hi and not lo
    loss, g, lo, hi = _ratio_grad(1.1, 2.0)
    assert loss == pytest.approx(-2.2) and g == pytest.approx(-2.0 * 1.1) and not hi
    loss, g, lo, hi = _ratio_grad(0.5, 2.0)
    assert loss == pytest.approx(-1.0) and g == pytest.approx(-1.0) and not lo and not hi
    # exactly at the boundary the ratio is not counted as clipped
    assert not _ratio_grad(1.2, 2.0)[3]


def test_ppo_clip_boundaries_negative_advantage_and_asymmetric():
    loss, g, lo, hi = _ratio_grad(0.5, -1.0)
    assert loss == pytest.approx(0.8) and g == 0.0 and lo
    loss, g, lo, hi = _ratio_grad(1.5, -1.0)
    assert loss == pytest.approx(1.5) and g == pytest.approx(1.5) and not hi  # no upper clip when A < 0
    # separate low/high: Lp-Reg's [0, 10]
    loss, g, _, hi = _ratio_grad(9.5, 1.0, clip_low=1.0, clip_high=9.0)
    assert g == pytest.approx(-9.5) and not hi
    loss, g, _, hi = _ratio_grad(10.5, 1.0, clip_low=1.0, clip_high=9.0)
    assert loss == pytest.approx(-10.0) and g == 0.0 and hi


# ---- k3 ---------------------------------------------------------------------------------------------------------
def test_k3_nonnegative_zero_at_equality_and_clamped():
    g = torch.Generator().manual_seed(0)
    logp, ref = torch.randn(64, 16, generator=g) * 3, torch.randn(64, 16, generator=g) * 3
    kl = obj.k3_kl(logp, ref)
    assert (kl >= 0).all()
    assert obj.k3_kl(logp, logp).abs().max().item() == 0.0
    assert kl.max().item() <= 10.0
    assert obj.k3_kl(torch.tensor([0.0]), torch.tensor([20.0])).item() == 10.0
    d = 0.3
    assert obj.k3_kl(torch.tensor([0.0]), torch.tensor([d])).item() == pytest.approx(math.exp(d) - d - 1)


# ---- Lp-Reg -----------------------------------------------------------------------------------------------------
def test_min_p_proxy_matches_hand_computed_renormalisation():
    p = torch.tensor([0.60, 0.30, 0.05, 0.04, 0.01])
    logits = p.log().view(1, 1, 5)
    # kappa = 0.1: threshold 0.06 -> keep {0, 1}; proxy = p / 0.9
    for tok, expected in [(0, math.log(0.6 / 0.9)), (1, math.log(0.3 / 0.9))]:
        got = obj.min_p_proxy_logp(logits, torch.tensor([[tok]]), kappa=0.1).item()
        assert got == pytest.approx(expected, abs=1e-6)
    # a filtered token: logit set to -1e4, so log proxy = -1e4 - logsumexp_kept(z)
    got = obj.min_p_proxy_logp(logits, torch.tensor([[3]]), kappa=0.1).item()
    assert got == pytest.approx(-1e4 - math.log(0.9), abs=1e-2)
    # kappa = 0.02: threshold 0.012 -> keep {0,1,2,3}; renormalise over 0.99
    got = obj.min_p_proxy_logp(logits, torch.tensor([[2]]), kappa=0.02).item()
    assert got == pytest.approx(math.log(0.05 / 0.99), abs=1e-6)
    # temperature is applied before the filter
    got = obj.min_p_proxy_logp(logits * 2.0, torch.tensor([[1]]), kappa=0.1, temperature=2.0).item()
    assert got == pytest.approx(math.log(0.3 / 0.9), abs=1e-6)
    assert obj.low_prob_mass(logits, kappa=0.1).item() == pytest.approx(0.10, abs=1e-6)


def _brute_force_selection(logp, proxy, adv, mask, rho):
    cands = [(logp[b][t], b, t) for b in range(len(logp)) for t in range(len(logp[0])) if adv[b] < 0 and mask[b][t]]
    k = max(1, int(rho * len(cands)))
    if k <= 1:
        return set()
    lowest = sorted(cands)[:k]
    return {(b, t) for lp, b, t in lowest if lp < proxy[b][t]}


@pytest.mark.parametrize("seed,rho", [(0, 0.25), (1, 0.1), (2, 0.5), (3, 0.01)])
def test_lp_reg_selection_matches_brute_force(seed, rho):
    g = torch.Generator().manual_seed(seed)
    B, T = 6, 10
    logp = -torch.rand(B, T, generator=g) * 5
    proxy = torch.where(torch.rand(B, T, generator=g) < 0.3, torch.full((B, T), -1e4), -torch.rand(B, T, generator=g) * 5)
    adv = torch.tensor([-1.0, 0.5, -0.2, 0.0, -2.0, 1.0])
    mask = torch.rand(B, T, generator=g) < 0.8
    got = obj.lp_reg_token_mask(logp, proxy, adv, mask, rho)
    got_set = {(b, t) for b, t in got.nonzero().tolist()}
    assert got_set == _brute_force_selection(logp.tolist(), proxy.tolist(), adv.tolist(), mask.tolist(), rho)
    if rho >= 0.25:
        assert got_set  # the test exercises a non-empty selection


def test_lp_reg_bottom_mask_is_the_selection_before_the_proxy_condition():
    logp = torch.tensor([[-5.0, -1.0, -0.5, -4.0]])
    proxy = torch.tensor([[-3.0, -1.0, -0.5, -1e4]])
    adv, mask = torch.tensor([-1.0]), torch.ones(1, 4, dtype=torch.bool)
    bottom = obj.lp_reg_bottom_mask(logp, adv, mask, rho=0.5)
    assert bottom.tolist() == [[True, False, False, True]]  # the k = 2 lowest negative-advantage tokens
    out = obj.lp_reg_loss(logp, logp, proxy, adv, mask, rho=0.5)
    assert out.bottom_rho.tolist() == bottom.tolist()
    assert (out.regularized & ~out.bottom_rho).sum() == 0  # the selection is a subset of the bottom set
    assert not obj.lp_reg_bottom_mask(logp, torch.tensor([1.0]), mask, rho=0.5).any()  # no negative advantage


def test_lp_reg_loss_on_selected_and_other_tokens():
    logp = torch.tensor([[-5.0, -1.0, -0.5, -4.0]], requires_grad=True)
    old = torch.tensor([[-5.0, -1.0, -0.5, -4.2]])
    proxy = torch.tensor([[-3.0, -1.0, -0.5, -1e4]])
    adv = torch.tensor([-1.0])
    mask = torch.ones(1, 4, dtype=torch.bool)
    out = obj.lp_reg_loss(logp, old, proxy, adv, mask, rho=0.5, lp_reg_coef=1.0)
    # k = 2 lowest: positions 0 (-5) and 3 (-4); position 3 has logp > proxy (filtered noise) -> dropped
    assert out.regularized.tolist() == [[True, False, False, False]]
    d = -3.0 - (-5.0)
    assert out.loss[0, 0].item() == pytest.approx(1.0 * 1.0 + math.exp(d) - d - 1)
    # others: clipped surrogate with ratio in [0, 10]; A < 0 so loss = ratio
    assert out.loss[0, 3].item() == pytest.approx(math.exp(0.2), rel=1e-6)
    out.loss.sum().backward()
    # on the regularised token the k3 gradient pulls logp up towards the proxy: d/dlp = -A*ratio + (1 - e^{lq-lp})
    assert logp.grad[0, 0].item() == pytest.approx(1.0 + 1 - math.exp(d), rel=1e-5)


# ---- NSR gradient analysis on a toy categorical policy --------------------------------------------------------
def test_nsr_gradient_lowers_wrong_token_and_raises_others_by_prior():
    """Zhu et al. 2025 Sec. 4: NSR's gradient on a sampled wrong token y lowers pi(y) and redistributes its mass to
    the other tokens in proportion to their current probability."""
    z = torch.tensor([1.0, 0.2, -0.5, 0.7, 0.0], requires_grad=True)
    pi0 = torch.softmax(z, -1).detach()
    y = 3  # sampled, wrong
    adv = obj.nsr_advantages(torch.tensor([0.0]))
    logp = torch.log_softmax(z, -1)[y].view(1, 1)
    loss, _, _ = obj.ppo_clip_loss(logp, logp.detach(), adv)
    obj.aggregate_loss(loss, torch.ones(1, 1)).backward()
    # loss = -A * log pi_y with A = -1, so grad_z = e_y - pi
    assert torch.allclose(z.grad, torch.nn.functional.one_hot(torch.tensor(y), 5).float() - pi0, atol=1e-6)
    with torch.no_grad():
        pi1 = torch.softmax(z - 1e-2 * z.grad, -1)
    delta = pi1 - pi0
    assert delta[y] < 0
    others = [k for k in range(5) if k != y]
    assert (delta[others] > 0).all()
    # the descent step on each other token's logit is proportional to its prior: -grad_k / pi_k = 1 for all k != y
    assert torch.allclose(-z.grad[others] / pi0[others], torch.ones(4), atol=1e-6)
    # and the higher the prior, the larger the absolute probability gain among the others
    order = torch.argsort(pi0[others])
    assert (torch.diff(delta[others][order]) > 0).all()


# ---- aggregation ------------------------------------------------------------------------------------------------
def test_aggregation_modes():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert obj.aggregate_loss(loss, mask, "token_mean").item() == pytest.approx(10 / 4)
    assert obj.aggregate_loss(loss, mask, "seq_mean_token_mean").item() == pytest.approx((2 + 4) / 2)
    assert obj.aggregate_loss(loss, torch.zeros_like(mask)).item() == 0.0
    with pytest.raises(ValueError):
        obj.aggregate_loss(loss, mask, "sum")


def test_entropy_from_logits():
    assert obj.entropy_from_logits(torch.zeros(3, 4)).tolist() == pytest.approx([math.log(4)] * 3)
