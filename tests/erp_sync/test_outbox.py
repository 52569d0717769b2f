"""The outbox door refuses to write outside the transaction of the facts it reports."""

import threading
import time
import uuid

import pytest
from django.utils import translation

from erp_sync.models import OutboxMessage
from erp_sync.outbox import outbox_add, sync_badge


@pytest.mark.django_db(transaction=True)
def test_outbox_add_outside_a_transaction_is_refused():
    key = uuid.uuid4()

    with pytest.raises(RuntimeError):
        outbox_add(kind="confirmation", partition_key="WO-1", source_uuid=key, idempotency_key=key, payload={})

    assert OutboxMessage.objects.count() == 0


def test_outbox_add_inside_a_transaction_numbers_the_partition(db):
    keys = [uuid.uuid4() for _ in range(2)]

    first = outbox_add(kind="confirmation", partition_key="WO-1", source_uuid=keys[0], idempotency_key=keys[0], payload={"a": 1})
    second = outbox_add(kind="reversal", partition_key="WO-1", source_uuid=keys[1], idempotency_key=keys[1], payload={})

    assert (first.sequence, second.sequence) == (1, 2)
    assert OutboxMessage.objects.get(pk=first.pk).payload == {"a": 1, "idempotency_key": str(keys[0]), "sequence": 1}


@pytest.fixture
def kicks(monkeypatch):
    """Wake-ups counted instead of published; the deferred ones run on the module's own thread."""
    from erp_sync import wakeups

    published = []
    kicked = threading.Semaphore(0)

    def counted():
        published.append(threading.current_thread().name)
        kicked.release()

    monkeypatch.setattr(wakeups, "kick", counted)
    monkeypatch.setattr(wakeups, "KICK_INTERVAL_SECONDS", 0.2)
    monkeypatch.setattr(wakeups, "_kick_state", {"last": float("-inf"), "pending": False})

    def wait_for(count):
        for _ in range(count):
            assert kicked.acquire(timeout=10), f"only {len(published)} wake-ups"
        return published

    return wakeups, published, wait_for


def test_first_kick_wakes_the_sender_at_once_and_later_ones_share_one_wake_up(kicks):
    wakeups, published, wait_for = kicks

    wakeups.wake_sender()
    assert published == [threading.current_thread().name]  # at once, in the committing thread

    for _ in range(5):
        wakeups.wake_sender()
    assert len(published) == 1  # throttled ...
    assert wakeups._kick_state["pending"]  # ... but one wake-up is due for all of them
    wait_for(2)
    assert published[1] == "erp-sync-wake-ups" and not wakeups._kick_state["pending"]

    wakeups.wake_sender()  # inside the interval again: a new deferred wake-up, never none
    wakeups.wake_sender()
    wait_for(1)
    assert published[2:] == ["erp-sync-wake-ups"]
    time.sleep(0.3)
    assert len(published) == 3  # the second call rode on the first's


def test_deferred_wake_ups_run_in_order_on_one_thread_that_outlives_a_failure():
    from erp_sync.wakeups import Later

    later, ran, done = Later(), [], threading.Event()

    def fail():
        ran.append(("fail", threading.get_ident()))
        raise RuntimeError("broker gone")

    later.call(0.2, lambda: (ran.append(("last", threading.get_ident())), done.set()))
    later.call(0.0, fail)
    later.call(0.1, lambda: ran.append(("second", threading.get_ident())))

    assert done.wait(10)
    assert [name for name, _thread in ran] == ["fail", "second", "last"]
    assert len({thread for _name, thread in ran}) == 1 and ran[0][1] != threading.get_ident()


def test_a_forked_child_does_not_inherit_a_pending_wake_up(kicks):
    wakeups, published, wait_for = kicks
    wakeups.wake_sender()
    wakeups.wake_sender()
    assert wakeups._kick_state["pending"]

    wakeups._forget_kicks_in_child()
    wakeups.wake_sender()

    assert len(published) == 2 and published[1] == threading.current_thread().name


def test_every_page_shows_a_messages_state_with_the_same_label_and_badge_classes():
    with translation.override("en"):
        badges = {state: sync_badge(state=state) for state in [*OutboxMessage.State.values, None]}

    assert badges == {
        "queued": ("on its way", "sync sync-queued"),
        "sending": ("on its way", "sync sync-sending"),
        "retrying": ("retrying", "sync sync-retrying"),
        "acknowledged": ("in the ERP", "sync sync-acknowledged"),
        "dead": ("refused by the ERP", "sync sync-dead"),
        "discarded": ("discarded", "sync sync-discarded"),
        None: ("—", "sync sync-none"),
    }
