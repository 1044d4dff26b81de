"""Choosing the optimizer by a swept index, so one compiled sweep compares several.

A `choice("optimizer", [...])` axis gives each run an integer column. `switch`
turns a list of optax transformations into one whose `update` runs the chosen
candidate with `jax.lax.switch`: every candidate's state is initialised, the
chosen one is advanced and the others pass through unchanged. The index is a
traced array, so the whole comparison stays one `jit(vmap(...))` call (under
`vmap` XLA evaluates every branch and selects per run, which is what lets
runs with different optimizers share one batch).
"""
from __future__ import annotations

from typing import Sequence

import jax
import optax

from edujax.core.errors import UserError


def switch(index, candidates: Sequence[optax.GradientTransformation]) -> optax.GradientTransformation:
    """The optax transformation `candidates[index]`, for a traced integer `index`.

    The state is a tuple with one state per candidate; every candidate's
    update returns the same pytree as its gradients, so the branches agree.
    """
    candidates = tuple(candidates)
    if not candidates:
        raise UserError("switch needs at least one optimizer to choose from")

    def init(params):
        return tuple(candidate.init(params) for candidate in candidates)

    def branch(i):
        def update(updates, states, params):
            updates, state = candidates[i].update(updates, states[i], params)
            return updates, states[:i] + (state,) + states[i + 1:]

        return update

    def update(updates, states, params=None):
        return jax.lax.switch(index, [branch(i) for i in range(len(candidates))], updates, states, params)

    return optax.GradientTransformation(init, update)
