"""The Dirac-GAN's known behaviours (Mescheder et al. 2018), checked on the real experiment."""
import numpy as np
import pytest

import edujax as ej
from edujax.app import registry

dirac = registry.load("dirac_gan")
SIM, ALT = (dirac.grid.axis("update").choices.index("simultaneous"),
            dirac.grid.axis("update").choices.index("alternating"))


def run(lrs, gammas, update, steps, **extra):
    axes = [ej.values("learning_rate", lrs, "log"), ej.values("gamma", gammas), ej.values("update", [update])]
    axes += [ej.values(name, [value]) for name, value in extra.items()]
    return ej.sweep(dirac, ej.Grid(*axes), steps)


def test_simultaneous_without_r1_spirals_out_for_every_learning_rate():
    lrs = np.geomspace(1e-2, 3.0, 12)
    result = run(lrs, [0.0], SIM, 1500)
    # Every step multiplies θ² + ψ² by exactly 1 + h²·f'(θψ)², f' = sigmoid(−t): never a step inwards.
    ex = result.examples
    assert (ex["step"] == np.arange(1501)).all()
    for row, index in enumerate(ex["index"]):
        h = result.hparams["learning_rate"].ravel()[index]
        theta, psi, r2 = (ex[k][row, :200].astype(np.float64) for k in ("theta", "psi", "loss"))
        slope = 1 / (1 + np.exp(theta * psi))
        np.testing.assert_allclose(r2[1:] / r2[:-1], 1 + h**2 * slope[:-1] ** 2, rtol=1e-5)
    # So no run gets closer: each is still spiralling out (diverged) or has saturated and frozen far out
    # (stalled, where f' = σ(−θψ) has underflowed the step), never converged, slow or oscillating.
    assert set(result.labels.ravel()) <= {"diverged", "stalled"}
    assert (result.final["loss"] > 1.0).all()
    frozen = result.labels.ravel() == "stalled"
    assert frozen.any() and (result.hparams["learning_rate"].ravel()[frozen] > 0.3).all()


def test_alternating_without_r1_stays_on_a_bounded_cycle_for_small_learning_rates():
    lrs = np.geomspace(1e-2, 0.3, 8)
    result = run(lrs, [0.0], ALT, 8000)
    assert set(result.labels.ravel()) == {"oscillating"}
    # Bounded: the distance to (0, 0) stays within O(h) of where it started, after 8000 steps.
    for row, index in enumerate(result.examples["index"]):
        h = result.hparams["learning_rate"].ravel()[index]
        r2 = result.examples["loss"][row]
        assert r2.max() < 1 + h and r2.min() > 1 - h
    # ...and it keeps moving: the iterates go round (ψ changes sign), they do not stop.
    psi = result.examples["psi"]
    assert np.all((psi.max(1) > 0.5) & (psi.min(1) < -0.5))


@pytest.mark.parametrize("update", [SIM, ALT])
def test_r1_with_small_learning_rate_converges_to_the_equilibrium(update):
    result = run(np.geomspace(0.03, 0.3, 5), [0.3, 1.0], update, 8000)
    assert set(result.labels.ravel()) == {"converged"}
    assert np.all(np.abs(result.final["theta"]) < 1e-2) and np.all(np.abs(result.final["psi"]) < 1e-2)


@pytest.mark.parametrize("update", [SIM, ALT])
def test_linearised_stability_limit_separates_spiral_in_from_spiral_out_near_equilibrium(update):
    """Started very close to (0, 0), the game is linear: the boundary is exact there."""
    gammas = np.array([0.2, 0.5, 1.5])
    limit = dirac.boundaries[0].value({"gamma": gammas, "update": np.full(3, update)})
    below = run(list(0.9 * limit), list(gammas), update, 4000, theta0=1e-3)
    above = run(list(1.1 * limit), list(gammas), update, 4000, theta0=1e-3)
    diagonal = np.arange(3)
    assert np.all(below.labels[diagonal, diagonal, 0, 0] == "converged")
    # above it the linearisation spirals out: the run leaves the equilibrium (a thousandfold in distance², at least)
    # and is still growing, has frozen in the saturated region, or circles on the cycle where R1's damping
    # balances the growth: it never comes back
    assert np.isin(above.labels[diagonal, diagonal, 0, 0], ["diverged", "stalled", "oscillating"]).all()
    assert not (above.final["loss"][diagonal, diagonal, 0, 0] <= 1e3 * 1e-6).any()  # NaN: blew up, left too
