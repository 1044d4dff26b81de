"""SweepResult round trip and atomic writes: every save/load test."""
import io
import json
import os
import zipfile

import jax
import numpy as np
import pytest

import edujax as ej
from edujax.core.errors import UserError
from edujax.core import grid
from edujax.core.outcomes import OUTCOMES, palette
from edujax.store.files import atomic_dir, atomic_write
from edujax.store.result import SweepResult, restore_state, storable
from helpers import assert_indented_json


def closed_form_final_loss(learning_rate, angle_deg, steps):
    """Gradient descent on ½(x² + 10y²) from 5·(cos θ, sin θ), in float64: each coordinate × (1 − lr·λ) per step."""
    lr, theta = np.meshgrid(np.asarray(learning_rate, np.float64), np.deg2rad(angle_deg), indexing="ij")
    x, y = 5 * np.cos(theta) * (1 - lr) ** steps, 5 * np.sin(theta) * (1 - 10 * lr) ** steps
    return 0.5 * (x**2 + 10 * y**2)


@pytest.fixture(scope="module")
def result(quadratic):
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 8), ej.linspace("start_angle", 0.0, 90.0, 3))
    return ej.sweep(quadratic, grid, 40)


def test_save_load_round_trip(result, tmp_path, quadratic):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / ".hidden").write_text("not listed")  # dot files are not the result's
    (tmp_path / "r" / "heatmap.png").write_bytes(b"png")
    result.save(tmp_path / "r", figures={"heatmap.png": "the map"})
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    for name in ("summary.json", "run.json"):
        assert_indented_json(tmp_path / "r" / name)
    assert summary["files"] == ["heatmap.png", "run.json", "summary.json", "sweep.npz"]
    with zipfile.ZipFile(tmp_path / "r" / "sweep.npz") as archive:  # stored, not compressed: quick to write
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    loaded = SweepResult.load(tmp_path / "r", quadratic)
    assert loaded.experiment == result.experiment and loaded.steps == result.steps
    assert [a.name for a in loaded.axes] == [a.name for a in result.axes]
    for a, b in zip(loaded.axes, result.axes):
        np.testing.assert_array_equal(a.values, b.values)
        assert (a.scale, a.columns, a.label) == (b.scale, b.columns, b.label)
    for field in ("outcome", "measure", "steps_to_go", "frozen", "loss", "hi", "lo", "record_steps",
                  "steps_to_target"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(result, field))
    assert result.steps_to_target is not None and loaded.outcome_colors == result.outcome_colors
    for group in ("hparams", "final", "examples", "records"):
        assert getattr(loaded, group).keys() == getattr(result, group).keys()
        for k in getattr(result, group):
            for a, b in zip(jax.tree.leaves(getattr(loaded, group)[k]), jax.tree.leaves(getattr(result, group)[k])):
                np.testing.assert_array_equal(a, b)
    assert jax.tree.structure(loaded.examples["state"]) == jax.tree.structure(result.examples["state"])
    np.testing.assert_array_equal(loaded.boundaries[0]["value"], result.boundaries[0]["value"])
    assert loaded.info == json.loads(json.dumps(result.info))
    # ... and what was saved is the sweep's truth, not just its own copy: the axes, the records, the final losses
    np.testing.assert_allclose(loaded.axes[0].values, np.geomspace(1e-4, 1.0, 8), rtol=1e-6)
    assert loaded.axes[1].values.tolist() == [0.0, 45.0, 90.0] and loaded.record_steps[[0, -1]].tolist() == [0, 40]
    with np.errstate(over="ignore"):  # lr = 1 overflows float32, as the sweep's own float32 run does
        expected = closed_form_final_loss(np.geomspace(1e-4, 1.0, 8), [0.0, 45.0, 90.0], 40).astype(np.float32)
    np.testing.assert_allclose(loaded.final["loss"], expected, rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(loaded.boundaries[0]["value"], np.full(3, 2 / 10), rtol=1e-12)  # lr = 2 / λ_max


def test_summary_json_describes_the_run(result, tmp_path):
    result.save(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"] == 24 and summary["steps"] == 40
    # diverged exactly where theory says: lr > 2/λ_max = 0.2 (0.268 and 1 on this grid) from a start off the flat axis
    saved = np.load(tmp_path / "sweep.npz", allow_pickle=False)["outcome"]
    names = np.asarray(list(summary["outcomes"]))[saved]
    expected = np.zeros((8, 3), bool)
    expected[6:, 1:] = True
    np.testing.assert_array_equal(names == "diverged", expected)
    assert summary["outcomes"]["diverged"] == 4 and sum(summary["outcomes"].values()) == 24
    assert [axis["name"] for axis in summary["grid"]] == ["learning_rate", "start_angle"]
    for key in ("jax_version", "global_min", "criteria"):
        assert key in summary
    run = json.loads((tmp_path / "run.json").read_text())  # how this run went: not in the committed summary
    for key in ("wall_s", "compile_s", "run_s", "device", "chunks"):
        assert key in run and key not in summary
    assert summary["files"] == ["run.json", "summary.json", "sweep.npz"]
    assert not np.load(tmp_path / "sweep.npz", allow_pickle=False)["outcome"].dtype.hasobject


def test_loading_a_folder_without_a_sweep_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no saved sweep here"):
        SweepResult.load(tmp_path)


def test_atomic_dir_swaps_in_on_success_and_keeps_the_old_result_on_failure(tmp_path):
    target = tmp_path / "exp"
    target.mkdir()
    (target / "summary.json").write_text('{"experiment": "exp", "files": ["summary.json", "old.png"]}')
    (target / "old.png").write_text("old")
    (target / "notes.txt").write_text("mine")  # a file the user put there
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == ["exp"] and sorted(os.listdir(target)) == ["notes.txt", "old.png", "summary.json"]
    with atomic_dir(target) as tmp:
        (tmp / "new.png").write_text("new")
    assert os.listdir(tmp_path) == ["exp"]
    assert sorted(os.listdir(target)) == ["new.png", "notes.txt"]  # edujax's old files replaced, the user's kept
    assert (target / "notes.txt").read_text() == "mine"


def test_atomic_dir_never_replaces_a_folder_or_file_edujax_did_not_write(tmp_path):
    foreign = tmp_path / "exp"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    with pytest.raises(UserError, match="was not written by edujax"):
        with atomic_dir(foreign) as tmp:
            (tmp / "summary.json").write_text("{}")
    assert os.listdir(tmp_path) == ["exp"] and os.listdir(foreign) == ["thesis.tex"]
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "summary.json").write_text('{"experiment": "ours"}')
    (ours / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="new result has a file of that name"):
        with atomic_dir(ours) as tmp:
            (tmp / "notes.txt").write_text("a figure hook's file")
    assert (ours / "notes.txt").read_text() == "mine" and sorted(os.listdir(tmp_path)) == ["exp", "ours"]



def test_in_a_notebook_a_result_is_its_map_a_figure_and_a_tidy_table(monkeypatch):
    import sys

    from matplotlib.figure import Figure

    from helpers import noisy_start_experiment

    experiment = noisy_start_experiment("tidy")
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 3.0, 5), ej.choice("curvature", ["one", "two"]), ej.seeds(3))
    experiment = ej.Experiment(**{**experiment.__dict__, "grid": grid})
    result = ej.sweep(experiment)
    assert isinstance(ej.plots.heatmap_figure(result), Figure)
    assert result._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert repr(result).startswith("SweepResult('tidy', Grid(learning_rate[5] × curvature[2] × seed[3]), 40 steps: ")

    table = result.to_pandas()
    assert len(table) == 30 and list(table.columns) == [
        "learning_rate", "curvature", "seed", "outcome", "measure", "steps_to_go", "steps_to_target",
        *(f"final_{m}" for m in result.final)]
    for i, j, s in [(0, 0, 0), (4, 1, 2), (2, 1, 0)]:
        row = table.iloc[(i * 2 + j) * 3 + s]  # C order over the grid
        assert row.learning_rate == result.axes[0].values[i] and row.curvature == ["one", "two"][j] and row.seed == s
        assert row.outcome == result.labels[i, j, s] and row.final_loss == result.final["loss"][i, j, s]
        assert row.measure == result.measure[i, j, s] and row.final_grad_norm == result.final["grad_norm"][i, j, s]
        assert np.array_equal(row.steps_to_target, result.steps_to_target[i, j, s], equal_nan=True)
    assert table.outcome.value_counts().to_dict() == {k: v for k, v in result.counts.items()}

    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(UserError, match="needs pandas: pip install pandas"):
        result.to_pandas()


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
    for name in ("summary.json", "run.json"):
        assert_indented_json(tmp_path / "r" / name)
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


def test_a_result_loads_without_its_run_log_and_refuses_arrays_that_do_not_fit(tmp_path):
    folder = hand_made_result().save(tmp_path / "r")
    for run_log in ("[1, 2]", "{not json", None):  # a run log that is no JSON object, damaged, missing
        if run_log is None:
            (folder / "run.json").unlink()
        else:
            (folder / "run.json").write_text(run_log)
        loaded = SweepResult.load(folder)
        assert loaded.experiment == "unit" and "wall_s" not in loaded.info
    good = (folder / "sweep.npz").read_bytes()
    (folder / "sweep.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(UserError) as refused:
        SweepResult.load(folder)
    assert "NoneType" not in str(refused.value) and "(BadZipFile: " in str(refused.value)
    with np.load(io.BytesIO(good)) as npz:  # every array but the outcome codes
        arrays = {k: npz[k] for k in npz.files if k != "outcome"}
    np.savez(folder / "sweep.npz", **arrays)
    with pytest.raises(UserError) as refused:
        SweepResult.load(folder)
    assert str(refused.value) == (f"{folder}: summary.json and sweep.npz do not fit together (KeyError: 'outcome'): "
                                  "sweep that experiment again")
