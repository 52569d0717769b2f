"""The event stream: every event of ``StreamEvent`` published, in order, to each enabled
``EventDestination`` (a RabbitMQ topic exchange, an MQTT broker) as a CloudEvents 1.0 JSON
document, at least once; the event's ``id`` lets consumers drop repeats.

How nothing is lost or reordered:

1. Events are appended in the transaction of the fact they tell (``erp_sync.outbox``), under
   the work order's lock.
2. ``events_number`` gives committed events a ``position`` in id order, one numberer at a time
   (an advisory lock on PostgreSQL; SQLite has one writer anyway). An event whose transaction had
   not committed yet is numbered on a later pass, after everything numbered before it.
3. Each destination keeps ``position``, the last position its broker confirmed (AMQP publisher
   confirms, MQTT QoS 1 PUBACKs). A run claims the destination (a lease, so one publisher per
   destination at a time), reads the next batch after its position, publishes it, waits for the
   broker to confirm every message, and only then advances the position. A failure (broker down,
   connection dropped mid-batch) leaves the position where it was: the batch goes again, in the
   same order, on the next run; a destination that is down holds its events, the others go on.

Connectors are not involved: a broker gets the event, not a posting, so nothing here reads a
connector and nothing in ``connectors/`` reads these models.
"""

from __future__ import annotations

import logging
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import amqp
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Max, Q, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from erp_sync.models import EventDestination, StreamEvent

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
#: The advisory lock the numberer holds on PostgreSQL (any constant no other code uses).
NUMBERER_LOCK = 0x4D45535354524D  # "MESSTRM"
#: A claim longer than one run's budget plus a batch's confirm wait: a dead worker's claim lapses.
LEASE_SECONDS = 120


class PublishFailed(Exception):
    """The broker did not confirm every message of a batch (refused, nacked, timed out, dropped)."""


# --- CloudEvents ------------------------------------------------------------------------------


def cloud_event(*, key: uuid.UUID | str, kind: str, subject: str, time_: Any, data: Any) -> dict[str, Any]:
    """One event as a CloudEvents 1.0 document in structured mode."""
    return {
        "specversion": "1.0",
        "id": str(key),
        "source": settings.MES_EVENT_SOURCE,
        "type": f"mes.{kind}",
        "subject": subject,
        "time": time_.isoformat().replace("+00:00", "Z") if hasattr(time_, "isoformat") else str(time_),
        "datacontenttype": "application/json",
        "data": data,
    }


_encoder = DjangoJSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _body(event: dict[str, Any]) -> bytes:
    return _encoder.encode(event).encode()


def _word(text: str) -> str:
    """A work order number as one routing-key word / topic level: no separators, no wildcards."""
    return text.replace(".", "_").replace("/", "_").replace("#", "_").replace("*", "_").replace("+", "_") or "_"


def routing_key(*, kind: str, subject: str) -> str:
    """AMQP: ``mes.<kind>.<work order>`` (bind ``mes.confirmation.#``, ``mes.work_order.#``, ``mes.#.WO-1`` …)."""
    return f"mes.{kind}.{_word(subject)}"


def topic(*, prefix: str, kind: str, subject: str) -> str:
    """MQTT: ``<prefix><kind>/<work order>`` (subscribe ``mes/confirmation/+``, ``mes/#`` …)."""
    return f"{prefix}{kind}/{_word(subject)}"


# --- numbering: positions in commit order --------------------------------------------------------

_NUMBER_SQL = """
UPDATE erp_sync_streamevent SET position = numbered.position
FROM (
    SELECT id, (SELECT COALESCE(MAX(position), 0) FROM erp_sync_streamevent) + ROW_NUMBER() OVER (ORDER BY id) AS position
    FROM erp_sync_streamevent WHERE position IS NULL ORDER BY id LIMIT %s
) AS numbered
WHERE erp_sync_streamevent.id = numbered.id
"""


def events_number(*, limit: int = 20_000) -> int:
    """Give the committed events that have none a position after every numbered one, in id order.
    Returns how many were numbered. One numberer at a time: PostgreSQL's advisory lock (held to the
    end of the transaction, so the next numberer sees these positions); SQLite has one writer."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [NUMBERER_LOCK])
        cursor.execute(_NUMBER_SQL, [limit])
        return cursor.rowcount


def events_last_position() -> int:
    """The highest position given so far (0 before the first)."""
    return StreamEvent.objects.aggregate(last=Coalesce(Max("position"), 0))["last"]


# --- brokers ----------------------------------------------------------------------------------


class Publisher(Protocol):
    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Send ``(routing key or topic, body)`` in order; return once the broker confirmed all of them."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Address:
    scheme: str
    host: str
    port: int
    user: str
    path: str  # AMQP: the virtual host, unquoted


def address_of(url: str) -> Address:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    default_port = {"amqp": 5672, "mqtt": 1883}.get(scheme, 0)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return Address(scheme, parts.hostname or "", parts.port or default_port, unquote(parts.username or ""), vhost)


class AmqpPublisher:
    """A topic exchange through py-amqp: persistent messages (delivery mode 2) on a channel in
    confirm mode. A batch is written in one go and then waited for (``basic_ack`` up to its last
    delivery tag): ``Connection(confirm_publish=True)`` would wait a round trip per message."""

    def __init__(self, *, url: str, password: str, exchange: str, timeout: float, connection_name: str = "open-mes event stream") -> None:
        address = address_of(url)
        self.exchange = exchange
        self.timeout = timeout
        self.connection = amqp.Connection(
            host=f"{address.host}:{address.port}", userid=address.user or "guest", password=password or ("guest" if not address.user else ""),
            virtual_host=address.path, connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
            client_properties={"connection_name": connection_name},  # how the broker's tools name it
        )
        self.connection.connect()
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        self.channel.confirm_select()
        self.unconfirmed: set[int] = set()
        self.sent = 0
        self.nacked = False
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self.unconfirmed = {tag for tag in self.unconfirmed if tag > delivery_tag}
        else:
            self.unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self.nacked = True
        self._on_ack(delivery_tag, multiple)

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        for key, body in messages:
            self.sent += 1
            self.unconfirmed.add(self.sent)  # delivery tags count from 1 on a channel in confirm mode
            message = amqp.Message(body, content_type=CONTENT_TYPE, content_encoding="utf-8", delivery_mode=2)
            self.channel.basic_publish(message, exchange=self.exchange, routing_key=key)
        deadline = time.monotonic() + self.timeout
        while self.unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishFailed(f"the broker confirmed {len(messages) - len(self.unconfirmed)} of {len(messages)} in {self.timeout} s")
            try:
                self.connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue
        if self.nacked:
            self.nacked = False
            raise PublishFailed("the broker refused (nacked) a message of the batch")

    def close(self) -> None:
        try:
            self.connection.collect() if not self.connection.connected else self.connection.close()
        except Exception:  # noqa: BLE001 — closing a connection that is already gone
            self.connection.collect()


class MqttPublisher:
    """An MQTT broker through paho-mqtt: QoS 1, a batch in flight at once, done when every
    message has its PUBACK. A connection lost during a batch fails it (the batch goes again)."""

    def __init__(self, *, url: str, password: str, topic_prefix: str, timeout: float, client_id: str) -> None:
        address = address_of(url)
        self.prefix = topic_prefix
        self.timeout = timeout
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self.client.max_inflight_messages_set(1000)
        if address.user:
            self.client.username_pw_set(address.user, password or None)
        self.connected = threading.Event()
        self.refusal: str | None = None
        self.lost = False
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.connect(address.host, address.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.close()
            raise PublishFailed(f"no CONNACK from {address.host}:{address.port} in {timeout} s")
        if self.refusal:
            self.close()
            raise PublishFailed(f"the broker refused the connection: {self.refusal}")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self.refusal = str(reason_code)
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.lost = True

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        if self.lost:
            raise PublishFailed("the connection to the MQTT broker was lost")
        sent = [self.client.publish(name, body, qos=1) for name, body in messages]
        deadline = time.monotonic() + self.timeout
        for info in sent:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise PublishFailed(f"the broker did not acknowledge every message in {self.timeout} s")
        if self.lost:
            raise PublishFailed("the connection to the MQTT broker was lost during the batch")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher_for(destination: EventDestination) -> Publisher:
    """A connected publisher for the destination (raises ``OSError``, ``PublishFailed`` or an AMQP error)."""
    timeout = float(settings.MES_EVENT_TIMEOUT_SECONDS)
    if destination.kind == EventDestination.Kind.AMQP:
        return AmqpPublisher(
            url=destination.url, password=destination.password, exchange=destination.exchange, timeout=timeout,
            connection_name=f"open-mes event stream {destination.name}",
        )
    return MqttPublisher(
        url=destination.url, password=destination.password, topic_prefix=destination.topic_prefix, timeout=timeout,
        client_id=f"open-mes-{destination.name}-{uuid.uuid4().hex[:8]}",
    )


#: What a broker that is down, refuses or drops the connection raises.
BROKER_ERRORS = (OSError, PublishFailed, amqp.exceptions.AMQPError, amqp.exceptions.RecoverableConnectionError, RuntimeError, ValueError)


def messages_for(destination: EventDestination, events: list[tuple[Any, ...]]) -> list[tuple[str, bytes]]:
    """``(routing key or topic, CloudEvents body)`` for rows of (key, kind, subject, created_at, data),
    ``data`` decoded or as the JSON text the database holds (``events_batch``: spliced in as it is)."""
    amqp_kind = destination.kind == EventDestination.Kind.AMQP
    out = []
    for key, kind, subject, created_at, data in events:
        name = routing_key(kind=kind, subject=subject) if amqp_kind else topic(prefix=destination.topic_prefix, kind=kind, subject=subject)
        if isinstance(data, str):
            envelope = _encoder.encode(cloud_event(key=key, kind=kind, subject=subject, time_=created_at, data=None))
            out.append((name, f'{envelope[:-len("null}")]}{data}}}'.encode()))
        else:
            out.append((name, _body(cloud_event(key=key, kind=kind, subject=subject, time_=created_at, data=data))))
    return out


def events_batch(*, after: int, limit: int) -> list[tuple[Any, ...]]:
    """The next events after position ``after``: (position, key, kind, subject, created_at, data as
    JSON text). The text is not decoded and encoded again: a batch of 1,000 saves a good share of its CPU."""
    return list(
        StreamEvent.objects.filter(position__gt=after).order_by("position")
        .annotate(data_text=Cast("data", TextField()))
        .values_list("position", "key", "kind", "subject", "created_at", "data_text")[:limit]
    )


# --- one destination's run ----------------------------------------------------------------------


def _claim(destination_id: int, *, force: bool) -> uuid.UUID | None:
    now = timezone.now()
    token = uuid.uuid4()
    due = Q() if force else Q(next_attempt_at__lte=now)
    claimed = EventDestination.objects.filter(
        due, Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=destination_id, is_enabled=True
    ).update(claim_token=token, lease_until=now + timedelta(seconds=LEASE_SECONDS))
    return token if claimed else None


def _fail(destination_id: int, token: uuid.UUID, error: BaseException) -> None:
    now = timezone.now()
    row = EventDestination.objects.filter(pk=destination_id).values("failing_since").first() or {}
    since = row.get("failing_since") or now
    # Back off with the outage's length (1 s, then half the time it has been down, at most a minute).
    delay = min(60.0, max(1.0, (now - since).total_seconds() / 2))
    EventDestination.objects.filter(pk=destination_id, claim_token=token).update(
        last_error=f"{type(error).__name__}: {error}"[:2000], failing_since=since, next_attempt_at=now + timedelta(seconds=delay),
    )


def destination_publish(*, name: str, budget_seconds: float = 30.0, batch_size: int | None = None, force: bool = False) -> int:
    """Publish what the destination has not had yet, batch by batch, until nothing is left or the
    budget is spent. Returns how many events the broker confirmed. A failure is recorded on the
    destination (``last_error``, the next attempt backed off) and leaves its position as it was."""
    destination = EventDestination.objects.filter(name=name).first()
    if destination is None or not destination.is_enabled:
        return 0
    token = _claim(destination.pk, force=force)
    if token is None:
        return 0  # another worker publishes it, or it is backing off
    batch_size = batch_size or settings.MES_EVENT_BATCH_SIZE
    deadline = time.monotonic() + budget_seconds
    published = 0
    position = destination.position
    publisher: Publisher | None = None
    try:
        while time.monotonic() < deadline:
            events_number()
            rows = events_batch(after=position, limit=batch_size)
            if not rows:
                break
            if publisher is None:
                if destination.unreadable_secrets():
                    raise PublishFailed("the password must be re-entered: MES_SECRETS_KEY cannot decrypt it")
                publisher = publisher_for(destination)
            publisher.publish(messages_for(destination, [row[1:] for row in rows]))
            position = rows[-1][0]
            moved = EventDestination.objects.filter(pk=destination.pk, claim_token=token).update(
                position=position, published_count=F("published_count") + len(rows), last_published_at=timezone.now(),
                last_error="", failing_since=None, lease_until=timezone.now() + timedelta(seconds=LEASE_SECONDS),
            )
            if not moved:
                logger.warning("Event destination %s was claimed by another run; this one stops", name)
                return published
            published += len(rows)
    except BROKER_ERRORS as error:
        logger.warning("Event destination %s: %s; its events wait (%s published in this run)", name, error, published)
        _fail(destination.pk, token, error)
    finally:
        if publisher is not None:
            publisher.close()
        EventDestination.objects.filter(pk=destination.pk, claim_token=token).update(claim_token=None, lease_until=None)
    return published


def events_publish_due(*, budget_seconds: float = 30.0) -> int:
    """Every enabled destination that is due, one after the other (one that is down fails fast,
    connection refused or the connect timeout, and backs off). Returns the events published."""
    names = list(
        EventDestination.objects.filter(is_enabled=True, next_attempt_at__lte=timezone.now()).order_by("name").values_list("name", flat=True)
    )
    deadline = time.monotonic() + budget_seconds
    total = 0
    for name in names:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        total += destination_publish(name=name, budget_seconds=max(1.0, budget_seconds / len(names)))
    return total


def events_prune(*, older_than: timedelta) -> int:
    """Delete events every destination has had (all of them, while none is configured) once they
    are older than ``older_than``; unnumbered events and the last numbered one are never deleted."""
    cursors = list(EventDestination.objects.values_list("position", flat=True))
    before = timezone.now() - older_than
    # The last numbered event stays: positions count on from the highest one there is.
    stale = StreamEvent.objects.filter(position__lt=events_last_position(), created_at__lt=before)
    if cursors:
        stale = stale.filter(position__lte=min(cursors))
    deleted, _ = stale.delete()
    return deleted


def destination_test(*, destination: EventDestination) -> float:
    """Publish one ``mes.test`` event (subject ``test``) and wait for the broker's confirm; the
    milliseconds it took. Raises what the broker raised."""
    started = time.monotonic()
    publisher = publisher_for(destination)
    try:
        event = cloud_event(key=uuid.uuid4(), kind="test", subject="test", time_=timezone.now(), data={"destination": destination.name})
        name = routing_key(kind="test", subject="test") if destination.kind == EventDestination.Kind.AMQP else topic(
            prefix=destination.topic_prefix, kind="test", subject="test"
        )
        publisher.publish([(name, _body(event))])
    finally:
        publisher.close()
    return (time.monotonic() - started) * 1000


# --- watching a destination (events_tail) ---------------------------------------------------------


def tail(
    *, destination: EventDestination, pattern: str, on_event: Any, stop: threading.Event, deadline: float | None = None,
) -> None:
    """Subscribe to what the destination gets: a temporary queue bound to the exchange with
    ``pattern`` (AMQP), or the topic prefix + ``pattern`` (MQTT), and call ``on_event`` with each
    decoded event until it answers True, ``stop`` is set or ``deadline`` (monotonic) passes."""

    def done() -> bool:
        return stop.is_set() or (deadline is not None and time.monotonic() >= deadline)

    address = address_of(destination.url)
    if destination.kind == EventDestination.Kind.AMQP:
        conn = amqp.Connection(
            host=f"{address.host}:{address.port}", userid=address.user or "guest",
            password=destination.password or ("guest" if not address.user else ""), virtual_host=address.path,
            connect_timeout=float(settings.MES_EVENT_TIMEOUT_SECONDS),
        )
        conn.connect()
        try:
            channel = conn.channel()
            channel.exchange_declare(destination.exchange, "topic", durable=True, auto_delete=False)
            queue, _count, _consumers = channel.queue_declare("", exclusive=True, auto_delete=True)
            channel.queue_bind(queue, destination.exchange, routing_key=f"mes.{pattern}" if pattern != "#" else "#")
            channel.basic_consume(queue, no_ack=True, callback=lambda message: on_event(json.loads(message.body)) and stop.set())
            while not done():
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    continue
        finally:
            conn.collect() if not conn.connected else conn.close()
        return
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"open-mes-tail-{uuid.uuid4().hex[:8]}", clean_session=True)
    if address.user:
        client.username_pw_set(address.user, destination.password or None)
    subscription = f"{destination.topic_prefix}{pattern}"
    client.on_connect = lambda c, *_: c.subscribe(subscription, qos=1)
    client.on_message = lambda c, userdata, message: on_event(json.loads(message.payload)) and stop.set()
    client.connect(address.host, address.port, keepalive=30)
    try:
        while not done():
            client.loop(timeout=0.5)
    finally:
        client.disconnect()
