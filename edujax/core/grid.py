"""Named grid axes and their Cartesian product.

An axis sets one or more hyperparameter *columns*. A grid flattens the product
of its axes into one row per setting (C order: the last axis varies fastest),
so the runner can `vmap` over rows and the results can be reshaped back.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from edujax.core.errors import UserError

SCALES = ("log", "linear", "seed", "points", "choice")


@dataclasses.dataclass(frozen=True, eq=False)
class Axis:
    """One dimension of a sweep.

    `values` has shape (n,) for a single column, or (n, len(columns)) for a
    `points` axis that sets several columns together (e.g. a start point).
    A `choice` axis has values 0..n-1 and one name per value in `choices`.
    """

    name: str
    values: np.ndarray
    scale: str = "linear"
    columns: tuple[str, ...] = ()
    label: str = ""
    choices: tuple[str, ...] = ()

    def __post_init__(self):
        if self.scale not in SCALES:
            raise UserError(f"axis {self.name!r}: unknown scale {self.scale!r} (use one of {', '.join(SCALES)})")
        if not self.columns:
            object.__setattr__(self, "columns", (self.name,))
        values = np.asarray(self.values)
        if len(values) == 0:
            raise UserError(f"axis {self.name!r} is empty")
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise UserError(f"axis {self.name!r} has non-finite values")
        if self.scale == "choice" and len(self.choices) != len(values):
            raise UserError(f"axis {self.name!r}: {len(values)} values but {len(self.choices)} choice names")
        if self.scale == "log" and np.any(values <= 0):
            raise UserError(f"axis {self.name!r} is logarithmic, so its values must be positive")
        expected_ndim = 2 if self.scale == "points" else 1
        if values.ndim != expected_ndim or (expected_ndim == 2 and values.shape[1] != len(self.columns)):
            raise UserError(f"axis {self.name!r}: values of shape {values.shape} do not match columns {self.columns}")
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return len(self.values)

    def astype(self, dtype) -> "Axis":
        """This axis with float values cast to `dtype` (integer axes, seeds and choices, unchanged).

        >>> values("x", [0.1]).astype(np.float32).values.item()
        0.10000000149011612
        """
        if self.values.dtype.kind != "f" or self.values.dtype == np.dtype(dtype):
            return self
        return dataclasses.replace(self, values=self.values.astype(dtype))

    @property
    def title(self) -> str:
        return self.label or self.name

    def value_label(self, i: int) -> str:
        """How value number `i` is written on a plot."""
        if self.scale == "choice":
            return self.choices[i]
        if self.scale == "points":
            return "(" + ", ".join(f"{v:.3g}" for v in self.values[i]) + ")"
        return f"{self.values[i]:.3g}"


def _check_range(name: str, start, stop) -> None:
    if not np.all(np.isfinite([start, stop])):
        raise UserError(f"axis {name!r} has non-finite values (start {start}, stop {stop})")


def _check_count(name: str, num) -> int:
    if isinstance(num, float) and num.is_integer():
        num = int(num)
    if not isinstance(num, (int, np.integer)) or num < 1:
        raise UserError(f"axis {name!r}: the number of values must be a positive integer, got {num!r}")
    return int(num)


def logspace(name: str, start: float, stop: float, num: int, label: str = "") -> Axis:
    """`num` log-spaced values from `start` to `stop` (both included): learning rates.

    Axis values are kept in float64; a sweep casts them to its precision (`Grid.astype`), so a float64 sweep
    runs exactly the values asked for.

    >>> logspace("learning_rate", 1e-3, 1.0, 4).values.tolist()
    [0.001, 0.01, 0.1, 1.0]
    """
    num = _check_count(name, num)
    _check_range(name, start, stop)
    if not (start > 0 and stop > 0):
        raise UserError(f"axis {name!r} is logarithmic, so start and stop must be positive (got {start}, {stop})")
    return Axis(name, np.geomspace(start, stop, num, dtype=np.float64), "log", label=label)


def linspace(name: str, start: float, stop: float, num: int, label: str = "") -> Axis:
    """`num` evenly spaced values from `start` to `stop` (both included): momentum, angles, positions."""
    num = _check_count(name, num)
    _check_range(name, start, stop)
    return Axis(name, np.linspace(start, stop, num, dtype=np.float64), "linear", label=label)


def values(name: str, vals: Sequence[float], scale: str = "linear", label: str = "") -> Axis:
    """An explicit list of values, e.g. a handful of penalty weights."""
    return Axis(name, np.asarray(vals, dtype=np.float64), scale, label=label)


def seeds(num: int, name: str = "seed", start: int = 0) -> Axis:
    """`num` initialisation seeds; the runner folds the `seed` column into each run's PRNG key."""
    num = _check_count(name, num)
    return Axis(name, np.arange(start, start + num, dtype=np.int32), "seed", label="init seed")


def choice(name: str, options: Sequence[str], label: str = "") -> Axis:
    """A categorical axis: the column holds the option's index (0, 1, …), e.g.
    to pick an optimizer with `jax.lax.switch` or a loss with `jnp.where`."""
    options = tuple(options)
    return Axis(name, np.arange(len(options), dtype=np.int32), "choice", label=label, choices=options)


def points(name: str, pts, columns: Sequence[str], label: str = "") -> Axis:
    """Explicit points that set several columns together, e.g. start points (x0, y0)."""
    return Axis(name, np.asarray(pts, dtype=np.float64), "points", tuple(columns), label)


def spread_indices(shape: tuple[int, ...], budget: int) -> list[np.ndarray]:
    """Evenly spread indices along each dimension, at most `budget` cells in all.

    The longest dimension is thinned first, so a 256 × 256 × 4-seed grid keeps
    every seed and about 32 × 32 settings under a budget of 4096; end points
    are always kept.

    >>> [len(i) for i in spread_indices((256, 256, 4), 4096)]
    [32, 32, 4]
    """
    counts = list(shape)
    while math.prod(counts) > budget:
        longest = int(np.argmax(counts))
        counts[longest] = max(1, min(counts[longest] - 1, int(counts[longest] * 0.9)))
    return [np.unique(np.linspace(0, n - 1, m).round().astype(np.int64)) for n, m in zip(shape, counts)]


class Grid:
    """The Cartesian product of named axes."""

    def __init__(self, *axes: Axis):
        if not axes:
            raise UserError("a grid needs at least one axis")
        names = [a.name for a in axes]
        columns = [c for a in axes for c in a.columns]
        for seen, what in ((names, "axis"), (columns, "column")):
            dup = sorted({n for n in seen if seen.count(n) > 1})
            if dup:
                raise UserError(f"grid has a duplicated {what}: {', '.join(dup)}")
        self.axes = tuple(axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    def axis(self, name: str) -> Axis:
        for a in self.axes:
            if a.name == name:
                return a
        raise UserError(f"no axis {name!r} in the grid (axes: {', '.join(self.names)})")

    def replace(self, new: Axis) -> "Grid":
        """The same grid with axis `new.name` replaced, or appended if it is new."""
        if new.name in self.names:
            return Grid(*(new if a.name == new.name else a for a in self.axes))
        return Grid(*self.axes, new)

    def astype(self, dtype) -> "Grid":
        """This grid with every float axis cast to `dtype`: what a sweep in that precision runs.

        >>> Grid(values("x", [0.1])).astype(np.float64).axes[0].values.item()
        0.1
        """
        return Grid(*(a.astype(dtype) for a in self.axes))

    def columns(self) -> dict[str, np.ndarray]:
        """Hyperparameter columns, one row per setting, flattened in C order."""
        index = np.indices(self.shape).reshape(len(self.axes), -1)
        cols = {}
        for axis, idx in zip(self.axes, index):
            picked = axis.values[idx]
            if axis.scale == "points":
                cols.update({c: picked[:, j] for j, c in enumerate(axis.columns)})
            else:
                cols[axis.name] = picked
        return cols

    def describe(self) -> list[dict]:
        """A JSON-friendly description, stored in summary.json."""
        return [
            {"name": a.name, "scale": a.scale, "size": len(a), "columns": list(a.columns), "label": a.title,
             "min": float(np.min(a.values)), "max": float(np.max(a.values)),
             **({"choices": list(a.choices)} if a.choices else {})}
            for a in self.axes
        ]

    def __repr__(self) -> str:
        return "Grid(" + " × ".join(f"{a.name}[{len(a)}]" for a in self.axes) + ")"


def parse_axis(spec: str, grid: Grid, defaults) -> Axis:
    """An axis from the command line's `--grid NAME=START:STOP:NUM[:log|:linear]` (`NAME=NUM` for a seed
    axis): it replaces the grid's axis of that name, keeping its spacing, or sweeps one of the `defaults`.

    >>> axis = parse_axis("learning_rate=1e-3:1:4", Grid(logspace("learning_rate", 1e-4, 1.0, 8)), {})
    >>> axis.values.astype(float).round(6).tolist()
    [0.001, 0.01, 0.1, 1.0]
    """
    name, sep, body = spec.partition("=")
    if not sep or not name:
        raise UserError(f"--grid {spec!r}: expected NAME=START:STOP:NUM")
    existing = next((a for a in grid.axes if a.name == name), None)
    if existing is None and name not in defaults:
        raise UserError(f"--grid {spec!r}: no hyperparameter {name!r} (axes: {', '.join(grid.names)};"
                        f" other hyperparameters: {', '.join(defaults) or 'none'})")
    parts = body.split(":")
    if existing is not None and existing.scale == "seed":
        if len(parts) != 1 or not parts[0].isdigit():
            raise UserError(f"--grid {spec!r}: a seed axis takes a count, e.g. {name}=8")
        return seeds(int(parts[0]), name=name)
    if existing is not None and existing.scale in ("points", "choice"):
        raise UserError(f"--grid {spec!r}: axis {name!r} lists explicit values and cannot be set from the command line")
    scale = parts.pop() if len(parts) == 4 else (existing.scale if existing is not None else "linear")
    if len(parts) != 3 or scale not in ("log", "linear"):
        raise UserError(f"--grid {spec!r}: expected NAME=START:STOP:NUM, optionally followed by :log or :linear")
    try:
        start, stop, num = float(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise UserError(f"--grid {spec!r}: START, STOP and NUM must be numbers") from None
    label = existing.label if existing is not None else ""
    make = logspace if scale == "log" else linspace
    return make(name, start, stop, num, label=label)
