from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection as db
from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from erp_sync.models import ErpConnection, OutboxDependency, OutboxMessage
from erp_sync.outbox import SETTLED_STATES, sync_label, sync_state_of

# --- sync health -------------------------------------------------------------------------

#: The health page's name for messages without a destination when no connection is the default.
NO_CONNECTION = "(no connection)"
#: The states of a message still on its way to the ERP (neither there, nor dead, nor given up).
PENDING_STATES = (OutboxMessage.State.QUEUED, OutboxMessage.State.SENDING, OutboxMessage.State.RETRYING)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    if len(values) == 1:
        return {"p50": values[0], "p95": values[0], "p99": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def _latency_by_destination(since) -> dict[str, dict[str, float | None]]:
    """Recorded → acknowledged, in ms, per destination, over messages acknowledged since ``since``."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute(
                """
                SELECT destination,
                       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM (acknowledged_at - created_at)) * 1000)
                FROM erp_sync_outboxmessage
                WHERE state = 'acknowledged' AND acknowledged_at >= %s
                GROUP BY destination
                """,
                [since],
            )
            return {
                destination: {"p50": round(p[0], 1), "p95": round(p[1], 1), "p99": round(p[2], 1)}
                for destination, p in cursor.fetchall()
            }
    durations: dict[str, list[float]] = {}
    for destination, created, acknowledged in OutboxMessage.objects.filter(
        state=OutboxMessage.State.ACKNOWLEDGED, acknowledged_at__gte=since
    ).values_list("destination", "created_at", "acknowledged_at"):
        durations.setdefault(destination, []).append((acknowledged - created).total_seconds() * 1000)
    return {destination: _percentiles(sorted(values)) for destination, values in durations.items()}


def sync_health() -> dict[str, Any]:
    """Queue depth, age, latency and throughput of ERP delivery, overall and per connection (a few queries)."""
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    connections = list(ErpConnection.objects.order_by("name"))
    default_name = next((row.name for row in connections if row.is_default), "")
    rows = (
        OutboxMessage.objects.filter(Q(state__in=[*PENDING_STATES, OutboxMessage.State.DEAD]) | Q(acknowledged_at__gte=hour_ago))
        .values("destination")
        .annotate(
            pending=Count("id", filter=Q(state__in=PENDING_STATES)),
            retrying=Count("id", filter=Q(state=OutboxMessage.State.RETRYING)),
            dead=Count("id", filter=Q(state=OutboxMessage.State.DEAD)),
            sent_last_hour=Count("id", filter=Q(state=OutboxMessage.State.ACKNOWLEDGED, acknowledged_at__gte=hour_ago)),
            oldest=Min("created_at", filter=Q(state__in=PENDING_STATES)),
        )
    )
    latency = _latency_by_destination(hour_ago)
    per_connection: dict[str, dict[str, Any]] = {
        row.name: {"name": row.name, "kind": row.kind, "is_default": row.is_default, "is_enabled": row.is_enabled,
                   "pending": 0, "retrying": 0, "dead": 0, "sent_last_hour": 0, "oldest": None, "latency_ms": _percentiles([])}
        for row in connections
    }
    for row in rows:
        name = row["destination"] or default_name or NO_CONNECTION
        entry = per_connection.setdefault(
            name, {"name": name, "kind": None, "is_default": False, "is_enabled": False, "pending": 0, "retrying": 0,
                   "dead": 0, "sent_last_hour": 0, "oldest": None, "latency_ms": _percentiles([])},
        )
        for key in ("pending", "retrying", "dead", "sent_last_hour"):
            entry[key] += row[key]
        if row["oldest"] is not None and (entry["oldest"] is None or row["oldest"] < entry["oldest"]):
            entry["oldest"] = row["oldest"]
        if row["destination"] in latency:
            entry["latency_ms"] = latency[row["destination"]]
    all_latency = _latency_overall(hour_ago) if len(latency) > 1 else next(iter(latency.values()), _percentiles([]))

    def age(oldest) -> float | None:
        return round((now - oldest).total_seconds(), 1) if oldest else None

    entries = []
    for entry in per_connection.values():
        entry["oldest_pending_seconds"] = age(entry.pop("oldest"))
        entries.append(entry)
    oldest = max((entry["oldest_pending_seconds"] for entry in entries if entry["oldest_pending_seconds"] is not None), default=None)
    health = {
        "pending": sum(entry["pending"] for entry in entries),
        "retrying": sum(entry["retrying"] for entry in entries),
        "dead": sum(entry["dead"] for entry in entries),
        "oldest_pending_seconds": oldest,
        "latency_ms": all_latency,
        "sent_last_hour": sum(entry["sent_last_hour"] for entry in entries),
        "connections": entries,
        "checked_at": now,
    }
    health["alert"] = sync_alert(health=health)
    return health


def _latency_overall(since) -> dict[str, float | None]:
    values = sorted(
        (acknowledged - created).total_seconds() * 1000
        for created, acknowledged in OutboxMessage.objects.filter(state=OutboxMessage.State.ACKNOWLEDGED, acknowledged_at__gte=since)
        .values_list("created_at", "acknowledged_at")
    )
    return _percentiles(values)


def sync_alert(*, health: dict[str, Any]) -> dict[str, Any]:
    """Whether someone must act: messages stuck longer than the threshold, or dead letters."""
    reasons = []
    threshold = settings.ERP_SYNC_ALERT_AFTER_SECONDS
    if health["oldest_pending_seconds"] is not None and health["oldest_pending_seconds"] > threshold:
        reasons.append(
            {
                "code": "queue_stuck",
                "message": _("The oldest unsent message is %(age)d s old (threshold %(threshold)d s).")
                % {"age": health["oldest_pending_seconds"], "threshold": threshold},
            }
        )
    if health["dead"]:
        reasons.append(
            {
                "code": "dead_letters",
                "message": ngettext(
                    "%(count)d message was refused by the ERP and waits for a decision.",
                    "%(count)d messages were refused by the ERP and wait for a decision.",
                    health["dead"],
                )
                % {"count": health["dead"]},
            }
        )
    return {"active": bool(reasons), "reasons": reasons}


def message_journey(*, message_id: int) -> dict[str, Any]:
    """A message and every step it took: recorded, queued, each attempt, acknowledged or failed."""
    from common.errors import DomainError, ErrorKind

    message = OutboxMessage.objects.filter(pk=message_id).prefetch_related("deliveries").first()
    if message is None:
        raise DomainError("unknown_message", f"No outbox message with id {message_id}.", kind=ErrorKind.NOT_FOUND)
    steps = [{"at": message.created_at, "step": "recorded"}, {"at": message.created_at, "step": "queued"}]
    for attempt in message.deliveries.all():
        steps.append(
            {
                "at": attempt.started_at,
                "step": attempt.action,
                "outcome": attempt.outcome,
                "http_status": attempt.http_status,
                "duration_ms": attempt.duration_ms,
                "erp_document": attempt.erp_document or None,
                "error": attempt.error or None,
            }
        )
    if message.acknowledged_at:
        steps.append({"at": message.acknowledged_at, "step": "acknowledged", "erp_document": message.erp_document or None})
    return {
        "id": message.pk,
        "idempotency_key": message.idempotency_key,
        "kind": message.kind,
        "work_order": message.partition_key,
        "sequence": message.sequence,
        "connection": message.destination or None,
        "source": message.source_uuid,
        "payload": message.payload,
        **sync_state_of(message=message),
        "erp_ref": message.erp_ref,
        "journey": steps,
        "waiting_for": message_waiting_for(message=message),
    }


def message_waiting_for(*, message: OutboxMessage) -> list[dict[str, Any]]:
    """The messages of other orders ``message`` is held back for (``OutboxDependency``) and that are
    not yet acknowledged or discarded; empty once it has gone, or when it waits for nothing."""
    if message.state in SETTLED_STATES or message.state == OutboxMessage.State.SENDING:
        return []
    awaited = OutboxMessage.objects.filter(
        idempotency_key__in=OutboxDependency.objects.filter(message=message).values("waits_for_key")
    ).exclude(state__in=SETTLED_STATES).order_by("pk")
    return [
        {"id": other.pk, "work_order": other.partition_key, "sequence": other.sequence, "kind": other.kind,
         "state": other.state, "state_label": sync_label(state=other.state)}
        for other in awaited.only("pk", "partition_key", "sequence", "kind", "state")
    ]


def mapping_preview(*, mapping: dict[str, Any], time_zone: str | None = None) -> dict[str, Any]:
    """What a REST connection with ``mapping`` would send for the most recent confirmation
    (or a sample one when none is recorded yet), with the problems a save would refuse."""
    from erp_sync.connectors import mapping as field_mapping

    problems = field_mapping.validate_mapping(mapping)
    message = OutboxMessage.objects.order_by("-id").first()
    payload = message.payload if message is not None else field_mapping.SAMPLE_PAYLOAD
    source = {"message": message.pk if message is not None else None, "work_order": payload.get("work_order")}
    if problems:
        return {"source": source, "problems": problems, "body": None}
    try:
        body = field_mapping.preview(
            mapping,
            payload,
            idempotency_key=str(message.idempotency_key) if message is not None else None,
            sequence=message.sequence if message is not None else None,
            time_zone=time_zone,
        )
    except field_mapping.MappingError as error:
        return {"source": source, "problems": {"": str(error)}, "body": None}
    return {"source": source, "problems": {}, "body": body}


# --- messages by state, for the page that lists them ----------------------------------------

#: The page's state filter: each state, and "waiting" for every message still on its way (the health page's column).
WAITING = "waiting"
MESSAGE_LIST_LIMIT = 200


def _message_filter(*, work_order: str, connection: str) -> Q:
    where = Q()
    if work_order:
        where &= Q(partition_key=work_order)
    if connection == NO_CONNECTION:
        where &= Q(destination="")
    elif connection:
        # Messages without a destination go to the default connection (as the health page counts them).
        is_default = ErpConnection.objects.filter(name=connection, is_default=True).exists()
        where &= (Q(destination=connection) | Q(destination="")) if is_default else Q(destination=connection)
    return where


def message_state_counts(*, where: Q | None = None) -> dict[str, int]:
    """How many messages are in each state (only states that have any), in one query."""
    return dict(OutboxMessage.objects.filter(where or Q()).order_by().values_list("state").annotate(n=Count("id")))


def sync_alert_now() -> dict[str, Any]:
    """``sync_alert`` from two cheap queries (dead letters, the oldest waiting message), for pages that
    need only whether someone must act, not the latencies ``sync_health`` computes."""
    counts = message_state_counts()
    oldest = OutboxMessage.objects.filter(state__in=PENDING_STATES).aggregate(oldest=Min("created_at"))["oldest"]
    age = int((timezone.now() - oldest).total_seconds()) if oldest is not None else None
    health = {"dead": counts.get(OutboxMessage.State.DEAD, 0), "oldest_pending_seconds": age,
              "waiting": sum(counts.get(value, 0) for value in PENDING_STATES)}
    return health | {"alert": sync_alert(health=health)}


def message_list(*, state: str = "", work_order: str = "", connection: str = "") -> dict[str, Any]:
    """The messages matching the filters, oldest waiting first (newest first once settled), at most
    ``MESSAGE_LIST_LIMIT``, and how many there are in each state under the other filters (three queries)."""
    where = _message_filter(work_order=work_order, connection=connection)
    counts = message_state_counts(where=where)
    messages = OutboxMessage.objects.filter(where)
    if state:
        messages = messages.filter(state__in=PENDING_STATES if state == WAITING else [state])
    # What still waits is listed oldest first (the one holding the others back on top); the rest newest first.
    messages = messages.order_by("-id") if not state or state in SETTLED_STATES else messages.order_by("created_at", "id")
    rows = list(messages.only("pk", "partition_key", "sequence", "kind", "state", "destination", "attempts", "created_at",
                              "acknowledged_at", "erp_document", "last_error")[:MESSAGE_LIST_LIMIT])
    return {
        "outbox_messages": rows,
        "counts": [{"state": value, "label": label, "count": counts.get(value, 0)} for value, label in OutboxMessage.State.choices],
        "waiting": sum(counts.get(value, 0) for value in PENDING_STATES),
        "total": sum(counts.values()),
        "limit": MESSAGE_LIST_LIMIT,
    }
