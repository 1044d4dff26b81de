"""The house-price line fit shared by the regression experiments.

Data: yearly prices 2005–2021 scattered around the line 100 + 15·(year − 2005).
The scatter is made orthogonal to (year, 1), so the least-squares line is
exactly that line: it predicts 400 for 2025, and the L2 loss at the optimum is
the noise's (not zero).

Model: price ≈ w·feature + b, with the feature either the raw year or the
standardized year z = (year − mean) / std. Both describe the same lines, so
every loss has the same minimum over both; only the *coordinates* (w, b) and
hence the curvature gradient descent sees differ. Hyperparameters read here:
`features` (0 raw, 1 standardized), `loss` (0 L2, 1 L1) and `start_slope`.
The picture of the fitted lines is `edujax.plots_regression.draw_lines`.
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax

FEATURES = ("raw years", "standardized")
LOSSES = ("L2 (squared)", "L1 (absolute)")
START_YEAR, PREDICT_YEAR = 2005, 2025

YEARS = np.arange(START_YEAR, 2022, dtype=np.float64)
_DESIGN = np.stack([YEARS, np.ones_like(YEARS)], axis=1)
_scatter = np.random.default_rng(4).normal(0.0, 12.0, len(YEARS))
_scatter -= _DESIGN @ np.linalg.lstsq(_DESIGN, _scatter, rcond=None)[0]  # no linear trend left in the noise
PRICES = 100.0 + 15.0 * (YEARS - START_YEAR) + _scatter

# feature = (year − OFFSET) / SCALE, per FEATURES entry.
OFFSET = np.array([0.0, YEARS.mean()])
SCALE = np.array([1.0, YEARS.std()])


def design(features: int) -> np.ndarray:
    """The design matrix X = [feature, 1], one row per year."""
    return np.stack([(YEARS - OFFSET[features]) / SCALE[features], np.ones_like(YEARS)], axis=1)


def lr_limit(features: int) -> float:
    """Gradient descent on ½·mean(residual²) has Hessian XᵀX/n: stable iff lr < 2/λ_max."""
    x = design(features)
    return 2.0 / np.linalg.eigvalsh(x.T @ x / len(YEARS)).max()


def _l1_fit() -> tuple[float, np.ndarray, tuple[int, int]]:
    """The exact L1 (least absolute deviations) line: a line through two data
    points is optimal, so try every pair. Returns (min, (w, b) standardized, pair)."""
    x = design(1)
    fits = []
    for pair in itertools.combinations(range(len(YEARS)), 2):
        theta = np.linalg.solve(x[list(pair)], PRICES[list(pair)])
        fits.append((np.mean(np.abs(x @ theta - PRICES)), theta, pair))
    return min(fits, key=lambda fit: fit[0])


L2_MIN = 0.5 * np.mean(_scatter**2)
L1_MIN, _L1_THETA, _L1_PAIR = _l1_fit()


def l1_sharpness() -> float:
    """μ = min over unit directions d of the L1 loss's slope at its minimum (standardized).

    The subdifferential at the optimum is the parallelogram
    g + (±x_i ± x_j)/n over the two interpolated points i, j (g: the other
    points' signed rows). 0 lies inside it, and the smallest directional slope
    is the distance from 0 to its nearest edge. By convexity
    loss − L1_MIN ≥ μ·|θ − θ*| everywhere.
    """
    x, n = design(1), len(YEARS)
    residual_sign = np.sign(x @ _L1_THETA - PRICES)
    residual_sign[list(_L1_PAIR)] = 0.0
    g = residual_sign @ x / n
    i, j = (x[k] / n for k in _L1_PAIR)
    corners = [g - i - j, g - i + j, g + i + j, g + i - j]  # in order around the parallelogram
    distances = []
    for p, q in zip(corners, corners[1:] + corners[:1]):
        edge = q - p
        distances.append(abs(p @ np.array([-edge[1], edge[0]])) / np.linalg.norm(edge))
    return min(distances)


def l1_step_floor(learning_rate):
    """A lower bound on how close constant-step subgradient descent stays to the L1 minimum.

    With an odd number of points no sign pattern of the residuals cancels, so
    the intercept's subgradient is at least 1/n and every step moves θ by at
    least lr/n. Of two consecutive iterates one is then ≥ lr/(2n) from θ*,
    so its loss is ≥ L1_MIN + μ·lr/(2n): the loss can never stay below this
    for two steps in a row (standardized features).
    """
    assert len(YEARS) % 2 == 1, "the floor needs an odd number of data points"
    return l1_sharpness() * np.asarray(learning_rate) / (2 * len(YEARS))


def _float():
    """The sweep's float type: float64 inside a float64 sweep (`precision="float64"`), float32 otherwise."""
    return jnp.result_type(float)


def _pick(table, index):
    """table[index] for a traced index into a small constant table."""
    return jnp.asarray(table, _float())[jnp.asarray(index, jnp.int32)]


def start_line(key, hparams):
    """Every run starts from the line through (2005, 0) with slope `start_slope`, in (w, b) coordinates."""
    slope, features = hparams["start_slope"], hparams["features"]
    return slope * _pick(SCALE, features), slope * (_pick(OFFSET, features) - START_YEAR)


def excess_loss(params, hparams):
    """The loss (½·mean squared or mean absolute residual) minus its minimum, so f* = 0 for both."""
    w, b = params
    feature = (jnp.asarray(YEARS, _float()) - _pick(OFFSET, hparams["features"])) / _pick(SCALE, hparams["features"])
    residual = w * feature + b - jnp.asarray(PRICES, _float())
    l2 = 0.5 * jnp.mean(residual**2) - L2_MIN
    l1 = jnp.mean(jnp.abs(residual)) - L1_MIN
    return jnp.where(hparams["loss"] == 0, l2, l1)


def line(params, hparams):
    """The fitted line in price units, recorded every step: slope (per year) and the 2025 prediction."""
    w, b = params
    offset, scale = _pick(OFFSET, hparams["features"]), _pick(SCALE, hparams["features"])
    return {"slope": w / scale, "price_2025": w * (PREDICT_YEAR - offset) / scale + b}


def gradient_descent(hparams):
    return optax.sgd(hparams["learning_rate"])


# The curve the networks fit (mlp_regression, edge_of_stability, lr_warmup): f(x) = sin(3x) + x²/4 at 64
# points of [−2, 2]. Not odd: an odd target would leave some bias gradients at exactly 0.
CURVE_X = np.linspace(-2.0, 2.0, 64, dtype=np.float32)[:, None]
CURVE_Y = np.sin(3 * CURVE_X) + CURVE_X**2 / 4


def lecun_layers(key, sizes) -> list:
    """[(W₁, b₁), …]: a plain-JAX MLP's parameters for layer sizes like (1, 32, 32, 1), LeCun-normal weights
    (variance 1/fan-in) and zero biases."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (m, n)) / np.sqrt(m), jnp.zeros(n)) for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def tanh_mlp(layers, x):
    """tanh(… tanh(x W₁ + b₁) …) W_L + b_L: the hidden layers tanh, the last one linear.

    >>> import jax
    >>> tanh_mlp(lecun_layers(jax.random.key(0), (1, 8, 1)), CURVE_X).shape
    (64, 1)
    """
    for w, b in layers[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = layers[-1]
    return x @ w + b


def curve_mse(layers, hparams=None):
    """Mean squared error of `tanh_mlp(layers)` on the curve: ⅟₆₄ Σ (f̂(xᵢ) − f(xᵢ))²."""
    return jnp.mean((tanh_mlp(layers, CURVE_X) - CURVE_Y) ** 2)
