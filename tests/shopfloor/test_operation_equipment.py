"""Binding a running operation to a machine: …/operations/{sequence}/start with {"equipment"} and …/stop."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from mes.models import Event, Status, WorkOrderOperation
from mes.services.accounts import api_token_create
from mes.services.master_data import equipment_upsert
from shopfloor.models import EquipmentAssignment

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine(released_order):
    center = WorkOrderOperation.objects.get(work_order=released_order, sequence=10).work_center.code
    equipment_upsert(code="SAW-1", name="Saw 1", work_center=center)
    equipment_upsert(code="SAW-2", name="Saw 2", work_center=center)
    return "SAW-1"


def _client(role: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username=f'{role}-{uuid.uuid4().hex[:6]}', role=role).key}")
    return client


def test_start_binds_the_operation_to_the_machine_and_starts_it(released_order, machine):
    response = _client("operator").post(f"/api/v1/work-orders/{released_order.number}/operations/10/start", {"equipment": machine}, format="json")

    assert response.status_code == 200, response.content
    running = EquipmentAssignment.objects.get(equipment__code=machine, ended_at__isnull=True)
    assert (running.operation.work_order.number, running.operation.sequence) == (released_order.number, 10)
    assert running.operation.status == Status.IN_PROGRESS
    assert Event.objects.filter(object_type="equipment", action="start_operation").count() == 1


def test_starting_again_changes_nothing_and_a_new_operation_takes_the_machine_over(released_order, machine):
    operator = _client("operator")
    url = f"/api/v1/work-orders/{released_order.number}/operations/{{}}/start"

    operator.post(url.format(10), {"equipment": machine}, format="json")
    operator.post(url.format(10), {"equipment": machine}, format="json")
    operator.post(url.format(20), {"equipment": machine}, format="json")

    assignments = list(EquipmentAssignment.objects.order_by("started_at").values_list("operation__sequence", "ended_at"))
    assert [sequence for sequence, _ended in assignments] == [10, 20]
    assert assignments[0][1] is not None and assignments[1][1] is None


def test_stop_ends_the_binding_without_finishing_the_operation(released_order, machine):
    operator = _client("operator")
    operator.post(f"/api/v1/work-orders/{released_order.number}/operations/10/start", {"equipment": machine}, format="json")

    response = operator.post(f"/api/v1/work-orders/{released_order.number}/operations/10/stop", {}, format="json")

    assert response.status_code == 200 and response.json()["stopped"] == 1
    assert not EquipmentAssignment.objects.filter(ended_at__isnull=True).exists()
    assert WorkOrderOperation.objects.get(work_order=released_order, sequence=10).status == Status.IN_PROGRESS


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("operations/10/start", {}, 400),
        ("operations/10/start", {"equipment": "NOPE"}, 404),
        ("operations/99/start", {"equipment": "SAW-1"}, 404),
        ("operations/99999999999999999999999/start", {"equipment": "SAW-1"}, 400),
    ],
)
def test_bad_start_is_refused_and_binds_nothing(released_order, machine, path, body, status):
    response = _client("operator").post(f"/api/v1/work-orders/{released_order.number}/{path}", body, format="json")

    assert response.status_code == status, response.content
    assert "error" in response.json()
    assert not EquipmentAssignment.objects.exists()


def test_a_huge_message_id_is_a_clear_4xx():
    client = _client("supervisor")

    assert client.get("/api/v1/sync/messages/99999999999999999999999").status_code == 400
    assert client.post("/api/v1/sync/messages/replay", {"ids": [10**30], "reason": "x"}, format="json").status_code == 400
