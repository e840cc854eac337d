"""DSER (Liu et al. 2025, arXiv 2510.17498): the chain, its estimators, simulation, voting, the loop, the plan."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from workbook.papers import dser


# ------------------------------------------------- chain mathematics (the worked example p_IC = 0.10, p_CI = 0.08)

def test_stationary_worked_example():
    assert dser.stationary_accuracy(0.10, 0.08) == pytest.approx(0.5556, abs=1e-4)
    assert dser.stationary_accuracy(0.3, 0.1) == pytest.approx(0.75)
    assert np.isnan(dser.stationary_accuracy(0.0, 0.0))
    np.testing.assert_allclose(dser.stationary_accuracy([0.1, 0.2], [0.1, 0.0]), [0.5, 1.0])


def test_transient_worked_example():
    got = dser.transient_accuracy(0.05, 0.10, 0.08, [0, 10, 20, 1000])
    np.testing.assert_allclose(got, [0.05, 0.48607, 0.54600, 0.55556], atol=1e-5)
    # spec rounds these to 0.486 and 0.546
    assert round(float(got[1]), 3) == 0.486 and round(float(got[2]), 3) == 0.546


def test_transient_matches_matrix_power():
    p_ic, p_ci, p0 = 0.23, 0.07, 0.4
    pm = dser.transition_matrix(p_ic, p_ci)
    dist = np.array([p0, 1 - p0])
    for n in range(8):
        assert dser.transient_accuracy(p0, p_ic, p_ci, n) == pytest.approx(dist[0])
        dist = dist @ pm


def test_transient_broadcasts_and_frozen_chain():
    out = dser.transient_accuracy(np.array([[0.0], [1.0]]), np.array([[0.2], [0.0]]), np.array([[0.2], [0.0]]),
                                  np.arange(3))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out[0], [0.0, 0.2, 0.32])  # π = 1/2, factor 0.6
    np.testing.assert_allclose(out[1], [1.0, 1.0, 1.0])  # p_IC = p_CI = 0: nothing moves


def test_bad_rates_raise():
    with pytest.raises(ValueError):
        dser.stationary_accuracy(1.2, 0.1)
    with pytest.raises(ValueError):
        dser.transient_accuracy(0.1, 0.1, 0.1, -1)


# ---------------------------------------------------------------- estimators

STATES = np.array([
    [[0, 0, 1, 1, 0], [1, 1, 1, 1, 1]],   # problem 0: chain a: I I C C I ; chain b: all C
    [[0, 0, 0, 0, 1], [0, 1, 0, 1, 0]],   # problem 1
], dtype=bool)


def test_transition_counts_pooled_and_per_problem():
    c = dser.transition_counts(STATES)
    # I→C: p0a 1, p1a 1, p1b 2 → 4; C→I: p0a 1, p1b 2 → 3; C→C: p0a 1 + p0b 4 → 5; I→I: p0a 1, p1a 3 → 4
    assert (int(c.n_ic), int(c.n_ci), int(c.n_cc), int(c.n_ii)) == (4, 3, 5, 4)
    assert int(c.visits_i) + int(c.visits_c) == STATES.shape[0] * STATES.shape[1] * 4
    pp = dser.transition_counts(STATES, per_problem=True)
    np.testing.assert_array_equal(pp.n_ic, [1, 3])
    np.testing.assert_array_equal(pp.n_ci, [1, 2])
    p_ic, p_ci = dser.per_problem_rates(STATES)
    np.testing.assert_allclose(p_ic, [1 / 2, 3 / 6])
    np.testing.assert_allclose(p_ci, [1 / 6, 2 / 2])


def test_estimate_rates_wilson():
    c = dser.transition_counts(STATES)
    e_ic, e_ci = dser.estimate_rates(c)
    assert e_ic.value == pytest.approx(4 / 8) and e_ic.n == 8
    assert e_ci.value == pytest.approx(3 / 8) and e_ci.n == 8
    # Wilson 95% interval for 4/8
    assert (e_ic.lo, e_ic.hi) == pytest.approx((0.2152, 0.7848), abs=1e-4)
    lo, hi = dser.wilson_interval(0, 0)
    assert (float(lo), float(hi)) == (0.0, 1.0)


def test_estimators_recover_simulated_rates():
    states = dser.simulate_chains(0.12, 0.04, 0.1, n_chains=400, n_iterations=50, seed=3)
    e_ic, e_ci = dser.estimate_rates(dser.transition_counts(states))
    assert e_ic.lo < 0.12 < e_ic.hi and e_ci.lo < 0.04 < e_ci.hi
    assert abs(e_ic.value - 0.12) < 0.01 and abs(e_ci.value - 0.04) < 0.005
    b_ic, b_ci = dser.bootstrap_rates(dser.simulate_chains([0.1, 0.3], [0.05, 0.05], 0.0, 50, 30, seed=1),
                                      n_boot=300)
    assert b_ic.n == 2 and b_ic.lo <= b_ic.value <= b_ic.hi


def test_simulation_matches_transient():
    p_ic, p_ci, p0 = 0.10, 0.08, 0.05
    states = dser.simulate_chains(p_ic, p_ci, p0, n_chains=20000, n_iterations=20, seed=0)
    observed = states[0].mean(0)
    predicted = dser.transient_accuracy(p0, p_ic, p_ci, np.arange(21))
    assert np.max(np.abs(observed - predicted)) < 0.015
    assert states.shape == (1, 20000, 21) and states.dtype == bool


def test_simulation_seeded_and_beta_prior():
    a = dser.simulate_chains([0.1, 0.5], [0.2, 0.1], [0.0, 1.0], 3, 5, seed=7)
    b = dser.simulate_chains([0.1, 0.5], [0.2, 0.1], [0.0, 1.0], 3, 5, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not a[0, :, 0].any() and a[1, :, 0].all()
    p_ic, p_ci, p0 = dser.BetaPrior().sample(1000, seed=0)
    assert p_ic.shape == (1000,) and abs(p_ic.mean() - 0.1) < 0.01 and abs(p_ci.mean() - 0.08) < 0.01


# ---------------------------------------------------------------- voting

def test_binomial_majority_matches_spec():
    assert dser.binomial_majority_accuracy(0.556, 32, tie_credit=0.0) == pytest.approx(0.68, abs=0.005)
    assert dser.binomial_majority_accuracy(0.556, 128, tie_credit=0.0) == pytest.approx(0.88, abs=0.005)
    assert dser.binomial_majority_accuracy(0.5, 2) == pytest.approx(0.5)
    assert dser.binomial_majority_accuracy(0.9, 1) == pytest.approx(0.9)


def test_majority_vote_and_windows():
    assert dser.majority_vote(["1", "2", "2", None, "1"]) == "1"  # tie → first seen
    assert dser.majority_vote([None, None]) is None
    chain = ["7"] * 20 + ["3"] * 6 + ["7"] * 4
    assert dser.vote_last(chain, 10) == "3"
    assert dser.vote_last(chain, 30) == "7"
    chains = [["1", "2", "2"], ["1", "1", "2"], ["3", "3", "3"]]
    assert dser.vote_across_chains(chains, window=3, pool=True) == "1"   # 1, 2, 3 three each → first seen
    assert dser.vote_across_chains(chains, window=2, pool=True) == "2"   # last two: 2,2,1,2,3,3 → 2
    assert dser.vote_across_chains(chains, window=3, pool=False) == "2"  # chain votes 2, 1, 3 → first seen


def test_simulated_vote():
    states = np.array([[[0, 1, 1, 0], [1, 1, 0, 0]]], dtype=bool)  # 1 problem, 2 chains, window 4 → 4 C of 8
    # binary worst case: tie 4 vs 4 → 1/2
    assert dser.simulated_vote_correct(states, window=4)[0] == pytest.approx(0.5)
    per_chain = dser.simulated_vote_correct(states, window=3, across_chains=False)
    np.testing.assert_allclose(per_chain, [[1.0, 0.0]])  # chain a: 1,1,0 → C; chain b: 1,0,0 → I
    # wrong answers that split help the vote
    sim = dser.simulate_chains(np.full(300, 0.1), np.full(300, 0.12), 0.0, 16, 60, seed=0)
    binary = dser.simulated_vote_correct(sim, n_wrong_answers=1).mean()
    split = dser.simulated_vote_correct(sim, n_wrong_answers=5, seed=1).mean()
    assert split > binary + 0.2


# ---------------------------------------------------------------- the loop with a scripted backend

@dataclass
class FakeCompletion:
    text: str
    token_ids: list
    logprobs: list
    finish_reason: str = "stop"


class CountingBackend:
    """solve → \\boxed{0}; verify → a report; refine → previous answer + 1 (after a <think> block)."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=256, seed=0):
        self.calls.append((len(prompts), n, seed))
        out = []
        for p in prompts:
            if p.startswith("SOLVE"):
                out.append([FakeCompletion("\\boxed{0}", [1, 2], [0.0, 0.0]) for _ in range(n)])
            elif p.startswith("VERIFY"):
                out.append([FakeCompletion("<think>long</think>looks wrong", [1], [0.0])])
            else:
                cur = int(re.findall(r"\\boxed\{(\d+)\}", p)[-1])
                out.append([FakeCompletion(f"<think>hmm</think>so \\boxed{{{cur + 1}}}", [1, 2, 3], [0.0] * 3)])
        return out


class ExactGrader:
    name = "exact-test-grader"

    def grade_many(self, completions, golds):
        return [(re.findall(r"\\boxed\{(\d+)\}", c) or [None])[-1] == g for c, g in zip(completions, golds)]


@dataclass(frozen=True)
class P:
    problem_id: str
    problem: str
    answer: str


def boxed(text):
    m = re.findall(r"\\boxed\{(\d+)\}", text)
    return m[-1] if m else None


def test_run_dser_loop_carries_only_solution_and_report():
    backend = CountingBackend()
    prompts = dser.DSERPrompts(solve=lambda q: f"SOLVE {q}", verify=lambda q, s: f"VERIFY {q} {s}",
                               refine=lambda q, s, r: f"REFINE {q} [{r}] {s}")
    problems = [P("a", "q1", "2"), P("b", "q2", "9")]
    run = dser.run_dser(problems, backend, prompts, ExactGrader(), dser.DSERConfig(n_chains=3, n_iterations=3),
                        extract_answer=boxed)
    assert run.correct.shape == (2, 3, 4)
    np.testing.assert_array_equal(run.correct[0, 0], [False, False, True, False])
    assert not run.correct[1].any()
    assert run.answers[0][1] == ["0", "1", "2", "3"]
    assert run.reports[0][0][0] == "looks wrong"              # reasoning stripped before carrying
    assert run.solutions[0][0][1] == "so \\boxed{1}"
    # one batched solve call with n = chains, then per iteration one verify and one refine call over all chains
    assert backend.calls[0] == (2, 3, 0) and all(c[0] == 6 and c[1] == 1 for c in backend.calls[1:])
    assert len(backend.calls) == 1 + 2 * 3 and len({c[2] for c in backend.calls}) == len(backend.calls)
    assert run.n_generated_tokens == 2 * 3 * 2 + 3 * 6 * (1 + 3)
    c = dser.transition_counts(run.correct)
    assert (int(c.n_ic), int(c.n_ci)) == (3, 3)
    np.testing.assert_array_equal(run.vote_correct(window=4), [0.0, 0.0])
    np.testing.assert_array_equal(run.vote_correct(window=1), [0.0, 0.0])
    np.testing.assert_array_equal(dser.DSERRun.vote_correct(run, window=2, across_chains=False).shape, (2, 3))


def test_run_dser_initial_solutions_and_errors():
    prompts = dser.DSERPrompts(solve=lambda q: f"SOLVE {q}", verify=lambda q, s: f"VERIFY {s}",
                               refine=lambda q, s, r: f"REFINE {s}")
    run = dser.run_dser([P("a", "q", "2")], CountingBackend(), prompts, ExactGrader(),
                        dser.DSERConfig(n_chains=2, n_iterations=1), extract_answer=boxed,
                        initial_solutions=[["\\boxed{1}", "\\boxed{2}"]])
    np.testing.assert_array_equal(run.correct[0], [[False, True], [True, False]])
    with pytest.raises(ValueError):
        dser.run_dser([P("a", "q", "2")], CountingBackend(), prompts, ExactGrader(),
                      dser.DSERConfig(n_chains=2, n_iterations=1), extract_answer=boxed,
                      initial_solutions=[["only one"]])
    with pytest.raises(ValueError):
        dser.DSERConfig(n_chains=0)


def test_prompts_and_token_estimate():
    pr = dser.chat_prompts(None)
    v = pr.verify("What is 1+1?", "It is \\boxed{2}")
    assert "What is 1+1?" in v and "\\boxed{2}" in v and "\\boxed{CORRECT}" in v
    assert "\\boxed{}" in pr.solve("Q")
    assert dser.strip_reasoning("<think>a</think> b </think> c") == "c"
    assert dser.strip_reasoning("plain") == "plain"
    assert dser.strip_reasoning("x" * 50 + "tail", max_chars=4) == "tail"   # cut-off trace: keep its end
    assert dser.estimate_run_tokens(9, 8, 6, 1000, 500) == 9 * 8 * (1000 + 6 * 1500)


def test_reported_file_follows_schema():
    from workbook.reporting import load_reported

    claims = {c["id"]: c for c in load_reported("dser")}
    assert claims["D5"]["value"] == pytest.approx(5 / 9, abs=1e-3) and claims["D5"]["scale"] == "paper"
    assert all(c["source"] for c in claims.values())


def test_shrunk_rates():
    # problem 0: 1 of 2 moves out of I improve, problem 1: never in I. Pooled p_IC = 1/2.
    states = np.array([[[0, 1], [0, 0], [1, 1]], [[1, 1], [1, 0], [1, 1]]], dtype=bool)
    c = dser.transition_counts(states, per_problem=True)
    p_ic, p_ci = dser.shrunk_rates(c, prior_strength=2.0)
    np.testing.assert_allclose(p_ic, [(1 + 2 * 0.5) / 4, 0.5])          # no I visits → the pooled rate
    np.testing.assert_allclose(p_ci, [(0 + 2 * 0.25) / 3, (1 + 2 * 0.25) / 5])  # pooled p_CI = 1/4
    raw_ic, _ = dser.shrunk_rates(c, prior_strength=0.0)
    assert raw_ic[0] == pytest.approx(0.5)


def test_plan_counts_tokens_from_resolved_params():
    from workbook.params import resolve_params

    params, _ = resolve_params("dser", "paper")
    out = dser.plan(params)
    n_run = params["n_hard"]
    tok, tok_v = params["max_new_tokens"], params["max_new_tokens_verify"]
    assert out["stages"]["base samples"] == params["n_problems"] * len(params["benchmarks"]) * params["n_base"] * tok
    assert params["verifier_eps"] == []                   # real models verify themselves only
    assert out["stages"]["chains"] == n_run * params["n_chains"] * (tok + params["n_iterations"] * (tok + tok_v))
    assert out["stages"]["one-step diagnostic"] == n_run * params["n_pool"] * (tok_v + tok)
    assert out["max_generated_tokens"] == sum(out["stages"].values())
    assert any("instead of the paper's ~80" in d for d in out["deviations"])   # named, with their token cost
    assert any("not comparable" in d for d in out["deviations"])
    cpu, _ = resolve_params("dser", "cpu")
    c = dser.plan(cpu)
    n_arms_eps = len(cpu["verifier_eps"])
    per_chain_refine = cpu["n_iterations"] * cpu["max_new_tokens"]
    assert c["stages"]["chains"] == cpu["n_problems"] * cpu["n_chains"] * (
        cpu["max_new_tokens"] + cpu["n_iterations"] * (cpu["max_new_tokens"] + cpu["max_new_tokens_verify"])
        + n_arms_eps * per_chain_refine)
    assert out["gpu_hours"] == pytest.approx(out["max_generated_tokens"] / params["gpu_tokens_per_s"] / 3600)
    smoke, _ = resolve_params("dser", "smoke")
    assert dser.plan(smoke)["max_generated_tokens"] < out["max_generated_tokens"]


def test_validate_rejects_contradictions_before_work():
    from workbook.params import ParameterError, resolve_params

    params, _ = resolve_params("dser", "smoke")
    dser.validate(params)
    for bad in ({"n_pool": params["n_base"] + 1}, {"n_hard": 10_000}, {"window": params["n_iterations"] + 2}):
        with pytest.raises(ParameterError):
            dser.validate({**params, **bad})
    with pytest.raises(ParameterError, match="needs parameter"):
        dser.plan({"n_problems": 3})


def test_one_step_prediction_and_claims_on_simulated_chains():
    p_ic, p_ci = np.full(40, 0.3), np.full(40, 0.1)
    p0 = np.linspace(0, 0.5, 40)
    diag = dser.simulate_chains(p_ic, p_ci, p0, n_chains=8, n_iterations=1, seed=0)
    one = dser.one_step_prediction(diag, p0, n_iterations=5, n_boot=200)
    assert one.p_ic.value == pytest.approx(0.3, abs=0.1) and one.p_ci.value == pytest.approx(0.1, abs=0.1)
    assert one.predicted.shape == (40, 6) and np.allclose(one.predicted[:, 0], p0)
    assert "π_C" in str(one)


def _sim_arm(name, eps, p_ic, p_ci, p0, n_iterations=6, seed=0, n_chains=8):
    """An ArmResult from simulated chains: the diagnostic and the chains share the same true rates."""
    from workbook.papers.dser.loop import DSERRun

    n = len(p0)
    diag = dser.simulate_chains(p_ic, p_ci, p0, n_chains=32, n_iterations=1, seed=seed)
    states = dser.simulate_chains(p_ic, p_ci, p0, n_chains=n_chains, n_iterations=n_iterations, seed=seed + 1)
    answers = [[["1" if ok else "2" for ok in ch] for ch in prob] for prob in states]
    run = DSERRun([f"p{i}" for i in range(n)], [], [], answers, states, n_generated_tokens=100 * n)
    diag_run = DSERRun([f"p{i}" for i in range(n)], [], [], [], diag)
    one = dser.one_step_prediction(diag, p0, n_iterations, n_boot=200)
    return dser.ArmResult(dser.Arm(name, eps), diag_run, one, run, {"verify_balanced_accuracy": 1 - (eps or 0.5)})


def test_calibration_unbiased_when_the_chain_is_markov_and_excludes_no_dynamics():
    n = 60
    p0 = np.full(n, 0.2)
    res = _sim_arm("oracle", 0.0, np.full(n, 0.35), np.full(n, 0.08), p0)
    cal = dser.calibration(res, p0, n_boot=300)
    assert cal.gap.lo < 0 < cal.gap.hi and abs(cal.gap.value) < 0.05   # the rates' error is in the band
    assert cal.no_dynamics.lo > 0.3                      # π_C ≈ 0.81 from 0.2: no dynamics is far off
    assert cal.predicted[0].value == pytest.approx(0.2) and cal.predicted[-1].value > 0.7
    assert cal.change.lo > 0.3 and len(cal.observed) == 7


def test_worst_arm_is_an_intersection_union_test():
    from workbook.metrics import Estimate

    inside, wide, out = Estimate(0.0, -0.02, 0.02, 10), Estimate(0.01, -0.04, 0.08, 10), Estimate(0.1, 0.07, 0.13, 10)
    band = (-0.05, 0.05)
    assert dser.worst_arm([inside, inside], band) is inside
    assert dser.worst_arm([inside, wide], band) is wide          # one arm undecided → the claim is undecided
    assert dser.worst_arm([wide, out, inside], band) is out      # one arm clearly off → not reproduced
    assert dser.most_distinct([inside, out], band) is out


def test_sweep_claims_decide_d1_d2_d2b_and_d4b():
    from workbook.reporting import reported_vs_reproduced

    n = 60
    p0 = np.full(n, 0.2)
    arms = [_sim_arm("oracle, ε = 0", 0.0, np.full(n, 0.35), np.full(n, 0.08), p0, seed=0),
            _sim_arm("own", None, np.full(n, 0.04), np.full(n, 0.5), p0, seed=2)]
    cals = [dser.calibration(r, p0, n_boot=300) for r in arms]
    sim = dser.simulate_chains(0.1, 0.08, 0.05, n_chains=200, n_iterations=20, seed=0)
    checks = dser.theory_checks(sim, dser.transient_accuracy(0.05, 0.1, 0.08, np.arange(21)))
    never = np.zeros(n, bool)
    never[:5] = True
    out = dser.reproduced(arms, cals, p0, never, np.zeros(n), 4, ["synthetic"] * n, checks, n_boot=300)
    assert out["D0a"].value == pytest.approx(0.486, abs=5e-4) and out["D0b"].value < 5
    verdicts = dict(zip(*reported_vs_reproduced("dser", out, "cpu")[["claim_id", "verdict"]].T.values))
    assert verdicts["D0a"] == verdicts["D0b"] == "check passed"
    assert verdicts["D2"] == "reproduced"          # the oracle arm rises
    assert verdicts["D2b"] == "reproduced"         # the own arm (π_C ≈ 0.07 < 0.2) falls
    assert verdicts["D1"] in ("reproduced", "inconclusive")
    # a prediction clearly off in one arm refutes D1 even where "no dynamics" also sits near the band
    from workbook.metrics import Estimate
    off = {"estimate": Estimate(-0.17, -0.27, -0.08, 48), "base": Estimate(-0.08, -0.13, -0.03, 48)}
    near = {"estimate": Estimate(-0.01, -0.03, 0.02, 48), "base": Estimate(-0.08, -0.13, -0.03, 48)}
    assert dict(zip(*reported_vs_reproduced("dser", {**out, "D1": off}, "cpu")[["claim_id", "verdict"]].T.values))[
        "D1"] == "not reproduced"
    assert dict(zip(*reported_vs_reproduced("dser", {**out, "D1": near}, "cpu")[["claim_id", "verdict"]].T.values))[
        "D1"] == "untestable here"
    assert verdicts["D6"] == "not run at this scale"
    assert out["D4"].value == pytest.approx(arms[1].run.vote_correct(window=4).mean())


def test_d2_untestable_without_an_improving_arm():
    from workbook.reporting.verdicts import Untestable

    n = 30
    p0 = np.full(n, 0.6)
    arms = [_sim_arm("own", None, np.full(n, 0.05), np.full(n, 0.3), p0, n_iterations=4)]
    cals = [dser.calibration(arms[0], p0, n_boot=200)]
    out = dser.reproduced(arms, cals, p0, np.zeros(n, bool), np.zeros(n), 2, ["toy"] * n, {}, n_boot=200)
    assert isinstance(out["D2"], Untestable) and out["D4b"].n == n
    assert isinstance(out["D3"], Untestable)                 # no never-solved problem
    assert out["D1"]["base"].hi < -0.05                      # accuracy falls from 0.6: no dynamics is excluded


# ---------------------------------------------------------------- the verifier arms

def test_noisy_oracle_verifier_flips_at_rate_eps_and_is_seeded():
    from workbook.toy.world import parse_verdict

    right, wrong = "2 + 3 = 5\n5 * 2 = 10\n\\boxed{10}", "2 + 3 = 6\n6 * 2 = 12\n\\boxed{12}"
    sols = [right, wrong] * 200
    exact = [parse_verdict(r) for r in dser.noisy_oracle_verifier(0.0, seed=1)(None, sols)]
    assert exact == ["correct", "incorrect"] * 200
    noisy = [parse_verdict(r) for r in dser.noisy_oracle_verifier(0.3, seed=1)(None, sols)]
    flips = np.mean([a != b for a, b in zip(exact, noisy)])
    assert 0.22 < flips < 0.38
    assert noisy == [parse_verdict(r) for r in dser.noisy_oracle_verifier(0.3, seed=1)(None, sols)]
    with pytest.raises(ValueError):
        dser.make_arms([0.7])
    assert [a.eps for a in dser.make_arms([0.5, 0.0])] == [0.0, 0.5, None]


def test_stratified_pool_balances_where_it_can():
    texts = [["a", "b", "c", "d"], ["e", "f", "g", "h"], ["i", "j", "k", "l"]]
    correct = np.array([[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    assert dser.stratified_pool(texts, correct, 2) == [["a", "d"], ["e", "f"], ["i", "j"]]
    assert dser.stratified_pool(texts, correct, 4)[0] == ["a", "b", "c", "d"]   # one wrong only: three right
    with pytest.raises(ValueError):
        dser.stratified_pool(texts, correct, 5)


def test_run_dser_with_an_external_verifier_makes_no_verify_calls():
    backend = CountingBackend()
    prompts = dser.DSERPrompts(solve=lambda q: f"SOLVE {q}", verify=lambda q, s: f"VERIFY {q} {s}",
                               refine=lambda q, s, r: f"REFINE {q} [{r}] {s}")
    seen = []

    def verify(problems, solutions):
        seen.append(len(solutions))
        return ["external report"] * len(solutions)

    run = dser.run_dser([P("a", "q1", "2")], backend, prompts, ExactGrader(), dser.DSERConfig(n_chains=2, n_iterations=3),
                        extract_answer=boxed, initial_solutions=[["\\boxed{0}", "\\boxed{1}"]], verify_fn=verify)
    assert seen == [2, 2, 2] and run.reports[0][0] == ["external report"] * 3
    assert len(backend.calls) == 3 and run.n_generated_tokens == 3 * 2 * 3   # refinements only
    np.testing.assert_array_equal(run.correct[0, 0], [False, False, True, False])


def test_rates_by_verdict_splits_the_one_step_moves_by_the_report():
    from workbook.papers.dser.loop import DSERRun

    # One problem, 6 pool solutions: starts C C C I I I; verdicts correct, correct, incorrect, incorrect, correct,
    # (none); next states C I I C I C.
    states = np.array([[[1, 1], [1, 0], [1, 0], [0, 1], [0, 0], [0, 1]]], dtype=bool)
    reports = [[["\\boxed{correct}"], ["\\boxed{CORRECT}"], ["\\boxed{incorrect}"], ["\\boxed{incorrect}"],
                ["\\boxed{correct}"], ["no verdict"]]]
    diag = DSERRun(["p0"], [], reports, [], states)
    res = dser.ArmResult(dser.Arm("own verifier"), diag, None, diag, {})
    tab = dser.rates_by_verdict(res).set_index("verdict")
    assert tab.loc["correct", "p_ci"] == pytest.approx(0.5) and tab.loc["correct", "visits_c"] == 2
    assert tab.loc["correct", "p_ic"] == 0 and tab.loc["correct", "visits_i"] == 1
    assert tab.loc["incorrect", "p_ci"] == 1 and tab.loc["incorrect", "p_ic"] == 1
    assert tab.loc["none", "p_ic"] == 1 and tab.loc["none", "visits_c"] == 0 and np.isnan(tab.loc["none", "p_ci"])
    assert (tab["p_ci_lo"] <= tab["p_ci_hi"]).all()
