"""The sign-in page in a real browser, in both languages."""

from __future__ import annotations

import pytest

from tests.browser.conftest import new_context, person, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_planner_signs_in_and_sees_the_home_page(page):
    person("planner-li", "planner")
    sign_in(page, "planner-li", "secret-pass-1")
    assert "/accounts/login/" not in page.url
    assert page.locator("form[action$='/accounts/logout/'] button").is_visible()


def test_a_wrong_password_is_refused_with_a_message(page):
    person("planner-li", "planner")
    sign_in(page, "planner-li", "wrong")
    assert page.locator(".error").inner_text() == "Your user name and password did not match. Please try again."


def test_the_browser_language_chooses_chinese(browser, live_server):
    context = new_context(browser, live_server, locale="zh-CN")
    try:
        page = context.new_page()
        response = page.goto("/accounts/login/")
        assert response.status == 200
        assert page.locator("h1").inner_text() == "登录"
        assert page.locator("html").get_attribute("lang") == "zh-hans"
    finally:
        context.close()
