"""DSER's verify-then-refine loop over a generation backend, and our prompts for it (the paper's are unpublished).

Liu, Zheng, Wen et al., "Deep Self-Evolving Reasoning", arXiv 2510.17498 (2025): s(0) = R(q),
v(n) = R([q; s(n); p_v]), s(n+1) = R([q; s(n); v(n); p_r]); only (problem, current solution, report) carry over,
so the process is a Markov chain over solutions (``workbook.papers.dser.theory``). No public code exists.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from workbook.generation import MATH_INSTRUCTION
from workbook.papers.dser.theory import vote_across_chains, vote_last

logger = logging.getLogger(__name__)

#: Our prompts for real models (the paper's are unpublished); shown verbatim in the notebook.
PROMPTS: dict[str, str] = {
    "solve": "{problem}\n\n" + MATH_INSTRUCTION.replace("{}", "{{}}"),  # a str.format template
    "verify": (
        "You are checking a solution to a math problem. Read it step by step and look for errors in "
        "calculation, logic or the final answer. Do not solve the problem from scratch unless needed.\n\n"
        "### Problem ###\n{problem}\n\n### Solution ###\n{solution}\n\n"
        "Write a short report listing every error you find (or stating that you found none). End with "
        "\\boxed{{CORRECT}} if the final answer is right and \\boxed{{INCORRECT}} otherwise."),
    "refine": (
        "### Problem ###\n{problem}\n\n### Current solution ###\n{solution}\n\n### Verification report ###\n"
        "{report}\n\nThe report may itself be wrong. If you agree with an item, fix the solution; if not, keep "
        "what is right and explain briefly. Then write a complete, improved solution and put your final answer "
        "within \\boxed{{}}."),
}

_THINK_END = re.compile(r"</think>", re.IGNORECASE)


def strip_reasoning(text: str, max_chars: int = 8000) -> str:
    """Return the part of a completion after its last ``</think>``, else its last ``max_chars`` characters.

    Reasoning models (DeepSeek-R1 family) write a long trace then a summary; only the summary is carried
    into the next prompt, which keeps the chain Markov over solutions and the prompts short. A trace cut off
    by the token limit has no summary: its tail (where the latest answer is) is carried instead.
    """
    parts = _THINK_END.split(text)
    out = parts[-1].strip() if len(parts) > 1 else text.strip()
    return out if len(out) <= max_chars else out[-max_chars:]


@dataclass(frozen=True)
class DSERPrompts:
    """Prompt builders: solve(problem), verify(problem, solution), refine(problem, solution, report), each → str."""

    solve: Callable[[str], str]
    verify: Callable[[str, str], str]
    refine: Callable[[str, str, str], str]


def chat_prompts(tokenizer=None, templates: dict[str, str] | None = None, system: str | None = None) -> DSERPrompts:
    """Return prompt builders from :data:`PROMPTS` (or ``templates``), wrapped in the tokenizer's chat template."""
    t = dict(PROMPTS if templates is None else templates)

    def wrap(user: str) -> str:
        if tokenizer is None or getattr(tokenizer, "chat_template", None) is None:
            return user
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return DSERPrompts(
        solve=lambda q: wrap(t["solve"].format(problem=q)),
        verify=lambda q, s: wrap(t["verify"].format(problem=q, solution=s)),
        refine=lambda q, s, r: wrap(t["refine"].format(problem=q, solution=s, report=r)))


@dataclass
class DSERConfig:
    """Settings of one DSER run; the paper's chain counts, temperature and token limits are unconfirmed."""

    n_chains: int = 4
    n_iterations: int = 10
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256          # solve and refine
    max_new_tokens_verify: int = 256
    seed: int = 0
    carry: Callable[[str], str] = strip_reasoning  # what of a completion is carried to the next prompt

    def __post_init__(self):
        if self.n_chains < 1 or self.n_iterations < 0:
            raise ValueError("n_chains must be >= 1 and n_iterations >= 0")
        if self.max_new_tokens < 1 or self.max_new_tokens_verify < 1:
            raise ValueError("max_new_tokens must be >= 1")


@dataclass
class DSERRun:
    """Everything a run produced. Lists are [problem][chain][iteration]; arrays (problems, chains, iterations + 1)."""

    problem_ids: list[str]
    solutions: list[list[list[str]]]
    reports: list[list[list[str]]]
    answers: list[list[list[str | None]]]
    correct: np.ndarray
    n_generated_tokens: int = 0
    grader_name: str = ""
    extra: dict = field(default_factory=dict)

    def vote_correct(self, window: int = 10, across_chains: bool = True, pool: bool = True,
                     n_chains: int | None = None) -> np.ndarray:
        """Return 0/1 correctness of the vote: (problems,) across chains, else (problems, chains) per chain.

        ``n_chains`` keeps only the first chains of every problem (vote accuracy vs number of chains).
        """
        out = []
        for p, chains in enumerate(self.answers):
            chains = chains[:n_chains] if n_chains else chains
            lookup = {a: bool(self.correct[p, c, t]) for c, ch in enumerate(chains) for t, a in enumerate(ch)
                      if a is not None}
            if across_chains:
                v = vote_across_chains(chains, window, pool)
                out.append(lookup.get(v, False) if v is not None else False)
            else:
                out.append([lookup.get(vote_last(ch, window), False) if vote_last(ch, window) else False
                            for ch in chains])
        return np.asarray(out, dtype=float)


def run_dser(problems: Sequence, backend, prompts: DSERPrompts, grader, config: DSERConfig,
             extract_answer: Callable[[str], str | None] | None = None,
             initial_solutions: Sequence[Sequence[str]] | None = None,
             verify_fn: Callable[[Sequence, Sequence[str]], list[str]] | None = None) -> DSERRun:
    """Return the states and texts of ``config.n_chains`` DSER chains per problem, run in lockstep.

    Liu et al. 2025, the DSER loop. ``problems``: workbook.data.Problem records (``problem``, ``answer``,
    ``problem_id``). ``backend.generate(prompts, n, temperature, top_p, max_new_tokens, seed)`` returns
    [prompt][sample] completions with ``.text`` and ``.token_ids``; every iteration is two batched calls
    (verify all chains, refine all chains). ``grader.grade(completion, gold)`` grades every s(n).
    ``initial_solutions`` ([problem][chain]) replaces the solve step, e.g. for the one-step diagnostic.
    ``verify_fn(problems, solutions) -> reports`` replaces the model's verification (e.g. the noisy oracle of
    ``workbook.papers.dser.sweep``: the verifier-quality axis); its reports cost no generated tokens.
    """
    if extract_answer is None:
        from workbook.grading import extract_boxed as extract_answer
    extract = extract_answer
    problems = list(problems)
    if not problems:
        raise ValueError("no problems given")
    m, t_max = config.n_chains, config.n_iterations
    if initial_solutions is not None and (len(initial_solutions) != len(problems)
                                          or any(len(s) != m for s in initial_solutions)):
        raise ValueError("initial_solutions must be [problem][chain] with n_chains solutions per problem")
    n_tokens = 0

    def call(prompt_list, n, max_new, seed):
        nonlocal n_tokens
        out = backend.generate(prompt_list, n=n, temperature=config.temperature, top_p=config.top_p,
                               max_new_tokens=max_new, seed=seed)
        n_tokens += sum(len(c.token_ids) for row in out for c in row)
        return out

    if initial_solutions is None:
        from workbook.evaluation import sample

        first = sample(backend, problems, m, prompt_fn=lambda p: prompts.solve(p.problem), seed=config.seed,
                       temperature=config.temperature, top_p=config.top_p, max_new_tokens=config.max_new_tokens)
        n_tokens += int(first["n_tokens"].sum())
        texts = first["text"].tolist()
        current = [[config.carry(t) for t in texts[i * m:(i + 1) * m]] for i in range(len(problems))]
    else:
        current = [[str(s) for s in row] for row in initial_solutions]
    solutions = [[[s] for s in row] for row in current]
    reports: list[list[list[str]]] = [[[] for _ in range(m)] for _ in problems]
    pairs = [(i, c) for i in range(len(problems)) for c in range(m)]
    for it in range(t_max):
        seed = config.seed + 1 + 2 * it
        if verify_fn is None:
            ver = call([prompts.verify(problems[i].problem, current[i][c]) for i, c in pairs], 1,
                       config.max_new_tokens_verify, seed)
            rep = [config.carry(row[0].text) for row in ver]
        else:
            rep = [str(r) for r in verify_fn([problems[i] for i, _ in pairs], [current[i][c] for i, c in pairs])]
        ref = call([prompts.refine(problems[i].problem, current[i][c], r) for (i, c), r in zip(pairs, rep)], 1,
                   config.max_new_tokens, seed + 1)
        for (i, c), r, row in zip(pairs, rep, ref):
            current[i][c] = config.carry(row[0].text)
            solutions[i][c].append(current[i][c])
            reports[i][c].append(r)
        logger.info("DSER iteration %d/%d done (%d generated tokens so far)", it + 1, t_max, n_tokens)
    flat = [s for i, p in enumerate(problems) for c in range(m) for s in solutions[i][c]]
    golds = [p.answer for i, p in enumerate(problems) for c in range(m) for _ in solutions[i][c]]
    correct = np.asarray(grader.grade_many(flat, golds), dtype=bool).reshape(len(problems), m, t_max + 1)
    answers = [[[extract(s) for s in solutions[i][c]] for c in range(m)] for i in range(len(problems))]
    return DSERRun(problem_ids=[p.problem_id for p in problems], solutions=solutions, reports=reports,
                   answers=answers, correct=correct, n_generated_tokens=n_tokens,
                   grader_name=getattr(grader, "name", type(grader).__name__))


def estimate_run_tokens(n_problems: int, n_chains: int, n_iterations: int, tokens_solve: int,
                        tokens_verify: int, tokens_refine: int | None = None) -> int:
    """Return an upper bound on generated tokens of a run: solve once, then verify + refine per iteration."""
    tokens_refine = tokens_solve if tokens_refine is None else tokens_refine
    return n_problems * n_chains * (tokens_solve + n_iterations * (tokens_verify + tokens_refine))
