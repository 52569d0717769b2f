"""The event stream against the machine's RabbitMQ (5672) and Mosquitto (1883), with real consumers:
every event reaches both as CloudEvents 1.0, in order per work order, at least once; a destination
that is down holds its events while the other goes on and then catches up; a broker connection
dropped from the server side (a loopback proxy the test starts, drops and takes down, for RabbitMQ
and Mosquitto; and RabbitMQ's own ``rabbitmqctl close_connection``) loses and reorders nothing.

Each test uses an exchange and a topic prefix of its own."""

from __future__ import annotations

import datetime
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from erp_sync.event_destinations import event_destination_upsert
from erp_sync.event_stream import destination_publish, events_number
from erp_sync.models import EventDestination, OutboxMessage, StreamEvent
from erp_sync.outbox import NewEvent, stream_add, stream_add_many
from mes.services.transitions import work_order_lock, work_orders_lock
from mes.services.work_orders import work_order_transition
from tests.erp_sync.streams import (
    AmqpConsumer,
    MqttConsumer,
    TcpProxy,
    first_seen,
    free_port,
    unique,
    wait_for,
)
from tests.factories import WorkOrderFactory
from tests.helpers import confirm

ORDERS = ("WO-S1", "WO-S2", "WO-S3")


@pytest.fixture
def exchange():
    return unique("test.events.")


@pytest.fixture
def prefix():
    return unique("test/events-") + "/"


@pytest.fixture
def rabbit(exchange):
    consumer = AmqpConsumer(exchange)
    yield consumer
    consumer.close()


@pytest.fixture
def mosquitto(prefix):
    consumer = MqttConsumer(prefix)
    yield consumer
    consumer.close()


def _orders(plant) -> None:
    for number in ORDERS:
        WorkOrderFactory(number=number, item=plant["item"], quantity=Decimal("10"), due_date=datetime.date(2030, 1, 31))


def _work(plant) -> None:
    """Real facts through the services: releases, confirmations, a reversal, a pause and a resume."""
    _orders(plant)
    for number in ORDERS:
        work_order_transition(number=number, action="release")
    for round_ in range(3):
        for number in ORDERS:
            confirm(number, 10, good_qty=1 + round_)
    work_order_transition(number="WO-S2", action="pause")
    work_order_transition(number="WO-S2", action="resume")


def _log() -> list[StreamEvent]:
    return list(StreamEvent.objects.order_by("id"))


def _by_order(events) -> dict[str, list[str]]:
    orders: dict[str, list[str]] = defaultdict(list)
    for event in events:
        orders[event["subject"] if isinstance(event, dict) else event.subject].append(
            event["id"] if isinstance(event, dict) else str(event.key)
        )
    return dict(orders)


def test_events_reach_rabbitmq_and_mosquitto_as_cloudevents_in_order(plant, exchange, prefix, rabbit, mosquitto, settings):
    settings.MES_EVENT_SOURCE = "/plants/test"
    event_destination_upsert(name="rabbit", url="amqp://guest:guest@127.0.0.1:5672/%2F", exchange=exchange)
    event_destination_upsert(name="mosquitto", url="mqtt://127.0.0.1:1883", topic_prefix=prefix)
    _work(plant)
    log = _log()
    kinds = {event.kind for event in log}
    assert {"confirmation", "work_order.released", "work_order.paused", "work_order.in_progress"} <= kinds

    assert destination_publish(name="rabbit") == len(log)
    assert destination_publish(name="mosquitto") == len(log)

    for consumer in (rabbit, mosquitto):
        received = wait_for(consumer, len(log))
        assert len(received) == len(log)
        assert _by_order(received) == _by_order(log)  # every event, each order's in its order
    message = OutboxMessage.objects.filter(partition_key="WO-S1", kind="confirmation").order_by("sequence").first()
    event = next(event for event in rabbit.events if event["id"] == str(message.idempotency_key))
    assert set(event) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
    assert event["specversion"] == "1.0"
    assert event["source"] == "/plants/test"
    assert event["type"] == "mes.confirmation"
    assert event["subject"] == "WO-S1"
    assert event["datacontenttype"] == "application/json"
    assert datetime.datetime.fromisoformat(event["time"]).tzinfo is not None
    assert event["data"] == message.payload  # the outbox message's payload, its sequence included
    index = rabbit.events.index(event)
    assert rabbit.keys[index] == "mes.confirmation.WO-S1"
    assert rabbit.properties[index]["delivery_mode"] == 2
    assert rabbit.properties[index]["content_type"].startswith("application/cloudevents+json")
    released = next(event for event in mosquitto.events if event["type"] == "mes.work_order.released" and event["subject"] == "WO-S3")
    assert mosquitto.topics[mosquitto.events.index(released)] == f"{prefix}work_order.released/WO-S3"
    assert released["data"]["status"] == "released" and released["data"]["from"] == "planned"
    # Published once: the destination's position says so, and a second run has nothing to send.
    assert destination_publish(name="rabbit") == 0
    assert EventDestination.objects.get(name="rabbit").published_count == len(log)


def test_a_destination_that_is_down_holds_its_events_while_another_goes_on(plant, exchange, prefix, rabbit, mosquitto):
    dead_port = free_port()
    event_destination_upsert(name="rabbit", url=f"amqp://guest:guest@127.0.0.1:{dead_port}/%2F", exchange=exchange)
    event_destination_upsert(name="mosquitto", url="mqtt://127.0.0.1:1883", topic_prefix=prefix)
    _work(plant)
    log = _log()

    assert destination_publish(name="rabbit") == 0
    assert destination_publish(name="mosquitto") == len(log)
    down = EventDestination.objects.get(name="rabbit")
    assert down.position == 0 and down.failing_since is not None and "Connection" in down.last_error
    assert down.next_attempt_at > down.failing_since  # backs off: the sweep leaves it alone a moment
    assert destination_publish(name="rabbit") == 0  # not due yet
    assert len(wait_for(mosquitto, len(log))) == len(log)

    more = [str(uuid.uuid4()) for _ in range(3)]
    with transaction.atomic():
        work_order_lock(number="WO-S1")
        for key in more:
            stream_add(kind="test.more", subject="WO-S1", key=uuid.UUID(key), data={"n": key})
    # The broker is back (here: the right port); the destination catches up from where it stopped.
    event_destination_upsert(name="rabbit", url="amqp://guest:guest@127.0.0.1:5672/%2F", exchange=exchange)
    assert destination_publish(name="rabbit", force=True) == len(log) + 3
    received = wait_for(rabbit, len(log) + 3)
    assert _by_order(received) == _by_order(_log())
    caught_up = EventDestination.objects.get(name="rabbit")
    assert caught_up.failing_since is None and caught_up.last_error == ""
    assert destination_publish(name="mosquitto") == 3


def _bulk(count_per_order: int, start: int = 0, orders=ORDERS) -> None:
    """Events for several orders, interleaved, each order's written under its lock as services do."""
    for index in range(start, start + count_per_order):
        with transaction.atomic():
            for number in orders:
                work_order_lock(number=number)
                stream_add(kind="test.step", subject=number, key=uuid.uuid4(), data={"work_order": number, "step": index})


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["amqp", "mqtt"])
def test_nothing_lost_or_reordered_when_the_broker_drops_the_connection(plant, exchange, prefix, kind, request):
    """The publisher's connection goes through a proxy the test drops mid-batch, twice, and takes
    down for a while (connections refused) before it comes back, as a broker restart would."""
    _orders(plant)
    upstream = (("127.0.0.1", 5672) if kind == "amqp" else ("127.0.0.1", 1883))
    proxy = TcpProxy(upstream)
    request.addfinalizer(proxy.close)
    consumer = AmqpConsumer(exchange) if kind == "amqp" else MqttConsumer(prefix)
    request.addfinalizer(consumer.close)
    if kind == "amqp":
        event_destination_upsert(name="broker", url=f"amqp://guest:guest@{proxy.url_host}/%2F", exchange=exchange)
    else:
        event_destination_upsert(name="broker", url=f"mqtt://{proxy.url_host}", topic_prefix=prefix)
    _bulk(200)
    log = _log()
    total = len(log)

    proxy.drop_after(30_000)  # a few batches in, mid-batch
    first = destination_publish(name="broker", batch_size=50, force=True)
    assert proxy.drops == 1 and first < total
    stopped = EventDestination.objects.get(name="broker")
    assert stopped.position == first and stopped.last_error  # the unconfirmed batch is not counted

    proxy.down()  # the broker is away: connections refused
    assert destination_publish(name="broker", batch_size=50, force=True) == 0
    assert EventDestination.objects.get(name="broker").position == first
    proxy.up()
    proxy.drop_after(20_000)
    second = destination_publish(name="broker", batch_size=50, force=True)
    assert 0 < second < total - first
    _bulk(20, start=200)  # more work while the broker comes and goes
    rest = destination_publish(name="broker", batch_size=50, force=True)
    assert first + second + rest == len(_log())

    received = wait_for(consumer, len(_log()), seconds=20)
    kept = first_seen(received)
    assert len(kept) == len(_log())  # nothing lost (repeats of the unconfirmed batches are dropped by id)
    assert _by_order(kept) == _by_order(_log())  # and nothing reordered within an order
    steps = defaultdict(list)
    for event in kept:
        steps[event["subject"]].append(event["data"]["step"])
    assert all(values == sorted(values) for values in steps.values())


def _many(count_per_order: int) -> None:
    """Many events fast: a thousand per order and transaction, the orders locked as services lock them."""
    for start in range(0, count_per_order, 1000):
        with transaction.atomic():
            work_orders_lock(numbers=ORDERS)
            stream_add_many(events=[
                NewEvent(kind="test.step", subject=number, key=uuid.uuid4(), data={"work_order": number, "step": index})
                for index in range(start, min(count_per_order, start + 1000)) for number in ORDERS
            ])


@pytest.mark.slow
@pytest.mark.subprocess
def test_rabbitmq_closing_the_publishers_connection_loses_and_reorders_nothing(plant, exchange, rabbit):
    """RabbitMQ itself closes the publisher's connection mid-run (``rabbitmqctl close_connection``, as
    root on this machine, for that one connection by its name: other users of the broker keep theirs)."""
    _orders(plant)
    event_destination_upsert(name="closing", url="amqp://guest:guest@127.0.0.1:5672/%2F", exchange=exchange)
    _many(12_000)
    total = StreamEvent.objects.count()
    closed = threading.Event()

    def close_the_publishers_connection() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listing = subprocess.run(
                ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"], capture_output=True, text=True, timeout=60
            ).stdout
            for line in listing.splitlines():
                if '"open-mes event stream closing"' in line:
                    subprocess.run(["rabbitmqctl", "-q", "close_connection", line.split("\t")[0], "test: broker restart"], timeout=60, check=True)
                    closed.set()
                    return

    closer = threading.Thread(target=close_the_publishers_connection)
    closer.start()
    first = destination_publish(name="closing", batch_size=100, force=True)
    closer.join(90)
    assert closed.is_set() and first < total, "the connection was not closed while the run published"
    stopped = EventDestination.objects.get(name="closing")
    assert stopped.last_error and stopped.position == first  # what the broker did not confirm is not counted
    rest = destination_publish(name="closing", batch_size=1000, force=True, budget_seconds=600)  # all of it, however busy the machine
    assert first + rest == total
    kept = first_seen(wait_for(rabbit, total, seconds=30))
    assert len(kept) == total
    assert _by_order(kept) == _by_order(_log())


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql_only(reason="two sessions writing at once; SQLite has one writer")
def test_an_event_committed_after_a_later_numbered_one_is_not_skipped(plant):
    """Ids are handed out before commit: the event of a transaction that commits last but got the
    smaller id is numbered after the one already published, not skipped by the cursor."""
    from django.db import connection

    _orders(plant)
    destination, _created = event_destination_upsert(name="cursor", url="mqtt://127.0.0.1:1883", topic_prefix=unique("test/c-") + "/")
    started, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                work_order_lock(number="WO-S1")
                stream_add(kind="test.slow", subject="WO-S1", key=uuid.uuid4(), data={})
                started.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert started.wait(10)
    with transaction.atomic():
        work_order_lock(number="WO-S2")
        stream_add(kind="test.fast", subject="WO-S2", key=uuid.uuid4(), data={})
    assert destination_publish(name="cursor", force=True) == 1  # the fast one; the slow one is not committed
    release.set()
    writer.join(10)
    slow, fast = StreamEvent.objects.order_by("id")
    assert slow.id < fast.id and slow.position is None
    assert destination_publish(name="cursor", force=True) == 1  # the slow one, numbered after
    slow.refresh_from_db()
    assert slow.position > fast.position
    assert EventDestination.objects.get(pk=destination.pk).published_count == 2


def test_without_a_destination_no_event_is_kept(plant):
    _work(plant)  # releases, confirmations, a pause and a resume; stream_add directly too
    _bulk(1)
    assert OutboxMessage.objects.filter(kind="confirmation").count() == 3 * len(ORDERS)  # the ERP hears them all the same
    assert StreamEvent.objects.count() == 0  # but no second copy is kept for a stream nobody reads


def test_a_new_destination_starts_from_now(plant, prefix):
    event_destination_upsert(name="early", url="mqtt://127.0.0.1:1883", topic_prefix=prefix, is_enabled=False)
    _orders(plant)
    _bulk(2)
    destination, created = event_destination_upsert(name="late", url="mqtt://127.0.0.1:1883", topic_prefix=prefix)
    assert created and destination.position == StreamEvent.objects.count() == 6  # every event so far is behind it
    assert events_number() == 0
    assert destination_publish(name="late") == 0


def test_the_publish_task_publishes_to_every_enabled_destination(plant, prefix, mosquitto):
    from erp_sync.tasks import publish_events

    event_destination_upsert(name="on", url="mqtt://127.0.0.1:1883", topic_prefix=prefix)
    event_destination_upsert(name="off", url="mqtt://127.0.0.1:1883", topic_prefix=unique("test/off-") + "/", is_enabled=False)
    _orders(plant)
    _bulk(4)
    assert publish_events() == 12
    assert len(wait_for(mosquitto, 12)) == 12
    assert EventDestination.objects.get(name="off").position == 0  # disabled: it keeps its place


@pytest.mark.django_db(transaction=True)
def test_a_commit_that_appends_events_wakes_the_publisher_while_a_destination_is_enabled(plant, monkeypatch):
    from erp_sync import wakeups

    sent = []
    monkeypatch.setattr(wakeups.current_app, "send_task", lambda name, **options: sent.append(name))
    monkeypatch.setattr(wakeups, "_publish", {"due": False, "last": float("-inf"), "checked": float("-inf"), "any": False})
    _orders(plant)
    work_order_transition(number="WO-S1", action="release")
    assert wakeups.PUBLISH_TASK not in sent  # no destination: no wake-up
    event_destination_upsert(name="m", url="mqtt://127.0.0.1:1883", topic_prefix=unique("test/w-") + "/")
    work_order_transition(number="WO-S2", action="release")
    assert sent.count(wakeups.PUBLISH_TASK) == 1


def test_the_sweep_forgets_what_every_destination_has_had(plant, prefix):
    from erp_sync.event_stream import events_prune

    from erp_sync.event_destinations import event_destination_remove

    event_destination_upsert(name="early", url="mqtt://127.0.0.1:1883", topic_prefix=prefix)  # events are kept from here
    _orders(plant)
    _bulk(2)
    event_destination_upsert(name="m", url="mqtt://127.0.0.1:1883", topic_prefix=prefix)  # has had the first 6
    event_destination_remove(name="early")
    _bulk(1, start=2)
    events_number()
    StreamEvent.objects.update(created_at=timezone.now() - datetime.timedelta(days=8))
    assert events_prune(older_than=datetime.timedelta(days=7)) == 6
    assert StreamEvent.objects.count() == 3
    EventDestination.objects.update(position=9)
    assert events_prune(older_than=datetime.timedelta(days=7)) == 2  # the last one stays: positions count on from it
    _bulk(1, start=3)
    events_number()
    assert sorted(StreamEvent.objects.values_list("position", flat=True)) == [9, 10, 11, 12]


def test_a_quality_result_is_an_event_too(planned_order, exchange, rabbit):
    from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
    from tests.factories import UnitOfMeasureFactory

    UnitOfMeasureFactory(code="MM")
    inspection_plan_set(item_code=planned_order.item.code, sequence=10, characteristics=[{
        "code": "LEN", "name": "Length", "kind": "measured", "nominal": Decimal("100"), "lower_limit": Decimal("99.5"),
        "upper_limit": Decimal("100.5"), "unit": "MM", "sampling": {"rule": "first_piece", "n": None}, "mandatory": True,
    }])
    event_destination_upsert(name="rabbit", url="amqp://guest:guest@127.0.0.1:5672/%2F", exchange=exchange)
    work_order_transition(number=planned_order.number, action="release")
    outcome = inspection_record(request=InspectionRequest(
        client_id=uuid.uuid4(), work_order=planned_order.number, operation=10, characteristic="LEN", value=Decimal("100.7"),
    ))
    assert destination_publish(name="rabbit") == 2
    released, judged = wait_for(rabbit, 2)
    assert released["type"] == "mes.work_order.released"
    # the result's ERP message (its key is the result's UUID) is its event: one event, not two
    assert judged["type"] == "mes.inspection_result" and judged["id"] == str(outcome.result.uuid)
    assert judged["subject"] == planned_order.number and rabbit.keys[1] == f"mes.inspection_result.{planned_order.number}"
    assert judged["data"]["passed"] is False and judged["data"]["value"] == "100.7" and judged["data"]["characteristic"] == "LEN"
