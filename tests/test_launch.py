"""workbook.rl.launch under accelerate: the world size it got is checked, one run per run directory, and a 2-rank
CPU DDP run (gloo) of the smoke toy keeps identical weights on both ranks after every step (docs/cluster.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.paths import repo_root
from workbook.rl import launch

ROOT = repo_root()
ARGS = ["--method", "nsr", "--model", "toy-reasoner-smoke", "--train", "synthetic", "--train-limit", "8",
        "--max-steps", "2", "--prompts-per-step", "2", "--num-generations", "4", "--max-completion-length", "16",
        "--save-steps", "100", "--set", "learning_rate=0.01"]  # fmt: skip


def test_world_size_mismatch_is_refused_with_the_fix():
    launch.check_world_size(None, 1)
    launch.check_world_size(2, 2)
    with pytest.raises(launch.LaunchError, match="asked for 2 processes .* has 1") as e:
        launch.check_world_size(2, 1)
    assert "ACCELERATE_USE_CPU=true accelerate launch --multi_gpu" in str(e.value)


def test_a_second_copy_cannot_take_a_run_directory_in_use(tmp_path):
    first = launch.RunDirLock(tmp_path / "run").acquire(1)
    try:
        with pytest.raises(launch.LaunchError, match="being written by another run .*pid %d" % os.getpid()):
            launch.RunDirLock(tmp_path / "run").acquire(1)
    finally:
        first.release()
    launch.RunDirLock(tmp_path / "run").acquire(1).release()  # free again once the first run ends


def test_main_refuses_a_wrong_world_size_before_loading_a_model(tmp_path, monkeypatch):
    import workbook.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(launch.LaunchError, match="asked for 2 processes"):
        launch.main([*ARGS, "--run-dir", str(tmp_path / "run"), "--world-size", "2"])
    assert not (tmp_path / "run").exists()


def test_main_refuses_a_run_directory_held_by_another_run(tmp_path, monkeypatch):
    import workbook.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    held = launch.RunDirLock(tmp_path / "run").acquire(1)  # stands for an independent copy already running
    try:
        with pytest.raises(launch.LaunchError, match="being written by another run"):
            launch.main([*ARGS, "--run-dir", str(tmp_path / "run")])
    finally:
        held.release()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".launch.lock"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_rank_cpu_ddp_keeps_weights_identical_and_writes_the_run_dir_once(tmp_path):
    import torch
    from safetensors.torch import load_file

    from workbook.models import load_model

    model, _ = load_model("toy-reasoner-smoke")  # trains/caches it once here, not in both ranks at the same time
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.exists():
        accelerate = shutil.which("accelerate")
    run = tmp_path / "run"
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT / "lib")}  # fmt: skip
    proc = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "workbook.rl.launch", *ARGS,
                           "--run-dir", str(run), "--world-size", "2", "--check-sync"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    sync = [json.loads(x) for x in (run / "sync_check.jsonl").read_text().splitlines()]
    assert [r["step"] for r in sync] == [1, 2] and all(r["world_size"] == 2 and r["identical"] for r in sync)
    # written once: one log record per step (rank 0 only), one final model, one metrics file
    steps = [json.loads(x)["step"] for x in (run / "train_log.jsonl").read_text().splitlines()
             if "loss" in json.loads(x)]  # fmt: skip
    assert steps == [1, 2]
    assert json.loads((run / "train_metrics.json").read_text())["train_runtime"] > 0
    after = load_file(str(next((run / "final_model").glob("*.safetensors"))))
    changed = max((after[k].float() - before[k].float()).abs().max().item() for k in after if k in before)
    assert changed > 0  # the ranks agree on weights that did move (NSR: every wrong sample has A = -1)
    assert "rank" not in " ".join(p.name for p in run.iterdir())  # no per-rank files
    assert torch.isfinite(torch.tensor(changed))
