"""The edge of stability: full-batch training drives the sharpness up to 2/lr, and no further.

On a quadratic, gradient descent with learning rate lr is stable iff the
*sharpness* λ_max (the largest eigenvalue of the loss's Hessian) is below
2/lr: along that eigenvector every step multiplies the error by 1 − lr·λ_max,
and |1 − lr·λ_max| > 1 makes it grow. A network's Hessian changes as it
trains, so there the line is not known in advance. Cohen, Kaur, Li, Kolter &
Talwalkar (ICLR 2021, "Gradient Descent on Neural Networks Typically Occurs
at the Edge of Stability") measured the sharpness along full-batch training
and found two things:

- **Progressive sharpening.** While the sharpness is below 2/lr, it rises as
  training goes on: the network moves towards sharper regions of the loss.
  With a small learning rate 2/lr is far away and the run never gets there;
  with a larger one it does.
- **Self-stabilization.** When the sharpness reaches 2/lr the run does not
  blow up. The iterate starts to bounce across the valley along the top
  eigenvector, the loss jumps up for a few steps, and the bouncing itself
  carries the run to flatter ground (Damian, Nichani & Lee, ICLR 2023),
  pushing the sharpness back to 2/lr. So it hovers there, sharpness·lr/2 ≈ 1,
  while the loss keeps falling over the long run, but not monotonically: the
  *edge of stability*.

Other optimizers have their own limit. Heavy-ball momentum
(v ← g + βv, θ ← θ − lr·v) is stable on a quadratic iff
λ_max < 2(1 + β)/lr. Adam divides each coordinate's step by P = √v̂ + ε, so
what it feels is the *preconditioned sharpness* λ_max(P⁻¹H); with momentum
β₁ (an average of the gradients, not a sum) its limit is
(2 + 2β₁)/((1 − β₁)·lr) = 38/lr for β₁ = 0.9 (Cohen et al. 2022, "Adaptive
Gradient Methods at the Edge of Stability").

The problem: a tanh MLP 1 → 16 → 16 → 1 (321 weights, LeCun-normal
initialisation, zero biases) fits 64 samples of f(x) = sin(3x) + x²/4 on
[−2, 2] (the task of `mlp_regression`) by full-batch training on the mean
squared error. Grid: learning rate (log, 10⁻³ … 1) × init seed × optimizer
(gradient descent, heavy ball with β = 0.9, Adam with β₁ = 0.9,
β₂ = 0.999), 1500 steps. Outcomes are judged against f* = 0 with
`rtol=1e-3`, as in `mlp_regression`.

What to expect. Gradient descent: below lr ≈ 0.04 the sharpness climbs
(from about 15 at the start to about 30) but stays under 2/lr, and the runs
are slow; from there to the learning rates that diverge at once, it reaches
2/lr and hovers a few per cent above it. The classifier calls those runs
`oscillating` where the envelope of their loss has stopped shrinking, and
`slow` where it still shrinks. Heavy ball touches its limit early, is thrown
off it by a spike of the loss (a catapult), and then converges with its
sharpness between about a third of the limit and the limit. Adam's P adapts
as the curvature grows: its preconditioned sharpness climbs to 38/lr and
stays there at every learning rate large enough to get there in 1500 steps.

The sharpness is measured inside the compiled sweep every 20 steps
(`ej.Sharpness`): power iteration on Hessian-vector products
(forward-over-reverse differentiation, never forming the Hessian), each
estimate warm-started from the previous eigenvector, so 4 products per
estimate keep up; for Adam through its current preconditioner.
`sharpness.png` draws it against the step for several learning rates, each
with its limit as a dashed line; `edge_map.png` maps every run's final
sharpness over its optimizer's limit, ≈ 1 where training ended at the edge.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax

import edujax as ej

WIDTH = 16
OPTIMIZERS = ("gd", "momentum", "adam")
ADAM = OPTIMIZERS.index("adam")
BETA = 0.9  # heavy ball's β and Adam's β₁

#: The sharpness each optimizer is stable below, times the learning rate: 2, 2(1 + β), (2 + 2β₁)/(1 − β₁).
EDGE = np.array([2.0, 2 * (1 + BETA), (2 + 2 * BETA) / (1 - BETA)])
EDGE_NAMES = ("2/lr", "2(1+β)/lr", "38/lr")


def weights(key, hparams):
    """[(W₁, b₁), (W₂, b₂), (W₃, b₃)]: LeCun-normal weights (variance 1/fan-in), zero biases."""
    return ej.regression.lecun_layers(key, (1, WIDTH, WIDTH, 1))


def optimizer(hparams):
    """Gradient descent, heavy ball or Adam, picked by the traced `optimizer` index."""
    lr = hparams["learning_rate"]
    return ej.switch(hparams["optimizer"], (optax.sgd(lr), optax.sgd(lr, momentum=BETA), optax.adam(lr, b1=BETA)))


def preconditioner(opt_state, hparams):
    """Adam's P = √v̂ + ε for Adam runs, the identity (no preconditioning) for the others."""
    adam = ej.adam_preconditioner(opt_state)  # NaN for runs that never update Adam's state; discarded
    return jax.tree.map(lambda p: jnp.where(hparams["optimizer"] == ADAM, p, 1.0), adam)


#: Re-estimated every 20 steps with 4 Hessian-vector products, warm-started (20 for the first estimate).
SHARPNESS = ej.Sharpness(every=20, iters=4, first_iters=20, preconditioner=preconditioner)


def edge_ratio(result, sharpness=None):
    """Sharpness over its optimizer's limit: ≈ 1 at the edge of stability. By default the recorded sharpness
    of the traced runs (`result.trace_index`: every run unless the host budget was short), traced sub-grid +
    (records,); given a grid-shaped `sharpness` (e.g. `result.final["sharpness"]`), that over every run."""
    lr, opt = result.hparams["learning_rate"].astype(np.float64), result.hparams["optimizer"]
    if sharpness is not None:
        return sharpness * lr / EDGE[opt]
    return result.records["sharpness"] * result.traced(lr / EDGE[opt])[..., None]


def reached_edge(ratio):
    """Runs that reached the edge: finite at the end, and within 10% of the limit at some record after the start."""
    later = np.where(np.isfinite(ratio[..., 1:]), ratio[..., 1:], 0.0)
    return np.isfinite(ratio[..., -1]) & (later.max(-1) >= 0.9)


def edge_summary(result) -> dict:
    """Per optimizer, over the traced runs that reached the edge: how many, and their final sharpness over
    the limit."""
    ratio = edge_ratio(result)
    final, reached = ratio[..., -1], reached_edge(ratio)
    opt, summary = result.traced(result.hparams["optimizer"]), {}
    for index in np.unique(opt):
        runs = final[reached & (opt == index)]
        summary[OPTIMIZERS[index]] = {
            "limit": EDGE_NAMES[index], "runs": int((opt == index).sum()), "reached_edge": int(runs.size),
            **({"median": float(np.median(runs)), "min": float(runs.min()), "max": float(runs.max())}
               if runs.size else {}),
        }
    return summary


def drawn_runs(ratio):
    """Learning-rate indices to draw for one optimizer and seed (`ratio`: lr × records): up to three that
    reached the edge (at its quartiles when there are many) and the largest one below those that did not."""
    reached, finite = reached_edge(ratio), np.isfinite(ratio[:, -1])
    edge = np.flatnonzero(reached)
    quantiles = (0.25, 0.5, 0.75) if len(edge) > 4 else np.linspace(0, 1, min(3, len(edge)))
    picks = list(np.unique(edge[(np.asarray(quantiles) * (len(edge) - 1)).round().astype(int)]))
    below = np.flatnonzero(finite & ~reached & (np.arange(len(ratio)) < min(picks, default=len(ratio))))
    return ([below[-1]] if below.size else []) + picks


def draw(result, out_dir):
    """`figures=` hook: sharpness curves and the final-sharpness map, from the sweep's own records."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from edujax.plots import edges

    names = [a.name for a in result.axes]
    order = tuple(names.index(n) for n in ("learning_rate", "seed", "optimizer"))

    def lr_seed_optimizer(array):  # the grid's axes in this order (then the records, if any)
        return np.moveaxis(array, order, (0, 1, 2))

    # The curves: the traced runs (every run unless the host budget was short).
    traced = dict(zip(names, result.trace_index))
    lrs = result.grid.axis("learning_rate").values.astype(np.float64)[traced["learning_rate"]]
    optimizers = result.grid.axis("optimizer").values[traced["optimizer"]]
    seed = result.grid.axis("seed").values[traced["seed"][0]]
    sharp, loss, ratio = (lr_seed_optimizer(a) for a in (result.records["sharpness"], result.loss, edge_ratio(result)))
    steps = result.record_steps

    fig = Figure(figsize=(4.2 * len(optimizers), 6.4), layout="constrained")
    panels = fig.subplots(2, len(optimizers), squeeze=False, sharex=True)
    for column, index in enumerate(optimizers):
        top, bottom = panels[0, column], panels[1, column]
        for color, i in enumerate(drawn_runs(ratio[:, 0, column])):
            top.plot(steps, sharp[i, 0, column], color=f"C{color}", lw=1.5, label=f"lr = {lrs[i]:.3g}")
            top.axhline(EDGE[index] / lrs[i], color=f"C{color}", ls="--", lw=1)
            bottom.plot(steps, loss[i, 0, column], color=f"C{color}", lw=1.2)
        top.set_yscale("log")
        top.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        top.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        top.yaxis.set_minor_formatter(NullFormatter())
        top.set_title(f"{OPTIMIZERS[index]}: {'preconditioned ' if index == ADAM else ''}sharpness,"
                      f" dashed {EDGE_NAMES[index]}", fontsize=10)
        top.legend(fontsize=7, loc="lower right")
        bottom.set_yscale("log")
        bottom.set_xlabel("step")
    panels[0, 0].set_ylabel("sharpness λ_max (log)")
    panels[1, 0].set_ylabel("loss at the record points (log)")
    fig.suptitle(f"{result.experiment}: the sharpness rises to its limit and hovers there (init seed {seed};"
                 f" measured every {SHARPNESS.every} steps, drawn every {steps[1] - steps[0]})", fontsize=11)
    fig.savefig(out_dir / "sharpness.png", dpi=120)

    # The map: every run's final sharpness.
    final = lr_seed_optimizer(edge_ratio(result, result.final["sharpness"]))
    optimizers, seeds = result.grid.axis("optimizer").values, result.grid.axis("seed").values
    summary = edge_summary(result)
    fig = Figure(figsize=(4.2 * len(optimizers) + 1, 3.8), layout="constrained")
    panels = fig.subplots(1, len(optimizers), squeeze=False)[0]
    norm = TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=2.0)
    for column, (ax, index) in enumerate(zip(panels, optimizers)):
        ax.set_facecolor("0.6")  # diverged runs: no sharpness left
        mesh = ax.pcolormesh(edges(result.grid.axis("learning_rate"))[1], edges(result.grid.axis("seed"))[1],
                             final[:, :, column].T, cmap="RdBu_r", norm=norm)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        stats = summary.get(OPTIMIZERS[index], {})
        note = f"at the edge: median {stats['median']:.2f}" if "median" in stats else "no run reached the edge"
        ax.set_title(f"{OPTIMIZERS[index]}: λ·lr/{EDGE[index]:.3g} ({note})", fontsize=9)
    panels[0].set_ylabel("init seed")
    for ax in panels:
        ax.set_yticks(seeds)
    fig.colorbar(mesh, ax=panels, label="final sharpness / its limit (grey: diverged)")
    fig.suptitle(f"{result.experiment}: final sharpness over each optimizer's limit after {result.steps} steps",
                 fontsize=11)
    fig.savefig(out_dir / "edge_map.png", dpi=120)

    measured = "; ".join(f"{name} ({s['limit']}): {s['reached_edge']} of {s['runs']} runs reached the edge, final ratio"
                         f" median {s['median']:.3f} (range {s['min']:.3f}–{s['max']:.3f})" if s["reached_edge"]
                         else f"{name}: no run reached the edge" for name, s in summary.items())
    return {
        "sharpness.png": "Sharpness (top Hessian eigenvalue; Adam: preconditioned) against the step for several"
                         " learning rates, each with its optimizer's limit dashed; below, the loss.",
        "edge_map.png": "Final sharpness over each optimizer's limit for every run (1: at the edge of stability)."
                        f" Measured: {measured}.",
    }


def make(sharpness=SHARPNESS):
    """The experiment; `make(sharpness=None)` is the same sweep without measuring the sharpness (`make bench`)."""
    return ej.minimize(
        name="edge_of_stability",
        description="Tanh MLP fitting sin(3x) + x²/4: the sharpness rises to 2/lr (GD), 2(1+β)/lr (momentum),"
                    " 38/lr (Adam, preconditioned) and hovers there.",
        loss=ej.regression.curve_mse,
        params=weights,
        optimizer=optimizer,
        sharpness=sharpness,
        grid=ej.Grid(
            ej.logspace("learning_rate", 1e-3, 1.0, 21, label="learning rate"),  # 252 runs: 256 is the padded batch
            ej.Axis("seed", np.arange(4, dtype=np.int32), "linear", label="init seed"),
            ej.choice("optimizer", OPTIMIZERS, label="optimizer"),
        ),
        steps=1500,
        global_min=0.0,
        criteria=ej.Criteria(rtol=1e-3),
        figures=draw if sharpness is not None else None,
    )


experiment = make()
