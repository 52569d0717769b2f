"""Trace in real Chromium: an operator scans a serial on /trace/ (typed, then Enter, as a scanner
sends it) and sees both trees without a reload; on a 390 px phone nothing overflows sideways, and
the field is ready for the next scan."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.genealogy import three_levels

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize(("width", "height", "locale"), [(390, 844, "en"), (1024, 768, "zh-CN"), (1920, 1080, "en")])
def test_an_operator_scans_a_serial_and_sees_both_trees(browser, live_server, width, height, locale):
    three_levels()
    person("op-zhao", "operator")
    context = new_context(browser, live_server, locale=locale, viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        sign_in(page, "op-zhao", "secret-pass-1")
        page.goto("/trace/")
        scan = page.locator("#scan")
        expect(scan).to_be_focused()
        page.evaluate("window.loadedOnce = true")

        page.keyboard.type("S-SUB-1")
        page.keyboard.press("Enter")

        backward = page.locator("section.backward ul.tree")
        forward = page.locator("section.forward ul.tree")
        expect(backward.locator('.lot[data-code="L-RAW-1"]')).to_be_visible()
        expect(forward.locator('.lot[data-code="S-FIN-1"]')).to_be_visible()
        expect(backward.locator('.lot[data-code="L-RAW-2"]')).to_have_count(0)
        assert page.evaluate("window.loadedOnce") is True  # the result came by htmx, no reload
        assert "code=S-SUB-1" in page.url
        expect(page.locator("a.order")).to_have_count(0)  # an operator may not open the planning pages
        assert page.evaluate(OVERFLOW) <= 0
        expect(scan).to_be_focused()
        screenshot(page, f"trace-{width}.png")

        page.keyboard.type("L-RAW-1")  # the next scan replaces the selected code
        page.keyboard.press("Enter")
        expect(page.locator('section.backward ul.tree > li > .lot[data-code="L-RAW-1"]')).to_be_visible()
        assert page.evaluate(OVERFLOW) <= 0
    finally:
        context.close()
