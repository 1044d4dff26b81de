"""The standard figures, drawn from a SweepResult alone, so `edujax plot DIR` can redraw them.

Every plotting function takes a result and a path, writes one PNG and
returns a one-line description of what it shows (collected into
`summary.json` and `results/README.md`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from edujax.grid import Axis
from edujax.maps import boundary_values, describe_setting, edges, layout, loss_gap, majority, measure_range
from edujax.result import SweepResult

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
    return f"Outcome of every setting over {drawn_names}, one colour per outcome; lines are theoretical limits."


def heatmap_figure(result: SweepResult, title: str | None = None) -> Figure:
    """The outcome map as a matplotlib Figure (what `heatmap` saves; `SweepResult.plot` shows it), `title` above."""
    _, _, aggregated = layout(result)
    cmap, norm = outcome_colormap(result)
    codes = majority(result.outcome, tuple(aggregated))
    fig, boundary_handles = _maps(result, codes, cmap, norm, "outcome" + (" (majority)" if aggregated else ""))
    total = result.outcome.size
    patches = [Patch(color=result.outcome_colors[o], label=f"{o} ({n / total:.0%})")
               for o, n in result.counts.items() if n]
    fig.legend(handles=patches + boundary_handles, loc="outside right center", frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def measure_map(result: SweepResult, path: Path) -> str:
    """The continuous measure (log10 final gap / initial gap; see `edujax.outcomes`) on a diverging colormap:
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


def render(result: SweepResult, directory: Path, experiment=None) -> dict[str, str]:
    """Draw the standard figures (and the experiment's own) into `directory`."""
    from edujax import plots_answers, probability

    directory = Path(directory)
    if probability.line_axis(result) is not None:  # a 1-D sweep: curves along its axis, not a square of rows
        figures = plots_answers.line_figures(result, directory)
    else:
        figures = {"heatmap.png": heatmap(result, directory / "heatmap.png"),
                   "measure.png": measure_map(result, directory / "measure.png")}
    figures["curves.png"] = curves(result, directory / "curves.png")
    figures.update(plots_answers.probability_figures(result, directory))
    if experiment is not None and experiment.figures is not None:
        figures.update(experiment.figures(result, directory))
    return figures
