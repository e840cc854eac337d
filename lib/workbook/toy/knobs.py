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
* verify skill (DSER): true-positive and true-negative rates on the model's own sampled solutions.

The same function on the control world's model (``toy-reasoner-control``) gives the control column.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from workbook.data.synthetic import ArithmeticSpec, generate_problems
from workbook.metrics import bootstrap_ci, pass_at_k
from workbook.toy.evaluate import exact_grade, verify_solutions
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
                 n_boot: int = 1000) -> pd.DataFrame:
    """Return one row per measured quantity: ``knob, quantity, value, lo, hi, n_units, paper`` (95% CI over problems).

    ``backend``: a ``workbook.generation`` backend of a toy checkpoint (``backend.model``, ``backend.tokenizer``).
    ``knobs``: the world's knobs (where the hard tier and guess-prone problems are); default ``WorldKnobs()``;
    ``spec``: the world's problem family (default ``ArithmeticSpec()``; the hard tier extends it).
    Samples ``n`` solutions per problem of each pool at ``temperature`` plus one greedy solution.
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
    # hard pool: pass@1, pass@n and the share in NSR's regime
    hard = generate_problems(n_problems, seed=seed, spec=hard_spec(spec or ArithmeticSpec(), knobs), split="test")
    hframe, _ = run(hard, seed + 2)
    hc = correct_matrix(hframe)
    k = max(1, n // 4)  # pass@n from n samples is 0 or 1 per problem: the regime needs k well below n
    p_at_k = pass_at_k(n, hc.sum(1), k)
    rows.append(_row("hard_share", "pass@1 on the hard pool", hc.mean(1), "nsr", n_boot, seed))
    rows.append(_row("hard_share", f"pass@{k} on the hard pool (from {n} samples)", p_at_k, "nsr", n_boot, seed))
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

