"""What happened to a run: one of five outcomes, decided by documented rules.

The classifier reads only what the runner reduced while scanning: the loss at
`R + 1` record points (`loss_trace`), the total variation of the loss between
consecutive steps inside each of the `R` record windows (`tv_trace`, so a loss
that bounces every step is seen even though it is recorded only every k
steps; it is non-finite as soon as one loss was). Everything is measured on the
*gap* g = loss − f*, where f* is the experiment's known global minimum.

With g0 the first gap, gT the last, and the *final window* the last
`window` share of the record windows (net = gT − g at the window start,
tv = the loss's total variation inside it), the rules apply in this order:

1. ``diverged``    a loss was non-finite, or gT > diverge_factor · g0.
2. ``converged``   gT + tv_last ≤ atol + rtol · g0, where tv_last is the
                   loss's total variation over the last record window: the
                   run closed all but a rtol share of its initial gap and
                   stayed there for the last window (a loss that merely
                   passes near f* on its way up and down does not count).
3. ``local_min``   settled but above the global minimum (rule 2 failed).
                   Settled: in the final window the loss moved by a
                   negligible share of its remaining gap (tv ≤ settle · gT +
                   atol) *and* far less than a steady crawl would (tv ≤
                   stalled · window · tv_run + atol, tv_run the loss's total
                   variation over the whole run): a run whose learning rate
                   is merely tiny moves about `window` of its total movement
                   in the final window, and stays `slow`.
4. ``slow``        still improving steadily: net ≤ −trend · tv.
5. ``diverged``    still growing steadily and above its start:
                   net ≥ trend · tv and gT > g0.
6. ``oscillating`` anything else: bounded but not settling, the loss going
                   up and down by more than it makes progress.

An experiment whose runs can fail in ways these rules cannot see (a GAN's
mode collapse) names extra outcomes with their colours
(`Experiment.extra_outcomes`, codes numbered after the standard five) and
relabels runs with its own documented rules (`Experiment.classify`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from edujax.errors import UserError

OUTCOMES = ("converged", "slow", "oscillating", "diverged", "local_min")
CONVERGED, SLOW, OSCILLATING, DIVERGED, LOCAL_MIN = range(len(OUTCOMES))

#: One fixed colour per outcome, so every heatmap reads the same way.
COLORS = {
    "converged": "#2ca02c",
    "slow": "#9ecae1",
    "oscillating": "#ff7f0e",
    "diverged": "#d62728",
    "local_min": "#9467bd",
}


@dataclasses.dataclass(frozen=True)
class Criteria:
    """Thresholds of the rules in this module's docstring; tune per experiment."""

    rtol: float = 1e-4
    atol: float = 1e-6
    diverge_factor: float = 1e3
    window: float = 0.25
    settle: float = 1e-4
    stalled: float = 0.1
    trend: float = 0.5

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (np.isfinite(value) and value >= 0):
                raise UserError(f"criteria.{field.name} must be a non-negative number, got {value!r}")
        if not 0 < self.window <= 1:
            raise UserError(f"criteria.window must be in (0, 1], got {self.window!r}")


def classify(loss_trace, tv_trace, global_min: float, criteria: Criteria = Criteria()) -> np.ndarray:
    """Outcome codes (indices into `OUTCOMES`) for runs along the leading axes.

    loss_trace: (..., R + 1) loss at the record points, first and last included.
    tv_trace:   (..., R) total variation of the loss inside each record window
                (non-finite as soon as any loss in the window was).
    """
    c = criteria
    gap = np.asarray(loss_trace, np.float64) - global_min
    tv_trace = np.asarray(tv_trace, np.float64)
    n_windows = tv_trace.shape[-1]
    judged = max(1, int(round(c.window * n_windows)))
    g0, g_end, g_window_start = gap[..., 0], gap[..., -1], gap[..., -1 - judged]
    tv = tv_trace[..., -judged:].sum(-1)

    with np.errstate(invalid="ignore", over="ignore"):  # diverged runs carry inf and NaN
        net = g_end - g_window_start
        nonfinite = ~np.isfinite(gap).all(-1) | ~np.isfinite(tv_trace).all(-1)
        diverged = nonfinite | (g_end > c.diverge_factor * g0)
        converged = g_end + tv_trace[..., -1] <= c.atol + c.rtol * g0
        stalled = tv <= c.stalled * c.window * tv_trace.sum(-1) + c.atol
        settled = (tv <= c.settle * g_end + c.atol) & stalled
        improving = net <= -c.trend * tv
        growing = (net >= c.trend * tv) & (g_end > g0)

    # np.select takes the first rule that holds, in the docstring's order.
    return np.select(
        [diverged, converged, settled, improving, growing],
        [DIVERGED, CONVERGED, LOCAL_MIN, SLOW, DIVERGED],
        default=OSCILLATING,
    ).astype(np.int8)


def palette(extra=None) -> dict[str, str]:
    """Outcome name -> colour, in code order: the standard five, then `extra`'s."""
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(COLORS))
    if clash:
        raise UserError(f"extra outcomes must have new names; {', '.join(clash)} is a standard outcome")
    return {**COLORS, **extra}


def counts(codes, names=OUTCOMES) -> dict[str, int]:
    """How many runs ended in each outcome (every name, zeros included)."""
    codes = np.asarray(codes).ravel()
    return {name: int(np.sum(codes == i)) for i, name in enumerate(names)}
