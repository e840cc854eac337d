"""Inference Scaling fLaws: The Limits of LLM Resampling with Imperfect Verifiers (Stroebl, Kapoor, Narayanan 2024).

arXiv 2411.17501; official code benediktstroebl/inference-scaling-limits @ 11a8f6e. ``resampling``: per-task counts,
the accuracy ceiling a/m, the exact expected utility U(k) and the official simulation it equals, k_opt, and the
easy/hard theoretical model. ``strengths``: model strengths × temperatures, each judged by several verifiers, and the
pass@1-vs-ceiling line (Sec. 3, Fig. 2). This module: the cost plan, parameter checks, the weak verifiers of the toy
task, and the tables the notebook shows. The mapping from the paper to this code is in ``docs/papers/inference_scaling_limits.md``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from workbook.metrics import Estimate, bootstrap_ci
from workbook.papers import require, token_plan
from workbook.papers.inference_scaling_limits.resampling import (
    EasyHardModel, TaskCounts, accuracy_ceiling, bootstrap_best_utility, bootstrap_k_opt, counts_from_code_results,
    expected_utility,
    fit_easy_hard, k_opt_table, last_digit_check, linear_fit, model_optimal_k, model_utility, optimal_k,
    paper_figure_data, pass_at_1, per_task_ceiling, prob_any_accept, simulate_utility, task_counts, utility_curve,
)
from workbook.papers.inference_scaling_limits.strengths import (
    VERIFIER_NAMES, Point, Strength, ceiling_gap, collect_pair, collect_points, judge, line_fit, line_table,
    load_strength, pair_table, parse_strength, point_table, safe_mean_ci, sample_point, verifier_lift,
    verify_skill_accepts,
)
from workbook.reporting import requires, untestable
from workbook.reporting.verdicts import Untestable

__all__ = [
    "CODE_INSTRUCTION", "VERIFIERS", "VERIFIER_NAMES", "EasyHardModel", "Point", "Strength", "TaskCounts",
    "accuracy_ceiling", "bootstrap_best_utility", "bootstrap_k_opt", "ceiling_gap", "ceiling_table", "code_summary",
    "collect_pair", "collect_points", "decided_power", "disjoint_problems", "judge",
    "counts_from_code_results", "expected_utility", "fit_easy_hard", "fit_table", "k_opt_table", "last_digit_check",
    "line_fit", "line_length_differences", "line_table", "linear_fit", "load_strength", "model_optimal_k",
    "model_utility", "pair_table",
    "optimal_k", "paper_figure_data", "parse_strength", "pass_at_1", "per_task_ceiling", "plan", "plot_paper_line",
    "plot_points", "point_table", "prob_any_accept", "reproduced", "safe_mean_ci", "sample_point", "simulate_utility",
    "simulation_table", "skill_reading", "task_counts", "theory_table", "utility_curve", "utility_table", "validate",
    "VERIFY_SKILL_TARGET", "verifier_lift", "verify_skill_accepts", "verify_skill_table",
]

#: The instruction appended to a HumanEval+/MBPP+ prompt for chat models (ours; the paper samples completions).
CODE_INSTRUCTION = "Complete the Python function below. Answer with the complete function in one ```python code block."
#: The weak verifiers of the toy task, by parameter value.
VERIFIERS = {"last_digit": last_digit_check}
CODE_BENCHMARKS = ("humaneval_plus", "mbpp_plus")
_N_CODE_TASKS = {"humaneval_plus": 164, "mbpp_plus": 378}


def validate(params: Mapping[str, Any]) -> None:
    """Raise ParameterError for contradicting or unknown settings (before any model loads)."""
    from workbook.models import get_preset
    from workbook.params import ParameterError

    weak, bench, backend, code_model = require(params, "weak_verifier code_benchmark code_backend code_model",
                                               "inference_scaling_limits")
    if weak not in VERIFIERS:
        raise ParameterError(f"weak_verifier must be one of {sorted(VERIFIERS)}, got {weak!r}")
    if bench not in CODE_BENCHMARKS:
        raise ParameterError(f"code_benchmark must be one of {CODE_BENCHMARKS}, got {bench!r}")
    if backend not in ("transformers", "vllm"):
        raise ParameterError(f"code_backend must be 'transformers' or 'vllm', got {backend!r}")
    if params.get("min_operands", 1) > params.get("max_operands", 1):
        raise ParameterError("min_operands must not exceed max_operands")
    strengths, temps = params.get("strengths", []), params.get("temperatures", [])
    try:
        labels = [parse_strength(s).label for s in strengths]
        main, weak = (parse_strength(params[k]).label for k in ("model", "weak_model") if k in params)
    except ValueError as err:
        raise ParameterError(str(err)) from err
    except KeyError as err:
        raise ParameterError(f"missing parameter {err}") from err
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ParameterError(f"strengths must list at least two different model strengths, got {strengths!r}")
    if not temps or any(not isinstance(t, (int, float)) or t <= 0 for t in temps):
        raise ParameterError(f"temperatures must be a non-empty list of positive numbers, got {temps!r}")
    for key, label in (("model", main), ("weak_model", weak)):
        if label not in labels:
            raise ParameterError(f"{key} {params[key]!r} must be one of strengths {strengths!r}")
    if main == weak:
        raise ParameterError("weak_model must differ from model (the contrast compares two strengths)")
    gap = params.get("gap_problems", 1)
    if not isinstance(gap, int) or isinstance(gap, bool) or gap < 1:
        raise ParameterError(f"gap_problems must be a positive int (the weak/strong pair's problems), got {gap!r}")
    if params.get("temperature") not in temps:
        raise ParameterError(f"temperature {params.get('temperature')!r} must be one of temperatures {temps!r}")
    try:
        get_preset(code_model)
    except Exception as err:  # one clear error for an unknown model name, before any loading
        raise ParameterError(str(err)) from err


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the plan: toy samples and their verification reports (tokens), code samples, sandboxed test programs."""
    n_problems, n_samples, tok, verify_tok, run_code, bench, n_code, code_n, code_tok = require(
        params, "n_problems n_samples max_new_tokens verify_max_new_tokens run_code code_benchmark code_problems "
                "code_samples code_max_new_tokens", "inference_scaling_limits")
    points = len(params.get("strengths", [])) * len(params.get("temperatures", []))
    tasks = n_code or _N_CODE_TASKS.get(bench, 0)
    pair = int(params.get("gap_problems", 0)) * n_samples  # per model of the weak/strong pair; only weak's verified
    samples = points * n_problems * n_samples
    stages = {"toy samples": (samples + 2 * pair) * tok, "toy verification reports": (samples + pair) * verify_tok}
    if run_code:
        stages["code samples"] = tasks * code_n * code_tok
    what = (f"(a) theory, exact; (b) {points} points (model strength × temperature) × {n_problems} arithmetic "
            f"problems × {n_samples} samples, each verified once by the trained verify skill; the weak/strong pair on "
            f"{params.get('gap_problems', 0)} more problems × {n_samples} samples (weak verified); (c) "
            + (f"{tasks} {bench} tasks × {code_n} samples, {tasks * code_n} sandboxed test programs" if run_code
               else "skipped"))
    out = token_plan(stages, params.get("gpu_tokens_per_s"), what)
    out["test_programs"] = tasks * code_n if run_code else 0
    out["points"] = points
    return out


#: The toy world's target for its verify skill (docs/toy_world.md, "Measured effects"): balanced accuracy ≥ 0.75.
VERIFY_SKILL_TARGET = 0.75


def verify_skill_table(point_tab: pd.DataFrame, verifier: str = "verify_skill") -> pd.DataFrame:
    """Return, per point, the verifier's measured skill as "value [lo, hi]" strings: false- and true-positive rate,
    balanced accuracy and the lift of the ceiling over pass@1 (``strengths.point_table``), plus pass@1 and ceiling."""
    def fmt(r: Mapping[str, float], k: str) -> str:
        return f"{r[k]:.3f} [{r[k + ' lo']:.3f}, {r[k + ' hi']:.3f}]" if np.isfinite(r[k]) else "—"

    rows = point_tab[point_tab["verifier"] == verifier]
    keys = ("pass@1", "ceiling", "false-positive rate", "true-positive rate", "balanced accuracy", "lift")
    return pd.DataFrame([{"model": r["model"], "T": r["temperature"], **{k: fmt(r, k) for k in keys}}
                         for r in rows.to_dict("records")])


def skill_reading(row: Mapping[str, float], target: float = VERIFY_SKILL_TARGET) -> str:
    """Return one sentence reading a verifier's measured skill on one point (a row of ``strengths.point_table``):
    is its balanced accuracy above chance (0.5) and above the toy's target, and does it lift the ceiling above
    pass@1 (a correctness-blind verifier's lift is 0, so L1 would be forced: ceiling ≈ pass@1)."""
    ba, lo, hi = row["balanced accuracy"], row["balanced accuracy lo"], row["balanced accuracy hi"]
    lift, llo, lhi = row["lift"], row["lift lo"], row["lift hi"]
    if not (np.isfinite(ba) and np.isfinite(lift)):
        return "the verifier's skill is not measurable here (no right or no wrong sample, or nothing accepted)"
    chance = "above chance" if lo > 0.5 else ("below chance" if hi < 0.5 else "not distinguishable from chance")
    goal = (f"above the target {target}" if lo > target else f"below the target {target}" if hi < target
            else f"not distinguishable from the target {target}")
    lifted = ("the ceiling lies clearly above pass@1: the verifier carries information, so where the ceiling lands "
              "below 1 is a measurement" if llo > 0 else
              "no lift distinguishable from 0: the ceiling is about pass@1, as for a correctness-blind verifier")
    return (f"balanced accuracy {ba:.3f} [{lo:.3f}, {hi:.3f}] — {chance}, {goal}; lift {lift:.3f} "
            f"[{llo:.3f}, {lhi:.3f}] — {lifted}")


def theory_table(model: EasyHardModel, costs: Sequence[float], k_max: int) -> pd.DataFrame:
    """Return k_opt and U(k_opt) of the easy/hard model per cost, in the exact and the official ("repo") form."""
    rows = []
    for c in costs:
        for form in ("exact", "repo"):
            k, u = model_optimal_k(model, c, k_max, form)
            rows.append({"cost c": c, "form": form, "k_opt": k, "U(k_opt)": u})
    return pd.DataFrame(rows)


def ceiling_table(counts: TaskCounts, n_boot: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, Estimate, Estimate]:
    """Return (table, pass@1, ceiling): pass@1, coverage and the ceiling a/m (tasks with m > 0; or m = 0 as 0 / 1).

    Intervals: 95% bootstrap over tasks.
    """
    per_task = per_task_ceiling(counts)
    has_m = ~np.isnan(per_task)
    ceiling = (bootstrap_ci(per_task[has_m], n_boot=n_boot, seed=seed, what="accuracy ceiling (tasks with m > 0)")
               if has_m.any() else Estimate(float("nan"), float("nan"), float("nan"), 0, "ceiling (no m > 0)"))
    nan = float("nan")
    pass1 = (bootstrap_ci(pass_at_1(counts), n_boot=n_boot, seed=seed, what="pass@1") if len(counts)
             else Estimate(nan, nan, nan, 0, "pass@1 (no task)"))
    table = pd.DataFrame([
        {"quantity": "pass@1 (a/n)", "value": pass1.value, "lo": pass1.lo, "hi": pass1.hi, "tasks": len(counts)},
        {"quantity": "coverage: any correct among n", "value": float((counts.a > 0).mean()) if len(counts) else nan,
         "lo": nan, "hi": nan, "tasks": len(counts)},
        {"quantity": "ceiling: mean a/m (m > 0)", "value": ceiling.value, "lo": ceiling.lo, "hi": ceiling.hi,
         "tasks": int(has_m.sum())},
        {"quantity": "ceiling, m = 0 tasks as 0", "value": accuracy_ceiling(counts, "zero"), "lo": nan, "hi": nan,
         "tasks": len(counts)},
        {"quantity": "ceiling, m = 0 tasks as 1", "value": accuracy_ceiling(counts, "one"), "lo": nan, "hi": nan,
         "tasks": len(counts)},
        {"quantity": "false positives f (all tasks)", "value": int(counts.f.sum()), "lo": nan, "hi": nan,
         "tasks": len(counts)},
    ])
    return table, pass1, ceiling


def simulation_table(counts: TaskCounts, accepted: np.ndarray, correct: np.ndarray, ks: Sequence[int],
                     costs: Sequence[float], n_sims: int, seed: int = 0) -> pd.DataFrame:
    """Return, per cost, the largest gap between the closed-form U(k) and the official simulation, in MC errors."""
    rows = []
    for c in costs:
        gap = float(np.abs(simulate_utility(accepted, correct, ks, c, n_sims=n_sims, seed=seed)
                           - utility_curve(counts, ks, c)).max())
        se = (1 + c) / (2 * np.sqrt(len(counts) * n_sims))
        rows.append({"cost c": c, "max |sim − exact|": gap, "MC standard-error bound": se, "within 4 SE": gap < 4 * se})
    return pd.DataFrame(rows)


def utility_table(counts: TaskCounts, costs: Sequence[float], ks: Sequence[int], n_boot: int = 2000,
                  seed: int = 0) -> tuple[pd.DataFrame, dict[float, list[Estimate]]]:
    """Return (k_opt table with task-bootstrap intervals, {cost: U(k) estimates at ``ks``}) for k ≤ max n."""
    k_max = int(counts.n.max())
    rows, bands = [], {}
    for c in costs:
        per_task = expected_utility(counts, np.arange(1, k_max + 1), c)
        bands[c] = [bootstrap_ci(per_task[:, k - 1], n_boot=n_boot, seed=seed) for k in ks]
        k0, lo, hi = bootstrap_k_opt(counts, c, k_max=k_max, n_boot=min(n_boot, 1000), seed=seed)
        rows.append({"cost c": c, "k_opt": k0, "k_opt 95% lo": lo, "k_opt 95% hi": hi,
                     "U(k_opt)": float(per_task[:, k0 - 1].mean()) if k0 else 0.0,
                     f"U({k_max})": float(per_task[:, -1].mean())})
    return pd.DataFrame(rows), bands


def fit_table(counts: TaskCounts, costs: Sequence[float], k_opt: pd.DataFrame) -> pd.DataFrame:
    """Return the easy/hard model fitted to the counts (exact and official soundness) and its k_opt vs the empirical."""
    rows = []
    for form in ("exact", "repo"):
        fitted = fit_easy_hard(counts, form=form)
        for c in costs:
            k_m, u_m = model_optimal_k(fitted, c, k_max=int(counts.n.max()), form=form)
            rows.append({"fit": form, "r (easy, hard)": tuple(round(x, 3) for x in fitted.r),
                         "p (easy, hard)": tuple(round(x, 3) for x in fitted.p), "s": round(fitted.s, 3),
                         "cost c": c, "model k_opt": k_m, "model U": u_m,
                         "empirical k_opt": int(k_opt.loc[k_opt["cost c"] == c, "k_opt"].iloc[0])})
    return pd.DataFrame(rows)


def code_summary(counts: TaskCounts, costs: Sequence[float], n_boot: int = 2000,
                 seed: int = 0) -> tuple[pd.DataFrame, Estimate, Estimate]:
    """Return the code model's ceiling table (base tests = verifier, plus tests = truth) with k_opt per cost."""
    table, pass1, ceiling = ceiling_table(counts, n_boot, seed)
    table.loc[0, "quantity"] = "pass@1 (base and plus)"
    kopt = [{"quantity": f"k_opt at c = {c:g}", "value": k, "lo": np.nan, "hi": np.nan, "tasks": len(counts)}
            for c, (k, _) in k_opt_table(counts, costs, k_max=int(counts.n.max())).items()]
    return pd.concat([table, pd.DataFrame(kopt)], ignore_index=True), pass1, ceiling


def line_length_differences(problems: Sequence, texts: Sequence[Sequence[str]], results) -> np.ndarray:
    """Return per task (with both) the mean share of lines ≤ 70 characters in false minus true positives (L8)."""
    from workbook.code_eval import build_solution, line_length_share

    diffs = []
    for prob, row_texts, row in zip(problems, texts, results):
        shares = [line_length_share(build_solution(prob, t)) for t in row_texts]
        fp = [s for s, r in zip(shares, row) if r.base_pass and not r.plus_pass]
        tp = [s for s, r in zip(shares, row) if r.base_pass and r.plus_pass]
        if fp and tp:
            diffs.append(np.nanmean(fp) - np.nanmean(tp))
    return np.asarray(diffs, dtype=float)


def reproduced(counts: TaskCounts, code: dict | None, profile: str, code_model: str, code_benchmark: str,
               n_boot: int = 2000, seed: int = 0, main: Point | None = None, weak: Point | None = None,
               strong: Point | None = None) -> dict[str, Any]:
    """Return the estimate of each claim tested at this scale (bootstrap 95% CIs over tasks), or `untestable`.

    ``counts``: the main toy point under the last-digit verifier (L1t, and L3 unless the code model's counts are the
    main ones). ``main`` / ``weak``: the main model and a weaker model strength (`strengths.Point`, same problems):
    L1 is 1 − the ceiling (Sec. 3: mean over tasks with m > 0 of a/m) of ``main`` with the toy's trained verify skill
    as the verifier; L2t (verify skill) and L2u (last digit) are ceiling(weak) − pass@1(strong), ``strong`` the main
    model measured on ``weak``'s problems (`strengths.collect_pair`; default ``main``). L1 and L2t presuppose
    that the verify skill knows something (``requires``): its lift of the ceiling over pass@1 on ``main`` (L1) /
    ``weak`` (L2t) must have an interval above 0, else a verifier blind to correctness would make them true by the
    models' error rates alone and they read "untestable here". ``code``: None, or
    {"counts", "pass1", "ceiling", "line_length_diffs"} of the code model: L1c is 1 − its ceiling with HumanEval+
    base tests as the verifier; L2, L4–L8 at ``paper``. L10 is exact (the official demo). Every estimate that has no
    measurable unit (no task, no accepted sample, NaN) is `untestable` with the reason: this never raises on data.
    """
    def point(x: float, what: str) -> Any:
        return Estimate(float(x), float(x), float(x), 1, what) if np.isfinite(x) else untestable(f"{what} is NaN")

    def one_minus_ceiling(c: TaskCounts, what: str, why: str) -> Any:
        return safe_mean_ci(1 - per_task_ceiling(c), n_boot=n_boot, seed=seed, what=what, reason=why)

    def k_opt_at(c: TaskCounts, cost: float, what: str) -> Any:
        if len(c) == 0:
            return untestable(f"no task to compute {what} on")
        k, lo, hi = bootstrap_k_opt(c, cost, k_max=int(c.n.max()), n_boot=min(n_boot, 1000), seed=seed)
        return Estimate(float(k), lo, hi, len(c), what)

    def peak_at(c: TaskCounts, cost: float, est: Any) -> Any:  # L3 locates a peak: there must be one above 0
        if isinstance(est, Untestable):
            return est
        best = Estimate(*bootstrap_best_utility(c, cost, k_max=int(c.n.max()), n_boot=min(n_boot, 1000), seed=seed),
                        len(c), f"max_k U(k) at c = {cost:g}")
        return requires(best, f"at c = {cost:g} some number of samples has a positive expected utility (max_k U(k) "
                              "above 0; else abstaining, k_opt = 0, is best and there is no peak to locate)", est)

    use_code = profile == "paper" and code is not None and code_benchmark == "humaneval_plus"
    main_counts = code["counts"] if use_code else counts
    out: dict[str, Any] = {
        "L1t": one_minus_ceiling(counts, "1 − ceiling, last-digit verifier",
                                 "no toy task had a sample accepted by the last-digit verifier: no ceiling"),
        "L3": peak_at(main_counts, 4.0, k_opt_at(main_counts, 4.0, "k_opt at c = 4")),
        "L10": point(model_optimal_k(EasyHardModel(r=(0.87, 0.13), p=(0.58, 0.42), s=0.75), 0.7)[0], "k_opt (exact)"),
    }
    def informed(point: Point, est: Any) -> Any:  # an undefined estimate stays untestable for its own reason
        if isinstance(est, Untestable):
            return est
        return requires(verifier_lift(point, "verify_skill", n_boot=n_boot, seed=seed),
                        f"the verify skill lifts {point.label}'s ceiling above its pass@1 (lift interval above 0)", est)

    if main is not None:
        skill = TaskCounts(*(main.per_problem("verify_skill")[k] for k in ("a", "f", "n")))
        out["L1"] = informed(main, one_minus_ceiling(skill, "1 − ceiling, trained verify skill",
                                                     "the verify skill accepted no sample of the main model: no ceiling"))
        if weak is not None:
            strong = main if strong is None else strong
            out["L2t"] = informed(weak, ceiling_gap(weak, strong, "verify_skill", n_boot=n_boot, seed=seed))
            out["L2u"] = ceiling_gap(weak, strong, "last_digit", n_boot=n_boot, seed=seed)
    if code is not None and code_benchmark == "humaneval_plus":
        out["L1c"] = one_minus_ceiling(code["counts"], "1 − ceiling, base tests",
                                       "no HumanEval+ task had a sample accepted by its base tests: no ceiling")
    if not use_code or not np.isfinite(code["ceiling"].value):
        return out
    ceil = per_task_ceiling(main_counts)
    fit = paper_figure_data()["fits"]["humaneval_plus"]
    out["L2"] = safe_mean_ci(ceil - (fit["slope"] * code["pass1"].value + fit["intercept"]), n_boot=n_boot,
                             seed=seed, what="ceiling − line", reason="no task with an accepted sample")
    if code_model == "llama-3.1-8b-instruct":
        out.update(L4=code["pass1"], L5=code["ceiling"], L6=k_opt_at(main_counts, 4.0, "k_opt at c = 4"),
                   L7=k_opt_at(main_counts, 2.0, "k_opt at c = 2"))
    diffs = code.get("line_length_diffs")
    if diffs is not None and len(diffs) >= 2:
        out["L8"] = safe_mean_ci(diffs, n_boot=n_boot, seed=seed, what="FP − TP line-length share")
    return out


def disjoint_problems(n: int, seed: int, spec, exclude: Sequence = ()) -> list:
    """Return ``n`` test-split problems drawn with ``seed`` (``workbook.data.synthetic.generate_problems``) whose
    expressions are not among ``exclude``'s: the weak/strong pair is measured on problems the line's points (and any
    pilot) never saw."""
    from workbook.data.synthetic import generate_problems

    seen = {p.problem for p in exclude}
    for extra in (len(seen), 4 * len(seen) + 64):
        kept = [p for p in generate_problems(n + extra, seed=seed, spec=spec) if p.problem not in seen]
        if len(kept) >= n:
            return kept[:n]
    raise ValueError(f"cannot draw {n} problems with seed {seed} outside the {len(seen)} excluded ones")


def decided_power(claim_ids: Sequence[str], params: Mapping[str, Any], n_sim: int = 400, seed: int = 0,
                  n_boot: int = 200) -> pd.DataFrame:
    """Return, per claim, the share of each verdict this design gives at the claim's pre-registered effect
    (`workbook.reporting.power.decision_table`): for a claim expected to come out "not reproduced" (its expected
    effect on the other side of ``min_effect``) the power that matters is the chance of that decided verdict,
    which ``print_power`` (the chance of "reproduced") does not show."""
    from workbook.reporting.power import decision_table

    cols = ["claim_id", "expected_effect", "design", "reproduced", "not reproduced", "inconclusive"]
    return decision_table("inference_scaling_limits", params, claim_ids, n_sim=n_sim, seed=seed, n_boot=n_boot)[cols]


def plot_paper_line(ax) -> dict:
    """Draw the paper's HumanEval+ (pass@1, ceiling) points, its fitted line and the line refitted to those points.

    The points are 9 of the paper's 17 models (its figure data, ``reported/inference_scaling_limits.yaml``); the
    paper's line ceiling = 0.22·pass@1 + 0.72 was fitted to all 17. Returns the paper's fit {slope, intercept, r2}.
    """
    from workbook import plotting

    data = paper_figure_data()
    pts, fit = pd.DataFrame(data["humaneval_plus_points"]), data["fits"]["humaneval_plus"]
    slope9, icpt9, _ = linear_fit(pts["pass_at_1"], pts["ceiling"])
    ax.scatter(pts["pass_at_1"], pts["ceiling"], color=plotting.NEUTRAL, label=f"paper, HumanEval+ ({len(pts)} models)")
    for row in pts.itertuples():
        ax.annotate(row.model, (row.pass_at_1, row.ceiling), fontsize=6, xytext=(3, 2), textcoords="offset points")
    xs = np.linspace(0, 1, 50)
    ax.plot(xs, fit["slope"] * xs + fit["intercept"], color="k", ls="--",
            label=f"paper fit y = {fit['slope']}x + {fit['intercept']} (R² = {fit['r2']}, 17 models)")
    ax.plot(xs, slope9 * xs + icpt9, color="k", ls=":",
            label=f"refit to these {len(pts)}: y = {slope9:.2f}x + {icpt9:.2f}")
    ax.plot([0, 1], [0, 1], color=plotting.NEUTRAL, lw=0.6)
    return fit


def plot_points(ax, rows: pd.DataFrame, fit: dict) -> None:
    """Draw one verifier's points (pass@1, ceiling) with 95% CIs — colour per model strength in listed order, marker
    per temperature — and the fitted line (red), its slope and intercept intervals written in the corner
    (``strengths.line_fit``)."""
    models = list(dict.fromkeys(rows["model"]))
    temps = sorted(set(rows["temperature"]))
    markers = "os^Dv"
    for r in rows.to_dict("records"):
        x, y = r["pass@1"], r["ceiling"]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue  # no accepted sample: this point has no ceiling
        ax.errorbar([x], [y], xerr=[[x - r["pass@1 lo"]], [r["pass@1 hi"] - x]],
                    yerr=[[y - r["ceiling lo"]], [r["ceiling hi"] - y]],
                    fmt=markers[temps.index(r["temperature"]) % len(markers)], ms=5, capsize=2,
                    color=f"C{models.index(r['model'])}", label=f"{r['model']}, T = {r['temperature']:g}")
    s, i = fit["slope"], fit["intercept"]
    if np.isfinite(s.value):
        xs = np.linspace(0, 1, 50)
        ax.plot(xs, s.value * xs + i.value, color="#CC3311", lw=1.2)
        ax.text(0.98, 0.03, f"toy fit: y = {s.value:.2f}x + {i.value:.2f}\nslope [{s.lo:.2f}, {s.hi:.2f}], "
                f"intercept [{i.lo:.2f}, {i.hi:.2f}]", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7, color="#CC3311")
