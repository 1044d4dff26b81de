"""Shared fixtures: small experiments that compile in well under a second."""
import os

# The suite never writes into the user's compilation cache (~/.cache/edujax/jax): every sweep it runs, in this
# process or in a `python -m edujax` it starts, compiles from scratch (the cache's own tests use a tmp folder).
os.environ["EDUJAX_CACHE"] = "off"

import pytest

from edujax.app import registry


@pytest.fixture(scope="session")
def quadratic():
    return registry.load("quadratic")


@pytest.fixture(scope="session")
def quadratic_momentum():
    return registry.load("quadratic_momentum")


#: The test files that take longest (about a minute or more of compiling and sweeping each, measured on a
#: 2-core machine), slowest first. `make test` hands whole files to two workers in collection order (with
#: `--no-loadscope-reorder`; by default pytest-xdist would start the files with the most tests first, which
#: left the README's and the notebook's single long tests for last and one core idle for 100 s).
SLOW_FILES = ("test_scale.py", "test_readme.py", "test_runner.py", "test_landscapes.py", "test_fractal_boundary.py",
              "test_regression.py", "test_pipeline.py", "test_notebook.py", "test_sharpness.py", "test_gan_ring.py",
              "test_page.py", "test_resume.py", "test_noisy_truth.py", "test_cli.py", "test_bench.py", "test_truth.py",
              "test_state_roundtrip.py")


def pytest_collection_modifyitems(items):
    first = {name: rank for rank, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable: the rest keep their order
