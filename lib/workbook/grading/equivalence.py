"""Strict answer equivalence: our structure, unit, percent and precision rules, math-verify for the symbolic rest.

POLICY.md §2-§6. Nothing here bounds time by itself: ``runtime.bounded_call`` wraps every call (signal
deadline in the main thread, a worker process elsewhere). What this module does guarantee is that inputs
that would make sympy allocate without limit (power towers, huge factorials, very long answers) never reach it.
"""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from functools import lru_cache

from .extract import MAX_ANSWER_CHARS, extract_boxed
from .normalize import canonical_text, normalize_answer, split_answer, split_unit
from .integers import exact_integer, is_long_integer
from .normalize import _canonical_unit
from .numbers import Number, decimals_to_fractions, numbers_equal, parse_number, round_half_up, unsafe_for_sympy
from .quantities import quantities_equal, quantity
from .realsets import matrix_of, real_set

logger = logging.getLogger(__name__)

MAX_ITEMS = 32
"""Answers with more comma-separated items than this are compared as strings only."""

_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]*$")
_FRAC_THEN_TOKEN_RE = re.compile(r"(\\frac\{[^{}]*\}\{[^{}]*\})\s*(?=[A-Za-z0-9])")


def _is_risky(s: str) -> bool:
    """Returns True for inputs sympy may not finish on (numbers.unsafe_for_sympy) or over 400 characters."""
    return len(s) > 400 or unsafe_for_sympy(s)


def answer_of(text: str) -> str:
    """Returns the answer string of a gold or a bare prediction: its last box if it has one, else itself."""
    if "\\boxed" in text or "\\fbox" in text:
        boxed = extract_boxed(text)
        if boxed is not None:
            return boxed
    return text


@lru_cache(maxsize=65536)
def _parse_sympy(s: str):
    """Returns the sympy object math-verify reads from the LaTeX ``s`` (with i as the imaginary unit), or None."""
    import sympy
    from math_verify import LatexExtractionConfig, parse

    s = _FRAC_THEN_TOKEN_RE.sub(r"\1*", s)  # latex2sympy drops the c of \frac{a}{b}c; make the product explicit
    res = parse("$" + s + "$", extraction_config=[LatexExtractionConfig(boxed_match_priority=0)],
                parsing_timeout=None, fallback_mode="no_fallback")
    if not res:
        return None
    expr = res[0]
    try:
        i_sym = [x for x in getattr(expr, "free_symbols", ()) if str(x) == "i"]
        if i_sym:
            expr = expr.subs(i_sym[0], sympy.I)
    except Exception:  # noqa: BLE001 - model output: any failure means "not comparable this way"
        pass
    return expr


def _sympy_equal(pred: str, gold: str, gold_number: Number | None) -> bool:
    """Returns True when math-verify finds the exact forms of ``pred`` and ``gold`` equal (POLICY.md §3)."""
    from math_verify import verify

    if _is_risky(pred) or _is_risky(gold):
        return False
    p = _parse_sympy(decimals_to_fractions(pred))
    if p is None:
        return False
    if gold_number is not None and gold_number.places is not None:
        # Gold is a decimal: an exact prediction (sqrt 3) is rounded to the gold's stated places.
        try:
            if getattr(p, "free_symbols", {1}) or not p.is_number:
                return False
            val = p.evalf(40)
            if not val.is_real:
                return False
            return round_half_up(Fraction(str(val)), gold_number.places) == gold_number.value
        except Exception:  # noqa: BLE001
            return False
    g = _parse_sympy(decimals_to_fractions(gold))
    if g is None:
        return False
    return bool(verify(g, p, strict=True, timeout_seconds=None, float_rounding=12))


def _scalar_equal(pred: str, gold: str) -> bool:
    """Returns True when one scalar answer equals another: units, percent, exact numbers, then sympy."""
    if canonical_text(pred) == canonical_text(gold):
        return True
    if "\\text{" in pred and "\\text{" in gold:  # 2 ft 6 in = 30 in, 1 h 30 min = 90 min (POLICY.md §4)
        pq, gq = quantity(pred, _canonical_unit), quantity(gold, _canonical_unit)
        if pq is not None and gq is not None:
            return pq == gq
    pv, pu, pp = split_unit(pred)
    gv, gu, gp = split_unit(gold)
    if pu is not None and gu is not None and pu != gu:
        return bool(quantities_equal(pv, pu, gv, gu)) and pp == gp  # 1 m = 100 cm; 5 m is not 5 cm
    if canonical_text(pv) == canonical_text(gv) and pp == gp:
        return True
    if pp == gp:  # exact integers of any size: 4^{15000} = 2^{30000}, 1001! != 1000!
        pi_, gi_ = exact_integer(pv), exact_integer(gv)
        if pi_ is not None and gi_ is not None:
            return pi_ == gi_
    if _WORD_RE.match(pv) and _WORD_RE.match(gv) and (len(pv) > 1 or len(gv) > 1):
        return pv.strip().lower() == gv.strip().lower()  # words are words: never multiplied as symbols
    pn, gn = parse_number(pv), parse_number(gv)
    if pn is not None and gn is not None:
        if numbers_equal(pn, gn):
            return True
        if pp != gp:  # 25% = 0.25: the percent side also stands for its value over 100
            if pp and numbers_equal(Number(pn.value / 100, pn.places and pn.places + 2), gn):
                return True
            if gp and numbers_equal(pn, Number(gn.value / 100, gn.places and gn.places + 2)):
                return True
        return False
    if pp or gp:
        pv = pv + ("\\%" if pp else "")
        gv = gv + ("\\%" if gp else "")
    return _sympy_equal(pv, gv, gn)


def _set_equal(preds: tuple[str, ...], golds: tuple[str, ...]) -> bool:
    """Set semantics: every element of each side equals some element of the other (repetition is ignored)."""
    return (all(any(_scalar_or_structure_equal(p, g) for g in golds) for p in preds)
            and all(any(_scalar_or_structure_equal(p, g) for p in preds) for g in golds))


def _matrix_equal(pred: str, gold: str, ps, gs) -> bool:
    """Same shape, equal entries; a tuple is a column vector (POLICY.md §5)."""
    def shape_entries(s, st):
        m = matrix_of(s)
        if m is None and st.kind == "tuple" and not st.open_close:
            return (len(st.items), 1), list(st.items)
        return m
    pm, gm = shape_entries(pred, ps), shape_entries(gold, gs)
    if pm is None or gm is None or pm[0] != gm[0]:
        return False
    return all(_scalar_or_structure_equal(p, g, 3) for p, g in zip(pm[1], gm[1]))


def _unordered_equal(preds: tuple[str, ...], golds: tuple[str, ...]) -> bool:
    if len(preds) != len(golds):
        return False
    left = list(golds)
    for p in preds:
        hit = next((k for k, g in enumerate(left) if _scalar_or_structure_equal(p, g)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def _scalar_or_structure_equal(pred: str, gold: str, depth: int = 0) -> bool:
    ps, gs = split_answer(pred), split_answer(gold)
    if len(ps.items) > MAX_ITEMS or len(gs.items) > MAX_ITEMS or depth > 4:
        return canonical_text(pred) == canonical_text(gold)
    if "\\begin{pmatrix}" in pred or "\\begin{pmatrix}" in gold:
        return _matrix_equal(pred, gold, ps, gs)
    if ps.kind != "scalar" or gs.kind != "scalar":  # sets of reals: intervals, named sets, finite sets
        rp, rg = real_set(pred), real_set(gold)
        if rp is not None and rg is not None:
            return rp == rg
    if ps.kind == "scalar" and gs.kind == "scalar":
        return _scalar_equal(pred, gold)
    if ps.kind in ("set", "list") and gs.kind in ("set", "list"):
        return _set_equal(ps.items, gs.items)
    if {ps.kind, gs.kind} <= {"set", "list", "scalar"} and "scalar" in (ps.kind, gs.kind):
        return _set_equal(ps.items, gs.items)  # {3} = {3, 3} = 3 (POLICY.md §5)
    if ps.kind != gs.kind or ps.open_close != gs.open_close or len(ps.items) != len(gs.items):
        return False  # a set is not a tuple, [1,2) is not [1,2] (POLICY.md §5)
    if ps.kind == "union":
        return _unordered_equal(ps.items, gs.items)
    return all(_scalar_or_structure_equal(p, g, depth + 1) for p, g in zip(ps.items, gs.items))


def strict_equal(pred: str, gold: str) -> bool:
    """Returns True when the prediction answers the gold under the strict grading policy (POLICY.md).

    ``pred`` is an answer (box content), ``gold`` the reference answer; either may still carry a ``\\boxed``.
    Not time-bounded by itself (see ``runtime.bounded_call``).
    """
    if not isinstance(pred, str) or not isinstance(gold, str):
        return False
    pred, gold = answer_of(pred), answer_of(gold)
    if (len(pred) > MAX_ANSWER_CHARS and not is_long_integer(pred)) or not pred.strip():
        return False
    p, g = normalize_answer(pred), normalize_answer(gold)
    if not p or not g:
        return False
    if p == g:
        return True
    return _scalar_or_structure_equal(p, g)
