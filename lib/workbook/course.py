"""Student copies of the notebooks: cells tagged ``solution`` removed, outputs cleared, the py:percent pair rewritten.

The course mode of ``notebooks/README.md`` ("Instructor guide"): every notebook ends with exercises whose
solution cells are tagged ``solution``. The copies are made by nbconvert's own preprocessors
(`student_preprocessors`): ``TagRemovePreprocessor`` drops the solution cells, ``ClearOutputPreprocessor`` the
outputs and execution counts, ``ClearMetadataPreprocessor`` every cell's metadata except its tags (``parameters``
must survive for papermill) and the notebook's except kernelspec, jupytext and language_info. The one step
nbconvert has no preprocessor for is ours: a removed code solution leaves an empty code cell
(``# Your solution here``) so the student knows where to write; a removed Markdown solution leaves nothing.
Both files of each pair (``<nb>.ipynb`` and ``<nb>.py`` in jupytext's py:percent format) are written from the same
stripped notebook, so the pair stays consistent. The profiles (``params/``) are copied beside them so that the
student folder runs on its own: ``workbook run <lab> --notebooks-dir student`` (results in ``student/results/``).
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
from pathlib import Path

from nbconvert.preprocessors import (
    ClearMetadataPreprocessor, ClearOutputPreprocessor, Preprocessor, TagRemovePreprocessor,
)

from workbook.paths import repo_root

log = logging.getLogger(__name__)

SOLUTION_TAG = "solution"
PLACEHOLDER = "# Your solution here\n"
PAIR_FORMATS = "ipynb,py:percent"
#: Notebook metadata a student copy keeps (the kernel to start, the jupytext pairing, the language).
KEEP_NB_METADATA = frozenset({"kernelspec", "jupytext", "language_info"})


def is_solution(cell) -> bool:
    """Return True when the cell's tags include ``solution``."""
    return SOLUTION_TAG in (cell.get("metadata", {}).get("tags") or [])


class SolutionPlaceholderPreprocessor(Preprocessor):
    """Insert one untagged ``# Your solution here`` code cell before each run of consecutive solution cells that
    holds code (`TagRemovePreprocessor` then removes the run itself); count the solution cells in
    ``resources["n_solutions"]``."""

    def preprocess(self, nb, resources):
        import nbformat

        cells, n, i = [], 0, 0
        while i < len(nb.cells):
            j = i
            while j < len(nb.cells) and is_solution(nb.cells[j]):
                j += 1
            if j > i:
                run = nb.cells[i:j]
                if any(c.get("cell_type") == "code" for c in run):
                    cells.append(nbformat.v4.new_code_cell(PLACEHOLDER.rstrip("\n")))
                cells += run
                n += j - i
                i = j
            else:
                cells.append(nb.cells[i])
                i += 1
        nb.cells = cells
        resources["n_solutions"] = resources.get("n_solutions", 0) + n
        return nb, resources


def student_preprocessors() -> list[Preprocessor]:
    """Return the preprocessors that turn an instructor's notebook into a student copy, in order."""
    return [
        SolutionPlaceholderPreprocessor(),
        TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}),
        ClearOutputPreprocessor(),
        ClearMetadataPreprocessor(preserve_cell_metadata_mask={"tags"}, preserve_nb_metadata_mask=set(KEEP_NB_METADATA)),
    ]


def strip_solutions(nb):
    """Return ``(student_nb, n_removed)``: a copy of ``nb`` without solution cells, outputs or run metadata.

    Each run of consecutive removed cells that held code is replaced by one empty placeholder code cell.
    """
    out, resources = copy.deepcopy(nb), {}
    for pre in student_preprocessors():
        out, resources = pre.preprocess(out, resources)
    for cell in out.cells:  # Markdown cells keep their metadata under ClearMetadata: drop a run's records there too
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    out.metadata.setdefault("jupytext", {})["formats"] = PAIR_FORMATS
    out.nbformat_minor = max(int(out.get("nbformat_minor", 0)), 5)  # cell ids exist from 4.5 on
    _assign_ids(out)
    return out, resources.get("n_solutions", 0)


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
