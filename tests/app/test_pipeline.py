"""The library's one call from an experiment to its page: redraws that lose nothing, results
that are the same bytes when nothing changed, and writers that take turns."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

import edujax as ej
from edujax.store import files

REPO = Path(__file__).resolve().parents[2]

# An experiment outside experiments/, with a figure hook of its own.
MODULE = '''
"""A parabola with a figure of its own (the docstring is the page's explanation)."""
import numpy as np
import optax
from matplotlib.figure import Figure

import edujax as ej


def final_positions(result, out_dir):
    # the examples' final states as the pytree `minimize` builds, (params, optimizer state), on a redraw too
    assert isinstance(result.examples["state"], tuple), type(result.examples["state"])
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot(result.hparams["learning_rate"].ravel(), result.final["loss"].ravel(), "o")
    fig.savefig(out_dir / "finals.png", dpi=50)
    return {"finals.png": "final loss against the learning rate"}


experiment = ej.minimize(
    name="by_path",
    loss=lambda x, h: 0.5 * x**2,
    params=lambda key, h: 2.0,
    optimizer=lambda h: optax.sgd(h["learning_rate"]),
    grid=ej.Grid(ej.logspace("learning_rate", 1e-2, 3.0, 6)),
    steps=30,
    global_min=0.0,
    figures=final_positions,
)
'''


def snapshot(folder: Path, skip=("sweep.npz", "run.json")) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name not in skip}


def test_redraw_of_an_experiment_swept_by_path_keeps_every_figure(tmp_path, monkeypatch):
    source = tmp_path / "elsewhere" / "by_path.py"
    source.parent.mkdir()
    source.write_text(MODULE)
    out = tmp_path / "results"
    result = ej.run(str(source), out)
    assert result.outcome.size == 6 and result.labels[-1] == "diverged"  # lr = 3 > 2/curvature
    folder = out / "by_path"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["source"] == "../../elsewhere/by_path.py"  # relative to the result: survives moving both
    assert summary["about"].startswith("A parabola with a figure of its own")
    assert set(summary["figures"]) == {"heatmap.png", "measure.png", "curves.png", "lrfind.png", "finals.png"}
    before = snapshot(out, skip=("sweep.npz",))

    monkeypatch.chdir(tmp_path / "elsewhere")  # the source is found from the summary, not from the working folder
    messages = []
    assert ej.redraw(out, log=messages.append) == [folder]
    assert snapshot(out, skip=("sweep.npz",)) == before, "the same inputs redraw the same bytes"
    assert not any("kept the others" in m for m in messages)

    source.unlink()  # the hook can no longer be found: its figure stays, the standard ones are redrawn
    (folder / "heatmap.png").unlink()
    ej.redraw(folder, log=messages.append)
    assert snapshot(out, skip=("sweep.npz",)) == before
    assert any("source file" in m and "is gone" in m and "kept the others as they were" in m for m in messages)


def test_a_sweep_run_twice_writes_the_same_bytes(tmp_path, quadratic):
    """What `make sweep` commits (summaries, figures, README.md, index.html) does not change when nothing
    changed; timings and the device go to the uncommitted run.json."""
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 8), ej.linspace("start_angle", 0.0, 90.0, 4))
    out = tmp_path / "results"
    ej.run(quadratic, out, grid=grid, steps=40)
    first = snapshot(out)
    assert {"README.md", "index.html", "quadratic/summary.json", "quadratic/heatmap.png"} <= set(first)
    time.sleep(1.1)  # a timestamp, if one were written, would now differ
    ej.run(quadratic, out, grid=grid, steps=40)
    assert snapshot(out) == first
    run = json.loads((out / "quadratic" / "run.json").read_text())
    assert run["devices"] >= 1 and run["run_s"] > 0


def test_the_lock_lets_one_writer_in_at_a_time(tmp_path):
    inside, most, lock = [0], [0], threading.Lock()

    def writer():
        with files.locked(tmp_path):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1 and not (tmp_path / files.LOCK).exists()


SCRIPT = """
import optax
import edujax as ej

print("the script ran", flush=True)
experiment = ej.minimize(name="study", loss=lambda p, h: p**2, params=lambda key, h: 1.0,
                         optimizer=lambda h: optax.sgd(h["learning_rate"]),
                         grid=ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 4)), steps=20, global_min=0.0)
ej.run(experiment, "results")
print([p.name for p in ej.redraw("results/study")])
"""


def test_a_script_that_redraws_its_own_result_runs_once(tmp_path):
    """`ej.redraw` of a result the running script made draws with the script's own experiment: importing the
    script again (its summary names it as the source) would run its sweep a second time."""
    (tmp_path / "study.py").write_text(SCRIPT)
    proc = subprocess.run([sys.executable, "study.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("the script ran") == 1 and "['study']" in proc.stdout, proc.stdout
    assert json.loads((tmp_path / "results" / "study" / "summary.json").read_text())["source"] == "../../study.py"


def test_two_sweeps_into_one_folder_at_once_lose_nothing(tmp_path):
    """Two real processes sweep two experiments into one --out at the same moment."""
    out = tmp_path / "results"
    tiny = {"quadratic": ["learning_rate=1e-3:1:6", "start_angle=0:90:3"],
            "quadratic_momentum": ["learning_rate=1e-3:1:6", "one_minus_momentum=1e-3:1:3"]}
    commands = [[sys.executable, "-m", "edujax", "sweep", name, *sum((["--grid", g] for g in grid), []),
                 "--steps", "30", "--out", str(out)] for name, grid in tiny.items()]
    procs = [subprocess.Popen(c, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr
    assert sorted(os.listdir(out)) == ["README.md", "index.html", "quadratic", "quadratic_momentum"]
    for name in tiny:
        assert ej.SweepResult.load(out / name).outcome.size == 18
        assert f"## {name}" in (out / "README.md").read_text()
        assert f'id="exp-{name}"' in (out / "index.html").read_text()


def test_a_result_in_memory_writes_itself_and_the_page_skips_results_without_arrays(tmp_path, quadratic):
    """`result.write`; and a fresh clone has the committed summaries and figures but no sweep.npz:
    writing there makes a page of what it can read, instead of failing on the others."""
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 4), ej.linspace("start_angle", 0.0, 90.0, 2))
    result = ej.sweep(quadratic, grid, 20)
    out = tmp_path / "out"
    folder = ej.write(result, out, quadratic)
    np.testing.assert_array_equal(ej.SweepResult.load(folder).outcome, result.outcome)
    assert json.loads((folder / "summary.json").read_text())["source"].endswith("experiments/quadratic.py")
    committed = out / "committed"
    committed.mkdir()
    for name in ("summary.json", "heatmap.png"):
        (committed / name).write_bytes((folder / name).read_bytes())
    ej.write(result, out, quadratic)
    page = (out / "index.html").read_text()
    assert 'id="exp-quadratic"' in page and 'id="exp-committed"' not in page


def test_an_experiment_knows_the_file_it_was_defined_in(tmp_path):
    """Loaded by edujax, or imported by the user's own script: either way its summary can name its source."""
    import importlib.util

    from edujax.app import registry

    path = tmp_path / "study.py"
    path.write_text(MODULE)
    assert registry.source_of(registry.load_file(path)) == path.resolve()
    spec = importlib.util.spec_from_file_location("study_by_the_user", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["study_by_the_user"] = module
    try:
        assert registry.source_of(module.experiment) == path.resolve()
    finally:
        del sys.modules["study_by_the_user"]
    made_here = ej.Experiment("made_here", module.experiment.init, module.experiment.step, module.experiment.grid)
    assert registry.source_of(made_here) is None  # no module holds it as its `experiment`
