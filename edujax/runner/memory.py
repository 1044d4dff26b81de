"""How many runs fit: device bytes per run, runs per chunk and per cache-sized block, and the host budget
for the runs' results, records and states."""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from edujax.core.errors import UserError
from edujax.core.experiment import Experiment
from edujax.core.grid import spread_indices
from edujax.runner import devices
from edujax.runner.trace import RecordPlan, run_one, tracing_user_code

#: Chunks hold a multiple of this many runs per device, so every run goes
#: through the same vectorised machine code whatever the chunking (a ragged
#: tail would take a scalar path whose rounding can differ in the last bit).
BATCH_MULTIPLE = 64

#: On a CPU, each device trains its share of a chunk in blocks of runs whose
#: step temporaries fit in about this much cache: every step of a network
#: writes and reads activations for each run, and a block that stays in cache
#: avoids a trip to memory for each of them (README, Performance). Problems
#: with small steps get one block.
CACHE_BYTES = 4 * 2**20
#: On a CPU, chunks hold at most this many runs per device unless `chunk_size` says otherwise.
CPU_CHUNK_RUNS = 1 << 16

#: Per-run results of this many bytes or more are refused up front (a share of the host budget is left for the rest).
HOST_SHARE_FOR_RESULTS = 0.8

#: Without an explicit host budget, the records and final states of at most this many runs are kept
#: (an evenly spread sub-grid of bigger grids): the page draws at most 16,384 runs' curves, and every
#: run's outcome, measure and final metrics are kept whatever the grid's size.
MAX_TRACED_RUNS = 1 << 20


@functools.lru_cache(maxsize=64)
def run_shapes(experiment: Experiment, plan: RecordPlan, signature: tuple, dtype: str, keep_state: bool = True):
    """The shapes of one run's outputs, and of its state and one step's intermediates (for `bytes_per_run`)."""
    hparams = {name: jax.ShapeDtypeStruct((), dt) for name, dt in signature}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    with tracing_user_code(experiment):
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
        if block:  # a CPU: a chunk near its caches' size keeps its state there between steps (README, Performance)
            chunk_size = min(chunk_size, CPU_CHUNK_RUNS * n_devices)
    per_device = -(-max(1, min(int(chunk_size), n)) // (BATCH_MULTIPLE * n_devices)) * BATCH_MULTIPLE
    if block and per_device > block:
        per_device = -(-per_device // block) * block
    return per_device * n_devices


def kept_subgrid(shape: tuple[int, ...], budget_runs: int) -> tuple[np.ndarray, ...]:
    """Per-axis indices of the runs whose records and states are kept: all of them if `budget_runs` allows,
    else an evenly spread sub-grid of at most `budget_runs` runs (see `edujax.core.grid.spread_indices`)."""
    if math.prod(shape) <= budget_runs:
        return tuple(np.arange(n) for n in shape)
    return tuple(spread_indices(shape, max(1, budget_runs)))


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
