"""The one interface every device driver offers, whatever the protocol.

    driver = driver_for({"protocol": "modbus", "host": "127.0.0.1", "port": 5020, ...})
    await driver.connect()          # optional: read() connects when it has to
    snapshot = await driver.read()  # Snapshot(values={"good_count": 1234, "running": True}, ...)
    await driver.close()

``read()`` either returns a ``Snapshot`` or raises ``DeviceUnavailable`` (no connection, or no
answer within the config's ``timeout_s``: then ``DeviceTimeout``). After such an error the
driver has dropped its connection, and the next ``read()`` connects again; the caller decides
how long to back off. A device that answers but cannot give one signal (a Modbus exception, a
bad OPC UA status, an MQTT topic with nothing on it yet) gives a snapshot with that signal in
``errors`` instead of ``values``. Values are normalised per signal: counters and alarm codes
are ints (floats only when a scale makes them fractional), ``running`` is a bool.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, runtime_checkable

from shopfloor.devices.config import DeviceConfig, parse_device_config

SignalValue = int | float | bool

# protocol → "module:class"; imported on first use so validating a mapping needs no protocol library.
DRIVERS: dict[str, str] = {
    "modbus": "shopfloor.devices.modbus:ModbusDriver",
    "opcua": "shopfloor.devices.opcua:OpcUaDriver",
    "mqtt": "shopfloor.devices.mqtt:MqttDriver",
}


class DeviceError(Exception):
    """A read that did not happen; ``address`` names the device (``modbus://127.0.0.1:5020/1``)."""

    def __init__(self, address: str, message: str) -> None:
        self.address = address
        super().__init__(f"{address}: {message}")


class DeviceUnavailable(DeviceError):
    """The device cannot be reached: connection refused or lost, session refused, no answer."""


class DeviceTimeout(DeviceUnavailable):
    """The device took no answer within the timeout: it stopped answering, or is hung."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Snapshot:
    """What one ``read()`` saw. A signal is in ``values`` or in ``errors``, never both.

    ``sampled_at`` holds, for signals that report their own time (an MQTT message's arrival,
    an OPC UA source timestamp), when the value was current; other values are as of ``read_at``.
    """

    read_at: datetime.datetime
    values: Mapping[str, SignalValue]
    errors: Mapping[str, str] = field(default_factory=dict)
    sampled_at: Mapping[str, datetime.datetime] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.errors

    def sampled(self, name: str) -> datetime.datetime:
        return self.sampled_at.get(name, self.read_at)


@runtime_checkable
class DeviceDriver(Protocol):
    config: DeviceConfig

    async def connect(self) -> None:
        """Open the connection (session, subscription); raises ``DeviceUnavailable``."""

    async def read(self) -> Snapshot:
        """Read every mapped signal once; raises ``DeviceUnavailable`` and drops the connection."""

    async def close(self) -> None:
        """Release the connection; safe to call twice, and after a failure."""


class DriverBase:
    """``async with driver:`` for every driver (connect on enter, close on exit)."""

    config: DeviceConfig

    async def connect(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def driver_for(config: DeviceConfig | Mapping[str, Any]) -> DeviceDriver:
    """The driver for a typed config or for mapping JSON (validated here: ``DeviceConfigError``)."""
    if isinstance(config, Mapping):
        config = parse_device_config(config)
    module_name, class_name = DRIVERS[config.protocol].split(":")
    driver_class = getattr(importlib.import_module(module_name), class_name)
    return driver_class(config)


async def read_once(
    config: DeviceConfig | Mapping[str, Any], *, wait_s: float | None = None
) -> Snapshot:
    """Connect, read, close: a mapping's "test read". Raises ``DeviceConfigError`` or ``DeviceUnavailable``.

    A device that publishes (MQTT) may have sent nothing yet: the read is repeated until every
    signal has a value or ``wait_s`` (default: the poll interval) has passed.
    """
    driver = driver_for(config)
    deadline = time.monotonic() + (wait_s if wait_s is not None else driver.config.poll_interval_s)
    try:
        snapshot = await driver.read()
        while not snapshot.complete and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            snapshot = await driver.read()
        return snapshot
    finally:
        await driver.close()


_TRUE_WORDS = frozenset({"true", "on", "yes", "run", "running", "1"})
_FALSE_WORDS = frozenset({"false", "off", "no", "stop", "stopped", "idle", "0"})


def coerce_signal(name: str, value: Any, scale: float = 1.0) -> SignalValue:
    """Normalise a raw value for ``name``; raises ``ValueError`` with a readable message.

    ``running`` becomes a bool (numbers: non-zero is running; words: true/on/run/…), the
    counters and ``alarm`` become ints after scaling, unless the scale leaves a fraction.
    """
    if name == "running":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        raise ValueError(f"cannot read {value!r} as running or not")
    if isinstance(value, bool):
        number: int | float = int(value)
    elif isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value) if any(character in value for character in ".eE") else int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise ValueError(f"{value!r} is not a number")  # noqa: TRY004 - one error type for every bad payload
    if scale != 1.0:
        number = number * scale
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"{number!r} is not a finite number")
        if number.is_integer():
            return int(number)
    return number
