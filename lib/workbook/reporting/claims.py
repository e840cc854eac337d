"""Reported claims (one YAML file per paper) and the reported-vs-reproduced table built from our 95% CIs.

One file per paper, ``lib/workbook/reported/<paper>.yaml``::

    method: nsr                         # must equal the file name
    paper: "Zhu et al. 2025, ..."
    design:                             # optional: the notebook parameters that size a design (for power)
      problems: n_eval_problems         #   a parameter name (a list counts its items) or a number
      samples: eval_n
      seeds: seeds
    claims:
      - id: NSR-1a                      # unique within the file
        claim: "NSR improves pass@1 over the base model"          # one sentence
        setting:                        # structured: what the paper's number was measured on
          model: "Qwen2.5-Math-7B"
          benchmark: "MATH500"
          sampling: "n = 256, T = 0.6, top-p 0.95"
          steps: "~110 RL steps"
          grader: "Qwen2.5-Math math_equal"
          match: {model: qwen2.5-math-7b, eval_n: 256}   # optional: resolved parameters a paper-profile run needs
        value: null                     # the paper's number, or null for a qualitative claim
        unit: "pass@1 NSR − base"       # what `value` (and our estimate) measures
        source: "Abstract; Sec. 3"      # table / figure / line where the paper states it
        kind: direction                 # value | direction | at_least | at_most | check
        expected_sign: "+"              # direction only
        min_effect: 0.0                 # direction only: smallest effect that counts
        tolerance: 0.02                 # value / at_least / at_most / check: allowed absolute gap
        why: "..."                      # REQUIRED: where tolerance / min_effect come from, in the paper's terms
        relation: "="                   # check only: "=", ">=" or "<="
        excludes_base: false            # the untrained base must fail the claim, else "untestable here"
        requires: "GRPO beats the base" # optional precondition: decided only on estimates passed through `requires`
        expected_effect:                # REQUIRED for scale: any (non-check) claims: pre-registered, for power
          value: 0.05                   #   the effect expected at toy scale, in `unit`
          why: "..."                    #   the reason, stated before running
          model: accuracy               #   accuracy (Bernoulli samples) | continuous (needs sd)
        scale: any                      # any (testable at every profile) | paper (paper profile only)

Verdict rules: `workbook.reporting.verdicts`. Power of a design: `workbook.reporting.power`.

How a notebook uses it (``params``: its resolved parameters, the dict it records in its provenance)::

    from workbook.metrics import hierarchical_contrast, hierarchical_difference
    from workbook.reporting import reported_vs_reproduced, requires, untestable
    from workbook.reporting.power import print_power

    print_power("nsr", params)                                  # before running: each claim's pre-registered power
    ...
    reproduced = {
        "NSR-1a": hierarchical_difference(nsr_pass1, base_pass1),            # (seeds, problems) arrays
        "NSR-3a": requires(hierarchical_difference(grpo, base), "GRPO beats the base",
                           hierarchical_contrast([nsr, base, grpo], [1, -0.5, -0.5])),
        "D1": {"estimate": observed_minus_predicted, "base": observed_minus_p0},   # excludes_base claims
        "D2": untestable("no problem has p_IC > p_CI"),                       # the run could not decide it
    }
    table = reported_vs_reproduced("nsr", reproduced, profile, params=params)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from workbook.reporting.verdicts import (
    CHECK_VERDICTS, EVIDENCE_VERDICTS, UNDECIDED_VERDICTS, VERDICTS, Untestable, as_estimate, decide,
    requires, setting_differences, untestable,
)

log = logging.getLogger(__name__)

__all__ = ["CHECK_VERDICTS", "CLAIM_KINDS", "EVIDENCE_VERDICTS", "REPORTED_DIR", "ReportedSchemaError",
           "SETTING_FIELDS", "UNDECIDED_VERDICTS", "VERDICTS", "Untestable", "available_methods",
           "format_paper_value", "format_setting", "load_reported", "load_reported_file", "reported_vs_reproduced",
           "requires", "setting_differences", "untestable", "validate_claim", "verdict"]

CLAIM_KINDS: tuple[str, ...] = ("value", "direction", "at_least", "at_most", "check")
SETTING_FIELDS: tuple[str, ...] = ("model", "benchmark", "sampling", "steps", "grader")
REPORTED_DIR = Path(__file__).resolve().parent.parent / "reported"


class ReportedSchemaError(ValueError):
    """A reported/<paper>.yaml file does not follow the schema in this module's docstring."""


_REQUIRED = ("id", "claim", "setting", "value", "unit", "source", "kind", "why")


def available_methods() -> list[str]:
    """Return the papers that have a reported/<paper>.yaml file."""
    return sorted(p.stem for p in REPORTED_DIR.glob("*.yaml"))


def _validate_setting(c: dict, where: str) -> None:
    s = c["setting"]
    if not isinstance(s, Mapping):
        raise ReportedSchemaError(f"{where} claim {c['id']}: setting must be a mapping with {SETTING_FIELDS}, "
                                  f"got {type(s).__name__}")
    missing = [k for k in SETTING_FIELDS if k not in s]
    if missing:
        raise ReportedSchemaError(f"{where} claim {c['id']}: setting lacks {missing} (write '—' if not applicable)")
    if "match" in s and not isinstance(s["match"], Mapping):
        raise ReportedSchemaError(f"{where} claim {c['id']}: setting.match must map parameter → value")


def _validate_expected_effect(c: dict, where: str) -> None:
    ee = c.get("expected_effect")
    if ee is None:
        if c["scale"] == "any" and c["kind"] != "check":
            raise ReportedSchemaError(f"{where} claim {c['id']}: a claim testable at the cpu profile needs "
                                      f"expected_effect: {{value, why}} (pre-registered, for power)")
        return
    if not isinstance(ee, Mapping) or not isinstance(ee.get("value"), (int, float)) or not str(ee.get("why", "")).strip():
        raise ReportedSchemaError(f"{where} claim {c['id']}: expected_effect needs a numeric value and a why")
    if ee.get("model", "accuracy") not in ("accuracy", "continuous"):
        raise ReportedSchemaError(f"{where} claim {c['id']}: expected_effect.model must be accuracy or continuous")
    if ee.get("model") == "continuous" and not isinstance(ee.get("sd"), (int, float)):
        raise ReportedSchemaError(f"{where} claim {c['id']}: a continuous expected_effect needs sd (per unit)")


def validate_claim(claim: Mapping, where: str = "") -> dict:
    """Return ``claim`` with defaults filled in; ReportedSchemaError when it breaks the schema above."""
    if not isinstance(claim, Mapping):
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
    if not str(c["why"]).strip():
        raise ReportedSchemaError(f"{where} claim {c['id']}: empty why (the paper's reason for the tolerance or "
                                  f"min_effect)")
    c.setdefault("scale", "any")
    if c["scale"] not in ("any", "paper"):
        raise ReportedSchemaError(f"{where} claim {c['id']}: scale must be 'any' or 'paper', got {c['scale']!r}")
    if c["kind"] == "direction":
        if c.get("expected_sign") not in ("+", "-"):
            raise ReportedSchemaError(f"{where} claim {c['id']}: direction claims need expected_sign '+' or '-'")
        if not isinstance(c.get("min_effect"), (int, float)) or c["min_effect"] < 0:
            raise ReportedSchemaError(f"{where} claim {c['id']}: direction claims need min_effect >= 0 (with why)")
    else:
        if c["value"] is None:
            raise ReportedSchemaError(f"{where} claim {c['id']}: kind {c['kind']} needs a numeric value")
        if not isinstance(c.get("tolerance"), (int, float)) or c["tolerance"] < 0:
            raise ReportedSchemaError(f"{where} claim {c['id']}: kind {c['kind']} needs tolerance >= 0 (with why)")
    if c["kind"] == "check":
        c.setdefault("relation", "=")
        if c["relation"] not in ("=", ">=", "<="):
            raise ReportedSchemaError(f"{where} claim {c['id']}: relation must be '=', '>=' or '<='")
    c["excludes_base"] = bool(c.get("excludes_base", False))
    _validate_setting(c, where)
    _validate_expected_effect(c, where)
    return c


def load_reported_file(path: Path) -> dict:
    """Return the whole validated document of one reported file (method, paper, design, claims)."""
    import yaml

    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if doc.get("method") != path.stem:
        raise ReportedSchemaError(f"{path.name}: 'method' is {doc.get('method')!r}, expected {path.stem!r}")
    claims = doc.get("claims")
    if not isinstance(claims, list) or not claims:
        raise ReportedSchemaError(f"{path.name}: 'claims' must be a non-empty list")
    out = [validate_claim(c, path.name) for c in claims]
    ids = [c["id"] for c in out]
    if len(set(ids)) != len(ids):
        raise ReportedSchemaError(f"{path.name}: duplicate claim ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return {**doc, "claims": out, "design": dict(doc.get("design") or {})}


def load_reported(method: str) -> list[dict]:
    """Return the validated claims of ``reported/<method>.yaml`` (schema in this module's docstring)."""
    path = REPORTED_DIR / f"{method}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no reported numbers for {method!r} ({path}); "
                                f"available: {', '.join(available_methods()) or 'none'}")
    return load_reported_file(path)["claims"]


def verdict(claim: Mapping, estimate: Any, profile: str, *, params: Mapping | None = None) -> str:
    """Return the verdict string for one claim (rules: `workbook.reporting.verdicts`)."""
    return decide(validate_claim(claim), estimate, profile, params=params).verdict


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.4g}"


def format_paper_value(claim: Mapping) -> str:
    """Return the paper's number as printed in the table (with unit), or the qualitative statement."""
    if claim["kind"] == "direction":
        m = float(claim.get("min_effect") or 0.0)
        op = ">" if claim["expected_sign"] == "+" else "<"
        bound = _fmt(m if claim["expected_sign"] == "+" else -m) if m else "0"
        return f"{op} {bound} ({claim['unit']})"
    if claim["kind"] == "check":
        rel = {"=": "= ", ">=": "≥ ", "<=": "≤ "}[claim.get("relation", "=")]
        tol = f" ± {_fmt(claim['tolerance'])}" if claim.get("tolerance") and claim.get("relation", "=") == "=" else ""
        return f"{rel}{_fmt(claim['value'])}{tol} ({claim['unit']})"
    prefix = {"at_least": "≥ ", "at_most": "≤ "}.get(claim["kind"], "")
    tol = f" ± {_fmt(claim['tolerance'])}" if claim.get("tolerance") else ""
    return f"{prefix}{_fmt(claim['value'])}{tol} ({claim['unit']})"


def format_setting(setting: Mapping | str) -> str:
    """Return the structured setting as one line: model; benchmark; sampling; steps; grader."""
    if not isinstance(setting, Mapping):
        return str(setting)
    parts = [str(setting[k]) for k in SETTING_FIELDS if str(setting.get(k, "—")).strip() not in ("", "—")]
    return "; ".join(parts)


def runner_params() -> dict | None:
    """Return the resolved parameters the runner wrote for this run (``$WORKBOOK_RUN_DIR/parameters.yaml``), if any."""
    import os

    import yaml

    from workbook.paths import RUN_DIR_ENV

    path = Path(os.environ.get(RUN_DIR_ENV, "")) / "parameters.yaml" if os.environ.get(RUN_DIR_ENV) else None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def reported_vs_reproduced(method: str, reproduced: Mapping[str, Any], profile: str, *,
                           params: Mapping | None = None):
    """Return the reported-vs-reproduced table (pandas.DataFrame), one row per claim of ``reported/<method>.yaml``.

    ``reproduced`` maps claim id → Estimate (value, lo, hi, n; 95% CI), `untestable(reason)`, a dict
    ``{"estimate": ..., "base": ...}`` (claims with ``excludes_base``), or None / absent when not measured.
    ``params``: the run's resolved parameters, needed at the ``paper`` profile to check each claim's setting
    (default: what the runner wrote for this run, `runner_params`; without either, paper-profile claims with a
    ``setting.match`` read "not comparable").
    Columns: claim_id, claim, setting, paper, reproduced ("value [lo, hi]"), n (problems or units), verdict,
    n_seeds (seeds behind a hierarchical estimate, else empty), check ("passed" /
    "failed" for checks, empty for evidence), kind, note (why a claim is untestable / not comparable), source,
    and the numbers (paper_value, value, lo, hi, unit) for machines.
    Unknown claim ids in ``reproduced`` are an error (a typo would otherwise silently read "not run").
    """
    import pandas as pd

    claims = load_reported(method)
    if params is None:
        params = runner_params()
    known = {c["id"] for c in claims}
    unknown = sorted(set(reproduced) - known)
    if unknown:
        raise KeyError(f"reproduced estimates for unknown claim ids {unknown} of {method!r}; known: {sorted(known)}")
    rows = []
    for c in claims:
        given = reproduced.get(c["id"])
        est = as_estimate(given)
        v = decide(c, given, profile, params=params)
        finite = est is not None and all(x == x for x in (est.value, est.lo, est.hi))
        rows.append({
            "claim_id": c["id"],
            "claim": c["claim"],
            "setting": format_setting(c["setting"]),
            "paper": format_paper_value(c),
            "reproduced": "—" if not finite else f"{_fmt(est.value)} [{_fmt(est.lo)}, {_fmt(est.hi)}]",
            "n": None if est is None else est.n,
            "verdict": v.verdict,
            "check": v.verdict.removeprefix("check ") if c["kind"] == "check" and v.verdict in CHECK_VERDICTS else "",
            "kind": c["kind"],
            "note": v.reason,
            "source": c["source"],
            "paper_value": c["value"],
            "value": None if not finite else est.value,
            "lo": None if not finite else est.lo,
            "hi": None if not finite else est.hi,
            "unit": c["unit"],
            "n_seeds": None if est is None else est.n_seeds,
        })
    df = pd.DataFrame(rows)
    df["n"] = df["n"].astype("Int64")
    df["n_seeds"] = df["n_seeds"].astype("Int64")
    return df
