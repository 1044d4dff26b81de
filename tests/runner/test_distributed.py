"""A real multi-process sweep: two processes on this machine, joined by `jax.distributed` over a local
coordinator with CPU collectives (gloo), give exactly the numbers of one process."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

import edujax as ej

REPO = Path(__file__).resolve().parents[2]
GRID = ["--grid", "learning_rate=1e-4:1:30", "--grid", "start_angle=0:90:11", "--steps", "80"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_give_the_outcomes_of_one(tmp_path, quadratic):
    out = tmp_path / "results"
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "1"}  # one device per process: 2 in all
    procs = [subprocess.Popen([sys.executable, "-m", "edujax", "sweep", "quadratic", *GRID, "--out", str(out),
                               "--coordinator-address", address, "--num-processes", "2", "--process-id", str(i)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr
    lines = [next(line for line in stdout.splitlines() if "| compile" in line) for stdout, _ in outputs]
    assert lines[0].split("|")[-1] == lines[1].split("|")[-1], "both processes classified the same runs"
    assert sorted(os.listdir(out)) == ["README.md", "index.html", "quadratic"]
    saved = ej.SweepResult.load(out / "quadratic")  # written by process 0 alone
    assert saved.info["devices"] == 2
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 1.0, 30), ej.linspace("start_angle", 0.0, 90.0, 11))
    alone = ej.sweep(quadratic, grid, 80)
    for field in ("outcome", "measure", "loss", "hi", "lo"):
        np.testing.assert_array_equal(getattr(saved, field), getattr(alone, field), err_msg=field)
