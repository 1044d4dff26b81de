"""Ownership: edujax replaces only what it wrote, whatever kind of path stands where its output goes.

`files.is_ours` is the one check: `files.claim` asks it for result folders and the index files (`README.md`,
`index.html`, with the marks `pipeline.INDEX_MARKS` gives them), `compare.write` and `zoom.save` for their own
folders (the file that marks one as theirs, and the names it may hold). Every kind of path is tried: missing, an
empty folder, a folder with and without a summary, marked and unmarked index files, a plain file where a folder
goes, symlinks to files and folders (even ones edujax wrote: a link is the user's), a dangling symlink.
"""
import json
import os

import pytest

from edujax.app import compare, pipeline
from edujax.app import zoom as zooming
from edujax.core.errors import UserError
from edujax.core.grid import linspace
from edujax.store import files
from edujax.store.comparison import DATA, MAP, Comparison
from edujax.store.zoom import WRITTEN, ZOOM_JSON, Zoom

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
        "empty folder": (result_folder(tmp_path / "empty", None), True),  # it holds nothing to lose
        "folder with a summary that is not edujax's": (result_folder(tmp_path / "alien", '{"title": "x"}'), False),
        "folder with a damaged summary": (result_folder(tmp_path / "damaged", '{"experiment": '), False),
        "folder with a summary that is a list": (result_folder(tmp_path / "listed", '["experiment"]'), False),
        "marked README.md": (tmp_path / "marked" / "README.md", True),
        "plain file where a folder goes": (tmp_path / "plain", False),
        "symlink to a result folder": (tmp_path / "link_to_folder", False),
        "symlink to a marked README.md": (tmp_path / "link" / "README.md", False),
        "dangling symlink": (tmp_path / "dangling", False),
    }


def marks(path):
    """The marks an index file's writer passes to `claim` (none for a result folder)."""
    return pipeline.INDEX_MARKS.get(path.name, ())


def test_is_ours_and_claim_over_every_kind_of_path(paths):
    """Exactly the missing path, an empty folder, a real folder with an edujax summary and a real marked index
    file are ours."""
    for kind, (path, ours) in paths.items():
        assert files.is_ours(path, marks(path)) is ours, kind
        if ours:
            files.claim(path, marks(path))
        else:
            with pytest.raises(UserError, match="was not written by edujax"):
                files.claim(path, marks(path))


@pytest.mark.parametrize("name", ["README.md", "index.html"])
def test_index_files_are_ours_only_when_marked(tmp_path, name):
    """Each of the marks (current and older) makes an index file ours; an unmarked one, a folder of that name,
    or a mark past the first 4 KiB does not."""
    index_marks = pipeline.INDEX_MARKS[name]
    for i, mark in enumerate(index_marks):
        (tmp_path / f"m{i}").mkdir()
        (tmp_path / f"m{i}" / name).write_text(f"{mark}\nmore\n")
        assert files.is_ours(tmp_path / f"m{i}" / name, index_marks), mark
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / name).write_text("# My notes\n")
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / name).write_text("x" * 5000 + index_marks[0])
    (tmp_path / "dir" / name).mkdir(parents=True)  # an empty folder where an index file goes is not ours
    for where in ("plain", "late", "dir"):
        assert not files.is_ours(tmp_path / where / name, index_marks), where
    other = tmp_path / "m0" / "NOTES.md"  # a mark makes only the index files ours
    other.write_text(index_marks[0])
    assert not files.is_ours(other, marks(other))


def test_a_refused_path_is_left_as_it_was(paths):
    """A refusal changes nothing: the user's file, folder and links are byte for byte where they were."""
    def state():
        return {kind: (os.path.lexists(p), os.path.islink(p) and os.readlink(p)) for kind, (p, _) in paths.items()}

    before = state()
    for kind, (path, ours) in paths.items():
        if not ours:
            with pytest.raises(UserError):
                files.claim(path, marks(path))
    assert state() == before
    assert paths["plain file where a folder goes"][0].read_text() == "a user's notes"


def comparison_target(tmp_path, kind):
    out = tmp_path / "cmp"
    if kind == "plain file":
        out.write_text("mine")
    elif kind == "folder with a user's file":
        out.mkdir()
        (out / DATA).write_text(json.dumps({"experiment": "quadratic"}))  # an earlier comparison's, and a user's file
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
    elif kind == "symlink to an earlier comparison":  # a link is the user's, even to a folder compare wrote
        (tmp_path / "earlier").mkdir()
        (tmp_path / "earlier" / DATA).write_text(json.dumps({"experiment": "quadratic"}))
        (tmp_path / "earlier" / MAP).write_bytes(b"png")
        out.symlink_to(tmp_path / "earlier", target_is_directory=True)
    return out


@pytest.mark.parametrize("kind, named", [
    ("plain file", "cmp"), ("folder with a user's file", "notes.txt"), ("folder without comparison.json", MAP),
    ("symlink to a user's folder", "cmp"), ("symlink to a user's file", "cmp"),
    ("symlink to an earlier comparison", "cmp")])
def test_compare_never_replaces_what_it_did_not_write(tmp_path, kind, named):
    """`compare.write` refuses (one line, naming what is in the way) before drawing anything, and the path is
    untouched: a link to an earlier comparison is neither replaced by a real folder nor left behind as a stray
    `.cmp.old-PID`."""
    out = comparison_target(tmp_path, kind)
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError) as refused:
        compare.write(Comparison(a=None, b=None), out)
    assert str(refused.value) == (f"{out} exists and holds files edujax compare did not write ({named}): "
                                  "name a new folder")
    assert sorted(os.listdir(tmp_path)) == listing
    assert os.path.lexists(out) and os.path.islink(out) == kind.startswith("symlink")


def zoom():
    axis = linspace("learning_rate", 0.1, 1.0, 4)
    return Zoom(experiment="quadratic", axes=(axis, axis), fixed={}, factor=4.0, steps=10, precision="float32",
                followed=(True, True))


@pytest.mark.parametrize("kind", ["plain file", "folder with a user's file", "folder without zoom.json",
                                  "symlink to an earlier zoom", "dangling symlink"])
def test_zoom_never_replaces_what_it_did_not_write(tmp_path, kind):
    """`zoom.save` refuses (one line) anything but a real folder holding only an earlier zoom's files."""
    folder = tmp_path / zoom().name
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / ZOOM_JSON).write_text(json.dumps({"experiment": "quadratic"}))
    if kind == "plain file":
        folder.write_text("mine")
    elif kind == "folder with a user's file":
        folder.mkdir()
        (folder / ZOOM_JSON).write_text(json.dumps({"experiment": "quadratic"}))  # an earlier zoom's, and a user's file
        (folder / "notes.txt").write_text("mine")
    elif kind == "folder without zoom.json":
        folder.mkdir()
        (folder / "strip.png").write_bytes(b"png")
    elif kind == "symlink to an earlier zoom":
        folder.symlink_to(earlier, target_is_directory=True)
    else:
        folder.symlink_to(tmp_path / "nowhere")
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError) as refused:
        zooming.save(zoom(), tmp_path)
    named = {"folder with a user's file": "notes.txt", "folder without zoom.json": "strip.png"}.get(kind, folder.name)
    assert str(refused.value) == f"{folder} exists and holds files edujax zoom did not write ({named}): move it away"
    assert sorted(os.listdir(tmp_path)) == listing and os.path.lexists(folder)
    assert os.listdir(earlier) == [ZOOM_JSON]


@pytest.mark.parametrize("holds, only", [(files.SUMMARY, None), (DATA, (DATA, MAP)), (ZOOM_JSON, WRITTEN)],
                         ids=["result", "comparison", "zoom"])
def test_one_check_for_every_kind_of_folder(tmp_path, holds, only):
    """Result, comparison and zoom folders obey one rule: missing, empty (nothing to lose) or a real folder with
    the file that marks it as edujax's (and, for a comparison or a zoom, nothing else) is ours; a link to such a
    folder, a file where it goes, a folder without the marking file or with a damaged one is not."""
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / holds).write_text(json.dumps({"experiment": "quadratic"}))
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(ours, target_is_directory=True)
    (tmp_path / "file").write_text("mine")
    (tmp_path / "unmarked").mkdir()
    (tmp_path / "unmarked" / "notes.txt").write_text("mine")
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / holds).write_text('{"experiment": ')
    (tmp_path / "with_notes").mkdir()
    (tmp_path / "with_notes" / holds).write_text(json.dumps({"experiment": "quadratic"}))
    (tmp_path / "with_notes" / "notes.txt").write_text("mine")  # carried over into a result, lost in the others
    expected = {"missing": True, "empty": True, "ours": True, "link": False, "file": False, "unmarked": False,
                "damaged": False, "with_notes": only is None}
    for name, want in expected.items():
        assert files.is_ours(tmp_path / name, holds=holds, only=only) is want, name


def test_a_refusal_names_what_is_in_the_way(tmp_path):
    """`files.foreign`: the names beside the ones a folder may hold, sorted; all of them when none is foreign (the
    marking file is missing or damaged); the path's own name when it is no real folder."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name in ("z.txt", DATA, "a.txt", MAP):
        (folder / name).write_text("x")
    assert files.foreign(folder, (DATA, MAP)) == ["a.txt", "z.txt"]
    assert files.foreign(folder, (DATA, MAP, "a.txt", "z.txt")) == sorted([DATA, MAP, "a.txt", "z.txt"])
    (tmp_path / "link").symlink_to(folder, target_is_directory=True)
    assert files.foreign(tmp_path / "link", (DATA,)) == ["link"]
    assert files.foreign(folder / "a.txt", (DATA,)) == ["a.txt"]
    many = tmp_path / "cmp"
    many.mkdir()
    for name in "edcba":
        (many / f"{name}.txt").write_text("x")
    with pytest.raises(UserError) as refused:  # the message names the first three
        compare.write(Comparison(a=None, b=None), many)
    assert "(a.txt, b.txt, c.txt)" in str(refused.value)
    folder = tmp_path / zoom().name
    folder.mkdir()
    (folder / ZOOM_JSON).write_text(json.dumps({"experiment": "quadratic"}))
    for name in "edcba":
        (folder / f"{name}.txt").write_text("x")
    with pytest.raises(UserError) as refused:
        zooming.save(zoom(), tmp_path)
    assert str(refused.value) == (f"{folder} exists and holds files edujax zoom did not write (a.txt, b.txt, c.txt): "
                                  "move it away")
