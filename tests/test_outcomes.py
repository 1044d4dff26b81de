"""The classifier on constructed loss curves: each rule of edujax.outcomes, one by one, and its edges."""
import numpy as np
import pytest

from edujax.errors import UserError
from edujax.outcomes import (
    CONVERGED, DIVERGED, LOCAL_MIN, OSCILLATING, OUTCOMES, SLOW, STALLED, Criteria, assess, classify, counts,
)

STEPS, WINDOW = 400, 8  # 50 record windows of 8 steps
t = np.arange(STEPS + 1)
RECORD_STEPS = t[::WINDOW]


def reduce(curve):
    """What the runner keeps of an every-step loss curve: the records, and each window's largest and smallest
    loss, both ends of the window included."""
    curve = np.asarray(curve, np.float64)
    ends = np.stack([curve[:-1], curve[1:]])
    return curve[::WINDOW], ends.max(0).reshape(-1, WINDOW).max(1), ends.min(0).reshape(-1, WINDOW).min(1)


def judge(curve, global_min=0.0, criteria=Criteria(), **runs):
    records, hi, lo = reduce(curve)
    return assess(records, hi, lo, global_min, RECORD_STEPS, criteria, **runs)


def label(curve, global_min=0.0, criteria=Criteria(), **runs):
    return int(judge(curve, global_min, criteria, **runs)["outcome"])


def test_fast_exponential_decay_converges():
    assert label(100 * 0.9**t) == CONVERGED


def test_a_start_at_the_minimum_converges():
    assert label(np.zeros(STEPS + 1)) == CONVERGED


def test_steady_but_unfinished_decay_is_slow_with_the_steps_it_still_needs():
    out = judge(100 * 0.999**t)
    assert int(out["outcome"]) == SLOW
    # 100·0.999^(400 + n) = tol = 1e-6 + 1e-4·100  ⇔  n = ln(tol / (100·0.999^400)) / ln 0.999
    expected = np.log((1e-6 + 1e-2) / (100 * 0.999**400)) / np.log(0.999)
    assert float(out["steps_to_go"]) == pytest.approx(expected, rel=1e-3)


def test_geometric_growth_diverges():
    assert label(1.0 * 1.05**t) == DIVERGED


def test_nan_or_inf_anywhere_diverges():
    curve = 100 * 0.9**t
    curve[201] = np.nan  # between two records: only the envelope sees it
    assert label(curve) == DIVERGED
    curve[201] = np.inf
    assert label(curve) == DIVERGED
    curve[201] = -np.inf
    assert label(curve) == DIVERGED


def test_slow_growth_to_new_highs_diverges():
    # grows only 3x over the run, but steadily to the very end
    assert label(1.0 * 1.0028**t) == DIVERGED


def test_growth_that_stops_is_not_diverged():
    # rises a thousandfold, then stays exactly there (a saturated GAN, a frozen run): bounded, stalled
    curve = np.minimum(1.05**t, 1000.0)
    assert label(curve, frozen=True) == STALLED
    # rises, then swings at a constant amplitude below its top: bounded, oscillating
    curve = np.where(t < 150, 1.05**t, 500 + 100 * np.cos(0.7 * t))
    assert label(curve) == OSCILLATING


def test_bounded_bouncing_oscillates():
    # the loss swings between ~1 and ~3 for the whole run: bounded, not settling
    assert label(2 + np.cos(0.7 * t)) == OSCILLATING


def test_a_decaying_swing_is_not_oscillating():
    # the swing's envelope shrinks like 0.99^t: by e^-4 over the run: converging, slowly
    assert label(100 * 0.99**t * (1.5 + np.cos(0.7 * t))) == SLOW
    # ... and like 0.9^t: converged
    assert label(100 * 0.9**t * (1.5 + np.cos(0.7 * t))) == CONVERGED


def test_a_swing_that_shrinks_by_less_than_a_factor_e_per_run_oscillates():
    # envelope 0.9995^t: over a run of 400 steps it shrinks by e^-0.2 only
    assert label(100 * 0.9995**t * (1.5 + np.cos(0.7 * t))) == OSCILLATING
    # envelope 0.996^t: e^-1.6 per run: shrinking
    assert label(100 * 0.996**t * (1.5 + np.cos(0.7 * t))) == SLOW


def test_settling_above_the_minimum_with_a_vanished_gradient_is_a_local_minimum():
    curve = 1.0 + 99 * 0.96**t  # settles at 1; the true minimum is 0
    grad = np.sqrt(2 * 0.04 * 99 * 0.96**t)  # |∇| of a quadratic well of curvature 0.04: √(2λ(f − f_well))
    assert label(curve, grad0=grad[0], grad=grad[-1], newton=grad[-1] ** 2 / 0.08) == LOCAL_MIN
    assert label(curve, grad0=grad[0], grad=grad[-1]) == LOCAL_MIN  # κ alone: it fell a millionfold
    assert label(curve, global_min=1.0, grad0=grad[0], grad=grad[-1], newton=grad[-1] ** 2 / 0.08) == CONVERGED


def test_settling_above_the_minimum_without_gradient_information_is_stalled():
    assert label(1.0 + 99 * 0.96**t) == STALLED


def test_a_power_law_crawl_with_a_live_gradient_is_slow_not_a_local_minimum():
    # f = 100/(1 + t/10): decelerating, as in a curved valley; its gradient ~ √f has not vanished relative to f
    curve = 100 / (1 + t / 10)
    assert label(curve, grad0=np.sqrt(100), grad=np.sqrt(curve[-1]), newton=curve[-1]) == SLOW


def test_a_ravine_crawling_steadily_is_slow_not_stuck():
    # loses 1e-6 of its gap per step (8 float32 units), as fast at the end as at the start, with a gradient far
    # smaller than at the start (an ill-conditioned problem): still on its way down
    curve = 100 * (1 - 1e-6) ** t
    out = judge(curve, grad0=1e3, grad=1e-3)
    assert int(out["outcome"]) == SLOW and float(out["steps_to_go"]) == pytest.approx(
        np.log(1e-4) / np.log(1 - 1e-6), rel=0.05)
    # ten times slower it moves by less than one float32 unit per step: what is left is rounding, it has stopped
    assert label(100 * (1 - 1e-7) ** t, grad0=1.0, grad=1.0) == STALLED


def test_a_frozen_run_is_stalled_unless_it_sits_at_a_stationary_point():
    flat = np.full(STEPS + 1, 5.0)
    # the gradient is alive: a Newton step would still remove 2 of the gap 5: a freeze
    assert label(flat, frozen=True, grad0=2.0, grad=2.0, newton=2.0) == STALLED
    assert label(flat, frozen=True, grad0=2.0, grad=1e-3, newton=5e-7) == LOCAL_MIN  # removes 1e-7 of it: stationary
    # an ill-conditioned ravine frozen in float32: the gradient fell a millionfold from the start, but along the flat
    # direction a Newton step would still remove the whole gap: a freeze, not a minimum
    assert label(flat, frozen=True, grad0=1e6, grad=1.0, newton=5.0) == STALLED
    # a plateau: the gradient is tiny, but the loss curves down: no minimum
    assert label(flat, frozen=True, grad0=1e-9, grad=1e-9, newton=np.inf) == STALLED
    # with the gradient's norm alone, it must have vanished relative to its start (κ fell below gtol of κ_0)
    assert label(flat, frozen=True, grad0=2.0, grad=2e-3) == LOCAL_MIN
    assert label(flat, frozen=True, grad0=2.0, grad=0.2) == STALLED
    # a flat loss while the state keeps bouncing (a 2-cycle between two points of equal loss) is no stop
    assert label(flat, moved=0.5) == OSCILLATING
    # a loss that changes by less than one float32 unit per step is at its resolution: stopped, here stalled
    assert label(5.0 + 1e-9 * t) == STALLED
    assert label(5.0 - 1e-5 * t, grad0=1.0, grad=1.0) == SLOW  # ~100 units per step: a real descent


def test_passing_near_the_minimum_while_bouncing_is_not_convergence():
    # |cos| touches zero at the very last step, but the loss keeps swinging
    curve = 5 * np.cos(np.pi * t / 16 + np.pi / 2 - np.pi * STEPS / 16) ** 2
    assert abs(curve[-1]) < 1e-9
    assert label(curve) == OSCILLATING


def test_thresholds_are_configurable():
    curve = 100 * 0.98**t  # ends at 100 * 3e-4
    assert label(curve) == SLOW
    assert label(curve, criteria=Criteria(rtol=1e-3)) == CONVERGED


def test_the_measure_counts_decades_gained_and_blow_ups_by_how_early():
    assert float(judge(100 * 0.98**t)["measure"]) == pytest.approx(400 * np.log10(0.98), rel=1e-6)
    assert float(judge(1.0 * 1.01**t)["measure"]) == pytest.approx(400 * np.log10(1.01), rel=1e-6)
    early, late = 1.0 * 1.5**t, 1.0 * 1.5**t
    early[100:], late[300:] = np.inf, np.inf
    m_early, m_late = float(judge(early)["measure"]), float(judge(late)["measure"])
    assert m_early > m_late > np.log10(np.finfo(np.float32).max)  # NumPy input is judged in JAX's default float


def test_assess_is_vectorised_over_leading_axes():
    curves = [100 * 0.9**t, 100 * 0.999**t, 1.05**t, 2 + np.cos(0.7 * t), 1 + 99 * 0.9**t, np.full(STEPS + 1, 3.0)]
    records, hi, lo = map(np.stack, zip(*map(reduce, curves)))
    frozen = np.array([False, False, False, False, False, True])
    grad0, grad = np.ones(6), np.array([1.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    codes = classify(records.reshape(6, 1, -1), hi.reshape(6, 1, -1), lo.reshape(6, 1, -1), 0.0, RECORD_STEPS,
                     frozen=frozen.reshape(6, 1), grad0=grad0.reshape(6, 1), grad=grad.reshape(6, 1))
    assert codes.shape == (6, 1)
    assert codes.ravel().tolist() == [CONVERGED, SLOW, DIVERGED, OSCILLATING, LOCAL_MIN, STALLED]
    assert counts(codes) == {name: 1 for name in OUTCOMES}


@pytest.mark.parametrize("field, value", [("rtol", -1.0), ("window", 0.0), ("window", 0.75), ("gtol", float("nan")),
                                          ("trend", True)])
def test_invalid_criteria_are_rejected(field, value):
    with pytest.raises(UserError, match=field):
        Criteria(**{field: value})


@pytest.mark.parametrize("field, value", [("rtol", 0.0), ("atol", 0.0), ("window", 0.5), ("window", 0.01),
                                          ("gtol", 0.0), ("trend", 0.0)])
def test_edge_values_of_the_criteria_are_accepted(field, value):
    assert getattr(Criteria(**{field: value}), field) == value


@pytest.mark.parametrize("windows, expected", [(50, 12), (25, 6), (4, 1), (1, 1), (2, 1)])
def test_the_final_part_is_a_quarter_of_the_windows_and_at_most_half(windows, expected):
    assert Criteria().final_windows(windows) == expected
