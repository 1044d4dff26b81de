"""The common form of an experiment: a loss, a start and an optax optimizer (`minimize`), on a data set in
minibatches (`on_data`), and the measurements every such step records (the gradient norm, `newton_gain`,
the gradient noise scale `noise_scale`)."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from edujax.core.curvature import Sharpness
from edujax.core.errors import UserError
from edujax.core.experiment import Experiment, Hparams
from edujax.core.grid import Grid


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
