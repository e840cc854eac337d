"""Tests for workbook.metrics: pass@k against brute force, maj@k/mean@k, bootstrap coverage, IQM, P(improvement)."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from workbook.metrics import (
    Estimate,
    bootstrap_ci,
    grouped_estimates,
    hierarchical_bootstrap,
    hierarchical_difference,
    iqm,
    maj_at_k,
    mean_at_k,
    pass_at_k,
    pass_at_k_curve,
    probability_of_improvement,
)


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of the k-subsets of n completions (c of them correct) that hold at least one correct one."""
    flags = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(flags[i] for i in s) for s in subsets) / len(subsets)


SMALL = [(n, c, k) for n in range(1, 9) for c in range(n + 1) for k in range(1, n + 1)]


# ------------------------------------------------------------------ pass@k


def test_pass_at_k_equals_subset_enumeration():
    for n, c, k in SMALL:
        assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_k_vectorized_broadcast_matches_scalar():
    n, c, k = (np.array(v) for v in zip(*SMALL))
    got = pass_at_k(n, c, k)
    assert got.shape == (len(SMALL),)
    np.testing.assert_allclose(got, [brute_pass_at_k(*t) for t in SMALL], atol=1e-12)
    grid = pass_at_k(10, np.arange(11)[:, None], np.arange(1, 11)[None, :])
    assert grid.shape == (11, 10)
    assert isinstance(pass_at_k(5, 2, 2), float)


def test_pass_at_k_curve_equals_subset_enumeration():
    for n in range(1, 9):
        c = np.arange(n + 1)
        ks = np.arange(1, n + 1)
        curve = pass_at_k_curve(c, n, ks)
        assert curve.shape == (n + 1, n)
        want = np.array([[brute_pass_at_k(n, ci, k) for k in ks] for ci in c])
        np.testing.assert_allclose(curve, want, atol=1e-12)


def test_pass_at_k_curve_per_problem_n_and_k_subset():
    n = np.array([4, 6, 8, 5])
    c = np.array([1, 0, 8, 2])
    ks = [3, 1, 4]
    curve = pass_at_k_curve(c, n, ks)
    want = np.array([[brute_pass_at_k(ni, ci, k) for k in ks] for ni, ci in zip(n, c)])
    np.testing.assert_allclose(curve, want, atol=1e-12)


def test_pass_at_k_large_n_is_exact_and_finite():
    # C(2000, 300) has ~400 digits: the naive ratio overflows floats; the product form must not.
    exact = 1 - Fraction(comb(1993, 300), comb(2000, 300))
    assert pass_at_k(2000, 7, 300) == pytest.approx(float(exact), rel=1e-12)
    curve = pass_at_k_curve(np.array([7, 0, 1, 2000]), 2000, [1, 300, 2000])
    assert np.all(np.isfinite(curve))
    assert curve[0, 1] == pytest.approx(float(exact), rel=1e-12)
    np.testing.assert_allclose(curve[1], 0.0)
    assert curve[2, 0] == pytest.approx(1 / 2000) and curve[2, 2] == pytest.approx(1.0)
    np.testing.assert_allclose(curve[3], 1.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_properties(nck):
    n, c, k = nck
    v = pass_at_k(n, c, k)
    assert 0.0 <= v <= 1.0
    assert v == pytest.approx(float(1 - Fraction(comb(n - c, k), comb(n, k))), abs=1e-10)
    if k == 1:
        assert v == pytest.approx(c / n)
    curve = pass_at_k_curve(np.array([c]), n, np.arange(1, n + 1))[0]
    assert np.all(np.diff(curve) >= -1e-12)          # non-decreasing in k
    assert curve[k - 1] == pytest.approx(v, abs=1e-12)


@pytest.mark.parametrize("args", [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5), (4, 2.5, 1), (4, "2", 1)])
def test_pass_at_k_bad_input(args):
    with pytest.raises(ValueError):
        pass_at_k(*args)


def test_pass_at_k_curve_bad_input():
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k_curve(np.array([1, 2]), np.array([4, 3]), [4])
    with pytest.raises(ValueError):
        pass_at_k_curve(np.array([5]), 4, [1])
    with pytest.raises(ValueError):
        pass_at_k_curve(np.array([1]), 4, [0])


# ------------------------------------------------------------------ maj@k and mean@k


def test_maj_at_k_full_vote_and_tie_break():
    answers = [["1", "2", "2"], ["a", "b"], [None, None, "7"], [None, None], ["x", "y", "y", "x"]]
    correct = [[False, True, True], [False, True], [False, False, True], [False, False],
               [True, False, False, True]]
    # problem 1: tie a/b → a (seen first) → wrong; problem 4: tie x/y → x → right; all-None → wrong
    got = [maj_at_k([a], [c], k=len(a))[0] for a, c in zip(answers, correct)]
    assert got == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_maj_at_k_subsets_estimate_expected_value():
    # k = 2 of ["a","a","b","c"], gold "a": of the 6 pairs only {b, c} votes wrong (tie → b, seen first) → 5/6
    answers, correct = [["a", "a", "b", "c"]], [[True, True, False, False]]
    est = maj_at_k(answers, correct, k=2, seed=0, n_subsets=4000)[0]
    assert est == pytest.approx(5 / 6, abs=0.03)
    assert maj_at_k(answers, correct, k=2, seed=3)[0] == maj_at_k(answers, correct, k=2, seed=3)[0]


def test_maj_at_k_bad_input():
    with pytest.raises(ValueError):
        maj_at_k([["a"]], [[True], [False]], k=1)
    with pytest.raises(ValueError):
        maj_at_k([["a", "b"]], [[True]], k=1)
    with pytest.raises(ValueError):
        maj_at_k([["a"]], [[True]], k=2)


def test_mean_at_k():
    correct = np.array([[1, 0, 1, 1], [0, 0, 0, 1]], dtype=bool)
    np.testing.assert_allclose(mean_at_k(correct, 2), [0.5, 0.0])
    np.testing.assert_allclose(mean_at_k(correct, 4), [0.75, 0.25])
    with pytest.raises(ValueError):
        mean_at_k(correct, 5)
    with pytest.raises(ValueError):
        mean_at_k(np.ones(3), 1)


# ------------------------------------------------------------------ bootstrap


def test_bootstrap_basic_and_seeded():
    x = np.random.default_rng(0).random(50)
    est = bootstrap_ci(x, seed=1, what="acc")
    assert isinstance(est, Estimate) and est.n == 50 and est.what == "acc"
    assert est.value == pytest.approx(x.mean())
    assert est.lo < est.value < est.hi
    # the percentile CI of a mean is close to ±1.96 standard errors
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert est.hi - est.lo == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_ci(x, seed=1) == bootstrap_ci(x, seed=1)
    assert bootstrap_ci(x, seed=1) != bootstrap_ci(x, seed=2)
    assert "n=50" in str(est)


def test_bootstrap_2d_averages_runs_and_resamples_problems():
    x = np.random.default_rng(0).random((30, 5))
    two_d = bootstrap_ci(x, seed=4)
    assert two_d.n == 30
    assert two_d == bootstrap_ci(x.mean(axis=1), seed=4)


def test_bootstrap_stat_without_axis():
    x = np.arange(21, dtype=float)
    est = bootstrap_ci(x, stat=lambda v: float(np.percentile(v, 50)), n_boot=300, seed=0)
    assert est.value == 10.0 and est.lo <= 10.0 <= est.hi
    med = bootstrap_ci(x, stat=np.median, n_boot=300, seed=0)
    assert (med.lo, med.hi) == (est.lo, est.hi)


@pytest.mark.parametrize("bad", [np.array([]), np.array([1.0, np.nan]), np.zeros((2, 2, 2))])
def test_bootstrap_bad_input(bad):
    with pytest.raises(ValueError):
        bootstrap_ci(bad)


@pytest.mark.parametrize("confidence, lo, hi", [(0.95, 0.925, 0.975), (0.5, 0.44, 0.56)])
def test_bootstrap_coverage_bernoulli(confidence, lo, hi):
    # 600 independent benchmarks of 101 Bernoulli(0.3) problems: the CI should cover 0.3 at its nominal rate
    # (binomial s.e. of the rate ~0.009 at 95%, ~0.02 at 50%). 101, not 100, keeps 0.3 off the lattice of
    # attainable means, where CI endpoints would land exactly on the truth and inflate coverage.
    rng = np.random.default_rng(12345)
    p, reps = 0.3, 600
    covered = 0
    for r in range(reps):
        x = (rng.random(101) < p).astype(float)
        est = bootstrap_ci(x, n_boot=1000, confidence=confidence, seed=r)
        covered += est.lo <= p <= est.hi
    assert lo <= covered / reps <= hi


# ------------------------------------------------------------------ IQM and probability of improvement


def test_iqm():
    assert iqm(np.arange(100)) == pytest.approx(49.5)
    assert iqm([1, 2, 3, 4, 100, 200, 300, 400]) == pytest.approx((3 + 4 + 100 + 200) / 4)
    assert iqm(np.full((4, 3), 2.0)) == 2.0
    with pytest.raises(ValueError):
        iqm([])


def test_probability_of_improvement_brute_force_and_scipy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 37).astype(float)
    y = rng.integers(0, 5, 23).astype(float)  # many ties
    brute = np.mean([(a > b) + 0.5 * (a == b) for a in x for b in y])
    assert probability_of_improvement(x, y) == pytest.approx(brute)
    assert probability_of_improvement(x, y) == pytest.approx(mannwhitneyu(x, y).statistic / (x.size * y.size))
    assert probability_of_improvement(x, y) + probability_of_improvement(y, x) == pytest.approx(1.0)
    assert probability_of_improvement([2, 3], [0, 1]) == 1.0
    assert probability_of_improvement([1], [1]) == 0.5
    with pytest.raises(ValueError):
        probability_of_improvement([], [1])


# ------------------------------------------------------------------ hierarchical (seeds × problems) bootstrap


def _two_level(rng, n_seeds, n_problems, seed_sd, samples=16):
    """Accuracy of ``samples`` draws per (seed, problem) from logit = problem difficulty + seed offset."""
    logits = rng.normal(0.0, 1.0, n_problems)[None, :] + rng.normal(0.0, seed_sd, (n_seeds, 1))
    return rng.binomial(samples, 1.0 / (1.0 + np.exp(-logits))) / samples


@pytest.mark.parametrize("n_seeds, n_problems, seed_sd", [(3, 12, 0.0), (3, 40, 0.6), (1, 40, 0.0)])
def test_hierarchical_bootstrap_covers_the_population_mean(n_seeds, n_problems, seed_sd):
    # The truth is the mean accuracy over the population of problems *and* seeds; a CI over problems alone (seeds
    # averaged) misses it far more than 5% of the time when seeds differ (seed_sd 0.6); this one must not.
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 1.0, 400_000) + rng.normal(0.0, seed_sd, 400_000)
    truth = float(np.mean(1.0 / (1.0 + np.exp(-z))))
    reps = 300
    covered = sum(
        (e := hierarchical_bootstrap(_two_level(rng, n_seeds, n_problems, seed_sd), n_boot=300, seed=r)).lo
        <= truth <= e.hi for r in range(reps))
    assert 0.91 <= covered / reps <= 0.995


def test_hierarchical_bootstrap_basics():
    x = np.array([[1.0, 0.0, 1.0, np.nan], [0.0, 0.0, 1.0, np.nan], [1.0, 1.0, 1.0, np.nan]])
    est = hierarchical_bootstrap(x, seed=3, bounds=(0, 1), what="acc")
    assert est.n == 3 and est.n_seeds == 3 and est.what == "acc"           # the all-NaN problem is dropped
    assert est.value == pytest.approx(np.mean([2 / 3, 1 / 3, 1.0]))
    assert 0.0 <= est.lo < est.value < est.hi <= 1.0
    assert est == hierarchical_bootstrap(x, seed=3, bounds=(0, 1), what="acc")
    assert est.to_dict() == {"value": est.value, "lo": est.lo, "hi": est.hi, "n": 3, "n_seeds": 3, "what": "acc"}
    assert "3 seeds × 3" in str(est)
    # all missing: a NaN estimate with n = 0 (the verdict layer's "untestable here"), not an exception
    empty = hierarchical_bootstrap(np.full((3, 4), np.nan))
    assert np.isnan(empty.value) and empty.n == 0
    constant = hierarchical_bootstrap(np.ones((3, 5)))
    assert (constant.lo, constant.value, constant.hi) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        hierarchical_bootstrap(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        hierarchical_bootstrap(np.array([[1.0, np.inf]]))


def test_hierarchical_bootstrap_is_wider_when_seeds_disagree():
    rng = np.random.default_rng(0)
    problems = rng.random(30)
    agree = np.repeat(problems[None, :], 3, axis=0)
    disagree = agree + np.array([[-0.2], [0.0], [0.2]])
    e1, e2 = hierarchical_bootstrap(agree), hierarchical_bootstrap(disagree)
    assert e1.value == pytest.approx(e2.value)
    assert (e2.hi - e2.lo) > 2 * (e1.hi - e1.lo)


def test_hierarchical_difference_null_coverage_and_pairing():
    rng = np.random.default_rng(11)
    reps, false_pos = 300, 0
    for r in range(reps):
        base = _two_level(rng, 1, 30, 0.0)
        trained = _two_level(rng, 3, 30, 0.5)
        # same problem population and no effect on average: differences of independent draws
        est = hierarchical_difference(trained, base, n_boot=300, seed=r)
        false_pos += est.lo > 0 or est.hi < 0
    # the truth is not exactly 0 here (seed offsets move the mean), so only check the CI is not wildly narrow
    assert false_pos / reps < 0.12
    a = np.array([[0.5, 0.6, 0.7]])
    d = hierarchical_difference(a + 0.1, a)                                # perfectly paired shift
    assert d.value == pytest.approx(0.1) and d.lo == pytest.approx(0.1) and d.hi == pytest.approx(0.1)
    with pytest.raises(ValueError):
        hierarchical_difference(np.zeros((2, 3)), np.zeros((2, 4)))


def test_grouped_estimates_hierarchical_and_bounded():
    import pandas as pd

    rng = np.random.default_rng(2)
    rows = [{"step": s, "seed": k, "problem_id": p, "acc": float(rng.random() < 0.1)}
            for s in (0, 10) for k in range(3) for p in range(8)]
    frame = pd.DataFrame(rows)
    tab = grouped_estimates(frame, by="step", y="acc", bounds=(0, 1))
    assert list(tab["step"]) == [0, 10] and set(tab["n_seeds"]) == {3} and set(tab["n"]) == {8}
    assert (tab["lo"] >= 0).all() and (tab["hi"] <= 1).all()
    per_seed = frame.groupby(["step", "seed"], as_index=False)["acc"].mean()
    t = grouped_estimates(per_seed, by="step", y="acc", bounds=(0, 1))
    assert np.allclose(t["value"], tab["value"]) and set(t["n_seeds"]) == {3}
    with pytest.raises(KeyError):
        grouped_estimates(frame, by="nope", y="acc")


def test_hierarchical_contrast_and_wilson():
    from workbook.metrics import hierarchical_contrast, wilson_interval

    rng = np.random.default_rng(5)
    base, grpo, nsr = rng.random((1, 20)), rng.random((3, 20)), rng.random((3, 20))
    est = hierarchical_contrast([nsr, base, grpo], [1.0, -0.5, -0.5], n_boot=300)
    assert est.value == pytest.approx(nsr.mean() - 0.5 * base.mean() - 0.5 * grpo.mean())
    assert est.lo < est.value < est.hi and est.n == 20
    two = hierarchical_contrast([nsr, grpo], [1.0, -1.0], n_boot=300, seed=1)
    assert two == hierarchical_difference(nsr, grpo, n_boot=300, seed=1)
    with pytest.raises(ValueError):
        hierarchical_contrast([nsr], [1.0, 2.0])
    lo, hi = wilson_interval(np.array([0, 5, 10]), np.array([10, 10, 10]))
    assert lo[0] == 0.0 and 0 < hi[0] < 0.35 and lo[1] < 0.5 < hi[1] and hi[2] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)
