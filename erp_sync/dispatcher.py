"""Delivers outbox messages to the ERP: exactly once in effect, in order per work order.

1. ``claim`` marks due messages ``sending`` under a fresh claim token and a lease, in one
   short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait on
   each other). A message is due only when every earlier message of its order is
   acknowledged or discarded — a dead or unsent head blocks its own order and no other.
2. ``deliver`` calls the connector with no database lock held, then records the outcome
   with a conditional update that only succeeds while the claim is still ours.
3. ``release_expired_leases`` returns messages whose worker died mid-send; since the ERP may
   have booked them, they are looked up by our key before anything is resent.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from erp_sync.connectors.base import Outcome, Posting, PostResult
from erp_sync.connectors.registry import connector_for
from erp_sync.models import DeliveryAttempt, ErpConnection, OutboxMessage

logger = logging.getLogger(__name__)

State = OutboxMessage.State
UNSETTLED = (State.QUEUED, State.SENDING, State.RETRYING, State.DEAD)
def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential back-off with jitter (between half and all of the step), capped; the ERP's Retry-After wins if longer."""
    base, cap = settings.ERP_SYNC_BACKOFF_BASE_SECONDS, settings.ERP_SYNC_BACKOFF_CAP_SECONDS
    step = min(cap, base * 2 ** max(0, attempts - 1))
    delay = random.uniform(step / 2, step)
    return max(delay, retry_after or 0.0)


# --- claiming ----------------------------------------------------------------------------

_CLAIM_SQL = """
UPDATE erp_sync_outboxmessage
SET state = 'sending', claim_token = %(token)s, lease_until = %(lease_until)s,
    attempts = attempts + 1, last_attempt_at = %(now)s
WHERE id IN (
    SELECT candidate.id FROM erp_sync_outboxmessage AS candidate
    WHERE candidate.state IN ('queued', 'retrying')
      AND candidate.next_attempt_at <= %(now)s
      {partition_filter}
      AND NOT EXISTS (
          SELECT 1 FROM erp_sync_outboxmessage AS earlier
          WHERE earlier.partition_key = candidate.partition_key
            AND earlier.sequence < candidate.sequence
            AND earlier.state NOT IN ('acknowledged', 'discarded'))
    ORDER BY {order}
    LIMIT %(limit)s
    {lock}
)
RETURNING id
"""


@dataclass(frozen=True)
class Claim:
    token: uuid.UUID
    message_ids: list[int]


def claim(*, limit: int, lease_seconds: float, partition_key: str | None = None) -> Claim:
    """Take up to ``limit`` due messages (at most one per work order) for this worker."""
    token = uuid.uuid4()
    now = timezone.now()
    sql = _CLAIM_SQL.format(
        partition_filter="AND candidate.partition_key = %(partition_key)s" if partition_key is not None else "",
        # Within one order only its head can qualify; ordering by sequence lets the
        # (partition_key, sequence) index find it without walking the whole due queue.
        order="candidate.sequence" if partition_key is not None else "candidate.next_attempt_at, candidate.id",
        # SQLite has one writer at a time, so the statement itself is the lock there.
        lock="FOR UPDATE OF candidate SKIP LOCKED" if connection.vendor == "postgresql" else "",
    )
    params = {
        "token": token.hex if connection.vendor == "sqlite" else token,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "now": now,
        "limit": limit,
        "partition_key": partition_key,
    }
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = sorted(row[0] for row in cursor.fetchall())
    return Claim(token=token, message_ids=ids)


def release_expired_leases() -> int:
    """Messages whose worker died mid-send go back to the queue, to be looked up before a resend."""
    return OutboxMessage.objects.filter(state=State.SENDING, lease_until__lt=timezone.now()).update(
        state=State.RETRYING,
        needs_lookup=True,
        claim_token=None,
        lease_until=None,
        next_attempt_at=timezone.now(),
        last_error="The worker sending this message stopped before the ERP answered.",
    )


# --- delivering --------------------------------------------------------------------------


def _connection_for(message: OutboxMessage, connections: dict[str, ErpConnection]) -> ErpConnection | None:
    if message.destination:
        return connections.get(message.destination)
    return next((candidate for candidate in connections.values() if candidate.is_default), None)


def _posting(message: OutboxMessage) -> Posting:
    reverses = (message.payload or {}).get("reverses") or {}
    reverses_key = reverses.get("idempotency_key")
    reverses_ref = None
    if reverses_key:
        reverses_ref = (
            OutboxMessage.objects.filter(idempotency_key=reverses_key).values_list("erp_ref", flat=True).first()
        )
    return Posting(
        idempotency_key=str(message.idempotency_key),
        kind=message.kind,
        work_order=message.partition_key,
        sequence=message.sequence,
        payload=message.payload,
        reverses_ref=reverses_ref,
        reverses_key=reverses_key,
    )


def _record(
    message: OutboxMessage,
    token: uuid.UUID,
    result: PostResult,
    *,
    connection_row: ErpConnection | None,
    action: str,
    started: float,
    started_at,
    recorded_outcome: str | None = None,
) -> bool:
    """Write the outcome if the claim is still ours; returns whether it was."""
    now = timezone.now()
    changes: dict = {"claim_token": None, "lease_until": None}
    if result.outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE):
        changes.update(
            state=State.ACKNOWLEDGED,
            acknowledged_at=now,
            erp_ref=result.erp_ref,
            erp_document=result.erp_document[:200],
            needs_lookup=False,
            last_error="",
        )
    elif result.outcome == Outcome.REJECTED:
        changes.update(state=State.DEAD, last_error=result.error)
    elif result.outcome == Outcome.UNKNOWN:
        changes.update(
            state=State.RETRYING,
            needs_lookup=True,
            next_attempt_at=now + timedelta(seconds=min(settings.ERP_SYNC_BACKOFF_BASE_SECONDS, 1.0)),
            last_error=result.error,
        )
    else:
        changes.update(
            state=State.RETRYING,
            next_attempt_at=now + timedelta(seconds=backoff_seconds(message.attempts, result.retry_after)),
            last_error=result.error,
        )
    if message.first_sent_at is None and action == "post":
        changes["first_sent_at"] = started_at
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, claim_token=token, state=State.SENDING).update(**changes)
        if updated:
            DeliveryAttempt.objects.create(
                message=message,
                connection=connection_row,
                started_at=started_at,
                duration_ms=int((time.monotonic() - started) * 1000),
                action=action,
                outcome=recorded_outcome or result.outcome.value,
                http_status=result.http_status,
                error=result.error[:4000],
                erp_document=result.erp_document[:200],
            )
    if not updated:
        logger.warning("Claim on message %s expired before its outcome (%s) was recorded", message.pk, result.outcome)
    return bool(updated)


def deliver(message_id: int, token: uuid.UUID, connections: dict[str, ErpConnection]) -> OutboxMessage | None:
    """Send one claimed message and record what happened. No database lock is held during the call."""
    message = OutboxMessage.objects.filter(pk=message_id, claim_token=token, state=State.SENDING).first()
    if message is None:
        return None
    connection_row = _connection_for(message, connections)
    started, started_at = time.monotonic(), timezone.now()
    if connection_row is None:
        result = PostResult(
            Outcome.REJECTED,
            error=f"No enabled ERP connection named {message.destination!r}."
            if message.destination
            else "No default ERP connection is configured.",
        )
        _record(message, token, result, connection_row=None, action="post", started=started, started_at=started_at)
        return message
    connector = connector_for(connection_row.as_config(), connection_row.updated_at.isoformat())
    posting = _posting(message)
    if message.needs_lookup:
        found = connector.find(posting)
        if found is not None and found.outcome != Outcome.ACCEPTED:
            _record(message, token, found, connection_row=connection_row, action="lookup", started=started, started_at=started_at)
            return message
        if found is not None:
            _record(
                message, token, found, connection_row=connection_row, action="lookup",
                started=started, started_at=started_at, recorded_outcome=DeliveryAttempt.Outcome.FOUND,
            )
            return message
        DeliveryAttempt.objects.create(
            message=message, connection=connection_row, started_at=started_at,
            duration_ms=int((time.monotonic() - started) * 1000), action="lookup", outcome=DeliveryAttempt.Outcome.NOT_FOUND,
        )
        started, started_at = time.monotonic(), timezone.now()
    result = connector.post(posting)
    _record(message, token, result, connection_row=connection_row, action="post", started=started, started_at=started_at)
    return message


def _enabled_connections() -> dict[str, ErpConnection]:
    return {row.name: row for row in ErpConnection.objects.filter(is_enabled=True)}


def _deliver_partition(first_id: int, token: uuid.UUID, connections: dict[str, ErpConnection], deadline: float) -> int:
    """Deliver a claimed message, then keep draining its work order while each one is acknowledged.

    Following on in the same thread keeps an order's messages back to back, instead of
    waiting for the next sweep after each acknowledgment.
    """
    delivered = 0
    message_id, claim_token = first_id, token
    while True:
        message = deliver(message_id, claim_token, connections)
        if message is None:
            return delivered
        delivered += 1
        if time.monotonic() > deadline:
            return delivered
        state = OutboxMessage.objects.filter(pk=message.pk).values_list("state", flat=True).first()
        if state != State.ACKNOWLEDGED:
            return delivered
        follow = claim(limit=1, partition_key=message.partition_key, lease_seconds=_lease_seconds(connections))
        if not follow.message_ids:
            return delivered
        message_id, claim_token = follow.message_ids[0], follow.token


def _in_own_connection(function, *args) -> int:
    """Run in a pool thread, which has its own database connection: close it when done."""
    try:
        return function(*args)
    finally:
        connection.close()


def _lease_seconds(connections: dict[str, ErpConnection]) -> float:
    """How long a claim holds: well past the slowest connection's timeout, never below the setting."""
    longest = max((row.timeout_seconds for row in connections.values()), default=10)
    return max(settings.ERP_SYNC_LEASE_SECONDS, longest * 2)


def dispatch_once(*, limit: int = 200, threads: int = 16, budget_seconds: float = 10.0) -> int:
    """Claim what is due and deliver it, different orders in parallel. Returns messages handled."""
    connections = _enabled_connections()
    if not connections:
        return 0
    # No more orders than threads: a claimed message waiting for a thread would only age
    # towards its lease, and a long queue of them would outlive the task's time limit.
    batch = claim(limit=min(limit, max(threads, 1)), lease_seconds=_lease_seconds(connections))
    if not batch.message_ids:
        return 0
    deadline = time.monotonic() + budget_seconds  # one deadline for every order of this round
    if len(batch.message_ids) == 1 or threads <= 1:
        return sum(_deliver_partition(message_id, batch.token, connections, deadline) for message_id in batch.message_ids)
    with ThreadPoolExecutor(max_workers=len(batch.message_ids), thread_name_prefix="erp-send") as pool:
        futures = [
            pool.submit(_in_own_connection, _deliver_partition, message_id, batch.token, connections, deadline)
            for message_id in batch.message_ids
        ]
        return sum(future.result() for future in futures)


def dispatch_until_idle(*, budget_seconds: float = 10.0, limit: int = 200, threads: int = 16) -> int:
    """Keep dispatching until nothing is due or the time budget is spent (one task run)."""
    deadline = time.monotonic() + budget_seconds
    handled = 0
    while time.monotonic() < deadline:
        count = dispatch_once(limit=limit, threads=threads, budget_seconds=max(1.0, deadline - time.monotonic()))
        handled += count
        if count == 0:
            break
    return handled
