"""The static replication-report site under ``results/site/``: index, one page per executed notebook, benchmarks.

Everything is built from the files the runs leave on disk (``results/<notebook>/<profile>/``:
run.json, metrics.json, provenance.json, figures/*.png, tables/reported_vs_reproduced.csv, the executed notebook;
``results/benchmarks/*.json|md``). The site works opened from disk with no server and no network: links are
relative, figures are copied under ``assets/``, notebook pages come from nbconvert's ``lab`` template with every
remote script (require.js, MathJax, mermaid, widget manager) left out, so an offline browser logs no errors.
Maths in Markdown cells is typeset by the site's own copy of KaTeX (``assets/katex/``, vendored in the package).

Layout::

    site/index.html                          per run: status, wall time, profile, hardware, headline figure,
                                             reported-vs-reproduced table (colour-coded verdicts, CIs, n)
    site/notebooks/<nb>.<profile>.html       executed notebook: parameters on top, provenance at the bottom
    site/benchmarks.html                     results/benchmarks/*.json as plots + their Markdown tables
    site/assets/...                          copied figures and tables, benchmark plots, style.css, katex/
"""

from __future__ import annotations

import csv
import html
import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbook.params import course_key
from workbook.paths import results_root as _results_root
from workbook.reporting.stored import STALE, count, format_counts, is_dirty, recompute

log = logging.getLogger(__name__)

PROFILE_ORDER = ("smoke", "cpu", "paper")
#: File that marks a folder as a site made by build_site (only such a folder is cleaned on rebuild).
SITE_MARKER = ".workbook-site"
GENERATOR = '<meta name="generator" content="workbook.reporting.site">'
#: Folders of the results root that are not notebooks.
NOT_NOTEBOOKS = {"site", "benchmarks", "scratch"}
VERDICT_CLASSES = {
    "reproduced": "verdict-reproduced",
    "not reproduced": "verdict-not-reproduced",
    "inconclusive": "verdict-inconclusive",
    "untestable here": "verdict-untestable",
    "not comparable": "verdict-untestable",
    STALE: "verdict-untestable",
    "not run at this scale": "verdict-not-run",
    "check passed": "verdict-check-passed",
    "check failed": "verdict-check-failed",
}
#: Columns of tables/reported_vs_reproduced.csv shown on the site (the others are for machines). Evidence and
#: checks sit in their own columns: a check (identity, theorem, exact computation) is never evidence.
RVR_COLUMNS = ("claim_id", "claim", "setting", "paper", "reproduced", "n", "verdict", "check", "power")
RVR_HEADERS = ("claim", "statement", "setting", "paper", "reproduced [95% CI]", "n", "verdict (evidence)", "check",
               "power (pre-registered)")
# Paul Tol "muted"/"light" colours: distinguishable with the common colour-vision deficiencies; the verdict is
# always also written out, so colour is never the only cue.
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1em 2em; color: #222; line-height: 1.45; }
a { color: #1f4e9c; }
h1 { margin-bottom: .2em; } .sub { color: #555; margin-top: 0; }
nav.wb-nav { margin: .5em 0 1em; } nav.wb-nav a { margin-right: 1.2em; }
table.wb { border-collapse: collapse; margin: .5em 0 1em; font-size: .92em; }
table.wb th, table.wb td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }
table.wb th { background: #f3f3f3; }
section.run table { border-collapse: collapse; margin: .5em 0 1em; font-size: .92em; }
section.run table th, section.run table td { border: 1px solid #ccc; padding: 4px 8px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict-reproduced { background: #117733; color: #fff; }
.verdict-not-reproduced { background: #CC6677; color: #000; }
.verdict-inconclusive { background: #DDCC77; color: #000; }
.verdict-not-run { background: #DDDDDD; color: #333; }
.verdict-untestable { background: #EEEEEE; color: #333; font-style: italic; }
.verdict-check-passed { background: #88CCEE; color: #000; }
.verdict-check-failed { background: #882255; color: #fff; }
.dirty { background: #CC6677; color: #000; padding: 1px 6px; border-radius: 3px; font-weight: 600; }
.verdict-unknown { background: #fff; color: #333; }
td.verdict { font-weight: 600; white-space: nowrap; }
.status { padding: 1px 6px; border-radius: 3px; font-weight: 600; }
.status-passed { background: #117733; color: #fff; }
.status-failed, .status-timeout, .status-invalid { background: #CC6677; color: #000; }
.status-interactive { background: #88CCEE; color: #000; }
section.run { border-top: 2px solid #ddd; padding-top: .5em; margin-top: 1.5em; }
.run-meta span { margin-right: 1.2em; }
img.headline { max-width: 100%; max-height: 420px; border: 1px solid #eee; display: block; margin: .5em 0; }
img.bench { max-width: 100%; border: 1px solid #eee; }
pre.error { background: #fbeff1; padding: .5em; overflow-x: auto; font-size: .85em; white-space: pre-wrap; }
.legend span { padding: 1px 6px; margin-right: .6em; }
.wb-header, .wb-footer { font-family: system-ui, sans-serif; padding: .5em 1em; }
.wb-footer { border-top: 2px solid #ddd; margin-top: 2em; }
"""


@dataclass
class Run:
    """One run folder ``<notebook>/<profile>/`` as read from disk (what the site shows about it)."""

    notebook: str
    profile: str
    path: Path
    record: dict = field(default_factory=dict)       # run.json ({} when the notebook ran outside the runner)
    metrics: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    rvr: list[dict] = field(default_factory=list)    # rows of tables/reported_vs_reproduced.csv
    figures: list[Path] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.record.get("status") or "interactive")

    @property
    def wall_s(self) -> float | None:
        w = self.record.get("wall_s", self.provenance.get("wall_s"))
        return float(w) if isinstance(w, (int, float)) else None

    @property
    def parameters(self) -> dict:
        return self.record.get("parameters") or self.provenance.get("parameters") or {}

    @property
    def dirty(self) -> bool:
        """Whether the run came from an uncommitted tree (``allow_dirty`` or a dirty git state recorded)."""
        return is_dirty(self.record, self.provenance)

    @property
    def executed_notebook(self) -> Path | None:
        p = self.path / f"{self.notebook}.ipynb"
        return p if p.is_file() else None

    @property
    def page(self) -> str:
        """Return the page's path relative to the site root."""
        return f"notebooks/{self.notebook}.{self.profile}.html"

    @property
    def anchor(self) -> str:
        return f"{self.notebook}-{self.profile}"

    def hardware(self) -> str:
        """Return e.g. "2 CPUs (x86_64), torch threads 2" or "1× NVIDIA H100 80GB HBM3, 16 CPUs"."""
        # provenance.json is written inside the kernel (after torch is imported) so it knows the GPU; run.json's
        # hardware comes from the runner process, which never imports torch.
        h = {**(self.record.get("hardware") or {}), **(self.provenance.get("hardware") or {})}
        if not h:
            return "—"
        parts = []
        if h.get("gpu"):
            parts.append(f"{h.get('gpu_count') or 1}× {h['gpu']}")
        if h.get("cpu_count"):
            parts.append(f"{h['cpu_count']} CPUs" + (f" ({h['machine']})" if h.get("machine") else ""))
        if h.get("torch_threads"):
            parts.append(f"torch threads {h['torch_threads']}")
        return ", ".join(parts) or "—"

    def headline_figure(self) -> Path | None:
        """Return the figure named by metrics["headline_figure"], else figures/headline.png, else the first one."""
        if not self.figures:
            return None
        by_stem = {f.stem: f for f in self.figures}
        named = self.metrics.get("headline_figure")
        if isinstance(named, str) and Path(named).stem in by_stem:
            return by_stem[Path(named).stem]
        return by_stem.get("headline", self.figures[0])


# --------------------------------------------------------------------------------------------------------------
# reading the results tree
# --------------------------------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _read_head(path: Path, n_chars: int = 2000) -> str:
    """Return the first ``n_chars`` characters of a text file ("" when unreadable)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.read(n_chars)
    except OSError:
        return ""


def _read_csv(path: Path) -> list[dict]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []


def discover_runs(root: Path) -> list[Run]:
    """Return every run folder ``<root>/<notebook>/<profile>/`` holding run.json or metrics.json, sorted.

    Sorted by notebook name, then profile in the order smoke, cpu, paper.
    """
    runs = []
    for nb_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if nb_dir.name in NOT_NOTEBOOKS or nb_dir.name.startswith("."):
            continue
        for run_dir in sorted(p for p in nb_dir.iterdir() if p.is_dir()):
            if not ((run_dir / "run.json").is_file() or (run_dir / "metrics.json").is_file()):
                continue
            figs_dir = run_dir / "figures"
            runs.append(Run(
                notebook=nb_dir.name, profile=run_dir.name, path=run_dir,
                record=_read_json(run_dir / "run.json"), metrics=_read_json(run_dir / "metrics.json"),
                provenance=_read_json(run_dir / "provenance.json"),
                rvr=_read_csv(run_dir / "tables" / "reported_vs_reproduced.csv"),
                figures=sorted(figs_dir.glob("*.png")) if figs_dir.is_dir() else [],
            ))
    order = {p: i for i, p in enumerate(PROFILE_ORDER)}
    runs.sort(key=lambda r: (course_key(r.notebook), order.get(r.profile, 99), r.profile))
    return runs


# --------------------------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------------------------

def esc(x: Any) -> str:
    """Return ``x`` as HTML-escaped text ("" for None)."""
    return html.escape("" if x is None else str(x))


def fmt_seconds(s: float | None) -> str:
    """Return a wall time as "42 s", "3.5 min" or "2.1 h" ("—" when unknown)."""
    if s is None:
        return "—"
    if s < 120:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    return f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def kv_table(d: dict, cls: str = "wb", pairs_per_row: int = 1) -> str:
    """Return an HTML table of ``d``'s keys and values (nested values as JSON), ``pairs_per_row`` pairs a row."""
    keys = sorted(d)
    rows = []
    for i in range(0, len(keys), pairs_per_row):
        chunk = keys[i:i + pairs_per_row]
        rows.append("<tr>" + "".join(f"<th>{esc(k)}</th><td>{esc(_fmt_value(d[k]))}</td>" for k in chunk) + "</tr>")
    return f'<table class="{cls}"><tbody>{"".join(rows)}</tbody></table>'


def verdict_class(verdict: str) -> str:
    """Return the CSS class that colours ``verdict`` (``verdict-unknown`` for anything unexpected)."""
    return VERDICT_CLASSES.get((verdict or "").strip(), "verdict-unknown")


def rvr_table(rows: list[dict]) -> str:
    """Return the reported-vs-reproduced rows as an HTML table with colour-coded verdicts (class ``rvr``)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in RVR_HEADERS)
    body = []
    for row in rows:
        cells = []
        is_check = (row.get("kind") == "check" or str(row.get("verdict", "")).startswith("check ")
                    or str(row.get("recorded_verdict", "")).startswith("check "))
        for col in RVR_COLUMNS:
            v = row.get(col, "")
            if col == "verdict" and is_check:
                cells.append('<td class="verdict verdict-unknown">—</td>')
            elif col == "verdict" or (col == "check" and is_check):
                v = row.get("verdict", "")
                note = row.get("note") or ""
                title = f' title="{esc(note)}"' if note else ""
                cells.append(f'<td class="verdict {verdict_class(v)}"{title}>{esc(v)}'
                             + (f"<br><small>{esc(note)}</small>" if note else "") + "</td>")
            elif col == "check":
                cells.append("<td></td>")
            elif col == "power":
                cells.append(f'<td class="num" title="{esc(row.get("power_note", ""))}">{esc(v) if v else "—"}</td>')
            elif col == "n":
                seeds = row.get("n_seeds")
                shown = "—" if v in ("", None) else (f"{seeds} seeds × {v}" if seeds not in ("", None) else v)
                cells.append(f'<td class="num">{esc(shown)}</td>')
            elif col == "claim_id":
                src = row.get("source")
                cells.append(f'<td title="source: {esc(src)}">{esc(v)}</td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="wb rvr"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def legend() -> str:
    """Return the colour legend of the verdicts."""
    return '<p class="legend">Verdicts: ' + "".join(
        f'<span class="{c}">{esc(v)}</span>' for v, c in VERDICT_CLASSES.items()) + \
        " — recomputed by <code>workbook.reporting.verdicts</code> from each run's stored 95% CI under the " \
        "current claims; checks (identities, theorems, exact computations) are never counted as evidence. " \
        "Power: the chance, by simulation, that the run's design reads \"reproduced\" at the effect the claim " \
        "expected before running.</p>"


def page(title: str, body: str, css_href: str) -> str:
    """Return a complete offline HTML page (no scripts, no remote resources)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="icon" href="data:,">
{GENERATOR}
<title>{esc(title)}</title>
<link rel="stylesheet" href="{esc(css_href)}">
</head><body>
{body}
</body></html>
"""


def _copy(src: Path, site: Path, rel: str) -> str:
    dst = site / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return rel


def _notebook_title(run: Run) -> str:
    """Return the first Markdown heading of the executed notebook, or the notebook's name."""
    nb_path = run.executed_notebook
    if nb_path is not None:
        try:
            cells = json.loads(nb_path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            cells = []
        for cell in cells:
            if cell.get("cell_type") == "markdown":
                src = "".join(cell.get("source", []))
                m = re.search(r"^#\s+(.+)$", src, flags=re.M)
                if m:
                    return m.group(1).strip()
    return run.notebook


def run_section(run: Run, site: Path, has_page: bool) -> str:
    """Return the index section of one run (copies its headline figure and tables into ``assets/``)."""
    asset_dir = f"assets/{run.notebook}/{run.profile}"
    title = esc(_notebook_title(run))
    name = f'<a href="{esc(run.page)}">{esc(run.notebook)}</a>' if has_page else esc(run.notebook)
    out = [f'<section class="run" id="{esc(run.anchor)}">',
           f"<h2>{name} <small>· {esc(run.profile)}</small></h2>",
           f'<p class="sub">{title}</p>' if title != esc(run.notebook) else "",
           '<p class="run-meta">'
           f'<span>status <span class="status status-{esc(run.status)}">{esc(run.status)}</span></span>'
           f"<span>wall time <b>{esc(fmt_seconds(run.wall_s))}</b></span>"
           f"<span>profile <b>{esc(run.profile)}</b></span>"
           f"<span>hardware {esc(run.hardware())}</span>"
           f"<span>started {esc(run.record.get('started') or run.provenance.get('started') or '—')}</span>"
           + ('<span class="dirty" title="run.json allow_dirty or a dirty git state in its provenance">'
              "from a dirty tree</span>" if run.dirty else "") + "</p>"]
    headline = run.metrics.get("headline")
    if isinstance(headline, dict) and headline:
        out.append("<p>Headline: " + ", ".join(
            f"<code>{esc(k)}</code> = {esc(_fmt_value(headline[k]))}" for k in sorted(headline)) + "</p>")
    fig = run.headline_figure()
    if fig is not None:
        rel = _copy(fig, site, f"{asset_dir}/figures/{fig.name}")
        img = f'<img class="headline" src="{esc(rel)}" alt="{esc(run.notebook)} headline figure: {esc(fig.stem)}">'
        out.append(f'<a href="{esc(run.page)}">{img}</a>' if has_page else img)
    if run.rvr:
        evidence, checks = format_counts(count(run.rvr))
        out.append("<h3>Reported vs reproduced</h3>"
                   f'<p class="counts">Evidence: {esc(evidence)} · checks: {esc(checks)}</p>' + rvr_table(run.rvr))
        rel = _copy(run.path / "tables" / "reported_vs_reproduced.csv", site,
                    f"{asset_dir}/tables/reported_vs_reproduced.csv")
        out.append(f'<p><a href="{esc(rel)}">reported_vs_reproduced.csv</a></p>')
    else:
        out.append("<p><i>No reported-vs-reproduced table was written by this run.</i></p>")
    if run.record.get("error"):
        out.append(f'<pre class="error">{esc(run.record["error"])}</pre>')
    out.append("</section>")
    return "\n".join(o for o in out if o)


def overview_table(runs: list[Run]) -> str:
    """Return the notebooks × profiles table: status and wall time per cell, linking to each run's section."""
    profiles = [p for p in PROFILE_ORDER if any(r.profile == p for r in runs)]
    profiles += sorted({r.profile for r in runs} - set(profiles))
    by = {(r.notebook, r.profile): r for r in runs}
    head = ("<tr><th>notebook</th>" + "".join(f"<th>{esc(p)}</th>" for p in profiles)
            + "<th>evidence (all profiles)</th><th>checks</th></tr>")
    body = []
    for nb in sorted({r.notebook for r in runs}, key=course_key):
        cells = []
        rows: list[dict] = []
        for p in profiles:
            r = by.get((nb, p))
            if r is None:
                cells.append("<td>—</td>")
                continue
            rows += r.rvr
            cells.append(f'<td><a href="#{esc(r.anchor)}"><span class="status status-{esc(r.status)}">'
                         f'{esc(r.status)}</span></a> {esc(fmt_seconds(r.wall_s))}'
                         + (' <span class="dirty">dirty tree</span>' if r.dirty else "") + "</td>")
        c = count(rows)
        evidence = ", ".join(f'<span class="{verdict_class(v)}">{n} {esc(v)}</span>'
                             for v, n in sorted({**c["evidence"], **c["undecided"]}.items()))
        checks = ", ".join(f'<span class="{verdict_class(v)}">{n} {esc(v)}</span>' for v, n in sorted(c["checks"].items()))
        body.append(f"<tr><td>{esc(nb)}</td>{''.join(cells)}<td>{evidence or '—'}</td><td>{checks or '—'}</td></tr>")
    return f'<table class="wb overview"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def replicates_paper(notebook: str) -> bool:
    """Return whether the notebook checks paper claims (it has ``lib/workbook/reported/<name>.yaml``).

    Lab 0 (``toy_reasoner``) replicates no paper, so its page is not expected to show a verdict table.
    """
    from workbook.reporting.claims import REPORTED_DIR

    name = re.sub(r"^\d+_", "", notebook)
    return (REPORTED_DIR / f"{name}.yaml").is_file()



# --------------------------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------------------------

def with_current_verdicts(run: Run, power: bool = True) -> Run:
    """Return ``run`` with its table's verdicts recomputed from the stored estimates (and, at cpu, each claim's power).

    See `workbook.reporting.stored`: the stored CSV was written by whatever rules were current when it ran.
    """
    run.rvr = recompute(run.notebook, run.profile, run.rvr, run.parameters)
    if power and run.profile == "cpu" and run.rvr and replicates_paper(run.notebook):
        from workbook.reporting.power import power_table

        try:
            tab = power_table(run.notebook, run.parameters, n_sim=200, n_boot=100)
        except Exception:  # noqa: BLE001 - power is a planning aid: never take the report down for it
            log.exception("power table of %s failed", run.notebook)
            return run
        by_id = {r.claim_id: r for r in tab.itertuples()}
        for row in run.rvr:
            r = by_id.get(row.get("claim_id"))
            if r is not None:
                row["power"] = "—" if r.power != r.power else f"{r.power:.0%}"
                row["power_note"] = f"expects {r.expected_effect:+.3g} ({r.why}); design {r.design}; {r.note}".strip("; ")
    return run


def build_site(results_root: Path | str | None = None, out_dir: Path | str | None = None, *,
               include_smoke: bool | None = None, power: bool = True) -> Path:
    """Return the path of the site's ``index.html`` after rendering the whole site from the results tree.

    ``results_root`` defaults to :func:`workbook.paths.results_root`, ``out_dir`` to
    ``<results_root>/site``. Only the site's own ``notebooks/`` and ``assets/`` folders and its pages are
    rewritten (a screenshot beside them is kept). A notebook page that cannot be converted is logged and left
    out; the index still lists the run. Smoke runs (tests of the machinery, not results) are left out of the
    repository's committed ``results/`` (`workbook.reporting.summary.smoke_included`); verdicts are recomputed from stored estimates (`with_current_verdicts`), with each cpu
    claim's pre-registered power when ``power``; runs from a dirty tree are flagged.
    """
    root = Path(results_root) if results_root is not None else _results_root()
    if not root.is_dir():
        raise FileNotFoundError(f"results folder {root} does not exist: run `workbook run-all` first")
    site = Path(out_dir) if out_dir is not None else root / "site"
    marker = site / SITE_MARKER
    made_by_us = marker.is_file() or GENERATOR in _read_head(site / "index.html")
    if site.is_dir() and any(site.iterdir()) and not made_by_us:
        # The rebuild deletes notebooks/ and assets/ inside out_dir: never do that to a folder we did not make.
        raise FileExistsError(f"{site} is not empty and was not made by build_site (no {SITE_MARKER}); "
                              "choose an empty or new folder")
    site.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by workbook.reporting.site.build_site; the folder is rewritten on every build\n", encoding="utf-8")
    for sub in ("notebooks", "assets"):
        shutil.rmtree(site / sub, ignore_errors=True)
    (site / "assets").mkdir()
    (site / "assets" / "style.css").write_text(CSS, encoding="utf-8")

    from workbook.reporting.summary import smoke_included

    smoke = smoke_included(root, include_smoke)
    from workbook.reporting.site_notebooks import copy_katex, notebook_page

    copy_katex(site)

    runs = [with_current_verdicts(r, power=power) for r in discover_runs(root)
            if smoke or r.profile not in ("smoke", "rehearsal")]       # rehearsal: CI's check of the paper path
    pages: set[str] = set()
    for run in runs:
        if run.executed_notebook is None:
            continue
        try:
            notebook_page(run, site)
            pages.add(run.page)
        except Exception:  # noqa: BLE001 - one unreadable notebook must not take the whole report down
            log.exception("could not render %s", run.executed_notebook)
    from workbook.reporting.site_benchmarks import benchmarks_page

    benchmarks_page(root / "benchmarks", site)

    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    shas = {(r.provenance.get("git") or r.record.get("git") or {}).get("sha") for r in runs} - {None}
    n_pass = sum(r.status == "passed" for r in runs)
    evidence, checks = format_counts(count([row for r in runs for row in r.rvr]))
    n_dirty = sum(r.dirty for r in runs)
    nav = '<nav class="wb-nav"><a href="index.html">Runs</a><a href="benchmarks.html">Benchmarks</a></nav>'
    body = [
        "<h1>rlvr-workbook · replication report</h1>",
        f'<p class="sub">{n_pass} of {len(runs)} runs passed · generated {esc(generated)}'
        + (f" · git {esc(', '.join(sorted(s[:10] for s in shas)))}" if shas else "") + "</p>",
        f'<p class="counts">Evidence (all runs): {esc(evidence)} · checks: {esc(checks)}'
        + (f' · <span class="dirty">{n_dirty} run(s) from a dirty tree</span>' if n_dirty else "") + "</p>",
        nav,
    ]
    if runs:
        body += ["<h2>Notebooks × profiles</h2>", overview_table(runs), legend()]
        body += [run_section(r, site, r.page in pages) for r in runs]
    else:
        body.append("<p>No runs yet: <code>workbook run-all --profile cpu</code> writes them.</p>")
    index = site / "index.html"
    index.write_text(page("rlvr-workbook · replication report", "\n".join(body), "assets/style.css"),
                     encoding="utf-8")
    log.info("site: %s (%d runs, %d notebook pages)", index, len(runs), len(pages))
    return index


def walltime_table_markdown(results_root: Path | str | None = None) -> str:
    """Return a Markdown table, notebooks × profiles, of each run's status and measured wall time (for the README)."""
    root = Path(results_root) if results_root is not None else _results_root()
    runs = discover_runs(root)
    profiles = [p for p in PROFILE_ORDER if any(r.profile == p for r in runs)]
    profiles += sorted({r.profile for r in runs} - set(profiles))
    by = {(r.notebook, r.profile): r for r in runs}
    hardware = sorted({r.hardware() for r in runs})
    lines = ["| notebook | " + " | ".join(profiles) + " |", "|---|" + "---:|" * len(profiles)]
    for nb in sorted({r.notebook for r in runs}, key=course_key):
        cells = []
        for p in profiles:
            r = by.get((nb, p))
            cells.append("—" if r is None else fmt_seconds(r.wall_s) + ("" if r.status == "passed" else f" ({r.status})"))
        lines.append(f"| {nb} | " + " | ".join(cells) + " |")
    if hardware:
        lines += ["", "Hardware: " + "; ".join(hardware) + "."]
    return "\n".join(lines) + "\n"
