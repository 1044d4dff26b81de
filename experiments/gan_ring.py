"""A small GAN on a ring of 8 Gaussians: which learning-rate pairs learn every mode?

The data is the classic 2-D mixture of 8 Gaussians (std σ = 0.05) on a circle
of radius 2. The generator G is an MLP 2 → 32 → 32 → 2 (ReLU) on Gaussian
noise z ∈ ℝ², the discriminator D an MLP 2 → 32 → 32 → 1 (about 1.2k
parameters each, flax NNX). Each step draws 64 real and 64 fake samples;
D takes an Adam step on the standard GAN loss softplus(−D(real)) +
softplus(D(fake)), then G an Adam step on the non-saturating loss
softplus(−D(G(z))) against the updated D (Adam with β₁ = 0.5, as usual for
GANs; each player has its own learning rate).

Quality is measured with the standard metrics. A generated sample is *high
quality* if it lies within 3σ of a mode; it then counts for its nearest mode.
Per step, the share of the batch that is high quality near each mode is
averaged over the last ~50 steps (an exponential moving average, decay 0.98),
so the metrics read 3,200 samples at no extra cost. From this mode histogram
p (8 shares, summing to the high-quality share):

- ``modes``:   modes covered, i.e. holding ≥ 20% of their fair share 1/8;
- ``quality``: the high-quality share Σ p_k;
- ``loss``:    the total-variation distance 1 − Σ min(p_k, 1/8) between
  the histogram (low-quality samples counted as off every mode) and the
  data's (1/8 per mode): 0 for a perfect generator, 7/8 for one that
  puts every sample on a single mode, 1 for one that hits none.

Outcomes (`classify`, thresholds below), judged on the loss at the record
points of the final quarter of the run and the final histogram. Every step
sees fresh samples, so the loss is noisy: a straight line is fitted to the
final quarter's records, and a trend counts only when its fitted change
exceeds 3 standard errors of the fit (the same test as edujax's rules for
noisy runs); what is left about the line is the loss's swing.

1. ``diverged``:      a GAN loss became non-finite.
2. ``oscillating``:   about its trend the loss swings by more than SWING
                      (peak to trough of the residuals): the quality keeps
                      rising and falling, far beyond sampling noise.
3. ``slow``:          not there yet, and measurably improving: the fitted
                      line falls by more than 3 standard errors.
4. ``off_data``:      stuck off the data: under LEARNED (25%) of the samples
                      are high quality and nothing improves (a generator that
                      collapsed onto a point off the ring, or never found it).
5. ``mode_collapse``: fewer than 8 modes covered.
6. ``converged``:     all 8 modes covered (and steady: rules 2, 3).

Grid: generator learning rate × discriminator learning rate (log) × 3 init
seeds (the heatmap shows each cell's majority outcome).
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

import edujax as ej

N_MODES, RADIUS, SIGMA = 8, 2.0, 0.05
MODES = np.stack([RADIUS * np.cos(2 * np.pi * np.arange(N_MODES) / N_MODES),
                  RADIUS * np.sin(2 * np.pi * np.arange(N_MODES) / N_MODES)], axis=1).astype(np.float32)
NOISE_DIM, HIDDEN, BATCH = 2, 32, 64
EMA_DECAY = 0.98
COVERED_SHARE = 0.2  # of a mode's fair share 1/8
SWING = 0.15
LEARNED = 0.25
MODE_COLLAPSE = "mode_collapse"
OFF_DATA = "off_data"
TREND_MARGIN = 3.0  # standard errors a fitted trend must exceed to count


class MLP(nnx.Module):
    def __init__(self, d_in, d_out, *, rngs: nnx.Rngs):
        self.hidden1 = nnx.Linear(d_in, HIDDEN, rngs=rngs)
        self.hidden2 = nnx.Linear(HIDDEN, HIDDEN, rngs=rngs)
        self.out = nnx.Linear(HIDDEN, d_out, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden2(nnx.relu(self.hidden1(x)))))


def generator(key):
    return MLP(NOISE_DIM, 2, rngs=nnx.Rngs(key))


def discriminator(key):
    return MLP(2, 1, rngs=nnx.Rngs(key))


# The static structure, split once; the parameters live in the scanned state.
G_GRAPH = nnx.split(nnx.eval_shape(lambda: generator(jax.random.key(0))))[0]
D_GRAPH = nnx.split(nnx.eval_shape(lambda: discriminator(jax.random.key(0))))[0]


def generate(g_params, z):
    return nnx.merge(G_GRAPH, g_params)(z)


def critic(d_params, x):
    return nnx.merge(D_GRAPH, d_params)(x)[:, 0]


def sample_data(key, n):
    pick, noise = jax.random.split(key)
    return jnp.asarray(MODES)[jax.random.randint(pick, (n,), 0, N_MODES)] + SIGMA * jax.random.normal(noise, (n, 2))


def mode_shares(x):
    """Share of the samples `x` that are high quality (within 3σ) near each mode."""
    dist2 = jnp.sum((x[:, None, :] - MODES[None]) ** 2, axis=-1)
    good = jnp.min(dist2, axis=1) <= (3 * SIGMA) ** 2
    return jnp.mean(jax.nn.one_hot(jnp.argmin(dist2, axis=1), N_MODES) * good[:, None], axis=0)


def mode_metrics(shares):
    """loss (TV distance to the data's mode histogram), modes covered, quality."""
    return {
        "loss": 1.0 - jnp.sum(jnp.minimum(shares, 1.0 / N_MODES)),
        "modes": jnp.sum(shares >= COVERED_SHARE / N_MODES),
        "quality": jnp.sum(shares),
    }


def adam(learning_rate):
    return optax.adam(learning_rate, b1=0.5)


def init(key, hparams):
    g_key, d_key, key = jax.random.split(key, 3)
    g = nnx.state(generator(g_key), nnx.Param)
    d = nnx.state(discriminator(d_key), nnx.Param)
    shares = jnp.zeros(N_MODES)
    return g, d, adam(hparams["lr_g"]).init(g), adam(hparams["lr_d"]).init(d), shares, key


def step(state, hparams):
    g, d, g_opt, d_opt, shares, key = state
    key, z_key, x_key = jax.random.split(key, 3)
    z = jax.random.normal(z_key, (BATCH, NOISE_DIM))
    real, fake = sample_data(x_key, BATCH), generate(g, z)

    def d_loss(d):
        return jnp.mean(jax.nn.softplus(-critic(d, real))) + jnp.mean(jax.nn.softplus(critic(d, fake)))

    def g_loss(g):
        return jnp.mean(jax.nn.softplus(-critic(d, generate(g, z))))

    d_value, d_grads = jax.value_and_grad(d_loss)(d)
    updates, d_opt = adam(hparams["lr_d"]).update(d_grads, d_opt, d)
    d = optax.apply_updates(d, updates)
    g_value, g_grads = jax.value_and_grad(g_loss)(g)
    updates, g_opt = adam(hparams["lr_g"]).update(g_grads, g_opt, g)
    shares = EMA_DECAY * shares + (1 - EMA_DECAY) * mode_shares(fake)
    metrics = {**mode_metrics(shares), "d_loss": d_value, "g_loss": g_value}
    return (optax.apply_updates(g, updates), d, g_opt, d_opt, shares, key), metrics


def trend(loss):
    """A least-squares line through each row of `loss` (evenly spaced records): its fall over the row, that
    fall's standard error, and the residuals' peak-to-trough swing about the line."""
    t = np.arange(loss.shape[1], dtype=np.float64) - (loss.shape[1] - 1) / 2
    slope = (loss - loss.mean(1, keepdims=True)) @ t / (t @ t)
    residuals = loss - loss.mean(1, keepdims=True) - slope[:, None] * t
    se = np.sqrt((residuals**2).sum(1) / max(loss.shape[1] - 2, 1) / (t @ t))
    span = loss.shape[1] - 1
    return -slope * span, se * span, residuals.max(1) - residuals.min(1)


def classify(runs, codes):
    """The rules of the module docstring, on the engine's record points."""
    final_quarter = np.asarray(runs["loss"][:, -(runs["loss"].shape[1] // 4 + 1):], np.float64)
    with np.errstate(invalid="ignore"):  # a non-finite run is diverged whatever its line says
        fall, se, swing = trend(final_quarter)
    improving = (fall > TREND_MARGIN * se) & (fall > 0)
    finite = (np.isfinite(runs["final"]["d_loss"]) & np.isfinite(runs["final"]["g_loss"])
              & np.isfinite(runs["hi"]).all(1))
    names = list(experiment.outcome_colors)
    return np.select(
        [~finite, swing > SWING, improving, runs["final"]["quality"] < LEARNED, runs["final"]["modes"] < N_MODES],
        [names.index(n) for n in ("diverged", "oscillating", "slow", OFF_DATA, MODE_COLLAPSE)],
        default=names.index("converged"),
    )


def sample_scatter(result, out_dir):
    """Generated samples of the representative runs next to the data.

    Each panel draws 1,000 samples from the generator the sweep itself ended
    with (its final state, kept in `result.examples`), so the picture shows the
    very run the map classified; the title gives the sweep's recorded final
    metrics for that cell.
    """
    ex = result.examples
    generators = ex["state"][0]  # the state is (G, D, G's Adam, D's Adam, mode shares, key), one per example
    z = jax.random.normal(jax.random.key(1), (1000, NOISE_DIM))
    samples = np.asarray(jax.vmap(generate, in_axes=(0, None))(generators, z))
    data = np.asarray(sample_data(jax.random.key(2), 1000))
    codes = sorted(set(ex["outcome"].tolist()))
    per_row = max(int(np.sum(ex["outcome"] == c)) for c in codes)
    fig = Figure(figsize=(2.8 * per_row, 2.8 * len(codes)), layout="constrained")
    panels = fig.subplots(len(codes), per_row, squeeze=False)
    for ax in panels.ravel():
        ax.set_axis_off()
    for r, code in enumerate(codes):
        name = result.outcome_names[code]
        for c, row in enumerate(np.flatnonzero(ex["outcome"] == code)):
            index = int(ex["index"][row])
            ax = panels[r, c]
            ax.set_axis_on()
            ax.scatter(data[:, 0], data[:, 1], s=1, color="0.8")
            ax.scatter(samples[row, :, 0], samples[row, :, 1], s=1, color=result.outcome_colors[name])
            ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xticks=[], yticks=[])
            lr_g, lr_d = (result.hparams[k].ravel()[index] for k in ("lr_g", "lr_d"))
            modes, quality = (result.final[k].ravel()[index] for k in ("modes", "quality"))
            ax.set_title(f"{name}: lr_G {lr_g:.2g}, lr_D {lr_d:.2g}\n{int(modes)} modes, {quality:.0%} high quality",
                         fontsize=8, color=result.outcome_colors[name])
    fig.suptitle(f"gan_ring: the final generators of representative runs after {result.steps} steps:\n1,000 samples"
                 " (colour) over the data (grey); titles: the sweep's final metrics", fontsize=9)
    fig.savefig(out_dir / "samples.png", dpi=130)
    return {"samples.png": "Samples from the final generator of representative runs of each outcome, "
                           "over the 8-mode ring."}


experiment = ej.Experiment(
    name="gan_ring",
    description="A small flax GAN on a ring of 8 Gaussians: generator × discriminator learning rate (Adam).",
    init=init,
    step=step,
    grid=ej.Grid(
        ej.logspace("lr_g", 5e-4, 5e-2, 6, label="generator learning rate"),
        ej.logspace("lr_d", 5e-4, 5e-2, 6, label="discriminator learning rate"),
        ej.seeds(3),
    ),
    steps=3000,
    global_min=0.0,
    classify=classify,
    figures=sample_scatter,
    extra_outcomes={MODE_COLLAPSE: "#8c564b", OFF_DATA: "#e377c2"},
)
