"""The pull journal in real Chromium at a phone's, a laptop's and a wall's width, in both languages: the page never
overflows sideways (its wide table scrolls inside itself), a refused record is readable, and while a run is running
the table asks again on its own until the run has finished."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from erp_sync.models import PullRefusal, PullRun
from erp_sync.services import erp_connection_upsert
from tests.browser.conftest import new_context, person, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize(("width", "height", "locale"), [(390, 844, "en"), (1280, 800, "zh-CN"), (1920, 1080, "en")])
def test_the_journal_fits_each_width_and_follows_a_running_pull(browser, live_server, width, height, locale):
    erp_connection_upsert(name="plant-sap", kind="sap", base_url="https://sap.example.com/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV",
                          username="U", password="P", options={"pull_orders": True})
    finished = PullRun.objects.create(connection="plant-sap", state=PullRun.State.FINISHED, finished_at=timezone.now(), orders_read=3,
                                      orders_created=2, orders_refused=1, high_water_mark="20301201080000")
    PullRefusal.objects.create(run=finished, erp_key="4799", code="unknown_item", message="No item with key 'NO-SUCH-ITEM' exists.")
    running = PullRun.objects.create(connection="plant-sap", since="20301201080000")
    person("planner-li", "planner")
    context = new_context(browser, live_server, locale=locale, viewport={"width": width, "height": height})
    page = context.new_page()
    sign_in(page, "planner-li", "secret-pass-1")

    page.goto("/sync/pulls/")

    expect(page.locator(f"#pull-{finished.pk} li[data-key='4799']")).to_contain_text("unknown_item")
    assert page.evaluate(OVERFLOW) <= 0
    page.evaluate("window.sameDocument = true")
    running.state, running.finished_at, running.high_water_mark = PullRun.State.FINISHED, timezone.now(), "20301201090000"
    running.save()
    expect(page.locator(f"#pull-{running.pk}")).to_have_attribute("data-state", "finished", timeout=10_000)
    assert page.evaluate("window.sameDocument") is True  # the table was asked for again, the page not reloaded
    expect(page.locator("#pull-table[hx-trigger]")).to_have_count(0)  # nothing running: it stops asking
    screenshot(page, f"pull-journal-{width}.png")
    context.close()
