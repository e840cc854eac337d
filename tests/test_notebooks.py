"""Every notebook in notebooks/: executes at the smoke profile, writes its outputs, is committed clean and paired.

Parametrized over the glob at collection time, so notebooks added later are picked up without editing this file.
"""

from __future__ import annotations

import json

import pytest

from workbook import runner
from workbook.params import list_notebooks, notebook_defaults
from workbook.paths import notebooks_dir

NB_DIR = notebooks_dir()
NOTEBOOKS = list_notebooks(NB_DIR)


def _read_pair(name: str):
    import jupytext

    return jupytext.read(NB_DIR / f"{name}.ipynb"), jupytext.read(NB_DIR / f"{name}.py", fmt="py:percent")


def test_there_are_notebooks():
    assert "quickstart" in NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_committed_without_outputs(name):
    import nbformat

    nb = nbformat.read(str(NB_DIR / f"{name}.ipynb"), as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{name}.ipynb has outputs in cells {dirty}: clear them (jupytext --sync after clearing)"
    assert nb.metadata.get("kernelspec", {}).get("name") == "rlvr-workbook"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_matches_its_py_percent_pair(name):
    assert (NB_DIR / f"{name}.py").is_file(), f"{name}.ipynb has no py:percent pair {name}.py (jupytext --sync)"
    ipynb, py = _read_pair(name)

    def cells(nb):
        return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]

    a, b = cells(ipynb), cells(py)
    assert len(a) == len(b), f"{name}: {len(a)} cells in .ipynb, {len(b)} in .py: run `jupytext --sync`"
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"{name}: cell {i} differs between .ipynb and .py: run `jupytext --sync`"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_has_parameters_cell_and_profiles(name):
    defaults = notebook_defaults(name)
    assert defaults.get("profile") == "cpu" and isinstance(defaults.get("seed"), int)
    for profile in ("smoke", "cpu"):
        assert (NB_DIR / "params" / name / f"{profile}.yaml").is_file(), f"{name}: missing {profile} profile"


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_at_smoke_profile(name, results_dir):
    rec = runner.run_notebook(name, "smoke", root=results_dir)
    assert rec.status == "passed", f"{name} {rec.status}:\n{rec.error}"
    run_dir = results_dir / name / "smoke"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert isinstance(metrics.get("headline"), dict) and metrics["headline"], "metrics.json needs a headline dict"
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["profile"] == "smoke" and prov["parameters"]["profile"] == "smoke" and "seed" in prov
    assert list((run_dir / "figures").glob("*.png")), f"{name} wrote no figure"
    assert (run_dir / f"{name}.ipynb").is_file() and (run_dir / "run.json").is_file()


@pytest.mark.slow
@pytest.mark.notebooks
def test_quickstart_metrics_are_deterministic(tmp_path):
    """Same seed, same profile → byte-identical metrics.json on CPU (DEVELOPERS.md § Standards)."""
    outs = []
    for i in range(2):
        root = tmp_path / f"r{i}"
        rec = runner.run_notebook("quickstart", "smoke", root=root)
        assert rec.status == "passed", rec.error
        outs.append((root / "quickstart" / "smoke" / "metrics.json").read_bytes())
    assert outs[0] == outs[1]
