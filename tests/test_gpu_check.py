"""The GPU readiness script (issue 12): its `--cpu` dry run passes end to end and writes a complete JSON summary."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.paths import repo_root

ROOT = repo_root()
SCRIPT = ROOT / "env" / "gpu_check.sh"


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHON": sys.executable, **extra}
    env.pop("OUT", None)
    return env


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cpu_dry_run_writes_a_passing_summary(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(SCRIPT), "--cpu", "--out", str(out), "--steps", "1"], cwd=ROOT,
                          env=_env(WORKBOOK_RESULTS_DIR=str(tmp_path / "results")), capture_output=True, text=True,
                          timeout=580)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    s = json.loads((out / "gpu_check_cpu.json").read_text())
    assert s["ok"] is True and s["mode"] == "cpu-dry-run" and s["device"].startswith("cpu")
    assert set(s["checks"]) == {"rl_methods", "generation", "paper_plans", "vllm"}
    assert s["earlier_partial_cuda_checks"]["files"] == ["results/benchmarks/generation_cuda.json",
                                                         "results/benchmarks/rl_step.json"]

    from workbook.rl.methods import METHODS

    rl = s["checks"]["rl_methods"]
    assert set(rl["methods"]) == set(METHODS) and rl["bf16"] is False and rl["model"] == "toy-reasoner-smoke"
    for name, r in rl["methods"].items():
        assert r["ok"] and r["steps_done"] == 1 and r["weights_changed"] and r["metrics_finite"], name
        assert r["max_abs_weight_delta"] > 0 and r["train_device"] == "cpu", name

    gen = s["checks"]["generation"]
    assert gen["identical_greedy"] and set(gen["arms"]) == {"cpu", "cpu_repeat"}
    assert all(a["tokens"] > 0 and a["tokens_per_s"] > 0 for a in gen["arms"].values())

    plans = s["checks"]["paper_plans"]["notebooks"]
    with_paper = {p.parent.name for p in (ROOT / "notebooks" / "params").glob("*/paper.yaml")}
    assert set(plans) == with_paper
    for nb, r in plans.items():
        assert r["ok"] and r["resolved"], (nb, r.get("error"))
    assert plans["nsr"]["plan_printed"] and plans["nsr"]["gpu_hours_printed"][0] > 0
    assert plans["nsr"]["plans"]["the_plan"]["runs"] >= 1
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("metrics.json"))

    assert s["checks"]["vllm"]["skipped"] is True and "dry run" in s["checks"]["vllm"]["reason"]


def test_cuda_mode_without_a_gpu_fails_with_one_clear_message(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    proc = subprocess.run([sys.executable, "-m", "workbook.gpu_check", "--out", str(tmp_path)], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0 and "no CUDA device visible; use --cpu" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_notebook_plan_runs_the_notebooks_own_plan_cell_without_loading_a_model():
    from workbook.gpu_check import notebook_plan

    before = set(sys.modules)
    rec = notebook_plan("one_shot_rlvr")
    assert rec["ok"] and rec["plan_printed"] and "GPU-hours" in rec["plan_text"]
    assert rec["plans"]["the_plan"]["gpu_hours"] == pytest.approx(rec["gpu_hours_printed"][0], rel=0.01)
    assert rec["params"]["model"] == "qwen2.5-math-1.5b"
    assert not any(m.startswith("vllm") for m in set(sys.modules) - before)


def test_plan_check_refuses_model_loading():
    import workbook.models as models
    from workbook.gpu_check import _forbid_model_loading

    original = models.load_model
    undo = _forbid_model_loading()
    try:
        with pytest.raises(RuntimeError, match="tried to load a model"):
            models.load_model("tiny-random")
    finally:
        undo()
    assert models.load_model is original


def test_carried_wheels_install_offline(tmp_path):
    wheels = ROOT / ".whl"
    if not list(wheels.glob("trl-*.whl")):
        pytest.skip("no carried wheels in .whl (make gpu-carry downloads them)")
    site = tmp_path / "site"
    # the wheels are built for the GPU image's CPython 3.12; off 3.12, pip must be told to accept them
    pip_args = "" if sys.version_info[:2] == (3, 12) else "--python-version 3.12 --only-binary=:all:"
    proc = subprocess.run(["bash", str(SCRIPT), "--install-only", "--force-wheels", "--wheels", str(wheels),
                           "--site", str(site)], cwd=ROOT, env=_env(GPU_CHECK_PIP_ARGS=pip_args),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (site / "trl").is_dir() and (site / "math_verify").is_dir() and (site / "datasets").is_dir()
    assert "gpu_check: trl 1.16.0" in proc.stderr
