"""Adding an experiment: `edujax new` + `edujax sweep` from outside the repo, and broken
user modules, each reported as one line that names the file, with exit status 2."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edujax.cli import main
from edujax.outcomes import OUTCOMES

REPO = Path(__file__).resolve().parent.parent


def edujax(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "edujax", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_new_then_sweep_from_a_folder_outside_the_repo(tmp_path):
    made = edujax("new", "my_problem", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    source = tmp_path / "experiments" / "my_problem.py"
    assert source.is_file() and 'name="my_problem"' in source.read_text()

    swept = edujax("sweep", "experiments/my_problem.py", "--out", "results", cwd=tmp_path)
    assert swept.returncode == 0, swept.stderr
    out = tmp_path / "results"
    summary = json.loads((out / "my_problem" / "summary.json").read_text())
    assert summary["about"].startswith("Adam in the Rosenbrock valley")  # the docstring explains it on the page
    assert "my_problem" in (out / "index.html").read_text()

    # What the template's docstring promises: slow at small lr, converged with moderate lr and β₁ ≳ 0.4,
    # hopping (oscillating, or slow where the hops die down) with little momentum at larger lr.
    with np.load(out / "my_problem" / "sweep.npz") as npz:
        codes, lr, beta1 = npz["outcome"], npz["hparam/learning_rate"], npz["hparam/beta1"]
    name = np.asarray(OUTCOMES)[codes]
    assert np.all(name[lr < 2e-3] == "slow")
    converged = name == "converged"
    assert converged.mean() > 0.1 and converged[beta1 >= 0.4].mean() > 4 * max(converged[beta1 < 0.4].mean(), 0.01)
    moderate = (lr > 1e-2) & (lr < 0.3)
    hopping = name[moderate & (beta1 < 0.2)]
    assert np.isin(hopping, ["oscillating", "slow"]).mean() > 0.8 and (hopping == "oscillating").mean() > 0.3


def test_new_refuses_to_overwrite_or_a_bad_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "mine"]) == 0
    first = (tmp_path / "experiments" / "mine.py").read_text()
    for argv, message in ((["new", "mine"], "already exists"), (["new", "2fast"], "not a valid experiment name"),
                          (["new", "class"], "not a valid experiment name"), (["new", "../escape"], "not a valid")):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert (tmp_path / "experiments" / "mine.py").read_text() == first
    assert sorted(p.name for p in (tmp_path / "experiments").iterdir()) == ["mine.py"]


GOOD = """
import jax.numpy as jnp
import optax
import edujax as ej

def loss(params, hparams):
    return jnp.sum(params ** 2)

def start(key, hparams):
    return jnp.ones(2)

experiment = ej.minimize(name="broken", loss=loss, params=start, optimizer=lambda h: optax.sgd(h["learning_rate"]),
                         grid=ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3)), steps=5)
"""

BROKEN = {
    "syntax error": (GOOD.replace("def loss(params, hparams):", "def loss(params, hparams)"), ":5: syntax error"),
    "no experiment": (GOOD.replace("experiment = ej.minimize", "something = ej.minimize"), "defines no `experiment"),
    "missing field": (GOOD.replace('grid=ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3)), ', ""),
                      "missing 1 required positional argument: 'grid'"),
    "wrong shapes": (GOOD.replace("jnp.sum(params ** 2)", "jnp.sum((jnp.ones((3, 3)) @ params) ** 2)"),
                     ":6: experiment 'broken' failed while tracing: TypeError: dot_general requires contracting dimensions"),
    "non-scalar loss": (GOOD.replace("jnp.sum(params ** 2)", "params ** 2"),
                        ": loss(params, hparams) must return a scalar (one number per run), got shape (2,)"),
    "non-scalar metric": (GOOD.replace("optimizer=lambda", "metrics=lambda p, h: {'position': p}, optimizer=lambda"),
                          ": metric 'position' must be a scalar per run, got shape (2,)"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_module_is_one_line_naming_the_file(case, tmp_path, monkeypatch, capsys):
    source, message = BROKEN[case]
    path = tmp_path / "mine.py"
    path.write_text(textwrap.dedent(source).lstrip())
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "mine.py", "--out", "results"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("edujax: error: mine.py") and message in err, err
    assert not (tmp_path / "results").exists()
