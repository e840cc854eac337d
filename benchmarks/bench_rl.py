"""Benchmark: optimizer-step time of workbook.rl.trainer.RLTrainer running `grpo` vs stock TRL GRPOTrainer.

Same GRPOConfig, same model, same reward, measured in one process; runs are interleaved (ours, stock, ours, ...) so
that load from other processes hits both alike. Lp-Reg's extra cost (its min-p proxy forward) is measured beside.
The step time is TRL's own `step_time` metric (generation + forward/backward + optimizer, per optimizer step);
the first step of every run is dropped as warm-up. Target (issue 4): ours/stock <= 1.10.

    .venv/bin/python benchmarks/bench_rl.py [--steps 5] [--reps 3] [--threads 2]

Writes results/benchmarks/rl_step.json and rl_step.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch


def _load():
    from workbook.models import load_model

    try:
        model, tok = load_model("toy-reasoner-smoke")
        return "toy-reasoner-smoke", model, tok
    except Exception as e:  # the toy preset may be missing or fail to train; fall back and say so
        print(f"toy-reasoner-smoke unavailable ({type(e).__name__}: {e}); using tiny-random")
        model, tok = load_model("tiny-random")
        return "tiny-random", model, tok


def _problems(n: int, seed: int):
    try:
        from workbook.data.synthetic import ArithmeticSpec, generate_problems

        spec = ArithmeticSpec(n_operands=3, min_operands=2, digits=1)
        return [{"problem": p.problem, "answer": p.answer} for p in generate_problems(n, seed=seed, spec=spec)]
    except Exception:
        return [{"problem": f"{i}+{i+1}", "answer": str(2 * i + 1)} for i in range(n)]


def _run(kind: str, method: str, name: str, cfg, problems, run_dir: Path) -> list[float]:
    from trl import GRPOTrainer

    from workbook.models import load_model
    from workbook.rl.trainer import build_trainer

    model, tok = load_model(name)  # a fresh copy per run: the same initial weights for every trainer
    cls = GRPOTrainer if kind == "stock" else None  # stock TRL on the identical GRPOConfig, dataset and reward
    trainer = build_trainer(method, model, tok, problems, run_dir, cfg, trainer_cls=cls)
    trainer.train()
    times = [r["step_time"] for r in trainer.state.log_history if "step_time" in r]
    return times[1:]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompts-per-step", type=int, default=4)
    ap.add_argument("--num-generations", type=int, default=4)
    ap.add_argument("--max-completion-length", type=int, default=64)
    ap.add_argument("--out", default=None)
    ap.add_argument("--label", default=None, help="key of this run in rl_step.json (default: the device)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from workbook.rl.trainer import RLConfig
    import transformers
    import trl

    name, _, _ = _load()
    problems = _problems(64, seed=0)
    cfg = RLConfig(max_steps=a.steps + 1, prompts_per_step=a.prompts_per_step, num_generations=a.num_generations,
                   max_completion_length=a.max_completion_length, learning_rate=1e-5, seed=0)  # fmt: skip
    try:
        from workbook.toy import MATH_INSTRUCTION

        cfg.instruction = MATH_INSTRUCTION
    except ImportError:
        pass
    times = {"ours_grpo": [], "stock_grpo": [], "ours_lp_reg": []}
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.reps):
            for key, kind, method in (("ours_grpo", "ours", "grpo"), ("stock_grpo", "stock", "grpo"),
                                      ("ours_lp_reg", "ours", "lp_reg")):  # fmt: skip
                times[key] += _run(kind, method, name, cfg, problems, Path(tmp) / f"{key}_{rep}")
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["ours_grpo"] / med["stock_grpo"]
    result = {
        "what": "median optimizer-step time (s), TRL step_time metric, first step of each run dropped",
        "model": name,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": a.threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "config": {"prompts_per_step": a.prompts_per_step, "num_generations": a.num_generations,
                   "max_completion_length": a.max_completion_length, "steps_per_run": a.steps, "reps": a.reps,
                   "generation_backend": "transformers"},  # fmt: skip
        "median_step_s": med,
        "n_steps": {k: len(v) for k, v in times.items()},
        "step_times_s": times,
        "ratio_ours_vs_stock": ratio,
        "target_ratio": 1.10,
        "meets_target": ratio <= 1.10,
        "lp_reg_extra_cost_ratio": med["ours_lp_reg"] / med["ours_grpo"],
        "wall_s": time.time() - t0,
        "note": "runs interleaved (ours, stock, lp_reg, ours, ...) so background load hits every trainer alike",
    }
    out = Path(a.out) if a.out else Path(__file__).resolve().parents[1] / "results" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    label = a.label or ("cuda" if torch.cuda.is_available() else "cpu")
    path = out / "rl_step.json"
    runs = json.loads(path.read_text()).get("runs", {}) if path.exists() else {}
    runs[label] = result  # one file keeps every device's run; each run is self-contained (baseline in the same run)
    path.write_text(json.dumps({"runs": runs}, indent=1, sort_keys=True))
    md = ["# RL step time: workbook RLTrainer vs stock TRL GRPOTrainer", ""]
    for lab, r in sorted(runs.items()):
        c, m = r["config"], r["median_step_s"]
        md += [
            f"## {lab}: {r['device']}",
            "",
            f"Model `{r['model']}`, {r['torch_threads']} torch threads, TRL {r['trl']}, transformers {r['transformers']}, "
            f"torch {r['torch']}; {c['prompts_per_step']} prompts x {c['num_generations']} completions per step, up to "
            f"{c['max_completion_length']} new tokens, transformers generation; {c['reps']} interleaved runs of "
            f"{c['steps_per_run']} measured steps each (first step of each run dropped).",
            "",
            "| trainer | method | median step (s) | steps |",
            "|---|---|---|---|",
            f"| stock TRL GRPOTrainer | grpo (TRL's loss) | {m['stock_grpo']:.3f} | {r['n_steps']['stock_grpo']} |",
            f"| workbook RLTrainer | grpo | {m['ours_grpo']:.3f} | {r['n_steps']['ours_grpo']} |",
            f"| workbook RLTrainer | lp_reg | {m['ours_lp_reg']:.3f} | {r['n_steps']['ours_lp_reg']} |",
            "",
            f"Ours / stock: **{r['ratio_ours_vs_stock']:.3f}x** (target <= 1.10: "
            f"{'met' if r['meets_target'] else 'NOT met'}). Lp-Reg / grpo (ours): {r['lp_reg_extra_cost_ratio']:.3f}x "
            "(Lp-Reg adds one no-grad full-logit forward per rollout batch for the min-p proxy).",
            "",
        ]
    (out / "rl_step.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return result


if __name__ == "__main__":
    main()
