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
# # The toy reasoner: one small world with a knob for every mechanism
#
# Every method notebook of this workbook (DSER, sharpening, NSR, 1-shot RLVR, Lp-Reg, inference-scaling limits)
# runs its `cpu` profile on one small model that the workbook trains itself: **`toy-reasoner`** (a 4-layer Qwen2,
# ~0.9M parameters, trained on seeded arithmetic traces; design in `docs/toy_world.md`). Each paper tests a
# *mechanism*, so the world puts each hypothesised cause into the training traces with a knob, and a **control
# world** (`toy-reasoner-control`: the same recipe with every mechanism knob at 0) leaves it out.
#
# No paper is replicated here. This lab measures, on the base models, whether each mechanism is **present in the
# default world and absent in the control**, with 95% CIs over problems — the precondition every method notebook
# relies on. Whether a *method* then exploits the mechanism as its paper claims is left to that notebook.
#
# **Expected runtime**: `smoke` ≈ 1 minute; `cpu` ≈ 90 CPU-seconds (kernel and papermill together) on one
# thread, so about 1.5–2 minutes of wall time on an idle 2-core laptop (a run on a machine shared at load 12–16
# took 6.9 minutes; the published run's time is in `run.json`). The checkpoints are prepared once, outside the notebooks, by `make toy`;
# this notebook stops at once if one is missing.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
model = "toy-reasoner"            # the default world (workbook.models preset)
control = "toy-reasoner-control"  # the same recipe, every mechanism knob at its control value
n_problems = 32                   # held-out problems per pool (in-distribution, hard, guess-prone)
n = 64                            # samples per problem at temperature 1
n_hard = 256                      # samples per hard-pool problem (pass@256, NSR's large-k regime)
n_verify = 4                      # own solutions per problem that are verified and refined
n_diagnostic = 384                # held-out problems for the verify diagnostic (one candidate each, per source)
n_strength = 16                   # samples per problem for each snapshot's pass@1
temperature = 1.0
batch_size = 256
n_boot = 1000
torch_threads = 1

# %% [markdown]
# ## Setup
#
# `require` checks each checkpoint against its sha256 manifest and raises "run `make toy`" when it is missing,
# partial or corrupt: a notebook never trains inside its own timeout.

# %%
import time

import matplotlib.pyplot as plt
import torch

from workbook import plotting
from workbook.generation import TransformersBackend
from workbook.params import check_params
from workbook.reporting import RunDir
from workbook.toy import RECIPES, load_toy, require
from workbook.toy.train import read_train_log

params = check_params("toy_reasoner", globals())
torch.set_num_threads(torch_threads)  # one thread per process: on a shared 2-core machine two oversubscribe
plotting.use_style()
run_dir, t_start = RunDir("toy_reasoner", profile), time.time()
dirs = {name: require(RECIPES[name]) for name in dict.fromkeys([model, control])}
print(f"profile={profile}; checkpoints: " + ", ".join(f"{k} -> {v.name}" for k, v in dirs.items()))

# %% [markdown]
# ## The two worlds
#
# | knob | default | control | paper | what it puts into the training traces |
# |---|---|---|---|---|
# | hard tier | 4% of solve traces with 5–6 operands | 0 | NSR | a held-out hard pool with low pass@1 and pass@256 < 1 |
# | deficiency | 25% of answers as `The answer is N.` | 0 | 1-shot RLVR | a global, ungradable format habit |
# | spark | `Wait, check:` after the last step, 5% | 0 | Lp-Reg | a rare token that starts a self-check |
# | noise tail | 8 fillers, 1% each | 0 | Lp-Reg | irrelevant low-probability tokens |
# | guess | 60% guesses on problems with first operand ≥ 80 | 0 | sharpening | greedy ≠ most likely answer |
#
# The verify and refine skills (DSER) are trained in both worlds with the same noise rates; the snapshots of the
# default world after 250, 500 and 1,000 of its 2,000 steps are the weaker *model strengths* (inference-scaling
# limits).

# %%
def backend(name, step=None):
    lm, tok = load_toy(RECIPES[name], step=step)
    return TransformersBackend(lm, tok, batch_size=batch_size)


logs = {name: read_train_log(d) for name, d in dirs.items()}
for name, log in logs.items():  # the measured training cost of each checkpoint, from its own training log
    print(f"{name}: {log['n_params']:,} parameters, {RECIPES[name].steps} steps in {log['wall_s'] / 60:.1f} min "
          f"({log['steps_per_s']:.2f} steps/s on {log['num_threads']} thread(s), {log['device']})")

# %% [markdown]
# ## Each knob's effect on the base model
#
# > `workbook.toy.knobs.knob_effects` samples `n` solutions per problem of three pools (in-distribution, the hard
# > pool of `hard_spec`, guess-prone problems) plus a greedy one, teacher-forces the branch point after a
# > reference solution's last step (spark probability, noise-tail mass), and verifies and refines the first
# > `n_verify` own solutions per problem. Both models are measured on the *same* problems (the pools are defined by
# > the default world's knobs). CIs: problem bootstrap (verify/refine rates: over solutions).

# %%
from workbook.toy.knobs import knob_effects, plot_knob_effects, side_by_side
from workbook.toy.world import WorldKnobs

kw = dict(knobs=WorldKnobs(), n_problems=n_problems, n=n, n_hard=n_hard, n_verify=n_verify, seed=seed,
          temperature=temperature, n_boot=n_boot)
effects = {"default world": knob_effects(backend(model), **kw), "control world": knob_effects(backend(control), **kw)}
table = side_by_side(effects)
run_dir.save_table(table, "knob_effects")
print(f"{time.time() - t_start:.0f} s so far")
table

# %%
fig = plot_knob_effects(effects)
run_dir.save_figure(fig, "knob_effects")
plt.show()

# %% [markdown]
# How to read it, knob by knob (numbers of the published `cpu` run in the table above):
#
# - **deficiency**: the share of answers without `\boxed{}` is near (on the published run a little below) the
#   trained 25% in the default world and 0 in the control — a global habit one RL example could remove (it also costs the default world pass@1).
# - **spark / noise**: the teacher-forced spark probability sits at the trained 0.05 and the noise tail near (on
#   the published run, below) its trained 0.08, both 0 in the control. Whether a spark *helps* is the accuracy
#   gain within problems that have samples with and without one: its CI includes 0, so the self-check does not
#   measurably raise accuracy — it runs on the model's own verify skill (below), which also breaks right steps.
# - **hard pool**: pass@1 is ~0.02 in both worlds and pass@256 is far above it: the large-k regime NSR needs. The
#   default world, with its 4% hard traces, is higher on pass@256 and has more problems with pass@64 between 0.3
#   and 0.9 than the control, but the CIs overlap: the hard tier is a mild knob.
# - **guess**: on guess-prone problems the default world's greedy output skips the steps and guesses, its answer
#   differs from the most frequent sampled answer on almost every problem, and π̂(y*|x) < ½; the control world is
#   sharp there (greedy mostly right and equal to the modal answer).
# - **verify / refine**: on the few own solutions verified here the verify skill's balanced accuracy is above
#   chance with a wide CI; the diagnostic below measures it on many more pairs. One refinement step both repairs
#   (P(I→C)) and breaks (P(C→I)) solutions. DSER therefore also uses the oracle-verdict-with-noise mode
#   (`workbook.toy.evaluate.noisy_oracle_report`).

# %% [markdown]
# ## The verify skill, line by line
#
# > A report line reads `Step k: a op b = v, claimed c ok|wrong`: the step's operands, the checker's own value v,
# > the solution's claimed result c, and `ok` exactly when v = c (documented target: balanced accuracy ≥ 0.75). `workbook.toy.knobs.verify_diagnostic` verifies `n_diagnostic`
# > candidates drawn as the training traces draw them ("world candidates") and as many of the model's own
# > solutions, and reads every report line against the truth: is v right, does the decision follow v, and on a
# > line whose claim is wrong, does v merely copy the claim (the traces do so at `verify_miss` = 0.15)?

# %%
from workbook.toy.knobs import verify_diagnostic

diagnostic = verify_diagnostic(backend(model), n_pairs=n_diagnostic, seed=seed, temperature=temperature,
                               n_boot=n_boot)
run_dir.save_table(diagnostic, "verify_diagnostic")
diagnostic[["source", "quantity", "value", "lo", "hi", "n_units"]]

# %% [markdown]
# On the published run the target is met on the world's candidates (balanced accuracy 0.76, lower CI end 0.72) and
# not on the model's own solutions (0.66). The decision mostly follows the model's own value (about one line in
# eight says `ok` although v ≠ c); what remains is the value: on lines whose claim is wrong, v copies the claim on
# 27% (world candidates) to 39% (own solutions) of them, where the traces do so 15% of the time, and such a wrong
# step passes. The history of this skill across world versions is in `docs/toy_world.md`.

# %% [markdown]
# ## Model strengths and training
#
# > The snapshots of the default world are the weaker models of the inference-scaling notebook's
# > pass@1-vs-ceiling line: pass@1 must rise with the training step. On the published run the 250- and 500-step
# > snapshots are both near 0 (their CIs overlap); the 1,000-step snapshot and the final model are the strengths
# > that separate.

# %%
from workbook.data.synthetic import generate_problems
from workbook.toy.knobs import model_strengths

recipe = RECIPES[model]
steps = [*recipe.snapshots, recipe.steps]
problems = generate_problems(n_problems, seed=seed, split="test")
strengths = model_strengths({f"step {s}": backend(model, step=s) for s in steps}, problems, n=n_strength,
                            seed=seed, temperature=temperature, n_boot=n_boot)
strengths.insert(0, "step", steps)
run_dir.save_table(strengths, "model_strengths")
strengths

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
axes[0].errorbar(strengths.step, strengths["pass@1"], yerr=[strengths["pass@1"] - strengths.lo,
                 strengths.hi - strengths["pass@1"]], fmt="o-", capsize=3)
axes[0].set(xlabel="training step of the snapshot", ylabel="pass@1 (T = 1)", title="model strengths", ylim=(0, 1))
for name, log in logs.items():
    for task, style in (("solve", "-"), ("verify", "--"), ("refine", ":")):
        pts = [(s, y) for s, y in zip(log["step"], log[f"loss_{task}"]) if y is not None]
        axes[1].plot(*zip(*pts), style, label=f"{name}: {task}", color=plotting.method_color(name, axes[1])
                     if task == "solve" else axes[1].lines[-1].get_color())
axes[1].set(xlabel="optimizer step", ylabel="loss (nats / token)", yscale="log", title="training curves")
axes[1].legend(fontsize=7, ncol=2)
fig.tight_layout()
run_dir.save_figure(fig, "strengths_and_training")
plt.show()

# %% [markdown]
# ## Results

# %%
def row(world, knob, quantity):
    t = effects[world]
    r = t[(t.knob == knob) & t.quantity.str.startswith(quantity)].iloc[0]
    return {"value": float(r.value), "lo": float(r.lo), "hi": float(r.hi)}


headline = {w: {"deficiency": row(w, "deficiency_share", "share of samples answering"),
                "p_spark": row(w, "spark_share", "P(spark"), "noise_mass": row(w, "noise_share", "noise-tail"),
                **({"spark_accuracy_gain": row(w, "spark_share", "accuracy gain")} if w == "default world" else {}),
                "hard_pass@1": row(w, "hard_share", "pass@1 on the hard"),
                f"hard_pass@{n_hard}": row(w, "hard_share", f"pass@{n_hard} on"),
                "greedy_differs_from_modal": row(w, "guess_share", "share where greedy"),
                "verify_balanced_accuracy": row(w, "verify (WorldNoise.verify_*)", "balanced")}
            for w in effects}
diag = {f"{r.source}: {r.quantity}": {"value": r.value, "lo": r.lo, "hi": r.hi} for r in diagnostic.itertuples()}
run_dir.write_metrics({"headline": headline, "model_strengths": strengths.to_dict("records"), "verify_diagnostic": diag,
                       "models": list(dirs), "n_problems": n_problems, "n": n, "n_hard": n_hard})
run_dir.write_provenance(params, seed, started=t_start)
print(f"wrote {run_dir.path}; {time.time() - t_start:.0f} s")

# %% [markdown]
# ## What the toy decides, and what it cannot
#
# - It decides whether each mechanism is **present and switchable**: a knob whose quantity differs between the
#   default and the control world (CIs apart) is a controlled cause a method notebook can test.
# - It cannot say how large a paper's effect is on a real LLM: the model knows only this task, its errors are
#   arithmetic slips, and the training distribution is known exactly.
#
# ## Deviations and notes
#
# - The verify skill meets its documented target (balanced accuracy ≥ 0.75) on the world's candidates but not on
#   the model's own solutions, the pairs DSER's chain verifies: a recorded shortfall, analysed above and in
#   `lib/workbook/toy/recipe_selection.md`; DSER uses the oracle-with-noise verdicts beside it.
# - The world and recipe were chosen once for all notebooks; nothing here is tuned per method.
# - pass@256 on the hard pool is the share of problems solved by any of 256 samples (an unbiased estimate of the
#   mean pass@256); the per-problem regime share uses pass@64 from the same 256 samples.

# %% [markdown]
# ## Exercises
#
# 1. Which knob's effect would you expect a single RL example to remove everywhere, and why that one?
# 2. From the table, compute the stationary accuracy p_IC / (p_IC + p_CI) of DSER's verify-refine chain with the
#    model's own verifier, in both worlds.

# %% tags=["solution"]
# Exercise 2: the stationary accuracy of DSER's two-state chain, from the measured refine rates.
for world, t in effects.items():
    p_ic = t[t.quantity.str.startswith("P(I→C)")].value.iloc[0]
    p_ci = t[t.quantity.str.startswith("P(C→I)")].value.iloc[0]
    print(f"{world}: p_IC={p_ic:.3f} p_CI={p_ci:.3f} -> stationary P(C) = {p_ic / (p_ic + p_ci):.3f}")
