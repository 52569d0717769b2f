"""Device mappings: the JSON of ``PUT /api/v1/equipment/{code}/signals`` parsed into typed configs.

``parse_device_config(data)`` checks everything at once and raises one ``DeviceConfigError``
listing every problem with its field path (``signals.good_count.register``), so a form or an
API answer can show them all. ``config.to_json()`` gives the canonical JSON back (defaults
filled in). Nothing here touches the network or imports a protocol library.

    {"protocol": "modbus", "host": "127.0.0.1", "port": 5020, "unit_id": 1, "poll_interval_s": 1,
     "signals": {"good_count": {"register": 0, "kind": "holding", "type": "uint32", "word_order": "big"},
                 "running": {"coil": 0}}}
    {"protocol": "opcua", "endpoint": "opc.tcp://127.0.0.1:4840", "username": "…", "password": "…",
     "signals": {"good_count": {"node": "ns=2;s=Machine01.GoodCount"}}}
    {"protocol": "mqtt", "host": "127.0.0.1", "port": 1883, "silent_after_s": 60,
     "signals": {"good_count": {"topic": "plant/press-1/counts", "json_path": "$.good"}}}
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

# The signals the collector understands; a typo such as "good_cnt" is refused, not ignored.
SIGNAL_NAMES = ("good_count", "scrap_count", "running", "alarm")
PROTOCOLS = ("modbus", "opcua", "mqtt")

DEFAULT_POLL_INTERVAL_S = 1.0
MIN_POLL_INTERVAL_S = 0.1
MAX_POLL_INTERVAL_S = 3600.0
DEFAULT_TIMEOUT_S = 1.0
DEFAULT_MQTT_SILENT_AFTER_S = 60.0
MAX_MQTT_SILENT_AFTER_S = 86400.0
MIN_TIMEOUT_S = 0.05
MAX_TIMEOUT_S = 60.0

# Modbus: register type → (registers it spans, struct format of its big-endian bytes).
REGISTER_TYPES: dict[str, tuple[int, str]] = {
    "uint16": (1, "H"),
    "int16": (1, "h"),
    "uint32": (2, "I"),
    "int32": (2, "i"),
    "float32": (2, "f"),
}
REGISTER_KINDS = ("holding", "input")
BIT_KINDS = ("coil", "discrete_input")
ORDERS = ("big", "little")
MAX_ADDRESS = 65535

# OPC UA node ids in their string form, namespace by index: ns=2;s=Line1.Press, i=2258, …
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
NODE_ID = re.compile(
    rf"^(?:ns=(?P<ns>\d{{1,5}});)?(?:i=(?P<i>\d{{1,10}})|s=.+|g={_GUID}|b=[A-Za-z0-9+/]+={{0,2}})$",
    re.DOTALL,
)
# MQTT json_path: $, $.a.b, $.a[0].b (keys are identifiers: letters, digits, _ and -).
JSON_PATH = re.compile(r"^\$(?:\.[A-Za-z_][A-Za-z0-9_\-]*|\[\d+\])*$")
_JSON_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]")


@dataclass(frozen=True)
class FieldProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DeviceConfigError(ValueError):
    """A device mapping that cannot be used; ``problems`` lists each one with its field path."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))

    def as_dict(self) -> dict[str, list[str]]:
        """``{"signals.good_count.register": ["must be between 0 and 65535, not 70000"]}``."""
        result: dict[str, list[str]] = {}
        for problem in self.problems:
            result.setdefault(problem.path or "non_field_errors", []).append(problem.message)
        return result


# -- typed configs -----------------------------------------------------------------------


@dataclass(frozen=True)
class ModbusRegisterSignal:
    register: int
    kind: Literal["holding", "input"] = "holding"
    type: str = "uint16"
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    scale: float = 1.0

    @property
    def width(self) -> int:
        """How many 16-bit registers the value spans."""
        return REGISTER_TYPES[self.type][0]

    def to_json(self) -> dict[str, Any]:
        return {
            "register": self.register,
            "kind": self.kind,
            "type": self.type,
            "word_order": self.word_order,
            "byte_order": self.byte_order,
            "scale": self.scale,
        }


@dataclass(frozen=True)
class ModbusBitSignal:
    address: int
    kind: Literal["coil", "discrete_input"] = "coil"

    width: ClassVar[int] = 1

    def to_json(self) -> dict[str, Any]:
        return {self.kind: self.address}


ModbusSignal = ModbusRegisterSignal | ModbusBitSignal


@dataclass(frozen=True)
class ModbusConfig:
    host: str
    port: int
    unit_id: int
    signals: Mapping[str, ModbusSignal]
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S

    protocol: ClassVar[str] = "modbus"

    @property
    def address(self) -> str:
        return f"modbus://{self.host}:{self.port}/{self.unit_id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "host": self.host,
            "port": self.port,
            "unit_id": self.unit_id,
            "poll_interval_s": self.poll_interval_s,
            "timeout_s": self.timeout_s,
            "signals": {name: signal.to_json() for name, signal in self.signals.items()},
        }


@dataclass(frozen=True)
class OpcUaSignal:
    node: str
    scale: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "scale": self.scale}


@dataclass(frozen=True)
class OpcUaConfig:
    endpoint: str
    signals: Mapping[str, OpcUaSignal]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    subscription: bool = True
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S

    protocol: ClassVar[str] = "opcua"

    @property
    def address(self) -> str:
        return self.endpoint

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"protocol": self.protocol, "endpoint": self.endpoint}
        if self.username is not None:
            data["username"] = self.username
            data["password"] = self.password
        data |= {
            "subscription": self.subscription,
            "poll_interval_s": self.poll_interval_s,
            "timeout_s": self.timeout_s,
            "signals": {name: signal.to_json() for name, signal in self.signals.items()},
        }
        return data


@dataclass(frozen=True)
class MqttSignal:
    topic: str
    json_path: str | None = None
    scale: float = 1.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"topic": self.topic}
        if self.json_path is not None:
            data["json_path"] = self.json_path
        data["scale"] = self.scale
        return data


@dataclass(frozen=True)
class MqttConfig:
    host: str
    signals: Mapping[str, MqttSignal]
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    qos: int = 1
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    timeout_s: float = 5.0
    # A device that publishes nothing on any of its topics for this long is silent: not answering.
    silent_after_s: float = DEFAULT_MQTT_SILENT_AFTER_S

    protocol: ClassVar[str] = "mqtt"

    @property
    def address(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"protocol": self.protocol, "host": self.host, "port": self.port}
        if self.username is not None:
            data["username"] = self.username
            data["password"] = self.password
        if self.client_id is not None:
            data["client_id"] = self.client_id
        data |= {
            "qos": self.qos,
            "poll_interval_s": self.poll_interval_s,
            "timeout_s": self.timeout_s,
            "silent_after_s": self.silent_after_s,
            "signals": {name: signal.to_json() for name, signal in self.signals.items()},
        }
        return data


DeviceConfig = ModbusConfig | OpcUaConfig | MqttConfig


def json_path_steps(path: str) -> tuple[str | int, ...]:
    """``"$.counts[1].good"`` → ``("counts", 1, "good")``; call on a validated path."""
    return tuple(key if key else int(index) for key, index in _JSON_PATH_STEP.findall(path[1:]))


# -- parsing -----------------------------------------------------------------------------


_MISSING: Any = object()


class _Reader:
    """Reads fields of one JSON object, noting every problem instead of stopping at the first."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: list[FieldProblem]) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.seen: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str | None, message: str) -> None:
        self.problems.append(FieldProblem(self.at(key) if key else self.path, message))

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self.seen.add(key)
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is _MISSING:
            self.problem(key, "is required")
        return default

    def integer(self, key: str, low: int, high: int, default: Any = _MISSING) -> int | None:
        value = self.raw(key, default)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self.problem(key, f"must be a whole number, not {value!r}")
                return None
        if not low <= value <= high:
            self.problem(key, f"must be between {low} and {high}, not {value}")
            return None
        return value

    def number(self, key: str, low: float, high: float, default: Any = _MISSING) -> float | None:
        value = self.raw(key, default)
        if value is _MISSING or value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.problem(key, f"must be a number, not {value!r}")
            return None
        if not low <= value <= high:
            self.problem(key, f"must be between {low:g} and {high:g}, not {value:g}")
            return None
        return float(value)

    def scale(self) -> float:
        value = self.raw("scale", 1.0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value == 0
        ):
            self.problem("scale", f"must be a non-zero number, not {value!r}")
            return 1.0
        return float(value)

    def text(self, key: str, default: Any = _MISSING, *, max_length: int = 1000) -> str | None:
        value = self.raw(key, default)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {value!r}")
            return None
        if not value.strip():
            self.problem(key, "must not be empty")
            return None
        if "\x00" in value or len(value) > max_length:
            self.problem(key, f"must be at most {max_length} characters with no NUL")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> str | None:
        value = self.raw(key, default)
        if value is _MISSING or value is None:
            return None
        if value not in choices:
            self.problem(key, f"must be one of {', '.join(choices)}, not {value!r}")
            return None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, not {value!r}")
            return default
        return value

    def refuse_unknown(self) -> None:
        for key in self.data:
            if key not in self.seen:
                self.problem(str(key), "is not a known field")


def parse_device_config(data: Any) -> DeviceConfig:
    """Validate a device mapping (parsed JSON) and return its typed config, or raise ``DeviceConfigError``."""
    problems: list[FieldProblem] = []
    if not isinstance(data, Mapping):
        raise DeviceConfigError([FieldProblem("", "a device mapping must be a JSON object")])
    reader = _Reader(data, "", problems)
    protocol = reader.choice("protocol", PROTOCOLS)
    if protocol is None:
        raise DeviceConfigError(problems)
    config = {"modbus": _parse_modbus, "opcua": _parse_opcua, "mqtt": _parse_mqtt}[protocol](reader)
    reader.refuse_unknown()
    if problems:
        raise DeviceConfigError(problems)
    return config


def _timing(reader: _Reader, default_timeout: float = DEFAULT_TIMEOUT_S) -> tuple[float, float]:
    poll = reader.number(
        "poll_interval_s", MIN_POLL_INTERVAL_S, MAX_POLL_INTERVAL_S, DEFAULT_POLL_INTERVAL_S
    )
    timeout = reader.number("timeout_s", MIN_TIMEOUT_S, MAX_TIMEOUT_S, default_timeout)
    return poll or DEFAULT_POLL_INTERVAL_S, timeout or default_timeout


def _host(reader: _Reader) -> str:
    host = reader.text("host", max_length=253)
    if host is None:
        return ""
    bad = any(character.isspace() or character in "/@" for character in host)
    if not bad and ":" in host:  # only an IPv6 literal may carry colons; "host:502" is a mistake
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            bad = True
    if bad:
        reader.problem(
            "host", f"must be a host name or IP address (the port goes in port), not {host!r}"
        )
    return host


def _signals(reader: _Reader, parse_one: Any) -> dict[str, Any]:
    raw = reader.raw("signals")
    if raw is _MISSING:
        return {}
    if not isinstance(raw, Mapping) or not raw:
        reader.problem(
            "signals", f"must be an object naming at least one of {', '.join(SIGNAL_NAMES)}"
        )
        return {}
    signals = {}
    for name, spec in raw.items():
        path = reader.at(f"signals.{name}")
        if name not in SIGNAL_NAMES:
            reader.problems.append(
                FieldProblem(path, f"is not a known signal; use {', '.join(SIGNAL_NAMES)}")
            )
            continue
        if not isinstance(spec, Mapping):
            reader.problems.append(FieldProblem(path, "must be an object"))
            continue
        signal_reader = _Reader(spec, path, reader.problems)
        before = len(reader.problems)
        signal = parse_one(signal_reader)
        signal_reader.refuse_unknown()
        if len(reader.problems) == before and signal is not None:
            signals[name] = signal
    return signals


def _parse_modbus(reader: _Reader) -> ModbusConfig:
    host = _host(reader)
    port = reader.integer("port", 1, 65535, 502)
    unit_id = reader.integer("unit_id", 0, 255, 1)
    poll, timeout = _timing(reader)
    signals = _signals(reader, _parse_modbus_signal)
    return ModbusConfig(
        host=host,
        port=port or 502,
        unit_id=unit_id if unit_id is not None else 1,
        signals=signals,
        poll_interval_s=poll,
        timeout_s=timeout,
    )


def _parse_modbus_signal(reader: _Reader) -> ModbusSignal | None:
    forms = [key for key in ("register", *BIT_KINDS) if key in reader.data]
    if len(forms) != 1:
        reader.problem(
            None,
            "must name exactly one address: register (with kind holding or input), coil or discrete_input"
            + (f"; it names {', '.join(forms)}" if forms else ""),
        )
        # Known fields need no complaint of their own; a typo such as "regster" still gets one.
        reader.seen.update(
            ("register", *BIT_KINDS, "kind", "type", "word_order", "byte_order", "scale")
        )
        return None
    if forms[0] in BIT_KINDS:
        address = reader.integer(forms[0], 0, MAX_ADDRESS)
        return None if address is None else ModbusBitSignal(address=address, kind=forms[0])
    register = reader.integer("register", 0, MAX_ADDRESS)
    kind = reader.choice("kind", REGISTER_KINDS, "holding")
    register_type = reader.choice("type", tuple(REGISTER_TYPES), "uint16")
    word_order = reader.choice("word_order", ORDERS, "big")
    byte_order = reader.choice("byte_order", ORDERS, "big")
    scale = reader.scale()
    if (
        register is None
        or kind is None
        or register_type is None
        or word_order is None
        or byte_order is None
    ):
        return None
    width = REGISTER_TYPES[register_type][0]
    if register + width - 1 > MAX_ADDRESS:
        reader.problem(
            "register",
            f"{register_type} spans {width} registers, so it must start at or below {MAX_ADDRESS - width + 1}, "
            f"not {register}",
        )
        return None
    return ModbusRegisterSignal(
        register=register,
        kind=kind,  # type: ignore[arg-type]
        type=register_type,
        word_order=word_order,  # type: ignore[arg-type]
        byte_order=byte_order,  # type: ignore[arg-type]
        scale=scale,
    )


def _parse_opcua(reader: _Reader) -> OpcUaConfig:
    endpoint = reader.text("endpoint", max_length=2000)
    if endpoint is not None:
        parts = urlsplit(endpoint)
        try:
            port_ok = parts.port is None or 1 <= parts.port <= 65535
        except ValueError:
            port_ok = False
        if parts.scheme != "opc.tcp" or not parts.hostname or not port_ok:
            reader.problem(
                "endpoint", f"must look like opc.tcp://host:4840[/path], not {endpoint!r}"
            )
    username = reader.text("username", None, max_length=200)
    password = reader.raw("password", None)
    if password is not None and not isinstance(password, str):
        reader.problem("password", "must be a string")
    if (username is None) != (password is None):
        reader.problem("password" if username else "username", "username and password go together")
    subscription = reader.boolean("subscription", True)
    poll, timeout = _timing(reader)
    signals = _signals(reader, _parse_opcua_signal)
    return OpcUaConfig(
        endpoint=endpoint or "",
        signals=signals,
        username=username,
        password=password,
        subscription=subscription,
        poll_interval_s=poll,
        timeout_s=timeout,
    )


def _parse_opcua_signal(reader: _Reader) -> OpcUaSignal | None:
    node = reader.text("node", max_length=4096)
    scale = reader.scale()
    if node is None:
        return None
    match = NODE_ID.match(node)
    if match is None:
        hint = (
            "; give the namespace by index (ns=2;…), not by URI" if node.startswith("nsu=") else ""
        )
        reader.problem(
            "node", f"is not an OPC UA node id such as ns=2;s=Line1.Count or i=2258: {node!r}{hint}"
        )
        return None
    if match["ns"] is not None and int(match["ns"]) > 65535:
        reader.problem("node", f"namespace index must be at most 65535: {node!r}")
        return None
    if match["i"] is not None and int(match["i"]) > 2**32 - 1:
        reader.problem("node", f"numeric identifier must be at most {2**32 - 1}: {node!r}")
        return None
    return OpcUaSignal(node=node, scale=scale)


def _parse_mqtt(reader: _Reader) -> MqttConfig:
    host = _host(reader)
    port = reader.integer("port", 1, 65535, 1883)
    username = reader.text("username", None, max_length=200)
    password = reader.raw("password", None)
    if password is not None and not isinstance(password, str):
        reader.problem("password", "must be a string")
    if password is not None and username is None:
        reader.problem("username", "is required with a password")
    client_id = reader.text("client_id", None, max_length=23 * 8)
    qos = reader.integer("qos", 0, 2, 1)
    poll, timeout = _timing(reader, default_timeout=5.0)
    silent_after = reader.number("silent_after_s", 1.0, MAX_MQTT_SILENT_AFTER_S, DEFAULT_MQTT_SILENT_AFTER_S)
    signals = _signals(reader, _parse_mqtt_signal)
    return MqttConfig(
        host=host,
        port=port or 1883,
        username=username,
        password=password,
        client_id=client_id,
        qos=qos if qos is not None else 1,
        signals=signals,
        poll_interval_s=poll,
        timeout_s=timeout,
        silent_after_s=silent_after or DEFAULT_MQTT_SILENT_AFTER_S,
    )


def _parse_mqtt_signal(reader: _Reader) -> MqttSignal | None:
    topic = reader.raw("topic")
    json_path = reader.raw("json_path", None)
    scale = reader.scale()
    valid = True
    if topic is _MISSING:
        valid = False
    elif not isinstance(topic, str) or not topic:
        reader.problem("topic", "must be a non-empty topic name")
        valid = False
    elif "+" in topic or "#" in topic:
        reader.problem("topic", f"must name one topic, without the wildcards + and #: {topic!r}")
        valid = False
    elif "\x00" in topic or len(topic.encode()) > 65535:
        reader.problem("topic", "must be at most 65535 bytes with no NUL")
        valid = False
    if json_path is not None and (not isinstance(json_path, str) or not JSON_PATH.match(json_path)):
        reader.problem(
            "json_path",
            f"must be a simple path such as $ or $.good or $.counts[0].good, not {json_path!r}",
        )
        valid = False
    if not valid:
        return None
    return MqttSignal(topic=topic, json_path=json_path, scale=scale)
