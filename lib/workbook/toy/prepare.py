"""``workbook prepare`` / ``make toy``: train and cache every toy checkpoint the notebooks need, outside them.

Each recipe trains once into the hash-named cache (``workbook.toy.train``): resumable after a kill (rerun the same
command), one progress line per ``--log-every`` steps, a corrupt or partial checkpoint retrained, never loaded.
A notebook that finds a checkpoint missing stops at once with "run `make toy`" instead of training in its timeout.

    workbook prepare              # every toy checkpoint (full world, its control world, the smoke world)
    workbook prepare --smoke      # the smoke world only (seconds; what the tests and smoke runs need)
    workbook prepare --list       # what would be trained, and what is cached
    workbook prepare --jobs 2     # train the presets in 2 processes at once (one per core; same bytes)

Thread policy: one per process, set once — ``--threads`` / ``$WORKBOOK_THREADS``, else the recipe's
``num_threads`` (2). ``make toy`` passes ``--threads 1`` (``TOY_THREADS``): every cached checkpoint was trained on
one thread (a checkpoint's bytes depend on the thread count), and on a machine shared with other jobs two threads
per process oversubscribe the cores (benchmarks/bench_toy.py measures 1 vs 2 threads side by side).
``--jobs N`` trains up to N presets at once, each in its own single-process run of this command: on 2 cores the
full world and its control world train side by side in the time of one, and each checkpoint's bytes are the same
as when trained alone (same seed, same thread count).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time

from workbook.toy.train import RECIPES, SMOKE_RECIPE, ensure_trained, is_trained, recipe_dir

#: What ``workbook prepare`` trains by default, in this order (the cheap smoke world first).
DEFAULT = tuple(RECIPES)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="workbook prepare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="prepare the smoke world only")
    ap.add_argument("--recipe", action="append", default=[], metavar="NAME",
                    help=f"prepare only these presets (repeatable); valid: {', '.join(RECIPES)}")
    ap.add_argument("--list", action="store_true", help="print what is cached and what would be trained")
    ap.add_argument("--log-every", type=int, default=None, metavar="N", help="one progress line per N steps")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help="torch threads for training (default: $WORKBOOK_THREADS, else the recipe's 2). The bytes of "
                         "a checkpoint depend on it; on a machine shared with other jobs, 1 avoids oversubscription")
    ap.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="train up to N presets at once, one process each (default 1; `make toy` uses 2)")
    return ap


def _train_in_parallel(recipes, args, threads: int | None, jobs: int) -> int:
    """Train ``recipes`` in up to ``jobs`` child processes of this command; return the worst exit code."""
    pending, running, worst = list(recipes), [], 0
    while pending or running:
        while pending and len(running) < jobs:
            r = pending.pop(0)
            cmd = [sys.executable, "-m", "workbook.toy.prepare", "--recipe", r.name]
            cmd += [f"--threads={threads}"] if threads else []
            cmd += [f"--log-every={args.log_every}"] if args.log_every else []
            running.append((r.name, subprocess.Popen(cmd)))  # children print "[toy] <name>: ..." lines
        time.sleep(0.5)
        for item in list(running):
            name, proc = item
            if proc.poll() is not None:
                running.remove(item)
                if proc.returncode:
                    print(f"[toy] {name}: FAILED (exit {proc.returncode}); rerun to resume", file=sys.stderr, flush=True)
                worst = max(worst, proc.returncode)
    return worst


def main(argv: list[str] | None = None) -> int:
    """Prepare toy checkpoints; return 0 when all are cached, 2 on bad arguments (before any training)."""
    ap = _parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    names = list(args.recipe) or ([SMOKE_RECIPE.name] if args.smoke else list(DEFAULT))
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        print(f"workbook prepare: unknown toy preset(s) {unknown}; valid: {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    for flag, value in (("--log-every", args.log_every), ("--threads", args.threads), ("--jobs", args.jobs)):
        if value is not None and value < 1:
            print(f"workbook prepare: {flag} must be >= 1, got {value}", file=sys.stderr)
            return 2
    threads = args.threads
    if threads is None and os.environ.get("WORKBOOK_THREADS", "").strip():
        try:
            threads = int(os.environ["WORKBOOK_THREADS"])
        except ValueError:
            threads = 0
        if threads < 1:
            print(f"workbook prepare: WORKBOOK_THREADS must be an int >= 1, got {os.environ['WORKBOOK_THREADS']!r}",
                  file=sys.stderr)
            return 2
    recipes = []
    for name in names:
        recipe = RECIPES[name]
        execution = {k: v for k, v in (("log_every", args.log_every), ("num_threads", threads)) if v}
        recipes.append(dataclasses.replace(recipe, **execution) if execution else recipe)
    if args.list:
        for r in recipes:
            state = "cached" if is_trained(r) else "to train"
            print(f"{r.name}: {state} ({r.steps} steps, snapshots {list(r.snapshots)}) at {recipe_dir(r)}")
        return 0
    os.environ.setdefault("WORKBOOK_TOY_TRAIN", "always")  # this command is where training belongs
    start = time.time()
    todo = [r for r in recipes if not is_trained(r)]
    if args.jobs > 1 and len(todo) > 1:
        for r in recipes:
            if is_trained(r):
                print(f"[toy] {r.name}: cached at {recipe_dir(r)}", flush=True)
        print(f"[toy] training {len(todo)} preset(s) in up to {args.jobs} processes", flush=True)
        rc = _train_in_parallel(todo, args, threads, args.jobs)
        if rc:
            return rc
        print(f"[toy] all {len(recipes)} toy checkpoint(s) ready ({time.time() - start:.0f} s)", flush=True)
        return 0
    for r in recipes:
        if is_trained(r):
            print(f"[toy] {r.name}: cached at {recipe_dir(r)}", flush=True)
            continue
        t0 = time.time()
        print(f"[toy] {r.name}: training {r.steps} steps (recipe {r.hash()}, {r.num_threads} thread(s)); "
              f"safe to interrupt: rerun to resume", flush=True)
        path = ensure_trained(r, progress=True)
        print(f"[toy] {r.name}: done in {time.time() - t0:.0f} s -> {path}", flush=True)
    print(f"[toy] all {len(recipes)} toy checkpoint(s) ready ({time.time() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
