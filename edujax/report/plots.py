"""The standard figures, drawn from a SweepResult alone, so `edujax plot DIR` can redraw them.

Every plotting function takes a result and a path, writes one PNG and
returns a one-line description of what it shows (collected into
`summary.json` and `results/README.md`).
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from edujax.core.grid import Axis
from edujax.report.maps import boundary_values, describe_setting, edges, layout, loss_gap, majority, measure_range
from edujax.store.result import SweepResult

MAX_FACETS = 6


def outcome_colormap(result: SweepResult) -> tuple[ListedColormap, BoundaryNorm]:
    """One fixed colour per outcome code, so every heatmap reads the same way."""
    n = len(result.outcome_colors)
    return ListedColormap(list(result.outcome_colors.values())), BoundaryNorm(np.arange(n + 1) - 0.5, n)


def style_axis(ax, axis: Axis, which: str):
    set_label, set_scale = (ax.set_xlabel, ax.set_xscale) if which == "x" else (ax.set_ylabel, ax.set_yscale)
    set_label(axis.title if axis.scale != "points" else f"{axis.title} (index)")
    if axis.scale == "log":
        set_scale("log")
    if axis.scale == "choice":
        (ax.set_xticks if which == "x" else ax.set_yticks)(np.arange(len(axis)), axis.choices)
    if len(axis) > 1 and axis.values.dtype.kind == "f" and axis.values.ndim == 1 and axis.values[0] > axis.values[-1]:
        (ax.invert_xaxis if which == "x" else ax.invert_yaxis)()


def _boundary_lines(ax, result, drawn, facet_index):
    """Draw each theory boundary on the panel; `facet_index` picks the other dims."""
    handles = []
    names = [result.axes[i].name for i in drawn]
    for style, boundary in zip(("--", ":", "-."), result.boundaries):
        if boundary["axis"] not in names:
            continue
        value = boundary_values(result, boundary, drawn, facet_index)
        along = [i for i in drawn if result.axes[i].name != boundary["axis"]]
        if along:
            other_centres = edges(result.axes[along[0]])[0]
            points = (value, other_centres) if boundary["axis"] == names[0] else (other_centres, value)
            line = ax.plot(*points, style, color="black", lw=1.8, label=boundary["label"])[0]
        else:
            line = ax.axvline(float(value), ls=style, color="black", lw=2, label=boundary["label"])
        handles.append(line)
    return handles


#: A map draws at most this many cells along an axis (a larger grid is sampled evenly: the picture has fewer
#: pixels than that anyway, and drawing millions of cells would take longer than the sweep).
MAX_DRAWN = 512


def _maps(result: SweepResult, values: np.ndarray, cmap, norm, title: str):
    """One panel per drawn facet of `values` (grid-shaped after aggregation), theory boundaries on top.

    Returns the figure, and the boundary lines' legend handles."""
    drawn, faceted, aggregated = layout(result)
    keep = sorted(drawn + faceted)  # dims left after aggregation, in grid order
    facet_values = [0] if not faceted else list(
        np.unique(np.linspace(0, len(result.axes[faceted[0]]) - 1, MAX_FACETS).round().astype(int)))
    fig = Figure(figsize=(6.4 * len(facet_values) ** 0.5 + 2.2 * (len(facet_values) > 1), 5.2), layout="constrained")
    panels = fig.subplots(1, len(facet_values), squeeze=False)[0]
    boundary_handles = []
    sampled = [_drawn_cells(len(result.axes[d])) for d in drawn]
    for ax, facet in zip(panels, facet_values):
        index = tuple(facet if faceted and dim == faceted[0] else slice(None) for dim in keep)
        panel = values[index][np.ix_(*sampled)]
        x_axis = result.axes[drawn[0]]
        x_edges = edges(x_axis)[1][_edge_cells(sampled[0])]
        if len(drawn) > 1:
            y_axis = result.axes[drawn[1]]
            y_edges = edges(y_axis)[1][_edge_cells(sampled[1])]
            ax.pcolormesh(x_edges, y_edges, panel.T, cmap=cmap, norm=norm, rasterized=True)
            style_axis(ax, y_axis, "y")
        else:
            ax.pcolormesh(x_edges, [0, 1], panel[None, :], cmap=cmap, norm=norm)
            ax.set_yticks([])
        style_axis(ax, x_axis, "x")
        facet_index = {faceted[0]: facet} if faceted else {}
        boundary_handles = _boundary_lines(ax, result, drawn, facet_index) or boundary_handles
        ax.set_xlim(x_edges[0], x_edges[-1])
        if faceted:
            fa = result.axes[faceted[0]]
            ax.set_title(f"{fa.title} = {fa.value_label(facet)}", fontsize=10)
    notes = [f"over {', '.join(result.axes[i].title for i in aggregated)}"] if aggregated else []
    if any(len(cells) < len(result.axes[d]) for cells, d in zip(sampled, drawn)):
        notes.append(f"every {'/'.join(str(-(-len(result.axes[d]) // len(c))) for c, d in zip(sampled, drawn))}"
                     "th cell drawn")
    fig.suptitle(f"{result.experiment}: {title} after {result.steps} steps, {result.outcome.size:,} settings"
                 + (f" ({'; '.join(notes)})" if notes else ""), fontsize=11)
    return fig, boundary_handles


def _drawn_cells(n: int) -> np.ndarray:
    """Indices of the cells drawn along an axis of `n`: all, or an even sample of `MAX_DRAWN`."""
    return np.arange(n) if n <= MAX_DRAWN else np.linspace(0, n - 1, MAX_DRAWN).round().astype(int)


def _edge_cells(cells: np.ndarray) -> np.ndarray:
    """Edges around sampled cells: each drawn cell stretches to the next drawn one (indices into the edges)."""
    return np.concatenate([cells, [cells[-1] + 1]]) if len(cells) < 2 or cells[-1] - cells[0] + 1 == len(cells) \
        else np.concatenate([[cells[0]], (cells[1:] + cells[:-1] + 1) // 2, [cells[-1] + 1]])


def heatmap(result: SweepResult, path: Path) -> str:
    """The categorical outcome map, with theory boundaries drawn on top."""
    heatmap_figure(result).savefig(path, dpi=130)
    drawn_names = " × ".join(result.axes[i].title for i in layout(result)[0])
    marked = "; white lines: the converged band, star: the fastest setting" if result.recommend() else ""
    return (f"Outcome of every setting over {drawn_names}, one colour per outcome; black lines are theoretical "
            f"limits{marked}.")


def comparison_figure(comparison) -> Figure:
    """The grid with the runs whose outcome changed in the colour of their new outcome (`edujax.Comparison`)."""
    return heatmap_figure(comparison.as_result(), comparison.title().replace(": ", ":\n", 1))


def heatmap_figure(result: SweepResult, title: str | None = None) -> Figure:
    """The outcome map as a matplotlib Figure (what `heatmap` saves and Jupyter shows), `title` above."""
    _, _, aggregated = layout(result)
    cmap, norm = outcome_colormap(result)
    codes = majority(result.outcome, tuple(aggregated))
    fig, boundary_handles = _maps(result, codes, cmap, norm, "outcome" + (" (majority)" if aggregated else ""))
    drawn, faceted, _ = layout(result)
    facet_values = [0] if not faceted else list(
        np.unique(np.linspace(0, len(result.axes[faceted[0]]) - 1, MAX_FACETS).round().astype(int)))
    boundary_handles = boundary_handles + _recommendation_marks(result, fig, facet_values, drawn, faceted)
    total = result.outcome.size
    patches = [Patch(color=result.outcome_colors[o], label=f"{o} ({n / total:.0%})")
               for o, n in result.counts.items() if n]
    fig.legend(handles=patches + boundary_handles, loc="outside right center", frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def measure_map(result: SweepResult, path: Path) -> str:
    """The continuous measure (log10 final gap / initial gap; see `edujax.core.outcomes`) on a diverging colormap:
    blue where runs got better by that many decades, red where they got worse or blew up (darkest: earliest)."""
    from matplotlib.colors import TwoSlopeNorm

    _, _, aggregated = layout(result)
    values = np.median(result.measure, axis=tuple(aggregated)) if aggregated else result.measure
    low, high = measure_range(values)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=low, vmax=high)
    fig, boundary_handles = _maps(result, values, "RdBu_r", norm,
                                  "log10(final gap / initial gap)" + (" (median)" if aggregated else ""))
    bar = fig.colorbar(ScalarMappable(norm, "RdBu_r"), ax=fig.axes, location="right", shrink=0.8)
    bar.set_label("decades gained (< 0, blue) or lost (> 0, red)")
    if boundary_handles:
        fig.legend(handles=boundary_handles, loc="outside lower center", frameon=False)
    fig.savefig(path, dpi=130)
    return ("The continuous measure of every setting: log10 of its final over its initial gap (blue: decades gained,"
            " red: lost; runs that blew up beyond the float range are reddest, the earlier the redder).")


def steps_map(result: SweepResult, path: Path) -> str:
    """Steps to target (`SweepResult.steps_to_target`) on a log colour scale; grey where no run got there."""
    import matplotlib
    from matplotlib.colors import LogNorm

    _, _, aggregated = layout(result)
    steps = result.steps_to_target.astype(np.float64)
    with warnings.catch_warnings():  # an all-NaN cell (no seed got there) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        values = np.nanmedian(steps, axis=tuple(aggregated)) if aggregated else steps
    finite = values[np.isfinite(values)]
    low = max(float(finite.min()), 1.0) if finite.size else 1.0
    high = max(float(finite.max()), low * 10) if finite.size else 10.0
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    norm = LogNorm(vmin=low, vmax=high)
    title = "steps to target" + (" (median of the runs that got there)" if aggregated else "")
    fig, boundary_handles = _maps(result, np.ma.masked_invalid(values), cmap, norm, title)
    bar = fig.colorbar(ScalarMappable(norm, cmap), ax=fig.axes, location="right", shrink=0.8)
    target = result.info.get("target", "the converged tolerance")
    bar.set_label(f"first step at which {target} (grey: never)")
    if boundary_handles:
        fig.legend(handles=boundary_handles, loc="outside lower center", frameon=False)
    fig.savefig(path, dpi=130)
    return (f"Steps to target of every setting: the first record step at which {target} (fewer: faster; grey: "
            "never within the run).")


def curves(result: SweepResult, path: Path) -> str:
    """Every-step loss curves of the representative runs, one panel per outcome."""
    examples = result.examples
    names, colors = result.outcome_names, result.outcome_colors
    present = [o for o in range(len(names)) if np.any(examples["outcome"] == o)]
    fig = Figure(figsize=(3.6 * max(len(present), 1), 3.6), layout="constrained")
    panels = fig.subplots(1, max(len(present), 1), squeeze=False)[0]
    f_star = result.info["global_min"]
    steps = examples.get("step", np.arange(result.steps + 1))
    for ax, code in zip(panels, present):
        for row in np.flatnonzero(examples["outcome"] == code):
            ax.plot(steps, loss_gap(examples["loss"][row], f_star), lw=1,
                    label=describe_setting(result, int(examples["index"][row])))
        ax.set_title(names[code], color=colors[names[code]], fontweight="bold")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.legend(fontsize=6, loc="lower left")
    panels[0].set_ylabel("loss − global min (log)")
    fig.suptitle(f"{result.experiment}: representative runs of each outcome", fontsize=11)
    fig.savefig(path, dpi=130)
    every = "every step" if len(steps) == result.steps + 1 else f"{len(steps):,} points"
    return f"Loss curves ({every}) of representative runs, one panel per outcome that occurred."


def png(figure, dpi: int = 90) -> bytes:
    """A matplotlib figure as PNG bytes (what Jupyter displays)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _recommendation_marks(result: SweepResult, fig, facet_values, drawn, faceted) -> list:
    """The recommendation on the map's panels: each row's converged band as two white lines along the
    learning rate, the overall fastest setting as a star (`edujax.store.recommend`); legend handles."""
    from matplotlib.lines import Line2D

    from edujax.store.recommend import LR

    rec = result.recommend()
    names = [a.name for a in result.axes]
    if not rec or LR not in [names[d] for d in drawn]:
        return []
    lr_dim = names.index(LR)
    other_drawn = [d for d in drawn if d != lr_dim]
    others = [names.index(n) for n in rec.others]
    from matplotlib.patheffects import withStroke

    outline = [withStroke(linewidth=3, foreground="black")]
    handles = [Line2D([], [], color="white", lw=1.4, path_effects=outline, label="converged band"),
               Line2D([], [], marker="*", ls="", color="gold", mec="black", ms=12, label="fastest setting")]
    for ax, facet in zip(fig.axes, facet_values):
        index = tuple(slice(None) if d in other_drawn else facet if faceted and d == faceted[0] else 0
                      for d in others)
        lo, hi = rec.lo_cells[index], rec.hi_cells[index]
        if other_drawn:  # the band's outer cell edges as a staircase over the rows of the other drawn axis
            lr_axis = result.axes[lr_dim]
            lr_values, lr_edges = lr_axis.values.astype(np.float64), edges(lr_axis)[1]
            row_edges = edges(result.axes[other_drawn[0]])[1]
            for line, side in ((np.ravel(lo), 0), (np.ravel(hi), 1)):
                for run in _runs(np.isfinite(line)):  # rows with a band, in contiguous runs
                    at = np.repeat([lr_edges[_nearest(lr_values, line[r]) + side] for r in run], 2)
                    span = np.concatenate([[row_edges[r], row_edges[r + 1]] for r in run])
                    points = (at, span) if drawn[0] == lr_dim else (span, at)
                    ax.plot(*points, color="white", lw=1.4, path_effects=outline)
        elif rec.overall.lo is not None:
            for value in (rec.overall.lo, rec.overall.hi):
                ax.axvline(value, color="white", lw=1.4, path_effects=outline)
        fastest = rec.overall.fastest
        if fastest is None:
            continue
        if faceted and result.axes[faceted[0]].name in fastest:
            if _index_of(result.axes[faceted[0]], fastest[result.axes[faceted[0]].name]) != facet:
                continue
        xy = []
        for d in drawn:
            axis = result.axes[d]
            i = _index_of(axis, fastest[axis.name])
            xy.append(edges(axis)[0][i])
        ax.plot(*(xy if len(xy) == 2 else (xy[0], 0.5)), marker="*", color="gold", mec="black", ms=14, ls="")
    return handles


def _nearest(values: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(values - value)))


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """The indices of each contiguous run of True in `mask`."""
    index = np.flatnonzero(mask)
    return [run for run in np.split(index, np.flatnonzero(np.diff(index) > 1) + 1) if len(run)]


def _index_of(axis: Axis, value) -> int:
    if axis.scale == "choice":
        return axis.choices.index(value)
    values = axis.values.astype(float).reshape(len(axis), -1)
    return int(np.argmin(np.abs(values - np.asarray(value, float).reshape(1, -1)).sum(-1)))


def lrfind_plot(result: SweepResult, finder, verdict, path: Path) -> str:
    """The LR finder over the sweep's truth: on top the finder's smoothed loss per seed against its learning
    rate with its suggestions marked; below the sweep's outcomes along the learning rate at the finder's other
    hyperparameters (a strip: the majority over seeds) and their median steps-to-target, the converged band
    shaded and the fastest setting starred."""
    from edujax.core.lrfind import LABELS, SUGGESTIONS
    from edujax.store.recommend import along

    row = along(result, finder.at)
    fig = Figure(figsize=(7.5, 6.4), layout="constrained")
    top, strip, bottom = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 0.45, 2.2]})
    colours = dict(zip(SUGGESTIONS, ("tab:red", "tab:purple", "tab:green")))
    for s, (smoothed, kept) in enumerate(zip(finder.smoothed, finder.kept)):
        top.plot(finder.lrs[kept], smoothed[kept], color="0.3", lw=1, alpha=0.8,
                 label="smoothed loss" if s == 0 else None)
        for name in SUGGESTIONS:
            lr = finder.suggestions[name][s]
            if np.isfinite(lr):
                y = np.interp(np.log(lr), np.log(finder.lrs[kept]), smoothed[kept])
                top.plot(lr, y, "o", color=colours[name], label=LABELS[name] if s == 0 else None)
    top.set_xscale("log")
    positive = finder.smoothed[finder.kept]
    if np.all(positive[np.isfinite(positive)] > 0):
        top.set_yscale("log")
    top.set_ylabel("finder loss (smoothed)")
    top.legend(fontsize=8, loc="upper left")
    where = ", ".join(f"{k}={v}" for k, v in finder.setting.items())
    top.set_title(f"{result.experiment}: LR finder ({len(finder.seeds)} seed(s), {len(finder.lrs)} steps) vs the sweep"
                  + (f" at {where}" if where else ""), fontsize=10)
    cmap, norm = outcome_colormap(result)

    codes = majority(row["outcome"], (1,))
    lr_edges = edges(result.grid.axis("learning_rate"))[1]
    lr_edges = np.sort(lr_edges)
    strip.pcolormesh(lr_edges, [0, 1], codes[None, :], cmap=cmap, norm=norm)
    strip.set_yticks([])
    strip.set_ylabel("outcome", rotation=0, ha="right", va="center", fontsize=8)
    finite = np.isfinite(row["steps"])
    bottom.plot(row["lr"][finite], row["steps"][finite], ".-", color="tab:blue", label="median steps to target")
    bottom.set_yscale("log")
    bottom.set_ylabel("steps to target (sweep)")
    bottom.set_xlabel("learning rate")
    if verdict.band is not None:
        for ax in (top, bottom):
            ax.axvspan(*verdict.band, color="tab:green", alpha=0.12, label="converged band" if ax is bottom else None)
    if verdict.fastest_lr is not None:
        bottom.plot(verdict.fastest_lr, verdict.fastest_steps, "*", color="gold", mec="black", ms=14, label="fastest")
    for r in verdict.rows:
        if np.isfinite(r["lr"]):
            for ax in (strip, bottom):
                ax.axvline(r["lr"], color=colours[r["suggestion"]], ls="--", lw=1.2)
    bottom.legend(fontsize=8, loc="upper right")
    low = min(finder.lrs[0], lr_edges[0])
    top.set_xlim(low, max(finder.lrs[-1], lr_edges[-1]))
    fig.savefig(path, dpi=110)
    return ("The LR range test (fastai's defaults) per seed with its suggestions (steepest descent, minimum/10, "
            "valley), over the sweep's outcomes and steps-to-target along the learning rate: does it land in "
            "the converged band?")
