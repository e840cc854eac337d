"""Base behaviour of the toy reasoner: solve accuracy, verification, one refinement step.

The one-step transition estimates p_IC = P(I→C), p_CI = P(C→I) are DSER's Markov model (Sec. 3). Every function
takes a generation ``backend`` with the ``workbook.generation`` interface (``generate(prompts, n, temperature,
top_p, max_new_tokens, seed)`` returning ``[prompt][sample]`` completions with ``.text`` and ``.logprobs``).
"""

from __future__ import annotations

import re

import numpy as np

from workbook.metrics import pass_at_k
from workbook.toy.world import VERDICTS, parse_verdict, refine_prompt, solve_prompt, verify_prompt

SOLVE_MAX_NEW_TOKENS = 96
VERIFY_MAX_NEW_TOKENS = 192
_BOXED_RE = re.compile(r"\\boxed\{([^{}]*)\}")


def exact_grade(completion: str, gold: str) -> bool:
    """Return whether the last ``\\boxed{}`` of ``completion`` equals ``gold`` as an integer string (never raises)."""
    found = _BOXED_RE.findall(completion or "")
    return bool(found) and found[-1].strip() == str(gold).strip()


def accuracy_by_difficulty(correct: np.ndarray, difficulty) -> dict[int, float]:
    """Return mean per-sample accuracy for each difficulty level (operand count)."""
    difficulty = np.asarray(difficulty)
    return {int(d): float(correct[difficulty == d].mean()) for d in sorted(set(difficulty.tolist()))}


def verify_solutions(backend, tokenizer, problems, solutions: list[str], temperature: float = 1.0, seed: int = 0,
                     max_new_tokens: int = VERIFY_MAX_NEW_TOKENS) -> list[str]:
    """Return one verification report per (problem, solution) pair, sampled at ``temperature``."""
    prompts = [verify_prompt(tokenizer, p.problem, s) for p, s in zip(problems, solutions)]
    return [row[0].text for row in backend.generate(prompts, n=1, temperature=temperature, top_p=1.0,
                                                    max_new_tokens=max_new_tokens, seed=seed)]


def refine_solutions(backend, tokenizer, problems, solutions: list[str], reports: list[str],
                     temperature: float = 1.0, seed: int = 0, max_new_tokens: int = SOLVE_MAX_NEW_TOKENS) -> list[str]:
    """Return one refined solution per (problem, solution, report) triple (DSER's s(n+1))."""
    prompts = [refine_prompt(tokenizer, p.problem, s, r) for p, s, r in zip(problems, solutions, reports)]
    return [row[0].text for row in backend.generate(prompts, n=1, temperature=temperature, top_p=1.0,
                                                    max_new_tokens=max_new_tokens, seed=seed)]


def confusion_matrix(truth: np.ndarray, verdicts: list[str | None]) -> np.ndarray:
    """Return counts, shape (2, 3): rows truly correct / incorrect; columns verdict correct / incorrect / none."""
    cols = {VERDICTS[0]: 0, VERDICTS[1]: 1}
    m = np.zeros((2, 3), dtype=int)
    for t, v in zip(np.asarray(truth, dtype=bool), verdicts):
        m[0 if t else 1, cols.get(v, 2)] += 1
    return m


def verification_metrics(truth: np.ndarray, verdicts: list[str | None]) -> dict[str, float]:
    """Return accuracy, balanced accuracy, true-positive rate (says correct | correct), true-negative rate."""
    m = confusion_matrix(truth, verdicts)
    # a rate over an empty class is undefined (None), not 0: e.g. a model that never solves anything
    tpr = float(m[0, 0] / m[0].sum()) if m[0].sum() else None
    tnr = float(m[1, 1] / m[1].sum()) if m[1].sum() else None
    balanced = (tpr + tnr) / 2 if tpr is not None and tnr is not None else None
    return {"verify_accuracy": float((m[0, 0] + m[1, 1]) / max(1, m.sum())),
            "verify_balanced_accuracy": balanced, "verify_tpr": tpr, "verify_tnr": tnr,
            "verify_no_verdict": float(m[:, 2].sum() / max(1, m.sum())), "verify_n": int(m.sum()),
            "verify_frac_correct": float(m[0].sum() / max(1, m.sum()))}


def transition_matrix(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """Return one-step transition estimates p_IC = #(I→C)/#I and p_CI = #(C→I)/#C (DSER spec, "Markov model")."""
    before, after = np.asarray(before, dtype=bool), np.asarray(after, dtype=bool)
    n_c, n_i = int(before.sum()), int((~before).sum())
    return {"p_IC": float((~before & after).sum() / max(1, n_i)), "p_CI": float((before & ~after).sum() / max(1, n_c)),
            "n_C": n_c, "n_I": n_i}


def sequence_logprob(completions: list[list]) -> np.ndarray:
    """Return the summed raw log-probability of each completion, shape (problems, samples)."""
    return np.array([[float(np.sum(c.logprobs)) for c in row] for row in completions])


def evaluate_base(backend, tokenizer, problems, n: int = 64, seed: int = 0, temperature: float = 1.0,
                  n_verify: int = 4, grade=exact_grade) -> dict:
    """Return the base behaviour of the toy model on ``problems`` (its documented targets, ``card.TARGETS``).

    Samples ``n`` solutions per problem (``workbook.evaluation.sample_and_grade``); verifies the first ``n_verify`` of each and refines them with the model's
    own report (one DSER step) and, as a control, with an exact (oracle) report. Returns raw arrays
    (``correct`` (P, n), ``logprob`` (P, n), ``verify_truth``, ``verdicts``, ``refined_correct`` ...) and
    scalar ``metrics``.
    """
    from workbook.evaluation import by_problem, correct_matrix, sample_and_grade

    frame = sample_and_grade(backend, problems, n, grader=grade, prompt_fn=lambda p: solve_prompt(tokenizer, p.problem),
                             seed=seed, temperature=temperature, top_p=1.0, max_new_tokens=SOLVE_MAX_NEW_TOKENS)
    completions = by_problem(frame)  # rows with .text and .logprobs, [problem][sample]
    correct = correct_matrix(frame)
    difficulty = np.array([p.metadata["n_operands"] for p in problems])
    logprob = sequence_logprob(completions)
    # one verification + refinement step on the first n_verify samples of every problem
    pairs = [(i, j) for i in range(len(problems)) for j in range(min(n_verify, n))]
    v_problems = [problems[i] for i, _ in pairs]
    v_solutions = [completions[i][j].text for i, j in pairs]
    v_truth = np.array([correct[i, j] for i, j in pairs])
    reports = verify_solutions(backend, tokenizer, v_problems, v_solutions, temperature, seed + 1)
    verdicts = [parse_verdict(r) for r in reports]
    refined = refine_solutions(backend, tokenizer, v_problems, v_solutions, reports, temperature, seed + 2)
    refined_correct = np.array([grade(t, p.answer) for t, p in zip(refined, v_problems)])
    oracle_reports = [oracle_report(s) for s in v_solutions]
    refined_oracle = refine_solutions(backend, tokenizer, v_problems, v_solutions, oracle_reports, temperature,
                                      seed + 3)
    refined_oracle_correct = np.array([grade(t, p.answer) for t, p in zip(refined_oracle, v_problems)])

    n_correct = correct.sum(1)
    metrics = {"n_problems": len(problems), "n": n, "temperature": temperature,
               "pass@1": float(correct.mean()), "pass@8": float(pass_at_k(n, n_correct, 8).mean()) if n >= 8 else None,
               "pass@64": float(pass_at_k(n, n_correct, 64).mean()) if n >= 64 else None,
               "distinct_completions_per_problem": float(np.mean([len({c.text for c in row}) for row in completions])),
               "boxed_rate": float(np.mean([[_BOXED_RE.search(c.text) is not None for c in row] for row in completions]))}
    for d, acc in accuracy_by_difficulty(correct, difficulty).items():
        metrics[f"pass@1_ops{d}"] = acc
    metrics.update(verification_metrics(v_truth, verdicts))
    own = transition_matrix(v_truth, refined_correct)
    oracle = transition_matrix(v_truth, refined_oracle_correct)
    metrics.update({"refine_p_IC": own["p_IC"], "refine_p_CI": own["p_CI"],
                    "refine_oracle_p_IC": oracle["p_IC"], "refine_oracle_p_CI": oracle["p_CI"]})
    metrics["logprob_correct_mean"] = float(logprob[correct].mean()) if correct.any() else None
    metrics["logprob_incorrect_mean"] = float(logprob[~correct].mean()) if (~correct).any() else None
    return {"metrics": metrics, "completions": completions, "correct": correct, "difficulty": difficulty,
            "logprob": logprob, "verify_pairs": pairs, "verify_truth": v_truth, "reports": reports,
            "verdicts": verdicts, "refined": refined, "refined_correct": refined_correct,
            "refined_oracle_correct": refined_oracle_correct}


_STEP_RE = re.compile(r"^\s*(-?\d+)\s*([-+*/])\s*(-?\d+)\s*=\s*(-?\d+)\s*$")


def parse_solution_steps(solution: str):
    """Return the ``Step`` list of a solution text (lines that are not ``a op b = c`` are skipped)."""
    from workbook.data.synthetic import Step

    steps = []
    for line in (solution or "").splitlines():
        m = _STEP_RE.match(line)
        if m:
            steps.append(Step(int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))))
    return steps


def has_wrong_step(solution: str) -> bool:
    """Return whether a solution text has an ``a op b = c`` line whose ``c`` is not ``a op b`` (``world.true_result``):
    a toy answer graded correct despite such a step is a coincidence of errors, not a solution path."""
    from workbook.toy.world import true_result

    return any(true_result(s) != s.result for s in parse_solution_steps(solution))


def oracle_report(solution: str) -> str:
    """Return the exact step-check report of a solution (a perfect verifier, for controls)."""
    import random

    from workbook.toy.world import verify_report

    return verify_report(parse_solution_steps(solution), None, random.Random(0))[0]


def noisy_oracle_report(solution: str, eps: float, rng) -> str:
    """Return the exact step-check report of ``solution`` with its verdict flipped with probability ``eps``.

    DSER's verifier-quality axis as a controlled rate (Sec. 3: the chain's fate depends on p_IC and p_CI, which
    the verifier's errors move): ``eps = 0`` is the oracle, ``eps = 0.5`` a coin. A flipped wrong solution gets
    every step "ok" and ``\\boxed{correct}``; a flipped right one gets a false alarm at a random step, with a
    plausible wrong checker value, that the refiner will act on. Checks steps only (a solution without steps is
    "correct" for the oracle).
    """
    from workbook.toy.world import check_rate, report_line, verify_report, wrong_value

    check_rate("eps", eps)
    steps = parse_solution_steps(solution)
    exact, flagged, _ = verify_report(steps, None, rng)
    if rng.random() >= eps:
        return exact
    if flagged is not None:
        lines = [report_line(i + 1, st, st.result) for i, st in enumerate(steps)]
        return "\n".join(lines + ["All steps are correct.", "\\boxed{correct}"])
    if not steps:
        return "\\boxed{incorrect}"
    k = rng.randrange(len(steps))
    lines = [report_line(i + 1, st, st.result) for i, st in enumerate(steps[:k])]
    st = steps[k]
    value = wrong_value(st.left, st.op, st.right, st.result, rng)
    lines += [report_line(k + 1, st, value), f"The first wrong step is step {k + 1}.", "\\boxed{incorrect}"]
    return "\n".join(lines)


def check_targets(metrics: dict) -> dict[str, tuple[str, bool]]:
    """Return, per documented target (``card.TARGETS``), (measured text, met) for the model card."""
    levels = sorted(int(k.split("ops")[1]) for k in metrics if k.startswith("pass@1_ops"))
    by_level = [metrics[f"pass@1_ops{d}"] for d in levels]
    p1, p64 = metrics.get("pass@1"), metrics.get("pass@64")
    acc, bal = metrics.get("verify_accuracy"), metrics.get("verify_balanced_accuracy")
    spread = (max(by_level) - min(by_level)) if by_level else 0.0
    return {
        "pass@1": (f"{p1:.3f} (by operands {', '.join(f'{d}: {a:.2f}' for d, a in zip(levels, by_level))})",
                   p1 is not None and 0.2 <= p1 <= 0.6 and spread >= 0.15),
        "pass@64": (f"{p64:.3f}" if p64 is not None else "not measured (n < 64)", p64 is not None and p64 >= 0.9),
        "verification accuracy": (f"{acc:.3f} (balanced {'—' if bal is None else f'{bal:.3f}'}; chance 0.5)",
                                  bal is not None and 0.6 <= bal <= 0.95),
        "refinement": (f"P(I->C) {metrics['refine_p_IC']:.3f}, P(C->I) {metrics['refine_p_CI']:.3f}",
                       metrics["refine_p_IC"] > 0 and metrics["refine_p_CI"] > 0),
    }
