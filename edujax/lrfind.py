"""The learning-rate range test (Smith 2017; fastai's `lr_find`), held against a sweep's truth.

The finder trains one run per seed while its learning rate grows
exponentially, fastai's defaults: step t = 0 … N − 1 (N = 100) uses

    lr_t = start · (end / start)^(t / N),   start = 1e-7, end = 10

(fastai's `SchedExp` at `train_iter / num_it`: the last step's rate is
10^(−7 + 8·0.99) ≈ 8.3, not 10). The loss it reads is fastai's smoothed loss,
an exponential moving average with debiasing,

    m_t = β·m_{t−1} + (1 − β)·loss_t,   m_0 = 0,   smoothed_t = m_t / (1 − β^(t+1)),   β = 0.98,

and it stops after the first step whose smoothed loss exceeds 4× the best so
far (that step is still recorded, as in fastai; here the whole schedule is
computed in one compiled scan, vmapped over seeds, and the stop is a mask).
Its suggestions are computed, as fastai's `lr_find` does, on the recorded
points [N // 10, n − 5) (n recorded), cut before the first non-finite one:

- ``steep``: the lr of the most negative slope (smoothed_{i+1} − smoothed_i) / (ln lr_{i+1} − ln lr_i)
  (the left point of that segment);
- ``minimum``: the lr of the lowest smoothed loss, divided by 10;
- ``valley``: the longest strictly decreasing subsequence of the smoothed losses (fastai's quadratic
  dynamic programme; ties to the earliest end), with end its last index and start = end − its length
  (one before its first point, as fastai computes it), and the point
  start + ⌊(end − start)/3⌋ + ⌊(end − start)/6⌋ (about half way along).

`versus` puts each suggestion (per seed) on the sweep's grid at the same other hyperparameters: is it
in the converged band (`edujax.recommend`), and how many times the fastest setting's steps-to-target
does the nearest grid learning rate need?
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from edujax.errors import UserError
from edujax.experiment import Experiment
from edujax.recommend import LR, along, band, recommend

START, END, NUM = 1e-7, 10.0, 100
BETA = 0.98
DIVERGE = 4.0
SUGGESTIONS = ("steep", "minimum", "valley")


def schedule(start: float = START, end: float = END, num: int = NUM) -> np.ndarray:
    """fastai's learning rates: start·(end/start)^(t/num), t = 0 … num − 1.

    >>> schedule(1e-2, 1.0, 4).round(4).tolist()
    [0.01, 0.0316, 0.1, 0.3162]
    """
    return start * (end / start) ** (np.arange(num) / num)


def smooth(losses, beta: float = BETA) -> np.ndarray:
    """fastai's smoothed loss along the last axis: a debiased exponential moving average.

    >>> smooth(np.array([1.0, 3.0]), 0.5).tolist()     # m = 0.5, 1.75; / (1 − 0.5), / (1 − 0.25)
    [1.0, 2.3333333333333335]
    """
    losses = np.asarray(losses, np.float64)
    out, m = np.empty_like(losses), np.zeros(losses.shape[:-1])
    for t in range(losses.shape[-1]):
        m = beta * m + (1 - beta) * losses[..., t]
        out[..., t] = m / (1 - beta ** (t + 1))
    return out


def recorded(smoothed, factor: float = DIVERGE) -> np.ndarray:
    """Which steps fastai would have recorded: all up to and including the first whose smoothed loss
    exceeds `factor` × the lowest so far (the best includes that step, as in fastai).

    >>> recorded(np.array([4.0, 2.0, 9.0, 1.0])).tolist()
    [True, True, True, False]
    """
    smoothed = np.asarray(smoothed, np.float64)
    best = np.minimum.accumulate(np.where(np.isnan(smoothed), np.inf, smoothed), axis=-1)
    with np.errstate(invalid="ignore"):
        over = smoothed > factor * best
    before = np.cumsum(over, -1) - over  # stops before this step
    return before == 0


def steep(lrs, losses) -> float:
    """fastai's `steep`: the lr at the most negative slope of loss vs ln lr (left point of the segment)."""
    lrs, losses = np.asarray(lrs, np.float64), np.asarray(losses, np.float64)
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    return float(lrs[int(np.argmin(grads))])


def minimum(lrs, losses) -> float:
    """fastai's `minimum`: the lr of the lowest loss, divided by 10."""
    return float(np.asarray(lrs, np.float64)[int(np.argmin(losses))]) / 10


def valley(lrs, losses) -> float:
    """fastai's `valley`: about half way along the longest decreasing run of losses (module docstring).

    >>> valley(np.arange(1.0, 9.0), np.array([9.0, 5, 4, 3, 2, 1, 0, 9]))   # end 6, start 6 − 7 = −1: −1 + 2 + 1
    3.0
    """
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def suggest(lrs, smoothed, kept, num: int = NUM) -> dict[str, float]:
    """fastai's three suggestions from one run's smoothed losses and recorded mask (`recorded`): on the points
    [num // 10, n − 5) of the n recorded, cut before the first non-finite one; NaN when too few are left."""
    n = int(np.sum(kept))
    lrs, losses = np.asarray(lrs, np.float64)[num // 10:n - 5], np.asarray(smoothed, np.float64)[num // 10:n - 5]
    bad = np.flatnonzero(~np.isfinite(losses))
    if len(bad):
        lrs, losses = lrs[:bad[0]], losses[:bad[0]]
    if len(losses) < 2:
        return {name: float("nan") for name in SUGGESTIONS}
    return {"steep": steep(lrs, losses), "minimum": minimum(lrs, losses), "valley": valley(lrs, losses)}


@dataclasses.dataclass
class Finder:
    """An LR range test: `lrs` (N,), `loss` (seeds, N: the raw loss of each step), `smoothed`, `kept` (the
    recorded steps), `suggestions` ({name: (seeds,)}), `at` (the other hyperparameters' grid indices)."""

    experiment: str
    lrs: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    kept: np.ndarray
    suggestions: dict[str, np.ndarray]
    at: dict[str, int]
    setting: dict[str, Any]
    seeds: tuple[int, ...]


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
    from edujax.runner import setting_key

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


LABELS = {"steep": "steepest descent", "minimum": "minimum / 10", "valley": "valley"}


@dataclasses.dataclass
class Verdict:
    """`versus`' table: per suggestion its median lr over seeds, the nearest grid lr, how many seeds'
    suggestions fall in the converged band, the grid lr's median steps-to-target and that over the fastest's."""

    experiment: str
    setting: dict[str, Any]
    seeds: int
    band: tuple[float, float] | None
    fastest_lr: float | None
    fastest_steps: float | None
    rows: list[dict[str, Any]]

    def to_text(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.setting.items())
        head = f"{self.experiment}" + (f" at {where}" if where else "") + f", {self.seeds} seed(s): "
        head += ("no converged band" if self.band is None else f"band [{self.band[0]:.3g}, {self.band[1]:.3g}]")
        if self.fastest_lr is not None:
            head += f", fastest lr {self.fastest_lr:.3g} ({self.fastest_steps:g} steps)"
        lines = [head, f"  {'suggestion':18s} {'lr':>9s} {'grid lr':>9s} {'in band':>8s} {'steps':>7s} "
                       f"{'× fastest':>9s}"]
        for r in self.rows:
            lines.append(f"  {LABELS[r['suggestion']]:18s} {_g(r['lr']):>9s} {_g(r['grid_lr']):>9s} "
                         f"{r['in_band']:>3d}/{self.seeds:<4d} {_g(r['steps']):>7s} {_g(r['ratio']):>9s}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        def clean(value):
            return None if isinstance(value, float) and not np.isfinite(value) else value
        return {"setting": self.setting, "seeds": self.seeds, "band": list(self.band) if self.band else None,
                "fastest_lr": self.fastest_lr, "fastest_steps": self.fastest_steps,
                "rows": [{k: clean(v) for k, v in r.items()} for r in self.rows]}

    def markdown(self) -> list[str]:
        """Table rows (no header) for the README's "Is the LR finder right?"."""
        return [f"| {self.experiment} | {LABELS[r['suggestion']]} | {_g(r['lr'])} | {_g(r['grid_lr'])} | "
                f"{r['in_band']}/{self.seeds} | {_g(r['ratio'])} |" for r in self.rows]


MARKDOWN_HEADER = ["| experiment | suggestion | lr (median over seeds) | nearest grid lr | in band (seeds) | "
                   "× fastest steps |", "|---|---|---|---|---|---|"]


def _g(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return "∞" if np.isinf(value) else f"{value:.3g}"


def versus(finder: Finder, result) -> Verdict:
    """Hold `finder`'s suggestions against `result` (a sweep of the same experiment) at the finder's other
    hyperparameters: per suggestion (median over seeds) the nearest grid learning rate (in log distance),
    how many seeds' suggestions have their nearest grid lr inside the converged band, that lr's median
    steps-to-target and its ratio to the row's fastest (∞: it never reached the target).

    >>> print(versus(find(experiment), result).to_text())      # doctest: +SKIP
    """
    if not recommend(result):
        raise UserError(f"lrfind: the sweep of {result.experiment!r} has no {LR} axis to compare with")
    names = {a.name: len(a) for a in result.axes if a.name != LR and a.scale != "seed"}
    if set(names) != set(finder.at) or any(i >= names[name] for name, i in finder.at.items()):
        raise UserError(f"lrfind: the finder's settings ({', '.join(sorted(finder.at))}) are not on the sweep's grid "
                        f"(axes: {', '.join(a.name for a in result.axes)}): run find with grid=result.grid")
    row = along(result, finder.at)
    found = band(row["converged"], row["steps"])
    logs = np.log(row["lr"])

    def nearest(lr):
        return int(np.argmin(np.abs(logs - np.log(lr))))

    fastest = None if found is None or not np.isfinite(row["steps"][found[1]]) else found[1]
    rows = []
    for name in SUGGESTIONS:
        values = finder.suggestions[name]
        finite = values[np.isfinite(values)]
        in_band = 0 if found is None else sum(found[0] <= nearest(v) <= found[2] for v in finite)
        lr = float(np.median(finite)) if len(finite) else float("nan")
        i = nearest(lr) if len(finite) else None
        steps = float(row["steps"][i]) if i is not None else float("nan")
        ratio = steps / float(row["steps"][fastest]) if fastest is not None and i is not None else float("nan")
        rows.append({"suggestion": name, "lr": lr, "grid_lr": float(row["lr"][i]) if i is not None else float("nan"),
                     "in_band": int(in_band), "steps": steps, "ratio": ratio})
    return Verdict(result.experiment, finder.setting, len(finder.seeds),
                   None if found is None else (float(row["lr"][found[0]]), float(row["lr"][found[2]])),
                   None if fastest is None else float(row["lr"][fastest]),
                   None if fastest is None else float(row["steps"][fastest]), rows)


def line(stored: dict | None) -> str:
    """A stored verdict (`Verdict.as_dict`, summary.json's "lrfind") in one line; "" when there is none.

    >>> line({"rows": [{"suggestion": "valley", "lr": 1e-3, "in_band": 0, "ratio": None}], "seeds": 1})
    'valley 0.001 (in band 0/1, × fastest ∞)'
    """
    if not stored or "rows" not in stored:
        return f"failed ({stored['error']})" if stored and "error" in stored else ""
    return "; ".join(f"{r['suggestion']} {_g(r['lr'])} (in band {r['in_band']}/{stored['seeds']}, "
                     f"× fastest {_g(float('inf') if r['ratio'] is None else r['ratio'])})" for r in stored["rows"])
