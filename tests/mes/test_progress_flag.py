"""An order's schedule flag with part of it finished: the finished quantity is a Decimal from the
database and the plan to date a Fraction, and the comparison takes both (it raised TypeError, so a
planner's home page answered 500 once an order being made had finished anything)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from mes.selectors.progress import AT_RISK, schedule_flag

RELEASED = datetime.datetime(2026, 11, 16, 0, 0, tzinfo=datetime.UTC)
HALFWAY = RELEASED + datetime.timedelta(days=5)
DUE = datetime.date(2026, 11, 25)  # ends 2026-11-26 00:00 plant time: about ten days after the release


def flag(done: Decimal) -> str:
    return schedule_flag(status="in_progress", due_date=DUE, released_at=RELEASED, quantity=Decimal(100), done=done, now=HALFWAY,
                         zone=datetime.UTC)


def test_an_order_half_through_its_time_with_little_finished_is_at_risk_and_one_on_plan_is_not():
    assert flag(Decimal("5.000")) == AT_RISK
    assert flag(Decimal("60.000")) == ""
