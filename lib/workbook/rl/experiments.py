"""The RL experiment driver: train registered methods on problem lists over seeds, with probes, into tidy frames.

One run = (label, method, problems, seed): a fresh model from ``ExperimentConfig.model`` trained by
``workbook.rl.trainer`` (TRL 1.16 ``GRPOTrainer`` subclass), measured during training by *probes*
(``workbook.rl.probes``: a TRL callback plus a collector each) and returned as one ``Results``: the trainer's
per-step log, every rollout group's correctness, the timing, and one frame per probe keyed by the probe's name.
Everything a run records lives in its run directory (``<run_root>/<label>/seed<seed>``), so ``resume=True``
continues an interrupted run from its last checkpoint with its logs and probes intact.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import pandas as pd

from workbook.rl.probes import Probe, ProbeContext, read_jsonl
from workbook.rl.trainer import RLConfig

__all__ = ["ExperimentConfig", "RunSpec", "Results", "run_one", "run_grid", "run_jobs", "evaluate", "load_problems"]

FRAMES = ("train", "history", "timing")


@dataclass
class ExperimentConfig(RLConfig):
    """``RLConfig`` (the trainer's settings, shared by every run of a grid) plus where the model comes from.

    ``model`` is a ``workbook.models`` preset; ``torch_threads`` per run process (on 2 cores two single-threaded
    processes beat one two-threaded process for tiny models); ``probe_batch_size`` completions per forward pass
    when a probe samples. The per-run ``seed`` and ``method_overrides`` come from each ``RunSpec``.
    """

    model: str = "toy-reasoner"
    device: str = "cpu"
    torch_threads: int = 1
    probe_batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_generations is not None and self.num_generations < 2:
            raise ValueError("num_generations must be >= 2 (a group needs two rollouts for an advantage)")
        if self.torch_threads < 1 or self.probe_batch_size < 1:
            raise ValueError("torch_threads and probe_batch_size must be >= 1")


@dataclass(frozen=True)
class RunSpec:
    """One training run: ``label`` names the arm in plots and tables ("pi1", "nsr", "lp_reg", ...)."""

    label: str
    method: str
    problems: tuple
    seed: int = 0
    method_overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", tuple(self.problems))
        if not self.problems:
            raise ValueError(f"run {self.label!r}: no training problems")


@dataclass
class Results:
    """Tidy frames of one run or a grid, every row tagged with label, method and seed.

    ``train``: the trainer's log per optimizer step (reward, accuracy, entropy, clip ratios, kl, ...);
    ``history``: every rollout group (step, problem_id, n, n_correct); ``timing``: wall and process CPU seconds of
    each run (never written into metrics.json); ``probes``: one frame per probe, keyed by the probe's name
    (``results["eval"]``).
    """

    train: pd.DataFrame
    history: pd.DataFrame
    timing: pd.DataFrame
    probes: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.probes:
            raise KeyError(f"no probe frame {name!r}; have {sorted(self.probes)}")
        return self.probes[name]

    @staticmethod
    def concat(parts: Sequence["Results"]) -> "Results":
        """Returns the row-wise concatenation of several results (probe frames matched by name)."""
        names = list(dict.fromkeys(k for p in parts for k in p.probes))
        return Results(
            *[pd.concat([getattr(p, f) for p in parts], ignore_index=True) for f in FRAMES],
            probes={k: pd.concat([p.probes[k] for p in parts if k in p.probes], ignore_index=True) for k in names},
        )  # fmt: skip


def _tag(frame: pd.DataFrame, tags: dict) -> pd.DataFrame:
    return frame.assign(**tags) if len(frame) else frame


def _truncate_after(path: Path, step: int) -> None:
    """Drops the records of ``path`` logged after ``step`` (a resumed run logs those steps again)."""
    import json

    if path.exists():
        path.write_text("".join(json.dumps(r) + "\n" for r in read_jsonl(path) if r.get("step", 0) <= step))


def _record_rollouts(trainer, path: Path) -> None:
    """Wraps the trainer's reward to append (step, problem_id, n, n_correct, n_distinct_correct: distinct
    whitespace-normalised correct completions) per rollout group to ``path`` (TRL passes every dataset column and
    ``trainer_state`` to reward functions)."""
    import json

    base = trainer.reward_funcs[0]

    def recording(prompts, completions, completion_ids, problem_id=None, trainer_state=None, **kw):
        rewards = base(prompts=prompts, completions=completions, completion_ids=completion_ids, **kw)
        if problem_id is not None:
            step = (trainer_state.global_step if trainer_state is not None else 0) + 1
            per: dict[str, list[float]] = {}
            right: dict[str, set[str]] = {}
            for pid, r, c in zip(problem_id, rewards, completions):
                per.setdefault(pid, []).append(float(r))
                if float(r) > 0.5:
                    text = c if isinstance(c, str) else " ".join(str(m.get("content", m)) for m in c)
                    right.setdefault(pid, set()).add(" ".join(text.split()))
            with path.open("a") as f:
                f.writelines(json.dumps({"step": step, "problem_id": p, "n": len(v), "n_correct": round(sum(v)),
                                         "n_distinct_correct": len(right.get(p, ()))})
                             + "\n" for p, v in per.items())  # fmt: skip
        return rewards

    recording.__name__ = getattr(base, "__name__", "reward")
    trainer.reward_funcs[0] = recording


def run_one(spec: RunSpec, config: ExperimentConfig, probes: Sequence[Probe] = (), *,
            run_root: str | Path = "rl_runs", resume: bool = False) -> Results:
    """Returns the ``Results`` of one training run of ``spec`` under ``config``, measured by ``probes``.

    ``resume=False`` empties ``run_root/<label>/seed<seed>`` first (a rerun never mixes logs); ``resume=True``
    continues from the last checkpoint there (``config.save_steps`` > 0), dropping what was logged after it.
    """
    import torch
    from transformers.trainer_utils import get_last_checkpoint

    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl.trainer import build_trainer, train

    if not all(isinstance(p, Probe) for p in probes):
        raise TypeError(f"probes must be workbook.rl.probes.Probe instances, got {[type(p).__name__ for p in probes]}")
    names = [p.name for p in probes]
    if len(set(names)) != len(names):
        raise ValueError(f"probe names must be unique (they key the frames), got {names}")
    torch.set_num_threads(config.torch_threads)
    run_dir = Path(run_root) / spec.label / f"seed{spec.seed}"
    ckpt_dir = run_dir / "checkpoints"
    ckpt = get_last_checkpoint(str(ckpt_dir)) if resume and ckpt_dir.is_dir() else None
    if ckpt is None:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        done = int(Path(ckpt).name.split("-")[-1])
        for path in [run_dir / "train_log.jsonl", run_dir / "rollouts.jsonl", *[p.path(run_dir) for p in probes]]:
            _truncate_after(path, done)
    run_dir.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.time(), time.process_time()
    torch.manual_seed(spec.seed)
    model, tok = load_model(config.model, device=config.device)
    rl_cfg = replace(config, seed=spec.seed, method_overrides={**config.method_overrides, **spec.method_overrides})
    grader = Grader(mode=config.grading_mode)
    ctx = ProbeContext(run_dir, tok, grader, config.instruction, spec.seed, config.probe_batch_size,
                       system=config.system)
    trainer = build_trainer(spec.method, model, tok, list(spec.problems), run_dir, rl_cfg, grader=grader,
                            callbacks=[p.callback(ctx) for p in probes])  # fmt: skip
    _record_rollouts(trainer, run_dir / "rollouts.jsonl")
    train(trainer, resume=ckpt is not None)
    tags = {"label": spec.label, "method": spec.method, "seed": spec.seed}
    train_rows = [r for r in read_jsonl(run_dir / "train_log.jsonl") if "train_runtime" not in r]
    frames = {k: _tag(v, tags) for p in probes for k, v in p.collect(run_dir).items()}
    return Results(
        train=_tag(pd.DataFrame(train_rows), tags),
        history=_tag(pd.DataFrame(read_jsonl(run_dir / "rollouts.jsonl")), tags),
        # cpu_seconds: this process's CPU time, ~ the run's wall time on an unloaded core (single-threaded)
        timing=pd.DataFrame([{**tags, "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}]),
        probes=frames,
    )


def run_grid(specs: Sequence[RunSpec], config: ExperimentConfig, probes: Sequence[Probe] = (), *,
             run_root: str | Path = "rl_runs", workers: int = 1, resume: bool = False) -> Results:
    """Returns the concatenated ``Results`` of ``specs``; ``workers`` > 1 runs them in (spawned) processes.

    Runs are seeded and independent, so the frames do not depend on ``workers``.
    """
    return run_jobs([(s, config, probes) for s in specs], run_root=run_root, workers=workers, resume=resume)


def run_jobs(jobs: Sequence[tuple[RunSpec, ExperimentConfig, Sequence[Probe]]], *, run_root: str | Path = "rl_runs",
             workers: int = 1, resume: bool = False) -> Results:
    """Returns the concatenated ``Results`` of ``jobs``, each (spec, config, probes), in the order given:
    `run_grid` for runs whose model or probes differ (e.g. a control world's model, a probe on some arms only),
    all in one pool of ``workers`` spawned processes, so no worker idles between groups of runs. Runs are seeded
    and independent, so the frames do not depend on ``workers`` or on which worker ran what."""
    keys = [(s.label, s.seed) for s, _, _ in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate (label, seed) in specs: {keys}")
    kw = {"run_root": str(run_root), "resume": resume}
    if workers <= 1 or len(jobs) <= 1:
        return Results.concat([run_one(s, c, tuple(pr), **kw) for s, c, pr in jobs])
    for model in dict.fromkeys(c.model for _, c, _ in jobs):
        _require_toy(model)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_one, s, c, tuple(pr), **kw) for s, c, pr in jobs]
        return Results.concat([f.result() for f in futures])


def _require_toy(model: str) -> None:
    """Resolve a toy preset's checkpoint here, before spawning workers: a spawned worker is not a notebook
    kernel, so on a cache miss it would train the checkpoint inside the notebook's timeout; here a notebook gets
    ``ToyNotPrepared`` ("run `make toy`") at once, and outside notebooks it trains once instead of per worker."""
    from workbook.toy import RECIPES, ensure_trained

    if model in RECIPES:
        ensure_trained(RECIPES[model])


def evaluate(config: ExperimentConfig, probes: Sequence[Probe], *, seed: int = 0, label: str = "base",
             model=None, tokenizer=None) -> Results:
    """Returns the probes' frames of an untrained model (step 0; default: ``config.model``, loaded here), tagged
    ``label``/``method`` = ``label``: the base model measured exactly as the runs measure their policies."""
    import tempfile

    from workbook.grading import Grader

    if model is None:
        from workbook.models import load_model

        model, tokenizer = load_model(config.model, device=config.device)
    tags = {"label": label, "method": label, "seed": seed}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = ProbeContext(Path(tmp), tokenizer, Grader(mode=config.grading_mode), config.instruction, seed,
                           config.probe_batch_size, system=config.system)  # fmt: skip
        frames = {p.name: _tag(pd.DataFrame([{"step": 0, **r} for r in p.measure(model, ctx, 0)]), tags)
                  for p in probes}  # fmt: skip
    return Results(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), frames)



def load_problems(name: str, n: int, split: str, seed: int = 0) -> list:
    """Returns ``n`` problems (0: all) of ``name``: the seeded synthetic arithmetic world's ``split`` for
    "synthetic", else the first ``n`` of the ``workbook.data`` benchmark (whose split is fixed by the file).
    Kept for the RL notebooks: it calls `workbook.data.load_problems`, which also takes difficulty and filters."""
    from workbook.data import load_problems as load

    return load(name, n, split, seed)
