"""The ring GAN: its metrics on constructed samples, its outcome rules, and its sweep mechanics."""
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import edujax as ej
from edujax.app import registry

ring = registry.load("gan_ring")
gan = sys.modules[ring.init.__module__]  # the experiment module: MODES, mode_shares, ...


def samples_on(modes, per_mode=100, spread=0.5):
    """`per_mode` samples around each listed mode, within `spread`·3σ of it."""
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, (len(modes), per_mode))
    radius = spread * 3 * gan.SIGMA * np.sqrt(rng.uniform(size=(len(modes), per_mode)))
    offsets = np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)
    return (gan.MODES[list(modes)][:, None, :] + offsets).reshape(-1, 2).astype(np.float32)


def metrics(x):
    return {k: float(v) for k, v in gan.mode_metrics(gan.mode_shares(jnp.asarray(x))).items()}


def test_all_eight_modes_are_covered():
    m = metrics(samples_on(range(8)))
    assert m["modes"] == 8 and m["quality"] == pytest.approx(1.0) and m["loss"] == pytest.approx(0.0, abs=1e-6)


def test_samples_on_three_modes_cover_three():
    m = metrics(samples_on([0, 3, 5]))
    assert m["modes"] == 3 and m["quality"] == pytest.approx(1.0)
    assert m["loss"] == pytest.approx(1 - 3 / 8)  # the five missing modes' mass


def test_samples_off_the_modes_are_low_quality():
    x = samples_on(range(8))
    far = x * 0.8  # pulled towards the centre by 0.4, far beyond 3σ = 0.15
    m = metrics(np.concatenate([x, far]))
    assert m["modes"] == 8 and m["quality"] == pytest.approx(0.5) and m["loss"] == pytest.approx(0.5, abs=1e-6)
    assert metrics(far)["modes"] == 0 and metrics(far)["loss"] == pytest.approx(1.0)


def test_outcome_rules():
    """Each rule on a constructed final quarter (13 records): a flat loss at 8, 5 and 0 modes, a steady fall,
    a swing of 0.3 peak to trough about a flat line, a non-finite loss; then the noisy cases the rules must
    not mistake for dynamics: sampling noise of std 0.02 (an EMA over 3,200 samples) about a flat level is
    steady, and a fall of 0.01 buried in that noise is no trend."""
    rules = ring.outcome_colors
    flat, falling, swinging = np.full(13, 0.2), np.linspace(0.6, 0.2, 13), 0.3 + 0.3 * (np.arange(13) % 2)
    noise = 0.02 * np.random.default_rng(0).standard_normal(13)
    loss = np.stack([flat, flat, flat, falling, swinging, flat, 0.3 + noise, 0.3 + noise - np.linspace(0, 0.01, 13)])
    runs = {
        "loss": np.concatenate([np.ones((8, 38)), loss], axis=1), "hi": np.ones((8, 50)),
        "final": {"modes": np.array([8, 5, 0, 8, 8, 8, 8, 0.0]),
                  "quality": np.array([0.8, 0.8, 0.05, 0.8, 0.8, 0.8, 0.72, 0.0]),
                  "d_loss": np.ones(8), "g_loss": np.ones(8)},
    }
    runs["hi"][5, 20] = np.inf  # a loss of the sixth run was non-finite
    codes = ring.classify(runs, np.zeros(8, np.int8))
    assert [list(rules)[c] for c in codes] == ["converged", "mode_collapse", "off_data", "slow", "oscillating",
                                               "diverged", "converged", "off_data"]


def test_trend_fit_against_numpy_polyfit():
    """The line through the records is the least-squares line (numpy.polyfit's), its fall the line's drop."""
    rng = np.random.default_rng(1)
    loss = 0.5 - 0.02 * np.arange(13) + 0.01 * rng.standard_normal((3, 13))
    fall, se, swing = gan.trend(loss)
    for row in range(3):
        slope, intercept = np.polyfit(np.arange(13), loss[row], 1)
        residuals = loss[row] - (slope * np.arange(13) + intercept)
        assert fall[row] == pytest.approx(-slope * 12)
        assert swing[row] == pytest.approx(residuals.max() - residuals.min())


@pytest.fixture(scope="module")
def small_sweep():
    """A 2 × 2 learning-rate grid for 8 steps."""
    grid = ej.Grid(ej.values("lr_g", [1e-3, 1e-2], "log"), ej.values("lr_d", [3e-3, 3e-2], "log"),
                   ej.seeds(1, start=4))
    return ej.sweep(ring, grid, 8), None


def test_the_whole_learning_rate_grid_is_one_compiled_call(small_sweep):
    result, _ = small_sweep
    # one call (one chunk), padded to the batch multiple
    assert result.info["chunks"] == 1 and result.info["chunk_size"] >= result.outcome.size == 4


def test_the_examples_final_states_are_the_sweeps_own_runs(small_sweep):
    """One more step from an example's kept final state reproduces the sweep's final metrics of that cell
    (the metrics describe the state before the update, so they are a function of that state alone): the
    samples figure draws from the very generator the sweep classified, not a re-trained one."""
    result, _ = small_sweep
    for row, index in enumerate(result.examples["index"]):
        state = jax.tree.map(lambda leaf: leaf[row], result.examples["state"])
        hparams = {name: jnp.asarray(col.ravel()[index]) for name, col in result.hparams.items()}
        _, metrics = jax.jit(ring.step)(state, hparams)
        for name in ("loss", "modes", "quality", "d_loss", "g_loss"):
            np.testing.assert_allclose(metrics[name], result.final[name].ravel()[index], rtol=1e-6, atol=1e-7)


def test_the_samples_figure_titles_are_the_sweeps_metrics(small_sweep, tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    result, _ = small_sweep
    titles = []
    original = Axes.set_title
    monkeypatch.setattr(Axes, "set_title",
                        lambda self, text, *a, **k: titles.append(text) or original(self, text, *a, **k))
    ring.figures(result, tmp_path)
    for row, index in enumerate(result.examples["index"]):
        modes, quality = (result.final[k].ravel()[index] for k in ("modes", "quality"))
        assert any(f"{int(modes)} modes, {quality:.0%} high quality" in t for t in titles)
