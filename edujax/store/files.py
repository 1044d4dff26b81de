"""Never lose a file: atomic writes, whole-folder swaps, ownership marks, a lock.

Everything edujax writes into a results folder (`--out`) goes through here:

- a file is written to a temporary name and renamed over the old one
  (`atomic_write`), and a result folder is built beside the old one and
  swapped in whole (`staging`, `swap_in`), so an interrupted run never leaves
  a half-written file or folder;
- edujax overwrites only what it wrote (`is_ours`, the one check): its
  `README.md` and `index.html` carry a mark (the `marks` their writers pass to
  `claim`), its result folders a `summary.json`, a comparison's and a zoom's
  folders their data file; anything else makes it refuse with one line, and
  files that a user put inside a result folder are carried over into the new one;
- two edujax processes writing into the same folder take turns (`locked`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import zipfile
from collections.abc import Collection
from pathlib import Path

import numpy as np

from edujax.core.errors import UserError

#: The files every result folder holds besides its figures.
SUMMARY, ARRAYS, RUN_LOG = "summary.json", "sweep.npz", "run.json"
LOCK = ".edujax.lock"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent sweeps into one folder are then not guarded
    fcntl = None


def atomic_write(path: Path, write) -> None:
    """Call `write(file)` on a temporary file, then rename it over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_npz(f, arrays: dict, label: tuple[str, str] | None = None, compress: bool = True) -> None:
    """Write `arrays` ({name: array}) into the open file `f` as an `.npz` archive that `np.load`
    reads, compressed at zlib's fastest level (several times faster than `np.savez_compressed`,
    a little larger), or stored as they are (`compress=False`: faster still, for results
    too large to compress in reasonable time; README, Performance). `label`: an extra text member
    (name, text)."""
    kind = dict(compression=zipfile.ZIP_DEFLATED, compresslevel=1) if compress else dict(compression=zipfile.ZIP_STORED)
    with zipfile.ZipFile(f, "w", **kind) as archive:
        if label is not None:
            archive.writestr(*label)
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def summary_of(folder: Path, name: str = SUMMARY) -> dict | None:
    """The `summary.json` (or the `name` file) of a folder edujax wrote: a JSON object naming its experiment,
    or None if there is none."""
    try:
        summary = json.loads((Path(folder) / name).read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) and "experiment" in summary else None


def is_ours(path: Path, marks: tuple[str, ...] = (), *, holds: str = SUMMARY,
            only: Collection[str] | None = None) -> bool:
    """Whether edujax may replace `path`: the one ownership check for every file and folder it writes.

    - Nothing there (not even a dangling link): ours.
    - A symlink, wherever it points (even to something edujax wrote): never ours. The link is the user's,
      and replacing the folder it names would replace the link itself.
    - With `marks`, a file is expected (an index file): ours only as a regular file whose first 4 KiB hold
      one of `marks`; a folder of that name is not.
    - Without `marks`, a folder is expected: ours as a real folder that is empty (it holds nothing to lose,
      so accepting it is safe), or that holds the `holds` file edujax wrote there (a JSON object naming
      its experiment: a result's `summary.json`, a comparison's data, a zoom's `zoom.json`) and, when `only`
      is given, nothing but names in `only` (a comparison and a zoom carry no user files over).
    """
    path = Path(path)
    if not os.path.lexists(path):
        return True
    if path.is_symlink():
        return False
    if marks:
        if not path.is_file():
            return False
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
        return any(mark in head for mark in marks)
    if not path.is_dir():
        return False
    names = set(os.listdir(path))
    if not names:
        return True
    return summary_of(path, holds) is not None and (only is None or names <= set(only))


def foreign(path: Path, only: Collection[str]) -> list[str]:
    """For a refusal's message: the names in the folder `path` besides `only`, or all of them when none
    is foreign (the marking file is missing), or the path's own name when it is no real folder."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return [path.name]
    names = sorted(os.listdir(path))
    return [n for n in names if n not in set(only)] or names


def claim(path: Path, marks: tuple[str, ...] = ()) -> None:
    """Refuse (one line) to replace a file or folder that edujax did not write (`is_ours`)."""
    if not is_ours(path, marks):
        kind = "folder" if Path(path).is_dir() else "file"
        raise UserError(f"{path} exists and was not written by edujax: move it away or choose another --out "
                        f"(edujax never overwrites a {kind} it did not write)")


def check_writable(folder: Path) -> None:
    """Refuse (one line) a results folder that is a file or cannot be written, before any work starts."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "exists and is not a folder" if existing == folder else f"{existing} is a file, not a folder"
        raise UserError(f"--out {folder}: {where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"--out {folder}: cannot write in {existing} (read-only, or not yours)")


def own_files(folder: Path) -> set[str]:
    """The names in a result folder that edujax wrote: its standard files, the figures its
    summary lists, and the manifest (`files`) when the summary has one (a summary without
    it still names its figures)."""
    summary = summary_of(folder) or {}
    return {SUMMARY, ARRAYS, RUN_LOG, *summary.get("files", ()), *summary.get("figures", {})}


def staging(final: Path) -> Path:
    """A fresh, empty folder beside `final` to build its replacement in."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def swap_in(tmp: Path, final: Path, checked: bool = False) -> None:
    """Replace the folder `final` by `tmp` whole.

    Files in `final` that edujax did not write (see `own_files`) are copied
    into the new folder first; a name clash with a new file refuses with one
    line and changes nothing. `checked`: the caller has already made sure that
    `final` holds only what edujax wrote there (`is_ours` with `only`, as a
    comparison and a zoom do).
    """
    tmp, final = Path(tmp), Path(final)
    if final.exists() and not checked:
        claim(final)
        for name in sorted(set(os.listdir(final)) - own_files(final)):
            if os.path.lexists(tmp / name):
                raise UserError(f"{final / name} was not written by edujax, and the new result has a file of that "
                                "name: move it away and run again")
            source = final / name
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, tmp / name, symlinks=True)
            else:
                shutil.copy2(source, tmp / name, follow_symlinks=False)
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(final, checked: bool = False):
    """Yield a fresh folder beside `final`; on success it replaces `final` whole (see `swap_in`).

    On any error the temporary folder is removed and `final` is untouched.
    """
    tmp = staging(final)
    try:
        yield tmp
        swap_in(tmp, final, checked)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def locked(folder: Path):
    """Hold `folder`'s edujax lock: one process at a time swaps results and writes the index.

    An advisory `flock` on `folder/.edujax.lock`, removed on release. A waiter
    that wakes up holding a lock file that was removed meanwhile retries, so
    at most one process is ever inside.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    path = folder / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
