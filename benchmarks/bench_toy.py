"""Benchmark: the toy reasoner's sampling speed and TRL GRPO step time, beside SmolLM2-135M in the same run.

Issue 3 ("Performance"): batched sampling on 2 cores >= 2,000 generated tokens/s; one TRL GRPOTrainer step with
16 prompts x 8 completions <= 2 s on 2 cores. The same two figures are measured for `smollm2-135m-instruct`.
Writes results/benchmarks/toy_reasoner.json and .md.

Run: ``.venv/bin/python benchmarks/bench_toy.py [--threads 2] [--grpo-steps 3] [--skip-smollm]``.
Sampling uses ``workbook.generation.TransformersBackend`` (the path every notebook uses) on held-out synthetic
problems at temperature 1; tokens/s counts generated tokens (EOS included) over wall time. The GRPO step time is
TRL's own ``step_time`` metric (generation + loss + backward + optimizer) with stock ``GRPOTrainer``; the first
step is warm-up and dropped when more than one step runs. The machine may be shared: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from workbook.data.synthetic import generate_problems
from workbook.generation import TransformersBackend, build_prompt
from workbook.models import load_model
from workbook.paths import results_root
from workbook.toy.evaluate import exact_grade
from workbook.toy.world import solve_message

TARGET_TOKENS_PER_S = 2000.0
TARGET_GRPO_STEP_S = 2.0


def bench_sampling(model_name: str, n_prompts: int, n: int, max_new_tokens: int, batch_size: int) -> dict:
    """Return generated tokens/s of batched sampling (n samples per prompt, T=1) for ``model_name``."""
    model, tok = load_model(model_name)
    problems = generate_problems(n_prompts, seed=1, split="test")
    prompts = [build_prompt(tok, p.problem) for p in problems]
    backend = TransformersBackend(model, tok, batch_size=batch_size)
    backend.generate(prompts[:2], n=2, temperature=1.0, max_new_tokens=8, seed=0)  # warm-up
    start = time.perf_counter()
    out = backend.generate(prompts, n=n, temperature=1.0, max_new_tokens=max_new_tokens, seed=0)
    wall = time.perf_counter() - start
    tokens = sum(len(c.token_ids) for row in out for c in row)
    correct = sum(exact_grade(c.text, p.answer) for row, p in zip(out, problems) for c in row)
    return {"model": model_name, "prompts": n_prompts, "n": n, "max_new_tokens": max_new_tokens,
            "batch_size": batch_size, "generated_tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall,
            "accuracy": correct / (n_prompts * n)}


def bench_grpo(model_name: str, steps: int, max_completion_length: int) -> dict:
    """Return TRL GRPOTrainer step times (16 prompts x 8 completions per optimizer step) for ``model_name``."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    model, tok = load_model(model_name)
    model.train()
    problems = generate_problems(16 * steps, seed=2, split="train")
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": solve_message(p.problem)}], "answer": p.answer}
                              for p in problems])

    def reward(completions, answer, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [float(exact_grade(t, a)) for t, a in zip(texts, answer)]

    with tempfile.TemporaryDirectory() as out_dir:
        cfg = GRPOConfig(
            output_dir=out_dir, per_device_train_batch_size=128, gradient_accumulation_steps=1, num_generations=8,
            max_completion_length=max_completion_length, temperature=1.0, beta=0.0, learning_rate=1e-5,
            max_steps=steps, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, bf16=False,
            seed=0, dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=reward, args=cfg, train_dataset=data)
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
    times = [r["step_time"] for r in trainer.state.log_history if "step_time" in r]
    measured = times[1:] if len(times) > 1 else times
    return {"model": model_name, "prompts_per_step": 16, "completions_per_prompt": 8,
            "max_completion_length": max_completion_length, "steps": steps, "step_times_s": times,
            "median_step_s": statistics.median(measured) if measured else wall / steps,
            "first_step_dropped": len(times) > 1, "wall_s": wall}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--grpo-steps", type=int, default=3)
    parser.add_argument("--smollm-grpo-steps", type=int, default=1)
    parser.add_argument("--skip-smollm", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    results: dict = {"threads": args.threads, "torch": torch.__version__, "platform": platform.platform(),
                     "processor": platform.processor() or platform.machine(), "loadavg_before": load_before,
                     "targets": {"tokens_per_s": TARGET_TOKENS_PER_S, "grpo_step_s": TARGET_GRPO_STEP_S}}
    out = results_root() / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every measurement: a run cut short still leaves what it measured
        results["loadavg_after"] = os.getloadavg()
        (out / "toy_reasoner.json").write_text(json.dumps(results, indent=1))
        (out / "toy_reasoner.md").write_text(markdown(results))

    results["toy_sampling"] = bench_sampling("toy-reasoner", n_prompts=32, n=16, max_new_tokens=96, batch_size=512)
    results["toy_grpo"] = bench_grpo("toy-reasoner", steps=args.grpo_steps, max_completion_length=96)
    save()
    if not args.skip_smollm:
        results["smollm_sampling"] = bench_sampling("smollm2-135m-instruct", n_prompts=4, n=4, max_new_tokens=64,
                                                    batch_size=16)
        save()
        results["smollm_grpo"] = bench_grpo("smollm2-135m-instruct", steps=args.smollm_grpo_steps,
                                            max_completion_length=64)
        save()
    return results


def markdown(r: dict) -> str:
    """Return the Markdown report of a benchmark result."""
    ts, tg = r["toy_sampling"], r["toy_grpo"]
    ok_s = ts["tokens_per_s"] >= TARGET_TOKENS_PER_S
    ok_g = tg["median_step_s"] <= TARGET_GRPO_STEP_S
    lines = [
        "# Toy reasoner: sampling speed and TRL GRPO step time", "",
        f"{r['threads']} torch threads, torch {r['torch']}, {r['processor']}; load average before "
        f"{r['loadavg_before'][0]:.1f}, after {r['loadavg_after'][0]:.1f} (a shared machine inflates wall times).", "",
        "| model | sampling tokens/s (batched, T=1) | GRPO step, 16 prompts × 8 completions (s) |", "|---|---:|---:|",
        f"| toy-reasoner | {ts['tokens_per_s']:.0f} ({ts['prompts']}×{ts['n']} samples, batch {ts['batch_size']}) | "
        f"{tg['median_step_s']:.2f} (median of {len(tg['step_times_s']) - tg['first_step_dropped']}; ≤ {tg['max_completion_length']} new tokens) |",
    ]
    if "smollm_sampling" in r:
        ss, sg = r["smollm_sampling"], r.get("smollm_grpo")
        grpo = (f"{sg['median_step_s']:.2f} ({len(sg['step_times_s'])} step, first step kept; ≤ "
                f"{sg['max_completion_length']} new tokens)" if sg else "not measured (run cut short)")
        lines.append(f"| smollm2-135m-instruct | {ss['tokens_per_s']:.0f} ({ss['prompts']}×{ss['n']} samples, batch "
                     f"{ss['batch_size']}) | {grpo} |")
    lines += ["", f"Targets: sampling ≥ {TARGET_TOKENS_PER_S:.0f} tokens/s — **{'met' if ok_s else 'missed'}**; "
              f"GRPO step ≤ {TARGET_GRPO_STEP_S:.0f} s — **{'met' if ok_g else 'missed'}**.", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    res = main()
    print(markdown(res))
