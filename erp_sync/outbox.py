"""The one door into ERP sync: the production domain queues its messages here (``outbox_add``,
inside its own transaction), and pages read here where a recorded fact stands with the ERP."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from common.fastsql import (
    copy_instances,
    insert_instance,
    insert_values,
    mark_inserted,
    new_instance,
)
from erp_sync.models import OutboxDependency, OutboxMessage, StreamEvent
from erp_sync.wakeups import streaming, wake_publisher, wake_sender


class NewMessage(TypedDict):
    kind: str
    partition_key: str
    source_uuid: uuid.UUID
    idempotency_key: uuid.UUID
    payload: dict[str, Any]
    #: Idempotency keys of messages (of other orders) this one must not go before: the dispatcher
    #: holds it queued until each of them is acknowledged or discarded (``OutboxDependency``).
    waits_for: NotRequired[list[uuid.UUID]]


def outbox_add(
    *, kind: str, partition_key: str, source_uuid: uuid.UUID, idempotency_key: uuid.UUID, payload: dict[str, Any],
    waits_for: list[uuid.UUID] | None = None,
) -> OutboxMessage:
    """Queue one message for the ERP inside the caller's transaction (see ``outbox_add_many``)."""
    message = NewMessage(
        kind=kind, partition_key=partition_key, source_uuid=source_uuid, idempotency_key=idempotency_key, payload=payload
    )
    if waits_for:
        message["waits_for"] = waits_for
    return outbox_add_many(messages=[message])[0]


def outbox_add_many(*, messages: list[NewMessage]) -> list[OutboxMessage]:
    """Queue messages for the ERP inside the caller's transaction.

    Precondition: the caller is inside ``transaction.atomic`` and holds the lock on every
    work order named by a ``partition_key``; that lock is what makes each order's sequence
    gap-free and unique without a counter table. Messages of one order keep the order given.
    """
    if not messages:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("the outbox must be written in the transaction that records the facts it reports")
    partitions = sorted({message["partition_key"] for message in messages})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partition_key, MAX(sequence) FROM erp_sync_outboxmessage WHERE partition_key IN ({}) GROUP BY partition_key".format(
                ", ".join(["%s"] * len(partitions))
            ),
            partitions,
        )
        last_sequence = dict(cursor.fetchall())
    rows = []
    for message in messages:
        sequence = last_sequence.get(message["partition_key"], 0) + 1
        last_sequence[message["partition_key"]] = sequence
        rows.append(_row(message, sequence))
    # The ORM writes them, except on PostgreSQL: one message with one plain INSERT, the many of
    # a gateway's batch with COPY.
    if not _copy_rows():
        created = OutboxMessage.objects.bulk_create(rows)
    elif len(rows) == 1:
        created = [insert_instance(rows[0])]
    else:
        copy_instances(rows)
        created = rows
    dependencies = [
        OutboxDependency(message=row, waits_for_key=key)
        for message, row in zip(messages, created, strict=True)
        for key in _waits_for(message)
    ]
    if dependencies:  # only a message that issues a lot made here pays for this
        OutboxDependency.objects.bulk_create(dependencies)
    if streaming():
        _stream_write([_stream_row(row) for row in created])
    wake_sender_after_commit()
    return created


def _waits_for(message: NewMessage) -> list[uuid.UUID]:
    """The keys ``message`` waits for, once each, never its own."""
    return sorted(set(message.get("waits_for") or ()) - {message["idempotency_key"]}, key=str)


def _copy_rows() -> bool:
    return connection.vendor == "postgresql" and settings.MES_PLAIN_SQL_WRITES


def _row(message: NewMessage, sequence: int | None) -> OutboxMessage:
    payload = {**message["payload"], "idempotency_key": str(message["idempotency_key"])}
    if sequence is not None:
        payload["sequence"] = sequence
    return new_instance(
        OutboxMessage,
        idempotency_key=message["idempotency_key"],
        kind=message["kind"],
        partition_key=message["partition_key"],
        sequence=sequence,
        source_uuid=message["source_uuid"],
        payload=payload,
    )


@dataclass
class PendingMessages:
    """The INSERT of one order's messages, for the caller to run with its own writes in one statement."""

    ctes: str  # "outbox_next AS (…), …, outbox_message AS (… id, sequence of every message)", for a WITH
    params: list[Any]
    rows: list[OutboxMessage]

    def written(self, stored: list[tuple[int, int]]) -> list[OutboxMessage]:
        """The messages as stored, in the order given, from the ``(id, sequence)`` rows ``outbox_message`` returned."""
        for row, (pk, sequence) in zip(self.rows, sorted(stored, key=lambda pair: pair[1]), strict=True):
            row.sequence = sequence
            row.payload["sequence"] = sequence
            mark_inserted(row, pk)
        return self.rows


@functools.cache
def _pending_insert(columns: tuple[str, ...], offset: int) -> str:
    """The INSERT of one message numbered ``offset`` after the partition's highest sequence."""
    quote = connection.ops.quote_name
    sequence = f"(SELECT sequence FROM outbox_next) + {offset}" if offset else "(SELECT sequence FROM outbox_next)"
    values = {"sequence": sequence, "payload": f"%s || jsonb_build_object('sequence', {sequence})"}  # columns and field names are alike here
    returning = "id, sequence, kind, partition_key, idempotency_key, payload, created_at"  # the stream's event is made of them
    return "INSERT INTO erp_sync_outboxmessage ({}) VALUES ({}) RETURNING {}".format(
        ", ".join(quote(column) for column in columns), ", ".join(values.get(name, "%s") for name in columns), returning
    )


_OUTBOX_NEXT = "outbox_next AS (SELECT COALESCE(MAX(sequence), 0) + 1 AS sequence FROM erp_sync_outboxmessage WHERE partition_key = %s)"


def outbox_add_sql(*, messages: list[NewMessage]) -> PendingMessages:
    """Queue messages of one order as SQL for the caller to run, on PostgreSQL, in a data-modifying
    ``WITH`` together with the writes of the fact they report: one round trip for all of them.

    The statement numbers the messages itself (the partition's highest sequence + 1, + 2 …, in
    the order given, read in the statement), so the precondition of ``outbox_add_many`` holds:
    the caller is inside ``transaction.atomic`` and has locked the work order named by their
    ``partition_key`` in an earlier statement. Select ``id, sequence`` from ``outbox_message``
    (one row per message) and pass them to ``PendingMessages.written``.
    """
    if connection.vendor != "postgresql":
        raise RuntimeError("one-statement writes are for PostgreSQL; use outbox_add_many")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("the outbox must be written in the transaction that records the facts it reports")
    if not messages or len({message["partition_key"] for message in messages}) != 1:
        raise ValueError("one statement numbers the messages of one partition")
    rows = [_row(message, None) for message in messages]
    ctes = [_OUTBOX_NEXT]
    params: list[Any] = [rows[0].partition_key]  # for outbox_next
    for offset, row in enumerate(rows):
        columns = ["sequence"]  # numbered in the statement
        for field, value in insert_values(row):
            if field.name != "sequence":
                columns.append(field.column)
                params.append(value)
        ctes.append(f"outbox_message_{offset} AS ({_pending_insert(tuple(columns), offset)})")
    if len(rows) == 1:
        ctes[-1] = ctes[-1].replace("outbox_message_0 AS", "outbox_message AS", 1)
    else:
        ctes.append("outbox_message AS ({})".format(" UNION ALL ".join(f"SELECT id, sequence FROM outbox_message_{n}" for n in range(len(rows)))))
    quote = connection.ops.quote_name
    stream = streaming()
    for offset, message in enumerate(messages):
        written = "outbox_message" if len(rows) == 1 else f"outbox_message_{offset}"
        if stream:
            # The stream's event, from the message as stored (its payload numbered in the statement): no
            # parameters of its own, so the statement stays within psycopg's cache of converted queries.
            ctes.append(
                f"stream_event_{offset} AS (INSERT INTO erp_sync_streamevent (kind, subject, {quote('key')}, data, created_at)"
                f" SELECT kind, COALESCE(payload->>'work_order', partition_key), idempotency_key, payload, created_at FROM {written})"
            )
        keys = _waits_for(message)
        if keys:  # PostgreSQL runs a data-modifying WITH part whether or not the query reads it
            ctes.append(
                f"outbox_wait_{offset} AS (INSERT INTO erp_sync_outboxdependency (message_id, waits_for_key)"
                f" SELECT (SELECT id FROM {written}), unnest(%s::uuid[]))"
            )
            params.append(keys)
    wake_sender_after_commit()
    if stream:
        transaction.on_commit(wake_publisher)
    return PendingMessages(", ".join(ctes), params, rows)


def wake_sender_after_commit() -> None:
    """Wake an ERP sender once the current transaction commits (at once outside one)."""
    transaction.on_commit(wake_sender)


# --- the event stream: what the stream destinations (RabbitMQ, MQTT) publish ------------------


class NewEvent(TypedDict):
    kind: str  # the CloudEvents type is "mes.<kind>"
    subject: str  # the work order number
    key: uuid.UUID  # the CloudEvents id: consumers drop repeats by it
    data: dict[str, Any]


def stream_add(*, kind: str, subject: str, key: uuid.UUID, data: dict[str, Any]) -> None:
    """Append one event for the stream destinations inside the caller's transaction.

    For facts the ERP does not hear (an order's state change, a quality result); every outbox
    message is an event already. Precondition as for ``outbox_add_many``: the caller holds the
    lock of the work order ``subject`` names, which keeps each order's events in commit order.
    """
    stream_add_many(events=[NewEvent(kind=kind, subject=subject, key=key, data=data)])


def stream_add_many(*, events: list[NewEvent]) -> None:
    """Append events for the stream destinations inside the caller's transaction, in the order given
    (nothing while no destination exists)."""
    if not events or not streaming():
        return
    _stream_write(
        [new_instance(StreamEvent, kind=event["kind"], subject=event["subject"], key=event["key"], data=event["data"]) for event in events]
    )


def _stream_row(message: OutboxMessage) -> StreamEvent:
    """The stream's event of an outbox message: its kind, its key, its payload, its work order."""
    payload = message.payload
    subject = payload.get("work_order") if isinstance(payload.get("work_order"), str) else None
    return new_instance(
        StreamEvent, kind=message.kind, subject=subject or message.partition_key, key=message.idempotency_key, data=payload,
    )


def _stream_write(rows: list[StreamEvent]) -> None:
    if not _copy_rows():
        StreamEvent.objects.bulk_create(rows)
    elif len(rows) == 1:
        insert_instance(rows[0])
    else:
        copy_instances(rows)
    transaction.on_commit(wake_publisher)


# --- where a recorded fact stands with the ERP (for pages and API answers) --------------------

#: Every state a message can be in, for API schemas and filters.
SYNC_STATES = tuple(OutboxMessage.State.values)
#: The states in which a message is done with: the ERP has it, or it was given up. An order's next
#: message goes only when every earlier one is settled.
SETTLED_STATES = (OutboxMessage.State.ACKNOWLEDGED, OutboxMessage.State.DISCARDED)
#: The states of a message still to reach the ERP, worst first: an order's badge shows its worst.
UNSETTLED_BY_SEVERITY = (
    OutboxMessage.State.DEAD, OutboxMessage.State.RETRYING, OutboxMessage.State.SENDING, OutboxMessage.State.QUEUED,
)

#: Where a message stands with the ERP, in a few words: the one wording every page shows.
SYNC_LABELS = {
    OutboxMessage.State.DEAD: _("refused by the ERP"),
    OutboxMessage.State.RETRYING: _("retrying"),
    OutboxMessage.State.QUEUED: _("on its way"),
    OutboxMessage.State.SENDING: _("on its way"),
    OutboxMessage.State.ACKNOWLEDGED: _("in the ERP"),
    OutboxMessage.State.DISCARDED: _("discarded"),
}


def sync_label(*, state: str | None) -> str:
    """A message's state (or an order's worst message's) in the reader's words; "—" for none."""
    return str(SYNC_LABELS.get(state or "", "—"))


def sync_badge(*, state: str | None) -> tuple[str, str]:
    """How a page shows where a message (or an order's worst message) stands: its label and the CSS
    classes of its badge (``sync sync-<state>``, ``sync sync-none`` for no message)."""
    return sync_label(state=state), f"sync sync-{state or 'none'}"


def sync_state_of(*, message: OutboxMessage) -> dict[str, Any]:
    """A message's ERP journey as API clients and pages see it."""
    return {
        "state": message.state,
        "attempts": message.attempts,
        "erp_document": message.erp_document or None,
        "last_error": message.last_error or None,
        "queued_at": message.created_at,
        "acknowledged_at": message.acknowledged_at,
    }


def _messages_of(source_uuids: list[uuid.UUID]) -> dict[uuid.UUID, OutboxMessage]:
    return {message.source_uuid: message for message in OutboxMessage.objects.filter(source_uuid__in=source_uuids)}


def sync_states(*, source_uuids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The ERP journey of each recorded fact, keyed by its UUID, with its message's id for a page's link (one query)."""
    return {
        source_uuid: {**sync_state_of(message=message), "message_id": message.pk}
        for source_uuid, message in _messages_of(source_uuids).items()
    }


def confirmation_sync_state(*, source_uuid: uuid.UUID, message: OutboxMessage | None = None) -> dict[str, Any] | None:
    """Where one recorded fact stands: from the message written with it a moment ago, else as stored."""
    if message is None:
        message = _messages_of([source_uuid]).get(source_uuid)
    return sync_state_of(message=message) if message is not None else None
