"""The overlays: `rehearsal` (docs/rehearsal.md: paper.yaml + rehearsal.yaml, run as the paper profile) and, at the
end, nsr's `cpu_long` (cpu.yaml + more seeds and arms).

The rehearsal itself needs vLLM (`make rehearse`, .venv-vllm); here only what the main environment can check: every
notebook with a paper profile has an overlay, the overlay resolves to the paper code path with the smoke toy, and
runs are labelled `rehearsal` both by the runner and inside the notebook.
"""

from __future__ import annotations

import pytest

from workbook.params import OVERLAYS, ParameterError, list_notebooks, load_profile, profile_label, resolve_params
from workbook.runner import plan_run

PAPER_NOTEBOOKS = [nb for nb in list_notebooks() if nb != "toy_reasoner"]
MODEL_KEYS = ("model", "code_model")


def test_every_paper_notebook_has_an_overlay():
    assert OVERLAYS["rehearsal"] == "paper"
    for nb in PAPER_NOTEBOOKS:
        load_profile(nb, "rehearsal")  # raises when the file is missing


@pytest.mark.parametrize("nb", PAPER_NOTEBOOKS)
def test_overlay_runs_the_paper_path_with_the_smoke_toy(nb):
    paper, _ = resolve_params(nb, "paper")
    rehearsal, runner = resolve_params(nb, "rehearsal")
    assert rehearsal["profile"] == "paper"
    assert all(rehearsal[k] == "toy-reasoner-smoke" for k in MODEL_KEYS if k in rehearsal)
    assert rehearsal.get("device", "cpu") == "cpu" and not rehearsal.get("bf16", False)
    # what the GPU run would use for generation stays: vLLM and TRL colocate
    for key in ("backend", "code_backend", "generation_backend"):
        if paper.get(key) == "vllm":
            assert rehearsal[key] == "vllm", key
    assert runner["timeout_s"] <= 1800
    plan = plan_run(nb, "rehearsal", allow_dirty=True)
    assert plan.label == "rehearsal" and plan.params == rehearsal
    # inside the notebook the profile is "paper": the label must still be "rehearsal", not custom-<hash>
    assert profile_label(nb, "paper", rehearsal) == "rehearsal"
    assert profile_label(nb, "paper", paper) == "paper"


def test_an_overlay_file_cannot_set_the_profile(tmp_path):
    import shutil

    src = next(p for p in __import__("pathlib").Path(__file__).parents[1].glob("notebooks/quickstart.ipynb"))
    shutil.copy(src, tmp_path / "quickstart.ipynb")
    params = tmp_path / "params" / "quickstart"
    params.mkdir(parents=True)
    shutil.copy(src.parent / "params" / "quickstart" / "paper.yaml", params / "paper.yaml")
    (params / "rehearsal.yaml").write_text("profile: cpu\n")
    with pytest.raises(ParameterError, match="sets profile"):
        load_profile("quickstart", "rehearsal", nb_dir=tmp_path)


def test_cpu_long_is_the_cpu_design_with_fresh_seeds_and_every_arm():
    """nsr's `cpu_long` overlay (docs/papers/nsr.md): cpu.yaml plus more seeds and arms, nothing else; its own label
    and run directory; a notebook without the file has no such profile."""
    assert OVERLAYS["cpu_long"] == "cpu"
    cpu, _ = resolve_params("nsr", "cpu")
    long, _ = resolve_params("nsr", "cpu_long")
    assert long["profile"] == "cpu"
    assert {k for k in long if long[k] != cpu.get(k)} == {"methods", "seeds"}
    assert not set(long["seeds"]) & set(cpu["seeds"]) and len(long["seeds"]) == 24  # fresh seeds, as registered
    assert set(long["methods"]) == {"grpo", "psr", "nsr", "w_reinforce"}
    assert profile_label("nsr", "cpu", long) == "cpu_long" and profile_label("nsr", "cpu", cpu) == "cpu"
    assert plan_run("nsr", "cpu_long", allow_dirty=True).label == "cpu_long"
    with pytest.raises(ParameterError, match="no 'cpu_long' profile"):
        load_profile("quickstart", "cpu_long")
