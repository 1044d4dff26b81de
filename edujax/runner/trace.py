"""Tracing one run: what `sweep` vmaps, and the same training for one setting alone (`replay`).

`run_one` trains a single grid point with `lax.scan`, reduces its metrics on
the fly and returns what the host keeps of it. The training scan is nested:
an outer scan over `R` record windows, an inner scan of `k` steps per window,
unrolled (for steps on a few scalars) so that XLA fuses the steps of a window
into one loop over the batch. Each window keeps the loss at its first step
and the loss's largest and smallest value at any of its steps (the envelope),
so the memory per run is O(R), not O(steps).

`outcomes_of` judges a batch of such runs with the rules of
`edujax.core.outcomes` (`summarize` per run, then the rules on the batch).
"""
from __future__ import annotations

import contextlib
import dataclasses

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np

from edujax.core import outcomes
from edujax.core.errors import UserError
from edujax.core.experiment import Experiment
from edujax.core.outcomes import summarize
from edujax.store.result import storable

#: Steps unrolled per inner-scan iteration: enough for XLA to fuse a window's
#: steps into one pass over the batch, small enough to compile in a blink
#: (a window of up to twice this many steps is unrolled whole).
MAX_UNROLL = 16

#: Only steps on a few scalars are unrolled: a state of at most this many
#: numbers per run, and no value in the step bigger than the state and its
#: envelope (no batch of data, no matrix). Such steps fuse into one cheap
#: loop over the batch, which unrolling speeds up; a step that reduces over
#: data or multiplies matrices compiles nearly twice as long unrolled and
#: runs slower (README, Performance).
UNROLL_MAX_STATE = 64

#: The metrics kept at the first step: what the classifier reads there (the rest, e.g. a Newton step, is
#: then never computed at step 0).
INITIAL = ("loss", "grad_norm")


@dataclasses.dataclass(frozen=True)
class RecordPlan:
    """When to record: at the start of each of `windows` windows of `window`
    steps, and after the final step.

    `lead` leftover steps (steps not divisible by the window) run after the
    last window and belong to it, so the last record is always at the final
    step. Sweeps record the loss only; `all_metrics` records every metric
    (for the few runs that are drawn step by step).
    """

    steps: int
    windows: int
    window: int
    lead: int
    all_metrics: bool = False

    @classmethod
    def make(cls, steps: int, records: int, all_metrics: bool = False) -> "RecordPlan":
        windows = max(1, min(records, steps))
        window = steps // windows
        return cls(steps, windows, window, steps - windows * window, all_metrics)

    @property
    def record_steps(self) -> np.ndarray:
        return np.concatenate([self.window * np.arange(self.windows), [self.steps]])


def as_dtype(metrics, dtype):
    """Recorded metrics as scalars of the sweep's float type, so every step's carry has one type."""
    if "loss" not in metrics:
        raise UserError(f"a step must return a metrics dict with a 'loss' entry, got keys {sorted(metrics)}")
    metrics = {name: jnp.asarray(value, dtype) for name, value in metrics.items()}
    for name, value in metrics.items():
        if value.shape != ():
            raise UserError(f"metric {name!r} must be a scalar per run, got shape {value.shape}")
    return metrics


def setting_key(key, hparams):
    """The PRNG key of one grid point: the sweep's key with its `seed` column folded in."""
    return jax.random.fold_in(key, hparams["seed"]) if "seed" in hparams else key


def replay(experiment: Experiment, hparams, steps: int, seed: int = 0):
    """Train one setting alone (no vmap), as `sweep` trains it: `(final state, metrics)`.

    `hparams` maps every column to a scalar; `metrics[name]` has every step's
    value, `steps + 1` of them (the last describes the final state), so its
    memory grows with `steps`: for long runs use `sweep`, whose records are
    bounded. Wrap it in `jax.jit` (with `experiment` and `steps` static) to
    replay many settings.
    """
    dtype = jnp.result_type(float)

    def measured(state):
        following, metrics = experiment.step(state, hparams)
        if experiment.evaluate is not None:
            metrics = {**metrics, **experiment.evaluate(state, hparams)}
        return following, metrics

    def advance(state, _):
        state, metrics = measured(state)
        return state, as_dtype(metrics, dtype)

    start = experiment.init(setting_key(jax.random.key(seed), hparams), hparams)
    state, metrics = jax.lax.scan(advance, start, None, length=steps)
    _, last = measured(state)
    return state, {name: jnp.concatenate([trace, as_dtype(last, dtype)[name][None]]) for name, trace in metrics.items()}


def _float_leaves(tree) -> list:
    return [leaf for leaf in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)]


def _norm(leaves) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in leaves)) if leaves else jnp.asarray(0.0)


def run_one(experiment: Experiment, plan: RecordPlan, dtype, keep_state: bool = False):
    """`(hparams, key) -> reduced run` for one grid point: the body to vmap.

    Returns the loss and the experiment's `record` metrics (with
    `plan.all_metrics`, every metric) at the record points (``records``),
    the loss's largest and smallest value in each record window, every
    metric at the last step (``final``) and the loss and gradient norm at the first (``initial``),
    ``frozen`` (one more update changes no bit of the floating state),
    ``moved`` (that update's size relative to the state's) and, with
    `keep_state`, the final training state.

    Each step's metrics describe the state *before* its update. Across
    windows the carry is only the state and the envelope: whatever else a step
    computes is dead inside the unrolled window and XLA drops it, and every
    extra carried value would cost another pass of the fused window over the
    batch (XLA:CPU fuses each output separately, each re-running the window's
    steps). So the envelope travels as one complex number, hi + i·lo: one
    output whose fusion computes the window's losses once for both, where two
    float outputs would compute them twice (README, Performance).
    Non-finite losses need no flag of their own: they make the envelope
    non-finite (NaN through `maximum`, ±inf through `maximum`/`minimum`).
    """

    kept_metrics = _kept_metrics(experiment, plan)

    def run(hparams, key):
        def evaluate(state):
            state, metrics = experiment.step(state, hparams)
            return state, as_dtype(metrics, dtype)

        def measure(state):  # at a record point: the step's metrics, and the experiment's own measurements
            if experiment.evaluate is None:
                return evaluate(state)
            following, metrics = experiment.step(state, hparams)
            return following, as_dtype({**metrics, **experiment.evaluate(state, hparams)}, dtype)

        def advance(carry, _):
            state, envelope = carry
            state, metrics = evaluate(state)
            return (state, _widen(envelope, metrics["loss"])), None

        def scan_steps(carry, length):
            # A short window unrolled whole: no leftover steps compiled apart from the unrolled loop.
            unroll = (length if length <= 2 * MAX_UNROLL else MAX_UNROLL) if scalar else 1
            return jax.lax.scan(advance, carry, None, length=length, unroll=unroll)[0]

        def window(carry, _):
            # Emit the *previous* window (closed on this window's first loss) and keep this one in the carry:
            # the scan output then only copies a carried buffer, instead of re-running the fused window
            # single-threaded to write it, and each record's loss is computed once.
            state, (record, envelope) = carry
            state, first = measure(state)  # the record: metrics at the window's first step
            closed = (record, _widen(envelope, first["loss"]))
            state, opened = scan_steps((state, jax.lax.complex(first["loss"], first["loss"])), plan.window - 1)
            return (state, (kept_metrics(first), opened)), closed

        state = experiment.init(setting_key(key, hparams), hparams)
        _, start = measure(state)
        placeholder = (kept_metrics(start), jax.lax.complex(start["loss"], start["loss"]))  # emitted first, dropped
        scalar = _scalar_step(advance, (state, placeholder[1]))  # read by scan_steps, for both of its scans
        (state, newest), emitted = jax.lax.scan(window, (state, placeholder), None, length=plan.windows)
        records, envelope = jax.tree.map(lambda older, new: jnp.concatenate([older[1:], new[None]]), emitted, newest)
        # Leftover steps belong to the last window, closed on the final loss.
        state, last = scan_steps((state, envelope[-1]), plan.lead)
        following, final = measure(state)
        envelope = envelope.at[-1].set(_widen(last, final["loss"]))
        hi, lo = jnp.real(envelope), jnp.imag(envelope)
        frozen, moved = _frozen_and_moved(state, following, dtype)
        out = {"records": {name: jnp.concatenate([trace, final[name][None]]) for name, trace in records.items()},
               "hi": hi, "lo": lo, "initial": {name: start[name] for name in INITIAL if name in start},
               "final": final, "frozen": frozen,
               "moved": moved.astype(dtype)}
        if keep_state:
            out["state"] = storable(state)  # PRNG keys as raw data, which NumPy can hold
        return out

    return run


def _kept_metrics(experiment: Experiment, plan: RecordPlan):
    """`metrics -> the metrics a record keeps`: the loss and the experiment's `record` (every metric with
    `plan.all_metrics`); a recorded metric the step does not return is a UserError."""
    kept = ("loss", *experiment.record)

    def kept_metrics(metrics):
        if plan.all_metrics:
            return metrics
        missing = [name for name in kept if name not in metrics]
        if missing:
            raise UserError(f"experiment {experiment.name!r} records {missing}, which its step does not return")
        return {name: metrics[name] for name in kept}

    return kept_metrics


def _widen(envelope, loss):
    """A window's envelope, hi + i·lo, taking in one more loss."""
    return jax.lax.complex(jnp.maximum(jnp.real(envelope), loss), jnp.minimum(jnp.imag(envelope), loss))


def _frozen_and_moved(state, following, dtype):
    """Whether one more update changed no bit of the floating state, and that update's size relative to the
    state's."""
    after, before = _float_leaves(following), _float_leaves(state)
    frozen = jnp.all(jnp.stack([jnp.all(a == b) for a, b in zip(after, before)])) if before else jnp.asarray(False)
    moved = _norm([a - b for a, b in zip(after, before)]) / jnp.maximum(_norm(before), jnp.finfo(dtype).tiny)
    return frozen, moved


def _scalar_step(advance, carry) -> bool:
    """Whether one step `advance(carry, None)` of a carry (state, envelope) is worth unrolling: the state holds
    at most `UNROLL_MAX_STATE` numbers per run and no value the step computes (sub-computations included) holds
    more than the whole carry."""
    if sum(jnp.size(leaf) for leaf in jax.tree.leaves(carry[0])) > UNROLL_MAX_STATE:  # leaves may be Python floats
        return False

    def largest(jaxpr) -> int:
        sizes = [int(np.prod(v.aval.shape)) for eqn in jaxpr.eqns for v in eqn.outvars if hasattr(v.aval, "shape")]
        return max([0, *sizes, *map(largest, jax.extend.core.subjaxprs(jaxpr))])

    carried = sum(jnp.size(leaf) for leaf in jax.tree.leaves(carry))
    return largest(jax.make_jaxpr(advance)(carry, None).jaxpr) <= carried


def outcomes_of(runs: dict, global_min, record_steps, criteria) -> dict:
    """The outcomes of a batch of reduced runs (the outputs of `run_one`; ``noisy`` when the experiment is):
    `summarize` then `outcomes_from`."""
    noisy_steps = record_steps if "noisy" in runs else None
    summary = summarize(runs["records"]["loss"], runs["hi"], runs["lo"], global_min, criteria, noisy_steps)
    return outcomes_from(summary, runs, record_steps, criteria)


def outcomes_from(summary: dict, runs: dict, record_steps, criteria) -> dict:
    """The rules of `edujax.core.outcomes` (its `_judge`) on `summarize`'s numbers and a batch of reduced runs:
    ``{"outcome", "measure", "steps_to_go"}``."""
    initial, final = runs["initial"], runs["final"]
    return outcomes._judge(summary, record_steps, criteria, grad0=initial.get("grad_norm"),
                           grad=final.get("grad_norm"), newton=final.get("newton_gain"), frozen=runs["frozen"],
                           moved=runs["moved"], noisy=runs.get("noisy"))


def steps_to_target(experiment: Experiment, records: dict, lo, global_min, record_steps):
    """The first record step at which each run reached `experiment.target` (NaN: never); see
    `edujax.core.outcomes.reach_step`. The default target is the converged tolerance above f*; on the loss of a
    deterministic run a window whose smallest loss reached it counts too (at the window's end)."""
    target = experiment.target
    values = records[target.metric]
    if target.value is None:
        c = experiment.criteria
        f_star = jnp.asarray(global_min, values.dtype)
        level = f_star + c.atol + c.rtol * jnp.maximum(records["loss"][..., 0] - f_star, 0)
    else:
        level = target.value
    window = lo if target.metric == "loss" and experiment.noisy is False else None
    return outcomes.reach_step(values, record_steps, level, target.higher, window)


def noisy_runs(experiment: Experiment, hparams):
    """Which runs carry gradient noise (`Experiment.noisy`), as a bool per run; None for a deterministic
    experiment."""
    if experiment.noisy is False:
        return None
    noisy = experiment.noisy(hparams) if callable(experiment.noisy) else experiment.noisy
    return jnp.broadcast_to(jnp.asarray(noisy, bool), jnp.shape(next(iter(hparams.values()))))


def column_signature(columns: dict) -> tuple:
    """The (name, dtype) of every hyperparameter column, sorted: what a compiled sweep depends on besides shapes."""
    return tuple(sorted((name, col.dtype.str) for name, col in columns.items()))


@contextlib.contextmanager
def tracing_user_code(experiment: Experiment):
    """Errors met while tracing the experiment's own functions are the user's to fix: UserError.

    The original exception stays attached as the cause, so the CLI can name
    the line of the user's file.
    """
    try:
        yield
    except UserError:
        raise
    except KeyError as missing:
        raise UserError(
            f"experiment {experiment.name!r} reads hyperparameter {missing} "
            "that is neither a grid axis nor in its defaults"
        ) from missing
    except Exception as err:  # shapes that do not fit, Python `if` on a traced value, ...: the experiment's to fix
        message = (str(err).strip().splitlines() or [""])[0]
        raise UserError(
            f"experiment {experiment.name!r} failed while tracing: {type(err).__name__}: {message}") from err
