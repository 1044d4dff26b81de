"""The LR range test run on an experiment: one compiled scan over the growing learning rate, vmapped over
seeds (the schedule, the smoothing and the suggestions are `edujax.core.lrfind`'s)."""
from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from edujax.core.errors import UserError
from edujax.core.experiment import Experiment
from edujax.core.lrfind import END, NUM, START, SUGGESTIONS, Finder, recorded, schedule, smooth, suggest
from edujax.runner.trace import setting_key
from edujax.store.recommend import LR


def _pick(grid, at: Mapping[str, Any] | None) -> tuple[dict[str, int], dict[str, Any]]:
    """Grid indices of the other non-seed axes: `at` (a value: the nearest grid value; a choice by name),
    else the middle value of a numeric axis, the first option of a choice."""
    at = dict(at or {})
    unknown = sorted(set(at) - {a.name for a in grid.axes if a.name != LR and a.scale != "seed"})
    if unknown:
        raise UserError(f"lrfind: --at {unknown[0]}: no such axis besides {LR} and seeds "
                        f"(axes: {', '.join(grid.names)})")
    index, setting = {}, {}
    for axis in grid.axes:
        if axis.name == LR or axis.scale == "seed":
            continue
        if axis.name in at:
            wanted = at[axis.name]
            if axis.scale == "choice":
                if str(wanted) not in axis.choices:
                    raise UserError(f"lrfind: --at {axis.name}={wanted}: not one of {', '.join(axis.choices)}")
                i = axis.choices.index(str(wanted))
            elif axis.scale == "points":
                raise UserError(f"lrfind: --at {axis.name}: a points axis is picked by the finder (its middle point)")
            else:
                try:
                    value = float(wanted)
                except ValueError:
                    raise UserError(f"lrfind: --at {axis.name}={wanted}: not a number") from None
                i = int(np.argmin(np.abs(axis.values.astype(np.float64) - value)))
        else:
            i = 0 if axis.scale == "choice" else (len(axis) - 1) // 2
        index[axis.name] = i
        setting[axis.name] = axis.choices[i] if axis.scale == "choice" else axis.value_label(i)
    return index, setting


def find(experiment: Experiment, *, grid=None, at: Mapping[str, Any] | None = None, start: float = START,
         end: float = END, num: int = NUM, seed: int = 0) -> Finder:
    """Run the LR range test on `experiment` (it needs a ``learning_rate`` axis): one run per seed of its seed
    axis (one run without one), compiled once (vmap over seeds, `lax.scan` over the `num` steps of
    `schedule`), the other hyperparameters at `at` (`_pick`) and the experiment's defaults. `grid` (default:
    the experiment's) is the sweep's grid whose axes pick them (and whose seed axis gives the seeds).

    >>> import edujax as ej
    >>> finder = find(ej.load("quadratic"))
    >>> sorted(finder.suggestions)
    ['minimum', 'steep', 'valley']
    """
    grid = experiment.grid if grid is None else grid
    if LR not in grid.names:
        raise UserError(f"lrfind: experiment {experiment.name!r} has no {LR} axis (axes: {', '.join(grid.names)})")
    if not (0 < start < end) or not np.isfinite(end) or int(num) < 6:
        raise UserError(f"lrfind: needs 0 < start < end and at least 6 steps, got {start:g}, {end:g}, {num}")
    index, setting = _pick(grid, at)
    dtype = np.float64 if experiment.precision == "float64" else np.float32
    point: dict[str, Any] = {name: value for name, value in experiment.defaults.items()}
    seeds: tuple[int, ...] = (0,)
    for axis in grid.axes:
        if axis.scale == "seed":
            seeds = tuple(int(s) for s in axis.values)
            continue
        if axis.name == LR:
            continue
        value = axis.values[index[axis.name]]
        point.update(zip(axis.columns, np.atleast_1d(value)) if axis.scale == "points" else {axis.name: value})
    has_seed = any(a.scale == "seed" for a in grid.axes)
    seed_name = next((a.name for a in grid.axes if a.scale == "seed"), "seed")
    lrs = schedule(start, end, int(num))

    def column(value):
        array = np.asarray(value)
        return array.astype(np.int32) if array.dtype.kind in "iub" else array.astype(dtype)

    with jax.enable_x64(dtype == np.float64):
        hparams = {name: jnp.asarray(column(value)) for name, value in point.items()}
        schedule_lrs = jnp.asarray(lrs.astype(dtype))

        def one(seed_value):
            h = dict(hparams, **({seed_name: seed_value} if has_seed else {}), learning_rate=schedule_lrs[0])
            state = experiment.init(setting_key(jax.random.key(seed), h), h)

            def body(state, lr):
                state, metrics = experiment.step(state, dict(h, learning_rate=lr))
                return state, jnp.asarray(metrics["loss"], dtype)

            return jax.lax.scan(body, state, schedule_lrs)[1]

        loss = np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(seeds, jnp.int32)), np.float64)
    smoothed = smooth(loss)
    kept = recorded(smoothed)
    per_seed = [suggest(lrs, s, k, int(num)) for s, k in zip(smoothed, kept)]
    suggestions = {name: np.array([p[name] for p in per_seed]) for name in SUGGESTIONS}
    return Finder(experiment.name, lrs, loss, smoothed, kept, suggestions, index, setting, seeds)
