"""Minibatch SGD on linear regression: how large a learning rate, and how large a batch?

The data: N = 256 examples with d = 8 features whose covariance is exactly
H = diag(λ), λ from 1 down to 0.1 (whitened Gaussian features, rescaled), and
noisy targets y = x·w* + ε, ε ~ N(0, 0.3²). The loss is the mean squared error
½·mean((x·w − y)²), a quadratic bowl whose minimum f* (the least-squares fit)
and curvature are known in closed form. Every step draws B examples with
replacement and follows their mean gradient: an unbiased estimate of the full
gradient whose noise shrinks like 1/B.

What the map shows (learning rate × batch size, majority over 4 seeds):

- **The usable learning rate grows with the batch, then saturates.** A
  minibatch step multiplies the error by I − lr·H_B, a random matrix; the
  run's mean square stays bounded only while the second-moment map
  P ↦ E[(I − lr·H_B) P (I − lr·H_B)] contracts. For small B the noise term
  (∝ lr²/B) sets the limit, so the largest stable learning rate grows ∝ B
  (the *linear scaling rule* of Goyal et al. 2017); for large B it meets
  the full-batch limit 2/λ_max. The curve drawn is that exact mean-square
  limit, computed from the data's moments. It is the conservative edge: a
  typical run survives a little beyond it (mean-square stability is
  stricter than almost-sure stability), and runs just below it relax so
  slowly towards their high stationary level that they are still climbing
  past their start when time runs out (``diverged``: they got worse).
- **The noise floor.** With a constant learning rate SGD does not converge
  to f*: it hovers around it with an excess loss that grows with lr/B. Runs
  whose level stays above the tolerance are ``noise_floor``; a smaller
  learning rate or a larger batch goes lower. Below the floor's reach, small
  learning rates are ``slow``: still measurably descending when time runs out.
- **The critical batch size.** Steps to reach the target (the loss within 2 %
  of its start above f*) at each batch size's best learning rate follow
  S = S_min·(1 + B_noise/B) (McCandlish et al. 2018): doubling a small batch
  halves the steps, doubling a batch far above B_noise saves almost none.
  `scaling.png` fits S_min and B_noise and compares B_noise with the simple
  noise scale B_simple = tr(Σ)/|G|², measured inside the sweep on the full
  data at the moment each run reached the target. On an ill-conditioned
  bowl the two differ by a small factor (McCandlish et al.: the critical
  batch is tr(HΣ)/GᵀHG, which weighs noise and gradient by the curvature),
  here B_noise ≈ 10 against B_simple ≈ 46: the same order, and both say
  that batches beyond a few dozen examples buy almost no steps.

The full-batch row (B = N = 256) is gradient descent on the data in
order, judged by the deterministic rules: converged below 2/λ_max = 2,
diverged above it.
"""
import functools

import jax.numpy as jnp
import numpy as np
import optax

import edujax as ej

N, D, NOISE = 256, 8, 0.3
EIGENVALUES = np.geomspace(1.0, 0.1, D)
BATCH_SIZES = tuple(2**k for k in range(9))  # 1 … 256 = N


def make_data(seed: int = 0):
    """Features with covariance exactly diag(EIGENVALUES) over the N examples, and noisy linear targets."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(N, D))
    z -= z.mean(0)
    u, s, vt = np.linalg.svd(z / np.sqrt(N), full_matrices=False)
    x = (u @ vt) * np.sqrt(N) * np.sqrt(EIGENVALUES)  # xᵀx / N = diag(λ) exactly
    w_true = np.full(D, 2.0 / np.sqrt(D))
    y = x @ w_true + NOISE * rng.normal(size=N)
    return x, y


X, Y = make_data()
W_LS = np.linalg.solve(X.T @ X, X.T @ Y)  # the least-squares fit: the minimum
F_STAR = float(0.5 * np.mean((X @ W_LS - Y) ** 2))


def loss(w, hparams, batch):
    x, y = batch
    return 0.5 * jnp.mean((x @ w - y) ** 2)


@functools.lru_cache(maxsize=None)
def stable_limit(batch_size: int) -> float:
    """The largest learning rate at which SGD's mean square stays bounded: the second-moment map
    T(P) = P − lr(HP + PH) + lr²((1 − 1/B)·HPH + M(P)/B), M(P) = mean_i x_i x_iᵀ P x_i x_iᵀ, must have spectral
    radius below 1 (bisection on lr). A batch of the whole data set is gradient descent: 2/λ_max."""
    if batch_size >= N:
        return float(2 / EIGENVALUES.max())
    h = X.T @ X / N
    eye = np.eye(D)
    fourth = np.einsum("ni,nj,nk,nl->ikjl", X, X, X, X).reshape(D * D, D * D) / N  # vec(M(P)) = fourth·vec(P)
    first = np.kron(eye, h) + np.kron(h, eye)
    second = (1 - 1 / batch_size) * np.kron(h, h) + fourth / batch_size

    def radius(lr):
        return np.abs(np.linalg.eigvals(np.eye(D * D) - lr * first + lr**2 * second)).max()

    lo, hi = 0.0, 2 / EIGENVALUES.max()
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if radius(mid) < 1 else (lo, mid)
    return lo


def scaling(result) -> dict:
    """Steps to target at each batch size's best learning rate (the median over seeds; a learning rate
    counts only if every seed got there), the fit S = S_min·(1 + B_noise/B), the largest learning rate
    every seed survived, and B_simple where the best runs reached the target."""
    lr = result.grid.axes[result.grid.names.index("learning_rate")].values.astype(np.float64)
    sizes = result.grid.axes[result.grid.names.index("batch_size")].values.astype(np.float64)
    lr_at, b_at = result.grid.names.index("learning_rate"), result.grid.names.index("batch_size")
    steps = np.moveaxis(result.steps_to_target, (lr_at, b_at), (0, 1))  # (lr, B, seeds)
    reached = np.where(np.isnan(steps).any(-1), np.inf, np.median(steps, -1))
    best = reached.argmin(0)
    s = reached[best, np.arange(len(sizes))]
    ok = np.isfinite(s)
    design = np.stack([np.ones(ok.sum()), 1 / sizes[ok]], 1)
    (s_min, slope), *_ = np.linalg.lstsq(design, s[ok], rcond=None)
    diverged = np.moveaxis(result.labels == "diverged", (lr_at, b_at), (0, 1)).any(-1)
    survived = np.array([lr[~diverged[:, j]].max() if (~diverged[:, j]).any() else np.nan for j in range(len(sizes))])
    b_simple = np.full(len(sizes), np.nan)
    scale = result.records.get("noise_scale")
    if scale is not None and result.traced_all:
        noise = np.moveaxis(scale, (lr_at, b_at), (0, 1))
        target = np.moveaxis(result.steps_to_target, (lr_at, b_at), (0, 1))
        for j in range(len(sizes)):
            at = np.searchsorted(result.record_steps, target[best[j], j])  # the record where each seed got there
            valid = at < len(result.record_steps)
            if valid.any():
                b_simple[j] = np.median(noise[best[j], j][valid, at[valid]])
    return {"batch_size": sizes, "best_lr": lr[best], "steps": s, "s_min": float(s_min),
            "b_noise": float(slope / s_min) if s_min > 0 else float("nan"), "b_simple": b_simple,
            "largest_stable_lr": survived, "theory_lr": np.array([stable_limit(int(b)) for b in sizes])}


def figures(result, out_dir):
    from matplotlib.figure import Figure

    fit = scaling(result)
    sizes = fit["batch_size"]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    dense = np.geomspace(sizes.min(), sizes.max(), 200)
    left.loglog(sizes, fit["steps"], "o", color="#1f77b4", label="measured (best learning rate)")
    left.loglog(dense, fit["s_min"] * (1 + fit["b_noise"] / dense), "-", color="#1f77b4",
                label=f"S_min(1 + B_noise/B): S_min = {fit['s_min']:.0f}, B_noise = {fit['b_noise']:.0f}")
    b_simple = float(np.nanmedian(fit["b_simple"])) if np.isfinite(fit["b_simple"]).any() else float("nan")
    if np.isfinite(fit["b_noise"]):
        left.axvline(fit["b_noise"], color="#1f77b4", ls=":", lw=1)
    if np.isfinite(b_simple):
        left.axvline(b_simple, color="#d62728", ls="--", lw=1, label=f"B_simple at the target ≈ {b_simple:.0f}")
    left.set_xlabel("batch size B")
    left.set_ylabel("steps to target")
    left.set_title("Steps to the target against batch size")
    left.legend(fontsize=8)
    right.loglog(sizes, fit["largest_stable_lr"], "o", color="#2ca02c", label="largest learning rate no seed diverged")
    dense_int = np.unique(np.round(np.geomspace(1, N, 40)).astype(int))
    right.loglog(dense_int, [stable_limit(int(b)) for b in dense_int], "-", color="#d62728",
                 label="mean-square stability limit (theory)")
    right.axhline(2 / EIGENVALUES.max(), color="k", ls=":", lw=1, label="full batch: 2/λ_max")
    right.set_xlabel("batch size B")
    right.set_ylabel("learning rate")
    right.set_title("The linear scaling rule, and where it saturates")
    right.legend(fontsize=8)
    fig.savefig(out_dir / "scaling.png", dpi=130)
    return {"scaling.png": f"Left: steps to target at each batch size's best learning rate with the fit "
                           f"S = S_min(1 + B_noise/B) (S_min = {fit['s_min']:.0f}, B_noise = {fit['b_noise']:.0f}) "
                           f"and the measured noise scale B_simple ≈ {b_simple:.0f}. Right: the largest learning "
                           "rate every seed survived against the mean-square stability limit."}


experiment = ej.minimize(
    name="sgd_batch_size",
    description="Minibatch SGD on noisy linear regression: learning rate × batch size × seeds.",
    loss=loss,
    params=lambda key, hparams: jnp.zeros(D),
    optimizer=lambda hparams: optax.sgd(hparams["learning_rate"]),
    data=(X.astype(np.float32), Y.astype(np.float32)),
    noise_scale=True,
    grid=ej.Grid(
        ej.logspace("learning_rate", 1e-3, 4.0, 40, label="learning rate"),
        ej.values("batch_size", BATCH_SIZES, scale="log", label="batch size B"),
        ej.seeds(4),
    ),
    steps=1500,
    records=500,  # steps to target to within 3 steps
    global_min=F_STAR,
    criteria=ej.Criteria(rtol=0.02),
    boundaries=(ej.Boundary("mean-square stability limit", "learning_rate",
                            lambda hparams: np.vectorize(lambda b: stable_limit(int(b)))(hparams["batch_size"])),),
    figures=figures,
)
