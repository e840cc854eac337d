"""DSER's two-state Markov chain: exact accuracy, estimators of p_IC and p_CI, simulation and voting.

Liu, Zheng, Wen et al., "Deep Self-Evolving Reasoning", arXiv 2510.17498 (2025); the derivations and the
mapping from the paper to this code are in ``docs/papers/dser.md``. States are booleans, ``True`` = C (current
solution correct), ``False`` = I; a chain of ``n_iterations`` refinements has ``n_iterations + 1`` states,
s(0) … s(T). The paper has no public code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from workbook.metrics import Estimate, majority_vote, wilson_interval

# --------------------------------------------------------------------------------------------------------------
# The two-state chain (the paper's Markov-chain analysis)


def stationary_accuracy(p_ic, p_ci):
    """Return π_C = p_IC / (p_IC + p_CI), the long-run probability of a correct solution.

    Liu et al. 2025, the Markov-chain analysis. Vectorized; when p_IC = p_CI = 0 the chain never moves and π_C is
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

    Liu et al. 2025, the Markov-chain analysis. Broadcasts over arrays: e.g. per-problem rates of shape (problems, 1)
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
    """Return P = [[1−p_CI, p_CI], [p_IC, 1−p_IC]] with state order (C, I) (Liu et al. 2025)."""
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
    states from which a move is observed (all but the last), as in the paper's p̂_IC = #I→C / #visits to I.
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


def estimate_rates(counts: TransitionCounts, confidence: float = 0.95) -> tuple[Estimate, Estimate]:
    """Return pooled (p̂_IC, p̂_CI) with Wilson 95% intervals from transition counts.

    The paper's per-problem estimator, pooled. The interval treats moves as independent trials; moves within a
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
# Simulation and voting (Figure 1: majority vote over the last ten iterations of parallel chains)


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
    wrong answers, drawn uniformly (1 = the worst case, all wrong answers agree: the binary proxy of
    ``docs/papers/dser.md``). The vote pools the last ``window`` states of every chain (``across_chains``) or of
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

    The binary proxy of ``docs/papers/dser.md``; its numbers (p = 0.556 → 0.68 for 32 voters, 0.88 for 128) count
    ties as lost (``tie_credit=0``); a random tie-break gives ``tie_credit=0.5``.
    """
    k = np.arange(n_voters + 1)
    pmf = stats.binom.pmf(k, n_voters, p)
    return float(pmf[2 * k > n_voters].sum() + tie_credit * pmf[2 * k == n_voters].sum())


def vote_last(chain_answers: Sequence[str | None], window: int = 10) -> str | None:
    """Return the majority answer over the last ``window`` iterations of one chain (Figure 1 of the paper)."""
    return majority_vote(list(chain_answers)[-window:])


def vote_across_chains(answers: Sequence[Sequence[str | None]], window: int = 10, pool: bool = True) -> str | None:
    """Return the vote over chains: pooled last-``window`` answers of all chains, or (``pool=False``) a vote of votes.

    answers: [chain][iteration]. Which of the two the paper used is unconfirmed (Figure 1 says only "multiple chains").
    """
    if pool:
        return majority_vote([a for chain in answers for a in list(chain)[-window:]])
    return majority_vote([vote_last(chain, window) for chain in answers])


# --------------------------------------------------------------------------------------------------------------
# The one-step diagnostic (the paper's chain analysis: one step's rates determine every later iteration)


@dataclass
class OneStep:
    """The one-step diagnostic: pooled rates (Wilson and bootstrap CIs), shrunk per-problem rates, the prediction."""

    p_ic: Estimate
    p_ci: Estimate
    p_ic_boot: Estimate
    p_ci_boot: Estimate
    pp_ic: np.ndarray          # per problem, shrunk toward the pooled rate
    pp_ci: np.ndarray
    pi_c: float                # pooled stationary accuracy
    predicted: np.ndarray      # (problems, n_iterations + 1): P_n(C) with P_0 = the problem's base pass@1

    def __str__(self) -> str:
        rel = ">" if self.p_ic.value > self.p_ci.value else "<="
        boot = "\n       bootstrap over problems: [{:.3f}, {:.3f}]"
        return (f"p̂_IC = {self.p_ic}" + boot.format(self.p_ic_boot.lo, self.p_ic_boot.hi)
                + f"\np̂_CI = {self.p_ci}" + boot.format(self.p_ci_boot.lo, self.p_ci_boot.hi)
                + f"\npooled prediction: π_C = {self.pi_c:.3f} (p_IC {rel} p_CI)")


def one_step_prediction(states: np.ndarray, p0: np.ndarray, n_iterations: int, prior_strength: float = 2.0,
                        n_boot: int = 2000, seed: int = 0) -> OneStep:
    """Return the rates of one verify+refine step and the accuracy they predict for ``n_iterations`` refinements.

    ``states``: bool (problems, pool, 2) from ``run_dser(..., n_iterations=1)``; ``p0``: base pass@1 per problem.
    The per-problem rates are shrunk toward the pooled rate (``shrunk_rates``; our choice, not the paper's).
    """
    counts = transition_counts(states, per_problem=True)
    p_ic, p_ci = estimate_rates(counts)
    p_ic_boot, p_ci_boot = bootstrap_rates(states, n_boot=n_boot, seed=seed)
    pp_ic, pp_ci = shrunk_rates(counts, prior_strength=prior_strength)
    pi_c = stationary_accuracy(p_ic.value, p_ci.value) if p_ic.value + p_ci.value > 0 else float("nan")
    predicted = transient_accuracy(np.asarray(p0)[:, None], pp_ic[:, None], pp_ci[:, None],
                                   np.arange(n_iterations + 1)[None])
    return OneStep(p_ic, p_ci, p_ic_boot, p_ci_boot, pp_ic, pp_ci, pi_c, predicted)
