"""SweepResult: the arrays a sweep produced, and their round trip to disk.

On disk a result is a folder with `sweep.npz` (every array, loaded without
pickle), `summary.json` (grid, steps, outcome counts, criteria: everything
that is the same whenever the same sweep runs again, so a committed summary
only changes when a result does) and `run.json` (how this run went: timings,
device, chunks). Files are written to a temporary name and renamed into
place, and a whole result folder is built beside the old one and swapped in
at the end (`edujax.store.files`), so an interrupted run never leaves a
half-written or half-overwritten result.
"""
from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any, Mapping

import jax
import numpy as np

from edujax.core.errors import UserError
from edujax.store.files import ARRAYS, RUN_LOG, SUMMARY, atomic_write, write_npz
from edujax.core.grid import Axis, Grid
from edujax.core.outcomes import COLORS, counts

#: `info` entries that describe how one run went rather than what it found (they differ from run to run
#: and machine to machine): they go to `run.json`, which is not committed, instead of `summary.json`.
#: So are all timings: every entry whose name ends in `_s` (seconds).
RUN_KEYS = ("settings_steps_per_s", "device", "devices", "chunks", "chunk_size", "resumed_chunks",
            "bytes_per_run_estimate", "checkpoint")
#: The arrays saved under their own name.
ARRAY_FIELDS = ("outcome", "measure", "steps_to_go", "frozen", "loss", "hi", "lo", "record_steps")


@dataclasses.dataclass
class SweepResult:
    """What a sweep produced, as grid-shaped arrays.

    Every run: `hparams[name]`, `outcome` (codes into `outcome_names`),
    `measure` (log10 of the final over the initial gap; see
    `edujax.core.outcomes`), `steps_to_go` (for slow runs: the steps still needed
    at the measured rate; NaN for the others), `frozen` (one more update would
    change no bit of the state), `final[metric]` (each metric at the last step),
    `steps_to_target` (the first record step at which the run reached the
    experiment's target, NaN when it never did; None in results saved
    before it was recorded).

    The runs of the traced sub-grid `trace_index` (per-axis indices; every run
    when the host budget allowed): `loss` (sub-grid + (R + 1,), at
    `record_steps`) and `hi`, `lo` (sub-grid + (R,): the loss's largest and
    smallest value in each record window), and `records[metric]` (sub-grid +
    (R + 1,)): the experiment's `record` metrics at `record_steps`.

    `examples`: a few representative runs (`index` into the flattened grid,
    `outcome`, `state`: their final training state from the sweep, a pytree
    with a leading example axis, and each metric at the steps `step`);
    `boundaries` the theory curves evaluated over the grid;
    `outcome_colors` every outcome name the codes can take -> its colour,
    in code order (the standard six, then the experiment's extra ones).

    In a notebook a result shows its outcome map; `plot()` returns it as a
    matplotlib Figure and `to_pandas()` gives one row per run:

    >>> result = ej.sweep(experiment, steps=100)
    >>> ej.plots.heatmap_figure(result).savefig("map.png")
    >>> result.to_pandas().groupby("outcome").learning_rate.max()
    """

    experiment: str
    axes: tuple[Axis, ...]
    steps: int
    hparams: dict[str, np.ndarray]
    outcome: np.ndarray
    measure: np.ndarray
    steps_to_go: np.ndarray
    frozen: np.ndarray
    loss: np.ndarray
    hi: np.ndarray
    lo: np.ndarray
    trace_index: tuple[np.ndarray, ...]
    final: dict[str, np.ndarray]
    record_steps: np.ndarray
    examples: dict[str, np.ndarray]
    boundaries: list[dict[str, Any]]
    info: dict[str, Any]
    outcome_colors: dict[str, str] = dataclasses.field(default_factory=lambda: dict(COLORS))
    records: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    steps_to_target: np.ndarray | None = None

    def __repr__(self) -> str:
        shares = ", ".join(f"{o} {n / self.outcome.size:.0%}" for o, n in self.counts.items() if n)
        return f"SweepResult({self.experiment!r}, {self.grid!r}, {self.steps} steps: {shares})"

    def recommend(self):
        """Which learning rate to use, from this sweep (`edujax.store.recommend`): per setting of the other axes
        and overall, the converged band of the learning rate, the largest learning rate at which ≥ 95 % of seeds
        converge, and the fastest setting (fewest steps to the target, median over seeds).

        >>> print(result.recommend().to_text())
        """
        from edujax.store.recommend import recommend

        return recommend(self)

    def _repr_png_(self) -> bytes:
        """Jupyter shows a result as its outcome map."""
        from edujax.report import figures, plots  # the one upward import: drawing, only in Jupyter

        return plots.png(figures.figure(self))

    def to_pandas(self):
        """A tidy pandas DataFrame, one row per run: every hyperparameter column
        (a `choice` axis by its option names), ``outcome`` (its name),
        ``measure``, ``steps_to_go`` (slow runs: the steps still needed), and
        each metric's final value as ``final_<metric>``.

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
        columns.update(measure=self.measure.ravel(), steps_to_go=self.steps_to_go.ravel())
        if self.steps_to_target is not None:
            columns["steps_to_target"] = self.steps_to_target.ravel()
        columns.update({f"final_{name}": values.ravel() for name, values in self.final.items()})
        return pd.DataFrame(columns)

    def probabilities(self, outcome: str = "converged", z: float = 1.96):
        """(p, lo, hi) over the non-seed axes: the share of seeds that ended in `outcome` and its 95 % Wilson
        interval (`edujax.store.probability`).

        >>> p, lo, hi = result.probabilities("converged")
        """
        from edujax.store import probability

        return probability.probabilities(self, outcome, z)

    def to_xarray(self):
        """An `xarray.Dataset`: one dimension per axis (coordinates: its values; a choice axis its option names),
        variables ``outcome`` (codes; names in its ``flag_meanings``), ``measure``, ``steps_to_go``, ``frozen``,
        ``steps_to_target`` when recorded, and ``final_<metric>``. Needs xarray (`pip install 'edujax[xarray]'`).

        >>> ds = result.to_xarray()
        >>> ds.measure.sel(learning_rate=0.1, method="nearest")
        >>> ds.to_netcdf("sweep.nc", engine="scipy")
        """
        from edujax.store import export

        return export.to_xarray(self)

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
    def traced_all(self) -> bool:
        """Whether every run's records were kept (else only those of the sub-grid `trace_index`)."""
        return tuple(len(i) for i in self.trace_index) == self.outcome.shape

    def traced(self, array: np.ndarray) -> np.ndarray:
        """A grid-shaped per-run array restricted to the traced sub-grid (aligned with `loss`)."""
        return np.asarray(array)[np.ix_(*self.trace_index)]

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
            "recommendation": self.recommend().as_dict(),
        }

    def save(self, directory, figures: Mapping[str, str] | None = None) -> Path:
        """Write `sweep.npz`, `summary.json` and `run.json` into `directory`, each atomically.

        The summary lists every file of the folder (`files`): what edujax wrote there.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        examples = {k: v for k, v in self.examples.items() if k != "state"}
        arrays = {
            **{name: getattr(self, name) for name in ARRAY_FIELDS},
            **({} if self.steps_to_target is None else {"steps_to_target": self.steps_to_target}),
            **{f"trace_index/{i}": index for i, index in enumerate(self.trace_index)},
            **{f"axis/{a.name}": a.values for a in self.axes},
            **{f"hparam/{k}": v for k, v in self.hparams.items()},
            **{f"final/{k}": v for k, v in self.final.items()},
            **{f"record/{k}": v for k, v in self.records.items()},
            **{f"example/{k}": v for k, v in examples.items()},
            **{f"example_state/{i}": np.asarray(leaf)
               for i, leaf in enumerate(jax.tree.leaves(storable(self.examples.get("state", {}))))},
            **{f"boundary/{i}": b["value"] for i, b in enumerate(self.boundaries)},
        }
        atomic_write(directory / ARRAYS, lambda f: write_npz(f, arrays, compress=False))  # fast: not committed
        summary = self.summary(figures)
        run = {key: summary.pop(key) for key in list(summary) if key in RUN_KEYS or key.endswith("_s")}
        summary["axes"] = [
            {"name": a.name, "scale": a.scale, "columns": list(a.columns), "label": a.label, "choices": list(a.choices)}
            for a in self.axes
        ]
        present = {p.name for p in directory.iterdir() if not p.name.startswith(".")}
        summary["files"] = sorted(present | {ARRAYS, SUMMARY, RUN_LOG})
        atomic_write(directory / RUN_LOG, lambda f: f.write(json.dumps(run, indent=2).encode()))
        atomic_write(directory / SUMMARY, lambda f: f.write(json.dumps(summary, indent=2).encode()))
        return directory

    @classmethod
    def load(cls, directory, experiment=None) -> "SweepResult":
        """A saved result. With the `experiment` that produced it, the examples' final states get back
        their pytree structure; without it `examples["state"]` is the list of their leaves. A missing or
        damaged result is a one-line UserError naming the file."""
        directory = Path(directory)
        summary = read_summary(directory)
        try:
            with np.load(directory / ARRAYS, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise _damaged(directory / ARRAYS, err) from None
        try:
            run = json.loads((directory / RUN_LOG).read_text())
        except (OSError, ValueError):
            run = {}  # how the run went is not needed to read what it found
        try:
            return cls._from_saved(summary, arrays, run if isinstance(run, dict) else {}, experiment)
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise UserError(f"{directory}: {SUMMARY} and {ARRAYS} do not fit together ({type(err).__name__}: "
                            f"{_first_line(err)}): sweep that experiment again") from None

    @staticmethod
    def check(directory) -> None:
        """`load`'s checks of the summary and of the arrays' zip directory, without reading the arrays
        (cheap: it finds a missing, truncated or foreign file, not a flipped bit)."""
        directory = Path(directory)
        read_summary(directory)
        try:
            with zipfile.ZipFile(directory / ARRAYS) as npz:
                npz.namelist()
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise _damaged(directory / ARRAYS, err) from None

    @classmethod
    def _from_saved(cls, summary: dict, arrays: dict, run: dict, experiment=None) -> "SweepResult":
        def group(prefix):
            return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

        axes = tuple(
            Axis(a["name"], arrays[f"axis/{a['name']}"], a["scale"], tuple(a["columns"]), a["label"],
                 tuple(a["choices"]))
            for a in summary["axes"]
        )
        boundaries = [dict(b, value=arrays[f"boundary/{i}"]) for i, b in enumerate(summary["boundaries"])]
        known = {"experiment", "grid", "settings", "steps", "outcomes", "boundaries", "figures", "axes",
                 "outcome_colors", "files", "recommendation"}
        examples = group("example/")
        states = group("example_state/")
        if states:
            leaves = [states[str(i)] for i in range(len(states))]
            examples["state"] = leaves if experiment is None else _state_tree(experiment, group("hparam/"), leaves)
        trace_index = group("trace_index/")
        return cls(
            experiment=summary["experiment"], axes=axes, steps=summary["steps"], hparams=group("hparam/"),
            **{name: arrays[name] for name in ARRAY_FIELDS},
            trace_index=tuple(trace_index[str(i)] for i in range(len(trace_index))),
            final=group("final/"), examples=examples, boundaries=boundaries,
            info={**{k: v for k, v in summary.items() if k not in known}, **run},
            outcome_colors=summary.get("outcome_colors", dict(COLORS)), records=group("record/"),
            steps_to_target=arrays.get("steps_to_target"),
        )


#: What a summary.json must hold to be loaded.
SUMMARY_KEYS = ("experiment", "steps", "axes", "boundaries")


def read_summary(directory: Path) -> dict:
    """A result folder's `summary.json`, checked to be one; anything else is a one-line UserError."""
    path = Path(directory) / SUMMARY
    if not path.is_file():
        raise UserError(f"{directory}: no saved sweep here (no {SUMMARY})")
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise _damaged(path, err) from None
    missing = [key for key in SUMMARY_KEYS if not isinstance(summary, dict) or key not in summary]
    if missing:
        raise UserError(f"{path} is not an edujax summary (no {', '.join(missing)}): sweep that experiment again")
    if not (Path(directory) / ARRAYS).is_file():
        raise UserError(f"{directory}: {ARRAYS} is missing (the arrays are not committed: `make sweep` writes them)")
    return summary


def saved(out: Path) -> list[Path]:
    """The result folders under `out` whose arrays are here, by name (committed results have no
    `sweep.npz` until `make sweep` has run: they are not an error, just not readable yet)."""
    return sorted(p.parent for p in Path(out).glob(f"*/{SUMMARY}") if (p.parent / ARRAYS).exists())


def _damaged(path: Path, err: BaseException) -> UserError:
    return UserError(f"{path} is damaged ({type(err).__name__}: {_first_line(err)}): sweep that experiment again")


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0]


def storable(tree):
    """A pytree with PRNG-key leaves replaced by their raw data (uint32), so NumPy can hold and save it."""
    return jax.tree.map(lambda leaf: jax.random.key_data(leaf) if _is_key(leaf) else leaf, tree)


def restore_state(template, leaves: list):
    """`leaves` (of `storable(state)`, flattened) put back into the pytree `template` (e.g. from `jax.eval_shape`),
    PRNG-key leaves wrapped again."""
    structure = jax.tree.structure(template)
    kinds = jax.tree.leaves(template)
    return jax.tree.unflatten(structure, [jax.random.wrap_key_data(leaf) if _is_key(kind) else leaf
                                          for kind, leaf in zip(kinds, leaves)])


def _is_key(leaf) -> bool:
    return jax.dtypes.issubdtype(getattr(leaf, "dtype", np.float32), jax.dtypes.prng_key)


def _state_tree(experiment, hparams: dict, leaves: list):
    """The examples' saved state leaves, put back into the pytree that `experiment.init` builds."""
    abstract = {name: jax.ShapeDtypeStruct((), column.dtype) for name, column in hparams.items()}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    with jax.enable_x64(any(column.dtype == np.float64 for column in hparams.values())):
        template = jax.eval_shape(experiment.init, key, abstract)
    return restore_state(template, leaves)
