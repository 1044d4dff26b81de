"""The classifier on constructed loss curves: each rule of edujax.outcomes, one by one."""
import numpy as np
import pytest

from edujax.errors import UserError
from edujax.outcomes import CONVERGED, DIVERGED, LOCAL_MIN, OSCILLATING, OUTCOMES, SLOW, Criteria, classify, counts

STEPS, WINDOW = 400, 8  # 50 record windows of 8 steps


def reduce(curve):
    """What the runner records for an every-step loss curve: records and per-window total variation."""
    curve = np.asarray(curve, np.float64)
    records = curve[::WINDOW]
    steps_tv = np.abs(np.diff(curve)).reshape(-1, WINDOW).sum(1)
    return records, steps_tv


def label(curve, global_min=0.0, criteria=Criteria()):
    records, tv = reduce(curve)
    return int(classify(records, tv, global_min, criteria))


t = np.arange(STEPS + 1)


def test_fast_exponential_decay_converges():
    assert label(100 * 0.9**t) == CONVERGED


def test_steady_but_unfinished_decay_is_slow():
    assert label(100 * 0.999**t) == SLOW


def test_geometric_growth_diverges():
    assert label(1.0 * 1.05**t) == DIVERGED


def test_nan_or_inf_anywhere_diverges():
    curve = 100 * 0.9**t
    curve[200] = np.nan
    assert label(curve) == DIVERGED
    curve[200] = np.inf
    assert label(curve) == DIVERGED


def test_slow_growth_above_start_diverges_by_trend():
    # grows only 3x (below diverge_factor) but steadily: still diverging
    assert label(1.0 * 1.0028**t) == DIVERGED


def test_bounded_bouncing_oscillates():
    # the loss swings between ~1 and ~3 for the whole run: bounded, not settling
    assert label(2 + np.cos(0.7 * t)) == OSCILLATING


def test_damped_bouncing_that_dies_out_converges():
    assert label(100 * 0.9**t * (1.5 + np.cos(0.7 * t))) == CONVERGED


def test_plateau_above_global_min_is_local_min():
    curve = 1.0 + 99 * 0.9**t  # settles at 1, the true minimum is 0
    assert label(curve, global_min=0.0) == LOCAL_MIN
    assert label(curve, global_min=1.0) == CONVERGED


def test_passing_near_the_minimum_while_bouncing_is_not_convergence():
    # |cos| touches zero at the very last step, but the loss keeps swinging
    curve = 5 * np.cos(np.pi * t / 16 + np.pi / 2 - np.pi * STEPS / 16) ** 2
    assert abs(curve[-1]) < 1e-9
    assert label(curve) == OSCILLATING


def test_thresholds_are_configurable():
    curve = 100 * 0.98**t  # ends at 100 * 3e-4
    assert label(curve) == SLOW
    assert label(curve, criteria=Criteria(rtol=1e-3)) == CONVERGED


def test_classify_is_vectorised_over_leading_axes():
    curves = [100 * 0.9**t, 100 * 0.999**t, 1.05**t, 2 + np.cos(0.7 * t), 1 + 99 * 0.9**t]
    records, tvs = zip(*map(reduce, curves))
    codes = classify(np.stack(records).reshape(5, 1, -1), np.stack(tvs).reshape(5, 1, -1), 0.0)
    assert codes.shape == (5, 1)
    assert codes.ravel().tolist() == [CONVERGED, SLOW, DIVERGED, OSCILLATING, LOCAL_MIN]
    assert counts(codes) == {name: 1 for name in OUTCOMES}


@pytest.mark.parametrize("field, value", [("rtol", -1.0), ("window", 0.0), ("window", 1.5), ("settle", float("nan"))])
def test_invalid_criteria_are_rejected(field, value):
    with pytest.raises(UserError, match=field):
        Criteria(**{field: value})


def test_a_tiny_learning_rate_crawling_steadily_is_slow_not_stuck():
    # moves only 2e-5 of its gap per 100 steps: below `settle`, but as fast at the end as at the start
    assert label(100 * (1 - 1e-7) ** t) == SLOW
    assert label(100 * (1 - 1e-7) ** t, criteria=Criteria(stalled=4.0)) == LOCAL_MIN  # crawl test off: 4 · ¼ · tv_run ≥ tv
