"""Run directories (metrics, provenance, figures, tables) and the reported-vs-reproduced verdicts.

Spec: ``shared/specs/evaluation.md`` § Reported-vs-reproduced; CONTRACTS.md § workbook.results.

A run directory is ``results/<notebook>/<profile>/`` (``run_dir`` in STYLE.md). It holds

- ``metrics.json``     deterministic: sorted keys, floats rounded to 6 places, no timings (the same seed gives
                       byte-identical files on CPU); the key ``"headline"`` maps a few names to numbers for the summary;
- ``provenance.json``  git sha + dirty flag, resolved parameters, seed, package versions, hardware, start/end time;
- ``figures/*.png``    with the provenance (notebook, profile, git sha, seed) in the PNG text metadata;
- ``tables/*.csv|.md`` CSV for machines, Markdown for people; ``tables/reported_vs_reproduced.csv`` feeds the summary;
- ``run.json``         written by :mod:`workbook.runner` (status, wall time, error, executed notebook path).

Every file is written atomically (temporary file in the same folder, then ``os.replace``).

Reported numbers
----------------
One YAML file per method, ``lib/workbook/reported/<method>.yaml``::

    method: nsr                       # must equal the file name
    paper: "Zhu et al. 2025, The Surprising Effectiveness of Negative Reinforcement ..., arXiv 2506.01347"
    claims:
      - id: NSR-1                     # unique within the file; the notebook's claim numbering
        claim: "NSR alone keeps pass@256 at or above the base model"   # one sentence
        setting: "Qwen2.5-Math-7B, MATH, T=0.6, 256 samples, math-verify"  # model, benchmark, sampling, grader
        value: 0.912                  # the paper's number, or null when the claim is qualitative
        unit: "pass@256"              # what `value` (and the reproduced estimate) measures
        source: "Table 2"             # table / figure / README line where the number is printed
        kind: value                   # value | direction | at_least | at_most (verdict rules below)
        tolerance: 0.02               # value/at_least/at_most: allowed absolute gap (same unit as value)
        expected_sign: "+"            # direction only: "+" or "-"; the reproduced estimate is a difference
        min_effect: 0.0               # direction only, optional: smallest effect that counts as "there"
        scale: any                    # any (testable at every profile) | paper (only at the paper profile)

Verdict rules (``verdict(claim, estimate, profile)``), with ``[lo, hi]`` the reproduced 95% CI:

- no estimate (``None``), or ``scale: paper`` at a profile other than ``paper`` → ``"not run at this scale"``;
- ``value``: equivalence test against the band ``[value - tolerance, value + tolerance]``:
  CI inside the band → ``"reproduced"``; CI disjoint from the band → ``"not reproduced"``;
  otherwise (CI straddles an edge of the band: too wide to tell) → ``"inconclusive"``;
- ``direction`` (estimate = ours minus the comparison, e.g. NSR − base), for ``expected_sign: "+"``:
  ``lo > min_effect`` → reproduced; ``hi < 0`` (effect has the opposite sign) or, when ``min_effect > 0``,
  ``hi < min_effect`` (effect excluded from being as large as claimed) → not reproduced; else inconclusive.
  ``"-"`` mirrors it;
- ``at_least`` (our number should reach ``value - tolerance``): ``lo >= value - tolerance`` → reproduced,
  ``hi < value - tolerance`` → not reproduced, else inconclusive. ``at_most`` mirrors it.
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

PROFILES: tuple[str, ...] = ("smoke", "cpu", "paper")
CLAIM_KINDS: tuple[str, ...] = ("value", "direction", "at_least", "at_most")
VERDICTS: tuple[str, ...] = ("reproduced", "not reproduced", "inconclusive", "not run at this scale")
REPORTED_DIR = Path(__file__).resolve().parent / "reported"
#: Package versions recorded in provenance.json (missing ones are recorded as null).
TRACKED_PACKAGES: tuple[str, ...] = (
    "torch", "transformers", "trl", "peft", "accelerate", "datasets", "math-verify", "latex2sympy2-extended",
    "numpy", "scipy", "pandas", "matplotlib", "papermill", "vllm", "rlvr-workbook",
)
FLOAT_DECIMALS = 6


# --------------------------------------------------------------------------------------------------------------
# plain helpers
# --------------------------------------------------------------------------------------------------------------

def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Return ``path`` after writing ``data`` to it atomically (temp file in the same folder + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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
    """Return ``{"sha": str | None, "dirty": bool | None}`` for the repository (None when git is unavailable)."""
    root = root or repo_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return {"sha": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
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


# --------------------------------------------------------------------------------------------------------------
# run directory
# --------------------------------------------------------------------------------------------------------------

class RunDir:
    """A run's folder ``results_root()/<notebook>/<profile>/`` and the writers for everything in it."""

    def __init__(self, notebook: str, profile: str, root: Path | None = None):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
        notebook = Path(notebook).stem  # accept "00_quickstart.ipynb"
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


# --------------------------------------------------------------------------------------------------------------
# reported numbers and verdicts
# --------------------------------------------------------------------------------------------------------------

class ReportedSchemaError(ValueError):
    """A reported/<method>.yaml file does not follow the schema in this module's docstring."""


_REQUIRED = ("id", "claim", "setting", "value", "unit", "source", "kind")


def available_methods() -> list[str]:
    """Return the methods that have a reported/<method>.yaml file."""
    return sorted(p.stem for p in REPORTED_DIR.glob("*.yaml"))


def validate_claim(claim: dict, where: str = "") -> dict:
    """Return ``claim`` with defaults filled in (scale, tolerance, min_effect); ReportedSchemaError when malformed."""
    if not isinstance(claim, dict):
        raise ReportedSchemaError(f"{where}: each claim must be a mapping, got {type(claim).__name__}")
    missing = [k for k in _REQUIRED if k not in claim]
    if missing:
        raise ReportedSchemaError(f"{where} claim {claim.get('id', '?')!r}: missing keys {missing}")
    c = dict(claim)
    c["id"] = str(c["id"])
    if c["kind"] not in CLAIM_KINDS:
        raise ReportedSchemaError(f"{where} claim {c['id']}: kind {c['kind']!r} not in {CLAIM_KINDS}")
    if c["value"] is not None and not isinstance(c["value"], (int, float)):
        raise ReportedSchemaError(f"{where} claim {c['id']}: value must be a number or null, got {c['value']!r}")
    if not str(c["source"]).strip():
        raise ReportedSchemaError(f"{where} claim {c['id']}: empty source (table / figure / README line)")
    c.setdefault("scale", "any")
    if c["scale"] not in ("any", "paper"):
        raise ReportedSchemaError(f"{where} claim {c['id']}: scale must be 'any' or 'paper', got {c['scale']!r}")
    c.setdefault("tolerance", 0.0)
    if c["kind"] in ("value", "at_least", "at_most") and c["value"] is None:
        raise ReportedSchemaError(f"{where} claim {c['id']}: kind {c['kind']} needs a numeric value")
    if c["kind"] == "direction":
        if c.get("expected_sign") not in ("+", "-"):
            raise ReportedSchemaError(f"{where} claim {c['id']}: direction claims need expected_sign '+' or '-'")
        c.setdefault("min_effect", 0.0)
    return c


def load_reported(method: str) -> list[dict]:
    """Return the validated claims of ``reported/<method>.yaml`` (schema in this module's docstring)."""
    import yaml

    path = REPORTED_DIR / f"{method}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no reported numbers for method {method!r} ({path}); "
                                f"available: {', '.join(available_methods()) or 'none'}")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if doc.get("method") != method:
        raise ReportedSchemaError(f"{path.name}: 'method' is {doc.get('method')!r}, expected {method!r}")
    claims = doc.get("claims")
    if not isinstance(claims, list) or not claims:
        raise ReportedSchemaError(f"{path.name}: 'claims' must be a non-empty list")
    out = [validate_claim(c, path.name) for c in claims]
    ids = [c["id"] for c in out]
    if len(set(ids)) != len(ids):
        raise ReportedSchemaError(f"{path.name}: duplicate claim ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return out


@dataclass(frozen=True)
class _Est:
    value: float
    lo: float
    hi: float
    n: int | None


def _as_estimate(est: Any) -> _Est | None:
    """Return a uniform view of a workbook.metrics.Estimate, a dict with value/lo/hi/n, or None."""
    if est is None:
        return None
    get = est.get if isinstance(est, dict) else (lambda k, d=None: getattr(est, k, d))
    value, lo, hi = get("value"), get("lo"), get("hi")
    if value is None or lo is None or hi is None:
        raise ValueError(f"a reproduced estimate needs value, lo and hi; got {est!r}")
    value, lo, hi = float(value), float(lo), float(hi)
    if not all(math.isfinite(x) for x in (value, lo, hi)):
        return None  # a NaN estimate (e.g. no problems evaluated) is no estimate
    if lo > hi:
        raise ValueError(f"estimate has lo > hi: {est!r}")
    n = get("n")
    return _Est(value, lo, hi, None if n is None else int(n))


def verdict(claim: dict, estimate: Any, profile: str) -> str:
    """Return the verdict for one claim given our 95%-CI estimate (rules in this module's docstring)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    c = validate_claim(claim)
    est = _as_estimate(estimate)
    if est is None or (c["scale"] == "paper" and profile != "paper"):
        return "not run at this scale"
    tol = float(c.get("tolerance") or 0.0)
    kind = c["kind"]
    if kind == "value":
        band_lo, band_hi = c["value"] - tol, c["value"] + tol
        if band_lo <= est.lo and est.hi <= band_hi:
            return "reproduced"
        if est.hi < band_lo or est.lo > band_hi:
            return "not reproduced"
        return "inconclusive"
    if kind == "direction":
        sign = 1.0 if c["expected_sign"] == "+" else -1.0
        lo, hi = sorted((sign * est.lo, sign * est.hi))  # flip so that the expected effect is positive
        m = float(c.get("min_effect") or 0.0)
        if lo > m:
            return "reproduced"
        if hi < 0 or (m > 0 and hi < m):
            return "not reproduced"
        return "inconclusive"
    threshold = c["value"] - tol if kind == "at_least" else c["value"] + tol
    if kind == "at_least":
        return "reproduced" if est.lo >= threshold else "not reproduced" if est.hi < threshold else "inconclusive"
    return "reproduced" if est.hi <= threshold else "not reproduced" if est.lo > threshold else "inconclusive"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.4g}"


def format_paper_value(claim: dict) -> str:
    """Return the paper's number as printed in the table (with unit), or the qualitative statement for null values."""
    if claim["value"] is None:
        if claim["kind"] == "direction":
            return f"{'> 0' if claim['expected_sign'] == '+' else '< 0'} ({claim['unit']})"
        return "—"
    prefix = {"at_least": "≥ ", "at_most": "≤ "}.get(claim["kind"], "")
    tol = f" ± {_fmt(claim['tolerance'])}" if claim.get("tolerance") else ""
    return f"{prefix}{_fmt(claim['value'])}{tol} ({claim['unit']})"


def reported_vs_reproduced(method: str, reproduced: dict[str, Any], profile: str):
    """Return the reported-vs-reproduced table (pandas.DataFrame), one row per claim of ``reported/<method>.yaml``.

    evaluation.md § Reported-vs-reproduced. ``reproduced`` maps claim id → Estimate (value, lo, hi, n; 95% CI)
    or None when the claim was not measured. Columns: claim_id, claim, setting, paper, reproduced
    ("value [lo, hi]"), n, verdict, source, plus the numbers (paper_value, value, lo, hi) for machines.
    Unknown claim ids in ``reproduced`` are an error (a typo would otherwise silently read "not run").
    """
    import pandas as pd

    claims = load_reported(method)
    known = {c["id"] for c in claims}
    unknown = sorted(set(reproduced) - known)
    if unknown:
        raise KeyError(f"reproduced estimates for unknown claim ids {unknown} of {method!r}; known: {sorted(known)}")
    rows = []
    for c in claims:
        est = _as_estimate(reproduced.get(c["id"]))
        rows.append({
            "claim_id": c["id"],
            "claim": c["claim"],
            "setting": c["setting"],
            "paper": format_paper_value(c),
            "reproduced": "—" if est is None else f"{_fmt(est.value)} [{_fmt(est.lo)}, {_fmt(est.hi)}]",
            "n": None if est is None else est.n,
            "verdict": verdict(c, reproduced.get(c["id"]), profile),
            "source": c["source"],
            "paper_value": c["value"],
            "value": None if est is None else est.value,
            "lo": None if est is None else est.lo,
            "hi": None if est is None else est.hi,
        })
    df = pd.DataFrame(rows)
    df["n"] = df["n"].astype("Int64")
    return df
