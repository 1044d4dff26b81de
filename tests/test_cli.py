"""The command line end to end, and every user mistake as one line with exit status 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edujax.cli import main

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
    assert set(summary["figures"]) == {"heatmap.png", "measure.png", "curves.png"}
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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "no_such_experiment"], "unknown experiment 'no_such_experiment'"),
        (["sweep", "quadratic", "--grid", "learning_rate=1e-3:1"], "expected NAME=START:STOP:NUM"),
        (["sweep", "quadratic", "--grid", "learning_rate=a:b:c"], "must be numbers"),
        (["sweep", "quadratic", "--grid", "learning_rate=1e-3:1:0"], "positive integer"),
        (["sweep", "quadratic", "--grid", "learning_rate=0:1:5"], "must be positive"),
        (["sweep", "quadratic", "--grid", "learning_rate=-1:1:5"], "must be positive"),
        (["sweep", "quadratic", "--grid", "nonsense=0:1:5"], "no hyperparameter 'nonsense'"),
        (["sweep", "quadratic", "--steps", "0"], "steps must be a positive integer"),
        (["sweep", "quadratic", "--steps", "-5"], "steps must be a positive integer"),
        (["sweep", "quadratic", "--steps", "ten"], "invalid int value"),
        (["sweep", "quadratic", "--chunk-size", "0"], "chunk-size"),
        (["sweep", "quadratic", "--max-memory", "lots"], "max-memory"),
        (["sweep", "quadratic", "missing/file.py"], "no such file"),
        (["plot", "/nonexistent/folder"], "no saved sweep"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_user_mistakes_exit_2_with_one_line_and_touch_nothing(argv, message, existing_results, capsys):
    before = snapshot(existing_results)
    assert main([*argv, "--out", str(existing_results)] if argv[0] == "sweep" else argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("edujax: error: "), err
    assert message in err
    assert snapshot(existing_results) == before


def test_a_failure_mid_write_leaves_the_old_result_whole(existing_results, monkeypatch):
    from edujax import plots

    before = snapshot(existing_results)

    def broken_render(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C hit while drawing

    monkeypatch.setattr(plots, "render", broken_render)
    assert main(["sweep", "quadratic", *TINY, "--steps", "31", "--out", str(existing_results)]) == 130
    assert snapshot(existing_results) == before
    assert not [p for p in os.listdir(existing_results) if p.startswith(".")]
