"""Output comparison in the harness's own process: EvalPlus semantics on decoded plain data.

Ported from EvalPlus 0.3.x ``evalplus/eval/__init__.py::unsafe_execute`` and ``_special_oracle.py`` (Apache-2.0).
"""

from __future__ import annotations

from workbook.sandbox import SandboxResult

from .programs import MBPP_OUTPUT_NOT_NONE_TASKS, MBPP_OUTPUT_SET_EQ_TASKS, digest_of, from_plain, is_floats


def _poly(xs, x):
    import math

    return sum(c * math.pow(x, i) for i, c in enumerate(xs))


def _surface_area(base_edge, height):
    import math

    slant = math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)


def _digit_distance_nums(a, b):
    a, b = str(a), str(b)
    m = max(len(a), len(b))
    a, b = a.zfill(m), b.zfill(m)
    return sum(abs(int(x) - int(y)) for x, y in zip(a, b))


def _close(a, b, atol, rtol=1e-7):
    return abs(a - b) <= atol + rtol * abs(b)


def outputs_match(dataset: str, entry_point: str, atol: float, inp, out, exp) -> bool:
    """Return True when the candidate output ``out`` matches ``exp`` (EvalPlus ``unsafe_execute`` + special oracles).

    Exact ``==`` on decoded builtin values first; otherwise, for float expected values, ``|out - exp| <= atol +
    1e-7 |exp|`` element-wise with ``atol = 1e-6`` when the task's atol is 0 (EvalPlus 0.3.x). Never raises.
    """
    try:
        return bool(_outputs_match(dataset, entry_point, atol, inp, out, exp))
    except Exception:  # noqa: BLE001 - a candidate value of the wrong shape is simply wrong
        return False


def _outputs_match(ds, ep, atol, inp, out, exp) -> bool:
    if ds == "humaneval_plus" and ep == "find_zero":
        return abs(_poly(*inp, out)) <= atol
    exact = out == exp
    if ds == "mbpp_plus":
        if ep == "are_equivalent":
            exact = True
        elif ep == "sum_div":
            exact = exact or out == 0
        elif ep == "surface_Area":
            exact = exact or abs(out - _surface_area(*inp)) <= atol
        elif ep == "digit_distance_nums":
            exact = exact or out == _digit_distance_nums(*inp)
        elif ep in MBPP_OUTPUT_SET_EQ_TASKS:
            exact = set(out) == set(exp)
        elif ep in MBPP_OUTPUT_NOT_NONE_TASKS:
            exact = (out == exp) if isinstance(out, bool) else (exp == (out is not None))
    if atol == 0 and is_floats(exp):
        atol = 1e-6
    if exact or atol == 0:
        return bool(exact)
    if type(out) != type(exp):
        return False
    if isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(_close(o, e, atol) for o, e in zip(out, exp))
    return _close(out, exp, atol)


def record_matches(problem, inp, rec: dict, exp: dict) -> bool:
    if "dg" in exp:
        if "dg" in rec:
            return rec["dg"] == exp["dg"]
        return "v" in rec and digest_of(from_plain(rec["v"])) == exp["dg"]
    if "v" not in rec:
        return False
    m = problem.metadata
    return outputs_match(problem.dataset, m["entry_point"], float(m.get("atol") or 0), inp,
                         from_plain(rec["v"]), from_plain(exp["v"]))


def judge_phase(problem, phase: str, inputs: list, got: dict | None, expected: list, r: SandboxResult) -> tuple[str, str]:
    """Return (outcome, reason) of one test set from the sandbox's records, compared here."""
    if got is None:  # the process ended before reporting this set
        if r.status == "pass":
            return "fail", "no results for this test set (the program exited early)"
        return r.status, r.reason
    outs = got["out"]
    for i, rec in enumerate(outs):
        if rec.get("timeout"):
            return "timeout", f"input {i}: CPU limit"
        if "error" in rec:
            return "fail", f"input {i}: {str(rec['error'])[:120]}"
        if i >= len(expected) or not record_matches(problem, inputs[i], rec, expected[i]):
            return "fail", f"input {i}: wrong output"
    if len(outs) < len(expected):
        return "fail", f"results for {len(outs)} of {len(expected)} inputs"
    return "pass", ""

