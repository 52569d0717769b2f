"""In a real browser: with andon reasons in the plant, the big Andon button (ACT:ANDON) offers them; a tap or a
scanned RC:<code> raises the call through the andon service, of the reason's kind, with the reason as its note."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mes.models import ReasonCode
from shopfloor.models import AndonCall
from tests.browser.test_station import at_operation, expect_message, scan
from tests.factories import ReasonCodeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_act_andon_then_a_reason_raises_the_call(browser, live_server, released_order):
    ReasonCodeFactory(code="MATERIAL-01", kind=ReasonCode.Kind.ANDON, name="Material missing")
    ReasonCodeFactory(code="EQUIPMENT-01", kind=ReasonCode.Kind.ANDON, name="Machine broken down")
    context, page = at_operation(browser, live_server, viewport={"width": 390, "height": 844})
    try:
        button = page.locator("button[data-scan='ACT:ANDON']")
        assert button.bounding_box()["height"] >= 60  # the big button
        button.click()
        expect_message(page, "What do you need? Tap or scan the reason (RC:…, under Andon on the station sheet).", "warn")
        expect(page.locator("#offer button")).to_have_text(["EQUIPMENT-01 Machine broken down", "MATERIAL-01 Material missing"])
        page.click("#offer button[data-scan='RC:MATERIAL-01']")
        expect_message(page, "Andon raised at WC-CUT: MATERIAL-01 Material missing. Help is being called; keep the station open.")
        call = AndonCall.objects.get()
        assert (call.kind, call.note, call.work_order.number) == ("material", "MATERIAL-01 Material missing", "WO-1001")

        scan(page, "ACT:ANDON")
        scan(page, "RC:EQUIPMENT-01")
        expect_message(page, "Andon raised at WC-CUT: EQUIPMENT-01 Machine broken down. Help is being called; keep the station open.")
        assert AndonCall.objects.filter(kind="equipment").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
