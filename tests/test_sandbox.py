"""Hostile programs must be contained by workbook.sandbox and classified (issue 8, build item 1)."""

from __future__ import annotations

import os
import socket
import subprocess
import textwrap
import threading
import time

import pytest

from workbook.sandbox import SandboxLimits, available_isolation, run_many, run_python

NS = available_isolation() == "namespaces"
needs_ns = pytest.mark.skipif(not NS, reason="namespace sandbox needs root + unshare")
# Wall limits are generous: on a loaded shared machine a 1-s CPU budget can take many seconds of wall time.
FAST = SandboxLimits(cpu_s=1, wall_s=30, memory_mb=256, output_bytes=64 * 1024)


def processes_of_uid(uid: int, wait_s: float = 15.0) -> list[str]:
    """Return `ps` lines of processes still owned by ``uid`` (a run's random sandbox uid) after up to ``wait_s``.

    The kernel tears a PID namespace down asynchronously (killed processes linger for a moment as ``[python3.11]``),
    so poll briefly before concluding that something survived.
    """
    deadline = time.monotonic() + wait_s
    while True:
        out = subprocess.run(["ps", "-eo", "uid=,pid=,args="], capture_output=True, text=True).stdout
        left = [line for line in out.splitlines() if int(line.split()[0]) == uid]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def run(src: str, limits: SandboxLimits = FAST, **kw):
    return run_python(textwrap.dedent(src), limits, **kw)


def test_ordinary_program_passes_and_failure_is_fail():
    ok = run("print(sum(range(10)))")
    assert ok.status == "pass" and ok.stdout.strip() == "45"
    bad = run("assert 1 + 1 == 3")
    assert bad.status == "fail" and "AssertionError" in bad.stderr and bad.exitcode == 1


def test_infinite_loop_is_timeout():
    r = run("while True:\n    pass")
    assert r.status == "timeout" and "CPU" in r.reason


def test_sleeping_program_hits_wall_clock():
    r = run("import time\ntime.sleep(60)", SandboxLimits(cpu_s=5, wall_s=1))
    assert r.status == "timeout" and "wall" in r.reason and r.wall_s < 5


@needs_ns
def test_fork_bomb_is_contained_and_leaves_no_process():
    r = run("""
        import os, time
        print(os.getuid(), flush=True)
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
        """, SandboxLimits(cpu_s=1, wall_s=30, memory_mb=256))
    assert r.status in ("timeout", "fail", "crash")
    assert processes_of_uid(int(r.stdout.split()[0])) == []


@needs_ns
def test_daemon_that_escapes_its_session_is_killed():
    r = run("""
        import os, time
        print(os.getuid(), flush=True)
        if os.fork() == 0:
            os.setsid()
            time.sleep(30)
        print("parent done")
        """)
    assert r.status == "pass" and "parent done" in r.stdout
    assert processes_of_uid(int(r.stdout.split()[0])) == []


def test_memory_hog_is_crash():
    r = run("x = bytearray(2 * 1024 ** 3)")
    assert r.status == "crash" and "memory" in r.reason


@needs_ns
def test_writing_outside_the_working_dir_fails(tmp_path):
    os.chmod(tmp_path, 0o777)  # even a world-writable directory must not be writable from inside
    target = tmp_path / "pwned.txt"
    r = run(f"""
        import os
        open("inside.txt", "w").write("fine")      # the working directory is writable
        assert open("inside.txt").read() == "fine"
        for path in [{str(target)!r}, "/tmp/wb_pwned", "/dev/shm/wb_pwned", os.path.expanduser("~/../wb_pwned")]:
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError as e:
                print("blocked", path, e.errno)
        """)
    assert r.status == "pass" and "WROTE" not in r.stdout, r.stdout
    assert not target.exists() and not os.path.exists("/tmp/wb_pwned") and not os.path.exists("/dev/shm/wb_pwned")


@needs_ns
def test_deleting_files_outside_fails(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.chmod(tmp_path, 0o777); os.chmod(victim, 0o666)
    r = run(f"""
        import os, shutil
        os.remove({str(victim)!r})
        """)
    assert r.status == "fail" and victim.read_text() == "keep me"
    r = run("import shutil; shutil.rmtree('/work', ignore_errors=False)")
    assert r.status == "fail" and os.path.isdir("/work")


@needs_ns
def test_opening_a_socket_fails_even_to_host_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0)); server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        r = run(f"""
            import socket
            s = socket.create_connection(("127.0.0.1", {port}), timeout=1)
            s.sendall(b"leak")
            """)
        r2 = run("import socket; socket.create_connection(('1.1.1.1', 53), timeout=1)")
    finally:
        server.close()
    assert r.status == "fail" and r2.status == "fail"
    assert accepted == []


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("WORKBOOK_FAKE_SECRET", "s3cr3t-value")
    r = run("""
        import os
        print(dict(os.environ))
        for p in ("/proc/self/environ", "/proc/1/environ"):
            try:
                print(open(p, "rb").read())
            except OSError as e:
                print("no", p)
        """)
    assert r.status == "pass"
    assert "s3cr3t" not in r.stdout and "WORKBOOK_FAKE_SECRET" not in r.stdout


def test_huge_output_is_cut_and_crash():
    r = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", SandboxLimits(cpu_s=5, wall_s=30, output_bytes=100_000))
    assert r.status == "crash" and "output" in r.reason
    assert len(r.stdout) <= 100_000


def test_os_exit_zero_without_token_is_fail_and_exit_code_kept():
    token = "tok-1234"
    r = run("import os\nos._exit(0)\nprint('tok-1234')", success_token=token)
    assert r.status == "fail" and "token" in r.reason
    r = run("import os\nos._exit(3)")
    assert r.status == "fail" and r.exitcode == 3
    assert run("print('tok-1234')", success_token=token).status == "pass"


def test_recursion_bomb_is_contained():
    r = run("""
        import sys
        sys.setrecursionlimit(10 ** 7)
        def f(n):
            return f(n + 1) + 1
        f(0)
        """)
    assert r.status in ("crash", "fail", "timeout") and r.reason
    # C-level recursion with the guard lifted overflows the C stack: SIGSEGV, classified as a crash.
    r = run("""
        import sys
        sys.setrecursionlimit(10 ** 8)
        x = []
        for _ in range(2_000_000):
            x = [x]
        repr(x)
        """, SandboxLimits(cpu_s=3, wall_s=30, memory_mb=512))
    assert r.status == "crash", r


@needs_ns
def test_privileges_are_dropped():
    r = run("""
        import os
        print(os.getuid(), os.getgid(), os.getgroups())
        try:
            os.setuid(0)
            print("ROOT")
        except PermissionError:
            print("denied")
        """)
    uid = int(r.stdout.split()[0])
    assert r.status == "pass" and 200_000 <= uid <= 299_999 and "denied" in r.stdout


def test_files_stdin_and_run_many():
    r = run("import sys; print(open('data.txt').read() + sys.stdin.read())", files={"data.txt": "ab"}, stdin="cd")
    assert r.status == "pass" and r.stdout.strip() == "abcd"
    rs = run_many(["print(1)", "raise SystemExit(2)", "while True: pass"], FAST, workers=2)
    assert [x.status for x in rs] == ["pass", "fail", "timeout"]
    per_run = [FAST, SandboxLimits(cpu_s=1, wall_s=30, memory_mb=256, output_bytes=10)]
    rs = run_many(["print(1)", "print('x' * 1000)"], per_run, workers=2)
    assert [x.status for x in rs] == ["pass", "crash"]
    with pytest.raises(ValueError):
        run_many(["print(1)"], [FAST, FAST])


def test_fallback_mode_blocks_socket_and_scrubs_env(monkeypatch):
    monkeypatch.setenv("WORKBOOK_FAKE_SECRET", "s3cr3t-value")
    r = run("import socket; socket.socket()", isolation="rlimits")
    assert r.status == "fail" and "network access is disabled" in r.stderr
    r = run("import os; print(dict(os.environ))", isolation="rlimits")
    assert r.status == "pass" and "s3cr3t" not in r.stdout
    assert run("while True: pass", isolation="rlimits").status == "timeout"


def test_bad_arguments_raise_before_running():
    with pytest.raises(ValueError):
        SandboxLimits(cpu_s=0)
    with pytest.raises(ValueError):
        run_python("print(1)", isolation="docker")
    with pytest.raises(TypeError):
        run_python(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        run_python("print(1)", files={"../x": "y"})


def test_fallback_mode_does_not_wait_for_an_escaped_child():
    # Without namespaces an orphan may keep the output pipes open (documented); the harness must not hang on it.
    r = run("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(3)
            os._exit(0)
        print("parent done")
        """, isolation="rlimits")
    assert r.status == "pass" and "parent done" in r.stdout and r.wall_s < 3
