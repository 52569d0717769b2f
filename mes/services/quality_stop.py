"""Quality stop: an operation turning out too many bad pieces is stopped until quality releases it.

The window is the operation's last ``MES_QUALITY_STOP_WINDOW`` pieces: its newest reports (good +
scrap, not reversed, not the bookings of a disposition), taken whole, until they hold that many
pieces (all of them while they hold fewer). Bad are the scrap of those reports plus the failing
inspection results recorded since the oldest of them (a failed piece is counted once: the scrap a
disposition books for it is not counted again). Only what happened after the operation's last
quality stop was released counts. When bad is more than ``MES_QUALITY_STOP_THRESHOLD``, in the
transaction of the report or result that tipped it:

- a hold of cause ``quality_stop`` is placed on the operation (reports refused: ``quality_hold``),
- the operation pauses (reason ``quality_stop``) if it was running,
- an NCR of source ``quality_stop`` opens (its quantity the bad pieces counted; it holds no
  pieces: they are on their own NCRs or scrapped already).

Only quality (``quality_stop.release``) releases it (``hold_release``): the NCR closes with the
release's reason and the operation resumes if the stop paused it. All of it is audited; the board,
the station and the andon watch show it while the hold is active.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import translation
from django.utils.translation import gettext as _

from common.formatting import plain
from mes.models import Confirmation, Hold, InspectionResult, Nonconformance, NonconformanceDisposition, Status, WorkOrder, WorkOrderOperation
from mes.services.audit import event_record
from mes.services.transitions import operation_transition_locked

QUALITY_STOP = "quality_stop"
ZERO = Decimal(0)


def quality_stop_window(*, operation: WorkOrderOperation) -> tuple[Decimal, Decimal]:
    """(bad, pieces) of the operation's window, as the module says (three queries)."""
    released = Hold.objects.filter(operation=operation, cause=Hold.Cause.QUALITY_STOP).aggregate(last=Max("released_at"))["last"]
    reports = Confirmation.objects.filter(operation=operation, kind=Confirmation.Kind.CONFIRMATION, reversed_by__isnull=True).exclude(
        pk__in=NonconformanceDisposition.objects.filter(nonconformance__operation=operation, confirmation__isnull=False).values("confirmation_id")
    )
    failed = InspectionResult.objects.filter(operation=operation, passed=False)
    if released is not None:
        reports, failed = reports.filter(recorded_at__gt=released), failed.filter(recorded_at__gt=released)
    pieces = scrap = ZERO
    since = None
    for good, scrapped, recorded_at in reports.order_by("-recorded_at", "-id").values_list("good_qty", "scrap_qty", "recorded_at").iterator():
        if pieces >= settings.MES_QUALITY_STOP_WINDOW:
            break
        pieces += good + scrapped
        scrap += scrapped
        since = recorded_at
    if pieces >= settings.MES_QUALITY_STOP_WINDOW and since is not None:
        failed = failed.filter(recorded_at__gte=since)
    bad = scrap + sum((quantity for quantity in failed.values_list("quantity", flat=True)), ZERO)
    return bad, pieces


def quality_stop_check(*, work_order: WorkOrder, operation_id: int, actor: Any = None, actor_label: str = "") -> Hold | None:
    """Stop the operation if its window has too many bad pieces; None when it goes on (or is stopped already).
    Call in the transaction of the report or result, holding the order's lock."""
    if Hold.objects.filter(operation_id=operation_id, cause=Hold.Cause.QUALITY_STOP, state=Hold.State.ACTIVE).exists():
        return None
    operation = WorkOrderOperation.objects.get(pk=operation_id)
    bad, pieces = quality_stop_window(operation=operation)
    if bad <= settings.MES_QUALITY_STOP_THRESHOLD:
        return None
    return _stop(work_order, operation, bad, pieces, actor, actor_label)


def _stop(work_order: WorkOrder, operation: WorkOrderOperation, bad: Decimal, pieces: Decimal, actor: Any, actor_label: str) -> Hold:
    from mes.services.holds import hold_flags_sync, hold_target  # holds releases a stop: it imports this module

    user = actor if getattr(actor, "is_authenticated", False) else None
    words = {
        "bad": plain(quantity=bad), "pieces": plain(quantity=pieces), "window": settings.MES_QUALITY_STOP_WINDOW,
        "threshold": settings.MES_QUALITY_STOP_THRESHOLD, "sequence": operation.sequence,
    }
    with translation.override(settings.LANGUAGE_CODE):  # kept in the plant's language, whoever tipped it
        reason = _(
            "Quality stop: %(bad)s failed or scrapped among the last %(pieces)s pieces of operation %(sequence)04d "
            "(more than %(threshold)s in %(window)s)."
        ) % words
    hold = Hold.objects.create(work_order=work_order, operation=operation, cause=Hold.Cause.QUALITY_STOP, reason=reason[:500], placed_by=user)
    hold_flags_sync(work_order=work_order)
    event_record(
        object_type="hold", object_key=str(hold.pk), action="place", actor=actor, actor_label=actor_label, work_order=work_order,
        after={"target": hold_target(hold), "state": hold.state, "cause": QUALITY_STOP, "bad": plain(quantity=bad), "pieces": plain(quantity=pieces)},
        reason=hold.reason,
    )
    nonconformance = Nonconformance.objects.create(
        source=Nonconformance.Source.QUALITY_STOP, work_order=work_order, operation=operation, quantity=bad, description=reason[:1000],
        quality_stop=hold, opened_by=user,
    )
    event_record(
        object_type="nonconformance", object_key=str(nonconformance.pk), action="open", actor=actor, actor_label=actor_label,
        work_order=work_order,
        after={
            "state": nonconformance.state, "source": nonconformance.source, "operation": operation.sequence,
            "quantity": plain(quantity=bad), "hold": hold.pk,
        },
        reason=reason,
    )
    if operation.status == Status.IN_PROGRESS:
        operation_transition_locked(operation=operation, work_order=work_order, action="pause", actor=actor, actor_label=actor_label, reason=QUALITY_STOP)
    return hold


def quality_stop_released(*, hold: Hold, work_order: WorkOrder, actor: Any = None) -> None:
    """After ``hold_release`` of a quality stop, in its transaction: close its NCR with the release's
    reason and resume the operation if the stop paused it."""
    from django.utils import timezone

    nonconformance = Nonconformance.objects.filter(quality_stop=hold).first()
    if nonconformance is not None and nonconformance.state != Nonconformance.State.CLOSED:
        before = nonconformance.state
        nonconformance.state = Nonconformance.State.CLOSED
        nonconformance.closed_at = timezone.now()
        nonconformance.closed_by = actor if getattr(actor, "is_authenticated", False) else None
        nonconformance.save(update_fields=["state", "closed_at", "closed_by"])
        event_record(
            object_type="nonconformance", object_key=str(nonconformance.pk), action="close", actor=actor, work_order=work_order,
            before={"state": before}, after={"state": nonconformance.state, "hold": hold.pk}, reason=hold.release_reason,
        )
    operation = WorkOrderOperation.objects.get(pk=hold.operation_id)
    if operation.status == Status.PAUSED:
        operation_transition_locked(operation=operation, work_order=work_order, action="resume", actor=actor, reason=hold.release_reason)
