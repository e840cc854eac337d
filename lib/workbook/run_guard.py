"""What keeps runs from destroying results: run-directory locks, signals, process-tree kills, atomic installs.

Used by :mod:`workbook.runner` (see its docstring for the whole protocol).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from workbook.reporting.io import DIR_MODE, FILE_MODE, _iso, ensure_dir

log = logging.getLogger(__name__)

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class RunLocked(RuntimeError):
    """Another live process holds the run directory's lock."""

    def __init__(self, run_dir: str, pid: int | None):
        self.pid = pid
        super().__init__(f"{run_dir} is being written by another run (pid {pid if pid else 'unknown'}); "
                         "wait for it to finish or stop it")


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; a BaseException so that no ``except Exception`` swallows it."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return EXIT_SIGNAL.get(self.signum, 128 + self.signum)


# ------------------------------------------------------------------------------------------------ locks


class RunLock:
    """An exclusive ``flock`` on one run directory; the file holds the holder's pid (the kernel frees it on death)."""

    def __init__(self, path: Path, run_dir: Path):
        self.path = Path(path)
        self.run_dir = run_dir
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        ensure_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            raise RunLocked(str(self.run_dir), holder) from None
        stale = _read_pid(fd)
        if stale:
            log.warning("%s: stale lock of pid %d (no longer running) taken over", self.run_dir, stale)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {_iso(time.time())}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)  # an empty file is a free lock, not a stale one
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 100, 0).decode(errors="replace").split()
    return int(text[0]) if text and text[0].isdigit() else None


# ------------------------------------------------------------------------------------------------ signals


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into :class:`Interrupted` while the block runs (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def kill_tree(proc: subprocess.Popen) -> None:
    """Terminate papermill's process group and the kernel's (jupyter starts kernels in their own session)."""
    groups = {proc.pid}
    try:
        import psutil

        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(OSError, psutil.Error):
                groups.add(os.getpgid(child.pid))
    except Exception:  # noqa: BLE001 - psutil missing or papermill already gone: its own group is still killed
        pass
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
            if not any(_group_alive(g) for g in groups - {proc.pid}):
                return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


# ------------------------------------------------------------------------------------------------ output


#: papermill's tqdm bar, e.g. "Executing:  5%|▌         | 1/19 [00:01<00:19,  1.10s/cell]" (no newline after it).
_PROGRESS = re.compile(rb"Executing:\s*\d+%\|[^|\r\n]*\|[^\]\r\n]*\]")


def split_progress(segment: bytes) -> tuple[list[bytes], bytes]:
    """Return ``(progress bars, the rest)`` of one line of papermill output (a bar and a log line can share one)."""
    return _PROGRESS.findall(segment), _PROGRESS.sub(b"", segment)


def pump_output(fd: int, log_path: Path, echo: bool) -> None:
    """Copy papermill's output into ``run.log`` as it comes; progress-bar updates go to the terminal (``echo``)."""
    buf = b""
    with log_path.open("ab") as log_fh:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if chunk:
                buf += chunk
                *parts, buf = re.split(rb"\r\n|\r|\n", buf)
            else:
                parts, buf = [buf], b""
            for seg in parts:
                bars, rest = split_progress(seg)
                if bars and echo:
                    sys.stderr.write("\r  " + bars[-1].decode(errors="replace").strip()[:150])
                    sys.stderr.flush()
                if rest.strip():
                    log_fh.write(rest + b"\n")
            log_fh.flush()
            if not chunk:
                break
    if echo:
        sys.stderr.write("\r" + " " * 152 + "\r")
        sys.stderr.flush()
    os.close(fd)


# ------------------------------------------------------------------------------------------------ staging


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def status_of(run_dir: Path) -> tuple[str | None, str]:
    try:
        rec = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        return rec.get("status"), stamp(rec.get("started", ""))
    except (OSError, ValueError):
        return None, "unknown"


def stamp(iso_or_ts: str | float) -> str:
    if isinstance(iso_or_ts, (int, float)):
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(iso_or_ts))
    return re.sub(r"[^0-9T]", "", iso_or_ts.split("+")[0])[:15] + "Z" if iso_or_ts else "unknown"


def install(staging: Path, run_dir: Path) -> None:
    """Replace ``run_dir`` by ``staging`` atomically; keep ``attempts/`` and move a replaced non-passed run into it."""
    ensure_dir(run_dir.parent)
    if not run_dir.exists():
        os.rename(staging, run_dir)
        return
    if _exchange(staging, run_dir):
        old = staging  # the swap left the previous results at the staging path
    else:
        old = staging.with_name(staging.name + ".old")
        os.rename(run_dir, old)
        os.rename(staging, run_dir)
    if (old / "attempts").is_dir():
        os.rename(old / "attempts", run_dir / "attempts")
    status, stamp = status_of(old)
    if status is not None and status != "passed":
        dest = run_dir / "attempts" / stamp
        if not dest.exists():
            ensure_dir(dest.parent)
            os.rename(old, dest)
            return
    shutil.rmtree(old, ignore_errors=True)


def publishable(folder: Path) -> None:
    """Make every file 0644 and every folder 0755 (papermill and the log honour a strict umask; a web server can't)."""
    for p in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):
            if not p.is_symlink():
                os.chmod(p, DIR_MODE if p.is_dir() else FILE_MODE)
