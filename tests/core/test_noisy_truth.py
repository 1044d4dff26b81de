"""The audit of the rules for noisy runs: minibatch SGD labels against truth computed independently in this file.

Every truth below comes from float64 NumPy written here (never from edujax): simulations of SGD with
replacement over many seeds, the exact recursion of SGD's mean second moment on linear regression, its
mean-square stability limit, and closed forms. edujax's labels (float32 sweeps of 4 seeds) are checked per
cell wherever the truth is clear; a cell near a boundary the truth identifies (the level near the tolerance,
a trend neither clearly alive nor clearly dead, a blow-up in only some of the simulated seeds, or a
mean-square-unstable learning rate whose runs stay bounded) is left out (``None``) and said so.
"""
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

import edujax as ej

STEPS, RECORDS = 400, 25
RECORD_STEPS = np.concatenate([16 * np.arange(RECORDS), [STEPS]])  # RecordPlan(400, 25): every 16 steps
J = ej.Criteria().final_windows(RECORDS)  # the final part: J windows; the trend is fitted over 2J
SIM_SEEDS = 1000
RTOL = 1e-3  # the linear-regression experiments' criteria: tol = atol + 1e-3·g0


# ---------------------------------------------------------------------------------------------------------------
# Linear regression y = X w* + σε, per-example loss ½(x·w − y)², N = 64 examples in d = 4, started at w = 0.

N, D, SIGMA = 64, 4, 0.3
_rng = np.random.default_rng(0)
X = _rng.standard_normal((N, D))
Y = X @ np.array([1.0, -1.0, 0.5, 0.5]) + SIGMA * _rng.standard_normal(N)
H = X.T @ X / N
W_HAT = np.linalg.solve(X.T @ X, X.T @ Y)
R = Y - X @ W_HAT  # residuals at the least-squares solution: Xᵀr = 0, so L(w) − f* = ½ δᵀHδ exactly, δ = w − ŵ
F_STAR = 0.5 * np.mean(R**2)
G0 = 0.5 * np.mean(Y**2) - F_STAR  # the gap at w = 0, the same for every run
TOL = ej.Criteria().atol + RTOL * G0
LAM_MAX = np.linalg.eigvalsh(H).max()
EYE = np.eye(D)
FOURTH = np.mean([np.kron(np.outer(x, x), np.outer(x, x)) for x in X], 0)  # P ↦ mean x xᵀ P x xᵀ, on vec P
Q = np.mean([r**2 * np.outer(x, x) for x, r in zip(X, R)], 0)  # the gradients' covariance at ŵ


def second_moment_operator(lr, batch):
    """P ↦ E[(I − lr H_B) P (I − lr H_B)], H_B the mean of x xᵀ over B examples drawn with replacement:
    P − lr(HP + PH) + lr²((1 − 1/B) HPH + mean x xᵀPx xᵀ / B), as a D² × D² matrix on vec(P)."""
    return (np.eye(D * D) - lr * (np.kron(EYE, H) + np.kron(H, EYE))
            + lr**2 * ((1 - 1 / batch) * np.kron(H, H) + FOURTH / batch))


def spectral_radius(lr, batch):
    return np.abs(np.linalg.eigvals(second_moment_operator(lr, batch))).max()


def stability_limit(batch):
    """The largest learning rate at which SGD's second moment stays bounded (bisection on the spectral radius)."""
    lo, hi = 0.0, 2 / LAM_MAX
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spectral_radius(mid, batch) < 1 else (lo, mid)
    return lo


def mean_excess(lr, batch):
    """E[L(w_t) − f*] at the record steps, exactly: m = E δ follows (I − lr H) m, P = E δδᵀ follows
    T(P) + lr²/B·(Q − 2 mean r (x·m) x xᵀ) (the minibatch gradient's covariance, its part linear in δ
    averaged), and the excess is ½ tr(HP)."""
    operator = second_moment_operator(lr, batch)
    m = -W_HAT
    P = np.outer(m, m)
    out = []
    for t in range(STEPS + 1):
        if t in RECORD_STEPS:
            out.append(0.5 * np.trace(H @ P))
        cross = np.einsum("n,n,ni,nj->ij", R, X @ m, X, X) / N
        P = (operator @ P.ravel()).reshape(D, D) + lr**2 / batch * (Q - 2 * cross)
        m = m - lr * H @ m
    return np.array(out)


def stationary_excess(lr, batch):
    """The closed form of SGD's noise floor: vec P∞ = (I − T)⁻¹ lr²/B vec Q, excess ½ tr(H P∞)."""
    P = np.linalg.solve(np.eye(D * D) - second_moment_operator(lr, batch), lr**2 / batch * Q.ravel())
    return 0.5 * np.trace(H @ P.reshape(D, D))


def simulate_regression(lr, batch, seeds=SIM_SEEDS, seed=1):
    """SGD with replacement in float64 over `seeds` seeds: the full-data excess loss at the record steps."""
    rng = np.random.default_rng(seed)
    w = np.zeros((seeds, D))
    out = []
    with np.errstate(all="ignore"):
        for t in range(STEPS + 1):
            if t in RECORD_STEPS:
                out.append(0.5 * np.mean((w @ X.T - Y) ** 2, 1) - F_STAR)
            index = rng.integers(0, N, (seeds, batch))
            xb = X[index]
            residual = np.einsum("sbd,sd->sb", xb, w) - Y[index]
            w = w - lr * np.einsum("sb,sbd->sd", residual, xb) / batch
    return np.stack(out, 1)


def regression_truth(lr, batch):
    """The label the float64 truth gives a run at (lr, B), or None where it is not clear:

    - diverged: at least 99.5 % of the simulated seeds grew six decades above their start (or overflowed);
    - None: some seeds blew up and some did not, or lr is past the mean-square limit while runs stay bounded;
    - converged: the level (mean excess over the last J + 1 records, what a run's floor is judged by) is
      within tol in 99.9 % of the seeds;
    - slow / noise_floor: the level is above tol in 99.9 % of the seeds, and the exact mean excess still
      falls over the last 2J windows by more than 5 seed standard deviations (slow) or by less than 1 % of one
      (stationary: noise_floor).
    """
    sim = simulate_regression(lr, batch)
    with np.errstate(all="ignore"):
        blown = ~np.isfinite(sim[:, -1]) | (sim[:, -1] > 1e6 * G0)
    if blown.mean() >= 0.995:
        return "diverged"
    if blown.any() or spectral_radius(lr, batch) >= 1:
        return None
    level = sim[:, -(J + 1):].mean(1)
    if np.quantile(level, 0.999) < TOL:
        return "converged"
    if np.quantile(level, 0.001) <= TOL:
        return None
    exact = mean_excess(lr, batch)
    fall, spread = exact[-2 * J - 1] - exact[-1], sim[:, -1].std()
    if fall > 5 * spread:
        return "slow"
    if abs(fall) < 0.01 * spread:
        return "noise_floor"
    return None


LRS = [1e-3, 3e-3, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3, 0.6, 1.0]
BATCHES = [1, 4, 16]


def regression_experiment(batch_sizes, lrs, name="sgd_regression", seeds=4):
    return ej.minimize(
        name=name, loss=lambda w, h, b: 0.5 * jnp.mean((b[0] @ w - b[1]) ** 2), params=lambda key, h: jnp.zeros(D),
        optimizer=lambda h: optax.sgd(h["learning_rate"]), data=(X.astype(np.float32), Y.astype(np.float32)),
        grid=ej.Grid(ej.values("learning_rate", lrs, scale="log"), ej.values("batch_size", batch_sizes),
                     ej.seeds(seeds)),
        steps=STEPS, global_min=float(F_STAR), criteria=ej.Criteria(rtol=RTOL))


@pytest.fixture(scope="module")
def regression():
    """The sweep (lr × B × 4 seeds) and the truth per (lr, B) cell."""
    result = ej.sweep(regression_experiment(BATCHES, LRS), records=RECORDS, examples_per_outcome=0)
    assert list(result.record_steps) == list(RECORD_STEPS)
    truth = {(lr, b): regression_truth(lr, b) for lr in LRS for b in BATCHES}
    return result, truth


def check_cells(regression, label, at_least):
    """Every run of every cell whose truth is `label` gets `label` (at least `at_least` such cells)."""
    result, truth = regression
    cells = [(i, j) for i, lr in enumerate(LRS) for j, b in enumerate(BATCHES) if truth[lr, b] == label]
    assert len(cells) >= at_least, f"only {len(cells)} cells are clearly {label}: {truth}"
    wrong = [(LRS[i], BATCHES[j], list(result.labels[i, j])) for i, j in cells
             if (result.labels[i, j] != label).any()]
    assert not wrong, f"cells whose truth is {label} (lr, B, labels of the 4 seeds): {wrong}"


def test_the_truth_itself_exact_mean_closed_floor_and_the_linear_scaling_of_stability():
    """Self-checks of this file's truth: the simulation's mean excess matches the exact recursion (within 5
    standard errors), the recursion ends on the closed-form floor once stationary, the floor grows with lr/B
    (≈ lr·tr(Q)/(4B) for small lr, H ≈ I), and the mean-square limit grows with B towards GD's 2/λ_max."""
    for lr, batch in [(0.003, 4), (0.1, 1), (0.1, 16)]:
        sim, exact = simulate_regression(lr, batch), mean_excess(lr, batch)
        error = sim.std(0) / np.sqrt(SIM_SEEDS)
        assert np.all(np.abs(sim.mean(0) - exact) <= 5 * error + 1e-12), (lr, batch)
    assert mean_excess(0.1, 4)[-1] == pytest.approx(stationary_excess(0.1, 4), rel=1e-6)
    floors = {(lr, b): stationary_excess(lr, b) for lr in (1e-3, 1e-2) for b in (1, 4)}
    assert floors[1e-2, 1] / floors[1e-3, 1] == pytest.approx(10, rel=0.05)
    assert floors[1e-2, 1] / floors[1e-2, 4] == pytest.approx(4, rel=0.05)
    assert floors[1e-3, 1] == pytest.approx(1e-3 * np.trace(Q) / 4, rel=0.5)  # H is only roughly I here
    limits = [stability_limit(b) for b in (1, 4, 16, 63)]
    assert all(a < b for a, b in zip(limits, limits[1:])) and limits[-1] < 2 / LAM_MAX


def test_still_descending_under_noise_is_slow(regression):
    """(a) tiny learning rates: the exact mean excess still falls by more than 5 seed standard deviations over
    the last 2J windows, the level is far above tol -> every run ``slow``."""
    check_cells(regression, "slow", at_least=6)


def test_stationary_above_the_tolerance_is_the_noise_floor(regression):
    """(b) the transient is gone (the exact mean excess moves by < 1 % of a seed's spread over the fitted
    stretch) and 99.9 % of the simulated levels lie above tol -> ``noise_floor``; the level grows with lr/B."""
    check_cells(regression, "noise_floor", at_least=4)


def test_stationary_within_the_tolerance_is_converged(regression):
    """(c) 99.9 % of the simulated levels (mean excess over the last J + 1 records) lie within tol ->
    ``converged``: a small lr·/B floor under the tolerance."""
    check_cells(regression, "converged", at_least=2)


def test_a_blowup_past_the_mean_square_limit_is_diverged(regression):
    """(d) lr above the mean-square stability limit of its batch size (computed above from the data's fourth
    moments: the spectral radius of P ↦ E[(I − lr H_B)P(I − lr H_B)] reaches 1), where at least 99.5 % of the
    simulated seeds grow by six decades -> ``diverged``; lr = 0.6 lies below GD's 2/λ_max, so only the noise
    makes it blow up at B = 1. (lr = 1.0 at B = 4 is mean-square unstable too, but its simulated runs stay
    bounded with heavy tails: left out.)"""
    result, truth = regression
    assert stability_limit(1) < 0.6 < 2 / LAM_MAX and truth[0.6, 1] == "diverged"
    assert spectral_radius(1.0, 4) > 1 and truth[1.0, 4] is None
    check_cells(regression, "diverged", at_least=2)


def test_batch_of_all_the_data_keeps_the_deterministic_labels_and_steps_to_target():
    """(e) B = N is full-batch GD, the data in order: its labels equal, run for run, those of the same loss
    written without data (the deterministic rules), and diverged ⇔ lr·λ_max > 2 (GD's closed form) away from
    2. Its steps to target equal the first record step at which the exact float64 GD curve
    ½δ_tᵀHδ_t, δ_t = (I − lr H)^t δ_0, is within tol, where that record is not within a factor 1.5 of it."""
    lrs = [float(v) for v in np.geomspace(1e-3, 2.5, 10)]
    noisy_form = ej.sweep(regression_experiment([N], lrs, name="full_batch", seeds=1), records=RECORDS,
                          examples_per_outcome=0)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    plain = ej.minimize(
        name="plain", loss=lambda w, h: 0.5 * jnp.mean((X32 @ w - Y32) ** 2), params=lambda key, h: jnp.zeros(D),
        optimizer=lambda h: optax.sgd(h["learning_rate"]),
        grid=ej.Grid(ej.values("learning_rate", lrs, scale="log")), steps=STEPS,
        global_min=float(F_STAR), criteria=ej.Criteria(rtol=RTOL))
    deterministic = ej.sweep(plain, records=RECORDS, examples_per_outcome=0)
    assert noisy_form.labels.ravel().tolist() == deterministic.labels.ravel().tolist()
    for i, lr in enumerate(lrs):
        if abs(lr * LAM_MAX - 2) > 0.2:
            assert (noisy_form.labels.ravel()[i] == "diverged") == (lr * LAM_MAX > 2), lr
    judged = 0
    for i, lr in enumerate(lrs):
        delta, curve = -W_HAT, []
        with np.errstate(over="ignore", invalid="ignore"):  # lr·λ_max > 2 overflows: never reached
            for t in range(STEPS + 1):
                if t in RECORD_STEPS:
                    curve.append(0.5 * delta @ H @ delta)
                delta = delta - lr * H @ delta
        curve = np.array(curve)
        hit = np.flatnonzero(curve <= TOL)
        if lr * LAM_MAX >= 2 or not hit.size:
            if lr * LAM_MAX < 2 and curve.min() > 1.5 * TOL:
                assert np.isnan(noisy_form.steps_to_target.ravel()[i]), lr
            continue
        k = hit[0]
        if curve[k] < TOL / 1.5 and (k == 0 or curve[k - 1] > 1.5 * TOL):
            assert noisy_form.steps_to_target.ravel()[i] == RECORD_STEPS[k], (lr, RECORD_STEPS[k])
            judged += 1
    assert judged >= 3


# ---------------------------------------------------------------------------------------------------------------
# A tilted double well fitted by data: per-example loss (w² − 1)² + a_i·w, a_i = 0.3 + 0.05 z_i. The full loss
# (w² − 1)² + ā w has its deep minimum near −1 and a shallow one near +1, 2ā higher.

A = 0.3 + 0.05 * np.random.default_rng(2).standard_normal(N)
A_BAR = A.mean()


def well(w):
    return (w**2 - 1) ** 2 + A_BAR * w


def well_grad(w):
    return 4 * w * (w**2 - 1) + A_BAR


def well_curvature(w):
    return 12 * w**2 - 4


WELL_MINIMA = sorted(r.real for r in np.roots([4, 0, -4, A_BAR]) if abs(r.imag) < 1e-12 and well_curvature(r.real) > 0)
WELL_F_STAR = min(well(m) for m in WELL_MINIMA)
SHALLOW = max(WELL_MINIMA)


def well_truth(lr, batch, start=1.0, seeds=SIM_SEEDS):
    """``local_min`` when, in a float64 simulation over `seeds` seeds: no run leaves the shallow basin (w stays
    above 0.5, the barrier is near 0.08), the level is far above tol, the noiseless GD transient changes
    the gap over the fitted stretch by < 1 % of the seeds' spread, and every seed's last full-data Newton gain
    ½L'²/L'' is at most gtol·gap / 3 (a stationary point of the full loss); else None."""
    rng = np.random.default_rng(3)
    w = np.full(seeds, start)
    plain = start
    gaps, plains, lowest = [], [], np.inf
    for t in range(STEPS + 1):
        if t in RECORD_STEPS:
            gaps.append(well(w) - WELL_F_STAR)
            plains.append(well(plain) - WELL_F_STAR)
            lowest = min(lowest, w.min())
        if t == STEPS:
            break
        w = w - lr * (4 * w * (w**2 - 1) + A[rng.integers(0, N, (seeds, batch))].mean(1))
        plain = plain - lr * well_grad(plain)
    gaps, plains = np.stack(gaps, 1), np.array(plains)
    gain = 0.5 * well_grad(w) ** 2 / well_curvature(w)  # at the last step, on the full data
    tol = ej.Criteria().atol + ej.Criteria().rtol * gaps[0, 0]
    gtol = ej.Criteria().gtol
    stationary = abs(plains[-2 * J - 1] - plains[-1]) < 0.01 * gaps[:, -1].std()
    if lowest > 0.5 and gaps[:, -1].min() > 100 * tol and stationary and np.all(gain <= gtol * gaps[:, -1] / 3):
        return "local_min"
    return None


def test_a_shallow_minimum_under_small_noise_is_local_min():
    """(f) non-convex: started at w = 1 in the shallow basin of the tilted double well, with small lr and
    gradient noise of s.d. 0.05/√B, the float64 simulation stays in the basin, its trend is dead, and the
    full-data Newton gain is far under gtol·gap -> ``local_min`` (not ``noise_floor``: the level is held up by
    the landscape, not by the noise)."""
    lrs, batches = [0.005, 0.01, 0.02], [1, 8]
    experiment = ej.minimize(
        name="double_well", loss=lambda w, h, b: jnp.mean((w**2 - 1) ** 2 + b * w), params=lambda key, h: 1.0,
        optimizer=lambda h: optax.sgd(h["learning_rate"]), data=A.astype(np.float32),
        grid=ej.Grid(ej.values("learning_rate", lrs, scale="log"), ej.values("batch_size", batches), ej.seeds(4)),
        steps=STEPS, global_min=float(WELL_F_STAR))
    result = ej.sweep(experiment, records=RECORDS, examples_per_outcome=0)
    judged = 0
    for i, lr in enumerate(lrs):
        for j, batch in enumerate(batches):
            if well_truth(lr, batch) == "local_min":
                judged += 1
                assert (result.labels[i, j] == "local_min").all(), (lr, batch, list(result.labels[i, j]))
    assert judged >= 4


# ---------------------------------------------------------------------------------------------------------------
# The sampler, and the gradient noise scale.

def test_minibatches_are_drawn_uniformly_with_replacement_and_differ_per_seed():
    """Counting draws: the loss −mean(p[i] over the batch) with SGD at lr = B adds one to p[i] per draw of i,
    so the final parameters are the draw counts. For B < N their chi-square statistic, summed over 16 seeds,
    lies within the central 99.98 % of χ² with 16·(N − 1) degrees of freedom (uniform, with replacement:
    drawing B distinct indices per step would shrink it by (N − B)/(N − 1), here 2/7, far below that
    band); the seeds' counts all differ; and B = N counts every example exactly once per step."""
    n, steps = 8, 200
    experiment = ej.minimize(
        name="counter", loss=lambda p, h, b: -jnp.mean(p[b.astype(jnp.int32)]), params=lambda key, h: jnp.zeros(n),
        optimizer=lambda h: optax.sgd(h["batch_size"]), data=np.arange(n, dtype=np.float32),
        metrics=lambda p, h: {f"count{k}": p[k] for k in range(n)},
        grid=ej.Grid(ej.values("batch_size", [6, n]), ej.seeds(16)), steps=steps, global_min=-1e9)
    result = ej.sweep(experiment, records=10, examples_per_outcome=0)
    counts = np.stack([result.final[f"count{k}"] for k in range(n)], -1).astype(np.float64)  # (2, 16, n)
    made = counts[0].sum(1)
    assert np.all(made == made[0]) and made[0] in (6 * steps, 6 * (steps - 1))
    draws = made[0]
    chi2 = float(np.sum((counts[0] - draws / n) ** 2 / (draws / n)))
    dof = 16 * (n - 1)
    assert stats.chi2.ppf(1e-4, dof) < chi2 < stats.chi2.ppf(1 - 1e-4, dof), chi2
    assert len({tuple(c) for c in counts[0]}) == 16
    assert np.all(counts[1] == draws / 6)  # B = N: every example once per step


def test_noise_scale_against_the_closed_form_and_the_exact_sample_quantity():
    """B_simple = tr(Σ)/|G|² on linear regression with x ~ N(0, I_d), y = x·w* + ε, ε ~ N(0, σ²), at w = w* + δ:
    the per-example gradient x(x·δ − ε) has mean δ and tr Σ = (d + 1)|δ|² + dσ², so B_simple →
    ((d + 1)|δ|² + dσ²)/|δ|² (to 3 % at N = 100,000), and it equals the same sample quantity computed here from
    float64 per-example gradients (unbiased covariance) to 1e-4 relative."""
    n, d, sigma = 100_000, 4, 1.0
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, d))
    w_star = np.array([0.5, -0.2, 0.1, 0.3])
    y = x @ w_star + sigma * rng.standard_normal(n)
    delta = np.array([0.5, 0.5, -0.5, 0.5])
    w = w_star + delta
    loss = lambda p, h, b: 0.5 * jnp.mean((b[0] @ p - b[1]) ** 2)  # noqa: E731
    measured = float(ej.noise_scale(loss, jnp.asarray(w, jnp.float32), {},
                                    (x.astype(np.float32), y.astype(np.float32))))
    closed = ((d + 1) * delta @ delta + d * sigma**2) / (delta @ delta)
    assert measured == pytest.approx(closed, rel=0.03)
    x32, y32 = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    grads = x32 * (x32 @ w.astype(np.float32).astype(np.float64) - y32)[:, None]
    mean = grads.mean(0)
    exact = np.sum((grads - mean) ** 2) / (n - 1) / (mean @ mean)
    assert measured == pytest.approx(exact, rel=1e-4)
