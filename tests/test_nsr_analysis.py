"""NSR analysis: the categorical gradient (Sec. 4 of Zhu et al. 2025), distinct-solution counting, pass@k curves."""

import numpy as np
import pandas as pd
import pytest
import torch

from workbook.methods import nsr_analysis as na
from workbook.metrics import pass_at_k


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


PROBS = [0.30, 0.25, 0.20, 0.12, 0.08, 0.05]


def test_nsr_raises_other_logits_in_proportion_to_prior():
    df = na.logit_shift(PROBS, sampled=2, reward=0.0, method="nsr", lr=0.1)
    others = df[~df["sampled"]]
    np.testing.assert_allclose(others["dlogit_over_lr_p"], 1.0, atol=1e-5)
    sampled = df[df["sampled"]].iloc[0]
    assert sampled["dlogit"] == pytest.approx(-0.1 * (1 - 0.20), abs=1e-6)
    assert sampled["p_after"] < sampled["p_before"]
    # mass moves to every other candidate, and more to those the model already preferred
    gain = (others["p_after"] - others["p_before"]).to_numpy()
    assert (gain > 0).all() and np.all(np.diff(gain) < 0)


def test_psr_pushes_others_down_in_proportion_to_prior():
    df = na.logit_shift(PROBS, sampled=0, reward=1.0, method="psr", lr=0.1)
    np.testing.assert_allclose(df.loc[~df["sampled"], "dlogit_over_lr_p"], -1.0, atol=1e-5)
    assert df.loc[df["sampled"], "p_after"].iloc[0] > PROBS[0]


def test_correct_sample_gives_nsr_no_gradient_and_wrong_sample_gives_psr_none():
    z = torch.log(torch.tensor(PROBS, dtype=torch.float64))
    same = na.categorical_step(z, torch.tensor([1]), torch.tensor([1.0]), "nsr", lr=1.0)
    torch.testing.assert_close(same, z)
    same = na.categorical_step(z, torch.tensor([1]), torch.tensor([0.0]), "psr", lr=1.0)
    torch.testing.assert_close(same, z)


def test_w_reinforce_is_lambda_weighted_psr_plus_nsr():
    z = torch.log(torch.tensor(PROBS, dtype=torch.float64))
    acts, rew = torch.tensor([0, 3, 5, 0]), torch.tensor([1.0, 0.0, 0.0, 1.0])
    dz = lambda m, **kw: na.categorical_step(z, acts, rew, m, lr=0.01, **kw) - z  # noqa: E731
    torch.testing.assert_close(dz("w_reinforce", lam=0.3), 0.3 * dz("psr") + dz("nsr"), atol=1e-6, rtol=1e-4)


def test_clip_stops_repeated_nsr_updates():
    """Once the wrong token's ratio is below 1 - 0.2, the clipped branch has no gradient: later updates change nothing."""
    z = torch.log(torch.tensor(PROBS, dtype=torch.float64))
    acts, rew = torch.tensor([0]), torch.tensor([0.0])
    z1 = na.categorical_step(z, acts, rew, "nsr", lr=5.0, updates=1)
    assert torch.softmax(z1, -1)[0] / PROBS[0] < 0.8
    torch.testing.assert_close(na.categorical_step(z, acts, rew, "nsr", lr=5.0, updates=4), z1)
    unclipped = na.categorical_step(z, acts, rew, "nsr", lr=5.0, updates=4, clip_low=10.0, clip_high=10.0)
    assert torch.softmax(unclipped, -1)[0] < torch.softmax(z1, -1)[0]


def test_categorical_training_is_seeded_and_reports_pass_at_k():
    prior = np.log([0.2, 0.1, 0.3, 0.4])
    a = na.categorical_training(prior, [True, True, False, False], "nsr", steps=5, n=4, lr=0.3, seed=3, ks=(1, 4))
    b = na.categorical_training(prior, [True, True, False, False], "nsr", steps=5, n=4, lr=0.3, seed=3, ks=(1, 4))
    pd.testing.assert_frame_equal(a, b)
    assert a["p_correct"].iloc[0] == pytest.approx(0.3)
    np.testing.assert_allclose(a["pass@4"], 1 - (1 - a["p_correct"]) ** 4)
    assert a["p_correct"].iloc[-1] > a["p_correct"].iloc[0]  # NSR removes mass from wrong answers
    with pytest.raises(ValueError):
        na.categorical_training(prior, [False] * 4, "nsr")


def test_logit_shift_rejects_bad_probs():
    with pytest.raises(ValueError):
        na.logit_shift([0.5, 0.6], 0, 0.0)


def test_count_distinct_correct():
    texts = ["1+2=3\n\\boxed{3}", "1+2=3 \\boxed{3}", "2+1=3 \\boxed{3}", "1+2=4 \\boxed{4}"]
    assert na.count_distinct_correct(texts, [True, True, True, False]) == 2  # first two differ only in spacing
    assert na.count_distinct_correct(texts, [False] * 4) == 0
    with pytest.raises(ValueError):
        na.count_distinct_correct(texts, [True])


def _final(rows):
    return pd.DataFrame(rows, columns=["label", "seed", "problem_id", "n", "n_correct"])


def test_pass_at_k_curves_average_seeds_per_problem():
    final = _final([("a", 0, "p1", 8, 2), ("a", 1, "p1", 8, 4), ("a", 0, "p2", 8, 0), ("a", 1, "p2", 8, 8),
                    ("b", 0, "p1", 8, 8), ("b", 0, "p2", 8, 8)])
    cur = na.pass_at_k_curves(final, [1, 2, 8], n_boot=200)
    a1 = cur.query("label == 'a' and k == 1").iloc[0]
    assert a1["value"] == pytest.approx(np.mean([(2 / 8 + 4 / 8) / 2, (0 + 1) / 2]))
    a2 = cur.query("label == 'a' and k == 2").iloc[0]
    expect = np.mean([(pass_at_k(8, 2, 2) + pass_at_k(8, 4, 2)) / 2, 0.5])
    assert a2["value"] == pytest.approx(expect)
    assert a1["n"] == 2 and a1["seeds"] == 2 and a1["lo"] <= a1["value"] <= a1["hi"]
    assert cur.query("label == 'b'")["value"].eq(1.0).all()


def test_pass_at_k_difference_is_paired_and_signed():
    final = _final([("x", 0, f"p{i}", 16, c) for i, c in enumerate([2, 4, 6, 8, 10])]
                   + [("base", 0, f"p{i}", 16, c) for i, c in enumerate([1, 2, 3, 4, 5])])
    d = na.pass_at_k_difference(final, "x", "base", [1], n_boot=500)
    assert d.value == pytest.approx(np.mean([1, 2, 3, 4, 5]) / 16)
    assert d.lo > 0 and d.n == 5
    assert na.pass_at_k_difference(final, "base", "x", [1], n_boot=500).value == pytest.approx(-d.value)
    with pytest.raises(ValueError, match="no final evaluation rows"):
        na.pass_at_k_difference(final, "nope", "x", [1])


def test_paper_ks():
    assert na.paper_ks(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert na.paper_ks(6) == [1, 2, 4, 6]


def test_track_config_validates():
    with pytest.raises(ValueError):
        na.TrackConfig(every=2)
    with pytest.raises(ValueError):
        na.TrackConfig(n=0)


def _smoke_model():
    from workbook.models import load_model

    return load_model("toy-reasoner-smoke")


def test_sample_stats_counts_and_is_seeded():
    from workbook.data.synthetic import generate_problems

    model, tok = _smoke_model()
    problems = generate_problems(2, 5, split="test")
    a = na.sample_stats(model, tok, problems, n=4, max_new_tokens=24, seed=1)
    b = na.sample_stats(model, tok, problems, n=4, max_new_tokens=24, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert list(a["problem_id"]) == [p.problem_id for p in problems] and (a["n"] == 4).all()
    assert ((0 <= a["n_distinct_correct"]) & (a["n_distinct_correct"] <= a["n_correct"])).all()
    assert (a["n_distinct"] <= 4).all() and (a["nll"] > 0).all()
    with pytest.raises(ValueError):
        na.sample_stats(model, tok, [], n=4)


@pytest.mark.slow
def test_run_tracked_returns_tidy_frames(tmp_path):
    from workbook.data.synthetic import generate_problems
    from workbook.rl.experiments import ExperimentConfig, RunSpec

    train = generate_problems(2, 0, split="train")
    held = generate_problems(2, 1, split="test")
    cfg = ExperimentConfig(model="toy-reasoner-smoke", steps=2, prompts_per_step=1, num_generations=2,
                           max_completion_length=16, eval_every=0)
    track = na.TrackConfig(problems=held[:1], every=1, n=2, final_problems=held, final_n=4, max_new_tokens=16)
    spec = RunSpec("nsr", "nsr", train, seed=0, method_overrides={"updates_per_rollout": 2})
    out = na.run_tracked(spec, cfg, track, run_root=tmp_path)
    assert set(out) == {"train", "track", "final", "timing"}
    assert sorted(out["track"]["step"].unique()) == [1, 2]
    assert len(out["final"]) == 2 and (out["final"]["n"] == 4).all() and (out["final"]["label"] == "nsr").all()
    assert "entropy" in out["train"] and (out["timing"]["cpu_seconds"] > 0).all()
