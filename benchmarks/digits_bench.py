"""The digits sweep in raw JAX, and its `make bench` row against scikit-learn's MLPClassifier.

`train_grid` trains a whole grid of `experiments/digits.py` (its data, network,
loss and optimizers, imported from the module) as one `jit(vmap(lax.scan))`:
every run draws its minibatches with replacement from its own key, the loss is
evaluated per example under `vmap` and masked to the run's `batch_size`, and
the full training loss, the test loss and the test accuracy are kept at
`records` evenly spaced points. It is the reference the minibatch runner of
`ej.minimize(data=...)` can be checked against, and how the experiment's
steps and learning-rate range were chosen.

`digits_row()` is the benchmark: SGD at batch 32, a sweep of learning rates ×
seeds, for `epochs` epochs (43 minibatches each), vmapped, against
`MLPClassifier(hidden_layer_sizes=(64,), solver="sgd", batch_size=32)` trained
one setting at a time for the same epochs and width (plain SGD and no L2
penalty, as here; early stopping off, so it runs every epoch). Both sides'
best held-out accuracy is returned with the rates: the same work, the same
answer.

    .venv/bin/python benchmarks/digits_bench.py            # the bench row
    .venv/bin/python benchmarks/digits_bench.py --grid     # the experiment's grid: accuracy and steps-to-95 % tables
"""
from __future__ import annotations

import argparse
import sys
import math
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from edujax.app import registry
from edujax.runner.sweep import hparam_columns
from edujax.runner.trace import setting_key

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench.py beside this script
from bench import grid_on_devices, time_best  # noqa: E402


def digits_module():
    return registry.load_module(registry.available()["digits"])


def train_grid(module, columns: dict, steps: int, records: int = 26, key=None):
    """Train every setting of `columns` (at least learning_rate, batch_size, optimizer, seed) for `steps` steps.

    Returns a function of no arguments, compiled on its first call, that returns
    {"loss", "eval_loss", "eval_accuracy"}, each (settings, records) — the value
    before the first step, then after every `steps // (records - 1)` steps.
    """
    n = len(next(iter(columns.values())))
    hparams = grid_on_devices(columns)  # padded and split over the devices as a sweep is
    train, test = (jax.tree.map(jnp.asarray, d) for d in (module.TRAIN, module.TEST))
    examples, largest = len(module.TRAIN["label"]), int(np.max(columns["batch_size"]))
    every = steps // (records - 1)
    key = jax.random.key(0) if key is None else key

    def measured(params, hparams):
        return (module.cross_entropy(params, hparams, train), module.cross_entropy(params, hparams, test),
                module.accuracy(params, hparams, test)["accuracy"])

    def run(hparams):
        init_key, data_key = jax.random.split(setting_key(key, hparams))
        params = module.weights(init_key, hparams)
        optimizer = module.sgd_or_adam(hparams)
        mask = (jnp.arange(largest) < hparams["batch_size"]).astype(jnp.float32)

        def minibatch_loss(params, rows):
            one = jax.vmap(lambda i: module.cross_entropy(params, hparams, jax.tree.map(lambda a: a[i, None], train)))
            return jnp.sum(one(rows) * mask) / hparams["batch_size"]

        def step(carry, t):
            params, opt_state = carry
            rows = jax.random.randint(jax.random.fold_in(data_key, t), (largest,), 0, examples)
            updates, opt_state = optimizer.update(jax.grad(minibatch_loss)(params, rows), opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        def window(carry, r):
            carry, _ = jax.lax.scan(step, carry, r * every + jnp.arange(every))
            return carry, measured(carry[0], hparams)

        start = measured(params, hparams)
        _, later = jax.lax.scan(window, (params, optimizer.init(params)), jnp.arange(records - 1))
        return jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]), start, later)

    compiled = jax.jit(jax.vmap(run))

    def result():
        loss, eval_loss, eval_accuracy = (np.asarray(a)[:n] for a in jax.block_until_ready(compiled(hparams)))
        return {"loss": loss, "eval_loss": eval_loss, "eval_accuracy": eval_accuracy}

    return result


def mlpclassifier(module, learning_rate: float, epochs: int, seed: int = 0, batch_size: int = 32):
    """scikit-learn's MLPClassifier on the module's split, as close to the sweep's SGD as it allows:
    returns (held-out accuracy, seconds to fit)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(module.WIDTH,), solver="sgd", batch_size=batch_size, max_iter=epochs,
                        learning_rate_init=learning_rate, momentum=0.0, alpha=0.0, n_iter_no_change=epochs + 1,
                        random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached": what we asked for
        clf.fit(module.TRAIN["image"], module.TRAIN["label"])
    seconds = time.perf_counter() - start
    return float(clf.score(module.TEST["image"], module.TEST["label"])), seconds


def digits_row(epochs: int = 20, learning_rates: int = 16, seeds: int = 4, sample: int = 3,
               repeats: int = 2) -> dict:
    """One `make bench` row: runs/s of the vmapped digits sweep (SGD, batch 32, `learning_rates` rates from
    10⁻² to 1 × `seeds` seeds, `epochs` epochs) against MLPClassifier one setting at a time (the same epochs
    and width; `sample` settings timed, spread over the learning rates)."""
    module = digits_module()
    batch = 32
    steps = epochs * math.ceil(len(module.TRAIN["label"]) / batch)  # MLPClassifier's minibatches per epoch
    rates = np.logspace(-2, 0, learning_rates).astype(np.float32)
    columns = {"learning_rate": np.repeat(rates, seeds), "seed": np.tile(np.arange(seeds, dtype=np.int32), len(rates)),
               "batch_size": np.full(len(rates) * seeds, batch, np.float32),
               "optimizer": np.zeros(len(rates) * seeds, np.int32)}  # 0: SGD
    settings = len(columns["seed"])
    run = train_grid(module, columns, steps)
    start = time.perf_counter()
    ours = run()  # compile (and a first run) outside the timing
    compile_s = time.perf_counter() - start
    sweep_s = time_best(run, repeats)
    picks = np.linspace(0, len(rates) - 1, sample).round().astype(int)
    theirs = [mlpclassifier(module, float(rates[i]), epochs) for i in picks]
    sklearn_s = float(np.mean([seconds for _, seconds in theirs]))
    ours_accuracy = ours["eval_accuracy"][:, -1].reshape(len(rates), seeds)[:, 0]  # seed 0 of each learning rate
    row = {
        "workload": "digits MLP (NNX) vs MLPClassifier", "experiment": "digits", "settings": settings,
        "steps": steps, "epochs": epochs, "batch_size": batch, "width": module.WIDTH,
        "compile_s": compile_s, "edujax_s": sweep_s, "edujax_rate": settings * steps / sweep_s,
        "runs_per_s": settings / sweep_s, "mlpclassifier_s_per_run": sklearn_s,
        "mlpclassifier_runs_per_s": 1 / sklearn_s, "vs_mlpclassifier": sklearn_s * settings / sweep_s,
        "learning_rates_compared": [float(rates[i]) for i in picks],
        "accuracy_ours": [float(ours_accuracy[i]) for i in picks],
        "accuracy_mlpclassifier": [accuracy for accuracy, _ in theirs],
        "best_accuracy_ours": float(np.max(ours["eval_accuracy"][:, -1])),
    }
    return row


def grid_tables(steps: int | None = None, target: float = 0.95) -> None:
    """Train the experiment's own grid and print, per optimizer and batch size, the mean final test accuracy
    and the median first step at which the test accuracy reached `target` (over seeds), per learning rate."""
    module = digits_module()
    experiment = module.experiment
    steps = steps or experiment.steps
    columns = hparam_columns(experiment, experiment.grid)
    run = train_grid(module, columns, steps)
    start = time.perf_counter()
    out = run()
    print(f"{experiment.grid.size} runs × {steps} steps: {time.perf_counter() - start:.1f} s with the compile")
    rates = experiment.grid.axis("learning_rate").values
    every = steps // (out["eval_accuracy"].shape[1] - 1)
    for title, value in (("final test accuracy (%), mean over seeds", lambda acc: f"{100 * acc[:, -1].mean():5.1f}"),
                         (f"first step at {100 * target:.0f} % test accuracy, median over seeds", None)):
        print(title)
        for o, name in enumerate(module.OPTIMIZERS):
            for b in module.BATCH_SIZES:
                cells = []
                for lr in rates:
                    sel = (columns["optimizer"] == o) & (columns["batch_size"] == b) & (columns["learning_rate"] == lr)
                    acc = out["eval_accuracy"][sel]
                    if value is not None:
                        cells.append(value(acc))
                        continue
                    hits = [np.argmax(a >= target) * every if np.any(a >= target) else np.nan for a in acc]
                    cells.append(f"{np.nanmedian(hits):5.0f}" if np.mean(np.isfinite(hits)) > 0.5 else "    —")
                print(f"{name:4s} B={b:3d} " + " ".join(cells))
    print("lr       " + " ".join(f"{lr:5.0e}" for lr in rates))
    best = int(np.argmax(out["eval_accuracy"][:, -1]))
    print(f"best run: {100 * out['eval_accuracy'][best, -1]:.1f} % at",
          {name: col[best].item() for name, col in columns.items()})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", action="store_true", help="train the experiment's grid and print its tables")
    parser.add_argument("--steps", type=int, help="with --grid: steps per run (default: the experiment's)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the bench row")
    args = parser.parse_args(argv)
    if args.grid:
        grid_tables(args.steps)
        return 0
    device = jax.devices()[0]
    row = digits_row(args.epochs)
    print(f"device: {device.platform} ({device.device_kind}), {jax.device_count()} device(s)")
    print(f"{row['settings']} settings × {row['epochs']} epochs ({row['steps']} steps of batch {row['batch_size']},"
          f" width {row['width']}): {row['runs_per_s']:.1f} runs/s vmapped (compile {row['compile_s']:.1f} s),"
          f" MLPClassifier {row['mlpclassifier_s_per_run']:.2f} s per run: {row['vs_mlpclassifier']:.1f}×")
    print("held-out accuracy at lr", row["learning_rates_compared"], "ours", row["accuracy_ours"],
          "MLPClassifier", row["accuracy_mlpclassifier"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
