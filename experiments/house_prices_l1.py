"""L2 or L1 loss for the house-price line: does a constant step ever settle?

Same data and model as `house_prices`, standardized years only. The L2 loss
½·mean(residual²) is smooth: its gradient shrinks to zero at the optimum, so a
constant learning rate below 2/λ_max = 2 converges (dashed line). The L1 loss
mean|residual| is piecewise linear: its (sub)gradient never shrinks, so every
step moves (w, b) by at least lr/n (n = 17 points, odd, so the residual signs
never cancel). The run keeps hopping around the optimum and its loss stays
above L1_min + μ·lr/(2n) every other step (μ: the loss's smallest slope
away from the optimum, computed from the data). Right of the dotted line this
floor exceeds the tolerance of `converged` (the gap must fall below
rtol·(initial gap)): there L1 is slow while it travels and oscillates once
it arrives, while L2 converges; left of it L1 is too slow to arrive in 500
steps. The cure is a decaying learning rate, not a smaller constant one.

The recorded loss is each loss minus its own minimum (L1's found exactly: an
optimal L1 line passes through two data points), so f* = 0 for both.
Grid: learning rate (log) × start slope (start line through (2005, 0)) × loss.
"""
import jax
import numpy as np

import edujax as ej
from edujax import plots_regression
from edujax import regression as reg

CRITERIA = ej.Criteria(rtol=1e-6)  # tight: the L1 floor crosses it inside L2's converging band


def l1_floor_limit(hparams):
    """The learning rate above which the L1 floor μ·lr/(2n) exceeds the converged tolerance."""
    hparams = {name: np.asarray(col) for name, col in hparams.items()}
    start = jax.vmap(reg.start_line)(None, hparams)
    tolerance = CRITERIA.atol + CRITERIA.rtol * np.asarray(jax.vmap(reg.excess_loss)(start, hparams), np.float64)
    return np.where(hparams["loss"] == 1, tolerance / reg.l1_step_floor(1.0), np.nan)


experiment = ej.minimize(
    name="house_prices_l1",
    description="House-price line, standardized years: L2 vs L1 loss with a constant learning rate × start slope.",
    loss=reg.excess_loss,
    params=reg.start_line,
    optimizer=reg.gradient_descent,
    metrics=reg.line,
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-3, 100.0, 96, label="learning rate"),
        ej.linspace("start_slope", -10.0, 40.0, 51, label="start slope (price per year)"),
        ej.choice("loss", reg.LOSSES, label="loss"),
    ),
    defaults={"features": 1},  # standardized
    steps=500,
    global_min=0.0,
    criteria=CRITERIA,
    boundaries=(
        ej.Boundary("L2: lr = 2 / λ_max(XᵀX/n)", "learning_rate",
                    lambda hparams: np.where(hparams["loss"] == 0, reg.lr_limit(1), np.nan)),
        ej.Boundary("L1: step floor μ·lr/(2n) = tolerance", "learning_rate", l1_floor_limit),
    ),
    figures=plots_regression.draw_lines,
)
