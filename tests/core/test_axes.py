"""Grid axes and grids against hand-computed values (no sweep runs here)."""
import numpy as np
import pytest

import edujax as ej
from edujax.core import grid
from edujax.core.errors import UserError


def test_axes_run_from_start_to_stop_in_the_order_given():
    down = ej.linspace("momentum", 0.9, 0.0, 4, label="β")
    np.testing.assert_allclose(down.values, [0.9, 0.6, 0.3, 0.0], rtol=1e-6, atol=1e-7)
    # axes hold float64 (a sweep casts them to its precision): a float64 sweep gets the values asked for
    assert (down.values.dtype, down.scale, down.title, down.columns) == (np.float64, "linear", "β", ("momentum",))
    lr = ej.logspace("lr", 1.0, 1e-3, 4)
    np.testing.assert_allclose(lr.values, [1.0, 1e-1, 1e-2, 1e-3], rtol=1e-6)
    assert (lr.values.dtype, lr.scale, lr.title) == (np.float64, "log", "lr")
    np.testing.assert_allclose(ej.logspace("lr", 2.0, 8.0, 3).values, [2.0, 4.0, 8.0], rtol=1e-6)
    assert ej.logspace("lr", 0.5, 4.0, 1).values.tolist() == [0.5]
    assert ej.linspace("x", 2.0, 3.0, 3.0).values.tolist() == [2.0, 2.5, 3.0]  # a whole float counts
    assert ej.linspace("x", -1.0, 1.0, np.int64(2)).values.tolist() == [-1.0, 1.0]
    plain = ej.linspace("x", 0.0, 1.0, 2)
    assert (plain.label, plain.title) == ("", "x")


def test_values_seeds_choices_and_points():
    v = ej.values("gamma", [3, 1, 2], scale="log", label="γ")
    assert (v.values.tolist(), v.values.dtype, v.scale, v.title) == ([3.0, 1.0, 2.0], np.float64, "log", "γ")
    s = ej.seeds(3, start=5)
    assert (s.name, s.values.tolist(), s.values.dtype, s.scale, s.title) == ("seed", [5, 6, 7], np.int32, "seed",
                                                                            "init seed")
    assert ej.seeds(2, name="init").name == "init"
    c = ej.choice("opt", ["sgd", "adam", "lion"], label="optimizer")
    assert (c.values.tolist(), c.values.dtype, c.scale, c.choices, c.title) == (
        [0, 1, 2], np.int32, "choice", ("sgd", "adam", "lion"), "optimizer")
    p = ej.points("start", [(0, 1.5), (2, 3)], columns=["x0", "y0"], label="start point")
    assert (p.values.tolist(), p.values.dtype, p.scale, p.columns, p.title) == (
        [[0.0, 1.5], [2.0, 3.0]], np.float64, "points", ("x0", "y0"), "start point")
    assert [p.value_label(0), c.value_label(2), v.value_label(0), ej.values("a", [0.123456]).value_label(0)] == [
        "(0, 1.5)", "lion", "3", "0.123"]
    assert len(p) == 2 and len(c) == 3
    assert ej.points("start", [(0, 1)], columns=["x0", "y0"]).label == ""


@pytest.mark.parametrize("make, message", [
    (lambda: grid.Axis("a", np.array([1.0]), "cubic"), r"^axis 'a': unknown scale 'cubic' \(use one of log, linear"),
    (lambda: grid.Axis("a", np.array([0, 1]), "choice", choices=("x",)), r"^axis 'a': 2 values but 1 choice names$"),
    (lambda: ej.values("a", [1.0, 0.0], scale="log"), r"^axis 'a' is logarithmic, so its values must be positive$"),
    (lambda: ej.values("a", [1.0, np.nan]), r"^axis 'a' has non-finite values$"),
    (lambda: ej.values("a", []), r"^axis 'a' is empty$"),
    (lambda: ej.points("p", [(1, 2)], columns=["x"]), r"^axis 'p': values of shape \(1, 2\) do not match columns"),
    (lambda: ej.points("p", [1, 2], columns=["x"]), r"^axis 'p': values of shape \(2,\) do not match columns"),
    (lambda: grid.Axis("a", np.ones((2, 1))), r"^axis 'a': values of shape \(2, 1\) do not match"),
    (lambda: ej.linspace("a", np.nan, 1.0, 3), r"^axis 'a' has non-finite values \(start nan, stop 1.0\)$"),
    (lambda: ej.logspace("a", 1.0, np.inf, 3), r"^axis 'a' has non-finite values \(start 1.0, stop inf\)$"),
    (lambda: ej.logspace("a", 1.0, 0.0, 3), r"^axis 'a' is logarithmic, so start and stop must be positive"),
    (lambda: ej.logspace("a", 1.0, 2.0, 0), r"^axis 'a': the number of values must be a positive integer, got 0$"),
    (lambda: ej.seeds(-1), r"^axis 'seed': the number of values must be a positive integer, got -1$"),
    (lambda: ej.linspace("b", 0.0, 1.0, 0), r"^axis 'b': the number of values must be a positive integer, got 0$"),
    (lambda: ej.linspace("a", 0.0, 1.0, "3"), r"positive integer, got '3'$"),
    (lambda: ej.Grid(ej.seeds(2), ej.values("b", [1.0]), ej.seeds(3), ej.values("b", [2.0])),
     r"^grid has a duplicated axis: b, seed$"),
    (lambda: ej.Grid(ej.values("x0", [1.0]), ej.points("p", [(1, 2)], columns=("x0", "y0"))),
     r"^grid has a duplicated column: x0$"),
    (lambda: ej.Grid(ej.seeds(2), ej.values("b", [1.0])).axis("lr"), r"^no axis 'lr' in the grid \(axes: seed, b\)$"),
])
def test_bad_axes_get_one_line_messages(make, message):
    with pytest.raises(UserError, match=message):
        make()


def test_a_grid_describes_replaces_and_names_its_axes():
    lr, seed, opt = ej.logspace("lr", 1e-2, 1.0, 3), ej.seeds(2), ej.choice("opt", ["sgd", "adam"])
    g = ej.Grid(lr, seed, opt)
    assert g.axis("seed") is seed and g.names == ("lr", "seed", "opt") and repr(g) == "Grid(lr[3] × seed[2] × opt[2])"
    assert g.replace(ej.seeds(5)).names == ("lr", "seed", "opt") and g.replace(ej.seeds(5)).shape == (3, 5, 2)
    assert g.replace(ej.values("b", [1.0])).shape == (3, 2, 2, 1)
    cols = ej.Grid(lr, seed).columns()
    np.testing.assert_allclose(cols["lr"], [1e-2, 1e-2, 1e-1, 1e-1, 1.0, 1.0], rtol=1e-6)
    assert cols["seed"].tolist() == [0, 1, 0, 1, 0, 1] and list(cols) == ["lr", "seed"]
    described = g.describe()
    assert described[1:] == [
        {"name": "seed", "scale": "seed", "size": 2, "columns": ["seed"], "label": "init seed", "min": 0.0, "max": 1.0},
        {"name": "opt", "scale": "choice", "size": 2, "columns": ["opt"], "label": "opt", "min": 0.0, "max": 1.0,
         "choices": ["sgd", "adam"]}]
    assert described[0].keys() == {"name", "scale", "size", "columns", "label", "min", "max"}
    assert described[0]["min"] == pytest.approx(1e-2) and described[0]["max"] == pytest.approx(1.0)


@pytest.mark.parametrize("shape, budget, expected", [
    ((5,), 3, [[0, 2, 4]]),
    ((10, 3), 100, [list(range(10)), [0, 1, 2]]),
    ((4, 4), 1, [[0], [0]]),
    ((11, 2), 12, [[0, 2, 4, 6, 8, 10], [0, 1]]),
])
def test_spread_indices_thin_the_longest_axis_first_and_keep_the_ends(shape, budget, expected):
    got = grid.spread_indices(shape, budget)
    assert [i.tolist() for i in got] == expected and all(i.dtype == np.int64 for i in got)


def test_spread_indices_thin_by_a_tenth_at_a_time():
    assert len(grid.spread_indices((30,), 28)[0]) == 27  # 30 → int(0.9 · 30) = 27 ≤ 28, not 29 or 28
