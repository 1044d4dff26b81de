"""Finding experiments: modules in `experiments/`, or any `.py` file by path.

An experiment module defines a module-level `experiment` (an
`edujax.Experiment`). Modules are looked up in `./experiments` and in the
`experiments/` folder of the edujax checkout, by file name. `new` starts one
in `./scratch/`, which `make sweep` does not sweep until the file is moved
into `experiments/`. Every experiment remembers the file it came from
(`source_of`), so a saved result can be redrawn with its own figures.
"""
from __future__ import annotations

import ast
import importlib.util
import string
import sys
import weakref
from pathlib import Path

from edujax.core.errors import UserError
from edujax.core.experiment import Experiment, check_name

#: The order of the story a learner follows (the results page's order); experiments not named here come after,
#: by name.
STORY = (
    "quadratic", "quadratic_momentum", "house_prices", "house_prices_l1", "bumpy_bowl", "bumpy_optimizers",
    "bumpy_basins", "himmelblau", "rosenbrock", "styblinski_tang", "rastrigin", "mlp_regression", "lr_warmup",
    "dirac_gan", "gan_ring",
)
SEARCH_PATH = (Path.cwd() / "experiments", Path(__file__).resolve().parents[2] / "experiments")
#: Where `new` writes: not swept by `make sweep` until moved into `experiments/`.
SCRATCH = Path("scratch")
TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "experiment.py.txt"
_SOURCES: "weakref.WeakKeyDictionary[Experiment, Path]" = weakref.WeakKeyDictionary()


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
    if path.is_dir():
        raise UserError(f"{path} is a folder: name an experiment's .py file (or its name, to find it in experiments/)")
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
    _SOURCES[experiment] = Path(path).resolve()
    return experiment


def source_of(experiment: Experiment) -> Path | None:
    """The file an experiment was defined in: the one it was loaded from, or the
    module (a script too) whose global `experiment` it is; None if there is none."""
    if experiment in _SOURCES:
        return _SOURCES[experiment]
    for module in list(sys.modules.values()):
        if getattr(module, "experiment", None) is experiment and getattr(module, "__file__", None):
            return Path(module.__file__).resolve()
    return None


def resolve(name_or_path: str) -> Path:
    """The file of an experiment given by name (see `available`) or by path."""
    if name_or_path.endswith(".py") or "/" in name_or_path or Path(name_or_path).is_dir():
        return Path(name_or_path)
    known = available()
    if name_or_path not in known:
        raise UserError(f"unknown experiment {name_or_path!r} (available: {', '.join(known) or 'none'})")
    return known[name_or_path]


def load(name_or_path: str) -> Experiment:
    """An experiment by name (see `available`) or by the path of its `.py` file (`ej.load`).

    >>> import edujax as ej
    >>> ej.load("quadratic").grid
    Grid(learning_rate[256] × start_angle[256])
    """
    return load_file(resolve(name_or_path))


def docstring(path: Path) -> str:
    """The module docstring of an experiment file: the page's explanation of it."""
    return ast.get_docstring(ast.parse(Path(path).read_text())) or ""


def where(path: Path, err: BaseException) -> str:
    """`path`, or `path:line` at the deepest line of that file in the traceback that led to `err`."""
    line = None
    while err is not None:
        tb = err.__traceback__
        while tb is not None:
            if Path(tb.tb_frame.f_code.co_filename).resolve() == Path(path).resolve():
                line = tb.tb_lineno
            tb = tb.tb_next
        err = err.__cause__
    return f"{path}:{line}" if line else str(path)


def new(name: str, folder: Path = SCRATCH) -> Path:
    """Write `folder/NAME.py` from the template: a small experiment that runs as-is. Never overwrites."""
    check_name(name)
    path = Path(folder) / f"{name}.py"
    if path.exists():
        raise UserError(f"{path} already exists: edit it, or pick another name")
    text = string.Template(TEMPLATE.read_text()).substitute(name=name, path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x") as f:  # "x": never overwrite, even if the file appeared meanwhile
        f.write(text)
    return path
