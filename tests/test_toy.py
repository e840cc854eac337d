"""Tests for the toy reasoner (workbook.toy): tokenizer, world, recipe cache, smoke training, evaluation helpers."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter

import numpy as np
import pytest

from workbook.data.synthetic import ArithmeticSpec, generate_problems, parse_expression, random_solution_steps
from workbook.toy import (
    FULL_RECIPE,
    SMOKE_RECIPE,
    ToyRecipe,
    checkpoint_hash,
    parse_first_wrong_step,
    parse_verdict,
    recipe_dir,
    solve_prompt,
)
from workbook.toy.card import model_card
from workbook.toy.evaluate import (
    confusion_matrix,
    evaluate_base,
    exact_grade,
    oracle_report,
    transition_matrix,
)
from workbook.toy.tokenizer import CHARACTERS, load_tokenizer
from workbook.toy.train import CharEncoder, is_trained, make_tokenizer, train_model
from workbook.toy.world import TASKS, WorldNoise, sample_example, verify_report, wrong_value

# A recipe small enough to train twice in a test (a few seconds on one thread).
MICRO = dataclasses.replace(SMOKE_RECIPE, name="toy-micro", steps=4, batch_size=4, log_every=2, snapshots=(2,))


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok")
    make_tokenizer().save_pretrained(path)
    return load_tokenizer(path)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --------------------------------------------------------------------------------------------- tokenizer


def test_tokenizer_round_trip_every_character(tokenizer):
    text = CHARACTERS
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)  # one token per character
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text
    rng = random.Random(0)
    for _ in range(50):
        for task in TASKS:
            ex = sample_example(task, ArithmeticSpec(), WorldNoise(), rng, FULL_RECIPE.knobs)
            for s in (ex.message, ex.completion):
                ids = tokenizer(s, add_special_tokens=False)["input_ids"]
                assert tokenizer.decode(ids) == s and tokenizer.unk_token_id not in ids
                if task == "solve":  # phrase tokens: a step "12 + 7 = 19" is 7 tokens, not 11 characters
                    assert len(ids) < 0.8 * len(s)


def test_chat_template_matches_generation_build_prompt(tokenizer):
    generation = pytest.importorskip("workbook.generation")
    problem = generate_problems(1, seed=0)[0].problem
    prompt = solve_prompt(tokenizer, problem)
    assert prompt == generation.build_prompt(tokenizer, problem)
    assert prompt.startswith("<|user|>") and prompt.endswith("<|assistant|>")
    assert tokenizer.eos_token == "<|end|>" and tokenizer.pad_token == "<pad>"


def test_char_encoder_equals_tokenizer(tokenizer):
    enc = CharEncoder(tokenizer)
    ex = sample_example("refine", ArithmeticSpec(), WorldNoise(), random.Random(1))
    ids, n_prompt = enc.example(ex.message, ex.completion)
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": ex.message}, {"role": "assistant", "content": ex.completion}], tokenize=False)
    assert ids == tokenizer(chat.rstrip("\n"), add_special_tokens=False)["input_ids"]
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": ex.message}], tokenize=False,
                                           add_generation_prompt=True)
    assert ids[:n_prompt] == tokenizer(prompt, add_special_tokens=False)["input_ids"]


# --------------------------------------------------------------------------------------------- world


def test_noise_free_world_is_exact():
    rng = random.Random(0)
    clean = WorldNoise(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for _ in range(200):
        for task in TASKS:
            assert sample_example(task, ArithmeticSpec(), clean, rng).correct


def test_solve_noise_rate_grows_with_difficulty():
    rng = random.Random(0)
    noise = WorldNoise()
    acc = Counter(), Counter()
    for _ in range(3000):
        ex = sample_example("solve", ArithmeticSpec(), noise, rng)
        acc[0][ex.n_operands] += ex.correct
        acc[1][ex.n_operands] += 1
    rate = {k: acc[0][k] / acc[1][k] for k in acc[1]}
    # per-step error p(k) = 0.08 + 0.06 (k - 2): P(all k-1 steps right) = (1 - p)^(k-1), minus rare lucky repairs
    for k in (2, 3, 4):
        expected = (1 - noise.step_error(k)) ** (k - 1)
        assert abs(rate[k] - expected) < 0.05, (k, rate[k], expected)
    assert rate[2] > rate[3] > rate[4]


def test_exact_verify_report_names_first_wrong_step():
    tree = parse_expression("12 + 7 * (3 - 1)")
    steps = random_solution_steps(tree, random.Random(0), corrupt=lambda i, a, op, b, r: r + 10 if i == 1 else r)
    report, flagged, value = verify_report(steps, None, random.Random(0))
    assert flagged == 1 and parse_first_wrong_step(report) == 2 and parse_verdict(report) == "incorrect"
    assert value == steps[1].result - 10
    clean = random_solution_steps(tree, random.Random(0))
    report, flagged, _ = verify_report(clean, None, random.Random(0))
    assert flagged is None and parse_verdict(report) == "correct" and parse_first_wrong_step(report) is None


def test_wrong_value_is_wrong_and_plausible():
    rng = random.Random(0)
    for _ in range(500):
        a, b = rng.randint(0, 9), rng.randint(0, 11)
        v = wrong_value(a, "*", b, a * b, rng)
        assert v != a * b and v >= 0


def test_parse_verdict_never_raises():
    assert parse_verdict("blah \\boxed{correct} then \\boxed{ incorrect }") == "incorrect"
    assert parse_verdict("") is None and parse_verdict(None) is None  # type: ignore[arg-type]
    assert parse_verdict("\\boxed{42}") is None


# --------------------------------------------------------------------------------------------- recipe and cache


def test_recipe_hash_changes_with_recipe_not_with_threads():
    base = FULL_RECIPE.hash()
    assert dataclasses.replace(FULL_RECIPE, seed=1).hash() != base
    assert dataclasses.replace(FULL_RECIPE, noise=WorldNoise(verify_miss=0.2)).hash() != base
    assert dataclasses.replace(FULL_RECIPE, steps=FULL_RECIPE.steps + 1).hash() != base
    assert dataclasses.replace(FULL_RECIPE, num_threads=8, log_every=1).hash() == base
    assert SMOKE_RECIPE.hash() != base


def test_recipe_change_is_a_cache_miss(cache):
    from workbook.toy.train import ensure_trained

    path = ensure_trained(MICRO, progress=False)
    assert is_trained(MICRO) and path == recipe_dir(MICRO) and (path / "model_card.md").exists()
    changed = dataclasses.replace(MICRO, lr=MICRO.lr / 2)
    assert not is_trained(changed) and recipe_dir(changed) != path
    assert ensure_trained(MICRO, progress=False) == path  # a hit trains nothing


def test_bad_recipe():
    with pytest.raises(ValueError):
        ToyRecipe(mixture=(("dance", 1.0),))
    with pytest.raises(ValueError):
        ToyRecipe(steps=0)


def test_same_seed_same_checkpoint(tmp_path):
    train_model(MICRO, tmp_path / "a", progress=False)
    train_model(MICRO, tmp_path / "b", progress=False)
    train_model(dataclasses.replace(MICRO, seed=1), tmp_path / "c", progress=False)
    assert checkpoint_hash(tmp_path / "a") == checkpoint_hash(tmp_path / "b")
    assert checkpoint_hash(tmp_path / "a") != checkpoint_hash(tmp_path / "c")


@pytest.mark.slow
def test_smoke_model_loads_through_models_trains_and_beats_chance(cache):
    import torch

    from workbook.models import load_model
    from workbook.toy.train import make_batch, read_train_log

    model, tok = load_model("toy-reasoner-smoke")  # trains the smoke recipe (seconds) into the temp cache
    log = read_train_log(recipe_dir(SMOKE_RECIPE))
    assert log["n_params"] == sum(p.numel() for p in model.parameters())
    # held-out solve completions: the model's loss is far below a unigram (character-frequency) baseline
    rng = random.Random(123)
    examples = [sample_example("solve", SMOKE_RECIPE.spec, SMOKE_RECIPE.noise, rng) for _ in range(64)]
    input_ids, mask, labels = make_batch(examples, CharEncoder(tok))
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask).logits
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                            ignore_index=-100).item()
    targets = labels[:, 1:][labels[:, 1:] != -100].tolist()
    freq = np.array(list(Counter(targets).values()), dtype=float) / len(targets)
    unigram = float(-(freq * np.log(freq)).sum())
    assert nll < 0.6 * unigram < 0.6 * math.log(len(tok))
    # greedy generation through the workbook's backend gives a gradable \boxed{} answer
    from workbook.generation import TransformersBackend
    from workbook.grading import extract_boxed, grade

    problems = generate_problems(4, seed=0, spec=SMOKE_RECIPE.spec)
    out = TransformersBackend(model, tok).generate([solve_prompt(tok, p.problem) for p in problems], n=1,
                                                   temperature=0, max_new_tokens=64)
    for p, row in zip(problems, out):
        assert row[0].finish_reason == "stop"
        assert extract_boxed(row[0].text) is not None
        assert grade(row[0].text, p.answer) in (True, False)


# --------------------------------------------------------------------------------------------- evaluation


def test_confusion_and_transitions():
    m = confusion_matrix(np.array([True, True, False, False, False]), ["correct", "incorrect", "incorrect", None,
                                                                       "correct"])
    assert m.tolist() == [[1, 1, 0], [1, 1, 1]]
    t = transition_matrix(np.array([True, True, False, False]), np.array([True, False, True, False]))
    assert t == {"p_IC": 0.5, "p_CI": 0.5, "n_C": 2, "n_I": 2}


class _OracleBackend:
    """Answers solve prompts with the reference solution on even problems and a wrong one on odd problems."""

    def __init__(self, problems):
        self.by_text = {p.problem: (i, p) for i, p in enumerate(problems)}

    def generate(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=96, seed=0):
        from workbook.generation import Completion as _Completion

        out = []
        for prompt in prompts:
            if "Report:" in prompt:  # refine: perfect fixer that always answers the gold solution
                problem = prompt.split("Problem: ")[1].split("\n")[0]
                text = self.by_text[problem][1].metadata["solution"]
            elif "Check each step" in prompt:
                text = oracle_report(prompt.split("Solution:\n")[1].split("\nCheck")[0])
            else:
                problem = prompt.split("<|user|>")[1].split(" Please")[0]
                i, p = self.by_text[problem]
                text = p.metadata["solution"] if i % 2 == 0 else p.metadata["solution"].replace(
                    f"{{{p.answer}}}", f"{{{int(p.answer) + 1}}}")
            out.append([_Completion(text, [1, 2], [-0.5, -0.5], "stop") for _ in range(n)])
        return out


def test_evaluate_base_with_a_scripted_backend(tokenizer):
    problems = generate_problems(6, seed=0)
    result = evaluate_base(_OracleBackend(problems), tokenizer, problems, n=8, n_verify=2)
    m = result["metrics"]
    assert m["pass@1"] == pytest.approx(0.5) and m["pass@8"] == pytest.approx(0.5)
    assert result["correct"].shape == (6, 8)
    assert m["refine_p_IC"] == 1.0 and m["refine_p_CI"] == 0.0
    # the oracle checker passes the odd problems' solutions: their steps are right, only the boxed answer is not
    assert m["verify_tpr"] == 1.0
    assert exact_grade("x \\boxed{12}", "12") and not exact_grade("no box", "12")


def test_model_card_lists_targets():
    log = {"step": [10, 20], "lr": [1e-3, 1e-4], "loss_solve": [2.0, 1.0], "loss_verify": [None, 0.5],
           "loss_refine": [1.5, None], "n_params": 1234, "wall_s": 3.0, "steps_per_s": 6.0, "tokens": 99}
    text = model_card(FULL_RECIPE, log, {"pass@1": 0.4}, {"pass@1": ("0.400", True)})
    for needle in ("Data mixture", "Noise rates", "1,234 parameters", "Training curve", "pass@64", "| pass@1 |"):
        assert needle in text


def test_verify_diagnostic_reads_a_verifier_that_ignores_its_recomputation(tokenizer):
    """A scripted verifier that copies every step, recomputes it right and always says ok: on wrong candidates it
    says ok although its value differs from the claim, so the diagnostic must show TNR 0 and that per-line share 1."""
    from workbook.data.synthetic import apply_op
    from workbook.generation import Completion
    from workbook.toy.evaluate import parse_solution_steps
    from workbook.toy.knobs import verify_diagnostic

    class AlwaysOk:
        def __init__(self, tok):
            self.tokenizer = tok

        def generate(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=96, seed=0):
            def text(p):
                if "Check each step" not in p:
                    return "1 + 1 = 2\n\\boxed{2}"
                steps = parse_solution_steps(p.split("Check each step")[0].replace("\\n", "\n"))
                lines = [f"Step {k}: {s.left} {s.op} {s.right} = {apply_op(s.left, s.op, s.right)}, claimed {s.result} ok"
                         for k, s in enumerate(steps, 1)]
                return "\n".join(lines + ["All steps are correct.", "\\boxed{correct}"])
            return [[Completion(text(p), [1], [-0.1], "stop") for _ in range(n)] for p in prompts]

    df = verify_diagnostic(AlwaysOk(tokenizer), n_pairs=60, n_boot=50).set_index(["source", "quantity"])
    world = df.loc["world candidates"]
    assert 0.2 < world.loc["share of candidates truly correct", "value"] < 0.9
    assert world.loc["true-positive rate (says correct | correct)", "value"] == 1.0
    assert world.loc["true-negative rate (says incorrect | incorrect)", "value"] == 0.0
    assert world.loc["balanced accuracy (TPR + TNR) / 2", "value"] == 0.5
    assert world.loc["per report line: recomputed value right", "value"] == 1.0
    assert world.loc["per report line: says ok although its value ≠ the claim", "value"] == 1.0
    assert world.loc["per report line: says wrong although its value = the claim", "value"] == 0.0
    assert world.loc["per report line with a wrong claim: the value copies the claim", "value"] == 0.0
    assert world.loc["per report line with a right claim: the value is right", "value"] == 1.0
    assert set(df.index.get_level_values("source")) == {"world candidates", "own solutions"}


def test_has_wrong_step_reads_each_step_not_the_answer():
    """The NSR notebook counts correct answers reached through a wrong step (coincidences of errors) with it."""
    from workbook.toy.evaluate import has_wrong_step

    assert not has_wrong_step("6 * 1 = 6\n6 + 1 = 7\n4 * 7 = 28\n28 - 7 = 21\n\\boxed{21}")
    assert has_wrong_step("73 - 5 = 68\n17 + 2 = 29\n25 * 2 = 42\n4 + 42 = 46\n43 - 56 = 7\n\\boxed{7}")
    assert has_wrong_step("6 * 1 = 6\n6 + 1 = 6\n4 * 6 = 28\n28 - 7 = 21\n\\boxed{21}")  # right answer, wrong step
    assert not has_wrong_step("\\boxed{21}") and not has_wrong_step("")  # no steps: nothing wrong to find
    assert has_wrong_step("6 / 0 = 1\n\\boxed{1}")  # an undefined step is never right
