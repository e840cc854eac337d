"""Tests for workbook.models: presets, tiny-random, local hub path, registration, SmolLM2 conversion (slow)."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from workbook import models
from workbook.models import (
    PRESETS, ModelPreset, UnknownModelError, get_preset, load_model, model_path, register_preset,
)


@pytest.fixture
def isolated_registry(monkeypatch):
    """Registrations made in a test vanish afterwards."""
    monkeypatch.setattr(models, "PRESETS", dict(models.PRESETS))
    monkeypatch.setattr(models, "_LOADERS", dict(models._LOADERS))
    monkeypatch.setattr(models, "_PATH_FNS", dict(models._PATH_FNS))
    monkeypatch.setattr(models, "_LAZY_REGISTER", dict(models._LAZY_REGISTER))


def test_presets_listed_with_hub_ids():
    for name in ("tiny-random", "smollm2-135m-instruct", "toy-reasoner", "toy-reasoner-smoke",
                 "qwen2.5-math-1.5b", "qwen2.5-math-7b", "qwen3-14b-base", "phi-3.5-mini-instruct",
                 "deepseek-r1-0528-qwen3-8b", "qwen2.5-coder-1.5b-instruct"):
        assert PRESETS[name].name == name
    assert get_preset("qwen2.5-math-1.5b").hub_id == "Qwen/Qwen2.5-Math-1.5B"
    assert get_preset("qwen3-14b-base").hub_id == "Qwen/Qwen3-14B-Base"
    assert get_preset("deepseek-r1-0528-qwen3-8b").kind == "hub"


def test_every_toy_recipe_is_a_lazily_registered_preset():
    from workbook.toy import RECIPES

    for name in RECIPES:  # the control world too: every knob's control arm loads by name
        assert get_preset(name).kind == "toy" and models._LAZY_REGISTER.get(name, "workbook.toy:register")


def test_unknown_model_lists_valid_names_before_loading(monkeypatch):
    monkeypatch.setattr(models, "model_path", lambda name: pytest.fail("nothing may load"))
    with pytest.raises(UnknownModelError) as err:
        load_model("gpt-5")
    assert isinstance(err.value, ValueError)
    assert "tiny-random" in str(err.value) and "qwen2.5-math-1.5b" in str(err.value)
    with pytest.raises(UnknownModelError):
        get_preset(None)


def test_tiny_random_loads_left_padded_and_is_deterministic(tmp_path, monkeypatch):
    model, tok = load_model("tiny-random")
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert tok.padding_side == "left" and tok.pad_token_id is not None and tok.eos_token == "<|im_end|>"
    assert not model.training
    path = model_path("tiny-random")
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()
    # a fresh build in another cache directory gives the same weights
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    fresh, _ = load_model("tiny-random")
    assert model_path("tiny-random").parent.parent == tmp_path.resolve()
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), k


def test_hub_preset_loads_from_a_local_directory(tmp_path, isolated_registry):
    """The real hub code path (from_pretrained(hub_id)) run on a local copy: no network."""
    src, tok = load_model("tiny-random")
    src.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    register_preset(ModelPreset("local-hub", "hub", str(tmp_path / "m"), "test"))
    assert model_path("local-hub") == tmp_path / "m"
    model, tok2 = load_model("local-hub", dtype="bfloat16")
    assert model.dtype == torch.bfloat16 and tok2.padding_side == "left"
    x = torch.tensor([[1, 2, 3]])
    with torch.inference_mode():
        torch.testing.assert_close(model(x).logits.float(), src(x).logits, atol=0.05, rtol=0.05)


def test_register_preset_with_loader_and_lazy_toy_registration(isolated_registry, monkeypatch):
    calls = []

    def loader(device, dtype):
        calls.append((device, dtype))
        return load_model("tiny-random")

    fake_toy = types.ModuleType("fake_toy")
    fake_toy.register = lambda: register_preset(
        ModelPreset("toy-reasoner", "toy", None, "registered by fake_toy"), loader)
    monkeypatch.setitem(sys.modules, "fake_toy", fake_toy)
    monkeypatch.setitem(models._LAZY_REGISTER, "toy-reasoner", "fake_toy:register")
    assert get_preset("toy-reasoner").kind == "toy" and not calls  # lookup registers nothing, loads nothing
    model, tok = load_model("toy-reasoner")
    assert calls == [("cpu", None)] and get_preset("toy-reasoner").description == "registered by fake_toy"
    assert tok.padding_side == "left"
    with pytest.raises(TypeError):
        register_preset("not a preset", loader)


@pytest.mark.slow
def test_smollm2_conversion_matches_gguf(tmp_path, monkeypatch):
    """GGUF -> dequantized float32 safetensors, once; the cached copy has the GGUF model's weights."""
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    model, tok = load_model("smollm2-135m-instruct")
    path = model_path("smollm2-135m-instruct")
    assert path.parent.parent == tmp_path.resolve() and list(path.glob("*.safetensors"))
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert "quantization_config" not in (path / "config.json").read_text()
    gguf = models.smollm2_gguf_path()
    ref = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    for (k, a), (_, b) in zip(ref.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), k
    assert tok.eos_token == "<|im_end|>" and tok.chat_template
