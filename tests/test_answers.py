"""Answers, not only maps (issue 24): float64 grids, probabilities over seeds, 1-D sweeps as curves,
xarray export, the compilation cache. Every value is pinned against one computed here by hand."""
import json
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

import edujax as ej
from edujax import compile_cache, probability
from edujax.probability import wilson_interval


def bowl(grid, precision="float32", steps=1, spread=0.0):
    """GD on ½x² from x0 (+ spread·N(0, 1) per seed): one step takes x0 to x0 − lr·x0."""
    return ej.minimize(
        name="bowl", loss=lambda x, h: 0.5 * x**2,
        params=lambda key, h: h["x0"] + h["spread"] * jax.random.normal(key, (), jax.numpy.asarray(h["x0"]).dtype),
        optimizer=lambda h: optax.sgd(h["learning_rate"]), grid=grid, steps=steps, global_min=0.0,
        precision=precision, defaults={"x0": 0.1, "spread": spread},
    )


# --- float64 grids -----------------------------------------------------------------------------------------


def test_a_float64_sweep_runs_and_reports_exactly_the_requested_values(tmp_path):
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 4), ej.values("x0", [0.1, 0.3]))
    result = ej.sweep(bowl(grid, "float64"))
    assert result.grid.axis("learning_rate").values.tolist() == [0.001, 0.01, 0.1, 1.0]
    assert result.hparams["learning_rate"][:, 0].tolist() == [0.001, 0.01, 0.1, 1.0]
    assert result.hparams["x0"][0].tolist() == [0.1, 0.3]
    assert result.summary()["grid"][0]["min"] == 0.001  # float32 would say 0.0010000000474974513
    # the runs saw the float64 values: one step of GD leaves ½(x0 − lr·x0)²; lr rounded to float32 would be
    # off by about 5e-8 relative, far beyond this tolerance
    lr, x0 = np.meshgrid([0.001, 0.01, 0.1, 1.0], [0.1, 0.3], indexing="ij")
    np.testing.assert_allclose(result.final["loss"], 0.5 * (x0 - lr * x0) ** 2, rtol=1e-12, atol=1e-300)
    result.save(tmp_path / "bowl")
    assert ej.SweepResult.load(tmp_path / "bowl").grid.axis("learning_rate").values.tolist() == [
        0.001, 0.01, 0.1, 1.0]


def test_a_float32_sweep_still_holds_float32_values():
    result = ej.sweep(bowl(ej.Grid(ej.values("learning_rate", [0.001, 0.5]))))
    values = result.grid.axis("learning_rate").values
    assert values.dtype == np.float32 and values.tolist() == [float(np.float32(0.001)), 0.5]
    assert result.summary()["grid"][0]["min"] == 0.0010000000474974513


# --- probabilities over seeds ------------------------------------------------------------------------------


def test_wilson_interval_against_values_computed_by_hand():
    # k = 8, n = 10, z = 1.96: p = 0.8, z² = 3.8416; centre = (0.8 + 0.19208) / 1.38416 = 0.716738;
    # half = 1.96 / 1.38416 · sqrt(0.016 + 0.009604) = 1.416021 · 0.160013 = 0.226582
    lo, hi = wilson_interval(8, 10, z=1.96)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.4902, 0.9433)
    # k = 0, n = 4: lo = 0, hi = z² / (n + z²) = 3.8416 / 7.8416
    lo, hi = wilson_interval(0, 4, z=1.96)
    assert float(lo) == 0.0 and float(hi) == pytest.approx(3.8416 / 7.8416, rel=1e-12)
    # k = n = 4: the mirror image
    lo, hi = wilson_interval(4, 4, z=1.96)
    assert float(lo) == pytest.approx(4 / 7.8416, rel=1e-12) and float(hi) == 1.0


@pytest.mark.parametrize("k, n", [(3, 2), (-1, 4), (0, 0)])
def test_wilson_interval_refuses_impossible_counts(k, n):
    with pytest.raises(ej.UserError, match="0 ≤ k ≤ n"):
        wilson_interval(k, n)


@pytest.fixture(scope="module")
def seeded():
    """GD with lr ∈ {0.5, 1.9, 2.5} × 8 seeds from x0 = 0.1 + N(0, 1), 30 steps: lr 0.5 converges from every
    start, 2.5 diverges from every start (|1 − lr| > 1), 1.9 contracts by 0.9 per step: slow for 30 steps."""
    grid = ej.Grid(ej.values("learning_rate", [0.5, 1.9, 2.5]), ej.seeds(8))
    return ej.sweep(bowl(grid, steps=30, spread=1.0))


def test_probabilities_count_seeds_per_setting(seeded):
    codes = seeded.outcome
    expected = (codes == seeded.outcome_names.index("converged")).sum(1)  # k per learning rate
    p, lo, hi = seeded.probabilities("converged")
    assert p.shape == (3,) and p.tolist() == (expected / 8).tolist()
    assert p[0] == 1.0 and p[2] == 0.0
    # k = 8 of 8: lo = 8 / (8 + z²); k = 0: hi = z² / (8 + z²)
    z2 = probability.Z95**2
    assert lo[0] == pytest.approx(8 / (8 + z2), rel=1e-12) and hi[0] == 1.0
    assert hi[2] == pytest.approx(z2 / (8 + z2), rel=1e-12) and lo[2] == 0.0
    assert seeded.probabilities("diverged")[0].tolist() == [0.0, 0.0, 1.0]


def test_probabilities_name_a_missing_outcome(seeded):
    with pytest.raises(ej.UserError, match="no outcome 'won'"):
        seeded.probabilities("won")
