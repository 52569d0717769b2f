"""Reads of quality holds and nonconformances: lists (newest first, filtered) and one with its history."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.formatting import plain
from mes.models import Event, Hold, Nonconformance, NonconformanceDisposition, ReasonCode
from mes.services.holds import hold_target
from mes.services.nonconformances import nonconformance_key, unknown_nonconformance

LIST_LIMIT = 500


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def holds_list(*, state: str = "", work_order: str = "") -> list[Hold]:
    """Holds, newest first (at most ``LIST_LIMIT``), of a state and an order when named."""
    holds = Hold.objects.select_related("work_order", "operation", "lot__item", "placed_by", "released_by")
    if state:
        holds = holds.filter(state=state)
    if work_order:
        holds = holds.filter(work_order__number=work_order)
    return list(holds.order_by("-placed_at", "-id")[:LIST_LIMIT])


def hold_get(*, hold_id: int) -> Hold:
    hold = Hold.objects.select_related("work_order", "operation", "lot__item", "placed_by", "released_by").filter(pk=hold_id).first()
    if hold is None:
        raise DomainError("unknown_hold", _("Hold %(id)s does not exist.") % {"id": hold_id}, kind=ErrorKind.NOT_FOUND, fields={"id": str(hold_id)})
    return hold


def quality_stops_active() -> list[Hold]:
    """The operations stopped for quality now (active holds of cause ``quality_stop``), oldest first."""
    return list(
        Hold.objects.filter(state=Hold.State.ACTIVE, cause=Hold.Cause.QUALITY_STOP)
        .select_related("work_order", "operation__work_center").order_by("placed_at", "id")
    )


def hold_json(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.pk,
        "state": hold.state,
        "cause": hold.cause,
        "target": hold_target(hold),
        "reason": hold.reason,
        "placed_at": hold.placed_at.isoformat(),
        "placed_by": _username(hold.placed_by),
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
        "released_by": _username(hold.released_by),
        "release_reason": hold.release_reason or None,
    }


_NONCONFORMANCE_RELATED = ("work_order", "operation", "defect_code", "inspection_result__characteristic", "opened_by", "closed_by")


def nonconformances_list(*, state: str = "", work_order: str = "") -> list[Nonconformance]:
    """NCRs, newest first (at most ``LIST_LIMIT``), of a state and an order when named."""
    rows = Nonconformance.objects.select_related(*_NONCONFORMANCE_RELATED)
    if state:
        rows = rows.filter(state=state)
    if work_order:
        rows = rows.filter(work_order__number=work_order)
    return list(rows.order_by("-opened_at", "-id")[:LIST_LIMIT])


def nonconformance_get(*, nonconformance_id: int) -> Nonconformance:
    """One NCR with its dispositions (``decisions``)."""
    nonconformance = Nonconformance.objects.select_related(*_NONCONFORMANCE_RELATED).filter(pk=nonconformance_id).first()
    if nonconformance is None:
        raise unknown_nonconformance(nonconformance_id=nonconformance_id)
    nonconformance.decisions = list(
        NonconformanceDisposition.objects.filter(nonconformance=nonconformance).select_related("confirmation", "decided_by", "reinspection").order_by("decided_at", "id")
    )
    return nonconformance


def disposition_json(decision: NonconformanceDisposition) -> dict[str, Any]:
    return {
        "id": str(decision.uuid),
        "disposition": decision.disposition,
        "quantity": plain(quantity=decision.quantity),
        "reason": decision.reason,
        "decided_at": decision.decided_at.isoformat(),
        "decided_by": _username(decision.decided_by),
        "confirmation": str(decision.confirmation.uuid) if decision.confirmation_id else None,
        "reinspection": (
            {"id": str(decision.reinspection.uuid), "passed": decision.reinspection.passed} if decision.reinspection_id else None
        ),
    }


def nonconformance_json(nonconformance: Nonconformance) -> dict[str, Any]:
    result = nonconformance.inspection_result
    body = {
        "id": nonconformance.pk,
        "state": nonconformance.state,
        "source": nonconformance.source,
        "work_order": nonconformance.work_order.number,
        "operation": nonconformance.operation.sequence,
        "quantity": plain(quantity=nonconformance.quantity),
        "open_qty": plain(quantity=nonconformance.open_qty),
        "defect_code": nonconformance.defect_code.code if nonconformance.defect_code_id else None,
        "description": nonconformance.description,
        "serial": nonconformance.serial or None,
        "lot": nonconformance.lot or None,
        "inspection_result": (
            {"id": str(result.uuid), "characteristic": result.characteristic.code, "sample_no": result.sample_no,
             "value": str(result.value) if result.value is not None else None, "passed": result.passed}
            if result is not None else None
        ),
        "opened_at": nonconformance.opened_at.isoformat(),
        "opened_by": _username(nonconformance.opened_by),
        "closed_at": nonconformance.closed_at.isoformat() if nonconformance.closed_at else None,
        "closed_by": _username(nonconformance.closed_by),
        "quality_stop": nonconformance.quality_stop_id,
    }
    decisions = getattr(nonconformance, "decisions", None)
    if decisions is not None:
        body["dispositions"] = [disposition_json(decision) for decision in decisions]
    return body


# --- the quality pages ----------------------------------------------------------------------------


def quality_open_work(*, line: str = "", item: str = "", older_than_days: int | None = None) -> dict[str, list]:
    """Open NCRs (open or dispositioned) and active holds, oldest first, on ``line`` (the operation's
    work center's), of ``item``, opened more than ``older_than_days`` ago, each at most ``LIST_LIMIT``."""
    ncrs = Nonconformance.objects.select_related(*_NONCONFORMANCE_RELATED, "work_order__item", "operation__work_center").exclude(
        state=Nonconformance.State.CLOSED
    )
    holds = Hold.objects.select_related("work_order__item", "operation__work_center", "lot__item", "placed_by").filter(state=Hold.State.ACTIVE)
    if line:
        ncrs = ncrs.filter(operation__work_center__line=line)
        holds = holds.filter(Q(operation__work_center__line=line) | Q(operation__isnull=True, work_order__operations__work_center__line=line)).distinct()
    if item:
        ncrs = ncrs.filter(work_order__item__code=item)
        holds = holds.filter(Q(work_order__item__code=item) | Q(lot__item__code=item))
    if older_than_days:
        before = timezone.now() - datetime.timedelta(days=older_than_days)
        ncrs = ncrs.filter(opened_at__lt=before)
        holds = holds.filter(placed_at__lt=before)
    return {
        "nonconformances": list(ncrs.order_by("opened_at", "id")[:LIST_LIMIT]),
        "holds": list(holds.order_by("placed_at", "id")[:LIST_LIMIT]),
    }


def nonconformance_events(*, nonconformance: Nonconformance) -> list[Event]:
    """The NCR's audit trail, oldest first."""
    return list(
        Event.objects.filter(object_type="nonconformance", object_key=nonconformance_key(nonconformance)).select_related("actor").order_by("occurred_at", "id")
    )


def defect_codes() -> list[tuple[str, str]]:
    """The reason codes of kind ``defect`` as (code, "code name"), for a disposition form."""
    return [(code, f"{code} {name}") for code, name in ReasonCode.objects.filter(kind=ReasonCode.Kind.DEFECT).order_by("code").values_list("code", "name")]
