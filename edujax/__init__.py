"""edujax: which learning rates converge? Sweep, classify and draw optimization runs with JAX.

The public API is what `__all__` lists; experiment modules use nothing else
(a test checks). `import edujax` gives JAX one CPU device per core (see
`edujax.devices.use_every_cpu_core`), unless JAX was told otherwise first.
"""
import importlib

from edujax import devices as _devices

_devices.use_every_cpu_core()

from edujax import landscapes, regression, schedules  # noqa: E402  (what several experiments share)
from edujax.comparison import Comparison, compare  # noqa: E402
from edujax.curvature import Sharpness, adam_preconditioner, hessian_vector_product, sharpness  # noqa: E402
from edujax.errors import UserError  # noqa: E402
from edujax.experiment import Boundary, Experiment, Target, minimize, noise_scale  # noqa: E402
from edujax.fractal import boundary_dimension, box_dimension  # noqa: E402
from edujax.grid import Axis, Grid, choice, linspace, logspace, points, seeds, values  # noqa: E402
from edujax.maps import describe_setting  # noqa: E402
from edujax.optimizers import switch  # noqa: E402
from edujax.outcomes import COLORS, OUTCOMES, Criteria, classify  # noqa: E402
from edujax.registry import load  # noqa: E402  (an experiment by name in experiments/, or by path)
from edujax.result import SweepResult  # noqa: E402
from edujax.runner import replay, sweep  # noqa: E402
from edujax.zooming import Zoom, zoom  # noqa: E402

#: Public names that import matplotlib (or the whole pipeline) on first use, so `import edujax` stays light.
_LAZY = {"run": "edujax.pipeline", "redraw": "edujax.pipeline", "plots": None, "plots_landscapes": None,
         "plots_regression": None, "boundary_figures": "edujax.fractal_plots"}

__all__ = [
    "Axis", "Boundary", "COLORS", "Comparison", "Criteria", "Experiment", "Grid", "OUTCOMES", "Sharpness",
    "SweepResult", "Target", "UserError", "Zoom", "adam_preconditioner", "boundary_dimension", "box_dimension",
    "choice", "classify", "compare", "describe_setting", "hessian_vector_product", "landscapes", "linspace", "load",
    "logspace", "minimize", "noise_scale", "points", "regression", "replay", "schedules", "seeds", "sharpness",
    "sweep", "switch", "values", "zoom", *_LAZY,
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'edujax' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name] or f"edujax.{name}")
    return module if _LAZY[name] is None else getattr(module, name)
