"""Himmelblau's function: four global minima, and which one the marble rolls into.

f(x, y) = (x² + y − 11)² + (x + y² − 7)² is zero exactly where both squares
vanish, at four points: (3, 2), (−2.805, 3.131), (−3.779, −3.283) and
(3.584, −1.848). All four are global minima (f* = 0), so every run that
settles is `converged`; the question is *where*. The extra figure
`basins.png` colours each start by the minimum its run ended nearest to.

A minimum can only catch gradient descent if lr < 2/λ_max there (λ_max the
largest Hessian eigenvalue). The four minima differ:

    minimum             λ_max    2/λ_max
    (3, 2)               82.3    0.0243
    (−2.805, 3.131)      80.6    0.0248
    (−3.779, −3.283)    133.8    0.0149
    (3.584, −1.848)     105.4    0.0190

So with lr = 0.005 all four basins are there, each a smooth region around
its minimum; at lr = 0.017 the basin of (−3.779, −3.283) is gone: a marble
arriving there overshoots back and forth across it for good (`oscillating`);
at lr = 0.022 the minimum (3.584, −1.848) cannot hold it either. Far starts
meet the steep quartic walls, whose first long step flings the marble
across into another basin (the strips along the edges).

Grid: start x0 × start y0 (256 × 256) × three learning rates, one panel
each. Plain gradient descent (optax.sgd), 300 steps.
"""
import optax

import edujax as ej
from edujax import landscapes, plots_landscapes

experiment = ej.minimize(
    name="himmelblau",
    description="Gradient descent on Himmelblau's function (four global minima, f* = 0): "
                "start x0 × start y0, one panel per learning rate.",
    loss=landscapes.himmelblau.loss,
    params=landscapes.start,
    metrics=landscapes.position,
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    grid=ej.Grid(
        ej.linspace("x0", -5.0, 5.0, 256, label="start x0"),
        ej.linspace("y0", -5.0, 5.0, 256, label="start y0"),
        ej.values("learning_rate", [0.005, 0.017, 0.022], scale="log", label="learning rate"),
    ),
    steps=300,
    global_min=landscapes.himmelblau.f_star,
    figures=plots_landscapes.figures(landscapes.himmelblau, basin_map=True),
)
