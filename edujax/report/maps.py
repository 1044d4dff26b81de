"""How a sweep's grid becomes a picture: which axes are drawn, faceted or
aggregated, where the cells' edges lie, where the theory lines run.

NumPy only, shared by the PNG figures (`edujax.report.plots`) and the results page
(`edujax.report.page`), so both draw the same map and the page needs no matplotlib.
"""
from __future__ import annotations

import numpy as np

from edujax.core.grid import Axis


def majority(codes: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The most common outcome over `axes` (ties go to the earlier outcome).

    >>> majority(np.array([[0, 1, 1], [2, 2, 0]]), (1,)).tolist()
    [1, 2]
    """
    if not axes:
        return codes
    tallies = np.stack([(codes == c).sum(axis=axes) for c in range(int(codes.max()) + 1)])
    return tallies.argmax(0)


def layout(result) -> tuple[list[int], list[int], list[int]]:
    """Split grid dimensions into (drawn x/y, faceted, aggregated by majority).

    Seed axes are always aggregated; of the others the first two are drawn,
    the third becomes one panel per value, and any further ones are aggregated.
    """
    dims = [i for i, a in enumerate(result.axes) if a.scale != "seed"]
    drawn, faceted, rest = dims[:2], dims[2:3], dims[3:]
    aggregated = rest + [i for i, a in enumerate(result.axes) if a.scale == "seed"]
    return drawn, faceted, aggregated


def edges(axis: Axis) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres and edges along an axis (geometric on log axes, indices for points).

    >>> import edujax as ej
    >>> edges(ej.logspace("lr", 1e-2, 1.0, 3))[1].round(4).tolist()
    [0.0032, 0.0316, 0.3162, 3.1623]
    """
    if axis.scale in ("points", "choice") or len(axis) == 1:
        centres = np.arange(len(axis), dtype=float) if axis.scale in ("points", "choice") else axis.values.astype(float)
        half = np.diff(centres).mean() / 2 if len(centres) > 1 else max(abs(centres[0]) * 0.1, 0.5)
        return centres, np.concatenate([centres - half, [centres[-1] + half]])
    centres = axis.values.astype(float)
    space = np.log(centres) if axis.scale == "log" else centres
    mids = (space[1:] + space[:-1]) / 2
    inner = np.concatenate([[2 * space[0] - mids[0]], mids, [2 * space[-1] - mids[-1]]])
    return centres, np.exp(inner) if axis.scale == "log" else inner


def boundary_values(result, boundary: dict, drawn: list[int], facet_index: dict[int, int]) -> np.ndarray:
    """A boundary's value along the other drawn axis (a scalar on a 1-D map) at
    one panel: `facet_index` picks the faceted dims, aggregated dims take index 0."""
    others = [i for i in range(len(result.axes)) if result.axes[i].name != boundary["axis"]]
    index = tuple(slice(None) if i in drawn else facet_index.get(i, 0) for i in others)
    return np.asarray(boundary["value"])[index] if others else np.asarray(boundary["value"])


def loss_gap(loss: np.ndarray, global_min: float) -> np.ndarray:
    """|loss − global min| as drawn on log axes: floored at 1e-12, NaN where a loss was not finite.

    >>> loss_gap(np.array([1.5, 1.0, np.inf]), 1.0).tolist()
    [0.5, 1e-12, nan]
    """
    gap = np.abs(np.asarray(loss, np.float64) - global_min)
    gap[~np.isfinite(gap)] = np.nan
    return np.maximum(gap, 1e-12)


def describe_setting(result, flat_index: int) -> str:
    """'learning_rate=0.01, start_angle=45' for one flattened grid index."""
    parts = []
    for axis in result.axes:
        for column in axis.columns:
            value = result.hparams[column].ravel()[flat_index]
            parts.append(f"{column}={axis.choices[int(value)] if axis.scale == 'choice' else format(value, '.3g')}")
    return ", ".join(parts)


def measure_range(measure: np.ndarray) -> tuple[float, float]:
    """The colour scale's ends for a measure map: robust (1st/99th percentile) and on both sides of 0."""
    finite = measure[np.isfinite(measure)]
    if not finite.size:
        return -1.0, 1.0
    low, high = np.percentile(finite, [1, 99])
    return min(float(low), -1e-3), max(float(high), 1e-3)
