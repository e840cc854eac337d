"""Counterfactual updates (`workbook.rl.counterfactual`): the copy after the run's own method is the update the run
then makes; another method's copy differs only through its loss; nothing of the run is touched; misuse fails."""

import json

import pytest
import torch
from transformers import TrainerCallback

from tests.test_rl_trainer import PROBLEMS, ExactGrader, parity_reward, small_cfg, tiny_policy
from workbook.rl.counterfactual import UpdateProbe, counterfactual_update
from workbook.rl.methods import get_method
from workbook.rl.probes import Probe, ProbeContext
from workbook.rl.trainer import build_trainer, train

LP = {"rho": 1.0, "kappa": 0.6}  # as small_cfg's lp_reg: settings under which the regulariser selects tokens


class Replay(TrainerCallback):
    """Before each optimizer step, records the counterfactual copies; after it, the run's own parameters."""

    def __init__(self, methods):
        self.methods, self.trainer, self.copies, self.after = methods, None, [], []

    def bind_trainer(self, trainer):
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kw):
        opt = self.trainer.optimizer.optimizer
        moments = [t.clone() for s in opt.state.values() for t in s.values() if torch.is_tensor(t)]
        params = [p.detach().clone() for p in self.trainer.model.parameters()]
        grads = [p.grad.clone() for p in self.trainer.model.parameters()]
        copies = {}
        for m in self.methods:
            shadow = counterfactual_update(self.trainer, m)
            copies[m.name] = {k: v.detach().clone() for k, v in shadow.named_parameters()}
            # an ordinary forward (a probe's) runs on the copy's weights, not on the run's model
            fresh = type(shadow)(shadow.config)
            fresh.load_state_dict(shadow.state_dict())
            ids = torch.tensor([[1, 2, 3, 4]])
            with torch.no_grad():  # no dropout in the tiny config: train and eval mode compute the same
                assert torch.equal(shadow(input_ids=ids).logits, fresh(input_ids=ids).logits)
        self.copies.append(copies)
        # the run's parameters, gradients and optimizer state are what they were
        assert all(torch.equal(a, p) for a, p in zip(params, self.trainer.model.parameters()))
        assert all(torch.equal(a, p.grad) for a, p in zip(grads, self.trainer.model.parameters()))
        now = [t for s in opt.state.values() for t in s.values() if torch.is_tensor(t)]
        assert all(torch.equal(a, b) for a, b in zip(moments, now))

    def on_optimizer_step(self, args, state, control, **kw):
        self.after.append({k: v.detach().clone() for k, v in self.trainer.model.named_parameters()})


def _run(tmp_path, method, methods, **kw):
    model, tok = tiny_policy()
    cb = Replay(methods)
    tr = build_trainer(method, model, tok, PROBLEMS, tmp_path, small_cfg(method, max_steps=3, **kw),
                       reward_fn=parity_reward, grader=ExactGrader(), callbacks=[cb])  # fmt: skip
    train(tr, resume=False)
    return cb


@pytest.mark.parametrize("method", ["grpo", "lp_reg"])
def test_own_method_copy_is_the_update_the_run_makes(method, tmp_path):
    own = get_method(method).with_overrides(**(LP if method == "lp_reg" else {}))
    cb = _run(tmp_path, method, [own])
    assert len(cb.copies) == len(cb.after) == 3
    for copies, after in zip(cb.copies, cb.after):
        for k, v in after.items():
            assert torch.equal(copies[own.name][k], v)  # bit for bit: the same arithmetic in the same order


def test_other_method_differs_only_through_its_loss(tmp_path):
    grpo, lp = get_method("grpo"), get_method("lp_reg").with_overrides(**LP)
    cb = _run(tmp_path, "grpo", [grpo, lp])
    moved = [any(not torch.equal(c["grpo"][k], c["lp_reg"][k]) for k in c["grpo"]) for c in cb.copies]
    assert any(moved)  # the regulariser selected tokens in some batch and changed the update
    # with rho = 0 Lp-Reg selects nothing: on-policy its loss is GRPO's, so the copies coincide
    cb0 = _run(tmp_path / "zero", "grpo", [grpo, get_method("lp_reg").with_overrides(rho=0.0, kappa=0.6)])
    for c in cb0.copies:
        for k in c["grpo"]:
            assert torch.equal(c["grpo"][k], c["lp_reg"][k])


def test_misuse_fails_clearly(tmp_path):
    model, tok = tiny_policy()
    tr = build_trainer("grpo", model, tok, PROBLEMS, tmp_path, small_cfg("grpo"), reward_fn=parity_reward,
                       grader=ExactGrader())  # fmt: skip
    with pytest.raises(RuntimeError, match="no rollout batch"):
        counterfactual_update(tr, get_method("grpo"))
    tr.last_update_inputs = {}
    with pytest.raises(ValueError, match="advantages"):
        counterfactual_update(tr, get_method("psr"))
    with pytest.raises(ValueError, match="inner probe"):
        UpdateProbe(PROBLEMS, every=1, updates=("grpo",))


class Norm(Probe):
    """Inner probe: the policy's parameter norm (deterministic, so the rows can be checked)."""

    def measure(self, model, ctx, step):
        return [{"norm": float(sum(p.detach().pow(2).sum() for p in model.parameters()))}]


def test_update_probe_writes_rows_and_leaves_the_run_unchanged(tmp_path):
    import dataclasses

    Norm_ = dataclasses.dataclass(frozen=True)(Norm)
    probe = UpdateProbe(PROBLEMS, every=1, inner=Norm_(PROBLEMS, name="norm"), updates=("grpo", "lp_reg"),
                        overrides={"lp_reg": LP})  # fmt: skip
    logs = []
    for d, probes in (("with", [probe]), ("without", [])):
        model, tok = tiny_policy()
        ctx = ProbeContext(tmp_path / d, tok, ExactGrader(), "", 0)
        tr = build_trainer("grpo", model, tok, PROBLEMS, tmp_path / d, small_cfg("grpo", max_steps=4),
                           reward_fn=parity_reward, grader=ExactGrader(),
                           callbacks=[p.callback(ctx) for p in probes])  # fmt: skip
        train(tr, resume=False)
        logs.append([{k: v for k, v in json.loads(x).items() if "time" not in k and "runtime" not in k
                      and "per_second" not in k}
                     for x in (tmp_path / d / "train_log.jsonl").read_text().splitlines()])  # fmt: skip
    assert logs[0] == logs[1]  # the probe did not change the run
    rows = probe.collect(tmp_path / "with")["update"]
    assert sorted(set(rows["step"])) == [0, 1, 2, 3]
    assert sorted(set(rows["update"])) == ["grpo", "lp_reg", "none"]
    norm = rows.pivot_table(index="step", columns="update", values="norm")
    # the run's own update (measured on the policy after its step) is the next step's starting policy
    assert norm["grpo"].iloc[:-1].tolist() == norm["none"].iloc[1:].tolist()
    assert (norm["lp_reg"] != norm["grpo"]).any() and (norm["grpo"] != norm["none"]).all()
