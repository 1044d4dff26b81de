"""Zooming into the boundary between training and blowing up, and its pictures.

`zoom` sweeps the same grid shape again and again over ever smaller windows
of an experiment's two drawn hyperparameters (its first two log or linear
axes), each window `factor` times narrower than the last, so every frame
reuses the one compiled sweep. The window shrinks around a point on the
boundary: given with `at`, or found frame by frame (the boundary cell
nearest the window's centre becomes the next frame's centre, so the zoom
follows the boundary down). On a log axis windows live in log10 units, as
in Sohl-Dickstein (2024).

Each frame records the continuous measure of every cell
(`edujax.fractal.convergence_measure`) and the box-counting dimension of
its boundary. `Zoom.save` writes every frame as a PNG, an animated GIF
(matplotlib's Pillow writer), a strip of all frames, the box-counting fits
and `zoom.json` with the windows, dimensions and timings.

Deep zooms need float64: a float32 hyperparameter has about 7 significant
digits, so a window narrower than `fractal.finest_width` cannot be told
apart cell from cell; such a zoom is refused before anything runs.
"""
from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from edujax import fractal, plots
from edujax.errors import UserError
from edujax.experiment import Experiment
from edujax.grid import Axis, Grid
from edujax.result import atomic_dir, atomic_write
from edujax.runner import PRECISIONS, sweep

ZOOMABLE = ("log", "linear")
ZOOM_JSON, MEASURES = "zoom.json", "measures.npz"


@dataclasses.dataclass
class Frame:
    """One frame: its window (centre and width per zoomed axis, log10 units on a
    log axis), every cell's measure and side of the border (−1 training, +1 not;
    x cells × y cells), and the dimension of the border."""

    center: tuple[float, float]
    width: tuple[float, float]
    measure: np.ndarray
    side: np.ndarray
    dimension: fractal.BoxDimension
    run_s: float
    compile_s: float


@dataclasses.dataclass
class Zoom:
    """The frames of a zoom and what was held fixed."""

    experiment: str
    axes: tuple[Axis, Axis]  # the zoomed axes (their titles and scales; values are frame 0's)
    fixed: dict[str, str]  # every other hyperparameter that was set: name -> value as written
    factor: float
    steps: int
    precision: str
    followed: tuple[bool, bool]  # which axes' centres followed the boundary (not given by `at`)
    border: str = "measure"  # see `fractal.sides`
    frames: list[Frame] = dataclasses.field(default_factory=list)

    @property
    def dimensions(self) -> np.ndarray:
        return np.array([f.dimension.dimension for f in self.frames])

    @property
    def median_dimension(self) -> float:
        """The median of the frames' box-counting dimensions (frames without a boundary left out)."""
        found = self.dimensions[np.isfinite(self.dimensions)]
        return float(np.median(found)) if found.size else float("nan")

    @property
    def name(self) -> str:
        """Folder name: the experiment, then each fixed value, e.g. `fractal_boundary-zoom-tanh`."""
        parts = [self.experiment, "zoom"] + [v if not _is_number(v) else f"{k}{v}" for k, v in self.fixed.items()]
        parts += [self.border] if self.border != "measure" else []
        return "-".join(p.replace("/", "_") for p in parts)

    def window(self, index: int) -> list[tuple[float, float]]:
        """Frame `index`'s (lowest, highest) value per zoomed axis, in the axes' own units."""
        frame = self.frames[index]
        return [tuple(float(v) for v in fractal.axis_values(c, w, 2, a.scale)) for a, c, w in zip(self.axes, frame.center, frame.width)]

    def describe(self) -> dict[str, Any]:
        """What `zoom.json` holds."""
        return {
            "experiment": self.experiment, "factor": self.factor, "steps": self.steps, "precision": self.precision,
            "border": self.border,
            "axes": [{"name": a.name, "label": a.title, "scale": a.scale} for a in self.axes],
            "fixed": self.fixed, "followed_boundary": list(self.followed),
            "median_dimension": self.median_dimension,
            "frames": [
                {"center": list(f.center), "width": list(f.width), "window": self.window(i),
                 "cells": list(f.measure.shape), "dimension": f.dimension.dimension,
                 "box_sizes": f.dimension.sizes.tolist(), "box_counts": f.dimension.counts.tolist(),
                 "boundary_cells": int(fractal.boundary(f.side).sum()), "run_s": f.run_s, "compile_s": f.compile_s}
                for i, f in enumerate(self.frames)
            ],
        }

    def save(self, out) -> Path:
        """Write the zoom into `out/<name>/`, whole or not at all: frames, GIF, strip, fits, json, arrays."""
        folder = Path(out) / self.name
        with atomic_dir(folder) as tmp:
            (tmp / "frames").mkdir()
            for i in range(len(self.frames)):
                draw_frame(self, i, tmp / "frames" / f"frame-{i:02d}.png")
            draw_strip(self, tmp / "strip.png")
            draw_dimensions(self, tmp / "dimension.png")
            animate(self, tmp / "zoom.gif")
            arrays = {**{f"measure/{i}": f.measure for i, f in enumerate(self.frames)},
                      **{f"side/{i}": f.side for i, f in enumerate(self.frames)}}
            atomic_write(tmp / MEASURES, lambda f: np.savez_compressed(f, **arrays))
            atomic_write(tmp / ZOOM_JSON, lambda f: f.write(json.dumps(self.describe(), indent=2).encode()))
        return folder


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def zoom_axes(grid: Grid) -> tuple[Axis, Axis]:
    """The two axes a zoom magnifies: the grid's first two log or linear axes."""
    found = [a for a in grid.axes if a.scale in ZOOMABLE]
    if len(found) < 2:
        raise UserError(f"a zoom needs two log or linear axes to magnify; the grid has {grid!r}")
    return found[0], found[1]


def _number(name: str, text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UserError(f"--at {name}={text}: expected a number") from None
    if not np.isfinite(value):
        raise UserError(f"--at {name}={text}: expected a finite number")
    return value


def _fixed_axis(axis: Axis, given) -> tuple[Axis, str]:
    """A one-value copy of a grid axis that is not zoomed: the value given, else its first."""
    if axis.scale == "choice":
        if given is None:
            index = 0
        elif str(given) in axis.choices:
            index = axis.choices.index(str(given))
        else:
            raise UserError(f"--at {axis.name}={given}: not one of {', '.join(axis.choices)}")
        return Axis(axis.name, axis.values[index: index + 1], "choice", axis.columns, axis.label, axis.choices[index: index + 1]), axis.choices[index]
    if axis.scale == "points":
        if given is not None:
            raise UserError(f"--at {axis.name}: axis {axis.name!r} sets several columns and cannot be given a value")
        return Axis(axis.name, axis.values[:1], "points", axis.columns, axis.label), axis.value_label(0)
    if axis.scale == "seed":
        value = axis.values[0] if given is None else int(_number(axis.name, given))
        return Axis(axis.name, np.asarray([value], np.int32), "seed", axis.columns, axis.label), str(value)
    value = axis.values[0] if given is None else _number(axis.name, given)
    if axis.scale == "log" and value <= 0:
        raise UserError(f"--at {axis.name}={given}: axis {axis.name!r} is logarithmic, so its value must be positive")
    return Axis(axis.name, np.asarray([value], np.float64), axis.scale, axis.columns, axis.label), f"{value:g}"


def plan(experiment: Experiment, at: Mapping[str, Any] | None = None, resolution: int | None = None):
    """Resolve what a zoom sweeps: (zoomed axes, frame-0 centres, frame-0 widths,
    which centres follow the boundary, cells per axis, fixed axes, fixed values as written)."""
    at = dict(at or {})
    grid = experiment.grid
    axes = zoom_axes(grid)
    known = set(grid.names) | set(experiment.defaults)
    unknown = sorted(set(at) - known)
    if unknown:
        raise UserError(f"--at {unknown[0]}: no hyperparameter of that name (axes: {', '.join(grid.names)};"
                        f" other hyperparameters: {', '.join(experiment.defaults) or 'none'})")
    centers, widths, followed = [], [], []
    for axis in axes:
        center, width = fractal.window_coords(axis.values, axis.scale)
        if axis.name in at:
            value = _number(axis.name, at[axis.name])
            if axis.scale == "log" and value <= 0:
                raise UserError(f"--at {axis.name}={at[axis.name]}: axis {axis.name!r} is logarithmic, so the point must be positive")
            center = float(np.log10(value)) if axis.scale == "log" else value
        centers.append(center)
        widths.append(width)
        followed.append(axis.name not in at)
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 4):
        raise UserError(f"--resolution must be a whole number ≥ 4, got {resolution!r}")
    cells = tuple(resolution or len(a) for a in axes)
    fixed_axes, fixed = [], {}
    for axis in grid.axes:
        if axis in axes:
            continue
        one, label = _fixed_axis(axis, at.get(axis.name))
        fixed_axes.append(one)
        fixed[axis.name] = label
    for name in experiment.defaults:
        if name in at:
            value = _number(name, at[name])
            fixed_axes.append(Axis(name, np.asarray([value], np.float64), "linear"))
            fixed[name] = f"{value:g}"
    return axes, centers, widths, followed, cells, fixed_axes, fixed


def check_precision(axes, centers, widths, cells, frames: int, factor: float, precision: str) -> None:
    """Refuse, before anything runs, a zoom whose deepest window `precision` cannot resolve."""
    dtype = PRECISIONS[precision]
    for axis, center, width, n in zip(axes, centers, widths, cells):
        extent = abs(center) + width / 2  # the largest |value| a linear window can reach (its centre follows within it)
        finest = fractal.finest_width(extent, n, axis.scale, dtype)
        for k in range(frames):
            narrow = width / factor**k
            if narrow < finest:
                units = " decades" if axis.scale == "log" else ""
                hint = "zoom less deep" if precision == "float64" else "zoom less deep or compute in float64 (--x64)"
                raise UserError(f"frame {k}'s window on {axis.name} ({narrow:.2g}{units} over {n} cells) is narrower "
                                f"than {precision} resolves ({finest:.2g}{units}): {hint}")


def zoom(
    experiment: Experiment,
    *,
    frames: int = 8,
    factor: float = 4.0,
    at: Mapping[str, Any] | None = None,
    resolution: int | None = None,
    steps: int | None = None,
    precision: str = "float32",
    border: str = "measure",
    seed: int = 0,
    max_memory: int | None = None,
    report: Callable[[int, Frame], None] | None = None,
) -> Zoom:
    """Magnify the boundary of `experiment`'s map `frames` times by `factor`.

    Frame k's window on each zoomed axis is the experiment's own window
    (frame 0) divided by factor^k, centred on the point given in `at` (a
    zoomed axis's name -> its value) or, for an axis not given there, on the
    boundary: the centre of the boundary cell of frame k − 1 nearest to that
    frame's centre. `at` also fixes any other hyperparameter (a choice by its
    name); other axes take their first value. Every frame is a sweep of the
    same grid shape, so the sweep compiles once. `border` picks the border
    to follow and measure (`fractal.sides`). `report(k, frame)` is called
    after each frame.

    >>> import edujax as ej                                                # doctest: +SKIP
    >>> z = ej.zoom(ej.load("fractal_boundary"), frames=3, at={"nonlinearity": "tanh"}, resolution=64)
    >>> z.median_dimension                                                 # doctest: +SKIP
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise UserError(f"--frames must be a whole number ≥ 1, got {frames!r}")
    if not (isinstance(factor, (int, float)) and np.isfinite(factor) and factor > 1):
        raise UserError(f"--factor must be a number above 1, got {factor!r}")
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if border not in fractal.BORDERS:
        raise UserError(f"--border must be one of {', '.join(fractal.BORDERS)}, got {border!r}")
    axes, centers, widths, followed, cells, fixed_axes, fixed = plan(experiment, at, resolution)
    check_precision(axes, centers, widths, cells, frames, factor, precision)
    result = Zoom(experiment.name, axes, fixed, float(factor), steps or experiment.steps, precision, tuple(followed), border)
    for k in range(frames):
        width = tuple(w / factor**k for w in widths)
        values = [fractal.axis_values(c, w, n, a.scale) for a, c, w, n in zip(axes, centers, width, cells)]
        grid = Grid(*(Axis(a.name, v, a.scale, a.columns, a.label) for a, v in zip(axes, values)), *fixed_axes)
        swept = sweep(experiment, grid, steps, seed=seed, max_memory=max_memory, examples_per_outcome=0, precision=precision)
        side = fractal.sides(swept, border).reshape(cells)
        frame = Frame(tuple(centers), width, fractal.convergence_measure(swept).reshape(cells), side,
                      fractal.boundary_dimension(side), swept.info["run_s"], swept.info["compile_s"])
        result.frames.append(frame)
        if report is not None:
            report(k, frame)
        found = fractal.nearest_boundary_cell(side, [(n - 1) / 2 for n in cells])
        if found is not None:  # follow the boundary on the axes whose centre was not given
            centers = [c - w / 2 + f * w / (n - 1) if follow else c
                       for c, w, f, n, follow in zip(centers, width, found, cells, followed)]
    return result


# --- pictures ----------------------------------------------------------------------------------

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
    if index + 1 < len(zoom.frames):
        x0, x1, y0, y1 = _relative_extent(zoom, index + 1, origin)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", lw=1.2))


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
    border = "" if zoom.border == "measure" else " black: where diverged runs meet bounded ones;"
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
    fine = draw_measure(ax, zoom.frames[min(1, len(zoom.frames) - 1)].measure, _relative_extent(zoom, min(1, len(zoom.frames) - 1), origin))
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
        return np.stack([fixed_point + (a[:, 0] - fixed_point) * scale, fixed_point + (a[:, 1] - fixed_point) * scale], 1).ravel().tolist()

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
        measure = fractal.convergence_measure(result)
        facet_axis = result.grid.axis(facet) if facet else None
        panels = range(len(facet_axis)) if facet_axis is not None else [None]
        maps, labels = [], []
        for p in panels:
            index = tuple(slice(None) if n in (x_axis.name, y_axis.name) else (p if facet and n == facet else 0) for n in names)
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
            "boundary.png": "The continuous measure of every cell: blue where the loss fell, red where it grew or blew up "
                            "(shaded by rank within each side); where they meet is the boundary.",
            "dimension.png": "Box counting on each map's boundary: boxes holding boundary against box side (log-log), "
                             "the fitted line's slope is the boundary's dimension D.",
        }

    return draw
