"""Grid axes: values, validation and the row layout the runner relies on."""
import numpy as np
import pytest

import edujax as ej
from edujax.core.errors import UserError


def test_logspace_and_linspace_include_both_ends():
    np.testing.assert_allclose(ej.logspace("lr", 1e-4, 1.0, 5).values, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-6)
    np.testing.assert_allclose(ej.linspace("beta", 0.0, 0.9, 4).values, [0.0, 0.3, 0.6, 0.9], rtol=1e-6)


def test_columns_are_the_cartesian_product_in_c_order():
    grid = ej.Grid(ej.values("a", [1.0, 2.0]), ej.points("start", [(0, 1), (2, 3), (4, 5)], columns=("x0", "y0")))
    cols = grid.columns()
    assert grid.shape == (2, 3) and grid.size == 6
    np.testing.assert_array_equal(cols["a"], [1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(cols["x0"], [0, 2, 4, 0, 2, 4])
    np.testing.assert_array_equal(cols["y0"], [1, 3, 5, 1, 3, 5])


def test_seeds_and_choices_are_integer_columns():
    grid = ej.Grid(ej.seeds(3), ej.choice("optimizer", ["sgd", "adam"]))
    cols = grid.columns()
    assert cols["seed"].dtype == np.int32 and cols["optimizer"].dtype == np.int32
    assert grid.axis("optimizer").value_label(1) == "adam"


def test_replace_swaps_or_appends_an_axis():
    grid = ej.Grid(ej.logspace("lr", 1e-3, 1.0, 4))
    assert grid.replace(ej.logspace("lr", 1e-2, 1.0, 7)).shape == (7,)
    assert grid.replace(ej.seeds(2)).names == ("lr", "seed")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ej.logspace("lr", 0.0, 1.0, 5), "positive"),
        (lambda: ej.logspace("lr", -1.0, 1.0, 5), "positive"),
        (lambda: ej.linspace("beta", 0.0, 1.0, 0), "positive integer"),
        (lambda: ej.linspace("beta", 0.0, 1.0, 2.5), "positive integer"),
        (lambda: ej.values("gamma", []), "empty"),
        (lambda: ej.linspace("beta", 0.0, float("inf"), 3), "non-finite"),
        (lambda: ej.Grid(), "at least one axis"),
        (lambda: ej.Grid(ej.seeds(2), ej.seeds(3)), "duplicated axis"),
        (lambda: ej.Grid(ej.values("x0", [1.0]), ej.points("p", [(1, 2)], columns=("x0", "y0"))), "duplicated column"),
        (lambda: ej.Grid(ej.seeds(2)).axis("lr"), "no axis 'lr'"),
    ],
)
def test_bad_axes_are_user_errors(make, message):
    with pytest.raises(UserError, match=message):
        make()


def test_the_grid_option_reads_start_then_stop():
    """`--grid NAME=START:STOP:NUM` runs from START to STOP, in that order: a descending range stays descending,
    on a log axis, a linear one and a default turned into an axis."""
    from edujax.core.grid import parse_axis

    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 8), ej.linspace("start_angle", 0.0, 90.0, 5))
    lr = parse_axis("learning_rate=0.5:0.005:3", grid, {})
    assert lr.scale == "log"
    np.testing.assert_allclose(lr.values, [0.5, 0.05, 0.005], rtol=1e-6)
    np.testing.assert_allclose(parse_axis("learning_rate=1e-3:1e-1:3", grid, {}).values, [1e-3, 1e-2, 1e-1], rtol=1e-6)
    np.testing.assert_allclose(parse_axis("start_angle=90:0:4", grid, {}).values, [90.0, 60.0, 30.0, 0.0])
    np.testing.assert_allclose(parse_axis("curvature=1:3:3", grid, {"curvature": 1.0}).values, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(parse_axis("curvature=8:1:4:log", grid, {"curvature": 1.0}).values, [8, 4, 2, 1],
                               rtol=1e-6)

