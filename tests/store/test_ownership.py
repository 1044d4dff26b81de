"""Ownership: edujax replaces only what it wrote, whatever kind of path stands where its output goes.

`files.is_ours`/`files.claim` decide for result folders and the index files (`README.md`, `index.html`);
`Comparison.write` and `Zoom.save` check their own folders. Every kind of path is tried: missing, a folder
with and without a summary, marked and unmarked index files, a plain file where a folder goes, symlinks to
files and folders (even ones edujax wrote: a link is the user's), a dangling symlink.
"""
import json
import os

import pytest

from edujax.store import files
from edujax.store.comparison import DATA, MAP, Comparison
from edujax.core.errors import UserError
from edujax.core.grid import linspace
from edujax.store.zoom import ZOOM_JSON, Zoom

SUMMARY = '{"experiment": "quadratic", "files": ["summary.json"]}'


def result_folder(path, summary=SUMMARY):
    path.mkdir()
    if summary is not None:
        (path / "summary.json").write_text(summary)
    return path


@pytest.fixture
def paths(tmp_path):
    """Every kind of path, each with whether edujax may replace it."""
    (tmp_path / "marked").mkdir()
    (tmp_path / "marked" / "README.md").write_text("<!-- written by edujax -->\n# Results\n")
    (tmp_path / "plain").write_text("a user's notes")
    (tmp_path / "link_to_folder").symlink_to(result_folder(tmp_path / "target"), target_is_directory=True)
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "README.md").symlink_to(tmp_path / "marked" / "README.md")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    return {
        "missing": (tmp_path / "quadratic", True),
        "folder with a summary": (result_folder(tmp_path / "ours"), True),
        "empty folder": (result_folder(tmp_path / "empty", None), False),
        "folder with a summary that is not edujax's": (result_folder(tmp_path / "alien", '{"title": "x"}'), False),
        "folder with a damaged summary": (result_folder(tmp_path / "damaged", '{"experiment": '), False),
        "folder with a summary that is a list": (result_folder(tmp_path / "listed", '["experiment"]'), False),
        "marked README.md": (tmp_path / "marked" / "README.md", True),
        "plain file where a folder goes": (tmp_path / "plain", False),
        "symlink to a result folder": (tmp_path / "link_to_folder", False),
        "symlink to a marked README.md": (tmp_path / "link" / "README.md", False),
        "dangling symlink": (tmp_path / "dangling", False),
    }


def test_is_ours_and_claim_over_every_kind_of_path(paths):
    """Exactly the missing path, a real folder with an edujax summary and a real marked index file are ours."""
    for kind, (path, ours) in paths.items():
        assert files.is_ours(path) is ours, kind
        if ours:
            files.claim(path)
        else:
            with pytest.raises(UserError, match="was not written by edujax"):
                files.claim(path)


@pytest.mark.parametrize("name", ["README.md", "index.html"])
def test_index_files_are_ours_only_when_marked(tmp_path, name):
    """Each of the marks (current and older) makes an index file ours; an unmarked one, a folder of that name,
    or a mark past the first 4 KiB does not."""
    for i, mark in enumerate(files.MARKS[name]):
        (tmp_path / f"m{i}").mkdir()
        (tmp_path / f"m{i}" / name).write_text(f"{mark}\nmore\n")
        assert files.is_ours(tmp_path / f"m{i}" / name), mark
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / name).write_text("# My notes\n")
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / name).write_text("x" * 5000 + files.MARKS[name][0])
    (tmp_path / "dir" / name).mkdir(parents=True)
    for where in ("plain", "late", "dir"):
        assert not files.is_ours(tmp_path / where / name), where
    other = tmp_path / "m0" / "NOTES.md"  # a mark makes only the index files ours
    other.write_text(files.MARKS[name][0])
    assert not files.is_ours(other)


def test_a_refused_path_is_left_as_it_was(paths):
    """A refusal changes nothing: the user's file, folder and links are byte for byte where they were."""
    def state():
        return {kind: (os.path.lexists(p), os.path.islink(p) and os.readlink(p)) for kind, (p, _) in paths.items()}

    before = state()
    for kind, (path, ours) in paths.items():
        if not ours:
            with pytest.raises(UserError):
                files.claim(path)
    assert state() == before
    assert paths["plain file where a folder goes"][0].read_text() == "a user's notes"


def comparison_target(tmp_path, kind):
    out = tmp_path / "cmp"
    if kind == "plain file":
        out.write_text("mine")
    elif kind == "folder with a user's file":
        out.mkdir()
        (out / DATA).write_text("{}")
        (out / "notes.txt").write_text("mine")
    elif kind == "folder without comparison.json":
        out.mkdir()
        (out / MAP).write_bytes(b"png")
    elif kind == "symlink to a user's folder":
        (tmp_path / "user").mkdir()
        (tmp_path / "user" / "thesis.tex").write_text("mine")
        out.symlink_to(tmp_path / "user", target_is_directory=True)
    elif kind == "symlink to a user's file":
        (tmp_path / "notes.txt").write_text("mine")
        out.symlink_to(tmp_path / "notes.txt")
    return out


@pytest.mark.parametrize("kind", ["plain file", "folder with a user's file", "folder without comparison.json",
                                  "symlink to a user's folder", "symlink to a user's file"])
def test_compare_never_replaces_what_it_did_not_write(tmp_path, kind):
    """`Comparison.write` refuses (one line) before drawing anything, and the path is untouched."""
    out = comparison_target(tmp_path, kind)
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError, match="holds files edujax compare did not write"):
        Comparison(a=None, b=None).write(out)
    assert sorted(os.listdir(tmp_path)) == listing
    assert os.path.lexists(out) and os.path.islink(out) == kind.startswith("symlink")


def zoom():
    axis = linspace("learning_rate", 0.1, 1.0, 4)
    return Zoom(experiment="quadratic", axes=(axis, axis), fixed={}, factor=4.0, steps=10, precision="float32",
                followed=(True, True))


@pytest.mark.parametrize("kind", ["plain file", "folder with a user's file", "folder without zoom.json",
                                  "symlink to an earlier zoom", "dangling symlink"])
def test_zoom_never_replaces_what_it_did_not_write(tmp_path, kind):
    """`Zoom.save` refuses (one line) anything but a real folder holding only an earlier zoom's files."""
    folder = tmp_path / zoom().name
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / ZOOM_JSON).write_text(json.dumps({"experiment": "quadratic"}))
    if kind == "plain file":
        folder.write_text("mine")
    elif kind == "folder with a user's file":
        folder.mkdir()
        (folder / ZOOM_JSON).write_text("{}")
        (folder / "notes.txt").write_text("mine")
    elif kind == "folder without zoom.json":
        folder.mkdir()
        (folder / "strip.png").write_bytes(b"png")
    elif kind == "symlink to an earlier zoom":
        folder.symlink_to(earlier, target_is_directory=True)
    else:
        folder.symlink_to(tmp_path / "nowhere")
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError, match="zoom did not write"):
        zoom().save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == listing and os.path.lexists(folder)
    assert os.listdir(earlier) == [ZOOM_JSON]
