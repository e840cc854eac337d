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
# # Inference-scaling limits · Inference Scaling fLaws: The Limits of LLM Resampling with Imperfect Verifiers
#
# Stroebl, Kapoor, Narayanan (2024; v3 "The Limits of Inference Scaling Through Resampling", ICLR 2026),
# [arXiv 2411.17501](https://arxiv.org/abs/2411.17501). Official code:
# [benediktstroebl/inference-scaling-limits](https://github.com/benediktstroebl/inference-scaling-limits) @ 11a8f6e.
#
# **What this notebook replicates** (numbered as in the reported-vs-reproduced table at the end)
#
# - **L1** with an imperfect verifier, resampling until it accepts has an accuracy ceiling — the mean over tasks of
#   a/m (correct among accepted samples) — well below 1; tested on the toy reasoner with its own *trained* verify
#   skill as the verifier, whose false-positive rate is measured here, not set; **L1c** the same with a code model's
#   HumanEval+ base tests; **L1t** the toy's last-digit verifier (a check: true by its construction);
# - **L2** (paper scale) a model's pass@1 and its ceiling lie on one line (HumanEval+: ceiling = 0.22·pass@1 + 0.72),
#   so a weak model cannot resample its way to a strong model's single-sample accuracy. At toy scale we measure the
#   line over five model strengths (training snapshots and the control world's model) × two temperatures, and test
#   its consequence, ceiling(weak) < pass@1(strong): **L2t** with the verify skill, **L2u** with the last-digit check;
#   **L4–L5** Llama 3.1 8B's point on it;
# - **L3** when a false positive costs c > 0 the expected utility U(k) bends down and the best number of samples is
#   small; **L6–L7** Llama 3.1 8B's k_opt (paper scale);
# - **L8** (paper scale) false positives are worse code beyond correctness (line length);
# - **L9–L10** the theoretical easy/hard model: the official demo's k_opt (exact, a check) and GPT-4o's (paper scale).
#
# **What the toy decides and what it cannot.** The toy is designed to decide L1 (a learned verifier with a measured
# false-positive rate) and L2t (the weak-below-strong consequence of the line, on toy strengths), and L2u, the same
# pair with a better verifier, whose gap is expected *above* 0 (then it reads "not reproduced": the consequence
# depends on the verifier); L1t and L10 are checks. L1 is
# not forced by the design: a verifier blind to correctness would make the ceiling equal pass@1 (and L1 trivially
# true), so the notebook measures what the verify skill knows — its balanced accuracy and how far it lifts the
# ceiling above pass@1, with intervals — and L1 counts only because that lift is above 0. L2t and L2u read one
# pre-registered pair (the 1,000-step snapshot against the final model) on 512 problems of their own, apart from
# the line's 64: on the published run L2t is reproduced and L2u not reproduced, both with their interval clear of 0.
# L3 (U(k) peaks early) needs a positive peak: with the last-digit check every k loses at c = 4, so it reads
# "untestable here", as the code detects. The toy cannot decide
# the paper's numbers (the line's slope and intercept on HumanEval+, L2, L4–L9): those need the paper's models and
# verifiers, and the toy's line is shown beside the paper's for comparison, not as a test of it.
#
# **Expected wall time**: `smoke` about a minute; `cpu` about 350 CPU-s on two torch threads (they draw the same
# samples as one): 10 points × 64 problems × 32 samples, each sample verified once by the verify skill (about 140
# CPU-s), and the weak/strong pair on 512 problems × 32 samples, only the weak model's verified (about 200 CPU-s).
# Two runs on toy world version 5 on an otherwise idle 2-core machine: 329–346 CPU-s, about 3 minutes wall each (the
# published run's own numbers are in its `run.json`).
# The code model is off at `cpu`: SmolLM2-135M passed 1 of 32 HumanEval+ samples in the first build. `paper`: 164
# HumanEval+ tasks × 200 samples at T = 0.8 with vLLM (about an hour on one GPU for an 8B model, not measured) and
# the sandboxed tests on the CPU cores.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
strengths = ["toy-reasoner@250", "toy-reasoner@500", "toy-reasoner@1000", "toy-reasoner", "toy-reasoner-control"]
temperatures = [0.7, 1.0]         # sampling temperatures: the second axis of model strength
model = "toy-reasoner"            # the main point (L1, L3, U(k)): one of strengths, at `temperature`
temperature = 1.0
weak_model = "toy-reasoner@1000"  # L2t/L2u: its ceiling against the main model's pass@1
gap_problems = 512                # L2t/L2u: the pair's own problems (disjoint from the line's), n_samples each
verifier_model = "toy-reasoner"   # whose trained verify skill judges every point's samples
verify_temperature = 1.0          # one sampled verification report per sample
verify_max_new_tokens = 128
device = "cpu"
n_problems = 64                   # synthetic test-split problems (the same for every point)
min_operands = 2
max_operands = 4
n_samples = 32                    # samples per problem and point (n in the paper's notation)
max_new_tokens = 96
batch_size = 256
weak_verifier = "last_digit"      # the partial-answer verifier of the U(k) section
costs = [0.0, 1.0, 2.0, 4.0, 8.0] # false-positive costs c (the paper's grid)
n_sims = 1000                     # Monte-Carlo shuffles per task (the official simulation)
run_code = False                  # part (c): HumanEval+ base vs plus tests with a small code model
code_model = "smollm2-135m-instruct"
code_backend = "transformers"     # "transformers" | "vllm" (paper profile)
code_benchmark = "humaneval_plus" # "humaneval_plus" | "mbpp_plus"
code_problems = 8                 # first tasks of the benchmark; 0 means all
code_samples = 4
code_temperature = 0.8
code_max_new_tokens = 192
code_batch_size = 64
code_workers = 2                  # sandboxed test processes in parallel
theory_r = [0.87, 0.13]           # the official notebook's demo: per-sample correctness (easy, hard)
theory_p = [0.58, 0.42]           # priors of easy / hard tasks
theory_s = 0.75                   # verifier soundness
theory_costs = [0.7, 1.0, 2.0]
theory_k_max = 15
n_boot = 2000
torch_threads = 2                 # 2 on an idle 2-core machine (the same samples as 1); 1 when the machine is shared

# %% [markdown]
# ## Setup
#
# Parameters are checked (names, types, model names) before anything heavy runs. At `paper` the cell prints the plan
# (tokens, test programs) first.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from workbook import evaluation, plotting
from workbook.papers import claim_records, power_note
from workbook.papers import inference_scaling_limits as isl
from workbook.params import check_params
from workbook.reporting import RunDir, reported_vs_reproduced
from workbook.reporting.power import print_power
from workbook.runner import cpu_seconds
from workbook.sandbox import isolation_mode, require_isolation

params = check_params("inference_scaling_limits", globals())
isl.validate(params)
torch.set_num_threads(torch_threads)
plotting.use_style()
# model-written code runs at the paper profile only with real isolation (one clear error here, before any work)
sandbox_mode = require_isolation(profile) if run_code else isolation_mode()
run_dir, t_start = RunDir("inference_scaling_limits", profile), time.time()
print(f"profile={profile}  model={model} (T = {temperature})  weak_model={weak_model}  verifier={verifier_model}\n"
      f"code_model={code_model} ({code_backend}, run_code={run_code})  sandbox isolation: {sandbox_mode}\n"
      f"plan: {isl.plan(params)['summary']}")
power_tab = print_power("inference_scaling_limits", params)  # pre-registered: each claim's power with this design
# L2u is expected above 0 ("not reproduced"): its power is the chance of that decided verdict
isl.decided_power(["L2t", "L2u"], params)

# %% [markdown]
# ## 1. The theoretical model (exact, seconds)
#
# The paper's model: tasks are *easy* or *hard* (priors p_t), a sample is correct with probability r_t, and the
# verifier accepts every correct sample (completeness 1) but also a wrong one with probability 1 − s (soundness s).
# One attempt is rejected with probability β_t = s·(1 − r_t). We resample until the verifier accepts, at most K
# times; a correct answer is worth 1, a false positive costs c.
#
# > The exact expected utility is E(K) = Σ_{k≤K} Σ_t p_t·β_t^(k−1)·(r_t − c·(1 − r_t)(1 − s)). The official notebook
# > instead multiplies two posterior-weighted averages per attempt, [Σ_t b_t(k)·value_t]·[Σ_t b_t(k)·β_t^(k−1)] with
# > b_t(k) ∝ p_t·β_t^(k−1): the posterior enters twice, so its E(K) is not the expectation of the reward. We implement
# > both (`isl.model_utility(..., form="exact" | "repo")`); on the demo parameters they agree on k_opt and differ in U.

# %%
demo = isl.EasyHardModel(r=tuple(theory_r), p=tuple(theory_p), s=theory_s)
ks_theory = np.arange(1, theory_k_max + 1)
fig, ax = plt.subplots(figsize=(6.5, 4))
for i, c in enumerate(theory_costs):
    for form, ls in (("exact", "-"), ("repo", "--")):
        ax.plot(ks_theory, isl.model_utility(demo, ks_theory, c, form), ls=ls, color=f"C{i}", label=f"c = {c} ({form})")
theory_table = isl.theory_table(demo, theory_costs, theory_k_max)
ax.scatter(theory_table["k_opt"], theory_table["U(k_opt)"], color="k", marker="x", s=40, zorder=5)
ax.set(xlabel="K (maximum attempts)", ylabel="expected utility E(K)",
       title=f"easy/hard model: r = {theory_r}, p = {theory_p}, s = {theory_s}")
ax.legend(fontsize=7, ncol=2)
run_dir.save_figure(fig, "theory_utility")
plt.show()
run_dir.save_table(theory_table, "theory_k_opt")
theory_table

# %% [markdown]
# Both forms put k_opt at the same K for every cost here; the official form overstates U(k_opt) (0.554 vs the exact
# 0.525 at c = 0.7), because its second bracket reweights the survival probability by the posterior.

# %% [markdown]
# ## 2. Model strengths, temperatures and three verifiers
#
# The paper's points are 17 models, each sampled ≥ 200 times per HumanEval+ task; the verifier is a task's original
# (base) unit tests, the ground truth the EvalPlus (plus) tests. Here each *point* is one toy checkpoint — the
# snapshots of `toy-reasoner` after 250, 500 and 1,000 of its 2,000 training steps, the final model, and
# `toy-reasoner-control` (the same recipe in the world without mechanisms) — sampled at each temperature on the same
# held-out test-split problems. The ground truth is the exact answer; every sample is judged by three verifiers:
#
# - **exact** (the control): the ground truth itself, no false positives; its ceiling is 1 wherever m > 0;
# - **last digit**: accepts when the boxed answer's last digit matches — a partial check like a weak unit test;
# - **verify skill**: the final toy model's own trained verification (the DSER verify prompt, one sampled report
#   per sample), fixed for all points as the paper's unit tests are. Its false-positive rate P(accept | wrong) is
#   a property of a learned skill, measured below on the models' own held-out samples.
#
# > The verify skill accepts only samples with a boxed answer: a sample without one (the toy's format habit,
# > `The answer is N.`) has no answer to accept, as a program that does not run fails its unit tests, and the skill
# > was trained on candidates that always end in a box. `verify_skill_raw` keeps the skill's verdict alone, so the
# > tables show how many of its false positives were unboxed answers with right steps.

# %%
from workbook.data.synthetic import ArithmeticSpec, generate_problems
from workbook.grading import Grader

spec = ArithmeticSpec(n_operands=max_operands, min_operands=min_operands)
problems = generate_problems(n_problems, seed=seed + 1, spec=spec)
grader, t0 = Grader(mode="strict"), time.time()
verifier = isl.load_strength(isl.parse_strength(verifier_model), device=device, batch_size=batch_size)
points, frames = isl.collect_points(
    strengths, temperatures, problems, n_samples, verifier=verifier, grader=grader, seed=seed,
    max_new_tokens=max_new_tokens, verify_temperature=verify_temperature, verify_max_new_tokens=verify_max_new_tokens,
    device=device, batch_size=batch_size)
print(f"{len(points)} points × {n_problems} problems × {n_samples} samples in {time.time() - t0:.0f} s; "
      f"grader: {grader.name}")

# %% [markdown]
# ### The mechanism: each verifier's false positives, measured
#
# Per point and verifier: pass@1, the ceiling (mean over tasks with m > 0 of a/m), the verifier's false- and
# true-positive rates P(accept | wrong), P(accept | right) pooled over samples, its balanced accuracy
# (TPR + 1 − FPR)/2, and the **lift**: per task with m > 0, a/m minus the task's pass rate. Intervals: 95% bootstrap
# over problems. Two controls bracket the verify skill: the exact check (no false positives) lifts every task to 1;
# a verifier blind to correctness accepts a random subset, so a/m is the task's pass rate in expectation — lift 0,
# balanced accuracy 0.5. With such a verifier L1 would be forced (the ceiling is pass@1, far below 1).

# %%
point_tab = isl.point_table(points, n_boot=n_boot, seed=seed)
run_dir.save_table(point_tab, "points")
by_point = point_tab.set_index(["model", "temperature", "verifier"])
main_key, weak_key = (isl.parse_strength(model).label, temperature), (isl.parse_strength(weak_model).label, temperature)
show = ["pass@1", "ceiling", "ceiling lo", "ceiling hi", "false-positive rate", "true-positive rate",
        "balanced accuracy", "lift", "lift lo", "lift hi", "tasks with m > 0"]
by_point.loc[[main_key + (v,) for v in isl.VERIFIER_NAMES] + [weak_key + (v,) for v in isl.VERIFIER_NAMES], show]

# %% [markdown]
# The verify skill on every strength's samples (one fixed verifier, as the paper's unit tests are fixed across its
# models; its false positives differ by strength because each strength makes different mistakes), and a reading of
# its skill on the main model's samples, printed from the numbers:

# %%
skill_tab = isl.verify_skill_table(point_tab)
run_dir.save_table(skill_tab, "verify_skill")
print(f"{model} (T = {temperature}) judged by {verifier_model}'s verify skill: "
      + isl.skill_reading(by_point.loc[main_key + ("verify_skill",)]))
skill_tab

# %% [markdown]
# How to read it: a positive lift means an accepted sample is more often right than a random one, so resampling
# against the verify skill climbs above pass@1 — and how far it stays below 1 (L1) depends on the skill's measured
# false-positive rate, not on the design. On the published run the skill's balanced accuracy on the final model's
# samples at T = 1 is 0.77 [0.74, 0.80]: clearly above chance and not distinguishable from the toy world's 0.75
# target, with a lift of 0.20 [0.15, 0.24]. Without the boxed-answer rule (`verify_skill_raw` in the points table) it
# is 0.70 with a lift of 0.09: about 40% of the bare verdict's false positives (0.36 of wrong samples against 0.22)
# are unboxed answers whose steps are right. The last-digit check rejects most wrong answers (its false positives are
# the errors off by a multiple of 10); the exact check reaches 1.

# %% [markdown]
# ## 3. Pass@1 against the ceiling: the line over model strengths
#
# Each point with 95% intervals over problems; the line is the least-squares fit (the official code's `np.polyfit`)
# through the points, its slope and intercept with 95% intervals from resampling the shared problems jointly. The
# paper's HumanEval+ points (9 of its 17 models, from its figure data) and its fit ceiling = 0.22·pass@1 + 0.72 are
# drawn for comparison: a different task and verifier, so the toy's line is not a test of the paper's numbers.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 6), sharey=True)
for ax, v in zip(axes, ("verify_skill", "last_digit")):
    isl.plot_paper_line(ax)
    isl.plot_points(ax, point_tab[point_tab["verifier"] == v], isl.line_fit(points, v, n_boot=n_boot, seed=seed))
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="pass@1 (single sample, exact answer)",
           title=f"verifier: {v.replace('_', ' ')}")
axes[0].set_ylabel("accuracy ceiling (resampling until accepted)")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=7, frameon=False)
fig.subplots_adjust(bottom=0.3)
run_dir.save_figure(fig, "pass1_vs_ceiling")
plt.show()

# %%
paper_fit = isl.paper_figure_data()["fits"]["humaneval_plus"]
line_tab = isl.line_table(points, ("verify_skill", "last_digit"), paper_fit, n_boot=n_boot, seed=seed)
run_dir.save_table(line_tab, "line_fit")
point_of = {(p.label, p.temperature): p for p in points}
line_tab

# %% [markdown]
# How to read it: the verify skill lifts each point only part of the way above the diagonal (its lift, §2), so the
# toy's line under it is steep (slope about 1.25, intercept about 0.06, on the published run): the weak snapshots'
# ceilings stay below the final model's single sample. The paper's line is
# shallow and high (slope 0.22, intercept 0.72) because unit tests reject most wrong programs; the toy's learned
# verifier accepts 7–30% of wrong answers (22% of the final model's at T = 1), so neither the slope nor the
# intercept is inside the toy's intervals (the table says so): the line's shape is a property of the verifier. The
# last-digit check rejects about 84–93% of wrong answers and lifts every snapshot more: the 1,000-step snapshot's
# ceiling under it (0.36) is above the final model's pass@1 (0.30). The control
# world's model (no format habit, no sparks) gets a smaller lift from the treatment model's verify skill than the
# final model does (0.13 against 0.20 at T = 1) at about the same balanced accuracy.

# %% [markdown]
# ### L2 at toy scale: one weak/strong pair on problems of its own
#
# The line places every point; L2t asks one pre-registered pair a sharper question: does the 1,000-step snapshot's
# ceiling stay below the final model's pass@1 (at T = 1)? The contrast gets `gap_problems` problems of its own,
# drawn apart from the line's 64 (and from its pilot's), n_samples each. Where its variance comes from, measured
# in a pilot on disjoint seeds (its numbers are in the claims' `why` and the `cpu` parameters file):
#
# - **problems** carry most of it, so the budget goes to more problems; doubling the samples per problem narrowed
#   the interval by a tenth to a fifth while doubling the cost;
# - **the verifier's own sampling** (one report per sample) is about a third of the per-problem variance of the
#   weak model's ceiling, but verification is most of the cost: more reports per sample buy less than more problems;
# - **pairing**: both models answer the same problems, so the bootstrap resamples problems jointly (the weak
#   ceiling and the strong pass@1 rise and fall together across problems), and they sample with the same seed
#   (common random numbers). That is free but narrowed nothing measurable: the two snapshots seldom write the same
#   text from the same draws;
# - **exact where possible**: only the weak model's ceiling is read, so only its samples are verified; the strong
#   model's pass@1 needs its samples graded, nothing more.
#
# The table: the weak model under each verifier (pass@1, ceiling, false- and true-positive rate, lift), the strong
# model's pass@1, the gap with its paired 95% interval, and the sd per problem that interval implies (the scale the
# power analysis at the top assumed).

# %%
gap_set = isl.disjoint_problems(gap_problems, seed + 2, spec, exclude=problems)
t0 = time.time()
weak_pt, strong_pt = isl.collect_pair(
    weak_model, model, temperature, gap_set, n_samples, verifier=verifier, grader=grader, seed=seed + 500,
    max_new_tokens=max_new_tokens, verify_temperature=verify_temperature, verify_max_new_tokens=verify_max_new_tokens,
    device=device, batch_size=batch_size)
pair_tab = isl.pair_table(weak_pt, strong_pt, n_boot=n_boot, seed=seed)
run_dir.save_table(pair_tab, "weak_strong_pair")
print(f"the pair on {len(gap_set)} problems × {n_samples} samples in {time.time() - t0:.0f} s")
pair_tab[["verifier", "pass@1", "ceiling", "false-positive rate", "true-positive rate", "lift", "lift lo", "lift hi",
          "tasks with m > 0", "strong pass@1", "gap", "gap lo", "gap hi", "gap sd per problem"]]

# %% [markdown]
# How to read it: on the published run the 1,000-step snapshot answers 5% of its samples right; the verify skill
# accepts 63% of those but also 12% of its many wrong ones, so its ceiling (0.14) stays far below the final model's
# single sample (0.28): L2t's gap is −0.14 [−0.16, −0.12]. The last-digit check accepts every right answer and 7%
# of the wrong ones: by the paper's own model a task's ceiling is r/(r + (1 − r)(1 − s)), and with that soundness
# the weak snapshot's ceiling (0.35) passes the final model's pass@1 by +0.07 [+0.04, +0.10] (L2u). So the
# consequence of the line is a property of the verifier's false positives relative to the weak model's pass rate,
# not of resampling alone. The sd per problem the intervals imply (0.25 and 0.37) is what the power analysis at the
# top assumed (0.29 and 0.38).

# %% [markdown]
# ## 4. The main model with the last-digit verifier: U(k) and k_opt
#
# The rest of the resampling analysis on the main point (`model` at `temperature`) with the last-digit verifier.
# Per task: a = accepted and correct, f = accepted but wrong, m = a + f, n = samples. Resampling until the verifier
# accepts returns a uniformly random accepted sample, so with unlimited samples a task is solved with probability
# a/m; the paper's error bars put tasks with m = 0 at 0 or 1.

# %%
main_point, frame = point_of[main_key], frames[main_key]
correct, accepted = main_point.correct, main_point.accepted[weak_verifier]
counts = isl.task_counts(accepted, correct, [p.problem_id for p in problems])
completeness, soundness = float(accepted[correct].mean()), float(1 - accepted[~correct].mean())
ceiling_table, pass1_est, ceiling_est = isl.ceiling_table(counts, n_boot=n_boot, seed=seed)
run_dir.save_table(ceiling_table, "toy_ceiling")
print(f"completeness {completeness:.3f}, soundness {soundness:.3f}; tasks with m = 0: {(counts.m == 0).sum()}")
ceiling_table

# %% [markdown]
# ### Expected utility U(k): closed form and the official simulation
#
# The official `run_optimized_simulation` shuffles each task's samples, takes the first accepted one (position K), and
# scores +1 if it is correct, −c if it is a false positive, 0 if nothing is accepted within k. Its expectation has a
# closed form (samples drawn without replacement):
#
# U_t(k) = [1 − C(n−m, k)/C(n, k)]·(a − c·f)/m.
#
# > We derived the closed form; the table below checks it against the simulation on the toy's own samples (the
# > difference must stay within a few Monte-Carlo standard errors). The curves use the closed form; bands are 95%
# > bootstrap intervals over tasks.

# %%
ks = np.unique(np.round(np.geomspace(1, n_samples, 12)).astype(int))
sim_table = isl.simulation_table(counts, accepted, correct, ks, costs, n_sims=n_sims, seed=seed)
run_dir.save_table(sim_table, "closed_form_vs_simulation")
sim_table

# %%
kopt_table, utility_bands = isl.utility_table(counts, costs, ks, n_boot=n_boot, seed=seed)
fig, ax = plt.subplots(figsize=(6.5, 4))
for i, c in enumerate(costs):
    plotting.estimate_band(ax, ks, utility_bands[c], label=f"c = {c:g}", color=f"C{i}")
ax.scatter(kopt_table["k_opt"], kopt_table["U(k_opt)"], c=[f"C{i}" for i in range(len(costs))], marker="x", zorder=5)
ax.axhline(0, color=plotting.NEUTRAL, lw=0.8)
ax.set_xscale("log", base=2)
ax.set(xlabel="k (samples drawn, at most)", ylabel="expected utility U(k) (mean over tasks)",
       title=f"{model}, last-digit verifier ({len(counts)} tasks × {n_samples}; 95% CI over tasks)")
ax.legend(fontsize=8)
run_dir.save_figure(fig, "toy_utility")
plt.show()
run_dir.save_table(kopt_table, "toy_k_opt")
kopt_table

# %% [markdown]
# With c = 0 more samples never hurt; with c > 0 the curve peaks and then falls, because every extra attempt on a
# hard task is another chance to accept a false positive. On the published run it peaks at k = 3 for c = 1 and at
# k = 1 for c = 2; at c ≥ 4 every k loses on average, so the best choice is to abstain (k_opt = 0). Then L3 ("the
# utility peaks early", at c = 4) has no peak to locate: it reads "untestable here" whenever the best U(k) is not
# above 0 with its interval, rather than passing because 0 ≤ 10.

# %% [markdown]
# ### The theoretical model fitted to the toy
#
# The official `calculate_model_params` splits tasks at a plus-pass (here: correct) rate of 0.5, sets r_t to the
# group means and p_t to the group fractions, and estimates soundness as
# s = (1 − B − Q + mean(a/m)·B)/(1 − Q) with B, Q the mean verifier-pass and correct rates.
#
# > That formula replaces mean(P(accept ∧ correct)) by mean(P(correct | accept))·mean(P(accept)). Our exact fit uses
# > the share of wrong samples the verifier rejects, mean((n − m)/n)/mean((n − a)/n). We fit both and compare the
# > model's k_opt with the empirical one.

# %%
fit_table = isl.fit_table(counts, costs, kopt_table)
run_dir.save_table(fit_table, "toy_model_fit")
fit_table

# %% [markdown]
# The two-type model is coarse (it lumps all tasks into two pass rates), so its k_opt is a rough guide; the table
# shows where it agrees with the empirical one.

# %% [markdown]
# ## 5. HumanEval+ base tests vs plus tests with a small code model
#
# The paper's setting: the verifier is a task's original (base) unit tests, the ground truth the EvalPlus (plus)
# tests. Every completion runs in `workbook.sandbox`: a separate process with CPU/memory/output limits, and network
# and file-system isolation only as far as this machine's isolation mode allows (printed below, and at the top;
# `rlimits-only` has neither, so the paper profile refuses it); `workbook.code_eval` runs the canonical solution to get the
# expected outputs (EvalPlus's differential testing). The only code model small enough for a laptop,
# SmolLM2-135M-Instruct, passes almost nothing, so `cpu` skips this part (`run_code = False`); `smoke` runs it with a
# tiny random model to keep the sandbox path tested, and `paper` with Llama 3.1 8B.

# %%
from workbook.code_eval import evaluate as run_tests
from workbook.data import load_benchmark
from workbook.generation import make_backend, prompt_fn

code = None
print(f"sandbox isolation on this machine: {isolation_mode()}")
if run_code:
    code_problems_list = load_benchmark(code_benchmark, limit=code_problems or None)
    cgen = make_backend(code_model, code_backend, **({"device": device, "batch_size": code_batch_size}
                                                      if code_backend == "transformers" else {}))
    code_texts = evaluation.by_problem(evaluation.sample(
        cgen, code_problems_list, code_samples, prompt_fn=prompt_fn(cgen.tokenizer, isl.CODE_INSTRUCTION), seed=seed,
        temperature=code_temperature, max_new_tokens=code_max_new_tokens), "text")
    t0 = time.time()
    code_results = run_tests(code_problems_list, code_texts, workers=code_workers)
    code = {"counts": isl.counts_from_code_results(code_results),
            "line_length_diffs": isl.line_length_differences(code_problems_list, code_texts, code_results)}
    print(f"tested {sum(map(len, code_results))} programs in the sandbox ({sandbox_mode}) in {time.time() - t0:.0f} s")
    print("example completion:", repr(code_texts[0][0][:400]))

# %%
code_summary = None
if code is not None:
    # fail vs timeout can depend on machine load, so the outcome breakdown is a table, not part of metrics.json
    outcomes = pd.Series([f"base {r.base} / plus {r.plus}" for row in code_results for r in row]).value_counts()
    run_dir.save_table(outcomes.rename_axis("outcome").reset_index(name="programs"), "code_outcomes")
    code_summary, code["pass1"], code["ceiling"] = isl.code_summary(code["counts"], costs, n_boot=n_boot, seed=seed)
    run_dir.save_table(code_summary, "code_summary")
code_summary

# %% [markdown]
# With a near-zero pass rate almost no task has an accepted sample, so the ceiling is undefined or rests on a handful
# of tasks: the pipeline runs end to end, but the numbers that test the paper need the `paper` profile's models.

# %% [markdown]
# ## Reported vs reproduced
#
# - **L1**: per task 1 − a/m (tasks with m > 0) for the main model with the trained verify skill as the verifier;
#   its measured false-positive rate is printed below. **L1c**: the same with the code model's HumanEval+ base tests
#   (when `run_code`). "Untestable here" when no task has an accepted sample (the ceiling is undefined).
# - **L1t**: the same on the toy with the last-digit verifier — a check: that verifier accepts every answer off by a
#   multiple of 10, so the ceiling is below 1 by construction.
# - **L2t / L2u**: ceiling(`weak_model`) − pass@1(`model`) at the main temperature on the pair's `gap_problems`
#   problems, paired over them, with the verify skill / the last-digit check. L1 and L2t are decided only when the
#   verify skill's lift on the point they read (main / weak model) has an interval above 0; otherwise they read
#   "untestable here" (forced).
#   **L2**: the code model's ceiling minus the paper line's prediction at its pass@1 (HumanEval+ only, `paper` scale).
# - **L3**: k_opt at c = 4 with a 95% percentile interval from a task bootstrap (toy at `cpu`, code model at `paper`);
#   decided only when the best U(k) at c = 4 is above 0 (its interval), else there is no peak and it is untestable.
# - **L4–L7**: the code model's pass@1, ceiling and k_opt — compared with Llama 3.1 8B only when that is the model.
# - **L8**: mean share of lines ≤ 70 characters in false positives minus true positives (tasks with both).
# - **L9** needs GPT-4o's samples (not run); **L10**: the exact demo k_opt at c = 0.7 (no sampling: a check).
#
# Verdicts are computed by `workbook.reporting.reported_vs_reproduced`; an empty or NaN estimate reads "untestable
# here" with its reason. Read L1 with the verify skill's lift beside it (printed below): with a lift of 0 (a verifier
# blind to correctness) the ceiling is pass@1 and L1 is forced by the model's error rate; with a lift clearly above
# 0 the ceiling lies between pass@1 and 1, and whether it stays 0.07 below 1 is decided by the skill's measured
# false positives.

# %%
reproduced = isl.reproduced(counts, code, profile, code_model, code_benchmark, n_boot=n_boot, seed=seed,
                            main=main_point, weak=weak_pt, strong=strong_pt)
rvr = reported_vs_reproduced("inference_scaling_limits", reproduced, profile, params=params)
run_dir.save_table(rvr, "reported_vs_reproduced")
fpr = by_point.loc[main_key + ("verify_skill",)]
print(f"verify skill on {model}'s samples: false-positive rate {fpr['false-positive rate']:.3f} "
      f"[{fpr['false-positive rate lo']:.3f}, {fpr['false-positive rate hi']:.3f}], true-positive rate "
      f"{fpr['true-positive rate']:.3f}; {isl.skill_reading(fpr)}")
print(f"verify skill on {weak_model}'s samples (the pair's problems): "
      + isl.skill_reading(pair_tab.set_index("verifier").loc["verify_skill"]))
rvr[["claim_id", "claim", "paper", "reproduced", "n", "verdict"]]

# %%
k_opt_c4 = kopt_table.set_index("cost c")["k_opt"].get(4.0)
metrics = {
    "headline": {"toy_pass@1": pass1_est.value, "toy_ceiling_last_digit": ceiling_est.value,
                 "toy_ceiling_verify_skill": float(fpr["ceiling"]),
                 "verify_skill_false_positive_rate": float(fpr["false-positive rate"]),
                 "verify_skill_balanced_accuracy": float(fpr["balanced accuracy"]),
                 "verify_skill_lift": float(fpr["lift"]),
                 "toy_k_opt_c4": None if k_opt_c4 is None else int(k_opt_c4),
                 "code_pass@1": None if code is None else code["pass1"].value},
    "model": model, "temperature": temperature, "weak_model": weak_model, "verifier_model": verifier_model,
    "grader": grader.name, "weak_verifier": weak_verifier, "sandbox": sandbox_mode,
    "points": point_tab.to_dict(orient="records"), "line_fit": line_tab.to_dict(orient="records"),
    "pair": {"problems": len(gap_set), "table": pair_tab.to_dict(orient="records")},
    "toy": {"problem_ids": list(counts.task_ids), "a": counts.a.tolist(), "f": counts.f.tolist(),
            "n": counts.n.tolist(), "completeness": completeness, "soundness": soundness,
            "ceiling": vars(ceiling_est), "pass@1": vars(pass1_est),
            "k_opt": kopt_table.to_dict(orient="records"), "closed_form_vs_simulation": sim_table.to_dict("records")},
    "theory": theory_table.to_dict(orient="records"),
    "code": None if code is None else {"model": code_model, "benchmark": code_benchmark,
                                       **{k: getattr(code["counts"], k).tolist() for k in ("a", "f", "n")},
                                       "problem_ids": list(code["counts"].task_ids)},
    "claims": claim_records(reproduced),
    "verdicts": dict(zip(rvr["claim_id"], rvr["verdict"])),
}

# %%
run_dir.write_metrics(metrics)
run_dir.write_provenance(params, seed, started=t_start)
cpu_s = cpu_seconds()  # the kernel's process CPU time (printed, not in metrics.json)
print(f"wrote {run_dir.path}; {time.time() - t_start:.0f} s wall, {cpu_s:.0f} CPU-s (this process and its children)")

# %% [markdown]
# ## Deviations from the paper
#
# - **Models and verifiers at `cpu`**: toy checkpoints (training snapshots and the control world's model) at two
#   temperatures stand in for the paper's 17 models; the toy's trained verify skill and a last-digit check stand in
#   for base unit tests, the exact answer for the plus tests. The verify skill judges each sample by one *sampled*
#   report (a stochastic verifier; unit tests are deterministic). The toy's line is drawn beside the paper's, not
#   tested against it: the paper's numbers (L2, L4–L9) need its models and HumanEval+ (`paper` profile).
# - **The verifier's information is a precondition.** L1 and L2t are decided only when the verify skill lifts the
#   ceiling of the point they read above its pass@1 (`workbook.reporting.requires`); the paper's unit tests need no
#   such check. The skill accepts only boxed answers (the paper's tests cannot pass a program that does not run).
# - **L2 at toy scale** is tested through its consequence for one pre-registered pair (`weak_model` against `model`
#   at the main temperature, the pair fixed before any run on world version 5), not as a statement about every pair
#   of models; the pair is measured on problems of its own, not on the line's points.
# - **Code model**: off at `cpu` (`run_code = False`), so L1c is not run there; `smoke` exercises its path.
# - **Samples**: n = `n_samples` (32) per task at `cpu` instead of ≥ 200; k ranges up to n. The closed form is exact
#   for any n; the paper's simulation with k_max = 200 is the same expectation.
# - **HumanEval+ tests**: EvalPlus-style differential testing against the canonical solution, ported to
#   `workbook.code_eval` (EvalPlus 0.3.x special oracles and MBPP input conversions). Each test set stops at its
#   first failing input, base and plus run in one sandboxed process (fresh `exec` per set), the per-input time limit
#   is max(1 s, 4 × canonical time) (EvalPlus: 4 s minimum), and huge expected outputs are compared by a hash of a
#   canonical serialization. The paper's exclusion of 14 HumanEval tasks whose plus-pass rate exceeds their base-pass
#   rate is not applied: we count a sample correct only if it passes base *and* plus, as the paper's a does.
# - **Theoretical model**: we implement the exact expectation and show the official notebook's formula beside it;
#   the fit's soundness is given in both forms. The split at a correct rate of exactly 0.5 puts the task in the easy
#   group (unconfirmed in the official code).
# - **k_opt**: the smallest k that maximizes the mean U(k); 0 (abstain) when every U(k) < 0. The paper's table marks
#   some entries "—"; we could not confirm what they mean.
# - **Code quality (L8)**: only the line-length share (≤ 70 characters) of RACE's checks, at `paper` scale.
# - **Power.** Each claim's expected toy-scale effect is written down in `reported/inference_scaling_limits.yaml`
#   with where it came from (L1: a world v4 pilot; L3: the paper's table; L2t and L2u: revised on world version 5
#   before the final run, from a pilot on disjoint seeds and problems and the line's own points, which share no
#   problem with the pair); the tables printed at the top give this design's chance of each verdict at that effect
#   (`workbook.reporting.power`). L1c is not run at `cpu`. L2u is expected *above* 0, so its chance of "reproduced"
#   is near 0 by design; the power that matters for it is the chance of the decided "not reproduced" (the second
#   table), just under 80% at 512 problems, the most the budget allows after the line.

# %%
print(power_note(power_tab))

# %% [markdown]
# ## Exercises
#
# 1. Make the verifier stricter: accept only when the last *two* digits match. Predict the new soundness and the
#    ceiling before you run it, then measure both on the same samples.
# 2. Show from the closed form that with c = 0, U_t(k) is non-decreasing in k, and find the smallest c for which a task
#    with a = 1, f = 1 should abstain.
# 3. The theoretical model with s = 1 (a perfect verifier): what is k_opt for every c?
# 4. Verify greedily (`verify_temperature = 0`) instead of sampling one report. Predict the false-positive rate, then
#    measure it on the main model's samples of the first 8 problems.

# %% tags=["solution"]
from workbook.grading import extract_boxed


def last_two_digits(text, gold):
    box = extract_boxed(text)
    return box is not None and box.strip()[-2:] == gold.strip()[-2:]


strict = np.array([last_two_digits(t, a) for t, a in zip(frame["text"], frame["answer"])]).reshape(-1, n_samples)
strict_counts = isl.task_counts(strict, correct)
print(f"soundness {1 - strict[~correct].mean():.3f} (last digit: {soundness:.3f}); ceiling "
      f"{isl.accuracy_ceiling(strict_counts):.3f} (last digit: {ceiling_est.value:.3f})")

# %% tags=["solution"]
# 2. U_t(k) = P(any accepted in k)·(a − c·f)/m; P(any accepted) grows with k, so U_t is non-decreasing when a − c·f ≥ 0.
#    For a = f = 1 the value (1 − c)/2 is negative for c > 1: abstain whenever c > 1.
one = isl.TaskCounts(np.array([1]), np.array([1]), np.array([10]))
print({c: isl.k_opt_table(one, [c], k_max=10)[c][0] for c in (0.5, 1.0, 1.5)})

# %% tags=["solution"]
# 3. With s = 1 there are no false positives, so U(K) never decreases: k_opt = the largest K for every c.
perfect = isl.EasyHardModel(r=tuple(theory_r), p=tuple(theory_p), s=1.0)
print({c: isl.model_optimal_k(perfect, c, theory_k_max)[0] for c in theory_costs})

# %% tags=["solution"]
# 4. Greedy verification: the most likely report. A skill that is unsure leans to its most frequent verdict.
sub = frame[frame["problem_id"].isin([p.problem_id for p in problems[:8]])]
greedy = isl.verify_skill_accepts(verifier, problems, sub, temperature=0.0, seed=seed,
                                  max_new_tokens=verify_max_new_tokens)
right = sub["correct"].to_numpy(dtype=bool)
print(f"greedy verify skill: accepts {greedy[~right].mean():.2f} of wrong and {greedy[right].mean():.2f} of right "
      f"samples ({(~right).sum()} wrong, {right.sum()} right)")
