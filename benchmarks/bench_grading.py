"""Benchmark: grading throughput on a realistic completion stream, cold and cached, vs raw math-verify (issue 2).

Writes results/benchmarks/grading_throughput.json and .md. Run: ``.venv/bin/python benchmarks/bench_grading.py``.

The stream imitates RLVR sampling: ``problems`` problems × ``n`` completions each, every completion a ~1-2k
character chain of reasoning ending in a box; per problem the answers come from a few spellings of the right
answer, a few wrong answers and some completions with no box, so most answers repeat (as they do in practice).
Compared: raw math-verify (``verify(parse(gold), parse(completion))`` per completion, library defaults, the way
reward functions call it), our ``Grader`` on the stream cold (new cache: duplicates inside the stream are
graded once), the same ``Grader`` cached (second pass), and ``Grader(processes=2)`` cold. Target: >= 20x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path

from workbook.grading import Grader
from workbook.paths import results_root

TARGET_SPEEDUP = 20.0

# (gold, right spellings, wrong answers): a MATH-500-like mix of answer types.
ANSWERS = [
    ("12", ["12", "12.", "12.0", "x = 12"], ["13", "11", "24"]),
    ("\\frac{1}{2}", ["\\frac{1}{2}", "\\dfrac{1}{2}", "0.5", "\\frac12"], ["\\frac{1}{3}", "2", "0.25"]),
    ("2\\sqrt{2}", ["2\\sqrt{2}", "\\sqrt{8}", "2 \\sqrt 2"], ["\\sqrt{2}", "4", "2.83"]),
    ("(3, \\frac{\\pi}{2})", ["(3, \\frac{\\pi}{2})", "\\left(3, \\frac{\\pi}{2}\\right)"], ["(3, \\pi)", "(\\frac{\\pi}{2}, 3)"]),
    ("[-2, 7]", ["[-2, 7]", "[-2,7]"], ["(-2, 7)", "[-2, 8]"]),
    ("x^2 + 2x + 1", ["(x+1)^2", "x^2+2x+1", "x^{2}+2x+1"], ["x^2+1", "(x-1)^2"]),
    ("1000", ["1000", "1,000", "1\\,000"], ["100", "10000"]),
    ("\\frac{3\\sqrt{3}}{4}", ["\\frac{3\\sqrt{3}}{4}", "\\frac{3}{4}\\sqrt{3}"], ["\\frac{\\sqrt{3}}{4}", "1.299"]),
    ("-\\frac{7}{3}", ["-\\frac{7}{3}", "\\frac{-7}{3}", "-2\\frac{1}{3}"], ["\\frac{7}{3}", "-2.33"]),
    ("\\{1, 2\\}", ["\\{1, 2\\}", "1, 2", "2, 1"], ["\\{1\\}", "(1, 2)"]),
]

FILLER = ("We start by writing the condition as an equation and simplifying both sides. "
          "Substituting the known values gives a linear relation, which we solve step by step. ")


def make_stream(problems: int, n: int, seed: int) -> tuple[list[str], list[str]]:
    """Returns (completions, golds): ``problems`` × ``n`` completions with many repeated answers."""
    rng = random.Random(seed)
    completions, golds = [], []
    for p in range(problems):
        gold, right, wrong = ANSWERS[p % len(ANSWERS)]
        p_right = rng.uniform(0.1, 0.9)
        for _ in range(n):
            body = f"Problem {p}. " + FILLER * rng.randint(8, 16)
            u = rng.random()
            if u < 0.05:
                completions.append(body + "I am not sure what the answer is.")
            else:
                ans = rng.choice(right) if u < 0.05 + p_right * 0.95 else rng.choice(wrong)
                completions.append(body + f"Therefore, the final answer is $\\boxed{{{ans}}}$.")
            golds.append(gold)
    return completions, golds


def raw_math_verify(completions: list[str], golds: list[str]) -> list[bool]:
    """Returns math-verify verdicts with library defaults, one parse+parse+verify per completion.

    The gold is read as inline math (``$gold$``), as ``Grader('math_verify')`` reads it (compat.gold_as_latex).
    """
    from math_verify import parse, verify

    return [bool(verify(parse("$" + g + "$"), parse(c))) for c, g in zip(completions, golds)]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=results_root() / "benchmarks")
    args = parser.parse_args(argv)

    completions, golds = make_stream(args.problems, args.n, args.seed)
    total = len(completions)
    unique_pairs = len({(c[c.rfind("\\boxed"):] if "\\boxed" in c else "", g) for c, g in zip(completions, golds)})
    Grader().grade("\\boxed{1}", "1")  # imports and warm-up outside every timing

    raw, t_raw = _timed(lambda: raw_math_verify(completions, golds))
    grader = Grader(mode="strict")
    cold, t_cold = _timed(lambda: grader.grade_many(completions, golds))
    cached, t_cached = _timed(lambda: grader.grade_many(completions, golds))
    with Grader(mode="strict", processes=2) as par_grader:
        par_grader.grade("\\boxed{1}", "1")  # worker start-up is not throughput
        par, t_par = _timed(lambda: par_grader.grade_many(completions, golds))
    mv_grader = Grader(mode="math_verify")
    mv_cold, t_mv_cold = _timed(lambda: mv_grader.grade_many(completions, golds))

    def rate(t: float) -> float:
        return round(total / t, 1)

    result = {
        "benchmark": "grading_throughput",
        "what": f"{args.problems} problems x n={args.n} completions = {total} (unique boxed answers x gold: {unique_pairs})",
        "completions": total,
        "unique_answer_gold_pairs": unique_pairs,
        "seed": args.seed,
        "target_speedup": TARGET_SPEEDUP,
        "raw_math_verify_s": round(t_raw, 3),
        "strict_cold_s": round(t_cold, 3),
        "strict_cached_s": round(t_cached, 4),
        "strict_cold_processes2_s": round(t_par, 3),
        "math_verify_mode_cold_s": round(t_mv_cold, 3),
        "per_s": {"raw_math_verify": rate(t_raw), "strict_cold": rate(t_cold), "strict_cached": rate(t_cached),
                  "strict_cold_processes2": rate(t_par), "math_verify_mode_cold": rate(t_mv_cold)},
        "speedup_cold_vs_raw": round(t_raw / t_cold, 1),
        "speedup_cached_vs_raw": round(t_raw / t_cached, 1),
        "speedup_processes2_vs_raw": round(t_raw / t_par, 1),
        "accuracy": {"raw_math_verify": round(sum(raw) / total, 4), "strict": round(sum(cold) / total, 4),
                     "math_verify_mode": round(sum(mv_cold) / total, 4)},
        "verdicts_strict_vs_raw_differ": sum(a != b for a, b in zip(cold, raw)),
        "cached_equals_cold": cached == cold,
        "processes_equals_in_process": par == cold,
        "meets_target_cold": t_raw / t_cold >= TARGET_SPEEDUP,
        "machine": {"platform": platform.machine(), "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grading_throughput.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    ps = result["per_s"]
    md = [
        "# Grading throughput benchmark",
        "",
        f"Stream: {result['what']}; ~1-2k characters per completion, 5% without a box. Single process unless noted.",
        "",
        "| grader | seconds | completions/s | speed-up vs raw math-verify |",
        "|---|---|---|---|",
        f"| raw math-verify (`verify(parse('$'+gold+'$'), parse(completion))`, defaults) | {t_raw:.3f} | {ps['raw_math_verify']} | 1.0x |",
        f"| `Grader('strict')`, cold cache | {t_cold:.3f} | {ps['strict_cold']} | {result['speedup_cold_vs_raw']}x |",
        f"| `Grader('strict')`, cached (second pass) | {t_cached:.4f} | {ps['strict_cached']} | {result['speedup_cached_vs_raw']}x |",
        f"| `Grader('strict', processes=2)`, cold | {t_par:.3f} | {ps['strict_cold_processes2']} | {result['speedup_processes2_vs_raw']}x |",
        f"| `Grader('math_verify')`, cold (library verdicts, our cache) | {t_mv_cold:.3f} | {ps['math_verify_mode_cold']} | {round(t_raw / t_mv_cold, 1)}x |",
        "",
        f"Target >= {TARGET_SPEEDUP:.0f}x (cold stream vs raw): **{'met' if result['meets_target_cold'] else 'not met'}**. "
        f"Accuracy on the stream: raw math-verify {result['accuracy']['raw_math_verify']}, strict {result['accuracy']['strict']} "
        f"({result['verdicts_strict_vs_raw_differ']} verdicts differ; see grader_agreement.md for why graders differ). Cached and parallel verdicts equal the cold ones: "
        f"{result['cached_equals_cold'] and result['processes_equals_in_process']}.",
        f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs, 1-min load {result['machine']['loadavg_1m']} "
        f"(shared by other jobs; timings are indicative). Measured {result['measured_at']}.",
        "",
    ]
    (args.out / "grading_throughput.md").write_text("\n".join(md))
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
