"""MQTT through aiomqtt (paho-mqtt underneath): subscribe, keep the latest value of each signal.

A device publishes; nothing is polled. ``connect()`` subscribes to every mapped topic and starts
a task that takes messages as they come; ``read()`` returns the latest value of each signal and
when it arrived (``sampled_at``). A payload is JSON when the signal has a ``json_path``
(``$.good``, ``$.counts[0]``), else a plain value (``42``, ``17.5``, ``true``, ``RUN``). A signal
with nothing received yet, or whose last payload could not be read, is in ``errors``. Retained
messages count: a device that published its state before we subscribed is seen at once.
Losing the broker makes the next ``read()`` raise ``DeviceUnavailable``; the one after reconnects.

A device that publishes nothing on any of its topics for ``silent_after_s`` (60 s by default),
counted from the last message or from subscribing, is silent: ``read()`` then gives no values,
only errors, which the collector treats like a machine that does not answer (unknown, with a
device exception) until the device publishes again. A device that publishes only on change
should publish a heartbeat (its state or count again) within that time.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from typing import Any

import aiomqtt

from shopfloor.devices.base import (
    DeviceUnavailable,
    DriverBase,
    SignalValue,
    Snapshot,
    coerce_signal,
    utc_now,
)
from shopfloor.devices.config import MqttConfig, MqttSignal, json_path_steps

logger = logging.getLogger(__name__)


def extract(payload: bytes, signal: MqttSignal) -> Any:
    """The raw value ``signal`` takes from ``payload``; raises ``ValueError`` with the reason."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("payload is not UTF-8 text") from None
    if signal.json_path is None:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(f"payload is not JSON: {text[:80]!r}") from None
    for step in json_path_steps(signal.json_path):
        if (
            isinstance(step, int)
            and isinstance(value, list)
            and step < len(value)
            or isinstance(step, str)
            and isinstance(value, dict)
            and step in value
        ):
            value = value[step]
        else:
            raise ValueError(f"{signal.json_path} is not in the payload")
    return value


class MqttDriver(DriverBase):
    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self._client: aiomqtt.Client | None = None
        self._listener: asyncio.Task[None] | None = None
        self._by_topic: dict[str, list[tuple[str, MqttSignal]]] = {}
        for name, signal in config.signals.items():
            self._by_topic.setdefault(signal.topic, []).append((name, signal))
        self._values: dict[str, SignalValue] = {}
        self._errors: dict[str, str] = {}
        self._received_at: dict[str, datetime.datetime] = {}
        self._heard_at = 0.0  # monotonic: the last message, or subscribing

    @property
    def connected(self) -> bool:
        return self._client is not None and self._listener is not None and not self._listener.done()

    async def connect(self) -> None:
        if self.connected:
            return
        await self.close()
        client = aiomqtt.Client(
            self.config.host,
            self.config.port,
            username=self.config.username,
            password=self.config.password,
            identifier=self.config.client_id,
            timeout=self.config.timeout_s,
            keepalive=max(5, int(self.config.timeout_s * 3)),
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as error:
            raise DeviceUnavailable(self.config.address, f"cannot connect: {error}") from error
        try:
            await client.subscribe([(topic, self.config.qos) for topic in self._by_topic])
        except aiomqtt.MqttError as error:
            await _leave(client)
            raise DeviceUnavailable(self.config.address, f"cannot subscribe: {error}") from error
        self._client = client
        self._heard_at = time.monotonic()
        self._listener = asyncio.create_task(
            self._listen(client), name=f"mqtt-listener {self.config.address}"
        )

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Take messages until the connection ends (the task then holds the MqttError)."""
        async for message in client.messages:
            received_at = utc_now()
            self._heard_at = time.monotonic()
            for name, signal in self._by_topic.get(message.topic.value, ()):
                try:
                    self._values[name] = coerce_signal(
                        name, extract(message.payload, signal), signal.scale
                    )
                except ValueError as error:
                    self._values.pop(name, None)
                    self._errors[name] = f"bad payload on {signal.topic}: {error}"
                else:
                    self._errors.pop(name, None)
                self._received_at[name] = received_at

    async def read(self) -> Snapshot:
        if self._listener is not None and self._listener.done():
            error = None if self._listener.cancelled() else self._listener.exception()
            await self.close()
            raise DeviceUnavailable(self.config.address, f"connection lost: {error}")
        await self.connect()
        silent_for = time.monotonic() - self._heard_at
        if silent_for >= self.config.silent_after_s:
            return Snapshot(
                read_at=utc_now(),
                values={},
                errors={
                    name: f"{self.config.address}: nothing received on any topic for {silent_for:.0f} s"
                    for name in self.config.signals
                },
            )
        errors = {
            name: self._errors.get(name, f"nothing received on {signal.topic} yet")
            for name, signal in self.config.signals.items()
            if name not in self._values
        }
        return Snapshot(
            read_at=utc_now(),
            values=dict(self._values),
            errors=errors,
            sampled_at={name: self._received_at[name] for name in self._values},
        )

    async def close(self) -> None:
        client, listener = self._client, self._listener
        self._client = self._listener = None
        if listener is not None and not listener.done():
            listener.cancel()
            try:
                await listener
            except asyncio.CancelledError:
                pass
        elif listener is not None and not listener.cancelled():
            listener.exception()  # retrieved: the loss was reported by read(), or is moot now
        if client is not None:
            await _leave(client)


async def _leave(client: aiomqtt.Client) -> None:
    try:
        await client.__aexit__(None, None, None)
    except aiomqtt.MqttError as error:
        logger.debug("leaving the broker: %s", error)
