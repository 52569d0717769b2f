"""When sending threads fail, a dispatch run still ends cleanly: it waits for the sends in flight,
raises the first failure, logs the others, and closes its sending threads (and their database
connections) whatever happened; none is left behind waiting for work."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
from django.db import connection, connections

from erp_sync.dispatcher import dispatch_until_idle
from erp_sync.models import OutboxMessage
from erp_sync.services import erp_connection_upsert
from simulators.erp import start_simulator

pytestmark = pytest.mark.subprocess


def _senders() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("erp-send-") and thread.is_alive()]


def _message(order: str, kind: str, payload) -> OutboxMessage:
    key = uuid.uuid4()
    return OutboxMessage.objects.create(
        idempotency_key=key, kind=kind, partition_key=order, sequence=1, source_uuid=key, payload=payload
    )


def _cut_the_senders_off(simulator, keep: set[int]) -> None:
    """Once the ERP holds a request (answering slowly), end every other database session of this
    database: the send waiting for the answer then fails when it records it."""
    deadline = time.monotonic() + 30
    while simulator.control.health()["counters"].get("requests", 0) < 1:
        assert time.monotonic() < deadline, "the ERP never got the request"
        time.sleep(0.02)
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> ALL(%s)",
            [list(keep)],
        )
    connections["default"].close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql_only(reason="connections are cut with pg_terminate_backend")
def test_two_failing_sending_threads_leave_no_thread_behind(caplog):
    before = set(_senders())
    with start_simulator("sap") as simulator:
        erp_connection_upsert(
            name="plant-sap", kind="sap", base_url=simulator.service_url, username=simulator.credentials["user"],
            password=simulator.credentials["password"], options={"batch_size": 1}, timeout_seconds=10, is_default=True,
        )
        # One send fails at once (a message whose payload is not an object); the other reads the
        # database, then waits for a slow ERP and fails when its session has been ended meanwhile.
        _message("WO-A", "confirmation", [1])
        _message("WO-B", "reversal", {"operation": 10, "reverses": {"idempotency_key": str(uuid.uuid4())}})
        simulator.control.set_faults(latency_ms=1500)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (own,) = cursor.fetchone()
        cutter = threading.Thread(target=_cut_the_senders_off, args=(simulator, {own}))
        cutter.start()

        with caplog.at_level(logging.ERROR, logger="erp_sync.dispatcher"), pytest.raises(Exception) as failed:  # noqa: B017
            dispatch_until_idle(budget_seconds=20, threads=2)
        cutter.join(timeout=30)

    assert set(_senders()) == before
    assert isinstance(failed.value, AttributeError)  # the first failure is the one raised
    assert [record.getMessage() for record in caplog.records] == ["A sending thread failed as well in this run"]
    assert "terminat" in str(caplog.records[0].exc_info[1])
