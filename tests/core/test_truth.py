"""The audit: labels of whole sweeps against truth computed independently in this file.

Each system's truth comes from a closed form or a float64 NumPy simulation
written here (never from edujax), and every run of every sweep is checked,
not just that some label occurs. Runs within a stated margin of a regime's
edge are left out (``None``), where the float32 run may fall on either side.
"""
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import edujax as ej

STEPS = 500
RTOL, ATOL = ej.Criteria().rtol, ej.Criteria().atol


def bowl(name, loss, start, grid, optimizer=None, steps=STEPS, precision="float32", defaults=None):
    """Minimise `loss(x, h)` (scalar x) from `start(h)` with SGD (or `optimizer(h)`), f* = 0."""
    return ej.minimize(
        name=name, loss=loss, params=lambda key, h: start(h),
        optimizer=optimizer or (lambda h: optax.sgd(h["learning_rate"])),
        grid=grid, steps=steps, global_min=0.0, precision=precision, defaults=defaults or {},
    )


def run(experiment, *args, **kwargs):
    """A sweep without re-recorded examples: only the labels are audited here."""
    return ej.sweep(experiment, *args, examples_per_outcome=0, **kwargs)


def labels(result):
    return result.labels.ravel()


def check(result, truth):
    """Every judged run (truth not None) has its true label."""
    truth = np.asarray(truth, dtype=object).ravel()
    judged = np.asarray([t is not None for t in truth])
    assert judged.mean() >= 0.6, "most runs must be judged"
    got = labels(result)
    wrong = [(i, got[i], truth[i]) for i in np.flatnonzero(judged) if got[i] != truth[i]]
    assert not wrong, f"{len(wrong)} of {judged.sum()} runs mislabelled (index, got, truth): {wrong[:8]}"


def gd_quadratic_truth(lam, x0, lrs, steps=STEPS):
    """GD on ½λx²: x_t = (1 − lr·λ)^t x0 exactly, so the gap is ½λx0²·q^{2t}, q = |1 − lr·λ|."""
    q = np.abs(1 - np.asarray(lrs, np.float64) * lam)
    tol = ATOL + RTOL * 0.5 * lam * x0**2
    g_end = 0.5 * lam * x0**2 * q ** (2 * steps)
    truth = []
    for qi, gi in zip(q, g_end):
        if qi > 1.02:
            truth.append("diverged")
        elif gi < tol / 10 and qi < 0.999:
            truth.append("converged")
        elif gi > 10 * tol and qi < 0.999:
            truth.append("slow")
        else:
            truth.append(None)
    return truth


def test_a_start_at_the_minimum_converges_at_every_learning_rate():
    grid = ej.Grid(ej.logspace("learning_rate", 1e-4, 10.0, 12))
    result = run(bowl("at_min", lambda x, h: 0.5 * 3.0 * x**2, lambda h: 0.0, grid), records=25)
    check(result, ["converged"] * 12)  # x stays exactly 0: the gap is 0 at every step


def test_gd_on_a_bowl_slow_converged_diverged_and_steps_to_go():
    lrs = np.geomspace(1e-4, 1.0, 24)
    grid = ej.Grid(ej.values("learning_rate", lrs, scale="log"))
    result = run(bowl("bowl", lambda x, h: 0.5 * 4.0 * x**2, lambda h: 2.0, grid))
    check(result, gd_quadratic_truth(4.0, 2.0, result.hparams["learning_rate"]))
    # a slow run's steps to go: the gap shrinks by q² per step, so tol is reached after ln(tol/g)/ln(q²) more steps
    lr = result.hparams["learning_rate"].astype(np.float64)
    q2 = (1 - 4.0 * lr) ** 2
    g_end = 0.5 * 4.0 * 4.0 * q2**STEPS
    tol = ATOL + RTOL * 8.0
    expected = np.log(tol / g_end) / np.log(q2)
    slow = labels(result) == "slow"
    assert slow.sum() >= 5
    np.testing.assert_allclose(result.steps_to_go[slow], expected[slow], rtol=0.05)


def test_a_convex_ravine_is_slow_never_a_local_minimum_in_float64():
    """½(x² + εy²), ε = 1e-6, lr = 1: x is solved in one step, y crawls by (1 − ε) per step forever."""
    eps = 1e-6
    grid = ej.Grid(ej.linspace("y0", 300.0, 3000.0, 8))
    experiment = ej.minimize(
        name="ravine", loss=lambda p, h: 0.5 * (p[0] ** 2 + eps * p[1] ** 2),
        params=lambda key, h: (jnp.asarray(3.0, h["y0"].dtype), h["y0"]),
        optimizer=lambda h: optax.sgd(1.0), grid=grid, steps=STEPS, global_min=0.0, precision="float64",
    )
    result = run(experiment)
    check(result, ["slow"] * 8)
    # at the rate (1 − ε)² per step the gap ½εy² reaches tol = atol + rtol·g0 after ln(tol/gT)/ln((1 − ε)²) steps
    y0 = result.hparams["y0"].astype(np.float64)
    g0, g_end = 0.5 * (9 + eps * y0**2), 0.5 * eps * y0**2 * (1 - eps) ** (2 * STEPS)
    expected = np.log((ATOL + RTOL * g0) / g_end) / np.log((1 - eps) ** 2)
    finite = np.isfinite(expected) & (expected > 0)
    np.testing.assert_allclose(result.steps_to_go[finite], expected[finite], rtol=0.05)
    assert (result.steps_to_go[finite] > 1e5).all()


def test_a_float32_freeze_is_stalled_and_the_same_runs_in_float64_are_slow():
    """½(x − 0)² from x0 = 1e4 with lr ≤ 1e-9: the update lr·x ≤ 1e-5 is below half of float32's spacing at 1e4
    (4.9e-4), so x never changes in float32; in float64 it decays by (1 − lr) per step (closed form)."""
    grid = ej.Grid(ej.logspace("learning_rate", 1e-12, 1e-9, 6))
    make = lambda precision: bowl(f"freeze_{precision}", lambda x, h: 0.5 * x**2,  # noqa: E731
                                  lambda h: jnp.asarray(1e4, h["learning_rate"].dtype), grid, precision=precision)
    x0 = np.float32(1e4)
    for lr in grid.axes[0].values:  # the float32 truth: the update rounds away, step after step
        assert np.float32(x0 - np.float32(lr) * x0) == x0
    frozen = run(make("float32"))
    check(frozen, ["stalled"] * 6)
    assert frozen.frozen.all()
    moving = run(make("float64"))
    check(moving, ["slow"] * 6)
    assert not moving.frozen.any()
    assert moving.info["precision"] == "float64" and moving.hparams["learning_rate"].dtype == np.float64


def heavy_ball_envelope_truth(lam, lrs, beta, steps=STEPS):
    """Heavy ball on ½λx²: x_{t+1} = (1 + β − lr·λ)x_t − βx_{t−1}. Underdamped ((1 + β − lr·λ)² < 4β) its roots
    have modulus √β, so the loss envelope shrinks like β^t: converging (slow or converged, by the closed form of
    the envelope) when it shrinks by more than a factor e per run length, oscillating when by less."""
    truth = []
    for lr in lrs:
        a = 1 + beta - lr * lam
        if a * a >= 4 * beta:  # overdamped or unstable: not this test's subject
            truth.append(None)
            continue
        per_run = beta**steps
        if per_run > np.exp(-1) * 1.3:
            truth.append("oscillating")
        elif per_run < np.exp(-1) / 1.3:
            g0 = 0.5 * lam * 4.0
            truth.append("converged" if 0.5 * lam * 4.0 * per_run * 4 < (ATOL + RTOL * g0) / 10
                         else "slow" if 0.5 * lam * 4.0 * per_run / 4 > 10 * (ATOL + RTOL * g0) else None)
        else:
            truth.append(None)
    return truth


@pytest.mark.parametrize("beta", [0.99, 0.995, 0.9995])
def test_damped_momentum_swings_converge_and_undamped_ones_oscillate(beta):
    lrs = np.geomspace(0.01, 1.0, 12)
    grid = ej.Grid(ej.values("learning_rate", lrs, scale="log"))
    experiment = bowl(f"hb_{beta}".replace(".", "_"), lambda x, h: 0.5 * 2.0 * x**2, lambda h: 2.0, grid,
                      optimizer=lambda h: optax.sgd(h["learning_rate"], momentum=beta))
    result = run(experiment)
    check(result, heavy_ball_envelope_truth(2.0, result.hparams["learning_rate"].astype(np.float64), beta))


def double_well(x):
    return (x**2 - 1) ** 2 + 0.3 * x


WELL_ROOTS = np.sort(np.roots([4.0, 0.0, -4.0, 0.3]).real)  # f'(x) = 4x³ − 4x + 0.3: global min, hump, local min
WELL_MIN = double_well(WELL_ROOTS[0])


def test_a_double_well_local_minimum_against_a_float64_simulation():
    starts = np.linspace(-2.0, 2.0, 17)
    grid = ej.Grid(ej.values("x0", starts), ej.values("learning_rate", [0.01, 0.05]))
    experiment = ej.minimize(
        name="double_well", loss=lambda x, h: double_well(x) - WELL_MIN, params=lambda key, h: h["x0"],
        optimizer=lambda h: optax.sgd(h["learning_rate"]), grid=grid, steps=STEPS, global_min=0.0,
    )
    result = run(experiment)
    truth = np.full(result.outcome.shape, None, dtype=object)
    for i, x0 in enumerate(starts):
        for j, lr in enumerate([0.01, 0.05]):
            x = float(x0)
            for _ in range(STEPS):
                x -= lr * (4 * x**3 - 4 * x + 0.3)
            if abs(x - WELL_ROOTS[2]) < 1e-4:  # ended in the right-hand well: a local minimum above f*
                truth[i, j] = "local_min"
            elif abs(x - WELL_ROOTS[0]) < 1e-4:
                gap0 = double_well(x0) - WELL_MIN
                truth[i, j] = "converged" if double_well(x) - WELL_MIN < (ATOL + RTOL * gap0) / 10 else None
    assert {"local_min", "converged"} <= set(truth.ravel()) - {None}
    check(result, truth)


def test_bounded_chaotic_hops_are_never_diverged():
    """GD on the 1-D grooved bowl x² + 2sin²(πx)(1 − e^{−x²}) with lr in (2/λ_groove, 1): |x_{t+1}| ≤ |1 − 2lr|·|x_t|
    + lr·(2π + 2), so every run stays bounded (never diverged), and no groove can hold it (no local_min). The
    hops are chaotic, so float32 and float64 paths part ways; the sweep runs in float64 and, where its recorded
    losses agree with a float64 NumPy simulation, its label must be the simulation's: converged when the last
    quarter stays within tolerance, oscillating when the loss still swings by ≥ 10% without its top falling."""
    lrs = np.linspace(0.5, 0.95, 10)
    starts = np.linspace(0.3, 3.0, 6)
    f = lambda x: x**2 + 2 * jnp.sin(jnp.pi * x) ** 2 * (1 - jnp.exp(-(x**2)))  # noqa: E731
    grid = ej.Grid(ej.values("learning_rate", lrs), ej.values("x0", starts))
    result = run(bowl("hops", lambda x, h: f(x), lambda h: h["x0"], grid, precision="float64"))
    assert not np.isin(result.labels, ["diverged", "local_min"]).any()

    def grad(x):
        s, c, e = np.sin(np.pi * x), np.cos(np.pi * x), np.exp(-(x**2))
        return 2 * x + 4 * np.pi * s * c * (1 - e) + 2 * s**2 * 2 * x * e

    truth = np.full(result.outcome.shape, None, dtype=object)
    for i, lr in enumerate(lrs):
        for j, x0 in enumerate(starts):
            x, trace = float(x0), []
            for _ in range(STEPS + 1):
                trace.append(float(x**2 + 2 * np.sin(np.pi * x) ** 2 * (1 - np.exp(-(x**2)))))
                x -= lr * grad(x)
            trace = np.asarray(trace)
            assert np.abs(trace).max() < 1e4
            if not np.allclose(trace[result.record_steps], result.loss[i, j], rtol=1e-6, atol=1e-9):
                continue  # the chaotic paths parted: this simulation says nothing about that run
            last, before = trace[-125:], trace[-250:-125]
            tol = ATOL + RTOL * trace[0]
            if last.max() < tol / 10:
                truth[i, j] = "converged"
            elif last.max() - last.min() > 0.1 * last.max() and last.max() > 0.9 * before.max():
                truth[i, j] = "oscillating"
    judged = truth != None  # noqa: E711 (elementwise)
    assert judged.sum() >= 5 and "converged" in set(truth[judged])
    assert (result.labels[judged] == truth[judged]).all(), list(zip(result.labels[judged], truth[judged]))


def test_a_stable_two_cycle_oscillates_in_both_precisions():
    """GD on log cosh(x) + 0.1x: the minimum's curvature is sech²(x*) ≈ 0.99, so for lr ≳ 2.02 the fixed point is
    unstable, but tanh saturates and the iterates settle on a stable 2-cycle (float64 simulation: the last
    four losses repeat with period 2, swinging by ≥ 1%): bounded, never settling, in float32 and float64."""
    x_star = np.arctanh(-0.1)
    f_star = np.log(np.cosh(x_star)) + 0.1 * x_star
    lrs = [2.2, 2.5, 3.0, 3.5]
    for lr in lrs:
        x, trace = 1.0, []
        for _ in range(STEPS + 1):
            trace.append(np.log(np.cosh(x)) + 0.1 * x - f_star)
            x -= lr * (np.tanh(x) + 0.1)
        a, b = trace[-1], trace[-2]
        assert abs(trace[-3] - a) < 1e-9 * a and abs(trace[-4] - b) < 1e-9 * b and abs(a - b) > 0.01 * max(a, b)
    grid = ej.Grid(ej.values("learning_rate", lrs))
    for precision in ("float32", "float64"):
        experiment = ej.minimize(
            name=f"two_cycle_{precision}", loss=lambda x, h: jnp.log(jnp.cosh(x)) + 0.1 * x - f_star,
            params=lambda key, h: jnp.ones_like(h["learning_rate"]), optimizer=lambda h: optax.sgd(h["learning_rate"]),
            grid=grid, steps=STEPS, global_min=0.0, precision=precision,
        )
        check(run(experiment), ["oscillating"] * 4)


def test_a_true_blow_up_is_diverged():
    lrs = np.geomspace(0.6, 5.0, 8)  # all above 2/λ = 0.5 for λ = 4: |1 − lr·λ| ≥ 1.4
    grid = ej.Grid(ej.values("learning_rate", lrs, scale="log"))
    result = run(bowl("blowup", lambda x, h: 0.5 * 4.0 * x**2, lambda h: 1.0, grid))
    check(result, gd_quadratic_truth(4.0, 1.0, result.hparams["learning_rate"]))
    assert (result.measure > 0).all()  # every run got worse


def dirac_truth(h, update, steps):
    """Float64 simulation of the Dirac-GAN (γ = 0) from (θ, ψ) = (1, 0): f'(t) = σ(−t)."""
    theta, psi = 1.0, 0.0
    radius = []
    for _ in range(steps + 1):
        radius.append(theta**2 + psi**2)
        fp = 1 / (1 + np.exp(psi * theta))  # σ(−ψθ)
        new_psi = psi + h * fp * theta  # the discriminator ascends f(ψθ)
        seen = new_psi if update == 1 else psi
        theta = theta - h * seen / (1 + np.exp(seen * theta))
        psi = new_psi
    return np.asarray(radius)


def test_dirac_gan_small_steps_cycle_or_spiral_out_and_large_steps_saturate_and_stall():
    from edujax.app import registry

    experiment = registry.load("dirac_gan")
    hs = [0.05, 0.1, 0.2, 1.5, 3.0, 6.0]
    grid = ej.Grid(ej.values("learning_rate", hs, scale="log"), ej.values("gamma", [0.0]),
                   ej.choice("update", ["simultaneous", "alternating"]))
    steps = 4000
    result = run(experiment, grid, steps)
    truth = np.full(result.outcome.shape, None, dtype=object)
    for i, h in enumerate(hs):
        for k in (0, 1):
            r = dirac_truth(h, k, steps)
            last, before = r[-steps // 4:], r[-steps // 2:-steps // 4]
            if r.max() < 1e6 and (last.max() - last.min()) < 1e-6 * last.max() and last.max() > 2:
                truth[i, 0, k] = "stalled"  # left the equilibrium and froze: the discriminator saturated
            elif (np.diff(r[-steps // 4:]) > 0).all() and r[-1] > 1.01 * r[-steps // 4]:
                truth[i, 0, k] = "diverged"  # still spiralling out to new highs when the steps ran out
            elif k == 1 and last.max() < 2 and (last.max() - last.min()) > 0.01 and last.max() > 0.95 * before.max():
                truth[i, 0, k] = "oscillating"  # alternating small steps: a bounded cycle that does not shrink
    assert {"stalled", "oscillating"} <= set(truth.ravel()) - {None}
    check(result, truth)
    assert (result.labels[3:] == "stalled").all(), "h ≥ 1.5: both orders leave the equilibrium, saturate, freeze"


def adam_truth(loss, grad, lrs, steps=STEPS):
    """Float64 simulation of optax.adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) on a 1-D loss from x = 1."""
    traces = []
    for lr in lrs:
        x, m, v, trace = 1.0, 0.0, 0.0, []
        for t in range(1, steps + 1):
            trace.append(loss(x))
            m, v = 0.9 * m + 0.1 * grad(x), 0.999 * v + 0.001 * grad(x) ** 2
            x -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        traces.append(np.asarray(trace + [loss(x)]))
    return traces


def test_adam_converges_on_a_smooth_bowl_and_keeps_swinging_on_a_sharp_one():
    """On ½x² Adam's steps shrink with the gradient and it converges at every learning rate here; on |x| the
    gradient's size never shrinks, Adam's step stays ≈ lr and it circles the minimum in a bounded cycle
    whose swing does not shrink: oscillating, never diverged."""
    lrs = np.geomspace(1e-3, 1.0, 8)
    grid = ej.Grid(ej.values("learning_rate", lrs, scale="log"))
    adam = lambda h: optax.adam(h["learning_rate"])  # noqa: E731
    smooth = run(bowl("adam_smooth", lambda x, h: 0.5 * x**2, lambda h: 1.0, grid, optimizer=adam))
    tol = ATOL + RTOL * 0.5
    lr32 = smooth.hparams["learning_rate"].astype(np.float64)
    truth = ["converged" if trace[-125:].max() < tol / 10 else None
             for trace in adam_truth(lambda x: 0.5 * x * x, lambda x: x, lr32)]
    check(smooth, truth)
    sharp = run(bowl("adam_sharp", lambda x, h: jnp.abs(x), lambda h: 1.0, grid, optimizer=adam))
    truth = []
    for trace in adam_truth(abs, np.sign, lr32):
        last, before, tol = trace[-125:], trace[-250:-125], ATOL + RTOL * 1.0
        if last.max() > 10 * tol and last.max() > 0.99 * before.max() and last.max() - last.min() > 0.5 * last.max():
            truth.append("oscillating")  # a bounded swing around the minimum that does not shrink
        elif last.min() > 10 * tol and (np.diff(trace[-250:]) < 0).all():
            truth.append("slow")  # still walking down at a constant pace
        else:
            truth.append(None)
    assert {"oscillating", "slow"} <= set(truth) - {None}
    check(sharp, truth)
    assert not (sharp.labels == "diverged").any()


def test_a_plateau_with_a_vanishing_but_nonzero_gradient_is_stalled():
    """1 − e^{−x²} from x0 ≥ 7: the gradient 2x·e^{−x²} ≤ 1e-20 moves the loss by far less than its float32
    spacing, yet it is not zero: not a stationary point, so stalled, not local_min."""
    grid = ej.Grid(ej.values("x0", [7.0, 8.0, 9.0]), ej.values("learning_rate", [0.1, 1.0]))
    result = run(bowl("plateau", lambda x, h: 1 - jnp.exp(-(x**2)), lambda h: h["x0"], grid))
    assert all(2 * x0 * np.exp(-x0**2) > 0 and 2 * x0 * np.exp(-x0**2) < 1e-20 for x0 in (7.0, 8.0, 9.0))
    check(result, [["stalled"] * 2] * 3)


def test_a_loss_that_is_nan_from_the_start_is_a_broken_experiment():
    grid = ej.Grid(ej.logspace("learning_rate", 1e-3, 1.0, 4))
    with pytest.raises(ej.UserError, match="broken"):
        run(bowl("broken", lambda x, h: jnp.log(x - 5.0), lambda h: 1.0, grid))
