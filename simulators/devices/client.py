"""Driving a running device simulator from Python, and starting one as a child process.

with start_device_simulator(machines=3, args=["--steady"]) as simulator:
    simulator.control.set_machine(1, state="running", cycle_time_s=0.2)
    driver = driver_for(simulator.modbus_mapping(1))
    ...
    simulator.control.stop_answering(1)    # the PLC goes quiet
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from simulators.child_process import ChildProcess, child_start
from simulators.devices.server import DEFAULT_OPCUA_PASSWORD, DEFAULT_OPCUA_USER, LOOPBACK

READY_MARKER = "DEVICE_SIMULATOR_READY"


class DeviceSimulatorError(RuntimeError):
    """The simulator did not start, or its control API refused a request."""


def modbus_mapping(
    port: int, unit_id: int, *, host: str = LOOPBACK, **overrides: Any
) -> dict[str, Any]:
    """The device mapping (JSON contract) for machine ``unit_id`` of a simulator's Modbus server."""
    return {
        "protocol": "modbus",
        "host": host,
        "port": port,
        "unit_id": unit_id,
        "poll_interval_s": 1,
        "signals": {
            "good_count": {"register": 0, "kind": "holding", "type": "uint32", "word_order": "big"},
            "scrap_count": {
                "register": 2,
                "kind": "holding",
                "type": "uint32",
                "word_order": "big",
            },
            "running": {"register": 4, "kind": "holding", "type": "uint16"},
            "alarm": {"register": 6, "kind": "holding", "type": "uint16"},
        },
    } | overrides


def opcua_mapping(endpoint: str, machine: int, **overrides: Any) -> dict[str, Any]:
    """The device mapping for machine number ``machine`` of a simulator's OPC UA server."""
    name = f"Machine{machine:02d}"
    return {
        "protocol": "opcua",
        "endpoint": endpoint,
        "poll_interval_s": 1,
        "signals": {
            "good_count": {"node": f"ns=2;s={name}.GoodCount"},
            "scrap_count": {"node": f"ns=2;s={name}.ScrapCount"},
            "running": {"node": f"ns=2;s={name}.Running"},
            "alarm": {"node": f"ns=2;s={name}.Alarm"},
        },
    } | overrides


class DeviceSimulatorControl:
    """The control API of a running device simulator (``/__sim__/*`` on its control port)."""

    def __init__(self, port: int, *, host: str = LOOPBACK, timeout: float = 5.0) -> None:
        self.url = f"http://{host}:{port}/__sim__"
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self._session.request(
            method, self.url + path, json=payload, timeout=self.timeout
        )
        if response.status_code != 200:
            raise DeviceSimulatorError(f"{method} {path} → {response.status_code}: {response.text}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def machines(self) -> list[dict[str, Any]]:
        return self._call("GET", "/machines")["machines"]

    def machine(self, number: int) -> dict[str, Any]:
        return self._call("GET", f"/machines/{number}")

    def set_machine(self, number: int, **changes: Any) -> dict[str, Any]:
        """``set_machine(1, state="down", alarm=205)``, ``set_machine(2, cycle_time_s=0.5, good_count=0)``.

        Setting ``state`` stops the machine's automatic changes until ``automatic=True``.
        """
        return self._call("POST", f"/machines/{number}", changes)

    def reset_counters(self, number: int) -> dict[str, Any]:
        """A PLC restart: both counters back to 0."""
        return self._call("POST", f"/machines/{number}/reset")

    def stop_answering(self, number: int | None = None) -> dict[str, Any]:
        """Machine ``number`` (or, without one, every machine) stops answering."""
        return self._call("POST", f"/machines/{number}/stop" if number is not None else "/stop")

    def resume(self, number: int | None = None) -> dict[str, Any]:
        return self._call("POST", f"/machines/{number}/resume" if number is not None else "/resume")

    def close(self) -> None:
        self._session.close()


@dataclass
class DeviceSimulatorProcess(ChildProcess):
    """A device simulator running as a child process; ``stop()`` it (or use ``with``)."""

    modbus_port: int
    opcua_port: int | None
    control_port: int
    machines: int
    process: subprocess.Popen
    output_path: Path
    control: DeviceSimulatorControl = field(init=False)
    opcua_credentials: dict[str, str] = field(
        default_factory=lambda: {"username": DEFAULT_OPCUA_USER, "password": DEFAULT_OPCUA_PASSWORD}
    )
    _final_output: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.control = DeviceSimulatorControl(self.control_port)

    @property
    def opcua_endpoint(self) -> str | None:
        return f"opc.tcp://{LOOPBACK}:{self.opcua_port}" if self.opcua_port else None

    def modbus_mapping(self, unit_id: int, **overrides: Any) -> dict[str, Any]:
        return modbus_mapping(self.modbus_port, unit_id, **overrides)

    def opcua_mapping(self, machine: int, **overrides: Any) -> dict[str, Any]:
        if self.opcua_endpoint is None:
            raise DeviceSimulatorError("this simulator runs no OPC UA server")
        return opcua_mapping(self.opcua_endpoint, machine, **overrides)


def start_device_simulator(
    *,
    machines: int = 3,
    modbus_port: int = 0,
    opcua_port: int | None = 0,
    control_port: int = 0,
    seed: int = 1,
    args: list[str] | tuple[str, ...] = (),
    ready_timeout: float = 30.0,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
) -> DeviceSimulatorProcess:
    """Start ``manage.py device_simulator`` and return once its control API answers.

    Ports 0 (the default) are free ports chosen at start and read back from the process, so
    parallel runs never collide; ``opcua_port=None`` runs no OPC UA server. ``args`` are extra
    options, e.g. ``["--steady"]`` (no random state changes, faults or restarts) or
    ``["--cycle-time", "0.2"]``.
    """
    command = [
        "device_simulator",
        "--machines",
        str(machines),
        "--modbus-port",
        str(modbus_port),
        "--control-port",
        str(control_port),
        "--seed",
        str(seed),
    ]
    command += ["--no-opcua"] if opcua_port is None else ["--opcua-port", str(opcua_port)]
    process, output_path, ready = child_start(
        arguments=[*command, *args], ready_marker=READY_MARKER, name="device simulator", error=DeviceSimulatorError,
        ready_timeout=ready_timeout, python=python, env=env,
    )
    simulator = DeviceSimulatorProcess(
        modbus_port=ready["modbus_port"],
        opcua_port=ready["opcua_port"],
        control_port=ready["control_port"],
        machines=ready["machines"],
        process=process,
        output_path=output_path,
    )
    simulator.control.health()
    return simulator
