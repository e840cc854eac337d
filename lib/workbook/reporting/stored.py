"""Verdicts of stored runs, recomputed from their stored estimates under the current claims and rules.

A run's ``tables/reported_vs_reproduced.csv`` keeps each claim's estimate (value, lo, hi, n) beside the verdict
it was given when it ran. The summary and the site show the verdict the *current* ``reported/<paper>.yaml`` and
`workbook.reporting.verdicts` give that stored estimate, so that a stricter rule or a re-specified claim never
leaves an old, looser verdict on display. When a claim's quantity changed since the run (its ``unit`` no longer
matches what the table recorded) the stored estimate measures something else: the row reads
``needs rerun (claim re-specified)`` instead. Preconditions (``requires``) and base exclusions (``excludes_base``)
checked by a run under these rules are taken as the run found them (the table keeps only our estimate). Checks
and evidence are counted apart; a check is never evidence.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Mapping

from workbook.reporting.verdicts import CHECK_VERDICTS, EVIDENCE_VERDICTS, Checked, decide

STALE = "needs rerun (claim re-specified)"


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _claims(notebook: str) -> dict[str, dict] | None:
    from workbook.reporting.claims import REPORTED_DIR, load_reported

    if not (REPORTED_DIR / f"{notebook}.yaml").is_file():
        return None
    return {c["id"]: c for c in load_reported(notebook)}


def _same_quantity(claim: Mapping, row: Mapping) -> bool:
    """Whether the stored row measured the claim's current quantity (its unit, recorded or in the paper column)."""
    if row.get("unit"):
        return str(row["unit"]).strip() == str(claim["unit"]).strip()
    return str(claim["unit"]).strip() in str(row.get("paper", ""))


def recompute(notebook: str, profile: str, rows: list[Mapping], params: Mapping | None = None) -> list[dict]:
    """Return ``rows`` (CSV dicts) with ``verdict`` recomputed, ``recorded_verdict`` and ``kind`` added.

    Rows of notebooks without a reported file, or of claims no longer in it, keep their recorded verdict; so do
    runs whose profile is unknown. ``profile`` is the run folder's name; a ``custom-<hash>`` or overlay
    (``rehearsal``, ``cpu_long``) folder is judged at the profile recorded in its ``params``.
    """
    from workbook.params import PROFILES

    if profile not in PROFILES:                     # custom-<hash> and overlay folders: the profile that ran
        profile = str((params or {}).get("profile", ""))
    claims = _claims(notebook) if profile in PROFILES else None
    out = []
    for row in rows:
        r = dict(row)
        r["recorded_verdict"] = row.get("verdict", "")
        c = claims.get(str(row.get("claim_id"))) if claims else None
        if c is None:
            r.setdefault("kind", "")
            out.append(r)
            continue
        r["kind"] = c["kind"]
        value, lo, hi = (_num(row.get(k)) for k in ("value", "lo", "hi"))
        n = _num(row.get("n"))
        if value is not None and not _same_quantity(c, row):
            r["verdict"], r["note"] = STALE, f"this run measured {row.get('paper')!s}; the claim now reads {c['unit']}"
        else:
            est = None if value is None or lo is None or hi is None else \
                {"value": value, "lo": lo, "hi": hi, "n": None if n is None else int(n)}
            if row.get("verdict") == "untestable here" and (est is None or c.get("requires")):
                r["note"] = row.get("note", "")                 # the run's own reason (e.g. a failed precondition)
            else:
                if est is not None and c.get("requires"):
                    est = Checked(est, "checked when the run was made")
                if c.get("excludes_base") and row.get("unit"):
                    # a table written by these rules: the run compared the base (its table keeps only our
                    # estimate); older tables never did, so for them the rule applies and reads "untestable"
                    c = {**c, "excludes_base": False}
                v = decide(c, est, profile, params=params)
                r["verdict"], r["note"] = v.verdict, v.reason
        r["check"] = r["verdict"].removeprefix("check ") if r["verdict"] in CHECK_VERDICTS else ""
        out.append(r)
    return out


def count(rows: list[Mapping]) -> dict[str, Counter]:
    """Return verdict counts split three ways: ``evidence``, ``checks`` and ``undecided`` (everything else)."""
    out = {"evidence": Counter(), "checks": Counter(), "undecided": Counter()}
    for r in rows:
        v = str(r.get("verdict") or "?")
        key = "evidence" if v in EVIDENCE_VERDICTS else "checks" if v in CHECK_VERDICTS else "undecided"
        out[key][v] += 1
    return out


def is_dirty(record: Mapping, provenance: Mapping) -> bool:
    """Whether a run came from an uncommitted tree: run.json ``allow_dirty`` or a dirty git state recorded."""
    if record.get("allow_dirty"):
        return True
    return any(bool((src.get("git") or {}).get("dirty")) for src in (record, provenance))


def format_counts(c: dict[str, Counter]) -> tuple[str, str]:
    """Return ("3 reproduced of 7 evidence claims (…)", "2 checks passed of 2") for one run or notebook."""
    ev, ch = c["evidence"], c["checks"]
    n_ev = sum(ev.values())
    evidence = (f"{ev.get('reproduced', 0)} reproduced of {n_ev} tested ("
                + ", ".join(f"{n} {k}" for k, n in sorted(ev.items())) + ")") if n_ev else "none tested"
    if c["undecided"]:
        evidence += "; " + ", ".join(f"{n} {k}" for k, n in sorted(c["undecided"].items()))
    n_ch = sum(ch.values())
    checks = f"{ch.get('check passed', 0)} passed of {n_ch}" if n_ch else "—"
    return evidence, checks
