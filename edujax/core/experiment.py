"""The experiment API: pure functions plus a default grid.

General form (two players, custom state, anything): an experiment gives

    init(key, hparams) -> state
    step(state, hparams) -> (state, metrics)

where `hparams` maps column names to *traced* scalars (one grid point; the
runner vmaps over points) and `metrics` is a dict of scalars measured at the
state *before* the update, with at least ``"loss"``: the quantity the
outcome classifier judges.

Common form (params, a loss, an optax optimizer): `minimize` builds `init`
and `step` from three functions.
"""
from __future__ import annotations

import dataclasses
import inspect
import keyword
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from edujax.core.curvature import Sharpness
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

    @property
    def outcome_colors(self) -> dict[str, str]:
        """Every outcome this experiment can report -> its colour, in code order."""
        return palette(self.extra_outcomes)


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


#: Conjugate-gradient steps (Hessian-vector products) behind the `newton_gain` metric.
NEWTON_ITERATIONS = 4


def newton_gain(loss, params, grads, iterations: int = NEWTON_ITERATIONS):
    """½ gᵀH⁻¹g: what a Newton step from `params` would remove from `loss` under its local quadratic model.

    H⁻¹g is approximated by `iterations` conjugate-gradient steps from 0 (each one Hessian-vector product,
    forward-over-reverse), which already see the flat directions an ill-conditioned problem hides behind its
    steep ones; inf where the curvature met on the way is not positive (no minimum there: a saddle, a plateau
    that curves down).

    >>> import jax.numpy as jnp
    >>> f = lambda p: 0.5 * (p[0] ** 2 + 1e-6 * p[1] ** 2)          # a ravine
    >>> x = jnp.array([1e-3, 10.0])
    >>> print(f"{float(newton_gain(f, x, jax.grad(f)(x))):.4g}")      # = f(x): the whole gap is still to gain
    5.05e-05
    """
    hvp = lambda v: jax.jvp(jax.grad(loss), (params,), (v,))[1]  # noqa: E731
    # Solve for the gradient scaled to a largest entry of 1 (the gain scales with its square): the squares of a
    # tiny gradient's entries would underflow and hide the curvature.
    scale = jnp.max(jnp.stack([jnp.max(jnp.abs(leaf)) for leaf in jax.tree.leaves(grads)]))
    unit = jax.tree.map(lambda g: g / jnp.where(scale > 0, scale, 1), grads)
    solution, residual, direction = jax.tree.map(jnp.zeros_like, unit), unit, unit
    rr = optax.tree.vdot(unit, unit)
    bent_down = jnp.zeros((), bool)
    for _ in range(iterations):
        curved = hvp(direction)
        pHp = optax.tree.vdot(direction, curved)
        live = rr > 0
        bent_down = bent_down | (live & (pHp <= 0))
        alpha = jnp.where(live & (pHp > 0), rr / jnp.where(pHp > 0, pHp, 1), 0)
        solution = jax.tree.map(lambda x, p: x + alpha * p, solution, direction)
        residual = jax.tree.map(lambda r, h: r - alpha * h, residual, curved)
        rr_next = optax.tree.vdot(residual, residual)
        beta = jnp.where(live, rr_next / jnp.where(live, rr, 1), 0)
        direction = jax.tree.map(lambda r, p: r + beta * p, residual, direction)
        rr = rr_next
    return jnp.where(bent_down, jnp.inf, 0.5 * scale**2 * optax.tree.vdot(unit, solution))


PRECISIONS = ("float32", "float64")


def check_precision(precision) -> str:
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def minimize(
    *,
    loss: Callable[[Any, Hparams], jax.Array],
    params: Callable[[jax.Array, Hparams], Any],
    optimizer: Callable[[Hparams], optax.GradientTransformation],
    metrics: Callable[..., Mapping[str, jax.Array]] | None = None,
    sharpness: Sharpness | None = None,
    **experiment_fields,
) -> Experiment:
    """An experiment that minimises `loss(params, hparams)` with an optax optimizer.

    `params(key, hparams)` builds the starting point; `optimizer(hparams)`
    builds the optimizer from the swept values. It is called inside the
    compiled function, so its arguments are traced arrays: each grid point
    gets its own learning rate without recompiling, which is what
    `optax.inject_hyperparams` provides for optimizers built outside `jit`.
    `metrics(params, hparams)` adds scalars to record (e.g. the position).
    Every step records ``loss``, ``grad_norm`` (|∇loss| = |g|) and
    ``newton_gain`` (½gᵀH⁻¹g, what a Newton step would still remove; see
    `newton_gain`), which tell the classifier whether a run that came to rest
    sits at a stationary point. Only what is recorded costs: inside the sweep's
    windows XLA drops the metrics no record needs. `sharpness=ej.Sharpness(every=k)`
    adds the metric ``"sharpness"``, the loss's top Hessian eigenvalue (see
    `edujax.core.curvature`) measured every k steps, recorded at every record
    point (`record` defaults to it).

    `metrics` may take the step count as a third argument and the optimizer's
    state as a fourth: `metrics(params, hparams, step, opt_state)`, with `step`
    the number of updates made so far (an int32: 0 at the start), e.g. to
    record the current learning rate of a schedule, ``{"lr": schedule(step)}``.
    The training state is ``(params, opt_state)``, then the step count when
    `metrics` takes it (only then is it counted), then the sharpness tracker
    when `sharpness` is given.

    >>> experiment = ej.minimize(
    ...     name="bowl", loss=lambda p, h: p**2, params=lambda key, h: 1.0, optimizer=lambda h: optax.sgd(0.1),
    ...     metrics=lambda p, h, step: {"lr": ej.schedules.linear(0.0, 0.1, steps=10)(step)},
    ...     grid=ej.Grid(ej.values("x", [0.0])), global_min=0.0)
    """
    extra = _positional_arity(metrics) - 2 if metrics is not None else 0
    if not 0 <= extra <= 2:
        raise UserError("metrics must take (params, hparams), (params, hparams, step) "
                        "or (params, hparams, step, opt_state)")

    def init(key, hparams):
        start = params(key, hparams)
        state = start, optimizer(hparams).init(start)
        state += (jnp.zeros((), jnp.int32),) if extra else ()
        return state if sharpness is None else state + (sharpness.start(start),)

    def scalar_loss(current, hparams):
        value = loss(current, hparams)
        if jnp.shape(value) != ():  # else jax.grad's error speaks of "scalar-output functions"
            raise UserError(f"loss(params, hparams) must return a scalar (one number per run), "
                            f"got shape {jnp.shape(value)}")
        return value

    def step(state, hparams):
        current, opt_state = state[:2]
        value, grads = jax.value_and_grad(scalar_loss)(current, hparams)
        recorded = {"loss": value, "grad_norm": optax.tree.norm(grads),
                    "newton_gain": newton_gain(lambda p: scalar_loss(p, hparams), current, grads)}
        if metrics is not None:
            recorded.update(metrics(current, hparams, *(state[2:3] + (opt_state,))[:extra]))
        updates, opt_state = optimizer(hparams).update(grads, opt_state, current)
        new = (optax.apply_updates(current, updates), opt_state) + ((state[2] + 1,) if extra else ())
        if sharpness is not None:  # at the updated optimizer state: Adam's preconditioner of this step
            tracker = sharpness.track(state[-1], scalar_loss, current, hparams, opt_state)
            recorded["sharpness"] = tracker.value
            new += (tracker,)
        return new, recorded

    if sharpness is not None:
        experiment_fields.setdefault("record", ("sharpness",))
    return Experiment(init=init, step=step, **experiment_fields)


def _positional_arity(fn) -> int:
    """How many positional arguments `fn` takes (2 when it cannot be told, e.g. a builtin)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds for p in parameters)


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
