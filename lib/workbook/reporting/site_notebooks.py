"""Notebook pages of the report site: each executed notebook as an offline HTML page (nbconvert ``lab``).

Split from :mod:`workbook.reporting.site` (whose ``build_site`` calls `notebook_page`): parameters on top, the
executed notebook, then the reported-vs-reproduced table and the provenance; every remote script (require.js,
MathJax, mermaid, widget manager) is left out, so an offline browser logs no errors. Maths in Markdown cells is
typeset in the browser by KaTeX, vendored in ``static/katex/`` (MIT, its README gives version and hashes) and
copied into the site's ``assets/katex/`` by `copy_katex`: no CDN, no network.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workbook.reporting.site import (
    CSS, Run, _notebook_title, esc, fmt_seconds, kv_table, legend, replicates_paper, rvr_table,
)

__all__ = ["KATEX_DIR", "NB_TEMPLATE", "SCRIPT_MIMES", "copy_katex", "notebook_page", "offline_notebook"]

#: The vendored KaTeX build (katex.min.js/.css, contrib/auto-render.min.js, fonts/*.woff2, LICENSE).
KATEX_DIR = Path(__file__).parent / "static" / "katex"
#: Where the site keeps it, relative to the site root; notebook pages (one folder down) load ``../`` + this.
KATEX_ASSETS = "assets/katex"


#: nbconvert's ``lab`` page without its remote scripts (require.js, MathJax, mermaid, widget manager: all CDN);
#: the MathJax block loads the site's own KaTeX instead and typesets the page once it is parsed (``throwOnError``
#: off and ``strict`` ignored: a formula KaTeX cannot parse shows as its TeX source in red, never a console error).
NB_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<link rel="stylesheet" href="{{ resources.katex_href }}/katex.min.css">
<script defer src="{{ resources.katex_href }}/katex.min.js"></script>
<script defer src="{{ resources.katex_href }}/contrib/auto-render.min.js"></script>
<script>
document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {
    delimiters: [{left: "$$", right: "$$", display: true}, {left: "\\[", right: "\\]", display: true},
                 {left: "$", right: "$", display: false}, {left: "\\(", right: "\\)", display: false}],
    ignoredClasses: ["wb-header", "wb-footer", "jp-OutputArea", "jp-InputArea-editor"],
    throwOnError: false, errorColor: "#cc0000", strict: "ignore"});
});
</script>
{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<link rel="icon" href="data:,">
<style type="text/css">{{ resources.workbook_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.workbook_header }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.workbook_footer }}{{ super() }}{%- endblock body_footer -%}
"""
#: Output types that need a JavaScript runtime (widget manager, notebook JS) the offline page does not load.
SCRIPT_MIMES = frozenset({"application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json",
                          "application/javascript", "text/javascript"})


def copy_katex(site: Path) -> Path:
    """Return the site's copy of the vendored KaTeX (``<site>/assets/katex``), copied from :data:`KATEX_DIR`."""
    dst = site / KATEX_ASSETS
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(KATEX_DIR, dst, ignore=shutil.ignore_patterns("README.md"))
    return dst


def offline_notebook(nb):
    """Return a copy of ``nb`` without widget state and script outputs (their text/plain fallback stays)."""
    import copy

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None:
                for mime in [m for m in data if m in SCRIPT_MIMES]:
                    del data[mime]
                if not data:
                    continue
            kept.append(out)
        cell["outputs"] = kept
    return nb


def _provenance_html(run: Run) -> str:
    prov = run.provenance
    if not prov:
        return "<p><i>No provenance.json was written by this run.</i></p>"
    git = prov.get("git") or {}
    top = {"git sha": git.get("sha"), "git dirty": git.get("dirty"), "seed": prov.get("seed"),
           "started": prov.get("started"), "ended": prov.get("ended"), "wall_s (in the kernel)": prov.get("wall_s")}
    parts = [kv_table({k: v for k, v in top.items() if v is not None})]
    if prov.get("hardware"):
        parts.append("<h3>Hardware</h3>" + kv_table(prov["hardware"]))
    if prov.get("packages"):
        parts.append("<h3>Packages</h3>" + kv_table({k: v if v is not None else "not installed"
                                                     for k, v in prov["packages"].items()}))
    return "\n".join(parts)


def notebook_page(run: Run, site: Path) -> Path:
    """Return the path of the run's notebook page: header (status, parameters), executed notebook, footer.

    The footer holds the reported-vs-reproduced table (id ``reported-vs-reproduced``) and the provenance.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    from workbook.paths import notebooks_dir

    nb = offline_notebook(nbformat.read(str(run.executed_notebook), as_version=4))
    title = _notebook_title(run)
    header = [
        f'<div class="wb-header" data-status="{esc(run.status)}" data-paper="{"yes" if replicates_paper(run.notebook) else "no"}">',
        '<nav class="wb-nav"><a href="../index.html">← all runs</a>'
        f'<a href="../index.html#{esc(run.anchor)}">summary of this run</a>'
        '<a href="../benchmarks.html">Benchmarks</a></nav>',
        f"<h1>{esc(title)}</h1>",
        f'<p class="run-meta"><span>notebook <b>{esc(run.notebook)}</b></span>'
        f'<span>status <span class="status status-{esc(run.status)}">{esc(run.status)}</span></span>'
        f"<span>profile <b>{esc(run.profile)}</b></span><span>wall time <b>{esc(fmt_seconds(run.wall_s))}</b></span>"
        f"<span>hardware {esc(run.hardware())}</span></p>",
        '<h2 id="parameters">Parameters</h2>',
        kv_table(run.parameters, pairs_per_row=4) if run.parameters else "<p><i>No parameters recorded.</i></p>",
    ]
    if run.record.get("error"):
        header.append(f'<pre class="error">{esc(run.record["error"])}</pre>')
    header.append("</div>")
    footer = ['<div class="wb-footer">', '<h2 id="reported-vs-reproduced">Reported vs reproduced</h2>']
    footer.append(rvr_table(run.rvr) + legend() if run.rvr else
                  "<p><i>No reported-vs-reproduced table was written by this run.</i></p>")
    footer += ['<h2 id="provenance">Provenance</h2>', _provenance_html(run), "</div>"]

    exporter = HTMLExporter(template_name="lab", template_file="workbook_page.html.j2",
                            extra_loaders=[DictLoader({"workbook_page.html.j2": NB_TEMPLATE})], embed_images=True)
    resources = {"metadata": {"name": f"{title} ({run.profile})", "path": str(notebooks_dir())},
                 "workbook_css": CSS, "workbook_header": "\n".join(header), "workbook_footer": "\n".join(footer),
                 "katex_href": f"../{KATEX_ASSETS}"}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    out = site / run.page
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out
