"""Plain writers shared by the reporting package: atomic files, deterministic JSON, provenance facts, Markdown tables.

Every file is written atomically (temporary file in the same folder, then ``os.replace``) with mode 0644 and every
folder created 0755, so that a web server running as another user can serve the results and the site.
"""


from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from workbook.paths import repo_root

log = logging.getLogger(__name__)

FILE_MODE = 0o644
DIR_MODE = 0o755
#: Package versions recorded in provenance.json (missing ones are recorded as null).
TRACKED_PACKAGES: tuple[str, ...] = (
    "torch", "transformers", "trl", "peft", "accelerate", "datasets", "math-verify", "latex2sympy2-extended",
    "numpy", "scipy", "pandas", "matplotlib", "papermill", "vllm", "rlvr-workbook",
)
FLOAT_DECIMALS = 6


# --------------------------------------------------------------------------------------------------------------
# plain helpers
# --------------------------------------------------------------------------------------------------------------

def ensure_dir(path: Path) -> Path:
    """Return ``path`` after creating it and any missing parents with mode 0755 (whatever the umask)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for d in missing:
        try:
            os.chmod(d, DIR_MODE)
        except OSError:  # created by a concurrent writer we do not own
            pass
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Return ``path`` after writing ``data`` to it atomically (temp file in the same folder + ``os.replace``), 0644."""
    path = Path(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp creates 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Return ``path`` after writing UTF-8 ``text`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any, decimals: int | None = FLOAT_DECIMALS) -> Any:
    """Return ``obj`` as plain JSON types: numpy scalars/arrays, tuples, Paths, dataclasses converted; floats rounded.

    Non-finite floats become ``None`` (JSON has no NaN) so that files stay valid and deterministic.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, decimals) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, decimals) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), decimals)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if not math.isfinite(x):
            return None
        x = round(x, decimals) if decimals is not None else x
        return 0.0 if x == 0 else x  # no "-0.0"
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return to_jsonable({k: getattr(obj, k) for k in obj.__dataclass_fields__}, decimals)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def dumps_deterministic(obj: Any) -> str:
    """Return canonical JSON text: sorted keys, 2-space indent, floats rounded to 6 places, trailing newline."""
    return json.dumps(to_jsonable(obj), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def git_state(root: Path | None = None) -> dict:
    """Return ``{"sha": str | None, "dirty": bool | None}`` for the repository (None when git is unavailable).

    ``dirty`` means the *code* differs from ``sha``: changes under ``results/`` do not count, because they are what
    runs write (``make replicate`` replaces each published folder in turn, and the second notebook must not be
    flagged as coming from a dirty tree because the first one wrote its results).
    """
    root = root or repo_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return {"sha": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"], cwd=root,
                                capture_output=True, text=True, timeout=20)
        return {"sha": sha.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Return installed versions of ``names`` (None for packages that are not installed); never imports them."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = None
    return out


def hardware_info() -> dict:
    """Return cpu count, platform, python version and the GPU name (None without CUDA or torch not yet imported)."""
    import sys

    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "gpu": None,
        "gpu_count": 0,
    }
    torch = sys.modules.get("torch")  # only look when the notebook already imported torch: importing it costs seconds
    if torch is not None:
        try:
            info["torch_threads"] = torch.get_num_threads()
            if torch.cuda.is_available():
                info["gpu_count"] = torch.cuda.device_count()
                info["gpu"] = torch.cuda.get_device_name(0)
        except Exception:  # noqa: BLE001 - hardware probing must never break a run
            log.debug("GPU probing failed", exc_info=True)
    return info


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")


def _safe_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"bad file name {name!r}: use a plain name like 'pass_at_k'")
    return name.removesuffix(".png").removesuffix(".csv").removesuffix(".md")


def markdown_table(df, float_format: str = "{:.4g}") -> str:
    """Return ``df`` as a GitHub Markdown table (no extra dependency), floats formatted with ``float_format``."""

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            s = "" if not math.isfinite(float(v)) else float_format.format(float(v))
        else:
            s = "" if v is None else str(v)
        return s.replace("|", "\\|").replace("\n", " ")

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


