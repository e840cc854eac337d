"""Seeded synthetic arithmetic problems with step-by-step reference solutions.

Contamination-free by construction, like RandomCalculation in "Reasoning or Memorization?" (Wu et al. 2025,
arXiv 2507.10532): every
problem is a random expression tree drawn from a seeded generator, so no benchmark or pretraining corpus can
contain it. The ``train`` and ``test`` splits are disjoint: a problem's split is a fixed function of a hash of
its expression, and the generator rejects draws that fall into the other split.

A solution reduces one *ready* operation (both operands are numbers) per line, choosing the next ready
operation at random, so one problem has several valid solution orders; the last line is ``\\boxed{answer}``::

    Compute 12 + 7 * (3 - 1).
    3 - 1 = 2
    7 * 2 = 14
    12 + 14 = 26
    \\boxed{26}

The toy reasoner (``workbook.toy``) trains on noisy versions of these traces; this module is noise-free.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from workbook.data.benchmarks import Problem


__all__ = [
    "ArithmeticSpec",
    "Node",
    "Problem",
    "Step",
    "SPLITS",
    "evaluate_expression",
    "format_solution",
    "generate_problems",
    "parse_expression",
    "problem_split",
    "random_solution_steps",
]

OPERATORS = ("+", "-", "*", "/")
SPLITS = ("train", "test")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
#: Fraction of the problem space that belongs to the ``test`` split (by expression hash).
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class ArithmeticSpec:
    """A family of arithmetic problems.

    The defaults are the toy reasoner's world (``workbook.toy``): 2–4 operands, 1- or 2-digit
    operands, ``+ - *``, every intermediate value in [0, 99], one factor of every product ≤ 9.

    Attributes:
        n_operands: largest number of operands (leaves of the expression tree).
        digits: largest number of digits of an operand; the digit count is drawn uniformly in [1, digits].
        operators: operators to draw from, a subset of ``+ - * /`` (``/`` only where it divides exactly).
        min_operands: smallest number of operands; ``None`` means exactly ``n_operands``. The count is drawn
            uniformly in [min_operands, n_operands].
        max_value: every operand, intermediate and final value lies in [0, max_value]; ``None``: unbounded
            (negative values allowed).
        max_factor: one factor of every product is at most this; ``None``: no limit.
        nested: random tree shapes (parentheses where needed); ``False``: left-to-right chains.
    """

    n_operands: int = 4
    digits: int = 2
    operators: tuple[str, ...] = ("+", "-", "*")
    min_operands: int | None = 2
    max_value: int | None = 99
    max_factor: int | None = 9
    nested: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.n_operands, int) or self.n_operands < 1:
            raise ValueError(f"n_operands must be an int >= 1, got {self.n_operands!r}")
        lo = self.min_operands if self.min_operands is not None else self.n_operands
        if not isinstance(lo, int) or not 1 <= lo <= self.n_operands:
            raise ValueError(f"min_operands must be in [1, n_operands={self.n_operands}], got {self.min_operands!r}")
        if not isinstance(self.digits, int) or not 1 <= self.digits <= 9:
            raise ValueError(f"digits must be an int in [1, 9], got {self.digits!r}")
        ops = tuple(self.operators)
        if not ops or any(op not in OPERATORS for op in ops):
            raise ValueError(f"operators must be a non-empty subset of {OPERATORS}, got {self.operators!r}")
        object.__setattr__(self, "operators", ops)
        if self.max_value is not None and self.max_value < 1:
            raise ValueError(f"max_value must be >= 1 or None, got {self.max_value!r}")
        if self.max_factor is not None and self.max_factor < 1:
            raise ValueError(f"max_factor must be >= 1 or None, got {self.max_factor!r}")

    @property
    def operand_counts(self) -> tuple[int, ...]:
        """Return the possible operand counts (difficulty levels), smallest first."""
        lo = self.min_operands if self.min_operands is not None else self.n_operands
        return tuple(range(lo, self.n_operands + 1))

    def key(self) -> str:
        """Return a stable text key of the spec (for seeding and hashing)."""
        return (
            f"ops={self.min_operands}-{self.n_operands};d={self.digits};o={''.join(self.operators)};"
            f"max={self.max_value};f={self.max_factor};nested={self.nested}"
        )


# ---------------------------------------------------------------------------------------------------------------
# Expression trees


@dataclass(frozen=True)
class Node:
    """An expression tree: a leaf (``op is None``, ``value`` set) or a binary operation."""

    value: int | None = None
    op: str | None = None
    left: Node | None = None
    right: Node | None = None

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def evaluate(self) -> int:
        """Return the value of the tree; ``ValueError`` on inexact division or division by zero."""
        if self.is_leaf:
            return int(self.value)  # type: ignore[arg-type]
        return apply_op(self.left.evaluate(), self.op, self.right.evaluate())  # type: ignore[union-attr]

    def to_text(self) -> str:
        """Return the expression with parentheses only where the left-associative reading needs them."""
        if self.is_leaf:
            return str(self.value)
        prec = _PRECEDENCE[self.op]  # type: ignore[index]
        left, right = self.left.to_text(), self.right.to_text()  # type: ignore[union-attr]
        if not self.left.is_leaf and _PRECEDENCE[self.left.op] < prec:  # type: ignore[union-attr,index]
            left = f"({left})"
        if not self.right.is_leaf and _PRECEDENCE[self.right.op] <= prec:  # type: ignore[union-attr,index]
            right = f"({right})"
        return f"{left} {self.op} {right}"

    def n_leaves(self) -> int:
        return 1 if self.is_leaf else self.left.n_leaves() + self.right.n_leaves()  # type: ignore[union-attr]


def apply_op(a: int, op: str, b: int) -> int:
    """Return ``a op b`` for integers; ``/`` must divide exactly (``ValueError`` otherwise)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0 or a % b != 0:
            raise ValueError(f"inexact division {a} / {b}")
        return a // b
    raise ValueError(f"unknown operator {op!r}")


_TOKEN_RE = re.compile(r"\s*(?:(\d+)|(.))")
_ALIASES = {"×": "*", "·": "*", "÷": "/", "−": "-", "x": "*"}


def _tokenize(expr: str) -> list[str]:
    tokens: list[str] = []
    for number, sym in _TOKEN_RE.findall(expr.strip()):
        if number:
            tokens.append(number)
        elif sym.strip():
            sym = _ALIASES.get(sym, sym)
            if sym not in "+-*/()":
                raise ValueError(f"unexpected character {sym!r} in expression {expr!r}")
            tokens.append(sym)
    if not tokens:
        raise ValueError("empty expression")
    return tokens


def parse_expression(expr: str) -> Node:
    """Return the expression tree of ``expr`` (integers, ``+ - * /``, parentheses; usual precedence, left-assoc).

    Unary minus is read as ``0 - x``. Raises ``ValueError`` on malformed input.
    """
    if not isinstance(expr, str):
        raise ValueError(f"expression must be a string, got {type(expr).__name__}")
    tokens = _tokenize(expr)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"unexpected end of expression {expr!r}")
        pos += 1
        return tokens[pos - 1]

    def atom() -> Node:
        tok = take()
        if tok == "(":
            node = additive()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {expr!r}")
            return node
        if tok == "-":
            return Node(op="-", left=Node(value=0), right=atom())
        if tok.isdigit():
            return Node(value=int(tok))
        raise ValueError(f"unexpected token {tok!r} in {expr!r}")

    def multiplicative() -> Node:
        node = atom()
        while peek() in ("*", "/"):
            op = take()
            node = Node(op=op, left=node, right=atom())
        return node

    def additive() -> Node:
        node = multiplicative()
        while peek() in ("+", "-"):
            op = take()
            node = Node(op=op, left=node, right=multiplicative())
        return node

    tree = additive()
    if pos != len(tokens):
        raise ValueError(f"trailing tokens in {expr!r}")
    return tree


def evaluate_expression(expr: str) -> int:
    """Return the integer value of an arithmetic expression string (no ``eval``; ``ValueError`` if malformed)."""
    return parse_expression(expr).evaluate()


# ---------------------------------------------------------------------------------------------------------------
# Solutions


@dataclass(frozen=True)
class Step:
    """One reduced operation ``left op right = result`` of a solution."""

    left: int
    op: str
    right: int
    result: int

    def to_text(self) -> str:
        return f"{self.left} {self.op} {self.right} = {self.result}"


def _ready_paths(node: Node, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Return paths (0 = left, 1 = right) to operations whose both operands are leaves."""
    if node.is_leaf:
        return []
    if node.left.is_leaf and node.right.is_leaf:  # type: ignore[union-attr]
        return [path]
    return _ready_paths(node.left, path + (0,)) + _ready_paths(node.right, path + (1,))  # type: ignore[arg-type]


def _replace(node: Node, path: tuple[int, ...], new: Node) -> Node:
    if not path:
        return new
    if path[0] == 0:
        return Node(op=node.op, left=_replace(node.left, path[1:], new), right=node.right)  # type: ignore[arg-type]
    return Node(op=node.op, left=node.left, right=_replace(node.right, path[1:], new))  # type: ignore[arg-type]


def _get(node: Node, path: tuple[int, ...]) -> Node:
    for p in path:
        node = node.left if p == 0 else node.right  # type: ignore[assignment]
    return node


def random_solution_steps(tree: Node, rng: random.Random, corrupt=None) -> list[Step]:
    """Return the steps of one solution, reducing a randomly chosen ready operation per step.

    ``corrupt(step_index, left, op, right, true_result) -> int`` may replace a result (noise injection by the toy
    world); later steps then use the corrupted value, so the solution stays internally consistent.
    """
    steps: list[Step] = []
    while not tree.is_leaf:
        path = rng.choice(_ready_paths(tree))
        node = _get(tree, path)
        a, b = int(node.left.value), int(node.right.value)  # type: ignore[union-attr,arg-type]
        try:
            result = apply_op(a, node.op, b)  # type: ignore[arg-type]
        except ValueError:  # a corrupted earlier value can make a division inexact
            result = a // b if b else 0
        if corrupt is not None:
            result = int(corrupt(len(steps), a, node.op, b, result))
        steps.append(Step(a, node.op, b, result))  # type: ignore[arg-type]
        tree = _replace(tree, path, Node(value=result))
    return steps


def format_solution(steps: list[Step], answer: int | str | None = None) -> str:
    """Return the solution text: one ``a op b = c`` line per step, then ``\\boxed{answer}``.

    ``answer`` defaults to the last step's result (or is required for a single-number problem with no steps).
    """
    if answer is None:
        if not steps:
            raise ValueError("a solution with no steps needs an explicit answer")
        answer = steps[-1].result
    return "\n".join([s.to_text() for s in steps] + [f"\\boxed{{{answer}}}"])


# ---------------------------------------------------------------------------------------------------------------
# Generation


def _split_counts(n: int, rng: random.Random) -> list[int]:
    return [rng.randint(1, n - 1)] if n > 1 else []


def _random_tree(n_leaves: int, spec: ArithmeticSpec, rng: random.Random) -> Node:
    if n_leaves == 1:
        d = rng.randint(1, spec.digits)
        lo = 1 if d == 1 else 10 ** (d - 1)
        hi = 10**d - 1
        if spec.max_value is not None:
            hi = min(hi, spec.max_value)
            lo = min(lo, hi)
        return Node(value=rng.randint(lo, hi))
    n_left = rng.randint(1, n_leaves - 1) if spec.nested else n_leaves - 1
    op = rng.choice(spec.operators)
    return Node(op=op, left=_random_tree(n_left, spec, rng), right=_random_tree(n_leaves - n_left, spec, rng))


def _valid(node: Node, spec: ArithmeticSpec) -> int | None:
    """Return the value of ``node`` if every intermediate value satisfies ``spec``, else ``None``."""
    if node.is_leaf:
        return node.value
    a, b = _valid(node.left, spec), _valid(node.right, spec)  # type: ignore[arg-type]
    if a is None or b is None:
        return None
    if node.op == "*" and spec.max_factor is not None and min(a, b) > spec.max_factor:
        return None
    try:
        v = apply_op(a, node.op, b)  # type: ignore[arg-type]
    except ValueError:
        return None
    if spec.max_value is not None and not 0 <= v <= spec.max_value:
        return None
    return v


def problem_split(expression: str) -> str:
    """Return the split (``train`` or ``test``) that an expression belongs to: a fixed function of its hash."""
    h = int.from_bytes(hashlib.sha256(expression.encode()).digest()[:8], "big")
    return "test" if (h % 10_000) < TEST_FRACTION * 10_000 else "train"


def random_problem_tree(spec: ArithmeticSpec, rng: random.Random, n_operands: int | None = None,
                        split: str | None = None, max_tries: int = 10_000) -> Node:
    """Return a random expression tree satisfying ``spec`` (rejection sampling), optionally in ``split``."""
    k = n_operands if n_operands is not None else rng.choice(spec.operand_counts)
    for _ in range(max_tries):
        tree = _random_tree(k, spec, rng)
        if _valid(tree, spec) is None:
            continue
        if split is not None and problem_split(tree.to_text()) != split:
            continue
        return tree
    raise RuntimeError(f"no valid {k}-operand expression found for spec {spec.key()} in {max_tries} tries")


def problem_text(expression: str) -> str:
    """Return the problem statement shown to the model for an expression."""
    return f"Compute {expression}."


def generate_problems(n: int, seed: int, spec: ArithmeticSpec | None = None, *, split: str = "test",
                      unique: bool = True) -> list[Problem]:
    """Return ``n`` seeded arithmetic problems of ``split`` with step-by-step reference solutions.

    Operand counts cycle evenly through ``spec.operand_counts`` (so every
    difficulty level gets n / levels problems). Each ``Problem.metadata`` holds ``solution`` (one reference
    solution ending in ``\\boxed{answer}``), ``n_operands``, ``difficulty`` (= n_operands), ``expression``,
    ``split`` and ``seed``. The same (n, seed, spec, split) always gives the same list; ``unique=True`` never
    repeats an expression (``ValueError`` if the space is too small for ``n``).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    spec = spec if spec is not None else ArithmeticSpec()
    if not isinstance(spec, ArithmeticSpec):
        raise ValueError(f"spec must be an ArithmeticSpec, got {type(spec).__name__}")
    rng = random.Random(f"workbook.synthetic|{spec.key()}|{split}|{seed}")
    counts = spec.operand_counts
    seen: set[str] = set()
    problems: list[Problem] = []
    misses = 0
    while len(problems) < n:
        k = counts[len(problems) % len(counts)]
        tree = random_problem_tree(spec, rng, n_operands=k, split=split)
        expr = tree.to_text()
        if unique and expr in seen:
            misses += 1
            if misses > 200 + 50 * n:
                raise ValueError(f"cannot draw {n} distinct {split} problems from spec {spec.key()}; "
                                 f"pass unique=False or widen the spec")
            continue
        seen.add(expr)
        steps = random_solution_steps(tree, rng)
        answer = tree.evaluate()
        idx = len(problems)
        problems.append(Problem(
            problem_id=f"synthetic/{split}/s{seed}/{idx:05d}",
            problem=problem_text(expr),
            answer=str(answer),
            dataset="synthetic",
            metadata={
                "solution": format_solution(steps, answer),
                "n_operands": k,
                "difficulty": k,
                "expression": expr,
                "split": split,
                "seed": seed,
            },
        ))
    return problems
