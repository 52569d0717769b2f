"""The progress board in real Chromium: it follows new confirmations without a reload, and the
wall-screen mode has no navigation."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from erp_sync.models import OutboxMessage
from mes.services.work_orders import work_order_transition
from shopfloor.models import EquipmentState
from tests.browser.conftest import person, screenshot, sign_in
from tests.factories import EquipmentFactory, WorkCenterFactory, WorkOrderFactory
from tests.helpers import confirm

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLL_WAIT_MS = 15_000  # the board polls every 5 s


@pytest.fixture
def floor(plant):
    """Two lines with machines in every state and active orders ahead of, near and behind plan."""
    today = timezone.localdate()
    plant["centers"]["WC-PAINT"].line = "L2"
    plant["centers"]["WC-PAINT"].save(update_fields=["line"])
    for code, center, state in [("CUT-01", "WC-CUT", "run"), ("WELD-01", "WC-WELD", "down"), ("PAINT-01", "WC-PAINT", "idle")]:
        equipment = EquipmentFactory(code=code, name=code, work_center=plant["centers"][center])
        EquipmentState.objects.create(equipment=equipment, state=state, started_at=timezone.now() - datetime.timedelta(minutes=40))
    EquipmentFactory(code="WELD-02", name="WELD-02", work_center=plant["centers"]["WC-WELD"])
    WorkCenterFactory(code="WC-ASSY", line="L2")
    for number, quantity, due, good in [
        ("WO-6001", 100, -1, (95, 80, 40)),
        ("WO-6002", 50, -2, (30, 20, 0)),
        ("WO-6003", 200, 10, (20, 0, 0)),
    ]:
        WorkOrderFactory(number=number, item=plant["item"], quantity=Decimal(quantity), due_date=today + datetime.timedelta(days=due))
        work_order_transition(number=number, action="release")
        for sequence, value in zip((10, 20, 30), good):
            if value:
                confirm(number, sequence, good_qty=value)
    OutboxMessage.objects.filter(partition_key="WO-6001").update(state="acknowledged")
    OutboxMessage.objects.filter(partition_key="WO-6002", sequence=1).update(state="dead")


def test_the_board_follows_a_new_confirmation_without_a_reload(page, floor):
    person("lead-chen", "supervisor")
    sign_in(page, "lead-chen", "secret-pass-1")
    page.goto("/board/")
    cell = page.locator('section[data-line="L1"] tr[data-number="WO-6003"] .cell[data-sequence="10"] .good')
    expect(cell).to_have_text("20")
    expect(page.locator('section[data-line="L1"] tr[data-number="WO-6002"] .sync')).to_have_text("refused by the ERP")
    screenshot(page, "board-en.png")
    page.evaluate("window.loadedOnce = true")  # gone if the page were reloaded

    confirm("WO-6003", 10, good_qty=17)

    expect(cell).to_have_text("37", timeout=POLL_WAIT_MS)
    assert page.evaluate("window.loadedOnce") is True


def test_the_wall_screen_has_no_navigation_and_keeps_polling(page, floor):
    person("andon", "operator")
    sign_in(page, "andon", "secret-pass-1")
    page.goto("/board/?wall=1")

    expect(page.locator("body.wall #board")).to_be_visible()
    expect(page.locator("nav")).to_have_count(0)
    expect(page.locator("header")).to_have_count(0)
    expect(page.locator('li[data-equipment="WELD-02"]')).to_have_text("WELD-02 unknown")
    screenshot(page, "board-wall.png")

    confirm("WO-6001", 20, good_qty=5)

    expect(page.locator('tr[data-number="WO-6001"] .cell[data-sequence="20"] .good')).to_have_text("85", timeout=POLL_WAIT_MS)


# --- ways in and the wall screen (issue 14, defects 7 and 9) -----------------------------------


def test_a_planner_follows_the_links_from_the_board_to_the_order_its_journey_and_back(page, floor):
    person("planner-zhou", "planner")
    sign_in(page, "planner-zhou", "secret-pass-1")
    page.goto("/board/")

    page.locator('section[data-line="L1"] tr[data-number="WO-6003"] a', has_text="WO-6003").click()
    expect(page.locator("h1")).to_contain_text("Work order WO-6003")
    expect(page.locator("table.events tbody tr").first).not_to_contain_text("_")  # words, not codes
    page.locator("a.journey").first.click()
    expect(page.locator("h1")).to_contain_text("Message journey")
    expect(page.locator("table.journey")).to_contain_text("queued for the ERP")
    screenshot(page, "sync-journey-en.png")
    page.locator("h1 a.order").click()
    expect(page.locator("h1")).to_contain_text("Work order WO-6003")

    page.goto("/board/")
    page.locator('section[data-line="L1"] tr[data-number="WO-6002"] a', has_text="refused by the ERP").click()
    expect(page.locator('tr[data-state="dead"]')).to_have_count(1)
    page.locator('tr[data-state="dead"] a', has_text="journey of").click()
    expect(page.locator("[data-state=dead]").first).to_have_text("dead")

    page.goto("/board/")
    page.locator('li[data-equipment="CUT-01"] a').click()
    expect(page).to_have_url(re.compile(r"/oee/CUT-01/$"))

    page.goto("/sync/")
    page.locator('a[data-count="waiting"]').first.click()
    expect(page.locator("h1")).to_have_text("Messages to the ERP")
    rows = page.locator("table.messages tbody tr")
    expect(rows.first).to_be_visible()
    assert {row.get_attribute("data-state") for row in rows.all()} <= {"queued", "sending", "retrying"}
    screenshot(page, "sync-messages-en.png")
    rows.first.locator("a", has_text="journey of").click()
    expect(page.locator("h1")).to_contain_text("Message journey")


@pytest.mark.slow
def test_the_wall_screen_at_1920_by_1080_pages_through_every_line_and_shows_the_time(browser, live_server, floor, plant):
    from tests.browser.conftest import new_context

    today = timezone.localdate()
    for index in range(40):  # line L1 alone is taller than the screen
        number = f"WO-{6100 + index}"
        WorkOrderFactory(number=number, item=plant["item"], quantity=Decimal(10), due_date=today + datetime.timedelta(days=index))
        work_order_transition(number=number, action="release")
    person("andon", "operator")
    context = new_context(browser, live_server, viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    sign_in(page, "andon", "secret-pass-1")
    page.goto("/board/?wall=1&page_seconds=2")

    assert page.evaluate("document.documentElement.scrollHeight") > 1080 * 2  # more than two screens of it
    clock = page.locator("[data-clock]")
    expect(clock).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    first = clock.text_content()
    expect(clock).not_to_have_text(first, timeout=3_000)  # it ticks
    expect(page.locator("p.updated")).to_be_in_viewport()
    expect(page.locator("[data-wall-page]")).to_have_text(re.compile(r"^\d+ / [3-9]$"))
    for line in ("L1", "L2"):
        expect(page.locator(f'section[data-line="{line}"] h2')).to_be_in_viewport(timeout=30_000)
    expect(page.locator('section[data-line="L2"] tbody tr').last).to_be_in_viewport(timeout=30_000)
    expect(page.locator('section[data-line="L1"] tbody tr').last).to_be_in_viewport(timeout=30_000)
    expect(page.locator("[data-wall-line]")).to_have_text("Line L1")  # its heading is on an earlier page
    expect(clock).to_be_in_viewport()  # the bar stays while the board pages under it
    screenshot(page, "board-wall-1920.png")
    context.close()
