"""PUT /api/v1/equipment/{code}/signals: a machine's signal mapping, validated, audited, and testable live."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from mes.models import Event
from mes.services.accounts import api_token_create
from mes.services.master_data import equipment_upsert, work_center_upsert
from shopfloor.models import DeviceMapping
from shopfloor.simulator.client import modbus_mapping, start_device_simulator

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


def test_unknown_equipment_is_404():
    response = _client("admin").put("/api/v1/equipment/NOPE/signals", modbus_mapping(5020, 1), format="json")

    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_equipment"


@pytest.mark.parametrize("role", ["operator", "planner", "quality", "supervisor"])
def test_only_admins_and_integrations_change_mappings(press, role):
    response = _client(role).put("/api/v1/equipment/PRESS-1/signals", modbus_mapping(5020, 1), format="json")

    assert response.status_code == 403
    assert not DeviceMapping.objects.exists()


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
