# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (rlvr-workbook)
#     language: python
#     name: rlvr-workbook
# ---

# %% [markdown]
# # 1-shot RLVR · Reinforcement Learning for Reasoning in Large Language Models with One Training Example
#
# Yiping Wang, Qing Yang, Zhiyuan Zeng, Liliang Ren, Lucas Liu, Baolin Peng, Hao Cheng, Xuehai He, Kuan Wang,
# Jianfeng Gao, Weizhu Chen, Shuohang Wang, Simon Shaolei Du, Yelong Shen (2025),
# [arXiv 2504.20571](https://arxiv.org/abs/2504.20571). Official code: `ypwang61/One-Shot-RLVR` (a verl 0.2 fork),
# read at commit 21ed529ec9.
#
# **What this notebook replicates** (numbered as in the reported-vs-reproduced table at the end)
#
# - **OS-1** GRPO on one example lifts Qwen2.5-Math-1.5B on MATH500 from 36.0% to 73.6% (six-benchmark
#   average 17.6% → 35.7%), **OS-1d** matching the 1.2k-example DSR-sub set (on the toy: RLVR on the whole pool);
# - **OS-2** post-saturation generalization: held-out accuracy keeps rising after training accuracy on the one
#   example has saturated; **OS-2m** its mechanism on the toy (the format habit fades on held-out problems) and
#   **OS-2c** its control (the same run in the control world, which has no habit);
# - **OS-3a** the policy-gradient loss drives the gain, **OS-3b** the entropy bonus matters (with the paper's
#   coefficient sweep 0, 1e-3, 1e-2, 3e-2);
# - **OS-4** the entropy loss alone, with no outcome reward, lifts MATH500 by 27.4 points (OS-4t: on the toy).
#
# **The toy world's latent deficiency.** The paper explains part of the 1-shot gain by format: the base model often
# answers without `\boxed{}` and one example teaches it to box everywhere (Sec. 4). The toy reasoner (world
# version 5) is trained on a world where 25% of solve traces end in `The answer is N.` instead of `\boxed{N}`
# (`deficiency_share`, `docs/toy_world.md`): ungradable on every problem alike. `toy-reasoner-control` is the same
# recipe with every mechanism knob at 0 — the habit, and also the hard tier, the sparks, the filler tokens and the
# guesses — so it is a control for "no habit" only up to those other knobs. The habit is invisible to greedy
# decoding (the boxed line is always the most likely), so every held-out number here is sampled at the paper's
# rollout temperature T = 0.6, where the base leaves about one answer in eight unboxed (the claims cell prints the
# share: 0.120 on the published run).
#
# **Expected wall time.** `smoke`: about a minute (tests only). `cpu`: 15 runs of 14 steps × 32 copies × 8
# rollouts on the toy reasoner, the first alone on both cores, the other 14 in two single-threaded worker
# processes: 550–585 CPU-seconds, 4.8–5.2 minutes over three runs on an otherwise idle 2-core machine — at the
# 5-minute budget, not under it with room (see the deviations); the run cell prints the CPU seconds it used, `run.json` records the wall time, and
# `docs/papers/one_shot_rlvr.md` gives the published run's measured numbers.
# `paper`: one GPU; the plan and a GPU-hour estimate print first (the paper's 2000 steps of 128 × 8 rollouts are
# days of one H100; 500 steps here).

# %% tags=["parameters"]
profile = "cpu"
seed = 0
model = "toy-reasoner"            # a workbook.models preset
control_model = "toy-reasoner-control"  # the pi1_control arm: the world with every mechanism knob at 0 (no habit)
train_set = "synthetic"           # "synthetic" (toy, pi1 chosen by the selection rule) | "one_shot_rlvr_pi1" (paper)
full_train_set = "synthetic"      # the full-set arm: toy pool | "one_shot_rlvr_dsr_sub" (paper, 1209 rows)
eval_benchmarks = ["synthetic"]   # held-out sets; paper: the six official benchmarks
n_train_problems = 8              # toy pool ("DSR-sub" of the toy): in-distribution problems ...
n_hard_problems = 4               # ... plus hard-tier problems (5-6 operands, workbook.toy.world.hard_spec)
n_eval_problems = 64              # held-out problems the arms are scored on (0: all)
n_select_problems = 32            # further held-out problems, disjoint, on which each run's peak step is chosen
n_curve_problems = 0              # paper: scoring problems of the in-training curve (0: all of the first set)
n_post_problems = 768             # further held-out problems the post-saturation claims read (0: the curve's)
post_arms = ["pi1"]               # arms the post probe measures (OS-2c reads the curve unless pi1_control)
selection_top_index = 0           # rank (by std of historical accuracy) of the chosen example; paper: pi1: 1st
arms = ["full_set", "pi1", "pi1_control", "no_entropy", "entropy_sweep", "entropy_only"]
entropy_sweep = [0.01, 0.03]      # entropy coefficients beside pi1's 0.001 and no_entropy's 0 (paper Sec. 4.1)
seeds = [3, 4, 5]
side_seeds = [3]                  # seeds of the side arms (full set, entropy 0 / 0.01 / 0.03): paired with pi1's
pi1_seeds = [3, 4, 5, 6, 7]       # pi1's seeds: all of seeds and more, for the post-saturation claim (OS-2)
steps = 14                        # optimizer steps per run (paper: 2000, validated every 20)
prompts_per_step = 32             # copies of pi1 per step, pool problems per step for full_set (paper: 128)
num_generations = 8               # rollouts per prompt (paper: 8)
max_completion_length = 48        # toy solutions are < 45 tokens (paper: 3072)
max_prompt_tokens = 0             # drop training prompts longer than this (0: no cap; paper: 1024)
micro_batch_size = 0              # completions per forward/backward (0: a whole step at once)
gradient_checkpointing = False    # recompute activations in backward (paper: on, as officially)
learning_rate = 1e-4              # toy: 1e-6 moves a 0.9M-parameter model nowhere in 20 steps (paper: 1e-6)
eval_every = 2
eval_n = 4                        # samples per held-out problem on the curve
eval_temperature = 0.6            # the rollout temperature: the format habit is invisible to greedy decoding
eval_max_new_tokens = 48
eval_batch_size = 256             # completions per forward pass of a probe (the samples do not depend on it)
eval_system_prompt = ""           # paper: qwen25-math-cot puts the instruction in the system turn
official_protocol = {}            # paper: final evaluation per dataset {name: [n, temperature]}
instruction = "Please reason step by step, and put your final answer within \\boxed{}."
saturation_threshold = 0.9        # rollout accuracy on pi1 counted as "saturated" (OS-2)
paired_seeds = True               # every step of a seed evaluated on the same draws; arms compared within a seed
generation_backend = "transformers"  # "transformers" (CPU) | "vllm" (paper, colocate)
device = "cpu"
bf16 = False
grading_mode = "strict"
workers = 2                       # processes for independent runs (each single-threaded)
torch_threads = 1
prompt_tokens = 200               # plan only: mean prompt length in tokens
gpu = ""                          # plan only: GPU to estimate for when none is found ("": H100)
n_boot = 2000

# %% [markdown]
# ## Setup
#
# Parameters are validated before any model is loaded; the plan (steps, rollouts, tokens, GPU-hours) and each
# claim's pre-registered power print first.

# %%
import resource
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from workbook import plotting
from workbook.metrics import grouped_estimates, hierarchical_bootstrap
from workbook.papers import claim_records, power_note
from workbook.papers import one_shot_rlvr as osr
from workbook.params import check_params
from workbook.reporting import RunDir, reported_vs_reproduced
from workbook.reporting.power import print_power
from workbook.rl import experiments as ex
from workbook.rl.methods import get_method

# %%
params = check_params("one_shot_rlvr", globals())
the_plan = osr.plan(params)  # validates the parameters first
torch.set_num_threads(torch_threads)
plotting.use_style()
run_dir = RunDir("one_shot_rlvr", profile)
t_start = time.time()
print(f"profile={profile}  model={model}  control={control_model or '-'}  run_dir={run_dir.path}")
print(the_plan["summary"])
power_tab = print_power("one_shot_rlvr", params)  # pre-registered: each claim's chance of "reproduced" here
decide_tab = osr.decision_power(params)  # and, for the claims expected absent, the chance to decide them
print(decide_tab.round(3).to_string(index=False))

# %%
if device == "cuda" and not torch.cuda.is_available():
    raise RuntimeError("the paper profile needs a CUDA GPU (the plan above is what it would run)")

# %% [markdown]
# ## 1. The method
#
# **The paper's statement.** 1-shot RLVR is GRPO on a training set made of one example π1 repeated (128 times,
# so a step sees 128 × 8 = 1024 rollouts of the same problem). The reward is 1 when the last `\boxed{}` equals the
# label, else 0. The loss, as the official code computes it (`core_algos.py`, `dp_actor.py::update_policy`), is
#
# L(θ) = token-mean[ max(−A·ρ, −A·clip(ρ, 0.8, 1.2)) ] − 0.001 · token-mean[ H(π_θ(·|prefix)) ]
#        + 0.001 · token-mean[ k3(π_ref, π_θ) ],
#
# with ρ = exp(log π_θ − log π_old), group advantage A_i = (r_i − mean_G r) / (std_G r + 1e-6) (unbiased std,
# broadcast to every token), entropy on logits divided by the rollout temperature 0.6, and the clamped k3
# estimator e^{lr−lp} − (lr−lp) − 1 ∈ [−10, 10] to the initial model. AdamW, lr 1e-6 constant, weight decay
# 0.01, gradient clip 1.0, one update per rollout batch.
#
# **How π1 was chosen.** Run GRPO on the full 1209-example DSR-sub set for 500 steps, record each example's
# training accuracy every epoch, and rank examples by the standard deviation of that history
# (`data/data_selection.py --method std`). π1 ranks first: an example whose accuracy moved most during training.
#
# **Why one example can work.** With 8 rollouts at T = 0.6 and a problem the base model solves sometimes, the
# group advantage is non-zero, so the policy gradient pushes towards completions that end in the right boxed
# answer — and part of that direction (consistent formatting, careful arithmetic) is shared by every problem. The
# paper reports that test accuracy keeps improving after π1 itself is solved every time (post-saturation
# generalization); with 1024 rollouts a step, a trickle of failed rollouts keeps the gradient alive long after.
#
# > Our engine implements this loss (`workbook.rl.objectives`, registered as `one_shot_rlvr` and `entropy_only` in
# > `workbook.rl.methods`) inside a TRL 1.16 `GRPOTrainer` subclass. The settings as registered:

# %%
pd.DataFrame([{k: v for k, v in vars(get_method(m)).items() if k not in ("description", "source")}
              for m in ("one_shot_rlvr", "entropy_only")])

# %% [markdown]
# ## 2. Data
#
# > On the toy, the "DSR-sub" is a pool of `n_train_problems` in-distribution problems plus `n_hard_problems`
# > hard-tier ones (5–6 operands, which the base model rarely solves), so the selection rule has harder problems
# > to choose from. Held-out problems come from the test split (disjoint by construction) and are split in two:
# > `n_select_problems` on which each run's best step is chosen (the paper's checkpoint rule) and `n_eval_problems`
# > on which that step is scored — choosing and scoring on the same problems would inflate every peak.

# %%
pool = osr.training_pool(train_set, n_train_problems, n_hard_problems, seed)
full_problems = pool if full_train_set == train_set else ex.load_problems(full_train_set, 0, "train")
held_out = {b: ex.load_problems(b, n_select_problems + n_eval_problems if n_eval_problems else 0, "test", seed)
            for b in eval_benchmarks}  # fmt: skip
post_set = ex.load_problems(eval_benchmarks[0], n_select_problems + n_eval_problems + n_post_problems, "test",
                            seed)[n_select_problems + n_eval_problems:] if n_post_problems else []  # disjoint
first_set = held_out[eval_benchmarks[0]]  # the in-training curve: the first benchmark (paper: MATH500)
curve_set = first_set[: n_select_problems + n_curve_problems] if n_curve_problems else first_set
select_ids, score_ids = osr.split_held_out({eval_benchmarks[0]: curve_set}, n_select_problems)
cap = osr.prompt_cap(full_problems, model, instruction, max_prompt_tokens)
full_problems = cap.kept
print(f"pool: {len(pool)} problems ({sum(p.problem_id.endswith('/hard') for p in pool)} hard); held-out: "
      f"{len(select_ids)} to choose the peak, "
      f"{len(score_ids)} to score it, {len(post_set)} for the post-saturation claims; prompt cap: {cap.summary}")

# %% [markdown]
# > One probe (`workbook.papers.one_shot_rlvr.FormatProbe`, an `EvalProbe`) measures every run on all held-out
# > problems every `eval_every` steps: accuracy and the share of completions without `\boxed{}` — the deficiency
# > itself — from the same `eval_n` samples at T = `eval_temperature`. Step 0 of each π1 run is the base model.
# > The post-saturation claims read only two evaluations of a run, the first at or after saturation and the last,
# > so a second probe (`SaturationProbe`, on the π1 arms of both worlds) measures just those two, on
# > `n_post_problems` further held-out problems: its samples are what decides OS-2, at the cost of two evaluations.

# %%
system = eval_system_prompt or None
curve_probe = osr.FormatProbe(curve_set, every=eval_every, n=eval_n, temperature=eval_temperature,
                              max_new_tokens=eval_max_new_tokens, system=system, same_draws=paired_seeds,
                              name="curve")
final_probe = osr.FormatProbe([p for ps in held_out.values() for p in ps], at_start=False, n=eval_n,
                              temperature=eval_temperature, max_new_tokens=eval_max_new_tokens, system=system,
                              protocol={k: (int(v[0]), float(v[1])) for k, v in official_protocol.items()},
                              name="final") if official_protocol else None  # paper: the official protocol
probes = [curve_probe] + ([final_probe] if final_probe else [])
post_probe = osr.SaturationProbe(post_set, every=eval_every, n=eval_n, temperature=eval_temperature,
                                 max_new_tokens=eval_max_new_tokens, system=system, same_draws=paired_seeds,
                                 threshold=saturation_threshold) if n_post_problems else None
cfg = ex.ExperimentConfig(
    model=model, max_steps=steps, prompts_per_step=prompts_per_step, num_generations=num_generations,
    max_completion_length=max_completion_length, learning_rate=learning_rate, instruction=instruction,
    micro_batch_size=micro_batch_size or None, gradient_checkpointing=gradient_checkpointing,
    grading_mode=grading_mode, generation_backend=generation_backend,
    device=device, bf16=bf16, torch_threads=torch_threads, probe_batch_size=eval_batch_size)
runs_root, c0 = run_dir.path / "runs", resource.getrusage(resource.RUSAGE_CHILDREN)

# %% [markdown]
# ## 3. Choosing π1 with the paper's rule, and the runs
#
# > The selection rule needs a full-set run; the full-set arm *is* that run (as in the paper, where the DSR-sub
# > run both supplied the accuracy history and served as the baseline). It runs first; π1 is the pool problem
# > whose per-epoch training accuracy, pooled over seeds, varied most. On the toy one step is one epoch of the pool.

# %%
first = [ex.RunSpec("full_set", "one_shot_rlvr", full_problems, s) for s in osr.arm_seeds("full_set", seeds, side_seeds)
         if "full_set" in arms]  # fmt: skip
# One run alone would leave all but one core idle: it gets their threads (checked on the cpu profile: the same
# rollouts, losses and probe samples as on one thread, in two thirds of the time).
solo = replace(cfg, torch_threads=max(torch_threads, workers // max(len(first), 1)))
res_first = ex.run_grid(first, solo, probes, run_root=runs_root, workers=workers) if first else None
torch.set_num_threads(torch_threads)  # the single run trained in this process
if train_set == "synthetic":  # the selection rule on the full-set arm's history, pooled over seeds
    steps_per_epoch = max(1, int(np.ceil(len(full_problems) / prompts_per_step)))
    hist = osr.historical_accuracy(res_first.history.query("label == 'full_set'"), steps_per_epoch)
    pi1_id, ranking = osr.select_by_variance(hist, selection_top_index)
    pi1 = next(p for p in pool if p.problem_id == pi1_id)
    run_dir.save_table(ranking, "selection_ranking")
else:  # paper: pi1 is fixed; the parquet holds it 128 times
    pi1, ranking = pool[0], None
print(f"pi1 = {pi1.problem_id}: {pi1.problem!r} (label {pi1.answer!r})")
ranking.head(6) if ranking is not None else None

# %% [markdown]
# > The π1 arms train on `prompts_per_step` copies of π1 (each copy its own rollout group, so the share of groups
# > with a non-zero advantage is countable). `pi1_control` is the same run on the control world's model. The arms the
# > decided claims read (`pi1_control`, entropy-only) run on every seed of `seeds`, π1 on `pi1_seeds` (those and
# > more, for OS-2); the side arms (the full set and the other entropy coefficients) on `side_seeds`. Seed s of every
# > π1 arm starts from the same model, draws the same training uniforms and — with `paired_seeds` — the same held-out
# > samples at every step, so two arms, or two steps of one run, are compared within a seed: where the policy did not
# > move, neither do the samples.

# %%
copies = osr.copies(pi1, prompts_per_step) if train_set == "synthetic" else [pi1]
specs = [ex.RunSpec(lab, meth, copies, s, ov) for lab, meth, ov in osr.arm_specs(arms, entropy_sweep)
         for s in osr.arm_seeds(lab, seeds, side_seeds, pi1_seeds)]  # fmt: skip
ctl_cfg, post = replace(cfg, model=control_model), [post_probe] if post_probe else []
longest_first = sorted(specs, key=lambda sp: (sp.label not in post_arms, sp.label != "pi1_control"))
jobs = [(sp, ctl_cfg if sp.label == "pi1_control" else cfg, probes + post * (sp.label in post_arms))
        for sp in longest_first]
res = ex.Results.concat([r for r in (res_first, ex.run_jobs(jobs, run_root=runs_root, workers=workers)) if r is not None])
c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_s = res.timing["cpu_seconds"].sum()
cpu_workers = max(cpu_s, (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime))  # spawned workers, imports incl.
print(f"{len(res.timing)} runs; CPU s of the runs {cpu_s:.0f}, of their processes {cpu_workers:.0f}; on an idle "
      f"2-core machine ~ {cpu_workers / max(workers, 1):.0f} s wall with {workers} single-threaded workers")

# %% [markdown]
# ## 4. Figures
#
# Top: training rollout accuracy (on π1 for the π1 arms, on the pool for the full set) and the share of rollout
# groups with a non-zero advantage (0 < correct < 8: the policy gradient is alive). Bottom: held-out accuracy and
# the held-out share of unboxed answers vs step, T = 0.6, all held-out problems. Bands: 95% hierarchical intervals
# over seeds × problems (`workbook.plotting.band`); `pi1_control` is dashed in π1's colour. Where the `pi1` and
# `no_entropy` curves coincide, the 0.001 entropy bonus changed no sampled token. The sweep is the second figure.

# %%
main_arms = [a for a in ("pi1", "full_set", "no_entropy", "entropy_only", "pi1_control") if a in set(res.train["label"])]
style = {"pi1_control": {"color": plotting.method_color("pi1"), "ls": "--"}}  # the same arm, the other world
live = osr.live_share(res.history)
curve = res["curve"].assign(unboxed=lambda d: d["n_unboxed"] / d["n"])
panels = [(res.train, "accuracy", "training rollout accuracy"), (live, "live", "share of groups with A ≠ 0"),
          (curve, "accuracy", "held-out accuracy (T = 0.6)"), (curve, "unboxed", "held-out share without \\boxed{}")]
fig, axes = plt.subplots(2, 2, figsize=(11, 8))
for ax, (frame, y, title) in zip(axes.flat, panels):
    for lab in main_arms:
        plotting.band(ax, frame.query("label == @lab"), x="step", y=y, method=lab, bounds=(0, 1), seed=seed,
                      **style.get(lab, {}))
    ax.set(xlabel="step", ylabel=y, title=title)
axes[0, 0].axhline(saturation_threshold, color="grey", ls=":", lw=1)
axes[1, 0].legend(fontsize=8)
fig.suptitle(f"1-shot RLVR on {model} (control: {control_model}): {len(seeds)} seeds, 95% CI")
fig.tight_layout()
headline_figure = "training_curves"
run_dir.save_figure(fig, headline_figure)

# %%
sweep = [lab for lab in ["no_entropy", "pi1", *[f"entropy_{c:g}" for c in entropy_sweep]]
         if lab in set(res.train["label"])]
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, (frame, y, title) in zip(axes, [(res.train, "entropy", "policy entropy on rollouts (nats)"),
                                        (live, "live", "share of groups with A ≠ 0"),
                                        (curve, "accuracy", "held-out accuracy (T = 0.6)")]):
    for lab in sweep:
        plotting.band(ax, frame.query("label == @lab"), x="step", y=y, method=lab, bounds=(0, None), seed=seed)
    ax.set(xlabel="step", ylabel=y, title=title)
axes[2].legend(fontsize=8, title="entropy coefficient")
fig.tight_layout()
run_dir.save_figure(fig, "entropy_sweep")

# %% [markdown]
# ## 5. The claims on this profile
#
# > **Post-saturation** (OS-2, OS-2m, OS-2c): per π1 seed, the first evaluation at or after the step where rollout
# > accuracy on π1 reached `saturation_threshold`; the change from there to the last step, per held-out problem,
# > with a hierarchical interval over seeds × problems. No checkpoint is chosen, so every problem of the
# > post-saturation probe counts (`n_post_problems`, none of them on the curve; with 0, the curve's problems). Both
# > ends of a seed are sampled on the same draws, so a problem whose samples did not change adds exactly 0. The
# > probe measures the arms in `post_arms` (π1 alone at `cpu`); OS-2c compares the two worlds on one set of
# > problems, so without `pi1_control` in the probe it reads the curve's problems in both.
# > **Arms** (OS-1d, OS-3a, OS-3b, OS-4t and the sweep table): each run at its peak trained step (step 0 is the
# > base, not a checkpoint), chosen on the `n_select_problems` problems and scored on the disjoint
# > `n_eval_problems`; the base is step 0 of the π1 runs. OS-3a, OS-3b, OS-4t and the sweep difference the two
# > arms within each seed both ran, then bootstrap over seeds × problems; OS-1d and OS-2c resample each arm's
# > seeds on their own.

# %%
sat = osr.saturation_steps(res.train, curve, "pi1", saturation_threshold)
print(f"pi1 saturated (rollout accuracy >= {saturation_threshold}) at evaluation step {sat} of {len(seeds)} seeds; "
      f"control: {osr.saturation_steps(res.train, curve, 'pi1_control', saturation_threshold)}")
base = curve.query("label == 'pi1' and step == 0")[["n", "n_correct", "n_unboxed"]].sum()  # unboxed is never graded
unboxed0, boxed_acc0 = base["n_unboxed"] / base["n"], base["n_correct"] / (base["n"] - base["n_unboxed"])
print(f"base (step 0, T = {eval_temperature}): unboxed share {unboxed0:.3f}, accuracy of its boxed answers "
      f"{boxed_acc0:.3f}: the format route can add at most ~{unboxed0 * boxed_acc0:.3f}")
final = pd.concat([ex.evaluate(cfg, [final_probe])["final"], res["final"]]) if final_probe else None
post_frame = res.probes.get("post")  # the SaturationProbe's two evaluations per π1 run (None: the curve's)
if post_frame is not None:
    print(f"post-saturation probe: {post_frame['problem_id'].nunique()} problems at steps "
          f"{osr.saturation_steps(res.train, post_frame, 'pi1', saturation_threshold)} → the last (pi1)")
reproduced = osr.claims(curve, res.train, select_ids, score_ids, saturation_threshold, final=final,
                        datasets=list(eval_benchmarks), n_boot=n_boot, seed=seed, paired=paired_seeds,
                        post=post_frame)
peaks = osr.peak_table(curve, select_ids, score_ids, n_boot=n_boot, seed=seed)
run_dir.save_table(peaks, "arms_at_peak")
peaks

# %% [markdown]
# > **The entropy sweep** (Sec. 4.1) at the arms' peaks: each coefficient minus π1's 0.001, paired by seed on the
# > side seeds, and the share of held-out cells where the arm's samples were exactly π1's.

# %%
sweep_tab = osr.sweep_table(curve, [lab for lab in sweep if lab != "pi1"], select_ids, score_ids, n_boot=n_boot,
                            seed=seed) if len(sweep) > 1 else pd.DataFrame()
run_dir.save_table(sweep_tab, "entropy_sweep")
sweep_tab

# %% [markdown]
# > The live gradient after saturation: the share of π1's rollout groups with a non-zero advantage, averaged over
# > the steps after each seed's saturation step (a t-interval over seeds of the hierarchical bootstrap).

# %%
live_after = osr.live_after_saturation(live, res.train, curve, saturation_threshold)
live_ci = {lab: hierarchical_bootstrap(g.pivot(index="seed", columns="step", values="live").to_numpy(),
                                       n_boot=n_boot, seed=seed, bounds=(0, 1)).to_dict()
           for lab, g in live_after.groupby("label")}  # fmt: skip
pd.DataFrame(live_ci).T

# %% [markdown]
# ## 6. Reported vs reproduced
#
# > Verdicts are computed by `workbook.reporting.reported_vs_reproduced` from the 95% CIs above; paper-scale rows
# > read "not run at this scale" on the toy.

# %%
table = reported_vs_reproduced("one_shot_rlvr", reproduced, profile, params=params)
run_dir.save_table(table, "reported_vs_reproduced")
for r in table.query("verdict != 'not run at this scale'").itertuples():
    print(f"{r.claim_id}: {r.reproduced} (n = {r.n}) -> {r.verdict}")
table[["claim_id", "claim", "paper", "reproduced", "n", "verdict"]]

# %%
metrics = {
    "headline_figure": headline_figure,
    "headline": {name: float(reproduced[k].value) for name, k in [("post_saturation_gain", "OS-2"),
                 ("post_saturation_unboxed_change", "OS-2m"), ("entropy_only_minus_base", "OS-4t")]
                 if hasattr(reproduced.get(k), "value")},  # fmt: skip
    "pi1_problem_id": pi1.problem_id,
    "saturation_steps": {str(k): v for k, v in sat.items()},
    "arms_at_peak": peaks.round(6).to_dict("records"),
    "entropy_sweep": sweep_tab.round(6).to_dict("records"),
    "live_share_after_saturation": live_ci,
    "live_share": grouped_estimates(live, by=["label", "step"], y="live").round(6).to_dict("records"),
    "claims": claim_records(reproduced),
    "verdicts": dict(zip(table["claim_id"], table["verdict"])),
    "eval_curve": grouped_estimates(curve, by=["label", "step"], y="accuracy").round(6).to_dict("records"),
    "seeds": list(seeds),
}
run_dir.write_metrics(metrics)
run_dir.write_provenance(params, seed, started=t_start)
print(f"done in {time.time() - t_start:.0f} s; results in {run_dir.path}")

# %% [markdown]
# **What to read above** (every number is printed by the cells above; a rerun with the same seed prints the same;
# the numbers quoted here are those of the published run on world version 5).
#
# - **Is the gradient alive after saturation?** The top-right panel and the live-share table: the share of π1's
#   32 rollout groups per step with 0 < correct < 8. On the published run the rule chose π1 = `Compute 8 - 6 +
#   (70 + 6).`, which crossed 0.9 at step 8 or 9 (first evaluation at or after it: step 8 or 10) on every seed, and
#   0.40 [0.30, 0.50] of its groups were still live afterwards (control world 0.23): the trickle of failures that
#   the paper's 1,024 rollouts keep is present here too, so a flat post-saturation curve is not a dead one.
# - **The mechanism (OS-2m) and its control (OS-2c).** The held-out share of unboxed answers after saturation, and
#   the post-saturation accuracy change in the habit world minus the control world. On the published run the
#   unboxed share fell from 0.120 at the base to 0.054 at step 14 (the last table) and by 0.022 [0.013, 0.031]
#   after saturation: one example removes the habit on problems it never saw. The difference between the worlds
#   (OS-2c), on the curve's 96 problems, is −0.008 [−0.031, +0.015]: undecided, as its power (7%) said it would
#   most likely be (on the post probe's 768 problems, before the budget cut below: +0.011 [−0.003, +0.025]).
# - **Post-saturation generalization (OS-2).** The held-out accuracy change from each seed's saturation to the last
#   step, on the post-saturation probe's 768 problems × 5 seeds. The design expected none: the boxed-answer gain is
#   small on this world (at most ≈ 0.06, the base's unboxed share times its boxed accuracy, printed above) and is
#   offset by what training on one arithmetic problem does to the others. The second power table gives this
#   design's chance to *decide* a true zero (83%). On the published run: −0.003 [−0.010, +0.005], wholly below
#   `min_effect` 0.013, so OS-2 reads not reproduced — the unboxed share keeps falling while accuracy stays flat.
# - **Entropy-only (OS-4t) and the sweep.** Entropy-only at its best checkpoint minus the base, within each seed:
#   −0.030 [−0.058, −0.002] on the published run, not reproduced. It peaked at its first or second checkpoint
#   (steps 2, 4, 2) while its unboxed share rose (0.11 → 0.28 by step 14: higher entropy at T = 0.6 makes the
#   unboxed final line more likely). The sweep table gives each coefficient minus π1's 0.001 at the peaks and the
#   share of held-out cells whose samples were exactly π1's (1.0: the coefficient changed no sampled token). On
#   the published run 0.96, 0.95 and 0.90 for entropy 0, 0.01 and 0.03, and no accuracy difference outside
#   ±0.03: at this scale the coefficient, even 30 times the paper's, barely moves what the policy samples.
#
# **What the toy decides, and what it cannot.** The toy decides, for a world whose only shared deficiency is a
# format habit: whether RL on one example removes the habit on held-out problems (OS-2m), whether held-out accuracy
# keeps rising after π1 saturates (OS-2) and — with little power at `cpu` — whether that needs the habit (OS-2c),
# and how the entropy bonus and entropy-only training act at this scale (OS-3b, OS-4t, the sweep table). It cannot
# decide the paper-scale numbers
# (OS-1a–c, OS-4), nor the paper's second explanation — self-reflection that a pretrained model already has: the toy
# has no such latent skill, so a toy null on OS-2 says the format route alone does not carry the claim here, not
# that the paper is wrong. `docs/papers/one_shot_rlvr.md` records the published run's numbers beside the pilot's.

# %% [markdown]
# ## 7. Deviations from the paper
#
# - **Engine.** TRL 1.16 `GRPOTrainer` with our subclass instead of the verl 0.2 fork. The advantage, clipped
#   surrogate, clamped k3 KL and entropy bonus are recomputed by `workbook.rl.objectives` as verl does; TRL's own
#   defaults that differ (loss_type "dapo", ε = 1e-4 in the std, vLLM importance-sampling correction) are pinned
#   off by the registry. Token-mean is over the micro-batch (verl 0.2), i.e. TRL `bnpo`.
# - **Grader.** The reward and our accuracy use `workbook.grading` (strict mode), not DeepScaleR's
#   `grade_answer_mathd or grade_answer_sympy` (training) nor Qwen2.5-Math's `math_equal` (evaluation).
# - **Prompt.** Training uses the chat template of "{problem} {instruction}" with the verl instruction. The paper
#   profile evaluates with the official `qwen25-math-cot` layout (the instruction as the system turn, the bare
#   question as the user turn) through `eval_system_prompt`, and drops DSR-sub prompts over 1,024 tokens
#   (`max_prompt_tokens`, verl's `data.max_prompt_length` filter).
# - **π1's label.** The paper's π1 (DSR-sub index 124) is labelled "12.8"; the exact answer is 2048^{1/3} ≈ 12.70.
#   We keep the inexact label, as the paper trained on it.
# - **Toy settings.** lr 1e-4 instead of 1e-6 (a 0.9M-parameter model does not move at 1e-6), 32 copies × 8 rollouts
#   per step instead of 128 × 8, 14 steps instead of 2000, held-out evaluation sampled at T = 0.6 with 4 samples on
#   the same draws at every step of a seed (the paper's MATH500 is greedy; greedy decoding hides the toy's format
#   habit), a 12-problem pool (8 in-distribution + 4 hard) for the selection rule instead of 1209 problems over 500
#   steps. The budget set the rest: π1 saturated at steps 8–10 on world version 4 and at steps 8–9 on version 5, so
#   14 steps leave 4–6 past saturation. The post-saturation change is read on its own 768 held-out problems, measured
#   only at its two ends (a whole curve of them would cost 8 evaluations a run), and on 5 seeds of π1: on version 5
#   its spread split into sample flips per (seed, problem) cell, which more problems shrink, and a seed level, which
#   only more seeds shrink (with 3 seeds the interval stays wide however many problems). The control world and
#   entropy-only run on 3 of those seeds, the control world without the post-saturation probe (OS-2c reads the
#   curve; see Cost); the side arms (full set, entropy 0 / 0.01 / 0.03) on one, compared with π1 within it — one
#   seed already shows whether a coefficient moved the samples at all. The full set therefore has one seed, as the
#   paper's selection run had.
# - **Saturation.** Rollout accuracy at T = 0.6 on π1 plateaued at 0.9–1.0 in the v4 pilot, so OS-2 counts 0.9 as
#   saturated (the paper's π1 reaches ~100%); on the published run (world version 5) every π1 seed had crossed
#   it by evaluation step 10, in both worlds.
# - **Checkpoint choice.** The paper reports each run at its best validation step; here that step is chosen on
#   held-out problems disjoint from the ones it is scored on.
# - **Paper profile.** 500 steps by default, arms π1, DSR-sub (training prompts over 1,024 tokens dropped) and
#   entropy-only, one seed, evaluated with the `qwen25-math-cot` prompt. OS-4 reads the entropy-only arm at its
#   peak on the in-training curve, and the third-party OS-4b at step 60 of that curve (the effect peaks near there
#   and fades), not at the last step. The in-training curve and the final evaluation use transformers generation,
#   not vLLM. The paper-profile path has been rehearsed on the CPU with vLLM. On one H200, a random-weight model of
#   Qwen2.5-Math-1.5B's shape ran this recipe at 1,024 tokens but ran out of memory at the paper's 3,072 with
#   micro-batch 16 and no gradient checkpointing (`results/gpu_check/paper_shape.md`); the profile now recomputes
#   activations with micro-batch 4, as the official script's 24,000-token budget does — not yet run on a GPU.
# - **Cost.** Sized to ~450 CPU-seconds from the previous split's runs, the design measured 578–606 CPU-seconds and
#   5.4–5.6 minutes on an idle machine: the selection rule picked a π1 with longer traces on seed 3, whose runs cost
#   about a third more per step, on top of the two extra π1 seeds and the post-saturation evaluations. Two changes,
#   made after that run, brought it under 5 minutes: the full-set run, which runs alone while π1 waits for its
#   history, trains on both cores (the same rollouts, losses and probe samples as on one thread, checked), and the
#   post-saturation probe measures π1 alone, so OS-2c reads the curve's 96 problems in both worlds. That cut OS-2c's
#   power from 0.30 to 0.07 (it was undecided before, and its new design is in its `why:`); every other number in
#   `metrics.json` is byte-identical to the earlier run's. Measured after the change, three runs on an otherwise idle
#   2-core machine: 289, 300 and 311 s wall (549–585 CPU-seconds; the last inside a whole `make replicate`). The
#   run cell prints the CPU seconds this run used, `run.json` records its wall time, and
#   `docs/papers/one_shot_rlvr.md` the published run's.
# - **Power.** Each claim's expected toy-scale effect was written down after a two-seed pilot on world version 4,
#   before the run, and kept for version 5; the spreads of the post-saturation claims were measured on version 5
#   (a run of other seeds and a pilot on other problems) before this design's run. The first table printed at the
#   top gives this design's chance to read "reproduced" at the expected effect, the second the chance of each
#   verdict for the two claims expected to be absent (OS-2, OS-4t), where deciding means "not reproduced".

# %%
print(power_note(power_tab))

# %% [markdown]
# ## 8. Exercises
#
# 1. Re-run the selection with `selection_top_index = 5` (a lower-variance example). Does the post-saturation
#    change differ?
# 2. Set `eval_temperature = 0.0`. What happens to the unboxed share, and to OS-2m? Why?
# 3. After saturation, which terms move the weights when every group of a step is all-correct? Rerun the π1 arm
#    with `method_overrides={"kl_coef": 0.0, "weight_decay": 0.0}` and compare the held-out curve.

# %% tags=["solution"]
# Exercise 2: greedy decoding always takes the most likely final line, which is the boxed one in both worlds.
curve.groupby(["label", "step"])["unboxed"].mean().unstack(0).round(3)
