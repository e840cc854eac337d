"""MATH train (Hendrycks et al. 2021, 7,500 problems): the training set of Zhu et al. 2025 (Sec. 3; the official
``data/math/train.parquet``), and the official prompt template.

The workbook does not ship MATH train. `load_math_train` reads, in order: an explicit ``path``, the cache
(``<cache_dir>/data/math_train.jsonl``), then the Hugging Face hub copy (``datasets.load_dataset``), which it writes
to the cache. A ``sha256`` (the one `cache_math_train` printed when the cache was first written) pins the exact
file: a cached or given file whose hash differs is refused, never silently used. Rows are normalised to
`workbook.data.Problem` with the gold answer taken from the last ``\\boxed{}`` of the reference solution (as the
official ``rl_dataset.py`` / verl ``math`` preprocessing does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["HUB_ID", "SYSTEM_PROMPT", "OFFICIAL_INSTRUCTION", "official_messages", "last_boxed", "rows_to_problems",
           "cache_path", "cache_math_train", "load_math_train"]

#: The hub copy the official evaluation reads for MATH (``eval.py``: ``TianHongZXY/MATH``); its train split.
HUB_ID = "TianHongZXY/MATH"
#: The official prompt (``rl_dataset.py``, type ``qwen``): this system line, then the problem, a newline and the
#: instruction, in the Qwen chat template.
SYSTEM_PROMPT = "You are a helpful assistant."
OFFICIAL_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def official_messages(question: str) -> list[dict]:
    """Returns the chat messages of the official prompt for ``question`` (render with the model's chat template:
    ``<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n{question}\\n{instruction}``)."""
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"{question}\n{OFFICIAL_INSTRUCTION}"}]


def last_boxed(solution: str) -> str | None:
    """Returns the content of the last ``\\boxed{...}`` in ``solution`` (nested braces balanced), or None."""
    start = solution.rfind("\\boxed{")
    if start < 0:
        return None
    i, depth = start + len("\\boxed{"), 1
    for j in range(i, len(solution)):
        depth += {"{": 1, "}": -1}.get(solution[j], 0)
        if depth == 0:
            return solution[i:j].strip()
    return None


def rows_to_problems(rows, limit: int | None = None) -> list:
    """Returns `workbook.data.Problem` records (dataset "math_train") from MATH rows (keys ``problem`` and
    ``solution``; ``answer`` when present wins over the boxed one). A row without a gradable answer is an error:
    the file is then not MATH train."""
    from workbook.data import Problem

    out = []
    for i, r in enumerate(rows):
        answer = r.get("answer") or last_boxed(r.get("solution", ""))
        if not r.get("problem") or not answer:
            raise ValueError(f"MATH train row {i} has no problem or no boxed answer: not a MATH train file")
        out.append(Problem(f"math_train-{i}", r["problem"], str(answer), "math_train",
                           {k: r[k] for k in ("level", "type") if k in r}))
        if limit and len(out) >= limit:
            break
    return out


def cache_path() -> Path:
    """Returns where the hub copy is cached: ``<cache_dir>/data/math_train.jsonl``."""
    from workbook.data.benchmarks import data_cache_dir

    return data_cache_dir() / "math_train.jsonl"


def cache_math_train() -> Path:
    """Downloads the hub copy's train split once, writes it to `cache_path` atomically and returns the path
    (prints its sha256: pass it to `load_math_train` to pin the file). Refuses when downloads are off."""
    from workbook.data.benchmarks import offline_reason, sha256_file

    path = cache_path()
    if path.is_file():
        return path
    reason = offline_reason()
    if reason:
        raise FileNotFoundError(f"MATH train is not cached at {path} and downloads are off ({reason})")
    import datasets

    rows = datasets.load_dataset(HUB_ID, split="train")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        f.writelines(json.dumps({k: r[k] for k in ("problem", "solution", "answer", "level", "type") if k in r})
                     + "\n" for r in rows)
    os.replace(tmp, path)
    print(f"cached {len(rows)} MATH train rows at {path}, sha256 {sha256_file(path)}")
    return path


def load_math_train(limit: int | None = None, path: str | Path | None = None, sha256: str | None = None) -> list:
    """Returns MATH train as `Problem` records (first ``limit``): from ``path``, else the cache, else the hub
    (then cached). ``sha256`` pins the file: a mismatch is a ValueError before anything is parsed."""
    from workbook.data.benchmarks import sha256_file

    src = Path(path).expanduser() if path is not None else cache_path()
    if path is not None and not src.is_file():
        raise FileNotFoundError(f"no MATH train file at {src}")
    if path is None and not src.is_file():
        src = cache_math_train()
    if sha256 is not None and sha256_file(src) != sha256:
        raise ValueError(f"{src}: sha256 {sha256_file(src)} is not the pinned {sha256}")
    with src.open() as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows_to_problems(rows, limit)
