"""The set of figures a result gets: the standard ones for its grid's shape, and the experiment's own.

A sweep with one numeric axis (besides seeds and choices) is drawn as curves along that axis
(`edujax.report.plots_answers`), any other as maps (`edujax.report.plots`). The LR finder's figure is drawn
from a finder the application ran (`edujax.runner.lrfind.find`) and its verdict (`edujax.store.verdict`):
drawing never trains.
"""
from __future__ import annotations

from pathlib import Path

from edujax.report import plots, plots_answers
from edujax.store import probability
from edujax.store.result import SweepResult


def figure(result: SweepResult, title: str | None = None):
    """The outcome map as a matplotlib Figure (what Jupyter shows); a 1-D sweep's outcome shares along its axis."""
    if probability.line_axis(result) is not None:
        return plots_answers.shares_figure(result, title)
    return plots.heatmap_figure(result, title)


def render(result: SweepResult, directory: Path, experiment=None, lrfind=None) -> dict[str, str]:
    """Draw the standard figures (and the experiment's own) into `directory`: {file: description}.
    `lrfind` is a (finder, verdict) pair to draw as `lrfind.png`, or None."""
    directory = Path(directory)
    line = probability.line_axis(result) is not None
    if line:  # a 1-D sweep: curves along its axis, not a square of rows
        figures = plots_answers.line_figures(result, directory)
    else:
        figures = {"heatmap.png": plots.heatmap(result, directory / "heatmap.png"),
                   "measure.png": plots.measure_map(result, directory / "measure.png")}
    figures["curves.png"] = plots.curves(result, directory / "curves.png")
    figures.update(plots_answers.probability_figures(result, directory))
    if result.steps_to_target is not None and not line:
        figures["steps_to_target.png"] = plots.steps_map(result, directory / "steps_to_target.png")
    if lrfind is not None:
        finder, verdict = lrfind
        figures["lrfind.png"] = plots.lrfind_plot(result, finder, verdict, directory / "lrfind.png")
    if experiment is not None and experiment.figures is not None:
        figures.update(experiment.figures(result, directory))
    return figures
