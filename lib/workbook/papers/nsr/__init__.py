"""NSR: the PSR/NSR decomposition of RLVR, the categorical-policy gradient, solution diversity and pass@k curves.

Zhu et al. 2025, "The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning", arXiv 2506.01347;
official code ``TianHongZXY/RLVR-Decomposed`` (verl 0.2 fork). The advantages (PSR A = r, NSR A = r − 1,
W-REINFORCE A = λ·r − (1 − r); ``core_algos.py::compute_psr_nsr_outcome_advantage``) and the PPO-clip loss live in
``workbook.rl.objectives``/``workbook.rl.methods``; this module adds what the NSR notebook measures on top of them:
where NSR moves probability mass on a categorical policy (Sec. 4), counts of correct and *distinct* correct
completions (``DiversityProbe``), pass@k curves for k = 1 … n with bootstrap CIs over problems (the grid of the
official ``calculate_metrics.py``), the cost plan and the parameter checks. See ``docs/papers/nsr.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from workbook.rl.probes import EvalProbe, ProbeContext

from workbook.papers.nsr.passk import (mean_pass_at_k, noninferiority, paper_ks, pass_at_k_curves,
                                       pass_at_k_difference, pass_at_k_frame, seed_problem_pass)

__all__ = [
    "ARMS", "CLAIM_ARMS", "categorical_step", "logit_shift", "categorical_training", "normalize_solution",
    "count_distinct_correct", "DiversityProbe", "diversity_rows", "sample_digests", "identical_share",
    "pass_at_k_curves", "pass_at_k_frame", "pass_at_k_difference", "mean_pass_at_k", "paper_ks", "seed_problem_pass",
    "noninferiority", "training_problems", "TRAIN_SET_SIZES", "claims", "plan", "validate", "regime", "math_train",
]

ARMS = ("grpo", "psr", "nsr", "w_reinforce")

#: The trained arms each toy-scale claim compares (with the base or each other): a run without them leaves the
#: claim "not run at this scale" (the notebook's power table lists only the claims its arms can decide).
CLAIM_ARMS = {"NSR-1a": ("nsr",), "NSR-1b": ("nsr",), "NSR-1c": ("nsr",), "NSR-2a": ("psr",), "NSR-2b": ("psr",),
              "NSR-2c": ("psr",), "NSR-3a": ("nsr", "grpo"), "NSR-3b": ("w_reinforce", "grpo", "psr", "nsr"),
              "NSR-3c": ("nsr", "grpo"), "NSR-3d": ("nsr", "grpo"), "NSR-1e": ("nsr",), "NSR-2e": ("psr",)}


# ---- 1. a categorical policy trained with the library's objectives ---------------------------------------------

def categorical_step(logits: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, method: str = "nsr",
                     lr: float = 1.0, updates: int = 1, **method_overrides) -> torch.Tensor:
    """Returns the logits (V,), float64, after one rollout batch of ``method`` split into ``updates`` disjoint
    mini-batches, one plain-SGD step each.

    The policy is softmax(logits) over V candidate answers; ``actions`` (B,) are sampled indices and ``rewards``
    (B,) their 0/1 rewards. The advantage is ``workbook.rl.methods.get_method(method).advantages`` over the whole
    batch (the B samples form one group); the batch is then cut, in order, into ``updates`` contiguous mini-batches
    of B / ``updates`` samples, and each takes one step of ``objectives.ppo_clip_loss`` against the logits that
    sampled the batch (so the later mini-batches are off-policy and the clip can bind), aggregated by
    ``objectives.aggregate_loss`` (token-mean, one token per sample). This is the official recipe's rollout batch
    of 1024 prompts split into 4 mini-batches of 256 (``dp_actor.update_policy``, ppo_epochs 1). Plain SGD keeps
    the first step's change equal to −lr times the gradient (Zhu et al. 2025, Sec. 4).
    """
    from workbook.rl import get_method
    from workbook.rl import objectives as obj

    m = get_method(method, **method_overrides)
    actions = torch.as_tensor(actions, dtype=torch.long).reshape(-1)
    rewards = torch.as_tensor(rewards, dtype=torch.float32).reshape(-1)
    if actions.shape != rewards.shape or actions.numel() == 0:
        raise ValueError(f"actions {tuple(actions.shape)} and rewards {tuple(rewards.shape)} must match, non-empty")
    if updates < 1 or len(actions) % updates:
        raise ValueError(f"a batch of {len(actions)} samples cannot be split into {updates} equal mini-batches")
    adv = m.advantages(rewards, len(rewards)).double()
    # float64: the analysis compares logit changes of order lr * p to 1e-6
    old_logp = torch.log_softmax(logits.detach().double(), -1)[actions].unsqueeze(1)
    z = logits.detach().double().clone().requires_grad_(True)
    for idx in torch.arange(len(actions)).chunk(updates):
        logp = torch.log_softmax(z, -1)[actions[idx]].unsqueeze(1)
        per_token, _, _ = obj.ppo_clip_loss(logp, old_logp[idx], adv[idx], m.clip_low, m.clip_high)
        loss = obj.aggregate_loss(per_token, torch.ones_like(logp), m.loss_agg)
        (grad,) = torch.autograd.grad(loss, z)
        with torch.no_grad():
            z -= lr * grad
    return z.detach()


def logit_shift(probs: Sequence[float], sampled: int, reward: float, method: str = "nsr", lr: float = 0.1,
                **method_overrides) -> pd.DataFrame:
    """Returns one row per candidate: p_before, p_after, dlogit, dlogit / (lr * p_before), after one update on one
    sample.

    Sec. 4 of Zhu et al. 2025: for NSR on a wrong sample y the gradient step lowers z_y by lr * (1 - p_y) and raises
    every other logit z_v by lr * p_v, i.e. in proportion to the model's prior: ``dlogit / (lr * p)`` is exactly 1 for
    v != y. For PSR on a correct sample the signs flip (every other candidate is pushed down by its prior).
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.dim() != 1 or (p <= 0).any() or abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError("probs must be a 1-D positive probability vector summing to 1")
    z0 = torch.log(p)
    z1 = categorical_step(z0, torch.tensor([sampled]), torch.tensor([float(reward)]), method, lr, 1, **method_overrides)
    dz = (z1 - z0).double()
    return pd.DataFrame({
        "candidate": np.arange(len(p)), "sampled": np.arange(len(p)) == sampled, "p_before": p.numpy(),
        "p_after": torch.softmax(z1.double(), -1).numpy(), "dlogit": dz.numpy(),
        "dlogit_over_lr_p": (dz / (lr * p)).numpy(),
    })  # fmt: skip


def categorical_training(prior_logits: Sequence[float], correct: Sequence[bool], method: str, steps: int = 50,
                         n: int = 8, lr: float = 0.5, updates: int = 4, seed: int = 0, ks: Sequence[int] = (1, 16),
                         **method_overrides) -> pd.DataFrame:
    """Returns per step: p_correct, pass@k = 1 - (1 - p_correct)^k, entropy, and the effective number of correct
    answers exp(H(p restricted to correct, renormalised)) of a categorical policy trained by ``method``.

    Each step samples ``n`` answers from the current policy (seeded), rewards 1 for answers in ``correct`` and
    applies ``categorical_step``: the batch split into ``updates`` disjoint mini-batches (the official recipe's 4).
    """
    z = torch.as_tensor(prior_logits, dtype=torch.float64).clone()
    ok = torch.as_tensor(correct, dtype=torch.bool)
    if ok.shape != z.shape or not ok.any():
        raise ValueError("correct must be a boolean vector like prior_logits with at least one True")
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for step in range(steps + 1):
        p = torch.softmax(z, -1)
        pc = float(p[ok].sum())
        q = p[ok] / p[ok].sum()
        row = {"method": method, "step": step, "p_correct": pc,
               "entropy": float(-(p * torch.log(p.clamp_min(1e-300))).sum()),
               "effective_correct": float(torch.exp(-(q * torch.log(q.clamp_min(1e-300))).sum()))}  # fmt: skip
        row.update({f"pass@{k}": 1.0 - (1.0 - pc) ** k for k in ks})
        rows.append(row)
        if step == steps:
            break
        actions = torch.multinomial(p.float(), n, replacement=True, generator=gen)
        z = categorical_step(z, actions, ok[actions].float(), method, lr, updates, **method_overrides)
    return pd.DataFrame(rows)


# ---- 2. sampled completions: correct and distinct correct per problem --------------------------------------------

def normalize_solution(text: str) -> str:
    """Returns ``text`` with runs of whitespace collapsed and the ends stripped (two solutions differing only in
    spacing count once)."""
    return " ".join(text.split())


def count_distinct_correct(texts: Sequence[str], correct: Sequence[bool]) -> int:
    """Returns the number of distinct (whitespace-normalised) completions among the correct ones."""
    if len(texts) != len(correct):
        raise ValueError(f"{len(texts)} texts but {len(correct)} correctness flags")
    return len({normalize_solution(t) for t, c in zip(texts, correct) if c})


@dataclass(frozen=True)
class DiversityProbe(EvalProbe):
    """An ``EvalProbe`` that also counts distinct solutions: one row per (step, problem) with problem_id, dataset,
    n, n_correct, n_distinct_correct, n_distinct, nll and length.

    ``nll`` is the mean over sampled tokens of −log π(token) under the raw (T = 1) distribution: at T = 1 a Monte
    Carlo estimate of the policy's per-token entropy on its own samples (the paper's Fig. on entropy). ``length``
    is the mean completion length in tokens.
    """

    name: str = "diversity"
    temperature: float = 1.0

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        return diversity_rows(self.sample(model, ctx, step))


def diversity_rows(frame: pd.DataFrame) -> list[dict]:
    """Returns ``DiversityProbe``'s per-problem rows from a ``workbook.evaluation.sample_and_grade`` frame."""
    rows = []
    for pid, g in frame.groupby("problem_id", sort=False):
        texts, ok = g["text"].tolist(), g["correct"].tolist()
        logps = [lp for lps in g["logprobs"] for lp in lps]
        rows.append({"problem_id": pid, "dataset": g["dataset"].iloc[0], "n": len(g), "n_correct": int(sum(ok)),
                     "n_distinct_correct": count_distinct_correct(texts, ok),
                     "n_distinct": len({normalize_solution(t) for t in texts}),
                     "nll": float(-np.mean(logps)) if logps else float("nan"),
                     "length": float(g["n_tokens"].mean()), "digests": sample_digests(texts)})  # fmt: skip
    return rows


def sample_digests(texts: Sequence[str]) -> str:
    """Returns one 6-hex-digit digest (sha1 of the whitespace-normalised text) per completion, space-separated, in
    sample order: enough to tell, per (problem, sample index), whether two models drew the same completion."""
    import hashlib

    return " ".join(hashlib.sha1(normalize_solution(t).encode()).hexdigest()[:6] for t in texts)


def identical_share(final: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Returns per (seed, dataset) the share of completions of ``a`` identical to ``b``'s at the same (seed,
    problem, sample index) — how much of the two models' samples common random numbers (``DiversityProbe``'s
    ``same_draws``) made equal — from the ``digests`` of ``diversity_rows``. Columns: seed, dataset, identical, n."""
    key = ["seed", "problem_id"]
    m = final[final["label"] == a].merge(final[final["label"] == b][key + ["digests"]], on=key, suffixes=("", "_b"))
    if m.empty:
        raise ValueError(f"no (seed, problem) cells shared by {a!r} and {b!r}")
    same = [sum(x == y for x, y in zip(da.split(), db.split())) for da, db in zip(m["digests"], m["digests_b"])]
    out = m.assign(same=same).groupby(["seed", "dataset"], sort=False).agg(same=("same", "sum"), n=("n", "sum"))
    return out.assign(identical=out["same"] / out["n"]).reset_index()[["seed", "dataset", "identical", "n"]]


# ---- 3. data, parameters and cost plan ----------------------------------------------------------------------------

def training_problems(train_set: str, n: int, hard_share: float = 0.0, seed: int = 0) -> list:
    """Returns the training problems: for "synthetic", ``n`` problems of the toy's train split of which
    ``round(n * hard_share)`` come from its hard tier (`regime.hard_spec` of the default knobs, train split),
    interleaved so every rollout batch mixes both; "math_train" is MATH train (`math_train.load_math_train`, the
    paper's set); any other name is a ``workbook.data`` benchmark (``workbook.rl.experiments.load_problems``)."""
    from workbook.rl.experiments import load_problems

    if train_set == "math_train":
        from .math_train import load_math_train

        return load_math_train(limit=n or None)
    if train_set != "synthetic" or not hard_share:
        return load_problems(train_set, n, "train", seed)
    if n < 1:
        raise ValueError("a hard-tier share needs n_train_problems >= 1 (the synthetic world has no 'all')")
    from workbook.data.synthetic import ArithmeticSpec, generate_problems
    from workbook.toy.world import WorldKnobs, hard_spec

    n_hard = int(round(n * hard_share))
    hard = generate_problems(n_hard, seed, spec=hard_spec(ArithmeticSpec(), WorldKnobs()), split="train")
    hard = [type(p)(f"hard-{p.problem_id}", p.problem, p.answer, "hard", p.metadata) for p in hard]
    easy = load_problems("synthetic", n - n_hard, "train", seed)
    mixed = [p for pair in zip(hard, easy) for p in pair]
    return mixed + hard[len(easy):] + easy[len(hard):]


def validate(params: dict) -> None:
    """Raises ``ParameterError`` for arms outside GRPO/PSR/NSR/W-REINFORCE, a negative λ or a batch that the
    4-way mini-batch split cannot divide."""
    from workbook.params import ParameterError

    methods = params.get("methods") or []
    if not methods or set(methods) - set(ARMS):
        raise ParameterError(f"nsr: methods must come from {', '.join(ARMS)}; got {methods}")
    if any(lam < 0 for lam in params.get("lam_sweep") or []):
        raise ParameterError(f"nsr: lam_sweep values must be >= 0, got {params['lam_sweep']}")
    if params.get("updates_per_rollout", 1) < 1 or params.get("eval_n", 1) < 1 or params.get("k_max", 0) < 0:
        raise ParameterError("nsr: updates_per_rollout and eval_n must be >= 1 and k_max >= 0")
    band = params.get("screen_band") or [0.0, 1.0]
    if len(band) != 2 or not 0.0 <= band[0] <= band[1] <= 1.0:
        raise ParameterError(f"nsr: screen_band must be [lo, hi] with 0 <= lo <= hi <= 1, got {band}")
    if params.get("hard_candidates", 0) and not 1 <= params.get("screen_k", 1) <= params.get("screen_n", 1):
        raise ParameterError("nsr: the screen needs 1 <= screen_k <= screen_n")
    if not 0.0 <= params.get("train_hard_share", 0.0) <= 1.0 or not 0.0 < params.get("ceiling", 0.95) <= 1.0:
        raise ParameterError("nsr: train_hard_share must be in [0, 1] and ceiling in (0, 1]")


#: Training-set sizes for the plan's epoch count (MATH train: Hendrycks et al. 2021; DSR-sub: the 1-shot RLVR
#: paper's 1,209-problem subset of DeepScaleR, shipped with the workbook).
TRAIN_SET_SIZES = {"math_train": 7500, "one_shot_rlvr_dsr_sub": 1209}


def plan(params: dict) -> dict:
    """Returns the cost plan (``workbook.rl.plan.Plan`` as a dict, plus ``summary``) of the runs these resolved
    parameters describe: arms × seeds + the λ sweep, the hard-pool screen, and the final samples (``eval_n`` per
    hard-pool problem, ``id_n`` per in-distribution problem; ``eval_n`` per problem when there is no hard pool)
    for every run and the base model. The summary adds the number of epochs over the training set (updates ×
    prompts / set size), which matters in a study of diversity. Loads no model and needs no GPU."""
    from workbook.papers import require
    from workbook.rl.plan import BENCHMARK_SIZES
    from workbook.rl.plan import plan as rl_plan

    validate(params)
    methods, seeds, lams, n_eval, benches, eval_n, max_new = require(
        params, "methods seeds lam_sweep n_eval_problems eval_benchmarks eval_n eval_max_new_tokens", "nsr")
    n_runs = len(methods) * len(seeds) + len(lams)
    n_id = n_eval * len(benches) if n_eval else sum(BENCHMARK_SIZES.get(b, 0) for b in benches)
    n_hard, n_screen = int(params.get("n_pool", 0)), int(params.get("hard_candidates", 0))
    per_model = n_hard * eval_n + n_id * (int(params.get("id_n", eval_n)) if n_screen else eval_n)
    # + the base model (one draw of eval_n / id_n per training seed, the seed's common random numbers) and the screen
    samples = per_model * (n_runs + len(seeds)) + n_screen * int(params.get("screen_n", 0))
    p = rl_plan(
        model=params["model"], steps=params["steps"], prompts_per_step=params["prompts_per_step"],
        num_generations=params["num_generations"], max_completion_length=params["max_completion_length"],
        runs=n_runs, updates_per_rollout=params["updates_per_rollout"], prompt_tokens=params["prompt_tokens"],
        with_reference=False, gpu=params.get("gpu") or None, final_eval_tokens=0.4 * max_new * samples,
        gradient_checkpointing=bool(params.get("gradient_checkpointing")),
    ).to_dict()  # fmt: skip
    size = TRAIN_SET_SIZES.get(params.get("train_set"), int(params.get("n_train_problems") or 0))
    epochs = params["steps"] * params["prompts_per_step"] / size if size else float("nan")
    p["epochs"] = epochs
    p["final_samples"] = samples
    p["summary"] += (f"\ntraining set {params.get('train_set')} ({size} problems): {epochs:.1f} epochs per run; "
                     f"{samples:,} evaluation samples (screen + final, all models)")
    return p


def claims(final: pd.DataFrame, methods: Sequence[str], ks: Sequence[int], *, hard: str = "hard",
           in_dist: str = "synthetic", ceiling: float = 0.95, k_min: int = 8, k_max: int = 0, n_boot: int = 2000,
           seed: int = 0, paper_benchmark: str | None = None) -> tuple[dict, dict]:
    """Returns (estimates of the NSR claims, context: k_star, the arm NSR-3b compares W-REINFORCE with).

    Every estimate is a seeds × problems interval of a difference formed within each (seed, problem) cell
    (`regime.paired_contrast`): the base and every arm draw their final samples at the same sampling seeds, so
    ``final`` holds the base once per training seed, not pooled. pass@1 claims (NSR-1a, NSR-2a) on the ``in_dist``
    problems; large-k claims on the ``hard`` pool
    (Zhu et al. 2025, abstract and Sec. 3): at k* = the largest k where the base's pass@k is below ``ceiling``
    (``regime.largest_k_below``; NSR-1b, NSR-2b, NSR-3c) and as the mean over k >= ``k_min`` (NSR-1c, NSR-2c,
    NSR-3d); NSR-3a is the non-inferiority contrast NSR − (base + GRPO)/2 over the k grid (``noninferiority``),
    NSR-3b W-REINFORCE − the strongest other arm by mean pass@k over the grid, both on the hard pool.
    ``k_max`` > 0 reads every hard-pool claim on k <= ``k_max`` only: with n samples per problem the unbiased
    pass@k estimator at k = n is one binary per problem (any success?), at k <= n/2 an average over many subsets
    (a smaller spread per problem, so more power). ``paper_benchmark`` (e.g. "math500") adds NSR-1p/2p at the
    largest k on that benchmark, whatever ``k_max``.
    """
    from . import regime

    sets = set(final["dataset"]) if "dataset" in final else set()
    hp = final[final["dataset"] == hard] if hard in sets else final
    ip = final[final["dataset"] == in_dist] if in_dist in sets else final
    labels = set(final["label"])
    all_ks, ks = list(ks), [k for k in ks if not k_max or k <= k_max]
    if not ks:
        raise ValueError(f"k_max = {k_max} leaves no k of {all_ks}")
    k_star = regime.largest_k_below(hp, "base", ks, ceiling) if "base" in labels else None
    others = [m for m in ("grpo", "psr", "nsr") if m in methods]
    best = max(others, key=lambda m: mean_pass_at_k(hp, m, ks)) if others else None

    def at(frame, a, b, kk):
        if not kk or not {a, b} <= labels:
            return None
        return regime.paired_contrast(frame, [a, b], [1.0, -1.0], kk, n_boot=n_boot, seed=seed,
                                      what=f"pass@{kk} {a} - {b}")

    def tail(a, b):
        return regime.mean_over_k(hp, a, b, ks, k_min, n_boot, seed) if {a, b} <= labels else None

    ks_star = [k_star] if k_star else []
    out = {"NSR-1a": at(ip, "nsr", "base", [1]), "NSR-1b": at(hp, "nsr", "base", ks_star),
           "NSR-1c": tail("nsr", "base"),
           "NSR-2a": at(ip, "psr", "base", [1]), "NSR-2b": at(hp, "psr", "base", ks_star),
           "NSR-2c": tail("psr", "base"),
           "NSR-3a": noninferiority(hp, "nsr", "grpo", ks, n_boot, seed) if "grpo" in labels else None,
           "NSR-3b": at(hp, "w_reinforce", best, ks) if best else None,
           "NSR-3c": at(hp, "nsr", "grpo", ks_star), "NSR-3d": tail("nsr", "grpo")}  # fmt: skip
    if paper_benchmark is not None:
        sub = final[final["dataset"] == paper_benchmark]
        kmax = [all_ks[-1]]
        out.update({"NSR-1p": at(sub, "nsr", "base", kmax), "NSR-2p": at(sub, "psr", "base", kmax)})
    return out, {"k_star": k_star, "best_other": best}


from workbook.papers.nsr import math_train, regime  # noqa: E402  (submodules, re-exported)