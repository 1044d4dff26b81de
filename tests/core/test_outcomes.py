"""The classifier on constructed loss curves: each rule of edujax.outcomes, one by one, and its edges."""
import numpy as np
import pytest

from edujax.core.errors import UserError
from edujax.core.outcomes import (
    CONVERGED, DIVERGED, LOCAL_MIN, OSCILLATING, OUTCOMES, SLOW, STALLED, Criteria, _assess, classify, counts,
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
    return _assess(records, hi, lo, global_min, RECORD_STEPS, criteria, **runs)


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


def test_classify_is_vectorised_over_leading_axes():
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


# ---------------------------------------------------------------------------- the edges of each rule, one by one


def windows_of(tops, bottoms, records):
    """A run given by its envelope directly: R windows' tops and bottoms and the R + 1 records."""
    return np.asarray(records, np.float64), np.asarray(tops, np.float64), np.asarray(bottoms, np.float64)


@pytest.mark.parametrize("scale", [2.0, 0.02])
@pytest.mark.parametrize("growth, expected", [(0.25, OSCILLATING), (0.262, DIVERGED), (0.27, DIVERGED)])
def test_swings_diverge_when_their_top_grows_by_e_per_run_length(growth, expected, scale):
    # tops × e^(growth/12) per window over the last J + 1 = 13 windows (steps 296..400, 104 of the 400): sustained
    # growth iff the top rose by e^(104/400) = e^0.26 or more; the loss itself (the records) creeps up far less
    # than its swings (no steady climb)
    tops = scale * np.exp(growth / 12 * np.arange(50))
    records = scale * (0.5 + 1e-3 * np.arange(51))
    out = _assess(*windows_of(tops, tops / 20, records), 0.0, RECORD_STEPS)
    assert int(out["outcome"]) == expected


def test_swings_rising_from_f_star_diverge():
    tops = np.where(np.arange(50) < 37, 0.0, 0.01 * (np.arange(50) - 37))  # 0 until window 37, then higher each time
    assert int(_assess(*windows_of(tops, np.zeros(50), np.zeros(51)), 0.0, RECORD_STEPS)["outcome"]) == DIVERGED


def test_a_steady_climb_diverges_though_its_swings_grow_slowly():
    # 1.001^t: the top grows by e^0.1 over the tail only, but the loss climbs by all of its swings
    assert label(1.001**t) == DIVERGED


def test_convergence_needs_the_whole_last_window_at_tolerance():
    assert label(np.where(t < 392, 100.0, 0.0)) == CONVERGED  # 0 from step 392, the last window's first step (392..400)
    assert label(np.where(t <= 392, 100.0, 0.0)) != CONVERGED  # still 100 at step 392, in the last window
    assert label(np.zeros(STEPS + 1), criteria=Criteria(rtol=0, atol=0)) == CONVERGED  # gap 0 ≤ tol 0


def test_a_state_still_travelling_its_own_size_has_not_stopped():
    flat = np.full(STEPS + 1, 5.0)
    assert label(flat, moved=0.5 / 96) == STALLED  # half its size over the 96 steps of the final part
    assert label(flat, moved=1.5 / 96) == OSCILLATING


def test_a_gradient_must_vanish_relative_to_the_gap_it_leaves():
    # κ = |∇|²/(2·gap): from 10²/(2·100.1) at the start to g²/(2·0.1) at the end; stationary iff κ fell to
    # gtol = 1e-3 of its start
    curve = 0.1 + 100 * 0.9**t
    assert label(curve, frozen=True, grad0=10.0, grad=0.02) == STALLED  # κ fell to 4e-3 of its start
    assert label(curve, frozen=True, grad0=10.0, grad=0.005) == LOCAL_MIN  # to 2.5e-4
    assert label(curve, frozen=True, grad0=np.nan, grad=0.0) == STALLED  # no start: nothing to compare with


def test_the_net_change_is_measured_from_the_start_of_the_final_part():
    # flat at 2 from step 100 (after 0.5 before), then a drop to 1 right after record 38 (step 304), the final part's
    # first record: the loss fell over the final part by its whole swing: a steady (if sudden) descent, slow
    curve = np.where(t <= 100, 0.5, np.where(t <= 304, 2.0, 1.0))
    assert label(curve, grad0=1.0, grad=1.0) == SLOW
    # the same drop one window earlier (between records 37 and 38), then small swings: the loss did not fall over
    # the final part, but the envelope's top halved from the J windows before: slow, at the envelope's rate
    curve = np.where(t <= 300, 2.0, 1.0 + 0.01 * np.cos(0.7 * t))
    out = judge(curve, grad0=1.0, grad=1.0)
    _, hi, _ = reduce(curve)
    rate = np.log(hi[-12:].max() / hi[-24:-12].max()) / (400 - 304)  # per step, of the envelope's top
    tol = 1e-6 + 1e-4 * 2.0
    assert int(out["outcome"]) == SLOW
    assert float(out["steps_to_go"]) == pytest.approx(np.log(tol / hi[-1]) / rate, rel=1e-4)


def test_a_loss_that_steps_up_and_stays_flat_has_stopped():
    assert label(np.where(t < 200, 1.0, 5.0)) == STALLED  # the final part is flat: only the last J windows count
    assert label(np.zeros(STEPS + 1), global_min=-1.0) == STALLED  # flat at a loss of exactly 0, above f* = −1


@pytest.mark.parametrize("shift", [3.0, -50.0])
def test_the_rules_see_the_gap_to_f_star_not_the_loss(shift):
    settle = 1.0 + 99 * 0.96**t
    grad = np.sqrt(2 * 0.04 * 99 * 0.96**t)
    cases = [(100 * 0.9**t, {}, CONVERGED), (100 * 0.999**t, {}, SLOW), (1.0 * 1.05**t, {}, DIVERGED),
             (2 + np.cos(0.7 * t), {}, OSCILLATING), (settle, dict(grad0=grad[0], grad=grad[-1]), LOCAL_MIN),
             (settle, {}, STALLED), (100 / (1 + t / 10), dict(grad0=10.0, grad=np.sqrt(100 / 41)), SLOW)]
    for curve, runs, expected in cases:
        assert label(curve, **runs) == expected
        assert label(curve + shift, global_min=shift, **runs) == expected


def test_reaching_f_star_is_relative_to_the_initial_gap():
    # tol = atol + rtol·g0 = 1e-6 + 1e-4 · 0.01 = 2e-6: a start at a gap of 0.01 that ends at 3.4e-6 has not arrived
    out = judge(0.01 * 0.98**t)
    assert int(out["outcome"]) == SLOW
    # ... with the steps still needed at its rate: 0.01·0.98^(400 + n) = 2e-6
    assert float(out["steps_to_go"]) == pytest.approx(np.log(2e-6 / (0.01 * 0.98**400)) / np.log(0.98), rel=1e-3)
    assert label(0.01 * 0.97**t) == CONVERGED  # ends at 5e-8


def test_one_nonfinite_run_does_not_spoil_the_others():
    good, bad_record, bad_step = 100 * 0.9**t, 100 * 0.9**t, 100 * 0.9**t
    bad_record[200], bad_step[201] = np.nan, np.inf  # at a record; between records (the envelope sees it)
    records, hi, lo = map(np.stack, zip(*map(reduce, [good, bad_record, good, bad_step])))
    out = _assess(records, hi, lo, 0.0, RECORD_STEPS)
    assert np.asarray(out["outcome"]).tolist() == [CONVERGED, DIVERGED, CONVERGED, DIVERGED]
    # the measure of a run that blew up: float max's decades over the initial gap, plus 10 × the share of the run left
    # (the windows are closed: the NaN at step 200 is in window 24, steps 192..200, and in window 25)
    blown = np.log10(np.finfo(np.float32).max) - 2 + 10 * np.array([50 - 24, 50 - 25]) / 50
    np.testing.assert_allclose(np.asarray(out["measure"])[[1, 3]], blown, rtol=1e-6)


def test_integer_losses_are_judged_as_floats():
    records, hi, lo = reduce(np.zeros(STEPS + 1))
    assert int(_assess(records.astype(int), hi.astype(int), lo.astype(int), 0, RECORD_STEPS)["outcome"]) == CONVERGED


def test_in_float64_a_loss_moving_by_1e_9_per_step_is_still_descending():
    import jax

    curve = 5.0 - 1e-9 * t  # ~0.05 float32 units per step: float32 cannot see it, float64 can (4e5 units)
    assert label(curve, grad0=1.0, grad=1.0) == STALLED
    with jax.enable_x64(True):
        records, hi, lo = reduce(curve)
        out = _assess(records, hi, lo, 0.0, RECORD_STEPS, grad0=1.0, grad=1.0)
        assert int(out["outcome"]) == SLOW and out["outcome"].dtype == np.int8


def settling_run(q, scale, level=1.0):
    """Windows whose bottoms settle geometrically on `level`: bottom_k = level + scale·q^k (no swings)."""
    bottoms = level + scale * q ** np.arange(50.0)
    return windows_of(bottoms, bottoms, np.concatenate([bottoms[:1], bottoms]))


@pytest.mark.parametrize("q, scale, level, expected", [
    (0.9, 100.0, 1.0, STALLED),  # the bottoms 6 windows apart shrink by q^6 = 0.53, (q^6)² ≤ 1/e: settling on 1
    (0.91, 10.0, 1.0, STALLED),  # (q^6)² = 0.32 ≤ 1/e
    (0.925, 10.0, 1.0, SLOW),  # (q^6)² = 0.39 > 1/e: no decisive shrink, still descending
    (0.95, 10.0, 1.0, SLOW),
    (0.9, 100.0, 0.0, SLOW),  # settling on f* itself: no level to stop at above tol
    (0.9, 1e4, 1.0, SLOW),  # the level 1 holds less than half of the current gap 58: a fast descent slowing down
])
def test_settling_is_a_decisive_geometric_shrink_of_the_bottoms_towards_a_level_above_f_star(q, scale, level, expected):
    assert int(_assess(*settling_run(q, scale, level), 0.0, RECORD_STEPS)["outcome"]) == expected


def test_a_settling_run_with_a_newton_step_left_is_still_descending():
    run = settling_run(0.9, 100.0)
    assert int(_assess(*run, 0.0, RECORD_STEPS, newton=1.0)["outcome"]) == SLOW  # removes most of the gap 1.06
    assert int(_assess(*run, 0.0, RECORD_STEPS, newton=1e-6)["outcome"]) == LOCAL_MIN


def test_stationary_includes_a_newton_step_of_exactly_gtol_of_the_gap():
    flat = np.full(STEPS + 1, 4.0)
    assert label(flat, frozen=True, newton=2.0, criteria=Criteria(gtol=0.5)) == LOCAL_MIN  # 2 ≤ 0.5 · 4
    assert label(flat, frozen=True, newton=2.5, criteria=Criteria(gtol=0.5)) == STALLED


def test_bottoms_that_stop_dropping_at_once_have_settled():
    bottoms = 1 + 100 * 0.7 ** np.minimum(np.arange(50.0), 43)  # flat from window 43: the last drop is zero
    run = windows_of(bottoms, bottoms, np.r_[bottoms[:1], bottoms])
    assert int(_assess(*run, 0.0, RECORD_STEPS)["outcome"]) == STALLED


@pytest.mark.parametrize("ratio, expected", [(np.exp(-0.242), SLOW), (np.exp(-0.238), OSCILLATING)])
def test_an_envelope_is_shrinking_when_its_top_fell_by_e_per_run_length(ratio, expected):
    # the top over the final 12 windows (96 of 400 steps) against the 12 before: shrinking iff it is at most
    # e^(−96/400) = e^−0.24 times as high
    tops = np.concatenate([np.full(26, 0.5), np.full(12, 1.0), np.full(12, ratio)])
    out = _assess(*windows_of(tops, np.full(50, 0.1), np.full(51, 0.3)), 0.0, RECORD_STEPS)
    assert int(out["outcome"]) == expected


def test_each_run_is_judged_by_its_own_envelope():
    curves = [100 * 0.99**t * (1.5 + np.cos(0.7 * t)), 1.05**t]  # a swing shrinking by e^-4, beside a blow-up
    records, hi, lo = map(np.stack, zip(*map(reduce, curves)))
    assert np.asarray(_assess(records, hi, lo, 0.0, RECORD_STEPS)["outcome"]).tolist() == [SLOW, DIVERGED]


def test_a_run_of_one_window_is_judged_by_its_records():
    out = _assess(np.array([10.0, 1.0]), np.array([10.0]), np.array([1.0]), 0.0, np.array([0, 100]))
    assert int(out["outcome"]) == SLOW  # fell by its whole swing


def test_a_frozen_run_has_stopped_whatever_its_loss_did_before():
    # a float fixed point (one more update changes no bit) is a stop even while the records still show a descent
    assert label(100 * 0.999**t, frozen=True) == STALLED


def test_classify_applies_the_criteria_it_is_given():
    records, hi, lo = reduce(100 * 0.98**t)  # ends at 3e-2, 3e-4 of its start
    assert classify(records, hi, lo, 0.0, RECORD_STEPS).tolist() == SLOW
    assert classify(records, hi, lo, 0.0, RECORD_STEPS, Criteria(rtol=1e-3)).tolist() == CONVERGED


@pytest.mark.parametrize("share, windows, expected", [
    (0.15, 25, 4),   # 3.75: to the nearest, not down (3)
    (0.25, 27, 7),   # 6.75
    (0.2, 13, 3),    # 2.6
    (0.1, 17, 2),    # 1.7
    (0.25, 25, 6),   # 6.25: to the nearest, not up (7)
    (0.45, 9, 4),    # 4.05, and at most half the windows (4)
    (0.45, 7, 3),    # 3.15
    (0.01, 30, 1),   # 0.3: at least one window
    (0.3, 1, 1),     # one window: the final part is that window
])
def test_final_windows_rounds_the_share_to_the_nearest_window(share, windows, expected):
    """J = the share × windows rounded to the nearest whole window, at least 1 and at most half the windows:
    checked against the table above and exact rational arithmetic (no product here is a tie)."""
    from fractions import Fraction

    product = Fraction(str(share)) * windows
    assert product.denominator != 2  # a tie would make the rounding rule ambiguous
    nearest = product.numerator * 2 // product.denominator - product.numerator // product.denominator  # ⌊x + ½⌋
    assert max(1, min(nearest, max(1, windows // 2))) == expected
    assert Criteria(window=share).final_windows(windows) == expected
