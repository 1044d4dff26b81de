"""Fractal boundaries: where training converges and where it blows up, and how rough that border is.

A sweep gives every cell a continuous *measure* (`SweepResult.measure`, see
`edujax.core.outcomes`): negative where the loss fell (by that many decades),
positive where it grew or became non-finite. The *boundary* is where the two
meet: the 2 × 2 blocks of neighbouring cells whose measures disagree in sign
(`boundary`); `sides` also reads a map for Liu's border, runs that stay
bounded against runs that blow up.

Its box-counting dimension (`box_dimension`) says how rough it is. Cover the
boundary with boxes of side s cells and count the boxes N(s) that hold some
of it: a smooth curve needs N ∝ 1/s, a region that fills the plane
N ∝ 1/s², and a fractal curve something between,

    N(s) ∝ s^(−D),   D = −d log N / d log s,

estimated as the slope of a least-squares line through (log s, log N) over
box sides s = 1, 2, 4, … up to a quarter of the picture (N(s): the fewest
boxes over four placements of the box grid, see `box_counts`). The Koch curve has
D = log 4 / log 3 ≈ 1.262; Sohl-Dickstein (2024) measured 1.17–1.98 for the
trainability boundary of small networks.

The zoom into a boundary (`edujax.zoom`) uses the window arithmetic at the
end of this module: windows shrink around a centre, in log10 units on log
axes, and a window is refused when the precision of the computation cannot
tell its neighbouring cells apart.

This module is numpy only: the pictures are drawn in `edujax.zoom`.
"""
from __future__ import annotations

import dataclasses

import numpy as np


# --- the boundary ------------------------------------------------------------------------------

#: The borders a map can be read for: where the measure changes sign (the loss
#: fell / grew), or where runs whose loss blew up (became inf or NaN) meet the rest.
BORDERS = ("measure", "blowup")


def sides(result, border: str = "measure") -> np.ndarray:
    """−1 for the cells on the training side of `border`, +1 for the rest, grid-shaped:
    a map whose `boundary` is that border.

    "measure": the sign of `result.measure` (did the loss fall?). "blowup": runs
    whose final loss is not finite against the rest (did the iteration escape
    to infinity within the steps?), the bounded/divergent border of Liu (2024).
    Where bounded runs hop around chaotically forever, whether one ends above
    its start is chance and the measure's sign turns into noise; whether it
    escaped is not.
    """
    if border == "measure":
        return np.where(np.asarray(result.measure) < 0, -1.0, 1.0)
    if border == "blowup":
        return np.where(np.isfinite(np.asarray(result.final["loss"])), -1.0, 1.0)
    raise ValueError(f"unknown border {border!r} (use one of {', '.join(BORDERS)})")


def boundary(measure) -> np.ndarray:
    """The 2 × 2 blocks of cells whose measures disagree in sign: (H − 1, W − 1) booleans.

    A cell converges where its measure is negative; zero counts as not converging.

    >>> boundary(np.array([[-1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]]))
    array([[False,  True]])
    """
    below = np.asarray(measure) < 0
    blocks = np.stack([below[1:, 1:], below[:-1, 1:], below[1:, :-1], below[:-1, :-1]])
    return blocks.any(0) & ~blocks.all(0)


# --- box counting ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BoxDimension:
    """The box-counting fit: `counts[i]` boxes of side `sizes[i]` cells hold boundary;
    log N = intercept − dimension · log s. `dimension` and `intercept` are NaN
    when there is no boundary or only one box side."""

    dimension: float
    sizes: np.ndarray
    counts: np.ndarray
    intercept: float

    def fitted(self, sizes) -> np.ndarray:
        """The fitted line's N at box sides `sizes`."""
        return np.exp(self.intercept - self.dimension * np.log(np.asarray(sizes, np.float64)))


def box_counts(mask, sizes) -> np.ndarray:
    """The fewest boxes of each side (cells) that hold all True cells of `mask`,
    over four placements of the box grid: at the corner, and shifted by half
    a box along either axis or both. A single placement overcounts whenever
    its grid lines happen to cut the set badly, more so for big boxes, which
    biases the dimension low (the Koch curve drawn on 256 × 256 cells gives
    1.22 with one placement, 1.24 with four; its dimension is 1.262).

    >>> box_counts(np.eye(8, dtype=bool), [1, 2, 4, 8])
    array([8, 4, 2, 1])
    """
    mask = np.asarray(mask, bool)
    counts = []
    for s in sizes:
        shifts = sorted({0, s // 2})
        fewest = None
        for dx in shifts:
            for dy in shifts:
                h, w = -(-(mask.shape[0] + dx) // s) * s, -(-(mask.shape[1] + dy) // s) * s
                placed = np.zeros((h, w), bool)
                placed[dx: dx + mask.shape[0], dy: dy + mask.shape[1]] = mask
                count = int(placed.reshape(h // s, s, w // s, s).any(axis=(1, 3)).sum())
                fewest = count if fewest is None else min(fewest, count)
        counts.append(fewest)
    return np.asarray(counts)


def box_dimension(mask, sizes=None) -> BoxDimension:
    """The box-counting dimension of the True cells of a 2-D mask (see the module docstring).

    `sizes` defaults to 1, 2, 4, … up to about a quarter of the mask's shorter side.

    >>> round(box_dimension(np.eye(256, dtype=bool)).dimension, 3)
    1.0
    """
    mask = np.asarray(mask, bool)
    if sizes is None:
        sizes = 2 ** np.arange(int(round(np.log2(max(min(mask.shape) / 4, 1)))) + 1)  # 255 cells: 1 … 64
    sizes = np.asarray(sizes, np.int64)
    counts = box_counts(mask, sizes)
    if len(sizes) < 2 or not mask.any():  # one box side, or no boundary (no box holds any): no slope to fit
        return BoxDimension(float("nan"), sizes, counts, float("nan"))
    slope, intercept = np.polyfit(np.log(sizes), np.log(counts), 1)
    return BoxDimension(float(-slope), sizes, counts, float(intercept))


def boundary_dimension(measure) -> BoxDimension:
    """`box_dimension` of the boundary of a measure map (where its sign changes)."""
    return box_dimension(boundary(measure))


# --- zoom windows ------------------------------------------------------------------------------

#: A window is resolved when neighbouring cells differ by at least this many
#: units in the last place of the precision: below it the picture shows the
#: rounding of the hyperparameters, not the landscape.
RESOLVE_ULPS = 16


def axis_values(center: float, width: float, num: int, scale: str) -> np.ndarray:
    """`num` float64 values spanning a window of `width` around `center`, in
    log10 units on a log axis (the values are then 10^(center ± width/2))."""
    coords = center + width * (np.arange(num, dtype=np.float64) / max(num - 1, 1) - 0.5)
    return 10.0**coords if scale == "log" else coords


def window_coords(values, scale: str) -> tuple[float, float]:
    """(centre, width) of an axis's values, in log10 units on a log axis."""
    coords = np.log10(np.asarray(values, np.float64)) if scale == "log" else np.asarray(values, np.float64)
    return float((coords[0] + coords[-1]) / 2), float(coords[-1] - coords[0])


def finest_width(extent: float, num: int, scale: str, dtype) -> float:
    """The narrowest window (log10 units on a log axis) whose `num` cells a
    computation in `dtype` still tells apart: neighbouring cells RESOLVE_ULPS
    units in the last place apart. `extent` is the largest |value| the window
    can reach on a linear axis (unused on a log axis, whose cells are relative).

    >>> f"{finest_width(0, 256, 'log', np.float32):.1e}, {finest_width(0, 256, 'log', np.float64):.1e}"
    '2.1e-04, 3.9e-13'
    """
    eps = float(np.finfo(dtype).eps)
    if scale == "log":
        return RESOLVE_ULPS * eps * (num - 1) / np.log(10)
    return RESOLVE_ULPS * eps * (num - 1) * max(abs(extent), np.finfo(dtype).tiny)


def nearest_boundary_cell(measure, target) -> tuple[float, float] | None:
    """The centre (fractional cell indices) of the boundary block nearest to
    `target` (cell indices), or None when the map has no boundary."""
    blocks = np.argwhere(boundary(measure))
    if not len(blocks):
        return None
    centres = blocks + 0.5
    nearest = centres[np.argmin(np.sum((centres - np.asarray(target, np.float64)) ** 2, axis=1))]
    return float(nearest[0]), float(nearest[1])
