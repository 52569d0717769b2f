"""The simulated Kingdee K/3 Cloud as a client that is not our connector sees it: every answer HTTP 200 with
``Result.ResponseStatus``, a call without a session refused as a lost session, a stale signature refused,
audited bills not deletable, failed queries wrapped as ``[[{"Result": …}]]``, unreadable bodies answered
rather than crashing the simulator."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from simulators.erp.kingdee import decode_app_secret, hmac_hex_base64, signature_message
from tests.erp_sync.builders import simulator_fixtures

kingdee_process, kingdee = simulator_fixtures("kingdee", session_ttl_s=1200.0)

pytestmark = pytest.mark.subprocess

SERVICE = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.{}.common.kdsvc"
REPORT = {
    "FID": 0, "FBillType": {"FNUMBER": "SCHBD02_SYS"}, "FDate": "2026-01-06", "FPrdOrgId": {"FNumber": "100"},
    "FWorkshipIdH": {"FNumber": "WS01"},
    "FEntity": [{"FMoBillNo": "MO1", "FMaterialId": {"FNumber": "D24"}, "FFinishQty": 3, "FQuaQty": 2, "FFailQty": 1, "FDescriptionE": "k-1"}],
}


def _call(simulator, service: str, body, *, session: requests.Session | None = None, headers=None) -> requests.Response:
    client = session or requests
    data = body if isinstance(body, bytes) else None
    return client.post(simulator.base_url + SERVICE.format(service), json=None if data else body, data=data, headers=headers, timeout=5)


def _status(answer) -> dict:
    return answer["Result"]["ResponseStatus"]


def _logged_in(simulator) -> requests.Session:
    session = requests.Session()
    credentials = simulator.credentials
    answer = _call(simulator, "AuthService.ValidateUser", {
        "acctID": credentials["acct_id"], "username": credentials["user"], "password": credentials["password"], "lcid": 2052,
    }, session=session)
    assert answer.status_code == 200 and answer.json()["LoginResultType"] == 1
    assert session.cookies.get("kdservice-sessionid") == answer.json()["KDSVCSessionId"]
    return session


def test_a_call_without_a_session_is_refused_as_a_lost_session_with_http_200(kingdee) -> None:
    answer = _call(kingdee, "DynamicFormService.Save", {"formid": "PRD_MORPT", "data": {"Model": REPORT}})

    assert answer.status_code == 200
    status = _status(answer.json())
    assert (status["IsSuccess"], status["MsgCode"], status["Errors"][0]["Message"]) == (False, 1, "会话信息已丢失，请重新登录")
    assert kingdee.control.ledger() == []


def test_save_submit_audit_then_delete_is_refused_until_unaudited(kingdee) -> None:
    session = _logged_in(kingdee)
    saved = _call(kingdee, "DynamicFormService.Save", {"formid": "PRD_MORPT", "data": {"Model": REPORT}}, session=session).json()
    number = saved["Result"]["Number"]
    for step in ("Submit", "Audit"):
        assert _status(_call(kingdee, f"DynamicFormService.{step}", {"formid": "PRD_MORPT", "data": {"Numbers": [number]}}, session=session).json())["IsSuccess"]

    refused = _call(kingdee, "DynamicFormService.Delete", {"formid": "PRD_MORPT", "data": {"Ids": str(saved["Result"]["Id"])}}, session=session).json()
    _call(kingdee, "DynamicFormService.UnAudit", {"formid": "PRD_MORPT", "data": {"Numbers": [number]}}, session=session)
    deleted = _call(kingdee, "DynamicFormService.Delete", {"formid": "PRD_MORPT", "data": {"Numbers": [number]}}, session=session).json()

    assert (_status(refused)["IsSuccess"], _status(refused)["MsgCode"]) == (False, 12)
    assert _status(deleted)["SuccessEntitys"] == [{"Id": saved["Result"]["Id"], "Number": number, "DIndex": 0}]
    assert [(entry["action"], entry["key"], entry["cancels_key"]) for entry in kingdee.control.ledger()] == [
        ("post", "k-1", None), ("cancel", None, "k-1"),
    ]


def test_queries_answer_rows_and_wrap_a_failure(kingdee) -> None:
    session = _logged_in(kingdee)
    _call(kingdee, "DynamicFormService.Save", {"formid": "PRD_MORPT", "data": {"Model": REPORT}}, session=session)
    query = {"FormId": "PRD_MORPT", "FieldKeys": "FBillNo,FMaterialId.FNumber,FQuaQty", "FilterString": "FDescriptionE='k-1' and FMoBillNo in ('MO1','MO2')"}

    rows = _call(kingdee, "DynamicFormService.ExecuteBillQuery", {"data": query}, session=session).json()
    failed = _call(kingdee, "DynamicFormService.ExecuteBillQuery", {"data": {**query, "FieldKeys": "FNoSuchField"}}, session=session).json()

    assert rows == [["SCHB00000001", "D24", 2.0]]
    assert _status(failed[0][0])["IsSuccess"] is False and "FNoSuchField" in _status(failed[0][0])["Errors"][0]["Message"]


def test_an_unreadable_body_is_a_parameter_error_not_a_crash(kingdee) -> None:
    session = _logged_in(kingdee)

    answer = _call(kingdee, "DynamicFormService.Save", b"{not json", session=session)
    bad_filter = _call(kingdee, "DynamicFormService.ExecuteBillQuery", {"data": {"FormId": "PRD_MORPT", "FieldKeys": "FID", "FilterString": "FID >"}}, session=session)

    assert answer.status_code == 200 and _status(answer.json())["MsgCode"] == 8
    assert bad_filter.status_code == 200 and _status(bad_filter.json()[0][0])["MsgCode"] == 8
    assert "simulator_errors" not in kingdee.control.health()["counters"]


def test_a_signature_older_than_five_minutes_is_refused(kingdee) -> None:
    credentials = kingdee.credentials
    app_id = credentials["app_id"]
    client_id, _, encoded = app_id.partition("_")
    path = SERVICE.format("DynamicFormService.ExecuteBillQuery")
    app_data = f"{credentials['acct_id']},{credentials['user']},2052,0"

    def headers(moment: int) -> dict[str, str]:
        stamp = str(moment)
        return {
            "X-Api-ClientID": client_id, "X-Api-Auth-Version": "2.0", "x-api-timestamp": stamp, "x-api-nonce": stamp,
            "x-api-signheaders": "x-api-timestamp,x-api-nonce",
            "X-Api-Signature": hmac_hex_base64(signature_message(path, stamp, stamp), decode_app_secret(encoded)),
            "X-Kd-Appkey": app_id, "X-Kd-Appdata": base64.b64encode(app_data.encode()).decode(),
            "X-Kd-Signature": hmac_hex_base64(app_id + app_data, credentials["app_secret"]),
        }

    query = {"data": {"FormId": "PRD_MORPT", "FieldKeys": "FID"}}
    fresh = _call(kingdee, "DynamicFormService.ExecuteBillQuery", query, headers=headers(int(time.time())))
    stale = _call(kingdee, "DynamicFormService.ExecuteBillQuery", query, headers=headers(int(time.time()) - 400))

    assert fresh.json() == [] and "kdservice-sessionid" in fresh.cookies
    assert _status(stale.json()[0][0])["MsgCode"] == 2 and "x-api-timestamp" in _status(stale.json()[0][0])["Errors"][0]["Message"]
