"""The classifier's criteria, palette and counts (`edujax.core.outcomes`) at their edges."""
import numpy as np
import pytest

from edujax.core.errors import UserError
from edujax.core.outcomes import OUTCOMES, Criteria, counts, palette


@pytest.mark.parametrize("kwargs", [dict(window=0.5), dict(window=1e-9), dict(rtol=0), dict(atol=1), dict(gtol=2.5),
                                    dict(trend=np.float64(0.0))])
def test_criteria_accept_their_edge_values(kwargs):
    assert dataclasses_value(Criteria(**kwargs), kwargs)


def dataclasses_value(criteria, kwargs):
    return all(getattr(criteria, k) == v for k, v in kwargs.items())


@pytest.mark.parametrize("kwargs, message", [
    (dict(window=0.5000001), r"^criteria.window must be in \(0, 0.5\], got 0.5000001$"),
    (dict(window=0), r"^criteria.window must be in \(0, 0.5\], got 0$"),
    (dict(window=1.0), r"criteria.window must be in"),
    (dict(rtol=-1e-12), r"^criteria.rtol must be a non-negative number, got -1e-12$"),
    (dict(atol=np.inf), r"^criteria.atol must be a non-negative number, got inf$"),
    (dict(gtol=np.nan), r"^criteria.gtol must be a non-negative number"),
    (dict(trend=False), r"^criteria.trend must be a non-negative number, got False$"),
    (dict(trend="1"), r"^criteria.trend must be a non-negative number, got '1'$"),
])
def test_criteria_refuse_values_past_their_edges(kwargs, message):
    with pytest.raises(UserError, match=message):
        Criteria(**kwargs)


@pytest.mark.parametrize("window, windows, expected", [
    (0.25, 50, 12), (0.25, 10, 2), (0.25, 3, 1), (0.25, 0, 1), (0.5, 7, 3), (0.5, 8, 4), (0.01, 50, 1), (0.3, 10, 3),
    (0.45, 20, 9), (0.5, 2, 1),
])
def test_the_final_part_is_the_rounded_share_at_least_one_at_most_half(window, windows, expected):
    assert Criteria(window=window).final_windows(windows) == expected


def test_palette_and_counts():
    assert list(palette({"collapsed": "#000000"}).items())[-2:] == [("stalled", "#7f7f7f"), ("collapsed", "#000000")]
    assert list(palette()) == list(OUTCOMES)
    with pytest.raises(UserError, match=r"^extra outcomes must have new names; diverged, slow is a standard outcome$"):
        palette({"slow": "#111111", "diverged": "#222222", "new": "#333333"})
    assert counts(np.array([[0, 2], [2, 2]]), ("a", "b", "c")) == {"a": 1, "b": 0, "c": 3}
    assert counts([5, 5, 0]) == {"converged": 1, "slow": 0, "oscillating": 0, "diverged": 0, "local_min": 0,
                                 "stalled": 2}
