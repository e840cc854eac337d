"""Exact integer arithmetic for answers far beyond float and sympy comfort: ``2^{30000}``, ``1000!``, 3,000 digits.

POLICY.md §3. An answer made only of integers, ``+ - \\cdot \\times *``, powers (``^``, towers associate right),
factorials and parentheses is evaluated with Python integers, exactly, as long as every intermediate value stays
under ``MAX_INT_BITS``; otherwise it is not an integer expression here (and falls to the other rules). Long digit
strings are converted in chunks, so CPython's 4,300-digit ``int(str)`` guard (and a process-wide switch) never
matter. Linear-time parsing; every multiplication and power is size-checked before it runs.
"""

from __future__ import annotations

import math
import re

MAX_INT_BITS = 2_000_000
MAX_INT_DIGITS = 200_000
"""A plain integer answer may have this many digits (the general answer cap, 1,000 characters, does not apply)."""

_TOKEN_RE = re.compile(r"\s*(\d+|\\cdot|\\times|[-+*^()!{}])")
_LONG_INT_RE = re.compile(r"-?\d+")


def is_long_integer(s: str) -> bool:
    """Returns True when ``s`` is a plain (signed) integer literal of at most ``MAX_INT_DIGITS`` digits."""
    s = s.strip()
    return len(s) <= MAX_INT_DIGITS + 1 and _LONG_INT_RE.fullmatch(s) is not None


def int_from_digits(s: str) -> int:
    """Returns int(s) for a digit string of any length, converting in 4,000-digit chunks (divide and conquer)."""
    if len(s) <= 4000:
        return int(s)
    half = len(s) // 2
    return int_from_digits(s[:half]) * 10 ** (len(s) - half) + int_from_digits(s[half:])


class _TooBig(Exception):
    pass


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.t, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expr(self) -> int:
        v = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            w = self.term()
            v = v + w if op == "+" else v - w
        return v

    def term(self) -> int:
        v = self.unary()
        while self.peek() in ("*", "\\cdot", "\\times") or self.peek() in ("(", "{") or (self.peek() or "").isdigit():
            if self.peek() in ("*", "\\cdot", "\\times"):
                self.take()
            w = self.unary()
            if v.bit_length() + w.bit_length() > MAX_INT_BITS:
                raise _TooBig
            v *= w
        return v

    def unary(self) -> int:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> int:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            exp = self.unary_power()
            if exp < 0:
                raise ValueError("negative exponent: not an integer")
            if abs(base) > 1 and exp * max(1, (abs(base) - 1).bit_length()) > MAX_INT_BITS:
                raise _TooBig
            return base**exp
        return base

    def unary_power(self) -> int:  # the exponent: a signed atom that may itself be a power (right associative)
        if self.peek() == "-":
            self.take()
            return -self.power()
        return self.power()

    def postfix(self) -> int:
        v = self.atom()
        while self.peek() == "!":
            self.take()
            if v < 0 or v > 20_000:
                raise _TooBig
            v = math.factorial(v)
        return v

    def atom(self) -> int:
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end")
        if tok in ("(", "{"):
            self.take()
            v = self.expr()
            if self.peek() != {"(": ")", "{": "}"}[tok]:
                raise ValueError("unbalanced")
            self.take()
            return v
        if tok.isdigit():
            self.take()
            return int_from_digits(tok)
        raise ValueError(f"unexpected {tok!r}")


def exact_integer(s: str) -> int | None:
    """Returns the integer an integer expression denotes (``2^{5000}\\cdot 5^{5000}``, ``1001!``), else None."""
    s = s.strip()
    if not s or len(s) > MAX_INT_DIGITS + 2:
        return None
    tokens, pos = [], 0
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if not m:
            if s[pos:].strip() == "":
                break
            return None
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens or not any(t.isdigit() for t in tokens):
        return None
    p = _Parser(tokens)
    try:
        v = p.expr()
    except (_TooBig, ValueError, IndexError, RecursionError, MemoryError):
        return None
    return v if p.i == len(tokens) else None
