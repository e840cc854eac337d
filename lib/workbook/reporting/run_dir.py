"""Run directories: metrics, provenance, figures and tables of one notebook run.

A run directory is ``results/<notebook>/<label>/`` (``run_dir`` in STYLE.md), where the label is the profile whose
YAML was applied or ``custom-<hash>`` (:func:`workbook.params.profile_label`). It holds

- ``metrics.json``     deterministic: sorted keys, floats rounded to 6 places, no timings (the same seed gives
                       byte-identical files on CPU); the key ``"headline"`` maps a few names to numbers for the summary;
- ``provenance.json``  git sha + dirty flag, resolved parameters, seed, package versions, hardware, start/end time;
- ``figures/*.png``    with the provenance (notebook, profile, git sha, seed) in the PNG text metadata;
- ``tables/*.csv|.md`` CSV for machines, Markdown for people; ``tables/reported_vs_reproduced.csv`` feeds the summary;
- ``run.json``         written by :mod:`workbook.runner` (status, wall time, CPU seconds, load average, error,
                       executed notebook path): timings go there, not into ``metrics.json``.

Where a ``RunDir`` writes, first match wins:

1. ``$WORKBOOK_RUN_DIR``: set by the runner to its staging folder (the runner moves it into place when it passes);
2. an explicit ``root`` argument or ``$WORKBOOK_RESULTS_DIR``: ``<root>/<notebook>/<label>/`` ("told otherwise");
3. otherwise (JupyterLab, plain papermill): the scratch folder ``<repo>/results/scratch/<notebook>/<label>/``, so an
   interactive run never overwrites published results.

Every file is written atomically (temporary file in the same folder, then ``os.replace``), mode 0644.
"""


from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from workbook.params import PROFILES, run_label
from workbook.paths import RUN_DIR_ENV, results_root, scratch_root
from workbook.reporting.io import (
    _iso, _safe_name, atomic_write_bytes, atomic_write_text, dumps_deterministic, ensure_dir, git_state,
    hardware_info, markdown_table, package_versions, to_jsonable,
)

log = logging.getLogger(__name__)


def default_location(notebook: str, label: str, root: Path | None = None) -> Path:
    """Return the folder a ``RunDir`` for ``notebook``/``label`` writes into (see the module docstring)."""
    if os.environ.get(RUN_DIR_ENV):
        return Path(os.environ[RUN_DIR_ENV]).expanduser().resolve()
    if root is not None or os.environ.get("WORKBOOK_RESULTS_DIR"):
        return (Path(root) if root is not None else results_root()) / notebook / label
    return scratch_root() / notebook / label


# --------------------------------------------------------------------------------------------------------------
# run directory
# --------------------------------------------------------------------------------------------------------------

class RunDir:
    """A run's folder (``<root>/<notebook>/<label>/``, see the module docstring) and the writers for everything in it."""

    def __init__(self, notebook: str, profile: str, root: Path | None = None, label: str | None = None):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
        notebook = Path(notebook).stem  # accept "quickstart.ipynb"
        self.notebook = notebook
        self.profile = profile
        #: the profile whose file was applied, or custom-<hash> (computed by check_params in this kernel)
        self.label = label or run_label(notebook, profile)
        self.root = Path(root) if root is not None else results_root()
        self.path = default_location(notebook, self.label, root)
        ensure_dir(self.path)
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
            "label": self.label,
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


