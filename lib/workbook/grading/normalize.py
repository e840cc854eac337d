"""Answer normalization for strict grading: LaTeX spelling, unicode, units, percent, structure (POLICY.md §2-§6).

``normalize_answer`` is pure string work (regexes, linear time), so it is cheap enough to build the cache key
of every completion. ``split_answer`` turns a normalized answer into a structure (scalar, tuple, set, list,
interval, union) whose elements ``split_unit`` separates into value, unit and percent flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNICODE = {
    "½": r"\frac{1}{2}", "⅓": r"\frac{1}{3}", "⅔": r"\frac{2}{3}", "¼": r"\frac{1}{4}", "¾": r"\frac{3}{4}",
    "⅕": r"\frac{1}{5}", "⅙": r"\frac{1}{6}", "⅛": r"\frac{1}{8}",
    "π": r"\pi ", "∞": r"\infty ", "−": "-", "–": "-", "×": r"\times ", "·": r"\cdot ", "÷": r"\div ",
    "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ", "∅": r"\emptyset ", "°": r"^\circ ", "∪": r"\cup ", "∩": r"\cap ",
    "\u2009": " ", "\u00a0": " ", "\u202f": " ", "\u200b": "", "²": "^2", "³": "^3", "θ": r"\theta ",
    "α": r"\alpha ", "β": r"\beta ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
_UNI_SQRT_RE = re.compile(r"√\s*(\{[^{}]*\}|\d+(?:\.\d+)?|[A-Za-z]|\\[A-Za-z]+)")

# Canonical unit names; aliases map onto them. Strict mode drops a unit only when the other side has none.
_UNIT_ALIASES = {
    "cm": "cm", "centimeter": "cm", "centimetre": "cm", "mm": "mm", "millimeter": "mm", "km": "km",
    "kilometer": "km", "kilometre": "km", "m": "m", "meter": "m", "metre": "m", "in": "in", "inch": "in",
    "inches": "in", "ft": "ft", "foot": "ft", "feet": "ft", "yd": "yd", "yard": "yd", "mi": "mi", "mile": "mi",
    "s": "s", "sec": "s", "second": "s", "min": "min", "minute": "min", "h": "h", "hr": "h", "hour": "h",
    "day": "day", "week": "week", "month": "month", "year": "year", "kg": "kg", "kilogram": "kg", "g": "g",
    "gram": "g", "lb": "lb", "pound": "lb", "oz": "oz", "ounce": "oz", "l": "l", "liter": "l", "litre": "l",
    "ml": "ml", "milliliter": "ml", "dollar": "dollar", "cent": "cent", "mph": "mph", "unit": "unit",
    "degree": "deg", "deg": "deg", "radian": "rad", "rad": "rad", "person": "person", "people": "person",
    "student": "student", "page": "page", "book": "book", "apple": "apple", "way": "way",
}
_UNIT_WORD = r"(?:[A-Za-z]+)"
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_THOUSANDS_RE = re.compile(r"(?<![\d.])(\d{1,3})((?:(?:\\,|\\;|\\:|\\!|\\ |\{,\}|~| )\d{3})+)(?![\d])")
_COMMA_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def _brace(arg: str) -> str:
    return arg if arg.startswith("{") else "{" + arg + "}"


_ARG = r"(\{[^{}]*\}|[0-9a-zA-Z]|\\(?!frac|sqrt|left|right|text)[a-zA-Z]+)"
_FRAC_SHORT_RE = re.compile(r"\\frac\s*" + _ARG + r"\s*" + _ARG)
_SQRT_SHORT_RE = re.compile(r"\\sqrt\s*(\[[^\]]*\])?\s*(?!\{)" + _ARG)
_MATRIX_RE = re.compile(r"\\begin\{([pbBvV]?matrix|array)\}(?:\{[^{}]*\})?(.*?)\\end\{\1\}", re.S)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80",
                      "ninety": "90", "hundred": "100", "thousand": "1000"})
_REALS = r"(?:\\mathbb\s*\{?R\}?|\\R\b|\\text\{\s*all real numbers\s*\}|all real numbers)"
_NAMED_SETS = [
    (re.compile(r"^" + _REALS + r"\s*(?:\^\s*\{?\+\}?|_\s*\{?\+\}?|_\s*\{\s*>\s*0\s*\})$"), "(0,\\infty)"),
    (re.compile(r"^" + _REALS + r"\s*(?:_\s*\{\s*(?:\\ge|\\geq|\\geqslant)\s*0\s*\}|\^\s*\{?\+\}?\s*_\s*\{?0\}?)$"),
     "[0,\\infty)"),
    (re.compile(r"^" + _REALS + r"\s*(?:\^\s*\{?-\}?|_\s*\{?-\}?|_\s*\{\s*<\s*0\s*\})$"), "(-\\infty,0)"),
    (re.compile(r"^" + _REALS + r"$"), "(-\\infty,\\infty)"),
]
_SETMINUS_RE = re.compile(r"^" + _REALS + r"\s*(?:\\setminus|\\backslash|-|\\smallsetminus)\s*\\\{\s*([^{}\\]+?)\s*\\\}$")
_INEQ_RE = re.compile(r"^(?:([^<>]+?)\s*(<|\\le|\\leq|\\leqslant)\s*)?([a-zA-Z])\s*(<|>|\\le|\\leq|\\leqslant|\\ge|\\geq|\\geqslant)\s*([^<>=]+)$")
_LEAD_TEXT_RE = re.compile(r"^\\text\{\s*([A-Za-z][A-Za-z ,:']*?)\s*:?\s*\}\s*(?=\S)")


def _canonical_matrix(m: re.Match) -> str:
    rows = [r for r in re.split(r"\\\\(?:\[[^\]]*\])?", m.group(2)) if r.strip()]
    return "\\begin{pmatrix}" + "\\\\".join("&".join(c.strip() for c in r.split("&")) for r in rows) + "\\end{pmatrix}"


def _named_set(s: str) -> str:
    """ℝ, ℝ^+, ℝ_{\\ge 0}, "all real numbers", ℝ∖{a} and one-variable inequalities as intervals (POLICY.md §5)."""
    for rx, canon in _NAMED_SETS:
        if rx.match(s):
            return canon
    m = _SETMINUS_RE.match(s)
    if m and "," not in m.group(1):
        a = m.group(1).strip()
        return f"(-\\infty,{a})\\cup({a},\\infty)"
    m = _INEQ_RE.match(s)
    if m and not re.search(r"[a-zA-Z]", re.sub(r"\\(?:infty|pi|frac|sqrt)", "", (m.group(1) or "") + m.group(5))):
        lo_val, lo_op, _, op, hi = m.groups()
        closed = op in ("\\le", "\\leq", "\\leqslant", "\\ge", "\\geq", "\\geqslant")
        if lo_val is not None:  # a < x < b (only the increasing form)
            if op not in ("<", "\\le", "\\leq", "\\leqslant"):
                return s
            return ("[" if lo_op != "<" else "(") + lo_val.strip() + "," + hi.strip() + ("]" if closed else ")")
        if op in ("<", "\\le", "\\leq", "\\leqslant"):
            return "(-\\infty," + hi.strip() + ("]" if closed else ")")
        return ("[" if closed else "(") + hi.strip() + ",\\infty)"
    return s


def normalize_answer(s: str) -> str:
    """Returns the canonical spelling of an answer string: same answer, same string (POLICY.md §2).

    Unicode (½, √2, π, °) to LaTeX; ``\\dfrac``/``\\tfrac`` to ``\\frac``; ``\\frac12`` to ``\\frac{1}{2}``;
    thin-space and ``{,}`` thousands separators removed; ``\\varnothing`` to ``\\emptyset``; ``\\sqrt{-1}`` to
    ``i``; ``$``, ``\\left``/``\\right``, ``\\displaystyle``, spacing commands and a trailing period dropped;
    a single-letter assignment ``x = 5`` reduced to ``5``. Never raises.
    """
    if not isinstance(s, str):
        return ""
    s = s.strip()
    if "\\begin{" in s:
        s = _MATRIX_RE.sub(_canonical_matrix, s)
    if "√" in s:
        s = _UNI_SQRT_RE.sub(lambda m: r"\sqrt" + _brace(m.group(1)), s)
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s)
    s = re.sub(r"^\\\$\s*(.+)$", r"\1 \\text{dollar}", s)
    s = s.replace("\\$", "").replace("$", "").replace("\\displaystyle", "").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = _FRAC_SHORT_RE.sub(lambda m: r"\frac" + _brace(m.group(1)) + _brace(m.group(2)), s)
    s = _SQRT_SHORT_RE.sub(lambda m: r"\sqrt" + (m.group(1) or "") + _brace(m.group(2)), s)
    s = re.sub(r"\\langle\s*(.*?)\s*\\rangle", r"(\1)", s)
    s = _THOUSANDS_RE.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), s)
    s = s.replace("{,}", ",")
    s = re.sub(r"\\varnothing|\\empty(?:set)?\b|\\\{\s*\\\}", r"\\emptyset", s)
    s = re.sub(r"\\sqrt\{-1\}", "i", s)
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree", r"\\text{deg}", s)
    s = s.replace("\\!", "").replace("\\,", " ").replace("\\;", " ").replace("\\:", " ").replace("\\ ", " ")
    s = s.replace("\\quad", " ").replace("\\qquad", " ").replace("~", " ")
    s = re.sub(r"\\(?:mathrm|textbf|textit|mbox|mathbf|operatorname)\s*\{", r"\\text{", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = s.rstrip(".").strip()
    m = re.match(r"^[a-zA-Z]\s*=\s*(?!.*=)(.+)$", s)
    if m:
        s = m.group(1).strip()
    for _ in range(3):  # "\text{The answer is } 5", "\text{there are } 12 \text{ ways}": the words carry no value
        m = _LEAD_TEXT_RE.match(s)
        if not m or not re.search(r"[\d\\]", s[m.end():]):
            break
        s = s[m.end():].strip()
    m = re.match(r"^[a-zA-Z]\s*=\s*(?!.*=)(.+)$", s)
    if m:
        s = m.group(1).strip()
    if re.fullmatch(r"\\text\{\s*\(?([A-Ea-e])\)?\s*\}|\(([A-Ea-e])\)", s):  # "(A)" / "\text{(A)}" choices
        s = re.sub(r"[^A-Ea-e]", "", s.replace("\\text", "")).upper()
    word = re.fullmatch(r"(?:\\text\{\s*)?([A-Za-z]+)(?:\s*\})?", s)
    if word and word.group(1).lower() in _NUMBER_WORDS:
        s = _NUMBER_WORDS[word.group(1).lower()]
    s = _named_set(s)
    return s


@dataclass(frozen=True)
class Structure:
    """A parsed answer shape: kind in {scalar, tuple, set, list, interval, union}; ``open_close`` for intervals."""

    kind: str
    items: tuple[str, ...]
    open_close: str = ""


def _split_top(s: str, seps: tuple[str, ...] = (",",)) -> list[str]:
    """Returns ``s`` split on separators at brace/bracket depth 0 (``\\{`` and ``\\}`` count as brackets)."""
    parts: list[str] = []
    depth = 0
    cur = []
    i = 0
    while i < len(s):
        if s.startswith("\\{", i) or s.startswith("\\}", i):
            depth += 1 if s[i + 1] == "{" else -1
            cur.append(s[i : i + 2])
            i += 2
            continue
        c = s[i]
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        matched = next((sep for sep in seps if depth == 0 and s.startswith(sep, i)), None)
        if matched is not None:
            parts.append("".join(cur).strip())
            cur = []
            i += len(matched)
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur).strip())
    return parts


def _wraps_whole(s: str, open_len: int) -> bool:
    """Returns True when the bracket opening at 0 closes at the very end (so "(1)+(2)" is not wrapped)."""
    depth = 0
    i = 0
    while i < len(s):
        if s.startswith("\\{", i) or s.startswith("\\}", i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
        else:
            depth += 1 if s[i] in "{([" else -1 if s[i] in "})]" else 0
            i += 1
        if depth == 0 and i < len(s):
            return False
    return True


def split_answer(s: str) -> Structure:
    """Returns the structure of a normalized answer (POLICY.md §5): sets, tuples, intervals, bare lists."""
    s = s.strip()
    if s == "\\emptyset":
        return Structure("set", ())
    if "\\cup" in s:
        parts = _split_top(s, ("\\cup",))
        if len(parts) > 1:
            return Structure("union", tuple(parts))
    if s.startswith("\\{") and s.endswith("\\}") and _wraps_whole(s, 2):
        inner = s[2:-2].strip()
        return Structure("set", tuple(p for p in _split_top(inner) if p) if inner else ())
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _wraps_whole(s, 1):
        items = _split_top(s[1:-1])
        if len(items) >= 2:
            if s[0] == "(" and s[-1] == ")":
                return Structure("tuple", tuple(items))  # a point or an open interval: same comparison
            if len(items) == 2:
                return Structure("interval", tuple(items), s[0] + s[-1])
            return Structure("tuple", tuple(items), s[0] + s[-1])
    if _COMMA_THOUSANDS_RE.match(s):
        return Structure("scalar", (s,))
    pm = _split_top(s, ("\\pm",))
    if len(pm) == 2 and pm[1]:
        left, right = pm
        if not left:
            return Structure("list", (right, "-(" + right + ")"))
        return Structure("list", (left + "+(" + right + ")", left + "-(" + right + ")"))
    items = [p for p in _split_top(s, (",", "\\text{ and }", "\\text{and}", " and ", ";")) if p]
    if len(items) >= 2:
        return Structure("list", tuple(items))
    return Structure("scalar", (s,))


_TRAILING_TEXT_RE = re.compile(r"^(.*?)\s*\\text\{\s*([^{}]*?)\s*\}\s*(\^\{?[23]\}?)?$")
_TRAILING_WORD_RE = re.compile(r"^(.*?[\d}\s])\s*(" + _UNIT_WORD + r"(?:\s+" + _UNIT_WORD + r")?)\s*(\^\{?[23]\}?)?$")


def _canonical_unit(word: str, power: str | None) -> str | None:
    if "/" in word or " per " in word:  # km/h, m/s, miles per hour
        num, den = re.split(r"\s*/\s*|\s+per\s+", word.strip(), maxsplit=1)
        a, b = _canonical_unit(num, power), _canonical_unit(den, None)
        return None if a is None or b is None or "/" in a + b else a + "/" + b
    words = word.lower().replace("square", "").replace("sq", "").replace("cubic", "").split()
    if not words:
        return None
    w = words[-1]
    if w not in _UNIT_ALIASES and w.endswith("s") and w[:-1] in _UNIT_ALIASES:
        w = w[:-1]
    if w not in _UNIT_ALIASES or len(words) > 2:
        return None
    sq = "^2" if "square" in word.lower() or "sq" in word.lower().split() else ""
    cube = "^3" if "cubic" in word.lower() else ""
    pw = re.sub(r"\D", "", power or "")
    return _UNIT_ALIASES[w] + (sq or cube or (("^" + pw) if pw else ""))


def split_unit(s: str) -> tuple[str, str | None, bool]:
    """Returns (value, canonical unit or None, is_percent) for one scalar answer (POLICY.md §3-§4).

    A unit is recognized only from the list of known units, in ``\\text{}`` or after a space/number, so a
    variable (``5x``) is never taken for a unit. A leading ``\\$`` is the unit "dollar".
    """
    s = s.strip()
    unit: str | None = None
    pct = False
    if s.endswith("\\%") or s.endswith("%"):
        pct = True
        s = s[:-2] if s.endswith("\\%") else s[:-1]
        s = s.strip()
    if s.startswith("\\$"):
        s, unit = s[2:].strip(), "dollar"
    m = _TRAILING_TEXT_RE.match(s)
    if m and m.group(1).strip():
        u = _canonical_unit(m.group(2), m.group(3))
        if u is not None:
            s, unit = m.group(1).strip(), u
        elif not m.group(2).strip():
            s = m.group(1).strip()
    else:
        m = _TRAILING_WORD_RE.match(s)
        if m and m.group(1).strip() and re.search(r"\d", m.group(1)):
            word = m.group(2)
            spaced = s[m.end(1) : m.end(1) + 1].isspace() or m.group(1).endswith(" ")
            if len(word) > 1 or spaced:  # "5m" stays; "5 m" is 5 metres
                u = _canonical_unit(word, m.group(3))
                if u is not None:
                    s, unit = m.group(1).strip(), u
    if s.endswith("\\%") or s.endswith("%"):
        pct = True
        s = (s[:-2] if s.endswith("\\%") else s[:-1]).strip()
    if _COMMA_THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = re.sub(r"^\\text\{\s*([^{}]*?)\s*\}$", r"\1", s)
    return s, unit, pct


def canonical_text(s: str) -> str:
    """Returns the string used for exact string comparison: no spaces, ``\\text{}`` unwrapped."""
    s = _TEXT_CMD_RE.sub(r"\1", s)
    return re.sub(r"\s+", "", s)
