"""docs/: every code symbol a paper page cites exists, every repository path it names exists, every page is indexed.

Symbols are resolved statically (the module's source is parsed, nothing is imported), so the check is fast and
works without the heavy optional dependencies. A short name such as ``objectives.ppo_clip_loss`` is tried under the
packages a page naturally abbreviates: ``workbook``, ``workbook.rl``, ``workbook.papers`` and the page's own paper.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from workbook import paths

REPO = paths.repo_root()
DOCS = REPO / "docs"
LIB = REPO / "lib"
PAPER_PAGES = sorted((DOCS / "papers").glob("*.md"))
SYMBOL = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
FILE_SUFFIXES = (".py", ".md", ".yaml", ".jsonl", ".gz", ".parquet", ".ipynb", ".sh", ".json", ".txt")


@functools.lru_cache(maxsize=None)
def _module_names(module: str) -> dict[str, ast.AST] | None:
    """Return {top-level name: node} of ``module`` under lib/ (None if there is no such module)."""
    base = LIB.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    if not path.is_file():
        return None
    names: dict[str, ast.AST] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names.update({t.id: node for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            names.update({(a.asname or a.name).split(".")[0]: node for a in node.names})
    return names


def _in_class(node: ast.AST, attr: str) -> bool:
    if not isinstance(node, ast.ClassDef):
        return False
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and item.name == attr:
            return True
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.target.id == attr:
            return True
        if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in item.targets):
            return True
    return False


def resolves(dotted: str) -> bool:
    """Return True when ``dotted`` names a module under lib/, or a top-level name (and class member) in one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        names = _module_names(".".join(parts[:cut]))
        if names is None:
            continue
        rest = parts[cut:]
        if not rest:
            return True
        node = names.get(rest[0])
        if node is None:
            return False
        if len(rest) == 1 or isinstance(node, (ast.ImportFrom, ast.Import)):
            return True
        return len(rest) == 2 and _in_class(node, rest[1])
    return False


def _code_cells(text: str) -> list[str]:
    """Return the cells of every Markdown table column whose header starts with "Code"."""
    cells, col = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            col = None
            continue
        row = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if col is None:
            col = next((i for i, c in enumerate(row) if c.startswith("Code")), -1)
        elif col >= 0 and not set(line) <= set("|-: ") and len(row) > col:
            cells.append(row[col])
    return cells


def _symbols(cell: str) -> list[str]:
    out = []
    for tick in re.findall(r"`([^`]+)`", cell):
        m = SYMBOL.match(tick)
        if m and not tick.endswith(FILE_SUFFIXES) and "/" not in tick:
            out.append(m.group(0))
    return out


def test_every_paper_has_a_page_and_the_index_links_every_page():
    assert {p.stem for p in PAPER_PAGES} >= {"nsr", "lp_reg", "one_shot_rlvr", "dser", "sharpening",
                                             "inference_scaling_limits"}
    index = (DOCS / "README.md").read_text()
    for page in [*PAPER_PAGES, *DOCS.glob("*.md")]:
        if page.name != "README.md":
            assert f"]({page.relative_to(DOCS)})" in index, page


@pytest.mark.parametrize("page", PAPER_PAGES, ids=lambda p: p.stem)
def test_code_symbols_cited_by_a_paper_page_exist(page):
    prefixes = ["", "workbook.", "workbook.rl.", "workbook.papers.", f"workbook.papers.{page.stem}."]
    symbols = [s for cell in _code_cells(page.read_text()) for s in _symbols(cell)]
    assert len(symbols) >= 5, "the page's Code column cites (almost) nothing"
    missing = sorted({s for s in symbols if not any(resolves(p + s) for p in prefixes)})
    assert missing == []


@pytest.mark.parametrize("page", [*PAPER_PAGES, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_repository_paths_named_by_a_page_exist(page):
    named = re.findall(r"`((?:lib|notebooks|tests|docs|benchmarks|env)/[^`*<\s]+)`", page.read_text())
    missing = [p for p in named if not (REPO / p.split("::")[0]).exists()]
    assert missing == []


def test_resolver_rejects_what_does_not_exist():
    assert resolves("workbook.rl.objectives.ppo_clip_loss")
    assert resolves("workbook.rl.methods.Method.trl_overrides")
    assert not resolves("workbook.rl.objectives.no_such_function")
    assert not resolves("workbook.no_such_module.thing")
    assert not resolves("workbook.rl.methods.Method.no_such_member")
