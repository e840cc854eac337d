"""Counterfactual updates: what another method's optimizer step would have done from the very same state and batch.

Two runs of different methods drift apart once their policies first sample a different token, and a difference
between their curves then carries that drift (``workbook.papers.lp_reg_sparks.gap_over_training``). The effect of
a loss *itself* has no drift: at step t of one run, with parameters θ_t, the optimizer's state and the rollout batch
B_t that the run is about to update on, apply one update of method m (its loss on B_t, gradient clipping, the same
optimizer with a copy of its state) to a copy of the policy and measure the copy. Comparing the copies of two
methods gives the one-step effect of swapping the loss, holding the policy, the data and the optimizer fixed — the
quantity a paper's gradient argument is about (e.g. Lp-Reg, Huang et al. 2025, Sec. 3: the regulariser protects
the low-probability tokens that the negative-advantage push would otherwise drive down).

- ``counterfactual_update(trainer, method)``: the copy after one update of ``method``; for the run's own method it
  is the update the run then makes (tested);
- ``UpdateProbe``: a probe that, every ``every`` steps before the optimizer step, measures the current policy
  (``update = "none"``) and the copy after each method of ``updates`` with an inner probe's ``measure``.

Limits: one micro-batch per update (no gradient accumulation), one process, methods with the run's advantage
estimator (the batch's advantages are reused) and, with a KL term, a run that computed the reference log-probs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from workbook.rl.probes import Probe, ProbeContext, append_rows, read_jsonl

__all__ = ["counterfactual_update", "UpdateProbe"]


def counterfactual_update(trainer, method) -> torch.nn.Module:
    """Returns a copy of ``trainer``'s policy after one optimizer update of ``method`` (a ``Method``) on the rollout
    batch the trainer is about to update on (``trainer.last_update_inputs``), from the same parameters and a copy
    of the optimizer's state; the trainer, its model, optimizer and random streams are left untouched.

    Call between the backward pass and the optimizer step (``on_pre_optimizer_step``). Lp-Reg's proxy log-probs
    come from the current policy, which is pi_old on-policy (``RLTrainer.proxy_logp_of``)."""
    inputs = getattr(trainer, "last_update_inputs", None)
    if inputs is None:
        raise RuntimeError("no rollout batch to replay: call during a training step, before the optimizer step")
    if trainer.args.gradient_accumulation_steps != 1 or trainer.accelerator.num_processes != 1:
        raise ValueError("counterfactual updates need one micro-batch per update and one process")
    if method.advantage != trainer.method.advantage:
        raise ValueError(f"{method.name} uses {method.advantage} advantages, the run {trainer.method.advantage}: "
                         "the batch's advantages cannot be reused")
    if method.kl_coef and "ref_per_token_logps" not in inputs:
        raise ValueError(f"{method.name} has a KL term but the run computed no reference log-probs")
    policy = trainer.accelerator.unwrap_model(trainer.model)
    if method.policy_loss == "lp_reg" and "proxy_logp" not in inputs:
        inputs = {**inputs, "proxy_logp": trainer.proxy_logp_of(policy, inputs, method)[0]}
    shadow = _copy_policy(trainer, policy)
    for p in shadow.parameters():
        p.grad = None
    shadow.train(policy.training)
    loss, _ = trainer.method_loss(shadow, inputs, method)
    loss.backward()
    if trainer.args.max_grad_norm and trainer.args.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(shadow.parameters(), trainer.args.max_grad_norm)
    _copy_optimizer(trainer.optimizer, policy, shadow).step()
    for p in shadow.parameters():
        p.grad = None
    return shadow


def _copy_policy(trainer, policy: torch.nn.Module) -> torch.nn.Module:
    """Returns a deep copy of ``policy`` whose forward runs on the copy's own weights.

    TRL's ``GRPOTrainer.__init__`` patches the policy's ``forward`` (``trl.trainer.utils.add_fused_lm_head``) with a
    closure over the original bound ``forward``: a plain deep copy would score with the copy's weights on TRL's fused
    path but call the original model on every ordinary ``model(input_ids=...)`` (a probe's). The copy gets the class
    forward back and the patch re-applied as TRL applies it."""
    shadow = copy.deepcopy(policy)
    if "forward" in vars(policy):
        from trl.trainer.utils import add_fused_lm_head

        del shadow.forward
        add_fused_lm_head(shadow, temperature=trainer.temperature, cast_lm_head_to_fp32=trainer.args.cast_lm_head_to_fp32,
                          outputs=("log_probs", "entropy"))  # fmt: skip
    return shadow


def _copy_optimizer(optimizer, policy: torch.nn.Module, shadow: torch.nn.Module) -> torch.optim.Optimizer:
    """Returns an optimizer of the same class and param groups as ``optimizer`` (accelerate-wrapped or not) over
    ``shadow``'s parameters, holding a deep copy of its state (a shallow one would let the copy's step write into
    the run's moment estimates)."""
    inner = getattr(optimizer, "optimizer", optimizer)
    index = {id(p): i for i, p in enumerate(policy.parameters())}
    params = list(shadow.parameters())
    groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [params[index[id(p)]] for p in g["params"]]}
              for g in inner.param_groups]  # fmt: skip
    out = type(inner)(groups)
    out.load_state_dict(copy.deepcopy(inner.state_dict()))
    return out


@dataclass(frozen=True)
class UpdateProbe(Probe):
    """Every ``every`` steps, before the optimizer step of step t + 1: ``inner.measure`` on the current policy
    (rows with ``update = "none"``) and on the copy after one update of each method in ``updates``
    (``counterfactual_update``; ``overrides[name]``: that method's ``Method.with_overrides``). Rows carry
    ``step`` = t, the number of updates the measured policy had before the counterfactual one. The run's own
    method (equal ``Method``) is measured on the policy right after its real update, which is that copy."""

    inner: Probe | None = None
    updates: tuple = ()
    overrides: dict = field(default_factory=dict)
    at_start: bool = False
    at_end: bool = False
    name: str = "update"

    def __post_init__(self) -> None:
        object.__setattr__(self, "updates", tuple(self.updates))
        super().__post_init__()
        if self.inner is None or not self.updates or self.every < 1 or self.at_start or self.at_end:
            raise ValueError(f"probe {self.name!r}: needs an inner probe, updates and every >= 1 (it measures only "
                             "before optimizer steps)")

    def methods(self) -> list:
        from workbook.rl.methods import get_method

        return [get_method(n).with_overrides(**self.overrides.get(n, {})) for n in self.updates]

    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        return self.inner.measure(model, ctx, step)

    def callback(self, ctx: ProbeContext):
        from transformers import TrainerCallback

        probe, methods = self, self.methods()

        class UpdateProbeCallback(TrainerCallback):
            def __init__(self) -> None:
                self.trainer = None
                self.path = probe.path(ctx.run_dir)
                self.done = {r["step"] for r in read_jsonl(self.path)}
                self.rows: list[dict] | None = None  # measured before the optimizer step, written after it

            def bind_trainer(self, trainer) -> None:
                self.trainer = trainer

            def on_pre_optimizer_step(self, args, state, control, **kwargs):
                step = state.global_step
                self.rows = None
                if step % probe.every or step in self.done or not state.is_world_process_zero:
                    return
                if self.trainer is None:
                    raise RuntimeError("UpdateProbe needs the trainer: build it with workbook.rl.trainer.build_trainer")
                policy = self.trainer.accelerator.unwrap_model(self.trainer.model)
                self.rows = [{"update": "none", **r} for r in probe.measure(policy, ctx, step)]
                for m, name in zip(methods, probe.updates):
                    if m != self.trainer.method:  # the run's own update is measured after it is made (below)
                        self.rows += [{"update": name, **r}
                                      for r in probe.measure(counterfactual_update(self.trainer, m), ctx, step)]

            def on_optimizer_step(self, args, state, control, **kwargs):
                if self.rows is None:
                    return
                step, rows = state.global_step, self.rows
                # The run's own method: its counterfactual copy is the update just made (bit for bit, tested), so
                # the policy itself is measured instead of a copy (one forward/backward fewer)
                policy = self.trainer.accelerator.unwrap_model(self.trainer.model)
                for m, name in zip(methods, probe.updates):
                    if m == self.trainer.method:
                        rows += [{"update": name, **r} for r in probe.measure(policy, ctx, step)]
                append_rows(self.path, step, rows, probe.name)
                self.done.add(step)
                self.rows = None

        return type(f"UpdateProbeCallback_{self.name}", (UpdateProbeCallback,), {})()
