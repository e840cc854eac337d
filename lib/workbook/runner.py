"""Headless execution of the notebooks through papermill, run records, and the results summary.

Issue 2 § runner: papermill with the kernel named explicitly (``rlvr-workbook``), a per-notebook timeout,
parameters validated before execution, one failing notebook never stops the rest.

Each run writes into ``results/<notebook>/<profile>/``: the executed notebook ``<notebook>.ipynb``, the notebook's
own outputs (metrics.json, provenance.json, figures/, tables/ via :class:`workbook.reporting.RunDir`), ``run.log``
(papermill's output) and ``run.json``::

    {"notebook", "profile", "status": "passed" | "failed" | "timeout" | "invalid", "wall_s", "error",
     "started", "ended", "parameters", "executed_notebook", "hardware", "git", "headline", "verdicts"}

Notebooks execute in a subprocess (``python -m papermill``) in their own process group, so a hang is killed at the
timeout without touching the other notebooks.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from workbook.params import ParameterError, list_notebooks, notebook_path, notebooks_dir, resolve_params
from workbook.paths import results_root
from workbook.reporting.io import _iso, atomic_write_text, dumps_deterministic, git_state, hardware_info
from workbook.reporting.summary import read_headline, read_verdicts, write_summary

log = logging.getLogger(__name__)

KERNEL_NAME = "rlvr-workbook"
#: Default per-notebook timeouts (seconds) by profile; a profile YAML's ``_runner: {timeout_s: ...}`` overrides.
DEFAULT_TIMEOUT_S: dict[str, float] = {"smoke": 600, "cpu": 3600, "paper": 48 * 3600}
STATUSES = ("passed", "failed", "timeout", "invalid")


@dataclass
class RunRecord:
    """The content of ``run.json`` (see module docstring)."""

    notebook: str
    profile: str
    status: str
    wall_s: float
    error: str | None
    started: str
    ended: str
    parameters: dict = field(default_factory=dict)
    executed_notebook: str | None = None
    run_dir: str | None = None
    timeout_s: float | None = None
    hardware: dict = field(default_factory=dict)
    git: dict = field(default_factory=dict)
    headline: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _tail(text: str, n_lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-n_lines:])


def run_notebook(notebook: str, profile: str, overrides: Mapping[str, Any] | None = None, *,
                 root: Path | None = None, nb_dir: Path | None = None, timeout_s: float | None = None,
                 kernel_name: str = KERNEL_NAME) -> RunRecord:
    """Return the RunRecord of executing ``notebook`` at ``profile`` (also written to run_dir/run.json).

    Bad names/types (notebook, profile, parameter) raise ParameterError before anything runs. A notebook that fails
    or times out does not raise: the record says so (status "failed" / "timeout", error = last lines of the log).
    """
    nb_dir = Path(nb_dir) if nb_dir else notebooks_dir()
    src = notebook_path(notebook, nb_dir)
    name = src.stem
    params, runner_opts = resolve_params(name, profile, overrides, nb_dir)
    root = Path(root) if root else results_root()
    run_dir = root / name / profile
    run_dir.mkdir(parents=True, exist_ok=True)
    out_nb = run_dir / f"{name}.ipynb"
    timeout_s = float(timeout_s or runner_opts.get("timeout_s") or DEFAULT_TIMEOUT_S[profile])

    # Stale outputs from an earlier run must not be mistaken for this run's.
    for stale in ("metrics.json", "run.json", "provenance.json"):
        (run_dir / stale).unlink(missing_ok=True)
    for sub, pattern in (("figures", "*.png"), ("tables", "*.csv"), ("tables", "*.md")):
        for f in (run_dir / sub).glob(pattern):
            f.unlink()

    params_file = run_dir / "parameters.yaml"
    import yaml
    atomic_write_text(params_file, yaml.safe_dump(params, sort_keys=True))
    cmd = [sys.executable, "-m", "papermill", str(src), str(out_nb), "-f", str(params_file),
           "-k", kernel_name, "--cwd", str(src.parent), "--no-progress-bar", "--log-level", "WARNING"]
    env = {**os.environ, "WORKBOOK_RESULTS_DIR": str(root.resolve()), "WORKBOOK_NOTEBOOKS_DIR": str(nb_dir.resolve()),
           "PYTHONUNBUFFERED": "1"}
    env.setdefault("MPLBACKEND", "Agg")

    log.info("running %s (%s), timeout %.0f s", name, profile, timeout_s)
    t0 = time.time()
    status, error = "passed", None
    log_path = run_dir / "run.log"
    with log_path.open("w", encoding="utf-8") as log_fh:
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            rc = None
    t1 = time.time()
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    if rc is None:
        status, error = "timeout", f"{_tail(log_text, 10)}\ntimed out after {timeout_s:.0f} s{_running_cell(out_nb)}"
    elif rc != 0:
        status, error = "failed", _tail(log_text) or f"papermill exited with {rc}"

    record = RunRecord(
        notebook=name, profile=profile, status=status, wall_s=round(t1 - t0, 2), error=error,
        started=_iso(t0), ended=_iso(t1), parameters=params,
        executed_notebook=str(out_nb.relative_to(root)) if out_nb.exists() else None,
        run_dir=str(run_dir.relative_to(root)), timeout_s=timeout_s, hardware=_run_hardware(run_dir), git=git_state(),
        headline=read_headline(run_dir), verdicts=read_verdicts(run_dir),
    )
    write_run_record(run_dir, record)
    return record


def _running_cell(executed: Path) -> str:
    """Return " in cell N: <first line>" for the cell papermill was executing (from the partial notebook), or ""."""
    try:
        import nbformat

        nb = nbformat.read(str(executed), as_version=4)
    except Exception:  # noqa: BLE001 - best effort: the partial notebook may be missing or half-written
        return ""
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            return f" in cell {i}: {first[:100]}"
    return ""


def _run_hardware(run_dir: Path) -> dict:
    """Return the hardware the notebook saw (provenance.json, written by the kernel that imported torch), else ours."""
    try:
        hw = json.loads((run_dir / "provenance.json").read_text()).get("hardware")
        if isinstance(hw, dict) and hw:
            return hw
    except (OSError, ValueError):
        pass
    return hardware_info()


def _kill_group(proc: subprocess.Popen) -> None:
    """Terminate the papermill subprocess and its kernel (same process group), escalating to SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def write_run_record(run_dir: Path, record: RunRecord) -> Path:
    """Return the path of ``run.json`` written atomically."""
    text = json.dumps(record.to_dict(), sort_keys=True, indent=2, default=str) + "\n"
    return atomic_write_text(Path(run_dir) / "run.json", text)


def invalid_record(notebook: str, profile: str, err: Exception, root: Path) -> RunRecord:
    """Return (and write, when the notebook exists) a record with status "invalid" for a parameter error."""
    now = _iso(time.time())
    rec = RunRecord(notebook=Path(notebook).stem, profile=profile, status="invalid", wall_s=0.0, error=str(err),
                    started=now, ended=now, hardware=hardware_info())
    run_dir = root / rec.notebook / profile
    if profile in DEFAULT_TIMEOUT_S:
        rec.run_dir = str(run_dir.relative_to(root))
        write_run_record(run_dir, rec)
    return rec


def run_all(profile: str, overrides: Mapping[str, Any] | None = None, *, notebooks: list[str] | None = None,
            root: Path | None = None, nb_dir: Path | None = None, timeout_s: float | None = None,
            kernel_name: str = KERNEL_NAME, summary: bool = True) -> list[RunRecord]:
    """Return one RunRecord per notebook (all of ``notebooks/`` by default), run in name order; never stops early.

    Parameters are validated for every notebook before the first one starts, so a typo fails fast; a notebook whose
    parameters are invalid is recorded as "invalid" and the others still run. Writes the summary at the end.
    """
    nb_dir = Path(nb_dir) if nb_dir else notebooks_dir()
    root = Path(root) if root else results_root()
    names = notebooks if notebooks is not None else list_notebooks(nb_dir)
    records: list[RunRecord] = []
    valid: list[str] = []
    for name in names:
        try:
            resolve_params(name, profile, overrides, nb_dir)
            valid.append(name)
        except ParameterError as err:
            log.error("%s: %s", name, err)
            records.append(invalid_record(name, profile, err, root))
    for name in valid:
        try:
            records.append(run_notebook(name, profile, overrides, root=root, nb_dir=nb_dir, timeout_s=timeout_s,
                                        kernel_name=kernel_name))
        except Exception as err:  # noqa: BLE001 - one notebook never stops the rest
            log.exception("%s: runner error", name)
            records.append(invalid_record(name, profile, err, root))
        log.info("%s: %s in %.1f s", name, records[-1].status, records[-1].wall_s)
    if summary:
        write_summary(root)
    return records
