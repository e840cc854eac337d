"""No result is ever lost: interrupts, failed and timed-out re-runs, typos, plain papermill, concurrent runs.

Every case goes through the ``workbook`` command on a tiny notebook in a temporary notebooks folder, and checks that
the previous results are byte-identical afterwards and the exit status is the documented one. Nothing waits on the
wall clock: the notebook writes a file when it reaches the point the test needs, and every wait is generous.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_notebook, write_profile

from workbook import cli, runner

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

WAIT_S = 300  # generous: kernel start-up on a loaded 2-core machine

BODY = [
    "import os, pathlib, time\nfrom workbook.params import check_params\nparams = check_params('good', globals())\n"
    "print('hello from the good notebook', flush=True)",
    "import pandas as pd\nfrom workbook.reporting import RunDir\n"
    "rd = RunDir('good', profile)\n"
    "rd.write_provenance(params, seed)\n"
    "rd.write_metrics({'headline': {'pass@1': n / 10}, 'n': n, 'mark': os.environ.get('MARK', 'first')})\n"
    "rd.save_table(pd.DataFrame({'claim_id': ['A'], 'verdict': ['reproduced']}), 'reported_vs_reproduced')",
    # the test's hooks: hang (after the outputs are written, so a partial run exists) or fail
    "if os.environ.get('HANG_FILE'):\n"
    "    pathlib.Path(os.environ['HANG_FILE']).write_text(str(os.getpid()))\n"
    "    time.sleep(900)\n"
    "if os.environ.get('FAIL_GOOD'):\n"
    "    raise RuntimeError('boom on request')",
]


@pytest.fixture
def nbs(nb_dir):
    write_notebook(nb_dir / "good.ipynb", 'profile = "cpu"\nseed = 0\nn = 8\n', BODY)
    write_profile(nb_dir, "good", "smoke", "n: 2\n")
    write_profile(nb_dir, "good", "cpu", "{}\n")
    write_notebook(nb_dir / "other.ipynb", 'profile = "cpu"\nseed = 0\n', ["x = 1"])
    write_profile(nb_dir, "other", "smoke", "{}\n")
    return nb_dir


def snapshot(folder: Path) -> dict[str, bytes]:
    """Return every file under ``folder`` (but its attempts/) by relative path → bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "attempts" not in p.relative_to(folder).parts}


def wait_for(cond, what: str, timeout: float = WAIT_S):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {timeout} s")


def cli_args(results_dir: Path, *args: str) -> list[str]:
    return ["--results-dir", str(results_dir), *args]


def start_cli(results_dir: Path, *args: str, **env) -> subprocess.Popen:
    """Start ``python -m workbook.cli`` in a subprocess (its own session, so signals reach only what the test sends)."""
    return subprocess.Popen([sys.executable, "-m", "workbook.cli", *cli_args(results_dir, *args)],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def first_run(results_dir: Path) -> dict[str, bytes]:
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke")) == 0
    before = snapshot(results_dir / "good" / "smoke")
    assert "metrics.json" in before and "run.json" in before and "good.ipynb" in before
    return before


def only_attempt(run_dir: Path) -> dict:
    attempts = sorted((run_dir / "attempts").iterdir())
    assert len(attempts) == 1, attempts
    return json.loads((attempts[0] / "run.json").read_text())


def pid_gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_notebook_and_keeps_previous_results(nbs, results_dir, tmp_path, sig, code):
    before = first_run(results_dir)
    hang = tmp_path / "kernel.pid"
    proc = start_cli(results_dir, "run", "good", "--profile", "smoke", HANG_FILE=str(hang), MARK="second")
    try:
        kernel_pid = int(wait_for(lambda: hang.exists() and hang.read_text(), "the notebook to start hanging"))
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, (out, err)
    assert f"interrupted by {signal.Signals(sig).name}" in err
    run_dir = results_dir / "good" / "smoke"
    assert snapshot(run_dir) == before, "the previous results must be byte-identical"
    attempt = only_attempt(run_dir)
    assert attempt["status"] == "interrupted" and attempt["signal"] == signal.Signals(sig).name
    assert "interrupted by" in attempt["error"] and attempt["ended"]
    # The partial attempt (outputs written before the hang) is kept for debugging, not mixed into the results.
    attempt_dir = results_dir / attempt["run_dir"]
    assert json.loads((attempt_dir / "metrics.json").read_text())["mark"] == "second"
    assert "hello from the good notebook" in (attempt_dir / "run.log").read_text()
    wait_for(lambda: pid_gone(kernel_pid), "the kernel to be killed", timeout=60)
    assert not list((results_dir / ".runner" / "staging").rglob("run.json"))
    # The lock was released: the next run goes through.
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke")) == 0


@pytest.mark.parametrize("case", ["timeout", "failed"])
def test_failed_or_timed_out_rerun_keeps_previous_results(nbs, results_dir, tmp_path, monkeypatch, capsys, case):
    before = first_run(results_dir)
    if case == "timeout":
        monkeypatch.setenv("HANG_FILE", str(tmp_path / "kernel.pid"))
        args = ("run", "good", "--profile", "smoke", "--timeout", "5")
    else:
        monkeypatch.setenv("FAIL_GOOD", "1")
        args = ("run", "good", "--profile", "smoke")
    capsys.readouterr()
    assert cli.main(cli_args(results_dir, *args)) == 1
    out = capsys.readouterr().out
    run_dir = results_dir / "good" / "smoke"
    assert f"good (smoke) {case} in" in out and "previous results kept" in out
    assert snapshot(run_dir) == before
    attempt = only_attempt(run_dir)
    assert attempt["status"] == case
    assert attempt["run_dir"].startswith("good/smoke/attempts/")
    assert (results_dir / attempt["run_dir"] / "run.log").exists()


def test_first_failure_is_the_run_directory(nbs, results_dir, monkeypatch):
    """With no passed results to keep, the failed attempt becomes the run directory (so the summary shows it)."""
    monkeypatch.setenv("FAIL_GOOD", "1")
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke")) == 1
    rec = json.loads((results_dir / "good" / "smoke" / "run.json").read_text())
    assert rec["status"] == "failed" and "boom on request" in rec["error"]
    monkeypatch.delenv("FAIL_GOOD")
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke")) == 0
    run_dir = results_dir / "good" / "smoke"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "passed"
    assert only_attempt(run_dir)["status"] == "failed"  # the replaced failure is kept as an attempt


def test_typo_in_run_all_writes_nothing(nbs, results_dir, capsys):
    before = first_run(results_dir)
    everything = snapshot(results_dir)
    capsys.readouterr()
    assert cli.main(cli_args(results_dir, "run-all", "--profile", "smoke", "-p", "seeds=3")) == 2
    err = capsys.readouterr().err
    assert "nothing was run" in err and "good: unknown parameter(s) ['seeds']" in err
    assert "other: unknown parameter(s) ['seeds']" in err
    assert cli.main(cli_args(results_dir, "run-all", "--profile", "smoke", "--only", "good", "03_nsr")) == 2
    assert "unknown notebook '03_nsr'" in capsys.readouterr().err
    assert snapshot(results_dir) == everything and snapshot(results_dir / "good" / "smoke") == before
    assert not (results_dir / "03_nsr").exists()


def test_run_all_runs_in_course_order(nbs, results_dir, capsys, monkeypatch):
    monkeypatch.setattr("workbook.params.COURSE_ORDER", ("other", "good"))
    assert cli.main(cli_args(results_dir, "run-all", "--profile", "smoke", "--only", "good", "other")) == 0
    out = capsys.readouterr().out
    assert out.index("[1/2] other (smoke) started") < out.index("[2/2] good (smoke) started")


def test_run_all_skips_notebooks_without_the_profile(nbs, results_dir, capsys, monkeypatch):
    monkeypatch.setattr(runner, "git_state", lambda *a, **k: {"sha": "abc", "dirty": False})
    assert cli.main(cli_args(results_dir, "run-all", "--profile", "cpu")) == 0
    out = capsys.readouterr().out
    assert "no cpu profile, skipped: other" in out and "[1/1] good (cpu) passed" in out
    assert cli.main(cli_args(results_dir, "run-all", "--profile", "cpu", "--only", "other")) == 2  # named: an error


def test_concurrent_run_is_refused_naming_the_holder(nbs, results_dir, tmp_path, capsys):
    hang = tmp_path / "kernel.pid"
    proc = start_cli(results_dir, "run", "good", "--profile", "smoke", HANG_FILE=str(hang))
    try:
        wait_for(hang.exists, "the first run to start its notebook")
        capsys.readouterr()
        assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke")) == 3
        err = capsys.readouterr().err
        assert f"pid {proc.pid}" in err and "good/smoke" in err
        assert cli.main(cli_args(results_dir, "run-all", "--profile", "smoke")) == 3  # run-all takes every lock first
        assert not (results_dir / "other").exists()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 143


def test_stale_lock_is_taken_over(nbs, results_dir, caplog):
    """A runner killed outright (SIGKILL) leaves its lock file and its staging folder behind."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = results_dir / ".runner" / "locks" / "good.smoke.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{dead.pid} 2026-01-01T00:00:00+00:00\n")
    orphan = results_dir / ".runner" / "staging" / "good" / f"smoke-20260101T000000Z-{dead.pid}"
    orphan.mkdir(parents=True)
    (orphan / "run.log").write_text("half a run\n")
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke")) == 0
    assert f"stale lock of pid {dead.pid}" in caplog.text
    assert lock.read_text() == ""  # released
    kept = results_dir / "good" / "smoke" / "attempts" / f"20260101T000000Z-{dead.pid}-killed" / "run.log"
    assert kept.read_text() == "half a run\n" and not orphan.exists()


def test_plain_papermill_with_a_profile_file_gets_its_label(nbs, results_dir, tmp_path, monkeypatch):
    """``papermill NB OUT -f params/NB/smoke.yaml`` is the smoke run: it never touches the published cpu results."""
    monkeypatch.setattr(runner, "git_state", lambda *a, **k: {"sha": "abc", "dirty": False})
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "cpu")) == 0
    cpu_before = snapshot(results_dir / "good" / "cpu")

    def papermill(*args: str, **env) -> None:
        cmd = [sys.executable, "-m", "papermill", str(nbs / "good.ipynb"), str(tmp_path / "out.ipynb"),
               "-k", runner.KERNEL_NAME, "--no-progress-bar", *args]
        subprocess.run(cmd, check=True, env={**os.environ, **env}, capture_output=True, timeout=WAIT_S)

    papermill("-f", str(nbs / "params" / "good" / "smoke.yaml"))
    assert snapshot(results_dir / "good" / "cpu") == cpu_before
    prov = json.loads((results_dir / "good" / "smoke" / "provenance.json").read_text())
    assert prov["profile"] == "smoke" and prov["label"] == "smoke" and prov["parameters"]["n"] == 2

    # `-p profile smoke` applies smoke.yaml itself; without a results dir the run goes to the scratch folder.
    env = {k: v for k, v in os.environ.items() if k != "WORKBOOK_RESULTS_DIR"}
    env["WORKBOOK_SCRATCH_DIR"] = str(tmp_path / "scratch")
    cmd = [sys.executable, "-m", "papermill", str(nbs / "good.ipynb"), str(tmp_path / "out2.ipynb"),
           "-k", runner.KERNEL_NAME, "--no-progress-bar", "-p", "profile", "smoke"]
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=WAIT_S)
    metrics = json.loads((tmp_path / "scratch" / "good" / "smoke" / "metrics.json").read_text())
    assert metrics["n"] == 2
    # edited values are a custom run, never labelled cpu
    papermill("-p", "n", "5")
    custom = [p.name for p in (results_dir / "good").iterdir() if p.name.startswith("custom-")]
    assert len(custom) == 1 and snapshot(results_dir / "good" / "cpu") == cpu_before


def test_overrides_go_to_a_custom_folder(nbs, results_dir, capsys):
    before = first_run(results_dir)
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke", "-p", "n=5")) == 0
    assert snapshot(results_dir / "good" / "smoke") == before
    (custom,) = [p for p in (results_dir / "good").iterdir() if p.name.startswith("custom-")]
    rec = json.loads((custom / "run.json").read_text())
    assert rec["profile"] == "smoke" and rec["label"] == custom.name and rec["headline"] == {"pass@1": 0.5}
    # the same overrides land in the same folder; a value equal to the profile's is no override
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke", "-p", "n=2")) == 0
    assert json.loads((results_dir / "good" / "smoke" / "run.json").read_text())["parameters"]["n"] == 2


def test_dirty_tree_refused_for_published_profiles(nbs, results_dir, monkeypatch, capsys):
    monkeypatch.setattr(runner, "git_state", lambda *a, **k: {"sha": "abc", "dirty": True})
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "cpu")) == 2
    assert "clean git tree" in capsys.readouterr().err and not (results_dir / "good").exists()
    assert cli.main(cli_args(results_dir, "run-all", "--profile", "cpu", "--only", "good")) == 2
    assert not (results_dir / "good").exists()
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "smoke")) == 0  # smoke is never published
    assert cli.main(cli_args(results_dir, "run", "good", "--profile", "cpu", "--allow-dirty")) == 0
    rec = json.loads((results_dir / "good" / "cpu" / "run.json").read_text())
    assert rec["allow_dirty"] is True and rec["status"] == "passed"


def test_files_0644_and_dirs_0755(nbs, results_dir):
    old = os.umask(0o077)  # even under a strict umask the published files must be readable by a web server
    try:
        first_run(results_dir)
    finally:
        os.umask(old)
    run_dir = results_dir / "good" / "smoke"
    for name in ("metrics.json", "provenance.json", "run.json", "tables/reported_vs_reproduced.csv"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o644, name
    for d in (run_dir, run_dir / "tables"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o755, d


def test_git_state_ignores_what_runs_write_under_results(tmp_path):
    """A published run replaces tracked files under results/; only code changes make the tree dirty."""
    import subprocess

    from workbook.reporting.io import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                       env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})

    (tmp_path / "results" / "nb" / "cpu").mkdir(parents=True)
    (tmp_path / "results" / "nb" / "cpu" / "metrics.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "init")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "results" / "nb" / "cpu" / "metrics.json").write_text('{"a": 1}')
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path)["dirty"] is True
