"""Issuing a lot at the station in real Chromium: LOT:<item>:<lot>:<quantity> issues it; an
over-issue is shown in words and a supervisor's badge scanned next approves it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from mes.models import Item, MaterialMovement, WorkOrderComponent
from mes.services.accounts import api_token_create
from mes.services.master_data import lot_upsert
from tests.browser.test_station import at_operation, expect_message, scan
from tests.factories import EmployeeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def issued() -> Decimal:
    return WorkOrderComponent.objects.get(work_order__number="WO-1001", item__code="TUBE-20").issued_qty


def test_a_scanned_lot_is_issued_and_an_over_issue_waits_for_a_supervisor_badge(browser, live_server, released_order):
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    lot_upsert(item_code="TUBE-20", lot_code="T-1", quantity=Decimal("100"))
    EmployeeFactory(badge="S-0001", name="Zhang Supervisor", user=api_token_create(username="zhang", role="supervisor").user)
    context, page = at_operation(browser, live_server)
    try:
        scan(page, "LOT:TUBE-20:T-1:10")
        expect_message(page, "Issued 10 M of TUBE-20, lot T-1, to WO-1001 / 0010.")
        assert issued() == Decimal("10")

        scan(page, "LOT:TUBE-20:T-1:30")
        expect(page.locator("#message")).to_have_attribute("data-kind", "warn")
        expect(page.locator("#message")).to_contain_text("beyond the requirement of 25 (10 issued already)")
        expect(page.locator("#message")).to_contain_text("Supervisor: scan your badge now to approve.")
        assert issued() == Decimal("10")

        scan(page, "EMP:S-0001")
        expect_message(page, "Issued 30 M of TUBE-20, lot T-1, to WO-1001 / 0010.")
        assert issued() == Decimal("40")
        assert MaterialMovement.objects.get(quantity=30).decided_by.username == "zhang"
        # The operator stays signed in: the supervisor's badge only approved.
        expect(page.locator("#operator")).to_contain_text("B-1001")
    finally:
        context.close()
