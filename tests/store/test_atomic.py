"""Atomic writes: `atomic_write` swaps a new file in by rename, never rewrites the old one in place.

A reader that opened the old file (or holds a hard link to it) keeps reading the old bytes; the target is a new
inode; an interrupted write leaves the old file and no temporary behind.
"""
import os

import pytest

from edujax.store.files import atomic_write


def test_the_target_is_swapped_for_a_new_inode_and_the_old_file_keeps_its_bytes(tmp_path):
    """The old inode survives unchanged under a hard link and through an open handle; the target is another inode."""
    target = tmp_path / "summary.json"
    target.write_bytes(b"old bytes")
    old_inode = os.stat(target).st_ino
    os.link(target, tmp_path / "held")  # someone holding the old file
    with open(target, "rb") as reader:
        atomic_write(target, lambda f: f.write(b"new bytes, longer than the old"))
        assert reader.read() == b"old bytes"
    assert target.read_bytes() == b"new bytes, longer than the old"
    assert os.stat(target).st_ino != old_inode
    assert (tmp_path / "held").read_bytes() == b"old bytes" and os.stat(tmp_path / "held").st_ino == old_inode
    assert os.stat(tmp_path / "held").st_nlink == 1  # the target no longer names the old inode
    assert sorted(os.listdir(tmp_path)) == ["held", "summary.json"]  # no temporary left behind


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path):
    """A writer that fails half-way changes neither the target's bytes nor its inode, and leaves no temporary."""
    target = tmp_path / "sweep.npz"
    target.write_bytes(b"the old result")
    inode = os.stat(target).st_ino

    def half(f):
        f.write(b"half a new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half)
    assert target.read_bytes() == b"the old result" and os.stat(target).st_ino == inode
    assert os.listdir(tmp_path) == ["sweep.npz"]


def test_a_new_file_is_written_whole(tmp_path):
    atomic_write(tmp_path / "new.txt", lambda f: f.write(b"\x00\xff" * 1000))
    assert (tmp_path / "new.txt").read_bytes() == b"\x00\xff" * 1000 and os.listdir(tmp_path) == ["new.txt"]
