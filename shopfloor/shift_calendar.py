"""The equipment calendar: when a machine is planned to produce, from its shifts.

A machine's shifts are its own ``Shift`` rows if it has any, else its work center's, else
``ALL_DAY`` (planned around the clock, every day). Shift times are wall-clock times in the
plant's time zone (``TIME_ZONE``). A shift that ends at or before its start crosses midnight and
belongs to the production day it starts on: the night shift 22:00–06:00 of Monday runs until
Tuesday 06:00 and counts for Monday.

The **production day** of a moment (``production_day``) is what pages and the API call "today": the
day of the shift running then; with none running, the calendar day in plant time, except before
the first shift that starts on it, which still belongs to the day before. So at Tuesday 03:00 the
plant still works on Monday, with or without a night shift, and Tuesday begins at 06:00.

Every page that says "today" or "this shift" for the plant or a line (the board, the OEE pages, the
home pages, reports) asks ``plant_production_day``: the production day of the shifts of the plant's
(or the line's) work centers and machines together, and the period it spans.

Pure functions on plain values, plus two loaders (``shift_rules_by_equipment``, ``plant_production_day``:
one query each).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shopfloor.models import Shift

DAY = datetime.timedelta(days=1)
WEEK_MINUTES = 7 * 24 * 60
ALL_WEEKDAYS = frozenset(range(1, 8))


@dataclass(frozen=True)
class ShiftRule:
    """A shift as the calendar needs it: name, wall-clock start and end, ISO weekdays it starts on."""

    name: str
    start_time: datetime.time
    end_time: datetime.time
    weekdays: frozenset[int]

    @property
    def minutes(self) -> int:
        """Length in minutes of wall-clock time (24 h when start and end are equal)."""
        start = self.start_time.hour * 60 + self.start_time.minute
        end = self.end_time.hour * 60 + self.end_time.minute
        return (end - start) % (24 * 60) or 24 * 60

    @classmethod
    def of(cls, shift: Shift) -> ShiftRule:
        return cls(shift.name, shift.start_time, shift.end_time, shift.weekday_numbers)


ALL_DAY = ShiftRule(_("All day"), datetime.time(0), datetime.time(0), ALL_WEEKDAYS)


@dataclass(frozen=True)
class PlannedSpan:
    """One occurrence of a shift: planned from ``start`` to ``end`` (aware), on production day ``day``."""

    shift: str
    day: datetime.date
    start: datetime.datetime
    end: datetime.datetime

    def clipped(self, start: datetime.datetime, end: datetime.datetime) -> PlannedSpan | None:
        """The part of this span within ``[start, end)``, or None when nothing is left."""
        clipped_start, clipped_end = max(self.start, start), min(self.end, end)
        if clipped_end <= clipped_start:
            return None
        return PlannedSpan(self.shift, self.day, clipped_start, clipped_end)


def plant_zone() -> datetime.tzinfo:
    return timezone.get_default_timezone()


def occurrences(rules: Sequence[ShiftRule], start: datetime.datetime, end: datetime.datetime) -> list[PlannedSpan]:
    """Every occurrence of ``rules`` that overlaps ``[start, end)``, whole (not clipped), by start."""
    zone = plant_zone()
    first_day = start.astimezone(zone).date() - DAY  # yesterday's night shift may reach into the period
    last_day = end.astimezone(zone).date()
    spans = []
    day = first_day
    while day <= last_day:
        for rule in rules:
            if day.isoweekday() not in rule.weekdays:
                continue
            begins = datetime.datetime.combine(day, rule.start_time, tzinfo=zone)
            ends_on = day + DAY if rule.end_time <= rule.start_time else day
            ends = datetime.datetime.combine(ends_on, rule.end_time, tzinfo=zone)
            if begins < end and ends > start:
                spans.append(PlannedSpan(rule.name, day, begins, ends))
        day += DAY
    spans.sort(key=lambda span: (span.start, span.shift))
    return spans


def span_at(rules: Sequence[ShiftRule], moment: datetime.datetime) -> PlannedSpan | None:
    """The shift occurrence running at ``moment``, else the latest one that ended in the week before it."""
    spans = occurrences(rules, moment - 7 * DAY, moment + datetime.timedelta(microseconds=1))
    running = [span for span in spans if span.start <= moment < span.end]
    if running:
        return running[0]
    ended = [span for span in spans if span.end <= moment]
    return max(ended, key=lambda span: span.end, default=None)


def production_day(rules: Sequence[ShiftRule], moment: datetime.datetime) -> datetime.date:
    """The production day ``moment`` belongs to (see the module's docstring): what "today" means."""
    day = moment.astimezone(plant_zone()).date()
    midnight = datetime.datetime.combine(day, datetime.time(0), tzinfo=plant_zone())
    spans = occurrences(rules, midnight, midnight + DAY)
    running = [span for span in spans if span.start <= moment < span.end]
    if running:
        return running[0].day
    starts = [span.start for span in spans if span.day == day]
    return day - DAY if starts and moment < min(starts) else day


def production_day_period(rules: Sequence[ShiftRule], day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """From the start of the first shift that starts on ``day`` to the end of its last one (local
    midnight to midnight when no shift starts that day): a period holding exactly that day's shifts."""
    zone = plant_zone()
    midnight = datetime.datetime.combine(day, datetime.time(0), tzinfo=zone)
    next_midnight = datetime.datetime.combine(day + DAY, datetime.time(0), tzinfo=zone)
    spans = [span for span in occurrences(rules, midnight, next_midnight) if span.day == day]
    if not spans:
        return midnight, next_midnight
    return min(span.start for span in spans), max(span.end for span in spans)


def overlaps(rules: Iterable[ShiftRule]) -> list[tuple[str, str]]:
    """Pairs of shift names whose times overlap on some weekday (their hours would count twice)."""

    def weekly(rule: ShiftRule) -> list[tuple[int, int]]:
        start = rule.start_time.hour * 60 + rule.start_time.minute
        return [((day - 1) * 24 * 60 + start, rule.minutes) for day in sorted(rule.weekdays)]

    rules = list(rules)
    found = []
    for index, first in enumerate(rules):
        for second in rules[index + 1:]:
            if any(
                (b - a) % WEEK_MINUTES < length_a or (a - b) % WEEK_MINUTES < length_b
                for a, length_a in weekly(first)
                for b, length_b in weekly(second)
            ):
                found.append((first.name, second.name))
    return found


def shift_rules_by_equipment(equipment: Iterable) -> dict[int, list[ShiftRule]]:
    """Each machine's shift rules (its own, else its work center's, else ``ALL_DAY``): one query.

    ``equipment`` are ``Equipment`` rows (``pk`` and ``work_center_id`` are used).
    """
    machines = list(equipment)
    rows = (
        Shift.objects.filter(
            Q(equipment_id__in=[machine.pk for machine in machines])
            | Q(work_center_id__in={machine.work_center_id for machine in machines})
        ).order_by("start_time", "name")
        if machines
        else []
    )
    own: dict[int, list[ShiftRule]] = {}
    by_center: dict[int, list[ShiftRule]] = {}
    for row in rows:
        if row.equipment_id is not None:
            own.setdefault(row.equipment_id, []).append(ShiftRule.of(row))
        else:
            by_center.setdefault(row.work_center_id, []).append(ShiftRule.of(row))
    return {
        machine.pk: own.get(machine.pk) or by_center.get(machine.work_center_id) or [ALL_DAY] for machine in machines
    }



def shift_rules_by_work_center(work_center_ids: Iterable[int]) -> dict[int, list[ShiftRule]]:
    """Each work center's own shift rules (else ``ALL_DAY``): one query."""
    ids = list(work_center_ids)
    rules: dict[int, list[ShiftRule]] = {}
    for row in Shift.objects.filter(work_center_id__in=ids).order_by("start_time", "name") if ids else []:
        rules.setdefault(row.work_center_id, []).append(ShiftRule.of(row))
    return {key: rules.get(key) or [ALL_DAY] for key in ids}


@dataclass(frozen=True)
class ProductionDay:
    """A production day of the plant (or a line): its date, the period its shifts span, and the rules."""

    day: datetime.date
    start: datetime.datetime
    end: datetime.datetime
    rules: tuple[ShiftRule, ...]

    def elapsed_until(self, moment: datetime.datetime) -> datetime.datetime:
        """The end of the part of the day already lived at ``moment`` (its start before it begins)."""
        return min(max(moment, self.start), self.end)


def plant_shift_rules(*, lines: Iterable[str] | None = None) -> list[ShiftRule]:
    """The distinct shifts of every work center and machine (of ``lines`` when named): one query;
    ``[ALL_DAY]`` when none has a shift, as for a machine without one."""
    shifts = Shift.objects.order_by("start_time", "name")
    if lines is not None:
        lines = list(lines)
        shifts = shifts.filter(Q(work_center__line__in=lines) | Q(equipment__work_center__line__in=lines))
    rules = {}
    for name, start, end, weekdays in shifts.values_list("name", "start_time", "end_time", "weekdays"):
        rule = ShiftRule(name, start, end, frozenset(int(day) for day in weekdays if day.isdigit() and 1 <= int(day) <= 7))
        rules.setdefault((rule.start_time, rule.end_time, rule.weekdays), rule)
    return list(rules.values()) or [ALL_DAY]


def plant_production_day(
    *, now: datetime.datetime | None = None, lines: Iterable[str] | None = None, day: datetime.date | None = None
) -> ProductionDay:
    """What "today" is for the plant (or ``lines``) at ``now``, or the production day ``day``: one query."""
    rules = plant_shift_rules(lines=lines)
    day = day or production_day(rules, now or timezone.now())
    start, end = production_day_period(rules, day)
    return ProductionDay(day, start, end, tuple(rules))
