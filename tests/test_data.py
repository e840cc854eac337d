"""Tests for workbook.data: the shipped files (sha256 vs registry vs NOTICE), search order, fetch, hub, errors.

No test here touches the network: `_no_network` makes every socket connection fail, and the download and hub code
is exercised on local files (``file://`` URLs, a local folder given to ``datasets.load_dataset``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import sys
import types
from pathlib import Path

import pytest

from workbook import paths
from workbook.data import (
    BENCHMARKS,
    DATASETS,
    FETCHED,
    SHIPPED,
    SHIPPED_DIR,
    SOURCES,
    DataNotFoundError,
    Problem,
    UnknownDatasetError,
    load_benchmark,
    locate,
    sha256_file,
    verify_checksums,
)
from workbook.data import benchmarks as bm
from workbook.data import fetch as fetch_mod

REPO = paths.repo_root()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch, tmp_path_factory):
    """Every test starts without $WORKBOOK_DATA_DIR, with an empty download cache and with the hub switched off."""
    monkeypatch.delenv("WORKBOOK_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Fail any attempt to open a network connection (the tests must prove the data needs none)."""
    def refuse(*a, **k):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _notice_entries() -> dict[str, dict[str, str]]:
    """Return {file name: {"dataset", "licence", "sha256", "shipped"}} parsed from the top-level NOTICE."""
    out: dict[str, dict[str, str]] = {}
    current = None
    for line in (REPO / "NOTICE").read_text().splitlines():
        m = re.fullmatch(r"(?:lib/workbook/data/files/)?(\S+\.(?:jsonl|gz|parquet))( \(fetched, not shipped\))?", line)
        if m:
            current = out.setdefault(m.group(1), {"shipped": str(m.group(2) is None)})
        elif current is not None and line.startswith("  ") and ":" in line:
            key, value = line.strip().split(":", 1)
            current[key] = value.strip()
    return out


# ------------------------------------------------------------------ shipped files, registry, NOTICE


def test_shipped_folder_holds_exactly_the_shipped_files():
    on_disk = sorted(p.name for p in SHIPPED_DIR.iterdir() if not p.name.startswith("."))
    assert on_disk == sorted(SOURCES[n].filename for n in SHIPPED)
    assert set(FETCHED) == {"minerva", "olympiadbench"}  # CC BY-NC-SA and unclear licences stay out
    assert set(SHIPPED) | set(FETCHED) == set(DATASETS)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_sha256_matches_registry_and_notice(name):
    src = SOURCES[name]
    assert sha256_file(SHIPPED_DIR / src.filename) == src.sha256
    entry = _notice_entries()[src.filename]
    assert entry == {"shipped": "True", "dataset": f"{name} ({src.rows} rows)", "origin": src.origin,
                     "licence": src.licence, "sha256": src.sha256}


@pytest.mark.parametrize("name", FETCHED)
def test_fetched_files_are_in_notice_and_have_pinned_urls(name):
    src = SOURCES[name]
    entry = _notice_entries()[src.filename]
    assert entry["shipped"] == "False" and entry["sha256"] == src.sha256 and entry["licence"] == src.licence
    assert src.urls and all(u.startswith("https://") and re.search(r"/[0-9a-f]{40}/", u) for u in src.urls)


def test_package_data_declares_the_shipped_files():
    """An installed (non-editable) workbook must carry the files: setuptools package-data names the folder."""
    text = (REPO / "pyproject.toml").read_text()
    assert '"data/files/*"' in text


def test_library_and_tests_never_read_a_folder_outside_the_repo():
    """The repository must not depend on a data folder beside it at run time (a fresh clone has none)."""
    pattern = re.compile(r"shared/data|shared_data_dir|/work/shared")
    offenders = []
    for root in ("lib", "tests", "notebooks", "benchmarks"):
        for path in (REPO / root).rglob("*.py"):
            if path.resolve() == Path(__file__).resolve():
                continue
            for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_dataset_loads_from_the_repository_alone(name, monkeypatch):
    """With no $WORKBOOK_DATA_DIR, an empty cache and no network, each shipped file loads and checks out."""
    opened: list[str] = []
    real_read_local = bm._read_local
    monkeypatch.setattr(bm, "_read_local", lambda path: opened.append(str(path)) or real_read_local(path))
    problems = load_benchmark(name, verify=True)
    assert opened == [str(SHIPPED_DIR / SOURCES[name].filename)]
    assert locate(name) == (SHIPPED_DIR / SOURCES[name].filename).resolve()
    assert len(problems) == SOURCES[name].rows


def test_checksums_all_match():
    assert verify_checksums() == {name: True for name in SHIPPED}


# ------------------------------------------------------------------ real files


@pytest.mark.parametrize("name", SHIPPED)
def test_row_counts_and_ids(name):
    problems = load_benchmark(name)
    assert len(problems) == SOURCES[name].rows
    assert all(isinstance(p, Problem) and p.dataset == name for p in problems)
    assert all(p.problem.strip() for p in problems)
    # The DSR-sub pool ships one row with an empty ground truth (kept as-is: the files are byte-for-byte copies).
    empty = {p.problem_id for p in problems if not p.answer.strip()}
    assert empty == ({"one_shot_rlvr_dsr_sub/00265"} if name == "one_shot_rlvr_dsr_sub" else set())
    if name not in ("one_shot_rlvr_pi1",):  # pi1 is one problem repeated 128 times, ids are row numbers
        assert len({p.problem_id for p in problems}) == len(problems)
    assert all(p.problem_id.startswith(name + "/") for p in problems)


@pytest.mark.parametrize("name, problem_id, answer, start", [
    ("math500", "math500/test/precalculus/807.json", r"\left( 3, \frac{\pi}{2} \right)", "Convert the point $(0,3)$"),
    ("aime24", "aime24/60", "204", "Every morning Aya goes for a $9$-kilometer-long walk"),
    ("aime25", "aime25/0", "70", "Find the sum of all integer bases $b>9$"),
    ("amc23", "amc23/0", "27", "Cities $A$ and $B$ are $45$ miles apart"),
    ("gsm8k", "gsm8k/0000", "18", "Janet\u2019s ducks lay 16 eggs per day"),
    ("one_shot_rlvr_pi1", "one_shot_rlvr_pi1/00000", "12.8", "The pressure \\( P \\) exerted by wind"),
    ("one_shot_rlvr_dsr_sub", "one_shot_rlvr_dsr_sub/00000", r"\frac{3}{7}", "Find the probability that a monkey"),
])
def test_first_problem(name, problem_id, answer, start):
    p = load_benchmark(name, limit=1)[0]
    assert (p.problem_id, p.answer) == (problem_id, answer)
    assert p.problem.startswith(start)


def test_math500_metadata_and_parquet_copy_agree():
    plain = load_benchmark("math500")
    assert plain[0].metadata["level"] == 2 and plain[0].metadata["subject"] == "Precalculus"
    verl = load_benchmark("one_shot_rlvr_math500")
    assert [p.answer for p in verl] == [p.answer for p in plain]
    assert [p.problem for p in verl] == [p.problem for p in plain]
    assert verl[0].metadata["extra_info"]["unique_id"] == "test/precalculus/807.json"


def test_pi1_is_one_problem_with_instruction_stripped():
    problems = load_benchmark("one_shot_rlvr_pi1")
    assert len({p.problem for p in problems}) == 1 and {p.answer for p in problems} == {"12.8"}
    p = problems[0]
    assert "\\boxed{}" not in p.problem and p.problem.endswith("pounds.")
    assert p.metadata["instruction"] == bm.VERL_INSTRUCTION
    assert p.metadata["extra_info"]["index"] == 124
    assert p.metadata["prompt"][0]["role"] == "user"


def test_gsm8k_golds_are_numbers():
    problems = load_benchmark("gsm8k")
    for p in problems:
        float(p.answer)  # raises if the "####" parse left text or a thousands separator behind
    assert p.metadata["solution"].rstrip().endswith("#### " + p.answer) or "####" in p.metadata["solution"]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# Rows in the upstream schemas of the two fetched files (written for the tests, not copied from the files).
OLYMPIAD_ROWS = [
    {"id": 7, "subfield": "Algebra", "context": None, "question": "Find all x with x^2=4.", "solution": ["..."],
     "final_answer": ["$-2$,$2$"], "is_multiple_answer": True, "unit": None, "answer_type": "Numerical",
     "error": None},
    {"id": 8, "subfield": "Geometry", "context": "A square has side 3.", "question": "What is its area?",
     "solution": ["..."], "final_answer": ["$9$"], "is_multiple_answer": False, "unit": None,
     "answer_type": "Numerical", "error": None},
]
MINERVA_ROWS = [
    {"problem": "What is 1/2 in decimals?", "solution": r"It is $\boxed{0.5}$.", "type": "Intro", "idx": 0},
    {"problem": "Give f.", "solution": r"First \boxed{1}, then $f=\boxed{\frac{1}{2}}$.", "type": "Intro", "idx": 1},
]


def test_olympiad_normalizer_drops_dollars_and_joins_context(tmp_path):
    _write_jsonl(tmp_path / "olympiadbench_test.jsonl", OLYMPIAD_ROWS)
    multi, single = load_benchmark("olympiadbench", data_dir=tmp_path)
    assert (multi.problem_id, multi.answer, multi.metadata["is_multiple_answer"]) == ("olympiadbench/7", "-2,2", True)
    assert single.problem == "A square has side 3.\n\nWhat is its area?" and single.answer == "9"


def test_minerva_gold_is_the_last_boxed(tmp_path):
    _write_jsonl(tmp_path / "minerva_math_test.jsonl", MINERVA_ROWS)
    assert [p.answer for p in load_benchmark("minerva", data_dir=tmp_path)] == ["0.5", r"\frac{1}{2}"]


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


def test_unknown_name_errors_before_io(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("IO attempted")

    monkeypatch.setattr(bm, "_candidate_dirs", boom)
    monkeypatch.setattr(bm, "read_hub", boom)
    with pytest.raises(UnknownDatasetError) as err:
        load_benchmark("math-500")
    assert "math500" in str(err.value) and "mbpp_plus" in str(err.value)
    assert isinstance(err.value, ValueError)
    assert fetch_mod.main(["math-500"]) == 2


def test_search_order_explicit_env_repository_cache(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    _write_jsonl(explicit / "aime25_test.jsonl", [{"problem": "e", "answer": "1"}])
    _write_jsonl(env / "aime25_test.jsonl", [{"problem": "v", "answer": "2"}, {"problem": "w", "answer": "3"}])
    monkeypatch.setenv("WORKBOOK_DATA_DIR", str(env))
    assert [p.answer for p in load_benchmark("aime25", data_dir=explicit)] == ["1"]
    assert [p.answer for p in load_benchmark("aime25")] == ["2", "3"]
    # explicit dir without the file falls through to the env dir, an env dir without it to the repository's file
    assert [p.answer for p in load_benchmark("aime25", data_dir=tmp_path / "empty")] == ["2", "3"]
    assert locate("aime25", explicit) == (explicit / "aime25_test.jsonl").resolve()
    assert len(load_benchmark("aime24")) == 30 and locate("aime24").parent == SHIPPED_DIR
    # the repository's file comes before the cache; the cache serves what the repository does not ship
    _write_jsonl(bm.data_cache_dir() / "aime24_test.jsonl", [{"problem": "cached", "answer": "0"}])
    _write_jsonl(bm.data_cache_dir() / "minerva_math_test.jsonl", MINERVA_ROWS)
    assert len(load_benchmark("aime24")) == 30
    assert locate("minerva") == (bm.data_cache_dir() / "minerva_math_test.jsonl").resolve()
    assert [p.answer for p in load_benchmark("minerva")] == ["0.5", r"\frac{1}{2}"]


def test_not_found_names_all_places_and_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_DATA_DIR", str(tmp_path / "env_missing"))
    with pytest.raises(DataNotFoundError) as err:
        load_benchmark("minerva", data_dir=tmp_path / "arg_missing")
    msg = str(err.value)
    for part in ("arg_missing", "env_missing", str(SHIPPED_DIR), str(bm.data_cache_dir()), "math-ai/minervamath",
                 "HF_HUB_OFFLINE is set", "workbook data fetch minerva"):
        assert part in msg
    assert isinstance(err.value, FileNotFoundError)


def _online(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "WORKBOOK_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


def test_hub_failure_is_one_error(monkeypatch):
    _online(monkeypatch)
    monkeypatch.setitem(bm.SOURCES, "olympiadbench",
                        dataclasses.replace(bm.SOURCES["olympiadbench"], urls=("file:///nonexistent/x.jsonl",)))

    def no_network(*a, **k):
        raise ConnectionError("no route to host")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=no_network))
    with pytest.raises(DataNotFoundError, match="ConnectionError: no route to host") as err:
        load_benchmark("olympiadbench")
    assert "WORKBOOK_DATA_DIR: not set" in str(err.value) and "download: DataNotFoundError" in str(err.value)


def test_no_hub_copy_for_one_shot_files(tmp_path, monkeypatch):
    _online(monkeypatch)
    with pytest.raises(DataNotFoundError, match="no hub copy is registered"):
        bm.read_hub(SOURCES["one_shot_rlvr_pi1"])


def test_hub_path_with_fake_loader(monkeypatch):
    """Column names of the hub copies (which differ from the upstream files) go through the same normalizers."""
    calls = []
    tables = {
        "HuggingFaceH4/MATH-500": [{"problem": "What is $1+1$?", "solution": "\\boxed{2}", "answer": "2",
                                    "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"}],
        "openai/gsm8k": [{"question": "2+3?", "answer": "2+3=5\n#### 5"},
                         {"question": "Big?", "answer": "so\n#### 1,234"}],
        "math-ai/minervamath": [{"question": "Q?", "answer": "4.5"}],
    }

    def fake_load_dataset(path, name=None, split=None, cache_dir=None):
        calls.append((path, name, split))
        return tables[path]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=fake_load_dataset))
    (p,) = bm._to_problems("math500", bm.read_hub(SOURCES["math500"]), None)
    assert (p.problem_id, p.answer, p.metadata["level"]) == ("math500/test/algebra/1.json", "2", 1)
    assert [q.answer for q in bm._to_problems("gsm8k", bm.read_hub(SOURCES["gsm8k"]), None)] == ["5", "1234"]
    # load_benchmark reaches the hub only after the local places and the pinned download failed
    _online(monkeypatch)
    monkeypatch.setitem(bm.SOURCES, "minerva", dataclasses.replace(bm.SOURCES["minerva"], urls=()))
    assert [q.answer for q in load_benchmark("minerva")] == ["4.5"]
    assert calls == [("HuggingFaceH4/MATH-500", None, "test"), ("openai/gsm8k", "main", "test"),
                     ("math-ai/minervamath", None, "test")]


def test_real_datasets_loader_reads_a_local_hub_folder(tmp_path):
    """The real ``datasets.load_dataset`` call of `read_hub`, on a local folder in the hub copy's layout."""
    pytest.importorskip("datasets")  # part of the pinned environment; skipped only outside it
    hub = tmp_path / "hub"
    _write_jsonl(hub / "test.jsonl", [{"problem": "Q1", "solution": "s", "answer": "3", "subject": "Algebra",
                                       "level": 2, "unique_id": "test/algebra/9.json"}])
    src = dataclasses.replace(SOURCES["math500"], hub_id=str(hub))
    rows = bm.read_hub(src, cache_dir=tmp_path / "hf_cache")
    (p,) = bm._to_problems("math500", rows, None)
    assert (p.problem_id, p.problem, p.answer) == ("math500/test/algebra/9.json", "Q1", "3")


def test_verify_detects_corruption(tmp_path):
    _write_jsonl(tmp_path / "aime25_test.jsonl", [{"problem": "p", "answer": "1"}])
    with pytest.raises(ValueError, match="sha256"):
        load_benchmark("aime25", data_dir=tmp_path, verify=True)
    assert verify_checksums(tmp_path, names=["aime25", "aime24"]) == {"aime25": False, "aime24": True}


# ------------------------------------------------------------------ workbook data fetch


def _fake_upstream(tmp_path: Path, name: str, rows: list[dict]) -> tuple[Path, str]:
    """Write ``rows`` as the upstream file of ``name``; return (path, its sha256)."""
    path = tmp_path / "upstream" / SOURCES[name].filename
    _write_jsonl(path, rows)
    return path, sha256_file(path)


def test_fetch_downloads_checks_and_caches(tmp_path, monkeypatch, capsys):
    path, digest = _fake_upstream(tmp_path, "minerva", MINERVA_ROWS)
    monkeypatch.setitem(bm.SOURCES, "minerva", dataclasses.replace(
        bm.SOURCES["minerva"], sha256=digest, urls=("file:///nonexistent/first.jsonl", path.as_uri())))
    assert fetch_mod.main(["minerva"]) == 0
    out = capsys.readouterr().out
    assert "CC BY-NC-SA" in out and "sha256 ok" in out
    cached = bm.data_cache_dir() / "minerva_math_test.jsonl"
    assert cached.read_bytes() == path.read_bytes()
    assert [p.answer for p in load_benchmark("minerva", verify=True)] == ["0.5", r"\frac{1}{2}"]
    # a second fetch uses the cache (the upstream may be gone)
    path.unlink()
    assert fetch_mod.fetch("minerva") == cached


def test_fetch_rejects_a_wrong_sha256_and_keeps_no_file(tmp_path, monkeypatch, capsys):
    path, _ = _fake_upstream(tmp_path, "olympiadbench", OLYMPIAD_ROWS)
    monkeypatch.setitem(bm.SOURCES, "olympiadbench",
                        dataclasses.replace(bm.SOURCES["olympiadbench"], urls=(path.as_uri(),)))
    assert fetch_mod.main(["olympiadbench"]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "file rejected" in err and SOURCES["olympiadbench"].sha256 in err
    assert list(bm.data_cache_dir().glob("*")) == []


def test_fetch_from_a_local_copy_and_force(tmp_path, monkeypatch):
    path, digest = _fake_upstream(tmp_path, "olympiadbench", OLYMPIAD_ROWS)
    monkeypatch.setitem(bm.SOURCES, "olympiadbench", dataclasses.replace(bm.SOURCES["olympiadbench"], sha256=digest))
    assert fetch_mod.main(["olympiadbench", "--from", str(path)]) == 0
    cached = bm.data_cache_dir() / "olympiadbench_test.jsonl"
    cached.write_text("corrupted\n")  # a bad cached copy is replaced, not trusted
    assert fetch_mod.fetch("olympiadbench", source=str(path)) == cached
    assert sha256_file(cached) == digest
    assert fetch_mod.main(["olympiadbench", "--from", str(path), "--force"]) == 0


def test_fetch_refuses_remote_downloads_when_offline(capsys):
    assert fetch_mod.main(["minerva"]) == 1  # HF_HUB_OFFLINE=1 from the fixture
    assert "not downloaded, HF_HUB_OFFLINE is set" in capsys.readouterr().err


def test_fetch_usage_errors_and_shipped_names(capsys):
    assert fetch_mod.main([]) == 2
    assert fetch_mod.main(["minerva", "olympiadbench", "--from", "x.jsonl"]) == 2
    assert fetch_mod.main(["--help"]) == 0
    capsys.readouterr()
    assert fetch_mod.main(["math500"]) == 0
    shipped = capsys.readouterr().out
    assert "ships with the repository" in shipped and "sha256 ok" in shipped
    assert fetch_mod.main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in DATASETS) and "not fetched yet" in listing


def test_load_problems_one_way_for_synthetic_and_benchmarks():
    from workbook.data import load_problems
    from workbook.data.synthetic import generate_problems
    from workbook.params import ParameterError
    from workbook.rl.experiments import load_problems as rl_load

    hard = load_problems("synthetic", 6, "test", 1, min_operands=4, max_operands=4)
    assert [p.metadata["n_operands"] for p in hard] == [4] * 6
    assert [p.problem for p in load_problems("synthetic", 5, "train", 3)] == \
        [p.problem for p in generate_problems(5, 3, split="train")]          # no difficulty: the default spec
    big = load_problems("synthetic", 4, "test", 0, where=lambda p: int(p.answer) >= 50)
    assert len(big) == 4 and all(int(p.answer) >= 50 for p in big)
    assert [p.problem_id for p in rl_load("synthetic", 4, "train", 2)] == \
        [p.problem_id for p in load_problems("synthetic", 4, "train", 2)]   # the RL driver's loader delegates
    ev = load_problems("aime24", 10, integer_answers_only=True)
    rest = load_problems("aime24", 0, "train", exclude=ev)
    assert len(rest) == len(load_benchmark("aime24")) - 10 and not {p.problem_id for p in ev} & \
        {p.problem_id for p in rest}
    with pytest.raises(ParameterError, match="only 20 problems"):
        load_problems("aime24", 21, "train", exclude=ev)
    with pytest.raises(ParameterError, match="synthetic: only 0"):
        load_problems("synthetic", 2, "test", 0, where=lambda p: False)
