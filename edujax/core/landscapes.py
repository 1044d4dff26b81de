"""Two-dimensional loss landscapes with known minima.

Each `Landscape` is a function f(x, y) (written with `jnp`, so it also takes
numpy arrays) with its global minimum value `f_star` and every point where it
is reached (`minima`), stated exactly or to float32 precision, so the
classifier decides `converged` versus `local_min` against the truth.

An experiment minimises a landscape from a start point: `start` reads the
`x0`, `y0` hyperparameters (`ray_start`: a distance along a fixed direction)
and `position` records where the run is, so the
few representative runs the runner re-records every step (`result.examples`)
carry their whole path. The pictures drawn from them (contour plots, the
marble GIF, basins of attraction) are in `edujax.plots_landscapes`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Landscape:
    """f(x, y), its global minimum value and minimisers, and the window to draw."""

    name: str
    formula: str
    f: Callable
    f_star: float
    minima: tuple[tuple[float, float], ...]
    view: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max

    def loss(self, params, hparams=None):
        return self.f(*params)

    def nearest_minimum(self, x, y) -> np.ndarray:
        """Index into `minima` of the global minimiser closest to each (x, y)."""
        points = np.asarray(self.minima, np.float64)
        distance = np.hypot(np.asarray(x, np.float64)[..., None] - points[:, 0],
                            np.asarray(y, np.float64)[..., None] - points[:, 1])
        return distance.argmin(-1)


def start(key, hparams):
    """The start point (x0, y0), from the hyperparameters of that name."""
    return hparams["x0"], hparams["y0"]


def ray_start(angle_degrees: float):
    """A start-point function: `start_distance` from the origin along a fixed direction."""
    angle = np.deg2rad(angle_degrees)

    def start_on_ray(key, hparams):
        return hparams["start_distance"] * jnp.cos(angle), hparams["start_distance"] * jnp.sin(angle)

    return start_on_ray


def position(params, hparams):
    """Record where the run is: the paths drawn on the contour plots."""
    return {"x": params[0], "y": params[1]}


# --- the landscapes ----------------------------------------------------------------------------

#: The grooved bowl: ripple depth a, ripple frequency k, radius s of the smooth floor.
BUMPY = {"a": 2.0, "k": jnp.pi, "s": 1.0}


def bumpy_bowl_f(x, y, a=None):
    """The grooved bowl; `a` (default BUMPY["a"]) is the grooves' depth."""
    a = BUMPY["a"] if a is None else a
    k, s = BUMPY["k"], BUMPY["s"]
    r2 = x**2 + y**2
    return r2 + a * (jnp.sin(k * x) ** 2 + jnp.sin(k * y) ** 2) * (1 - jnp.exp(-r2 / s**2))


def groove_curvature(a):
    """The largest curvature at the bottom of a groove far from the floor: 2 + 2·a·k²."""
    return 2.0 + 2 * a * float(BUMPY["k"]) ** 2


#: Curvature of the bowl's floor (2) and, far from it, of a groove of the default depth.
FLOOR_CURVATURE = 2.0
GROOVE_CURVATURE = groove_curvature(BUMPY["a"])

bumpy_bowl = Landscape(
    "bumpy bowl", "x² + y² + a(sin²kx + sin²ky)(1 − e^(−r²/s²))", bumpy_bowl_f,
    f_star=0.0, minima=((0.0, 0.0),), view=(-4.5, 4.5, -4.5, 4.5),
)

rosenbrock = Landscape(
    "Rosenbrock", "(1 − x)² + 100(y − x²)²", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    f_star=0.0, minima=((1.0, 1.0),), view=(-2.0, 2.0, -1.0, 3.0),
)

himmelblau = Landscape(
    "Himmelblau", "(x² + y − 11)² + (x + y² − 7)²", lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
    f_star=0.0,  # both squares vanish at each of the four minimisers (the last three: roots of a cubic, to 6 decimals)
    minima=((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
    view=(-6.0, 6.0, -6.0, 6.0),
)

#: Styblinski–Tang is a sum of the same quartic in x and in y, ½(t⁴ − 16t² + 5t), whose
#: critical points are the roots of its derivative 4t³ − 32t + 5: the global minimiser, the
#: hump between the two dips, and the shallower dip (a local minimiser in each coordinate).
ST_ROOTS = np.sort(np.roots([4.0, 0.0, -32.0, 5.0]).real)
_st = lambda t: 0.5 * (t**4 - 16 * t**2 + 5 * t)  # noqa: E731
styblinski_tang = Landscape(
    "Styblinski–Tang", "½ Σ (t⁴ − 16t² + 5t)", lambda x, y: _st(x) + _st(y),
    f_star=float(2 * _st(ST_ROOTS[0])), minima=((float(ST_ROOTS[0]), float(ST_ROOTS[0])),), view=(-5.0, 5.0, -5.0, 5.0),
)

rastrigin = Landscape(
    "Rastrigin", "20 + Σ (t² − 10 cos 2πt)",
    lambda x, y: 20 + x**2 - 10 * jnp.cos(2 * jnp.pi * x) + y**2 - 10 * jnp.cos(2 * jnp.pi * y),
    f_star=0.0, minima=((0.0, 0.0),), view=(-5.12, 5.12, -5.12, 5.12),
)
