"""Pictures of fractal boundaries: measure maps, zoom frames, strips, GIFs and box-counting fits.

The numbers come from `edujax.core.fractal` and `edujax.app.zoom`; this module
only draws them.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable

import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from edujax.core import fractal
from edujax.report import plots
from edujax.core.grid import Axis
from edujax.store.zoom import Zoom, zoom_axes


def signed_rank(measure) -> np.ndarray:
    """Colour values in [−1, 1]: each cell's rank among the cells on its side of
    the boundary, converging cells in [−1, −0.25], the rest in [0.25, 1] (as
    in the paper's pictures), so both sides show their structure whatever the
    spread of their measures. Non-finite measures count as the largest."""
    measure = np.nan_to_num(np.asarray(measure, np.float64), nan=np.inf)
    shade = np.zeros(measure.shape)
    for side, (lo, hi) in (((measure < 0), (-1.0, -0.25)), ((measure >= 0), (0.25, 1.0))):
        values = measure[side]
        if values.size:
            ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable") / max(values.size - 1, 1)
            shade[side] = lo + (hi - lo) * ranks
    return shade


def draw_measure(ax, measure, extent=None, **kwargs):
    """The measure map on `ax` (cells × cells, first axis across): blue where the loss
    fell, red where it grew or blew up, shaded by `signed_rank`."""
    return ax.imshow(signed_rank(measure).T, origin="lower", cmap="RdBu_r", vmin=-1, vmax=1, extent=extent,
                     aspect="auto", interpolation="nearest", **kwargs)


def _relative_extent(zoom: Zoom, index: int, origin) -> list[float]:
    frame = zoom.frames[index]
    (cx, cy), (wx, wy) = frame.center, frame.width
    return [cx - wx / 2 - origin[0], cx + wx / 2 - origin[0], cy - wy / 2 - origin[1], cy + wy / 2 - origin[1]]


def _width_text(axis: Axis, width: float) -> str:
    return f"{width:.2g} decades" if axis.scale == "log" else f"{width:.2g} wide"


def _frame_title(zoom: Zoom, index: int) -> str:
    frame = zoom.frames[index]
    d = frame.dimension.dimension
    return f"frame {index}: {_width_text(zoom.axes[0], frame.width[0])} · D = {d:.2f}" if np.isfinite(d) else \
        f"frame {index}: {_width_text(zoom.axes[0], frame.width[0])} · no boundary"


def _center_text(zoom: Zoom, index: int) -> str:
    frame = zoom.frames[index]
    parts = []
    for axis, center in zip(zoom.axes, frame.center):
        parts.append(f"{axis.title} = 10^{center:.12g}" if axis.scale == "log" else f"{axis.title} = {center:.12g}")
    return "centre: " + ", ".join(parts)


def _draw_border(ax, zoom: Zoom, index: int, origin) -> None:
    """Outline the border in black when it is not the measure's own sign change."""
    if zoom.border != "measure":
        x0, x1, y0, y1 = _relative_extent(zoom, index, origin)
        side = zoom.frames[index].side
        if side.min() < 0 < side.max():
            xs, ys = np.linspace(x0, x1, side.shape[0]), np.linspace(y0, y1, side.shape[1])
            ax.contour(xs, ys, side.T, levels=[0], colors="black", linewidths=0.6)


def _mark_next(ax, zoom: Zoom, index: int, origin) -> None:
    """Outline the next frame's window (clipped to this frame's, whose limits stay as they are)."""
    if index + 1 < len(zoom.frames):
        x0, x1, y0, y1 = _relative_extent(zoom, index + 1, origin)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", lw=1.2))
    x0, x1, y0, y1 = _relative_extent(zoom, index, origin)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def draw_frame(zoom: Zoom, index: int, path: Path) -> None:
    """One frame alone, the next frame's window outlined."""
    frame = zoom.frames[index]
    origin = frame.center
    fig = Figure(figsize=(6.2, 6.0), layout="constrained")
    ax = fig.subplots()
    draw_measure(ax, frame.measure, _relative_extent(zoom, index, origin))
    _draw_border(ax, zoom, index, origin)
    _mark_next(ax, zoom, index, origin)
    ax.set_xlabel(f"{zoom.axes[0].title}: {'log10 ' if zoom.axes[0].scale == 'log' else ''}offset from the centre")
    ax.set_ylabel(f"{zoom.axes[1].title}: {'log10 ' if zoom.axes[1].scale == 'log' else ''}offset from the centre")
    fixed = ", ".join(f"{k} = {v}" for k, v in zoom.fixed.items())
    ax.set_title(f"{zoom.experiment} ({fixed})\n{_frame_title(zoom, index)}\n{_center_text(zoom, index)}", fontsize=8)
    fig.savefig(path, dpi=100)


def draw_strip(zoom: Zoom, path: Path, columns: int = 6) -> None:
    """Every frame, small, in reading order; each outlines the next one's window."""
    n = len(zoom.frames)
    cols = min(columns, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.3 * cols, 2.45 * rows + 0.5), layout="constrained")
    panels = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for i, ax in enumerate(panels):
        if i >= n:
            ax.set_axis_off()
            continue
        origin = zoom.frames[i].center
        draw_measure(ax, zoom.frames[i].measure, _relative_extent(zoom, i, origin))
        _draw_border(ax, zoom, i, origin)
        _mark_next(ax, zoom, i, origin)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_frame_title(zoom, i).replace(": ", "\n", 1), fontsize=8)
    fixed = ", ".join(f"{k} = {v}" for k, v in zoom.fixed.items())
    border = "" if zoom.border == "measure" else " black: where runs that blew up meet bounded ones;"
    title = (f"{zoom.experiment} ({fixed}): {zoom.axes[0].title} × {zoom.axes[1].title}, each frame {zoom.factor:g}× "
             f"narrower ({zoom.precision}, {zoom.steps} steps). Blue: the loss fell, red: it grew;{border} the box "
             f"outlines the next frame. Median boundary dimension D = {zoom.median_dimension:.2f}")
    fig.suptitle(textwrap.fill(title, width=int(13 * 2.3 * cols)), fontsize=9)
    fig.savefig(path, dpi=110)


def draw_box_counts(ax, fits, labels) -> None:
    """Box counts N(s) against box side s on log-log axes, with each fitted line and its slope."""
    for i, (fit, label) in enumerate(zip(fits, labels)):
        if not np.isfinite(fit.dimension):
            continue
        color = f"C{i % 10}"
        ax.loglog(fit.sizes, np.maximum(fit.counts, 0.5), "o", color=color, ms=4)
        ax.loglog(fit.sizes, fit.fitted(fit.sizes), "-", color=color, lw=1, label=f"{label}: D = {fit.dimension:.3f}")
    ax.set_xlabel("box side s (cells)")
    ax.set_ylabel("boxes holding boundary, N(s)")
    ax.legend(fontsize=7)


def draw_dimensions(zoom: Zoom, path: Path) -> None:
    """The box-counting fit of every frame, and the dimension against the zoom's depth."""
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    draw_box_counts(left, [f.dimension for f in zoom.frames], [f"frame {i}" for i in range(len(zoom.frames))])
    left.set_title("box counting: log N = c − D log s (least squares)", fontsize=9)
    depth = np.log10(zoom.factor) * np.arange(len(zoom.frames))
    right.plot(depth, zoom.dimensions, "o-", color="black")
    right.axhline(zoom.median_dimension, color="C3", ls="--", label=f"median D = {zoom.median_dimension:.3f}")
    for level, text in ((1, "smooth curve"), (2, "filled area")):
        right.axhline(level, color="grey", lw=0.8)
        right.text(depth[-1] if len(depth) else 0, level, text, ha="right", va="bottom", fontsize=7, color="grey")
    right.set_ylim(0.9, 2.1)
    right.set_xlabel("zoom depth (decades of magnification)")
    right.set_ylabel("box-counting dimension D")
    right.legend(fontsize=8)
    right.set_title(f"{zoom.experiment}: dimension of the boundary, frame by frame", fontsize=9)
    fig.savefig(path, dpi=110)


def animate(zoom: Zoom, path: Path, steps_per_frame: int = 6, fps: int = 8) -> None:
    """A GIF gliding from each frame into the next (matplotlib's Pillow writer).

    Between frames k and k + 1 the view shrinks geometrically about the point
    that the zoom maps frame k's window onto frame k + 1's, both frames drawn
    in place (the finer one on top)."""
    origin = zoom.frames[-1].center
    fig = Figure(figsize=(4.2, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.set_xticks([])
    ax.set_yticks([])
    coarse = draw_measure(ax, zoom.frames[0].measure, _relative_extent(zoom, 0, origin))
    fine = draw_measure(ax, zoom.frames[min(1, len(zoom.frames) - 1)].measure,
                        _relative_extent(zoom, min(1, len(zoom.frames) - 1), origin))
    title = ax.set_title("", fontsize=8)
    transitions = max(len(zoom.frames) - 1, 0)
    total = transitions * steps_per_frame + 1

    def view(k: int, t: float) -> list[float]:
        a = np.array(_relative_extent(zoom, k, origin)).reshape(2, 2)
        if t == 0 or k + 1 >= len(zoom.frames):
            return a.ravel().tolist()
        b = np.array(_relative_extent(zoom, k + 1, origin)).reshape(2, 2)
        ratio = (b[:, 1] - b[:, 0]) / (a[:, 1] - a[:, 0])
        fixed_point = (b[:, 0] - a[:, 0] * ratio) / (1 - ratio)
        scale = ratio**t
        return np.stack([fixed_point + (a[:, 0] - fixed_point) * scale,
                         fixed_point + (a[:, 1] - fixed_point) * scale], 1).ravel().tolist()

    def draw(i):
        k, t = min(i // steps_per_frame, transitions), (i % steps_per_frame) / steps_per_frame
        coarse.set_data(signed_rank(zoom.frames[k].measure).T)
        coarse.set_extent(_relative_extent(zoom, k, origin))
        nxt = min(k + 1, len(zoom.frames) - 1)
        fine.set_data(signed_rank(zoom.frames[nxt].measure).T)
        fine.set_extent(_relative_extent(zoom, nxt, origin))
        x0, x1, y0, y1 = view(k, t)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        title.set_text(f"{zoom.experiment}: {_frame_title(zoom, k)}")
        return coarse, fine, title

    FuncAnimation(fig, draw, frames=total).save(path, writer=PillowWriter(fps=fps), dpi=72)


def boundary_figures(facet: str | None = None) -> Callable[[Any, Path], dict[str, str]]:
    """An `Experiment.figures` hook: `boundary.png`, the continuous measure map (one
    panel per value of the `facet` axis), and `dimension.png`, each panel's
    box-counting fit. The map's first two log or linear axes are drawn."""

    def draw(result, directory: Path) -> dict[str, str]:
        directory = Path(directory)
        x_axis, y_axis = zoom_axes(result.grid)
        names = [a.name for a in result.axes]
        measure = np.asarray(result.measure, np.float64)
        facet_axis = result.grid.axis(facet) if facet else None
        panels = range(len(facet_axis)) if facet_axis is not None else [None]
        maps, labels = [], []
        for p in panels:
            index = tuple(slice(None) if n in (x_axis.name, y_axis.name) else (p if facet and n == facet else 0)
                          for n in names)
            panel = measure[index]
            if names.index(x_axis.name) > names.index(y_axis.name):
                panel = panel.T
            maps.append(panel)
            labels.append(facet_axis.value_label(p) if facet_axis is not None else result.experiment)
        fits = [fractal.boundary_dimension(m) for m in maps]
        fig = Figure(figsize=(4.2 * len(maps) + 0.4, 4.6), layout="constrained")
        (_, x_edges), (_, y_edges) = plots.edges(x_axis), plots.edges(y_axis)
        for ax, panel, label, fit in zip(np.atleast_1d(fig.subplots(1, len(maps))), maps, labels, fits):
            ax.pcolormesh(x_edges, y_edges, signed_rank(panel).T, cmap="RdBu_r", vmin=-1, vmax=1, rasterized=True)
            for axis, which in ((x_axis, "x"), (y_axis, "y")):
                plots.style_axis(ax, axis, which)
            ax.set_title(f"{label}: boundary D = {fit.dimension:.2f}", fontsize=9)
        fig.suptitle(f"{result.experiment}: the continuous measure after {result.steps} steps — blue: the loss fell "
                     f"(darker: by more), red: it grew (darker: blew up sooner); shades are ranks within each side",
                     fontsize=9)
        fig.savefig(directory / "boundary.png", dpi=110)
        fig = Figure(figsize=(5.5, 4.4), layout="constrained")
        draw_box_counts(fig.subplots(), fits, labels)
        fig.suptitle(f"{result.experiment}: box counting on the boundary of each map", fontsize=9)
        fig.savefig(directory / "dimension.png", dpi=110)
        return {
            "boundary.png": "The continuous measure of every cell: blue where the loss fell, red where it grew or "
                            "blew up (shaded by rank within each side); where they meet is the boundary.",
            "dimension.png": "Box counting on each map's boundary: boxes holding boundary against box side (log-log), "
                             "the fitted line's slope is the boundary's dimension D.",
        }

    return draw
