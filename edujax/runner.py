"""The runner: a whole sweep is one compiled function.

`sweep` builds `jit(vmap(run_one))`: `run_one` trains a single grid point with
`lax.scan`, reduces its metrics on the fly and (when the experiment knows its
global minimum) summarises its records for the judge (`edujax.outcomes.summarize`,
per run under the vmap); `edujax.outcomes.decide` then judges the whole batch
in the same compiled function. `vmap` runs every point of a chunk at once. Hyperparameters are
arguments of the compiled function, so a new grid of the same shape reuses the
executable (see `_compile`'s cache).

The training scan is nested: an outer scan over `R` record windows, an inner
scan of `k` steps per window, unrolled so that XLA fuses the steps of a window
into one loop over the batch. Each window keeps the loss at its first step and
the loss's largest and smallest value at any of its steps (the envelope), so the
memory per run is O(R), not O(steps).

The host keeps, for every run, its outcome, measure, final metrics and a few
flags; the per-window records and the final training state are kept for every
run while they fit the host memory budget, and for an evenly spread sub-grid of
runs when they do not (`SweepResult.trace_index` says which).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import math
import time
import zipfile
from pathlib import Path

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto wants ipywidgets in a notebook

from edujax import devices, outcomes
from edujax.errors import UserError
from edujax.experiment import Experiment, check_precision, check_steps
from edujax.grid import Grid, spread_indices
from edujax.outcomes import OUTCOMES, summarize
from edujax.files import atomic_write, write_npz
from edujax.result import SweepResult, evaluate_boundaries, restore_state, storable

#: Chunks hold a multiple of this many runs per device, so every run goes
#: through the same vectorised machine code whatever the chunking (a ragged
#: tail would take a scalar path whose rounding can differ in the last bit).
BATCH_MULTIPLE = 64

#: Steps unrolled per inner-scan iteration: enough for XLA to fuse a window's
#: steps into one pass over the batch, small enough to compile in a blink
#: (a window of up to twice this many steps is unrolled whole).
MAX_UNROLL = 16

#: Only steps on a few scalars are unrolled: a state of at most this many
#: numbers per run, and no value in the step bigger than the state and its
#: envelope (no batch of data, no matrix). Such steps fuse into one cheap
#: loop over the batch, which unrolling speeds up; a step that reduces over
#: data or multiplies matrices compiles nearly twice as long unrolled and
#: runs slower (house prices, 500 steps: 9.9 s compile and 0.14 s run
#: unrolled, 5.5 s and 0.07 s rolled).
UNROLL_MAX_STATE = 64

#: On a CPU, each device trains its share of a chunk in blocks of runs whose
#: step temporaries fit in about this much cache: every step of a network
#: writes and reads activations for each run, and a block that stays in cache
#: ran the width-8 network of `experiments/fractal_boundary.py` 2.5x faster
#: than its whole chunk at once. Problems with small steps get one block.
CACHE_BYTES = 4 * 2**20
#: On a CPU, chunks hold at most this many runs per device unless `chunk_size` says otherwise.
CPU_CHUNK_RUNS = 1 << 16

#: The representative runs' metrics are recorded at most at this many points
#: (every step when the run is shorter), whatever the number of steps.
EXAMPLE_POINTS = 2000

#: Per-run results of this many bytes or more are refused up front (a share of the host budget is left for the rest).
HOST_SHARE_FOR_RESULTS = 0.8


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
    output whose fusion computes the window's losses once for both (1.5-1.8×
    the quadratic's throughput, measured against two float outputs).
    Non-finite losses need no flag of their own: they make the envelope
    non-finite (NaN through `maximum`, ±inf through `maximum`/`minimum`).
    """

    kept = ("loss", *experiment.record)

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
            return state, as_dtype(metrics, dtype)

        def measure(state):  # at a record point: the step's metrics, and the experiment's own measurements
            if experiment.evaluate is None:
                return evaluate(state)
            following, metrics = experiment.step(state, hparams)
            return following, as_dtype({**metrics, **experiment.evaluate(state, hparams)}, dtype)

        def widen(envelope, loss):  # a window's envelope, hi + i·lo, taking in one more loss
            return jax.lax.complex(jnp.maximum(jnp.real(envelope), loss), jnp.minimum(jnp.imag(envelope), loss))

        def advance(carry, _):
            state, envelope = carry
            state, metrics = evaluate(state)
            return (state, widen(envelope, metrics["loss"])), None

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
            closed = (record, widen(envelope, first["loss"]))
            state, opened = scan_steps((state, jax.lax.complex(first["loss"], first["loss"])), plan.window - 1)
            return (state, (kept_metrics(first), opened)), closed

        state = experiment.init(setting_key(key, hparams), hparams)
        _, start = measure(state)
        placeholder = (kept_metrics(start), jax.lax.complex(start["loss"], start["loss"]))  # emitted first, dropped
        scalar = _scalar_step(advance, (state, placeholder[1]))  # decided once: it traces one more step
        (state, newest), emitted = jax.lax.scan(window, (state, placeholder), None, length=plan.windows)
        records, envelope = jax.tree.map(lambda older, new: jnp.concatenate([older[1:], new[None]]), emitted, newest)
        # Leftover steps belong to the last window, closed on the final loss.
        state, last = scan_steps((state, envelope[-1]), plan.lead)
        following, final = measure(state)
        envelope = envelope.at[-1].set(widen(last, final["loss"]))
        hi, lo = jnp.real(envelope), jnp.imag(envelope)
        after, before = _float_leaves(following), _float_leaves(state)
        frozen = jnp.all(jnp.stack([jnp.all(a == b) for a, b in zip(after, before)])) if before else jnp.asarray(False)
        moved = _norm([a - b for a, b in zip(after, before)]) / jnp.maximum(_norm(before), jnp.finfo(dtype).tiny)
        out = {"records": {name: jnp.concatenate([trace, final[name][None]]) for name, trace in records.items()},
               "hi": hi, "lo": lo, "initial": {name: start[name] for name in INITIAL if name in start},
               "final": final, "frozen": frozen,
               "moved": moved.astype(dtype)}
        if keep_state:
            out["state"] = storable(state)  # PRNG keys as raw data, which NumPy can hold
        return out

    return run


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


def judge(runs: dict, global_min, record_steps, criteria) -> dict:
    """`assess` on a batch of reduced runs (the outputs of `run_one`; ``noisy`` when the experiment is)."""
    noisy_steps = record_steps if "noisy" in runs else None
    summary = summarize(runs["records"]["loss"], runs["hi"], runs["lo"], global_min, criteria, noisy_steps)
    return decide(summary, runs, record_steps, criteria)


def decide(summary: dict, runs: dict, record_steps, criteria) -> dict:
    """`edujax.outcomes.decide` on `summarize`'s numbers and a batch of reduced runs."""
    initial, final = runs["initial"], runs["final"]
    return outcomes.decide(summary, record_steps, criteria, grad0=initial.get("grad_norm"),
                           grad=final.get("grad_norm"), newton=final.get("newton_gain"), frozen=runs["frozen"],
                           moved=runs["moved"], noisy=runs.get("noisy"))


def steps_to_target(experiment: Experiment, records: dict, lo, global_min, record_steps):
    """The first record step at which each run reached `experiment.target` (NaN: never); see
    `edujax.outcomes.reach_step`. The default target is the converged tolerance above f*; on the loss of a
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
    """Which runs carry gradient noise (`Experiment.noisy`), as a bool per run; None for a deterministic experiment."""
    if experiment.noisy is False:
        return None
    noisy = experiment.noisy(hparams) if callable(experiment.noisy) else experiment.noisy
    return jnp.broadcast_to(jnp.asarray(noisy, bool), jnp.shape(next(iter(hparams.values()))))


#: What the rules read per run besides the records' summary.
JUDGED_INPUTS = ("initial", "final", "frozen", "moved", "noisy")

#: The metrics kept at the first step: what the classifier reads there (the rest, e.g. a Newton step, is
#: then never computed at step 0).
INITIAL = ("loss", "grad_norm")

#: Per-run outputs kept for every run on the host; the rest is kept for the traced sub-grid only.
PER_RUN = ("outcome", "measure", "steps_to_go", "steps_to_target", "noisy", "frozen", "moved", "initial", "final")


def _chunk_function(experiment: Experiment, plan: RecordPlan, dtype, criteria, judged: bool, keep_state: bool,
                    block: int = 0, mesh=None):
    """`(hparams, key, global_min) -> {"runs": per-run outputs, "kept": records (and states)}` for a batch:
    one vmap over it, or with `block` a loop over blocks of that many runs, each vmapped, on every device of
    `mesh` (`shard_map` over the devices, `lax.map` over blocks)."""
    train = run_one(experiment, plan, dtype, keep_state)

    noisy_steps = None if experiment.noisy is False else plan.record_steps

    def one(hparams, key, global_min):
        run = train(hparams, key)
        noisy = noisy_runs(experiment, hparams)
        if noisy is not None:
            run["noisy"] = noisy
        if judged:  # the records' summary per run, under the vmap: it reads each window's values as one row
            run["summary"] = summarize(run["records"]["loss"], run["hi"], run["lo"], global_min, criteria, noisy_steps)
            run["steps_to_target"] = steps_to_target(experiment, run["records"], run["lo"], global_min,
                                                     plan.record_steps)
        return run

    def batch(hparams, key, global_min):
        if block:
            return jax.lax.map(lambda row: one(row, key, global_min), hparams, batch_size=block)
        return jax.vmap(one, in_axes=(0, None, None))(hparams, key, global_min)

    if block:  # check_vma=False: lax.switch in a vmapped step trips the varying-axes check (JAX's own workaround)
        rows, whole = devices.row_sharding(mesh).spec, jax.sharding.PartitionSpec()
        batch = jax.shard_map(batch, mesh=mesh, in_specs=(rows, whole, whole), out_specs=rows, check_vma=False)

    def chunk(hparams, key, global_min):
        runs = batch(hparams, key, global_min)
        if judged:  # the rules, on the whole batch, outside any block loop and from materialised inputs: the same
            # machine code however the runs were blocked (a log fused with other work can round its last bit apart)
            summary, inputs = jax.lax.optimization_barrier(
                (runs.pop("summary"), {name: runs[name] for name in JUDGED_INPUTS if name in runs}))
            runs.update(decide(summary, inputs, plan.record_steps, criteria))
        per_run = {name: runs.pop(name) for name in PER_RUN if name in runs}
        return {"runs": per_run, "kept": runs}

    return chunk


@functools.lru_cache(maxsize=64)
def _compile(experiment: Experiment, plan: RecordPlan, batch: int, signature: tuple, mesh, dtype: str, judged: bool,
             keep_state: bool, block: int = 0):
    """Compile once per (experiment, record plan, chunk shape, column dtypes, devices, precision, outputs, block).

    With `block` (runs per device, dividing each device's share of the chunk)
    every device runs its own rows block after block (`shard_map` over the
    devices, `lax.map` over blocks); else the whole chunk is one vmap.
    """
    return _lower(experiment, plan, batch, signature, mesh, dtype, judged, keep_state, block).compile()


@functools.lru_cache(maxsize=64)
def program_digest(experiment: Experiment, plan: RecordPlan, batch: int, signature: tuple, mesh, dtype: str,
                   judged: bool, keep_state: bool, block: int = 0) -> str:
    """A digest of the program `_compile` compiles (its StableHLO text, constants included): it changes with
    anything in the experiment's code that changes its numbers, e.g. an edited loss under the same name."""
    lowered = _lower(experiment, plan, batch, signature, mesh, dtype, judged, keep_state, block)
    return hashlib.sha256(lowered.as_text().encode()).hexdigest()


def _lower(experiment, plan, batch, signature, mesh, dtype, judged, keep_state, block):
    rows = devices.row_sharding(mesh)
    specs = {name: jax.ShapeDtypeStruct((batch,), dt, sharding=rows) for name, dt in signature}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    blocked = block if block and batch // mesh.size > block else 0
    chunk = _chunk_function(experiment, plan, jnp.dtype(dtype), experiment.criteria, judged, keep_state, blocked,
                            mesh)
    with _tracing_user_code(experiment):
        return jax.jit(chunk, out_shardings=rows).lower(specs, key, jax.ShapeDtypeStruct((), dtype))


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
            f"experiment {experiment.name!r} reads hyperparameter {missing} "
            "that is neither a grid axis nor in its defaults"
        ) from missing
    except Exception as err:  # shapes that do not fit, Python `if` on a traced value, ...: the experiment's to fix
        message = (str(err).strip().splitlines() or [""])[0]
        raise UserError(
            f"experiment {experiment.name!r} failed while tracing: {type(err).__name__}: {message}") from err


@functools.lru_cache(maxsize=64)
def run_shapes(experiment: Experiment, plan: RecordPlan, signature: tuple, dtype: str, keep_state: bool = True):
    """The shapes of one run's outputs, and of its state and one step's intermediates (for `bytes_per_run`)."""
    hparams = {name: jax.ShapeDtypeStruct((), dt) for name, dt in signature}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    with _tracing_user_code(experiment):
        outputs = jax.eval_shape(run_one(experiment, plan, jnp.dtype(dtype), keep_state), hparams, key)
        state = jax.eval_shape(experiment.init, key, hparams)
        step = jax.make_jaxpr(experiment.step)(state, hparams)
    temporaries = sum(devices.nbytes([v.aval for v in eqn.outvars]) for eqn in step.jaxpr.eqns)
    return hparams, outputs, state, temporaries


def bytes_per_run(experiment: Experiment, plan: RecordPlan, signature: tuple, dtype: str = "float32") -> int:
    """A conservative estimate of the device memory one grid point needs.

    Inputs and outputs exactly, plus three copies of the training state (the
    scan carry is double-buffered) and two of everything one step computes
    (its jaxpr's intermediate values, as if XLA reused no buffer).
    """
    hparams, outputs, state, temporaries = run_shapes(experiment, plan, signature, dtype)
    return devices.nbytes(hparams) + devices.nbytes(outputs) + 3 * devices.nbytes(state) + 2 * temporaries


def block_rows(experiment: Experiment, plan: RecordPlan, signature: tuple, dtype: str, mesh) -> int:
    """Runs per device per block: on a CPU, the largest BATCH_MULTIPLE · 2^k whose
    step temporaries (twice, as in `bytes_per_run`) fit CACHE_BYTES; 0 (no blocks) elsewhere.

    It depends on the experiment only, never on the chunk, so every chunking
    runs the same blocks through the same machine code.
    """
    if mesh.devices.flat[0].platform != "cpu":
        return 0
    temporaries = 2 * run_shapes(experiment, plan, signature, dtype)[3]
    block = BATCH_MULTIPLE
    while 2 * block * temporaries <= CACHE_BYTES:
        block *= 2
    return block


def host_bytes_per_run(experiment: Experiment, plan: RecordPlan, signature: tuple, dtype: str) -> tuple[int, int]:
    """Host bytes per run: (kept for every run, kept only for runs whose records and state are kept)."""
    hparams, outputs, _, _ = run_shapes(experiment, plan, signature, dtype)
    per_run = devices.nbytes(hparams) + devices.nbytes({k: outputs[k] for k in ("initial", "final", "frozen", "moved")})
    per_run += 1 + 4 + 4 + 4 + 1  # outcome, measure, steps to go, steps to target, noisy
    traced = devices.nbytes({k: outputs[k] for k in ("records", "hi", "lo", "state")})
    return per_run, traced


def hparam_columns(experiment: Experiment, grid: Grid, dtype=np.float32) -> dict[str, np.ndarray]:
    """One column per hyperparameter: the grid's, then the experiment's defaults, floats in `dtype`."""
    columns = grid.columns()
    for name, value in experiment.defaults.items():
        columns.setdefault(name, np.full(grid.size, value, np.float64))
    return {name: col.astype(np.int32 if col.dtype.kind in "iu" else dtype) for name, col in columns.items()}


def chunk_rows(n: int, chunk_size: int | None, max_memory: int | None, per_run: int, n_devices: int,
               block: int = 0) -> int:
    """Runs per chunk: as asked, else as many as fit the memory budget on every device.

    Rounded up to a multiple of BATCH_MULTIPLE runs per device, so every run
    goes through the same vectorised machine code whatever the chunking, and
    to a multiple of `block` runs per device when it holds more than one block.
    """
    if chunk_size is None:
        budget = devices.default_memory_budget() if max_memory is None else max_memory
        chunk_size = max(1, budget // max(per_run, 1)) * n_devices
        if block:  # a CPU: chunks near its caches' size run faster (measured: 1.1-1.6x at 1M settings)
            chunk_size = min(chunk_size, CPU_CHUNK_RUNS * n_devices)
    per_device = -(-max(1, min(int(chunk_size), n)) // (BATCH_MULTIPLE * n_devices)) * BATCH_MULTIPLE
    if block and per_device > block:
        per_device = -(-per_device // block) * block
    return per_device * n_devices


def kept_subgrid(shape: tuple[int, ...], budget_runs: int) -> tuple[np.ndarray, ...]:
    """Per-axis indices of the runs whose records and states are kept: all of them if `budget_runs` allows,
    else an evenly spread sub-grid of at most `budget_runs` runs (see `edujax.grid.spread_indices`)."""
    if math.prod(shape) <= budget_runs:
        return tuple(np.arange(n) for n in shape)
    return tuple(spread_indices(shape, max(1, budget_runs)))


def checkpoint_folder(root: Path, experiment: Experiment, plan: RecordPlan, columns, seed: int, chunk: int,
                      kept: tuple, program: str = "") -> Path:
    """Where finished chunks of exactly this sweep are kept, named by a digest of
    everything that determines their numbers (`program`: the compiled program's `program_digest`)."""
    digest = hashlib.sha256(repr((experiment.name, plan, experiment.criteria, experiment.global_min, seed, chunk,
                                  jax.device_count(), jax.config.jax_enable_x64, program)).encode())
    for name in sorted(columns):
        digest.update(name.encode() + columns[name].tobytes())
    for index in kept:
        digest.update(index.tobytes())
    return Path(root) / f"{experiment.name}-{digest.hexdigest()[:16]}"


def _save_chunk(path: Path, part) -> None:
    """A finished chunk's host part, compressed (fast zlib level) and labelled with its own name, written atomically."""
    leaves = {str(i): leaf for i, leaf in enumerate(jax.tree.leaves(part))}
    atomic_write(path, lambda f: write_npz(f, leaves, ("chunk.txt", f"{path.parent.name}/{path.name}")))


def _load_chunk(path: Path, like):
    """A saved chunk with the structure and shapes of `like`, or None if it is damaged or not this chunk
    (truncated, corrupted, copied from elsewhere): then it is deleted, to be recomputed."""
    expected = jax.tree.leaves(like)
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.read("chunk.txt").decode() != f"{path.parent.name}/{path.name}":
                raise ValueError("another chunk's data")
            if len(archive.namelist()) != len(expected) + 1:
                raise ValueError("unexpected members")
            leaves = []
            for i, want in enumerate(expected):
                with archive.open(f"{i}.npy") as member:
                    leaf = np.lib.format.read_array(member, allow_pickle=False)
                if leaf.shape != want.shape or leaf.dtype != want.dtype:
                    raise ValueError(f"leaf {i}: {leaf.shape} {leaf.dtype}, expected {want.shape} {want.dtype}")
                leaves.append(leaf)
    except Exception:  # any failure to read it back whole means: recompute it
        path.unlink(missing_ok=True)
        return None
    return jax.tree.unflatten(jax.tree.structure(like), leaves)


def _run_chunks(experiment, plan, columns, seed, *, dtype, global_min=None, kept_rows=None, keep_state=False,
                chunk_size=None, max_memory=None, checkpoint=None, progress=False):
    """Run all rows in equal chunks (the last one padded), one executable for all.

    Returns the per-run outputs of every row and the records (and states) of
    `kept_rows` (sorted flat indices; None: every row), merged on the host.
    With `checkpoint` (a folder) and more than one chunk, each finished chunk's
    host part is saved atomically and a rerun skips the chunks already there
    (a damaged one is detected, discarded and recomputed).
    """
    n = len(next(iter(columns.values())))
    kept_rows = np.arange(n) if kept_rows is None else np.asarray(kept_rows)
    signature = tuple(sorted((name, col.dtype.str) for name, col in columns.items()))
    mesh = devices.grid_mesh()
    dtype = np.dtype(dtype).name
    start = time.perf_counter()
    per_run = 0 if chunk_size is not None else bytes_per_run(experiment, plan, signature, dtype)
    block = block_rows(experiment, plan, signature, dtype, mesh)
    chunk = chunk_rows(n, chunk_size, max_memory, per_run, mesh.size, block)
    judged = global_min is not None
    compiled = _compile(experiment, plan, chunk, signature, mesh, dtype, judged, keep_state, block)
    compile_s = time.perf_counter() - start  # ~0 when the executable is cached
    resumable = checkpoint is not None and n > chunk  # one chunk: nothing to skip on a rerun
    kept_key = (kept_rows,) if len(kept_rows) < n else ()
    folder = None
    if resumable:  # keyed by the program too: the same name and inputs from edited code are another sweep
        program = program_digest(experiment, plan, chunk, signature, mesh, dtype, judged, keep_state, block)
        folder = checkpoint_folder(checkpoint, experiment, plan, columns, seed, chunk, kept_key, program)
    key, sharding = jax.random.key(seed), devices.row_sharding(mesh)
    f_star = np.asarray(0.0 if global_min is None else global_min, dtype)
    shapes = compiled.out_info
    starts = range(0, n, chunk)
    merged = None if len(starts) == 1 else {  # every chunk's results are copied straight into their place
        "runs": jax.tree.map(lambda s: np.empty((n,) + tuple(s.shape[1:]), s.dtype), shapes["runs"]),
        "kept": jax.tree.map(lambda s: np.empty((len(kept_rows),) + tuple(s.shape[1:]), s.dtype), shapes["kept"])}
    resumed = 0
    start = time.perf_counter()
    with tqdm(total=n, unit="settings", desc=experiment.name, disable=not progress, leave=False) as bar:
        for index, lo in enumerate(starts):
            valid = min(chunk, n - lo)
            first_kept, last_kept = np.searchsorted(kept_rows, [lo, lo + valid])  # kept_rows is sorted
            mine = kept_rows[first_kept:last_kept] - lo
            like = {"runs": _rows_like(shapes["runs"], valid), "kept": _rows_like(shapes["kept"], len(mine))}
            saved = folder / f"chunk-{index:05d}.npz" if folder else None
            part = _load_chunk(saved, like) if saved is not None and saved.exists() else None
            if part is not None:
                resumed += 1
                if merged is None:
                    merged = part
                else:
                    _place(merged["runs"], part["runs"], slice(lo, lo + valid))
                    _place(merged["kept"], part["kept"], slice(first_kept, last_kept))
            else:
                rows = np.minimum(np.arange(lo, lo + chunk), n - 1)  # pad by repeating the last row
                out = devices.to_host(compiled(devices.put_rows(columns, rows, sharding), key, f_star))
                every = len(mine) == valid  # every run kept: a view, not a gathered copy
                if merged is None:  # one chunk: its results as they came
                    part = merged = {"runs": jax.tree.map(lambda a: a[:valid], out["runs"]),
                                     "kept": jax.tree.map(lambda a: a[:valid] if every else a[mine], out["kept"])}
                else:
                    part = {"runs": _place(merged["runs"], out["runs"], slice(lo, lo + valid), valid),
                            "kept": _place(merged["kept"], out["kept"], slice(first_kept, last_kept),
                                           valid if every else mine)}
                if saved is not None and devices.is_main_process():
                    folder.mkdir(parents=True, exist_ok=True)
                    _save_chunk(saved, part)
            bar.update(valid)
    run_s = time.perf_counter() - start
    stats = {"compile_s": compile_s, "run_s": run_s, "chunks": len(starts), "chunk_size": chunk,
             "resumed_chunks": resumed, "devices": mesh.size, "bytes_per_run_estimate": per_run,
             "block": block if chunk // mesh.size > block else 0, "checkpoint": str(folder) if folder else None}
    return merged, stats


def _place(into, tree, where: slice, rows=None):
    """Copy `tree`'s leaves (their first `rows` rows, or the rows indexed by `rows`; None: all) into `into`'s
    leaves at `where`; returns the filled views."""
    def put(target, leaf):
        view = target[where]
        if rows is None:
            view[...] = leaf
        elif isinstance(rows, int):
            view[...] = leaf[:rows]
        else:
            np.take(leaf, rows, axis=0, out=view)
        return view

    return jax.tree.map(put, into, tree)


def _rows_like(tree, rows: int):
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct((rows,) + tuple(s.shape[1:]), s.dtype), tree)


def representatives(codes: np.ndarray, per_outcome: int, n_outcomes: int = len(OUTCOMES)) -> np.ndarray:
    """Up to `per_outcome` positions in `codes` per outcome that occurred, spread evenly over its runs."""
    flat = codes.ravel()
    picks = []
    for code in range(n_outcomes):
        members = np.flatnonzero(flat == code)
        if len(members):
            take = min(per_outcome, len(members))
            picks.extend(members[((np.arange(take) + 0.5) * len(members) / take).astype(int)])
    return np.asarray(picks, dtype=np.int64)


def nearest_cells(grid: Grid, points) -> np.ndarray:
    """Flat grid indices of the cells nearest to each of `points` ({axis name: value}; unnamed axes: index 0).

    Distances are measured in log space on log axes, by value on the others.
    """
    cells = []
    for point in points:
        index = []
        for axis in grid.axes:
            if axis.name not in point or axis.scale == "points":
                index.append(0)
                continue
            values, target = axis.values.astype(np.float64), float(point[axis.name])
            if axis.scale == "log":
                values, target = np.log(values), np.log(target)
            index.append(int(np.argmin(np.abs(values - target))))
        cells.append(int(np.ravel_multi_index(index, grid.shape)))
    return np.asarray(cells, dtype=np.int64)


#: Without an explicit host budget, the records and final states of at most this many runs are kept
#: (an evenly spread sub-grid of bigger grids): the page draws at most 16,384 runs' curves, and every
#: run's outcome, measure and final metrics are kept whatever the grid's size.
MAX_TRACED_RUNS = 1 << 20


def host_budget_runs(experiment, plan, signature, dtype, n, max_host_memory, needs_all: bool) -> int:
    """How many runs' records and states fit the host budget beside every run's own results.

    Refuses (one line) a grid whose per-run results alone do not fit.
    """
    budget = devices.default_host_budget() if max_host_memory is None else int(max_host_memory)
    per_run, traced = host_bytes_per_run(experiment, plan, signature, dtype)
    if n * per_run > HOST_SHARE_FOR_RESULTS * budget:
        raise UserError(f"{n:,} settings need {devices.format_bytes(n * per_run)} of host memory for their results "
                        f"({per_run} bytes each), more than the host budget of {devices.format_bytes(budget)}: "
                        "sweep fewer settings (a smaller --grid) or raise --max-host-memory")
    room = max(0, budget - n * per_run) // max(traced, 1)
    if needs_all and room < n:
        raise UserError(f"experiment {experiment.name!r} judges its runs from every run's records (no known global "
                        f"minimum, or its own classify), and {n:,} settings' records need "
                        f"{devices.format_bytes(n * (per_run + traced))}, more than the host budget of "
                        f"{devices.format_bytes(budget)}: sweep fewer settings, fewer --records, or raise "
                        "--max-host-memory")
    return int(room)


def sweep(
    experiment: Experiment,
    grid: Grid | None = None,
    steps: int | None = None,
    *,
    seed: int = 0,
    records: int | None = None,
    precision: str | None = None,
    chunk_size: int | None = None,
    max_memory: int | None = None,
    max_host_memory: int | None = None,
    checkpoint: Path | str | None = None,
    progress: bool = False,
    examples_per_outcome: int = 2,
) -> SweepResult:
    """Train every grid point of `experiment` for `steps` steps and judge the runs.

    `records` record points (plus step 0; default: the experiment's) are kept per run. `precision`
    ("float32" or "float64"; default: the experiment's) is the float type of
    every array: grid columns, states, records (float64 turns on JAX's x64
    mode for this call only). The grid runs in chunks: `chunk_size` runs at a
    time, or as many as fit `max_memory` bytes per device (default:
    `devices.default_memory_budget()`); chunking never changes a number. The
    host keeps every run's outcome, measure and final metrics, and the
    records and final states of as many runs as fit `max_host_memory` bytes
    (default: `devices.default_host_budget()`, and at most `MAX_TRACED_RUNS`
    runs; an evenly spread sub-grid when not all fit). With `checkpoint` (a folder) finished chunks are saved and an
    interrupted sweep resumes where it stopped; `progress` shows a bar.
    A few representative runs per outcome (and the experiment's `highlights`)
    become `result.examples`: their final state from this very sweep, and their
    metrics at up to `EXAMPLE_POINTS` steps, recorded by running them again.

    >>> import edujax as ej, optax
    >>> bowl = ej.minimize(name="bowl", loss=lambda x, h: 0.5 * x**2, params=lambda key, h: 3.0,
    ...                    optimizer=lambda h: optax.sgd(h["learning_rate"]),
    ...                    grid=ej.Grid(ej.values("learning_rate", [0.5, 2.5])), steps=50, global_min=0.0)
    >>> ej.sweep(bowl).labels.tolist()
    ['converged', 'diverged']
    """
    started = time.perf_counter()
    grid = grid or experiment.grid
    steps = check_steps(experiment.steps if steps is None else steps)
    precision = check_precision(experiment.precision if precision is None else precision)
    records = experiment.records if records is None else records
    with jax.enable_x64(precision == "float64"):
        result = _sweep(experiment, grid, steps, seed=seed, records=records, dtype=np.dtype(precision),
                        chunk_size=chunk_size, max_memory=max_memory, max_host_memory=max_host_memory,
                        checkpoint=checkpoint, progress=progress, examples_per_outcome=examples_per_outcome)
    result.info["wall_s"] = time.perf_counter() - started
    return result


def _sweep(experiment, grid, steps, *, seed, records, dtype, chunk_size, max_memory, max_host_memory, checkpoint,
           progress, examples_per_outcome) -> SweepResult:
    grid = grid.astype(dtype)  # axes hold float64 values: the sweep, its result and its summary see its precision
    columns = hparam_columns(experiment, grid, dtype)
    if experiment.check is not None:
        experiment.check(columns)
    signature = tuple(sorted((name, col.dtype.str) for name, col in columns.items()))
    plan = RecordPlan.make(steps, records)
    judged = experiment.global_min is not None
    needs_all = not judged or experiment.classify is not None
    room = host_budget_runs(experiment, plan, signature, dtype.name, grid.size, max_host_memory, needs_all)
    if max_host_memory is None and not needs_all:  # nothing reads more traces than this: keep the host light
        room = min(room, MAX_TRACED_RUNS)
    kept_index = kept_subgrid(grid.shape, room)
    kept_shape = tuple(len(i) for i in kept_index)
    kept_rows = np.ravel_multi_index(np.meshgrid(*kept_index, indexing="ij"), grid.shape).ravel()
    out, stats = _run_chunks(experiment, plan, columns, seed, dtype=dtype, global_min=experiment.global_min,
                             kept_rows=kept_rows, keep_state=True, chunk_size=chunk_size, max_memory=max_memory,
                             checkpoint=checkpoint, progress=progress)
    runs, kept = out["runs"], out["kept"]
    host_start = time.perf_counter()
    global_min = experiment.global_min
    if not judged:  # every run's records are kept (needs_all): f* is estimated from them
        global_min = estimate_minimum(kept["records"]["loss"], kept["lo"], plan, experiment)
        inputs = {**kept, **{name: runs[name] for name in JUDGED_INPUTS if name in runs}}
        verdict = jax.jit(lambda r, f: {
            **judge(r, f, plan.record_steps, experiment.criteria),
            "steps_to_target": steps_to_target(experiment, r["records"], r["lo"], f, plan.record_steps)})(
            inputs, np.asarray(global_min, dtype))
        runs.update(jax.device_get(verdict))
    _check_not_broken(experiment, runs)
    codes = np.asarray(runs["outcome"])
    colors = experiment.outcome_colors
    if experiment.classify is not None:
        hook_runs = {"loss": kept["records"]["loss"], "hi": kept["hi"], "lo": kept["lo"], "initial": runs["initial"],
                     "final": runs["final"], "frozen": runs["frozen"], "moved": runs["moved"],
                     "record_steps": plan.record_steps}
        codes = np.asarray(experiment.classify(hook_runs, codes))
        if codes.shape != (grid.size,) or codes.dtype.kind not in "iu" or np.any((codes < 0) | (codes >= len(colors))):
            raise UserError(f"experiment {experiment.name!r}: classify must return one outcome code "
                            f"in 0..{len(colors) - 1} per run")
        codes = codes.astype(np.int8)

    examples = _examples(experiment, grid, steps, seed, columns, codes, kept_rows, kept["state"], dtype,
                         examples_per_outcome, len(colors))
    shape = grid.shape
    stats["host_s"] = time.perf_counter() - host_start
    return SweepResult(
        experiment=experiment.name,
        axes=grid.axes,
        steps=steps,
        hparams={name: col.reshape(shape) for name, col in columns.items()},
        outcome=codes.reshape(shape),
        measure=np.asarray(runs["measure"], np.float32).reshape(shape),
        steps_to_go=np.asarray(runs["steps_to_go"], np.float32).reshape(shape),
        steps_to_target=np.asarray(runs["steps_to_target"], np.float32).reshape(shape),
        frozen=np.asarray(runs["frozen"]).reshape(shape),
        loss=kept["records"]["loss"].reshape(kept_shape + (-1,)),
        records={name: kept["records"][name].reshape(kept_shape + (-1,)) for name in experiment.record},
        hi=kept["hi"].reshape(kept_shape + (-1,)),
        lo=kept["lo"].reshape(kept_shape + (-1,)),
        trace_index=kept_index,
        final={name: value.reshape(shape) for name, value in runs["final"].items()},
        record_steps=plan.record_steps,
        examples=examples,
        boundaries=evaluate_boundaries(experiment, grid),
        outcome_colors=colors,
        info={
            "description": experiment.description,
            "global_min": global_min,
            "global_min_known": judged,
            **({} if judged else {"global_min_rule": MINIMUM_RULES[experiment.noisy is not False]}),
            "target": experiment.target.describe(),
            "criteria": dataclasses.asdict(experiment.criteria),
            "precision": dtype.name,
            "seed": seed,
            "traced_runs": int(len(kept_rows)),
            **stats,
            "settings_steps_per_s": math.prod(shape) * steps / max(stats["run_s"], 1e-12),
            "jax_version": jax.__version__,
            "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        },
    )


#: How f* is estimated when it is not known (deterministic, noisy), as the summary and the page say.
MINIMUM_RULES = ("the lowest loss any run reached",
                 "the lowest mean recorded loss of any run over its last J record windows (its level)")


def estimate_minimum(loss: np.ndarray, lo: np.ndarray, plan: RecordPlan, experiment: Experiment) -> float:
    """f* when the experiment does not know it: the lowest loss any run reached (its envelope's smallest
    value) for a deterministic experiment; for a noisy one the lowest *level* of any run, its mean recorded
    loss over the last J windows (`edujax.outcomes.trend`), so that one lucky measurement sets no target."""
    if experiment.noisy is False:
        lows = lo[np.isfinite(lo)]
        return float(lows.min()) if lows.size else 0.0
    J = experiment.criteria.final_windows(plan.windows)
    levels = np.asarray(loss, np.float64)[:, -(J + 1):].mean(1)
    levels = levels[np.isfinite(levels)]
    return float(levels.min()) if levels.size else 0.0


def _check_not_broken(experiment: Experiment, runs: dict) -> None:
    """A loss that is not finite at step 0 in every setting is a broken experiment, not a map of divergence."""
    start = np.asarray(runs["initial"]["loss"])
    if start.size and not np.isfinite(start).any():
        raise UserError(f"experiment {experiment.name!r} is broken: its loss is {start.flat[0]} at step 0 in every "
                        "setting, before any update (check the loss and the start point)")


def _examples(experiment, grid, steps, seed, columns, codes, kept_rows, states, dtype, per_outcome, n_outcomes):
    """The representative runs: the experiment's highlights, then up to `per_outcome` kept runs per outcome.

    Their final states come from the sweep itself; their metrics at up to
    `EXAMPLE_POINTS` steps from running them again (same hyperparameters, key
    and vectorised machine code).
    """
    highlights = nearest_cells(grid, experiment.highlights)
    picks = kept_rows[representatives(codes[kept_rows], per_outcome, n_outcomes)] if per_outcome else np.zeros(0, int)
    picks = np.concatenate([highlights, picks[~np.isin(picks, highlights)]]).astype(np.int64)
    examples = {"index": picks, "outcome": codes[picks]}
    if not len(picks):
        return examples
    where = np.minimum(np.searchsorted(kept_rows, picks), len(kept_rows) - 1)  # kept_rows is sorted
    if np.all(kept_rows[where] == picks):
        signature = tuple(sorted((name, col.dtype.str) for name, col in columns.items()))
        template = run_shapes(experiment, RecordPlan.make(steps, 1), signature, np.dtype(dtype).name)[2]
        examples["state"] = restore_state(template, [leaf[where] for leaf in jax.tree.leaves(states)])
    slots = per_outcome * n_outcomes + len(highlights)  # fixed batch: one compile serves every sweep
    plan = RecordPlan.make(steps, EXAMPLE_POINTS, all_metrics=True)
    rows = {name: col[np.resize(picks, slots)] for name, col in columns.items()}
    out, _ = _run_chunks(experiment, plan, rows, seed, dtype=dtype, kept_rows=np.arange(len(picks)), chunk_size=slots)
    examples["step"] = plan.record_steps
    examples.update(out["kept"]["records"])
    return examples
