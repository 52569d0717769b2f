"""The simulated machine's behaviour (no sockets), and the simulator's control API refusing bad requests."""

from __future__ import annotations

import argparse
from decimal import Decimal

import pytest

from plant.management.commands.seed_demo import DEMO_MACHINES, EQUIPMENT, ROUTINGS, demo_cycle_times
from simulators.devices import (
    DeviceSimulatorError,
    DeviceSimulatorProcess,
    Machine,
    MachineBehaviour,
)
from simulators.devices.machine import COUNTER_MODULUS, FAULT_CODES
from simulators.devices.modbus_server import machine_bits, machine_registers
from simulators.devices.server import DeviceSimulator, DeviceSimulatorConfig
from simulators.management.commands.device_simulator import _cycle_times

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


def test_each_machine_may_have_its_own_cycle_time():
    simulator = DeviceSimulator(DeviceSimulatorConfig(machines=4, cycle_times_s=(132.0, 99.0, 396.0)))

    assert [machine.cycle_time_s for machine in simulator.machines][:3] == [132.0, 99.0, 396.0]
    assert 2.0 <= simulator.machines[3].cycle_time_s <= 8.0  # beyond the list: drawn from the seed
    with pytest.raises(ValueError, match="5 cycle times for 4 machines"):
        DeviceSimulatorConfig(machines=4, cycle_times_s=(1.0,) * 5)
    with pytest.raises(ValueError, match="positive"):
        DeviceSimulatorConfig(cycle_times_s=(1.0, 0.0))


@pytest.mark.parametrize(("text", "expected"), [("2.5", (2.5,)), ("132,99,396,33", (132.0, 99.0, 396.0, 33.0))])
def test_the_cycle_time_option_takes_one_number_or_one_per_machine(text, expected):
    assert _cycle_times(text) == expected


@pytest.mark.parametrize("text", ["", "fast", "1,,2", "0", "-3,4", "90000"])
def test_a_bad_cycle_time_option_says_what_it_wants(text):
    with pytest.raises(argparse.ArgumentTypeError, match="seconds per part"):
        _cycle_times(text)


def test_the_demo_machines_never_outrun_the_ideal_cycle_of_their_work_center():
    centers = {code: center for code, _name, center in EQUIPMENT}
    for code, seconds in zip(DEMO_MACHINES, demo_cycle_times(), strict=True):
        ideal = [Decimal(minutes) * 60 for operations in ROUTINGS.values() for _s, _n, at, _u, minutes, _c in operations if at == centers[code]]
        assert ideal and seconds >= max(ideal), (code, seconds, ideal)
