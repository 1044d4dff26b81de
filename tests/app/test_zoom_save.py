"""`zoom.save`: what a zoom folder holds, checked against the frames it was given (no sweep: the frames are built
here, so every value written can be told in advance)."""
import json
import os

import numpy as np
from PIL import Image

from edujax.app import zoom as zooming
from edujax.core import fractal
from edujax.core.grid import linspace
from edujax.store.zoom import MEASURES, WRITTEN, ZOOM_JSON, Frame, Zoom
from helpers import assert_indented_json


def frame(column: int, center, width) -> Frame:
    """An 8 × 8 frame whose border is the vertical line before `column`: 7 boundary blocks."""
    measure = np.where(np.arange(8)[None, :] < column, -1.0, 2.0) * np.ones((8, 1)) + 0.01 * np.arange(64).reshape(8, 8)
    side = np.where(measure < 0, -1.0, 1.0)
    return Frame(center=center, width=width, measure=measure, side=side,
                 dimension=fractal.box_dimension(fractal.boundary(side)), run_s=0.25, compile_s=1.5)


def two_frame_zoom(first_column=3) -> Zoom:
    axes = (linspace("a", -1.0, 1.0, 8), linspace("b", 0.0, 4.0, 8))
    return Zoom(experiment="quadratic", axes=axes, fixed={"nonlinearity": "tanh"}, factor=4.0, steps=10,
                precision="float32", followed=(True, False),
                frames=[frame(first_column, (0.0, 2.0), (2.0, 4.0)), frame(5, (0.5, 2.0), (0.5, 1.0))])


def test_a_zoom_folder_holds_every_frame_its_arrays_and_a_readable_summary(tmp_path):
    zoom = two_frame_zoom()
    folder = zooming.save(zoom, tmp_path)
    assert folder == tmp_path / "quadratic-zoom-tanh" and os.listdir(tmp_path) == ["quadratic-zoom-tanh"]
    assert sorted(os.listdir(folder)) == sorted(WRITTEN)
    assert sorted(os.listdir(folder / "frames")) == ["frame-00.png", "frame-01.png"]
    for name in ("frames/frame-00.png", "frames/frame-01.png", "strip.png", "dimension.png"):
        with Image.open(folder / name) as image:
            assert image.format == "PNG" and min(image.size) > 100, name
    with Image.open(folder / "zoom.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 1 * 6 + 1  # one glide of 6 steps, then the last frame
    with np.load(folder / MEASURES) as arrays:
        assert sorted(arrays.files) == ["measure/0", "measure/1", "side/0", "side/1"]
        for i, f in enumerate(zoom.frames):
            np.testing.assert_array_equal(arrays[f"measure/{i}"], f.measure)
            np.testing.assert_array_equal(arrays[f"side/{i}"], f.side)
    assert_indented_json(folder / ZOOM_JSON)
    data = json.loads((folder / ZOOM_JSON).read_text())
    assert (data["experiment"], data["factor"], data["steps"], data["precision"], data["border"]) == \
        ("quadratic", 4.0, 10, "float32", "measure")
    assert data["fixed"] == {"nonlinearity": "tanh"} and data["followed_boundary"] == [True, False]
    assert [a["name"] for a in data["axes"]] == ["a", "b"]
    assert len(data["frames"]) == 2
    first, second = data["frames"]
    assert first["cells"] == [8, 8] and first["boundary_cells"] == 8 - 1  # one block per row pair
    assert first["window"] == [[-1.0, 1.0], [0.0, 4.0]] and second["window"] == [[0.25, 0.75], [1.5, 2.5]]
    assert first["box_sizes"] == [1, 2] and first["box_counts"] == [7, 4]  # 7 blocks tall: 4 boxes of 2
    assert (first["run_s"], first["compile_s"]) == (0.25, 1.5)


def test_saving_again_replaces_an_earlier_zoom_whole(tmp_path):
    zooming.save(two_frame_zoom(first_column=3), tmp_path)
    later = two_frame_zoom(first_column=6)
    folder = zooming.save(later, tmp_path)
    with np.load(folder / MEASURES) as arrays:
        np.testing.assert_array_equal(arrays["measure/0"], later.frames[0].measure)
    assert sorted(os.listdir(tmp_path)) == ["quadratic-zoom-tanh"]  # no staging or old folder left behind
