"""SweepResult: the arrays a sweep produced, and their round trip to disk.

On disk a result is a folder with `sweep.npz` (every array, loaded without
pickle) and `summary.json` (grid, steps, outcome counts, timings, versions).
Files are written to a temporary name and renamed into place, and a whole
result folder is built beside the old one and swapped in at the end, so an
interrupted run never leaves a half-written or half-overwritten result.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from edujax.errors import UserError
from edujax.grid import Axis, Grid
from edujax.outcomes import COLORS, counts

SUMMARY, ARRAYS = "summary.json", "sweep.npz"


@dataclasses.dataclass
class SweepResult:
    """Grid-shaped arrays: `hparams[name]`, `outcome` (codes into `outcome_names`),
    `loss` (grid + (R + 1,), at `record_steps`), `tv` (grid + (R,)),
    `final[metric]` (each metric at the last step); `examples`
    holds every-step traces of a few representative runs (`index` into the
    flattened grid, `outcome`, one (E, steps + 1) array per metric);
    `boundaries` the theory curves evaluated over the grid;
    `outcome_colors` every outcome name the codes can take -> its colour,
    in code order (the standard five, then the experiment's extra ones);
    `measure` a continuous number per run (grid-shaped, or None).

    In a notebook a result shows its outcome map; `plot()` returns it as a
    matplotlib Figure and `to_pandas()` gives one row per run:

    >>> result = ej.sweep(experiment, steps=100)
    >>> result.plot().savefig("map.png")
    >>> result.to_pandas().groupby("outcome").learning_rate.max()
    """

    experiment: str
    axes: tuple[Axis, ...]
    steps: int
    hparams: dict[str, np.ndarray]
    outcome: np.ndarray
    loss: np.ndarray
    tv: np.ndarray
    final: dict[str, np.ndarray]
    record_steps: np.ndarray
    examples: dict[str, np.ndarray]
    boundaries: list[dict[str, Any]]
    info: dict[str, Any]
    outcome_colors: dict[str, str] = dataclasses.field(default_factory=lambda: dict(COLORS))
    measure: np.ndarray | None = None

    def __repr__(self) -> str:
        shares = ", ".join(f"{o} {n / self.outcome.size:.0%}" for o, n in self.counts.items() if n)
        return f"SweepResult({self.experiment!r}, {self.grid!r}, {self.steps} steps: {shares})"

    def plot(self, title: str | None = None):
        """The outcome map (as `heatmap.png`) as a matplotlib Figure."""
        from edujax import plots  # matplotlib only when drawing

        return plots.heatmap_figure(self, title)

    def _repr_png_(self) -> bytes:
        """Jupyter shows a result as its outcome map."""
        return png(self.plot())

    def to_pandas(self):
        """A tidy pandas DataFrame, one row per run: every hyperparameter column
        (a `choice` axis by its option names), ``outcome`` (its name),
        ``measure`` where the result has one, and each metric's final value as
        ``final_<metric>``.

        >>> table = result.to_pandas()
        >>> table[table.outcome == "diverged"].learning_rate.min()
        """
        try:
            import pandas as pd
        except ImportError:
            raise UserError("SweepResult.to_pandas needs pandas: pip install pandas") from None
        columns = {name: values.ravel() for name, values in self.hparams.items()}
        for axis in self.axes:
            if axis.scale == "choice":
                columns[axis.name] = pd.Categorical.from_codes(columns[axis.name], axis.choices)
        columns["outcome"] = pd.Categorical.from_codes(self.outcome.ravel().astype(np.int64), self.outcome_names)
        if self.measure is not None:
            columns["measure"] = self.measure.ravel()
        columns.update({f"final_{name}": values.ravel() for name, values in self.final.items()})
        return pd.DataFrame(columns)

    @property
    def grid(self) -> Grid:
        return Grid(*self.axes)

    @property
    def outcome_names(self) -> tuple[str, ...]:
        return tuple(self.outcome_colors)

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.outcome, self.outcome_names)

    @property
    def labels(self) -> np.ndarray:
        """Outcome names, grid-shaped."""
        return np.asarray(self.outcome_names)[self.outcome]

    def summary(self, figures: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "grid": self.grid.describe(),
            "settings": int(self.outcome.size),
            "steps": self.steps,
            "outcomes": self.counts,
            "boundaries": [{"label": b["label"], "axis": b["axis"]} for b in self.boundaries],
            "figures": dict(figures or {}),
            "outcome_colors": dict(self.outcome_colors),
            **self.info,
        }

    def save(self, directory, figures: Mapping[str, str] | None = None) -> Path:
        """Write `sweep.npz` and `summary.json` into `directory`, each atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            "outcome": self.outcome, "loss": self.loss, "tv": self.tv, "record_steps": self.record_steps,
            **{f"axis/{a.name}": a.values for a in self.axes},
            **{f"hparam/{k}": v for k, v in self.hparams.items()},
            **{f"final/{k}": v for k, v in self.final.items()},
            **{f"example/{k}": v for k, v in self.examples.items()},
            **{f"boundary/{i}": b["value"] for i, b in enumerate(self.boundaries)},
            **({"measure": self.measure} if self.measure is not None else {}),
        }
        atomic_write(directory / ARRAYS, lambda f: np.savez_compressed(f, **arrays))
        summary = self.summary(figures)
        summary["axes"] = [
            {"name": a.name, "scale": a.scale, "columns": list(a.columns), "label": a.label, "choices": list(a.choices)}
            for a in self.axes
        ]
        atomic_write(directory / SUMMARY, lambda f: f.write(json.dumps(summary, indent=2).encode()))
        return directory

    @classmethod
    def load(cls, directory) -> "SweepResult":
        directory = Path(directory)
        try:
            summary = json.loads((directory / SUMMARY).read_text())
            with np.load(directory / ARRAYS, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as err:
            raise UserError(f"{directory} does not hold a saved sweep ({err.__class__.__name__}: {err})") from None

        def group(prefix):
            return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

        axes = tuple(
            Axis(a["name"], arrays[f"axis/{a['name']}"], a["scale"], tuple(a["columns"]), a["label"], tuple(a["choices"]))
            for a in summary["axes"]
        )
        boundaries = [dict(b, value=arrays[f"boundary/{i}"]) for i, b in enumerate(summary["boundaries"])]
        known = {"experiment", "grid", "settings", "steps", "outcomes", "boundaries", "figures", "axes", "outcome_colors"}
        return cls(
            experiment=summary["experiment"], axes=axes, steps=summary["steps"], hparams=group("hparam/"),
            outcome=arrays["outcome"], loss=arrays["loss"], tv=arrays["tv"], final=group("final/"),
            record_steps=arrays["record_steps"], examples=group("example/"), boundaries=boundaries,
            info={k: v for k, v in summary.items() if k not in known},
            outcome_colors=summary.get("outcome_colors", dict(COLORS)), measure=arrays.get("measure"),
        )


def png(figure, dpi: int = 90) -> bytes:
    """A matplotlib figure as PNG bytes (what Jupyter displays)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def evaluate_boundaries(experiment, grid: Grid) -> list[dict[str, Any]]:
    """Each theory boundary's value over the grid without its own axis."""
    evaluated = []
    for boundary in experiment.boundaries:
        if boundary.axis not in grid.names:
            continue
        others = [a for a in grid.axes if a.name != boundary.axis]
        shape = tuple(len(a) for a in others)
        hparams = {k: np.full(int(np.prod(shape)), v, np.float32) for k, v in experiment.defaults.items()}
        if others:
            hparams.update(Grid(*others).columns())
        value = np.broadcast_to(np.asarray(boundary.value(hparams), np.float64), (int(np.prod(shape)),))
        evaluated.append({"label": boundary.label, "axis": boundary.axis, "value": value.reshape(shape)})
    return evaluated


def atomic_write(path: Path, write) -> None:
    """Call `write(file)` on a temporary file, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(final):
    """Yield a fresh folder beside `final`; on success it replaces `final` whole.

    On any error the temporary folder is removed and `final` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
