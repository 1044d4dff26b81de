"""Adding an experiment: `edujax new` (its template's sweep is run by test_readme.py, as the README
shows it), and broken user modules, each reported as one line that names the file, with exit status 2."""
import textwrap

import pytest

from edujax.app import pipeline, registry
from edujax.app.cli import main
from edujax.core.errors import UserError


def test_new_refuses_to_overwrite_or_a_bad_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "mine"]) == 0
    first = (tmp_path / "scratch" / "mine.py").read_text()
    for argv, message in ((["new", "mine"], "already exists"), (["new", "2fast"], "not a valid experiment name"),
                          (["new", "class"], "not a valid experiment name"), (["new", "../escape"], "not a valid")):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert (tmp_path / "scratch" / "mine.py").read_text() == first
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == ["mine.py"]


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
                     ":6: experiment 'broken' failed while tracing: "
                     "TypeError: dot_general requires contracting dimensions"),
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


def test_a_broken_module_does_not_block_the_default_sweep(tmp_path, monkeypatch, capsys):
    """Sweeping the defaults, a broken module is reported and skipped, the others are written, exit status 2."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "good.py").write_text(textwrap.dedent(GOOD).replace('name="broken"', 'name="good"'))
    (folder / "broken.py").write_text(textwrap.dedent(BROKEN["syntax error"][0]).lstrip())
    (folder / "nan_start.py").write_text(
        textwrap.dedent(GOOD).replace('name="broken"', 'name="nan_start"')
        .replace("jnp.ones(2)", "jnp.full(2, jnp.nan)"))
    (folder / "quiet.py").write_text(  # not a default experiment: only swept when named
        textwrap.dedent(GOOD).replace('name="broken"', 'name="quiet"').replace("steps=5)", "steps=5, default=False)"))
    monkeypatch.setattr(registry, "SEARCH_PATH", (folder,))
    assert main(["sweep", "--out", str(tmp_path / "results")]) == 2
    captured = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["README.md", "good", "index.html"]
    assert "skipped: " in captured.out and "broken.py:5: syntax error" in captured.out
    assert "'nan_start' is broken: its loss is nan at step 0" in captured.out
    assert captured.err.count("\n") == 1 and "2 experiments skipped because broken: broken, nan_start" in captured.err


def test_a_zoom_option_error_names_no_file(tmp_path):
    """The zoom's options are checked before its sweeps: their errors do not blame the experiment's file, which
    names only errors met while sweeping it (`pipeline._naming_the_file`, shared by sweep and zoom)."""
    path = tmp_path / "mine.py"
    path.write_text(textwrap.dedent(GOOD).lstrip())
    for options, message in (({"frames": 0}, "--frames must be a whole number"),
                             ({"factor": 1.0}, "--factor must be a number above 1"),
                             ({"border": "nowhere"}, "--border must be one of")):
        with pytest.raises(UserError) as refused:
            pipeline.zoom(path, tmp_path / "results", cache=False, **options)
        assert str(refused.value).startswith(message), refused.value
