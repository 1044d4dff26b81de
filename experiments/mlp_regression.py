"""A small neural network fits a curve: SGD or Adam, and which learning rates?

The model is a Flax NNX multilayer perceptron 1 → 32 → 32 → 1 with tanh
activations (1,153 parameters), fitted to 64 noise-free samples of
f(x) = sin(3x) + x²/4 on [−2, 2] by full-batch training on the mean squared
error. The loss is not convex, but it can be made as small as we like, so the
classifier measures it against f* = 0 and calls a run converged once the loss
falls below 0.1% of where it started (`rtol=1e-3`) and stays there.

- SGD: like gradient descent on any smooth loss, it is stable only below
  2/λ_max of the loss's curvature along the way, which here changes with the
  seed and during training; below that edge, small learning rates are slow.
- Adam divides every step by a running gradient scale, so its steps have
  roughly the size lr whatever the curvature: it converges over a range of
  small learning rates (≈ 3·10⁻³…5·10⁻²); large ones mostly make it
  oscillate, and a few of them park the network in a local minimum (the
  gradient vanishes above f* = 0: saturated tanh units) or blow it up.

Grid: learning rate (log) × init seed (drawn on the heatmap: the network's
random initial weights) × optimizer. The whole grid is one compiled call:
`nnx.split` separates the network's structure (static) from its weights
(a pytree), each run builds its own weights from its seed inside the traced
`init`, and `nnx.merge` rebuilds the network inside the loss.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import edujax as ej

X = np.linspace(-2.0, 2.0, 64, dtype=np.float32)[:, None]
Y = np.sin(3 * X) + X**2 / 4  # not odd: an odd target would leave some bias gradients at exactly 0
OPTIMIZERS = ("sgd", "adam")


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs, width: int = 32):
        self.hidden1 = nnx.Linear(1, width, rngs=rngs)
        self.hidden2 = nnx.Linear(width, width, rngs=rngs)
        self.out = nnx.Linear(width, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden2(jnp.tanh(self.hidden1(x)))))


GRAPHDEF, _ = nnx.split(MLP(nnx.Rngs(0)))  # the structure, shared by every run


def weights(key, hparams):
    """A fresh network for this run's seed; only its weights (an nnx.State pytree) are kept."""
    return nnx.split(MLP(nnx.Rngs(key)))[1]


def predict(state, x):
    return nnx.merge(GRAPHDEF, state)(x)


def mse(state, hparams):
    return jnp.mean((predict(state, X) - Y) ** 2)


def sgd_or_adam(hparams):
    """The optimizer named by the `optimizer` column, chosen inside the compiled sweep."""
    return ej.switch(hparams["optimizer"], (optax.sgd(hparams["learning_rate"]), optax.adam(hparams["learning_rate"])))


def draw_fits(result, out_dir):
    """`figures=` hook: the curves that representative runs ended with, from the sweep's own final weights."""
    from matplotlib.figure import Figure

    final_weights = result.examples["state"][0]  # a `minimize` state is (parameters, optimizer state)
    grid_x = np.linspace(-2.2, 2.2, 200, dtype=np.float32)[:, None]
    fitted = np.asarray(jax.vmap(predict, in_axes=(0, None))(final_weights, grid_x))
    present = [code for code in range(len(result.outcome_names)) if np.any(result.examples["outcome"] == code)]
    fig = Figure(figsize=(3.6 * len(present), 3.6), layout="constrained")
    for ax, code in zip(fig.subplots(1, len(present), squeeze=False)[0], present):
        ax.plot(grid_x, np.sin(3 * grid_x) + grid_x**2 / 4, "--", color="grey", lw=1, label="sin(3x) + x²/4")
        ax.scatter(X, Y, s=6, color="black", zorder=3)
        for row in np.flatnonzero(result.examples["outcome"] == code):
            index = int(result.examples["index"][row])
            ax.plot(grid_x, fitted[row], lw=1.5, label=ej.describe_setting(result, index))
        outcome = result.outcome_names[code]
        ax.set_title(outcome, color=result.outcome_colors[outcome], fontweight="bold")
        ax.set_ylim(-2.5, 2.5)
        ax.set_xlabel("x")
        ax.legend(fontsize=6, loc="lower right")
    fig.suptitle(f"{result.experiment}: the curve each representative run has fitted after {result.steps} steps"
                 " (diverged runs have no curve left)", fontsize=11)
    fig.savefig(out_dir / "fits.png", dpi=120)
    return {"fits.png": "The curves fitted by representative runs of each outcome (the sweep's final weights), "
                        "over the data."}


experiment = ej.minimize(
    name="mlp_regression",
    description="Flax MLP (1-32-32-1, tanh) fitting sin(3x) + x²/4: learning rate × init seed, SGD vs Adam.",
    loss=mse,
    params=weights,
    optimizer=sgd_or_adam,
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-4, 10.0, 32, label="learning rate"),
        # A seed axis drawn on the heatmap (scale "linear"), instead of aggregated like ej.seeds.
        ej.Axis("seed", np.arange(12, dtype=np.int32), "linear", label="init seed"),
        ej.choice("optimizer", OPTIMIZERS, label="optimizer"),
    ),
    steps=1000,
    global_min=0.0,
    criteria=ej.Criteria(rtol=1e-3),
    figures=draw_fits,
)
