"""1-shot RLVR: choosing π1 by the variance of its training-accuracy history, post-saturation gains, the cost plan.

Wang et al. 2025, "Reinforcement Learning for Reasoning in Large Language Models with One Training Example",
arXiv 2504.20571; official code ``ypwang61/One-Shot-RLVR`` (verl 0.2 fork). The objective (GRPO with k3 KL 0.001,
entropy bonus 0.001, T = 0.6; Sec. 2 and ``core_algos.py``/``dp_actor.py::update_policy``) is registered as
``one_shot_rlvr`` and ``entropy_only`` in ``workbook.rl.methods``; this module adds the data-selection rule
(Sec. 2.2, ``data/data_selection.py --method std``), the post-saturation measurement (Sec. 3.2), the parameter
checks and the cost plan. See ``docs/papers/one_shot_rlvr.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ARMS", "historical_accuracy", "select_by_variance", "post_saturation_gains", "accuracy_matrix", "accuracy",
           "accuracy_difference", "noninferiority", "claims", "plan", "validate"]

ARMS = ("pi1", "full_set", "no_entropy", "entropy_only", "random_example")


def historical_accuracy(history: pd.DataFrame, steps_per_epoch: int) -> pd.DataFrame:
    """Returns per (problem_id, epoch) training accuracy n_correct / n (the paper's ``acc_step_500.json``) from
    ``Results.history`` (one row per rollout group: step, problem_id, n, n_correct)."""
    if steps_per_epoch < 1:
        raise ValueError("steps_per_epoch must be >= 1")
    h = history.assign(epoch=(history["step"] - 1) // steps_per_epoch)
    g = h.groupby(["problem_id", "epoch"], as_index=False)[["n", "n_correct"]].sum()
    return g.assign(accuracy=g["n_correct"] / g["n"])


def select_by_variance(hist_acc: pd.DataFrame, top_index: int = 0) -> tuple[str, pd.DataFrame]:
    """Returns (problem_id ranked ``top_index`` by std of historical accuracy, the full ranking frame).

    Ranking: population std over epochs (``np.std``, as ``data_selection.py``), descending; ties broken by
    problem_id for determinism. Problems seen in fewer than 2 epochs rank last.
    """
    rank = (hist_acc.groupby("problem_id")["accuracy"]
            .agg(std=lambda a: float(np.std(a)) if len(a) > 1 else -1.0, mean="mean", epochs="count")
            .reset_index().sort_values(["std", "problem_id"], ascending=[False, True], ignore_index=True))  # fmt: skip
    if not 0 <= top_index < len(rank):
        raise ValueError(f"top_index {top_index} out of range for {len(rank)} problems")
    return str(rank.loc[top_index, "problem_id"]), rank


def post_saturation_gains(train: pd.DataFrame, curve: pd.DataFrame, threshold: float,
                          label: str = "pi1") -> pd.DataFrame:
    """Returns per seed of ``label`` that saturated: the step where its rollout accuracy first reached
    ``threshold``, and ``gain`` = held-out accuracy at the last evaluation minus at the first evaluation at or after
    that step (Sec. 3.2: test accuracy keeps rising after training accuracy saturates).

    ``train``: ``Results.train`` (label, seed, step, accuracy); ``curve``: held-out accuracy per (label, seed,
    step). A seed that never saturates, or has fewer than two evaluations after it, contributes no row.
    """
    rows = []
    for s, tr in train[train["label"] == label].groupby("seed"):
        ev = curve[(curve["label"] == label) & (curve["seed"] == s)].sort_values("step")
        hit = tr.sort_values("step").loc[tr["accuracy"] >= threshold, "step"]
        after = ev[ev["step"] >= hit.iloc[0]] if len(hit) else ev.iloc[:0]
        if len(after) >= 2:
            rows.append({"seed": s, "saturated_at": int(hit.iloc[0]),
                         "gain": float(after["accuracy"].iloc[-1] - after["accuracy"].iloc[0])})  # fmt: skip
    return pd.DataFrame(rows, columns=["seed", "saturated_at", "gain"])


def accuracy_matrix(final: pd.DataFrame, label: str, dataset: str | None = None) -> np.ndarray | None:
    """Returns the (problems × seeds) held-out accuracy of ``label`` (rows sorted by problem_id), None if absent.
    ``final``: the final ``EvalProbe`` frames of the runs and the base model (label, seed, problem_id, n, n_correct)."""
    f = final[(final["label"] == label) & ((final["dataset"] == dataset) if dataset else True)]
    f = f.assign(acc=f["n_correct"] / f["n"])
    return f.pivot(index="problem_id", columns="seed", values="acc").sort_index().to_numpy() if len(f) else None


def accuracy(final: pd.DataFrame, label: str, dataset: str | None = None, n_boot: int = 2000, seed: int = 0):
    """Returns ``label``'s mean held-out accuracy (seeds averaged per problem, bootstrap over problems) or None."""
    from workbook.metrics import bootstrap_ci

    x = accuracy_matrix(final, label, dataset)
    return None if x is None else bootstrap_ci(x, n_boot=n_boot, seed=seed)


def accuracy_difference(final: pd.DataFrame, a: str, b: str, dataset: str | None = None, n_boot: int = 2000,
                        seed: int = 0):
    """Returns mean accuracy of ``a`` − ``b``, paired over problems (b's seeds averaged per problem), or None."""
    from workbook.metrics import bootstrap_ci

    x, y = accuracy_matrix(final, a, dataset), accuracy_matrix(final, b, dataset)
    return None if x is None or y is None else bootstrap_ci(x - y.mean(1, keepdims=True), n_boot=n_boot, seed=seed)


def noninferiority(final: pd.DataFrame, arm: str, comparator: str, dataset: str | None = None, n_boot: int = 2000,
                   seed: int = 0):
    """Returns held-out accuracy ``arm`` − (base + ``comparator``)/2 over seeds × problems (``hierarchical_contrast``)
    passed through ``requires(comparator − base > 0)``, or None when an arm is missing.

    ``arm`` − ``comparator`` > −(``comparator`` − base)/2 keeps at least half the comparator's gain over the base
    (the conventional non-inferiority margin); with no gain to keep, the claim reads "untestable here"."""
    from workbook.metrics import hierarchical_contrast, hierarchical_difference
    from workbook.reporting import requires

    x, b, c = (accuracy_matrix(final, lab, dataset) for lab in (arm, "base", comparator))
    if x is None or b is None or c is None:
        return None
    x, b, c = x.T, b.T, c.T                                              # (seeds, problems)
    gain = hierarchical_difference(c, b, n_boot=n_boot, seed=seed, what=f"{comparator} - base")
    return requires(gain, f"the {comparator} arm beats the base", hierarchical_contrast(
        [x, b, c], [1.0, -0.5, -0.5], n_boot=n_boot, seed=seed, what=f"{arm} - (base + {comparator})/2"))


def claims(final: pd.DataFrame, gains: pd.DataFrame, datasets: list[str], n_boot: int = 2000, seed: int = 0) -> dict:
    """Returns the estimates of OS-1d (π1 − (base + full set)/2, non-inferiority, Table 1), OS-2 (the post-saturation gain over seeds, Sec.
    3.2), OS-3a/3b (π1 − entropy-only, π1 − no entropy bonus; Sec. 4), OS-4t (entropy-only − base); with MATH500
    among ``datasets`` also OS-1a/1b/4 on MATH500, and with all six benchmarks OS-1c (their average)."""
    from workbook.metrics import benchmark_average_ci, hierarchical_bootstrap

    def diff(a, b, dataset=None):
        return accuracy_difference(final, a, b, dataset, n_boot, seed)

    out = {"OS-1d": noninferiority(final, "pi1", "full_set", n_boot=n_boot, seed=seed), "OS-3a": diff("pi1", "entropy_only"), "OS-3b": diff("pi1", "no_entropy"),
           "OS-4t": diff("entropy_only", "base"),
           "OS-2": hierarchical_bootstrap(gains["gain"].to_numpy()[:, None], n_boot=n_boot, seed=seed,
                                          what="post-saturation gain") if len(gains) else None}  # fmt: skip
    if "math500" in datasets:
        out.update({"OS-1a": accuracy(final, "base", "math500", n_boot, seed),
                    "OS-1b": accuracy(final, "pi1", "math500", n_boot, seed),
                    "OS-4": diff("entropy_only", "base", "math500")})  # fmt: skip
        if len(datasets) == 6:
            out["OS-1c"] = benchmark_average_ci(final[final["label"] == "pi1"], seed=seed, n_boot=n_boot)
    return out


def validate(params: dict) -> None:
    """Raises ``ParameterError`` unless the arms include π1 and come from :data:`ARMS`, and both training sets
    are "synthetic" or a known ``workbook.data`` dataset."""
    from workbook.data.benchmarks import DATASETS
    from workbook.params import ParameterError

    arms = params.get("arms") or []
    if set(arms) - set(ARMS) or "pi1" not in arms:
        raise ParameterError(f"one_shot_rlvr: arms must include pi1 and come from {', '.join(ARMS)}; got {arms}")
    for key in ("train_set", "full_train_set"):
        name = params.get(key, "synthetic")
        if name != "synthetic" and name not in DATASETS:
            raise ParameterError(f"one_shot_rlvr: unknown {key} {name!r}; valid: synthetic, {', '.join(DATASETS)}")
    if params.get("train_set", "synthetic") == "synthetic" and "full_set" not in arms:
        raise ParameterError("one_shot_rlvr: on the toy, pi1 is chosen from the full-set arm's history: keep "
                             "'full_set' in arms")  # fmt: skip


def plan(params: dict) -> dict:
    """Returns the cost plan (``workbook.rl.plan.Plan`` as a dict with ``summary``): arms × seeds runs with the
    reference model on (KL 0.001), the held-out curve and the final official-protocol evaluation. Loads no model
    and needs no GPU."""
    from workbook.rl.plan import plan_from_params

    validate(params)
    return plan_from_params(params, with_reference=True).to_dict()

