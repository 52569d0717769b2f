"""The simulated machine's behaviour (no sockets), and the simulator's control API refusing bad requests."""

from __future__ import annotations

import pytest

from simulators.devices import (
    DeviceSimulatorError,
    DeviceSimulatorProcess,
    Machine,
    MachineBehaviour,
)
from simulators.devices.machine import COUNTER_MODULUS, FAULT_CODES
from simulators.devices.modbus_server import machine_bits, machine_registers

BUSY = MachineBehaviour(
    mean_run_s=30,
    mean_idle_s=10,
    mean_down_s=10,
    fault_share=0.5,
    restarts_per_hour=60,
    scrap_rate=0.1,
)


def test_a_running_machine_makes_one_part_per_cycle():
    machine = Machine(
        1,
        seed=7,
        now=100.0,
        cycle_time_s=2.0,
        automatic=False,
        behaviour=MachineBehaviour(scrap_rate=0.0),
    )

    machine.advance(100.0 + 2.0 * 10 + 1.0)

    assert (machine.good_count, machine.scrap_count) == (10, 0)
    machine.advance(50.0)  # time never runs backwards
    assert machine.good_count == 10


def test_the_same_seed_gives_the_same_history_however_often_it_is_asked():
    stepped = Machine(3, seed=42, now=0.0, behaviour=BUSY)
    jumped = Machine(3, seed=42, now=0.0, behaviour=BUSY)
    other_seed = Machine(3, seed=43, now=0.0, behaviour=BUSY)

    for second in range(1, 1801):
        stepped.advance(float(second) * 1.0 - 0.5)
    stepped.advance(1800.0)
    jumped.advance(1800.0)
    other_seed.advance(1800.0)

    assert stepped.status() == jumped.status()
    assert stepped.status() != other_seed.status()


def test_automatic_machines_change_state_fault_and_restart():
    machine = Machine(1, seed=5, now=0.0, cycle_time_s=1.0, behaviour=BUSY)
    states, alarms, counts_dropped = set(), set(), False
    last_total = 0

    for second in range(1, 3601):
        machine.advance(float(second))
        states.add(machine.state.value)
        alarms.add(machine.alarm)
        total = machine.good_count + machine.scrap_count
        counts_dropped |= total < last_total
        last_total = total

    assert states == {"running", "idle", "down"}
    assert alarms - {0} and alarms - {0} <= set(FAULT_CODES)
    assert machine.restarts > 0 and counts_dropped
    assert machine.scrap_count > 0


def test_a_set_state_holds_until_automatic_again():
    machine = Machine(1, seed=5, now=0.0, cycle_time_s=1.0, behaviour=BUSY)

    machine.set_state("down", now=10.0, alarm=412)
    machine.advance(5000.0)

    assert (machine.state.value, machine.alarm, machine.automatic) == ("down", 412, False)
    machine.set_automatic(True, now=5000.0)
    machine.advance(9000.0)
    assert machine.state.value != "down" or machine.alarm in FAULT_CODES


def test_counters_roll_over_like_a_uint32():
    machine = Machine(
        1,
        seed=1,
        now=0.0,
        cycle_time_s=1.0,
        automatic=False,
        behaviour=MachineBehaviour(scrap_rate=0.0),
    )
    machine.set_counts(now=0.0, good_count=COUNTER_MODULUS - 2)

    machine.advance(3.5)

    assert machine.good_count == 1


def test_a_silent_machine_goes_on_producing():
    machine = Machine(
        1,
        seed=1,
        now=0.0,
        cycle_time_s=1.0,
        automatic=False,
        behaviour=MachineBehaviour(scrap_rate=0.0),
    )

    machine.set_answering(False)
    machine.advance(5.5)

    assert (machine.answering, machine.good_count) == (False, 5)


def test_the_register_map_puts_each_value_where_the_docs_say():
    machine = Machine(1, seed=1, now=0.0, cycle_time_s=2.5, automatic=False)
    machine.set_counts(now=0.0, good_count=0x12345678, scrap_count=0x00010002)
    machine.set_state("down", now=0.0, alarm=205)

    registers = machine_registers(machine)

    assert registers[0:8] == [0x1234, 0x5678, 0x0001, 0x0002, 0, 2, 205, 0]
    assert registers[8:10] == [0x4020, 0x0000]
    assert registers[10:16] == [0x5678, 0x1234, 0x3412, 0x7856, 0x7856, 0x3412]
    assert registers[16:22] == [0x0002, 0x0001, 0x0000, 0x4020, 0x1234, 0x5678]
    assert machine_bits(machine) == 0b110  # not running, alarm active, down


def test_the_control_api_refuses_bad_changes_and_changes_nothing(simulator: DeviceSimulatorProcess):
    before = simulator.control.machine(1)

    with pytest.raises(DeviceSimulatorError, match="400.*state must be one of"):
        simulator.control.set_machine(1, state="exploded", good_count=5)
    with pytest.raises(DeviceSimulatorError, match="400.*unknown fields"):
        simulator.control.set_machine(1, speed=3)
    with pytest.raises(
        DeviceSimulatorError, match="400.*alarm code shows only while the machine is down"
    ):
        simulator.control.set_machine(1, alarm=205)
    with pytest.raises(DeviceSimulatorError, match="404.*no machine 9"):
        simulator.control.machine(9)

    assert simulator.control.machine(1) == before


def test_the_control_api_reports_health_and_every_machine(simulator: DeviceSimulatorProcess):
    health = simulator.control.health()
    machines = simulator.control.machines()

    assert health == {
        "modbus_port": simulator.modbus_port,
        "opcua_port": simulator.opcua_port,
        "opcua_endpoint": simulator.opcua_endpoint,
        "control_port": simulator.control_port,
        "machines": 3,
        "seed": 1,
        "answering": True,
    }
    assert [machine["unit_id"] for machine in machines] == [1, 2, 3]
    assert machines[0]["opcua_nodes"]["good_count"] == "ns=2;s=Machine01.GoodCount"
