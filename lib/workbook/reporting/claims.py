"""Reported numbers (one YAML file per paper) and the verdicts computed from our 95% CIs.

One YAML file per method, ``lib/workbook/reported/<method>.yaml``::

    method: nsr                       # must equal the file name
    paper: "Zhu et al. 2025, The Surprising Effectiveness of Negative Reinforcement ..., arXiv 2506.01347"
    claims:
      - id: NSR-1                     # unique within the file; the notebook's claim numbering
        claim: "NSR alone keeps pass@256 at or above the base model"   # one sentence
        setting: "Qwen2.5-Math-7B, MATH, T=0.6, 256 samples, math-verify"  # model, benchmark, sampling, grader
        value: 0.912                  # the paper's number, or null when the claim is qualitative
        unit: "pass@256"              # what `value` (and the reproduced estimate) measures
        source: "Table 2"             # table / figure / README line where the number is printed
        kind: value                   # value | direction | at_least | at_most (verdict rules below)
        tolerance: 0.02               # value/at_least/at_most: allowed absolute gap (same unit as value)
        expected_sign: "+"            # direction only: "+" or "-"; the reproduced estimate is a difference
        min_effect: 0.0               # direction only, optional: smallest effect that counts as "there"
        scale: any                    # any (testable at every profile) | paper (only at the paper profile)

Verdict rules (``verdict(claim, estimate, profile)``), with ``[lo, hi]`` the reproduced 95% CI:

- no estimate (``None``), or ``scale: paper`` at a profile other than ``paper`` → ``"not run at this scale"``;
- ``value``: equivalence test against the band ``[value - tolerance, value + tolerance]``:
  CI inside the band → ``"reproduced"``; CI disjoint from the band → ``"not reproduced"``;
  otherwise (CI straddles an edge of the band: too wide to tell) → ``"inconclusive"``;
- ``direction`` (estimate = ours minus the comparison, e.g. NSR − base), for ``expected_sign: "+"``:
  ``lo > min_effect`` → reproduced; ``hi < 0`` (effect has the opposite sign) or, when ``min_effect > 0``,
  ``hi < min_effect`` (effect excluded from being as large as claimed) → not reproduced; else inconclusive.
  ``"-"`` mirrors it;
- ``at_least`` (our number should reach ``value - tolerance``): ``lo >= value - tolerance`` → reproduced,
  ``hi < value - tolerance`` → not reproduced, else inconclusive. ``at_most`` mirrors it.
"""


from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from workbook.paths import repo_root, results_root

log = logging.getLogger(__name__)

from workbook.params import PROFILES
from workbook.reporting.io import atomic_write_text, markdown_table

log = logging.getLogger(__name__)

CLAIM_KINDS: tuple[str, ...] = ("value", "direction", "at_least", "at_most")
VERDICTS: tuple[str, ...] = ("reproduced", "not reproduced", "inconclusive", "not run at this scale")
REPORTED_DIR = Path(__file__).resolve().parent.parent / "reported"


# --------------------------------------------------------------------------------------------------------------
# reported numbers and verdicts
# --------------------------------------------------------------------------------------------------------------

class ReportedSchemaError(ValueError):
    """A reported/<method>.yaml file does not follow the schema in this module's docstring."""


_REQUIRED = ("id", "claim", "setting", "value", "unit", "source", "kind")


def available_methods() -> list[str]:
    """Return the methods that have a reported/<method>.yaml file."""
    return sorted(p.stem for p in REPORTED_DIR.glob("*.yaml"))


def validate_claim(claim: dict, where: str = "") -> dict:
    """Return ``claim`` with defaults filled in (scale, tolerance, min_effect); ReportedSchemaError when malformed."""
    if not isinstance(claim, dict):
        raise ReportedSchemaError(f"{where}: each claim must be a mapping, got {type(claim).__name__}")
    missing = [k for k in _REQUIRED if k not in claim]
    if missing:
        raise ReportedSchemaError(f"{where} claim {claim.get('id', '?')!r}: missing keys {missing}")
    c = dict(claim)
    c["id"] = str(c["id"])
    if c["kind"] not in CLAIM_KINDS:
        raise ReportedSchemaError(f"{where} claim {c['id']}: kind {c['kind']!r} not in {CLAIM_KINDS}")
    if c["value"] is not None and not isinstance(c["value"], (int, float)):
        raise ReportedSchemaError(f"{where} claim {c['id']}: value must be a number or null, got {c['value']!r}")
    if not str(c["source"]).strip():
        raise ReportedSchemaError(f"{where} claim {c['id']}: empty source (table / figure / README line)")
    c.setdefault("scale", "any")
    if c["scale"] not in ("any", "paper"):
        raise ReportedSchemaError(f"{where} claim {c['id']}: scale must be 'any' or 'paper', got {c['scale']!r}")
    c.setdefault("tolerance", 0.0)
    if c["kind"] in ("value", "at_least", "at_most") and c["value"] is None:
        raise ReportedSchemaError(f"{where} claim {c['id']}: kind {c['kind']} needs a numeric value")
    if c["kind"] == "direction":
        if c.get("expected_sign") not in ("+", "-"):
            raise ReportedSchemaError(f"{where} claim {c['id']}: direction claims need expected_sign '+' or '-'")
        c.setdefault("min_effect", 0.0)
    return c


def load_reported(method: str) -> list[dict]:
    """Return the validated claims of ``reported/<method>.yaml`` (schema in this module's docstring)."""
    import yaml

    path = REPORTED_DIR / f"{method}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no reported numbers for method {method!r} ({path}); "
                                f"available: {', '.join(available_methods()) or 'none'}")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if doc.get("method") != method:
        raise ReportedSchemaError(f"{path.name}: 'method' is {doc.get('method')!r}, expected {method!r}")
    claims = doc.get("claims")
    if not isinstance(claims, list) or not claims:
        raise ReportedSchemaError(f"{path.name}: 'claims' must be a non-empty list")
    out = [validate_claim(c, path.name) for c in claims]
    ids = [c["id"] for c in out]
    if len(set(ids)) != len(ids):
        raise ReportedSchemaError(f"{path.name}: duplicate claim ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return out


@dataclass(frozen=True)
class _Est:
    value: float
    lo: float
    hi: float
    n: int | None


def _as_estimate(est: Any) -> _Est | None:
    """Return a uniform view of a workbook.metrics.Estimate, a dict with value/lo/hi/n, or None."""
    if est is None:
        return None
    get = est.get if isinstance(est, dict) else (lambda k, d=None: getattr(est, k, d))
    value, lo, hi = get("value"), get("lo"), get("hi")
    if value is None or lo is None or hi is None:
        raise ValueError(f"a reproduced estimate needs value, lo and hi; got {est!r}")
    value, lo, hi = float(value), float(lo), float(hi)
    if not all(math.isfinite(x) for x in (value, lo, hi)):
        return None  # a NaN estimate (e.g. no problems evaluated) is no estimate
    if lo > hi:
        raise ValueError(f"estimate has lo > hi: {est!r}")
    n = get("n")
    return _Est(value, lo, hi, None if n is None else int(n))


def verdict(claim: dict, estimate: Any, profile: str) -> str:
    """Return the verdict for one claim given our 95%-CI estimate (rules in this module's docstring)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    c = validate_claim(claim)
    est = _as_estimate(estimate)
    if est is None or (c["scale"] == "paper" and profile != "paper"):
        return "not run at this scale"
    tol = float(c.get("tolerance") or 0.0)
    kind = c["kind"]
    if kind == "value":
        band_lo, band_hi = c["value"] - tol, c["value"] + tol
        if band_lo <= est.lo and est.hi <= band_hi:
            return "reproduced"
        if est.hi < band_lo or est.lo > band_hi:
            return "not reproduced"
        return "inconclusive"
    if kind == "direction":
        sign = 1.0 if c["expected_sign"] == "+" else -1.0
        lo, hi = sorted((sign * est.lo, sign * est.hi))  # flip so that the expected effect is positive
        m = float(c.get("min_effect") or 0.0)
        if lo > m:
            return "reproduced"
        if hi < 0 or (m > 0 and hi < m):
            return "not reproduced"
        return "inconclusive"
    threshold = c["value"] - tol if kind == "at_least" else c["value"] + tol
    if kind == "at_least":
        return "reproduced" if est.lo >= threshold else "not reproduced" if est.hi < threshold else "inconclusive"
    return "reproduced" if est.hi <= threshold else "not reproduced" if est.lo > threshold else "inconclusive"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.4g}"


def format_paper_value(claim: dict) -> str:
    """Return the paper's number as printed in the table (with unit), or the qualitative statement for null values."""
    if claim["value"] is None:
        if claim["kind"] == "direction":
            return f"{'> 0' if claim['expected_sign'] == '+' else '< 0'} ({claim['unit']})"
        return "—"
    prefix = {"at_least": "≥ ", "at_most": "≤ "}.get(claim["kind"], "")
    tol = f" ± {_fmt(claim['tolerance'])}" if claim.get("tolerance") else ""
    return f"{prefix}{_fmt(claim['value'])}{tol} ({claim['unit']})"


def reported_vs_reproduced(method: str, reproduced: dict[str, Any], profile: str):
    """Return the reported-vs-reproduced table (pandas.DataFrame), one row per claim of ``reported/<method>.yaml``.

    evaluation.md § Reported-vs-reproduced. ``reproduced`` maps claim id → Estimate (value, lo, hi, n; 95% CI)
    or None when the claim was not measured. Columns: claim_id, claim, setting, paper, reproduced
    ("value [lo, hi]"), n, verdict, source, plus the numbers (paper_value, value, lo, hi) for machines.
    Unknown claim ids in ``reproduced`` are an error (a typo would otherwise silently read "not run").
    """
    import pandas as pd

    claims = load_reported(method)
    known = {c["id"] for c in claims}
    unknown = sorted(set(reproduced) - known)
    if unknown:
        raise KeyError(f"reproduced estimates for unknown claim ids {unknown} of {method!r}; known: {sorted(known)}")
    rows = []
    for c in claims:
        est = _as_estimate(reproduced.get(c["id"]))
        rows.append({
            "claim_id": c["id"],
            "claim": c["claim"],
            "setting": c["setting"],
            "paper": format_paper_value(c),
            "reproduced": "—" if est is None else f"{_fmt(est.value)} [{_fmt(est.lo)}, {_fmt(est.hi)}]",
            "n": None if est is None else est.n,
            "verdict": verdict(c, reproduced.get(c["id"]), profile),
            "source": c["source"],
            "paper_value": c["value"],
            "value": None if est is None else est.value,
            "lo": None if est is None else est.lo,
            "hi": None if est is None else est.hi,
        })
    df = pd.DataFrame(rows)
    df["n"] = df["n"].astype("Int64")
    return df
