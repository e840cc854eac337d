"""Runs model-written Python programs in an isolated, resource-limited process and classifies the outcome.

Every program runs in a fresh process tree started by a small launcher, in one of three isolation modes
(:func:`isolation_mode` says which one this machine gets; every :class:`SandboxResult` records it):

* ``"namespaces-root"`` (we are root and ``unshare`` works). New network, mount, PID and IPC namespaces built by the
  launcher itself. The network namespace has only a downed loopback, so every ``connect`` fails. Every mount is
  re-mounted read-only, a fresh size-limited ``tmpfs`` becomes the working directory (the only writable place),
  ``/proc`` is re-mounted for the new PID namespace, and a directory that hides the interpreter from unprivileged
  users (e.g. ``/root``) is shadowed by an empty ``tmpfs`` with only the interpreter bound back in. The program runs
  as a random unprivileged uid/gid (no supplementary groups), so ``RLIMIT_NPROC`` applies and it cannot undo any
  of this. When it ends (or the harness kills the launcher) the namespace's init exits and the kernel kills every
  process left in it (fork bombs, daemons).
* ``"bubblewrap"`` (not root, ``bwrap`` installed: ``env/install_bwrap.sh``). The same guarantees from an
  unprivileged user namespace: ``bwrap --unshare-all`` (user, network, mount, PID, IPC, UTS namespaces), the whole
  file system bound read-only, a size-limited ``tmpfs`` as the working directory, a fresh ``/proc``, no capabilities,
  no nested user namespaces, ``--die-with-parent``. ``RLIMIT_NPROC`` counts the processes of the sandbox's user
  namespace. (Run as root on purpose, bwrap maps the sandbox to uid 0 outside, which the kernel exempts from
  ``RLIMIT_NPROC``; the in-process process cap below still holds.)
* ``"rlimits-only"`` (neither). Resource limits, a fresh working directory, a scrubbed environment and the
  in-process guard below, but no kernel isolation: see "What the sandbox does not protect against". The ``paper``
  profile refuses this mode unless explicitly allowed (:func:`require_isolation`).

Limits (all modes): CPU time is the primary bound (``RLIMIT_CPU`` per process); the wall clock is a generous
backstop enforced by the harness, so a correct program is not failed because the machine is busy. Also
``RLIMIT_AS`` (address space), ``RLIMIT_FSIZE`` (largest file), ``RLIMIT_NPROC``, ``RLIMIT_NOFILE``, no core dumps,
a cap on captured stdout+stderr (the run is killed past it). Environment: only ``PATH``, ``HOME`` and ``TMPDIR``
(the working directory), ``LANG``, ``PYTHONHASHSEED``, ``PYTHONDONTWRITEBYTECODE``; ``python -I -S``.

In-process guard (all modes): before the program starts, a prelude installs a Python audit hook (PEP 578) that
*refuses* — raises ``PermissionError`` and reports to the harness — network use (connect/bind/sendto/DNS), writes,
deletes, renames and mode changes outside the working directory, running other programs (``subprocess``,
``os.system``, ``exec``: they would escape the hook), signals to processes other than its own children
(the launcher, process groups), ``ctypes`` (native code could bypass the hook), and creating more than
``nproc`` processes over the run; ``SIGXFSZ`` is restored to its default so exceeding the file-size limit kills
the program. The kernel isolation above stays the real boundary; the guard makes refusals visible and identical in
every mode.

Outcomes (:class:`SandboxResult.status`, :data:`STATUSES`): ``blocked`` (the sandbox refused something: network,
write outside the work dir, process or file-size limit, signalling the parent, ctypes — ``blocked`` lists what;
also when the work-dir tmpfs was left full; takes precedence over every other outcome, so an attack never reads as an ordinary failure), ``pass`` (exit 0, and
the caller's success token printed if one was required), ``fail`` (non-zero exit, or exit 0 without the token),
``timeout`` (CPU limit, or the wall-clock backstop), ``crash`` (killed by a signal, memory limit, output limit, or a
sandbox set-up error). The harness never hangs: every wait has a deadline and ends with ``SIGKILL``.

What the sandbox does not protect against
-----------------------------------------
* **Kernel attacks.** No seccomp filter and no VM boundary: a kernel exploit escapes. Use a VM for code from
  unknown sources.
* **Reading the host file system.** The file system is visible read-only (minus shadowed directories such as
  ``/root`` in ``namespaces-root`` mode): world-readable files can be read and printed into the captured output.
* **Hiding a refusal.** A program that closes its stderr before trying something still gets refused, but the
  refusal may then surface as ``fail`` instead of ``blocked``; refusals made by the kernel alone (e.g. a raw
  syscall) are not labelled either.
* **Unix sockets on disk.** Refused by the guard for Python code; at kernel level a world-writable socket file
  stays connectable in ``namespaces-root`` and ``bubblewrap`` modes.
* **Resource contention.** Concurrent runs compete for cores; the tmpfs is kernel memory not counted in
  ``RLIMIT_AS`` (bounded by ``tmpfs_mb``).
* **``rlimits-only`` mode.** No network namespace (the guard refuses Python-level networking; native code gets
  around it), the file system stays writable wherever the calling user can write (the guard refuses Python-level
  writes), processes that call ``setsid`` can outlive a timeout, and as root ``RLIMIT_NPROC`` does not apply.
"""

from __future__ import annotations

import json
import logging
import os
import random
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .programs import BLOCK_MARK, LAUNCHER, PRELUDE

logger = logging.getLogger(__name__)

STATUSES = ("pass", "fail", "timeout", "crash", "blocked")
MODES = ("namespaces-root", "bubblewrap", "rlimits-only")
_ALIASES = {"namespaces": "namespaces-root", "rlimits": "rlimits-only", "bwrap": "bubblewrap"}
_UID_RANGE = (200_000, 299_999)  # unprivileged ids with no passwd entry; random per run so runs don't share NPROC


class IsolationError(RuntimeError):
    """Raised when a profile needs kernel isolation that this machine cannot provide."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one program (seconds, MiB, bytes, counts). ``cpu_s`` is the primary time bound."""

    cpu_s: float = 5.0
    wall_s: float = 10.0
    memory_mb: int = 512
    output_bytes: int = 1 << 20
    file_mb: int = 16
    tmpfs_mb: int = 64
    nproc: int = 32
    nofile: int = 64

    def __post_init__(self) -> None:
        for name in ("cpu_s", "wall_s", "memory_mb", "output_bytes", "file_mb", "tmpfs_mb", "nproc", "nofile"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive, got {getattr(self, name)!r}")


@dataclass
class SandboxResult:
    """Outcome of one sandboxed run; ``status`` is one of :data:`STATUSES`, ``isolation`` one of :data:`MODES`."""

    status: str
    reason: str = ""
    exitcode: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    cpu_s: float | None = None
    isolation: str = ""
    blocked: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"




def _canonical_mode(isolation: str) -> str:
    mode = _ALIASES.get(isolation, isolation)
    if mode not in MODES:
        raise ValueError(f"isolation must be 'auto' or one of {MODES}, got {isolation!r}")
    return mode


@lru_cache(maxsize=1)
def isolation_mode() -> str:
    """Return the isolation this machine gives model code: ``"namespaces-root"``, ``"bubblewrap"`` or ``"rlimits-only"``.

    Root with working ``unshare`` → ``namespaces-root``; otherwise a working ``bwrap`` → ``bubblewrap``; otherwise
    ``rlimits-only`` (logged as a warning). Each candidate mode is probed by running a program in it.
    """
    if os.name != "posix" or not sys.platform.startswith("linux"):
        return "rlimits-only"
    for mode in ("namespaces-root", "bubblewrap"):
        if mode == "namespaces-root" and os.geteuid() != 0:
            continue
        if mode == "bubblewrap" and shutil.which("bwrap") is None:
            continue
        probe = run_python("print('ok')", isolation=mode)
        if probe.status == "pass" and probe.stdout.strip() == "ok":
            return mode
        logger.warning("%s sandbox unavailable (%s)", mode, probe.reason or probe.stderr[-200:])
    logger.warning("no kernel isolation for model code: rlimits-only sandbox (install bubblewrap: env/install_bwrap.sh)")
    return "rlimits-only"


def available_isolation() -> str:
    """Alias of :func:`isolation_mode` (older name)."""
    return isolation_mode()


def require_isolation(profile: str, allow_rlimits_only: bool = False) -> str:
    """Return :func:`isolation_mode`; raise :class:`IsolationError` if ``profile`` is ``"paper"`` and the mode is
    ``rlimits-only`` unless ``allow_rlimits_only`` (paper runs execute thousands of model programs)."""
    mode = isolation_mode()
    if profile == "paper" and mode == "rlimits-only" and not allow_rlimits_only:
        raise IsolationError(
            "the paper profile runs model-written code, and this machine only has the rlimits-only sandbox (no "
            "network or file-system isolation). Install bubblewrap (env/install_bwrap.sh) or run as root; to run "
            "anyway pass allow_rlimits_only=True (e.g. -p allow_rlimits_only=true).")
    return mode


def _hidden_ancestor(prefix: Path) -> Path | None:
    """Return the shallowest ancestor of ``prefix`` that others cannot traverse (e.g. ``/root``), or None."""
    for parent in reversed(prefix.parents):
        if parent == Path("/"):
            continue
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent
    return None


def _processes_of_current_user() -> int:
    uid, n = os.getuid(), 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _blocked_lines(stderr: str) -> list[str]:
    seen: list[str] = []
    for line in stderr.splitlines():
        if line.startswith(BLOCK_MARK):
            what = line[len(BLOCK_MARK):].strip()
            if what and what not in seen:
                seen.append(what)
    return seen


def _classify(report: dict, timed_out: bool, overflow: bool, stderr: str, limits: SandboxLimits,
              success_token: str | None, stdout: str, blocked: list[str]) -> tuple[str, str]:
    """Return (status, reason) for one run; a refusal by the sandbox comes first."""
    if report.get("signal") == signal.SIGXFSZ:
        blocked.append(f"file-size limit ({limits.file_mb} MiB)")
    if report.get("disk_full"):
        blocked.append(f"work dir full ({limits.tmpfs_mb} MiB)")
    if blocked:
        return "blocked", "refused: " + "; ".join(blocked[:5])
    if overflow:
        return "crash", f"output limit ({limits.output_bytes} bytes) exceeded"
    if timed_out:
        return "timeout", f"wall-clock backstop ({limits.wall_s:g} s)"
    if "error" in report:
        return "crash", str(report["error"])
    if not report:
        return "crash", "no status from the sandbox launcher"
    sig, code, cpu = report.get("signal"), report.get("exitcode"), report.get("cpu_s") or 0.0
    if sig is not None:
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_s):
            return "timeout", f"CPU limit ({limits.cpu_s:g} s)"
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return "crash", f"killed by {name}"
    if code == 126 and "sandbox exec failed" in stderr:
        return "crash", "sandbox exec failed"
    if code != 0:
        if "MemoryError" in stderr[-2000:]:
            return "crash", f"memory limit ({limits.memory_mb} MiB)"
        return "fail", f"exit code {code}"
    if success_token is not None and success_token not in stdout:
        return "fail", "exit 0 without the success token"
    return "pass", ""


def run_python(source: str, limits: SandboxLimits | None = None, *, stdin: str | bytes | None = None,
               files: dict[str, str | bytes] | None = None, success_token: str | None = None,
               isolation: str = "auto") -> SandboxResult:
    """Return the classified outcome of running ``source`` as ``python -I -S program.py`` in the sandbox.

    ``files`` are copied into the fresh working directory first; ``stdin`` is fed from a file (so a program that
    never reads it cannot block the harness). With ``success_token`` the run passes only if the token appears on
    stdout. ``isolation``: ``"auto"`` (:func:`isolation_mode`) or one of :data:`MODES`.
    """
    limits = limits or SandboxLimits()
    if not isinstance(source, str):
        raise TypeError(f"source must be str, got {type(source).__name__}")
    mode = isolation_mode() if isolation == "auto" else _canonical_mode(isolation)
    for name in files or {}:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"file names must be plain names, got {name!r}")
    start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="wb-sandbox-"))
    try:
        return _run_in(root, source, limits, stdin, files or {}, success_token, mode, start)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _bwrap_command(cfg: dict, env: dict, limits_tmpfs_mb: int) -> list[str]:
    cmd = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--unshare-user",
           "--uid", "65534", "--gid", "65534", "--disable-userns", "--cap-drop", "ALL", "--hostname", "sandbox",
           "--ro-bind", "/", "/", "--proc", "/proc", "--perms", "0700", "--size", str(limits_tmpfs_mb << 20),
           "--tmpfs", cfg["work"], "--chdir", cfg["work"], "--clearenv"]
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    return cmd + ["--"]


def _run_in(root: Path, source: str, limits: SandboxLimits, stdin, files, success_token, mode, start):
    os.chmod(root, 0o755)
    work, files_dir, hold = root / "work", root / "files", root / "hold"
    for d in (work, files_dir, hold):
        d.mkdir()
        os.chmod(d, 0o755)
    (root / "program.py").write_text(source, encoding="utf-8")
    os.chmod(root / "program.py", 0o644)
    for name, content in files.items():
        (files_dir / name).write_bytes(content.encode() if isinstance(content, str) else content)
        os.chmod(files_dir / name, 0o644)
    seeded_mb = -(-sum(f.stat().st_size for f in files_dir.iterdir()) // (1 << 20))  # seeded files don't eat the budget
    (root / "stdin").write_bytes(stdin.encode() if isinstance(stdin, str) else (stdin or b""))
    uid = random.randint(*_UID_RANGE) if mode == "namespaces-root" else None
    prefix = Path(sys.base_prefix).resolve()
    python = str(Path(os.path.realpath(sys.executable)))
    if not python.startswith(str(prefix)):
        python = str(prefix / "bin" / Path(python).name)
    nproc = {"namespaces-root": limits.nproc, "bubblewrap": limits.nproc + 3}.get(mode)
    if nproc is None:  # rlimits-only: RLIMIT_NPROC counts every process of this user
        nproc = limits.nproc + (_processes_of_current_user() if os.geteuid() != 0 else 0)
    argv = [python, "-I", "-S", "-c", PRELUDE, str(limits.nproc), str(root / "program.py")]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    hide = _hidden_ancestor(prefix) if mode == "namespaces-root" else None
    status_r, status_w = os.pipe()
    cfg = {"status_fd": status_w, "isolation": mode, "work": str(work), "files_dir": str(files_dir),
           "hold_dir": str(hold), "python_prefix": str(prefix), "hide_dir": str(hide) if hide else None,
           "uid": uid, "tmpfs_mb": limits.tmpfs_mb + seeded_mb, "argv": argv, "env": env,
           "limits": {"cpu": max(1, int(round(limits.cpu_s))), "as": limits.memory_mb << 20,
                      "fsize": limits.file_mb << 20, "nofile": limits.nofile, "nproc": nproc}}
    cmd = [python, "-I", "-S", "-c", LAUNCHER, json.dumps(cfg)]
    if mode == "bubblewrap":
        cmd = _bwrap_command(cfg, env, limits.tmpfs_mb + seeded_mb) + cmd
    try:
        with open(root / "stdin", "rb") as stdin_f:
            proc = subprocess.Popen(cmd, stdin=stdin_f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    pass_fds=(status_w,), start_new_session=True, cwd=str(root), env=env)
    except OSError as e:
        os.close(status_r); os.close(status_w)
        return SandboxResult("crash", f"could not start the sandbox: {e}", isolation=mode)
    os.close(status_w)
    out, err, status_buf, timed_out, overflow = bytearray(), bytearray(), bytearray(), False, False
    deadline, draining = start + limits.wall_s, False
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    sel.register(status_r, selectors.EVENT_READ, status_buf)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = not draining
                break
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    if key.data is status_buf:
                        # The program has been reaped; an escaped process (rlimits-only) may still hold the
                        # output pipes open, so drain briefly instead of waiting for the wall-clock limit.
                        deadline, draining = min(deadline, time.monotonic() + 1.0), True
                    continue
                key.data.extend(chunk)
                if len(out) + len(err) > limits.output_bytes:
                    overflow = True
            if overflow:
                break
    finally:
        sel.close()
        if timed_out or overflow or proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the launcher's group; PDEATHSIG takes down the namespace
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL of a direct child always lands
            logger.error("sandbox launcher %d did not die", proc.pid)
        proc.stdout.close(); proc.stderr.close(); os.close(status_r)
    try:
        report = json.loads(status_buf.decode() or "{}")
    except json.JSONDecodeError:
        report = {"error": "unreadable status"}
    cap = limits.output_bytes
    stdout = bytes(out[:cap]).decode("utf-8", errors="replace")
    stderr = bytes(err[:cap]).decode("utf-8", errors="replace")
    blocked = _blocked_lines(stderr)
    status, reason = _classify(report, timed_out, overflow, stderr, limits, success_token, stdout, blocked)
    return SandboxResult(status=status, reason=reason, exitcode=report.get("exitcode"), signal=report.get("signal"),
                         stdout=stdout, stderr=stderr, wall_s=time.monotonic() - start, cpu_s=report.get("cpu_s"),
                         isolation=mode, blocked=blocked)


def run_many(sources: list[str], limits: SandboxLimits | list[SandboxLimits] | None = None, *, workers: int = 2,
             stdins: list[str | None] | None = None, files: list[dict] | None = None,
             success_tokens: list[str | None] | None = None, isolation: str = "auto",
             progress: bool = False) -> list[SandboxResult]:
    """Return one :class:`SandboxResult` per source, run ``workers`` at a time (threads waiting on processes).

    ``limits`` is one :class:`SandboxLimits` for all sources or a list with one per source.
    """
    n = len(sources)
    per_limits = limits if isinstance(limits, list) else [limits] * n
    for name, seq in (("stdins", stdins), ("files", files), ("success_tokens", success_tokens),
                      ("limits", per_limits)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} sources")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    isolation = isolation_mode() if isolation == "auto" else _canonical_mode(isolation)

    def one(i: int) -> SandboxResult:
        return run_python(sources[i], per_limits[i], stdin=stdins[i] if stdins else None, files=files[i] if files else None,
                          success_token=success_tokens[i] if success_tokens else None, isolation=isolation)

    from tqdm.auto import tqdm

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(one, range(n)), total=n, disable=not progress, desc="sandbox"))
