"""ej.compare / `python -m edujax compare`: where two sweeps of one grid differ, against closed-form truth."""
import json

import numpy as np
import optax
import pytest
from PIL import Image

import edujax as ej
from edujax.app import cli
from helpers import assert_indented_json

# Gradient descent on ½·c·x² multiplies x by (1 − lr·c) each step: it converges iff lr·c < 2. These learning rates
# stay clear of both limits (c = 1: 2, c = 4: 0.5) and converge fast enough when stable: |1 − lr·c| ≤ 0.9.
RATES = [0.1, 0.3, 0.45, 0.6, 1.0, 1.5, 1.8, 2.5, 4.0]


def bowl(curvature, rates=RATES):
    return ej.minimize(
        name="bowl", loss=lambda x, h: 0.5 * h["curvature"] * x**2, params=lambda key, h: 3.0,
        optimizer=lambda h: optax.sgd(h["learning_rate"]), grid=ej.Grid(ej.values("learning_rate", rates, "log")),
        defaults={"curvature": curvature}, steps=200, global_min=0.0)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    for name, c in (("flat", 1.0), ("steep", 4.0)):
        ej.sweep(bowl(c)).save(root / name)
    return root


def test_the_changes_are_those_theory_predicts(saved):
    comparison = ej.compare(saved / "flat", saved / "steep")
    rates = np.asarray(RATES)
    expected = (rates * 1.0 < 2) & ~(rates * 4.0 < 2)  # stable for c = 1, unstable for c = 4
    np.testing.assert_array_equal(comparison.changed, expected)
    assert comparison.table() == [{"from": "converged", "to": "diverged", "runs": int(expected.sum())}]
    assert comparison.names == ("flat", "steep")
    drawn = comparison.as_result()  # the map: grey where unchanged, the new outcome's colour where changed
    assert [drawn.outcome_names[c] for c in drawn.outcome] == ["now diverged" if e else "unchanged" for e in expected]
    assert drawn.outcome_colors["now diverged"] == ej.COLORS["diverged"]
    assert comparison._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_cli_writes_the_map_and_table_and_refuses_mistakes(saved, capsys, tmp_path):
    out = saved / "flat_vs_steep"
    assert cli.main(["compare", str(saved / "flat"), str(saved / "steep"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 of 9 runs changed outcome" in printed and "converged → diverged 4" in printed
    data = json.loads((out / "comparison.json").read_text())
    assert data["changes"] == [{"from": "converged", "to": "diverged", "runs": 4}] and data["runs"] == 9
    assert_indented_json(out / "comparison.json")
    with Image.open(out / "compare.png") as image:  # at the maps' resolution
        assert image.format == "PNG"
        assert image.info["dpi"] == pytest.approx((120, 120), abs=0.05)  # stored in dots per metre
    assert 'id="cmp-flat_vs_steep"' in (saved / "index.html").read_text()  # beside saved sweeps: on their page
    # its own output: redone
    assert cli.main(["compare", str(saved / "flat"), str(saved / "steep"), "--out", str(out)]) == 0

    other = tmp_path / "other"
    ej.sweep(bowl(1.0, RATES[:-1])).save(other)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    missing = tmp_path / "nothing-here"
    for argv, message in [
        ([str(saved / "flat"), str(other)], "different grids"),
        ([str(saved / "flat"), str(missing)], "no saved sweep here"),
        ([str(saved / "flat"), str(saved / "steep"), "--out", str(mine)], "edujax compare did not write"),
    ]:
        if "--out" not in argv:
            argv = argv + ["--out", str(tmp_path / "result")]
        assert cli.main(["compare", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert (mine / "notes.txt").read_text() == "keep me" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert not (tmp_path / "result").exists()
