"""`store.files` piece by piece: the `.npz` writer (compression, zip64, no pickles), reading an index file's mark,
the refusals' words, a result folder's own files, and swapping a folder in with the user's files carried over
as they were (sub-folders, links kept as links)."""
import io
import json
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest

from edujax.core.errors import UserError
from edujax.store import files
from edujax.store.comparison import DATA, MAP


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def deflated_size(data: bytes, level: int) -> int:
    """What zlib's raw deflate (a zip member's stream) makes of `data` at `level`."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return len(packer.compress(data) + packer.flush())


@pytest.mark.parametrize("compress", [True, False])
def test_write_npz_compresses_at_level_one_or_stores(tmp_path, compress):
    arrays = {"loss": np.linspace(0, 1, 5000).reshape(50, 100), "code": np.arange(300, dtype=np.int8) % 7}
    path = tmp_path / "a.npz"
    with open(path, "wb") as f:  # compressed unless asked not to
        files.write_npz(f, arrays, label=("chunk.txt", "here/a.npz"), **({} if compress else {"compress": False}))
    with np.load(path) as back:
        assert sorted(back.files) == ["chunk.txt", "code", "loss"]
        for name, array in arrays.items():
            np.testing.assert_array_equal(back[name], array)
            assert back[name].dtype == array.dtype
    with zipfile.ZipFile(path) as archive:
        assert archive.read("chunk.txt") == b"here/a.npz"
        for name, array in arrays.items():
            info = archive.getinfo(f"{name}.npy")
            raw = npy_bytes(array)
            if compress:
                assert info.compress_type == zipfile.ZIP_DEFLATED
                assert info.compress_size == deflated_size(raw, 1) != deflated_size(raw, 9)
            else:
                assert info.compress_type == zipfile.ZIP_STORED and info.compress_size == len(raw)


def test_write_npz_members_carry_zip64_headers_and_refuse_pickles(tmp_path):
    """Members are streamed with zip64 headers (an array over 4 GiB needs them: the size is known only after
    writing), and an object array is refused rather than pickled (np.load would refuse it)."""
    path = tmp_path / "a.npz"
    with open(path, "wb") as f:
        files.write_npz(f, {"x": np.zeros(3)})
    data = path.read_bytes()
    assert data[:4] == b"PK\x03\x04"
    name_length, extra_length = struct.unpack("<HH", data[26:30])
    extra = data[30 + name_length: 30 + name_length + extra_length]
    assert data[30:30 + name_length] == b"x.npy" and extra[:2] == b"\x01\x00"  # the zip64 extra field's id
    with open(tmp_path / "b.npz", "wb") as f, pytest.raises(ValueError):
        files.write_npz(f, {"objects": np.array([{"a": 1}, None], dtype=object)})


def test_an_index_files_mark_is_read_from_its_first_4_kib_whatever_its_bytes(tmp_path):
    mark = "<!-- written by edujax -->"
    page = tmp_path / "index.html"
    page.write_bytes(b"\xff\xfe not utf-8 \xc3" + mark.encode())
    assert files.is_ours(page, (mark,))  # undecodable bytes do not hide the mark (nor raise)
    page.write_bytes(b"x" * (4096 - len(mark)) + mark.encode())  # ends at byte 4096: inside
    assert files.is_ours(page, (mark,))
    page.write_bytes(b"x" * (4097 - len(mark)) + mark.encode())  # one byte later: its end is outside
    assert not files.is_ours(page, (mark,))


def test_a_comparison_folder_holding_both_its_files_is_ours(tmp_path):
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / DATA).write_text(json.dumps({"experiment": "quadratic"}))
    (folder / MAP).write_bytes(b"png")
    assert files.is_ours(folder, holds=DATA, only=(DATA, MAP))


def test_claim_says_what_it_refuses(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("mine")
    (tmp_path / "README.md").write_text("mine")
    for path, kind in ((tmp_path / "notes", "folder"), (tmp_path / "README.md", "file")):
        with pytest.raises(UserError) as refused:
            files.claim(path, ("marked",) if kind == "file" else ())
        assert str(refused.value) == (f"{path} exists and was not written by edujax: move it away or choose another "
                                      f"--out (edujax never overwrites a {kind} it did not write)")


def test_a_results_own_files_include_the_figures_its_summary_names(tmp_path):
    (tmp_path / files.SUMMARY).write_text(json.dumps({"experiment": "quadratic", "figures": {"heatmap.png": "map"},
                                                      "files": ["curves.png"]}))
    assert files.own_files(tmp_path) == {files.SUMMARY, files.ARRAYS, files.RUN_LOG, "heatmap.png", "curves.png"}


def test_a_new_folder_is_built_beside_its_place_even_where_no_parent_exists(tmp_path):
    final = tmp_path / "a" / "b" / "result"
    stale = final.with_name(f".result.tmp-{os.getpid()}")  # left by a crashed run of this very process id
    with files.atomic_dir(final) as tmp:
        (tmp / "x.txt").write_text("new")
    assert (final / "x.txt").read_text() == "new" and sorted(os.listdir(final.parent)) == ["result"]
    stale.mkdir()
    (stale / "junk").write_text("left over")
    with files.atomic_dir(final, checked=True) as tmp:  # checked: the caller vouches for `final`
        assert os.listdir(tmp) == []  # staged in a fresh, empty folder
        (tmp / "y.txt").write_text("newer")
    assert sorted(os.listdir(final)) == ["y.txt"] and sorted(os.listdir(final.parent)) == ["result"]


def test_swapping_in_carries_the_users_files_folders_and_links_over_as_they_were(tmp_path):
    final = tmp_path / "result"
    final.mkdir()
    (final / files.SUMMARY).write_text(json.dumps({"experiment": "quadratic"}))
    (final / "notes.txt").write_text("my notes")
    (final / "drafts").mkdir()
    (final / "drafts" / "d1.txt").write_text("draft")
    (final / "drafts" / "latest").symlink_to("d1.txt")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "big.bin").write_bytes(b"1234")
    (final / "data").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (final / "paper.pdf").symlink_to(tmp_path / "elsewhere" / "big.bin")
    with files.atomic_dir(final) as tmp:
        (tmp / files.SUMMARY).write_text(json.dumps({"experiment": "quadratic", "new": True}))
    assert json.loads((final / files.SUMMARY).read_text())["new"] is True
    assert (final / "notes.txt").read_text() == "my notes"
    assert (final / "drafts").is_dir() and not (final / "drafts").is_symlink()
    assert os.readlink(final / "drafts" / "latest") == "d1.txt"  # a link inside a folder stays a link
    assert (final / "data").is_symlink() and os.readlink(final / "data") == str(tmp_path / "elsewhere")
    assert (final / "paper.pdf").is_symlink() and os.readlink(final / "paper.pdf") == str(tmp_path / "elsewhere"
                                                                                          / "big.bin")
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "result"]  # no staging or old folder left


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("mine")
    for out, where in ((tmp_path / "a_file", "exists and is not a folder"),
                       (tmp_path / "a_file" / "sub" / "results", f"{tmp_path / 'a_file'} is a file, not a folder")):
        with pytest.raises(UserError) as refused:
            files.check_writable(out)
        assert str(refused.value) == f"--out {out}: {where}"
    files.check_writable(tmp_path / "new" / "results")  # missing folders are made later: fine
    files.check_writable(tmp_path)
    # a folder this user may not write in (faked: root may write anywhere)
    monkeypatch.setattr(os, "access", lambda path, mode: not (str(path) == str(tmp_path) and mode & os.W_OK))
    with pytest.raises(UserError) as refused:
        files.check_writable(tmp_path / "new" / "results")
    assert str(refused.value) == (f"--out {tmp_path / 'new' / 'results'}: cannot write in {tmp_path} "
                                  "(read-only, or not yours)")
