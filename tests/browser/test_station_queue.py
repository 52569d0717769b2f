"""The station's work queue in Chromium: what waits at the work center in the planner's order, each row one tap
from being open, as if its traveler had been scanned."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from mes.services.work_orders import work_order_transition
from tests.browser.test_station import at_operation, expect_message, scan
from tests.factories import WorkOrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_tap_on_the_queue_opens_the_next_operation_like_a_scan(browser, live_server, released_order, plant):
    for number, priority, due in (("WO-A", 1, datetime.date(2030, 2, 10)), ("WO-C", 1, datetime.date(2030, 1, 1))):
        WorkOrderFactory(number=number, item=plant["item"], quantity=Decimal("10"), priority=priority, due_date=due)
        work_order_transition(number=number, action="release")
    context, page = at_operation(browser, live_server)
    try:
        rows = page.locator("#queue ol.queue button")
        expect(rows).to_have_count(3)
        expect(rows.locator(".what strong")).to_have_text(["WO-C / 0010", "WO-A / 0010", "WO-1001 / 0010"])
        expect(rows.nth(2)).to_have_attribute("aria-current", "true")  # WO-1001 / 10 is open
        scan(page, "QTY:2")

        rows.nth(1).click()
        expect_message(page, "Opened WO-A / 0010: Cut.")
        expect(page.locator("#op-title")).to_have_text("WO-A / 0010 · Cut")
        expect(page.locator("#entry-good")).to_have_text("–")  # what was entered for WO-1001 is not carried over
        expect(rows.nth(1)).to_have_attribute("aria-current", "true")
        expect(rows.nth(2)).not_to_have_attribute("aria-current", "true")
        assert page.evaluate("document.activeElement.id") == "scan"

        scan(page, "QTY:4")
        scan(page, "ACT:REPORT")
        expect_message(page, "Reported 4 good on WO-A / 0010.")
        expect(rows.nth(1)).to_contain_text("6 PCS to make")  # the queue is refreshed after a report
        expect(rows.nth(1)).to_have_attribute("aria-current", "true")
    finally:
        context.close()
