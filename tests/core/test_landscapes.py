"""Local minima against the truth: landscapes, basins, the optimizer switch and the figures."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

import edujax as ej
from edujax.core import landscapes
from edujax.app import registry
from edujax.core.outcomes import CONVERGED, LOCAL_MIN, OSCILLATING

ALL = [landscapes.bumpy_bowl, landscapes.rosenbrock, landscapes.himmelblau, landscapes.styblinski_tang,
       landscapes.rastrigin]


def start_grid(points, learning_rate):
    """A grid of explicit start points at one learning rate."""
    return ej.Grid(ej.points("start", points, ("x0", "y0")), ej.values("learning_rate", [learning_rate]))


@pytest.mark.parametrize("landscape", ALL, ids=lambda l: l.name)
def test_stated_minimum_is_the_global_minimum(landscape):
    """f(minimiser) = f*, the gradient vanishes there, and no point of the drawn window is lower."""
    grad = jax.grad(lambda p: landscape.f(p[0], p[1]))
    for point in landscape.minima:
        assert float(landscape.f(*np.float64(point))) == pytest.approx(landscape.f_star, abs=1e-8)
        assert np.abs(np.asarray(grad(jnp.asarray(point)))).max() < 1e-3
    x0, x1, y0, y1 = landscape.view
    x, y = np.meshgrid(np.linspace(x0, x1, 801), np.linspace(y0, y1, 801))
    assert np.asarray(landscape.f(x, y), np.float64).min() >= landscape.f_star - 1e-9


def test_tiny_steps_in_a_groove_are_local_min_and_the_floor_converges():
    """Grooved bowl: starts in the grooves at (2, 1) and (−3, 2) stay there; starts on the floor reach 0."""
    experiment = registry.load("bumpy_basins")
    grooves = [(2.1, 0.9), (-2.9, 2.1)]
    floor = [(0.3, -0.2), (-0.4, 0.1)]
    result = ej.sweep(experiment, start_grid(grooves + floor, 0.005), steps=400, examples_per_outcome=0)
    outcome = result.outcome[:, 0]
    assert list(outcome) == [LOCAL_MIN, LOCAL_MIN, CONVERGED, CONVERGED]
    # The stuck runs rest at a true local minimum of their own groove (zero gradient, positive
    # curvature, near the lattice point, pulled a little towards the origin), far above f* = 0.
    f = lambda p: landscapes.bumpy_bowl.f(p[0], p[1])  # noqa: E731
    for start, x, y in zip(grooves, result.final["x"][:2, 0], result.final["y"][:2, 0]):
        point = jnp.array([x, y])
        assert np.abs(np.asarray(jax.grad(f)(point))).max() < 1e-3
        assert np.linalg.eigvalsh(np.asarray(jax.hessian(f)(point))).min() > 0
        assert np.abs(np.asarray(point) - np.round(start)).max() < 0.25
    assert np.all(result.final["loss"][:2, 0] > 1.0)


def test_groove_limit_separates_stuck_from_escaping():
    """Just below 2/λ_groove a far groove holds the marble; at lr = 0.3 it hops to the floor and converges."""
    experiment = registry.load("bumpy_basins")
    limit = 2 / landscapes.GROOVE_CURVATURE
    stuck = ej.sweep(experiment, start_grid([(3.1, -2.9)], 0.8 * limit), steps=300, examples_per_outcome=0)
    escaped = ej.sweep(experiment, start_grid([(3.1, -2.9)], 0.3), steps=300, examples_per_outcome=0)
    assert stuck.outcome.item() == LOCAL_MIN
    assert escaped.outcome.item() == CONVERGED


@pytest.mark.parametrize("name, grid", [
    # Rastrigin starts 2.0 along 30° (in the cell of (2, 1)) and 0.2 along 30° (the central cell).
    ("rastrigin", ej.Grid(ej.values("start_distance", [2.0, 0.2]), ej.values("learning_rate", [1e-3]))),
    # Styblinski–Tang with y0 = −1: x0 = 2 is past the hump (t ≈ 0.157), x0 = −2 before it.
    ("styblinski_tang", start_grid([(2.0, -1.0), (-2.0, -1.0)], 1e-3)),
])
def test_classic_local_and_global_basins(name, grid):
    """A small step from inside a local basin is local_min; from inside the global basin it converges to the
    minimiser."""
    result = ej.sweep(registry.load(name), grid, steps=2000, examples_per_outcome=0)
    assert list(result.outcome[:, 0]) == [LOCAL_MIN, CONVERGED]
    landscape = getattr(landscapes, name)
    reached = np.array([result.final["x"][1, 0], result.final["y"][1, 0]])
    assert np.abs(reached - landscape.minima[0]).max() < 1e-2
    assert result.final["loss"][0, 0] > landscape.f_star + 1.0


def test_himmelblau_run_ends_in_the_basin_it_starts_in():
    """Started 0.3 from each minimum with a small step, every run converges to that minimum."""
    experiment = registry.load("himmelblau")
    minima = np.asarray(landscapes.himmelblau.minima)
    result = ej.sweep(experiment, start_grid(minima + [0.3, -0.3], 0.005), steps=300, examples_per_outcome=0)
    assert np.all(result.outcome == CONVERGED)
    reached = landscapes.himmelblau.nearest_minimum(result.final["x"][:, 0], result.final["y"][:, 0])
    assert list(reached) == [0, 1, 2, 3]


def test_himmelblau_minimum_cannot_hold_a_step_past_its_curvature_limit():
    """(−3.78, −3.28) has λ_max ≈ 133.8: lr = 0.017 > 2/λ_max never settles there; (3, 2) (λ_max ≈ 82.3) still
    holds it."""
    experiment = registry.load("himmelblau")
    hessian = jax.hessian(lambda p: landscapes.himmelblau.f(p[0], p[1]))
    sharp, gentle = (np.linalg.eigvalsh(hessian(jnp.asarray(m))).max()
                     for m in np.asarray(landscapes.himmelblau.minima)[[2, 0]])
    assert 2 / sharp < 0.017 < 2 / gentle
    result = ej.sweep(experiment, start_grid([(-3.6, -3.1), (3.2, 2.2)], 0.017), steps=300, examples_per_outcome=0)
    assert list(result.outcome[:, 0]) == [OSCILLATING, CONVERGED]


def test_switch_follows_each_candidate_exactly():
    """`switch(i, candidates)` under jit with a traced index takes the same steps as candidates[i] alone."""
    candidates = [optax.sgd(0.1), optax.sgd(0.1, momentum=0.9), optax.sgd(0.1, momentum=0.9, nesterov=True),
                  optax.adam(0.1)]
    grad = jax.grad(lambda p: jnp.sum(p**2 * jnp.array([1.0, 10.0])))

    @jax.jit
    def run(index):
        opt = ej.switch(index, candidates)
        params, state = jnp.array([1.0, -2.0]), opt.init(jnp.array([1.0, -2.0]))
        for _ in range(5):
            updates, state = opt.update(grad(params), state, params)
            params = optax.apply_updates(params, updates)
        return params

    for i, candidate in enumerate(candidates):
        params, state = jnp.array([1.0, -2.0]), candidate.init(jnp.array([1.0, -2.0]))
        for _ in range(5):
            updates, state = candidate.update(grad(params), state, params)
            params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(run(i), params, rtol=1e-6)


def test_optimizer_axis_runs_through_the_same_grid_code():
    """Each panel of the optimizer sweep equals a sweep with that optimizer written directly.

    (Up to float32 rounding, which the two compiled programs fuse differently: the
    learning rates stay below the chaotic regime, where rounding would be amplified.)
    """
    experiment = registry.load("bumpy_optimizers")
    lrs, distances = ej.logspace("learning_rate", 0.002, 0.02, 3), ej.linspace("start_distance", 0.5, 3.0, 3)
    grid = ej.Grid(lrs, distances, experiment.grid.axis("optimizer"))
    both = ej.sweep(experiment, grid, steps=60, examples_per_outcome=0)
    for index, make in enumerate(experiment_module("bumpy_optimizers").OPTIMIZERS.values()):
        alone = ej.minimize(
            name="alone", loss=landscapes.bumpy_bowl.loss, params=landscapes.ray_start(30.0),
            metrics=landscapes.position, optimizer=lambda hparams, make=make: make(hparams["learning_rate"]),
            grid=ej.Grid(lrs, distances), global_min=0.0,
        )
        single = ej.sweep(alone, steps=60, examples_per_outcome=0)
        for column in ("x", "y", "loss"):
            np.testing.assert_allclose(both.final[column][..., index], single.final[column], rtol=1e-3, atol=1e-4)
        np.testing.assert_array_equal(both.outcome[..., index], single.outcome)


def experiment_module(name):
    """The module object of an experiment (registry.load registers it in sys.modules)."""
    import sys
    registry.load(name)
    return sys.modules[f"edujax_experiment_{name}"]


def test_paths_come_from_the_few_examples_and_start_at_the_start(tmp_path):
    """The sweep keeps only final positions; the drawn runs carry every step, from their start point; figures get
    written."""
    experiment = registry.load("himmelblau")
    grid = ej.Grid(ej.linspace("x0", -5, 5, 6), ej.linspace("y0", -5, 5, 6), ej.values("learning_rate", [0.005, 0.022]))
    result = ej.sweep(experiment, grid, steps=40)
    assert result.final["x"].shape == grid.shape and result.loss.shape == grid.shape + (len(result.record_steps),)
    examples = result.examples
    assert examples["x"].shape == (len(examples["index"]), 41) and len(examples["index"]) <= 10
    np.testing.assert_allclose(examples["x"][:, 0], result.hparams["x0"].ravel()[examples["index"]])
    np.testing.assert_allclose(examples["y"][:, 0], result.hparams["y0"].ravel()[examples["index"]])
    drawn = experiment.figures(result, tmp_path)
    assert set(drawn) == {"trajectories.png", "marble.gif", "basins.png"}
    with Image.open(tmp_path / "marble.gif") as gif:
        assert gif.n_frames > 10
