"""Tests for workbook.reporting (run directory writers, reported numbers, verdict rules) and workbook.plotting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbook.reporting import claims as results
from workbook.reporting import RunDir, load_reported, reported_vs_reproduced, verdict


def E(value, lo, hi, n=50):
    return {"value": value, "lo": lo, "hi": hi, "n": n}


# ---------------------------------------------------------------------------------------------------- RunDir


def test_run_dir_location_follows_env(results_dir):
    rd = RunDir("quickstart.ipynb", "smoke")
    assert rd.path == results_dir / "quickstart" / "smoke"
    assert rd.path.is_dir()


def test_run_dir_rejects_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        RunDir("x", "gpu")


def test_metrics_are_deterministic_sorted_and_rounded(tmp_path):
    rd = RunDir("nb", "cpu", root=tmp_path)
    metrics = {"b": np.float32(0.1234567891), "a": {"z": np.arange(3), "y": (1.0000004, -0.0)},
               "headline": {"pass@1": 1 / 3}, "nan": float("nan"), "flag": np.bool_(True)}
    p = rd.write_metrics(metrics)
    text = p.read_text()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["a"]["z"] == [0, 1, 2]
    assert data["a"]["y"] == [1.0, 0.0]
    assert data["headline"]["pass@1"] == 0.333333
    assert data["b"] == round(float(np.float32(0.1234567891)), 6)
    assert data["nan"] is None and data["flag"] is True
    # Same input, same bytes (the determinism contract of metrics.json); key order of the input does not matter.
    p2 = RunDir("nb2", "cpu", root=tmp_path).write_metrics(dict(reversed(list(metrics.items()))))
    assert p2.read_bytes() == p.read_bytes()
    assert not list(rd.path.glob(".*.tmp")), "atomic write left a temp file"


def test_metrics_must_be_dict(tmp_path):
    with pytest.raises(TypeError):
        RunDir("nb", "cpu", root=tmp_path).write_metrics([1, 2])


def test_provenance_contents(tmp_path):
    rd = RunDir("nb", "smoke", root=tmp_path)
    p = rd.write_provenance({"n": 4, "model": "tiny-random", "ks": (1, 2)}, seed=7, started=1.7e9)
    prov = json.loads(p.read_text())
    assert prov["seed"] == 7 and prov["profile"] == "smoke" and prov["notebook"] == "nb"
    assert prov["parameters"] == {"n": 4, "model": "tiny-random", "ks": [1, 2]}
    assert set(prov["git"]) == {"sha", "dirty"}
    assert prov["git"]["sha"] is None or len(prov["git"]["sha"]) == 40
    for pkg in ("torch", "transformers", "trl", "math-verify", "numpy"):
        assert pkg in prov["packages"]
    assert prov["packages"]["numpy"] == np.__version__
    assert prov["hardware"]["cpu_count"] >= 1 and "platform" in prov["hardware"] and "gpu" in prov["hardware"]
    assert prov["started"].startswith("2023-11-14") and prov["ended"] > prov["started"]


def test_figure_png_carries_provenance(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rd = RunDir("nb", "cpu", root=tmp_path)
    rd.write_provenance({"n": 1}, seed=3)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    p = rd.save_figure(fig, "curve")
    plt.close(fig)
    assert p == rd.path / "figures" / "curve.png"
    meta = json.loads(Image.open(p).text["Comment"])
    assert meta == {"notebook": "nb", "profile": "cpu", "git_sha": meta["git_sha"], "seed": 3}
    with pytest.raises(ValueError):
        rd.save_figure(fig, "../escape")


def test_save_table_csv_and_markdown(tmp_path):
    rd = RunDir("nb", "cpu", root=tmp_path)
    df = pd.DataFrame({"k": [1, 2], "pass@k": [0.123456, 0.5], "note": ["a|b", None]})
    csv_path, md_path = rd.save_table(df, "pass_at_k")
    assert pd.read_csv(csv_path)["pass@k"].tolist() == [0.123456, 0.5]
    md = md_path.read_text().splitlines()
    assert md[0] == "| k | pass@k | note |" and md[1] == "|---|---|---|"
    assert md[2] == "| 1 | 0.1235 | a\\|b |"


# ---------------------------------------------------------------------------------------------------- verdicts

SETTING = {"model": "m", "benchmark": "b", "sampling": "greedy", "steps": "10", "grader": "g"}
VALUE = {"id": "V", "claim": "c", "setting": SETTING, "value": 0.50, "unit": "acc", "source": "Table 1",
         "kind": "value", "tolerance": 0.05, "why": "the paper's CI", "scale": "paper"}
DIRECTION = {"id": "D", "claim": "c", "setting": SETTING, "value": None, "unit": "Δ", "source": "Fig. 2",
             "kind": "direction", "expected_sign": "+", "min_effect": 0.0, "why": "sign only",
             "expected_effect": {"value": 0.05, "why": "judgement"}}
CHECK = {"id": "K", "claim": "identity", "setting": SETTING, "value": 0.0, "unit": "dev", "source": "Sec. 4",
         "kind": "check", "tolerance": 1e-4, "why": "float round-off"}


@pytest.mark.parametrize("est, expected", [
    (E(0.50, 0.47, 0.53), "reproduced"),          # CI inside [0.45, 0.55]
    (E(0.46, 0.45, 0.55), "reproduced"),          # edges count as inside
    (E(0.30, 0.25, 0.35), "not reproduced"),      # CI entirely below the band
    (E(0.70, 0.56, 0.80), "not reproduced"),      # CI entirely above
    (E(0.50, 0.30, 0.70), "inconclusive"),        # CI wider than the band: too wide to tell
    (E(0.44, 0.40, 0.48), "inconclusive"),        # straddles the lower edge
    (None, "not run at this scale"),
    (E(float("nan"), float("nan"), float("nan")), "untestable here"),   # ran, but nothing could be measured
    (E(0.5, 0.5, 0.5, n=0), "untestable here"),
    (results.untestable("no problem with p_IC > p_CI"), "untestable here"),
])
def test_value_verdicts(est, expected):
    assert verdict(VALUE, est, "paper") == expected


@pytest.mark.parametrize("sign, est, expected", [
    ("+", E(0.10, 0.02, 0.18), "reproduced"),
    ("+", E(-0.10, -0.18, -0.02), "not reproduced"),
    ("+", E(0.01, -0.05, 0.07), "inconclusive"),
    ("+", E(0.0, 0.0, 0.0), "untestable here"),    # no spread at all: every unit at the floor or ceiling
    ("-", E(-0.10, -0.18, -0.02), "reproduced"),
    ("-", E(0.10, 0.02, 0.18), "not reproduced"),
])
def test_direction_verdicts(sign, est, expected):
    assert verdict({**DIRECTION, "expected_sign": sign}, est, "cpu") == expected


def test_direction_min_effect():
    claim = {**DIRECTION, "min_effect": 0.05}
    assert verdict(claim, E(0.03, 0.01, 0.04), "cpu") == "not reproduced"   # effect real but smaller than claimed
    assert verdict(claim, E(0.08, 0.06, 0.10), "cpu") == "reproduced"
    assert verdict(claim, E(0.05, 0.01, 0.09), "cpu") == "inconclusive"
    # LP-1a's rule: a collapse is a fall of more than half; a significant but small fall is not one
    collapse = {**DIRECTION, "expected_sign": "-", "min_effect": 0.5}
    assert verdict(collapse, E(-0.22, -0.44, -0.001), "cpu") == "not reproduced"
    assert verdict(collapse, E(-0.7, -0.8, -0.6), "cpu") == "reproduced"


@pytest.mark.parametrize("kind, est, expected", [
    ("at_least", E(0.6, 0.55, 0.65), "reproduced"),
    ("at_least", E(0.4, 0.35, 0.45), "not reproduced"),
    ("at_least", E(0.5, 0.45, 0.55), "inconclusive"),
    ("at_most", E(0.4, 0.35, 0.45), "reproduced"),
    ("at_most", E(0.6, 0.55, 0.65), "not reproduced"),
    ("at_most", E(0.5, 0.45, 0.55), "inconclusive"),
])
def test_threshold_verdicts(kind, est, expected):
    claim = {**VALUE, "kind": kind, "tolerance": 0.0}
    assert verdict(claim, est, "paper") == expected


def test_checks_are_not_evidence():
    assert verdict(CHECK, E(0.0, 0.0, 0.0, 5), "cpu") == "check passed"
    assert verdict(CHECK, E(0.00005, 0.00005, 0.00005, 5), "cpu") == "check passed"
    assert verdict(CHECK, E(0.01, 0.01, 0.01, 5), "cpu") == "check failed"
    at_least = {**CHECK, "relation": ">=", "value": 0.95, "tolerance": 0.0}
    assert verdict(at_least, E(0.958, 0.958, 0.958), "cpu") == "check passed"
    assert verdict(at_least, E(0.94, 0.94, 0.94), "cpu") == "check failed"
    assert verdict(CHECK, None, "cpu") == "not run at this scale"
    for v in results.CHECK_VERDICTS:
        assert v not in results.EVIDENCE_VERDICTS and "reproduced" not in v


def test_equivalence_must_exclude_the_base():
    # NSR-3a's flaw: a band wide enough to hold the untrained base cannot tell "matches GRPO" from "did nothing"
    claim = {**VALUE, "value": 0.0, "tolerance": 0.02, "excludes_base": True}
    ours = E(-0.012, -0.018, -0.008)
    assert verdict(claim, {"estimate": ours, "base": E(-0.015, -0.03, 0.0)}, "paper") == "untestable here"
    assert verdict(claim, {"estimate": ours, "base": E(-0.2, -0.25, -0.15)}, "paper") == "reproduced"
    assert verdict(claim, ours, "paper") == "untestable here"             # base contrast not given


def test_requires_turns_a_failed_precondition_into_untestable():
    est = E(0.05, 0.01, 0.09)
    ok = results.requires(E(0.02, 0.01, 0.03), "GRPO beats base", est)
    assert ok.estimate is est and verdict(DIRECTION, ok, "cpu") == "reproduced"
    u = results.requires(E(0.0, -0.01, 0.01), "GRPO beats base", est)
    assert verdict(DIRECTION, u, "cpu") == "untestable here" and "GRPO beats base" in u.reason
    # a claim that states a precondition is never decided on an estimate that skipped the check
    guarded = {**DIRECTION, "requires": "GRPO beats the base"}
    assert verdict(guarded, est, "cpu") == "untestable here"
    assert verdict(guarded, ok, "cpu") == "reproduced"


def test_paper_scale_claim_not_run_at_toy_profiles():
    claim = {**VALUE, "scale": "paper"}
    good = E(0.50, 0.47, 0.53)
    assert verdict(claim, good, "cpu") == "not run at this scale"
    assert verdict(claim, good, "smoke") == "not run at this scale"
    assert verdict(claim, good, "paper") == "reproduced"


def test_paper_profile_needs_a_matching_setting():
    claim = {**VALUE, "setting": {**SETTING, "match": {"model": "qwen3-14b-base", "steps": {"min": 900},
                                                       "eval_benchmarks": ["aime24", "math500"]}}}
    good = E(0.50, 0.47, 0.53)
    ok = {"model": "Qwen3-14B-Base", "steps": 1000, "eval_benchmarks": ["aime24", "aime25", "math500"]}
    assert verdict(claim, good, "paper", params=ok) == "reproduced"
    assert verdict(claim, good, "paper") == "not comparable"                       # parameters not given
    small = {**ok, "model": "qwen3-1.7b-base", "steps": 300}
    assert verdict(claim, good, "paper", params=small) == "not comparable"
    diffs = results.setting_differences(results.validate_claim(claim), small)
    assert len(diffs) == 2 and any("qwen3-1.7b-base" in d for d in diffs) and any("steps" in d for d in diffs)
    assert results.setting_differences(results.validate_claim(claim), {**ok, "eval_benchmarks": ["math500"]})


def test_verdict_accepts_estimate_objects():
    from workbook.metrics import Estimate

    assert verdict(VALUE, Estimate(0.5, 0.48, 0.52, 100), "paper") == "reproduced"


def test_verdict_input_errors():
    with pytest.raises(ValueError, match="profile"):
        verdict(VALUE, E(0.5, 0.4, 0.6), "laptop")
    with pytest.raises(ValueError, match="lo > hi"):
        verdict(VALUE, E(0.5, 0.6, 0.4), "paper")
    with pytest.raises(results.ReportedSchemaError, match="expected_sign"):
        verdict({**DIRECTION, "expected_sign": None}, E(0.1, 0.0, 0.2), "cpu")
    with pytest.raises(results.ReportedSchemaError, match="kind"):
        verdict({**VALUE, "kind": "vibes"}, E(0.1, 0.0, 0.2), "cpu")
    with pytest.raises(results.ReportedSchemaError, match="missing keys"):
        verdict({"id": "x", "claim": "c"}, E(0.1, 0.0, 0.2), "cpu")
    with pytest.raises(results.ReportedSchemaError, match="why"):
        verdict({k: v for k, v in VALUE.items() if k != "why"}, E(0.5, 0.4, 0.6), "paper")
    with pytest.raises(results.ReportedSchemaError, match="setting"):
        verdict({**VALUE, "setting": "a free-text setting"}, E(0.5, 0.4, 0.6), "paper")
    with pytest.raises(results.ReportedSchemaError, match="expected_effect"):
        verdict({k: v for k, v in DIRECTION.items() if k != "expected_effect"}, E(0.1, 0.0, 0.2), "cpu")
    with pytest.raises(results.ReportedSchemaError, match="min_effect"):
        verdict({k: v for k, v in DIRECTION.items() if k != "min_effect"}, E(0.1, 0.0, 0.2), "cpu")


# ---------------------------------------------------------------------------------------------------- reported files


@pytest.fixture
def reported_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "REPORTED_DIR", tmp_path)
    return tmp_path


DEMO = """
method: demo
paper: "A paper"
claims:
  - {id: D1, claim: "accuracy 50%", setting: {model: m, benchmark: b, sampling: s, steps: '—', grader: g},
     value: 0.5, unit: acc, source: "Table 1", kind: value, tolerance: 0.05, why: "its CI",
     expected_effect: {value: 0.5, why: "j"}}
  - {id: D2, claim: "goes up", setting: {model: m, benchmark: b, sampling: s, steps: '—', grader: g},
     value: null, unit: Δ, source: "Fig. 1", kind: direction, expected_sign: "+", min_effect: 0, why: "sign",
     expected_effect: {value: 0.1, why: "j"}}
  - {id: D3, claim: "big model", setting: {model: 7B, benchmark: b, sampling: s, steps: '—', grader: g},
     value: 0.8, unit: acc, source: "Table 2", kind: value, tolerance: 0.02, why: "its CI", scale: paper}
  - {id: D4, claim: "identity", setting: {model: m, benchmark: '—', sampling: '—', steps: '—', grader: '—'},
     value: 0.0, unit: dev, source: "Sec. 4", kind: check, tolerance: 0.0001, why: "round-off"}
"""


def test_reported_table(reported_dir):
    (reported_dir / "demo.yaml").write_text(DEMO)
    df = reported_vs_reproduced("demo", {"D1": E(0.3, 0.2, 0.4, 40), "D2": E(0.1, 0.05, 0.15, 40),
                                         "D4": E(0.0, 0.0, 0.0, 5)}, "cpu")
    assert list(df.columns[:7]) == ["claim_id", "claim", "setting", "paper", "reproduced", "n", "verdict"]
    assert df["verdict"].tolist() == ["not reproduced", "reproduced", "not run at this scale", "check passed"]
    assert df["check"].tolist() == ["", "", "", "passed"] and df["kind"].tolist()[-1] == "check"
    assert df.loc[0, "reproduced"] == "0.3 [0.2, 0.4]" and df.loc[0, "n"] == 40
    assert df.loc[0, "paper"] == "0.5 ± 0.05 (acc)" and df.loc[0, "setting"] == "m; b; s; g"
    assert df.loc[2, "reproduced"] == "—" and pd.isna(df.loc[2, "n"])
    with pytest.raises(KeyError, match="D9"):
        reported_vs_reproduced("demo", {"D9": E(0.1, 0.0, 0.2)}, "cpu")
    # the notebooks' call stays as it was; params are optional and only matter at the paper profile
    nan = reported_vs_reproduced("demo", {"D1": E(float("nan"), float("nan"), float("nan"), 0)}, "cpu")
    assert nan.loc[0, "verdict"] == "untestable here" and nan.loc[0, "note"]


def test_reported_schema_errors(reported_dir):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_reported("nope")
    (reported_dir / "bad.yaml").write_text("method: bad\nclaims:\n  - {id: B1, claim: c}\n")
    with pytest.raises(results.ReportedSchemaError, match="missing keys"):
        load_reported("bad")
    (reported_dir / "dup.yaml").write_text(DEMO.replace("demo", "dup").replace("id: D2", "id: D1"))
    with pytest.raises(results.ReportedSchemaError, match="duplicate"):
        load_reported("dup")
    (reported_dir / "wrongname.yaml").write_text("method: other\nclaims: []\n")
    with pytest.raises(results.ReportedSchemaError, match="'method'"):
        load_reported("wrongname")


def test_every_shipped_reported_file_is_valid():
    files = sorted(results.REPORTED_DIR.glob("*.yaml"))
    assert any(f.stem == "quickstart" for f in files)
    for f in files:
        claims = load_reported(f.stem)
        assert claims, f
        for c in claims:
            assert str(c["source"]).strip() and str(c["why"]).strip(), f"{f.name}:{c['id']}"
            if c["scale"] == "paper" and c["kind"] != "check":
                assert "match" in c["setting"], f"{f.name}:{c['id']}: a paper claim needs setting.match"


def test_identity_rows_are_checks():
    kinds = {(m, c["id"]): c["kind"] for m in ("nsr", "sharpening", "inference_scaling_limits")
             for c in load_reported(m)}
    for key in [("nsr", "NSR-4"), ("sharpening", "S8"), ("sharpening", "S9"), ("inference_scaling_limits", "L10"),
                ("inference_scaling_limits", "L1t")]:
        assert kinds[key] == "check", key


# ---------------------------------------------------------------------------------------------------- plotting


def test_plotting_style_colors_and_band():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workbook import plotting

    plotting.use_style()
    for m in ("base", "grpo", "psr", "nsr", "w_reinforce", "lp_reg", "entropy_only", "one_shot_rlvr"):
        assert m in plotting.COLORS
    method_colors = [plotting.COLORS[m] for m in ("grpo", "psr", "nsr", "w_reinforce", "lp_reg", "entropy_only",
                                                   "one_shot_rlvr", "base")]
    assert len(set(method_colors)) == len(method_colors), "two methods share a colour"
    with pytest.raises(KeyError, match="no fixed colour"):  # no hash colours: an unknown method must be added
        plotting.method_color("unlisted")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color=plotting.COLORS["grpo"])
    assert plotting.method_color("unlisted", ax=ax).lower() != plotting.COLORS["grpo"].lower()  # a free colour
    line = plotting.band(ax, [1, 2, 4], [E(0.1, 0.05, 0.15), E(0.2, 0.1, 0.3), E(0.3, 0.2, 0.4)], label="nsr")
    assert line.get_color().lower() == plotting.COLORS["nsr"].lower()
    assert len(ax.collections) == 1  # the shaded band
    np.testing.assert_allclose(line.get_ydata(), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        plotting.band(ax, [1, 2], [E(0.1, 0.0, 0.2)])
    plt.close(fig)


def test_paper_verdicts_read_the_runners_parameters(reported_dir, tmp_path, monkeypatch):
    (reported_dir / "demo.yaml").write_text(DEMO.replace("value: 0.8, unit: acc, source: \"Table 2\"",
                                                         "value: 0.8, unit: acc, source: \"Table 2\""
                                                         ).replace("benchmark: b, sampling: s, steps: '—', grader: g},\n     value: 0.8",
                                                                   "benchmark: b, sampling: s, steps: '—', grader: g, match: {model: big}},\n     value: 0.8"))
    est = {"D3": E(0.8, 0.79, 0.81)}
    assert reported_vs_reproduced("demo", est, "paper")["verdict"].tolist()[2] == "not comparable"
    run = tmp_path / "run"
    run.mkdir()
    (run / "parameters.yaml").write_text("model: big\n")
    monkeypatch.setenv("WORKBOOK_RUN_DIR", str(run))
    assert reported_vs_reproduced("demo", est, "paper")["verdict"].tolist()[2] == "reproduced"
    (run / "parameters.yaml").write_text("model: small\n")
    row = reported_vs_reproduced("demo", est, "paper").iloc[2]
    assert row["verdict"] == "not comparable" and "small" in row["note"]


def test_table_records_the_seeds_behind_a_hierarchical_estimate(reported_dir):
    from workbook.metrics import hierarchical_difference

    (reported_dir / "demo.yaml").write_text(DEMO)
    rng = np.random.default_rng(0)
    est = hierarchical_difference(rng.random((3, 10)) + 0.5, rng.random((1, 10)))
    df = reported_vs_reproduced("demo", {"D2": est}, "cpu")
    assert df.loc[1, "n"] == 10 and df.loc[1, "n_seeds"] == 3 and pd.isna(df.loc[0, "n_seeds"])
