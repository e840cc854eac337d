"""Headless execution of the notebooks through papermill: run records, staging, locks, signals and progress.

A run never destroys earlier results:

- **staging**: papermill and the notebook's ``RunDir`` write into ``<results>/.runner/staging/<nb>/<label>-<stamp>/``
  (the runner sets ``$WORKBOOK_RUN_DIR``); only a passing run replaces ``<results>/<nb>/<label>/``, atomically
  (``renameat2(RENAME_EXCHANGE)`` on Linux). A failed, timed-out or interrupted run keeps the previous results and
  is stored beside them in ``<results>/<nb>/<label>/attempts/<stamp>/`` (a run directory that never passed is
  replaced by the attempt, so the summary shows the failure);
- **locks**: one ``flock`` per run directory (``<results>/.runner/locks/<nb>.<label>.lock``, holding the pid); a
  second run into a locked directory is refused naming the holder, and a lock left by a dead process is free;
- **signals**: SIGINT/SIGTERM kill the notebook's processes (papermill's group and the kernel's), record status
  ``interrupted`` with the time, and propagate as :class:`Interrupted` (the CLI exits 130/143);
- **labels**: the run directory is named after the profile whose file was applied, or ``custom-<hash>`` when the
  parameters differ from it (:func:`workbook.params.profile_label`);
- **clean tree**: ``cpu``/``paper``/``cpu_long`` results (the published ones) are refused from a dirty git tree unless
  ``allow_dirty``, which ``run.json`` records.

``run.json``::

    {"notebook", "profile", "label", "status": "passed" | "failed" | "timeout" | "interrupted", "wall_s", "error",
     "started", "ended", "parameters", "executed_notebook", "run_dir", "hardware", "git", "allow_dirty", "signal",
     "headline", "verdicts", "cpu_s", "load_avg"}

``cpu_s`` is the CPU time (user + system) the run cost: the runner's own process plus every child it reaped, i.e.
papermill, the kernel and the kernel's reaped worker processes (``resource.getrusage``, measured as a difference, so
several runs in one ``run-all`` do not add up). ``load_avg`` is the machine's 1/5/15-minute load average at the start
and the end (``{"start": [..], "end": [..]}``): a wall time means little without it on a shared machine. A killed
run (timeout, signal) undercounts: processes killed after papermill exits are never reaped by it. Timings and loads
belong here, never in ``metrics.json``, which must be byte-identical across runs with the same seed.

``run.log`` holds papermill's log and the notebook's output as it runs (``--log-output``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from workbook.params import (
    OVERLAYS, ParameterError, course_key, list_notebooks, notebook_path, notebooks_dir, profile_label, resolve_params,
)
from workbook.paths import RUN_DIR_ENV, results_root
from workbook.reporting.io import _iso, atomic_write_text, ensure_dir, git_state, hardware_info
from workbook.run_guard import (  # noqa: F401 - RunLocked, Interrupted, EXIT_SIGNAL are part of this module's API
    EXIT_SIGNAL, Interrupted, RunLock, RunLocked, install, kill_tree, publishable, pump_output, signals_raise, stamp,
    status_of,
)
from workbook.reporting.summary import read_headline, read_verdicts, write_summary

log = logging.getLogger(__name__)

KERNEL_NAME = "rlvr-workbook"
#: Default per-notebook timeouts (seconds) by profile; a profile YAML's ``_runner: {timeout_s: ...}`` overrides;
#: an overlay without its own entry takes its base profile's (``workbook.params.OVERLAYS``).
DEFAULT_TIMEOUT_S: dict[str, float] = {"smoke": 600, "cpu": 3600, "paper": 48 * 3600, "rehearsal": 1800}
STATUSES = ("passed", "failed", "timeout", "interrupted")
#: Labels whose run directories are the published results: written from a clean git tree only.
PUBLISHED_LABELS = ("cpu", "paper", "cpu_long")
#: Exit statuses of the ``workbook`` command (also in its --help and notebooks/README.md).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED = 0, 1, 2, 3

Report = Callable[[str], None]


class DirtyTree(ParameterError):
    """Published results requested from a git tree with uncommitted changes."""


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
    label: str | None = None
    parameters: dict = field(default_factory=dict)
    executed_notebook: str | None = None
    run_dir: str | None = None
    timeout_s: float | None = None
    allow_dirty: bool = False
    signal: str | None = None
    hardware: dict = field(default_factory=dict)
    git: dict = field(default_factory=dict)
    headline: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)
    cpu_s: float | None = None
    load_avg: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RunPlan:
    """One validated run: what to execute and where its results go."""

    notebook: str
    src: Path
    profile: str
    label: str
    params: dict
    timeout_s: float
    root: Path

    @property
    def run_dir(self) -> Path:
        return self.root / self.notebook / self.label


def cpu_seconds() -> float:
    """Return the CPU seconds (user + system) of this process and of all its reaped children so far.

    The runner records a run's difference in ``run.json``; a notebook prints its own total with it (CPU time is a
    measurement, so it never goes into ``metrics.json``, which must be byte-identical for the same seed).
    """
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _load_avg() -> list[float] | None:
    """Return the machine's 1, 5 and 15-minute load averages, or None where the system has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _tail(text: str, n_lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-n_lines:])


def _fmt_s(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# ------------------------------------------------------------------------------------------------ planning


def _paper_validate(notebook: str, params: dict) -> None:
    """Call ``workbook.papers.<notebook>.validate(params)`` when that module exists (its own cross-parameter checks)."""
    try:
        mod = importlib.import_module(f"workbook.papers.{notebook}")
    except ModuleNotFoundError as err:
        if err.name in (f"workbook.papers.{notebook}", "workbook.papers"):
            return
        raise
    validate = getattr(mod, "validate", None)
    if validate is None:
        return
    try:
        validate(dict(params))
    except ParameterError:
        raise
    except ValueError as err:
        raise ParameterError(f"{notebook}: {err}") from None


def plan_run(notebook: str, profile: str, overrides: Mapping[str, Any] | None = None, *, root: Path | None = None,
             nb_dir: Path | None = None, timeout_s: float | None = None, allow_dirty: bool = False) -> RunPlan:
    """Return the validated plan of one run; ParameterError (or DirtyTree) before anything is written."""
    nb_dir = Path(nb_dir) if nb_dir else notebooks_dir()
    src = notebook_path(notebook, nb_dir)
    name = src.stem
    params, runner_opts = resolve_params(name, profile, overrides, nb_dir)
    _paper_validate(name, params)
    label = profile_label(name, profile, params, nb_dir)
    default_s = DEFAULT_TIMEOUT_S.get(profile) or DEFAULT_TIMEOUT_S[OVERLAYS.get(profile, profile)]
    plan = RunPlan(notebook=name, src=src, profile=profile, label=label, params=params,
                   timeout_s=float(timeout_s or runner_opts.get("timeout_s") or default_s),
                   root=Path(root) if root else results_root())
    if label in PUBLISHED_LABELS and not allow_dirty and git_state().get("dirty"):
        raise DirtyTree(f"{name}: results/{name}/{label}/ holds published results, which must come from a clean git "
                        "tree; commit your changes first, or pass --allow-dirty (recorded in run.json and flagged on "
                        "the site)")
    return plan


@contextlib.contextmanager
def _locked(plans: list[RunPlan]) -> Iterator[None]:
    """Hold the lock of every plan's run directory (``<results>/.runner/locks/<nb>.<label>.lock``) while the block runs."""
    locks: list[RunLock] = []
    try:
        for plan in plans:
            path = plan.root / ".runner" / "locks" / f"{plan.notebook}.{plan.label}.lock"
            locks.append(RunLock(path, plan.run_dir).acquire())
        yield
    finally:
        for lock in locks:
            lock.release()


def _last_wall(run_dir: Path) -> float | None:
    """Return the wall time of the last passed run in ``run_dir`` (for the ETA), or None."""
    try:
        rec = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return float(rec["wall_s"]) if rec.get("status") == "passed" and rec.get("wall_s") else None


# ------------------------------------------------------------------------------------------------ running


def _execute(plan: RunPlan, *, nb_dir: Path, kernel_name: str, allow_dirty: bool, report: Report,
             index: str = "") -> RunRecord:
    """Return the record of running ``plan`` (its lock held by the caller); see the module docstring."""
    import yaml

    _adopt_orphans(plan)
    t0, cpu0, load0 = time.time(), cpu_seconds(), _load_avg()
    attempt_id = f"{stamp(t0)}-{os.getpid()}"
    staging = ensure_dir(plan.root / ".runner" / "staging" / plan.notebook / f"{plan.label}-{attempt_id}")
    out_nb = staging / f"{plan.notebook}.ipynb"
    params_file = atomic_write_text(staging / "parameters.yaml", yaml.safe_dump(plan.params, sort_keys=True))
    log_path = staging / "run.log"
    echo = sys.stderr.isatty()
    cmd = [sys.executable, "-m", "papermill", str(plan.src), str(out_nb), "-f", str(params_file),
           "-k", kernel_name, "--cwd", str(plan.src.parent), "--log-output", "--log-level", "INFO",
           "--progress-bar" if echo else "--no-progress-bar"]
    env = {**os.environ, "WORKBOOK_RESULTS_DIR": str(plan.root.resolve()), "WORKBOOK_NOTEBOOKS_DIR": str(nb_dir),
           RUN_DIR_ENV: str(staging.resolve()), "PYTHONUNBUFFERED": "1"}
    env.setdefault("MPLBACKEND", "Agg")

    last = _last_wall(plan.run_dir)
    eta = f"; last run {_fmt_s(last)}, ETA {time.strftime('%H:%M:%S', time.localtime(t0 + last))}" if last else ""
    report(f"{index}{plan.notebook} ({plan.label}) started {time.strftime('%H:%M:%S', time.localtime(t0))}{eta}; "
           f"log: {log_path}")
    interrupted: Interrupted | None = None
    crash: str | None = None
    rc: int | None = None
    read_fd, write_fd = os.pipe()
    proc: subprocess.Popen | None = None
    pump: threading.Thread | None = None
    try:
        proc = subprocess.Popen(cmd, stdout=write_fd, stderr=write_fd, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        os.close(write_fd)
        write_fd = -1
        pump = threading.Thread(target=pump_output, args=(read_fd, log_path, echo), daemon=True)
        pump.start()
        try:
            rc = proc.wait(timeout=plan.timeout_s)
        except subprocess.TimeoutExpired:
            rc = None
    except Interrupted as err:
        interrupted = err
    except Exception as err:  # noqa: BLE001 - e.g. papermill missing: recorded as a failed attempt
        crash = f"could not run papermill: {err!r}"
    finally:
        # Cleanup must finish: further signals are ignored until the attempt is recorded.
        main = threading.current_thread() is threading.main_thread()
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
        try:
            if write_fd >= 0:
                os.close(write_fd)
            if proc is not None and proc.poll() is None:
                kill_tree(proc)
            if pump is not None:
                pump.join(timeout=30)
            else:
                os.close(read_fd)
            t1 = time.time()
            usage = {"cpu_s": round(cpu_seconds() - cpu0, 2), "load_avg": {"start": load0, "end": _load_avg()}}
            record = _finish(plan, staging, *_outcome(plan, log_path, out_nb, rc, interrupted, crash, t1),
                             t0, t1, attempt_id, allow_dirty, usage)
            report(_end_line(index, plan, record, t1 - t0))
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    if interrupted is not None:
        raise interrupted
    return record


def _adopt_orphans(plan: RunPlan) -> None:
    """Move staging folders left by a runner that was killed outright (SIGKILL) into ``attempts/<id>-killed``.

    Called with the run directory's lock held, so no live run is writing them.
    """
    staging_root = plan.root / ".runner" / "staging" / plan.notebook
    for orphan in sorted(staging_root.glob(f"{plan.label}-*")) if staging_root.is_dir() else []:
        if orphan.name.endswith(".old"):  # the previous results of an install interrupted half-way: not an attempt
            continue
        dest = plan.run_dir / "attempts" / f"{orphan.name[len(plan.label) + 1:]}-killed"
        ensure_dir(dest.parent)
        os.rename(orphan, dest)
        log.warning("%s: moved the attempt of a killed runner to %s", plan.run_dir, dest)


def _outcome(plan: RunPlan, log_path: Path, out_nb: Path, rc: int | None, interrupted: Interrupted | None,
             crash: str | None, t1: float) -> tuple[str, str | None, str | None]:
    """Return ``(status, error, signal name)`` of a finished attempt."""
    log_text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    if interrupted is not None:
        sig = signal.Signals(interrupted.signum).name
        return "interrupted", f"interrupted by {sig} at {_iso(t1)}{_running_cell(out_nb)}", sig
    if crash is not None:
        return "failed", crash, None
    if rc is None:
        return "timeout", f"{_tail(log_text, 10)}\ntimed out after {plan.timeout_s:.0f} s{_running_cell(out_nb)}", None
    if rc != 0:
        return "failed", _tail(log_text) or f"papermill exited with {rc}", None
    return "passed", None, None


def _end_line(index: str, plan: RunPlan, record: RunRecord, wall: float) -> str:
    line = f"{index}{plan.notebook} ({plan.label}) {record.status} in {_fmt_s(wall)}"
    if record.status == "passed":
        return f"{line} -> {plan.run_dir}"
    if record.run_dir == _rel(plan.run_dir, plan.root):
        return f"{line}; no passed results before, this attempt is {plan.run_dir}"
    return f"{line}; previous results kept in {plan.run_dir}, this attempt in {plan.root / record.run_dir}"


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def _finish(plan: RunPlan, staging: Path, status: str, error: str | None, sig: str | None, t0: float, t1: float,
            attempt_id: str, allow_dirty: bool, usage: dict | None = None) -> RunRecord:
    """Write run.json into ``staging`` and move it into place (see :func:`_install`); return the record."""
    prev_status, _ = status_of(plan.run_dir)
    promote = status == "passed" or prev_status != "passed"
    dest = plan.run_dir if promote else plan.run_dir / "attempts" / attempt_id
    out_nb = staging / f"{plan.notebook}.ipynb"
    record = RunRecord(
        notebook=plan.notebook, profile=plan.profile, label=plan.label, status=status, wall_s=round(t1 - t0, 2),
        error=error, started=_iso(t0), ended=_iso(t1), parameters=plan.params,
        executed_notebook=_rel(dest / out_nb.name, plan.root) if out_nb.exists() else None,
        run_dir=_rel(dest, plan.root), timeout_s=plan.timeout_s, allow_dirty=allow_dirty, signal=sig,
        hardware=_run_hardware(staging), git=git_state(), headline=read_headline(staging),
        verdicts=read_verdicts(staging), **(usage or {}),
    )
    write_run_record(staging, record)
    publishable(staging)
    if promote:
        install(staging, plan.run_dir)
    else:
        ensure_dir(dest.parent)
        os.rename(staging, dest)
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


def write_run_record(run_dir: Path, record: RunRecord) -> Path:
    """Return the path of ``run.json`` written atomically."""
    text = json.dumps(record.to_dict(), sort_keys=True, indent=2, default=str) + "\n"
    return atomic_write_text(Path(run_dir) / "run.json", text)


def _log_report(line: str) -> None:
    log.info("%s", line)


def run_notebook(notebook: str, profile: str, overrides: Mapping[str, Any] | None = None, *,
                 root: Path | None = None, nb_dir: Path | None = None, timeout_s: float | None = None,
                 kernel_name: str = KERNEL_NAME, allow_dirty: bool = False, report: Report | None = None) -> RunRecord:
    """Return the RunRecord of executing ``notebook`` at ``profile`` (also written as run.json, see module docstring).

    Raises ParameterError (bad input, dirty tree) or RunLocked before anything runs, and Interrupted after recording
    an interrupted attempt. A notebook that fails or times out does not raise: the record says so.
    """
    nb_dir = (Path(nb_dir) if nb_dir else notebooks_dir()).resolve()
    plan = plan_run(notebook, profile, overrides, root=root, nb_dir=nb_dir, timeout_s=timeout_s,
                    allow_dirty=allow_dirty)
    with signals_raise(), _locked([plan]):
        return _execute(plan, nb_dir=nb_dir, kernel_name=kernel_name, allow_dirty=allow_dirty,
                        report=report or _log_report)


def run_all(profile: str, overrides: Mapping[str, Any] | None = None, *, notebooks: list[str] | None = None,
            root: Path | None = None, nb_dir: Path | None = None, timeout_s: float | None = None,
            kernel_name: str = KERNEL_NAME, summary: bool = True, allow_dirty: bool = False,
            report: Report | None = None) -> list[RunRecord]:
    """Return one RunRecord per notebook (all of ``notebooks/`` by default), run in course order; never stops early.

    Every notebook's parameters are validated (and every lock taken) before the first one starts: any invalid
    parameter or unknown name raises one ParameterError listing all problems, and nothing is written.
    """
    nb_dir = (Path(nb_dir) if nb_dir else notebooks_dir()).resolve()
    if notebooks is None:  # every notebook that has this profile (the toy reasoner has no paper profile)
        names = [n for n in list_notebooks(nb_dir) if (nb_dir / "params" / n / f"{profile}.yaml").is_file()]
        skipped = sorted(set(list_notebooks(nb_dir)) - set(names), key=course_key)
        if skipped:
            (report or _log_report)(f"no {profile} profile, skipped: {', '.join(skipped)}")
    else:
        names = list(dict.fromkeys(notebooks))
    plans, errors = [], []
    for name in names:
        try:
            plans.append(plan_run(name, profile, overrides, root=root, nb_dir=nb_dir, timeout_s=timeout_s,
                                  allow_dirty=allow_dirty))
        except ParameterError as err:
            errors.append(str(err))
    if errors:
        raise ParameterError("nothing was run:\n  " + "\n  ".join(errors))
    plans = sorted({p.notebook: p for p in plans}.values(), key=lambda p: course_key(p.notebook))
    report = report or _log_report
    records: list[RunRecord] = []
    with signals_raise(), _locked(plans):
        for i, plan in enumerate(plans, 1):
            try:
                records.append(_execute(plan, nb_dir=nb_dir, kernel_name=kernel_name, allow_dirty=allow_dirty,
                                        report=report, index=f"[{i}/{len(plans)}] "))
            except Exception as err:  # noqa: BLE001 - one notebook never stops the rest
                log.exception("%s: runner error", plan.notebook)
                now = _iso(time.time())
                records.append(RunRecord(notebook=plan.notebook, profile=profile, label=plan.label, status="failed",
                                         wall_s=0.0, error=f"runner error: {err}", started=now, ended=now))
        if summary:
            write_summary(plans[0].root if plans else (Path(root) if root else results_root()))
    return records
