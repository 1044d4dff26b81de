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

import contextlib
import dataclasses
import functools
import hashlib
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from edujax import devices
from edujax.errors import UserError
from edujax.experiment import Experiment, check_steps
from edujax.grid import Grid
from edujax.outcomes import OUTCOMES, classify
from edujax.result import SweepResult, atomic_write, evaluate_boundaries

#: Chunks hold a multiple of this many runs per device, so every run goes
#: through the same vectorised machine code whatever the chunking (a ragged
#: tail would take a scalar path whose rounding can differ in the last bit).
BATCH_MULTIPLE = 64

#: Steps unrolled per inner-scan iteration: enough for XLA to fuse a window's
#: steps into one pass over the batch, small enough to compile in a blink.
MAX_UNROLL = 16

#: Only states this small (in numbers per run) are unrolled: a scalar problem's
#: steps fuse into one cheap loop over the batch, while a network's step is
#: already a few matmuls, and unrolling it only multiplies compile time.
UNROLL_MAX_STATE = 64


@dataclasses.dataclass(frozen=True)
class RecordPlan:
    """When to record: at the start of each of `windows` windows of `window`
    steps, and after the final step.

    `lead` leftover steps (steps not divisible by the window) run after the
    last window, so the last record is always at the final step. Sweeps
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
        return np.concatenate([self.window * np.arange(self.windows), [self.steps]])


def as_float32(metrics):
    """Recorded metrics as float32 scalars, so every step's carry has one type."""
    if "loss" not in metrics:
        raise UserError(f"a step must return a metrics dict with a 'loss' entry, got keys {sorted(metrics)}")
    metrics = {name: jnp.asarray(value, jnp.float32) for name, value in metrics.items()}
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
    value, `steps + 1` of them (the last describes the final state). Wrap it
    in `jax.jit` (with `experiment` and `steps` static) to replay many settings.
    """

    def advance(state, _):
        state, metrics = experiment.step(state, hparams)
        return state, as_float32(metrics)

    state, metrics = jax.lax.scan(advance, experiment.init(setting_key(jax.random.key(seed), hparams), hparams), None, length=steps)
    _, last = experiment.step(state, hparams)
    return state, {name: jnp.concatenate([trace, as_float32(last)[name][None]]) for name, trace in metrics.items()}


def run_one(experiment: Experiment, plan: RecordPlan):
    """`(hparams, key) -> reduced metrics` for one grid point: the body to vmap.

    Returns the loss and the experiment's `record` metrics (with
    `plan.all_metrics`, every metric) at the record points, `tv[j]`: the
    loss's total variation from record j to record j + 1, step by step, and
    every metric's final value.

    Each step's metrics describe the state *before* its update. Across
    windows the carry is only the state: whatever else a step computes is
    dead inside the unrolled window and XLA drops it, and every extra carried
    value would cost another pass of the fused window over the batch.
    Non-finite losses need no flag of their own: they make `tv` non-finite.
    """

    kept = ("loss", *experiment.record)  # recorded at every record point (all metrics for drawn runs)

    def kept_metrics(metrics):
        if plan.all_metrics:
            return metrics
        missing = [name for name in kept if name not in metrics]
        if missing:
            raise UserError(f"experiment {experiment.name!r} records {missing}, which its step does not return")
        return {name: metrics[name] for name in kept}

    def run(hparams, key):
        def evaluate(state):
            state, metrics = experiment.step(state, hparams)
            return state, as_float32(metrics)

        def advance(carry, _):
            state, last, tv = carry
            state, metrics = evaluate(state)
            return (state, metrics["loss"], tv + jnp.abs(metrics["loss"] - last)), None

        def scan_steps(carry, length):
            small = sum(leaf.size for leaf in jax.tree.leaves(carry[0])) <= UNROLL_MAX_STATE
            return jax.lax.scan(advance, carry, None, length=length, unroll=min(length, MAX_UNROLL) if small else 1)[0]

        def window(carry, _):
            # Emit the *previous* window's record and keep this one's in the carry:
            # the scan output then only copies a carried buffer, instead of
            # re-running the fused window single-threaded to write it.
            state, pending = carry
            state, first = evaluate(state)  # the record: metrics at the window's first step
            state, last, tv = scan_steps((state, first["loss"], jnp.zeros_like(first["loss"])), plan.window - 1)
            # Close the window on the next record's loss, evaluated again by the next
            # window: one extra evaluation, instead of carrying the last loss over.
            tv = tv + jnp.abs(evaluate(state)[1]["loss"] - last)
            return (state, (kept_metrics(first), tv)), pending

        state = experiment.init(setting_key(key, hparams), hparams)
        _, start = evaluate(state)
        placeholder = (kept_metrics(start), start["loss"])
        (state, newest), emitted = jax.lax.scan(window, (state, placeholder), None, length=plan.windows)
        records, tv = jax.tree.map(lambda older, new: jnp.concatenate([older[1:], new[None]]), emitted, newest)
        _, resumed = evaluate(state)
        state, last, tail = scan_steps((state, resumed["loss"], jnp.zeros_like(tv[-1])), plan.lead)
        _, final = evaluate(state)
        tv = tv.at[-1].add(tail + jnp.abs(final["loss"] - last))
        traces = {name: jnp.concatenate([trace, final[name][None]]) for name, trace in records.items()}
        return {"traces": traces, "tv": tv, "final": final}

    return run


@functools.lru_cache(maxsize=64)
def _compile(experiment: Experiment, plan: RecordPlan, batch: int, signature: tuple, mesh):
    """Compile once per (experiment, record plan, chunk shape, column dtypes, devices)."""
    rows = devices.row_sharding(mesh)
    specs = {name: jax.ShapeDtypeStruct((batch,), dtype, sharding=rows) for name, dtype in signature}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    batched = jax.jit(jax.vmap(run_one(experiment, plan), in_axes=(0, None)), out_shardings=rows)
    with _tracing_user_code(experiment):
        lowered = batched.lower(specs, key)  # traces the experiment's own functions
    return lowered.compile()


@contextlib.contextmanager
def _tracing_user_code(experiment: Experiment):
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
            f"experiment {experiment.name!r} reads hyperparameter {missing} that is neither a grid axis nor in its defaults"
        ) from missing
    except Exception as err:  # shapes that do not fit, Python `if` on a traced value, ...: the experiment's to fix
        message = (str(err).strip().splitlines() or [""])[0]
        raise UserError(f"experiment {experiment.name!r} failed while tracing: {type(err).__name__}: {message}") from err


@functools.lru_cache(maxsize=64)
def bytes_per_run(experiment: Experiment, plan: RecordPlan, signature: tuple) -> int:
    """A conservative estimate of the device memory one grid point needs.

    Inputs and outputs exactly, plus three copies of the training state (the
    scan carry is double-buffered) and two of everything one step computes
    (its jaxpr's intermediate values, as if XLA reused no buffer).
    """
    hparams = {name: jax.ShapeDtypeStruct((), dtype) for name, dtype in signature}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    with _tracing_user_code(experiment):
        outputs = jax.eval_shape(run_one(experiment, plan), hparams, key)
        state = jax.eval_shape(experiment.init, key, hparams)
        step = jax.make_jaxpr(experiment.step)(state, hparams)
    temporaries = sum(devices.nbytes([v.aval for v in eqn.outvars]) for eqn in step.jaxpr.eqns)
    return devices.nbytes(hparams) + devices.nbytes(outputs) + 3 * devices.nbytes(state) + 2 * temporaries


def hparam_columns(experiment: Experiment, grid: Grid) -> dict[str, np.ndarray]:
    """One column per hyperparameter: the grid's, then the experiment's defaults."""
    columns = grid.columns()
    for name, value in experiment.defaults.items():
        columns.setdefault(name, np.full(grid.size, value, np.float32))
    return {name: col.astype(np.int32 if col.dtype.kind in "iu" else np.float32) for name, col in columns.items()}


def chunk_rows(n: int, chunk_size: int | None, max_memory: int | None, per_run: int, n_devices: int) -> int:
    """Runs per chunk: as asked, else as many as fit the memory budget on every device.

    Rounded up to a multiple of BATCH_MULTIPLE runs per device, so every run
    goes through the same vectorised machine code whatever the chunking.
    """
    if chunk_size is None:
        budget = devices.default_memory_budget() if max_memory is None else max_memory
        chunk_size = max(1, budget // max(per_run, 1)) * n_devices
    multiple = BATCH_MULTIPLE * n_devices
    return -(-max(1, min(int(chunk_size), n)) // multiple) * multiple


def _flat(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}{key}/") if isinstance(value, dict) else {prefix + key: value})
    return out


def _nested(flat: dict[str, np.ndarray]) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        *parents, leaf = path.split("/")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return tree


def checkpoint_folder(root: Path, experiment: Experiment, plan: RecordPlan, columns, seed: int, chunk: int) -> Path:
    """Where finished chunks of exactly this sweep are kept, named by a digest of
    everything that determines their numbers."""
    digest = hashlib.sha256(repr((experiment.name, plan, seed, chunk, jax.device_count())).encode())
    for name in sorted(columns):
        digest.update(name.encode() + columns[name].tobytes())
    return Path(root) / f"{experiment.name}-{digest.hexdigest()[:16]}"


def _run_chunks(experiment, plan, columns, seed, *, chunk_size=None, max_memory=None, checkpoint=None, progress=False):
    """Run all rows in equal chunks (the last one padded), one executable for all.

    With `checkpoint` (a folder) and more than one chunk, each finished chunk
    is saved atomically and a rerun skips the chunks already there.
    """
    n = len(next(iter(columns.values())))
    signature = tuple(sorted((name, col.dtype.str) for name, col in columns.items()))
    mesh = devices.grid_mesh()
    start = time.perf_counter()
    per_run = 0 if chunk_size is not None else bytes_per_run(experiment, plan, signature)
    chunk = chunk_rows(n, chunk_size, max_memory, per_run, mesh.size)
    compiled = _compile(experiment, plan, chunk, signature, mesh)
    compile_s = time.perf_counter() - start  # ~0 when the executable is cached
    resumable = checkpoint is not None and n > chunk  # one chunk: nothing to skip on a rerun
    folder = checkpoint_folder(checkpoint, experiment, plan, columns, seed, chunk) if resumable else None
    key, sharding = jax.random.key(seed), devices.row_sharding(mesh)
    parts, resumed = [], 0
    start = time.perf_counter()
    with tqdm(total=n, unit="settings", desc=experiment.name, disable=not progress, leave=False) as bar:
        for index, lo in enumerate(range(0, n, chunk)):
            saved = folder / f"chunk-{index:05d}.npz" if folder else None
            if saved is not None and saved.exists():
                with np.load(saved, allow_pickle=False) as npz:
                    parts.append(_nested({k: npz[k] for k in npz.files}))
                resumed += 1
            else:
                rows = np.minimum(np.arange(lo, lo + chunk), n - 1)  # pad by repeating the last row
                parts.append(devices.to_host(compiled(devices.put_rows(columns, rows, sharding), key)))
                if saved is not None and devices.is_main_process():
                    folder.mkdir(parents=True, exist_ok=True)
                    atomic_write(saved, lambda f, part=parts[-1]: np.savez(f, **_flat(part)))
            bar.update(min(chunk, n - lo))
    run_s = time.perf_counter() - start
    merged = jax.tree.map(lambda *chunks: np.concatenate(chunks)[:n], *parts)
    stats = {"compile_s": compile_s, "run_s": run_s, "chunks": len(parts), "chunk_size": chunk,
             "resumed_chunks": resumed, "devices": mesh.size, "bytes_per_run_estimate": per_run,
             "checkpoint": str(folder) if folder else None}
    return merged, stats


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
    records: int = 25,
    chunk_size: int | None = None,
    max_memory: int | None = None,
    checkpoint: Path | str | None = None,
    progress: bool = False,
    examples_per_outcome: int = 2,
) -> SweepResult:
    """Train every grid point of `experiment` for `steps` steps and classify the runs.

    `records` record points (plus step 0) are kept per run. The grid runs in
    chunks: `chunk_size` runs at a time, or as many as fit `max_memory` bytes
    per device (default: `devices.default_memory_budget()`); chunking never
    changes a number. With `checkpoint` (a folder) finished chunks are saved
    and an interrupted sweep resumes where it stopped; `progress` shows a bar.
    A few representative runs per outcome are re-run with every step recorded
    (`result.examples`) for the curve plots.
    """
    started = time.perf_counter()
    grid = grid or experiment.grid
    steps = check_steps(experiment.steps if steps is None else steps)
    columns = hparam_columns(experiment, grid)
    plan = RecordPlan.make(steps, records)
    out, stats = _run_chunks(experiment, plan, columns, seed, chunk_size=chunk_size, max_memory=max_memory,
                             checkpoint=checkpoint, progress=progress)

    global_min = experiment.global_min
    if global_min is None:
        finite = out["traces"]["loss"][np.isfinite(out["traces"]["loss"])]
        global_min = float(finite.min()) if finite.size else 0.0
    codes = classify(out["traces"]["loss"], out["tv"], global_min, experiment.criteria)
    colors = experiment.outcome_colors
    if experiment.classify is not None:
        runs = {"loss": out["traces"]["loss"], "tv": out["tv"], "final": out["final"]}
        codes = np.asarray(experiment.classify(runs, codes))
        if codes.shape != out["tv"].shape[:1] or codes.dtype.kind not in "iu" or np.any((codes < 0) | (codes >= len(colors))):
            raise UserError(f"experiment {experiment.name!r}: classify must return one outcome code in 0..{len(colors) - 1} per run")
        codes = codes.astype(np.int8)

    picks = representatives(codes, examples_per_outcome, len(colors))
    examples = {"index": picks, "outcome": codes[picks]}
    if len(picks):
        slots = examples_per_outcome * len(colors)  # fixed batch: one compile serves every sweep
        every_step = RecordPlan.make(steps, steps, all_metrics=True)
        rows = {name: col[np.resize(picks, slots)] for name, col in columns.items()}
        example_out, _ = _run_chunks(experiment, every_step, rows, seed, chunk_size=slots)
        examples.update({name: trace[: len(picks)] for name, trace in example_out["traces"].items()})

    shape = grid.shape
    return SweepResult(
        experiment=experiment.name,
        axes=grid.axes,
        steps=steps,
        hparams={name: col.reshape(shape) for name, col in columns.items()},
        outcome=codes.reshape(shape),
        loss=out["traces"]["loss"].reshape(shape + (-1,)),
        records={name: out["traces"][name].reshape(shape + (-1,)) for name in experiment.record},
        tv=out["tv"].reshape(shape + (-1,)),
        final={name: value.reshape(shape) for name, value in out["final"].items()},
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
            **stats,
            "wall_s": time.perf_counter() - started,
            "settings_steps_per_s": math.prod(shape) * steps / max(stats["run_s"], 1e-12),
            "jax_version": jax.__version__,
            "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        },
    )

