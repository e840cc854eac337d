"""Course mode (workbook.course): student copies hold no solution cells and their py:percent pair matches."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from workbook.course import PLACEHOLDER, SOLUTION_TAG, strip_solutions, write_student_copies

SECRET_CODE = "answer = 6 * 7  # SECRET-CODE"
SECRET_TEXT = "The answer is 42 because SECRET-TEXT."


def _cell(kind: str, src: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def _lab(path: Path, *, pair: bool = True) -> Path:
    """Return ``path`` after writing a lab notebook with exercises and solution cells (and its .py pair)."""
    import jupytext

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "rlvr-workbook", "display_name": "Python (rlvr-workbook)", "language": "python"}
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent", "cell_metadata_filter": "tags,-all"}
    nb.cells = [
        _cell("markdown", "# Lab 1"),
        _cell("code", 'profile = "cpu"\nseed = 0', ["parameters"]),
        _cell("code", "x = 1\nprint(x)"),
        _cell("markdown", "## Exercises\n\n1. Compute the answer."),
        _cell("code", SECRET_CODE, [SOLUTION_TAG]),
        _cell("code", "assert answer == 42  # also part of the solution", [SOLUTION_TAG, "hide-input"]),
        _cell("markdown", SECRET_TEXT, [SOLUTION_TAG]),
        _cell("markdown", "2. Explain the plot."),
        _cell("markdown", "**Solution.** SECRET-TEXT-2", [SOLUTION_TAG]),
    ]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[2].execution_count = 3
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    if pair:
        jupytext.write(nb, path.with_suffix(".py"), fmt="py:percent")
    return path


def _tags(nb) -> list[list[str]]:
    return [list(c.get("metadata", {}).get("tags") or []) for c in nb.cells]


def test_student_copies_have_no_solution_cells(tmp_path):
    nb_dir = tmp_path / "notebooks"
    _lab(nb_dir / "01_lab.ipynb")
    (nb_dir / "params" / "01_lab").mkdir(parents=True)
    (nb_dir / "params" / "01_lab" / "cpu.yaml").write_text("n: 8\n")
    written = write_student_copies(nb_dir, tmp_path / "student")
    out = tmp_path / "student"
    assert sorted(p.name for p in written) == ["01_lab.ipynb", "01_lab.py"]
    nb = nbformat.read(str(out / "01_lab.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert all(SOLUTION_TAG not in t for t in _tags(nb))
    for path in written:
        text = path.read_text()
        assert "SECRET" not in text, f"solution text leaked into {path.name}"
        assert "answer == 42" not in text
    # everything else kept in order, the two code solutions replaced by one placeholder cell
    assert [c.source for c in nb.cells] == ["# Lab 1", 'profile = "cpu"\nseed = 0', "x = 1\nprint(x)",
                                            "## Exercises\n\n1. Compute the answer.", PLACEHOLDER.strip(),
                                            "2. Explain the plot."]
    assert _tags(nb)[1] == ["parameters"]
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None
    assert (out / "params" / "01_lab" / "cpu.yaml").read_text() == "n: 8\n"
    # the instructor's notebook is untouched
    src = nbformat.read(str(nb_dir / "01_lab.ipynb"), as_version=4)
    assert sum(SOLUTION_TAG in t for t in _tags(src)) == 4


def test_py_percent_pair_matches_the_notebook(tmp_path):
    import jupytext

    nb_dir = tmp_path / "notebooks"
    _lab(nb_dir / "01_lab.ipynb")
    write_student_copies(nb_dir, tmp_path / "student")
    from_ipynb = nbformat.read(str(tmp_path / "student" / "01_lab.ipynb"), as_version=4)
    from_py = jupytext.read(tmp_path / "student" / "01_lab.py")
    assert [(c.cell_type, c.source) for c in from_py.cells] == [(c.cell_type, c.source) for c in from_ipynb.cells]
    assert _tags(from_py) == _tags(from_ipynb)
    assert from_ipynb.metadata["jupytext"]["formats"] == "ipynb,py:percent"


def test_py_only_and_newer_py_sources(tmp_path):
    import jupytext

    nb_dir = tmp_path / "notebooks"
    _lab(nb_dir / "02_py_only.ipynb")
    (nb_dir / "02_py_only.ipynb").unlink()           # only the .py of this pair is committed
    _lab(nb_dir / "03_edited.ipynb")
    py = nb_dir / "03_edited.py"
    edited = jupytext.read(py)
    edited.cells.append(_cell("code", "print('added in the .py') # SECRET-NEWER", [SOLUTION_TAG]))
    edited.cells.append(_cell("markdown", "Added in the .py"))
    jupytext.write(edited, py, fmt="py:percent")
    later = time.time() + 10
    os.utime(py, (later, later))
    write_student_copies(nb_dir, tmp_path / "student")
    a = nbformat.read(str(tmp_path / "student" / "02_py_only.ipynb"), as_version=4)
    assert all(SOLUTION_TAG not in t for t in _tags(a)) and len(a.cells) == 6
    b = (tmp_path / "student" / "03_edited.ipynb").read_text()
    assert "Added in the .py" in b and "SECRET" not in b


def test_deterministic_and_refuses_to_overwrite_the_source(tmp_path):
    nb_dir = tmp_path / "notebooks"
    _lab(nb_dir / "01_lab.ipynb")
    first = [p.read_bytes() for p in write_student_copies(nb_dir, tmp_path / "s")]
    second = [p.read_bytes() for p in write_student_copies(nb_dir, tmp_path / "s")]
    assert first == second
    with pytest.raises(ValueError, match="overwrite"):
        write_student_copies(nb_dir, nb_dir)
    with pytest.raises(FileNotFoundError):
        write_student_copies(tmp_path / "missing", tmp_path / "s")


def test_strip_solutions_counts_and_keeps_input():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell("code", "a", [SOLUTION_TAG]), _cell("markdown", "b"), _cell("markdown", "c", [SOLUTION_TAG])]
    student, n = strip_solutions(nb)
    assert n == 2 and [c.source for c in student.cells] == [PLACEHOLDER.strip(), "b"]
    assert len(nb.cells) == 3


def test_repository_notebooks_strip_cleanly(tmp_path):
    """Every notebook in notebooks/ yields a valid student copy without solution cells."""
    from workbook.paths import repo_root

    nb_dir = repo_root() / "notebooks"
    if not any(nb_dir.glob("*.ipynb")):
        pytest.skip("no notebooks yet")
    written = write_student_copies(nb_dir, tmp_path / "student")
    for path in written:
        if path.suffix == ".ipynb":
            nb = nbformat.read(str(path), as_version=4)
            nbformat.validate(nb)
            assert all(SOLUTION_TAG not in t for t in _tags(nb)), path.name
        else:
            assert 'tags=["solution"]' not in path.read_text(), path.name


@pytest.mark.notebooks
def test_cli_runs_the_students_own_copies_into_their_folder(tmp_path, monkeypatch, capsys):
    """`workbook run LAB --notebooks-dir student` executes the student copy (not notebooks/) into student/results."""
    import json

    from conftest import write_notebook, write_profile

    from workbook import cli

    monkeypatch.delenv("WORKBOOK_RESULTS_DIR", raising=False)
    monkeypatch.delenv("WORKBOOK_NOTEBOOKS_DIR", raising=False)
    nb_dir = tmp_path / "notebooks"
    path = write_notebook(nb_dir / "lab.ipynb", 'profile = "cpu"\nseed = 0\nn = 8\n', [
        "from workbook.params import check_params\nparams = check_params('lab', globals())",
        "from workbook.reporting import RunDir\nRunDir('lab', profile).write_metrics({'headline': {'n': n}})",
        "raise RuntimeError('the instructor solution ran')"])
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[-1].metadata["tags"] = [SOLUTION_TAG]          # the exercise's solution: removed from the copy
    nbformat.write(nb, str(path))
    write_profile(nb_dir, "lab", "smoke", "n: 2\n")
    student = tmp_path / "student"
    write_student_copies(nb_dir, student)

    assert cli.main(["run", "lab", "--profile", "smoke", "--notebooks-dir", str(student)]) == 0
    run = json.loads((student / "results" / "lab" / "smoke" / "run.json").read_text())
    assert run["status"] == "passed" and run["parameters"]["n"] == 2
    executed = (student / "results" / "lab" / "smoke" / "lab.ipynb").read_text()
    assert PLACEHOLDER.strip() in executed and "instructor solution" not in executed
    assert not (nb_dir / "results").exists()
    assert cli.main(["run", "lab", "--profile", "smoke", "--notebooks-dir", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
