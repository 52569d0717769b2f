"""Labor time (工时): who was clocked on which operation when, and the minutes a report gets by default.

An operator is clocked on an operation by starting or resuming it at a station (or by reporting on
it there) and clocked off by a clock-off; a pause, a completion or a cancellation of the operation
clocks everyone off it, and its resume clocks on again exactly those whose last session the pause
ended. Several operators may be clocked on one operation at once, each with a session of their own
(one open session per operation and operator, a partial unique constraint).

A confirmation that names an operator but no ``labor_minutes`` gets that operator's clocked time
on the operation since their last report on it (or since clocking on), up to the report's time
and never past now: ``ClockedTime``.

Locking: the writers here are called holding the work order's lock (``work_order_lock``), like
every other writer of an order's operations.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.fastsql import raw_instances
from mes.models import Confirmation, Employee, LaborSession, Status, WorkOrderOperation

ZERO = Decimal(0)
_MINUTES_PLACES = Decimal("0.01")
EndReason = LaborSession.EndReason

#: What an operation's transition does to the sessions on it.
_CLOSING_ACTIONS = {"pause": EndReason.PAUSE, "complete": EndReason.COMPLETE, "cancel": EndReason.CANCEL}


# --- clocking ------------------------------------------------------------------------------


@transaction.atomic
def labor_clock_on(
    *, operation: WorkOrderOperation, employee: Employee, station: str = "", at: datetime.datetime | None = None
) -> LaborSession:
    """Clock ``employee`` on ``operation`` (a running one) from ``at`` (now); already on: the open session, unchanged.

    Call holding the order's lock. Refused (``operation_not_running``) unless the operation is in progress.
    """
    if operation.status != Status.IN_PROGRESS:
        raise DomainError(
            "operation_not_running",
            _("Operation %(sequence)04d is %(status)s; operators clock on only to a running operation.")
            % {"sequence": operation.sequence, "status": Status(operation.status).label},
            kind=ErrorKind.CONFLICT,
        )
    session = LaborSession.objects.filter(operation=operation, employee=employee, ended_at__isnull=True).first()
    if session is not None:
        return session
    try:
        with transaction.atomic():
            return LaborSession.objects.create(
                operation=operation, employee=employee, station=station[:64], started_at=at or timezone.now()
            )
    except IntegrityError:  # clocked on at this very moment elsewhere (the partial unique constraint)
        return LaborSession.objects.get(operation=operation, employee=employee, ended_at__isnull=True)


@transaction.atomic
def labor_clock_off(
    *, operation: WorkOrderOperation, employee: Employee, at: datetime.datetime | None = None
) -> LaborSession | None:
    """Clock ``employee`` off ``operation``; the session ended, or None when they were not on (nothing changes)."""
    session = LaborSession.objects.select_for_update().filter(operation=operation, employee=employee, ended_at__isnull=True).first()
    if session is None:
        return None
    session.ended_at = max(at or timezone.now(), session.started_at)
    session.end_reason = EndReason.CLOCK_OFF
    session.save(update_fields=["ended_at", "end_reason"])
    return session


def labor_sessions_close(*, operation: WorkOrderOperation, reason: str, at: datetime.datetime | None = None) -> int:
    """End every open session on ``operation`` (it paused, completed or was cancelled); how many. One statement."""
    now = at or timezone.now()
    # A session started "after now" cannot be (clocks are one), but never write an end before a start.
    return LaborSession.objects.filter(operation=operation, ended_at__isnull=True, started_at__lte=now).update(
        ended_at=now, end_reason=reason
    )


def labor_sessions_reopen(*, operation: WorkOrderOperation, at: datetime.datetime | None = None) -> list[LaborSession]:
    """Clock on again (from ``at``, now) everyone whose last session on ``operation`` a pause ended (it resumed)."""
    now = at or timezone.now()
    latest: dict[int, LaborSession] = {}
    for session in LaborSession.objects.filter(operation=operation).order_by("employee_id", "-started_at", "-id"):
        latest.setdefault(session.employee_id, session)
    paused = [session for session in latest.values() if session.ended_at is not None and session.end_reason == EndReason.PAUSE]
    return LaborSession.objects.bulk_create(
        LaborSession(operation=operation, employee_id=session.employee_id, station=session.station, started_at=max(now, session.ended_at))
        for session in paused
    )


def labor_follow_transition(*, operation: WorkOrderOperation, action: str) -> None:
    """What an operation's status move does to the clocks on it. Call holding the order's lock, after the move."""
    if action in _CLOSING_ACTIONS:
        labor_sessions_close(operation=operation, reason=_CLOSING_ACTIONS[action])
    elif action == "resume":
        labor_sessions_reopen(operation=operation)


def labor_clocked_on(*, operation_id: int) -> list[Employee]:
    """The operators clocked on an operation now, in the order they clocked on."""
    return [
        session.employee
        for session in LaborSession.objects.filter(operation_id=operation_id, ended_at__isnull=True).select_related("employee").order_by("started_at", "id")
    ]


# --- default labor minutes ------------------------------------------------------------------

Pair = tuple[int, int]  # (operation id, employee id)


@dataclass
class ClockedTime:
    """Clocked sessions and latest reports of (operation, operator) pairs, loaded once for a call:
    ``minutes`` answers a report's default labor minutes, ``reported`` counts a report just made
    (a bulk call's later report of the same pair starts from it)."""

    sessions: dict[Pair, list[tuple[datetime.datetime, datetime.datetime | None]]] = field(default_factory=dict)
    latest: dict[Pair, datetime.datetime] = field(default_factory=dict)  # the time of the pair's last report received
    loaded: set[Pair] = field(default_factory=set)

    def minutes(self, *, pair: Pair, until: datetime.datetime, now: datetime.datetime) -> Decimal:
        """Clocked minutes of ``pair`` from its latest report (else clock-on) to ``until``, never past
        ``now``, at most ``MES_MAX_LABOR_MINUTES`` (a forgotten clock-off never refuses a report).

        "Latest" is the last one received: a report kept offline and sent after a later one counts
        up to its own time from that later one's, which is nothing."""
        end = min(until, now)
        since = self.latest.get(pair)
        seconds = 0.0
        for started_at, ended_at in self.sessions.get(pair, ()):
            start = max(started_at, since) if since is not None else started_at
            stop = min(ended_at or now, end)
            if stop > start:
                seconds += (stop - start).total_seconds()
        if not seconds:
            return ZERO
        minutes = (Decimal(seconds) / 60).quantize(_MINUTES_PLACES)
        return min(minutes, settings.MES_MAX_LABOR_MINUTES)

    def reported(self, *, pair: Pair, at: datetime.datetime) -> None:
        self.latest[pair] = at


def clocked_time_of(*, pairs: Iterable[Pair]) -> ClockedTime:
    """The pairs' sessions, each with its pair's last report received: one statement, on the
    sessions' (operation, employee, started_at) index, the report found by walking the
    confirmations' (operation, recorded_at) index back from the newest. An operator never clocked
    on costs that one look-up and nothing more."""
    wanted = set(pairs)
    clock = ClockedTime(loaded=wanted)
    if not wanted:
        return clock
    if len(wanted) == 1:  # a single report: plain SQL, compiled once (the ORM's compiling cost more than the look-up)
        rows = [
            (session.operation_id, session.employee_id, session.started_at, session.ended_at, _moment(session.previous))
            for session in raw_instances(LaborSession, _ONE_PAIR_SQL, list(next(iter(wanted))))
        ]
        return _clock_of_rows(clock, rows)
    by_operation: dict[int, set[int]] = defaultdict(set)
    for operation_id, employee_id in wanted:
        by_operation[operation_id].add(employee_id)
    match = Q()
    for operation_id, employees in by_operation.items():
        match |= Q(operation_id=operation_id, employee_id__in=employees)
    latest_report = (
        Confirmation.objects.filter(operation_id=OuterRef("operation_id"), operator_id=OuterRef("employee_id"), kind=Confirmation.Kind.CONFIRMATION)
        .order_by("-recorded_at")
        .values("confirmed_at")[:1]
    )
    rows = (
        LaborSession.objects.filter(match)
        .annotate(previous=Subquery(latest_report, output_field=DateTimeField()))
        .values_list("operation_id", "employee_id", "started_at", "ended_at", "previous")
    )
    return _clock_of_rows(clock, rows)


def _clock_of_rows(clock: ClockedTime, rows: Iterable[tuple[int, int, datetime.datetime, datetime.datetime | None, datetime.datetime | None]]) -> ClockedTime:
    for operation_id, employee_id, started_at, ended_at, previous in rows:
        pair = (operation_id, employee_id)
        if pair in clock.loaded:
            clock.sessions.setdefault(pair, []).append((started_at, ended_at))
            if previous is not None:
                clock.latest[pair] = previous
    return clock


_ONE_PAIR_SQL = f"""
SELECT s.*, (
    SELECT c.confirmed_at FROM {Confirmation._meta.db_table} c
    WHERE c.operation_id = s.operation_id AND c.operator_id = s.employee_id AND c.kind = '{Confirmation.Kind.CONFIRMATION.value}'
    ORDER BY c.recorded_at DESC LIMIT 1
) AS previous
FROM {LaborSession._meta.db_table} s
WHERE s.operation_id = %s AND s.employee_id = %s
"""


def _moment(value: Any) -> datetime.datetime | None:
    """A timestamp column read outside a model field: SQLite answers it as text or a naive moment, in UTC."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime.datetime) else parse_datetime(value)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=datetime.UTC)
