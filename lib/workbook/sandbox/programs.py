"""The two programs every sandboxed run starts: the launcher (isolation, limits, status) and the prelude (guard).

Both run with ``python -I -S`` and only the standard library; see ``workbook.sandbox`` for the design.
"""

from __future__ import annotations

BLOCK_MARK = "[workbook-sandbox] blocked: "
"""Prefix of the line the prelude writes to stderr for every refused operation."""

# Runs in the program's own interpreter before the program (``python -I -S -c PRELUDE NPROC program.py``). All
# state lives in the closure of _install(): the program can reach the prelude's globals through frames, but finds
# only _install there; the hook itself is reachable only through gc, which the hook refuses.
PRELUDE = r'''
import os, runpy, signal, sys
def _install(nproc, mark):
    import mmap
    work = os.path.realpath(os.getcwd())
    write, realpath, getppid, fspath = os.write, os.path.realpath, os.getppid, os.fspath
    count = mmap.mmap(-1, 8)  # MAP_SHARED: one process counter for the whole process tree
    wflags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    allowed = ("/dev/null", "/dev/stdout", "/dev/stderr")
    net = frozenset(("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                     "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.getnameinfo"))
    path1 = frozenset(("os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.lchown", "os.truncate",
                       "os.utime", "shutil.rmtree", "os.mkfifo", "os.mknod", "os.chflags", "os.lchflags"))
    path2 = frozenset(("os.rename", "os.link", "os.symlink"))
    procs = frozenset(("os.fork", "os.forkpty"))
    programs = frozenset(("os.exec", "os.posix_spawn", "os.system", "subprocess.Popen", "os.startfile"))
    introspect = frozenset(("gc.get_objects", "gc.get_referrers", "gc.get_referents", "ctypes.dlopen", "ctypes.dlsym",
                            "ctypes.dlsym/handle", "sys.addaudithook"))
    def refuse(what):
        try:
            write(2, ("\n" + mark + what.replace("\n", " ")[:300] + "\n").encode("utf-8", "replace"))
        except OSError:
            pass
        raise PermissionError("refused by the workbook sandbox: " + what)
    def outside(p):
        if isinstance(p, os.PathLike):
            p = fspath(p)
        if isinstance(p, bytes):
            p = p.decode("utf-8", "surrogateescape")
        if not isinstance(p, str) or p in allowed:
            return False
        full = realpath(p)
        return full not in allowed and full != work and not full.startswith(work + "/")
    def hook(event, args):
        if event == "open":
            if len(args) > 2 and isinstance(args[2], int) and args[2] & wflags and outside(args[0]):
                refuse("write outside the work dir: %r" % (args[0],))
        elif event in net:
            refuse("network (%s)" % event)
        elif event in path1:
            if args and outside(args[0]):
                refuse("write outside the work dir (%s %r)" % (event, args[0]))
        elif event in path2:
            if any(outside(a) for a in args[:2]):
                refuse("write outside the work dir (%s %r)" % (event, args[:2]))
        elif event in procs:
            n = int.from_bytes(count[:8], "little") + 1
            count[:8] = n.to_bytes(8, "little")
            if n > nproc:
                refuse("process limit (%d processes)" % nproc)
        elif event in programs:
            refuse("running another program (%s)" % event)
        elif event in ("os.kill", "os.killpg"):
            pid = args[0]
            if event == "os.killpg" or not isinstance(pid, int) or pid <= 0 or pid == 1 or pid == getppid():
                if pid != os.getpid():
                    refuse("signal to a process outside the program (%s %r)" % (event, pid))
        elif event in introspect:
            refuse("%s" % event)
    sys.addaudithook(hook)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the default kills at the file-size limit
_nproc, _prog = int(sys.argv[1]), sys.argv[2]
sys.argv = sys.argv[2:]
_install(_nproc, MARK_PLACEHOLDER)
del _install, _nproc
runpy.run_path(_prog, run_name="__main__")
'''.replace("MARK_PLACEHOLDER", repr(BLOCK_MARK))

# The launcher runs as the harness's user (inside bwrap in bubblewrap mode). It reads its config from argv[1]
# (JSON) and reports the program's exit status as JSON on the inherited file descriptor cfg["status_fd"]. Kept
# self-contained (stdlib only) so it starts with `python -I -S` in ~10 ms.
LAUNCHER = r"""
import ctypes, json, os, resource, shutil, signal, sys
cfg = json.loads(sys.argv[1]); fd = cfg["status_fd"]; ns = cfg["isolation"] == "namespaces-root"
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
            full = False
            if cfg["isolation"] != "rlimits-only":  # the work dir is our tmpfs: full means the program filled it
                try:
                    vfs = os.statvfs(cfg["work"])
                    full = vfs.f_bavail * vfs.f_frsize < (256 << 10)  # under 256 KiB left: the program hit ENOSPC
                except OSError:
                    pass
            report(exitcode=os.WEXITSTATUS(st) if os.WIFEXITED(st) else None, disk_full=full,
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
