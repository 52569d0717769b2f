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
    expect(page.get_by_role("button", name="Close")).to_have_count(0)  # not offered while the order is only released
    expect(page.get_by_role("button", name="Cancel…")).to_be_visible()


def test_cancelling_asks_for_confirmation_and_a_reason_and_keeping_it_changes_nothing(page, orders):
    person("planner-li", "planner")
    sign_in(page, "planner-li", "secret-pass-1")
    page.goto("/planning/orders/WO-5005/")  # paused
    expect(page.locator("#order button[name=action]")).to_have_count(2)  # resume and cancel, nothing greyed

    page.get_by_role("button", name="Cancel…").click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text("Cancel WO-5005? What was reported stays, but nothing more can be made on it.")
    assert WorkOrder.objects.get(number="WO-5005").status == "paused"
    page.get_by_role("link", name="No, keep it as it is").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    assert WorkOrder.objects.get(number="WO-5005").status == "paused"

    page.get_by_role("button", name="Cancel…").click()
    page.get_by_role("button", name="Yes, cancel the order").click()  # no reason yet: the browser holds it back
    assert page.locator("input[name=reason]:invalid").count() == 1
    assert WorkOrder.objects.get(number="WO-5005").status == "paused"
    page.get_by_label("Reason (required)").fill("customer withdrew the order")
    page.get_by_role("button", name="Yes, cancel the order").click()
    expect(page.locator(".outcome.ok, p.success")).to_contain_text("WO-5005 is now cancelled.")
    assert WorkOrder.objects.get(number="WO-5005").status == "cancelled"
    expect(page.locator("#order button[name=action]")).to_have_count(0)


def test_pausing_in_chinese_asks_in_chinese(browser, live_server, orders):
    from tests.browser.conftest import new_context

    person("planner-li", "planner")
    context = new_context(browser, live_server, locale="zh-CN")
    page = context.new_page()
    sign_in(page, "planner-li", "secret-pass-1")
    page.goto("/planning/orders/WO-5004/")  # in progress

    page.get_by_role("button", name="暂停…").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("暂停 WO-5004？")
    screenshot(page, "planning-confirm-zh.png")
    page.get_by_label("原因（必填）").fill("换模")
    page.get_by_role("button", name="是，暂停该工单").click()
    expect(page.locator("#order .outcome.ok")).to_contain_text("WO-5004")
    assert WorkOrder.objects.get(number="WO-5004").status == "paused"
    context.close()


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
