"""One figure style for the whole workbook: colour-blind-safe palette, a fixed colour per method, 95% bands.

STYLE.md § Figures and tables: uncertainty always shown (shaded 95% bands for curves, error bars for points),
axes labelled with units, log scale for k in pass@k and N in best-of-N.
The palette is Paul Tol's "muted" scheme (colour-blind safe, distinct in greyscale by line style too).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: Paul Tol "muted" qualitative palette (https://personal.sron.nl/~pault/), safe for the common colour-vision deficiencies.
PALETTE: tuple[str, ...] = (
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
)
#: Fixed colour per method (and per problem set), identical in every notebook (keys are the names used in
#: metrics.json). Within one notebook's methods no two share a colour (tests/test_plotting.py checks every notebook's
#: method lists); the same arm under two names (pi1 = one_shot_rlvr) shares its colour on purpose.
COLORS: dict[str, str] = {
    "base": "#555555",
    # RL methods (nsr, lp_reg, one_shot_rlvr, dser)
    "grpo": "#332288",
    "ppo": "#882255",
    "grpo_entropy": "#DDCC77",
    "psr": "#88CCEE",
    "nsr": "#CC6677",
    "w_reinforce": "#AA4499",
    "lp_reg": "#117733",
    "entropy_only": "#DDCC77",
    "one_shot_rlvr": "#44AA99",
    "pi1": "#44AA99",
    "full_set": "#332288",
    "no_entropy": "#88CCEE",
    "random_example": "#CC6677",
    "pi1_control": "#999933",
    "entropy_sweep": "#AA4499",
    "dser": "#882255",
    # sharpening: the self-reward selectors of best-of-N
    "sharpening": "#999933",
    "logp": "#332288",
    "logp_norm": "#88CCEE",
    "self_certainty": "#117733",
    "majority": "#CC6677",
    "borda": "#AA4499",
    # problem sets (quickstart)
    "math500": "#332288",
    "synthetic": "#44AA99",
    "synthetic_hard": "#882255",
}
NEUTRAL = "#BBBBBB"


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def method_color(name: str, ax=None) -> str:
    """Return the fixed colour of method ``name`` from COLORS (the same in every notebook).

    Display names map onto the same entry ("W-REINFORCE", "Lp-Reg" and "GRPO" are w_reinforce, lp_reg, grpo).
    A name that is not a method (e.g. "2 operands") has no fixed colour: with ``ax`` it gets the first palette
    colour not yet used on ``ax`` (asked again, the same one), so no two series of one axes share a colour; without
    ``ax`` it is a KeyError, rather than a colour that could silently repeat another series'. Every palette colour
    is some method's, so a method drawn later may claim the colour a free series holds: with ``ax`` the method keeps
    its fixed colour and the free series already drawn (lines, bands, bars) moves to another unused colour. Draw
    the legend after the series.
    """
    fixed = COLORS.get(name) or COLORS.get(_key(name))
    if fixed is None:
        if ax is None:
            raise KeyError(f"no fixed colour for {name!r}: add it to workbook.plotting.COLORS (methods) or pass ax= "
                           "(other series take the first palette colour unused on the axes)")
        handed = _free_colors(ax)
        held = next((c for c, n in handed.items() if n == name), None)
        if held is None:
            held = free_color(ax)
            handed[held.upper()] = name
        return held
    if ax is not None and fixed.upper() in _free_colors(ax):
        _move_free_series(ax, fixed.upper())
    return fixed


def _free_colors(ax) -> dict[str, str]:
    """Return the colours handed to series without a fixed colour on ``ax`` (upper-case hex -> series name)."""
    if not hasattr(ax, "_workbook_free_colors"):
        ax._workbook_free_colors = {}
    return ax._workbook_free_colors


def _move_free_series(ax, colour: str) -> None:
    """Recolour every artist on ``ax`` drawn in ``colour`` (a free series') with another colour unused on ``ax``."""
    from matplotlib.colors import to_hex, to_rgba

    handed = _free_colors(ax)
    name = handed.pop(colour)
    new = free_color(ax, avoid={colour.lower()})
    handed[new.upper()] = name

    def same(c) -> bool:
        return to_hex(c, keep_alpha=False).upper() == colour

    def moved(colours):
        return [(*to_rgba(new)[:3], c[3]) if same(c) else tuple(c) for c in colours]

    for line in ax.get_lines():
        if same(line.get_color()):
            line.set_color(new)
        for get, put in ((line.get_markerfacecolor, line.set_markerfacecolor),
                         (line.get_markeredgecolor, line.set_markeredgecolor)):
            if not (isinstance(get(), str) and get() == "none") and same(get()):  # set apart from the line's
                put(new)
    for coll in ax.collections:
        if len(coll.get_facecolor()) and any(same(c) for c in coll.get_facecolor()):
            coll.set_facecolor(moved(coll.get_facecolor()))
        if len(coll.get_edgecolor()) and any(same(c) for c in coll.get_edgecolor()):
            coll.set_edgecolor(moved(coll.get_edgecolor()))
    for patch in ax.patches:
        if same(patch.get_facecolor()):
            patch.set_facecolor((*to_rgba(new)[:3], patch.get_facecolor()[3]))
        if same(patch.get_edgecolor()):
            patch.set_edgecolor((*to_rgba(new)[:3], patch.get_edgecolor()[3]))


def free_color(ax, avoid: set[str] = frozenset()) -> str:
    """Return the first PALETTE colour that no line, band or bar on ``ax`` uses yet, nor ``avoid`` (lower-case hex);
    wrapping round after nine."""
    from matplotlib.colors import to_hex

    used = {to_hex(line.get_color()).lower() for line in ax.get_lines()}
    used |= {to_hex(c, keep_alpha=False).lower() for coll in ax.collections for c in coll.get_facecolor()}
    used |= {to_hex(p.get_facecolor(), keep_alpha=False).lower() for p in ax.patches}
    used |= set(avoid)
    free = [c for c in PALETTE if c.lower() not in used]
    return free[0] if free else PALETTE[len(ax.get_lines()) % len(PALETTE)]


def use_style() -> None:
    """Return None after setting the workbook's matplotlib rcParams (palette cycle, sizes, grid, no top/right spines)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "axes.prop_cycle": cycler(color=list(PALETTE)),
        "figure.figsize": (6.0, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "grid.linestyle": "-",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "lines.linewidth": 1.8,
        "lines.markersize": 5,
        "image.cmap": "viridis",  # perceptually uniform and colour-blind safe
    })


def _triple(est: Any) -> tuple[float, float, float]:
    if isinstance(est, dict):
        return float(est["value"]), float(est["lo"]), float(est["hi"])
    return float(est.value), float(est.lo), float(est.hi)


def band(ax, frame, *legacy, x: str | None = None, y: str | None = None, unit: str = "seed",
         label: str | None = None, method: str | None = None,
         bounds: tuple[float | None, float | None] | None = None, color: str | None = None, alpha: float = 0.2,
         marker: str = "o", n_boot: int = 1000, seed: int = 0, **line_kw):
    """Return the Line2D of the per-``x`` mean of ``y`` with its shaded 95% band over ``unit`` (seeds).

    ``frame`` is tidy: one row per (x, unit) or per (x, unit, problem_id). With both ``unit`` and ``problem_id``
    the band is the hierarchical seeds × problems bootstrap, else a Student-t interval over units
    (`workbook.metrics.grouped_estimates`, which this calls); ``bounds`` keeps the band inside the metric's range,
    e.g. ``(0, 1)`` for accuracy, ``(0, None)`` for entropy. The colour is the fixed one of ``method`` (or of
    ``label``), identical in every notebook; ``label`` defaults to ``method``.

    Curves of precomputed estimates: `estimate_band`. (The older call ``band(ax, xs, estimates, label, color)``
    is still accepted and forwarded to it.)
    """
    import pandas as pd

    from workbook.metrics import grouped_estimates

    if not isinstance(frame, pd.DataFrame):                             # older positional form
        if not legacy:
            raise TypeError("band(ax, frame, x=..., y=...) needs a DataFrame; for estimates use estimate_band")
        if len(legacy) > 3:
            raise TypeError("band(ax, xs, estimates, label, color) takes at most 5 positional arguments")
        est_list = legacy[0]
        label = legacy[1] if len(legacy) > 1 else label
        color = legacy[2] if len(legacy) > 2 else color
        return estimate_band(ax, frame, est_list, label=label, color=color, alpha=alpha, marker=marker,
                             bounds=bounds, **line_kw)
    if legacy:
        raise TypeError("band(ax, frame, ...) takes x= and y= as keywords")
    if x is None or y is None:
        raise TypeError("band(ax, frame, x=..., y=...) needs the x and y column names")
    table = grouped_estimates(frame, by=x, y=y, unit=unit, bounds=bounds, n_boot=n_boot, seed=seed)
    table = table[np.isfinite(table["value"].to_numpy(dtype=float))]
    label = label if label is not None else method
    c = color or (method_color(method or label, ax) if (method or label) else None)
    return estimate_band(ax, table[x].tolist(), table.to_dict("records"), label=label, color=c, alpha=alpha,
                         marker=marker, bounds=bounds, **line_kw)


def estimate_band(ax, x: Sequence[float], est_list: Sequence[Any], label: str | None = None,
                  color: str | None = None, alpha: float = 0.2, marker: str = "o",
                  bounds: tuple[float | None, float | None] | None = None, **line_kw):
    """Return the Line2D of a curve through ``est.value`` with a shaded band from ``est.lo`` to ``est.hi``.

    ``est_list`` holds one workbook.metrics.Estimate (or dict with value/lo/hi) per x; the band is the 95% CI,
    clipped to ``bounds`` (the metric's range) when given. ``color`` defaults to the method colour of ``label``.
    """
    if len(x) != len(est_list):
        raise ValueError(f"band: {len(x)} x values but {len(est_list)} estimates")
    values, lo, hi = (np.array(v, dtype=float) for v in zip(*[_triple(e) for e in est_list])) if est_list else \
        (np.array([]), np.array([]), np.array([]))
    if bounds is not None:
        b_lo = -np.inf if bounds[0] is None else bounds[0]
        b_hi = np.inf if bounds[1] is None else bounds[1]
        lo, hi = np.clip(lo, b_lo, b_hi), np.clip(hi, b_lo, b_hi)
    c = color or (method_color(label, ax) if label else None)
    (line,) = ax.plot(x, values, marker=marker, label=label, color=c, **line_kw)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=alpha, linewidth=0)
    return line


def errorbars(ax, x: Sequence[float], est_list: Sequence[Any], label: str | None = None, color: str | None = None,
              **kw):
    """Return the ErrorbarContainer of points at ``est.value`` with 95% CI error bars (STYLE.md: points get bars)."""
    triples = np.array([_triple(e) for e in est_list], dtype=float).reshape(-1, 3)
    yerr = np.vstack([triples[:, 0] - triples[:, 1], triples[:, 2] - triples[:, 0]])
    c = color or (method_color(label, ax) if label else None)
    return ax.errorbar(x, triples[:, 0], yerr=yerr, fmt=kw.pop("fmt", "o"), capsize=kw.pop("capsize", 3),
                       label=label, color=c, **kw)
