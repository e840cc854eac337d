"""The toy world: prompt formats for the three skills, noisy training traces, and one knob per mechanism.

The per-paper design of every knob (default, control setting, the paper that uses it) is in
``docs/toy_world.md``; :class:`WorldKnobs` carries the same table in its docstring. DSER's chain
s(0) = solve(q), v(n) = verify(q, s(n)), s(n+1) = refine(q, s(n), v(n)) (DSER Sec. 3) is the shape of the
three skills; one model learns all of them, all answers in ``\\boxed{}``:

* **solve** — the papers' math prompt shape (``{problem} Please reason step by step, ...\\boxed{}.``); one
  ``a op b = c`` line per reduced operation in a random valid order, then ``\\boxed{answer}``.
* **verify** — problem + candidate solution → the steps re-checked one at a time: each report line computes the
  step's value from its operands, then copies the claimed result and decides (``Step k: a op b = v, claimed c ok``,
  or ``... wrong`` at the first wrong step, where checking stops), then ``\\boxed{correct}`` or
  ``\\boxed{incorrect}``. The decision compares two adjacent numbers, so it is local and learnable in minutes
  (world version 5; version 3 never wrote the claim, and its 4-layer model did not look it up 10–40 tokens back;
  version 4 wrote the claim before the value, and its model copied the claim as the value: ``recipe_selection.md``).
* **refine** — problem + solution + report → a new solution: steps before the flagged one are kept, the flagged
  step takes the checker's value and later steps are recomputed; a "correct" report keeps the solution.

Controlled imperfections (:class:`WorldNoise`): step errors whose rate grows with the operand count, checker
misses and false alarms (verifier quality), refinements that break a correct solution and make new errors while
recomputing (refiner quality). Mechanisms (:class:`WorldKnobs`): a hard tier, a global answer-format deficiency,
a rare self-check "spark" token with a noise tail, and guess-prone problems (a model that is not sharp).
Fixed phrases (instructions, `` = ``, ``\\boxed{`` ...) are single tokens (:data:`TOKEN_PHRASES`): a toy step
costs a few tokens instead of a dozen characters.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, fields, replace

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
#: The spark (Lp-Reg's "reasoning spark", Sec. 3): a rare token at the branch point after the last step that
#: starts a self-check of every step (and a repair from the first wrong one).
SPARK = "Wait, check:"
#: The noise tail at the same branch point: fillers that carry no information (Lp-Reg's irrelevant low-probability
#: tokens); after one the trace continues as if it were absent.
NOISE_TOKENS = ("Hmm.", "Okay.", "So,", "Right.", "Well,", "Now,", "Then,", "Fine.")
#: The global deficiency (1-shot RLVR Sec. 4, "format" explanation): the final answer written without \boxed{}.
DEFICIENT_PREFIX = "The answer is "
#: Multi-character strings the tokenizer keeps whole (longest match first): shorter sequences, same text.
TOKEN_PHRASES = (
    MATH_INSTRUCTION, VERIFY_INSTRUCTION, REFINE_INSTRUCTION, "Compute ", "\\boxed{", " + ", " - ", " * ", " = ",
    "Step ", ", claimed ", " ok", " wrong", "The first wrong step is step ", "All steps are correct.", "correct", "incorrect",
    "Problem: ", "\nSolution:\n", "\nReport:\n", SPARK, *NOISE_TOKENS, DEFICIENT_PREFIX,
)


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
    """Rates of the controlled imperfections in the training traces (separate verifier and refiner quality for DSER).

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

    def __post_init__(self) -> None:
        for f in fields(self):
            check_rate(f"WorldNoise.{f.name}", getattr(self, f.name))


def check_rate(name: str, value) -> None:
    """Raise one clear ValueError unless ``value`` is a probability in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a rate in [0, 1], got {value!r}")


@dataclass(frozen=True)
class WorldKnobs:
    """One knob per mechanism a paper hypothesises; each has a control setting that removes the cause.

    ====================  =======  =======  ==================================================================
    knob                  default  control  paper (what it creates)
    ====================  =======  =======  ==================================================================
    hard_share            0.04     0        NSR: a hard tier (``hard_operands`` operands) seen in 4% of solve
                                            traces; :func:`hard_spec` draws the held-out hard pool where base
                                            pass@1 is low and pass@256 is below 1 (large-k regime).
    deficiency_share      0.25     0        1-shot RLVR: a global habit — the answer written as
                                            ``The answer is N.`` (ungradable) in this share of solve traces, on
                                            every problem alike, so one RL example can correct it everywhere.
    spark_share           0.05     0        Lp-Reg: at the branch point after the last step, the spark token
                                            :data:`SPARK` starts a self-check that repairs the first wrong step.
    noise_share           0.08     0        Lp-Reg: the noise tail — uninformative fillers
                                            (:data:`NOISE_TOKENS`, equal shares) at the same branch point.
    guess_share           0.6      0        Sharpening: on guess-prone problems (first operand ≥
                                            ``guess_min_first_operand``) the trace skips the steps and boxes a
                                            wrong guess; greedy decoding then guesses while the most likely
                                            *answer* is still right, and π(y*|x) < ½ there.
    ====================  =======  =======  ==================================================================

    Verifier and refiner quality (DSER) are the separate rates of :class:`WorldNoise` (``verify_*`` and
    ``refine_*``); model strengths (inference-scaling limits) are the recipe's saved ``snapshots``.
    """

    hard_share: float = 0.04
    hard_operands: tuple[int, int] = (5, 6)
    deficiency_share: float = 0.25
    spark_share: float = 0.05
    noise_share: float = 0.08
    guess_share: float = 0.6
    guess_min_first_operand: int = 80

    def __post_init__(self) -> None:
        for name in RATE_KNOBS:
            check_rate(f"WorldKnobs.{name}", getattr(self, name))
        if self.spark_share + self.noise_share > 1:
            raise ValueError("WorldKnobs.spark_share + noise_share must be <= 1 (they share one branch point)")
        lo, hi = tuple(self.hard_operands)
        object.__setattr__(self, "hard_operands", (lo, hi))
        if not (isinstance(lo, int) and isinstance(hi, int) and 2 <= lo <= hi <= 8):
            raise ValueError(f"WorldKnobs.hard_operands must be (lo, hi) with 2 <= lo <= hi <= 8, got {(lo, hi)!r}")
        if not isinstance(self.guess_min_first_operand, int) or self.guess_min_first_operand < 0:
            raise ValueError("WorldKnobs.guess_min_first_operand must be an int >= 0")

    @classmethod
    def from_dict(cls, values: dict) -> "WorldKnobs":
        """Return knobs from a mapping; an unknown knob is one clear error naming the valid ones."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ValueError(f"unknown world knob(s) {unknown}; valid: {valid}")
        return cls(**values)

    def control(self, *names: str) -> "WorldKnobs":
        """Return these knobs with ``names`` (default: every mechanism) set to their control value."""
        names = names or tuple(CONTROLS)
        bad = [n for n in names if n not in CONTROLS]
        if bad:
            raise ValueError(f"no control setting for {bad}; knobs with one: {sorted(CONTROLS)}")
        return replace(self, **{n: CONTROLS[n] for n in names})


RATE_KNOBS = ("hard_share", "deficiency_share", "spark_share", "noise_share", "guess_share")
#: Control value of every mechanism knob (the world without the hypothesised cause).
CONTROLS = {name: 0.0 for name in RATE_KNOBS}
#: Which paper each knob serves (docs/toy_world.md has the design and the measured effects).
KNOB_PAPERS = {"hard_share": "nsr", "deficiency_share": "one_shot_rlvr", "spark_share": "lp_reg",
               "noise_share": "lp_reg", "guess_share": "sharpening"}


def hard_spec(spec: ArithmeticSpec, knobs: WorldKnobs) -> ArithmeticSpec:
    """Return the spec of the hard tier: ``knobs.hard_operands`` operands, otherwise ``spec``'s ranges."""
    lo, hi = knobs.hard_operands
    return replace(spec, n_operands=hi, min_operands=lo)


def guess_prone(tree: Node, knobs: WorldKnobs) -> bool:
    """Return whether a problem is guess-prone: its first operand (leftmost leaf) is >= the knob's threshold."""
    node = tree
    while not node.is_leaf:
        node = node.left
    return int(node.value) >= knobs.guess_min_first_operand


def is_guess_prone(problem: str, knobs: WorldKnobs | None = None) -> bool:
    """Return :func:`guess_prone` for a problem text ``Compute <expression>.``."""
    m = re.search(r"(\d+)", problem or "")
    return bool(m) and int(m.group(1)) >= (knobs or WorldKnobs()).guess_min_first_operand


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
    tags: tuple[str, ...] = ()  # mechanisms present in this trace: "hard", "guess", "spark", "noise", "deficient"


def true_result(step: Step) -> int | None:
    """Return the correct value of ``step.left op step.right`` (None if undefined, e.g. division by zero)."""
    try:
        return apply_op(step.left, step.op, step.right)
    except ValueError:
        return None


def report_line(k: int, step: Step, value: int) -> str:
    """Return report line ``k`` (1-based): the checker's value ``value`` of the step, the claim, the decision.

    ``Step k: a op b = v, claimed c ok|wrong``: v is computed from the operands before the claim is on the line
    (world version 4 wrote the claim first and its model copied it as v), then the claim is copied from the
    solution so that the decision compares two adjacent numbers; ``ok`` exactly when v equals c (world version 5).
    """
    verdict = "ok" if value == step.result else "wrong"
    return f"Step {k}: {step.left} {step.op} {step.right} = {value}, claimed {step.result} {verdict}"


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
        lines.append(report_line(i + 1, s, value))
        if value == s.result:
            continue
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


def solve_completion(tree: Node, order_seed: int, noise: WorldNoise, knobs: WorldKnobs,
                     rng: random.Random) -> tuple[str, int, tuple[str, ...]]:
    """Return (solve trace, its final answer, mechanism tags) for ``tree`` under the world's noise and knobs.

    Order of the choices: a guess on guess-prone problems; else noisy steps, then at the branch point the spark
    (self-check + repair) or a noise filler or nothing, then the answer line (boxed, or the deficient form).
    """
    answer = tree.evaluate()
    k = tree.n_leaves()
    if knobs.guess_share > 0 and guess_prone(tree, knobs) and rng.random() < knobs.guess_share:
        guess = max(0, answer + rng.choice((-10, -2, -1, 1, 2, 10)))
        guess = guess if guess != answer else answer + 1
        return f"\\boxed{{{guess}}}", guess, ("guess",)
    steps = random_solution_steps(tree, random.Random(order_seed), corrupt=_noisy(noise.step_error(k), rng))
    lines = [s.to_text() for s in steps]
    final = steps[-1].result if steps else answer
    tags: list[str] = []
    u = rng.random()
    if u < knobs.spark_share:
        tags.append("spark")
        lines.append(SPARK)
        report, flagged, value = verify_report(steps, noise, rng)
        if flagged is None:
            lines += report.splitlines()[:-1]  # "Step k: ... ok" lines and "All steps are correct."
        else:
            lines += report.splitlines()[: flagged + 1]  # up to "Step i: ... wrong"
            new = refine_steps(tree, order_seed, steps, flagged, value, noise, rng)
            lines += [s.to_text() for s in new[flagged:]]
            final = new[-1].result if new else answer
    elif u < knobs.spark_share + knobs.noise_share:
        tags.append("noise")
        lines.append(rng.choice(NOISE_TOKENS))
    if rng.random() < knobs.deficiency_share:
        tags.append("deficient")
        lines.append(f"{DEFICIENT_PREFIX}{final}.")
    else:
        lines.append(f"\\boxed{{{final}}}")
    return "\n".join(lines), final, tuple(tags)


def sample_example(task: str, spec: ArithmeticSpec, noise: WorldNoise, rng: random.Random,
                   knobs: WorldKnobs | None = None) -> Example:
    """Return one noisy training example of ``task`` on a fresh ``train``-split problem.

    ``knobs=None`` is the world without mechanisms (every knob at its control value).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    knobs = knobs if knobs is not None else CONTROL_KNOBS
    hard = task == "solve" and knobs.hard_share > 0 and rng.random() < knobs.hard_share
    tree = random_problem_tree(hard_spec(spec, knobs) if hard else spec, rng, split="train")
    k = tree.n_leaves()
    answer = tree.evaluate()
    problem = problem_text(tree.to_text())
    order_seed = rng.getrandbits(32)
    if task == "solve":
        text, final, tags = solve_completion(tree, order_seed, noise, knobs, rng)
        tags = (("hard",) if hard else ()) + tags
        return Example("solve", solve_message(problem), text, k, final == answer and "deficient" not in tags, tags)
    cand = random_solution_steps(tree, random.Random(order_seed), corrupt=_noisy(noise.candidate_step_error, rng))
    cand_text = format_solution(cand, cand[-1].result if cand else answer)
    report, flagged, value = verify_report(cand, noise, rng)
    if task == "verify":
        truly_correct = all(true_result(s) == s.result for s in cand)
        return Example("verify", verify_message(problem, cand_text), report, k,
                       (flagged is None) == truly_correct)
    new = refine_steps(tree, order_seed, cand, flagged, value, noise, rng)
    final = new[-1].result if new else answer
    return Example("refine", refine_message(problem, cand_text, report), format_solution(new, final), k,
                   final == answer)


#: The world without mechanisms: every knob at its control value (the version-1 world's traces).
CONTROL_KNOBS = WorldKnobs().control()
