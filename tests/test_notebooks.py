"""Every notebook in notebooks/: executes at the smoke profile, writes its outputs, is committed clean and paired;
every paper's cost plan is computed by ``workbook.papers.<paper>.plan`` from resolved parameters, never by running
notebook cells.

Parametrized over the glob at collection time, so notebooks added later are picked up without editing this file.
"""

from __future__ import annotations

import json

import pytest

from workbook import runner
from workbook.papers import PAPERS, paper_module
from workbook.params import list_notebooks, notebook_defaults, profile_path, resolve_params
from workbook.paths import notebooks_dir

NB_DIR = notebooks_dir()
NOTEBOOKS = list_notebooks(NB_DIR)
PAPER_PROFILES = [(nb, prof) for nb in NOTEBOOKS if nb in PAPERS for prof in ("smoke", "cpu", "paper")
                  if profile_path(nb, prof).is_file()]


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


def test_every_paper_has_a_notebook_and_a_module():
    assert sorted(PAPERS) == sorted(nb for nb in NOTEBOOKS if nb != "toy_reasoner")
    for name in PAPERS:
        mod = paper_module(name)
        assert callable(mod.plan) and callable(mod.validate), name


@pytest.mark.parametrize("name, profile", PAPER_PROFILES)
def test_plan_is_computed_in_code_without_loading_a_model(name, profile, monkeypatch):
    """The plan a notebook prints comes from papers.<name>.plan on the resolved parameters (GPU checks read it)."""
    import workbook.generation
    import workbook.models

    def refuse(*a, **k):
        raise AssertionError("a plan must not load a model")

    monkeypatch.setattr(workbook.models, "load_model", refuse)
    monkeypatch.setattr(workbook.generation, "make_backend", refuse)
    params, _ = resolve_params(name, profile)
    mod = paper_module(name)
    mod.validate(params)
    plan = mod.plan(params)
    assert isinstance(plan, dict) and "gpu_hours" in plan and isinstance(plan.get("summary"), str) and plan["summary"]
    assert json.loads(json.dumps(plan)) == plan, "a plan must be plain JSON (numbers, strings, lists, dicts)"
    assert ".plan(params)" in (NB_DIR / f"{name}.py").read_text(), f"{name}.py should show papers.{name}.plan(params)"


def test_no_library_module_runs_notebook_source():
    """Notebooks import the library, never the other way round (the parameters cell is parsed, not executed)."""
    import re

    from workbook.paths import repo_root

    offenders = []
    for path in (repo_root() / "lib" / "workbook").rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        if re.search(r"\bexec\(|\brun_path\(", src) and re.search(r"notebook", src, re.I):
            offenders.append(str(path.relative_to(repo_root())))
    assert not offenders, f"library modules that execute notebook code: {offenders}"
