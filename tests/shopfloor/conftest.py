"""One device simulator process (three steady machines, Modbus TCP and OPC UA on loopback) for the
whole folder; each test that takes ``simulator`` starts from every machine answering, running,
counters at 0 and a cycle time of an hour (so nothing moves unless the test says so).

No test here touches the database. Async code runs under ``asyncio.run`` inside plain tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from simulators.devices import DeviceSimulatorProcess, start_device_simulator

MACHINES = 3
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def eventually(
    check: Callable[[], Coroutine[Any, Any, T]], *, within: float = 5.0, interval: float = 0.1
) -> T:
    """Await ``check()`` until it returns a truthy value or ``within`` seconds pass (then the last value)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


@pytest.fixture(scope="session")
def device_simulator_process() -> Iterator[DeviceSimulatorProcess]:
    with start_device_simulator(machines=MACHINES, args=["--steady"]) as simulator:
        yield simulator


@pytest.fixture
def simulator(device_simulator_process: DeviceSimulatorProcess) -> DeviceSimulatorProcess:
    control = device_simulator_process.control
    control.resume()
    for number in range(1, MACHINES + 1):
        control.resume(number)
        control.set_machine(
            number,
            state="running",
            automatic=False,
            cycle_time_s=3600.0,
            scrap_rate=0.0,
            good_count=0,
            scrap_count=0,
        )
    return device_simulator_process
