"""Saved example states of the largest shipped experiments come back leaf by leaf, in order.

The example states of `gan_ring` (about 40 leaves), `mlp_regression` (19) and `edge_of_stability` are built by
the experiments' own `init` for two settings (no sweep: no compile), every leaf shifted by its own index so no two
leaves are alike, saved in a result and loaded: every leaf comes back in its place, with the shape and dtype that
`init` gives it (a restore that put leaf "10" before leaf "2" fails here).
"""
import dataclasses

import jax
import numpy as np
import pytest

import edujax as ej
from edujax.app import registry
from edujax.runner.sweep import hparam_columns
from edujax.store.result import SweepResult, restore_state, storable


def tiny(grid):
    """The first and last value of each axis (a choice axis keeps its options: its values are their codes)."""
    return ej.Grid(*(dataclasses.replace(a, values=a.values[[0, -1]]) if len(a) > 1 and a.scale != "choice" else a
                     for a in grid.axes))


def result_with_states(experiment):
    """A hand-made result over a tiny grid whose two examples hold `init`'s states, each leaf made unique."""
    grid = tiny(experiment.grid)
    columns = hparam_columns(experiment, grid)
    picks = np.array([0, grid.size - 1])
    states = jax.vmap(experiment.init, in_axes=(None, 0))(jax.random.key(1), {k: v[picks] for k, v in columns.items()})
    template = jax.tree.leaves(storable(states))
    distinct = [(np.asarray(leaf) + i + 1).astype(np.asarray(leaf).dtype) for i, leaf in enumerate(template)]
    shape, n = grid.shape, grid.size
    result = SweepResult(
        experiment=experiment.name, axes=grid.axes, steps=4,
        hparams={k: v.reshape(shape) for k, v in columns.items()},
        outcome=np.zeros(shape, np.int8), measure=np.zeros(shape, np.float32),
        steps_to_go=np.zeros(shape, np.float32), frozen=np.zeros(shape, bool),
        loss=np.zeros(shape + (3,), np.float32), hi=np.zeros(shape + (2,), np.float32),
        lo=np.zeros(shape + (2,), np.float32), trace_index=tuple(np.arange(k) for k in shape),
        final={"loss": np.zeros(shape, np.float32)}, record_steps=np.array([0, 2, 4]),
        examples={"index": picks, "outcome": np.zeros(2, np.int8), "step": np.arange(3),
                  "loss": np.zeros((2, 3), np.float32), "state": restore_state(states, distinct)},
        boundaries=[], info={"global_min": 0.0}, outcome_colors=experiment.outcome_colors)
    assert n >= 2
    return result, distinct


@pytest.mark.parametrize("name, at_least", [("gan_ring", 30), ("mlp_regression", 19), ("edge_of_stability", 10)])
def test_saved_states_come_back_leaf_by_leaf(tmp_path, name, at_least):
    """Each leaf equals the leaf saved, in order, with the shape and dtype `init` gives it (per example)."""
    experiment = registry.load(name)
    result, leaves = result_with_states(experiment)
    assert len(leaves) >= at_least
    result.save(tmp_path)
    loaded = SweepResult.load(tmp_path, experiment).examples["state"]
    assert jax.tree.structure(loaded) == jax.tree.structure(result.examples["state"])
    hparams = {k: jax.ShapeDtypeStruct((), v.dtype) for k, v in result.hparams.items()}
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
    shaped = jax.tree.leaves(jax.eval_shape(lambda k, h: storable(experiment.init(k, h)), key, hparams))
    assert len(shaped) == len(leaves)
    for i, (back, kept, want) in enumerate(zip(jax.tree.leaves(storable(loaded)), leaves, shaped)):
        assert back.shape == (2,) + want.shape and back.dtype == want.dtype, f"leaf {i}"
        np.testing.assert_array_equal(back, kept, err_msg=f"leaf {i}")
    bare = SweepResult.load(tmp_path).examples["state"]  # without the experiment: the flat list, in order
    assert len(bare) == len(leaves)
    for i, (back, kept) in enumerate(zip(bare, leaves)):
        np.testing.assert_array_equal(back, kept, err_msg=f"leaf {i}")
