"""Benchmark loaders: one record type (`Problem`) for every math, code and 1-shot-RLVR data file.

Spec: ``shared/specs/evaluation.md`` and ``shared/data/SOURCES.md`` (provenance, row counts, sha256).
Search order for a file: an explicit ``data_dir``, then ``$WORKBOOK_DATA_DIR``, then ``../shared/data`` next to
the repository (`workbook.paths.shared_data_dir`), then the Hugging Face hub through ``datasets.load_dataset``.
When none works the caller gets one `DataNotFoundError` that names every place tried.
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


@dataclass(frozen=True)
class _Source:
    """Where a benchmark lives: local file name, its sha256 and row count (SOURCES.md), and a hub fallback."""

    filename: str
    sha256: str
    rows: int
    hub_id: str | None  # None: no public hub copy in the same format
    hub_config: str | None = None
    hub_split: str = "test"


# sha256 and row counts copied from shared/data/SOURCES.md (a test checks they still agree).
# Hub ids: only Hothan/OlympiadBench is named in SOURCES.md; the others are the usual public copies
# (unconfirmed against the local files; their column names are handled by the same normalizers).
_SOURCES: dict[str, _Source] = {
    "math500": _Source("math500_test.jsonl",
                       "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132", 500,
                       "HuggingFaceH4/MATH-500"),
    "aime24": _Source("aime24_test.jsonl",
                      "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac", 30,
                      "HuggingFaceH4/aime_2024", hub_split="train"),
    "aime25": _Source("aime25_test.jsonl",
                      "4613b7d3b5346f007625969f4380d932d6a2618fdcc9b89e5d39c7fbddc074b8", 30, "math-ai/aime25"),
    "amc23": _Source("amc23_test.jsonl",
                     "43707e1ca784602d8479de24ee8ce36609dbebc46dd152b0b12a46611aa898a4", 40, "math-ai/amc23"),
    "gsm8k": _Source("gsm8k_test_openai.jsonl",
                     "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14", 1319,
                     "openai/gsm8k", hub_config="main"),
    "minerva": _Source("minerva_math_test.jsonl",
                       "0e656b430d3a0a1dab6aa853f453ba3805e28e2cabe4fc72486a897cc09d8ba2", 272, "math-ai/minervamath"),
    "olympiadbench": _Source("olympiadbench_test.jsonl",
                             "bb8c1e38a16ea9eacb77530315a674d883f267fbff79183effc53681b4fcc416", 675,
                             "Hothan/OlympiadBench", hub_config="OE_TO_maths_en_COMP", hub_split="train"),
    "humaneval": _Source("HumanEval.jsonl.gz",
                         "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef", 164,
                         "openai/openai_humaneval"),
    "humaneval_plus": _Source("HumanEvalPlus-v0.1.10.jsonl.gz",
                              "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101", 164,
                              "evalplus/humanevalplus"),
    "mbpp_plus": _Source("MbppPlus-v0.2.0.jsonl.gz",
                         "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63", 378, "evalplus/mbppplus"),
    "one_shot_rlvr_pi1": _Source("one_shot_rlvr_pi1_r128.parquet",
                                 "75a7a6eec9da7ce6951b8e7ad039d70cd76f17511fe33deff3baacdc0f1cceea", 128, None),
    "one_shot_rlvr_dsr_sub": _Source("one_shot_rlvr_dsr_sub.parquet",
                                     "bce5945e5666d5b82f1554b0a18203a88a0209f82fa724e5bfdfc17cc9a1aea6", 1209, None),
    "one_shot_rlvr_math500": _Source("one_shot_rlvr_math500_test.parquet",
                                     "a26d23cbad6a4462a1622aff80f4d8bc517d1a0ca4f2ea88ec2436118a956eea", 500, None),
}

#: Evaluation benchmarks (CONTRACTS.md). The 1-shot-RLVR training/test files are in `DATASETS` too.
BENCHMARKS: tuple[str, ...] = ("math500", "aime24", "aime25", "amc23", "gsm8k", "minerva", "olympiadbench",
                               "humaneval", "humaneval_plus", "mbpp_plus")
#: Every name `load_benchmark` accepts.
DATASETS: tuple[str, ...] = tuple(_SOURCES)
CODE_BENCHMARKS: tuple[str, ...] = ("humaneval", "humaneval_plus", "mbpp_plus")

#: The instruction verl/DeepScaleR appends to every 1-shot-RLVR prompt; stripped from `Problem.problem`
#: (our prompt builder adds its own) and kept in metadata["instruction"].
VERL_INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}."

ENV_VAR = "WORKBOOK_DATA_DIR"


def _check_name(name: str) -> _Source:
    if name not in _SOURCES:
        raise UnknownDatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return _SOURCES[name]


def _candidate_dirs(data_dir: str | Path | None) -> list[tuple[str, Path]]:
    """Return the local directories to search, labelled, in search order."""
    out: list[tuple[str, Path]] = []
    if data_dir is not None:
        out.append(("data_dir argument", Path(data_dir).expanduser()))
    env = os.environ.get(ENV_VAR)
    if env:
        out.append((f"${ENV_VAR}", Path(env).expanduser()))
    out.append(("shared data dir", paths.shared_data_dir()))
    return out


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the first existing local data directory: ``data_dir``, ``$WORKBOOK_DATA_DIR``, ``../shared/data``.

    Raises `DataNotFoundError` naming all three places (the hub is reachable only per dataset, via `load_benchmark`).
    """
    candidates = _candidate_dirs(data_dir)
    for _, path in candidates:
        if path.is_dir():
            return path.resolve()
    tried = "; ".join(f"{label}: {path} (missing)" for label, path in candidates)
    if os.environ.get(ENV_VAR) is None:
        tried += f"; ${ENV_VAR}: not set"
    raise DataNotFoundError(f"no local benchmark data directory found. Tried {tried}. "
                            "The Hugging Face hub is the last resort of load_benchmark(name).")


def sha256_file(path: str | Path) -> str:
    """Return the hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksums(data_dir: str | Path | None = None, names: Iterable[str] | None = None) -> dict[str, bool]:
    """Return {dataset name: sha256 matches SOURCES.md} for the files found in the resolved data directory.

    Files that are missing from the directory are left out of the result.
    """
    names = list(DATASETS if names is None else names)
    sources = {name: _check_name(name) for name in names}
    root = resolve_data_dir(data_dir)
    out: dict[str, bool] = {}
    for name, src in sources.items():
        path = root / src.filename
        if path.is_file():
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


def _read_hub(src: _Source) -> list[dict]:
    """Return the rows of the hub copy via ``datasets.load_dataset``; raises on any failure (offline, no network)."""
    if src.hub_id is None:
        raise DataNotFoundError("no hub copy is registered for this file")
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes") or \
            os.environ.get("HF_DATASETS_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise DataNotFoundError("HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set")
    import datasets  # imported lazily: slow, and only GPU/cluster users reach the hub

    ds = datasets.load_dataset(src.hub_id, src.hub_config, split=src.hub_split)
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

    Spec: SOURCES.md. Searches ``data_dir``, ``$WORKBOOK_DATA_DIR``, ``../shared/data``, then the hub.
    ``verify=True`` checks the local file's sha256 against SOURCES.md and raises ValueError on a mismatch.
    Raises `UnknownDatasetError` (before any IO) or one `DataNotFoundError` naming every place tried.
    """
    src = _check_name(name)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
    tried: list[str] = []
    for label, directory in _candidate_dirs(data_dir):
        path = directory / src.filename
        if path.is_file():
            if verify and sha256_file(path) != src.sha256:
                raise ValueError(f"{path}: sha256 differs from SOURCES.md ({src.sha256})")
            logger.debug("loading %s from %s", name, path)
            return _to_problems(name, _read_local(path), limit)
        tried.append(f"{label}: {path} (not found)")
        if label != "shared data dir":
            logger.warning("%s not found in %s (%s); trying the next place", src.filename, directory, label)
    if os.environ.get(ENV_VAR) is None:
        tried.append(f"${ENV_VAR}: not set")
    hub = f"{src.hub_id}" + (f" [{src.hub_config}]" if src.hub_config else "") if src.hub_id else "(none registered)"
    try:
        rows = _read_hub(src)
    except Exception as exc:  # any hub failure (offline, no network, missing package) ends in one error
        tried.append(f"Hugging Face hub {hub}: {type(exc).__name__}: {exc}")
        raise DataNotFoundError(f"cannot load dataset {name!r}. Tried " + "; ".join(tried)
                                + f". Put {src.filename} in one of these directories or set ${ENV_VAR}.") from None
    logger.info("loaded %s from the Hugging Face hub (%s)", name, hub)
    return _to_problems(name, rows, limit)
