"""The LR finder's suggestions held against a sweep's truth (`versus`): inside the converged band or not,
and how many times the fastest setting's steps-to-target the nearest grid learning rate needs."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from edujax.core.errors import UserError
from edujax.core.lrfind import LABELS, SUGGESTIONS, Finder
from edujax.store.recommend import LR, along, band, recommend


@dataclasses.dataclass
class Verdict:
    """`versus`' table: per suggestion its median lr over seeds, the nearest grid lr, how many seeds'
    suggestions fall in the converged band, the grid lr's median steps-to-target and that over the fastest's."""

    experiment: str
    setting: dict[str, Any]
    seeds: int
    band: tuple[float, float] | None
    fastest_lr: float | None
    fastest_steps: float | None
    rows: list[dict[str, Any]]

    def to_text(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.setting.items())
        head = f"{self.experiment}" + (f" at {where}" if where else "") + f", {self.seeds} seed(s): "
        head += ("no converged band" if self.band is None else f"band [{self.band[0]:.3g}, {self.band[1]:.3g}]")
        if self.fastest_lr is not None:
            head += f", fastest lr {self.fastest_lr:.3g} ({self.fastest_steps:g} steps)"
        lines = [head, f"  {'suggestion':18s} {'lr':>9s} {'grid lr':>9s} {'in band':>8s} {'steps':>7s} "
                       f"{'× fastest':>9s}"]
        for r in self.rows:
            lines.append(f"  {LABELS[r['suggestion']]:18s} {_g(r['lr']):>9s} {_g(r['grid_lr']):>9s} "
                         f"{r['in_band']:>3d}/{self.seeds:<4d} {_g(r['steps']):>7s} {_g(r['ratio']):>9s}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        def clean(value):
            return None if isinstance(value, float) and not np.isfinite(value) else value
        return {"setting": self.setting, "seeds": self.seeds, "band": list(self.band) if self.band else None,
                "fastest_lr": self.fastest_lr, "fastest_steps": self.fastest_steps,
                "rows": [{k: clean(v) for k, v in r.items()} for r in self.rows]}

    def markdown(self) -> list[str]:
        """Table rows (no header) for the README's "Is the LR finder right?"."""
        return [f"| {self.experiment} | {LABELS[r['suggestion']]} | {_g(r['lr'])} | {_g(r['grid_lr'])} | "
                f"{r['in_band']}/{self.seeds} | {_g(r['ratio'])} |" for r in self.rows]


MARKDOWN_HEADER = ["| experiment | suggestion | lr (median over seeds) | nearest grid lr | in band (seeds) | "
                   "× fastest steps |", "|---|---|---|---|---|---|"]


def _g(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return "∞" if np.isinf(value) else f"{value:.3g}"


def versus(finder: Finder, result) -> Verdict:
    """Hold `finder`'s suggestions against `result` (a sweep of the same experiment) at the finder's other
    hyperparameters: per suggestion (median over seeds) the nearest grid learning rate (in log distance),
    how many seeds' suggestions have their nearest grid lr inside the converged band, that lr's median
    steps-to-target and its ratio to the row's fastest (∞: it never reached the target).

    >>> print(versus(find(experiment), result).to_text())      # doctest: +SKIP
    """
    if not recommend(result):
        raise UserError(f"lrfind: the sweep of {result.experiment!r} has no {LR} axis to compare with")
    names = {a.name: len(a) for a in result.axes if a.name != LR and a.scale != "seed"}
    if set(names) != set(finder.at) or any(i >= names[name] for name, i in finder.at.items()):
        raise UserError(f"lrfind: the finder's settings ({', '.join(sorted(finder.at))}) are not on the sweep's grid "
                        f"(axes: {', '.join(a.name for a in result.axes)}): run find with grid=result.grid")
    row = along(result, finder.at)
    found = band(row["converged"], row["steps"])
    logs = np.log(row["lr"])

    def nearest(lr):
        return int(np.argmin(np.abs(logs - np.log(lr))))

    fastest = None if found is None or not np.isfinite(row["steps"][found[1]]) else found[1]
    rows = []
    for name in SUGGESTIONS:
        values = finder.suggestions[name]
        finite = values[np.isfinite(values)]
        in_band = 0 if found is None else sum(found[0] <= nearest(v) <= found[2] for v in finite)
        lr = float(np.median(finite)) if len(finite) else float("nan")
        i = nearest(lr) if len(finite) else None
        steps = float(row["steps"][i]) if i is not None else float("nan")
        ratio = steps / float(row["steps"][fastest]) if fastest is not None and i is not None else float("nan")
        rows.append({"suggestion": name, "lr": lr, "grid_lr": float(row["lr"][i]) if i is not None else float("nan"),
                     "in_band": int(in_band), "steps": steps, "ratio": ratio})
    return Verdict(result.experiment, finder.setting, len(finder.seeds),
                   None if found is None else (float(row["lr"][found[0]]), float(row["lr"][found[2]])),
                   None if fastest is None else float(row["lr"][fastest]),
                   None if fastest is None else float(row["steps"][fastest]), rows)


def line(stored: dict | None) -> str:
    """A stored verdict (`Verdict.as_dict`, summary.json's "lrfind") in one line; "" when there is none.

    >>> line({"rows": [{"suggestion": "valley", "lr": 1e-3, "in_band": 0, "ratio": None}], "seeds": 1})
    'valley 0.001 (in band 0/1, × fastest ∞)'
    """
    if not stored or "rows" not in stored:
        return f"failed ({stored['error']})" if stored and "error" in stored else ""
    return "; ".join(f"{r['suggestion']} {_g(r['lr'])} (in band {r['in_band']}/{stored['seeds']}, "
                     f"× fastest {_g(float('inf') if r['ratio'] is None else r['ratio'])})" for r in stored["rows"])
