"""Helpers the tests share (imported as `from helpers import ...`; tests/conftest.py puts this folder on the path)."""
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

import edujax as ej
from edujax.runner.memory import BATCH_MULTIPLE


def device_batch() -> int:
    """The smallest chunk the runner makes: one batch on every device. Asked when a test runs, never at import:
    JAX started at import makes `make mutate`'s fork server fork a process with XLA's threads, whose children
    deadlock."""
    return BATCH_MULTIPLE * jax.device_count()


def assert_indented_json(path) -> None:
    """`path` holds JSON indented by two spaces, for people to read."""
    text = Path(path).read_text()
    assert text == json.dumps(json.loads(text), indent=2), path


def noisy_start_experiment(name="noisy_start"):
    """GD on a 1-D parabola from a random start: the seed axis matters."""

    def params(key, hparams):
        return 3.0 * jax_normal(key)

    return ej.minimize(
        name=name,
        loss=lambda x, hparams: 0.5 * hparams["curvature"] * x**2,
        params=params,
        optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
        grid=ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 6), ej.seeds(4)),
        defaults={"curvature": 1.0},
        steps=40,
        global_min=0.0,
    )


def jax_normal(key):
    return jax.random.normal(key, (), jnp.float32)
