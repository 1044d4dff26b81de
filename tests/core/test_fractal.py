"""The box-counting dimension on boundaries of known dimension, and the zoom's window arithmetic."""
import numpy as np
import pytest
from matplotlib.path import Path

from edujax.core import fractal

N = 256  # cells per side of every test picture
CENTRES = (np.arange(N) + 0.5) / N
X, Y = np.meshgrid(CENTRES, CENTRES, indexing="ij")


def koch_curve(level: int) -> np.ndarray:
    """The Koch curve from (0, 0) to (1, 0) after `level` refinements: each segment
    becomes four, a third as long, the middle two forming an equilateral bump."""
    points = np.array([[0.0, 0.0], [1.0, 0.0]])
    turn = np.array([[0.5, -np.sqrt(3) / 2], [np.sqrt(3) / 2, 0.5]])  # +60°
    for _ in range(level):
        a, third = points[:-1], (points[1:] - points[:-1]) / 3
        bump = a + third + third @ turn.T
        points = np.concatenate([np.stack([a, a + third, bump, a + 2 * third], 1).reshape(-1, 2), points[-1:]])
    return points


@pytest.mark.parametrize("angle", [0.0, 0.3, 1.1])
def test_a_straight_boundary_has_dimension_one(angle):
    measure = np.cos(angle) * X + np.sin(angle) * Y - 0.45  # converges below a straight line
    assert fractal.boundary_dimension(measure).dimension == pytest.approx(1.0, abs=0.03)


def test_a_koch_curve_boundary_has_dimension_log4_over_log3():
    """Converging below a Koch curve (5 refinements: its smallest segments are under one
    cell) that spans the picture: 256 cells resolve the dimension to within 0.03."""
    curve = koch_curve(5) + [0.0, 0.3]
    below = Path(np.concatenate([curve, [[1.0, -0.1], [0.0, -0.1]]])).contains_points(np.c_[X.ravel(), Y.ravel()])
    measure = np.where(below.reshape(N, N), -1.0, 1.0)
    assert fractal.boundary_dimension(measure).dimension == pytest.approx(np.log(4) / np.log(3), abs=0.03)


def test_a_filled_noise_boundary_has_dimension_two():
    measure = np.random.default_rng(0).standard_normal((N, N))  # signs at random: boundary almost everywhere
    assert fractal.boundary_dimension(measure).dimension == pytest.approx(2.0, abs=0.05)


def test_box_counts_and_the_fitted_line():
    mask = np.zeros((64, 64), bool)
    mask[10, :] = True  # one full row of cells
    fit = fractal.box_dimension(mask)
    np.testing.assert_array_equal(fit.sizes, [1, 2, 4, 8, 16])
    np.testing.assert_array_equal(fit.counts, [64, 32, 16, 8, 4])  # some placement holds the row in one band of boxes
    assert fit.dimension == pytest.approx(1.0)
    np.testing.assert_allclose(fit.fitted(fit.sizes), fit.counts)
    assert np.isnan(fractal.box_dimension(np.zeros((64, 64), bool)).dimension)  # no boundary, no dimension


def test_the_boundary_is_where_neighbours_disagree_in_sign():
    measure = np.array([[-2.0, -1.0, 3.0], [-1.0, -0.5, 0.0], [-4.0, -3.0, -1.0]])
    np.testing.assert_array_equal(fractal.boundary(measure), [[False, True], [False, True]])  # 0 does not converge
    assert fractal.nearest_boundary_cell(measure, (2.0, 0.0)) == (1.5, 1.5)
    assert fractal.nearest_boundary_cell(-np.ones((3, 3)), (1.0, 1.0)) is None


def test_zoom_windows_and_what_a_precision_resolves():
    values = fractal.axis_values(2.0, 1e-3, 5, "log")
    assert fractal.window_coords(values, "log") == pytest.approx((2.0, 1e-3))
    np.testing.assert_allclose(np.log10(values), 2.0 + np.linspace(-5e-4, 5e-4, 5), rtol=0, atol=1e-13)
    np.testing.assert_allclose(fractal.axis_values(0.5, 2.0, 3, "linear"), [-0.5, 0.5, 1.5])
    # 256 log-spaced cells RESOLVE_ULPS apart: relative spacing width·ln10/255
    for dtype in (np.float32, np.float64):
        finest = fractal.finest_width(0.0, 256, "log", dtype)
        assert finest * np.log(10) / 255 == pytest.approx(fractal.RESOLVE_ULPS * np.finfo(dtype).eps)
    assert fractal.finest_width(100.0, 11, "linear", np.float32) == pytest.approx(16 * 10 * 100 * 2.0**-23)
