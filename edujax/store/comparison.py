"""Two sweeps of the same grid side by side: where their outcomes differ, and how.

`compare(a, b)` takes two results (or their folders) over the same grid —
SGD vs Adam, float32 vs float64, before vs after a change — and returns a
`Comparison`: `changed` (grid-shaped, True where the outcome names differ)
and `table()` (every change, from → to, with its number of runs).
`edujax.write(comparison, out)` saves its map (`edujax.report.plots.comparison_figure`:
unchanged runs grey, changed ones in the colour of their outcome in `b`) and
table into a folder; the results page shows every comparison folder it finds
beside the experiments.

>>> comparison = ej.compare("results/quadratic", "other/quadratic")
>>> comparison.table()   # [{'from': 'slow', 'to': 'converged', 'runs': 812}, ...]
>>> ej.write(comparison, "results/quadratic_vs_other")
"""
from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import numpy as np

from edujax.core.errors import UserError
from edujax.store.result import SweepResult

DATA, MAP = "comparison.json", "compare.png"
UNCHANGED = "#e6e6e6"


@dataclasses.dataclass
class Comparison:
    """Sweep `b` against sweep `a` over the same grid; `names` label them (e.g. their folders)."""

    a: SweepResult
    b: SweepResult
    names: tuple[str, str] = ("a", "b")

    @property
    def changed(self) -> np.ndarray:
        """Grid-shaped: True where the run's outcome in `b` differs from `a` (compared by name)."""
        return self.a.labels != self.b.labels

    def table(self) -> list[dict]:
        """Every change of outcome, most frequent first: ``{"from", "to", "runs"}``."""
        pairs = collections.Counter(zip(self.a.labels[self.changed].tolist(), self.b.labels[self.changed].tolist()))
        return [{"from": a, "to": b, "runs": n} for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]

    def as_result(self) -> SweepResult:
        """`b` recoloured for the map: code 0 "unchanged", else "now <b's outcome>" in that outcome's colour."""
        colors = {"unchanged": UNCHANGED, **{f"now {o}": c for o, c in self.b.outcome_colors.items()}}
        codes = np.where(self.changed, self.b.outcome.astype(np.int64) + 1, 0).astype(np.int8)
        return dataclasses.replace(self.b, experiment=f"{self.names[0]} → {self.names[1]}", outcome=codes,
                                   outcome_colors=colors, measure=None)

    def title(self) -> str:
        n, total = int(self.changed.sum()), self.changed.size
        steps = f"{self.a.steps} steps" if self.a.steps == self.b.steps else f"{self.a.steps} vs {self.b.steps} steps"
        return f"{self.names[0]} → {self.names[1]}: {n:,} of {total:,} runs changed outcome ({steps})"

    def _repr_png_(self) -> bytes:
        """Jupyter shows a comparison as its map."""
        from edujax.report.plots import comparison_figure, png  # the one upward import: drawing, only in Jupyter

        return png(comparison_figure(self))

    def summary(self) -> dict:
        return {"a": self.names[0], "b": self.names[1], "experiment": self.b.experiment, "title": self.title(),
                "runs": int(self.changed.size), "changed": int(self.changed.sum()), "changes": self.table(),
                "steps": [self.a.steps, self.b.steps]}


def compare(a, b, names: tuple[str, str] | None = None) -> Comparison:
    """Compare sweep `b` with sweep `a` (results or saved folders) over the same grid.

    Raises a one-line UserError when a folder holds no sweep or the grids differ
    (axis names, kinds or values). The step counts may differ.
    """
    loaded = [SweepResult.load(x) if not isinstance(x, SweepResult) else x for x in (a, b)]
    if names is None:
        names = tuple(Path(x).name if not isinstance(x, SweepResult) else x.experiment for x in (a, b))
        if names[0] == names[1]:  # the same experiment in two folders: name its folder too, e.g. short/quadratic
            names = tuple("/".join(Path(x).resolve().parts[-2:]) if not isinstance(x, SweepResult)
                          else f"{x.experiment} ({k})"
                          for k, x in zip("ab", (a, b)))
    first, second = loaded
    if len(first.axes) != len(second.axes):
        raise UserError(f"{names[0]} and {names[1]} are sweeps of different grids: {first.grid!r} vs {second.grid!r}")
    for left, right in zip(first.axes, second.axes):
        same = ((left.name, left.scale, left.columns, left.choices)
                == (right.name, right.scale, right.columns, right.choices))
        if not same or left.values.shape != right.values.shape or not np.array_equal(left.values, right.values):
            raise UserError(f"{names[0]} and {names[1]} are sweeps of different grids: axis {left.name!r}"
                            f" ({len(left)} values) vs {right.name!r} ({len(right)} values) differ")
    return Comparison(first, second, tuple(names))
