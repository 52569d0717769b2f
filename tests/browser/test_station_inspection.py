"""In a real browser: the station prompts the inspection due before it is a refusal; a gauge typing into
the focused field records a value within limits and the report goes through; VAL: out of limits turns
the message red and names the NCR; a report refused for a due check offers it, and FAIL:<code> records it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from mes.models import Confirmation, InspectionResult, Nonconformance, ReasonCode
from mes.services.quality import inspection_plan_set
from mes.services.work_orders import work_order_transition
from tests.browser.conftest import screenshot
from tests.browser.test_station import at_operation, scan
from tests.browser.test_station_layout import WIDTHS, layout_problems
from tests.conftest import ITEM, ORDER
from tests.factories import ReasonCodeFactory, UnitOfMeasureFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PLAN = [
    {"code": "LEN", "name": "Length", "kind": "measured", "nominal": Decimal("100"), "lower_limit": Decimal("99.5"),
     "upper_limit": Decimal("100.5"), "unit": "MM", "sampling": {"rule": "first_piece", "n": None}, "mandatory": True},
    {"code": "LOOK", "name": "Visual", "kind": "attribute", "nominal": None, "lower_limit": None, "upper_limit": None, "unit": "",
     "sampling": {"rule": "every_n", "n": 5}, "mandatory": True},
]  # fmt: skip


def plan_released() -> None:
    UnitOfMeasureFactory(code="MM")
    ReasonCodeFactory(code="DEF-DENT", kind=ReasonCode.Kind.DEFECT, name="Dent")
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=PLAN)
    work_order_transition(number=ORDER, action="release")


def test_due_prompt_gauge_value_report_out_of_limit_ncr_and_fail_with_a_defect(browser, live_server, planned_order):
    plan_released()
    context, page = at_operation(browser, live_server)
    try:
        # The prompt, before anything is refused: the first piece's length is due from the start, its limits and unit, sample 1.
        panel = page.locator("#inspection")
        expect(panel).to_be_visible()
        expect(page.locator("#inspection-prompt")).to_contain_text("Inspection due now: LEN Length, sample 1.")
        expect(page.locator("#inspection-prompt")).to_contain_text("Nominal 100 MM, limits 99.5 – 100.5 MM.")
        expect(page.locator("#inspection-form")).to_be_visible()
        assert page.evaluate("document.activeElement.id") == "inspection-value"

        # A gauge types into the focused field and sends Enter.
        scan(page, "100.2")
        expect(page.locator("#message")).to_have_attribute("data-kind", "ok")
        expect(page.locator("#message")).to_contain_text("LEN (Length) sample 1: 100.2 MM is within the limits; passed.")
        result = InspectionResult.objects.get()
        assert (result.value, result.passed, result.inspector.badge) == (Decimal("100.2"), True, "B-1001")
        assert page.evaluate("document.activeElement.id") == "scan"

        scan(page, "QTY:3")
        scan(page, "ACT:REPORT")
        expect(page.locator("#message")).to_have_text("Reported 3 good on WO-1001 / 0010.")
        assert Confirmation.objects.get().good_qty == 3

        # Out of limits: red, the NCR named, what happens next.
        scan(page, "VAL:101")
        message = page.locator("#message")
        expect(message).to_have_attribute("data-kind", "refused")
        ncr = Nonconformance.objects.get()
        expect(message).to_contain_text(f"Nonconformance NCR {ncr.pk} is opened.")
        expect(message).to_contain_text("The piece is on hold")
        expect(page.locator("#inspection-last")).to_have_attribute("data-passed", "false")
        expect(page.locator("#inspection-last")).to_have_attribute("data-ncr", str(ncr.pk))
        expect(page.locator("#inspection-last")).to_be_visible()
        color = page.evaluate("getComputedStyle(document.getElementById('message')).color")
        assert re.fullmatch(r"rgb\(1[0-9]{2}, 0, 22\)", color), color

        # Tapping a characteristic picks it; the keypad types into the value field and its Enter records it.
        page.click("#inspection-list button[data-inspect='LEN']")
        expect(page.locator("#inspection-form")).to_be_visible()
        for key in ("1", "0", "0", ".", "4"):
            page.click(f"button[data-key='{key}']")
        expect(page.locator("#inspection-value")).to_have_value("100.4")
        page.click("button[data-key='enter']")
        expect(message).to_contain_text("LEN (Length) sample 2: 100.4 MM is within the limits; passed.")
        expect(message).to_have_attribute("data-kind", "ok")

        # A report past the visual check's sample is refused and offers the check; FAIL:<code> records it.
        scan(page, "QTY:3")
        scan(page, "ACT:REPORT")
        expect(message).to_have_attribute("data-kind", "refused")
        expect(message).to_contain_text("Inspection due on operation 0010 of WO-1001: characteristic LOOK (Visual)")
        expect(page.locator("#offer button[data-scan='PASS']")).to_be_visible()
        page.click("#offer button[data-scan='FAIL:DEF-DENT']")
        expect(message).to_contain_text("LOOK (Visual) sample 1: failed.")
        expect(message).to_have_attribute("data-kind", "refused")
        failed = Nonconformance.objects.get(inspection_result__characteristic__code="LOOK")
        assert failed.defect_code.code == "DEF-DENT"
        expect(message).to_contain_text(f"NCR {failed.pk}")
        assert Confirmation.objects.count() == 1
    finally:
        context.close()


def test_a_chinese_station_prompts_the_check_and_answers_a_failure_in_chinese(browser, live_server, planned_order):
    plan_released()
    context, page = at_operation(browser, live_server, locale="zh-CN")
    try:
        expect(page.locator("#inspection-prompt")).to_contain_text("现在需要检验：LEN Length，样本 1。")
        expect(page.locator("#inspection-prompt")).to_contain_text("公差 99.5 – 100.5 MM")
        for width, height in WIDTHS:  # the panel fits from a phone to a wall, every control a finger's size
            page.set_viewport_size({"width": width, "height": height})
            problems = layout_problems(page)
            assert problems["scrollWidth"] <= problems["innerWidth"], (width, problems)
            assert problems["outside"] == [] and problems["small"] == [], (width, problems)
            if width == 1280:
                screenshot(page, "station-inspection-zh-1280.png")
        scan(page, "99")
        message = page.locator("#message")
        expect(message).to_have_attribute("data-kind", "refused")
        expect(message).to_contain_text(f"已开立不合格品报告 NCR {Nonconformance.objects.get().pk}。")
        expect(message).to_contain_text("由质量部门决定")
        screenshot(page, "station-inspection-failed-zh.png")
    finally:
        context.close()
