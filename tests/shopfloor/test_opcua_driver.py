"""The OPC UA driver against the device simulator's asyncua server, over loopback."""

from __future__ import annotations

import datetime
import socket

import pytest
from time_machine import escape_hatch

from shopfloor.devices import DeviceUnavailable, driver_for
from shopfloor.devices.opcua import OpcUaDriver
from simulators.devices import DeviceSimulatorProcess, opcua_mapping
from tests.shopfloor.conftest import eventually, run


def test_opcua_and_modbus_show_the_same_machine(simulator: DeviceSimulatorProcess):
    simulator.control.set_machine(2, state="down", alarm=205, good_count=123456, scrap_count=7)
    opcua: OpcUaDriver = driver_for(simulator.opcua_mapping(2))  # type: ignore[assignment]
    modbus = driver_for(simulator.modbus_mapping(2))

    async def scenario():
        await opcua.connect()
        over_opcua = await eventually(lambda: _values_if(opcua, good_count=123456))
        over_modbus = (await modbus.read()).values
        mode = opcua.mode
        await opcua.close()
        await modbus.close()
        return over_opcua, over_modbus, mode

    over_opcua, over_modbus, mode = run(scenario())

    expected = {"good_count": 123456, "scrap_count": 7, "running": False, "alarm": 205}
    assert over_opcua == expected
    assert over_modbus == expected
    assert mode == "subscription"


async def _values_if(driver, **wanted) -> dict | None:
    """The snapshot's values once they include ``wanted``, else None."""
    snapshot = await driver.read()
    values = dict(snapshot.values)
    return values if all(values.get(name) == value for name, value in wanted.items()) else None


def test_the_subscription_delivers_changes_without_polling_the_server(
    simulator: DeviceSimulatorProcess,
):
    driver: OpcUaDriver = driver_for(simulator.opcua_mapping(1, poll_interval_s=0.2))  # type: ignore[assignment]

    async def scenario():
        first = await driver.read()
        simulator.control.set_machine(1, good_count=42, state="idle")
        changed = await eventually(
            lambda: _values_if(driver, good_count=42, running=False), within=3
        )
        snapshot = await driver.read()
        await driver.close()
        return first, changed, snapshot, driver

    first, changed, snapshot, _ = run(scenario())

    assert first.values == {"good_count": 0, "scrap_count": 0, "running": True, "alarm": 0}
    assert changed == {"good_count": 42, "scrap_count": 0, "running": False, "alarm": 0}
    # The server's own time stamp: the simulator's clock, which is the real one even when this
    # process's clock is set (MES_TEST_CLOCK), as a PLC's clock is its own.
    assert "good_count" in snapshot.sampled_at
    wall_clock = escape_hatch.datetime.datetime if escape_hatch.is_travelling() else datetime.datetime
    assert snapshot.sampled("good_count") <= wall_clock.now(datetime.UTC)


def test_without_a_subscription_every_read_asks_the_server(simulator: DeviceSimulatorProcess):
    driver: OpcUaDriver = driver_for(simulator.opcua_mapping(3, subscription=False))  # type: ignore[assignment]

    async def scenario():
        await driver.connect()
        mode = driver.mode
        simulator.control.set_machine(3, good_count=9)
        changed = await eventually(lambda: _values_if(driver, good_count=9), within=2)
        await driver.close()
        return mode, changed

    mode, changed = run(scenario())

    assert mode == "read"
    assert changed == {"good_count": 9, "scrap_count": 0, "running": True, "alarm": 0}


def test_user_and_password_are_checked_by_the_server(simulator: DeviceSimulatorProcess):
    right = driver_for(simulator.opcua_mapping(1, **simulator.opcua_credentials))
    wrong = driver_for(simulator.opcua_mapping(1, username="mes", password="not-the-password"))

    async def scenario():
        values = (await right.read()).values
        await right.close()
        return values

    assert run(scenario())["running"] is True
    with pytest.raises(DeviceUnavailable, match="BadUserAccessDenied"):
        run(wrong.read())


def test_a_machine_that_stops_answering_shows_bad_status_and_recovers(
    simulator: DeviceSimulatorProcess,
):
    simulator.control.set_machine(2, good_count=31)
    driver = driver_for(simulator.opcua_mapping(2, poll_interval_s=0.2))

    async def errors_of(snapshot_driver):
        snapshot = await snapshot_driver.read()
        return dict(snapshot.errors)

    async def scenario():
        await eventually(lambda: _values_if(driver, good_count=31))
        simulator.control.stop_answering(2)
        silent = await eventually(lambda: errors_of(driver), within=3)
        simulator.control.set_machine(2, good_count=32)
        simulator.control.resume(2)
        back = await eventually(lambda: _values_if(driver, good_count=32), within=3)
        errors_after = await errors_of(driver)
        await driver.close()
        return silent, back, errors_after

    silent, back, errors_after = run(scenario())

    assert silent == {
        name: "status BadNoCommunication"
        for name in ("good_count", "scrap_count", "running", "alarm")
    }
    assert back == {"good_count": 32, "scrap_count": 0, "running": True, "alarm": 0}
    assert errors_after == {}


def test_an_unknown_node_is_a_signal_error_and_the_rest_is_read(simulator: DeviceSimulatorProcess):
    simulator.control.set_machine(1, good_count=5)
    mapping = simulator.opcua_mapping(1)
    mapping["signals"]["alarm"] = {"node": "ns=2;s=Machine01.NoSuchVariable"}
    driver: OpcUaDriver = driver_for(mapping)  # type: ignore[assignment]

    async def scenario():
        snapshot = await driver.read()
        mode = driver.mode
        await driver.close()
        return snapshot, mode

    snapshot, mode = run(scenario())

    assert snapshot.values == {"good_count": 5, "scrap_count": 0, "running": True}
    assert snapshot.errors == {"alarm": "status BadNodeIdUnknown"}
    assert (
        mode == "read"
    )  # the server would not monitor that node, so every read asks for all of them


def test_no_server_is_unavailable(simulator: DeviceSimulatorProcess):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    driver = driver_for(opcua_mapping(f"opc.tcp://127.0.0.1:{port}", 1))

    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        run(driver.read())
