"""Which learning rate to use: a sweep's answer as numbers (`SweepResult.recommend`).

Pure NumPy over a result's arrays (outcome codes, steps-to-target, the grid's
axes); nothing here draws. Only sweeps with a ``learning_rate`` axis get a
recommendation; seed axes are aggregated, every other axis is a condition.

Definitions, for one *row*: a fixed value of every other non-seed axis
(its runs at one learning rate are its seeds), or ``overall`` (its runs at
one learning rate are every run with that learning rate). With learning
rates η₁ < … < η_L (the grid's, sorted), at each ηᵢ

- pᵢ: the share of the row's runs at ηᵢ that converged;
- sᵢ: the median of their steps-to-target (never reached counts as ∞).

The row's *best* learning rate η_b: among the ηᵢ with pᵢ > ½ (a strict
majority converged), the one with the smallest sᵢ (ties: the smaller η);
when no such sᵢ is finite, the start of the longest run of pᵢ > ½. The
*converged band* [lo, hi] is the maximal run of consecutive grid learning
rates ηⱼ … ηₖ that contains η_b and has pᵢ > ½ throughout; its width is
log10(hi / lo) decades (0 for one cell). The *95 % limit* is the largest ηᵢ
with pᵢ ≥ 0.95 (anywhere on the grid, not only in the band). The *fastest
setting* is the best learning rate with its sᵢ for a row; overall it is the
cell of the whole grid (every non-seed axis) with the smallest median over
seeds among cells where a majority of seeds converged, leaving out cells
that start at the target (0 steps: they needed no training).

>>> import edujax as ej
>>> result = ej.sweep(ej.load("quadratic"), ej.Grid(ej.logspace("learning_rate", 1e-3, 1, 16),
...                   ej.linspace("start_angle", 0, 90, 3)), 200)
>>> round(result.recommend().overall.hi, 3)   # the largest lr of the band where most starts converge
0.158
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

#: The axis a recommendation is about.
LR = "learning_rate"
#: A learning rate is in the band when more than this share of the row's runs converged.
MAJORITY = 0.5
#: The share of runs behind `Row.lr95`.
ALL_BUT = 0.95
#: `Recommendation.as_dict` keeps at most this many rows (evenly spread) besides ``overall``.
STORED_ROWS = 32


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of a recommendation: `setting` (the other axes' values; {} for ``overall``), the converged
    band [`lo`, `hi`] and its width in `decades`, `lr95` (the largest learning rate at which ≥ 95 % of the
    runs converged), `fastest` (the fastest setting: ``learning_rate`` and, overall, the other axes) and
    `steps` (its median steps-to-target over seeds). None where there is none (no majority converged
    anywhere, or no run reached the target)."""

    setting: dict[str, Any]
    lo: float | None
    hi: float | None
    decades: float | None
    lr95: float | None
    fastest: dict[str, Any] | None
    steps: float | None
    converged: float  # share of the row's runs that converged

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.setting.items()) or "overall"

    def as_dict(self) -> dict[str, Any]:
        return {"setting": self.label, "band": None if self.lo is None else [self.lo, self.hi],
                "decades": self.decades, "lr95": self.lr95, "fastest": self.fastest, "steps": self.steps,
                "converged": self.converged}

    def text(self) -> str:
        """One line: band, 95 % limit, fastest setting."""
        if self.lo is None:
            band = "no learning rate where most runs converge"
        else:
            band = f"band [{self.lo:.3g}, {self.hi:.3g}] ({self.decades:.2f} decades)"
        limit = "" if self.lr95 is None else f", ≥95 % converge up to {self.lr95:.3g}"
        fast = ""
        if self.fastest is not None and self.steps is not None:
            where = ", ".join(f"{k}={_fmt(v)}" for k, v in self.fastest.items())
            fast = f", fastest {where} ({self.steps:g} steps)"
        return f"{self.label}: {band}{limit}{fast}"


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """`recommend`'s table: `overall` and one `Row` per setting of the other non-seed axes (`rows`, in grid
    order); empty with a `note` when the sweep has no learning-rate axis. `lo_cells`, `hi_cells` and
    `best_cells` hold each row's band edges and best learning rate shaped like the other axes (NaN: none),
    for drawing."""

    experiment: str
    overall: Row | None
    rows: tuple[Row, ...] = ()
    note: str = ""
    others: tuple[str, ...] = ()
    lo_cells: np.ndarray = dataclasses.field(default=None, repr=False)
    hi_cells: np.ndarray = dataclasses.field(default=None, repr=False)
    best_cells: np.ndarray = dataclasses.field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.overall is not None

    def line(self) -> str:
        """The overall recommendation in one line (what `edujax sweep` prints)."""
        return f"recommended: {self.overall.text()}" if self else self.note

    def to_text(self, rows: int = 8) -> str:
        """The table: overall, then at most `rows` rows (evenly spread) of the other axes' settings."""
        if not self:
            return f"{self.experiment}: {self.note}"
        lines = [f"{self.experiment}: {self.overall.text()}"]
        shown = _spread(len(self.rows), rows)
        lines += [f"  {self.rows[i].text()}" for i in shown]
        if len(shown) < len(self.rows):
            lines.append(f"  ({len(self.rows) - len(shown)} more rows: Recommendation.rows)")
        return "\n".join(lines)

    def as_dict(self, rows: int | None = STORED_ROWS) -> dict[str, Any]:
        """JSON-friendly (what `summary.json` stores under "recommendation"): at most `rows` rows, evenly spread."""
        if not self:
            return {"note": self.note}
        kept = range(len(self.rows)) if rows is None else _spread(len(self.rows), rows)
        return {"rule": f"band: consecutive learning rates around the fastest where > {MAJORITY:.0%} of runs "
                        f"converge; lr95: largest learning rate where ≥ {ALL_BUT:.0%} converge",
                "overall": self.overall.as_dict(), "by": list(self.others), "rows_total": len(self.rows),
                "rows": [self.rows[i].as_dict() for i in kept]}


def _spread(n: int, most: int) -> list[int]:
    return list(range(n)) if n <= most else sorted(set(np.linspace(0, n - 1, most).round().astype(int).tolist()))


def _fmt(value) -> str:
    return format(value, ".3g") if isinstance(value, float) else str(value)


def _value(axis, i: int):
    """An axis value as JSON: a choice by name, points as a list, numbers as Python numbers."""
    if axis.scale == "choice":
        return axis.choices[i]
    value = axis.values[i]
    if np.ndim(value):
        return [float(v) for v in value]
    return float(value) if axis.values.dtype.kind == "f" else int(value)


def band(share: np.ndarray, steps: np.ndarray) -> tuple[int, int, int] | None:
    """(first, best, last) indices of the converged band along sorted learning rates (module docstring),
    from each one's converged share and median steps-to-target (∞: not reached); None without a majority.

    >>> band(np.array([0.0, 1.0, 1.0, 0.75, 0.0, 0.5]), np.array([np.inf, 90, 40, 30, np.inf, 5]))
    (1, 3, 3)
    """
    ok = np.asarray(share) > MAJORITY
    if not ok.any():
        return None
    candidates = np.where(ok, steps, np.inf)
    if np.isfinite(candidates).any():
        best = int(np.argmin(candidates))
    else:  # no steps-to-target: the start of the longest run of majority-converged learning rates
        runs, start = [], None
        for i, flag in enumerate(list(ok) + [False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                runs.append((i - start, -start))
                start = None
        best = -max(runs)[1]
    first, last = best, best
    while first > 0 and ok[first - 1]:
        first -= 1
    while last + 1 < len(ok) and ok[last + 1]:
        last += 1
    return first, best, last


def recommend(result) -> Recommendation:
    """The recommendation of a `SweepResult` (module docstring: band, 95 % limit, fastest setting).

    >>> rec = recommend(result)                            # doctest: +SKIP
    >>> print(rec.to_text())                               # doctest: +SKIP
    """
    axes = list(result.axes)
    names = [a.name for a in axes]
    if LR not in names:
        return Recommendation(result.experiment, None, note="no learning_rate axis: no recommendation")
    k = names.index(LR)
    lr_axis = axes[k]
    if lr_axis.scale not in ("log", "linear"):
        return Recommendation(result.experiment, None, note=f"the learning_rate axis is a {lr_axis.scale} axis: "
                                                            "no recommendation")
    if "converged" not in result.outcome_names:  # e.g. a comparison's map of changes
        return Recommendation(result.experiment, None, note="no converged outcome: no recommendation")
    seeds = [i for i, a in enumerate(axes) if a.scale == "seed"]
    others = [i for i, a in enumerate(axes) if i != k and a.scale != "seed"]
    order = np.argsort(lr_axis.values.astype(np.float64), kind="stable")
    lrs = lr_axis.values.astype(np.float64)[order]
    code = list(result.outcome_names).index("converged")
    other_shape = tuple(len(axes[i]) for i in others)
    n_other, n_lr = int(np.prod(other_shape, dtype=int)), len(lrs)

    def arrange(array):  # (other settings, sorted learning rates, seeds)
        moved = np.transpose(np.asarray(array), others + [k] + seeds)
        return moved.reshape(n_other, len(lr_axis), -1)[:, order]

    converged = arrange(result.outcome == code)
    if result.steps_to_target is None:
        steps = np.full(converged.shape, np.inf)
    else:
        raw = arrange(result.steps_to_target).astype(np.float64)
        steps = np.where(np.isfinite(raw), raw, np.inf)
    share = converged.mean(-1)
    median = np.median(steps, -1)

    def row(setting, share_lr, steps_lr, fastest_fn) -> tuple[Row, tuple | None]:
        found = band(share_lr, steps_lr)
        lr95 = np.flatnonzero(share_lr >= ALL_BUT)
        fastest, fast_steps = fastest_fn(found)
        lo = hi = decades = None
        if found is not None:
            lo, hi = float(lrs[found[0]]), float(lrs[found[2]])
            decades = float(np.log10(hi / lo)) if lr_axis.scale == "log" or lo > 0 else None
        return Row(setting, lo, hi, decades, float(lrs[lr95[-1]]) if len(lr95) else None, fastest, fast_steps,
                   float(share_lr.mean())), found

    def own_fastest(found):
        if found is None or not np.isfinite(median_row[found[1]]):
            return None, None
        return {LR: float(lrs[found[1]])}, float(median_row[found[1]])

    rows, lo_cells, hi_cells, best_cells = [], np.full(n_other, np.nan), np.full(n_other, np.nan), \
        np.full(n_other, np.nan)
    for o, index in enumerate(np.ndindex(*other_shape)):
        setting = {axes[i].name: _value(axes[i], j) for i, j in zip(others, index)}
        median_row = median[o]
        entry, found = row(setting, share[o], median_row, own_fastest)
        rows.append(entry)
        if found is not None:
            lo_cells[o], best_cells[o], hi_cells[o] = lrs[found[0]], lrs[found[1]], lrs[found[2]]

    pooled = np.moveaxis(converged, 1, 0).reshape(n_lr, -1)
    pooled_steps = np.median(np.moveaxis(steps, 1, 0).reshape(n_lr, -1), -1)

    def grid_fastest(found):
        cells = np.where((share > MAJORITY) & (median > 0), median, np.inf)  # a start at the target is no answer
        if not np.isfinite(cells).any():
            return None, None
        o, i = np.unravel_index(int(np.argmin(cells)), cells.shape)
        index = np.unravel_index(o, other_shape) if other_shape else ()
        setting = {LR: float(lrs[i]), **{axes[a].name: _value(axes[a], j) for a, j in zip(others, index)}}
        return setting, float(cells[o, i])

    overall, _ = row({}, pooled.mean(-1), pooled_steps, grid_fastest)
    return Recommendation(result.experiment, overall, tuple(rows), others=tuple(axes[i].name for i in others),
                          lo_cells=lo_cells.reshape(other_shape), hi_cells=hi_cells.reshape(other_shape),
                          best_cells=best_cells.reshape(other_shape))


def along(result, at: dict[str, int]) -> dict[str, np.ndarray]:
    """One row of the grid along the learning rate: `at` gives an index into every other non-seed axis.
    Returns the sorted learning rates ``lr`` (L,), ``converged`` (share of seeds), ``steps`` (median
    steps-to-target over seeds, ∞: not reached) and ``outcome`` (the codes, (L, seeds)).

    >>> along(result, {"start_angle": 3})["steps"]        # doctest: +SKIP
    """
    axes = list(result.axes)
    names = [a.name for a in axes]
    k = names.index(LR)
    lr_axis = axes[k]
    order = np.argsort(lr_axis.values.astype(np.float64), kind="stable")
    index = tuple(slice(None) if i == k or a.scale == "seed" else at[a.name] for i, a in enumerate(axes))
    kept = [i for i, a in enumerate(axes) if i == k or a.scale == "seed"]  # the dims left, in grid order

    def cut(array):
        picked = np.asarray(array)[index]
        return np.moveaxis(picked, kept.index(k), 0).reshape(len(lr_axis), -1)[order]

    code = list(result.outcome_names).index("converged")
    outcome = cut(result.outcome)
    if result.steps_to_target is None:
        steps = np.full(outcome.shape, np.inf)
    else:
        raw = cut(result.steps_to_target).astype(np.float64)
        steps = np.where(np.isfinite(raw), raw, np.inf)
    return {"lr": lr_axis.values.astype(np.float64)[order], "converged": (outcome == code).mean(-1),
            "steps": np.median(steps, -1), "outcome": outcome}


def describe(stored: dict | None) -> str:
    """The overall recommendation as stored in `summary.json` (`Recommendation.as_dict`), in one line;
    "" when there is none.

    >>> describe({"overall": {"band": [0.01, 0.1], "decades": 1.0, "lr95": 0.1,
    ...                       "fastest": {"learning_rate": 0.1}, "steps": 20.0}})
    'band [0.01, 0.1] (1.00 decades), ≥95 % converge up to 0.1, fastest learning_rate=0.1 (20 steps)'
    """
    overall = (stored or {}).get("overall")
    if not overall:
        return ""
    band = overall.get("band")
    parts = [f"band [{band[0]:.3g}, {band[1]:.3g}] ({overall['decades']:.2f} decades)" if band
             else "no learning rate where most runs converge"]
    if overall.get("lr95") is not None:
        parts.append(f"≥95 % converge up to {overall['lr95']:.3g}")
    if overall.get("fastest") and overall.get("steps") is not None:
        where = ", ".join(f"{k}={_fmt(v)}" for k, v in overall["fastest"].items())
        parts.append(f"fastest {where} ({overall['steps']:g} steps)")
    return ", ".join(parts)
