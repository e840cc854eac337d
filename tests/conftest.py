"""Shared test fixtures: results go to a temporary folder, torch stays on few threads, tiny notebooks on demand."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The test machine has 2 cores shared by everyone: keep BLAS/OpenMP/torch on one thread unless told otherwise.
# Set before any test imports torch (torch reads these at import time).
_THREADS = os.environ.setdefault("WORKBOOK_TEST_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may download: fail fast instead of hanging on the network


def _limit_torch_threads() -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        n = int(_THREADS)
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def pytest_collection_modifyitems(config, items) -> None:
    """Order and group the tests for ``make test``'s two xdist workers (``-n 2 --dist loadgroup``).

    Slow tests (and notebook runs) go first, so the workers finish together rather than one waiting on a long test
    at the end; the tests of a module that uses a module-scoped fixture (a trained model, a built site) share one
    worker, which makes the fixture once. Without xdist only the order changes.
    """
    items.sort(key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("notebooks")))
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = [d for ds in (info.name2fixturedefs.values() if info else ()) for d in ds]
        if any(d.scope == "module" for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(autouse=True)
def results_dir(tmp_path_factory, monkeypatch) -> Path:
    """Return a fresh temporary WORKBOOK_RESULTS_DIR for each test, so no test writes into the repo's results/."""
    path = tmp_path_factory.mktemp("results")
    monkeypatch.setenv("WORKBOOK_RESULTS_DIR", str(path))
    _limit_torch_threads()
    return path


def write_notebook(path: Path, parameters: str, body: list[str], *, tags_extra: dict | None = None) -> Path:
    """Return ``path`` after writing a notebook: a ``parameters``-tagged cell then one code cell per ``body`` entry."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "rlvr-workbook", "display_name": "Python (rlvr-workbook)",
                                 "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# A test notebook"))
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    for i, src in enumerate(body):
        c = nbformat.v4.new_code_cell(src)
        if tags_extra and i in tags_extra:
            c.metadata["tags"] = tags_extra[i]
        nb.cells.append(c)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def write_profile(nb_dir: Path, notebook: str, profile: str, text: str) -> Path:
    """Return the path of ``params/<notebook>/<profile>.yaml`` written with ``text``."""
    p = nb_dir / "params" / notebook / f"{profile}.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.fixture
def nb_dir(tmp_path, monkeypatch) -> Path:
    """Return an empty temporary notebooks folder, set as WORKBOOK_NOTEBOOKS_DIR."""
    path = tmp_path / "notebooks"
    path.mkdir()
    monkeypatch.setenv("WORKBOOK_NOTEBOOKS_DIR", str(path))
    return path
