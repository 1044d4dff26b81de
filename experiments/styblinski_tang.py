"""Styblinski–Tang: one global minimum, three local ones, and which side of the hump you start on.

f(x, y) = ½ Σ (t⁴ − 16t² + 5t) over t = x, y. Each coordinate has its own
double well: the roots of 4t³ − 32t + 5 are the deep dip t₁ ≈ −2.9035, the
hump t₂ ≈ 0.1567 and the shallow dip t₃ ≈ 2.7468. The global minimum is at
(t₁, t₁), f* = 2·½(t₁⁴ − 16t₁² + 5t₁) ≈ −78.332 (computed from the root, in
`edujax.landscapes`); (t₁, t₃), (t₃, t₁) and (t₃, t₃) are local minima with
f ≈ −64.20 and −50.06.

Starting at y0 = −1 (the deep side in y), gradient descent with a small
step goes downhill to (t₁, t₁) if x0 < t₂ and to the local minimum (t₃, t₁)
if x0 > t₂. Each well curves by 6t² − 16: 34.6 at the deep dip, 29.3 at the
shallow one. Above lr = 2/34.6 ≈ 0.058 (dashed) the deep dip can no longer
hold the marble, and as every run has y on the deep side, no run settles:
y swings back and forth across t₁ (`oscillating`) until, at larger steps,
the quartic walls throw it out (`diverged`). Below the line, the smallest
steps are `slow`, and mid-sized steps from far out can jump the hump: from
x0 ≈ 5 into the deep dip (`converged`), from x0 ≈ −5 into the shallow one.

Criteria: f* ≈ −78.33 is stored in float32, whose spacing there is ~8e-6,
so the absolute tolerance is raised to 1e-4 (the default 1e-6 is below
float32 resolution at this scale). Grid: learning rate (log) × start x0,
y0 = −1. Plain gradient descent (optax.sgd), 500 steps.
"""
import optax

import edujax as ej
from edujax import landscapes, plots_landscapes

T_DEEP = landscapes.ST_ROOTS[0]


def curvature(t):
    """f'' of one well ½(t⁴ − 16t² + 5t)."""
    return 6 * t**2 - 16


experiment = ej.minimize(
    name="styblinski_tang",
    description="Gradient descent on Styblinski–Tang (f* ≈ −78.332 at (−2.904, −2.904), three local minima): "
                "learning rate × start x0, y0 = −1.",
    loss=landscapes.styblinski_tang.loss,
    params=landscapes.start,
    metrics=landscapes.position,
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-4, 0.2, 256, label="learning rate"),
        ej.linspace("x0", -5.0, 5.0, 256, label="start x0 (y0 = −1)"),
    ),
    defaults={"y0": -1.0},
    steps=500,
    global_min=landscapes.styblinski_tang.f_star,
    criteria=ej.Criteria(atol=1e-4),
    boundaries=(ej.Boundary("lr = 2 / λ at the global minimum", "learning_rate",
                            lambda hparams: 2 / curvature(T_DEEP)),),
    figures=plots_landscapes.figures(landscapes.styblinski_tang),
)
