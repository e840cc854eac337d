"""The probability mass a policy puts on a fixed set of known-correct solutions: pass@k's mechanism, read exactly.

Zhu et al. 2025 (arXiv 2506.01347), Sec. 4: PSR sharpens the policy onto the correct answers it samples, so mass on
other correct solutions falls (large-k pass@k drops); NSR pushes down the sampled wrong tokens and redistributes
their mass to every other token in proportion to its prior, so correct solutions the model already had keep or
gain mass (large-k pass@k holds). pass@k at large k is governed by P(correct) = Σ over correct completions of
π(c | prompt); sampled pass@k carries binomial noise that 64 samples per problem cannot beat at the toy's
P(correct) ≈ 0.02–0.05. This module reads a lower bound of P(correct) without sampling noise: the policy's exact
teacher-forced probability of a fixed set of distinct correct solutions per problem, drawn once from the base
model (``base_solutions``), summed (``SolutionMassProbe``), and compared per (seed, problem) with the base's
(``mass_change``). The set is the same for every arm and step, so a difference is the policy's change alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbook.rl.probes import Probe, ProbeContext, policy_backend

__all__ = ["correct_solutions", "base_solutions", "SolutionMassProbe", "solution_log_mass", "mass_change"]


def correct_solutions(frame: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Returns per problem the distinct correct completions (whitespace-normalised, first spelling kept, in sample
    order) of a ``workbook.evaluation.sample_and_grade`` frame (problem_id, text, correct)."""
    from workbook.papers.nsr import normalize_solution

    out: dict[str, tuple[str, ...]] = {}
    for pid, g in frame[frame["correct"].astype(bool)].groupby("problem_id", sort=False):
        seen: dict[str, str] = {}
        for t in g["text"]:
            seen.setdefault(normalize_solution(t), t)
        out[str(pid)] = tuple(seen.values())
    return out


def base_solutions(config, problems, n: int, seed: int, **sampling) -> dict[str, tuple[str, ...]]:
    """Returns ``correct_solutions`` of ``n`` samples per problem from ``config.model`` (an ``ExperimentConfig``;
    its instruction, system line, grader and probe batch size), seeded by ``seed``, at ``sampling`` (temperature,
    top_p, max_new_tokens): the fixed solution set of a ``SolutionMassProbe``."""
    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.probes import EvalProbe

    model, tokenizer = load_model(config.model, device=config.device)
    ctx = ProbeContext(None, tokenizer, Grader(mode=config.grading_mode), config.instruction, seed,
                       config.probe_batch_size, system=config.system)
    return correct_solutions(EvalProbe(problems, n=n, name="solutions", **sampling).sample(model, ctx, 0))


def solution_log_mass(backend, prompt: str, solutions) -> float:
    """Returns log Σ_c π(c | prompt) over ``solutions`` (texts), each scored teacher-forced with its EOS at T = 1
    (the probability that sampling at T = 1 produces exactly that completion and stops), through ``backend``'s
    scorer (``workbook.generation.TransformersBackend.score``: the prompt encoded as the sampler encodes it)."""
    tok = backend.tokenizer
    seqs = [list(tok(s, add_special_tokens=False)["input_ids"]) + [tok.eos_token_id] for s in solutions]
    if not seqs:
        return float("nan")
    return float(np.logaddexp.reduce([r["logprobs"].sum() for r in backend.score([prompt] * len(seqs), seqs)]))


@dataclass(frozen=True)
class SolutionMassProbe(Probe):
    """Per problem, ``log_mass`` = log Σ_c π(c | prompt) over ``solutions[problem_id]`` (``solution_log_mass``)
    and ``n_solutions``; problems without a known solution are skipped. No sampling: two forward passes' worth per
    problem at most."""

    solutions: dict = field(default_factory=dict)
    name: str = "mass"

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        with policy_backend(model, ctx.tokenizer, ctx.batch_size) as backend:
            return [{"problem_id": p.problem_id, "n_solutions": len(self.solutions[p.problem_id]),
                     "log_mass": solution_log_mass(backend, ctx.prompt(p), self.solutions[p.problem_id])}
                    for p in self.problems if self.solutions.get(p.problem_id)]  # fmt: skip


def mass_change(frame: pd.DataFrame, label: str, *, versus: str = "base", n_boot: int = 2000, seed: int = 0,
                what: str = ""):
    """Returns the change of ``log_mass`` from step 0 (the base model) to the last step of arm ``label``
    (``versus="base"``), or the last step's difference from arm ``versus``, per (seed, problem), with a
    ``workbook.metrics.hierarchical_bootstrap`` over seeds × problems; in nats (a log-ratio of probabilities)."""
    from workbook.metrics import hierarchical_bootstrap

    f = frame[frame["label"] == label]
    last = f[f["step"] == f["step"].max()].set_index(["seed", "problem_id"])["log_mass"]
    if versus == "base":
        other = f[f["step"] == 0].set_index(["seed", "problem_id"])["log_mass"]
    else:
        g = frame[frame["label"] == versus]
        other = g[g["step"] == g["step"].max()].set_index(["seed", "problem_id"])["log_mass"]
    m = (last - other).unstack("problem_id").sort_index(axis=1)
    return hierarchical_bootstrap(m.to_numpy(float), n_boot=n_boot, seed=seed, what=what)
