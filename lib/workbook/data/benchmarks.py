"""Benchmark loaders: one record type (`Problem`) for every math, code and 1-shot-RLVR data file.

What ships, what is fetched, the loading order and the licences: ``docs/data.md`` and the repository's ``NOTICE``.
The files whose licences allow it ship inside the package (``lib/workbook/data/files/``, byte-for-byte copies of
the upstream files, sha256 in `SOURCES`); the others are downloaded once by ``workbook data fetch NAME``
(`workbook.data.fetch`), checked against the same sha256, and cached.

Search order for a file: an explicit ``data_dir``, ``$WORKBOOK_DATA_DIR``, the repository's files, the download
cache (``<cache_dir>/data``), then the network: the pinned upstream file (sha256-checked, then cached) and, last,
the Hugging Face hub copy through ``datasets.load_dataset`` (not byte-identical, so not checksummed). No download
is tried when ``HF_HUB_OFFLINE``, ``HF_DATASETS_OFFLINE`` or ``WORKBOOK_OFFLINE`` is set. When nothing works the
caller gets one `DataNotFoundError` that names every place tried.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook import paths
from workbook.data.registry import (  # noqa: F401 - re-exported: the registry is part of this module's API
    BENCHMARKS,
    CODE_BENCHMARKS,
    DATASETS,
    FETCHED,
    SHIPPED,
    SOURCES,
    Source,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: id, text shown to the model, gold answer, dataset name and metadata."""

    problem_id: str
    problem: str
    answer: str
    dataset: str
    metadata: dict = field(default_factory=dict, compare=False, hash=False)


class DataNotFoundError(FileNotFoundError):
    """No data directory and no hub copy could provide the requested benchmark."""


class UnknownDatasetError(ValueError):
    """The dataset name is not one the workbook knows."""


#: The instruction verl/DeepScaleR appends to every 1-shot-RLVR prompt; stripped from `Problem.problem`
#: (our prompt builder adds its own) and kept in metadata["instruction"].
VERL_INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}."

ENV_VAR = "WORKBOOK_DATA_DIR"
#: The folder of the shipped files, inside the package so that an installed workbook carries them.
SHIPPED_DIR = Path(__file__).resolve().parent / "files"
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "WORKBOOK_OFFLINE")


def check_name(name: str) -> Source:
    """Return the `Source` of ``name``; raises `UnknownDatasetError` listing the valid names (before any IO)."""
    if name not in SOURCES:
        raise UnknownDatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return SOURCES[name]


def data_cache_dir() -> Path:
    """Return where fetched files are cached: ``<cache_dir>/data`` (``$WORKBOOK_CACHE_DIR`` moves it)."""
    return paths.cache_dir() / "data"


def offline_reason() -> str | None:
    """Return the environment variable that forbids downloads (``HF_HUB_OFFLINE=1`` ...), or None when online."""
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "0").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var} is set"
    return None


def _candidate_dirs(data_dir: str | Path | None) -> list[tuple[str, Path]]:
    """Return the local directories to search, labelled, in search order."""
    out: list[tuple[str, Path]] = []
    if data_dir is not None:
        out.append(("data_dir argument", Path(data_dir).expanduser()))
    env = os.environ.get(ENV_VAR)
    if env:
        out.append((f"${ENV_VAR}", Path(env).expanduser()))
    out.append(("repository files", SHIPPED_DIR))
    out.append(("download cache", data_cache_dir()))
    return out


def locate(name: str, data_dir: str | Path | None = None) -> Path | None:
    """Return the local file `load_benchmark` would read for ``name`` (search order above), or None."""
    src = check_name(name)
    for _, directory in _candidate_dirs(data_dir):
        if (directory / src.filename).is_file():
            return (directory / src.filename).resolve()
    return None


def sha256_file(path: str | Path) -> str:
    """Return the hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksums(data_dir: str | Path | None = None, names: Iterable[str] | None = None) -> dict[str, bool]:
    """Return {dataset name: sha256 of the file `load_benchmark` would read matches `SOURCES`}.

    Names with no local file (a fetched dataset not fetched yet) are left out of the result.
    """
    names = list(DATASETS if names is None else names)
    sources = {name: check_name(name) for name in names}
    out: dict[str, bool] = {}
    for name, src in sources.items():
        path = locate(name, data_dir)
        if path is not None:
            out[name] = sha256_file(path) == src.sha256
    return out


# ---------------------------------------------------------------- raw readers


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _read_parquet(path: Path) -> list[dict]:
    import pandas as pd  # heavy import, only when a parquet file is read

    return pd.read_parquet(path).to_dict(orient="records")


def _read_local(path: Path) -> list[dict]:
    return _read_parquet(path) if path.suffix == ".parquet" else _read_jsonl(path)


def read_hub(src: Source, cache_dir: str | Path | None = None) -> list[dict]:
    """Return the rows of the hub copy of ``src`` via ``datasets.load_dataset(hub_id, hub_config, split=...)``.

    ``hub_id`` may also be a local folder of data files (``datasets`` reads those without the network; the tests
    use this). Raises on any failure; the offline switches are checked by the caller.
    """
    if src.hub_id is None:
        raise DataNotFoundError("no hub copy is registered for this file")
    import datasets  # imported lazily: slow, and only GPU/cluster users reach the hub

    ds = datasets.load_dataset(src.hub_id, src.hub_config, split=src.hub_split,
                               cache_dir=None if cache_dir is None else str(cache_dir))
    return [dict(row) for row in ds]


# ---------------------------------------------------------------- normalizers


def _last_boxed(text: str) -> str | None:
    """Return the content of the last balanced ``\\boxed{...}`` in ``text`` (None if none)."""
    start = text.rfind("\\boxed")
    while start != -1:
        i = text.find("{", start)
        if i != -1 and text[start + len("\\boxed"):i].strip() == "":
            depth = 0
            for j in range(i, len(text)):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1:j].strip()
        start = text.rfind("\\boxed", 0, start)
    return None


def _num_str(x: Any) -> str:
    """Return a number as written by a person: 27.0 → "27"."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x).strip()


def _text(row: dict, *keys: str) -> str:
    for k in keys:
        if row.get(k) not in (None, ""):
            return str(row[k])
    raise KeyError(f"none of {keys} in row with keys {sorted(row)}")


def _norm_math500(i: int, row: dict) -> tuple[str, str, str, dict]:
    uid = row.get("unique_id") or f"{i:05d}"
    meta = {k: row[k] for k in ("solution", "subject", "level", "unique_id") if k in row}
    return uid, row["problem"], str(row["answer"]), meta


def _norm_aime_amc(i: int, row: dict) -> tuple[str, str, str, dict]:
    pid = str(row.get("id", i))
    meta = {k: row[k] for k in ("solution", "url", "year") if k in row}
    return pid, _text(row, "problem", "question"), _num_str(row["answer"]), meta


def _norm_gsm8k(i: int, row: dict) -> tuple[str, str, str, dict]:
    solution = row["answer"]
    if "####" not in solution:
        raise ValueError(f"gsm8k row {i} has no '####' final answer")
    gold = solution.rsplit("####", 1)[1].strip().replace(",", "")
    return f"{i:04d}", row["question"], gold, {"solution": solution}


def _norm_minerva(i: int, row: dict) -> tuple[str, str, str, dict]:
    pid = str(row.get("idx", i))
    solution = row.get("solution")
    gold = row.get("answer") or (_last_boxed(solution) if solution else None)
    if gold is None:
        raise ValueError(f"minerva row {i} has neither an answer nor a \\boxed{{}} in its solution")
    meta = {k: row[k] for k in ("solution", "type") if k in row}
    return pid, _text(row, "problem", "question"), str(gold), meta


def _norm_olympiad(i: int, row: dict) -> tuple[str, str, str, dict]:
    # Gold as in Qwen2.5-Math's parser (final_answer[0]), with every "$" math delimiter removed
    # ("$69$,$84$" → "69,84") rather than only the outer ones.
    final = row["final_answer"]
    final = [final] if isinstance(final, str) else list(final)
    gold = ", ".join(str(a).replace("$", "").strip() for a in final)
    problem = row["question"] if not row.get("context") else f"{row['context']}\n\n{row['question']}"
    meta = {k: row[k] for k in ("subfield", "solution", "is_multiple_answer", "unit", "answer_type") if k in row}
    meta["final_answer"] = final
    return str(row.get("id", i)), problem, gold, meta


def _norm_code(i: int, row: dict) -> tuple[str, str, str, dict]:
    meta = {k: row[k] for k in ("task_id", "entry_point", "test", "contract", "base_input", "plus_input",
                                 "atol", "assertion") if k in row}
    return row["task_id"], row["prompt"], row["canonical_solution"], meta


def _norm_verl(i: int, row: dict) -> tuple[str, str, str, dict]:
    messages = [dict(m) for m in row["prompt"]]
    user = [m["content"] for m in messages if m.get("role") == "user"]
    if not user:
        raise ValueError(f"row {i} has no user message in its prompt")
    text = user[-1].strip()
    instruction = None
    if text.endswith(VERL_INSTRUCTION):
        text, instruction = text[: -len(VERL_INSTRUCTION)].rstrip(), VERL_INSTRUCTION
    meta = {"prompt": messages, "instruction": instruction, "data_source": row.get("data_source"),
            "ability": row.get("ability"), "extra_info": dict(row.get("extra_info") or {})}
    return f"{i:05d}", text, str(row["reward_model"]["ground_truth"]), meta


_NORMALIZERS: dict[str, Callable[[int, dict], tuple[str, str, str, dict]]] = {
    "math500": _norm_math500, "aime24": _norm_aime_amc, "aime25": _norm_aime_amc, "amc23": _norm_aime_amc,
    "gsm8k": _norm_gsm8k, "minerva": _norm_minerva, "olympiadbench": _norm_olympiad,
    "humaneval": _norm_code, "humaneval_plus": _norm_code, "mbpp_plus": _norm_code,
    "one_shot_rlvr_pi1": _norm_verl, "one_shot_rlvr_dsr_sub": _norm_verl, "one_shot_rlvr_math500": _norm_verl,
}


def _to_problems(name: str, rows: list[dict], limit: int | None) -> list[Problem]:
    rows = rows if limit is None else rows[:limit]
    out = []
    for i, row in enumerate(rows):
        pid, text, gold, meta = _NORMALIZERS[name](i, row)
        out.append(Problem(problem_id=f"{name}/{pid}", problem=text, answer=gold, dataset=name, metadata=meta))
    return out


def load_benchmark(name: str, limit: int | None = None, data_dir: str | Path | None = None,
                   *, verify: bool = False) -> list[Problem]:
    """Return the problems of benchmark ``name`` (first ``limit`` of them, in file order) as `Problem` records.

    Searches ``data_dir``, ``$WORKBOOK_DATA_DIR``, the repository's files, the download cache, then (online only)
    downloads the pinned upstream file (`workbook.data.fetch.fetch`, sha256-checked, cached) and, last, reads the
    Hugging Face hub copy. ``verify=True`` checks a local file's sha256 against `SOURCES` (ValueError on a
    mismatch). Raises `UnknownDatasetError` (before any IO) or one `DataNotFoundError` naming every place tried.
    """
    src = check_name(name)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
    tried: list[str] = []
    for label, directory in _candidate_dirs(data_dir):
        path = directory / src.filename
        if path.is_file():
            if verify and sha256_file(path) != src.sha256:
                raise ValueError(f"{path}: sha256 differs from the registry ({src.sha256})")
            logger.debug("loading %s from %s", name, path)
            return _to_problems(name, _read_local(path), limit)
        tried.append(f"{label}: {path} (not found)")
        if label in ("data_dir argument", f"${ENV_VAR}"):
            logger.warning("%s not found in %s (%s); trying the next place", src.filename, directory, label)
    if os.environ.get(ENV_VAR) is None:
        tried.append(f"${ENV_VAR}: not set")
    offline = offline_reason()
    hub = f"{src.hub_id}" + (f" [{src.hub_config}]" if src.hub_config else "") if src.hub_id else "(none registered)"
    if offline:
        tried.append(f"download of {src.filename} and Hugging Face hub {hub}: skipped, {offline}")
    else:
        from workbook.data import fetch  # the downloader imports this module: import it only when needed

        if src.urls:
            logger.warning("%s is not in the repository (licence: %s); downloading it", name, src.licence)
            try:
                path = fetch.fetch(name)
                return _to_problems(name, _read_local(path), limit)
            except Exception as exc:  # any download failure falls through to the hub copy
                tried.append(f"download: {type(exc).__name__}: {exc}")
        try:
            rows = read_hub(src)
        except Exception as exc:  # any hub failure (no network, missing package) ends in one error below
            tried.append(f"Hugging Face hub {hub}: {type(exc).__name__}: {exc}")
        else:
            logger.warning("loaded %s from the Hugging Face hub (%s): not the pinned file, no sha256 check", name, hub)
            return _to_problems(name, rows, limit)
    hint = f"run `workbook data fetch {name}` on a machine with network access, " if not src.shipped else ""
    raise DataNotFoundError(f"cannot load dataset {name!r}. Tried " + "; ".join(tried)
                            + f". To fix: {hint}put {src.filename} in one of these directories or set ${ENV_VAR}.")
