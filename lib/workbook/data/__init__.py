"""Benchmark data: `load_benchmark` returns `Problem` records for every math, code and 1-shot-RLVR file.

Spec: ``shared/data/SOURCES.md``. The synthetic arithmetic task lives in `workbook.data.synthetic`
(import it from there; it is deliberately not re-exported here).
"""

from workbook.data.benchmarks import (
    BENCHMARKS,
    CODE_BENCHMARKS,
    DATASETS,
    DataNotFoundError,
    Problem,
    UnknownDatasetError,
    load_benchmark,
    resolve_data_dir,
    sha256_file,
    verify_checksums,
)

__all__ = [
    "BENCHMARKS",
    "CODE_BENCHMARKS",
    "DATASETS",
    "DataNotFoundError",
    "Problem",
    "UnknownDatasetError",
    "load_benchmark",
    "resolve_data_dir",
    "sha256_file",
    "verify_checksums",
]
