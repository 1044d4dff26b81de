"""Experiment-specific outcomes: the `classify` hook and `extra_outcomes`, through sweep, save/load and plots."""
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from matplotlib.image import imread

import edujax as ej
from edujax.report import figures as figures_of

LIMIT = 2.0  # gradient descent on ½x² is stable iff lr < 2


def bowl(**fields):
    return ej.minimize(
        name="bowl", loss=lambda x, h: 0.5 * x**2, params=lambda key, h: jnp.float32(1.0),
        optimizer=lambda h: optax.sgd(h["learning_rate"]),
        grid=ej.Grid(ej.values("learning_rate", [0.1, 1.0, 1.9, 3.0])),
        steps=200, global_min=0.0, **fields,
    )


def relabel_instant(runs, codes):
    """Converged runs already at the minimum by the first record point after the start become 'instant'."""
    return np.where((codes == ej.OUTCOMES.index("converged")) & (runs["loss"][:, 1] < 1e-3), len(ej.OUTCOMES), codes)


def test_classify_relabels_runs_and_the_new_outcome_survives_save_load_and_plots(tmp_path):
    experiment = bowl(classify=relabel_instant, extra_outcomes={"instant": "#000000"})
    result = ej.sweep(experiment)
    # lr = 1 lands on the minimum in one step (x ← (1 − lr)·x); 0.1 and 1.9 converge geometrically; 3 diverges.
    assert list(result.labels) == ["converged", "instant", "converged", "diverged"]
    assert list(result.counts) == [*ej.OUTCOMES, "instant"] and result.counts["instant"] == 1
    assert list(result.examples["outcome"]).count(len(ej.OUTCOMES)) == 1  # the new outcome gets its representative run
    figures = figures_of.render(result, tmp_path, experiment)
    result.save(tmp_path, figures)
    loaded = ej.SweepResult.load(tmp_path)
    assert loaded.outcome_colors == result.outcome_colors and list(loaded.labels) == list(result.labels)
    # the heatmap draws the instant cell in its own colour, black
    assert np.all(imread(tmp_path / "heatmap.png")[..., :3] < 0.05, axis=-1).sum() > 20_000  # text alone: ~4,000


def test_classify_must_return_valid_codes():
    with pytest.raises(ej.UserError, match="classify must return"):
        ej.sweep(bowl(classify=lambda runs, codes: codes + 10))
    with pytest.raises(ej.UserError, match="classify must return"):
        ej.sweep(bowl(classify=lambda runs, codes: codes[:2]))


def test_extra_outcomes_cannot_reuse_standard_names():
    with pytest.raises(ej.UserError, match="standard outcome"):
        bowl(extra_outcomes={"converged": "#000000"})
