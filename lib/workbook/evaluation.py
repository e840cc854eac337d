"""The one sample-and-grade path: problems → prompts → seeded samples → verdicts, as one tidy frame.

Every notebook and the RL evaluation sample through :func:`sample_and_grade` (or :func:`sample`, when the verdict
needs more than one completion at a time, e.g. unit tests run in the sandbox). The frame has one row per
completion, so every statistic downstream (mean@n, unbiased pass@k of Chen et al. 2021 Eq. 1, majority vote,
best-of-N) is a group-by over ``problem_id``; :func:`per_problem` gives the ``(n, n_correct)`` counts that
``workbook.metrics.pass_at_k_curve`` takes.

Sampling is the backend's: ``workbook.generation`` seeds each (prompt, sample) from ``(seed, prompt index, sample
index)``, so the same problems, ``n`` and ``seed`` give the same frame on CPU whatever the batch size.
``logprobs`` are the raw log-probabilities of the sampled tokens (before temperature/top-p; see
``workbook.generation``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "by_problem", "correct_matrix", "grade", "pass_at_k_table", "per_problem", "sample",
           "sample_and_grade"]

#: Columns of :func:`sample_and_grade`'s frame, in order (``sample`` gives all but ``correct``).
COLUMNS = ("problem_id", "dataset", "sample", "text", "n_tokens", "token_ids", "logprobs", "finish_reason", "answer",
           "correct")

_SAMPLING_KEYS = ("temperature", "top_p", "max_new_tokens")


def _field(problem: Any, name: str, default: Any = None) -> Any:
    if isinstance(problem, dict):
        return problem.get(name, default)
    return getattr(problem, name, default)


def _check(problems: Sequence, n: int, seed: int, sampling: dict) -> None:
    if isinstance(problems, (str, bytes)) or not isinstance(problems, Sequence):
        raise TypeError("problems must be a list of problems (objects or dicts with problem, answer, problem_id)")
    if not problems:
        raise ValueError("problems is empty: nothing to sample")
    for i, p in enumerate(problems):
        if not isinstance(_field(p, "problem"), str):
            raise TypeError(f"problems[{i}] has no str field 'problem'")
    ids = [_field(p, "problem_id", str(i)) for i, p in enumerate(problems)]
    if len(set(ids)) != len(ids):  # every group-by downstream keys on problem_id
        dup = sorted({x for x in ids if ids.count(x) > 1})[:5]
        raise ValueError(f"problem ids must be unique; repeated: {dup}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    unknown = set(sampling) - set(_SAMPLING_KEYS)
    if unknown:
        raise TypeError(f"unknown sampling argument(s) {sorted(unknown)}; valid: {', '.join(_SAMPLING_KEYS)}")


def sample(backend, problems: Sequence, n: int, *, prompt_fn: Callable[[Any], str] | None = None, seed: int = 0,
           **sampling) -> pd.DataFrame:
    """Return one row per completion: ``problem_id, dataset, sample, text, n_tokens, token_ids, logprobs,
    finish_reason, answer``.

    ``backend`` is a ``workbook.generation`` backend (``generate(prompts, n, temperature, top_p, max_new_tokens,
    seed)``); ``problems`` are ``workbook.data.Problem``-like (attributes or dict keys ``problem``, ``answer``,
    ``problem_id``, ``dataset``). ``prompt_fn(problem) -> str`` builds each prompt; by default the chat-formatted
    math prompt ``workbook.generation.prompt_fn(backend.tokenizer)`` (question + ``MATH_INSTRUCTION``); another
    instruction: ``prompt_fn=workbook.generation.prompt_fn(tokenizer, instruction)``. ``sampling`` are
    ``temperature`` (0 = greedy: n identical rows), ``top_p`` and ``max_new_tokens``. ``answer`` is the gold answer.
    All arguments are checked before any generation.
    """
    from workbook.generation import prompt_fn as math_prompt

    _check(problems, n, seed, sampling)
    if prompt_fn is None:
        prompt_fn = math_prompt(backend.tokenizer)
    prompts = [prompt_fn(p) for p in problems]
    outs = backend.generate(prompts, n=int(n), seed=int(seed), **sampling)
    rows = []
    for i, (p, comps) in enumerate(zip(problems, outs)):
        pid = _field(p, "problem_id", str(i))
        for j, c in enumerate(comps):
            rows.append((pid, _field(p, "dataset"), j, c.text, len(c.token_ids), list(c.token_ids), list(c.logprobs),
                         c.finish_reason, _field(p, "answer")))
    return pd.DataFrame(rows, columns=list(COLUMNS[:-1]))


def grade(frame: pd.DataFrame, grader) -> pd.DataFrame:
    """Return ``frame`` with a bool column ``correct``: each ``text`` graded against its row's gold ``answer``.

    ``grader`` is a ``workbook.grading.Grader`` (``grade_many``: duplicates graded once, bounded in time) or any
    callable ``grader(text, answer) -> bool`` (e.g. a deliberately weak verifier). Graders never raise on model
    output, so neither does this.
    """
    texts, golds = frame["text"].tolist(), frame["answer"].tolist()
    if hasattr(grader, "grade_many"):
        verdicts = grader.grade_many(texts, golds)
    elif callable(grader):
        verdicts = [grader(t, g) for t, g in zip(texts, golds)]
    else:
        raise TypeError(f"grader must have grade_many() or be callable, got {type(grader).__name__}")
    return frame.assign(correct=np.asarray(verdicts, dtype=bool))


def sample_and_grade(backend, problems: Sequence, n: int, *, grader, prompt_fn: Callable[[Any], str] | None = None,
                     seed: int = 0, **sampling) -> pd.DataFrame:
    """Sample ``n`` completions per problem and grade each: one row per completion (columns :data:`COLUMNS`).

    ``problem_id, dataset, sample, text, n_tokens, token_ids, logprobs, finish_reason, answer, correct``; see
    :func:`sample` for the arguments and :func:`grade` for ``grader``. Same backend, problems, ``n``, ``seed`` and
    sampling → the same frame (CPU backend).
    """
    if grader is None or not (hasattr(grader, "grade_many") or callable(grader)):
        raise TypeError("grader must be a workbook.grading.Grader or a callable (text, answer) -> bool")
    return grade(sample(backend, problems, n, prompt_fn=prompt_fn, seed=seed, **sampling), grader)


def per_problem(frame: pd.DataFrame) -> pd.DataFrame:
    """Return one row per problem, in first-seen order: ``problem_id, dataset, n, n_correct, mean_tokens``.

    ``n_correct / n`` is mean@n; ``(n, n_correct)`` feed the unbiased pass@k estimator (Chen et al. 2021, Eq. 1).
    """
    g = frame.groupby("problem_id", sort=False, dropna=False)
    out = g.agg(dataset=("dataset", "first"), n=("correct", "size"), n_correct=("correct", "sum"),
                mean_tokens=("n_tokens", "mean")).reset_index()
    out["n_correct"] = out["n_correct"].astype(int)
    return out


def correct_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Return the verdicts as a bool array (problems × samples), problems in first-seen order.

    Raises ValueError when problems have different sample counts (the frame is then not a matrix).
    """
    counts = frame.groupby("problem_id", sort=False).size()
    if counts.nunique() != 1:
        raise ValueError("problems have different numbers of samples; use per_problem() instead")
    order = {pid: i for i, pid in enumerate(counts.index)}
    ordered = frame.assign(_p=frame["problem_id"].map(order)).sort_values(["_p", "sample"], kind="stable")
    return ordered["correct"].to_numpy(dtype=bool).reshape(len(counts), int(counts.iloc[0]))


def pass_at_k_table(frame: pd.DataFrame, ks: Sequence[int], *, by: str | None = "dataset", n_boot: int = 2000,
                    seed: int = 0) -> pd.DataFrame:
    """Return unbiased pass@k (Chen et al. 2021, Eq. 1) per ``by`` group and k, with a 95% bootstrap CI over problems.

    Columns: ``by`` (when given), ``k, value, lo, hi, n_problems, n`` (``n`` = completions per problem, the
    smallest when problems differ). For the per-problem values use :func:`per_problem` with
    ``workbook.metrics.pass_at_k_curve``.
    """
    from workbook.metrics import bootstrap_ci, pass_at_k_curve

    counts = per_problem(frame)
    groups = counts.groupby(by, sort=False, dropna=False) if by else [(None, counts)]
    rows = []
    for name, g in groups:
        if max(ks) > g["n"].min():
            raise ValueError(f"k = {max(ks)} exceeds the {g['n'].min()} completions of some problem")
        curve = pass_at_k_curve(g["n_correct"].to_numpy(), g["n"].to_numpy(), list(ks))
        for j, k in enumerate(ks):
            est = bootstrap_ci(curve[:, j], n_boot=n_boot, seed=seed)
            rows.append({**({by: name} if by else {}), "k": k, "value": est.value, "lo": est.lo, "hi": est.hi,
                         "n_problems": len(g), "n": int(g["n"].min())})
    return pd.DataFrame(rows)


def by_problem(frame: pd.DataFrame, column: str | None = None) -> list[list[Any]]:
    """Return ``[problem][sample]`` in first-seen problem order: the values of ``column``, or whole rows.

    Rows are namedtuples with the frame's columns as attributes (``.text``, ``.token_ids``, ``.logprobs``), so they
    stand in for ``workbook.generation.Completion`` where only those fields are read.
    """
    groups = frame.groupby("problem_id", sort=False)
    if column is not None:
        return [g[column].tolist() for _, g in groups]
    return [list(g.itertuples(index=False)) for _, g in groups]
