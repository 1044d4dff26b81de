"""Pictures of the regression experiments (the problem itself is in `edujax.regression`)."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from edujax.report.maps import describe_setting
from edujax.core.regression import PREDICT_YEAR, PRICES, START_YEAR, YEARS


def draw_lines(result, out_dir):
    """`figures=` hook: the representative runs' lines over the data, 2025 prediction starred."""
    examples = result.examples
    count = len(examples["index"])
    cols = min(max(count, 1), 4)
    rows = -(-max(count, 1) // cols)
    fig = Figure(figsize=(3.3 * cols, 3.0 * rows + 0.6), layout="constrained")
    panels = fig.subplots(rows, cols, squeeze=False).ravel()
    years = np.array([YEARS[0] - 1, PREDICT_YEAR + 1])
    for ax, row in zip(panels, range(count)):
        slope, price = examples["slope"][row].astype(np.float64), examples["price_2025"][row].astype(np.float64)
        finite = np.flatnonzero(np.isfinite(slope) & np.isfinite(price) & (np.abs(price) < 1e6))
        outcome = result.outcome_names[examples["outcome"][row]]
        for step in np.unique(np.linspace(0, finite[-1], 8).round().astype(int)):
            ax.plot(years, price[step] + slope[step] * (years - PREDICT_YEAR), color="grey", lw=0.8, alpha=0.35)
        last = finite[-1]
        ax.plot(years, price[last] + slope[last] * (years - PREDICT_YEAR), color=result.outcome_colors[outcome], lw=2)
        ax.plot(PREDICT_YEAR, price[last], "*", color=result.outcome_colors[outcome], ms=14, mec="black")
        ax.annotate(f"2025: {price[last]:.0f}", (PREDICT_YEAR, price[last]), (-4, 8), textcoords="offset points",
                    ha="right", fontsize=8)
        ax.scatter(YEARS, PRICES, s=12, color="black", zorder=3)
        ax.set_ylim(-50, 550)
        when = "" if last == len(slope) - 1 else f", last finite line: step {last}"
        ax.set_title(f"{outcome}{when}\n{describe_setting(result, int(examples['index'][row]))}", fontsize=7,
                     color=result.outcome_colors[outcome])
        ax.set_xlabel("year", fontsize=8)
    for ax in panels[count:]:
        ax.set_visible(False)
    panels[0].set_ylabel("price")
    fig.suptitle(f"{result.experiment}: the line of representative runs "
                 "(grey: 8 moments of the run, from the start line);"
                 f" the least-squares line predicts {100 + 15 * (PREDICT_YEAR - START_YEAR)} for 2025", fontsize=9)
    fig.savefig(out_dir / "lines.png", dpi=120)
    return {"lines.png": "The fitted line of representative runs over the data (grey: its path from the start line),"
                         " star: its price prediction for 2025."}
