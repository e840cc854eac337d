"""One generation interface with two backends: transformers (CPU, fallback) and vLLM (GPU).

Self-certainty (Kang et al. 2025, arXiv 2502.18581) needs the full next-token distribution, hence ``score``'s
teacher-forced pass. Prompts are built here and only here: ``MATH_INSTRUCTION`` is Qwen2.5-Math's chain-of-thought
instruction, which the papers' math evaluations append to the question; ``build_prompt``, ``build_prompts`` and
``prompt_fn`` are the one way to use it.

``generate(prompts, n, temperature, top_p, max_new_tokens, seed)`` returns ``[prompt][sample]`` Completions.
Each Completion's ``logprobs`` are the model's *raw* log-probabilities of the sampled tokens: log-softmax of the
unscaled logits, before temperature and top-p (vLLM's default ``logprobs_mode="raw_logprobs"``). They therefore
equal ``score()``'s teacher-forced logprobs at any temperature, and are the ``old_logp`` an RL step needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
FINISH_REASONS = ("stop", "length")


@dataclass
class Completion:
    """One sampled continuation: decoded text, token ids, raw per-token logprobs and why it ended.

    ``token_ids`` include the stop token when ``finish_reason == "stop"`` (its logprob matters for RL);
    ``text`` is decoded without special tokens.
    """

    text: str
    token_ids: list[int]
    logprobs: list[float] = field(default_factory=list)
    finish_reason: str = "length"  # "stop" | "length"


def build_prompt(tokenizer, question: str, instruction: str = MATH_INSTRUCTION, system: str | None = None) -> str:
    """Return the chat-formatted prompt for ``"{question} {instruction}"`` (add_generation_prompt=True).

    ``system=None`` keeps the template's default system prompt. A tokenizer without a chat template (some base
    models) gets the plain text ``"{question} {instruction}\\n"``.
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    content = f"{question} {instruction}".strip() if instruction else question
    if getattr(tokenizer, "chat_template", None) is None:
        return content + "\n"
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": content}
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def build_prompts(tokenizer, questions: list[str], instruction: str = MATH_INSTRUCTION,
                  system: str | None = None) -> list[str]:
    """Return ``build_prompt`` for each question (the list form RL rollouts and evaluations use)."""
    return [build_prompt(tokenizer, q, instruction, system) for q in questions]


def prompt_fn(tokenizer, instruction: str = MATH_INSTRUCTION, system: str | None = None) -> Callable[[Any], str]:
    """Return ``f(problem) -> prompt`` for ``workbook.evaluation.sample_and_grade``.

    ``problem`` is a ``workbook.data.Problem`` (or a dict with key ``problem``, or a plain question str).
    """
    def build(problem: Any) -> str:
        if isinstance(problem, str):
            question = problem
        elif isinstance(problem, dict):
            question = problem["problem"]
        else:
            question = problem.problem
        return build_prompt(tokenizer, question, instruction, system)

    return build


def check_sampling_args(prompts, n: int, temperature: float, top_p: float, max_new_tokens: int, seed: int) -> None:
    """Raise one clear ValueError/TypeError for bad generate() arguments, before any model work."""
    if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)):
        raise TypeError("prompts must be a list of str (wrap a single prompt in a list)")
    if not all(isinstance(p, str) for p in prompts):
        raise TypeError("every prompt must be a str")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")


from workbook.generation.hf import TransformersBackend  # noqa: E402
from workbook.generation.vllm_backend import VLLMBackend  # noqa: E402

BACKENDS = ("transformers", "vllm")


def make_backend(model_name: str, backend: str = "transformers", **kw) -> TransformersBackend | VLLMBackend:
    """Return a backend for preset ``model_name``: "transformers" (kw: device, dtype, batch_size) or "vllm".

    The model name and backend are checked before anything loads.
    """
    from workbook.models import get_preset, load_model

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    get_preset(model_name)
    if backend == "vllm":
        return VLLMBackend(model_name, **kw)
    device = kw.pop("device", "cpu")
    dtype = kw.pop("dtype", None)
    model, tokenizer = load_model(model_name, device=device, dtype=dtype)
    return TransformersBackend(model, tokenizer, **kw)


__all__ = [
    "BACKENDS", "Completion", "FINISH_REASONS", "MATH_INSTRUCTION", "TransformersBackend", "VLLMBackend",
    "build_prompt", "build_prompts", "check_sampling_args", "make_backend", "prompt_fn",
]
