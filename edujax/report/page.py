"""`results/index.html`: one self-contained page to read every saved sweep.

The page opens from `file://` with no server and no network: the plotting
library (uPlot, vendored in `edujax/static/`), the page's own script and
every number it draws are inlined; only the experiments' own figures (PNGs,
GIFs) are files beside it, shown inline and loaded lazily. Each experiment
gets an interactive map (hover a cell: its hyperparameters, outcome and
continuous measure; click: its loss curve; a switch flips the map between
the outcome colours and the measure), its explanation (the module docstring,
rendered as Markdown), outcome counts, its figures and the run's settings.
Experiments appear in the order `write(..., order_by=...)` is given (the
pipeline passes the story a learner follows, `edujax.app.registry.STORY`),
others after them by name. Comparisons
written by `python -m edujax compare` into the same folder get a section too.

Page-size budget: at most about 250 KB of data per experiment (measured:
210–240 KB for a 65,536-run grid, three quarters of it loss curves), so the
eighteen default experiments make a page of about 3.5 MB (a test holds one
65,536-run experiment under 500 KB). Per experiment the page keeps

- the outcome of every cell (1 byte per cell), and the continuous measure of
  every cell (its median over aggregated axes, int16 centi-decades);
- record-point loss curves (R + 1 points, one byte each) for a sub-grid of at
  most `CURVE_CELLS` runs (of those the sweep traced, `result.trace_index`):
  every run of grids up to that size, about 121 × 135 of a 256 × 256 grid, so
  a click shows the clicked run's own curve or, failing that, a neighbour a
  cell away (the caption says which);
- the every-step curves of the representative runs (`result.examples`),
  thinned to at most `PAGE_EXAMPLE_POINTS` points: a click on one of them shows
  its own curve at that resolution.

Curves are stored as log10(loss − global min), quantised to one byte between
that curve's own lowest and highest value (kept as two int16 blocks, every
curve's lowest value, then every highest: half the compressed size of
interleaved pairs); every blob is zlib-compressed and base64-encoded, and the
browser inflates it with `DecompressionStream`.
"""
from __future__ import annotations

import base64
import html
import json
import warnings
import zlib
from pathlib import Path

import numpy as np
from markdown_it import MarkdownIt

from edujax.core.errors import UserError
from edujax.core.grid import spread_indices
from edujax.core.outcomes import COLORS, OUTCOME_MEANINGS
from edujax.report import maps
from edujax.store import comparison
from edujax.store.files import SUMMARY, atomic_write
from edujax.store.recommend import describe
from edujax.store.result import SweepResult, saved
from edujax.store.verdict import line as lrfind_line
from edujax.store.zoom import ZOOM_JSON

PAGE = "index.html"
STATIC = Path(__file__).resolve().parent.parent / "static"
#: At most this many runs of an experiment keep their record-point loss curve on the page.
CURVE_CELLS = 16384
#: The representative runs' every-step curves keep at most this many points on the page (the last one always).
PAGE_EXAMPLE_POINTS = 500
#: Curve bytes: 0..LEVELS map onto a curve's [lowest, highest] log10 gap; NONFINITE marks NaN/inf.
LEVELS, NONFINITE = 254, 255
#: The measure, in int16 hundredths (of a decade); MISSING marks a run without one.
MISSING = -(2**15)
#: How edujax recognises an index.html it wrote: the generator tag, or the title earlier pages began with.
MARKS = ('<meta name="generator" content="edujax">', "<title>edujax results</title>")
#: Figures the page draws itself (interactively), so it does not show their PNGs.
DRAWN_ON_PAGE = ("heatmap.png", "measure.png")
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")  # raw HTML in a docstring is shown as text



def pack(array: np.ndarray) -> str:
    """Bytes of `array`, zlib-compressed, as base64 text."""
    return base64.b64encode(zlib.compress(np.ascontiguousarray(array).tobytes(), 9)).decode()


def curve_subgrid(shape: tuple[int, ...], budget: int = CURVE_CELLS) -> list[np.ndarray]:
    """Evenly spread indices along each dimension, at most `budget` cells in all (`edujax.core.grid.spread_indices`)."""
    return spread_indices(shape, budget)


def quantise_curves(loss: np.ndarray, global_min: float) -> tuple[np.ndarray, np.ndarray]:
    """(curves, R + 1) losses -> uint8 codes and int16 [low, high] in centi-decades per curve.

    Code q stands for the gap 10 ** ((low + q / LEVELS · (high − low)) / 100); the
    error is at most half a level: (high − low) / (200 · LEVELS) decades.
    """
    logs = np.log10(maps.loss_gap(loss, global_min))
    finite = np.isfinite(logs)
    with np.errstate(invalid="ignore"):
        low = np.floor(np.where(finite, logs, np.inf).min(-1) * 100)
        high = np.ceil(np.where(finite, logs, -np.inf).max(-1) * 100)
    empty = ~finite.any(-1)
    low[empty], high[empty] = 0, 0
    span = np.where(high > low, high - low, 1.0)
    codes = np.round((logs * 100 - low[:, None]) / span[:, None] * LEVELS)
    codes = np.where(finite, np.clip(codes, 0, LEVELS), NONFINITE).astype(np.uint8)
    return codes, np.stack([low, high], -1).astype("<i2")


def pack_curves(loss: np.ndarray, global_min: float) -> dict[str, str]:
    """(curves, points) losses -> the page's blobs: one code per point, then the lowest values, the highest values."""
    codes, ranges = quantise_curves(loss, global_min)
    return {"codes": pack(codes), "ranges": pack(ranges.T)}


def thin(steps: np.ndarray, most: int = PAGE_EXAMPLE_POINTS) -> np.ndarray:
    """Indices of at most `most` evenly spread entries of `steps`, first and last included."""
    return np.unique(np.linspace(0, len(steps) - 1, min(most, len(steps))).round().astype(np.int64))


def quantise_measure(measure: np.ndarray) -> np.ndarray:
    """Measure values -> int16 hundredths, clipped to ±327; MISSING where not finite."""
    with np.errstate(invalid="ignore"):
        hundredths = np.round(np.clip(np.asarray(measure, np.float64), -327, 327) * 100)
    return np.where(np.isfinite(hundredths), hundredths, MISSING).astype("<i2")


def order(names, story=()) -> list:
    """`names` in story order: those in `story` first, as there, then the rest by name."""
    rank = {name: i for i, name in enumerate(story)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def decode_curves(codes: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """The inverse of `quantise_curves` (what the page's script computes): gaps, NaN where non-finite."""
    low, high = ranges[:, :1] / 100, ranges[:, 1:] / 100
    gaps = 10 ** (low + codes / LEVELS * (high - low))
    return np.where(codes == NONFINITE, np.nan, gaps)


def experiment_data(result: SweepResult, outcomes: list[str]) -> dict:
    """Everything the page's script needs about one saved sweep (JSON-friendly).

    Outcome codes are renumbered into the page-wide list `outcomes`, which
    also holds the outcomes some experiments add (e.g. mode collapse).
    """
    to_page = np.asarray([outcomes.index(name) for name in result.outcome_names], np.uint8)
    drawn, faceted, aggregated = maps.layout(result)
    axes = []
    for i, axis in enumerate(result.axes):
        entry = {"name": axis.name, "title": axis.title, "scale": axis.scale, "size": len(axis),
                 "labels": [axis.value_label(k) for k in range(len(axis))]}
        if i in drawn:  # plot geometry, from the same rules as the PNG heatmap
            centres, cell_edges = maps.edges(axis)
            entry.update(centres=_short(centres), edges=_short(cell_edges))
        axes.append(entry)
    boundaries = []
    names = [result.axes[i].name for i in drawn]
    facet_values = range(len(result.axes[faceted[0]])) if faceted else [None]
    for boundary in result.boundaries:
        if boundary["axis"] in names:
            values = [maps.boundary_values(result, boundary, drawn, {faceted[0]: f} if faceted else {})
                      for f in facet_values]
            boundaries.append({"label": boundary["label"], "axis": names.index(boundary["axis"]),
                               "values": [_short(v) if np.ndim(v) else _short(v)[0] for v in values]})
    within = curve_subgrid(result.loss.shape[:-1])  # positions inside the traced sub-grid
    sampled = [index[w] for index, w in zip(result.trace_index, within)]  # grid indices
    f_star = result.info["global_min"]
    loss = result.loss[np.ix_(*within)].reshape(-1, result.loss.shape[-1])
    examples = None
    if len(result.examples.get("index", ())) and "loss" in result.examples:
        steps = np.asarray(result.examples.get("step", np.arange(result.examples["loss"].shape[-1])))
        keep = thin(steps)
        examples = {"index": result.examples["index"].tolist(), "steps": steps[keep].tolist(),
                    **pack_curves(result.examples["loss"][:, keep], f_star)}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells stay NaN
        median = np.nanmedian(result.measure, axis=tuple(aggregated)) if aggregated else result.measure
    low, high = maps.measure_range(median)  # the colour scale of measure.png
    measure = {"values": pack(quantise_measure(median)), "low": low, "high": high}
    return {
        **_answers(result, outcomes, to_page, aggregated),
        "name": result.experiment,
        "shape": list(result.outcome.shape),
        "axes": axes,
        "drawn": drawn, "faceted": faceted, "aggregated": aggregated,
        "majority": pack(to_page[maps.majority(result.outcome, tuple(aggregated))]),
        "outcome": pack(to_page[result.outcome]) if aggregated else None,
        "boundaries": boundaries,
        "curves": {"sampled": [s.tolist() for s in sampled], "steps": result.record_steps.tolist(),
                   **pack_curves(loss, f_star)},
        "examples": examples,
        "measure": measure,
        "steps": result.steps,
        "global_min_known": bool(result.info.get("global_min_known", True)),
    }


def _answers(result: SweepResult, outcomes: list[str], to_page: np.ndarray, aggregated: list[int]) -> dict:
    """What the page adds from `edujax.store.probability`: `probability` (with a seed axis: the page code of
    `converged`, whose share and Wilson interval the tooltip and the P view compute from the tally), and
    `line` (a 1-D sweep: outcome shares and the measure's median, min and max along its axis, per choice panel)."""
    from edujax.store import probability

    seeded = any(result.axes[d].scale == "seed" for d in aggregated)
    answers = {"probability": {"outcome": outcomes.index("converged")}
               if seeded and "converged" in result.outcome_names else None, "line": None}
    x = probability.line_axis(result)
    if x is not None:
        panels = []
        for panel in probability.line_panels(result):
            shares = np.zeros((len(outcomes), len(result.axes[x])))
            shares[to_page] = panel["shares"]
            panels.append({"title": panel["title"], "runs": panel["runs"],
                           "shares": [_short(row) if row.any() else None for row in shares],
                           **{k: _short(panel[k]) for k in ("median", "low", "high")}})
        answers["line"] = {"axis": x, "centres": _short(maps.edges(result.axes[x])[0]), "panels": panels}
    return answers


def _short(values) -> list[float | None]:
    """Floats with 7 significant digits (float32 precision), for short JSON; None (null) where not finite."""
    return [float(f"{v:.7g}") if np.isfinite(v) else None for v in np.asarray(values, np.float64).ravel()]


def _grid_sentence(summary: dict) -> str:
    parts = []
    for axis in summary["grid"]:
        if axis["scale"] == "seed":
            parts.append(f"{axis['size']} initialisation seeds")
        elif axis["scale"] == "choice":
            parts.append(f"{axis['label']} ({', '.join(axis['choices'])})")
        elif axis["scale"] == "points":
            parts.append(f"{axis['size']} {axis['label']} points ({', '.join(axis['columns'])})")
        else:
            parts.append(f"{axis['label']} ({axis['size']} values, {axis['scale']}, "
                         f"{axis['min']:.3g} … {axis['max']:.3g})")
    return " × ".join(parts)


def _section(name: str, summary: dict, data: dict, colors: dict[str, str]) -> str:
    e = html.escape
    total = summary["settings"]
    counts = "".join(
        f'<tr><td><span class="chip" style="background:{colors[o]}"></span>{e(o)}</td>'
        f"<td>{n:,}</td><td>{n / total:.1%}</td></tr>" for o, n in summary["outcomes"].items() if n)
    drawn = [data["axes"][i]["title"] for i in data["drawn"]]
    how = (f"Each cell is one training run: {e(' across, '.join(drawn))}{' up' if len(drawn) > 1 else ''}; "
           f"its colour is the outcome after {summary['steps']} steps.")
    if data["faceted"]:
        how += f" The slider picks the value of {e(data['axes'][data['faceted'][0]]['title'])}."
    if data["aggregated"]:
        agg = ", ".join(data["axes"][i]["title"] for i in data["aggregated"])
        how += f" Each cell shows the most common outcome over {e(agg)}; hovering shows the tally."
    if data.get("probability"):
        how += (" With seeds, the switch's P(converged) colours each cell by the share of its runs that converged;"
                " hovering shows that share with its 95 % Wilson interval.")
    if data.get("line"):
        how += (" A sweep along one axis: below the map, the share of each outcome and the measure (median, band:"
                " min to max over the runs) against it.")
    if data["boundaries"]:
        how += " Black lines are the theoretical limits named in the legend."
    f_star = f"{summary['global_min']:.6g}" + (
        "" if summary.get("global_min_known", True) else " (lowest loss any run reached)")
    criteria = ", ".join(f"{k} = {v:g}" for k, v in summary.get("criteria", {}).items())
    settings = [
        ("grid", f"{_grid_sentence(summary)} = {total:,} runs"), ("steps per run", f"{summary['steps']:,}"),
        ("global minimum f*", f_star), ("classifier thresholds", criteria), ("base seed", summary.get("seed", "")),
        ("jax", summary.get("jax_version", "")),
    ]  # the device and timings are in each folder's run.json: the page is the same bytes whenever the results are
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in settings)
    about = summary.get("about") or summary.get("description", "")
    measure = ('<div class="view" role="radiogroup" aria-label="what the map shows">'
               f'<label><input type="radio" name="view-{e(name)}" value="outcome" checked> outcomes</label>'
               f'<label><input type="radio" name="view-{e(name)}" value="measure"> measure</label>'
               + (f'<label><input type="radio" name="view-{e(name)}" value="probability"> P(converged)</label>'
                  if data.get("probability") else "") + "</div>"
               if data["measure"] else "")
    hint = (" The switch above the map shows the continuous measure instead: log10(final gap / initial gap),"
            " negative where the run closed that many decades of its gap, positive where it blew up"
            + (" (its median where a cell holds several runs)." if data["aggregated"] else ".")
            if data["measure"] else "")
    return f"""
<section id="exp-{e(name)}" class="experiment">
  <h2>{e(name)}</h2>
  <p class="description">{e(summary.get("description", ""))}</p>{_recommendation(summary)}
  <details class="about" open><summary>What this experiment is</summary>{MARKDOWN.render(about)}</details>
  <p class="how">{how} <b>Hover</b> a cell for its hyperparameters and outcome; \
<b>click</b> it for its loss curve.{hint}</p>
  <div class="figure">
    <div class="map">{measure}<div class="facet"></div><div class="heatmap"></div><div class="legend"></div></div>
    <div class="curve"><p class="hint">Click a cell of the map to see its loss curve here.</p></div>
  </div>
  <div class="lines"></div>
  <div class="tables">
    <table class="counts"><caption>Outcomes</caption>{counts}</table>
    <table class="settings"><caption>Settings of this run</caption>{rows}</table>
  </div>
  {_figures(name, summary.get("figures", {}))}
</section>"""


def _recommendation(summary: dict) -> str:
    """One line per experiment with a learning-rate axis: the recommendation, and where the LR finder lands."""
    e = html.escape
    text = describe(summary.get("recommendation"))
    if not text:
        return ""
    finder = lrfind_line(summary.get("lrfind"))
    finder = f' <span class="lrfind">LR finder: {e(finder)}.</span>' if finder else ""
    return f'\n  <p class="recommendation"><b>Recommended learning rate</b>: {e(text)}.{finder}</p>'




def _zoom_section(name: str, zoom: dict) -> str:
    """A zoom's strip (the PNG beside the page) and its frames' windows and boundary dimensions."""
    e = html.escape
    axis = zoom["axes"][0]
    unit = " decades" if axis["scale"] == "log" else ""
    rows = "".join(f"<tr><td>{i}</td><td>{f['width'][0]:.3g}{unit}</td><td>{f['dimension']:.3f}</td>"
                   f"<td>{f['run_s']:.1f} s</td></tr>" for i, f in enumerate(zoom["frames"]))
    fixed = ", ".join(f"{k} = {v}" for k, v in zoom["fixed"].items())
    return f"""
<section id="zoom-{e(name)}" class="experiment zoom">
  <h2>{e(name)}</h2>
  <p class="description">A zoom into the border of {e(zoom["experiment"])} ({e(fixed)}): \
{len(zoom["frames"])} frames, each
  {zoom["factor"]:g}× narrower on {e(axis["label"])} × {e(zoom["axes"][1]["label"])}, {zoom["steps"]} steps per run in
  {e(zoom["precision"])}; median box-counting dimension of the border {zoom["median_dimension"]:.3f}.</p>
  <p><img src="{e(name)}/strip.png" alt="zoom strip of {e(name)}" style="max-width:100%"></p>
  <table class="counts"><caption>Frames</caption><tr><th>frame</th><th>window on {e(axis["name"])}</th>
  <th>dimension</th><th>run</th></tr>{rows}</table>
</section>"""


def _figures(directory: str, figures: dict[str, str]) -> str:
    """The experiment's own figures inline (images lazily loaded), each with its one-line description."""
    e = html.escape
    items = []
    for file, text in figures.items():
        if file in DRAWN_ON_PAGE:
            continue
        link = f'<a href="{e(directory)}/{e(file)}">{e(file)}</a>'
        if Path(file).suffix.lower() in (".png", ".gif", ".jpg", ".jpeg", ".svg", ".webp"):
            items.append(f'<figure><img loading="lazy" src="{e(directory)}/{e(file)}" alt="{e(text)}">'
                         f"<figcaption>{link}: {e(text)}</figcaption></figure>")
        else:
            items.append(f"<figure><figcaption>{link}: {e(text)}</figcaption></figure>")
    return f'<div class="figures">{"".join(items)}</div>' if items else ""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is damaged ({err.__class__.__name__}: {err}): delete it or write it again") from None


def _comparison(directory: str, summary: dict) -> str:
    """A section for a folder written by `edujax compare`: its map and its table of changes."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(c['from'])}</td><td>{e(c['to'])}</td><td>{c['runs']:,}</td>"
                   f"<td>{c['runs'] / summary['runs']:.1%}</td></tr>" for c in summary["changes"])
    table = (f'<table class="changes"><caption>Changes of outcome</caption><tr><th>from</th><th>to</th><th>runs</th>'
             f"<th>share</th></tr>{rows}</table>" if rows else "<p>No run changed outcome.</p>")
    return f"""
<section id="cmp-{e(directory)}" class="comparison">
  <h2>{e(directory)}: {e(summary["a"])} → {e(summary["b"])}</h2>
  <p class="description">{e(summary["title"])}. Written by <code>python -m edujax compare</code>: \
grey runs kept their outcome,
  the others are drawn in the colour of their outcome in {e(summary["b"])}.</p>
  <div class="figures"><figure>\
<img loading="lazy" src="{e(directory)}/{comparison.MAP}" alt="{e(summary["title"])}"></figure>
  {table}</div>
</section>"""


def write(results_dir: Path, order_by=()) -> Path:
    """Write `results_dir/index.html` from every `*/summary.json` + `sweep.npz` below it.

    Experiments appear in the order of `order_by` (names), then the others by name.
    """
    results_dir = Path(results_dir)
    sections, experiments = [], []
    # committed results without arrays: not yet
    found = {folder.name: folder / SUMMARY for folder in saved(results_dir)}
    paths = [found[name] for name in order(found, order_by)]
    results = [SweepResult.load(path.parent) for path in paths]
    colors = dict(COLORS)
    for result in results:
        colors.update(result.outcome_colors)
    outcomes = list(colors)
    for summary_path, result in zip(paths, results):
        summary = json.loads(summary_path.read_text())
        data = experiment_data(result, outcomes)
        data["dir"] = summary_path.parent.name
        sections.append(_section(summary_path.parent.name, summary, data, colors))
        experiments.append(data)
    zooms = [(path.parent.name, _read_json(path)) for path in sorted(results_dir.glob(f"*/{ZOOM_JSON}"))]
    sections += [_zoom_section(name, zoom) for name, zoom in zooms]
    comparisons = {path.parent.name: _read_json(path) for path in sorted(results_dir.glob(f"*/{comparison.DATA}"))}
    sections += [_comparison(directory, summary) for directory, summary in comparisons.items()]
    payload = {"outcomes": outcomes, "colors": colors, "levels": LEVELS, "nonfinite": NONFINITE, "missing": MISSING,
               "experiments": experiments}
    own_meaning = "an outcome of its own, defined by the experiment that uses it (see below)"
    meanings = "".join(f'<li><span class="chip" style="background:{colors[o]}"></span><b>{o}</b>: '
                       f'{html.escape(OUTCOME_MEANINGS.get(o, own_meaning))}</li>'
                       for o in outcomes)
    toc = "".join(f'<a href="#exp-{html.escape(d["dir"])}">{html.escape(d["dir"])}</a>' for d in experiments)
    toc += "".join(f'<a href="#zoom-{html.escape(name)}">{html.escape(name)}</a>' for name, _ in zooms)
    toc += "".join(f'<a href="#cmp-{html.escape(d)}">{html.escape(d)}</a>' for d in comparisons)
    # no "</script>" inside the script
    payload_json = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    library = (f"/* uPlot, vendored from its npm package.\n{(STATIC / 'uPlot.LICENSE').read_text()} */\n"
               f"{(STATIC / 'uPlot.iife.min.js').read_text()}")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="edujax">\
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edujax results</title>
<style>{(STATIC / "uPlot.min.css").read_text()}</style>
<style>{(STATIC / "page.css").read_text()}</style>
</head><body>
<header><h1>edujax results</h1>
<p>Every experiment below swept a grid of hyperparameters: each cell of a map is one complete training run,
coloured by what happened to it. Written by <code>make sweep</code>; \
redraw with <code>.venv/bin/edujax plot results</code>.</p>
<ul class="meanings">{meanings}</ul>
<nav>{toc}</nav></header>
<main>{"".join(sections) or "<p>No saved sweeps in this folder yet: run <code>make sweep</code>.</p>"}</main>
<script type="application/json" id="edujax-data">{payload_json}</script>
<script>{library}</script>
<script>{(STATIC / "page.js").read_text()}</script>
</body></html>
"""
    path = results_dir / PAGE
    atomic_write(path, lambda f: f.write(page.encode()))
    return path
