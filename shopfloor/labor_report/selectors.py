"""Labor per operator for payroll (工时报表): clocked hours by production day, shift, order and
operation, with the good and scrap each operator reported there and their efficiency.

- **Clocked time** comes from the operators' labor sessions (``mes.services.labor``): each session
  is cut along its operation's work-center shifts (``shopfloor.shift_calendar``); a piece inside a
  shift counts for that shift's production day, a piece outside every shift counts for the
  production day of its start (``production_day``, the one helper that says what "today" is) and
  has no shift (``""``), as has all the time at a work center without shifts (a payroll import
  gets no translated "All day"). A session still open counts up to now.
- **Good and scrap** are the operator's confirmations (reversals count negative), each at the
  production day and shift of its ``confirmed_at``.
- **Standard time** of a row: the operation's run time per piece × the pieces reported (good +
  scrap), plus its setup time shared over the operation's planned quantity in the same proportion.
  **Efficiency** = standard time ÷ clocked time (``None`` without clocked time).

Reads: three queries (work centers' shifts, sessions, confirmations), then pure arithmetic.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from mes.models import Confirmation, LaborSession
from shopfloor.models import Shift
from shopfloor.shift_calendar import DAY, ShiftRule, occurrences, plant_zone, production_day

ZERO = Decimal(0)
HOURS = Decimal("0.01")
RATIO = Decimal("0.001")


@dataclass(kw_only=True)
class LaborTally:
    """Clocked seconds, pieces reported and their standard minutes, of a row or an operator's total."""

    seconds: float = 0.0
    good: Decimal = ZERO
    scrap: Decimal = ZERO
    standard_minutes: Decimal = ZERO

    @property
    def clocked_hours(self) -> Decimal:
        return (Decimal(self.seconds) / 3600).quantize(HOURS)

    @property
    def standard_hours(self) -> Decimal:
        return (self.standard_minutes / 60).quantize(HOURS)

    @property
    def efficiency(self) -> Decimal | None:
        """Standard time ÷ clocked time; None without clocked time."""
        if self.seconds <= 0:
            return None
        return (self.standard_minutes * 60 / Decimal(self.seconds)).quantize(RATIO)


@dataclass(kw_only=True)
class LaborRow(LaborTally):
    day: datetime.date
    shift: str
    badge: str
    name: str
    work_order: str
    sequence: int
    operation: str
    work_center: str


@dataclass(kw_only=True)
class OperatorTotal(LaborTally):
    badge: str
    name: str


@dataclass
class LaborReport:
    first_day: datetime.date
    last_day: datetime.date
    rows: list[LaborRow] = field(default_factory=list)
    operators: list[OperatorTotal] = field(default_factory=list)


def _rules_by_center() -> dict[int, list[ShiftRule]]:
    rules: dict[int, list[ShiftRule]] = {}
    for shift in Shift.objects.filter(work_center__isnull=False).order_by("start_time", "name"):
        rules.setdefault(shift.work_center_id, []).append(ShiftRule.of(shift))
    return rules


def _pieces(rules: Sequence[ShiftRule], start: datetime.datetime, end: datetime.datetime) -> list[tuple[datetime.date, str, float]]:
    """``[start, end)`` cut along the shifts: (production day, shift, seconds), outside shifts with shift ``""``."""
    pieces = []
    cursor = start
    for span in occurrences(rules, start, end):
        clipped = span.clipped(start, end)
        if clipped is None:
            continue
        if clipped.start > cursor:  # a gap before this shift
            pieces.append((production_day(rules, cursor), "", (clipped.start - cursor).total_seconds()))
        if clipped.end > cursor:
            piece_start = max(clipped.start, cursor)
            pieces.append((span.day, str(span.shift), (clipped.end - piece_start).total_seconds()))
            cursor = clipped.end
    if end > cursor:
        pieces.append((production_day(rules, cursor), "", (end - cursor).total_seconds()))
    return pieces


def _shift_at(rules: Sequence[ShiftRule], moment: datetime.datetime) -> tuple[datetime.date, str]:
    for span in occurrences(rules, moment, moment + datetime.timedelta(microseconds=1)):
        if span.start <= moment < span.end:
            return span.day, str(span.shift)
    return production_day(rules, moment), ""


def labor_report(*, first_day: datetime.date, last_day: datetime.date, now: datetime.datetime | None = None) -> LaborReport:
    """Labor of the production days ``first_day`` to ``last_day`` (included), by day, shift, operator, order and operation."""
    now = now or timezone.now()
    zone = plant_zone()
    # A production day may begin the evening before (a night shift) and end the morning after.
    window_start = datetime.datetime.combine(first_day - DAY, datetime.time(0), tzinfo=zone)
    window_end = datetime.datetime.combine(last_day + 2 * DAY, datetime.time(0), tzinfo=zone)
    rules = _rules_by_center()
    rows: dict[tuple, LaborRow] = {}

    def row_of(day, shift, employee, operation) -> LaborRow:
        key = (day, shift, employee.badge, operation.work_order.number, operation.sequence)
        row = rows.get(key)
        if row is None:
            row = rows[key] = LaborRow(
                day=day, shift=shift, badge=employee.badge, name=employee.name, work_order=operation.work_order.number,
                sequence=operation.sequence, operation=operation.name, work_center=operation.work_center.code,
            )
        return row

    sessions = (
        LaborSession.objects.filter(started_at__lt=window_end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=window_start))
        .select_related("employee", "operation__work_order", "operation__work_center")
    )
    for session in sessions:
        operation = session.operation
        center_rules = rules.get(operation.work_center_id, [])
        start = max(session.started_at, window_start)
        end = min(session.ended_at or now, window_end, now)
        if end <= start:
            continue
        for day, shift, seconds in _pieces(center_rules, start, end):
            if first_day <= day <= last_day and seconds > 0:
                row_of(day, shift, session.employee, operation).seconds += seconds

    confirmations = (
        Confirmation.objects.filter(operator__isnull=False, confirmed_at__gte=window_start, confirmed_at__lt=window_end)
        .select_related("operator", "operation__work_order", "operation__work_center")
    )
    for confirmation in confirmations:
        operation = confirmation.operation
        day, shift = _shift_at(rules.get(operation.work_center_id, []), confirmation.confirmed_at)
        if not first_day <= day <= last_day:
            continue
        row = row_of(day, shift, confirmation.operator, operation)
        row.good += confirmation.good_qty
        row.scrap += confirmation.scrap_qty
        pieces = confirmation.good_qty + confirmation.scrap_qty
        setup_share = operation.setup_minutes * pieces / operation.planned_qty if operation.planned_qty else ZERO
        row.standard_minutes += operation.run_minutes_per_unit * pieces + setup_share

    ordered = sorted(rows.values(), key=lambda row: (row.day, row.shift, row.badge, row.work_order, row.sequence))
    totals: dict[str, OperatorTotal] = {}
    for row in ordered:
        total = totals.setdefault(row.badge, OperatorTotal(badge=row.badge, name=row.name))
        total.seconds += row.seconds
        total.good += row.good
        total.scrap += row.scrap
        total.standard_minutes += row.standard_minutes
    return LaborReport(first_day=first_day, last_day=last_day, rows=ordered, operators=[totals[badge] for badge in sorted(totals)])
