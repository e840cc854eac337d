"""Training the toy reasoner: a recipe dataclass, a deterministic resumable loop, and a hash-checked cache.

Deterministic from a seed and budgeted in optimizer steps (not seconds: the machines are shared); cached under
``cache_dir()/toy/<recipe-hash>/`` with a sha256 manifest, re-trained when the recipe changes or a file no longer
matches its hash. Training writes a resumable state every ``checkpoint_every`` steps into
``cache_dir()/toy/.<hash>.partial/``: a killed run resumes there and ends with the same bytes as an uninterrupted
one (same CPU, same thread count). Notebooks never train the full recipe: :func:`ensure_trained` refuses inside a
Jupyter kernel and points to ``make toy`` (``workbook prepare``); see ``workbook.toy.prepare``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import pickle
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbook import paths
from workbook.data.synthetic import ArithmeticSpec
from workbook.toy.tokenizer import ASSISTANT, END, USER, build_tokenizer, load_tokenizer
from workbook.toy.world import TASKS, TOKEN_PHRASES, WorldKnobs, WorldNoise, sample_example

logger = logging.getLogger(__name__)

#: Bump when the world's formats or the training loop change in a way the recipe fields do not capture.
#: 2: phrase tokens, world knobs, float32 by default, resumable loop. 3: length-sorted micro-batches.
#: 4: a verify report line copies the claimed step before the check (`= c, check v ok|wrong`); mixture 50/35/15.
#: 5: the check value comes before the copied claim (`= v, claimed c ok|wrong`).
WORLD_VERSION = 5
#: Recipes with at most this many steps train in seconds: they may train on demand anywhere (tests, smoke runs).
CHEAP_STEPS = 200


@dataclass(frozen=True)
class ToyRecipe:
    """Everything that determines a toy checkpoint; its hash names the cache directory.

    The model is a Qwen2 causal LM with tied embeddings; the optimizer AdamW with linear warm-up and cosine decay
    to ``min_lr_ratio · lr``; the loss is the mean cross-entropy over completion tokens (EOS included). Each step
    draws one skill from ``mixture`` and a batch of fresh ``train``-split examples of it.
    """

    name: str = "toy-reasoner"
    seed: int = 0
    spec: ArithmeticSpec = field(default_factory=ArithmeticSpec)
    noise: WorldNoise = field(default_factory=WorldNoise)
    knobs: WorldKnobs = field(default_factory=WorldKnobs)
    mixture: tuple[tuple[str, float], ...] = (("solve", 0.50), ("verify", 0.35), ("refine", 0.15))
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4  # head_dim 32: vLLM's CPU attention supports no smaller head
    intermediate_size: int = 384
    max_positions: int = 512
    steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-3
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    micro_batches: int = 4  # length-sorted micro-batches per step (same loss, less padding: 1.5x fewer CPU-s)
    bf16: bool = False  # float32 on CPU: bf16 autocast was 3-10x slower per step on an AVX2 CPU
    snapshots: tuple[int, ...] = ()  # also save the model after these steps (weaker model strengths)
    num_threads: int = 2
    log_every: int = 25
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        tasks = [t for t, _ in self.mixture]
        if not tasks or any(t not in TASKS for t in tasks) or any(w < 0 for _, w in self.mixture):
            raise ValueError(f"mixture must weight tasks from {TASKS}, got {self.mixture!r}")
        if min(self.steps, self.batch_size, self.num_threads, self.checkpoint_every, self.micro_batches) < 1:
            raise ValueError("steps, batch_size, num_threads, checkpoint_every and micro_batches must be >= 1")
        if self.hidden_size % self.num_heads or self.hidden_size // self.num_heads < 32:
            raise ValueError("hidden_size must be divisible by num_heads with a head dimension >= 32 (vLLM's CPU "
                             f"attention supports no smaller head), got {self.hidden_size} / {self.num_heads}")
        if any(not 0 < s < self.steps for s in self.snapshots) or list(self.snapshots) != sorted(set(self.snapshots)):
            raise ValueError(f"snapshots must be increasing steps in (0, {self.steps}), got {self.snapshots!r}")
        if not isinstance(self.knobs, WorldKnobs) or not isinstance(self.noise, WorldNoise):
            raise ValueError("knobs must be a WorldKnobs and noise a WorldNoise")

    def to_dict(self) -> dict:
        """Return the recipe as plain JSON-able data."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def hash(self) -> str:
        """Return the first 16 hex digits of the SHA-256 of the recipe (and WORLD_VERSION).

        ``num_threads`` and ``log_every`` are execution details, not part of the hash: a checkpoint trained with
        more threads is the same recipe (bit-identical only for the same thread count and CPU).
        """
        fields = {k: v for k, v in self.to_dict().items() if k not in _EXECUTION_FIELDS}
        blob = json.dumps({"world_version": WORLD_VERSION, "recipe": fields}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_EXECUTION_FIELDS = ("num_threads", "log_every", "checkpoint_every")
#: The world with every mechanism; weaker snapshots for inference-scaling's model strengths.
FULL_RECIPE = ToyRecipe(snapshots=(250, 500, 1000))
#: Trains in seconds on one thread; beats chance, not a useful reasoner (tests and the smoke profile only).
#: head_dim 32 like the full recipe (vLLM's CPU backend needs it).
SMOKE_RECIPE = ToyRecipe(
    name="toy-reasoner-smoke", spec=ArithmeticSpec(n_operands=3, min_operands=2, digits=1), hidden_size=64,
    num_layers=2, num_heads=2, intermediate_size=128, max_positions=256, steps=80, batch_size=16, lr=5e-3,
    warmup_steps=10, num_threads=1, log_every=10, checkpoint_every=20, snapshots=(40,),
)
#: The same world with every mechanism knob at its control value: the control arm of every paper's knob.
CONTROL_RECIPE = dataclasses.replace(FULL_RECIPE, name="toy-reasoner-control", knobs=FULL_RECIPE.knobs.control(),
                                     snapshots=())
#: Every toy preset, in preparation order (the seconds-cheap smoke world first).
RECIPES = {r.name: r for r in (SMOKE_RECIPE, FULL_RECIPE, CONTROL_RECIPE)}


def build_model(recipe: ToyRecipe, tokenizer):
    """Return a freshly initialized ``Qwen2ForCausalLM`` for ``recipe`` (initialized under ``recipe.seed``)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=recipe.hidden_size, intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_layers, num_attention_heads=recipe.num_heads,
        num_key_value_heads=recipe.num_heads, max_position_embeddings=recipe.max_positions,
        tie_word_embeddings=True, rope_theta=10000.0, bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, dtype="float32",
    )
    torch.manual_seed(recipe.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return model


def make_tokenizer():
    """Return the tokenizer of the current world version (characters + the world's phrase tokens)."""
    return build_tokenizer(TOKEN_PHRASES)


class CharEncoder:
    """Encodes chat-formatted single-turn examples exactly as the tokenizer does, a batch per call."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.end = tokenizer.convert_tokens_to_ids(END)

    def batch(self, pairs: list[tuple[str, str]]) -> list[tuple[list[int], int]]:
        """Return (token ids of prompt + completion + EOS, prompt length) per (message, completion) pair."""
        prompts = [f"{USER}{m}\n{ASSISTANT}" for m, _ in pairs]
        enc = self.tokenizer(prompts + [c for _, c in pairs], add_special_tokens=False)["input_ids"]
        n = len(pairs)
        return [(enc[i] + enc[n + i] + [self.end], len(enc[i])) for i in range(n)]

    def example(self, message: str, completion: str) -> tuple[list[int], int]:
        """Return (token ids of prompt + completion + EOS, prompt length)."""
        return self.batch([(message, completion)])[0]


def make_batch(examples, encoder: CharEncoder):
    """Return (input_ids, attention_mask, labels) tensors, right-padded; labels are -100 outside completions.

    Shapes: (batch, max_len) each.
    """
    return _pad(encoder.batch([(e.message, e.completion) for e in examples]))


def _split(items: list, parts: int) -> list[list]:
    size = -(-len(items) // parts)
    return [items[i:i + size] for i in range(0, len(items), size)]


def _pad(encoded: list[tuple[list[int], int]]):
    import torch

    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.zeros((len(encoded), width), dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    labels = torch.full_like(input_ids, -100)
    for row, (ids, n_prompt) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
        labels[row, n_prompt: len(ids)] = input_ids[row, n_prompt: len(ids)]
    return input_ids, mask, labels


def lr_at(step: int, recipe: ToyRecipe) -> float:
    """Return the learning rate at optimizer step ``step`` (0-based): linear warm-up, cosine decay."""
    if step < recipe.warmup_steps:
        return recipe.lr * (step + 1) / recipe.warmup_steps
    progress = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return recipe.lr * (recipe.min_lr_ratio + (1 - recipe.min_lr_ratio) * cosine)


def _save_model(model, tokenizer, out: Path) -> None:
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _atomic_pickle(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def train_model(recipe: ToyRecipe, out_dir: Path, progress: bool | None = True, device: str = "cpu",
                stop_after: int | None = None) -> dict:
    """Train ``recipe`` into ``out_dir``: model + tokenizer + recipe.json + train_log.json (+ ``step-N/`` snapshots).

    Resumable: every ``checkpoint_every`` steps the full state (weights, AdamW moments, data RNG, log) goes to
    ``out_dir/state.pkl``; calling again on the same ``out_dir`` continues from it. ``stop_after`` ends the run
    after that many steps without saving the final model (tests use it to simulate a kill); returns ``{}`` then.
    ``progress``: one line per ``log_every`` steps on stdout (None: silent). ``device`` is an execution detail
    (not in the recipe hash): the same recipe on another device is statistically similar, not bit-identical.
    Returns the training log: per-logged-step mean loss per task, steps/s, wall time, parameter count.
    """
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(recipe.num_threads)  # one deliberate policy per process (measured in bench_toy.py)
    try:
        tokenizer = make_tokenizer()
        encoder = CharEncoder(tokenizer)
        model = build_model(recipe, tokenizer).to(device)
        model.train()
        n_params = sum(p.numel() for p in model.parameters())
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
        no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=recipe.lr, betas=recipe.betas)
        rng = random.Random(f"workbook.toy.train|{recipe.seed}")
        tasks = [t for t, _ in recipe.mixture]
        weights = [w for _, w in recipe.mixture]
        log: dict = {"step": [], "lr": [], **{f"loss_{t}": [] for t in TASKS}, "tokens": 0, "wall_s": 0.0,
                     "resumed_at": []}
        running: dict[str, list[float]] = {t: [] for t in TASKS}
        first = 0
        state_path = out_dir / "state.pkl"
        if state_path.exists():
            state = pickle.loads(state_path.read_bytes())
            if state["hash"] != recipe.hash():
                raise RuntimeError(f"{state_path} belongs to recipe {state['hash']}, not {recipe.hash()}")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            rng.setstate(state["rng"])
            log, running, first = state["log"], state["running"], state["step"]
            log["resumed_at"].append(first)
            if progress is not None:
                print(f"[toy] {recipe.name}: resuming at step {first}/{recipe.steps}", flush=True)
        start = time.time()
        wall_before = log["wall_s"]
        for step in range(first, recipe.steps):
            task = rng.choices(tasks, weights)[0]
            examples = [sample_example(task, recipe.spec, recipe.noise, rng, recipe.knobs)
                        for _ in range(recipe.batch_size)]
            for group in opt.param_groups:
                group["lr"] = lr_at(step, recipe)
            opt.zero_grad(set_to_none=True)
            # length-sorted micro-batches pad far less than one batch (hard and spark traces are long); the loss
            # stays the mean over every completion token of the step
            encoded = encoder.batch([(e.message, e.completion) for e in examples])
            order = sorted(range(len(examples)), key=lambda i: len(encoded[i][0]))
            n_target = sum(len(ids) - n_prompt for ids, n_prompt in encoded)
            loss_value = 0.0
            for part in _split(order, recipe.micro_batches):
                input_ids, mask, labels = (t.to(device) for t in _pad([encoded[i] for i in part]))
                with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=recipe.bf16):
                    logits = model(input_ids=input_ids, attention_mask=mask).logits
                loss = torch.nn.functional.cross_entropy(
                    logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                    ignore_index=-100, reduction="sum") / n_target
                loss.backward()
                loss_value += loss.item()
                log["tokens"] += int(mask.sum().item())
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            opt.step()
            running[task].append(loss_value)
            done = step + 1
            if done % recipe.log_every == 0 or done == recipe.steps:
                log["step"].append(done)
                log["lr"].append(lr_at(step, recipe))
                for t in TASKS:
                    vals = running[t]
                    log[f"loss_{t}"].append(sum(vals) / len(vals) if vals else None)
                    running[t] = []
                if progress:
                    rate = (done - first) / max(1e-9, time.time() - start)
                    losses = " ".join(f"{t} {log[f'loss_{t}'][-1]:.3f}" for t in TASKS
                                      if log[f"loss_{t}"][-1] is not None)
                    print(f"[toy] {recipe.name}: step {done}/{recipe.steps} loss {losses} | {rate:.2f} steps/s, "
                          f"eta {(recipe.steps - done) / max(rate, 1e-9) / 60:.1f} min", flush=True)
            if done in recipe.snapshots:
                model.eval()
                _save_model(model, tokenizer, out_dir / f"step-{done}")
                model.train()
            if done % recipe.checkpoint_every == 0 and done < recipe.steps:
                log["wall_s"] = wall_before + time.time() - start
                _atomic_pickle({"hash": recipe.hash(), "step": done, "model": model.state_dict(),
                                "opt": opt.state_dict(), "rng": rng.getstate(), "log": log, "running": running},
                               state_path)
            if stop_after is not None and done >= stop_after and done < recipe.steps:
                return {}
        wall = wall_before + time.time() - start
        log.update(n_params=n_params, wall_s=wall, steps_per_s=recipe.steps / max(wall, 1e-9),
                   num_threads=recipe.num_threads, recipe_hash=recipe.hash(), device=str(device),
                   torch_version=torch.__version__)
        model.eval().to("cpu")
        _save_model(model, tokenizer, out_dir)
        (out_dir / "recipe.json").write_text(json.dumps({"hash": recipe.hash(), "world_version": WORLD_VERSION,
                                                         "recipe": recipe.to_dict()}, indent=2, sort_keys=True))
        (out_dir / "train_log.json").write_text(json.dumps(log, indent=1))
        state_path.unlink(missing_ok=True)
        return log
    finally:
        torch.set_num_threads(prev_threads)


# ---------------------------------------------------------------------------------------------------------------
# Cache: <cache>/toy/<hash>/ (complete, with MANIFEST), <cache>/toy/.<hash>.partial/ (a run in progress)

MANIFEST = "MANIFEST.sha256.json"


class ToyNotPrepared(FileNotFoundError):
    """A toy checkpoint a notebook needs is not in the cache; the message says how to prepare it."""


def checkpoint_hash(model_dir: str | Path) -> str:
    """Return the SHA-256 of the saved weights (``model.safetensors``) in ``model_dir``."""
    return hashlib.sha256((Path(model_dir) / "model.safetensors").read_bytes()).hexdigest()


def _file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != MANIFEST}


def recipe_dir(recipe: ToyRecipe) -> Path:
    """Return ``cache_dir()/toy/<recipe-hash>`` (may not exist yet)."""
    return paths.cache_dir() / "toy" / recipe.hash()


def verify_checkpoint(path: str | Path) -> str | None:
    """Return None if every file in ``path`` matches its manifest hash, else what is wrong (never raises)."""
    path = Path(path)
    if not path.is_dir():
        return "not in the cache"
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return f"no readable {MANIFEST} (an incomplete or pre-manifest checkpoint)"
    actual = _file_hashes(path)
    missing = sorted(set(manifest) - set(actual))
    changed = sorted(f for f in manifest if f in actual and actual[f] != manifest[f])
    if missing or changed:
        return f"missing {missing}, changed {changed}"
    return None


def is_trained(recipe: ToyRecipe) -> bool:
    """Return whether ``recipe``'s checkpoint is in the cache and matches its manifest."""
    return verify_checkpoint(recipe_dir(recipe)) is None


def snapshot_dirs(recipe: ToyRecipe) -> dict[int, Path]:
    """Return {optimizer step: checkpoint dir} of the recipe's model strengths, the final model included."""
    root = recipe_dir(recipe)
    return {**{s: root / f"step-{s}" for s in recipe.snapshots}, recipe.steps: root}


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def training_allowed(recipe: ToyRecipe) -> bool:
    """Return whether this process may train ``recipe`` on a cache miss.

    ``WORKBOOK_TOY_TRAIN=never|always`` decides when set; otherwise cheap recipes (≤ CHEAP_STEPS steps, seconds)
    train anywhere and others everywhere but inside a Jupyter kernel: a notebook must never spend its timeout on
    preparation (``make toy`` does it, resumably).
    """
    policy = os.environ.get("WORKBOOK_TOY_TRAIN", "").strip().lower()
    if policy in ("never", "always"):
        return policy == "always"
    return recipe.steps <= CHEAP_STEPS or not _in_notebook()


def require(recipe: ToyRecipe) -> Path:
    """Return the verified checkpoint directory of ``recipe``, or raise ToyNotPrepared saying to run ``make toy``."""
    target = recipe_dir(recipe)
    problem = verify_checkpoint(target)
    if problem is None:
        return target
    raise ToyNotPrepared(
        f"toy checkpoint {recipe.name!r} (recipe {recipe.hash()}) is not prepared at {target} ({problem}): run "
        f"`make toy` (or `workbook prepare`) first; it trains every toy checkpoint once, resumably, outside notebooks")


def ensure_trained(recipe: ToyRecipe, progress: bool | None = True) -> Path:
    """Return the verified cached checkpoint of ``recipe``, training (or resuming) it first on a cache miss.

    A checkpoint whose files do not match their manifest is moved aside and retrained, never loaded. Inside a
    notebook a miss of an expensive recipe raises :class:`ToyNotPrepared` instead (see :func:`training_allowed`).
    Concurrent callers wait on a file lock instead of training twice; the directory appears atomically.
    """
    target = recipe_dir(recipe)
    if verify_checkpoint(target) is None:
        return target
    if not training_allowed(recipe):
        require(recipe)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            problem = verify_checkpoint(target)
            if problem is None:
                return target
            if target.exists():
                bad = target.with_name(f".{target.name}.corrupt-{int(time.time())}")
                logger.warning("toy checkpoint %s failed its hash check (%s): moved to %s and retraining",
                               target, problem, bad)
                print(f"[toy] {recipe.name}: cached checkpoint failed its hash check ({problem}); retraining",
                      flush=True)
                os.replace(target, bad)
                shutil.rmtree(bad, ignore_errors=True)
            work = target.with_name(f".{target.name}.partial")
            logger.info("training toy model %s (recipe %s, %d steps) in %s", recipe.name, recipe.hash(),
                        recipe.steps, work)
            log = train_model(recipe, work, progress=progress)
            from workbook.toy.card import write_model_card

            write_model_card(work / "model_card.md", recipe, log)
            (work / MANIFEST).write_text(json.dumps(_file_hashes(work), indent=1, sort_keys=True))
            os.replace(work, target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def load_toy(recipe: ToyRecipe, device: str = "cpu", dtype=None, step: int | None = None):
    """Return ``(model, tokenizer)`` of ``recipe`` (``step``: one of its snapshots), model in eval mode."""
    import torch
    from transformers import Qwen2ForCausalLM

    path = ensure_trained(recipe)
    if step is not None and step != recipe.steps:
        if step not in recipe.snapshots:
            raise ValueError(f"{recipe.name} has snapshots at steps {list(recipe.snapshots)} and {recipe.steps}, "
                             f"not {step}")
        path = path / f"step-{step}"
    if dtype is None or dtype == "auto":
        dtype = torch.float32
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=dtype)
    model.to(device).eval()
    return model, load_tokenizer(path)


def read_train_log(model_dir: str | Path) -> dict:
    """Return the training log saved beside a checkpoint."""
    return json.loads((Path(model_dir) / "train_log.json").read_text())
