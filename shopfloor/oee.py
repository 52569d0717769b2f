"""OEE of machines per period, shift and day, and the machine rows of the progress board.

Definitions, for one machine and its planned time in a period:

- **planned time**: the machine's shift occurrences (``shopfloor.shift_calendar``) within the
  period, and never past now.
- **run / idle / down / unknown time**: its ``EquipmentState`` intervals clipped to the planned
  time (an open interval lasts until now). Planned time that no interval covers (nothing was
  recorded) counts as unknown, so run + idle + down + unknown = planned.
- **availability** = run / planned.
- **performance** = Σ(ideal cycle time × (good + scrap)) / run, the ideal cycle time being the
  ``run_minutes_per_unit`` of the operation each count was confirmed on (the collector confirms a
  machine's counts on the operation running on it, so that is the routing's time of the
  operation assigned to the machine). It is not capped: above 1 the ideal cycle time is too long.
- **quality** = good / (good + scrap).
- **OEE** = availability × performance × quality, which is also good × ideal cycle / planned.

Counts are the confirmations whose ``station`` is the machine's code: the collector writes every
window of a machine's counts that way, and a person reporting at the machine does too. A
reversal counts (negatively) at the time of the confirmation it reverses. A confirmation counts
in the planned span its ``confirmed_at`` falls in, with the end inclusive and the start not
(``start < confirmed_at ≤ end``): the collector stamps a window with its end, so the window
07:59–08:00 belongs to the shift that ends at 08:00. Counts outside planned time are left out,
like the run time there. Rework is reported by people, not machines, and is in neither.

A ratio whose denominator is zero is None (no planned time, no run time, no parts); so is
availability when no state was recorded in the planned time at all. OEE is None when a factor
is None, except that a factor of exactly 0 makes it 0 (a machine down all shift has OEE 0).

Losses: stopped time (idle and down) by reason code; stopped time long enough to ask for a
reason (``MES_DOWNTIME_REASON_AFTER_SECONDS``) with none given (unexplained); shorter stops;
unknown time; speed loss = run − Σ ideal × count (negative when faster than ideal); scrap loss =
ideal × scrap. Planned = good × ideal + scrap loss + speed loss + stopped time + unknown time.

Every function here reads a constant number of queries however many machines it covers.
"""

from __future__ import annotations

import bisect
import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.period import period_parse
from mes.models import Confirmation, Equipment, ReasonCode
from shopfloor.models import EquipmentState
from shopfloor.shift_calendar import (
    PlannedSpan,
    ShiftRule,
    occurrences,
    plant_zone,
    production_day,
    production_day_period,
    shift_rules_by_equipment,
    span_at,
)

State = EquipmentState.State
MICROSECOND = datetime.timedelta(microseconds=1)
STOPPED = (State.IDLE, State.DOWN)


def _us(delta: datetime.timedelta) -> int:
    return delta // MICROSECOND


def _seconds(microseconds: int | Fraction) -> float:
    return round(float(Fraction(microseconds) / 1_000_000), 3)


def _ratio(numerator: Fraction | int, denominator: Fraction | int) -> Fraction | None:
    return Fraction(numerator) / Fraction(denominator) if denominator else None


@dataclass
class Tally:
    """What one machine did in some planned time; tallies of parts of a period add up to the period's."""

    planned_us: int = 0
    state_us: dict[str, int] = field(default_factory=lambda: dict.fromkeys(State.values, 0))
    recorded_us: int = 0  # planned time covered by some state interval
    reason_us: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # reason code id → stopped time
    reason_stops: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))  # reason id → state ids
    unexplained_us: int = 0
    short_stop_us: int = 0
    good: Decimal = Decimal(0)
    scrap: Decimal = Decimal(0)
    ideal_good_us: Fraction = Fraction(0)
    ideal_scrap_us: Fraction = Fraction(0)
    without_ideal_cycle: Decimal = Decimal(0)  # counts on operations with no run time per unit

    def add(self, other: Tally) -> None:
        self.planned_us += other.planned_us
        for state, value in other.state_us.items():
            self.state_us[state] += value
        self.recorded_us += other.recorded_us
        for reason, value in other.reason_us.items():
            self.reason_us[reason] += value
        for reason, stops in other.reason_stops.items():
            self.reason_stops[reason] |= stops
        self.unexplained_us += other.unexplained_us
        self.short_stop_us += other.short_stop_us
        self.good += other.good
        self.scrap += other.scrap
        self.ideal_good_us += other.ideal_good_us
        self.ideal_scrap_us += other.ideal_scrap_us
        self.without_ideal_cycle += other.without_ideal_cycle

    # --- the figures ------------------------------------------------------------------

    @property
    def run_us(self) -> int:
        return self.state_us[State.RUN]

    @property
    def ideal_us(self) -> Fraction:
        return self.ideal_good_us + self.ideal_scrap_us

    def availability(self) -> Fraction | None:
        return _ratio(self.run_us, self.planned_us) if self.recorded_us else None

    def performance(self) -> Fraction | None:
        if self.good + self.scrap and self.without_ideal_cycle == self.good + self.scrap:
            return None  # parts, but no ideal cycle time for any of them
        return _ratio(self.ideal_us, self.run_us)

    def quality(self) -> Fraction | None:
        return _ratio(Fraction(self.good), Fraction(self.good + self.scrap))

    def oee(self) -> Fraction | None:
        factors = (self.availability(), self.performance(), self.quality())
        if any(factor == 0 for factor in factors):
            return Fraction(0)
        if any(factor is None for factor in factors):
            return None
        availability, performance, quality = factors
        return availability * performance * quality

    def figures(self) -> dict[str, Any]:
        """The API's figures: ratios as floats (None for an empty denominator), seconds to the millisecond."""

        def number(value: Fraction | None) -> float | None:
            return None if value is None else float(value)

        return {
            "availability": number(self.availability()),
            "performance": number(self.performance()),
            "quality": number(self.quality()),
            "oee": number(self.oee()),
            "run_seconds": _seconds(self.run_us),
            "down_seconds": _seconds(self.state_us[State.DOWN]),
            "good": self.good,
            "scrap": self.scrap,
            "planned_seconds": _seconds(self.planned_us),
            "idle_seconds": _seconds(self.state_us[State.IDLE]),
            "unknown_seconds": _seconds(self.state_us[State.UNKNOWN]),
            "ideal_seconds": _seconds(self.ideal_us),
            "counts_without_ideal_cycle": self.without_ideal_cycle,
        }

    def losses(self, reasons: dict[int, ReasonCode]) -> dict[str, Any]:
        """Where the planned time went that made no good part."""
        by_reason = sorted(
            (
                {
                    "reason_code": reasons[reason_id].code,
                    "name": reasons[reason_id].name,
                    "seconds": _seconds(value),
                    "stops": len(self.reason_stops[reason_id]),
                }
                for reason_id, value in self.reason_us.items()
                if value
            ),
            key=lambda row: (-row["seconds"], row["reason_code"]),
        )
        return {
            "downtime_by_reason": by_reason,
            "unexplained_seconds": _seconds(self.unexplained_us),
            "short_stop_seconds": _seconds(self.short_stop_us),
            "unknown_seconds": _seconds(self.state_us[State.UNKNOWN]),
            "speed_loss_seconds": _seconds(self.run_us - self.ideal_us) if self.run_us or self.ideal_us else 0.0,
            "scrap_seconds": _seconds(self.ideal_scrap_us),
            "scrap": self.scrap,
        }


@dataclass
class SpanTally:
    span: PlannedSpan  # clipped to the period and to now
    tally: Tally


@dataclass
class EquipmentOee:
    """One machine's OEE over ``[start, end)``: in total, per shift occurrence and per production day."""

    equipment: Equipment
    start: datetime.datetime
    end: datetime.datetime
    total: Tally
    shifts: list[SpanTally]
    reasons: dict[int, ReasonCode]

    def days(self) -> list[tuple[datetime.date, Tally]]:
        by_day: dict[datetime.date, Tally] = {}
        for entry in self.shifts:
            by_day.setdefault(entry.span.day, Tally()).add(entry.tally)
        return sorted(by_day.items())

    def as_json(self) -> dict[str, Any]:
        def row(tally: Tally, **keys: Any) -> dict[str, Any]:
            return {**keys, **tally.figures()}

        return {
            "equipment": self.equipment.code,
            "from": self.start,
            "to": self.end,
            **self.total.figures(),
            "losses": self.total.losses(self.reasons),
            "shifts": [
                row(entry.tally, shift=str(entry.span.shift), day=entry.span.day, **{"from": entry.span.start, "to": entry.span.end})
                for entry in self.shifts
            ],
            "days": [row(tally, day=day) for day, tally in self.days()],
        }


# --- computing ----------------------------------------------------------------------------


def _planned_spans(rules: Sequence[ShiftRule], start: datetime.datetime, end: datetime.datetime) -> list[PlannedSpan]:
    spans = (span.clipped(start, end) for span in occurrences(rules, start, end))
    return [span for span in spans if span is not None]


def _tally_states(spans: list[PlannedSpan], tallies: list[Tally], states: list[EquipmentState], now: datetime.datetime) -> None:
    """Add each state interval's overlap with each span to that span's tally. Both lists run by time."""
    threshold = datetime.timedelta(seconds=settings.MES_DOWNTIME_REASON_AFTER_SECONDS)
    ends = [state.ended_at or now for state in states]
    for span, tally in zip(spans, tallies, strict=True):
        tally.planned_us += _us(span.end - span.start)
        index = bisect.bisect_right(ends, span.start)
        while index < len(states) and states[index].started_at < span.end:
            state, ended = states[index], ends[index]
            overlap = _us(min(ended, span.end) - max(state.started_at, span.start))
            index += 1
            if overlap <= 0:
                continue
            tally.state_us[state.state] += overlap
            tally.recorded_us += overlap
            if state.state not in STOPPED:
                continue
            if state.reason_code_id is not None:
                tally.reason_us[state.reason_code_id] += overlap
                tally.reason_stops[state.reason_code_id].add(state.pk)
            elif ended - state.started_at >= threshold:
                tally.unexplained_us += overlap
            else:
                tally.short_stop_us += overlap
        # Planned time nothing was recorded for is unknown too.
        tally.state_us[State.UNKNOWN] += tally.planned_us - sum(tally.state_us.values())


def _tally_counts(spans: list[PlannedSpan], tallies: list[Tally], counts: list[tuple]) -> None:
    """Add each confirmation (at, good, scrap, run minutes per unit) to the span it falls in (start < at ≤ end)."""
    starts = [span.start for span in spans]
    for at, good, scrap, minutes_per_unit in counts:
        index = bisect.bisect_left(starts, at) - 1
        if index < 0 or not at <= spans[index].end:
            continue
        tally = tallies[index]
        tally.good += good
        tally.scrap += scrap
        if minutes_per_unit:
            per_unit = Fraction(minutes_per_unit) * 60_000_000
            tally.ideal_good_us += per_unit * Fraction(good)
            tally.ideal_scrap_us += per_unit * Fraction(scrap)
        else:
            tally.without_ideal_cycle += good + scrap


def _oee_for_periods(
    machines: list[Equipment],
    periods: dict[int, tuple[datetime.datetime, datetime.datetime]],
    rules: dict[int, list[ShiftRule]],
    now: datetime.datetime,
) -> dict[int, EquipmentOee]:
    """OEE of each machine over its own period ``[start, end)``: two queries for all of them."""
    spans = {}
    for machine in machines:
        start, end = periods[machine.pk]
        until = min(end, now)
        spans[machine.pk] = _planned_spans(rules[machine.pk], start, until) if start < until else []
    first = min((start for start, _end in periods.values()), default=now)
    last = min(max((end for _start, end in periods.values()), default=now), now)
    states: dict[int, list[EquipmentState]] = defaultdict(list)
    for state in (
        EquipmentState.objects.filter(equipment_id__in=[machine.pk for machine in machines], started_at__lt=last)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=first))
        .select_related("reason_code")
        .order_by("equipment_id", "started_at", "id")
    ):
        states[state.equipment_id].append(state)
    counts: dict[str, list[tuple]] = defaultdict(list)
    for station, at, good, scrap, minutes in (
        Confirmation.objects.filter(station__in=[machine.code for machine in machines])
        .annotate(counted_at=Coalesce("reverses__confirmed_at", "confirmed_at"))
        .filter(counted_at__gt=first, counted_at__lte=last)
        .order_by("counted_at")
        .values_list("station", "counted_at", "good_qty", "scrap_qty", "operation__run_minutes_per_unit")
    ):
        counts[station].append((at, good, scrap, minutes))
    results = {}
    for machine in machines:
        machine_spans = spans[machine.pk]
        tallies = [Tally() for _span in machine_spans]
        _tally_states(machine_spans, tallies, states[machine.pk], now)
        _tally_counts(machine_spans, tallies, counts[machine.code])
        total = Tally()
        for tally in tallies:
            total.add(tally)
        reasons = {state.reason_code_id: state.reason_code for state in states[machine.pk] if state.reason_code_id}
        start, end = periods[machine.pk]
        results[machine.pk] = EquipmentOee(
            machine, start, end, total, [SpanTally(span, tally) for span, tally in zip(machine_spans, tallies, strict=True)], reasons
        )
    return results


def equipment_oee_many(
    *,
    equipment: Iterable[Equipment],
    start: datetime.datetime,
    end: datetime.datetime,
    now: datetime.datetime | None = None,
) -> dict[int, EquipmentOee]:
    """OEE of each machine over ``[start, end)``, by machine id: three queries however many machines."""
    machines = list(equipment)
    if not machines:
        return {}
    rules = shift_rules_by_equipment(machines)
    return _oee_for_periods(machines, {machine.pk: (start, end) for machine in machines}, rules, now or timezone.now())


def equipment_oee_day(
    *, equipment: Iterable[Equipment], day: datetime.date, now: datetime.datetime | None = None
) -> dict[int, EquipmentOee]:
    """OEE of each machine over its own production day ``day`` (``production_day_period`` of its
    shifts), by machine id: three queries however many machines."""
    machines = list(equipment)
    if not machines:
        return {}
    rules = shift_rules_by_equipment(machines)
    periods = {machine.pk: production_day_period(rules[machine.pk], day) for machine in machines}
    return _oee_for_periods(machines, periods, rules, now or timezone.now())


def equipment_oee(
    *, equipment: Equipment, start: datetime.datetime, end: datetime.datetime, now: datetime.datetime | None = None
) -> EquipmentOee:
    return equipment_oee_many(equipment=[equipment], start=start, end=end, now=now)[equipment.pk]


# --- what pages and the board show ----------------------------------------------------------


@dataclass(frozen=True)
class EquipmentBoardRow:
    """A machine on the board: its state now and since when, and its OEE in the current shift."""

    equipment_id: int
    code: str
    name: str
    work_center: str
    line: str
    state: str | None  # run / idle / down / unknown; None when nothing was ever recorded
    state_since: datetime.datetime | None
    reason_code: str | None  # of the current stop, when someone gave one
    shift: PlannedSpan | None  # the shift running now, else the last one that ended (within a week)
    shift_running: bool  # False: ``shift`` is the last one, none runs now
    shift_oee: EquipmentOee | None
    today_oee: EquipmentOee | None = None


def equipment_board_rows(
    *,
    work_center_ids: Iterable[int] | None = None,
    lines: Iterable[str] | None = None,
    equipment_codes: Iterable[str] | None = None,
    with_today: bool = False,
    now: datetime.datetime | None = None,
) -> list[EquipmentBoardRow]:
    """Every machine (of the work centers or lines named, if any) by code, with its state now and
    its OEE in the current shift (and in its production day so far with ``with_today``).

    Five queries (seven with ``with_today``) however many machines: machines, shifts, open states,
    then states and counts per OEE period.
    """
    now = now or timezone.now()
    machines = Equipment.objects.select_related("work_center").order_by("code")
    if work_center_ids is not None:
        machines = machines.filter(work_center_id__in=list(work_center_ids))
    if lines is not None:
        machines = machines.filter(work_center__line__in=list(lines))
    if equipment_codes is not None:
        machines = machines.filter(code__in=list(equipment_codes))
    machines = list(machines)
    if not machines:
        return []
    rules = shift_rules_by_equipment(machines)
    open_states = {
        state.equipment_id: state
        for state in EquipmentState.objects.filter(equipment__in=machines, ended_at__isnull=True).select_related("reason_code")
    }
    shifts = {machine.pk: span_at(rules[machine.pk], now) for machine in machines}
    with_shift = [machine for machine in machines if shifts[machine.pk] is not None]
    shift_oee = _oee_for_periods(
        with_shift, {machine.pk: (shifts[machine.pk].start, shifts[machine.pk].end) for machine in with_shift}, rules, now
    ) if with_shift else {}
    today_oee = {}
    if with_today:
        today_oee = _oee_for_periods(
            machines,
            {machine.pk: production_day_period(rules[machine.pk], production_day(rules[machine.pk], now)) for machine in machines},
            rules,
            now,
        )
    rows = []
    for machine in machines:
        state = open_states.get(machine.pk)
        rows.append(
            EquipmentBoardRow(
                equipment_id=machine.pk,
                code=machine.code,
                name=machine.name,
                work_center=machine.work_center.code,
                line=machine.work_center.line,
                state=state.state if state else None,
                state_since=state.started_at if state else None,
                reason_code=state.reason_code.code if state and state.reason_code_id else None,
                shift=shifts[machine.pk],
                shift_running=shifts[machine.pk] is not None and shifts[machine.pk].start <= now < shifts[machine.pk].end,
                shift_oee=shift_oee.get(machine.pk),
                today_oee=today_oee.get(machine.pk),
            )
        )
    return rows


# --- periods as people and clients give them ------------------------------------------------

def equipment_find(*, code: str) -> Equipment:
    machine = Equipment.objects.select_related("work_center").filter(code=code).first()
    if machine is None:
        raise DomainError(
            "unknown_equipment", _("No equipment with code %(code)s.") % {"code": code}, kind=ErrorKind.NOT_FOUND
        )
    return machine


def equipment_oee_report(
    *, code: str, from_text: str | None = None, to_text: str | None = None, now: datetime.datetime | None = None
) -> EquipmentOee:
    """A machine's OEE for the period of ``from_text``/``to_text`` (the production day so far when
    they are missing). Raises ``DomainError`` (unknown machine) or ``PeriodError``."""
    now = now or timezone.now()
    machine = equipment_find(code=code)
    rules = shift_rules_by_equipment([machine])
    today = production_day(rules[machine.pk], now)
    start, end = period_parse(from_text=from_text, to_text=to_text, default_start=production_day_period(rules[machine.pk], today)[0], now=now)
    return _oee_for_periods([machine], {machine.pk: (start, end)}, rules, now)[machine.pk]


# --- the OEE pages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineSegment:
    state: str  # run / idle / down / unknown, or "" for time with nothing recorded
    start: datetime.datetime
    end: datetime.datetime
    reason_code: str | None = None


@dataclass
class EquipmentOeePage:
    """All the OEE detail page shows of one machine."""

    report: EquipmentOee  # the chosen period
    trend: EquipmentOee  # the last ``trend_days`` production days, for the chart
    timeline_start: datetime.datetime
    timeline_end: datetime.datetime
    timeline: list[TimelineSegment]
    planned: list[PlannedSpan]  # the timeline day's planned spans
    state: EquipmentState | None  # now
    last_week: tuple[datetime.datetime, datetime.datetime]  # the last seven production days, today's included


def equipment_oee_page(
    *,
    code: str,
    from_text: str | None = None,
    to_text: str | None = None,
    trend_days: int = 14,
    now: datetime.datetime | None = None,
) -> EquipmentOeePage:
    """The chosen period's OEE (the production day so far by default), the trend of the last
    ``trend_days`` production days, and the state timeline of the day the period starts on.

    Raises ``DomainError`` (unknown machine) or ``PeriodError``. Eight queries.
    """
    now = now or timezone.now()
    machine = equipment_find(code=code)
    rules = shift_rules_by_equipment([machine])[machine.pk]
    today = production_day(rules, now)
    start, end = period_parse(from_text=from_text, to_text=to_text, default_start=production_day_period(rules, today)[0], now=now)
    periods = {"report": (start, end), "trend": (
        production_day_period(rules, today - datetime.timedelta(days=trend_days - 1))[0],
        production_day_period(rules, today)[1],
    )}
    results = {
        name: _oee_for_periods([machine], {machine.pk: period}, {machine.pk: rules}, now)[machine.pk]
        for name, period in periods.items()
    }
    day = start.astimezone(plant_zone()).date()
    day_start, day_end = production_day_period(rules, day)
    zone = plant_zone()
    timeline_start = min(day_start, datetime.datetime.combine(day, datetime.time(0), tzinfo=zone))
    timeline_end = max(day_end, datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0), tzinfo=zone))
    states = list(
        EquipmentState.objects.filter(equipment=machine, started_at__lt=timeline_end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=timeline_start))
        .select_related("reason_code")
        .order_by("started_at", "id")
    )
    timeline = []
    until = min(timeline_end, now)
    for state in states:
        segment_start, segment_end = max(state.started_at, timeline_start), min(state.ended_at or now, until)
        if segment_end > segment_start:
            timeline.append(
                TimelineSegment(state.state, segment_start, segment_end, state.reason_code.code if state.reason_code_id else None)
            )
    current = states[-1] if states and states[-1].ended_at is None else EquipmentState.objects.filter(
        equipment=machine, ended_at__isnull=True
    ).first()
    return EquipmentOeePage(
        report=results["report"],
        trend=results["trend"],
        timeline_start=timeline_start,
        timeline_end=timeline_end,
        timeline=timeline,
        planned=[span for span in occurrences(rules, timeline_start, timeline_end) if span.day == day],
        state=current,
        last_week=(production_day_period(rules, today - datetime.timedelta(days=6))[0], production_day_period(rules, today)[1]),
    )
