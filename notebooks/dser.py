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
# # DSER · Deep Self-Evolving Reasoning
#
# Liu, Zheng, Wen et al. (Peking University and Microsoft Research Asia, 2025), *Deep Self-Evolving Reasoning*,
# [arXiv 2510.17498](https://arxiv.org/abs/2510.17498). The paper has no public code and its prompts are
# unpublished: ours are written out below, in one place (`workbook.papers.dser.PROMPTS` for real models, the
# toy reasoner's formats from `workbook.toy`).
#
# **What this notebook replicates** (numbered as in the reported-vs-reproduced table at the end)
#
# - **D1** iterated verify-then-refine is a two-state Markov chain: with p_IC, p_CI estimated from *one*
#   verify+refine step, P_n(C) = π_C + (P_0 − π_C)(1 − p_IC − p_CI)^n predicts the accuracy of long chains;
# - **D2** the chain converges toward correct answers whenever improvement beats degradation (p_IC > p_CI),
#   however weak the verification;
# - **D3** long chains solve problems the base model never solved in its own samples;
# - **D4** majority voting over the last ten iterations of parallel chains beats the base model's majority vote;
# - **D5–D7** (paper scale) DeepSeek-R1-0528-Qwen3-8B solves 5 of 9 previously unsolved AIME 2024–25 problems;
#   Pass@1 +6.5 (AIME 2024) and +9.0 (AIME 2025) points.
#
# **Expected wall time** (2-core machine, measured by `workbook run` while shared with other jobs): `smoke` about a
# minute (a seconds-trained toy); `cpu` about 7 minutes on the trained toy reasoner (plus its one-off training if
# not cached); `paper` many GPU-hours (the plan and estimate are printed before anything runs).

# %% tags=["parameters"]
profile = "cpu"
seed = 0
model = "toy-reasoner"            # a workbook.models preset
backend = "transformers"          # "transformers" | "vllm" (paper profile)
device = "cpu"
benchmarks = ["synthetic"]        # "synthetic" (toy arithmetic, test split) or e.g. ["aime24", "aime25"]
n_problems = 16                   # per benchmark (synthetic: freshly drawn held-out problems)
min_operands = 4                  # synthetic difficulty: 4 operands is the toy's hardest level
max_operands = 4
n_base = 16                       # base samples per problem: pass@1, majority vote, never-solved set
n_hard = 0                        # > 0: keep only the n_hard problems with the lowest base pass@1
n_pool = 4                        # base solutions per problem that get one verify+refine step (diagnostic)
n_chains = 4
n_iterations = 10
window = 10                       # vote over the last `window` iterations (the paper's ten)
temperature = 1.0
top_p = 1.0
max_new_tokens = 160              # solve and refine
max_new_tokens_verify = 200
batch_size = 256
grading_mode = "strict"
prior_strength = 2.0              # pseudo-moves shrinking per-problem rates toward the pooled rate
theory_problems = 2000
theory_iterations = 80
theory_chains = [1, 2, 4, 8, 16, 32, 64, 128]
gpu_tokens_per_s = 2500.0         # assumed vLLM throughput for the paper-profile estimate (one H100, 8B model)
n_boot = 2000
torch_threads = 1                 # 1 is fastest on a loaded 2-core machine (no OpenMP spinning)

# %% [markdown]
# ## Setup
#
# Parameters are checked (names, types, model and dataset names) before anything heavy runs.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbook import evaluation, plotting
from workbook.metrics import bootstrap_ci, maj_at_k
from workbook.papers import claim_records, dser, power_note
from workbook.params import check_params
from workbook.reporting import RunDir, reported_vs_reproduced
from workbook.reporting.power import print_power

params = check_params("dser", globals())
dser.validate(params)
plotting.use_style()
run_dir = RunDir("dser", profile)
t_start = time.time()
print(f"profile={profile}  model={model}  benchmarks={benchmarks}  run_dir={run_dir.path}")
power_tab = print_power("dser", params)  # pre-registered: each claim's chance of "reproduced" with this design

# %% [markdown]
# ### The plan
#
# One solve per chain, then per iteration one verification and one refinement per chain; the diagnostic adds one
# verify+refine per pool solution. The token count is an upper bound (every call at its token limit).

# %%
plan = dser.plan(params)
print(plan["summary"])
pd.DataFrame({"stage": list(plan["stages"]), "max generated tokens": list(plan["stages"].values())})

# %% [markdown]
# ## 1. The chain, exactly
#
# The paper's statement: two states, C (current solution correct) and I; P(I→C) = p_IC ("improve"),
# P(C→I) = p_CI ("degrade"). The long-run accuracy is π_C = p_IC / (p_IC + p_CI) and after n refinements
# P_n(C) = π_C + (P_0 − π_C)(1 − p_IC − p_CI)^n.
#
# > π_C depends only on the *ratio* of improvement to degradation: verification may be poor, as long as a wrong
# > solution is a bit more likely to be fixed than a right one is to be broken. The speed of convergence is set by
# > 1 − p_IC − p_CI. A worked example: p_IC = 0.10, p_CI = 0.08, P_0 = 0.05.

# %%
ns = np.arange(theory_iterations + 1)
fig, ax = plt.subplots()
for p_ic, p_ci in ((0.10, 0.08), (0.05, 0.04), (0.10, 0.12)):
    ax.plot(ns, dser.transient_accuracy(0.05, p_ic, p_ci, ns),
            label=f"p_IC={p_ic}, p_CI={p_ci}: π_C={dser.stationary_accuracy(p_ic, p_ci):.3f}")
ax.axhline(0.5, color=plotting.NEUTRAL, lw=1, ls="--")
ax.set(xlabel="iteration n (verify + refine steps)", ylabel="P_n(C) (probability the current solution is correct)",
       title="Transient accuracy of the two-state chain, P_0 = 0.05")
ax.legend()
run_dir.save_figure(fig, "theory_transient")
plt.show()
worked = dser.transient_accuracy(0.05, 0.10, 0.08, [10, 20])
print(f"worked example: P_10 = {worked[0]:.3f}, P_20 = {worked[1]:.3f}, π_C = {dser.stationary_accuracy(0.1, 0.08):.3f}")

# %% [markdown]
# ### Heterogeneous problems and voting
#
# Real problems differ. We draw per-problem (p_IC, p_CI, P_0) from Beta priors (means 0.10, 0.08, 0.05), simulate
# chains, and compare the simulated accuracy with the average of the per-problem analytic curves. Then we vote:
# over the last ten iterations of one chain, and across chains. With one wrong answer (the binary proxy) the vote
# only helps problems with π_C > 1/2; when wrong answers split over several values the correct one can win a
# plurality even below 1/2.

# %%
t_ic, t_ci, t_p0 = dser.BetaPrior().sample(theory_problems, seed=seed)
sim = dser.simulate_chains(t_ic, t_ci, t_p0, n_chains=max(theory_chains), n_iterations=theory_iterations, seed=seed)
sim_acc = sim.mean(axis=(0, 1))
analytic = dser.transient_accuracy(t_p0[:, None], t_ic[:, None], t_ci[:, None], ns[None, :]).mean(0)
print(f"max |simulated − analytic| over iterations: {np.max(np.abs(sim_acc - analytic)):.4f} "
      f"({theory_problems} problems × {max(theory_chains)} chains)")
theory_votes = dser.theory_votes(sim, theory_chains, window, seed)
single = dser.simulated_vote_correct(sim[:, :1], window=window, n_wrong_answers=1, across_chains=False).mean()
binary_proxy = {m: round(dser.binomial_majority_accuracy(0.556, m, tie_credit=0.0), 3) for m in (32, 128)}
print(f"binary proxy at π_C = 0.556 (ties lost): {binary_proxy}; one chain's own last-{window} vote: {single:.3f}")

# %%
fig, ax = plt.subplots()
for n_wrong, sub in theory_votes.groupby("wrong answers"):
    ax.plot(sub["chains"], sub["vote accuracy"], marker="o", label=f"vote across chains, {n_wrong} wrong answer(s)")
ax.axhline(sim_acc[-1], color=plotting.NEUTRAL, ls="--", label=f"single chain, last iteration ({sim_acc[-1]:.3f})")
ax.axhline(np.mean(dser.stationary_accuracy(t_ic, t_ci) > 0.5), color="k", ls=":", lw=1,
           label="fraction of problems with π_C > 1/2")
ax.set_xscale("log", base=2)
ax.set(xlabel="number of chains M", ylabel="vote accuracy (fraction of problems)",
       title=f"Simulated DSER voting, last {window} of {theory_iterations} iterations")
ax.legend(fontsize=8)
run_dir.save_figure(fig, "theory_voting")
plt.show()
theory_votes.pivot(index="chains", columns="wrong answers", values="vote accuracy")

# %% [markdown]
# The simulated curve matches the analytic mixture, so the per-problem formula can be averaged. Voting across
# chains saturates at the fraction of problems with π_C > 1/2 in the binary case, and goes beyond it when wrong
# answers split.

# %% [markdown]
# ## 2. The prompts
#
# The paper: s(0) = R(q); v(n) = R([q; s(n); p_v]); s(n+1) = R([q; s(n); v(n); p_r]). Only (problem, current
# solution, report) carry over. Our prompts for real models are below; the toy reasoner was trained on its own
# formats (`workbook.toy.world`), which we use for it.

# %%
from workbook.generation import make_backend

if backend == "transformers":
    import torch

    torch.set_num_threads(torch_threads)
    gen = make_backend(model, backend, device=device, batch_size=batch_size)
else:  # vLLM: chains of one problem share the problem prefix, so prefix caching saves most prompt compute
    gen = make_backend(model, backend, seed=seed, enable_prefix_caching=True,
                       max_model_len=max_new_tokens + max_new_tokens_verify + 4096)
prompts = dser.toy_prompts(gen.tokenizer) if model.startswith("toy-reasoner") else dser.chat_prompts(gen.tokenizer)
for name, text in dser.PROMPTS.items():
    print(f"--- PROMPTS[{name!r}] (real models)\n{text}\n")
print(f"--- the refine prompt as {model} sees it:\n{prompts.refine('<problem>', '<current solution>', '<report>')}")

# %% [markdown]
# ## 3. The base model
#
# Problems: for the toy, freshly drawn held-out arithmetic with `min_operands`–`max_operands` operands (the
# hardest level the toy knows); for the paper profile, AIME 2024 + 2025 (shipped with the workbook). We sample
# `n_base` solutions per problem: the base pass@1 (our P_0), its majority vote, and the problems it never solves.

# %%
from workbook.data import load_benchmark
from workbook.data.synthetic import ArithmeticSpec, generate_problems
from workbook.grading import Grader, extract_boxed

spec = ArithmeticSpec(n_operands=max_operands, min_operands=min_operands)
problems = [p for name in benchmarks for p in (
    generate_problems(n_problems, seed=seed + 1, spec=spec, split="test") if name == "synthetic"
    else load_benchmark(name, limit=n_problems))]
grader = Grader(mode=grading_mode)
base = evaluation.sample_and_grade(gen, problems, n_base, grader=grader, prompt_fn=lambda p: prompts.solve(p.problem),
                                   seed=seed, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
problems, base = dser.hardest(problems, base, n_hard)  # n_hard = 0 keeps all; see the deviations
base_correct = evaluation.correct_matrix(base)
base_answers = [[extract_boxed(t) for t in g] for _, g in base.groupby("problem_id", sort=False)["text"]]
p0, never_solved = base_correct.mean(1), base_correct.sum(1) == 0
print(f"{len(problems)} problems × {n_base}: base pass@1 = {p0.mean():.3f}; mean {base['n_tokens'].mean():.0f} tokens; "
      f"never solved: {int(never_solved.sum())}; grader: {grader.name}")
print("example solution:\n" + base["text"].iloc[0])

# %% [markdown]
# ## 4. One-step diagnostic → prediction
#
# For `n_pool` base solutions per problem we run one verification and one refinement and count the moves
# I→C and C→I. That gives p̂_IC and p̂_CI (pooled, with intervals), and per-problem rates shrunk toward the pooled
# rate. Plugging them into the chain with P_0 = the problem's base pass@1 predicts every later iteration.
#
# > We use this diagnostic as the cheap check before committing to long chains (the paper's chain analysis makes
# > it possible: one step's rates determine every later iteration). The shrinkage is our choice: with a few pool solutions per problem the raw
# > per-problem rates are mostly 0 or 1.

# %%
t0 = time.time()
pool = [g.tolist()[:n_pool] for _, g in base.groupby("problem_id", sort=False)["text"]]
diag = dser.run_dser(problems, gen, prompts, grader,
                     dser.DSERConfig(n_chains=n_pool, n_iterations=1, temperature=temperature, top_p=top_p,
                                     max_new_tokens=max_new_tokens, max_new_tokens_verify=max_new_tokens_verify,
                                     seed=seed + 100), initial_solutions=pool)
one = dser.one_step_prediction(diag.correct, p0, n_iterations, prior_strength=prior_strength, n_boot=n_boot, seed=seed)
print(f"one step in {time.time() - t0:.0f} s ({diag.n_generated_tokens:,} tokens)")
print(one)

# %% [markdown]
# ## 5. Long chains
#
# `n_chains` chains per problem, `n_iterations` verify+refine steps each, batched across all chains of all
# problems (two generate calls per iteration). Every s(n) is graded.

# %%
t0 = time.time()
run = dser.run_dser(problems, gen, prompts, grader,
                    dser.DSERConfig(n_chains=n_chains, n_iterations=n_iterations, temperature=temperature,
                                    top_p=top_p, max_new_tokens=max_new_tokens,
                                    max_new_tokens_verify=max_new_tokens_verify, seed=seed + 1000))
print(f"{len(problems)} problems × {n_chains} chains × {n_iterations} iterations in {time.time() - t0:.0f} s; "
      f"{run.n_generated_tokens:,} generated tokens")
chain_ic, chain_ci = dser.estimate_rates(dser.transition_counts(run.correct))
print(f"rates seen along the chains: p_IC = {chain_ic}, p_CI = {chain_ci}")

# %%
it = np.arange(n_iterations + 1)
observed = [bootstrap_ci(run.correct[:, :, t].astype(float), n_boot=n_boot, seed=seed) for t in it]
predicted_ci = [bootstrap_ci(one.predicted[:, t], n_boot=n_boot, seed=seed) for t in it]
fig, ax = plt.subplots()
plotting.estimate_band(ax, it, observed, label="observed (chains)", color=plotting.method_color("dser"), bounds=(0, 1))
plotting.estimate_band(ax, it, predicted_ci, label="predicted from one step", color=plotting.method_color("base"),
                       bounds=(0, 1))
ax.set(xlabel="iteration n", ylabel="accuracy of s(n) (fraction of chains)",
       title=f"{model}: DSER accuracy per iteration (95% CI over {len(problems)} problems; {n_chains} chains each)")
ax.legend()
run_dir.save_figure(fig, "chains_observed_vs_predicted")
plt.show()

# %% [markdown]
# The bands compare what the chains did with what one step predicted; where they overlap the Markov model with
# per-problem rates is an adequate description of the loop at this scale. Measured at the `cpu` profile (toy
# reasoner, 16 four-operand problems, seed 0): one step gave p̂_IC ≈ 0.06 and p̂_CI ≈ 0.54, so π_C ≈ 0.10 — the
# toy's refinement breaks right solutions far more often than it fixes wrong ones — and the chains' accuracy fell
# from 0.14 toward the predicted 0.09 (0.02 at n = 10). The model predicted the decline; DSER's premise
# p_IC > p_CI does not hold for this toy.

# %% [markdown]
# ## 6. Never-solved problems and voting
#
# The vote pools the answers of the last `window` iterations of every chain (our reading of "majority vote over
# the last ten iterations, with multiple chains in parallel"). The base model's majority vote gets the same
# generated-token budget per problem when its samples allow (else all `n_base` samples: noted in the table).

# %%
dser_vote, any_correct = run.vote_correct(window=window), run.correct.any(axis=(1, 2))
# base maj@k with k ≈ DSER's generated tokens per problem / tokens per base sample, capped at n_base
k_equal = int(max(1, min(n_base, round(run.n_generated_tokens / len(problems) / max(base["n_tokens"].mean(), 1)))))
base_maj = maj_at_k(base_answers, base_correct.tolist(), k=k_equal, seed=seed)
votes_vs_chains = pd.DataFrame([{"chains": m, "DSER vote accuracy": run.vote_correct(window=window, n_chains=m).mean()}
                                for m in sorted({1, 2, 4, n_chains}) if m <= n_chains])
summary = dser.accuracy_summary(run, base_correct, base_maj, k_equal, window)
run_dir.save_table(summary, "accuracy_summary")
run_dir.save_table(votes_vs_chains, "vote_vs_chains")
never = {"n": int(never_solved.sum()), "solved_by_vote": int(dser_vote[never_solved].sum()),
         "reached": int(any_correct[never_solved].sum())}  # reached: a correct s(n) at least once
print(f"never-solved problems: {never}")
summary

# %% [markdown]
# At the `cpu` profile (seed 0) the base model's maj@16 (0.44) beat the DSER vote (0.13), and none of the 3
# never-solved problems was solved: with p_IC < p_CI long chains forget correct answers, as the theory says.

# %% [markdown]
# ## Reported vs reproduced
#
# - **D1**: per problem, the mean over iterations 1..T of (observed − predicted) accuracy; bootstrap over problems.
#   The same mean of observed − P_0 (no dynamics) goes with it: D1 is decided only when that one falls outside
#   the tolerance.
# - **D2**: per problem, accuracy at iteration T minus at iteration 0 (chains averaged), over the problems whose
#   one-step rates say improvement beats degradation (p̃_IC > p̃_CI); bootstrap over those problems. Where no
#   problem meets the condition the claim reads "untestable here": the theory then predicts decline, which D1
#   checks.
# - **D3 / D5**: fraction of the never-solved problems whose DSER vote is correct; bootstrap over those problems.
# - **D4**: per problem, DSER vote correct minus base maj@k at about equal tokens; bootstrap over problems.
# - **D6 / D7**: 100 × (DSER accuracy at the last iteration − base pass@1) on AIME 2024 / 2025 (paper profile).
#
# Verdicts are computed by `workbook.reporting` from the rules in its docstring.

# %%
obs, improving = run.correct.mean(1), one.pp_ic > one.pp_ci       # obs: (problems, iterations + 1)
print(f"problems with p̃_IC > p̃_CI (one step, shrunk): {int(improving.sum())} of {len(problems)}")
reproduced = dser.reproduced(run, one, p0, base_maj, window, [p.dataset for p in problems], n_boot=n_boot, seed=seed)
rvr = reported_vs_reproduced("dser", reproduced, profile, params=params)
run_dir.save_table(rvr, "reported_vs_reproduced")
rvr[["claim_id", "claim", "paper", "reproduced", "n", "verdict"]]

# %%
metrics = {
    "headline": {"base_pass@1": float(p0.mean()), "dser_last_iteration": float(obs[:, -1].mean()),
                 "dser_vote": float(dser_vote.mean()), "base_maj": float(base_maj.mean()),
                 "p_ic_one_step": one.p_ic.value, "p_ci_one_step": one.p_ci.value},
    "model": model, "grader": grader.name, "benchmarks": benchmarks, "problem_ids": [p.problem_id for p in problems],
    "one_step": {"p_ic": vars(one.p_ic), "p_ci": vars(one.p_ci), "pi_c": one.pi_c,
                 "p_ic_bootstrap": vars(one.p_ic_boot), "p_ci_bootstrap": vars(one.p_ci_boot)},
    "chains": {"n_chains": n_chains, "n_iterations": n_iterations, "accuracy": obs.mean(0).tolist(),
               "predicted": one.predicted.mean(0).tolist(), "p_ic": vars(chain_ic), "p_ci": vars(chain_ci),
               "n_generated_tokens": run.n_generated_tokens},
    "improving_problems": int(improving.sum()),
    "never_solved": never, "k_equal": k_equal, "vote_vs_chains": votes_vs_chains.to_dict("list"),
    "theory": {"max_abs_sim_minus_analytic": float(np.max(np.abs(sim_acc - analytic))),
               "votes": theory_votes.to_dict("list")},
    "claims": claim_records(reproduced),
    "verdicts": dict(zip(rvr["claim_id"], rvr["verdict"])),
}

# %%
run_dir.write_metrics(metrics)
run_dir.write_provenance(params, seed, started=t_start)
print(f"wrote {run_dir.path}; {time.time() - t_start:.0f} s")

# %% [markdown]
# ## Deviations from the paper
#
# - **Prompts** are ours (the paper's are unpublished); for the toy reasoner they are the formats it was trained
#   on, where verification checks one step at a time — a much more local check than a reasoning model's report.
# - **Chain counts and horizon**: the paper runs about 80 iterations per chain on 9 AIME problems; the `cpu`
#   profile runs `n_chains` × `n_iterations` on fresh arithmetic; the `paper` profile runs short chains only.
# - **Voting**: "majority vote over the last ten iterations, with multiple chains" is read as one pooled vote over
#   every chain's last ten answers (`vote_across_chains(pool=True)`); the vote of per-chain votes is the exercise.
# - **Prediction**: P_0 is the base pass@1 of the problem and per-problem rates are shrunk toward the pooled rate
#   (`prior_strength` pseudo-moves). The CI of D1 is over problems; the estimation error of the rates is not
#   propagated.
# - **Equal compute**: base maj@k uses k ≈ (DSER tokens per problem) / (tokens per base sample), capped at
#   `n_base`; when capped the base model got *less* compute than DSER.
# - With `n_hard > 0` the hardest problems are selected on the same samples that give P_0 and the never-solved
#   set, which biases those numbers low (regression to the mean favours DSER).
# - Answer strings are voted as extracted from `\boxed{}`; equivalent forms of one answer (e.g. `1/2`, `0.5`)
#   split their votes.
# - **D1 against no dynamics**: D1 passes observed − P_0 (accuracy that never moves from the base pass@1) as the
#   base; when that no-dynamics prediction would also sit within the tolerance, D1 reads "untestable here".
#   **D2** reads "untestable here" when no problem has p̂_IC > p̂_CI.
# - **Power.** Each claim's expected toy-scale effect was written down before running; the table printed at the
#   top gives this design's chance to read "reproduced" at that effect (`workbook.reporting.power`):

# %%
print(power_note(power_tab))

# %% [markdown]
# ## Exercises
#
# 1. Using `dser.transient_accuracy`, find how many iterations the worked example (p_IC = 0.10, p_CI = 0.08,
#    P_0 = 0.05) needs to get within 0.01 of π_C, and how that changes when both rates are halved.
# 2. Compare the pooled vote with the "vote of votes" (each chain votes over its last ten iterations, then the
#    chains vote) on the chains of section 5. Which is better here, and why might it be?
# 3. Re-run the theory simulation with a prior whose mean p_CI exceeds mean p_IC. What happens to the vote as the
#    number of chains grows?
# 4. Re-run the notebook on 3-operand problems (`workbook run dser -p min_operands=3 -p max_operands=3`). Does the
#    toy's p̂_IC now exceed p̂_CI, and does the D2 row get tested?

# %% tags=["solution"]
# Exercise 1: |P_n − π_C| = |P_0 − π_C| · (1 − p_IC − p_CI)^n  →  n = log(0.01 / |P_0 − π_C|) / log(1 − p_IC − p_CI)
for p_ic, p_ci in ((0.10, 0.08), (0.05, 0.04)):
    gap = abs(0.05 - dser.stationary_accuracy(p_ic, p_ci))
    print(p_ic, p_ci, "→ iterations:", int(np.ceil(np.log(0.01 / gap) / np.log(1 - p_ic - p_ci))))

# %% tags=["solution"]
# Exercise 2: the vote of votes throws away how many iterations agreed inside each chain.
vote_of_votes = run.vote_correct(window=window, pool=False)
print(f"pooled vote {dser_vote.mean():.3f}  vs  vote of votes {vote_of_votes.mean():.3f}")

# %% tags=["solution"]
# Exercise 3: with p_CI > p_IC most problems have π_C < 1/2, so more chains make the (binary) vote *worse*.
bad = dser.BetaPrior(a_ic=0.8, b_ic=9.2, a_ci=1.0, b_ci=9.0)
b_ic, b_ci, b_p0 = bad.sample(500, seed=seed)
bad_sim = dser.simulate_chains(b_ic, b_ci, b_p0, n_chains=64, n_iterations=40, seed=seed)
print({m: round(float(dser.simulated_vote_correct(bad_sim[:, :m], window=window).mean()), 3) for m in (1, 4, 16, 64)})
