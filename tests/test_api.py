"""The public API: experiments use only what `edujax` exports, and the page's code needs no matplotlib."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import edujax

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted((REPO / "experiments").glob("*.py"))


def private_uses(source: str) -> list[str]:
    """Every `edujax.X` an experiment reaches (import or attribute) where X is not in `edujax.__all__`."""
    tree = ast.parse(source)
    aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                parts = name.name.split(".")
                if parts[0] == "edujax":
                    if len(parts) > 1 and parts[1] not in edujax.__all__:
                        found.append(f"line {node.lineno}: import {name.name}")
                    aliases.add(name.asname or "edujax")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "edujax":
            parts = node.module.split(".")
            if len(parts) > 1 and parts[1] not in edujax.__all__:
                found.append(f"line {node.lineno}: from {node.module} import ...")
            elif len(parts) == 1:
                found += [f"line {node.lineno}: from edujax import {n.name}"
                          for n in node.names if n.name not in edujax.__all__]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr not in edujax.__all__:
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_scanner_finds_private_imports():
    source = ("import edujax as ej\nfrom edujax import plots_landscapes\nfrom edujax.runner import replay\n"
              "from edujax import runner\nimport edujax.outcomes\nej.sweep\nej.runner.replay\n")
    assert private_uses(source) == ["line 3: from edujax.runner import ...", "line 4: from edujax import runner",
                                    "line 5: import edujax.outcomes", "line 7: ej.runner"]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiments_import_only_the_public_api(path):
    assert private_uses(path.read_text()) == [], f"{path.name} reaches into edujax's private modules"


def test_every_public_name_exists():
    for name in edujax.__all__:
        assert getattr(edujax, name) is not None, name


def test_the_page_and_the_problems_do_not_import_matplotlib():
    code = ("import sys, edujax, edujax.report.page, edujax.core.landscapes, edujax.core.regression,"
            " edujax.report.maps;"
            "print('matplotlib' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.stdout.strip() == "False", proc.stderr


def test_import_edujax_gives_one_cpu_device_per_core_unless_told_otherwise():
    """The Python API splits the CPU like the command line; an explicit count wins."""
    from edujax.runner import devices

    code = "import edujax, jax; print(jax.device_count())"
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
    base["JAX_PLATFORMS"] = "cpu"
    for extra, expected in [({}, devices.cpu_cores()), ({"JAX_NUM_CPU_DEVICES": "3"}, 3),
                            ({"XLA_FLAGS": "--xla_force_host_platform_device_count=5"}, 5)]:
        proc = subprocess.run([sys.executable, "-c", code], env={**base, **extra}, capture_output=True, text=True,
                              timeout=120, cwd=REPO)
        assert proc.stdout.strip() == str(expected), (extra, proc.stderr)
