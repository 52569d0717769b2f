"""The Modbus TCP driver against the device simulator's pymodbus server, over loopback."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from shopfloor.devices import DeviceTimeout, DeviceUnavailable, driver_for, read_once
from shopfloor.devices.modbus import ModbusDriver, decode_registers, plan_reads
from simulators.devices import DeviceSimulatorProcess
from tests.shopfloor.conftest import run

COUNT = 0x12345678  # 305419896: every byte differs, so any mix-up of word or byte order shows


async def values_of(mapping: dict) -> dict:
    snapshot = await read_once(mapping)
    assert snapshot.errors == {}
    return dict(snapshot.values)


@pytest.mark.parametrize(
    ("registers", "register_type", "word_order", "byte_order", "value"),
    [
        ([0x1234, 0x5678], "uint32", "big", "big", COUNT),
        ([0x5678, 0x1234], "uint32", "little", "big", COUNT),
        ([0x3412, 0x7856], "uint32", "big", "little", COUNT),
        ([0x7856, 0x3412], "uint32", "little", "little", COUNT),
        ([0xFFFF, 0xFFFB], "int32", "big", "big", -5),
        ([0xFFFB], "int16", "big", "big", -5),
        ([0xFBFF], "int16", "big", "little", -5),
        ([0xFFFB], "uint16", "big", "big", 65531),
        ([0x4020, 0x0000], "float32", "big", "big", 2.5),
        ([0x0000, 0x4020], "float32", "little", "big", 2.5),
    ],
)
def test_registers_decode_in_every_order(registers, register_type, word_order, byte_order, value):
    assert decode_registers(registers, register_type, word_order, byte_order) == value


def test_neighbouring_signals_share_one_request_and_tables_do_not():
    driver = driver_for(
        {
            "protocol": "modbus",
            "host": "127.0.0.1",
            "signals": {
                "good_count": {"register": 0, "type": "uint32"},
                "scrap_count": {"register": 2, "type": "uint32"},
                "alarm": {"register": 6},
                "running": {"coil": 0},
            },
        }
    )

    assert [(block.table, block.start, block.count) for block in driver.blocks] == [
        ("holding", 0, 7),
        ("coil", 0, 1),
    ]


def test_far_apart_registers_are_read_separately():
    signals = driver_for(
        {
            "protocol": "modbus",
            "host": "127.0.0.1",
            "signals": {"good_count": {"register": 0}, "alarm": {"register": 100}},
        }
    ).config.signals

    assert [(block.start, block.count) for block in plan_reads(dict(signals))] == [(0, 1), (100, 1)]


def test_uint32_reads_the_same_count_in_every_word_and_byte_order(
    simulator: DeviceSimulatorProcess,
):
    simulator.control.set_machine(1, state="idle", good_count=COUNT)
    layouts = [
        (0, "big", "big"),
        (10, "little", "big"),
        (12, "big", "little"),
        (14, "little", "little"),
    ]

    async def read_all() -> list[int]:
        counts = []
        for register, word_order, byte_order in layouts:
            signal = {
                "register": register,
                "type": "uint32",
                "word_order": word_order,
                "byte_order": byte_order,
            }
            counts.append(
                (await values_of(simulator.modbus_mapping(1, signals={"good_count": signal})))[
                    "good_count"
                ]
            )
        return counts

    assert run(read_all()) == [COUNT, COUNT, COUNT, COUNT]
    # The wrong word order is not silently right: the CDAB registers read as ABCD give another number.
    wrong = {"good_count": {"register": 10, "type": "uint32", "word_order": "big"}}
    assert run(values_of(simulator.modbus_mapping(1, signals=wrong))) == {"good_count": 0x56781234}


def test_int32_float32_and_scale(simulator: DeviceSimulatorProcess):
    simulator.control.set_machine(2, state="idle", good_count=2**32 - 5, cycle_time_s=2.5)
    signals = {
        "good_count": {"register": 20, "type": "int32"},
        # The cycle time registers stand in for an analogue value: float32 ABCD and CDAB, one scaled.
        "scrap_count": {"register": 8, "type": "float32"},
        "alarm": {"register": 18, "type": "float32", "word_order": "little", "scale": 10},
    }

    assert run(values_of(simulator.modbus_mapping(2, signals=signals))) == {
        "good_count": -5,
        "scrap_count": 2.5,
        "alarm": 25,
    }


def test_coils_discrete_inputs_and_input_registers(simulator: DeviceSimulatorProcess):
    simulator.control.set_machine(3, state="down", alarm=205)
    signals = {
        "running": {"coil": 0},
        "alarm": {"register": 6, "kind": "input"},
        "good_count": {"discrete_input": 2},  # the "down" bit, read through the discrete inputs
    }

    assert run(values_of(simulator.modbus_mapping(3, signals=signals))) == {
        "running": False,
        "alarm": 205,
        "good_count": 1,
    }

    simulator.control.set_machine(3, state="running")
    assert run(values_of(simulator.modbus_mapping(3, signals=signals))) == {
        "running": True,
        "alarm": 0,
        "good_count": 0,
    }


def test_counts_advance_with_the_cycle_time(simulator: DeviceSimulatorProcess):
    simulator.control.set_machine(1, cycle_time_s=0.05, good_count=1000)
    driver = driver_for(simulator.modbus_mapping(1))

    async def two_reads():
        first = await driver.read()
        await asyncio.sleep(0.6)
        second = await driver.read()
        await driver.close()
        return first, second

    first, second = run(two_reads())
    after = simulator.control.machine(1)

    assert first.values["running"] is True and first.values["alarm"] == 0
    assert 1000 <= first.values["good_count"] < second.values["good_count"] <= after["good_count"]
    assert (
        second.values["good_count"] - first.values["good_count"] >= 6
    )  # 0.6 s at 20 parts/s, less scheduling slack
    assert second.read_at > first.read_at


def test_a_plc_counter_reset_is_visible(simulator: DeviceSimulatorProcess):
    simulator.control.set_machine(2, good_count=5000, scrap_count=40)
    restarts_before = simulator.control.machine(2)["restarts"]
    driver = driver_for(simulator.modbus_mapping(2))

    async def read_reset_read():
        before = await driver.read()
        simulator.control.reset_counters(2)
        after = await driver.read()
        await driver.close()
        return before, after

    before, after = run(read_reset_read())

    assert (before.values["good_count"], before.values["scrap_count"]) == (5000, 40)
    assert (after.values["good_count"], after.values["scrap_count"]) == (0, 0)
    assert simulator.control.machine(2)["restarts"] == restarts_before + 1


def test_a_device_that_stops_answering_times_out_in_bounded_time_and_recovers(
    simulator: DeviceSimulatorProcess,
):
    simulator.control.set_machine(1, good_count=77)
    driver: ModbusDriver = driver_for(simulator.modbus_mapping(1, timeout_s=0.5))  # type: ignore[assignment]
    neighbour = driver_for(simulator.modbus_mapping(2, timeout_s=0.5))

    async def scenario():
        assert (await driver.read()).values["good_count"] == 77
        simulator.control.stop_answering(1)
        started = time.monotonic()
        with pytest.raises(DeviceTimeout) as raised:
            await driver.read()
        waited = time.monotonic() - started
        assert not driver.connected  # dropped: the next read starts on a fresh connection
        neighbour_values = (await neighbour.read()).values  # the same server still serves unit 2
        simulator.control.set_machine(1, good_count=78)
        with pytest.raises(DeviceTimeout):
            await driver.read()
        simulator.control.resume(1)
        recovered = await driver.read()
        await driver.close()
        await neighbour.close()
        return raised.value, waited, neighbour_values, recovered

    error, waited, neighbour_values, recovered = run(scenario())

    assert 0.4 <= waited < 1.5
    assert str(error).startswith(
        f"modbus://127.0.0.1:{simulator.modbus_port}/1: no answer within 0.5 s"
    )
    assert neighbour_values["good_count"] == 0
    assert recovered.values["good_count"] == 78 and recovered.errors == {}


def test_a_whole_simulator_that_stops_answering_times_out_every_unit(
    simulator: DeviceSimulatorProcess,
):
    drivers = [driver_for(simulator.modbus_mapping(number, timeout_s=0.3)) for number in (1, 2, 3)]

    async def scenario():
        simulator.control.stop_answering()
        outcomes = []
        for driver in drivers:
            try:
                await driver.read()
                outcomes.append("answered")
            except DeviceTimeout:
                outcomes.append("timed out")
        simulator.control.resume()
        recovered = [(await driver.read()).complete for driver in drivers]
        for driver in drivers:
            await driver.close()
        return outcomes, recovered

    assert run(scenario()) == (["timed out"] * 3, [True] * 3)


def test_an_unknown_unit_answers_with_a_gateway_exception_per_signal(
    simulator: DeviceSimulatorProcess,
):
    driver = driver_for(simulator.modbus_mapping(99))

    async def scenario():
        snapshot = await driver.read()
        await driver.close()
        return snapshot

    snapshot = run(scenario())

    assert snapshot.values == {}
    assert set(snapshot.errors) == {"good_count", "scrap_count", "running", "alarm"}
    assert (
        snapshot.errors["good_count"]
        == "Modbus exception 11 (gateway target device failed to respond)"
    )


def test_a_bridged_hole_the_device_refuses_is_read_around(simulator: DeviceSimulatorProcess):
    simulator.control.set_machine(1, state="idle", good_count=COUNT)
    # Registers 22 and 23 do not exist on the simulated PLC: the first plan bridges them, the device says no.
    signals = {
        "good_count": {
            "register": 14,
            "type": "uint32",
            "word_order": "little",
            "byte_order": "little",
        },
        "alarm": {"register": 23},
    }
    driver: ModbusDriver = driver_for(simulator.modbus_mapping(1, signals=signals))  # type: ignore[assignment]
    assert [(block.start, block.count) for block in driver.blocks] == [(14, 10)]

    async def scenario():
        first = await driver.read()
        second = await driver.read()
        await driver.close()
        return first, second

    first, second = run(scenario())

    assert [(block.start, block.count) for block in driver.blocks] == [(14, 2), (23, 1)]
    for snapshot in (first, second):
        assert snapshot.values == {"good_count": COUNT}
        assert snapshot.errors == {"alarm": "Modbus exception 2 (illegal data address)"}


def test_nothing_listening_is_unavailable_at_once():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    driver = driver_for(
        {
            "protocol": "modbus",
            "host": "127.0.0.1",
            "port": port,
            "signals": {"good_count": {"register": 0}},
        }
    )
    started = time.monotonic()

    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        run(driver.read())
    assert time.monotonic() - started < 1.5
