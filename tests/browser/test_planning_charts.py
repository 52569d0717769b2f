"""The load chart and the Gantt in real Chromium on the scenario of ``tests/shopfloor/test_planning``
(WO-4 released too, so WC-A's Monday is overloaded): on a 390 px phone the charts scroll inside their
box and the page itself never overflows sideways; at 1920 px a Gantt bar opens its order."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mes.services.work_orders import work_order_transition
from shopfloor.planning.services import schedule_refresh
from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.shopfloor.test_planning import overloading_order, scenario  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
BOX_SCROLLS = "[...document.querySelectorAll('.chart-box')].map(box => box.scrollWidth - box.clientWidth)"


@pytest.mark.parametrize(("width", "height", "locale"), [(390, 844, "en"), (390, 844, "zh-CN"), (1280, 800, "en"), (1920, 1080, "zh-CN")])
def test_a_planner_reads_the_load_and_the_gantt_at_any_width(browser, live_server, overloading_order, width, height, locale):  # noqa: F811
    work_order_transition(number="WO-4", action="release")
    schedule_refresh()
    person("plan-li", "planner")
    context = new_context(browser, live_server, locale=locale, viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        sign_in(page, "plan-li", "secret-pass-1")
        page.goto("/planning/")
        page.click("p.plan-links a[href='/planning/load/']")
        expect(page.locator("svg.load-chart")).to_have_count(2)
        expect(page.locator('section[data-work-center="WC-A"] svg rect.load.overloaded')).to_have_count(1)
        assert page.evaluate(OVERFLOW) <= 0
        if width == 390:
            assert all(extra > 0 for extra in page.evaluate(BOX_SCROLLS))  # the chart scrolls inside its box
        screenshot(page, f"planning-load-{width}-{locale}.png")

        page.click("p.plan-links a[href='/planning/gantt/']")
        expect(page.locator("svg.gantt a.bar-link")).to_have_count(7)
        expect(page.locator("svg.gantt rect.op.late")).to_have_count(3)  # WO-2's two operations and WO-4's
        expect(page.locator("svg.gantt line.now-line")).to_have_count(1)
        assert page.evaluate(OVERFLOW) <= 0
        screenshot(page, f"planning-gantt-{width}-{locale}.png")
        if width == 1920:
            page.locator('svg.gantt a.bar-link[data-number="WO-3"][data-sequence="10"]').click()
            page.wait_for_url("**/planning/orders/WO-3/")
            expect(page.locator("h1")).to_contain_text("WO-3")
    finally:
        context.close()
