"""The TRL adapter: every registered method trains two steps, logs its metrics, resumes after a kill, evaluates.

A random model never earns a correctness reward, so the update-path tests use a parity reward with spread
(first completion token id even -> 1). The model is a tiny Qwen2 config on the toy reasoner's character tokenizer
(102 tokens), which keeps the file well under the 90 s budget; one test runs the `tiny-random` preset.
"""

import json

import pytest
import torch

from workbook.rl.methods import METHODS
from workbook.rl.trainer import RLConfig, build_trainer, train

torch.set_num_threads(2)

REQUIRED = ("grpo", "grpo_entropy", "one_shot_rlvr", "entropy_only", "psr", "nsr", "w_reinforce", "lp_reg")
PROBLEMS = [{"problem": f"{i}+{i}=", "answer": str(2 * i), "problem_id": f"p{i}"} for i in range(4)]


class ExactGrader:
    """Stand-in grader (exact string match) so these tests do not depend on the grading module's progress."""

    name = "exact"

    def grade_many(self, completions, golds):
        return [c.strip() == g for c, g in zip(completions, golds)]


def parity_reward(completions, answers, completion_ids):
    return [float(len(ids) > 0 and ids[0] % 2 == 0) for ids in completion_ids]


def tiny_policy(seed: int = 0):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    try:
        from workbook.toy.tokenizer import build_tokenizer

        tok = build_tokenizer()
    except ImportError:  # no toy tokenizer: the tiny-random preset's
        from workbook.models import load_model

        _, tok = load_model("tiny-random")
    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
    )  # fmt: skip
    return Qwen2ForCausalLM(cfg), tok


def small_cfg(method: str, **kw) -> RLConfig:
    base = dict(max_steps=2, prompts_per_step=2, num_generations=4, max_completion_length=8, learning_rate=1e-2,
                instruction="", seed=0)  # fmt: skip
    if method == "lp_reg":  # rho = 1% of ~60 negative tokens selects nothing (k <= 1), and a near-uniform random policy keeps every token under kappa = 0.02 (proxy == policy); these settings exercise the term
        base["method_overrides"] = {"rho": 1.0, "kappa": 0.6}
    base.update(kw)
    return RLConfig(**base)


def read_log(run_dir):
    return [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]


def test_registry_covers_required_methods():
    assert set(REQUIRED) <= set(METHODS)


@pytest.mark.parametrize("method", REQUIRED)
def test_two_steps_change_weights_and_log_metrics(method, tmp_path):
    model, tok = tiny_policy()
    before = {k: v.detach().cpu().clone() for k, v in model.named_parameters()}
    tr = build_trainer(method, model, tok, PROBLEMS, tmp_path, small_cfg(method), reward_fn=parity_reward,
                       grader=ExactGrader())  # fmt: skip
    train(tr, resume=False)
    assert tr.state.global_step == 2
    assert any(not torch.equal(before[k], v.detach().cpu()) for k, v in model.named_parameters())
    logs = [r for r in read_log(tmp_path) if "loss" in r]
    assert [r["step"] for r in logs] == [1, 2]
    first = logs[0]  # generation happens at step 1 for every method
    for key in ("reward", "accuracy", "entropy", "clip_ratio/low_mean", "clip_ratio/high_mean", "policy_loss"):
        assert key in first, key
    assert 0.0 <= first["reward"] <= 1.0 and first["entropy"] > 0
    if METHODS[method].kl_coef:
        assert "kl" in first and first["kl"] >= 0
    if method == "lp_reg":
        assert "lp_reg/n_regularized" in first and "lp_reg/low_prob_mass" in first
        assert first["lp_reg/n_regularized"] >= 1  # kept negative tokens with logp < proxy
    if method == "entropy_only":
        assert first["advantage_abs_mean"] == 0.0
    cfg = json.loads((tmp_path / "rl_config.json").read_text())
    assert cfg["method"]["name"] == method


def test_tiny_random_preset_trains(tmp_path):
    from workbook.models import load_model

    model, tok = load_model("tiny-random")
    before = model.get_input_embeddings().weight.detach().cpu().clone()
    cfg = small_cfg("grpo", max_steps=1, num_generations=2, max_completion_length=4)
    tr = build_trainer("grpo", model, tok, PROBLEMS[:2], tmp_path, cfg, reward_fn=parity_reward, grader=ExactGrader())
    train(tr, resume=False)
    assert not torch.equal(before, model.get_input_embeddings().weight.detach().cpu())


class _StopAt:
    """Interrupts training after optimizer step `step` (as a crash would, without saving)."""

    def __init__(self, step):
        from transformers import TrainerCallback

        class CB(TrainerCallback):
            def on_step_end(self_, args, state, control, **kw):
                if state.global_step == step:
                    raise KeyboardInterrupt

        self.cb = CB()


def test_resume_after_interruption_continues_from_last_checkpoint(tmp_path):
    run = tmp_path / "interrupted"
    model, tok = tiny_policy()
    cfg = small_cfg("grpo", max_steps=4, save_steps=2)
    tr = build_trainer("grpo", model, tok, PROBLEMS, run, cfg, reward_fn=parity_reward, grader=ExactGrader(),
                       callbacks=[_StopAt(3).cb])  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        train(tr, resume=True)
    assert (run / "checkpoints" / "checkpoint-2").is_dir() and not (run / "checkpoints" / "checkpoint-4").exists()

    model2, tok2 = tiny_policy(seed=123)  # a fresh process would start from different weights
    tr2 = build_trainer("grpo", model2, tok2, PROBLEMS, run, cfg, reward_fn=parity_reward, grader=ExactGrader())
    train(tr2, resume=True)
    assert tr2.state.global_step == 4
    steps = [r["step"] for r in read_log(run) if "loss" in r]
    # the crash came before step 3 was logged; the resumed run starts at step 3 (a fresh start would log 1, 2 again)
    assert steps == [1, 2, 3, 4]

    # the resumed run continues the checkpointed weights (not its own seed-123 init) and lands next to an
    # uninterrupted run with the same seed; bit-equality is not expected (TRL re-draws the epoch's prompt order)
    ref_model, ref_tok = tiny_policy()
    ref = build_trainer("grpo", ref_model, ref_tok, PROBLEMS, tmp_path / "straight", cfg, reward_fn=parity_reward,
                        grader=ExactGrader())  # fmt: skip
    train(ref, resume=False)
    fresh, _ = tiny_policy(seed=123)

    def dist(a, b):
        return sum((x.detach().cpu() - y.detach().cpu()).pow(2).sum() for x, y in zip(a.parameters(), b.parameters())).sqrt().item()

    # (measured: 0.23 with TRL's sampler, 0.66 with the static-cache one, vs 5.4 from the seed-123 init: how far
    # two runs drift after a re-drawn prompt order depends on the random draws, so the bound is a quarter)
    assert dist(model2, ref_model) < 0.25 * dist(fresh, ref_model)


def test_eval_probe_writes_curve(tmp_path):
    model, tok = tiny_policy()
    cfg = small_cfg("grpo", eval_steps=1, eval_n=2, eval_max_new_tokens=4)
    tr = build_trainer("grpo", model, tok, PROBLEMS, tmp_path, cfg, reward_fn=parity_reward, grader=ExactGrader(),
                       eval_problems=[{"problem": "1+1=", "answer": ""}, {"problem": "2+2=", "answer": "4"}])
    train(tr, resume=False)
    curve = [json.loads(x) for x in (tmp_path / "probe_eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve] == [0, 0, 1, 1, 2, 2]  # one row per (step, problem)
    for r in curve:
        assert r["n"] == 2 and 0 <= r["n_correct"] <= 2 and r["accuracy"] == r["n_correct"] / 2
    # evaluation samples under its own seed: the training trajectory equals that of a run without evaluation
    model2, tok2 = tiny_policy()
    tr2 = build_trainer("grpo", model2, tok2, PROBLEMS, tmp_path / "no_eval", small_cfg("grpo"),
                        reward_fn=parity_reward, grader=ExactGrader())  # fmt: skip
    train(tr2, resume=False)
    with_eval = [(r["reward"], r["loss"]) for r in read_log(tmp_path) if "loss" in r]
    without = [(r["reward"], r["loss"]) for r in read_log(tmp_path / "no_eval") if "loss" in r]
    assert with_eval == without


def test_bad_config_fails_before_training(tmp_path):
    with pytest.raises(ValueError, match="generation_backend"):
        RLConfig(generation_backend="sglang")
    model, tok = tiny_policy()
    with pytest.raises(ValueError, match="micro_batch_size"):
        build_trainer("grpo", model, tok, PROBLEMS, tmp_path, small_cfg("grpo", micro_batch_size=3),
                      reward_fn=parity_reward, grader=ExactGrader())  # fmt: skip
    with pytest.raises(ValueError, match="unknown RL method"):
        build_trainer("nope", model, tok, PROBLEMS, tmp_path, small_cfg("grpo"), grader=ExactGrader())
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="vLLM"):
            build_trainer("grpo", model, tok, PROBLEMS, tmp_path, small_cfg("grpo", generation_backend="vllm"),
                          grader=ExactGrader())  # fmt: skip


def test_default_reward_uses_workbook_grader(tmp_path):
    from workbook.grading import Grader
    from workbook.rl.trainer import correctness_reward

    reward = correctness_reward(Grader())
    assert reward(["so \\boxed{4}", "\\boxed{5}", "no box"], ["4", "4", "4"], [[1], [2], [3]]) == [1.0, 0.0, 0.0]


def test_same_seed_same_metrics(tmp_path):
    logs = []
    for i in range(2):
        model, tok = tiny_policy()
        tr = build_trainer("nsr", model, tok, PROBLEMS, tmp_path / str(i), small_cfg("nsr"), reward_fn=parity_reward,
                           grader=ExactGrader())  # fmt: skip
        train(tr, resume=False)
        logs.append([{k: v for k, v in r.items() if k not in ("step_time", "train_runtime") and "per_second" not in k}
                     for r in read_log(tmp_path / str(i))])  # fmt: skip
    assert logs[0] == logs[1]


def test_launch_cli_validates_before_loading():
    from workbook.rl.launch import parse_args

    a = parse_args(["--method", "lp_reg", "--model", "tiny-random", "--train", "synthetic", "--run-dir", "x",
                    "--set", "rho=0.005"])  # fmt: skip
    assert a.method == "lp_reg" and a.set == ["rho=0.005"]
    with pytest.raises(SystemExit):
        parse_args(["--method", "ppo_magic", "--model", "m", "--train", "t", "--run-dir", "x"])
    with pytest.raises(SystemExit):
        parse_args(["--method", "grpo", "--model", "m", "--train", "t", "--run-dir", "x", "--set", "novalue"])


def _padded_batch(tok, seed: int = 0):
    """Left-padded prompts of 3-9 tokens and right-padded completions of 1-12 tokens, as TRL builds them."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(12):
        p = torch.randint(3, len(tok), (int(torch.randint(3, 10, (1,), generator=g)),), generator=g)
        c = torch.randint(3, len(tok), (int(torch.randint(1, 13, (1,), generator=g)),), generator=g)
        rows.append((p, c))
    wp, wc = max(len(p) for p, _ in rows), max(len(c) for _, c in rows)
    ids = torch.zeros(len(rows), wp + wc, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, (p, c) in enumerate(rows):
        ids[i, wp - len(p):wp], mask[i, wp - len(p):wp] = p, 1
        ids[i, wp:wp + len(c)], mask[i, wp:wp + len(c)] = c, 1
    return ids, mask, wc


def test_fast_cpu_scoring_equals_trl_scoring(tmp_path, monkeypatch):
    """The length-sorted, column-trimmed scorer returns TRL's per-token log-probs, entropies and gradients."""
    import workbook.rl.fast_cpu as fc

    monkeypatch.setattr(fc, "SCORE_CHUNK_ROWS", 5)  # several chunks with different widths
    model, tok = tiny_policy()
    tr = build_trainer("grpo", model, tok, PROBLEMS, tmp_path, small_cfg("grpo"), reward_fn=parity_reward,
                       grader=ExactGrader())
    assert tr.fast_cpu
    ids, mask, width = _padded_batch(tok)
    comp_mask = mask[:, -width:].float()
    out = {}
    for fast in (True, False):
        tr.fast_cpu = fast
        model.zero_grad()
        logp, ent, _ = tr._get_per_token_logps_and_entropies(model, ids, mask, width, compute_entropy=True)
        ((logp * comp_mask).sum() + 0.1 * (ent * comp_mask).sum()).backward()
        out[fast] = (logp.detach(), ent.detach(), torch.cat([p.grad.flatten() for p in model.parameters()]))
    for a, b in zip(out[True], out[False]):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_fast_sampler_draws_from_the_model_distribution():
    """First tokens follow softmax(logits / T); completions stop at their first EOS; same seed, same samples."""
    from workbook.generation.static_decode import sample_token_ids

    model, tok = tiny_policy()
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)  # a peaked distribution, so a wrong temperature would show
    prompt = [3, 7, 11, 19]
    temperature, n = 0.7, 20000
    with torch.no_grad():
        p = torch.softmax(model(input_ids=torch.tensor([prompt])).logits[0, -1] / temperature, -1)
    torch.manual_seed(0)
    first = sample_token_ids(model, [prompt] * n, 1, [tok.eos_token_id], tok.pad_token_id, temperature=temperature)
    freq = torch.bincount(torch.tensor([c[0] for c in first]), minlength=len(p)).float() / n
    # total variation: sampling noise at n = 20,000 is about 0.02; temperature 1 instead of 0.7 would give 0.19
    assert 0.5 * (freq - p).abs().sum() < 0.07
    torch.manual_seed(1)
    out = sample_token_ids(model, [prompt, [5, 9]] * 200, 6, [tok.eos_token_id], tok.pad_token_id, temperature=1.0)
    assert all(1 <= len(c) <= 6 and tok.eos_token_id not in c[:-1] for c in out)
    torch.manual_seed(1)
    assert sample_token_ids(model, [prompt, [5, 9]] * 200, 6, [tok.eos_token_id], tok.pad_token_id) == out
