"""Command line: `edujax list | sweep | zoom | lrfind | plot | compare | new` (also `python -m edujax …`).

Argument parsing and printing around one library call each (the pipeline is
`edujax.app.pipeline`). Every user mistake is a `UserError`: one line on stderr,
exit status 2, and nothing under `--out` touched.
"""
from __future__ import annotations

import argparse
import functools
import sys

from edujax.app import compare as comparing
from edujax.app import pipeline, registry
from edujax.core import fractal
from edujax.core.errors import UserError
from edujax.core.outcomes import OUTCOMES
from edujax.runner import devices
from edujax.store.comparison import compare
from edujax.store.zoom import ZOOM_JSON

say = functools.partial(print, flush=True)
NO_CACHE = ("compile from scratch: keep JAX's persistent compilation cache (~/.cache/edujax/jax, or "
            "$XDG_CACHE_HOME/edujax/jax) off, as EDUJAX_CACHE=off does")


def cmd_list(args) -> int:
    for name, path in registry.available().items():
        try:
            experiment = registry.load_file(path)
        except UserError as err:
            say(f"{name:24s} (broken) {err}")
            continue
        note = "" if experiment.default else " (not in the default sweep)"
        say(f"{name:24s} {experiment.grid!r:48s} {experiment.description}{note}")
    return 0


def cmd_sweep(args) -> int:
    if args.distributed or args.coordinator_address or args.num_processes is not None or args.process_id is not None:
        devices.connect(args.coordinator_address, args.num_processes, args.process_id)  # before anything uses JAX
    pipeline.run_all(args.experiments, args.out, axes=args.grid, steps=args.steps, seed=args.seed,
                     precision="float64" if args.x64 else None, records=args.records, chunk_size=args.chunk_size,
                     max_memory=args.max_memory, max_host_memory=args.max_host_memory,
                     progress=sys.stderr.isatty(), log=say, cache=not args.no_cache)
    return 0


def parse_at(spec: str) -> tuple[str, str]:
    """`NAME=VALUE` of `--at`."""
    name, sep, value = spec.partition("=")
    if not sep or not name or not value:
        raise UserError(f"--at {spec!r}: expected NAME=VALUE, e.g. nonlinearity=tanh or input_lr=10")
    return name, value


def cmd_zoom(args) -> int:
    at = dict(parse_at(spec) for spec in args.at)
    precision = "float64" if args.x64 else "float32"

    def report(k: int, frame, axes) -> None:
        window = " × ".join(f"{a.name} {'10^' if a.scale == 'log' else ''}[{c - w / 2:.10g}, {c + w / 2:.10g}]"
                            for a, c, w in zip(axes, frame.center, frame.width))
        say(f"frame {k + 1}/{args.frames}: {window} | boundary dimension {frame.dimension.dimension:.3f} | "
            f"run {frame.run_s:.2f} s{f' (compile {frame.compile_s:.2f} s)' if k == 0 else ''}")

    result = pipeline.zoom(args.experiment, args.out, frames=args.frames, factor=args.factor, at=at,
                           resolution=args.resolution, steps=args.steps, precision=precision, border=args.border,
                           seed=args.seed, max_memory=args.max_memory, report=report, log=say,
                           cache=not args.no_cache)
    say(f"median boundary dimension {result.median_dimension:.3f} over {len(result.frames)} frames; wrote "
        f"{args.out}/{result.name}/ (frames/, zoom.gif, strip.png, dimension.png, {ZOOM_JSON}) and the page")
    return 0


def cmd_lrfind(args) -> int:
    at = dict(parse_at(spec) for spec in args.at)
    say(pipeline.lrfind(args.experiment, args.out, at=at, seed=args.seed, log=say).to_text())
    return 0


def cmd_plot(args) -> int:
    for directory in args.dirs:
        pipeline.redraw(directory, log=say)
    return 0


def cmd_new(args) -> int:
    path = registry.new(args.name)
    say(f"wrote {path}: edit the loss, the start, the optimizer and the grid, then run\n"
        f"  .venv/bin/edujax sweep {path} --out results\n"
        f"`make sweep` leaves it out until you move it into experiments/.")
    return 0


def cmd_compare(args) -> int:
    comparison = compare(args.a, args.b)
    out = comparing.write(comparison, args.out)
    changes = ("; ".join(f"{c['from']} → {c['to']} {c['runs']:,}" for c in comparison.table())
               or "no run changed outcome")
    print(f"{comparison.title()}: {changes}\nwrote {out / 'compare.png'} and {out / 'comparison.json'}")
    return 0


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are `UserError`s (one line, exit 2), not usage dumps.

    An option's value may start with "-" (`--max-memory -5GB` reaches the
    option's own check, which says what is wrong with it; argparse alone would
    take "-5GB" for another option and say "expected one argument").
    """

    def error(self, message):
        raise UserError(message)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self._attach_values(args), namespace)

    def _attach_values(self, args: list[str]) -> list[str]:
        """`--option -value` -> `--option=-value` for this parser's options that take one value."""
        takes_one = {o for a in self._actions if a.nargs is None and a.option_strings for o in a.option_strings}
        known = set(self._option_string_actions)
        out, i = [], 0
        while i < len(args):
            if args[i] == "--":
                return out + args[i:]
            nxt = args[i + 1] if i + 1 < len(args) else None
            if args[i] in takes_one and nxt and nxt.startswith("-") and nxt != "--" and nxt.split("=")[0] not in known:
                out.append(f"{args[i]}={nxt}")
                i += 2
            else:
                out.append(args[i])
                i += 1
        return out


def positive(text: str) -> int:
    """An argparse type: a whole number ≥ 1 (`Parser` reports anything else as one line)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="edujax", description="Sweep optimization experiments and draw what happened.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", help="list the experiments").set_defaults(run=cmd_list)
    run = sub.add_parser("sweep", help="run experiments and write results",
                         description=f"Outcomes: {', '.join(OUTCOMES)}.")
    run.add_argument("experiments", nargs="*", metavar="NAME",
                     help="experiment names or .py paths (default: every default experiment in experiments/)")
    run.add_argument("--steps", type=int, help="training steps per setting (default: the experiment's)")
    run.add_argument("--grid", action="append", default=[], metavar="AXIS=START:STOP:NUM",
                     help="replace (or add) a grid axis; repeatable")
    run.add_argument("--out", default="results", help="results folder (default: results)")
    run.add_argument("--seed", type=int, default=0, help="base PRNG seed (default: 0)")
    run.add_argument("--x64", action="store_true", help="run in float64 (default: the experiment's precision)")
    run.add_argument("--records", type=positive,
                     help="record points per run (default: the experiment's, 25 unless it says)")
    run.add_argument("--chunk-size", type=positive,
                     help="run this many settings at once (default: as many as fit --max-memory)")
    run.add_argument("--max-memory", metavar="SIZE",
                     help="memory budget per device, e.g. 2GB (default: half an accelerator's memory, or a quarter of "
                          "the RAM on CPU)")
    run.add_argument("--max-host-memory", metavar="SIZE",
                     help="memory budget for the results on the host, e.g. 8GB (default: half the available RAM)")
    run.add_argument("--distributed", action="store_true",
                     help="one of several processes (hosts) sweeping together: jax.distributed.initialize(); on a TPU "
                          "slice or in a SLURM/Open MPI job JAX finds the others itself")
    run.add_argument("--coordinator-address", metavar="HOST:PORT", help="process 0's address (implies --distributed)")
    run.add_argument("--num-processes", type=positive, metavar="N", help="how many processes (implies --distributed)")
    run.add_argument("--process-id", type=int, metavar="I",
                     help="this process's index, 0 … N-1 (implies --distributed)")
    run.add_argument("--no-cache", action="store_true", help=NO_CACHE)
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
    zoom.add_argument("--no-cache", action="store_true", help=NO_CACHE)
    zoom.set_defaults(run=cmd_zoom)
    find = sub.add_parser("lrfind", help="the LR range test (fastai's defaults) held against the sweep's truth",
                          description="Runs the learning-rate range test (100 steps from 1e-7 to 10, one run per seed) "
                                      "and tabulates where its suggestions fall: in the converged band or not, and how "
                                      "many times the fastest setting's steps-to-target they need.")
    find.add_argument("experiment", metavar="NAME", help="experiment name or .py path (it needs a learning_rate axis)")
    find.add_argument("--out", default="results",
                      help="where the sweep's result is read from, or written to when missing (default: results)")
    find.add_argument("--at", action="append", default=[], metavar="NAME=VALUE",
                      help="another axis's value for the finder (default: its middle value, a choice's first); "
                           "repeatable")
    find.add_argument("--seed", type=int, default=0, help="base PRNG seed (default: 0)")
    find.set_defaults(run=cmd_lrfind)
    plot = sub.add_parser("plot", help="redraw figures and the page from saved results")
    plot.add_argument("dirs", nargs="+", metavar="DIR", help="a results folder, or one result's folder")
    plot.set_defaults(run=cmd_plot)
    diff = sub.add_parser("compare", help="where two sweeps of the same grid differ: a map and a table of changes")
    diff.add_argument("a", metavar="A", help="a result folder (e.g. results/quadratic)")
    diff.add_argument("b", metavar="B", help="another result folder of the same grid")
    diff.add_argument("--out", required=True,
                      help="folder to write compare.png and comparison.json into (new, or an earlier comparison)")
    diff.set_defaults(run=cmd_compare)
    new = sub.add_parser("new", help=f"write {registry.SCRATCH}/NAME.py from a template that runs as-is")
    new.add_argument("name", metavar="NAME", help="the experiment's name (a Python identifier)")
    new.set_defaults(run=cmd_new)
    return parser


def entry() -> None:
    """The `edujax` command (and `python -m edujax`)."""
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
