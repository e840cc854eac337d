"""The registry of RLVR methods: one definition per method, run by TRL (`trainer`) or exported to verl (`verl`).

A method is a name, an advantage function, a policy loss, and paper-faithful defaults. Every TRL 1.16 default that
differs from the paper's code is pinned in ``trl_overrides`` (loss_type, beta, scale_rewards, the vLLM
importance-sampling correction, clip, temperature, entropy coefficient); ``docs/papers/<paper>.md`` map each
setting to the paper.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from workbook.rl.objectives import ADVANTAGE_FNS, LOSS_AGGREGATIONS

__all__ = ["Method", "METHODS", "get_method", "register_method", "UnknownMethodError", "POLICY_LOSSES"]

POLICY_LOSSES = ("ppo_clip", "lp_reg")


class UnknownMethodError(ValueError):
    """Raised for a method name that is not registered."""


@dataclass(frozen=True)
class Method:
    """One RLVR method.

    advantage: key of ``objectives.ADVANTAGE_FNS``; policy_loss: "ppo_clip" or "lp_reg".
    clip_low/clip_high: offsets from 1; kl_coef: k3 KL to the reference (clamped to [-10, 10]);
    entropy_coef: entropy bonus; temperature: rollout temperature; steps_per_generation_factor: optimizer updates
    per rollout batch (4 = NSR's mini-batch 256 of 1024 prompts); params: method-specific (lam, rho, kappa, ...).
    """

    name: str
    description: str
    source: str
    advantage: str
    policy_loss: str = "ppo_clip"
    loss_agg: str = "token_mean"
    clip_low: float = 0.2
    clip_high: float = 0.2
    kl_coef: float = 0.0
    entropy_coef: float = 0.0
    temperature: float = 1.0
    learning_rate: float = 1e-6
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    num_generations: int = 8
    updates_per_rollout: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    needs_full_logits: bool = False

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGE_FNS:
            raise ValueError(f"{self.name}: unknown advantage {self.advantage!r}; choose from {sorted(ADVANTAGE_FNS)}")
        if self.policy_loss not in POLICY_LOSSES:
            raise ValueError(f"{self.name}: unknown policy_loss {self.policy_loss!r}; choose from {POLICY_LOSSES}")
        if self.loss_agg not in LOSS_AGGREGATIONS:
            raise ValueError(f"{self.name}: unknown loss_agg {self.loss_agg!r}; choose from {LOSS_AGGREGATIONS}")

    def with_overrides(self, **kw: Any) -> "Method":
        """Returns a copy with fields replaced; unknown keys go into ``params`` only if already present there."""
        fields = {f.name for f in dataclasses.fields(self)}
        direct = {k: v for k, v in kw.items() if k in fields}
        extra = {k: v for k, v in kw.items() if k not in fields}
        unknown = [k for k in extra if k not in self.params]
        if unknown:
            raise ValueError(
                f"{self.name}: unknown override(s) {unknown}; fields: {sorted(fields)}, params: {sorted(self.params)}"
            )
        params = {**self.params, **direct.pop("params", {}), **extra}
        return dataclasses.replace(self, params=params, **direct)

    def advantages(self, rewards, n: int):
        """Returns the method's advantages for group-major ``rewards`` (B,) in groups of ``n``, shape (B,)."""
        fn = ADVANTAGE_FNS[self.advantage]
        if self.advantage == "grpo":
            return fn(rewards, n, eps=float(self.params.get("eps", 1e-6)))
        if self.advantage == "w_reinforce":
            return fn(rewards, n, lam=float(self.params.get("lam", 0.1)))
        return fn(rewards, n)

    def trl_overrides(self) -> dict[str, Any]:
        """Returns GRPOConfig kwargs that pin every TRL default differing from the paper's code.

        TRL 1.16 defaults: loss_type "dapo", beta 0, scale_rewards "group", epsilon 0.2, temperature 1.0,
        vllm_importance_sampling_correction True, entropy_coef 0, weight_decay 0. Our trainer computes the
        advantage and the loss itself; these keep TRL's own bookkeeping (reference model, logging, generation)
        consistent with the method. ``beta`` is the KL coefficient: non-zero makes TRL load the reference and
        compute ``ref_per_token_logps``; we apply the clamped k3 ourselves.
        """
        return {
            "loss_type": "bnpo" if self.loss_agg == "token_mean" else "grpo",
            "beta": float(self.kl_coef),
            "scale_rewards": "group" if self.advantage == "grpo" else "none",
            "epsilon": float(self.clip_low),
            "epsilon_high": float(self.clip_high),
            "temperature": float(self.temperature),
            "top_p": 1.0,
            "entropy_coef": float(self.entropy_coef),
            "learning_rate": float(self.learning_rate),
            "weight_decay": float(self.weight_decay),
            "max_grad_norm": float(self.max_grad_norm),
            "lr_scheduler_type": "constant",
            "warmup_steps": 0,
            "num_iterations": 1,
            "importance_sampling_level": "token",
            "vllm_importance_sampling_correction": False,
            "mask_truncated_completions": False,
            "top_entropy_quantile": 1.0,
            "use_bias_correction_kl": False,
        }


METHODS: dict[str, Method] = {}


def register_method(method: Method, overwrite: bool = False) -> Method:
    """Returns ``method`` after adding it to ``METHODS``; refuses a duplicate name unless ``overwrite``."""
    if method.name in METHODS and not overwrite:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def get_method(name: str, **overrides: Any) -> Method:
    """Returns the registered method ``name``, with ``overrides`` applied; UnknownMethodError lists valid names."""
    if name not in METHODS:
        raise UnknownMethodError(f"unknown RL method {name!r}; registered: {sorted(METHODS)}")
    return METHODS[name].with_overrides(**overrides) if overrides else METHODS[name]


_LP_REG = "Huang et al. 2025, arXiv 2510.03222; CarlanLark/Lp-Reg-dev @ 33b27e273b (docs/papers/lp_reg.md)"
_NSR = "Zhu et al. 2025, arXiv 2506.01347; TianHongZXY/RLVR-Decomposed @ a5d4e7c1df (docs/papers/nsr.md)"
_ONE = "Wang et al. 2025, arXiv 2504.20571; ypwang61/One-Shot-RLVR @ 21ed529ec9 (docs/papers/one_shot_rlvr.md)"

register_method(Method(
    name="grpo",
    description="On-policy GRPO, no KL, no entropy bonus, clip 0.2 (Lp-Reg's and NSR's GRPO baseline).",
    source=_LP_REG,
    advantage="grpo",
    params={"eps": 1e-6},
))
register_method(Method(
    name="grpo_entropy",
    description="GRPO plus an entropy bonus (Lp-Reg's 'GRPO + entropy' baseline; coefficient = verl's yaml default "
    "0.001, the paper's value is unconfirmed).",
    source=_LP_REG,
    advantage="grpo",
    entropy_coef=1e-3,
    params={"eps": 1e-6},
))
register_method(Method(
    name="one_shot_rlvr",
    description="GRPO on one example: k3 KL 0.001 (low_var_kl), entropy bonus 0.001, T=0.6, weight decay 0.01.",
    source=_ONE,
    advantage="grpo",
    kl_coef=1e-3,
    entropy_coef=1e-3,
    temperature=0.6,
    weight_decay=0.01,
    params={"eps": 1e-6},
))
register_method(Method(
    name="entropy_only",
    description="Entropy loss alone: policy-gradient term off (zero advantages), no KL, no weight decay, T=0.6.",
    source=_ONE,
    advantage="zero",
    entropy_coef=1e-3,
    temperature=0.6,
))
for _name, _adv, _desc in (
    ("psr", "psr", "Positive-sample reinforcement: A = r."),
    ("nsr", "nsr", "Negative-sample reinforcement: A = r - 1."),
    ("w_reinforce", "w_reinforce", "Weighted REINFORCE: A = lambda (0.1) on correct, -1 on incorrect."),
):
    register_method(Method(
        name=_name,
        description=_desc + " PPO clip 0.2, no KL, entropy 0.001 (yaml default; an author's reply on the official "
        "tracker says 1e-4, unconfirmed), "
        "4 updates per rollout batch (mini-batch 256 of 1024).",
        source=_NSR,
        advantage=_adv,
        entropy_coef=1e-3,
        updates_per_rollout=4,
        params={"lam": 0.1} if _adv == "w_reinforce" else {},
    ))
register_method(Method(
    name="lp_reg",
    description="GRPO with Lp-Reg: min-p proxy (kappa 0.02), bottom-1% negative tokens get -A*ratio + k3(proxy); "
    "others clipped with ratio in [0, 10]. On-policy, T=1.0, no KL, no entropy bonus.",
    source=_LP_REG,
    advantage="grpo",
    policy_loss="lp_reg",
    clip_low=1.0,
    clip_high=9.0,
    params={"eps": 1e-6, "rho": 0.01, "kappa": 0.02, "lp_reg_coef": 1.0},
    needs_full_logits=True,
))
