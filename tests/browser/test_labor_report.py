"""The labor report's page in real Chromium on the clocked week of ``tests/shopfloor/test_labor_report``:
at 390, 1280 and 1920 px, in both languages, the page never overflows sideways (its tables scroll inside
themselves on a phone); the menu leads there and the CSV link downloads the report."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.shopfloor.test_labor_report import EVIL, clocked_week_make

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize(("width", "height", "locale"), [(390, 844, "en"), (390, 844, "zh-CN"), (1280, 800, "en"), (1920, 1080, "zh-CN")])
def test_a_supervisor_reads_and_downloads_the_labor_report_at_any_width(browser, live_server, plant, planned_order, width, height, locale):
    clocked_week_make(plant)
    person("sup-zhao", "supervisor")
    context = new_context(browser, live_server, locale=locale, viewport={"width": width, "height": height}, accept_downloads=True)
    try:
        page = context.new_page()
        sign_in(page, "sup-zhao", "secret-pass-1")
        page.goto("/")
        page.click("header nav a[href='/reports/labor/']")
        page.wait_for_url("**/reports/labor/")
        page.fill("input[name=from]", "2026-11-16")
        page.fill("input[name=to]", "2026-11-16")
        page.click("form.labor-period button")
        expect(page.locator("table.labor-rows tbody tr")).to_have_count(6)
        expect(page.locator("table.labor-operators tbody tr")).to_have_count(2)
        assert page.evaluate(OVERFLOW) <= 0
        screenshot(page, f"labor-report-{width}-{locale}.png")
        if width == 1280:
            with page.expect_download() as download:
                page.click("a.download[data-format=csv]")
            rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
            assert len(rows) == 6 and "'" + EVIL in {row["operator_name"] for row in rows}
    finally:
        context.close()
