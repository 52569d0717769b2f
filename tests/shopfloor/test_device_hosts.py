"""Where a machine's signal mapping may point (MES_DEVICE_NETWORKS), and what a failed test read tells.

No test here connects anywhere but loopback: refused hosts are refused before any connection, and
host names are only resolved (literals and /etc/hosts; nothing is asked of a DNS server).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid

import pytest
from rest_framework.test import APIClient

from mes.models import Event
from mes.services.accounts import api_token_create
from mes.services.master_data import equipment_upsert, work_center_upsert
from shopfloor.collector.collector import Collector, CollectorOptions
from shopfloor.devices.networks import address_allowed, parse_networks, refused_address
from shopfloor.models import DeviceMapping
from simulators.devices.client import modbus_mapping

URL = "/api/v1/equipment/PRESS-1/signals"
DEFAULT = parse_networks(["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"])


@pytest.fixture
def press(db):
    work_center_upsert(code="WC-PRESS", name="Press")
    return equipment_upsert(code="PRESS-1", name="Press 1", work_center="WC-PRESS").obj


@pytest.fixture
def admin(db) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_create(username=f'admin-{uuid.uuid4().hex[:6]}', role='admin').key}",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    return client


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


OPCUA = {"protocol": "opcua", "signals": {"good_count": {"node": "ns=2;s=Press1.GoodCount"}}}
MQTT = {"protocol": "mqtt", "port": 1883, "signals": {"good_count": {"topic": "plant/press-1/counts"}}}


@pytest.mark.parametrize(
    ("mapping", "field", "address"),
    [
        pytest.param(modbus_mapping(502, 1, host="169.254.169.254"), "host", "169.254.169.254", id="metadata-service"),
        pytest.param(modbus_mapping(502, 1, host="2852039166"), "host", "169.254.169.254", id="metadata-service-as-a-number"),
        pytest.param(modbus_mapping(502, 1, host="0251.0376.0251.0376"), "host", "169.254.169.254", id="metadata-service-in-octal"),
        pytest.param(modbus_mapping(502, 1, host="::ffff:169.254.169.254"), "host", "169.254.169.254", id="metadata-service-ipv4-mapped"),
        pytest.param(MQTT | {"host": "fe80::1"}, "host", "fe80::1", id="ipv6-link-local"),
        pytest.param(OPCUA | {"endpoint": "opc.tcp://169.254.169.254:4840"}, "endpoint", "169.254.169.254", id="opcua-endpoint"),
        pytest.param(modbus_mapping(502, 1, host="8.8.8.8"), "host", "8.8.8.8", id="public-address"),
        pytest.param(modbus_mapping(502, 1, host="a" * 64 + ".plant"), "host", "", id="name-that-cannot-resolve"),
    ],
)
def test_a_mapping_to_a_host_outside_the_device_networks_is_refused_and_nothing_is_stored(press, admin, mapping, field, address):
    response = admin.put(URL, mapping, format="json")

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "device_host_not_allowed"
    assert set(error["fields"]) == {field}
    assert address in error["message"]
    assert not DeviceMapping.objects.exists()
    assert not Event.objects.filter(object_type="device_mapping").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "172.31.0.9", "192.168.5.20", "fd00::5", "::1"])
def test_a_mapping_inside_the_device_networks_is_stored(press, admin, host):
    response = admin.put(URL, modbus_mapping(502, 1, host=host), format="json")

    assert response.status_code == 201, response.content
    assert DeviceMapping.objects.get().config["host"] == host


def test_link_local_is_refused_even_when_a_listed_network_covers_it(press, admin, settings):
    settings.MES_DEVICE_NETWORKS = ["0.0.0.0/0", "::/0", "169.254.0.0/16"]

    refused = admin.put(URL, modbus_mapping(502, 1, host="169.254.169.254"), format="json")
    anywhere_else = admin.put(URL, modbus_mapping(502, 1, host="203.0.113.7"), format="json")

    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "device_host_not_allowed")
    assert "link-local" in refused.json()["error"]["message"]
    assert anywhere_else.status_code == 201


def test_a_host_name_is_judged_by_the_addresses_it_resolves_to(press, admin, settings):
    settings.MES_DEVICE_NETWORKS = ["10.0.0.0/8"]

    response = admin.put(URL, modbus_mapping(502, 1, host="localhost"), format="json")

    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "The host localhost (127.0.0.1) is outside the networks machines may be read in (MES_DEVICE_NETWORKS: 10.0.0.0/8)."
    )


def test_every_address_a_name_resolves_to_must_be_allowed():
    """A name answering with a plant address and the metadata service's is refused for the latter."""
    assert refused_address(["10.1.2.3", "169.254.169.254"], DEFAULT) == "169.254.169.254"
    assert refused_address(["10.1.2.3", "fd00::5"], DEFAULT) is None


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True), ("10.0.0.1", True), ("172.16.0.1", True), ("172.32.0.1", False), ("192.168.255.255", True),
        ("fc00::1", True), ("fdff::1", True), ("::1", True), ("::ffff:10.1.2.3", True),
        ("169.254.169.254", False), ("::ffff:169.254.169.254", False), ("fe80::1%2", False), ("fe80::1", False),
        ("8.8.8.8", False), ("2001:db8::1", False), ("0.0.0.0", False),
    ],
)
def test_the_default_networks_are_loopback_and_private_ranges_never_link_local(address, allowed):
    assert address_allowed(address, DEFAULT) is allowed


def test_the_admin_refuses_such_a_mapping_as_the_api_would(admin_client, press):
    response = admin_client.post(
        "/admin/shopfloor/devicemapping/add/",
        {"equipment": press.pk, "config": '{"protocol": "modbus", "host": "169.254.169.254", "signals": {"good_count": {"register": 0}}}', "is_enabled": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert "link-local address (169.254.169.254)" in response.content.decode()
    assert not DeviceMapping.objects.exists()


def test_mappings_are_written_by_admins_only_in_the_admin_too(client, press, django_user_model):
    from django.contrib.auth.models import Group

    staff = django_user_model.objects.create_user(username="chief", password="pw-123456", is_staff=True)
    staff.groups.add(Group.objects.get_or_create(name="supervisor")[0])
    client.force_login(staff)

    response = client.get("/admin/shopfloor/devicemapping/add/")

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- the test read ------------------------------------------------------------------------


def test_a_failed_test_read_answers_one_sentence_whatever_the_port_and_logs_the_detail(press, admin, caplog):
    """A closed port and an open one that never answers Modbus look the same to the caller."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections (the kernel does), never answers
    answers = []
    try:
        for port in (_closed_port(), silent.getsockname()[1]):
            DeviceMapping.objects.update_or_create(
                equipment=press, defaults={"protocol": "modbus", "config": modbus_mapping(port, 1, timeout_s=0.2)}
            )
            with caplog.at_level(logging.WARNING, logger="shopfloor.services"):
                answers.append(admin.post(f"{URL}/test").json())
    finally:
        silent.close()

    assert answers[0] == answers[1] == {
        "equipment": "PRESS-1", "reachable": False, "values": {}, "errors": {},
        "error": "The machine did not answer the test read. Check its address, port and mapping; the server log has the details.",
    }
    details = [record.getMessage() for record in caplog.records if record.name == "shopfloor.services"]
    assert len(details) == 2 and details[0] != details[1]
    assert all(message.startswith("Test read of PRESS-1 failed: modbus://127.0.0.1:") for message in details)


def test_a_stored_mapping_outside_the_device_networks_is_not_test_read(press, admin, settings):
    """A mapping stored before the setting changed: refused before any connection is tried."""
    DeviceMapping.objects.create(equipment=press, protocol="modbus", config=modbus_mapping(_closed_port(), 1, timeout_s=0.2))
    settings.MES_DEVICE_NETWORKS = ["10.0.0.0/8"]

    response = admin.post(f"{URL}/test")

    assert (response.status_code, response.json()["error"]["code"]) == (422, "device_host_not_allowed")


@pytest.mark.django_db(transaction=True)
def test_the_collector_does_not_read_a_machine_outside_the_device_networks(press, settings, caplog):
    DeviceMapping.objects.create(equipment=press, protocol="modbus", config=modbus_mapping(_closed_port(), 1))
    settings.MES_DEVICE_NETWORKS = ["10.0.0.0/8"]
    collector = Collector(CollectorOptions.from_settings())

    async def reload_once() -> list[str]:
        await collector.reload()
        started = [reader.code for reader in collector.readers.values()]
        for reader in list(collector.readers.values()):
            await reader.stop()
        return started

    try:
        with caplog.at_level(logging.ERROR, logger="shopfloor.collector.collector"):
            started = asyncio.run(reload_once())
    finally:
        collector.database.close()

    assert started == []
    assert any("PRESS-1: host 127.0.0.1 (127.0.0.1) is outside MES_DEVICE_NETWORKS" in record.getMessage() for record in caplog.records)
