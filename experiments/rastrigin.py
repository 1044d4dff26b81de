"""Rastrigin: an egg box of local minima, where no constant step size helps.

f(x, y) = 20 + Σ (t² − 10·cos 2πt) over t = x, y: a shallow bowl t² under a
deep ripple. The global minimum is f* = 0 at the origin; near every integer
point (m, n) sits a local minimum (f ≈ m² + n²). Unlike the grooved bowl,
the bottom here is as sharply curved as every groove: λ = 2 + 40π² ≈ 397
at each minimum. So

- lr < 2/397 ≈ 0.005: the marble settles in the cell it starts in
  (`local_min`), or converges only if it starts in the central cell;
- 0.005 < lr < 1: no minimum, global or local, can hold it; it hops from
  cell to cell forever (`oscillating`);
- lr > 1 (= 2/λ of the bowl t²): it is thrown out (`diverged`).

Grid: learning rate (log) × start distance along a ray at 30°. Plain
gradient descent (optax.sgd), 300 steps.
"""
import numpy as np
import optax

import edujax as ej
from edujax import landscapes, plots_landscapes

CURVATURE_AT_MINIMA = 2 + 40 * np.pi**2

experiment = ej.minimize(
    name="rastrigin",
    description="Gradient descent on Rastrigin's egg box (f* = 0 at the origin): learning rate × start distance.",
    loss=landscapes.rastrigin.loss,
    params=landscapes.ray_start(30.0),
    metrics=landscapes.position,
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-4, 2.0, 256, label="learning rate"),
        ej.linspace("start_distance", 0.0, 5.0, 256, label="start distance from the minimum (along 30°)"),
    ),
    steps=300,
    global_min=landscapes.rastrigin.f_star,
    boundaries=(
        ej.Boundary("lr = 2 / λ at every minimum", "learning_rate", lambda hparams: 2 / CURVATURE_AT_MINIMA),
        ej.Boundary("lr = 2 / λ of the bowl", "learning_rate", lambda hparams: 1.0),
    ),
    figures=plots_landscapes.figures(landscapes.rastrigin),
)
