"""The journal of order pulls: ``GET /api/v1/sync/pulls`` (paged, by connection and state) and ``/sync/pulls/``
(both languages, an HTMX partial), each readable by the roles of the other sync endpoints and pages."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from erp_sync.models import PullRefusal, PullRun
from erp_sync.services import erp_connection_upsert
from tests.conftest import persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def journal(db) -> dict[str, PullRun]:
    erp_connection_upsert(name="plant-sap", kind="sap", base_url="https://sap.example.com/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV",
                          username="U", password="P", options={"pull_orders": True})
    now = timezone.now()
    older = PullRun.objects.create(
        connection="plant-sap", trigger=PullRun.Trigger.SCHEDULE, state=PullRun.State.FINISHED, started_at=now - datetime.timedelta(minutes=10),
        finished_at=now - datetime.timedelta(minutes=10), high_water_mark="20301201080000", orders_read=3, orders_created=2, orders_refused=1,
    )
    PullRefusal.objects.create(run=older, erp_key="4799", code="unknown_item", message="No item with key 'NO-SUCH-ITEM' exists.",
                               fields={"item": "unknown item 'NO-SUCH-ITEM'"})
    failed = PullRun.objects.create(
        connection="plant-sap", trigger=PullRun.Trigger.COMMAND, state=PullRun.State.FAILED, started_at=now - datetime.timedelta(minutes=5),
        finished_at=now - datetime.timedelta(minutes=5), since="20301201080000", error="connection refused: SAP is down",
    )
    other = PullRun.objects.create(connection="k3", state=PullRun.State.FINISHED, started_at=now, finished_at=now, high_water_mark="2030-12-01 08:00:00")
    return {"older": older, "failed": failed, "other": other}


def _token_client(role: str) -> APIClient:
    """An API client with a token of ``role``; with none, a token whose user was taken out of every role."""
    client = persona(f"{role or 'nobody'}-token", role or "operator")
    if not role:
        client.user.groups.clear()
    return client


def _signed_in(client, role: str):
    user = get_user_model().objects.create_user(username=f"{role}-person", password="pw-123456")
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def test_the_api_lists_runs_newest_first_with_their_refused_records(journal) -> None:
    response = _token_client("integration").get("/api/v1/sync/pulls")

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["page"], body["pages"]) == (3, 1, 1)
    assert [run["id"] for run in body["results"]] == [journal["other"].pk, journal["failed"].pk, journal["older"].pk]
    older = body["results"][2]
    assert (older["state"], older["orders_read"], older["orders_created"], older["orders_refused"]) == ("finished", 3, 2, 1)
    assert older["refused"] == [{"erp_key": "4799", "code": "unknown_item", "message": "No item with key 'NO-SUCH-ITEM' exists.",
                                 "fields": {"item": "unknown item 'NO-SUCH-ITEM'"}}]
    failed = body["results"][1]
    assert (failed["state"], failed["error"], failed["since"], failed["high_water_mark"]) == ("failed", "connection refused: SAP is down", "20301201080000", None)


def test_the_api_filters_by_connection_and_state_and_pages(journal) -> None:
    client = _token_client("operator")

    by_connection = client.get("/api/v1/sync/pulls", {"connection": "plant-sap"}).json()
    failed = client.get("/api/v1/sync/pulls", {"state": "failed"}).json()
    first = client.get("/api/v1/sync/pulls", {"connection": "plant-sap", "page_size": 1}).json()
    second = client.get("/api/v1/sync/pulls", {"connection": "plant-sap", "page_size": 1, "page": 2}).json()

    assert [run["id"] for run in by_connection["results"]] == [journal["failed"].pk, journal["older"].pk]
    assert [run["id"] for run in failed["results"]] == [journal["failed"].pk]
    assert (first["count"], first["pages"], [run["id"] for run in first["results"]]) == (2, 2, [journal["failed"].pk])
    assert [run["id"] for run in second["results"]] == [journal["older"].pk]


@pytest.mark.parametrize("query", [{"state": "sideways"}, {"page": "0"}, {"page_size": "201"}, {"page": "two"}])
def test_the_api_refuses_bad_parameters_by_name(journal, query) -> None:
    response = _token_client("supervisor").get("/api/v1/sync/pulls", query)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(query)


def test_the_api_refuses_whom_the_other_sync_endpoints_refuse(journal) -> None:
    assert APIClient().get("/api/v1/sync/pulls").status_code in (401, 403)
    assert _token_client("").get("/api/v1/sync/pulls").status_code == 403  # a user in no role


@pytest.mark.parametrize("language, words", [("en", [b"Order pulls", b"high-water mark", b"unknown_item"]), ("zh-hans", ["订单拉取".encode(), "高水位标记".encode()])])
def test_the_journal_page_in_both_languages(client, journal, language, words) -> None:
    page = _signed_in(client, "planner").get("/sync/pulls/", HTTP_ACCEPT_LANGUAGE=language)

    assert page.status_code == 200 and b"<html" in page.content
    for word in words:
        assert word in page.content
    assert f'id="pull-{journal["older"].pk}"'.encode() in page.content
    assert b'data-key="4799"' in page.content and b"connection refused: SAP is down" in page.content


def test_the_journal_page_filters_and_answers_its_table_to_htmx(client, journal) -> None:
    supervisor = _signed_in(client, "supervisor")

    partial = supervisor.get("/sync/pulls/", {"connection": "k3"}, HTTP_HX_REQUEST="true")

    assert partial.status_code == 200 and b"<html" not in partial.content
    assert partial.content.strip().startswith(b'<div id="pull-table"')
    assert f'id="pull-{journal["other"].pk}"'.encode() in partial.content
    assert f'id="pull-{journal["older"].pk}"'.encode() not in partial.content


def test_the_sync_page_links_to_the_journal(client, journal) -> None:
    assert b'href="/sync/pulls/"' in _signed_in(client, "admin").get("/sync/").content


@pytest.mark.parametrize("role", ["operator", "quality", "integration"])
def test_people_without_a_sync_role_cannot_open_the_journal(client, journal, role) -> None:
    assert _signed_in(client, role).get("/sync/pulls/").status_code == 403


def test_the_admin_shows_runs_and_their_refused_records_read_only(client, journal, admin_user) -> None:
    client.force_login(admin_user)

    listing = client.get("/admin/erp_sync/pullrun/", HTTP_ACCEPT_LANGUAGE="en")
    detail = client.get(f"/admin/erp_sync/pullrun/{journal['older'].pk}/change/", HTTP_ACCEPT_LANGUAGE="en")

    assert listing.status_code == 200 and b"plant-sap" in listing.content
    assert detail.status_code == 200 and b"NO-SUCH-ITEM" in detail.content
    assert client.get("/admin/erp_sync/pullrun/add/").status_code == 403


def test_the_beat_queues_a_pull_of_each_connection_that_is_due(journal, settings) -> None:
    from erp_sync.tasks import pull_orders_due
    from tests.erp_sync.queued import queued_tasks

    settings.MES_ERP_PULL_INTERVAL = 300
    erp_connection_upsert(name="k3", kind="kingdee", base_url="http://k3.example.com/k3cloud/", username="MES", password="pw",
                          options={"acct_id": "62e8a1f0c3b24d5e9f7a6b8c", "pull_orders": True})
    erp_connection_upsert(name="erpnext", kind="erpnext", base_url="https://erp.example.com", token="key:secret")  # does not pull
    PullRun.objects.filter(connection="plant-sap").update(started_at=timezone.now() - datetime.timedelta(seconds=301))
    queued_tasks()  # whatever earlier tests left

    assert pull_orders_due() == 1  # plant-sap's last run is 301 s old; k3 pulled just now (the journal's run)
    assert queued_tasks() == [("erp_sync.pull_orders", {"connection": "plant-sap"})]
