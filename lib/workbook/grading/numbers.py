"""Exact numbers without sympy: integers, decimals, fractions, repeating decimals, powers (POLICY.md §3).

A number is read into a ``Fraction`` together with the number of decimal places its spelling states
(None for exact spellings such as ``\\frac{1}{3}`` or ``12``). The strict grader compares numbers with these
rules: decimal vs decimal and exact vs exact by exact value; an exact prediction against a decimal gold by
rounding to the gold's stated places; a decimal prediction against an exact gold by exact value only.
Everything here is bounded: power towers are evaluated only while the result stays below ``MAX_BITS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_BITS = 20_000
"""Powers whose value would need more bits than this are not evaluated (left to the bounded sympy path)."""


@dataclass(frozen=True)
class Number:
    """An exactly known number; ``places`` is the count of decimals the spelling states (None: exact)."""

    value: Fraction
    places: int | None


_DEC_RE = re.compile(r"^(\d*)\.(\d+)$")
_REPEAT_RE = re.compile(r"^(\d*)\.(\d*)(?:\\overline\{(\d+)\}|\\dot\{(\d)\}|\((\d+)\))$")
_FRAC_RE = re.compile(r"^\\frac\{([^{}]+)\}\{([^{}]+)\}$")
_SLASH_RE = re.compile(r"^([^/]+)/([^/]+)$")
_MIXED_RE = re.compile(r"^(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$")
_SCI_RE = re.compile(r"^(\d*\.?\d+)\s*(?:\\times|\\cdot|\*)\s*10\^\{?(-?\d+)\}?$|^(\d*\.?\d+)[eE]([+-]?\d+)$")


def _strip_parens(s: str) -> str:
    s = s.strip()
    while len(s) >= 2 and ((s[0] == "{" and s[-1] == "}") or (s[0] == "(" and s[-1] == ")")):
        inner = s[1:-1]
        depth = 0
        for c in inner:
            depth += 1 if c in "{(" else -1 if c in "})" else 0
            if depth < 0:
                return s
        s = inner.strip()
    return s


def _split_power(s: str) -> tuple[str, str] | None:
    """Returns (base, exponent) when ``s`` is ``base^exp`` at the top level, else None."""
    depth = 0
    for i, c in enumerate(s):
        depth += 1 if c in "{(" else -1 if c in "})" else 0
        if c == "^" and depth == 0:
            return s[:i], s[i + 1 :]
    return None


def _power(base: Fraction, exp: Fraction) -> Fraction | None:
    if exp.denominator != 1:
        return None
    e = exp.numerator
    if base == 0:
        return None if e < 0 else Fraction(int(e == 0))
    if abs(base) == 1:
        return base**e
    bits = max(abs(base.numerator).bit_length(), abs(base.denominator).bit_length())
    if bits * abs(e) > MAX_BITS:
        return None
    return base**e


def parse_number(s: str, depth: int = 0) -> Number | None:
    """Returns the exact Number a plain numeric spelling denotes, or None when ``s`` is not a plain number.

    Accepts sign, integers, decimals (``.5``), repeating decimals (``0.\\overline{3}``, ``0.1\\dot{6}``,
    ``0.(3)``), ``\\frac{a}{b}``, ``a/b``, mixed numbers (``2\\frac{1}{2}``), scientific notation and integer
    power towers (``2^{2^{3}}``) up to ``MAX_BITS``.
    """
    if depth > 8 or len(s) > 2000:
        return None
    s = _strip_parens(s.replace(" ", ""))
    if len(s) > 200:
        return None
    if not s:
        return None
    if s[0] in "+-":
        inner = parse_number(s[1:], depth + 1)
        if inner is None:
            return None
        return Number(-inner.value if s[0] == "-" else inner.value, inner.places)
    if s.isdigit():
        return Number(Fraction(int(s)), None)
    m = _DEC_RE.match(s)
    if m:
        return Number(Fraction(int(m.group(1) or "0") * 10 ** len(m.group(2)) + int(m.group(2)), 10 ** len(m.group(2))),
                      len(m.group(2)))
    m = _REPEAT_RE.match(s)
    if m:
        whole, pre = int(m.group(1) or "0"), m.group(2)
        rep = m.group(3) or m.group(4) or m.group(5)
        pre_val = Fraction(int(pre), 10 ** len(pre)) if pre else Fraction(0)
        rep_val = Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(pre))
        return Number(whole + pre_val + rep_val, None)
    m = _SCI_RE.match(s)
    if m:
        mant, exp = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        mnum = parse_number(mant, depth + 1)
        e = int(exp)
        if mnum is None or abs(e) > 400:
            return None
        places = None if mnum.places is None else max(0, mnum.places - e)
        return Number(mnum.value * Fraction(10) ** e, places)
    m = _MIXED_RE.match(s)
    if m:
        return Number(int(m.group(1)) + Fraction(int(m.group(2)), int(m.group(3)) or 1), None) if int(m.group(3)) else None
    m = _FRAC_RE.match(s) or _SLASH_RE.match(s)
    if m:
        num, den = parse_number(m.group(1), depth + 1), parse_number(m.group(2), depth + 1)
        if num is None or den is None or den.value == 0:
            return None
        places = None if (num.places is None and den.places is None) else max(num.places or 0, den.places or 0)
        return Number(num.value / den.value, places)
    pw = _split_power(s)
    if pw is not None:
        base, exp = parse_number(pw[0], depth + 1), parse_number(pw[1], depth + 1)
        if base is None or exp is None or base.places is not None or exp.places is not None:
            return None
        val = _power(base.value, exp.value)
        return None if val is None else Number(val, None)
    return None


def round_half_up(x: Fraction, places: int) -> Fraction:
    """Returns ``x`` rounded to ``places`` decimals, halves away from zero (how people round)."""
    q = Fraction(10) ** places
    scaled = abs(x) * q
    r = int(scaled)
    if scaled - r >= Fraction(1, 2):
        r += 1
    return Fraction(r if x >= 0 else -r) / q


def numbers_equal(pred: Number, gold: Number) -> bool:
    """Returns True when the prediction equals the gold under the precision rule of POLICY.md §3."""
    if gold.places is not None and pred.places is None:
        return round_half_up(pred.value, gold.places) == gold.value
    return pred.value == gold.value


_DECIMAL_LITERAL_RE = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")


def decimals_to_fractions(s: str) -> str:
    """Returns ``s`` with every decimal literal rewritten as an exact ``\\frac{}{}``, so sympy compares exactly."""

    def repl(m: re.Match) -> str:
        whole, frac = m.group(1) or "0", m.group(2)
        if len(frac) > 60:
            return m.group(0)
        return "\\frac{" + str(int(whole + frac)) + "}{" + str(10 ** len(frac)) + "}"

    return _DECIMAL_LITERAL_RE.sub(repl, s)


_BIG_EXP_RE = re.compile(r"!\s*!|(?:\^|\*\*)\s*\{?\s*\(?\s*-?\d{4,}|\\binom\s*\{?\s*\d{4,}|\d{4,}\s*!|\^\s*\w+\s*\^")


_FACTORIAL_RE = re.compile(r"[\d)}]\s*!")


def _tower_depth(s: str) -> int:
    """Returns how deeply exponents nest (``a^{b^{c}}`` is 2), scanning braces once."""
    stack: list[bool] = []
    depth = best = 0
    prev_caret = False
    for ch in s:
        if ch == "{":
            stack.append(prev_caret)
            depth += prev_caret
            best = max(best, depth)
        elif ch == "}" and stack:
            depth -= stack.pop()
        if not ch.isspace():
            prev_caret = ch == "^"
    return best


def unsafe_for_sympy(s: str) -> bool:
    """Returns True for text sympy may not finish on (C-level big integers no signal can interrupt).

    Exponents or binomials with 4+ digit literals, factorials of 4+ digit numbers or of powers, chained
    ``a^b^c`` and exponent towers nested two deep (``9^{9^{9}}``). Linear time.
    """
    if _BIG_EXP_RE.search(s):
        return True
    if "^" in s and _FACTORIAL_RE.search(s):
        return True
    return "^" in s and _tower_depth(s) >= 2
