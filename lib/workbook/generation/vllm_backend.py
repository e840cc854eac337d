"""vLLM backend (GPU): same interface as TransformersBackend; vllm is imported only when one is constructed.

Spec: ``shared/specs/scale.md`` ("Evaluation with vLLM"). Logprobs are vLLM's default raw logprobs of the sampled
token (``logprobs=1`` always includes the sampled token), i.e. the same quantity as the transformers backend.
vLLM sampling is not bit-reproducible across batch compositions: report means with CIs over seeds and problems.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from workbook.generation.hf import sample_seed

logger = logging.getLogger(__name__)


class VLLMBackend:
    """Generation through ``vllm.LLM``; ``score`` runs a teacher-forced transformers pass (full distributions)."""

    def __init__(self, model_name: str, seed: int = 0, gpu_memory_utilization: float = 0.85,
                 max_model_len: int | None = None, dtype: str = "auto", **llm_kwargs):
        from workbook.models import get_preset, model_path

        preset = get_preset(model_name)
        try:
            import vllm
        except ImportError as err:
            raise ImportError(
                "the vLLM backend needs vllm (a GPU machine): pip install -r env/gpu.txt, "
                "or use backend='transformers'") from err
        self.model_name = model_name
        self._vllm = vllm
        source = preset.hub_id if preset.kind == "hub" else str(model_path(model_name))
        kwargs = dict(model=source, trust_remote_code=False, seed=seed, dtype=dtype,
                      gpu_memory_utilization=gpu_memory_utilization, **llm_kwargs)
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._scorer = None

    def sampling_params(self, n: int, temperature: float, top_p: float, max_new_tokens: int, seed: int) -> Any:
        """Return one vllm.SamplingParams (logprobs=1: the sampled token's raw logprob)."""
        return self._vllm.SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                                         logprobs=1, seed=seed)

    def generate(self, prompts: list[str], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int = 0) -> list[list[Any]]:
        """Return ``[prompt][sample]`` Completions; each prompt gets its own seed derived from ``seed``."""
        from workbook.generation import Completion, check_sampling_args

        check_sampling_args(prompts, n, temperature, top_p, max_new_tokens, seed)
        params = [self.sampling_params(n, temperature, top_p, max_new_tokens, sample_seed(seed, i, 0))
                  for i in range(len(prompts))]
        outputs = self.llm.generate(list(prompts), params)
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
                per_prompt.append(Completion(text=o.text, token_ids=ids, logprobs=logps, finish_reason=reason))
            result.append(per_prompt)
        return result

    def score(self, prompts: list[str], completions: Sequence[Any]) -> list[dict]:
        """Return per completion {"token_ids", "logprobs", "entropies", "self_certainty"} (teacher-forced).

        vLLM returns only top-k logprobs, so entropies need the full distribution: a transformers copy of the
        model is loaded on the GPU on first use (costs its memory; lower gpu_memory_utilization accordingly).
        """
        if self._scorer is None:
            from workbook.generation.hf import TransformersBackend
            from workbook.models import load_model

            model, tok = load_model(self.model_name, device="cuda")
            self._scorer = TransformersBackend(model, tok, batch_size=8)
        return self._scorer.score(prompts, completions)
