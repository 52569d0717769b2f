"""Secrets of ERP connections and device mappings: never shown back (API, admin, audit trail) at any
depth of their options, kept when "***" is written back, and stored encrypted."""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from common.masking import is_secret_name, masked, unmasked
from erp_sync.models import ErpConnection
from erp_sync.services import erp_connection_upsert
from mes.models import Event
from mes.services.accounts import api_token_create
from mes.services.master_data import equipment_upsert, work_center_upsert
from shopfloor.services import equipment_signals_set
from tests.mes.test_admin_audit import admin_form_data

pytestmark = pytest.mark.django_db

REST_URL = "http://127.0.0.1:9/erp/confirmations"
REST_OPTIONS = {
    "auth": "hmac",
    "hmac_secret": "hmac-4711",
    "headers": {"Authorization": "Basic dXNlcjpwYXNz", "x-api-key": "key-0815", "Accept-Language": "zh"},
    "mapping": {"key": {"from": "idempotency_key"}, "qty": {"from": "good_qty"}},
    "totals": {"url": "http://127.0.0.1:9/erp/totals/{work_order}", "keys_field": "postings"},
}
SECRETS = ("hmac-4711", "dXNlcjpwYXNz", "key-0815")
MASKED_OPTIONS = {
    "auth": "hmac",
    "hmac_secret": "***",
    "headers": {"Authorization": "***", "x-api-key": "***", "Accept-Language": "zh"},
    "mapping": {"key": {"from": "idempotency_key"}, "qty": {"from": "good_qty"}},
    "totals": {"url": "http://127.0.0.1:9/erp/totals/{work_order}", "keys_field": "postings"},
}


def _admin() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username=f'admin-{uuid.uuid4().hex[:6]}', role='admin').key}")
    return client


def _rest_connection(**fields) -> ErpConnection:
    return erp_connection_upsert(name="plant-rest", kind="rest", base_url=REST_URL, options=REST_OPTIONS, **fields)[0]


def _trail() -> str:
    return json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False)


# --- by name, at any depth ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["password", "hmac_secret", "token", "Authorization", "X-Api-Key", "apiKey", "API_KEY", "key", "private_key",
     "station_pin", "credential_hash", "X-CSRF-Token", "Proxy-Authorization", "client_secret", "PASSWD"],
)
def test_secret_names_are_recognised_in_any_case(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["auth", "hmac_header", "keys_field", "idempotency_key", "mapping", "monkey", "url", "pinned", "shipping"],
)
def test_other_names_are_not_secrets(name):
    assert not is_secret_name(name)


def test_masking_reaches_every_depth_and_list_and_marks_what_changed():
    value = {"a": [{"Password": "p1", "n": 1}, {"deep": {"X-Api-Key": 7}}], "has_password": True, "token": "", "b": "open"}

    shown = masked(value)
    compared = masked(value, {"a": [{"Password": "p0", "n": 1}, {"deep": {"X-Api-Key": 7}}]})

    assert shown == {"a": [{"Password": "***", "n": 1}, {"deep": {"X-Api-Key": "***"}}], "has_password": True, "token": "", "b": "open"}
    assert compared["a"] == [{"Password": "*** (changed)", "n": 1}, {"deep": {"X-Api-Key": "***"}}]


def test_stars_written_back_keep_what_is_stored_at_the_same_place():
    stored = {"headers": {"Authorization": "Bearer x"}, "list": [{"token": "t0"}]}

    kept = unmasked({"headers": {"Authorization": "***", "Accept": "json"}, "list": [{"token": "***"}]}, stored)

    assert kept == {"headers": {"Authorization": "Bearer x", "Accept": "json"}, "list": [{"token": "t0"}]}


# --- the API -----------------------------------------------------------------------------------


def test_connection_options_are_answered_masked_and_never_audited_in_clear():
    admin = _admin()

    created = admin.put(
        "/api/v1/erp-connections/plant-rest", {"kind": "rest", "url": REST_URL, "options": REST_OPTIONS}, format="json"
    )
    listed = admin.get("/api/v1/erp-connections")
    one = admin.get("/api/v1/erp-connections/plant-rest")

    assert created.status_code == 201, created.content
    assert created.json()["options"] == listed.json()["results"][0]["options"] == one.json()["options"] == MASKED_OPTIONS
    answers = created.content.decode() + listed.content.decode() + one.content.decode()
    assert not [secret for secret in SECRETS if secret in answers]
    assert not [secret for secret in SECRETS if secret in _trail()]
    assert Event.objects.get(object_type="erp_connection").after["options"] == MASKED_OPTIONS


def test_options_written_back_as_answered_keep_the_stored_secrets():
    _rest_connection()
    admin = _admin()
    answered = admin.get("/api/v1/erp-connections/plant-rest").json()

    changed = admin.put(
        "/api/v1/erp-connections/plant-rest",
        {"kind": "rest", "url": REST_URL, "options": answered["options"] | {"hmac_header": "X-Sig"}},
        format="json",
    )

    assert changed.status_code == 200, changed.content
    assert ErpConnection.objects.get(name="plant-rest").options == REST_OPTIONS | {"hmac_header": "X-Sig"}
    event = Event.objects.filter(object_type="erp_connection").latest("id")
    assert (event.before["options"]["hmac_secret"], event.after["options"]["hmac_secret"]) == ("***", "***")
    assert not [secret for secret in SECRETS if secret in _trail()]


def test_stars_for_an_option_secret_never_stored_are_refused():
    admin = _admin()
    before = Event.objects.count()

    response = admin.put(
        "/api/v1/erp-connections/plant-rest",
        {"kind": "rest", "url": REST_URL, "options": {"auth": "hmac", "hmac_secret": "***"}},
        format="json",
    )

    assert response.status_code == 422
    assert (response.json()["error"]["code"], list(response.json()["error"]["fields"])) == ("secret_not_stored", ["options.hmac_secret"])
    assert not ErpConnection.objects.exists() and Event.objects.count() == before


# --- the admin ---------------------------------------------------------------------------------


def test_the_admin_form_shows_option_secrets_masked_and_saving_it_keeps_them(admin_client):
    connection = _rest_connection()
    url = f"/admin/erp_sync/erpconnection/{connection.pk}/change/"
    page = admin_client.get(url)

    saved = admin_client.post(url, admin_form_data(page) | {"timeout_seconds": "20"})

    assert not [secret for secret in SECRETS if secret in page.content.decode()]
    assert saved.status_code == 302
    connection.refresh_from_db()
    assert (connection.options, connection.timeout_seconds) == (REST_OPTIONS, 20)
    event = Event.objects.filter(object_type="erp_connection").latest("id")
    assert event.after["options"] == MASKED_OPTIONS and event.after["timeout_seconds"] == 20
    assert not [secret for secret in SECRETS if secret in _trail()]


def test_a_secret_changed_in_the_admin_options_is_stored_and_audited_as_changed(admin_client):
    connection = _rest_connection()
    url = f"/admin/erp_sync/erpconnection/{connection.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    options = json.loads(data["options"]) | {"hmac_secret": "hmac-new"}

    saved = admin_client.post(url, data | {"options": json.dumps(options)})

    assert saved.status_code == 302
    connection.refresh_from_db()
    assert connection.options["hmac_secret"] == "hmac-new" and connection.options["headers"] == REST_OPTIONS["headers"]
    event = Event.objects.filter(object_type="erp_connection").latest("id")
    assert (event.before["options"]["hmac_secret"], event.after["options"]["hmac_secret"]) == ("***", "*** (changed)")
    assert "hmac-new" not in _trail()


OPCUA_WITH_LOGIN = {
    "protocol": "opcua", "endpoint": "opc.tcp://127.0.0.1:4840", "username": "mes", "password": "plc-pass-4711",
    "signals": {"good_count": {"node": "ns=2;s=Press1.GoodCount"}},
}


@pytest.fixture
def press(db):
    work_center_upsert(code="WC-PRESS", name="Press")
    return equipment_upsert(code="PRESS-1", name="Press 1", work_center="WC-PRESS").obj


def test_the_device_mapping_admin_form_masks_the_password_and_saving_it_keeps_it(admin_client, press):
    mapping, _created = equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    url = f"/admin/shopfloor/devicemapping/{mapping.pk}/change/"
    page = admin_client.get(url)
    data = admin_form_data(page)
    config = json.loads(data["config"])

    saved = admin_client.post(url, data | {"config": json.dumps(config | {"username": "mes2"})})

    assert "plc-pass-4711" not in page.content.decode() and config["password"] == "***"
    assert saved.status_code == 302
    mapping.refresh_from_db()
    assert (mapping.config["username"], mapping.config["password"]) == ("mes2", "plc-pass-4711")
    assert "plc-pass-4711" not in _trail()
