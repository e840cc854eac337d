"""Benchmark data: `load_benchmark` returns `Problem` records for every math, code and 1-shot-RLVR file.

What ships with the repository, what ``workbook data fetch NAME`` downloads, the loading order and the licences:
``docs/data.md`` and ``NOTICE``. The synthetic arithmetic task lives in `workbook.data.synthetic` (import it from
there; it is deliberately not re-exported here); the downloader is `workbook.data.fetch`. `load_problems` is the one
way an experiment asks for problems (synthetic or a benchmark, with filters; `workbook.data.problems`).
"""

from workbook.data.benchmarks import (
    BENCHMARKS,
    CODE_BENCHMARKS,
    DATASETS,
    FETCHED,
    SHIPPED,
    SHIPPED_DIR,
    SOURCES,
    DataNotFoundError,
    Problem,
    Source,
    UnknownDatasetError,
    load_benchmark,
    locate,
    sha256_file,
    verify_checksums,
)
from workbook.data.problems import is_integer_answer, load_problems

__all__ = [
    "BENCHMARKS",
    "CODE_BENCHMARKS",
    "DATASETS",
    "FETCHED",
    "SHIPPED",
    "SHIPPED_DIR",
    "SOURCES",
    "DataNotFoundError",
    "Problem",
    "Source",
    "UnknownDatasetError",
    "is_integer_answer",
    "load_benchmark",
    "load_problems",
    "locate",
    "sha256_file",
    "verify_checksums",
]
