"""Benchmark data: `load_benchmark` returns `Problem` records for every math, code and 1-shot-RLVR file.

What ships with the repository, what ``workbook data fetch NAME`` downloads, the loading order and the licences:
``docs/data.md`` and ``NOTICE``. The synthetic arithmetic task lives in `workbook.data.synthetic` (import it from
there; it is deliberately not re-exported here); the downloader is `workbook.data.fetch`.
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
    "load_benchmark",
    "locate",
    "sha256_file",
    "verify_checksums",
]
