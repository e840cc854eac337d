"""Command line for RL training, so one run can go through ``accelerate launch`` on several GPUs.

    accelerate launch --config_file env/accelerate_zero3.yaml -m workbook.rl.launch --world-size 8 \\
        --method nsr --model qwen2.5-math-1.5b --train math500 --run-dir results/nsr/paper/rl \\
        --max-steps 100 --prompts-per-step 32 --num-generations 8 --max-completion-length 3072 --backend vllm

Without accelerate (``python -m workbook.rl.launch ...``) it runs on one device. See lib/workbook/rl/README.md and
docs/cluster.md.

Two silent failures of ``accelerate launch`` are refused before any model is loaded (docs/cluster.md, section 4):
``--world-size N`` states the number of processes the run was meant to have, and a run whose process group has
another size stops (``accelerate launch --cpu --num_processes 2`` starts one process); and only one process group
may write a run directory at a time -- rank 0 holds an exclusive lock on ``<run-dir>/.launch.lock``, so two
independent copies (a config that starts N world-size-1 runs) cannot write the same directory. ``--check-sync``
compares a checksum of the weights across ranks after every optimizer step and stops at the first divergence.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import socket
from pathlib import Path

from workbook.rl.methods import METHODS

log = logging.getLogger(__name__)


def _problems(name: str, limit: int | None, seed: int, split: str):
    if name == "synthetic":
        from workbook.data.synthetic import generate_problems

        return generate_problems(limit or 256, seed=seed, split=split)
    from workbook.data import load_benchmark

    return load_benchmark(name, limit=limit)


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_args(argv=None) -> argparse.Namespace:
    """Returns the parsed command line (validated before any model is loaded)."""
    p = argparse.ArgumentParser(prog="python -m workbook.rl.launch", description=__doc__.split("\n")[0])
    p.add_argument("--method", required=True, choices=sorted(METHODS))
    p.add_argument("--model", required=True, help="a workbook.models preset name or a local model directory")
    p.add_argument("--train", required=True, help="benchmark name (workbook.data) or 'synthetic'")
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--eval", default=None, help="held-out benchmark for the periodic evaluation")
    p.add_argument("--eval-limit", type=int, default=64)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--prompts-per-step", type=int, default=8)
    p.add_argument("--num-generations", type=int, default=None)
    p.add_argument("--micro-batch-size", type=int, default=None)
    p.add_argument("--max-completion-length", type=int, default=512)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    p.add_argument("--save-steps", type=int, default=20)
    p.add_argument("--eval-steps", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="method override, e.g. rho=0.005")
    p.add_argument("--world-size", type=int, default=None,
                   help="number of processes this run must have (accelerate's num_processes); default: $WORLD_SIZE")
    p.add_argument("--check-sync", action="store_true",
                   help="after every step, check that all ranks hold identical weights (logged to sync_check.jsonl)")
    args = p.parse_args(argv)
    for item in args.set:
        if "=" not in item:
            p.error(f"--set expects KEY=VALUE, got {item!r}")
    if args.world_size is not None and args.world_size < 1:
        p.error("--world-size must be >= 1")
    return args


class LaunchError(RuntimeError):
    """Raised when the processes started are not the run that was asked for."""


def check_world_size(expected: int | None, got: int) -> None:
    """Raises ``LaunchError`` if the process group has ``got`` processes but ``expected`` were asked for."""
    if expected is not None and got != expected:
        raise LaunchError(
            f"this run was asked for {expected} processes (--world-size / $WORLD_SIZE) but its process group has "
            f"{got}. accelerate starts one process for `--cpu --num_processes N`, and N independent world-size-1 "
            "runs for a distributed config it cannot apply (e.g. FSDP on CPU); on CPU use "
            "`ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes N` (docs/cluster.md).")


class RunDirLock:
    """An exclusive, non-blocking ``flock`` on ``<run_dir>/.launch.lock``, held by rank 0 for the whole run.

    The kernel drops the lock when the process ends, so a crashed run never leaves a stale lock behind.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / ".launch.lock"
        self._fh = None

    def acquire(self, world_size: int) -> "RunDirLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise LaunchError(
                f"{self.path.parent} is being written by another run ({holder}); two independent copies of a run "
                "must not share a run directory. If you meant one run on several processes, check "
                "--world-size against the process group (docs/cluster.md).") from None  # fmt: skip
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, world size {world_size}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the flock
            self._fh = None


def _sync_callback(run_dir: Path):
    """Returns a TrainerCallback that all-gathers a weight checksum after each step and stops on a mismatch."""
    import torch
    from transformers import TrainerCallback

    class SyncCheck(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            import torch.distributed as dist

            with torch.no_grad():
                params = [p.detach().double() for p in model.parameters()]
                local = torch.stack([sum(p.sum() for p in params), sum((p * p).sum() for p in params)]).cpu()
            world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
            gathered = [torch.zeros_like(local) for _ in range(world)]
            if world > 1:
                dist.all_gather_object(gathered, local)
            else:
                gathered = [local]
            spread = max((g - gathered[0]).abs().max().item() for g in gathered)
            if state.is_world_process_zero:
                with (run_dir / "sync_check.jsonl").open("a") as f:
                    f.write(json.dumps({"step": state.global_step, "world_size": world, "identical": spread == 0.0,
                                        "max_checksum_spread": spread}) + "\n")  # fmt: skip
            if spread != 0.0:
                raise LaunchError(f"ranks hold different weights after step {state.global_step} "
                                  f"(checksum spread {spread:g}): gradients are not being synchronised")

    return SyncCheck()


def main(argv=None) -> dict:
    """Returns the final train metrics of the run described by ``argv``."""
    from accelerate import PartialState

    from workbook.models import load_model
    from workbook.rl.trainer import RLConfig, build_trainer, train

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    expected = args.world_size if args.world_size is not None else int(os.environ.get("WORLD_SIZE", "0")) or None
    # joins the process group accelerate set up (or a group of one); on CPU only with cpu=True does accelerate
    # build a gloo group, as TrainingArguments does when ACCELERATE_USE_CPU is set
    state = PartialState(cpu=os.environ.get("ACCELERATE_USE_CPU", "false").lower() in ("1", "true", "yes"))
    check_world_size(expected, state.num_processes)
    if args.check_sync and state.distributed_type.value in ("FSDP", "DEEPSPEED", "MEGATRON_LM"):
        raise LaunchError("--check-sync compares whole weights across ranks: use it with DDP, not sharded training")
    lock, err = None, None
    if state.is_main_process:
        try:
            lock = RunDirLock(args.run_dir).acquire(state.num_processes)
        except LaunchError as e:
            err = str(e)
    if state.num_processes > 1:  # every rank stops if rank 0 could not take the run directory
        import torch.distributed as dist

        box = [err]
        dist.broadcast_object_list(box, src=0)
        err = box[0]
    if err:
        raise LaunchError(err)
    try:
        return _run(args, state, load_model, RLConfig, build_trainer, train)
    finally:
        if lock is not None:
            lock.release()


def _run(args, state, load_model, RLConfig, build_trainer, train) -> dict:
    overrides = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = RLConfig(
        max_steps=args.max_steps, prompts_per_step=args.prompts_per_step, num_generations=args.num_generations,
        micro_batch_size=args.micro_batch_size, max_completion_length=args.max_completion_length,
        learning_rate=args.learning_rate, generation_backend=args.backend, save_steps=args.save_steps,
        eval_steps=args.eval_steps, seed=args.seed, bf16=args.bf16, gradient_checkpointing=args.gradient_checkpointing,
        method_overrides=overrides,
    )  # fmt: skip
    train_problems = _problems(args.train, args.train_limit, args.seed, "train")
    eval_problems = _problems(args.eval, args.eval_limit, args.seed + 1, "test") if args.eval else None
    model, tokenizer = load_model(args.model)
    callbacks = [_sync_callback(Path(args.run_dir))] if args.check_sync else None
    trainer = build_trainer(args.method, model, tokenizer, train_problems, Path(args.run_dir), cfg,
                            eval_problems=eval_problems, callbacks=callbacks)  # fmt: skip
    check_world_size(state.num_processes, trainer.accelerator.num_processes)  # the trainer rebuilt the state
    metrics = train(trainer, resume=not args.no_resume)
    # every rank calls save_model (ZeRO-3 / FSDP gather the weights collectively); the Trainer writes on rank 0 only
    trainer.save_model(str(Path(args.run_dir) / "final_model"))
    if trainer.accelerator.is_main_process:
        (Path(args.run_dir) / "train_metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    return metrics


if __name__ == "__main__":
    main()
