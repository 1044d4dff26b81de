"""Gradient descent on an ill-conditioned bowl: which learning rates converge?

The loss is f(x, y) = ½ (λ₁ x² + λ₂ y²). Gradient descent multiplies each
coordinate by (1 − lr·λᵢ) every step, so the run is stable iff
|1 − lr·λᵢ| < 1 for every i, i.e. lr < 2 / λ_max. Below that limit the
slow direction (λ_min) sets the pace: with a tiny learning rate 500 steps
are not enough ("slow"). Above it the steep direction explodes ("diverged"),
unless the start has no component along it at all (the bottom row, θ = 0).

Grid: learning rate (log) × where the run starts, on a circle of radius 5
around the minimum at angle θ (θ = 0: along the flat x axis, θ = 90°:
along the steep y axis).
"""
import jax.numpy as jnp
import optax

import edujax as ej

EIGENVALUES = (1.0, 10.0)  # λ₁ (the flat x direction), λ₂ (the steep y direction)
RADIUS = 5.0


def loss(params, hparams):
    x, y = params
    return 0.5 * (EIGENVALUES[0] * x**2 + EIGENVALUES[1] * y**2)


def start(key, hparams):
    angle = jnp.deg2rad(hparams["start_angle"])
    return RADIUS * jnp.cos(angle), RADIUS * jnp.sin(angle)


experiment = ej.minimize(
    name="quadratic",
    description="Gradient descent on ½(x² + 10y²): learning rate × start direction.",
    loss=loss,
    params=start,
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-4, 1.0, 256, label="learning rate"),
        ej.linspace("start_angle", 0.0, 90.0, 256, label="start angle θ (degrees)"),
    ),
    steps=500,
    global_min=0.0,
    boundaries=(ej.Boundary("lr = 2 / λ_max", "learning_rate", lambda hparams: 2 / max(EIGENVALUES)),),
)
