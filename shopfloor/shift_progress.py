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

import bisect
import datetime
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from common.sql_values import EpochMicros, micros
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


def _plan_sums(plans: list[tuple[Decimal, Decimal | None, Decimal]], at: list[Decimal]) -> list[Decimal]:
    """The sum at each moment of ``at`` (seconds from the start of the day, ascending) of the plan lines
    ``(quantity, released, end)`` (seconds from the same start), less what each had planned by the start.

    A plan line's plan is nothing until its release, all of ``quantity`` from its due end on, and
    evenly between (``quantity × (moment − released) / (end − released)``; all of it right after
    the release when it is due no later). So the sum is piecewise linear: each line adds a slope
    and a constant from the first moment after its release, and trades them for its quantity from
    its due end on; changes kept per moment and summed once, one division per line.
    """
    count = len(at)
    slope, constant = [Decimal(0)] * (count + 1), [Decimal(0)] * (count + 1)
    for quantity, released, end in plans:
        if released is None:
            continue
        started = bisect.bisect_right(at, released)  # the first moment after the release
        if end > released:
            ended = max(bisect.bisect_left(at, end), started)  # the first moment at or after the due end
            per_second = quantity / (end - released)
            offset = per_second * released
            slope[started] += per_second
            slope[ended] -= per_second
            constant[started] -= offset
            constant[ended] += offset
            # What the line had planned by the start of the day is not the day's plan.
            base = Decimal(0) if released >= 0 else quantity if end <= 0 else -offset
        else:
            ended = started
            base = quantity if released < 0 else Decimal(0)
        constant[ended] += quantity
        constant[0] -= base
        constant[count] += base
    sums, running_slope, running_constant = [], Decimal(0), Decimal(0)
    for index, moment in enumerate(at):
        running_slope += slope[index]
        running_constant += constant[index]
        sums.append(running_slope * moment + running_constant)
    return sums


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
    # Summed per line and order release and due date: orders released and due alike share a plan line.
    # The release is read as microseconds since 1970 (a plain int, not a parsed timestamp per row).
    operations = (
        WorkOrderOperation.objects.filter(on_lines)
        .filter(Q(work_order__status__in=ACTIVE) | Q(id__in=day_reports.values("operation_id")))
        .order_by()
        .annotate(released_us=EpochMicros("work_order__released_at"))
        .values("work_center__line", "released_us", "work_order__due_date")
        .annotate(quantity=Sum("planned_qty"))
        .values_list("work_center__line", "released_us", "work_order__due_date", "quantity")
    )
    start_us = micros(day.start)
    plans: dict[str, dict[tuple[Decimal | None, Decimal], Decimal]] = {}
    ends: dict[datetime.date, Decimal] = {}  # a few dozen due dates among a thousand orders
    for line, released_us, due_date, quantity in operations:
        end = ends.get(due_date)
        if end is None:
            end = ends[due_date] = _seconds(due_end(due_date, zone) - day.start)
        # The due end is worked out here, not in SQL: it is midnight after the due date in the plant's zone.
        key = (None if released_us is None else Decimal(released_us - start_us).scaleb(-6), end)
        on_line = plans.setdefault(line, {})
        on_line[key] = on_line.get(key, Decimal(0)) + quantity
    # The plan at each moment of the day and now, in one pass per line.
    at = sorted({_seconds(moment - day.start) for moment in [*moments, until]})
    index_of = {moment: index for index, moment in enumerate(at)}
    at_moments = [index_of[_seconds(moment - day.start)] for moment in moments]
    at_until = index_of[_seconds(until - day.start)]
    planned: dict[str, list[Decimal]] = {}
    planned_now: dict[str, Decimal] = {}
    for line, on_line in plans.items():
        sums = _plan_sums([(quantity, released, end) for (released, end), quantity in on_line.items()], at)
        planned[line] = [sums[index] for index in at_moments]
        planned_now[line] = sums[at_until]
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
