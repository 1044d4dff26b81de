"""The runner's contract: one compile, chunk-invariance, determinism, non-finite losses as data."""
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import edujax as ej
from edujax.runner import memory, trace
from edujax.core.errors import UserError
from edujax.core.outcomes import DIVERGED
from edujax.runner.trace import RecordPlan

from helpers import noisy_start_experiment


def small_grid(lo=1e-3, hi=1.0):
    return ej.Grid(ej.logspace("learning_rate", lo, hi, 9), ej.linspace("start_angle", 0.0, 90.0, 5))


def assert_same_result(a, b):
    np.testing.assert_array_equal(a.outcome, b.outcome)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.hi, b.hi)
    np.testing.assert_array_equal(a.lo, b.lo)
    np.testing.assert_array_equal(a.measure, b.measure)
    for name in a.final:
        np.testing.assert_array_equal(a.final[name], b.final[name])


def test_result_shapes_follow_the_grid(quadratic):
    result = ej.sweep(quadratic, small_grid(), 60, records=12, examples_per_outcome=0)
    assert result.outcome.shape == (9, 5)
    assert result.loss.shape == (9, 5, 13) and result.hi.shape == (9, 5, 12) and result.lo.shape == (9, 5, 12)
    assert result.measure.shape == result.steps_to_go.shape == result.frozen.shape == (9, 5)
    assert result.record_steps[0] == 0 and result.record_steps[-1] == 60
    assert set(result.final) == {"loss", "grad_norm", "newton_gain"}
    # a Newton step on the quadratic ½(x² + 10y²) lands on the minimum: it would remove the whole loss
    finite = np.isfinite(result.final["loss"]) & (result.final["loss"] < 1e30)
    np.testing.assert_allclose(result.final["newton_gain"][finite], result.final["loss"][finite], rtol=1e-3, atol=1e-30)


def test_record_plan_ends_on_the_last_step():
    for steps, records in [(500, 50), (37, 10), (5, 50), (1, 1)]:
        plan = RecordPlan.make(steps, records)
        assert plan.record_steps[-1] == steps
        assert plan.lead + plan.windows * plan.window == steps
        assert len(plan.record_steps) == plan.windows + 1


def plain_loop(result, index, steps):
    """The quadratic's every-step loss for one cell, by a plain float32 NumPy loop."""
    lr, angle = result.hparams["learning_rate"][index], np.deg2rad(result.hparams["start_angle"][index])
    x = 5.0 * np.array([np.cos(angle), np.sin(angle)], np.float32)
    lam = np.array([1.0, 10.0], np.float32)
    losses = []
    for _ in range(steps + 1):
        losses.append(0.5 * np.sum(lam * x**2))
        x = x - lr * lam * x
    return np.asarray(losses, np.float64)


def test_recorded_loss_is_the_exact_trajectory(quadratic):
    """Step t of the trace is the loss after t updates (checked against a plain loop)."""
    result = ej.sweep(quadratic, small_grid(), 20, records=20, examples_per_outcome=0)
    np.testing.assert_allclose(result.loss[3, 2], plain_loop(result, (3, 2), 20), rtol=1e-5)


@pytest.mark.parametrize("steps, records", [(40, 8), (43, 8), (7, 7), (60, 1), (5, 50)])
def test_the_envelope_is_each_windows_largest_and_smallest_loss(quadratic, steps, records):
    """hi/lo of window j span every step from record j to record j + 1, both included; leftover steps
    (steps not divisible by the windows) belong to the last window; a window may be one step long."""
    grid = ej.Grid(ej.values("learning_rate", [0.05, 0.19, 0.21], scale="log"), ej.values("start_angle", [30.0, 80.0]))
    result = ej.sweep(quadratic, grid, steps, records=records, examples_per_outcome=0)
    plan = RecordPlan.make(steps, records)
    for index in np.ndindex(result.outcome.shape):
        curve = plain_loop(result, index, steps)
        bounds = plan.record_steps
        hi = [curve[a:b + 1].max() for a, b in zip(bounds[:-1], bounds[1:])]
        lo = [curve[a:b + 1].min() for a, b in zip(bounds[:-1], bounds[1:])]
        np.testing.assert_allclose(result.hi[index], hi, rtol=1e-5)
        np.testing.assert_allclose(result.lo[index], lo, rtol=1e-5)
        np.testing.assert_allclose(result.loss[index], curve[bounds], rtol=1e-5)


def test_float64_sweeps_compute_in_float64(quadratic):
    """precision="float64": float64 columns and records, matching the exact trajectory to 1e-13 (float32: 1e-6),
    and JAX's 64-bit mode is left as it was."""
    import jax

    result = ej.sweep(quadratic, small_grid(), 200, records=200, precision="float64")
    assert result.loss.dtype == result.hparams["learning_rate"].dtype == result.examples["loss"].dtype == np.float64
    assert not jax.config.jax_enable_x64
    lr, angle = result.hparams["learning_rate"][5, 3], np.deg2rad(result.hparams["start_angle"][5, 3])
    x, lam, expected = 5.0 * np.array([np.cos(angle), np.sin(angle)]), np.array([1.0, 10.0]), []
    for _ in range(201):
        expected.append(0.5 * np.sum(lam * x**2))
        x = x - lr * lam * x
    np.testing.assert_allclose(result.loss[5, 3], expected, rtol=1e-13)
    assert ej.sweep(quadratic, small_grid(), 20, examples_per_outcome=0).loss.dtype == np.float32
    with pytest.raises(UserError, match="precision"):
        ej.sweep(quadratic, small_grid(), 20, precision="float16")


def test_chunked_equals_one_pass(quadratic):
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 30), ej.linspace("start_angle", 0.0, 90.0, 11))
    whole = ej.sweep(quadratic, grid, 50)
    for chunk in (100, 64, 1):  # a padded last chunk, an exact split, one run at a time
        assert_same_result(ej.sweep(quadratic, grid, 50, chunk_size=chunk), whole)


def test_cache_sized_blocks_change_no_number(quadratic, monkeypatch):
    """On a CPU a device trains its rows block by block when a step's temporaries are big;
    with the cache budget shrunk to nothing, even the quadratic runs in blocks of 64, bit for bit as one vmap."""
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 30), ej.linspace("start_angle", 0.0, 90.0, 11))
    whole = ej.sweep(quadratic, grid, 50)
    assert whole.info["block"] == 0
    monkeypatch.setattr(memory, "CACHE_BYTES", 0)
    blocked = ej.sweep(quadratic, grid, 50)
    assert blocked.info["block"] == memory.BATCH_MULTIPLE
    assert blocked.info["chunk_size"] % (memory.BATCH_MULTIPLE * blocked.info["devices"]) == 0
    assert_same_result(blocked, whole)


def test_runs_are_deterministic_and_seeded():
    experiment = noisy_start_experiment()
    first, again = ej.sweep(experiment), ej.sweep(experiment)
    assert_same_result(first, again)
    start_losses = first.loss[..., 0]
    assert len(np.unique(start_losses[0])) == 4, "each init seed gets its own start"
    other_seed = ej.sweep(experiment, seed=1)
    assert not np.array_equal(other_seed.loss[..., 0], start_losses)


def test_new_grid_values_do_not_recompile():
    traces = []
    base = noisy_start_experiment("trace_counter")

    def counting_step(state, hparams):
        traces.append(1)  # runs only while JAX traces the function
        return base.step(state, hparams)

    experiment = ej.Experiment(**{**base.__dict__, "step": counting_step})
    ej.sweep(experiment)
    traced = len(traces)
    moved = ej.Grid(ej.logspace("learning_rate", 1e-2, 2.0, 6), ej.seeds(4, start=10))
    ej.sweep(experiment, moved)
    assert len(traces) == traced, "same grid shape, new values: no new trace"
    # a hyperparameter from `defaults` swept as an axis: new columns, so one new compile, then none
    ej.sweep(experiment, ej.Grid(ej.logspace("learning_rate", 1e-2, 2.0, 6), ej.linspace("curvature", 0.5, 4.0, 4)))
    traced = len(traces)
    ej.sweep(experiment, ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 6), ej.linspace("curvature", 1.0, 9.0, 4)))
    assert len(traces) == traced


def test_diverging_runs_are_data_not_crashes(quadratic):
    result = ej.sweep(quadratic, ej.Grid(ej.logspace("learning_rate", 5.0, 50.0, 3),
                                         ej.linspace("start_angle", 10, 80, 2)), 400, examples_per_outcome=0)
    assert (result.outcome == DIVERGED).all()
    assert not np.isfinite(result.loss[..., -1]).any()


def test_missing_hyperparameter_is_a_user_error(quadratic):
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 3))  # no start_angle axis, no default
    with pytest.raises(UserError, match="start_angle"):
        ej.sweep(quadratic, grid, 10)


def test_non_scalar_loss_is_a_user_error():
    experiment = ej.minimize(
        name="vector_loss",
        loss=lambda p, h: p**2,  # not summed
        params=lambda key, h: jnp.ones(3),
        optimizer=lambda h: optax.sgd(h["learning_rate"]),
        grid=ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 3)),
        steps=5,
    )
    with pytest.raises(UserError, match="scalar"):
        ej.sweep(experiment)


def test_unknown_global_min_falls_back_to_the_best_loss_seen():
    experiment = noisy_start_experiment("no_known_min")
    experiment = ej.Experiment(**{**experiment.__dict__, "global_min": None})
    result = ej.sweep(experiment, examples_per_outcome=0)
    assert result.info["global_min"] == pytest.approx(float(np.nanmin(result.loss)))
    assert result.info["global_min_known"] is False


def test_examples_record_every_step_of_representative_runs(quadratic):
    result = ej.sweep(quadratic, small_grid(1e-4, 1.0), 40)
    examples = result.examples
    assert examples["loss"].shape == (len(examples["index"]), 41)
    np.testing.assert_array_equal(examples["step"], np.arange(41))
    for row, index in enumerate(examples["index"]):  # each example's every step, against a plain loop
        cell = np.unravel_index(index, result.outcome.shape)
        np.testing.assert_allclose(examples["loss"][row], plain_loop(result, cell, 40), rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(examples["outcome"], result.outcome.ravel()[examples["index"]])
    assert set(examples["outcome"].tolist()) == set(result.outcome.ravel().tolist())
    # their final states are the sweep's: x_T = (1 − lr·λ)^T x_0, per coordinate
    lr = result.hparams["learning_rate"].ravel()[examples["index"]].astype(np.float64)
    angle = np.deg2rad(result.hparams["start_angle"].ravel()[examples["index"]].astype(np.float64))
    x_final, y_final = examples["state"][0]
    # (to float32's rounding of 1 − lr·λ, which matters only where that factor is ~0: atol 1e-6 of the start)
    np.testing.assert_allclose(x_final, 5 * np.cos(angle) * (1 - lr) ** 40, rtol=1e-4, atol=5e-6)
    finite = np.isfinite(y_final)
    np.testing.assert_allclose(y_final[finite], (5 * np.sin(angle) * (1 - 10 * lr) ** 40)[finite], rtol=1e-4,
                               atol=5e-6)


def test_example_records_are_bounded_whatever_the_steps(quadratic):
    from edujax.runner.sweep import EXAMPLE_POINTS

    grid = ej.Grid(ej.values("learning_rate", [1e-3, 0.1]), ej.values("start_angle", [45.0]))
    result = ej.sweep(quadratic, grid, 100_003, records=10)
    assert result.examples["loss"].shape == (2, EXAMPLE_POINTS + 1)
    assert result.examples["step"][0] == 0 and result.examples["step"][-1] == 100_003
    # the recorded points are the loss at those steps: (1 − lr·λ)^{2t} decay, per coordinate
    row = int(np.flatnonzero(result.examples["index"] == 0)[0])
    t = result.examples["step"][:50].astype(np.float64)
    expected = 0.5 * 12.5 * (1 - 1e-3) ** (2 * t) + 0.5 * 10 * 12.5 * (1 - 1e-2) ** (2 * t)
    np.testing.assert_allclose(result.examples["loss"][row, :50], expected, rtol=1e-3)


def test_no_examples_asked_means_no_extra_runs(quadratic, tmp_path):
    from edujax.report import figures

    result = ej.sweep(quadratic, small_grid(), 20, examples_per_outcome=0)
    assert len(result.examples["index"]) == 0 and "loss" not in result.examples
    figures.render(result, tmp_path)  # the curves figure is simply empty
    result.save(tmp_path)
    assert len(ej.SweepResult.load(tmp_path).examples["index"]) == 0


def test_only_steps_on_a_few_scalars_are_unrolled():
    """A step as small as its state is unrolled; one that reduces over data or carries a big state is not."""
    carry = (jnp.zeros(2), jnp.complex64(0))
    halve = lambda c, _: ((c[0] / 2, c[1]), None)  # noqa: E731
    assert trace._scalar_step(halve, carry)
    data = jnp.arange(17.0)
    fit = lambda c, _: ((c[0] - jnp.mean(data * c[0][0]), c[1]), None)  # noqa: E731
    assert not trace._scalar_step(fit, carry)
    assert not trace._scalar_step(halve, (jnp.zeros(trace.UNROLL_MAX_STATE + 1), jnp.complex64(0)))
