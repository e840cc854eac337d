"""Tables and figures of the toy reasoner's base behaviour (notebook toy_reasoner).

Every estimate carries a 95% task-bootstrap CI over problems (or over verified
solutions for verification and refinement), from ``workbook.metrics.bootstrap_ci``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbook.metrics import bootstrap_ci, pass_at_k_curve
from workbook.toy.evaluate import confusion_matrix


def _row(est, **extra) -> dict:
    return {**extra, "value": est.value, "lo": est.lo, "hi": est.hi, "n_units": est.n}


def accuracy_table(result: dict, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Return pass@1 (mean over samples) per operand count and overall, with 95% CIs over problems."""
    correct, difficulty = result["correct"], result["difficulty"]
    rows = []
    for level in sorted(set(difficulty.tolist())):
        per_problem = correct[difficulty == level].mean(1)
        rows.append(_row(bootstrap_ci(per_problem, n_boot=n_boot, seed=seed), operands=str(level)))
    rows.append(_row(bootstrap_ci(correct.mean(1), n_boot=n_boot, seed=seed), operands="all"))
    return pd.DataFrame(rows)


def pass_at_k_table(result: dict, ks, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Return unbiased pass@k per k, per operand count and overall, with 95% CIs over problems."""
    correct, difficulty = result["correct"], result["difficulty"]
    n = correct.shape[1]
    ks = [k for k in ks if k <= n]
    curve = pass_at_k_curve(correct.sum(1), n, ks)  # (problems, len(ks))
    rows = []
    groups = [(str(level), difficulty == level) for level in sorted(set(difficulty.tolist()))]
    for name, sel in groups + [("all", np.ones(len(difficulty), dtype=bool))]:
        for j, k in enumerate(ks):
            rows.append(_row(bootstrap_ci(curve[sel, j], n_boot=n_boot, seed=seed), operands=name, k=k))
    return pd.DataFrame(rows)


def confusion_table(result: dict) -> pd.DataFrame:
    """Return the verification confusion matrix (rows: truth; columns: the model's verdict) as counts."""
    m = confusion_matrix(result["verify_truth"], result["verdicts"])
    return pd.DataFrame(m, index=["solution correct", "solution incorrect"],
                        columns=["says correct", "says incorrect", "no verdict"])


def transition_table(result: dict, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Return P(I→C) and P(C→I) of one refinement step, with the model's own report and an exact one."""
    before = np.asarray(result["verify_truth"], dtype=bool)
    rows = []
    for report, after in (("own verifier", result["refined_correct"]), ("exact checker", result["refined_oracle_correct"])):
        after = np.asarray(after, dtype=bool)
        for name, sel, moved in (("P(I->C)", ~before, after), ("P(C->I)", before, ~after)):
            if sel.sum() == 0:
                rows.append({"report": report, "transition": name, "value": np.nan, "lo": np.nan, "hi": np.nan,
                             "n_units": 0})
                continue
            est = bootstrap_ci(moved[sel].astype(float), n_boot=n_boot, seed=seed)
            rows.append(_row(est, report=report, transition=name))
    return pd.DataFrame(rows)


def verification_accuracy(result: dict, n_boot: int = 1000, seed: int = 0):
    """Return the Estimate of verification accuracy (verdict matches the truth; no verdict counts as wrong)."""
    truth = np.asarray(result["verify_truth"], dtype=bool)
    said_correct = np.array([v == "correct" for v in result["verdicts"]])
    said_incorrect = np.array([v == "incorrect" for v in result["verdicts"]])
    right = np.where(truth, said_correct, said_incorrect).astype(float)
    return bootstrap_ci(right, n_boot=n_boot, seed=seed)


def logprob_table(result: dict) -> pd.DataFrame:
    """Return summary statistics of sequence log-likelihood for correct vs incorrect solutions."""
    lp, correct = result["logprob"], result["correct"]
    rows = []
    for name, sel in (("correct", correct), ("incorrect", ~correct)):
        vals = lp[sel]
        rows.append({"solutions": name, "count": int(vals.size),
                     "mean": float(vals.mean()) if vals.size else np.nan,
                     "median": float(np.median(vals)) if vals.size else np.nan})
    return pd.DataFrame(rows)


def plot_base_behaviour(result: dict, acc: pd.DataFrame, pk: pd.DataFrame, log: dict | None = None):
    """Return a matplotlib figure with five panels: accuracy by difficulty, pass@k, confusion, transitions, log-lik."""
    import matplotlib.pyplot as plt

    from workbook import plotting

    fig, axes = plt.subplots(1, 5, figsize=(24, 4.4))
    a = acc[acc.operands != "all"]
    axes[0].bar(a.operands, a.value, yerr=[a.value - a.lo, a.hi - a.value], capsize=4)
    axes[0].set(xlabel="operands (difficulty)", ylabel="pass@1 (T=1)", ylim=(0, 1),
                title=f"accuracy by difficulty (95% CI over problems)")
    for name in pk.operands.unique():
        sub = pk[pk.operands == name]
        plotting.band(axes[1], sub.k.tolist(), sub.to_dict("records"), label=f"{name} operands" if name != "all" else "all",
                      color="black" if name == "all" else None)
    axes[1].set_xscale("log", base=2)
    axes[1].set(xlabel="k (samples per problem)", ylabel="pass@k", ylim=(0, 1.02), title="pass@k vs k (95% CI)")
    axes[1].legend(fontsize=8)
    conf = confusion_table(result)
    axes[2].imshow(conf.values, cmap="Blues")
    for (i, j), v in np.ndenumerate(conf.values):
        axes[2].text(j, i, str(v), ha="center", va="center")
    axes[2].set_xticks(range(3), conf.columns, fontsize=8)
    axes[2].set_yticks(range(2), ["correct", "incorrect"])
    axes[2].set_title("verification of own solutions")
    tr = transition_table(result, n_boot=200)
    for off, (report, sub) in enumerate(tr.groupby("report", sort=False)):
        x = np.arange(len(sub)) + 0.35 * off
        axes[3].bar(x, sub.value, width=0.35, yerr=[sub.value - sub.lo, sub.hi - sub.value], capsize=3, label=report)
    axes[3].set_xticks(np.arange(2) + 0.175, ["P(I→C)", "P(C→I)"])
    axes[3].set(ylim=(0, 1), ylabel="probability", title="one refinement step (95% CI)")
    axes[3].legend(fontsize=8)
    lp, correct = result["logprob"], result["correct"]
    bins = np.linspace(min(lp.min(), -30), 0, 40)
    axes[4].hist(lp[correct], bins=bins, alpha=0.6, density=True, label="correct")
    axes[4].hist(lp[~correct], bins=bins, alpha=0.6, density=True, label="incorrect")
    axes[4].set(xlabel="sequence log-likelihood (nats)", ylabel="density", title="log π(y|x) of samples")
    axes[4].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_training_curve(log: dict):
    """Return a figure of the mean training loss per skill against the optimizer step."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for task in ("solve", "verify", "refine"):
        ys = log.get(f"loss_{task}", [])
        pts = [(s, y) for s, y in zip(log.get("step", []), ys) if y is not None]
        if pts:
            ax.plot(*zip(*pts), label=task)
    ax.set(xlabel="optimizer step", ylabel="loss (nats / completion token)", yscale="log",
           title="training curve (mean over logged interval)")
    ax.legend()
    return fig
