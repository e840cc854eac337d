"""Returns base/plus test outcomes of code completions for HumanEval(+) and MBPP+, every program run in the sandbox.

Spec: ``shared/specs/inference_scaling_limits.md`` ("Data and models": weak verifier = base tests, ground truth =
EvalPlus plus tests). Follows EvalPlus 0.3.x differential testing: expected outputs come from running the canonical
solution (``prompt + canonical_solution``) on the same inputs (``base_input`` / ``plus_input``); a completion passes
a test set when every output matches (exactly, or within ``atol`` / 1e-6 for floats with rtol 1e-7, plus EvalPlus's
special oracles for HumanEval/32 and a few MBPP tasks); MBPP inputs are converted to tuples/sets/complex numbers as
in ``evalplus/data/mbpp.py::mbpp_deserialize_inputs``. The task lists and conversions below are ported from EvalPlus
(Apache-2.0). For the original ``humaneval`` file there are only the original ``check(candidate)`` tests (base).

Differences from EvalPlus, on purpose: each phase (base, plus) stops at its first failing input (EvalPlus's
``fast_check``); base and plus run in one sandboxed process, each phase on a fresh ``exec`` of the solution (EvalPlus
uses two processes); the per-input time limit is ``max(min_time_s, factor * canonical time)`` with ``min_time_s = 1``
by default (EvalPlus 0.3.1: 4 s) so that non-terminating samples cost less on a laptop.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from workbook.sandbox import SandboxLimits, SandboxResult, run_many

logger = logging.getLogger(__name__)

CODE_DATASETS = ("humaneval", "humaneval_plus", "mbpp_plus")
OUTCOMES = ("pass", "fail", "timeout", "crash")

# Shared by the ground-truth and the test driver (both run inside the sandbox). Ported from EvalPlus 0.3.x
# (evalplus/data/mbpp.py::mbpp_deserialize_inputs, evalplus/eval/_special_oracle.py), Apache-2.0.
_COMMON = r'''
import copy, io, json, math, os, pickle, signal, sys, time
sys.setrecursionlimit(10000)
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)
MBPP_OUTPUT_NOT_NONE_TASKS = ["check_str", "text_match_three", "text_starta_endb"]
MBPP_OUTPUT_SET_EQ_TASKS = ["similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                            "larg_nnum", "intersection_array", "find_dissimilar", "Diff"]
def _tup_all(x):
    return tuple(_tup_all(i) for i in x) if isinstance(x, list) else x
def mbpp_deserialize(task_id, inputs):
    t = int(task_id.split("/")[-1])
    if t in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809):
        return [[tuple(l) for l in inp] for inp in inputs]
    if t in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(l) for l in ll] for ll in inp] for inp in inputs]
    if t in (75, 413, 444, 753):
        return [[[tuple(l) for l in inp[0]]] + [inp[1]] for inp in inputs]
    if t in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if t == 115:
        return [[[set(i) if isinstance(i, list) and len(i) else {} for i in inp[0]]] for inp in inputs]
    if t == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if t in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if t in (259, 401, 445):
        m = [[[tuple(l) for l in ll] for ll in inp] for inp in inputs]
        return [[tuple(l) for l in inp] for inp in m]
    if t == 278:
        m = [[[tuple(i) if isinstance(i, list) else i for i in inp[0]]] for inp in inputs]
        return [[tuple(l) for l in inp] for inp in m]
    if t == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if t == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}] + inp[1:] for inp in inputs]
    if t == 252:
        return [[complex(inp[0])] for inp in inputs]
    if t in (580, 615, 791):
        return [_tup_all(inp) for inp in inputs]
    return inputs
class Digest(str):
    """Stands in for a huge expected output (e.g. HumanEval+ 15/100/130, MBPP+ 255): a hash of its normalized repr."""
def _is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False
def compactable(x, depth=0):
    # Values whose == is decided by a canonical serialization (no sets/dicts: their iteration order varies).
    if x is None or isinstance(x, (str, int, float)):
        return True
    return depth < 50 and isinstance(x, (list, tuple)) and all(compactable(i, depth + 1) for i in x)
def _norm(x):
    if isinstance(x, bool) or (isinstance(x, float) and x.is_integer()):
        return int(x)
    if isinstance(x, list):
        return [_norm(i) for i in x]
    if isinstance(x, tuple):
        return tuple(_norm(i) for i in x)
    return x
def digest_of(x):
    # sha256 of repr, where == values (1 == 1.0 == True) are first normalized to ints. The copy is made only when
    # the repr shows a bool or a float could be inside; repr runs in C, so huge outputs hash fast.
    import hashlib
    text = repr(x)
    if not isinstance(x, str) and any(t in text for t in ("True", "False", ".", "e+", "e-", "inf", "nan")):
        text = repr(_norm(x))
    return ("str:" if isinstance(x, str) else "val:") + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
def _big(x, budget=20000):
    # True when x holds more than `budget` characters/elements (cheap: stops counting at the budget).
    stack, seen = [x], 0
    while stack:
        y = stack.pop()
        if isinstance(y, (str, bytes)):
            seen += len(y)
        elif isinstance(y, (list, tuple)):
            seen += len(y)
            stack.extend(y[:budget])
        else:
            seen += 1
        if seen > budget:
            return True
    return False
SPECIAL_ORACLES = set(MBPP_OUTPUT_NOT_NONE_TASKS + MBPP_OUTPUT_SET_EQ_TASKS +
                      ["are_equivalent", "sum_div", "surface_Area", "digit_distance_nums", "find_zero"])
def maybe_compact(task, r):
    if task["entry_point"] in SPECIAL_ORACLES or _is_floats(r) or not _big(r) or not compactable(r):
        return r
    return Digest(digest_of(r))
class _Null(io.StringIO):
    def write(self, s):
        return len(s)
    def read(self, *a):
        return ""
    readline = read
class _Timeout(BaseException):
    pass
def _alarm(signum, frame):
    raise _Timeout()
signal.signal(signal.SIGALRM, _alarm)
def call_with_limit(fn, args, limit):
    old = sys.stdout, sys.stderr, sys.stdin
    sys.stdout = sys.stderr = sys.stdin = _Null()
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr, sys.stdin = old
def load_task():
    task = json.load(open("task.json"))
    inputs = json.load(open("inputs.json"))
    if task["dataset"] == "mbpp_plus":
        inputs = {k: mbpp_deserialize(task["task_id"], v) for k, v in inputs.items()}
    return task, inputs
'''

_GT_DRIVER = _COMMON + r'''
def main():
    task, inputs = load_task()
    g = {}
    exec(compile(open("solution.py").read(), "solution.py", "exec"), g)
    fn = g[task["entry_point"]]
    out, times = {}, {}
    for phase, inps in inputs.items():
        out[phase], times[phase] = [], []
        for inp in inps:
            t0 = time.perf_counter()
            r = call_with_limit(fn, copy.deepcopy(inp), 30.0)
            times[phase].append(time.perf_counter() - t0)
            if task["dataset"] == "mbpp_plus" and task["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS:
                r = r is not None
            out[phase].append(maybe_compact(task, r))
    sys.stdout.write(json.dumps(times) + "\n")
    sys.stdout.write(__import__("base64").b64encode(pickle.dumps(out)).decode() + "\n")
main()
'''

_TEST_DRIVER = _COMMON + r'''
def _poly(xs, x):
    return sum(c * math.pow(x, i) for i, c in enumerate(xs))
def _surface_Area(base_edge, height):
    slant = math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)
def _digit_distance_nums(a, b):
    a, b = str(a), str(b); m = max(len(a), len(b)); a, b = a.zfill(m), b.zfill(m)
    return sum(abs(int(x) - int(y)) for x, y in zip(a, b))
def _close(a, b, atol, rtol=1e-7):
    return abs(a - b) <= atol + rtol * abs(b)
def matches(task, inp, out, exp):
    ds, ep, atol = task["dataset"], task["entry_point"], task["atol"]
    if ds == "humaneval_plus" and ep == "find_zero":
        return abs(_poly(*inp, out)) <= atol
    if isinstance(exp, Digest):
        return digest_of(out) == exp
    exact = out == exp
    if ds == "mbpp_plus":
        if ep == "are_equivalent":
            exact = True
        elif ep == "sum_div":
            exact = exact or out == 0
        elif ep == "surface_Area":
            exact = exact or abs(out - _surface_Area(*inp)) <= atol
        elif ep == "digit_distance_nums":
            exact = exact or out == _digit_distance_nums(*inp)
        elif ep in MBPP_OUTPUT_SET_EQ_TASKS:
            exact = set(out) == set(exp)
        elif ep in MBPP_OUTPUT_NOT_NONE_TASKS:
            exact = (out == exp) if isinstance(out, bool) else (exp == (out is not None))
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if exact or atol == 0:
        return bool(exact)
    if type(out) != type(exp):
        return False
    if isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(_close(o, e, atol) for o, e in zip(out, exp))
    return _close(out, exp, atol)
def run_phase(task, phase, inps, expected, limits):
    g = {}
    try:
        old = sys.stdout, sys.stderr, sys.stdin
        sys.stdout = sys.stderr = sys.stdin = _Null()
        try:
            exec(compile(open("solution.py").read(), "solution.py", "exec"), g)
        finally:
            sys.stdout, sys.stderr, sys.stdin = old
        fn = g[task["entry_point"]]
        for i, inp in enumerate(inps):
            if not matches(task, inp, call_with_limit(fn, inp, limits[i]), expected[i]):
                return "fail"
        return "pass"
    except _Timeout:
        return "timeout"
    except BaseException:
        return "fail"
def main():
    token = sys.stdin.readline().strip()
    task, inputs = load_task()
    expected = pickle.load(open("expected.pkl", "rb"))
    for phase in task["phases"]:
        status = run_phase(task, phase, inputs[phase], expected[phase], task["time_limits"][phase])
        os.write(1, ("\n%s %s %s\n" % (token, phase, status)).encode())
    os.write(1, ("\n%s done\n" % token).encode())
main()
'''

# The original HumanEval file: its own check(candidate) function is the (base) test.
_CHECK_DRIVER = r'''
import io, os, sys
def main():
    token = sys.stdin.readline().strip()
    task = __import__("json").load(open("task.json"))
    g = {}
    status = "fail"
    try:
        sys.stdout = sys.stderr = io.StringIO()
        exec(compile(open("solution.py").read() + "\n" + task["test"], "solution.py", "exec"), g)
        g["check"](g[task["entry_point"]])
        status = "pass"
    except BaseException:
        pass
    os.write(1, ("\n%s base %s\n%s done\n" % (token, status, token)).encode())
main()
'''


@dataclass(frozen=True)
class CodeResult:
    """Outcome of one completion: ``base`` and ``plus`` are in :data:`OUTCOMES` (``plus`` None without plus tests)."""

    problem_id: str
    base: str
    plus: str | None
    reason: str = ""

    @property
    def base_pass(self) -> bool:
        return self.base == "pass"

    @property
    def plus_pass(self) -> bool:
        """True when the completion passes the plus tests (EvalPlus ``plus_status``, independent of base)."""
        return self.plus == "pass"


def _check_problem(problem) -> str:
    if problem.dataset not in CODE_DATASETS:
        raise ValueError(f"{problem.problem_id}: code_eval handles {CODE_DATASETS}, got dataset {problem.dataset!r}")
    need = ("entry_point", "test") if problem.dataset == "humaneval" else ("entry_point", "base_input", "plus_input")
    missing = [k for k in need if k not in problem.metadata]
    if missing:
        raise ValueError(f"{problem.problem_id}: metadata lacks {missing}")
    return problem.dataset


_FENCE = re.compile(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", re.S)


def _defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in ast.walk(tree))


def build_solution(problem, completion: str) -> str:
    """Return the program text for a completion: a fenced/full function with the prompt's imports, or prompt + body.

    Spec: EvalPlus evaluates ``prompt + completion`` for HumanEval continuations and the code itself when it defines
    the entry point (chat models). Never raises on model output.
    """
    entry = problem.metadata["entry_point"]
    text = completion or ""
    blocks = _FENCE.findall(text)
    candidates = [b for b in blocks if _defines(b, entry)] or ([text] if _defines(text, entry) else [])
    if candidates:
        imports = [ln for ln in problem.problem.splitlines() if ln.startswith(("import ", "from "))]
        return "\n".join(imports) + "\n" + candidates[-1]
    if problem.dataset == "mbpp_plus":  # MBPP prompts are a docstring, not a function header
        return blocks[-1] if blocks else text
    return problem.problem + text


def _ground_truth_key(problem) -> str:
    m = problem.metadata
    blob = json.dumps(["v5", problem.dataset, problem.problem_id, problem.problem, problem.answer, m["base_input"],
                       m["plus_input"]], sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _task_files(problem) -> tuple[dict, dict]:
    m = problem.metadata
    task = {"dataset": problem.dataset, "task_id": m.get("task_id", problem.problem_id),
            "entry_point": m["entry_point"], "atol": float(m.get("atol") or 0)}
    return task, {"base": m["base_input"], "plus": m["plus_input"]}


def ground_truths(problems, cache: Path | None = None, workers: int = 2, progress: bool = False) -> list[dict]:
    """Return per problem ``{"expected": pickle bytes (opened only inside the sandbox), "times": {phase: [s]}}``.

    Expected outputs come from the canonical solution run in the sandbox (EvalPlus ``get_groundtruth``); cached in
    ``cache`` (default ``workbook.paths.cache_dir()/code_eval``) keyed by a hash of the problem.
    """
    from workbook.paths import cache_dir

    cache = Path(cache) if cache is not None else cache_dir() / "code_eval"
    cache.mkdir(parents=True, exist_ok=True)
    out: list[dict | None] = [None] * len(problems)
    todo = []
    for i, p in enumerate(problems):
        if _check_problem(p) == "humaneval":
            out[i] = {}
            continue
        f = cache / f"{_ground_truth_key(p)}.json"
        if f.exists():
            d = json.loads(f.read_text())
            out[i] = {"expected": base64.b64decode(d["expected"]), "times": d["times"]}
        else:
            todo.append(i)
    if todo:
        sources, files = [], []
        for i in todo:
            task, inputs = _task_files(problems[i])
            code = build_solution(problems[i], problems[i].answer)
            files.append({"task.json": json.dumps(task), "inputs.json": json.dumps(inputs), "solution.py": code})
            sources.append(_GT_DRIVER)
        limits = SandboxLimits(cpu_s=120, wall_s=240, memory_mb=4096, output_bytes=256 << 20, tmpfs_mb=256)
        for i, r in zip(todo, run_many(sources, limits, workers=workers, files=files, progress=progress)):
            if r.status != "pass":
                raise RuntimeError(f"{problems[i].problem_id}: canonical solution {r.status} ({r.reason}): "
                                   f"{r.stderr[-500:]}")
            times_line, b64 = r.stdout.strip().split("\n")[-2:]
            (cache / f"{_ground_truth_key(problems[i])}.json").write_text(
                json.dumps({"expected": b64, "times": json.loads(times_line)}))
            out[i] = {"expected": base64.b64decode(b64), "times": json.loads(times_line)}
    return out  # type: ignore[return-value]


def _parse(r: SandboxResult, token: str, phases: tuple[str, ...], pid: str) -> CodeResult:
    got = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == token and parts[1] in phases and parts[2] in OUTCOMES:
            got.setdefault(parts[1], parts[2])
    # A phase with no report ended the process: its status is the process's (timeout/crash), or fail on a clean exit.
    missing = "fail" if r.status == "pass" else r.status
    res = {ph: got.get(ph, missing) for ph in phases}
    reason = "" if len(got) == len(phases) else (r.reason or "driver ended early")
    return CodeResult(pid, res["base"], res.get("plus"), reason)


def evaluate(problems, completions: list[list[str]], *, workers: int = 2, min_time_s: float = 1.0,
             time_factor: float = 4.0, max_time_s: float = 60.0, memory_mb: int = 4096, progress: bool = False,
             gt_cache: Path | None = None) -> list[list[CodeResult]]:
    """Return ``results[problem][completion]`` with base/plus outcomes, every program run in the sandbox.

    ``completions[i]`` are the completions for ``problems[i]`` (raw model text; see :func:`build_solution`).
    Per-input limit: ``max(min_time_s, time_factor * canonical seconds)``; the whole program gets at most
    ``max_time_s`` CPU seconds per phase plus 1 (EvalPlus's ``min(60, sum(limits)) + 1``).
    """
    if len(completions) != len(problems):
        raise ValueError(f"{len(completions)} completion lists for {len(problems)} problems")
    for p in problems:
        _check_problem(p)
    gts = ground_truths(problems, cache=gt_cache, workers=workers)
    sources, files, tokens, stdins, index, limits_all = [], [], [], [], [], []
    for i, (p, comps) in enumerate(zip(problems, completions)):
        if p.dataset == "humaneval":
            task = {"entry_point": p.metadata["entry_point"], "test": p.metadata["test"]}
            base_files, driver, phases, budget = {"task.json": json.dumps(task)}, _CHECK_DRIVER, ("base",), max_time_s
        else:
            task, inputs = _task_files(p)
            lim = {ph: [max(min_time_s, time_factor * t) for t in ts] for ph, ts in gts[i]["times"].items()}
            task.update(phases=["base", "plus"], time_limits=lim)
            budget = sum(min(max_time_s, sum(v)) + 1 for v in lim.values())
            base_files = {"task.json": json.dumps(task), "inputs.json": json.dumps(inputs),
                          "expected.pkl": gts[i]["expected"]}
            driver, phases = _TEST_DRIVER, ("base", "plus")
        for j, c in enumerate(comps):
            token = secrets.token_hex(16)
            sources.append(driver)
            files.append({**base_files, "solution.py": build_solution(p, c)})
            tokens.append(token)
            stdins.append(token + "\n")
            index.append((i, j, phases))
            limits_all.append(budget)
    out: list[list[CodeResult | None]] = [[None] * len(c) for c in completions]
    # CPU time is the real limit; the wall clock is a backstop against sleeping (generous: shared machines)
    limits = [SandboxLimits(cpu_s=b, wall_s=4 * b + 10, memory_mb=memory_mb, output_bytes=1 << 20) for b in limits_all]
    rs = run_many(sources, limits, workers=workers, files=files, stdins=stdins, progress=progress)
    for (i, j, phases), token, r in zip(index, tokens, rs):
        out[i][j] = _parse(r, token, phases, problems[i].problem_id)
    return out  # type: ignore[return-value]


def check_canonical(problems, workers: int = 2, **kw) -> list[CodeResult]:
    """Return the outcome of each problem's canonical solution (must pass base and plus); ``kw`` go to evaluate."""
    return [r[0] for r in evaluate(problems, [[p.answer] for p in problems], workers=workers, **kw)]


def line_length_share(code: str, limit: int = 70) -> float:
    """Return the fraction of non-blank lines of ``code`` at most ``limit`` characters long (RACE readability check).

    Spec "Headline numbers" (code quality, claim 4: line length ≤ 70). NaN for code without non-blank lines.
    """
    lines = [ln for ln in (code or "").splitlines() if ln.strip()]
    return float(sum(len(ln) <= limit for ln in lines) / len(lines)) if lines else float("nan")
