"""Kingdee K/3 Cloud against its simulator on loopback: ValidateUser and SDK-signed access, the session
cookie reused and renewed when Kingdee lost it, HTTP 200 answers with ``IsSuccess: false`` told apart
(business error: dead letter with Kingdee's words; network-control conflict: later; lost session: log in
again), Save + Submit + Audit finished rather than saved twice, reversals by UnAudit + Delete or by a
negative report, goods as PRD_PickMtrl / PRD_INSTOCK, and the options a connection is refused for."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from erp_sync.connectors.base import FailureKind, GoodsTotals, Outcome
from erp_sync.connectors.kingdee import KingdeeConnector
from erp_sync.models import ErpConnection
from mes.services.accounts import api_token_create
from tests.erp_sync.builders import (
    KINGDEE_ORDER,
    goods_posting,
    kingdee_confirmation,
    kingdee_connector,
    movement,
    reversal_of,
    simulator_fixtures,
)

kingdee_process, kingdee = simulator_fixtures("kingdee", session_ttl_s=1200.0, is_success_text=False)

pytestmark = pytest.mark.subprocess

ACCESS = ["password", "signed"]


@pytest.fixture(params=ACCESS)
def connector(request, kingdee):
    built = kingdee_connector(kingdee, signed=request.param == "signed")
    yield built
    built.close()


def _counters(simulator) -> dict[str, int]:
    return simulator.control.health()["counters"]


def test_a_confirmation_is_saved_submitted_and_audited_once(kingdee, connector: KingdeeConnector) -> None:
    posting = kingdee_confirmation(good="5.000", scrap="1.000")

    posted = connector.post(posting)
    again = connector.post(posting)

    assert (posted.outcome, posted.erp_document) == (Outcome.ACCEPTED, "SCHB00000001")
    assert (again.outcome, again.erp_ref) == (Outcome.DUPLICATE, posted.erp_ref)
    [entry] = kingdee.control.ledger()
    assert (entry["action"], entry["key"], entry["order"], entry["operation"]) == ("post", posting.idempotency_key, KINGDEE_ORDER, "10")
    assert (entry["yield_qty"], entry["scrap_qty"]) == ("5", "1")
    assert connector._query("PRD_MORPT", ["FDocumentStatus", "FWorkshipIdH.FNumber", "FPrdOrgId.FNumber"], "FID=100001") == [["C", "WS01", "100"]]


def test_password_login_keeps_its_session_and_logs_in_again_once_kingdee_lost_it(kingdee) -> None:
    connector = kingdee_connector(kingdee)
    for _ in range(3):
        assert connector.post(kingdee_confirmation()).outcome == Outcome.ACCEPTED
    assert _counters(kingdee)["kingdee_logins"] == 1  # one ValidateUser, then the cookie

    kingdee.control.invalidate_sessions()  # the ERP restarted: every session is gone
    after = connector.post(kingdee_confirmation())

    assert after.outcome == Outcome.ACCEPTED
    counters = _counters(kingdee)
    assert (counters["kingdee_logins"], counters["kingdee_sessions_lost"]) == (2, 1)
    assert len(kingdee.control.ledger()) == 4
    connector.close()


def test_threads_that_all_find_the_session_lost_log_in_again_once(kingdee) -> None:
    connector = kingdee_connector(kingdee)
    assert connector.health().reachable
    kingdee.control.invalidate_sessions()
    postings = [kingdee_confirmation(order=f"MO{index:06d}") for index in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(connector.post, postings))

    assert [result.outcome for result in results] == [Outcome.ACCEPTED] * 8
    assert sorted(entry["key"] for entry in kingdee.control.ledger()) == sorted(posting.idempotency_key for posting in postings)
    assert _counters(kingdee)["kingdee_logins"] == 2  # the health check's, and one renewal for all eight threads
    connector.close()


def test_a_session_that_expired_while_idle_is_renewed(kingdee) -> None:
    kingdee.control.set_config(session_ttl_s=0.3)
    connector = kingdee_connector(kingdee)
    assert connector.post(kingdee_confirmation()).outcome == Outcome.ACCEPTED

    time.sleep(0.5)
    posting = kingdee_confirmation(operation=20)
    result = connector.post(posting)

    assert result.outcome == Outcome.ACCEPTED
    assert [entry["key"] for entry in kingdee.control.ledger()][-1] == posting.idempotency_key
    assert _counters(kingdee)["kingdee_logins"] == 2
    connector.close()


def test_signed_access_never_logs_in_and_a_wrong_app_secret_is_refused_for_good(kingdee) -> None:
    signed = kingdee_connector(kingdee, signed=True)
    assert signed.post(kingdee_confirmation()).outcome == Outcome.ACCEPTED
    kingdee.control.invalidate_sessions()
    assert signed.post(kingdee_confirmation()).outcome == Outcome.ACCEPTED  # the signature authenticates anew
    assert _counters(kingdee)["kingdee_logins"] == 0

    forged = kingdee_connector(kingdee, signed=True, app_secret="not-the-secret")
    result = forged.post(kingdee_confirmation())
    health = forged.health()

    assert result.outcome == Outcome.REJECTED
    assert "授权密钥校验失败" in result.error and "X-Kd-Signature" in result.error
    assert health.reachable is False
    assert len(kingdee.control.ledger()) == 2
    signed.close()
    forged.close()


def test_a_wrong_password_is_rejected_with_kingdees_message(kingdee) -> None:
    connector = kingdee_connector(kingdee, password="wrong")

    result = connector.post(kingdee_confirmation())

    assert result.outcome == Outcome.REJECTED
    assert "用户名或密码错误" in result.error
    assert connector.health().reachable is False
    assert kingdee.control.ledger() == []
    connector.close()


@pytest.mark.parametrize("as_text", [False, True])
def test_is_success_false_with_http_200_is_a_permanent_business_error_keeping_the_message(kingdee, as_text: bool) -> None:
    kingdee.control.set_config(is_success_text=as_text)  # some versions answer IsSuccess as "false"
    kingdee.control.set_faults(rejected_orders=[KINGDEE_ORDER])
    connector = kingdee_connector(kingdee)

    result = connector.post(kingdee_confirmation())

    assert (result.outcome, result.failure_kind, result.http_status) == (Outcome.REJECTED, FailureKind.REJECTED, 200)
    assert "MsgCode 11" in result.error and f"生产订单{KINGDEE_ORDER}已结案" in result.error
    assert kingdee.control.ledger() == []
    kingdee.control.clear_faults()
    assert connector.post(kingdee_confirmation()).outcome == Outcome.ACCEPTED
    connector.close()


def test_a_network_control_conflict_is_retried_later(kingdee, connector: KingdeeConnector) -> None:
    kingdee.control.set_faults(locked=True)

    result = connector.post(kingdee_confirmation())

    assert (result.outcome, result.failure_kind) == (Outcome.RETRYABLE, FailureKind.REFUSED)
    assert "MsgCode 13" in result.error
    assert kingdee.control.ledger() == []


def test_an_answer_lost_after_save_is_finished_by_submit_and_audit_not_saved_again(kingdee, connector: KingdeeConnector) -> None:
    connector.health()
    kingdee.control.set_faults(drop_after_commit_rate=1.0)
    posting = kingdee_confirmation()

    lost = connector.post(posting)
    kingdee.control.clear_faults()
    found = connector.find(posting)  # saved, not audited: not booked as configured
    finished = connector.post(posting)

    assert (lost.outcome, lost.failure_kind) == (Outcome.UNKNOWN, FailureKind.AMBIGUOUS)
    assert found is None
    assert (finished.outcome, finished.erp_document) == (Outcome.ACCEPTED, "SCHB00000001")
    assert connector.find(posting).outcome == Outcome.ACCEPTED
    [entry] = kingdee.control.ledger()
    assert entry["response_dropped"] is True


def test_reversal_unaudits_and_deletes_the_original(kingdee, connector: KingdeeConnector) -> None:
    original = kingdee_confirmation(good="4.000", scrap="0.000")
    kept = kingdee_confirmation(good="3.000", scrap="0.000")
    reversal = reversal_of(original, connector.post(original).erp_ref)
    connector.post(kept)

    result = connector.post(reversal)

    assert (result.outcome, result.erp_document) == (Outcome.ACCEPTED, "SCHB00000001 (deleted)")
    assert connector.find(reversal).outcome == Outcome.ACCEPTED
    assert [(entry["action"], entry["cancels_key"]) for entry in kingdee.control.ledger()] == [
        ("post", None), ("post", None), ("cancel", original.idempotency_key),
    ]
    [totals] = connector.totals(KINGDEE_ORDER)
    assert (totals.good_qty, totals.postings) == (Decimal(3), (kept.idempotency_key,))


def test_reversal_as_a_negative_report_keeps_the_original(kingdee) -> None:
    connector = kingdee_connector(kingdee, reversal="negative")
    original = kingdee_confirmation(good="4.000", scrap="1.000")
    reversal = reversal_of(original, connector.post(original).erp_ref)

    result = connector.post(reversal)
    again = connector.post(reversal)

    assert (result.outcome, result.erp_document) == (Outcome.ACCEPTED, "SCHB00000002")
    assert (again.outcome, again.erp_ref) == (Outcome.DUPLICATE, result.erp_ref)
    cancel = kingdee.control.ledger()[-1]
    assert (cancel["action"], cancel["key"], cancel["cancels"], cancel["cancels_key"]) == (
        "cancel", reversal.idempotency_key, "PRD_MORPT/SCHB00000001", original.idempotency_key,
    )
    assert (cancel["yield_qty"], cancel["scrap_qty"]) == ("-4", "-1")
    [totals] = connector.totals(KINGDEE_ORDER)
    assert (totals.good_qty, totals.scrap_qty, totals.postings) == (0, 0, ())
    assert connector._query("PRD_MORPT", ["FDocumentStatus"], "FID=100001") == [["C"]]
    connector.close()


def test_goods_issue_and_receipt_are_pick_and_in_stock_bills_and_their_reversals_delete_them(kingdee, connector: KingdeeConnector) -> None:
    issue = goods_posting(order=KINGDEE_ORDER, movements=[movement(item="STEEL-10", lot="L-0001", quantity="2.500", unit="KG")])
    receipt = goods_posting(
        order=KINGDEE_ORDER, kind="goods_receipt", operation=20,
        movements=[movement(movement_type="101", item="FRAME-100", lot="OUT-1", quantity="5.000", unit="PCS")],
    )
    bolts = goods_posting(order=KINGDEE_ORDER, movements=[movement(item="BOLT-M8", lot=None, quantity="8.000", unit="PCS")])

    for posting in (issue, receipt, bolts):
        posted = connector.post(posting)
        assert posted.outcome == Outcome.ACCEPTED
        assert connector.post(posting).outcome == Outcome.DUPLICATE
    assert connector.post(goods_posting(order=KINGDEE_ORDER, kind="goods_issue_reversal", reverses=bolts)).outcome == Outcome.ACCEPTED

    assert kingdee.control.stock() == {
        ("BOLT-M8", ""): ("0", "0"), ("FRAME-100", "OUT-1"): ("0", "5"), ("STEEL-10", "L-0001"): ("2.5", "0"),
    }
    assert [entry["document"] for entry in kingdee.control.ledger()] == [
        "PRD_PickMtrl/SCLL00000001", "PRD_INSTOCK/SCRK00000001", "PRD_PickMtrl/SCLL00000002", "PRD_PickMtrl/SCLL00000002",
    ]
    assert connector.goods_totals(KINGDEE_ORDER) == [
        GoodsTotals(KINGDEE_ORDER, "FRAME-100", Decimal(0), Decimal(5)),
        GoodsTotals(KINGDEE_ORDER, "STEEL-10", Decimal("2.5"), Decimal(0)),
    ]


def test_totals_need_an_operation_field(kingdee) -> None:
    connector = kingdee_connector(kingdee, operation_field="")
    assert connector.post(kingdee_confirmation()).outcome == Outcome.ACCEPTED

    result = connector.totals(KINGDEE_ORDER)

    assert result.outcome == Outcome.REJECTED and "operation_field" in result.error
    connector.close()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "acct_id"),
        ({"acct_id": "  "}, "acct_id"),
        ({"acct_id": "62e8", "lcid": "2052"}, "lcid"),
        ({"acct_id": "62e8", "submit_and_audit": "yes"}, "submit_and_audit"),
        ({"acct_id": "62e8", "reversal": "red"}, "reversal"),
        ({"acct_id": "62e8", "key_field": "remark field"}, "key_field"),
        ({"acct_id": "62e8", "bill_type": "生产汇报"}, "bill_type"),
        ({"acct_id": "62e8", "org_number": ["100"]}, "org_number"),
        ({"acct_id": 62, "org_number": True}, "org_number"),
        ({"acct_id": "62e8", "app_id": "no-underscore", "app_secret": "s"}, "app_id"),
        ({"acct_id": "62e8", "app_id": "245678_abc"}, "app_secret"),
    ],
)
def test_options_are_validated(options, field) -> None:
    assert field in KingdeeConnector.validate_options(options)


def test_good_options_and_credentials_pass() -> None:
    options = {"acct_id": "62e8a1", "lcid": 1033, "org_number": "100", "workshop_number": "WS01", "submit_and_audit": False,
               "reversal": "negative", "key_field": "F_ABC_MesKey", "operation_field": ""}
    assert KingdeeConnector.validate_options(options) == {}
    assert KingdeeConnector.validate_credentials(username="MES", password="p", token="", options=options) == {}
    signed = {**options, "app_id": "245678_x", "app_secret": "s"}
    assert KingdeeConnector.validate_credentials(username="MES", password="", token="", options=signed) == {}
    refused = KingdeeConnector.validate_credentials(username="", password="", token="t", options=options)
    assert set(refused) == {"user", "password", "token"}


@pytest.mark.django_db
def test_erp_connection_add_and_test_a_kingdee_connection(kingdee, capsys) -> None:
    credentials = kingdee.credentials
    call_command(
        "erp_connection", "add", "k3", "--kind", "kingdee", "--url", kingdee.service_url + "/", "--user", credentials["user"],
        "--password", credentials["password"], "--option", f"acct_id={credentials['acct_id']}", "--option", "org_number=100",
        "--option", "workshop_number=WS01",
    )
    connection = ErpConnection.objects.get(name="k3")
    assert (connection.kind, connection.options["acct_id"]) == ("kingdee", credentials["acct_id"])

    call_command("erp_connection", "test", "k3")
    assert "k3: reachable" in capsys.readouterr().out

    with pytest.raises(CommandError, match="acct_id"):
        call_command("erp_connection", "add", "k3-bad", "--kind", "kingdee", "--url", kingdee.service_url, "--user", "MES", "--password", "x")
    assert not ErpConnection.objects.filter(name="k3-bad").exists()


@pytest.mark.django_db
def test_the_api_saves_a_signed_kingdee_connection_hiding_its_secret_and_refuses_a_bad_one(kingdee) -> None:
    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username='admin-k3', role='admin').key}")
    credentials = kingdee.credentials
    options = {"acct_id": credentials["acct_id"], "org_number": "100", "app_id": credentials["app_id"], "app_secret": credentials["app_secret"]}

    saved = admin.put("/api/v1/erp-connections/k3", {"kind": "kingdee", "url": kingdee.service_url, "user": "MES", "options": options}, format="json")
    tested = admin.post("/api/v1/erp-connections/k3/test")
    no_account = admin.put(
        "/api/v1/erp-connections/k3-x", {"kind": "kingdee", "url": kingdee.service_url, "user": "MES", "password": "p"}, format="json"
    )
    no_secret = admin.put(
        "/api/v1/erp-connections/k3-y",
        {"kind": "kingdee", "url": kingdee.service_url, "user": "MES", "options": {"acct_id": "62e8"}}, format="json",
    )

    assert saved.status_code == 201, saved.content
    assert saved.json()["options"]["app_secret"] == "***"
    assert ErpConnection.objects.get(name="k3").options["app_secret"] == credentials["app_secret"]
    assert tested.status_code == 200 and tested.json()["reachable"] is True, tested.content
    assert "signed as app 245678" in tested.json()["detail"]
    assert no_account.status_code == 422 and no_account.json()["error"]["code"] == "invalid_options"
    assert "options.acct_id" in no_account.json()["error"]["fields"]
    assert no_secret.status_code == 422 and no_secret.json()["error"]["code"] == "invalid_credentials"
    assert set(no_secret.json()["error"]["fields"]) == {"password"}
    assert list(ErpConnection.objects.values_list("name", flat=True)) == ["k3"]


def test_a_negative_reversal_copies_the_original_as_kingdee_holds_it_and_of_a_missing_one_sends_nothing(kingdee) -> None:
    connector = kingdee_connector(kingdee, reversal="negative")
    original = kingdee_confirmation(good="4.000", scrap="1.000")
    connector.post(original)
    # A reversal queued by reconciliation's repair names only the key of what it cancels.
    repair = dataclasses.replace(
        reversal_of(original, None), payload={"type": "reversal", "reverses": {"idempotency_key": original.idempotency_key}}
    )
    gone = reversal_of(kingdee_confirmation(), None)

    taken_back = connector.post(repair)
    nothing = connector.post(gone)

    assert taken_back.outcome == Outcome.ACCEPTED
    cancel = kingdee.control.ledger()[-1]
    assert (cancel["action"], cancel["cancels_key"], cancel["yield_qty"], cancel["scrap_qty"], cancel["operation"]) == (
        "cancel", original.idempotency_key, "-4", "-1", "10",
    )
    assert (nothing.outcome, nothing.erp_ref) == (Outcome.ACCEPTED, {"nothing_to_cancel": True})
    assert len(kingdee.control.ledger()) == 2
    connector.close()


def test_a_reference_another_erp_gave_is_not_taken_for_a_kingdee_bill(kingdee, connector: KingdeeConnector) -> None:
    original = kingdee_confirmation()
    connector.post(original)
    other = kingdee_confirmation()
    connector.post(other)  # bill 100002
    # The connection was switched: the original's acknowledgement came from Odoo, whose ids look like Kingdee's.
    reversal = reversal_of(original, {"model": "mrp.workcenter.productivity", "id": 100002})

    result = connector.post(reversal)

    assert (result.outcome, result.erp_document) == (Outcome.ACCEPTED, "SCHB00000001 (deleted)")
    assert kingdee.control.ledger()[-1]["cancels_key"] == original.idempotency_key
