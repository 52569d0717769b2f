"""The simulated U8+ OpenAPI gateway as a client that is not our connector sees it: HTTP 200 with ``errcode``
for every answer, a token from ``/system/token`` and nothing without one, one add per trade id, exactly one of
``tradeid`` and ``biz_id``, an add answered with a url whose result comes later, a ``biz_id`` booked once, a red
voucher that must name its original, unreadable bodies answered rather than crashing the simulator."""

from __future__ import annotations

import time

import pytest
import requests

from tests.erp_sync.builders import simulator_fixtures

u8_process, u8 = simulator_fixtures("u8", token_ttl_s=7200.0, async_delay_ms=200, biz_id_dedupe="replay")

pytestmark = pytest.mark.subprocess

VOUCHER = {"warehousecode": "01", "memory": "k-1", "entry": [{"inventorycode": "FRAME", "quantity": 3, "mocode": "MO1", "define22": "10"}]}


def _get(simulator, path: str, **params) -> dict:
    answer = requests.get(simulator.base_url + path, params=params, timeout=5)
    assert answer.status_code == 200
    return answer.json()


def _access(simulator) -> dict[str, str]:
    credentials = simulator.credentials
    token = _get(simulator, "/system/token", from_account=credentials["from_account"], app_key=credentials["app_key"],
                 app_secret=credentials["app_secret"])
    assert token["errcode"] == "0" and token["token"]["expiresIn"] == 7200
    return {"from_account": credentials["from_account"], "to_account": credentials["to_account"], "app_key": credentials["app_key"],
            "token": token["token"]["id"]}


def _add(simulator, access: dict[str, str], body, **params) -> dict:
    data = body if isinstance(body, bytes) else None
    answer = requests.post(
        simulator.base_url + "/api/productin/add", params={**access, **params}, json=None if data else body, data=data, timeout=5
    )
    assert answer.status_code == 200
    return answer.json()


def _result(url: str) -> dict:
    deadline = time.monotonic() + 5
    while True:
        result = requests.get(url, timeout=5).json()
        if result.get("id") or result["errcode"] != "0" or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_nothing_is_served_without_a_token_and_a_wrong_secret_gets_none(u8) -> None:
    credentials = u8.credentials
    refused = _get(u8, "/system/token", from_account=credentials["from_account"], app_key=credentials["app_key"], app_secret="x")
    listed = _get(u8, "/api/productinlist/batch_get", from_account=credentials["from_account"], to_account=credentials["to_account"],
                  app_key=credentials["app_key"], token="made-up")

    assert (refused["errcode"], "token" in refused) == ("10002", False)
    assert (listed["errcode"], listed["errmsg"]) == ("20001", "token无效或已过期")


def test_an_add_is_answered_with_a_url_whose_result_comes_later(u8) -> None:
    access = _access(u8)
    trade = _get(u8, "/system/tradeid", **{key: access[key] for key in ("from_account", "app_key", "token")})["trade"]["id"]

    added = _add(u8, access, {"productin": VOUCHER}, tradeid=trade)
    early = requests.get(added["url"], timeout=5).json()
    done = _result(added["url"])
    reused = _add(u8, access, {"productin": VOUCHER}, tradeid=trade)

    assert (added["errcode"], added["tradeid"]) == ("0", trade) and "/result?requestid=" in added["url"]
    assert (early["errcode"], "id" in early) == ("0", False)
    assert (done["errcode"], done["code"], done["tradeid"]) == ("0", "0000000001", trade)
    assert reused["errcode"] == "30002"
    [entry] = u8.control.ledger()
    assert (entry["action"], entry["key"], entry["order"], entry["operation"], entry["yield_qty"]) == ("post", "k-1", "MO1", "10", "3")


def test_a_biz_id_is_booked_once_and_tradeid_with_biz_id_is_refused(u8) -> None:
    access = _access(u8)

    first = _add(u8, access, {"productin": VOUCHER}, biz_id="B-1")
    second = _add(u8, access, {"productin": VOUCHER}, biz_id="B-1")
    both = _add(u8, access, {"productin": VOUCHER}, biz_id="B-2", tradeid="t")
    neither = _add(u8, access, {"productin": VOUCHER})

    assert second["url"] == first["url"] and _result(second["url"])["code"] == "0000000001"
    assert both["errcode"] == neither["errcode"] == "30001"
    assert len(u8.control.ledger()) == 1
    u8.control.set_config(biz_id_dedupe="off")  # a gateway that books every add
    _result(_add(u8, access, {"productin": VOUCHER}, biz_id="B-1")["url"])
    assert len(u8.control.ledger()) == 2


def test_a_red_voucher_must_name_an_original_and_takes_it_back(u8) -> None:
    access = _access(u8)
    _result(_add(u8, access, {"productin": VOUCHER}, biz_id="B-1")["url"])
    red_rows = [{**VOUCHER["entry"][0], "quantity": -3}]

    unnamed = _result(_add(u8, access, {"productin": {**VOUCHER, "memory": "k-2", "entry": red_rows}}, biz_id="B-2")["url"])
    unknown = _result(_add(u8, access, {"productin": {**VOUCHER, "memory": "k-3", "define1": "0000000099", "entry": red_rows}},
                           biz_id="B-3")["url"])
    red = _result(_add(u8, access, {"productin": {**VOUCHER, "memory": "k-4", "define1": "0000000001", "entry": red_rows}},
                       biz_id="B-4")["url"])

    assert unnamed["errcode"] == "30001" and "define1" in unnamed["errmsg"]
    assert (unknown["errcode"], unknown["errmsg"]) == ("40004", "原单0000000099不存在")
    assert red["code"] == "0000000002"
    cancel = u8.control.ledger()[-1]
    assert (cancel["action"], cancel["key"], cancel["cancels"], cancel["cancels_key"], cancel["yield_qty"]) == (
        "cancel", "k-4", "productin/0000000001", "k-1", "-3",
    )


def test_lists_filter_by_a_header_field_or_the_rows_order_and_page(u8) -> None:
    access = _access(u8)
    for index in range(3):
        _result(_add(u8, access, {"productin": {**VOUCHER, "memory": f"k-{index}"}}, biz_id=f"B-{index}")["url"])

    by_key = _get(u8, "/api/productinlist/batch_get", **access, memory="k-1")
    by_order = _get(u8, "/api/productinlist/batch_get", **access, mocode="MO1", page_index=2, rows_per_page=2)
    one = _get(u8, "/api/productin/get", **access, id="0000000003")

    assert [voucher["code"] for voucher in by_key["productinlist"]] == ["0000000002"]
    assert (by_order["row_count"], by_order["page_count"], [v["memory"] for v in by_order["productinlist"]]) == (3, 2, ["k-2"])
    assert one["productin"]["entry"][0]["quantity"] == 3.0


def test_an_unreadable_body_is_a_parameter_error_not_a_crash(u8) -> None:
    access = _access(u8)

    broken = _add(u8, access, b"{not json", biz_id="B-1")
    no_rows = _add(u8, access, {"productin": {"warehousecode": "01", "entry": []}}, biz_id="B-2")

    assert broken["errcode"] == no_rows["errcode"] == "30001"
    assert "simulator_errors" not in u8.control.health()["counters"]
    assert u8.control.ledger() == []


def test_a_voucher_is_audited_once(u8) -> None:
    access = _access(u8)
    _result(_add(u8, access, {"productin": VOUCHER}, biz_id="B-1")["url"])

    def audit(code: str) -> dict:
        body = {"productin": {"voucher_code": code, "user_id": "demo", "opinion": "ok", "agree": 1}}
        return requests.post(u8.base_url + "/api/productin/audit", params=access, json=body, timeout=5).json()

    first, second, missing = audit("0000000001"), audit("0000000001"), audit("0000000009")

    assert first["errcode"] == "0"
    assert (second["errcode"], second["errmsg"]) == ("30010", "单据0000000001已审核")
    assert missing["errcode"] == "40004"
    assert _get(u8, "/api/productin/get", **access, id="0000000001")["productin"]["handler"] == "demo"
    assert len(u8.control.ledger()) == 1
