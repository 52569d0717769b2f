"""Modbus TCP through pymodbus's asyncio client.

Signals are grouped by table (holding, input, coil, discrete input) and read in as few requests
as the protocol allows: neighbours and small holes (up to ``MAX_GAP`` registers) share one
request of at most 125 registers or 2000 bits. A device that refuses a bridged hole with
"illegal data address" gets its request split along the holes, once, and is then read that way.

32-bit values: ``word_order`` says which register holds the high word, ``byte_order`` which
byte of each register comes first; big/big is ABCD (Modbus's own order), little/big is
CDAB, big/little BADC, little/little DCBA.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from shopfloor.devices.base import (
    DeviceTimeout,
    DeviceUnavailable,
    DriverBase,
    SignalValue,
    Snapshot,
    coerce_signal,
    utc_now,
)
from shopfloor.devices.config import (
    REGISTER_TYPES,
    ModbusBitSignal,
    ModbusConfig,
    ModbusRegisterSignal,
)

MAX_GAP = 8
MAX_REGISTERS_PER_REQUEST = 125
MAX_BITS_PER_REQUEST = 2000

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def decode_registers(
    registers: Sequence[int], register_type: str, word_order: str, byte_order: str
) -> int | float:
    """Registers as received (one 16-bit int each) → the value they hold."""
    width, code = REGISTER_TYPES[register_type]
    words = list(registers[:width])
    if len(words) != width:
        raise ValueError(f"{register_type} needs {width} registers, got {len(words)}")
    if word_order == "little":
        words.reverse()
    raw = b"".join(word.to_bytes(2, "big") for word in words)
    if byte_order == "little":
        raw = b"".join(raw[index : index + 2][::-1] for index in range(0, len(raw), 2))
    return struct.unpack(">" + code, raw)[0]


@dataclass(frozen=True)
class ReadBlock:
    """One request: ``count`` registers or bits of ``table`` from ``start``, serving ``members``."""

    table: str  # holding | input | coil | discrete_input
    start: int
    count: int
    members: tuple[tuple[str, ModbusRegisterSignal | ModbusBitSignal], ...]

    @property
    def has_holes(self) -> bool:
        covered = set()
        for _, signal in self.members:
            covered.update(range(_address(signal), _address(signal) + signal.width))
        return len(covered) < self.count

    def split(self) -> list[ReadBlock]:
        """The same members in hole-free blocks."""
        return plan_reads(dict(self.members), max_gap=0)


def _address(signal: ModbusRegisterSignal | ModbusBitSignal) -> int:
    return signal.register if isinstance(signal, ModbusRegisterSignal) else signal.address


def plan_reads(
    signals: dict[str, ModbusRegisterSignal | ModbusBitSignal], *, max_gap: int = MAX_GAP
) -> list[ReadBlock]:
    """Group signals into the fewest requests, bridging holes of up to ``max_gap`` addresses."""
    by_table: dict[str, list[tuple[str, ModbusRegisterSignal | ModbusBitSignal]]] = {}
    for name, signal in signals.items():
        by_table.setdefault(signal.kind, []).append((name, signal))
    blocks = []
    for table, members in by_table.items():
        limit = (
            MAX_BITS_PER_REQUEST
            if table in ("coil", "discrete_input")
            else MAX_REGISTERS_PER_REQUEST
        )
        members.sort(key=lambda member: _address(member[1]))
        current: list[tuple[str, ModbusRegisterSignal | ModbusBitSignal]] = []
        start = end = 0  # end: one past the last address covered
        for name, signal in members:
            first, last = _address(signal), _address(signal) + signal.width
            if current and first - end <= max_gap and max(end, last) - start <= limit:
                current.append((name, signal))
                end = max(end, last)
                continue
            if current:
                blocks.append(ReadBlock(table, start, end - start, tuple(current)))
            current, start, end = [(name, signal)], first, last
        if current:
            blocks.append(ReadBlock(table, start, end - start, tuple(current)))
    return blocks


class ModbusDriver(DriverBase):
    def __init__(self, config: ModbusConfig) -> None:
        self.config = config
        self.blocks = plan_reads(dict(config.signals))
        self._client: AsyncModbusTcpClient | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        if self.connected:
            return
        await self.close()
        client = AsyncModbusTcpClient(
            self.config.host,
            port=self.config.port,
            timeout=self.config.timeout_s,
            retries=0,
            reconnect_delay=0,  # no reconnecting behind our back: the caller owns the back-off
            name=self.config.address,
        )
        if not await client.connect():
            client.close()
            raise DeviceUnavailable(self.config.address, "cannot connect")
        self._client = client

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(self) -> Snapshot:
        await self.connect()
        values: dict[str, SignalValue] = {}
        errors: dict[str, str] = {}
        index = 0
        while index < len(self.blocks):
            block = self.blocks[index]
            result = await self._request(block)
            if isinstance(result, int) and result == 2 and block.has_holes:
                # The device refuses the holes we bridged: read around them from now on.
                self.blocks[index : index + 1] = block.split()
                continue
            if isinstance(result, int):
                message = f"Modbus exception {result} ({EXCEPTION_NAMES.get(result, 'unknown')})"
                errors.update((name, message) for name, _ in block.members)
            else:
                self._decode(block, result, values, errors)
            index += 1
        return Snapshot(read_at=utc_now(), values=values, errors=errors)

    async def _request(self, block: ReadBlock) -> list[int] | list[bool] | int:
        """The registers or bits of ``block``, or the device's exception code."""
        client = self._client
        assert client is not None
        method = {
            "holding": client.read_holding_registers,
            "input": client.read_input_registers,
            "coil": client.read_coils,
            "discrete_input": client.read_discrete_inputs,
        }[block.table]
        try:
            response = await method(block.start, count=block.count, device_id=self.config.unit_id)
        except ModbusIOException as error:
            # Also a reply for another unit or transaction: either way the connection is not to be trusted.
            await self.close()
            if "No response received" not in str(error):
                raise DeviceUnavailable(self.config.address, str(error)) from error
            raise DeviceTimeout(
                self.config.address, f"no answer within {self.config.timeout_s:g} s"
            ) from error
        except (ConnectionException, ConnectionError, OSError) as error:
            await self.close()
            raise DeviceUnavailable(self.config.address, f"connection lost: {error}") from error
        except ModbusException as error:
            await self.close()
            raise DeviceUnavailable(self.config.address, str(error)) from error
        if response.isError():
            return int(getattr(response, "exception_code", 0))
        if block.table in ("coil", "discrete_input"):
            return list(response.bits[: block.count])
        return list(response.registers)

    @staticmethod
    def _decode(
        block: ReadBlock,
        data: list[int] | list[bool],
        values: dict[str, SignalValue],
        errors: dict[str, str],
    ) -> None:
        for name, signal in block.members:
            offset = _address(signal) - block.start
            try:
                if isinstance(signal, ModbusBitSignal):
                    raw: int | float | bool = bool(data[offset])
                    values[name] = coerce_signal(name, raw)
                else:
                    raw = decode_registers(
                        data[offset : offset + signal.width],
                        signal.type,
                        signal.word_order,
                        signal.byte_order,
                    )
                    values[name] = coerce_signal(name, raw, signal.scale)
            except (ValueError, IndexError, struct.error) as error:
                errors[name] = f"cannot decode: {error}"


__all__ = ["ModbusDriver", "ReadBlock", "decode_registers", "plan_reads"]
