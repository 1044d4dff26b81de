"""The experiment API: pure functions plus a default grid.

General form (two players, custom state, anything): an experiment gives

    init(key, hparams) -> state
    step(state, hparams) -> (state, metrics)

where `hparams` maps column names to *traced* scalars (one grid point; the
runner vmaps over points) and `metrics` is a dict of scalars measured at the
state *before* the update, with at least ``"loss"``: the quantity the
outcome classifier judges.

Common form (params, a loss, an optax optimizer): `minimize` builds `init`
and `step` from three functions; with `data=` it trains on minibatches.
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
    data: Any = None,
    batch_size: int | None = None,
    eval_data: Any = None,
    eval_metrics: Callable[..., Mapping[str, jax.Array]] | None = None,
    noise_scale: bool = False,
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

    With `data` (any pytree of arrays with a leading example axis) the loss
    is `loss(params, hparams, batch)`, the mean over a batch, and every step
    trains on a minibatch of `batch_size` examples (or the ``batch_size``
    column of the grid) drawn *with replacement* from the run's own key, so
    each step's gradient is an unbiased, independent estimate of the full one;
    a batch of the whole data set is the data itself, in order (full-batch
    gradient descent, judged by the deterministic rules). See `on_data`.

    >>> experiment = ej.minimize(
    ...     name="bowl", loss=lambda p, h: p**2, params=lambda key, h: 1.0, optimizer=lambda h: optax.sgd(0.1),
    ...     metrics=lambda p, h, step: {"lr": ej.schedules.linear(0.0, 0.1, steps=10)(step)},
    ...     grid=ej.Grid(ej.values("x", [0.0])), global_min=0.0)
    """
    if data is not None:
        if sharpness is not None:
            raise UserError("minimize: sharpness= is not available with data= (minibatch training)")
        return on_data(loss=loss, params=params, optimizer=optimizer, data=data, batch_size=batch_size,
                       metrics=metrics, eval_data=eval_data, eval_metrics=eval_metrics, noise_scale=noise_scale,
                       **experiment_fields)
    given = [name for name, value in (("batch_size", batch_size), ("eval_data", eval_data),
                                      ("eval_metrics", eval_metrics), ("noise_scale", noise_scale or None))
             if value is not None]
    if given:
        raise UserError(f"minimize: {', '.join(given)} needs data= (the training set)")
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


def examples_in(data, what: str = "data") -> int:
    """The number of examples in `data`, a pytree of arrays sharing a leading example axis; a UserError
    (one line) for anything else: no arrays, leaves that disagree on the example count, non-finite values."""
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise UserError(f"{what} must be a pytree of arrays with a leading example axis, got {data!r:.60}")
    shapes = [np.shape(leaf) for leaf in leaves]
    if any(len(shape) == 0 for shape in shapes):
        raise UserError(f"{what}: every array needs a leading example axis, got a scalar")
    counts = sorted({shape[0] for shape in shapes})
    if len(counts) > 1:
        raise UserError(f"{what}: its arrays disagree on the number of examples ({', '.join(map(str, counts))})")
    if counts[0] == 0:
        raise UserError(f"{what} holds no examples")
    for leaf in leaves:
        array = np.asarray(leaf)
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            raise UserError(f"{what} holds non-finite values (NaN or inf): clean it before training")
    return counts[0]


def noise_scale(loss, params, hparams, data) -> jax.Array:
    """The simple gradient noise scale B_simple = tr(Σ)/|G|² (McCandlish et al. 2018): Σ the covariance of
    the per-example gradients of `loss(params, hparams, batch)` over `data` (unbiased, N − 1), G their mean.
    It estimates the batch size B_noise above which a larger batch barely speeds training up.

    >>> import jax.numpy as jnp
    >>> x, y = jnp.array([[1.0], [-1.0]]), jnp.array([1.0, 1.0])     # gradients (w·x − y)x at w = ½: −½, 3/2
    >>> float(noise_scale(lambda w, h, b: jnp.mean((b[0] @ w - b[1]) ** 2) / 2, jnp.array([0.5]), {}, (x, y)))
    8.0
    """
    def one(example):
        return jax.grad(lambda p: loss(p, hparams, jax.tree.map(lambda a: a[None], example)))(params)

    grads = jax.vmap(one)(data)
    flat = jnp.concatenate([jnp.reshape(leaf, (jnp.shape(leaf)[0], -1)) for leaf in jax.tree.leaves(grads)], 1)
    mean = flat.mean(0)
    trace = jnp.sum(jnp.square(flat - mean)) / max(flat.shape[0] - 1, 1)
    return trace / jnp.sum(jnp.square(mean))


_noise_scale = noise_scale  # `on_data` has a flag of that name


def on_data(*, loss, params, optimizer, data, batch_size=None, metrics=None, eval_data=None, eval_metrics=None,
            noise_scale: bool = False, **experiment_fields) -> Experiment:
    """`minimize` on a data set: minibatch training (what `minimize(data=...)` builds).

    Each step draws `B` indices uniformly *with replacement* from the run's own key (folded with the step
    count), evaluates `loss(params, hparams, batch)` on each drawn example alone (a batch of one, under
    `vmap`) and averages the first `B` of a fixed-size draw of `B_max` (the largest batch the experiment's
    grid and defaults hold): one executable for every batch size, each step costing `B_max` examples. With
    `B` = the data size the batch is the data in order, and the run is full-batch gradient descent.

    At the record points (and the first and last step) the metrics are measured on the whole training set:
    ``loss``, ``grad_norm`` and ``newton_gain`` (what the classifier reads), and with `eval_data` the held-out
    ``eval_loss`` and ``eval_<name>`` for each of `eval_metrics(params, hparams, batch)`; with `noise_scale`
    the simple noise scale B_simple of the whole training set (`noise_scale`). These are recorded for every
    traced run. Runs whose batch is smaller than the data are noisy (`Experiment.noisy`).

    >>> import jax.numpy as jnp
    >>> x = jnp.linspace(-1, 1, 64)[:, None]
    >>> fit = ej.minimize(name="fit", loss=lambda w, h, b: jnp.mean((b[0] @ w - b[1]) ** 2) / 2,
    ...                   params=lambda key, h: jnp.zeros(1), optimizer=lambda h: optax.sgd(h["learning_rate"]),
    ...                   data=(x, 3 * x[:, 0]), batch_size=8, grid=ej.Grid(ej.logspace("learning_rate", 0.01, 1, 8)))
    """
    n = examples_in(data, "data")
    if _positional_arity(loss) < 3:
        raise UserError("with data=, loss must take (params, hparams, batch): the mean loss over a batch")
    eval_names = ()
    if eval_data is not None:
        examples_in(eval_data, "eval_data")
        if jax.tree.structure(eval_data) != jax.tree.structure(data) or any(
                np.shape(a)[1:] != np.shape(b)[1:]
                for a, b in zip(jax.tree.leaves(eval_data), jax.tree.leaves(data))):
            raise UserError("eval_data must have the structure of data and the same shape per example")
        eval_names = ("eval_loss",)
    elif eval_metrics is not None:
        raise UserError("eval_metrics needs eval_data= (the held-out set)")
    grid = experiment_fields.get("grid")
    defaults = dict(experiment_fields.get("defaults", {}))
    if batch_size is not None:
        defaults.setdefault("batch_size", batch_size)
    swept = grid is not None and isinstance(grid, Grid) and "batch_size" in grid.names
    sizes = list(np.asarray(grid.columns()["batch_size"]).ravel()) if swept else []
    if "batch_size" in defaults:
        sizes.append(defaults["batch_size"])
    if not sizes:
        raise UserError("minimize with data= needs batch_size= (or a batch_size axis in the grid)")
    check_batch_sizes(sizes, n)
    largest = int(max(sizes))
    data = jax.tree.map(jnp.asarray, data)
    eval_data = None if eval_data is None else jax.tree.map(jnp.asarray, eval_data)

    def per_example(current, hparams, batch):
        def one(example):
            value = loss(current, hparams, jax.tree.map(lambda a: a[None], example))
            if jnp.shape(value) != ():
                raise UserError(f"loss(params, hparams, batch) must return a scalar (the batch's mean), "
                                f"got shape {jnp.shape(value)}")
            return value
        return jax.vmap(one)(batch)

    def mean_loss(current, hparams, batch):
        return jnp.mean(per_example(current, hparams, batch))

    def init(key, hparams):
        start_key, data_key = jax.random.split(key)
        start = params(start_key, hparams)
        return start, optimizer(hparams).init(start), data_key, jnp.zeros((), jnp.int32)

    def step(state, hparams):
        current, opt_state, key, count = state
        size = jnp.clip(jnp.round(hparams["batch_size"]).astype(jnp.int32), 1, n)
        drawn = jax.random.randint(jax.random.fold_in(key, count), (largest,), 0, n)
        index = jnp.where(size >= n, jnp.arange(largest) % n, drawn)  # a batch of all the data is the data
        batch = jax.tree.map(lambda a: a[index], data)

        def batch_loss(p):
            losses = per_example(p, hparams, batch)
            return jnp.sum(jnp.where(jnp.arange(largest) < size, losses, 0)) / size.astype(losses.dtype)

        value, grads = jax.value_and_grad(batch_loss)(current)
        recorded = {"loss": value, "grad_norm": optax.tree.norm(grads)}
        if metrics is not None:
            recorded.update(metrics(current, hparams))
        updates, opt_state = optimizer(hparams).update(grads, opt_state, current)
        return (optax.apply_updates(current, updates), opt_state, key, count + 1), recorded

    def evaluate(state, hparams):
        current = state[0]
        full = lambda p: mean_loss(p, hparams, data)  # noqa: E731
        value, grads = jax.value_and_grad(full)(current)
        measured = {"loss": value, "grad_norm": optax.tree.norm(grads),
                    "newton_gain": newton_gain(full, current, grads)}
        if eval_data is not None:
            measured["eval_loss"] = mean_loss(current, hparams, eval_data)
            if eval_metrics is not None:
                named = eval_metrics(current, hparams, eval_data)
                measured.update({f"eval_{name}": value for name, value in named.items()})
        if noise_scale:
            measured["noise_scale"] = _noise_scale(loss, current, hparams, data)
        return measured

    def check(columns):
        if "batch_size" in columns:
            check_batch_sizes(np.unique(columns["batch_size"]), n, largest)

    if eval_metrics is not None:
        probe = jax.eval_shape(lambda: eval_metrics(params(jax.random.key(0), _probe_hparams(grid, defaults)),
                                                     _probe_hparams(grid, defaults), eval_data))
        eval_names += tuple(f"eval_{name}" for name in probe)
    experiment_fields.setdefault("record", eval_names + (("noise_scale",) if noise_scale else ()))
    experiment_fields["defaults"] = defaults
    return Experiment(init=init, step=step, evaluate=evaluate, check=check,
                      noisy=lambda hparams: jnp.round(hparams["batch_size"]) < n, **experiment_fields)


def check_batch_sizes(sizes, n: int, largest: int | None = None) -> None:
    """Batch sizes must be whole numbers from 1 to the data size (and to `largest`, the batch the experiment
    was built for): a UserError naming the first that is not."""
    for size in sizes:
        try:
            value = float(size) if not isinstance(size, (bool, str)) else np.nan
        except (TypeError, ValueError):
            value = np.nan
        shown = f"{value:g}" if np.isfinite(value) else repr(size)  # 32, not np.float32(32.0)
        if not np.isfinite(value) or value != round(value) or value < 1 or value > n:
            raise UserError(f"batch_size must be a whole number from 1 to the data size {n}, got {shown}")
        if largest is not None and value > largest:
            raise UserError(f"batch_size {value:g} is above the largest batch this experiment was built for "
                            f"({largest}): put it in the experiment's grid or its batch_size=")


def _probe_hparams(grid, defaults) -> dict:
    """One grid point's hyperparameters (the first), for tracing a function once outside a sweep."""
    columns = dict(grid.columns()) if isinstance(grid, Grid) else {}
    point = {name: jnp.asarray(column.ravel()[0]) for name, column in columns.items()}
    point.update({name: jnp.asarray(value) for name, value in defaults.items() if name not in point})
    return point
