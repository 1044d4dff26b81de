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


def expected_sides(shape):
    """1, 2, 4, … up to the power of two nearest (in log) to a quarter of the SHORTER side (at least 1)."""
    quarter = max(min(shape) / 4, 1)
    top = min(range(40), key=lambda k: abs(k - np.log2(quarter)))
    return [2**k for k in range(top + 1)]


def brute_force_count(mask, s):
    """The fewest boxes of side s holding every True cell, over the box grid shifted by 0 or s // 2 on each axis:
    the distinct boxes (⌊(i + di) / s⌋, ⌊(j + dj) / s⌋) of the True cells (i, j), counted one cell at a time."""
    cells = np.argwhere(mask)
    shifts = sorted({0, s // 2})
    return min(len({((i + di) // s, (j + dj) // s) for i, j in cells}) for di in shifts for dj in shifts)


@pytest.mark.parametrize("shape", [(32, 256), (256, 32), (48, 200), (200, 20), (7, 90), (3, 64)])
def test_box_sides_follow_the_shorter_side_of_a_non_square_map(shape):
    """Default box sides stop near a quarter of the shorter side, whichever axis it is (not the longer one)."""
    rng = np.random.default_rng(sum(shape))
    mask = rng.random(shape) < 0.05
    found = fractal.box_dimension(mask)
    assert found.sizes.tolist() == expected_sides(shape)
    assert found.counts.tolist() == [brute_force_count(mask, s) for s in expected_sides(shape)]


@pytest.mark.parametrize("shape", [(24, 72), (72, 24), (13, 50)])
def test_box_counts_of_non_square_masks_match_a_cell_by_cell_count(shape):
    """`box_counts` on non-square masks (random, and a diagonal that reaches the far corner) equals counting
    the boxes of every True cell one by one."""
    rng = np.random.default_rng(shape[0])
    sizes = [1, 2, 3, 4, 5, 8]
    corner = np.eye(*shape, k=shape[1] - shape[0], dtype=bool)
    for mask in (rng.random(shape) < 0.1, np.eye(*shape, dtype=bool), corner):
        assert fractal.box_counts(mask, sizes).tolist() == [brute_force_count(mask, s) for s in sizes]


def test_a_straight_line_on_a_wide_map_has_dimension_one():
    """A horizontal line across a 32 × 512 map: N(s) = 512 / s boxes, D = 1, over sides up to 8 (a quarter of 32)."""
    mask = np.zeros((32, 512), bool)
    mask[16, :] = True
    found = fractal.box_dimension(mask)
    assert found.sizes.tolist() == [1, 2, 4, 8] and found.counts.tolist() == [512, 256, 128, 64]
    assert found.dimension == pytest.approx(1.0, abs=1e-9)


def test_the_sides_of_a_map_for_each_border():
    """"measure": −1 where the loss fell (measure < 0; 0 counts as not falling); "blowup": −1 where the final
    loss is finite, whatever its measure."""
    from types import SimpleNamespace
    result = SimpleNamespace(measure=np.array([[-3.0, 0.0], [2.0, -0.1]]),
                             final={"loss": np.array([[1.0, np.inf], [5.0, np.nan]])})
    np.testing.assert_array_equal(fractal.sides(result), [[-1.0, 1.0], [1.0, -1.0]])
    np.testing.assert_array_equal(fractal.sides(result, "measure"), [[-1.0, 1.0], [1.0, -1.0]])
    np.testing.assert_array_equal(fractal.sides(result, "blowup"), [[-1.0, 1.0], [-1.0, 1.0]])
    with pytest.raises(ValueError, match="unknown border 'edge' \\(use one of measure, blowup\\)"):
        fractal.sides(result, "edge")


def test_window_coords_on_linear_axes_and_in_float64_whatever_the_values_dtype():
    assert fractal.window_coords([2.0, 4.0, 6.0], "linear") == (4.0, 4.0)
    # float32 values, float64 arithmetic: the centre of 1 and 1 + 2^-23 is 1 + 2^-24 (float32 would round it to 1)
    centre, width = fractal.window_coords(np.array([1.0, 1.0 + 2.0**-23], np.float32), "linear")
    assert centre == 1.0 + 2.0**-24 and width == 2.0**-23
    centre, width = fractal.window_coords(np.array([3.0, 7.0], np.float32), "log")
    # float64 logs (float32 ones are off by ~1e-8)
    assert centre == pytest.approx(np.log10(21.0) / 2, rel=1e-14, abs=0)
    assert width == pytest.approx(np.log10(7.0 / 3.0), rel=1e-14, abs=0)


def test_two_cell_windows_and_the_finest_linear_window_around_zero():
    np.testing.assert_array_equal(fractal.axis_values(1.0, 2.0, 2, "linear"), [0.0, 2.0])  # the window's two ends
    np.testing.assert_array_equal(fractal.axis_values(3.0, 0.0, 1, "linear"), [3.0])
    # a window that can reach only 0: the smallest normal number sets the scale
    tiny = np.finfo(np.float32).tiny
    assert fractal.finest_width(0.0, 11, "linear", np.float32) == 16 * 2.0**-23 * 10 * float(tiny)


def test_the_nearest_boundary_block_on_a_map_that_is_not_symmetric():
    measure = -np.ones((6, 4))
    measure[:, 3] = 1.0  # a vertical border between columns 2 and 3: block centres (i + 0.5, 2.5)
    assert fractal.nearest_boundary_cell(measure, (4.0, 0.0)) == (3.5, 2.5)
    assert fractal.nearest_boundary_cell(measure, (0.0, 3.0)) == (0.5, 2.5)


def test_two_box_sides_are_enough_for_a_fit_and_one_or_none_is_not():
    fit = fractal.box_dimension(np.eye(8, dtype=bool))  # sides 1 and 2 (a quarter of 8)
    assert fit.sizes.tolist() == [1, 2] and fit.counts.tolist() == [8, 4]
    assert fit.dimension == pytest.approx(1.0) and fit.intercept == pytest.approx(np.log(8))
    single = fractal.box_dimension(np.eye(4, dtype=bool))  # a 4 × 4 map: side 1 only
    assert single.sizes.tolist() == [1] and np.isnan(single.dimension) and np.isnan(single.intercept)
    empty = fractal.box_dimension(np.zeros((64, 64), bool))
    assert empty.counts.tolist() == [0] * 5 and np.isnan(empty.dimension) and np.isnan(empty.intercept)
