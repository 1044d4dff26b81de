"""The marble in a grooved bowl: small steps get stuck, bigger steps jump the grooves.

The loss is a round bowl x² + y² with a ripple carved into its walls,

    f(x, y) = x² + y² + a·(sin²(kx) + sin²(ky))·(1 − exp(−r²/s²)),   a = 2, k = π, s = 1,

so the floor (r ≲ s) is smooth and every groove away from it is a local
minimum, near each point (m, n) of the integer lattice with |m|, |n| ≤ 3. Both
terms are ≥ 0 and vanish only at the origin: the global minimum is f* = 0 at
(0, 0), exactly.

Gradient descent can only come to rest at a minimum where lr < 2/λ, λ the
largest curvature there. The floor has λ = 2; an outer groove λ ≈ 2 + 2ak²
≈ 41.5. Hence three regimes, drawn as dashed lines:

- lr < 2/41.5 ≈ 0.048: the marble settles in the groove it starts in
  (`local_min`), unless it starts on the floor (`converged`, or `slow` for
  the tiniest steps);
- 0.048 < lr < 1: no groove can hold it; it hops from groove to groove until
  it lands on the smooth floor and rolls to the bottom (`converged`). Near
  lr = 1 the hops are so long that it rarely lands there (`oscillating`);
- lr > 1: even the floor throws it out (`diverged`).

Grid: learning rate (log) × start distance from the minimum, along a ray at
30° from the x axis. Plain gradient descent (optax.sgd), 300 steps. The
grooves' depth a is the hyperparameter `groove_depth` (`--grid
groove_depth=0.5:4:4` sweeps it; deeper grooves move the dashed line left).
"""
import optax

import edujax as ej
from edujax import landscapes, plots_landscapes


experiment = ej.minimize(
    name="bumpy_bowl",
    description="Gradient descent in a grooved bowl (global minimum 0 at the origin): learning rate × start distance.",
    loss=lambda params, hparams: landscapes.bumpy_bowl_f(*params, a=hparams["groove_depth"]),
    params=landscapes.ray_start(30.0),
    metrics=landscapes.position,
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-3, 2.0, 256, label="learning rate"),
        ej.linspace("start_distance", 0.0, 4.0, 256, label="start distance from the minimum (along 30°)"),
    ),
    steps=300,
    defaults={"groove_depth": landscapes.BUMPY["a"]},
    global_min=landscapes.bumpy_bowl.f_star,
    boundaries=(
        ej.Boundary("lr = 2 / λ_groove", "learning_rate",
                    lambda hparams: 2 / landscapes.groove_curvature(hparams["groove_depth"])),
        ej.Boundary("lr = 2 / λ_floor", "learning_rate", lambda hparams: 2 / landscapes.FLOOR_CURVATURE),
    ),
    figures=plots_landscapes.figures(landscapes.bumpy_bowl),
)
