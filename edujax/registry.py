"""Finding experiments: modules in `experiments/`, or any `.py` file by path.

An experiment module defines a module-level `experiment` (an
`edujax.Experiment`). Modules are looked up in `./experiments` and in the
`experiments/` folder of the edujax checkout, by file name.
"""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

from edujax.errors import UserError
from edujax.experiment import Experiment

SEARCH_PATH = (Path.cwd() / "experiments", Path(__file__).resolve().parent.parent / "experiments")


def available() -> dict[str, Path]:
    """Experiment names (file stems) and their paths; earlier folders win."""
    found: dict[str, Path] = {}
    for folder in SEARCH_PATH:
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path)
    return found


def load_module(path: Path):
    """Import a module from a file; any failure becomes a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    module_name = f"edujax_experiment_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise UserError(f"{path}:{err.lineno}: syntax error: {err.msg}") from None
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    except Exception as err:  # any failure of user code at import time is the user's to fix
        raise UserError(f"{path}: {type(err).__name__} while importing: {err}") from None
    sys.modules[module_name] = module
    return module


def load_file(path: Path) -> Experiment:
    """The module-level `experiment` of a file, or a one-line UserError."""
    experiment = getattr(load_module(path), "experiment", None)
    if not isinstance(experiment, Experiment):
        raise UserError(f"{path}: defines no `experiment = edujax.minimize(...)` or `edujax.Experiment(...)`")
    return experiment


def resolve(name_or_path: str) -> Path:
    """The file of an experiment given by name (see `available`) or by path."""
    if name_or_path.endswith(".py") or "/" in name_or_path:
        return Path(name_or_path)
    known = available()
    if name_or_path not in known:
        raise UserError(f"unknown experiment {name_or_path!r} (available: {', '.join(known) or 'none'})")
    return known[name_or_path]


def load(name_or_path: str) -> Experiment:
    """An experiment by name (see `available`) or by the path of its `.py` file."""
    return load_file(resolve(name_or_path))


def docstring(path: Path) -> str:
    """The module docstring of an experiment file: the page's explanation of it."""
    return ast.get_docstring(ast.parse(Path(path).read_text())) or ""
