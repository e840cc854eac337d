"""Benchmark: n = 256 samples per held-out problem on the toy reasoner, graded, then pass@k for every k (target:
the sampling of the NSR cpu profile's held-out set in <= 2 minutes on 2 cores).

Writes results/benchmarks/nsr_sampling.json and nsr_sampling.md. Run:
``.venv/bin/python benchmarks/bench_nsr_sampling.py`` (defaults: the cpu profile's 16 held-out problems, n = 256,
T = 1.0, 64 new tokens, 1 torch thread; ``--processes 2`` splits the problems over two processes, one per core).
The machine's load average is recorded beside the timings: on a shared machine the wall time is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from workbook.paths import results_root

TARGET_S = 120.0
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def _sample(model_name: str, n_problems: int, offset: int, count: int, n: int, max_new_tokens: int, threads: int,
            seed: int):
    """Returns (DiversityProbe rows as records, wall seconds, CPU seconds) for problems [offset, offset+count) of the held-out set."""
    import torch

    torch.set_num_threads(threads)
    from workbook.data.synthetic import generate_problems
    from workbook.models import load_model
    from workbook.papers.nsr import DiversityProbe
    from workbook.rl.experiments import ExperimentConfig, evaluate

    problems = generate_problems(n_problems, seed + 1, split="test")[offset:offset + count]
    model, tok = load_model(model_name)
    probe = DiversityProbe(problems, n=n, temperature=1.0, max_new_tokens=max_new_tokens)
    cfg = ExperimentConfig(model=model_name, instruction=INSTRUCTION, probe_batch_size=256)
    t0, c0 = time.perf_counter(), time.process_time()
    df = evaluate(cfg, [probe], seed=seed, model=model, tokenizer=tok)["diversity"]
    return df.to_dict("records"), time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="toy-reasoner")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=results_root() / "benchmarks")
    args = parser.parse_args(argv)

    from workbook.metrics import pass_at_k_curve
    from workbook.models import model_path

    model_path(args.model)  # train / convert once, outside the timed region
    load_before = os.getloadavg()
    procs = max(1, args.processes)
    bounds = np.array_split(np.arange(args.problems), procs)
    t0 = time.perf_counter()
    if procs == 1:
        parts = [_sample(args.model, args.problems, 0, args.problems, args.n, args.max_new_tokens, 1, args.seed)]
    else:
        with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_sample, *zip(*[(args.model, args.problems, int(b[0]), len(b), args.n,
                                                   args.max_new_tokens, 1, args.seed) for b in bounds if len(b)])))
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    rows = [r for part, _, _ in parts for r in part]
    cpu_max = max(c for _, _, c in parts)  # one single-threaded process per core: the idle-machine wall time
    n_correct = np.array([r["n_correct"] for r in rows])
    ks = np.arange(1, args.n + 1)
    t1 = time.perf_counter()
    curve = pass_at_k_curve(n_correct, args.n, ks)
    passk_ms = (time.perf_counter() - t1) * 1e3
    tokens = float(sum(r["length"] * r["n"] for r in rows))
    result = {
        "model": args.model, "problems": args.problems, "n": args.n, "completions": int(args.problems * args.n),
        "max_new_tokens": args.max_new_tokens, "processes": procs, "torch_threads_per_process": 1,
        "wall_s": round(wall, 2), "sampling_s_per_process": [round(s, 2) for _, s, _ in parts],
        "sampling_cpu_s_per_process": [round(c, 2) for _, _, c in parts],
        "idle_estimate_s": round(cpu_max, 2), "meets_target_idle_estimate": bool(cpu_max <= TARGET_S),
        "generated_tokens": int(tokens), "tokens_per_s": round(tokens / wall, 1),
        "pass_at_k_all_k_ms": round(passk_ms, 3), "pass@1": float(curve[:, 0].mean()),
        f"pass@{args.n}": float(curve[:, -1].mean()),
        "mean_distinct_correct": float(np.mean([r["n_distinct_correct"] for r in rows])),
        "target_s": TARGET_S, "meets_target": bool(wall <= TARGET_S),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(), "machine": platform.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nsr_sampling.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    md = [
        "# NSR sampling benchmark (toy reasoner, n = 256 per problem)", "",
        f"`{args.model}`: {args.problems} held-out synthetic problems x n = {args.n} samples at T = 1.0, up to "
        f"{args.max_new_tokens} new tokens, graded by the strict grader; {procs} process(es) x 1 torch thread; "
        "transformers backend (`workbook.generation`).", "",
        "| quantity | value |", "|---|---|",
        f"| wall time (sampling + grading) | {wall:.1f} s |",
        f"| CPU time of the slowest process (idle-machine estimate of the sampling wall time) | {cpu_max:.1f} s |",
        f"| generated tokens | {int(tokens):,} ({tokens / wall:,.0f} tokens/s) |",
        f"| pass@k for all k = 1..{args.n} ({args.problems} problems, `pass_at_k_curve`) | {passk_ms:.2f} ms |",
        f"| pass@1 / pass@{args.n} | {result['pass@1']:.3f} / {result[f'pass@{args.n}']:.3f} |",
        f"| load average before / after | {load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} CPUs |", "",
        f"Target <= {TARGET_S:.0f} s: **{'met' if result['meets_target'] else 'NOT met'}** by the measured wall time; "
        f"**{'met' if result['meets_target_idle_estimate'] else 'NOT met'}** by the idle-machine estimate (CPU "
        "seconds of the slowest single-threaded process, excluding process start and model load). The machine was "
        "shared with other jobs (see the load average), so the wall time is an upper bound for an unloaded machine.",
    ]
    (args.out / "nsr_sampling.md").write_text("\n".join(md) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
