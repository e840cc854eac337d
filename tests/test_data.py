"""Tests for workbook.data benchmark loaders: real files in ../shared/data, search order, hub fallback, errors."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
from pathlib import Path

import pytest

from workbook import paths
from workbook.data import (
    BENCHMARKS,
    DATASETS,
    DataNotFoundError,
    Problem,
    UnknownDatasetError,
    load_benchmark,
    resolve_data_dir,
    verify_checksums,
)
from workbook.data import benchmarks as bm

SHARED = paths.shared_data_dir()
needs_shared = pytest.mark.skipif(not (SHARED / "SOURCES.md").is_file(),
                                  reason=f"shared benchmark data not present at {SHARED}")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    """Every test starts without $WORKBOOK_DATA_DIR and with the hub switched off."""
    monkeypatch.delenv("WORKBOOK_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _sources_table() -> dict[str, tuple[int, str]]:
    """Return {file name: (rows, sha256)} parsed from SOURCES.md."""
    out = {}
    for line in (SHARED / "SOURCES.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and re.fullmatch(r"[0-9a-f]{64}", cells[-1]):
            out[cells[0]] = (int(cells[3]), cells[-1])
    return out


# ------------------------------------------------------------------ real files


@needs_shared
def test_registry_matches_sources_md():
    table = _sources_table()
    assert len(table) == 13
    for name, src in bm._SOURCES.items():
        assert table[src.filename] == (src.rows, src.sha256), name


@needs_shared
@pytest.mark.parametrize("name", DATASETS)
def test_row_counts_match_sources_md(name):
    problems = load_benchmark(name)
    assert len(problems) == bm._SOURCES[name].rows
    assert all(isinstance(p, Problem) and p.dataset == name for p in problems)
    assert all(p.problem.strip() for p in problems)
    # The DSR-sub pool ships one row with an empty ground truth (kept as-is: the files are byte-for-byte copies).
    empty = {p.problem_id for p in problems if not p.answer.strip()}
    assert empty == ({"one_shot_rlvr_dsr_sub/00265"} if name == "one_shot_rlvr_dsr_sub" else set())
    if name not in ("one_shot_rlvr_pi1",):  # pi1 is one problem repeated 128 times, ids are row numbers
        assert len({p.problem_id for p in problems}) == len(problems)
    assert all(p.problem_id.startswith(name + "/") for p in problems)


@needs_shared
def test_checksums_all_match():
    result = verify_checksums()
    assert result == {name: True for name in DATASETS}


@needs_shared
@pytest.mark.parametrize("name, problem_id, answer, start", [
    ("math500", "math500/test/precalculus/807.json", r"\left( 3, \frac{\pi}{2} \right)", "Convert the point $(0,3)$"),
    ("aime24", "aime24/60", "204", "Every morning Aya goes for a $9$-kilometer-long walk"),
    ("aime25", "aime25/0", "70", "Find the sum of all integer bases $b>9$"),
    ("amc23", "amc23/0", "27", "Cities $A$ and $B$ are $45$ miles apart"),
    ("gsm8k", "gsm8k/0000", "18", "Janet\u2019s ducks lay 16 eggs per day"),
    ("minerva", "minerva/0", "1.6", "Each of the two Magellan telescopes"),
    ("olympiadbench", "olympiadbench/1606", "2", "Xenia and Sergey play the following game"),
    ("one_shot_rlvr_pi1", "one_shot_rlvr_pi1/00000", "12.8", "The pressure \\( P \\) exerted by wind"),
    ("one_shot_rlvr_dsr_sub", "one_shot_rlvr_dsr_sub/00000", r"\frac{3}{7}", "Find the probability that a monkey"),
])
def test_first_problem(name, problem_id, answer, start):
    p = load_benchmark(name, limit=1)[0]
    assert (p.problem_id, p.answer) == (problem_id, answer)
    assert p.problem.startswith(start)


@needs_shared
def test_math500_metadata_and_parquet_copy_agree():
    plain = load_benchmark("math500")
    assert plain[0].metadata["level"] == 2 and plain[0].metadata["subject"] == "Precalculus"
    verl = load_benchmark("one_shot_rlvr_math500")
    assert [p.answer for p in verl] == [p.answer for p in plain]
    assert [p.problem for p in verl] == [p.problem for p in plain]
    assert verl[0].metadata["extra_info"]["unique_id"] == "test/precalculus/807.json"


@needs_shared
def test_pi1_is_one_problem_with_instruction_stripped():
    problems = load_benchmark("one_shot_rlvr_pi1")
    assert len({p.problem for p in problems}) == 1 and {p.answer for p in problems} == {"12.8"}
    p = problems[0]
    assert "\\boxed{}" not in p.problem and p.problem.endswith("pounds.")
    assert p.metadata["instruction"] == bm.VERL_INSTRUCTION
    assert p.metadata["extra_info"]["index"] == 124
    assert p.metadata["prompt"][0]["role"] == "user"


@needs_shared
def test_gsm8k_golds_are_numbers():
    problems = load_benchmark("gsm8k")
    for p in problems:
        float(p.answer)  # raises if the "####" parse left text or a thousands separator behind
    assert p.metadata["solution"].rstrip().endswith("#### " + p.answer) or "####" in p.metadata["solution"]


@needs_shared
def test_olympiad_multi_answer_drops_dollars():
    problems = {p.problem_id: p for p in load_benchmark("olympiadbench")}
    multi = [p for p in problems.values() if p.metadata["is_multiple_answer"]]
    assert multi and all("$" not in p.answer for p in problems.values())
    assert any(p.answer == "69,84" for p in multi)


@needs_shared
def test_code_benchmarks_metadata():
    he = load_benchmark("humaneval", limit=1)[0]
    assert he.problem_id == "humaneval/HumanEval/0"
    assert he.metadata["entry_point"] == "has_close_elements" and "def check(candidate)" in he.metadata["test"]
    assert he.answer.startswith("    for idx, elem in enumerate(numbers):")
    hep = load_benchmark("humaneval_plus", limit=2)[1]
    assert hep.metadata["task_id"] == "HumanEval/1"
    assert len(hep.metadata["plus_input"]) > len(hep.metadata["base_input"]) > 0
    mbpp = load_benchmark("mbpp_plus", limit=1)[0]
    assert mbpp.problem_id == "mbpp_plus/Mbpp/2" and mbpp.metadata["entry_point"] == "similar_elements"
    assert "assert similar_elements" in mbpp.metadata["assertion"]


@needs_shared
def test_limit():
    assert len(load_benchmark("aime24", limit=5)) == 5
    assert load_benchmark("aime24", limit=0) == []
    assert len(load_benchmark("aime24", limit=10_000)) == 30
    with pytest.raises(ValueError):
        load_benchmark("aime24", limit=-1)


def test_benchmark_names():
    assert BENCHMARKS == ("math500", "aime24", "aime25", "amc23", "gsm8k", "minerva", "olympiadbench",
                          "humaneval", "humaneval_plus", "mbpp_plus")
    assert set(BENCHMARKS) < set(DATASETS)


def test_problem_is_frozen():
    p = Problem("x/1", "1+1?", "2", "x", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.answer = "3"


def test_last_boxed_nested():
    assert bm._last_boxed(r"so \boxed{1} and \boxed{\frac{1}{2}} done") == r"\frac{1}{2}"
    assert bm._last_boxed(r"\boxed{a} \boxed{unbalanced") == "a"
    assert bm._last_boxed("no box") is None


# ------------------------------------------------------------------ search order and errors


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_unknown_name_errors_before_io(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("IO attempted")

    monkeypatch.setattr(bm, "_candidate_dirs", boom)
    monkeypatch.setattr(bm, "_read_hub", boom)
    with pytest.raises(UnknownDatasetError) as err:
        load_benchmark("math-500")
    assert "math500" in str(err.value) and "mbpp_plus" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_search_order_explicit_then_env_then_shared(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    _write_jsonl(explicit / "aime25_test.jsonl", [{"problem": "e", "answer": "1"}])
    _write_jsonl(env / "aime25_test.jsonl", [{"problem": "v", "answer": "2"}, {"problem": "w", "answer": "3"}])
    monkeypatch.setattr(paths, "shared_data_dir", lambda: tmp_path / "nowhere")
    monkeypatch.setenv("WORKBOOK_DATA_DIR", str(env))
    assert [p.answer for p in load_benchmark("aime25", data_dir=explicit)] == ["1"]
    assert [p.answer for p in load_benchmark("aime25")] == ["2", "3"]
    # explicit dir without the file falls through to the env dir
    assert [p.answer for p in load_benchmark("aime25", data_dir=tmp_path / "empty")] == ["2", "3"]
    assert resolve_data_dir(explicit) == explicit.resolve()
    assert resolve_data_dir() == env.resolve()


@needs_shared
def test_falls_back_to_shared_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_DATA_DIR", str(tmp_path))  # empty: file not there
    assert len(load_benchmark("aime25")) == 30
    assert resolve_data_dir(tmp_path / "missing") == tmp_path.resolve()


def test_not_found_names_all_places(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "shared_data_dir", lambda: tmp_path / "shared_missing")
    monkeypatch.setenv("WORKBOOK_DATA_DIR", str(tmp_path / "env_missing"))
    with pytest.raises(DataNotFoundError) as err:
        load_benchmark("math500", data_dir=tmp_path / "arg_missing")
    msg = str(err.value)
    for part in ("arg_missing", "env_missing", "shared_missing", "$WORKBOOK_DATA_DIR", "HuggingFaceH4/MATH-500",
                 "HF_HUB_OFFLINE"):
        assert part in msg
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(DataNotFoundError, match="shared_missing"):
        resolve_data_dir()


def test_hub_failure_is_one_error(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(paths, "shared_data_dir", lambda: tmp_path)

    def no_network(*a, **k):
        raise ConnectionError("no route to host")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=no_network))
    with pytest.raises(DataNotFoundError, match="ConnectionError: no route to host") as err:
        load_benchmark("gsm8k")
    assert "WORKBOOK_DATA_DIR: not set" in str(err.value) and str(tmp_path) in str(err.value)


def test_no_hub_copy_for_one_shot_files(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "shared_data_dir", lambda: tmp_path)
    with pytest.raises(DataNotFoundError, match="none registered"):
        load_benchmark("one_shot_rlvr_pi1")


def test_hub_path_with_fake_loader(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(paths, "shared_data_dir", lambda: tmp_path)
    calls = []
    tables = {
        "HuggingFaceH4/MATH-500": [{"problem": "What is $1+1$?", "solution": "\\boxed{2}", "answer": "2",
                                    "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"}],
        "openai/gsm8k": [{"question": "2+3?", "answer": "2+3=5\n#### 5"},
                         {"question": "Big?", "answer": "so\n#### 1,234"}],
        "math-ai/minervamath": [{"question": "Q?", "answer": "4.5"}],
    }

    def fake_load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        return tables[path]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=fake_load_dataset))
    (p,) = load_benchmark("math500")
    assert (p.problem_id, p.answer, p.metadata["level"]) == ("math500/test/algebra/1.json", "2", 1)
    assert [q.answer for q in load_benchmark("gsm8k")] == ["5", "1234"]
    assert [q.answer for q in load_benchmark("minerva")] == ["4.5"]
    assert calls == [("HuggingFaceH4/MATH-500", None, "test"), ("openai/gsm8k", "main", "test"),
                     ("math-ai/minervamath", None, "test")]


def test_verify_detects_corruption(tmp_path):
    _write_jsonl(tmp_path / "aime25_test.jsonl", [{"problem": "p", "answer": "1"}])
    with pytest.raises(ValueError, match="sha256"):
        load_benchmark("aime25", data_dir=tmp_path, verify=True)
    assert verify_checksums(tmp_path, names=["aime25", "aime24"]) == {"aime25": False}
