"""The outbox door refuses to write outside the transaction of the facts it reports."""

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


class _FakeTimer:
    """Stands in for threading.Timer: records what would run, runs it only when told."""

    started: list = []

    def __init__(self, interval, function):
        self.interval, self.function, self.daemon = interval, function, False

    def start(self):
        _FakeTimer.started.append(self)


@pytest.fixture
def kicks(monkeypatch):
    from erp_sync import wakeups

    published = []
    _FakeTimer.started = []
    monkeypatch.setattr(wakeups, "kick", lambda: published.append("kick"))
    monkeypatch.setattr(wakeups.threading, "Timer", _FakeTimer)
    monkeypatch.setattr(wakeups, "KICK_INTERVAL_SECONDS", 3600)  # every later kick falls inside the interval
    monkeypatch.setattr(wakeups, "_kick_state", {"last": float("-inf"), "pending": False})
    return wakeups, published


def test_first_kick_wakes_the_sender_at_once_and_later_ones_share_one_wake_up(kicks):
    wakeups, published = kicks

    wakeups.wake_sender()
    assert published == ["kick"] and _FakeTimer.started == []

    for _ in range(5):
        wakeups.wake_sender()
    assert published == ["kick"]  # throttled ...
    assert len(_FakeTimer.started) == 1  # ... but one wake-up is due for all of them
    assert _FakeTimer.started[0].daemon

    _FakeTimer.started[0].function()
    assert published == ["kick", "kick"]

    wakeups.wake_sender()  # inside the interval again: a new deferred wake-up, never none
    assert len(_FakeTimer.started) == 2 and published == ["kick", "kick"]


def test_a_forked_child_does_not_inherit_a_pending_wake_up(kicks):
    wakeups, published = kicks
    wakeups.wake_sender()
    wakeups.wake_sender()
    assert wakeups._kick_state["pending"]

    wakeups._forget_kicks_in_child()
    wakeups.wake_sender()

    assert published == ["kick", "kick"]


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
