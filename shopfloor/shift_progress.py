"""The production day so far, per line: plan against actual hour by hour, and where scrap and
standstill came from (the charts of the board and the home page; ``shopfloor.shift_charts`` draws them).

The day is the plant's production day (``shift_calendar.plant_production_day``), the one every page
calls "today": from the start of its first shift to the end of its last.

- **Plan** of a line by a moment: for each operation on the line's work centers (of the orders
  active now, or reported on in the day), its planned quantity × the share of its order the plan
  expects between the start of the day and that moment, the plan spread evenly from the order's
  release to the end of its due date (the board's plan to date, ``plant.selectors.board``).
- **Actual**: the good quantity of the reports on those work centers confirmed in the day up to
  that moment (reversals count negative).
- **Scrap by reason**: the scrap quantity of the day's reports per reason code.
- **Standstill by reason**: minutes the line's machines were down or idle within the day's shifts
  up to now, per reason code given (none given is a reason of its own: it needs one).

Four queries (shifts, operations, reports, machine states) whatever the number of lines and orders.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from mes.models import Confirmation, Status, WorkOrderOperation
from mes.selectors.progress import due_end
from shopfloor.models import EquipmentState
from shopfloor.shift_calendar import ProductionDay, occurrences, plant_production_day, plant_zone

ACTIVE = (Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED)
HOUR = datetime.timedelta(hours=1)
STANDSTILL = (EquipmentState.State.DOWN, EquipmentState.State.IDLE)
NO_REASON = ""


@dataclass
class LineProgress:
    line: str
    moments: list[datetime.datetime]  # the start of the day, each hour after it, and its end
    planned: list[Decimal]  # cumulative from the start of the day, at each moment
    points: list[datetime.datetime]  # the moments already passed, and now (or the day's end)
    actual: list[Decimal]  # cumulative good at each point (reports before it)
    planned_now: Decimal  # the plan by the last point

    @property
    def actual_now(self) -> Decimal:
        return self.actual[-1]

    @property
    def share_of_plan(self) -> Decimal | None:
        """Actual good over the plan so far (None while nothing is planned)."""
        return self.actual_now / self.planned_now if self.planned_now > 0 else None


@dataclass
class ReasonTotal:
    code: str  # NO_REASON when none was given
    name: str  # "" when none was given
    value: Decimal


@dataclass
class DayProgress:
    day: ProductionDay
    now: datetime.datetime
    lines: list[LineProgress] = field(default_factory=list)
    scrap: list[ReasonTotal] = field(default_factory=list)  # quantity, most first
    standstill: list[ReasonTotal] = field(default_factory=list)  # minutes, most first

    def line(self, name: str) -> LineProgress | None:
        return next((entry for entry in self.lines if entry.line == name), None)


def _moments(start: datetime.datetime, end: datetime.datetime) -> list[datetime.datetime]:
    moments = [start]
    while moments[-1] + HOUR < end:
        moments.append(moments[-1] + HOUR)
    if moments[-1] < end:
        moments.append(end)
    return moments


def _seconds(delta: datetime.timedelta) -> Decimal:
    return Decimal(delta // datetime.timedelta(microseconds=1)) / 1_000_000


class _PlanLine:
    """A plan line: the share of ``quantity`` an order released at ``released`` and due at ``end`` should
    have made by a moment (none before its release, all from its due end on, evenly between), at
    moments given in seconds from ``origin``; one division for the line instead of one per moment."""

    def __init__(self, quantity: Decimal, released: datetime.datetime | None, end: datetime.datetime, origin: datetime.datetime) -> None:
        self.quantity = quantity
        self.released = None if released is None else _seconds(released - origin)
        self.end = _seconds(end - origin)
        if self.released is not None and self.end > self.released:
            self.per_second = quantity / (self.end - self.released)
            self.offset = self.per_second * self.released

    def at(self, moment: Decimal) -> Decimal:
        if self.released is None or moment <= self.released:
            return Decimal(0)
        if moment >= self.end or self.end <= self.released:
            return self.quantity
        return moment * self.per_second - self.offset


def _by_reason(totals: dict[tuple[str, str], Decimal]) -> list[ReasonTotal]:
    rows = [ReasonTotal(code, name, value) for (code, name), value in totals.items() if value > 0]
    return sorted(rows, key=lambda row: (-row.value, row.code))


def day_progress(*, lines: list[str] | None = None, now: datetime.datetime | None = None) -> DayProgress:
    """The production day so far of ``lines`` (every line when None; "" is work centers with no line)."""
    now = now or timezone.now()
    day = plant_production_day(now=now, lines=lines)
    moments = _moments(day.start, day.end)
    until = day.elapsed_until(now)
    zone = plant_zone()
    on_lines = Q() if lines is None else Q(work_center__line__in=lines)

    # The actual points: each hour of the day already begun, and now (or the day's end, whose reports
    # are in it as in the OEE's); a report counts from the next point on, and at the last in any case.
    points = [moment for moment in moments if moment < until] + [until]
    day_reports = (
        Confirmation.objects.filter(confirmed_at__gte=day.start, confirmed_at__lte=until)
        .filter(Q() if lines is None else Q(operation__work_center__line__in=lines))
        .order_by()
    )
    # The day's reports summed in the database by line and the point they are first counted at (a
    # thousand reports an hour are a row per line and hour here, not a row each).
    first_point = Case(
        *(When(confirmed_at__lt=point, then=Value(index)) for index, point in enumerate(points[:-1])),
        default=Value(len(points) - 1), output_field=IntegerField(),
    )
    good_by_point = (
        day_reports.annotate(point=first_point).values("operation__work_center__line", "point")
        .annotate(good=Sum("good_qty")).values_list("operation__work_center__line", "point", "good")
    )
    scrap_by_reason = (
        day_reports.filter(scrap_qty__gt=0).values("reason_code__code", "reason_code__name")
        .annotate(scrap=Sum("scrap_qty")).values_list("reason_code__code", "reason_code__name", "scrap")
    )
    # Operations of active orders, and of others reported today (a subquery: no join with every report).
    operations = (
        WorkOrderOperation.objects.filter(on_lines)
        .filter(Q(work_order__status__in=ACTIVE) | Q(id__in=day_reports.values("operation_id")))
        .order_by()
        .values_list("id", "work_center__line", "planned_qty", "work_order__released_at", "work_order__due_date")
    )
    # Orders released and due at the same moments share their plan line: a thousand orders of three
    # operations are a thousand plan lines, each worked out at every hour of the day.
    quantities: dict[tuple[str, datetime.datetime | None, datetime.datetime], Decimal] = {}
    for _pk, line, quantity, released, due_date in operations:
        key = (line, released, due_end(due_date, zone))
        quantities[key] = quantities.get(key, Decimal(0)) + quantity
    planned: dict[str, list[Decimal]] = {}
    planned_now: dict[str, Decimal] = {}
    at = [_seconds(moment - day.start) for moment in [*moments, until]]
    for (line, released, end), quantity in quantities.items():
        plan = _PlanLine(quantity, released, end, day.start)
        base = plan.at(Decimal(0))
        sums = planned.setdefault(line, [Decimal(0)] * len(moments))
        for index, moment in enumerate(at[:-1]):
            sums[index] += plan.at(moment) - base
        planned_now[line] = planned_now.get(line, Decimal(0)) + plan.at(at[-1]) - base
    first_counted: dict[str, list[Decimal]] = {}  # per line: the good of the reports first counted at each point
    for line, point, good in good_by_point:
        first_counted.setdefault(line, [Decimal(0)] * len(points))[point] += good
    actual = {line: list(itertools.accumulate(counted)) for line, counted in first_counted.items()}
    scrap: dict[tuple[str, str], Decimal] = {}
    for code, name, scrapped in scrap_by_reason:
        key = (code or NO_REASON, name or "")
        scrap[key] = scrap.get(key, Decimal(0)) + scrapped
    progress = DayProgress(day=day, now=now, scrap=_by_reason(scrap), standstill=_standstill(day, until, lines))
    thousandth = Decimal("0.001")
    for line in sorted(set(planned) | set(actual)):
        progress.lines.append(
            LineProgress(
                line=line,
                moments=moments,
                planned=[value.quantize(thousandth) for value in planned.get(line, [Decimal(0)] * len(moments))],
                points=points,
                actual=actual.get(line, [Decimal(0)] * len(points)),
                planned_now=planned_now.get(line, Decimal(0)).quantize(thousandth),
            )
        )
    return progress


def _standstill(day: ProductionDay, until: datetime.datetime, lines: list[str] | None) -> list[ReasonTotal]:
    """Minutes down or idle within the day's shifts up to ``until``, per reason."""
    if until <= day.start:
        return []
    spans = [span.clipped(day.start, until) for span in occurrences(day.rules, day.start, until) if span.day == day.day]
    spans = [span for span in spans if span is not None]
    states = (
        EquipmentState.objects.filter(state__in=STANDSTILL, started_at__lt=until)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=day.start))
        .filter(Q() if lines is None else Q(equipment__work_center__line__in=lines))
        .order_by()
        .values_list("started_at", "ended_at", "reason_code__code", "reason_code__name")
    )
    totals: dict[tuple[str, str], Decimal] = {}
    for started_at, ended_at, code, name in states:
        ended_at = ended_at or until
        seconds = sum(
            max((min(ended_at, span.end) - max(started_at, span.start)).total_seconds(), 0) for span in spans
        )
        if seconds > 0:
            key = (code or NO_REASON, name or "")
            totals[key] = totals.get(key, Decimal(0)) + Decimal(seconds) / 60
    return _by_reason({key: value.quantize(Decimal("0.1")) for key, value in totals.items()})
