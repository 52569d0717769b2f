"""Real consumers of the machine's RabbitMQ (127.0.0.1:5672) and Mosquitto (127.0.0.1:1883), and a
loopback TCP proxy a test starts in front of a broker to drop its connections from the server side
(and refuse new ones) as a broker restart would, without touching the system's services."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from typing import Any

import amqp
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

RABBITMQ = ("127.0.0.1", 5672)
MOSQUITTO = ("127.0.0.1", 1883)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class AmqpConsumer:
    """A temporary queue bound to ``exchange`` with ``#``, drained in a thread of its own."""

    def __init__(self, exchange: str, binding: str = "#") -> None:
        self.events: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.properties: list[dict[str, Any]] = []
        self.connection = amqp.Connection(host=f"{RABBITMQ[0]}:{RABBITMQ[1]}", userid="guest", password="guest")
        self.connection.connect()
        channel = self.connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        queue, _count, _consumers = channel.queue_declare("", exclusive=True, auto_delete=True)
        channel.queue_bind(queue, exchange, routing_key=binding)
        channel.basic_consume(queue, no_ack=True, callback=self._on_message)
        self.exchange = exchange
        self.channel = channel
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _on_message(self, message: amqp.Message) -> None:
        self.events.append(json.loads(message.body))
        self.keys.append(message.delivery_info["routing_key"])
        self.properties.append(dict(message.properties))

    def _drain(self) -> None:
        while not self.stopping.is_set():
            try:
                self.connection.drain_events(timeout=0.2)
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        try:
            self.channel.exchange_delete(self.exchange)
            self.connection.close()
        except Exception:  # noqa: BLE001
            self.connection.collect()


class MqttConsumer:
    """A QoS 1 subscription to ``<prefix>#``."""

    def __init__(self, prefix: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.topics: list[str] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("test-tail-"), clean_session=True)
        self.client.on_connect = lambda client, *_: client.subscribe(f"{prefix}#", qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(*MOSQUITTO)
        self.client.loop_start()
        assert subscribed.wait(5), "Mosquitto did not confirm the subscription"

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.events.append(json.loads(message.payload))
        self.topics.append(message.topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(consumer: Any, count: int, seconds: float = 10.0) -> list[dict[str, Any]]:
    """The consumer's events once it has ``count`` distinct ids (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while len({event["id"] for event in consumer.events}) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(consumer.events)


def first_seen(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as a consumer keeps them: a repeat of an id already seen dropped."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            kept.append(event)
    return kept


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a broker. ``drop()`` closes every connection through it, as a
    broker going away would; ``down()`` also stops accepting (refused) until ``up()``.
    ``drop_after(n)`` drops once n more bytes went from the clients to the broker."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.listener: socket.socket | None = None
        self.port = 0
        self.sent = 0
        self.drop_at: int | None = None
        self.drops = 0
        self.up()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        self.drop()

    def drop(self) -> None:
        with self.lock:
            pairs, self.pairs = self.pairs, []
            self.drops += 1
        for pair in pairs:
            for end in pair:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def drop_after(self, count: int) -> None:
        with self.lock:
            self.drop_at = self.sent + count

    def close(self) -> None:
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, upward: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            trigger = False
            if upward:
                with self.lock:
                    self.sent += len(data)
                    if self.drop_at is not None and self.sent >= self.drop_at:
                        self.drop_at = None
                        trigger = True
            if trigger:
                self.drop()
                return
            try:
                target.sendall(data)
            except OSError:
                return


def free_port() -> int:
    """A loopback port nothing listens on (a broker that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
