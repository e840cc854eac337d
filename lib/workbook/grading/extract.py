"""Answer extraction: the last balanced ``\\boxed{...}`` of a completion (grading policy §1, POLICY.md).

Every function here is linear in the input and never raises on model output: huge inputs and inputs with
thousands of boxes are judged in milliseconds because only the tail of the text is scanned and the extracted
answer is capped in length before anything parses it.
"""

from __future__ import annotations

import re

MAX_COMPLETION_CHARS = 200_000
"""Only the last this-many characters of a completion are scanned for the answer."""

MAX_ANSWER_CHARS = 1_000
"""An extracted answer longer than this is not an answer: it is graded wrong without parsing."""

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def _balanced_group(text: str, start: int) -> tuple[str, int] | None:
    """Returns (content, end) of the ``{...}`` group opening at ``text[start]``, or None if unbalanced."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:  # an escaped brace \{ \} does not open or close a group
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None


def _box_content(text: str, after: int) -> str | None:
    """Returns the argument of a box command whose name ends at ``after``: ``{...}`` or ``\\boxed 5``."""
    j = after
    n = len(text)
    while j < n and text[j] in " \t\n":
        j += 1
    if j >= n:
        return None
    if text[j] == "{":
        group = _balanced_group(text, j)
        return None if group is None else group[0]
    if j > after:  # "\boxed 5" (TeX: one token after a space): the token runs to whitespace or '$'
        m = re.match(r"[^\s$]+", text[j:])
        return m.group(0) if m else None
    return None


def extract_boxed(text: str) -> str | None:
    """Returns the content of the LAST balanced ``\\boxed{...}`` / ``\\boxed ...`` / ``\\fbox{...}``, else None.

    Grading policy §1 (POLICY.md): the last box is the answer; several boxes are never merged. A last box
    with unbalanced braces yields None (the completion has no readable answer), even if an earlier box was
    complete: a model that opened a new answer and did not finish it gave no final answer.
    """
    if not isinstance(text, str) or not text:
        return None
    if len(text) > MAX_COMPLETION_CHARS:
        text = text[-MAX_COMPLETION_CHARS:]
    pos = max(text.rfind(cmd) for cmd in _BOX_COMMANDS)
    while pos >= 0:
        m = _BOX_RE.match(text, pos)
        if m is not None:
            content = _box_content(text, m.end())
            if content is None:
                return None
            return content.strip()
        # e.g. "\boxedx": not a box command; look further left
        pos = max(text.rfind(cmd, 0, pos) for cmd in _BOX_COMMANDS)
    return None


_ANSWER_IS_RE = re.compile(r"(?:final answer|the answer) is[:\s]*\$?([^\n$]*)", re.IGNORECASE)
_LAST_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


def extract_answer_loose(text: str) -> str | None:
    """Returns the answer by the Qwen2.5-Math fallback chain: last box, "the answer is ...", last number.

    Only the ``qwen25_math`` compatibility mode uses this (Qwen2.5-Math ``parser.py::extract_answer``
    with ``use_last_number=True``); strict grading never falls back to loose text (POLICY.md §1).
    """
    if not isinstance(text, str) or not text:
        return None
    if len(text) > MAX_COMPLETION_CHARS:
        text = text[-MAX_COMPLETION_CHARS:]
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed
    tail = text[-20_000:]
    hits = _ANSWER_IS_RE.findall(tail)
    if hits:
        ans = hits[-1].strip().rstrip(".").strip()
        if ans:
            return ans
    nums = _LAST_NUMBER_RE.findall(tail)
    if nums:
        return nums[-1].replace(",", "")
    return None
