"""1-shot RLVR estimates: the held-out curve read at saturation and at each run's peak, the claims' estimates and
the chance to decide them.

Wang et al. 2025, arXiv 2504.20571: post-saturation generalization (Sec. 3.2), the entropy ablations (Sec. 4),
the checkpoint rule (each run at its best validation step). Split from ``workbook.papers.one_shot_rlvr``, which
re-exports every name here; see ``docs/papers/one_shot_rlvr.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["OS4B_STEP", "curve_matrix", "saturation_steps", "post_saturation_change", "peak_steps", "at_peak",
           "peak_table", "paired_difference", "sweep_table", "live_after_saturation", "accuracy_matrix", "accuracy",
           "accuracy_difference", "noninferiority", "claims", "decision_power"]


OS4B_STEP = 60  # the third-party entropy-only check's step (its gain peaks near there and fades later)


def curve_matrix(curve: pd.DataFrame, label: str, steps, problems: list[str], y: str = "accuracy") -> np.ndarray:
    """Returns the (seeds × problems) matrix of ``y`` (a column, or "unboxed" = n_unboxed / n) of ``label`` on the
    held-out curve, seed s read at ``steps[s]`` (one step per seed, or one int for all); NaN where missing."""
    f = curve[curve["label"] == label]
    seeds = sorted(f["seed"].unique())
    steps = dict(zip(seeds, steps)) if np.ndim(steps) else {s: steps for s in seeds}
    out = np.full((len(seeds), len(problems)), np.nan)
    col = {p: j for j, p in enumerate(problems)}
    for i, s in enumerate(seeds):
        g = f[(f["seed"] == s) & (f["step"] == steps[s])]
        vals = g["n_unboxed"] / g["n"] if y == "unboxed" else g[y]
        for pid, v in zip(g["problem_id"], vals):
            if pid in col:
                out[i, col[pid]] = v
    return out


def saturation_steps(train: pd.DataFrame, curve: pd.DataFrame, label: str, threshold: float) -> dict:
    """Returns {seed: the first held-out evaluation step at or after the step where ``label``'s rollout accuracy
    on π1 first reached ``threshold``} (Sec. 3.2's "training accuracy saturates"); seeds that never saturate, or
    saturate after their last evaluation, are left out."""
    out = {}
    for s, tr in train[train["label"] == label].groupby("seed"):
        hit = tr.sort_values("step").loc[tr["accuracy"] >= threshold, "step"]
        ev = sorted(curve.loc[(curve["label"] == label) & (curve["seed"] == s), "step"].unique())
        after = [e for e in ev if len(hit) and e >= hit.iloc[0]]
        if len(after) >= 2:
            out[int(s)] = int(after[0])
    return out


def post_saturation_change(train: pd.DataFrame, curve: pd.DataFrame, label: str, threshold: float,
                           problems: list[str], y: str = "accuracy") -> np.ndarray:
    """Returns (saturated seeds × problems): ``y`` at the last evaluation minus at the first evaluation at or after
    saturation, per seed and problem (Sec. 3.2, post-saturation generalization), for a hierarchical bootstrap."""
    sat = saturation_steps(train, curve, label, threshold)
    f = curve[(curve["label"] == label) & curve["seed"].isin(list(sat))]
    if not sat:
        return np.empty((0, len(problems)))
    last = f.groupby("seed")["step"].max()
    end = curve_matrix(f, label, [int(last[s]) for s in sorted(sat)], problems, y)
    start = curve_matrix(f, label, [sat[s] for s in sorted(sat)], problems, y)
    return end - start


def peak_steps(curve: pd.DataFrame, label: str, problems: list[str]) -> dict:
    """Returns {seed: the trained step (> 0) with the highest mean held-out accuracy on ``problems``}: the paper's
    checkpoint rule (report each run at its best validation step). ``problems`` must be disjoint from those the
    chosen step is then scored on, or the peak's selection bias inflates the score. Step 0, the untrained model,
    is not a checkpoint of the run (it is the base every arm is compared with)."""
    f = curve[(curve["label"] == label) & curve["problem_id"].isin(problems) & (curve["step"] > 0)]
    m = f.groupby(["seed", "step"])["accuracy"].mean().reset_index()
    m = m.sort_values(["seed", "accuracy", "step"], ascending=[True, False, True])  # ties: the earlier step
    return {int(s): int(g["step"].iloc[0]) for s, g in m.groupby("seed")}


def at_peak(curve: pd.DataFrame, label: str, select: list[str], score: list[str], y: str = "accuracy") -> np.ndarray:
    """Returns the (seeds × ``score`` problems) matrix of ``label`` at each seed's peak step chosen on ``select``."""
    peaks = peak_steps(curve, label, select)
    return curve_matrix(curve, label, [peaks[s] for s in sorted(peaks)], score, y)


def peak_table(curve: pd.DataFrame, select: list[str], score: list[str], n_boot: int = 2000,
               seed: int = 0) -> pd.DataFrame:
    """Returns one row per arm: its peak steps (chosen on ``select``), held-out accuracy and unboxed share there
    on ``score`` (hierarchical intervals over seeds × problems), and the same at step 0 (the base)."""
    from workbook.metrics import hierarchical_bootstrap

    rows = []
    for lab in curve["label"].unique():
        peaks = peak_steps(curve, lab, select)
        row = {"arm": lab, "peak_steps": ",".join(str(peaks[s]) for s in sorted(peaks))}
        for y in ("accuracy", "unboxed"):
            e = hierarchical_bootstrap(at_peak(curve, lab, select, score, y), n_boot=n_boot, seed=seed, bounds=(0, 1))
            row.update({y: e.value, f"{y}_lo": e.lo, f"{y}_hi": e.hi})
        row["n_problems"], row["n_seeds"] = len(score), len(peaks)
        rows.append(row)
    return pd.DataFrame(rows)


def paired_difference(curve: pd.DataFrame, a: str, b: str, select: list[str], score: list[str], what: str = "",
                      y: str = "accuracy", n_boot: int = 2000, seed: int = 0):
    """Returns ``a`` − ``b`` at their peaks (``b`` = "base": step 0 of π1), differenced within each seed both ran
    (seed s of every π1 arm starts from the same model and draws the same training uniforms; with
    ``FormatProbe.same_draws`` also the same evaluation samples), bootstrapped over seeds × ``score`` problems."""
    from workbook.metrics import hierarchical_bootstrap

    ref = "pi1" if b == "base" else b
    common = set(curve.loc[curve["label"] == a, "seed"]) & set(curve.loc[curve["label"] == ref, "seed"])
    both = curve[curve["seed"].isin(common)]
    xb = curve_matrix(both, "pi1", 0, score, y) if b == "base" else at_peak(both, b, select, score, y)
    return hierarchical_bootstrap(at_peak(both, a, select, score, y) - xb, n_boot=n_boot, seed=seed,
                                  what=f"{what or f'{a} - {b}'}, paired by seed")


def sweep_table(curve: pd.DataFrame, labels: list[str], select: list[str], score: list[str], n_boot: int = 2000,
                seed: int = 0) -> pd.DataFrame:
    """Returns one row per entropy-sweep arm (Sec. 4.1): its held-out accuracy and unboxed share at its peak minus
    π1's (coefficient 0.001) at its peak, paired by seed, and the share of held-out cells (seed, step, problem)
    where its curve equals π1's exactly (1.0: the coefficient changed no sampled token)."""
    rows = []
    ref = curve[curve["label"] == "pi1"].set_index(["seed", "step", "problem_id"])
    for lab in labels:
        f = curve[(curve["label"] == lab) & (curve["step"] > 0)].set_index(["seed", "step", "problem_id"])
        r = ref.reindex(f.index)
        same = (f["n_correct"] == r["n_correct"]) & (f["n_unboxed"] == r["n_unboxed"])
        row = {"arm": lab, "identical_to_pi1": float(same.mean()) if len(f) else float("nan")}
        for y in ("accuracy", "unboxed"):
            e = paired_difference(curve, lab, "pi1", select, score, y=y, n_boot=n_boot, seed=seed)
            row.update({f"{y}_minus_pi1": e.value, f"{y}_lo": e.lo, f"{y}_hi": e.hi})
        row["n_seeds"] = e.n_seeds
        rows.append(row)
    return pd.DataFrame(rows)


def live_after_saturation(live: pd.DataFrame, train: pd.DataFrame, curve: pd.DataFrame, threshold: float,
                          labels: tuple = ("pi1", "pi1_control")) -> pd.DataFrame:
    """Returns ``live_share`` rows of ``labels`` after each seed's saturation step (:func:`saturation_steps`)."""
    parts = []
    for lab in labels:
        for s, step in saturation_steps(train, curve, lab, threshold).items():
            parts.append(live[(live["label"] == lab) & (live["seed"] == s) & (live["step"] > step)])
    return pd.concat(parts, ignore_index=True) if parts else live.iloc[:0]


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


def claims(curve: pd.DataFrame, train: pd.DataFrame, select: list[str], score: list[str], threshold: float,
           final: pd.DataFrame | None = None, datasets: list[str] = (), n_boot: int = 2000, seed: int = 0,
           paired: bool = False, post: pd.DataFrame | None = None) -> dict:
    """Returns the estimates of the toy claims from the held-out curve (label, seed, step, problem_id, accuracy,
    n_unboxed, n) and the training log, and with MATH500 in ``datasets`` the paper-scale rows from ``final``.

    Arms are compared at each run's peak step (the paper's checkpoint rule), chosen on ``select`` and scored on the
    disjoint ``score`` problems; the base is every π1 run's step 0. OS-1d: π1 − (base + full set)/2 (non-inferiority,
    Table 1); OS-2/OS-2m: the post-saturation change of accuracy / of the unboxed share on all held-out problems
    (Sec. 3.2); OS-2c: that gain in the deficient world minus in the control world; OS-3a/3b: π1 − entropy-only,
    π1 − no entropy bonus (Sec. 4); OS-4t: entropy-only − base. Estimates over seeds × problems
    (``workbook.metrics``); an arm that did not run gives None. ``paired``: OS-3a, OS-3b and OS-4t difference
    the two arms within each seed they share first (seed s of every π1 arm starts from the same model, draws the same
    training uniforms, and with ``FormatProbe.same_draws`` the same evaluation samples), then bootstrap the
    differences over seeds × problems; otherwise the seeds of each arm are resampled on their own. ``post``: the
    frame of a ``SaturationProbe`` (its own held-out problems, measured at saturation and at the end); when given,
    OS-2 and OS-2m read it, on all its problems, instead of the curve, and so does OS-2c when the probe measured the
    control world too (else OS-2c reads the curve in both worlds)."""
    from workbook.metrics import benchmark_average_ci, hierarchical_bootstrap, hierarchical_difference
    from workbook.metrics import hierarchical_contrast
    from workbook.reporting import requires, untestable

    kw = {"n_boot": n_boot, "seed": seed}
    have = set(curve["label"])
    peak = {a: at_peak(curve, a, select, score) for a in have}
    base = curve_matrix(curve, "pi1", 0, score)
    everything = list(select) + list(score)

    def diff(a, b, what):
        if not {a, b} <= have | {"base"}:
            return None
        if not paired:
            return hierarchical_difference(peak[a], peak.get(b, base), what=what, **kw)
        return paired_difference(curve, a, b, select, score, what=what, **kw)

    own = post is not None and len(post) > 0
    window, window_ids = (post, sorted(set(post["problem_id"]))) if own else (curve, everything)

    def change(label, y, on=None):
        frame, ids = on or (window, window_ids)
        x = post_saturation_change(train, frame, label, threshold, ids, y)
        return x if len(x) else None

    out: dict = {"OS-3a": diff("pi1", "entropy_only", "pi1 - entropy-only (at peaks)"),
                 "OS-3b": diff("pi1", "no_entropy", "pi1 - no entropy bonus (at peaks)")}
    if "entropy_only" in have:
        out["OS-4t"] = diff("entropy_only", "base", "entropy-only (peak) - base")
    if "full_set" in have:
        gain = hierarchical_difference(peak["full_set"], base, what="full set - base", **kw)
        out["OS-1d"] = requires(gain, "the full_set arm beats the base", hierarchical_contrast(
            [peak["pi1"], base, peak["full_set"]], [1.0, -0.5, -0.5], what="pi1 - (base + full set)/2", **kw))
    acc, unb = change("pi1", "accuracy"), change("pi1", "unboxed")
    none = untestable(f"no pi1 run reached rollout accuracy {threshold} with two evaluations left")
    out["OS-2"] = hierarchical_bootstrap(acc, what="post-saturation gain", **kw) if acc is not None else none
    out["OS-2m"] = hierarchical_bootstrap(unb, what="post-saturation change of the unboxed share",
                                          **kw) if unb is not None else none  # fmt: skip
    if "pi1_control" in have:
        # Both worlds on one set of problems: the post probe's when it measured the control world too, else the
        # curve's (a design may spend the post probe on the deficient world alone).
        both = None if own and "pi1_control" in set(post["label"]) else (curve, everything)
        a, ctl = change("pi1", "accuracy", both), change("pi1_control", "accuracy", both)
        out["OS-2c"] = hierarchical_difference(a, ctl, what="post-saturation gain: deficient - control world",
                                               **kw) if a is not None and ctl is not None else none  # fmt: skip
    if final is not None and "math500" in datasets:
        out.update({"OS-1a": accuracy(final, "base", "math500", n_boot, seed),
                    "OS-1b": accuracy(final, "pi1", "math500", n_boot, seed),
                    "OS-4": out.get("OS-4t")})  # the curve is MATH500: entropy-only at its peak step
        eo = curve[curve["label"] == "entropy_only"]
        if OS4B_STEP in set(eo["step"]):  # the third party's step, not the peak: entropy-only at 60 − its step 0
            out["OS-4b"] = hierarchical_bootstrap(curve_matrix(eo, "entropy_only", OS4B_STEP, everything)
                                                  - curve_matrix(eo, "entropy_only", 0, everything),
                                                  what=f"entropy-only at step {OS4B_STEP} - step 0", **kw)
        if "full_set" in set(final["label"]):
            out["OS-1d"] = noninferiority(final, "pi1", "full_set", "math500", n_boot, seed)
        if len(datasets) == 6:
            out["OS-1c"] = benchmark_average_ci(final[final["label"] == "pi1"], seed=seed, n_boot=n_boot)
    return out


def decision_power(params: dict, ids: tuple = ("OS-2", "OS-4t"), n_sim: int = 400, seed: int = 0) -> pd.DataFrame:
    """Returns per claim the pre-registered chance of each verdict at its expected effect under this design
    (`workbook.reporting.power.decision_table`): for a claim expected to be absent (OS-2, OS-4t) the chance to
    *decide* it is P(not reproduced), which the "reproduced"-only power table cannot show. A profile with no toy
    design (the paper's: all problems) reads "no power: ..." in ``design``."""
    from workbook.reporting.power import decision_table

    cols = ["claim_id", "expected_effect", "min_effect", "design", "reproduced", "not reproduced", "inconclusive"]
    return decision_table("one_shot_rlvr", params, ids, n_sim=n_sim, seed=seed)[cols]
