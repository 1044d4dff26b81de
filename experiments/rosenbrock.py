"""Rosenbrock's banana valley: the marble finds the valley at once, then crawls along it.

f(x, y) = (1 − x)² + 100·(y − x²)², global minimum f* = 0 at (1, 1). The
valley floor y = x² is curved and nearly flat along its length, with walls
100 times steeper across it. At the minimum the Hessian has eigenvalues
λ_max ≈ 1001.6 and λ_min ≈ 0.4: gradient descent needs lr < 2/λ_max ≈ 0.002
to stay in the valley, and then moves along it by about lr·λ_min of the
remaining distance per step, so it takes ~1/(lr·λ_min) ≳ 1250 steps per
factor e. Most runs are `slow`; only learning rates close to the limit
converge within 10 000 steps. Further from (1, 1) the walls are steeper
still (λ ≈ 1200x² − 400y), so starts far out need even smaller steps or
they are thrown out (`diverged`).

Criteria: `converged` means f < atol = 1e-7 (rtol = 0). The default relative
tolerance measures progress against the initial gap, which the steep walls
make up to ~400 here, while a run resting on the valley floor far from
(1, 1) — say at (−1, 1), f = 4 — has already closed 99% of it. A handful of
runs that reach the valley's end freeze in float32 a hair from (1, 1), at
f ~ 1e-7…1e-6, with the gradient still pointing there: `stalled` (Rosenbrock
has no local minimum, and the classifier finds none).

Grid: learning rate (log) × start x0, with y0 = 2. Plain gradient descent
(optax.sgd), 10 000 steps.
"""
import numpy as np
import optax

import edujax as ej
from edujax import landscapes, plots_landscapes

HESSIAN_AT_MINIMUM = np.array([[802.0, -400.0], [-400.0, 200.0]])
LAMBDA_MAX = float(np.linalg.eigvalsh(HESSIAN_AT_MINIMUM).max())

experiment = ej.minimize(
    name="rosenbrock",
    description="Gradient descent in Rosenbrock's curved valley (f* = 0 at (1, 1)): learning rate × start x0, y0 = 2.",
    loss=landscapes.rosenbrock.loss,
    params=landscapes.start,
    metrics=landscapes.position,
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-5, 1e-2, 256, label="learning rate"),
        ej.linspace("x0", -2.0, 2.0, 128, label="start x0 (y0 = 2)"),
    ),
    defaults={"y0": 2.0},
    steps=10_000,
    criteria=ej.Criteria(rtol=0.0, atol=1e-7),
    global_min=landscapes.rosenbrock.f_star,
    boundaries=(ej.Boundary("lr = 2 / λ_max at (1, 1)", "learning_rate", lambda hparams: 2 / LAMBDA_MAX),),
    figures=plots_landscapes.figures(landscapes.rosenbrock),
)
