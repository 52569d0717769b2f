"""Yonyou U8+ OpenAPI against its simulator on loopback: the token fetched once, renewed before ``expiresIn``
and once when the gateway forgot it; adds under ``biz_id`` or a fresh ``tradeid``, their results polled from
the answer's url (and a result that does not come in time looked up by our key, never added twice);
``errcode`` other than "0" told apart (business error: dead letter with U8's words; a locked voucher: later; a
token: renewed); reversals as red vouchers; goods as materialout, a report's output in its productin; and the
options a connection is refused for."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from erp_sync.connectors.base import ErpTotals, FailureKind, GoodsTotals, Outcome
from erp_sync.connectors.u8 import U8Connector
from erp_sync.models import ErpConnection
from mes.services.accounts import api_token_create
from tests.erp_sync.builders import (
    U8_ORDER,
    goods_posting,
    movement,
    reversal_of,
    simulator_fixtures,
    u8_confirmation,
    u8_connector,
)

u8_process, u8 = simulator_fixtures("u8", token_ttl_s=7200.0, async_delay_ms=30, biz_id_dedupe="replay")

pytestmark = pytest.mark.subprocess


@pytest.fixture(params=["biz_id", "tradeid"])
def connector(request, u8):
    built = u8_connector(u8, idempotency=request.param)
    yield built
    built.close()


def _counters(simulator) -> dict[str, int]:
    return simulator.control.health()["counters"]


def test_a_confirmation_is_a_productin_added_once_and_its_result_polled(u8, connector: U8Connector) -> None:
    posting = u8_confirmation(good="5.000", scrap="1.000")

    posted = connector.post(posting)
    again = connector.post(posting)

    assert (posted.outcome, posted.erp_document, posted.erp_ref) == (
        Outcome.ACCEPTED, "productin/0000000001", {"object": "productin", "id": "1", "code": "0000000001"},
    )
    assert (again.outcome, again.erp_ref) == (Outcome.DUPLICATE, posted.erp_ref)
    [entry] = u8.control.ledger()
    assert (entry["action"], entry["key"], entry["order"], entry["operation"]) == ("post", posting.idempotency_key, U8_ORDER, "10")
    assert (entry["yield_qty"], entry["scrap_qty"]) == ("5", "1")
    voucher = connector._call("GET", "/api/productin/get", {"id": "0000000001"}, read=True)["productin"]
    assert (voucher["memory"], voucher["warehousecode"], voucher["date"]) == (posting.idempotency_key, "01", "2025-03-02")
    assert voucher["entry"] == [{"inventorycode": "FRAME-100", "quantity": 5.0, "mocode": U8_ORDER, "define22": "10", "define23": 1.0}]
    counters = _counters(u8)
    assert counters["u8_results_polled"] >= 1
    assert counters["u8_tradeids"] == (1 if connector.idempotency == "tradeid" else 0)


def test_the_token_is_reused_and_fetched_again_before_expires_in(u8) -> None:
    u8.control.set_config(token_ttl_s=1.0)
    connector = u8_connector(u8)
    for _ in range(2):
        assert connector.post(u8_confirmation()).outcome == Outcome.ACCEPTED
    assert _counters(u8)["u8_tokens_issued"] == 1

    time.sleep(1.0)  # past 90 % of expiresIn: renewed before the gateway would refuse it
    assert connector.post(u8_confirmation()).outcome == Outcome.ACCEPTED

    counters = _counters(u8)
    assert (counters["u8_tokens_issued"], counters["u8_token_refusals"]) == (2, 0)
    connector.close()


def test_a_token_the_gateway_forgot_is_renewed_once_and_the_call_repeated(u8) -> None:
    connector = u8_connector(u8)
    assert connector.post(u8_confirmation()).outcome == Outcome.ACCEPTED
    u8.control.invalidate_sessions()  # the gateway restarted: every token is gone

    after = connector.post(u8_confirmation())

    assert after.outcome == Outcome.ACCEPTED
    counters = _counters(u8)
    assert counters["u8_tokens_issued"] == 2 and counters["u8_token_refusals"] == 1
    assert len(u8.control.ledger()) == 2
    connector.close()


def test_threads_that_all_find_the_token_refused_fetch_one_new_token(u8) -> None:
    connector = u8_connector(u8)
    assert connector.health().reachable
    u8.control.invalidate_sessions()
    postings = [u8_confirmation(order=f"MO{index:06d}") for index in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(connector.post, postings))

    assert [result.outcome for result in results] == [Outcome.ACCEPTED] * 8
    assert sorted(entry["key"] for entry in u8.control.ledger()) == sorted(posting.idempotency_key for posting in postings)
    assert _counters(u8)["u8_tokens_issued"] == 2  # the health check's, and one renewal for all eight threads
    connector.close()


def test_a_wrong_app_secret_is_refused_for_good_with_u8s_message(u8) -> None:
    connector = u8_connector(u8, app_secret="not-the-secret")

    result = connector.post(u8_confirmation())
    health = connector.health()

    assert (result.outcome, result.failure_kind) == (Outcome.REJECTED, FailureKind.REJECTED)
    assert "errcode 10002" in result.error and "app_secret不正确" in result.error
    assert health.reachable is False and "app_secret不正确" in health.detail
    assert u8.control.ledger() == []
    connector.close()


def test_an_errcode_in_the_result_is_a_permanent_business_error_keeping_u8s_message(u8, connector: U8Connector) -> None:
    u8.control.set_faults(rejected_orders=[U8_ORDER])

    result = connector.post(u8_confirmation())

    assert (result.outcome, result.failure_kind, result.http_status) == (Outcome.REJECTED, FailureKind.REJECTED, 200)
    assert result.error == f"U8 errcode 50001: 生产订单{U8_ORDER}已关闭，不能入库"
    assert u8.control.ledger() == []
    u8.control.clear_faults()
    assert connector.post(u8_confirmation()).outcome == Outcome.ACCEPTED


def test_a_voucher_locked_by_another_user_is_retried_later(u8, connector: U8Connector) -> None:
    u8.control.set_faults(locked=True)

    result = connector.post(u8_confirmation())

    assert (result.outcome, result.failure_kind) == (Outcome.RETRYABLE, FailureKind.REFUSED)
    assert "errcode 30006" in result.error
    assert u8.control.ledger() == []


def test_a_result_that_does_not_come_in_time_is_unknown_then_found_by_our_key_not_added_again(u8) -> None:
    connector = u8_connector(u8, poll_seconds=0.3)
    u8.control.set_config(async_delay_ms=2000)
    posting = u8_confirmation()

    late = connector.post(posting)
    found = connector.find(posting)
    again = connector.post(posting)

    assert (late.outcome, late.failure_kind) == (Outcome.UNKNOWN, FailureKind.AMBIGUOUS)
    assert "0.3 s" in late.error
    assert (found.outcome, found.erp_document) == (Outcome.ACCEPTED, "productin/0000000001")
    assert again.outcome == Outcome.DUPLICATE
    assert len(u8.control.ledger()) == 1
    connector.close()


def test_a_result_is_polled_until_it_is_ready(u8) -> None:
    u8.control.set_config(async_delay_ms=300)
    connector = u8_connector(u8)
    polled = _counters(u8)["u8_results_polled"]

    result = connector.post(u8_confirmation())

    assert result.outcome == Outcome.ACCEPTED
    assert _counters(u8)["u8_results_polled"] - polled >= 3
    connector.close()


def test_tradeid_mode_takes_a_fresh_trade_id_for_every_add(u8) -> None:
    connector = u8_connector(u8, idempotency="tradeid")
    for _ in range(3):
        assert connector.post(u8_confirmation()).outcome == Outcome.ACCEPTED
    assert _counters(u8)["u8_tradeids"] == 3
    connector.close()


def test_a_reversal_is_a_red_productin_naming_the_original(u8, connector: U8Connector) -> None:
    original = u8_confirmation(good="4.000", scrap="1.000")
    kept = u8_confirmation(good="3.000", scrap="0.000")
    reversal = reversal_of(original, connector.post(original).erp_ref)
    connector.post(kept)

    result = connector.post(reversal)

    assert (result.outcome, result.erp_document) == (Outcome.ACCEPTED, "productin/0000000003")
    cancel = u8.control.ledger()[-1]
    assert (cancel["action"], cancel["key"], cancel["cancels"], cancel["cancels_key"]) == (
        "cancel", reversal.idempotency_key, "productin/0000000001", original.idempotency_key,
    )
    assert (cancel["yield_qty"], cancel["scrap_qty"], cancel["operation"]) == ("-4", "-1", "10")
    assert connector.totals(U8_ORDER) == [ErpTotals(U8_ORDER, 10, Decimal(3), Decimal(0), Decimal(0), (kept.idempotency_key,))]
    red = connector._call("GET", "/api/productin/get", {"id": "0000000003"}, read=True)["productin"]
    assert red["define1"] == "0000000001"


def test_goods_issues_are_materialout_and_a_reports_output_rides_in_its_productin(u8, connector: U8Connector) -> None:
    output = movement(movement_type="101", item="FRAME-100", lot="OUT-1", quantity="5.000", unit="PCS")
    report = u8_confirmation(good="5.000", scrap="0.000", goods_movements=[output])
    booked = connector.post(report)
    receipt = goods_posting(
        order=U8_ORDER, kind="goods_receipt", movements=[output], confirmation_id=report.idempotency_key, confirmation_ref=booked.erp_ref,
    )
    issue = goods_posting(order=U8_ORDER, movements=[movement(item="STEEL-10", lot="L-0001", quantity="2.500", unit="KG")])
    bolts = goods_posting(order=U8_ORDER, movements=[movement(item="BOLT-M8", lot=None, quantity="8.000", unit="PCS")])

    rode = connector.post(receipt)
    for posting in (issue, bolts):
        assert connector.post(posting).outcome == Outcome.ACCEPTED
        assert connector.post(posting).outcome == Outcome.DUPLICATE
    taken_back = connector.post(goods_posting(order=U8_ORDER, kind="goods_issue_reversal", reverses=bolts))

    assert (rode.outcome, rode.erp_document, rode.erp_ref) == (
        Outcome.ACCEPTED, "productin/0000000001", {"booked_with_confirmation": report.idempotency_key},
    )
    assert (taken_back.outcome, taken_back.erp_document) == (Outcome.ACCEPTED, "materialout/0000000003")
    assert u8.control.stock() == {
        ("BOLT-M8", ""): ("0", "0"), ("FRAME-100", "OUT-1"): ("0", "5"), ("STEEL-10", "L-0001"): ("2.5", "0"),
    }
    assert [entry["document"] for entry in u8.control.ledger()] == [
        "productin/0000000001", "materialout/0000000001", "materialout/0000000002", "materialout/0000000003",
    ]
    assert connector.goods_totals(U8_ORDER) == [
        GoodsTotals(U8_ORDER, "BOLT-M8", Decimal(0), Decimal(0)),
        GoodsTotals(U8_ORDER, "FRAME-100", Decimal(0), Decimal(5)),
        GoodsTotals(U8_ORDER, "STEEL-10", Decimal("2.5"), Decimal(0)),
    ]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "from_account"),
        ({"from_account": "dev", "to_account": "", "app_key": "k", "app_secret": "s"}, "to_account"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "密钥", "app_secret": "s"}, "app_key"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "k", "app_secret": "  "}, "app_secret"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "k", "app_secret": "s", "idempotency": "none"}, "idempotency"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "k", "app_secret": "s", "key_field": "Memo Field"}, "key_field"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "k", "app_secret": "s", "ds_sequence": 0}, "ds_sequence"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "k", "app_secret": "s", "poll_seconds": 0}, "poll_seconds"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "k", "app_secret": "s", "poll_seconds": 61}, "poll_seconds"),
        ({"from_account": "dev", "to_account": "ent", "app_key": "k", "app_secret": "s", "warehouse_code": "仓库"}, "warehouse_code"),
    ],
)
def test_options_are_validated(options, field) -> None:
    assert field in U8Connector.validate_options(options)


def test_good_options_and_credentials_pass() -> None:
    options = {"from_account": "openapi_dev", "to_account": "openapi_ent", "app_key": "opa6fdd4bea98b95ad7", "app_secret": "s",
               "idempotency": "tradeid", "ds_sequence": 2, "warehouse_code": "01", "key_field": "define10", "poll_seconds": 2.5}
    assert U8Connector.validate_options(options) == {}
    assert U8Connector.validate_credentials(username="MES", password="", token="", options=options) == {}
    assert set(U8Connector.validate_credentials(username="", password="p", token="t", options=options)) == {"password", "token"}


@pytest.mark.django_db
def test_erp_connection_add_and_test_a_u8_connection(u8, capsys) -> None:
    credentials = u8.credentials
    call_command(
        "erp_connection", "add", "u8", "--kind", "u8", "--url", u8.service_url,
        *[argument for name, value in credentials.items() for argument in ("--option", f"{name}={value}")],
        "--option", "warehouse_code=01",
    )
    connection = ErpConnection.objects.get(name="u8")
    assert (connection.kind, connection.options["app_secret"]) == ("u8", credentials["app_secret"])

    call_command("erp_connection", "test", "u8")
    assert "u8: reachable" in capsys.readouterr().out

    with pytest.raises(CommandError, match="app_secret"):
        call_command("erp_connection", "add", "u8-bad", "--kind", "u8", "--url", u8.service_url, "--option", "from_account=dev")
    assert not ErpConnection.objects.filter(name="u8-bad").exists()


@pytest.mark.django_db
def test_the_api_saves_a_u8_connection_hiding_its_secret_and_refuses_a_bad_one(u8) -> None:
    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username='admin-u8', role='admin').key}")
    options = {**u8.credentials, "warehouse_code": "01"}

    saved = admin.put("/api/v1/erp-connections/u8", {"kind": "u8", "url": u8.service_url, "options": options}, format="json")
    tested = admin.post("/api/v1/erp-connections/u8/test")
    refused = admin.put(
        "/api/v1/erp-connections/u8-x", {"kind": "u8", "url": u8.service_url, "options": {**options, "app_secret": ""}}, format="json"
    )

    assert saved.status_code == 201, saved.content
    shown = saved.json()["options"]
    assert (shown["app_secret"], shown["app_key"], shown["from_account"]) == ("***", "***", u8.credentials["from_account"])
    assert ErpConnection.objects.get(name="u8").options["app_secret"] == u8.credentials["app_secret"]
    assert tested.status_code == 200 and tested.json()["reachable"] is True, tested.content
    assert refused.status_code == 422 and "options.app_secret" in refused.json()["error"]["fields"]
    assert list(ErpConnection.objects.values_list("name", flat=True)) == ["u8"]


def test_a_reference_another_erp_gave_is_looked_past_and_of_a_voucher_u8_lacks_nothing_is_sent(u8, connector: U8Connector) -> None:
    original = u8_confirmation()
    connector.post(original)
    connector.post(u8_confirmation())  # productin 0000000002
    # The connection was switched: the original's acknowledgement came from Kingdee, whose references look alike.
    switched = reversal_of(original, {"form": "PRD_MORPT", "id": 2, "code": "0000000002", "number": "SCHB00000002"})
    never_booked = reversal_of(u8_confirmation(), None)

    taken_back = connector.post(switched)
    nothing = connector.post(never_booked)

    assert (taken_back.outcome, taken_back.erp_document) == (Outcome.ACCEPTED, "productin/0000000003")
    assert u8.control.ledger()[-1]["cancels"] == "productin/0000000001"
    assert (nothing.outcome, nothing.erp_ref) == (Outcome.ACCEPTED, {"nothing_to_cancel": True})
    assert len(u8.control.ledger()) == 3


def test_with_an_audit_user_every_voucher_is_audited_and_one_left_unaudited_is_finished_not_added_again(u8) -> None:
    auditing = u8_connector(u8, audit_user="demo")
    unaudited = u8_connector(u8)  # as an attempt that stopped between the add and the audit
    posting, stopped = u8_confirmation(), u8_confirmation()

    posted = auditing.post(posting)
    unaudited.post(stopped)
    found = auditing.find(stopped)
    finished = auditing.post(stopped)
    again = auditing.post(stopped)

    assert (posted.outcome, posted.erp_document) == (Outcome.ACCEPTED, "productin/0000000001")
    assert found is None
    assert (finished.outcome, finished.erp_document) == (Outcome.ACCEPTED, "productin/0000000002")
    assert again.outcome == Outcome.DUPLICATE and auditing.find(stopped).outcome == Outcome.ACCEPTED
    vouchers = auditing._list("productin", {})
    assert [(voucher["code"], voucher["handler"]) for voucher in vouchers] == [("0000000001", "demo"), ("0000000002", "demo")]
    assert len(u8.control.ledger()) == 2
    auditing.close()
    unaudited.close()
