"""`sweep`: a whole grid of runs as one compiled function, judged and assembled into a `SweepResult`.

`sweep` builds `jit(vmap(run_one))` (`edujax.runner.trace`): every grid point of
a chunk trains at once, the per-run summary for the judge is computed under
the vmap (`edujax.core.outcomes.summarize`) and the batch's outcomes in the
same compiled function. Hyperparameters are arguments of the compiled
function, so a new grid of the same shape reuses the executable
(`edujax.runner.chunks.compile_chunk`'s cache). The grid runs in chunks sized to
the memory (`edujax.runner.memory`).

The host keeps, for every run, its outcome, measure, final metrics and a few
flags; the per-window records and the final training state are kept for every
run while they fit the host memory budget, and for an evenly spread sub-grid of
runs when they do not (`SweepResult.trace_index` says which).
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import jax
import numpy as np

from edujax.core.errors import UserError
from edujax.core.experiment import Experiment, check_precision, check_steps, evaluate_boundaries
from edujax.core.grid import Grid
from edujax.core.outcomes import OUTCOMES
from edujax.runner.chunks import JUDGED_INPUTS, run_chunks
from edujax.runner.memory import MAX_TRACED_RUNS, host_budget_runs, kept_subgrid, run_shapes
from edujax.runner.trace import RecordPlan, column_signature, outcomes_of, steps_to_target
from edujax.store.result import SweepResult, restore_state

#: The representative runs' metrics are recorded at most at this many points
#: (every step when the run is shorter), whatever the number of steps.
EXAMPLE_POINTS = 2000
#: ... and at most this many for an experiment that measures itself at record points (`Experiment.evaluate`,
#: e.g. the loss on the whole data set), whose every record costs a pass over its data.
EVALUATED_EXAMPLE_POINTS = 200


def hparam_columns(experiment: Experiment, grid: Grid, dtype=np.float32) -> dict[str, np.ndarray]:
    """One column per hyperparameter: the grid's, then the experiment's defaults, floats in `dtype`."""
    columns = grid.columns()
    for name, value in experiment.defaults.items():
        columns.setdefault(name, np.full(grid.size, value, np.float64))
    return {name: col.astype(np.int32 if col.dtype.kind in "iu" else dtype) for name, col in columns.items()}


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
    signature = column_signature(columns)
    plan = RecordPlan.make(steps, records)
    judged = experiment.global_min is not None
    needs_all = not judged or experiment.classify is not None
    room = host_budget_runs(experiment, plan, signature, dtype.name, grid.size, max_host_memory, needs_all)
    if max_host_memory is None and not needs_all:  # nothing reads more traces than this: keep the host light
        room = min(room, MAX_TRACED_RUNS)
    kept_index = kept_subgrid(grid.shape, room)
    kept_shape = tuple(len(i) for i in kept_index)
    kept_rows = np.ravel_multi_index(np.meshgrid(*kept_index, indexing="ij"), grid.shape).ravel()
    out, stats = run_chunks(experiment, plan, columns, seed, dtype=dtype, global_min=experiment.global_min,
                             kept_rows=kept_rows, keep_state=True, chunk_size=chunk_size, max_memory=max_memory,
                             checkpoint=checkpoint, progress=progress)
    runs, kept = out["runs"], out["kept"]
    host_start = time.perf_counter()
    global_min = experiment.global_min if judged else _judge_from_estimated_minimum(experiment, plan, runs, kept,
                                                                                    dtype)
    _check_not_broken(experiment, runs)
    codes = np.asarray(runs["outcome"])
    colors = experiment.outcome_colors
    if experiment.classify is not None:
        codes = _experiments_own_classify(experiment, plan, runs, kept, codes, grid.size)
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


def _judge_from_estimated_minimum(experiment, plan, runs: dict, kept: dict, dtype) -> float:
    """Without a known global minimum every run's records are kept (needs_all): f* is estimated from them
    (`estimate_minimum`), and the runs are judged against it on the host's copy (their outcomes and steps to
    target go into `runs`)."""
    global_min = estimate_minimum(kept["records"]["loss"], kept["lo"], plan, experiment)
    inputs = {**kept, **{name: runs[name] for name in JUDGED_INPUTS if name in runs}}
    verdict = jax.jit(lambda r, f: {
        **outcomes_of(r, f, plan.record_steps, experiment.criteria),
        "steps_to_target": steps_to_target(experiment, r["records"], r["lo"], f, plan.record_steps)})(
        inputs, np.asarray(global_min, dtype))
    runs.update(jax.device_get(verdict))
    return global_min


#: How f* is estimated when it is not known (deterministic, noisy), as the summary and the page say.
MINIMUM_RULES = ("the lowest loss any run reached",
                 "the lowest mean recorded loss of any run over its last J record windows (its level)")


def estimate_minimum(loss: np.ndarray, lo: np.ndarray, plan: RecordPlan, experiment: Experiment) -> float:
    """f* when the experiment does not know it: the lowest loss any run reached (its envelope's smallest
    value) for a deterministic experiment; for a noisy one the lowest *level* of any run, its mean recorded
    loss over the last J windows (`edujax.core.outcomes._trend`), so that one lucky measurement sets no target."""
    if experiment.noisy is False:
        lows = lo[np.isfinite(lo)]
        return float(lows.min()) if lows.size else 0.0
    J = experiment.criteria.final_windows(plan.windows)
    levels = np.asarray(loss, np.float64)[:, -(J + 1):].mean(1)
    levels = levels[np.isfinite(levels)]
    return float(levels.min()) if levels.size else 0.0


def _experiments_own_classify(experiment, plan, runs: dict, kept: dict, codes: np.ndarray, size: int) -> np.ndarray:
    """The experiment's `classify` hook on every run's records and the engine's codes, its answer checked."""
    colors = experiment.outcome_colors
    hook_runs = {"loss": kept["records"]["loss"], "hi": kept["hi"], "lo": kept["lo"], "initial": runs["initial"],
                 "final": runs["final"], "frozen": runs["frozen"], "moved": runs["moved"],
                 "record_steps": plan.record_steps}
    codes = np.asarray(experiment.classify(hook_runs, codes))
    if codes.shape != (size,) or codes.dtype.kind not in "iu" or np.any((codes < 0) | (codes >= len(colors))):
        raise UserError(f"experiment {experiment.name!r}: classify must return one outcome code "
                        f"in 0..{len(colors) - 1} per run")
    return codes.astype(np.int8)


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
        template = run_shapes(experiment, RecordPlan.make(steps, 1), column_signature(columns), np.dtype(dtype).name)[2]
        examples["state"] = restore_state(template, [leaf[where] for leaf in jax.tree.leaves(states)])
    slots = per_outcome * n_outcomes + len(highlights)  # fixed batch: one compile serves every sweep
    points = EXAMPLE_POINTS if experiment.evaluate is None else EVALUATED_EXAMPLE_POINTS
    plan = RecordPlan.make(steps, points, all_metrics=True)
    rows = {name: col[np.resize(picks, slots)] for name, col in columns.items()}
    out, _ = run_chunks(experiment, plan, rows, seed, dtype=dtype, kept_rows=np.arange(len(picks)), chunk_size=slots)
    examples["step"] = plan.record_steps
    examples.update(out["kept"]["records"])
    return examples
