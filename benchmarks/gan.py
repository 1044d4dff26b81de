"""Benchmark: the ring-GAN sweep as one vmapped call vs the same runs one at a time.

Both sides run the engine's own training loop (`runner.run_one`: init, then a
`lax.scan` over the steps) compiled once; compile time is excluded from both.
The sweep vmaps all grid points into one executable; the baseline jits the
single-run loop and calls it once per grid point. Reported: runs × steps per
second. Usage: `python benchmarks/gan.py [--steps N] [--side K] [--seeds S]`.
"""
from __future__ import annotations

import argparse
import json
import time

import jax

import edujax as ej
from edujax import registry, runner


def benchmark(steps: int = 500, side: int = 4, seeds: int = 2) -> dict:
    experiment = registry.load("gan_ring")
    grid = ej.Grid(ej.logspace("lr_g", 5e-4, 5e-2, side), ej.logspace("lr_d", 5e-4, 5e-2, side), ej.seeds(seeds))
    columns = runner.hparam_columns(experiment, grid)
    plan = runner.RecordPlan.make(steps, 50)
    key = jax.random.key(0)

    runner._run_chunks(experiment, plan, columns, 0, None)  # compile (cached for the timed call)
    _, _, sweep_s = runner._run_chunks(experiment, plan, columns, 0, None)

    single = jax.jit(runner.run_one(experiment, plan))
    rows = [{name: col[i] for name, col in columns.items()} for i in range(grid.size)]
    jax.block_until_ready(single(rows[0], key))  # compile
    start = time.perf_counter()
    for row in rows:
        jax.block_until_ready(single(row, key))
    alone_s = time.perf_counter() - start

    work = grid.size * steps
    return {
        "experiment": experiment.name, "runs": grid.size, "steps": steps, "device": str(jax.devices()[0]),
        "sweep_runs_steps_per_s": work / sweep_s, "one_at_a_time_runs_steps_per_s": work / alone_s,
        "speedup": alone_s / sweep_s,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--side", type=int, default=4, help="learning rates per axis")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(benchmark(args.steps, args.side, args.seeds), indent=2))
