"""The runner: a whole sweep is one compiled function.

`sweep` builds `jit(vmap(run_one))`: `run_one` trains a single grid point with
`lax.scan` and reduces its metrics on the fly; `vmap` runs every point of a
chunk at once. Hyperparameters are arguments of the compiled function, so a
new grid of the same shape reuses the executable (see `_compile`'s cache).

The training scan is nested: an outer scan over `R` record windows, an inner
scan of `k` steps per window, unrolled so that XLA fuses the steps of a window
into one loop over the batch. Only the window boundaries are recorded, so the
memory per run is O(R), not O(steps).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time
import jax
import jax.numpy as jnp
import numpy as np

from edujax.errors import UserError
from edujax.experiment import Experiment, check_steps
from edujax.grid import Grid
from edujax.outcomes import OUTCOMES, classify
from edujax.result import SweepResult, evaluate_boundaries

#: Steps unrolled per inner-scan iteration: enough for XLA to fuse a window's
#: steps into one pass over the batch, small enough to compile in a blink.
MAX_UNROLL = 16


@dataclasses.dataclass(frozen=True)
class RecordPlan:
    """When to record: at step 0, then after `windows` windows of `window` steps.

    `lead` leftover steps (steps not divisible by the window) run before the
    first window, so the last record is always at the final step. Sweeps
    record the loss only; `all_metrics` records every metric (for the few
    runs that are drawn step by step).
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
        return np.concatenate([[0], self.lead + self.window * np.arange(1, self.windows + 1)])


def as_float32(metrics):
    """Recorded metrics as float32 scalars, so every step's carry has one type."""
    if "loss" not in metrics:
        raise UserError(f"a step must return a metrics dict with a 'loss' entry, got keys {sorted(metrics)}")
    metrics = {name: jnp.asarray(value, jnp.float32) for name, value in metrics.items()}
    for name, value in metrics.items():
        if value.shape != ():
            raise UserError(f"metric {name!r} must be a scalar per run, got shape {value.shape}")
    return metrics


def run_one(experiment: Experiment, plan: RecordPlan):
    """`(hparams, key) -> reduced metrics` for one grid point: the body to vmap.

    Returns the loss (or every metric) at the record points, the loss's
    total variation per window,
    every metric's final value, the best loss and a non-finite flag. Each
    step's metrics describe the state *before* its update, so the run takes
    `steps + 1` calls of `experiment.step` to see the final state.
    """

    def run(hparams, key):
        def advance(carry, _):
            state, last, tv, best, bad = carry
            state, metrics = experiment.step(state, hparams)
            metrics = as_float32(metrics)
            loss = metrics["loss"]
            tv = tv + jnp.abs(loss - last["loss"])
            return (state, metrics, tv, jnp.fmin(best, loss), bad | ~jnp.isfinite(loss)), None

        def scan_steps(carry, length):
            return jax.lax.scan(advance, carry, None, length=length, unroll=min(length, MAX_UNROLL))[0]

        def window(carry, _):
            state, last, tv, best, bad = scan_steps(carry, plan.window)
            recorded = last if plan.all_metrics else {"loss": last["loss"]}
            return (state, last, jnp.zeros_like(tv), best, bad), (recorded, tv)

        if "seed" in hparams:
            key = jax.random.fold_in(key, hparams["seed"])
        state, first = experiment.step(experiment.init(key, hparams), hparams)
        first = as_float32(first)
        loss = first["loss"]
        carry = (state, first, jnp.zeros_like(loss), loss, ~jnp.isfinite(loss))
        if plan.lead:
            carry = scan_steps(carry, plan.lead)
        (_, final, _, best, bad), (records, tv) = jax.lax.scan(window, carry, None, length=plan.windows)
        traces = {name: jnp.concatenate([first[name][None], trace]) for name, trace in records.items()}
        return {"traces": traces, "tv": tv, "final": final, "best_loss": best, "nonfinite": bad}

    return run


@functools.lru_cache(maxsize=64)
def _compile(experiment: Experiment, plan: RecordPlan, batch: int, signature: tuple):
    """Compile once per (experiment, record plan, chunk shape, column dtypes)."""
    specs = {name: jax.ShapeDtypeStruct((batch,), dtype) for name, dtype in signature}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    batched = jax.jit(jax.vmap(run_one(experiment, plan), in_axes=(0, None)))
    try:
        return batched.lower(specs, key).compile()
    except KeyError as missing:
        raise UserError(
            f"experiment {experiment.name!r} reads hyperparameter {missing} that is neither a grid axis nor in its defaults"
        ) from None


def hparam_columns(experiment: Experiment, grid: Grid) -> dict[str, np.ndarray]:
    """One column per hyperparameter: the grid's, then the experiment's defaults."""
    columns = grid.columns()
    for name, value in experiment.defaults.items():
        columns.setdefault(name, np.full(grid.size, value, np.float32))
    return {name: col.astype(np.int32 if col.dtype.kind in "iu" else np.float32) for name, col in columns.items()}


def _run_chunks(experiment, plan, columns, seed: int, chunk_size: int | None):
    """Run all rows in equal chunks (the last one padded), one executable for all."""
    n = len(next(iter(columns.values())))
    chunk = n if chunk_size is None else max(1, min(int(chunk_size), n))
    signature = tuple(sorted((name, col.dtype.str) for name, col in columns.items()))
    start = time.perf_counter()
    compiled = _compile(experiment, plan, chunk, signature)
    compile_s = time.perf_counter() - start  # ~0 when the executable is cached
    key = jax.random.key(seed)
    start = time.perf_counter()
    outputs = []
    for lo in range(0, n, chunk):
        rows = np.minimum(np.arange(lo, lo + chunk), n - 1)  # pad by repeating the last row
        outputs.append(compiled({name: col[rows] for name, col in columns.items()}, key))
    outputs = jax.device_get(outputs)
    run_s = time.perf_counter() - start
    merged = jax.tree.map(lambda *parts: np.concatenate(parts)[:n], *outputs)
    return merged, compile_s, run_s


def representatives(codes: np.ndarray, per_outcome: int, n_outcomes: int = len(OUTCOMES)) -> np.ndarray:
    """Up to `per_outcome` flat indices per outcome that occurred, spread evenly over its runs."""
    flat = codes.ravel()
    picks = []
    for code in range(n_outcomes):
        members = np.flatnonzero(flat == code)
        if len(members):
            take = min(per_outcome, len(members))
            picks.extend(members[((np.arange(take) + 0.5) * len(members) / take).astype(int)])
    return np.asarray(picks, dtype=np.int64)


def sweep(
    experiment: Experiment,
    grid: Grid | None = None,
    steps: int | None = None,
    *,
    seed: int = 0,
    records: int = 50,
    chunk_size: int | None = None,
    examples_per_outcome: int = 2,
) -> SweepResult:
    """Train every grid point of `experiment` for `steps` steps and classify the runs.

    `records` record points (plus step 0) are kept per run; `chunk_size`
    bounds how many runs execute at once, without changing any number.
    A few representative runs per outcome are re-run with every step recorded
    (`result.examples`) for the curve plots.
    """
    started = time.perf_counter()
    grid = grid or experiment.grid
    steps = check_steps(experiment.steps if steps is None else steps)
    columns = hparam_columns(experiment, grid)
    plan = RecordPlan.make(steps, records)
    out, compile_s, run_s = _run_chunks(experiment, plan, columns, seed, chunk_size)

    global_min = experiment.global_min
    if global_min is None:
        finite = out["best_loss"][np.isfinite(out["best_loss"])]
        global_min = float(finite.min()) if finite.size else 0.0
    codes = classify(out["traces"]["loss"], out["tv"], out["nonfinite"], global_min, experiment.criteria)
    colors = experiment.outcome_colors
    if experiment.classify is not None:
        runs = {"loss": out["traces"]["loss"], **{k: out[k] for k in ("tv", "nonfinite", "best_loss", "final")}}
        codes = np.asarray(experiment.classify(runs, codes))
        if codes.shape != out["nonfinite"].shape or codes.dtype.kind not in "iu" or np.any((codes < 0) | (codes >= len(colors))):
            raise UserError(f"experiment {experiment.name!r}: classify must return one outcome code in 0..{len(colors) - 1} per run")
        codes = codes.astype(np.int8)

    picks = representatives(codes, examples_per_outcome, len(colors))
    slots = examples_per_outcome * len(colors)  # fixed batch: one compile serves every sweep
    padded = np.resize(picks, slots) if len(picks) else np.zeros(slots, np.int64)
    example_out, _, _ = _run_chunks(
        experiment, RecordPlan.make(steps, steps, all_metrics=True), {n: c[padded] for n, c in columns.items()}, seed, None
    )
    examples = {name: trace[: len(picks)] for name, trace in example_out["traces"].items()}
    examples.update(index=picks, outcome=codes[picks])

    shape = grid.shape
    return SweepResult(
        experiment=experiment.name,
        axes=grid.axes,
        steps=steps,
        hparams={name: col.reshape(shape) for name, col in columns.items()},
        outcome=codes.reshape(shape),
        loss=out["traces"]["loss"].reshape(shape + (-1,)),
        tv=out["tv"].reshape(shape + (-1,)),
        final={name: value.reshape(shape) for name, value in out["final"].items()},
        best_loss=out["best_loss"].reshape(shape),
        record_steps=plan.record_steps,
        examples=examples,
        boundaries=evaluate_boundaries(experiment, grid),
        outcome_colors=colors,
        info={
            "description": experiment.description,
            "global_min": global_min,
            "global_min_known": experiment.global_min is not None,
            "criteria": dataclasses.asdict(experiment.criteria),
            "seed": seed,
            "chunk_size": chunk_size,
            "compile_s": compile_s,
            "run_s": run_s,
            "wall_s": time.perf_counter() - started,
            "settings_steps_per_s": math.prod(shape) * steps / max(run_s, 1e-12),
            "jax_version": jax.__version__,
            "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        },
    )

