"""The recommendation (`edujax.store.recommend`) against closed forms: gradient descent on ½(x² + 10y²)."""
import dataclasses
import json

import numpy as np
import pytest

import edujax as ej
from edujax.store.recommend import band, recommend

LAMBDAS = np.array([1.0, 10.0])
ANGLES = [10.0, 30.0, 60.0, 85.0]
STEPS = 500


@pytest.fixture(scope="module")
def swept(quadratic):
    """96 learning rates × 4 start angles, every step recorded: steps-to-target is exact."""
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 96), ej.values("start_angle", ANGLES))
    return ej.sweep(quadratic, grid, STEPS, records=STEPS)


def closed_form_steps(lrs, angle_deg, criteria, steps=STEPS):
    """First t with ½Σλᵢ(xᵢ(1 − lr·λᵢ)^t)² ≤ f* + atol + rtol·g0 (f* = 0), in float64; inf when never."""
    theta = np.deg2rad(angle_deg)
    start = 5.0 * np.array([np.cos(theta), np.sin(theta)])
    g0 = 0.5 * np.sum(LAMBDAS * start**2)
    level = criteria.atol + criteria.rtol * g0
    t = np.arange(steps + 1.0)
    with np.errstate(over="ignore", invalid="ignore"):  # diverging runs overflow to inf: never reached
        return _first_hit(lrs, start, level, t)


def _first_hit(lrs, start, level, t):
    factors = (1 - np.asarray(lrs, np.float64)[:, None, None] * LAMBDAS[None, :, None]) ** t  # (lr, coord, t)
    loss = 0.5 * np.sum(LAMBDAS[None, :, None] * (start[None, :, None] * factors) ** 2, axis=1)
    hit = loss <= level
    return np.where(hit.any(-1), np.argmax(hit, -1), np.inf)


def test_band_edge_at_the_stability_limit(swept):
    lrs = swept.grid.axis("learning_rate").values.astype(np.float64)
    ratio = lrs[1] / lrs[0]
    rec = swept.recommend()
    assert [row.setting for row in rec.rows] == [{"start_angle": a} for a in ANGLES]
    for row in rec.rows:
        assert abs(np.log(row.hi / 0.2)) <= np.log(ratio) * 1.001, row  # 2 / λ_max, within one grid step
        assert row.hi < 0.2 and row.lr95 == row.hi
    assert abs(np.log(rec.overall.hi / 0.2)) <= np.log(ratio) * 1.001


def test_fastest_learning_rate_minimises_the_closed_form(swept, quadratic):
    lrs = swept.grid.axis("learning_rate").values.astype(np.float64)
    ratio = lrs[1] / lrs[0]
    best = []
    for row, angle in zip(swept.recommend().rows, ANGLES):
        exact = closed_form_steps(lrs, angle, quadratic.criteria)
        minimisers = lrs[exact == exact.min()]
        best.append(minimisers.mean())
        fastest = row.fastest["learning_rate"]
        assert np.min(np.abs(np.log(minimisers / fastest))) <= np.log(ratio) * 1.001, (angle, fastest, minimisers)
        assert abs(row.steps - exact.min()) <= 1  # float32 against float64: at most one step apart
    assert 0.14 < min(best) < max(best) < 0.19 and max(best) / min(best) > 1.1  # it moves with the start


def test_band_rule_on_a_hand_made_row():
    share = np.array([0.0, 1.0, 1.0, 0.75, 0.0, 0.5])
    steps = np.array([np.inf, 90, 40, 30, np.inf, 5])
    assert band(share, steps) == (1, 3, 3)  # the last is faster, but only half its runs converged
    share[-1] = 1.0
    assert band(share, steps) == (5, 5, 5)  # now it is the fastest, a band of its own
    assert band(np.array([0.5, 0.5]), np.array([1.0, 1.0])) is None  # a tie is no majority
    assert band(np.array([0.0, 1.0, 1.0, 0.0, 1.0]), np.full(5, np.inf)) == (1, 1, 2)  # longest run


def test_seeds_are_aggregated_and_stored(tmp_path):
    from helpers import noisy_start_experiment

    experiment = noisy_start_experiment()
    result = ej.sweep(experiment)
    rec = recommend(result)
    assert rec.others == () and rec.rows[0].setting == {}
    assert rec.overall.lo is not None and rec.overall.lr95 is not None
    result.save(tmp_path / "r")
    stored = json.loads((tmp_path / "r" / "summary.json").read_text())["recommendation"]
    assert stored["overall"]["band"] == [rec.overall.lo, rec.overall.hi]
    assert ej.SweepResult.load(tmp_path / "r").recommend().overall == rec.overall


def test_no_learning_rate_axis(quadratic):
    fixed = dataclasses.replace(quadratic, defaults={"learning_rate": 0.1})
    result = ej.sweep(fixed, ej.Grid(ej.linspace("start_angle", 0.0, 90.0, 3)), 20)
    rec = result.recommend()
    assert not rec and rec.rows == () and "no learning_rate axis" in rec.to_text()
    assert rec.as_dict() == {"note": "no learning_rate axis: no recommendation"}
