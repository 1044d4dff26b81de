"""The fractal-boundary network against a float64 NumPy simulation written here, and the zoom command:
windows, one compile for every frame, the float32 limit."""
import json

import jax
import numpy as np
import pytest

import edujax as ej
from edujax.app import registry
from edujax.app.cli import main
from edujax.core import fractal

STEPS = 30
INPUT_LRS, OUTPUT_LRS = [1.0, 100.0, 1e4], [1.0, 30.0, 1e4]


@pytest.fixture(scope="module")
def module():
    return registry.load_module(registry.resolve("fractal_boundary"))


def simulate(module, nonlinearity: str, input_lr: float, output_lr: float, steps: int, cosh: bool = False) -> dict:
    """Full-batch gradient descent in float64 with the gradient written out by hand: the loss, |gradient|
    and |parameters| at every step (steps + 1 values), and whether one more update leaves every bit of the
    parameters unchanged. `cosh`: tanh's derivative as 1/cosh² instead of 1 − tanh²."""
    n, width = module.SAMPLES[nonlinearity], module.WIDTH
    x, y = module.X[:n], module.Y[:n]
    w, v = module.W_START.copy(), module.V_START.copy()
    root2 = np.sqrt(2)
    phi = {"tanh": lambda z: np.tanh(root2 * z), "relu": lambda z: root2 * np.maximum(z, 0), "identity": lambda z: z}
    dphi = {"tanh": lambda z: root2 * (1 / np.cosh(root2 * z) ** 2 if cosh else 1 - np.tanh(root2 * z) ** 2),
            "relu": lambda z: root2 * (z > 0), "identity": lambda z: np.ones_like(z)}
    run = {"loss": [], "grad_norm": [], "param_norm": []}
    with np.errstate(all="ignore"):
        for _ in range(steps + 1):
            z = w @ x.T / np.sqrt(width)  # hidden unit × sample
            a = phi[nonlinearity](z)
            residual = v @ a / width - y
            d_out = 2 * residual / n
            grad_v = a @ d_out / width
            grad_w = (np.outer(v, d_out) / width * dphi[nonlinearity](z)) @ x / np.sqrt(width)
            run["loss"].append(np.mean(residual**2))
            run["grad_norm"].append(np.sqrt(np.sum(grad_w**2) + np.sum(grad_v**2)))
            run["param_norm"].append(np.sqrt(np.sum(w**2) + np.sum(v**2)))
            before = (w, v)
            w, v = w - input_lr * grad_w, v - output_lr * grad_v
    frozen = np.array_equal(before[0], w) and np.array_equal(before[1], v)
    with np.errstate(all="ignore"):  # the last update's size relative to the parameters' (as the runner's `moved`)
        moved = np.sqrt(np.sum((w - before[0]) ** 2) + np.sum((v - before[1]) ** 2)) / run["param_norm"][-1]
    return {**{k: np.asarray(values) for k, values in run.items()}, "frozen": frozen, "moved": moved}


@pytest.fixture(scope="module")
def swept(module):
    grid = ej.Grid(ej.values("input_lr", INPUT_LRS, "log"), ej.values("output_lr", OUTPUT_LRS, "log"),
                   ej.choice("nonlinearity", module.NONLINEARITIES))
    return {p: ej.sweep(module.experiment, grid, STEPS, records=STEPS, precision=p, examples_per_outcome=0)
            for p in ("float64", "float32")}


@pytest.fixture(scope="module")
def simulated(module):
    """Every cell's simulated losses, and which cells amplify rounding: chaotic ones (a 1e-12 change of the
    learning rates moves the simulation by more than 1e-6) and ones that lean on saturated tanh units (so
    does computing tanh's derivative as 1/cosh² instead of 1 − tanh², equal but for rounding)."""
    shape = (len(INPUT_LRS), len(OUTPUT_LRS), len(module.NONLINEARITIES))
    runs, sensitive = np.empty(shape, object), np.zeros(shape, bool)
    for i, lr_in in enumerate(INPUT_LRS):
        for j, lr_out in enumerate(OUTPUT_LRS):
            for k, name in enumerate(module.NONLINEARITIES):
                runs[i, j, k] = simulate(module, name, lr_in, lr_out, STEPS)
                for nudged in (simulate(module, name, lr_in * (1 + 1e-12), lr_out * (1 + 1e-12), STEPS),
                               simulate(module, name, lr_in, lr_out, STEPS, cosh=True)):
                    with np.errstate(invalid="ignore"):
                        sensitive[i, j, k] |= np.nanmax(np.abs(nudged["loss"] / runs[i, j, k]["loss"] - 1)) > 1e-6
    assert (~sensitive).sum() >= 20, "most runs can be compared to rounding"
    gather = {key: np.stack([run[key] for run in runs.ravel()]).reshape(shape + np.shape(runs.flat[0][key]))
              for key in runs.flat[0]}
    return gather, sensitive


def test_losses_measure_and_labels_match_a_float64_numpy_simulation(swept, simulated):
    """Every step's loss to 1e-9, except in the runs that amplify rounding (see `simulated`): there only
    the order of magnitude (0.05 decades) can agree."""
    result, (runs, sensitive) = swept["float64"], simulated
    truth = runs["loss"]
    finite = np.isfinite(truth)
    assert finite.all(-1).any() and (~finite).any(), "the grid has runs that train and runs that blow up"
    np.testing.assert_array_equal(np.isfinite(result.loss), finite)
    steady = finite & ~sensitive[..., None]
    np.testing.assert_allclose(result.loss[steady], truth[steady], rtol=1e-9)
    np.testing.assert_allclose(np.log10(result.loss[finite]), np.log10(truth[finite]), atol=0.05)
    # the measure (stored as float32): log10(final / initial loss) where it stayed finite (f* = 0),
    # else above log10(float max / L0)
    stayed = finite.all(-1)
    decades = np.log10(truth[..., -1]) - np.log10(truth[..., 0])
    np.testing.assert_allclose(result.measure[stayed], decades[stayed], atol=0.05)
    np.testing.assert_allclose(result.measure[stayed & ~sensitive], decades[stayed & ~sensitive], rtol=1e-6)
    assert (result.measure[~stayed] > np.log10(np.finfo(np.float64).max) - np.log10(truth[~stayed][:, 0])).all()
    # the labels: the classifier's rules applied to the simulation (recorded at every step: each record
    # window is one step, its envelope the loss at its two ends); stationarity from the gradient's decay
    # (no Newton step here: these runs converge to f* = 0, blow up, or are chaotic, so none needs it)
    assert len(result.record_steps) == STEPS + 1
    hi, lo = np.fmax(truth[..., :-1], truth[..., 1:]), np.fmin(truth[..., :-1], truth[..., 1:])
    with np.errstate(invalid="ignore"), jax.enable_x64(True):  # judged in float64, as the sweep judged it
        labels = ej.classify(truth, hi, lo, 0.0, result.record_steps, grad0=runs["grad_norm"][..., 0],
                             grad=runs["grad_norm"][..., -1], frozen=runs["frozen"], moved=runs["moved"])
    np.testing.assert_array_equal(result.labels[~sensitive], np.asarray(ej.OUTCOMES)[labels][~sensitive])


def test_float32_agrees_on_which_side_of_the_boundary_each_cell_is(swept, simulated):
    """Where rounding is not amplified; where it is, float32 and float64 may land on different sides."""
    steady = ~simulated[1]
    m64, m32 = swept["float64"].measure[steady], swept["float32"].measure[steady]
    np.testing.assert_array_equal(m32 < 0, m64 < 0)
    finite = m64 < 30
    np.testing.assert_allclose(m32[finite], m64[finite], atol=1e-4)


TINY_ZOOM = ["--frames", "2", "--factor", "4", "--resolution", "8", "--steps", "20"]


def test_zoom_windows_shrink_by_the_factor_around_the_point(tmp_path, capsys):
    at = ["--at", "nonlinearity=identity", "--at", "input_lr=10", "--at", "output_lr=20"]
    assert main(["zoom", "fractal_boundary", *at, *TINY_ZOOM, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "float64" in printed and "--x64" in printed  # says what deep zooms need
    folder = tmp_path / "fractal_boundary-zoom-identity"
    saved = json.loads((folder / "zoom.json").read_text())
    assert saved["fixed"] == {"nonlinearity": "identity"} and saved["followed_boundary"] == [False, False]
    first, second = saved["frames"]
    np.testing.assert_allclose(first["width"], [9.0, 9.0], rtol=1e-6)  # frame 0: the experiment's 10^-3 … 10^6
    np.testing.assert_allclose(second["width"], np.divide(first["width"], 4), rtol=1e-12)
    for frame in saved["frames"]:
        np.testing.assert_allclose(frame["center"], [1.0, np.log10(20)], rtol=1e-12)
        (lo_in, hi_in), (lo_out, hi_out) = frame["window"]
        assert np.sqrt(lo_in * hi_in) == pytest.approx(10) and np.sqrt(lo_out * hi_out) == pytest.approx(20)
        assert frame["cells"] == [8, 8]
    from PIL import Image

    with Image.open(folder / "zoom.gif") as gif:
        assert gif.n_frames > 2  # an animation, gliding from frame 0 into frame 1
    assert sorted(p.name for p in (folder / "frames").iterdir()) == ["frame-00.png", "frame-01.png"]
    page = (tmp_path / "index.html").read_text()  # the page shows the strip and each frame's dimension
    assert 'src="fractal_boundary-zoom-identity/strip.png"' in page
    assert all(f"<td>{frame['dimension']:.3f}</td>" in page for frame in saved["frames"])


@pytest.mark.parametrize("argv, message", [
    # 9 decades / 10^11: float32 stops at 6e-6
    (["--frames", "12", "--factor", "10"], "narrower than float32 resolves"),
    (["--frames", "30", "--factor", "10", "--x64"], "narrower than float64 resolves"),
    (["--at", "nonsense=1"], "no hyperparameter of that name"),
    (["--at", "nonlinearity=sigmoid"], "not one of tanh, relu, identity"),
    (["--at", "input_lr=-1"], "must be positive"),
    (["--factor", "1"], "above 1"),
    (["--at", "input_lr"], "expected NAME=VALUE"),
])
def test_zoom_mistakes_and_too_narrow_windows_are_one_line(argv, message, tmp_path, capsys):
    assert main(["zoom", "fractal_boundary", "--resolution", "8", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("edujax: error: ") and message in err, err
    assert not any(tmp_path.iterdir()), "nothing written"


def test_every_frame_reuses_the_one_compiled_sweep_and_follows_the_boundary(module):
    traces, seen = [], []

    def counting_step(state, hparams):
        traces.append(1)  # runs only while JAX traces the step
        return module.experiment.step(state, hparams)

    experiment = ej.Experiment(**{**module.experiment.__dict__, "step": counting_step})
    zoomed = ej.zoom(experiment, frames=3, factor=3.0, resolution=8, steps=20,
                     report=lambda k, frame: seen.append(len(traces)))
    assert seen[0] > 0 and seen[1] == seen[2] == seen[0], "same grid shape, new values: no new trace"
    assert zoomed.followed == (True, True) and zoomed.fixed == {"nonlinearity": "tanh"}
    for before, after in zip(zoomed.frames, zoomed.frames[1:]):
        # the next centre is the boundary block of this frame nearest to its centre
        block = fractal.nearest_boundary_cell(before.measure, (3.5, 3.5))
        lows = np.subtract(before.center, np.divide(before.width, 2))
        np.testing.assert_allclose(after.center, lows + np.multiply(block, before.width) / 7, rtol=1e-12)
        np.testing.assert_allclose(after.width, np.divide(before.width, 3), rtol=1e-12)
