"""`make bench`'s machinery on its fastest workloads (no timing is asserted: speed lives in the benchmark)."""
import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"  # a script, not part of the package
_spec = importlib.util.spec_from_file_location("bench", BENCH)
bench = sys.modules["bench"] = importlib.util.module_from_spec(_spec)  # dataclasses look their module up there
_spec.loader.exec_module(bench)


def test_bench_writes_one_row_per_workload_asked_for(tmp_path):
    """The quadratic row has every baseline (and `measure` checks the NumPy loop
    reaches edujax's final losses) and the scaling rows their grid sizes. (The neural rows' FLOP shares
    take minutes on a CPU: `make bench` runs them.)"""
    argv = ["--only", "quadratic", "--out", str(tmp_path), "--repeats", "1", "--sample", "2",
            "--scaling", "16", "32", "--scaling-steps", "100"]
    assert bench.main(argv) == 0
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert report["matmul_peak_flops"] > 0 and report["matmul_peak_size"] >= 1024
    (quadratic,) = report["workloads"]
    assert (quadratic["experiment"], quadratic["settings"], quadratic["steps"]) == ("quadratic", 65536, 500)
    for key in ("edujax_rate", "python_loop_rate", "one_at_a_time_rate", "plain_vmap_rate", "numpy_rate"):
        assert quadratic[key] > 0
    assert "share_of_matmul_peak" not in quadratic
    assert (tmp_path / "benchmark.png").stat().st_size > 0
    assert [(row["settings"], row["steps"]) for row in report["scaling"]] == [(256, 100), (1024, 100)]


def test_the_numpy_baselines_compute_the_closed_form():
    """The in-place NumPy loops end where the closed forms say: GD multiplies each coordinate by 1 − lr·λ per
    step; heavy ball follows the 2 × 2 linear map [[1 + β − lr·λ, −β], [1, 0]] on (z_t, z_{t−1})."""
    import numpy as np

    q = bench.experiment_module("quadratic")
    lr, angle = np.array([0.01, 0.1, 0.19], np.float64), np.array([10.0, 45.0, 80.0])
    (l1, l2), r = q.EIGENVALUES, q.RADIUS
    x, y = r * np.cos(np.deg2rad(angle)) * (1 - lr * l1) ** 50, r * np.sin(np.deg2rad(angle)) * (1 - lr * l2) ** 50
    got = bench.numpy_gd({"learning_rate": lr, "start_angle": angle}, 50)
    np.testing.assert_allclose(got, 0.5 * (l1 * x**2 + l2 * y**2), rtol=1e-12)
    m = bench.experiment_module("quadratic_momentum")
    lr, beta = np.array([0.05, 0.1]), np.array([0.5, 0.9])
    want = 0.0
    for lam, z0 in zip(m.EIGENVALUES, m.START):
        z = []
        for a, b in zip(lr, beta):  # v ← λz + βv, z ← z − lr·v from v = 0: z₁ = (1 − lr·λ)z₀, then the 2 × 2 map
            step = np.array([[1 + b - a * lam, -b], [1.0, 0.0]])
            z.append((np.linalg.matrix_power(step, 29) @ np.array([(1 - a * lam) * z0, z0]))[0])
        want = want + 0.5 * lam * np.array(z) ** 2
    np.testing.assert_allclose(bench.numpy_heavy_ball({"learning_rate": lr, "one_minus_momentum": 1 - beta}, 30), want,
                               rtol=1e-10)


def test_bench_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    for argv in (["--only", "no_such_workload"], ["--repeats", "0"]):
        assert bench.main([*argv, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("edujax.bench: error:") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_the_notebook_loop_trains_what_the_sweep_trains():
    """The fractal notebook's baseline (one vmapped step per Python iteration) does the sweep's work:
    the same loss at every recorded step, on a 4 × 4 × 3 grid of the fractal-boundary network."""
    import numpy as np

    import edujax as ej

    experiment = bench.load("fractal_boundary")
    grid = ej.Grid(ej.logspace("input_lr", 1e-1, 1e3, 4), ej.logspace("output_lr", 1e-1, 1e2, 4),
                   ej.choice("nonlinearity", ["tanh", "relu", "identity"]))
    result = ej.sweep(experiment, grid, 12, records=12, examples_per_outcome=0)
    losses = np.asarray(bench.notebook_loop(experiment, bench.grid_columns(experiment, grid), 12)())[: grid.size]
    np.testing.assert_allclose(losses, result.loss.reshape(grid.size, -1), rtol=1e-5)


def test_bench_uses_only_the_public_api():
    """The script imports edujax only as `import edujax as ej` and reads only names in `ej.__all__` (besides
    `SweepResult` fields): it benchmarks what a user can write."""
    import ast

    import edujax as ej

    tree = ast.parse(BENCH.read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert [name for name in imported if name.split(".")[0] == "edujax"] == ["edujax"]
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ej"}
    assert used and used <= set(ej.__all__)


def test_the_flop_counts_are_what_the_work_does():
    """A sweep's step is counted as the sweep runs it (new state and loss; the Newton-gain metric, several
    Hessian-vector products, is left out as XLA leaves it out between records): for the 1-32-32-1 MLP on 64
    samples, about its matmuls' 3 × 2 × 64 × (32 + 32·32 + 32) FLOPs. The matmul peak's 2n³ per product and
    the product chain's 2·rows·width² per link are XLA's own counts."""
    import jax.numpy as jnp

    experiment = bench.load("mlp_regression")
    columns = bench.grid_columns(experiment, experiment.grid)
    matmuls = 3 * 2 * 64 * (32 + 32 * 32 + 32)
    assert matmuls <= bench.step_flops(experiment, bench.sample_rows(columns, 1)[0]) < 1.2 * matmuls
    a = jnp.ones((256, 256))
    assert bench.xla_flops(lambda a: a @ a, a) == 2 * 256**3
    assert bench.xla_flops(lambda x, w: jnp.tanh(x @ w), jnp.ones((64, 32)), jnp.ones((32, 32))) == 2 * 64 * 32**2
    peak, n = bench.matmul_peak(repeats=1, min_seconds=0.0)
    assert peak > 0 and n == 1024
