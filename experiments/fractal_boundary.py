"""The boundary of neural network trainability is fractal (Sohl-Dickstein, 2024).

The network has one hidden layer of width n = 8 in mean-field
parameterization: on an input x ∈ ℝⁿ it computes

    z = W x / √n,    a = φ(z),    f(x) = v · a / n,

with W (n × n) and v (n) drawn once from N(0, 1). The nonlinearity φ is
tanh(√2 z), √2·relu(z) or the identity (a two-layer linear network). The data are
random too: inputs and targets drawn from N(0, 1), as many samples as the
network has parameters (n² + n = 72), or n = 8 for the linear network, whose
function has only n free numbers. The loss is the mean squared error over
that whole batch, and training is plain full-batch gradient descent with one
learning rate per layer:

    W ← W − η_in ∂L/∂W,    v ← v − η_out ∂L/∂v.

Grid: input-layer learning rate η_in × output-layer learning rate η_out, both
on log axes from 10⁻³ to 10⁶ (the paper's window; the mean-field scaling
makes the gradients small, hence the large rates), one panel per
nonlinearity, 100 steps from the same start for every cell.

What to expect. Small learning rates train (the loss falls), large ones blow
up, and the border between the two is not a line: every learning-rate pair
iterates the same nonlinear map, like the points of a Mandelbrot picture,
and whether the iteration stays bounded depends on the pair at every scale.
`boundary.png` shows the continuous measure of each cell (blue: the loss
fell, red: it grew or blew up; see `edujax.fractal`). At this scale much of
the border looks smooth, but parts of it fray: for tanh along the top of
the blue region, for ReLU and the linear network where the input-layer rate
gets large. `python -m edujax zoom fractal_boundary --x64` magnifies one
frayed stretch frame after frame, and it does not smooth out. Even the
linear network, whose loss is a quartic polynomial of its weights, has a
fractal border. `dimension.png` measures each map's border by box counting:
1 for a smooth curve, 2 for one that fills the plane; the paper found
1.17–1.98 in zooms across its conditions.

The outcome map judges the loss against f* = 0. The mean squared error is
never negative, and the linear network reaches 0 (it computes u · x with
u = Wᵀv / n^1.5, and 8 numbers fit 8 samples in ℝ⁸ exactly: ≈ 1e-30 after
20,000 float64 steps at good rates).
Whether the tanh and ReLU networks can is not known: at the best rates tanh
was still descending at 0.004 after 20,000 steps, ReLU stopped near 0.1. After
100 steps most runs that did not blow up are `slow`, still descending; the
`oscillating` ones sit at the border, bounded but not settling.

Width 8 rather than the paper's 16 and 100 steps rather than 500–1000 keep
this default sweep within about half a minute on a 2-core CPU.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax

import edujax as ej

WIDTH = 8
NONLINEARITIES = ("tanh", "relu", "identity")
#: Samples per nonlinearity: as many as the network has parameters (n² + n),
#: or n for the linear network (the paper's rule, with one target per sample).
SAMPLES = {"tanh": WIDTH * WIDTH + WIDTH, "relu": WIDTH * WIDTH + WIDTH, "identity": WIDTH}
MAX_SAMPLES = max(SAMPLES.values())

#: The data and the start, drawn once (float64; each run computes in its own precision).
_rng = np.random.default_rng(0)
X = _rng.standard_normal((MAX_SAMPLES, WIDTH))  # inputs, one per row; the linear network uses the first 8
Y = _rng.standard_normal(MAX_SAMPLES)  # targets
W_START = _rng.standard_normal((WIDTH, WIDTH))  # input layer: row j holds the weights into hidden unit j
V_START = _rng.standard_normal(WIDTH)  # output layer


def activation(index, z):
    """φ(z) for the swept nonlinearity: tanh(√2 z), √2·relu(z) or z."""
    return jax.lax.switch(index, [lambda z: jnp.tanh(np.sqrt(2) * z), lambda z: np.sqrt(2) * jax.nn.relu(z),
                                  lambda z: z], z)


def mse(params, hparams):
    """Mean squared error over the nonlinearity's samples.

    The hidden layer is computed as W Xᵀ (hidden unit × sample): every run
    multiplies its own W by the same Xᵀ, so across a batch of runs the first
    layer's forward and weight-gradient products are each one large matrix
    product.
    """
    dtype = params["input"].dtype
    index = hparams["nonlinearity"]
    hidden = activation(index, params["input"] @ jnp.asarray(X.T, dtype) / np.sqrt(WIDTH))
    residual = params["output"] @ hidden / WIDTH - jnp.asarray(Y, dtype)
    samples = jnp.asarray([SAMPLES[name] for name in NONLINEARITIES])[index]
    used = jnp.arange(MAX_SAMPLES) < samples  # the linear network's 8 samples; the rest weigh nothing
    return jnp.sum(jnp.where(used, residual, 0) ** 2) / samples


def start(key, hparams):
    """The same start for every cell, in the precision of the run's hyperparameters."""
    dtype = hparams["input_lr"].dtype
    return {"input": jnp.asarray(W_START, dtype), "output": jnp.asarray(V_START, dtype)}


def per_layer_sgd(hparams):
    """Gradient descent with the input layer's and the output layer's own learning rates."""
    return optax.multi_transform(
        {"input": optax.sgd(hparams["input_lr"]), "output": optax.sgd(hparams["output_lr"])},
        {"input": "input", "output": "output"},
    )


experiment = ej.minimize(
    name="fractal_boundary",
    description="A width-8 network, gradient descent with one learning rate per layer: input-layer × output-layer "
                "learning rate × nonlinearity. The boundary between training and blowing up is fractal.",
    loss=mse,
    params=start,
    optimizer=per_layer_sgd,
    grid=ej.Grid(
        ej.logspace("input_lr", 1e-3, 1e6, 256, label="input-layer learning rate"),
        ej.logspace("output_lr", 1e-3, 1e6, 256, label="output-layer learning rate"),
        ej.choice("nonlinearity", NONLINEARITIES),
    ),
    steps=100,
    global_min=0.0,
    figures=ej.boundary_figures(facet="nonlinearity"),
)
