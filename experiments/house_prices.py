"""Fit a line to house prices: raw years or standardized years?

The data are yearly prices 2005–2021 around price = 100 + 15·(year − 2005);
the least-squares line predicts 400 for 2025. The model is
price ≈ w·feature + b, trained by gradient descent on the L2 loss
½·mean(residual²), whose Hessian is XᵀX/n for the design matrix X = [feature, 1].
Gradient descent is stable iff lr < 2/λ_max(XᵀX/n) (the dashed line).

- raw years (feature ≈ 2000): λ_max ≈ mean(year²) ≈ 4·10⁶, so only
  lr < 5·10⁻⁷ survives, and the other eigenvalue is ~10⁻⁶ times smaller
  (condition number ~10¹²). Gradient descent fixes the line's *level* in a few
  steps but practically never its *slope*: once the level has converged each
  update of the slope is below float32's spacing at the parameters' size, so
  the run freezes far from the optimum (`stalled`, not a local minimum: this
  problem has none; `house_prices_float64` shows the same runs crawling on,
  `slow`) unless it started with the right slope (the green streak at 15).
  The smallest learning rates of the standardized panel freeze the same way.
- standardized years (z = (year − mean)/std): XᵀX/n is the identity, every
  learning rate below 2 converges, at lr = 1 in one step.

Grid: learning rate (log) × start slope (every run starts from the line through
(2005, 0) with that slope, the same lines for both feature sets) × features.
"""
import edujax as ej
from edujax import plots_regression
from edujax import regression as reg

experiment = ej.minimize(
    name="house_prices",
    description="Line fit to house prices by gradient descent (L2): learning rate × start slope, "
                "raw vs standardized years.",
    loss=reg.excess_loss,
    params=reg.start_line,
    optimizer=reg.gradient_descent,
    metrics=reg.line,
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-9, 10.0, 96, label="learning rate"),
        ej.linspace("start_slope", -10.0, 40.0, 51, label="start slope (price per year)"),
        ej.choice("features", reg.FEATURES, label="features"),
    ),
    defaults={"loss": 0},  # L2; the L1 loss is house_prices_l1
    steps=500,
    global_min=0.0,  # the loss is recorded above its own minimum
    boundaries=(
        ej.Boundary("lr = 2 / λ_max(XᵀX/n)", "learning_rate",
                    lambda hparams: [reg.lr_limit(f) for f in hparams["features"]]),
    ),
    figures=plots_regression.draw_lines,
)
