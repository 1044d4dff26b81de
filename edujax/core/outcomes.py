"""What happened to a run: one of six outcomes, decided from its dynamics.

The runner reduces every run while it trains (`edujax.runner.sweep`): the loss at
`R + 1` record points (step 0, the start of each of `R` record windows, the
last step), the loss's *envelope* in each window (its largest and smallest
value at any step, both ends included, so a loss that bounces every step is
seen although it is recorded every k steps), the metrics at the first and the
last step, and whether one more update would change any bit of the state
(``frozen``: the state is a fixed point of the float arithmetic). Everything is
measured on the *gap* g = loss − f*, f* the experiment's known global minimum.

Notation: g0 and gT the first and last gap; tol = atol + rtol·g0; the *final
part* is the last J = round(window·R) record windows; H and A the envelope's
top (gap) and swing (top − bottom) in a window. A run is at a *stationary
point* when its gradient g has vanished relative to its scale: a Newton step
would remove at most a `gtol` share of the gap (½gᵀH⁻¹g ≤ gtol·gT, the
``newton_gain`` metric, which `edujax.minimize` records: it sees the flat
directions of an ill-conditioned ravine, and a plateau or a saddle where the
loss curves down is no minimum). With only ``grad_norm`` recorded, the test is
that κ = |g|²/(2·gap) fell to gtol of its start; with neither, no run is a
local minimum. The rules apply in this order:

1. ``diverged``    a loss was non-finite, or the growth does not stop: over
                   the final part (and the window before it) the envelope's
                   top rose in every window (a late spike after a flat
                   stretch is not sustained growth), and the loss either
                   climbed steadily (rose by at least `trend` of its swings,
                   faster than rule 3's rounding) or its swings' top grew by a
                   factor e or more per run length (the mirror of rule 5's
                   shrinking). A run that rose and then stayed bounded or
                   froze, or whose swings drift up slower than that, is not.
2. ``converged``   gT ≤ tol and the top of the final window ≤ tol: it
                   closed all but an `rtol` share of its initial gap and
                   stayed there for the last window (a loss that merely passes
                   near f* while swinging does not count).
3. ``local_min``   the run stopped above f*: ``frozen``, or its loss moved by
   / ``stalled``   less than one unit of float precision (eps·|loss|) per step
                   over the final part, swings included, while the state
                   travelled less than its own size (a state bouncing between
                   two points of equal loss has not stopped). At a stationary
                   point that is ``local_min``; else ``stalled``: a float32
                   freeze (updates below the parameters' resolution, e.g. in
                   an ill-conditioned ravine), a plateau, a saturated GAN.
4. ``local_min``   still moving, but settling at a level above f*: the
   / ``stalled``   windows' bottoms fall by steps that shrink geometrically
                   — of three bottoms m windows apart over the final part, the
                   second drop is at most e^(−1/2) times the first (q) — and
                   the level they extrapolate to (the last bottom minus the
                   geometric tail Δ·q/(1 − q)) is above tol and holds at
                   least half of the current gap. At a stationary point that
                   is ``local_min``; without gradient information it is
                   ``stalled``; with a gradient that has not vanished the run
                   is still crawling (a power-law decay, the slow mode of an
                   ill-conditioned problem: not a minimum) and rule 5 applies.
5. ``slow``        still making progress: the loss fell over the final part
                   by at least `trend` of its swings (a steady descent), or
                   the envelope is shrinking by at least one factor e per
                   run length (its top over the final part ≤ exp(−J·k/steps)
                   times its top over the J windows before). `steps_to_go`
                   estimates the steps still needed to reach tol at the
                   measured rate.
6. ``oscillating`` anything else: bounded, and the envelope is not
                   shrinking (a swing that decays is converging: rules 2, 5).

Beside the label every run gets a continuous `measure`: log10(gT / g0) when
the loss stayed finite (negative: decades gained; positive: decades lost), and
log10(float max / g0) + 10·(share of the run left when it blew up) when it
did not, so its sign separates runs that got better from runs that got worse.

Noisy runs (minibatch SGD: `Experiment.noisy`) are judged by rules of their
own, since a loss measured on a random minibatch, or a state jittering around
the minimum, moves without any trend. Their records must be the loss on the
full data (or a fixed held-out set) at the record points, which sampling noise
does not reach; only the parameters' own fluctuation remains. Over the last
2J windows (2J + 1 records) a straight line is fitted to the gap: its fitted
change over that stretch (the *trend*) and its standard error (from the
residuals). A trend counts when it exceeds `NOISE_MARGIN` standard errors (and
the float resolution); the *level* is the mean gap over the last J windows.
In this order:

1. ``diverged``    a loss was non-finite, or the last gap is above the first
                   and the gap rises: the trend does, or the same line
                   fitted to log(gap) rises by a factor e or more beyond
                   `NOISE_MARGIN` of its standard errors (a blow-up that
                   stays finite grows geometrically: a straight rise in the
                   logarithm, one late spike to a straight line).
2. ``converged``   the level is within tol: the run sits, on average, within
                   the tolerance of the target.
3. ``local_min``   ``frozen`` (no update changes a bit): at a stationary point
   / ``stalled``   ``local_min``, else ``stalled``.
4. ``slow``        the trend falls: still measurably descending.
5. ``local_min``   the trend has stopped at a stationary point of the full
                   loss (the Newton or κ test above, on the full data): a
                   minimum that is not the target.
6. ``noise_floor`` the trend has stopped above the tolerance away from any
                   stationary point: the run hovers at a level held up by
                   gradient noise (its excess loss grows with lr/B for SGD).
                   A smaller learning rate or a larger batch goes lower.

A noisy run never gets ``oscillating``: without a trend, a bounded run that
swings is what gradient noise looks like. ``noise_floor`` has code 6 and is
part of a noisy experiment's palette only, so a deterministic experiment's
codes (and its extra outcomes') do not depend on whether noise exists.

An experiment whose runs can fail in ways these rules cannot see (a GAN's
mode collapse) names extra outcomes with their colours
(`Experiment.extra_outcomes`, codes numbered after the standard six) and
relabels runs with its own documented rules (`Experiment.classify`).

Two public verbs, and where each runs. `summarize` reduces one run's records
to the dozen numbers the rules read, with exact operations only: the sweep
calls it per run, under its vmap (`edujax.runner.chunks`). The rules run on
the whole batch, in the same compiled function, after it: `_judge` composes
one small function per rule (`_diverged`, `_converged`, `_stopped`,
`_stationary`, `_settling`, `_improving` and `_shrinking`; `_noisy_outcome`
for noisy runs) in the order above, and computes `steps_to_go` and `measure`.
`classify` does both stages for NumPy users, on records they hold, and
returns the outcome codes.
"""
from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np

from edujax.core.errors import UserError

OUTCOMES = ("converged", "slow", "oscillating", "diverged", "local_min", "stalled")
CONVERGED, SLOW, OSCILLATING, DIVERGED, LOCAL_MIN, STALLED = range(len(OUTCOMES))

#: One fixed colour per outcome, so every heatmap reads the same way.
COLORS = {
    "converged": "#2ca02c",
    "slow": "#9ecae1",
    "oscillating": "#ff7f0e",
    "diverged": "#d62728",
    "local_min": "#9467bd",
    "stalled": "#7f7f7f",
}

#: The outcome of a noisy run whose trend stopped above its target, and its colour (noisy experiments only).
NOISE_FLOOR = len(OUTCOMES)
NOISY_COLORS = {"noise_floor": "#bcbd22"}

#: How many standard errors a noisy run's fitted trend must exceed to count as one (rules for noisy runs).
NOISE_MARGIN = 3.0

#: Extra decades added to a non-finite run's measure, scaled by the share of the run left when it blew up.
BLOWUP_DECADES = 10.0


#: What each built-in outcome means, in words (the results page's legend).
OUTCOME_MEANINGS = {
    "converged": "reached the global minimum (all but a tiny share of its starting gap) and stayed there",
    "slow": "still improving when the steps ran out (steadily, or with swings that shrink)",
    "oscillating": "bounded, but its swings are not shrinking",
    "diverged": "the loss blew up: it became infinite or NaN, or was still growing to new highs at the end",
    "local_min": "settled at a stationary point above the global minimum (its gradient vanished)",
    "stalled": "stopped moving above the global minimum although its gradient did not vanish: a float32 freeze,"
               " a plateau, a saturated GAN",
}


@dataclasses.dataclass(frozen=True)
class Criteria:
    """The tolerances of the rules in this module's docstring; tune per experiment.

    rtol, atol: what "reached f*" means (rule 2). window: the final part's share
    of the record windows. gtol: the share of the gap a Newton step may still
    remove at a stationary point (rules 3, 4). trend: how much of its swing a
    steady run keeps as net change (rules 1, 5).
    """

    rtol: float = 1e-4
    atol: float = 1e-6
    window: float = 0.25
    gtol: float = 1e-3
    trend: float = 0.5

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not (np.isfinite(value) and value >= 0)):
                raise UserError(f"criteria.{field.name} must be a non-negative number, got {value!r}")
        if not 0 < self.window <= 0.5:
            raise UserError(f"criteria.window must be in (0, 0.5], got {self.window!r}")

    def final_windows(self, windows: int) -> int:
        """J: how many of the `windows` record windows form the final part (at least 1)."""
        return max(1, min(int(round(self.window * windows)), max(1, windows // 2)))


def summarize(loss, hi, lo, global_min, criteria: Criteria = Criteria(), record_steps=None) -> dict:
    """The few numbers per run that the rules read from its records: the first of the two stages of `classify`.

    Exact operations only (slices, subtractions, comparisons, maxima, minima
    and one sum in a fixed order), so a run's summary has the same bits
    however runs are batched: the runner computes it per run, under the vmap,
    where each window's values for a whole batch lie in one row.
    Gaps are measured from `global_min` (f*): g0, gT the first and last gap.
    With `record_steps` the summary also holds what the rules for noisy runs
    read: the gap's fitted trend over the last 2J windows, its standard error
    and the level (see `_trend`).

    >>> import numpy as np
    >>> curve = np.array([4.0, 2.0, 1.0])                   # two windows of one step each
    >>> s = summarize(curve, np.maximum(curve[:-1], curve[1:]), np.minimum(curve[:-1], curve[1:]), 0.0)
    >>> float(s["g0"]), float(s["gT"]), bool(s["finite"])
    (4.0, 1.0, True)
    """
    c = criteria
    loss = jnp.asarray(loss)
    dtype = loss.dtype if jnp.issubdtype(loss.dtype, jnp.floating) else jnp.float32
    # Window-major: loss[k] holds record k of every run.
    loss, hi, lo = (jnp.moveaxis(jnp.asarray(a, dtype), -1, 0) for a in (loss, hi, lo))
    windows = hi.shape[0]
    J = c.final_windows(windows)
    f_star = jnp.asarray(global_min, dtype)
    gap, top, bottom = loss - f_star, hi - f_star, lo - f_star
    before = max(0, windows - J - 1)  # the window before the final part (the tail starts there)
    m = max(1, (windows - before) // 2)
    earlier = top[max(0, windows - 2 * J):windows - J]  # the J windows before the final part
    finite_windows = jnp.isfinite(hi) & jnp.isfinite(lo)
    noisy = {} if record_steps is None else _trend(gap, record_steps, J)
    return {**noisy,
        "g0": gap[0], "gT": gap[-1], "g_part": gap[-J - 1],
        "finite": jnp.isfinite(loss).all(0) & finite_windows.all(0),
        "first_bad": jnp.argmax(~finite_windows, axis=0).astype(jnp.int32),  # 0 when every window is finite
        "part_hi": hi[-J:].max(0), "part_lo": lo[-J:].min(0),
        # a sum in a fixed order (left to right): the same bits however runs are batched
        "swings": functools.reduce(jnp.add, [hi[k] - lo[k] for k in range(windows - J, windows)]),
        "tail_top": top[before], "last_top": top[-1],
        "tail_rising": (top[before + 1:] > top[before:-1]).all(0),
        "bottoms": (bottom[-1 - 2 * m], bottom[-1 - m], bottom[-1]),
        "bottoms_scale": jnp.abs(lo[-1 - 2 * m:]).max(0),
        "earlier_top": earlier.max(0) if len(earlier) else top[0],
        "later_top": top[-J:].max(0),
    }


def classify(loss, hi, lo, global_min, record_steps, criteria: Criteria = Criteria(), **runs) -> np.ndarray:
    """Outcome codes (indices into `OUTCOMES`) of runs along the leading axes, as NumPy: `summarize`, then the
    rules of this module's docstring on the batch.

    Arrays have leading run axes and are reduced along the last one:
    loss (..., R + 1) at `record_steps`; hi, lo (..., R) the loss's largest and
    smallest value in each record window. `runs` (keyword arguments, each
    broadcast to the runs): grad0, grad the gradient norm at the first and the
    last step, newton what a Newton step would still remove at the last step,
    ½gᵀH⁻¹g (NaN or None: not recorded; inf: the loss curves down there);
    frozen: one more update changes no bit of the state; moved: that update's
    size relative to the state's (None: not recorded); noisy: which runs are
    judged by the rules for noisy runs (None: none).

    >>> import numpy as np
    >>> t = np.arange(101.0)
    >>> curve = 2 + np.cos(2.0 * t)                         # bounded, swinging every step, never settling
    >>> ends = np.stack([curve[:-1], curve[1:]])            # each window's steps, both ends included
    >>> hi, lo = ends.max(0).reshape(10, 10).max(1), ends.min(0).reshape(10, 10).min(1)
    >>> OUTCOMES[int(classify(curve[::10], hi, lo, 0.0, t[::10]))]
    'oscillating'
    """
    return np.asarray(_assess(loss, hi, lo, global_min, record_steps, criteria, **runs)["outcome"])


def _assess(loss, hi, lo, global_min, record_steps, criteria: Criteria = Criteria(), *,
            grad0=None, grad=None, newton=None, frozen=None, moved=None, noisy=None) -> dict:
    """`classify`'s judgement in full, ``{"outcome", "measure", "steps_to_go"}``: `summarize`, then `_judge`.
    Arguments as `classify`'s; written with `jax.numpy` (it also takes NumPy arrays).

    >>> import numpy as np
    >>> t = np.arange(101.0)
    >>> curve = 10 * 0.9 ** t                               # a fast geometric decay, 10 windows of 10 steps
    >>> hi, lo = curve[:-1].reshape(10, 10).max(1), curve[1:].reshape(10, 10).min(1)
    >>> OUTCOMES[int(_assess(curve[::10], hi, lo, 0.0, t[::10])["outcome"])]
    'converged'
    """
    summary = summarize(loss, hi, lo, global_min, criteria, None if noisy is None else record_steps)
    return _judge(summary, record_steps, criteria, grad0=grad0, grad=grad, newton=newton, frozen=frozen,
                  moved=moved, noisy=noisy)


def _judge(summary: dict, record_steps, criteria: Criteria = Criteria(), *,
           grad0=None, grad=None, newton=None, frozen=None, moved=None, noisy=None) -> dict:
    """The second stage of `classify`: the rules of this module's docstring applied to `summarize`'s numbers
    (elementwise over the runs), one function per rule below, composed in the rules' order:
    ``{"outcome", "measure", "steps_to_go"}``. The keyword arguments are `classify`'s.

    >>> import numpy as np
    >>> curve = 100 * 0.5 ** np.arange(41.0)                # halves every step: 40 windows of one step
    >>> s = summarize(curve, curve[:-1], curve[1:], 0.0)
    >>> OUTCOMES[int(_judge(s, np.arange(41))["outcome"])]
    'converged'
    """
    c = criteria
    g0, gT = summary["g0"], summary["gT"]
    dtype = g0.dtype
    batch = jnp.shape(g0)

    def optional(value, fill):
        return jnp.broadcast_to(jnp.asarray(fill if value is None else value, dtype), batch)

    grad0, grad, newton = optional(grad0, jnp.nan), optional(grad, jnp.nan), optional(newton, jnp.nan)
    frozen = jnp.broadcast_to(jnp.asarray(False if frozen is None else frozen, bool), batch)
    moved = optional(moved, 0.0)
    info = jnp.finfo(dtype)
    eps, tiny, big = info.eps, info.tiny, info.max
    steps_at = np.asarray(record_steps, np.float64)
    windows = len(steps_at) - 1
    J = c.final_windows(windows)
    tol = c.atol + c.rtol * jnp.maximum(g0, 0)

    # The rules' inputs are computed, and their operations issued, in the order the rules apply: the compiled
    # function is the same however the rules are grouped into functions.
    part_steps = steps_at[-1] - steps_at[-J - 1]
    unresolved = _unresolved(summary, part_steps, eps)
    net = summary["g_part"] - gT  # > 0: the loss fell over the final part
    steady = summary["swings"] * c.trend  # how much of its swings a steady run keeps as net change

    nonfinite = ~summary["finite"]
    diverged = _diverged(summary, nonfinite, net, steady, unresolved, steps_at, J)  # 1.
    converged = _converged(summary, tol)  # 2.
    stopped = _stopped(frozen, moved, unresolved, part_steps)  # 3.
    stationary, known_grad = _stationary(summary, grad0, grad, newton, c.gtol, tiny)  # 3. and 4.
    settling = _settling(summary, tol, eps)  # 4.
    improving = _improving(net, steady)  # 5., a steady descent
    envelope_ratio = _envelope_ratio(summary, tiny)
    shrinking = _shrinking(summary, envelope_ratio, part_steps, steps_at[-1])  # 5., swings that shrink
    progressing = improving | shrinking  # 5.

    outcome = _first_applying(
        [(diverged, DIVERGED), (converged, CONVERGED), (stopped & stationary, LOCAL_MIN), (stopped, STALLED),
         (settling & stationary, LOCAL_MIN), (settling & ~known_grad, STALLED), (progressing, SLOW)],
        OSCILLATING, batch)

    if noisy is not None:
        noisy = jnp.broadcast_to(jnp.asarray(noisy, bool), batch)
        outcome = jnp.where(noisy, _noisy_outcome(summary, tol, nonfinite, frozen, stationary, eps), outcome)

    steps_to_go = _steps_to_go(summary, outcome, tol, improving, shrinking, envelope_ratio, part_steps, steps_at, J,
                               tiny, noisy)
    measure = _measure(summary, nonfinite, windows, dtype, tiny, big)
    return {"outcome": outcome, "measure": measure.astype(jnp.float32), "steps_to_go": steps_to_go.astype(jnp.float32)}


def _first_applying(rules, default: int, shape):
    """Outcome codes: per run, the code of the first rule in `rules` (pairs of a mask and a code) that applies,
    else `default`."""
    outcome = jnp.full(shape, default, jnp.int8)
    for applies, code in reversed(rules):  # the first rule that applies decides: jnp.select's job, but elementwise
        outcome = jnp.where(applies, jnp.int8(code), outcome)  # (select's argmax over the stacked rules cost 25%)
    return outcome


def _unresolved(summary: dict, part_steps, eps):
    """Runs whose loss moved less than one unit of float precision per step over the final part (its whole range
    there, swings included): its course is rounding from here on (rules 1 and 3)."""
    part_hi, part_lo = summary["part_hi"], summary["part_lo"]
    return part_hi - part_lo <= eps * part_steps * jnp.maximum(jnp.abs(part_hi), jnp.abs(part_lo))


def _diverged(summary: dict, nonfinite, net, steady, unresolved, steps_at, J: int):
    """Rule 1: non-finite anywhere, or an envelope still rising at the end: a steady climb, or swings whose top
    grows by a factor e or more per run length."""
    tail_top, last_top = summary["tail_top"], summary["last_top"]
    windows = len(steps_at) - 1
    tail_steps = steps_at[-1] - steps_at[max(0, windows - J - 1)]
    fast = jnp.where(tail_top > 0, last_top >= tail_top * np.exp(tail_steps / steps_at[-1]), True)
    climbing = (-net > 0) & (-net >= steady) & ~unresolved
    rising = summary["tail_rising"] & (fast | climbing)  # sustained: higher in every window
    return nonfinite | rising


def _converged(summary: dict, tol):
    """Rule 2: at tolerance, and the whole last window too."""
    return (summary["gT"] <= tol) & (summary["last_top"] <= tol)


def _stopped(frozen, moved, unresolved, part_steps):
    """Rule 3: a float fixed point, or a loss unresolved over the final part while the state travels less than
    its own size over it (a state bouncing between two points of equal loss has not stopped)."""
    return frozen | (unresolved & (moved * part_steps <= 1))


def _stationary(summary: dict, grad0, grad, newton, gtol: float, tiny):
    """Rules 3 and 4: ``(stationary, gradient known)``. Stationary: a Newton step would remove at most `gtol` of
    the gap (none exists where the loss curves down); with the gradient's norm alone: it vanished relative to its
    start, κ_T ≤ gtol·κ_0 (in logs: squares underflow). Known: either was recorded."""
    g0, gT = summary["g0"], summary["gT"]
    known_grad = jnp.isfinite(grad) & jnp.isfinite(grad0)
    log_kappa_end = jnp.log(grad) - 0.5 * jnp.log(jnp.maximum(gT, tiny))
    log_kappa_start = jnp.log(grad0) - 0.5 * jnp.log(jnp.maximum(g0, tiny))
    vanished = known_grad & ((grad == 0) | (log_kappa_end <= 0.5 * np.log(max(gtol, 1e-300)) + log_kappa_start))
    stationary = jnp.where(jnp.isnan(newton), vanished, newton <= gtol * gT)
    return stationary, known_grad | ~jnp.isnan(newton)


def _settling(summary: dict, tol, eps):
    """Rule 4: the windows' bottoms over the final part (and the window before) fall by steps that shrink
    geometrically, towards a level above tol that holds most of the current gap.

    A run settling on a level L∞ has bottoms L∞ + c·q^j. Three of them, m windows apart, give q^m and L∞
    (Aitken's extrapolation), which wiggles in single windows (a rotating spiral, rounding) cannot fake the way
    one window's drop can.
    """
    b0, b1, b2 = summary["bottoms"]
    noise = 4 * eps * summary["bottoms_scale"]  # a settled bottom can twitch by a few ulps
    first, last = b0 - b1, jnp.maximum(b1 - b2, 0)
    shrink = jnp.where(first > 0, last / first, jnp.inf)  # q^m
    level = b2 - jnp.where(shrink < 1, last * shrink / (1 - shrink), jnp.inf)  # the gap the bottoms head for
    # Settling needs a decisive shrink (by e or more over the final part), not a ratio rounding could fake.
    # ... and most of the current gap must be there to stay (a fast descent that only slows down is no settling).
    return ((first > noise) & (b1 - b2 >= -noise) & (shrink**2 <= np.exp(-1.0)) & (level > tol)
            & (level >= 0.5 * summary["gT"]))


def _improving(net, steady):
    """Rule 5, a steady descent: the loss fell over the final part by at least `trend` of its swings."""
    return (net > 0) & (net >= steady)


def _envelope_ratio(summary: dict, tiny):
    """The envelope's top over the final part relative to its top over the J windows before (rule 5,
    `steps_to_go`)."""
    return summary["later_top"] / jnp.maximum(summary["earlier_top"], tiny)


def _shrinking(summary: dict, envelope_ratio, part_steps, total_steps):
    """Rule 5, swings that shrink: the envelope's top fell by at least one factor e per run length."""
    return (summary["earlier_top"] > 0) & (envelope_ratio <= np.exp(-part_steps / total_steps))


def _steps_to_go(summary: dict, outcome, tol, improving, shrinking, envelope_ratio, part_steps, steps_at, J: int,
                 tiny, noisy):
    """For slow runs, the steps still needed to reach tol at the per-step rate measured over the final part: of
    the gap itself for a steady descent, else of the envelope's top; a noisy slow run's fitted line carried on
    down to tol. inf where no rate is falling; NaN for the other outcomes."""
    gT = summary["gT"]
    part_start = summary["g_part"]
    descending = improving & (gT > 0)
    step_rate_descent = jnp.log(jnp.maximum(gT, tiny) / jnp.maximum(part_start, tiny)) / part_steps
    step_rate_envelope = jnp.log(jnp.maximum(envelope_ratio, tiny)) / part_steps
    rate = jnp.where(descending, step_rate_descent, jnp.where(shrinking, step_rate_envelope, jnp.inf))
    needed = jnp.log(tol / jnp.maximum(jnp.where(descending, gT, summary["last_top"]), tiny)) / rate
    if noisy is not None:  # a noisy slow run: the fitted line carried on down to tol
        tail_steps_noisy = steps_at[-1] - steps_at[-2 * J - 1]
        linear = (summary["level"] - tol) / jnp.maximum(-summary["trend"] / tail_steps_noisy, tiny)
        needed = jnp.where(noisy, jnp.maximum(linear, 0), needed)
        rate = jnp.where(noisy, -1.0, rate)
    return jnp.where(outcome == SLOW, jnp.where(rate < 0, jnp.maximum(needed, 0), jnp.inf), jnp.nan)


def _measure(summary: dict, nonfinite, windows: int, dtype, tiny, big):
    """The continuous measure (this module's docstring): log10(gT / g0) for a finite run, decades to float max
    plus `BLOWUP_DECADES` times the share of the run left for one that blew up."""
    first_bad = summary["first_bad"]
    start_decades = jnp.log10(jnp.maximum(summary["g0"], tiny))  # logs of each side: a ratio of tiny gaps underflows
    # Decades to float max plus the share of the run left, per first bad window: one table (NumPy, float64), so
    # every run's measure is one subtraction whatever XLA makes of the arithmetic around it.
    left = np.log10(np.float64(big)) + BLOWUP_DECADES * (windows - np.arange(windows + 1)) / windows
    blown = jnp.asarray(left, dtype)[first_bad] - start_decades
    progress = jnp.log10(jnp.maximum(summary["gT"], tiny)) - start_decades
    return jnp.where(nonfinite, blown, progress)


def _noisy_outcome(summary: dict, tol, nonfinite, frozen, stationary, eps):
    """The rules for noisy runs (this module's docstring), elementwise: an outcome code per run."""
    change, se = summary["trend"], summary["trend_se"]
    resolved = 4 * eps * summary["tail_scale"]  # a trend must be more than a few ulps of the values
    falling = (-change > NOISE_MARGIN * se) & (-change > resolved)
    rising = (change > NOISE_MARGIN * se) & (change > resolved)
    # growing geometrically: by a factor e or more over the fitted stretch, beyond the log's standard error
    log_change = summary["log_trend"]
    multiplying = (log_change > NOISE_MARGIN * summary["log_trend_se"]) & (log_change >= 1)
    rules = [(nonfinite | ((rising | multiplying) & (summary["gT"] > summary["g0"])), DIVERGED),
             (summary["level"] <= tol, CONVERGED), (frozen & stationary, LOCAL_MIN), (frozen, STALLED), (falling, SLOW),
             (stationary, LOCAL_MIN)]
    return _first_applying(rules, NOISE_FLOOR, jnp.shape(change))


def _trend(gap, record_steps, J: int) -> dict:
    """A straight line fitted to the last 2J + 1 rows of `gap` (window-major: row k holds record k of every run)
    against `record_steps`: ``trend`` (its change over that stretch), ``trend_se`` (that change's standard error,
    from the residuals), ``log_trend`` and ``log_trend_se`` (the same for log(gap)),
    ``level`` (the mean of the last J + 1 rows) and ``tail_scale`` (the largest |gap| there).
    Sums run in a fixed order (the same bits however runs are batched).

    >>> import numpy as np
    >>> fit = _trend(np.array([9.0, 7.0, 5.0, 3.0, 1.0]), np.arange(5) * 10, 2)
    >>> float(fit["trend"]), float(fit["trend_se"]), float(fit["level"])
    (-8.0, 0.0, 3.0)
    """
    gap = jnp.asarray(gap)
    n = 2 * J + 1
    tail = gap[-n:]
    t = np.asarray(record_steps, np.float64)[-n:]
    centred = t - t.mean()
    spread = float(np.sum(centred**2))
    span = float(t[-1] - t[0])

    def total(terms):
        return functools.reduce(jnp.add, terms)

    def fit(rows):
        mean = total(list(rows)) / n
        slope = total([float(c) * (row - mean) for c, row in zip(centred, rows)]) / spread
        residuals = total([jnp.square(row - mean - slope * float(c)) for c, row in zip(centred, rows)])
        return slope * span, jnp.sqrt(residuals / max(n - 2, 1) / spread) * span

    change, se = fit(tail)
    # The same line through the gap's logarithm: a geometric blow-up that stays finite is a straight rise there,
    # where a linear fit sees one late spike within its standard error.
    log_change, log_se = fit(jnp.log(jnp.maximum(tail, jnp.finfo(tail.dtype).tiny)))
    return {"trend": change, "trend_se": se, "log_trend": log_change, "log_trend_se": log_se,
            "level": total(list(tail[-(J + 1):])) / (J + 1), "tail_scale": jnp.abs(tail).max(0)}


def reach_step(values, record_steps, target, higher: bool = False, lo=None):
    """The first step at which a run reached `target`: the first record step whose value is ≤ target (≥ with
    `higher`), NaN when none is. `values` (..., R + 1) at `record_steps`; with `lo` (..., R: each window's
    smallest loss, both ends included) a window whose smallest value reached it counts at the window's end
    (an upper bound: the exact step lies inside the window).

    >>> import numpy as np
    >>> float(reach_step(np.array([8.0, 4.0, 2.0, 1.0]), np.array([0, 10, 20, 30]), 2.5))
    20.0
    """
    values = jnp.asarray(values)
    steps = jnp.asarray(np.asarray(record_steps, np.float64), jnp.float32)
    target = jnp.asarray(target, values.dtype)[..., None]
    hit = values >= target if higher else values <= target
    first = jnp.where(hit.any(-1), steps[jnp.argmax(hit, -1)], jnp.nan)
    if lo is not None:
        window_hit = jnp.asarray(lo) <= target
        by_window = jnp.where(window_hit.any(-1), steps[1:][jnp.argmax(window_hit, -1)], jnp.nan)
        first = jnp.fmin(first, by_window)
    return first


def palette(extra=None, noisy: bool = False) -> dict[str, str]:
    """Outcome name -> colour, in code order: the standard six, ``noise_floor`` for a noisy experiment, then
    `extra`'s."""
    extra = dict(extra or {})
    clash = sorted(set(extra) & (set(COLORS) | set(NOISY_COLORS)))
    if clash:
        raise UserError(f"extra outcomes must have new names; {', '.join(clash)} is a standard outcome")
    return {**COLORS, **(NOISY_COLORS if noisy else {}), **extra}


def counts(codes, names=OUTCOMES) -> dict[str, int]:
    """How many runs ended in each outcome (every name, zeros included)."""
    codes = np.asarray(codes).ravel()
    return {name: int(np.sum(codes == i)) for i, name in enumerate(names)}
