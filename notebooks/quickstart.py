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
# # Quickstart: sample, grade, pass@k with confidence intervals
#
# The workbook's end-to-end path on one page: load problems (MATH-500 and seeded synthetic arithmetic), sample
# `n` completions per problem from the profile's model, grade them, and plot pass@k against k with 95% bootstrap
# intervals over problems. Every later notebook builds on these steps. At the default `cpu` profile the model is
# the workbook's own toy reasoner (`docs/toy_world.md`), which knows arithmetic only, so that profile samples
# arithmetic problems: ordinary ones (2–4 operands, as in its training) and a hard tier (5–6 operands, rare in its
# training).
#
# Reference for the claim checked here: Brown, Juravsky, Ehrlich, Clark, Le, Ré, Mirhoseini (2024),
# *Large Language Monkeys: Scaling Inference Compute with Repeated Sampling*,
# [arXiv 2407.21787](https://arxiv.org/abs/2407.21787).
#
# **What this notebook replicates** (numbered as in the reported-vs-reproduced table at the end)
#
# - **Q1** coverage (pass@k) grows with the number of samples k, on MATH problems (decided at the `paper` profile
#   only: the toy reasoner knows arithmetic only);
# - **Q2** the same on contamination-free synthetic arithmetic;
# - **Q3** the same on the hard tier, where one sample rarely succeeds — the regime the paper is about.
#
# **Expected wall time** (2-core laptop, measured by `workbook run`; see `results/<notebook>/<profile>/run.json`):
# `smoke` (tiny random model) under a minute; `cpu` (toy reasoner, 32 + 64 arithmetic problems × 32 completions,
# about 30 CPU-seconds) under a minute on two free cores (the published run, from `make replicate` on a fresh
# clone at a load of about 1, took 21 s: `run.json`), two on a machine busy with other jobs; `paper` (Qwen2.5-Math-1.5B on one GPU through vLLM, 500 MATH + 200 + 200
# arithmetic problems × 64) tens of minutes. SmolLM2-135M-Instruct stays available as a named model, e.g.
# `workbook run quickstart -p model=smollm2-135m-instruct -p n_problems=4 -p n_synthetic=4 -p n_hard=0 -p n=8
# -p "ks=[1,2,4,8]" -p max_new_tokens=64` (a few minutes; it scores near 0 within 64 tokens).

# %% tags=["parameters"]
profile = "cpu"
seed = 0
model = "toy-reasoner"           # a workbook.models preset, e.g. "smollm2-135m-instruct"
backend = "transformers"         # "transformers" | "vllm" (paper profile)
device = "cpu"
benchmark = "math500"
n_problems = 0                   # MATH-500 problems (the first n_problems of the file); 0: none
n_synthetic = 32                 # synthetic arithmetic problems (workbook.data.synthetic, test split)
synthetic_max_operands = 4       # 2..4 operands: the toy reasoner's training range
n_hard = 64                      # hard synthetic tier (dataset "synthetic-hard")
hard_operands = [5, 6]           # its operand counts (min, max)
n = 32                           # completions per problem
ks = [1, 2, 4, 8, 16, 32]
temperature = 1.0
top_p = 1.0
max_new_tokens = 96              # a toy trace has ~20 tokens (2–4 operands), ~40 on the hard tier
batch_size = 64
grading_mode = "strict"
n_boot = 2000
torch_threads = 1

# %% [markdown]
# ## Setup
#
# Parameters are checked (names, types, model and dataset names) before anything heavy runs.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbook.params import check_params

from workbook.papers import power_note, quickstart

params = check_params("quickstart", globals())
quickstart.validate(params)

import torch

from workbook import evaluation, plotting
from workbook.reporting import RunDir, reported_vs_reproduced
from workbook.reporting.power import print_power

torch.set_num_threads(torch_threads)
plotting.use_style()
run_dir = RunDir("quickstart", profile)
t_start = time.time()
print(f"profile={profile}  model={model}  run_dir={run_dir.path}")
print("plan:", quickstart.plan(params)["summary"])
power_tab = print_power("quickstart", params)  # pre-registered: each claim's chance of "reproduced" with this design

# %% [markdown]
# ## Data
#
# MATH-500 is read through `workbook.data` (shipped with the repository, with its licence in `NOTICE`). The synthetic
# task draws fresh arithmetic expressions from a seed, so no model can have seen them in pre-training
# (the idea behind RandomCalculation in *Reasoning or Memorization?*); the hard tier draws longer expressions the
# same way. `workbook.papers.quickstart.load_problems` assembles the three sets.

# %%
problems = quickstart.load_problems(params)
for name in dict.fromkeys(p.dataset for p in problems):
    p = next(q for q in problems if q.dataset == name)
    print(f"{name}: {sum(q.dataset == name for q in problems)} problems, e.g. {p.problem[:100]!r} → {p.answer!r}")

# %% [markdown]
# ## Sampling and grading
#
# Each problem becomes a chat prompt "{question} Please reason step by step, and put your final answer within
# \boxed{}." and gets `n` completions at the profile's temperature. Sampling is seeded per (prompt, sample), so
# the same seed gives the same completions on CPU. `workbook.evaluation.sample_and_grade` — the one sampling path
# every notebook uses — returns one row per completion.
#
# > The grader extracts the last `\boxed{...}` and compares it with the gold answer (workbook-strict mode: exact
# > match after normalization, with math-verify for symbolic equivalence). A completion without `\boxed{}` is wrong.
# > Every number below names the grader that produced it.

# %%
from workbook.generation import make_backend
from workbook.grading import Grader

kw = dict(device=device, batch_size=batch_size) if backend == "transformers" else {}
gen = make_backend(model, backend, **kw)
grader = Grader(mode=grading_mode)
frame = evaluation.sample_and_grade(gen, problems, n, grader=grader, seed=seed, temperature=temperature,
                                    top_p=top_p, max_new_tokens=max_new_tokens)
print(frame.groupby("dataset").agg(correct=("correct", "sum"), completions=("correct", "size"),
                                   cut_off=("finish_reason", lambda r: int((r == "length").sum()))))
print("grader:", grader.name)
print(frame["text"].iloc[-1][:400])

# %% [markdown]
# ## pass@k with 95% confidence intervals
#
# For a problem with $c$ correct completions out of $n$, pass@k is estimated without bias (Chen et al. 2021, Eq. 1) by
#
# $$\widehat{\text{pass@}k} = 1 - \binom{n-c}{k} \Big/ \binom{n}{k},$$
#
# the chance that $k$ completions drawn without replacement from the $n$ include a correct one; the curve averages
# it over problems. The interval is a seeded bootstrap over problems (the problems are the random units; the $n$
# completions are fixed per problem).

# %%
table = evaluation.pass_at_k_table(frame, ks, n_boot=n_boot, seed=seed)
run_dir.save_table(table, "pass_at_k")
table

# %%
fig, ax = plt.subplots()
for name, sub in table.groupby("dataset", sort=False):
    plotting.estimate_band(ax, sub["k"].tolist(), sub.to_dict("records"), label=name,
                           color=plotting.method_color(name), bounds=(0, 1))
ax.set_xscale("log", base=2)
ax.set_xticks(ks, [str(k) for k in ks])
ax.set_xlabel("k (samples per problem)")
ax.set_ylabel("pass@k (fraction of problems)")
ax.set_ylim(-0.02, 1.02)
ax.set_title(f"{model}, T={temperature}: pass@k (95% CI over problems)")
ax.legend()
run_dir.save_figure(fig, "pass_at_k")
plt.show()

# %% [markdown]
# **What to see.** Each curve is the share of problems that at least one of k samples solves. It rises with k:
# problems the model solves only sometimes are solved by some sample once k is large. On the ordinary arithmetic it
# climbs from about a third at k = 1 to about nine in ten by k = 16: almost every problem is within reach; on the hard tier
# one sample rarely succeeds (pass@1 of a few percent) and coverage is still climbing at k = 32 — the paper's point
# that repeated sampling keeps paying where single attempts fail. The band is the 95% interval over problems. A model
# that never solves a problem (e.g. SmolLM2-135M on MATH within 64 tokens) gives a flat line at 0.

# %% [markdown]
# ## Reported vs reproduced
#
# For each claim the reproduced estimate is the per-problem difference pass@k_max − pass@1, averaged over
# problems, with a bootstrap 95% CI over problems. The verdict is computed by `workbook.reporting` from the rule in
# its docstring (direction claims: reproduced when the whole interval is above 0).

# %%
reproduced = quickstart.reproduced(frame, ks, benchmark, n_boot=n_boot, seed=seed)
rvr = reported_vs_reproduced("quickstart", reproduced, profile)
run_dir.save_table(rvr, "reported_vs_reproduced")
rvr[["claim_id", "claim", "paper", "reproduced", "n", "verdict"]]

# %%
counts = evaluation.per_problem(frame)
metrics = {
    "headline": {f"{r.dataset}_pass@{r.k}": r.value for r in table.itertuples() if r.k in (1, ks[-1])},
    "grader": grader.name, "model": model, "n": n, "ks": ks,
    "datasets": {name: {"n_problems": len(g), "problem_ids": g["problem_id"].tolist(),
                        "n_correct": g["n_correct"].tolist(),
                        "pass_at_k": {str(r.k): {"value": r.value, "lo": r.lo, "hi": r.hi}
                                      for r in table[table.dataset == name].itertuples()}}
                 for name, g in counts.groupby("dataset", sort=False)},
    "verdicts": dict(zip(rvr["claim_id"], rvr["verdict"])),
}
run_dir.write_metrics(metrics)
run_dir.write_provenance(params, seed, started=t_start)
print(f"wrote {run_dir.path}; {time.time() - t_start:.0f} s")

# %% [markdown]
# ## Deviations
#
# - The paper samples up to 10,000 completions per problem from much larger models; here `n` is 32 at the `cpu`
#   profile and the model is the workbook's ~0.9M-parameter toy reasoner, so only the direction of the effect is
#   checked, not its size or the paper's log-linear shape.
# - At `cpu` no MATH problems are sampled (the toy reasoner knows arithmetic only), so Q1 reads "not run at this
#   scale"; it is decided at the `paper` profile, on the first `n_problems` of MATH-500 (file order, not a random
#   sample).
# - Grading uses the workbook's strict grader (last `\boxed{}` + normalization + math-verify), not the paper's.
# - **Power.** Each claim's expected effect was written down before running; the table printed at the top gives this
#   design's chance to read "reproduced" at that effect (`workbook.reporting.power`):

# %%
print(power_note(power_tab))

# %% [markdown]
# ## Exercises
#
# 1. Raise `n` to 64 and add 64 to `ks` (e.g. `workbook run quickstart -p n=64 -p "ks=[1,2,4,8,16,32,64]"`).
#    How does the width of the band at k = 1 change, and why does it not shrink much?
# 2. Compute pass@k with the biased estimator 1 − (1 − c/n)^k and compare it with the unbiased one.

# %% tags=["solution"]
# Exercise 2: the biased "plug-in" estimator underestimates pass@k for k > 1 (Chen et al. 2021, Sec. 2.1).
c = counts[counts.dataset == "synthetic-hard"]["n_correct"].to_numpy()
biased = 1 - (1 - c / n)[:, None] ** np.array(ks)[None, :]
unbiased = table[table.dataset == "synthetic-hard"]["value"].to_numpy()
pd.DataFrame({"k": ks, "unbiased": unbiased, "biased": biased.mean(axis=0)})
