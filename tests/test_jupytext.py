"""jupytext pairing is stable: syncing every paired notebook on a copy of the tree changes no byte.

A fresh clone gives the two files of a pair arbitrary modification times, so jupytext may take either as the
source; the test syncs twice, once with every ``.py`` newer and once with every ``.ipynb`` newer. A header that
jupytext would rewrite (its version line, the formats or metadata filters) or a pair whose two files disagree
fails here, naming the file and the first changed line.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.paths import repo_root

NOTEBOOKS = repo_root() / "notebooks"
PAIRED = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb") if p.with_suffix(".py").is_file())


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py")) + sorted(folder.glob("*.ipynb"))}


def _first_change(name: str, before: bytes, after: bytes) -> str:
    diff = difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), lineterm="", n=0)
    return f"{name}: " + " | ".join(list(diff)[2:6])


def test_every_notebook_is_paired():
    assert PAIRED, "no paired notebooks found"
    unpaired = sorted({p.stem for p in NOTEBOOKS.glob("*.ipynb")} ^ {p.stem for p in NOTEBOOKS.glob("*.py")})
    assert unpaired == [], f"notebooks without their .py/.ipynb pair: {unpaired}"


@pytest.mark.parametrize("newer", [".py", ".ipynb"])
def test_jupytext_sync_on_a_copy_changes_nothing(tmp_path, newer):
    copy = tmp_path / "notebooks"
    copy.mkdir()
    for stem in PAIRED:
        for suffix in (".py", ".ipynb"):
            shutil.copyfile(NOTEBOOKS / f"{stem}{suffix}", copy / f"{stem}{suffix}")
            t = 2_000_000_000 if suffix == newer else 1_900_000_000
            os.utime(copy / f"{stem}{suffix}", (t, t))
    before = _snapshot(copy)
    proc = subprocess.run([sys.executable, "-m", "jupytext", "--sync", *sorted(str(p) for p in copy.glob("*.ipynb"))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = _snapshot(copy)
    changed = [_first_change(n, before[n], after[n]) for n in before if before[n] != after[n]]
    assert changed == [], "jupytext --sync rewrote:\n" + "\n".join(changed)
