"""The report site in a real browser: Debian's headless Chromium driven by Selenium through Debian's chromedriver.

Checks what a reader would hit opening ``results/site/index.html`` from disk: every link on the index resolves,
every image loads (naturalWidth > 0), each notebook page shows its reported-vs-reproduced table, its maths is
typeset by the site's own KaTeX (no formula left as a KaTeX parse error, no KaTeX font failing to load), and no page
logs a console error (a missing file or a blocked CDN script shows up there as SEVERE).

Skipped with the reason when Chromium, chromedriver or selenium is missing, except with CI=true, where it fails:
``env/install_browser.sh`` installs the browser (the Makefile's test target runs it in CI).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from workbook.paths import repo_root
from workbook.reporting.site import build_site

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1100")
SCREENSHOT_NAME = "screenshot-index.png"


def _browser_paths() -> tuple[str, str]:
    """Return (chromium, chromedriver) paths; skip (fail under CI=true) naming what is missing."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the Python package selenium (pinned in env/cpu.txt)")
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    driver = shutil.which("chromedriver")
    if chromium is None:
        missing.append("Debian's chromium")
    if driver is None:
        missing.append("Debian's chromium-driver")
    if missing:
        msg = f"browser check needs {', '.join(missing)}; install with `bash env/install_browser.sh`"
        if IN_CI:
            pytest.fail(f"{msg} (CI=true: this test must run, not skip)")
        pytest.skip(msg)
    return chromium, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Return a headless Chromium WebDriver with a fresh profile, collecting console messages."""
    chromium, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    tmp = tmp_path_factory.mktemp("chromium")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp / 'profile'}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Both paths are given, so Selenium Manager never runs (it would try to download a driver).
    service = Service(executable_path=driver_path, log_output=str(tmp / "chromedriver.log"))
    drv = webdriver.Chrome(options=opts, service=service)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def _load(drv, path: Path) -> dict:
    """Return what the page did: console errors, broken images, image count, title."""
    from selenium.webdriver.support.ui import WebDriverWait

    drv.get(path.resolve().as_uri())
    WebDriverWait(drv, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    images = drv.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src').slice(0, 100), i.complete,"
        " i.naturalWidth])")
    return {
        "errors": [e["message"] for e in drv.get_log("browser") if e.get("level") == "SEVERE"],
        "broken": [src for src, complete, width in images if not (complete and width > 0)],
        "n_images": len(images),
        "title": drv.title,
    }


def _maths(drv) -> dict:
    """Return the page's typeset maths: KaTeX formulas (inline, display), errors, KaTeX fonts by status.

    With ``throwOnError: false`` KaTeX shows a parse error as a ``.katex-error`` span and an unknown command in its
    ``errorColor`` (#cc0000) inside the formula: both are errors here.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    # fonts load lazily once a formula uses them; wait until none is still loading
    WebDriverWait(drv, 30).until(lambda d: d.execute_script(
        "return Array.from(document.fonts).every(f => f.status !== 'loading')"))
    return drv.execute_script(
        "const fonts = Array.from(document.fonts).filter(f => f.family.includes('KaTeX'));"
        " return {katex: document.querySelectorAll('.jp-RenderedMarkdown .katex').length,"
        " display: document.querySelectorAll('.jp-RenderedMarkdown .katex-display').length,"
        " errors: Array.from(document.querySelectorAll('.katex-error')).map(e => e.title.slice(0, 200)).concat("
        "   Array.from(document.querySelectorAll('.katex-html [style*=\"#cc0000\"],"  # unknown command, red
        " .katex-html [style*=\"rgb(204, 0, 0)\"]'))"
        "     .map(e => 'undefined command ' + e.textContent)),"
        " fonts_loaded: fonts.filter(f => f.status === 'loaded').length,"
        " fonts_failed: fonts.filter(f => f.status === 'error').map(f => f.family)}")


def check_site(drv, index: Path, screenshot: Path | None = None) -> list[str]:
    """Return every problem found opening the site at ``index`` and following the index's links."""
    problems: list[str] = []

    def report(name: str, res: dict) -> None:
        problems.extend(f"{name}: console error: {m}" for m in res["errors"])
        problems.extend(f"{name}: image did not load: {s}" for s in res["broken"])
        if not res["title"]:
            problems.append(f"{name}: empty title")

    res = _load(drv, index)
    report("index.html", res)
    if screenshot is not None:
        drv.save_screenshot(str(screenshot))
    links = drv.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'), a.href,"
        " !!(a.hash && document.getElementById(decodeURIComponent(a.hash.slice(1))))])")
    pages: list[Path] = []
    for href, url, anchor_found in links:
        parsed = urlparse(url)
        if href.startswith("#"):
            if not anchor_found:
                problems.append(f"index.html: anchor {href} has no target")
            continue
        if parsed.scheme != "file":
            problems.append(f"index.html: link {href} is not a local file")
            continue
        target = Path(unquote(parsed.path))
        if not target.is_file():
            problems.append(f"index.html: broken link {href}")
        elif target.suffix == ".html" and target.resolve() != index.resolve() and target not in pages:
            pages.append(target)
    for target in pages:
        res = _load(drv, target)
        name = str(target.relative_to(index.parent))
        report(name, res)
        if target.parent.name == "notebooks":
            n_rows = drv.execute_script(
                "const t = document.querySelector('.wb-footer table.rvr');"
                " return t && t.offsetParent !== null ? t.querySelectorAll('tbody tr').length : 0")
            status = drv.execute_script("const h = document.querySelector('.wb-header');"
                                        " return h ? h.dataset.status : null")
            paper = drv.execute_script("const h = document.querySelector('.wb-header');"
                                       " return h ? h.dataset.paper : null")
            if status is None:
                problems.append(f"{name}: no run header (parameters) at the top")
            maths = _maths(drv)
            problems.extend(f"{name}: a formula KaTeX could not typeset: {e}" for e in maths["errors"])
            problems.extend(f"{name}: KaTeX font did not load: {f}" for f in maths["fonts_failed"])
            if status == "passed" and paper != "no" and not n_rows:  # lab 0 checks no paper claims
                problems.append(f"{name}: the reported-vs-reproduced table is missing or hidden")
    if not pages:
        problems.append("index.html links to no page")
    return problems


def test_fake_site_opens_cleanly_in_chromium(browser, tmp_path):
    from test_site import make_fake_results

    root = make_fake_results(tmp_path / "results")
    index = build_site(root)
    shot = index.parent / SCREENSHOT_NAME
    assert check_site(browser, index, shot) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    visited = _load(browser, index.parent / "notebooks" / "quickstart.cpu.html")
    assert visited["n_images"] >= 1 and visited["broken"] == []  # the notebook's own figure output
    maths = _maths(browser)  # the Markdown cell's inline and display formulas, typeset offline by KaTeX
    assert maths["katex"] >= 2 and maths["display"] >= 1 and maths["errors"] == [], maths
    assert maths["fonts_loaded"] >= 1 and maths["fonts_failed"] == [], maths
    text = browser.execute_script("return document.querySelector('.jp-RenderedMarkdown').innerText")
    assert "$" not in text, text  # no formula left as raw TeX


def test_checker_catches_broken_image_link_and_console_error(browser, tmp_path):
    """The checks above can fail: a page with a missing image, a dead link and a script error is caught."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "x.cpu.html").write_text(
        '<!DOCTYPE html><html><head><title>x</title><link rel="icon" href="data:,"></head>'
        '<body><div class="wb-header" data-status="passed"></div></body></html>')
    index = tmp_path / "index.html"
    index.write_text('<!DOCTYPE html><html><head><title>t</title><link rel="icon" href="data:,"></head><body>'
                     '<img src="assets/missing.png"><a href="nowhere.html">x</a><a href="#nope">y</a>'
                     '<a href="notebooks/x.cpu.html">z</a><script>console.error("deliberate")</script></body></html>')
    problems = check_site(browser, index)
    text = "\n".join(problems)
    assert "image did not load: assets/missing.png" in text
    assert "broken link nowhere.html" in text
    assert "anchor #nope has no target" in text
    assert "deliberate" in text
    assert "notebooks/x.cpu.html: the reported-vs-reproduced table is missing" in text


def test_checker_catches_a_formula_katex_cannot_typeset(browser, tmp_path):
    """A notebook page whose Markdown holds an unknown TeX command is reported, not silently shown as red TeX."""
    import nbformat

    from test_site import make_fake_results

    root = make_fake_results(tmp_path / "results")
    path = root / "quickstart" / "cpu" / "quickstart.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("Broken: $\\notacommand{x}$ and $\\frac{1}$"))
    nbformat.write(nb, str(path))
    problems = check_site(browser, build_site(root))
    assert any("could not typeset: undefined command" in p and "notacommand" in p for p in problems), problems
    assert any("could not typeset: ParseError" in p and "frac" in p for p in problems), problems


def test_real_site_opens_cleanly_and_screenshot(browser):
    """The site `make replicate` built from this checkout's results; saves the README's screenshot beside it."""
    index = repo_root() / "results" / "site" / "index.html"
    if not index.is_file():
        pytest.skip("no results/site/index.html yet: `make replicate` (workbook site) builds it")
    assert check_site(browser, index, index.parent / SCREENSHOT_NAME) == []
