"""The experiment API: pure functions plus a default grid.

General form (two players, custom state, anything): an experiment gives

    init(key, hparams) -> state
    step(state, hparams) -> (state, metrics)

where `hparams` maps column names to *traced* scalars (one grid point; the
runner vmaps over points) and `metrics` is a dict of scalars measured at the
state *before* the update, with at least ``"loss"``: the quantity the
outcome classifier judges.

Common form (params, a loss, an optax optimizer): `edujax.core.minimize`
builds `init` and `step` from three functions; with `data=` it trains on
minibatches.
"""
from __future__ import annotations

import dataclasses
import keyword
from typing import Any, Callable, Mapping

import jax
import numpy as np

from edujax.core.errors import UserError
from edujax.core.grid import Grid
from edujax.core.outcomes import Criteria, palette

Hparams = Mapping[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Boundary:
    """A theoretical limit drawn on the heatmap.

    `value(hparams)` gives the limit on `axis` as a function of the other
    hyperparameters (numpy arrays, one entry per point of the other axes);
    a constant is a straight line, e.g. ``lr = 2 / λ_max``.
    """

    label: str
    axis: str
    value: Callable[[Mapping[str, Any]], Any]


@dataclasses.dataclass(frozen=True)
class Target:
    """What "reached the target" means for steps-to-target: the recorded `metric` at or below `value`
    (at or above it with `higher`, e.g. an accuracy). `value=None` (only for ``loss``): the converged
    tolerance above f*, atol + rtol·g0 (`edujax.core.outcomes`).

    >>> Target(0.95, metric="eval_accuracy", higher=True).describe()
    'eval_accuracy ≥ 0.95'
    """

    value: float | None = None
    metric: str = "loss"
    higher: bool = False

    def __post_init__(self):
        if self.value is None and self.metric != "loss":
            raise UserError(f"target on {self.metric!r} needs a value")
        if self.value is not None and not (isinstance(self.value, (int, float)) and np.isfinite(self.value)):
            raise UserError(f"target value must be a finite number, got {self.value!r}")

    def describe(self, tolerance: str = "f* + atol + rtol·g0") -> str:
        bound = tolerance if self.value is None else f"{self.value:g}"
        return f"{self.metric} {'≥' if self.higher else '≤'} {bound}"


@dataclasses.dataclass(frozen=True, eq=False)
class Experiment:
    """Everything edujax needs to sweep, classify and plot one problem.

    `defaults` gives every hyperparameter the grid does not sweep (any of them
    can become an axis); `global_min` is the known minimum the classifier
    measures against (``None``: the lowest loss any run of the sweep reached);
    `figures(result, out_dir) -> {file: description}` adds
    experiment-specific plots to the standard ones.

    `classify(runs, codes) -> codes` relabels runs after the standard rules
    (`codes`, see `edujax.core.outcomes`), e.g. to call a GAN that missed modes
    "mode collapse"; `runs` holds the flattened sweep outputs: ``loss``
    (N, R + 1) at the steps ``record_steps``, ``hi`` and ``lo`` (N, R: the
    loss's largest and smallest value in each record window, non-finite where
    a loss was), ``initial`` ({"loss", "grad_norm"}: (N,), at the first
    step), ``final`` ({metric: (N,)}, every metric at the last) and ``frozen``
    (N,). Outcomes it adds beyond the standard six are named in
    `extra_outcomes` (name -> colour), coded 6, 7, … in that order.

    `precision` ("float32" or "float64") is the float type of every array of
    its sweeps. `highlights` names cells ({axis: value}, nearest grid cell)
    that are always among the representative runs (`result.examples`), e.g.
    the textbook cases a figure draws.

    `record` names metrics kept, besides the loss, at every record point of
    every traced run (`SweepResult.records`), e.g. ``("sharpness",)``: one
    number per record point per run, so memory stays O(records).

    `evaluate(state, hparams) -> metrics` (optional) is measured only at the
    record points (and the first and last step) and overrides the step's
    metrics there, e.g. the loss on the whole data set where the step sees a
    minibatch. `noisy` says which runs carry gradient noise (True, or a
    function of the hyperparameters, e.g. batch size below the data size):
    they are judged by the rules for noisy runs (`edujax.core.outcomes`) and can
    end on the ``noise_floor``. `target` defines steps-to-target (`Target`;
    default: the loss within the converged tolerance of f*). `check(columns)`
    (optional) refuses grid values the experiment cannot run, with a
    UserError. `records` is how many record points a sweep keeps per run
    unless it is told otherwise (steps-to-target is resolved to one record
    window).
    """

    name: str
    init: Callable[[jax.Array, Hparams], Any]
    step: Callable[[Any, Hparams], tuple[Any, Mapping[str, jax.Array]]]
    grid: Grid
    steps: int = 500
    defaults: Mapping[str, float] = dataclasses.field(default_factory=dict)
    global_min: float | None = None
    criteria: Criteria = Criteria()
    boundaries: tuple[Boundary, ...] = ()
    description: str = ""
    figures: Callable[..., Mapping[str, str]] | None = None
    default: bool = True
    classify: Callable[[Mapping[str, Any], Any], Any] | None = None
    extra_outcomes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    precision: str = "float32"
    highlights: tuple[Mapping[str, float], ...] = ()
    record: tuple[str, ...] = ()
    evaluate: Callable[[Any, Hparams], Mapping[str, jax.Array]] | None = None
    noisy: bool | Callable[[Hparams], jax.Array] = False
    target: Target = Target()
    check: Callable[[Mapping[str, Any]], None] | None = None
    records: int = 25

    def __post_init__(self):
        check_name(self.name)
        check_steps(self.steps)
        for fn in ("init", "step"):
            if not callable(getattr(self, fn)):
                raise UserError(f"experiment {self.name!r}: {fn} must be a function")
        if not isinstance(self.grid, Grid):
            raise UserError(f"experiment {self.name!r}: grid must be an edujax Grid")
        if self.classify is not None and not callable(self.classify):
            raise UserError(f"experiment {self.name!r}: classify must be a function")
        palette(self.extra_outcomes)  # raises if an extra outcome reuses a standard name
        check_precision(self.precision)
        for point in self.highlights:
            unknown = sorted(set(point) - set(self.grid.names) - set(self.defaults))
            if unknown:
                raise UserError(f"experiment {self.name!r}: highlights name unknown hyperparameters "
                                f"{', '.join(unknown)}")
        if isinstance(self.record, str) or not all(isinstance(name, str) for name in self.record):
            raise UserError(f"experiment {self.name!r}: record must be a tuple of metric names, got {self.record!r}")
        if isinstance(self.records, bool) or not isinstance(self.records, int) or self.records <= 0:
            raise UserError(f"experiment {self.name!r}: records must be a positive integer, got {self.records!r}")
        if not isinstance(self.target, Target):
            raise UserError(f"experiment {self.name!r}: target must be an edujax Target, got {self.target!r}")
        if self.target.metric not in ("loss", *self.record):
            raise UserError(f"experiment {self.name!r}: the target's metric {self.target.metric!r} must be recorded "
                            "(name it in `record`)")

    @property
    def outcome_colors(self) -> dict[str, str]:
        """Every outcome this experiment can report -> its colour, in code order."""
        return palette(self.extra_outcomes, noisy=self.noisy is not False)


def check_name(name) -> str:
    """An experiment's name names its module and its results folder: a Python identifier
    (letters, digits and _, not starting with a digit, not a keyword), so never a path."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise UserError(f"{name!r} is not a valid experiment name: use letters, digits and _, not starting with a digit"
                        " (it names the results folder)")
    return name


def check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise UserError(f"steps must be a positive integer, got {steps!r}")
    return steps


PRECISIONS = ("float32", "float64")


def check_precision(precision) -> str:
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


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
