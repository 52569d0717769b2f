"""The ERP-sync API: connections (admin only, secrets never shown), health, metrics,
dead letters (replay and discard need a reason and are audited), inbound receipts."""

from __future__ import annotations

import datetime
import io
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from erp_sync.models import ErpConnection, InboundReceipt, OutboxMessage
from mes.models import Event
from mes.services.accounts import api_token_create
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from simulators.erp import start_simulator
from tests.helpers import dead_message

pytestmark = pytest.mark.django_db

SAP = {"kind": "sap", "url": "http://127.0.0.1:9/sap", "user": "MES", "password": "s3cret"}


def _client(role: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username=f'u-{role}-{uuid.uuid4().hex[:6]}', role=role).key}")
    return client


def test_admin_creates_a_connection_and_never_sees_its_secrets_again():
    admin = _client("admin")

    created = admin.put("/api/v1/erp-connections/plant-sap", {**SAP, "is_default": True}, format="json")
    unchanged_secret = admin.put("/api/v1/erp-connections/plant-sap", {"kind": "sap", "url": SAP["url"]}, format="json")
    listed = admin.get("/api/v1/erp-connections")

    assert created.status_code == 201 and unchanged_secret.status_code == 200
    assert "s3cret" not in created.content.decode() + unchanged_secret.content.decode() + listed.content.decode()
    assert listed.json()["results"][0] | {"updated_at": None} == {
        "name": "plant-sap", "kind": "sap", "url": SAP["url"], "user": "MES", "has_password": True, "has_token": False,
        "options": {}, "timeout_seconds": 10, "is_default": True, "is_enabled": True, "updated_at": None,
        "secret_state": "ok", "secrets_to_reenter": [],
    }
    assert ErpConnection.objects.get(name="plant-sap").password == "s3cret"  # omitted secret kept
    events = Event.objects.filter(object_type="erp_connection")
    assert events.count() == 2 and all("s3cret" not in str(event.after) for event in events)


def test_a_second_default_connection_takes_the_role_from_the_first():
    admin = _client("admin")
    admin.put("/api/v1/erp-connections/first", {**SAP, "is_default": True}, format="json")

    admin.put("/api/v1/erp-connections/second", {**SAP, "is_default": True}, format="json")

    assert list(ErpConnection.objects.filter(is_default=True).values_list("name", flat=True)) == ["second"]


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("bad name!", SAP, 422, "name"),
        ("x", {**SAP, "kind": "oracle"}, 400, "kind"),
        ("x", {**SAP, "url": "ftp://erp"}, 400, "url"),
        ("x", {**SAP, "options": {"activity_slots": {"labor": 9}}}, 422, "options.activity_slots"),
    ],
)
def test_bad_connection_is_refused_naming_the_field(name, body, status, field):
    response = _client("admin").put(f"/api/v1/erp-connections/{name}", body, format="json")

    assert response.status_code == status, response.content
    assert field in response.json()["error"]["fields"]
    assert not ErpConnection.objects.exists()


@pytest.mark.parametrize("role", ["operator", "planner", "supervisor", "quality", "integration"])
def test_only_admins_see_or_change_connections(role):
    client = _client(role)

    assert client.get("/api/v1/erp-connections").status_code == 403
    assert client.put("/api/v1/erp-connections/x", SAP, format="json").status_code == 403


@pytest.mark.subprocess
def test_connection_test_and_command_reach_a_live_simulator():
    with start_simulator("sap") as simulator:
        call_command(
            "erp_connection", "add", "sim", "--kind", "sap", "--url", simulator.service_url,
            "--user", simulator.credentials["user"], "--password", simulator.credentials["password"], "--default",
            stdout=io.StringIO(),
        )
        listing, tested = io.StringIO(), io.StringIO()
        call_command("erp_connection", "list", stdout=listing)
        call_command("erp_connection", "test", "sim", stdout=tested)
        answer = _client("admin").post("/api/v1/erp-connections/sim/test")
        call_command("erp_connection", "add", "wrong", "--kind", "sap", "--url", simulator.service_url,
                     "--user", "MES", "--password", "wrong", stdout=io.StringIO())
        with pytest.raises(CommandError, match="wrong"):
            call_command("erp_connection", "test", "wrong", stdout=io.StringIO())

    assert "sim" in listing.getvalue() and simulator.credentials["password"] not in listing.getvalue()
    assert tested.getvalue().startswith("sim: reachable")
    assert answer.status_code == 200 and answer.json()["reachable"] is True


def test_health_reports_queue_and_raises_an_alert_for_dead_letters(released_order):
    dead_message(released_order.number, error="ERP said no")

    health = _client("operator").get("/api/v1/sync/health").json()

    assert (health["pending"], health["dead"]) == (0, 1)
    assert health["alert"]["active"] is True
    assert [reason["code"] for reason in health["alert"]["reasons"]] == ["dead_letters"]


def test_metrics_are_prometheus_text(released_order, client):
    dead_message(released_order.number, error="ERP said no")

    response = client.get("/metrics")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert 'mes_erp_messages{connection="(no connection)",state="dead"} 1' in response.content.decode()
    assert "mes_erp_alert 1" in response.content.decode()


def test_metrics_keep_their_families_help_and_labels(released_order, client):
    dead_message(released_order.number, error="ERP said no")

    text = client.get("/metrics").content.decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}

    assert [line for line in text.splitlines() if line.startswith("# HELP")] == [
        "# HELP mes_erp_messages Outbox messages by connection and state.",
        "# HELP mes_erp_sent_last_hour Messages acknowledged by the ERP in the last hour.",
        "# HELP mes_erp_oldest_pending_seconds Age of the oldest unsent message.",
        "# HELP mes_erp_latency_ms Recorded-to-acknowledged latency over the last hour.",
        "# HELP mes_erp_alert 1 while ERP sync needs attention.",
    ]
    assert {family.type for family in families.values()} == {"gauge"}
    assert {(sample.labels["state"], sample.value) for sample in families["mes_erp_messages"].samples} == {
        ("pending", 0), ("retrying", 0), ("dead", 1)
    }
    assert [sample.labels for sample in families["mes_erp_sent_last_hour"].samples] == [{"connection": "(no connection)"}]
    assert [(sample.labels, sample.value) for sample in families["mes_erp_alert"].samples] == [({}, 1)]


def test_metrics_away_from_loopback_need_a_token_of_a_role_that_watches_the_sync(released_order, client, settings):
    outside = {"REMOTE_ADDR": "10.1.2.3", "HTTP_ACCEPT_LANGUAGE": "en"}
    integration, operator = _client("integration"), _client("operator")

    anonymous = client.get("/metrics", **outside)
    with_token = integration.get("/metrics", **outside)
    wrong_role = operator.get("/metrics", **outside)
    bad_token = client.get("/metrics", HTTP_AUTHORIZATION="Token not-a-token", **outside)
    settings.METRICS_ALLOW_FROM = ["10.1.0.0/16"]
    allowed_network = client.get("/metrics", **outside)

    assert anonymous.status_code == 403 and "METRICS_ALLOW_FROM (127.0.0.1/32, ::1/128)" in anonymous.content.decode()
    assert wrong_role.status_code == 403
    assert bad_token.status_code == 401 and "Invalid token" in bad_token.content.decode()
    assert with_token.status_code == 200 and "mes_erp_alert " in with_token.content.decode()
    assert allowed_network.status_code == 200


def test_replay_needs_a_reason_and_is_audited(released_order):
    message = dead_message(released_order.number, error="ERP said no")
    supervisor = _client("supervisor")

    refused = supervisor.post(f"/api/v1/sync/messages/{message.pk}/replay", {"reason": ""}, format="json")
    replayed = supervisor.post(f"/api/v1/sync/messages/{message.pk}/replay", {"reason": "material fixed in SAP"}, format="json")

    assert refused.status_code == 400
    assert replayed.status_code == 200 and replayed.json()["state"] == "retrying"
    event = Event.objects.get(object_type="outbox_message", action="replay")
    assert (event.reason, event.before["state"], event.after["state"]) == ("material fixed in SAP", "dead", "retrying")


def test_discard_only_dead_messages(released_order):
    message = dead_message(released_order.number, error="ERP said no")
    supervisor = _client("supervisor")
    OutboxMessage.objects.filter(pk=message.pk).update(state="acknowledged")

    refused = supervisor.post(f"/api/v1/sync/messages/{message.pk}/discard", {"reason": "typo"}, format="json")

    assert refused.status_code == 409 and refused.json()["error"]["code"] == "message_not_dead"
    assert OutboxMessage.objects.get(pk=message.pk).state == "acknowledged"


def test_operators_cannot_replay_or_discard(released_order):
    message = dead_message(released_order.number, error="ERP said no")
    operator = _client("operator")

    assert operator.post(f"/api/v1/sync/messages/{message.pk}/replay", {"reason": "x"}, format="json").status_code == 403
    assert operator.post(f"/api/v1/sync/messages/{message.pk}/discard", {"reason": "x"}, format="json").status_code == 403
    assert OutboxMessage.objects.get(pk=message.pk).state == "dead"


def test_message_journey_lists_its_steps(released_order):
    message = dead_message(released_order.number, error="ERP said no")

    journey = _client("operator").get(f"/api/v1/sync/messages/{message.pk}").json()

    assert [step["step"] for step in journey["journey"]] == ["recorded", "queued"]
    assert journey["state"] == "dead" and journey["last_error"] == "ERP said no"
    assert journey["payload"]["work_order"] == released_order.number


def test_every_erp_push_leaves_a_receipt():
    erp = _client("integration")

    erp.put("/api/v1/items/RCPT-1", {"name": "Bolt", "unit": "PCS"}, format="json")
    erp.put("/api/v1/items/RCPT-1", {"name": "Bolt", "unit": "PCS", "oops": 1}, format="json")
    erp.post("/api/v1/work-orders/bulk", {"records": [{"number": "R-1", "item": "RCPT-1", "quantity": 1, "due_date": str(datetime.date(2027, 1, 1))}]}, format="json")

    receipts = list(InboundReceipt.objects.order_by("id").values_list("method", "path", "status_code", "result"))
    assert receipts == [
        ("PUT", "/api/v1/items/RCPT-1", 201, {}),
        ("PUT", "/api/v1/items/RCPT-1", 400, {"error": "invalid_request"}),
        ("POST", "/api/v1/work-orders/bulk", 200, {"results": {"201": 1}}),
    ]
    assert all(receipt.user.username.startswith("u-integration") for receipt in InboundReceipt.objects.all())


def test_mapping_preview_shows_the_body_for_the_latest_confirmation(released_order):
    operation_confirm(
        request=ConfirmationRequest(client_id=uuid.uuid4(), work_order=released_order.number, operation=10, good_qty=Decimal(3))
    )
    mapping = {"order": {"from": "work_order"}, "qty": {"from": "good_qty", "type": "number"}, "source": {"const": "MES"}}

    answer = _client("admin").post("/api/v1/erp-connections/mapping-preview", {"mapping": mapping}, format="json").json()

    assert answer["problems"] == {}
    assert answer["body"] == {"order": released_order.number, "qty": 3, "source": "MES"}
    assert answer["source"]["work_order"] == released_order.number


def test_mapping_preview_names_every_problem():
    answer = _client("admin").post(
        "/api/v1/erp-connections/mapping-preview", {"mapping": {"qty": {"from": "no_such_field"}}}, format="json"
    ).json()

    assert answer["body"] is None and "qty" in answer["problems"]
