"""Model card of the toy reasoner: markdown beside the checkpoint and in results/toy_reasoner/<profile>/.

Data mixture, noise rates, world knobs (docs/toy_world.md), parameter count, training curve, the base metrics
against the documented targets.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

#: The toy reasoner's documented targets (docs/toy_world.md), measured on held-out problems at temperature 1.
TARGETS = {
    "pass@1": "between 0.2 and 0.6 overall, with a spread across difficulty levels (we check max − min ≥ 0.15)",
    "pass@64": ">= 0.9",
    "verification accuracy": "clearly above chance, well below 1 (we check balanced accuracy in [0.6, 0.95])",
    "refinement": "P(I->C) > 0 and P(C->I) > 0",
}


def _fmt(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def training_curve_table(log: dict, every: int = 1) -> str:
    """Return the training curve (mean loss per skill at logged steps) as a markdown table."""
    rows = ["| step | lr | loss solve | loss verify | loss refine |", "|---:|---:|---:|---:|---:|"]
    for i, step in enumerate(log.get("step", [])):
        if i % every and i != len(log["step"]) - 1:
            continue
        rows.append(f"| {step} | {log['lr'][i]:.2e} | {_fmt(log['loss_solve'][i])} | "
                    f"{_fmt(log['loss_verify'][i])} | {_fmt(log['loss_refine'][i])} |")
    return "\n".join(rows)


def model_card(recipe, log: dict, metrics: dict | None = None, checks: dict | None = None,
               cpu_note: str | None = None) -> str:
    """Return the model card markdown for ``recipe`` with its training ``log`` and optional base ``metrics``.

    ``checks`` maps a target name to (measured text, met: bool) for the targets table; ``cpu_note`` states the
    CPU training cost when the checkpoint was trained elsewhere.
    """
    noise = dataclasses.asdict(recipe.noise)
    spec = dataclasses.asdict(recipe.spec)
    mixture = ", ".join(f"{t} {w:.0%}" for t, w in recipe.mixture)
    k_levels = recipe.spec.operand_counts
    step_err = ", ".join(f"{k} operands: {recipe.noise.step_error(k):.2f}" for k in k_levels)
    n_logged = len(log.get("step", []))
    lines = [
        f"# Model card: {recipe.name}",
        "",
        "A small Qwen2 causal LM trained from scratch by `workbook.toy` on seeded synthetic arithmetic "
        "(`workbook.data.synthetic`, train split) with three skills: solve, verify (step-by-step check) and refine.",
        "It is a teaching and testing world, not a language model: see notebooks/toy_reasoner.",
        "",
        "## Recipe",
        f"- recipe hash: `{recipe.hash()}`; seed {recipe.seed}",
        f"- model: Qwen2ForCausalLM, {recipe.num_layers} layers, hidden {recipe.hidden_size}, {recipe.num_heads} heads,"
        f" FFN {recipe.intermediate_size}, tied embeddings; **{log.get('n_params', 0):,} parameters**",
        "- tokenizer: 96 characters + 6 special tokens + the world's phrase tokens, chat template "
        "`<|user|>…\\n<|assistant|>…<|end|>`",
        f"- training: {recipe.steps} steps × batch {recipe.batch_size}, AdamW lr {recipe.lr} betas {recipe.betas} "
        f"wd {recipe.weight_decay}, {recipe.warmup_steps} warm-up steps, cosine to {recipe.min_lr_ratio}×lr, "
        f"bf16 autocast {recipe.bf16}, {recipe.num_threads} thread(s); loss on completion tokens only",
        f"- this checkpoint: trained on `{log.get('device', 'cpu')}` (torch {log.get('torch_version', '?')}, "
        f"{log.get('num_threads', '?')} CPU thread(s)) in {log.get('wall_s', 0):.0f} s wall, "
        f"{log.get('steps_per_s', 0):.2f} steps/s, {log.get('tokens', 0):,} tokens",
        *([f"- on 2 CPU cores: {cpu_note}"] if cpu_note else []),
        "",
        "## Data mixture",
        f"- skills per step: {mixture}",
        f"- problems: {spec}",
        "",
        "## Noise rates (controlled imperfections of the training traces)",
        f"- solve step error per step: {step_err}",
        *[f"- {k}: {v}" for k, v in noise.items()],
        "",
        "## World knobs (mechanisms; control = 0, see docs/toy_world.md)",
        *[f"- {k}: {v}" for k, v in dataclasses.asdict(recipe.knobs).items()],
        f"- snapshots (weaker model strengths) after steps: {list(recipe.snapshots)}",
        "",
        "## Training curve",
        training_curve_table(log, every=max(1, n_logged // 12)),
        "",
    ]
    lines += ["## Base metrics vs documented targets", ""]
    if metrics is None:
        lines.append("Not measured yet: run notebooks/toy_reasoner, which rewrites this card with them.")
    else:
        lines += ["| target | documented | measured | met |", "|---|---|---|---|"]
        for name, doc in TARGETS.items():
            measured, met = (checks or {}).get(name, ("—", None))
            lines.append(f"| {name} | {doc} | {measured} | {'yes' if met else 'no' if met is not None else '—'} |")
        lines += ["", "### All measured metrics", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(metrics.items())]
    return "\n".join(lines) + "\n"


def recipe_selection() -> str:
    """Return the markdown record of how the full recipe was chosen (trial recipes and their measured metrics)."""
    return (Path(__file__).with_name("recipe_selection.md")).read_text()


def write_model_card(path: str | Path, recipe, log: dict, metrics: dict | None = None,
                     checks: dict | None = None, cpu_note: str | None = None,
                     extra_sections: dict[str, str] | None = None) -> Path:
    """Write :func:`model_card` (plus optional ``extra_sections`` title → markdown) to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = model_card(recipe, log, metrics, checks, cpu_note)
    for title, body in (extra_sections or {}).items():
        text += f"\n## {title}\n\n{body.strip()}\n"
    path.write_text(text)
    return path
