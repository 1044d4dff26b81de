"""A sweep as an `xarray.Dataset`: one named dimension per grid axis, one variable per per-run array.

The outcome codes follow the CF conventions for flags (`flag_values`, `flag_meanings`), so the
names survive a round trip through netCDF (`Dataset.to_netcdf`), whose attributes hold no lists
of strings. A choice axis is labelled by its option names, a points axis by its index with one
coordinate per column it sets (e.g. `x0` along `start`).
"""
from __future__ import annotations

import numpy as np

from edujax.core.errors import UserError


def to_xarray(result):
    """`result` as an `xarray.Dataset` (see `SweepResult.to_xarray`)."""
    try:
        import xarray as xr
    except ImportError:
        raise UserError("SweepResult.to_xarray needs xarray: pip install 'edujax[xarray]'") from None
    dims = tuple(a.name for a in result.axes)
    coords = {}
    for axis in result.axes:
        if axis.scale == "choice":
            coords[axis.name] = (axis.name, np.asarray(axis.choices, dtype=str), {"long_name": axis.title})
        elif axis.scale == "points":
            coords[axis.name] = (axis.name, np.arange(len(axis)), {"long_name": f"{axis.title} (index)"})
            for j, column in enumerate(axis.columns):
                coords[column] = (axis.name, axis.values[:, j])
        else:
            coords[axis.name] = (axis.name, axis.values, {"long_name": axis.title, "scale": axis.scale})
    names = result.outcome_names
    variables = {
        "outcome": (dims, np.asarray(result.outcome, np.int8),
                    {"flag_values": np.arange(len(names), dtype=np.int8), "flag_meanings": " ".join(names),
                     "long_name": "outcome of the run (codes: flag_values, names: flag_meanings)"}),
        "measure": (dims, result.measure, {"long_name": "log10(final gap / initial gap)"}),
        "steps_to_go": (dims, result.steps_to_go, {"long_name": "slow runs: steps still needed at the measured rate"}),
        "frozen": (dims, np.asarray(result.frozen, np.int8), {"long_name": "1 where one more update changes no bit"}),
    }
    steps_to_target = getattr(result, "steps_to_target", None)
    if steps_to_target is not None:
        variables["steps_to_target"] = (dims, np.asarray(steps_to_target).reshape(result.outcome.shape),
                                        {"long_name": "first step at which the loss reached the target (NaN: never)"})
    for metric, values in result.final.items():
        variables[f"final_{metric}"] = (dims, np.asarray(values), {"long_name": f"{metric} at the last step"})
    attrs = {"experiment": result.experiment, "steps": int(result.steps),
             "precision": str(result.info.get("precision", "")), "source": "edujax"}
    if "global_min" in result.info:
        attrs["global_min"] = float(result.info["global_min"])
    return xr.Dataset(variables, coords=coords, attrs=attrs)
