"""Notebook parameters: read a notebook's ``parameters`` cell, load profile YAML, validate names and types.

Conventions (notebooks/README.md, CONTRACTS.md § params): each notebook has one cell tagged ``parameters`` holding
literal assignments only (the ``cpu`` defaults, including ``profile = "cpu"`` and ``seed = 0``); each profile is a YAML
mapping in ``notebooks/params/<notebook>/<profile>.yaml`` overriding some of them. A key ``_runner`` in a profile
file is for the runner (e.g. ``_runner: {timeout_s: 900}``) and is never passed to the notebook.

Every problem — unknown notebook, profile or parameter, a wrong type, an unknown model or dataset name — raises one
:class:`ParameterError` naming what is wrong and what is allowed, before any model is loaded.

A run's **label** names the profile whose YAML was actually applied (``smoke``, ``cpu``, ``paper``); a run whose values
differ from every profile file it could have come from is labelled ``custom-<hash>`` (:func:`profile_label`), so an
edited or overridden run never lands in a published ``cpu/`` folder.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, MutableMapping

from workbook.paths import RUN_DIR_ENV
from workbook.paths import notebooks_dir as _default_notebooks_dir

PROFILES: tuple[str, ...] = ("smoke", "cpu", "paper")
#: Overlays: a label whose file ``params/<nb>/<label>.yaml`` is applied on top of a base profile's file. The notebook
#: runs the base profile's code path (it sees ``profile = <base>``); the run directory is named after the overlay.
#: ``rehearsal``: the paper path on a CPU through real vLLM, with the toy model and shrunk sizes (docs/rehearsal.md).
#: ``cpu_long``: the cpu design with more seeds (or arms) than the 5-minute budget allows, for claims it cannot
#: decide; only notebooks that ship the file have it (nsr: 24 seeds, four arms, ~25 min; docs/papers/nsr.md).
OVERLAYS: dict[str, str] = {"rehearsal": "paper", "cpu_long": "cpu"}
#: The course order (notebooks/README.md): run-all, the summary and the site list notebooks in this order,
#: any notebook not named here after them, alphabetically.
COURSE_ORDER: tuple[str, ...] = (
    "toy_reasoner", "quickstart", "sharpening", "inference_scaling_limits", "nsr", "one_shot_rlvr", "lp_reg", "dser",
)


def course_key(notebook: str) -> tuple[int, str]:
    """Return the sort key that puts ``notebook`` in :data:`COURSE_ORDER`."""
    return (COURSE_ORDER.index(notebook) if notebook in COURSE_ORDER else len(COURSE_ORDER), notebook)


RUNNER_KEY = "_runner"
#: Parameters whose value names a model preset / a dataset: checked against the registries (imported lazily).
MODEL_PARAMS = ("model", "proxy_model", "ref_model", "verifier_model")
DATASET_PARAMS = ("dataset", "benchmark", "datasets", "benchmarks", "eval_benchmarks", "train_dataset")
EXTRA_DATASETS = ("synthetic",)  # workbook.data.synthetic is not a benchmark file but a valid dataset name


class ParameterError(ValueError):
    """Bad notebook name, profile, parameter name, type or value (raised before any heavy work)."""


def notebooks_dir() -> Path:
    """Return the notebooks folder: ``$WORKBOOK_NOTEBOOKS_DIR`` (tests, the runner) or ``<repo>/notebooks``."""
    env = os.environ.get("WORKBOOK_NOTEBOOKS_DIR")
    return Path(env).expanduser().resolve() if env else _default_notebooks_dir()


def list_notebooks(nb_dir: Path | None = None) -> list[str]:
    """Return the names (stems) of all ``*.ipynb`` in the notebooks folder, in course order."""
    nb_dir = Path(nb_dir) if nb_dir else notebooks_dir()
    return sorted((p.stem for p in nb_dir.glob("*.ipynb") if not p.name.startswith(".")), key=course_key)


def notebook_path(notebook: str, nb_dir: Path | None = None) -> Path:
    """Return the ``.ipynb`` path of ``notebook`` (name, ``name.ipynb`` or a path); ParameterError if unknown."""
    p = Path(notebook)
    if p.suffix == ".ipynb" and p.is_file():
        return p.resolve()
    nb_dir = Path(nb_dir) if nb_dir else notebooks_dir()
    candidate = nb_dir / f"{p.stem}.ipynb"
    if candidate.is_file():
        return candidate
    raise ParameterError(f"unknown notebook {notebook!r}; available in {nb_dir}: "
                         f"{', '.join(list_notebooks(nb_dir)) or 'none'}")


def _literal_assignments(source: str, where: str) -> dict[str, Any]:
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ParameterError(f"{where}: parameters cell is not valid Python: {err}") from None
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value = node.target.id, node.value
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring-like string
        else:
            raise ParameterError(f"{where}: parameters cell must hold `name = <literal>` lines only; "
                                 f"found {ast.dump(node)[:80]} at line {node.lineno}")
        try:
            out[name] = ast.literal_eval(value)
        except ValueError:
            raise ParameterError(f"{where}: parameter {name!r} is not a literal (line {node.lineno})") from None
    return out


@lru_cache(maxsize=64)
def _cell_defaults_cached(path: str, mtime: float) -> dict[str, Any]:
    # A v4 notebook is plain JSON: reading it without nbformat keeps parameter resolution (and so every paper's
    # plan) working in a bare GPU image that has torch and transformers but none of the Jupyter stack.
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    if nb.get("nbformat") != 4:
        import nbformat  # older formats need nbformat's converter

        nb = json.loads(nbformat.writes(nbformat.read(path, as_version=4)))
    cells = [c for c in nb.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{Path(path).name}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    source = cells[0].get("source", "")
    return _literal_assignments("".join(source) if isinstance(source, list) else source, Path(path).name)


def notebook_defaults(notebook: str, nb_dir: Path | None = None) -> dict[str, Any]:
    """Return the parameter defaults (name → literal) read from the notebook's ``parameters`` cell."""
    path = notebook_path(notebook, nb_dir)
    return dict(_cell_defaults_cached(str(path), path.stat().st_mtime))


def profile_path(notebook: str, profile: str, nb_dir: Path | None = None) -> Path:
    """Return ``notebooks/params/<notebook>/<profile>.yaml``; ParameterError for an unknown profile."""
    path = notebook_path(notebook, nb_dir)
    if profile not in PROFILES and profile not in OVERLAYS:
        raise ParameterError(f"unknown profile {profile!r}; expected one of {', '.join((*PROFILES, *OVERLAYS))}")
    p = path.parent / "params" / path.stem / f"{profile}.yaml"
    if not p.is_file():
        have = sorted(x.stem for x in p.parent.glob("*.yaml")) if p.parent.is_dir() else []
        raise ParameterError(f"notebook {path.stem!r} has no {profile!r} profile ({p}); "
                             f"profiles present: {', '.join(have) or 'none'}")
    return p


def _type_ok(default: Any, value: Any) -> bool:
    if default is None:
        return True  # a None default accepts any literal (documented in the cell's comment)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _type_name(x: Any) -> str:
    return type(x).__name__


def _check_names(params: Mapping[str, Any], where: str) -> None:
    """Raise ParameterError when a model/dataset parameter names an unknown preset or benchmark (lazy imports)."""
    for key, value in params.items():
        if key in MODEL_PARAMS and isinstance(value, str):
            from workbook.models import get_preset

            try:
                get_preset(value)
            except ValueError as err:
                raise ParameterError(f"{where}: parameter {key!r}: {err}") from None
        elif key in DATASET_PARAMS:
            names = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
            from workbook.data import DATASETS  # every name load_benchmark accepts, not only the ten benchmarks

            valid = tuple(DATASETS) + EXTRA_DATASETS
            bad = [n for n in names if n not in valid]
            if bad:
                raise ParameterError(f"{where}: parameter {key!r}: unknown dataset(s) {bad}; "
                                     f"valid: {', '.join(valid)}")


def validate_params(notebook: str, params: Mapping[str, Any], nb_dir: Path | None = None,
                    check_names: bool = True) -> dict[str, Any]:
    """Return the notebook's defaults overridden by ``params``, after checking names, types and model/dataset names."""
    defaults = notebook_defaults(notebook, nb_dir)
    stem = notebook_path(notebook, nb_dir).stem
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ParameterError(f"{stem}: unknown parameter(s) {unknown}; the parameters cell defines "
                             f"{', '.join(sorted(defaults))}")
    for key, value in params.items():
        if not _type_ok(defaults[key], value):
            raise ParameterError(f"{stem}: parameter {key!r} must be {_type_name(defaults[key])} "
                                 f"(default {defaults[key]!r}), got {_type_name(value)} {value!r}")
    resolved = {**defaults, **dict(params)}
    if "profile" in resolved and resolved["profile"] not in PROFILES:
        raise ParameterError(f"{stem}: profile {resolved['profile']!r} not in {', '.join(PROFILES)}")
    if check_names:
        _check_names(resolved, stem)
    return resolved


def load_profile(notebook: str, profile: str, nb_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(overrides, runner_options)`` from the profile YAML; ``overrides`` includes ``profile``. Unvalidated."""
    import yaml

    base = OVERLAYS.get(profile)
    p = profile_path(notebook, profile, nb_dir)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ParameterError(f"{p}: not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise ParameterError(f"{p}: a profile must be a mapping of parameter names to values")
    runner = doc.pop(RUNNER_KEY, None) or {}
    if not isinstance(runner, dict):
        raise ParameterError(f"{p}: '{RUNNER_KEY}' must be a mapping (e.g. {{timeout_s: 900}})")
    if "profile" in doc and doc["profile"] != profile:
        raise ParameterError(f"{p}: sets profile={doc['profile']!r} inside the {profile!r} profile file")
    if base is not None:  # an overlay: the base profile's values and runner options, then the overlay's
        base_doc, base_runner = load_profile(notebook, base, nb_dir)
        return {**base_doc, **doc, "profile": base}, {**base_runner, **runner}
    doc["profile"] = profile
    return doc, runner


def resolve_params(notebook: str, profile: str, overrides: Mapping[str, Any] | None = None,
                   nb_dir: Path | None = None, check_names: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(parameters, runner_options)``: cell defaults ← profile YAML ← ``overrides``, all validated."""
    prof, runner = load_profile(notebook, profile, nb_dir)
    overrides = dict(overrides or {})
    if "profile" in overrides and overrides["profile"] != profile:
        raise ParameterError(f"use --profile to change the profile, not -p profile={overrides['profile']}")
    merged = {**prof, **overrides}
    return validate_params(notebook, merged, nb_dir, check_names), runner


def parse_override(text: str) -> tuple[str, Any]:
    """Return ``(key, value)`` from ``"key=value"``; the value is parsed as YAML (``n=8`` → 8, ``ks=[1,2]`` → list)."""
    import yaml

    if "=" not in text:
        raise ParameterError(f"-p expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key.isidentifier():
        raise ParameterError(f"-p {text!r}: {key!r} is not a parameter name")
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError:
        return key, raw


def _same(a: Any, b: Any) -> bool:
    """Return whether two parameter values are identical as literals (``1`` and ``1.0``, ``True`` and ``1`` differ)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def params_hash(params: Mapping[str, Any]) -> str:
    """Return 8 hex digits identifying ``params`` (canonical JSON, sorted keys): the ``custom-<hash>`` label."""
    text = json.dumps(dict(params), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def profile_label(notebook: str, profile: str, params: Mapping[str, Any], nb_dir: Path | None = None) -> str:
    """Return ``profile`` when ``params`` are exactly the profile file's values, else the overlay of ``profile``
    whose values they are (a notebook run by the runner at ``rehearsal`` sees ``profile = "paper"``), else
    ``custom-<hash>``."""
    candidates = [profile] + [o for o, b in OVERLAYS.items() if b == profile]
    for candidate in candidates:
        try:
            expected, _ = resolve_params(notebook, candidate, None, nb_dir, check_names=False)
        except ParameterError:
            if candidate == profile:
                raise
            continue  # this notebook has no such overlay file
        if set(params) == set(expected) and all(_same(params[k], expected[k]) for k in expected):
            return candidate
    return f"custom-{params_hash(params)}"


#: notebook → (applied profile, label), recorded by :func:`check_params` for ``RunDir`` in the same kernel.
_RUN_LABELS: dict[str, tuple[str, str]] = {}


def run_label(notebook: str, profile: str) -> str:
    """Return the label :func:`check_params` computed for ``notebook`` at ``profile`` in this process, else ``profile``."""
    applied, label = _RUN_LABELS.get(Path(notebook).stem, (None, profile))
    return label if applied == profile else profile


def _applied_profile(notebook: str, defaults: Mapping[str, Any], values: Mapping[str, Any]) -> str:
    """Return the profile whose YAML these values came from.

    An explicit ``profile`` (papermill ``-p profile smoke``, or the runner's full parameter file) is taken as is. At
    the cell default (``cpu``), a profile whose file the values match exactly wins (``papermill -f smoke.yaml`` sets
    smoke's values but not ``profile``); otherwise the default profile applies.
    """
    declared = values.get("profile", defaults.get("profile"))
    if declared != defaults.get("profile"):
        return declared
    for candidate in (declared, *[p for p in PROFILES if p != declared]):
        try:
            resolved, _ = resolve_params(notebook, candidate, None, check_names=False)
        except ParameterError:
            continue  # no such profile file for this notebook
        if all(_same(values[k], resolved[k]) for k in defaults if k != "profile"):
            return candidate
    return declared


def check_params(notebook: str, namespace: MutableMapping[str, Any]) -> dict[str, Any]:
    """Return the notebook's parameters as found in ``namespace`` (pass ``globals()``), with its profile applied.

    Use in the setup cell: ``params = check_params("quickstart", globals())``. Papermill injects overrides as a
    cell after the parameters cell; this re-checks names and types there, before any model is loaded, and applies
    the profile file itself: every parameter still at its cell default takes the profile file's value, and
    ``namespace`` is updated, so ``papermill NB OUT -p profile smoke`` *is* the smoke run and ``-f smoke.yaml`` sets
    ``profile = "smoke"``. The label (the profile, or ``custom-<hash>`` when values differ from its file) is recorded
    for :class:`workbook.reporting.RunDir`.
    """
    notebook = Path(notebook).stem
    defaults = notebook_defaults(notebook)
    missing = sorted(k for k in defaults if k not in namespace)
    if missing:
        raise ParameterError(f"{notebook}: parameters {missing} are not defined; run the parameters cell first")
    values = {k: namespace[k] for k in defaults}
    if "profile" not in defaults:  # a notebook without profiles: validate only
        return validate_params(notebook, values)
    if os.environ.get(RUN_DIR_ENV):  # under the runner every value was resolved and injected: nothing to apply
        applied = values["profile"]
    else:
        applied = _applied_profile(notebook, defaults, values)
    if applied not in PROFILES:
        raise ParameterError(f"{notebook}: profile {applied!r} not in {', '.join(PROFILES)}")
    if not os.environ.get(RUN_DIR_ENV):
        profile_values, _ = resolve_params(notebook, applied, None, check_names=False)
        for key, default in defaults.items():
            if _same(values[key], default):
                values[key] = profile_values[key]
    values["profile"] = applied
    resolved = validate_params(notebook, values)
    for key, value in resolved.items():
        if not _same(namespace.get(key), value):
            namespace[key] = value
    _RUN_LABELS[notebook] = (applied, profile_label(notebook, applied, resolved))
    return resolved
