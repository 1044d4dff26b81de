"""How to sweep the batch size: one executable that masks the largest batch, or one executable per batch size?

Both train the same runs (`experiments/sgd_batch_size.py`'s problem: learning rate × batch size × seeds):
- masked: one sweep whose grid has a batch_size axis; every step draws and evaluates B_max examples and
  averages the first B, so one compile serves every batch size and each step costs B_max examples;
- per batch size: one sweep per batch size, each built for its own B (B_max = B): a compile each, and each
  step costs B examples.

Run: `python benchmarks/batch_axis.py` (prints compile and run seconds of both, and their ratio).
"""
import sys
import time

import jax.numpy as jnp
import optax

import edujax as ej
from edujax.app import registry

STEPS, RECORDS = 1000, 25


def experiment(sizes, batch_size=None):
    problem = registry.load("sgd_batch_size")
    module = sys.modules[problem.figures.__module__]  # the experiment module: its data and loss
    axes = [ej.logspace("learning_rate", 1e-3, 4.0, 40), ej.seeds(4)]
    if batch_size is None:
        axes.insert(1, ej.values("batch_size", sizes, scale="log"))
    return ej.minimize(name="batch_axis", loss=module.loss, params=lambda key, h: jnp.zeros(module.D),
                       optimizer=lambda h: optax.sgd(h["learning_rate"]),
                       data=(module.X.astype("float32"), module.Y.astype("float32")), batch_size=batch_size,
                       grid=ej.Grid(*axes), steps=STEPS, records=RECORDS, global_min=module.F_STAR)


def timed(sweeps):
    compile_s = run_s = 0.0
    started = time.perf_counter()
    for exp in sweeps:
        result = ej.sweep(exp, examples_per_outcome=0)
        compile_s += result.info["compile_s"]
        run_s += result.info["run_s"]
    return compile_s, run_s, time.perf_counter() - started


def main():
    sizes = tuple(2**k for k in range(9))
    masked = timed([experiment(sizes)])
    separate = timed([experiment(sizes, batch_size=b) for b in sizes])
    print(f"{len(sizes)} batch sizes × 40 learning rates × 4 seeds, {STEPS} steps")
    for name, (c, r, w) in (("masked (one executable)", masked), ("one executable per batch size", separate)):
        print(f"  {name:32s} compile {c:6.2f} s   run {r:6.2f} s   wall {w:6.2f} s")
    print(f"  per batch size / masked: compile {separate[0] / masked[0]:.2f}x, run {separate[1] / masked[1]:.2f}x, "
          f"wall {separate[2] / masked[2]:.2f}x")


if __name__ == "__main__":
    main()
