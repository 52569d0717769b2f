"""Delivers outbox messages to the ERP: exactly once in effect, in order per work order.

1. ``claim`` marks due messages ``sending`` under a fresh claim token and a lease, in one
   short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait on
   each other), and returns the rows it claimed. A message is due only when every earlier
   message of its order is acknowledged or discarded — a dead or unsent head blocks its own
   order and no other — and every message it waits for (``OutboxDependency``: an issue of a
   lot made here waits for the other order's receipt of it) is too. A waiting message stays
   queued, untouched (no attempt counted, no back-off): the run that acknowledges the receipt
   claims again before it ends and takes it then, or the sweep does.
2. A sending thread calls the connector with no database lock held — one message, or the
   heads of several orders in one request where the connector batches (SAP ``$batch``) —
   then records every outcome with a conditional update that only succeeds while the claim
   is still ours, and in the same transaction claims the next message of each order whose
   message was acknowledged, so an order's messages follow each other back to back.
3. ``release_expired_leases`` returns messages whose worker died mid-send; since the ERP may
   have booked them, they are looked up by our key before anything is resent.

``dispatch_until_idle`` keeps its sending threads (and their database connections) for the
whole run, claims for whichever threads are free as soon as they are, and stops when nothing
is due and nothing is in flight, or at its deadline.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone, translation

from common.crypto import SecretMustBeReentered
from erp_sync.connectors.base import (
    OUTAGE_KINDS,
    GOODS_KINDS,
    QUALITY_KINDS,
    Connector,
    FailureKind,
    Outcome,
    Posting,
    PostResult,
    passed_over,
    unsupported,
)
from erp_sync.connectors.registry import connector_for
from erp_sync.models import DeliveryAttempt, ErpConnection, OutboxMessage
from erp_sync.outbox import SETTLED_STATES
from erp_sync.services import erp_connection_batch_not_offered
from erp_sync.transitions import sources_of, targets_of, transition_allowed

logger = logging.getLogger(__name__)

State = OutboxMessage.State

# The moves the bulk statements below make, read from the one map (``erp_sync.transitions``):
#: the claim takes messages from these states to ``sending``;
CLAIM_SOURCES = sources_of(State.SENDING)
#: an outcome takes a claimed (``sending``) message to one of these;
OUTCOME_TARGETS = targets_of(State.SENDING)
#: a lease that ran out takes it back to the queue.
LEASE_EXPIRED = (State.SENDING, State.RETRYING)
if not transition_allowed(*LEASE_EXPIRED):
    raise RuntimeError("the map of outbox states no longer lets an expired claim go back to the queue")


def _sql_states(states: Iterable[str]) -> str:
    """States as an SQL list of literals (fixed names, never input); written out so that the
    planner matches the partial indexes' conditions."""
    return "({})".format(", ".join(f"'{state}'" for state in states))


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential back-off with jitter (between half and all of the step), capped; the ERP's Retry-After wins if longer."""
    base, cap = settings.ERP_SYNC_BACKOFF_BASE_SECONDS, settings.ERP_SYNC_BACKOFF_CAP_SECONDS
    step = min(cap, base * 2 ** max(0, attempts - 1))
    delay = random.uniform(step / 2, step)
    return max(delay, retry_after or 0.0)


# --- claiming ----------------------------------------------------------------------------

_SETTLED = _sql_states(SETTLED_STATES)
_CLAIMED = f"""
UPDATE erp_sync_outboxmessage
SET state = '{State.SENDING.value}', claim_token = %(token)s, lease_until = %(lease_until)s,
    attempts = attempts + 1, last_attempt_at = %(now)s
WHERE id IN (
    SELECT candidate.id FROM erp_sync_outboxmessage AS candidate
    WHERE {{candidates}}
      AND candidate.state IN {_sql_states(CLAIM_SOURCES)}
      AND candidate.next_attempt_at <= %(now)s
      AND NOT EXISTS (
          SELECT 1 FROM erp_sync_outboxmessage AS earlier
          WHERE earlier.partition_key = candidate.partition_key
            AND earlier.sequence < candidate.sequence
            AND earlier.state NOT IN {_SETTLED})
      AND NOT EXISTS (
          SELECT 1 FROM erp_sync_outboxdependency AS dependency
          JOIN erp_sync_outboxmessage AS awaited ON awaited.idempotency_key = dependency.waits_for_key
          WHERE dependency.message_id = candidate.id
            AND awaited.state NOT IN {_SETTLED})
    ORDER BY {{order}}
    LIMIT %(limit)s
    {{lock}}
)
RETURNING *
"""

# The heads of the orders with something unsettled, found by skipping from order to order
# through the ``outbox_unsettled`` index (one probe per order) instead of walking every
# queued message: after an outage the heads have backed off past everything queued behind
# them, and a scan in due order would test each blocked message first (418 ms against 8 ms
# with 48,000 queued over 500 orders).
_HEADS = f"""
candidate.id IN (
    WITH RECURSIVE orders(partition_key) AS (
        (SELECT partition_key FROM erp_sync_outboxmessage
         WHERE state NOT IN {_SETTLED}
         ORDER BY partition_key LIMIT 1)
        UNION ALL
        SELECT (SELECT following.partition_key FROM erp_sync_outboxmessage AS following
                WHERE following.state NOT IN {_SETTLED}
                  AND following.partition_key > orders.partition_key
                ORDER BY following.partition_key LIMIT 1)
        FROM orders WHERE orders.partition_key IS NOT NULL
    )
    SELECT head.id FROM orders CROSS JOIN LATERAL (
        SELECT message.id, message.state, message.next_attempt_at FROM erp_sync_outboxmessage AS message
        WHERE message.partition_key = orders.partition_key
          AND message.state NOT IN {_SETTLED}
        ORDER BY message.sequence LIMIT 1
    ) AS head
    WHERE head.state IN {_sql_states(CLAIM_SOURCES)} AND head.next_attempt_at <= %(now)s
)"""


def claim(*, limit: int, lease_seconds: float, partition_keys: list[str] | None = None) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages (at most one per work order) for this worker; returns them as claimed.

    With ``partition_keys``, only the heads of those orders (the follow-ons of messages just
    acknowledged). Call inside the transaction that should commit the claim, or alone.
    """
    if limit <= 0:
        return []
    token = uuid.uuid4()
    now = timezone.now()
    params: dict = {
        "token": token.hex if connection.vendor == "sqlite" else token,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "now": now,
        "limit": limit,
    }
    if partition_keys:
        names = [f"key{index}" for index in range(len(partition_keys))]
        params.update(zip(names, partition_keys, strict=True))
        # Within one order only its head can qualify; ordering by sequence lets the
        # (partition_key, sequence) index find it without walking the whole due queue.
        candidates = "candidate.partition_key IN ({}) AND candidate.state NOT IN {}".format(
            ", ".join(f"%({name})s" for name in names), _SETTLED
        )
        order = "candidate.partition_key, candidate.sequence"
    else:
        candidates = _HEADS if connection.vendor == "postgresql" else "TRUE"
        order = "candidate.next_attempt_at, candidate.id"
    sql = _CLAIMED.format(
        candidates=candidates,
        order=order,
        # SQLite has one writer at a time, so the statement itself is the lock there.
        lock="FOR UPDATE OF candidate SKIP LOCKED" if connection.vendor == "postgresql" else "",
    )
    with transaction.atomic(savepoint=False):
        return sorted(OutboxMessage.objects.raw(sql, params), key=lambda message: message.pk)


def release_expired_leases() -> int:
    """Messages whose worker died mid-send go back to the queue, to be looked up before a resend."""
    source, target = LEASE_EXPIRED
    return OutboxMessage.objects.filter(state=source, lease_until__lt=timezone.now()).update(
        state=target,
        failure_kind=FailureKind.AMBIGUOUS,
        needs_lookup=True,
        claim_token=None,
        lease_until=None,
        next_attempt_at=timezone.now(),
        last_error="The worker sending this message stopped before the ERP answered.",
    )


def _held_back_by_outage(connection_row: ErpConnection, now: datetime):
    """Messages for this connection waiting out a back-off because its ERP could not be reached."""
    destinations = ["", connection_row.name] if connection_row.is_default else [connection_row.name]
    return OutboxMessage.objects.filter(
        state=State.RETRYING, next_attempt_at__gt=now, destination__in=destinations, failure_kind__in=OUTAGE_KINDS
    )


def resume_after_outage(connection_row: ErpConnection) -> int:
    """The ERP answers again: messages backing off only because it was unreachable are due now.

    Those failures were refusals to connect, so nothing reached the ERP and the back-off had
    no load to spare it; without this each order would wait out its own back-off (up to the
    cap) after the ERP is back. Errors the ERP itself answered (5xx, 429, 423) keep theirs.
    """
    now = timezone.now()
    resumed = _held_back_by_outage(connection_row, now).update(next_attempt_at=now)
    if resumed:
        logger.info("ERP %s answers again: %s message(s) held back by the outage are due now", connection_row.name, resumed)
    return resumed


def probe_unreachable_connections() -> int:
    """For each connection with messages held back by an outage, ask the ERP once whether it is back.

    Called by the sweep: without it, the first sign that the ERP is back would be the first
    back-off to run out.
    """
    now = timezone.now()
    resumed = 0
    for connection_row in _enabled_connections().values():
        if connection_row.unreadable_secrets() or not _held_back_by_outage(connection_row, now).exists():
            continue
        connector = connector_for(connection_row.as_config(), connection_row.updated_at.isoformat())
        if connector.health().reachable:
            resumed += resume_after_outage(connection_row)
    return resumed


# --- delivering --------------------------------------------------------------------------


def _connection_for(message: OutboxMessage, connections: dict[str, ErpConnection]) -> ErpConnection | None:
    if message.destination:
        return connections.get(message.destination)
    return next((candidate for candidate in connections.values() if candidate.is_default), None)


def _posting(message: OutboxMessage) -> Posting:
    reverses = (message.payload or {}).get("reverses") or {}
    reverses_key = reverses.get("idempotency_key")
    reverses_ref = None
    # A reconciliation's cancellation may reverse a posting booked in the ERP under a key of its own (no UUID, no message).
    if reverses_key and _is_uuid(reverses_key):
        reverses_ref = (
            OutboxMessage.objects.filter(idempotency_key=reverses_key).values_list("erp_ref", flat=True).first()
        )
    # Goods booked with a report, a quality record of a reported operation: what the ERP answered for
    # that report (it went first, in the order's sequence).
    confirmation_id = (message.payload or {}).get("confirmation_id") if message.kind in GOODS_KINDS | QUALITY_KINDS else None
    confirmation_ref = None
    if confirmation_id and _is_uuid(confirmation_id):
        confirmation_ref = (
            OutboxMessage.objects.filter(idempotency_key=confirmation_id).values_list("erp_ref", flat=True).first()
        )
    return Posting(
        idempotency_key=str(message.idempotency_key),
        kind=message.kind,
        work_order=message.partition_key,
        sequence=message.sequence,
        payload=message.payload,
        reverses_ref=reverses_ref,
        reverses_key=reverses_key,
        confirmation_ref=confirmation_ref,
    )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


@dataclass
class _Sent:
    """One claimed message and what the ERP made of it, waiting to be recorded."""

    message: OutboxMessage
    result: PostResult
    action: str
    started: float
    started_at: datetime
    recorded_outcome: str | None = None
    earlier_attempts: list[DeliveryAttempt] = field(default_factory=list)


def _changes(message: OutboxMessage, result: PostResult, *, action: str, started_at: datetime, now: datetime) -> dict:
    changes: dict = {"claim_token": None, "lease_until": None, "failure_kind": result.failure_kind}
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
    return changes


def _record(
    sent: list[_Sent], connection_row: ErpConnection | None, *, follow_lease_seconds: float | None
) -> tuple[list[OutboxMessage], list[OutboxMessage]]:
    """Write each outcome whose claim is still ours, and claim what follows the acknowledged ones; one transaction.

    Returns (acknowledged, claimed next). ``follow_lease_seconds`` None claims nothing.
    """
    now = timezone.now()
    acknowledged: list[OutboxMessage] = []
    attempts: list[DeliveryAttempt] = []
    changes = [_changes(item.message, item.result, action=item.action, started_at=item.started_at, now=now) for item in sent]
    with transaction.atomic():
        written = _write_outcomes(sent, changes)
        for item, change in zip(sent, changes, strict=True):
            message, result = item.message, item.result
            if message.pk not in written:
                logger.warning("Claim on message %s expired before its outcome (%s) was recorded", message.pk, result.outcome)
                continue
            attempts += item.earlier_attempts
            attempts.append(
                DeliveryAttempt(
                    message=message,
                    connection=connection_row,
                    started_at=item.started_at,
                    duration_ms=int((time.monotonic() - item.started) * 1000),
                    action=item.action,
                    outcome=item.recorded_outcome or result.outcome.value,
                    http_status=result.http_status,
                    error=result.error[:4000],
                    failure_kind=result.failure_kind,
                    erp_document=result.erp_document[:200],
                )
            )
            if change["state"] == State.ACKNOWLEDGED:
                acknowledged.append(message)
        DeliveryAttempt.objects.bulk_create(attempts)
        following: list[OutboxMessage] = []
        if acknowledged and follow_lease_seconds is not None:
            following = claim(
                limit=len(acknowledged),
                lease_seconds=follow_lease_seconds,
                partition_keys=sorted({message.partition_key for message in acknowledged}),
            )
    return acknowledged, following


# Every outcome of one request in one statement, each row only while its claim is still ours.
# Columns an outcome leaves alone come as NULL and keep their value (COALESCE).
_WRITE_OUTCOMES = f"""
UPDATE erp_sync_outboxmessage AS message SET
    state = outcome.state,
    claim_token = NULL,
    lease_until = NULL,
    last_error = outcome.last_error,
    failure_kind = outcome.failure_kind,
    acknowledged_at = COALESCE(outcome.acknowledged_at, message.acknowledged_at),
    erp_ref = CASE WHEN outcome.state = 'acknowledged' THEN outcome.erp_ref ELSE message.erp_ref END,
    erp_document = COALESCE(outcome.erp_document, message.erp_document),
    needs_lookup = COALESCE(outcome.needs_lookup, message.needs_lookup),
    next_attempt_at = COALESCE(outcome.next_attempt_at, message.next_attempt_at),
    first_sent_at = COALESCE(message.first_sent_at, outcome.first_sent_at)
FROM (VALUES {{rows}}) AS outcome(
    id, claim_token, state, last_error, failure_kind, acknowledged_at, erp_ref, erp_document, needs_lookup, next_attempt_at,
    first_sent_at)
WHERE message.id = outcome.id AND message.claim_token = outcome.claim_token AND message.state = '{State.SENDING.value}'
  AND outcome.state IN {_sql_states(OUTCOME_TARGETS)}
RETURNING message.id
"""
_OUTCOME_ROW = "(%s::bigint, %s::uuid, %s, %s, %s, %s::timestamptz, %s::jsonb, %s, %s::boolean, %s::timestamptz, %s::timestamptz)"


def _write_outcomes(sent: list[_Sent], changes: list[dict]) -> set[int]:
    """Write the outcomes whose claims are still ours; returns the ids written. Inside the caller's transaction."""
    if connection.vendor != "postgresql":
        return {
            item.message.pk
            for item, change in zip(sent, changes, strict=True)
            if change["state"] in OUTCOME_TARGETS
            and OutboxMessage.objects.filter(pk=item.message.pk, claim_token=item.message.claim_token, state=State.SENDING).update(**change)
        }
    params: list = []
    for item, change in zip(sent, changes, strict=True):
        erp_ref = change.get("erp_ref")
        params += [
            item.message.pk, item.message.claim_token, change["state"], change["last_error"], change["failure_kind"],
            change.get("acknowledged_at"),
            None if erp_ref is None else json.dumps(erp_ref), change.get("erp_document"), change.get("needs_lookup"),
            change.get("next_attempt_at"), change.get("first_sent_at"),
        ]
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_OUTCOMES.format(rows=", ".join([_OUTCOME_ROW] * len(sent))), params)
        return {row[0] for row in cursor.fetchall()}


def _send(connector: Connector, connection_row: ErpConnection, messages: list[OutboxMessage]) -> list[_Sent]:
    """Ask the ERP: look up what may have reached it already, then post the rest (in one request where it batches).

    Look-ups go one by one; once one finds the ERP not answering, the rest of the batch is not
    tried (each would wait out the same timeout) and retries later, still to be looked up.
    """
    sent: list[_Sent] = []
    to_post: list[tuple[OutboxMessage, Posting, list[DeliveryAttempt]]] = []
    unanswered: PostResult | None = None
    for message in messages:
        posting = _posting(message)
        if posting.kind in connector.not_booked:
            sent.append(_Sent(message, passed_over(connector, posting), "post", time.monotonic(), timezone.now()))
            continue
        if posting.kind not in connector.kinds:
            sent.append(_Sent(message, unsupported(connector, posting), "post", time.monotonic(), timezone.now()))
            continue
        if not message.needs_lookup:
            to_post.append((message, posting, []))
            continue
        started, started_at = time.monotonic(), timezone.now()
        if unanswered is not None:
            sent.append(_Sent(message, _not_tried(unanswered), "lookup", started, started_at))
            continue
        found = connector.find(posting)
        if found is not None:
            recorded = DeliveryAttempt.Outcome.FOUND if found.outcome == Outcome.ACCEPTED else None
            sent.append(_Sent(message, found, "lookup", started, started_at, recorded))
            if found.outcome == Outcome.RETRYABLE:
                unanswered = found
            continue
        not_found = DeliveryAttempt(
            message=message, connection=connection_row, started_at=started_at,
            duration_ms=int((time.monotonic() - started) * 1000), action="lookup", outcome=DeliveryAttempt.Outcome.NOT_FOUND,
        )
        to_post.append((message, posting, [not_found]))
    if not to_post:
        return sent
    started, started_at = time.monotonic(), timezone.now()
    if unanswered is not None:
        results = [_not_tried(unanswered)] * len(to_post)
    elif len(to_post) == 1:
        results = [connector.post(to_post[0][1])]
    else:
        results = connector.post_many([posting for _message, posting, _earlier in to_post])
    for (message, _posting_sent, earlier), result in zip(to_post, results, strict=True):
        sent.append(_Sent(message, result, "post", started, started_at, earlier_attempts=earlier))
    return sent


def _not_tried(unanswered: PostResult) -> PostResult:
    return PostResult(
        Outcome.RETRYABLE,
        error=f"Not tried: the ERP did not answer a look-up just before, in the same batch ({unanswered.error})"[:2000],
        retry_after=unanswered.retry_after,
        failure_kind=unanswered.failure_kind,
    )


def _held(messages: list[OutboxMessage], connection_row: ErpConnection) -> list[_Sent]:
    """Messages of a connection whose secrets cannot be decrypted: not sent, retried (with back-off)
    until an admin re-enters them, each attempt saying why."""
    with translation.override("en"):  # stored, like the ERP's own messages, as it was said
        problem = SecretMustBeReentered(f"ERP connection {connection_row.name}", connection_row.unreadable_secrets())
    logger.error("%s Messages for it are held.", problem.message)
    started, started_at = time.monotonic(), timezone.now()
    return [_Sent(message, PostResult(Outcome.RETRYABLE, error=problem.message), "post", started, started_at) for message in messages]


def _refused(messages: list[OutboxMessage]) -> list[_Sent]:
    started, started_at = time.monotonic(), timezone.now()
    return [
        _Sent(
            message,
            PostResult(
                Outcome.REJECTED,
                error=f"No enabled ERP connection named {message.destination!r}."
                if message.destination
                else "No default ERP connection is configured.",
            ),
            "post",
            started,
            started_at,
        )
        for message in messages
    ]


class _Round:
    """What one dispatch run knows: its connections, their connectors, its lease and deadline."""

    def __init__(self, connections: dict[str, ErpConnection], deadline: float) -> None:
        self.connections = connections
        self.deadline = deadline
        longest = max((row.timeout_seconds for row in connections.values()), default=10)
        # A claim holds well past the slowest connection's timeout, never below the setting.
        self.lease_seconds = max(settings.ERP_SYNC_LEASE_SECONDS, longest * 2)
        self._outage_seen: set[str] = set()
        self._lock = threading.Lock()

    def connector(self, row: ErpConnection) -> Connector:
        return connector_for(row.as_config(), row.updated_at.isoformat())

    def batch_size(self, row: ErpConnection | None) -> int:
        return 1 if row is None or row.unreadable_secrets() else max(1, self.connector(row).batch_size)

    def deliver(self, messages: list[OutboxMessage]) -> int:
        """Send claimed messages of one connection, then each order's next message while they are acknowledged."""
        handled = 0
        while messages:
            row = _connection_for(messages[0], self.connections)
            if row is None:
                sent = _refused(messages)
            elif row.unreadable_secrets():
                sent = _held(messages, row)
            else:
                connector = self.connector(row)
                sent = _send(connector, row, messages)
                self._remember_batch_not_offered(row, connector)
            follow = self.lease_seconds if time.monotonic() < self.deadline else None
            acknowledged, following = _record(sent, row, follow_lease_seconds=follow)
            handled += len(messages)
            if row is not None:
                self._watch_outage(row, sent, acknowledged)
            messages = following
            mixed = [message for message in messages if _connection_for(message, self.connections) != row]
            if mixed:  # an order whose next message goes elsewhere: send it on its own
                messages = [message for message in messages if message not in mixed]
                for message in mixed:
                    handled += self.deliver([message])
        return handled

    def _remember_batch_not_offered(self, row: ErpConnection, connector: Connector) -> None:
        """The connector found the ERP has no batch call: keep that on the connection, once, for every worker."""
        if connector.batch_offered:
            return
        with self._lock:
            if (row.options or {}).get("batch_offered") is False:
                return
            row.options = {**(row.options or {}), "batch_offered": False}  # this run's copy: written once
        if erp_connection_batch_not_offered(name=row.name):
            logger.warning("ERP connection %s offers no %s: confirmations go one by one from now on", row.name, connector.batch_call)

    def _watch_outage(self, row: ErpConnection, sent: list[_Sent], acknowledged: list[OutboxMessage]) -> None:
        """After this run saw the ERP unreachable, its first answer brings the held-back messages forward."""
        if any(item.result.failure_kind in OUTAGE_KINDS for item in sent if item.result.outcome == Outcome.RETRYABLE):
            with self._lock:
                self._outage_seen.add(row.name)
        elif acknowledged and row.name in self._outage_seen:
            with self._lock:
                self._outage_seen.discard(row.name)
            resume_after_outage(row)


class _Senders:
    """The sending threads of one dispatch run: a thread pool whose threads keep their database
    connection from one send to the next, and close it themselves when the run ends."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="erp-send-thread")
        self._senders: set[int] = set()  # threads that sent, so may hold a database connection
        self._closed: set[int] = set()
        self._changed = threading.Condition()
        self._done = threading.Event()

    def submit(self, function: Callable[..., int], *args) -> Future:
        return self._pool.submit(self._send, function, *args)

    def _send(self, function: Callable[..., int], *args) -> int:
        with self._changed:
            self._senders.add(threading.get_ident())
        try:
            return function(*args)
        except BaseException:
            connections.close_all()  # a broken connection must not serve the next send
            raise

    def close(self) -> None:
        """Have every thread that sent close its own connection (a connection belongs to the thread
        that opened it), then end the pool. Call when no send is in flight.

        One closing job at a time, until every sender has closed: a closing job keeps its thread
        until the end, so the next one goes to another thread (at most one per thread of the pool).
        """
        try:
            with self._changed:
                submitted = 0
                while not self._senders <= self._closed and submitted < self.size:
                    self._pool.submit(self._close_own_connection)
                    submitted += 1
                    taken = self._changed.wait_for(lambda expected=submitted: len(self._closed) >= expected, timeout=_CLOSING_SECONDS)
                    if not taken:
                        logger.warning("A sending thread did not close its database connection within %s s", _CLOSING_SECONDS)
                        break
        finally:
            self._done.set()
            self._pool.shutdown(wait=True)

    def _close_own_connection(self) -> None:
        connections.close_all()
        with self._changed:
            self._closed.add(threading.get_ident())
            self._changed.notify_all()
        self._done.wait()


#: How long closing waits for a thread of the pool to take its closing job (it takes microseconds).
_CLOSING_SECONDS = 10.0


def _enabled_connections() -> dict[str, ErpConnection]:
    return {row.name: row for row in ErpConnection.objects.filter(is_enabled=True)}


def dispatch_until_idle(
    *, budget_seconds: float = 10.0, limit: int = 200, threads: int = 16, poll_seconds: float = 0.05, linger_seconds: float = 0.0
) -> int:
    """Send what is due until nothing is due and nothing is in flight, or the budget is spent (one task run).

    Each free sending thread gets the next due orders as soon as it is free; while threads
    are busy, the queue is looked at again every ``poll_seconds`` (longer when the look
    itself is slow), so messages recorded meanwhile do not wait for the busy ones. With
    ``linger_seconds``, an idle run keeps looking that long before it ends, so a steady
    stream of confirmations keeps one run (its threads and their database connections)
    instead of starting a task, threads and sessions for each gap. Returns the messages handled.
    """
    connections = _enabled_connections()
    if not connections:
        return 0
    deadline = time.monotonic() + budget_seconds
    run = _Round(connections, deadline)
    default = next((row for row in connections.values() if row.is_default), None)
    per_thread = min(limit, run.batch_size(default)) if default else 1
    threads = max(1, threads)
    senders: _Senders | None = None
    in_flight: set[Future] = set()
    handled = 0
    idle_since: float | None = None
    try:
        while True:
            free = threads - len(in_flight)
            claimed: list[OutboxMessage] = []
            looked = 0.0
            if free and time.monotonic() < deadline:
                started = time.monotonic()
                claimed = claim(limit=min(limit, free * per_thread), lease_seconds=run.lease_seconds)
                looked = time.monotonic() - started
            if claimed:
                idle_since = None
            if claimed and threads == 1:
                handled += _deliver_grouped(run, claimed, per_thread, submit=None)
                continue
            if claimed:
                senders = senders or _Senders(threads)
                in_flight |= set(_deliver_grouped(run, claimed, per_thread, submit=senders.submit))
            if not in_flight:
                if claimed:
                    continue
                now = time.monotonic()
                idle_since = idle_since or now
                if now - idle_since >= linger_seconds or now >= deadline:
                    break
                time.sleep(poll_seconds)
                continue
            done, in_flight = wait(in_flight, timeout=max(poll_seconds, 20 * looked), return_when=FIRST_COMPLETED)
            handled += _handled(done)
    finally:
        # Only a failure leaves the loop with sends in flight: they may finish, and whatever else
        # fails meanwhile is logged, not raised over the first failure. The threads are closed
        # however the run ends, so none is left behind holding a database connection.
        try:
            _handled(wait(in_flight).done, raising=False)
        finally:
            if senders is not None:
                senders.close()
    return handled


def _handled(futures, *, raising: bool = True) -> int:
    """Messages the finished sends handled; the first failure is raised (unless ``raising`` is False), any other logged."""
    handled, failure = 0, None
    for future in futures:
        error = future.exception()
        if error is None:
            handled += future.result()
        elif raising and failure is None:
            failure = error
        else:
            logger.error("A sending thread failed as well in this run", exc_info=error)
    if failure is not None:
        raise failure
    return handled


def _deliver_grouped(run: _Round, claimed: list[OutboxMessage], per_thread: int, *, submit):
    """Split claimed messages by connection into groups a request can carry; deliver here, or hand to threads."""
    groups: dict[str | None, list[OutboxMessage]] = {}
    for message in claimed:
        row = _connection_for(message, run.connections)
        groups.setdefault(row.name if row else None, []).append(message)
    chunks = []
    for name, messages in groups.items():
        size = min(per_thread, run.batch_size(run.connections.get(name) if name else None))
        chunks += [messages[index : index + size] for index in range(0, len(messages), size)]
    if submit is None:
        return sum(run.deliver(chunk) for chunk in chunks)
    return [submit(run.deliver, chunk) for chunk in chunks]
