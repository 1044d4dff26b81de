"""`make bench`: the edujax runner against what a user would write otherwise.

For each workload present in `experiments/`, on the experiment's default grid
and step count, in one process:

- **edujax**: `edujax.sweep` (best of a few runs of the compiled executable;
  compile time reported separately);
- **python loop**: one setting at a time, a Python loop over steps calling a
  jitted step (compiled once, hyperparameters passed as arrays): what a
  newcomer writes;
- **one at a time**: one setting at a time, its whole run one jitted
  `lax.scan` (`ej.replay`): edujax minus the vmap;
- **plain vmap**: the whole grid as one plain `jit(vmap(lax.scan(step)))`
  returning every step's loss (what a PureJaxRL-style script keeps), split
  over the devices the same way: edujax minus its record windows and
  unrolling, i.e. what the runner's own machinery costs or gains;
- **numpy**: the whole grid as arrays, a Python loop over steps, for the
  landscapes whose gradient has a closed form (checked to reach the same
  final losses as edujax);
- **notebook loop**: for the fractal boundary, the loop of that paper's
  notebook: the whole grid's state on the devices, a Python loop over
  steps, each step one jitted, vmapped call (its buffers donated), every
  step's loss kept and stacked at the end;
- for a workload with an optional measurement (the sharpness), the same
  sweep without it, timed alternately with it: the measurement's cost;
- for neural workloads, the share of this machine's matmul peak the sweep
  reaches (see `matmul_peak` and `step_flops` for what is counted and how);
  and, as the ceiling for networks this small, the share reached by the
  workload's dominant product alone (each setting's rows × width @ width ×
  width, vmapped over the same batch of settings and split over the devices
  as a sweep is).

The two per-setting baselines time a sample of settings and scale to the grid.

Prints one table and writes `results/benchmark.json` and `results/benchmark.png`.
Ratios are the headline: absolute times move with the machine's load.

The script uses only edujax's public API (`edujax.__all__` and `SweepResult`'s
fields and info): what it rebuilds by hand (the hyperparameter columns, the
padding and device split of a grid) is what a user's own script would do.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from jax.sharding import Mesh, NamedSharding, PartitionSpec

import edujax as ej  # gives JAX one CPU device per core, as every sweep runs

#: The experiments benchmarked, by file stem.
EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
#: A sweep pads its batch to a multiple of this many runs per device (so every run takes the same vectorised
#: code path); the baselines pad the grid the same way, so they do the same work.
RUNS_PER_DEVICE_MULTIPLE = 64


@dataclasses.dataclass(frozen=True)
class Workload:
    title: str
    experiment: str
    numpy_loop: Callable | None = None  # (columns, steps) -> final losses
    product: tuple[int, int] | None = None  # (rows, width) of a neural workload's dominant matmul
    notebook: bool = False  # also time the notebook-style loop (one vmapped step per Python iteration)
    # module -> the same experiment without an optional measurement, timed in the same run: what it costs
    without: Callable | None = None


def available() -> dict[str, Path]:
    """The experiment files in `experiments/`, by name."""
    return {path.stem: path for path in sorted(EXPERIMENTS.glob("*.py")) if not path.name.startswith("_")}


def experiment_module(name: str):
    """An experiment's module, imported from its file (for its constants, or to `make` a variant)."""
    module_name = f"bench_experiment_{name}"
    spec = importlib.util.spec_from_file_location(module_name, available()[name])
    module = sys.modules[module_name] = importlib.util.module_from_spec(spec)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def load(name: str) -> ej.Experiment:
    return ej.load(str(available()[name]))


def grid_columns(experiment: ej.Experiment, grid: ej.Grid) -> dict[str, np.ndarray]:
    """One column per hyperparameter, as a sweep builds them: the grid's, then the experiment's defaults;
    integer columns (choices, seeds) as int32, the rest float32."""
    columns = grid.columns()
    for name, value in experiment.defaults.items():
        columns.setdefault(name, np.full(grid.size, value, np.float64))
    return {name: col.astype(np.int32 if col.dtype.kind in "iu" else np.float32) for name, col in columns.items()}


def setting_key(key, hparams):
    """A setting's PRNG key as a sweep derives it: the sweep's key with the `seed` column folded in."""
    return jax.random.fold_in(key, hparams["seed"]) if "seed" in hparams else key


def padded_size(settings: int) -> int:
    """Runs in a one-chunk batch of `settings`: padded to a whole multiple per device."""
    multiple = RUNS_PER_DEVICE_MULTIPLE * jax.device_count()
    return -(-settings // multiple) * multiple


def row_sharding() -> NamedSharding:
    """The leading (settings) axis split over every device, as a sweep splits its grid."""
    return NamedSharding(Mesh(np.asarray(jax.devices()), ("grid",)), PartitionSpec("grid"))


def _quadratic_module(name):
    return experiment_module(name)


def numpy_gd(columns, steps):
    """Gradient descent on ½(λ₁x² + λ₂y²) for the whole grid, the best a NumPy user would write: every
    update in place (no temporaries), the per-setting factors 1 − lr·λ computed once, and the loss's
    running envelope (its largest and smallest value, what the classifier needs) kept as edujax keeps it."""
    module = _quadratic_module("quadratic")
    lam1, lam2 = module.EIGENVALUES
    angle = np.deg2rad(columns["start_angle"])
    x, y = module.RADIUS * np.cos(angle), module.RADIUS * np.sin(angle)
    fx, fy = 1 - columns["learning_rate"] * lam1, 1 - columns["learning_rate"] * lam2
    loss, part = np.empty_like(x), np.empty_like(x)
    hi, lo = np.full_like(x, -np.inf), np.full_like(x, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            _quadratic_loss(x, y, lam1, lam2, loss, part)
            np.fmax(hi, loss, out=hi)
            np.fmin(lo, loss, out=lo)
            x *= fx
            y *= fy
        return _quadratic_loss(x, y, lam1, lam2, loss, part)


def _quadratic_loss(x, y, lam1, lam2, loss, part):
    """½(λ₁x² + λ₂y²) into `loss`, in place (`part` is scratch)."""
    np.multiply(x, x, out=loss)
    loss *= 0.5 * lam1
    np.multiply(y, y, out=part)
    part *= 0.5 * lam2
    loss += part
    return loss


def numpy_heavy_ball(columns, steps):
    """Heavy-ball momentum (optax.sgd's form: v ← g + βv, x ← x − lr·v) with NumPy, in place like `numpy_gd`."""
    module = _quadratic_module("quadratic_momentum")
    lam1, lam2 = module.EIGENVALUES
    lr, beta = columns["learning_rate"], 1 - columns["one_minus_momentum"]
    x, y = np.full_like(lr, module.START[0]), np.full_like(lr, module.START[1])
    vx, vy, loss, part = np.zeros_like(x), np.zeros_like(y), np.empty_like(x), np.empty_like(x)
    hi, lo = np.full_like(x, -np.inf), np.full_like(x, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            _quadratic_loss(x, y, lam1, lam2, loss, part)
            np.fmax(hi, loss, out=hi)
            np.fmin(lo, loss, out=lo)
            for z, v, lam in ((x, vx, lam1), (y, vy, lam2)):
                v *= beta  # v ← λz + βv
                np.multiply(z, lam, out=part)
                v += part
                np.multiply(v, lr, out=part)  # z ← z − lr·v
                z -= part
        return _quadratic_loss(x, y, lam1, lam2, loss, part)


def numpy_bumpy_bowl(columns, steps):
    """Gradient descent in the grooved bowl, its gradient written out by hand."""
    a, k, s = float(ej.landscapes.BUMPY["a"]), float(ej.landscapes.BUMPY["k"]), float(ej.landscapes.BUMPY["s"])
    angle, lr = np.deg2rad(30.0), columns["learning_rate"]
    x, y = columns["start_distance"] * np.cos(angle), columns["start_distance"] * np.sin(angle)

    def loss_and_grad(x, y):
        ripple, floor = np.sin(k * x) ** 2 + np.sin(k * y) ** 2, np.exp(-(x * x + y * y) / s**2)
        scale = a * ripple * floor * 2 / s**2
        gx = 2 * x + a * k * np.sin(2 * k * x) * (1 - floor) + scale * x
        gy = 2 * y + a * k * np.sin(2 * k * y) * (1 - floor) + scale * y
        return x * x + y * y + a * ripple * (1 - floor), gx, gy

    best = np.full_like(x, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            loss, gx, gy = loss_and_grad(x, y)
            best = np.fmin(best, loss)
            x, y = x - lr * gx, y - lr * gy
        return loss_and_grad(x, y)[0]


WORKLOADS = [
    Workload("2-D quadratic, GD", "quadratic", numpy_gd),
    Workload("2-D quadratic, heavy ball", "quadratic_momentum", numpy_heavy_ball),
    Workload("grooved bowl, GD", "bumpy_bowl", numpy_bumpy_bowl),
    Workload("MLP regression (NNX)", "mlp_regression", product=(64, 32)),  # 64 samples, hidden 32 × 32
    Workload("ring GAN (NNX, Adam)", "gan_ring", product=(64, 32)),  # batches of 64, hidden 32 × 32
    Workload("fractal boundary (width 8)", "fractal_boundary", product=(72, 8), notebook=True),  # 72 samples, 8 × 8
    Workload("MLP + sharpness every 20 steps", "edge_of_stability",
             without=lambda module: module.make(sharpness=None)),
]


def time_best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def xla_flops(fn, *args) -> float:
    """FLOPs of one call of `fn` on `args` (unsharded), by XLA's cost analysis of the compiled program.

    Only straight-line programs give the whole count: the analysis counts a loop's body once, whatever its
    trip count, and reports one device's share of a program split over several.
    """
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


# What "share of the matmul peak" means. The numerator is the training work a sweep cannot avoid: every
# setting's state update and loss at every step (`step_flops`, counted by XLA itself), over the sweep's run time
# (compile excluded). Records, the loss envelope and judging are not counted, so it is a lower bound of the
# arithmetic done. The denominator is what this machine's matmul units give to the same devices the sweep runs
# on, all busy at once (`matmul_peak`). So the share is at most ~100 % (up to timing noise): the fraction of
# the hardware's dense-matmul rate the sweep turns into training. Networks this small stay far below it, since
# their products are tiny; `product_chain_rate` gives the ceiling for such products, batched as the sweep is.
def matmul_peak(repeats: int = 5, min_seconds: float = 0.02, max_bytes: int = 2**32) -> tuple[float, int]:
    """FLOP/s of float32 n × n matmuls run on every device at once, the machine's practical peak, and n.

    A sweep splits its grid over every device (on a CPU, edujax's one device
    per core), so the peak does too: a batch of one n × n product per device,
    split over the devices like a sweep's grid, one jitted call, best of
    `repeats`. (Timed on one device, the figure would be one core's where
    a device's kernels run on one thread, and the whole machine's where the
    devices share a thread pool: no fixed relation to what a sweep can use.)
    Each product is 2n³ FLOPs (what XLA's cost analysis counts for it).
    n doubles from 1024 until one call takes `min_seconds`, so that on a fast
    accelerator the figure is not bounded by dispatch, or until the operands
    would exceed `max_bytes`.
    """
    count, matmul, n = jax.device_count(), jax.jit(jax.vmap(lambda a: a @ a)), 1024
    while True:
        a = jax.device_put(jax.random.normal(jax.random.key(0), (count, n, n), jnp.float32), row_sharding())
        matmul(a).block_until_ready()
        seconds = time_best(lambda: matmul(a).block_until_ready(), repeats)
        del a
        if seconds >= min_seconds or n >= 16384 or 3 * count * (2 * n) ** 2 * 4 > max_bytes:
            return count * 2 * n**3 / seconds, n
        n *= 2


def product_chain_rate(batch: int, rows: int, width: int, steps: int = 200, repeats: int = 5) -> float:
    """FLOP/s of a network's dominant matmul alone, batched as a sweep batches it.

    Per setting, `steps` times x ← tanh(x @ w) with x rows × width and its own
    w width × width, vmapped over `batch` settings (the sweep's batch, padding
    included) and split over the devices: what the hardware gives such small
    products. FLOPs: XLA's count of one link for one setting (2·rows·width²)
    times batch × steps.
    """
    x_key, w_key = jax.random.split(jax.random.key(0))
    x = jax.device_put(jax.random.normal(x_key, (batch, rows, width)), row_sharding())
    w = jax.device_put(jax.random.normal(w_key, (batch, width, width)) / np.sqrt(width), row_sharding())
    link = xla_flops(lambda x, w: jnp.tanh(x @ w), x[0], w[0])
    chain = jax.jit(jax.vmap(lambda x, w: jax.lax.scan(lambda h, _: (jnp.tanh(h @ w), None), x, None, steps)[0]))
    chain(x, w).block_until_ready()
    return link * batch * steps / time_best(lambda: chain(x, w).block_until_ready(), repeats)


def sample_rows(columns, sample: int) -> list[dict]:
    """`sample` settings spread over the grid, as dicts of scalars."""
    picks = np.linspace(0, len(next(iter(columns.values()))) - 1, sample).astype(int)
    return [{name: jnp.asarray(col[i]) for name, col in columns.items()} for i in picks]


def python_loop_rate(experiment, rows, steps: int, repeats: int = 1) -> float:
    """settings·steps/s of a per-setting Python loop over a jitted step."""
    init, step = jax.jit(experiment.init), jax.jit(experiment.step)

    def one(hparams):
        state = init(setting_key(jax.random.key(0), hparams), hparams)
        for _ in range(steps + 1):
            state, metrics = step(state, hparams)
        jax.block_until_ready(metrics)

    one(rows[0])  # compile outside the timing
    return len(rows) * steps / time_best(lambda: [one(row) for row in rows], repeats)


def one_at_a_time_rate(experiment, rows, steps: int, repeats: int = 1) -> float:
    """settings·steps/s of whole jitted runs, one setting per call (edujax minus the vmap)."""
    alone = jax.jit(lambda hparams: ej.replay(experiment, hparams, steps)[1]["loss"])
    jax.block_until_ready(alone(rows[0]))  # compile outside the timing
    return len(rows) * steps / time_best(lambda: [jax.block_until_ready(alone(row)) for row in rows], repeats)


def grid_on_devices(columns, batch: int | None = None):
    """The whole grid's columns, padded to `batch` runs (default: as a one-chunk sweep pads them) by repeating
    the last setting, and split over the devices as a sweep splits them."""
    n = len(next(iter(columns.values())))
    rows = np.minimum(np.arange(padded_size(n) if batch is None else batch), n - 1)
    return {name: jax.device_put(np.asarray(col)[rows], row_sharding()) for name, col in columns.items()}


def plain_vmap_rate(experiment, columns, steps: int, repeats: int = 1) -> float:
    """settings·steps/s of the grid as one plain jit(vmap(scan)) returning every step's loss."""
    n, hparams = len(next(iter(columns.values()))), grid_on_devices(columns)
    plain = jax.jit(jax.vmap(lambda hparams: ej.replay(experiment, hparams, steps)[1]["loss"]))
    jax.block_until_ready(plain(hparams))  # compile outside the timing
    return n * steps / time_best(lambda: jax.block_until_ready(plain(hparams)), repeats)


def bare_rate(experiment, columns, steps: int, repeats: int = 1) -> float:
    """settings·steps/s of the bare training loop: jit(vmap(scan(step))) keeping only the final
    state (XLA drops the unused loss), split over the devices like a sweep. Against it, edujax's
    rate is the price of watching every step's loss (the envelope) and judging every run."""
    n, hparams = len(next(iter(columns.values()))), grid_on_devices(columns)

    def train(h):
        start = experiment.init(setting_key(jax.random.key(0), h), h)
        return jax.lax.scan(lambda state, _: (experiment.step(state, h)[0], None), start, None, length=steps)[0]

    bare = jax.jit(jax.vmap(train))
    jax.block_until_ready(bare(hparams))  # compile outside the timing
    return n * steps / time_best(lambda: jax.block_until_ready(bare(hparams)), repeats)


def notebook_loop(experiment, columns, steps: int):
    """The fractal paper's notebook loop over the whole grid: a Python loop over
    steps, each one jitted vmapped step (state donated), split over the devices
    like a sweep, every step's loss kept and stacked at the end.

    Returns `run`, which trains from the start and returns every run's loss at
    every step, (padded settings, steps + 1), compiled on its first call.
    """
    hparams = grid_on_devices(columns)
    init = jax.jit(jax.vmap(lambda h: experiment.init(setting_key(jax.random.key(0), h), h)))
    step = jax.jit(jax.vmap(experiment.step), donate_argnums=0)

    def run():
        state, losses = init(hparams), []
        for _ in range(steps + 1):
            state, metrics = step(state, hparams)
            losses.append(metrics["loss"])
        return jnp.stack(losses, axis=-1).block_until_ready()

    return run


def notebook_loop_rate(experiment, columns, steps: int, reference, repeats: int = 1) -> float:
    """settings·steps/s of `notebook_loop`, checked to reach `reference`'s final losses."""
    run = notebook_loop(experiment, columns, steps)
    final = np.asarray(run()[: len(reference), -1])  # compile outside the timing
    both = np.isfinite(final) & np.isfinite(reference)
    # same work, same answer (chaotic runs drift apart in float32, so compare the typical run)
    assert np.median(np.abs(final[both] - reference[both]) / (np.abs(reference[both]) + 1e-6)) < 1e-3
    return len(reference) * steps / time_best(run, repeats)


def step_flops(experiment, hparams) -> float:
    """FLOPs a sweep spends on one training step of one setting, by XLA's cost analysis.

    The step is analysed as a sweep runs it between records: keeping only the
    new state and the loss (the envelope's input), so XLA drops every other
    metric, as it does inside the sweep. Counting the whole step would count
    work the sweep never does: `minimize`'s Newton-gain metric alone runs
    conjugate-gradient Hessian-vector products worth several steps, computed
    only where a record keeps it. The step is analysed alone because the analysis
    counts a scan's body once (see `xla_flops`).
    """
    state = experiment.init(jax.random.key(0), hparams)

    def trained(state, hparams):
        state, metrics = experiment.step(state, hparams)
        return state, metrics["loss"]

    return xla_flops(trained, state, hparams)


def measure(workload: Workload, repeats: int, sample: int, peak: float) -> dict:
    experiment = load(workload.experiment)
    grid, steps = experiment.grid, experiment.steps
    columns = grid_columns(experiment, grid)
    timed = functools.partial(ej.sweep, experiment, examples_per_outcome=0)  # no example re-runs: untimed work
    first = timed()
    neural = workload.product is not None or workload.without is not None
    repeats = 1 if neural else repeats  # minutes each on a CPU: one timing is plenty
    run_s, reference_s = first.info["run_s"], float("inf")
    if workload.without is not None:  # the same sweep without the measurement, timed alternately: best of three each
        without = workload.without(experiment_module(workload.experiment))
        reference = functools.partial(ej.sweep, without, examples_per_outcome=0)
        repeats, reference_s = 3, reference().info["run_s"]  # run_s never includes the compile
    for _ in range(repeats - 1):
        run_s = min(run_s, timed().info["run_s"])
        if workload.without is not None:
            reference_s = min(reference_s, reference().info["run_s"])
    work = grid.size * steps
    rows = sample_rows(columns, max(2, sample // 4) if neural else sample)
    row = {
        "workload": workload.title, "experiment": workload.experiment, "settings": grid.size, "steps": steps,
        "compile_s": first.info["compile_s"], "edujax_s": run_s, "edujax_rate": work / run_s,
        "python_loop_rate": python_loop_rate(experiment, rows, steps, repeats),
        "one_at_a_time_rate": one_at_a_time_rate(experiment, rows, steps, repeats),
        "plain_vmap_rate": plain_vmap_rate(experiment, columns, steps, repeats),
    }
    row["vs_python_loop"] = row["edujax_rate"] / row["python_loop_rate"]
    row["vs_one_at_a_time"] = row["edujax_rate"] / row["one_at_a_time_rate"]
    row["vs_plain_vmap"] = row["edujax_rate"] / row["plain_vmap_rate"]
    if workload.notebook:
        row["notebook_loop_rate"] = notebook_loop_rate(experiment, columns, steps, first.final["loss"].ravel(), repeats)
        row["vs_notebook_loop"] = row["edujax_rate"] / row["notebook_loop_rate"]
    if not neural:
        row["bare_rate"] = bare_rate(experiment, columns, steps, repeats)
        row["vs_bare"] = row["edujax_rate"] / row["bare_rate"]
    if workload.numpy_loop is not None:
        final = {}
        numpy_s = time_best(lambda: final.update(loss=workload.numpy_loop(columns, steps)), repeats)
        ours = first.final["loss"].ravel()
        both = np.isfinite(ours) & np.isfinite(final["loss"])
        # same work, same answer (chaotic runs drift apart in float32, so compare the typical run)
        assert np.median(np.abs(final["loss"][both] - ours[both]) / (np.abs(ours[both]) + 1e-6)) < 1e-3
        row.update(numpy_rate=work / numpy_s, vs_numpy=numpy_s / run_s)
    if workload.without is not None:
        row.update(without_rate=work / reference_s, vs_without=reference_s / run_s)
    if workload.product is not None:
        per_step = step_flops(experiment, rows[0])
        ceiling = product_chain_rate(first.info["chunk_size"], *workload.product)  # the sweep's own batch
        row.update(step_flops=per_step, flops_per_s=per_step * work / run_s,
                   share_of_matmul_peak=per_step * work / run_s / peak,
                   product_shape=list(workload.product), product_share_of_peak=ceiling / peak)
    return row


#: The scaling rows: the quadratic's grid at these sides (65,536 to 16,777,216 settings), at each of these step
#: counts (100: the per-run work weighs most; 500: the experiment's own).
SCALING_SIDES, SCALING_STEPS = (256, 1024, 4096), (100, 500)


def scaling(sides=SCALING_SIDES, steps: int = 100, repeats: int = 3) -> list[dict]:
    """Throughput against grid size on the quadratic: edujax's whole sweep (classification and every
    host-side step included, compile excluded) and the in-place NumPy loop, each the best of `repeats`,
    timed alternately in one process."""
    experiment = load("quadratic")
    rows = []
    for side in sides:
        grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, side), ej.linspace("start_angle", 0.0, 90.0, side))
        columns = grid_columns(experiment, grid)
        timed = functools.partial(ej.sweep, experiment, grid, steps, examples_per_outcome=0)
        timed()  # compile outside the timing
        final, edujax_s, numpy_s = {}, float("inf"), float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            timed()
            edujax_s = min(edujax_s, time.perf_counter() - start)
            numpy_s = min(numpy_s, time_best(lambda: final.update(loss=numpy_gd(columns, steps)), 1))
        work = grid.size * steps
        rows.append({"settings": grid.size, "steps": steps, "edujax_rate": work / edujax_s,
                     "numpy_rate": work / numpy_s, "vs_numpy": numpy_s / edujax_s})
    return rows


BASELINES = [  # (row key, legend), in the order of the bars
    ("vs_python_loop", "× per-setting Python loop"),
    ("vs_one_at_a_time", "× jitted runs one at a time"),
    ("vs_numpy", "× NumPy over the grid"),
    ("vs_plain_vmap", "× plain jit(vmap(scan)) with every step's loss"),
    ("vs_notebook_loop", "× notebook loop: one vmapped step per Python iteration"),
]


def chart(rows: list[dict], path: Path) -> None:
    fig = Figure(figsize=(7, 1.4 + 0.8 * len(rows)), layout="constrained")
    ax = fig.subplots()
    y, height = np.arange(len(rows)), 0.8 / len(BASELINES)
    for i, (key, label) in enumerate(BASELINES):
        offset = (i - (len(BASELINES) - 1) / 2) * height
        ax.barh(y + offset, [r.get(key, np.nan) for r in rows], height, label=label, color=f"C{i}")
    ax.set_yticks(y, [r["workload"] for r in rows])
    ax.set_xscale("log")
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xlabel("edujax speed-up (settings·steps/s ratio, same run)")
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    ax.invert_yaxis()
    fig.savefig(path, dpi=130)


HEADER = (f"{'workload':28s} {'settings×steps':>16s} {'compile s':>9s} {'edujax /s':>9s} {'× py loop':>9s}"
          f" {'× 1-by-1':>8s} {'× plain':>7s} {'× numpy':>8s} {'× notebook':>10s} {'% peak':>7s} {'matmul alone':>19s}")


def table_line(row: dict) -> str:
    """One workload's line of the printed table ("—" where a column does not apply)."""
    numpy_ratio = f"{row['vs_numpy']:8.1f}" if "vs_numpy" in row else f"{'—':>8s}"
    notebook_ratio = f"{row['vs_notebook_loop']:10.1f}" if "vs_notebook_loop" in row else f"{'—':>10s}"
    share = f"{100 * row['share_of_matmul_peak']:6.1f}%" if "share_of_matmul_peak" in row else f"{'—':>7s}"
    alone = f"{'—':>19s}"
    if "product_shape" in row:
        rows, width = row["product_shape"]
        alone = f"{100 * row['product_share_of_peak']:5.1f}% ({rows}×{width}×{width})"
    return (f"{row['workload']:28s} {row['settings']:>8,d}×{row['steps']:<7d} {row['compile_s']:9.2f}"
            f" {row['edujax_rate']:9.2e} {row['vs_python_loop']:9.0f} {row['vs_one_at_a_time']:8.1f}"
            f" {row['vs_plain_vmap']:7.2f} {numpy_ratio} {notebook_ratio} {share} {alone}")


class _Parser(argparse.ArgumentParser):
    """Mistakes in the options are one line (a `UserError`), not a usage dump."""

    def error(self, message):
        raise ej.UserError(message)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return int(text)


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it, so a reader never sees half of it."""
    part = path.with_name(f".{path.name}.part")
    part.write_bytes(data)
    os.replace(part, path)


def parse(argv) -> tuple[argparse.Namespace, list[Workload]]:
    """The options, and the workloads to run: those asked for, else every one present."""
    parser = _Parser(prog="benchmarks/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results", help="where benchmark.json and benchmark.png go")
    parser.add_argument("--repeats", type=_positive, default=3, help="edujax runs per workload (best is kept)")
    parser.add_argument("--sample", type=_positive, default=4, help="settings timed for the Python-loop baseline")
    parser.add_argument("--only", nargs="+", metavar="EXPERIMENT", help="just these workloads, by experiment name")
    parser.add_argument("--scaling", nargs="*", type=_positive, default=list(SCALING_SIDES), metavar="SIDE",
                        help="grid sides of the quadratic's scaling rows (default: 256 1024 4096; none: skip them)")
    parser.add_argument("--scaling-steps", nargs="+", type=_positive, default=list(SCALING_STEPS), metavar="STEPS",
                        help="step counts of the scaling rows (default: 100 500)")
    args = parser.parse_args(argv)
    present = [w for w in WORKLOADS if w.experiment in available()]
    if args.only:
        unknown = sorted(set(args.only) - {w.experiment for w in present})
        if unknown:
            names = ", ".join(w.experiment for w in present)
            raise ej.UserError(f"no workload for {', '.join(unknown)} (workloads: {names})")
        present = [w for w in present if w.experiment in args.only]
    return args, present


def main(argv=None) -> int:
    try:
        args, present = parse(argv)
    except ej.UserError as err:
        print(f"edujax.bench: error: {err}", file=sys.stderr)
        return 2
    peak, peak_n = matmul_peak()
    rows = [measure(w, args.repeats, args.sample, peak) for w in present]
    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), {jax.device_count()} device(s);"
          f" matmul peak {peak:.3g} FLOP/s ({peak_n} × {peak_n} float32)")
    print(HEADER)
    for row in rows:
        print(table_line(row))
    for row in rows:
        if "vs_bare" in row:
            print(f"{row['workload']}: the bare loop (final state only, no loss kept) runs at {row['bare_rate']:.3g}"
                  f" settings·steps/s; watching every step's loss and judging every run costs"
                  f" {1 / row['vs_bare']:.2f}× its time")
    for row in rows:
        if "vs_without" in row:
            print(f"{row['workload']}: {row['edujax_rate']:.3g} settings·steps/s, the same sweep without it"
                  f" {row['without_rate']:.3g}: {row['vs_without']:.2f}× the throughput (same run)")
    quadratic = any(w.experiment == "quadratic" for w in present)
    grow = [row for steps in args.scaling_steps for row in scaling(args.scaling, steps, repeats=args.repeats)
            ] if args.scaling and quadratic else []
    if grow:
        print("\nscaling: the quadratic, the whole sweep (classified, host work included) against the in-place NumPy"
              " loop, best of each:")
        print(f"{'settings':>12s} {'steps':>6s} {'edujax /s':>10s} {'numpy /s':>10s} {'× numpy':>8s}")
        for row in grow:
            print(f"{row['settings']:>12,d} {row['steps']:>6d} {row['edujax_rate']:10.2e} {row['numpy_rate']:10.2e}"
                  f" {row['vs_numpy']:8.1f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"scaling": grow, "device": f"{device.platform}: {device.device_kind}", "devices": jax.device_count(),
              "jax_version": jax.__version__, "matmul_peak_flops": peak, "matmul_peak_size": peak_n,
              "workloads": rows}
    write_atomically(out / "benchmark.json", json.dumps(report, indent=2).encode())
    chart(rows, out / "benchmark.png")
    print(f"wrote {out}/benchmark.json and {out}/benchmark.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())  # `import edujax` has given JAX one CPU device per core
