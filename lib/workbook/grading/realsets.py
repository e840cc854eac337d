"""Subsets of the real line with numeric end points, and matrices: two more answer shapes (POLICY.md §5).

``real_set`` reads intervals, unions of intervals, finite sets and bare lists of numbers (named sets and
inequalities are already intervals after ``normalize_answer``: ``\\mathbb{R}`` is ``(-\\infty,\\infty)``,
``x \\le 3`` is ``(-\\infty,3]``) into a canonical list of disjoint intervals, so ``(-\\infty,1]\\cup[1,\\infty)``
equals ``\\mathbb{R}``, ``[2,2]`` equals ``\\{2\\}`` and ``\\{1,1,2\\}`` equals ``\\{1,2\\}``. ``matrix_of`` reads
``\\begin{pmatrix}...\\end{pmatrix}`` (any bracket style, optionally times a scalar) into its shape and entries, so a
transposed matrix never equals the original unless it is symmetric.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .normalize import Structure, split_answer
from .numbers import parse_number

_INF = float("inf")
_MATRIX_RE = re.compile(r"^(.*?)\\begin\{pmatrix\}(.*)\\end\{pmatrix\}$", re.S)


def _end(s: str) -> Fraction | float | None:
    t = s.replace(" ", "")
    if t in ("\\infty", "+\\infty", "\\inf"):
        return _INF
    if t in ("-\\infty", "-\\inf"):
        return -_INF
    n = parse_number(t)
    return None if n is None else n.value


def _pieces(st: Structure) -> list[tuple] | None:
    if st.kind in ("set", "list") or st.kind == "scalar":
        out = []
        for item in st.items:
            v = _end(item)
            if v is None or v in (_INF, -_INF):
                return None
            out.append((v, True, v, True))
        return out
    if st.kind in ("tuple", "interval") and len(st.items) == 2:
        lo, hi = _end(st.items[0]), _end(st.items[1])
        if lo is None or hi is None:
            return None
        oc = st.open_close or "()"
        lo_c, hi_c = oc[0] == "[", oc[-1] == "]"
        if lo > hi or (lo == hi and not (lo_c and hi_c)) or (lo_c and lo == -_INF) or (hi_c and hi == _INF):
            return None  # not an interval (a point (2, 1), or a closed infinity): leave it to the other rules
        return [(lo, lo_c, hi, hi_c)]
    return None


def real_set(s: str) -> tuple | None:
    """Returns the canonical disjoint intervals of a set of reals with numeric end points, or None."""
    st = split_answer(s)
    parts = [split_answer(p) for p in st.items] if st.kind == "union" else [st]
    ivs: list[tuple] = []
    for part in parts:
        got = _pieces(part)
        if got is None:
            return None
        ivs.extend(got)
    ivs.sort(key=lambda t: (t[0], not t[1]))
    merged: list[list] = []
    for lo, lo_c, hi, hi_c in ivs:
        if merged:
            cur = merged[-1]
            if lo < cur[2] or (lo == cur[2] and (cur[3] or lo_c)):
                if hi > cur[2] or (hi == cur[2] and hi_c):
                    cur[2], cur[3] = hi, hi_c or (hi == cur[2] and cur[3])
                continue
        merged.append([lo, lo_c, hi, hi_c])
    return tuple(tuple(m) for m in merged)


def matrix_of(s: str) -> tuple[tuple[int, int], list[str]] | None:
    """Returns ((rows, cols), entries row by row) of a (scalar times) pmatrix, or None if ``s`` is not one."""
    m = _MATRIX_RE.match(s.strip())
    if not m or "\\begin" in m.group(2):
        return None
    coef = m.group(1).strip().rstrip("*").replace("\\cdot", "").replace("\\times", "").strip()
    rows = [r.split("&") for r in m.group(2).split("\\\\")]
    if len({len(r) for r in rows}) != 1:
        return None
    entries = [c.strip() for r in rows for c in r]
    if coef:
        coef = "-1" if coef == "-" else coef
        entries = [f"{coef}\\cdot({e})" for e in entries]
    return (len(rows), len(rows[0])), entries
