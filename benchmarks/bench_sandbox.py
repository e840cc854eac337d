"""Benchmark: programs per second through workbook.sandbox (trivial programs and HumanEval+ base+plus checks).

Writes results/benchmarks/sandbox.json and sandbox.md. Run: ``.venv/bin/python benchmarks/bench_sandbox.py``.
Arms: (1) ``print(1)`` — the fixed cost of one sandboxed process (namespaces, mounts, uid drop, interpreter start);
(2) HumanEval+ canonical solutions run on base and plus inputs by ``workbook.code_eval`` (ground truth cached
first, not timed). Each arm with 1 and 2 workers. On a shared machine the numbers depend on the load; the machine's
load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from workbook.code_eval import evaluate, ground_truths
from workbook.data import load_benchmark
from workbook.paths import results_root
from workbook.sandbox import SandboxLimits, available_isolation, run_many


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trivial", type=int, default=60, help="trivial programs per arm")
    parser.add_argument("--tasks", type=int, default=40, help="HumanEval+ tasks per arm")
    parser.add_argument("--out", type=Path, default=results_root() / "benchmarks")
    args = parser.parse_args(argv)

    rows = []
    limits = SandboxLimits(cpu_s=5, wall_s=10)
    for workers in (1, 2):
        t0 = time.perf_counter()
        res = run_many(["print(1)"] * args.trivial, limits, workers=workers)
        dt = time.perf_counter() - t0
        assert all(r.status == "pass" for r in res), [r for r in res if r.status != "pass"][:3]
        rows.append({"arm": "trivial print(1)", "workers": workers, "programs": args.trivial, "seconds": dt,
                     "programs_per_s": args.trivial / dt})

    problems = load_benchmark("humaneval_plus", limit=args.tasks)
    ground_truths(problems)  # cache expected outputs outside the timed region
    for workers in (1, 2):
        t0 = time.perf_counter()
        res = evaluate(problems, [[p.answer] for p in problems], workers=workers)
        dt = time.perf_counter() - t0
        ok = sum(r[0].base_pass and r[0].plus_pass for r in res)
        rows.append({"arm": f"HumanEval+ canonical, base+plus ({args.tasks} tasks)", "workers": workers,
                     "programs": args.tasks, "seconds": dt, "programs_per_s": args.tasks / dt,
                     "passed_base_and_plus": ok})

    out = {"benchmark": "sandbox", "isolation": available_isolation(), "rows": rows,
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg_1m": os.getloadavg()[0]}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sandbox.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = ["# Sandbox throughput", "",
             f"Isolation: `{out['isolation']}`; {out['machine']['cpus']} CPUs, 1-min load average "
             f"{out['machine']['loadavg_1m']:.1f} at the end (a shared machine: other jobs compete).", "",
             "| arm | workers | programs | seconds | programs/s |", "|---|---|---|---|---|"]
    lines += [f"| {r['arm']} | {r['workers']} | {r['programs']} | {r['seconds']:.2f} | {r['programs_per_s']:.1f} |"
              for r in rows]
    (args.out / "sandbox.md").write_text("\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
