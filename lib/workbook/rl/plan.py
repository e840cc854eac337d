"""Cost plans of RL runs: steps, rollouts, tokens and GPU-hours, computed without a model or a GPU.

Each paper's ``plan(params)`` (``workbook.papers.<paper>``) builds on :func:`plan`; the GPU readiness check prints
them. The compute model is deliberately simple (stated with every plan): 2N FLOPs per generated token, 6N per
trained token (+2N for a reference model, +2N for old log-probs when a rollout batch feeds several updates, +2N to
recompute the forward pass under gradient checkpointing), at an assumed fraction of the GPU's dense bf16 peak.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

__all__ = ["GPU_SPECS", "BENCHMARK_SIZES", "Plan", "plan", "plan_from_params", "detect_gpu", "model_params_b"]


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

    def to_dict(self) -> dict:
        """Returns the fields as a dict plus ``summary`` (the printed sentence): what ``plan(params)`` returns."""
        return {**asdict(self), "summary": str(self)}

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
         gen_mfu: float = 0.10, train_mfu: float = 0.30, model_params: float | None = None,
         gradient_checkpointing: bool = False) -> Plan:
    """Returns the ``Plan`` of ``runs`` RL runs of ``steps`` optimizer updates; loads no model, needs no GPU.

    Rough compute model (printed with the plan): completions average ``completion_fill`` x the maximum length;
    generation costs 2N FLOPs/token at ``gen_mfu`` of peak; training 6N (policy) + 2N (reference, KL on) + 2N (old
    log-probs, ``updates_per_rollout`` > 1) + 2N (the recomputed forward, ``gradient_checkpointing``) FLOPs per
    prompt+completion token at ``train_mfu``.
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
    train_flops_per_token = (6 + (2 if with_reference else 0) + (2 if updates_per_rollout > 1 else 0)
                             + (2 if gradient_checkpointing else 0)) * n
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
        prompt_tokens=int(params.get("prompt_tokens", 200)), gpu=gpu or params.get("gpu") or None,
        gradient_checkpointing=bool(params.get("gradient_checkpointing")), **kw,
    )  # fmt: skip
