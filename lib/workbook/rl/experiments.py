"""RL experiment driver: train registered methods on problem lists over seeds, return tidy frames, plan GPU runs.

Shared by the 1-shot RLVR, NSR and Lp-Reg notebooks (specs one_shot_rlvr.md, nsr.md, lp_reg.md). A run = (label,
method, problems, seed): a fresh model trained by ``workbook.rl.trainer``, a held-out curve every ``eval_every``
steps (``workbook.rl.evaluation``), per-step metrics, per-problem rollout correctness and a final evaluation.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["ExperimentConfig", "RunSpec", "Results", "run_one", "run_grid", "historical_accuracy", "select_by_variance",
           "seed_ci", "evaluate_protocol", "sample_correctness", "benchmark_average_ci", "pass_at_k_table",
           "GPU_SPECS", "detect_gpu", "Plan", "plan", "plan_from_params", "model_params_b"]


@dataclass(frozen=True)
class ExperimentConfig:
    """Settings shared by every run of a grid (each method's own defaults live in ``workbook.rl.methods``).

    ``steps`` updates of ``prompts_per_step`` x ``num_generations`` rollouts; held-out curve every ``eval_every``
    steps (0: never), ``eval_n`` samples at ``eval_temperature`` (None: the rollout temperature; 0: greedy)."""

    model: str = "toy-reasoner"
    steps: int = 20
    prompts_per_step: int = 4
    num_generations: int = 8
    max_completion_length: int = 64
    learning_rate: float | None = None
    micro_batch_size: int | None = None
    eval_every: int = 5
    eval_n: int = 4
    eval_ks: tuple[int, ...] = (1, 4)
    eval_temperature: float | None = None
    eval_max_new_tokens: int | None = None
    instruction: str = "Please reason step by step, and put your final answer within \\boxed{}."
    grading_mode: str = "strict"
    generation_backend: str = "transformers"
    device: str = "cpu"
    bf16: bool = False
    torch_threads: int = 1
    final_n: int = 0  # > 0: after training, sample final_n completions per held-out problem (Results.final)
    final_temperature: float = 0.0
    final_protocol: dict = field(default_factory=dict)  # Problem.dataset -> (n, temperature); others use final_n/T

    def __post_init__(self) -> None:
        if self.steps < 1 or self.prompts_per_step < 1 or self.num_generations < 2:
            raise ValueError("need steps >= 1, prompts_per_step >= 1 and num_generations >= 2 (a group)")
        if self.eval_every < 0 or any(k > self.eval_n for k in self.eval_ks) and self.eval_temperature != 0:
            raise ValueError(f"eval_every must be >= 0 and eval_ks {self.eval_ks} <= eval_n {self.eval_n}")


@dataclass(frozen=True)
class RunSpec:
    """One training run: ``label`` names the arm in plots/tables ("pi1", "full_set", "entropy_only", ...)."""

    label: str
    method: str
    problems: tuple
    seed: int = 0
    method_overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", tuple(self.problems))
        if not self.problems:
            raise ValueError(f"run {self.label!r}: no training problems")


@dataclass
class Results:
    """Tidy frames of a grid: ``train`` (label, seed, step, metrics...), ``eval`` (label, seed, step, accuracy,
    accuracy_lo/hi, pass@k...), ``history`` (label, seed, step, problem_id, n, n_correct: every rollout group),
    ``final`` (label, seed, problem_id, n, n_correct: the held-out set after training, when ``final_n`` > 0),
    ``timing`` (label, seed, seconds, cpu_seconds: wall and process CPU time; never written into metrics.json)."""

    train: pd.DataFrame
    eval: pd.DataFrame
    history: pd.DataFrame
    final: pd.DataFrame
    timing: pd.DataFrame

    @staticmethod
    def concat(parts: Sequence["Results"]) -> "Results":
        """Returns the row-wise concatenation of several results."""
        return Results(*[pd.concat([getattr(p, f) for p in parts], ignore_index=True) for f in FRAMES])


FRAMES = ("train", "eval", "history", "final", "timing")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def run_one(spec: RunSpec, cfg: ExperimentConfig, eval_problems: Sequence = (), run_root: str | Path = "rl_runs",
            final_problems: Sequence | None = None) -> Results:
    """Returns the ``Results`` of one fresh training run.

    ``eval_problems``: the held-out curve; ``final_problems`` (default: the same) are evaluated after training when
    ``cfg.final_n`` > 0. ``run_root/<label>/seed<seed>`` is emptied first (a rerun never mixes logs).
    """
    import torch

    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.trainer import RLConfig, build_trainer, train

    torch.set_num_threads(cfg.torch_threads)
    run_dir = Path(run_root) / spec.label / f"seed{spec.seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    t0, c0 = time.time(), time.process_time()
    torch.manual_seed(spec.seed)
    model, tok = load_model(cfg.model, device=cfg.device)
    rl_cfg = RLConfig(
        max_steps=cfg.steps, prompts_per_step=cfg.prompts_per_step, num_generations=cfg.num_generations,
        micro_batch_size=cfg.micro_batch_size, max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.learning_rate, generation_backend=cfg.generation_backend,
        eval_steps=cfg.eval_every if eval_problems else 0, eval_n=cfg.eval_n, eval_ks=tuple(cfg.eval_ks),
        eval_temperature=cfg.eval_temperature, eval_max_new_tokens=cfg.eval_max_new_tokens,
        instruction=cfg.instruction, grading_mode=cfg.grading_mode, seed=spec.seed, bf16=cfg.bf16,
        method_overrides=dict(spec.method_overrides),
    )  # fmt: skip
    grader = Grader(mode=cfg.grading_mode)
    trainer = build_trainer(spec.method, model, tok, list(spec.problems), run_dir, rl_cfg,
                            eval_problems=list(eval_problems) or None, grader=grader)  # fmt: skip
    history: list[dict] = []
    _record_rewards(trainer, history)
    train(trainer, resume=False)
    final_problems = eval_problems if final_problems is None else final_problems
    final = evaluate_protocol(model, tok, final_problems, cfg, seed=spec.seed) if cfg.final_n else pd.DataFrame()
    tags = {"label": spec.label, "method": spec.method, "seed": spec.seed}
    train_rows = [r for r in _read_jsonl(run_dir / "train_log.jsonl") if "loss" in r or "entropy" in r]
    return Results(
        train=pd.DataFrame([{**tags, **r} for r in train_rows]),
        eval=pd.DataFrame([{**tags, **r} for r in _read_jsonl(run_dir / "eval_curve.jsonl")]),
        history=pd.DataFrame([{**tags, **h} for h in history]),
        final=final.assign(**tags) if len(final) else final,
        timing=pd.DataFrame([{**tags, "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}]),
    )


def _record_rewards(trainer, history: list[dict]) -> None:
    """Wraps the trainer's reward to record (step, problem_id, n, n_correct) per rollout group (``RLTrainer`` logs
    batch accuracy only; TRL passes every dataset column and ``trainer_state`` to reward functions)."""
    base = trainer.reward_funcs[0]

    def recording(prompts, completions, completion_ids, problem_id=None, trainer_state=None, **kw):
        rewards = base(prompts=prompts, completions=completions, completion_ids=completion_ids, **kw)
        if problem_id is not None:
            step = (trainer_state.global_step if trainer_state is not None else 0) + 1
            per: dict[str, list[float]] = {}
            for pid, r in zip(problem_id, rewards):
                per.setdefault(pid, []).append(float(r))
            history.extend({"step": step, "problem_id": p, "n": len(v), "n_correct": int(round(sum(v)))}
                           for p, v in per.items())  # fmt: skip
        return rewards

    recording.__name__ = getattr(base, "__name__", "reward")
    trainer.reward_funcs[0] = recording


def run_grid(specs: Sequence[RunSpec], cfg: ExperimentConfig, eval_problems: Sequence = (),
             run_root: str | Path = "rl_runs", workers: int = 1, final_problems: Sequence | None = None) -> Results:
    """Returns the concatenated ``Results`` of ``specs``; ``workers`` > 1 runs them in (spawned) processes.

    Runs are seeded and independent, so the frames do not depend on ``workers``. On 2 cores two single-threaded
    processes beat one two-threaded process for tiny models (threads spin on tiny matmuls).
    """
    labels = [(s.label, s.seed) for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate (label, seed) in specs: {labels}")
    final = None if final_problems is None else tuple(final_problems)
    jobs = [(s, cfg, tuple(eval_problems), str(run_root), final) for s in specs]
    if workers <= 1 or len(jobs) == 1:
        return Results.concat([run_one(*j) for j in jobs])
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return Results.concat(list(pool.map(run_one, *zip(*jobs))))


def historical_accuracy(history: pd.DataFrame, steps_per_epoch: int) -> pd.DataFrame:
    """Returns per (problem_id, epoch) training accuracy n_correct / n (the paper's ``acc_step_500.json``)."""
    if steps_per_epoch < 1:
        raise ValueError("steps_per_epoch must be >= 1")
    h = history.assign(epoch=(history["step"] - 1) // steps_per_epoch)
    g = h.groupby(["problem_id", "epoch"], as_index=False)[["n", "n_correct"]].sum()
    return g.assign(accuracy=g["n_correct"] / g["n"])


def select_by_variance(hist_acc: pd.DataFrame, top_index: int = 0) -> tuple[str, pd.DataFrame]:
    """Returns (problem_id ranked ``top_index`` by std of historical accuracy, the full ranking frame).

    Ranking: population std over epochs (numpy default, as ``np.std`` in the official script), descending; ties
    broken by problem_id for determinism. Problems seen in fewer than 2 epochs rank last.
    """
    rank = (hist_acc.groupby("problem_id")["accuracy"]
            .agg(std=lambda a: float(np.std(a)) if len(a) > 1 else -1.0, mean="mean", epochs="count")
            .reset_index().sort_values(["std", "problem_id"], ascending=[False, True], ignore_index=True))  # fmt: skip
    if not 0 <= top_index < len(rank):
        raise ValueError(f"top_index {top_index} out of range for {len(rank)} problems")
    return str(rank.loc[top_index, "problem_id"]), rank


def seed_ci(frame: pd.DataFrame, value: str, by: Sequence[str] = ("label", "step"),
            confidence: float = 0.95) -> pd.DataFrame:
    """Returns per group ``by``: value (mean over seeds), lo, hi (Student-t CI over seeds; a point if n = 1), n."""
    from scipy import stats

    rows = []
    for key, g in frame.dropna(subset=[value]).groupby(list(by), sort=True):
        x = g[value].to_numpy(float)
        m, n = float(x.mean()), len(x)
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "value": m, "lo": m - half,
                     "hi": m + half, "n": n})  # fmt: skip
    return pd.DataFrame(rows)


def evaluate_protocol(model, tokenizer, problems: Sequence, cfg: ExperimentConfig, seed: int = 0) -> pd.DataFrame:
    """Returns ``sample_correctness`` rows for ``problems``, each dataset at its ``cfg.final_protocol`` (n, T)."""
    groups: dict[tuple[int, float], list] = {}
    for p in problems:
        n, temp = cfg.final_protocol.get(p.dataset, (cfg.final_n, cfg.final_temperature))
        groups.setdefault((int(n), float(temp)), []).append(p)
    max_new = cfg.eval_max_new_tokens or cfg.max_completion_length
    frames = [sample_correctness(model, tokenizer, ps, n, t, max_new, cfg.instruction, cfg.grading_mode, seed=seed)
              for (n, t), ps in groups.items()]  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sample_correctness(model, tokenizer, problems: Sequence, n: int, temperature: float, max_new_tokens: int,
                       instruction: str, grading_mode: str = "strict", seed: int = 0, batch_size: int = 64):
    """Returns a frame, one row per problem: problem_id, dataset, n, n_correct (T = 0: greedy, n = 1); NSR's n = 256."""
    from workbook.generation import TransformersBackend
    from workbook.grading import Grader
    from workbook.rl.evaluation import build_prompts

    n = 1 if temperature == 0 else n
    prompts = build_prompts(tokenizer, [p.problem for p in problems], instruction)
    was_training = model.training
    model.eval()
    try:
        outs = TransformersBackend(model, tokenizer, batch_size=batch_size).generate(
            prompts, n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    finally:
        model.train(was_training)
    grader = Grader(mode=grading_mode)
    ok = [sum(grader.grade_many([c.text for c in comps], [p.answer] * len(comps))) for p, comps in zip(problems, outs)]
    return pd.DataFrame([{"problem_id": p.problem_id, "dataset": p.dataset, "n": len(c), "n_correct": int(k)}
                         for p, c, k in zip(problems, outs, ok)])  # fmt: skip


def pass_at_k_table(correct: pd.DataFrame, ks: Sequence[int], seed: int = 0, n_boot: int = 2000) -> pd.DataFrame:
    """Returns per k: pass@k (unbiased, mean over problems), lo, hi (bootstrap over problems), n (problems)."""
    from workbook.metrics import bootstrap_ci, pass_at_k_curve

    curve = pass_at_k_curve(correct["n_correct"].to_numpy(), correct["n"].to_numpy(), list(ks))
    ests = [bootstrap_ci(curve[:, j], seed=seed, n_boot=n_boot) for j in range(len(ks))]
    return pd.DataFrame([{"k": k, "value": e.value, "lo": e.lo, "hi": e.hi, "n": e.n} for k, e in zip(ks, ests)])


def benchmark_average_ci(correct: pd.DataFrame, seed: int = 0, n_boot: int = 2000) -> "Estimate":
    """Returns the mean over datasets of per-dataset accuracy with a stratified bootstrap CI (problems resampled
    within each dataset; several seeds per problem are averaged first). The six-benchmark average of Wang et al."""
    from workbook.metrics import Estimate

    acc = correct.assign(acc=correct["n_correct"] / correct["n"]).groupby(["dataset", "problem_id"])["acc"].mean()
    per = [g.to_numpy() for _, g in acc.groupby(level=0)]
    rng = np.random.default_rng(seed)
    boots = np.mean([[x[rng.integers(0, len(x), len(x))].mean() for x in per] for _ in range(n_boot)], axis=1)
    value = float(np.mean([x.mean() for x in per]))
    return Estimate(value, float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)), int(len(acc)),
                    f"average over {len(per)} datasets")


# ---- plan: steps, rollouts, tokens, GPU-hours ---------------------------------------------------------------------

#: Dense bf16 peak TFLOP/s per GPU (vendor datasheets); keys are matched in the device name.
GPU_SPECS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0, "RTX 4090": 165.0}
_KNOWN_PARAMS_B = {"qwen2.5-math-1.5b": 1.54, "qwen2.5-math-7b": 7.62, "toy-reasoner": 1.3e-3,
                   "toy-reasoner-smoke": 1e-4}


def model_params_b(model: str) -> float:
    """Returns the parameter count in billions of a preset (known table, else parsed from a "1.5b"-like name)."""
    m = re.search(r"(\d+(?:\.\d+)?)b\b", model.lower())
    if model not in _KNOWN_PARAMS_B and not m:
        raise ValueError(f"cannot tell the size of model {model!r}; pass model_params explicitly")
    return _KNOWN_PARAMS_B.get(model) or float(m.group(1))


def detect_gpu(named: str | None = None) -> tuple[str, float, bool]:
    """Returns (GPU name, peak bf16 TFLOP/s, found) for the visible CUDA device, else for ``named`` (default H100)."""
    try:
        import torch

        found_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - a broken CUDA install must not stop the plan from printing
        found_name = None
    name = found_name or named or "H100"
    for key, tflops in GPU_SPECS.items():
        if key.lower() in name.lower():
            return name, tflops, found_name is not None
    raise ValueError(f"unknown GPU {name!r}; known: {sorted(GPU_SPECS)}")


@dataclass(frozen=True)
class Plan:
    """What a run costs: steps, rollouts, tokens and estimated GPU-hours (assumptions in ``assumptions``)."""

    runs: int
    steps: int
    rollouts_per_step: int
    total_rollouts: int
    generated_tokens: float
    trained_tokens: float
    eval_tokens: float
    params_b: float
    gpu: str
    gpu_found: bool
    gpu_hours: float
    assumptions: str

    def __str__(self) -> str:
        where = "found" if self.gpu_found else "not found; estimate for"
        return (f"plan: {self.runs} run(s) x {self.steps} steps x {self.rollouts_per_step} rollouts = "
                f"{self.total_rollouts:,} rollouts; ~{self.generated_tokens / 1e6:,.1f}M generated + "
                f"{self.eval_tokens / 1e6:,.1f}M evaluation tokens; {self.trained_tokens / 1e6:,.1f}M tokens "
                f"through the {self.params_b:g}B policy. GPU {where} {self.gpu}: ~{self.gpu_hours:,.1f} GPU-hours "
                f"({self.assumptions})")  # fmt: skip


def plan(*, model: str, steps: int, prompts_per_step: int, num_generations: int, max_completion_length: int,
         runs: int = 1, updates_per_rollout: int = 1, prompt_tokens: int = 200, completion_fill: float = 0.4,
         eval_every: int = 0, eval_problems: int = 0, eval_n: int = 1, eval_max_new_tokens: int | None = None,
         final_eval_tokens: float = 0.0, with_reference: bool = True, gpu: str | None = None,
         gen_mfu: float = 0.10, train_mfu: float = 0.30, model_params: float | None = None) -> Plan:
    """Returns the ``Plan`` of ``runs`` RL runs of ``steps`` optimizer updates; loads no model, needs no GPU.

    Rough compute model (printed with the plan): completions average ``completion_fill`` x the maximum length;
    generation costs 2N FLOPs/token at ``gen_mfu`` of peak; training 6N (policy) + 2N (reference, KL on) + 2N (old
    log-probs, ``updates_per_rollout`` > 1) FLOPs per prompt+completion token at ``train_mfu``.
    """
    params_b = model_params if model_params is not None else model_params_b(model)
    name, tflops, found = detect_gpu(gpu)
    rollouts_per_step = prompts_per_step * num_generations
    total_rollouts = runs * steps * rollouts_per_step
    mean_completion = completion_fill * max_completion_length
    generated, trained = total_rollouts * mean_completion, total_rollouts * (prompt_tokens + mean_completion)
    n_evals, eval_len = ((steps // eval_every + 1) if eval_every else 0), eval_max_new_tokens or max_completion_length
    eval_tok = runs * n_evals * eval_problems * eval_n * completion_fill * eval_len + final_eval_tokens
    n = params_b * 1e9
    train_flops_per_token = (6 + (2 if with_reference else 0) + (2 if updates_per_rollout > 1 else 0)) * n
    seconds = (generated + eval_tok) * 2 * n / (gen_mfu * tflops * 1e12)
    seconds += trained * train_flops_per_token / (train_mfu * tflops * 1e12)
    assumptions = (f"completions {completion_fill:.0%} of {max_completion_length} tokens, prompts {prompt_tokens} "
                   f"tokens, generation at {gen_mfu:.0%} and training at {train_mfu:.0%} of {tflops:g} TFLOP/s bf16")
    return Plan(runs, steps, rollouts_per_step, total_rollouts, generated, trained, eval_tok, params_b, name, found,
                seconds / 3600, assumptions)  # fmt: skip


#: Problems per benchmark for the final-evaluation estimate of :func:`plan_from_params` (the shipped files).
BENCHMARK_SIZES = {"math500": 500, "aime24": 30, "aime25": 30, "amc23": 40, "minerva": 272, "olympiadbench": 675,
                   "gsm8k": 1319}


def plan_from_params(params: dict, runs: int | None = None, gpu: str | None = None, **kw) -> Plan:
    """Returns ``plan`` from a notebook's resolved parameters: model, steps, prompts_per_step, num_generations,
    max_completion_length, seeds x arms (runs), eval_every, n_curve_problems / n_eval_problems, eval_n,
    eval_max_new_tokens, prompt_tokens, gpu; final evaluation: eval_benchmarks x official_protocol ({name: [n, T]})."""
    runs = runs if runs is not None else len(params.get("seeds") or [0]) * len(params.get("arms") or [None])
    n_curve = int(params.get("n_curve_problems") or params.get("n_eval_problems") or 0)
    protocol, n_eval = params.get("official_protocol") or {}, int(params.get("n_eval_problems") or 0)
    max_new = int(params.get("eval_max_new_tokens") or params["max_completion_length"])
    final_samples = sum((min(n_eval, BENCHMARK_SIZES.get(b, n_eval)) if n_eval else BENCHMARK_SIZES.get(b, 0))
                        * int((protocol.get(b) or [params.get("final_n") or params.get("eval_n", 1)])[0])
                        for b in params.get("eval_benchmarks") or [])  # fmt: skip
    fill = kw.pop("completion_fill", 0.4)
    return plan(
        model=params["model"], steps=int(params["steps"]), prompts_per_step=int(params["prompts_per_step"]),
        num_generations=int(params["num_generations"]), max_completion_length=int(params["max_completion_length"]),
        runs=runs, eval_every=int(params.get("eval_every", 0)), eval_problems=n_curve,
        eval_n=int(params.get("eval_n", 1)), eval_max_new_tokens=max_new, completion_fill=fill,
        final_eval_tokens=(runs + 1) * final_samples * fill * max_new,  # +1: the base model
        prompt_tokens=int(params.get("prompt_tokens", 200)), gpu=gpu or params.get("gpu") or None, **kw,
    )  # fmt: skip
