"""Record plans (`edujax.runner.trace.RecordPlan`): how the steps split into record windows."""
import pytest

from edujax.runner.trace import RecordPlan


@pytest.mark.parametrize("steps, records, windows, window, lead, record_steps", [
    (100, 10, 10, 10, 0, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
    (103, 10, 10, 10, 3, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 103]),  # 3 leftover steps join the last window
    (29, 4, 4, 7, 1, [0, 7, 14, 21, 29]),
    (5, 10, 5, 1, 0, [0, 1, 2, 3, 4, 5]),  # more records than steps: one window per step
    (7, 1, 1, 7, 0, [0, 7]),
    (7, 0, 1, 7, 0, [0, 7]),
])
def test_a_record_plan_splits_the_steps_into_windows(steps, records, windows, window, lead, record_steps):
    plan = RecordPlan.make(steps, records)
    assert (plan.steps, plan.windows, plan.window, plan.lead, plan.all_metrics) == (steps, windows, window, lead, False)
    assert plan.record_steps.tolist() == record_steps
    assert RecordPlan.make(steps, records, True).all_metrics is True
