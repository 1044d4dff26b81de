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



def test_the_grid_option_keeps_labels_and_seeds_and_says_what_it_refuses():
    from edujax.core.grid import parse_axis

    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 8, label="step size"), ej.seeds(4, name="seed"),
                   ej.points("start", [(0.0, 1.0), (1.0, 0.0)], ("x0", "y0")))
    lr = parse_axis("learning_rate=1e-3:1:4", grid, {})
    assert (lr.name, lr.scale, lr.label, len(lr)) == ("learning_rate", "log", "step size", 4)
    assert parse_axis("momentum=0:0.9:4", grid, {"momentum": 0.0}).label == ""
    seed = parse_axis("seed=8", grid, {})
    assert (seed.name, seed.scale, seed.values.tolist()) == ("seed", "seed", list(range(8)))
    init = parse_axis("init=3", ej.Grid(ej.seeds(2, name="init")), {})
    assert (init.name, init.scale, len(init)) == ("init", "seed", 3)
    with pytest.raises(UserError) as refused:
        parse_axis("opt=0:1:2", ej.Grid(ej.choice("opt", ["sgd", "adam"])), {})
    assert str(refused.value) == ("--grid 'opt=0:1:2': axis 'opt' lists explicit values and cannot be set from the "
                                  "command line")
    refusals = {
        "learning_rate": "expected NAME=START:STOP:NUM",
        "=1:2:3": "expected NAME=START:STOP:NUM",
        "learning_rate==1:2:3": "START, STOP and NUM must be numbers",  # split at the first "="
        "lr=1:2:3": "no hyperparameter 'lr' (axes: learning_rate, seed, start; other hyperparameters: momentum, c)",
        "seed=8:9": "a seed axis takes a count, e.g. seed=8",
        "seed=x": "a seed axis takes a count, e.g. seed=8",
        "start=0:1:3": "axis 'start' lists explicit values and cannot be set from the command line",
        "learning_rate=1:2": "expected NAME=START:STOP:NUM, optionally followed by :log or :linear",
        "learning_rate=1:2:3:cubic": "expected NAME=START:STOP:NUM, optionally followed by :log or :linear",
        "learning_rate=a:2:3": "START, STOP and NUM must be numbers",
    }
    for spec, message in refusals.items():
        with pytest.raises(UserError) as refused:
            parse_axis(spec, grid, {"momentum": 0.0, "c": 1.0})
        assert str(refused.value) == f"--grid {spec!r}: {message}", spec
    with pytest.raises(UserError) as refused:
        parse_axis("lr=1:2:3", ej.Grid(ej.seeds(2)), {})
    assert str(refused.value).endswith("(axes: seed; other hyperparameters: none)")


def test_casting_a_grid_changes_float_axes_only():
    grid = ej.Grid(ej.values("x", [0.1, 0.2]), ej.seeds(3), ej.choice("opt", ["sgd", "adam"]))
    cast = grid.astype(np.float32)
    assert cast.axes[0].values.dtype == np.float32 and cast.axes[0].values.tolist() == [np.float32(0.1),
                                                                                       np.float32(0.2)]
    assert cast.axes[1] is grid.axes[1] and cast.axes[2] is grid.axes[2]  # seeds and choices as they were
    assert grid.axes[0].astype(np.float64) is grid.axes[0]  # already float64: the same axis
    assert (cast.axes[0].name, cast.axes[0].scale) == ("x", grid.axes[0].scale)
    assert [a.name for a in cast.axes] == ["x", "seed", "opt"]


def test_axes_hold_float64_arrays_whatever_was_typed():
    from edujax.core.grid import Axis

    typed = Axis("x", [1, 2, 3])  # a list of ints
    assert isinstance(typed.values, np.ndarray) and typed.values.tolist() == [1, 2, 3]
    assert ej.values("x", [1, 2]).values.dtype == np.float64 and ej.values("x", [1, 2]).scale == "linear"
    assert ej.values("x", [1, 2]).label == "" and ej.values("x", [1, 2]).title == "x"
    assert ej.points("p", [(1, 2), (3, 4)], ("a", "b")).values.dtype == np.float64
    with pytest.raises(UserError) as refused:
        ej.Grid()
    assert str(refused.value) == "a grid needs at least one axis"
