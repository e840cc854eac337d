"""Probes: measurements of the policy while it trains, each a TRL callback plus a collector.

A probe is a frozen dataclass (picklable, so a run can go to a worker process) naming *what* to measure on which
problems and *when* (``every`` optimizer steps, ``at_start`` = the initial policy, ``at_end`` = after the last
step). ``probe.callback(ctx)`` returns the ``transformers.TrainerCallback`` that measures during training and
appends rows to ``<run_dir>/probe_<name>.jsonl``; ``probe.collect(run_dir)`` reads them back as tidy frames keyed
by the probe's name. Because the rows live in the run directory and a step already measured is never measured
again, a run resumed from a checkpoint continues its probes where they stopped.

Sampling goes through the one sample-and-grade path, ``workbook.evaluation.sample_and_grade``, on the seeded
transformers backend of ``workbook.generation`` wrapped around the in-memory policy: a probe's samples depend on
(seed, step, problem, sample) only and never touch the training RNG stream.
"""

from __future__ import annotations

import functools
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd

__all__ = ["ProbeContext", "Probe", "EvalProbe", "probe_callback_class", "policy_backend", "read_jsonl", "append_rows"]

log = logging.getLogger(__name__)


def read_jsonl(path: str | Path) -> list[dict]:
    """Returns the records of a jsonl file (none if it does not exist). A last line cut short (a run killed while
    writing it) is dropped; a broken line anywhere else is an error."""
    path = Path(path)
    lines = [x for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    out = []
    for i, line in enumerate(lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                raise
            log.warning("%s: dropping a truncated last line", path)
    return out


@dataclass(frozen=True)
class ProbeContext:
    """What a probe needs from its run: where to write, the tokenizer, the grader, the prompt and the run's seed."""

    run_dir: Path
    tokenizer: Any
    grader: Any
    instruction: str
    seed: int = 0
    batch_size: int = 64
    system: str | None = None  # the chat template's system line (None: its default)

    def prompt(self, problem) -> str:
        """Returns the chat-formatted prompt of ``problem`` (``workbook.generation.build_prompt``)."""
        from workbook.generation import build_prompt

        text = problem.problem if hasattr(problem, "problem") else problem["problem"]
        return build_prompt(self.tokenizer, text, self.instruction, self.system)


@contextmanager
def policy_backend(model, tokenizer, batch_size: int = 64) -> Iterator[Any]:
    """Yields a seeded ``workbook.generation.TransformersBackend`` over the in-memory ``model``; restores its
    train/eval mode afterwards (the backend puts the model in eval mode)."""
    from workbook.generation import TransformersBackend

    was_training = model.training
    try:
        yield TransformersBackend(model, tokenizer, batch_size=batch_size)
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class Probe:
    """Base of every probe: the problems, the schedule and the name its frames are keyed by in ``Results``.

    Subclasses implement ``measure(model, ctx, step) -> list[dict]`` (rows of one measurement; ``step`` is added).
    """

    problems: tuple = ()
    every: int = 0  # optimizer steps between measurements (0: none during training)
    at_start: bool = True  # measure the initial policy (step 0)
    at_end: bool = True  # measure after the last optimizer step
    name: str = "probe"

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", tuple(self.problems))
        if not self.problems:
            raise ValueError(f"probe {self.name!r}: no problems to measure")
        if self.every < 0 or not (self.every or self.at_start or self.at_end):
            raise ValueError(f"probe {self.name!r}: every must be >= 0 and the probe must run at least once")
        if not self.name.isidentifier():
            raise ValueError(f"probe name must be an identifier (it names a file and a frame), got {self.name!r}")

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        raise NotImplementedError

    def path(self, run_dir: str | Path) -> Path:
        return Path(run_dir) / f"probe_{self.name}.jsonl"

    def callback(self, ctx: ProbeContext):
        """Returns the TRL callback (a ``ProbeCallback``) that runs this probe on its schedule during training."""
        base = probe_callback_class()
        # one class per probe: transformers warns when two callbacks of one class are added to a trainer
        return type(f"ProbeCallback_{self.name}", (base,), {})(self, ctx)

    def collect(self, run_dir: str | Path) -> dict[str, pd.DataFrame]:
        """Returns ``{name: frame}``, one row per record written by this probe's callback in ``run_dir``."""
        return {self.name: pd.DataFrame(read_jsonl(self.path(run_dir)))}


@functools.cache
def probe_callback_class() -> type:
    """Returns the ``ProbeCallback`` class, a ``transformers.TrainerCallback`` (built on first use, so importing a
    probe, or computing a paper's cost plan, does not import transformers)."""
    from transformers import TrainerCallback

    class ProbeCallback(TrainerCallback):
        """Runs ``probe.measure`` at step 0, every ``probe.every`` steps and after the last step (rank 0 only);
        appends its rows (with ``step``) to ``probe.path(ctx.run_dir)``; a step already there is not measured again."""

        def __init__(self, probe: Probe, ctx: ProbeContext):
            self.probe, self.ctx = probe, ctx
            self.path = probe.path(ctx.run_dir)
            self.done = {r["step"] for r in read_jsonl(self.path)}

        def run(self, model, step: int) -> None:
            if step in self.done:
                return
            append_rows(self.path, step, self.probe.measure(model, self.ctx, step), self.probe.name)
            self.done.add(step)

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if self.probe.at_start and state.global_step == 0 and state.is_world_process_zero:
                self.run(model, 0)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if self.probe.every and state.global_step % self.probe.every == 0 and state.is_world_process_zero:
                self.run(model, state.global_step)

        def on_train_end(self, args, state, control, model=None, **kwargs):
            if self.probe.at_end and state.is_world_process_zero:
                self.run(model, state.global_step)

    return ProbeCallback


def append_rows(path: Path, step: int, rows: list[dict], name: str = "") -> None:
    """Appends one measurement's ``rows`` (each with ``step``) to a probe's jsonl file: the one writer of probe rows
    (``read_jsonl`` reads them back; a step already there is not measured again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.writelines(json.dumps({"step": step, **r}, default=_jsonable) + "\n" for r in rows)
    log.info("probe %s at step %d: %d rows", name or path.stem, step, len(rows))


def _jsonable(x):
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"cannot write {type(x).__name__} to jsonl")


@dataclass(frozen=True)
class EvalProbe(Probe):
    """Held-out correctness: ``n`` samples per problem at ``temperature`` (0: greedy, one sample), graded.

    One row per (step, problem): problem_id, dataset, n, n_correct, accuracy (= n_correct / n, mean@n), the input
    of mean@n curves and of the unbiased pass@k (Chen et al. 2021, Eq. 1). ``protocol`` overrides (n, temperature)
    per ``Problem.dataset`` (e.g. the 1-shot RLVR paper's avg@8 at T = 0.6 on AIME).

    ``same_draws``: every step samples with the run seed alone (step 0's seed): common random numbers. The backend
    seeds each (prompt, sample) from (seed, prompt index, sample index), so two steps of one run, or two models
    probed with the same run seed, draw the same uniforms: where the policy did not move, the completions are
    identical and a difference between them is the policy's change, not fresh sampling noise.
    """

    name: str = "eval"
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    protocol: dict = field(default_factory=dict)
    same_draws: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n < 1 or self.temperature < 0 or self.max_new_tokens < 1:
            raise ValueError(f"probe {self.name!r}: need n >= 1, temperature >= 0, max_new_tokens >= 1")

    def groups(self) -> dict[tuple[int, float], list]:
        """Returns the problems grouped by their (n, temperature); greedy groups sample once."""
        out: dict[tuple[int, float], list] = {}
        for p in self.problems:
            n, t = self.protocol.get(getattr(p, "dataset", None), (self.n, self.temperature))
            out.setdefault((1 if float(t) == 0 else int(n), float(t)), []).append(p)
        return out

    def sample(self, model, ctx: ProbeContext, step: int, completions: list | None = None) -> pd.DataFrame:
        """Returns ``workbook.evaluation.sample_and_grade``'s frame (one row per completion) of every group,
        with a ``temperature`` column; seeded by (run seed, step), or by the run seed alone with ``same_draws``.
        ``completions``, when given, receives the backend's ``Completion`` objects (token ids, raw log-probs) in the
        frame's row order."""
        from workbook.evaluation import sample_and_grade

        frames = []
        with policy_backend(model, ctx.tokenizer, ctx.batch_size) as backend:
            if completions is not None:
                backend = _Recording(backend, completions)
            for (n, t), problems in self.groups().items():
                df = sample_and_grade(backend, problems, n, grader=ctx.grader, prompt_fn=ctx.prompt,
                                      seed=ctx.seed + (0 if self.same_draws else step), temperature=t, top_p=self.top_p,
                                      max_new_tokens=self.max_new_tokens)  # fmt: skip
                frames.append(df.assign(temperature=t))
        return pd.concat(frames, ignore_index=True)

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        from workbook.evaluation import per_problem

        frame = self.sample(model, ctx, step)
        rows = []
        for t, g in frame.groupby("temperature", sort=False):
            c = per_problem(g)
            rows += [{"problem_id": r.problem_id, "dataset": r.dataset, "n": int(r.n), "n_correct": int(r.n_correct),
                      "accuracy": r.n_correct / r.n, "temperature": float(t)} for r in c.itertuples()]  # fmt: skip
        return rows


class _Recording:
    """A generation backend that also appends every Completion it returns to ``sink`` (prompt-major order)."""

    def __init__(self, backend, sink: list):
        self.backend, self.sink, self.tokenizer = backend, sink, backend.tokenizer

    def generate(self, prompts, **kw):
        out = self.backend.generate(prompts, **kw)
        self.sink.extend(c for per_prompt in out for c in per_prompt)
        return out

