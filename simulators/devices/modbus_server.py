"""The Modbus TCP face of the simulated machines: pymodbus's server with ``SimDevice``/``SimData``.

One unit id per machine (1…N), each with its own coils, discrete inputs, holding and input
registers (holding and input registers hold the same values). The registers are refreshed by
the device's ``action`` on every request, from the machine's state at that moment; they are
read-only. A machine that stops answering raises ``NoSuchIdException`` in its action, which the
server (``ignore_missing_devices=True``) answers with silence: the client times out, exactly as
with a PLC that has gone quiet. An unknown unit id gets exception 0x0B (gateway target failed
to respond), as from a Modbus TCP gateway.

Register map (addresses from 0, as on the wire):

    0-1    good_count     uint32   ABCD (word big, byte big)
    2-3    scrap_count    uint32   ABCD
    4      running        uint16   1 running, 0 not
    5      state          uint16   0 idle, 1 running, 2 down
    6      alarm          uint16   0 none, else the fault code
    7      restarts       uint16   PLC restarts so far (mod 65536)
    8-9    cycle_time_s   float32  ABCD
    10-11  good_count     uint32   CDAB (word little)
    12-13  good_count     uint32   BADC (byte little)
    14-15  good_count     uint32   DCBA (word and byte little)
    16-17  scrap_count    uint32   CDAB
    18-19  cycle_time_s   float32  CDAB
    20-21  good_count     int32    ABCD (the same count read as signed)
    coils and discrete inputs: 0 running, 1 alarm active, 2 down
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.devices.machine import STATE_CODES, Machine, MachineState

# (signal, first register, type, word order, byte order)
REGISTER_MAP: tuple[tuple[str, int, str, str, str], ...] = (
    ("good_count", 0, "uint32", "big", "big"),
    ("scrap_count", 2, "uint32", "big", "big"),
    ("running", 4, "uint16", "big", "big"),
    ("state", 5, "uint16", "big", "big"),
    ("alarm", 6, "uint16", "big", "big"),
    ("restarts", 7, "uint16", "big", "big"),
    ("cycle_time_s", 8, "float32", "big", "big"),
    ("good_count", 10, "uint32", "little", "big"),
    ("good_count", 12, "uint32", "big", "little"),
    ("good_count", 14, "uint32", "little", "little"),
    ("scrap_count", 16, "uint32", "little", "big"),
    ("cycle_time_s", 18, "float32", "little", "big"),
    ("good_count", 20, "int32", "big", "big"),
)
REGISTER_COUNT = 22
COIL_MAP = {"running": 0, "alarm_active": 1, "down": 2}

_DATATYPES = {
    "uint16": ModbusClientMixin.DATATYPE.UINT16,
    "uint32": ModbusClientMixin.DATATYPE.UINT32,
    "int32": ModbusClientMixin.DATATYPE.INT32,
    "float32": ModbusClientMixin.DATATYPE.FLOAT32,
}
_BIT_FUNCTIONS = frozenset({1, 2, 5, 15})


def machine_registers(machine: Machine) -> list[int]:
    """The machine's holding/input registers, per ``REGISTER_MAP``."""
    values = {
        "good_count": machine.good_count,
        "scrap_count": machine.scrap_count,
        "running": int(machine.state is MachineState.RUNNING),
        "state": STATE_CODES[machine.state],
        "alarm": machine.alarm,
        "restarts": machine.restarts % 65536,
        "cycle_time_s": machine.cycle_time_s,
    }
    registers = [0] * REGISTER_COUNT
    for name, first, register_type, word_order, byte_order in REGISTER_MAP:
        value = values[name]
        if register_type == "int32" and value >= 2**31:
            value -= 2**32
        # pymodbus's own conversion (not our driver's decoder), so tests check one against the other.
        words = ModbusClientMixin.convert_to_registers(
            value, _DATATYPES[register_type], word_order=word_order
        )
        if byte_order == "little":
            words = [((word & 0xFF) << 8) | (word >> 8) for word in words]
        registers[first : first + len(words)] = words
    return registers


def machine_bits(machine: Machine) -> int:
    """Coils 0…15 packed into one register, bit 0 first."""
    bits = {
        "running": machine.state is MachineState.RUNNING,
        "alarm_active": machine.alarm != 0,
        "down": machine.state is MachineState.DOWN,
    }
    return sum(1 << COIL_MAP[name] for name, on in bits.items() if on)


class MachineRegisters:
    """Keeps one machine's encoded registers, re-encoding only when the machine changed."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self._version = -1
        self._registers: list[int] = []
        self._bits = 0

    def current(self) -> tuple[list[int], int]:
        if self.machine.version != self._version:
            self._registers = machine_registers(self.machine)
            self._bits = machine_bits(self.machine)
            self._version = self.machine.version
        return self._registers, self._bits


def build_devices(
    machines: list[Machine], clock: Callable[[], float], is_answering: Callable[[], bool]
) -> list[SimDevice]:
    """One ``SimDevice`` per machine (unit id = machine number) and a catch-all for unknown ids."""
    devices = [
        SimDevice(
            id=machine.number,
            simdata=_blocks(),
            action=functools.partial(_refresh, MachineRegisters(machine), clock, is_answering),
        )
        for machine in machines
    ]
    devices.append(SimDevice(id=0, simdata=_blocks(), action=_unknown_unit))
    return devices


def _blocks() -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
    # Separate tables (coils, discrete inputs, holding, input): coil 0 and register 0 are different things.
    return (
        [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
        [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
        [SimData(0, count=REGISTER_COUNT, values=0, datatype=DataType.REGISTERS, readonly=True)],
        [SimData(0, count=REGISTER_COUNT, values=0, datatype=DataType.REGISTERS, readonly=True)],
    )


async def _refresh(
    registers: MachineRegisters,
    clock: Callable[[], float],
    is_answering: Callable[[], bool],
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    current_registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    machine = registers.machine
    if not (machine.answering and is_answering()):
        raise NoSuchIdException(f"unit {machine.number} is not answering")
    machine.advance(clock())
    words, bits = registers.current()
    if function_code in _BIT_FUNCTIONS:
        current_registers[0] = bits
    else:
        current_registers[:REGISTER_COUNT] = words
    return None


async def _unknown_unit(*_: object) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


async def start_modbus_server(
    machines: list[Machine], *, host: str, port: int, is_answering: Callable[[], bool]
) -> tuple[ModbusTcpServer, int]:
    """Start listening; returns the server and the port it got (``port=0``: any free one)."""
    server = ModbusTcpServer(
        build_devices(machines, time.monotonic, is_answering),
        address=(host, port),
        ignore_missing_devices=True,
    )
    await server.serve_forever(background=True)
    bound_port = server.transport.sockets[0].getsockname()[1]
    return server, bound_port
