"""With the broker down, a confirmation is answered at once: the wake-up after its commit is tried once,
briefly, and then skipped for a while; the message waits safely in the outbox for the sweep."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
import redis
from django.conf import settings

from erp_sync import wakeups
from erp_sync.models import OutboxMessage
from mes.services.accounts import api_token_create
from tests.erp_sync.queued import queued_tasks as _queued_tasks
from tests.helpers import current_database_url

PROCESS = """
import json, sys, django
django.setup()
from django.conf import settings
from django.test import Client
from erp_sync import wakeups
client = Client()
answers = [
    client.post("/api/v1/confirmations", data=json.dumps(body), content_type="application/json",
                HTTP_AUTHORIZATION="Token " + sys.argv[1]).status_code
    for body in json.loads(sys.argv[2])
]
print(json.dumps({
    "answers": answers,
    "wake_ups": {key: value for key, value in wakeups.wake_up_state().items() if key != "paused_until"},
    "connect_timeout": settings.CELERY_BROKER_CONNECTION_TIMEOUT,
    "transport_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
}))
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_confirmations_are_answered_while_redis_is_down_and_wait_in_the_outbox(released_order, tmp_path):
    token = api_token_create(username="station-07", role="operator").key
    bodies = [{"client_id": str(uuid.uuid4()), "work_order": "WO-1001", "operation": 10, "good_qty": 1} for _ in range(3)]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mes.settings",
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
        "MES_VAR_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "-c", PROCESS, token, json.dumps(bodies)],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["answers"] == [201, 201, 201]
    # One wake-up was tried and failed; the ones after it were not tried (skipped now or, for commits
    # close together, folded into one deferred wake-up that comes after the pause began).
    assert (report["wake_ups"]["attempts"], report["wake_ups"]["failures"], report["wake_ups"]["paused"]) == (1, 1, True)
    assert report["connect_timeout"] == 0.5
    assert report["transport_options"] == {"max_retries": 0, "socket_connect_timeout": 0.5}
    assert "No wake-ups from this process for 10.0 s" in result.stderr
    assert list(OutboxMessage.objects.values_list("state", flat=True)) == ["queued"] * 3


@pytest.fixture
def wake_ups():
    """This process's wake-up record, as a fresh process has it, and its flag store put back afterwards."""
    before = dict(wakeups._wake_ups)
    wakeups._wake_ups.update(attempts=0, failures=0, skipped=0, paused_until=float("-inf"))
    _queued_tasks()
    yield wakeups._wake_ups
    wakeups._flags = None
    wakeups._wake_ups.update(before)


def test_a_wake_up_that_finds_the_brokers_redis_down_pauses_the_next_ones(db, wake_ups, settings):
    settings.ERP_SYNC_WAKE_UP_PAUSE_SECONDS = 3600
    wakeups._flags = redis.Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=0.5)

    for _ in range(3):
        wakeups.kick()

    state = wakeups.wake_up_state()
    assert (state["attempts"], state["failures"], state["skipped"], state["paused"]) == (1, 1, 2, True)
    assert _queued_tasks() == []


def test_wake_ups_through_a_working_broker_are_never_paused(db, wake_ups):
    for _ in range(3):
        wakeups.kick()

    state = wakeups.wake_up_state()
    assert (state["attempts"], state["failures"], state["skipped"], state["paused"]) == (3, 0, 0, False)
    assert [name for name, _kwargs in _queued_tasks()] == ["erp_sync.dispatch"] * 3
