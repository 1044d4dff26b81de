"""Minibatch training's bad inputs from Python (issue 23, item 8): each is a UserError with one line, raised
when the experiment is built or before its sweep compiles. The command line's table (tests/test_cli.py,
``BAD_INPUTS``) runs the same mistakes from experiment files: exit status 2, nothing in --out changed."""
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import edujax as ej

X = np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
Y = 3 * X[:, 0]
GRID = ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3))


def loss(w, h, b):
    return jnp.mean((b[0] @ w - b[1]) ** 2)


def build(**arguments):
    fields = dict(name="minibatch", loss=loss, params=lambda key, h: jnp.zeros(1),
                  optimizer=lambda h: optax.sgd(h["learning_rate"]), data=(X, Y), batch_size=4, grid=GRID, steps=5,
                  global_min=0.0)
    return ej.minimize(**{**fields, **arguments})


BATCH_GRID = dict(batch_size=None, defaults={"learning_rate": 0.1})
MISTAKES = [
    (dict(data=(X, Y[:10])), "data: its arrays disagree on the number of examples (10, 16)"),
    (dict(data={"x": X, "y": np.float32(1.0)}), "every array needs a leading example axis"),
    (dict(data=(X[:0], Y[:0])), "data holds no examples"),
    (dict(batch_size=0), "batch_size must be a whole number from 1 to the data size 16, got 0"),
    (dict(batch_size=-3), "batch_size must be a whole number from 1 to the data size 16, got -3"),
    (dict(batch_size=17), "batch_size must be a whole number from 1 to the data size 16, got 17"),
    (dict(batch_size=2.5), "batch_size must be a whole number from 1 to the data size 16, got 2.5"),
    (dict(batch_size="8"), "batch_size must be a whole number from 1 to the data size 16, got '8'"),
    (dict(batch_size=None), "needs batch_size= (or a batch_size axis in the grid)"),
    (dict(grid=ej.Grid(ej.values("batch_size", [0, 4])), **BATCH_GRID), "from 1 to the data size 16"),
    (dict(grid=ej.Grid(ej.values("batch_size", [4, 32])), **BATCH_GRID), "from 1 to the data size 16, got 32"),
    (dict(data=(X, np.where(np.arange(16) == 3, np.nan, Y))), "data holds non-finite values (NaN or inf)"),
    (dict(data=(np.full_like(X, np.inf), Y)), "data holds non-finite values (NaN or inf)"),
    (dict(eval_data=(np.ones((8, 2), np.float32), Y[:8])), "eval_data must have the structure of data"),
    (dict(eval_data=X), "eval_data must have the structure of data"),
    (dict(eval_data=(X, np.full(16, np.nan, np.float32))), "eval_data holds non-finite values"),
    (dict(eval_metrics=lambda w, h, b: {}), "eval_metrics needs eval_data="),
    (dict(loss=lambda w, h: jnp.sum(w**2)), "with data=, loss must take (params, hparams, batch)"),
    (dict(data=None), "batch_size needs data="),
]


@pytest.mark.parametrize("arguments, message", MISTAKES, ids=[m for _, m in MISTAKES])
def test_each_mistake_is_one_line_when_the_experiment_is_built(arguments, message):
    """The mistake is refused by `ej.minimize` itself, in one line that names it."""
    with pytest.raises(ej.UserError) as caught:
        build(**arguments)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("sizes, message", [
    ([4, 17], "from 1 to the data size 16, got 17"),
    ([0, 4], "from 1 to the data size 16, got 0"),
    ([2, 8], "batch_size 8 is above the largest batch this experiment was built for (4)"),
])
def test_a_batch_size_grid_given_to_the_sweep_is_refused_in_one_line(sizes, message):
    """A grid handed to `ej.sweep` (as the CLI's --grid does) with batch sizes the data or the experiment
    cannot hold: one line naming the size (`Experiment.check` runs on the columns before the sweep)."""
    grid = ej.Grid(ej.values("batch_size", sizes), ej.values("learning_rate", [0.1]))
    with pytest.raises(ej.UserError) as caught:
        ej.sweep(build(), grid)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_batch_that_does_not_fit_the_loss_is_one_line():
    """A loss that returns one value per example instead of the batch's mean: one line at the sweep."""
    experiment = build(loss=lambda w, h, b: (b[0] @ w - b[1]) ** 2)
    with pytest.raises(ej.UserError) as caught:
        ej.sweep(experiment, examples_per_outcome=0)
    assert "must return a scalar (the batch's mean)" in str(caught.value) and "\n" not in str(caught.value)
