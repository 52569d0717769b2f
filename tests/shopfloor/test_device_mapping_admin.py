"""The device mapping admin writes through the shop-floor services: the same masking, encryption,
validation and audit event as ``PUT /api/v1/equipment/{code}/signals``."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from common.crypto import PREFIX, decrypt
from mes.models import Equipment, Event
from shopfloor.models import DeviceMapping
from shopfloor.services import equipment_signals_set
from tests.erp_sync import test_connection_secrets
from tests.erp_sync.test_connection_secrets import OPCUA_WITH_LOGIN
from tests.mes.test_admin_audit import admin_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("press")]

press = test_connection_secrets.press  # the fixture: PRESS-1 on WC-PRESS

def _stored_password(mapping: DeviceMapping) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CAST(config AS TEXT) FROM shopfloor_devicemapping WHERE id = %s", [mapping.pk])
        return json.loads(cursor.fetchone()[0])["password"]


def _trail() -> list[Event]:
    return list(Event.objects.filter(object_type="device_mapping", object_key="PRESS-1").order_by("id"))


def test_a_masked_password_saved_back_in_the_admin_stays_as_it_was(admin_client):
    mapping, _created = equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    url = f"/admin/shopfloor/devicemapping/{mapping.pk}/change/"
    data = admin_form_data(admin_client.get(url))

    saved = admin_client.post(url, data | {"config": json.dumps(json.loads(data["config"]) | {"username": "mes2"})})

    assert json.loads(data["config"])["password"] == "***"
    assert saved.status_code == 302
    mapping.refresh_from_db()
    assert (mapping.config["username"], mapping.config["password"]) == ("mes2", "plc-pass-4711")
    stored = _stored_password(mapping)
    assert stored.startswith(PREFIX) and decrypt(stored) == "plc-pass-4711"
    _created, updated = _trail()
    assert (updated.action, updated.actor.username) == ("update", "admin")
    assert (updated.before["username"], updated.after["username"]) == ("mes", "mes2")
    assert updated.after["password"] == "***" and "plc-pass-4711" not in str(updated.before) + str(updated.after)


def test_a_new_password_typed_in_the_admin_is_stored_encrypted(admin_client):
    mapping, _created = equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    url = f"/admin/shopfloor/devicemapping/{mapping.pk}/change/"
    data = admin_form_data(admin_client.get(url))

    saved = admin_client.post(url, data | {"config": json.dumps(json.loads(data["config"]) | {"password": "new-pass-0815"})})

    assert saved.status_code == 302
    stored = _stored_password(mapping)
    assert stored.startswith(PREFIX) and "new-pass-0815" not in stored and decrypt(stored) == "new-pass-0815"
    mapping.refresh_from_db()
    assert mapping.config["password"] == "new-pass-0815"
    assert "new-pass-0815" not in str([(event.before, event.after) for event in _trail()])


def test_a_mapping_added_in_the_admin_is_the_services_with_its_event(admin_client):
    response = admin_client.post(
        "/admin/shopfloor/devicemapping/add/",
        {"equipment": Equipment.objects.get(code="PRESS-1").pk, "config": json.dumps(OPCUA_WITH_LOGIN), "is_enabled": "on"},
    )

    assert response.status_code == 302
    mapping = DeviceMapping.objects.get(equipment__code="PRESS-1")
    assert (mapping.protocol, mapping.is_enabled, _stored_password(mapping).startswith(PREFIX)) == ("opcua", True, True)
    (event,) = _trail()
    assert (event.action, event.before, event.after["password"]) == ("create", None, "***")


def test_stars_for_a_password_never_stored_are_refused_in_the_admin_and_nothing_is_written(admin_client):
    response = admin_client.post(
        "/admin/shopfloor/devicemapping/add/",
        {"equipment": Equipment.objects.get(code="PRESS-1").pk, "config": json.dumps(OPCUA_WITH_LOGIN | {"password": "***"}), "is_enabled": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert "password: nothing stored to keep" in response.content.decode()
    assert not DeviceMapping.objects.exists() and _trail() == []


def test_stopping_collection_in_the_admin_keeps_the_mapping_and_is_audited(admin_client):
    mapping, _created = equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    url = f"/admin/shopfloor/devicemapping/{mapping.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    data.pop("is_enabled")  # the box unticked

    saved = admin_client.post(url, data)
    unchanged = admin_client.post(url, admin_form_data(admin_client.get(url)))

    assert saved.status_code == 302 and unchanged.status_code == 302
    mapping.refresh_from_db()
    assert mapping.is_enabled is False and mapping.config["password"] == "plc-pass-4711"
    _created, stopped = _trail()
    assert (stopped.action, stopped.before, stopped.after) == ("update", {"is_enabled": True}, {"is_enabled": False})
