"""Tests for the seeded synthetic arithmetic generator (workbook.data.synthetic)."""

from __future__ import annotations

import random
import re

import pytest

from workbook.data.synthetic import (
    ArithmeticSpec,
    evaluate_expression,
    generate_problems,
    parse_expression,
    problem_split,
    random_solution_steps,
)


def _boxed(text: str) -> str:
    m = re.findall(r"\\boxed\{([^{}]*)\}", text)
    assert m, text
    return m[-1]


def test_answers_checked_by_evaluation():
    problems = generate_problems(300, seed=0)
    assert len(problems) == 300
    for p in problems:
        expr = p.metadata["expression"]
        assert str(evaluate_expression(expr)) == p.answer
        assert _boxed(p.metadata["solution"]) == p.answer
        assert p.problem == f"Compute {expr}."
        assert p.dataset == "synthetic"
        assert p.metadata["difficulty"] == p.metadata["n_operands"]


def test_solution_steps_are_valid_reductions():
    for p in generate_problems(100, seed=3):
        lines = p.metadata["solution"].splitlines()
        assert len(lines) == p.metadata["n_operands"]  # n-1 steps + the boxed line
        for line in lines[:-1]:
            lhs, rhs = line.split(" = ")
            assert evaluate_expression(lhs) == int(rhs)
        assert int(lines[-2].split(" = ")[1]) == int(p.answer)


def test_default_spec_constraints_hold():
    spec = ArithmeticSpec()
    for p in generate_problems(300, seed=1, spec=spec):
        assert 2 <= p.metadata["n_operands"] <= 4
        for line in p.metadata["solution"].splitlines()[:-1]:
            lhs, rhs = line.split(" = ")
            a, op, b = lhs.split(" ")
            assert 0 <= int(rhs) <= 99
            if op == "*":
                assert min(int(a), int(b)) <= 9
        nums = [int(x) for x in re.findall(r"\d+", p.metadata["expression"])]
        assert all(1 <= x <= 99 for x in nums)


def test_difficulty_levels_balanced():
    problems = generate_problems(90, seed=0)
    counts = {k: sum(p.metadata["n_operands"] == k for p in problems) for k in (2, 3, 4)}
    assert counts == {2: 30, 3: 30, 4: 30}


def test_seeded_and_deterministic():
    a = generate_problems(50, seed=7)
    b = generate_problems(50, seed=7)
    c = generate_problems(50, seed=8)
    assert a == b
    assert [p.problem for p in a] != [p.problem for p in c]


def test_splits_are_disjoint_and_unique():
    test = generate_problems(400, seed=0, split="test")
    train = generate_problems(400, seed=0, split="train")
    test_exprs = {p.metadata["expression"] for p in test}
    train_exprs = {p.metadata["expression"] for p in train}
    assert len(test_exprs) == 400 and len(train_exprs) == 400
    assert not test_exprs & train_exprs
    assert all(problem_split(e) == "test" for e in test_exprs)
    assert all(p.problem_id.startswith("synthetic/test/s0/") for p in test)


def test_parentheses_round_trip():
    for p in generate_problems(200, seed=5):
        expr = p.metadata["expression"]
        assert parse_expression(expr).to_text() == expr


def test_other_specs():
    spec = ArithmeticSpec(n_operands=3, min_operands=None, digits=1, operators=("+", "-"), max_value=None,
                          max_factor=None, nested=False)
    for p in generate_problems(50, seed=0, spec=spec):
        assert p.metadata["n_operands"] == 3
        assert "(" not in p.metadata["expression"]  # left-to-right chains of one precedence need none
        assert str(evaluate_expression(p.metadata["expression"])) == p.answer
    spec = ArithmeticSpec(n_operands=3, min_operands=2, digits=2, operators=("*", "/"), max_value=None)
    for p in generate_problems(50, seed=0, spec=spec):
        assert str(evaluate_expression(p.metadata["expression"])) == p.answer  # division is always exact


@pytest.mark.parametrize("expr,value", [("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("10 - 4 - 3", 3),
                                        ("10 - (4 - 3)", 9), ("8 / 2 / 2", 2), ("-3 + 5", 2), ("7 × 6", 42)])
def test_evaluate_expression(expr, value):
    assert evaluate_expression(expr) == value


@pytest.mark.parametrize("bad", ["", "2 +", "(2 + 3", "2 $ 3", "7 / 2", "1 / 0", "2 3"])
def test_evaluate_expression_rejects(bad):
    with pytest.raises(ValueError):
        evaluate_expression(bad)


@pytest.mark.parametrize("kwargs", [dict(n_operands=0), dict(digits=0), dict(operators=("^",)), dict(operators=()),
                                    dict(n_operands=2, min_operands=3), dict(max_value=0)])
def test_bad_spec(kwargs):
    with pytest.raises(ValueError):
        ArithmeticSpec(**kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate_problems(-1, seed=0)
    with pytest.raises(ValueError):
        generate_problems(1, seed=0, split="validation")
    with pytest.raises(ValueError):
        generate_problems(1, seed="0")  # type: ignore[arg-type]
    tiny = ArithmeticSpec(n_operands=2, digits=1, operators=("+",), max_value=9)
    with pytest.raises(ValueError, match="distinct"):
        generate_problems(500, seed=0, spec=tiny)
    assert len(generate_problems(500, seed=0, spec=tiny, unique=False)) == 500


def test_corrupted_steps_stay_consistent():
    tree = parse_expression("12 + 7 * (3 - 1)")
    steps = random_solution_steps(tree, random.Random(0), corrupt=lambda i, a, op, b, r: r + 1 if i == 0 else r)
    # the first step is off by one and later steps use the wrong value
    first = steps[0]
    assert first.result == evaluate_expression(f"{first.left} {first.op} {first.right}") + 1
    assert steps[-1].result != 26
