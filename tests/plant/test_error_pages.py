"""403, 404 and 500 pages inside the site's layout, with its menu, in the reader's language; JSON under /api/."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.browser.conftest import person

pytestmark = pytest.mark.django_db


def _reader(role: str, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language, raise_request_exception=False)
    client.force_login(person(f"{role}-errors", role))
    return client


@pytest.mark.parametrize(("language", "lang", "title", "sentence"), [
    ("en", "en", "Page not found", "There is no page at /no-such-page/."),
    ("zh-hans", "zh-hans", "页面不存在", "没有位于 /no-such-page/ 的页面。"),
])
def test_a_missing_page_is_a_404_in_the_layout_and_the_readers_language(language, lang, title, sentence):
    response = _reader("planner", language).get("/no-such-page/")
    body = response.content.decode()

    assert response.status_code == 404
    assert f'<html lang="{lang}">' in body and f"<h1>{title}</h1>" in body and sentence in body
    assert '<header class="top">' in body and 'href="/planning/"' in body  # the menu is there
    assert "Not Found" not in body


@pytest.mark.parametrize(("language", "title", "sentence"), [
    ("en", "Not for your role", "Your role may not open this page or do this here."),
    ("zh-hans", "您的角色无权访问", "您的角色无权打开此页面或在此执行此操作。"),
])
def test_a_page_of_another_role_is_a_403_in_the_layout_and_the_readers_language(language, title, sentence):
    response = _reader("operator", language).get("/planning/")
    body = response.content.decode()

    assert response.status_code == 403
    assert f"<h1>{title}</h1>" in body and sentence in body
    assert 'href="/board/"' in body and 'href="/planning/"' not in body  # the operator's own menu
    assert "403 Forbidden" not in body


@pytest.mark.urls("tests.plant.error_urls")
@pytest.mark.parametrize(("language", "title"), [("en", "Something went wrong"), ("zh-hans", "出错了")])
def test_a_failing_page_is_a_500_in_the_layout_and_the_readers_language(language, title):
    response = _reader("supervisor", language).get("/fails/")
    body = response.content.decode()

    assert response.status_code == 500
    assert f"<h1>{title}</h1>" in body and '<header class="top">' in body and 'href="/board/"' in body
    assert "a fault for the test" not in body  # nothing of the error itself is shown


def test_the_api_still_answers_its_errors_as_json():
    response = _reader("planner", "zh-hans").get("/api/v1/no-such-resource")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("language", "sentence"), [
    ("en", "The request could not be understood."), ("zh-hans", "无法理解该请求。"),
])
def test_a_request_django_cannot_take_is_a_400_in_the_layout(settings, language, sentence):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5  # more fields than this: Django refuses the request (SuspiciousOperation → 400)
    client = _reader("planner", language)

    response = client.get("/planning/", {f"f{index}": "x" for index in range(10)})
    body = response.content.decode()

    assert response.status_code == 400 and sentence in body and '<header class="top">' in body


@pytest.mark.parametrize(("language", "title"), [("en", "The form has expired"), ("zh-hans", "表单已过期")])
def test_a_form_the_csrf_check_refuses_is_a_403_in_the_layout_saying_what_to_do(language, title):
    client = Client(HTTP_ACCEPT_LANGUAGE=language, enforce_csrf_checks=True)
    client.force_login(person(f"supervisor-csrf-{language}", "supervisor"))
    response = client.post("/andon/", {"call": "x", "action": "acknowledge"})
    body = response.content.decode()
    assert response.status_code == 403
    assert f"<h1>{title}</h1>" in body and '<header class="top">' in body
    assert "CSRF verification failed" not in body
    api = Client(enforce_csrf_checks=True)
    api.force_login(person(f"planner-csrf-{language}", "planner"))
    answer = api.post("/api/v1/work-orders/WO-1/release", {}, content_type="application/json")
    assert answer.status_code == 403 and answer.json()["error"]["code"] in ("csrf_failed", "forbidden")
