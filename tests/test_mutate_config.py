"""`make mutate`'s configuration agrees with itself: every module it mutates has its own tests, those tests are in
mutmut's selection, and each module's file is one mutmut mutates (a module missing anywhere would be skipped
silently, or have its mutants counted as "no tests")."""
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import conftest  # noqa: E402
import mutate  # noqa: E402


def test_every_mutated_module_has_its_own_tests_in_mutmuts_selection():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    selected = set(config["pytest_add_cli_args_test_selection"])
    assert set(mutate.SCOPE) == set(conftest.MUTATE_TESTS)
    for module, files in conftest.MUTATE_TESTS.items():
        assert module.replace(".", "/") + ".py" in config["only_mutate"], module
        for name in files:
            assert (ROOT / "tests" / name).is_file() and f"tests/{name}" in selected, (module, name)
        assert all(p.startswith(module + ".") for p in mutate.SCOPE[module]), module


def test_a_mutant_runs_only_its_modules_tests():
    names = ("tests/core/test_grid.py::test_a", "tests/core/test_fractal.py::test_b",
             "tests/runner/test_resume.py::test_c[seed]")
    items = [SimpleNamespace(nodeid=n) for n in names]
    assert conftest.mutant_tests(items, "edujax.core.fractal.x_sides__mutmut_3") == [items[1]]
    assert conftest.mutant_tests(items, "edujax.runner.chunks.x_run_chunks__mutmut_12") == [items[2]]
    assert conftest.mutant_tests(items, "edujax.app.cli.x_main__mutmut_1") == [items[0]]  # --grid: core/test_grid
    assert conftest.mutant_tests(items, "edujax.report.page.x_write__mutmut_1") == items  # not in scope: all
