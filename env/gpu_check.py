"""GPU readiness check: proves the ``paper`` path on one GPU, offline; ``--cpu`` is the rehearsal on CPU.

Run through ``env/gpu_check.sh`` (installs carried wheels, points the cache at the carried toy checkpoints; see
the "GPU check" section of docs/cluster.md). Not part of the library: it drives ``workbook`` from outside.
Checks, each recorded with its figures in ``gpu_check.json`` (+ ``gpu_check.md``):

(a) ``rl_methods``: every method in ``workbook.rl.methods.METHODS`` trains a few steps through the TRL adapter
    (``workbook.rl.trainer``) at a paper-shaped batch -- many rollouts per prompt, long completions -- on CUDA in
    bf16 autocast with the toy reasoner (on CPU: fp32, ``toy-reasoner-smoke``, a small batch), asserting that the
    weights change and every logged metric is finite, with the step times and memory high-water marks;
(b) ``rl_step_ratio``: optimizer-step time of the workbook trainer vs stock TRL ``GRPOTrainer`` on the identical
    config, interleaved in one process (the ``benchmarks/bench_rl.py`` measure on this device);
(c) ``generation``: ``TransformersBackend`` greedy decoding on CUDA and on CPU (tokens/s of each, identical
    token ids required); on CPU a second CPU pass checks determinism;
(d) ``paper_plans``: every paper with a ``paper.yaml`` resolves its parameters and its
    ``workbook.papers.<paper>.plan(params)`` returns a plan (model loading forbidden while it runs);
(e) ``vllm``: ``VLLMBackend`` generate + logprobs when vllm imports, else skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

#: Earlier partial CUDA checks by the GEN and RL owners (cited, not copied).
EARLIER_CUDA_RESULTS = ("results/benchmarks/generation_cuda.json", "results/benchmarks/rl_step.json")
PROMPT_SEED = 0


def _problems(n: int, seed: int = PROMPT_SEED) -> list[dict]:
    """Returns ``n`` synthetic arithmetic problems as dicts (problem, answer, problem_id)."""
    from workbook.data.synthetic import generate_problems

    return [{"problem": p.problem, "answer": p.answer, "problem_id": p.problem_id}
            for p in generate_problems(n, seed=seed)]  # fmt: skip


def parity_reward(completions: list[str], answers: list[str], completion_ids: list[list[int]]) -> list[float]:
    """Returns 1.0 on every other completion of the batch: a reward with spread inside every group (TRL keeps a
    prompt's num_generations completions together), whatever the policy samples. Rewarding the parity of the first
    token left groups without spread, hence no GRPO gradient, once the smoke toy always starts with the same token."""
    return [float(i % 2 == 0) for i in range(len(completion_ids))]


def _finite(values: dict) -> tuple[bool, list[str]]:
    bad = [k for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)]
    return not bad, bad


def _toy(name: str, device: str, allow_train: bool):
    """Returns ``(model, tokenizer, checkpoint_dir)`` of a toy preset; refuses to train one unless ``allow_train``."""
    from workbook.models import load_model
    from workbook.toy import RECIPES
    from workbook.toy.train import is_trained, recipe_dir

    if not allow_train and not is_trained(RECIPES[name]):
        raise FileNotFoundError(
            f"{name} checkpoint not found at {recipe_dir(RECIPES[name])}: carry it (make gpu-carry) and set "
            "WORKBOOK_CACHE_DIR to the carried cache; the GPU check does not train the toy model")
    model, tok = load_model(name, device=device)
    return model, tok, str(recipe_dir(RECIPES[name]))


def _peak_memory_mib(device: str) -> float:
    """Returns the memory high-water mark in MiB: CUDA allocator peak, else this process's peak RSS."""
    import torch

    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


class ExactGrader:
    """Exact-match grader: the check's reward is ``parity_reward``; accuracy only needs to be computable."""

    name = "exact"

    def grade_many(self, completions, golds):
        return [c.strip() == g for c, g in zip(completions, golds)]


def _rl_config(shape: dict, steps: int, bf16: bool, overrides: dict | None = None):
    from workbook.rl.trainer import RLConfig
    from workbook.toy import MATH_INSTRUCTION

    return RLConfig(max_steps=steps, prompts_per_step=shape["prompts_per_step"],
                    num_generations=shape["num_generations"], max_completion_length=shape["max_completion_length"],
                    learning_rate=1e-2, instruction=MATH_INSTRUCTION, seed=0, bf16=bf16,
                    method_overrides=overrides or {})  # fmt: skip


def _train_and_summarise(tr, model, run_dir: Path, device: str) -> tuple[dict, list[dict]]:
    """Trains ``tr`` (a ``workbook.rl.trainer`` trainer writing ``run_dir/train_log.jsonl``) and returns the figures
    both RL checks record -- steps done, step times, memory peak, completion lengths, finite metrics, the device it
    trained on (memory since the caller's ``_reset_peak``) -- and the per-step log rows."""
    from workbook.rl.trainer import train

    train(tr, resume=False)
    logs = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
    step_logs = [r for r in logs if "loss" in r]
    finite, bad = _finite({f"{r['step']}/{k}": v for r in step_logs for k, v in r.items()})
    return {"steps_done": tr.state.global_step, "metrics_finite": finite, "non_finite": bad,
            "train_device": str(next(model.parameters()).device),
            "step_time_s": [r.get("step_time") for r in step_logs], "peak_memory_mib": _peak_memory_mib(device),
            "mean_completion_length": [r.get("completions/mean_length") for r in step_logs]}, step_logs  # fmt: skip


def check_rl_methods(model_name: str, device: str, bf16: bool, steps: int, workdir: Path, allow_train: bool,
                     shape: dict) -> dict:
    """Returns per-method results of ``steps`` TRL-adapter steps at batch ``shape``: weights changed, metrics
    finite, step times, memory high-water mark.

    ``shape``: prompts_per_step, num_generations, max_completion_length. Parity reward and lr 1e-2 so every method
    moves the weights; Lp-Reg with rho 1 / kappa 0.6 so its term fires.
    """
    import torch

    from workbook.rl.methods import METHODS
    from workbook.rl.trainer import build_trainer

    problems = _problems(max(8, shape["prompts_per_step"]))
    out: dict[str, Any] = {"model": model_name, "device": device, "bf16": bf16, "steps": steps, **shape,
                           "rollouts_per_step": shape["prompts_per_step"] * shape["num_generations"],
                           "precision": "bf16 autocast, fp32 weights (paper.yaml bf16: true)" if bf16 else "fp32",
                           "memory": "torch.cuda.max_memory_allocated per method" if device == "cuda"
                           else "process peak RSS (cumulative)", "methods": {}}  # fmt: skip
    for method in sorted(METHODS):
        t0 = time.perf_counter()
        rec: dict[str, Any] = {}
        try:
            model, tok, _ = _toy(model_name, "cpu", allow_train)  # the Trainer moves it to the accelerator
            before = {k: v.detach().float().cpu().clone() for k, v in model.named_parameters()}
            overrides = {"rho": 1.0, "kappa": 0.6} if method == "lp_reg" else {}
            run_dir = workdir / "rl" / method
            _reset_peak(device)
            tr = build_trainer(method, model, tok, problems, run_dir, _rl_config(shape, steps, bf16, overrides),
                               reward_fn=parity_reward, grader=ExactGrader())  # fmt: skip
            figures, step_logs = _train_and_summarise(tr, model, run_dir, device)
            delta = max((v.detach().float().cpu() - before[k]).abs().max().item() for k, v in model.named_parameters())
            rec.update(figures, weights_changed=delta > 0, max_abs_weight_delta=delta,
                       last_step={k: step_logs[-1].get(k) for k in ("loss", "reward", "entropy", "policy_loss", "kl")
                                  if step_logs and k in step_logs[-1]})  # fmt: skip
            rec["ok"] = bool(rec["steps_done"] == steps and rec["weights_changed"] and rec["metrics_finite"]
                             and len(step_logs) == steps and rec["train_device"].startswith(device))
            del tr, model
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception as e:  # noqa: BLE001 - one method's failure is recorded; the others still run
            rec.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=6))
        rec["wall_s"] = round(time.perf_counter() - t0, 3)
        log.info("rl %s: %s", method, "ok" if rec["ok"] else rec.get("error") or rec)
        out["methods"][method] = rec
    out["ok"] = bool(out["methods"]) and all(r["ok"] for r in out["methods"].values())
    return out


def check_rl_step_ratio(model_name: str, device: str, bf16: bool, steps: int, reps: int, workdir: Path,
                        allow_train: bool, shape: dict) -> dict:
    """Returns the median optimizer-step time of the workbook trainer (``grpo``) and of stock TRL ``GRPOTrainer``
    on the identical config, data and reward, runs interleaved (ours, stock, ours, ...); the first step of each
    run is dropped as warm-up. Target (benchmarks/bench_rl.py): ours / stock <= 1.10."""
    import statistics

    from trl import GRPOTrainer

    from workbook.rl.trainer import build_trainer

    problems = _problems(max(8, shape["prompts_per_step"]))
    times: dict[str, list[float]] = {"workbook": [], "stock_trl": []}
    out: dict[str, Any] = {"model": model_name, "device": device, "method": "grpo", "steps_per_run": steps,
                           "reps": reps, **shape}  # fmt: skip
    try:
        for rep in range(reps):
            for kind in ("workbook", "stock_trl"):
                model, tok, _ = _toy(model_name, "cpu", allow_train)
                tr = build_trainer("grpo", model, tok, problems, workdir / "ratio" / f"{kind}{rep}",
                                   _rl_config(shape, steps, bf16), reward_fn=parity_reward, grader=ExactGrader(),
                                   trainer_cls=GRPOTrainer if kind == "stock_trl" else None)  # fmt: skip
                tr.train()
                times[kind] += [r["step_time"] for r in tr.state.log_history if "step_time" in r][1:]
        med = {k: statistics.median(v) for k, v in times.items() if v}
        out.update(step_time_s=times, median_step_time_s=med)
        if len(med) == 2:
            out["ratio_workbook_over_stock"] = round(med["workbook"] / med["stock_trl"], 3)
        out["ok"] = len(med) == 2
    except Exception as e:  # noqa: BLE001
        out.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=6))
    return out


#: Qwen2.5-Math-1.5B's shape (its config.json: the model of the 1-shot RLVR, NSR and sharpening papers). No
#: weights can be fetched here, so the check builds it with random weights: memory and time depend on the shapes
#: alone, and random weights rarely sample EOS, so completions run to the cap -- the worst case for that cap.
QWEN25_MATH_1P5B = {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                    "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
                    "max_position_embeddings": 4096, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
                    "tie_word_embeddings": True}  # fmt: skip
#: The CPU rehearsal's stand-in: the same code path on a model small enough for a laptop (the vocabulary kept).
TINY_PAPER_ARCH = {**QWEN25_MATH_1P5B, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2}


def check_paper_shape(device: str, arch: dict, shape: dict, steps: int, workdir: Path, tokenizer_from: str,
                      method: str = "one_shot_rlvr") -> dict:
    """Returns ``steps`` steps of ``method`` (default: the 1-shot RLVR recipe: KL to a reference model, entropy
    bonus) on a random-weight model of ``arch`` at the paper profile's batch geometry ``shape`` (prompts_per_step,
    num_generations, max_completion_length, micro_batch_size): step times, memory high-water mark, completion
    lengths, parameter count. Generation is ``transformers`` on the device (the paper profile uses vLLM, which
    this image may lack); the tokenizer is the toy's (its ids are a prefix of the model's vocabulary)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from workbook.rl.trainer import RLConfig, build_trainer

    out: dict[str, Any] = {"method": method, "device": device, "arch": arch, **shape, "steps": steps,
                           "rollouts_per_step": shape["prompts_per_step"] * shape["num_generations"],
                           "weights": "random (shape only)", "generation": "transformers"}  # fmt: skip
    try:
        tok = AutoTokenizer.from_pretrained(tokenizer_from)
        tok.padding_side = "left"
        torch.manual_seed(0)
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        with torch.device(device):
            model = Qwen2ForCausalLM(Qwen2Config(**arch, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                                 pad_token_id=tok.pad_token_id)).to(dtype)  # fmt: skip
        out["parameters"] = sum(p.numel() for p in model.parameters())
        cfg = RLConfig(max_steps=steps, prompts_per_step=shape["prompts_per_step"],
                       num_generations=shape["num_generations"], micro_batch_size=shape["micro_batch_size"],
                       max_completion_length=shape["max_completion_length"], learning_rate=1e-6,
                       bf16=device == "cuda", seed=0,
                       gradient_checkpointing=bool(shape.get("gradient_checkpointing")))  # fmt: skip
        run_dir = workdir / "paper_shape" / f"{shape['max_completion_length']}"
        _reset_peak(device)
        tr = build_trainer(method, model, tok, _problems(max(8, shape["prompts_per_step"])), run_dir, cfg,
                           reward_fn=parity_reward, grader=ExactGrader())  # fmt: skip
        out.update(_train_and_summarise(tr, model, run_dir, device)[0])
        out["ok"] = bool(out["steps_done"] == steps and out["metrics_finite"]
                         and out["train_device"].startswith(device))
        del tr, model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception as e:  # noqa: BLE001 - e.g. out of memory: recorded with the shape that caused it
        out.update(ok=False, error=f"{type(e).__name__}: {e}"[:2000], traceback=traceback.format_exc(limit=6),
                   peak_memory_mib=_peak_memory_mib(device))  # fmt: skip
    return out


def _timed_greedy(backend, prompts: list[str], max_new_tokens: int) -> tuple[list[list[int]], float, int]:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    res = backend.generate(prompts, n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=0)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    ids = [r[0].token_ids for r in res]
    return ids, dt, sum(len(x) for x in ids)


def check_generation(model_name: str, cuda: bool, n_prompts: int, max_new_tokens: int, allow_train: bool) -> dict:
    """Returns tokens/s per device and whether greedy token ids agree (CUDA vs CPU; or CPU vs CPU in the dry run)."""
    from workbook.generation import TransformersBackend
    from workbook.generation import build_prompts
    from workbook.toy import MATH_INSTRUCTION

    out: dict[str, Any] = {"model": model_name, "prompts": n_prompts, "max_new_tokens": max_new_tokens,
                           "dtype": "float32", "decoding": "greedy"}  # fmt: skip
    try:
        model, tok, _ = _toy(model_name, "cpu", allow_train)
        prompts = build_prompts(tok, [p["problem"] for p in _problems(n_prompts, seed=1)], MATH_INSTRUCTION)
        arms = {}
        cpu = TransformersBackend(model, tok, batch_size=n_prompts)
        ids_cpu, dt, ntok = _timed_greedy(cpu, prompts, max_new_tokens)
        arms["cpu"] = {"seconds": round(dt, 4), "tokens": ntok, "tokens_per_s": round(ntok / dt, 1)}
        if cuda:
            gpu_model, _, _ = _toy(model_name, "cuda", allow_train)
            gpu = TransformersBackend(gpu_model, tok, batch_size=n_prompts)
            _timed_greedy(gpu, prompts[:2], 8)  # warm-up: CUDA context and kernels
            ids_other, dt, ntok = _timed_greedy(gpu, prompts, max_new_tokens)
            arms["cuda"] = {"seconds": round(dt, 4), "tokens": ntok, "tokens_per_s": round(ntok / dt, 1)}
            other = "cuda"
        else:
            ids_other, dt, ntok = _timed_greedy(cpu, prompts, max_new_tokens)
            arms["cpu_repeat"] = {"seconds": round(dt, 4), "tokens": ntok, "tokens_per_s": round(ntok / dt, 1)}
            other = "cpu_repeat"
        mismatch = [i for i, (a, b) in enumerate(zip(ids_cpu, ids_other)) if a != b]
        out.update(arms=arms, compared=f"cpu vs {other}", identical_greedy=not mismatch, mismatched_prompts=mismatch,
                   sample_completion=tok.decode(ids_cpu[0], skip_special_tokens=True))  # fmt: skip
        if cuda:
            out["cuda_speedup"] = round(arms["cuda"]["tokens_per_s"] / arms["cpu"]["tokens_per_s"], 2)
        out["ok"] = bool(not mismatch and all(a["tokens"] > 0 for a in arms.values()))
    except Exception as e:  # noqa: BLE001
        out.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=6))
    return out


def _forbid_model_loading() -> Callable[[], None]:
    """Patches the model/backends loaders to raise (a plan must not load a model); returns the undo function."""
    import workbook.generation as gen
    import workbook.models as models

    saved = [(models, "load_model", models.load_model), (gen, "make_backend", gen.make_backend)]

    def refuse(*a, **k):
        raise RuntimeError("plan check: computing the plan tried to load a model")

    for mod, name, _ in saved:
        setattr(mod, name, refuse)
    return lambda: [setattr(mod, name, fn) for mod, name, fn in saved]


def paper_plan(paper: str) -> dict:
    """Returns the ``paper`` profile's resolved parameters and ``workbook.papers.<paper>.plan(params)``."""
    import importlib

    from workbook.params import resolve_params

    params, runner = resolve_params(paper, "paper")
    rec: dict[str, Any] = {"resolved": True, "runner": runner,
                           "params": {k: params[k] for k in ("model", "generation_backend", "backend", "device", "bf16",
                                                             "steps", "methods", "eval_benchmarks") if k in params}}
    module = importlib.import_module(f"workbook.papers.{paper}")
    undo = _forbid_model_loading()
    try:
        module.validate(params)
        plan = module.plan(params)
    finally:
        undo()
    rec.update(plan=plan, summary=plan.get("summary"), gpu_hours=plan.get("gpu_hours"),
               ok=isinstance(plan, dict) and bool(plan.get("summary")))  # fmt: skip
    return rec


def check_paper_plans() -> dict:
    """Returns ``paper_plan`` for every paper that has ``notebooks/params/<paper>/paper.yaml``."""
    from workbook.params import list_notebooks, profile_path

    out: dict[str, Any] = {"notebooks": {}, "source": "workbook.papers.<paper>.plan(params) on the paper profile"}
    for nb in list_notebooks():
        try:
            if not profile_path(nb, "paper").exists():
                continue
        except Exception:  # noqa: BLE001 - profile_path raises for a missing profile in some versions
            continue
        t0 = time.perf_counter()
        try:
            rec = paper_plan(nb)
        except Exception as e:  # noqa: BLE001
            rec = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=6)}
        rec["wall_s"] = round(time.perf_counter() - t0, 3)
        log.info("plan %s: %s", nb, "ok" if rec["ok"] else rec.get("error"))
        out["notebooks"][nb] = rec
    out["ok"] = bool(out["notebooks"]) and all(r["ok"] for r in out["notebooks"].values())
    return out


def check_vllm(model_name: str, run: bool) -> dict:
    """Returns vLLM generate + logprobs results on the toy model, or ``skipped`` with the reason."""
    if not run:
        return {"skipped": True, "reason": "--cpu dry run (vLLM needs a GPU)", "ok": True}
    try:
        import vllm
    except Exception as e:  # noqa: BLE001 - ImportError or a broken CUDA build
        return {"skipped": True, "reason": f"vllm does not import ({type(e).__name__}: {e})", "ok": True}
    try:
        from workbook.generation import VLLMBackend
        from workbook.generation import build_prompts
        from workbook.toy import MATH_INSTRUCTION

        _toy(model_name, "cpu", allow_train=False)  # the checkpoint must already be there
        t0 = time.perf_counter()
        be = VLLMBackend(model_name, seed=0, gpu_memory_utilization=0.3, max_model_len=512)
        load_s = time.perf_counter() - t0
        prompts = build_prompts(be.tokenizer, [p["problem"] for p in _problems(4, seed=1)], MATH_INSTRUCTION)
        t0 = time.perf_counter()
        res = be.generate(prompts, n=2, temperature=1.0, max_new_tokens=64, seed=0)
        dt = time.perf_counter() - t0
        comps = [c for r in res for c in r]
        ntok = sum(len(c.token_ids) for c in comps)
        logps_ok = all(len(c.logprobs) == len(c.token_ids) and all(math.isfinite(x) and x <= 0 for x in c.logprobs)
                       for c in comps)  # fmt: skip
        return {"skipped": False, "vllm": vllm.__version__, "load_s": round(load_s, 2), "completions": len(comps),
                "tokens": ntok, "tokens_per_s": round(ntok / dt, 1), "logprobs_finite_nonpositive": logps_ok,
                "ok": bool(ntok > 0 and logps_ok)}  # fmt: skip
    except Exception as e:  # noqa: BLE001
        return {"skipped": False, "ok": False, "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=6)}  # fmt: skip


def _versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("torch", "transformers", "trl", "accelerate", "datasets", "math-verify", "vllm", "deepspeed"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "missing"
    return out


#: Batch shapes: CUDA is paper-shaped (16 rollouts per prompt as in the papers' scripts' 8-16; completions long
#: enough to fill most of the toy's 512 positions); the CPU rehearsal keeps the same code path at toy size.
SHAPES = {
    "cuda": {"prompts_per_step": 4, "num_generations": 16, "max_completion_length": 384},
    "cpu": {"prompts_per_step": 2, "num_generations": 4, "max_completion_length": 16},
}
#: Batch geometry at two completion caps, opt-in (--only), as they take minutes on one GPU. 1k: micro-batch 16
#: without gradient checkpointing (the paper profiles' first settings; measured at 64 GiB on an H200). 3k: the
#: 1-shot paper's 3,072-token cap at notebooks/params/one_shot_rlvr/paper.yaml's settings (micro-batch 4 with
#: gradient checkpointing, as the official script; at micro-batch 16 without it the H200 ran out of memory).
PAPER_SHAPES = {
    "cuda": {"paper_shape_1k": {"prompts_per_step": 8, "num_generations": 8, "max_completion_length": 1024,
                                "micro_batch_size": 16, "gradient_checkpointing": False},
             "paper_shape_3k": {"prompts_per_step": 16, "num_generations": 8, "max_completion_length": 3072,
                                "micro_batch_size": 4, "gradient_checkpointing": True}},
    "cpu": {"paper_shape_1k": {"prompts_per_step": 2, "num_generations": 2, "max_completion_length": 8,
                               "micro_batch_size": 2, "gradient_checkpointing": False},
            "paper_shape_3k": {"prompts_per_step": 2, "num_generations": 2, "max_completion_length": 16,
                               "micro_batch_size": 2, "gradient_checkpointing": True}},
}  # fmt: skip
CHECKS = ("rl_methods", "rl_step_ratio", "generation", "paper_plans", "vllm", "paper_shape_1k", "paper_shape_3k")
OPT_IN = ("paper_shape_1k", "paper_shape_3k")


def _choose_toy(preferred: str, allow_train: bool) -> dict:
    """Returns {"model", "was_cached", ...}: ``preferred`` if its checkpoint is cached (carried), else the smoke toy.

    The full toy reasoner takes about an hour to train on CPU and is not trained here; on a machine without its
    checkpoint the check runs on ``toy-reasoner-smoke`` (same architecture family, trained in seconds) and says so.
    """
    from workbook.toy import RECIPES
    from workbook.toy.train import recipe_dir, verify_checkpoint

    problem = verify_checkpoint(recipe_dir(RECIPES[preferred]))
    if problem is None:
        return {"model": preferred, "was_cached": True}
    rec = {"model": preferred, "was_cached": False, "missing_reason": problem}
    if preferred != "toy-reasoner-smoke" and allow_train:
        rec.update(model="toy-reasoner-smoke", note=f"{preferred} is not cached here ({problem}); "
                   "the checks ran on toy-reasoner-smoke instead (carry it with make gpu-carry)")  # fmt: skip
    return rec


def run_checks(cpu: bool, out_dir: Path, steps: int = 2, only: tuple[str, ...] = (), allow_train: bool | None = None,
               ratio_reps: int = 2) -> dict:
    """Returns the summary dict after running the checks and writing ``gpu_check.json`` and ``gpu_check.md``
    (``gpu_check_cpu.*`` for the rehearsal). ``allow_train``: train a missing toy checkpoint here (default: yes)."""
    import torch

    t0 = time.time()
    cuda = not cpu
    if cuda and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device visible; use --cpu for the dry run")
    torch.set_num_threads(2 if cpu else min(8, os.cpu_count() or 1))
    model = "toy-reasoner-smoke" if cpu else "toy-reasoner"
    device = "cpu" if cpu else "cuda"
    shape = SHAPES[device]
    allow = True if allow_train is None else allow_train
    summary: dict[str, Any] = {
        "mode": "cpu-dry-run" if cpu else "cuda",
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.processor() or platform.machine()})",
        "versions": _versions(),
        "cache_dir": os.environ.get("WORKBOOK_CACHE_DIR", "(default)"),
        "started_unix": round(t0, 1),
        "earlier_partial_cuda_checks": {
            "files": list(EARLIER_CUDA_RESULTS),
            "note": "partial CUDA checks run earlier on an H100 (generation throughput; RL step time of ours vs "
                    "stock TRL); see those files for their figures",
        },
        "checks": {},
    }  # fmt: skip
    if cuda:
        summary["gpu_memory_total_mib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**20)
    toy = _choose_toy(model, allow)
    model = toy["model"]
    summary["toy_checkpoint"] = toy
    from workbook.toy import RECIPES

    # completions stay inside the toy's trained positions (prompts take well under 128)
    room = int(getattr(RECIPES[model], "max_positions", 512)) - 128
    shape = {**shape, "max_completion_length": min(shape["max_completion_length"], max(16, room))}
    checks = {
        "rl_methods": lambda wd: check_rl_methods(model, device, bf16=cuda, steps=steps, workdir=wd,
                                                  allow_train=allow, shape=shape),
        "rl_step_ratio": lambda wd: check_rl_step_ratio(model, device, bf16=cuda, steps=max(3, steps + 1),
                                                        reps=ratio_reps, workdir=wd, allow_train=allow, shape=shape),
        "generation": lambda wd: check_generation(model, cuda, n_prompts=8 if cpu else 64,
                                                  max_new_tokens=64 if cpu else min(256, room), allow_train=allow),
        "paper_plans": lambda wd: check_paper_plans(),
        "vllm": lambda wd: check_vllm(model, run=cuda),
        **{name: (lambda wd, sh=sh: check_paper_shape(device, TINY_PAPER_ARCH if cpu else QWEN25_MATH_1P5B, sh,
                                                      steps=1 if sh["max_completion_length"] > 2048 else steps,
                                                      workdir=wd, tokenizer_from=_toy(model, "cpu", allow)[2]))
           for name, sh in PAPER_SHAPES[device].items()},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for name, fn in checks.items():
            if (only and name not in only) or (not only and name in OPT_IN):
                why = "opt-in: --only " + name if name in OPT_IN and not only else "not selected (--only)"
                summary["checks"][name] = {"skipped": True, "reason": why, "ok": True}
                continue
            c0 = time.perf_counter()
            try:
                res = fn(Path(tmp))
            except Exception as e:  # noqa: BLE001
                res = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=6)}
            res["wall_s"] = round(time.perf_counter() - c0, 2)
            summary["checks"][name] = res
            _write(summary, out_dir, cpu, partial=True)  # a run cut short still leaves what it measured
    summary["wall_s"] = round(time.time() - t0, 1)
    summary["ok"] = all(c.get("ok") for c in summary["checks"].values())
    summary["path"] = str(_write(summary, out_dir, cpu, partial=False))
    return summary


def _write(summary: dict, out_dir: Path, cpu: bool, partial: bool) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "gpu_check_cpu" if cpu else "gpu_check"
    data = {**summary, "complete": not partial}
    path = out_dir / f"{stem}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    (out_dir / f"{stem}.md").write_text(to_markdown(data))
    return path


def _r(x):
    """Rounds numbers (also inside lists and dicts) to 3 significant digits for the report."""
    if isinstance(x, float):
        return float(f"{x:.3g}")
    if isinstance(x, list):
        return [_r(v) for v in x]
    if isinstance(x, dict):
        return {k: _r(v) for k, v in x.items()}
    return x


def to_markdown(s: dict) -> str:
    """Returns a one-page Markdown report of a summary: device, versions, each check's status and key numbers."""
    v = s.get("versions", {})
    lines = [f"# GPU check ({s.get('mode')}): {'PASS' if s.get('ok') else 'FAIL' if s.get('complete') else 'partial'}",
             "", f"Device: {s.get('device')}; " + ", ".join(f"{k} {v[k]}" for k in sorted(v)) + ".",
             f"Wall time: {s.get('wall_s', '?')} s. Toy checkpoint: {s.get('toy_checkpoint')}.", "",
             "| check | status | figures |", "|---|---|---|"]  # fmt: skip
    for name, c in s.get("checks", {}).items():
        status = "skipped" if c.get("skipped") else ("ok" if c.get("ok") else "FAILED")
        figs = c.get("reason") or c.get("error") or ""
        if name == "rl_methods" and "methods" in c:
            figs = (f"{c.get('rollouts_per_step')} rollouts/step, <= {c.get('max_completion_length')} tokens; " +
                    "; ".join(f"{m}: {r.get('peak_memory_mib')} MiB, step s {_r(r.get('step_time_s'))}"
                              if r.get("ok") else f"{m}: FAILED {r.get('error', '')[:80]}"
                              for m, r in c["methods"].items()))  # fmt: skip
        elif name == "rl_step_ratio" and "median_step_time_s" in c:
            figs = f"median step s {_r(c['median_step_time_s'])}; ours/stock {c.get('ratio_workbook_over_stock')}"
        elif name == "generation" and "arms" in c:
            figs = "; ".join(f"{k} {a['tokens_per_s']} tok/s" for k, a in c["arms"].items())
            figs += f"; identical greedy: {c.get('identical_greedy')}"
        elif name.startswith("paper_shape") and "parameters" in c:
            figs = (f"{c['parameters'] / 1e9:.2f}B random-weight {c['arch']['num_hidden_layers']}-layer model, "
                    f"{c['method']}, {c['rollouts_per_step']} rollouts/step, <= {c['max_completion_length']} tokens, "
                    f"micro-batch {c['micro_batch_size']}"
                    + (", gradient checkpointing" if c.get("gradient_checkpointing") else "")
                    + f": peak {c['peak_memory_mib']} MiB, step s "
                    f"{_r(c.get('step_time_s'))}, mean length {_r(c.get('mean_completion_length'))}"
                    + (f"; FAILED {c.get('error', '')[:120]}" if not c.get("ok") else ""))  # fmt: skip
        elif name == "paper_plans" and "notebooks" in c:
            figs = "; ".join(f"{nb}: {_r(r.get('gpu_hours'))} GPU-h" if r.get("ok") else f"{nb}: FAILED"
                             for nb, r in c["notebooks"].items())  # fmt: skip
        lines.append(f"| {name} | {status} | {figs} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Returns the process exit code (0: every check passed or was skipped with a reason)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="rehearsal without CUDA: CPU fp32, smoke toy, small batch")
    ap.add_argument("--out", default=None, help="output folder (default: $OUT, else results/gpu_check)")
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps per RL method")
    ap.add_argument("--ratio-reps", type=int, default=2, help="interleaved runs per arm for rl_step_ratio")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(CHECKS)}")
    ap.add_argument("--no-train", action="store_true", help="fail instead of training a missing toy checkpoint")
    a = ap.parse_args(argv)
    only = tuple(x for x in a.only.split(",") if x)
    if set(only) - set(CHECKS):
        ap.error(f"--only: unknown check(s) {sorted(set(only) - set(CHECKS))}; choose from {', '.join(CHECKS)}")
    logging.basicConfig(level=logging.INFO, format="gpu_check %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "trl", "accelerate", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from workbook.paths import results_root

    out = Path(a.out or os.environ.get("OUT") or results_root() / "gpu_check")
    s = run_checks(a.cpu, out, steps=a.steps, only=only, allow_train=not a.no_train, ratio_reps=a.ratio_reps)
    lines = [f"gpu_check ({s['mode']}) on {s['device']}: {'PASS' if s['ok'] else 'FAIL'} in {s['wall_s']} s"]
    for k, c in s["checks"].items():
        skipped = f" (skipped: {c['reason']})" if c.get("skipped") else ""
        lines.append(f"  {k}: {'ok' if c.get('ok') else 'FAILED'}{skipped}")
    lines.append(f"  summary: {s['path']} (+ .md)")
    sys.stderr.write("\n".join(lines) + "\n")
    return 0 if s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
