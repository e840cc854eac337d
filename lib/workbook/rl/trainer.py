"""TRL adapter: one GRPOTrainer subclass that runs any registered RLVR method (pinned to TRL 1.16.0).

Overrides three private hooks of TRL 1.16's ``GRPOTrainer``: ``_calculate_rewards`` (cache the gathered rewards,
log accuracy), ``_generate_and_score_completions`` (the method's advantages; Lp-Reg's proxy log-probs from pi_old,
as the official ``fsdp_workers.compute_minp_log_prob``) and ``_compute_loss`` (the method's per-token loss from
``workbook.rl.objectives``, as verl's ``dp_actor.update_policy``). Generation: vLLM colocate on GPU
(``RLConfig.generation_backend``); on CPU, TRL's transformers path, where two hooks cut overhead without changing
what a run computes (``RLConfig.fast_cpu``, on by default; ``workbook.rl.fast_cpu.FastCPUHooks``). Measured in
``results/benchmarks/toy_reasoner.md``.
Periodic held-out evaluation is a probe (``workbook.rl.probes.EvalProbe``).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import trl
from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOConfig, GRPOTrainer

from workbook.generation import MATH_INSTRUCTION
from workbook.rl.fast_cpu import FastCPUHooks, fast_cpu_ok
from workbook.rl import objectives as obj
from workbook.rl.methods import Method, get_method

__all__ = ["RLConfig", "RLTrainer", "build_trainer", "train", "make_grpo_config", "correctness_reward", "JsonlLogger"]

log = logging.getLogger(__name__)

TRL_VERSION = "1.16.0"
if trl.__version__ != TRL_VERSION:  # the overridden private hooks move between TRL versions
    log.warning("workbook.rl.trainer is tested against TRL %s; found %s", TRL_VERSION, trl.__version__)

RewardFn = Callable[[list[str], list[str], list[list[int]]], list[float]]


@dataclass
class RLConfig:
    """Run settings shared by all methods (the method's own defaults live in ``workbook.rl.methods``).

    prompts_per_step x num_generations completions make one optimizer update; a rollout batch holds
    ``method.updates_per_rollout`` updates' worth. micro_batch_size completions go through one forward/backward.
    """

    max_steps: int = 2
    prompts_per_step: int = 2
    num_generations: int | None = None  # None: the method's (8)
    micro_batch_size: int | None = None  # None: a whole update in one micro-batch
    max_completion_length: int = 64
    learning_rate: float | None = None  # None: the method's (1e-6)
    generation_backend: str = "transformers"  # "transformers" (CPU) | "vllm" (GPU, colocate)
    vllm_gpu_memory_utilization: float = 0.3
    save_steps: int = 0  # 0: no checkpoints
    save_total_limit: int | None = 2
    eval_steps: int = 0  # 0: no periodic evaluation
    eval_n: int = 4
    eval_temperature: float | None = None  # None: the method's rollout temperature
    eval_max_new_tokens: int | None = None
    instruction: str = MATH_INSTRUCTION
    system: str | None = None  # a system line for the chat template (None: the template's default)
    grading_mode: str = "strict"
    seed: int = 0
    bf16: bool = False
    gradient_checkpointing: bool = False
    # CPU speed-ups that compute the same run: sample with the static-cache decoder instead of ``model.generate``
    # (the same distribution, other random draws) and score rows in length-sorted chunks without padding columns
    fast_cpu: bool = True
    method_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.generation_backend not in ("transformers", "vllm"):
            raise ValueError(f"generation_backend must be 'transformers' or 'vllm', got {self.generation_backend!r}")
        if self.max_steps < 1 or self.prompts_per_step < 1:
            raise ValueError("max_steps and prompts_per_step must be >= 1")


def make_grpo_config(method: Method, cfg: RLConfig, output_dir: str | Path) -> GRPOConfig:
    """Returns the GRPOConfig for ``method`` under ``cfg``: the method's pinned TRL overrides plus batch geometry."""
    n = cfg.num_generations or method.num_generations
    per_update = cfg.prompts_per_step * n
    micro = cfg.micro_batch_size or per_update
    if per_update % micro:
        raise ValueError(f"micro_batch_size {micro} must divide prompts_per_step*num_generations = {per_update}")
    grad_accum = per_update // micro
    if cfg.generation_backend == "vllm":
        try:
            import vllm  # noqa: F401
        except ImportError as e:
            raise ImportError("generation_backend='vllm' needs vLLM (GPU only): pip install 'trl[vllm]'") from e
        from workbook.generation.vllm_backend import prepare_cpu_colocate

        prepare_cpu_colocate()  # vLLM on CPU only (the rehearsal, docs/rehearsal.md); nothing on a GPU
    from workbook.generation.vllm_backend import max_model_len_override

    kw = method.trl_overrides()
    if cfg.learning_rate is not None:
        kw["learning_rate"] = cfg.learning_rate
    return GRPOConfig(
        output_dir=str(output_dir),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=grad_accum,
        steps_per_generation=grad_accum * method.updates_per_rollout,
        num_generations=n,
        max_completion_length=cfg.max_completion_length,
        use_vllm=cfg.generation_backend == "vllm",
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
        vllm_max_model_length=max_model_len_override(),  # None unless set (the CPU rehearsal: docs/rehearsal.md)
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=cfg.save_total_limit,
        logging_steps=1,
        report_to="none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cfg.bf16,
        gradient_checkpointing=cfg.gradient_checkpointing,
        disable_tqdm=True,
        shuffle_dataset=True,
        remove_unused_columns=False,
        log_completions=False,
        **kw,
    )


def correctness_reward(grader) -> RewardFn:
    """Returns a reward fn giving 1.0 when the completion's last \\boxed{} equals the gold answer, else 0.0."""

    def reward(completions: list[str], answers: list[str], completion_ids: list[list[int]]) -> list[float]:
        return [float(x) for x in grader.grade_many(list(completions), list(answers))]

    return reward


def _make_grader(mode: str):
    from workbook.grading import Grader  # imported lazily so the objectives never need it

    return Grader(mode=mode)


class RLTrainer(FastCPUHooks, GRPOTrainer):
    """GRPOTrainer running a registered ``Method``: its advantages, its loss, its metrics.

    Logged per step (beside TRL's own): ``reward``, ``accuracy`` (grader vs the ``answer`` column), ``entropy``,
    ``clip_ratio/{low,high,region}_mean``, ``kl`` (when kl_coef > 0), ``policy_loss``; for Lp-Reg
    ``lp_reg/n_regularized``, ``lp_reg/frac_regularized``, ``lp_reg/low_prob_mass`` (pi_old's mass below the min-p
    threshold, per token) and ``lp_reg/frac_sampled_low_prob`` (sampled tokens outside the proxy's support).
    """

    def __init__(self, *args, method: Method, accuracy_grader=None, fast_cpu: bool = False, **kwargs):
        self.method = method
        self.accuracy_grader = accuracy_grader
        self._cached_rewards: torch.Tensor | None = None
        super().__init__(*args, **kwargs)
        self.fast_cpu = fast_cpu and fast_cpu_ok(self)

    # ---- rewards and advantages -------------------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._cached_rewards = rewards_per_func
        if self.accuracy_grader is not None and "answer" in inputs[0]:
            texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
            correct = self.accuracy_grader.grade_many(texts, [x["answer"] for x in inputs])
            local = torch.tensor([float(sum(correct)), float(len(correct))], device=self.accelerator.device)
            total, count = self.accelerator.reduce(local, reduction="sum").tolist()
            mode = "train" if self.model.training else "eval"
            self._metrics[mode]["accuracy"].append(total / max(count, 1.0))
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        device = self.accelerator.device
        rewards = (self._cached_rewards * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
        n = self.num_generations if mode == "train" else self.num_generations_eval
        adv = self.method.advantages(rewards.float().cpu(), n).to(device)
        local = slice(self.accelerator.process_index * len(inputs), (self.accelerator.process_index + 1) * len(inputs))
        out["advantages"] = adv[local]
        self._metrics[mode]["advantage_abs_mean"].append(adv.abs().mean().item())
        if self.method.policy_loss == "lp_reg":
            out["proxy_logp"] = self._proxy_logp(out, mode)
        return out

    def _proxy_logp(self, out: dict, mode: str) -> torch.Tensor:
        """Returns log pi_proxy of the sampled tokens (B, T) from pi_old = the policy that generated them."""
        proxy, mass = self.proxy_logp_of(self.model, out, self.method)
        m = out["completion_mask"].float()
        self._metrics[mode]["lp_reg/low_prob_mass"].append(self._global_mean(mass, m))
        self._metrics[mode]["lp_reg/frac_sampled_low_prob"].append(self._global_mean((proxy < -1e3).float(), m))
        return proxy

    @torch.no_grad()
    def proxy_logp_of(self, model, out: dict, method: Method) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (log pi_proxy of the sampled tokens, the mass below kappa · max p), each (B, T), under ``model``
        (``method.params["kappa"]``): the official ``fsdp_workers.compute_minp_log_prob``; logs nothing."""
        kappa = float(method.params.get("kappa", 0.02))
        prompt_ids, completion_ids = out["prompt_ids"], out["completion_ids"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
        t = completion_ids.size(1)
        bs = self.args.per_device_train_batch_size
        proxies, masses = [], []
        for s in range(0, input_ids.size(0), bs):
            # The fused LM head only yields the sampled token's log-prob; the proxy needs the full distribution.
            logits = model(
                input_ids=input_ids[s : s + bs], attention_mask=attention_mask[s : s + bs], logits_to_keep=t + 1
            ).logits[:, :-1]
            proxies.append(obj.min_p_proxy_logp(logits, completion_ids[s : s + bs], kappa, self.temperature))
            masses.append(obj.low_prob_mass(logits, kappa, self.temperature))
        return torch.cat(proxies), torch.cat(masses)

    def _global_mean(self, x: torch.Tensor, mask: torch.Tensor) -> float:
        totals = self.accelerator.reduce(torch.stack([(x * mask).sum(), mask.sum()]).float(), reduction="sum")
        return (totals[0] / totals[1].clamp(min=1.0)).item()

    # ---- loss -------------------------------------------------------------------------------------------------
    def _compute_loss(self, model, inputs):
        m = self.method
        if self.model.training:
            self.last_update_inputs = inputs  # what `workbook.rl.counterfactual` replays before the optimizer step
        loss, aux = self.method_loss(model, inputs, m)
        per_token, is_low, is_high, entropy, kl, mask = (aux[k] for k in ("per_token", "is_low", "is_high", "entropy",
                                                                          "kl", "mask"))
        out, regularized = aux.get("lp_reg"), aux.get("regularized")
        completion_ids = inputs["completion_ids"]
        mode = "train" if self.model.training else "eval"
        if mode == "train":
            loss = loss / self.current_gradient_accumulation_steps

        mf = mask.float()
        metrics = self._metrics[mode]
        metrics["policy_loss"].append(self.accelerator.gather(loss.detach()).mean().item())
        metrics["entropy"].append(self._global_mean(entropy.detach(), mf))
        if m.kl_coef:
            metrics["kl"].append(self._global_mean(kl.detach(), mf))
        metrics["clip_ratio/low_mean"].append(self._global_mean(is_low.float(), mf))
        metrics["clip_ratio/high_mean"].append(self._global_mean(is_high.float(), mf))
        metrics["clip_ratio/region_mean"].append(self._global_mean((is_low | is_high).float(), mf))
        if regularized is not None:
            n_reg = self.accelerator.reduce(regularized.sum().float(), reduction="sum").item()
            metrics["lp_reg/n_regularized"].append(n_reg)
            metrics["lp_reg/frac_regularized"].append(self._global_mean(regularized.float(), mf))
            # Which tokens the selection falls on (Method.params["count_tokens"] = {name: token ids}, e.g. sparks)
            sums = lambda x: self.accelerator.reduce(x.sum().float(), reduction="sum").item()  # noqa: E731
            metrics["lp_reg/n_bottom_rho"].append(sums(out.bottom_rho))
            for name, ids in (m.params.get("count_tokens") or {}).items():
                hit = torch.isin(completion_ids, torch.as_tensor(list(ids), device=completion_ids.device))
                metrics[f"lp_reg/n_regularized_{name}"].append(sums(regularized & hit))
                metrics[f"lp_reg/n_bottom_rho_{name}"].append(sums(out.bottom_rho & hit))
        return loss

    def method_loss(self, model, inputs: dict, method: Method) -> tuple[torch.Tensor, dict]:
        """Returns (loss, parts) of ``method`` on one micro-batch ``inputs`` under ``model``, logging nothing: the
        token-aggregated per-token loss of verl's ``dp_actor.update_policy`` (the clipped surrogate, or Lp-Reg's
        ``compute_policy_loss_lp_reg``; + kl_coef · k3 to the reference; − entropy_coef · entropy), before any
        gradient-accumulation scaling. ``parts``: per_token, is_low, is_high, entropy, kl (None without KL), mask,
        and for Lp-Reg the loss output ``lp_reg`` and its ``regularized`` mask."""
        m = method
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        logp, entropy, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True
        )
        adv = inputs["advantages"]
        adv = adv.unsqueeze(1) if adv.dim() == 1 else adv
        old_logp = inputs.get("old_per_token_logps")
        old_logp = logp.detach() if old_logp is None else old_logp

        parts: dict[str, Any] = {"kl": None, "mask": mask, "entropy": entropy}
        if m.policy_loss == "lp_reg":
            out = obj.lp_reg_loss(
                logp, old_logp, inputs["proxy_logp"], adv, mask,
                rho=float(m.params.get("rho", 0.01)), lp_reg_coef=float(m.params.get("lp_reg_coef", 1.0)),
                clip_low=m.clip_low, clip_high=m.clip_high,
            )  # fmt: skip
            per_token, is_low, is_high = out.loss, out.is_low_clipped, out.is_high_clipped
            parts.update(lp_reg=out, regularized=out.regularized)
        else:
            per_token, is_low, is_high = obj.ppo_clip_loss(logp, old_logp, adv, m.clip_low, m.clip_high)
        if m.kl_coef:
            kl = obj.k3_kl(logp, inputs["ref_per_token_logps"], clamp=10.0)
            per_token = per_token + m.kl_coef * kl
            parts["kl"] = kl
        if m.entropy_coef:
            per_token = per_token - m.entropy_coef * entropy
        parts.update(per_token=per_token, is_low=is_low, is_high=is_high)
        return obj.aggregate_loss(per_token, mask, m.loss_agg), parts


class JsonlLogger(TrainerCallback):
    """Appends each log record (step + metrics) to ``<run_dir>/train_log.jsonl``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            rec = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
            with self.path.open("a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")


def _rows(problems: Sequence, tokenizer, instruction: str, system: str | None = None) -> list[dict]:
    from workbook.generation import build_prompts

    texts = [p.problem if hasattr(p, "problem") else p["problem"] for p in problems]
    answers = [p.answer if hasattr(p, "answer") else p["answer"] for p in problems]
    ids = [p.problem_id if hasattr(p, "problem_id") else p.get("problem_id", str(i)) for i, p in enumerate(problems)]
    prompts = build_prompts(tokenizer, texts, instruction, system)
    return [{"prompt": q, "answer": a, "problem_id": i} for q, a, i in zip(prompts, answers, ids)]


def build_trainer(
    method: str | Method,
    model,
    tokenizer,
    problems: Sequence,
    run_dir: str | Path,
    cfg: RLConfig | None = None,
    reward_fn: RewardFn | None = None,
    eval_problems: Sequence | None = None,
    callbacks: list | None = None,
    grader=None,
    trainer_cls: type = None,
) -> RLTrainer:
    """Returns an ``RLTrainer`` for ``method`` on ``problems`` (``workbook.data.Problem`` or dicts with problem/answer).

    ``reward_fn(completions, answers, completion_ids) -> list[float]`` defaults to the 0/1 grader reward; accuracy is
    always the grader's. Checkpoints go to ``run_dir/checkpoints``, per-step logs to ``run_dir/train_log.jsonl``,
    the held-out evaluation (every ``cfg.eval_steps``, an ``EvalProbe``) to ``run_dir/probe_eval.jsonl``. ``grader``
    (an object with
    ``grade_many(completions, golds)``) defaults to ``workbook.grading.Grader(cfg.grading_mode)``.
    ``trainer_cls=trl.GRPOTrainer`` builds stock TRL on the identical config, data and reward (the benchmark's baseline).
    """
    from datasets import Dataset

    cfg = cfg or RLConfig()
    method = get_method(method) if isinstance(method, str) else method
    if cfg.method_overrides:
        method = method.with_overrides(**cfg.method_overrides)
    if not problems:
        raise ValueError("problems is empty")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    args = make_grpo_config(method, cfg, run_dir / "checkpoints")
    grader = grader if grader is not None else _make_grader(cfg.grading_mode)
    base_reward = reward_fn or correctness_reward(grader)

    def reward(prompts, completions, completion_ids, answer, **kwargs):
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return base_reward(texts, list(answer), [list(x) for x in completion_ids])

    reward.__name__ = getattr(base_reward, "__name__", "reward")
    if method.kl_coef and not getattr(model.config, "_name_or_path", ""):
        # TRL builds the reference from the policy's config path; a model built in memory has none, so the
        # reference (= the initial policy) is saved once into the run dir.
        ref_dir = run_dir / "reference_model"
        model.save_pretrained(ref_dir)
        model.config._name_or_path = str(ref_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    (run_dir / "rl_config.json").write_text(
        json.dumps({"method": asdict(method), "rl_config": asdict(cfg), "trl": trl.__version__}, indent=1,
                   sort_keys=True, default=str)
    )  # fmt: skip
    cbs = [JsonlLogger(run_dir / "train_log.jsonl"), *(callbacks or [])]
    if cfg.eval_steps and eval_problems:
        from workbook.rl.probes import EvalProbe, ProbeContext

        probe = EvalProbe(eval_problems, every=cfg.eval_steps, n=cfg.eval_n, max_new_tokens=cfg.eval_max_new_tokens
                          or cfg.max_completion_length,
                          temperature=method.temperature if cfg.eval_temperature is None else cfg.eval_temperature)
        cbs.append(probe.callback(ProbeContext(run_dir, tokenizer, grader, cfg.instruction, cfg.seed,
                                                     system=cfg.system)))
    rows = _rows(problems, tokenizer, cfg.instruction, cfg.system)
    # A rollout batch needs that many distinct rows (TRL samples without replacement within an epoch); fewer
    # problems (1-shot RLVR's single example) are repeated, as the paper's pi1_r128.parquet repeats pi1 128 times.
    need = cfg.prompts_per_step * method.updates_per_rollout * max(1, args.world_size)
    rows = rows * math.ceil(need / len(rows))
    trainer_cls = trainer_cls or RLTrainer
    extra = ({"method": method, "accuracy_grader": grader, "fast_cpu": cfg.fast_cpu}
             if issubclass(trainer_cls, RLTrainer) else {})
    trainer = trainer_cls(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=cbs,
        **extra,
    )
    trainer.remove_callback(PrinterCallback)  # no print in the library: logs go to train_log.jsonl
    for cb in cbs:  # callbacks that replay the trainer's update (``workbook.rl.counterfactual``) get the trainer
        if hasattr(cb, "bind_trainer"):
            cb.bind_trainer(trainer)
    return trainer


def train(trainer: RLTrainer, resume: bool = True) -> dict:
    """Returns the final train metrics after running ``trainer``, resuming from the last checkpoint if ``resume``."""
    ckpt = get_last_checkpoint(trainer.args.output_dir) if resume and Path(trainer.args.output_dir).is_dir() else None
    if ckpt:
        log.info("resuming from %s", ckpt)
    result = trainer.train(resume_from_checkpoint=ckpt)
    return {k: v for k, v in result.metrics.items() if not (isinstance(v, float) and math.isnan(v))}
