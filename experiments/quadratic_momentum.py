"""Heavy-ball momentum on the same bowl: faster, until it starts to swing.

Momentum keeps a running velocity v ← g + β·v and steps x ← x − lr·v. On
f(x, y) = ½ (λ₁ x² + λ₂ y²) each coordinate then follows a two-term
recurrence that is stable iff lr·λ < 2(1 + β): momentum *raises* the largest
usable learning rate. The price is oscillation: with β near 1 the roots are
complex with modulus √β, the iterates circle the minimum and the loss rises
and falls, its swings decaying only like β^t. At β = 0.99 that is a factor e
per 100 steps: the swing dies down ("slow", or "converged" once it is within
tolerance). Above β ≈ 0.997 the swings shrink by less than a factor e in the
500 steps ("oscillating"): that is what "still swinging" means on this map.

Grid: learning rate (log) × momentum β from 0 to 0.999, from a fixed start.
β is swept through 1 − β on a log scale (1, 0.1, 0.01, 0.001), so β = 0.9,
0.99 and 0.999, the values people use, get equal room on the picture.
"""
import jax.numpy as jnp
import optax

import edujax as ej

EIGENVALUES = (1.0, 10.0)
START = (5.0, 1.0)


def loss(params, hparams):
    x, y = params
    return 0.5 * (EIGENVALUES[0] * x**2 + EIGENVALUES[1] * y**2)


def start(key, hparams):
    return jnp.asarray(START[0], jnp.result_type(float)), jnp.asarray(START[1], jnp.result_type(float))


def heavy_ball(hparams):
    return optax.sgd(hparams["learning_rate"], momentum=1 - hparams["one_minus_momentum"])


def stability_limit(hparams):
    """lr·λ_max < 2(1 + β): the largest stable learning rate for each β."""
    return 2 * (2 - hparams["one_minus_momentum"]) / max(EIGENVALUES)


experiment = ej.minimize(
    name="quadratic_momentum",
    description="Heavy-ball momentum on ½(x² + 10y²): learning rate × momentum β.",
    loss=loss,
    params=start,
    optimizer=heavy_ball,
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-4, 1.0, 256, label="learning rate"),
        ej.logspace("one_minus_momentum", 1.0, 1e-3, 256, label="1 − momentum β"),
    ),
    steps=500,
    global_min=0.0,
    boundaries=(ej.Boundary("lr = 2(1 + β) / λ_max", "learning_rate", stability_limit),),
)
