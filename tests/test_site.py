"""The static report site (workbook.reporting.site): built from a fake results tree, checked by parsing its HTML."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from workbook.reporting.site import build_site, discover_runs
from workbook.reporting.site_notebooks import offline_notebook
from workbook.reporting.site_benchmarks import benchmark_series

RVR_COLUMNS = ("claim_id", "claim", "setting", "paper", "reproduced", "n", "verdict", "source", "paper_value",
               "value", "lo", "hi")
RVR_ROWS = {
    "quickstart": [
        ("Q1", "pass@k grows with k (MATH)", "SmolLM2-135M, 8 problems", "+ (pass@8 − pass@1)", "0.25 [0.125, 0.375]",
         8, "reproduced", "Fig. 2", "", 0.25, 0.125, 0.375),
        ("Q2", "pass@k grows with k (synthetic)", "8 problems", "+ (pass@8 − pass@1)", "0.0625 [-0.05, 0.2]", 8,
         "inconclusive", "Fig. 3", "", 0.0625, -0.05, 0.2),
    ],
    "10_nsr": [
        ("NSR-1", "NSR keeps pass@256", "Qwen2.5-Math-7B", "0.912 ± 0.02 (pass@256)", "—", "",
         "not run at this scale", "Table 2", 0.912, "", "", ""),
        ("NSR-2", "NSR beats base at pass@1", "toy", "+ (pass@1)", "-0.1 [-0.2, -0.05]", 64, "not reproduced",
         "Fig. 4", "", -0.1, -0.2, -0.05),
    ],
}


def _write_rvr(path: Path, rows: list[tuple]) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(RVR_COLUMNS)
        w.writerows(rows)


def _png(width: int = 40, height: int = 30) -> bytes:
    """Return a small PNG drawn with matplotlib."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 10, height / 10), dpi=10)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, 1, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def _executed_notebook(path: Path, title: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "rlvr-workbook", "display_name": "Python (rlvr-workbook)", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\nThe loss is $\\mathcal{{L}} = -\\log p$.\n\n"
                                                  "$$\\mathrm{pass@}k = 1 - \\binom{n-c}{k} \\Big/ \\binom{n}{k}$$\n\n"
                                                  "[arXiv](https://arxiv.org/abs/2407.21787)"))
    params = nbformat.v4.new_code_cell('profile = "cpu"\nseed = 0\nn = 8')
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell('# Parameters\nprofile = "cpu"\nn = 8\n')
    injected.metadata["tags"] = ["injected-parameters"]
    plot = nbformat.v4.new_code_cell("fig = plot_pass_at_k(...)\nprint('plotted')")
    plot.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="plotted\n"),
        nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(_png()).decode(),
                                                     "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "progress 100%"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "console.error('boom')"}),
    ]
    nb.cells += [params, injected, plot, nbformat.v4.new_markdown_cell("## Reported vs reproduced")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def _run(root: Path, notebook: str, profile: str, status: str, *, executed: bool, table: bool,
         figures: tuple[str, ...] = (), wall_s: float = 95.25, error: str | None = None) -> Path:
    run_dir = root / notebook / profile
    run_dir.mkdir(parents=True)
    record = {"notebook": notebook, "profile": profile, "status": status, "wall_s": wall_s, "error": error,
              "started": "2026-11-27T15:00:00+00:00", "ended": "2026-11-27T15:01:35+00:00",
              "parameters": {"profile": profile, "seed": 0, "n": 8, "ks": [1, 2, 4, 8], "model": "toy-reasoner"},
              "executed_notebook": f"{notebook}/{profile}/{notebook}.ipynb" if executed else None,
              "hardware": {"cpu_count": 2, "machine": "x86_64", "gpu": None, "gpu_count": 0}}
    (run_dir / "run.json").write_text(json.dumps(record))
    (run_dir / "metrics.json").write_text(json.dumps({"headline": {"pass_at_1": 0.125, "pass_at_8": 0.375}}))
    (run_dir / "provenance.json").write_text(json.dumps({
        "notebook": notebook, "profile": profile, "git": {"sha": "0123456789abcdef", "dirty": False}, "seed": 0,
        "parameters": record["parameters"], "packages": {"torch": "2.13.0", "vllm": None},
        "hardware": {"cpu_count": 2, "machine": "x86_64", "gpu": None, "gpu_count": 0, "torch_threads": 2},
        "started": record["started"], "ended": record["ended"], "wall_s": 93.0}))
    for name in figures:
        (run_dir / "figures").mkdir(exist_ok=True)
        (run_dir / "figures" / f"{name}.png").write_bytes(_png())
    if table:
        _write_rvr(run_dir / "tables" / "reported_vs_reproduced.csv", RVR_ROWS[notebook])
    if executed:
        _executed_notebook(run_dir / f"{notebook}.ipynb", f"{notebook} · a test notebook")
    return run_dir


def make_fake_results(root: Path) -> Path:
    """Return ``root`` after writing three runs (one failed, no notebook) and two benchmarks into it."""
    _run(root, "quickstart", "cpu", "passed", executed=True, table=True, figures=("a_first", "pass_at_k"))
    (root / "quickstart" / "cpu" / "metrics.json").write_text(json.dumps(
        {"headline": {"pass_at_1": 0.125}, "headline_figure": "pass_at_k"}))
    _run(root, "10_nsr", "smoke", "passed", executed=True, table=True, figures=("headline", "curve"), wall_s=12.0)
    _run(root, "10_nsr", "cpu", "failed", executed=False, table=False, wall_s=3.5,
         error="Traceback ...\nRuntimeError: <boom> & friends")
    bench = root / "benchmarks"
    bench.mkdir()
    (bench / "pass_at_k.json").write_text(json.dumps({
        "benchmark": "pass_at_k", "what": "pass@k for 500 problems", "pass_at_k_curve_ms_median": 1.1,
        "naive_exact_comb_ms_median": 402.5, "target_ms": 50.0, "meets_target": True,
        "machine": {"cpu_count": 2}}))
    (bench / "pass_at_k.md").write_text("# pass@k benchmark\n\n| impl | ms |\n|---|---|\n| curve | 1.1 |\n")
    (bench / "generation.json").write_text(json.dumps({
        "benchmark": "generation", "batched_s": 2.5, "loop_s": 20.0, "tokens_per_s_batched": 800.0,
        "model_load_s": 1.0}))
    return root


class _Collector(HTMLParser):
    """Collects links, image sources, scripts, stylesheets and elements with ids/classes."""

    def __init__(self):
        super().__init__()
        self.links, self.images, self.scripts, self.styles, self.ids = [], [], [], [], set()
        self.classes: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        self.classes += (a.get("class") or "").split()
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "script":
            self.scripts.append(a.get("src"))
        elif tag == "link":
            self.styles.append(a.get("href"))


def _parse(path: Path) -> _Collector:
    c = _Collector()
    c.feed(path.read_text(encoding="utf-8"))
    return c


def _local_target(page: Path, href: str) -> Path | None:
    """Return the file a relative href points to (None for in-page anchors); fails on absolute/remote URLs."""
    url = urlparse(href)
    assert not url.scheme and not url.netloc and not href.startswith("/"), f"{page.name}: non-relative link {href}"
    if not url.path:
        return None
    return (page.parent / unquote(url.path)).resolve()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Return the site folder built once for this module from the fake results tree (tests only read it)."""
    root = make_fake_results(tmp_path_factory.mktemp("site") / "results")
    index = build_site(root)
    assert index == root / "site" / "index.html"
    return index.parent


def test_discover_runs_sorted_and_skips_site_and_benchmarks(tmp_path):
    root = make_fake_results(tmp_path / "results")
    (root / "site").mkdir()
    (root / "quickstart" / "paper").mkdir()  # empty folder: not a run
    runs = discover_runs(root)
    assert [(r.notebook, r.profile) for r in runs] == [("quickstart", "cpu"), ("10_nsr", "smoke"), ("10_nsr", "cpu")]
    assert runs[0].headline_figure().name == "pass_at_k.png"      # named in metrics.json
    assert runs[1].headline_figure().name == "headline.png"       # figures/headline.png wins over order
    assert runs[2].executed_notebook is None and runs[2].status == "failed"


def test_index_links_and_images_resolve(site):
    index = site / "index.html"
    c = _parse(index)
    assert c.scripts == [], "the index needs no JavaScript"
    targets = [_local_target(index, h) for h in c.links]
    for href, t in zip(c.links, targets):
        if t is None:
            assert urlparse(href).fragment in c.ids, f"dangling anchor {href}"
        else:
            assert t.is_file(), f"broken link {href}"
            assert site.resolve() in t.parents, f"{href} leaves the site folder (copy assets instead)"
    pages = {t.name for t in targets if t is not None and t.suffix == ".html"}
    assert pages == {"quickstart.cpu.html", "10_nsr.smoke.html", "benchmarks.html", "index.html"}
    assert len(c.images) == 2  # one headline figure per run that has figures
    for src in c.images:
        data = _local_target(index, src).read_bytes()
        assert _png_size(data)[0] > 0
    assert any(src.endswith("quickstart/cpu/figures/pass_at_k.png") for src in c.images)
    for css in c.styles:
        if css.startswith("data:"):
            continue
        assert _local_target(index, css).is_file()


def test_index_shows_status_walltime_hardware_and_verdicts(site):
    text = (site / "index.html").read_text()
    c = _parse(site / "index.html")
    for anchor in ("quickstart-cpu", "10_nsr-smoke", "10_nsr-cpu"):
        assert anchor in c.ids
    assert "status-passed" in c.classes and "status-failed" in c.classes
    assert "95 s" in text and "3.5 s" in text             # wall times (95.25 s, 3.5 s)
    assert "2 CPUs (x86_64)" in text and "torch threads 2" in text
    # reported-vs-reproduced rows: CI, n, verdict with its colour class
    assert "0.25 [0.125, 0.375]" in text and "-0.1 [-0.2, -0.05]" in text
    for cls in ("verdict-reproduced", "verdict-inconclusive", "verdict-not-run", "verdict-not-reproduced"):
        assert cls in c.classes
    assert re.search(r'<td class="verdict verdict-not-reproduced">not reproduced</td>', text)
    assert re.search(r'<td class="num">64</td>', text)
    assert "RuntimeError: &lt;boom&gt; &amp; friends" in text  # the failed run's error, escaped
    assert "pass_at_1" in text and "0.125" in text          # headline numbers


def test_notebook_page_has_parameters_top_table_and_provenance_bottom(site):
    page = site / "notebooks" / "quickstart.cpu.html"
    text = page.read_text()
    c = _parse(page)
    i_params, i_body, i_rvr, i_prov = (text.index('id="parameters"'), text.index("plotted"),
                                       text.index('id="reported-vs-reproduced"'), text.index('id="provenance"'))
    assert i_params < i_body < i_rvr < i_prov
    assert "toy-reasoner" in text[i_params:i_body]                 # parameter values shown at the top
    assert "0123456789abcdef" in text[i_prov:] and "2.13.0" in text[i_prov:]
    assert "0.25 [0.125, 0.375]" in text[i_rvr:i_prov]
    visible = html.unescape(re.sub(r"<[^>]+>", "", text))
    assert "fig = plot_pass_at_k(...)" in visible                  # inputs are visible (highlighted)
    assert "# Parameters" in visible                                # papermill's injected cell too
    assert "data:image/png;base64," in text                        # output figure embedded
    # offline: no remote script, stylesheet or widget/JS output; the only scripts are the site's own KaTeX
    local = [s for s in c.scripts if s is not None]
    assert local == ["../assets/katex/katex.min.js", "../assets/katex/contrib/auto-render.min.js"], c.scripts
    assert all((page.parent / s).is_file() for s in local)
    assert (page.parent / "../assets/katex/katex.min.css").is_file()
    assert (page.parent / "../assets/katex/LICENSE").read_text().startswith("The MIT License")
    assert "console.error" not in text and "widget-view" not in text
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', text), "remote resource in page"
    assert "progress 100%" in text                                 # widget's text fallback kept
    for href in c.links:
        if urlparse(href).scheme in ("http", "https"):
            continue  # links inside the notebook's own Markdown (e.g. arXiv) are for the reader
        target = _local_target(page, href)
        assert target is None or target.is_file(), f"broken link {href}"


def test_failed_run_without_notebook_gets_no_page(site):
    assert not (site / "notebooks" / "10_nsr.cpu.html").exists()
    assert (site / "notebooks" / "10_nsr.smoke.html").is_file()


def test_benchmarks_page_plots_and_tables(site):
    page = site / "benchmarks.html"
    c = _parse(page)
    assert {"bench-pass_at_k", "bench-generation"} <= c.ids
    assert len(c.images) == 2
    for src in c.images:
        w, h = _png_size(_local_target(page, src).read_bytes())
        assert w > 100 and h > 50
    text = page.read_text()
    assert "<table>" in text and "<td>curve</td>" in text          # the Markdown table rendered
    for href in c.links:
        t = _local_target(page, href)
        assert t is None or t.is_file(), href


def test_benchmark_series_picks_timings_and_rates():
    timings, rates = benchmark_series({"a_ms_median": 2.0, "load_s": 1.5, "target_ms": 50, "speedup": 3.0,
                                       "tokens_per_s_batched": 900.0, "ok": True, "nested": {"step_ms": 4}})
    assert timings == {"a_ms_median": 2.0, "load_s": 1500.0, "nested.step_ms": 4.0}
    assert rates == {"tokens_per_s_batched": 900.0}


def test_rebuild_replaces_stale_pages_and_keeps_screenshot(tmp_path):
    root = make_fake_results(tmp_path / "results")
    site = build_site(root).parent
    (site / "screenshot-index.png").write_bytes(_png())
    (site / "notebooks" / "stale.cpu.html").write_text("old")
    build_site(root)
    assert not (site / "notebooks" / "stale.cpu.html").exists()
    assert (site / "screenshot-index.png").is_file()


def test_refuses_to_clean_a_folder_it_did_not_make(tmp_path):
    root = make_fake_results(tmp_path / "results")
    precious = tmp_path / "repo"
    (precious / "notebooks").mkdir(parents=True)
    (precious / "notebooks" / "lab.ipynb").write_text("{}")
    with pytest.raises(FileExistsError, match="not made by build_site"):
        build_site(root, precious)
    assert (precious / "notebooks" / "lab.ipynb").is_file()


def test_empty_and_missing_results(tmp_path):
    (tmp_path / "empty").mkdir()
    index = build_site(tmp_path / "empty", tmp_path / "out")
    assert "No runs yet" in index.read_text() and (tmp_path / "out" / "benchmarks.html").is_file()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_site(tmp_path / "nope")


def test_offline_notebook_drops_script_outputs_only():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"application/javascript": "x()"}),
                    nbformat.v4.new_output("display_data", data={"text/html": "<b>t</b>", "text/plain": "t"})]
    nb.cells.append(cell)
    out = offline_notebook(nb)
    assert [o["data"] for o in out.cells[0].outputs] == [{"text/html": "<b>t</b>", "text/plain": "t"}]
    assert len(nb.cells[0].outputs) == 2  # the input notebook is not modified


def test_walltime_table_markdown(tmp_path):
    from workbook.reporting.site import walltime_table_markdown

    md = walltime_table_markdown(make_fake_results(tmp_path / "results"))
    lines = md.splitlines()
    assert lines[0] == "| notebook | smoke | cpu |"
    assert "| quickstart | — | 95 s |" in lines
    assert "| 10_nsr | 12 s | 3.5 s (failed) |" in lines
    assert "2 CPUs (x86_64)" in md


# ---------------------------------------------------------------------------------------------------- verdicts today


def _claim_unit(claim_id: str, method: str = "nsr") -> str:
    """The current unit of a claim (claims files are re-specified over time; these tests follow them)."""
    from workbook.reporting.claims import REPORTED_DIR, load_reported_file

    return next(c for c in load_reported_file(REPORTED_DIR / f"{method}.yaml")["claims"] if c["id"] == claim_id)["unit"]


def _nsr_run(root: Path, profile: str = "cpu", dirty: bool = False) -> Path:
    """An nsr run whose table was written by older rules: NSR-4 "reproduced", NSR-3a in its old unit."""
    run_dir = _run(root, "nsr", profile, "passed", executed=False, table=False)
    rec = json.loads((run_dir / "run.json").read_text())
    from workbook.params import resolve_params

    rec["parameters"] = resolve_params("nsr", "cpu")[0]  # the design power reads: the notebook's current cpu one
    rec["allow_dirty"] = dirty
    (run_dir / "run.json").write_text(json.dumps(rec))
    _write_rvr(run_dir / "tables" / "reported_vs_reproduced.csv", [
        ("NSR-2a", "PSR improves pass@1", "toy", f"> 0 ({_claim_unit('NSR-2a')})", "0.1 [0.043, 0.163]", 12,
         "reproduced", "Abstract", "", 0.1, 0.043, 0.163),
        ("NSR-1b", "NSR at k*", "toy", f"> 0 ({_claim_unit('NSR-1b')})", "0 [0, 0]", 12, "inconclusive",
         "Abstract", "", 0.0, 0.0, 0.0),
        ("NSR-3a", "NSR matches GRPO", "toy", "≥ 0 ± 0.02 (mean over k of pass@k NSR − GRPO)",
         "-0.0126 [-0.0183, -0.0076]", 12, "reproduced", "Abstract", 0.0, -0.0126, -0.0183, -0.0076),
        ("NSR-4", "identity", "exact", "≤ 0 ± 0.0001 (max over unsampled v of |Δz_v / (lr·p_v) − 1|)", "0 [0, 0]", 5,
         "reproduced", "Sec. 4", 0.0, 0.0, 0.0, 0.0),
    ])
    return run_dir


def test_site_recomputes_verdicts_splits_checks_and_flags_dirty_runs(tmp_path):
    root = tmp_path / "results"
    _nsr_run(root, dirty=True)
    _nsr_run(root, profile="smoke")
    index = build_site(root, include_smoke=False, power=True)
    text = index.read_text()
    assert "nsr-smoke" not in _parse(index).ids                    # smoke runs are not results
    assert "from a dirty tree" in text and "1 run(s) from a dirty tree" in text
    assert "check passed" in text                                   # NSR-4: an identity, in the check column
    assert "needs rerun (claim re-specified)" in text               # NSR-3a's stored estimate measured the old claim
    assert "untestable here" in text                                # NSR-1b: [0, 0], every problem at the ceiling
    assert "Evidence (all runs): 1 reproduced of 1 tested" in text  # NSR-2a only: the check is not counted
    assert "checks: 1 passed of 1" in text
    assert re.search(r'<td class="num" title="[^"]*">\d+%</td>', text), "pre-registered power per cpu claim"


def test_summary_counts_checks_apart_and_leaves_smoke_out(tmp_path):
    from workbook.reporting.summary import write_summary

    root = tmp_path / "results"
    _nsr_run(root)
    _nsr_run(root, profile="smoke")
    md_path, _ = write_summary(root, include_smoke=False)
    md = md_path.read_text()
    assert "| nsr | cpu | passed | clean |" in md and "| nsr | smoke |" not in md
    assert "1 reproduced of 1 tested" in md and "1 passed of 1" in md
    assert "Checks (identities, theorems, exact computations; never counted as evidence): 1 passed of 1" in md
    md_all = write_summary(root, include_smoke=True)[0].read_text()
    assert "| nsr | smoke |" in md_all


def test_recompute_trusts_preconditions_checked_by_the_run_itself():
    from workbook.reporting.stored import recompute

    unit = _claim_unit("NSR-3a")
    row = {"claim_id": "NSR-3a", "paper": f"> 0 ({unit})", "unit": unit, "value": "0.02", "lo": "0.01", "hi": "0.03",
           "n": "12", "verdict": "reproduced"}
    assert recompute("nsr", "cpu", [row])[0]["verdict"] == "reproduced"
    failed = {**row, "verdict": "untestable here", "note": "GRPO beats the base (0.001 [-0.01, 0.01])"}
    out = recompute("nsr", "cpu", [failed])[0]
    assert out["verdict"] == "untestable here" and "GRPO" in out["note"]
    d1_unit = _claim_unit("D1", "dser")
    d1 = {"claim_id": "D1", "unit": d1_unit,
          "paper": "", "value": "0.01", "lo": "-0.02", "hi": "0.03", "n": "16", "verdict": "reproduced"}
    assert recompute("dser", "cpu", [d1])[0]["verdict"] == "reproduced"
    old_d1 = {k: v for k, v in d1.items() if k != "unit"} | {"paper": f"0 ± 0.05 ({d1_unit})"}
    assert recompute("dser", "cpu", [old_d1])[0]["verdict"] == "untestable here"


def test_custom_and_rehearsal_folders_are_judged_at_their_recorded_profile(tmp_path):
    from workbook.reporting.stored import recompute

    row = {"claim_id": "NSR-4", "paper": "= 0 ± 0.0001 (max over unsampled v of |Δz_v / (lr·p_v) − 1|)",
           "value": "0", "lo": "0", "hi": "0", "n": "5", "verdict": "reproduced"}
    assert recompute("nsr", "custom-1a2b3c", [row], {"profile": "cpu"})[0]["verdict"] == "check passed"
    assert recompute("nsr", "custom-1a2b3c", [row], {})[0]["verdict"] == "reproduced"   # unknown: as recorded
    root = tmp_path / "results"
    _nsr_run(root, profile="rehearsal")
    _nsr_run(root, profile="custom-1a2b3c")
    index = build_site(root, include_smoke=False, power=False)
    ids = _parse(index).ids
    assert "nsr-rehearsal" not in ids and "nsr-custom-1a2b3c" in ids


def test_vendored_katex_matches_its_readme_and_carries_its_licence():
    """The site's offline maths: the KaTeX files are the ones its README names (sha256), with the MIT licence."""
    import hashlib

    from workbook.reporting.site_notebooks import KATEX_DIR

    readme = (KATEX_DIR / "README.md").read_text(encoding="utf-8")
    named = dict(re.findall(r"- `([^`]+)` ([0-9a-f]{64})", readme))
    assert set(named) == {"katex.min.js", "katex.min.css", "contrib/auto-render.min.js"}
    for rel, digest in named.items():
        assert hashlib.sha256((KATEX_DIR / rel).read_bytes()).hexdigest() == digest, rel
    assert (KATEX_DIR / "LICENSE").read_text(encoding="utf-8").startswith("The MIT License")
    css = (KATEX_DIR / "katex.min.css").read_text(encoding="utf-8")
    woff2 = set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css))
    assert woff2 and all((KATEX_DIR / f).is_file() for f in woff2)   # every font the stylesheet asks for first


def test_measured_times_table_comes_from_the_run_records(tmp_path):
    from workbook.reporting.site_times import BEGIN, END, main, measured_times_markdown, replace_block

    root = make_fake_results(tmp_path / "results")
    md = measured_times_markdown(root)
    assert md.splitlines()[2].startswith("| `quickstart` | 95 s | passed | 2026-11-27 15:00 |")
    assert "| `10_nsr` | 3.5 s | failed |" in md
    doc = tmp_path / "README.md"
    doc.write_text(f"intro\n{BEGIN}\n| stale | 1 min |\n{END}\nafter\n")
    assert main([str(doc), "--results-dir", str(root), "--check"]) == 1 and "stale" in doc.read_text()
    assert main([str(doc), "--results-dir", str(root)]) == 0
    assert doc.read_text() == replace_block(f"intro\n{BEGIN}\n{END}\nafter\n", md)
    assert main([str(doc), "--results-dir", str(root), "--check"]) == 0
    with pytest.raises(ValueError, match="exactly one"):
        replace_block("no markers", md)


def test_notebooks_readme_quotes_the_published_cpu_times():
    """notebooks/README.md's times are the committed results' run.json (rerun the generator after republishing)."""
    from workbook.paths import repo_root
    from workbook.reporting.site_times import main

    assert main(["--check", "--results-dir", str(repo_root() / "results")]) == 0, \
        "notebooks/README.md is out of date: python -m workbook.reporting.site_times"
