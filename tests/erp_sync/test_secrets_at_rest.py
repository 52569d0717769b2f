"""ERP and device secrets are stored encrypted with MES_SECRETS_KEY, keys rotate, and a secret no key
decrypts is a clear "must be re-entered" state everywhere instead of a silent failure."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone, translation

from common.crypto import PREFIX, secrets_reencrypt
from erp_sync.dispatcher import dispatch_until_idle
from erp_sync.event_destinations import event_destination_upsert
from erp_sync.models import DeliveryAttempt, ErpConnection, EventDestination, OutboxMessage
from erp_sync.services import erp_connection_upsert
from mes.models import Event
from shopfloor.andon.services import andon_ladder_put
from shopfloor.models import AndonLadder, DeviceMapping
from shopfloor.services import equipment_signals_set, equipment_signals_test
from simulators.erp import start_simulator
from tests.erp_sync.test_connection_secrets import OPCUA_WITH_LOGIN, _admin, press  # noqa: F401 (a fixture)
from tests.helpers import confirm

pytestmark = pytest.mark.django_db

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SAP_URL = "http://127.0.0.1:9/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV"
REST_OPTIONS = {"auth": "hmac", "hmac_secret": "hmac-4711", "headers": {"X-Api-Key": "key-0815", "Accept": "json"}}


@pytest.fixture(autouse=True)
def old_key(settings):
    settings.MES_SECRETS_KEYS = [OLD_KEY]
    return settings


def _stored(table: str, column: str, where: str, value) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST({column} AS TEXT) FROM {table} WHERE {where} = %s", [value])
        return cursor.fetchone()[0]


def _decrypts_with(key: str, stored: str) -> bool:
    try:
        Fernet(key).decrypt(stored.removeprefix(PREFIX).encode())
    except Exception:
        return False
    return True


def _connections() -> tuple[ErpConnection, ErpConnection]:
    sap, _ = erp_connection_upsert(name="plant-sap", kind="sap", base_url=SAP_URL, username="MES", password="sap-pass-4711", is_default=True)
    rest, _ = erp_connection_upsert(name="plant-rest", kind="rest", base_url="http://127.0.0.1:9/erp", token="tok-0815", options=REST_OPTIONS)
    return sap, rest


def test_erp_and_device_secrets_are_stored_encrypted_and_read_back_in_clear(press):
    sap, rest = _connections()
    equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)

    stored_password = _stored("erp_sync_erpconnection", "password", "name", "plant-sap")
    stored_token = _stored("erp_sync_erpconnection", "token", "name", "plant-rest")
    stored_options = json.loads(_stored("erp_sync_erpconnection", "options", "name", "plant-rest"))
    stored_config = json.loads(_stored("shopfloor_devicemapping", "config", "equipment_id", press.pk))

    for stored in (stored_password, stored_token, stored_options["hmac_secret"], stored_options["headers"]["X-Api-Key"], stored_config["password"]):
        assert stored.startswith(PREFIX) and _decrypts_with(OLD_KEY, stored)
    assert (stored_options["auth"], stored_options["headers"]["Accept"], stored_config["username"]) == ("hmac", "json", "mes")
    raw = stored_password + stored_token + json.dumps(stored_options) + json.dumps(stored_config)
    assert not [secret for secret in ("sap-pass-4711", "tok-0815", "hmac-4711", "key-0815", "plc-pass-4711") if secret in raw]
    assert ErpConnection.objects.get(name="plant-sap").as_config().password == "sap-pass-4711"
    assert ErpConnection.objects.get(name="plant-rest").as_config().options == REST_OPTIONS
    assert DeviceMapping.objects.get(equipment=press).config["password"] == "plc-pass-4711"


def test_the_migration_encrypts_secrets_stored_in_plain_text(press):
    sap, _rest = _connections()
    mapping, _ = equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    with connection.cursor() as cursor:  # as a database from before encryption holds them
        cursor.execute("UPDATE erp_sync_erpconnection SET password = 'plain-4711' WHERE id = %s", [sap.pk])
        cursor.execute("UPDATE shopfloor_devicemapping SET config = %s WHERE id = %s", [json.dumps(OPCUA_WITH_LOGIN), mapping.pk])
    assert ErpConnection.objects.get(pk=sap.pk).password == "plain-4711"  # read as it is until then

    secrets_reencrypt(ErpConnection, ["password", "token", "options"])
    secrets_reencrypt(DeviceMapping, ["config"])

    assert _decrypts_with(OLD_KEY, _stored("erp_sync_erpconnection", "password", "id", sap.pk))
    assert _decrypts_with(OLD_KEY, json.loads(_stored("shopfloor_devicemapping", "config", "id", mapping.pk))["password"])
    assert ErpConnection.objects.get(pk=sap.pk).password == "plain-4711"
    assert DeviceMapping.objects.get(pk=mapping.pk).config == OPCUA_WITH_LOGIN


def test_rotate_secrets_re_encrypts_everything_with_the_first_key(old_key, press):
    _connections()
    equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    steps = [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "dingtalk", "url": "http://127.0.0.1:9/robot", "secret": "SEC-4711"}}]
    andon_ladder_put(code="ALL", data={"steps": steps})
    event_destination_upsert(name="bus", url="amqp://mes:bus-pass-4711@127.0.0.1:5672/%2F")
    old_key.MES_SECRETS_KEYS = [NEW_KEY, OLD_KEY]
    out = io.StringIO()

    call_command("rotate_secrets", stdout=out)

    old_key.MES_SECRETS_KEYS = [NEW_KEY]  # the old key can go now
    stored = _stored("erp_sync_erpconnection", "password", "name", "plant-sap")
    assert _decrypts_with(NEW_KEY, stored) and not _decrypts_with(OLD_KEY, stored)
    assert ErpConnection.objects.get(name="plant-sap").as_config().password == "sap-pass-4711"
    assert ErpConnection.objects.get(name="plant-rest").as_config().options == REST_OPTIONS
    assert DeviceMapping.objects.get().config["password"] == "plc-pass-4711"
    assert "2 erp_sync.ErpConnection, 1 erp_sync.EventDestination, 1 shopfloor.DeviceMapping" in out.getvalue()
    event = Event.objects.get(object_type="secrets", action="rotate")
    assert event.after["rows"] == {
        "erp_sync.ErpConnection": 2, "erp_sync.EventDestination": 1, "shopfloor.DeviceMapping": 1, "shopfloor.AndonLadder": 1,
        "shopfloor.AndonNotice": 0,
    }
    bus = _stored("erp_sync_eventdestination", "password", "name", "bus")
    assert _decrypts_with(NEW_KEY, bus) and EventDestination.objects.get(name="bus").password == "bus-pass-4711"
    assert AndonLadder.objects.get().steps[0]["channel"]["secret"] == "SEC-4711"
    sealed = json.loads(_stored("shopfloor_andonladder", "steps", "code", "ALL"))[0]["channel"]["secret"]
    assert _decrypts_with(NEW_KEY, sealed) and not _decrypts_with(OLD_KEY, sealed)


def test_rotate_secrets_keeps_what_no_key_decrypts_and_says_so(old_key):
    _connections()
    old_key.MES_SECRETS_KEYS = [NEW_KEY]
    err = io.StringIO()

    with pytest.raises(SystemExit) as exit_:
        call_command("rotate_secrets", stdout=io.StringIO(), stderr=err)

    assert exit_.value.code == 1
    assert "plant-sap password" in err.getvalue() and "plant-rest options.hmac_secret" in err.getvalue()
    old_key.MES_SECRETS_KEYS = [OLD_KEY]
    assert ErpConnection.objects.get(name="plant-sap").password == "sap-pass-4711", "nothing was destroyed"


# --- a key that cannot decrypt ------------------------------------------------------------------


def test_a_connection_whose_secrets_cannot_be_decrypted_says_they_must_be_re_entered(old_key, admin_client):
    sap, rest = _connections()
    old_key.MES_SECRETS_KEYS = [NEW_KEY]
    admin = _admin()

    listed = admin.get("/api/v1/erp-connections").json()["results"]
    tested = admin.post("/api/v1/erp-connections/plant-rest/test", HTTP_ACCEPT_LANGUAGE="en")
    listing = io.StringIO()
    call_command("erp_connection", "list", stdout=listing)
    changelist = admin_client.get("/admin/erp_sync/erpconnection/", HTTP_ACCEPT_LANGUAGE="en")

    assert [(row["name"], row["secret_state"], row["secrets_to_reenter"]) for row in listed] == [
        ("plant-rest", "must_be_reentered", ["token", "options.headers.X-Api-Key", "options.hmac_secret"]),
        ("plant-sap", "must_be_reentered", ["password"]),
    ]
    assert tested.status_code == 409
    assert tested.json()["error"]["code"] == "secret_must_be_reentered"
    assert "The secret must be re-entered" in tested.json()["error"]["message"]
    assert "plant-sap: secret must be re-entered (password)" in listing.getvalue()
    with translation.override("en"), pytest.raises(CommandError, match="secret must be re-entered"):
        call_command("erp_connection", "test", "plant-sap", stdout=io.StringIO())
    assert changelist.status_code == 200 and "must be re-entered: password" in changelist.content.decode()


def test_re_entering_the_secret_clears_the_state(old_key):
    _connections()
    old_key.MES_SECRETS_KEYS = [NEW_KEY]

    _admin().put("/api/v1/erp-connections/plant-sap", {"kind": "sap", "url": SAP_URL, "password": "sap-pass-new"}, format="json")

    connection_row = ErpConnection.objects.get(name="plant-sap")
    assert connection_row.unreadable_secrets() == [] and connection_row.as_config().password == "sap-pass-new"


@pytest.mark.subprocess
def test_delivery_holds_with_a_clear_error_until_the_secret_is_re_entered(old_key, released_order):
    with start_simulator("sap") as simulator:
        erp_connection_upsert(
            name="sim", kind="sap", base_url=simulator.service_url, username=simulator.credentials["user"],
            password=simulator.credentials["password"], is_default=True, timeout_seconds=2,
        )
        confirm(good_qty=Decimal(2))
        old_key.MES_SECRETS_KEYS = [NEW_KEY]  # the key was replaced: the stored password is unreadable

        dispatch_until_idle(budget_seconds=2, threads=1)

        message = OutboxMessage.objects.get()
        assert message.state == "retrying"
        assert message.last_error.startswith("The secret must be re-entered: ERP connection sim")
        assert list(DeliveryAttempt.objects.values_list("outcome", flat=True)) == ["retryable"]
        assert simulator.control.ledger() == []

        erp_connection_upsert(name="sim", kind="sap", base_url=simulator.service_url, password=simulator.credentials["password"])
        OutboxMessage.objects.update(next_attempt_at=timezone.now())
        dispatch_until_idle(budget_seconds=5, threads=1)

        assert OutboxMessage.objects.get().state == "acknowledged"
        assert len(simulator.control.ledger()) == 1


def test_a_device_password_that_cannot_be_decrypted_is_not_used(old_key, press):
    equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    old_key.MES_SECRETS_KEYS = [NEW_KEY]

    with translation.override("en"):
        result = equipment_signals_test(equipment_code="PRESS-1")

    assert (result["reachable"], result["values"]) == (False, {})
    assert result["error"].startswith("The secret must be re-entered: the mapping of PRESS-1")


@pytest.mark.subprocess
def test_a_bad_secrets_key_stops_start_up_without_printing_it(tmp_path):
    from tests.test_settings import _start

    result = _start(tmp_path, MES_SECRETS_KEY=f"{NEW_KEY},not-a-fernet-key")

    assert result.returncode != 0
    assert "Environment variable MES_SECRETS_KEY='<key 2 hidden>' is invalid" in result.stderr
    assert "not-a-fernet-key" not in result.stderr


@pytest.mark.subprocess
def test_without_a_secrets_key_one_is_generated_once_into_var(tmp_path, monkeypatch):
    from tests.test_settings import _start

    monkeypatch.delenv("MES_SECRETS_KEY")  # the test process hands its key to the processes it starts
    first = _start(tmp_path)
    key = (tmp_path / "secrets_key").read_text()
    second = _start(tmp_path)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    Fernet(key.strip())
    assert (tmp_path / "secrets_key").read_text() == key
    assert oct((tmp_path / "secrets_key").stat().st_mode & 0o777) == "0o600"


def test_the_collector_does_not_log_in_with_a_password_it_cannot_decrypt(old_key, press, caplog):
    from shopfloor.collector.collector import Collector, CollectorOptions
    from shopfloor.production import collector_mappings

    equipment_signals_set(equipment_code="PRESS-1", config=OPCUA_WITH_LOGIN)
    old_key.MES_SECRETS_KEYS = [NEW_KEY]
    (mapping,) = collector_mappings()
    collector = Collector(CollectorOptions())

    collector._start(mapping)

    assert collector.readers == {}
    assert "PRESS-1: stored mapping is not valid, not collecting: password: must be re-entered" in caplog.text
