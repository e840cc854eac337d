"""The program that runs in the sandbox next to the candidate, and the plain-data codec both sides share.

``SHARED`` (codec, EvalPlus input conversions and output digests) is executed both inside the sandbox, as part of
``DRIVER``, and here in the harness, so both sides agree on the encoding. See ``workbook.code_eval`` for the design.
"""

from __future__ import annotations

# Plain-data codec, EvalPlus input conversions and output digests. Executed both inside the sandbox (driver) and
# here (harness), so both sides agree on the encoding. Ported from EvalPlus 0.3.x where noted (Apache-2.0).
SHARED = r'''
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
DRIVER = SHARED + r'''
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

NS: dict = {}
exec(compile(SHARED, "code_eval_shared", "exec"), NS)  # our own codec, the same text the driver runs
to_plain, from_plain, digest_of = NS["to_plain"], NS["from_plain"], NS["digest_of"]
mbpp_deserialize = NS["mbpp_deserialize"]
MBPP_OUTPUT_NOT_NONE_TASKS = NS["MBPP_OUTPUT_NOT_NONE_TASKS"]
MBPP_OUTPUT_SET_EQ_TASKS = NS["MBPP_OUTPUT_SET_EQ_TASKS"]
is_floats = NS["_is_floats"]
