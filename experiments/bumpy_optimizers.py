"""Which optimizer escapes the grooves? SGD, heavy ball, Nesterov and Adam on the grooved bowl.

The landscape and grid of `bumpy_bowl` (f* = 0 at the origin, local minima
in the grooves; learning rate × start distance along a ray at 30°), run
under four optax optimizers, one heatmap panel each. The dashed line is each
optimizer's stability limit on the smooth floor (curvature λ = 2): past it
even the bottom of the bowl cannot hold the marble.

- `sgd`: x ← x − lr·∇f. Stuck in the groove it starts in (`local_min`)
  until lr ≈ 0.05–0.08, then hops over the grooves to the floor; limit 2/λ.
- `momentum` (heavy ball, β = 0.9): v ← ∇f + βv, x ← x − lr·v. The velocity
  carries the marble over grooves at ~10× smaller learning rates than SGD,
  from some starts (the green tongues); for lr ≳ 0.1 it swings through the
  whole bowl for hundreds of steps (`oscillating`); limit 2(1 + β)/λ.
- `nesterov` (β = 0.9): the same velocity with a look-ahead gradient, which
  damps the swing: it settles like SGD, in grooves too, and is stable only
  up to 2(1 + β)/((1 + 2β)·λ) ≈ 0.68.
- `adam` (β₁ = 0.9, β₂ = 0.999): it normalises the gradient, so a step moves
  about lr per coordinate however steep the slope: it never diverges, but
  small steps stay in their groove and large ones keep hopping.

The optimizer is a `choice` axis: one compiled sweep runs all four, the
index picking the optimizer inside the step via `edujax.switch`.
300 steps.
"""
import numpy as np
import optax

import edujax as ej
from edujax import landscapes, plots_landscapes

BETA = 0.9
OPTIMIZERS = {
    "sgd": lambda lr: optax.sgd(lr),
    "momentum": lambda lr: optax.sgd(lr, momentum=BETA),
    "nesterov": lambda lr: optax.sgd(lr, momentum=BETA, nesterov=True),
    "adam": lambda lr: optax.adam(lr),
}


#: Largest stable learning rate on the floor, per optimizer (Adam has no such limit: NaN, no line).
FLOOR_LIMITS = np.array([
    2 / landscapes.FLOOR_CURVATURE,
    2 * (1 + BETA) / landscapes.FLOOR_CURVATURE,
    2 * (1 + BETA) / ((1 + 2 * BETA) * landscapes.FLOOR_CURVATURE),
    np.nan,
])


def optimizer(hparams):
    return ej.switch(hparams["optimizer"], [make(hparams["learning_rate"]) for make in OPTIMIZERS.values()])


experiment = ej.minimize(
    name="bumpy_optimizers",
    description="SGD, momentum, Nesterov and Adam in the grooved bowl: "
                "learning rate × start distance, one panel per optimizer.",
    loss=landscapes.bumpy_bowl.loss,
    params=landscapes.ray_start(30.0),
    metrics=landscapes.position,
    optimizer=optimizer,
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-3, 2.0, 128, label="learning rate"),
        ej.linspace("start_distance", 0.0, 4.0, 128, label="start distance from the minimum (along 30°)"),
        ej.choice("optimizer", list(OPTIMIZERS), label="optimizer"),
    ),
    steps=300,
    global_min=landscapes.bumpy_bowl.f_star,
    boundaries=(ej.Boundary("floor stability limit", "learning_rate",
                            lambda hparams: FLOOR_LIMITS[hparams["optimizer"]]),),
    figures=plots_landscapes.figures(landscapes.bumpy_bowl),
)
