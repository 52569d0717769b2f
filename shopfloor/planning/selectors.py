"""Reads of planning: the scheduler's inputs (three queries), capacity and load per day, the stored schedule."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from mes.models import Status, WorkCenter, WorkOrderOperation
from shopfloor.models import PlannedOperation, Shift
from shopfloor.planning.core import (
    OperationInput,
    OrderInput,
    ScheduledOperation,
    Window,
    capacity_by_day,
    load_by_day,
    windows_of,
)
from shopfloor.shift_calendar import ALL_DAY, DAY, ShiftRule, occurrences, plant_zone

# Work that still needs its work center: operations released, running or paused (it resumes).
ACTIVE_STATUSES = (Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED)
# How far ahead windows are laid out for the schedule; work beyond stays unplanned.
HORIZON_DAYS = 366


@dataclass(frozen=True)
class PlanningInputs:
    now: datetime.datetime
    windows: dict[str, list[Window]]  # by work center code, in code order
    orders: list[OrderInput]
    operations: list[OperationInput]


def day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=plant_zone())


def remaining_hours(*, setup_minutes, run_minutes_per_unit, planned_qty, confirmed_qty) -> float:
    """Setup while nothing is confirmed yet, plus the run time of what is still to make."""
    setup = float(setup_minutes) if confirmed_qty <= 0 else 0.0
    left = max(float(planned_qty) - float(confirmed_qty), 0.0)
    return (setup + float(run_minutes_per_unit) * left) / 60


def work_centers_checked(*, codes: Iterable[str]) -> None:
    """Raise ``unknown_work_center`` (404) for a code no work center has."""
    codes = set(codes)
    known = set(WorkCenter.objects.filter(code__in=codes).values_list("code", flat=True))
    missing = sorted(codes - known)
    if missing:
        raise DomainError(
            "unknown_work_center",
            _("No work center with code %(code)s exists.") % {"code": missing[0]},
            kind=ErrorKind.NOT_FOUND,
            fields={"work_center": missing[0]},
        )


def center_windows(*, first_day: datetime.date, last_day: datetime.date) -> dict[str, list[Window]]:
    """Every work center's windows (by code, in code order) from ``first_day`` to ``last_day``: two queries."""
    centers = list(WorkCenter.objects.annotate(machines=Count("equipment")).order_by("code"))
    rules: dict[int, list[ShiftRule]] = {}
    for shift in Shift.objects.filter(work_center__isnull=False).order_by("start_time", "name"):
        rules.setdefault(shift.work_center_id, []).append(ShiftRule.of(shift))
    period_start, period_end = day_start(first_day), day_start(last_day + DAY)
    windows = {}
    for center in centers:
        spans = [
            span for span in occurrences(rules.get(center.pk) or [ALL_DAY], period_start, period_end)
            if first_day <= span.day <= last_day
        ]
        windows[center.code] = windows_of(
            spans,
            machines=center.machines,
            efficiency=float(center.efficiency),
            capacity_hours_per_day=None if center.capacity_hours_per_day is None else float(center.capacity_hours_per_day),
        )
    return windows


def planning_inputs(*, now: datetime.datetime, first_day: datetime.date, last_day: datetime.date) -> PlanningInputs:
    """Every work center's windows from ``first_day`` to ``last_day`` and every active operation: three queries."""
    windows = center_windows(first_day=first_day, last_day=last_day)
    rows = (
        WorkOrderOperation.objects.filter(status__in=ACTIVE_STATUSES, work_order__status__in=ACTIVE_STATUSES)
        .order_by("work_order_id", "sequence")
        .values_list(
            "id", "sequence", "setup_minutes", "run_minutes_per_unit", "planned_qty", "good_qty", "scrap_qty", "rework_qty",
            "work_center__code", "work_order__number", "work_order__priority", "work_order__due_date",
        )
    )
    orders: dict[str, OrderInput] = {}
    operations = []
    for key, sequence, setup, run, planned, good, scrap, rework, center, number, priority, due_date in rows:
        if number not in orders:
            orders[number] = OrderInput(number, priority, due_date, day_start(due_date + DAY))
        hours = remaining_hours(setup_minutes=setup, run_minutes_per_unit=run, planned_qty=planned, confirmed_qty=good + scrap + rework)
        operations.append(OperationInput(key, number, sequence, center, hours))
    return PlanningInputs(now, windows, list(orders.values()), operations)


def schedule_inputs(*, now: datetime.datetime | None = None) -> PlanningInputs:
    """The inputs of a schedule from ``now`` over the horizon."""
    now = now or timezone.now()
    today = now.astimezone(plant_zone()).date()
    return planning_inputs(now=now, first_day=today - DAY, last_day=today + datetime.timedelta(days=HORIZON_DAYS))


@dataclass(frozen=True)
class DayLoad:
    date: datetime.date
    capacity_hours: float
    load_hours: float


def capacity_by_center(
    *, first_day: datetime.date, last_day: datetime.date, work_center: str = "", now: datetime.datetime | None = None
) -> dict[str, list[DayLoad]]:
    """Capacity and load of each work center (or only ``work_center``) per day from ``first_day`` to ``last_day``."""
    if work_center:
        work_centers_checked(codes=[work_center])
    inputs = schedule_inputs(now=now)  # the load runs from now, whatever days are asked for
    load = load_by_day(now=inputs.now, windows=inputs.windows, orders=inputs.orders, operations=inputs.operations)
    asked = center_windows(first_day=first_day, last_day=last_day)
    answer = {}
    for code, windows in asked.items():
        if work_center and code != work_center:
            continue
        capacity = capacity_by_day(windows)
        days = []
        day = first_day
        while day <= last_day:
            days.append(DayLoad(day, capacity.get(day, 0.0), sum(load.get((code, day), {}).values())))
            day += DAY
        answer[code] = days
    return answer


@dataclass(frozen=True)
class OrderFinish:
    number: str
    due_date: datetime.date
    predicted_finish: datetime.datetime | None
    is_late: bool


def schedule_read(
    *, start: datetime.datetime, end: datetime.datetime, work_center: str = ""
) -> tuple[list[ScheduledOperation], list[OrderFinish]]:
    """The stored schedule's operations overlapping ``[start, end)`` (of ``work_center`` alone if named),
    by work center and start, and their orders with the predicted finish of each, late ones first."""
    if work_center:
        work_centers_checked(codes=[work_center])
    planned = PlannedOperation.objects.filter(start__lt=end, finish__gte=start)
    if work_center:
        planned = planned.filter(operation__work_center__code=work_center)
    rows = [
        ScheduledOperation(*values)
        for values in planned.order_by("operation__work_center__code", "start", "operation_id").values_list(
            "operation_id", "operation__work_order__number", "operation__sequence", "operation__work_center__code", "start", "finish"
        )
    ]
    numbers = sorted({row.work_order for row in rows})
    finishes: dict[str, datetime.datetime] = {}
    due: dict[str, datetime.date] = {}
    unplanned: set[str] = set()
    for number, due_date, finish in (
        WorkOrderOperation.objects.filter(work_order__number__in=numbers, status__in=ACTIVE_STATUSES)
        .values_list("work_order__number", "work_order__due_date", "planned__finish")
    ):
        due[number] = due_date
        if finish is None:
            unplanned.add(number)
        elif number not in finishes or finish > finishes[number]:
            finishes[number] = finish
    orders = []
    for number in numbers:
        finish = None if number in unplanned else finishes.get(number)
        due_date = due.get(number)
        if due_date is None:  # finished since the schedule was stored
            continue
        orders.append(OrderFinish(number, due_date, finish, finish is None or finish > day_start(due_date + DAY)))
    orders.sort(key=lambda order: (not order.is_late, order.predicted_finish or end, order.number))
    return rows, orders


@dataclass(frozen=True)
class CenterRow:
    code: str
    name: str
    line: str


def centers_of_lines(*, line: str = "") -> list[CenterRow]:
    """The work centers (of ``line`` alone if named) by line and code: one query."""
    centers = WorkCenter.objects.order_by("line", "code")
    if line:
        centers = centers.filter(line=line)
    return [CenterRow(*values) for values in centers.values_list("code", "name", "line")]


def load_overview(
    *, first_day: datetime.date, days: int, line: str = "", now: datetime.datetime | None = None
) -> list[tuple[CenterRow, list[DayLoad]]]:
    """Each work center (of ``line`` if named) with its capacity and load per day for ``days`` days: six queries."""
    loads = capacity_by_center(first_day=first_day, last_day=first_day + datetime.timedelta(days=days - 1), now=now)
    return [(center, loads.get(center.code, [])) for center in centers_of_lines(line=line)]


def line_schedules(
    *, start: datetime.datetime, end: datetime.datetime, line: str = ""
) -> tuple[list[tuple[str, list[CenterRow]]], list[ScheduledOperation], list[OrderFinish]]:
    """The lines (only ``line`` if named) with their work centers, the stored schedule's operations on
    them overlapping ``[start, end)``, and those operations' orders, late ones first: three queries."""
    centers = centers_of_lines(line=line)
    lines: dict[str, list[CenterRow]] = {}
    for center in centers:
        lines.setdefault(center.line, []).append(center)
    shown = {center.code for center in centers}
    operations, orders = schedule_read(start=start, end=end)
    operations = [operation for operation in operations if operation.work_center in shown]
    numbers = {operation.work_order for operation in operations}
    return list(lines.items()), operations, [order for order in orders if order.number in numbers]
