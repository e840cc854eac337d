"""1-shot RLVR: choosing π1 by the variance of its training-accuracy history, post-saturation gains, the cost plan.

Wang et al. 2025, "Reinforcement Learning for Reasoning in Large Language Models with One Training Example",
arXiv 2504.20571; official code ``ypwang61/One-Shot-RLVR`` (verl 0.2 fork). The objective (GRPO with k3 KL 0.001,
entropy bonus 0.001, T = 0.6; Sec. 2 and ``core_algos.py``/``dp_actor.py::update_policy``) is registered as
``one_shot_rlvr`` and ``entropy_only`` in ``workbook.rl.methods``; this module adds the data-selection rule
(Sec. 2.2, ``data/data_selection.py --method std``), the post-saturation measurement (Sec. 3.2), the parameter
checks and the cost plan. See ``docs/papers/one_shot_rlvr.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from workbook.rl.probes import EvalProbe, ProbeContext

__all__ = ["ARMS", "MAIN_ARMS", "QWEN25_MATH_COT_SYSTEM", "arm_specs", "arm_seeds", "FormatProbe", "PromptCap", "prompt_cap", "training_pool",
           "split_held_out", "peak_table", "live_after_saturation", "copies", "live_share", "historical_accuracy", "select_by_variance", "accuracy_matrix", "accuracy",
           "accuracy_difference", "noninferiority", "curve_matrix", "saturation_steps",
           "post_saturation_change", "peak_steps", "at_peak", "paired_difference", "sweep_table", "claims", "decision_power", "plan", "validate"]

ARMS = ("full_set", "pi1", "pi1_control", "no_entropy", "entropy_sweep", "entropy_only")


def arm_specs(arms: list[str], entropy_sweep: list[float] = ()) -> list[tuple[str, str, dict]]:
    """Returns (label, method, method_overrides) of the π1 arms: ``pi1`` (entropy 1e-3, the paper's), ``pi1_control``
    (the same run in the control world), ``no_entropy`` (coefficient 0), ``entropy_<c>`` for each ``c`` of
    ``entropy_sweep`` (the paper's sweep, Sec. 4.1) and ``entropy_only`` (no policy-gradient loss, Sec. 4.2).
    ``full_set`` runs first (it supplies the selection history) and is not listed here."""
    out = [("pi1", "one_shot_rlvr", {})] if "pi1" in arms else []
    out += [("pi1_control", "one_shot_rlvr", {})] if "pi1_control" in arms else []
    out += [("no_entropy", "one_shot_rlvr", {"entropy_coef": 0.0})] if "no_entropy" in arms else []
    out += [(f"entropy_{c:g}", "one_shot_rlvr", {"entropy_coef": float(c)})
            for c in (entropy_sweep if "entropy_sweep" in arms else [])]  # fmt: skip
    return out + ([("entropy_only", "entropy_only", {})] if "entropy_only" in arms else [])


MAIN_ARMS = ("pi1", "pi1_control", "entropy_only")  # the arms of the decided claims; the rest are side arms


def arm_seeds(label: str, seeds: list[int], side_seeds: list[int] | None = None) -> list[int]:
    """Returns the seeds ``label`` runs on: every seed for the arms the post-saturation and entropy-only claims
    read (:data:`MAIN_ARMS`), ``side_seeds`` (a subset, default all) for the full set and the other entropy
    coefficients, whose comparisons with π1 are paired by seed (so one seed already shows whether the samples
    moved at all)."""
    return list(seeds) if label in MAIN_ARMS or side_seeds is None else [s for s in seeds if s in side_seeds]


QWEN25_MATH_COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class FormatProbe(EvalProbe):
    """``EvalProbe`` that also counts, per problem, the completions with no ``\\boxed{}`` (``n_unboxed``): the
    format deficiency the paper names as one source of the 1-shot gain (Sec. 4: "format" and self-reflection),
    measured on the same samples as the accuracy. ``system``: prompt the bare question under this system turn (the
    official evaluation's ``qwen25-math-cot`` layout, :data:`QWEN25_MATH_COT_SYSTEM`) instead of the training
    prompt. ``same_draws``: every step samples with step 0's seed (common random numbers: the step enters
    ``EvalProbe.sample`` only through its seed), so a change between two steps of one run, or between two arms of
    one seed, is not buried under fresh sampling noise: where the policy did not move, neither do the samples."""

    system: str | None = None
    same_draws: bool = False

    def sample(self, model, ctx: ProbeContext, step: int, completions: list | None = None) -> pd.DataFrame:
        ctx = _SystemPrompt(ctx, self.system) if self.system else ctx
        return super().sample(model, ctx, 0 if self.same_draws else step, completions)

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        frame = self.sample(model, ctx, step)
        frame = frame.assign(unboxed=~frame["text"].fillna("").str.contains("\\boxed{", regex=False))
        g = frame.groupby(["temperature", "problem_id"], sort=False)
        out = g.agg(dataset=("dataset", "first"), n=("correct", "size"), n_correct=("correct", "sum"),
                    n_unboxed=("unboxed", "sum")).reset_index()
        return [{"problem_id": r.problem_id, "dataset": r.dataset, "n": int(r.n), "n_correct": int(r.n_correct),
                 "accuracy": r.n_correct / r.n, "n_unboxed": int(r.n_unboxed), "temperature": float(r.temperature)}
                for r in out.itertuples()]  # fmt: skip


@dataclass(frozen=True)
class _SystemPrompt(ProbeContext):
    """A probe context whose prompt is the bare question under a system turn (``qwen25-math-cot``)."""

    system: str = ""

    def __init__(self, ctx: ProbeContext, system: str):
        object.__setattr__(self, "system", system)
        for k in ("run_dir", "tokenizer", "grader", "instruction", "seed", "batch_size"):
            object.__setattr__(self, k, getattr(ctx, k))

    def prompt(self, problem) -> str:
        from workbook.generation import build_prompt

        text = problem.problem if hasattr(problem, "problem") else problem["problem"]
        return build_prompt(self.tokenizer, text, "", system=self.system)


@dataclass(frozen=True)
class PromptCap:
    """The training problems kept under the prompt cap, and a one-line summary."""

    kept: list
    dropped: int
    summary: str


def prompt_cap(problems: list, model: str, instruction: str, max_tokens: int) -> PromptCap:
    """Returns the problems whose chat-formatted training prompt is at most ``max_tokens`` tokens (verl's
    ``data.max_prompt_length`` = 1024 with ``filter_overlong_prompts``, as the official training scripts run);
    ``max_tokens`` = 0 keeps all and loads no tokenizer."""
    if max_tokens <= 0:
        return PromptCap(list(problems), 0, "none")
    from transformers import AutoTokenizer

    from workbook.generation import build_prompt
    from workbook.models import model_path

    tok = AutoTokenizer.from_pretrained(str(model_path(model)))
    kept = [p for p in problems if len(tok(build_prompt(tok, p.problem, instruction))["input_ids"]) <= max_tokens]
    if not kept:
        raise ValueError(f"every training prompt is longer than max_prompt_tokens = {max_tokens}")
    return PromptCap(kept, len(problems) - len(kept), f"{len(problems) - len(kept)} of {len(problems)} prompts "
                                                      f"over {max_tokens} tokens dropped")


def training_pool(name: str, n: int, n_hard: int, seed: int = 0) -> list:
    """Returns the training pool: ``n`` problems of ``name``'s train split, plus on the toy ``n_hard`` hard-tier
    problems (``workbook.toy.world.hard_spec``: 5–6 operands), so the selection rule sees harder problems too."""
    from workbook.rl.experiments import load_problems

    pool = load_problems(name, n, "train", seed)
    if name == "synthetic" and n_hard:
        from workbook.data.synthetic import ArithmeticSpec, generate_problems
        from workbook.toy.world import WorldKnobs, hard_spec

        hard = generate_problems(n_hard, seed, spec=hard_spec(ArithmeticSpec(), WorldKnobs()), split="train")
        pool += [replace(p, problem_id=f"{p.problem_id}/hard") for p in hard]
    return pool


def split_held_out(held_out: dict, n_select: int) -> tuple[list[str], list[str]]:
    """Returns (select, score) problem ids: per benchmark the first ``n_select`` problems choose each run's peak
    step, the rest score it (disjoint, so the peak's selection bias does not reach the score)."""
    select = [p.problem_id for ps in held_out.values() for p in ps[:n_select]]
    score = [p.problem_id for ps in held_out.values() for p in ps[n_select:]]
    if not select or not score:
        raise ValueError("the held-out set needs problems both to choose the peak and to score it")
    return select, score


def copies(problem, k: int) -> list:
    """Returns ``k`` copies of ``problem`` with ids ``<id>#<i>`` (the paper's π1 × 128 parquet): each copy is its
    own rollout group in ``Results.history``, so the share of groups with a non-zero advantage stays countable."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return [replace(problem, problem_id=f"{problem.problem_id}#{i}") for i in range(k)]


def live_share(history: pd.DataFrame) -> pd.DataFrame:
    """Returns per (label, seed, step) the share of rollout groups with a non-zero GRPO advantage (0 < n_correct
    < n: some rollouts right, some wrong); with every group all-right or all-wrong the policy gradient is zero and
    only the KL, entropy and weight-decay terms move the weights."""
    h = history.assign(live=(history["n_correct"] > 0) & (history["n_correct"] < history["n"]))
    return h.groupby(["label", "seed", "step"], as_index=False)["live"].mean()


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
           paired: bool = False) -> dict:
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
    differences over seeds × problems; otherwise the seeds of each arm are resampled on their own."""
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

    def change(label, y):
        x = post_saturation_change(train, curve, label, threshold, everything, y)
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
        ctl = change("pi1_control", "accuracy")
        out["OS-2c"] = hierarchical_difference(acc, ctl, what="post-saturation gain: deficient - control world",
                                               **kw) if acc is not None and ctl is not None else none  # fmt: skip
    if final is not None and "math500" in datasets:
        out.update({"OS-1a": accuracy(final, "base", "math500", n_boot, seed),
                    "OS-1b": accuracy(final, "pi1", "math500", n_boot, seed),
                    "OS-4": out.get("OS-4t")})  # the curve is MATH500: entropy-only at its peak step
        if "full_set" in set(final["label"]):
            out["OS-1d"] = noninferiority(final, "pi1", "full_set", "math500", n_boot, seed)
        if len(datasets) == 6:
            out["OS-1c"] = benchmark_average_ci(final[final["label"] == "pi1"], seed=seed, n_boot=n_boot)
    return out


def decision_power(params: dict, ids: tuple = ("OS-2", "OS-4t"), n_sim: int = 400, seed: int = 0) -> pd.DataFrame:
    """Returns per claim the pre-registered chance of each verdict at its expected effect under this design
    (``workbook.reporting.power.verdict_rates``): for a claim expected to be absent (OS-2, OS-4t) the chance to
    *decide* it is P(not reproduced), which the "reproduced"-only power table cannot show."""
    from workbook.reporting.claims import REPORTED_DIR, load_reported_file
    from workbook.reporting.power import design_for, verdict_rates

    doc = load_reported_file(REPORTED_DIR / "one_shot_rlvr.yaml")
    rows = []
    for c in (c for c in doc["claims"] if c["id"] in ids):
        d = design_for(doc["design"], c, params)
        rates = verdict_rates(c, d, n_sim=n_sim, seed=seed)
        rows.append({"claim_id": c["id"], "expected_effect": c["expected_effect"]["value"],
                     "min_effect": c.get("min_effect"), "design": str(d),
                     **{k: rates.get(k, 0.0) for k in ("reproduced", "not reproduced", "inconclusive")}})
    return pd.DataFrame(rows)


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
    side = params.get("side_seeds")
    if side is not None and not (side and set(side) <= set(params.get("seeds") or [0])):
        raise ParameterError(f"one_shot_rlvr: side_seeds must be a non-empty subset of seeds (side arms are compared "
                             f"with pi1 within a seed); got {side} of {params.get('seeds')}")
    if "pi1_control" in arms and not params.get("control_model"):
        raise ParameterError("one_shot_rlvr: the pi1_control arm needs a control_model (the world without the "
                             "deficiency, e.g. toy-reasoner-control)")
    if params.get("train_set", "synthetic") == "synthetic" and "full_set" not in arms:
        raise ParameterError("one_shot_rlvr: on the toy, pi1 is chosen from the full-set arm's history: keep "
                             "'full_set' in arms")  # fmt: skip


def plan(params: dict) -> dict:
    """Returns the cost plan (``workbook.rl.plan.Plan`` as a dict with ``summary``): arms × seeds runs with the
    reference model on (KL 0.001), the held-out curve and the final official-protocol evaluation. Loads no model
    and needs no GPU."""
    from workbook.rl.plan import plan_from_params

    validate(params)
    seeds, side = params.get("seeds") or [0], params.get("side_seeds")
    labels = [a[0] for a in arm_specs(params["arms"], params.get("entropy_sweep") or [])]
    runs = sum(len(arm_seeds(lab, seeds, side)) for lab in labels + ["full_set"] * ("full_set" in params["arms"]))
    return plan_from_params(params, runs=runs, with_reference=True).to_dict()

