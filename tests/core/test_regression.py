"""The house-price and MLP regression experiments against theory and against runs done alone."""
import dataclasses
import itertools

import jax
import numpy as np
import pytest

import edujax as ej
from edujax import regression as reg
from edujax.app import registry
from edujax.core.outcomes import CONVERGED, DIVERGED, OSCILLATING, SLOW
from edujax.runner.trace import replay


@pytest.fixture(scope="module")
def house():
    return ej.sweep(registry.load("house_prices"), examples_per_outcome=0)


@pytest.fixture(scope="module")
def house_l1():
    return ej.sweep(registry.load("house_prices_l1"), examples_per_outcome=0)


def per_facet(result, name):
    """{facet value: (learning rates, outcome codes (lr × start))} for the third axis `name`."""
    axis = [a.name for a in result.axes].index(name)
    lrs = result.grid.axis("learning_rate").values.astype(np.float64)
    return {value: (lrs, np.take(result.outcome, value, axis=axis)) for value in range(result.outcome.shape[axis])}


def test_data_least_squares_line_predicts_400():
    slope, intercept = np.polyfit(reg.YEARS, reg.PRICES, 1)
    assert slope == pytest.approx(15.0) and slope * 2025 + intercept == pytest.approx(400.0)
    assert reg.L2_MIN == pytest.approx(0.5 * np.mean((np.polyval([slope, intercept], reg.YEARS) - reg.PRICES) ** 2))
    assert reg.L2_MIN > 10  # noisy: the optimum is not a perfect fit


def test_l2_labels_follow_two_over_lambda_max(house):
    for features, (lrs, codes) in per_facet(house, "features").items():
        x = reg.design(features)
        limit = 2 / np.linalg.eigvalsh(x.T @ x / len(x)).max()
        assert reg.lr_limit(features) == pytest.approx(limit)
        assert np.all(codes[lrs > 1.05 * limit] == DIVERGED)
        assert not np.any(codes[lrs < limit / 1.05] == DIVERGED)
    assert reg.lr_limit(1) == pytest.approx(2.0)  # standardized: XᵀX/n is the identity
    assert 4e-7 < reg.lr_limit(0) < 6e-7  # raw years ≈ 2000: 2/mean(year²)


def test_standardizing_widens_the_converging_band_100x(house):
    widths = {}
    for features, (lrs, codes) in per_facet(house, "features").items():
        converging = lrs[np.any(codes == CONVERGED, axis=1)]
        assert converging.size, f"no converged run with {reg.FEATURES[features]}"
        assert converging.max() < reg.lr_limit(features)
        widths[features] = converging.max() - converging.min()
    assert widths[1] >= 100 * widths[0]


def test_raw_years_converge_only_from_the_right_slope(house):
    """With raw years GD fixes the line's level, practically never its slope."""
    lrs, codes = per_facet(house, "features")[0]
    slopes = house.grid.axis("start_slope").values
    converged_rows = np.flatnonzero(np.any(codes == CONVERGED, axis=0))
    assert np.all(np.abs(slopes[converged_rows] - 15.0) < 1.0)


def test_l1_minimum_is_exact():
    x = reg.design(1)
    best = min(np.mean(np.abs(x @ np.linalg.solve(x[list(p)], reg.PRICES[list(p)]) - reg.PRICES))
               for p in itertools.combinations(range(len(x)), 2))
    assert reg.L1_MIN == pytest.approx(best)
    rng = np.random.default_rng(0)
    theta = reg._L1_THETA + rng.normal(0, [1.0, 1.0], (20000, 2)) * rng.uniform(0, 3, (20000, 1))
    assert np.mean(np.abs(theta @ x.T - reg.PRICES), axis=1).min() >= reg.L1_MIN - 1e-9


def test_l1_sharpness_is_the_smallest_slope_at_the_minimum():
    x = reg.design(1)
    angles = np.linspace(0, 2 * np.pi, 20001)
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    t = 1e-6
    slopes = (np.mean(np.abs((reg._L1_THETA + t * directions) @ x.T - reg.PRICES), axis=1) - reg.L1_MIN) / t
    assert reg.l1_sharpness() == pytest.approx(slopes.min(), rel=1e-3)


def test_l1_constant_step_stays_above_its_floor():
    """Every L1 run, step by step: of two consecutive losses one is ≥ L1_min + μ·lr/(2n)."""
    experiment = registry.load("house_prices_l1")
    run = jax.jit(lambda hparams: replay(experiment, hparams, 300)[1]["loss"])
    for lr in (0.3, 3.0, 30.0):
        gap = np.asarray(run({"learning_rate": np.float32(lr), "start_slope": np.float32(5), "loss": np.int32(1),
                              "features": np.float32(1)}), np.float64)
        floor = reg.l1_step_floor(lr)
        assert np.all(np.maximum(gap[1:], gap[:-1]) >= floor - 2e-5), lr


def test_l1_never_converged_below_its_step_floor(house_l1):
    facets = per_facet(house_l1, "loss")
    lrs, l1 = facets[1]
    _, l2 = facets[0]
    criteria = registry.load("house_prices_l1").criteria
    tolerance = criteria.atol + criteria.rtol * house_l1.loss[..., 0].take(1, axis=2)  # (lr, start)
    beyond = reg.l1_step_floor(lrs)[:, None] > tolerance + 2e-5
    assert not np.any(l1[beyond] == CONVERGED)
    # Not vacuous: there, L2 converges while L1 still crawls along its kinks or hops around its minimum.
    where_l2_converges = beyond & (l2 == CONVERGED)
    assert where_l2_converges.sum() > 100
    assert np.isin(l1[where_l2_converges], [SLOW, OSCILLATING]).all()
    big, small = where_l2_converges & (lrs[:, None] > 1), where_l2_converges & (lrs[:, None] < 0.3)
    assert np.mean(l1[big] == OSCILLATING) > np.mean(l1[small] == OSCILLATING)  # longer steps: hops, not a crawl
    assert not np.any(l1 == CONVERGED)  # and no constant step of this grid gets L1 there at all


@pytest.fixture(scope="module")
def mlp():
    return registry.load("mlp_regression")


def small_grid(lrs, seeds):
    return ej.Grid(ej.values("learning_rate", lrs, "log"), ej.Axis("seed", np.asarray(seeds, np.int32), "linear"),
                   ej.choice("optimizer", ("sgd", "adam")))


def test_mlp_sweep_compiles_once_for_the_whole_grid(mlp):
    traces = []

    def counting_init(key, hparams):
        traces.append(hparams["learning_rate"].shape)
        return mlp.init(key, hparams)

    counted = dataclasses.replace(mlp, init=counting_init)
    first = ej.sweep(counted, small_grid([1e-3, 1e-2, 1e-1], [0, 1, 2]), steps=20, examples_per_outcome=0)
    assert first.info["chunks"] == 1  # one compiled call for all 18 settings
    traced = len(traces)
    second = ej.sweep(counted, small_grid([2e-3, 3e-2, 0.5], [5, 6, 7]), steps=20, examples_per_outcome=0)
    assert len(traces) == traced  # new learning rates and seeds: same executable, not even retraced
    assert not np.allclose(first.loss, second.loss)
