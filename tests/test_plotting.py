"""Tests for workbook.plotting: frame bands stay inside the metric's range, fixed method colours, the older call."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbook import plotting  # noqa: E402
from workbook.metrics import Estimate  # noqa: E402


def _band_ys(ax, i=0):
    return ax.collections[i].get_paths()[0].vertices[:, 1]


def test_band_from_frame_is_hierarchical_bounded_and_coloured():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"step": s, "seed": k, "problem_id": p, "acc": float(rng.random() < 0.05)}
                          for s in range(4) for k in range(3) for p in range(6)])
    fig, ax = plt.subplots()
    line = plotting.band(ax, frame, x="step", y="acc", method="nsr", bounds=(0, 1))
    assert line.get_color() == plotting.COLORS["nsr"] and line.get_label() == "nsr"
    ys = _band_ys(ax)
    assert ys.min() >= 0.0 and ys.max() <= 1.0
    # three seeds of a wildly varying entropy: a t-band would go negative; the bounded band does not
    ent = pd.DataFrame({"step": np.repeat([0, 1], 3), "seed": np.tile(range(3), 2),
                        "entropy": [0.01, 0.9, 0.02, 0.0, 0.5, 0.01]})
    plotting.band(ax, ent, x="step", y="entropy", label="GRPO", method="grpo", bounds=(0, None))
    assert _band_ys(ax, 1).min() >= 0.0
    plt.close(fig)


def test_band_accepts_precomputed_estimates_in_the_older_form():
    fig, ax = plt.subplots()
    line = plotting.band(ax, [0, 1], [Estimate(0.1, -0.2, 0.3, 3), Estimate(0.2, 0.1, 0.3, 3)], "base")
    assert line.get_color() == plotting.COLORS["base"]
    line = plotting.estimate_band(ax, [0, 1], [{"value": 0.5, "lo": -1, "hi": 2}] * 2, "x", "#000000",
                                  bounds=(0, 1))
    assert line.get_color() == "#000000" and _band_ys(ax, 1).min() >= 0.0 and _band_ys(ax, 1).max() <= 1.0
    with pytest.raises(TypeError):
        plotting.band(ax, pd.DataFrame({"a": [1]}), y="a")
    plt.close(fig)


# Parameters that name the series a notebook plots, one colour each (RL arms, best-of-N selectors).
SERIES_PARAMS = ("methods", "arms", "selectors")


def _notebook_series() -> dict[str, list[str]]:
    """Every notebook's plotted method names, from its parameters cell and every profile file, plus "base"."""
    import yaml

    from workbook.params import COURSE_ORDER, notebook_defaults
    from workbook.paths import repo_root

    out = {}
    for nb in COURSE_ORDER:
        names = {"base"}
        sources = [notebook_defaults(nb)]
        sources += [yaml.safe_load(f.read_text()) or {}
                    for f in sorted((repo_root() / "notebooks" / "params" / nb).glob("*.yaml"))]
        for src in sources:
            for key in SERIES_PARAMS:
                names |= set(src.get(key) or [])
        out[nb] = sorted(names)
    return out


def test_every_notebooks_methods_have_fixed_distinct_colours():
    series = _notebook_series()
    assert {"grpo", "nsr", "pi1", "lp_reg", "majority"} <= set().union(*series.values())  # the lists were found
    for nb, names in series.items():
        colours = {n: plotting.method_color(n) for n in names}   # KeyError: a method without a fixed colour
        assert len(set(colours.values())) == len(colours), (nb, colours)
    assert plotting.method_color("synthetic-hard") != plotting.method_color("synthetic")
    assert set(plotting.COLORS.values()) <= set(plotting.PALETTE) | {"#555555"}


def test_series_without_a_method_take_unused_colours_never_a_repeat():
    with pytest.raises(KeyError, match="no fixed colour"):
        plotting.method_color("something new")
    fig, ax = plt.subplots()
    plotting.estimate_band(ax, [0, 1], [Estimate(0.5, 0.4, 0.6, 3)] * 2, "grpo")
    for i in range(len(plotting.PALETTE) - 1):
        plotting.estimate_band(ax, [0, 1], [Estimate(0.5, 0.4, 0.6, 3)] * 2, f"{i + 2} operands")
    colours = [line.get_color() for line in ax.get_lines()]
    assert colours[0] == plotting.COLORS["grpo"] and len(set(colours)) == len(colours) == len(plotting.PALETTE)
    plt.close(fig)


def test_a_method_drawn_after_a_free_series_keeps_its_colour_and_the_free_series_moves():
    """Every palette colour is some method's: the first free colour (grpo's) goes to "2 operands" until grpo comes."""
    est = [Estimate(0.5, 0.4, 0.6, 3)] * 2
    fig, ax = plt.subplots()
    free = plotting.estimate_band(ax, [0, 1], est, "2 operands")
    bars = plotting.errorbars(ax, [0, 1], est, "2 operands")            # the same series asked again: same colour
    assert free.get_color() == bars.lines[0].get_color() == plotting.COLORS["grpo"]
    ax.bar([0, 1], [0.2, 0.3], color=plotting.method_color("2 operands", ax), alpha=0.5)
    grpo = plotting.estimate_band(ax, [0, 1], est, "GRPO")
    nsr = plotting.band(ax, pd.DataFrame({"step": [0, 0, 1, 1], "seed": [0, 1, 0, 1], "acc": [0.1, 0.2, 0.3, 0.4]}),
                        x="step", y="acc", method="nsr")
    assert grpo.get_color() == plotting.COLORS["grpo"] and nsr.get_color() == plotting.COLORS["nsr"]
    moved = free.get_color()
    assert moved not in (plotting.COLORS["grpo"], plotting.COLORS["nsr"]) and moved in plotting.PALETTE
    assert plotting.method_color("2 operands", ax) == moved
    from matplotlib.colors import to_hex

    def hexes(colours):
        return {to_hex(c, keep_alpha=False).upper() for c in colours}

    # every artist of the free series moved with it (line, band, error bars, bars); the alpha of the band stays
    assert bars.lines[0].get_color() == moved and hexes(bars.lines[2][0].get_edgecolor()) == {moved}
    assert hexes(ax.collections[0].get_facecolor()) == {moved} and ax.collections[0].get_facecolor()[0][3] == 0.2
    assert hexes(p.get_facecolor() for p in ax.patches) == {moved} and ax.patches[0].get_facecolor()[3] == 0.5
    by_label = {line.get_label(): line.get_color() for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert len(set(by_label.values())) == len(by_label) == 3, by_label
    plt.close(fig)


def test_display_names_share_the_method_colour():
    assert plotting.method_color("W-REINFORCE") == plotting.COLORS["w_reinforce"]
    assert plotting.method_color("Lp-Reg") == plotting.COLORS["lp_reg"]
    assert plotting.method_color("GRPO") == plotting.COLORS["grpo"]
