"""JAX's persistent compilation cache, one folder per user: a second process reuses the first one's executables.

`edujax sweep`/`zoom` and `ej.run`/`ej.zoom` switch it on before they compile. The folder is
`$XDG_CACHE_HOME/edujax/jax`, or `~/.cache/edujax/jax` without XDG_CACHE_HOME; `EDUJAX_CACHE=off`
(or `--no-cache`) switches it off, and `EDUJAX_CACHE=/some/folder` puts it elsewhere. A folder already
given to JAX (`JAX_COMPILATION_CACHE_DIR`) is used as it is. edujax writes nothing else there, and nothing
outside it; deleting the folder is always safe (the next sweep compiles again). Every executable is kept
(`MIN_COMPILE_S`): the quadratic's sweep leaves 4 entries, 124 kB in all.
"""
from __future__ import annotations

import os
from pathlib import Path

import jax

from edujax.core.errors import UserError

#: The setting: unset or "on" (the default folder), "off", or a folder.
ENV = "EDUJAX_CACHE"
OFF = ("off", "0", "no", "false")
ON = ("", "on", "1", "yes", "true")
#: Executables that compiled faster than this are not written. JAX's default, 1 s, would skip every one of the
#: quadratic's compiles (a sweep is several of under a second each), which each new process would pay again.
MIN_COMPILE_S = 0.0

_ours: Path | None = None  # the folder this module gave JAX, if any


def folder(environ=None) -> Path | None:
    """The cache folder that the setting `EDUJAX_CACHE` asks for; None when it says off.

    >>> str(folder({"XDG_CACHE_HOME": "/tmp/c"}))
    '/tmp/c/edujax/jax'
    >>> folder({"EDUJAX_CACHE": "off"}) is None
    True
    """
    environ = os.environ if environ is None else environ
    setting = environ.get(ENV, "").strip()
    if setting.lower() in OFF:
        return None
    if setting.lower() not in ON:
        return Path(setting).expanduser().absolute()
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or Path.home(), ".cache")
    return Path(base).expanduser().absolute() / "edujax" / "jax"


def enable(on: bool = True, environ=None) -> Path | None:
    """Switch JAX's persistent compilation cache on in `folder()` (off when `on` is False or the setting
    says off) and return the folder in use, or None. A folder JAX was given otherwise is left alone.

    >>> enable(False) is None
    True
    """
    global _ours
    given = jax.config.jax_compilation_cache_dir
    if given and _ours is None:
        return Path(given)  # the user's own JAX setting wins
    where = folder(environ) if on else None
    if where is not None:
        explicit = (os.environ if environ is None else environ).get(ENV, "").strip().lower() not in ON
        try:
            where.mkdir(parents=True, exist_ok=True, mode=0o700)  # the cache is trusted code: private
            writable = os.access(where, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            if explicit:
                raise UserError(f"{ENV}={where}: cannot write there (name a writable folder, or {ENV}=off)")
            where = None  # no writable home: sweep without the cache rather than fail
    if where == _ours:
        return where
    jax.config.update("jax_compilation_cache_dir", None if where is None else str(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_S)
    _reset()
    _ours = where
    return where


def _reset() -> None:
    """Make JAX look at the cache setting again at its next compile (it decides once per process)."""
    from jax.experimental.compilation_cache import compilation_cache

    compilation_cache.reset_cache()
