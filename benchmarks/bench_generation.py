"""Benchmark: batched n-sample generation vs a one-sequence loop with the transformers backend (target >= 5x).

Writes results/benchmarks/generation.json and generation.md.
Run: ``.venv/bin/python benchmarks/bench_generation.py [--model smollm2-135m-instruct] [--threads 2]``.
Both arms use ``TransformersBackend.generate`` with the same prompts, n, temperature and seed; the baseline has
``batch_size=1`` and one call per (prompt, sample), the batched arm one call with ``batch_size=prompts*n``.
Per-sample seeds make the two arms draw the same tokens, so both count the same generated tokens (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from workbook.generation import TransformersBackend, build_prompt
from workbook.models import load_model
from workbook.paths import results_root

TARGET_SPEEDUP = 5.0
QUESTIONS = [
    "What is 17 + 25?",
    "A box holds 6 rows of 8 eggs. How many eggs are in 5 boxes?",
    "Simplify (3x + 2) - (x - 4).",
    "What is the remainder when 100 is divided by 7?",
    "Tom has 3 times as many apples as Ann, who has 4. How many do they have together?",
    "Compute 12 * 13.",
    "What is the least common multiple of 4 and 6?",
    "Solve for x: 2x + 5 = 17.",
]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--note", default="", help="context to record with the numbers (e.g. machine load)")
    parser.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 elsewhere")
    parser.add_argument("--out", type=Path, default=results_root() / "benchmarks")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    model, tok = load_model(args.model, device=args.device, dtype=args.dtype)
    load_s = time.perf_counter() - t0
    prompts = [build_prompt(tok, q) for q in (QUESTIONS * (args.prompts // len(QUESTIONS) + 1))[:args.prompts]]
    sampling = dict(temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed)

    batched = TransformersBackend(model, tok, batch_size=args.prompts * args.n)
    batched.generate(prompts[:1], n=2, max_new_tokens=2)  # warm-up (allocator, kernels)
    t0 = time.perf_counter()
    out_batched = batched.generate(prompts, n=args.n, **sampling)
    batched_s = time.perf_counter() - t0

    single = TransformersBackend(model, tok, batch_size=1)
    t0 = time.perf_counter()
    out_loop = []
    for i, p in enumerate(prompts):
        per_prompt = []
        for j in range(args.n):
            # one sequence per call; seed stream (seed, i, j) as in the batched arm (prompt index i, sample j)
            c = single._generate_chunk([single.encode_prompt(q) for q in prompts], [(i, j)],
                                       args.temperature == 0, args.temperature, 1.0, args.max_new_tokens, args.seed)
            per_prompt.append(c[0][0])
        out_loop.append(per_prompt)
    loop_s = time.perf_counter() - t0

    tokens_batched = sum(len(c.token_ids) for per in out_batched for c in per)
    tokens_loop = sum(len(ids) for per in out_loop for ids in per)
    same = [[c.token_ids for c in per] for per in out_batched] == out_loop
    speedup = loop_s / batched_s
    result = {
        "benchmark": "generation",
        "what": "TransformersBackend batched n-sample generation vs one-sequence loop",
        "model": args.model,
        "prompts": args.prompts, "n": args.n, "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature, "seed": args.seed,
        "model_load_s": round(load_s, 2),
        "batched_s": round(batched_s, 3), "loop_s": round(loop_s, 3),
        "tokens_batched": tokens_batched, "tokens_loop": tokens_loop,
        "tokens_per_s_batched": round(tokens_batched / batched_s, 1),
        "tokens_per_s_loop": round(tokens_loop / loop_s, 1),
        "speedup": round(speedup, 2), "target_speedup": TARGET_SPEEDUP, "target_met": bool(speedup >= TARGET_SPEEDUP),
        "same_tokens_in_both_arms": same,
        "device": args.device, "dtype": str(model.dtype),
        "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
        "note": args.note or ("CPU wall times on a shared machine are noisy" if args.device == "cpu" else
                              "GPU kernels differ by batch shape, so the arms may draw slightly different tokens"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "generation" if args.device == "cpu" else f"generation_{args.device.split(':')[0]}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    md = [
        "# Generation benchmark (transformers backend)", "",
        f"{args.model}, {args.prompts} prompts x n={args.n}, up to {args.max_new_tokens} new tokens, "
        f"T={args.temperature}, seed {args.seed}, {args.device} ({result['gpu'] or 'CPU'}), {result['dtype']}, "
        f"{torch.get_num_threads()} torch threads.", "",
        "| arm | wall s | tokens | tokens/s |", "|---|---:|---:|---:|",
        f"| one-sequence loop (batch 1) | {loop_s:.2f} | {tokens_loop} | {tokens_loop / loop_s:.1f} |",
        f"| batched (batch {args.prompts * args.n}) | {batched_s:.2f} | {tokens_batched} | "
        f"{tokens_batched / batched_s:.1f} |", "",
        f"Speedup {speedup:.2f}x (target >= {TARGET_SPEEDUP:.0f}x: {'met' if speedup >= TARGET_SPEEDUP else 'NOT met'}). "
        f"Same tokens in both arms: {same}. {result['note']}.", "",
    ]
    (args.out / f"{stem}.md").write_text("\n".join(md))
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
