"""Tests for workbook.reporting.power: designs resolved from notebook parameters, the power table notebooks print."""

from __future__ import annotations

import pytest

from workbook.reporting.claims import load_reported
from workbook.reporting.power import Design, design_for, power, power_table, print_power

NSR_CPU = {"n_eval_problems": 12, "eval_n": 256, "seeds": [0, 1, 2], "n_pool": 64, "id_n": 16}


def test_design_resolves_parameter_names_and_claim_overrides():
    doc = {"problems": "n_eval_problems", "samples": "eval_n", "seeds": "seeds", "comparison": "base"}
    d = design_for(doc, {"id": "x"}, NSR_CPU)
    assert d == Design(12, 256, 3, "base") and "12 problems × 256 samples × 3 seeds" in str(d)
    d2 = design_for(doc, {"id": "x", "design": {"comparison": "arms", "samples": 1}}, NSR_CPU)
    assert d2 == Design(12, 1, 3, "arms")
    with pytest.raises(KeyError, match="n_eval_problems"):
        design_for(doc, {"id": "x"}, {"eval_n": 4, "seeds": [0]})
    with pytest.raises(ValueError):
        Design(0)
    with pytest.raises(ValueError):
        Design(3, comparison="paired")


def test_power_grows_with_effect_and_design():
    c = next(c for c in load_reported("nsr") if c["id"] == "NSR-2a")
    small, big = Design(12, 256, 3, "base"), Design(200, 256, 12, "base")
    p_small = power(c, small, 0.1, n_sim=300, n_boot=100)
    assert power(c, big, 0.1, n_sim=300, n_boot=100) > p_small
    assert power(c, small, 0.0, n_sim=300, n_boot=100) < p_small


def test_power_table_and_print(capsys):
    tab = power_table("nsr", NSR_CPU, n_sim=100, n_boot=50)
    cpu_claims = [c["id"] for c in load_reported("nsr") if c["scale"] == "any" and c["kind"] != "check"]
    assert tab["claim_id"].tolist() == cpu_claims                       # NSR-4 (a check) has no power
    assert tab["power"].between(0, 1).all()
    assert tab["note"].str.contains("under 80% power").any()            # the toy design says so
    print_power("nsr", NSR_CPU, n_sim=50, n_boot=50)
    out = capsys.readouterr().out
    assert "NSR-1a" in out and "power" in out
    missing = power_table("nsr", {"seeds": [0]}, n_sim=50, n_boot=50)
    assert missing["power"].isna().all() and missing["note"].str.startswith("no power").all()


@pytest.mark.parametrize("paper", ["nsr", "lp_reg", "one_shot_rlvr", "dser", "sharpening", "quickstart",
                                   "inference_scaling_limits"])
def test_every_cpu_claim_has_a_computable_power_at_the_cpu_profile(paper):
    # the designs in reported/<paper>.yaml name notebook parameters: a renamed parameter must fail here
    from workbook.params import resolve_params

    params, _ = resolve_params(paper, "cpu")
    tab = power_table(paper, params, n_sim=30, n_boot=20)
    assert len(tab) and tab["power"].notna().all(), tab[["claim_id", "note"]].to_string()


def test_decision_table_expects_the_verdict_of_every_kind():
    """An at_least / at_most / value claim whose expected effect lies outside its band expects "not reproduced"
    (not only direction claims): NSR-1e expects a fall of mass far below its 10% tolerance."""
    from workbook.reporting.power import _holds_at

    assert not _holds_at({"kind": "at_least", "value": 0.0, "tolerance": 0.1}, -1.19)
    assert _holds_at({"kind": "at_least", "value": 0.0, "tolerance": 0.1}, -0.05)
    assert not _holds_at({"kind": "at_most", "value": 0.0, "tolerance": 0.03}, 0.05)
    assert _holds_at({"kind": "value", "value": 0.0, "tolerance": 0.05}, 0.0)
    assert not _holds_at({"kind": "direction", "expected_sign": "-", "min_effect": 0.1}, 0.12)
    assert _holds_at({"kind": "direction", "expected_sign": "+", "min_effect": 0.0}, 3e-5)
