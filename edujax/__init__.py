"""edujax: which learning rates converge? Sweep, classify and draw optimization runs with JAX."""
from edujax.errors import UserError
from edujax.experiment import Boundary, Experiment, minimize
from edujax.fractal import boundary_dimension, box_dimension
from edujax.grid import Axis, Grid, choice, linspace, logspace, points, seeds, values
from edujax.optimizers import switch
from edujax.outcomes import COLORS, OUTCOMES, Criteria, classify
from edujax.result import SweepResult
from edujax.runner import sweep
from edujax.fractal_plots import boundary_figures
from edujax.zooming import Zoom, zoom

__all__ = [
    "Axis", "Boundary", "COLORS", "Criteria", "Experiment", "Grid", "OUTCOMES", "SweepResult", "UserError", "Zoom",
    "boundary_dimension", "boundary_figures", "box_dimension", "choice", "classify",
    "linspace", "logspace", "minimize", "points", "seeds", "sweep", "switch", "values", "zoom",
]
