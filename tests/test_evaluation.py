"""Tests for workbook.evaluation: the one sample-and-grade path (tiny-random model and a scripted backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from workbook.data.synthetic import generate_problems
from workbook.evaluation import COLUMNS, correct_matrix, per_problem, sample, sample_and_grade
from workbook.generation import Completion, TransformersBackend
from workbook.grading import Grader
from workbook.models import load_model


class Scripted:
    """A backend that answers prompt i, sample j with a fixed text (records what it was asked)."""

    tokenizer = None

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def generate(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=16, seed=0):
        self.calls.append(dict(prompts=prompts, n=n, temperature=temperature, seed=seed))
        return [[Completion(f"so \\boxed{{{self.answers[i][j]}}}", [1, 2, j], [-0.5, -0.25, -1.0], "stop")
                 for j in range(n)] for i in range(len(prompts))]


PROBLEMS = [{"problem_id": "a", "problem": "1+1?", "answer": "2", "dataset": "toy"},
            {"problem_id": "b", "problem": "2+2?", "answer": "4", "dataset": "toy"}]


def test_frame_columns_verdicts_and_counts():
    backend = Scripted([["2", "3", "2"], ["5", "4", "4"]])
    df = sample_and_grade(backend, PROBLEMS, 3, grader=Grader(), prompt_fn=lambda p: p["problem"], seed=4,
                          temperature=0.7)
    assert list(df.columns) == list(COLUMNS) and len(df) == 6
    assert backend.calls == [dict(prompts=["1+1?", "2+2?"], n=3, temperature=0.7, seed=4)]
    assert df["correct"].tolist() == [True, False, True, False, True, True]
    assert df["n_tokens"].tolist() == [3] * 6 and df["logprobs"].iloc[0] == [-0.5, -0.25, -1.0]
    assert df["token_ids"].iloc[4] == [1, 2, 1]
    counts = per_problem(df)
    assert counts[["problem_id", "n", "n_correct"]].values.tolist() == [["a", 3, 2], ["b", 3, 2]]
    assert correct_matrix(df).tolist() == [[True, False, True], [False, True, True]]


def test_callable_grader_and_ragged_matrix():
    df = sample_and_grade(Scripted([["2"], ["4"]]), PROBLEMS, 1, grader=lambda text, gold: gold == "4",
                          prompt_fn=lambda p: p["problem"])
    assert df["correct"].tolist() == [False, True]
    ragged = pd.concat([df, df.iloc[[1]].assign(sample=1)])
    with pytest.raises(ValueError, match="different numbers of samples"):
        correct_matrix(ragged)


@pytest.mark.parametrize("kw, err", [
    (dict(problems=[], n=1), ValueError), (dict(problems=PROBLEMS, n=0), ValueError),
    (dict(problems="abc", n=1), TypeError), (dict(problems=[{"answer": "1"}], n=1), TypeError),
    (dict(problems=PROBLEMS, n=1, temprature=1.0), TypeError),
    (dict(problems=[PROBLEMS[0], PROBLEMS[0]], n=1), ValueError),
])
def test_bad_input_fails_before_generation(kw, err):
    backend = Scripted([["2"], ["4"]])
    with pytest.raises(err):
        sample_and_grade(backend, grader=Grader(), **kw)
    assert backend.calls == []
    with pytest.raises(TypeError, match="grader"):
        sample_and_grade(backend, PROBLEMS, 1, grader=None)


def test_seeded_on_a_real_backend():
    torch.set_num_threads(2)
    model, tok = load_model("tiny-random")
    problems = generate_problems(3, seed=0)
    kw = dict(temperature=1.0, max_new_tokens=6)
    a = sample(TransformersBackend(model, tok, batch_size=16), problems, 2, seed=1, **kw)
    b = sample(TransformersBackend(model, tok, batch_size=1), problems, 2, seed=1, **kw)
    c = sample(TransformersBackend(model, tok, batch_size=16), problems, 2, seed=2, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert a["text"].tolist() != c["text"].tolist()
    assert a["problem_id"].tolist() == [p.problem_id for p in problems for _ in range(2)]
    assert all(len(lp) == k and np.all(np.asarray(lp) <= 0) for lp, k in zip(a["logprobs"], a["n_tokens"]))
    g = sample_and_grade(TransformersBackend(model, tok), problems, 2, grader=Grader(), seed=1, temperature=0.0,
                         max_new_tokens=6)
    assert g["text"].iloc[0] == g["text"].iloc[1] and g["correct"].dtype == bool


def test_pass_at_k_table_per_dataset():
    from workbook.evaluation import pass_at_k_table

    backend = Scripted([["2", "3", "2", "9"], ["5", "5", "5", "5"]])
    problems = [PROBLEMS[0], {**PROBLEMS[1], "dataset": "other"}]
    df = sample_and_grade(backend, problems, 4, grader=Grader(), prompt_fn=lambda p: p["problem"])
    t = pass_at_k_table(df, [1, 2, 4], n_boot=50)
    toy = t[t.dataset == "toy"].set_index("k")["value"]
    assert toy[1] == pytest.approx(0.5) and toy[2] == pytest.approx(1 - 1 / 6) and toy[4] == 1.0
    assert t[t.dataset == "other"]["value"].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="exceeds"):
        pass_at_k_table(df, [8])


def test_by_problem_keeps_order_and_fields():
    from workbook.evaluation import by_problem

    df = sample_and_grade(Scripted([["2", "3"], ["4", "5"]]), PROBLEMS, 2, grader=Grader(),
                          prompt_fn=lambda p: p["problem"])
    assert by_problem(df, "correct") == [[True, False], [True, False]]
    rows = by_problem(df)
    assert rows[1][0].text.endswith("{4}") and rows[1][0].logprobs == [-0.5, -0.25, -1.0]
