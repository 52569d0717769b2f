"""The outbox's state machine: one map of moves, obeyed by ``message_transition`` and by the
dispatcher's bulk SQL alike; and outage recovery that goes by the kind of failure a connector
classified, whatever the error's wording."""

from __future__ import annotations

import gc
import itertools
import socket
import threading
import time
import uuid
import warnings
from datetime import timedelta

import pytest
import requests
from django.db import connection, transaction
from django.utils import timezone

from common.errors import DomainError
from erp_sync import dispatcher
from erp_sync.connectors.base import (
    ConnectionConfig,
    FailureKind,
    Outcome,
    Posting,
    PostResult,
    classify_exception,
)
from erp_sync.connectors.mapping import SAMPLE_PAYLOAD
from erp_sync.connectors.registry import connector_class
from erp_sync.models import OutboxMessage
from erp_sync.services import erp_connection_upsert
from erp_sync.transitions import TRANSITIONS, message_transition

State = OutboxMessage.State
PAIRS = list(itertools.product(State.values, repeat=2))
ALLOWED = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}


def _message(state: str, *, order: str | None = None, **fields) -> OutboxMessage:
    key = uuid.uuid4()
    fields.setdefault("next_attempt_at", timezone.now() - timedelta(seconds=1))
    return OutboxMessage.objects.create(
        idempotency_key=key, kind="confirmation", partition_key=order or f"WO-{key.hex[:12]}", sequence=1, source_uuid=key,
        payload=dict(SAMPLE_PAYLOAD, work_order=order or "WO-1001"), state=state, **fields,
    )


def _state(message: OutboxMessage) -> str:
    return OutboxMessage.objects.values_list("state", flat=True).get(pk=message.pk)


def test_the_map_names_every_state():
    assert set(TRANSITIONS) == set(State.values)
    assert all(targets <= set(State.values) for targets in TRANSITIONS.values())


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_message_transition_makes_the_moves_of_the_map_and_refuses_every_other(db, source, target):
    message = _message(source)

    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if (source, target) in ALLOWED:
            message_transition(locked, target=target, changes={"last_error": "moved"})
            refusal = None
        else:
            with pytest.raises(DomainError) as refused:
                message_transition(locked, target=target, changes={"last_error": "moved"})
            refusal = refused.value

    stored = OutboxMessage.objects.get(pk=message.pk)
    if (source, target) in ALLOWED:
        assert (stored.state, stored.last_error) == (target, "moved")
    else:
        assert refusal.code == "illegal_message_transition" and refusal.kind == 409
        assert (stored.state, stored.last_error) == (source, "")


def test_the_bulk_statements_move_messages_only_as_the_map_allows():
    written_by_sql = (
        {(source, State.SENDING) for source in dispatcher.CLAIM_SOURCES}
        | {(State.SENDING, target) for target in dispatcher.OUTCOME_TARGETS}
        | {dispatcher.LEASE_EXPIRED}
    )

    assert written_by_sql <= ALLOWED
    assert set(dispatcher.CLAIM_SOURCES) == {State.QUEUED, State.RETRYING}
    assert set(dispatcher.OUTCOME_TARGETS) == {State.ACKNOWLEDGED, State.RETRYING, State.DEAD}


def test_the_claim_takes_a_message_from_exactly_the_states_the_map_lets_go_to_sending(db):
    messages = {state: _message(state) for state in State.values}

    claimed = dispatcher.claim(limit=100, lease_seconds=30)

    assert {message.pk for message in claimed} == {
        messages[state].pk for state in State.values if (state, State.SENDING) in ALLOWED
    }
    assert {_state(message) for message in claimed} == {State.SENDING}
    assert {state: _state(message) for state, message in messages.items() if (state, State.SENDING) not in ALLOWED} == {
        state: state for state in State.values if (state, State.SENDING) not in ALLOWED
    }


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_an_outcome_is_written_only_from_sending_and_only_to_a_state_the_map_allows(db, source, target):
    token = uuid.uuid4()
    message = _message(source, claim_token=token)
    change = {"state": target, "last_error": "outcome", "failure_kind": "", "claim_token": None, "lease_until": None}
    sent = dispatcher._Sent(message, PostResult(Outcome.ACCEPTED), "post", 0.0, timezone.now())

    with transaction.atomic():
        written = dispatcher._write_outcomes([sent], [change])

    stored = OutboxMessage.objects.get(pk=message.pk)
    if source == State.SENDING and (source, target) in ALLOWED:
        assert (written, stored.state, stored.last_error) == ({message.pk}, target, "outcome")
    else:
        assert (written, stored.state, stored.last_error, stored.claim_token) == (set(), source, "", token)


def test_an_expired_claim_goes_back_to_the_queue_only_from_sending(db):
    past = timezone.now() - timedelta(minutes=5)
    messages = {state: _message(state, lease_until=past) for state in State.values}

    returned = dispatcher.release_expired_leases()

    assert returned == 1
    assert {state: _state(message) for state, message in messages.items()} == {
        **{state: state for state in State.values}, State.SENDING: State.RETRYING
    }
    assert OutboxMessage.objects.get(pk=messages[State.SENDING].pk).failure_kind == FailureKind.AMBIGUOUS


# --- failure kinds ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_after_an_outage_goes_by_the_kind_of_failure_not_its_wording():
    row, _created = erp_connection_upsert(
        name="plant-sap", kind="sap", base_url=f"http://127.0.0.1:{_closed_port()}/sap", username="mes", password="pw", is_default=True
    )
    later = timezone.now() + timedelta(minutes=10)
    reworded = _message(State.RETRYING, next_attempt_at=later, failure_kind=FailureKind.UNREACHABLE, last_error="the ERP was away")
    slow_to_connect = _message(State.RETRYING, next_attempt_at=later, failure_kind=FailureKind.TIMEOUT, last_error="")
    busy = _message(State.RETRYING, next_attempt_at=later, failure_kind=FailureKind.REFUSED, last_error="connection refused: (says the ERP)")
    maybe_sent = _message(State.RETRYING, next_attempt_at=later, failure_kind=FailureKind.AMBIGUOUS, last_error="connect timeout: no")

    resumed = dispatcher.resume_after_outage(row)

    due = {message.pk for message in OutboxMessage.objects.filter(next_attempt_at__lte=timezone.now())}
    assert resumed == 2
    assert due == {reworded.pk, slow_to_connect.pk}
    assert {busy.pk, maybe_sent.pk}.isdisjoint(due)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_unreachable_and_an_unanswered_request_ambiguous():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    accepted: list[socket.socket] = []
    acceptor = threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True)
    acceptor.start()
    try:
        with pytest.raises(requests.RequestException) as refused:
            requests.get(f"http://127.0.0.1:{_closed_port()}/", timeout=2)
        with pytest.raises(requests.RequestException) as unanswered:
            requests.get(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=(2, 0.3))
    finally:
        acceptor.join(timeout=2)
        for peer in accepted:
            peer.close()
        silent.close()

    assert classify_exception(refused.value).failure_kind == FailureKind.UNREACHABLE
    assert classify_exception(unanswered.value).failure_kind == FailureKind.AMBIGUOUS


@pytest.mark.parametrize("kind", ["sap", "erpnext", "odoo", "rest"])
def test_every_connector_says_an_erp_that_refuses_connections_is_unreachable(kind):
    config = ConnectionConfig(
        name="away", kind=kind, base_url=f"http://127.0.0.1:{_closed_port()}/", username="mes", password="pw", token="t",
        options={"database": "plant"} if kind == "odoo" else {}, timeout_seconds=2,
    )
    connector = connector_class(kind)(config)
    posting = Posting(
        idempotency_key=str(uuid.uuid4()), kind="confirmation", work_order="WO-1001", sequence=1, payload=dict(SAMPLE_PAYLOAD),
    )
    try:
        result = connector.post(posting)
    finally:
        connector.close()

    assert (result.outcome, result.failure_kind) == (Outcome.RETRYABLE, FailureKind.UNREACHABLE)


def test_an_outcome_without_a_kind_takes_the_kind_its_outcome_implies():
    assert [PostResult(outcome).failure_kind for outcome in Outcome] == ["", "", "refused", "rejected", "ambiguous"]
    assert PostResult(Outcome.RETRYABLE, failure_kind=FailureKind.TIMEOUT).failure_kind == "timeout"


@pytest.mark.django_db(transaction=True)
def test_a_dispatch_run_records_the_kind_on_the_message_and_the_attempt_and_leaves_no_database_session_behind():
    erp_connection_upsert(
        name="plant-sap", kind="sap", base_url=f"http://127.0.0.1:{_closed_port()}/sap", username="mes", password="pw",
        timeout_seconds=2, is_default=True,
    )
    messages = [_message(State.QUEUED) for _index in range(6)]
    sessions_before = _sessions() if connection.vendor == "postgresql" else 0

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", ResourceWarning)
        dispatcher.dispatch_until_idle(budget_seconds=5, threads=4)
        gc.collect()  # a connection its thread left open is closed here, with a warning

    stored = list(OutboxMessage.objects.filter(pk__in=[message.pk for message in messages]).prefetch_related("deliveries"))
    assert {(message.state, message.failure_kind) for message in stored} == {(State.RETRYING, FailureKind.UNREACHABLE)}
    assert {attempt.failure_kind for message in stored for attempt in message.deliveries.all()} == {FailureKind.UNREACHABLE}
    assert [str(warning.message) for warning in warned if issubclass(warning.category, ResourceWarning)] == []
    if connection.vendor == "postgresql":  # SQLite has no server sessions to count
        assert _sessions_settle_at(sessions_before) == sessions_before
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("erp-send-")] == []


def _sessions_settle_at(expected: int) -> int:
    """The number of other sessions once they settle: a backend leaves a moment after its client closed."""
    deadline = time.monotonic() + 5
    while (count := _sessions()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


def _sessions() -> int:
    """Database sessions of this test database other than this thread's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]
