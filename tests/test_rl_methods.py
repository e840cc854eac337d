"""The RL method registry: names, paper-faithful defaults, pinned TRL settings."""

import pytest
import torch

from workbook.rl.methods import METHODS, UnknownMethodError, get_method

REQUIRED = ("grpo", "grpo_entropy", "one_shot_rlvr", "entropy_only", "psr", "nsr", "w_reinforce", "lp_reg")


def test_all_required_methods_registered():
    assert set(REQUIRED) <= set(METHODS)


def test_unknown_method_lists_valid_names():
    with pytest.raises(UnknownMethodError, match="grpo"):
        get_method("ppo_magic")


@pytest.mark.parametrize("name", REQUIRED)
def test_every_trl_default_that_differs_is_pinned(name):
    kw = get_method(name).trl_overrides()
    # TRL 1.16 defaults that differ from the papers' verl code must be set explicitly, never inherited
    for key in ("loss_type", "beta", "scale_rewards", "epsilon", "epsilon_high", "temperature", "entropy_coef",
                "vllm_importance_sampling_correction", "learning_rate", "weight_decay"):
        assert key in kw, key
    assert kw["vllm_importance_sampling_correction"] is False
    assert kw["loss_type"] == "bnpo"  # token-mean over the micro-batch, as verl's token-mean
    from trl import GRPOConfig

    assert set(kw) <= set(GRPOConfig.__dataclass_fields__)


def test_paper_defaults():
    one = get_method("one_shot_rlvr")
    assert (one.kl_coef, one.entropy_coef, one.temperature, one.weight_decay) == (1e-3, 1e-3, 0.6, 0.01)
    assert (one.clip_low, one.clip_high, one.learning_rate) == (0.2, 0.2, 1e-6)
    ent = get_method("entropy_only")
    assert ent.advantage == "zero" and ent.kl_coef == 0 and ent.weight_decay == 0 and ent.entropy_coef > 0
    for name in ("psr", "nsr", "w_reinforce"):
        m = get_method(name)
        assert m.kl_coef == 0 and m.updates_per_rollout == 4 and m.trl_overrides()["scale_rewards"] == "none"
    assert get_method("w_reinforce").params["lam"] == 0.1
    lp = get_method("lp_reg")
    assert (lp.clip_low, lp.clip_high, lp.kl_coef, lp.entropy_coef, lp.temperature) == (1.0, 9.0, 0.0, 0.0, 1.0)
    assert lp.params == {"eps": 1e-6, "rho": 0.01, "kappa": 0.02, "lp_reg_coef": 1.0} and lp.needs_full_logits
    assert get_method("grpo").entropy_coef == 0 and get_method("grpo_entropy").entropy_coef > 0


def test_method_advantages_dispatch():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert get_method("nsr").advantages(r, 4).tolist() == [0.0, -1.0, -1.0, -1.0]
    assert get_method("psr").advantages(r, 4).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert get_method("w_reinforce", lam=0.3).advantages(r, 4).tolist() == pytest.approx([0.3, -1, -1, -1])
    assert get_method("entropy_only").advantages(r, 4).tolist() == [0.0] * 4
    assert get_method("grpo").advantages(r, 4)[0].item() == pytest.approx(0.75 / 0.5, rel=1e-5)


def test_overrides_validate():
    assert get_method("lp_reg", rho=0.2).params["rho"] == 0.2
    assert get_method("grpo", entropy_coef=0.01).entropy_coef == 0.01
    assert get_method("lp_reg").params["rho"] == 0.01  # the registry entry is untouched
    with pytest.raises(ValueError, match="unknown override"):
        get_method("grpo", rho=0.1)
