"""The results summary: ``results/summary.{md,html,json}`` from every ``run.json`` under the results tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbook.params import PROFILES, course_key
from workbook.paths import results_root
from workbook.reporting.io import atomic_write_text, dumps_deterministic, markdown_table


def read_headline(run_dir: Path) -> dict:
    """Return ``metrics.json["headline"]`` of a run directory ({} when absent or unreadable)."""
    try:
        headline = json.loads((run_dir / "metrics.json").read_text()).get("headline", {})
        return headline if isinstance(headline, dict) else {}
    except (OSError, ValueError):
        return {}


def read_verdicts(run_dir: Path) -> dict[str, int]:
    """Return verdict → count from ``tables/reported_vs_reproduced.csv`` ({} when absent)."""
    import csv

    path = run_dir / "tables" / "reported_vs_reproduced.csv"
    counts: dict[str, int] = {}
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                v = row.get("verdict") or "?"
                counts[v] = counts.get(v, 0) + 1
    except OSError:
        return {}
    return counts



def collect_runs(root: Path | None = None) -> list[dict]:
    """Return every run.json under ``root`` (``<notebook>/<profile>/run.json``), sorted by notebook then profile."""
    root = Path(root) if root else results_root()
    order = {p: i for i, p in enumerate(PROFILES)}
    runs = []
    for path in root.glob("*/*/run.json"):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        run_dir = path.parent
        # Re-read outputs: the summary reflects the files on disk now.
        rec["headline"] = read_headline(run_dir) or rec.get("headline", {})
        rec["verdicts"] = read_verdicts(run_dir) or rec.get("verdicts", {})
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


def _fmt_verdicts(v: dict) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(v.items())) if v else ""


def _hardware_str(h: dict) -> str:
    if not h:
        return ""
    gpu = h.get("gpu")
    return f"{h.get('cpu_count')} CPU" + (f", {gpu}" if gpu else "")


def summary_rows(runs: list[dict]) -> list[dict]:
    """Return one flat row per run (notebook, profile, status, wall time, hardware, headline, verdicts, error)."""
    rows = []
    for r in runs:
        err = (r.get("error") or "").strip().splitlines()
        rows.append({
            "notebook": r.get("notebook"), "profile": r.get("profile"), "status": r.get("status"),
            "wall_s": r.get("wall_s"), "hardware": _hardware_str(r.get("hardware") or {}),
            "headline": _fmt_headline(r.get("headline") or {}), "verdicts": _fmt_verdicts(r.get("verdicts") or {}),
            "executed_notebook": r.get("executed_notebook") or "",
            "error": err[-1][:200] if err else "",
        })
    return rows


def write_summary(root: Path | None = None) -> tuple[Path, Path]:
    """Return the paths of ``summary.md`` and ``summary.html`` (and write ``summary.json``) for all runs under root."""
    import html

    import pandas as pd

    root = Path(root) if root else results_root()
    root.mkdir(parents=True, exist_ok=True)
    runs = collect_runs(root)
    rows = summary_rows(runs)
    cols = ["notebook", "profile", "status", "wall_s", "hardware", "headline", "verdicts", "error"]
    df = pd.DataFrame(rows, columns=cols + ["executed_notebook"])
    n_pass = sum(r["status"] == "passed" for r in rows)
    head = f"{n_pass} of {len(rows)} runs passed."
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
                    + "".join(td(r[c]) for c in cols[3:]) + "</tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rlvr-workbook results</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
th {{ background: #f4f4f4; }} .status-passed {{ color: #117733; }} .status-failed, .status-invalid,
.status-timeout {{ color: #CC6677; font-weight: bold; }}
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
