"""Pictures of the landscape experiments: paths on contour plots, the rolling
marble, basins of attraction (the problems themselves are in `edujax.core.landscapes`).

`figures(landscape)` is an `Experiment.figures` hook: it draws the
representative runs' paths (recorded every step by the `position` metric) on
the landscape's contour plot, animates them, and (`basin_map=True`) colours a
start-point grid by which global minimum each run reached.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from edujax.core.landscapes import Landscape
from edujax.report.maps import describe_setting, edges
from edujax.core.outcomes import CONVERGED
from edujax.store.result import SweepResult


def representative_paths(result: SweepResult, landscape: Landscape) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """One recorded path per outcome that occurred: (outcome name, x, y, setting).

    A path that leaves the drawn window is cut one point after it leaves (a
    diverging run's later steps are far off the picture, or infinite).
    """
    examples = result.examples
    x0, x1, y0, y1 = landscape.view
    paths = []
    for code, name in enumerate(result.outcome_names):
        rows = np.flatnonzero(examples["outcome"] == code)
        if len(rows):
            x, y = examples["x"][rows[0]], examples["y"][rows[0]]
            outside = np.flatnonzero(~((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)))
            end = outside[0] + 1 if len(outside) else len(x)
            paths.append((name, x[:end], y[:end], describe_setting(result, int(examples["index"][rows[0]]))))
    return paths


def draw_contours(ax, landscape: Landscape, resolution: int = 300) -> None:
    """Filled contours of f, dark = low, with the global minima starred.

    The levels are quantiles of f over the window, so every band covers the
    same area: shallow grooves and steep walls both stay visible.
    """
    x0, x1, y0, y1 = landscape.view
    x, y = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    f = np.asarray(landscape.f(x, y), np.float64)
    levels = np.unique(np.quantile(f, np.linspace(0, 1, 30)))
    ax.contourf(x, y, f, levels=levels, cmap="Greys_r", alpha=0.6)
    ax.contour(x, y, f, levels=levels, colors="black", linewidths=0.2, alpha=0.4)
    for mx, my in landscape.minima:
        ax.plot(mx, my, marker="*", color="gold", markeredgecolor="black", markersize=14, zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _legend(result, paths, landscape, settings=True):
    handles = [
        Line2D([], [], color=result.outcome_colors[name], lw=2, label=f"{name}: {setting}" if settings else name)
        for name, _, _, setting in paths
    ]
    handles += [
        Line2D([], [], ls="", marker="o", color="black", markerfacecolor="white", label="start"),
        Line2D([], [], ls="", marker="s", color="black", label="end (or where it left the picture)"),
        Line2D([], [], ls="", marker="*", color="gold", markeredgecolor="black", markersize=12,
               label=f"global minimum, f* = {landscape.f_star:.5g}"),
    ]
    return handles


def trajectories(result: SweepResult, landscape: Landscape, path: Path) -> str:
    """The representative runs' paths over the contour plot, start and end marked."""
    paths = representative_paths(result, landscape)
    fig = Figure(figsize=(9.5, 6), layout="constrained")
    ax = fig.subplots()
    draw_contours(ax, landscape)
    for name, x, y, _ in paths:
        color = result.outcome_colors[name]
        ax.plot(x, y, "-", color=color, lw=1.2, alpha=0.9, marker=".", markersize=2)
        ax.plot(x[0], y[0], "o", color=color, markerfacecolor="white", markersize=8, zorder=6)
        ax.plot(x[-1], y[-1], "s", color=color, markeredgecolor="black", markersize=8, zorder=6)
    fig.legend(handles=_legend(result, paths, landscape), loc="outside right center", frameon=False, fontsize=7)
    fig.suptitle(f"{result.experiment}: f = {landscape.formula}, one run per outcome ({result.steps} steps)",
                 fontsize=10)
    fig.savefig(path, dpi=110)
    return ("One representative run per outcome that occurred, drawn on the contours of the loss (dark = low): "
            "start ○, end ■ (paths that fly out are cut at the edge), global minima ★.")


def marble(result: SweepResult, landscape: Landscape, path: Path, frames: int = 45) -> str:
    """A GIF of the representative runs rolling over the contour plot (pillow writer)."""
    paths = representative_paths(result, landscape)
    recorded = result.examples.get("step", np.arange(result.steps + 1))
    total = len(recorded)
    # Geometric frame times: the first steps, where most of the motion is, get more frames.
    times = np.unique(np.concatenate([[0], np.geomspace(1, total - 1, frames - 1).round().astype(int)]))
    fig = Figure(figsize=(7.5, 5.2), layout="constrained")
    ax = fig.subplots()
    draw_contours(ax, landscape, resolution=150)
    trails, balls = [], []
    for name, x, y, _ in paths:
        color = result.outcome_colors[name]
        ax.plot(x[0], y[0], "o", color=color, markerfacecolor="white", markersize=7, zorder=6)
        trails.append(ax.plot([], [], "-", color=color, lw=1.2)[0])
        balls.append(ax.plot([], [], "o", color=color, markeredgecolor="black", markersize=10, zorder=7)[0])
    handles = _legend(result, paths, landscape, settings=False)
    fig.legend(handles=handles[:-2] + handles[-1:], loc="outside right center", frameon=False, fontsize=8)
    title = ax.set_title("", fontsize=9)

    def draw(frame):
        t = times[frame]
        for trail, ball, (_, x, y, _) in zip(trails, balls, paths):
            trail.set_data(x[: t + 1], y[: t + 1])
            ball.set_data(x[t : t + 1], y[t : t + 1])
        title.set_text(f"{result.experiment}: step {recorded[t]} of {result.steps}")
        return trails + balls + [title]

    FuncAnimation(fig, draw, frames=len(times)).save(path, writer=PillowWriter(fps=8), dpi=64)
    return "The marble, animated: the same runs rolling over the contour plot (frames spaced geometrically in time)."


def basins(result: SweepResult, landscape: Landscape, path: Path) -> str:
    """Start-point map coloured by the global minimum each converged run reached.

    The grid's first two axes must be the start coordinates x0 and y0; a third
    axis (e.g. the learning rate) gives one panel per value.
    """
    reached = landscape.nearest_minimum(result.final["x"], result.final["y"])
    category = np.where(result.outcome == CONVERGED, reached, len(landscape.minima))  # last: did not converge
    palette = ["#1f77b4", "#e377c2", "#17becf", "#bcbd22"][: len(landscape.minima)] + ["#d9d9d9"]
    names = [f"({mx:.2f}, {my:.2f})" for mx, my in landscape.minima] + ["did not converge"]
    category = category.reshape(category.shape[:2] + (-1,))
    panels_n = category.shape[-1]
    fig = Figure(figsize=(4.6 * panels_n + 2.6, 4.8), layout="constrained")
    panels = fig.subplots(1, panels_n, squeeze=False)[0]
    (_, x_edges), (_, y_edges) = edges(result.axes[0]), edges(result.axes[1])
    for p, ax in enumerate(panels):
        cells = category[..., p]
        ax.pcolormesh(x_edges, y_edges, cells.T, cmap=ListedColormap(palette), vmin=-0.5, vmax=len(palette) - 0.5,
                      rasterized=True)
        for (mx, my), color in zip(landscape.minima, palette):
            ax.plot(mx, my, marker="*", color=color, markeredgecolor="black", markersize=14)
        ax.set_aspect("equal")
        ax.set_xlabel(result.axes[0].title)
        ax.set_ylabel(result.axes[1].title)
        shares = np.bincount(cells.ravel(), minlength=len(palette)) / cells.size
        title = [f"{result.axes[2].title} = {result.axes[2].value_label(p)}"] if len(result.axes) > 2 else []
        reached = [f"{names[i]}: {shares[i]:.0%}" for i in range(len(palette)) if shares[i]]
        title += [" · ".join(reached[:2]), " · ".join(reached[2:])]
        ax.set_title("\n".join(t for t in title if t), fontsize=8)
    fig.legend(handles=[Patch(color=c, label=n) for c, n in zip(palette, names)], loc="outside right center",
               frameon=False, fontsize=8)
    fig.suptitle(f"{result.experiment}: which minimum each start reached after {result.steps} steps", fontsize=11)
    fig.savefig(path, dpi=120)
    return ("Basins of attraction: each start (x0, y0) coloured by the global minimum its run converged to "
            "(grey: did not converge), with the share of starts per minimum.")


def figures(landscape: Landscape, basin_map: bool = False) -> Callable[[SweepResult, Path], dict[str, str]]:
    """An `Experiment.figures` function: trajectories, the marble GIF, optionally the basin map."""

    def draw(result: SweepResult, directory: Path) -> dict[str, str]:
        directory = Path(directory)
        drawn = {
            "trajectories.png": trajectories(result, landscape, directory / "trajectories.png"),
            "marble.gif": marble(result, landscape, directory / "marble.gif"),
        }
        if basin_map:
            drawn["basins.png"] = basins(result, landscape, directory / "basins.png")
        return drawn

    return draw
