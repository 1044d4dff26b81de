"""Learning-rate schedules whose every parameter can be a swept (traced) hyperparameter.

optax's schedule constructors check some arguments in Python — ``peak_value
== 0`` in `optax.warmup_cosine_decay_schedule`, ``transition_steps <= 0`` in
`optax.linear_schedule`, ``decay_rate == 0`` in `optax.exponential_decay`,
``decay_steps > 0`` in `optax.cosine_decay_schedule` — so
``optax.warmup_cosine_decay_schedule(peak_value=hparams["peak"], ...)``
raises a tracer-to-bool error inside a sweep. The schedules here compute the
same values from traced scalars: each is a plain function of the step count
whose arguments may all be `hparams[...]` entries, so a grid over peak ×
warmup × decay is still one compiled sweep. Where optax's own code traces,
it is used as is: `optax.join_schedules` glues the pieces, and the cosine
shape is optax's `cosine_decay_schedule` on a unit time axis. Each schedule
equals its optax namesake evaluated with concrete values, to float32 rounding
(tested).

Use one as the learning rate of any optax optimizer, which then keeps the step
count in its own state::

    optimizer=lambda h: optax.adam(ej.schedules.warmup_cosine(peak=h["peak_lr"], warmup=h["warmup"], total=1000))

and record the current learning rate with a `metrics` function that takes the
step count (see `edujax.minimize`)::

    metrics=lambda params, h, step: {"lr": schedule(h)(step)}
"""
from __future__ import annotations

import jax.numpy as jnp
import optax


def _fraction(count, begin, length):
    """(count − begin) / length clipped to [0, 1]; 1 once a zero-length phase has begun."""
    done = jnp.asarray(count - begin, jnp.float32)
    length = jnp.asarray(length, jnp.float32)
    return jnp.where(length > 0, jnp.clip(done / jnp.where(length > 0, length, 1.0), 0.0, 1.0), (done >= 0) * 1.0)


def linear(init, end, steps, begin=0) -> optax.Schedule:
    """`init` until step `begin`, then a straight line to `end` over `steps` steps, then `end`.

    lr(t) = init + (end − init)·clip((t − begin) / steps, 0, 1), and lr = init
    throughout when steps ≤ 0 (as `optax.linear_schedule`).

    >>> float(ej.schedules.linear(0.0, 1.0, steps=10)(5))
    0.5
    """

    def schedule(count):
        ramp = init + (end - init) * _fraction(count, begin, steps)
        return jnp.where(jnp.asarray(steps) > 0, ramp, init + 0.0 * ramp)

    return schedule


def cosine(init, steps, end=0.0, exponent=1.0) -> optax.Schedule:
    """Cosine decay from `init` to `end` over `steps` steps, then `end`.

    lr(t) = end + (init − end)·[½(1 + cos(π·min(t, T)/T))]^exponent with T =
    steps (as `optax.cosine_decay_schedule(init, T, alpha=end/init, exponent)`,
    but `end` is given as a value, so init = 0 is allowed and traces).

    >>> round(float(ej.schedules.cosine(1.0, steps=100)(50)), 4)
    0.5
    """
    unit = optax.cosine_decay_schedule(1.0, decay_steps=1, exponent=exponent)  # time measured in units of T

    def schedule(count):
        return end + (init - end) * unit(_fraction(count, 0, steps))

    return schedule


def exponential(init, steps, rate, begin=0, staircase=False, end=None) -> optax.Schedule:
    """`init`, multiplied by `rate` every `steps` steps from step `begin` on.

    lr(t) = init·rate^((t − begin)/steps) for t > begin (with `staircase`, the
    exponent rounded down: step decay), clipped at `end` if given; as
    `optax.exponential_decay(init, steps, rate, begin, staircase, end)`,
    including its rule that rate = 0 or steps ≤ 0 mean a constant `init`.

    >>> float(ej.schedules.exponential(1.0, steps=10, rate=0.5, staircase=True)(25))
    0.25
    """

    def schedule(count):
        elapsed = jnp.asarray(count - jnp.maximum(begin, 0), jnp.float32)
        power = elapsed / jnp.where(jnp.asarray(steps) > 0, steps, 1)
        power = jnp.floor(power) if staircase else power
        value = jnp.where(elapsed <= 0, init, init * jnp.power(rate, power))
        if end is not None:
            value = jnp.where(jnp.asarray(rate) < 1.0, jnp.maximum(value, end), jnp.minimum(value, end))
        return jnp.where((jnp.asarray(steps) > 0) & (jnp.asarray(rate) != 0), value, init + 0.0 * value)

    return schedule


def warmup_cosine(peak, warmup, total, end=0.0, init=0.0, exponent=1.0) -> optax.Schedule:
    """Linear warmup from `init` to `peak` over `warmup` steps, then cosine decay to `end` at step `total`.

    As `optax.warmup_cosine_decay_schedule(init, peak, warmup, total, end,
    exponent)`: `total` includes the warmup, so the cosine lasts total − warmup
    steps. Any argument may be traced (peak = 0 included).

    >>> lr = ej.schedules.warmup_cosine(peak=0.1, warmup=100, total=1000)
    >>> [round(float(lr(t)), 4) for t in (0, 50, 100, 550, 1000)]
    [0.0, 0.05, 0.1, 0.05, 0.0]
    """
    return optax.join_schedules([linear(init, peak, warmup), cosine(peak, total - warmup, end, exponent)], [warmup])


def warmup_exponential(peak, warmup, steps, rate, begin=0, staircase=False, end=None, init=0.0) -> optax.Schedule:
    """Linear warmup from `init` to `peak` over `warmup` steps, then `exponential(peak, steps, rate, ...)`.

    As `optax.warmup_exponential_decay_schedule(init, peak, warmup, steps,
    rate, begin, staircase, end)`; with `staircase`, a step decay after warmup.

    >>> lr = ej.schedules.warmup_exponential(peak=1.0, warmup=10, steps=100, rate=0.1)
    >>> [round(float(lr(t)), 4) for t in (5, 10, 110)]
    [0.5, 1.0, 0.1]
    """
    return optax.join_schedules([linear(init, peak, warmup), exponential(peak, steps, rate, begin, staircase, end)],
                                [warmup])
