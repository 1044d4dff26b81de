"""An experiment's theory boundaries, evaluated over the grid (`edujax.core.experiment`)."""
from types import SimpleNamespace

import numpy as np

import edujax as ej
from edujax.core.experiment import Boundary
from edujax.core.experiment import evaluate_boundaries


def test_theory_boundaries_are_evaluated_over_the_other_axes():
    experiment = SimpleNamespace(defaults={"curvature": 4.0}, boundaries=[
        Boundary("2/λ", "learning_rate", lambda h: 2.0 / h["curvature"]),
        Boundary("elsewhere", "momentum", lambda h: 0.5),
        Boundary("one", "curvature", lambda h: 1.0),
    ])
    g = ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3), ej.values("curvature", [1.0, 8.0]), ej.seeds(2))
    got = evaluate_boundaries(experiment, g)
    assert [(b["label"], b["axis"], b["value"].dtype, b["value"].shape) for b in got] == [
        ("2/λ", "learning_rate", np.float64, (2, 2)), ("one", "curvature", np.float64, (3, 2))]
    assert got[0]["value"].tolist() == [[2.0, 2.0], [0.25, 0.25]] and (got[1]["value"] == 1.0).all()
    # a grid of the boundary's own axis alone: the other hyperparameters at their defaults
    alone = evaluate_boundaries(experiment, ej.Grid(ej.logspace("learning_rate", 1e-2, 1.0, 3)))
    assert len(alone) == 1 and alone[0]["value"].shape == () and float(alone[0]["value"]) == 0.5
    # the defaults reach the boundary as the sweep's float32 columns
    experiment.defaults = {"curvature": 0.1}
    experiment.boundaries = [Boundary("λ", "learning_rate", lambda h: h["curvature"])]
    got = evaluate_boundaries(experiment, ej.Grid(ej.logspace("learning_rate", 0.1, 1.0, 2)))
    assert float(got[0]["value"]) == float(np.float32(0.1)) != 0.1
    assert got[0]["value"].dtype == np.float64  # a float32 value is widened for drawing, like every boundary
