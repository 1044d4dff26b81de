"""Scale: memory-bounded chunks, sharding over devices, resuming an interrupted sweep."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import edujax as ej
from edujax.runner import devices
from edujax.core.errors import UserError
from edujax.store.result import SweepResult
from edujax.runner.memory import bytes_per_run
from edujax.runner.sweep import hparam_columns
from edujax.runner.trace import RecordPlan

REPO = Path(__file__).resolve().parents[2]


def assert_same_numbers(a, b):
    for field in ("outcome", "measure", "loss", "hi", "lo"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    for name in a.final:
        np.testing.assert_array_equal(a.final[name], b.final[name], err_msg=name)


def test_a_grid_ten_times_the_budget_runs_in_chunks_with_the_same_numbers(quadratic):
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 64), ej.linspace("start_angle", 0.0, 90.0, 40))
    columns = hparam_columns(quadratic, grid)
    signature = tuple(sorted((k, v.dtype.str) for k, v in columns.items()))
    per_run = bytes_per_run(quadratic, RecordPlan.make(100, 50), signature)
    assert per_run > 4 * (51 + 50)  # at least the recorded loss and total variation
    budget = per_run * grid.size // 10 // jax.device_count()  # the budget is per device
    bounded = ej.sweep(quadratic, grid, 100, records=50, max_memory=budget, examples_per_outcome=0)
    assert bounded.info["chunks"] >= 10
    assert bounded.info["chunk_size"] * per_run <= budget * jax.device_count()
    roomy = ej.sweep(quadratic, grid, 100, records=50, examples_per_outcome=0)
    assert roomy.info["chunks"] == 1
    assert_same_numbers(bounded, roomy)


@pytest.mark.parametrize("text, size", [("512MB", 512e6), ("2G", 2e9), ("1.5GiB", 1.5 * 2**30), ("4096", 4096)])
def test_memory_sizes_parse(text, size):
    assert devices.parse_bytes(text) == int(size)


@pytest.mark.parametrize("text", ["lots", "-1GB", "0", "12XB"])
def test_bad_memory_sizes_are_user_errors(text):
    with pytest.raises(UserError, match="max-memory"):
        devices.parse_bytes(text)


SHARDED_SCRIPT = """
import sys
import jax, edujax as ej
from edujax.app import registry
devices = int(sys.argv[2])
assert jax.device_count() == devices, jax.devices()
experiment = registry.load("quadratic")
grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 30), ej.linspace("start_angle", 0.0, 90.0, 11))
result = ej.sweep(experiment, grid, 80, examples_per_outcome=0)
assert result.info["devices"] == devices
result.save(sys.argv[1])
"""


def test_sharded_over_more_devices_gives_the_same_numbers(quadratic, tmp_path):
    """This process has one CPU device per core (`import edujax`); a subprocess forced to two more gives the same
    bits."""
    more = jax.device_count() + 2
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={more}", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT, str(tmp_path), str(more)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 30), ej.linspace("start_angle", 0.0, 90.0, 11))
    single = ej.sweep(quadratic, grid, 80, examples_per_outcome=0)
    assert single.info["devices"] == jax.device_count()
    assert_same_numbers(SweepResult.load(tmp_path), single)


def test_an_interrupted_sweep_resumes_and_ends_identical(tmp_path):
    """Kill a long chunked sweep mid-way (SIGKILL), rerun it, compare with an uninterrupted run."""
    args = ["quadratic", "--grid", "learning_rate=1e-4:1:64", "--grid", "start_angle=0:90:32",
            "--steps", "60000", "--chunk-size", "64"]  # 16 or 32 chunks (one or two CPU devices) of ~0.1 s each
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "edujax", "sweep", *args, "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while len(list(out.glob(".partial/*/chunk-*.npz"))) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob(".partial/*/chunk-*.npz")))
    assert done >= 3, f"{done} chunks finished before the kill"
    assert not (out / "quadratic").exists(), "the kill came before the sweep finished"

    resumed = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    total = int(re.search(rf"resumed {done} of (\d+) chunks", resumed.stdout)[1])  # 64-run chunks per device
    assert total > done
    assert not (out / ".partial").exists(), "finished sweeps leave no checkpoints behind"

    whole = tmp_path / "whole"
    subprocess.run([*cmd[:-1], str(whole)], cwd=REPO, check=True, capture_output=True, timeout=300)
    assert_same_numbers(SweepResult.load(out / "quadratic"), SweepResult.load(whole / "quadratic"))


def test_damaged_checkpoints_are_detected_discarded_and_recomputed(quadratic, tmp_path):
    """A truncated chunk, a chunk of another shape and a chunk that is not a zip at all: each is thrown away and
    recomputed; the result equals a sweep without checkpoints, bit for bit."""
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 16), ej.linspace("start_angle", 0.0, 90.0, 32))
    # 64 runs per device: ≥ 4 chunks
    first = ej.sweep(quadratic, grid, 60, chunk_size=64, checkpoint=tmp_path, examples_per_outcome=0)
    chunks = sorted(tmp_path.glob("*/chunk-*.npz"))
    assert len(chunks) == first.info["chunks"] >= 3
    chunks[0].write_bytes(chunks[0].read_bytes()[:100])  # truncated mid-write (by something other than edujax)
    chunks[1].write_bytes(b"not a zip file")
    chunks[2].write_bytes(chunks[-1].read_bytes() if chunks[2] != chunks[-1] else b"")  # a chunk of another size
    again = ej.sweep(quadratic, grid, 60, chunk_size=64, checkpoint=tmp_path, examples_per_outcome=0)
    assert again.info["resumed_chunks"] == len(chunks) - 3
    fresh = ej.sweep(quadratic, grid, 60, chunk_size=64, examples_per_outcome=0)
    assert_same_numbers(again, fresh)
    assert sorted(tmp_path.glob("*/chunk-*.npz")) == chunks, "the damaged chunks are saved again, whole"


HUGE_STEPS_SCRIPT = """
import resource, sys
import edujax as ej
from edujax.app import registry
experiment = registry.load("quadratic")
grid = ej.Grid(ej.values("learning_rate", [1e-7, 1e-3, 0.1, 0.3]), ej.values("start_angle", [10.0, 80.0]))
result = ej.sweep(experiment, grid, int(sys.argv[1]))
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(peak_mb, result.examples["loss"].shape[1], ",".join(result.labels.ravel()))
"""


def test_memory_does_not_grow_with_the_number_of_steps():
    """Ten thousand times more steps, the same memory (records, envelope and examples are bounded), and the labels
    of the closed form: 1e-7 is slow, 1e-3 and 0.1 converge, 0.3 > 2/λ_max diverges."""
    peaks = {}
    for steps in (1_000, 10_000_000):
        proc = subprocess.run([sys.executable, "-c", HUGE_STEPS_SCRIPT, str(steps)], cwd=REPO, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        peak, points, labels = proc.stdout.split()
        peaks[steps] = float(peak)
        assert int(points) == min(steps, 2000) + 1
    assert labels.split(",") == ["slow", "slow", "converged", "converged", "converged", "converged",
                                 "diverged", "diverged"]
    assert peaks[10_000_000] < peaks[1_000] + 100, peaks  # MB: no trace of the 1e7 steps is kept
