"""Sharpness by power iteration, against eigenvalues computed by NumPy in float64, and along training runs."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import edujax as ej
from edujax.app import registry
from edujax.runner import trace
from edujax.core.outcomes import CONVERGED
from edujax.store.result import SweepResult
from edujax.runner.trace import replay
from jax.flatten_util import ravel_pytree

SHAPES = {"w": (2, 3), "b": (2,)}  # the parameters are a pytree of 8 numbers


def symmetric(seed, spectrum):
    """Q diag(spectrum) Qᵀ for a random orthogonal Q (float64)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(len(spectrum), len(spectrum))))
    return q @ np.diag(spectrum) @ q.T


def quadratic_loss(params, matrix):
    """f(θ) = ½ θᵀAθ + cᵀθ over the pytree SHAPES (flattened in order w, b): its Hessian is A everywhere.
    The matrix comes in as the `hparams` argument, so one compiled estimate serves every case."""
    theta = jnp.concatenate([params["w"].ravel(), params["b"]])
    return 0.5 * theta @ matrix @ theta + jnp.linspace(-1.0, 1.0, len(matrix)) @ theta


@jax.jit
def top(matrix, params, preconditioner=None):
    return ej.sharpness(quadratic_loss, params, matrix, iters=400, preconditioner=preconditioner)


def as_tree(flat):
    return {"w": jnp.asarray(flat[:6].reshape(2, 3), jnp.float32), "b": jnp.asarray(flat[6:], jnp.float32)}


def somewhere(seed):
    keys = jax.random.split(jax.random.key(seed), len(SHAPES))
    return {name: jax.random.normal(key, shape) for key, (name, shape) in zip(keys, SHAPES.items())}


SPECTRA = [
    np.geomspace(0.01, 10.0, 8),                       # positive definite, ill-conditioned
    np.array([5.0, 4.0, 1.0, 0.5, 0.0, 0.0, -0.5, -1.0]),   # indefinite, singular
    np.array([3.0, 2.0, 1.0, 0.5, -1.0, -2.0, -6.0, -10.0]),  # the most negative eigenvalue is the largest in size
]


@pytest.mark.parametrize("case", range(len(SPECTRA)))
def test_sharpness_of_a_quadratic_is_its_top_eigenvalue(case):
    matrix = symmetric(case, SPECTRA[case])
    value, vector = top(jnp.asarray(matrix, jnp.float32), somewhere(case), as_tree(np.ones(8)))
    truth = np.linalg.eigvalsh(matrix)[-1]
    assert float(value) == pytest.approx(truth, rel=1e-4)
    v = np.concatenate([np.ravel(vector["w"]), vector["b"]]).astype(np.float64)
    assert np.linalg.norm(v) == pytest.approx(1.0, rel=1e-5)
    assert v @ matrix @ v == pytest.approx(truth, rel=1e-4)  # the vector is the top eigenvector
    plain, _ = top(jnp.asarray(matrix, jnp.float32), somewhere(case))
    assert float(plain) == pytest.approx(truth, rel=1e-4)  # no preconditioner at all: the same


@pytest.mark.parametrize("case", range(len(SPECTRA)))
def test_preconditioned_sharpness_is_the_top_eigenvalue_of_p_inverse_h(case):
    matrix = symmetric(10 + case, SPECTRA[case])
    p = np.random.default_rng(case).uniform(0.05, 3.0, 8)
    value, _ = top(jnp.asarray(matrix, jnp.float32), somewhere(case), as_tree(p))
    scale = 1 / np.sqrt(p)
    truth = np.linalg.eigvalsh(scale[:, None] * matrix * scale[None, :])[-1]
    assert truth == pytest.approx(np.linalg.eigvals(matrix / p[:, None]).real.max())  # λ(P^-½HP^-½) = λ(P⁻¹H)
    assert float(value) == pytest.approx(truth, rel=1e-4)


def test_sharpness_under_vmap_matches_one_at_a_time():
    """A batch of quadratics with different Hessians (and preconditioners), vmapped, equals each call alone."""
    matrices = jnp.asarray(np.stack([symmetric(s, SPECTRA[s % 3] * (1 + s)) for s in range(4)]), jnp.float32)
    preconditioners = jnp.asarray(np.random.default_rng(0).uniform(0.5, 2.0, (4, 8)), jnp.float32)

    def one(matrix, p, theta):
        loss = lambda t, h: 0.5 * t @ matrix @ t  # noqa: E731
        return ej.sharpness(loss, theta, iters=50, preconditioner=p)

    thetas = jax.random.normal(jax.random.key(1), (4, 8))
    batched = jax.jit(jax.vmap(one))(matrices, preconditioners, thetas)
    for i in range(4):
        alone = jax.jit(one)(matrices[i], preconditioners[i], thetas[i])
        np.testing.assert_allclose(batched[0][i], alone[0], rtol=1e-5)
        np.testing.assert_allclose(batched[1][i], alone[1], rtol=1e-4, atol=1e-5)


def test_adam_preconditioner_is_the_divisor_of_adams_step():
    """After three updates, optax.adam's step equals −lr·m̂/P with P from a float64 NumPy Adam written here."""
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    adam, params = optax.adam(lr, b1=b1, b2=b2, eps=eps), jnp.zeros(3)
    grads = [np.array([3.0, -0.5, 1e-3]), np.array([1.0, 2.0, -1e-3]), np.array([-2.0, 0.1, 2e-3])]
    state, m, v = adam.init(params), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        updates, state = adam.update(jnp.asarray(g, jnp.float32), state, params)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
    p = np.sqrt(v / (1 - b2**t)) + eps
    np.testing.assert_allclose(ej.adam_preconditioner(state, b2, eps), p, rtol=1e-5)
    np.testing.assert_allclose(updates, -lr * m / (1 - b1**t) / p, rtol=1e-5)
    # inside ej.switch (a tuple of candidate states) it is found all the same
    chosen = ej.switch(1, (optax.sgd(lr), adam))
    _, switched = chosen.update(jnp.asarray(grads[0], jnp.float32), chosen.init(params), params)
    np.testing.assert_allclose(ej.adam_preconditioner(switched), np.abs(grads[0]) + eps, rtol=1e-5)


def test_sharpness_is_re_estimated_every_k_steps_and_recorded(tmp_path):
    """GD on f(x) = x⁴/4 (f'' = 3x²), estimated every 3 steps, recorded every 2: each record holds 3x² at the
    last multiple of 3 steps before it, checked against a float64 NumPy loop; and records survive save/load."""
    experiment = ej.minimize(
        name="quartic", loss=lambda x, h: x**4 / 4, params=lambda key, h: h["x0"],
        optimizer=lambda h: optax.sgd(h["learning_rate"]), sharpness=ej.Sharpness(every=3, iters=2, first_iters=2),
        grid=ej.Grid(ej.values("learning_rate", [0.01, 0.05], "log"), ej.values("x0", [1.0, 2.0])), steps=20,
    )
    result = ej.sweep(experiment, records=10, examples_per_outcome=0)
    assert result.record_steps.tolist() == list(range(0, 21, 2))
    for i, lr in enumerate([0.01, 0.05]):
        for j, x in enumerate([1.0, 2.0]):
            xs = [x]
            for _ in range(20):
                xs.append(xs[-1] - lr * xs[-1] ** 3)
            expected = [3 * xs[3 * (t // 3)] ** 2 for t in result.record_steps]
            np.testing.assert_allclose(result.records["sharpness"][i, j], expected, rtol=1e-5)
            assert result.final["sharpness"][i, j] == pytest.approx(expected[-1], rel=1e-5)
    loaded = SweepResult.load(result.save(tmp_path / "quartic"))
    np.testing.assert_array_equal(loaded.records["sharpness"], result.records["sharpness"])


def test_recording_a_metric_the_step_does_not_return_is_a_user_error(quadratic):
    with pytest.raises(ej.UserError, match="records \\['nope'\\]"):
        ej.sweep(dataclasses.replace(quadratic, record=("nope",)), steps=4)
    with pytest.raises(ej.UserError, match="record must be a tuple"):
        dataclasses.replace(quadratic, record="sharpness")


def test_vmapped_sweep_keeps_the_estimate_a_real_branch():
    """The step counter does not depend on the grid point, so in the vmapped sweep the re-estimate stays a
    `cond` (run only every k steps) instead of becoming a `select` that computes it at every step."""
    experiment = registry.load("edge_of_stability")
    hparams = {"learning_rate": jnp.full(4, 0.1), "seed": jnp.arange(4), "optimizer": jnp.arange(4) % 3}
    run = jax.vmap(trace.run_one(experiment, trace.RecordPlan.make(40, 2), jnp.float32), in_axes=(0, None))
    assert "cond[" in str(jax.make_jaxpr(run)(hparams, jax.random.key(0)))


@pytest.fixture(scope="module")
def four_points():
    """The edge_of_stability MLP on 4 of its samples, by gradient descent: small enough to converge."""
    module = registry.load_module(registry.available()["edge_of_stability"])
    x, y = ej.regression.CURVE_X[::16], ej.regression.CURVE_Y[::16]
    experiment = ej.minimize(
        name="eos_four_points", loss=lambda p, h: jnp.mean((ej.regression.tanh_mlp(p, x) - y) ** 2),
        params=module.weights,
        optimizer=lambda h: optax.sgd(h["learning_rate"]), sharpness=ej.Sharpness(every=10, iters=4),
        grid=ej.Grid(ej.values("learning_rate", [0.02, 0.05, 0.08, 0.12, 0.19], "log"),
                     ej.Axis("seed", np.arange(2, dtype=np.int32), "linear")),
        steps=400, global_min=0.0, criteria=ej.Criteria(rtol=1e-3),
    )
    return experiment, module, x, y, ej.sweep(experiment, records=40, examples_per_outcome=0)


def test_converged_gd_runs_sit_below_two_over_lr_and_some_reach_it(four_points):
    """A minimum that gradient descent converges to is linearly stable: λ_max ≤ 2/lr (tolerance 1%:
    float32 and a run that is still settling). And progressive sharpening brings some run from below
    90% of 2/lr at the start to within 10% of it."""
    _, _, _, _, result = four_points
    ratio = result.records["sharpness"] * result.hparams["learning_rate"][..., None] / 2
    converged = result.outcome == CONVERGED
    assert converged.sum() >= 4
    assert np.all(ratio[converged][:, -1] <= 1.01), ratio[converged][:, -1]
    rising = (ratio[..., 0] < 0.9) & (np.nanmax(ratio, -1) >= 0.9)
    assert rising.any()


def test_tracked_sharpness_of_the_mlp_is_its_hessians_top_eigenvalue(four_points):
    """Warm-started estimates (4 products every 10 steps) keep up with the training: at the end of a run the
    tracked value equals the top eigenvalue of the full 321 × 321 Hessian (float64 NumPy eigvalsh)."""
    experiment, module, x, y, _ = four_points
    final = jax.jit(lambda h: replay(experiment, h, 400))
    _, unravel = ravel_pytree(module.weights(jax.random.key(0), {}))
    hessian = jax.jit(jax.hessian(lambda flat: jnp.mean((ej.regression.tanh_mlp(unravel(flat), x) - y) ** 2)))
    for lr in (0.05, 0.12):
        (params, _, _), metrics = final({"learning_rate": jnp.float32(lr), "seed": jnp.int32(0)})
        truth = np.linalg.eigvalsh(np.asarray(hessian(ravel_pytree(params)[0]), np.float64))[-1]
        assert float(metrics["sharpness"][-1]) == pytest.approx(truth, rel=1e-3)
