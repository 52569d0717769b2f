"""The daily execution report: one production day of each work center, per line (R-5.4).

For each work center, over its production day (``shift_calendar.production_day_period`` of its own
shifts: the day the board and OEE call "today"):

- **planned**: the quantity and hours the schedule (``shopfloor.planning``) placed in that day. The
  schedule is recomputed from now on every confirmation, so the plan of a day is recorded as the day
  begins (``DailyPlan``, by ``services.daily_plans_take``) and read from there; today and later days
  not yet recorded are read from the stored schedule itself (``plan_source`` says which; ``none``: a
  past day nobody recorded). An operation placed across days counts in each in proportion to its
  clock time in it; its quantity is what was left to make of it when the schedule was computed.
- **actual**: the good, scrap and rework quantities confirmed on its operations in the day (a
  confirmation counts in the day when ``start < confirmed_at ≤ end``, a reversal at the time of the
  confirmation it reverses, as OEE counts them). **Completion** = good ÷ planned; **scrap rate** =
  scrap ÷ (good + scrap).
- **OEE and downtime by reason**: ``shopfloor.oee`` of its machines over their production day,
  their tallies added (the OEE module's own ``Tally.add``), so a line's OEE is that of all its machines.
- **bottleneck**: utilisation = standard hours earned (confirmed good + scrap + rework × the
  operation's run minutes per unit) ÷ the day's capacity hours (``shopfloor.planning``'s capacity);
  queue = the operations still waiting for the work center when the report is made (released, running
  or paused) and their remaining hours. The work center with the highest utilisation (then the longest
  queue) is the day's bottleneck.

A constant number of queries however many work centers: eleven, twelve when a plan is read from the stored schedule.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from mes.models import Confirmation, Equipment, ReasonCode, WorkCenter, WorkOrderOperation
from shopfloor.models import DailyPlan, PlannedOperation
from shopfloor.oee import Tally, equipment_oee_day
from shopfloor.planning.core import capacity_by_day
from shopfloor.planning.selectors import ACTIVE_STATUSES, center_windows, remaining_hours
from shopfloor.shift_calendar import plant_production_day, production_day, production_day_period, shift_rules_by_work_center

PLAN_RECORDED, PLAN_SCHEDULE, PLAN_NONE = "recorded", "schedule", "none"
EARLIEST, LATEST = datetime.date(2000, 1, 1), datetime.date(2999, 12, 31)
MICROSECOND = datetime.timedelta(microseconds=1)


def _ratio(numerator, denominator) -> float | None:
    return float(Fraction(numerator) / Fraction(denominator)) if denominator else None


@dataclass
class Figures:
    """What a work center (or a line: the sum of its work centers) did in the day."""

    planned_qty: Decimal = Decimal(0)
    planned_hours: Decimal = Decimal(0)
    planned_operations: int = 0
    good: Decimal = Decimal(0)
    scrap: Decimal = Decimal(0)
    rework: Decimal = Decimal(0)
    tally: Tally = field(default_factory=Tally)
    reasons: dict[int, ReasonCode] = field(default_factory=dict)
    capacity_hours: Decimal = Decimal(0)
    earned_hours: Decimal = Decimal(0)
    queue_operations: int = 0
    queue_hours: Decimal = Decimal(0)

    def add(self, other: Figures) -> None:
        for name in ("planned_qty", "planned_hours", "planned_operations", "good", "scrap", "rework", "capacity_hours",
                     "earned_hours", "queue_operations", "queue_hours"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.tally.add(other.tally)
        self.reasons.update(other.reasons)

    def completion(self) -> float | None:
        return _ratio(self.good, self.planned_qty)

    def scrap_rate(self) -> float | None:
        return _ratio(self.scrap, self.good + self.scrap)

    def utilisation(self) -> float | None:
        return _ratio(self.earned_hours, self.capacity_hours)

    def downtime(self) -> list[dict[str, Any]]:
        return self.tally.losses(self.reasons)["downtime_by_reason"]

    def as_json(self) -> dict[str, Any]:
        losses = self.tally.losses(self.reasons)
        figures = self.tally.figures()
        return {
            "planned_qty": float(self.planned_qty),
            "planned_hours": round(float(self.planned_hours), 2),
            "planned_operations": self.planned_operations,
            "good_qty": float(self.good),
            "scrap_qty": float(self.scrap),
            "rework_qty": float(self.rework),
            "completion": self.completion(),
            "scrap_rate": self.scrap_rate(),
            "oee": {name: figures[name] for name in (
                "availability", "performance", "quality", "oee", "planned_seconds", "run_seconds", "idle_seconds", "down_seconds",
                "unknown_seconds",
            )},
            "downtime_by_reason": losses["downtime_by_reason"],
            "unexplained_downtime_seconds": losses["unexplained_seconds"],
            "short_stop_seconds": losses["short_stop_seconds"],
            "capacity_hours": round(float(self.capacity_hours), 2),
            "earned_hours": round(float(self.earned_hours), 2),
            "utilisation": self.utilisation(),
            "queue_operations": self.queue_operations,
            "queue_hours": round(float(self.queue_hours), 2),
        }


@dataclass
class CenterDay:
    code: str
    name: str
    line: str
    start: datetime.datetime
    end: datetime.datetime
    plan_source: str
    figures: Figures
    is_bottleneck: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "from": self.start, "to": self.end, "plan_source": self.plan_source,
            "is_bottleneck": self.is_bottleneck, **self.figures.as_json(),
        }


@dataclass
class LineDay:
    line: str
    centers: list[CenterDay]
    totals: Figures

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "totals": self.totals.as_json(), "work_centers": [center.as_json() for center in self.centers]}


@dataclass
class DailyReport:
    day: datetime.date
    line: str  # "" for every line
    generated_at: datetime.datetime
    lines: list[LineDay]

    @property
    def bottleneck(self) -> CenterDay | None:
        return next((center for line in self.lines for center in line.centers if center.is_bottleneck), None)

    def as_json(self) -> dict[str, Any]:
        bottleneck = self.bottleneck
        return {
            "date": self.day.isoformat(),
            "line": self.line or None,
            "generated_at": self.generated_at,
            "bottleneck": bottleneck.code if bottleneck else None,
            "lines": [line.as_json() for line in self.lines],
        }


# --- the plan -----------------------------------------------------------------------------------


def _clock_share(start: datetime.datetime, finish: datetime.datetime, period: tuple[datetime.datetime, datetime.datetime]) -> Fraction:
    overlap = min(finish, period[1]) - max(start, period[0])
    if overlap <= datetime.timedelta(0):
        return Fraction(0)
    length = finish - start
    if length <= datetime.timedelta(0):
        return Fraction(1)
    return Fraction(overlap // MICROSECOND, length // MICROSECOND)


def planned_from_schedule(
    *, periods: dict[int, tuple[datetime.datetime, datetime.datetime]]
) -> dict[int, tuple[Decimal, Decimal, int]]:
    """Per work center id, the (quantity, hours, operations) the stored schedule places in its period: one query."""
    if not periods:
        return {}
    first = min(start for start, _end in periods.values())
    last = max(end for _start, end in periods.values())
    answer: dict[int, tuple[Decimal, Decimal, int]] = {key: (Decimal(0), Decimal(0), 0) for key in periods}
    rows = PlannedOperation.objects.filter(
        operation__work_center_id__in=list(periods), start__lt=last, finish__gt=first
    ).values_list(
        "start", "finish", "operation__work_center_id", "operation__planned_qty", "operation__good_qty", "operation__scrap_qty",
        "operation__rework_qty", "operation__setup_minutes", "operation__run_minutes_per_unit",
    )
    for start, finish, center, planned, good, scrap, rework, setup, run in rows:
        share = _clock_share(start, finish, periods[center])
        if not share:
            continue
        confirmed = good + scrap + rework
        left = max(planned - confirmed, Decimal(0))
        hours = remaining_hours(setup_minutes=setup, run_minutes_per_unit=run, planned_qty=planned, confirmed_qty=confirmed)
        quantity, total_hours, operations = answer[center]
        answer[center] = (
            quantity + (left * share.numerator / share.denominator).quantize(Decimal("0.001")),
            total_hours + Decimal(str(round(hours * float(share), 3))),
            operations + 1,
        )
    return answer


# --- reading the day ------------------------------------------------------------------------------


def report_lines() -> list[str]:
    """The lines the work centers name ("" for work centers on no line), in order: one query."""
    return sorted(set(WorkCenter.objects.values_list("line", flat=True)))


def _centers(line: str) -> list[WorkCenter]:
    centers = WorkCenter.objects.order_by("line", "code")
    if line:
        centers = centers.filter(line=line)
        found = list(centers)
        if not found:
            raise DomainError(
                "unknown_line", _("No work center is on line %(line)s.") % {"line": line}, kind=ErrorKind.NOT_FOUND,
                fields={"line": line},
            )
        return found
    return list(centers)


def report_day_default(*, line: str = "", now: datetime.datetime | None = None) -> datetime.date:
    """Today's production day for the line's work centers (all their shifts together): what the board calls today."""
    _centers(line)  # an unknown line is refused by name
    return plant_production_day(now=now, lines=[line] if line else None).day


def report_day_parse(text: str) -> datetime.date:
    """A production day as the page and the API take it (YYYY-MM-DD); ``DomainError`` ``invalid_date`` otherwise."""
    text = text.strip()
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10:
        raise DomainError(
            "invalid_date", _("%(value)r is not a date; use YYYY-MM-DD, such as 2026-11-16.") % {"value": text[:40]},
            fields={"date": text[:40]},
        )
    if not EARLIEST <= day <= LATEST:
        raise DomainError(
            "invalid_date", _("The date must lie between %(first)s and %(last)s.") % {"first": EARLIEST, "last": LATEST},
            fields={"date": text},
        )
    return day


def daily_report(*, day: datetime.date, line: str = "", now: datetime.datetime | None = None) -> DailyReport:
    """The report of production day ``day`` for ``line`` (every line when empty). Raises ``unknown_line``."""
    now = now or timezone.now()
    centers = _centers(line)
    rules = shift_rules_by_work_center([center.pk for center in centers])
    periods = {center.pk: production_day_period(rules[center.pk], day) for center in centers}
    figures = {center.pk: Figures() for center in centers}

    # Planned: recorded as the day began, else (today and later) the stored schedule.
    sources = {center.pk: PLAN_NONE for center in centers}
    for plan in DailyPlan.objects.filter(work_center_id__in=list(periods), day=day):
        entry = figures[plan.work_center_id]
        entry.planned_qty, entry.planned_hours, entry.planned_operations = plan.planned_qty, plan.planned_hours, plan.operations
        sources[plan.work_center_id] = PLAN_RECORDED
    live = {
        center.pk: periods[center.pk] for center in centers
        if sources[center.pk] == PLAN_NONE and day >= production_day(rules[center.pk], now)
    }
    for center_id, (quantity, hours, operations) in planned_from_schedule(periods=live).items():
        entry = figures[center_id]
        entry.planned_qty, entry.planned_hours, entry.planned_operations = quantity, hours, operations
        sources[center_id] = PLAN_SCHEDULE

    # Actual: the confirmations of the day on each work center's operations.
    if centers:
        first = min(start for start, _end in periods.values())
        last = max(end for _start, end in periods.values())
        for center_id, at, good, scrap, rework, minutes in (
            Confirmation.objects.filter(operation__work_center_id__in=list(periods))
            .annotate(counted_at=Coalesce("reverses__confirmed_at", "confirmed_at"))
            .filter(counted_at__gt=first, counted_at__lte=last)
            .values_list("operation__work_center_id", "counted_at", "good_qty", "scrap_qty", "rework_qty", "operation__run_minutes_per_unit")
        ):
            start, end = periods[center_id]
            if not start < at <= end:
                continue
            entry = figures[center_id]
            entry.good += good
            entry.scrap += scrap
            entry.rework += rework
            entry.earned_hours += (good + scrap + rework) * minutes / 60

    # OEE and downtime of their machines.
    machines = list(Equipment.objects.filter(work_center__in=centers).order_by("code"))
    for machine_id, oee in equipment_oee_day(equipment=machines, day=day, now=now).items():
        entry = figures[oee.equipment.work_center_id]
        entry.tally.add(oee.total)
        entry.reasons.update(oee.reasons)

    # Capacity of the day, and the queue now.
    windows = center_windows(first_day=day, last_day=day)
    for center in centers:
        figures[center.pk].capacity_hours = Decimal(str(round(capacity_by_day(windows.get(center.code, [])).get(day, 0.0), 3)))
    for center_id, setup, run, planned, good, scrap, rework in WorkOrderOperation.objects.filter(
        work_center_id__in=list(periods), status__in=ACTIVE_STATUSES, work_order__status__in=ACTIVE_STATUSES
    ).values_list("work_center_id", "setup_minutes", "run_minutes_per_unit", "planned_qty", "good_qty", "scrap_qty", "rework_qty"):
        entry = figures[center_id]
        entry.queue_operations += 1
        hours = remaining_hours(setup_minutes=setup, run_minutes_per_unit=run, planned_qty=planned, confirmed_qty=good + scrap + rework)
        entry.queue_hours += Decimal(str(round(hours, 3)))

    rows = [
        CenterDay(center.code, center.name, center.line, *periods[center.pk], sources[center.pk], figures[center.pk])
        for center in centers
    ]
    busiest = max(
        (row for row in rows if row.figures.utilisation() is not None or row.figures.queue_operations),
        key=lambda row: (row.figures.utilisation() or 0.0, row.figures.queue_hours, row.code),
        default=None,
    )
    if busiest is not None:
        busiest.is_bottleneck = True
    by_line: dict[str, list[CenterDay]] = defaultdict(list)
    for row in rows:
        by_line[row.line].append(row)
    lines = []
    for name, line_rows in by_line.items():
        totals = Figures()
        for row in line_rows:
            totals.add(row.figures)
        lines.append(LineDay(name, line_rows, totals))
    return DailyReport(day, line, now, lines)


# --- what the documents list ---------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    line: str
    code: str  # "" on a line's total
    name: str
    figures: Figures
    is_bottleneck: bool = False

    @property
    def is_total(self) -> bool:
        return not self.code


def summary_rows(report: DailyReport) -> list[SummaryRow]:
    """Each work center, then its line's total, line by line: what the PDF, the XLSX and the page list."""
    rows = []
    for line in report.lines:
        rows += [SummaryRow(line.line, center.code, center.name, center.figures, center.is_bottleneck) for center in line.centers]
        rows.append(SummaryRow(line.line, "", "", line.totals))
    return rows


@dataclass(frozen=True)
class DowntimeRow:
    line: str
    work_center: str
    reason_code: str
    reason: str
    seconds: float
    stops: int


def downtime_rows(report: DailyReport) -> list[DowntimeRow]:
    """Stopped time by reason of each work center, longest first; stops without a reason as one row (code "")."""
    rows = []
    for line in report.lines:
        for center in line.centers:
            losses = center.figures.tally.losses(center.figures.reasons)
            rows += [
                DowntimeRow(line.line, center.code, entry["reason_code"], entry["name"], entry["seconds"], entry["stops"])
                for entry in losses["downtime_by_reason"]
            ]
            if losses["unexplained_seconds"]:
                rows.append(DowntimeRow(line.line, center.code, "", _("no reason given"), losses["unexplained_seconds"], 0))
    return rows
