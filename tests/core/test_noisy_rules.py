"""The rules for noisy runs (edujax.core.outcomes), unit by unit and without a sweep: the fitted trend against
NumPy's float64 least squares, each rule at its edge and in its order, the steps a noisy slow run still needs,
and `reach_step`. (tests/core/test_noisy_truth.py holds the same rules against simulated SGD.)"""
import numpy as np
import pytest

from edujax.core.outcomes import (
    CONVERGED, DIVERGED, LOCAL_MIN, NOISE_FLOOR, OSCILLATING, SLOW, STALLED, Criteria, _assess, _noisy_outcome,
    _trend, classify, reach_step,
)

EPS = float(np.finfo(np.float32).eps)


def ols(t, y):
    """Slope·span and its standard error·span of the least-squares line through (t, y), in float64."""
    slope, intercept = np.polyfit(t, y, 1)
    residuals = y - (slope * t + intercept)
    se = np.sqrt(residuals @ residuals / (len(t) - 2) / np.sum((t - t.mean()) ** 2))
    span = t[-1] - t[0]
    return slope * span, se * span


def test_trend_is_the_least_squares_line_over_the_last_2j_plus_1_records():
    rng = np.random.default_rng(0)
    J = 3
    steps = np.cumsum(rng.integers(1, 9, size=12)).astype(np.float64)  # uneven record steps
    gap = rng.uniform(0.5, 4.0, size=(12, 5))
    gap[-1, 3] = -2.0  # a negative gap: tail_scale takes its size
    gap[-2, 4] = 0.0  # the logarithm's floor
    fit = _trend(gap, steps, J)
    tail, t = gap[-7:], steps[-7:]
    for run in range(5):
        change, se = ols(t, tail[:, run])
        assert float(fit["trend"][run]) == pytest.approx(change, rel=1e-4, abs=1e-5)
        assert float(fit["trend_se"][run]) == pytest.approx(se, rel=1e-4, abs=1e-5)
        logs = np.log(np.maximum(tail[:, run], np.finfo(np.float32).tiny))
        log_change, log_se = ols(t, logs)
        assert float(fit["log_trend"][run]) == pytest.approx(log_change, rel=1e-4, abs=1e-4)
        assert float(fit["log_trend_se"][run]) == pytest.approx(log_se, rel=1e-4, abs=1e-4)
        assert float(fit["level"][run]) == pytest.approx(tail[-(J + 1):, run].mean(), rel=1e-6)
        assert float(fit["tail_scale"][run]) == pytest.approx(np.abs(tail[:, run]).max(), rel=1e-6)


def test_trend_with_two_points_per_side_of_a_single_final_window():
    # J = 1: three records, one degree of freedom for the residuals
    gap = np.array([[5.0], [4.0], [1.0]])
    fit = _trend(gap, np.array([0.0, 10.0, 20.0]), 1)
    change, se = ols(np.array([0.0, 10.0, 20.0]), gap[:, 0])
    assert float(fit["trend"][0]) == pytest.approx(change) == -4.0
    assert float(fit["trend_se"][0]) == pytest.approx(se, rel=1e-5)
    assert float(fit["level"][0]) == pytest.approx(2.5)


#: One run per row: (what the rule sees, the outcome the module docstring's rules give, why).
BASE = dict(trend=0.0, trend_se=0.25, log_trend=0.0, log_trend_se=0.25, tail_scale=1.0, level=2.0, gT=2.0, g0=3.0)
CASES = [
    (dict(), dict(), NOISE_FLOOR, "flat, above tol, not frozen, not stationary"),
    (dict(trend=-0.76), dict(), SLOW, "falls by more than 3 standard errors"),
    (dict(trend=-0.75), dict(), NOISE_FLOOR, "falls by exactly 3 standard errors: within the noise"),
    (dict(trend=-1e-6, trend_se=0.0), dict(), SLOW, "no residuals, a fall above a few ulps"),
    (dict(trend=-4e-7, trend_se=0.0), dict(), NOISE_FLOOR, "no residuals, a fall of under 4 ulps of the values"),
    (dict(trend=-4e-7, trend_se=0.0, tail_scale=0.01), dict(), SLOW, "the same fall on smaller values"),
    (dict(trend=-4.5 * EPS, trend_se=0.0), dict(), SLOW, "a fall of 4.5 ulps of the values"),
    (dict(trend=-4 * EPS, trend_se=0.0), dict(), NOISE_FLOOR, "a fall of exactly 4 ulps is not resolved"),
    (dict(trend=4 * EPS, trend_se=0.0, gT=3.5), dict(), NOISE_FLOOR, "nor is a rise of exactly 4 ulps"),
    (dict(log_trend=1.5, log_trend_se=0.5, gT=3.5), dict(), NOISE_FLOOR, "by e^1.5, exactly 3 errors"),
    (dict(trend=0.76, gT=3.5), dict(), DIVERGED, "rises beyond its error and ends above its start"),
    (dict(trend=0.75, gT=3.5), dict(), NOISE_FLOOR, "rises by exactly 3 standard errors"),
    (dict(trend=0.76, gT=3.0), dict(), NOISE_FLOOR, "rises, but ends where it started"),
    (dict(trend=2e-7, trend_se=0.0, gT=3.5), dict(), NOISE_FLOOR, "a rise of a few ulps is no rise"),
    (dict(log_trend=1.0, gT=3.5), dict(), DIVERGED, "multiplied by e beyond its error, above its start"),
    (dict(log_trend=0.99, log_trend_se=0.0, gT=3.5), dict(), NOISE_FLOOR, "multiplied by less than e"),
    (dict(log_trend=1.0, log_trend_se=1 / 3 + 1e-3, gT=3.5), dict(), NOISE_FLOOR, "by e, within 3 errors"),
    (dict(log_trend=1.0, gT=3.0), dict(), NOISE_FLOOR, "by e, but ends where it started"),
    (dict(level=0.5), dict(nonfinite=True), DIVERGED, "non-finite beats everything"),
    (dict(level=1.0), dict(), CONVERGED, "level exactly at tol"),
    (dict(level=1.0001), dict(), NOISE_FLOOR, "level just above tol"),
    (dict(level=0.5, trend=-2.0), dict(frozen=True, stationary=True), CONVERGED, "at tol beats falling and frozen"),
    (dict(level=0.5, trend=2.0, gT=3.5), dict(), DIVERGED, "a blow-up beats a low level"),
    (dict(trend=-2.0), dict(frozen=True, stationary=True), LOCAL_MIN, "frozen at a stationary point"),
    (dict(trend=-2.0), dict(frozen=True), STALLED, "frozen, gradient not vanished, beats falling"),
    (dict(trend=-2.0), dict(stationary=True), SLOW, "falling beats stationary when not frozen"),
    (dict(), dict(stationary=True), LOCAL_MIN, "flat at a stationary point above tol"),
]


def test_each_noisy_rule_at_its_edge_and_in_its_order():
    summary = {key: np.array([{**BASE, **case}[key] for case, _, _, _ in CASES], np.float32) for key in BASE}
    flags = {key: np.array([extra.get(key, False) for _, extra, _, _ in CASES]) for key in
             ("nonfinite", "frozen", "stationary")}
    got = np.asarray(_noisy_outcome(summary, np.float32(1.0), eps=EPS, **flags))
    for row, (_, _, expected, why) in enumerate(CASES):
        assert got[row] == expected, f"row {row} ({why}): got {got[row]}, expected {expected}"


def records_of(curves):
    """Records every 10 steps of per-step curves (runs, steps + 1) and each window's extremes."""
    curves = np.asarray(curves, np.float64)
    ends = np.stack([curves[:, :-1], curves[:, 1:]])
    runs = curves.shape[0]
    return (curves[:, ::10], ends.max(0).reshape(runs, -1, 10).max(-1), ends.min(0).reshape(runs, -1, 10).min(-1),
            np.arange(curves.shape[1])[::10])


def test_classify_applies_the_noisy_rules_only_to_the_runs_marked_noisy():
    rng = np.random.default_rng(1)
    t = np.arange(401)
    wobble = 0.05 * rng.standard_normal((1, 401))
    floor = 1.0 + wobble  # stationary at 1 above f* = 0, swinging by sampling noise
    records, hi, lo, steps = records_of(np.concatenate([floor, floor, 0.2 * 0.99**t[None] + 1e-9 * wobble]))
    codes = classify(records, hi, lo, 0.0, steps, noisy=np.array([True, False, True]))
    assert codes[0] == NOISE_FLOOR  # noisy: a level held up by noise
    assert codes[1] == OSCILLATING  # the deterministic rules: bounded swings that do not shrink
    assert codes[2] == SLOW  # 0.2·0.99^t still falls far beyond its noise, well above tol = 2e-5


def test_a_noisy_slow_run_needs_its_fitted_line_carried_down_to_tol():
    rng = np.random.default_rng(2)
    t = np.arange(401.0)
    curve = 5.0 - 0.01 * t + 0.02 * rng.standard_normal(401)  # falls 1 per 100 steps, noise 0.02
    records, hi, lo, steps = records_of(curve[None])
    criteria = Criteria(rtol=0.1)
    out = _assess(records, hi, lo, 0.0, steps, criteria, noisy=True)
    assert int(out["outcome"][0]) == SLOW
    J = criteria.final_windows(len(steps) - 1)
    gaps, at = records[0, -(2 * J + 1):], steps[-(2 * J + 1):].astype(np.float64)
    slope = np.polyfit(at, gaps, 1)[0]
    level, tol = gaps[-(J + 1):].mean(), 1e-6 + 0.1 * records[0, 0]
    assert float(out["steps_to_go"][0]) == pytest.approx((level - tol) / -slope, rel=1e-4)
    # the level is the mean of the last J + 1 records (about 1.5, at step 350): 100 steps on to 0.5 at 0.01 a step
    assert 90 < float(out["steps_to_go"][0]) < 110


def test_reach_step_at_records_and_inside_windows():
    steps = np.array([0, 10, 20, 30])
    values = np.array([[8.0, 4.0, 2.0, 1.0],     # reaches 2.5 at the record of step 20
                       [8.0, 6.0, 5.0, 4.0],     # never, at records
                       [1.0, 2.0, 3.0, 4.0]])    # at step 0
    lo = np.array([[4.0, 1.5, 1.0],              # the window ending at step 20 went below first: still 20
                   [6.0, 2.0, 4.0],              # a dip in the window ending at step 20
                   [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(np.asarray(reach_step(values, steps, 2.5)), [20.0, np.nan, 0.0])
    np.testing.assert_array_equal(np.asarray(reach_step(values, steps, 2.5, lo=lo)), [20.0, 20.0, 0.0])
    np.testing.assert_array_equal(np.asarray(reach_step(values, steps, np.array([2.0, 4.0, 0.5]))),
                                  [20.0, 30.0, np.nan])  # a target per run; ≤ includes equality
    np.testing.assert_array_equal(np.asarray(reach_step(values, steps, 3.0, higher=True)), [0.0, 0.0, 20.0])
    np.testing.assert_array_equal(np.asarray(reach_step(values[:, :1], steps[:1], 100.0, higher=True)),
                                  [np.nan] * 3)


def test_reach_step_over_a_grid_of_runs_and_in_float64_sweeps():
    """Runs along two grid axes (values (2, 2, R + 1)); a window whose lowest value equals the target reached it;
    the steps come back as float32 (NaN: never) whatever the precision, against a target rounded to the values'."""
    steps = np.array([0, 10, 20, 30])
    values = np.array([[[8.0, 4.0, 2.0, 1.0], [8.0, 8.0, 8.0, 8.0]],
                       [[3.0, 3.0, 3.0, 0.5], [9.0, 9.0, 9.0, 9.0]]])
    lo = np.array([[[4.0, 2.0, 1.0], [8.0, 2.5, 8.0]],
                   [[3.0, 3.0, 0.5], [9.0, 9.0, 9.0]]])  # the last run never gets there
    np.testing.assert_array_equal(np.asarray(reach_step(values, steps, 2.5)), [[20.0, np.nan], [30.0, np.nan]])
    np.testing.assert_array_equal(np.asarray(reach_step(values, steps, 2.5, lo=lo)), [[20.0, 20.0], [30.0, np.nan]])
    import jax

    with jax.enable_x64(True):
        tenth = np.full((1, 2), np.float32(0.1))  # float32 values at the float32 nearest 0.1, above 0.1 itself
        got = reach_step(tenth, np.array([0, 5]), np.float64(0.1))  # a NumPy float64 target (not weakly typed)
        assert got.dtype == np.float32 and np.asarray(got).tolist() == [0.0]


def test_the_noise_floor_has_its_colour_only_in_a_noisy_palette():
    from edujax.core.outcomes import OUTCOMES, palette

    assert list(palette(noisy=True)) == [*OUTCOMES, "noise_floor"] and list(palette()) == list(OUTCOMES)


def test_the_final_part_is_at_most_half_the_windows():
    assert [Criteria(window=0.5).final_windows(w) for w in (1, 2, 3, 4, 5)] == [1, 1, 1, 2, 2]
