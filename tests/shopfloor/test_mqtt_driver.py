"""The MQTT driver through the local Mosquitto (127.0.0.1:1883), fed by aiomqtt on unique topics."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import aiomqtt
import pytest

from shopfloor.devices import DeviceUnavailable, driver_for, read_once
from tests.shopfloor.conftest import eventually, run

BROKER = ("127.0.0.1", 1883)


def mapping(base: str) -> dict[str, Any]:
    return {
        "protocol": "mqtt",
        "host": BROKER[0],
        "port": BROKER[1],
        "signals": {
            "good_count": {"topic": f"{base}/counts", "json_path": "$.counts.good"},
            "scrap_count": {"topic": f"{base}/counts", "json_path": "$.counts.scrap"},
            "running": {"topic": f"{base}/running"},
            "alarm": {"topic": f"{base}/alarm"},
        },
    }


async def publish(*messages: tuple[str, str], retain: bool = False) -> None:
    async with aiomqtt.Client(*BROKER, timeout=5) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1, retain=retain)


async def values_when(driver, count: int) -> dict | None:
    snapshot = await driver.read()
    return dict(snapshot.values) if len(snapshot.values) >= count else None


@pytest.fixture
def base() -> str:
    return f"open-mes-test/{uuid.uuid4().hex}"


def test_json_and_plain_payloads_become_signal_values(base: str):
    driver = driver_for(mapping(base))

    async def scenario():
        before = await driver.read()
        await publish(
            (f"{base}/counts", '{"counts": {"good": 1204, "scrap": 3}, "station": "press-1"}'),
            (f"{base}/running", "true"),
            (f"{base}/alarm", "205"),
        )
        values = await eventually(lambda: values_when(driver, 4))
        snapshot = await driver.read()
        await driver.close()
        return before, values, snapshot

    before, values, snapshot = run(scenario())

    assert before.values == {}
    assert before.errors == {
        "good_count": f"nothing received on {base}/counts yet",
        "scrap_count": f"nothing received on {base}/counts yet",
        "running": f"nothing received on {base}/running yet",
        "alarm": f"nothing received on {base}/alarm yet",
    }
    assert values == {"good_count": 1204, "scrap_count": 3, "running": True, "alarm": 205}
    assert snapshot.errors == {}
    assert all(snapshot.sampled(name) <= snapshot.read_at for name in values)


def test_the_latest_message_wins_and_a_bad_payload_is_a_signal_error(base: str):
    driver = driver_for(mapping(base))

    async def scenario():
        await driver.connect()
        await publish(
            (f"{base}/running", "1"), (f"{base}/counts", '{"counts": {"good": 10, "scrap": 0}}')
        )
        await eventually(lambda: values_when(driver, 3))
        await publish((f"{base}/running", "0"), (f"{base}/counts", "not json"))
        bad = await eventually(lambda: _errors_with(driver, "good_count"))
        await publish((f"{base}/counts", '{"counts": {"good": 11, "scrap": 1}}'))
        recovered = await eventually(lambda: _values_with(driver, good_count=11))
        await driver.close()
        return bad, recovered

    bad, recovered = run(scenario())

    assert bad.values == {"running": False}
    assert (
        bad.errors["good_count"] == f"bad payload on {base}/counts: payload is not JSON: 'not json'"
    )
    assert recovered == {"good_count": 11, "scrap_count": 1, "running": False}


async def _errors_with(driver, name: str):
    snapshot = await driver.read()
    return snapshot if name in snapshot.errors and "bad payload" in snapshot.errors[name] else None


async def _values_with(driver, **wanted):
    values = dict((await driver.read()).values)
    return values if all(values.get(name) == value for name, value in wanted.items()) else None


def test_a_retained_state_is_seen_by_a_test_read(base: str):
    only_running = mapping(base)
    only_running["signals"] = {"running": only_running["signals"]["running"]}

    async def scenario():
        await publish((f"{base}/running", "RUN"), retain=True)
        try:
            return await read_once(only_running, wait_s=3)
        finally:
            await publish(
                (f"{base}/running", ""), retain=True
            )  # an empty retained message clears it

    snapshot = run(scenario())

    assert (snapshot.values, snapshot.errors) == ({"running": True}, {})


def test_no_broker_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    driver = driver_for(mapping("unused") | {"port": port, "timeout_s": 1})

    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        run(driver.read())
