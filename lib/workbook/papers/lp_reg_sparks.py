"""Lp-Reg's mechanism measured directly on the toy world: the spark's probability at its branch point over training.

Huang et al. 2025 (arXiv 2510.03222), Sec. 3: under on-policy RLVR, negative-advantage updates push down every
token of a wrong completion, so rare but useful tokens ("reasoning sparks", e.g. *wait*) lose probability; Lp-Reg
pulls the lowest-probability negative-advantage tokens that the min-p proxy keeps back towards the proxy, and leaves
the irrelevant noise below kappa · max p alone. The toy world (``docs/toy_world.md``) puts both into its traces at
one branch point (after a solution's last step): the spark ``workbook.toy.world.SPARK`` (p ≈ 0.05, above the
min-p threshold) and a noise tail ``NOISE_TOKENS`` (1% each, below it); the control world has neither.

- ``BranchProbe``: a probe (``workbook.rl.probes``) recording, at fixed held-out problems and teacher-forced,
  P(spark | branch context), the noise tail's mass and the top token's probability
  (``workbook.toy.knobs.branch_point_probs``), and the policy's exact entropy and low-probability mass over each
  problem's reference solution (``trace_measures``) during training;
- ``branch_matrix`` / ``spark_claims`` / ``gap_over_training``: per (seed, problem) values and the claims on them
  with hierarchical CIs over seeds × problems (``workbook.metrics``);
- ``selection_composition`` / ``rho_to_reach_sparks``: which tokens of a rollout batch Lp-Reg's bottom-rho set
  holds (spark, noise, other) and the smallest rho whose bottom set reaches every negative-advantage spark;
- ``spark_gain``: the mechanism's precondition, whether the spark raises accuracy at all (samples with vs without
  a spark, and the same solutions continued with the spark forced at their branch point);
- ``selection_shares``: during training, the share of Lp-Reg's bottom-rho and regularised tokens that are sparks
  and noise (from the trainer's per-step counts);
- ``counterfactual_claims``: the drift-free one-step effect of Lp-Reg's loss on P(spark) against GRPO's, from the
  same policy, batch and optimizer state along GRPO's runs (``workbook.rl.counterfactual.UpdateProbe``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbook.rl.probes import Probe, ProbeContext

__all__ = ["BranchProbe", "trace_measures", "branch_matrix", "gap_over_training", "spark_claims", "token_kind",
           "selection_composition", "rho_to_reach_sparks", "regulariser_pull", "branch_prefix", "spark_gain",
           "spark_gain_estimates", "selection_shares", "counterfactual_frame", "counterfactual_claims"]  # fmt: skip


def trace_measures(model, tokenizer, problems, kappa: float = 0.02) -> pd.DataFrame:
    """Returns per problem the policy's mean per-token entropy and low-probability mass (the mass below
    ``kappa`` · max p, ``workbook.rl.objectives.low_prob_mass``) over the positions of its reference solution,
    teacher-forced after the solve prompt: columns problem_id, entropy, low_prob_mass, tokens.

    The quantities of the paper's entropy and low-probability plots (Sec. 3, Fig. 1), computed exactly from the
    policy's probabilities on contexts that are the same for every arm and step, so two arms' difference carries no
    sampling noise of a probe. One forward pass per problem (``problem.metadata["solution"]``, answer line included).
    """
    import torch

    from workbook.rl import objectives as obj
    from workbook.toy.world import solve_prompt

    rows = []
    with torch.inference_mode():
        for p in problems:
            prompt = tokenizer(solve_prompt(tokenizer, p.problem), add_special_tokens=False)["input_ids"]
            sol = tokenizer(p.metadata["solution"], add_special_tokens=False)["input_ids"]
            logits = model(input_ids=torch.tensor([prompt + sol], device=model.device)).logits[0].float()
            lg = logits[len(prompt) - 1 : -1]  # the positions that predict each solution token
            rows.append({"problem_id": p.problem_id, "entropy": float(obj.entropy_from_logits(lg).mean()),
                         "low_prob_mass": float(obj.low_prob_mass(lg, kappa).mean()), "tokens": len(sol)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class BranchProbe(Probe):
    """Teacher-forced next-token probabilities at the branch point after each probe problem's reference steps, and
    the policy's exact entropy and low-probability mass over the reference solution (``trace_measures``).

    One row per (step, problem): p_spark, p_noise (noise-tail mass), p_max (top token), entropy, low_prob_mass,
    tokens. Needs a toy checkpoint of world version >= 3 (its tokenizer has the spark token); two forward passes
    per problem, no sampling.
    """

    name: str = "branch"
    kappa: float = 0.02
    traces: bool = True  # also the reference-solution measures (one more, longer forward pass per problem)

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        from workbook.toy.knobs import branch_point_probs

        was_training = model.training
        model.eval()
        try:
            out = branch_point_probs(model, ctx.tokenizer, self.problems)
            if self.traces:
                out = out.merge(trace_measures(model, ctx.tokenizer, self.problems, self.kappa), on="problem_id",
                                how="left")
            return out.to_dict("records")
        finally:
            model.train(was_training)


def branch_matrix(frame: pd.DataFrame, label: str, step: int, value: str = "p_spark") -> np.ndarray:
    """Returns the (seeds, problems) matrix of ``value`` of arm ``label`` at probe ``step`` (problems sorted)."""
    f = frame[(frame["label"] == label) & (frame["step"] == step)]
    return f.pivot_table(index="seed", columns="problem_id", values=value).sort_index(axis=1).to_numpy(float)


def gap_over_training(branch: pd.DataFrame, arm: str, value: str = "p_spark", *, base: str = "grpo",
                      n_boot: int = 2000, seed: int = 0, what: str = ""):
    """Returns ``arm`` minus ``base`` in ``value``, per (seed, problem) the mean over every probe after step 0 of
    the paired difference (same seed, problem and step), with a ``workbook.metrics.hierarchical_bootstrap`` over
    seeds × problems.

    "Stays above GRPO's" over training (the paper's curves, Fig. 1) read as the mean gap between the two curves,
    i.e. the area between them over the run divided by its length. Arms of one seed share the initial model, data
    order and sampling seeds, so the rollouts of the two arms coincide until the policies differ enough to sample a
    different token; after that the runs drift apart and the gap at any single late probe carries that drift,
    while the mean over probes weighs it by one probe in several.
    """
    from workbook.metrics import hierarchical_bootstrap

    b = branch[branch["step"] > 0]
    a, g = (b[b["label"] == x] for x in (arm, base))
    d = a.merge(g, on=["seed", "problem_id", "step"], suffixes=("", "_base"))
    d = d.assign(diff=d[value] - d[f"{value}_base"])
    m = d.pivot_table(index="seed", columns="problem_id", values="diff", aggfunc="mean").sort_index(axis=1)
    return hierarchical_bootstrap(m.to_numpy(float), n_boot=n_boot, seed=seed, what=what)


def spark_claims(branch: pd.DataFrame, *, world: str = "", n_boot: int = 2000, seed: int = 0) -> dict:
    """Returns the mechanism's estimates on a ``BranchProbe`` frame (label, seed, step, problem_id, p_spark, ...).

    ``grpo_change``: GRPO's P(spark) at the last probe minus step 0 (per seed and problem; Sec. 3: sparks are
    driven out); ``<arm>_minus_grpo``: the arm's P(spark) at the last probe minus GRPO's (Lp-Reg keeps sparks);
    ``<arm>_minus_grpo_over_training``: the same gap averaged over every probe after step 0 (``gap_over_training``);
    ``noise_lp_reg_minus_grpo``: the noise tail's mass at the last probe (Lp-Reg should not protect noise); where
    the frame has them, ``entropy_<arm>_minus_grpo`` and ``low_prob_mass_<arm>_minus_grpo``: the exact entropy and
    low-probability mass over the reference solutions (``trace_measures``), averaged over training likewise. Arms
    are compared within a seed (the runs of one seed share the initial model, data order and sampling seed: common
    random numbers), so each is ``workbook.metrics.hierarchical_bootstrap`` over seeds × problems of a paired value.
    """
    from workbook.metrics import hierarchical_bootstrap

    def paired(arm: str, value: str, what: str):
        a, b = (branch[(branch["label"] == x) & (branch["step"] == last)] for x in (arm, "grpo"))
        d = a.merge(b, on=["seed", "problem_id"], suffixes=("", "_grpo"))
        d = d.assign(diff=d[value] - d[f"{value}_grpo"]).pivot(index="seed", columns="problem_id", values="diff")
        return hierarchical_bootstrap(d.sort_index(axis=1).to_numpy(float), n_boot=n_boot, seed=seed, what=what)

    last = int(branch["step"].max())
    arms = set(branch["label"])
    tag = f" ({world})" if world else ""
    out = {}
    if "grpo" in arms:
        change = branch_matrix(branch, "grpo", last) - branch_matrix(branch, "grpo", 0)
        out["grpo_change"] = hierarchical_bootstrap(change, n_boot=n_boot, seed=seed,
                                                    what=f"GRPO P(spark): step {last} - step 0{tag}")
        for arm in sorted(arms - {"grpo"}):
            out[f"{arm}_minus_grpo"] = paired(arm, "p_spark", f"P(spark) at step {last}: {arm} - grpo, paired{tag}")
            out[f"{arm}_minus_grpo_over_training"] = gap_over_training(
                branch, arm, "p_spark", n_boot=n_boot, seed=seed,
                what=f"P(spark): {arm} - grpo, mean over probes after step 0, paired{tag}")
            for value in ("entropy", "low_prob_mass"):
                if value in branch:
                    out[f"{value}_{arm}_minus_grpo"] = gap_over_training(
                        branch, arm, value, n_boot=n_boot, seed=seed,
                        what=f"{value} on reference solutions: {arm} - grpo, mean over probes after step 0{tag}")
        if "lp_reg" in arms:
            out["noise_lp_reg_minus_grpo"] = paired("lp_reg", "p_noise",
                                                    f"noise-tail mass at step {last}: lp_reg - grpo, paired{tag}")
    return out


def counterfactual_frame(update: pd.DataFrame, value: str = "p_spark", arm: str = "lp_reg",
                         base: str = "grpo") -> pd.DataFrame:
    """Returns, per (seed, problem_id, step) of an ``UpdateProbe`` frame (``workbook.rl.counterfactual``: ``value``
    under the current policy, ``update = "none"``, and after one update of each method from the same policy, batch
    and optimizer state), ``push``: ``value`` after ``base``'s update minus before it, and ``offset``: after
    ``arm``'s update minus after ``base``'s."""
    wide = update.pivot_table(index=["seed", "problem_id", "step"], columns="update", values=value)
    return pd.DataFrame({"push": wide[base] - wide["none"], "offset": wide[arm] - wide[base]})


def counterfactual_claims(update: pd.DataFrame, *, world: str = "", value: str = "p_spark", arm: str = "lp_reg",
                          base: str = "grpo", n_boot: int = 2000, seed: int = 0) -> dict:
    """Returns the one-step, drift-free effect of swapping GRPO's loss for ``arm``'s, from an ``UpdateProbe`` frame
    (``counterfactual_frame``).

    ``<arm>_update_offset``: ``value`` after ``arm``'s update minus after ``base``'s, per (seed, problem) the mean
    over the measured steps; ``<base>_update_push``: ``value`` after ``base``'s update minus before it (GRPO's own
    per-step push, Sec. 3: sparks are driven out). Both ``workbook.metrics.hierarchical_bootstrap`` over seeds ×
    problems; no sampling is involved, so what varies is only which tokens each batch held. The offset over the push
    (the share of GRPO's push that the regulariser undoes) is printed by the notebook from the two values."""
    from workbook.metrics import hierarchical_bootstrap

    cf = counterfactual_frame(update, value, arm, base)
    tag = f" ({world})" if world else ""

    def boot(diff: pd.Series, what: str):
        m = diff.groupby(level=["seed", "problem_id"]).mean().unstack("problem_id").sort_index(axis=1)
        return hierarchical_bootstrap(m.to_numpy(float), n_boot=n_boot, seed=seed, what=what)

    steps = sorted(set(update["step"]))
    return {f"{arm}_update_offset": boot(cf["offset"], f"{value} after one {arm} update - after one {base} "
                                         f"update, same policy, batch and optimizer state; steps {steps}{tag}"),
            f"{base}_update_push": boot(cf["push"], f"{value} after one {base} update - before it; "
                                        f"steps {steps}{tag}")}  # fmt: skip


def token_kind(token: str) -> str:
    """Returns "spark", "noise" or "other" for a decoded toy token (``workbook.toy.world.SPARK`` / ``NOISE_TOKENS``)."""
    from workbook.toy.world import NOISE_TOKENS, SPARK

    t = token.strip()
    return "spark" if t == SPARK else "noise" if t in NOISE_TOKENS else "other"


def selection_composition(sel: pd.DataFrame) -> pd.DataFrame:
    """Returns, per token kind (spark, noise, other), how many tokens of a ``lp_reg.selection_table`` batch were
    sampled, sampled with negative advantage, in the bottom-rho set, and regularised (kept by the proxy)."""
    s = sel.assign(kind=sel["token"].map(token_kind), negative=sel["adv"] < 0)
    out = s.groupby("kind")[["negative", "bottom_rho", "regularized", "noise_excluded"]].sum().astype(int)
    out.insert(0, "sampled", s.groupby("kind").size())
    return out.reindex(["spark", "noise", "other"], fill_value=0)


def rho_to_reach_sparks(sel: pd.DataFrame) -> float:
    """Returns the smallest rho whose bottom-rho set (the k lowest-logp negative-advantage tokens, k = floor(rho N-))
    holds every negative-advantage spark of the batch; NaN when the batch has none."""
    neg = sel[sel["adv"] < 0]
    sparks = neg[neg["token"].map(token_kind) == "spark"]
    if sparks.empty:
        return float("nan")
    k = int((neg["logp"] <= sparks["logp"].max()).sum())
    return (k + 1) / len(neg)  # floor((k+1)/N- * N-) = k + 1 >= k, the +1 covers float rounding


def regulariser_pull(sel: pd.DataFrame, kinds: tuple = ("spark",)) -> pd.DataFrame:
    """Returns, for the negative-advantage tokens of ``kinds`` in a batch, the gradient on log pi of each loss term
    at the update (on-policy, pi_theta = pi_old): the surrogate's push -|A| and, if selected, the regulariser's pull
    beta_free = 1/sum_kept p - 1 = e^{lq - lp} - 1 (per unit of beta), the arithmetic of Sec. 3's k3 term."""
    s = sel[(sel["adv"] < 0) & sel["token"].map(token_kind).isin(kinds)]
    pull = np.where(s["regularized"], np.exp(s["proxy_logp"] - s["logp"]) - 1.0, 0.0)
    return pd.DataFrame({"kind": s["token"].map(token_kind), "push": s["adv"], "pull_per_beta": pull,
                         "selected": s["regularized"]})


# ---- the precondition: does the spark raise accuracy? -------------------------------------------------------------

_STEP_LINE = re.compile(r"-?\d+ [-+*/] -?\d+ = -?\d+")


def branch_prefix(text: str) -> str | None:
    """Returns a completion's text up to its branch point (its solution-step lines, each ending in a newline) when
    it is step lines followed by one answer line; None for anything else (a spark, a noise filler, a guess, a
    truncated sample). The spark forced here continues exactly where the world's traces put it (after the last
    step, ``workbook.toy.world.solve_completion``)."""
    lines = (text or "").split("\n")
    steps = lines[:-1]
    if not steps or not all(_STEP_LINE.fullmatch(x) for x in steps) or _STEP_LINE.fullmatch(lines[-1]):
        return None
    return "\n".join(steps) + "\n"


def spark_gain(backend, problems, n: int = 16, *, seed: int = 0, temperature: float = 1.0,
               max_new_tokens: int = 128) -> pd.DataFrame:
    """Returns one row per sample: problem_id, sample, spark (the sample wrote the spark), correct, and
    forced_correct: the same solution's steps continued at T = ``temperature`` from its branch point with the spark
    forced (NaN where ``branch_prefix`` finds none, e.g. samples that already hold a spark).

    The paper's mechanism needs sparks that are *valuable* (Huang et al. 2025, Sec. 3): a low-probability token
    whose continuation succeeds more often. Natural samples with a spark against those without compare the same
    problems; the forced continuation is the intervention on the same solutions (common steps, only the branch
    token differs). Graded by ``workbook.toy.evaluate.exact_grade`` (the RL reward's strict boxed answer).
    """
    from workbook.evaluation import sample_and_grade
    from workbook.toy.evaluate import exact_grade
    from workbook.toy.world import SPARK, solve_prompt

    tok = backend.tokenizer
    frame = sample_and_grade(backend, problems, n, grader=exact_grade, seed=seed, temperature=temperature,
                             prompt_fn=lambda p: solve_prompt(tok, p.problem), max_new_tokens=max_new_tokens)
    frame = frame.assign(spark=frame["text"].str.contains(SPARK, regex=False), prefix=frame["text"].map(branch_prefix))
    by_id = {p.problem_id: p for p in problems}
    todo = frame[frame["prefix"].notna()]
    forced = [{"problem": by_id[r.problem_id].problem, "answer": by_id[r.problem_id].answer, "problem_id": str(i),
               "prompt": solve_prompt(tok, by_id[r.problem_id].problem) + r.prefix + SPARK}
              for i, r in zip(todo.index, todo.itertuples())]  # fmt: skip
    out = frame.assign(forced_correct=np.nan)
    if forced:
        cont = sample_and_grade(backend, forced, 1, grader=exact_grade, seed=seed + 1, temperature=temperature,
                                prompt_fn=lambda d: d["prompt"], max_new_tokens=max_new_tokens)
        out.loc[cont["problem_id"].astype(int).to_numpy(), "forced_correct"] = cont["correct"].astype(float).to_numpy()
    return out[["problem_id", "sample", "spark", "correct", "forced_correct"]]


#: Columns of :func:`spark_gain_estimates` (also of the empty table where no spark is measured, e.g. the paper profile).
SPARK_GAIN_COLUMNS = ("pool", "quantity", "value", "lo", "hi", "n")


def spark_gain_estimates(gain: pd.DataFrame, *, pool: str = "", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Returns the spark's effect on accuracy from a ``spark_gain`` frame, 95% CIs by resampling problems
    (``workbook.metrics.bootstrap_ci`` of per-problem values): the share of samples with a spark; accuracy of
    samples with and without one (problems that have both; their paired difference); and the forced
    intervention's accuracy minus the same solutions' own (problems with at least one branch prefix)."""
    from workbook.metrics import bootstrap_ci

    def row(quantity, values):
        v = np.asarray(values, dtype=float)
        e = bootstrap_ci(v, n_boot=n_boot, seed=seed) if v.size else None
        value, lo, hi = (np.nan, np.nan, np.nan) if e is None else (e.value, e.lo, e.hi)
        return dict(zip(SPARK_GAIN_COLUMNS, (pool, quantity, value, lo, hi, int(v.size))))

    g = gain.assign(correct=gain["correct"].astype(float)).groupby("problem_id", sort=False)
    share = g["spark"].mean()
    both = [(x[x.spark].correct.mean(), x[~x.spark].correct.mean()) for _, x in g if x.spark.any() and (~x.spark).any()]
    f = gain[gain["forced_correct"].notna()].assign(correct=lambda x: x["correct"].astype(float))
    fg = f.groupby("problem_id", sort=False)
    return pd.DataFrame([
        row("share of samples with a spark", share),
        row("accuracy with a spark (natural samples)", [a for a, _ in both]),
        row("accuracy without a spark (natural samples)", [b for _, b in both]),
        row("with - without a spark (natural, paired by problem)", [a - b for a, b in both]),
        row("accuracy of the solutions as sampled (no spark)", fg["correct"].mean()),
        row("accuracy with the spark forced at the branch point", fg["forced_correct"].mean()),
        row("spark forced - as sampled (same solutions)", fg["forced_correct"].mean() - fg["correct"].mean()),
    ])  # fmt: skip


def selection_shares(train: pd.DataFrame, kinds=("spark", "noise"), *, n_boot: int = 2000, seed: int = 0,
                     by: str = "seed") -> pd.DataFrame:
    """Returns, per kind, the share of Lp-Reg's bottom-rho tokens and of its regularised tokens that are of that
    kind, summed over all steps of a run, with a 95% interval over runs (``by``; one share per run; a t-interval via
    ``workbook.metrics.hierarchical_bootstrap`` with one value per run). ``train``: the trainer's per-step log of
    the Lp-Reg runs with ``lp_reg/n_bottom_rho[_kind]`` and ``lp_reg/n_regularized[_kind]`` (``count_tokens``)."""
    from workbook.metrics import hierarchical_bootstrap

    rows = []
    counts = [c for c in train.columns if c.startswith(("lp_reg/n_bottom_rho", "lp_reg/n_regularized"))]
    tot = train.groupby(by)[counts].sum()
    for kind in kinds:
        for stage, total in (("bottom_rho", "lp_reg/n_bottom_rho"), ("regularized", "lp_reg/n_regularized")):
            col = f"{total}_{kind}"
            if col not in tot or total not in tot:
                continue
            share = (tot[col] / tot[total].where(tot[total] > 0)).dropna().to_numpy(float)
            e = hierarchical_bootstrap(share[:, None], n_boot=n_boot, seed=seed, what=f"{kind} share of {stage}") \
                if share.size else None
            rows.append({"kind": kind, "set": stage, "tokens": int(tot[col].sum()), "of": int(tot[total].sum()),
                         "value": np.nan if e is None else e.value, "lo": np.nan if e is None else e.lo,
                         "hi": np.nan if e is None else e.hi, "runs": int(share.size)})
    return pd.DataFrame(rows)
