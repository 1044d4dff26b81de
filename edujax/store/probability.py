"""Answers over seeds: how likely each outcome is per setting, and 1-D sweeps as curves.

NumPy only (shared by the PNGs in `edujax.report.plots_answers` and by the page). With a seed axis
(`ej.seeds`) every setting of the other axes is run once per seed, so each outcome has a
probability per setting: k of n seeds, with a 95 % Wilson score interval (Wilson 1927), which
stays inside [0, 1] and is not empty at k = 0 or k = n, unlike the normal approximation.
"""
from __future__ import annotations

import warnings

import numpy as np

from edujax.core.errors import UserError

#: z of a two-sided 95 % interval (1.95996…, rounded as it is usually quoted).
Z95 = 1.96
#: Axis scales that are numbers along a line (a 1-D sweep has exactly one of them).
NUMERIC = ("log", "linear")


def wilson_interval(k, n, z: float = Z95):
    """The Wilson score interval (lo, hi) of a probability seen k times in n trials (arrays broadcast).

    >>> [round(float(v), 4) for v in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    k, n = np.asarray(k, np.float64), np.asarray(n, np.float64)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise UserError(f"wilson_interval needs 0 ≤ k ≤ n and n ≥ 1 (got k={k.tolist()}, n={n.tolist()})")
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def seed_dims(result) -> tuple[int, ...]:
    """The grid dimensions of `result` that are seed axes."""
    return tuple(i for i, a in enumerate(result.axes) if a.scale == "seed")


def outcome_code(result, outcome: str) -> int:
    if outcome not in result.outcome_names:
        raise UserError(f"no outcome {outcome!r} (outcomes: {', '.join(result.outcome_names)})")
    return result.outcome_names.index(outcome)


def probabilities(result, outcome: str = "converged", z: float = Z95):
    """(p, lo, hi): the share of seeds whose run ended in `outcome`, per setting of the other axes, with
    its Wilson interval; arrays over the non-seed axes, in grid order. Without a seed axis, n = 1.

    >>> p, lo, hi = result.probabilities("converged")   # a grid learning_rate × seeds(8): arrays over lr
    """
    dims = seed_dims(result)
    hits = (np.asarray(result.outcome) == outcome_code(result, outcome)).sum(axis=dims)
    n = int(np.prod([result.outcome.shape[d] for d in dims]))
    lo, hi = wilson_interval(hits, n, z)
    return hits / n, lo, hi


def line_axis(result) -> int | None:
    """The one numeric axis of a 1-D sweep (every other axis a seed or choice axis), else None."""
    numeric = [i for i, a in enumerate(result.axes) if a.scale in NUMERIC and len(a) > 1]
    rest = [a for i, a in enumerate(result.axes) if i not in numeric and len(a) > 1]
    if len(numeric) != 1 or any(a.scale not in ("seed", "choice") for a in rest):
        return None
    return numeric[0]


def line_panels(result) -> list[dict]:
    """A 1-D sweep drawn as curves, one panel per combination of its choice axes: along the numeric
    axis, the share of each outcome (`shares`: outcomes × values, over every other axis: seeds),
    and the measure's median, minimum and maximum over those runs.

    >>> [p["title"] for p in line_panels(result)]            # learning_rate × optimizer(sgd, adam) × seeds
    ['optimizer = sgd', 'optimizer = adam']
    """
    x = line_axis(result)
    if x is None:
        raise UserError(f"{result.experiment}: not a 1-D sweep (one numeric axis besides seeds and choices)")
    axes = result.axes
    choices = [i for i, a in enumerate(axes) if a.scale == "choice" and len(a) > 1]
    panels = []
    for combo in np.ndindex(*(len(axes[i]) for i in choices)):
        index = tuple(combo[choices.index(d)] if d in choices else slice(None) for d in range(len(axes)))
        codes, measure = np.asarray(result.outcome)[index], np.asarray(result.measure, np.float64)[index]
        kept = [d for d in range(len(axes)) if d not in choices]  # dims left after the choice is picked
        along = kept.index(x)
        codes, measure = np.moveaxis(codes, along, 0), np.moveaxis(measure, along, 0)
        codes, measure = codes.reshape(len(axes[x]), -1), measure.reshape(len(axes[x]), -1)
        shares = np.stack([(codes == c).mean(1) for c in range(len(result.outcome_names))])
        finite = np.where(np.isfinite(measure), measure, np.nan)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
            median, low, high = np.nanmedian(finite, 1), np.nanmin(finite, 1), np.nanmax(finite, 1)
        title = ", ".join(f"{axes[d].title} = {axes[d].choices[k]}" for d, k in zip(choices, combo))
        panels.append({"title": title, "shares": shares, "median": median, "low": low, "high": high,
                       "runs": codes.shape[1]})
    return panels

