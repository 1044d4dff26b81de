"""edujax: which learning rates converge? Sweep, classify and draw optimization runs with JAX."""
from edujax import schedules
from edujax.comparison import Comparison, compare
from edujax.errors import UserError
from edujax.experiment import Boundary, Experiment, minimize
from edujax.grid import Axis, Grid, choice, linspace, logspace, points, seeds, values
from edujax.optimizers import switch
from edujax.outcomes import COLORS, OUTCOMES, Criteria, classify
from edujax.result import SweepResult
from edujax.runner import sweep

__all__ = [
    "Axis", "Boundary", "COLORS", "Comparison", "Criteria", "Experiment", "Grid", "OUTCOMES", "SweepResult",
    "UserError", "choice", "classify", "compare", "linspace", "logspace", "minimize", "points", "schedules", "seeds",
    "sweep", "switch", "values",
]
