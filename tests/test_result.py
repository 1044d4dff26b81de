"""SweepResult round trip and atomic writes."""
import json
import os

import jax
import numpy as np
import pytest

import edujax as ej
from edujax.errors import UserError
from edujax.result import SweepResult, atomic_dir


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
    result.save(tmp_path / "r", figures={"heatmap.png": "the map"})
    loaded = SweepResult.load(tmp_path / "r", quadratic)
    assert loaded.experiment == result.experiment and loaded.steps == result.steps
    assert [a.name for a in loaded.axes] == [a.name for a in result.axes]
    for a, b in zip(loaded.axes, result.axes):
        np.testing.assert_array_equal(a.values, b.values)
        assert (a.scale, a.columns, a.label) == (b.scale, b.columns, b.label)
    for field in ("outcome", "measure", "steps_to_go", "frozen", "loss", "hi", "lo", "record_steps"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(result, field))
    for group in ("hparams", "final", "examples"):
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

    from conftest import noisy_start_experiment

    experiment = noisy_start_experiment("tidy")
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 3.0, 5), ej.choice("curvature", ["one", "two"]), ej.seeds(3))
    experiment = ej.Experiment(**{**experiment.__dict__, "grid": grid})
    result = ej.sweep(experiment)
    assert isinstance(result.plot(), Figure)
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
