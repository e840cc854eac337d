"""Lp-Reg: the min-p proxy on real next-token distributions, low-probability mass, and "reasoning sparks".

Huang et al. 2025, "Low-probability Tokens Sustain Exploration in Reinforcement Learning with Verifiable Reward"
(arXiv 2510.03222); official code ``CarlanLark/Lp-Reg-dev`` (verl 0.3.1 fork). The loss itself lives in
``workbook.rl.objectives`` (``min_p_proxy_logp``, ``lp_reg_token_mask``, ``lp_reg_loss``, matching
``core_algos.py::compute_policy_loss_lp_reg``); this module *shows* it and *measures* what it is meant to protect:

- ``proxy_table`` / ``token_table``: a model's next-token distribution, the min-p kept set, the renormalised proxy;
- ``selection_table``: which tokens of a rollout batch Lp-Reg regularises, and which low-probability tokens it
  leaves alone because the proxy filtered them (noise);
- ``LowProbProbe``: a probe (``workbook.rl.probes``) that samples a fixed held-out set during training and records
  entropy, the probability mass below the min-p threshold, accuracy, and every sampled low-probability token;
- ``spark_counts``: how many of those low-probability tokens later appear in a correct solution ("sparks");
- ``probe_curves``, ``toy_claims``, ``collapse_verdict``, ``paper_claims``, ``comparable_setting``: the notebook's
  frames and claim estimates (in ``workbook.papers.lp_reg_claims``, re-exported here);
- ``plan`` / ``validate``: the cost plans (the paper's 14B recipe and this profile's runs) and parameter checks.

A "low-probability token" is a sampled token y with p(y) < kappa * max_v p(v) under the current policy at the
rollout temperature, i.e. a token outside the min-p proxy's support (Sec. 3). See ``docs/papers/lp_reg.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from workbook.rl.probes import EvalProbe, ProbeContext, policy_backend, read_jsonl

from workbook.papers.lp_reg_claims import (collapse_verdict, comparable_setting, final_accuracy, paper_claims,
                                           probe_curves, toy_claims)

__all__ = ["ARMS", "proxy_distribution", "next_token_logits", "proxy_table", "token_table", "selection_table",
           "LowProbProbe", "spark_counts", "probe_curves", "final_accuracy", "toy_claims", "collapse_verdict",
           "paper_claims", "comparable_setting", "plan", "validate"]  # fmt: skip

ARMS = ("grpo", "grpo_entropy", "lp_reg")


# ---- the proxy on one distribution ----------------------------------------------------------------------------

def proxy_distribution(logits: torch.Tensor, kappa: float = 0.02, temperature: float = 1.0):
    """Returns (p, kept, proxy_p), each of logits' shape (..., V): the policy, the min-p kept set, the renormalised
    proxy.

    Huang et al. 2025, Sec. 3 (the min-p proxy): keep v iff p(v) >= kappa * max_u p(u); pi_proxy(v) = p(v) /
    sum_kept p on the kept set and 0 elsewhere (``core_algos.py::compute_policy_loss_lp_reg`` sets filtered logits
    to -1e4, i.e. probability ~ e^-1e4 = 0).
    """
    if not 0.0 <= kappa <= 1.0:
        raise ValueError(f"kappa must be in [0, 1], got {kappa}")
    p = torch.softmax(logits.detach().float() / temperature, dim=-1)
    kept = p >= kappa * p.max(dim=-1, keepdim=True).values
    proxy = torch.where(kept, p, torch.zeros_like(p))
    return p, kept, proxy / proxy.sum(-1, keepdim=True)


@torch.no_grad()
def next_token_logits(model, tokenizer, prompt: str, completion_ids: Sequence[int]) -> torch.Tensor:
    """Returns the teacher-forced logits that predict each completion token, shape (len(completion_ids), V)."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids[0].tolist()
    ids = torch.tensor([prompt_ids + list(completion_ids)], device=model.device)
    logits = model(input_ids=ids).logits[0].float()
    return logits[len(prompt_ids) - 1 : -1]


def _tok(tokenizer, i: int) -> str:
    return tokenizer.decode([int(i)])


def proxy_table(logits_row: torch.Tensor, tokenizer, kappa: float = 0.02, temperature: float = 1.0, top: int = 12,
                sampled_id: int | None = None) -> pd.DataFrame:
    """Returns one row per vocabulary entry among the ``top`` most likely (plus ``sampled_id``): token, p, kept,
    proxy_p, and the threshold kappa * max p — the min-p construction on one real next-token distribution (V,)."""
    p, kept, proxy = proxy_distribution(logits_row, kappa, temperature)
    order = torch.argsort(p, descending=True)[:top].tolist()
    if sampled_id is not None and sampled_id not in order:
        order.append(int(sampled_id))
    thr = float(kappa * p.max())
    return pd.DataFrame([{"token": _tok(tokenizer, i), "token_id": i, "p": float(p[i]), "threshold": thr,
                          "kept": bool(kept[i]), "proxy_p": float(proxy[i]), "sampled": i == sampled_id}
                         for i in order])  # fmt: skip


def token_table(logits: torch.Tensor, completion_ids: Sequence[int], tokenizer, kappa: float = 0.02,
                temperature: float = 1.0) -> pd.DataFrame:
    """Returns one row per completion token: token, p (of the sampled token), max_p, low_prob (outside the proxy),
    logp, proxy_logp (``objectives.min_p_proxy_logp``; ~-1e4 when filtered), entropy and low_prob_mass (mass below
    the threshold). ``logits`` (T, V) from ``next_token_logits``."""
    from workbook.rl import objectives as obj

    ids = torch.as_tensor(list(completion_ids), dtype=torch.long, device=logits.device)
    p, kept, _ = proxy_distribution(logits, kappa, temperature)
    p_tok = p.gather(-1, ids[:, None])[:, 0]
    proxy_logp = obj.min_p_proxy_logp(logits[None], ids[None], kappa, temperature)[0]
    return pd.DataFrame({
        "position": np.arange(len(ids)),
        "token": [_tok(tokenizer, i) for i in ids.tolist()],
        "p": p_tok.cpu().numpy(),
        "max_p": p.max(-1).values.cpu().numpy(),
        "low_prob": (~kept.gather(-1, ids[:, None])[:, 0]).cpu().numpy(),
        "logp": torch.log(p_tok.clamp_min(1e-30)).cpu().numpy(),
        "proxy_logp": proxy_logp.cpu().numpy(),
        "entropy": obj.entropy_from_logits(logits, temperature).cpu().numpy(),
        "low_prob_mass": obj.low_prob_mass(logits, kappa, temperature).cpu().numpy(),
    })  # fmt: skip


def selection_table(tables: Sequence[pd.DataFrame], adv: Sequence[float], rho: float = 0.01) -> pd.DataFrame:
    """Returns the concatenated token tables of a rollout batch with ``adv`` per completion and Lp-Reg's decision.

    Columns added: completion, adv, bottom_rho (among the k = max(1, floor(rho N-)) lowest-logp negative-advantage
    tokens), regularized (``objectives.lp_reg_token_mask``: bottom_rho and logp < proxy_logp), noise_excluded
    (bottom_rho but filtered by the proxy: low-probability noise left to the plain surrogate). Huang et al. 2025,
    Sec. 3.
    """
    from workbook.rl import objectives as obj

    if len(tables) != len(adv):
        raise ValueError(f"{len(tables)} token tables but {len(adv)} advantages")
    t_max = max(len(t) for t in tables)
    logp = torch.zeros(len(tables), t_max)
    proxy = torch.zeros(len(tables), t_max)
    mask = torch.zeros(len(tables), t_max, dtype=torch.bool)
    for i, t in enumerate(tables):
        logp[i, : len(t)] = torch.tensor(t["logp"].to_numpy(dtype="float32", copy=True))
        proxy[i, : len(t)] = torch.tensor(t["proxy_logp"].to_numpy(dtype="float32", copy=True))
        mask[i, : len(t)] = True
    adv_t = torch.as_tensor(list(adv), dtype=torch.float32)
    selected = obj.lp_reg_token_mask(logp, proxy, adv_t, mask, rho)
    # the bottom-rho set before the proxy filter: the same mask with the proxy condition always true
    bottom = obj.lp_reg_token_mask(logp, torch.full_like(proxy, float("inf")), adv_t, mask, rho)
    rows = []
    for i, t in enumerate(tables):
        n = len(t)
        rows.append(t.assign(completion=i, adv=float(adv[i]), bottom_rho=bottom[i, :n].numpy(),
                             regularized=selected[i, :n].numpy(),
                             noise_excluded=(bottom[i, :n] & ~selected[i, :n]).numpy()))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


# ---- probing a policy during training ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LowProbProbe(EvalProbe):
    """Samples ``n`` completions per probe problem at ``temperature`` (the rollout temperature, 1.0 in the paper)
    and measures them under the current policy, teacher-forced: entropy, the mass below ``kappa`` · max p and every
    sampled token outside the min-p proxy's support.

    Frames (``collect``): ``<name>`` one row per step: entropy, low_prob_mass (means per completion token),
    frac_low_prob, n_low_prob, tokens, accuracy (mean@n); ``<name>_problems`` one row per (step, problem): n,
    n_correct, correct_ids (token ids of the correct completions); ``<name>_events`` one row per sampled
    low-probability token: problem_id, prefix (ids), token_id, p, correct.
    """

    name: str = "lowprob"
    n: int = 4
    temperature: float = 1.0
    kappa: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature <= 0 or not 0 <= self.kappa <= 1:
            raise ValueError(f"probe {self.name!r}: need temperature > 0 and kappa in [0, 1]")

    @torch.no_grad()
    def measure(self, model, ctx: ProbeContext, step: int) -> list[dict]:
        from workbook.rl import objectives as obj

        sampled: list = []
        frame = self.sample(model, ctx, step, completions=sampled)
        comps = [list(c.token_ids) for c in sampled]  # the sampled ids, EOS included when the completion stopped
        with policy_backend(model, ctx.tokenizer, ctx.batch_size) as backend:
            prompt_ids = {p.problem_id: backend.encode_prompt(ctx.prompt(p)) for p in self.problems}
        tot = dict.fromkeys(("entropy", "low_prob_mass", "low_prob", "tokens"), 0.0)
        events = []
        was_training = model.training
        model.eval()
        try:
            for s in range(0, len(frame), ctx.batch_size):
                rows = range(s, min(s + ctx.batch_size, len(frame)))
                seqs = [prompt_ids[frame["problem_id"].iloc[i]] + comps[i] for i in rows]
                width = max(map(len, seqs))
                ids = torch.full((len(seqs), width), backend.pad_token_id, dtype=torch.long)
                for j, q in enumerate(seqs):  # right padding: position i predicts token i + 1
                    ids[j, : len(q)] = torch.tensor(q)
                mask = (torch.arange(width)[None] < torch.tensor([len(q) for q in seqs])[:, None]).long()
                logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float()
                for j, i in enumerate(rows):
                    start, c = len(seqs[j]) - len(comps[i]), comps[i]
                    lg = logits[j, start - 1 : len(seqs[j]) - 1]
                    p, kept, _ = proxy_distribution(lg, self.kappa, self.temperature)
                    cid = torch.tensor(c, device=lg.device)
                    low = ~kept.gather(-1, cid[:, None])[:, 0]
                    tot["entropy"] += float(obj.entropy_from_logits(lg, self.temperature).sum())
                    tot["low_prob_mass"] += float(obj.low_prob_mass(lg, self.kappa, self.temperature).sum())
                    tot["low_prob"] += float(low.sum())
                    tot["tokens"] += len(c)
                    events += [{"kind": "event", "problem_id": frame["problem_id"].iloc[i], "prefix": c[:t],
                                "token_id": c[t], "p": float(p[t, c[t]]), "correct": bool(frame["correct"].iloc[i])}
                               for t in torch.nonzero(low).flatten().tolist()]  # fmt: skip
        finally:
            model.train(was_training)
        per_problem = [{"kind": "problem", "problem_id": pid, "n": len(g), "n_correct": int(g["correct"].sum()),
                        "correct_ids": [comps[i] for i in g.index[g["correct"]]]}
                       for pid, g in frame.groupby("problem_id", sort=False)]  # fmt: skip
        n_tok = max(tot["tokens"], 1.0)
        summary = {"kind": "summary", "entropy": tot["entropy"] / n_tok, "low_prob_mass": tot["low_prob_mass"] / n_tok,
                   "frac_low_prob": tot["low_prob"] / n_tok, "n_low_prob": int(tot["low_prob"]),
                   "tokens": int(tot["tokens"]), "accuracy": float(frame["correct"].mean())}  # fmt: skip
        return [summary, *per_problem, *events]

    def collect(self, run_dir: str | Path) -> dict[str, pd.DataFrame]:
        rows = read_jsonl(self.path(run_dir))
        part = {k: pd.DataFrame([{c: v for c, v in r.items() if c != "kind"} for r in rows if r["kind"] == k])
                for k in ("summary", "problem", "event")}  # fmt: skip
        if part["event"].empty:  # no low-probability token sampled (tiny runs): keep the columns readers query
            part["event"] = pd.DataFrame(columns=["step", "problem_id", "prefix", "token_id", "correct"])
        return {self.name: part["summary"], f"{self.name}_problems": part["problem"],
                f"{self.name}_events": part["event"]}


# ---- sparks -------------------------------------------------------------------------------------------------------

def spark_counts(events: pd.DataFrame, correct: pd.DataFrame, by: Sequence[str] = ("label", "seed")) -> pd.DataFrame:
    """Returns per (``by``..., step): n_low_prob (sampled low-probability tokens), n_sparks (those whose prefix +
    token starts a correct completion of the same problem at a LATER probe step of the same run), n_in_correct
    (those inside a completion that was itself correct) and spark_rate = n_sparks / n_low_prob.

    ``events``: rows of ``probe_events.jsonl`` (step, problem_id, prefix, token_id, correct) plus ``by`` columns;
    ``correct``: one row per (``by``..., step, problem_id) with ``correct_ids`` (token-id lists of correct
    completions). The last probe step has no later step, so its n_sparks is 0 by construction.
    """
    by = list(by)
    rows = []
    if not len(events):
        return pd.DataFrame(columns=[*by, "step", "n_low_prob", "n_sparks", "n_in_correct", "spark_rate"])
    later: dict[tuple, list[tuple[int, tuple]]] = {}
    for r in correct.itertuples(index=False):
        d = r._asdict()
        key = (*[d[b] for b in by], d["problem_id"])
        later.setdefault(key, []).extend((int(d["step"]), tuple(ids)) for ids in d["correct_ids"])
    for key, g in events.groupby([*by, "step"], sort=True):
        *run, step = key
        n_sparks = 0
        for e in g.itertuples(index=False):
            target = tuple(e.prefix) + (int(e.token_id),)
            n_sparks += any(s > step and seq[: len(target)] == target
                            for s, seq in later.get((*run, e.problem_id), ()))  # fmt: skip
        rows.append({**dict(zip(by, run)), "step": int(step), "n_low_prob": len(g), "n_sparks": n_sparks,
                     "n_in_correct": int(g["correct"].sum())})  # fmt: skip
    out = pd.DataFrame(rows)
    return out.assign(spark_rate=out["n_sparks"] / out["n_low_prob"].clip(lower=1))


# ---- parameters and cost plans ------------------------------------------------------------------------------------

def validate(params: dict) -> None:
    """Raises ``ParameterError`` unless the arms include GRPO and Lp-Reg (and come from GRPO, GRPO + entropy,
    Lp-Reg), the probe runs at least once per ``probe_every`` steps with ``probe_n`` >= 1, and there is a seed."""
    from workbook.params import ParameterError

    methods = params.get("methods") or []
    if set(methods) - set(ARMS) or not {"grpo", "lp_reg"} <= set(methods):
        raise ParameterError(f"lp_reg: methods must include grpo and lp_reg and come from {', '.join(ARMS)}; "
                             f"got {methods}")  # fmt: skip
    if params.get("probe_every", 1) < 1 or params.get("probe_n", 1) < 1 or not params.get("seeds") \
            or params.get("entropy_seeds", 1) < 1:
        raise ParameterError("lp_reg: need probe_every >= 1, probe_n >= 1, entropy_seeds >= 1 and at least one seed")


def plan(params: dict) -> dict:
    """Returns this profile's cost plan (``workbook.rl.plan.Plan`` as a dict with ``summary``; the control world,
    when ``control_model`` is set, adds every arm once per ``control_seeds``; GRPO + entropy runs on the first
    ``entropy_seeds`` seeds of each world) with the paper's
    Qwen3-14B-Base recipe (``params["paper_recipe"]``: three arms, one seed) under ``"paper_recipe"``. Loads no
    model and needs no GPU."""
    from workbook.rl.plan import plan as rl_plan
    from workbook.rl.plan import plan_from_params

    validate(params)
    r = params["paper_recipe"]
    recipe = rl_plan(model=r["model"], steps=r["steps"], prompts_per_step=r["prompts_per_step"],
                     num_generations=r["num_generations"], max_completion_length=r["max_completion_length"],
                     runs=r["runs"], prompt_tokens=r["prompt_tokens"], eval_every=r["eval_every"],
                     eval_problems=r["n_eval_problems"], eval_n=r["eval_n"], with_reference=False,
                     gpu=params.get("gpu") or None, gradient_checkpointing=True)  # the official recipe recomputes
    worlds = [params["seeds"]] + ([params.get("control_seeds") or []] if params.get("control_model") else [])
    n_ent = params.get("entropy_seeds", len(params["seeds"]))  # GRPO + entropy runs on the first n_ent of each world
    runs = sum(len(s) * len(params["methods"]) - max(0, len(s) - n_ent) * ("grpo_entropy" in params["methods"])
               for s in worlds)
    profile = plan_from_params({**params, "arms": params["methods"], "eval_every": params["probe_every"],
                                "n_curve_problems": params["n_probe_problems"], "eval_n": params["probe_n"],
                                "eval_max_new_tokens": params["probe_max_new_tokens"]}, with_reference=False,
                               runs=runs)
    return {**profile.to_dict(), "paper_recipe": recipe.to_dict()}
