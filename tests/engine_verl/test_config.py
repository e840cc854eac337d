"""The export's overrides compose with verl 0.9.1's ppo_trainer config, and its registries return our functions."""

from __future__ import annotations

import runpy

import pytest
from omegaconf import OmegaConf
from verl.trainer.ppo.core_algos import get_adv_estimator_fn, get_policy_loss_fn

from workbook.rl.methods import get_method

from workbook.rl.methods import METHODS

EXPORTABLE = sorted(m for m in METHODS if m != "lp_reg")


def _compose(run_dir):
    pre = runpy.run_path(str(run_dir / "workbook_preflight.py"))
    overrides = (run_dir / "overrides.txt").read_text().splitlines()
    return overrides, pre["compose"](overrides)


@pytest.mark.parametrize("name", EXPORTABLE)
def test_every_override_exists_and_lands_in_verls_config(name, exported):
    run_dir, _ = exported(name, n_gpus_per_node=2, micro_batch_size_per_gpu=2)
    overrides, cfg = _compose(run_dir)  # Hydra refuses a key the config lacks (no '+' prefix is used)
    assert all(not o.startswith("+") for o in overrides) and len(overrides) >= 40
    for line in overrides:
        key, value = line.split("=", 1)
        got = OmegaConf.select(cfg, key, throw_on_missing=True)
        assert got is not None, key
        if value.startswith("["):
            assert list(got) == ["console"], key
        else:
            assert str(got).lower() == value.lower() or float(got) == float(value), (key, got, value)
    m = get_method(name)
    actor = cfg.actor_rollout_ref.actor
    assert actor.policy_loss.loss_mode == "workbook_ppo_clip" and cfg.algorithm.adv_estimator == f"workbook_{m.advantage}"
    assert actor.clip_ratio_low == m.clip_low and actor.entropy_coeff == m.entropy_coef
    assert cfg.trainer.n_gpus_per_node == 2 and cfg.trainer.get("device", "cuda") == "cuda"


@pytest.mark.parametrize("name", EXPORTABLE)
def test_registries_return_the_workbook_functions(name, exported):
    _, ext = exported(name)
    assert get_adv_estimator_fn(ext.ADV_NAME) is ext.compute_workbook_advantage
    assert get_policy_loss_fn(ext.LOSS_NAME) is ext.compute_workbook_policy_loss
    assert ext.ADV_NAME == f"workbook_{get_method(name).advantage}"


def test_a_bad_override_is_refused_by_the_preflight(exported):
    import subprocess
    import sys

    run_dir, _ = exported("nsr")
    proc = subprocess.run([sys.executable, "workbook_preflight.py", "actor_rollout_ref.actor.no_such_key=1"],
                          cwd=run_dir, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "does not compose" in proc.stderr
