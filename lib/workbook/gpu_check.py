"""Returns (and writes) a JSON summary proving the ``paper`` path on one GPU; ``--cpu`` is the offline dry run.

Issue 12 and ``shared/specs/scale.md`` ("One machine: TRL + vLLM"). Four checks, each recorded with its figures:

(a) ``rl_methods``: every method in ``workbook.rl.methods.METHODS`` trains a few steps through the TRL adapter
    (``workbook.rl.trainer``) -- on CUDA in bf16 autocast with the carried toy reasoner, on CPU in fp32 with
    ``toy-reasoner-smoke`` -- asserting that the weights change and every logged metric is finite;
(b) ``generation``: ``TransformersBackend`` greedy decoding of one batch on CUDA and on CPU (tokens/s of each,
    identical token ids required); CPU-only in the dry run, where a second CPU pass checks determinism;
(c) ``paper_plans``: every notebook with a ``paper.yaml`` resolves its parameters and its own plan cell runs
    (the notebook's code, executed up to the cell that prints the plan, with model loading forbidden);
(d) ``vllm``: ``VLLMBackend`` generate + logprobs when vllm imports, else skipped with the reason.

Entry point: ``env/gpu_check.sh`` (installs carried wheels, points the cache at the carried toy checkpoints).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import logging
import math
import os
import platform
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

#: Earlier partial CUDA checks by the GEN and RL owners (cited, not copied).
EARLIER_CUDA_RESULTS = ("results/benchmarks/generation_cuda.json", "results/benchmarks/rl_step.json")
PROMPT_SEED = 0


def _problems(n: int, seed: int = PROMPT_SEED) -> list[dict]:
    """Returns ``n`` synthetic arithmetic problems as dicts (problem, answer, problem_id)."""
    from workbook.data.synthetic import generate_problems

    return [{"problem": p.problem, "answer": p.answer, "problem_id": p.problem_id}
            for p in generate_problems(n, seed=seed)]  # fmt: skip


def parity_reward(completions: list[str], answers: list[str], completion_ids: list[list[int]]) -> list[float]:
    """Returns 1.0 where the first completion token id is even: a reward with spread whatever the policy's skill."""
    return [float(len(ids) > 0 and ids[0] % 2 == 0) for ids in completion_ids]


def _finite(values: dict) -> tuple[bool, list[str]]:
    bad = [k for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)]
    return not bad, bad


def _toy(name: str, device: str, allow_train: bool):
    """Returns ``(model, tokenizer, checkpoint_dir)`` of a toy preset; refuses to train one unless ``allow_train``."""
    from workbook.models import load_model
    from workbook.toy import RECIPES
    from workbook.toy.train import is_trained, recipe_dir

    if not allow_train and not is_trained(RECIPES[name]):
        raise FileNotFoundError(
            f"{name} checkpoint not found at {recipe_dir(RECIPES[name])}: carry it (make gpu-carry) and set "
            "WORKBOOK_CACHE_DIR to the carried cache; the GPU check does not train the toy model")
    model, tok = load_model(name, device=device)
    return model, tok, str(recipe_dir(RECIPES[name]))


def check_rl_methods(model_name: str, device: str, bf16: bool, steps: int, workdir: Path,
                     allow_train: bool, max_completion_length: int = 32) -> dict:
    """Returns per-method results of ``steps`` TRL-adapter steps: weights changed, metrics finite, times, metrics.

    Settings mirror ``tests/test_rl_trainer.py`` (parity reward, lr 1e-2, Lp-Reg rho 1 / kappa 0.6 so its term fires).
    """
    import torch

    from workbook.rl.methods import METHODS
    from workbook.rl.trainer import RLConfig, build_trainer, train
    from workbook.toy import MATH_INSTRUCTION

    class ExactGrader:
        name = "exact"

        def grade_many(self, completions, golds):
            return [c.strip() == g for c, g in zip(completions, golds)]

    problems = _problems(8)
    out: dict[str, Any] = {"model": model_name, "device": device, "bf16": bf16, "steps": steps, "prompts_per_step": 2,
                           "precision": "bf16 autocast, fp32 weights (paper.yaml bf16: true)" if bf16 else "fp32",
                           "num_generations": 4, "max_completion_length": max_completion_length, "methods": {}}
    for method in sorted(METHODS):
        t0 = time.perf_counter()
        rec: dict[str, Any] = {}
        try:
            model, tok, _ = _toy(model_name, "cpu", allow_train)  # the Trainer moves it to the accelerator
            before = {k: v.detach().float().cpu().clone() for k, v in model.named_parameters()}
            overrides = {"rho": 1.0, "kappa": 0.6} if method == "lp_reg" else {}
            cfg = RLConfig(max_steps=steps, prompts_per_step=2, num_generations=4,
                           max_completion_length=max_completion_length,
                           learning_rate=1e-2, instruction=MATH_INSTRUCTION, seed=0, bf16=bf16,
                           method_overrides=overrides)  # fmt: skip
            run_dir = workdir / "rl" / method
            tr = build_trainer(method, model, tok, problems, run_dir, cfg, reward_fn=parity_reward,
                               grader=ExactGrader())  # fmt: skip
            train(tr, resume=False)
            delta = max((v.detach().float().cpu() - before[k]).abs().max().item() for k, v in model.named_parameters())
            logs = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
            step_logs = [r for r in logs if "loss" in r]
            finite, bad = _finite({f"{r['step']}/{k}": v for r in step_logs for k, v in r.items()})
            rec.update(
                steps_done=tr.state.global_step, weights_changed=delta > 0, max_abs_weight_delta=delta,
                metrics_finite=finite, non_finite=bad, train_device=str(next(model.parameters()).device),
                step_time_s=[r.get("step_time") for r in step_logs],
                last_step={k: step_logs[-1].get(k) for k in ("loss", "reward", "entropy", "policy_loss", "kl")
                           if step_logs and k in step_logs[-1]},
            )  # fmt: skip
            rec["ok"] = bool(rec["steps_done"] == steps and rec["weights_changed"] and finite
                             and len(step_logs) == steps and rec["train_device"].startswith(device))
            del tr, model
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception as e:  # noqa: BLE001 - one method's failure is recorded; the others still run
            rec.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=6))
        rec["wall_s"] = round(time.perf_counter() - t0, 3)
        log.info("rl %s: %s", method, "ok" if rec["ok"] else rec.get("error") or rec)
        out["methods"][method] = rec
    out["ok"] = bool(out["methods"]) and all(r["ok"] for r in out["methods"].values())
    return out


def _timed_greedy(backend, prompts: list[str], max_new_tokens: int) -> tuple[list[list[int]], float, int]:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    res = backend.generate(prompts, n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=0)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    ids = [r[0].token_ids for r in res]
    return ids, dt, sum(len(x) for x in ids)


def check_generation(model_name: str, cuda: bool, n_prompts: int, max_new_tokens: int, allow_train: bool) -> dict:
    """Returns tokens/s per device and whether greedy token ids agree (CUDA vs CPU; or CPU vs CPU in the dry run)."""
    from workbook.generation import TransformersBackend
    from workbook.rl.evaluation import build_prompts
    from workbook.toy import MATH_INSTRUCTION

    out: dict[str, Any] = {"model": model_name, "prompts": n_prompts, "max_new_tokens": max_new_tokens,
                           "dtype": "float32", "decoding": "greedy"}  # fmt: skip
    try:
        model, tok, _ = _toy(model_name, "cpu", allow_train)
        prompts = build_prompts(tok, [p["problem"] for p in _problems(n_prompts, seed=1)], MATH_INSTRUCTION)
        arms = {}
        cpu = TransformersBackend(model, tok, batch_size=n_prompts)
        ids_cpu, dt, ntok = _timed_greedy(cpu, prompts, max_new_tokens)
        arms["cpu"] = {"seconds": round(dt, 4), "tokens": ntok, "tokens_per_s": round(ntok / dt, 1)}
        if cuda:
            gpu_model, _, _ = _toy(model_name, "cuda", allow_train)
            gpu = TransformersBackend(gpu_model, tok, batch_size=n_prompts)
            _timed_greedy(gpu, prompts[:2], 8)  # warm-up: CUDA context and kernels
            ids_other, dt, ntok = _timed_greedy(gpu, prompts, max_new_tokens)
            arms["cuda"] = {"seconds": round(dt, 4), "tokens": ntok, "tokens_per_s": round(ntok / dt, 1)}
            other = "cuda"
        else:
            ids_other, dt, ntok = _timed_greedy(cpu, prompts, max_new_tokens)
            arms["cpu_repeat"] = {"seconds": round(dt, 4), "tokens": ntok, "tokens_per_s": round(ntok / dt, 1)}
            other = "cpu_repeat"
        mismatch = [i for i, (a, b) in enumerate(zip(ids_cpu, ids_other)) if a != b]
        out.update(arms=arms, compared=f"cpu vs {other}", identical_greedy=not mismatch, mismatched_prompts=mismatch,
                   sample_completion=tok.decode(ids_cpu[0], skip_special_tokens=True))  # fmt: skip
        if cuda:
            out["cuda_speedup"] = round(arms["cuda"]["tokens_per_s"] / arms["cpu"]["tokens_per_s"], 2)
        out["ok"] = bool(not mismatch and all(a["tokens"] > 0 for a in arms.values()))
    except Exception as e:  # noqa: BLE001
        out.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=6))
    return out


def _code_cells(path: Path) -> list[tuple[int, str, bool]]:
    """Returns (index, source, is_parameters_cell) of each code cell of a py:percent notebook."""
    cells = re.split(r"^# %%", path.read_text(encoding="utf-8"), flags=re.M)
    out = []
    for i, cell in enumerate(cells[1:], start=1):
        head, _, body = cell.partition("\n")
        if "[markdown]" not in head:
            out.append((i, body, "parameters" in head))
    return out


def _forbid_model_loading() -> Callable[[], None]:
    """Patches the model/backends loaders to raise (a plan must not load a model); returns the undo function."""
    import workbook.generation as gen
    import workbook.models as models

    saved = [(models, "load_model", models.load_model), (gen, "make_backend", gen.make_backend)]

    def refuse(*a, **k):
        raise RuntimeError("plan check: the notebook tried to load a model before printing its plan")

    for mod, name, _ in saved:
        setattr(mod, name, refuse)
    return lambda: [setattr(mod, name, fn) for mod, name, fn in saved]


def notebook_plan(notebook: str, max_cells: int = 4) -> dict:
    """Returns the paper profile's resolved parameters and the plan the notebook itself prints.

    Runs the notebook's code cells after its parameters cell, statement by statement, with the resolved ``paper``
    parameters as globals (as papermill injects them), up to the end of the first cell whose source mentions a plan;
    a statement that fails after the plan printed (e.g. "needs a CUDA GPU") ends the run without failing the check.
    """
    from workbook.params import notebooks_dir, resolve_params
    from workbook.rl.experiments import Plan

    params, runner = resolve_params(notebook, "paper")
    rec: dict[str, Any] = {"resolved": True, "runner": runner,
                           "params": {k: params[k] for k in ("model", "generation_backend", "backend", "device", "bf16",
                                                             "steps", "methods", "eval_benchmarks") if k in params}}
    cells = _code_cells(notebooks_dir() / f"{notebook}.py")
    start = next((j + 1 for j, c in enumerate(cells) if c[2]), 0)
    todo = cells[start:start + max_cells]
    upto = next((j for j, (_, src, _) in enumerate(todo) if re.search(r"\bplan", src, re.I)), None)
    if upto is None:
        rec.update(plan_printed=False, plan_note="the notebook prints no plan before its first heavy cell",
                   ok=True)  # fmt: skip
        return rec
    ns: dict[str, Any] = {"__name__": "__main__", **params}
    buf, error = io.StringIO(), None
    undo = _forbid_model_loading()
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(buf):
            old = os.environ.get("WORKBOOK_RESULTS_DIR")
            os.environ["WORKBOOK_RESULTS_DIR"] = tmp  # RunDir in the setup cell must not touch results/
            try:
                for idx, src, _ in todo[: upto + 1]:
                    for stmt in ast.parse(src).body:
                        code = compile(ast.Module([stmt], []), f"{notebook}.py cell {idx}", "exec")
                        exec(code, ns)  # noqa: S102 - the repository's own notebook code
            except Exception as e:  # noqa: BLE001
                error = f"{type(e).__name__}: {e}"
            finally:
                if old is None:
                    os.environ.pop("WORKBOOK_RESULTS_DIR", None)
                else:
                    os.environ["WORKBOOK_RESULTS_DIR"] = old
    finally:
        undo()
    text = buf.getvalue()
    plans = {k: {f: getattr(v, f) for f in v.__dataclass_fields__} for k, v in ns.items() if isinstance(v, Plan)}
    hours = [float(h.replace(",", "")) for h in re.findall(r"~?([\d,]+(?:\.\d+)?) GPU-hours", text)]
    printed = bool(re.search(r"\bplan\b|GPU-hours", text, re.I))
    rec.update(plan_printed=printed, plan_text=text.strip()[-3000:], plans=plans, gpu_hours_printed=hours,
               stopped_at=error, ok=printed)  # fmt: skip
    if not printed and error:
        rec["error"] = error
    return rec


def check_paper_plans(max_cells: int = 4) -> dict:
    """Returns ``notebook_plan`` for every notebook that has ``notebooks/params/<nb>/paper.yaml``."""
    from workbook.params import list_notebooks, profile_path

    out: dict[str, Any] = {"notebooks": {}}
    for nb in list_notebooks():
        try:
            if not profile_path(nb, "paper").exists():
                continue
        except Exception:  # noqa: BLE001 - profile_path raises for a missing profile in some versions
            continue
        t0 = time.perf_counter()
        try:
            rec = notebook_plan(nb, max_cells)
        except Exception as e:  # noqa: BLE001
            rec = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=6)}
        rec["wall_s"] = round(time.perf_counter() - t0, 3)
        log.info("plan %s: %s", nb, "ok" if rec["ok"] else rec.get("error"))
        out["notebooks"][nb] = rec
    out["ok"] = bool(out["notebooks"]) and all(r["ok"] for r in out["notebooks"].values())
    return out


def check_vllm(model_name: str, run: bool) -> dict:
    """Returns vLLM generate + logprobs results on the toy model, or ``skipped`` with the reason."""
    if not run:
        return {"skipped": True, "reason": "--cpu dry run (vLLM needs a GPU)", "ok": True}
    try:
        import vllm
    except Exception as e:  # noqa: BLE001 - ImportError or a broken CUDA build
        return {"skipped": True, "reason": f"vllm does not import ({type(e).__name__}: {e})", "ok": True}
    try:
        from workbook.generation import VLLMBackend
        from workbook.rl.evaluation import build_prompts
        from workbook.toy import MATH_INSTRUCTION

        _toy(model_name, "cpu", allow_train=False)  # the checkpoint must already be there
        t0 = time.perf_counter()
        be = VLLMBackend(model_name, seed=0, gpu_memory_utilization=0.3, max_model_len=512)
        load_s = time.perf_counter() - t0
        prompts = build_prompts(be.tokenizer, [p["problem"] for p in _problems(4, seed=1)], MATH_INSTRUCTION)
        t0 = time.perf_counter()
        res = be.generate(prompts, n=2, temperature=1.0, max_new_tokens=64, seed=0)
        dt = time.perf_counter() - t0
        comps = [c for r in res for c in r]
        ntok = sum(len(c.token_ids) for c in comps)
        logps_ok = all(len(c.logprobs) == len(c.token_ids) and all(math.isfinite(x) and x <= 0 for x in c.logprobs)
                       for c in comps)  # fmt: skip
        return {"skipped": False, "vllm": vllm.__version__, "load_s": round(load_s, 2), "completions": len(comps),
                "tokens": ntok, "tokens_per_s": round(ntok / dt, 1), "logprobs_finite_nonpositive": logps_ok,
                "ok": bool(ntok > 0 and logps_ok)}  # fmt: skip
    except Exception as e:  # noqa: BLE001
        return {"skipped": False, "ok": False, "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=6)}  # fmt: skip


def _versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("torch", "transformers", "trl", "accelerate", "datasets", "math-verify", "vllm"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "missing"
    return out


def run_checks(cpu: bool, out_dir: Path, steps: int = 2, only: tuple[str, ...] = ()) -> dict:
    """Returns the summary dict after running the checks and writing ``gpu_check.json`` (``gpu_check_cpu.json``)."""
    import torch

    t0 = time.time()
    cuda = not cpu
    if cuda and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device visible; use --cpu for the dry run")
    torch.set_num_threads(2 if cpu else min(8, os.cpu_count() or 1))
    model = "toy-reasoner-smoke" if cpu else "toy-reasoner"
    summary: dict[str, Any] = {
        "mode": "cpu-dry-run" if cpu else "cuda",
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.processor() or platform.machine()})",
        "versions": _versions(),
        "cache_dir": os.environ.get("WORKBOOK_CACHE_DIR", "(default)"),
        "started_unix": round(t0, 1),
        "earlier_partial_cuda_checks": {
            "files": list(EARLIER_CUDA_RESULTS),
            "note": "the GEN and RL owners ran partial CUDA checks on an H100 earlier (generation throughput; RL "
                    "step time of ours vs stock TRL); see those files for their figures",
        },
        "checks": {},
    }  # fmt: skip
    checks = {
        "rl_methods": lambda wd: check_rl_methods(model, "cpu" if cpu else "cuda", bf16=cuda, steps=steps, workdir=wd,
                                                  allow_train=cpu, max_completion_length=16 if cpu else 32),
        "generation": lambda wd: check_generation(model, cuda, n_prompts=8, max_new_tokens=64, allow_train=cpu),
        "paper_plans": lambda wd: check_paper_plans(),
        "vllm": lambda wd: check_vllm(model, run=cuda),
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for name, fn in checks.items():
            if only and name not in only:
                summary["checks"][name] = {"skipped": True, "reason": "not selected (--only)", "ok": True}
                continue
            c0 = time.perf_counter()
            try:
                res = fn(Path(tmp))
            except Exception as e:  # noqa: BLE001
                res = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=6)}
            res["wall_s"] = round(time.perf_counter() - c0, 2)
            summary["checks"][name] = res
    summary["wall_s"] = round(time.time() - t0, 1)
    summary["ok"] = all(c.get("ok") for c in summary["checks"].values())
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ("gpu_check_cpu.json" if cpu else "gpu_check.json")
    path.write_text(json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
    summary["path"] = str(path)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Returns the process exit code (0: every check passed or was skipped with a reason)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="dry run without CUDA: (a) CPU fp32 smoke toy, (b) CPU only")
    ap.add_argument("--out", default=None, help="output folder (default: $OUT, else results/gpu_check)")
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps per RL method")
    ap.add_argument("--only", default="", help="comma-separated subset of rl_methods,generation,paper_plans,vllm")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="gpu_check %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "trl", "accelerate", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from workbook.paths import results_root

    out = Path(a.out or os.environ.get("OUT") or results_root() / "gpu_check")
    only = tuple(x for x in a.only.split(",") if x)
    s = run_checks(a.cpu, out, steps=a.steps, only=only)
    lines = [f"gpu_check ({s['mode']}) on {s['device']}: {'PASS' if s['ok'] else 'FAIL'} in {s['wall_s']} s"]
    for k, c in s["checks"].items():
        skipped = f" (skipped: {c['reason']})" if c.get("skipped") else ""
        lines.append(f"  {k}: {'ok' if c.get('ok') else 'FAILED'}{skipped}")
    lines.append(f"  summary: {s['path']}")
    sys.stderr.write("\n".join(lines) + "\n")
    return 0 if s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
