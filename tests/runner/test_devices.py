"""Sizes, memory budgets and byte counts (`edujax.runner.devices`) against hand-computed values."""
import io
from types import SimpleNamespace

import jax
import numpy as np
import pytest

from edujax.runner import devices
from edujax.core.errors import UserError


@pytest.mark.parametrize("text, expected", [
    ("1", 1), ("1b", 1), ("7B", 7),
    ("1k", 1000), ("1kb", 1000), ("1KB", 1000), ("2M", 2_000_000), ("512MB", 512_000_000),
    ("1g", 10**9), ("2GB", 2 * 10**9), ("1T", 10**12), ("3TB", 3 * 10**12),
    ("1KiB", 1024), ("1ki", 1024), ("1MiB", 1024**2), ("5mib", 5 * 1024**2), ("1GiB", 1024**3), ("1.5GiB", 3 * 2**29),
    ("1TiB", 1024**4), (" 0.5 k ", 500), (".25KiB", 256),
])
def test_every_size_unit_parses_to_its_bytes(text, expected):
    assert devices.parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["0", "0MB", "1XB", "", "MB", "1.2.3", "1 MiBB", "1e3", "ten", "-"])
def test_bad_sizes_are_one_line_user_errors(text):
    with pytest.raises(UserError, match=r"^--max-memory .*: expected a positive size such as 512MB or 2GB$"):
        devices.parse_bytes(text)
    with pytest.raises(UserError, match=r"^--max-host-memory "):
        devices.parse_bytes(text, "--max-host-memory")


@pytest.mark.parametrize("text", ["-1MB", " -2", "-0.5GiB"])
def test_negative_sizes_are_named_as_such(text):
    with pytest.raises(UserError, match=r"^--max-memory .*: a memory size cannot be negative; give e.g. 512MB or 2GB$"):
        devices.parse_bytes(text)


@pytest.mark.parametrize("n, text", [(0, "0 bytes"), (999.9, "999 bytes"), (1000, "1 kB"), (1234567, "1.23 MB"),
                                     (999_999, "1e+03 kB"), (10**6, "1 MB"), (10**9, "1 GB"), (3.2e9, "3.2 GB"),
                                     (10**12, "1 TB"), (2e12, "2 TB"),
                                     (4.56e15, "4.56e+03 TB")])
def test_sizes_are_printed_in_decimal_units(n, text):
    assert devices.format_bytes(n) == text


def fake_machine(monkeypatch, *, page=4096, pages=1000, n_devices=2, device=None):
    sizes = {"SC_PAGE_SIZE": page, "SC_PHYS_PAGES": pages}
    monkeypatch.setattr(devices.os, "sysconf", lambda name: sizes[name])
    cpu = SimpleNamespace(platform="cpu", memory_stats=lambda: pytest.fail("a CPU's memory stats are not asked for"))
    monkeypatch.setattr(devices.jax, "local_devices", lambda: [device or cpu])
    monkeypatch.setattr(devices.jax, "local_device_count", lambda: n_devices)


def test_a_cpu_device_may_fill_a_quarter_of_the_ram_shared_by_its_devices(monkeypatch):
    fake_machine(monkeypatch)  # 4096 · 1000 bytes of RAM, 2 devices
    assert devices.default_memory_budget() == 4096 * 1000 // 8


def test_an_accelerator_may_fill_half_of_its_usable_memory(monkeypatch):
    gpu = SimpleNamespace(platform="gpu", memory_stats=lambda: {"bytes_limit": 10**9, "bytes_in_use": 5})
    fake_machine(monkeypatch, device=gpu)
    assert devices.default_memory_budget() == 5 * 10**8
    # a device that reports no limit falls back to the RAM rule
    fake_machine(monkeypatch, device=SimpleNamespace(platform="gpu", memory_stats=lambda: {"bytes_limit": 0}))
    assert devices.default_memory_budget() == 4096 * 1000 // 8
    fake_machine(monkeypatch, device=SimpleNamespace(platform="gpu", memory_stats=lambda: None))
    assert devices.default_memory_budget() == 4096 * 1000 // 8


def test_results_may_fill_half_of_the_available_host_memory(monkeypatch):
    fake_machine(monkeypatch)

    def proc(text):
        return lambda path: io.StringIO(text) if path == "/proc/meminfo" else pytest.fail(f"read {path}")

    monkeypatch.setattr(devices, "open", proc("MemTotal:    8000 kB\nMemFree:   100 kB\nMemAvailable:  2048 kB\n"),
                        raising=False)
    assert devices.default_host_budget() == 2048 * 1024 // 2
    # without MemAvailable (or without /proc) half of all RAM
    monkeypatch.setattr(devices, "open", proc("MemTotal: 8000 kB\n"), raising=False)
    assert devices.default_host_budget() == 4096 * 1000 // 2

    def missing(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(devices, "open", missing, raising=False)
    assert devices.default_host_budget() == 4096 * 1000 // 2


def test_nbytes_counts_every_leaf():
    tree = {"a": np.zeros((3, 4), np.float32), "b": [jax.ShapeDtypeStruct((2,), np.int8), np.zeros(5, np.float64)]}
    assert devices.nbytes(tree) == 3 * 4 * 4 + 2 + 5 * 8
