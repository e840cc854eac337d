"""Benchmark: agreement with hand-decided truth and time per case, strict grader vs math-verify configs (issue 13).

Writes results/benchmarks/grader_agreement.json and .md. Run: ``.venv/bin/python benchmarks/bench_grader_agreement.py``.

Every case of ``tests/data/grading_cases.jsonl`` is graded as a whole completion (answer-only cases are put in a
box at the end of a sentence) by every mode in ``GRADING_MODES``: ``strict`` (ours), ``math_verify`` (library
defaults), ``openr1`` (open-r1's reward configuration), ``qwen25_math`` and ``deepscaler`` (paper graders).
Each call is a fresh ``grade()`` (no ``Grader`` cache) bounded at ``timeout_s``; time per case is wall time of
that call, imports warmed up first. Accuracy is agreement with the table's hand-decided truth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import defaultdict
from pathlib import Path

from workbook.grading import GRADING_MODES, grade
from workbook.paths import repo_root, results_root

CASES_PATH = repo_root() / "tests" / "data" / "grading_cases.jsonl"


def completion_of(case: dict) -> str:
    """Returns the completion graded for a case (answer-only cases end in a box)."""
    return case.get("completion", f"Reasoning... so the final answer is $\\boxed{{{case.get('pred', '')}}}$.")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout-s", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=results_root() / "benchmarks")
    args = parser.parse_args(argv)

    cases = [json.loads(x) for x in CASES_PATH.read_text(encoding="utf-8").splitlines() if x.strip()]
    for mode in GRADING_MODES:
        grade("\\boxed{1}", "1", mode=mode)  # warm-up: imports are not a per-case cost
    verdicts: dict[str, list[bool]] = {}
    times: dict[str, list[float]] = {}
    for mode in GRADING_MODES:
        verdicts[mode], times[mode] = [], []
        for c in cases:
            t0 = time.perf_counter()
            verdicts[mode].append(grade(completion_of(c), c["gold"], mode=mode, timeout_s=args.timeout_s))
            times[mode].append(time.perf_counter() - t0)

    truth = [c["expected"] for c in cases]
    classes = sorted({c["class"] for c in cases})
    summary = {}
    for mode in GRADING_MODES:
        v = verdicts[mode]
        fa = sum(1 for x, t in zip(v, truth) if x and not t)
        fr = sum(1 for x, t in zip(v, truth) if t and not x)
        per_class = defaultdict(lambda: [0, 0])
        for x, t, c in zip(v, truth, cases):
            per_class[c["class"]][0] += int(x == t)
            per_class[c["class"]][1] += 1
        summary[mode] = {
            "accuracy": round(sum(x == t for x, t in zip(v, truth)) / len(cases), 4),
            "false_accepts": fa,
            "false_rejects": fr,
            "ms_per_case_mean": round(1e3 * statistics.mean(times[mode]), 2),
            "ms_per_case_median": round(1e3 * statistics.median(times[mode]), 2),
            "ms_per_case_max": round(1e3 * max(times[mode]), 1),
            "per_class_correct": {k: per_class[k][0] for k in classes},
        }
    pairwise = {f"{a}~{b}": round(sum(x == y for x, y in zip(verdicts[a], verdicts[b])) / len(cases), 4)
                for i, a in enumerate(GRADING_MODES) for b in GRADING_MODES[i + 1 :]}
    differ = [
        {"id": c["id"], "class": c["class"], "answer": c.get("pred", c.get("completion", ""))[:80], "gold": c["gold"][:60],
         "truth": c["expected"], **{m: verdicts[m][i] for m in GRADING_MODES}, "reason": c["reason"]}
        for i, c in enumerate(cases)
        if len({verdicts[m][i] for m in ("strict", "math_verify", "openr1")}) > 1 or verdicts["strict"][i] != c["expected"]
    ]
    class_sizes = {k: sum(1 for c in cases if c["class"] == k) for k in classes}
    result = {
        "benchmark": "grader_agreement",
        "cases": len(cases),
        "timeout_s": args.timeout_s,
        "modes": summary,
        "pairwise_agreement": pairwise,
        "class_sizes": class_sizes,
        "cases_where_strict_math_verify_openr1_differ_or_strict_wrong": differ,
        "machine": {"platform": platform.machine(), "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grader_agreement.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")

    md = ["# Grader agreement benchmark", "",
          f"{len(cases)} hand-decided cases (`tests/data/grading_cases.jsonl`); each graded as a completion by every mode, "
          f"one bounded `grade()` call per case (timeout {args.timeout_s} s), no cache.", "",
          "Caveats: the strict grader was developed against this table, so its score is a regression check, not an "
          "independent accuracy estimate; `qwen25_math` and `deepscaler` are re-implementations of those graders "
          "(POLICY.md §7); library modes read bare golds as `$gold$`. A case that passes its deadline counts as False.", "",
          "| mode | accuracy vs truth | false accepts | false rejects | ms/case mean | median | max |", "|---|---|---|---|---|---|---|"]
    for mode, s in summary.items():
        md.append(f"| `{mode}` | {s['accuracy']:.3f} | {s['false_accepts']} | {s['false_rejects']} | "
                  f"{s['ms_per_case_mean']} | {s['ms_per_case_median']} | {s['ms_per_case_max']} |")
    md += ["", "Correct verdicts per class (class size in brackets):", "",
           "| class | " + " | ".join(f"`{m}`" for m in GRADING_MODES) + " |", "|---|" + "---|" * len(GRADING_MODES)]
    for k in classes:
        md.append(f"| {k} [{class_sizes[k]}] | " + " | ".join(str(summary[m]["per_class_correct"][k]) for m in GRADING_MODES) + " |")
    md += ["", "Pairwise agreement: " + ", ".join(f"{k} {v:.3f}" for k, v in pairwise.items()) + ".", "",
           f"## Cases where strict, math-verify defaults and open-r1 differ (or strict is wrong): {len(differ)}", "",
           "| id | class | answer | gold | truth | strict | math_verify | openr1 | reason |", "|---|---|---|---|---|---|---|---|---|"]

    def cell(s: str) -> str:
        return "`" + s.replace("|", "\\|").replace("`", "'").replace("\n", " ")[:50] + "`"

    for d in differ:
        md.append(f"| {d['id']} | {d['class']} | {cell(d['answer'])} | {cell(d['gold'])} | {int(d['truth'])} | "
                  f"{int(d['strict'])} | {int(d['math_verify'])} | {int(d['openr1'])} | {d['reason']} |")
    md += ["", f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs, 1-min load "
           f"{result['machine']['loadavg_1m']} (shared; timings indicative). Measured {result['measured_at']}.", ""]
    (args.out / "grader_agreement.md").write_text("\n".join(md))
    return result


if __name__ == "__main__":
    r = main()
    print(json.dumps({m: {k: v for k, v in s.items() if k != "per_class_correct"} for m, s in r["modes"].items()}, indent=2))
