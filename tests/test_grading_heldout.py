"""The held-out grading cases: decided by mathematics and committed before the grader ever ran on them.

``tests/data/grading_cases_heldout.jsonl`` (same format as ``grading_cases.jsonl``) was written as an independent
check of the strict grader: matrices and vectors (a transpose is not equal), sets with repeated elements, intervals
vs named sets, TeX shorthand with non-digit arguments, answers wrapped in a sentence or ``\\text{}``, exact integers
far beyond the old size caps, and mixed units. Cases are never edited to fit the grader; the grader was fixed
where it disagreed (its blind agreement, before the fixes, is in ``results/benchmarks/grader_agreement.md``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from workbook.grading import Grader, grade, is_equivalent

CASES_PATH = Path(__file__).parent / "data" / "grading_cases_heldout.jsonl"
CASES = [json.loads(line) for line in CASES_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
TIMEOUT_S = 5.0  # generous: a loaded shared machine; the bound checked is "no hang", not speed
CLASSES = {"matrix", "vector", "set_repeats", "interval_named", "macro_shorthand", "wrapped", "huge_integer",
           "mixed_units", "ordinary"}


def _completion(case: dict) -> str:
    return case.get("completion", f"Reasoning... so the final answer is $\\boxed{{{case.get('pred', '')}}}$.")


def test_heldout_table_is_well_formed():
    assert len(CASES) >= 200 and len({c["id"] for c in CASES}) == len(CASES)
    for c in CASES:
        assert ("pred" in c) != ("completion" in c), c["id"]
        assert isinstance(c["expected"], bool) and c["reason"].strip() and c["gold"], c["id"]
    assert set(Counter(c["class"] for c in CASES)) == CLASSES
    assert sum(not c["expected"] for c in CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_strict_grader_matches_heldout_truth(case):
    if "pred" in case:
        assert is_equivalent(case["pred"], case["gold"], timeout_s=TIMEOUT_S) is case["expected"], case["reason"]
    assert grade(_completion(case), case["gold"], timeout_s=TIMEOUT_S) is case["expected"], case["reason"]


def test_a_transposed_matrix_is_never_accepted_even_through_the_cache():
    a = r"\begin{pmatrix}1&2\\3&4\end{pmatrix}"
    t = r"\begin{pmatrix}1&3\\2&4\end{pmatrix}"
    with Grader(timeout_s=TIMEOUT_S) as g:
        assert g.grade_many([f"\\boxed{{{a}}}", f"\\boxed{{{t}}}", f"\\boxed{{{a}}}"], [a, a, t]) == [True, False, False]
