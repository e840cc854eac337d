"""The verdict layer's own check: simulated datasets with no effect rarely read "reproduced", and designs that
claim 80% power deliver it.

Each claim kind is run through the estimator the notebooks use (`workbook.metrics.hierarchical_intervals`, seeds ×
problems) and the verdict rules (`workbook.reporting.verdicts`), on 1,000 simulated datasets per case
(`workbook.reporting.power.simulate`). "Zero effect" puts the truth exactly on the claim's boundary: the most
favourable null for a false "reproduced". Vectorised over datasets, so the whole file takes seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbook.reporting.claims import validate_claim
from workbook.reporting.power import Design, power, verdict_rates

N_SIM = 1000
N_BOOT = 100          # per simulated dataset; the interval's se is rescaled analytically, so 100 suffice here
SETTING = {"model": "m", "benchmark": "b", "sampling": "s", "steps": "t", "grader": "g"}


def claim(kind: str, **kw) -> dict:
    base = {"id": kind, "claim": "c", "setting": SETTING, "unit": "u", "source": "s", "why": "w", "kind": kind,
            "value": None, "scale": "any"}
    if kind == "direction":
        base.update(expected_sign="+", min_effect=0.0)
    return validate_claim({**base, **kw})


ACC = {"why": "test", "model": "accuracy", "base_rate": 0.5}
CONT = {"why": "test", "model": "continuous", "sd": 1.0, "seed_sd": 0.3}

# (name, claim, design, truth on the boundary, truth at the stated effect)
CASES = [
    ("direction, trained vs base (the NSR design)",
     claim("direction", expected_effect={**ACC, "value": 0.1}), Design(12, 256, 3, "base"), 0.0, None),
    ("direction, two trained arms, many problems",
     claim("direction", expected_effect={**ACC, "value": 0.15, "seed_sd": 0.2}), Design(60, 4, 6, "arms"), 0.0, 0.15),
    ("direction with min_effect (LP-1a's collapse rule)",
     claim("direction", expected_sign="-", min_effect=0.5, expected_effect={**CONT, "value": -1.5, "sd": 0.3,
                                                                            "seed_sd": 0.0}),
     Design(1, 1, 8, "single"), -0.5, -1.5),
    ("value: equivalence within a band",
     claim("value", value=0.0, tolerance=0.5, expected_effect={**CONT, "value": 0.0, "seed_sd": 0.1}),
     Design(40, 1, 6, "arms"),
     0.5, 0.0),
    ("at_least",
     claim("at_least", value=0.0, tolerance=0.0, expected_effect={**CONT, "value": 0.6}), Design(40, 1, 6, "single"),
     0.0, 0.6),
    ("at_most",
     claim("at_most", value=0.0, tolerance=0.0, expected_effect={**CONT, "value": -0.6}), Design(40, 1, 6, "single"),
     0.0, -0.6),
]


@pytest.mark.parametrize("name, c, design, null, _", CASES, ids=[c[0] for c in CASES])
def test_no_effect_rarely_reads_reproduced(name, c, design, null, _):
    rates = verdict_rates(c, design, null, n_sim=N_SIM, seed=101, n_boot=N_BOOT)
    assert rates.get("reproduced", 0.0) <= 0.05, (name, rates)


@pytest.mark.parametrize("name, c, design, _, effect", [x for x in CASES if x[4] is not None],
                         ids=[x[0] for x in CASES if x[4] is not None])
def test_designs_that_claim_power_deliver_it(name, c, design, _, effect):
    claimed = power(c, design, effect, n_sim=400, seed=7, n_boot=N_BOOT)  # what power_table would print
    assert claimed >= 0.8, (name, claimed)
    observed = verdict_rates(c, design, effect, n_sim=N_SIM, seed=202, n_boot=N_BOOT).get("reproduced", 0.0)
    assert observed >= 0.8, (name, observed)


def test_an_underpowered_design_says_so():
    # the shipped cpu NSR design cannot see a 3-point pass@1 gain with three seeds: power is far below 80%
    c = claim("direction", expected_effect={**ACC, "value": 0.03})
    assert power(c, Design(12, 256, 3, "base"), n_sim=400, seed=3, n_boot=N_BOOT) < 0.5


def test_checks_are_exact_not_sampled():
    from workbook.reporting.verdicts import decide

    c = claim("check", value=0.0, tolerance=1e-4)
    values = np.random.default_rng(0).normal(0.0, 1e-3, N_SIM)
    got = [decide(c, {"value": v, "lo": v, "hi": v, "n": 1}, "cpu").verdict for v in values]
    assert set(got) <= {"check passed", "check failed"} and "reproduced" not in got
    with pytest.raises(ValueError, match="check"):
        power(c, Design(1))
