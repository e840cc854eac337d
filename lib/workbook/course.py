"""Student copies of the notebooks: cells tagged ``solution`` removed, outputs cleared, the py:percent pair rewritten.

The course mode of ``notebooks/README.md`` ("Instructor guide"): every notebook ends with exercises whose
solution cells are tagged ``solution``.
A removed code solution leaves an empty code cell (``# Your solution here``) so the student knows where to write;
a removed Markdown solution leaves nothing. Both files of each pair (``<nb>.ipynb`` and ``<nb>.py`` in jupytext's
py:percent format) are written from the same stripped notebook, so the pair stays consistent. The profiles
(``params/``) are copied beside them so that the student folder runs on its own.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
from pathlib import Path

from workbook.paths import repo_root

log = logging.getLogger(__name__)

SOLUTION_TAG = "solution"
PLACEHOLDER = "# Your solution here\n"
PAIR_FORMATS = "ipynb,py:percent"


def is_solution(cell) -> bool:
    """Return True when the cell's tags include ``solution``."""
    return SOLUTION_TAG in (cell.get("metadata", {}).get("tags") or [])


def strip_solutions(nb):
    """Return ``(student_nb, n_removed)``: a copy of ``nb`` without solution cells and without outputs.

    Each run of consecutive removed cells that held code is replaced by one empty placeholder code cell.
    """
    import nbformat

    out = copy.deepcopy(nb)
    cells, n_removed, pending_code = [], 0, False
    for cell in out.cells:
        if is_solution(cell):
            n_removed += 1
            pending_code = pending_code or cell.get("cell_type") == "code"
            continue
        if pending_code:
            cells.append(nbformat.v4.new_code_cell(PLACEHOLDER.rstrip("\n")))
            pending_code = False
        cells.append(cell)
    if pending_code:
        cells.append(nbformat.v4.new_code_cell(PLACEHOLDER.rstrip("\n")))
    for cell in cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    out.cells = cells
    out.metadata.pop("papermill", None)
    out.metadata.pop("widgets", None)
    out.metadata.setdefault("jupytext", {})["formats"] = PAIR_FORMATS
    out.nbformat_minor = max(int(out.get("nbformat_minor", 0)), 5)  # cell ids exist from 4.5 on
    _assign_ids(out)
    return out, n_removed


def _assign_ids(nb) -> None:
    """Give every cell a fresh, deterministic id (``cell-<index>``) so that repeated runs write identical files."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"


def _default_notebooks_dir() -> Path:
    env = os.environ.get("WORKBOOK_NOTEBOOKS_DIR")
    return Path(env).expanduser().resolve() if env else repo_root() / "notebooks"


def _sources(nb_dir: Path) -> list[Path]:
    """Return one source per notebook: ``<nb>.ipynb``, or the py:percent ``<nb>.py`` when no .ipynb exists.

    When both exist and the .py was edited later (jupytext's rule: the newer file wins), the .py is the source.
    """
    out = []
    ipynbs = {p.stem: p for p in nb_dir.glob("*.ipynb") if not p.name.startswith(".")}
    pys = {p.stem: p for p in nb_dir.glob("*.py") if not p.name.startswith((".", "_")) and _is_percent(p)}
    for stem in sorted(set(ipynbs) | set(pys)):
        ipynb, py = ipynbs.get(stem), pys.get(stem)
        if ipynb and py and py.stat().st_mtime > ipynb.stat().st_mtime + 1:
            log.warning("%s is newer than %s: using the .py (run `jupytext --sync` to pair them)", py.name, ipynb.name)
            out.append(py)
        else:
            out.append(ipynb or py)
    return out


def _is_percent(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8")[:4000]
    except OSError:
        return False
    return "format_name: percent" in head or head.lstrip().startswith("# %%") or "\n# %%" in head


def write_student_copies(notebooks_dir: Path | str | None = None, out_dir: Path | str | None = None) -> list[Path]:
    """Return the files written: for each notebook ``<out>/<nb>.ipynb`` and ``<out>/<nb>.py``, solutions removed.

    Course mode (``notebooks/README.md``, "Instructor guide"). ``notebooks_dir`` defaults to
    ``$WORKBOOK_NOTEBOOKS_DIR`` or ``<repo>/notebooks``; ``out_dir`` to ``<repo>/student``. The notebooks folder
    itself is refused as ``out_dir`` (it would overwrite the instructor's copies). ``params/`` is copied beside
    the notebooks.
    """
    import jupytext
    import nbformat

    nb_dir = Path(notebooks_dir).resolve() if notebooks_dir is not None else _default_notebooks_dir()
    out = Path(out_dir).resolve() if out_dir is not None else repo_root() / "student"
    if not nb_dir.is_dir():
        raise FileNotFoundError(f"notebooks folder {nb_dir} does not exist")
    if out == nb_dir:
        raise ValueError(f"out_dir {out} is the notebooks folder: student copies would overwrite the solutions")
    sources = _sources(nb_dir)
    if not sources:
        log.warning("no notebooks in %s", nb_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for src in sources:
        nb = jupytext.read(src)
        student, n_removed = strip_solutions(nb)
        ipynb_path, py_path = out / f"{src.stem}.ipynb", out / f"{src.stem}.py"
        nbformat.write(student, str(ipynb_path))
        jupytext.write(student, py_path, fmt="py:percent")
        written += [ipynb_path, py_path]
        log.info("%s: %d solution cell(s) removed", src.stem, n_removed)
    if (nb_dir / "params").is_dir():
        shutil.copytree(nb_dir / "params", out / "params", dirs_exist_ok=True)
    return written
