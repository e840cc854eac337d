"""One way to load problems for an experiment: seeded synthetic arithmetic or a benchmark, with the usual filters.

Every notebook and driver asks for problems the same way: a dataset name ("synthetic" or a `load_benchmark` name),
how many, which split, a seed, and optional filters. The synthetic world's splits are disjoint by construction
(`workbook.data.synthetic.problem_split`); a benchmark file has no split, so an experiment that needs disjoint
sets from one file passes the first set as ``exclude`` to the second call.
"""

from __future__ import annotations

from typing import Callable, Iterable

from workbook.data.benchmarks import Problem, load_benchmark

__all__ = ["is_integer_answer", "load_problems"]

#: Candidate draws per wanted problem when a synthetic filter keeps only part of the space (grown twice: a
#: filter keeping about one problem in ten, like the toy's guess-prone pool, finds n in the first draw).
_OVERSAMPLE = (12, 24, 48)


def is_integer_answer(problem: Problem) -> bool:
    """Return True when the gold answer is an integer literal (e.g. "12", "-3"): the MATH filter of papers that grade
    integer answers only (Huang et al. 2025, Sec. 5)."""
    return problem.answer.strip().lstrip("-").isdigit()


def load_problems(name: str, n: int, split: str = "test", seed: int = 0, *, min_operands: int | None = None,
                  max_operands: int | None = None, where: Callable[[Problem], bool] | None = None,
                  integer_answers_only: bool = False, exclude: Iterable[Problem | str] = ()) -> list[Problem]:
    """Return ``n`` problems of ``name``: synthetic arithmetic of ``split`` or the first ``n`` of a benchmark.

    - ``name == "synthetic"``: `generate_problems` with ``seed`` and ``split``; ``min_operands``/``max_operands``
      set the difficulty (both None: the toy world's default spec, 2–4 operands). ``where`` keeps only problems it
      accepts (e.g. the toy's guess-prone pool): drawn from 12, 24, then 48 × n candidates, in generation order.
    - a benchmark (`workbook.data.load_benchmark`): the file's problems in order; ``n = 0`` means all of them. The
      file fixes the split, so ``split`` and ``seed`` are not used; ``exclude`` (problems or problem ids) leaves
      out another set, e.g. the evaluation problems when drawing training prompts from the same file.

    ``integer_answers_only`` and ``where`` filter before the first ``n`` are taken. Raises ``ParameterError`` when
    fewer than ``n`` problems pass the filters (before any model is loaded).
    """
    from workbook.params import ParameterError

    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ParameterError(f"n must be a non-negative int, got {n!r}")
    keep = [f for f in (where, is_integer_answer if integer_answers_only else None) if f is not None]
    excluded = {p if isinstance(p, str) else p.problem_id for p in exclude}

    def accept(p: Problem) -> bool:
        return p.problem_id not in excluded and all(f(p) for f in keep)

    if name == "synthetic":
        from workbook.data.synthetic import ArithmeticSpec, generate_problems

        spec = None
        if min_operands is not None or max_operands is not None:
            top = max_operands if max_operands is not None else ArithmeticSpec().n_operands
            spec = ArithmeticSpec(n_operands=top, min_operands=min_operands)
        if not keep and not excluded:
            return generate_problems(n, seed, spec, split=split)
        out: list[Problem] = []
        for factor in _OVERSAMPLE:
            out = [p for p in generate_problems(factor * n, seed, spec, split=split) if accept(p)][:n]
            if len(out) == n:
                return out
        raise ParameterError(f"synthetic: only {len(out)} of {_OVERSAMPLE[-1] * n} {split} problems pass the "
                             f"filters (asked for {n})")
    problems = load_benchmark(name) if keep or excluded else load_benchmark(name, limit=n or None)
    out = [p for p in problems if accept(p)]
    if n and len(out) < n:
        raise ParameterError(f"{name}: only {len(out)} problems pass the filters" +
                             (f" outside the {len(excluded)} excluded ones" if excluded else "") + f" (asked for {n})")
    return out[:n] if n else out
