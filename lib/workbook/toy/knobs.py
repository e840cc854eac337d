"""Each world knob's measured effect on a base model, with 95% CIs over problems (notebook toy_reasoner).

The knobs (``workbook.toy.world.WorldKnobs``, ``docs/toy_world.md``) put a mechanism into the *training traces*;
whether the trained model carries it is an empirical question this module answers, one row per quantity:

* hard tier (NSR): pass@1 and pass@k (k = n/4, unbiased from n samples) on the held-out hard pool, and the share
  of hard problems whose pass@k lies in [0.3, 0.9] (NSR's large-k regime, Sec. 4);
* deficiency (1-shot RLVR): the share of samples that write the answer without ``\\boxed{}``;
* spark and noise tail (Lp-Reg): teacher-forced P(spark | branch context) and the noise tail's mass at the branch
  point after a solution's last step, the top token's probability there, and accuracy with vs without a spark;
* guess-prone problems (sharpening): greedy accuracy, π̂(y*|x) (mean@n at T = 1) and the share of problems whose
  greedy answer differs from the most frequent sampled answer;
* verify skill (DSER): true-positive and true-negative rates on the model's own sampled solutions;
  ``verify_diagnostic`` compares them on the world's own candidates and reads each report line's decision against
  the model's own recomputed value (``verify_line_consistency``).

The same function on the control world's model (``toy-reasoner-control``) gives the control column.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from workbook.data.synthetic import ArithmeticSpec, generate_problems
from workbook.metrics import bootstrap_ci, pass_at_k
from workbook.toy.evaluate import exact_grade, refine_solutions, verify_solutions
from workbook.toy.world import (
    DEFICIENT_PREFIX, NOISE_TOKENS, SPARK, WorldKnobs, hard_spec, is_guess_prone, parse_verdict, solve_prompt,
)

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def _answer(text: str) -> str | None:
    found = _BOXED.findall(text or "")
    return found[-1].strip() if found else None


def _row(knob: str, quantity: str, values, paper: str, n_boot: int, seed: int) -> dict:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return {"knob": knob, "quantity": quantity, "value": np.nan, "lo": np.nan, "hi": np.nan, "n_units": 0,
                "paper": paper}
    est = bootstrap_ci(values, n_boot=n_boot, seed=seed)
    return {"knob": knob, "quantity": quantity, "value": est.value, "lo": est.lo, "hi": est.hi, "n_units": est.n,
            "paper": paper}


_REPORT_LINE = re.compile(r"Step (\d+): (-?\d+) ([-+*/]) (-?\d+) = (-?\d+), claimed (-?\d+) (ok|wrong)")


def verify_line_consistency(solutions: list[str], reports: list[str]) -> pd.DataFrame:
    """Return one row per report line ``Step k: a op b = v, claimed c ok|wrong`` that refers to a step of its solution:
    ``value_right`` (v is the true a op b), ``value_equals_claim`` (v equals the solution's claimed result of step
    k), ``says_ok`` and ``claim_right`` (the solution's step k is right). In the training traces ``says_ok == value_equals_claim`` always; a verifier whose decision
    ignores its own recomputation breaks that identity (the diagnosis in ``recipe_selection.md``)."""
    from workbook.data.synthetic import apply_op
    from workbook.toy.evaluate import parse_solution_steps

    rows = []
    for pair, (solution, report) in enumerate(zip(solutions, reports)):
        claimed = parse_solution_steps(solution)
        for m in _REPORT_LINE.finditer(report or ""):
            k, a, op, b, v = int(m[1]), int(m[2]), m[3], int(m[4]), int(m[5])
            if not 1 <= k <= len(claimed):
                continue
            try:
                true = apply_op(a, op, b)
            except (ValueError, ZeroDivisionError):
                true = None
            rows.append({"pair": pair, "value_right": v == true, "value_equals_claim": v == claimed[k - 1].result,
                         "says_ok": m[7] == "ok", "claim_right": claimed[k - 1].result == true})
    return pd.DataFrame(rows, columns=["pair", "value_right", "value_equals_claim", "says_ok", "claim_right"])


def verify_diagnostic(backend, *, n_pairs: int = 384, seed: int = 0, temperature: float = 1.0,
                      spec: ArithmeticSpec | None = None, noise=None, n_boot: int = 1000) -> pd.DataFrame:
    """Return the verify skill on two sources of candidates, one row per (source, quantity) with 95% CIs.

    Sources: ``world candidates`` — ``n_pairs`` held-out problems, each with one candidate drawn the way the
    verify traces draw theirs (``WorldNoise.candidate_step_error`` per step; truth: every step right) — and
    ``own solutions`` — one solution per held-out problem sampled from the model at ``temperature`` (truth: the
    boxed answer is right). Quantities: TPR, TNR, balanced accuracy, and per report line (from
    :func:`verify_line_consistency`) the share of recomputed values that are right, of lines saying ``ok``
    although the value differs from the claim, and of lines saying ``wrong`` although it equals the claim.
    Units: problems (one pair each). A verifier that uses its own recomputation has the last two near 0.
    """
    import random

    from workbook.data import Problem
    from workbook.data.synthetic import format_solution, problem_text, random_problem_tree, random_solution_steps
    from workbook.toy.world import WorldNoise, _noisy, true_result

    spec, noise = spec or ArithmeticSpec(), noise or WorldNoise()
    tok = backend.tokenizer
    rng = random.Random(seed)
    world_problems, world_solutions, world_truth = [], [], []
    for i in range(n_pairs):
        tree = random_problem_tree(spec, rng, split="test")
        steps = random_solution_steps(tree, random.Random(rng.getrandbits(32)),
                                      corrupt=_noisy(noise.candidate_step_error, rng))
        world_problems.append(Problem(f"world-{i}", problem_text(tree.to_text()), str(tree.evaluate()), "synthetic"))
        world_solutions.append(format_solution(steps, steps[-1].result if steps else tree.evaluate()))
        world_truth.append(all(true_result(s) == s.result for s in steps))
    own_problems = generate_problems(n_pairs, seed=seed + 1, spec=spec, split="test")
    own = backend.generate([solve_prompt(tok, p.problem) for p in own_problems], n=1, temperature=temperature,
                           top_p=1.0, max_new_tokens=96, seed=seed + 2)
    own_solutions = [row[0].text for row in own]
    own_truth = [exact_grade(t, p.answer) for t, p in zip(own_solutions, own_problems)]
    rows = []
    for source, problems, solutions, truth in (("world candidates", world_problems, world_solutions, world_truth),
                                              ("own solutions", own_problems, own_solutions, own_truth)):
        reports = verify_solutions(backend, tok, problems, solutions, temperature=temperature, seed=seed + 3)
        truth = np.asarray(truth, dtype=bool)
        says_c = np.array([parse_verdict(r) == "correct" for r in reports])
        says_i = np.array([parse_verdict(r) == "incorrect" for r in reports])
        lines = verify_line_consistency(solutions, reports)
        equal = lines.value_equals_claim.astype(bool)
        found = [
            _row(source, "share of candidates truly correct", truth, "dser", n_boot, seed),
            _row(source, "true-positive rate (says correct | correct)", says_c[truth], "dser", n_boot, seed),
            _row(source, "true-negative rate (says incorrect | incorrect)", says_i[~truth], "dser", n_boot, seed),
            _balanced_row(says_c, says_i, truth, np.arange(len(truth)), n_boot, seed),
            _row(source, "per report line: recomputed value right", lines.value_right, "dser", n_boot, seed),
            _row(source, "per report line: says ok although its value ≠ the claim", lines.says_ok[~equal], "dser",
                 n_boot, seed),
            _row(source, "per report line: says wrong although its value = the claim",
                 ~lines.says_ok[equal].astype(bool), "dser", n_boot, seed),
            _row(source, "per report line with a wrong claim: the value copies the claim",
                 equal[~lines.claim_right.astype(bool)], "dser", n_boot, seed),
            _row(source, "per report line with a right claim: the value is right",
                 lines.value_right[lines.claim_right.astype(bool)], "dser", n_boot, seed),
        ]
        rows += [{**r, "knob": source} for r in found]
    return pd.DataFrame(rows).rename(columns={"knob": "source"})


def _balanced_row(says_correct, says_incorrect, truth, groups, n_boot: int, seed: int) -> dict:
    """Balanced accuracy (TPR + TNR) / 2 of the verify skill, 95% CI by resampling problems (``groups``)."""
    def balanced(idx):
        t, c, i = truth[idx], says_correct[idx], says_incorrect[idx]
        if t.all() or not t.any():
            return np.nan
        return 0.5 * (c[t].mean() + i[~t].mean())

    units = np.unique(groups)
    members = [np.flatnonzero(groups == u) for u in units]
    rng = np.random.default_rng(seed)
    draws = [balanced(np.concatenate([members[k] for k in rng.integers(0, len(units), len(units))]))
             for _ in range(n_boot)]
    lo, hi = np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any() else (np.nan, np.nan)
    return {"knob": "verify (WorldNoise.verify_*)", "quantity": "balanced accuracy (TPR + TNR) / 2",
            "value": balanced(np.arange(len(truth))), "lo": lo, "hi": hi, "n_units": len(units), "paper": "dser"}


def branch_point_probs(model, tokenizer, problems) -> pd.DataFrame:
    """Return per problem the next-token probabilities at the branch point after its reference solution's steps.

    Columns: ``p_spark``, ``p_noise`` (total mass of the noise tail), ``p_max`` (the top token's probability).
    Teacher-forced on ``problem.metadata["solution"]`` with its last (answer) line removed.
    """
    import torch

    spark_id = tokenizer.convert_tokens_to_ids(SPARK)
    noise_ids = [tokenizer.convert_tokens_to_ids(t) for t in NOISE_TOKENS]
    if spark_id == tokenizer.unk_token_id:
        raise ValueError("this tokenizer has no spark token: a world-version-1 checkpoint has no knobs to measure")
    rows = []
    with torch.inference_mode():
        for p in problems:
            steps = p.metadata["solution"].rsplit("\n", 1)[0] + "\n"
            ids = tokenizer(solve_prompt(tokenizer, p.problem) + steps, add_special_tokens=False,
                            return_tensors="pt")["input_ids"]
            probs = torch.softmax(model(input_ids=ids).logits[0, -1].float(), -1)
            rows.append({"problem_id": p.problem_id, "p_spark": float(probs[spark_id]),
                         "p_noise": float(probs[noise_ids].sum()), "p_max": float(probs.max())})
    return pd.DataFrame(rows)


def knob_effects(backend, knobs: WorldKnobs | None = None, *, spec: ArithmeticSpec | None = None, n_problems: int = 32, n: int = 64, seed: int = 0,
                 temperature: float = 1.0, n_verify: int = 4, max_new_tokens: int = 96,
                 n_boot: int = 1000, refine: bool = True, n_hard: int | None = None) -> pd.DataFrame:
    """Return one row per measured quantity: ``knob, quantity, value, lo, hi, n_units, paper`` (95% CI over problems).

    ``backend``: a ``workbook.generation`` backend of a toy checkpoint (``backend.model``, ``backend.tokenizer``).
    ``knobs``: the world's knobs (where the hard tier and guess-prone problems are); default ``WorldKnobs()``;
    ``spec``: the world's problem family (default ``ArithmeticSpec()``; the hard tier extends it).
    Samples ``n`` solutions per problem of each pool at ``temperature`` plus one greedy solution; verifies (and,
    with ``refine``, refines with the model's own report) the first ``n_verify`` solutions of each problem.
    ``n_hard`` (default ``n``) samples per hard-pool problem: the share of problems solved by any of them is an
    unbiased estimate of the pool's mean pass@n_hard (NSR's large-k regime needs k in the hundreds).
    """
    from workbook.evaluation import by_problem, correct_matrix, sample_and_grade

    knobs = knobs or WorldKnobs()
    tok = backend.tokenizer
    prompt = lambda p: solve_prompt(tok, p.problem)  # noqa: E731
    kw = dict(prompt_fn=prompt, max_new_tokens=max_new_tokens)
    rows: list[dict] = []

    def run(problems, s):
        frame = sample_and_grade(backend, problems, n, grader=exact_grade, seed=s, temperature=temperature, **kw)
        greedy = sample_and_grade(backend, problems, 1, grader=exact_grade, seed=s, temperature=0.0, **kw)
        return frame, greedy

    # in-distribution pool: deficiency, spark/noise, verify skill
    base = generate_problems(n_problems, seed=seed, spec=spec, split="test")
    frame, _ = run(base, seed)
    texts = by_problem(frame, "text")
    correct = correct_matrix(frame)
    deficient = [[DEFICIENT_PREFIX.strip() in t and _answer(t) is None for t in row] for row in texts]
    rows.append(_row("deficiency_share", "share of samples answering without \\boxed{}",
                     np.mean(deficient, axis=1), "one_shot_rlvr", n_boot, seed))
    rows.append(_row("deficiency_share", f"pass@1 (T={temperature}), in-distribution", correct.mean(1),
                     "one_shot_rlvr", n_boot, seed))
    model = getattr(backend, "model", None)
    if model is not None:
        bp = branch_point_probs(model, tok, base)
        rows.append(_row("spark_share", "P(spark | branch context), teacher-forced", bp.p_spark, "lp_reg", n_boot, seed))
        rows.append(_row("noise_share", "noise-tail mass at the branch point", bp.p_noise, "lp_reg", n_boot, seed))
        rows.append(_row("noise_share", "top token probability at the branch point", bp.p_max, "lp_reg", n_boot, seed))
    has_spark = np.array([[SPARK in t for t in row] for row in texts])
    for label, sel in (("with", has_spark), ("without", ~has_spark)):
        per = [c[m].mean() for c, m in zip(correct, sel) if m.any()]
        rows.append(_row("spark_share", f"accuracy of samples {label} a spark", per, "lp_reg", n_boot, seed))
    both = has_spark.any(1) & (~has_spark).any(1)  # the gain within a problem: difficulty does not confound it
    gain = [c[m].mean() - c[~m].mean() for c, m, b in zip(correct, has_spark, both) if b]
    rows.append(_row("spark_share", "accuracy gain with a spark (within problems having both)", gain, "lp_reg",
                     n_boot, seed))
    rows.append(_row("spark_share", "share of samples with a spark", has_spark.mean(1), "lp_reg", n_boot, seed))
    # verify skill on the model's own solutions (first n_verify per problem)
    pairs = [(i, j) for i in range(len(base)) for j in range(min(n_verify, n))]
    reports = verify_solutions(backend, tok, [base[i] for i, _ in pairs], [texts[i][j] for i, j in pairs],
                               temperature=temperature, seed=seed + 1)
    truth = np.array([correct[i, j] for i, j in pairs])
    says_correct = np.array([parse_verdict(r) == "correct" for r in reports])
    says_incorrect = np.array([parse_verdict(r) == "incorrect" for r in reports])
    rows.append(_row("verify (WorldNoise.verify_*)", "true-positive rate (says correct | correct)",
                     says_correct[truth], "dser", n_boot, seed))
    rows.append(_row("verify (WorldNoise.verify_*)", "true-negative rate (says incorrect | incorrect)",
                     says_incorrect[~truth], "dser", n_boot, seed))
    rows.append(_balanced_row(says_correct, says_incorrect, truth, np.array([i for i, _ in pairs]), n_boot, seed))
    lines = verify_line_consistency([texts[i][j] for i, j in pairs], reports)
    differs = lines[~lines.value_equals_claim.astype(bool)]
    rows.append(_row("verify (WorldNoise.verify_*)", "per report line: recomputed value right",
                     lines.value_right, "dser", n_boot, seed))
    rows.append(_row("verify (WorldNoise.verify_*)", "per report line: says ok although its value ≠ the claim",
                     differs.says_ok, "dser", n_boot, seed))
    if refine:  # one refinement step with the model's own report (DSER's s(n+1)): p_IC and p_CI
        refined = refine_solutions(backend, tok, [base[i] for i, _ in pairs], [texts[i][j] for i, j in pairs],
                                   reports, temperature=temperature, seed=seed + 5)
        after = np.array([exact_grade(t, base[i].answer) for t, (i, _) in zip(refined, pairs)])
        rows.append(_row("refine (WorldNoise.refine_*)", "P(I→C): a wrong solution refined to a correct one",
                         after[~truth], "dser", n_boot, seed))
        rows.append(_row("refine (WorldNoise.refine_*)", "P(C→I): a correct solution refined to a wrong one",
                         ~after[truth], "dser", n_boot, seed))
    # hard pool: pass@1, pass@n and the share in NSR's regime
    hard = generate_problems(n_problems, seed=seed, spec=hard_spec(spec or ArithmeticSpec(), knobs), split="test")
    nh = n_hard or n
    hframe = sample_and_grade(backend, hard, nh, grader=exact_grade, seed=seed + 2, temperature=temperature, **kw)
    hc = correct_matrix(hframe)
    k = max(1, nh // 4)  # pass@n from n samples is 0 or 1 per problem: the per-problem regime needs k well below n
    p_at_k = pass_at_k(nh, hc.sum(1), k)
    rows.append(_row("hard_share", "pass@1 on the hard pool", hc.mean(1), "nsr", n_boot, seed))
    rows.append(_row("hard_share", f"pass@{nh} on the hard pool (mean; any of {nh} samples correct)",
                     hc.any(1), "nsr", n_boot, seed))
    rows.append(_row("hard_share", f"pass@{k} on the hard pool (from {nh} samples)", p_at_k, "nsr", n_boot, seed))
    rows.append(_row("hard_share", f"share of hard problems with pass@{k} in [0.3, 0.9]",
                     (p_at_k >= 0.3) & (p_at_k <= 0.9), "nsr", n_boot, seed))
    # guess-prone problems: greedy vs the most frequent sampled answer, π̂(y*|x)
    prone = [p for p in generate_problems(8 * n_problems, seed=seed + 3, spec=spec, split="test")
             if is_guess_prone(p.problem, knobs)][:n_problems]
    if prone:
        gframe, greedy = run(prone, seed + 4)
        gtexts = by_problem(gframe, "text")
        gtext = [row[0] for row in by_problem(greedy, "text")]
        modal = [pd.Series([_answer(t) for t in row]).dropna().mode() for row in gtexts]
        modal = [m.iloc[0] if len(m) else None for m in modal]
        rows.append(_row("guess_share", "greedy accuracy (guess-prone problems)",
                         greedy["correct"].to_numpy(), "sharpening", n_boot, seed))
        rows.append(_row("guess_share", "π̂(y*|x) = mean@n at T=1 (guess-prone problems)",
                         correct_matrix(gframe).mean(1), "sharpening", n_boot, seed))
        rows.append(_row("guess_share", "share where greedy answer ≠ most frequent sampled answer",
                         [_answer(g) != m for g, m in zip(gtext, modal)], "sharpening", n_boot, seed))
        rows.append(_row("guess_share", "share of greedy outputs that skip the steps (guess)",
                         ["=" not in g for g in gtext], "sharpening", n_boot, seed))
    return pd.DataFrame(rows)



def model_strengths(backends: dict, problems, *, n: int = 16, seed: int = 0, temperature: float = 1.0,
                    max_new_tokens: int = 96, n_boot: int = 1000) -> pd.DataFrame:
    """Return pass@1 (95% CI over problems) of each model in ``backends`` ({label: backend}, e.g. the snapshots
    of ``toy-reasoner`` by training step: inference-scaling's model strengths) on the same ``problems``."""
    from workbook.evaluation import correct_matrix, sample_and_grade

    rows = []
    for label, backend in backends.items():
        frame = sample_and_grade(backend, problems, n, grader=exact_grade, seed=seed, temperature=temperature,
                                 prompt_fn=lambda p, _t=backend.tokenizer: solve_prompt(_t, p.problem),
                                 max_new_tokens=max_new_tokens)
        est = bootstrap_ci(correct_matrix(frame).mean(1), n_boot=n_boot, seed=seed)
        rows.append({"model": label, "pass@1": est.value, "lo": est.lo, "hi": est.hi, "n_units": est.n})
    return pd.DataFrame(rows)


def side_by_side(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Return the ``knob_effects`` tables of several worlds ({world: table}) as one frame, one row per quantity and
    a ``value [lo, hi]`` column per world."""
    keys = ["knob", "quantity", "paper"]
    cols = {world: t.assign(**{world: [f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(v) else "—"
                                       for v, lo, hi in zip(t.value, t.lo, t.hi)]}).set_index(keys)[world]
            for world, t in tables.items()}
    order = list(dict.fromkeys(k for c in cols.values() for k in c.index))  # first table's row order
    return pd.DataFrame({w: c.reindex(order) for w, c in cols.items()},
                        index=pd.MultiIndex.from_tuples(order, names=keys)).fillna("—").reset_index()


def plot_knob_effects(tables: dict[str, pd.DataFrame], ncols: int = 3):
    """Return a grid of panels, one per knob: each quantity's value with its 95% CI, one colour per world."""
    import matplotlib.pyplot as plt

    from workbook import plotting

    knobs = list(dict.fromkeys(k for t in tables.values() for k in t.knob))
    nrows = -(-len(knobs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    offsets = np.linspace(-0.15, 0.15, len(tables))
    for ax, knob in zip(axes.flat, knobs):
        quantities = list(dict.fromkeys(q for t in tables.values() for q in t[t.knob == knob].quantity))
        for off, (world, t) in zip(offsets, tables.items()):
            sub = t[t.knob == knob].set_index("quantity").reindex(quantities)
            y = np.arange(len(quantities)) + off
            err = np.abs(np.vstack([sub.value - sub.lo, sub.hi - sub.value]))
            ax.errorbar(sub.value, y, xerr=np.nan_to_num(err), fmt="o", capsize=3, label=world,
                        color=plotting.method_color(world, ax))
        ax.set_yticks(np.arange(len(quantities)))
        ax.set_yticklabels([_wrap(q) for q in quantities], fontsize=7)
        ax.set_ylim(len(quantities) - 0.5, -0.5)  # first quantity on top
        ax.set_title(knob, fontsize=9)
        ax.set_xlim(-0.03, 1.03)
    for ax in list(axes.flat)[len(knobs):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 28) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:3])
