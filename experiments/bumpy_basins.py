"""Basins of attraction in the grooved bowl: where must the marble start to reach the bottom?

The landscape of `bumpy_bowl`: f(x, y) = x² + y² + a·(sin²kx + sin²ky)·(1 − e^(−r²/s²)),
a = 2, k = π, s = 1, global minimum f* = 0 at the origin; a local minimum
in every groove near the integer points (m, n), |m|, |n| ≤ 3.

Here the learning rate is fixed and the start point (x0, y0) sweeps a
256 × 256 square, so each picture is a map of basins of attraction, one
panel per learning rate:

- lr = 0.01 (< 2/λ_groove ≈ 0.048): gradient descent follows the slope
  downhill, so the map is a checkerboard of groove basins (`local_min`) with
  the smooth floor in the middle (`converged`);
- lr = 0.07: the outer grooves can no longer hold the marble but the inner,
  shallower ones still can: the basins fray into fractal bands;
- lr = 0.3: no groove holds; from almost every start the marble hops to the
  floor and converges.

Plain gradient descent (optax.sgd), 300 steps.
"""
import optax

import edujax as ej
from edujax import landscapes, plots_landscapes

experiment = ej.minimize(
    name="bumpy_basins",
    description="Basins of attraction of gradient descent in the grooved bowl: "
                "start x0 × start y0, one panel per learning rate.",
    loss=landscapes.bumpy_bowl.loss,
    params=landscapes.start,
    metrics=landscapes.position,
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    grid=ej.Grid(
        ej.linspace("x0", -4.0, 4.0, 256, label="start x0"),
        ej.linspace("y0", -4.0, 4.0, 256, label="start y0"),
        ej.values("learning_rate", [0.01, 0.07, 0.3], scale="log", label="learning rate"),
    ),
    steps=300,
    global_min=landscapes.bumpy_bowl.f_star,
    figures=plots_landscapes.figures(landscapes.bumpy_bowl),
)
