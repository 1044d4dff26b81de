"""The Dirac-GAN: the smallest GAN, and why plain gradient steps fail on it.

Mescheder, Geiger & Nowozin (2018), "Which Training Methods for GANs do
actually Converge?". The real data is a point mass at 0, the generator a point
mass at θ, the discriminator D(x) = ψ·x. The GAN game is

    L(θ, ψ) = f(D(θ)) + f(−D(0)) = f(ψθ) + const,   f(t) = −log(1 + e^(−t)),

which the generator minimises over θ and the discriminator maximises over ψ,
minus the R1 penalty (γ/2)·|∇ₓD(x)|² at the real data, here (γ/2)·ψ². The
only equilibrium is (θ, ψ) = (0, 0). Both players take plain SGD steps
(optax.sgd) with the same learning rate h, either *simultaneously* (both
gradients at the current point) or *alternating* (the discriminator first,
then the generator against the updated discriminator).

Linearised at (0, 0), with a = f'(0) = ½, the game's vector field is the
rotation-plus-damping J = [[0, −a], [a, −γ]]. Without R1 (γ = 0) the
continuous flow circles the equilibrium at a constant distance. Simultaneous
steps multiply θ² + ψ² by exactly 1 + h²f'(ψθ)² each step: they spiral out
for every learning rate. Alternating steps keep an ellipse and stay on a
bounded cycle while the learning rate is small. With γ > 0 the iterates spiral
in, as long as h < 4γ (simultaneous, γ ≤ 1) or h < 4(√(γ² + 1) − γ)
(alternating): the dashed lines, the linearised stability limits. Far from
(0, 0) f' is no longer ½, so the real boundaries bend away from them at large h.

The classifier judges the squared distance to equilibrium, θ² + ψ² (so
f* = 0), with the engine's rules (`edujax.outcomes`): ``converged`` means the
distance fell below 1% of where it started and stayed there. Far from (0, 0)
the game saturates: once ψθ ≫ 1, f'(ψθ) = σ(−ψθ) vanishes, the
discriminator's verdict is certain and the generator's gradient dies, so a run
that spiralled out does not blow up: it *freezes* at a finite distance
(``stalled``: stopped, although the distance's own gradient 2(θ, ψ) has not
vanished — there is no local minimum here). ``oscillating`` is a cycle whose
swing does not shrink (alternating steps at small h), ``slow`` a spiral that
is still closing in, and ``diverged`` a distance still growing to new highs
when the steps run out. Runs start at (θ, ψ) = (1, 0) (the generator off the
data, an untrained discriminator); `theta0` and `psi0` can be swept too.

Grid: learning rate h (log) × R1 weight γ (from 0) × update order (panels).
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

import edujax as ej

UPDATES = ("simultaneous", "alternating")
SHAPES = {"converged": "spiral in", "slow": "spiral in (slowly)", "oscillating": "cycle", "diverged": "spiral out",
          "local_min": "stuck", "stalled": "spiral out, then freeze", "mode_collapse": "collapsed"}


def f(t):
    """The standard GAN's f(t) = −log(1 + e^(−t)), written stably."""
    return -jnp.logaddexp(0.0, -t)


def discriminator(psi, x):
    return psi * x


def game(theta, psi):
    """L(θ, ψ): the real sample is x = 0, the fake one x = θ."""
    return f(discriminator(psi, theta)) + f(-discriminator(psi, 0.0))


def r1_penalty(psi, gamma):
    """(γ/2)·|∇ₓD(x)|² at the real data x = 0."""
    return 0.5 * gamma * jax.grad(discriminator, argnums=1)(psi, 0.0) ** 2


def init(key, hparams):
    theta, psi = jnp.asarray(hparams["theta0"]), jnp.asarray(hparams["psi0"])
    sgd = optax.sgd(hparams["learning_rate"])
    return theta, psi, sgd.init(theta), sgd.init(psi)


def step(state, hparams):
    theta, psi, g_state, d_state = state
    sgd = optax.sgd(hparams["learning_rate"])
    # The discriminator ascends L − R1, i.e. descends its negative.
    d_grad = jax.grad(lambda p: r1_penalty(p, hparams["gamma"]) - game(theta, p))(psi)
    d_update, d_state = sgd.update(d_grad, d_state)
    new_psi = optax.apply_updates(psi, d_update)
    # Alternating: the generator answers the discriminator it now faces.
    seen_psi = jnp.where(hparams["update"] == UPDATES.index("alternating"), new_psi, psi)
    g_update, g_state = sgd.update(jax.grad(game)(theta, seen_psi), g_state)
    new_theta = optax.apply_updates(theta, g_update)
    metrics = {"loss": theta**2 + psi**2, "theta": theta, "psi": psi}
    return (new_theta, new_psi, g_state, d_state), metrics


def stability_limit(hparams):
    """Largest learning rate for which the linearisation at (0, 0) contracts (NaN: none)."""
    gamma = hparams["gamma"].astype(np.float64)
    a = 0.5  # f'(0)
    # Simultaneous: |1 + hλ| < 1 for both eigenvalues λ = (−γ ± √(γ² − 4a²))/2 of J.
    largest_root = (gamma + np.sqrt(np.maximum(gamma**2 - 4 * a**2, 0.0))) / 2
    simultaneous = np.where(gamma <= 2 * a, gamma / a**2, 2 / np.maximum(largest_root, a))
    # Alternating: the step matrix has det 1 − hγ and trace 2 − hγ − h²a² (Jury's test).
    alternating = (np.sqrt(gamma**2 + 4 * a**2) - gamma) / a**2
    limit = np.where(hparams["update"] == UPDATES.index("alternating"), alternating, simultaneous)
    return np.where(limit > 0, limit, np.nan)


#: The four textbook cases drawn in the phase plane: (learning rate, γ, update), always among the examples.
PHASE_CASES = ((0.1, 0.0, "simultaneous"), (0.1, 0.0, "alternating"),
               (0.1, 0.2, "simultaneous"), (0.1, 0.2, "alternating"))


def phase_plane(result, out_dir):
    """θ–ψ paths of the four textbook cases (update order × with/without R1): the sweep's own runs at the grid
    cells nearest to them (`highlights`), as recorded for its representative runs."""
    ex = result.examples
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    for ax, row in zip(fig.subplots(1, len(PHASE_CASES)), range(len(PHASE_CASES))):
        index = int(ex["index"][row])
        h, gamma = (float(result.hparams[name].ravel()[index]) for name in ("learning_rate", "gamma"))
        update = UPDATES[int(result.hparams["update"].ravel()[index])]
        theta, psi = ex["theta"][row], ex["psi"][row]
        outcome = result.outcome_names[ex["outcome"][row]]
        color = result.outcome_colors[outcome]
        ax.plot(theta, psi, lw=0.7, color=color)
        ax.plot(theta[0], psi[0], "o", color="black", ms=4)
        ax.plot(0, 0, "k*", ms=9)
        reach = 1.1 * max(np.abs(theta).max(), np.abs(psi).max())
        ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", xlabel="generator θ",
               ylabel="discriminator ψ")
        ax.set_title(f"{update}, h = {h:.3g}, γ = {gamma:.3g}:\n{outcome} ({SHAPES[outcome]})", fontsize=9, color=color)
    fig.suptitle(f"Dirac-GAN: the sweep's runs at four cells, {result.steps} steps from (1, 0) (dot); star: the"
                 " equilibrium", fontsize=11)
    fig.savefig(out_dir / "phase_plane.png", dpi=130)
    return {"phase_plane.png": "(θ, ψ) paths of the sweep's own runs without and with R1, simultaneous vs alternating."}


experiment = ej.Experiment(
    name="dirac_gan",
    description="Dirac-GAN: learning rate × R1 weight γ, simultaneous vs alternating steps.",
    init=init,
    step=step,
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-2, 10.0, 48, label="learning rate h"),
        ej.linspace("gamma", 0.0, 2.0, 41, label="R1 weight γ"),
        ej.choice("update", UPDATES, label="update"),
    ),
    steps=8000,
    defaults={"theta0": 1.0, "psi0": 0.0},
    global_min=0.0,
    boundaries=(ej.Boundary("linearised stability limit", "learning_rate", stability_limit),),
    figures=phase_plane,
    highlights=tuple({"learning_rate": h, "gamma": gamma, "update": UPDATES.index(update)}
                     for h, gamma, update in PHASE_CASES),
)
