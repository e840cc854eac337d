"""Transformers backend: batched, KV-cached sampling with per-sample seeds, and a teacher-forced scorer.

We run our own decode loop rather than ``model.generate`` so that (1) each (prompt, sample) draws its uniforms
from its own stream seeded by ``(seed, prompt index, sample index)``: the samples do not depend on batch size or
on which other prompts share the batch; (2) a prompt is prefilled once and its KV cache copied to its n samples;
(3) finished rows leave the batch. On CPU, float32 Llama/Qwen2 models decode through
:mod:`workbook.generation.static_decode` (a preallocated cache, no per-step ``transformers`` overhead); both paths
draw the same tokens from the same logits (``tests/test_toy_fast_decode.py``).
"""

from __future__ import annotations

import inspect
import logging
import math
from typing import Any, Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)


def sample_seed(seed: int, prompt_index: int, sample_index: int) -> int:
    """Return the generator seed of one (prompt, sample): independent streams from one user seed."""
    return int(np.random.SeedSequence([seed, prompt_index, sample_index]).generate_state(1)[0])


def row_uniforms(chunk: Sequence[tuple[int, int]], seed: int, steps: int) -> torch.Tensor:
    """Return the uniforms (rows, steps) float64 that drive sampling: row r = (prompt i, sample j) reads its own
    PCG64 stream seeded by :func:`sample_seed`, so a sample never depends on the batch it shares."""
    return torch.from_numpy(np.stack([np.random.default_rng(sample_seed(seed, i, j)).random(steps)
                                      for i, j in chunk]))


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Return probs (batch, vocab) with everything outside the nucleus zeroed (Holtzman et al. 2020).

    Keeps the smallest set of most likely tokens whose mass reaches ``top_p`` (always at least one token).
    """
    if top_p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs)


def inverse_cdf_sample(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Return one token per row of probs (batch, vocab), given one uniform u (batch,) in [0, 1) per row.

    One uniform per row (from that row's own generator) keeps sampling independent of the batch; the batched
    cumsum + searchsorted is far cheaper than one ``torch.multinomial`` call per row. Zero-probability tokens
    are never chosen: the first index whose CDF exceeds u * total has positive mass.
    """
    cdf = probs.float().cumsum(dim=-1)
    total = cdf[:, -1]
    # u * total rounds up to total when u is within float32 epsilon of 1: stay strictly below the total mass
    target = torch.minimum(u.to(cdf.dtype) * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, target.unsqueeze(-1), right=True).squeeze(-1)


def token_stats(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (logp, entropy, self_certainty) per position from raw logits (T, V) and target ids (T,).

    self_certainty = KL(Uniform || p) = logsumexp(z) - mean(z) - log V (Kang et al. 2025, arXiv 2502.18581).
    """
    logp_all = torch.log_softmax(logits.float(), dim=-1)
    logp = logp_all.gather(-1, targets[:, None]).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    self_certainty = -logp_all.mean(-1) - math.log(logits.shape[-1])
    return logp, entropy, self_certainty


class TransformersBackend:
    """Generation and scoring with a loaded transformers causal LM (any device)."""

    def __init__(self, model, tokenizer, batch_size: int = 256, score_max_logit_bytes: int = 2**29,
                 fast: bool | None = None):
        """``fast``: decode with :class:`~workbook.generation.static_decode.StaticDecoder` (None: whenever the
        model is a float32 Llama/Qwen2 on CPU, where it is 3-6x faster; False: always ``model.forward``)."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.score_max_logit_bytes = score_max_logit_bytes
        self.device = next(model.parameters()).device
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.eos_token_ids = self._eos_ids()
        # transformers renamed forward(past_key_values=) to forward(cache=) in 5.2x; GPU stacks pin older versions
        params = inspect.signature(model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"
        from workbook.generation import static_decode

        if fast is None:
            fast = (self.device.type == "cpu" and next(model.parameters()).dtype == torch.float32
                    and static_decode.supports(model))
        elif fast and not static_decode.supports(model):
            raise ValueError(f"fast=True needs a Llama/Qwen2 model, got {type(model).__name__}")
        self.fast = bool(fast)

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif source is not None:
                ids.update(int(i) for i in source)
        if not ids:
            raise ValueError("the tokenizer and the model's generation_config define no eos token")
        return ids

    def encode_prompt(self, prompt: str) -> list[int]:
        """Return the prompt's token ids (no second BOS when the chat template already wrote one)."""
        bos = self.tokenizer.bos_token
        add_special = not (bos and prompt.startswith(bos))
        ids = list(self.tokenizer(prompt, add_special_tokens=add_special).input_ids)
        if not ids:
            raise ValueError("a prompt encodes to zero tokens; give every prompt some text")
        return ids

    # ---------------------------------------------------------------- generation
    def generate(self, prompts: list[str], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int = 0) -> list[list[Any]]:
        """Return ``[prompt][sample]`` Completions; ``temperature=0`` decodes greedily (n identical copies)."""
        from workbook.generation import Completion, check_sampling_args

        check_sampling_args(prompts, n, temperature, top_p, max_new_tokens, seed)
        greedy = temperature == 0
        n_run = 1 if greedy else n
        encoded = [self.encode_prompt(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))  # similar lengths share a batch
        rows = [(i, j) for i in order for j in range(n_run)]
        out: list[list[Any]] = [[None] * n for _ in prompts]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            run = self._generate_chunk_fast if self.fast else self._generate_chunk
            for (i, j), (ids, logps, reason) in zip(
                    chunk, run(encoded, chunk, greedy, temperature, top_p, max_new_tokens, seed)):
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                out[i][j] = Completion(text=text, token_ids=ids, logprobs=logps, finish_reason=reason)
        if greedy:
            for per_prompt in out:
                for j in range(1, n):
                    c = per_prompt[0]
                    per_prompt[j] = Completion(c.text, list(c.token_ids), list(c.logprobs), c.finish_reason)
        return out

    def _forward(self, cache, **kw):
        kw[self._cache_kwarg] = cache
        try:
            return self.model(**kw, logits_to_keep=1)
        except TypeError:  # architectures without logits_to_keep
            return self.model(**kw)

    @torch.inference_mode()
    def _generate_chunk(self, encoded, chunk, greedy, temperature, top_p, max_new_tokens, seed):
        """Return (token_ids, logprobs, finish_reason) per row of ``chunk`` = [(prompt index, sample index)]."""
        from transformers import DynamicCache

        dev = self.device
        ids, mask, expand = self._prompt_batch(encoded, chunk)
        width = ids.shape[1]
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        try:
            cache = DynamicCache(config=self.model.config)
        except TypeError:  # older transformers
            cache = DynamicCache()
        res = self._forward(cache, input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
        if cache.get_seq_length() != width:  # never decode silently without the prompt in the cache
            raise RuntimeError(f"the model did not fill the KV cache passed as {self._cache_kwarg}=")
        # Prefill each prompt once, then copy its cache to its samples.
        cache.batch_select_indices(expand)  # the cache was filled in place
        logits = res.logits[:, -1, :][expand]
        mask = mask[expand]
        next_pos = pos[expand, -1] + 1
        uniforms = None if greedy else row_uniforms(chunk, seed, max_new_tokens).to(dev)
        tokens: list[list[int]] = [[] for _ in chunk]
        logps: list[list[float]] = [[] for _ in chunk]
        reasons = ["length"] * len(chunk)
        alive = list(range(len(chunk)))  # chunk rows still in the batch, in batch order
        for step in range(max_new_tokens):
            logits = logits.float()
            logp_all = torch.log_softmax(logits, dim=-1)
            if greedy:
                chosen = logits.argmax(-1)
            else:
                probs = top_p_filter(torch.softmax(logits / temperature, dim=-1), top_p)
                chosen = inverse_cdf_sample(probs, uniforms[alive, step])
            chosen_logp = logp_all.gather(-1, chosen[:, None]).squeeze(-1).tolist()
            keep = []
            for b, (r, tok) in enumerate(zip(alive, chosen.tolist())):
                tokens[r].append(tok)
                logps[r].append(chosen_logp[b])
                if tok in self.eos_token_ids:
                    reasons[r] = "stop"
                else:
                    keep.append(b)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(alive):
                sel = torch.tensor(keep, device=dev)
                cache.batch_select_indices(sel)
                chosen, mask, next_pos = chosen[sel], mask[sel], next_pos[sel]
                alive = [alive[b] for b in keep]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=-1)
            res = self._forward(cache, input_ids=chosen[:, None], attention_mask=mask,
                                position_ids=next_pos[:, None], use_cache=True)
            logits = res.logits[:, -1, :]
            next_pos = next_pos + 1
        return [(tokens[r], logps[r], reasons[r]) for r in range(len(chunk))]

    def _prompt_batch(self, encoded, chunk):
        """Return (unique prompt indices, their left-padded ids and mask (P, W), chunk row -> prompt row)."""
        unique = list(dict.fromkeys(i for i, _ in chunk))
        slot = {p: k for k, p in enumerate(unique)}
        width = max(len(encoded[p]) for p in unique)
        ids = torch.full((len(unique), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(unique), width), dtype=torch.long)
        for k, p in enumerate(unique):  # left padding: every prompt ends at the last column
            ids[k, width - len(encoded[p]):] = torch.tensor(encoded[p])
            mask[k, width - len(encoded[p]):] = 1
        expand = torch.tensor([slot[i] for i, _ in chunk], device=self.device)
        return ids.to(self.device), mask.to(self.device), expand

    @torch.inference_mode()
    def _generate_chunk_fast(self, encoded, chunk, greedy, temperature, top_p, max_new_tokens, seed):
        """Like :meth:`_generate_chunk`, on the StaticDecoder and its shared loop
        (:func:`~workbook.generation.static_decode.decode`)."""
        from workbook.generation.static_decode import StaticDecoder, decode

        dev = self.device
        ids, mask, expand = self._prompt_batch(encoded, chunk)
        dec = StaticDecoder(self.model)
        logits = dec.prefill(ids, mask, capacity=ids.shape[1] + max_new_tokens)[expand]
        dec.select(expand)  # prefill each prompt once, then copy its cache to its samples
        uniforms = None if greedy else row_uniforms(chunk, seed, max_new_tokens).to(dev)
        toks, lps, lens, stop = decode(dec, logits, max_new_tokens=max_new_tokens, eos_token_ids=self.eos_token_ids,
                                       temperature=temperature, top_p=top_p, uniforms=uniforms, with_logprobs=True)
        n_rows = len(chunk)
        return [(toks[r][:lens[r]], lps[r][:lens[r]], "stop" if stop[r] else "length") for r in range(n_rows)]

    # ---------------------------------------------------------------- scoring
    @torch.inference_mode()
    def score(self, prompts: list[str], completions: Sequence[Any]) -> list[dict]:
        """Return per completion {"token_ids", "logprobs", "entropies", "self_certainty"} (numpy, shape (tokens,)).

        Teacher-forced: one forward pass over prompt + completion, in chunks of rows bounded by
        ``score_max_logit_bytes`` of float32 logits. A completion may be a str (tokenized without special tokens),
        a list of token ids, or a Completion (its token ids are used). Entropy is of the raw (T=1) distribution;
        self-certainty is KL(Uniform || p) per token (Kang et al. 2025, arXiv 2502.18581).
        """
        if isinstance(prompts, str) or len(prompts) != len(completions):
            raise ValueError("score() needs two lists of equal length: prompts and completions")
        seqs = []
        for prompt, comp in zip(prompts, completions):
            if hasattr(comp, "token_ids"):
                comp_ids = list(comp.token_ids)
            elif isinstance(comp, str):
                comp_ids = list(self.tokenizer(comp, add_special_tokens=False).input_ids)
            else:
                comp_ids = [int(t) for t in comp]
            seqs.append((self.encode_prompt(prompt), comp_ids))
        results: list[dict | None] = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda k: len(seqs[k][0]) + len(seqs[k][1]))
        head = self.model.get_output_embeddings()
        vocab = head.weight.shape[0] if head is not None else self.model.config.vocab_size
        start = 0
        while start < len(order):
            longest = len(seqs[order[start]][0]) + len(seqs[order[start]][1])
            rows = [order[start]]
            # grow the chunk while the float32 logits of the padded chunk stay under the budget
            while start + len(rows) < len(order) and len(rows) < self.batch_size:
                nxt = order[start + len(rows)]
                width = max(longest, len(seqs[nxt][0]) + len(seqs[nxt][1]))
                if (len(rows) + 1) * width * vocab * 4 > self.score_max_logit_bytes:
                    break
                rows.append(nxt)
                longest = width
            self._score_chunk(seqs, rows, results)
            start += len(rows)
        return results  # type: ignore[return-value]

    def _score_chunk(self, seqs, rows, results) -> None:
        dev = self.device
        width = max(len(seqs[k][0]) + len(seqs[k][1]) for k in rows)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, k in enumerate(rows):  # right padding: positions start at 0 for every row
            full = seqs[k][0] + seqs[k][1]
            ids[b, :len(full)] = torch.tensor(full)
            mask[b, :len(full)] = 1
        logits = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).logits
        for b, k in enumerate(rows):
            n_prompt, comp = len(seqs[k][0]), seqs[k][1]
            if not comp:
                empty = np.zeros(0, dtype=np.float64)
                results[k] = {"token_ids": np.zeros(0, dtype=np.int64), "logprobs": empty,
                              "entropies": empty.copy(), "self_certainty": empty.copy()}
                continue
            target = torch.tensor(comp, device=dev)
            logp, ent, sc = token_stats(logits[b, n_prompt - 1:n_prompt - 1 + len(comp)], target)
            results[k] = {"token_ids": np.asarray(comp, dtype=np.int64),
                          "logprobs": logp.double().cpu().numpy(),
                          "entropies": ent.double().cpu().numpy(),
                          "self_certainty": sc.double().cpu().numpy()}
