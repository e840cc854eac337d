"""Fixtures for the tests that run against the real verl 0.9.1 (.venv-verl; `make test-verl`, docs/cluster.md).

These tests are not collected by the main suite (pyproject: norecursedirs); they need verl, so they refuse to run
without it rather than skip, and they only run on CPU.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

try:
    import verl  # noqa: F401
except ImportError as e:  # pragma: no cover - the wrong interpreter
    raise pytest.UsageError(f"tests/verl need verl: run them with `make test-verl` (.venv-verl), not {sys.executable}") from e

from verl.trainer.ppo import core_algos

from workbook.rl.methods import METHODS
from workbook.rl.verl import VerlRunConfig, export_verl

EXPORTABLE = sorted(m for m in METHODS if m != "lp_reg")
TRAIN = [{"problem": f"What is {i}+1?", "answer": str(i + 1), "problem_id": f"t{i}", "dataset": "synthetic"}
         for i in range(8)]
VAL = [{"problem": "What is 2+2?", "answer": "4"}]


def load_ext(run_dir, name: str):
    """Imports ``run_dir/workbook_verl_ext.py`` under ``name`` (registering into verl's real registries)."""
    spec = importlib.util.spec_from_file_location(name, run_dir / "workbook_verl_ext.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def clean_registries():
    """Removes the workbook's entries from verl's registries after a test (one run = one method per process)."""
    yield
    for reg in (core_algos.ADV_ESTIMATOR_REGISTRY, core_algos.POLICY_LOSS_REGISTRY):
        for k in [k for k in reg if str(k).startswith("workbook_")]:
            del reg[k]


@pytest.fixture
def exported(tmp_path, clean_registries):
    """Returns ``f(method, **cfg) -> (run_dir, ext module)`` for a fresh export of ``method``."""

    def make(method: str, **cfg):
        cfg.setdefault("train_batch_size", 8)
        out = export_verl(method, TRAIN, VAL, tmp_path / method, VerlRunConfig(**cfg))
        return out, load_ext(out, f"workbook_verl_ext_{method}")

    return make
