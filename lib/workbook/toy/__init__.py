"""The toy reasoner: a small model the workbook trains itself, so every method runs on a laptop CPU.

Design: ``docs/toy_world.md``. Modules: ``tokenizer`` (characters + phrase tokens, chat template), ``world``
(prompt formats, noisy traces for solve / verify / refine, one knob per mechanism), ``train`` (recipe,
deterministic resumable loop, hash-checked cache), ``prepare`` (``make toy`` / ``workbook prepare``), ``evaluate``
(base behaviour), ``card`` (model card). ``register()`` makes the presets ``toy-reasoner`` and
``toy-reasoner-smoke`` loadable through ``workbook.models.load_model``.
"""

from __future__ import annotations

from workbook.toy.train import (
    CONTROL_RECIPE,
    FULL_RECIPE,
    RECIPES,
    SMOKE_RECIPE,
    ToyRecipe,
    ToyNotPrepared,
    checkpoint_hash,
    ensure_trained,
    is_trained,
    load_toy,
    recipe_dir,
    require,
    snapshot_dirs,
)
from workbook.toy.world import (
    MATH_INSTRUCTION,
    WorldKnobs,
    WorldNoise,
    chat_prompt,
    parse_first_wrong_step,
    parse_verdict,
    refine_message,
    refine_prompt,
    solve_message,
    solve_prompt,
    verify_message,
    verify_prompt,
)

__all__ = [
    "CONTROL_RECIPE", "FULL_RECIPE", "MATH_INSTRUCTION", "RECIPES", "SMOKE_RECIPE", "ToyNotPrepared", "ToyRecipe", "WorldKnobs",
    "WorldNoise", "chat_prompt", "checkpoint_hash", "ensure_trained", "is_trained", "load_toy", "model_dir",
    "parse_first_wrong_step", "parse_verdict", "recipe_dir", "refine_message", "refine_prompt", "register",
    "require", "snapshot_dirs", "solve_message", "solve_prompt", "verify_message", "verify_prompt",
]


def model_dir(name: str = "toy-reasoner"):
    """Return the cached checkpoint directory of the toy preset ``name``, training it on a cache miss
    (inside a notebook, an expensive miss raises :class:`ToyNotPrepared`: run ``make toy``)."""
    if name not in RECIPES:
        raise ValueError(f"unknown toy model {name!r}; valid: {sorted(RECIPES)}")
    return ensure_trained(RECIPES[name])


def register() -> None:
    """Register every toy preset (``RECIPES``) with ``workbook.models``."""
    from workbook.models import ModelPreset, register_preset

    descriptions = {
        "toy-reasoner": "the workbook's own small reasoner (Qwen2 config, ~0.9M parameters, characters + phrase "
                        "tokens), trained by workbook.toy on noisy solve/verify/refine arithmetic traces with one "
                        "knob per mechanism (docs/toy_world.md); prepared by `make toy`",
        "toy-reasoner-smoke": "a seconds-cheap toy reasoner for tests and the smoke profile (beats chance only)",
        "toy-reasoner-control": "toy-reasoner's recipe in the world without mechanisms (every knob at its control "
                                "value): the control arm of each paper's knob (docs/toy_world.md)",
    }
    for name, recipe in RECIPES.items():
        def loader(device: str = "cpu", dtype=None, _recipe=recipe):
            return load_toy(_recipe, device=device, dtype=dtype)

        register_preset(ModelPreset(name, "toy", None, descriptions[name]), loader=loader,
                        model_path=lambda _name=name: model_dir(_name))
