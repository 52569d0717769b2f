"""The station's scan parser (static/shopfloor/scan.js), run in real Chromium: every prefix, GS1 in
both forms, bad input; and every code the printed sheets carry (shopfloor/documents/barcodes.py)
read back as what it was printed for."""

from __future__ import annotations

import pytest

from shopfloor.documents import barcodes

pytestmark = pytest.mark.browser

PARSE = """async (scans) => {
  const { parseScan } = await import("/static/shopfloor/scan.js");
  return scans.map((scan) => parseScan(scan));
}"""


@pytest.fixture(scope="module")
def parse(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/static/shopfloor/scan.js")
    yield lambda *scans: page.evaluate(PARSE, list(scans))
    context.close()


def error(error_code, **params):
    return {"kind": "error", "code": error_code, "params": params}


@pytest.mark.parametrize(
    ("scan", "expected"),
    [
        ("EMP:E1001", {"kind": "badge", "badge": "E1001"}),
        ("WO:WO-1001/10", {"kind": "operation", "workOrder": "WO-1001", "sequence": 10}),
        ("WO:SAP/4711/0020", {"kind": "operation", "workOrder": "SAP/4711", "sequence": 20}),
        ("QTY:5", {"kind": "quantity", "field": "good", "value": "5"}),
        ("QTY:2.500", {"kind": "quantity", "field": "good", "value": "2.5"}),
        ("SCRAP:2", {"kind": "quantity", "field": "scrap", "value": "2"}),
        ("REWORK:1,5", {"kind": "quantity", "field": "rework", "value": "1.5"}),
        ("RC:SCR-01", {"kind": "reason", "code": "SCR-01"}),
        ("LOT:ABC-123", {"kind": "lot", "lot": "ABC-123", "gtin": ""}),
        ("LOT:TUBE-20:T-1", {"kind": "issue", "item": "TUBE-20", "lot": "T-1", "quantity": None}),
        ("LOT:TUBE-20:T-1:2,50", {"kind": "issue", "item": "TUBE-20", "lot": "T-1", "quantity": "2.5"}),
        ("ACT:START", {"kind": "action", "action": "START"}),
        ("act:report", {"kind": "action", "action": "REPORT"}),
        ("12", {"kind": "digits", "text": "12", "value": "12"}),
        ("007", {"kind": "digits", "text": "007", "value": "7"}),
        ("  QTY:3\r\n", {"kind": "quantity", "field": "good", "value": "3"}),
        ("E1001", {"kind": "plain", "text": "E1001"}),
        ("VAL:100.25", {"kind": "inspection", "value": "100.25"}),
        ("val:-0,050", {"kind": "inspection", "value": "-0.05"}),
        ("VAL:007.000001", {"kind": "inspection", "value": "7.000001"}),
        ("VAL:-0", {"kind": "inspection", "value": "0"}),
        ("PASS", {"kind": "inspection", "passed": True}),
        ("pass\r\n", {"kind": "inspection", "passed": True}),
        ("FAIL:DEF-DENT", {"kind": "inspection", "passed": False, "defect": "DEF-DENT"}),
        # GS1: the human-readable form, the raw form with FNC1 as GS, without GS when the lot comes last,
        # and with the symbology identifier a scanner may send first.
        ("(01)09506000134352(10)ABC123", {"kind": "lot", "lot": "ABC123", "gtin": "09506000134352"}),
        ("0109506000134352\x1d10ABC123", {"kind": "lot", "lot": "ABC123", "gtin": "09506000134352"}),
        ("010950600013435210ABC123", {"kind": "lot", "lot": "ABC123", "gtin": "09506000134352"}),
        ("]C10109506000134352\x1d10ABC123\x1d21SN9", {"kind": "lot", "lot": "ABC123", "gtin": "09506000134352"}),
        ("(10)LOT9(17)271231", {"kind": "lot", "lot": "LOT9", "gtin": ""}),
    ],
)
def test_every_code_is_read(parse, scan, expected):
    assert parse(scan) == [expected]


@pytest.mark.parametrize(
    ("scan", "expected"),
    [
        ("", error("empty")),
        ("   ", error("empty")),
        ("EMP:", error("empty_value", code="EMP:")),
        ("WO:WO-1001", error("bad_operation", code="WO:WO-1001")),
        ("WO:/10", error("bad_operation", code="WO:/10")),
        ("WO:WO-1001/0", error("bad_operation", code="WO:WO-1001/0")),
        ("QTY:-1", error("bad_quantity", code="QTY:-1")),
        ("QTY:1.2345", error("bad_quantity", code="QTY:1.2345")),
        ("SCRAP:many", error("bad_quantity", code="SCRAP:many")),
        ("ACT:FLY", error("unknown_action", code="ACT:FLY")),
        ("LOT:TUBE-20:", error("bad_issue", code="LOT:TUBE-20:")),
        ("LOT:A:B:C:D", error("bad_issue", code="LOT:A:B:C:D")),
        ("LOT:TUBE-20:T-1:0", error("bad_quantity", code="LOT:TUBE-20:T-1:0")),
        ("LOT:TUBE-20:T-1:lots", error("bad_quantity", code="LOT:TUBE-20:T-1:lots")),
        ("XYZ:1", error("unknown_code", code="XYZ:1")),
        ("VAL:ten", error("bad_value", code="VAL:ten")),
        ("VAL:1.1234567", error("bad_value", code="VAL:1.1234567")),
        ("VAL:", error("empty_value", code="VAL:")),
        ("FAIL", error("empty_value", code="FAIL:")),
        ("FAIL:", error("empty_value", code="FAIL:")),
        ("(01)09506000134353(10)X", error("bad_gtin", gtin="09506000134353")),
        ("(01)09506000134352", error("gs1_no_lot")),
        ("(01)0950600013(10)X", error("bad_gs1")),
        ("0109506000134352\x1d77XYZ", error("bad_gs1")),
        ("EMP:B\x07", error("unreadable")),
        ("WO:" + "W" * 80 + "/10", error("too_long", code="WO:" + "W" * 27 + "…")),
    ],
)
def test_bad_input_is_refused_with_a_reason(parse, scan, expected):
    assert parse(scan) == [expected]


def test_what_the_sheets_print_is_what_the_station_reads(parse):
    printed = [
        barcodes.employee_code("E1001"),
        barcodes.operation_code("WO-1001", 10),
        barcodes.quantity_code(5),
        barcodes.scrap_code(1),
        barcodes.rework_code(2),
        barcodes.reason_code("SCR-01"),
        barcodes.PASS,
        barcodes.fail_code("DEF-DENT"),
        barcodes.value_code("9.95"),
        *(barcodes.action_code(action) for action in barcodes.ACTIONS),
    ]
    assert parse(*printed) == [
        {"kind": "badge", "badge": "E1001"},
        {"kind": "operation", "workOrder": "WO-1001", "sequence": 10},
        {"kind": "quantity", "field": "good", "value": "5"},
        {"kind": "quantity", "field": "scrap", "value": "1"},
        {"kind": "quantity", "field": "rework", "value": "2"},
        {"kind": "reason", "code": "SCR-01"},
        {"kind": "inspection", "passed": True},
        {"kind": "inspection", "passed": False, "defect": "DEF-DENT"},
        {"kind": "inspection", "value": "9.95"},
        *({"kind": "action", "action": action} for action in barcodes.ACTIONS),
    ]
