"""One call from an experiment to its results page: what `make sweep` does.

    result = ej.run(experiment, out="results")      # sweep → figures → save → README.md → index.html
    ej.redraw("results")                             # every figure and the page again, from saved results

`run` sweeps one experiment (an `Experiment`, a file path or a name in
`experiments/`), draws the standard figures and the experiment's own,
writes `out/<name>/` (arrays, summary, figures) atomically, and rewrites the
results index `out/README.md` and the page `out/index.html`. `run_all` does
the same for several experiments, writing the index once at the end: it is
the command line's `sweep`. `write` writes a result already in memory,
`redraw` redraws saved ones.

Safety, checked before any sweep starts: experiment names are identifiers,
so nothing is written outside `out`; `out` must be writable; edujax never
replaces a file or folder it did not write (`edujax.store.files`); results that
are already there must be readable. Two processes writing into one `out`
take turns for the short moment of swapping a result in and writing the
index, so neither result is lost. A saved summary records the experiment's
source file, so `redraw` finds its figure hook even for an experiment swept
by path, and it never deletes a figure it cannot redraw.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from edujax.app import compare, compile_cache, registry
from edujax.core.errors import UserError
from edujax.core.experiment import Experiment, check_precision, check_steps
from edujax.core.grid import Axis, Grid, parse_axis
from edujax.report import figures as drawing, page
from edujax.runner import devices
from edujax.runner import lrfind as range_test
from edujax.runner.sweep import sweep
from edujax.store import files, verdict
from edujax.store.comparison import Comparison
from edujax.store.recommend import describe
from edujax.store.result import SweepResult, saved

Log = Callable[[str], None]
README = "README.md"
#: How edujax recognises the index files it wrote: its mark, or the first lines of an index written without the
#: mark (such folders exist and must not be refused): README.md here, index.html the page's.
INDEX_MARKS = {README: ("<!-- written by edujax", "# Results\n\nWritten by `make sweep`"), page.PAGE: page.MARKS}
#: What `summary.json` calls the experiment's source file (relative to the result folder).
SOURCE = "source"


@dataclasses.dataclass
class Job:
    """One experiment to sweep: where it came from and the grid to sweep."""

    experiment: Experiment
    source: Path | None
    grid: Grid


def run(experiment: Experiment | str | Path, out: str | Path = "results", **options) -> SweepResult:
    """Sweep `experiment` and write what `make sweep` writes for it; returns the result.

    `options` are `run_all`'s keyword arguments. `grid` replaces the
    experiment's grid; `axes` replace (or add) single axes: `Axis` objects or
    command-line specs such as ``"learning_rate=1e-3:1:64"``. `precision="float64"` runs in double
    precision (default: the experiment's). `records` sets how many record
    points each run keeps. `max_memory` (bytes, or text such as ``"2GB"``) and
    `chunk_size` bound a chunk of runs on a device, `max_host_memory` what the
    results may take on the host (see `edujax.sweep`); finished chunks are kept in
    `out/.partial/` until the result is written, so an interrupted sweep
    resumes. `progress` shows a progress bar; `log` receives one line per
    stage (compiling, drawing, written), e.g. `log=print`. `cache=False` keeps
    JAX's persistent compilation cache off (`edujax.app.compile_cache`; else on
    unless `EDUJAX_CACHE=off`).

    >>> import edujax as ej
    >>> result = ej.run("quadratic", "/tmp/edujax-example", axes=["learning_rate=1e-3:1:32"], steps=200)
    >>> result.counts["converged"] > 0
    True
    """
    (result,) = run_all([experiment], out, **options).values()
    return result


def run_all(experiments: Iterable[Experiment | str | Path] = (), out: str | Path = "results", *,
            grid: Grid | None = None, axes: Sequence[Axis | str] = (), steps: int | None = None, seed: int = 0,
            precision: str | None = None, records: int | None = None, chunk_size: int | None = None,
            max_memory: int | str | None = None, max_host_memory: int | str | None = None, progress: bool = False,
            log: Log | None = None, cache: bool = True) -> dict[str, SweepResult]:
    """`run` for several experiments (none given: every default experiment), the index written once at the end.

    Named experiments are all loaded and checked before the first sweep, and
    any mistake stops everything. Sweeping the defaults, a module that is
    broken (does not load, fails while being traced, or has a non-finite loss
    before training) is reported through `log` and skipped, the others run,
    and a UserError at the end names the skipped ones.
    """
    out = Path(out)
    say = log or (lambda text: None)
    compile_cache.enable(cache)
    steps = None if steps is None else check_steps(steps)
    max_memory = devices.parse_bytes(max_memory) if isinstance(max_memory, str) else max_memory
    max_host_memory = (devices.parse_bytes(max_host_memory, "--max-host-memory") if isinstance(max_host_memory, str)
                       else max_host_memory)
    if precision is not None:
        check_precision(precision)
    options = {"seed": seed, "precision": precision, "chunk_size": chunk_size, "max_memory": max_memory,
               "max_host_memory": max_host_memory, "progress": progress,
               **({} if records is None else {"records": records})}
    experiments = list(experiments)
    broken: list[str] = []
    jobs = [_job(e, grid, axes) for e in experiments] if experiments else _default_jobs(axes, broken, say)
    names = [job.experiment.name for job in jobs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UserError(f"two experiments would both write {out / duplicated[0]}: "
                        "sweep them into different --out folders")
    check_output(out, names)

    results: dict[str, SweepResult] = {}
    for job in jobs:
        try:
            result = _sweep(job, out, steps, options, say)
        except UserError as err:
            if experiments:
                raise
            broken.append(job.experiment.name)
            say(f"skipped: {err}")
            continue
        if devices.is_main_process():
            write(result, out, job.experiment, source=job.source, index=False, log=say)
        results[job.experiment.name] = result
    if devices.is_main_process() and results:
        with files.locked(out):
            written = write_index(out)
        say(f"wrote {out / README} and {written} ({written.stat().st_size / 1e6:.2f} MB)")
    if broken:
        raise UserError(f"{len(broken)} experiment{'s' if len(broken) > 1 else ''} skipped because broken: "
                        f"{', '.join(broken)} (see above); the others were written")
    return results


def _job(experiment: Experiment | str | Path, grid: Grid | None, axes: Sequence[Axis | str]) -> Job:
    if isinstance(experiment, Experiment):
        source = registry.source_of(experiment)
    else:
        source = registry.resolve(str(experiment))
        experiment = registry.load_file(source)
    grid = grid or experiment.grid
    for axis in axes:
        grid = grid.replace(parse_axis(axis, grid, experiment.defaults) if isinstance(axis, str) else axis)
    return Job(experiment, source, grid)


def _default_jobs(axes: Sequence[Axis | str], broken: list[str], say: Log) -> list[Job]:
    """Every default experiment in `experiments/`; a module that does not load is reported and skipped."""
    jobs = []
    for name, path in registry.available().items():
        try:
            experiment = registry.load_file(path)
        except UserError as err:
            broken.append(name)
            say(f"skipped: {err}")
            continue
        if experiment.default:
            jobs.append(_job(experiment, None, axes))
    return jobs


def _sweep(job: Job, out: Path, steps: int | None, options: dict, say: Log) -> SweepResult:
    """The compiled sweep of one job, its checkpoints under `out/.partial`; a broken experiment is a UserError."""
    name = job.experiment.name
    shown = job.experiment.steps if steps is None else steps
    say(f"{name}: {job.grid.size:,} settings × {shown} steps: compiling and running…")
    with _naming_the_file(job):
        result = sweep(job.experiment, job.grid, steps, checkpoint=out / ".partial", **options)
    info = result.info
    resumed = f" (resumed {info['resumed_chunks']} of {info['chunks']} chunks)" if info.get("resumed_chunks") else ""
    shares = ", ".join(f"{o} {n / result.outcome.size:.0%}" for o, n in result.counts.items() if n)
    say(f"{name}: {result.outcome.size:,} settings × {result.steps} steps | compile {info['compile_s']:.2f} s"
        f" | run {info['run_s']:.2f} s{resumed} ({info['settings_steps_per_s']:.2e} settings·steps/s) | {shares}")
    recommendation = result.recommend()
    if recommendation:
        say(f"{name}: {recommendation.line()}")
    return result


@contextlib.contextmanager
def _naming_the_file(job: Job):
    """Re-raise a UserError met while sweeping `job`'s experiment as one line that starts with the experiment's
    file, and its line when the traceback reaches it (`registry.where`), for an experiment loaded from a file.

    Whatever fails there is the experiment's to fix: its functions failing while traced (`tracing_user_code`
    keeps that error as the cause, which gives the line), a loss or metric of the wrong shape, a start that is
    NaN, a grid too large for memory. Options are checked before, so their errors name no file.
    """
    try:
        yield
    except UserError as err:
        if not job.source:
            raise
        raise UserError(f"{registry.where(job.source, err)}: {err}") from None


def check_output(out: Path, names: Sequence[str], *, replacing: Sequence[str] | None = None) -> None:
    """Refuse, before any work, a results folder that cannot take these results (one line each):
    a file, not writable, holding a README.md/index.html or a folder of one of `names` that edujax
    did not write, or holding a damaged result that the new index would have to read."""
    out = Path(out)
    files.check_writable(out)
    if not out.exists():
        return
    _claim_index(out)
    for name in names:
        files.claim(out / name)
    replacing = set(names if replacing is None else replacing)
    for folder in saved(out):
        if folder.name not in replacing:
            SweepResult.check(folder)  # a damaged result stops here, before anything is written


def write(result: SweepResult | Comparison, out: str | Path, experiment: Experiment | None = None, *,
          source: Path | None = None, index: bool = True, log: Log | None = None) -> Path:
    """Publish a result or a comparison (`edujax.write`). A `Comparison` goes into the folder `out`
    (`edujax.app.compare.write`); a `SweepResult`: draw its figures (the standard ones and `experiment`'s own)
    and write them with the result into `out/<name>/`, swapped in whole; then (`index`) the results index and page.

    `source` is the experiment's file (default: where `experiment` was
    defined); it is recorded in `summary.json` so that `redraw` finds the
    figure hook again, and its docstring becomes the page's explanation.

    >>> import edujax as ej
    >>> from edujax import registry
    >>> experiment = registry.load("quadratic")
    >>> ej.write(ej.sweep(experiment, steps=100), "/tmp/edujax-example", experiment).name
    'quadratic'
    """
    if isinstance(result, Comparison):
        return compare.write(result, out)
    out = Path(out)
    final = out / result.experiment
    check_output(out, [result.experiment])
    if source is None and experiment is not None:
        source = registry.source_of(experiment)
    if source is not None:
        result.info[SOURCE] = os.path.relpath(Path(source).resolve(), final.resolve())
        result.info["about"] = registry.docstring(source)
    _replace(final, result, experiment, log=log)
    checkpoint = result.info.get("checkpoint")
    if checkpoint:  # the result is safe: its chunks are no longer needed
        shutil.rmtree(checkpoint, ignore_errors=True)
    partial = out / ".partial"
    if partial.is_dir() and not any(partial.iterdir()):
        partial.rmdir()
    if index:
        with files.locked(out):
            write_index(out)
    return final


def _replace(final: Path, result: SweepResult, experiment: Experiment | None, *, keep: Sequence[str] = (),
             log: Log | None = None) -> None:
    """Draw and save into a fresh folder, then swap it in under `final`'s parent's lock.

    Files named in `keep` are copied from the old folder when the new one
    lacks them (a redraw's figures it could not draw again), with their
    descriptions.
    """
    say = log or (lambda text: None)
    tmp = files.staging(final)
    try:
        started = time.perf_counter()
        say(f"{result.experiment}: drawing figures…")
        figures = drawing.render(result, tmp, experiment, _lrfind(result, experiment))
        old = (files.summary_of(final) or {}).get("figures", {})
        for name in keep:
            if name not in figures and (final / name).is_file():
                shutil.copy2(final / name, tmp / name)
                figures[name] = old.get(name, "")
        result.save(tmp, figures)
        with files.locked(final.parent):
            files.swap_in(tmp, final)
        say(f"{result.experiment}: wrote {final}: {', '.join(figures)} ({time.perf_counter() - started:.1f} s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _lrfind(result: SweepResult, experiment: Experiment | None):
    """The LR range test on `experiment` at the sweep's grid and its verdict against `result` (kept in
    `result.info["lrfind"]`, so summary.json holds the table), for a result with a recommendation; None
    otherwise. A finder that cannot run on this experiment (e.g. its step does not take a traced learning
    rate) is noted there and warned about: it never stops the sweep's other figures."""
    if experiment is None or not result.recommend():
        return None
    try:
        finder = range_test.find(experiment, grid=result.grid)
        held = verdict.versus(finder, result)
    except Exception as err:  # noqa: BLE001 (an extra figure: report, do not fail the sweep)
        result.info["lrfind"] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}
        warnings.warn(f"{result.experiment}: the LR finder failed: {result.info['lrfind']['error']}", stacklevel=2)
        return None
    result.info["lrfind"] = held.as_dict()
    return finder, held


def lrfind(experiment: Experiment | str | Path, out: str | Path = "results", *, at: dict | None = None, seed: int = 0,
           log: Log | None = None) -> verdict.Verdict:
    """The LR range test on `experiment` held against its sweep (`edujax lrfind NAME`): the sweep is read from
    `out/<name>/` when it is there, else run and written first; `at` picks the other hyperparameters' values
    (default: the middle of each numeric axis, a choice's first option). Returns the verdict table.

    >>> print(lrfind("quadratic", "/tmp/edujax-example").to_text())      # doctest: +SKIP
    """
    say = log or (lambda text: None)
    job = _job(experiment, None, ())
    folder = Path(out) / job.experiment.name
    if (folder / files.ARRAYS).is_file():
        result = SweepResult.load(folder)
        say(f"read the sweep of {job.experiment.name} from {folder}")
    else:
        say(f"no saved sweep of {job.experiment.name} in {out}: sweeping it first")
        result = run(job.experiment, out, log=say)
    finder = range_test.find(job.experiment, grid=result.grid, at=at, seed=seed)
    return verdict.versus(finder, result)


def write_index(out: Path) -> Path:
    """`out/README.md` (every experiment's figures, one line each) and `out/index.html`; call it
    holding `out`'s lock. Both are the same bytes whenever the results are."""
    out = Path(out)
    _claim_index(out)
    lines = ["<!-- written by edujax: `make sweep` and `edujax plot` rewrite this file -->", "# Results", "",
             "Written by `make sweep`; redraw with `.venv/bin/edujax plot results`.",
             "Open [index.html](index.html) in a browser to hover and click the maps.", ""]
    for summary_path in sorted(out.glob(f"*/{files.SUMMARY}")):
        summary = files.summary_of(summary_path.parent)
        if summary is None or "outcomes" not in summary:
            continue
        name = summary_path.parent.name
        counts = ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items() if v)
        lines += [f"## {name}", "", summary.get("description", ""), "",
                  f"{summary['settings']:,} settings × {summary['steps']} steps: {counts}.", ""]
        lines += [f"Recommended learning rate: {line}." for line in [describe(summary.get("recommendation"))] if line]
        lines += [f"LR finder: {line}." for line in [verdict.line(summary.get("lrfind"))] if line]
        lines += [""] if lines[-1] != "" else []
        lines += [f"- [`{name}/{file}`]({name}/{file}): {text}" for file, text in summary.get("figures", {}).items()]
        lines.append("")
    files.atomic_write(out / README, lambda f: f.write("\n".join(lines).encode()))
    return page.write(out, registry.STORY)


def _claim_index(out: Path) -> None:
    """Refuse (one line) a README.md or index.html in `out` that edujax did not write."""
    for name, marks in INDEX_MARKS.items():
        files.claim(out / name, marks)


def find_experiment(folder: Path, result: SweepResult) -> tuple[Experiment | None, str]:
    """The experiment that made a saved result, from the source file its summary names
    (a summary naming no source: by name in `experiments/`); else None and why. A result of the
    running script takes the script's own `experiment` (importing the script again
    would run its sweeps again)."""
    source = result.info.get(SOURCE)
    path = (Path(folder) / source).resolve() if source else registry.available().get(result.experiment)
    if path is None:
        return None, f"its summary names no source file, and experiments/ has no {result.experiment}.py"
    if not Path(path).is_file():
        return None, f"its source file {path} is gone"
    main = sys.modules.get("__main__")
    if getattr(main, "__file__", None) and Path(main.__file__).resolve() == Path(path).resolve():
        experiment = getattr(main, "experiment", None)  # the running script: importing it would run it again
        if isinstance(experiment, Experiment) and experiment.name == result.experiment:
            return experiment, str(path)
    try:
        experiment = registry.load_file(path)
    except UserError as err:
        return None, str(err)
    if experiment.name != result.experiment:
        return None, f"{path} now defines experiment {experiment.name!r}, not {result.experiment!r}"
    return experiment, str(path)


def redraw(out: str | Path = "results", *, log: Log | None = None) -> list[Path]:
    """Redraw every figure, the index and the page from saved results, without sweeping.

    `out` is a results folder (every result in it) or one result's folder.
    Each result's experiment is loaded from the source file its summary
    names (a result of the running script: the script's own experiment,
    without running the script again), so its own figures are drawn again;
    a figure that cannot be redrawn (the source is gone or broken) is kept
    as it was. Results whose arrays are not here (committed results before
    `make sweep`) are skipped; a damaged one stops everything before any
    file changes.

    >>> import edujax as ej
    >>> _ = ej.run("quadratic", "/tmp/edujax-example", steps=100)
    >>> [p.name for p in ej.redraw("/tmp/edujax-example")]
    ['quadratic']
    """
    out = Path(out)
    say = log or (lambda text: None)
    single = (out / files.SUMMARY).is_file()
    targets = [out] if single else saved(out)
    unread = sorted({p.parent.name for p in out.glob(f"*/{files.SUMMARY}")} - {t.name for t in targets})
    if unread and targets:
        say(f"left as they are (no {files.ARRAYS} here yet: `make sweep` writes them): {', '.join(unread)}")
    if not targets:
        if single or any(out.glob(f"*/{files.SUMMARY}")):
            raise UserError(f"{out}: no {files.ARRAYS} here: the arrays are not committed, run `make sweep` first")
        raise UserError(f"{out}: no saved sweep here (no {files.SUMMARY})")
    files.check_writable(out.parent if single else out)
    if not single:
        _claim_index(out)
    results = [SweepResult.load(target) for target in targets]  # every one readable before anything changes
    for target, result in zip(targets, results):
        experiment, why = find_experiment(target, result)
        if experiment is None:
            say(f"{target}: {why}: drew the standard figures again and kept the others as they were")
        else:  # read again with its experiment: the examples' final states get back their pytree structure
            result = SweepResult.load(target, experiment)
            source = registry.source_of(experiment)
            result.info.update({SOURCE: os.path.relpath(source, target.resolve()), "about": registry.docstring(source)})
        kept = list((files.summary_of(target) or {}).get("figures", {}))
        _replace(target, result, experiment, keep=kept, log=say)
    if not single:
        with files.locked(out):
            written = write_index(out)
        say(f"wrote {out / README} and {written}")
    return targets


def zoom(experiment: Experiment | str | Path, out: str | Path = "results", *, frames: int = 8, factor: float = 4.0,
         at: dict | None = None, resolution: int | None = None, steps: int | None = None, precision: str = "float32",
         border: str = "measure", seed: int = 0, max_memory: int | str | None = None,
         report: Callable | None = None, log: Log | None = None, cache: bool = True):
    """Magnify `experiment`'s border frame after frame (see `edujax.app.zoom.zoom`) and write the zoom into
    `out/<experiment>-zoom-…/` (frames, GIF, strip, fits, `zoom.json`), then the results page; returns the `Zoom`.

    `report(k, frame, axes)` is called after each frame. Like `run`, it checks
    `out` before the first frame, never replaces what edujax did not write, and
    uses the compilation cache unless `cache=False`.

    >>> from edujax import pipeline
    >>> pipeline.zoom("bumpy_bowl", "/tmp/edujax-zoom", frames=2, resolution=32, steps=200).name
    'bumpy_bowl-zoom'
    """
    from edujax.core import fractal  # the zoom's arithmetic and pictures: only when zooming
    from edujax.app import zoom as zooming

    say = log or (lambda text: None)
    out = Path(out)
    check_output(out, [])
    job = _job(experiment, None, ())
    compile_cache.enable(cache)
    steps = None if steps is None else check_steps(steps)
    max_memory = devices.parse_bytes(max_memory) if isinstance(max_memory, str) else max_memory
    zooming.check_options(frames, factor, precision, border)  # before the sweeps: their errors name no file
    axes, centers, widths, _, cells, _, _ = zooming.plan(job.experiment, at, resolution)
    zooming.check_resolution(axes, centers, widths, cells, frames, factor, precision)
    finest = {p: fractal.finest_width(0.0, cells[0], axes[0].scale, np.dtype(p)) for p in ("float32", "float64")}
    units = " decades" if axes[0].scale == "log" else ""
    say(f"zoom: computing in {precision}; on {cells[0]} cells float32 resolves windows down to "
        f"{finest['float32']:.1g}{units} of {axes[0].name}, float64 down to {finest['float64']:.1g}: deep zooms "
        "need float64 (--x64)")
    with _naming_the_file(job):
        result = zooming.zoom(job.experiment, frames=frames, factor=factor, at=at, resolution=resolution, steps=steps,
                              precision=precision, border=border, seed=seed, max_memory=max_memory,
                              report=None if report is None else (lambda k, frame: report(k, frame, axes)))
    with files.locked(out):
        zooming.save(result, out)
        write_index(out)
    return result
