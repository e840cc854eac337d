"""Benchmark: the toy reasoner before and after the fast world, side by side in one run (ratios, not absolutes).

Four figures, each measured for the code and world *before* (git commit ``--before``, default the last commit
before the fast world: character tokens, 6 layers, bf16 autocast, transformers decode loop) and *after* (phrase
tokens, 4 layers, float32, the static-cache decoder), interleaved ``--reps`` times so that load from other
processes hits both alike; medians are reported with the ratio:

1. sampling tokens/s and completions/s (T = 1, 32 prompts × 16 samples) with ``TransformersBackend``; the
   "after" engine is also measured on the "before" model (engine vs world) and at 1 and 2 torch threads;
2. one stock TRL ``GRPOTrainer`` step, 16 prompts × 8 completions (TRL's own ``step_time``, first step dropped);
3. training steps/s of the toy recipe → projected minutes from scratch;
4. the project's RL path, ``workbook.rl.trainer.RLTrainer`` (method ``grpo``, 16 × 8) on the cached trained
   ``toy-reasoner`` (read only), with its CPU speed-ups off (TRL's ``model.generate`` and scorer) and on
   (``RLConfig.fast_cpu``), interleaved, at 1 and 2 threads, with the step split into sampling, loss forward,
   backward and the rest (TRL's own per-step overhead).

No toy checkpoint is needed: models are freshly initialised, so they never emit EOS and every completion runs to
its cap. The cap is each world's mean solve-trace length (measured from its own trace generator): the length a
trained model stops at. Writes results/benchmarks/toy_reasoner.{json,md} with the load average (``uptime``)
around every measurement: on a shared machine absolute numbers are inflated, ratios are what to read.

    .venv/bin/python benchmarks/bench_toy.py [--reps 2] [--threads 1] [--grpo-steps 2] [--train-steps 6] [--rl-steps 2]

``--threads`` (default 1) is the policy under which before and after are compared; the other thread count is
measured beside for the "after" side. On a shared machine two threads per process oversubscribe the cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from workbook.data.synthetic import ArithmeticSpec, generate_problems
from workbook.paths import results_root
from workbook.toy.evaluate import exact_grade
from workbook.toy.tokenizer import build_tokenizer
from workbook.toy.world import WorldNoise, sample_example, solve_message, solve_prompt

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "ece7834"  # the toy reasoner as first published (character tokens, bf16, transformers decode loop)
TARGETS = {"tokens_per_s": 15000.0, "sampling_batch": 256, "grpo_step_s": 1.0, "train_minutes": 8.0}


def _module_at(commit: str, path: str, name: str):
    """Import ``path`` as it was at ``commit`` (module ``name``); its imports resolve to today's package."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"], check=True, capture_output=True,
                         text=True).stdout
    tmp = Path(tempfile.mkdtemp()) / f"{name}.py"
    tmp.write_text(src)
    spec = importlib.util.spec_from_file_location(name, tmp)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


class World:
    """One side of the comparison: tokenizer, recipe, model builder, backend class, trainer."""

    def __init__(self, label: str, tokenizer, recipe, build_model, backend_cls, train_model, backend_kw: dict):
        self.label, self.tokenizer, self.recipe = label, tokenizer, recipe
        self.build_model, self.backend_cls, self.train_model, self.backend_kw = (
            build_model, backend_cls, train_model, backend_kw)
        rng = random.Random(0)
        knobs = getattr(recipe, "knobs", None)
        traces = [sample_example("solve", ArithmeticSpec(), WorldNoise(), rng, knobs) for _ in range(400)]
        self.mean_len = round(statistics.mean(len(tokenizer(e.completion, add_special_tokens=False).input_ids) + 1
                                              for e in traces))  # + EOS
        self.prompt_len = round(statistics.mean(len(tokenizer(solve_prompt(tokenizer, e.message.split(" Please")[0]),
                                                              add_special_tokens=False).input_ids) for e in traces))

    def model(self):
        return self.build_model(self.recipe, self.tokenizer).eval()


def worlds(before: str) -> tuple[World, World]:
    from workbook.generation import TransformersBackend
    from workbook.toy import train as new_train

    old_hf = _module_at(before, "lib/workbook/generation/hf.py", "_before_hf")
    old_train = _module_at(before, "lib/workbook/toy/train.py", "_before_train")
    old = World("before", build_tokenizer(), old_train.FULL_RECIPE, old_train.build_model,
                old_hf.TransformersBackend, old_train.train_model, {"batch_size": 64})
    new = World("after", new_train.make_tokenizer(), new_train.FULL_RECIPE, new_train.build_model,
                TransformersBackend, new_train.train_model, {"batch_size": 256})
    return old, new


def bench_sampling(world: World, model, backend_cls=None, backend_kw=None, threads: int | None = None) -> dict:
    """Return tokens/s and completions/s of 32 prompts × 16 samples at T = 1, capped at the world's trace length."""
    prev = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        tok = world.tokenizer
        problems = generate_problems(32, seed=1, split="test")
        prompts = [solve_prompt(tok, p.problem) for p in problems]
        kw = backend_kw if backend_kw is not None else world.backend_kw
        backend = (backend_cls or world.backend_cls)(model, tok, **kw)
        backend.generate(prompts[:2], n=2, temperature=1.0, max_new_tokens=4, seed=0)  # warm-up
        load = _load()
        start, cpu0 = time.perf_counter(), time.process_time()
        out = backend.generate(prompts, n=16, temperature=1.0, max_new_tokens=world.mean_len, seed=0)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        tokens = sum(len(c.token_ids) for row in out for c in row)
        return {"tokens_per_s": tokens / wall, "completions_per_s": 512 / wall, "wall_s": wall, "cpu_s": cpu,
                "tokens_per_cpu_s": tokens / cpu, "cpu_share": cpu / wall,
                "generated_tokens": tokens, "max_new_tokens": world.mean_len, "threads": torch.get_num_threads(),
                "batch_size": kw.get("batch_size"), "load_before": load, "load_after": _load()}
    finally:
        torch.set_num_threads(prev)


def bench_grpo(world: World, steps: int) -> dict:
    """Return stock TRL GRPOTrainer step times, 16 prompts × 8 completions, completions capped at the world's
    mean solve-trace length."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    model = world.model().train()
    tok = world.tokenizer
    problems = generate_problems(16 * (steps + 1), seed=2, split="train")
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": solve_message(p.problem)}], "answer": p.answer}
                              for p in problems])

    def reward(completions, answer, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [float(exact_grade(t, a)) for t, a in zip(texts, answer)]

    load = _load()
    with tempfile.TemporaryDirectory() as out_dir:
        cfg = GRPOConfig(
            output_dir=out_dir, per_device_train_batch_size=128, gradient_accumulation_steps=1, num_generations=8,
            max_completion_length=world.mean_len, temperature=1.0, beta=0.0, learning_rate=1e-5,
            max_steps=steps + 1, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, bf16=False,
            seed=0, dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=reward, args=cfg, train_dataset=data)
        start, cpu0 = time.perf_counter(), time.process_time()
        trainer.train()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    times = [r["step_time"] for r in trainer.state.log_history if "step_time" in r][1:]
    return {"step_times_s": times, "median_step_s": statistics.median(times) if times else None,
            "cpu_s_per_step": cpu / (steps + 1), "cpu_share": cpu / wall,
            "max_completion_length": world.mean_len, "load_before": load, "load_after": _load()}


class _CpuPerStep:
    """TrainerCallback recording each optimizer step's process CPU-seconds (generation + loss + update)."""

    def __init__(self):
        self.cpu: list[float] = []
        self._t0 = 0.0

    def callback(self):
        from transformers import TrainerCallback

        outer = self

        class _CB(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                outer._t0 = time.process_time()

            def on_step_end(self, args, state, control, **kw):
                outer.cpu.append(time.process_time() - outer._t0)

        return _CB()


def bench_rl_trainer(fast: bool, steps: int, threads: int, max_completion_length: int = 64) -> dict:
    """Return step wall/CPU-seconds of ``workbook.rl.trainer`` (TRL's GRPOTrainer subclass) on the trained
    toy reasoner, 16 prompts × 8 completions, with its CPU speed-ups on (``fast``) or off (TRL's own sampler and
    scorer); the first step is dropped as warm-up."""
    from workbook.data.synthetic import generate_problems as gen
    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.trainer import RLConfig, build_trainer

    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model, tok = load_model("toy-reasoner")
        problems = gen(16 * (steps + 1), seed=2, split="train")
        cfg = RLConfig(max_steps=steps + 1, prompts_per_step=16, num_generations=8,
                       max_completion_length=max_completion_length, seed=0, fast_cpu=fast)
        cpu = _CpuPerStep()
        load = _load()
        with tempfile.TemporaryDirectory() as out_dir:
            trainer = build_trainer("grpo", model, tok, problems, out_dir, cfg, grader=Grader(),
                                    callbacks=[cpu.callback()])
            parts: dict[str, list[float]] = {"sampling": [], "loss": [], "backward": []}

            def timed(fn, key):  # a share of the step, in CPU-seconds
                def wrapper(*a, **kw):
                    c0 = time.process_time()
                    try:
                        return fn(*a, **kw)
                    finally:
                        parts[key].append(time.process_time() - c0)
                return wrapper

            trainer._generate_single_turn = timed(trainer._generate_single_turn, "sampling")
            trainer.compute_loss = timed(trainer.compute_loss, "loss")
            trainer.accelerator.backward = timed(trainer.accelerator.backward, "backward")
            trainer.train()
        logs = [r for r in trainer.state.log_history if "step_time" in r]
        times = [r["step_time"] for r in logs][1:]
        lengths = [r["completions/mean_length"] for r in logs if "completions/mean_length" in r][1:]
        return {"fast_cpu": fast, "threads": threads, "step_times_s": times,
                "median_step_s": statistics.median(times), "cpu_s_per_step": statistics.median(cpu.cpu[1:]),
                **{f"{k}_cpu_s": statistics.median(v[1:]) for k, v in parts.items()},
                "rest_cpu_s": statistics.median(c - sum(v[i + 1] for v in parts.values())
                                                for i, c in enumerate(cpu.cpu[1:])),
                "mean_completion_tokens": statistics.mean(lengths) if lengths else None,
                "max_completion_length": max_completion_length, "load_before": load, "load_after": _load()}
    finally:
        torch.set_num_threads(prev)


def bench_training(world: World, steps: int, threads: int) -> dict:
    """Return training steps/s of the world's recipe over ``steps`` steps (first step included) and the projection."""
    recipe = dataclasses.replace(world.recipe, steps=steps, warmup_steps=1, num_threads=threads, log_every=steps,
                                 **({"snapshots": ()} if hasattr(world.recipe, "snapshots") else {}))
    load = _load()
    with tempfile.TemporaryDirectory() as out_dir:
        kwargs = {"progress": False} if world.label == "before" else {"progress": None}
        cpu0 = time.process_time()
        log = world.train_model(recipe, Path(out_dir), **kwargs)
        cpu = time.process_time() - cpu0  # includes building and saving the model: an upper bound per step
    rate = log["steps_per_s"]
    return {"steps_per_s": rate, "cpu_s_per_step": cpu / steps, "cpu_share": cpu / log["wall_s"],
            "projected_cpu_minutes": world.recipe.steps * cpu / steps / 60 / threads,
            "recipe_steps": world.recipe.steps, "batch_size": world.recipe.batch_size,
            "layers": world.recipe.num_layers, "bf16": world.recipe.bf16, "tokens_per_step": log["tokens"] / steps,
            "projected_minutes": world.recipe.steps / rate / 60, "threads": threads, "load_before": load,
            "load_after": _load()}


def trained_logs() -> dict:
    """Return the measured training cost of each cached full-size toy checkpoint (``make toy``), from the
    training log saved beside it: wall seconds, steps/s, threads, device. The benchmark's training rows only
    project from a few steps; these are whole runs (on a shared machine: read them with the load they ran under)."""
    from workbook.toy import RECIPES, is_trained, recipe_dir
    from workbook.toy.train import read_train_log

    out = {}
    for name, recipe in RECIPES.items():
        if recipe.steps > 200 and is_trained(recipe):
            log = read_train_log(recipe_dir(recipe))
            out[name] = {k: log.get(k) for k in ("wall_s", "steps_per_s", "num_threads", "device", "tokens")}
            out[name]["steps"] = recipe.steps
    return out


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs if r.get(key) is not None)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--grpo-steps", type=int, default=2)
    ap.add_argument("--train-steps", type=int, default=6)
    ap.add_argument("--rl-steps", type=int, default=2, help="workbook RLTrainer steps per run (after warm-up)")
    ap.add_argument("--skip", action="append", default=[], choices=["sampling", "grpo", "training", "rl"])
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    old, new = worlds(args.before)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    res: dict = {"before_commit": args.before, "threads": args.threads, "reps": args.reps, "torch": torch.__version__,
                 "platform": platform.platform(), "cpu_count": os.cpu_count(), "uptime_before": uptime,
                 "targets": TARGETS, "trained": trained_logs(),
                 "worlds": {w.label: {"mean_solve_tokens": w.mean_len, "solve_prompt_tokens": w.prompt_len,
                                      "layers": w.recipe.num_layers, "hidden": w.recipe.hidden_size,
                                      "heads": w.recipe.num_heads} for w in (old, new)},
                 "sampling": {"before": [], "after": [], "after_engine_before_world": [], "after_1_thread": [],
                              "after_2_threads": []},
                 "grpo": {"before": [], "after": []}, "training": {"before": [], "after": []},
                 "rl": {"before": [], "after": [], "after_2_threads": []}}
    out = results_root() / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every measurement: a run cut short still leaves what it measured
        res["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        (out / "toy_reasoner.json").write_text(json.dumps(res, indent=1))
        (out / "toy_reasoner.md").write_text(markdown(res))

    old_model, new_model = old.model(), new.model()
    for rep in range(args.reps):
        if "sampling" not in args.skip:
            res["sampling"]["before"].append(bench_sampling(old, old_model))
            res["sampling"]["after"].append(bench_sampling(new, new_model))
            res["sampling"]["after_engine_before_world"].append(
                bench_sampling(old, old_model, new.backend_cls, new.backend_kw))
            res["sampling"]["after_1_thread"].append(bench_sampling(new, new_model, threads=1))
            res["sampling"]["after_2_threads"].append(bench_sampling(new, new_model, threads=2))
            save()
        if "training" not in args.skip:
            for w in (old, new):
                res["training"][w.label].append(bench_training(w, args.train_steps, args.threads))
            res["training"]["after_other_threads"] = res["training"].get("after_other_threads", []) + [
                bench_training(new, args.train_steps, 1 if args.threads > 1 else 2)]
            save()
        if "rl" not in args.skip:  # interleaved: TRL's own sampler/scorer vs the CPU speed-ups
            res["rl"]["before"].append(bench_rl_trainer(False, args.rl_steps, args.threads))
            res["rl"]["after"].append(bench_rl_trainer(True, args.rl_steps, args.threads))
            if rep == 0:  # two threads under load are slow: one run
                res["rl"]["after_2_threads"].append(
                    bench_rl_trainer(True, args.rl_steps, 2 if args.threads == 1 else 1))
            save()
        if "grpo" not in args.skip and rep == 0:  # TRL steps are slow: one run of each
            for w in (old, new):
                res["grpo"][w.label].append(bench_grpo(w, args.grpo_steps))
                save()
    return res


def targets_table(r: dict) -> list[str]:
    """Return the three speed targets against the "after" medians: the wall figure and, because the machine is
    shared, the CPU-time figure (what a process that had its core would take)."""
    t = r["targets"]
    rows = ["", "## The three targets (after)", "", "| target | wall measured | from CPU time | met? |",
            "|---|---:|---:|---|"]
    s = r["sampling"].get("after")
    if s:
        wall, per_cpu = _median(s, "tokens_per_s"), _median(s, "tokens_per_cpu_s")
        rows.append(f"| sampling ≥ {t['tokens_per_s']:,.0f} tokens/s at batch ≥ {t['sampling_batch']} "
                    f"(1 thread) | {wall:,.0f} | {per_cpu:,.0f} per CPU-s | "
                    f"{'yes' if per_cpu >= t['tokens_per_s'] else 'no'} (CPU time) |")
    rl = r.get("rl", {}).get("after")
    if rl:
        wall, cpu = _median(rl, "median_step_s"), _median(rl, "cpu_s_per_step")
        rows.append(f"| GRPO step 16 × 8 ≤ {t['grpo_step_s']:.0f} s (workbook RLTrainer, 1 thread) | {wall:.2f} s | "
                    f"{cpu:.2f} CPU-s | {'yes' if cpu <= t['grpo_step_s'] else 'no'} (CPU time) |")
    tr = r["training"].get("after")
    if tr:
        wall, cpu = _median(tr, "projected_minutes"), _median(tr, "projected_cpu_minutes")
        rows.append(f"| training from scratch ≤ {t['train_minutes']:.0f} min | {wall:.1f} min | {cpu:.1f} min | "
                    f"{'yes' if cpu <= t['train_minutes'] else 'no'} (CPU time) |")
    for name, log in r.get("trained", {}).items():
        rows.append(f"| training ≤ {t['train_minutes']:.0f} min, measured: `{name}` as cached by `make toy` "
                    f"({log['steps']} steps, {log['num_threads']} thread, whole run) | {log['wall_s'] / 60:.1f} min "
                    f"({log['steps_per_s']:.2f} steps/s) | — | {'yes' if log['wall_s'] / 60 <= t['train_minutes'] else 'no'} |")
    if r.get("trained"):
        rows += ["", "The \"measured\" training rows are whole runs read from each checkpoint's own training log (not "
                 "part of this run's interleaving): `make toy` trains the presets side by side, one single-threaded "
                 "process each, so on 2 cores the slower of them is the preparation's wall time; the load they ran "
                 "under is not in the log (say it where the numbers are quoted)."]
    rows += ["", "\"From CPU time\" is what one single-threaded process gets from a core of its own, the closest this "
             "shared machine comes to an idle one. On 2 idle cores two such processes (the RL driver's two workers, "
             "two sampling processes) double the aggregate rate; a single process on 2 threads might approach half "
             "the CPU-time figure, but that is not measured here: under this load 2 threads were many times slower "
             "than 1 (the thread-policy rows). Compare each target with the CPU-time column, and with the load."]
    return rows


def markdown(r: dict) -> str:
    """Return the Markdown report: medians before/after and their ratio."""
    def pair(section: str, key: str, fmt: str = "{:.0f}", a: str = "before", b: str = "after") -> tuple[str, str, str]:
        runs = r[section]
        if not runs.get(a) or not runs.get(b):
            return "—", "—", "—"
        x, y = _median(runs[a], key), _median(runs[b], key)
        return fmt.format(x), fmt.format(y), f"{y / x:.2f}×"

    w = r["worlds"]
    lines = [
        "# Toy reasoner: before vs after the fast world (one run, interleaved)", "",
        f"Before = commit `{r['before_commit']}` (character tokens, {w['before']['layers']} layers, bf16 training, "
        f"transformers decode loop); after = this tree (phrase tokens, {w['after']['layers']} layers, float32, "
        f"static-cache decoder). {r['threads']} torch threads unless noted, {r['cpu_count']} CPUs, torch "
        f"{r['torch']}; {r['reps']} interleaved repetitions, medians.", "",
        f"Load: `{r['uptime_before']}` → `{r.get('uptime_after', '')}`. The machine is shared: absolute numbers are "
        "inflated, the ratios are what this benchmark measures. CPU-seconds (``time.process_time``) are the work "
        "done, less sensitive to how much of a core the process got.", "",
        f"Mean solve trace (completion cap, + EOS): before {w['before']['mean_solve_tokens']} tokens, after "
        f"{w['after']['mean_solve_tokens']}; solve prompt: {w['before']['solve_prompt_tokens']} → "
        f"{w['after']['solve_prompt_tokens']} tokens.", "",
        "| measure | before | after | after / before |", "|---|---:|---:|---:|",
    ]
    s = r["sampling"]
    if s.get("before"):
        lines.append("| sampling tokens/s (512 completions, batch {} → {}) | {} | {} | {} |".format(
            s["before"][0]["batch_size"], s["after"][0]["batch_size"], *pair("sampling", "tokens_per_s")))
        lines.append("| sampling completions/s | {} | {} | {} |".format(*pair("sampling", "completions_per_s")))
        lines.append("| sampling tokens per CPU-second | {} | {} | {} |".format(*pair("sampling", "tokens_per_cpu_s")))
        lines.append("| engine only (before world, tokens/s) | {} | {} | {} |".format(
            *pair("sampling", "tokens_per_s", b="after_engine_before_world")))
        lines.append("| after, thread policy: tokens/s at 1 thread (left) vs 2 threads (right) | {} | {} | {} |".format(
            *pair("sampling", "tokens_per_s", a="after_1_thread", b="after_2_threads")))
    if r["grpo"].get("before"):
        lines.append("| TRL GRPO step, 16 × 8 (s) | {} | {} | {} |".format(*pair("grpo", "median_step_s", "{:.2f}")))
        lines.append("| TRL GRPO step, CPU-seconds (first step included) | {} | {} | {} |".format(
            *pair("grpo", "cpu_s_per_step", "{:.2f}")))
    if r["training"].get("before"):
        lines.append("| training steps/s | {} | {} | {} |".format(*pair("training", "steps_per_s", "{:.2f}")))
        lines.append("| training CPU-seconds per step | {} | {} | {} |".format(
            *pair("training", "cpu_s_per_step", "{:.2f}")))
        lines.append("| training from scratch, projected wall (min) | {} | {} | {} |".format(
            *pair("training", "projected_minutes", "{:.1f}")))
        lines.append("| training from scratch, projected from CPU time (min, if the threads had their cores) "
                     "| {} | {} | {} |".format(*pair("training", "projected_cpu_minutes", "{:.1f}")))
        if r["training"].get("after_other_threads"):
            other = r["training"]["after_other_threads"][0]["threads"]
            lines.append("| after, thread policy: training steps/s at {} (left) vs {} thread(s) (right) | {} | {} | {} |".format(
                other, r["threads"], *pair("training", "steps_per_s", "{:.2f}", a="after_other_threads", b="after")))
    rl = r.get("rl", {})
    if rl.get("before"):
        lines += ["", "The project's RL path (`workbook.rl.trainer.RLTrainer`, TRL's GRPOTrainer subclass, method "
                  "`grpo`) on the trained `toy-reasoner`, 16 prompts × 8 completions, cap "
                  f"{rl['after'][0]['max_completion_length']} tokens (completions stop at EOS, mean "
                  f"{rl['after'][0]['mean_completion_tokens'] or 0:.0f} tokens). Before = TRL's own sampler "
                  "(`model.generate`) and scorer (`fast_cpu=False`); after = the static-cache sampler and the "
                  "length-sorted scorer (`fast_cpu=True`, the default). Same run semantics; first step dropped.", "",
                  "| measure | before | after | after / before |", "|---|---:|---:|---:|"]
        lines.append("| RLTrainer GRPO step, 16 × 8, wall (s) | {} | {} | {} |".format(
            *pair("rl", "median_step_s", "{:.2f}")))
        lines.append("| RLTrainer GRPO step, CPU-seconds | {} | {} | {} |".format(
            *pair("rl", "cpu_s_per_step", "{:.2f}")))
        for key, what in [("sampling", "sampling (`_generate_single_turn`)"),
                          ("loss", "loss forward (`compute_loss`: log-probs, entropies)"), ("backward", "backward"),
                          ("rest", "the rest: TRL's per-step overhead (rewards and grading, advantages, "
                                   "collation, optimizer, logging)")]:
            lines.append(f"| of which {what}, CPU-seconds | " + " | ".join(pair("rl", f"{key}_cpu_s", "{:.2f}"))
                         + " |")
        other = rl["after_2_threads"][0]["threads"] if rl.get("after_2_threads") else None
        if other:
            lines.append("| after, thread policy: step wall (s) at {} (left) vs {} thread(s) (right) | {} | {} | {} |"
                         .format(r["threads"], other, *pair("rl", "median_step_s", "{:.2f}", a="after",
                                                            b="after_2_threads")))
            lines.append("| after, thread policy: step CPU-s at {} (left) vs {} thread(s) (right) | {} | {} | {} |"
                         .format(r["threads"], other, *pair("rl", "cpu_s_per_step", "{:.2f}", a="after",
                                                            b="after_2_threads")))
    lines += targets_table(r)
    if r.get("note"):
        lines += ["", f"Note: {r['note']}"]
    lines += ["", "Targets on 2 idle cores: sampling ≥ 15,000 tokens/s at batch ≥ 256; GRPO step ≤ 1 s; training "
              "from scratch ≤ 8 min. Read them against the load above; the stock TRL step of the first table uses TRL's own "
              "`model.generate` on a freshly initialised model (every completion runs to the cap).", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(main()))
