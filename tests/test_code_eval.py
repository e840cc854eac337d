"""workbook.code_eval: programs run in the sandbox, verdicts decided in the harness's own process.

Hostile candidates (forged ``__eq__``, monkeypatched builtins, forged result lines, ``os._exit(0)``, network) must
not pass, in every kernel-isolated sandbox mode this machine has; ordinary candidates keep EvalPlus's outcomes.
"""

from __future__ import annotations

import os
import shutil

import pytest

from workbook.code_eval import OUTCOMES, build_solution, check_canonical, evaluate, from_plain, outputs_match, to_plain
from workbook.data import DataNotFoundError, load_benchmark
from workbook.sandbox import isolation_mode

try:
    HE = {p.metadata["task_id"]: p for p in load_benchmark("humaneval_plus")}
    MBPP = {p.metadata["task_id"]: p for p in load_benchmark("mbpp_plus")}
    HE_ORIG = {p.metadata["task_id"]: p for p in load_benchmark("humaneval")}
except DataNotFoundError as e:  # pragma: no cover - the benchmark files are part of the dev setup
    pytest.skip(f"benchmark files not available: {e}", allow_module_level=True)


def _available(mode: str) -> bool:
    """True when this machine should offer ``mode`` (root; a bwrap binary); if it then fails, the tests fail."""
    return os.geteuid() == 0 if mode == "namespaces-root" else shutil.which("bwrap") is not None


MODES = [pytest.param(m, marks=pytest.mark.skipif(not _available(m), reason=f"{m} sandbox not available here"))
         for m in ("namespaces-root", "bubblewrap")]


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
FORGED_EQ = '''
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def has_close_elements(numbers, threshold):
    return Anything()
'''
FORGED_INT = '''
class Yes(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def has_close_elements(numbers, threshold):
    return Yes(7)
'''
PATCHED_BUILTINS = '''
import builtins, json, sys
class Anything:
    def __eq__(self, other):
        return True
_type = builtins.type
builtins.type = lambda x, *a: bool if isinstance(x, Anything) else _type(x, *a)
builtins.isinstance = lambda *a: True
json.dumps = lambda *a, **k: '{"out": [{"v": true}], "cpu": [0]}'
main = sys.modules.get("__main__")
for name in ("record_of", "to_plain", "outputs_match", "matches"):
    if main is not None and hasattr(main, name):
        setattr(main, name, lambda *a, **k: {"v": True})
def has_close_elements(numbers, threshold):
    return Anything()
'''
# Finds the driver's secret token in its frames and writes "results" claiming True for every input, then exits.
FORGED_LINES = '''
import os, sys
def has_close_elements(numbers, threshold):
    f = sys._getframe()
    token = None
    while f is not None:
        token = f.f_locals.get("token", token)
        f = f.f_back
    for phase in ("base", "plus"):
        line = "%s %s %s" % (token, phase, '{"out": [' + ", ".join(['{"v": true}'] * 2000) + '], "cpu": []}')
        os.write(1, ("\\n" + line + "\\n" + "%s %s pass\\n" % (token, phase)).encode())
    os.write(1, ("\\n%s done\\n" % token).encode())
    os._exit(0)
'''
EXIT0 = "    import os\n    os._exit(0)\n"
NETWORK = "    import socket\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n    return True\n"


def test_outcomes_for_typical_completions(gt_cache):
    p = HE["HumanEval/0"]
    body_ok = p.answer  # a continuation of the prompt
    fenced_ok = ("Sure!\n```python\nfrom typing import List\n\ndef has_close_elements(numbers, threshold):\n"
                 "    s = sorted(numbers)\n    return any(b - a < threshold for a, b in zip(s, s[1:]))\n```\n")
    wrong = "    return False\n"
    loop = "    while True:\n        pass\n"
    garbage = "def ((("
    comps = [body_ok, fenced_ok, MEMORIZER_HE0, wrong, loop, garbage]
    res = evaluate([p], [comps], min_time_s=0.5, gt_cache=gt_cache)[0]
    got = [(r.base, r.plus) for r in res]
    assert got[0] == ("pass", "pass") and got[1] == ("pass", "pass")
    assert got[2] == ("pass", "fail"), "the memorizer is the false positive: base passes, plus fails"
    assert got[3] == ("fail", "fail")
    assert got[4] == ("timeout", "timeout")
    assert got[5] == ("fail", "fail")
    assert all(r.isolation == isolation_mode() for r in res)
    from workbook.papers.inference_scaling_limits import counts_from_code_results

    counts = counts_from_code_results([res])
    assert (counts.a[0], counts.f[0], counts.n[0]) == (2, 1, 6)


@pytest.mark.parametrize("mode", MODES)
def test_hostile_candidates_cannot_pass(gt_cache, mode):
    p = HE["HumanEval/0"]
    comps = [FORGED_EQ, FORGED_INT, PATCHED_BUILTINS, FORGED_LINES, EXIT0, NETWORK, p.answer]
    res = evaluate([p], [comps], min_time_s=0.5, gt_cache=gt_cache, isolation=mode)[0]
    got = [(r.base, r.plus) for r in res]
    assert got[:5] == [("fail", "fail")] * 5, [(g, r.reason) for g, r in zip(got, res)]
    assert "not serialisable" in res[0].reason
    assert got[5] == ("blocked", "blocked") and "network" in res[5].reason
    assert got[6] == ("pass", "pass") and {r.isolation for r in res} == {mode}


@pytest.mark.parametrize("mode", MODES)
def test_original_humaneval_check_runs_outside_the_candidate(mode):
    p = HE_ORIG["HumanEval/0"]
    comps = [p.answer, "    return True\n", MEMORIZER_HE0, FORGED_EQ, PATCHED_BUILTINS, EXIT0, NETWORK]
    res = evaluate([p], [comps], isolation=mode)[0]
    assert [r.base for r in res] == ["pass", "fail", "pass", "fail", "fail", "fail", "blocked"], [r.reason for r in res]
    assert all(r.plus is None for r in res)


def test_original_humaneval_check_with_random_inputs_oracles_and_self_reference():
    # 32: 100 seeded polynomials, poly() of the candidate's root; 38: unseeded random strings (the harness seeds
    # them so recording and replay agree); 33: check() calls the entry point by name, i.e. the candidate itself.
    problems = [HE_ORIG["HumanEval/32"], HE_ORIG["HumanEval/38"], HE_ORIG["HumanEval/33"]]
    wrong = ["    return 0.0\n", "    return s\n", "    return l\n"]
    res = evaluate(problems, [[p.answer, w] for p, w in zip(problems, wrong)])
    assert [[r.base for r in row] for row in res] == [["pass", "fail"]] * 3, [[r.reason for r in row] for row in res]


def test_canonical_solutions_pass_base_and_plus_on_special_tasks(gt_cache):
    # find_zero (HE/32: oracle), HE/15 and HE/130 (huge outputs, stored as digests), MBPP set-equality (2),
    # tuple inputs (63), complex inputs (124), not-None oracle (check_str, Mbpp/737), a Counter output (88).
    problems = [HE["HumanEval/32"], HE["HumanEval/15"], HE["HumanEval/2"], MBPP["Mbpp/2"], MBPP["Mbpp/63"],
                MBPP["Mbpp/124"], MBPP["Mbpp/737"], MBPP["Mbpp/88"]]
    for r in check_canonical(problems, gt_cache=gt_cache):
        assert (r.base, r.plus) == ("pass", "pass"), r


def test_mbpp_set_equality_and_wrong_type(gt_cache):
    p = MBPP["Mbpp/2"]
    reordered = "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b), reverse=True))\n"
    wrong = "def similar_elements(a, b):\n    return tuple(set(a) | set(b))\n"
    res = evaluate([p], [[reordered, wrong]], gt_cache=gt_cache)[0]
    assert (res[0].base, res[0].plus) == ("pass", "pass")
    assert res[1].base == "fail"


def test_plain_data_codec_and_evalplus_float_tolerance():
    class Forged(int):
        pass

    value = [1, 2.5, float("nan"), (1, "a"), {3, 4}, {"k": [None, True]}, 3 + 4j, b"xy", 2 ** 20000]
    back = from_plain(to_plain(value))
    assert back[3] == (1, "a") and isinstance(back[3], tuple) and back[4] == {3, 4} and back[-1] == 2 ** 20000
    with pytest.raises(Exception, match="not plain"):
        to_plain(Forged(3))
    # EvalPlus: a float expected value gets atol 1e-6 (plus rtol 1e-7) when the task's atol is 0; ints are exact.
    assert outputs_match("humaneval_plus", "f", 0.0, [], 0.1 + 0.2, 0.3)
    assert not outputs_match("humaneval_plus", "f", 0.0, [], 0.3 + 1e-5, 0.3)
    assert not outputs_match("humaneval_plus", "f", 0.0, [], 4, 5)
    assert not outputs_match("humaneval_plus", "f", 0.0, [], (1, 2), [1, 2])
    assert set(OUTCOMES) == {"pass", "fail", "timeout", "crash", "blocked"}


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


#: `make test` checks a fixed quarter of the canonical solutions (every 4th task of each set, ~180 programs: the
#: whole set took ~5 min, a third of the suite); WORKBOOK_TEST_FULL=1 checks all 706 (CI does, in its unprivileged
#: bubblewrap pass of this file, so every canonical solution is still judged on every CI run).
FULL = os.environ.get("WORKBOOK_TEST_FULL") == "1"


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 706 programs plus ground truth with WORKBOOK_TEST_FULL=1: minutes of CPU, more under load
def test_all_canonical_solutions_pass(gt_cache):
    sets = [list(HE.values()), list(MBPP.values()), list(HE_ORIG.values())]
    problems = [p for s in sets for p in (s if FULL else s[::4])]
    bad = [r for r in check_canonical(problems, gt_cache=gt_cache) if r.base != "pass" or r.plus not in ("pass", None)]
    assert bad == []
