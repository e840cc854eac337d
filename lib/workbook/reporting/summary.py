"""The results summary: ``results/summary.{md,html,json}`` from every ``run.json`` under the results tree.

Smoke runs test the machinery and are left out. Verdicts are recomputed from each run's stored estimates under the
current claims (`workbook.reporting.stored`); evidence and checks are counted in separate columns, and runs from
an uncommitted tree are flagged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbook.params import PROFILES, course_key
from workbook.paths import results_root
from workbook.reporting.io import atomic_write_text, dumps_deterministic, markdown_table
from workbook.reporting.stored import count, format_counts, is_dirty, recompute


def read_headline(run_dir: Path) -> dict:
    """Return ``metrics.json["headline"]`` of a run directory ({} when absent or unreadable)."""
    try:
        headline = json.loads((run_dir / "metrics.json").read_text()).get("headline", {})
        return headline if isinstance(headline, dict) else {}
    except (OSError, ValueError):
        return {}


def read_verdict_rows(run_dir: Path, notebook: str, profile: str, params: dict | None) -> list[dict]:
    """Return the rows of ``tables/reported_vs_reproduced.csv`` with verdicts recomputed ([] when absent)."""
    import csv

    path = run_dir / "tables" / "reported_vs_reproduced.csv"
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return []
    return recompute(notebook, profile, rows, params)


def read_verdicts(run_dir: Path) -> dict[str, int]:
    """Return verdict → count as recorded in ``tables/reported_vs_reproduced.csv`` ({} when absent)."""
    import csv

    counts: dict[str, int] = {}
    try:
        with (run_dir / "tables" / "reported_vs_reproduced.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                v = row.get("verdict") or "?"
                counts[v] = counts.get(v, 0) + 1
    except OSError:
        return {}
    return counts


def read_verdict_counts(run_dir: Path, notebook: str, profile: str, params: dict | None = None) -> dict:
    """Return {"evidence": {verdict: n}, "checks": {...}, "undecided": {...}}, verdicts recomputed ({} if no table)."""
    rows = read_verdict_rows(run_dir, notebook, profile, params)
    return {k: dict(v) for k, v in count(rows).items()} if rows else {}


def smoke_included(root: Path, include_smoke: bool | None) -> bool:
    """Whether smoke runs are summarised: never for the repository's committed ``results/`` unless asked."""
    if include_smoke is not None:
        return include_smoke
    from workbook.paths import REPO_ROOT

    return Path(root).resolve() != (REPO_ROOT / "results").resolve()



def collect_runs(root: Path | None = None, include_smoke: bool | None = None) -> list[dict]:
    """Return every run.json under ``root`` (``<notebook>/<profile>/run.json``), sorted by notebook then profile.

    Smoke runs are left out of the repository's committed results (`smoke_included`); scratch runs always.
    """
    root = Path(root) if root else results_root()
    order = {p: i for i, p in enumerate(PROFILES)}
    smoke = smoke_included(root, include_smoke)
    runs = []
    for path in root.glob("*/*/run.json"):
        if path.parent.parent.name in ("scratch", "site", "benchmarks"):
            continue
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        run_dir = path.parent
        if run_dir.name in ("smoke", "rehearsal") and not smoke:  # rehearsal: CI's check of the paper path
            continue
        # Re-read outputs: the summary reflects the files on disk now.
        rec["headline"] = read_headline(run_dir) or rec.get("headline", {})
        rec["verdicts"] = read_verdict_counts(run_dir, run_dir.parent.name, run_dir.name, rec.get("parameters"))
        try:
            prov = json.loads((run_dir / "provenance.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            prov = {}
        rec["dirty"] = is_dirty(rec, prov if isinstance(prov, dict) else {})
        figs = sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").is_dir() else []
        rec["figures"] = [str(f.relative_to(root)) for f in figs]
        runs.append(rec)
    runs.sort(key=lambda r: (course_key(r.get("notebook", "")), order.get(r.get("profile"), 99), r.get("profile", "")))
    return runs


def _fmt_headline(h: dict) -> str:
    parts = []
    for k in sorted(h):
        v = h[k]
        parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts)


def _fmt_verdicts(v: dict) -> tuple[str, str]:
    """Return the (evidence, checks) cells of a run's verdict counts."""
    if not v:
        return "", ""
    from collections import Counter

    return format_counts({k: Counter(v.get(k) or {}) for k in ("evidence", "checks", "undecided")})


def _hardware_str(h: dict) -> str:
    if not h:
        return ""
    gpu = h.get("gpu")
    return f"{h.get('cpu_count')} CPU" + (f", {gpu}" if gpu else "")


def summary_rows(runs: list[dict]) -> list[dict]:
    """Return one flat row per run (notebook, profile, status, tree, wall time, hardware, headline, evidence,
    checks, error)."""
    rows = []
    for r in runs:
        err = (r.get("error") or "").strip().splitlines()
        evidence, checks = _fmt_verdicts(r.get("verdicts") or {})
        rows.append({
            "notebook": r.get("notebook"), "profile": r.get("profile"), "status": r.get("status"),
            "tree": "DIRTY" if r.get("dirty") else "clean",
            "wall_s": r.get("wall_s"), "hardware": _hardware_str(r.get("hardware") or {}),
            "headline": _fmt_headline(r.get("headline") or {}), "evidence": evidence, "checks": checks,
            "executed_notebook": r.get("executed_notebook") or "",
            "error": err[-1][:200] if err else "",
        })
    return rows


def write_summary(root: Path | None = None, include_smoke: bool | None = None) -> tuple[Path, Path]:
    """Return the paths of ``summary.md`` and ``summary.html`` (and write ``summary.json``) for all runs under root."""
    import html

    import pandas as pd

    root = Path(root) if root else results_root()
    root.mkdir(parents=True, exist_ok=True)
    runs = collect_runs(root, include_smoke=include_smoke)
    rows = summary_rows(runs)
    cols = ["notebook", "profile", "status", "tree", "wall_s", "hardware", "headline", "evidence", "checks", "error"]
    df = pd.DataFrame(rows, columns=cols + ["executed_notebook"])
    n_pass = sum(r["status"] == "passed" for r in rows)
    from collections import Counter

    totals = {k: Counter() for k in ("evidence", "checks", "undecided")}
    for r in runs:
        for k in totals:
            totals[k].update((r.get("verdicts") or {}).get(k) or {})
    evidence, checks = format_counts(totals)
    n_dirty = sum(bool(r.get("dirty")) for r in runs)
    head = (f"{n_pass} of {len(rows)} runs passed. Evidence: {evidence}. Checks (identities, theorems, exact "
            f"computations; never counted as evidence): {checks}."
            + (f" {n_dirty} run(s) came from an uncommitted (dirty) tree." if n_dirty else "")
            + " Verdicts are recomputed from each run's stored estimates under the current claims.")
    md = ["# rlvr-workbook results", "", head, "", markdown_table(df[cols], "{:.1f}") if rows else "(no runs yet)\n"]
    md_path = atomic_write_text(root / "summary.md", "\n".join(md))

    def td(v: Any, cls: str = "") -> str:
        s = "" if v is None or (isinstance(v, float) and v != v) else (f"{v:.1f}" if isinstance(v, float) else str(v))
        return f'<td class="{cls}">{html.escape(s)}</td>' if cls else f"<td>{html.escape(s)}</td>"

    body = []
    for r in rows:
        nb_link = html.escape(r["executed_notebook"])
        name = f'<a href="{nb_link}">{html.escape(str(r["notebook"]))}</a>' if nb_link else html.escape(str(r["notebook"]))
        body.append("<tr><td>" + name + "</td>" + td(r["profile"]) + td(r["status"], f"status-{r['status']}")
                    + td(r["tree"], f"tree-{r['tree']}") + "".join(td(r[c]) for c in cols[4:]) + "</tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rlvr-workbook results</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
th {{ background: #f4f4f4; }} .status-passed {{ color: #117733; }} .status-failed, .status-invalid,
.status-timeout {{ color: #CC6677; font-weight: bold; }} .tree-DIRTY {{ color: #CC6677; font-weight: bold; }}
</style></head><body>
<h1>rlvr-workbook results</h1><p>{html.escape(head)}</p>
<table><thead><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""
    html_path = atomic_write_text(root / "summary.html", page)
    atomic_write_text(root / "summary.json", dumps_deterministic({"runs": runs}))
    return md_path, html_path
