"""experiments/digits.py: the split and the standardization are pinned, and the network is the MLP it claims to be."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from edujax.app import registry


@pytest.fixture(scope="module")
def digits():
    return registry.load_module(registry.available()["digits"])


@pytest.fixture(scope="module")
def raw():
    return load_digits(return_X_y=True)


def test_a_stratified_quarter_of_the_1797_images_is_held_out(digits, raw):
    images, labels = raw
    assert images.shape == (1797, 64)
    assert digits.TRAIN["image"].shape == (1347, 64) and digits.TEST["image"].shape == (450, 64)
    assert digits.TRAIN["image"].dtype == np.float32 and digits.TEST["label"].dtype == np.int32
    train_counts, test_counts = np.bincount(digits.TRAIN["label"]), np.bincount(digits.TEST["label"])
    assert test_counts.tolist() == [45, 46, 44, 46, 45, 46, 45, 45, 43, 45]  # random_state=0, pinned
    assert (train_counts + test_counts).tolist() == np.bincount(labels).tolist()
    assert np.all(np.abs(test_counts - 0.25 * np.bincount(labels)) <= 1)  # stratified: every class a quarter


def test_pixels_are_standardized_with_the_training_images_statistics_only(digits, raw):
    images, labels = raw
    train = digits.TRAIN["image"].astype(np.float64)
    assert np.all(np.abs(train.mean(axis=0)) < 1e-5)
    spread = train.std(axis=0)
    blank = spread == 0  # pixels that are 0 in every training image stay 0
    assert blank.sum() == 4 and np.allclose(spread[~blank], 1, atol=1e-5)
    # The same split by index, standardized by hand with the raw training images' mean and spread.
    train_rows, test_rows = train_test_split(np.arange(len(labels)), test_size=0.25, stratify=labels, random_state=0)
    mean, std = images[train_rows].mean(axis=0), images[train_rows].std(axis=0)
    std[std == 0] = 1
    for part, rows in ((digits.TRAIN, train_rows), (digits.TEST, test_rows)):
        assert np.array_equal(part["label"], labels[rows])
        assert np.allclose(part["image"], (images[rows] - mean) / std, atol=1e-5)
    # Statistics of all 1,797 images (a leak of the test set) would give a different test set.
    leaky = (images[test_rows] - images.mean(axis=0)) / np.where(images.std(axis=0) > 0, images.std(axis=0), 1)
    assert not np.allclose(digits.TEST["image"], leaky, atol=1e-3)


def numpy_forward(kernel1, bias1, kernel2, bias2, x):
    """The MLP by hand in float64: ReLU(x W₁ + b₁) W₂ + b₂."""
    return np.maximum(x @ kernel1 + bias1, 0) @ kernel2 + bias2


def test_the_network_is_a_64_64_10_relu_mlp_equal_to_numpy_in_float64(digits):
    params = digits.weights(jax.random.key(3), {})
    noise = jax.random.split(jax.random.key(4), len(jax.tree.leaves(params)))  # nonzero biases too
    leaves, treedef = jax.tree.flatten(params)
    params = treedef.unflatten([a + 0.1 * jax.random.normal(k, a.shape) for a, k in zip(leaves, noise)])
    model = nnx.merge(digits.GRAPHDEF, params)
    weights = [np.asarray(v, np.float64) for v in (model.hidden.kernel[...], model.hidden.bias[...],
                                                   model.out.kernel[...], model.out.bias[...])]
    assert [w.shape for w in weights] == [(64, 64), (64,), (64, 10), (10,)]
    assert sum(w.size for w in weights) == 4810
    x = digits.TEST["image"].astype(np.float64)
    expected = numpy_forward(*weights, x)
    got = np.asarray(digits.logits(params, digits.TEST["image"]), np.float64)
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-4)
    # the loss and the metric on the same weights, against NumPy
    shifted = expected - expected.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    labels = digits.TEST["label"]
    cross_entropy = -log_softmax[np.arange(len(labels)), labels].mean()
    assert np.isclose(float(digits.cross_entropy(params, {}, digits.TEST)), cross_entropy, rtol=1e-5)
    accuracy = float(digits.accuracy(params, {}, digits.TEST)["accuracy"])
    assert accuracy == pytest.approx(np.mean(expected.argmax(axis=1) == labels))


def test_the_loss_of_a_batch_is_the_mean_of_its_examples_losses(digits):
    """The minibatch runner evaluates the loss one example at a time under vmap and averages."""
    params = digits.weights(jax.random.key(0), {})
    batch = jax.tree.map(lambda a: jnp.asarray(a[:32]), digits.TRAIN)
    one_by_one = jax.vmap(lambda x, y: digits.cross_entropy(params, {}, {"image": x[None], "label": y[None]}))
    assert np.isclose(float(jnp.mean(one_by_one(batch["image"], batch["label"]))),
                      float(digits.cross_entropy(params, {}, batch)), rtol=1e-6)
    other = digits.weights(jax.random.key(1), {})
    flat = [np.concatenate([np.ravel(a) for a in jax.tree.leaves(p)]) for p in (params, other)]
    assert not np.allclose(*flat)  # every seed its own network
