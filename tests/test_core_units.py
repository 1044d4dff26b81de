"""The core's small pieces against hand-computed values: size units, record plans, grid axes, the atomic writer and
a result's files. No sweep runs here (the fast subset of `make mutate`)."""
import io
import json
import os
from types import SimpleNamespace

import jax
import numpy as np
import pytest

import edujax as ej
from edujax import devices, grid
from edujax.errors import UserError
from edujax.experiment import Boundary
from edujax.outcomes import OUTCOMES, Criteria, counts, palette
from edujax.result import SweepResult, atomic_write, evaluate_boundaries, restore_state, storable
from edujax.runner import RecordPlan

# ---------------------------------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("text, expected", [
    ("1", 1), ("1b", 1), ("7B", 7),
    ("1k", 1000), ("1kb", 1000), ("1KB", 1000), ("2M", 2_000_000), ("512MB", 512_000_000),
    ("1g", 10**9), ("2GB", 2 * 10**9), ("1T", 10**12), ("3TB", 3 * 10**12),
    ("1KiB", 1024), ("1ki", 1024), ("1MiB", 1024**2), ("5mib", 5 * 1024**2), ("1GiB", 1024**3), ("1.5GiB", 3 * 2**29),
    ("1TiB", 1024**4), (" 0.5 k ", 500), (".25KiB", 256),
])
def test_every_size_unit_parses_to_its_bytes(text, expected):
    assert devices.parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["0", "0MB", "1XB", "", "MB", "1.2.3", "1 MiBB", "1e3", "ten", "-"])
def test_bad_sizes_are_one_line_user_errors(text):
    with pytest.raises(UserError, match=r"^--max-memory .*: expected a positive size such as 512MB or 2GB$"):
        devices.parse_bytes(text)
    with pytest.raises(UserError, match=r"^--max-host-memory "):
        devices.parse_bytes(text, "--max-host-memory")


@pytest.mark.parametrize("text", ["-1MB", " -2", "-0.5GiB"])
def test_negative_sizes_are_named_as_such(text):
    with pytest.raises(UserError, match=r"^--max-memory .*: a memory size cannot be negative; give e.g. 512MB or 2GB$"):
        devices.parse_bytes(text)


@pytest.mark.parametrize("n, text", [(0, "0 bytes"), (999.9, "999 bytes"), (1000, "1 kB"), (1234567, "1.23 MB"),
                                     (999_999, "1e+03 kB"), (10**6, "1 MB"), (10**9, "1 GB"), (3.2e9, "3.2 GB"),
                                     (10**12, "1 TB"), (2e12, "2 TB"),
                                     (4.56e15, "4.56e+03 TB")])
def test_sizes_are_printed_in_decimal_units(n, text):
    assert devices.format_bytes(n) == text


def fake_machine(monkeypatch, *, page=4096, pages=1000, n_devices=2, device=None):
    sizes = {"SC_PAGE_SIZE": page, "SC_PHYS_PAGES": pages}
    monkeypatch.setattr(devices.os, "sysconf", lambda name: sizes[name])
    cpu = SimpleNamespace(platform="cpu", memory_stats=lambda: pytest.fail("a CPU's memory stats are not asked for"))
    monkeypatch.setattr(devices.jax, "local_devices", lambda: [device or cpu])
    monkeypatch.setattr(devices.jax, "local_device_count", lambda: n_devices)


def test_a_cpu_device_may_fill_a_quarter_of_the_ram_shared_by_its_devices(monkeypatch):
    fake_machine(monkeypatch)  # 4096 · 1000 bytes of RAM, 2 devices
    assert devices.default_memory_budget() == 4096 * 1000 // 8


def test_an_accelerator_may_fill_half_of_its_usable_memory(monkeypatch):
    gpu = SimpleNamespace(platform="gpu", memory_stats=lambda: {"bytes_limit": 10**9, "bytes_in_use": 5})
    fake_machine(monkeypatch, device=gpu)
    assert devices.default_memory_budget() == 5 * 10**8
    # a device that reports no limit falls back to the RAM rule
    fake_machine(monkeypatch, device=SimpleNamespace(platform="gpu", memory_stats=lambda: {"bytes_limit": 0}))
    assert devices.default_memory_budget() == 4096 * 1000 // 8
    fake_machine(monkeypatch, device=SimpleNamespace(platform="gpu", memory_stats=lambda: None))
    assert devices.default_memory_budget() == 4096 * 1000 // 8


def test_results_may_fill_half_of_the_available_host_memory(monkeypatch):
    fake_machine(monkeypatch)

    def proc(text):
        return lambda path: io.StringIO(text) if path == "/proc/meminfo" else pytest.fail(f"read {path}")

    monkeypatch.setattr(devices, "open", proc("MemTotal:    8000 kB\nMemFree:   100 kB\nMemAvailable:  2048 kB\n"),
                        raising=False)
    assert devices.default_host_budget() == 2048 * 1024 // 2
    # without MemAvailable (or without /proc) half of all RAM
    monkeypatch.setattr(devices, "open", proc("MemTotal: 8000 kB\n"), raising=False)
    assert devices.default_host_budget() == 4096 * 1000 // 2

    def missing(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(devices, "open", missing, raising=False)
    assert devices.default_host_budget() == 4096 * 1000 // 2


def test_nbytes_counts_every_leaf():
    tree = {"a": np.zeros((3, 4), np.float32), "b": [jax.ShapeDtypeStruct((2,), np.int8), np.zeros(5, np.float64)]}
    assert devices.nbytes(tree) == 3 * 4 * 4 + 2 + 5 * 8


# ---------------------------------------------------------------------------------------------- record plans


@pytest.mark.parametrize("steps, records, windows, window, lead, record_steps", [
    (100, 10, 10, 10, 0, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
    (103, 10, 10, 10, 3, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 103]),  # 3 leftover steps join the last window
    (29, 4, 4, 7, 1, [0, 7, 14, 21, 29]),
    (5, 10, 5, 1, 0, [0, 1, 2, 3, 4, 5]),  # more records than steps: one window per step
    (7, 1, 1, 7, 0, [0, 7]),
    (7, 0, 1, 7, 0, [0, 7]),
])
def test_a_record_plan_splits_the_steps_into_windows(steps, records, windows, window, lead, record_steps):
    plan = RecordPlan.make(steps, records)
    assert (plan.steps, plan.windows, plan.window, plan.lead, plan.all_metrics) == (steps, windows, window, lead, False)
    assert plan.record_steps.tolist() == record_steps
    assert RecordPlan.make(steps, records, True).all_metrics is True


# ------------------------------------------------------------------------------------------------ grid axes


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


# -------------------------------------------------------------------------------------------------- outcomes


@pytest.mark.parametrize("kwargs", [dict(window=0.5), dict(window=1e-9), dict(rtol=0), dict(atol=1), dict(gtol=2.5),
                                    dict(trend=np.float64(0.0))])
def test_criteria_accept_their_edge_values(kwargs):
    assert dataclasses_value(Criteria(**kwargs), kwargs)


def dataclasses_value(criteria, kwargs):
    return all(getattr(criteria, k) == v for k, v in kwargs.items())


@pytest.mark.parametrize("kwargs, message", [
    (dict(window=0.5000001), r"^criteria.window must be in \(0, 0.5\], got 0.5000001$"),
    (dict(window=0), r"^criteria.window must be in \(0, 0.5\], got 0$"),
    (dict(window=1.0), r"criteria.window must be in"),
    (dict(rtol=-1e-12), r"^criteria.rtol must be a non-negative number, got -1e-12$"),
    (dict(atol=np.inf), r"^criteria.atol must be a non-negative number, got inf$"),
    (dict(gtol=np.nan), r"^criteria.gtol must be a non-negative number"),
    (dict(trend=False), r"^criteria.trend must be a non-negative number, got False$"),
    (dict(trend="1"), r"^criteria.trend must be a non-negative number, got '1'$"),
])
def test_criteria_refuse_values_past_their_edges(kwargs, message):
    with pytest.raises(UserError, match=message):
        Criteria(**kwargs)


@pytest.mark.parametrize("window, windows, expected", [
    (0.25, 50, 12), (0.25, 10, 2), (0.25, 3, 1), (0.25, 0, 1), (0.5, 7, 3), (0.5, 8, 4), (0.01, 50, 1), (0.3, 10, 3),
    (0.45, 20, 9), (0.5, 2, 1),
])
def test_the_final_part_is_the_rounded_share_at_least_one_at_most_half(window, windows, expected):
    assert Criteria(window=window).final_windows(windows) == expected


def test_palette_and_counts():
    assert list(palette({"collapsed": "#000000"}).items())[-2:] == [("stalled", "#7f7f7f"), ("collapsed", "#000000")]
    assert list(palette()) == list(OUTCOMES)
    with pytest.raises(UserError, match=r"^extra outcomes must have new names; diverged, slow is a standard outcome$"):
        palette({"slow": "#111111", "diverged": "#222222", "new": "#333333"})
    assert counts(np.array([[0, 2], [2, 2]]), ("a", "b", "c")) == {"a": 1, "b": 0, "c": 3}
    assert counts([5, 5, 0]) == {"converged": 1, "slow": 0, "oscillating": 0, "diverged": 0, "local_min": 0,
                                 "stalled": 2}


# ------------------------------------------------------------------------------------------------ atomic files


def test_a_writer_that_fails_halfway_leaves_the_old_bytes_and_no_temporary_file(tmp_path):
    path = tmp_path / "sweep.npz"
    path.write_bytes(b"old bytes")

    def half(f):
        f.write(b"new ")
        assert path.read_bytes() == b"old bytes"  # written elsewhere, not in place
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half)
    assert path.read_bytes() == b"old bytes" and os.listdir(tmp_path) == ["sweep.npz"]

    def whole(f):
        f.write(b"new bytes")
        assert path.read_bytes() == b"old bytes"

    atomic_write(path, whole)
    assert path.read_bytes() == b"new bytes" and os.listdir(tmp_path) == ["sweep.npz"]
    atomic_write(tmp_path / "fresh.json", lambda f: f.write(b"{}"))
    assert sorted(os.listdir(tmp_path)) == ["fresh.json", "sweep.npz"]
    assert (tmp_path / "fresh.json").read_bytes() == b"{}"


# ----------------------------------------------------------------------------------------------- saved results


def hand_made_result():
    """A 2 × 3 result written by hand (no sweep): what `sweep` returns, with known numbers."""
    axes = (ej.values("learning_rate", [0.1, 1.0], scale="log", label="lr"), ej.seeds(3))
    outcome = np.array([[0, 0, 1], [3, 1, 5]], np.int8)
    return SweepResult(
        experiment="unit", axes=axes, steps=40,
        hparams={"learning_rate": np.array([[0.1] * 3, [1.0] * 3], np.float32), "seed": np.array([[0, 1, 2]] * 2)},
        outcome=outcome, measure=np.array([[-3, -2.5, -1], [40, -0.5, 0]], np.float32),
        steps_to_go=np.array([[np.nan, np.nan, 12], [np.nan, 300, np.nan]], np.float32),
        frozen=np.array([[0, 0, 0], [0, 0, 1]], bool),
        loss=np.arange(18, dtype=np.float32).reshape(2, 3, 3), hi=np.full((2, 3, 2), 7, np.float32),
        lo=np.full((2, 3, 2), -1, np.float32), trace_index=(np.arange(2), np.array([0, 2])),
        final={"loss": np.array([[1e-3, 1e-2, 0.5], [np.inf, 0.25, 4]], np.float32)},
        record_steps=np.array([0, 20, 40]),
        examples={"index": np.array([0, 5]), "step": np.arange(3), "loss": np.ones((2, 3), np.float32),
                  "state": {"w": np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)}},
        boundaries=[{"label": "2/λ", "axis": "learning_rate", "value": np.array([2.0, 2.0, 2.0])}],
        info={"wall_s": 1.5, "global_min": 0.0, "criteria": {"rtol": 1e-4}},
    )


def test_a_saved_result_holds_the_numbers_written_and_a_summary_of_them(tmp_path):
    result = hand_made_result()
    assert result.save(tmp_path / "r", figures={"heatmap.png": "the map"}) == tmp_path / "r"
    assert sorted(os.listdir(tmp_path / "r")) == ["run.json", "summary.json", "sweep.npz"]
    assert json.loads((tmp_path / "r" / "run.json").read_text()) == {"wall_s": 1.5}  # how this run went
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary == {
        "experiment": "unit", "grid": [
            {"name": "learning_rate", "scale": "log", "size": 2, "columns": ["learning_rate"], "label": "lr",
             "min": pytest.approx(0.1), "max": 1.0},
            {"name": "seed", "scale": "seed", "size": 3, "columns": ["seed"], "label": "init seed", "min": 0.0,
             "max": 2.0}],
        "settings": 6, "steps": 40,
        "outcomes": {"converged": 2, "slow": 2, "oscillating": 0, "diverged": 1, "local_min": 0, "stalled": 1},
        "boundaries": [{"label": "2/λ", "axis": "learning_rate"}], "figures": {"heatmap.png": "the map"},
        "outcome_colors": {"converged": "#2ca02c", "slow": "#9ecae1", "oscillating": "#ff7f0e", "diverged": "#d62728",
                           "local_min": "#9467bd", "stalled": "#7f7f7f"},
        "global_min": 0.0, "criteria": {"rtol": 1e-4},
        "axes": [{"name": "learning_rate", "scale": "log", "columns": ["learning_rate"], "label": "lr", "choices": []},
                 {"name": "seed", "scale": "seed", "columns": ["seed"], "label": "init seed", "choices": []}],
        "files": ["run.json", "summary.json", "sweep.npz"],
        # lr 0.1: 2 of 3 seeds converged (> ½: the band is that one cell), fewer than 95 % anywhere, and no
        # steps-to-target recorded (no fastest setting)
        "recommendation": {
            "rule": "band: consecutive learning rates around the fastest where > 50% of runs converge; "
                    "lr95: largest learning rate where ≥ 95% converge",
            "overall": {"setting": "overall", "band": [pytest.approx(0.1), pytest.approx(0.1)], "decades": 0.0,
                        "lr95": None, "fastest": None, "steps": None, "converged": pytest.approx(1 / 3)},
            "by": [], "rows_total": 1,
            "rows": [{"setting": "overall", "band": [pytest.approx(0.1), pytest.approx(0.1)], "decades": 0.0,
                      "lr95": None, "fastest": None, "steps": None, "converged": pytest.approx(1 / 3)}]},
    }
    assert repr(result) == ("SweepResult('unit', Grid(learning_rate[2] × seed[3]), 40 steps: converged 33%, slow 33%, "
                            "diverged 17%, stalled 17%)")

    loaded = SweepResult.load(tmp_path / "r")
    assert (loaded.experiment, loaded.steps, loaded.info) == ("unit", 40, {"wall_s": 1.5, "global_min": 0.0,
                                                                         "criteria": {"rtol": 1e-4}})
    assert [(a.name, a.scale, a.columns, a.label, a.title) for a in loaded.axes] == [
        ("learning_rate", "log", ("learning_rate",), "lr", "lr"), ("seed", "seed", ("seed",), "init seed", "init seed")]
    np.testing.assert_allclose(loaded.axes[0].values, [0.1, 1.0], rtol=1e-7)
    assert loaded.axes[1].values.tolist() == [0, 1, 2]
    assert loaded.outcome.tolist() == [[0, 0, 1], [3, 1, 5]] and loaded.outcome.dtype == np.int8
    assert loaded.labels.tolist() == [["converged", "converged", "slow"], ["diverged", "slow", "stalled"]]
    assert loaded.measure.tolist() == [[-3, -2.5, -1], [40, -0.5, 0]]
    np.testing.assert_array_equal(loaded.steps_to_go, [[np.nan, np.nan, 12], [np.nan, 300, np.nan]])
    assert loaded.frozen.tolist() == [[False] * 3, [False, False, True]]
    assert loaded.loss.tolist() == np.arange(18).reshape(2, 3, 3).tolist()
    assert (loaded.hi == 7).all() and (loaded.lo == -1).all() and loaded.hi.shape == loaded.lo.shape == (2, 3, 2)
    assert [i.tolist() for i in loaded.trace_index] == [[0, 1], [0, 2]] and not loaded.traced_all
    assert loaded.traced(np.arange(6).reshape(2, 3)).tolist() == [[0, 2], [3, 5]]
    assert loaded.record_steps.tolist() == [0, 20, 40]
    assert loaded.hparams["seed"].tolist() == [[0, 1, 2]] * 2 and list(loaded.hparams) == ["learning_rate", "seed"]
    np.testing.assert_allclose(loaded.final["loss"], [[1e-3, 1e-2, 0.5], [np.inf, 0.25, 4]], rtol=1e-7)
    assert list(loaded.final) == ["loss"]
    assert sorted(loaded.examples) == ["index", "loss", "state", "step"]
    assert loaded.examples["index"].tolist() == [0, 5] and loaded.examples["step"].tolist() == [0, 1, 2]
    assert [leaf.tolist() for leaf in loaded.examples["state"]] == [[[1.0, 2.0], [3.0, 4.0]]]  # leaves, no experiment
    assert loaded.boundaries == [{"label": "2/λ", "axis": "learning_rate", "value": pytest.approx([2.0, 2.0, 2.0])}]
    assert loaded.outcome_colors == summary["outcome_colors"] and loaded.counts == summary["outcomes"]


def test_a_damaged_result_is_detected(tmp_path):
    folder = hand_made_result().save(tmp_path / "r")
    good = (folder / "sweep.npz").read_bytes()
    damages = {
        "summary.json": [b"{\"experiment\": \"unit\", \"gri", b""],
        "sweep.npz": [good[: len(good) // 2], good[:200] + bytes(200) + good[400:], b"not a zip file at all", b""],
    }
    for name, variants in damages.items():
        original = (folder / name).read_bytes()
        for damaged in variants:
            (folder / name).write_bytes(damaged)
            with pytest.raises(UserError, match=rf"/r/{name} is damaged \(\w+: .*\): sweep that experiment again$"):
                SweepResult.load(folder)
        (folder / name).write_bytes(original)
    (folder / "sweep.npz").unlink()
    with pytest.raises(UserError, match=r"/r: sweep.npz is missing"):
        SweepResult.load(folder)


def test_a_state_with_prng_keys_is_stored_as_raw_key_data_and_restored():
    state = {"key": jax.random.key(3), "w": np.array([1.5, 2.5], np.float32)}
    stored = storable(state)
    assert stored["key"].dtype == np.uint32 and np.asarray(stored["key"]).tolist() == [0, 3]  # threefry: (0, seed)
    assert stored["w"] is state["w"]
    restored = restore_state(state, [np.asarray(leaf) for leaf in jax.tree.leaves(stored)])
    assert jax.dtypes.issubdtype(restored["key"].dtype, jax.dtypes.prng_key)
    assert np.asarray(jax.random.key_data(restored["key"])).tolist() == [0, 3]
    assert restored["w"].tolist() == [1.5, 2.5]


def test_theory_boundaries_are_evaluated_over_the_other_axes():
    experiment = SimpleNamespace(defaults={"curvature": 4.0}, boundaries=[
        Boundary("2/λ", "learning_rate", lambda h: 2.0 / h["curvature"]),
        Boundary("elsewhere", "momentum", lambda h: 0.5),
        Boundary("one", "curvature", lambda h: 1.0),
    ])
    g = ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3), ej.values("curvature", [1.0, 8.0]), ej.seeds(2))
    got = evaluate_boundaries(experiment, g)
    assert [(b["label"], b["axis"], b["value"].dtype, b["value"].shape) for b in got] == [
        ("2/λ", "learning_rate", np.float64, (2, 2)), ("one", "curvature", np.float64, (3, 2))]
    assert got[0]["value"].tolist() == [[2.0, 2.0], [0.25, 0.25]] and (got[1]["value"] == 1.0).all()
    # a grid of the boundary's own axis alone: the other hyperparameters at their defaults
    alone = evaluate_boundaries(experiment, ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3)))
    assert len(alone) == 1 and alone[0]["value"].shape == () and float(alone[0]["value"]) == 0.5
    # the defaults reach the boundary as the sweep's float32 columns
    experiment.defaults = {"curvature": 0.1}
    experiment.boundaries = [Boundary("λ", "learning_rate", lambda h: h["curvature"])]
    got = evaluate_boundaries(experiment, ej.Grid(ej.logspace("learning_rate", 0.1, 1.0, 2)))
    assert float(got[0]["value"]) == float(np.float32(0.1)) != 0.1


def test_small_contracts_of_axes_grids_and_saved_results(tmp_path):
    assert isinstance(grid.Axis("a", [1.0, 2.0]).values, np.ndarray) and ej.values("a", [1.0]).label == ""
    with pytest.raises(UserError, match=r"^a grid needs at least one axis$"):
        ej.Grid()
    assert storable({"lr": 0.5, "w": [1, 2]}) == {"lr": 0.5, "w": [1, 2]}  # plain Python leaves pass through
    result = hand_made_result()
    result.outcome_colors = palette({"collapsed": "#000000"})
    folder = result.save(tmp_path / "new" / "nested")  # parents are made
    assert (folder / "summary.json").read_text().startswith('{\n  "experiment": "unit",\n  "grid": [\n    {\n')
    assert SweepResult.load(folder).outcome_names == (*OUTCOMES, "collapsed")
