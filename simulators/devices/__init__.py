"""Simulated machines for tests, benchmarks and the demo: Modbus TCP and OPC UA on loopback.

Run it with ``python manage.py device_simulator``; drive it from Python with
``DeviceSimulatorControl`` or start it as a child process with ``start_device_simulator``.
``machine`` holds the behaviour (pure, time-driven, seeded); ``modbus_server`` and
``opcua_server`` show it over the wire; ``server`` runs them with the control API.
Nothing here imports Django.
"""

from simulators.devices.client import (
    DeviceSimulatorControl,
    DeviceSimulatorError,
    DeviceSimulatorProcess,
    modbus_mapping,
    opcua_mapping,
    start_device_simulator,
)
from simulators.devices.machine import Machine, MachineBehaviour, MachineState, MachineStatus
from simulators.devices.server import DeviceSimulator, DeviceSimulatorConfig

__all__ = [
    "DeviceSimulator",
    "DeviceSimulatorConfig",
    "DeviceSimulatorControl",
    "DeviceSimulatorError",
    "DeviceSimulatorProcess",
    "Machine",
    "MachineBehaviour",
    "MachineState",
    "MachineStatus",
    "modbus_mapping",
    "opcua_mapping",
    "start_device_simulator",
]
