"""`make bench`: the edujax runner against what a user would write otherwise.

For each workload present in `experiments/`, on the experiment's default grid
and step count, in one process:

- **edujax**: `edujax.sweep` (best of a few runs of the compiled executable;
  compile time reported separately);
- **python loop**: one setting at a time, a Python loop over steps calling a
  jitted step (compiled once, hyperparameters passed as arrays): what a
  newcomer writes. A sample of settings is timed and scaled to the grid;
- **numpy**: the whole grid as arrays, a Python loop over steps, for the
  landscapes whose gradient has a closed form (checked to reach the same
  final losses as edujax);
- for neural workloads, achieved FLOP/s (XLA's cost analysis of the compiled
  sweep over its run time) as a share of this machine's matmul peak,
  measured in the same run.

Prints one table and writes `results/benchmark.json` and `results/benchmark.png`.
Ratios are the headline: absolute times move with the machine's load.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from edujax import registry, runner
from edujax.result import atomic_write


@dataclasses.dataclass(frozen=True)
class Workload:
    title: str
    experiment: str
    numpy_loop: Callable | None = None  # (columns, steps) -> final losses
    neural: bool = False


def _quadratic_module(name):
    return registry.load_module(registry.available()[name])


def numpy_gd(columns, steps):
    """Gradient descent on ½(λ₁x² + λ₂y²) for the whole grid, written with numpy."""
    module = _quadratic_module("quadratic")
    lam1, lam2 = module.EIGENVALUES
    angle = np.deg2rad(columns["start_angle"])
    x, y, lr = module.RADIUS * np.cos(angle), module.RADIUS * np.sin(angle), columns["learning_rate"]
    best = np.full_like(x, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            loss = 0.5 * (lam1 * x * x + lam2 * y * y)
            best = np.fmin(best, loss)
            x, y = x - lr * lam1 * x, y - lr * lam2 * y
        return 0.5 * (lam1 * x * x + lam2 * y * y)


def numpy_heavy_ball(columns, steps):
    """Heavy-ball momentum (optax.sgd's form: v ← g + βv, x ← x − lr·v) with numpy."""
    module = _quadratic_module("quadratic_momentum")
    lam1, lam2 = module.EIGENVALUES
    lr, beta = columns["learning_rate"], 1 - columns["one_minus_momentum"]
    x, y = np.full_like(lr, module.START[0]), np.full_like(lr, module.START[1])
    vx, vy, best = np.zeros_like(x), np.zeros_like(y), np.full_like(x, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            loss = 0.5 * (lam1 * x * x + lam2 * y * y)
            best = np.fmin(best, loss)
            vx, vy = lam1 * x + beta * vx, lam2 * y + beta * vy
            x, y = x - lr * vx, y - lr * vy
        return 0.5 * (lam1 * x * x + lam2 * y * y)


WORKLOADS = [
    Workload("2-D quadratic, GD", "quadratic", numpy_gd),
    Workload("2-D quadratic, heavy ball", "quadratic_momentum", numpy_heavy_ball),
]


def time_best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a jitted float32 n×n matmul: the machine's practical peak."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(lambda a: a @ a)
    matmul(a).block_until_ready()
    return 2 * n**3 / time_best(lambda: matmul(a).block_until_ready(), repeats)


def python_loop_rate(experiment, columns, steps: int, sample: int) -> float:
    """settings·steps/s of a per-setting Python loop over a jitted step."""
    init, step = jax.jit(experiment.init), jax.jit(experiment.step)
    pick = np.linspace(0, len(next(iter(columns.values()))) - 1, sample).astype(int)
    key = jax.random.key(0)

    def one(i):
        hparams = {name: jnp.asarray(col[i]) for name, col in columns.items()}
        state = init(jax.random.fold_in(key, hparams.get("seed", 0)), hparams)
        for _ in range(steps + 1):
            state, metrics = step(state, hparams)
        jax.block_until_ready(metrics)

    one(pick[0])  # compile outside the timing
    start = time.perf_counter()
    for i in pick:
        one(i)
    return sample * steps / (time.perf_counter() - start)


def measure(workload: Workload, repeats: int, sample: int, peak: float) -> dict:
    experiment = registry.load(workload.experiment)
    grid, steps = experiment.grid, experiment.steps
    columns = runner.hparam_columns(experiment, grid)
    first = runner.sweep(experiment)
    run_s = min([first.info["run_s"]] + [runner.sweep(experiment).info["run_s"] for _ in range(repeats - 1)])
    work = grid.size * steps
    row = {
        "workload": workload.title, "experiment": workload.experiment, "settings": grid.size, "steps": steps,
        "compile_s": first.info["compile_s"], "edujax_s": run_s, "edujax_rate": work / run_s,
        "python_loop_rate": python_loop_rate(experiment, columns, steps, sample),
    }
    row["vs_python_loop"] = row["edujax_rate"] / row["python_loop_rate"]
    if workload.numpy_loop is not None:
        final = {}
        numpy_s = time_best(lambda: final.update(loss=workload.numpy_loop(columns, steps)), 1)
        ours = first.final["loss"].ravel()
        both = np.isfinite(ours) & np.isfinite(final["loss"])
        np.testing.assert_allclose(final["loss"][both], ours[both], rtol=1e-3, atol=1e-6)  # same work, same answer
        row.update(numpy_rate=work / numpy_s, vs_numpy=numpy_s / run_s)
    if workload.neural:
        plan = runner.RecordPlan.make(steps, 50)
        signature = tuple(sorted((k, v.dtype.str) for k, v in columns.items()))
        compiled = runner._compile(experiment, plan, first.info["chunk_size"], signature, runner.devices.grid_mesh())
        flops = compiled.cost_analysis()["flops"] * first.info["chunks"]
        row.update(flops_per_s=flops / run_s, share_of_matmul_peak=flops / run_s / peak)
    return row


def chart(rows: list[dict], path: Path) -> None:
    fig = Figure(figsize=(7, 0.9 + 0.6 * len(rows)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["vs_python_loop"] for r in rows], 0.4, label="× per-setting Python loop", color="#1f77b4")
    ax.barh(y + 0.2, [r.get("vs_numpy", np.nan) for r in rows], 0.4, label="× NumPy over the grid", color="#ff7f0e")
    ax.set_yticks(y, [r["workload"] for r in rows])
    ax.set_xscale("log")
    ax.set_xlabel("edujax speed-up (settings·steps/s ratio, same run)")
    ax.legend(loc="lower right", fontsize=8)
    ax.invert_yaxis()
    fig.savefig(path, dpi=130)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edujax.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results", help="where benchmark.json and benchmark.png go")
    parser.add_argument("--repeats", type=int, default=3, help="edujax runs per workload (best is kept)")
    parser.add_argument("--sample", type=int, default=4, help="settings timed for the Python-loop baseline")
    args = parser.parse_args(argv)
    present = [w for w in WORKLOADS if w.experiment in registry.available()]
    peak = matmul_peak()
    rows = [measure(w, args.repeats, args.sample, peak) for w in present]
    device = jax.devices()[0]
    header = f"{'workload':30s} {'settings×steps':>16s} {'compile s':>9s} {'edujax /s':>10s} {'× py loop':>10s} {'× numpy':>8s} {'% peak':>7s}"
    print(f"device: {device.platform} ({device.device_kind}), {jax.device_count()} device(s); matmul peak {peak:.3g} FLOP/s")
    print(header)
    for r in rows:
        numpy_ratio = f"{r['vs_numpy']:8.1f}" if "vs_numpy" in r else f"{'—':>8s}"
        share = f"{100 * r['share_of_matmul_peak']:6.1f}%" if "share_of_matmul_peak" in r else f"{'—':>7s}"
        print(f"{r['workload']:30s} {r['settings']:>8,d}×{r['steps']:<7d} {r['compile_s']:9.2f} {r['edujax_rate']:10.2e}"
              f" {r['vs_python_loop']:10.0f} {numpy_ratio} {share}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"device": f"{device.platform}: {device.device_kind}", "devices": jax.device_count(),
              "jax_version": jax.__version__, "matmul_peak_flops": peak, "workloads": rows}
    atomic_write(out / "benchmark.json", lambda f: f.write(json.dumps(report, indent=2).encode()))
    chart(rows, out / "benchmark.png")
    print(f"wrote {out}/benchmark.json and {out}/benchmark.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
