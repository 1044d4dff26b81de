"""Where a sweep runs: every local (or, after `jax.distributed.initialize`,
global) device, with the grid axis split across them by JAX's own SPMD
partitioner, in chunks that fit a memory budget.
"""
from __future__ import annotations

import math
import os
import re

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from edujax.core.errors import UserError

#: Share of a device's memory a sweep may fill by default: accelerators report
#: their usable memory; a CPU gets a quarter of the machine's RAM.
ACCELERATOR_SHARE, CPU_SHARE = 0.5, 0.25
#: Share of the host's available memory the results of a sweep may fill by default.
HOST_SHARE = 0.5

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def parse_bytes(text: str, option: str = "--max-memory") -> int:
    """'512MB', '2G', '1.5GiB' or a plain number of bytes (`option` names it in a mistake's one line).

    >>> parse_bytes("1.5GiB")
    1610612736
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]i?)?b?\s*", str(text).lower().lstrip().removeprefix("-"))
    if match and str(text).strip().startswith("-"):
        raise UserError(f"{option} {text!r}: a memory size cannot be negative; give e.g. 512MB or 2GB")
    if not match or float(match[1]) <= 0:
        raise UserError(f"{option} {text!r}: expected a positive size such as 512MB or 2GB")
    return int(float(match[1]) * _UNITS[match[2] or ""])


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def use_every_cpu_core() -> bool:
    """One JAX CPU device per core, so the grid is split over all of them.

    XLA runs one device's training loop largely on one core, so a device per
    core is what lets a sweep use every core (README, Performance). `import
    edujax` calls it, so the Python API, the command line and `make bench`
    all get the same device count from this one place. An explicit
    choice wins: `--xla_force_host_platform_device_count` in XLA_FLAGS,
    JAX_NUM_CPU_DEVICES, or `jax.config.update("jax_num_cpu_devices", n)`
    before importing edujax; and once JAX has started computing the device
    count can no longer change, so it is left as it is. Returns whether it
    set the count.
    """
    from jax._src import xla_bridge  # backends_are_initialized has no public name

    if ("xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
            or jax.config.jax_num_cpu_devices >= 0 or xla_bridge.backends_are_initialized()):
        return False
    jax.config.update("jax_num_cpu_devices", cpu_cores())
    return True


def connect(coordinator_address: str | None = None, num_processes: int | None = None,
            process_id: int | None = None) -> None:
    """Join a multi-process sweep (`jax.distributed.initialize`); call it before anything else uses JAX.

    Every process runs the same sweep; the grid is split over every process's
    devices and process 0 writes the results. On a TPU slice, or in a SLURM or
    Open MPI job, JAX finds the other processes itself: give nothing. Anywhere
    else give all three: process 0's `host:port`, the number of processes and
    this process's index. CPU processes exchange results through gloo.
    """
    given = (coordinator_address, num_processes, process_id)
    if any(v is None for v in given) and any(v is not None for v in given):
        raise UserError("--coordinator-address, --num-processes and --process-id go together: give all three "
                        "(or none, on a TPU slice or in a SLURM or Open MPI job)")
    if num_processes is not None and not 0 <= process_id < num_processes:
        raise UserError(f"--process-id {process_id}: expected 0 … {num_processes - 1} (one per process)")
    if jax.config.jax_cpu_collectives_implementation is None:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # the default in newer JAX
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
    except (ValueError, RuntimeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(f"--distributed: could not join the other processes ({reason}); outside a TPU slice or a "
                        "SLURM/Open MPI job give --coordinator-address HOST:PORT --num-processes N --process-id I"
                        ) from None


def grid_mesh() -> Mesh:
    """A 1-D mesh over every device; the grid axis is split across it."""
    return Mesh(np.asarray(jax.devices()), ("grid",))


def row_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec("grid"))


def default_memory_budget() -> int:
    """Bytes one device may use for a chunk of runs."""
    device = jax.local_devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and stats.get("bytes_limit"):
        return int(ACCELERATOR_SHARE * stats["bytes_limit"])
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(CPU_SHARE * ram / jax.local_device_count())


def default_host_budget() -> int:
    """Bytes a sweep's results may take in host memory: half of what is available now (of all RAM if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(HOST_SHARE * available)


def format_bytes(n: float) -> str:
    """'3.2 GB': a size in decimal units, as people read them."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def put_rows(columns: dict[str, np.ndarray], rows: np.ndarray, sharding: NamedSharding) -> dict[str, jax.Array]:
    """The chunk's hyperparameter columns as global arrays split over the mesh.

    Every process holds all columns (they are small), so each one simply
    supplies the shards of its own devices: this works on one host and many.
    """
    return {
        name: jax.make_array_from_callback((len(rows),), sharding, lambda index, col=col: col[rows[index]])
        for name, col in columns.items()
    }


def to_host(tree):
    """A pytree of (possibly multi-host) global arrays as numpy arrays on every process."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def is_main_process() -> bool:
    """Only process 0 prints and writes files in a multi-host sweep."""
    return jax.process_index() == 0


def nbytes(tree) -> int:
    """Total bytes of a pytree of arrays or ShapeDtypeStructs."""
    return sum(math.prod(leaf.shape) * leaf.dtype.itemsize for leaf in jax.tree.leaves(tree))  # PRNG keys too
