"""Training the toy reasoner: a recipe dataclass, a deterministic loop, and a cache keyed by the recipe's hash.

Spec: issue 3 ("Training"): deterministic from a seed, budgeted in optimizer steps (not seconds: the machines are
shared), cached under ``cache_dir()/toy/<recipe-hash>/`` and re-trained when the recipe changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbook import paths
from workbook.data.synthetic import ArithmeticSpec
from workbook.toy.tokenizer import ASSISTANT, END, USER, build_tokenizer, load_tokenizer
from workbook.toy.world import TASKS, WorldNoise, sample_example

logger = logging.getLogger(__name__)

#: Bump when the world's formats or the training loop change in a way the recipe fields do not capture.
WORLD_VERSION = 1


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
    mixture: tuple[tuple[str, float], ...] = (("solve", 0.60), ("verify", 0.25), ("refine", 0.15))
    hidden_size: int = 128
    num_layers: int = 6
    num_heads: int = 4
    intermediate_size: int = 384
    max_positions: int = 1024
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-3
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    bf16: bool = True
    num_threads: int = 2
    log_every: int = 25

    def __post_init__(self) -> None:
        tasks = [t for t, _ in self.mixture]
        if not tasks or any(t not in TASKS for t in tasks) or any(w < 0 for _, w in self.mixture):
            raise ValueError(f"mixture must weight tasks from {TASKS}, got {self.mixture!r}")
        if self.steps < 1 or self.batch_size < 1 or self.num_threads < 1:
            raise ValueError("steps, batch_size and num_threads must be >= 1")
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")

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


_EXECUTION_FIELDS = ("num_threads", "log_every")
FULL_RECIPE = ToyRecipe()
#: Trains in seconds on one thread; beats chance, not a useful reasoner (tests and the smoke profile only).
SMOKE_RECIPE = ToyRecipe(
    name="toy-reasoner-smoke", spec=ArithmeticSpec(n_operands=3, min_operands=2, digits=1), hidden_size=64,
    num_layers=2, num_heads=2, intermediate_size=128, max_positions=512, steps=80, batch_size=16, lr=5e-3,
    warmup_steps=10, num_threads=1, log_every=10,
)
RECIPES = {FULL_RECIPE.name: FULL_RECIPE, SMOKE_RECIPE.name: SMOKE_RECIPE}


def build_model(recipe: ToyRecipe, tokenizer):
    """Return a freshly initialized ``Qwen2ForCausalLM`` for ``recipe`` (initialized under ``recipe.seed``)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=recipe.hidden_size, intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_layers, num_attention_heads=recipe.num_heads,
        num_key_value_heads=recipe.num_heads, max_position_embeddings=recipe.max_positions,
        tie_word_embeddings=True, rope_theta=10000.0, bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(recipe.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return model


class CharEncoder:
    """Fast exact equivalent of the tokenizer on chat-formatted single-turn examples."""

    def __init__(self, tokenizer) -> None:
        vocab = tokenizer.get_vocab()
        self.char_ids = {ch: i for ch, i in vocab.items() if len(ch) == 1}
        self.unk = tokenizer.unk_token_id
        self.user, self.assistant, self.end = vocab[USER], vocab[ASSISTANT], vocab[END]

    def chars(self, text: str) -> list[int]:
        return [self.char_ids.get(ch, self.unk) for ch in text]

    def example(self, message: str, completion: str) -> tuple[list[int], int]:
        """Return (token ids of prompt + completion + EOS, prompt length)."""
        prompt = [self.user] + self.chars(message + "\n") + [self.assistant]
        return prompt + self.chars(completion) + [self.end], len(prompt)


def make_batch(examples, encoder: CharEncoder):
    """Return (input_ids, attention_mask, labels) tensors, right-padded; labels are -100 outside completions.

    Shapes: (batch, max_len) each.
    """
    import torch

    encoded = [encoder.example(e.message, e.completion) for e in examples]
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


def train_model(recipe: ToyRecipe, out_dir: Path, progress: bool = True, device: str = "cpu") -> dict:
    """Train ``recipe`` and save model + tokenizer + recipe.json + train_log.json into ``out_dir``.

    Returns the training log: per-logged-step mean loss per task, steps/s, wall time, parameter count.
    ``device`` is an execution detail (not in the recipe hash): the same recipe on another device gives a
    statistically similar, not bit-identical, checkpoint.
    """
    import torch
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(recipe.num_threads)
    try:
        tokenizer = build_tokenizer()
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
        log: dict = {"step": [], "lr": [], **{f"loss_{t}": [] for t in TASKS}, "tokens": 0}
        running: dict[str, list[float]] = {t: [] for t in TASKS}
        start = time.time()
        bar = tqdm(range(recipe.steps), desc=f"train {recipe.name}", disable=not progress, mininterval=5)
        for step in bar:
            task = rng.choices(tasks, weights)[0]
            examples = [sample_example(task, recipe.spec, recipe.noise, rng) for _ in range(recipe.batch_size)]
            input_ids, mask, labels = make_batch(examples, encoder)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, recipe)
            input_ids, mask, labels = input_ids.to(device), mask.to(device), labels.to(device)
            ctx = (torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if recipe.bf16
                   else contextlib.nullcontext())
            with ctx:
                logits = model(input_ids=input_ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            opt.step()
            log["tokens"] += int(mask.sum().item())
            running[task].append(loss.item())
            if (step + 1) % recipe.log_every == 0 or step + 1 == recipe.steps:
                log["step"].append(step + 1)
                log["lr"].append(lr_at(step, recipe))
                for t in TASKS:
                    vals = running[t]
                    log[f"loss_{t}"].append(sum(vals) / len(vals) if vals else None)
                    running[t] = []
                bar.set_postfix(loss=f"{loss.item():.3f}", task=task)
        wall = time.time() - start
        log.update(n_params=n_params, wall_s=wall, steps_per_s=recipe.steps / wall, num_threads=recipe.num_threads,
                   recipe_hash=recipe.hash(), device=str(device), torch_version=torch.__version__)
        model.eval().to("cpu")
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        (out_dir / "recipe.json").write_text(json.dumps({"hash": recipe.hash(), "world_version": WORLD_VERSION,
                                                         "recipe": recipe.to_dict()}, indent=2, sort_keys=True))
        (out_dir / "train_log.json").write_text(json.dumps(log, indent=1))
        return log
    finally:
        torch.set_num_threads(prev_threads)


def checkpoint_hash(model_dir: str | Path) -> str:
    """Return the SHA-256 of the saved weights (``model.safetensors``) in ``model_dir``."""
    return hashlib.sha256((Path(model_dir) / "model.safetensors").read_bytes()).hexdigest()


def recipe_dir(recipe: ToyRecipe) -> Path:
    """Return ``cache_dir()/toy/<recipe-hash>`` (may not exist yet)."""
    return paths.cache_dir() / "toy" / recipe.hash()


def is_trained(recipe: ToyRecipe) -> bool:
    """Return whether ``recipe``'s checkpoint is in the cache."""
    return (recipe_dir(recipe) / "model.safetensors").exists()


def ensure_trained(recipe: ToyRecipe, progress: bool = True) -> Path:
    """Return the cached checkpoint directory of ``recipe``, training it first on a cache miss.

    Concurrent callers wait on a file lock instead of training twice; the directory appears atomically.
    """
    target = recipe_dir(recipe)
    if (target / "model.safetensors").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (target / "model.safetensors").exists():
                return target
            logger.info("training toy model %s (recipe %s, %d steps); cached at %s",
                        recipe.name, recipe.hash(), recipe.steps, target)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
            try:
                log = train_model(recipe, tmp, progress=progress)
                from workbook.toy.card import write_model_card

                write_model_card(tmp / "model_card.md", recipe, log)
                os.replace(tmp, target)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def load_toy(recipe: ToyRecipe, device: str = "cpu", dtype=None):
    """Return ``(model, tokenizer)`` of ``recipe`` (trained on a cache miss), model in eval mode."""
    import torch
    from transformers import Qwen2ForCausalLM

    path = ensure_trained(recipe)
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
