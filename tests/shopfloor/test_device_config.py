"""Device mappings are validated before any connection: every problem at once, each with its field path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shopfloor.devices import (
    DeviceConfigError,
    ModbusConfig,
    MqttConfig,
    OpcUaConfig,
    driver_for,
    parse_device_config,
)
from shopfloor.devices.config import ModbusBitSignal, ModbusRegisterSignal, json_path_steps

MODBUS: dict[str, Any] = {
    "protocol": "modbus",
    "host": "127.0.0.1",
    "port": 5020,
    "unit_id": 1,
    "poll_interval_s": 1,
    "signals": {
        "good_count": {"register": 0, "kind": "holding", "type": "uint32", "word_order": "big"},
        "scrap_count": {
            "register": 2,
            "kind": "input",
            "type": "uint32",
            "word_order": "little",
            "byte_order": "little",
        },
        "running": {"coil": 0},
        "alarm": {"register": 6, "type": "uint16", "scale": 1.0},
    },
}
OPCUA: dict[str, Any] = {
    "protocol": "opcua",
    "endpoint": "opc.tcp://127.0.0.1:4840",
    "signals": {
        "good_count": {"node": "ns=2;s=Machine01.GoodCount"},
        "running": {"node": "i=2259"},
    },
}
MQTT: dict[str, Any] = {
    "protocol": "mqtt",
    "host": "127.0.0.1",
    "port": 1883,
    "signals": {
        "good_count": {"topic": "plant/press-1/counts", "json_path": "$.good"},
        "running": {"topic": "plant/press-1/run"},
    },
}


def problems_of(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(DeviceConfigError) as raised:
        parse_device_config(data)
    return raised.value.as_dict()


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with the dotted ``path`` set to ``value``."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    return data


def test_a_valid_modbus_mapping_parses_with_defaults_filled_in():
    config = parse_device_config(MODBUS)

    assert isinstance(config, ModbusConfig)
    assert (config.host, config.port, config.unit_id, config.poll_interval_s, config.timeout_s) == (
        "127.0.0.1",
        5020,
        1,
        1.0,
        1.0,
    )
    assert config.signals["good_count"] == ModbusRegisterSignal(
        register=0, kind="holding", type="uint32"
    )
    assert config.signals["scrap_count"] == ModbusRegisterSignal(
        register=2, kind="input", type="uint32", word_order="little", byte_order="little"
    )
    assert config.signals["running"] == ModbusBitSignal(address=0, kind="coil")
    assert parse_device_config(config.to_json()) == config


def test_valid_opcua_and_mqtt_mappings_parse():
    opcua = parse_device_config(OPCUA | {"username": "mes", "password": "secret"})
    mqtt = parse_device_config(MQTT)

    assert isinstance(opcua, OpcUaConfig) and opcua.username == "mes" and opcua.subscription is True
    assert "secret" not in repr(opcua)
    assert (
        isinstance(mqtt, MqttConfig)
        and mqtt.signals["good_count"].json_path == "$.good"
        and mqtt.qos == 1
    )
    assert parse_device_config(opcua.to_json()) == opcua
    assert parse_device_config(mqtt.to_json()) == mqtt


def test_a_register_out_of_range_is_refused_with_its_path():
    assert problems_of(changed(MODBUS, "signals.good_count.register", 70000)) == {
        "signals.good_count.register": ["must be between 0 and 65535, not 70000"]
    }


def test_an_unknown_register_type_is_refused_with_the_known_ones():
    assert problems_of(changed(MODBUS, "signals.good_count.type", "uint64")) == {
        "signals.good_count.type": [
            "must be one of uint16, int16, uint32, int32, float32, not 'uint64'"
        ]
    }


def test_a_32_bit_value_cannot_start_at_the_last_register():
    assert problems_of(changed(MODBUS, "signals.good_count.register", 65535)) == {
        "signals.good_count.register": [
            "uint32 spans 2 registers, so it must start at or below 65534, not 65535"
        ]
    }
    assert (
        parse_device_config(changed(MODBUS, "signals.alarm.register", 65535))
        .signals["alarm"]
        .register
        == 65535
    )


def test_every_problem_is_reported_at_once():
    data = copy.deepcopy(MODBUS)
    data["unit_id"] = 300
    data["poll_interval_s"] = 0.01
    data["signals"]["good_count"]["word_order"] = "middle"
    data["signals"]["running"] = {"coil": 0, "register": 4}
    data["signals"]["good_cnt"] = {"register": 0}
    data["signals"]["alarm"]["regster"] = 6

    assert problems_of(data) == {
        "unit_id": ["must be between 0 and 255, not 300"],
        "poll_interval_s": ["must be between 0.1 and 3600, not 0.01"],
        "signals.good_count.word_order": ["must be one of big, little, not 'middle'"],
        "signals.running": [
            (
                "must name exactly one address: register (with kind holding or input), coil or discrete_input; "
                "it names register, coil"
            )
        ],
        "signals.good_cnt": ["is not a known signal; use good_count, scrap_count, running, alarm"],
        "signals.alarm.regster": ["is not a known field"],
    }


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "protocol",
            "profinet",
            {"protocol": ["must be one of modbus, opcua, mqtt, not 'profinet'"]},
        ),
        (
            "host",
            "127.0.0.1:502",
            {
                "host": [
                    "must be a host name or IP address (the port goes in port), not '127.0.0.1:502'"
                ]
            },
        ),
        ("host", "", {"host": ["must not be empty"]}),
        ("port", 0, {"port": ["must be between 1 and 65535, not 0"]}),
        ("poll_interval_s", 7200, {"poll_interval_s": ["must be between 0.1 and 3600, not 7200"]}),
        ("poll_interval_s", "1", {"poll_interval_s": ["must be a number, not '1'"]}),
        (
            "signals.good_count.kind",
            "coil",
            {"signals.good_count.kind": ["must be one of holding, input, not 'coil'"]},
        ),
        (
            "signals.good_count.register",
            -1,
            {"signals.good_count.register": ["must be between 0 and 65535, not -1"]},
        ),
        (
            "signals.good_count.register",
            True,
            {"signals.good_count.register": ["must be a whole number, not True"]},
        ),
        (
            "signals.good_count.scale",
            0,
            {"signals.good_count.scale": ["must be a non-zero number, not 0"]},
        ),
        (
            "signals.running",
            {"coil": 70000},
            {"signals.running.coil": ["must be between 0 and 65535, not 70000"]},
        ),
        (
            "signals",
            {},
            {
                "signals": [
                    "must be an object naming at least one of good_count, scrap_count, running, alarm"
                ]
            },
        ),
    ],
)
def test_modbus_mistakes_are_named(path: str, value: Any, expected: dict[str, list[str]]):
    assert problems_of(changed(MODBUS, path, value)) == expected


def test_opcua_node_ids_must_be_well_formed():
    assert problems_of(changed(OPCUA, "signals.good_count.node", "Machine01.GoodCount")) == {
        "signals.good_count.node": [
            "is not an OPC UA node id such as ns=2;s=Line1.Count or i=2258: 'Machine01.GoodCount'"
        ]
    }
    assert problems_of(changed(OPCUA, "signals.good_count.node", "nsu=urn:x;s=Count")) == {
        "signals.good_count.node": [
            (
                "is not an OPC UA node id such as ns=2;s=Line1.Count or i=2258: 'nsu=urn:x;s=Count'; "
                "give the namespace by index (ns=2;…), not by URI"
            )
        ]
    }
    assert problems_of(changed(OPCUA, "signals.good_count.node", "ns=70000;i=1")) == {
        "signals.good_count.node": ["namespace index must be at most 65535: 'ns=70000;i=1'"]
    }
    for node in (
        "ns=2;s=Line 1.Press",
        "i=2258",
        "ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a",
        "ns=1;b=aGVsbG8=",
    ):
        assert (
            parse_device_config(changed(OPCUA, "signals.good_count.node", node))
            .signals["good_count"]
            .node
            == node
        )


def test_opcua_endpoint_and_credentials_are_checked():
    assert problems_of(changed(OPCUA, "endpoint", "http://127.0.0.1:4840")) == {
        "endpoint": ["must look like opc.tcp://host:4840[/path], not 'http://127.0.0.1:4840'"]
    }
    assert problems_of(OPCUA | {"username": "mes"}) == {
        "password": ["username and password go together"]
    }


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("", "must be a non-empty topic name"),
        ("plant/+/counts", "must name one topic, without the wildcards + and #: 'plant/+/counts'"),
        ("plant/#", "must name one topic, without the wildcards + and #: 'plant/#'"),
    ],
)
def test_mqtt_topics_must_name_one_topic(topic: str, message: str):
    assert problems_of(changed(MQTT, "signals.good_count.topic", topic)) == {
        "signals.good_count.topic": [message]
    }


def test_mqtt_json_paths_are_simple_paths():
    assert problems_of(changed(MQTT, "signals.good_count.json_path", "good")) == {
        "signals.good_count.json_path": [
            "must be a simple path such as $ or $.good or $.counts[0].good, not 'good'"
        ]
    }
    assert json_path_steps("$.counts[1].good") == ("counts", 1, "good")
    assert json_path_steps("$") == ()


def test_driver_for_validates_mapping_json():
    with pytest.raises(DeviceConfigError) as raised:
        driver_for(changed(MODBUS, "signals.good_count.type", "double"))

    assert [str(problem) for problem in raised.value.problems] == [
        "signals.good_count.type: must be one of uint16, int16, uint32, int32, float32, not 'double'"
    ]


def test_a_mapping_that_is_not_an_object_is_refused():
    assert problems_of([]) == {"non_field_errors": ["a device mapping must be a JSON object"]}  # type: ignore[arg-type]


def test_a_misspelt_address_field_is_named():
    assert problems_of(changed(MODBUS, "signals.alarm", {"regster": 6, "type": "uint16"})) == {
        "signals.alarm": [
            "must name exactly one address: register (with kind holding or input), coil or discrete_input"
        ],
        "signals.alarm.regster": ["is not a known field"],
    }
