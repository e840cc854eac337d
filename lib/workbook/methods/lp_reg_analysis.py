"""Lp-Reg analysis: the min-p proxy on real next-token distributions, low-probability mass, and "reasoning sparks".

Huang et al. 2025, "Low-probability Tokens Sustain Exploration in RLVR" (arXiv 2510.03222); spec
``shared/specs/lp_reg.md``. The loss itself lives in ``workbook.rl.objectives`` (``min_p_proxy_logp``,
``lp_reg_token_mask``, ``lp_reg_loss``); this module *shows* it and *measures* what it is meant to protect:

- ``proxy_table`` / ``token_table``: a model's next-token distribution, the min-p kept set, the renormalised proxy;
- ``selection_table``: which tokens of a rollout batch Lp-Reg regularises, and which low-probability tokens it
  leaves alone because the proxy filtered them (noise);
- ``LowProbProbe``: a trainer callback that samples a fixed held-out probe set every few steps and records entropy,
  the probability mass below the min-p threshold, accuracy, and every sampled low-probability token;
- ``spark_counts``: how many of those low-probability tokens later appear in a correct solution ("sparks");
- ``run_probed`` / ``run_probed_grid``: ``workbook.rl.experiments.run_one`` with the probe attached.

A "low-probability token" is a sampled token y with p(y) < kappa * max_v p(v) under the current policy at the
rollout temperature, i.e. a token outside the min-p proxy's support (lp_reg.md (a)).
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from transformers import TrainerCallback

__all__ = ["proxy_distribution", "next_token_logits", "proxy_table", "token_table", "selection_table",
           "ProbeConfig", "probe_policy", "LowProbProbe", "spark_counts", "ProbedResults", "run_probed",
           "run_probed_grid"]  # fmt: skip


# ---- the proxy on one distribution ----------------------------------------------------------------------------

def proxy_distribution(logits: torch.Tensor, kappa: float = 0.02, temperature: float = 1.0):
    """Returns (p, kept, proxy_p), each of logits' shape (..., V): the policy, the min-p kept set, the renormalised proxy.

    lp_reg.md (a) "Proxy distribution": keep v iff p(v) >= kappa * max_u p(u); pi_proxy(v) = p(v) / sum_kept p on
    the kept set and 0 elsewhere (the code sets filtered logits to -1e4, i.e. probability ~ e^-1e4 = 0).
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
    (bottom_rho but filtered by the proxy: low-probability noise left to the plain surrogate). lp_reg.md (a).
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
class ProbeConfig:
    """Probe settings: every ``every`` optimizer steps (and at step 0) sample ``n`` completions per probe problem at
    ``temperature`` (the rollout temperature, 1.0 in the paper) and measure them under the current policy."""

    every: int = 10
    n: int = 4
    kappa: float = 0.02
    temperature: float = 1.0
    max_new_tokens: int = 64
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.every < 1 or self.n < 1 or self.max_new_tokens < 1 or self.temperature <= 0:
            raise ValueError(f"need every, n, max_new_tokens >= 1 and temperature > 0; got {self}")


def _completion_mask(comp: torch.Tensor, eos_id: int | None, pad_id: int | None) -> torch.Tensor:
    """(B, T) mask of completion tokens: everything up to and including the first EOS (pad after it)."""
    if eos_id is None:
        return comp != pad_id if pad_id is not None else torch.ones_like(comp, dtype=torch.bool)
    is_eos = comp == eos_id
    before = torch.cumsum(is_eos.int(), dim=1) - is_eos.int() == 0  # no EOS strictly before this position
    return before


@torch.no_grad()
def probe_policy(model, tokenizer, problems: Sequence, grader, cfg: ProbeConfig, instruction: str,
                 seed: int = 0) -> tuple[dict, list[dict], list[dict]]:
    """Returns (summary, per-problem rows, low-probability events) for ``model`` on ``problems``.

    summary: entropy, low_prob_mass (mean per completion token of the mass below kappa * max p), frac_low_prob
    (sampled tokens outside the proxy support), accuracy (mean@n). Per problem: problem_id, n, n_correct and the
    token ids of the correct completions. Events: one per sampled low-probability token (problem_id, prefix ids,
    token id, correct). Sampling runs under its own seed and leaves the training RNG untouched.
    """
    from workbook.rl import objectives as obj
    from workbook.rl.evaluation import build_prompts

    was_training, side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompts = build_prompts(tokenizer, [p.problem for p in problems], instruction)
    tot = {"entropy": 0.0, "low_prob_mass": 0.0, "low_prob": 0.0, "tokens": 0.0}
    per_problem, events = [], []
    devices = [model.device] if model.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            for s in range(0, len(prompts), cfg.batch_size):
                batch = tokenizer(prompts[s : s + cfg.batch_size], return_tensors="pt", padding=True).to(model.device)
                seqs = model.generate(**batch, do_sample=True, temperature=cfg.temperature, top_p=1.0,
                                      max_new_tokens=cfg.max_new_tokens, num_return_sequences=cfg.n,
                                      pad_token_id=pad)  # fmt: skip
                width = batch["input_ids"].size(1)
                comp = seqs[:, width:]
                cmask = _completion_mask(comp, eos, pad)
                attn = torch.cat([batch["attention_mask"].repeat_interleave(cfg.n, 0), cmask.long()], dim=1)
                logits = model(input_ids=seqs, attention_mask=attn).logits[:, width - 1 : -1].float()
                p, kept, _ = proxy_distribution(logits, cfg.kappa, cfg.temperature)
                low = ~kept.gather(-1, comp[..., None])[..., 0] & cmask
                ent = obj.entropy_from_logits(logits, cfg.temperature)
                mass = obj.low_prob_mass(logits, cfg.kappa, cfg.temperature)
                m = cmask.float()
                tot["entropy"] += float((ent * m).sum())
                tot["low_prob_mass"] += float((mass * m).sum())
                tot["low_prob"] += float(low.sum())
                tot["tokens"] += float(m.sum())
                texts = tokenizer.batch_decode(comp, skip_special_tokens=True)
                probs = problems[s : s + cfg.batch_size]
                ok = grader.grade_many(texts, [pp.answer for pp in probs for _ in range(cfg.n)])
                for j, pp in enumerate(probs):
                    rows = range(j * cfg.n, (j + 1) * cfg.n)
                    correct_ids = [comp[r][cmask[r]].tolist() for r in rows if ok[r]]
                    per_problem.append({"problem_id": pp.problem_id, "n": cfg.n, "n_correct": len(correct_ids),
                                        "correct_ids": correct_ids})  # fmt: skip
                    for r in rows:
                        ids = comp[r].tolist()
                        for t in torch.nonzero(low[r]).flatten().tolist():
                            events.append({"problem_id": pp.problem_id, "prefix": ids[:t], "token_id": ids[t],
                                           "p": float(p[r, t, ids[t]]), "correct": bool(ok[r])})  # fmt: skip
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    n_tok = max(tot["tokens"], 1.0)
    n_correct = sum(r["n_correct"] for r in per_problem)
    summary = {"entropy": tot["entropy"] / n_tok, "low_prob_mass": tot["low_prob_mass"] / n_tok,
               "frac_low_prob": tot["low_prob"] / n_tok, "n_low_prob": int(tot["low_prob"]),
               "tokens": int(tot["tokens"]), "accuracy": n_correct / max(1, cfg.n * len(per_problem))}  # fmt: skip
    return summary, per_problem, events


class LowProbProbe(TrainerCallback):
    """Runs ``probe_policy`` at step 0 and every ``cfg.every`` steps; appends to ``<run_dir>/probe.jsonl``
    (one record per probe: step, summary, per-problem rows) and ``<run_dir>/probe_events.jsonl``."""

    def __init__(self, problems, tokenizer, run_dir: str | Path, cfg: ProbeConfig, grader, instruction: str,
                 seed: int = 0):
        self.problems, self.tokenizer, self.cfg, self.grader = list(problems), tokenizer, cfg, grader
        self.instruction, self.seed, self.run_dir = instruction, seed, Path(run_dir)

    def _run(self, state, model) -> None:
        if not state.is_world_process_zero:
            return
        summary, per_problem, events = probe_policy(model, self.tokenizer, self.problems, self.grader, self.cfg,
                                                    self.instruction, seed=self.seed + state.global_step)  # fmt: skip
        step = state.global_step
        with (self.run_dir / "probe.jsonl").open("a") as f:
            f.write(json.dumps({"step": step, **summary, "problems": per_problem}) + "\n")
        with (self.run_dir / "probe_events.jsonl").open("a") as f:
            f.writelines(json.dumps({"step": step, **e}) + "\n" for e in events)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._run(state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.cfg.every == 0 or state.global_step == state.max_steps:
            self._run(state, model)


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


# ---- runs with the probe attached ----------------------------------------------------------------------------------

@dataclass
class ProbedResults:
    """``workbook.rl.experiments.Results`` plus the probe frames: ``probe`` (label, seed, step, entropy,
    low_prob_mass, frac_low_prob, accuracy, ...), ``probe_problems`` (label, seed, step, problem_id, n, n_correct,
    correct_ids) and ``events`` (label, seed, step, problem_id, prefix, token_id, p, correct)."""

    results: object
    probe: pd.DataFrame
    probe_problems: pd.DataFrame
    events: pd.DataFrame

    @staticmethod
    def concat(parts: Sequence["ProbedResults"]) -> "ProbedResults":
        """Returns the row-wise concatenation of several probed results."""
        from workbook.rl.experiments import Results

        return ProbedResults(Results.concat([p.results for p in parts]),
                             *[pd.concat([getattr(p, f) for p in parts], ignore_index=True)
                               for f in ("probe", "probe_problems", "events")])  # fmt: skip


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def run_probed(spec, cfg, probe_problems: Sequence, run_root: str | Path, probe: ProbeConfig,
               final_problems: Sequence | None = None) -> ProbedResults:
    """Returns the ``ProbedResults`` of one fresh run: ``experiments.run_one`` with a ``LowProbProbe`` attached.

    Same recipe as ``run_one`` (fresh model, ``RLConfig`` from ``cfg``, greedy final evaluation when
    ``cfg.final_n`` > 0), but the held-out curve is the probe (accuracy mean@n and per-problem counts for pass@k),
    so ``cfg.eval_every`` is ignored. ``run_root/<label>/seed<seed>`` is emptied first.
    """
    from workbook.grading import Grader
    from workbook.models import load_model
    from workbook.rl import experiments as ex
    from workbook.rl.trainer import RLConfig, build_trainer, train

    torch.set_num_threads(cfg.torch_threads)
    run_dir = Path(run_root) / spec.label / f"seed{spec.seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    t0, c0 = time.time(), time.process_time()
    torch.manual_seed(spec.seed)
    model, tok = load_model(cfg.model, device=cfg.device)
    rl_cfg = RLConfig(
        max_steps=cfg.steps, prompts_per_step=cfg.prompts_per_step, num_generations=cfg.num_generations,
        micro_batch_size=cfg.micro_batch_size, max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.learning_rate, generation_backend=cfg.generation_backend, eval_steps=0,
        instruction=cfg.instruction, grading_mode=cfg.grading_mode, seed=spec.seed, bf16=cfg.bf16,
        method_overrides=dict(spec.method_overrides),
    )  # fmt: skip
    grader = Grader(mode=cfg.grading_mode)
    cb = LowProbProbe(probe_problems, tok, run_dir, probe, grader, cfg.instruction, seed=spec.seed)
    trainer = build_trainer(spec.method, model, tok, list(spec.problems), run_dir, rl_cfg, grader=grader,
                            callbacks=[cb])  # fmt: skip
    train(trainer, resume=False)
    final_problems = probe_problems if final_problems is None else final_problems
    final = ex.evaluate_protocol(model, tok, final_problems, cfg, seed=spec.seed) if cfg.final_n else pd.DataFrame()
    tags = {"label": spec.label, "method": spec.method, "seed": spec.seed}
    train_rows = [r for r in _read_jsonl(run_dir / "train_log.jsonl") if "loss" in r or "entropy" in r]
    probe_rows = _read_jsonl(run_dir / "probe.jsonl")
    results = ex.Results(
        train=pd.DataFrame([{**tags, **r} for r in train_rows]), eval=pd.DataFrame(), history=pd.DataFrame(),
        final=final.assign(**tags) if len(final) else final,
        # cpu_seconds: this process's CPU time, ~ the wall time of the run on an unloaded core (single-threaded)
        timing=pd.DataFrame([{**tags, "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}]),
    )  # fmt: skip
    return ProbedResults(
        results,
        pd.DataFrame([{**tags, **{k: v for k, v in r.items() if k != "problems"}} for r in probe_rows]),
        pd.DataFrame([{**tags, "step": r["step"], **p} for r in probe_rows for p in r["problems"]]),
        pd.DataFrame([{**tags, **e} for e in _read_jsonl(run_dir / "probe_events.jsonl")]),
    )


def run_probed_grid(specs: Sequence, cfg, probe_problems: Sequence, run_root: str | Path, probe: ProbeConfig,
                    workers: int = 1, final_problems: Sequence | None = None) -> ProbedResults:
    """Returns the concatenated ``ProbedResults`` of ``specs``; ``workers`` > 1 runs them in spawned processes
    (as ``experiments.run_grid``: runs are seeded and independent, so the frames do not depend on ``workers``)."""
    keys = [(s.label, s.seed) for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate (label, seed) in specs: {keys}")
    final = None if final_problems is None else tuple(final_problems)
    jobs = [(s, cfg, tuple(probe_problems), str(run_root), probe, final) for s in specs]
    if workers <= 1 or len(jobs) == 1:
        return ProbedResults.concat([run_probed(*j) for j in jobs])
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return ProbedResults.concat(list(pool.map(run_probed, *zip(*jobs))))
