"""The chunk loop (`runner.chunks.run_chunks`) on its own: every row's numbers land in their place whatever the
chunking (a padded last chunk, a subset of kept rows), f* reaches the judgement, the checkpoint folder is keyed
by what changes results, and the progress bar reports the settings. Truth: gradient descent on ½·c·x² + f*,
x_T = x₀·(1 − lr·c)^T in float64."""
import re

import jax
import numpy as np
import optax
import pytest

import edujax as ej
from edujax.core.outcomes import CONVERGED, DIVERGED
from edujax.runner.chunks import run_chunks
from edujax.runner.memory import BATCH_MULTIPLE
from edujax.runner.sweep import hparam_columns
from edujax.runner.trace import RecordPlan
from helpers import device_batch

STEPS, X0 = 40, 3.0


def bowl(f_star=0.0):
    return ej.minimize(name="chunk_bowl", loss=lambda x, h: 0.5 * x**2 + f_star, params=lambda key, h: X0,
                       optimizer=lambda h: optax.sgd(h["learning_rate"]),
                       grid=ej.Grid(ej.logspace("learning_rate", 1e-2, 3.0, 8)), steps=STEPS, global_min=f_star)


def columns(n, dtype="float32"):
    """n learning rates from 0.3 to 2.5 (converged below 2, diverged above), as the sweep hands them over."""
    grid = ej.Grid(ej.logspace("learning_rate", 0.3, 2.5, n))
    return hparam_columns(bowl(), grid, np.dtype(dtype))


def truth(learning_rate, steps=STEPS):
    """The loss gap ½·x_T², x_T = X0·(1 − lr)^T, in float64 from the float32 learning rates."""
    return 0.5 * (X0 * (1 - np.asarray(learning_rate, np.float64)) ** steps) ** 2


def expected_outcomes(lr, outcome):
    """The labels where the truth is clear: converged where the gap after STEPS is far below tol (1e-6 + 1e-4·4.5),
    diverged where |1 − lr| > 1.05 grows it; the runs between are left to the rule tests."""
    gap = truth(lr)
    clear = (gap < 1e-8) | (lr > 2.05)
    assert clear.sum() >= len(lr) // 3
    np.testing.assert_array_equal(outcome[clear], np.where(lr[clear] > 2, DIVERGED, CONVERGED))


def run(n, **options):
    options = {"dtype": "float32", "chunk_size": device_batch(), **options}
    cols = columns(n, options["dtype"])
    out, stats = run_chunks(bowl(options.pop("f_star", 0.0)), RecordPlan.make(STEPS, 10), cols, 0, **options)
    return cols["learning_rate"], out, stats


def test_a_padded_last_chunk_and_kept_rows_put_every_number_in_its_place():
    n = 2 * device_batch() + 3  # two full chunks and a padded one
    lr, out, stats = run(n, global_min=0.0)
    assert stats["chunks"] == 3 and stats["chunk_size"] == device_batch() and stats["resumed_chunks"] == 0
    assert out["runs"]["outcome"].shape == (n,)
    final = out["kept"]["records"]["loss"][:, -1]
    np.testing.assert_allclose(final, truth(lr), rtol=2e-3, atol=1e-30)  # every row kept by default, in order
    expected_outcomes(lr, out["runs"]["outcome"])
    kept = np.array([1, device_batch() - 1, device_batch(), 2 * device_batch() + 2])  # rows in every chunk, the padded one's last
    _, subset, _ = run(n, global_min=0.0, kept_rows=kept)
    np.testing.assert_array_equal(subset["kept"]["records"]["loss"], out["kept"]["records"]["loss"][kept])
    np.testing.assert_array_equal(subset["runs"]["outcome"], out["runs"]["outcome"])


@pytest.mark.parametrize("less", [0, 2])
def test_one_chunk_returns_its_rows_and_needs_no_checkpoint(tmp_path, less):
    lr, out, stats = run(device_batch() - less, global_min=0.0, checkpoint=tmp_path, kept_rows=np.array([0, 3]))
    assert stats["chunks"] == 1 and stats["checkpoint"] is None and list(tmp_path.iterdir()) == []
    np.testing.assert_allclose(out["kept"]["records"]["loss"][:, -1], truth(lr[[0, 3]]), rtol=2e-3, atol=1e-30)


def test_a_memory_budget_sets_the_chunks_and_float64_needs_about_twice_the_bytes():
    n = 3 * device_batch()
    _, _, free = run(n, global_min=0.0, chunk_size=None)
    per_run = free["bytes_per_run_estimate"]
    _, out, tight = run(n, global_min=0.0, chunk_size=None, max_memory=per_run * BATCH_MULTIPLE)
    assert tight["chunks"] == 3 and tight["chunk_size"] == device_batch() and free["chunks"] == 1
    with jax.enable_x64(True):
        _, out64, wide = run(n, global_min=0.0, chunk_size=None, dtype="float64")
    assert out64["kept"]["records"]["loss"].dtype == np.float64 and out["kept"]["records"]["loss"].dtype == np.float32
    assert 1.5 < wide["bytes_per_run_estimate"] / per_run <= 2


def test_f_star_reaches_the_judgement():
    """With f* = 5 the losses sit 5 above the gaps: judged against f* = 0 nothing would converge."""
    lr, out, _ = run(device_batch(), global_min=5.0, f_star=5.0)
    np.testing.assert_allclose(out["kept"]["records"]["loss"][:, -1], 5.0 + truth(lr), rtol=1e-5)
    expected_outcomes(lr, out["runs"]["outcome"])


def test_the_checkpoint_folder_is_keyed_by_the_kept_rows_and_the_state(tmp_path):
    n = 2 * device_batch()
    _, _, every = run(n, global_min=0.0, checkpoint=tmp_path)
    name = every["checkpoint"].rpartition("/")[2]
    assert re.fullmatch(r"chunk_bowl-[0-9a-f]{16}", name), name
    _, _, some = run(n, global_min=0.0, checkpoint=tmp_path, kept_rows=np.array([0, 1]))
    assert some["checkpoint"] != every["checkpoint"] and some["resumed_chunks"] == 0
    _, _, stateful = run(n, global_min=0.0, checkpoint=tmp_path, keep_state=True)
    assert stateful["checkpoint"] != every["checkpoint"] and stateful["resumed_chunks"] == 0
    _, _, again = run(n, global_min=0.0, checkpoint=tmp_path)  # each kept its own chunks
    assert again["checkpoint"] == every["checkpoint"] and again["resumed_chunks"] == 2


def test_timings_and_the_progress_bar(capsys):
    n = 2 * device_batch()
    _, _, quiet = run(n, global_min=0.0)
    assert capsys.readouterr().err == ""  # no bar unless asked
    assert 0 <= quiet["compile_s"] < 600 and 0 <= quiet["run_s"] < 600
    run(n, global_min=0.0, progress=True)
    err = capsys.readouterr().err
    assert err.startswith("\rchunk_bowl:") and f"| 0/{n} [" in err and "settings/s]" in err
    assert err.endswith("\r")  # the bar is cleared when done (leave=False), not left in the log


def test_the_stats_name_the_devices_and_the_block_each_device_loops_over():
    """On a CPU each device runs its share of a chunk block after block (`memory.block_rows` runs a block) once
    the share holds more than one block; a smaller share is one vmap (block 0)."""
    from edujax.runner import devices
    from edujax.runner.memory import block_rows
    from edujax.runner.trace import column_signature

    block = block_rows(bowl(), RecordPlan.make(STEPS, 10), column_signature(columns(1)), "float32",
                       devices.grid_mesh())
    assert block >= BATCH_MULTIPLE  # a CPU
    n = 3 * block * jax.device_count()
    lr, out, big = run(n, global_min=0.0, chunk_size=None)
    assert big["devices"] == jax.device_count() and big["chunks"] == 1 and big["block"] == block
    np.testing.assert_allclose(out["kept"]["records"]["loss"][::997, -1], truth(lr[::997]), rtol=2e-3, atol=1e-30)
    _, _, small = run(2 * device_batch(), global_min=0.0)
    assert small["devices"] == jax.device_count() and small["block"] == 0
    _, _, one = run(block * jax.device_count(), global_min=0.0, chunk_size=block * jax.device_count())
    assert one["block"] == 0  # a share of exactly one block: one vmap
