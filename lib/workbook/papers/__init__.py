"""One module per replicated paper: its methods, its cost plan and its parameter checks.

``workbook.papers.<paper>`` for ``paper`` in :data:`PAPERS` (the same name as its notebook, params folder,
reported-claims file, tests and ``docs/papers/<paper>.md``). Every paper module exposes

- ``plan(params: dict) -> dict``: the cost plan of a run with these (resolved) notebook parameters, computed in
  code — what the notebook prints before its first heavy cell, what ``env/gpu_check`` and the plan tests read;
- ``validate(params: dict) -> None``: the checks across parameters that a per-name type check cannot make;
  raises ``workbook.params.ParameterError`` before anything heavy runs.

This package imports no paper module: import the one you need (``from workbook.papers import dser``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Mapping

PAPERS: tuple[str, ...] = ("quickstart", "sharpening", "inference_scaling_limits", "nsr", "one_shot_rlvr", "lp_reg",
                           "dser")

__all__ = ["PAPERS", "claim_records", "paper_module", "power_note", "require", "token_plan"]


def paper_module(name: str) -> ModuleType:
    """Return ``workbook.papers.<name>`` (imported on demand); ValueError for an unknown paper."""
    if name not in PAPERS:
        raise ValueError(f"unknown paper {name!r}; valid: {', '.join(PAPERS)}")
    return importlib.import_module(f"workbook.papers.{name}")


def require(params: Mapping[str, Any], names: str, paper: str) -> list[Any]:
    """Return ``[params[n] for n in names.split()]``; one ParameterError naming every missing parameter."""
    from workbook.params import ParameterError

    wanted = names.split()
    missing = [n for n in wanted if n not in params]
    if missing:
        raise ParameterError(f"{paper}: the plan needs parameter(s) {', '.join(missing)} (pass resolved parameters: "
                             f"workbook.params.resolve_params({paper!r}, profile)[0])")
    return [params[n] for n in wanted]


def token_plan(stages: Mapping[str, int], gpu_tokens_per_s: float | None, what: str) -> dict[str, Any]:
    """Return the common plan shape of the sampling papers.

    ``{"what": str, "stages": {stage: max generated tokens}, "max_generated_tokens": int,
    "gpu_tokens_per_s": float | None, "gpu_hours": float | None, "summary": str}``. Token counts are upper bounds
    (every call at its token limit); GPU-hours assume the given throughput.
    """
    total = int(sum(stages.values()))
    hours = total / gpu_tokens_per_s / 3600 if gpu_tokens_per_s else None
    summary = f"{what}; ≤ {total:,} generated tokens"
    if hours is not None:
        summary += f" ≈ {hours:.2f} GPU-hours at {gpu_tokens_per_s:.0f} tokens/s"
    return {"what": what, "stages": {k: int(v) for k, v in stages.items()}, "max_generated_tokens": total,
            "gpu_tokens_per_s": gpu_tokens_per_s, "gpu_hours": hours, "summary": summary}


def claim_records(reproduced: Mapping[str, Any]) -> dict[str, dict | None]:
    """Return the JSON form of a notebook's ``reproduced`` map for its metrics.json.

    An Estimate (or an estimate passed through ``workbook.reporting.requires``) becomes its fields, a
    ``{"estimate": ..., "base": ...}`` pair keeps both, ``untestable(reason)`` becomes ``{"untestable": reason}``.
    """
    from dataclasses import asdict

    from workbook.reporting.verdicts import Untestable, as_estimate

    def one(v: Any) -> dict | None:
        if isinstance(v, Untestable):
            return {"untestable": v.reason}
        if isinstance(v, Mapping) and "estimate" in v:
            return {"estimate": one(v["estimate"]), "base": one(v.get("base"))}
        if hasattr(v, "to_dict"):
            return v.to_dict()
        e = as_estimate(v)
        return None if e is None else asdict(e)

    return {str(k): one(v) for k, v in reproduced.items()}


def power_note(table: Any) -> str:
    """Return the sentence a notebook's deviations print from `workbook.reporting.power.print_power`'s table:
    which claims this design tests with under 80% power for their own pre-registered effect."""
    low = [f"{r.claim_id} ({'—' if r.power != r.power else f'{r.power:.0%}'})"
           for r in table.itertuples() if str(r.note).startswith(("under", "no power"))]
    if not low:
        return "Every claim testable here has at least 80% power for its pre-registered effect."
    return (f"Under 80% power for the pre-registered effect: {', '.join(low)}. For these claims 'inconclusive' (or "
            f"'not reproduced') says as much about the size of this design as about the paper.")
