"""Command line: `python -m edujax list | sweep | plot | compare | new`.

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

from edujax import devices, page, plots, registry
from edujax import grid as axes
from edujax.errors import Parser, UserError, positive
from edujax.comparison import compare
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


def cmd_sweep(args) -> int:
    if args.steps is not None:
        check_steps(args.steps)
    max_memory = devices.parse_bytes(args.max_memory) if args.max_memory is not None else None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
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


def cmd_compare(args) -> int:
    comparison = compare(args.a, args.b)
    out = comparison.write(args.out)
    changes = "; ".join(f"{c['from']} → {c['to']} {c['runs']:,}" for c in comparison.table()) or "no run changed outcome"
    print(f"{comparison.title()}: {changes}\nwrote {out / 'compare.png'} and {out / 'comparison.json'}")
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
    plot = sub.add_parser("plot", help="redraw figures from saved results")
    plot.add_argument("dirs", nargs="+", metavar="DIR")
    plot.set_defaults(run=cmd_plot)
    diff = sub.add_parser("compare", help="where two sweeps of the same grid differ: a map and a table of changes")
    diff.add_argument("a", metavar="A", help="a result folder (e.g. results/quadratic)")
    diff.add_argument("b", metavar="B", help="another result folder of the same grid")
    diff.add_argument("--out", required=True, help="folder to write compare.png and comparison.json into (new, or an earlier comparison)")
    diff.set_defaults(run=cmd_compare)
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
