"""Sharpness: the Hessian's top eigenvalue, measured inside the compiled sweep.

Gradient descent with step lr on a quadratic with Hessian H multiplies the
error along each eigenvector by (1 − lr·λᵢ): it is stable iff every
|1 − lr·λᵢ| < 1, i.e. iff the *sharpness* λ_max(H) < 2/lr. On a network the
Hessian changes as it trains, so the sharpness is a quantity to measure along
the way (Cohen et al. 2021, "Gradient Descent on Neural Networks Typically
Occurs at the Edge of Stability").

It is estimated by power iteration, v ← Hv/‖Hv‖, never forming H: each
Hessian-vector product is forward-over-reverse differentiation,
Hv = d/dε ∇f(θ + εv) at ε = 0 (`jax.jvp` of `jax.grad`), about the cost of
two gradients. The estimate is the Rayleigh quotient vᵀHv. Along a training
run the top eigenvector moves slowly, so `track` starts each estimate from
the previous one's vector: a few products every k steps keep up.

Adaptive methods take the step lr·P⁻¹m with a diagonal preconditioner P
(Adam: P = diag(√v̂ + ε)); their stability is decided by the *preconditioned
sharpness* λ_max(P⁻¹H) = λ_max(P^(−1/2) H P^(−1/2)) (Cohen et al. 2022,
"Adaptive Gradient Methods at the Edge of Stability"), measured here the same
way with the symmetric form.

Plain power iteration finds the eigenvalue of largest *magnitude*; here a
shift keeps a large negative eigenvalue (common in Adam's preconditioned
Hessian, where tiny √v̂ magnify every curvature) from capturing it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from edujax.core.errors import UserError


def hessian_vector_product(loss: Callable, params, hparams, vector):
    """Hv, with H the Hessian of `loss(·, hparams)` at `params`, by forward-over-reverse differentiation.

    Hv = d/dε ∇loss(params + ε·v) at ε = 0: one `jax.jvp` of `jax.grad`,
    never forming H. `vector` is a pytree shaped like `params`.

    >>> import jax.numpy as jnp, edujax as ej
    >>> loss = lambda x, h: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)
    >>> ej.hessian_vector_product(loss, jnp.ones(2), None, jnp.array([0.0, 1.0])).tolist()
    [0.0, 10.0]
    """
    return jax.jvp(lambda p: jax.grad(loss)(p, hparams), (params,), (vector,))[1]


def unit_vector(params, key=None):
    """A random unit vector shaped like `params` (a fixed key unless `key` is given): a cold start."""
    vector = optax.tree.random_like(jax.random.key(0) if key is None else key, params)
    return optax.tree.scale(1.0 / optax.tree.norm(vector), vector)


def sharpness(loss: Callable, params, hparams=None, vector=None, *, iters=20, preconditioner=None):
    """λ_max of the Hessian H of `loss(·, hparams)` at `params` by power iteration: `(λ, v)`.

    Each of `iters` steps is one Hessian-vector product (see
    `hessian_vector_product`): v ← Av/‖Av‖, where A = H, or with a
    `preconditioner` p (a pytree of positive numbers shaped like `params`,
    the diagonal of P) A = P^(−1/2) H P^(−1/2), whose eigenvalues are those
    of P⁻¹H. λ is the largest Rayleigh quotient vᵀAv seen: each is at most
    λ_max, and its error shrinks like (λ₂/λ₁)^(2·iters). Plain power
    iteration finds the eigenvalue of largest *magnitude*; so that a more
    negative eigenvalue cannot capture it, whenever vᵀAv < 0 the iteration
    shifts to A + σI with σ = ‖Av‖ (which pushes the negative directions
    towards 0 and keeps λ_max on top, at no extra product). `vector` (a
    previous call's `v`) warm-starts it, else a fixed random unit vector.
    `iters` may be a traced integer. Works under `jit` and `vmap`.

    >>> import jax.numpy as jnp, edujax as ej
    >>> loss = lambda x, h: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)
    >>> value, vector = ej.sharpness(loss, jnp.zeros(2))
    >>> round(float(value), 4)
    10.0
    >>> value, _ = ej.sharpness(loss, jnp.zeros(2), preconditioner=jnp.array([1.0, 20.0]))
    >>> round(float(value), 4)  # P⁻¹H = diag(1/1, 10/20)
    1.0
    """
    scale = None if preconditioner is None else jax.tree.map(lambda p: 1.0 / jnp.sqrt(p), preconditioner)

    def apply(v):  # A·v
        if scale is None:
            return hessian_vector_product(loss, params, hparams, v)
        return optax.tree.mul(scale, hessian_vector_product(loss, params, hparams, optax.tree.mul(scale, v)))

    def power_step(_, carry):
        v, best, shift = carry
        av = apply(v)
        rayleigh = optax.tree.vdot(v, av)
        shift = jnp.where(rayleigh < 0, jnp.maximum(shift, optax.tree.norm(av)), shift)
        shifted = optax.tree.add_scale(av, shift, v)  # (A + σI)v: no extra product
        return optax.tree.scale(1.0 / optax.tree.norm(shifted), shifted), jnp.fmax(best, rayleigh), shift

    start = unit_vector(params) if vector is None else vector
    dtype = jnp.result_type(*jax.tree.leaves(params))
    nothing = jnp.full((), jnp.nan, dtype)
    vector, value, _ = jax.lax.fori_loop(0, iters, power_step, (start, nothing, jnp.zeros((), dtype)))
    return value, vector


def adam_preconditioner(opt_state, b2: float = 0.999, eps: float = 1e-8):
    """Adam's diagonal preconditioner P = √v̂ + ε, read from an optax Adam state.

    v̂ = ν/(1 − β₂ᵗ) is the bias-corrected second moment after t updates
    (`optax.scale_by_adam`'s `nu` and `count`, found anywhere inside
    `opt_state`, e.g. within `ej.switch` or `optax.chain`). Use the state
    *after* an update: before the first one ν = 0 and v̂ is undefined.

    >>> import jax.numpy as jnp, optax, edujax as ej
    >>> adam = optax.adam(0.1)
    >>> _, state = adam.update(jnp.array([3.0, -0.5]), adam.init(jnp.zeros(2)))
    >>> ej.adam_preconditioner(state).round(4).tolist()  # after one update v̂ = g²
    [3.0, 0.5]
    """
    nu, count = optax.tree.get(opt_state, "nu"), optax.tree.get(opt_state, "count")
    correction = 1.0 - b2 ** count.astype(jnp.float32)
    return jax.tree.map(lambda n: jnp.sqrt(n / correction.astype(n.dtype)) + eps, nu)


class Tracker(NamedTuple):
    """The state of a sharpness estimate along a run: `step` counts calls of `track`
    (the same for every run of a sweep, so it stays unbatched under `vmap`),
    `value` is the latest estimate and `vector` its eigenvector, the next warm start."""

    step: jax.Array
    value: jax.Array
    vector: Any


@dataclasses.dataclass(frozen=True)
class Sharpness:
    """Measure the sharpness every `every` steps of a run, inside the compiled sweep.

    The first estimate takes `first_iters` power-iteration steps from a
    random vector; later ones take `iters`, warm-started from the previous
    vector. In between the last estimate is carried. `preconditioner(opt_state,
    hparams)` (optional) gives the diagonal P the optimizer applies, e.g.
    ``lambda state, hparams: ej.adam_preconditioner(state)``; it is read
    from the optimizer's state after the step's update, i.e. the P of the
    step just taken. The re-estimate is a `lax.cond` on the tracker's step
    counter, which does not depend on the grid point: under `vmap` it stays a
    real branch, so the k − 1 steps in between pay nothing for it.

    >>> import jax, jax.numpy as jnp, edujax as ej
    >>> probe = ej.Sharpness(every=5)
    >>> loss = lambda x, h: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)
    >>> tracker = probe.start(jnp.ones(2))
    >>> tracker = probe.track(tracker, loss, jnp.ones(2), None)
    >>> int(tracker.step), round(float(tracker.value), 4)
    (1, 10.0)
    """

    every: int = 10
    iters: int = 4
    first_iters: int = 20
    preconditioner: Callable[[Any, Any], Any] | None = None

    def __post_init__(self):
        for name in ("every", "iters", "first_iters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"Sharpness({name}=...) must be a whole number >= 1, got {value!r}")

    def start(self, params) -> Tracker:
        """The tracker before the first step: no estimate yet (NaN), a random unit vector."""
        dtype = jnp.result_type(*jax.tree.leaves(params))
        return Tracker(jnp.zeros((), jnp.int32), jnp.full((), jnp.nan, dtype), unit_vector(params))

    def track(self, tracker: Tracker, loss: Callable, params, hparams, opt_state=None) -> Tracker:
        """Advance the tracker by one step, re-estimating at steps 0, k, 2k, … (see `sharpness`)."""
        def estimate(tracker):  # inside the branch, so the steps in between do not compute P either
            preconditioner = None if self.preconditioner is None else self.preconditioner(opt_state, hparams)
            iters = jnp.where(tracker.step == 0, self.first_iters, self.iters)
            value, vector = sharpness(loss, params, hparams, tracker.vector, iters=iters, preconditioner=preconditioner)
            return tracker._replace(value=value.astype(tracker.value.dtype), vector=vector)

        tracker = jax.lax.cond(tracker.step % self.every == 0, estimate, lambda tracker: tracker, tracker)
        return tracker._replace(step=tracker.step + 1)
