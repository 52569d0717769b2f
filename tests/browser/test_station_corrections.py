"""In a real browser: the operator reports, sees the report in "My reports this shift", and reverses it with a
reason within the window; a report older than the window asks for a supervisor, whose badge scan approves it."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mes.models import Confirmation, WorkOrderOperation
from mes.services.accounts import api_token_create
from tests.browser.conftest import screenshot
from tests.browser.test_station import at_operation, expect_message, scan
from tests.factories import EmployeeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_report_see_it_and_reverse_it_within_the_window(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    try:
        expect(page.locator("#my-reports")).to_be_visible()
        expect(page.locator("#my-reports-empty")).to_be_visible()
        scan(page, "QTY:4")
        scan(page, "ACT:REPORT")
        expect_message(page, "Reported 4 good on WO-1001 / 0010.")
        row = page.locator("#my-reports-rows tr").first
        expect(row).to_contain_text("WO-1001 / 0010 Cut")
        expect(row).to_contain_text("4 good")
        row.locator("button[data-correct]").click()
        expect_message(page, "Why is this report wrong? Tap a reason or scan RC:<reason>.", "warn")
        page.click("#offer button:has-text('Wrong quantity')")
        expect_message(page, "Your report on WO-1001 / 0010 is reversed. Report the right quantities again.")
        expect(page.locator("#my-reports-rows tr[data-reversed=true]")).to_have_count(1)
        expect(page.locator("#my-reports-rows button[data-correct]")).to_have_count(0)
        reversal = Confirmation.objects.get(kind=Confirmation.Kind.REVERSAL)
        assert reversal.note.startswith("Wrong quantity")
        assert WorkOrderOperation.objects.get(work_order=released_order, sequence=10).good_qty == 0
    finally:
        context.close()


def test_outside_the_window_the_station_asks_for_a_supervisor(browser, live_server, released_order):
    EmployeeFactory(badge="S-0001", name="Zhang Supervisor", user=api_token_create(username="zhang", role="supervisor").user)
    context, page = at_operation(browser, live_server)
    try:
        scan(page, "QTY:4")
        scan(page, "ACT:REPORT")
        expect_message(page, "Reported 4 good on WO-1001 / 0010.")
        Confirmation.objects.update(recorded_at=timezone.now() - datetime.timedelta(minutes=20))
        scan(page, "EMP:B-1001")  # signing in again reloads the list, now with an old report
        button = page.locator("#my-reports-rows button[data-correct]")
        expect(button).to_have_text("Correct (supervisor)")
        button.click()
        page.click("#offer button:has-text('Reported twice')")
        expect_message(page, "This report is 20 minutes old; after 5 minutes a supervisor approves a correction. Supervisor: scan your badge.", "warn")
        assert Confirmation.objects.filter(kind=Confirmation.Kind.REVERSAL).count() == 0
        scan(page, "EMP:S-0001")
        expect_message(page, "Your report on WO-1001 / 0010 is reversed. Report the right quantities again.")
        reversal = Confirmation.objects.get(kind=Confirmation.Kind.REVERSAL)
        assert reversal.recorded_by.username == "zhang"
        expect(page.locator("#operator")).to_have_text("Li Wei B-1001")  # the supervisor's badge did not sign them in
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1280, 1920])
def test_my_reports_fit_the_screen_in_chinese(browser, live_server, released_order, width):
    context, page = at_operation(browser, live_server, viewport={"width": width, "height": 900}, locale="zh-CN")
    try:
        scan(page, "QTY:4")
        scan(page, "ACT:REPORT")
        expect(page.locator("#my-reports-rows tr")).to_have_count(1)
        expect(page.locator("#my-reports-rows button[data-correct]")).to_have_text("更正")
        page.locator("#my-reports").scroll_into_view_if_needed()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = page.locator("#my-reports").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        screenshot(page, f"station-my-reports-{width}.png")
    finally:
        context.close()
