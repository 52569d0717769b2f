"""The station sheet: action, quantity and reason-code barcodes, grouped, in both languages."""

from __future__ import annotations

import pytest

from mes.models import ReasonCode, WorkCenter
from shopfloor.documents import station_sheet_pdf
from shopfloor.documents.barcodes import UnprintableCode
from tests.shopfloor_documents.pdf_reading import (
    embedded_fonts,
    pdf_text,
    scanned_codes,
    unembedded_fonts,
)

pytestmark = pytest.mark.django_db

ACTION_AND_QUANTITY_CODES = [
    "ACT:START", "ACT:PAUSE", "ACT:REPORT", "ACT:FINISH", "ACT:LOGOUT", "ACT:CLOCKOFF", "ACT:ANDON",
    "QTY:1", "QTY:2", "QTY:5", "QTY:10", "QTY:20", "QTY:50", "SCRAP:1", "REWORK:1", "PASS",
]  # fmt: skip


def reason_codes() -> list[ReasonCode]:
    ReasonCode.objects.bulk_create(
        [
            ReasonCode(code="SCRAP-01", kind=ReasonCode.Kind.SCRAP, name="材料缺陷"),
            ReasonCode(code="SCRAP-02", kind=ReasonCode.Kind.SCRAP, name="Surface damage"),
            ReasonCode(code="REWORK-01", kind=ReasonCode.Kind.REWORK, name="焊缝返修"),
            ReasonCode(code="PAUSE-01", kind=ReasonCode.Kind.PAUSE, name="休息"),
            ReasonCode(code="DOWN-01", kind=ReasonCode.Kind.DOWNTIME, name="设备故障"),
            ReasonCode(code="DEF-DENT", kind=ReasonCode.Kind.DEFECT, name="凹痕"),
        ]
    )
    return list(ReasonCode.objects.order_by("code"))


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("zh-hans", ["工位条码表", "产线 A", "操作", "开工", "暂停", "报工", "完工（末次报工）", "退出登录", "下工",
                     "数量", "合格 5", "报废 1", "返工 1", "检验", "检验合格", "不合格：凹痕", "原因代码", "报废 (2)", "返工 (1)", "暂停 (1)", "停机 (1)"]),
        ("en", ["Station barcode sheet", "Line A", "Actions", "Start", "Pause", "Report", "Finish (final report)",
                "Log out", "Clock off", "Quantities", "Good 5", "Scrap 1", "Rework 1", "Inspection", "Inspection passed",
                "Failed: 凹痕", "Reason codes", "Scrap (2)", "Rework (1)",
                "Pause (1)", "Downtime (1)"]),
    ],
)  # fmt: skip
def test_station_sheet_prints_actions_quantities_and_reason_codes_by_kind(language, labels):
    work_center = WorkCenter.objects.create(code="WC-WELD", name="焊接", line="A")
    codes = reason_codes()

    pdf = station_sheet_pdf(work_center, codes, language=language)

    assert pdf.startswith(b"%PDF-")
    assert embedded_fonts(pdf) == set(), "reportlab's built-in CID face needs no font file"
    assert unembedded_fonts(pdf) == {"STSong-Light"}
    text = pdf_text(pdf)
    names = ["WC-WELD", "焊接", "材料缺陷", "Surface damage", "焊缝返修", "休息", "设备故障"]
    codes = ["RC:SCRAP-01", "RC:SCRAP-02", "RC:REWORK-01", "RC:PAUSE-01", "RC:DOWN-01", "FAIL:DEF-DENT"]
    assert "RC:DEF-DENT" not in text, "a defect code is scanned as FAIL:, not as a reason"
    for expected in [*labels, *names, *ACTION_AND_QUANTITY_CODES, *codes]:
        assert expected in text, expected


def test_station_sheet_barcodes_scan_as_the_station_codes_with_reason_codes_grouped_by_kind():
    codes = reason_codes()

    pdf = station_sheet_pdf(None, codes, language="zh-hans")

    assert scanned_codes(pdf) == [
        *ACTION_AND_QUANTITY_CODES,
        "FAIL:DEF-DENT",
        "RC:SCRAP-01", "RC:SCRAP-02", "RC:REWORK-01", "RC:PAUSE-01", "RC:DOWN-01",
    ]  # fmt: skip
    assert "全部工作中心" in pdf_text(pdf)


def test_station_sheet_reads_a_queryset_once(django_assert_num_queries):
    reason_codes()
    work_center = WorkCenter.objects.create(code="WC-WELD", name="焊接", line="A")

    with django_assert_num_queries(1):
        station_sheet_pdf(work_center, ReasonCode.objects.order_by("kind", "code"), language="en")


def test_station_sheet_without_reason_codes_says_so():
    pdf = station_sheet_pdf(None, [], language="en")

    assert "No reason codes." in pdf_text(pdf)
    assert scanned_codes(pdf) == ACTION_AND_QUANTITY_CODES


def test_station_sheet_refuses_a_reason_code_a_scanner_cannot_type():
    code = ReasonCode.objects.create(code="废-01", kind=ReasonCode.Kind.SCRAP, name="报废")

    with pytest.raises(UnprintableCode, match="only printable ASCII"):
        station_sheet_pdf(None, [code], language="zh-hans")
