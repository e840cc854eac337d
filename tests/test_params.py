"""Tests for workbook.params: parameters cell parsing, profile YAML, validation errors."""

from __future__ import annotations

import sys
import types

import pytest
from conftest import write_notebook, write_profile

from workbook import params as P
from workbook.params import ParameterError

CELL = '''# cpu defaults
profile = "cpu"
seed = 0
n = 8                      # completions per problem
temperature = 1.0
ks = [1, 2, 4]
use_cache = True
note = None
name: str = "x"
'''


@pytest.fixture
def demo(nb_dir):
    write_notebook(nb_dir / "demo.ipynb", CELL, ["x = 1"])
    write_profile(nb_dir, "demo", "smoke", "n: 2\nks: [1, 2]\n_runner:\n  timeout_s: 30\n")
    write_profile(nb_dir, "demo", "cpu", "{}\n")
    return nb_dir


def test_defaults_from_parameters_cell(demo):
    assert P.notebook_defaults("demo") == {"profile": "cpu", "seed": 0, "n": 8, "temperature": 1.0, "ks": [1, 2, 4],
                                           "use_cache": True, "note": None, "name": "x"}
    assert P.list_notebooks() == ["demo"]
    assert P.notebook_path("demo.ipynb") == demo / "demo.ipynb"


def test_defaults_resolve_without_the_jupyter_stack(demo, monkeypatch):
    """A bare GPU image has torch and transformers but no nbformat: a v4 notebook's defaults still resolve (the
    GPU check's paper_plans read them there)."""
    monkeypatch.setitem(sys.modules, "nbformat", None)  # `import nbformat` now raises ImportError
    P._cell_defaults_cached.cache_clear()
    assert P.notebook_defaults("demo")["ks"] == [1, 2, 4]
    assert P.resolve_params("demo", "smoke")[0]["n"] == 2


def test_resolve_profile_and_overrides(demo):
    params, runner = P.resolve_params("demo", "smoke", {"temperature": 1})  # int accepted for a float
    assert params["n"] == 2 and params["ks"] == [1, 2] and params["profile"] == "smoke"
    assert params["temperature"] == 1 and params["seed"] == 0
    assert runner == {"timeout_s": 30}
    params, runner = P.resolve_params("demo", "cpu")
    assert params["profile"] == "cpu" and runner == {}


@pytest.mark.parametrize("notebook, profile, overrides, match", [
    ("nope", "cpu", {}, "unknown notebook 'nope'; available in .*: demo"),
    ("demo", "gpu", {}, "unknown profile 'gpu'"),
    ("demo", "paper", {}, "no 'paper' profile .*profiles present: cpu, smoke"),
    ("demo", "cpu", {"n_samples": 3}, r"unknown parameter\(s\) \['n_samples'\]"),
    ("demo", "cpu", {"n": "8"}, "parameter 'n' must be int .*got str '8'"),
    ("demo", "cpu", {"n": 8.0}, "parameter 'n' must be int"),
    ("demo", "cpu", {"n": True}, "parameter 'n' must be int"),
    ("demo", "cpu", {"use_cache": 1}, "parameter 'use_cache' must be bool"),
    ("demo", "cpu", {"ks": 4}, "parameter 'ks' must be list"),
    ("demo", "cpu", {"profile": "smoke"}, "use --profile"),
])
def test_bad_input_raises_one_clear_error(demo, notebook, profile, overrides, match):
    with pytest.raises(ParameterError, match=match):
        P.resolve_params(notebook, profile, overrides)


def test_none_default_accepts_any_literal(demo):
    assert P.validate_params("demo", {"note": [1, 2]})["note"] == [1, 2]


def test_bad_profile_files(demo):
    write_profile(demo, "demo", "paper", "- just\n- a list\n")
    with pytest.raises(ParameterError, match="mapping"):
        P.resolve_params("demo", "paper")
    write_profile(demo, "demo", "paper", "profile: cpu\n")
    with pytest.raises(ParameterError, match="sets profile='cpu'"):
        P.resolve_params("demo", "paper")
    write_profile(demo, "demo", "paper", "n: [unclosed\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        P.resolve_params("demo", "paper")


@pytest.mark.parametrize("cell, match", [
    ("n = 1\nm = n + 1\n", "'m' is not a literal"),
    ("import os\n", "literal"),
    ("n = (\n", "not valid Python"),
])
def test_parameters_cell_must_hold_literals(nb_dir, cell, match):
    write_notebook(nb_dir / "bad.ipynb", cell, [])
    with pytest.raises(ParameterError, match=match):
        P.notebook_defaults("bad")


def test_exactly_one_parameters_cell(nb_dir):
    write_notebook(nb_dir / "two.ipynb", "n = 1\n", ["m = 2"], tags_extra={0: ["parameters"]})
    with pytest.raises(ParameterError, match="exactly one cell tagged 'parameters', found 2"):
        P.notebook_defaults("two")


def test_parse_override():
    assert P.parse_override("n=8") == ("n", 8)
    assert P.parse_override("temperature=0.6") == ("temperature", 0.6)
    assert P.parse_override("ks=[1, 2, 4]") == ("ks", [1, 2, 4])
    assert P.parse_override("model=tiny-random") == ("model", "tiny-random")
    assert P.parse_override("flag=true") == ("flag", True)
    with pytest.raises(ParameterError, match="key=value"):
        P.parse_override("n8")
    with pytest.raises(ParameterError, match="not a parameter name"):
        P.parse_override("1n=3")


def test_check_params_in_notebook_namespace(demo):
    ns = {**P.notebook_defaults("demo"), "n": 3, "unrelated": object()}
    assert P.check_params("demo", ns)["n"] == 3
    with pytest.raises(ParameterError, match="must be int"):
        P.check_params("demo", {**ns, "n": "3"})
    with pytest.raises(ParameterError, match="not defined"):
        P.check_params("demo", {"n": 3})


def test_model_and_dataset_names_are_checked(nb_dir, monkeypatch):
    """Names go through workbook.models.get_preset and workbook.data.DATASETS (stubbed here to stay fast)."""
    class UnknownModelError(ValueError):
        pass

    def get_preset(name):
        if name != "tiny-random":
            raise UnknownModelError(f"unknown model {name!r}; valid: tiny-random")
        return name

    monkeypatch.setitem(sys.modules, "workbook.models", types.SimpleNamespace(get_preset=get_preset))
    monkeypatch.setitem(sys.modules, "workbook.data", types.SimpleNamespace(DATASETS=("math500", "aime24")))
    write_notebook(nb_dir / "m.ipynb", 'profile = "cpu"\nseed = 0\nmodel = "tiny-random"\nbenchmark = "math500"\n'
                   'datasets = ["math500"]\n', [])
    assert P.validate_params("m", {})["model"] == "tiny-random"
    assert P.validate_params("m", {"benchmark": "synthetic"})["benchmark"] == "synthetic"
    with pytest.raises(ParameterError, match="parameter 'model': unknown model 'gpt-5'; valid: tiny-random"):
        P.validate_params("m", {"model": "gpt-5"})
    with pytest.raises(ParameterError, match=r"parameter 'benchmark': unknown dataset\(s\) \['math5000'\]"):
        P.validate_params("m", {"benchmark": "math5000"})
    with pytest.raises(ParameterError, match=r"unknown dataset\(s\) \['gsm9k'\]"):
        P.validate_params("m", {"datasets": ["math500", "gsm9k"]})


def test_real_registries_reject_unknown_names(nb_dir):
    """With the real workbook.models / workbook.data registries."""
    write_notebook(nb_dir / "m.ipynb", 'profile = "cpu"\nseed = 0\nmodel = "tiny-random"\nbenchmark = "math500"\n', [])
    assert P.validate_params("m", {})["model"] == "tiny-random"
    # training pools such as the 1-shot RLVR parquet are valid dataset names too
    assert P.validate_params("m", {"benchmark": "one_shot_rlvr_pi1"})["benchmark"] == "one_shot_rlvr_pi1"
    with pytest.raises(ParameterError, match="no-such-model"):
        P.validate_params("m", {"model": "no-such-model"})
    with pytest.raises(ParameterError, match="no-such-set"):
        P.validate_params("m", {"benchmark": "no-such-set"})


def test_check_params_applies_the_profile_file(demo):
    """``papermill -p profile smoke`` is the smoke run: parameters still at their cell default take smoke's values."""
    ns = {**P.notebook_defaults("demo"), "profile": "smoke"}
    params = P.check_params("demo", ns)
    assert params["n"] == 2 and params["ks"] == [1, 2] and params["profile"] == "smoke"
    assert ns["n"] == 2 and ns["ks"] == [1, 2], "the notebook's globals are updated too"
    assert P.run_label("demo", "smoke") == "smoke"
    # an explicit value beside the profile is kept, and makes the run custom
    ns = {**P.notebook_defaults("demo"), "profile": "smoke", "temperature": 0.5}
    assert P.check_params("demo", ns)["n"] == 2
    assert P.run_label("demo", "smoke") == f"custom-{P.params_hash(ns)}"


def test_check_params_recognises_a_profile_file_applied_without_its_name(demo):
    """``papermill -f params/demo/smoke.yaml`` sets smoke's values but not ``profile``: the label is still smoke."""
    ns = {**P.notebook_defaults("demo"), "n": 2, "ks": [1, 2]}
    params = P.check_params("demo", ns)
    assert params["profile"] == "smoke" and ns["profile"] == "smoke"
    assert P.run_label("demo", "smoke") == "smoke"


def test_edited_values_are_custom_never_cpu(demo):
    ns = P.notebook_defaults("demo")
    assert P.check_params("demo", ns)["profile"] == "cpu" and P.run_label("demo", "cpu") == "cpu"
    ns = {**P.notebook_defaults("demo"), "n": 3}
    P.check_params("demo", ns)
    label = P.run_label("demo", "cpu")
    assert label.startswith("custom-") and len(label) == len("custom-") + 8
    assert P.run_label("demo", "smoke") == "smoke"  # another profile than the one checked: no label recorded
    # the runner computes the same label from the resolved parameters
    resolved, _ = P.resolve_params("demo", "cpu", {"n": 3})
    assert P.profile_label("demo", "cpu", resolved) == label
    assert P.profile_label("demo", "smoke", P.resolve_params("demo", "smoke")[0]) == "smoke"
    assert P.profile_label("demo", "smoke", P.resolve_params("demo", "smoke", {"n": 2})[0]) == "smoke"
    assert P.profile_label("demo", "smoke", P.resolve_params("demo", "smoke", {"temperature": 1})[0]) != "smoke"


def test_run_dir_location(demo, tmp_path, monkeypatch, results_dir):
    from workbook.reporting import RunDir

    monkeypatch.setenv("WORKBOOK_RUN_DIR", str(tmp_path / "staging"))  # the runner's staging folder wins
    assert RunDir("demo", "smoke").path == tmp_path / "staging"
    monkeypatch.delenv("WORKBOOK_RUN_DIR")
    assert RunDir("demo", "smoke").path == results_dir / "demo" / "smoke"  # WORKBOOK_RESULTS_DIR: told where
    assert RunDir("demo", "smoke", root=tmp_path / "r").path == tmp_path / "r" / "demo" / "smoke"
    monkeypatch.delenv("WORKBOOK_RESULTS_DIR")
    monkeypatch.setenv("WORKBOOK_SCRATCH_DIR", str(tmp_path / "scratch"))
    P.check_params("demo", {**P.notebook_defaults("demo"), "n": 5})
    rd = RunDir("demo", "cpu")  # an interactive run with edited values: scratch, custom label
    assert rd.path == tmp_path / "scratch" / "demo" / P.run_label("demo", "cpu")
    assert rd.label.startswith("custom-") and rd.provenance({})["label"] == rd.label


def test_under_the_runner_check_params_applies_nothing(demo, monkeypatch, tmp_path):
    """The runner injects every resolved value; one that equals the cell default is an explicit choice, kept."""
    monkeypatch.setenv("WORKBOOK_RUN_DIR", str(tmp_path))
    ns = {**P.notebook_defaults("demo"), "profile": "smoke"}  # `-p n=8`: back to the cell default at smoke
    assert P.check_params("demo", ns)["n"] == 8
    assert P.run_label("demo", "smoke").startswith("custom-")
