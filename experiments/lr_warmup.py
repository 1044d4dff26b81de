"""Learning-rate warmup: how long to warm up, and how high a peak it buys.

Practitioners rarely train with one constant learning rate: they start small,
raise it linearly to a *peak* over the first *warmup* steps, then let it decay
(here a cosine down to 0 at the last step, `ej.schedules.warmup_cosine`, the
same values as `optax.warmup_cosine_decay_schedule`):

    lr(t) = peak·t/warmup                                   for t < warmup,
    lr(t) = peak·½(1 + cos(π·(t − warmup)/(T − warmup)))    after, T = 1000 steps.

The network is a small multilayer perceptron 1 → 32 → 32 → 1 with tanh
activations (1,153 parameters, plain JAX arrays, LeCun-normal weights from the
grid point's seed), fitted to 64 samples of f(x) = sin(3x) + x²/4 on [−2, 2]
by full-batch Adam on the mean squared error. As in `mlp_regression`, a run
is `converged` once the loss fell below 0.1% of where it started
(`rtol=1e-3`) and stayed there.

What to expect, and why:

- **Without warmup** (the bottom row) Adam's first steps have size ≈ peak in
  *every* weight at once, since it divides each gradient by its own running
  scale. From random weights, a large peak throws the tanh units into
  saturation within a few steps, where their gradients nearly vanish: the run
  crawls (`slow`) or ends at a stationary point above a good fit
  (`local_min`, purple). With this network's seed,
  after 20 steps at peak 0.1 about 65% of the second layer's pre-activations
  exceed 2.5 in size, against 10% after a 50-step warmup; only peaks up to
  about 0.03 converge.
- **With a short warmup** the first steps are small while the weights organise
  themselves, and peaks over ten times larger converge (up to ≈ 0.5).
- **The price**: warmup and decay spend steps at small learning rates. With a
  small peak a long warmup leaves too few good steps, and the runs are `slow`:
  the left edge of the green region moves right as the warmup grows.
- Peaks above ≈ 0.6 fail whatever the warmup: at the top of the ramp the steps
  are too large for any part of the landscape, the units saturate anyway, and
  the runs end at such stationary points too (`local_min`) or stop with a
  gradient that has not vanished as the schedule's learning rate decays to 0
  (`stalled`, grey).

`schedules.png` draws the learning rate each representative run used (recorded
every step by a `metrics` function that takes the step count) above its loss.

Grid: peak learning rate (log) × warmup steps (0 … 500 of the 1000), one
network seed. The whole grid is one compiled sweep: `peak` and `warmup` are
traced hyperparameters, which `optax.warmup_cosine_decay_schedule` cannot take
(it branches in Python on `peak_value == 0`); `ej.schedules` computes the same
schedule from traced values.
"""
import numpy as np
import optax

import edujax as ej

SIZES = (1, 32, 32, 1)
STEPS = 1000


def network(key, hparams):
    """LeCun-normal weights and zero biases, one (w, b) pair per layer: the parameters are a list of arrays."""
    return ej.regression.lecun_layers(key, SIZES)


def schedule(hparams):
    """Linear warmup to the peak, cosine decay to 0 at the last step; both swept values are traced."""
    return ej.schedules.warmup_cosine(peak=hparams["peak_lr"], warmup=hparams["warmup"], total=STEPS)


def learning_rate(params, hparams, step):
    """Recorded every step: the learning rate the schedule gives at this step."""
    return {"lr": schedule(hparams)(step)}


def draw_schedules(result, out_dir):
    """`figures=` hook: each representative run's learning rate (recorded every step) above its loss."""
    from matplotlib.figure import Figure

    examples, names = result.examples, result.outcome_names
    steps = examples.get("step", np.arange(examples["loss"].shape[-1]))
    fig = Figure(figsize=(7.5, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for row, flat in enumerate(examples["index"]):
        outcome = names[examples["outcome"][row]]
        peak, warmup = (float(result.hparams[name].ravel()[flat]) for name in ("peak_lr", "warmup"))
        label = f"peak {peak:.3g}, warmup {warmup:.0f} → {outcome}"
        line = top.plot(steps, examples["lr"][row], lw=1.2, label=label)[0]
        gap = np.abs(examples["loss"][row].astype(np.float64))
        bottom.plot(steps, np.where(np.isfinite(gap), np.maximum(gap, 1e-12), np.nan), lw=1.2, color=line.get_color())
    top.set_yscale("log")
    top.set_ylabel("learning rate")
    top.legend(fontsize=6, loc="lower center", ncols=2)
    bottom.set_yscale("log")
    bottom.set_ylabel("loss (mean squared error)")
    bottom.set_xlabel("step")
    fig.suptitle(f"{result.experiment}: the schedule each representative run followed, and its loss", fontsize=11)
    fig.savefig(out_dir / "schedules.png", dpi=120)
    return {"schedules.png": "The learning rate of representative runs, step by step (recorded by the sweep), "
                             "above their loss."}


experiment = ej.minimize(
    name="lr_warmup",
    description="Adam with linear warmup + cosine decay on a small MLP: peak learning rate × warmup steps.",
    loss=ej.regression.curve_mse,
    params=network,
    optimizer=lambda hparams: optax.adam(schedule(hparams)),
    metrics=learning_rate,
    grid=ej.Grid(
        ej.logspace("peak_lr", 1e-3, 3.0, 32, label="peak learning rate"),
        ej.linspace("warmup", 0.0, 500.0, 21, label="warmup steps"),
    ),
    steps=STEPS,
    global_min=0.0,
    criteria=ej.Criteria(rtol=1e-3),
    figures=draw_schedules,
)
