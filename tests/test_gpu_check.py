"""The GPU readiness check (env/gpu_check.sh + env/gpu_check.py): its `--cpu` rehearsal passes end to end and
writes a complete JSON + Markdown summary; the paper plans come from workbook.papers.<paper>.plan."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.paths import repo_root

ROOT = repo_root()
SCRIPT = ROOT / "env" / "gpu_check.sh"


def _gpu_check():
    """Imports env/gpu_check.py (not part of the library) as a module."""
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "env" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    assert s["ok"] is True and s["complete"] is True and s["mode"] == "cpu-dry-run" and s["device"].startswith("cpu")
    assert set(s["checks"]) == {"rl_methods", "rl_step_ratio", "generation", "paper_plans", "vllm",
                                "paper_shape_1k", "paper_shape_3k"}
    assert all(s["checks"][k]["skipped"] and "opt-in" in s["checks"][k]["reason"] for k in ("paper_shape_1k",
                                                                                           "paper_shape_3k"))
    assert "| rl_methods | ok |" in (out / "gpu_check_cpu.md").read_text()
    assert s["earlier_partial_cuda_checks"]["files"] == ["results/benchmarks/generation_cuda.json",
                                                         "results/benchmarks/rl_step.json"]

    from workbook.rl.methods import METHODS

    rl = s["checks"]["rl_methods"]
    assert set(rl["methods"]) == set(METHODS) and rl["bf16"] is False and rl["model"] == "toy-reasoner-smoke"
    assert rl["rollouts_per_step"] == rl["prompts_per_step"] * rl["num_generations"]
    for name, r in rl["methods"].items():
        assert r["ok"] and r["steps_done"] == 1 and r["weights_changed"] and r["metrics_finite"], name
        assert r["max_abs_weight_delta"] > 0 and r["train_device"] == "cpu" and r["peak_memory_mib"] > 0, name

    ratio = s["checks"]["rl_step_ratio"]
    assert ratio["ok"] and ratio["ratio_workbook_over_stock"] > 0
    assert len(ratio["step_time_s"]["workbook"]) == len(ratio["step_time_s"]["stock_trl"]) > 0

    gen = s["checks"]["generation"]
    assert gen["identical_greedy"] and set(gen["arms"]) == {"cpu", "cpu_repeat"}
    assert all(a["tokens"] > 0 and a["tokens_per_s"] > 0 for a in gen["arms"].values())

    plans = s["checks"]["paper_plans"]["notebooks"]
    with_paper = {p.parent.name for p in (ROOT / "notebooks" / "params").glob("*/paper.yaml")}
    assert set(plans) == with_paper
    for nb, r in plans.items():
        assert r["ok"] and r["resolved"] and r["summary"], (nb, r.get("error"))
    assert plans["nsr"]["gpu_hours"] > 0 and plans["nsr"]["plan"]["runs"] >= 1
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("metrics.json"))

    assert s["checks"]["vllm"]["skipped"] is True and "dry run" in s["checks"]["vllm"]["reason"]


def test_cuda_mode_without_a_gpu_fails_with_one_clear_message(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    proc = subprocess.run([sys.executable, "env/gpu_check.py", "--out", str(tmp_path)], cwd=ROOT,
                          env=_env(PYTHONPATH=str(ROOT / "lib")), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0 and "no CUDA device visible; use --cpu" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_paper_plan_comes_from_the_paper_module_without_loading_a_model():
    import workbook.papers.one_shot_rlvr as paper
    from workbook.params import resolve_params

    before = set(sys.modules)
    rec = _gpu_check().paper_plan("one_shot_rlvr")
    assert rec["ok"] and rec["params"]["model"] == "qwen2.5-math-1.5b"
    assert rec["plan"] == paper.plan(resolve_params("one_shot_rlvr", "paper")[0])
    assert rec["gpu_hours"] == rec["plan"]["gpu_hours"] > 0
    assert not any(m.startswith("vllm") for m in set(sys.modules) - before)


def test_plan_check_refuses_model_loading():
    import workbook.models as models

    original = models.load_model
    undo = _gpu_check()._forbid_model_loading()
    try:
        with pytest.raises(RuntimeError, match="tried to load a model"):
            models.load_model("tiny-random")
    finally:
        undo()
    assert models.load_model is original


def test_only_rejects_an_unknown_check(tmp_path):
    with pytest.raises(SystemExit):
        _gpu_check().main(["--cpu", "--out", str(tmp_path), "--only", "rl_methods,nonsense"])
    assert not list(tmp_path.iterdir())


def test_carried_wheels_install_offline(tmp_path):
    wheels = next((d for d in (ROOT / ".whl", ROOT / "results" / "gpu_check" / "carry" / "whl")
                   if list(d.glob("trl-*.whl"))), None)  # fmt: skip
    if wheels is None:
        pytest.skip("no carried wheels (make gpu-carry downloads them into results/gpu_check/carry/whl)")
    site = tmp_path / "site"
    # the wheels are built for the GPU image's CPython 3.12; off 3.12, pip must be told to accept them
    pip_args = "" if sys.version_info[:2] == (3, 12) else "--python-version 3.12 --only-binary=:all:"
    proc = subprocess.run(["bash", str(SCRIPT), "--install-only", "--force-wheels", "--wheels", str(wheels),
                           "--site", str(site)], cwd=ROOT, env=_env(GPU_CHECK_PIP_ARGS=pip_args),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (site / "trl").is_dir() and (site / "math_verify").is_dir() and (site / "datasets").is_dir()
    assert "gpu_check: trl 1.16.0" in proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_paper_shape_checks_train_a_random_weight_model_of_the_papers_vocabulary(tmp_path):
    """The opt-in paper-shape checks (CPU stand-in: 2 layers, Qwen2.5's 151,936-token vocabulary) train the 1-shot
    recipe through the same trainer, with and without gradient checkpointing, and record memory and step times."""
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(SCRIPT), "--cpu", "--only", "paper_shape_1k,paper_shape_3k", "--out", str(out)],
                          cwd=ROOT, env=_env(WORKBOOK_RESULTS_DIR=str(tmp_path / "results")), capture_output=True,
                          text=True, timeout=580)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    s = json.loads((out / "gpu_check_cpu.json").read_text())
    for name, ckpt in (("paper_shape_1k", False), ("paper_shape_3k", True)):
        c = s["checks"][name]
        assert c["ok"] and c["steps_done"] == c["steps"] and c["metrics_finite"], c.get("error")
        assert c["arch"]["vocab_size"] == 151936 and c["parameters"] > 151936 * 64 and c["peak_memory_mib"] > 0
        assert bool(c["gradient_checkpointing"]) is ckpt and c["method"] == "one_shot_rlvr"
    assert s["checks"]["rl_methods"]["skipped"]


def test_committed_gpu_run_is_a_passing_cuda_run_and_the_readme_cites_it():
    """results/gpu_check/gpu_check.json must come from a real CUDA run (not the --cpu rehearsal, which writes
    gpu_check_cpu.json), with every check recorded and passed or skipped with its reason."""
    s = json.loads((ROOT / "results" / "gpu_check" / "gpu_check.json").read_text())
    assert s["mode"] == "cuda" and s["complete"] and s["ok"], {k: s.get(k) for k in ("mode", "complete", "ok")}
    assert set(s["checks"]) >= {"rl_methods", "rl_step_ratio", "generation", "paper_plans", "vllm"}
    for name, check in s["checks"].items():
        assert check["ok"] or check.get("skipped"), name
        if check.get("skipped"):
            assert check.get("reason"), name
    assert "results/gpu_check/gpu_check.md" in (ROOT / "README.md").read_text()
