"""The NSR notebook's profiles resolve; the paper profile prints its plan without a GPU (no model is loaded)."""

import ast
import sys
from pathlib import Path

import pytest

from workbook.params import resolve_params
from workbook.paths import notebooks_dir
from workbook.reporting import load_reported, reported_vs_reproduced

NB_PY = Path(notebooks_dir()) / "nsr.py"


def _plan_source() -> str:
    """Returns the notebook's plan code (the lines that compute ``n_runs`` ... ``the_plan``), run here verbatim."""
    src = NB_PY.read_text()
    start, end = src.index("n_runs = "), src.index('print(f"profile={profile}')
    return src[start:end]


def _plan(params: dict):
    from workbook.rl import experiments as ex

    ns = {"ex": ex, **params}
    exec(compile(_plan_source(), str(NB_PY), "exec"), ns)  # noqa: S102 - the notebook's own cell, not user input
    return ns["the_plan"]


def test_paper_profile_is_the_official_recipe():
    params, runner = resolve_params("nsr", "paper")
    assert params["model"] == "qwen2.5-math-7b" and params["num_generations"] == 8
    assert params["learning_rate"] == 1e-6 and params["eval_n"] == 256
    assert params["eval_temperature"] == 0.6 and params["eval_top_p"] == 0.95
    assert params["eval_max_new_tokens"] == 4096
    assert set(params["eval_benchmarks"]) == {"math500", "aime25", "amc23"}
    assert params["updates_per_rollout"] == 4 and params["prompts_per_step"] * 4 == 1024
    assert set(params["methods"]) == {"grpo", "psr", "nsr", "w_reinforce"}
    assert runner["timeout_s"] > 86400


def test_paper_plan_prints_without_loading_a_model(capsys):
    params, _ = resolve_params("nsr", "paper")
    before = set(sys.modules)
    plan = _plan(params)
    print(plan)
    out = capsys.readouterr().out
    assert "GPU-hours" in out
    assert plan.runs == 4 and plan.total_rollouts == 4 * 440 * 256 * 8
    assert plan.params_b == pytest.approx(7.62) and plan.eval_tokens > 0 and plan.gpu_hours > 10
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("vllm", "trl", "workbook.models", "transformers")) for m in loaded), sorted(loaded)


def test_one_gpu_variant_plan_is_cheaper():
    params, _ = resolve_params("nsr", "paper", overrides={"model": "qwen2.5-math-1.5b"})
    assert _plan(params).gpu_hours < _plan(resolve_params("nsr", "paper")[0]).gpu_hours


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_profile_resolves(profile):
    params, _ = resolve_params("nsr", profile)
    assert params["profile"] == profile and "nsr" in params["methods"]
    assert _plan(params).runs == len(params["methods"]) * len(params["seeds"]) + len(params["lam_sweep"])


def test_parameters_cell_is_literals_and_notebook_pair_in_sync():
    src = NB_PY.read_text()
    assert '# %% tags=["parameters"]' in src and '# %% tags=["solution"]' in src
    ipynb = NB_PY.with_suffix(".ipynb")
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit without outputs"
    params_cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params_cells) == 1
    for node in ast.parse(params_cells[0].source).body:
        assert isinstance(node, ast.Assign)
        ast.literal_eval(node.value)
    import jupytext

    paired = jupytext.read(NB_PY)
    assert [c.source for c in paired.cells] == [c.source for c in nb.cells], "run jupytext --sync notebooks/nsr.py"


def test_reported_claims_load_and_verdicts_compute():
    claims = load_reported("nsr")
    ids = {c["id"] for c in claims}
    assert {"NSR-1a", "NSR-1b", "NSR-2a", "NSR-2b", "NSR-3a", "NSR-3b", "NSR-4", "NSR-1p"} <= ids
    assert all(c["source"] for c in claims)
    from workbook.metrics import Estimate

    df = reported_vs_reproduced("nsr", {"NSR-1a": Estimate(0.05, 0.01, 0.09, 16),
                                        "NSR-2b": Estimate(0.02, 0.01, 0.03, 16),
                                        "NSR-4": Estimate(1e-7, 1e-7, 1e-7, 5)}, "cpu")
    v = dict(zip(df["claim_id"], df["verdict"]))
    assert v["NSR-1a"] == "reproduced" and v["NSR-2b"] == "not reproduced" and v["NSR-4"] == "reproduced"
    assert v["NSR-1p"] == "not run at this scale" and v["NSR-3a"] == "not run at this scale"
