"""Figures that answer questions: P(converged) over seeds, and 1-D sweeps drawn as curves.

`line_figures` replaces the outcome and measure maps of a 1-D sweep (one numeric axis besides seeds
and choices: the map would be a square of identical rows) by the outcome shares along that axis
(stacked bars) and the measure's median with its spread over the seeds (min-max band).
`probability_figure` draws P(converged) beside the majority map whenever the grid has a seed axis.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from edujax.store import probability
from edujax.report.maps import edges, layout
from edujax.report.plots import _maps, style_axis


def _panels_figure(result, rows: int = 1):
    panels = probability.line_panels(result)
    fig = Figure(figsize=(4.2 * len(panels) + 2.4, 3.4 * rows + 0.6), layout="constrained")
    grid = fig.subplots(rows, len(panels), squeeze=False, sharex=True)
    return fig, panels, grid, result.axes[probability.line_axis(result)]


def _over(result, panel) -> str:
    return f"{panel['runs']} run{'s' if panel['runs'] > 1 else ''} per value"


def shares_figure(result, title: str | None = None) -> Figure:
    """Outcome shares along the numeric axis of a 1-D sweep: one stacked bar per value, one panel per choice."""
    fig, panels, grid, axis = _panels_figure(result)
    centres, cell_edges = edges(axis)
    colors = list(result.outcome_colors.values())
    for ax, panel in zip(grid[0], panels):
        bottom = np.zeros(len(axis))
        for code, share in enumerate(panel["shares"]):
            if share.any():
                ax.bar(cell_edges[:-1], share, width=np.diff(cell_edges), bottom=bottom, align="edge",
                       color=colors[code], linewidth=0)
            bottom += share
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"share of runs ({_over(result, panel)})")
        ax.set_title(panel["title"], fontsize=10)
        style_axis(ax, axis, "x")
        ax.set_xlim(cell_edges[0], cell_edges[-1])
        _boundaries(ax, result)
    total = result.outcome.size
    patches = [Patch(color=result.outcome_colors[o], label=f"{o} ({n / total:.0%})") for o, n in result.counts.items()
               if n]
    fig.legend(handles=patches, loc="outside right center", frameon=False)
    fig.suptitle(title or f"{result.experiment}: outcome shares after {result.steps} steps, {total:,} runs",
                 fontsize=11)
    return fig


def measure_figure(result) -> Figure:
    """The measure along the numeric axis of a 1-D sweep: median line, min-max band over seeds (and other runs)."""
    fig, panels, grid, axis = _panels_figure(result)
    centres = edges(axis)[0]
    for ax, panel in zip(grid[0], panels):
        if panel["runs"] > 1:
            ax.fill_between(centres, panel["low"], panel["high"], color="#4393c3", alpha=0.3, lw=0,
                            label="min – max over the runs")
        ax.plot(centres, panel["median"], color="#053061", lw=1.8, marker="." if len(axis) <= 64 else None,
                label="median" if panel["runs"] > 1 else "measure")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel("log10(final gap / initial gap)")
        ax.set_title(panel["title"], fontsize=10)
        style_axis(ax, axis, "x")
        _boundaries(ax, result)
    grid[0][0].legend(fontsize=8, loc="best")
    fig.suptitle(f"{result.experiment}: decades gained (< 0) or lost (> 0) after {result.steps} steps", fontsize=11)
    return fig


def _boundaries(ax, result):
    """Theory boundaries on the numeric axis as vertical lines (their first value when they vary)."""
    name = result.axes[probability.line_axis(result)].name
    for style, boundary in zip(("--", ":", "-."), result.boundaries):
        value = np.ravel(boundary["value"])
        if boundary["axis"] == name and value.size and np.isfinite(value[0]):
            ax.axvline(float(value[0]), ls=style, color="black", lw=1.5, label=boundary["label"])


def line_figures(result, directory: Path) -> dict[str, str]:
    """`heatmap.png` and `measure.png` of a 1-D sweep, as curves."""
    shares_figure(result).savefig(Path(directory) / "heatmap.png", dpi=130)
    measure_figure(result).savefig(Path(directory) / "measure.png", dpi=130)
    title = result.axes[probability.line_axis(result)].title
    return {"heatmap.png": f"Share of runs ending in each outcome at each {title} (a 1-D sweep: stacked bars).",
            "measure.png": f"The continuous measure against {title}: its median over the runs at each value, "
                           "and their minimum to maximum (band)."}


def probability_figure(result, outcome: str = "converged") -> Figure:
    """P(`outcome`) over the seeds (and any other aggregated axis): a map, or a line with its 95 % Wilson band."""
    code = probability.outcome_code(result, outcome)
    x = probability.line_axis(result)
    if x is not None:
        fig, panels, grid, axis = _panels_figure(result)
        centres = edges(axis)[0]
        for ax, panel in zip(grid[0], panels):
            k = np.round(panel["shares"][code] * panel["runs"])
            lo, hi = probability.wilson_interval(k, panel["runs"])
            ax.fill_between(centres, lo, hi, color=result.outcome_colors[outcome], alpha=0.3, lw=0,
                            label="95 % Wilson interval")
            ax.plot(centres, panel["shares"][code], color=result.outcome_colors[outcome], lw=1.8, label=f"P({outcome})")
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel(f"P({outcome}) ({_over(result, panel)})")
            ax.set_title(panel["title"], fontsize=10)
            style_axis(ax, axis, "x")
        grid[0][0].legend(fontsize=8, loc="best")
        fig.suptitle(f"{result.experiment}: probability of {outcome} after {result.steps} steps", fontsize=11)
        return fig
    _, _, aggregated = layout(result)
    values = (np.asarray(result.outcome) == code).mean(axis=tuple(aggregated))
    norm = Normalize(0.0, 1.0)
    fig, handles = _maps(result, values, "viridis", norm, f"P({outcome})")
    bar = fig.colorbar(ScalarMappable(norm, "viridis"), ax=fig.axes, location="right", shrink=0.8)
    n = int(np.prod([result.outcome.shape[d] for d in aggregated]))
    bar.set_label(f"share of the {n} runs per cell that ended {outcome}")
    if handles:
        fig.legend(handles=handles, loc="outside lower center", frameon=False)
    return fig


def probability_figures(result, directory: Path) -> dict[str, str]:
    """`probability.png` when the grid has a seed axis (else nothing)."""
    if not probability.seed_dims(result) or "converged" not in result.outcome_names:
        return {}
    probability_figure(result).savefig(Path(directory) / "probability.png", dpi=130)
    return {"probability.png": "P(converged): the share of seeds whose run converged, per setting "
                               "(on a 1-D sweep with its 95 % Wilson interval); the outcome map shows the majority."}
