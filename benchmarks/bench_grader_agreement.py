"""Benchmark: agreement with hand-decided truth and time per case, strict grader vs math-verify configs.

Writes results/benchmarks/grader_agreement.json and .md. Run: ``.venv/bin/python benchmarks/bench_grader_agreement.py``.

Two case sets, reported separately: ``original`` (``tests/data/grading_cases.jsonl``, the set the strict grader was
developed against: a regression check) and ``heldout`` (``tests/data/grading_cases_heldout.jsonl``, decided by
mathematics and committed before the grader ever ran on them; the grader was then fixed where it disagreed, so
the figure after fixes is no longer a blind estimate — ``--baseline-commit`` re-measures the strict grader of an
older commit on the same cases, e.g. the commit that added the held-out set, which *is* the blind figure).
Every case is graded as a whole completion (answer-only cases are put in a box at the end of a sentence) by
every mode in ``GRADING_MODES``: ``strict`` (ours), ``math_verify`` (library defaults), ``openr1`` (open-r1's
reward configuration), ``qwen25_math`` and ``deepscaler`` (paper graders). Each call is a fresh ``grade()`` (no
``Grader`` cache) bounded at ``timeout_s``; time per case is wall time of that call, imports warmed up first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from workbook.grading import GRADING_MODES, grade
from workbook.paths import repo_root, results_root

CASE_SETS = {"original": repo_root() / "tests" / "data" / "grading_cases.jsonl",
             "heldout": repo_root() / "tests" / "data" / "grading_cases_heldout.jsonl"}

_BASELINE = r"""
import json, sys
from workbook.grading import grade
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    c = json.loads(line)
    comp = c.get("completion", "Reasoning... so the final answer is $\\boxed{" + c.get("pred", "") + "}$.")
    out.append(grade(comp, c["gold"], timeout_s=float(sys.argv[2])))
print(json.dumps(out))
"""


def baseline_verdicts(commit: str, path: Path, timeout_s: float) -> list[bool]:
    """Returns the strict verdicts of the library as it was at ``commit`` (exported to a temporary directory)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(repo_root()), "archive", commit, "lib/workbook"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "lib")}
        res = subprocess.run([sys.executable, "-c", _BASELINE, str(path), str(timeout_s)], env=env, check=True,
                             capture_output=True, text=True, cwd=tmp)
        return json.loads(res.stdout.strip().splitlines()[-1])


def completion_of(case: dict) -> str:
    """Returns the completion graded for a case (answer-only cases end in a box)."""
    return case.get("completion", f"Reasoning... so the final answer is $\\boxed{{{case.get('pred', '')}}}$.")


def measure(cases: list[dict], timeout_s: float) -> tuple[dict, dict, list]:
    """Returns (summary per mode, pairwise agreement, cases where modes differ or strict is wrong)."""
    verdicts: dict[str, list[bool]] = {}
    times: dict[str, list[float]] = {}
    for mode in GRADING_MODES:
        verdicts[mode], times[mode] = [], []
        for c in cases:
            t0 = time.perf_counter()
            verdicts[mode].append(grade(completion_of(c), c["gold"], mode=mode, timeout_s=timeout_s))
            times[mode].append(time.perf_counter() - t0)
    truth = [c["expected"] for c in cases]
    classes = sorted({c["class"] for c in cases})
    summary = {}
    for mode in GRADING_MODES:
        v = verdicts[mode]
        per_class = defaultdict(lambda: [0, 0])
        for x, t, c in zip(v, truth, cases):
            per_class[c["class"]][0] += int(x == t)
            per_class[c["class"]][1] += 1
        summary[mode] = {
            "accuracy": round(sum(x == t for x, t in zip(v, truth)) / len(cases), 4),
            "false_accepts": sum(1 for x, t in zip(v, truth) if x and not t),
            "false_rejects": sum(1 for x, t in zip(v, truth) if t and not x),
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
    return summary, pairwise, differ


def cell(s: str) -> str:
    return "`" + s.replace("|", "\\|").replace("`", "'").replace("\n", " ")[:50] + "`"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout-s", type=float, default=2.0)
    parser.add_argument("--baseline-commit", default=None,
                        help="also measure the strict grader of this commit (e.g. the one that added the held-out set)")
    parser.add_argument("--out", type=Path, default=results_root() / "benchmarks")
    args = parser.parse_args(argv)

    for mode in GRADING_MODES:
        grade("\\boxed{1}", "1", mode=mode)  # warm-up: imports are not a per-case cost
    head = subprocess.run(["git", "-C", str(repo_root()), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    sets = {}
    for name, path in CASE_SETS.items():
        cases = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        summary, pairwise, differ = measure(cases, args.timeout_s)
        entry = {"file": str(path.relative_to(repo_root())), "cases": len(cases), "modes": summary,
                 "pairwise_agreement": pairwise,
                 "class_sizes": {k: sum(1 for c in cases if c["class"] == k) for k in sorted({c["class"] for c in cases})},
                 "cases_where_strict_math_verify_openr1_differ_or_strict_wrong": differ}
        if args.baseline_commit:
            old = baseline_verdicts(args.baseline_commit, path, args.timeout_s)
            entry["strict_at_baseline_commit"] = {
                "commit": args.baseline_commit,
                "accuracy": round(sum(v == c["expected"] for v, c in zip(old, cases)) / len(cases), 4),
                "false_accepts": sum(1 for v, c in zip(old, cases) if v and not c["expected"]),
                "false_rejects": sum(1 for v, c in zip(old, cases) if c["expected"] and not v)}
        sets[name] = entry
    result = {
        "benchmark": "grader_agreement",
        "commit": head,
        "timeout_s": args.timeout_s,
        "sets": sets,
        "machine": {"platform": platform.machine(), "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grader_agreement.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")

    md = ["# Grader agreement benchmark", "",
          f"Two hand-decided case sets, reported separately; each case graded as a completion by every mode, one "
          f"bounded `grade()` call per case (timeout {args.timeout_s} s), no cache. Code at commit `{head}`.", "",
          "- `original`: the set the strict grader was developed against — a regression check, not an accuracy estimate.",
          "- `heldout`: decided by mathematics (each case with its reason) and committed before the grader ran on it. "
          "The strict grader was then fixed where it disagreed, so its score *after* the fixes is not blind either; the "
          "blind figure is the strict grader of the commit that added the set (\"before fixes\" below).", "",
          "`qwen25_math` and `deepscaler` are re-implementations of those graders (POLICY.md §7); library modes read "
          "bare golds as `$gold$`. A case that passes its deadline counts as False.", ""]
    for name, e in sets.items():
        md += [f"## Set `{name}`: {e['cases']} cases (`{e['file']}`)", "",
               "| mode | agreement with truth | false accepts | false rejects | ms/case mean | median | max |",
               "|---|---|---|---|---|---|---|"]
        if "strict_at_baseline_commit" in e:
            b = e["strict_at_baseline_commit"]
            md.append(f"| `strict` before fixes (commit `{b['commit']}`) | {b['accuracy']:.3f} | {b['false_accepts']} | "
                      f"{b['false_rejects']} | | | |")
        for mode, s in e["modes"].items():
            md.append(f"| `{mode}` | {s['accuracy']:.3f} | {s['false_accepts']} | {s['false_rejects']} | "
                      f"{s['ms_per_case_mean']} | {s['ms_per_case_median']} | {s['ms_per_case_max']} |")
        md += ["", "Correct verdicts per class (class size in brackets):", "",
               "| class | " + " | ".join(f"`{m}`" for m in GRADING_MODES) + " |", "|---|" + "---|" * len(GRADING_MODES)]
        for k, size in e["class_sizes"].items():
            md.append(f"| {k} [{size}] | " + " | ".join(str(e["modes"][m]["per_class_correct"][k]) for m in GRADING_MODES) + " |")
        md += ["", "Pairwise agreement: " + ", ".join(f"{k} {v:.3f}" for k, v in e["pairwise_agreement"].items()) + ".", "",
               f"### `{name}`: cases where strict, math-verify defaults and open-r1 differ (or strict is wrong): "
               f"{len(e['cases_where_strict_math_verify_openr1_differ_or_strict_wrong'])}", "",
               "| id | class | answer | gold | truth | strict | math_verify | openr1 | reason |", "|---|---|---|---|---|---|---|---|---|"]
        for d in e["cases_where_strict_math_verify_openr1_differ_or_strict_wrong"]:
            md.append(f"| {d['id']} | {d['class']} | {cell(d['answer'])} | {cell(d['gold'])} | {int(d['truth'])} | "
                      f"{int(d['strict'])} | {int(d['math_verify'])} | {int(d['openr1'])} | {d['reason']} |")
        md.append("")
    md += [f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs, 1-min load "
           f"{result['machine']['loadavg_1m']} (shared; timings indicative). Measured {result['measured_at']}.", ""]
    (args.out / "grader_agreement.md").write_text("\n".join(md))
    return result


if __name__ == "__main__":
    r = main()
    print(json.dumps({n: {m: s["accuracy"] for m, s in e["modes"].items()} | {"baseline": e.get("strict_at_baseline_commit")}
                      for n, e in r["sets"].items()}, indent=2))
