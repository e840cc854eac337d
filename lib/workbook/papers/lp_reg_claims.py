"""Lp-Reg's notebook frames and claim estimates: probe curves, the toy claims LP-1/LP-2 and the paper claims LP-3.

Huang et al. 2025, "Low-probability Tokens Sustain Exploration in Reinforcement Learning with Verifiable Reward"
(arXiv 2510.03222). ``probe_curves`` turns ``workbook.papers.lp_reg.LowProbProbe``'s frames into per-step curves;
``toy_claims`` / ``collapse_verdict`` read the toy-scale claims from them, ``paper_claims`` the benchmark claims of
Table 1, ``comparable_setting`` what a run needs for its paper-scale verdicts to be comparable. Re-exported by
``workbook.papers.lp_reg``.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

__all__ = ["probe_curves", "final_accuracy", "toy_claims", "collapse_verdict", "paper_claims", "comparable_setting"]


def probe_curves(summary: pd.DataFrame, problems: pd.DataFrame, events: pd.DataFrame,
                 ks: Sequence[int]) -> pd.DataFrame:
    """Returns ``LowProbProbe``'s per-step frame (label, seed, step, entropy, ...) with, per (label, seed, step),
    pass@k for ``ks`` (unbiased, mean over problems), n_sparks / n_in_correct (``spark_counts``) and the per-1,000
    token rates sparks_per_1k and low_prob_per_1k."""
    from workbook.metrics import pass_at_k_curve
    from workbook.papers.lp_reg import spark_counts

    by = ["label", "seed", "step"]
    cols = [f"pass@{k}" for k in ks]
    pp = problems.copy()
    pp[cols] = pass_at_k_curve(pp["n_correct"].to_numpy(), pp["n"].to_numpy(), list(ks))
    sparks = spark_counts(events, pp)[[*by, "n_sparks", "n_in_correct"]]
    out = summary.merge(pp.groupby(by, as_index=False)[cols].mean(), on=by).merge(sparks, on=by, how="left")
    out[["n_sparks", "n_in_correct"]] = out[["n_sparks", "n_in_correct"]].fillna(0)
    tokens = out["tokens"].clip(lower=1)
    return out.assign(sparks_per_1k=1000 * out["n_sparks"] / tokens, low_prob_per_1k=1000 * out["n_low_prob"] / tokens)


def _seed_estimate(values: pd.Series, what: str, n_boot: int, seed: int):
    """An interval over seeds (one value each), or None for fewer than two seeds (no interval to pose as one)."""
    from workbook.metrics import hierarchical_bootstrap

    v = values.dropna()
    if len(v) < 2:
        return None
    e = hierarchical_bootstrap(v.to_numpy(float)[:, None], n_boot=n_boot, seed=seed, what=what)
    return type(e)(e.value, e.lo, e.hi, e.n_seeds, what)  # n = seeds, the unit of this interval


def final_accuracy(final: pd.DataFrame, label: str) -> pd.DataFrame:
    """Returns the (problems × seeds) held-out accuracy of ``label`` from a final ``EvalProbe`` frame."""
    f = final[final["label"] == label]
    return f.assign(acc=f["n_correct"] / f["n"]).pivot(index="problem_id", columns="seed", values="acc").sort_index()


def toy_claims(curves: pd.DataFrame, final: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> dict:
    """Returns the estimates of claims LP-1a–c, LP-2a, LP-2b and LP-2d from ``probe_curves`` and the final greedy
    evaluation.

    Per seed, LP-1a is GRPO's relative entropy change, last probe ÷ step 0 − 1 (so "collapse", entropy below half its
    step-0 value, is a change below −0.5), LP-1b the change last probe minus step 0, and a difference between arms
    compares the last probes of the same seed (intervals over seeds); LP-2d compares final held-out accuracy of
    the same seed and problem (arms of a seed share the initial model and data order), with a
    ``workbook.metrics.hierarchical_bootstrap`` over seeds × problems. The sampled-spark count of ``probe_curves``
    is no claim: the toy world's spark lies above the min-p threshold, so a count of sampled tokens *outside* the
    proxy's support never holds it (the spark's own probability is ``workbook.papers.lp_reg_sparks.spark_claims``).
    """
    from workbook.metrics import hierarchical_bootstrap

    last = int(curves["step"].max())
    per_seed = curves.pivot_table(index=["label", "seed"], columns="step", values=["entropy", "low_prob_mass"])
    arms = set(per_seed.index.get_level_values(0))

    def change(label, value):
        x = per_seed.loc[label][value] if label in arms else None
        return None if x is None else _seed_estimate(x[last] - x[0], f"{label} {value}: last probe minus step 0",
                                                     n_boot, seed)  # fmt: skip

    def relative(label, value):
        x = per_seed.loc[label][value] if label in arms else None
        if x is None:
            return None
        rel = (x[last] / x[0].where(x[0] > 0)) - 1.0                     # a seed with zero step-0 entropy: no ratio
        return _seed_estimate(rel, f"{label} {value}: last probe / step 0 - 1", n_boot, seed)

    def diff(a, b, value):
        if not {a, b} <= arms:
            return None
        return _seed_estimate(per_seed.loc[a][value][last] - per_seed.loc[b][value][last], f"{a} - {b} {value}",
                              n_boot, seed)  # fmt: skip

    x, y = final_accuracy(final, "lp_reg"), final_accuracy(final, "grpo")
    paired = (x - y).T.to_numpy(float) if len(x) and len(y) else None  # (seeds, problems): same seed, same problem
    return {
        "LP-1a": relative("grpo", "entropy"), "LP-1b": change("grpo", "low_prob_mass"),
        "LP-1c": diff("grpo_entropy", "grpo", "entropy"), "LP-2a": diff("lp_reg", "grpo", "entropy"),
        "LP-2b": diff("lp_reg", "grpo", "low_prob_mass"),
        "LP-2d": None if paired is None else hierarchical_bootstrap(paired, n_boot=n_boot, seed=seed,
                                                                    what="held-out accuracy: lp_reg - grpo, paired"),
    }  # fmt: skip


def collapse_verdict(curves: pd.DataFrame, change) -> tuple[bool, str]:
    """Returns (collapsed, sentence): GRPO's probe entropy collapses when the whole 95% interval of its relative
    change (LP-1a, ``change``: last probe ÷ step 0 − 1 per seed) lies below −0.5, i.e. below half its step-0
    value."""
    g = curves[curves["label"] == "grpo"]
    last = int(curves["step"].max())
    e0, e_last = float(g.loc[g["step"] == 0, "entropy"].mean()), float(g.loc[g["step"] == last, "entropy"].mean())
    if change is None:
        return False, "not measured"
    collapsed = bool(change.hi < -0.5)
    return collapsed, (f"GRPO probe entropy went from {e0:.4f} to {e_last:.4f} nats/token over {last} steps (relative "
                       f"change {change.value:+.1%} [{change.lo:+.1%}, {change.hi:+.1%}], n = {change.n} seeds): "
                       + ("entropy COLLAPSES at this scale." if collapsed
                          else "NO entropy collapse at this scale (by the rule above)."))  # fmt: skip


def paper_claims(final: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> dict:
    """Returns LP-3 (Lp-Reg's benchmark average), LP-3f/g (GRPO, GRPO + entropy), LP-3a–e (per benchmark) and
    LP-3h (Lp-Reg − GRPO per problem, averaged per benchmark) with stratified bootstrap CIs (Table 1)."""
    from workbook.metrics import benchmark_average_ci

    def avg(frame):
        return benchmark_average_ci(frame, seed=seed, n_boot=n_boot) if len(frame) else None

    out = {"LP-3": avg(final[final["label"] == "lp_reg"]), "LP-3f": avg(final[final["label"] == "grpo"]),
           "LP-3g": avg(final[final["label"] == "grpo_entropy"])}
    for cid, bench in zip(["LP-3a", "LP-3b", "LP-3c", "LP-3d", "LP-3e"],
                          ["aime24", "aime25", "math500", "minerva", "olympiadbench"]):
        out[cid] = avg(final[(final["label"] == "lp_reg") & (final["dataset"] == bench)])
    pair = final[final["label"].isin(["lp_reg", "grpo"])].assign(acc=lambda x: x["n_correct"] / x["n"])
    pair = pair.pivot_table(index=["dataset", "problem_id"], columns="label", values="acc").dropna().reset_index()
    if {"lp_reg", "grpo"} <= set(pair.columns):
        out["LP-3h"] = avg(pair.assign(n=1, n_correct=pair["lp_reg"] - pair["grpo"]))
    return {k: v for k, v in out.items() if v is not None}


def comparable_setting(method: str = "lp_reg", claim_id: str = "LP-3") -> dict:
    """Returns the parameters a run needs for its paper-scale verdicts to be comparable with the paper's numbers
    (``setting.match`` of ``claim_id`` in ``workbook/reported/<method>.yaml``; ``workbook.reporting.verdicts``
    reads any other setting as "not comparable")."""
    from workbook.reporting.claims import load_reported

    return dict(next(c for c in load_reported(method) if c["id"] == claim_id)["setting"]["match"])
