"""Deep Self-Evolving Reasoning (DSER): the verify-then-refine loop and its two-state Markov chain.

Liu, Zheng, Wen et al., "Deep Self-Evolving Reasoning", arXiv 2510.17498 (2025); spec ``shared/specs/dser.md``.
The paper has no public code and unpublished prompts: ours live in :data:`PROMPTS`, in one place.

Layout: chain mathematics (exact) → estimators → simulation and voting → the loop runner over a backend.
States are booleans, ``True`` = C (current solution correct), ``False`` = I; a chain of ``n_iterations``
refinements has ``n_iterations + 1`` states, s(0) … s(T).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from workbook.metrics import Estimate

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------------------
# The two-state chain (spec "The Markov model")


def stationary_accuracy(p_ic, p_ci):
    """Return π_C = p_IC / (p_IC + p_CI), the long-run probability of a correct solution.

    Spec dser.md "The Markov model". Vectorized; when p_IC = p_CI = 0 the chain never moves and π_C is
    undefined (nan).
    """
    p_ic, p_ci = np.asarray(p_ic, dtype=float), np.asarray(p_ci, dtype=float)
    _check_prob(p_ic, "p_ic"), _check_prob(p_ci, "p_ci")
    total = p_ic + p_ci
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, p_ic / np.where(total > 0, total, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def transient_accuracy(p0, p_ic, p_ci, n):
    """Return P_n(C) = π_C + (P_0(C) − π_C)(1 − p_IC − p_CI)^n, the accuracy after n refinements.

    Spec dser.md "The Markov model". Broadcasts over arrays: e.g. per-problem rates of shape (problems, 1)
    against iterations n of shape (iterations,) give shape (problems, iterations). A frozen chain
    (p_IC = p_CI = 0) keeps P_0.
    """
    p0, p_ic, p_ci = (np.asarray(a, dtype=float) for a in (p0, p_ic, p_ci))
    n = np.asarray(n)
    _check_prob(p0, "p0")
    if np.any(n < 0):
        raise ValueError("n (number of refinements) must be >= 0")
    total = p_ic + p_ci
    pi_c = stationary_accuracy(p_ic, p_ci)
    out = np.where(total > 0, np.nan_to_num(pi_c) + (p0 - np.nan_to_num(pi_c)) * (1.0 - total) ** n,
                   p0 * np.ones_like(total * n, dtype=float))
    return float(out) if out.ndim == 0 else out


def transition_matrix(p_ic: float, p_ci: float) -> np.ndarray:
    """Return P = [[1−p_CI, p_CI], [p_IC, 1−p_IC]] with state order (C, I). Spec dser.md "The Markov model"."""
    _check_prob(np.asarray([p_ic, p_ci]), "rates")
    return np.array([[1.0 - p_ci, p_ci], [p_ic, 1.0 - p_ic]])


def _check_prob(x: np.ndarray, name: str) -> None:
    if np.any((x < 0) | (x > 1)):
        raise ValueError(f"{name} must lie in [0, 1], got {x}")


# --------------------------------------------------------------------------------------------------------------
# Estimators from observed chains


@dataclass(frozen=True)
class TransitionCounts:
    """Counts of moves between consecutive states; arrays of shape (problems,) or scalars when pooled."""

    n_ic: np.ndarray  # I → C ("improve")
    n_ii: np.ndarray
    n_ci: np.ndarray  # C → I ("degrade")
    n_cc: np.ndarray

    @property
    def visits_i(self) -> np.ndarray:
        return self.n_ic + self.n_ii

    @property
    def visits_c(self) -> np.ndarray:
        return self.n_ci + self.n_cc


def transition_counts(states, per_problem: bool = False) -> TransitionCounts:
    """Return counts of I→I, I→C, C→I, C→C moves along the last axis of ``states``.

    states: bool array (..., iterations + 1), e.g. (problems, chains, iterations + 1). With ``per_problem``
    the counts keep the first axis (problems,); otherwise everything is pooled. Visits to a state count the
    states from which a move is observed (all but the last), as in spec dser.md p̂_IC = #I→C / #visits to I.
    """
    s = np.asarray(states, dtype=bool)
    if s.shape[-1] < 2:
        raise ValueError("need at least two states (one refinement) along the last axis to count transitions")
    prev, nxt = s[..., :-1], s[..., 1:]
    axes = tuple(range(1, s.ndim)) if per_problem else None
    if per_problem and s.ndim < 2:
        raise ValueError("per_problem=True needs states of shape (problems, ..., iterations + 1)")

    def count(mask):
        return np.sum(mask, axis=axes).astype(int)

    return TransitionCounts(n_ic=count(~prev & nxt), n_ii=count(~prev & ~nxt), n_ci=count(prev & ~nxt),
                            n_cc=count(prev & nxt))


def wilson_interval(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson score interval (lo, hi) for k successes in n trials; (0, 1) where n = 0."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    safe_n = np.where(n > 0, n, 1.0)
    p = k / safe_n
    denom = 1 + z**2 / safe_n
    centre = (p + z**2 / (2 * safe_n)) / denom
    half = z * np.sqrt(p * (1 - p) / safe_n + z**2 / (4 * safe_n**2)) / denom
    lo, hi = np.where(n > 0, np.clip(centre - half, 0, 1), 0.0), np.where(n > 0, np.clip(centre + half, 0, 1), 1.0)
    return lo, hi


def estimate_rates(counts: TransitionCounts, confidence: float = 0.95) -> tuple[Estimate, Estimate]:
    """Return pooled (p̂_IC, p̂_CI) with Wilson 95% intervals from transition counts.

    Spec dser.md "Estimation per problem". The interval treats moves as independent trials; moves within a
    chain and within a problem are correlated, so prefer :func:`bootstrap_rates` when several problems exist.
    ``Estimate.n`` is the number of observed moves out of I (resp. C). Unvisited state → value nan, [0, 1].
    """
    out = []
    for k, n, what in ((counts.n_ic, counts.visits_i, "p_IC"), (counts.n_ci, counts.visits_c, "p_CI")):
        k, n = int(np.sum(k)), int(np.sum(n))
        lo, hi = wilson_interval(k, n, confidence)
        out.append(Estimate(value=k / n if n else float("nan"), lo=float(lo), hi=float(hi), n=n,
                            what=f"{what} (Wilson, moves pooled)"))
    return out[0], out[1]


def per_problem_rates(states) -> tuple[np.ndarray, np.ndarray]:
    """Return per-problem p̂_IC, p̂_CI of shape (problems,) (nan where the state was never visited).

    states: bool (problems, chains, iterations + 1) or (problems, iterations + 1).
    """
    c = transition_counts(states, per_problem=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(c.visits_i > 0, c.n_ic / np.maximum(c.visits_i, 1), np.nan),
                np.where(c.visits_c > 0, c.n_ci / np.maximum(c.visits_c, 1), np.nan))


def shrunk_rates(counts: TransitionCounts, prior_strength: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Return per-problem (p̃_IC, p̃_CI), each shrunk toward the pooled rate: (k + s·p_pool) / (visits + s).

    counts: per-problem TransitionCounts (shape (problems,)). A one-step diagnostic visits each state only a few
    times per problem, so raw p̂ are 0/1-heavy; a Beta prior centred on the pooled rate with ``prior_strength``
    pseudo-moves (empirical Bayes) keeps unvisited problems at the pooled rate. Our choice, not the paper's.
    """
    if prior_strength < 0:
        raise ValueError("prior_strength must be >= 0")
    out = []
    for k, v in ((counts.n_ic, counts.visits_i), (counts.n_ci, counts.visits_c)):
        pool = k.sum() / v.sum() if v.sum() else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(v + prior_strength > 0, (k + prior_strength * pool) / (v + prior_strength), pool))
    return out[0], out[1]


def bootstrap_rates(states, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[Estimate, Estimate]:
    """Return pooled (p̂_IC, p̂_CI) with 95% CIs from a bootstrap over problems (task bootstrap).

    states: bool (problems, chains, iterations + 1) or (problems, iterations + 1). Resampling problems keeps
    the correlation of moves within a problem honest. ``Estimate.n`` is the number of problems.
    """
    c = transition_counts(states, per_problem=True)
    n_problems = len(c.n_ic)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_problems, size=(n_boot, n_problems))
    out = []
    for k, v, what in ((c.n_ic, c.visits_i, "p_IC"), (c.n_ci, c.visits_c, "p_CI")):
        value = k.sum() / v.sum() if v.sum() else float("nan")
        kb, vb = k[idx].sum(1), v[idx].sum(1)
        boots = kb[vb > 0] / vb[vb > 0]
        a = (1 - confidence) / 2
        lo, hi = (np.quantile(boots, [a, 1 - a]) if len(boots) else (0.0, 1.0))
        out.append(Estimate(value=float(value), lo=float(lo), hi=float(hi), n=n_problems,
                            what=f"{what} (bootstrap over problems)"))
    return out[0], out[1]


# --------------------------------------------------------------------------------------------------------------
# Simulation and voting (spec "What is exact without a GPU", "Voting")


@dataclass(frozen=True)
class BetaPrior:
    """Beta priors for per-problem rates: p_IC ~ Beta(a_ic, b_ic), p_CI ~ Beta(a_ci, b_ci), P_0 ~ Beta(a_p0, b_p0)."""

    a_ic: float = 1.0
    b_ic: float = 9.0
    a_ci: float = 0.8
    b_ci: float = 9.2
    a_p0: float = 0.5
    b_p0: float = 9.5

    def sample(self, n_problems: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (p_ic, p_ci, p0), each of shape (n_problems,)."""
        rng = np.random.default_rng(seed)
        return (rng.beta(self.a_ic, self.b_ic, n_problems), rng.beta(self.a_ci, self.b_ci, n_problems),
                rng.beta(self.a_p0, self.b_p0, n_problems))


def simulate_chains(p_ic, p_ci, p0, n_chains: int, n_iterations: int, seed: int) -> np.ndarray:
    """Return simulated states, bool of shape (problems, n_chains, n_iterations + 1).

    Each problem has its own (p_IC, p_CI, P_0) (arrays of shape (problems,) or scalars); chains of a problem
    are independent given the rates.
    """
    p_ic, p_ci, p0 = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, dtype=float)) for a in (p_ic, p_ci, p0)))
    for a, name in ((p_ic, "p_ic"), (p_ci, "p_ci"), (p0, "p0")):
        _check_prob(a, name)
    if n_chains < 1 or n_iterations < 0:
        raise ValueError("n_chains must be >= 1 and n_iterations >= 0")
    rng = np.random.default_rng(seed)
    shape = (len(p_ic), n_chains)
    states = np.empty(shape + (n_iterations + 1,), dtype=bool)
    states[..., 0] = rng.random(shape) < p0[:, None]
    u = rng.random(shape + (n_iterations,))
    for t in range(n_iterations):
        cur = states[..., t]
        # C stays C unless it degrades; I becomes C if it improves.
        states[..., t + 1] = np.where(cur, u[..., t] >= p_ci[:, None], u[..., t] < p_ic[:, None])
    return states


def simulated_vote_correct(states, window: int = 10, n_wrong_answers: int = 1, across_chains: bool = True,
                           seed: int = 0) -> np.ndarray:
    """Return the probability that a majority vote is correct, per problem (and per chain if not across chains).

    states: bool (problems, chains, iterations + 1). Each incorrect state carries one of ``n_wrong_answers``
    wrong answers, drawn uniformly (1 = the worst case, all wrong answers agree: the binary proxy of spec
    dser.md "Voting"). The vote pools the last ``window`` states of every chain (``across_chains``) or of
    each chain alone. Ties between the correct answer and the top wrong answer count 1/2 (random tie-break).
    Returns shape (problems,) or (problems, chains).
    """
    s = np.asarray(states, dtype=bool)[..., -window:]
    rng = np.random.default_rng(seed)
    wrong = rng.integers(0, n_wrong_answers, size=s.shape)
    axis = (1, 2) if across_chains else (2,)
    n_correct = s.sum(axis=axis)
    wrong_counts = np.stack([((~s) & (wrong == k)).sum(axis=axis) for k in range(n_wrong_answers)], axis=-1)
    top_wrong = wrong_counts.max(axis=-1)
    n_ties = (wrong_counts == top_wrong[..., None]).sum(axis=-1)
    # Win outright, or tie with the top wrong answer(s): the tie-break picks correct with 1/(ties + 1).
    return np.where(n_correct > top_wrong, 1.0, np.where((n_correct == top_wrong) & (n_correct > 0),
                                                         1.0 / (n_ties + 1), 0.0))


def binomial_majority_accuracy(p: float, n_voters: int, tie_credit: float = 0.5) -> float:
    """Return P(more than half of n independent binary voters are correct) + tie_credit · P(exact tie).

    Spec dser.md "Voting": the binary proxy; its numbers (p = 0.556 → 0.68 for 32 voters, 0.88 for 128) count
    ties as lost (``tie_credit=0``); a random tie-break gives ``tie_credit=0.5``.
    """
    k = np.arange(n_voters + 1)
    pmf = stats.binom.pmf(k, n_voters, p)
    return float(pmf[2 * k > n_voters].sum() + tie_credit * pmf[2 * k == n_voters].sum())


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """Return the most frequent non-None answer; ties broken by first appearance (deterministic). None if none."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)


def vote_last(chain_answers: Sequence[str | None], window: int = 10) -> str | None:
    """Return the majority answer over the last ``window`` iterations of one chain (Figure 1 of the paper)."""
    return majority_vote(list(chain_answers)[-window:])


def vote_across_chains(answers: Sequence[Sequence[str | None]], window: int = 10, pool: bool = True) -> str | None:
    """Return the vote over chains: pooled last-``window`` answers of all chains, or (``pool=False``) a vote of votes.

    answers: [chain][iteration]. Which of the two the paper used is unconfirmed (spec dser.md "Voting").
    """
    if pool:
        return majority_vote([a for chain in answers for a in list(chain)[-window:]])
    return majority_vote([vote_last(chain, window) for chain in answers])


# --------------------------------------------------------------------------------------------------------------
# The loop (spec "The loop"): s(0) = solve, v(n) = verify(s(n)), s(n+1) = refine(s(n), v(n)).

#: Our prompts for real models (the paper's are unpublished); shown verbatim in the notebook.
PROMPTS: dict[str, str] = {
    "solve": "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
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
    """Prompt builders: solve(problem) → str, verify(problem, solution) → str, refine(problem, solution, report) → str."""

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
             initial_solutions: Sequence[Sequence[str]] | None = None) -> DSERRun:
    """Return the states and texts of ``config.n_chains`` DSER chains per problem, run in lockstep.

    Spec dser.md "The loop". ``problems``: workbook.data.Problem records (``problem``, ``answer``,
    ``problem_id``). ``backend.generate(prompts, n, temperature, top_p, max_new_tokens, seed)`` returns
    [prompt][sample] completions with ``.text`` and ``.token_ids``; every iteration is two batched calls
    (verify all chains, refine all chains). ``grader.grade(completion, gold)`` grades every s(n).
    ``initial_solutions`` ([problem][chain]) replaces the solve step, e.g. for the one-step diagnostic.
    """
    if extract_answer is None:
        from workbook.grading import extract_boxed as extract_answer  # GRADING owns answer extraction
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
        gen = call([prompts.solve(p.problem) for p in problems], m, config.max_new_tokens, config.seed)
        current = [[config.carry(c.text) for c in row] for row in gen]
    else:
        current = [[str(s) for s in row] for row in initial_solutions]
    solutions = [[[s] for s in row] for row in current]
    reports: list[list[list[str]]] = [[[] for _ in range(m)] for _ in problems]
    pairs = [(i, c) for i in range(len(problems)) for c in range(m)]
    for it in range(t_max):
        seed = config.seed + 1 + 2 * it
        ver = call([prompts.verify(problems[i].problem, current[i][c]) for i, c in pairs], 1,
                   config.max_new_tokens_verify, seed)
        rep = [config.carry(row[0].text) for row in ver]
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
