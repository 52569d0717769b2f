"""In a real browser: the operator taps Andon, picks the kind of help from the offered buttons, and
the call is raised for the station's work center and the open order; a scanned ANDON: code does the same."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shopfloor.models import AndonCall
from tests.browser.test_station import at_operation, expect_message, scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_andon_button_offers_the_kinds_of_help_and_raises_the_call(browser, live_server, released_order):
    context, page = at_operation(browser, live_server)
    try:
        page.click("button[data-scan='ACT:ANDON']")
        expect_message(page, "What do you need? Tap or scan the kind of help.", "warn")
        offers = page.locator("#offer button")
        expect(offers).to_have_text(["Machine problem", "Material missing", "Quality problem", "Maintenance", "Other help"])

        page.click("#offer button[data-scan='ANDON:material']")
        expect_message(page, "Andon raised at WC-CUT: Material missing. Help is being called; keep the station open.")
        call = AndonCall.objects.get()
        assert (call.kind, call.severity, call.work_center.code, call.work_order.number) == ("material", "high", "WC-CUT", "WO-1001")
        assert call.raised_by == "B-1001 Li Wei"

        scan(page, "ANDON:quality:critical")
        expect_message(page, "Andon raised at WC-CUT: Quality problem. Help is being called; keep the station open.")
        assert AndonCall.objects.filter(kind="quality", severity="critical").count() == 1
        scan(page, "ANDON:coffee")
        expect_message(page, "ANDON:coffee is not an andon call; it looks like ANDON:equipment or ANDON:quality:critical.", "refused")
        assert AndonCall.objects.count() == 2
    finally:
        context.close()
