"""The command line end to end, and every user mistake as one line with exit status 2."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edujax.app import cli
from edujax.app.cli import main
from edujax.core.errors import UserError
from edujax.store.result import SweepResult

REPO = Path(__file__).resolve().parents[2]

TINY = ["--grid", "learning_rate=1e-3:1:6", "--grid", "start_angle=0:90:3", "--steps", "30"]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sweep_then_plot_end_to_end(tmp_path):
    """The real entry point in a subprocess: files, progress line, exit status."""
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "edujax", "sweep", "quadratic", *TINY, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no progress bar when not writing to a terminal"
    assert "quadratic: 18 settings × 30 steps | compile" in proc.stdout
    for name in ("heatmap.png", "curves.png", "summary.json", "sweep.npz"):
        assert (out / "quadratic" / name).stat().st_size > 0
    summary = json.loads((out / "quadratic" / "summary.json").read_text())
    assert summary["settings"] == 18 and summary["steps"] == 30
    assert set(summary["figures"]) == {"heatmap.png", "measure.png", "curves.png", "steps_to_target.png", "lrfind.png"}
    index = (out / "README.md").read_text()
    assert "quadratic/heatmap.png" in index and "quadratic/curves.png" in index
    assert 'id="exp-quadratic"' in (out / "index.html").read_text() and "index.html" in proc.stdout
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary folders left behind"

    (out / "quadratic" / "heatmap.png").unlink()
    (out / "index.html").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "quadratic" / "heatmap.png").stat().st_size > 0
    assert 'id="exp-quadratic"' in (out / "index.html").read_text()


def test_list_shows_the_experiments(capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "quadratic " in listed and "quadratic_momentum" in listed


@pytest.fixture(scope="module")
def existing_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("existing")
    assert main(["sweep", "quadratic", *TINY, "--out", str(out)]) == 0
    return out


MODULE = """
import jax.numpy as jnp
import optax
import edujax as ej

experiment = ej.minimize(name={name!r}, loss=lambda p, h: jnp.sum(p ** 2), params=lambda key, h: {start},
                         optimizer=lambda h: optax.sgd(h["learning_rate"]),
                         grid=ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3)), steps=5)
"""


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """Experiment files with something wrong in them."""
    folder = tmp_path_factory.mktemp("modules")
    for file, name, start in [("dot.py", ".", "jnp.ones(2)"), ("escape.py", "../x", "jnp.ones(2)"),
                              ("slash.py", "a/b", "jnp.ones(2)"),
                              ("nan_start.py", "nan_start", "jnp.full(2, jnp.nan)")]:
        (folder / file).write_text(MODULE.format(name=name, start=start))
    for file, arguments in MINIBATCH_MODULES.items():
        (folder / file).write_text(MINIBATCH.format(arguments=arguments))
    (folder / "a_folder").mkdir()
    return folder


MINIBATCH = """
import jax.numpy as jnp
import numpy as np
import optax
import edujax as ej

x = np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
y = 3 * x[:, 0]
loss = lambda w, h, b: jnp.mean((b[0] @ w - b[1]) ** 2)
grid = ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3))
common = dict(name="minibatch", params=lambda key, h: jnp.zeros(1), optimizer=lambda h: optax.sgd(h["learning_rate"]),
              steps=5, global_min=0.0)
experiment = ej.minimize({arguments}, **common)
"""

#: Minibatch experiment files with something wrong in them (issue 23, item 8): file -> minimize's arguments.
MINIBATCH_MODULES = {
    "mb_good.py": "loss=loss, data=(x, y), batch_size=4, grid=grid",
    "mb_ragged.py": "loss=loss, data=(x, y[:10]), batch_size=4, grid=grid",
    "mb_batch_zero.py": "loss=loss, data=(x, y), batch_size=0, grid=grid",
    "mb_batch_negative.py": "loss=loss, data=(x, y), batch_size=-2, grid=grid",
    "mb_batch_big.py": "loss=loss, data=(x, y), batch_size=17, grid=grid",
    "mb_grid_zero.py": "loss=loss, data=(x, y), grid=ej.Grid(ej.values('batch_size', [0, 4])), "
                       "defaults={'learning_rate': 0.1}",
    "mb_grid_big.py": "loss=loss, data=(x, y), grid=ej.Grid(ej.values('batch_size', [4, 32])), "
                      "defaults={'learning_rate': 0.1}",
    "mb_nan.py": "loss=loss, data=(x, np.where(np.arange(16) == 3, np.nan, y)), batch_size=4, grid=grid",
    "mb_eval_shape.py": "loss=loss, data=(x, y), eval_data=(np.ones((8, 2), np.float32), y[:8]), batch_size=4, "
                        "grid=grid",
    "mb_eval_nan.py": "loss=loss, data=(x, y), eval_data=(x, np.full(16, np.inf, np.float32)), batch_size=4, "
                      "grid=grid",
    "mb_no_batch.py": "loss=lambda w, h: jnp.sum(w ** 2), data=(x, y), batch_size=4, grid=grid",
}


def damage(path, how):
    """How a test breaks a file: cut it in half, replace it, or remove it."""
    def setup(out):
        target = out / path
        if how == "truncate":
            target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
        elif how == "remove":
            target.unlink()
        elif how == "dir":
            target.mkdir()
            (target / "thesis.tex").write_text("not edujax's")
        else:
            target.write_text(how)
    return setup


def copy_of_result(name):
    """A second saved result, beside the fixture's quadratic."""
    def setup(out):
        shutil.copytree(out / "quadratic", out / name)
        summary = json.loads((out / name / "summary.json").read_text())
        (out / name / "summary.json").write_text(json.dumps({**summary, "experiment": name}))
    return setup


def both(*setups):
    def setup(out):
        for step in setups:
            step(out)
    return setup


# (argv, what stderr must say, how the results folder {out} is prepared beforehand)
BAD_INPUTS = [
    (["sweep", "no_such_experiment"], "unknown experiment 'no_such_experiment'", None),
    (["sweep", "quadratic", "--grid", "learning_rate=1e-3:1"], "expected NAME=START:STOP:NUM", None),
    (["sweep", "quadratic", "--grid", "learning_rate=a:b:c"], "must be numbers", None),
    (["sweep", "quadratic", "--grid", "learning_rate=1e-3:1:0"], "positive integer", None),
    (["sweep", "quadratic", "--grid", "learning_rate=0:1:5"], "must be positive", None),
    (["sweep", "quadratic", "--grid", "learning_rate=-1:1:5"], "must be positive", None),
    (["sweep", "quadratic", "--grid", "start_angle=0:90:3:cubic"], "optionally followed by :log or :linear", None),
    (["sweep", "quadratic", "--grid", "nonsense=0:1:5"], "no hyperparameter 'nonsense'", None),
    (["sweep", "quadratic", "--steps", "0"], "steps must be a positive integer", None),
    (["sweep", "quadratic", "--steps", "-5"], "steps must be a positive integer", None),
    (["sweep", "quadratic", "--steps", "ten"], "invalid int value", None),
    (["sweep", "quadratic", "--chunk-size", "0"], "chunk-size", None),
    (["sweep", "quadratic", "--chunk-size", "-3"], "expected a whole number", None),
    (["sweep", "quadratic", "--max-memory", "lots"], "max-memory", None),
    (["sweep", "quadratic", "--max-memory", "-5GB"], "a memory size cannot be negative", None),
    (["sweep", "quadratic", "--max-host-memory", "-1GB"], "--max-host-memory '-1GB': a memory size cannot be negative",
     None),
    (["sweep", "quadratic", "--records", "0"], "expected a whole number", None),
    (["sweep", "quadratic", "missing/file.py"], "no such file", None),
    (["sweep", "{modules}/a_folder"], "is a folder", None),
    (["sweep", "quadratic", "quadratic"], "would both write", None),
    (["sweep", "{modules}/dot.py"], "'.' is not a valid experiment name", None),
    (["sweep", "{modules}/escape.py"], "'../x' is not a valid experiment name", None),
    (["sweep", "{modules}/slash.py"], "'a/b' is not a valid experiment name", None),
    (["sweep", "{modules}/nan_start.py"], "is broken: its loss is nan at step 0", None),
    # minibatch training (issue 23, item 8): the data, the batch size (default or grid value), the eval set, the loss
    (["sweep", "{modules}/mb_ragged.py"], "data: its arrays disagree on the number of examples (10, 16)", None),
    (["sweep", "{modules}/mb_batch_zero.py"], "batch_size must be a whole number from 1 to the data size 16, got 0",
     None),
    (["sweep", "{modules}/mb_batch_negative.py"], "batch_size must be a whole number from 1 to the data size 16",
     None),
    (["sweep", "{modules}/mb_batch_big.py"], "batch_size must be a whole number from 1 to the data size 16, got 17",
     None),
    (["sweep", "{modules}/mb_grid_zero.py"], "batch_size must be a whole number from 1 to the data size 16", None),
    (["sweep", "{modules}/mb_grid_big.py"], "batch_size must be a whole number from 1 to the data size 16, got 32",
     None),
    (["sweep", "{modules}/mb_good.py", "--grid", "batch_size=4:64:2"],
     "batch_size must be a whole number from 1 to the data size 16", None),
    (["sweep", "{modules}/mb_good.py", "--grid", "batch_size=2:8:3:linear"],
     "batch_size 5 is above the largest batch this experiment was built for (4)", None),
    (["sweep", "{modules}/mb_nan.py"], "data holds non-finite values (NaN or inf)", None),
    (["sweep", "{modules}/mb_eval_shape.py"], "eval_data must have the structure of data and the same shape", None),
    (["sweep", "{modules}/mb_eval_nan.py"], "eval_data holds non-finite values", None),
    (["sweep", "{modules}/mb_no_batch.py"], "with data=, loss must take (params, hparams, batch)", None),
    (["sweep", "quadratic", "--distributed"], "--distributed: could not join the other processes", None),
    (["sweep", "quadratic", "--coordinator-address", "127.0.0.1:1", "--num-processes", "2"], "go together", None),
    (["sweep", "quadratic", "--coordinator-address", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"],
     "expected 0 … 1", None),
    (["sweep", "quadratic"], "README.md exists and was not written by edujax", damage("README.md", "# My project\n")),
    (["sweep", "quadratic"], "index.html exists and was not written by edujax", damage("index.html", "<html></html>")),
    (["sweep", "quadratic_momentum"], "quadratic_momentum exists and was not written by edujax",
     damage("quadratic_momentum", "dir")),
    (["sweep", "quadratic_momentum", "--out", "{out}/quadratic/heatmap.png"], "exists and is not a folder", None),
    (["sweep", "quadratic_momentum", "--out", "{out}/README.md/x"], "README.md is a file, not a folder", None),
    (["sweep", "quadratic_momentum"], "sweep.npz is damaged (BadZipFile",
     both(copy_of_result("other"), damage("other/sweep.npz", "truncate"))),
    (["plot", "{out}"], "sweep.npz is damaged (BadZipFile", damage("quadratic/sweep.npz", "truncate")),
    (["plot", "{out}"], "summary.json is not an edujax summary", damage("quadratic/summary.json", "{}")),
    (["plot", "{out}"], "summary.json is damaged", damage("quadratic/summary.json", '{"experiment": ')),
    (["plot", "{out}/quadratic"], "sweep.npz is missing", damage("quadratic/sweep.npz", "remove")),
    (["plot", "/nonexistent/folder"], "no saved sweep", None),
    (["list", "extra"], "unrecognized arguments", None),
    (["frobnicate"], "invalid choice", None),
]


@pytest.mark.parametrize("argv, message, setup", BAD_INPUTS,
                         ids=[f"{i}: {' '.join(c[0])[:40]}" for i, c in enumerate(BAD_INPUTS)])
def test_user_mistakes_exit_2_with_one_line_and_touch_nothing(argv, message, setup, existing_results, modules, tmp_path,
                                                              capsys):
    out = tmp_path / "results"
    shutil.copytree(existing_results, out)
    if setup is not None:
        setup(out)
    before = snapshot(out)
    argv = [a.format(out=out, modules=modules) for a in argv]
    assert main([*argv, "--out", str(out)] if argv[0] == "sweep" and "--out" not in argv else argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("edujax: error: "), err
    assert message in err
    assert snapshot(out) == before


def test_x64_sweeps_in_float64(tmp_path):
    """--x64: every array of the sweep in float64 (a step of 1e-9 on a parameter of 1 is lost in float32)."""
    out = tmp_path / "results"
    assert main(["sweep", "quadratic", *TINY, "--x64", "--out", str(out)]) == 0
    result = SweepResult.load(out / "quadratic")
    assert result.info["precision"] == "float64" and result.loss.dtype == np.float64
    assert result.hparams["learning_rate"].dtype == np.float64


def test_the_table_has_the_cases_the_issue_asks_for():
    assert len(BAD_INPUTS) >= 25


def test_a_read_only_out_is_refused_before_the_sweep(existing_results, tmp_path):
    """A read-only file system (a read-only bind mount when root, which ignores permissions; else chmod)."""
    out = tmp_path / "results"
    shutil.copytree(existing_results, out)
    before = snapshot(out)
    command = [sys.executable, "-m", "edujax", "sweep", "quadratic", *TINY, "--out", str(out)]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("running as root, where only a read-only mount stops a write, and unshare is missing")
        script = f'mount --bind "{out}" "{out}" && mount -o remount,bind,ro "{out}" && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", script, "sh", *command]
    else:
        out.chmod(0o555)
    try:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    finally:
        out.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "cannot write in" in proc.stderr, proc.stderr
    assert "compiling" not in proc.stdout, "refused before any sweep"
    assert snapshot(out) == before


def test_a_failure_mid_write_leaves_the_old_result_whole(existing_results, monkeypatch):
    from edujax.report import figures

    before = snapshot(existing_results)

    def broken_render(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C hit while drawing

    monkeypatch.setattr(figures, "render", broken_render)
    assert main(["sweep", "quadratic", *TINY, "--steps", "31", "--out", str(existing_results)]) == 130
    assert snapshot(existing_results) == before
    assert not [p for p in os.listdir(existing_results) if p.startswith(".")]


def test_the_command_line_sweeps_the_grid_it_was_given(tmp_path):
    """One process, the whole CLI (no distributed run needed): `edujax sweep --grid` saves the axes START → STOP
    it was given, descending here, so a START/STOP swap anywhere between the option and the sweep shows."""
    import json

    from edujax.app import cli

    out = tmp_path / "results"
    code = cli.main(["sweep", "quadratic", "--grid", "learning_rate=0.3:0.003:3", "--grid", "start_angle=80:20:4",
                     "--steps", "5", "--records", "5", "--out", str(out)])
    assert code == 0
    axes = np.load(out / "quadratic" / "sweep.npz", allow_pickle=False)
    np.testing.assert_allclose(axes["axis/learning_rate"], [0.3, 0.03, 0.003], rtol=1e-6)
    np.testing.assert_allclose(axes["axis/start_angle"], [80.0, 60.0, 40.0, 20.0])
    summary = json.loads((out / "quadratic" / "summary.json").read_text())
    assert [a["name"] for a in summary["axes"]] == ["learning_rate", "start_angle"] and summary["settings"] == 12


def test_the_at_option_reads_name_equals_value():
    """`--at NAME=VALUE` (zoom): split at the first '=', and a missing part refused in one line."""
    assert cli.parse_at("nonlinearity=tanh") == ("nonlinearity", "tanh")
    assert cli.parse_at("input_lr=1e-3") == ("input_lr", "1e-3")
    assert cli.parse_at("tag=a=b") == ("tag", "a=b")
    for spec in ("nonlinearity", "=tanh", "input_lr=", "="):
        with pytest.raises(UserError) as refused:
            cli.parse_at(spec)
        assert str(refused.value) == (f"--at {spec!r}: expected NAME=VALUE, e.g. nonlinearity=tanh or input_lr=10")


def test_an_interrupted_command_says_so_in_one_line_and_exits_130(monkeypatch, capsys):
    from edujax.app import pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run_all", interrupted)
    assert main(["sweep", "quadratic", "--out", "/nonexistent/never-written"]) == 130
    assert capsys.readouterr().err == ("edujax: interrupted; results written so far are complete, nothing else was "
                                       "touched\n")
