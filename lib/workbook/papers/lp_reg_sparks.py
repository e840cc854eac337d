"""Lp-Reg's mechanism measured directly on the toy world: the spark's probability at its branch point over training.

Huang et al. 2025 (arXiv 2510.03222), Sec. 3: under on-policy RLVR, negative-advantage updates push down every
token of a wrong completion, so rare but useful tokens ("reasoning sparks", e.g. *wait*) lose probability; Lp-Reg
pulls the lowest-probability negative-advantage tokens that the min-p proxy keeps back towards the proxy, and leaves
the irrelevant noise below kappa · max p alone. The toy world (``docs/toy_world.md``) puts both into its traces at
one branch point (after a solution's last step): the spark ``workbook.toy.world.SPARK`` (p ≈ 0.05, above the
min-p threshold) and a noise tail ``NOISE_TOKENS`` (1% each, below it); the control world has neither.

- ``BranchProbe``: a probe (``workbook.rl.probes``) recording, at fixed held-out problems and teacher-forced,
  P(spark | branch context), the noise tail's mass and the top token's probability
  (``workbook.toy.knobs.branch_point_probs``) during training;
- ``branch_matrix`` / ``spark_claims``: per (seed, problem) values and the claims on them with hierarchical CIs
  over seeds × problems (``workbook.metrics``);
- ``selection_composition`` / ``rho_to_reach_sparks``: which tokens of a rollout batch Lp-Reg's bottom-rho set
  holds (spark, noise, other) and the smallest rho whose bottom set reaches every negative-advantage spark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbook.rl.probes import Probe, ProbeContext

__all__ = ["BranchProbe", "branch_matrix", "spark_claims", "token_kind", "selection_composition",
           "rho_to_reach_sparks", "regulariser_pull"]  # fmt: skip


@dataclass(frozen=True)
class BranchProbe(Probe):
    """Teacher-forced next-token probabilities at the branch point after each probe problem's reference steps.

    One row per (step, problem): p_spark, p_noise (noise-tail mass), p_max (top token). Needs a toy checkpoint of
    world version >= 3 (its tokenizer has the spark token); one forward pass per problem, no sampling.
    """

    name: str = "branch"

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        from workbook.toy.knobs import branch_point_probs

        was_training = model.training
        model.eval()
        try:
            return branch_point_probs(model, ctx.tokenizer, self.problems).to_dict("records")
        finally:
            model.train(was_training)


def branch_matrix(frame: pd.DataFrame, label: str, step: int, value: str = "p_spark") -> np.ndarray:
    """Returns the (seeds, problems) matrix of ``value`` of arm ``label`` at probe ``step`` (problems sorted)."""
    f = frame[(frame["label"] == label) & (frame["step"] == step)]
    return f.pivot_table(index="seed", columns="problem_id", values=value).sort_index(axis=1).to_numpy(float)


def spark_claims(branch: pd.DataFrame, *, world: str = "", n_boot: int = 2000, seed: int = 0) -> dict:
    """Returns the mechanism's estimates on a ``BranchProbe`` frame (label, seed, step, problem_id, p_spark, ...).

    ``grpo_change``: GRPO's P(spark) at the last probe minus step 0 (per seed and problem; Sec. 3: sparks are
    driven out); ``<arm>_minus_grpo``: the arm's P(spark) at the last probe minus GRPO's (Lp-Reg keeps sparks);
    ``noise_lp_reg_minus_grpo``: the same for the noise tail's mass (Lp-Reg should not protect noise). Arms are
    compared within a seed (the runs of one seed share the initial model, data order and sampling seed: common
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
        if "lp_reg" in arms:
            out["noise_lp_reg_minus_grpo"] = paired("lp_reg", "p_noise",
                                                    f"noise-tail mass at step {last}: lp_reg - grpo, paired{tag}")
    return out


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
