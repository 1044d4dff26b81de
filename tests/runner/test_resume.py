"""Resuming from checkpoints: a rerun resumes only chunks computed under exactly its own settings.

Each test leaves a checkpoint of a two-chunk sweep, changes ONE input that changes results (seed, grid
values, steps, records, criteria, precision, the experiment's source) and reruns into the same checkpoint
folder: nothing may be resumed, and the result must equal a fresh sweep of the changed settings and the
closed form of gradient descent on ½·c·x² from the seed's start.
"""
import dataclasses

import jax
import numpy as np
import optax
import pytest

import edujax as ej
from edujax.core.outcomes import Criteria
from helpers import device_batch

STEPS = 30


def runs():
    return 2 * device_batch()  # two chunks on any number of CPU devices


SOURCE = '''
import jax, optax
import edujax as ej

experiment = ej.minimize(
    name="resume_probe",
    loss=lambda x, h: {half} * h["curvature"] * x**2,
    params=lambda key, h: 3.0 * jax.random.normal(key, ()),
    optimizer=lambda h: optax.sgd(h["learning_rate"]),
    grid=ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, {runs})),
    defaults={{"curvature": 1.0}},
    steps={steps},
    global_min=0.0,
)
'''


def probe(curvature=1.0):
    """GD on ½·c·x² from 3·N(0, 1) drawn from the sweep's key (no seed axis: every run starts at the same x₀)."""
    return ej.minimize(
        name="resume_probe",
        loss=lambda x, h: 0.5 * h["curvature"] * x**2,
        params=lambda key, h: 3.0 * jax.random.normal(key, ()),
        optimizer=lambda h: optax.sgd(h["learning_rate"]),
        grid=ej.Grid(ej.logspace("learning_rate", 1e-3, 3.0, runs())),
        defaults={"curvature": curvature},
        steps=STEPS,
        global_min=0.0,
    )


def closed_form_final_loss(learning_rate, seed, steps, curvature=1.0, precision="float32"):
    """½·c·(x₀·(1 − lr·c)^T)² in float64, x₀ = 3·N(0, 1) from `jax.random.key(seed)` in `precision`."""
    with jax.enable_x64(precision == "float64"):
        x0 = 3.0 * float(jax.random.normal(jax.random.key(seed), ()))
    lr = np.asarray(learning_rate, np.float64)
    return 0.5 * curvature * (x0 * (1 - lr * curvature) ** steps) ** 2


def sweep(experiment, checkpoint=None, **settings):
    settings = {"steps": STEPS, **settings}
    return ej.sweep(experiment, settings.pop("grid", None), settings.pop("steps"), chunk_size=device_batch(),
                    checkpoint=checkpoint, examples_per_outcome=0, **settings)


def assert_same_numbers(a, b):
    for field in ("outcome", "measure", "steps_to_go", "loss", "hi", "lo", "record_steps"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.final.keys() == b.final.keys()
    for name in a.final:
        np.testing.assert_array_equal(a.final[name], b.final[name], err_msg=name)


def assert_differs(a, b):
    """The changed input does change results (else the test could not tell a stale chunk from a fresh one)."""
    if a.loss.shape == b.loss.shape and a.final["loss"].dtype == b.final["loss"].dtype:
        assert not (np.array_equal(a.loss, b.loss, equal_nan=True)
                    and np.array_equal(a.outcome, b.outcome)), "the changed input did not change the result"


def primed(tmp_path, experiment=None, **settings):
    """A two-chunk sweep that leaves its checkpoint in `tmp_path`; checks that a rerun resumes both chunks."""
    experiment = experiment or probe()
    first = sweep(experiment, tmp_path, **settings)
    assert first.info["chunks"] == 2 and first.info["resumed_chunks"] == 0
    assert len(list(tmp_path.glob("*/chunk-*.npz"))) == 2
    return first


def check_changed(tmp_path, base, experiment, curvature=1.0, **changed):
    """Rerun with the changed settings into the primed checkpoint: nothing resumed, the fresh sweep's numbers."""
    again = sweep(experiment, tmp_path, **changed)
    assert again.info["resumed_chunks"] == 0, f"{changed or 'changed source'}: chunks of another sweep resumed"
    assert_same_numbers(again, sweep(experiment, **changed))
    assert_differs(again, base)
    expected = closed_form_final_loss(again.hparams["learning_rate"], changed.get("seed", 0),
                                      changed.get("steps", STEPS), curvature, changed.get("precision", "float32"))
    np.testing.assert_allclose(again.final["loss"], expected, rtol=2e-3, atol=1e-30)
    return again


def test_an_unchanged_rerun_resumes_every_chunk_and_equals_a_fresh_sweep(tmp_path):
    """The positive control: the checkpoint is live, so the tests below that expect nothing resumed can fail."""
    experiment = probe()
    primed(tmp_path, experiment)
    again = sweep(experiment, tmp_path)
    assert again.info["resumed_chunks"] == 2
    assert_same_numbers(again, sweep(experiment))
    np.testing.assert_allclose(again.final["loss"], closed_form_final_loss(again.hparams["learning_rate"], 0, STEPS),
                               rtol=2e-3, atol=1e-30)


def test_another_seed_resumes_nothing(tmp_path):
    """The seed draws the start x₀: chunks of seed 0 are not chunks of seed 1."""
    experiment = probe()
    base = primed(tmp_path, experiment)
    check_changed(tmp_path, base, experiment, seed=1)


def test_other_grid_values_of_the_same_shape_resume_nothing(tmp_path):
    """Same grid shape, other learning rates: every chunk is computed again."""
    experiment = probe()
    base = primed(tmp_path, experiment)
    check_changed(tmp_path, base, experiment, grid=ej.Grid(ej.logspace("learning_rate", 2e-3, 2.5, runs())))


def test_other_steps_resume_nothing(tmp_path):
    """One step more: every chunk is computed again."""
    experiment = probe()
    base = primed(tmp_path, experiment)
    check_changed(tmp_path, base, experiment, steps=STEPS + 1)


@pytest.mark.parametrize("records", [10, 26])
def test_other_records_resume_nothing(tmp_path, records):
    """Other record points (fewer, or one more: the same windows but another split of the steps)."""
    experiment = probe()
    base = primed(tmp_path, experiment, records=25)
    again = check_changed(tmp_path, base, experiment, records=records)
    assert again.record_steps[-1] == STEPS and len(again.record_steps) == min(records, STEPS) + 1


def test_other_criteria_resume_nothing(tmp_path):
    """A looser rtol judges the same losses otherwise: the outcomes saved in the chunks are stale."""
    experiment = probe()
    base = primed(tmp_path, experiment)
    looser = dataclasses.replace(experiment, criteria=Criteria(rtol=0.5))
    again = check_changed(tmp_path, base, looser)
    np.testing.assert_array_equal(again.loss, base.loss)  # the same losses...
    assert not np.array_equal(again.outcome, base.outcome)  # ... judged otherwise


def test_another_precision_resumes_nothing(tmp_path):
    """float64 instead of float32: every chunk is computed again, in float64."""
    experiment = probe()
    base = primed(tmp_path, experiment)
    again = check_changed(tmp_path, base, experiment, precision="float64")
    assert again.final["loss"].dtype == np.float64 and base.final["loss"].dtype == np.float32


def test_an_edited_experiment_file_resumes_nothing(tmp_path):
    """The same experiment name, grid and hyperparameters from an edited file (its loss ½x² became x²): the old
    file's chunks are not this sweep's (its edited code changes no input of the sweep, only the program)."""
    path = tmp_path / "resume_probe.py"
    path.write_text(SOURCE.format(runs=runs(), half=0.5, steps=STEPS))
    checkpoint = tmp_path / "partial"
    base = primed(checkpoint, ej.load(str(path)))
    path.write_text(SOURCE.format(runs=runs(), half=1.0, steps=STEPS))
    check_changed(checkpoint, base, ej.load(str(path)), curvature=2.0)
