"""ej.schedules: the same values as optax's own schedules (evaluated with concrete arguments),
every argument traceable, and a sweep over schedule parameters compiles once."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import edujax as ej
from edujax.core import schedules

COUNTS = np.arange(0, 1300, 7)

# (ours, optax's, concrete arguments): each pair is the same schedule, argument for argument.
CASES = [
    (lambda a: schedules.warmup_cosine(a["peak"], a["warmup"], a["total"], a["end"], a["init"], a["exponent"]),
     lambda a: optax.warmup_cosine_decay_schedule(a["init"], a["peak"], a["warmup"], a["total"], a["end"],
                                                  a["exponent"]),
     [dict(peak=0.1, warmup=100, total=1000, end=0.0, init=0.0, exponent=1.0),
      dict(peak=3.0, warmup=1, total=700, end=0.2, init=0.5, exponent=2.0),
      dict(peak=0.0, warmup=50, total=300, end=0.0, init=0.01, exponent=1.0)]),  # optax's peak_value == 0 branch
    (lambda a: schedules.warmup_exponential(a["peak"], a["warmup"], a["steps"], a["rate"], a["begin"], a["staircase"],
                                            a["end"], a["init"]),
     lambda a: optax.warmup_exponential_decay_schedule(a["init"], a["peak"], a["warmup"], a["steps"], a["rate"],
                                                       a["begin"], a["staircase"], a["end"]),
     [dict(peak=1.0, warmup=10, steps=100, rate=0.5, begin=0, staircase=False, end=None, init=0.0),
      dict(peak=0.3, warmup=200, steps=150, rate=0.1, begin=40, staircase=True, end=0.01, init=0.05),
      dict(peak=0.3, warmup=20, steps=100, rate=1.5, begin=0, staircase=False, end=1.0, init=0.0)]),
    (lambda a: schedules.linear(a["init"], a["end"], a["steps"], a["begin"]),
     lambda a: optax.linear_schedule(a["init"], a["end"], a["steps"], a["begin"]),
     [dict(init=1.0, end=0.01, steps=300, begin=20), dict(init=0.2, end=0.7, steps=0, begin=0)]),  # steps 0: constant
    (lambda a: schedules.cosine(a["init"], a["steps"], a["end"], a["exponent"]),
     lambda a: optax.cosine_decay_schedule(a["init"], a["steps"], a["end"] / a["init"], a["exponent"]),
     [dict(init=0.4, steps=900, end=0.04, exponent=1.0), dict(init=2.0, steps=64, end=0.0, exponent=3.0)]),
    (lambda a: schedules.exponential(a["init"], a["steps"], a["rate"], a["begin"], a["staircase"]),
     lambda a: optax.exponential_decay(a["init"], a["steps"], a["rate"], a["begin"], a["staircase"]),
     [dict(init=1.0, steps=100, rate=0.5, begin=30, staircase=True),
      dict(init=1.0, steps=100, rate=0.0, begin=0, staircase=False)]),
]


@pytest.mark.parametrize("ours, theirs, arguments", CASES)
def test_each_schedule_equals_optax_with_concrete_values_and_traces(ours, theirs, arguments):
    for concrete in arguments:
        expected = np.asarray(theirs(concrete)(jnp.asarray(COUNTS)), np.float32)
        # Every numeric argument traced (a jit argument), the count too: no Python branch on any of them.
        numeric = {k: v for k, v in concrete.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        static = {k: v for k, v in concrete.items() if k not in numeric}
        traced = jax.jit(lambda args, counts: jax.vmap(ours({**args, **static}))(counts))(
            {k: jnp.float32(v) for k, v in numeric.items()}, jnp.asarray(COUNTS, jnp.int32))
        np.testing.assert_allclose(np.asarray(traced), expected, rtol=2e-6,
                                   atol=1e-7 * max(1.0, np.abs(expected).max()), err_msg=str(concrete))


def test_a_sweep_over_peak_and_warmup_compiles_once_and_records_the_learning_rate():
    """GD on ½x² with lr(t) from warmup_cosine: x_T = x_0·Π(1 − lr(t)), checked in float64 NumPy against optax's lr."""
    traces = []
    steps = 40

    def schedule(h):
        return schedules.warmup_cosine(peak=h["peak"], warmup=h["warmup"], total=steps)

    def lr_metric(x, h, step):
        traces.append(1)  # runs only while JAX traces
        return {"lr": schedule(h)(step)}

    experiment = ej.minimize(
        name="warm_bowl", loss=lambda x, h: 0.5 * x**2, params=lambda key, h: jnp.float32(2.0),
        optimizer=lambda h: optax.sgd(schedule(h)), metrics=lr_metric,
        grid=ej.Grid(ej.values("peak", [0.0, 0.3, 1.2]), ej.values("warmup", [1, 5, 30])), steps=steps, global_min=0.0)
    result = ej.sweep(experiment)
    traced = len(traces)
    again = ej.sweep(experiment, ej.Grid(ej.values("peak", [0.1, 0.5, 1.9]), ej.values("warmup", [2, 10, 39])))
    assert len(traces) == traced, "new peak and warmup values, the same compiled sweep"
    for res in (result, again):
        lrs = {}
        for i, peak in enumerate(res.axes[0].values):
            for j, warmup in enumerate(res.axes[1].values):
                reference = optax.warmup_cosine_decay_schedule(0.0, float(peak), int(warmup), steps)
                lr = np.asarray(reference(jnp.arange(steps + 1)), np.float64)
                x = 2.0 * np.prod(1.0 - lr[:-1])
                np.testing.assert_allclose(res.final["lr"][i, j], lr[-1], atol=1e-7)
                np.testing.assert_allclose(res.loss[i, j, -1], 0.5 * x**2, rtol=1e-4, atol=1e-12)
                lrs[i * 3 + j] = lr
        for row, flat in enumerate(res.examples["index"]):  # every step of the drawn runs: optax's learning rate
            np.testing.assert_allclose(res.examples["lr"][row], lrs[int(flat)], rtol=1e-6, atol=1e-7)


def test_metrics_may_take_the_step_and_the_optimizer_state():
    def metrics(x, h, step, opt_state):
        return {"count": step, "momentum": opt_state[0].trace}

    experiment = ej.minimize(
        name="counting", loss=lambda x, h: 0.5 * x**2, params=lambda key, h: jnp.float32(1.0),
        optimizer=lambda h: optax.sgd(0.1, momentum=0.5), metrics=metrics,
        grid=ej.Grid(ej.values("x", [0.0])), steps=10, global_min=0.0)
    result = ej.sweep(experiment)
    np.testing.assert_array_equal(result.examples["count"][0], np.arange(11))
    # Heavy ball in float64: trace ← g + 0.5·trace, x ← x − 0.1·trace, with g = x; recorded before each update.
    x, trace, expected = 1.0, 0.0, []
    for _ in range(11):
        expected.append(trace)
        trace = x + 0.5 * trace
        x -= 0.1 * trace
    np.testing.assert_allclose(result.examples["momentum"][0], expected, rtol=1e-5, atol=1e-7)
    with pytest.raises(ej.UserError, match="metrics must take"):
        ej.minimize(name="bad", loss=lambda x, h: x**2, params=lambda key, h: 1.0, optimizer=lambda h: optax.sgd(0.1),
                    metrics=lambda a, b, c, d, e: {}, grid=ej.Grid(ej.values("x", [0.0])))


def test_metrics_of_two_arguments_keep_the_state_as_it_was():
    experiment = ej.minimize(
        name="plain", loss=lambda x, h: 0.5 * x**2, params=lambda key, h: jnp.float32(1.0),
        optimizer=lambda h: optax.sgd(0.5), metrics=lambda x, h: {"x": x},
        grid=ej.Grid(ej.values("x0", [0.0])), steps=3, global_min=0.0)
    state = experiment.init(None, {})
    assert len(state) == 2  # (params, opt_state): no step counter unless metrics asks for it
    result = ej.sweep(experiment)
    np.testing.assert_allclose(result.examples["x"][0], [1.0, 0.5, 0.25, 0.125])
