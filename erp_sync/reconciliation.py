"""Reconciliation: compare what the MES holds with what the ERP holds, per order and operation.

What the ERP *should* hold for an order is worked out from the order's outbox messages, so a
message still on its way is never taken for a drift:

- a **settled** confirmation (acknowledged, or discarded by a person) must be in the ERP,
  unless a settled reversal takes it back, in which case it must not be;
- a confirmation or reversal **not settled yet** (queued, sending, retrying, dead) may or may
  not have reached the ERP: whatever the ERP holds of it right now is accepted, and counted.

A discarded confirmation therefore shows up as missing in the ERP (the MES still counts it;
the ERP never got it), and a discarded reversal as extra in the ERP (the MES took the
confirmation back; the ERP still holds it). Dead messages are on the dead-letter list and
are left to replay or discard there.

Kinds of drift, one open row each while it lasts (see ``Drift``):

``missing_in_erp``
    our key should be in the ERP and is not. Repair: send the message again, after a look-up
    by our key, so it is booked only if the ERP still lacks it.
``extra_in_erp``
    the ERP holds a key it should not: unknown to the MES (booked there by hand or by another
    system), taken back in the MES, or held more than once. Repair: queue a reversal of that
    posting in the outbox, which the dispatcher delivers like every other ERP write (not for
    duplicates, nor for generic REST connections).
``quantity_drift``
    an operation's quantities differ by more than the key differences explain, e.g. a posting
    changed in the ERP by hand or booked there without our key. Not repaired automatically.
``material_drift``
    the net quantity of an item issued to the order, or received from it, differs between the
    MES's posted material movements and what the ERP holds (``Connector.goods_totals``: SAP's
    material document items of the order's confirmations that stand, ERPNext's submitted Stock
    Entries, Odoo's move lines on the order's moves, Kingdee's pick and in-stock bills, U8's materialout vouchers and
    the productin rows with a batch). Checked only for orders with movements (or
    such a drift open), and only while none of the order's goods messages is on its way;
    connectors that cannot read goods (REST) are not checked. Not repaired automatically.

A goods message that the ERP books as a posting of its own under our key (SAP: a scanned issue
is a confirmation with zero quantities) may be held like a confirmation, and is never required.

Writes go through ``reconcile`` (the schedule and the command, in their own worker or process),
``reconciliation_run_queue`` with ``reconciliation_run_execute`` (a run asked for on the page,
done by a worker) and ``drift_repair``; reads through ``drift_list`` and
``reconciliation_run_latest``. Network calls are made by workers, with no database lock held;
no repair calls the ERP itself.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from celery import current_app
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from kombu.exceptions import OperationalError

from common.errors import DomainError, ErrorKind
from erp_sync.connectors.base import ErpTotals, FailureKind, GoodsTotals, PostResult, decimal_or_zero
from erp_sync.connectors.registry import connector_for
from erp_sync.models import Drift, ErpConnection, OutboxMessage, ReconciliationRun
from erp_sync.outbox import outbox_add, wake_sender_after_commit
from erp_sync.transitions import message_transition
from mes.models import MaterialMovement, WorkOrder
from mes.services.audit import event_record

logger = logging.getLogger(__name__)

State = OutboxMessage.State
Kind = Drift.Kind
SETTLED = frozenset({State.ACKNOWLEDGED, State.DISCARDED})
#: After this many orders in a row that a connection's ERP could not answer, its other orders are skipped.
GIVE_UP_AFTER_FAILURES = 3
#: Differences below this are rounding (the MES keeps 3 decimals; ERPs answer floats).
TOLERANCE = Decimal("0.0005")
#: The task that does a queued run (``erp_sync.tasks.reconcile``), sent by name.
RECONCILE_TASK = "erp_sync.reconcile"
#: Connectors that cannot cancel a posting the MES holds no message for.
CANNOT_CANCEL_UNKNOWN = frozenset({ErpConnection.Kind.REST})
#: Messages the ERP may hold under their own key, with the quantities of their payload.
POSTINGS = frozenset({OutboxMessage.Kind.CONFIRMATION, OutboxMessage.Kind.GOODS_ISSUE, OutboxMessage.Kind.GOODS_RECEIPT})
#: Messages that move material, and whose being on the way holds back the materials check.
GOODS = frozenset({
    OutboxMessage.Kind.GOODS_ISSUE, OutboxMessage.Kind.GOODS_RECEIPT,
    OutboxMessage.Kind.GOODS_ISSUE_REVERSAL, OutboxMessage.Kind.GOODS_RECEIPT_REVERSAL,
})


# --- comparing (no database, no network) ---------------------------------------------------


@dataclass(frozen=True)
class Quantities:
    good: Decimal = Decimal(0)
    scrap: Decimal = Decimal(0)
    rework: Decimal = Decimal(0)

    def __add__(self, other: Quantities) -> Quantities:
        return Quantities(self.good + other.good, self.scrap + other.scrap, self.rework + other.rework)

    def __sub__(self, other: Quantities) -> Quantities:
        return Quantities(self.good - other.good, self.scrap - other.scrap, self.rework - other.rework)

    def times(self, factor: int) -> Quantities:
        return Quantities(self.good * factor, self.scrap * factor, self.rework * factor)

    def is_zero(self, *, with_rework: bool) -> bool:
        values = (self.good, self.scrap, self.rework) if with_rework else (self.good, self.scrap)
        return all(abs(value) < TOLERANCE for value in values)

    @classmethod
    def of_payload(cls, payload: dict[str, Any]) -> Quantities:
        return cls(*(decimal_or_zero(payload.get(name)) for name in ("good_qty", "scrap_qty", "rework_qty")))


@dataclass(frozen=True)
class MessageFacts:
    """What reconciliation needs of one outbox message."""

    id: int
    key: str  # lower case, as the ERP's keys are compared
    kind: str
    state: str
    sequence: int
    operation: int
    quantities: Quantities
    reverses_key: str | None = None

    @classmethod
    def of(cls, row: dict[str, Any], *, state: str | None = None) -> MessageFacts:
        payload = row["payload"] or {}
        reverses = (payload.get("reverses") or {}).get("idempotency_key")
        return cls(
            id=row["id"],
            key=str(row["idempotency_key"]).lower(),
            kind=row["kind"],
            state=state or row["state"],
            sequence=row["sequence"],
            operation=_operation(payload.get("operation")),
            quantities=Quantities.of_payload(payload),
            reverses_key=str(reverses).lower() if reverses else None,
        )


@dataclass(frozen=True)
class FoundDrift:
    kind: str
    operation: int
    key: str
    message_id: int | None
    mes: Quantities
    erp: Quantities
    detail: dict[str, Any] = field(default_factory=dict)


def compare(messages: Iterable[MessageFacts], totals: Iterable[ErpTotals], *, tracks_rework: bool = True) -> list[FoundDrift]:
    """The drifts between an order's messages and what its ERP reports, in a stable order."""
    messages = list(messages)
    by_key = {message.key: message for message in messages}
    reversal_of = {message.reverses_key: message for message in messages if message.kind.endswith("reversal") and message.reverses_key}

    erp_by_operation: dict[int, Quantities] = defaultdict(Quantities)
    held: Counter[str] = Counter()  # by key in lower case, as keys are compared
    held_at: dict[str, int] = {}
    spelled: dict[str, str] = {}  # the ERP's own spelling, to find the posting there again
    for entry in totals:
        erp_by_operation[entry.operation] += Quantities(entry.good_qty, entry.scrap_qty, entry.rework_qty)
        for posting in entry.postings:
            key = str(posting).lower()
            held[key] += 1
            held_at.setdefault(key, entry.operation)
            spelled.setdefault(key, str(posting))

    expected: dict[str, MessageFacts] = {}  # what the ERP may hold, and is counted as the MES's side
    required: set[str] = set()  # what the ERP must hold
    for message in messages:
        if message.kind not in POSTINGS:
            continue
        reversal = reversal_of.get(message.key)
        if message.kind != "confirmation":
            if held[message.key] and not (reversal is not None and reversal.state in SETTLED):
                expected[message.key] = message  # goods the ERP books under our key: allowed, never required
            continue
        if message.state in SETTLED and reversal is None:
            expected[message.key] = message
            required.add(message.key)
        elif message.state in SETTLED and reversal.state in SETTLED:
            continue  # taken back in the MES: the ERP must not hold it
        elif held[message.key]:
            expected[message.key] = message  # on its way (or its reversal is): as the ERP holds it now

    mes_by_operation: dict[int, Quantities] = defaultdict(Quantities)
    for message in expected.values():
        mes_by_operation[message.operation] += message.quantities

    found: list[tuple[str, int, str, int | None, dict[str, Any]]] = []
    explained: dict[int, Quantities] = defaultdict(Quantities)  # ERP minus MES that key drifts account for
    unexplained: set[int] = set()  # operations with extra postings of unknown quantity
    for key in sorted(required, key=lambda k: (expected[k].sequence, k)):
        if held[key]:
            continue
        message = expected[key]
        explained[message.operation] -= message.quantities
        found.append((Kind.MISSING_IN_ERP, message.operation, key, message.id, {"mes_state": message.state, "sequence": message.sequence}))
    for key in sorted(held):
        allowed = 1 if key in expected else 0
        excess = held[key] - allowed
        if excess <= 0:
            continue
        operation = held_at[key]
        message = by_key.get(key)
        if message is None or message.kind not in POSTINGS:
            cause = "unknown_to_mes" if message is None else "reversal_key_booked"
            unexplained.add(operation)
        else:
            cause = "duplicate" if allowed else "reversed_in_mes"
            explained[operation] += message.quantities.times(excess)
        detail = {"cause": cause, "copies": held[key], "mes_state": message.state if message else None}
        if message is not None:
            detail["sequence"] = message.sequence
        found.append((Kind.EXTRA_IN_ERP, operation, spelled[key], message.id if message else None, detail))
    for operation in sorted(set(mes_by_operation) | set(erp_by_operation)):
        if operation in unexplained:
            continue  # the extra postings' quantities are unknown; once they are cancelled, the next run tells
        residual = erp_by_operation[operation] - mes_by_operation[operation] - explained[operation]
        if not residual.is_zero(with_rework=tracks_rework):
            difference = {"good": _plain(residual.good), "scrap": _plain(residual.scrap)}
            if tracks_rework:
                difference["rework"] = _plain(residual.rework)
            found.append((Kind.QUANTITY_DRIFT, operation, "", None, {"unexplained_difference": difference}))
    return [
        FoundDrift(kind, operation, key, message_id, mes_by_operation[operation], erp_by_operation[operation], detail)
        for kind, operation, key, message_id, detail in found
    ]


def compare_materials(mes: dict[str, tuple[Decimal, Decimal]], erp: Iterable[GoodsTotals]) -> list[FoundDrift]:
    """The items whose net issued or received quantity differs between the MES (item → (issued,
    received)) and the ERP, one ``material_drift`` each (operation 0, key = the item code)."""
    erp_by_item: dict[str, tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
    for entry in erp:
        issued, received = erp_by_item[entry.item]
        erp_by_item[entry.item] = (issued + entry.issued_qty, received + entry.received_qty)
    found = []
    for item in sorted(set(mes) | set(erp_by_item)):
        ours, theirs = mes.get(item, (Decimal(0), Decimal(0))), erp_by_item[item]
        if all(abs(a - b) < TOLERANCE for a, b in zip(ours, theirs, strict=True)):
            continue
        detail = {
            "item": item,
            "issued": {"mes": _plain(ours[0]), "erp": _plain(theirs[0])},
            "received": {"mes": _plain(ours[1]), "erp": _plain(theirs[1])},
        }
        found.append(FoundDrift(Kind.MATERIAL_DRIFT, 0, item, None, Quantities(*ours), Quantities(*theirs), detail))
    return found


def _mes_materials(order: str) -> dict[str, tuple[Decimal, Decimal]]:
    """The order's posted movements, net of reversals, per item: (issued, received)."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    rows = (
        MaterialMovement.objects.filter(
            work_order__number=order, state=MaterialMovement.State.POSTED, kind__in=(MaterialMovement.Kind.ISSUE, MaterialMovement.Kind.RECEIPT)
        )
        .values("item__code", "kind")
        .annotate(total=Sum("quantity"))
    )
    for row in rows:
        sums[row["item__code"]][0 if row["kind"] == MaterialMovement.Kind.ISSUE else 1] += row["total"] or Decimal(0)
    return {item: (issued, received) for item, (issued, received) in sums.items()}


def _materials(connector: Any, order: str, name: str, messages: list[MessageFacts]) -> list[FoundDrift] | None:
    """The order's material drifts, or None when they are not checked this time: the connector cannot
    read goods, the order moved no material (and has no such drift open), goods are on their way,
    or the ERP could not answer (then ``PostResult``'s error is in the log, and the drifts stay as they were)."""
    on_the_way = any(message.kind in GOODS and message.state not in SETTLED for message in messages)
    moved = MaterialMovement.objects.filter(work_order__number=order).exists()
    if on_the_way or not (moved or Drift.objects.filter(work_order=order, connection=name, kind=Kind.MATERIAL_DRIFT, status=Drift.Status.OPEN).exists()):
        return None
    totals = connector.goods_totals(order)
    if totals is None:
        return None
    if isinstance(totals, PostResult):
        logger.warning("Materials of %s not reconciled via %s: %s", order, name, totals.error)
        return None
    return compare_materials(_mes_materials(order), totals)


# --- reconciling (database and network) ----------------------------------------------------


@dataclass
class _Tally:
    checked: int = 0
    failed: int = 0
    open: int = 0
    new: int = 0
    resolved: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    failures_in_a_row: Counter[str] = field(default_factory=Counter)


def reconcile(
    *,
    work_order: str | None = None,
    connection: str | None = None,
    actor: Any = None,
    trigger: str = ReconciliationRun.Trigger.MANUAL,
) -> ReconciliationRun:
    """Ask each order's ERP for its totals, record every drift found, close those gone. Returns the run.

    Without ``work_order``, every order with a settled message (or an open drift) is checked;
    a ``work_order`` the MES does not know is refused (``unknown_work_order``) and nothing is
    run. Safe to run twice, and alongside the dispatcher. An order the ERP cannot answer for is
    listed in ``run.failures`` (see ``failure_text``) and its drifts are left as they were.
    Calls the ERP: for workers and commands, not web requests (see ``reconciliation_run_queue``).
    """
    _require_known_order(work_order)
    run = ReconciliationRun.objects.create(
        trigger=trigger,
        state=ReconciliationRun.State.RUNNING,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        scope_work_order=work_order or "",
        scope_connection=connection or "",
    )
    return _run_checks(run)


def reconciliation_run_queue(*, work_order: str | None = None, actor: Any = None) -> ReconciliationRun:
    """A run asked for by a person, for a worker to do: recorded as waiting, sent to the worker once committed.

    Refuses a ``work_order`` the MES does not know (``unknown_work_order``), queueing nothing.
    A broker that cannot be reached finishes the run at once, saying so (``failure_text``).
    """
    _require_known_order(work_order)
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            trigger=ReconciliationRun.Trigger.MANUAL,
            state=ReconciliationRun.State.QUEUED,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            scope_work_order=work_order or "",
        )
        transaction.on_commit(functools.partial(_run_send_to_worker, run.pk))
    return run


def _run_send_to_worker(run_id: int) -> None:
    try:
        current_app.send_task(RECONCILE_TASK, kwargs={"run_id": run_id}, retry=False)
    except OperationalError as error:
        logger.warning("Reconciliation run %s not queued: %s", run_id, error)
        ReconciliationRun.objects.filter(pk=run_id, state=ReconciliationRun.State.QUEUED).update(
            state=ReconciliationRun.State.FINISHED, finished_at=timezone.now(),
            failures=[{"reason": "no_worker", "error": str(error)[:500]}],
        )


def reconciliation_run_execute(*, run_id: int) -> ReconciliationRun | None:
    """Do a queued run (see ``reconciliation_run_queue``). Safe to run twice: only a run still
    waiting is taken, so a second delivery of the task finds it taken and returns None."""
    taken = ReconciliationRun.objects.filter(pk=run_id, state=ReconciliationRun.State.QUEUED).update(
        state=ReconciliationRun.State.RUNNING
    )
    if not taken:
        return None
    return _run_checks(ReconciliationRun.objects.get(pk=run_id))


def _require_known_order(work_order: str | None) -> None:
    if work_order and not WorkOrder.objects.filter(number=work_order).exists():
        raise DomainError(
            "unknown_work_order",
            _("Work order %(number)s does not exist.") % {"number": work_order},
            kind=ErrorKind.NOT_FOUND,
            fields={"work_order": work_order},
        )


def _run_checks(run: ReconciliationRun) -> ReconciliationRun:
    """Check every order of the run's scope and finish the run with what was found."""
    connections = {row.name: row for row in ErpConnection.objects.all()}
    default = next((row.name for row in connections.values() if row.is_default), "")
    tally = _Tally()
    for order, name in _units(run.scope_work_order or None, default):
        if run.scope_connection and name != run.scope_connection:
            continue
        _reconcile_unit(run, order, name, name == default, connections.get(name), tally)
    run.state = ReconciliationRun.State.FINISHED
    run.finished_at = timezone.now()
    run.orders_checked, run.orders_failed, run.failures = tally.checked, tally.failed, tally.failures
    run.drifts_open, run.drifts_new, run.drifts_resolved = tally.open, tally.new, tally.resolved
    run.save(
        update_fields=[
            "state", "finished_at", "orders_checked", "orders_failed", "failures", "drifts_open", "drifts_new", "drifts_resolved",
        ]
    )
    return run


def _units(work_order: str | None, default: str) -> list[tuple[str, str]]:
    """(order, connection name) pairs to check; a message naming no connection goes to the default one."""
    messages = OutboxMessage.objects.all()
    drifts = Drift.objects.filter(status=Drift.Status.OPEN)
    if work_order:
        messages = messages.filter(partition_key=work_order)
        drifts = drifts.filter(work_order=work_order)
    else:
        messages = messages.filter(state__in=SETTLED)
    units = {(order, destination or default) for order, destination in messages.values_list("partition_key", "destination").distinct()}
    units |= set(drifts.values_list("work_order", "connection").distinct())
    if work_order and not units:
        units = {(work_order, default)}
    return sorted(units)


def _reconcile_unit(
    run: ReconciliationRun, order: str, name: str, is_default: bool, row: ErpConnection | None, tally: _Tally
) -> None:
    def failed(error: str, reason: dict[str, Any]) -> None:
        tally.failed += 1
        tally.failures.append({"work_order": order, "connection": name, "error": error[:500], **reason})

    if row is None:
        if name:
            failed(_("No ERP connection named %(name)s.") % {"name": name}, {"reason": "no_connection"})
        else:
            failed(_("No default ERP connection is configured."), {"reason": "no_default_connection"})
        return
    if not row.is_enabled:
        failed(_("The connection %(name)s is disabled.") % {"name": name}, {"reason": "disabled"})
        return
    if tally.failures_in_a_row[name] >= GIVE_UP_AFTER_FAILURES:
        failed(_("Skipped: the ERP of %(name)s did not answer for the orders before.") % {"name": name}, {"reason": "skipped"})
        return
    if row.unreadable_secrets():
        failed(_("The secret of %(name)s must be re-entered: MES_SECRETS_KEY cannot decrypt it.") % {"name": name})
        return
    connector = connector_for(row.as_config(), row.updated_at.isoformat())
    # The MES first, then the ERP: a message acknowledged in between is then seen as on its
    # way (accepted either way), never as acknowledged-but-missing.
    rows = _message_rows(order, name, is_default)
    totals = connector.totals(order)
    if isinstance(totals, PostResult):
        tally.failures_in_a_row[name] += 1
        failed(totals.error or totals.outcome.value, _failure_reason(totals, row))
        return
    tally.failures_in_a_row[name] = 0
    messages = [MessageFacts.of(message) for message in rows]
    known = {message.key for message in messages}
    unknown = {str(key).lower() for entry in totals for key in entry.postings} - known
    if unknown:
        # Recorded after our first read (and already booked): on its way, whatever its state.
        messages += [MessageFacts.of(message, state=State.SENDING) for message in _message_rows(order, name, is_default, keys=unknown)]
    found = compare(messages, totals, tracks_rework=connector.tracks_rework)
    materials = _materials(connector, order, name, messages)
    unsettled = {message.id for message in messages if message.state not in SETTLED}
    new, resolved, still_open = _record(
        run, order, name, found + (materials or []), unsettled, tracks_rework=connector.tracks_rework,
        unchecked=frozenset() if materials is not None else frozenset({Kind.MATERIAL_DRIFT}),
    )
    tally.checked += 1
    tally.new += new
    tally.resolved += resolved
    tally.open += still_open


#: What kept the ERP from answering, by the kind of failure the connector decided where it caught
#: the error (``connectors.base.FailureKind``), never by the error's wording. An answer with an HTTP
#: status is a refusal quoted with the ERP's message (below); a kind not named here is told in the
#: connector's own words.
_REASON_OF_KIND = {
    FailureKind.UNREACHABLE: "unreachable",  # nothing answers at the address
    FailureKind.TIMEOUT: "timeout",  # no connection within the time-out
    FailureKind.AMBIGUOUS: "timeout",  # reached, and no answer came within the time-out
    FailureKind.REFUSED: "unreadable",  # answered, without a status, with nothing that could be used
}
_ERP_STATUS_PREFIX = re.compile(r"^(?:[\w ]+ )?HTTP \d{3}: ")
_MARKUP = re.compile(r"<[^>]*>")


def _failure_reason(result: PostResult, row: ErpConnection) -> dict[str, Any]:
    """What kept the ERP from answering, as ``failure_text`` words it: the reason and its details."""
    if result.http_status is not None:
        message = _ERP_STATUS_PREFIX.sub("", result.error.removeprefix("look-up failed: "), count=1)
        message = " ".join(_MARKUP.sub(" ", message).split())  # a gateway's HTML error page, as its text
        return {"reason": "refused", "status": result.http_status, "erp_message": message[:300]}
    reason = _REASON_OF_KIND.get(result.failure_kind, "failed")
    return {"reason": reason, "address": urlparse(row.base_url).netloc, "timeout_seconds": row.timeout_seconds}


#: What kept a run from checking an order, by the reason recorded in ``run.failures``.
FAILURE_TEXTS = {
    "unreachable": gettext_lazy("%(order)s: the ERP of connection %(connection)s could not be reached (nothing answers at %(address)s)."),
    "timeout": gettext_lazy("%(order)s: the ERP of connection %(connection)s did not answer within %(seconds)s s."),
    # Recorded by runs before failures had kinds; a dropped connection is now a "timeout".
    "no_answer": gettext_lazy("%(order)s: the ERP of connection %(connection)s closed the connection without answering."),
    "refused": gettext_lazy("%(order)s: the ERP of connection %(connection)s refused the request (HTTP %(status)s): %(message)s"),
    "unreadable": gettext_lazy("%(order)s: the ERP of connection %(connection)s answered something that could not be read."),
    "no_connection": gettext_lazy("%(order)s: there is no ERP connection named %(connection)s."),
    "no_default_connection": gettext_lazy("%(order)s: no default ERP connection is configured."),
    "disabled": gettext_lazy("%(order)s: the connection %(connection)s is disabled."),
    "no_worker": gettext_lazy("Could not reach a worker (%(error)s); try again, or wait for the scheduled run."),
    "skipped": gettext_lazy("%(order)s: skipped, since the ERP of %(connection)s did not answer for the orders before."),
}
#: A failure the connector described itself, or one recorded before runs named reasons.
FAILURE_TEXT_OTHERWISE = gettext_lazy("%(order)s: the ERP of connection %(connection)s could not be asked: %(error)s")


def failure_text(failure: dict[str, Any]) -> str:
    """One order a run could not check, in the reader's language; never a raw exception."""
    values = {
        "order": failure.get("work_order", ""),
        "connection": failure.get("connection") or "—",
        "address": failure.get("address", ""),
        "seconds": failure.get("timeout_seconds", ""),
        "status": failure.get("status", ""),
        "message": failure.get("erp_message") or _("no message"),
        "error": failure.get("error", ""),
    }
    return str(FAILURE_TEXTS.get(failure.get("reason"), FAILURE_TEXT_OTHERWISE)) % values


def _message_rows(order: str, connection: str, is_default: bool, *, keys: set[str] | None = None) -> list[dict[str, Any]]:
    """The order's messages that go through ``connection`` (those naming none go to the default)."""
    destinations = ["", connection] if is_default else [connection]
    messages = OutboxMessage.objects.filter(partition_key=order, destination__in=destinations)
    if keys is not None:
        valid = [key for key in keys if _is_uuid(key)]
        if not valid:
            return []
        messages = messages.filter(idempotency_key__in=valid)
    return list(messages.order_by("sequence").values("id", "idempotency_key", "kind", "state", "sequence", "payload"))


@transaction.atomic
def _record(
    run: ReconciliationRun, order: str, connection: str, found: list[FoundDrift], unsettled: set[int], *, tracks_rework: bool,
    unchecked: frozenset[str] = frozenset(),
) -> tuple[int, int, int]:
    """Write what one order's check found: new drifts, drifts still there, drifts gone (except those of
    the ``unchecked`` kinds, which stay as they were). Returns (new, resolved, open)."""
    now = timezone.now()
    open_drifts = {
        (drift.operation, drift.kind, drift.key): drift
        for drift in Drift.objects.select_for_update()
        .filter(work_order=order, connection=connection, status=Drift.Status.OPEN)
        .exclude(kind__in=unchecked)
    }
    new = 0
    for item in found:
        values = {
            "message_id": item.message_id,
            "mes_good_qty": item.mes.good,
            "mes_scrap_qty": item.mes.scrap,
            "mes_rework_qty": item.mes.rework,
            "erp_good_qty": item.erp.good,
            "erp_scrap_qty": item.erp.scrap,
            "erp_rework_qty": item.erp.rework if tracks_rework and item.kind != Kind.MATERIAL_DRIFT else None,
            "detail": item.detail,
            "last_run": run,
            "last_seen_at": now,
        }
        drift = open_drifts.pop((item.operation, item.kind, item.key), None)
        if drift is None:
            drift, created = Drift.objects.get_or_create(
                connection=connection, work_order=order, operation=item.operation, kind=item.kind, key=item.key,
                status=Drift.Status.OPEN, defaults={**values, "first_run": run, "found_at": now},
            )
            if created:
                new += 1
                continue
        for name, value in values.items():
            setattr(drift, name, value)
        drift.save(update_fields=list(values))
    kept = resolved = 0
    for drift in open_drifts.values():
        if drift.kind == Kind.MISSING_IN_ERP and drift.message_id in unsettled:
            # Sent again and still on its way: it is resolved once the ERP holds it, not before.
            drift.last_run, drift.last_seen_at = run, now
            drift.save(update_fields=["last_run", "last_seen_at"])
            kept += 1
            continue
        drift.status, drift.resolved_at, drift.last_run = Drift.Status.RESOLVED, now, run
        drift.save(update_fields=["status", "resolved_at", "last_run"])
        resolved += 1
    return new, resolved, len(found) + kept


# --- repairing -----------------------------------------------------------------------------


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Say why: a reason is required."), fields={"reason": "required"})
    return reason[:500]


def repair_refusal(drift: Drift, connection: ErpConnection | None, message_state: str | None) -> DomainError | None:
    """Why this drift cannot be repaired from the MES, or None when it can. Reads nothing."""
    if drift.status != Drift.Status.OPEN:
        return DomainError("drift_resolved", _("This drift is resolved already."), kind=ErrorKind.CONFLICT)
    if drift.kind == Kind.MATERIAL_DRIFT:
        return DomainError(
            "drift_needs_person",
            _(
                "The MES and the ERP do not hold the same goods movements of %(item)s for %(order)s (MES issued %(mes_issued)s, "
                "received %(mes_received)s; ERP issued %(erp_issued)s, received %(erp_received)s): a movement was booked, changed "
                "or cancelled in the ERP by hand, or a goods message was discarded. Correct it in the ERP, or in the MES with an "
                "issue or a reversal. The next reconciliation closes this drift once they agree."
            )
            % {
                "item": drift.key, "order": drift.work_order,
                "mes_issued": _plain(drift.mes_good_qty), "mes_received": _plain(drift.mes_scrap_qty),
                "erp_issued": _plain(drift.erp_good_qty), "erp_received": _plain(drift.erp_scrap_qty),
            },
            kind=ErrorKind.CONFLICT,
        )
    if drift.kind == Kind.QUANTITY_DRIFT:
        return DomainError(
            "drift_needs_person",
            _(
                "The MES and the ERP hold the same postings for operation %(operation)04d of %(order)s but not the same "
                "quantities (MES good %(mes_good)s, scrap %(mes_scrap)s; ERP good %(erp_good)s, scrap %(erp_scrap)s): a "
                "posting was changed in the ERP by hand or booked there without our key. Nothing can be resent or "
                "cancelled automatically; correct it in the ERP, or in the MES with a confirmation or reversal. The next "
                "reconciliation closes this drift once the totals agree."
            )
            % {
                "operation": drift.operation, "order": drift.work_order,
                "mes_good": _plain(drift.mes_good_qty), "mes_scrap": _plain(drift.mes_scrap_qty),
                "erp_good": _plain(drift.erp_good_qty), "erp_scrap": _plain(drift.erp_scrap_qty),
            },
            kind=ErrorKind.CONFLICT,
        )
    if drift.kind == Kind.MISSING_IN_ERP:
        if drift.message_id is None or message_state is None:
            return DomainError("message_gone", _("The MES message of this drift no longer exists."), kind=ErrorKind.CONFLICT)
        if message_state == State.DEAD:
            return DomainError(
                "message_dead", _("The message is on the dead-letter list: replay it there, with the cause fixed."), kind=ErrorKind.CONFLICT
            )
        if message_state not in SETTLED:
            return DomainError(
                "message_on_its_way",
                _("The message is being sent already (%(state)s); the next reconciliation tells whether it arrived.") % {"state": message_state},
                kind=ErrorKind.CONFLICT,
            )
        return None
    if drift.detail.get("cause") == "duplicate":
        return DomainError(
            "duplicate_needs_person",
            _(
                "The ERP holds our posting %(key)s %(copies)s times. The MES cannot tell the ERP which copy to cancel; "
                "cancel every copy except %(document)s in the ERP by hand."
            )
            % {"key": drift.key, "copies": drift.detail.get("copies"), "document": (drift.message.erp_document if drift.message else "") or _("the one the MES acknowledged")},
            kind=ErrorKind.CONFLICT,
        )
    if drift.repair_key is not None and drift.repaired_at is not None:
        return DomainError(
            "cancellation_queued",
            _("A cancellation of %(key)s is in the outbox already; the next reconciliation tells whether the ERP took it.") % {"key": drift.key},
            kind=ErrorKind.CONFLICT,
        )
    if connection is None or not connection.is_enabled:
        return DomainError(
            "connection_unavailable",
            _("The ERP connection %(name)s does not exist or is disabled.") % {"name": drift.connection},
            kind=ErrorKind.CONFLICT,
        )
    if connection.kind in CANNOT_CANCEL_UNKNOWN:
        return DomainError(
            "cannot_cancel",
            _("A generic REST connection cannot cancel a posting by its key; cancel %(key)s in the ERP by hand.") % {"key": drift.key},
            kind=ErrorKind.CONFLICT,
        )
    return None


def drift_repair(*, drift_id: int, reason: str, actor: Any = None, actor_label: str = "") -> Drift:
    """Resend what the ERP is missing, or queue the cancellation of what it holds extra. Audited, with the reason.

    Both go through the outbox and reach the ERP by the dispatcher: a resend puts the message
    back in the queue to be looked up by our key before it is posted; a cancellation is a new
    reversal message with a key of its own, so the ERP cannot cancel twice. The drift stays
    open until a later reconciliation finds the ERP in line. Makes no ERP call itself.
    """
    reason = _require_reason(reason)
    drift = Drift.objects.select_related("message").filter(pk=drift_id).first()
    if drift is None:
        raise DomainError("unknown_drift", _("No drift with id %(id)s.") % {"id": drift_id}, kind=ErrorKind.NOT_FOUND)
    if drift.kind == Kind.EXTRA_IN_ERP:
        return _cancel_extra(drift.pk, reason, actor, actor_label)
    return _resend_missing(drift.pk, reason, actor, actor_label)


def drifts_repair(*, drift_ids: list[int], reason: str, actor: Any = None, actor_label: str = "") -> dict[int, DomainError | None]:
    """Repair each drift in turn (see ``drift_repair``); returns, per drift, None when repaired or why not.

    Not all-or-nothing: each drift is repaired, audited and answered on its own, so one
    refusal leaves the others repaired. A missing reason refuses them all.
    """
    reason = _require_reason(reason)
    outcomes: dict[int, DomainError | None] = {}
    for drift_id in dict.fromkeys(drift_ids):
        try:
            drift_repair(drift_id=drift_id, reason=reason, actor=actor, actor_label=actor_label)
        except DomainError as error:
            outcomes[drift_id] = error
        else:
            outcomes[drift_id] = None
    return outcomes


@transaction.atomic
def _resend_missing(drift_id: int, reason: str, actor: Any, actor_label: str) -> Drift:
    drift = Drift.objects.select_for_update().get(pk=drift_id)
    message = OutboxMessage.objects.select_for_update().filter(pk=drift.message_id).first() if drift.message_id else None
    refusal = repair_refusal(drift, None, message.state if message else None)
    if refusal is not None:
        raise refusal
    before = {"drift": _audit_state(drift), "message": _message_state(message)}
    message_transition(
        message,
        target=State.RETRYING,
        changes={
            "needs_lookup": True, "next_attempt_at": timezone.now(), "acknowledged_at": None, "erp_ref": None,
            "erp_document": "", "claim_token": None, "lease_until": None,
            "last_error": "Reconciliation found this posting missing in the ERP; sent again after a look-up by our key.",
        },
    )
    _mark_repaired(drift, reason, actor, actor_label, _("Sent again: the ERP is asked by our key first and books it only if it still lacks it."))
    after = {"drift": _audit_state(drift), "message": _message_state(message)}
    work_order = WorkOrder.objects.filter(number=drift.work_order).first()
    event_record(
        object_type="erp_drift", object_key=str(drift.pk), action="repair", actor=actor, actor_label=actor_label,
        work_order=work_order, before=before, after=after, reason=reason,
    )
    event_record(
        object_type="outbox_message", object_key=str(message.idempotency_key), action="resend", actor=actor, actor_label=actor_label,
        work_order=work_order, before=before["message"], after=after["message"], reason=reason,
    )
    wake_sender_after_commit()
    return drift


@transaction.atomic
def _cancel_extra(drift_id: int, reason: str, actor: Any, actor_label: str) -> Drift:
    """Queue a reversal of the ERP's posting under ``drift.key`` in the outbox, like every other ERP write.

    The dispatcher delivers it in the order's sequence, retries and dead-letters it as any
    message; the drift stays open until a later reconciliation finds the posting gone.
    """
    drift = Drift.objects.select_for_update(of=("self",)).select_related("message").get(pk=drift_id)
    connection = ErpConnection.objects.filter(name=drift.connection).first()
    refusal = repair_refusal(drift, connection, drift.message.state if drift.message else None)
    if refusal is not None:
        raise refusal
    # The outbox numbers an order's messages under the order's lock.
    WorkOrder.objects.select_for_update().filter(number=drift.work_order).first()
    before = _audit_state(drift)
    # A key given before (by a cancellation that once went to the ERP directly) is kept: the ERP cancels once.
    drift.repair_key = drift.repair_key or uuid.uuid4()
    message = outbox_add(
        kind=OutboxMessage.Kind.REVERSAL, partition_key=drift.work_order, source_uuid=drift.repair_key,
        idempotency_key=drift.repair_key, payload=_cancellation(drift),
    )
    if not connection.is_default:
        message.destination = connection.name
        OutboxMessage.objects.filter(pk=message.pk).update(destination=connection.name)
    drift.save(update_fields=["repair_key"])
    _mark_repaired(
        drift, reason, actor, actor_label,
        _("Cancellation queued: message #%(sequence)s asks the ERP to reverse %(key)s; the next reconciliation closes this drift once the ERP no longer holds it.")
        % {"sequence": message.sequence, "key": drift.key},
    )
    event_record(
        object_type="erp_drift", object_key=str(drift.pk), action="repair", actor=actor, actor_label=actor_label,
        work_order=WorkOrder.objects.filter(number=drift.work_order).first(), before=before,
        after={**_audit_state(drift), "cancellation": {"idempotency_key": str(message.idempotency_key), "sequence": message.sequence}},
        reason=reason,
    )
    return drift


def _cancellation(drift: Drift) -> dict[str, Any]:
    """The payload of a reversal of the ERP's posting under ``drift.key``, found there by that key."""
    return {
        "type": "reversal",
        "work_order": drift.work_order,
        "operation": drift.operation,
        "reverses": {"idempotency_key": drift.key},
        "note": "reconciliation: extra posting in the ERP",
    }


def _mark_repaired(drift: Drift, reason: str, actor: Any, actor_label: str, result: str) -> None:
    user = actor if getattr(actor, "is_authenticated", False) else None
    drift.repaired_at = timezone.now()
    drift.repaired_by = user
    drift.repaired_by_label = actor_label or (user.get_username() if user else "")
    drift.repair_reason = reason
    drift.repair_result = result
    drift.save(update_fields=["repaired_at", "repaired_by", "repaired_by_label", "repair_reason", "repair_result"])


def _audit_state(drift: Drift) -> dict[str, Any]:
    return {
        "kind": drift.kind,
        "status": drift.status,
        "work_order": drift.work_order,
        "operation": drift.operation,
        "posting_key": drift.key,  # named so: a bare "key" is masked as a secret in the trail
        "connection": drift.connection,
        "mes": {"good": str(drift.mes_good_qty), "scrap": str(drift.mes_scrap_qty), "rework": str(drift.mes_rework_qty)},
        "erp": {"good": str(drift.erp_good_qty), "scrap": str(drift.erp_scrap_qty), "rework": None if drift.erp_rework_qty is None else str(drift.erp_rework_qty)},
        "repaired_at": drift.repaired_at.isoformat() if drift.repaired_at else None,
        "repair_result": drift.repair_result,
    }


def _message_state(message: OutboxMessage) -> dict[str, Any]:
    return {
        "state": message.state,
        "needs_lookup": message.needs_lookup,
        "erp_document": message.erp_document,
        "acknowledged_at": message.acknowledged_at.isoformat() if message.acknowledged_at else None,
    }


# --- reading -------------------------------------------------------------------------------

DRIFT_STATUSES = ("open", "resolved", "all")


def drift_list(
    *, status: str = "open", work_order: str | None = None, kind: str | None = None, drift_ids: list[int] | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Drifts as the page and the API show them: order, operation, MES against ERP, when found, repaired by whom (two queries)."""
    drifts = Drift.objects.select_related("message", "repaired_by").order_by("work_order", "operation", "kind", "key", "id")
    if status != "all":
        drifts = drifts.filter(status=status)
    if work_order:
        drifts = drifts.filter(work_order=work_order)
    if kind:
        drifts = drifts.filter(kind=kind)
    if drift_ids is not None:
        drifts = drifts.filter(pk__in=drift_ids)
    rows = list(drifts[:limit])
    connections = {row.name: row for row in ErpConnection.objects.filter(name__in={drift.connection for drift in rows})} if rows else {}
    return [_drift_json(drift, connections.get(drift.connection)) for drift in rows]


def drift_get(drift_id: int) -> dict[str, Any]:
    rows = drift_list(status="all", drift_ids=[drift_id], limit=1)
    if not rows:
        raise DomainError("unknown_drift", _("No drift with id %(id)s.") % {"id": drift_id}, kind=ErrorKind.NOT_FOUND)
    return rows[0]


def drift_counts() -> dict[str, int]:
    """Open drifts by kind, every kind named (one query)."""
    counts = dict(Drift.objects.filter(status=Drift.Status.OPEN).values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    return {kind: counts.get(kind, 0) for kind in Kind.values}


def reconciliation_run_latest() -> dict[str, Any] | None:
    run = ReconciliationRun.objects.order_by("-started_at", "-id").first()
    return None if run is None else run_json(run)


def reconciliation_runs_recent(*, limit: int = 10) -> list[ReconciliationRun]:
    """The latest runs, newest first, with who started them (one query)."""
    return list(ReconciliationRun.objects.select_related("actor").order_by("-started_at", "-id")[:limit])


def run_json(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "state": run.state,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "work_order": run.scope_work_order or None,
        "connection": run.scope_connection or None,
        "orders_checked": run.orders_checked,
        "orders_failed": run.orders_failed,
        "drifts_open": run.drifts_open,
        "drifts_new": run.drifts_new,
        "drifts_resolved": run.drifts_resolved,
        "failures": run.failures,
    }


def _drift_json(drift: Drift, connection: ErpConnection | None) -> dict[str, Any]:
    message = drift.message
    refusal = repair_refusal(drift, connection, message.state if message else None)
    with_rework = drift.erp_rework_qty is not None
    mes = {"good": drift.mes_good_qty, "scrap": drift.mes_scrap_qty, "rework": drift.mes_rework_qty}
    erp = {"good": drift.erp_good_qty, "scrap": drift.erp_scrap_qty, "rework": drift.erp_rework_qty}
    return {
        "id": drift.pk,
        "status": drift.status,
        "kind": drift.kind,
        "kind_label": drift.get_kind_display(),
        "connection": drift.connection,
        "work_order": drift.work_order,
        "operation": drift.operation,
        "key": drift.key or None,
        "message": None if message is None else {
            "id": message.pk, "sequence": message.sequence, "kind": message.kind, "state": message.state,
            "erp_document": message.erp_document or None,
        },
        "mes": mes,
        "erp": erp,
        "difference": {
            "good": drift.erp_good_qty - drift.mes_good_qty,
            "scrap": drift.erp_scrap_qty - drift.mes_scrap_qty,
            "rework": drift.erp_rework_qty - drift.mes_rework_qty if with_rework else None,
        },
        "rework_compared": with_rework,
        "materials": None if drift.kind != Kind.MATERIAL_DRIFT else {
            "item": drift.key,
            "mes": {"issued": drift.mes_good_qty, "received": drift.mes_scrap_qty},
            "erp": {"issued": drift.erp_good_qty, "received": drift.erp_scrap_qty},
        },
        "detail": drift.detail,
        "found_at": drift.found_at,
        "last_seen_at": drift.last_seen_at,
        "resolved_at": drift.resolved_at,
        "repaired_at": drift.repaired_at,
        "repaired_by": drift.repaired_by_label or (drift.repaired_by.get_username() if drift.repaired_by else None),
        "repair_reason": drift.repair_reason or None,
        "repair_result": drift.repair_result or None,
        "repairable": refusal is None,
        "not_repairable_because": None if refusal is None else {"code": refusal.code, "message": refusal.message},
    }


# --- helpers -------------------------------------------------------------------------------


def _operation(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
