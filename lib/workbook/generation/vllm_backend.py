"""vLLM backend (GPU): same interface as TransformersBackend; vllm is imported only when one is constructed.

Logprobs are vLLM's default raw logprobs of the sampled
token (``logprobs=1`` always includes the sampled token), i.e. the same quantity as the transformers backend.
vLLM sampling is not bit-reproducible across batch compositions: report means with CIs over seeds and problems.
"""

from __future__ import annotations

import logging
import json
import os
from pathlib import Path
from typing import Any, Sequence

from workbook.generation.hf import sample_seed

logger = logging.getLogger(__name__)


class VLLMBackend:
    """Generation through ``vllm.LLM``; ``score`` runs a teacher-forced transformers pass (full distributions).

    ``model`` is a preset name or a local checkpoint directory (a saved RL policy: config, weights, tokenizer).
    Prompts are encoded with the project's own tokenizer (the one ``TransformersBackend`` uses) and passed as
    ``prompt_token_ids``; completions are decoded with it too. vLLM's AutoTokenizer turns the toy's character
    tokenizer into a byte-level Qwen2Tokenizer that drops spaces and newlines, and the two backends must see the
    same ids anyway. Stop tokens are the tokenizer's and generation_config's EOS ids, passed explicitly.
    """

    def __init__(self, model_name: str | Path, seed: int = 0, gpu_memory_utilization: float = 0.85,
                 max_model_len: int | None = None, dtype: str = "auto", **llm_kwargs):
        source, self._preset = _resolve_source(model_name)  # unknown name / missing folder: fail before vllm
        try:
            import vllm
        except ImportError as err:
            raise ImportError(
                "the vLLM backend needs vllm: pip install -r env/gpu.txt (GPU) or make vllm-env (CPU), "
                "or use backend='transformers'") from err
        self.model_name = str(model_name)
        self.source = source
        self._vllm = vllm
        kwargs = dict(model=source, trust_remote_code=False, seed=seed, dtype=dtype,
                      gpu_memory_utilization=gpu_memory_utilization, **llm_kwargs)
        max_model_len = max_model_len if max_model_len is not None else max_model_len_override()
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
            kwargs.update(_position_overrides(source, max_model_len, kwargs.get("hf_overrides")))
        self.tokenizer = _load_tokenizer(source, self._preset)
        self.llm = vllm.LLM(**kwargs)
        self.stop_token_ids = sorted(_eos_ids(self.tokenizer, source))
        self._scorer = None

    def encode_prompt(self, prompt: str) -> list[int]:
        """Return the prompt's token ids exactly as ``TransformersBackend.encode_prompt`` (no second BOS)."""
        bos = self.tokenizer.bos_token
        ids = list(self.tokenizer(prompt, add_special_tokens=not (bos and prompt.startswith(bos))).input_ids)
        if not ids:
            raise ValueError("a prompt encodes to zero tokens; give every prompt some text")
        return ids

    def sampling_params(self, n: int, temperature: float, top_p: float, max_new_tokens: int, seed: int) -> Any:
        """Return one vllm.SamplingParams (logprobs=1: the sampled token's raw logprob)."""
        return self._vllm.SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                                         logprobs=1, seed=seed, stop_token_ids=self.stop_token_ids,
                                         ignore_eos=False, skip_special_tokens=True)

    def generate(self, prompts: list[str], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int = 0) -> list[list[Any]]:
        """Return ``[prompt][sample]`` Completions; each prompt gets its own seed derived from ``seed``."""
        from workbook.generation import Completion, check_sampling_args

        check_sampling_args(prompts, n, temperature, top_p, max_new_tokens, seed)
        # vLLM refuses n > 1 at temperature 0; greedy gives n identical copies, as TransformersBackend does
        n_run = 1 if temperature == 0 else n
        params = [self.sampling_params(n_run, temperature, top_p, max_new_tokens, sample_seed(seed, i, 0))
                  for i in range(len(prompts))]
        inputs = [{"prompt_token_ids": self.encode_prompt(p)} for p in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=False)
        result = []
        for request in outputs:
            per_prompt = []
            for o in request.outputs:
                ids = list(o.token_ids)
                logps = []
                for tok, entry in zip(ids, o.logprobs or []):
                    lp = entry[tok]
                    logps.append(float(getattr(lp, "logprob", lp)))
                reason = "stop" if o.finish_reason == "stop" else "length"
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                per_prompt.append(Completion(text=text, token_ids=ids, logprobs=logps, finish_reason=reason))
            while len(per_prompt) < n:
                c = per_prompt[0]
                per_prompt.append(Completion(c.text, list(c.token_ids), list(c.logprobs), c.finish_reason))
            result.append(per_prompt)
        return result

    def score(self, prompts: list[str], completions: Sequence[Any]) -> list[dict]:
        """Return per completion {"token_ids", "logprobs", "entropies", "self_certainty"} (teacher-forced).

        vLLM returns only top-k logprobs, so entropies need the full distribution: a transformers copy of the
        model is loaded on first use, on the GPU when there is one (costs its memory; lower
        gpu_memory_utilization accordingly), else on the CPU.
        """
        if self._scorer is None:
            import torch

            from workbook.generation.hf import TransformersBackend

            device = "cuda" if torch.cuda.is_available() else "cpu"
            if self._preset is not None:
                from workbook.models import load_model

                model, _ = load_model(self._preset, device=device)
            else:
                from transformers import AutoModelForCausalLM

                dtype = torch.float32 if device == "cpu" else torch.bfloat16
                model = AutoModelForCausalLM.from_pretrained(self.source, dtype=dtype).to(device)
            self._scorer = TransformersBackend(model, self.tokenizer, batch_size=8)
        return self._scorer.score(prompts, completions)


#: Environment variable that sets vLLM's context length where the caller passes none (VLLMBackend and TRL's
#: colocated engine, ``workbook.rl.trainer``). The rehearsal (docs/rehearsal.md) sets it, with vLLM's
#: ``VLLM_ALLOW_LONG_MAX_MODEL_LEN=1``: the smoke toy was trained on 256 positions but the paper's prompts are longer
#: (up to ~1000 of its character tokens); RoPE computes any position, so the paper's code path runs, on meaningless
#: text past the trained length. Unset, vLLM takes the model's own ``max_position_embeddings``.
MAX_MODEL_LEN_ENV = "WORKBOOK_VLLM_MAX_MODEL_LEN"


def max_model_len_override() -> int | None:
    """Return ``$WORKBOOK_VLLM_MAX_MODEL_LEN`` as an int, or None when unset (ValueError when not a positive int)."""
    raw = os.environ.get(MAX_MODEL_LEN_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{MAX_MODEL_LEN_ENV} must be a positive int, got {raw!r}")
    return int(raw)


def _position_overrides(source: str, max_model_len: int, hf_overrides: dict | None) -> dict:
    """Return ``{"hf_overrides": ...}`` raising the config's ``max_position_embeddings`` to ``max_model_len`` when
    it is smaller, else ``{}``. vLLM sizes its RoPE cos/sin cache by that field: a longer context alone (allowed by
    ``VLLM_ALLOW_LONG_MAX_MODEL_LEN``) reads past the cache and kills the process without a Python error."""
    try:
        known = json.loads((Path(source) / "config.json").read_text()).get("max_position_embeddings")
    except (OSError, ValueError):
        return {}  # a hub id: vLLM reads the config itself; its positions are the paper model's own
    if not isinstance(known, int) or known >= max_model_len:
        return {}
    return {"hf_overrides": {**(hf_overrides or {}), "max_position_embeddings": int(max_model_len)}}


def prepare_cpu_colocate() -> bool:
    """Adapt vLLM on the CPU platform to TRL's colocate mode (the CPU rehearsal, docs/rehearsal.md); return whether
    anything was changed (never on a GPU, where neither problem exists). Must run before TRL builds its engine, in
    the engine's process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, as the rehearsal sets).

    1. vLLM 0.31 on CPU prepacks every linear layer's weight into a oneDNN (or AMX) handle after loading and replaces
       the Parameter with an empty one (``dispatch_cpu_unquantized_gemm(remove_weight=True)``). TRL pushes the policy
       into the engine after every step through the layers' ``weight_loader`` (``VLLMGeneration.sync_weights``),
       which then fails (``'Parameter' object has no attribute 'weight_loader'``), and a prepacked copy (the tied
       lm_head's) would go stale. Here every CPU linear layer computes ``F.linear`` on its own Parameter, as on CUDA
       (slower kernels; correct weights).
    2. TRL builds ``vllm.LLM`` itself, with no ``hf_overrides``: with ``$WORKBOOK_VLLM_MAX_MODEL_LEN`` above the
       model's positions, its engine gets the same RoPE-cache override as :class:`VLLMBackend`.
    """
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return False
    import torch
    import trl.generation.vllm_generation as trl_vllm
    import vllm.model_executor.layers.utils as layer_utils

    def plain_linear(layer, remove_weight: bool) -> None:
        layer.cpu_linear = lambda x, weight, bias: torch.nn.functional.linear(x, weight, bias)

    layer_utils.dispatch_cpu_unquantized_gemm = plain_linear  # both layer types import it when they finish loading
    base_llm = getattr(trl_vllm.LLM, "_workbook_base", trl_vllm.LLM)

    def llm(*args, **kwargs):
        limit = kwargs.get("max_model_len")
        if limit and "model" in kwargs:
            kwargs.update(_position_overrides(str(kwargs["model"]), int(limit), kwargs.get("hf_overrides")))
        return base_llm(*args, **kwargs)

    llm._workbook_base = base_llm
    trl_vllm.LLM = llm
    return True


def _resolve_source(model: str | Path) -> tuple[str, str | None]:
    """Return ``(what vllm.LLM loads, preset name or None)`` for a preset name or a checkpoint directory."""
    from workbook.models import PRESETS, get_preset, model_path

    if isinstance(model, str) and model in PRESETS:
        preset = get_preset(model)
        return (preset.hub_id if preset.kind == "hub" else str(model_path(model))), model
    path = Path(model).expanduser()
    if not (path / "config.json").is_file():
        get_preset(str(model))  # a name that is neither a preset nor a checkpoint: the error lists the presets
        raise FileNotFoundError(f"{path} is not a checkpoint directory (no config.json)")
    return str(path.resolve()), None


def _load_tokenizer(source: str, preset: str | None):
    """Return the tokenizer ``TransformersBackend`` would use for ``source`` (padding on the left)."""
    from workbook.models import get_preset

    if preset is not None and get_preset(preset).kind == "hub":
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    else:  # a local folder: toy, tiny-random, gguf presets and saved checkpoints
        tok = _checkpoint_tokenizer(Path(source))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def _checkpoint_tokenizer(path: Path):
    """Return the tokenizer saved with a checkpoint; a toy checkpoint (its ``tokenizers`` backend, no byte-level
    vocabulary files) loads as ``PreTrainedTokenizerFast``, as ``workbook.toy.tokenizer.load_tokenizer`` does."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        cls = json.loads((path / "tokenizer_config.json").read_text()).get("tokenizer_class")
    except (OSError, ValueError):
        cls = None
    if cls in ("TokenizersBackend", "PreTrainedTokenizerFast") and not (path / "vocab.json").exists():
        from workbook.toy.tokenizer import load_tokenizer

        return load_tokenizer(path)
    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)


def _eos_ids(tokenizer, source: str) -> set[int]:
    """Return the stop ids: the tokenizer's EOS and generation_config.json's ``eos_token_id`` (int or list)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    try:
        eos = json.loads((Path(source) / "generation_config.json").read_text()).get("eos_token_id")
    except (OSError, ValueError):
        eos = None
    ids.update([eos] if isinstance(eos, int) else list(eos or []))
    return {int(i) for i in ids}
