"""Run directories: metrics, provenance, figures and tables of one notebook run.

A run directory is ``results/<notebook>/<profile>/`` (``run_dir`` in STYLE.md). It holds

- ``metrics.json``     deterministic: sorted keys, floats rounded to 6 places, no timings (the same seed gives
                       byte-identical files on CPU); the key ``"headline"`` maps a few names to numbers for the summary;
- ``provenance.json``  git sha + dirty flag, resolved parameters, seed, package versions, hardware, start/end time;
- ``figures/*.png``    with the provenance (notebook, profile, git sha, seed) in the PNG text metadata;
- ``tables/*.csv|.md`` CSV for machines, Markdown for people; ``tables/reported_vs_reproduced.csv`` feeds the summary;
- ``run.json``         written by :mod:`workbook.runner` (status, wall time, error, executed notebook path).

Every file is written atomically (temporary file in the same folder, then ``os.replace``).
"""


from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from workbook.paths import repo_root, results_root

log = logging.getLogger(__name__)

from workbook.params import PROFILES
from workbook.reporting.io import (
    _iso, _safe_name, atomic_write_bytes, atomic_write_text, dumps_deterministic, git_state, hardware_info,
    markdown_table, package_versions, to_jsonable,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------------------
# run directory
# --------------------------------------------------------------------------------------------------------------

class RunDir:
    """A run's folder ``results_root()/<notebook>/<profile>/`` and the writers for everything in it."""

    def __init__(self, notebook: str, profile: str, root: Path | None = None):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
        notebook = Path(notebook).stem  # accept "quickstart.ipynb"
        self.notebook = notebook
        self.profile = profile
        self.root = Path(root) if root is not None else results_root()
        self.path = self.root / notebook / profile
        self.path.mkdir(parents=True, exist_ok=True)
        self.started = time.time()
        self._seed: int | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def write_metrics(self, metrics: dict) -> Path:
        """Return the path of ``metrics.json`` written atomically with sorted keys and floats rounded to 6 places.

        Put a small ``"headline"`` dict (name → number) in ``metrics`` for the summary; keep timings out.
        """
        if not isinstance(metrics, dict):
            raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
        return atomic_write_text(self.path / "metrics.json", dumps_deterministic(metrics))

    def provenance(self, params: dict | None = None, seed: int | None = None, started: float | None = None) -> dict:
        """Return the provenance record (git, parameters, seed, package versions, hardware, start/end time)."""
        started = self.started if started is None else started
        ended = time.time()
        return {
            "notebook": self.notebook,
            "profile": self.profile,
            "git": git_state(),
            "parameters": to_jsonable(params or {}, decimals=None),
            "seed": seed if seed is not None else self._seed,
            "packages": package_versions(),
            "hardware": hardware_info(),
            "started": _iso(started),
            "ended": _iso(ended),
            "wall_s": round(ended - started, 3),
        }

    def write_provenance(self, params: dict, seed: int, started: float | None = None) -> Path:
        """Return the path of ``provenance.json`` (git sha/dirty, parameters, seed, packages, hardware, times)."""
        self._seed = seed
        record = self.provenance(params, seed, started)
        self._figure_meta = {"notebook": self.notebook, "profile": self.profile,
                             "git_sha": record["git"]["sha"], "seed": seed}
        text = json.dumps(to_jsonable(record, decimals=None), sort_keys=True, indent=2) + "\n"
        return atomic_write_text(self.path / "provenance.json", text)

    def save_figure(self, fig, name: str, dpi: int = 150) -> Path:
        """Return the path of ``figures/<name>.png``; provenance (notebook, profile, git sha, seed) in PNG text chunks."""
        import io

        meta = getattr(self, "_figure_meta", None) or {"notebook": self.notebook, "profile": self.profile,
                                                       "git_sha": git_state()["sha"], "seed": self._seed}
        png_meta = {
            "Software": "rlvr-workbook",
            "Source": f"{self.notebook} ({self.profile})",
            "Comment": json.dumps(meta, sort_keys=True),
        }
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata=png_meta)
        return atomic_write_bytes(self.path / "figures" / f"{_safe_name(name)}.png", buf.getvalue())

    def save_table(self, df, name: str, float_format: str = "{:.4g}") -> tuple[Path, Path]:
        """Return the paths ``(tables/<name>.csv, tables/<name>.md)`` of ``df`` written atomically."""
        name = _safe_name(name)
        csv_path = atomic_write_text(self.path / "tables" / f"{name}.csv", df.to_csv(index=False))
        md_path = atomic_write_text(self.path / "tables" / f"{name}.md", markdown_table(df, float_format))
        return csv_path, md_path


