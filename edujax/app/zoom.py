"""Zooming into the boundary between training and blowing up.

`zoom` sweeps the same grid shape again and again over ever smaller windows
of an experiment's two drawn hyperparameters (its first two log or linear
axes), each window `factor` times narrower than the last, so every frame
reuses the one compiled sweep. The window shrinks around a point on the
boundary: given with `at`, or found frame by frame (the boundary cell
nearest the window's centre becomes the next frame's centre, so the zoom
follows the boundary down). On a log axis windows live in log10 units, as
in Sohl-Dickstein (2024).

Each frame records the continuous measure of every cell
(`SweepResult.measure`) and the box-counting dimension of its boundary.
`Zoom.save` writes every frame as a PNG, an animated GIF
(matplotlib's Pillow writer), a strip of all frames, the box-counting fits
(drawn by `edujax.report.fractal_plots`) and `zoom.json` with the windows,
dimensions and timings.

Deep zooms need float64: a float32 hyperparameter has about 7 significant
digits, so a window narrower than `fractal.finest_width` cannot be told
apart cell from cell; such a zoom is refused before anything runs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from edujax.core import fractal
from edujax.core.errors import UserError
from edujax.core.experiment import Experiment
from edujax.core.experiment import check_precision as check_precision_name
from edujax.core.grid import Axis, Grid
from edujax.store.files import atomic_dir, atomic_write, foreign, is_ours
from edujax.store.zoom import MEASURES, WRITTEN, ZOOM_JSON, Frame, Zoom, zoom_axes
from edujax.runner.sweep import sweep


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
        return (Axis(axis.name, axis.values[index: index + 1], "choice", axis.columns, axis.label,
                     axis.choices[index: index + 1]), axis.choices[index])
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
                raise UserError(f"--at {axis.name}={at[axis.name]}: axis {axis.name!r} is logarithmic, "
                                "so the point must be positive")
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


def check_resolution(axes, centers, widths, cells, frames: int, factor: float, precision: str) -> None:
    """Refuse, before anything runs, a zoom whose deepest window `precision` cannot resolve."""
    dtype = np.dtype(precision)
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


def check_options(frames, factor, precision: str, border: str) -> None:
    """Refuse (one line) a zoom's options that are wrong whatever the experiment."""
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise UserError(f"--frames must be a whole number ≥ 1, got {frames!r}")
    if not (isinstance(factor, (int, float)) and np.isfinite(factor) and factor > 1):
        raise UserError(f"--factor must be a number above 1, got {factor!r}")
    check_precision_name(precision)
    if border not in fractal.BORDERS:
        raise UserError(f"--border must be one of {', '.join(fractal.BORDERS)}, got {border!r}")


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
    check_options(frames, factor, precision, border)
    axes, centers, widths, followed, cells, fixed_axes, fixed = plan(experiment, at, resolution)
    check_resolution(axes, centers, widths, cells, frames, factor, precision)
    result = Zoom(experiment.name, axes, fixed, float(factor), steps or experiment.steps, precision, tuple(followed),
                  border)
    for k in range(frames):
        width = tuple(w / factor**k for w in widths)
        values = [fractal.axis_values(c, w, n, a.scale) for a, c, w, n in zip(axes, centers, width, cells)]
        grid = Grid(*(Axis(a.name, v, a.scale, a.columns, a.label) for a, v in zip(axes, values)), *fixed_axes)
        swept = sweep(experiment, grid, steps, seed=seed, max_memory=max_memory, examples_per_outcome=0,
                      precision=precision)
        side = fractal.sides(swept, border).reshape(cells)
        frame = Frame(tuple(centers), width, np.asarray(swept.measure, np.float64).reshape(cells), side,
                      fractal.boundary_dimension(side), swept.info["run_s"], swept.info["compile_s"])
        result.frames.append(frame)
        if report is not None:
            report(k, frame)
        found = fractal.nearest_boundary_cell(side, [(n - 1) / 2 for n in cells])
        if found is not None:  # follow the boundary on the axes whose centre was not given
            centers = [c - w / 2 + f * w / (n - 1) if follow else c
                       for c, w, f, n, follow in zip(centers, width, found, cells, followed)]
    return result


def save(zoom: Zoom, out) -> Path:
    """Write the zoom into `out/<name>/`, whole or not at all: frames, GIF, strip, fits, json, arrays.

    An existing `out/<name>/` is replaced only if it is an empty folder or a real folder holding nothing but an
    earlier zoom's files (`files.is_ours`).
    """
    from edujax.report.fractal_plots import animate, draw_dimensions, draw_frame, draw_strip  # matplotlib: only to save

    folder = Path(out) / zoom.name
    if not is_ours(folder, holds=ZOOM_JSON, only=WRITTEN):
        raise UserError(f"{folder} exists and holds files edujax zoom did not write "
                        f"({', '.join(foreign(folder, WRITTEN)[:3])}): move it away")
    with atomic_dir(folder, checked=True) as tmp:
        (tmp / "frames").mkdir()
        for i in range(len(zoom.frames)):
            draw_frame(zoom, i, tmp / "frames" / f"frame-{i:02d}.png")
        draw_strip(zoom, tmp / "strip.png")
        draw_dimensions(zoom, tmp / "dimension.png")
        animate(zoom, tmp / "zoom.gif")
        arrays = {**{f"measure/{i}": f.measure for i, f in enumerate(zoom.frames)},
                  **{f"side/{i}": f.side for i, f in enumerate(zoom.frames)}}
        atomic_write(tmp / MEASURES, lambda f: np.savez_compressed(f, **arrays))
        atomic_write(tmp / ZOOM_JSON, lambda f: f.write(json.dumps(zoom.describe(), indent=2).encode()))
    return folder


