"""In a real browser: starting an operation shows the operator on the "clocked on" line, and the
clock-off action (button or ACT:CLOCKOFF scan) takes them off it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mes.models import LaborSession
from tests.browser.conftest import screenshot
from tests.browser.test_station import at_operation, expect_message, scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_start_clocks_the_operator_on_and_clock_off_takes_them_off(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    try:
        expect(page.locator("#op-clocked")).to_have_text("nobody")

        scan(page, "ACT:START")
        expect(page.locator("#op-clocked")).to_have_text("Li Wei B-1001")
        screenshot(page, "station-clocked-on.png")

        page.click("button[data-scan='ACT:CLOCKOFF']")
        expect_message(page, "Clocked off WO-1001 / 0010; the others on it work on.")
        expect(page.locator("#op-clocked")).to_have_text("nobody")
        assert list(LaborSession.objects.values_list("employee__badge", "end_reason")) == [("B-1001", "clock_off")]
    finally:
        context.close()
