"""The sharpening theory's quantities measured on a real model, in a non-sharp regime and a sharp control.

Huang, Block, Foster et al., arXiv 2412.01951: y*(x) = argmax_y π_base(y|x) (Def. 3.1); greedy decoding returns y*
when π(y*|x) > 1/2 (Prop. 3.1) and can miss it below; best-of-N by log-likelihood returns y* once it is among the N
samples (Prop. C.1: w.p. 1 − (1 − π(y*|x))^N), so its accuracy is bounded by coverage (pass@N); SFT-sharpening moves
mass onto y* (Sec. 4.1, Thm 4.1). On a real model y* is not enumerable: we estimate it by ŷ*, the most likely of the
M samples and the greedy response (a lower bound on max_y π(y|x), exact when y* was drawn), and measure π(ŷ*|x) by a
teacher-forced pass. See ``docs/papers/sharpening.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci, hierarchical_bootstrap, hierarchical_difference
from workbook.papers.sharpening.lora_sft import SFTResult
from workbook.papers.sharpening.selection import BoNCurve, base_loglik, self_rewards


@dataclass
class RegimeSamples:
    """One model on one problem set: M samples at T = 1, the greedy response and the estimated y* per problem."""

    name: str
    model: str
    correct: np.ndarray            # (problems, M) bool
    answers: list[list[str | None]]
    rewards: dict[str, np.ndarray]  # self_rewards: logp, logp_norm, n_tokens[, self_certainty], (problems, M)
    greedy_correct: np.ndarray     # (problems,) 0/1
    greedy_logp: np.ndarray        # (problems,) log π(greedy|x), teacher-forced
    ystar_logp: np.ndarray         # (problems,) log π(ŷ*|x), teacher-forced
    ystar_correct: np.ndarray      # (problems,) 0/1
    greedy_is_ystar: np.ndarray    # (problems,) bool: the greedy response is ŷ*
    ystar_token_ids: list = field(repr=False, default_factory=list)
    greedy_token_ids: list = field(repr=False, default_factory=list)
    curves: dict[str, BoNCurve] = field(default_factory=dict)
    sft: SFTResult | None = None

    @property
    def pi_star(self) -> np.ndarray:
        """π̂(ŷ*|x) per problem under the base model."""
        return np.exp(self.ystar_logp)


def measure_regime(name: str, model: str, backend, problems: Sequence, prompt_fn: Callable[[Any], str], grader, *,
                   n_samples: int, temperature: float, top_p: float, max_new_tokens: int, seed: int,
                   self_certainty: bool = False) -> RegimeSamples:
    """Return the samples, greedy response and ŷ* of ``backend`` (a workbook.generation backend) on ``problems``.

    ŷ* = argmax of log π over the M samples and the greedy response; both log-likelihoods come from one
    teacher-forced pass of the base model (``base_loglik``), so ŷ* and "greedy = ŷ*" use the same numbers.
    """
    from workbook.evaluation import by_problem, correct_matrix, sample_and_grade
    from workbook.grading import extract_boxed

    kw = dict(grader=grader, prompt_fn=prompt_fn, seed=seed, max_new_tokens=max_new_tokens)
    frame = sample_and_grade(backend, problems, n_samples, temperature=temperature, top_p=top_p, **kw)
    greedy = sample_and_grade(backend, problems, 1, temperature=0.0, **kw)
    correct = correct_matrix(frame)
    prompts = [prompt_fn(p) for p in problems]
    ids = by_problem(frame, "token_ids")
    texts = by_problem(frame, "text")
    scored = backend.score([p for p in prompts for _ in range(n_samples)], frame["token_ids"].tolist()) \
        if self_certainty else None
    rewards = self_rewards(by_problem(frame), scored)
    g_ids, g_text = greedy["token_ids"].tolist(), greedy["text"].tolist()
    g_correct = greedy["correct"].to_numpy(dtype=float)
    cand_ids = [row + [g] for row, g in zip(ids, g_ids)]
    flat = base_loglik(backend, [p for p in prompts for _ in range(n_samples + 1)],
                       [c for row in cand_ids for c in row]).reshape(len(problems), n_samples + 1)
    best = flat.argmax(1)
    texts_all = [row + [g] for row, g in zip(texts, g_text)]
    y_text = [texts_all[i][j] for i, j in enumerate(best)]
    y_correct = np.array([correct[i, j] if j < n_samples else g_correct[i] for i, j in enumerate(best)], dtype=float)
    return RegimeSamples(
        name=name, model=model, correct=correct,
        answers=[[extract_boxed(t) for t in row] for row in texts], rewards=rewards, greedy_correct=g_correct,
        greedy_logp=flat[:, -1], ystar_logp=flat[np.arange(len(best)), best], ystar_correct=y_correct,
        greedy_is_ystar=np.array([yt == gt for yt, gt in zip(y_text, g_text)]),
        ystar_token_ids=[cand_ids[i][j] for i, j in enumerate(best)], greedy_token_ids=g_ids)


def theory_bon_curve(regime: RegimeSamples, ns: Sequence[int]) -> np.ndarray:
    """Return Prop. C.1's BoN-by-likelihood accuracy, E_x[1{ŷ* correct} · (1 − (1 − π̂(ŷ*|x))^N)], for each N.

    What BoN would score if every sample other than ŷ* were less likely and ŷ* were the true y* (the model's
    most likely response): it is reached only in so far as the sampled likelihoods rank ŷ* first.
    """
    pi = regime.pi_star
    return np.array([float(np.mean(regime.ystar_correct * (1.0 - (1.0 - pi) ** n))) for n in ns])


def _ci(x, n_boot: int, seed: int, what: str = "") -> Estimate:
    return bootstrap_ci(np.asarray(x, dtype=float), n_boot=n_boot, seed=seed, what=what)


def regime_rows(r: RegimeSamples, n_bon: int = 16, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Return the theory's quantities for one regime, each with a 95% CI (over problems; SFT: seeds × problems)."""
    rows: list[tuple[str, Estimate]] = [
        ("π̂(ŷ*|x): base probability of the most likely response", _ci(r.pi_star, n_boot, seed)),
        ("share of problems with π̂(ŷ*|x) > 1/2", _ci(r.pi_star > 0.5, n_boot, seed)),
        ("share where greedy = ŷ* (the maximum-likelihood response)", _ci(r.greedy_is_ystar, n_boot, seed)),
        ("ŷ* correct", _ci(r.ystar_correct, n_boot, seed)),
        ("T = 1 accuracy (pass@1)", _ci(r.correct.mean(1), n_boot, seed)),
        ("greedy accuracy", _ci(r.greedy_correct, n_boot, seed)),
    ]
    logp = r.curves.get("logp")
    if logp is not None and n_bon in logp.ns:
        j = logp.ns.index(n_bon)
        bon = logp.per_problem[:, :, j].mean(0)
        rows += [(f"BoN-by-likelihood accuracy, N = {n_bon}", _ci(bon, n_boot, seed)),
                 (f"BoN (N = {n_bon}) − greedy", _ci(bon - r.greedy_correct, n_boot, seed))]
    s = r.sft
    if s is not None:
        if s.pi_star_after is not None:
            rows += [("after SFT: π̂(ŷ*|x)", hierarchical_bootstrap(s.pi_star_after.T, n_boot=n_boot, seed=seed)),
                     ("after − before SFT: π̂(ŷ*|x)", hierarchical_difference(s.pi_star_after.T, r.pi_star,
                                                                             n_boot=n_boot, seed=seed))]
        if s.t1_after is not None:
            rows += [("after SFT: T = 1 accuracy", hierarchical_bootstrap(s.t1_after.T, n_boot=n_boot, seed=seed)),
                     ("after − before SFT: T = 1 accuracy", hierarchical_difference(
                         s.t1_after.T, r.correct.mean(1), n_boot=n_boot, seed=seed))]
        rows += [("after SFT: greedy accuracy", hierarchical_bootstrap(s.correct_after.T, n_boot=n_boot, seed=seed)),
                 ("after − before SFT: greedy accuracy", hierarchical_difference(
                     s.correct_after.T, r.greedy_correct, n_boot=n_boot, seed=seed))]
    return [{"regime": r.name, "model": r.model, "quantity": q, "value": e.value, "lo": e.lo, "hi": e.hi,
             "n_problems": e.n} for q, e in rows]


def regime_table(regimes: Sequence[RegimeSamples], n_bon: int = 16, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Return the theory's quantities side by side for every regime (long format: regime, quantity, value, lo, hi)."""
    return pd.DataFrame([row for r in regimes for row in regime_rows(r, n_bon, n_boot, seed)])


def regime_metrics(r: RegimeSamples) -> Mapping[str, Any]:
    """Return the per-problem arrays of one regime for metrics.json (so every table can be recomputed)."""
    out = {"model": r.model, "pi_star": r.pi_star.tolist(), "ystar_correct": r.ystar_correct.tolist(),
           "greedy_is_ystar": r.greedy_is_ystar.astype(int).tolist(), "greedy_correct": r.greedy_correct.tolist(),
           "pass1": r.correct.mean(1).tolist(),
           "bon": {k: c.per_problem.mean(0).T.tolist() for k, c in r.curves.items()}}
    if r.sft is not None:
        out["sft"] = {"greedy_after": r.sft.correct_after.T.tolist(), "final_loss": [l[-1] for l in r.sft.losses],
                      **({"t1_after": r.sft.t1_after.T.tolist()} if r.sft.t1_after is not None else {}),
                      **({"pi_star_after": r.sft.pi_star_after.T.tolist()}
                         if r.sft.pi_star_after is not None else {})}
    return out
