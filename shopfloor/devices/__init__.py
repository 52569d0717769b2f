"""Device drivers: Modbus TCP, OPC UA and MQTT behind one small interface (see ``base``).

Mappings (the JSON of ``PUT /api/v1/equipment/{code}/signals``) are validated by
``parse_device_config``; ``driver_for(config)`` gives the driver. Protocol libraries are
imported only when a driver of that protocol is made.
"""

from shopfloor.devices.base import (
    DeviceDriver,
    DeviceError,
    DeviceTimeout,
    DeviceUnavailable,
    SignalValue,
    Snapshot,
    driver_for,
    read_once,
)
from shopfloor.devices.config import (
    SIGNAL_NAMES,
    DeviceConfig,
    DeviceConfigError,
    FieldProblem,
    ModbusConfig,
    MqttConfig,
    OpcUaConfig,
    parse_device_config,
)

__all__ = [
    "SIGNAL_NAMES",
    "DeviceConfig",
    "DeviceConfigError",
    "DeviceDriver",
    "DeviceError",
    "DeviceTimeout",
    "DeviceUnavailable",
    "FieldProblem",
    "ModbusConfig",
    "MqttConfig",
    "OpcUaConfig",
    "SignalValue",
    "Snapshot",
    "driver_for",
    "parse_device_config",
    "read_once",
]
