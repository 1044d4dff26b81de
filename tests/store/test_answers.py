"""Answers, not only maps (issue 24): float64 grids, probabilities over seeds, 1-D sweeps as curves,
xarray export, the compilation cache. Every value is pinned against one computed here by hand."""
import dataclasses
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

import edujax as ej
from edujax.report import figures as figures_of
from edujax.app import compile_cache
from edujax.store import probability
from edujax.store.probability import wilson_interval


def bowl(grid, precision="float32", steps=1, spread=0.0):
    """GD on ½x² from x0 (+ spread·N(0, 1) per seed): one step takes x0 to x0 − lr·x0."""
    return ej.minimize(
        name="bowl", loss=lambda x, h: 0.5 * x**2,
        params=lambda key, h: h["x0"] + h["spread"] * jax.random.normal(key, (), jax.numpy.asarray(h["x0"]).dtype),
        optimizer=lambda h: optax.sgd(h["learning_rate"]), grid=grid, steps=steps, global_min=0.0,
        precision=precision, defaults={"x0": 0.1, "spread": spread},
    )


# --- float64 grids -----------------------------------------------------------------------------------------


def test_a_float64_sweep_runs_and_reports_exactly_the_requested_values(tmp_path):
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 4), ej.values("x0", [0.1, 0.3]))
    result = ej.sweep(bowl(grid, "float64"))
    assert result.grid.axis("learning_rate").values.tolist() == [0.001, 0.01, 0.1, 1.0]
    assert result.hparams["learning_rate"][:, 0].tolist() == [0.001, 0.01, 0.1, 1.0]
    assert result.hparams["x0"][0].tolist() == [0.1, 0.3]
    assert result.summary()["grid"][0]["min"] == 0.001  # float32 would say 0.0010000000474974513
    # the runs saw the float64 values: one step of GD leaves ½(x0 − lr·x0)²; lr rounded to float32 would be
    # off by about 5e-8 relative, far beyond this tolerance
    lr, x0 = np.meshgrid([0.001, 0.01, 0.1, 1.0], [0.1, 0.3], indexing="ij")
    np.testing.assert_allclose(result.final["loss"], 0.5 * (x0 - lr * x0) ** 2, rtol=1e-12, atol=1e-300)
    result.save(tmp_path / "bowl")
    assert ej.SweepResult.load(tmp_path / "bowl").grid.axis("learning_rate").values.tolist() == [
        0.001, 0.01, 0.1, 1.0]


def test_a_float32_sweep_still_holds_float32_values():
    result = ej.sweep(bowl(ej.Grid(ej.values("learning_rate", [0.001, 0.5]))))
    values = result.grid.axis("learning_rate").values
    assert values.dtype == np.float32 and values.tolist() == [float(np.float32(0.001)), 0.5]
    assert result.summary()["grid"][0]["min"] == 0.0010000000474974513


# --- probabilities over seeds ------------------------------------------------------------------------------


def test_wilson_interval_against_values_computed_by_hand():
    # k = 8, n = 10, z = 1.96: p = 0.8, z² = 3.8416; centre = (0.8 + 0.19208) / 1.38416 = 0.716738;
    # half = 1.96 / 1.38416 · sqrt(0.016 + 0.009604) = 1.416021 · 0.160013 = 0.226582
    lo, hi = wilson_interval(8, 10, z=1.96)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.4902, 0.9433)
    # k = 0, n = 4: lo = 0, hi = z² / (n + z²) = 3.8416 / 7.8416
    lo, hi = wilson_interval(0, 4, z=1.96)
    assert float(lo) == 0.0 and float(hi) == pytest.approx(3.8416 / 7.8416, rel=1e-12)
    # k = n = 4: the mirror image
    lo, hi = wilson_interval(4, 4, z=1.96)
    assert float(lo) == pytest.approx(4 / 7.8416, rel=1e-12) and float(hi) == 1.0


@pytest.mark.parametrize("k, n", [(3, 2), (-1, 4), (0, 0)])
def test_wilson_interval_refuses_impossible_counts(k, n):
    with pytest.raises(ej.UserError, match="0 ≤ k ≤ n"):
        wilson_interval(k, n)


@pytest.fixture(scope="module")
def seeded():
    """GD with lr ∈ {0.5, 1.9, 2.5} × 8 seeds from x0 = 0.1 + N(0, 1), 30 steps: lr 0.5 converges from every
    start, 2.5 diverges from every start (|1 − lr| > 1), 1.9 contracts by 0.9 per step: slow for 30 steps."""
    grid = ej.Grid(ej.values("learning_rate", [0.5, 1.9, 2.5]), ej.seeds(8))
    return ej.sweep(bowl(grid, steps=30, spread=1.0))


def test_probabilities_count_seeds_per_setting(seeded):
    codes = seeded.outcome
    expected = (codes == seeded.outcome_names.index("converged")).sum(1)  # k per learning rate
    p, lo, hi = seeded.probabilities("converged")
    assert p.shape == (3,) and p.tolist() == (expected / 8).tolist()
    assert p[0] == 1.0 and p[2] == 0.0
    # k = 8 of 8: lo = 8 / (8 + z²); k = 0: hi = z² / (8 + z²)
    z2 = probability.Z95**2
    assert lo[0] == pytest.approx(8 / (8 + z2), rel=1e-12) and hi[0] == 1.0
    assert hi[2] == pytest.approx(z2 / (8 + z2), rel=1e-12) and lo[2] == 0.0
    assert seeded.probabilities("diverged")[0].tolist() == [0.0, 0.0, 1.0]


def test_probabilities_name_a_missing_outcome(seeded):
    with pytest.raises(ej.UserError, match="no outcome 'won'"):
        seeded.probabilities("won")


# --- xarray ------------------------------------------------------------------------------------------------


def test_to_xarray_names_every_axis_and_round_trips_through_netcdf(tmp_path):
    xr = pytest.importorskip("xarray")
    grid = ej.Grid(ej.values("learning_rate", [0.5, 1.9, 2.5]), ej.choice("start", ["near", "far"]),
                   ej.points("offset", [[0.0], [2.0]], ["spread"]), ej.seeds(2))
    experiment = bowl(grid, steps=30)
    experiment = ej.Experiment(**{**experiment.__dict__, "defaults": {"x0": 0.1, "spread": 0.0}})
    result = ej.sweep(experiment)
    result.steps_to_target = np.where(result.outcome == 0, 7.0, np.nan).astype(np.float32)
    ds = result.to_xarray()
    assert ds.outcome.dims == ("learning_rate", "start", "offset", "seed")
    assert ds.learning_rate.values.tolist() == [0.5, float(np.float32(1.9)), 2.5]  # what a float32 sweep ran
    assert ds.start.values.tolist() == ["near", "far"] and ds.seed.values.tolist() == [0, 1]
    assert ds.spread.values.tolist() == [0.0, 2.0] and ds.offset.values.tolist() == [0, 1]
    assert ds.outcome.attrs["flag_meanings"].split() == list(result.outcome_names)
    assert ds.outcome.attrs["flag_meanings"].split()[:6] == list(ej.OUTCOMES)
    # lr 0.5 from x0 = 0.1 (spread 0) converges, 2.5 diverges, whatever the choice and the seed
    names = np.asarray(ds.outcome.attrs["flag_meanings"].split())
    assert set(names[ds.outcome.sel(learning_rate=0.5, offset=0).values.ravel()]) == {"converged"}
    assert set(names[ds.outcome.sel(learning_rate=2.5).values.ravel()]) == {"diverged"}
    path = tmp_path / "sweep.nc"
    ds.to_netcdf(path, engine="scipy")
    with xr.open_dataset(path, engine="scipy") as back:
        back = back.load()
    for name in ("outcome", "measure", "steps_to_go", "frozen", "steps_to_target", "final_loss"):
        np.testing.assert_array_equal(back[name].values, ds[name].values, err_msg=name)
    np.testing.assert_array_equal(back.steps_to_target.values, np.where(result.outcome == 0, 7.0, np.nan))
    assert back.start.values.tolist() == ["near", "far"]
    assert back.outcome.attrs["flag_meanings"] == ds.outcome.attrs["flag_meanings"]
    assert back.attrs["experiment"] == "bowl" and back.attrs["steps"] == 30


def test_to_xarray_leaves_out_steps_to_target_when_not_recorded(seeded):
    pytest.importorskip("xarray")
    ds = dataclasses.replace(seeded, steps_to_target=None).to_xarray()  # as loaded from an older result
    assert "steps_to_target" not in ds and ds.learning_rate.values.tolist() == [0.5, np.float32(1.9).item(), 2.5]
    np.testing.assert_array_equal(ds.final_loss.values, seeded.final["loss"])


# --- 1-D sweeps as curves ----------------------------------------------------------------------------------


def test_a_1d_sweep_is_drawn_as_shares_and_a_measure_band(seeded, tmp_path):
    assert probability.line_axis(seeded) == 0
    (panel,) = probability.line_panels(seeded)
    converged, diverged = (seeded.outcome_names.index(o) for o in ("converged", "diverged"))
    assert panel["runs"] == 8 and panel["shares"].shape == (len(seeded.outcome_names), 3)
    assert panel["shares"][converged].tolist() == [1.0, (seeded.outcome[1] == converged).sum() / 8, 0.0]
    assert panel["shares"][diverged].tolist() == [0.0, 0.0, 1.0]
    np.testing.assert_allclose(panel["shares"].sum(0), 1.0)
    finite = np.isfinite(seeded.measure[0])
    assert panel["median"][0] == np.median(seeded.measure[0][finite].astype(np.float64))
    assert panel["low"][0] == seeded.measure[0][finite].min() and panel["high"][0] == seeded.measure[0][finite].max()
    figures = figures_of.render(seeded, tmp_path)
    assert list(figures) == ["heatmap.png", "measure.png", "curves.png", "probability.png"]
    assert "stacked bars" in figures["heatmap.png"] and "Wilson" in figures["probability.png"]


def test_a_2d_sweep_is_not_a_line():
    grid = ej.Grid(ej.values("learning_rate", [0.5, 2.5]), ej.values("x0", [0.1, 1.0]), ej.seeds(2))
    result = ej.sweep(bowl(grid, steps=5))
    assert probability.line_axis(result) is None
    with pytest.raises(ej.UserError, match="not a 1-D sweep"):
        probability.line_panels(result)
    p, lo, hi = result.probabilities()
    assert p.shape == (2, 2)


# --- the compilation cache ---------------------------------------------------------------------------------


def test_the_cache_folder_follows_the_setting(tmp_path):
    assert compile_cache.folder({"HOME": "/home/ada"}) == compile_cache.Path("/home/ada/.cache/edujax/jax")
    assert compile_cache.folder({"HOME": "/h", "XDG_CACHE_HOME": "/x"}) == compile_cache.Path("/x/edujax/jax")
    assert compile_cache.folder({"EDUJAX_CACHE": "/elsewhere", "HOME": "/h"}) == compile_cache.Path("/elsewhere")
    for off in ("off", "OFF", "0", "no", "false"):
        assert compile_cache.folder({"EDUJAX_CACHE": off, "HOME": "/h"}) is None
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(ej.UserError, match="EDUJAX_CACHE=.*cannot write there"):
        compile_cache.enable(environ={"EDUJAX_CACHE": str(blocked / "jax")})


def test_a_second_process_reuses_the_first_ones_executables_and_writes_nowhere_else(tmp_path):
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(xdg), "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-m", "edujax", "sweep", "quadratic", "--grid", "learning_rate=1e-3:1:8",
               "--grid", "start_angle=0:90:8", "--steps", "20", "--out", str(tmp_path / "out")]

    def entries():
        return sorted(p.name for p in (xdg / "edujax" / "jax").rglob("*") if p.is_file())

    subprocess.run(command, env=env, check=True, capture_output=True)
    first = entries()
    assert len(first) >= 2  # the sweep and the examples' run, at least
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert entries() == first  # every executable came from the cache: nothing new was compiled and written
    # nothing of the cache in HOME (matplotlib may keep its own ~/.config) nor beside --out
    assert list(home.rglob("*edujax*")) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["home", "out", "xdg"]
    off = tmp_path / "off"
    subprocess.run(command[:-1] + [str(off)], env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg2"),
                                                     "EDUJAX_CACHE": "off"}, check=True, capture_output=True)
    subprocess.run(command[:-1] + [str(off)] + ["--no-cache"], env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg2")},
                   check=True, capture_output=True)
    assert not (tmp_path / "xdg2" / "edujax").exists()  # (matplotlib keeps its font cache there)
