"""Writes of the device collector: counter readings → confirmations, signals → state intervals.

Synchronous and transactional; the collector (``shopfloor.collector``) calls them from its
database threads, never from the event loop.

Counting. Each counter of a machine keeps its last raw value in ``CounterState``; a reading adds
the advance to ``pending``. A counter that wrapped (uint32 past 2**32 - 1, uint16 past 65535)
advances by the wrapped distance; any other drop is a PLC restart and the new value is the
advance (it counted up from 0), so an advance is never negative. The first reading of a counter
is its baseline: what happened before it is not known and not counted.

Windows. Advances are confirmed once per window (``COLLECTOR_CONFIRM_WINDOW_SECONDS``, default
60 s, aligned to the clock) per machine: one confirmation of good and scrap on the operation
running on it, with ``client_id = uuid5(COLLECTOR_NAMESPACE, "<equipment code>:<window start>")``.
The confirmation and the counters' reset to zero commit together, and the client id makes any
replay of the same window answer the original, so no restart counts twice. Its machine minutes are
the machine's run time on the operation since its previous report on it (``machine_report_minutes``). Counts that no
operation takes (none running, or the confirmation was refused) become ``UnassignedProduction``.

States. The open ``EquipmentState`` interval is the machine's state now: ``down`` while the alarm
is non-zero, else ``run``/``idle`` from the running signal, or from count activity when there is
none; ``unknown`` while the device does not answer (with an open ``DeviceException``).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import DomainError
from mes.models import Equipment, ReasonCode
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from shopfloor.models import (
    CounterState,
    DeviceException,
    DeviceMapping,
    EquipmentAssignment,
    EquipmentState,
    UnassignedProduction,
)
from shopfloor.selectors import machine_report_minutes

logger = logging.getLogger(__name__)

# Never change: confirmations already recorded carry client ids derived from it.
COLLECTOR_NAMESPACE = uuid.UUID("3b0c5f0e-8f7a-4a51-9c1d-6e2b7a9d4c11")

COUNTER_SIGNALS = (CounterState.Signal.GOOD.value, CounterState.Signal.SCRAP.value)
DEFAULT_COUNTER_MODULUS = 2**32
# A drop is read as a roll-over only if the wrapped advance is at most this and at most a 16th of
# the range (4096 for a 16-bit counter): a counter that jumps back by more was reset, not wrapped.
MAX_ROLLOVER_ADVANCE = 100_000
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

DEFAULT_WINDOW_SECONDS = 60.0
DEFAULT_IDLE_AFTER_SECONDS = 60.0

State = EquipmentState.State


def confirm_window_seconds() -> float:
    return float(getattr(settings, "COLLECTOR_CONFIRM_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS))


def idle_after_seconds() -> float:
    return float(getattr(settings, "COLLECTOR_IDLE_AFTER_SECONDS", DEFAULT_IDLE_AFTER_SECONDS))


# --- pure helpers -------------------------------------------------------------------------


def counter_advance(previous: int | None, current: int, modulus: int = DEFAULT_COUNTER_MODULUS) -> tuple[int, str]:
    """How far a counter moved from ``previous`` to ``current``, and how: never negative.

    ``("first", "same", "advance", "rollover", "reset")``; a first reading is a baseline (0).
    """
    if previous is None:
        return 0, "first"
    if current == previous:
        return 0, "same"
    if current > previous:
        return current - previous, "advance"
    wrapped = current + modulus - previous
    if wrapped <= min(MAX_ROLLOVER_ADVANCE, modulus // 16):
        return wrapped, "rollover"
    return current, "reset"


def window_start_for(moment: datetime.datetime, window_seconds: float) -> datetime.datetime:
    """The start of the clock-aligned window holding ``moment`` (UTC, whole microseconds)."""
    width = datetime.timedelta(microseconds=round(window_seconds * 1_000_000))
    return EPOCH + ((moment - EPOCH) // width) * width


def window_client_id(equipment_code: str, window_start: datetime.datetime) -> uuid.UUID:
    """The confirmation's client id for one machine's window: the same window, the same id."""
    return uuid.uuid5(COLLECTOR_NAMESPACE, f"{equipment_code}:{window_start.astimezone(datetime.UTC).isoformat()}")


def _raw_counter(value: Any, modulus: int) -> int:
    """A counter value as the PLC holds it: a whole number in 0…modulus-1 (int32 -1 is 2**32-1)."""
    return round(value) % modulus


# --- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectorMapping:
    equipment_id: int
    equipment_code: str
    config: dict[str, Any]


def collector_mappings(*, work_centers: Iterable[str] = ()) -> list[CollectorMapping]:
    """The enabled device mappings, only of equipment in ``work_centers`` when any are named."""
    mappings = DeviceMapping.objects.filter(is_enabled=True).select_related("equipment")
    centers = list(work_centers)
    if centers:
        mappings = mappings.filter(equipment__work_center__code__in=centers)
    return [
        CollectorMapping(mapping.equipment_id, mapping.equipment.code, mapping.config)
        for mapping in mappings.order_by("equipment__code")
    ]


def equipment_state_current(*, equipment_id: int) -> EquipmentState | None:
    return EquipmentState.objects.filter(equipment_id=equipment_id, ended_at__isnull=True).first()


# --- states ---------------------------------------------------------------------------------


def _state_enter(equipment_id: int, state: str, at: datetime.datetime, *, alarm: int | None = None) -> EquipmentState:
    """Make ``state`` (with ``alarm``) the open interval from ``at``; nothing changes if it already is."""
    current = EquipmentState.objects.select_for_update().filter(equipment_id=equipment_id, ended_at__isnull=True).first()
    if current is not None and current.state == state and current.alarm == alarm:
        return current
    started_at = at
    if current is not None:
        current.ended_at = max(at, current.started_at)
        current.save(update_fields=["ended_at"])
        started_at = current.ended_at
    return EquipmentState.objects.create(equipment_id=equipment_id, state=state, alarm=alarm, started_at=started_at)


def _state_from_signals(
    values: Mapping[str, Any],
    counters: Mapping[str, CounterState],
    moved: bool,
    read_at: datetime.datetime,
    idle_after: float,
) -> tuple[str, int | None, datetime.datetime] | None:
    """The state the reading shows and since when, or None when it shows none."""
    alarm = values.get("alarm")
    if alarm:
        return State.DOWN, int(alarm), read_at
    if "running" in values:
        return (State.RUN if values["running"] else State.IDLE), None, read_at
    if not counters:
        return None
    if moved:
        return State.RUN, None, read_at
    changes = [counter.last_changed_at for counter in counters.values() if counter.last_changed_at is not None]
    last_change = max(changes, default=None)
    if last_change is None or (read_at - last_change).total_seconds() >= idle_after:
        # Idle since the last part, not since we noticed.
        return State.IDLE, None, last_change or read_at
    return State.RUN, None, read_at


# --- counting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowOutcome:
    window_start: datetime.datetime
    window_end: datetime.datetime
    good: int
    scrap: int
    confirmation_id: uuid.UUID | None = None  # the confirmation (new or replayed)
    unassigned: UnassignedProduction | None = None


def _counters_locked(equipment_id: int, signals: Iterable[str] = ()) -> dict[str, CounterState]:
    """The machine's counter rows, locked; rows for ``signals`` are made first if missing."""
    wanted = set(signals)
    counters = {row.signal: row for row in CounterState.objects.select_for_update().filter(equipment_id=equipment_id)}
    if wanted - counters.keys():
        CounterState.objects.bulk_create(
            [CounterState(equipment_id=equipment_id, signal=signal) for signal in sorted(wanted - counters.keys())],
            ignore_conflicts=True,
        )
        counters = {row.signal: row for row in CounterState.objects.select_for_update().filter(equipment_id=equipment_id)}
    return counters


def _window_of(counters: Mapping[str, CounterState]) -> datetime.datetime | None:
    return min((row.window_start for row in counters.values() if row.window_start is not None), default=None)


def scrap_reason_default() -> str:
    """``COLLECTOR_SCRAP_REASON_CODE``, else the first scrap reason by code, else ""."""
    configured = getattr(settings, "COLLECTOR_SCRAP_REASON_CODE", "")
    if configured:
        return configured
    return (
        ReasonCode.objects.filter(kind=ReasonCode.Kind.SCRAP).order_by("code").values_list("code", flat=True).first() or ""
    )


def _unassigned_keep(
    equipment: Equipment,
    window_start: datetime.datetime,
    window_end: datetime.datetime,
    *,
    good: int,
    scrap: int,
    reason: str,
    detail: str = "",
    operation_id: int | None = None,
) -> UnassignedProduction:
    """One row per machine and window: a replay of the window finds it and adds nothing."""
    row, _ = UnassignedProduction.objects.get_or_create(
        equipment=equipment,
        window_start=window_start,
        defaults={
            "window_end": window_end,
            "good": good,
            "scrap": scrap,
            "reason": reason,
            "detail": detail[:500],
            "operation_id": operation_id,
        },
    )
    return row


def _window_close(
    equipment: Equipment,
    counters: Mapping[str, CounterState],
    window_start: datetime.datetime,
    window_end: datetime.datetime,
) -> WindowOutcome | None:
    """Confirm (or keep as unassigned) what the window counted and start the counters afresh.

    Call inside a transaction holding the counter rows' locks: the confirmation (a savepoint of
    its own) and the counters' reset commit together.
    """
    good = counters[CounterState.Signal.GOOD].pending if CounterState.Signal.GOOD in counters else 0
    scrap = counters[CounterState.Signal.SCRAP].pending if CounterState.Signal.SCRAP in counters else 0
    for row in counters.values():
        row.pending = 0
        row.window_start = None
        row.save(update_fields=["pending", "window_start"])
    if good == 0 and scrap == 0:
        return None
    # The latest operation that ran on the machine at any time in the window takes its counts.
    assignment = (
        EquipmentAssignment.objects.select_related("operation__work_order")
        .filter(equipment=equipment, started_at__lt=window_end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=window_start))
        .order_by("-started_at")
        .first()
    )
    if assignment is None:
        row = _unassigned_keep(
            equipment, window_start, window_end, good=good, scrap=scrap, reason=UnassignedProduction.NO_RUNNING_OPERATION
        )
        return WindowOutcome(window_start, window_end, good, scrap, unassigned=row)
    operation = assignment.operation
    reason_code = scrap_reason_default() if scrap else ""
    confirmed_scrap = scrap if reason_code else 0
    confirmation_id = None
    if good or confirmed_scrap:
        request = ConfirmationRequest(
            client_id=window_client_id(equipment.code, window_start),
            work_order=operation.work_order.number,
            operation=operation.sequence,
            good_qty=Decimal(good),
            scrap_qty=Decimal(confirmed_scrap),
            reason_code=reason_code if confirmed_scrap else "",
            station=equipment.code,
            machine_minutes=machine_report_minutes(
                equipment_id=equipment.pk, station=equipment.code, operation_id=operation.pk, until=window_end
            ),
            confirmed_at=window_end,
        )
        try:
            result = operation_confirm(request=request)
        except DomainError as error:
            logger.warning("%s: window %s refused (%s): %s", equipment.code, window_start.isoformat(), error.code, error.message)
            row = _unassigned_keep(
                equipment, window_start, window_end, good=good, scrap=scrap, reason=error.code,
                detail=error.message, operation_id=operation.pk,
            )
            return WindowOutcome(window_start, window_end, good, scrap, unassigned=row)
        confirmation_id = result.confirmation.uuid
    row = None
    if scrap and not confirmed_scrap:
        row = _unassigned_keep(
            equipment, window_start, window_end, good=0, scrap=scrap, reason=UnassignedProduction.SCRAP_REASON_MISSING,
            detail="No scrap reason code: set COLLECTOR_SCRAP_REASON_CODE or add a reason code of kind scrap.",
            operation_id=operation.pk,
        )
    return WindowOutcome(window_start, window_end, good, scrap, confirmation_id=confirmation_id, unassigned=row)


@dataclass(frozen=True)
class ReadingOutcome:
    advances: dict[str, int]  # signal → how far it moved in this reading
    kinds: dict[str, str]  # signal → first | same | advance | rollover | reset
    state: str | None
    closed_window: WindowOutcome | None = None


@transaction.atomic
def reading_record(
    *,
    equipment_id: int,
    values: Mapping[str, Any],
    read_at: datetime.datetime,
    window_seconds: float | None = None,
    idle_after_s: float | None = None,
    counter_moduli: Mapping[str, int] | None = None,
    counter_sources: Mapping[str, str] | None = None,
) -> ReadingOutcome:
    """Take one snapshot's values (``good_count``, ``scrap_count``, ``running``, ``alarm``; any may
    be missing) into the machine's counters and state.

    A reading past the end of the current window closes it first (see ``window_confirm``), so
    every advance lands in the window it was read in. A reading older than the last one is stale
    and ignored. ``counter_moduli`` gives a counter's range (``{"good_count": 2**16}``), 2**32 by default.
    ``counter_sources`` names where each counter is read (a mapping's address and register): a
    counter now read from somewhere else takes a new baseline instead of counting the jump.
    """
    window = window_seconds or confirm_window_seconds()
    moduli = counter_moduli or {}
    sources = counter_sources or {}
    present = [signal for signal in COUNTER_SIGNALS if values.get(signal) is not None]
    counters = _counters_locked(equipment_id, present)
    if any(row.last_read_at is not None and read_at < row.last_read_at for row in counters.values()):
        logger.info("equipment %s: reading of %s is older than the last one; ignored", equipment_id, read_at.isoformat())
        return ReadingOutcome({}, {}, None)

    closed = None
    window_start = _window_of(counters)
    if window_start is not None and read_at >= window_start + datetime.timedelta(seconds=window):
        equipment = Equipment.objects.get(pk=equipment_id)
        closed = _window_close(equipment, counters, window_start, window_start + datetime.timedelta(seconds=window))
        window_start = None

    advances: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for signal in present:
        row = counters[signal]
        modulus = moduli.get(signal, DEFAULT_COUNTER_MODULUS)
        current = _raw_counter(values[signal], modulus)
        source = sources.get(signal, "")
        if source and source != row.source_key:
            if row.last_value is not None:
                logger.info("equipment %s: %s is read from a new source; taking a new baseline", equipment_id, signal)
            row.last_value, row.source_key = None, source
        advance, kind = counter_advance(row.last_value, current, modulus)
        advances[signal], kinds[signal] = advance, kind
        if kind == "reset":
            row.resets += 1
            logger.info("equipment %s: %s dropped from %s to %s; counted as a PLC restart", equipment_id, signal, row.last_value, current)
        elif kind == "rollover":
            row.rollovers += 1
        row.last_value = current
        row.last_read_at = read_at
        if advance:
            row.pending += advance
            row.last_changed_at = read_at
    moved = any(advances.values())
    if moved and window_start is None:
        window_start = window_start_for(read_at, window)
    for row in counters.values():
        if moved:
            row.window_start = window_start
        row.save(
            update_fields=[
                "last_value", "last_read_at", "last_changed_at", "pending", "window_start", "resets", "rollovers", "source_key"
            ]
        )

    state = _state_from_signals(
        values,
        {signal: counters[signal] for signal in present},
        moved,
        read_at,
        idle_after_s if idle_after_s is not None else idle_after_seconds(),
    )
    if state is not None:
        _state_enter(equipment_id, state[0], state[2], alarm=state[1])
    return ReadingOutcome(advances, kinds, state[0] if state else None, closed)


@transaction.atomic
def window_confirm(
    *, equipment_id: int, now: datetime.datetime | None = None, window_seconds: float | None = None
) -> WindowOutcome | None:
    """Confirm the machine's current window if it has ended by ``now``; None when there was nothing to do.

    Safe to call any number of times, from any process: the counter rows' lock serialises
    callers, and a window already confirmed has no pending counts left.
    """
    now = now or timezone.now()
    window = datetime.timedelta(seconds=window_seconds or confirm_window_seconds())
    counters = _counters_locked(equipment_id)
    window_start = _window_of(counters)
    if window_start is None or window_start + window > now:
        return None
    equipment = Equipment.objects.get(pk=equipment_id)
    return _window_close(equipment, counters, window_start, window_start + window)


def windows_confirm_due(
    *, now: datetime.datetime | None = None, window_seconds: float | None = None, work_centers: Iterable[str] = ()
) -> list[WindowOutcome]:
    """Confirm every window that has ended by ``now`` (of ``work_centers``' equipment when named).

    Each machine in its own transaction: one machine's refusal or lock wait holds up no other.
    """
    now = now or timezone.now()
    seconds = window_seconds or confirm_window_seconds()
    due = CounterState.objects.filter(window_start__lte=now - datetime.timedelta(seconds=seconds))
    centers = list(work_centers)
    if centers:
        due = due.filter(equipment__work_center__code__in=centers)
    outcomes = []
    for equipment_id in sorted(set(due.values_list("equipment_id", flat=True))):
        outcome = window_confirm(equipment_id=equipment_id, now=now, window_seconds=seconds)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


# --- devices that do not answer -------------------------------------------------------------


@transaction.atomic
def device_unanswered(*, equipment_id: int, since: datetime.datetime, detail: str = "") -> DeviceException:
    """The machine has not answered since ``since``: its state is unknown and an exception is open.

    Calling it again while the exception is open changes nothing.
    """
    _state_enter(equipment_id, State.UNKNOWN, since)
    exception, created = DeviceException.objects.get_or_create(
        equipment_id=equipment_id,
        kind=DeviceException.Kind.NOT_ANSWERING,
        closed_at=None,
        defaults={"opened_at": since, "detail": detail[:500]},
    )
    if created:
        logger.warning("equipment %s does not answer since %s: %s", equipment_id, since.isoformat(), detail)
    return exception


@transaction.atomic
def device_answered(*, equipment_id: int, at: datetime.datetime | None = None) -> int:
    """The machine answers again: close its open not-answering exception (how many were closed).

    Its state stays unknown until the next ``reading_record`` says what it is.
    """
    closed = DeviceException.objects.filter(
        equipment_id=equipment_id, kind=DeviceException.Kind.NOT_ANSWERING, closed_at__isnull=True
    ).update(closed_at=at or timezone.now())
    if closed:
        logger.info("equipment %s answers again", equipment_id)
    return closed
