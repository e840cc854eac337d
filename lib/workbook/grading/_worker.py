"""Grading worker process: ``python -m workbook.grading._worker`` (spawned by ``runtime.WorkerPool``).

Reads length-prefixed pickled tasks ``(task_id, mode, kind, a, b, timeout_s)`` on stdin and answers
``(task_id, verdict)`` on stdout. Started as a fresh interpreter, so it never re-imports the parent's
``__main__`` (multiprocessing's spawn would) and is safe from threaded parents (fork is not).
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys


def _read_exact(f, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main() -> None:
    """Runs the worker loop until stdin closes or a None task arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    inp = os.fdopen(0, "rb", buffering=0)
    from workbook.grading.runtime import call_in_process, warm_up

    warm_up()

    def send(obj) -> None:
        data = pickle.dumps(obj)
        out.write(struct.pack("!I", len(data)) + data)

    send(("ready", None))
    while True:
        head = _read_exact(inp, 4)
        if head is None:
            return
        body = _read_exact(inp, struct.unpack("!I", head)[0])
        if body is None:
            return
        msg = pickle.loads(body)
        if msg is None:
            return
        task_id, mode, kind, a, b, timeout_s = msg
        send((task_id, call_in_process(mode, kind, a, b, timeout_s)))


if __name__ == "__main__":
    sys.exit(main())
