"""Time-bounded grading calls: a signal deadline in the main thread, worker processes elsewhere (POLICY.md §8).

math-verify bounds its own calls with ``signal.alarm``, which only works in the main thread and only in whole
seconds. We pass ``parsing_timeout=None, timeout_seconds=None`` to it everywhere and bound each *whole* grading
call ourselves: with ``signal.setitimer`` when we are in the main thread, and otherwise (or when grading in
parallel) in worker processes that are killed and replaced when they pass their deadline.
"""

from __future__ import annotations

import functools
import logging
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from multiprocessing.connection import wait
from typing import Callable

from .compat import (deepscaler_equal, deepscaler_grade, math_verify_equal, math_verify_grade, openr1_grade, qwen25_math_grade,
                     qwen_math_equal)
from .equivalence import strict_equal
from .extract import extract_boxed
from .numbers import unsafe_for_sympy

logger = logging.getLogger(__name__)
for _name in ("math_verify.parser", "math_verify.grader", "latex2sympy2_extended.math_normalization"):
    # With our own deadline, math-verify's "timeout is disabled" warning is expected, not a problem.
    logging.getLogger(_name).setLevel(logging.ERROR)

WORKER_START_TIMEOUT_S = 120.0
"""A worker process must import sympy and math-verify within this time (cold start on a loaded machine)."""


def _strict_grade(completion: str, gold: str) -> bool:
    pred = extract_boxed(completion)
    return pred is not None and strict_equal(pred, gold)


def _openr1_equal(pred: str, gold: str) -> bool:
    return openr1_grade("\\boxed{" + pred + "}", gold)


def _sleep(a: str, b: str) -> bool:  # noqa: ARG001
    """Sleeps ``float(a)`` seconds then returns True: the private ``_sleep`` mode tests deadlines."""
    time.sleep(float(a))
    return True


MODES: dict[str, dict[str, Callable[[str, str], bool]]] = {
    "strict": {"grade": _strict_grade, "equal": strict_equal},
    "math_verify": {"grade": math_verify_grade, "equal": math_verify_equal},
    "openr1": {"grade": openr1_grade, "equal": _openr1_equal},
    "qwen25_math": {"grade": qwen25_math_grade, "equal": qwen_math_equal},
    "deepscaler": {"grade": deepscaler_grade, "equal": deepscaler_equal},
    "_sleep": {"grade": _sleep, "equal": _sleep},  # private: not in GRADING_MODES
}


class _Deadline(BaseException):
    """Raised inside a grading call by the interval timer.

    A BaseException, so that libraries' ``except Exception`` (math-verify has several) cannot swallow it; the
    timer also re-fires every 50 ms after the deadline in case something swallows it anyway.
    """


def _raise_deadline(signum, frame):  # noqa: ARG001
    raise _Deadline()


def _can_use_signal() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@functools.lru_cache(maxsize=1)
def warm_up() -> bool:
    """Imports sympy, math-verify and the LaTeX parser once, so no grading deadline pays for imports (~2 s)."""
    import sympy  # noqa: F401
    from math_verify import parse, verify

    verify(parse("$\\frac{1}{2}$", parsing_timeout=None), parse("$0.5$", parsing_timeout=None), timeout_seconds=None)
    return True


def call_in_process(mode: str, kind: str, a: str, b: str, timeout_s: float) -> bool:
    """Returns MODES[mode][kind](a, b), or False on any error or after ``timeout_s`` (main thread only)."""
    fn = MODES[mode][kind]
    if not _can_use_signal():
        raise RuntimeError("call_in_process needs the main thread; use bounded_call")
    warm_up()
    answer = (extract_boxed(a) or a[-500:]) if kind == "grade" else a
    if mode != "strict" and (unsafe_for_sympy(answer) or unsafe_for_sympy(b)):
        return False  # a C-level big-integer computation could not be interrupted by the deadline
    old = signal.signal(signal.SIGALRM, _raise_deadline)
    try:
        signal.setitimer(signal.ITIMER_REAL, max(timeout_s, 1e-3), 0.05)
        try:
            return bool(fn(a, b))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Deadline:
        logger.debug("grading call passed its %.2fs deadline: %r vs %r", timeout_s, a[:80], b[:80])
        return False
    except Exception:  # noqa: BLE001 - model output must never crash the grader
        logger.debug("grading call raised", exc_info=True)
        return False
    finally:
        signal.signal(signal.SIGALRM, old)


class _Worker:
    """One ``python -m workbook.grading._worker`` subprocess speaking length-prefixed pickles on its pipes."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "workbook.grading._worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.task: int | None = None
        self.started = 0.0
        self.ready = False

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, obj) -> None:
        data = pickle.dumps(obj)
        self.proc.stdin.write(struct.pack("!I", len(data)) + data)
        self.proc.stdin.flush()

    def recv(self):
        """Returns the next message; raises EOFError when the worker is gone."""
        head = self.proc.stdout.read(4)
        if not head or len(head) < 4:
            raise EOFError
        n = struct.unpack("!I", head)[0]
        body = b""
        while len(body) < n:
            chunk = self.proc.stdout.read(n - len(body))
            if not chunk:
                raise EOFError
            body += chunk
        return pickle.loads(body)

    def wait_ready(self) -> bool:
        if not self.ready and wait([self], timeout=WORKER_START_TIMEOUT_S):
            try:
                self.ready = self.recv()[0] == "ready"
            except EOFError:
                self.ready = False
        return self.ready

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class WorkerPool:
    """Worker processes that grade with a hard deadline: a worker past it is killed and replaced."""

    def __init__(self, processes: int, grace_s: float = 1.0) -> None:
        self.processes = max(1, int(processes))
        self.grace_s = grace_s
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        while len(self._workers) < self.processes:
            self._workers.append(_Worker())
        for w in self._workers:
            if not w.wait_ready():
                raise RuntimeError("grading worker did not start within %.0fs" % WORKER_START_TIMEOUT_S)

    def run(self, mode: str, kind: str, pairs: list[tuple[str, str]], timeout_s: float) -> list[bool]:
        """Returns one verdict per (a, b) pair; a pair past ``timeout_s`` (+ grace) is False."""
        results = [False] * len(pairs)
        with self._lock:
            self._ensure()
            todo = list(range(len(pairs)))[::-1]
            busy: dict[int, _Worker] = {}
            while todo or busy:
                for w in self._workers:
                    if w.task is None and todo:
                        i = todo.pop()
                        w.task, w.started = i, time.monotonic()
                        w.send((i, mode, kind, pairs[i][0], pairs[i][1], timeout_s))
                        busy[i] = w
                for w in wait(list(busy.values()), timeout=0.05):
                    try:
                        task_id, verdict = w.recv()
                    except (EOFError, OSError):  # the worker died (e.g. out of memory): that pair is wrong
                        task_id, verdict = w.task, False
                        self._replace(w)
                    results[task_id] = bool(verdict)
                    busy.pop(task_id, None)
                    w.task = None
                now = time.monotonic()
                for i, w in list(busy.items()):
                    if now - w.started > timeout_s + self.grace_s:
                        logger.debug("grading worker passed its deadline on pair %d; replacing it", i)
                        busy.pop(i)
                        self._replace(w)
                if busy or todo:
                    self._ensure()
        return results

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._workers.remove(w)
        self._workers.append(_Worker())

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                try:
                    w.send(None)
                except OSError:
                    pass
                w.kill()
            self._workers = []


_fallback_pool: WorkerPool | None = None
_fallback_lock = threading.Lock()


def _thread_pool() -> WorkerPool:
    """Returns the one-process pool used by calls made outside the main thread (created on first use)."""
    global _fallback_pool
    with _fallback_lock:
        if _fallback_pool is None:
            _fallback_pool = WorkerPool(1)
        return _fallback_pool


def bounded_call(mode: str, kind: str, a: str, b: str, timeout_s: float) -> bool:
    """Returns MODES[mode][kind](a, b) within ``timeout_s`` seconds (False past it or on any error); never raises."""
    try:
        if _can_use_signal():
            return call_in_process(mode, kind, a, b, timeout_s)
        return _thread_pool().run(mode, kind, [(a, b)], timeout_s)[0]
    except Exception:  # noqa: BLE001
        logger.debug("bounded grading call failed", exc_info=True)
        return False
