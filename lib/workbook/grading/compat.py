"""Compatibility modes: grade as a paper's official code graded (POLICY.md §7).

- ``math_verify``: math-verify 0.9.0 library defaults, ``verify(parse(gold), parse(completion))``
  (loose-text extraction included; that is what the defaults do).
- ``openr1``: the configuration open-r1's ``accuracy_reward`` uses (gold parsed ``first_match``; completion
  parsed LaTeX-only, boxed first, no anchor-free extraction, units normalization on). An unparseable gold
  (open-r1 skips the example) counts as wrong here.
- ``qwen25_math``: Qwen2.5-Math ``evaluation/grader.py::math_equal`` style (last box, else "the answer is",
  else the last number; numbers equal within rel. tol. 1e-4 incl. x/100 and x*100; ordered element-wise lists;
  symbolic equality via latex2sympy and ``simplify``). Used by One-Shot-RLVR's evaluation and NSR.
- ``deepscaler``: deepscaler ``grade_answer_mathd or grade_answer_sympy`` style (Hendrycks string
  normalization and equality, else unit-stripping normalization and ``simplify(a - b) == 0``, integer golds
  compared as strings). Used by One-Shot-RLVR's training reward.

The last two are re-implementations written from the published behaviour of those files, not byte-identical
ports (the originals are not installable packages); the agreement benchmark reports how they behave.
"""

from __future__ import annotations

import math
import re

from .extract import MAX_ANSWER_CHARS, extract_answer_loose, extract_boxed


def _mv_parse(text: str, config=None, mode: str = "any_match"):
    from math_verify import parse

    kw = {} if config is None else {"extraction_config": config}
    return parse(text, extraction_mode=mode, parsing_timeout=None, **kw)


def gold_as_latex(gold: str) -> str:
    """Returns the gold as math-verify should read it: bare LaTeX answers wrapped as inline math ``$...$``.

    math-verify misreads bare golds (``parse("2\\sqrt{2}")`` does not equal ``2\\sqrt{2}`` in a box), so answer-only
    golds such as MATH-500's are wrapped, as open-r1's datasets and careful users do.
    """
    return gold if ("$" in gold or "\\boxed" in gold or "\\(" in gold) else "$" + gold + "$"


def math_verify_grade(completion: str, gold: str) -> bool:
    """Returns math-verify 0.9.0's verdict with library defaults on the whole completion."""
    from math_verify import verify

    return bool(verify(_mv_parse(gold_as_latex(gold)), _mv_parse(completion[-MAX_ANSWER_CHARS * 20 :]), timeout_seconds=None))


def math_verify_equal(pred: str, gold: str) -> bool:
    """Returns math-verify's default verdict on two answers, each read as inline math ``$...$``."""
    from math_verify import verify

    if len(pred) > MAX_ANSWER_CHARS:
        return False
    return bool(verify(_mv_parse(gold_as_latex(gold)), _mv_parse("$" + pred + "$"), timeout_seconds=None))


def _openr1_pred_config():
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig

    norm = NormalizationConfig(nits=False, malformed_operators=False, basic_latex=True, equations=True,
                               boxed="all", units=True)
    return [LatexExtractionConfig(normalization_config=norm, boxed_match_priority=0, try_extract_without_anchor=False)]


def openr1_grade(completion: str, gold: str) -> bool:
    """Returns the open-r1 ``accuracy_reward`` verdict (math-verify with open-r1's configuration)."""
    from math_verify import verify

    gold_parsed = _mv_parse(gold_as_latex(gold), mode="first_match")
    if not gold_parsed:
        return False
    answer = _mv_parse(completion[-MAX_ANSWER_CHARS * 20 :], _openr1_pred_config(), mode="first_match")
    return bool(verify(gold_parsed, answer, timeout_seconds=None))


# ---------------------------------------------------------------- Hendrycks-style string normalization
def _fix_fracs(s: str) -> str:
    return re.sub(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])", r"\\frac{\1}{\2}", re.sub(r"\\frac\s*\{([^{}]*)\}\s*([0-9a-zA-Z])", r"\\frac{\1}{\2}", re.sub(r"\\frac\s*([0-9a-zA-Z])\s*\{", r"\\frac{\1}{", s)))


def hendrycks_strip(s: str) -> str:
    """Returns the MATH-benchmark ``strip_string`` normal form (Hendrycks et al. 2021, ``math_equivalence.py``)."""
    s = s.replace("\n", "").replace("\\!", "").replace("\\\\", "\\").replace("tfrac", "frac").replace("dfrac", "frac")
    s = s.replace("\\left", "").replace("\\right", "").replace("^{\\circ}", "").replace("^\\circ", "")
    s = s.replace("\\$", "").replace("\\%", "").replace("%", "")
    s = re.sub(r"\\text\{\s*[a-zA-Z ]*\}\s*$", "", s) if re.search(r"\d\s*\\text\{\s*[a-zA-Z ]*\}\s*$", s) else s
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if s.startswith("."):
        s = "0" + s
    parts = s.split("=")
    if len(parts) == 2 and len(parts[0].strip()) <= 2:
        s = parts[1]
    s = re.sub(r"\\sqrt\s*([0-9a-zA-Z])", r"\\sqrt{\1}", s)
    s = s.replace(" ", "")
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    m = re.fullmatch(r"(-?\d+)/(\d+)", s)
    if m:
        s = "\\frac{" + m.group(1) + "}{" + m.group(2) + "}"
    return s


def _latex_to_sympy(s: str):
    from latex2sympy2_extended import latex2sympy

    return latex2sympy(s)


def _to_float(s: str) -> float | None:
    s = s.replace(",", "").strip()
    pct = s.endswith("%") or s.endswith("\\%")
    s = s.rstrip("%").rstrip("\\").strip()
    try:
        v = float(s)
    except ValueError:
        m = re.fullmatch(r"\\frac\{(-?\d+)\}\{(\d+)\}", s)
        if not m or int(m.group(2)) == 0:
            return None
        v = int(m.group(1)) / int(m.group(2))
    return v / 100 if pct else v


def _symbolic_equal(a: str, b: str, rel_tol: float | None) -> bool:
    import sympy

    if len(a) > MAX_ANSWER_CHARS or len(b) > MAX_ANSWER_CHARS:
        return False
    try:
        x, y = _latex_to_sympy(a), _latex_to_sympy(b)
    except Exception:  # noqa: BLE001 - model output
        return False
    try:
        if x == y or sympy.simplify(x - y) == 0:
            return True
    except Exception:  # noqa: BLE001
        pass
    if rel_tol is None:
        return False
    try:
        return math.isclose(complex(sympy.N(x)).real, complex(sympy.N(y)).real, rel_tol=rel_tol) and \
            math.isclose(complex(sympy.N(x)).imag, complex(sympy.N(y)).imag, rel_tol=rel_tol, abs_tol=1e-12)
    except Exception:  # noqa: BLE001
        return False


def _split_elems(s: str) -> tuple[str, list[str]] | None:
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and "," in s:
        return s[0] + s[-1], [e.strip() for e in s[1:-1].split(",")]
    return None


def qwen_math_equal(pred: str, gold: str) -> bool:
    """Returns the Qwen2.5-Math ``math_equal``-style verdict on two answer strings."""
    if pred is None:
        return False
    if pred.strip().lower() == gold.strip().lower():
        return True
    p, g = hendrycks_strip(pred), hendrycks_strip(gold)
    if p == g:
        return True
    pf, gf = _to_float(pred), _to_float(gold)
    if pf is not None and gf is not None:
        return any(math.isclose(pf, item, rel_tol=1e-4) for item in (gf / 100, gf, gf * 100))
    if pf is not None or gf is not None:
        pass  # fall through to symbolic comparison, as math_equal does
    ps, gs = _split_elems(p), _split_elems(g)
    if ps and gs and len(ps[1]) == len(gs[1]):
        return all(qwen_math_equal(a, b) for a, b in zip(ps[1], gs[1]))
    return _symbolic_equal(p, g, rel_tol=1e-4)


def qwen25_math_grade(completion: str, gold: str) -> bool:
    """Returns the Qwen2.5-Math evaluation verdict: loose extraction then ``math_equal``."""
    pred = extract_answer_loose(completion)
    return pred is not None and qwen_math_equal(pred, extract_boxed(gold) or gold)


_DS_UNITS = ("degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week", "month",
             "year", "foot", "feet", "inch", "yard", "unit", "dollar")


def _deepscaler_normalize(s: str) -> str:
    s = re.sub(r"\\text\{(.*?)\}", r"\1", s)
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "").replace("$", "").replace("\\!", "")
    s = s.replace("^\\circ", "").replace("^{\\circ}", "")
    for unit in _DS_UNITS:
        s = re.sub(rf"{unit}(es|s)?(\s*\^\s*\{{?\d\}}?)?\s*$", "", s.strip())
    s = re.sub(r"(\d),(\d\d\d)(?!\d)", r"\1\2", s).replace("\\,", "").replace(" ", "")
    return s.strip()


def deepscaler_equal(pred: str, gold: str) -> bool:
    """Returns ``grade_answer_mathd(pred, gold) or grade_answer_sympy(pred, gold)`` in deepscaler's style."""
    if pred is None:
        return False
    if hendrycks_strip(pred) == hendrycks_strip(gold):
        return True
    p, g = _deepscaler_normalize(pred), _deepscaler_normalize(gold)
    if not p or not g:
        return False
    if p == g:
        return True
    ps, gs = _split_elems(p), _split_elems(g)
    if (ps is None) != (gs is None):
        return False
    pairs = list(zip(ps[1], gs[1])) if ps and gs and ps[0] == gs[0] and len(ps[1]) == len(gs[1]) else None
    if ps and gs and pairs is None:
        return False
    for a, b in pairs or [(p, g)]:
        if re.fullmatch(r"-?\d+", b):
            if a != b and not (re.fullmatch(r"-?\d+\.0*", a) and float(a) == int(b)):
                return False
            continue
        if len(re.findall(r"[a-zA-Z]", re.sub(r"\\[a-zA-Z]+", "", a))) > 2 or "^{" in a and len(a) > 60:
            return False  # deepscaler's should_allow_eval guard
        if not _symbolic_equal(a, b, rel_tol=None):
            return False
    return True


def deepscaler_grade(completion: str, gold: str) -> bool:
    """Returns deepscaler's ``compute_score`` verdict: last box (no box: wrong), then mathd or sympy."""
    pred = extract_boxed(completion)
    return pred is not None and deepscaler_equal(pred, extract_boxed(gold) or gold)
