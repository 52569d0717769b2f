"""A NUL character (PostgreSQL text cannot hold one) in a path, a query, a form or any string of
a JSON body is refused with a 400 naming where it is: the API's error envelope under /api/, a
page in the reader's language elsewhere. Nothing reaches the database, nothing is written."""

from __future__ import annotations

import json

import pytest

from erp_sync.models import ErpConnection, InboundReceipt, ReconciliationRun
from mes.models import Event
from mes.services.master_data import equipment_upsert, work_center_upsert
from shopfloor.models import DeviceMapping
from tests.conftest import ORDER
from tests.helpers import signed_in, snapshot


@pytest.fixture
def admin(admin_api):
    admin_api.raise_request_exception = False  # a 500 must show up as a status, not as an exception
    return admin_api


@pytest.fixture
def admin_page(client, db):
    client.raise_request_exception = False
    return signed_in(client, "admin")


def assert_refused(response, where: str) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {
        "error": {
            "code": "invalid_request",
            "message": f"The request is not valid: {where}: NUL characters (\\u0000) are not allowed.",
            "fields": {where: "NUL characters (\\u0000) are not allowed."},
        }
    }


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/api/v1/sync/messages?work_order=%00", "work_order"),
        ("/api/v1/sync/messages?state=dead&work_order=WO%001", "work_order"),
        ("/api/v1/sync/drifts?work_order=%00", "work_order"),
        ("/api/v1/sync/drifts?kind=%00", "kind"),
        ("/api/v1/sync/drifts?%00=1", "\\u0000"),
        ("/api/v1/work-orders/WO%001", "path"),
        ("/api/v1/erp-connections/sap%00", "path"),
        ("/api/v1/equipment/PRESS%00/oee?from=2026-01-01", "path"),
    ],
)
def test_nul_in_an_api_path_or_query_is_400_with_the_envelope(admin, plant, url, where):
    before = snapshot()

    response = admin.get(url)

    assert_refused(response, where)
    assert snapshot() == before


@pytest.mark.parametrize(
    "url",
    [
        "/oee/%00/",
        "/oee/PRESS-1/?from=%00",
        "/sync/reconciliation/?work_order=%00",
        "/station/documents/traveler/%00.pdf",
        "/planning/orders/WO%001/",
        "/planning/orders/A%00B/traveler.pdf",
        "/board/?line=L9%00",
        "/sync/dead-letters/?x=%00",
    ],
)
def test_nul_in_a_page_address_is_a_400_page_in_the_readers_language(admin_page, plant, url):
    english = admin_page.get(url)
    chinese = admin_page.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert english.status_code == chinese.status_code == 400
    assert english["Content-Type"].startswith("text/html")
    assert "NUL character (%00), which no page accepts." in english.content.decode()
    assert "空字符（%00）" in chinese.content.decode()


def test_nul_in_a_form_field_of_a_page_is_400_and_nothing_runs(admin_page, released_order):
    response = admin_page.post("/sync/reconciliation/", {"action": "run", "work_order": f"{ORDER}\x00"})

    assert response.status_code == 400
    assert "The field work_order holds a NUL character (%00)" in response.content.decode()
    assert not ReconciliationRun.objects.exists()


@pytest.fixture
def press(db):
    work_center_upsert(code="WC-PRESS", name="Press")
    return equipment_upsert(code="PRESS-1", name="Press 1", work_center="WC-PRESS").obj


def test_nul_in_a_device_password_is_400_and_nothing_is_stored(admin, press):
    mapping = {
        "protocol": "opcua", "endpoint": "opc.tcp://127.0.0.1:4840", "username": "mes", "password": "plc\x00pass",
        "signals": {"good_count": {"node": "ns=2;s=Press1.GoodCount"}},
    }
    events = Event.objects.count()

    response = admin.put("/api/v1/equipment/PRESS-1/signals", mapping, format="json")

    assert_refused(response, "password")
    assert not DeviceMapping.objects.exists()
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"plant": "10\x0000"}, "options.plant"),
        ({"headers": {"X-Api-Key": "k\x00"}}, "options.headers.X-Api-Key"),
        ({"unit_map": {"PCS\x00": "ST"}}, "options.unit_map.PCS\\u0000"),
        ({"activity_slots": {"machine": 2}, "list": ["a", "b\x00"]}, "options.list[1]"),
    ],
)
def test_nul_in_erp_connection_options_is_400_and_nothing_is_stored(admin, db, options, where):
    body = {"kind": "sap", "url": "http://127.0.0.1:1/sap", "user": "MES", "options": options}
    events = Event.objects.count()

    response = admin.put("/api/v1/erp-connections/sap-main", body, format="json")

    assert_refused(response, where)
    assert not ErpConnection.objects.exists()
    assert Event.objects.count() == events


def test_nul_in_a_nested_master_data_string_is_400_and_no_receipt_of_a_write(admin, plant):
    body = json.dumps({"operations": [{"sequence": 10, "name": "Cut\u0000", "work_center": "WC-CUT"}]})
    before = snapshot()

    response = admin.generic("PUT", "/api/v1/routings/FRAME-100", body, content_type="application/json")

    assert_refused(response, "operations[0].name")
    assert snapshot() == before
    assert InboundReceipt.objects.get().status_code == 400

