"""Command line for RL training, so one run can go through ``accelerate launch`` on several GPUs.

    accelerate launch --config_file env/accelerate_zero3.yaml -m workbook.rl.launch \\
        --method nsr --model qwen2.5-math-1.5b --train math500 --run-dir results/nsr/paper/rl \\
        --max-steps 100 --prompts-per-step 32 --num-generations 8 --max-completion-length 3072 --backend vllm

Without accelerate (``python -m workbook.rl.launch ...``) it runs on one device. See lib/workbook/rl/README.md.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
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
    args = p.parse_args(argv)
    for item in args.set:
        if "=" not in item:
            p.error(f"--set expects KEY=VALUE, got {item!r}")
    return args


def main(argv=None) -> dict:
    """Returns the final train metrics of the run described by ``argv``."""
    from workbook.models import load_model
    from workbook.rl.trainer import RLConfig, build_trainer, train

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO)
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
    trainer = build_trainer(args.method, model, tokenizer, train_problems, Path(args.run_dir), cfg,
                            eval_problems=eval_problems)  # fmt: skip
    metrics = train(trainer, resume=not args.no_resume)
    if trainer.accelerator.is_main_process:
        trainer.save_model(str(Path(args.run_dir) / "final_model"))
        (Path(args.run_dir) / "train_metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    return metrics


if __name__ == "__main__":
    main()
