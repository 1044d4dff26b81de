"""The chunk loop: one compiled executable (cached per shape) runs the grid chunk after chunk, each finished
chunk's host part copied into place and, with a checkpoint folder, saved so that a rerun resumes."""
from __future__ import annotations

import functools
import hashlib
import time
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto wants ipywidgets in a notebook

from edujax.core.experiment import Experiment
from edujax.core.outcomes import summarize
from edujax.runner import devices
from edujax.runner.memory import block_rows, bytes_per_run, chunk_rows
from edujax.runner.trace import (RecordPlan, column_signature, noisy_runs, outcomes_from, run_one, steps_to_target,
                                 tracing_user_code)
from edujax.store.files import atomic_write, write_npz

#: Per-run outputs kept for every run on the host; the rest is kept for the traced sub-grid only.
PER_RUN = ("outcome", "measure", "steps_to_go", "steps_to_target", "noisy", "frozen", "moved", "initial", "final")
#: What the rules read per run besides the records' summary.
JUDGED_INPUTS = ("initial", "final", "frozen", "moved", "noisy")


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
            runs.update(outcomes_from(summary, inputs, plan.record_steps, criteria))
        per_run = {name: runs.pop(name) for name in PER_RUN if name in runs}
        return {"runs": per_run, "kept": runs}

    return chunk


@functools.lru_cache(maxsize=64)
def compile_chunk(experiment: Experiment, plan: RecordPlan, batch: int, signature: tuple, mesh, dtype: str,
                  judged: bool, keep_state: bool, block: int = 0):
    """Compile once per (experiment, record plan, chunk shape, column dtypes, devices, precision, outputs, block).

    With `block` (runs per device, dividing each device's share of the chunk)
    every device runs its own rows block after block (`shard_map` over the
    devices, `lax.map` over blocks); else the whole chunk is one vmap.
    """
    return _lower(experiment, plan, batch, signature, mesh, dtype, judged, keep_state, block).compile()


@functools.lru_cache(maxsize=64)
def program_digest(experiment: Experiment, plan: RecordPlan, batch: int, signature: tuple, mesh, dtype: str,
                   judged: bool, keep_state: bool, block: int = 0) -> str:
    """A digest of the program `compile_chunk` compiles (its StableHLO text, constants included): it changes with
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
    with tracing_user_code(experiment):
        return jax.jit(chunk, out_shardings=rows).lower(specs, key, jax.ShapeDtypeStruct((), dtype))


def checkpoint_folder(root: Path, experiment: Experiment, plan: RecordPlan, columns, seed: int, chunk: int,
                      kept_rows, program: str) -> Path:
    """Where finished chunks of exactly this sweep are kept, named by a digest of
    everything that determines their numbers (`program`: the compiled program's `program_digest`)."""
    digest = hashlib.sha256(repr((experiment.name, plan, experiment.criteria, experiment.global_min, seed, chunk,
                                  jax.device_count(), jax.config.jax_enable_x64, program)).encode())
    for name in sorted(columns):
        digest.update(name.encode() + columns[name].tobytes())
    digest.update(np.asarray(kept_rows, np.int64).tobytes())
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


def run_chunks(experiment, plan, columns, seed, *, dtype, global_min=None, kept_rows=None, keep_state=False,
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
    mesh = devices.grid_mesh()
    dtype = np.dtype(dtype).name
    start = time.perf_counter()
    judged = global_min is not None
    compiled, chunk, block, per_run = _compiled_chunk(experiment, plan, columns, dtype, mesh, judged, keep_state,
                                                      chunk_size, max_memory)
    compile_s = time.perf_counter() - start  # ~0 when the executable is cached
    resumable = checkpoint is not None and n > chunk  # one chunk: nothing to skip on a rerun
    # keyed by the program too: the same name and inputs from edited code are another sweep
    folder = checkpoint_folder(checkpoint, experiment, plan, columns, seed, chunk, kept_rows,
                               program_digest(experiment, plan, chunk, column_signature(columns), mesh, dtype, judged,
                                              keep_state, block)) if resumable else None
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


def _compiled_chunk(experiment, plan, columns, dtype: str, mesh, judged: bool, keep_state: bool, chunk_size,
                    max_memory):
    """The executable for this sweep's chunks, and (runs per chunk, runs per block, device bytes per run)."""
    n = len(next(iter(columns.values())))
    signature = column_signature(columns)
    per_run = 0 if chunk_size is not None else bytes_per_run(experiment, plan, signature, dtype)
    block = block_rows(experiment, plan, signature, dtype, mesh)
    chunk = chunk_rows(n, chunk_size, max_memory, per_run, mesh.size, block)
    compiled = compile_chunk(experiment, plan, chunk, signature, mesh, dtype, judged, keep_state, block)
    return compiled, chunk, block, per_run


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
