"""The operator station in real Chromium: badge, traveler, quantity, report; a refusal that keeps
what was entered; three reports made offline, the page reloaded offline, all sent exactly once
when the connection returns; and no English left on a Chinese tablet."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone, translation
from playwright.sync_api import expect

from mes.models import Confirmation, Employee, Item, ReasonCode, WorkCenter, WorkOrderOperation
from shopfloor.models import EquipmentState, Station
from shopfloor.station.access import COOKIE
from shopfloor.station.services import station_create
from shopfloor.station.text import station_text
from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.conftest import persona
from tests.factories import EquipmentFactory, ReasonCodeFactory
from tests.helpers import confirm

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLOW = 30_000  # reconnecting waits for the station's next try


def become_station(context, live_server, work_center: str = "WC-CUT") -> Station:
    station, secret = station_create(work_center_code=work_center)
    context.add_cookies([{"name": COOKIE, "value": secret, "url": f"{live_server.url}/station/"}])
    return station


def open_station(page):
    page.goto("/station/")
    page.wait_for_selector("body[data-ready=true]")


def scan(page, code: str) -> None:
    """What a keyboard-wedge scanner does: type into whatever has focus, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def at_operation(browser, live_server, **options):
    """A fresh tablet of WC-CUT with B-1001 signed in and WO-1001/10 open: (context, page)."""
    context = new_context(browser, live_server, **options)
    become_station(context, live_server)
    page = context.new_page()
    open_station(page)
    scan(page, "EMP:B-1001")
    expect(page.locator("#operator")).to_have_attribute("data-signed-in", "true")
    scan(page, "WO:WO-1001/10")
    expect(page.locator("#op-title")).to_contain_text("WO-1001 / 0010")
    return context, page


def expect_message(page, text: str, kind: str = "ok") -> None:
    message = page.locator("#message")
    expect(message).to_have_text(text)
    expect(message).to_have_attribute("data-kind", kind)


def test_badge_traveler_quantity_report_reaches_the_api(browser, live_server, released_order):
    context = new_context(browser, live_server)
    try:
        out = io.StringIO()
        call_command("create_station_link", "WC-CUT", "--base-url", live_server.url, stdout=out, stderr=io.StringIO())
        page = context.new_page()
        page.goto(out.getvalue().strip())
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready=true]")
        assert page.evaluate("document.activeElement.id") == "scan"

        scan(page, "EMP:B-1001")
        expect_message(page, "Signed in: Li Wei (B-1001).")
        expect(page.locator("#operator")).to_have_text("Li Wei B-1001")
        scan(page, "WO:WO-1001/10")
        expect_message(page, "Opened WO-1001 / 0010: Cut.")
        expect(page.locator("#op-remaining")).to_have_text("10")
        scan(page, "QTY:5")
        expect_message(page, "Good quantity 5.")
        page.click("button[data-scan='ACT:REPORT']")  # a tap works like the scan, and the scan field keeps focus
        expect_message(page, "Reported 5 good on WO-1001 / 0010.")
        assert page.evaluate("document.activeElement.id") == "scan"
        expect(page.locator("#op-remaining")).to_have_text("5")
        expect(page.locator("#entry-good")).to_have_text("–")
        expect(page.locator("#recent tr[data-erp-state]")).to_have_count(1)

        api = persona("reader", "operator").get("/api/v1/work-orders/WO-1001")
        assert api.json()["operations"][0]["good_qty"] == 5
        manager = new_context(browser, live_server)
        try:
            person("manager-zhao", "supervisor")
            board = manager.new_page()
            sign_in(board, "manager-zhao", "secret-pass-1")
            board.goto("/board/")
            expect(board.locator('tr[data-number="WO-1001"] .cell[data-sequence="10"] .good')).to_have_text("5")
        finally:
            manager.close()
        confirmation = Confirmation.objects.get()
        assert (confirmation.station, confirmation.operator.badge) == ("WC-CUT-1", "B-1001")

        scan(page, "LOT:ST-77")
        scan(page, "2")  # plain digits are a good quantity
        expect_message(page, "Good quantity 2.")
        screenshot(page, "station-en.png")
    finally:
        context.close()


def test_a_refused_report_says_why_and_keeps_what_was_entered(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    try:
        scan(page, "QTY:11")
        scan(page, "ACT:REPORT")
        expect_message(
            page,
            "Operation 0010 can take at most 10 more: 10 available from the previous step, 0 already reported, 11 asked.",
            "refused",
        )
        expect(page.locator("#entry-good")).to_have_text("11")

        scan(page, "QTY:9")
        scan(page, "SCRAP:1")
        scan(page, "ACT:FINISH")
        expect_message(page, "1 scrap needs a reason: scan or tap a reason (RC:…), or take the quantity back with SCRAP:0 / REWORK:0 or Clear.", "refused")
        expect(page.locator("#entry-scrap")).to_have_text("1")
        scan(page, "RC:PAUSE-01")
        expect_message(page, "Pause reason PAUSE-01: Break. Scan ACT:PAUSE to pause.")
        scan(page, "RC:SCRAP-01")
        scan(page, "ACT:FINISH")
        expect_message(page, "Final report: 9 good · 1 scrap on WO-1001 / 0010; the operation is done.")
        assert Confirmation.objects.get().scrap_qty == 1
        assert WorkOrderOperation.objects.get(work_order=released_order, sequence=10).status == "completed"

        scan(page, "HELLO:1")
        expect_message(page, "HELLO:1 is not a station code.", "refused")
        assert Confirmation.objects.count() == 1
    finally:
        context.close()


def test_a_refused_scrap_says_what_to_scan_next_and_clear_or_a_new_scan_of_the_order_resets_it(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    reasons = page.locator("details.reasons")
    try:
        expect(reasons).not_to_have_attribute("open", "")
        scan(page, "SCRAP:2")
        scan(page, "ACT:REPORT")
        refusal = "2 scrap needs a reason: scan or tap a reason (RC:…), or take the quantity back with SCRAP:0 / REWORK:0 or Clear."
        expect_message(page, refusal, "refused")
        # What to do next is offered at the refusal, and the reason list is unfolded.
        offer = page.locator("#offer button")
        expect(offer).to_have_text(["SCRAP-01 Material defect", "No scrap (SCRAP:0)", "Clear this report"])
        expect(reasons).to_have_attribute("open", "")
        # A good quantity keeps the scrap entered, so the same refusal, still with its way out.
        scan(page, "QTY:3")
        scan(page, "ACT:REPORT")
        expect_message(page, refusal, "refused")
        scan(page, "ACT:FINISH")
        expect_message(page, refusal, "refused")
        expect(offer).to_have_count(3)

        # Scanning the order again starts a fresh report.
        scan(page, "WO:WO-1001/10")
        expect_message(page, "Opened WO-1001 / 0010: Cut.")
        expect(page.locator("#offer")).to_be_hidden()
        expect(page.locator("#entry-scrap")).to_have_text("–")
        expect(page.locator("#entry-good")).to_have_text("–")
        scan(page, "QTY:3")
        scan(page, "ACT:REPORT")
        expect_message(page, "Reported 3 good on WO-1001 / 0010.")

        # The keypad's Clear empties the entry.
        scan(page, "SCRAP:2")
        scan(page, "ACT:REPORT")
        expect_message(page, refusal, "refused")
        page.click(".keypad button[data-key=clear]")
        expect_message(page, "Entries cleared.")
        expect(page.locator("#entry-scrap")).to_have_text("–")
        scan(page, "QTY:1")
        scan(page, "ACT:REPORT")
        expect_message(page, "Reported 1 good on WO-1001 / 0010.")

        # The offered reason, tapped, lets the same report through; so does the offered "no scrap".
        scan(page, "SCRAP:2")
        scan(page, "ACT:REPORT")
        page.click("#offer button[data-scan='RC:SCRAP-01']")
        expect_message(page, "Reason SCRAP-01: Material defect.")
        scan(page, "ACT:REPORT")
        expect_message(page, "Reported 2 scrap on WO-1001 / 0010.")
        scan(page, "QTY:1")
        scan(page, "REWORK:1")
        scan(page, "ACT:REPORT")
        page.click("#offer button[data-scan='REWORK:0']")
        expect_message(page, "Rework quantity 0.")
        scan(page, "ACT:REPORT")
        expect_message(page, "Reported 1 good on WO-1001 / 0010.")

        quantities = sorted((c.good_qty, c.scrap_qty, c.rework_qty) for c in Confirmation.objects.all())
        assert quantities == [(0, 2, 0), (1, 0, 0), (1, 0, 0), (3, 0, 0)]
    finally:
        context.close()


def test_after_a_reload_the_message_agrees_with_the_header(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    try:
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        expect(page.locator("#operator")).to_have_text("Li Wei B-1001")
        expect_message(page, "Li Wei (B-1001) is signed in; WO-1001 / 0010 is open. Scan a quantity or an action.", "info")
        scan(page, "ACT:LOGOUT")
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        expect(page.locator("#operator")).to_have_attribute("data-signed-in", "false")
        expect_message(page, "Scan your badge to begin.", "info")
        # The favicon is served: no 404 in the tab of every page.
        icon = page.locator("link[rel=icon]").get_attribute("href")
        assert page.request.get(icon).status == 200
    finally:
        context.close()


def test_reports_made_offline_survive_a_reload_and_are_sent_once(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    try:
        page.wait_for_selector("body[data-offline-ready=true]")
        context.set_offline(True)
        for made in range(1, 4):
            scan(page, "QTY:1")
            scan(page, "ACT:REPORT")
            expect_message(page, "No connection: the report is kept on this tablet and sent when the connection returns.", "warn")
            expect(page.locator("#pending-count")).to_have_text(str(made))
        assert Confirmation.objects.count() == 0

        page.reload()  # the service worker answers: the station opens without the server
        page.wait_for_selector("body[data-ready=true]")
        expect(page.locator("#pending-count")).to_have_text("3")
        expect(page.locator("#pending-list li")).to_have_count(3)
        expect(page.locator("#operator")).to_have_text("Li Wei B-1001")

        context.set_offline(False)
        expect(page.locator("#pending-count")).to_have_text("0", timeout=SLOW)
        expect(page.locator("#connection")).to_have_attribute("data-online", "true")
        confirmations = list(Confirmation.objects.all())
        assert len(confirmations) == 3
        assert len({confirmation.client_id for confirmation in confirmations}) == 3
        assert WorkOrderOperation.objects.get(work_order=released_order, sequence=10).good_qty == 3
    finally:
        context.close()


def test_a_report_refused_on_replay_stays_visible_until_acknowledged(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    try:
        context.set_offline(True)
        scan(page, "QTY:8")
        scan(page, "ACT:REPORT")
        expect(page.locator("#pending-count")).to_have_text("1")
        confirm("WO-1001", 10, good_qty=5)  # meanwhile another station reported: 8 more no longer fit
        context.set_offline(False)
        expect(page.locator("#pending-count")).to_have_text("0", timeout=SLOW)
        refused = page.locator("#refused-list li")
        expect(refused).to_have_count(1)
        expect(refused).to_contain_text("Operation 0010 can take at most 5 more")
        page.click("#refused-list button[data-ack]")
        expect(refused).to_have_count(0)
        assert Confirmation.objects.count() == 1
    finally:
        context.close()


def test_a_machine_standing_still_asks_the_station_and_the_operator_answers_by_scan(browser, live_server, released_order, plant, settings):
    settings.MES_DOWNTIME_REASON_AFTER_SECONDS = 120
    ReasonCodeFactory(code="DT-JAM", kind=ReasonCode.Kind.DOWNTIME, name="Jam")
    saw = EquipmentFactory(code="SAW-01", name="Saw", work_center=plant["centers"]["WC-CUT"])
    down = EquipmentState.objects.create(equipment=saw, state="down", started_at=timezone.now() - datetime.timedelta(minutes=9))
    context, page = at_operation(browser, live_server)
    try:
        prompt = page.locator(f"#downtime [data-prompt='{down.pk}']")
        expect(prompt).to_contain_text("SAW-01 Saw")
        expect(prompt).to_contain_text("9 minutes")
        scan(page, "RC:DT-JAM")
        expect_message(page, "Reason DT-JAM recorded for SAW-01.")
        expect(page.locator("#downtime [data-prompt]")).to_have_count(0)
        down.refresh_from_db()
        assert (down.reason_code.code, down.reason_by) == ("DT-JAM", "B-1001")
        scan(page, "RC:DT-JAM")
        expect_message(page, "No machine is waiting for a downtime reason; DT-JAM is a downtime reason.", "refused")
    finally:
        context.close()


def data_words() -> set[str]:
    """Latin words that come from master data (names, codes), not from the interface."""
    texts = [
        *Item.objects.values_list("code", "name"), *WorkCenter.objects.values_list("code", "name"),
        *Employee.objects.values_list("badge", "name"), *ReasonCode.objects.values_list("code", "name"),
        *WorkOrderOperation.objects.values_list("name", "work_order__number"), *Station.objects.values_list("name", "name"),
    ]
    words = {word for pair in texts for text in pair for word in re.findall(r"[A-Za-z]+", text)}
    return words | {"PCS", "English", "ERP", "RC", "ACT", "PAUSE", "PIN", "LOT"}  # unit code; the language's own name; scan codes


def test_a_chinese_tablet_shows_no_untranslated_text(browser, live_server, released_order):
    with translation.override("en"):
        english = station_text()
    with translation.override("zh-hans"):
        chinese = station_text()
    assert [key for key in english if english[key] == chinese[key]] == []

    # Names as a Chinese plant keeps them (data, not interface text), for a realistic screenshot.
    Item.objects.filter(code="FRAME-100").update(name="车架 Frame")
    WorkCenter.objects.filter(code="WC-CUT").update(name="下料")
    WorkOrderOperation.objects.filter(work_order=released_order, sequence=10).update(name="切管")
    Employee.objects.filter(badge="B-1001").update(name="李伟")
    context = new_context(browser, live_server, locale="zh-CN")
    try:
        become_station(context, live_server)
        page = context.new_page()
        open_station(page)
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        scan(page, "EMP:B-1001")
        expect(page.locator("#operator")).to_have_text("李伟 B-1001")
        scan(page, "WO:WO-1001/10")
        scan(page, "QTY:4")
        scan(page, "ACT:REPORT")
        expect(page.locator("#recent tr[data-erp-state]")).to_have_count(1)
        expect(page.locator("#message")).to_have_attribute("data-kind", "ok")
        scan(page, "QTY:3")
        expect(page.locator("#entry-good")).to_have_text("3")
        screenshot(page, "station-zh.png")  # legible where a CJK font is installed (Debian: fonts-wqy-microhei)
        page.locator("details.reasons").evaluate("element => element.open = true")
        visible = page.evaluate("document.body.innerText")
        placeholder = page.locator("#scan").get_attribute("placeholder")
    finally:
        context.close()
    untranslated = set(re.findall(r"[A-Za-z]+", visible + placeholder)) - data_words()
    assert untranslated == set(), visible
    assert "Good" not in visible and "Remaining" not in visible and "Report" not in visible
