"""Confirmations (报工): record work done exactly once, validated, with its ERP message.

Every rule is a function of its own, named for what it requires, and ``CONFIRMATION_RULES``
lists them in the order they are checked (pure, on rows already loaded and locked), so the
single and the bulk paths refuse exactly the same things. A confirmation, the operation's new
totals, its audit event and its outbox message are written in one transaction, all or nothing,
by ``confirmation_rows_write`` (``mes.services.confirmation_rows``), for reversals too.

A report may move material: it backflushes its operation's backflush components and, on the
last operation, receives the good quantity into an output lot or serials. The rules
``backflush_covered`` and ``output_receivable`` plan that (``mes.services.confirmation_materials``,
whose docstring gives the rules, the one for a lot's on-hand included) with every other refusal
before anything is written; the movements, lot and component totals and the goods messages
(after the confirmation's own) are written with the confirmation. The lots a call can touch are
locked after the order(s), in primary-key order, once per call.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.errors import DomainError, ErrorKind
from common.fastsql import new_instance, partial_instance, raw_instances, relate
from common.formatting import plain
from common.roles import may
from erp_sync.outbox import NewMessage, OutboxMessage
from mes.models import (
    Confirmation,
    Employee,
    Event,
    NonconformanceDisposition,
    ReasonCode,
    Status,
    WorkCenter,
    WorkOrder,
    WorkOrderOperation,
)
from mes.services.confirmation_materials import (
    LotUse,
    MaterialBook,
    MaterialPlan,
    backflush_components_sql,
    backflush_plan,
    components_from_json,
    goods_messages,
    issues_awaited,
    movements_payload,
    needs_materials,
    output_plan,
    plan_apply,
    reversal_movements,
)
from mes.services.confirmation_rows import (
    QUANTITY_FIELDS,
    ConfirmationRows,
    confirmation_rows_write,
)
from mes.services.labor import ClockedTime, clocked_time_of
from mes.services.quality import characteristic_states_sql, inspections_passed, quality_hold_respected
from mes.services.quality_stop import quality_stop_check
from mes.services.transitions import (
    operation_start_locked,
    operation_transition_locked,
    quality_hold_refusal,
    unknown_operation,
    unknown_work_order,
    work_order_lock,
    work_order_transition_locked,
    work_orders_lock,
)

ZERO = Decimal(0)
OPEN_FOR_CONFIRMATION = {Status.RELEASED, Status.IN_PROGRESS}
OPEN_FOR_DISPOSITION = {*OPEN_FOR_CONFIRMATION, Status.COMPLETED}  # scrapping what an operation already made


@dataclass(frozen=True)
class ConfirmationRequest:
    client_id: uuid.UUID
    work_order: str
    operation: int
    good_qty: Decimal = ZERO
    scrap_qty: Decimal = ZERO
    rework_qty: Decimal = ZERO
    reason_code: str = ""
    operator_badge: str = ""
    station: str = ""
    labor_minutes: Decimal | None = None  # None: the operator's clocked time (``_labor_minutes``)
    machine_minutes: Decimal | None = None  # None: zero here; machine reports name their run time
    final: bool = False
    confirmed_at: datetime.datetime | None = field(default=None, compare=False)
    lots: tuple[LotUse, ...] = ()  # lots named for backflushed items
    output_lot: str = ""
    serials: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """What makes two sends of one ``client_id`` "the same report": everything but the timestamp.
        The material fields count only when given, so a report without them hashes as it always did."""
        canonical = {
            name: (str(value.normalize()) if isinstance(value, Decimal) else str(value))
            for name, value in ((name, _as_given(name, getattr(self, name))) for name in FINGERPRINT_FIELDS)
        }
        if self.lots:
            canonical["lots"] = [use.fingerprint() for use in self.lots]
        if self.output_lot:
            canonical["output_lot"] = self.output_lot
        if self.serials:
            canonical["serials"] = list(self.serials)
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


MATERIAL_FIELDS = ("lots", "output_lot", "serials")
FINGERPRINT_FIELDS = tuple(f.name for f in fields(ConfirmationRequest) if f.name != "confirmed_at" and f.name not in MATERIAL_FIELDS)
_DEFAULTED_MINUTES = ("labor_minutes", "machine_minutes")


def _as_given(name: str, value: Any) -> Any:
    """Minutes left out weigh in the fingerprint as the zero they were before they had a default,
    so reports recorded then still replay, and a value given keeps its fingerprint."""
    return ZERO if value is None and name in _DEFAULTED_MINUTES else value


@dataclass
class ConfirmationResult:
    confirmation: Confirmation  # carrying ``material_movements`` when just recorded
    created: bool
    message: OutboxMessage | None = None  # the ERP message written with a new record


@dataclass
class _Lookups:
    """Reason codes and operators resolved once per call (a bulk call shares them)."""

    reasons: dict[str, ReasonCode]
    operators: dict[str, Employee]
    clock: ClockedTime | None = None  # labor sessions, loaded when a report leaves its labor minutes out

    @classmethod
    def of(cls, reason: ReasonCode | None, operator: Employee | None) -> _Lookups:
        return cls(
            reasons={reason.code: reason} if reason is not None else {},
            operators={operator.badge: operator} if operator is not None else {},
        )

    @classmethod
    def load(cls, requests: list[ConfirmationRequest]) -> _Lookups:
        reason_codes = {request.reason_code for request in requests if request.reason_code}
        badges = {request.operator_badge for request in requests if request.operator_badge}
        return cls(
            reasons={reason.code: reason for reason in ReasonCode.objects.filter(code__in=reason_codes)} if reason_codes else {},
            operators={employee.badge: employee for employee in Employee.objects.filter(badge__in=badges)} if badges else {},
        )


# --- who may name whom ----------------------------------------------------------------


@dataclass(frozen=True)
class ReportingRights:
    """What a caller may name in a confirmation: any badge and station (``confirmation.report_for_anyone``:
    gateways and supervisors report for others), or only the badge and stations bound to its user."""

    username: str
    is_unrestricted: bool
    badge: str = ""  # of the employee linked to the user
    stations: frozenset[str] = frozenset()  # from the user's API access rule

    def check(self, request: ConfirmationRequest) -> None:
        """Refuse (403) a request naming a badge or station not bound to the caller."""
        if self.is_unrestricted:
            return
        if request.operator_badge and request.operator_badge != self.badge:
            raise DomainError(
                "badge_not_bound",
                _("%(user)s may report only for the badge linked to it (%(badge)s), not for %(claimed)s.")
                % {"user": self.username, "badge": self.badge or _("none"), "claimed": request.operator_badge},
                kind=ErrorKind.FORBIDDEN,
                fields={"operator_badge": request.operator_badge},
            )
        if request.station and request.station not in self.stations:
            raise DomainError(
                "station_not_bound",
                _("%(user)s may report only for its stations (%(stations)s), not for %(claimed)s.")
                % {"user": self.username, "stations": ", ".join(sorted(self.stations)) or _("none"), "claimed": request.station},
                kind=ErrorKind.FORBIDDEN,
                fields={"station": request.station},
            )


def reporting_rights(*, actor: Any) -> ReportingRights:
    """The rights of an API caller. Read from the user object the token cache keeps, so a busy
    token costs no query per request (a changed binding takes effect within ``API_TOKEN_CACHE_SECONDS``)."""
    username = actor.get_username() if getattr(actor, "is_authenticated", False) else ""
    if may(actor, "confirmation.report_for_anyone"):
        return ReportingRights(username, is_unrestricted=True)
    employee = getattr(actor, "employee", None) if username else None
    access = getattr(actor, "api_access", None) if username else None
    return ReportingRights(
        username,
        is_unrestricted=False,
        badge=employee.badge if employee is not None else "",
        stations=access.station_names() if access is not None else frozenset(),
    )


# --- rules -------------------------------------------------------------------------


def operation_available(*, operations: list[WorkOrderOperation], operation: WorkOrderOperation, work_order: WorkOrder) -> Decimal:
    """What this operation may confirm in total: the previous operation's good output, or the order
    quantity, with the over-delivery tolerance. ``operations`` are all of the order's."""
    previous = [candidate for candidate in operations if candidate.sequence < operation.sequence]
    before = max(previous, key=lambda candidate: candidate.sequence) if previous else None
    # What a disposition scrapped or returned after it was reported good goes no further.
    base = before.good_qty - before.rejected_qty if before is not None else work_order.quantity
    tolerance = settings.MES_OVER_DELIVERY_TOLERANCE_PERCENT
    return (base * (1 + tolerance / 100)).quantize(Decimal("0.001"))


def operation_check_work_center(*, operation: WorkOrderOperation, work_center: WorkCenter, number: str) -> None:
    """Refuse an operation of another work center: a station reports and runs only its own work."""
    if operation.work_center_id != work_center.pk:
        raise DomainError(
            "other_work_center",
            _("Operation %(sequence)04d of %(number)s is done at %(other)s, not at this station's %(here)s.")
            % {"sequence": operation.sequence, "number": number, "other": operation.work_center.code, "here": work_center.code},
            kind=ErrorKind.CONFLICT,
            fields={"operation": str(operation.sequence)},
        )


def _check_confirmed_at(confirmed_at: datetime.datetime) -> None:
    """Refuse a time outside the plausibility window around now (settings ``MES_CONFIRMED_AT_MAX_*``)."""
    now = timezone.now()
    earliest = now - datetime.timedelta(days=settings.MES_CONFIRMED_AT_MAX_PAST_DAYS)
    latest = now + datetime.timedelta(minutes=settings.MES_CONFIRMED_AT_MAX_FUTURE_MINUTES)
    if earliest <= confirmed_at <= latest:
        return
    local = timezone.localtime  # near now, so never out of range
    raise DomainError(
        "implausible_confirmed_at",
        _(
            "The confirmation time %(time)s is implausible: it must lie between %(earliest)s and %(latest)s "
            "(at most %(days)s days back and %(minutes)s minutes ahead of now)."
        )
        % {
            "time": _as_utc_text(confirmed_at),
            "earliest": local(earliest).isoformat(timespec="minutes"),
            "latest": local(latest).isoformat(timespec="minutes"),
            "days": settings.MES_CONFIRMED_AT_MAX_PAST_DAYS,
            "minutes": settings.MES_CONFIRMED_AT_MAX_FUTURE_MINUTES,
        },
        fields={"confirmed_at": _as_utc_text(confirmed_at)},
    )


def _as_utc_text(moment: datetime.datetime) -> str:
    """``moment`` in UTC (the zone it came in at the calendar's ends, where UTC has no room)."""
    try:
        return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")
    except OverflowError:
        return moment.isoformat(timespec="seconds")


@dataclass
class Judgement:
    """One request before the rules, and what they find while they pass it: every rule reads
    the request and the locked rows, and the first that fails raises its refusal."""

    request: ConfirmationRequest
    work_order: WorkOrder
    operations: list[WorkOrderOperation]
    lookups: _Lookups
    work_center: WorkCenter | None = None  # a station's: only this work center's operations
    reason: ReasonCode | None = None
    operator: Employee | None = None
    operation: WorkOrderOperation | None = None
    book: MaterialBook | None = None  # None: nothing this report can move (no look-up made)
    plan: MaterialPlan = field(default_factory=MaterialPlan)
    #: A disposition's scrap or rework of pieces already reported good (``mes.services.dispositions``): it
    #: books on a held or completed operation, and its pieces are already counted.
    is_disposition: bool = False

    @property
    def is_last_operation(self) -> bool:
        return self.operation.sequence == max(candidate.sequence for candidate in self.operations)

    def previous(self) -> list[WorkOrderOperation]:
        """The operations before the one reported."""
        return [candidate for candidate in self.operations if candidate.sequence < self.operation.sequence]


def confirmed_at_plausible(*, judgement: Judgement) -> None:
    if judgement.request.confirmed_at is not None:
        _check_confirmed_at(judgement.request.confirmed_at)


def quantities_not_negative(*, judgement: Judgement) -> None:
    for name in QUANTITY_FIELDS:
        value = getattr(judgement.request, name)
        if value < 0:
            raise DomainError("negative_quantity", _("Quantities cannot be negative."), fields={name: str(value)})


def something_reported(*, judgement: Judgement) -> None:
    if all(getattr(judgement.request, name) == 0 for name in QUANTITY_FIELDS):
        raise DomainError(
            "empty_confirmation",
            _("Good, scrap and rework quantities are all zero: nothing to report."),
            fields={name: "0" for name in QUANTITY_FIELDS},
        )


def minutes_plausible(*, judgement: Judgement) -> None:
    for name, label, limit in (
        ("labor_minutes", gettext_lazy("labor minutes"), settings.MES_MAX_LABOR_MINUTES),
        ("machine_minutes", gettext_lazy("machine minutes"), settings.MES_MAX_MACHINE_MINUTES),
    ):
        value = getattr(judgement.request, name)
        if value is not None and (value < 0 or value > limit):
            raise DomainError(
                f"implausible_{name}",
                _("%(field)s must be between 0 and %(limit)s per confirmation; got %(value)s.")
                % {"field": label, "limit": limit, "value": value},
                fields={name: str(value)},
            )


def reason_code_known(*, judgement: Judgement) -> None:
    code = judgement.request.reason_code
    if not code:
        return
    judgement.reason = judgement.lookups.reasons.get(code)
    if judgement.reason is None:
        raise DomainError(
            "unknown_reason_code",
            _("Reason code %(code)s does not exist.") % {"code": code},
            fields={"reason_code": code},
        )


def _reason_kinds_needed(request: ConfirmationRequest) -> set[str]:
    return {kind for kind, qty in (("scrap", request.scrap_qty), ("rework", request.rework_qty)) if qty > 0}


def reason_code_given_for_scrap_and_rework(*, judgement: Judgement) -> None:
    needed_kinds = _reason_kinds_needed(judgement.request)
    if needed_kinds and judgement.reason is None:
        raise DomainError(
            "reason_code_required",
            _("Scrap and rework need a reason code."),
            fields={"reason_code": "required for " + " and ".join(sorted(needed_kinds))},
        )


def reason_code_of_the_reported_kind(*, judgement: Judgement) -> None:
    reason = judgement.reason
    allowed_kinds = (_reason_kinds_needed(judgement.request) or {"scrap", "rework"}) | {"defect"}  # a defect explains either
    if reason is not None and reason.kind not in allowed_kinds:
        raise DomainError(
            "reason_code_wrong_kind",
            _("Reason code %(code)s is a %(kind)s reason; this report needs a %(needed)s reason.")
            % {
                "code": reason.code,
                "kind": reason.get_kind_display(),
                "needed": _(" or ").join(str(ReasonCode.Kind(kind).label) for kind in sorted(allowed_kinds)),
            },
            fields={"reason_code": judgement.request.reason_code},
        )


def operator_known_and_active(*, judgement: Judgement) -> None:
    badge = judgement.request.operator_badge
    if not badge:
        return
    judgement.operator = judgement.lookups.operators.get(badge)
    if judgement.operator is None or not judgement.operator.is_active:
        raise unknown_operator(badge=badge)


def unknown_operator(*, badge: str) -> DomainError:
    return DomainError("unknown_operator", _("No active employee has badge %(badge)s.") % {"badge": badge}, fields={"operator_badge": badge})


def work_order_check_released(*, work_order: WorkOrder) -> None:
    """Refuse (409 ``work_order_not_released``) an order still planned."""
    if work_order.status == Status.PLANNED:
        raise DomainError(
            "work_order_not_released",
            _("Work order %(number)s is not released yet.") % {"number": work_order.number},
            kind=ErrorKind.CONFLICT,
            fields={"work_order": work_order.status},
        )


def work_order_released(*, judgement: Judgement) -> None:
    work_order_check_released(work_order=judgement.work_order)


def operation_known(*, judgement: Judgement) -> None:
    sequence = judgement.request.operation
    judgement.operation = next((candidate for candidate in judgement.operations if candidate.sequence == sequence), None)
    if judgement.operation is None:
        raise unknown_operation(number=judgement.work_order.number, sequence=sequence)


def operation_at_this_work_center(*, judgement: Judgement) -> None:
    if judgement.work_center is not None:
        operation_check_work_center(operation=judgement.operation, work_center=judgement.work_center, number=judgement.work_order.number)


def not_on_quality_hold(*, judgement: Judgement) -> None:
    """Refuse (409 ``quality_hold``) a report on an order or operation quality holds. Reads nothing:
    the flags come with the order and its operations."""
    operation, work_order = judgement.operation, judgement.work_order
    if judgement.is_disposition or not (work_order.on_quality_hold or operation.on_quality_hold):
        return
    raise quality_hold_refusal(
        work_order=work_order, operation=None if work_order.on_quality_hold else operation, doing=_("reporting")
    )


def operation_not_on_hold(*, judgement: Judgement) -> None:
    operation, work_order = judgement.operation, judgement.work_order
    if operation.status == Status.PAUSED or work_order.status == Status.PAUSED:
        raise DomainError(
            "operation_on_hold",
            _("Operation %(sequence)04d of %(number)s is on hold; resume it before reporting.")
            % {"sequence": operation.sequence, "number": work_order.number},
            kind=ErrorKind.CONFLICT,
            fields={"operation": operation.status},
        )


def operation_open(*, judgement: Judgement) -> None:
    operation, work_order = judgement.operation, judgement.work_order
    open_statuses = OPEN_FOR_DISPOSITION if judgement.is_disposition else OPEN_FOR_CONFIRMATION
    if operation.status not in open_statuses or work_order.status not in open_statuses:
        raise DomainError(
            "operation_not_open",
            _("Operation %(sequence)04d of %(number)s is %(status)s; only released or running operations take reports.")
            % {"sequence": operation.sequence, "number": work_order.number, "status": Status(operation.status).label},
            kind=ErrorKind.CONFLICT,
            fields={"operation": operation.status},
        )


def quality_checkpoints_passed(*, judgement: Judgement) -> None:
    open_checkpoint = next(
        (
            candidate
            for candidate in judgement.previous()
            if candidate.quality_checkpoint and candidate.status not in {Status.COMPLETED, Status.CLOSED}
        ),
        None,
    )
    if open_checkpoint is not None:
        raise DomainError(
            "quality_checkpoint_open",
            _("Operation %(sequence)04d has an open quality checkpoint; finish it before reporting later operations.")
            % {"sequence": open_checkpoint.sequence},
            kind=ErrorKind.CONFLICT,
            fields={"operation": str(open_checkpoint.sequence)},
        )


def quantity_within_available(*, judgement: Judgement) -> None:
    request, operation = judgement.request, judgement.operation
    if judgement.is_disposition:
        return  # the pieces were counted when they were reported good
    available = operation_available(operations=judgement.operations, operation=operation, work_order=judgement.work_order)
    requested = request.good_qty + request.scrap_qty + request.rework_qty
    if operation.confirmed_qty + requested <= available:
        return
    remaining = max(available - operation.confirmed_qty, ZERO)
    previous = judgement.previous()
    before = max(previous, key=lambda candidate: candidate.sequence) if previous else None
    if remaining == 0 and before is not None and before.status not in {Status.COMPLETED, Status.CLOSED}:
        # The usual cause on the floor: the previous step has not reported what it passed on.
        raise DomainError(
            "quantity_exceeds_available",
            _(
                "The previous operation %(previous)04d is not done: it has passed on only %(available)s good, "
                "all reported here already. Report %(previous)04d first."
            )
            % {"previous": before.sequence, "available": plain(quantity=available)},
            fields={"good_qty": f"at most {plain(quantity=remaining)} in total"},
        )
    raise DomainError(
        "quantity_exceeds_available",
        _(
            "Operation %(sequence)04d can take at most %(remaining)s more: %(available)s available from "
            "the previous step, %(done)s already reported, %(requested)s asked."
        )
        % {
            "sequence": operation.sequence,
            "remaining": plain(quantity=remaining),
            "available": plain(quantity=available),
            "done": plain(quantity=operation.confirmed_qty),
            "requested": plain(quantity=requested),
        },
        fields={"good_qty": f"at most {plain(quantity=remaining)} in total"},
    )


def backflush_covered(*, judgement: Judgement) -> None:
    """Every backflush component of the operation can be taken from a lot (or, untracked, from none)."""
    if judgement.book is not None:
        judgement.plan.draws = backflush_plan(
            request=judgement.request, work_order=judgement.work_order, operation=judgement.operation, book=judgement.book
        )


def output_receivable(*, judgement: Judgement) -> None:
    """The last operation's good quantity can be received: a free output lot, or one new serial per piece."""
    if judgement.book is not None:
        judgement.plan.receipts = output_plan(
            request=judgement.request, work_order=judgement.work_order, is_last=judgement.is_last_operation, book=judgement.book
        )


#: Every rule a confirmation must pass, in the order they are checked: the first that fails
#: decides the refusal. The request's own values first, then what it names, then the order's state.
CONFIRMATION_RULES = (
    confirmed_at_plausible,
    quantities_not_negative,
    something_reported,
    minutes_plausible,
    reason_code_known,
    reason_code_given_for_scrap_and_rework,
    reason_code_of_the_reported_kind,
    operator_known_and_active,
    work_order_released,
    operation_known,
    operation_at_this_work_center,
    not_on_quality_hold,
    operation_not_on_hold,
    operation_open,
    quality_checkpoints_passed,
    quantity_within_available,
    quality_hold_respected,
    inspections_passed,
    backflush_covered,
    output_receivable,
)


def _check(judgement: Judgement) -> Judgement:
    """Refuse a confirmation that breaks any rule; return what it confirms against. Writes nothing."""
    for rule in CONFIRMATION_RULES:
        rule(judgement=judgement)
    return judgement


# --- writes ------------------------------------------------------------------------


def _totals(operation: WorkOrderOperation) -> dict[str, str]:
    return {name: str(getattr(operation, name)) for name in (*QUANTITY_FIELDS, "labor_minutes", "machine_minutes")}


def _add_to_totals(operation: WorkOrderOperation, confirmation: Confirmation) -> None:
    """Reversals carry negated quantities, so adding them takes the original back out."""
    for name in (*QUANTITY_FIELDS, "labor_minutes", "machine_minutes"):
        setattr(operation, name, getattr(operation, name) + getattr(confirmation, name))
    operation.last_activity_at = confirmation.recorded_at or timezone.now()


_QUANTITY_PLACES = Decimal("0.001")
_MINUTES_PLACES = Decimal("0.01")


def _payload(confirmation: Confirmation, work_order: WorkOrder, operation: WorkOrderOperation, movements: list | None = None) -> dict[str, Any]:
    """Everything an ERP connector needs, so sending never has to read the domain tables again."""
    # Each related object read once: a gateway's batch builds a thousand of these.
    reverses = confirmation.reverses if confirmation.reverses_id is not None else None
    item = work_order.item
    reason = confirmation.reason_code if confirmation.reason_code_id is not None else None
    operator = confirmation.operator if confirmation.operator_id is not None else None
    payload = {
        "type": confirmation.kind,
        "confirmation_id": str(confirmation.uuid),
        "client_id": str(confirmation.client_id),
        "work_order": work_order.number,
        "work_order_uuid": str(work_order.uuid),
        "item": item.code,
        "operation": operation.sequence,
        "operation_name": operation.name,
        "work_center": operation.work_center.code,
        "good_qty": str(confirmation.good_qty.quantize(_QUANTITY_PLACES)),
        "scrap_qty": str(confirmation.scrap_qty.quantize(_QUANTITY_PLACES)),
        "rework_qty": str(confirmation.rework_qty.quantize(_QUANTITY_PLACES)),
        "unit": item.unit.code,
        "reason_code": reason.code if reason else None,
        "reason_kind": reason.kind if reason else None,
        "labor_minutes": str(confirmation.labor_minutes.quantize(_MINUTES_PLACES)),
        "machine_minutes": str(confirmation.machine_minutes.quantize(_MINUTES_PLACES)),
        "operator_badge": operator.badge if operator else None,
        "operator_name": operator.name if operator else None,
        "station": confirmation.station,
        "final": confirmation.is_final,
        "confirmed_at": confirmation.confirmed_at.isoformat(),
        "reverses": (
            {"confirmation_id": str(reverses.uuid), "idempotency_key": str(reverses.uuid)} if reverses is not None else None
        ),
    }
    booked = movements_payload(movements) if movements else []
    if booked:  # for ERPs that book the movements with the report (SAP's deep insert)
        payload["goods_movements"] = booked
    return payload


def _message(confirmation: Confirmation, work_order: WorkOrder, operation: WorkOrderOperation, movements: list | None = None) -> NewMessage:
    return NewMessage(
        kind=confirmation.kind,
        partition_key=work_order.number,
        source_uuid=confirmation.uuid,
        idempotency_key=confirmation.uuid,
        payload=_payload(confirmation, work_order, operation, movements),
    )


def _event(confirmation: Confirmation, work_order: WorkOrder, before: dict[str, str], after: dict[str, str], actor: Any, reason: str = "") -> Event:
    user = actor if getattr(actor, "is_authenticated", False) else None
    username = user.get_username() if user else ""
    badge = confirmation.operator.badge if confirmation.operator else ""
    return new_instance(
        Event,
        actor=user,
        # A report is the operator's act; its reversal is the act of whoever reversed it.
        actor_label=(badge or username) if confirmation.kind == Confirmation.Kind.CONFIRMATION else username,
        object_type="confirmation",
        object_key=str(confirmation.uuid),
        work_order=work_order,
        action="confirm" if confirmation.kind == Confirmation.Kind.CONFIRMATION else "reverse",
        before={"operation_totals": before},
        after={
            "operation_totals": after,
            "confirmation": {name: str(getattr(confirmation, name)) for name in (*QUANTITY_FIELDS, "labor_minutes", "machine_minutes")}
            | {"operation": confirmation.operation.sequence, "final": confirmation.is_final, "client_id": str(confirmation.client_id)},
        },
        reason=reason,
    )


def _finish_operation(
    operation: WorkOrderOperation, work_order: WorkOrder, operations: list[WorkOrderOperation], actor: Any, label: str
) -> None:
    """A final confirmation completes its operation; the last operation's completes the order.

    Earlier operations still open when the order completes are completed with it, through
    the same transitions, so every one leaves its event.
    """
    operation_transition_locked(operation=operation, work_order=work_order, action="complete", actor=actor, actor_label=label)
    if operation.sequence != max(candidate.sequence for candidate in operations):
        return
    for earlier in operations:
        for action in {Status.RELEASED: ("start", "complete"), Status.PAUSED: ("resume", "complete"), Status.IN_PROGRESS: ("complete",)}.get(earlier.status, ()):
            operation_transition_locked(operation=earlier, work_order=work_order, action=action, actor=actor, actor_label=label, reason="order completed")
    work_order_transition_locked(work_order=work_order, action="complete", actor=actor, actor_label=label)


def _record(judgement: Judgement, rows: ConfirmationRows, actor: Any) -> Confirmation:
    """Check one request against locked, loaded rows and apply it: status moves are written at
    once, the confirmation, its event and its message are added to ``rows`` for one write."""
    _check(judgement)
    request, work_order, operation = judgement.request, judgement.work_order, judgement.operation
    label = request.operator_badge or request.station
    operation_start_locked(operation=operation, work_order=work_order, actor=actor, actor_label=label)
    now = timezone.now()
    confirmation = new_instance(
        Confirmation,
        client_id=request.client_id,
        request_hash=request.fingerprint(),
        kind=Confirmation.Kind.CONFIRMATION,
        work_order=work_order,
        operation=operation,
        good_qty=request.good_qty,
        scrap_qty=request.scrap_qty,
        rework_qty=request.rework_qty,
        reason_code=judgement.reason,
        labor_minutes=_labor_minutes(judgement, request.confirmed_at or now, now),
        machine_minutes=request.machine_minutes if request.machine_minutes is not None else ZERO,
        operator=judgement.operator,
        station=request.station,
        is_final=request.final,
        confirmed_at=request.confirmed_at or now,
        recorded_at=now,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    before = _totals(operation)
    _add_to_totals(operation, confirmation)
    event = _event(confirmation, work_order, before, _totals(operation), actor)
    if request.final:
        _finish_operation(operation, work_order, judgement.operations, actor, label)
    movements = plan_apply(plan=judgement.plan, confirmation=confirmation, book=judgement.book, rows=rows.materials) if judgement.plan else []
    confirmation.material_movements = movements
    message = _message(confirmation, work_order, operation, movements)
    # Drawing from a lot another order made: the report (SAP books its 261 items with it) and its
    # goods issue wait for that order's receipt of the lot.
    waits_for = issues_awaited(confirmation=confirmation, movements=movements, rows=rows.materials) if movements else []
    if waits_for:
        message["waits_for"] = waits_for
    rows.add(
        confirmation, event, message,
        goods_messages(confirmation=confirmation, movements=movements, waits_for=waits_for) if movements else (),
    )
    return confirmation


def client_id_check_same(*, recorded_hash: str, fingerprint: str, client_id: uuid.UUID, message: str) -> None:
    """Refuse (409 ``client_id_conflict``, saying ``message``) a resend whose content differs from what was recorded."""
    if recorded_hash != fingerprint:
        raise DomainError("client_id_conflict", message, kind=ErrorKind.CONFLICT, fields={"client_id": str(client_id)})


def _labor_minutes(judgement: Judgement, confirmed_at: datetime.datetime, now: datetime.datetime) -> Decimal:
    """The labor minutes given, else the operator's clocked time on the operation since their
    previous report on it (0 without an operator). A look-up only when minutes are left out and
    an operator is named; a bulk call loads its clocks once (``_clock_for_many``)."""
    request, operator = judgement.request, judgement.operator
    if operator is None:
        return request.labor_minutes if request.labor_minutes is not None else ZERO
    pair = (judgement.operation.pk, operator.pk)
    clock = judgement.lookups.clock
    minutes = request.labor_minutes
    if minutes is None:
        if clock is None or pair not in clock.loaded:
            clock = judgement.lookups.clock = clocked_time_of(pairs=[pair])
        minutes = clock.minutes(pair=pair, until=confirmed_at, now=now)
    if clock is not None:
        clock.reported(pair=pair, at=confirmed_at)  # a later report of this call starts from this one
    return minutes


def _clock_for_many(requests: list[ConfirmationRequest], orders: dict[str, WorkOrder], operations_by_order: dict[int, list[WorkOrderOperation]], lookups: _Lookups) -> ClockedTime:
    """The clocks of every (operation, operator) a bulk call's reports leave their labor minutes out for."""
    pairs = set()
    for request in requests:
        operator = lookups.operators.get(request.operator_badge) if request.operator_badge else None
        work_order = orders.get(request.work_order)
        if request.labor_minutes is not None or operator is None or work_order is None:
            continue
        operation = next((candidate for candidate in operations_by_order[work_order.pk] if candidate.sequence == request.operation), None)
        if operation is not None:
            pairs.add((operation.pk, operator.pk))
    return clocked_time_of(pairs=pairs)


def _replay(existing: Confirmation, request: ConfirmationRequest) -> ConfirmationResult:
    client_id_check_same(
        recorded_hash=existing.request_hash, fingerprint=request.fingerprint(), client_id=request.client_id,
        message=_("client_id %(client_id)s was already used for a different report.") % {"client_id": request.client_id},
    )
    return ConfirmationResult(existing, created=False)


# The hot path reads with two plain statements instead of five ORM queries: the lock
# (``work_orders_lock``), which comes first and alone decides what happens next, then the
# order's operations with what the request names. Read after the lock, the operations' totals
# are never older than it (a row joined into a locking statement can be). Columns no
# confirmation reads are left out (deferred: read if ever asked for); turning timestamps into
# Python objects was a fifth of these reads' cost.
_UNREAD_OPERATION_FIELDS = {"last_activity_at", "setup_minutes", "run_minutes_per_unit", "planned_qty"}


def _columns(model: type, alias: str, unread: set[str]) -> str:
    return ", ".join(f"{alias}.{field.column}" for field in model._meta.concrete_fields if field.name not in unread)


# Both the single and the bulk path read an order's operations with these columns and joins, and
# make them into instances with ``_operations_read``.
_OPERATION_COLUMNS = (
    f"{_columns(WorkOrderOperation, 'op', _UNREAD_OPERATION_FIELDS)}, wc.code AS work_center_code, wc.name AS work_center_name"
)
_OPERATION_TABLES = "mes_workorderoperation op JOIN mes_workcenter wc ON wc.id = op.work_center_id"

_OPERATIONS_SQL = f"""
SELECT {_OPERATION_COLUMNS},
       (SELECT c.id FROM mes_confirmation c WHERE c.client_id = %s) AS existing_confirmation_id,
       e.id AS employee_id, e.name AS employee_name, e.is_active AS employee_active,
       r.id AS reason_id, r.kind AS reason_kind, r.name AS reason_name,
       {{backflush}}{{inspection}}
FROM {_OPERATION_TABLES}
LEFT JOIN mes_employee e ON e.badge = %s
LEFT JOIN mes_reasoncode r ON r.code = %s
WHERE op.work_order_id = %s
ORDER BY op.sequence
"""
# Each operation's backflush components come with it on PostgreSQL (a JSON array: no statement
# of their own for a backflushing report), and so does what has passed of a gated operation's
# mandatory characteristics (no statement of its own for the inspection gate); elsewhere only
# whether it has backflush components, and the gate reads on its own.
_OPERATIONS_SQL_BY_VENDOR = {
    "postgresql": _OPERATIONS_SQL.format(
        backflush=f"{backflush_components_sql(order='op.work_order_id', sequence='op.sequence')} AS backflush_components",
        inspection=f",\n       CASE WHEN op.inspection_gated THEN {characteristic_states_sql(operation='op.id')} END AS inspection_states",
    ),
    "other": _OPERATIONS_SQL.format(
        backflush="EXISTS (SELECT 1 FROM mes_workordercomponent b WHERE b.work_order_id = op.work_order_id "
        "AND b.operation_sequence = op.sequence AND b.backflush) AS has_backflush",
        inspection="",
    ),
}


def _operations_read(sql: str, params: list[Any], orders: dict[int, WorkOrder]) -> list[WorkOrderOperation]:
    """The operations ``sql`` selects (``_OPERATION_COLUMNS`` from ``_OPERATION_TABLES``), each with its
    order (from ``orders``, by primary key) and its work center. Call holding the orders' locks."""
    operations = raw_instances(WorkOrderOperation, sql, params)
    for operation in operations:
        relate(operation, "work_order", orders[operation.work_order_id])
        relate(
            operation, "work_center",
            partial_instance(WorkCenter, id=operation.work_center_id, code=operation.work_center_code, name=operation.work_center_name),
        )
    return operations


def _read_after_lock(work_order: WorkOrder, request: ConfirmationRequest) -> tuple[list[WorkOrderOperation], _Lookups, int | None]:
    """The order's operations as they are now, the operator and reason code the request names,
    and the confirmation already recorded under its client_id, if any. Call holding the order's lock."""
    client = Confirmation._meta.get_field("client_id").get_db_prep_value(request.client_id, connection)
    sql = _OPERATIONS_SQL_BY_VENDOR.get(connection.vendor, _OPERATIONS_SQL_BY_VENDOR["other"])
    operations = _operations_read(
        sql, [client, request.operator_badge, request.reason_code, work_order.pk], {work_order.pk: work_order}
    )
    if not operations:
        existing = Confirmation.objects.filter(client_id=request.client_id).values_list("pk", flat=True).first()
        return [], _Lookups.load([request]), existing
    first = operations[0]
    operator = (
        partial_instance(Employee, id=first.employee_id, badge=request.operator_badge, name=first.employee_name, is_active=bool(first.employee_active))
        if first.employee_id is not None
        else None
    )
    reason = (
        partial_instance(ReasonCode, id=first.reason_id, code=request.reason_code, kind=first.reason_kind, name=first.reason_name)
        if first.reason_id is not None
        else None
    )
    return operations, _Lookups.of(reason, operator), first.existing_confirmation_id


def _operations(work_order: WorkOrder) -> list[WorkOrderOperation]:
    return list(work_order.operations.select_related("work_center").order_by("sequence"))


def operation_confirm(*, request: ConfirmationRequest, actor: Any = None, work_center: WorkCenter | None = None) -> ConfirmationResult:
    """Record one confirmation, or answer the original if this ``client_id`` was seen before.

    Refused reports raise ``DomainError`` and leave nothing behind: no row, no event, no message.
    A station passes its ``work_center``: an operation of another one is refused (``other_work_center``),
    checked under the order's lock like every other rule.
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _confirm_locked(request, actor, work_center)
        except (DomainError, IntegrityError) as error:
            # A resend of a recorded report must be answered even if the order has moved on since
            # (completed, closed): the replay wins over the rules that would refuse a new report.
            # An IntegrityError: the same client_id was recorded at the same moment against another order.
            existing = Confirmation.objects.filter(client_id=request.client_id).first()
            if existing is not None:
                return _replay(existing, request)
            if isinstance(error, IntegrityError) and attempt == 0:
                # Another order's report created the output lot or serial this one creates, at the
                # same moment: judged again, this one sees it (``output_lot_taken``, ``serial_exists``).
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _confirm_locked(request: ConfirmationRequest, actor: Any, work_center: WorkCenter | None) -> ConfirmationResult:
    """``operation_confirm``'s one attempt, inside its transaction."""
    work_order = work_order_lock(number=request.work_order)
    operations, lookups, existing_id = _read_after_lock(work_order, request)
    # Checked under the order's lock, so a resend racing the original waits and then finds it.
    if existing_id is not None:
        return _replay(Confirmation.objects.get(pk=existing_id), request)
    rows = ConfirmationRows()
    judgement = Judgement(request, work_order, operations, lookups, work_center)
    judgement.book = _book_if_needed(judgement)
    confirmation = _record(judgement, rows, actor)
    outbox_message = confirmation_rows_write(rows=rows)[0]
    _mark_unreversed(confirmation)
    if request.scrap_qty:  # only scrap can tip an operation into a quality stop
        quality_stop_check(work_order=work_order, operation_id=confirmation.operation_id, actor=actor)
    return ConfirmationResult(confirmation, created=True, message=outbox_message)


def _book_if_needed(judgement: Judgement) -> MaterialBook | None:
    """The lots and components a single report may move, locked; None (no look-up) when it can move none."""
    request, work_order = judgement.request, judgement.work_order
    operation = next((candidate for candidate in judgement.operations if candidate.sequence == request.operation), None)
    if operation is None:
        return None  # refused by operation_known
    last = max(candidate.sequence for candidate in judgement.operations)
    read = hasattr(operation, "backflush_components")  # read with the operations (PostgreSQL)
    has_backflush = bool(operation.backflush_components) if read else bool(getattr(operation, "has_backflush", True))
    if not needs_materials(
        request=request, work_order=work_order, operation=operation, is_last=operation.sequence == last, has_backflush=has_backflush,
    ):
        return None
    components = components_from_json(operation.backflush_components) if read else None  # the only ones it may backflush
    return MaterialBook.load(orders=[work_order], requests=[request], last_sequences={work_order.pk: last}, components=components)


def _mark_unreversed(confirmation: Confirmation) -> None:
    """A record made a moment ago has no reversal; say so instead of letting a read ask the database."""
    Confirmation.reversed_by.related.set_cached_value(confirmation, None)


def operation_confirm_many(*, requests: list[ConfirmationRequest], actor: Any = None) -> list[ConfirmationResult | DomainError]:
    """Record many confirmations (gateways, store-and-forward) in one transaction, each judged
    on its own: the answer list holds a result or the refusal for every request, in order.

    All orders involved are locked up front in primary-key order, so this never deadlocks
    with single confirmations or transitions.
    """
    try:
        return _confirm_many_once(requests, actor)
    except IntegrityError:
        # Another call created an output lot or serial, or recorded a client_id, that this batch
        # writes too, at the same moment: judged again, the batch sees it (each report answered on its own).
        return _confirm_many_once(requests, actor)


def _confirm_many_once(requests: list[ConfirmationRequest], actor: Any) -> list[ConfirmationResult | DomainError]:
    """``operation_confirm_many``'s one attempt, in a transaction of its own."""
    answers: list[ConfirmationResult | DomainError | None] = [None] * len(requests)
    with transaction.atomic():
        orders = work_orders_lock(numbers=[request.work_order for request in requests])
        operations_by_order = _operations_of(orders.values())
        seen = {
            confirmation.client_id: confirmation
            for confirmation in Confirmation.objects.filter(client_id__in=[request.client_id for request in requests])
        }
        lookups = _Lookups.load(requests)
        lookups.clock = _clock_for_many(requests, orders, operations_by_order, lookups)
        book = MaterialBook.load(
            orders=list(orders.values()),
            requests=[request for request in requests if request.client_id not in seen],
            last_sequences={pk: max(o.sequence for o in operations) for pk, operations in operations_by_order.items() if operations},
        )
        rows = ConfirmationRows()
        for index, request in enumerate(requests):
            try:
                if request.client_id in seen:
                    answers[index] = _replay(seen[request.client_id], request)
                    continue
                work_order = orders.get(request.work_order)
                if work_order is None:
                    raise unknown_work_order(number=request.work_order)
                judgement = Judgement(request, work_order, operations_by_order[work_order.pk], lookups, book=book)
                confirmation = _record(judgement, rows, actor)
            except DomainError as error:
                answers[index] = error
                continue
            seen[request.client_id] = confirmation
            answers[index] = ConfirmationResult(confirmation, created=True)
        confirmation_rows_write(rows=rows)
        scrapped = {
            (answer.confirmation.work_order_id, answer.confirmation.operation_id): answer.confirmation
            for answer in answers
            if isinstance(answer, ConfirmationResult) and answer.created and answer.confirmation.scrap_qty
        }
        by_pk = {order.pk: order for order in orders.values()}
        for (order_pk, operation_id), confirmation in sorted(scrapped.items()):
            quality_stop_check(work_order=by_pk[order_pk], operation_id=operation_id, actor=actor)
    return answers  # type: ignore[return-value]


def _operations_of(orders: Iterable[WorkOrder]) -> dict[int, list[WorkOrderOperation]]:
    """The operations of locked orders, by order primary key, in sequence: read as the single path reads them."""
    orders_by_pk = {order.pk: order for order in orders}
    operations_by_order: dict[int, list[WorkOrderOperation]] = {pk: [] for pk in orders_by_pk}
    if orders_by_pk:
        placeholders = ", ".join(["%s"] * len(orders_by_pk))
        sql = f"SELECT {_OPERATION_COLUMNS} FROM {_OPERATION_TABLES} WHERE op.work_order_id IN ({placeholders}) ORDER BY op.sequence"
        for operation in _operations_read(sql, list(orders_by_pk), orders_by_pk):
            operations_by_order[operation.work_order_id].append(operation)
    return operations_by_order


# Reversal ids are derived from the original's client_id, so reversing twice finds the first reversal.
REVERSAL_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-4f5e-9a7b-2d4c6e8f0a13")


def confirmation_reverse(*, confirmation_id: uuid.UUID, reason: str = "", actor: Any = None) -> ConfirmationResult:
    """Reverse a confirmation with a new, negated record (nothing is deleted) and restore the totals.

    Idempotent: reversing an already reversed confirmation answers the existing reversal.
    A reversal that would leave the next operation having reported more than this one now
    passes is refused; reversing a final confirmation reopens its operation (and order).
    """
    original = _confirmation_known(confirmation_id)
    with transaction.atomic():
        work_order = work_order_lock(number=original.work_order.number)
        original = Confirmation.objects.select_related("reason_code", "operator").get(pk=original.pk)
        reversal_of_a_confirmation(original=original)
        not_booked_by_a_disposition(original=original)
        existing = Confirmation.objects.filter(reverses=original).first()
        if existing is not None:
            return ConfirmationResult(existing, created=False)
        work_order_not_finished(work_order=work_order)
        operations = _operations(work_order)
        operation = next(candidate for candidate in operations if candidate.pk == original.operation_id)
        original.operation = operation
        next_operation_stays_covered(original=original, operations=operations, work_order=work_order)
        reversal = _reversal(original, work_order, reason, actor)
        rows = ConfirmationRows()
        # Checked (output_consumed) before the reopening below writes anything.
        movements = reversal_movements(original=original, reversal=reversal, rows=rows.materials)
        reversal.material_movements = movements
        before = _totals(operation)
        _add_to_totals(operation, reversal)
        if original.is_final and operation.status == Status.COMPLETED:
            _reopen(operation, work_order, actor, reason)
        rows.add(
            reversal, _event(reversal, work_order, before, _totals(operation), actor, reason),
            _message(reversal, work_order, operation, movements),
            goods_messages(confirmation=reversal, movements=movements, reverses_uuid=original.uuid) if movements else (),
        )
        outbox_message = confirmation_rows_write(rows=rows)[0]
    return ConfirmationResult(reversal, created=True, message=outbox_message)


def _confirmation_known(confirmation_id: uuid.UUID) -> Confirmation:
    original = Confirmation.objects.select_related("work_order").filter(uuid=confirmation_id).first()
    if original is None:
        raise DomainError(
            "unknown_confirmation",
            _("Confirmation %(id)s does not exist.") % {"id": confirmation_id},
            kind=ErrorKind.NOT_FOUND,
            fields={"id": str(confirmation_id)},
        )
    return original


def reversal_of_a_confirmation(*, original: Confirmation) -> None:
    """Refuse to reverse a reversal: the quantities are confirmed again instead."""
    if original.kind == Confirmation.Kind.REVERSAL:
        raise DomainError(
            "cannot_reverse_reversal",
            _("This record is itself a reversal; confirm the quantities again instead."),
            kind=ErrorKind.CONFLICT,
            fields={"id": str(original.uuid)},
        )


def not_booked_by_a_disposition(*, original: Confirmation) -> None:
    """Refuse (409 ``booked_by_disposition``) to reverse the scrap or rework a nonconformance's
    disposition booked: the decision stands with its audit trail; a new NCR decides again."""
    nonconformance_id = NonconformanceDisposition.objects.filter(confirmation=original).values_list("nonconformance_id", flat=True).first()
    if nonconformance_id is not None:
        raise DomainError(
            "booked_by_disposition",
            _("This confirmation was booked by the disposition of nonconformance %(id)s and cannot be reversed on its own.")
            % {"id": nonconformance_id},
            kind=ErrorKind.CONFLICT,
            fields={"id": str(original.uuid)},
        )


def work_order_not_finished(*, work_order: WorkOrder) -> None:
    """Refuse to reverse a confirmation of a closed or cancelled order."""
    if work_order.status in {Status.CLOSED, Status.CANCELLED}:
        raise DomainError(
            "work_order_finished",
            _("Work order %(number)s is %(status)s; its confirmations can no longer be reversed.")
            % {"number": work_order.number, "status": Status(work_order.status).label},
            kind=ErrorKind.CONFLICT,
            fields={"work_order": work_order.status},
        )


def next_operation_stays_covered(*, original: Confirmation, operations: list[WorkOrderOperation], work_order: WorkOrder) -> None:
    """Refuse a reversal that would leave the next operation having reported more than this one passed on."""
    operation = original.operation
    following = min((c for c in operations if c.sequence > operation.sequence), key=lambda c: c.sequence, default=None)
    if following is None or original.good_qty <= 0:
        return
    operation.good_qty -= original.good_qty
    still_available = operation_available(operations=operations, operation=following, work_order=work_order)
    operation.good_qty += original.good_qty
    if following.confirmed_qty > still_available:
        raise DomainError(
            "reversal_blocked_by_next_operation",
            _("Operation %(next)04d already reported %(done)s, which this reversal would leave unaccounted for; reverse that first.")
            % {"next": following.sequence, "done": plain(quantity=following.confirmed_qty)},
            kind=ErrorKind.CONFLICT,
            fields={"operation": str(following.sequence)},
        )


def _reversal(original: Confirmation, work_order: WorkOrder, reason: str, actor: Any) -> Confirmation:
    """The negated record of ``original``, not yet written."""
    now = timezone.now()
    return Confirmation(
        client_id=uuid.uuid5(REVERSAL_NAMESPACE, str(original.client_id)),
        request_hash=original.request_hash,
        kind=Confirmation.Kind.REVERSAL,
        work_order=work_order,
        operation=original.operation,
        good_qty=-original.good_qty,
        scrap_qty=-original.scrap_qty,
        rework_qty=-original.rework_qty,
        reason_code=original.reason_code,
        labor_minutes=-original.labor_minutes,
        machine_minutes=-original.machine_minutes,
        operator=original.operator,
        station=original.station,
        is_final=False,
        reverses=original,
        note=reason[:500],
        confirmed_at=now,
        recorded_at=now,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _reopen(operation: WorkOrderOperation, work_order: WorkOrder, actor: Any, reason: str) -> None:
    """Reversing a final confirmation reopens its completed operation, and its order if completed."""
    label = getattr(actor, "username", "")
    operation_transition_locked(operation=operation, work_order=work_order, action="reopen", actor=actor, actor_label=label, reason=reason)
    if work_order.status == Status.COMPLETED:
        work_order_transition_locked(work_order=work_order, action="reopen", actor=actor, actor_label=label, reason=reason)


def disposition_confirm(*, request: ConfirmationRequest, actor: Any = None) -> Confirmation:
    """Book the scrap or rework of pieces an operation already reported good (an NCR's disposition),
    through the rules and the write of every report, so it reaches the ERP like any scrap or rework. It may book on a held
    or completed operation, takes no material (the pieces took theirs when reported) and counts no
    capacity (they were counted). Call inside the caller's transaction; a resend of ``client_id``
    answers the confirmation booked."""
    work_order = work_order_lock(number=request.work_order)
    operations, lookups, existing_id = _read_after_lock(work_order, request)
    if existing_id is not None:
        return Confirmation.objects.get(pk=existing_id)
    rows = ConfirmationRows()
    confirmation = _record(Judgement(request, work_order, operations, lookups, is_disposition=True), rows, actor)
    confirmation_rows_write(rows=rows)
    return confirmation
