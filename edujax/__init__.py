"""edujax: which learning rates converge? Sweep, classify and draw optimization runs with JAX.

The public API is what `__all__` lists; experiment modules use nothing else
(a test checks). `import edujax` gives JAX one CPU device per core (see
`edujax.runner.devices.use_every_cpu_core`), unless JAX was told otherwise first.
This module is the façade over the layers (core, store, runner, report, app; README, "Layout").
"""
import importlib
import importlib.abc
import importlib.util
import sys

from edujax.runner import devices as _devices

_devices.use_every_cpu_core()

from edujax.app.registry import load  # noqa: E402  (an experiment by name in experiments/, or by path)
from edujax.app.zoom import zoom  # noqa: E402
from edujax.core import landscapes, regression, schedules  # noqa: E402  (what several experiments share)
from edujax.core.curvature import Sharpness, adam_preconditioner, hessian_vector_product, sharpness  # noqa: E402
from edujax.core.errors import UserError  # noqa: E402
from edujax.core.experiment import Boundary, Experiment, Target  # noqa: E402
from edujax.core.minimize import minimize, noise_scale  # noqa: E402
from edujax.core.fractal import boundary_dimension, box_dimension  # noqa: E402
from edujax.core.grid import Axis, Grid, choice, linspace, logspace, points, seeds, values  # noqa: E402
from edujax.core.optimizers import switch  # noqa: E402
from edujax.core.outcomes import COLORS, OUTCOMES, Criteria, classify  # noqa: E402
from edujax.report.maps import describe_setting  # noqa: E402
from edujax.runner.sweep import sweep  # noqa: E402
from edujax.runner.trace import replay  # noqa: E402
from edujax.store.comparison import Comparison, compare  # noqa: E402
from edujax.store.result import SweepResult  # noqa: E402
from edujax.store.zoom import Zoom  # noqa: E402

#: Public names that import matplotlib (or the whole pipeline) on first use, so `import edujax` stays light:
#: name -> (module, attribute), attribute None for a module itself.
_LAZY = {"run": ("edujax.app.pipeline", "run"), "redraw": ("edujax.app.pipeline", "redraw"),
         "write": ("edujax.app.pipeline", "write"),
         "plots": ("edujax.report.plots", None), "plots_landscapes": ("edujax.report.plots_landscapes", None),
         "plots_regression": ("edujax.report.plots_regression", None),
         "boundary_figures": ("edujax.report.fractal_plots", "boundary_figures")}

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
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


#: The public modules by the path they are imported as (`from edujax.plots import edges`) -> where they live.
_MODULES = {"plots": "edujax.report.plots", "plots_landscapes": "edujax.report.plots_landscapes",
            "plots_regression": "edujax.report.plots_regression", "landscapes": "edujax.core.landscapes",
            "regression": "edujax.core.regression", "schedules": "edujax.core.schedules"}


class _PublicModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import edujax.plots` and the like give the module in its layer (the same module object)."""

    def find_spec(self, name, path=None, target=None):
        prefix, _, short = name.partition(".")
        if prefix == "edujax" and short in _MODULES:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(_MODULES[spec.name.partition(".")[2]])

    def exec_module(self, module):
        pass


sys.meta_path.append(_PublicModules())
