"""The benchmarks page of the report site: ``results/benchmarks/*.json|md`` as plots and tables.

Split from :mod:`workbook.reporting.site` (which calls `benchmarks_page` from ``build_site``); the page uses the
site's offline HTML helpers and stylesheet.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbook.reporting.site import _copy, _read_json, esc, kv_table, page

__all__ = ["benchmark_series", "benchmarks_page", "flatten"]


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Return ``d`` flattened to dotted keys (nested dicts only; lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


_TIMING = re.compile(r"(^|_)(ms|s|sec|seconds)(_(median|mean|min|max|p\d+))?$")


def benchmark_series(result: dict) -> tuple[dict[str, float], dict[str, float]]:
    """Return (timings in ms, rates per second) picked from a benchmark's JSON by key name.

    Timings: keys ending ``_ms``/``_s`` (optionally ``_median``/``_mean``/``_min``/``_max``/``_pNN``), targets
    excluded; rates: keys containing ``per_s``.
    """
    timings, rates = {}, {}
    for key, v in flatten(result).items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            continue
        last = key.rsplit(".", 1)[-1].lower()
        if "per_s" in last:
            rates[key] = float(v)
        elif not last.startswith("target") and _TIMING.search(last):
            unit = _TIMING.search(last).group(2)
            timings[key] = float(v) if unit == "ms" else float(v) * 1000.0
    return timings, rates


def _bar_label(v: float) -> str:
    """Return a bar's value label: thousands separated above 100, three significant digits below."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _bench_plot(topic: str, timings: dict, rates: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    if timings and max(timings.values()) >= 2000:  # show seconds when the longest timing is over 2 s
        timings, t_label = {k: v / 1000.0 for k, v in timings.items()}, "wall time (s)"
    else:
        t_label = "wall time (ms)"
    panels = [(t, lab) for t, lab in ((timings, t_label), (rates, "rate (per second)")) if t]
    fig = Figure(figsize=(7.5, 0.9 + 0.35 * sum(min(len(t), 20) for t, _ in panels) + 0.6 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (series, label) in zip(axes, panels):
        items = sorted(series.items(), key=lambda kv: kv[1])[:20]
        ax.barh([k for k, _ in items], [v for _, v in items], color="#332288", height=0.6)
        ax.set_xlabel(label)
        if items[-1][1] / max(items[0][1], 1e-12) > 30:
            ax.set_xscale("log")
        ax.margins(x=0.15)
        for y, (_, v) in enumerate(items):
            ax.annotate(_bar_label(v), (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_title(topic, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def benchmarks_page(bench_dir: Path, site: Path) -> Path:
    """Return the path of ``benchmarks.html``: per benchmark a plot of its timings/rates and its table."""
    import mistune

    md_render = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
    topics = sorted({p.stem for p in bench_dir.glob("*.json")} | {p.stem for p in bench_dir.glob("*.md")}) \
        if bench_dir.is_dir() else []
    body = ['<nav class="wb-nav"><a href="index.html">← all runs</a></nav>', "<h1>Benchmarks</h1>",
            "<p>From <code>results/benchmarks/</code>, written by <code>make benchmarks</code>, measured as each "
            "benchmark's notes say, on the machine it names; on a shared machine timings are indicative.</p>"]
    if not topics:
        body.append("<p>No benchmark results yet: <code>make benchmarks</code> writes them.</p>")
    for topic in topics:
        js, md = bench_dir / f"{topic}.json", bench_dir / f"{topic}.md"
        result = _read_json(js) if js.is_file() else {}
        sec = [f'<section class="run" id="bench-{esc(topic)}">']
        if md.is_file():
            sec.append(md_render(md.read_text(encoding="utf-8")))
        else:
            sec.append(f"<h2>{esc(result.get('benchmark', topic))}</h2><p>{esc(result.get('what', ''))}</p>")
        timings, rates = benchmark_series(result)
        if timings or rates:
            rel = f"assets/benchmarks/{topic}.png"
            _bench_plot(topic, timings, rates, site / rel)
            sec.append(f'<img class="bench" src="{esc(rel)}" alt="{esc(topic)} benchmark timings">')
        if result:
            scalars = {k: v for k, v in flatten(result).items() if not isinstance(v, list)}
            sec.append(f"<details><summary>All numbers in {esc(topic)}.json</summary>{kv_table(scalars)}</details>")
        links = [_copy(p, site, f"assets/benchmarks/{p.name}") for p in (js, md) if p.is_file()]
        sec.append("<p>" + " · ".join(f'<a href="{esc(r)}">{esc(Path(r).name)}</a>' for r in links) + "</p>")
        sec.append("</section>")
        body.append("\n".join(sec))
    out = site / "benchmarks.html"
    out.write_text(page("rlvr-workbook · benchmarks", "\n".join(body), "assets/style.css"), encoding="utf-8")
    return out
