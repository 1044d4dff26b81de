"""The learning-rate range test (Smith 2017; fastai's `lr_find`), held against a sweep's truth.

The finder trains one run per seed while its learning rate grows
exponentially, fastai's defaults: step t = 0 … N − 1 (N = 100) uses

    lr_t = start · (end / start)^(t / N),   start = 1e-7, end = 10

(fastai's `SchedExp` at `train_iter / num_it`: the last step's rate is
10^(−7 + 8·0.99) ≈ 8.3, not 10). The loss it reads is fastai's smoothed loss,
an exponential moving average with debiasing,

    m_t = β·m_{t−1} + (1 − β)·loss_t,   m_0 = 0,   smoothed_t = m_t / (1 − β^(t+1)),   β = 0.98,

and it stops after the first step whose smoothed loss exceeds 4× the best so
far (that step is still recorded, as in fastai; here the whole schedule is
computed in one compiled scan, vmapped over seeds, and the stop is a mask).
Its suggestions are computed, as fastai's `lr_find` does, on the recorded
points [N // 10, n − 5) (n recorded), cut before the first non-finite one:

- ``steep``: the lr of the most negative slope (smoothed_{i+1} − smoothed_i) / (ln lr_{i+1} − ln lr_i)
  (the left point of that segment);
- ``minimum``: the lr of the lowest smoothed loss, divided by 10;
- ``valley``: the longest strictly decreasing subsequence of the smoothed losses (fastai's quadratic
  dynamic programme; ties to the earliest end), with end its last index and start = end − its length
  (one before its first point, as fastai computes it), and the point
  start + ⌊(end − start)/3⌋ + ⌊(end − start)/6⌋ (about half way along).

This module holds the schedule and the suggestions (NumPy); `edujax.runner.lrfind.find` runs the test
and `edujax.store.verdict.versus` holds its suggestions against a sweep: is each in the converged band
(`edujax.store.recommend`), and how many times the fastest setting's steps-to-target does the nearest grid
learning rate need?
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

START, END, NUM = 1e-7, 10.0, 100
BETA = 0.98
DIVERGE = 4.0
SUGGESTIONS = ("steep", "minimum", "valley")


def schedule(start: float = START, end: float = END, num: int = NUM) -> np.ndarray:
    """fastai's learning rates: start·(end/start)^(t/num), t = 0 … num − 1.

    >>> schedule(1e-2, 1.0, 4).round(4).tolist()
    [0.01, 0.0316, 0.1, 0.3162]
    """
    return start * (end / start) ** (np.arange(num) / num)


def smooth(losses, beta: float = BETA) -> np.ndarray:
    """fastai's smoothed loss along the last axis: a debiased exponential moving average.

    >>> smooth(np.array([1.0, 3.0]), 0.5).tolist()     # m = 0.5, 1.75; / (1 − 0.5), / (1 − 0.25)
    [1.0, 2.3333333333333335]
    """
    losses = np.asarray(losses, np.float64)
    out, m = np.empty_like(losses), np.zeros(losses.shape[:-1])
    for t in range(losses.shape[-1]):
        m = beta * m + (1 - beta) * losses[..., t]
        out[..., t] = m / (1 - beta ** (t + 1))
    return out


def recorded(smoothed, factor: float = DIVERGE) -> np.ndarray:
    """Which steps fastai would have recorded: all up to and including the first whose smoothed loss
    exceeds `factor` × the lowest so far (the best includes that step, as in fastai).

    >>> recorded(np.array([4.0, 2.0, 9.0, 1.0])).tolist()
    [True, True, True, False]
    """
    smoothed = np.asarray(smoothed, np.float64)
    best = np.minimum.accumulate(np.where(np.isnan(smoothed), np.inf, smoothed), axis=-1)
    with np.errstate(invalid="ignore"):
        over = smoothed > factor * best
    before = np.cumsum(over, -1) - over  # stops before this step
    return before == 0


def steep(lrs, losses) -> float:
    """fastai's `steep`: the lr at the most negative slope of loss vs ln lr (left point of the segment)."""
    lrs, losses = np.asarray(lrs, np.float64), np.asarray(losses, np.float64)
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    return float(lrs[int(np.argmin(grads))])


def minimum(lrs, losses) -> float:
    """fastai's `minimum`: the lr of the lowest loss, divided by 10."""
    return float(np.asarray(lrs, np.float64)[int(np.argmin(losses))]) / 10


def valley(lrs, losses) -> float:
    """fastai's `valley`: about half way along the longest decreasing run of losses (module docstring).

    >>> valley(np.arange(1.0, 9.0), np.array([9.0, 5, 4, 3, 2, 1, 0, 9]))   # end 6, start 6 − 7 = −1: −1 + 2 + 1
    3.0
    """
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def suggest(lrs, smoothed, kept, num: int = NUM) -> dict[str, float]:
    """fastai's three suggestions from one run's smoothed losses and recorded mask (`recorded`): on the points
    [num // 10, n − 5) of the n recorded, cut before the first non-finite one; NaN when too few are left."""
    n = int(np.sum(kept))
    lrs, losses = np.asarray(lrs, np.float64)[num // 10:n - 5], np.asarray(smoothed, np.float64)[num // 10:n - 5]
    bad = np.flatnonzero(~np.isfinite(losses))
    if len(bad):
        lrs, losses = lrs[:bad[0]], losses[:bad[0]]
    if len(losses) < 2:
        return {name: float("nan") for name in SUGGESTIONS}
    return {"steep": steep(lrs, losses), "minimum": minimum(lrs, losses), "valley": valley(lrs, losses)}


@dataclasses.dataclass
class Finder:
    """An LR range test: `lrs` (N,), `loss` (seeds, N: the raw loss of each step), `smoothed`, `kept` (the
    recorded steps), `suggestions` ({name: (seeds,)}), `at` (the other hyperparameters' grid indices)."""

    experiment: str
    lrs: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    kept: np.ndarray
    suggestions: dict[str, np.ndarray]
    at: dict[str, int]
    setting: dict[str, Any]
    seeds: tuple[int, ...]


LABELS = {"steep": "steepest descent", "minimum": "minimum / 10", "valley": "valley"}
