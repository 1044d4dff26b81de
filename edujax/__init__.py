"""edujax: which learning rates converge? Sweep, classify and draw optimization runs with JAX."""
from edujax.errors import UserError
from edujax.experiment import Boundary, Experiment, minimize
from edujax.grid import Axis, Grid, choice, linspace, logspace, points, seeds, values
from edujax.optimizers import switch
from edujax.outcomes import COLORS, OUTCOMES, Criteria, classify
from edujax.result import SweepResult
from edujax.runner import sweep
from edujax.curvature import Sharpness, adam_preconditioner, hessian_vector_product, sharpness

__all__ = [
    "Axis", "Boundary", "COLORS", "Criteria", "Experiment", "Grid", "OUTCOMES", "Sharpness", "SweepResult", "UserError",
    "adam_preconditioner", "choice", "classify", "hessian_vector_product", "linspace", "logspace", "minimize", "points",
    "seeds", "sharpness", "sweep", "switch", "values",
]
