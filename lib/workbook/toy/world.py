"""The toy world: prompt formats for the three skills and noisy training traces.

Spec: issue 3 ("the world it is trained on"), ``shared/specs/toy_reasoner_notes.md`` and ``shared/specs/dser.md``
(s(0) = solve(q), v(n) = verify(q, s(n)), s(n+1) = refine(q, s(n), v(n))).

Three skills, one model, all answers in ``\\boxed{}``:

* **solve** — the papers' math prompt shape (``{problem} Please reason step by step, ...\\boxed{}.``); one
  ``a op b = c`` line per reduced operation in a random valid order, then ``\\boxed{answer}``.
* **verify** — problem + candidate solution → the steps re-checked one at a time (``Step k: a op b = r ok``, or
  ``Step k: a op b = r, not c`` at the first wrong step, where checking stops) and ``\\boxed{correct}`` or
  ``\\boxed{incorrect}``. Checking one step is local, so it is learnable in minutes (the notes' trial of a global
  verdict failed).
* **refine** — problem + solution + report → a new solution: steps before the flagged one are kept, the flagged
  step takes the checker's value and later steps are recomputed; a "correct" report keeps the solution.

Controlled imperfections (:class:`WorldNoise`): step errors whose rate grows with the operand count, checker
misses and false alarms, refinements that break a correct solution and make new errors while recomputing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from workbook.data.synthetic import (
    ArithmeticSpec,
    Node,
    Step,
    apply_op,
    format_solution,
    problem_text,
    random_problem_tree,
    random_solution_steps,
)

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
# Short on purpose: every prompt character costs training compute on a character-level model.
VERIFY_INSTRUCTION = "Check each step. Verdict (correct or incorrect) within \\boxed{}."
REFINE_INSTRUCTION = "Fix it using the report. Final answer within \\boxed{}."
VERDICTS = ("correct", "incorrect")
TASKS = ("solve", "verify", "refine")


# ---------------------------------------------------------------------------------------------------------------
# Prompt formats (user messages); the DSER and sharpening notebooks reuse these.


def solve_message(problem: str) -> str:
    """Return the user message asking to solve ``problem`` (the papers' math prompt shape)."""
    return f"{problem} {MATH_INSTRUCTION}"


def verify_message(problem: str, solution: str) -> str:
    """Return the user message asking to verify ``solution`` (p_v of DSER, our wording)."""
    return f"Problem: {problem}\nSolution:\n{solution.strip()}\n{VERIFY_INSTRUCTION}"


def refine_message(problem: str, solution: str, report: str) -> str:
    """Return the user message asking to refine ``solution`` given a verification ``report`` (p_r of DSER)."""
    return f"Problem: {problem}\nSolution:\n{solution.strip()}\nReport:\n{report.strip()}\n{REFINE_INSTRUCTION}"


def chat_prompt(tokenizer, message: str) -> str:
    """Return ``message`` as a one-turn chat prompt ending with the assistant marker (add_generation_prompt)."""
    return tokenizer.apply_chat_template([{"role": "user", "content": message}], tokenize=False,
                                         add_generation_prompt=True)


def solve_prompt(tokenizer, problem: str) -> str:
    """Return the chat-formatted solve prompt; equals ``workbook.generation.build_prompt(tokenizer, problem)``."""
    return chat_prompt(tokenizer, solve_message(problem))


def verify_prompt(tokenizer, problem: str, solution: str) -> str:
    """Return the chat-formatted verify prompt."""
    return chat_prompt(tokenizer, verify_message(problem, solution))


def refine_prompt(tokenizer, problem: str, solution: str, report: str) -> str:
    """Return the chat-formatted refine prompt."""
    return chat_prompt(tokenizer, refine_message(problem, solution, report))


_VERDICT_RE = re.compile(r"\\boxed\{\s*(correct|incorrect)\s*\}")
_FIRST_WRONG_RE = re.compile(r"first wrong step is step (\d+)")


def parse_verdict(report: str) -> str | None:
    """Return ``"correct"``/``"incorrect"`` from the last ``\\boxed{}`` verdict of a report; ``None`` if absent."""
    found = _VERDICT_RE.findall(report or "")
    return found[-1] if found else None


def parse_first_wrong_step(report: str) -> int | None:
    """Return the 1-based step a report names as the first wrong one, or ``None``."""
    m = _FIRST_WRONG_RE.search(report or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------------------------------
# Noise


@dataclass(frozen=True)
class WorldNoise:
    """Rates of the controlled imperfections in the training traces (issue 3, "the world").

    step_error(k) = step_error_base + step_error_per_operand · (k − 2) per step of a k-operand solution.
    """

    step_error_base: float = 0.08
    step_error_per_operand: float = 0.06
    candidate_step_error: float = 0.25  # step error rate of the candidate solutions shown to verify/refine
    verify_miss: float = 0.15  # a wrong step is re-computed as the (wrong) claimed value and passed
    verify_false_alarm: float = 0.04  # per correct step: the checker computes a wrong value and flags it
    refine_break: float = 0.05  # a solution reported correct is copied with one new step error
    refine_step_error_scale: float = 0.5  # recomputed steps after the flagged one err at this × step_error(k)

    def step_error(self, n_operands: int) -> float:
        """Return the per-step error probability of a solve trace with ``n_operands`` operands."""
        return min(1.0, self.step_error_base + self.step_error_per_operand * (n_operands - 2))


def wrong_value(left: int, op: str, right: int, true: int, rng: random.Random) -> int:
    """Return a plausible wrong result: off by ±1, ±2 or ±10, or one times-table row away for products."""
    options = [true + d for d in (-1, 1, -2, 2, -10, 10)]
    if op == "*":
        options += [true + left, true - left, true + right, true - right] * 2
    options = [v for v in options if v != true and v >= 0] or [true + 1]
    return rng.choice(options)


def _noisy(rate: float, rng: random.Random):
    def corrupt(i: int, a: int, op: str, b: int, r: int) -> int:
        return wrong_value(a, op, b, r, rng) if rng.random() < rate else r

    return corrupt


# ---------------------------------------------------------------------------------------------------------------
# Traces


@dataclass(frozen=True)
class Example:
    """One training example: a skill's user message and the target completion (without the EOS token)."""

    task: str
    message: str
    completion: str
    n_operands: int
    correct: bool | None = None  # for solve/refine: is the completion's answer right; verify: is the verdict right


def true_result(step: Step) -> int | None:
    """Return the correct value of ``step.left op step.right`` (None if undefined, e.g. division by zero)."""
    try:
        return apply_op(step.left, step.op, step.right)
    except ValueError:
        return None


def verify_report(steps: list[Step], noise: WorldNoise | None, rng: random.Random) -> tuple[str, int | None, int | None]:
    """Return (report text, flagged step index or None, the checker's value at the flagged step).

    With ``noise=None`` the report is exact (a perfect checker, used by the notebooks as an oracle).
    """
    lines = []
    for i, s in enumerate(steps):
        truth = true_result(s)
        value = truth if truth is not None else s.result + 1
        if noise is not None:
            if value != s.result and rng.random() < noise.verify_miss:
                value = s.result
            elif value == s.result and rng.random() < noise.verify_false_alarm:
                value = wrong_value(s.left, s.op, s.right, s.result, rng)
        head = f"Step {i + 1}: {s.left} {s.op} {s.right} = {value}"
        if value == s.result:
            lines.append(f"{head} ok")
            continue
        lines.append(f"{head}, not {s.result}")
        lines.append(f"The first wrong step is step {i + 1}.")
        lines.append("\\boxed{incorrect}")
        return "\n".join(lines), i, value
    lines.append("All steps are correct.")
    lines.append("\\boxed{correct}")
    return "\n".join(lines), None, None


def refine_steps(tree: Node, order_seed: int, old: list[Step], flagged: int | None, flagged_value: int | None,
                 noise: WorldNoise, rng: random.Random) -> list[Step]:
    """Return the steps of a refined solution in the same operation order as ``old`` (see module docstring)."""
    k = tree.n_leaves()
    if flagged is None:
        if rng.random() >= noise.refine_break or not old:
            return list(old)
        broken = rng.randrange(len(old))
        corrupt = (lambda i, a, op, b, r: old[i].result if i < broken
                   else wrong_value(a, op, b, r, rng) if i == broken else r)
    else:
        rate = noise.step_error(k) * noise.refine_step_error_scale

        def corrupt(i: int, a: int, op: str, b: int, r: int) -> int:
            if i < flagged:
                return old[i].result
            if i == flagged:
                return flagged_value
            return wrong_value(a, op, b, r, rng) if rng.random() < rate else r

    # replaying the same order: the ready-operation choices depend on the tree's shape only
    return random_solution_steps(tree, random.Random(order_seed), corrupt=corrupt)


def sample_example(task: str, spec: ArithmeticSpec, noise: WorldNoise, rng: random.Random) -> Example:
    """Return one noisy training example of ``task`` on a fresh ``train``-split problem."""
    tree = random_problem_tree(spec, rng, split="train")
    k = tree.n_leaves()
    answer = tree.evaluate()
    problem = problem_text(tree.to_text())
    order_seed = rng.getrandbits(32)
    if task == "solve":
        steps = random_solution_steps(tree, random.Random(order_seed), corrupt=_noisy(noise.step_error(k), rng))
        text = format_solution(steps, steps[-1].result if steps else answer)
        return Example("solve", solve_message(problem), text, k, (steps[-1].result if steps else answer) == answer)
    cand = random_solution_steps(tree, random.Random(order_seed), corrupt=_noisy(noise.candidate_step_error, rng))
    cand_text = format_solution(cand, cand[-1].result if cand else answer)
    report, flagged, value = verify_report(cand, noise, rng)
    if task == "verify":
        truly_correct = all(true_result(s) == s.result for s in cand)
        return Example("verify", verify_message(problem, cand_text), report, k,
                       (flagged is None) == truly_correct)
    if task == "refine":
        new = refine_steps(tree, order_seed, cand, flagged, value, noise, rng)
        final = new[-1].result if new else answer
        return Example("refine", refine_message(problem, cand_text, report), format_solution(new, final), k,
                       final == answer)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")
