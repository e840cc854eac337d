"""Inference-scaling limits (Stroebl et al., arXiv 2411.17501): hand values, closed form vs the simulation, plan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbook.papers.inference_scaling_limits import (
    EasyHardModel,
    TaskCounts,
    accuracy_ceiling,
    bootstrap_k_opt,
    expected_utility,
    fit_easy_hard,
    k_opt_table,
    linear_fit,
    model_optimal_k,
    model_utility,
    optimal_k,
    prob_any_accept,
    simulate_utility,
    task_counts,
    utility_curve,
)


def test_task_counts_from_booleans_and_validation():
    v = [[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 1]]
    c = [[1, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1]]
    tc = task_counts(v, c, ["t0", "t1", "t2"])
    assert tc.a.tolist() == [1, 0, 2] and tc.f.tolist() == [2, 0, 0] and tc.n.tolist() == [4, 4, 3]
    assert tc.m.tolist() == [3, 0, 2]
    with pytest.raises(ValueError):
        TaskCounts(np.array([3]), np.array([2]), np.array([4]))  # a + f > n
    with pytest.raises(ValueError):
        task_counts([[1, 0]], [[1]])


def test_ceiling_hand_values():
    tc = TaskCounts(np.array([3, 0, 0]), np.array([1, 2, 0]), np.array([10, 10, 10]))
    assert accuracy_ceiling(tc) == pytest.approx((0.75 + 0.0) / 2)
    assert accuracy_ceiling(tc, m0="zero") == pytest.approx(0.75 / 3)
    assert accuracy_ceiling(tc, m0="one") == pytest.approx(1.75 / 3)
    with pytest.raises(ValueError):
        accuracy_ceiling(tc, m0="nan")


def test_closed_form_hand_values():
    # n = 4, m = 2 (a = 1, f = 1): P(any accepted in k) = 1 - C(2,k)/C(4,k) = 1/2, 5/6, 1, 1
    p = prob_any_accept(np.array([4]), np.array([2]), [1, 2, 3, 4, 9])
    assert p[0].tolist() == pytest.approx([0.5, 5 / 6, 1.0, 1.0, 1.0])
    tc = TaskCounts(np.array([1]), np.array([1]), np.array([4]))
    assert expected_utility(tc, [1, 2, 3], cost=0.0)[0].tolist() == pytest.approx([0.25, 5 / 12, 0.5])
    assert expected_utility(tc, [1, 2, 3], cost=1.0)[0].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert expected_utility(tc, [2], cost=3.0)[0, 0] == pytest.approx(5 / 6 * (1 - 3) / 2)
    # a task the verifier never accepts contributes 0
    assert expected_utility(TaskCounts(np.array([0]), np.array([0]), np.array([5])), [1, 5], 2.0).tolist() == [[0, 0]]
    # large n stays finite and exact: n = 200, m = 1 → P(any in k) = k / 200
    assert prob_any_accept(np.array([200]), np.array([1]), [1, 50, 200])[0].tolist() == pytest.approx([0.005, 0.25, 1])
    assert math.isclose(prob_any_accept(np.array([200]), np.array([3]), [10])[0, 0],
                        1 - math.comb(197, 10) / math.comb(200, 10), rel_tol=1e-12)


@pytest.mark.parametrize("cost", [0.0, 1.0, 4.0])
def test_closed_form_matches_official_simulation(cost):
    rng = np.random.default_rng(1)
    n_tasks, n, n_sims = 25, 30, 3000
    verifier, correct = [], []
    for _ in range(n_tasks):
        rate_ok, rate_fp = rng.uniform(0, 0.5), rng.uniform(0, 0.3)
        c = rng.random(n) < rate_ok
        v = c | (rng.random(n) < rate_fp)
        verifier.append(v), correct.append(c)
    ks = np.array([1, 2, 3, 5, 10, 20, 30])
    exact = utility_curve(task_counts(verifier, correct), ks, cost)
    sim = simulate_utility(verifier, correct, ks, cost, n_sims=n_sims, seed=3)
    se = (1 + cost) / (2 * math.sqrt(n_tasks * n_sims))  # bound on the Monte-Carlo standard error
    assert np.all(np.abs(sim - exact) < 4 * se), (sim, exact, se)
    # and the simulation is not trivially equal: a different seed moves it
    assert not np.allclose(sim, simulate_utility(verifier, correct, ks, cost, n_sims=200, seed=4))


def test_optimal_k_and_table():
    assert optimal_k([1, 2, 3], [0.1, 0.3, 0.2]) == (2, 0.3)
    assert optimal_k([1, 2, 3], [-0.1, -0.3, -0.2]) == (0, 0.0)
    # one task with many false positives: utility falls with cost, k_opt → abstain
    tc = TaskCounts(np.array([5, 1]), np.array([1, 9]), np.array([20, 20]))
    table = k_opt_table(tc, [0.0, 8.0], k_max=20)
    # at c = 0, U is flat once every task surely has an accept: k = max(n - m) + 1 = 15 (smallest argmax)
    assert table[0.0][0] == 15 and table[8.0][0] == 0
    k0, lo, hi = bootstrap_k_opt(tc, 0.0, k_max=20, n_boot=50)
    assert k0 == 15 and lo <= k0 <= hi


def test_theoretical_model_demo_values_exact_vs_repo():
    # Spec: demo parameters r = .87/.13, s = .75, p = .58/.42 give the same k_opt but 0.554 (repo) vs 0.525 (exact)
    m = EasyHardModel(r=(0.87, 0.13), p=(0.58, 0.42), s=0.75)
    assert m.beta.tolist() == pytest.approx([0.0975, 0.6525])
    k_exact, u_exact = model_optimal_k(m, 0.7, form="exact")
    k_repo, u_repo = model_optimal_k(m, 0.7, form="repo")
    assert k_exact == k_repo == 3
    assert u_exact == pytest.approx(0.525, abs=5e-4) and u_repo == pytest.approx(0.554, abs=5e-4)
    # exact E(1) by hand: Σ p_t (r_t - c (1-r_t)(1-s))
    e1 = 0.58 * (0.87 - 0.7 * 0.13 * 0.25) + 0.42 * (0.13 - 0.7 * 0.87 * 0.25)
    assert model_utility(m, [1], 0.7)[0] == pytest.approx(e1)
    with pytest.raises(ValueError):
        EasyHardModel(r=(0.5, 0.5), p=(0.6, 0.6), s=0.5)


def test_exact_model_equals_expectation_over_task_types():
    # The exact form must equal the utility of an infinite-sample task population drawn from the model.
    m = EasyHardModel(r=(0.8, 0.2), p=(0.3, 0.7), s=0.6)
    ks, cost = np.arange(1, 8), 1.5
    direct = np.zeros(len(ks))
    for pt, rt, bt in zip(m.p, m.r, m.beta):
        val = rt - cost * (1 - rt) * (1 - m.s)  # per-attempt expected accept value
        direct += pt * np.cumsum([bt ** (k - 1) * val for k in ks])
    assert model_utility(m, ks, cost, "exact") == pytest.approx(direct)


def test_fit_easy_hard_hand_values():
    tc = TaskCounts(np.array([9, 1]), np.array([1, 3]), np.array([10, 10]))
    exact = fit_easy_hard(tc, form="exact")
    assert exact.r == pytest.approx((0.9, 0.1)) and exact.p == pytest.approx((0.5, 0.5))
    assert exact.s == pytest.approx(0.6)  # 6 rejected of 10 incorrect
    repo = fit_easy_hard(tc, form="repo")
    assert repo.s == pytest.approx((1 - 0.7 - 0.5 + 0.575 * 0.7) / 0.5)


def test_linear_fit():
    slope, intercept, r2 = linear_fit([0, 1, 2], [1, 3, 5])
    assert (slope, intercept, r2) == pytest.approx((2, 1, 1))


def test_plan_and_validate():
    from workbook.papers import inference_scaling_limits as isl
    from workbook.params import ParameterError, resolve_params

    params, _ = resolve_params("inference_scaling_limits", "cpu")
    out = isl.plan(params)
    samples = len(params["strengths"]) * len(params["temperatures"]) * params["n_problems"] * params["n_samples"]
    pair = params["gap_problems"] * params["n_samples"]  # both models sample the pair's problems; only weak verified
    assert out["stages"]["toy samples"] == (samples + 2 * pair) * params["max_new_tokens"]
    assert out["stages"]["toy verification reports"] == (samples + pair) * params["verify_max_new_tokens"]
    assert out["test_programs"] == (params["code_problems"] * params["code_samples"] if params["run_code"] else 0)
    assert isl.plan({**params, "run_code": False})["test_programs"] == 0
    isl.validate(params)
    for bad in ({"weak_verifier": "oracle"}, {"code_benchmark": "apps"}, {"code_model": "no-such-model"},
                {"gap_problems": 0}, {"gap_problems": 2.5}):
        with pytest.raises(ParameterError):
            isl.validate({**params, **bad})


def test_last_digit_verifier_and_tables():
    from workbook.papers import inference_scaling_limits as isl

    assert isl.last_digit_check("so \\boxed{123}", "3") and not isl.last_digit_check("\\boxed{12}", "3")
    assert not isl.last_digit_check(None, "3") and not isl.last_digit_check("\\boxed{x}", "3")
    counts = TaskCounts(np.array([2, 0, 1]), np.array([1, 0, 1]), np.array([4, 4, 4]))
    table, pass1, ceiling = isl.ceiling_table(counts, n_boot=100)
    assert ceiling.value == pytest.approx((2 / 3 + 1 / 2) / 2) and pass1.value == pytest.approx(0.25)
    kopt, bands = isl.utility_table(counts, [0.0, 4.0], ks=[1, 2, 4], n_boot=100)
    assert list(kopt["cost c"]) == [0.0, 4.0] and len(bands[4.0]) == 3


def _point(label, correct, **accepted):
    from workbook.papers.inference_scaling_limits import Point

    correct = np.asarray(correct, dtype=bool)
    return Point(label, 1.0, correct, {"exact": correct.copy(),
                                       **{k: np.asarray(v, dtype=bool) for k, v in accepted.items()}})


def test_l1_uses_the_verify_skill_l1c_the_code_models_base_tests_and_l1t_the_toy_verifier():
    from workbook.papers.inference_scaling_limits import reproduced
    from workbook.reporting import reported_vs_reproduced
    from workbook.reporting.verdicts import Checked, Untestable

    toy = TaskCounts(np.array([3, 5, 0]), np.array([1, 0, 0]), np.array([8, 8, 8]))
    code = {"counts": TaskCounts(np.array([1, 0, 2]), np.array([1, 0, 0]), np.array([4, 4, 4]))}
    # main model: the verify skill accepts both right and one wrong sample of task 0 (a/m = 2/3, pass rate 1/2) and
    # the right and one wrong sample of task 1 (1/2 against 1/4): it lifts every task, so L1 is decided
    main = _point("main", [[1, 1, 0, 0], [1, 0, 0, 0]], verify_skill=[[1, 1, 1, 0], [1, 1, 0, 0]],
                  last_digit=[[1, 1, 0, 0], [0, 0, 0, 0]])
    weak = _point("weak", [[1, 0, 0, 0], [1, 0, 0, 0]], verify_skill=[[1, 1, 0, 0], [1, 0, 0, 0]],
                  last_digit=[[0, 0, 0, 0], [1, 0, 0, 0]])
    out = reproduced(toy, code, "cpu", "smollm2", "humaneval_plus", n_boot=200, main=main, weak=weak)
    assert isinstance(out["L1"], Checked) and isinstance(out["L2t"], Checked)
    assert out["L1"].estimate.value == pytest.approx(np.mean([1 - 2 / 3, 1 - 1 / 2]))
    assert out["L1c"].value == pytest.approx(np.mean([1 - 1 / 2, 1 - 2 / 2]))     # tasks with m > 0 only
    assert out["L1t"].value == pytest.approx(np.mean([1 - 3 / 4, 1 - 5 / 5]))
    # L2t: weak ceilings 1/2 and 1 (mean 0.75) minus the main model's pass@1 (3/8)
    assert out["L2t"].estimate.value == pytest.approx(0.75 - 3 / 8)
    assert out["L2u"].value == pytest.approx(1.0 - 3 / 8)                         # only task 1 has m > 0
    # a verifier blind to correctness (a/m = the pass rate on every task): L1 and L2t are forced, so untestable
    blind = _point("blind", [[1, 1, 0, 0], [1, 0, 0, 0]], verify_skill=[[1, 0, 1, 0], [1, 1, 1, 1]],
                   last_digit=[[1, 1, 0, 0], [1, 0, 0, 0]])
    forced = reproduced(toy, None, "cpu", "smollm2", "humaneval_plus", n_boot=200, main=blind, weak=blind)
    for cid in ("L1", "L2t"):
        assert isinstance(forced[cid], Untestable) and "lifts" in forced[cid].reason
    table = reported_vs_reproduced("inference_scaling_limits", forced, "cpu")
    assert dict(zip(table["claim_id"], table["verdict"]))["L1"] == "untestable here"
    none = {"counts": TaskCounts(np.array([0, 0]), np.array([0, 0]), np.array([4, 4]))}
    assert isinstance(reproduced(toy, none, "cpu", "smollm2", "humaneval_plus", n_boot=200)["L1c"], Untestable)
    assert "L1c" not in reproduced(toy, None, "cpu", "smollm2", "humaneval_plus", n_boot=200)
    silent = TaskCounts(np.array([0, 0]), np.array([0, 0]), np.array([8, 8]))
    assert isinstance(reproduced(silent, code, "cpu", "smollm2", "humaneval_plus", n_boot=200)["L1t"], Untestable)


def test_empty_or_nan_estimates_are_untestable_never_a_crash():
    """A run where nothing is accepted, or no task was measured at all, reads 'untestable here' (no ValueError)."""
    from workbook.papers.inference_scaling_limits import ceiling_table, reproduced, safe_mean_ci
    from workbook.reporting import reported_vs_reproduced
    from workbook.reporting.verdicts import Untestable

    assert isinstance(safe_mean_ci([], what="x"), Untestable)
    assert isinstance(safe_mean_ci([np.nan, np.nan], what="x"), Untestable)
    assert safe_mean_ci([np.nan, 1.0, 0.0], n_boot=50).value == pytest.approx(0.5)
    empty = TaskCounts(np.array([], dtype=int), np.array([], dtype=int), np.array([], dtype=int))
    _, pass1, ceiling = ceiling_table(empty, n_boot=50)
    assert np.isnan(pass1.value) and np.isnan(ceiling.value)
    silent = _point("silent", np.zeros((3, 4)), verify_skill=np.zeros((3, 4)), last_digit=np.zeros((3, 4)))
    code = {"counts": empty, "pass1": pass1, "ceiling": ceiling, "line_length_diffs": np.array([])}
    for profile in ("cpu", "paper"):
        out = reproduced(empty, code, profile, "llama-3.1-8b-instruct", "humaneval_plus", n_boot=50,
                         main=silent, weak=silent)
        for cid in ("L1", "L1c", "L1t", "L2t", "L2u", "L3"):
            assert isinstance(out[cid], Untestable), (profile, cid, out[cid])
        table = reported_vs_reproduced("inference_scaling_limits", out, profile)
        verdicts = dict(zip(table["claim_id"], table["verdict"]))
        assert verdicts["L1"] == verdicts["L2t"] == "untestable here"
        assert verdicts["L10"] == "check passed"


def test_point_table_hand_values_and_the_exact_control():
    from workbook.papers.inference_scaling_limits import point_table

    # 2 tasks × 4 samples; verifier accepts 2 of 2 right and 1 of 6 wrong samples
    p = _point("m", [[1, 1, 0, 0], [0, 0, 0, 0]], verify_skill=[[1, 1, 1, 0], [0, 0, 0, 0]])
    tab = point_table([p], verifiers=("exact", "verify_skill"), n_boot=200).set_index("verifier")
    assert tab.loc["verify_skill", "pass@1"] == pytest.approx(0.25)
    assert tab.loc["verify_skill", "ceiling"] == pytest.approx(2 / 3)             # task 1 has m = 0: excluded
    assert tab.loc["verify_skill", "false-positive rate"] == pytest.approx(1 / 6)
    assert tab.loc["verify_skill", "true-positive rate"] == pytest.approx(1.0)
    assert tab.loc["verify_skill", "tasks with m > 0"] == 1
    assert tab.loc["verify_skill", "balanced accuracy"] == pytest.approx((1.0 + 5 / 6) / 2)
    assert tab.loc["verify_skill", "lift"] == pytest.approx(2 / 3 - 1 / 2)     # task 0 only: a/m − its pass rate
    # the control: without false positives the ceiling is 1 wherever a sample is accepted
    assert tab.loc["exact", "ceiling"] == 1.0 and tab.loc["exact", "false-positive rate"] == 0.0
    lo, hi = tab.loc["verify_skill", "false-positive rate lo"], tab.loc["verify_skill", "false-positive rate hi"]
    assert lo <= 1 / 6 <= hi


def test_line_fit_recovers_a_known_line_and_is_nan_without_spread():
    from workbook.papers.inference_scaling_limits import line_fit

    points = []
    for rate in (0.2, 0.4, 0.6, 0.8):                       # pass@1 exactly `rate` on every task (10 samples each)
        correct = np.zeros((30, 10), dtype=bool)
        correct[:, : int(rate * 10)] = True
        # accept every right sample and enough wrong ones that a/m = 0.5·rate + 0.4 on every task
        a, target = int(rate * 10), 0.5 * rate + 0.4
        f = int(round(a / target - a))
        acc = correct.copy()
        acc[:, a: a + f] = True
        points.append(_point(f"r{rate}", correct, verify_skill=acc))
    fit = line_fit(points, "verify_skill", n_boot=100)
    ceilings = [p.per_problem("verify_skill")["a"][0] / p.per_problem("verify_skill")["m"][0] for p in points]
    slope, intercept, _ = linear_fit([0.2, 0.4, 0.6, 0.8], ceilings)
    assert fit["slope"].value == pytest.approx(slope) and fit["intercept"].value == pytest.approx(intercept)
    assert fit["slope"].lo == pytest.approx(slope) and fit["points"] == 4   # identical tasks: no spread to resample
    from workbook.papers.inference_scaling_limits import line_table
    near, far = ({"slope": fit["slope"].lo + d, "intercept": fit["intercept"].lo, "r2": 0.9} for d in (0.0, 1.0))
    assert line_table(points, ["verify_skill"], near, n_boot=50).loc[0, "paper intercept in CI"]
    assert not line_table(points, ["verify_skill"], far, n_boot=50).loc[0, "paper slope in CI"]
    flat = line_fit(points[:1] * 2, "verify_skill", n_boot=20)             # two points with the same pass@1
    assert np.isnan(flat["slope"].value)
    with pytest.raises(ValueError):
        line_fit([points[0], _point("short", np.zeros((3, 10)), verify_skill=np.zeros((3, 10)))], "verify_skill")


def test_strengths_and_their_parameters_are_checked():
    from workbook.papers import inference_scaling_limits as isl
    from workbook.params import ParameterError, resolve_params

    assert isl.parse_strength("toy-reasoner@250") == isl.Strength("toy-reasoner", 250)
    assert isl.parse_strength("toy-reasoner@2000") == isl.Strength("toy-reasoner", None)  # the final step
    for bad in ("toy-reasoner@300", "no-such-toy", "toy-reasoner@x"):
        with pytest.raises(ValueError):
            isl.parse_strength(bad)
    params, _ = resolve_params("inference_scaling_limits", "cpu")
    assert len(params["strengths"]) >= 4 and isl.plan(params)["points"] == 10
    for bad in ({"weak_model": "toy-reasoner@300"}, {"weak_model": "toy-reasoner-control@2000", "strengths": ["x"]},
                {"temperature": 0.5}, {"weak_model": params["model"]}, {"strengths": ["toy-reasoner"]},
                {"temperatures": []}):
        with pytest.raises(ParameterError):
            isl.validate({**params, **bad})


def test_a_verifier_blind_to_correctness_has_no_lift_and_chance_balanced_accuracy():
    """The mechanism's null: accepting a random subset gives a/m ≈ the task's pass rate (lift 0), whatever the rate."""
    from workbook.papers.inference_scaling_limits import point_table

    rng = np.random.default_rng(0)
    rates = rng.uniform(0.1, 0.9, size=(400, 1))
    correct = rng.random((400, 32)) < rates
    blind = _point("blind", correct, verify_skill=rng.random((400, 32)) < 0.6)
    row = point_table([blind], verifiers=("exact", "verify_skill"), n_boot=200).set_index("verifier")
    assert row.loc["verify_skill", "lift lo"] < 0 < row.loc["verify_skill", "lift hi"]
    assert row.loc["verify_skill", "balanced accuracy"] == pytest.approx(0.5, abs=0.02)
    assert row.loc["exact", "lift"] == pytest.approx(np.mean(1 - correct.mean(1)[correct.any(1)]))


def test_power_of_a_claim_with_a_precondition_is_its_power_given_the_precondition():
    """L1 and L2t carry `requires:`; the pre-registered power is computed as if it held (not 0 by construction)."""
    from workbook.reporting.claims import REPORTED_DIR, load_reported_file
    from workbook.reporting.power import design_for, power

    doc = load_reported_file(REPORTED_DIR / "inference_scaling_limits.yaml")
    l1 = next(c for c in doc["claims"] if c["id"] == "L1")
    assert l1.get("requires")
    design = design_for(doc["design"], l1, {"n_problems": 64})
    assert power(l1, design, n_sim=100, n_boot=100) > 0.8
    assert power(l1, design, effect=0.0, n_sim=100, n_boot=100) < 0.1     # no effect: rarely "reproduced"


def test_l2_reads_the_pair_and_l3_needs_a_positive_peak():
    """L2t/L2u read the pair's strong point when given; L3 is untestable when every k loses (abstaining is best),
    decided when the best U(k) is above 0 — and then it can fail (a verifier without false positives: k_opt = n)."""
    from workbook.papers.inference_scaling_limits import bootstrap_best_utility, reproduced
    from workbook.reporting import reported_vs_reproduced
    from workbook.reporting.verdicts import Checked, Untestable

    weak = _point("weak", [[1, 0, 0, 0], [1, 0, 0, 0]], verify_skill=[[1, 1, 0, 0], [1, 0, 0, 0]],
                  last_digit=[[0, 0, 0, 0], [1, 0, 0, 0]])
    main = _point("main", [[1, 1, 0, 0], [1, 0, 0, 0]], verify_skill=[[1, 1, 1, 0], [1, 1, 0, 0]])
    strong = _point("strong", [[1, 1, 1, 1], [1, 1, 1, 0]])
    losing = TaskCounts(np.array([1, 2]), np.array([3, 2]), np.array([8, 8]))     # (a − 4f)/m < 0 on every task
    out = reproduced(losing, None, "cpu", "smollm2", "humaneval_plus", n_boot=200, main=main, weak=weak,
                     strong=strong)
    assert out["L2t"].estimate.value == pytest.approx(0.75 - 7 / 8)               # strong's pass@1, not main's
    assert out["L2u"].value == pytest.approx(1.0 - 7 / 8)
    assert bootstrap_best_utility(losing, 4.0, k_max=8, n_boot=100)[2] < 0
    assert isinstance(out["L3"], Untestable) and "positive expected utility" in out["L3"].reason
    verdicts = dict(zip(*reported_vs_reproduced("inference_scaling_limits", out, "cpu")[["claim_id", "verdict"]]
                        .to_numpy().T))
    assert verdicts["L3"] == "untestable here"
    # no false positives: U(k) grows until a draw must hold an accepted one, k = n − m + 1 = 31 > 10: it fails
    perfect = TaskCounts(np.full(40, 2), np.zeros(40, dtype=int), np.full(40, 32))
    l3 = reproduced(perfect, None, "cpu", "smollm2", "humaneval_plus", n_boot=200)["L3"]
    assert isinstance(l3, Checked) and l3.estimate.value == 31
    verdicts = dict(zip(*reported_vs_reproduced("inference_scaling_limits", {"L3": l3}, "cpu")[["claim_id", "verdict"]]
                        .to_numpy().T))
    assert verdicts["L3"] == "not reproduced"


def test_pair_table_and_disjoint_problems():
    from workbook.data.synthetic import ArithmeticSpec, generate_problems
    from workbook.papers.inference_scaling_limits import disjoint_problems, pair_table

    weak = _point("weak", [[1, 0, 0, 0], [1, 0, 0, 0]], verify_skill=[[1, 1, 0, 0], [1, 0, 0, 0]],
                  last_digit=[[1, 0, 0, 0], [1, 1, 0, 0]])
    strong = _point("strong", [[1, 1, 1, 1], [1, 1, 1, 0]])
    tab = pair_table(weak, strong, n_boot=200).set_index("verifier")
    assert tab.loc["verify_skill", "gap"] == pytest.approx(0.75 - 7 / 8)
    assert tab.loc["last_digit", "gap"] == pytest.approx(0.75 - 7 / 8)
    assert tab.loc["verify_skill", "strong pass@1"] == pytest.approx(7 / 8)
    assert tab.loc["verify_skill", "ceiling"] == pytest.approx(0.75)
    assert tab.loc["verify_skill", "gap sd per problem"] >= 0
    spec = ArithmeticSpec(n_operands=4, min_operands=2)
    line = generate_problems(16, seed=1, spec=spec)
    kept = disjoint_problems(40, 1, spec, exclude=line)                 # the same seed: every line problem skipped
    assert len(kept) == 40 and not {p.problem for p in kept} & {p.problem for p in line}
    assert kept[0].problem == generate_problems(17, seed=1, spec=spec)[16].problem
