"""Command line: `python -m edujax list | sweep | zoom | plot | new`.

Every user mistake is a `UserError`: one line on stderr, exit status 2, and
nothing under `--out` touched. Inputs are all checked before the first sweep.
"""
from __future__ import annotations

import argparse
import keyword
import shutil
import string
import sys
from pathlib import Path

import jax
import numpy as np

from edujax import devices, fractal, page, plots, registry
from edujax import zooming
from edujax import grid as axes
from edujax.errors import Parser, UserError, positive
from edujax.experiment import check_steps
from edujax.outcomes import OUTCOMES
from edujax.result import SUMMARY, SweepResult, atomic_dir
from edujax.runner import sweep

TEMPLATE = Path(__file__).resolve().parent / "templates" / "experiment.py.txt"


def parse_axis(spec: str, grid, defaults) -> axes.Axis:
    """`NAME=START:STOP:NUM[:log|:linear]`, or `NAME=NUM` for a seed axis."""
    name, sep, body = spec.partition("=")
    if not sep or not name:
        raise UserError(f"--grid {spec!r}: expected NAME=START:STOP:NUM")
    existing = next((a for a in grid.axes if a.name == name), None)
    if existing is None and name not in defaults:
        raise UserError(f"--grid {spec!r}: no hyperparameter {name!r} (axes: {', '.join(grid.names)};"
                        f" other hyperparameters: {', '.join(defaults) or 'none'})")
    parts = body.split(":")
    if existing is not None and existing.scale == "seed":
        if len(parts) != 1 or not parts[0].isdigit():
            raise UserError(f"--grid {spec!r}: a seed axis takes a count, e.g. {name}=8")
        return axes.seeds(int(parts[0]), name=name)
    if existing is not None and existing.scale in ("points", "choice"):
        raise UserError(f"--grid {spec!r}: axis {name!r} lists explicit values and cannot be set from the command line")
    scale = parts.pop() if len(parts) == 4 else (existing.scale if existing is not None else "linear")
    if len(parts) != 3 or scale not in ("log", "linear"):
        raise UserError(f"--grid {spec!r}: expected NAME=START:STOP:NUM, optionally followed by :log or :linear")
    try:
        start, stop, num = float(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise UserError(f"--grid {spec!r}: START, STOP and NUM must be numbers") from None
    label = existing.label if existing is not None else ""
    make = axes.logspace if scale == "log" else axes.linspace
    return make(name, start, stop, num, label=label)


def cmd_list(args) -> int:
    for name, path in registry.available().items():
        experiment = registry.load_file(path)
        print(f"{name:24s} {experiment.grid!r:48s} {experiment.description}")
    return 0


def run_options(args) -> tuple[int | None, Path]:
    """Check `--steps`; parse `--max-memory` and `--out` (bytes or None, a folder path)."""
    if args.steps is not None:
        check_steps(args.steps)
    max_memory = devices.parse_bytes(args.max_memory) if args.max_memory is not None else None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    return max_memory, out


def cmd_sweep(args) -> int:
    max_memory, out = run_options(args)
    paths = [registry.resolve(name) for name in args.experiments] or list(registry.available().values())
    loaded = [(path, registry.load_file(path)) for path in paths]  # load and validate everything before running
    if not args.experiments:
        loaded = [(path, experiment) for path, experiment in loaded if experiment.default]
    plans = []
    for path, experiment in loaded:
        grid = experiment.grid
        for spec in args.grid:
            grid = grid.replace(parse_axis(spec, grid, experiment.defaults))
        plans.append((path, experiment, grid))
    if args.distributed:
        jax.distributed.initialize()  # every process runs this same command; JAX finds its peers
    partial = out / ".partial"  # finished chunks of interrupted sweeps, until their result is written
    for path, experiment, grid in plans:
        try:
            result = sweep(experiment, grid, args.steps, seed=args.seed, chunk_size=args.chunk_size,
                           max_memory=max_memory, checkpoint=partial, progress=sys.stderr.isatty())
        except UserError as err:  # the experiment's code failed while being traced: name its file (and line)
            raise UserError(f"{where(path, err)}: {err}") from None
        if not devices.is_main_process():
            continue
        result.info["about"] = registry.docstring(path)
        with atomic_dir(out / experiment.name) as tmp:
            result.save(tmp, plots.render(result, tmp, experiment))
        info = result.info
        if info["checkpoint"]:  # the result is safe: its chunks are no longer needed
            shutil.rmtree(info["checkpoint"], ignore_errors=True)
        resumed = f" (resumed {info['resumed_chunks']} of {info['chunks']} chunks)" if info["resumed_chunks"] else ""
        shares = ", ".join(f"{o} {n / result.outcome.size:.0%}" for o, n in result.counts.items() if n)
        print(f"{experiment.name}: {result.outcome.size:,} settings × {result.steps} steps | compile {info['compile_s']:.2f} s"
              f" | run {info['run_s']:.2f} s{resumed} ({info['settings_steps_per_s']:.2e} settings·steps/s) | {shares}",
              flush=True)
    if devices.is_main_process():
        if partial.is_dir() and not any(partial.iterdir()):
            partial.rmdir()
        plots.write_index(out)
        written = page.write(out)
        print(f"wrote {out}/README.md and {written} ({written.stat().st_size / 1e6:.2f} MB)")
    return 0


def where(path: Path, err: BaseException) -> str:
    """`path`, or `path:line` at the deepest line of that file in the traceback that led to `err`."""
    line = None
    while err is not None:
        tb = err.__traceback__
        while tb is not None:
            if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
                line = tb.tb_lineno
            tb = tb.tb_next
        err = err.__cause__
    return f"{path}:{line}" if line else str(path)


def parse_at(spec: str) -> tuple[str, str]:
    """`NAME=VALUE` of `--at`."""
    name, sep, value = spec.partition("=")
    if not sep or not name or not value:
        raise UserError(f"--at {spec!r}: expected NAME=VALUE, e.g. nonlinearity=tanh or input_lr=10")
    return name, value


def cmd_zoom(args) -> int:
    max_memory, out = run_options(args)
    path = registry.resolve(args.experiment)
    experiment = registry.load_file(path)
    at = dict(parse_at(spec) for spec in args.at)
    precision = "float64" if args.x64 else "float32"
    axes, *_, cells, _, _ = zooming.plan(experiment, at, args.resolution)
    finest = {p: fractal.finest_width(0.0, cells[0], axes[0].scale, np.dtype(p)) for p in ("float32", "float64")}
    units = " decades" if axes[0].scale == "log" else ""
    print(f"zoom: computing in {precision}; on {cells[0]} cells float32 resolves windows down to {finest['float32']:.1g}"
          f"{units} of {axes[0].name}, float64 down to {finest['float64']:.1g}: deep zooms need --x64", flush=True)

    def report(k: int, frame) -> None:
        d = frame.dimension.dimension
        window = " × ".join(f"{a.name} {'10^' if a.scale == 'log' else ''}[{c - w / 2:.10g}, {c + w / 2:.10g}]"
                            for a, c, w in zip(axes, frame.center, frame.width))
        print(f"frame {k + 1}/{args.frames}: {window} | boundary dimension {d:.3f} | run {frame.run_s:.2f} s"
              f"{f' (compile {frame.compile_s:.2f} s)' if k == 0 else ''}", flush=True)

    try:
        result = zooming.zoom(experiment, frames=args.frames, factor=args.factor, at=at, resolution=args.resolution,
                            steps=args.steps, precision=precision, border=args.border, seed=args.seed,
                            max_memory=max_memory, report=report)
    except UserError as err:
        raise UserError(f"{where(path, err)}: {err}" if err.__cause__ is not None else str(err)) from None
    folder = result.save(out)
    written = page.write(out)
    print(f"median boundary dimension {result.median_dimension:.3f} over {len(result.frames)} frames; wrote {folder}/"
          f" (frames/, zoom.gif, strip.png, dimension.png, {zooming.ZOOM_JSON}) and {written}")
    return 0


def cmd_new(args) -> int:
    """Write `experiments/NAME.py` from the template: a small experiment that runs as-is."""
    name = args.name
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UserError(f"{name!r} is not a valid experiment name: use letters, digits and _, not starting with a digit")
    path = Path("experiments") / f"{name}.py"
    if path.exists():
        raise UserError(f"{path} already exists: edit it, or pick another name")
    text = string.Template(TEMPLATE.read_text()).substitute(name=name)
    path.parent.mkdir(exist_ok=True)
    with open(path, "x") as f:  # "x": never overwrite, even if the file appeared meanwhile
        f.write(text)
    print(f"wrote {path}: edit the loss, the start, the optimizer and the grid, then run\n"
          f"  python -m edujax sweep {path} --out results")
    return 0


def cmd_plot(args) -> int:
    for directory in map(Path, args.dirs):
        targets = [directory] if (directory / SUMMARY).is_file() else sorted(p.parent for p in directory.glob(f"*/{SUMMARY}"))
        if not targets:
            raise UserError(f"{directory}: no saved sweep here (no {SUMMARY})")
        for target in targets:
            result = SweepResult.load(target)
            experiment = registry.available().get(result.experiment)
            experiment = registry.load_file(experiment) if experiment else None
            with atomic_dir(target) as tmp:
                result.save(tmp, plots.render(result, tmp, experiment))
            print(f"redrew {target}")
        if directory not in targets:
            plots.write_index(directory)
            page.write(directory)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="edujax", description="Sweep optimization experiments and draw what happened.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", help="list the experiments").set_defaults(run=cmd_list)
    run = sub.add_parser("sweep", help="run experiments and write results",
                         description=f"Outcomes: {', '.join(OUTCOMES)}.")
    run.add_argument("experiments", nargs="*", metavar="NAME", help="experiment names or .py paths (default: all default experiments)")
    run.add_argument("--steps", type=int, help="training steps per setting (default: the experiment's)")
    run.add_argument("--grid", action="append", default=[], metavar="AXIS=START:STOP:NUM",
                     help="replace (or add) a grid axis; repeatable")
    run.add_argument("--out", default="results", help="results folder (default: results)")
    run.add_argument("--seed", type=int, default=0, help="base PRNG seed (default: 0)")
    run.add_argument("--chunk-size", type=positive, help="run this many settings at once (default: as many as fit --max-memory)")
    run.add_argument("--max-memory", metavar="SIZE", help="memory budget per device, e.g. 2GB (default: half an "
                     "accelerator's memory, or a quarter of the RAM on CPU)")
    run.add_argument("--distributed", action="store_true",
                     help="multi-host: call jax.distributed.initialize() and split the grid over every host's devices")
    run.set_defaults(run=cmd_sweep)
    zoom = sub.add_parser("zoom", help="magnify the boundary between training and blowing up, frame by frame",
                          description="Each frame sweeps the same grid over a window --factor times narrower, "
                                      "centred on the boundary (or on --at), and measures the boundary's dimension.")
    zoom.add_argument("experiment", metavar="EXPERIMENT", help="experiment name or .py path")
    zoom.add_argument("--at", action="append", default=[], metavar="NAME=VALUE",
                      help="zoom around this value of a magnified axis (else follow the boundary), or fix any other "
                           "hyperparameter (a choice by name); repeatable")
    zoom.add_argument("--frames", type=positive, default=8, help="number of frames (default: 8)")
    zoom.add_argument("--factor", type=float, default=4.0, help="magnification per frame (default: 4)")
    zoom.add_argument("--resolution", type=positive, help="cells per axis (default: the experiment's grid)")
    zoom.add_argument("--steps", type=int, help="training steps per setting (default: the experiment's)")
    zoom.add_argument("--x64", action="store_true", help="compute in float64 (needed for deep zooms)")
    zoom.add_argument("--border", choices=fractal.BORDERS, default="measure",
                      help="the border to follow and measure: where the loss stops falling (measure, default) "
                           "or where the loss starts to blow up to inf/NaN (blowup)")
    zoom.add_argument("--out", default="results", help="the zoom goes into OUT/EXPERIMENT-zoom-... (default: results)")
    zoom.add_argument("--seed", type=int, default=0, help="base PRNG seed (default: 0)")
    zoom.add_argument("--max-memory", metavar="SIZE", help="memory budget per device, e.g. 2GB")
    zoom.set_defaults(run=cmd_zoom)
    plot = sub.add_parser("plot", help="redraw figures from saved results")
    plot.add_argument("dirs", nargs="+", metavar="DIR")
    plot.set_defaults(run=cmd_plot)
    new = sub.add_parser("new", help="write experiments/NAME.py from a template that runs as-is")
    new.add_argument("name", metavar="NAME", help="the experiment's name (a Python identifier)")
    new.set_defaults(run=cmd_new)
    return parser


def entry() -> None:
    """The `edujax` command (and `python -m edujax`): every CPU core, then `main`."""
    devices.use_every_cpu_core()
    sys.exit(main())


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except UserError as err:
        print(f"edujax: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edujax: interrupted; results written so far are complete, nothing else was touched", file=sys.stderr)
        return 130
