"""Benchmark: the MLP sweep as one vmapped call vs the same runs one at a time.

    PYTHONPATH=. python benchmarks/mlp.py [--lrs 16] [--seeds 6] [--steps 500]

Throughput is settings × steps per second of training (compile excluded, both
ways); achieved FLOP/s counts XLA's cost analysis of one training step of one
setting times settings × steps, so both ways are credited the same work.
"""
from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

import edujax as ej
from edujax import registry
from edujax.runner import hparam_columns, replay


def step_flops(experiment, hparams) -> float:
    """FLOPs of one training step of one setting, by XLA's cost analysis."""
    state = experiment.init(jax.random.key(0), hparams)
    cost = jax.jit(experiment.step).lower(state, hparams).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def benchmark(lrs: int = 16, seeds: int = 6, steps: int = 500) -> dict:
    experiment = registry.load("mlp_regression")
    grid = experiment.grid.replace(ej.logspace("learning_rate", 1e-4, 1.0, lrs)).replace(
        ej.Axis("seed", np.arange(seeds, dtype=np.int32), "linear"))
    settings = grid.size

    ej.sweep(experiment, grid, steps)  # compile (cached for the timed call)
    swept = ej.sweep(experiment, grid, steps).info["run_s"]

    columns = hparam_columns(experiment, grid)
    rows = [{name: col[i] for name, col in columns.items()} for i in range(settings)]
    alone = jax.jit(lambda hparams: replay(experiment, hparams, steps)[1]["loss"])
    jax.block_until_ready(alone(rows[0]))  # compile
    start = time.perf_counter()
    for row in rows:
        jax.block_until_ready(alone(row))
    one_by_one = time.perf_counter() - start

    flops = step_flops(experiment, rows[0]) * settings * steps
    work = settings * steps
    return {
        "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        "settings": settings, "steps": steps, "flops_per_step": flops / work,
        "sweep": {"seconds": swept, "settings_steps_per_s": work / swept, "flop_per_s": flops / swept},
        "one_at_a_time": {"seconds": one_by_one, "settings_steps_per_s": work / one_by_one, "flop_per_s": flops / one_by_one},
        "speedup": one_by_one / swept,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(benchmark(args.lrs, args.seeds, args.steps), indent=2))
