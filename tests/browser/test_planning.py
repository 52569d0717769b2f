"""A planner in real Chromium: signs in, filters the list, releases an order, and sees an illegal
action refused inline next to it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from mes.models import WorkOrder
from tests.browser.conftest import person, screenshot, sign_in
from tests.factories import WorkOrderFactory
from tests.helpers import bring_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def orders(plant):
    for index, (status, due) in enumerate(
        [("planned", 3), ("planned", 5), ("released", 2), ("in_progress", 1), ("paused", 8), ("completed", 12), ("planned", 20)]
    ):
        number = f"WO-{5001 + index}"
        WorkOrderFactory(number=number, item=plant["item"], quantity=Decimal(10 * (index + 1)),
                         due_date=datetime.date(2030, 1, 1) + datetime.timedelta(days=due), priority=1 + index % 5)
        bring_to(number, status)


def test_a_planner_filters_releases_and_sees_an_illegal_action_refused_inline(page, orders):
    person("planner-li", "planner")
    sign_in(page, "planner-li", "secret-pass-1")
    page.get_by_role("link", name="Planning", exact=True).click()
    expect(page.locator("#orders tbody tr")).to_have_count(7)

    page.select_option("select[name=status]", "planned")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#orders tbody tr")).to_have_count(3)
    assert "status=planned" in page.url  # the filter is in the address, so it survives a reload
    page.get_by_label("select WO-5001").check()
    page.fill("#orders input[name=reason]", "material staged")
    screenshot(page, "planning-en.png")
    page.get_by_role("button", name="Release selected").click()
    expect(page.locator("#orders .outcome.ok")).to_have_text("1 work order is now released.")
    expect(page.locator("#orders tbody tr")).to_have_count(2)  # still filtered on planned
    assert WorkOrder.objects.get(number="WO-5001").status == "released"

    page.goto("/planning/orders/WO-5001/")
    page.get_by_role("button", name="Close").click()
    refusal = page.locator("#order .outcome.refusal")
    expect(refusal).to_contain_text("Cannot close work order WO-5001: it is released (allowed from: completed).")
    assert refusal.get_attribute("data-code") == "illegal_transition"
    assert WorkOrder.objects.get(number="WO-5001").status == "released"


def test_a_bulk_release_with_a_refused_order_changes_nothing(page, orders):
    person("planner-li", "planner")
    sign_in(page, "planner-li", "secret-pass-1")
    page.goto("/planning/")
    page.get_by_label("select WO-5001").check()
    page.get_by_label("select WO-5004").check()  # in progress

    page.get_by_role("button", name="Release selected").click()

    expect(page.locator("#orders .outcome.refusal")).to_contain_text("WO-5004: Cannot release work order WO-5004: it is in progress")
    assert WorkOrder.objects.get(number="WO-5001").status == "planned"
    expect(page.get_by_label("select WO-5001")).to_be_checked()
