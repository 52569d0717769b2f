"""When the dispatcher sends: wake-ups after commit (one waiting at a time with a Redis broker), and
messages held back by an ERP outage, due again as soon as the ERP answers."""

from __future__ import annotations

import pytest
import redis
from django.utils import timezone

from erp_sync import tasks, wakeups
from erp_sync.dispatcher import dispatch_until_idle, probe_unreachable_connections
from erp_sync.models import OutboxMessage
from simulators.erp import start_simulator
from tests.erp_sync.queued import queued_tasks as _queued_tasks
from tests.erp_sync.test_delivery import _confirm, _connect, _plant

#: A Redis database of these tests (not the bench's, which it flushes); only the flag's key is touched.
FLAG_REDIS = "redis://127.0.0.1:6379/6"


def _states(number: str) -> list[str]:
    return list(OutboxMessage.objects.filter(partition_key=number).order_by("sequence").values_list("state", flat=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_messages_held_back_by_an_outage_are_due_once_the_erp_answers_again(settings):
    settings.ERP_SYNC_BACKOFF_BASE_SECONDS = 60  # a back-off nobody waits out in a test
    settings.ERP_SYNC_BACKOFF_CAP_SECONDS = 600
    with start_simulator("sap") as simulator:
        _connect(simulator)
        refused_a, refused_b, failing = _plant(3, prefix="OU")
        simulator.control.set_faults(error_rate=1.0)  # the ERP answers, with 5xx
        _confirm(failing, 10, 1)
        dispatch_until_idle(budget_seconds=5, threads=2)
        simulator.control.set_faults(error_rate=0.0, down=True)  # now it refuses connections
        for number in (refused_a, refused_b):
            _confirm(number, 10, 1)
            _confirm(number, 10, 1)
        dispatch_until_idle(budget_seconds=5, threads=2)
        held = {number: OutboxMessage.objects.get(partition_key=number, sequence=1) for number in (refused_a, refused_b, failing)}
        assert {message.state for message in held.values()} == {"retrying"}
        assert all(message.next_attempt_at > timezone.now() for message in held.values())
        assert "connection refused" in held[refused_a].last_error and "SAP HTTP 50" in held[failing].last_error

        still_down = probe_unreachable_connections()
        simulator.control.set_faults(down=False)
        resumed = probe_unreachable_connections()
        dispatch_until_idle(budget_seconds=10, threads=2)

    assert (still_down, resumed) == (0, 2)
    assert _states(refused_a) == _states(refused_b) == ["acknowledged", "acknowledged"]
    failing_head = OutboxMessage.objects.get(partition_key=failing, sequence=1)
    assert failing_head.state == "retrying"  # the ERP's own errors keep their back-off
    assert failing_head.next_attempt_at == held[failing].next_attempt_at


@pytest.fixture
def flags():
    """The flag in a real Redis, as with a Redis broker; the tasks themselves still go to the in-memory broker."""
    store = redis.Redis.from_url(FLAG_REDIS)
    store.delete(wakeups.DISPATCH_QUEUED_FLAG)
    wakeups._flags = store
    _queued_tasks()
    yield store
    wakeups._flags = None
    store.delete(wakeups.DISPATCH_QUEUED_FLAG)
    store.close()


def test_one_wake_up_waits_in_the_queue_at_a_time(db, flags):
    wakeups.kick()
    wakeups.kick()
    waiting = [name for name, _kwargs in _queued_tasks()]

    tasks.dispatch()  # clears the flag before it looks for work: a commit from now on wakes another
    wakeups.kick()
    after_start = [name for name, _kwargs in _queued_tasks()]

    assert (waiting, after_start) == (["erp_sync.dispatch"], ["erp_sync.dispatch"])


def test_without_a_redis_broker_every_commit_wakes_a_task(db):
    _queued_tasks()

    wakeups.kick()
    wakeups.kick()

    assert [name for name, _kwargs in _queued_tasks()] == ["erp_sync.dispatch", "erp_sync.dispatch"]


def test_with_the_embedded_broker_one_wake_up_waits_at_a_time_through_the_shared_file_cache(db, settings, tmp_path):
    """``make run``'s broker: without the flag, a steady stream of commits queued one wake-up each, and
    each held a worker slot while it lingered (969 waiting after 12 minutes of traffic)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path / "cache")}}
    wakeups._flags = wakeups.CacheFlags()
    _queued_tasks()
    try:
        wakeups.kick()
        wakeups.kick()
        wakeups.kick()
        waiting = [name for name, _kwargs in _queued_tasks()]
        flag_files = list((tmp_path / "cache").iterdir())

        tasks.dispatch()  # clears the flag before it looks for work
        wakeups.kick()
        after_start = [name for name, _kwargs in _queued_tasks()]
    finally:
        wakeups._flags = None

    assert waiting == after_start == ["erp_sync.dispatch"]
    assert len(flag_files) == 1  # the flag lives in the files every process of the plant shares


def test_the_flag_lives_with_the_broker():
    embedded = {"broker_url": "sqlite:////plant/var/broker.sqlite3", "transport": "mes.embedded_broker:Transport"}
    assert wakeups.flag_store_kind(**embedded) == "cache"
    assert wakeups.flag_store_kind(broker_url="redis://127.0.0.1:6379/0", transport=None) == "redis"
    assert wakeups.flag_store_kind(broker_url="amqp://127.0.0.1:5672//", transport=None) is None
    assert wakeups.flag_store_kind(broker_url="memory://localhost/", transport=None) is None
