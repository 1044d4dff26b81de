"""A zoom's data: its frames (windows, measures, box-counting dimensions) and what `zoom.json` holds.

`edujax.app.zoom` computes the frames; `edujax.app.zoom.save` writes them
(frames, GIF, strip and fits drawn by `edujax.report.fractal_plots`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from edujax.core import fractal
from edujax.core.errors import UserError
from edujax.core.grid import Axis, Grid

ZOOMABLE = ("log", "linear")
ZOOM_JSON, MEASURES = "zoom.json", "measures.npz"
#: Everything a zoom folder holds.
WRITTEN = ("frames", "zoom.gif", "strip.png", "dimension.png", ZOOM_JSON, MEASURES)


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
        return [tuple(float(v) for v in fractal.axis_values(c, w, 2, a.scale))
                for a, c, w in zip(self.axes, frame.center, frame.width)]

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
