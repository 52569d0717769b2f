"""Pulling released production orders from ERPs that do not push them (issue #16).

A connection with the option ``pull_orders`` is read every ``MES_ERP_PULL_INTERVAL`` seconds (the
beat's ``erp_sync.pull_orders_due``) or on demand (``manage.py erp_pull <name>``). Its connector
answers the released orders changed since the connection's high-water mark (``pull_orders``,
plain records); each is applied here, in a transaction of its own, through the very upserts the push
API uses — validated by its serializers, then ``routing_upsert`` and ``bom_upsert`` for the order's
item and ``work_order_upsert`` + release for a new (or still planned) order; for an order released
already only ``work_order_upsert``, whose rules decide a changed quantity (never below what was
reported) and refuse a changed item, while operations stay as released (a difference is recorded).

Each run is a ``PullRun`` (counts, the mark it read from and reached, or why it failed) and each
refusal a ``PullRefusal`` (the ERP's key, the code and message): a refused record never stops the
others. A run that could not read the ERP fails and keeps the mark where it was, so nothing is skipped.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from common.errors import DomainError, ErrorKind
from erp_sync.connectors.base import PostResult, PulledOrder
from erp_sync.connectors.registry import connector_class
from erp_sync.models import ErpConnection, PullRefusal, PullRun
from mes.api.serializers import BomLineSerializer, RoutingOperationSerializer, WorkOrderSerializer
from mes.models import Status, WorkOrder, WorkOrderOperation
from mes.services.master_data import bom_upsert, routing_upsert
from mes.services.work_orders import work_order_transition, work_order_upsert

logger = logging.getLogger(__name__)

KEY_LENGTH = 64


@dataclass
class Refusal:
    code: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


# --- runs ----------------------------------------------------------------------------------


def high_water_mark(*, connection: str) -> str:
    """Where the next pull of ``connection`` reads from: the mark of its latest finished run ("" before any)."""
    latest = (
        PullRun.objects.filter(connection=connection, state=PullRun.State.FINISHED)
        .exclude(high_water_mark="")
        .order_by("-started_at", "-id")
        .values_list("high_water_mark", flat=True)
        .first()
    )
    return latest or ""


def pulling_connections() -> list[str]:
    """The enabled connections with the option ``pull_orders`` on."""
    return [row.name for row in ErpConnection.objects.filter(is_enabled=True).order_by("name") if (row.options or {}).get("pull_orders") is True]


def pull_due(*, connection: str, now: datetime.datetime | None = None) -> bool:
    """Whether ``MES_ERP_PULL_INTERVAL`` has passed since the connection's latest run started (or it has none)."""
    latest = PullRun.objects.filter(connection=connection).order_by("-started_at").values_list("started_at", flat=True).first()
    now = now or timezone.now()
    return latest is None or latest <= now - datetime.timedelta(seconds=settings.MES_ERP_PULL_INTERVAL)


@transaction.atomic
def _run_start(*, connection: str, trigger: str, full: bool, only_if_due: bool) -> PullRun | None:
    """The run about to read ``connection``, or None when ``only_if_due`` and it is not due or another runs.

    The connection's row is locked while deciding, so two workers never pull one connection at once.
    """
    row = ErpConnection.objects.select_for_update().filter(name=connection).first()
    if row is None:
        raise DomainError("unknown_connection", _("No ERP connection named %(name)s.") % {"name": connection}, kind=ErrorKind.NOT_FOUND)
    if (row.options or {}).get("pull_orders") is not True:
        raise DomainError(
            "pull_not_enabled",
            _("Connection %(name)s does not pull orders: set its option pull_orders=true.") % {"name": connection},
            kind=ErrorKind.CONFLICT,
        )
    if not row.is_enabled:
        raise DomainError("connection_disabled", _("Connection %(name)s is disabled.") % {"name": connection}, kind=ErrorKind.CONFLICT)
    now = timezone.now()
    running = PullRun.objects.filter(connection=connection, state=PullRun.State.RUNNING)
    running.filter(started_at__lte=now - PullRun.CUT_OFF_AFTER).update(
        state=PullRun.State.FAILED, finished_at=now, error=_("Cut off: the worker stopped before the run finished.")
    )
    other = running.filter(started_at__gt=now - PullRun.CUT_OFF_AFTER).first()
    if other is not None:
        if only_if_due:
            return None
        raise DomainError(
            "pull_running",
            _("A pull of %(name)s is running since %(started)s; try again when it has finished.")
            % {"name": connection, "started": timezone.localtime(other.started_at).strftime("%Y-%m-%d %H:%M:%S")},
            kind=ErrorKind.CONFLICT,
        )
    if only_if_due and not pull_due(connection=connection, now=now):
        return None
    since = "" if full else high_water_mark(connection=connection)
    return PullRun.objects.create(connection=connection, trigger=trigger, since=since, started_at=now)


def _run_fail(run: PullRun, error: str) -> PullRun:
    run.state, run.finished_at, run.error = PullRun.State.FAILED, timezone.now(), error[:4000]
    run.save(update_fields=["state", "finished_at", "error"])
    return run


@transaction.atomic
def _run_finish(run: PullRun, *, counts: Counter, refusals: list[tuple[str, Refusal]], mark: str) -> PullRun:
    PullRefusal.objects.bulk_create(
        PullRefusal(run=run, erp_key=key[:200], code=refusal.code[:64], message=refusal.message, fields=refusal.fields)
        for key, refusal in refusals
    )
    run.state, run.finished_at, run.high_water_mark = PullRun.State.FINISHED, timezone.now(), mark[:64]
    run.orders_read = counts["read"]
    run.orders_created, run.orders_updated, run.orders_unchanged = counts["created"], counts["updated"], counts["unchanged"]
    run.orders_refused = counts["refused"]
    run.save()
    return run


def order_pull(
    *, connection: str, trigger: str = PullRun.Trigger.COMMAND, full: bool = False, only_if_due: bool = False
) -> PullRun | None:
    """Pull the released orders of ``connection`` changed since its high-water mark (all of them with
    ``full``) and apply each; answers the run, or None when ``only_if_due`` found it not due or running.

    Refuses (``DomainError``) an unknown or disabled connection, one without ``pull_orders``, and one
    already being pulled. No lock or transaction is held while the ERP is read.
    """
    run = _run_start(connection=connection, trigger=trigger, full=full, only_if_due=only_if_due)
    if run is None:
        return None
    try:
        row = ErpConnection.objects.get(name=connection)
        try:
            connector = connector_class(row.kind)(row.as_config())
        except DomainError as error:  # a secret to re-enter: nothing can be read
            return _run_fail(run, error.message)
        try:
            answer = connector.pull_orders(run.since)
        finally:
            connector.close()
        if isinstance(answer, PostResult):
            return _run_fail(run, answer.error or _("The ERP could not be read."))
        counts: Counter = Counter()
        refusals: list[tuple[str, Refusal]] = []
        for order in answer.orders:
            counts["read"] += 1
            outcome, problems = _apply(order, connection=connection)
            if outcome:
                counts[outcome] += 1
            if problems:
                counts["refused"] += 1
                refusals += [(order.key or "—", problem) for problem in problems]
        return _run_finish(run, counts=counts, refusals=refusals, mark=answer.high_water_mark)
    except BaseException as error:
        # Recorded as failed before it goes up: a run is never left running by a bug.
        _run_fail(run, f"{type(error).__name__}: {error}")
        raise


# --- applying one record -------------------------------------------------------------------


def _apply(order: PulledOrder, *, connection: str) -> tuple[str, list[Refusal]]:
    """Apply one record in a transaction of its own: its outcome ("created", "updated", "unchanged"; ""
    when refused as a whole) and what was refused of it."""
    try:
        with transaction.atomic():
            return _apply_record(order, connection=connection)
    except DomainError as error:
        return "", [Refusal(error.code, error.message, error.fields)]


def _apply_record(order: PulledOrder, *, connection: str) -> tuple[str, list[Refusal]]:
    number = _number(order.key)
    data = _valid(WorkOrderSerializer, order.work_order, "")
    operations = _valid(RoutingOperationSerializer, order.operations, "operations", many=True) if order.operations else None
    components = _components(order.components, quantity=data["quantity"]) if order.components else None
    status = WorkOrder.objects.filter(number=number).values_list("status", flat=True).first()
    if status in (None, Status.PLANNED):
        if operations:
            routing_upsert(item_code=data["item"], operations=operations)
        if components:
            bom_upsert(item_code=data["item"], version=bom_version(connection), valid_from=timezone.localdate(), lines=components)
        result = work_order_upsert(number=number, **data)
        _work_order, released = work_order_transition(
            number=number, action="release", actor_label=f"ERP {connection}"[:150], reason=_("Released in the ERP; pulled by the MES.")
        )
        outcome = "created" if result.created else ("updated" if result.changed or released else "unchanged")
        return outcome, []
    # Released (or further): the upsert's rules decide what may still change.
    result = work_order_upsert(number=number, **data)
    refusals = []
    if operations and _operations_differ(number, operations):
        refusals.append(
            Refusal(
                "operations_locked_after_release",
                _("Work order %(number)s is %(status)s: its operations stay as released; the ERP's changed operations were not applied.")
                % {"number": number, "status": Status(status).label},
                {"operations": "kept as released"},
            )
        )
    return ("updated" if result.changed else "unchanged"), refusals


def bom_version(connection: str) -> str:
    """The BOM version the components of ``connection``'s pulled orders are kept under (one per item)."""
    return f"ERP {connection}"[:32]


def _number(key: str) -> str:
    number = (key or "").strip()
    if not number or len(number) > KEY_LENGTH or any(ord(character) < 32 for character in number):
        raise DomainError(
            "invalid_record",
            _("The ERP's order number %(key)r cannot be a work order's number (1 to 64 characters).") % {"key": key},
            fields={"number": key},
        )
    return number


def _valid(serializer_class: type[serializers.Serializer], data: Any, prefix: str, *, many: bool = False) -> Any:
    """``data`` as the push API's serializer accepts it, or ``invalid_record`` naming each field at fault."""
    serializer = serializer_class(data=data, many=many) if many else serializer_class(data=data)
    if serializer.is_valid():
        return [dict(row) for row in serializer.validated_data] if many else dict(serializer.validated_data)
    problems = _flattened(serializer.errors, prefix)
    raise DomainError(
        "invalid_record",
        _("The ERP's record is not valid: %(problems)s") % {"problems": "; ".join(f"{name}: {text}" for name, text in problems.items())},
        fields=problems,
    )


def _flattened(errors: Any, prefix: str) -> dict[str, str]:
    if isinstance(errors, dict):
        flat: dict[str, str] = {}
        for name, value in errors.items():
            flat.update(_flattened(value, f"{prefix}.{name}" if prefix else str(name)))
        return flat
    if isinstance(errors, list) and errors and all(isinstance(item, (dict, list)) for item in errors):
        flat = {}
        for index, item in enumerate(errors):
            flat.update(_flattened(item, f"{prefix}[{index}]"))
        return flat
    if isinstance(errors, list):
        return {prefix or "record": " ".join(str(item) for item in errors)} if errors else {}
    return {prefix or "record": str(errors)}


def _components(components: list[dict[str, Any]], *, quantity: Decimal) -> list[dict[str, Any]]:
    """The order's components (each its total requirement) as BOM lines (per unit of the order, three places)."""
    lines = []
    for component in components:
        line = dict(component)
        try:
            line["quantity"] = (Decimal(str(component.get("quantity"))) / quantity).quantize(Decimal("0.001"))
        except (InvalidOperation, TypeError):
            pass  # passed on as the ERP wrote it: the serializer names it
        lines.append(line)
    return _valid(BomLineSerializer, lines, "components", many=True)


def _operations_differ(number: str, operations: list[dict[str, Any]]) -> bool:
    held = set(WorkOrderOperation.objects.filter(work_order__number=number).values_list("sequence", "work_center__code"))
    return held != {(operation["sequence"], operation["work_center"]) for operation in operations}


# --- reads for the API and the page --------------------------------------------------------


def pull_runs(*, connection: str = "", state: str = "") -> QuerySet[PullRun]:
    """Runs, newest first, with their refusals (for pages of a few dozen)."""
    runs = PullRun.objects.prefetch_related("refusals").order_by("-started_at", "-id")
    if connection:
        runs = runs.filter(connection=connection)
    if state:
        runs = runs.filter(state=state)
    return runs


def pull_run_json(run: PullRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "connection": run.connection,
        "trigger": run.trigger,
        "state": run.state,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "since": run.since or None,
        "high_water_mark": run.high_water_mark or None,
        "orders_read": run.orders_read,
        "orders_created": run.orders_created,
        "orders_updated": run.orders_updated,
        "orders_unchanged": run.orders_unchanged,
        "orders_refused": run.orders_refused,
        "error": run.error or None,
        "refused": [
            {"erp_key": refusal.erp_key, "code": refusal.code, "message": refusal.message, "fields": refusal.fields}
            for refusal in run.refusals.all()
        ],
    }


def pull_connections_state() -> list[dict[str, Any]]:
    """Each connection that pulls: its mark and latest run, for the journal's heading."""
    return [
        {
            "name": name,
            "high_water_mark": high_water_mark(connection=name),
            "latest": PullRun.objects.filter(connection=name).order_by("-started_at", "-id").first(),
        }
        for name in pulling_connections()
    ]


PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def pull_page(*, connection: str = "", state: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of runs, newest first: ``{"count", "page", "page_size", "pages", "results"}`` (a page past the
    last answers no results)."""
    runs = pull_runs(connection=connection, state=state)
    count = runs.count()
    start = (page - 1) * page_size
    return {
        "count": count,
        "page": page,
        "page_size": page_size,
        "pages": max(1, -(-count // page_size)),
        "results": list(runs[start : start + page_size]),
    }
