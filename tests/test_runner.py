"""Tests for workbook.runner and the ``workbook`` CLI on tiny notebooks (each papermill run costs a kernel start)."""

from __future__ import annotations

import json

import pytest
from conftest import write_notebook, write_profile

from workbook import cli, runner

pytestmark = pytest.mark.notebooks

GOOD_BODY = [
    "from workbook.params import check_params\nparams = check_params('good', globals())",
    "import pandas as pd\nfrom workbook.reporting import RunDir\n"
    "rd = RunDir('good', profile)\n"
    "rd.write_provenance(params, seed)\n"
    "rd.write_metrics({'headline': {'pass@1': n / 10}, 'n': n})\n"
    "rd.save_table(pd.DataFrame({'claim_id': ['A', 'B'], 'verdict': ['reproduced', 'inconclusive']}),"
    " 'reported_vs_reproduced')",
    "from tqdm.auto import tqdm  # what Hugging Face imports: notebook bars need ipywidgets in the kernel's environment",
]


@pytest.fixture
def notebooks(nb_dir):
    write_notebook(nb_dir / "good.ipynb", 'profile = "cpu"\nseed = 0\nn = 8\n', GOOD_BODY)
    write_profile(nb_dir, "good", "smoke", "n: 2\n")
    write_notebook(nb_dir / "bad.ipynb", 'profile = "cpu"\nseed = 0\n', ["raise RuntimeError('boom in cell')"])
    write_profile(nb_dir, "bad", "smoke", "{}\n")
    write_notebook(nb_dir / "slow.ipynb", 'profile = "cpu"\nseed = 0\n', ["import time\ntime.sleep(120)"])
    write_profile(nb_dir, "slow", "smoke", "_runner:\n  timeout_s: 4\n")
    return nb_dir


@pytest.mark.slow
def test_run_all_isolates_failures_and_writes_summary(notebooks, results_dir):
    records = runner.run_all("smoke", root=results_dir, nb_dir=notebooks)
    by = {r.notebook: r for r in records}
    assert [r.notebook for r in records] == ["bad", "good", "slow"]
    assert by["good"].status == "passed", by["good"].error
    assert by["bad"].status == "failed" and "boom in cell" in by["bad"].error
    assert by["slow"].status == "timeout" and by["slow"].wall_s < 60
    assert "timed out after 4 s" in by["slow"].error

    good_dir = results_dir / "good" / "smoke"
    rec = json.loads((good_dir / "run.json").read_text())
    assert rec["status"] == "passed" and rec["parameters"]["n"] == 2 and rec["parameters"]["profile"] == "smoke"
    assert rec["headline"] == {"pass@1": 0.2}
    assert rec["verdicts"] == {"reproduced": 1, "inconclusive": 1}
    assert rec["executed_notebook"] == "good/smoke/good.ipynb" and (results_dir / rec["executed_notebook"]).exists()
    assert rec["wall_s"] > 0 and "cpu_count" in rec["hardware"]
    assert (good_dir / "provenance.json").exists()
    # The executed notebook carries the injected parameters and outputs; the source notebook stays clean.
    import nbformat

    executed = nbformat.read(str(good_dir / "good.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert json.loads((results_dir / "bad" / "smoke" / "run.json").read_text())["status"] == "failed"

    md = (results_dir / "summary.md").read_text()
    assert "1 of 3 runs passed" in md
    assert "| good | smoke | passed |" in md and "pass@1=0.2" in md and "1 inconclusive, 1 reproduced" in md
    assert "| bad | smoke | failed |" in md and "| slow | smoke | timeout |" in md
    html = (results_dir / "summary.html").read_text()
    assert '<a href="good/smoke/good.ipynb">good</a>' in html and "status-failed" in html
    runs = json.loads((results_dir / "summary.json").read_text())["runs"]
    assert {r["notebook"] for r in runs} == {"good", "bad", "slow"}


def test_invalid_parameters_never_start_a_notebook(notebooks, results_dir):
    from workbook.params import ParameterError

    with pytest.raises(ParameterError, match="unknown parameter"):
        runner.run_notebook("good", "smoke", {"n_samples": 3}, root=results_dir, nb_dir=notebooks)
    # In run-all one bad override (bad has no `n`) stops everything before the first notebook starts.
    with pytest.raises(ParameterError, match=r"nothing was run:\n  bad: unknown parameter\(s\) \['n'\]"):
        runner.run_all("smoke", {"n": 3}, notebooks=["bad", "good"], root=results_dir, nb_dir=notebooks,
                       summary=False)
    assert not list(results_dir.rglob("*")), "nothing may be written for invalid parameters"


def test_cli_bad_input_exit_code_2(notebooks, results_dir, capsys):
    assert cli.main(["--results-dir", str(results_dir), "run", "nope", "--profile", "smoke"]) == 2
    assert "unknown notebook 'nope'" in capsys.readouterr().err
    assert cli.main(["--results-dir", str(results_dir), "run", "good", "--profile", "laptop"]) == 2
    assert "unknown profile 'laptop'" in capsys.readouterr().err
    assert cli.main(["--results-dir", str(results_dir), "run", "good", "--profile", "smoke", "-p", "n=two"]) == 2
    assert "parameter 'n' must be int" in capsys.readouterr().err
    assert not list(results_dir.rglob("*"))


def test_cli_run_and_summary(notebooks, results_dir, capsys):
    assert cli.main(["--results-dir", str(results_dir), "run", "good", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "good (smoke) started" in out and "good (smoke) passed in" in out
    rec = json.loads((results_dir / "good" / "smoke" / "run.json").read_text())
    assert rec["headline"] == {"pass@1": 0.2} and rec["label"] == "smoke" and rec["allow_dirty"] is False
    # run.json records the run's CPU time (test_cpu_seconds_count_grandchildren: whose) and the load at both ends.
    assert rec["cpu_s"] > 0
    assert "IProgress not found" not in (results_dir / rec["executed_notebook"]).read_text()
    assert set(rec["load_avg"]) == {"start", "end"}
    assert all(len(v) == 3 and min(v) >= 0 for v in rec["load_avg"].values())
    # The second run announces an ETA from the first one's measured wall time.
    assert cli.main(["--results-dir", str(results_dir), "run", "good", "--profile", "smoke"]) == 0
    assert "last run" in capsys.readouterr().out
    (results_dir / "summary.md").unlink()
    assert cli.main(["--results-dir", str(results_dir), "summary"]) == 0
    assert "| good | smoke | passed |" in (results_dir / "summary.md").read_text()


def test_summary_without_runs_and_with_broken_record(results_dir):
    md, html = runner.write_summary(results_dir)
    assert "0 of 0 runs passed" in md.read_text() and "(no runs yet)" in md.read_text()
    (results_dir / "x" / "cpu").mkdir(parents=True)
    (results_dir / "x" / "cpu" / "run.json").write_text("{not json")
    md, _ = runner.write_summary(results_dir)  # a corrupt record is skipped, not fatal
    assert "0 of 0 runs passed" in md.read_text()


def test_timeout_names_the_running_cell(tmp_path):
    import nbformat

    path = write_notebook(tmp_path / "p.ipynb", "n = 1\n", ["x = 1", "import time\ntime.sleep(60)"])
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[2].metadata["papermill"] = {"status": "completed"}
    nb.cells[3].metadata["papermill"] = {"status": "running"}
    nbformat.write(nb, str(path))
    assert runner._running_cell(path) == " in cell 3: import time"
    assert runner._running_cell(tmp_path / "missing.ipynb") == ""


def test_cpu_seconds_count_grandchildren():
    """run.json's cpu_s must include the kernel, a grandchild of the runner: reaped descendants count, via their parent."""
    import subprocess
    import sys

    burn = "import time\nwhile time.process_time() < 0.5: pass"
    spawn = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}], check=True)"
    before = runner.cpu_seconds()
    subprocess.run([sys.executable, "-c", spawn], check=True)
    assert runner.cpu_seconds() - before >= 0.5
