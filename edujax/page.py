"""`results/index.html`: one self-contained page to read every saved sweep.

The page opens from `file://` with no server and no network: the plotting
library (uPlot, vendored in `edujax/static/`), the page's own script and
every number it draws are inlined. Each experiment gets an interactive outcome
map (hover a cell: its hyperparameters and outcome; click: its loss curve),
its explanation, outcome counts and the run's settings.

To stay small with 256 × 256 grids the arrays are packed: outcome codes as one
byte per cell, loss curves only for a sub-grid of at most `CURVE_CELLS` runs,
each curve as log10(loss − global min) quantised to one byte between that
curve's own lowest and highest value; every blob is zlib-compressed and
base64-encoded, and the browser inflates it with `DecompressionStream`.
"""
from __future__ import annotations

import base64
import html
import json
import zlib
from pathlib import Path

import numpy as np

from edujax import maps
from edujax.grid import spread_indices
from edujax.outcomes import COLORS
from edujax.result import SUMMARY, SweepResult, atomic_write, saved

PAGE = "index.html"
STATIC = Path(__file__).resolve().parent / "static"
#: At most this many runs of an experiment keep their loss curve on the page.
CURVE_CELLS = 4096
#: Curve bytes: 0..LEVELS map onto a curve's [lowest, highest] log10 gap; NONFINITE marks NaN/inf.
LEVELS, NONFINITE = 254, 255

MEANINGS = {
    "converged": "reached the global minimum (all but a tiny share of its starting gap) and stayed there",
    "slow": "still improving when the steps ran out (steadily, or with swings that shrink)",
    "oscillating": "bounded, but its swings are not shrinking",
    "diverged": "the loss blew up: it became infinite or NaN, or was still growing to new highs at the end",
    "local_min": "settled at a stationary point above the global minimum (its gradient vanished)",
    "stalled": "stopped moving above the global minimum although its gradient did not vanish: a float32 freeze,"
               " a plateau, a saturated GAN",
}


def pack(array: np.ndarray) -> str:
    """Bytes of `array`, zlib-compressed, as base64 text."""
    return base64.b64encode(zlib.compress(np.ascontiguousarray(array).tobytes(), 9)).decode()


def curve_subgrid(shape: tuple[int, ...], budget: int = CURVE_CELLS) -> list[np.ndarray]:
    """Evenly spread indices along each dimension, at most `budget` cells in all (`edujax.grid.spread_indices`)."""
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
            values = [maps.boundary_values(result, boundary, drawn, {faceted[0]: f} if faceted else {}) for f in facet_values]
            boundaries.append({"label": boundary["label"], "axis": names.index(boundary["axis"]),
                               "values": [_short(v) if np.ndim(v) else _short(v)[0] for v in values]})
    within = curve_subgrid(result.loss.shape[:-1])  # positions inside the traced sub-grid
    sampled = [index[w] for index, w in zip(result.trace_index, within)]  # grid indices
    loss = result.loss[np.ix_(*within)].reshape(-1, result.loss.shape[-1])
    codes, ranges = quantise_curves(loss, result.info["global_min"])
    return {
        "name": result.experiment,
        "shape": list(result.outcome.shape),
        "axes": axes,
        "drawn": drawn, "faceted": faceted, "aggregated": aggregated,
        "majority": pack(to_page[maps.majority(result.outcome, tuple(aggregated))]),
        "outcome": pack(to_page[result.outcome]) if aggregated else None,
        "boundaries": boundaries,
        "curves": {"sampled": [s.tolist() for s in sampled], "steps": result.record_steps.tolist(),
                   "codes": pack(codes), "ranges": pack(ranges)},
        "steps": result.steps,
        "global_min_known": bool(result.info.get("global_min_known", True)),
    }


def _short(values) -> list[float | None]:
    """Floats with 7 significant digits (float32 precision), for short JSON; None (null) where not finite."""
    return [float(f"{v:.7g}") if np.isfinite(v) else None for v in np.asarray(values, np.float64).ravel()]


def _paragraphs(text: str) -> str:
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in text.strip().split("\n\n")]
    return "".join(f"<p>{html.escape(b)}</p>" for b in blocks if b)


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
            parts.append(f"{axis['label']} ({axis['size']} values, {axis['scale']}, {axis['min']:.3g} … {axis['max']:.3g})")
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
    if data["boundaries"]:
        how += " Black lines are the theoretical limits named in the legend."
    f_star = f"{summary['global_min']:.6g}" + ("" if summary.get("global_min_known", True) else " (lowest loss any run reached)")
    criteria = ", ".join(f"{k} = {v:g}" for k, v in summary.get("criteria", {}).items())
    settings = [
        ("grid", f"{_grid_sentence(summary)} = {total:,} runs"), ("steps per run", f"{summary['steps']:,}"),
        ("global minimum f*", f_star), ("classifier thresholds", criteria), ("base seed", summary.get("seed", "")),
        ("jax", summary.get("jax_version", "")),
    ]  # the device and timings are in each folder's run.json: the page is the same bytes whenever the results are
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in settings)
    figures = "".join(f'<li><a href="{e(name)}/{e(f)}">{e(f)}</a>: {e(t)}</li>' for f, t in summary.get("figures", {}).items())
    about = summary.get("about") or summary.get("description", "")
    return f"""
<section id="exp-{e(name)}" class="experiment">
  <h2>{e(name)}</h2>
  <p class="description">{e(summary.get("description", ""))}</p>
  <details class="about" open><summary>What this experiment is</summary>{_paragraphs(about)}</details>
  <p class="how">{how} <b>Hover</b> a cell for its hyperparameters and outcome; <b>click</b> it for its loss curve.</p>
  <div class="figure">
    <div class="map"><div class="facet"></div><div class="heatmap"></div><div class="legend"></div></div>
    <div class="curve"><p class="hint">Click a cell of the map to see its loss curve here.</p></div>
  </div>
  <div class="tables">
    <table class="counts"><caption>Outcomes</caption>{counts}</table>
    <table class="settings"><caption>Settings of this run</caption>{rows}</table>
  </div>
  {f'<div class="figures">Figures (files beside this page): <ul>{figures}</ul></div>' if figures else ""}
</section>"""


def write(results_dir: Path) -> Path:
    """Write `results_dir/index.html` from every `*/summary.json` + `sweep.npz` below it."""
    results_dir = Path(results_dir)
    sections, experiments = [], []
    paths = [folder / SUMMARY for folder in saved(results_dir)]  # committed results without arrays: not yet
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
    payload = {"outcomes": outcomes, "colors": colors, "levels": LEVELS, "nonfinite": NONFINITE, "experiments": experiments}
    meanings = "".join(f'<li><span class="chip" style="background:{colors[o]}"></span><b>{o}</b>: '
                       f'{html.escape(MEANINGS.get(o, "an outcome of its own, defined by the experiment that uses it (see below)"))}</li>'
                       for o in outcomes)
    toc = "".join(f'<a href="#exp-{html.escape(d["dir"])}">{html.escape(d["dir"])}</a>' for d in experiments)
    payload_json = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")  # no "</script>" inside the script
    library = f"/* uPlot, vendored from its npm package.\n{(STATIC / 'uPlot.LICENSE').read_text()} */\n{(STATIC / 'uPlot.iife.min.js').read_text()}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="edujax"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>edujax results</title>
<style>{(STATIC / "uPlot.min.css").read_text()}</style>
<style>{(STATIC / "page.css").read_text()}</style>
</head><body>
<header><h1>edujax results</h1>
<p>Every experiment below swept a grid of hyperparameters: each cell of a map is one complete training run,
coloured by what happened to it. Written by <code>make sweep</code>; redraw with <code>.venv/bin/edujax plot results</code>.</p>
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
