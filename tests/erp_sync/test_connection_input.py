"""ERP connections take what a plant here writes: Chinese user names go as UTF-8 Basic credentials
(RFC 7617); credentials and headers an ERP can only receive in a Latin-1 HTTP header are refused
when saved, naming the field, instead of failing later as a 500. The mapping preview answers any
body with a 4xx or a list of problems, never a 500."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from erp_sync.models import ErpConnection
from mes.models import Event
from mes.services.accounts import api_token_create
from simulators.erp import start_simulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username='admin-li', role='admin').key}")
    client.raise_request_exception = False  # a 500 must show up as a status, not as an exception
    return client


@pytest.mark.subprocess
def test_a_chinese_sap_user_is_sent_as_utf8_and_the_connection_test_passes(admin):
    with start_simulator("sap", args=("--user", "张三", "--password", "密码-4711")) as sap:
        saved = admin.put(
            "/api/v1/erp-connections/sap-cn",
            {"kind": "sap", "url": sap.service_url, "user": "张三", "password": "密码-4711"},
            format="json",
        )
        tested = admin.post("/api/v1/erp-connections/sap-cn/test")
        wrong = admin.put("/api/v1/erp-connections/sap-cn", {"kind": "sap", "url": sap.service_url, "user": "李四"}, format="json")
        refused = admin.post("/api/v1/erp-connections/sap-cn/test")

    assert saved.status_code == 201 and saved.json()["user"] == "张三"
    assert tested.status_code == 200, tested.content
    assert (tested.json()["reachable"], tested.json()["detail"]) == (True, "OData service answered")
    assert wrong.status_code == 200
    assert refused.status_code == 200 and refused.json()["reachable"] is False
    assert refused.json()["detail"].startswith("HTTP 401")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "erpnext", "token": "密钥:秘密"}, {"token"}),
        ({"kind": "erpnext", "user": "张三", "password": "secret"}, {"user"}),
        ({"kind": "odoo", "user": "张三", "password": "密码", "options": {"database": "mes"}}, {"password"}),
        ({"kind": "odoo", "token": "key\nX-Injected: 1", "options": {"database": "mes"}}, {"token"}),
        ({"kind": "rest", "token": "令牌", "options": {"auth": "bearer"}}, {"token"}),
    ],
)
def test_credentials_an_erp_takes_only_in_a_header_are_refused_naming_the_field(admin, body, fields):
    events = Event.objects.count()

    response = admin.put("/api/v1/erp-connections/erp-1", {"url": "http://127.0.0.1:1/erp", **body}, format="json")

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_credentials"
    assert set(error["fields"]) == fields
    assert all("HTTP header" in problem for problem in error["fields"].values())
    assert not ErpConnection.objects.exists()
    assert Event.objects.count() == events


def test_a_rest_connection_with_basic_auth_takes_a_chinese_user(admin):
    response = admin.put(
        "/api/v1/erp-connections/rest-1",
        {"kind": "rest", "url": "http://127.0.0.1:1/hook", "user": "张三", "password": "密码", "options": {"auth": "basic"}},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert ErpConnection.objects.get().username == "张三"


@pytest.mark.parametrize(
    ("kind", "headers", "problem"),
    [
        ("sap", {"APIKey": "密钥"}, "APIKey: It goes into an HTTP header, which carries Latin-1 text only"),
        ("sap", {"X-中文": "a"}, "'X-中文' is not a header name"),
        ("rest", {"X-Key": "a\r\nX-Evil: 1"}, "X-Key: It goes into an HTTP header, which cannot hold a line break."),
        ("rest", {"X Key": "a"}, "'X Key' is not a header name"),
    ],
)
def test_headers_that_http_cannot_carry_are_refused_when_saved(admin, kind, headers, problem):
    response = admin.put(
        "/api/v1/erp-connections/erp-1", {"kind": kind, "url": "http://127.0.0.1:1/erp", "options": {"headers": headers}}, format="json"
    )

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_options"
    assert error["fields"]["options.headers"].startswith(problem)
    assert not ErpConnection.objects.exists()


@pytest.mark.parametrize("time_zone", ["Not/AZone", "../../etc/passwd", "\\", "Asia/" + "X" * 80])
def test_mapping_preview_with_an_unknown_time_zone_is_400_naming_it(admin, time_zone):
    response = admin.post(
        "/api/v1/erp-connections/mapping-preview", {"mapping": {"qty": {"from": "good_qty"}}, "time_zone": time_zone}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_request"
    assert list(response.json()["error"]["fields"]) == ["time_zone"]


def _nested(depth: int) -> dict:
    return json.loads('{"a":' * depth + '{"from": "good_qty"}' + "}" * depth)


def test_a_mapping_nested_too_deeply_is_a_problem_not_a_500(admin):
    previewed = admin.post("/api/v1/erp-connections/mapping-preview", {"mapping": _nested(600)}, format="json")
    saved = admin.put(
        "/api/v1/erp-connections/rest-1",
        {"kind": "rest", "url": "http://127.0.0.1:1/hook", "options": {"mapping": _nested(600)}},
        format="json",
    )
    fine = admin.post("/api/v1/erp-connections/mapping-preview", {"mapping": _nested(30)}, format="json")

    assert previewed.status_code == 200, previewed.content
    assert previewed.json()["problems"] == {"": "A mapping may nest objects and lists 32 levels deep at most."}
    assert previewed.json()["body"] is None
    assert saved.status_code == 422 and saved.json()["error"]["code"] == "invalid_options"
    assert not ErpConnection.objects.exists()
    assert fine.status_code == 200 and fine.json()["problems"] == {}
