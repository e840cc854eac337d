"""Where the workbook finds its data, writes its results and caches its models.

Every location can be overridden by an environment variable so that tests, CI and users on clusters
can redirect it without touching code.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (``lib/workbook/paths.py`` → two levels up from ``lib``).
REPO_ROOT = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    """Return the repository root."""
    return REPO_ROOT


def results_root() -> Path:
    """Return the results root: ``$WORKBOOK_RESULTS_DIR`` or ``<repo>/results``."""
    env = os.environ.get("WORKBOOK_RESULTS_DIR")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "results"


#: Set by the runner for the notebook's kernel: the (staging) folder a ``RunDir`` writes into.
RUN_DIR_ENV = "WORKBOOK_RUN_DIR"


def scratch_root() -> Path:
    """Return where runs without the runner write (JupyterLab, plain papermill): ``$WORKBOOK_SCRATCH_DIR`` or
    ``<repo>/results/scratch`` (git-ignored; never read by the summary or the site)."""
    env = os.environ.get("WORKBOOK_SCRATCH_DIR")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "results" / "scratch"


def cache_dir() -> Path:
    """Return the cache for converted and trained models: ``$WORKBOOK_CACHE_DIR`` or ``~/.cache/rlvr-workbook``."""
    env = os.environ.get("WORKBOOK_CACHE_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "rlvr-workbook"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def notebooks_dir() -> Path:
    """Return ``<repo>/notebooks``."""
    return REPO_ROOT / "notebooks"
