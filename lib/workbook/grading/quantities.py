"""Quantities with units: ``1\\text{ m}`` = ``100\\text{ cm}``, ``2\\text{ ft }6\\text{ in}`` = ``30\\text{ inches}``.

POLICY.md §4. A quantity is one or more ``number unit`` terms of the same dimension (``1\\text{ h }30\\text{ min}``),
or a compound unit (``\\text{km/h}``, ``\\text{m}^2``). Two quantities are equal when their dimensions agree and
their values, converted exactly (``Fraction`` factors; inch = 0.0254 m, pound = 0.45359237 kg), are equal.
Counted things (``apples``, ``ways``) are their own dimension and never convert. Degrees and radians are not
converted into each other.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .numbers import parse_number

# canonical unit -> (dimension exponents {base: power}, factor to the base unit)
_F = Fraction
_BASE: dict[str, tuple[dict[str, int], Fraction]] = {
    "mm": ({"L": 1}, _F(1, 1000)), "cm": ({"L": 1}, _F(1, 100)), "m": ({"L": 1}, _F(1)), "km": ({"L": 1}, _F(1000)),
    "in": ({"L": 1}, _F(127, 5000)), "ft": ({"L": 1}, _F(381, 1250)), "yd": ({"L": 1}, _F(1143, 1250)),
    "mi": ({"L": 1}, _F(201168, 125)),
    "s": ({"T": 1}, _F(1)), "min": ({"T": 1}, _F(60)), "h": ({"T": 1}, _F(3600)), "day": ({"T": 1}, _F(86400)),
    "week": ({"T": 1}, _F(604800)),
    "g": ({"M": 1}, _F(1, 1000)), "kg": ({"M": 1}, _F(1)), "lb": ({"M": 1}, _F(45359237, 100000000)),
    "oz": ({"M": 1}, _F(45359237, 1600000000)),
    "l": ({"L": 3}, _F(1, 1000)), "ml": ({"L": 3}, _F(1, 1000000)),
    "dollar": ({"$": 1}, _F(1)), "cent": ({"$": 1}, _F(1, 100)),
    "mph": ({"L": 1, "T": -1}, _F(201168, 125) / 3600),
}


def unit_dimension(unit: str) -> tuple[tuple[tuple[str, int], ...], Fraction]:
    """Returns (dimension, factor) of a canonical unit such as ``cm``, ``m^2``, ``km/h``; unknown units count."""
    num, _, den = unit.partition("/")
    dims: dict[str, int] = {}
    factor = Fraction(1)
    for part, sign in ((num, 1), (den, -1)):
        if not part:
            continue
        name, _, pw = part.partition("^")
        power = int(pw) if pw.isdigit() else 1
        d, f = _BASE.get(name, ({"#" + name: 1}, Fraction(1)))
        for k, v in d.items():
            dims[k] = dims.get(k, 0) + sign * v * power
        factor *= f ** (sign * power)
    return tuple(sorted((k, v) for k, v in dims.items() if v)), factor


_TERM_RE = re.compile(r"\s*(-?[\d.]+(?:\\frac\{\d+\}\{\d+\})?)\s*\\text\{\s*([A-Za-z][A-Za-z ]*?)\s*\}\s*(\^\{?[23]\}?)?")


def quantity(s: str, canonical_unit) -> tuple[tuple, Fraction] | None:
    """Returns (dimension, value in base units) for ``s`` made of ``number \\text{unit}`` terms, else None.

    ``canonical_unit(word, power)`` maps a unit word to its canonical name (normalize._canonical_unit).
    """
    pos, dim, total, terms = 0, None, Fraction(0), 0
    s = s.strip()
    while pos < len(s):
        m = _TERM_RE.match(s, pos)
        if not m:
            return None
        n = parse_number(m.group(1))
        u = canonical_unit(m.group(2), m.group(3))
        if n is None or u is None:
            return None
        d, f = unit_dimension(u)
        if dim is not None and d != dim:
            return None
        dim, total, terms, pos = d, total + n.value * f, terms + 1, m.end()
    return (dim, total) if terms else None


def quantities_equal(pv: str, pu: str, gv: str, gu: str) -> bool | None:
    """Returns whether ``pv pu`` equals ``gv gu`` after exact conversion; None when a value is not a plain number."""
    pn, gn = parse_number(pv), parse_number(gv)
    if pn is None or gn is None:
        return None
    pd, pf = unit_dimension(pu)
    gd, gf = unit_dimension(gu)
    return pd == gd and pn.value * pf == gn.value * gf
