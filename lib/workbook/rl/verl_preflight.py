"""Checks that an exported verl run can start, before verl reserves the cluster (copied as workbook_preflight.py).

``workbook.rl.verl.export_verl`` copies this file into the run directory; its ``job.sh`` runs it with the same
overrides as ``verl.trainer.main_ppo``. It imports only verl, Hydra, Ray and torch (not the workbook), so it runs on
any node of the cluster image. Three checks, one clear error each (docs/cluster.md):

1. the workbook's estimator and loss are in verl's registries (``workbook_verl_ext`` imports) -- exit 2;
2. verl's ``ppo_trainer`` config composes with the overrides and ``workbook_reward`` imports -- exit 2;
3. the accelerators verl will ask for exist: ``trainer.nnodes x trainer.n_gpus_per_node`` devices of
   ``trainer.device``, counted in the Ray cluster (``WORKBOOK_PREFLIGHT=ray``, the default: inside a Ray job) or on
   this machine (``WORKBOOK_PREFLIGHT=local``: run_local.sh) -- exit 3. verl 0.9.1 has no CPU training path:
   without them ``main_ppo`` waits for resources forever. ``WORKBOOK_PREFLIGHT=skip`` skips this check.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RAY_RESOURCE = {"cuda": "GPU", "npu": "NPU"}


def fail(code: int, msg: str) -> None:
    """Writes one error line and exits with ``code``."""
    sys.stderr.write(f"workbook preflight: ERROR: {msg}\n")
    sys.exit(code)


def compose(overrides: list[str]):
    """Returns verl's ``ppo_trainer`` config composed with ``overrides`` (as ``main_ppo``'s ``@hydra.main`` does)."""
    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer" / "config"), version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=overrides)


def count_devices(device: str, mode: str) -> tuple[int, str]:
    """Returns (number of ``device`` accelerators, where they were counted)."""
    if mode == "local":
        import torch

        mod = getattr(torch, device, None)
        n = mod.device_count() if mod is not None and hasattr(mod, "device_count") else 0
        return int(n), f"this machine (torch.{device}.device_count())"
    import ray

    ray.init(address=os.environ.get("RAY_ADDRESS") or "auto", logging_level="ERROR", log_to_driver=False)
    try:
        total = ray.cluster_resources()
    finally:
        ray.shutdown()
    return int(total.get(RAY_RESOURCE.get(device, device.upper()), 0)), f"the Ray cluster (resources {dict(total)})"


def main(argv: list[str]) -> int:
    """Returns 0 when the run can start; exits 2 (registry/config) or 3 (no accelerators) otherwise."""
    mode = os.environ.get("WORKBOOK_PREFLIGHT", "ray")
    sys.path.insert(0, os.getcwd())
    try:
        from verl.trainer.ppo.core_algos import get_adv_estimator_fn, get_policy_loss_fn

        import workbook_verl_ext as ext
    except Exception as e:  # noqa: BLE001 - any import failure is reported the same way
        fail(2, f"cannot import verl and workbook_verl_ext ({type(e).__name__}: {e})")
    if get_adv_estimator_fn(ext.ADV_NAME) is not ext.compute_workbook_advantage:
        fail(2, f"verl's registry does not return the workbook's estimator for {ext.ADV_NAME!r}")
    if get_policy_loss_fn(ext.LOSS_NAME) is not ext.compute_workbook_policy_loss:
        fail(2, f"verl's registry does not return the workbook's loss for {ext.LOSS_NAME!r}")
    try:
        cfg = compose(argv)
    except Exception as e:  # noqa: BLE001
        fail(2, f"verl's ppo_trainer config does not compose with these overrides ({type(e).__name__}: {e})")
    try:
        import workbook_reward  # noqa: F401
    except Exception as e:  # noqa: BLE001
        fail(2, f"workbook_reward does not import ({type(e).__name__}: {e}); install the workbook on every node "
                "(pip install -e . in the repository)")  # fmt: skip
    device = str(cfg.trainer.get("device", "cuda"))
    need = int(cfg.trainer.nnodes) * int(cfg.trainer.n_gpus_per_node)
    print(f"workbook preflight: verl config composed ({len(argv)} overrides); {ext.ADV_NAME} and {ext.LOSS_NAME} "
          f"registered; the run needs {need} x {device}", flush=True)  # fmt: skip
    if mode == "skip":
        return 0
    have, where = count_devices(device, mode)
    if have < need:
        fail(3, f"this verl run needs {need} {device} device(s) (trainer.nnodes={cfg.trainer.nnodes} x "
                f"trainer.n_gpus_per_node={cfg.trainer.n_gpus_per_node}, trainer.device={device}) but {where} has "
                f"{have}. verl 0.9.1 has no CPU training path (main_ppo would wait for resources forever): run it "
                "where the accelerators are, or train with workbook.rl.launch (docs/cluster.md).")  # fmt: skip
    print(f"workbook preflight: {have} {device} device(s) in {where}: ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
