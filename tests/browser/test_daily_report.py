"""The daily report page in real Chromium on the day of ``tests/shopfloor/test_daily_report``: a
planner reaches it from the menu, picks the day, reads it in either language, and at 390, 1280 and
1920 px the page itself never overflows sideways (its wide table scrolls inside its box)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.shopfloor.test_daily_report import day  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize(
    ("width", "height", "locale", "title"),
    [(390, 844, "en", "Daily execution report"), (390, 844, "zh-CN", "生产日报"), (1280, 800, "en", "Daily execution report"),
     (1920, 1080, "zh-CN", "生产日报")],
)
def test_a_planner_picks_a_day_and_reads_the_report_at_any_width(browser, live_server, day, width, height, locale, title):  # noqa: F811
    person("plan-li", "planner")
    context = new_context(browser, live_server, locale=locale, viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        sign_in(page, "plan-li", "secret-pass-1")
        if width == 390:
            page.goto("/reports/daily/")
        else:
            page.locator("nav a[href='/reports/daily/']").click()
        page.fill("input[name=date]", "2026-11-16")
        page.select_option("select[name=line]", "L1")
        page.locator("form.filters button[type=submit]").click()
        page.wait_for_url("**/reports/daily/?date=2026-11-16&line=L1")
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator('table.daily-report tr[data-work-center="WC-PRESS"] .flag')).to_have_count(1)  # the bottleneck
        expect(page.locator("table.daily-report tr.total")).to_have_count(1)
        assert page.evaluate(OVERFLOW) <= 0
        screenshot(page, f"daily-report-{width}-{locale}.png")
    finally:
        context.close()
