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


#: `make mutate`: the tests a module's mutants are run against, its own unit tests (the files beside it). mutmut
#: picks every test that reaches the mutated function; most sweeps reach the classifier and the chunk loop, and
#: running them all for each of ~3,000 mutants would take half a day on 2 cores. A mutant these files miss is a
#: survivor even if a slower test elsewhere would catch it: the score measures the module's own tests.
MUTATE_TESTS = {
    "edujax.core.outcomes": ("core/test_outcomes.py", "core/test_noisy_rules.py", "core/test_criteria.py"),
    "edujax.core.grid": ("core/test_grid.py", "core/test_axes.py"),
    "edujax.core.fractal": ("core/test_fractal.py",),
    "edujax.core.experiment": ("core/test_experiment.py",),
    "edujax.store.files": ("store/test_files.py", "store/test_ownership.py", "store/test_atomic.py",
                           "store/test_result.py"),
    "edujax.store.result": ("store/test_result.py", "store/test_state_roundtrip.py"),
    "edujax.runner.chunks": ("runner/test_chunks.py", "runner/test_resume.py"),
    "edujax.runner.trace": ("runner/test_record_plan.py",),
    "edujax.runner.devices": ("runner/test_devices.py",),
    "edujax.app.cli": ("app/test_cli.py", "core/test_grid.py"),
    "edujax.app.compare": ("app/test_compare.py", "store/test_ownership.py"),
    "edujax.app.zoom": ("app/test_zoom_save.py", "store/test_ownership.py"),
}


def mutant_tests(items, mutant: str):
    """The items among `items` that `MUTATE_TESTS` gives the module of `mutant` (mutmut's name for it, e.g.
    `edujax.core.grid.x_points__mutmut_3`); all of them for a module it does not list."""
    module = next((m for m in MUTATE_TESTS if mutant.startswith(m + ".x")), None)
    if module is None:
        return items
    files = tuple(f"tests/{name}" for name in MUTATE_TESTS[module])
    return [item for item in items if item.nodeid.split("::")[0].endswith(files)]


def pytest_collection_modifyitems(config, items):
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" in mutant:  # a mutant's run under `make mutate` (not its stats or clean runs)
        keep = mutant_tests(items, mutant)
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
    first = {name: rank for rank, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable: the rest keep their order
