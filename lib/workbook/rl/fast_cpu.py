"""CPU speed-ups of the TRL trainer that compute what TRL's own path computes, with less overhead.

Two of TRL 1.16 ``GRPOTrainer``'s private hooks, overridden by ``FastCPUHooks`` (a mixin of
``workbook.rl.trainer.RLTrainer``) when ``fast_cpu_ok`` says the run qualifies (``RLConfig.fast_cpu``, on by
default): ``_generate_single_turn`` samples with the static-cache decoder
(``workbook.generation.static_decode.sample_token_ids``: the same temperature/top-p distribution, other random
draws) and ``_get_per_token_logps_and_entropies`` scores length-sorted chunks without all-padding columns (the same
log-probs and gradients up to float rounding). Anything else falls through to TRL's own path. Measured in
``results/benchmarks/toy_reasoner.md``.
"""

from __future__ import annotations

import torch

__all__ = ["FastCPUHooks", "fast_cpu_ok", "SCORE_CHUNK_ROWS"]


class FastCPUHooks:
    """Mixin placed before ``GRPOTrainer``: its two hooks run when ``self.fast_cpu`` is set, else TRL's."""

    fast_cpu: bool = False

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs):
        """TRL's sampler hook: on CPU, plain sampling runs on the static-cache decoder (about 4x fewer CPU-seconds
        than ``model.generate`` for the toy); anything else is TRL's own path."""
        if not self.fast_cpu or images is not None and any(x is not None for x in images) or multimodal_fields:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 *args, **kwargs)
        from trl.extras.profiling import profiling_context

        from workbook.generation.static_decode import sample_token_ids

        g = self.generation_config
        with profiling_context(self, "transformers.generate"):
            ids = sample_token_ids(self.accelerator.unwrap_model(self.model), [list(p) for p in prompt_ids],
                                   g.max_new_tokens, list(self.eos_token_ids), self._tokenizer.pad_token_id,
                                   temperature=g.temperature, top_p=g.top_p)
        return ids, None

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **kwargs):
        """TRL's scorer, run on length-sorted chunks of rows with the all-padding columns cut off.

        TRL pads every completion to the longest one of the batch; with a few long completions most scored
        columns are padding. Masked positions come back as 0 exactly as TRL's fused head returns them, so the
        loss and its gradient are those of the padded batch (rotary attention is shift-invariant, so cutting
        common left padding leaves every real token's log-prob unchanged up to float rounding).
        """
        if not self.fast_cpu or compute_aux_loss or any(v is not None for v in kwargs.values()):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss,
                **kwargs)
        rows, cols = attention_mask.shape
        chunk = min(batch_size or rows, SCORE_CHUNK_ROWS)
        real = attention_mask.bool()
        first = torch.where(real.any(1), real.int().argmax(1), torch.zeros_like(real[:, 0], dtype=torch.long))
        last = cols - real.flip(1).int().argmax(1)  # one past the last real column
        order = torch.argsort(last - first, stable=True)
        prompt_end = cols - logits_to_keep
        logps, ents = [], []
        for s in range(0, rows, chunk):
            idx = order[s : s + chunk]
            lo = int(first[idx].min())
            hi = max(int(last[idx].max()), prompt_end + 1)  # keep at least one completion column
            lp, ent, _ = super()._get_per_token_logps_and_entropies(
                model, input_ids[idx, lo:hi], attention_mask[idx, lo:hi], hi - prompt_end,
                compute_entropy=compute_entropy)
            pad = cols - hi
            logps.append(torch.nn.functional.pad(lp, (0, pad)))
            if compute_entropy:
                ents.append(torch.nn.functional.pad(ent, (0, pad)))
        inverse = torch.argsort(order)
        logp = torch.cat(logps)[inverse]
        entropy = torch.cat(ents)[inverse] if compute_entropy else None
        return logp, entropy, None


SCORE_CHUNK_ROWS = 16  # rows per scoring chunk on CPU (16 measured a little faster than 8, 32 and 64 for 16 x 8)


def fast_cpu_ok(trainer) -> bool:
    """Returns whether the CPU speed-ups compute what TRL's own path computes: float32 Llama/Qwen2 on CPU,
    transformers sampling with only temperature and top_p (no top-k, min-p or repetition penalty), no dropout."""
    from workbook.generation import static_decode

    # TRL builds ``generation_config`` only for its transformers path: with vLLM (the paper profile) there is none.
    if trainer.use_vllm or getattr(trainer, "use_transformers_continuous_batching", False):
        return False
    model = trainer.accelerator.unwrap_model(trainer.model)
    g, cfg, args = trainer.generation_config, model.config, trainer.args
    return (
        trainer.accelerator.device.type == "cpu" and next(model.parameters()).dtype == torch.float32
        and not (args.bf16 or args.fp16) and static_decode.supports(model)
        and getattr(cfg, "attention_dropout", 0.0) == 0.0 and g.do_sample and (g.top_k or 0) == 0
        and g.min_p is None and (g.repetition_penalty or 1.0) == 1.0 and not args.generation_kwargs
        and not getattr(trainer, "_is_vlm", False) and not getattr(trainer, "tools", None)
    )
