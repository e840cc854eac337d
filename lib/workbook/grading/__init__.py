"""Math answer grading: last-box extraction, strict equivalence, paper-compatible modes, bounded and cached.

The written grading policy is ``POLICY.md`` beside this file.
Every function here never raises on model output and returns within its time bound; ``Grader.name`` says
which grader produced a number, so a notebook can print "graded strictly" or "graded as the paper graded".

>>> grade("... so the answer is \\\\boxed{\\\\frac{1}{2}}.", "0.5")
True
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from .equivalence import strict_equal
from .integers import is_long_integer
from .extract import MAX_ANSWER_CHARS, MAX_COMPLETION_CHARS, extract_answer_loose, extract_boxed
from .normalize import normalize_answer
from .runtime import WorkerPool, bounded_call

logger = logging.getLogger(__name__)

GRADING_MODES: tuple[str, ...] = ("strict", "math_verify", "openr1", "qwen25_math", "deepscaler")

__all__ = ["GRADING_MODES", "Grader", "extract_boxed", "grade", "is_equivalent", "normalize_answer",
           "extract_answer_loose", "strict_equal", "MAX_ANSWER_CHARS", "MAX_COMPLETION_CHARS"]


def _check_mode(mode: str) -> None:
    if mode not in GRADING_MODES:
        raise ValueError(f"unknown grading mode {mode!r}; valid modes: {', '.join(GRADING_MODES)}")


def is_equivalent(pred: str, gold: str, mode: str = "strict", timeout_s: float = 2.0) -> bool:
    """Returns True when the answer ``pred`` equals the gold answer under ``mode``; never raises on ``pred``.

    ``pred`` is an answer (e.g. box content), not a whole completion. Bounded by ``timeout_s`` (False past it).
    An unknown ``mode`` is a programming error and raises ValueError.
    """
    _check_mode(mode)
    if not isinstance(pred, str) or not isinstance(gold, str):
        return False
    return bounded_call(mode, "equal", pred, gold, timeout_s)


def grade(completion: str, gold: str, mode: str = "strict", timeout_s: float = 2.0) -> bool:
    """Returns True when the completion's answer (its last ``\\boxed{}`` in strict mode) equals the gold.

    POLICY.md §1: in strict mode a completion without a box is wrong. Never raises on ``completion``.
    """
    _check_mode(mode)
    if not isinstance(completion, str) or not isinstance(gold, str):
        return False
    return bounded_call(mode, "grade", completion, gold, timeout_s)


def _math_verify_version() -> str:
    try:
        return version("math-verify")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


class Grader:
    """A reusable grader: caches verdicts by (normalized prediction, gold); optional worker processes.

    ``processes=0`` grades in this process (a signal deadline in the main thread; a worker process when called
    from another thread). ``processes=N`` grades cache misses of ``grade_many`` in N worker processes, each
    killed and replaced if it passes ``timeout_s``.
    """

    def __init__(self, mode: str = "strict", timeout_s: float = 2.0, processes: int = 0) -> None:
        _check_mode(mode)
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if processes < 0:
            raise ValueError(f"processes must be >= 0, got {processes}")
        self.mode = mode
        self.timeout_s = float(timeout_s)
        self.processes = int(processes)
        self.name = f"workbook-{mode} (math-verify {_math_verify_version()})"
        self._cache: dict[tuple[str, str], bool] = {}
        self._pool: WorkerPool | None = None
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"Grader({self.name!r}, timeout_s={self.timeout_s}, processes={self.processes})"

    def _key(self, completion: str, gold: str) -> tuple[str, str, str] | None:
        """Returns (cache key, a, b) for the bounded call; None when the completion is wrong without parsing."""
        if self.mode == "strict":
            pred = extract_boxed(completion)
            if pred is None or (len(pred) > MAX_ANSWER_CHARS and not is_long_integer(pred)) or not pred.strip():
                return None
            norm = normalize_answer(pred)
            return norm, "equal", norm
        if self.mode in ("qwen25_math", "deepscaler"):
            pred = extract_answer_loose(completion) if self.mode == "qwen25_math" else extract_boxed(completion)
            if pred is None or len(pred) > MAX_ANSWER_CHARS:
                return None
            return pred, "equal", pred
        tail = completion[-MAX_ANSWER_CHARS * 20 :]
        return tail, "grade", tail

    def grade(self, completion: str, gold: str) -> bool:
        """Returns the verdict for one completion against its gold; never raises on ``completion``."""
        return self.grade_many([completion], [gold])[0]

    def grade_many(self, completions: list[str], golds: list[str]) -> list[bool]:
        """Returns one verdict per (completion, gold) pair; duplicates are graded once."""
        if len(completions) != len(golds):
            raise ValueError(f"{len(completions)} completions but {len(golds)} golds")
        out: list[bool] = [False] * len(completions)
        pending: dict[tuple[str, str], tuple[str, str, str, list[int]]] = {}
        for i, (c, g) in enumerate(zip(completions, golds)):
            if not isinstance(c, str) or not isinstance(g, str):
                continue
            if self.mode in ("qwen25_math", "deepscaler"):
                g = extract_boxed(g) or g
            k = self._key(c, g)
            if k is None:
                continue
            key = (k[0], g)
            if key in self._cache:
                self.hits += 1
                out[i] = self._cache[key]
            elif key in pending:
                self.hits += 1
                pending[key][3].append(i)
            else:
                pending[key] = (k[1], k[2], g, [i])
        if not pending:
            return out
        self.misses += len(pending)
        items = list(pending.items())
        if self.processes > 0:
            if self._pool is None:
                self._pool = WorkerPool(self.processes)
            by_kind: dict[str, list[int]] = {}
            for j, (_, (kind, _a, _g, _)) in enumerate(items):
                by_kind.setdefault(kind, []).append(j)
            verdicts = [False] * len(items)
            for kind, idx in by_kind.items():
                res = self._pool.run(self.mode, kind, [(items[j][1][1], items[j][1][2]) for j in idx], self.timeout_s)
                for j, r in zip(idx, res):
                    verdicts[j] = r
        else:
            verdicts = [bounded_call(self.mode, kind, a, g, self.timeout_s) for _, (kind, a, g, _) in items]
        for (key, (_, _, _, idxs)), v in zip(items, verdicts):
            self._cache[key] = v
            for i in idxs:
                out[i] = v
        return out

    def close(self) -> None:
        """Stops the worker processes (if any); the cache stays usable."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
