"""The LR range test (`edujax.lrfind`) against fastai's formulas, written out again here in NumPy."""
import numpy as np
import pytest

import edujax as ej
from edujax.core import lrfind
from edujax.runner.lrfind import find
from edujax.store.verdict import versus


def test_schedule_is_fastais():
    lrs = lrfind.schedule()
    t = np.arange(100)
    np.testing.assert_allclose(lrs, 1e-7 * (10 / 1e-7) ** (t / 100), rtol=1e-12)  # SchedExp at train_iter/num_it
    assert lrs[0] == 1e-7 and lrs[-1] == pytest.approx(10 ** (-7 + 8 * 0.99))


def test_smoothing_and_stop_rule():
    raw = np.array([4.0, 3.0, 2.0, 1.0, 1.0, 50.0, 400.0, 1.0])
    smoothed = lrfind.smooth(raw)
    m, expected = 0.0, []
    for t, x in enumerate(raw):  # fastai's AvgSmoothLoss: lerp(loss, val, β), value = val / (1 − β^count)
        m = x + 0.98 * (m - x)
        expected.append(m / (1 - 0.98 ** (t + 1)))
    np.testing.assert_allclose(smoothed, expected, rtol=1e-12)
    best = np.minimum.accumulate(smoothed)
    first = int(np.argmax(smoothed > 4 * best))  # fastai raises CancelFit after recording this step
    assert first == 5  # the smoothed loss ≈ 10 > 4 × ≈ 2.1
    assert lrfind.recorded(smoothed).tolist() == [True] * (first + 1) + [False] * (len(raw) - first - 1)


def reference(lrs, losses):
    """fastai's suggestions in vectorised NumPy (steep, minimum) and an independent longest-valley search."""
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    n = len(losses)
    lds = np.ones(n, int)
    for i in range(1, n):
        below = np.flatnonzero(losses[:i] > losses[i])
        lds[i] = 1 + (lds[below].max() if len(below) else 0)
    end = int(np.argmax(lds))  # the first index of the longest valley's end
    start = end - lds[end]
    third = (end - start) / 3
    return {"steep": lrs[np.argmin(slopes)], "minimum": lrs[np.argmin(losses)] / 10,
            "valley": lrs[start + int(third) + int(third / 2)]}


def test_suggestions_on_a_fixed_curve():
    lrs = lrfind.schedule()
    x = np.log10(lrs)
    # falls, bumps, blows up
    raw = 2 + np.tanh(-(x + 2)) + 0.05 * np.sin(7 * x) + np.where(x > -0.5, 300 * (x + 0.5) ** 2, 0)
    smoothed = lrfind.smooth(raw)
    kept = lrfind.recorded(smoothed)
    n = int(kept.sum())
    assert 10 + 5 < n < 100
    got = lrfind.suggest(lrs, smoothed, kept)
    want = reference(lrs[10:n - 5], smoothed[10:n - 5])
    assert got == pytest.approx(want, rel=1e-12)
    assert all(1e-6 < v < 1 for v in got.values())


def test_finder_runs_gradient_descent_with_the_growing_rate(quadratic):
    finder = find(quadratic)  # start_angle: the middle of its axis
    theta = np.deg2rad(float(quadratic.grid.axis("start_angle").values[127]))
    xy, losses = 5.0 * np.array([np.cos(theta), np.sin(theta)]), []
    for lr in lrfind.schedule():
        losses.append(0.5 * (xy[0] ** 2 + 10 * xy[1] ** 2))
        xy = xy * (1 - lr * np.array([1.0, 10.0]))
    losses = np.array(losses)
    finite = np.isfinite(finder.loss[0])
    np.testing.assert_allclose(finder.loss[0][finite][:80], losses[:80], rtol=2e-4)
    assert finder.kept[0].sum() < 100  # it blew up: stopped at 4× the best smoothed loss
    assert finder.suggestions["minimum"][0] == pytest.approx(lrfind.suggest(
        lrfind.schedule(), finder.smoothed[0], finder.kept[0])["minimum"])


def test_versus_and_mistakes(quadratic):
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 32), ej.linspace("start_angle", 0.0, 90.0, 5))
    result = ej.sweep(quadratic, grid, 300)
    finder = find(quadratic, grid=grid, at={"start_angle": 50})
    assert finder.setting == {"start_angle": "45"}
    verdict = versus(finder, result)
    assert verdict.band is not None and verdict.band[1] < 0.2
    by = {r["suggestion"]: r for r in verdict.rows}
    assert by["minimum"]["ratio"] >= 1 and by["valley"]["in_band"] in (0, 1)
    assert "steepest descent" in verdict.to_text()
    with pytest.raises(ej.UserError, match="no such axis"):
        find(quadratic, at={"momentum": 0.9})
    with pytest.raises(ej.UserError, match="not a number"):
        find(quadratic, at={"start_angle": "north"})
