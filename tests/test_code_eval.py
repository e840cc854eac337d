"""workbook.code_eval: base/plus execution for HumanEval(+) and MBPP+ through the sandbox (issue 8, build item 2)."""

from __future__ import annotations

import pytest

from workbook.code_eval import build_solution, check_canonical, evaluate
from workbook.data import load_benchmark
from workbook.papers.inference_scaling_limits import counts_from_code_results

# The three files ship with the package (lib/workbook/data/files/): no skip when a data folder is missing.
HE = {p.metadata["task_id"]: p for p in load_benchmark("humaneval_plus")}
MBPP = {p.metadata["task_id"]: p for p in load_benchmark("mbpp_plus")}
HE_ORIG = {p.metadata["task_id"]: p for p in load_benchmark("humaneval")}


@pytest.fixture(scope="module")
def gt_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gt")


# Passes the 7 base inputs of HumanEval/0 by lookup, fails the plus inputs: a false positive by construction.
MEMORIZER_HE0 = '''
def has_close_elements(numbers, threshold):
    table = {((1.0, 2.0, 3.9, 4.0, 5.0, 2.2), 0.3): True, ((1.0, 2.0, 3.9, 4.0, 5.0, 2.2), 0.05): False,
             ((1.0, 2.0, 5.9, 4.0, 5.0), 0.95): True, ((1.0, 2.0, 5.9, 4.0, 5.0), 0.8): False,
             ((1.0, 2.0, 3.0, 4.0, 5.0, 2.0), 0.1): True, ((1.1, 2.2, 3.1, 4.1, 5.1), 1.0): True,
             ((1.1, 2.2, 3.1, 4.1, 5.1), 0.5): False}
    return table[(tuple(numbers), threshold)]
'''


def test_outcomes_for_typical_completions(gt_cache):
    p = HE["HumanEval/0"]
    body_ok = p.answer  # a continuation of the prompt
    fenced_ok = ("Sure!\n```python\nfrom typing import List\n\ndef has_close_elements(numbers, threshold):\n"
                 "    s = sorted(numbers)\n    return any(b - a < threshold for a, b in zip(s, s[1:]))\n```\n")
    wrong = "    return False\n"
    loop = "    while True:\n        pass\n"
    exit0 = "    import os\n    os._exit(0)\n"
    garbage = "def ((("
    comps = [body_ok, fenced_ok, MEMORIZER_HE0, wrong, loop, exit0, garbage]
    res = evaluate([p], [comps], min_time_s=0.5, gt_cache=gt_cache)[0]
    got = [(r.base, r.plus) for r in res]
    assert got[0] == ("pass", "pass") and got[1] == ("pass", "pass")
    assert got[2] == ("pass", "fail"), "the memorizer is the false positive: base passes, plus fails"
    assert got[3] == ("fail", "fail")
    assert got[4] == ("timeout", "timeout")
    assert got[5] == ("fail", "fail")
    assert got[6] == ("fail", "fail")
    counts = counts_from_code_results([res])
    assert (counts.a[0], counts.f[0], counts.n[0]) == (2, 1, 7)


def test_canonical_solutions_pass_base_and_plus_on_special_tasks(gt_cache):
    # find_zero (HE/32: oracle), HE/15 and HE/130 (huge outputs, stored as digests), MBPP set-equality (2),
    # tuple inputs (63), complex inputs (124), not-None oracle (check_str, Mbpp/737).
    problems = [HE["HumanEval/32"], HE["HumanEval/15"], HE["HumanEval/2"], MBPP["Mbpp/2"], MBPP["Mbpp/63"],
                MBPP["Mbpp/124"], MBPP["Mbpp/737"]]
    for r in check_canonical(problems, gt_cache=gt_cache):
        assert (r.base, r.plus) == ("pass", "pass"), r


def test_mbpp_set_equality_and_wrong_type(gt_cache):
    p = MBPP["Mbpp/2"]
    reordered = "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b), reverse=True))\n"
    wrong = "def similar_elements(a, b):\n    return tuple(set(a) | set(b))\n"
    res = evaluate([p], [[reordered, wrong]], gt_cache=gt_cache)[0]
    assert (res[0].base, res[0].plus) == ("pass", "pass")
    assert res[1].base == "fail"


def test_original_humaneval_check_function():
    p = HE_ORIG["HumanEval/0"]
    res = evaluate([p], [[p.answer, "    return True\n", MEMORIZER_HE0]])[0]
    assert [r.base for r in res] == ["pass", "fail", "pass"]
    assert all(r.plus is None for r in res)


def test_build_solution_never_raises_and_prefers_fenced_function():
    p = HE["HumanEval/0"]
    assert build_solution(p, None).startswith(p.problem)  # type: ignore[arg-type]
    sol = build_solution(p, "text\n```python\ndef has_close_elements(n, t):\n    return 1\n```")
    assert sol.startswith("from typing import List") and "return 1" in sol and '"""' not in sol


def test_bad_input_raises_before_running():
    math = load_benchmark("gsm8k", limit=1)
    with pytest.raises(ValueError):
        evaluate(math, [["x"]])
    with pytest.raises(ValueError):
        evaluate([HE["HumanEval/0"]], [])


@pytest.mark.slow
def test_all_canonical_solutions_pass(gt_cache):
    problems = list(HE.values()) + list(MBPP.values())
    bad = [r for r in check_canonical(problems, gt_cache=gt_cache) if (r.base, r.plus) != ("pass", "pass")]
    assert bad == []
