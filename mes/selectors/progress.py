"""Is an order late, or at risk of it? One rule for the planning list and the progress board.

- **late**: the end of its due date (midnight after it, plant time) has passed and the order is not
  done (not completed, closed or cancelled);
- **at risk**: not late, but its finished quantity (the good quantity of its last operation) is
  below 90 % of its plan to date (the board's yellow and red) and behind it by a whole unit or
  more (so a fresh order is not flagged for 0.002 of a part); an order not yet released is at
  risk once its due date ends within ``PLANNED_AT_RISK_WITHIN``.

The plan to date spreads the order evenly from its release to the end of its due date (see
``plant.selectors.board``, which computes the same in integers for a thousand rows).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction

from django.db.models import DecimalField, OuterRef, Subquery
from django.utils import timezone

from mes.models import Status, WorkOrderOperation

LATE = "late"
AT_RISK = "at_risk"
DONE_STATUSES = frozenset({Status.COMPLETED, Status.CLOSED, Status.CANCELLED})
PLANNED_AT_RISK_WITHIN = datetime.timedelta(days=2)
AT_RISK_BELOW = Fraction(9, 10)  # of the plan to date
MICROSECOND = datetime.timedelta(microseconds=1)


def due_end(due_date: datetime.date, zone: datetime.tzinfo | None = None) -> datetime.datetime:
    """Midnight after the due date in the plant's time zone: the order is on time until then."""
    midnight = datetime.datetime.combine(due_date + datetime.timedelta(days=1), datetime.time())
    return timezone.make_aware(midnight, zone or timezone.get_current_timezone())


def done_quantity() -> Subquery:
    """An order's finished quantity, for ``annotate``: its last operation's good quantity (0 before release)."""
    last = WorkOrderOperation.objects.filter(work_order=OuterRef("pk")).order_by("-sequence").values("good_qty")[:1]
    return Subquery(last, output_field=DecimalField(max_digits=15, decimal_places=3))


def is_behind(*, done: Fraction | Decimal | int, plan_to_date: Fraction | Decimal | int, unit: int = 1) -> bool:
    """Whether the finished quantity is below 90 % of the plan to date and a whole ``unit`` or more
    behind it (``unit`` 1000 when both are counted in thousandths, as the board does)."""
    if type(done) is int and type(plan_to_date) is int:  # the board's thousandths: no Fraction for a thousand rows
        return plan_to_date - done >= unit and AT_RISK_BELOW.denominator * done < AT_RISK_BELOW.numerator * plan_to_date
    return Fraction(plan_to_date) - Fraction(done) >= unit and Fraction(done) < AT_RISK_BELOW * Fraction(plan_to_date)


def schedule_flag(
    *, status: str, due_date: datetime.date, released_at: datetime.datetime | None, quantity: Decimal, done: Decimal | None,
    now: datetime.datetime, zone: datetime.tzinfo | None = None,
) -> str:
    """``late``, ``at_risk`` or "" (on time, or done) for one order."""
    if status in DONE_STATUSES:
        return ""
    end = due_end(due_date, zone)
    if now >= end:
        return LATE
    if released_at is None:
        return AT_RISK if end - now <= PLANNED_AT_RISK_WITHIN else ""
    if now <= released_at:
        return ""
    share = Fraction((now - released_at) // MICROSECOND, (end - released_at) // MICROSECOND)
    return AT_RISK if is_behind(done=done or 0, plan_to_date=Fraction(quantity) * share) else ""
