"""The device simulator process: machines, their Modbus TCP and OPC UA servers, and the control API.

Everything runs on one asyncio loop and binds to 127.0.0.1 only. The control API is a small
HTTP/1.1 server (one request per connection, JSON in and out) on its own port:

    GET  /__sim__/health                   ports, machine count, seed, whether it answers
    GET  /__sim__/machines                 {"machines": [status, …]}
    GET  /__sim__/machines/{n}             status of machine n (= its Modbus unit id)
    POST /__sim__/machines/{n}             change some of: state (running|idle|down), alarm,
                                           cycle_time_s, scrap_rate, automatic, good_count,
                                           scrap_count, answering; answers the new status
    POST /__sim__/machines/{n}/reset       PLC restart: both counters back to 0
    POST /__sim__/machines/{n}/stop        machine n stops answering (Modbus: silence;
    POST /__sim__/machines/{n}/resume        OPC UA: BadNoCommunication) / answers again
    POST /__sim__/stop, /__sim__/resume    the same for every machine at once

A status is ``MachineStatus.as_json()`` plus ``unit_id`` and ``opcua_nodes``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from simulators.devices.machine import COUNTER_MODULUS, Machine, MachineState
from simulators.devices.modbus_server import start_modbus_server
from simulators.devices.opcua_server import SIGNAL_VARIABLES, OpcUaMachineServer, node_id

LOOPBACK = "127.0.0.1"
MAX_MACHINES = 247  # Modbus unit ids 1…247
DEFAULT_OPCUA_USER = "mes"
DEFAULT_OPCUA_PASSWORD = "mes-demo-opcua"
CONTROL_PREFIX = "/__sim__"
MAX_BODY_BYTES = 64 * 1024


@dataclass
class DeviceSimulatorConfig:
    machines: int = 4
    modbus_port: int = 5020  # 0: any free port
    opcua_port: int | None = 4840  # None: no OPC UA server; 0: any free port
    control_port: int = 0  # 0: any free port
    seed: int = 1
    cycle_time_s: float | None = None  # None: each machine draws its own from the seed
    cycle_times_s: tuple[float, ...] = ()  # machine 1, 2, …: their own (beyond the list: cycle_time_s)
    automatic: bool = True  # random state changes, faults and PLC restarts
    opcua_username: str = DEFAULT_OPCUA_USER
    opcua_password: str = field(default=DEFAULT_OPCUA_PASSWORD, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.machines <= MAX_MACHINES:
            raise ValueError(f"machines must be between 1 and {MAX_MACHINES} (Modbus unit ids)")
        for name in ("modbus_port", "opcua_port", "control_port"):
            port = getattr(self, name)
            if port is not None and not 0 <= port <= 65535:
                raise ValueError(f"{name} must be between 0 and 65535")
        if self.cycle_time_s is not None and not self.cycle_time_s > 0:
            raise ValueError("cycle_time_s must be positive")
        if not all(value > 0 for value in self.cycle_times_s):
            raise ValueError("every one of cycle_times_s must be positive")
        if len(self.cycle_times_s) > self.machines:
            raise ValueError(f"{len(self.cycle_times_s)} cycle times for {self.machines} machines")

    def machine_cycle_time(self, number: int) -> float | None:
        """Machine ``number``'s seconds per part (1-based); None: drawn from the seed."""
        return self.cycle_times_s[number - 1] if number <= len(self.cycle_times_s) else self.cycle_time_s


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class DeviceSimulator:
    def __init__(self, config: DeviceSimulatorConfig) -> None:
        self.config = config
        now = time.monotonic()
        self.machines = [
            Machine(
                number,
                seed=config.seed,
                now=now,
                cycle_time_s=config.machine_cycle_time(number),
                automatic=config.automatic,
            )
            for number in range(1, config.machines + 1)
        ]
        self.answering = True
        self.modbus_port = 0
        self.opcua: OpcUaMachineServer | None = None
        self.control_port = 0
        self._modbus_server: Any = None
        self._control_server: asyncio.Server | None = None

    @property
    def opcua_endpoint(self) -> str | None:
        return self.opcua.endpoint if self.opcua else None

    async def start(self) -> None:
        self._modbus_server, self.modbus_port = await start_modbus_server(
            self.machines,
            host=LOOPBACK,
            port=self.config.modbus_port,
            is_answering=lambda: self.answering,
        )
        if self.config.opcua_port is not None:
            self.opcua = OpcUaMachineServer(
                self.machines,
                host=LOOPBACK,
                # asyncua advertises the port it was given, so a free one is chosen here, not by bind(0).
                port=self.config.opcua_port or _free_port(),
                username=self.config.opcua_username,
                password=self.config.opcua_password,
                clock=time.monotonic,
                is_answering=lambda: self.answering,
            )
            await self.opcua.start()
        self._control_server = await asyncio.start_server(
            self._serve_control, LOOPBACK, self.config.control_port
        )
        self.control_port = self._control_server.sockets[0].getsockname()[1]

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; re-raises a failure of the OPC UA updater."""
        waiters = [asyncio.create_task(stop.wait())]
        if self.opcua is not None and self.opcua.task is not None:
            waiters.append(self.opcua.task)
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        waiters[0].cancel()
        for task in done:
            if task is not waiters[0]:
                task.result()

    async def close(self) -> None:
        if self._control_server is not None:
            self._control_server.close()
            await self._control_server.wait_closed()
        if self.opcua is not None:
            await self.opcua.stop()
        if self._modbus_server is not None:
            await self._modbus_server.shutdown()

    def health(self) -> dict[str, Any]:
        return {
            "modbus_port": self.modbus_port,
            "opcua_port": self.opcua.port if self.opcua else None,
            "opcua_endpoint": self.opcua_endpoint,
            "control_port": self.control_port,
            "machines": len(self.machines),
            "seed": self.config.seed,
            "answering": self.answering,
        }

    # -- control -------------------------------------------------------------------------

    def machine(self, number: int) -> Machine:
        if not 1 <= number <= len(self.machines):
            raise ControlError(404, f"no machine {number}; machines are 1…{len(self.machines)}")
        return self.machines[number - 1]

    def status(self, machine: Machine) -> dict[str, Any]:
        machine.advance(time.monotonic())
        data = machine.status().as_json()
        data["unit_id"] = machine.number
        if self.opcua is not None:
            index = self.opcua.namespace_index
            data["opcua_nodes"] = {
                name: node_id(machine.name, variable, index)
                for name, variable in SIGNAL_VARIABLES.items()
            }
        return data

    def change(self, machine: Machine, changes: dict[str, Any]) -> None:
        """Apply ``changes`` all together, or none of them (``ControlError`` 400)."""
        allowed = {
            "state",
            "alarm",
            "cycle_time_s",
            "scrap_rate",
            "automatic",
            "good_count",
            "scrap_count",
            "answering",
        }
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ControlError(400, f"unknown fields {unknown}; known: {sorted(allowed)}")
        if "state" in changes and changes["state"] not in tuple(MachineState):
            raise ControlError(
                400, f"state must be one of {[state.value for state in MachineState]}"
            )
        if "alarm" in changes and not _is_int(changes["alarm"], 0, 65535):
            raise ControlError(400, "alarm must be a whole number 0…65535")
        if changes.get("alarm") and changes.get("state", machine.state) != MachineState.DOWN:
            raise ControlError(
                400, "an alarm code shows only while the machine is down: send state down with it"
            )
        for name in ("good_count", "scrap_count"):
            if name in changes and not _is_int(changes[name], 0, COUNTER_MODULUS - 1):
                raise ControlError(400, f"{name} must be a whole number 0…{COUNTER_MODULUS - 1}")
        if "cycle_time_s" in changes and not _is_number(changes["cycle_time_s"], 0.001, 86400):
            raise ControlError(400, "cycle_time_s must be a number of seconds, 0.001…86400")
        if "scrap_rate" in changes and not _is_number(changes["scrap_rate"], 0.0, 1.0):
            raise ControlError(400, "scrap_rate must be a number 0…1")
        for name in ("automatic", "answering"):
            if name in changes and not isinstance(changes[name], bool):
                raise ControlError(400, f"{name} must be true or false")
        now = time.monotonic()
        if "good_count" in changes or "scrap_count" in changes:
            machine.set_counts(
                now=now,
                good_count=changes.get("good_count"),
                scrap_count=changes.get("scrap_count"),
            )
        if "cycle_time_s" in changes:
            machine.set_cycle_time(changes["cycle_time_s"], now=now)
        if "scrap_rate" in changes:
            machine.set_scrap_rate(changes["scrap_rate"], now=now)
        if "state" in changes or "alarm" in changes:
            machine.set_state(
                changes.get("state", machine.state), now=now, alarm=changes.get("alarm")
            )
        if "automatic" in changes:
            machine.set_automatic(changes["automatic"], now=now)
        if "answering" in changes:
            machine.set_answering(changes["answering"])

    def dispatch(self, method: str, path: str, body: Any) -> Any:
        if not path.startswith(CONTROL_PREFIX + "/"):
            raise ControlError(404, f"the control API lives under {CONTROL_PREFIX}/")
        parts = path[len(CONTROL_PREFIX) + 1 :].strip("/").split("/")
        route = (method, parts[0], len(parts))
        if route == ("GET", "health", 1):
            return self.health()
        if route in (("POST", "stop", 1), ("POST", "resume", 1)):
            self.answering = parts[0] == "resume"
            return self.health()
        if parts[0] == "machines" and len(parts) == 1 and method == "GET":
            return {"machines": [self.status(machine) for machine in self.machines]}
        if parts[0] == "machines" and len(parts) in (2, 3):
            try:
                machine = self.machine(int(parts[1]))
            except ValueError:
                raise ControlError(404, f"no machine {parts[1]!r}") from None
            action = parts[2] if len(parts) == 3 else None
            if method == "GET" and action is None:
                return self.status(machine)
            if method == "POST" and action is None:
                if not isinstance(body, dict):
                    raise ControlError(400, "send a JSON object of changes")
                self.change(machine, body)
                return self.status(machine)
            if method == "POST" and action == "reset":
                machine.reset_counters(now=time.monotonic())
                return self.status(machine)
            if method == "POST" and action in ("stop", "resume"):
                machine.set_answering(action == "resume")
                return self.status(machine)
        raise ControlError(404, f"no route {method} {path}")

    async def _serve_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        status, payload = 200, None
        try:
            method, path, body = await asyncio.wait_for(_read_request(reader), timeout=10)
            payload = self.dispatch(method, path, body)
            if method == "POST" and self.opcua is not None:
                await (
                    self.opcua.update()
                )  # so both faces show a change once its request is answered
        except ControlError as error:
            status, payload = error.status, {"error": str(error)}
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}.get(
            status, "Error"
        )
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, Any]:
    request_line = (await reader.readline()).decode("latin-1").strip()
    try:
        method, target, _ = request_line.split(" ", 2)
    except ValueError:
        raise ControlError(400, "malformed request line") from None
    length = 0
    while True:
        line = (await reader.readline()).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ControlError(400, "bad Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise ControlError(413, "body too large")
    body = None
    if length:
        raw = await reader.readexactly(length)
        try:
            body = json.loads(raw)
        except ValueError:
            raise ControlError(400, "the body is not JSON") from None
    return method.upper(), target.split("?", 1)[0], body


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


__all__ = ["DeviceSimulator", "DeviceSimulatorConfig"]
