"""1-shot RLVR: choosing π1 by the variance of its training-accuracy history, post-saturation gains, the cost plan.

Wang et al. 2025, "Reinforcement Learning for Reasoning in Large Language Models with One Training Example",
arXiv 2504.20571; official code ``ypwang61/One-Shot-RLVR`` (verl 0.2 fork). The objective (GRPO with k3 KL 0.001,
entropy bonus 0.001, T = 0.6; Sec. 2 and ``core_algos.py``/``dp_actor.py::update_policy``) is registered as
``one_shot_rlvr`` and ``entropy_only`` in ``workbook.rl.methods``; this module adds the data-selection rule
(Sec. 2.2, ``data/data_selection.py --method std``), the format probe, the parameter checks and the cost plan;
the estimates (post-saturation change, peaks, claims; Sec. 3.2 and 4) live in
``workbook.papers.one_shot_rlvr_estimates`` and are re-exported here. See ``docs/papers/one_shot_rlvr.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from workbook.papers.one_shot_rlvr_estimates import (  # noqa: F401  (re-exported: one namespace per paper)
    OS4B_STEP, accuracy, accuracy_difference, accuracy_matrix, at_peak, claims, curve_matrix, decision_power,
    live_after_saturation, noninferiority, paired_difference, peak_steps, peak_table, post_saturation_change,
    saturation_steps, sweep_table)
from workbook.rl.probes import EvalProbe, ProbeContext

__all__ = ["ARMS", "MAIN_ARMS", "QWEN25_MATH_COT_SYSTEM", "arm_specs", "arm_seeds", "FormatProbe",
           "SaturationProbe", "rollout_saturated", "PromptCap",
           "prompt_cap", "training_pool", "split_held_out", "peak_table", "live_after_saturation", "copies",
           "live_share", "historical_accuracy", "select_by_variance", "accuracy_matrix", "accuracy",
           "accuracy_difference", "noninferiority", "curve_matrix", "saturation_steps", "post_saturation_change",
           "peak_steps", "at_peak", "paired_difference", "sweep_table", "claims", "decision_power", "plan",
           "validate"]

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


def arm_seeds(label: str, seeds: list[int], side_seeds: list[int] | None = None,
              pi1_seeds: list[int] | None = None) -> list[int]:
    """Returns the seeds ``label`` runs on: ``pi1_seeds`` (a superset of ``seeds``, default ``seeds``) for π1,
    whose post-saturation change (OS-2) varies from seed to seed more than its other claims can afford to
    ignore; every seed for the other arms the decided claims read (:data:`MAIN_ARMS`); ``side_seeds`` (a subset,
    default all) for the full set and the other entropy coefficients, whose comparisons with π1 are paired by seed
    (so one seed already shows whether the samples moved at all)."""
    if label == "pi1" and pi1_seeds:
        return list(pi1_seeds)
    return list(seeds) if label in MAIN_ARMS or side_seeds is None else [s for s in seeds if s in side_seeds]


QWEN25_MATH_COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class FormatProbe(EvalProbe):
    """``EvalProbe`` that also counts, per problem, the completions with no ``\\boxed{}`` (``n_unboxed``): the
    format deficiency the paper names as one source of the 1-shot gain (Sec. 4: "format" and self-reflection),
    measured on the same samples as the accuracy. ``system``: prompt the bare question under this system turn (the
    official evaluation's ``qwen25-math-cot`` layout, :data:`QWEN25_MATH_COT_SYSTEM`) instead of the training
    prompt. With ``EvalProbe.same_draws`` a change between two steps of one run, or between two arms of one seed,
    is not buried under fresh sampling noise: where the policy did not move, neither do the samples."""

    system: str | None = None

    def sample(self, model, ctx: ProbeContext, step: int, completions: list | None = None) -> pd.DataFrame:
        ctx = _SystemPrompt(ctx, self.system) if self.system else ctx
        return super().sample(model, ctx, step, completions)

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        frame = self.sample(model, ctx, step)
        frame = frame.assign(unboxed=~frame["text"].fillna("").str.contains("\\boxed{", regex=False))
        g = frame.groupby(["temperature", "problem_id"], sort=False)
        out = g.agg(dataset=("dataset", "first"), n=("correct", "size"), n_correct=("correct", "sum"),
                    n_unboxed=("unboxed", "sum")).reset_index()
        return [{"problem_id": r.problem_id, "dataset": r.dataset, "n": int(r.n), "n_correct": int(r.n_correct),
                 "accuracy": r.n_correct / r.n, "n_unboxed": int(r.n_unboxed), "temperature": float(r.temperature)}
                for r in out.itertuples()]  # fmt: skip


def rollout_saturated(rollouts_path, threshold: float, step: int) -> bool:
    """Returns whether the run's rollout accuracy (``rollouts.jsonl``: one row per group, summed per step) reached
    ``threshold`` at some step <= ``step``: the same accuracy as the trainer's logged ``accuracy``, readable while
    the run trains (the trainer's log of a step is written after its callbacks' ``on_step_end``)."""
    from workbook.rl.probes import read_jsonl

    per: dict[int, list[int]] = {}
    for r in read_jsonl(rollouts_path):
        if r["step"] <= step:
            acc = per.setdefault(int(r["step"]), [0, 0])
            acc[0], acc[1] = acc[0] + int(r["n_correct"]), acc[1] + int(r["n"])
    return any(c >= threshold * n and n for c, n in per.values())


@dataclass(frozen=True)
class SaturationProbe(FormatProbe):
    """``FormatProbe`` measured at the two ends of the post-saturation window only (Sec. 3.2): at the first step
    that is a multiple of ``every`` at or after the step where the run's rollout accuracy first reached
    ``threshold``, and after the last step. These are the two evaluations the post-saturation change reads
    (``saturation_steps``/``post_saturation_change``: first evaluation at or after saturation, last evaluation),
    so two measurements buy the estimate many more held-out problems than a probe at every step could. A run that
    saturates only at its last step, or never, gets one measurement and no post-saturation change."""

    threshold: float = 0.9
    at_start: bool = False
    name: str = "post"

    def callback(self, ctx: ProbeContext):
        base = type(super().callback(ctx))
        probe, rollouts = self, Path(ctx.run_dir) / "rollouts.jsonl"

        def on_step_end(cb, args, state, control, model=None, **kwargs):
            s = state.global_step
            if (state.is_world_process_zero and probe.every and s % probe.every == 0 and not cb.done
                    and rollout_saturated(rollouts, probe.threshold, s)):
                cb.run(model, s)

        return type(base.__name__, (base,), {"on_step_end": on_step_end})(self, ctx)


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
    pi1_seeds = params.get("pi1_seeds")
    if pi1_seeds and not set(params.get("seeds") or [0]) <= set(pi1_seeds):
        raise ParameterError(f"one_shot_rlvr: pi1_seeds must include every seed (the other arms are compared with "
                             f"pi1 within a seed); got {pi1_seeds} for seeds {params.get('seeds')}")
    if params.get("n_post_problems", 0) and not params.get("n_eval_problems"):
        raise ParameterError("one_shot_rlvr: n_post_problems are drawn after the n_select_problems + n_eval_problems "
                             "curve problems; with n_eval_problems = 0 (all) there are none left: set it to 0")
    post_arms = params.get("post_arms") or []
    if not set(post_arms) <= {"pi1", "pi1_control"} or (post_arms and "pi1" not in post_arms):
        raise ParameterError(f"one_shot_rlvr: post_arms are the pi1 arms the post-saturation probe measures: pi1, "
                             f"and optionally pi1_control; got {post_arms}")
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
    seeds, side, pi1 = params.get("seeds") or [0], params.get("side_seeds"), params.get("pi1_seeds")
    labels = [a[0] for a in arm_specs(params["arms"], params.get("entropy_sweep") or [])]
    runs = sum(len(arm_seeds(lab, seeds, side, pi1))
               for lab in labels + ["full_set"] * ("full_set" in params["arms"]))
    return plan_from_params(params, runs=runs, with_reference=True).to_dict()

