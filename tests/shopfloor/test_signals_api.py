"""PUT /api/v1/equipment/{code}/signals: a machine's signal mapping, validated, audited, and testable live."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from mes.models import Event
from mes.services.accounts import api_token_create
from mes.services.master_data import equipment_upsert, work_center_upsert
from shopfloor.models import DeviceMapping
from simulators.devices.client import modbus_mapping, start_device_simulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def press(db):
    work_center_upsert(code="WC-PRESS", name="Press")
    return equipment_upsert(code="PRESS-1", name="Press 1", work_center="WC-PRESS").obj


def _client(role: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username=f'{role}-{uuid.uuid4().hex[:6]}', role=role).key}")
    return client


def test_mapping_is_stored_in_normal_form_and_a_replay_changes_nothing(press):
    admin = _client("admin")
    mapping = modbus_mapping(5020, 1)

    created = admin.put("/api/v1/equipment/PRESS-1/signals", mapping, format="json")
    replayed = admin.put("/api/v1/equipment/PRESS-1/signals", mapping, format="json")
    read = _client("operator").get("/api/v1/equipment/PRESS-1/signals")

    assert (created.status_code, replayed.status_code) == (201, 200)
    assert read.json() == created.json()
    assert read.json()["signals"]["good_count"]["register"] == 0
    assert DeviceMapping.objects.get(equipment=press).protocol == "modbus"
    assert Event.objects.filter(object_type="device_mapping").count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"signals": {"good_count": {"register": 70000, "kind": "holding", "type": "uint32"}}}, "signals.good_count.register"),
        ({"signals": {"good_count": {"register": 0, "kind": "holding", "type": "int64"}}}, "signals.good_count.type"),
        ({"signals": {"good_count": {"register": 65535, "kind": "holding", "type": "uint32"}}}, "signals.good_count"),
        ({"protocol": "profinet"}, "protocol"),
    ],
)
def test_bad_mapping_is_refused_naming_the_field_and_nothing_is_stored(press, change, field):
    response = _client("admin").put("/api/v1/equipment/PRESS-1/signals", modbus_mapping(5020, 1) | change, format="json")

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "invalid_mapping"
    assert any(name.startswith(field) for name in response.json()["error"]["fields"]), response.json()
    assert not DeviceMapping.objects.exists()


OPCUA_WITH_LOGIN = {
    "protocol": "opcua", "endpoint": "opc.tcp://127.0.0.1:4840", "username": "mes", "password": "plc-pass-4711",
    "signals": {"good_count": {"node": "ns=2;s=Press1.GoodCount"}},
}


def test_a_device_password_is_never_shown_back_nor_audited_and_stars_keep_it(press):
    admin = _client("admin")

    created = admin.put("/api/v1/equipment/PRESS-1/signals", OPCUA_WITH_LOGIN, format="json")
    read = _client("operator").get("/api/v1/equipment/PRESS-1/signals")
    kept = admin.put("/api/v1/equipment/PRESS-1/signals", read.json() | {"username": "mes2"}, format="json")

    assert created.status_code == 201 and created.json()["password"] == "***"
    assert read.json()["password"] == "***" and "plc-pass-4711" not in read.content.decode()
    assert kept.status_code == 200, kept.content
    stored = DeviceMapping.objects.get(equipment=press).config
    assert (stored["username"], stored["password"]) == ("mes2", "plc-pass-4711"), "*** kept the stored password"
    trail = list(Event.objects.filter(object_type="device_mapping").values_list("before", "after"))
    assert len(trail) == 2 and "plc-pass-4711" not in str(trail)
    assert trail[-1][1]["password"] == "***"


def test_stars_for_a_password_that_was_never_stored_are_refused(press):
    response = _client("admin").put("/api/v1/equipment/PRESS-1/signals", OPCUA_WITH_LOGIN | {"password": "***"}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_mapping" and "password" in response.json()["error"]["fields"]
    assert not DeviceMapping.objects.exists()


def test_unknown_equipment_is_404():
    response = _client("admin").put("/api/v1/equipment/NOPE/signals", modbus_mapping(5020, 1), format="json")

    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_equipment"


@pytest.mark.parametrize("role", ["operator", "planner", "quality", "supervisor", "integration"])
def test_only_admins_change_mappings(press, role):
    response = _client(role).put("/api/v1/equipment/PRESS-1/signals", modbus_mapping(5020, 1), format="json")

    assert response.status_code == 403
    assert not DeviceMapping.objects.exists()


@pytest.mark.subprocess
def test_test_read_shows_live_values_from_a_real_machine(press):
    with start_device_simulator(machines=2, opcua_port=None) as simulator:
        admin = _client("admin")
        admin.put("/api/v1/equipment/PRESS-1/signals", simulator.modbus_mapping(2), format="json")

        answer = admin.post("/api/v1/equipment/PRESS-1/signals/test").json()
        simulator.control.stop_answering(2)
        silent = admin.post("/api/v1/equipment/PRESS-1/signals/test").json()

    assert answer["reachable"] is True and answer["errors"] == {}
    assert set(answer["values"]) == {"good_count", "scrap_count", "running", "alarm"}
    assert isinstance(answer["values"]["good_count"], int) and isinstance(answer["values"]["running"], bool)
    assert silent["reachable"] is False and silent["error"]
