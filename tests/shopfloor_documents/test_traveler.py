"""The work-order traveler: header, the order's and each operation's barcode, BOM, both languages."""

from __future__ import annotations

import datetime
import re
import subprocess
from decimal import Decimal

import pytest
from PIL import Image

from mes.models import (
    Item,
    Status,
    UnitOfMeasure,
    WorkCenter,
    WorkOrder,
    WorkOrderComponent,
    WorkOrderOperation,
)
from shopfloor.documents import traveler_pdf
from tests.shopfloor_documents.pdf_reading import (
    embedded_fonts,
    pdf_pages,
    pdf_text,
    scanned_codes,
    unembedded_fonts,
)

pytestmark = pytest.mark.django_db


def released_order(
    *, number: str = "WO-1001", operations: int = 3, quality_checkpoint_at: int | None = 20
) -> WorkOrder:
    pcs = UnitOfMeasure.objects.create(code="PCS", name="pieces")
    meter = UnitOfMeasure.objects.create(code="M", name="metre")
    frame = Item.objects.create(code="FRAME-100", name="车架 Frame", unit=pcs)
    tube = Item.objects.create(code="TUBE-20", name="钢管 20 mm", unit=meter)
    bolt = Item.objects.create(code="BOLT-M8", name="Bolt M8", unit=pcs)
    centers = [
        WorkCenter.objects.create(code="WC-CUT", name="下料", line="A"),
        WorkCenter.objects.create(code="WC-WELD", name="焊接", line="A"),
        WorkCenter.objects.create(code="WC-PAINT", name="喷涂", line="A"),
    ]
    work_order = WorkOrder.objects.create(
        number=number,
        item=frame,
        quantity=Decimal(10),
        due_date=datetime.date(2030, 1, 31),
        priority=2,
        status=Status.RELEASED,
        bom_version="3",
    )
    for index in range(operations):
        sequence = (index + 1) * 10
        WorkOrderOperation.objects.create(
            work_order=work_order,
            sequence=sequence,
            name=f"Operation {sequence}",
            work_center=centers[index % 3],
            planned_qty=Decimal(10),
            quality_checkpoint=sequence == quality_checkpoint_at,
        )
    WorkOrderComponent.objects.create(
        work_order=work_order, position=1, item=tube, required_qty=Decimal("25.000"), unit=meter, operation_sequence=10
    )
    WorkOrderComponent.objects.create(
        work_order=work_order, position=2, item=bolt, required_qty=Decimal(40), unit=pcs, operation_sequence=10
    )
    return work_order


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        (
            "zh-hans",
            [
                "工单流转卡",
                "物料",
                "数量",
                "交期",
                "优先级",
                "状态",
                "已下达",
                "BOM 版本",
                "物料清单",
                "需求数量",
                "工序",
                "计划数",
                "合格",
                "报废",
                "返工",
                "质检点",
            ],
        ),
        (
            "en",
            [
                "Work-order traveler",
                "Item",
                "Quantity",
                "Due date",
                "Priority",
                "Status",
                "Released",
                "BOM version",
                "Bill of materials",
                "Required",
                "Operations",
                "Planned",
                "Good",
                "Scrap",
                "Rework",
                "Quality checkpoint",
            ],
        ),
    ],
)
def test_traveler_prints_header_operations_and_bom_in_the_language_asked(language, labels):
    work_order = released_order()

    pdf = traveler_pdf(work_order, language=language)

    assert pdf.startswith(b"%PDF-")
    assert embedded_fonts(pdf) == set(), "reportlab's built-in CID face needs no font file"
    assert unembedded_fonts(pdf) == {"STSong-Light"}
    text = pdf_text(pdf)
    for expected in [
        *labels,
        "WO-1001",
        "FRAME-100",
        "车架 Frame",
        "2030-01-31",
        "TUBE-20",
        "钢管 20 mm",
        "25",
        "BOLT-M8",
        "WC-WELD",
        "焊接",
        "WO:WO-1001/10",
        "WO:WO-1001/20",
        "WO:WO-1001/30",
        "0010",  # the operation as the station and the refusals write it
        "0030",
    ]:
        assert expected in text, expected
    assert "25.000" not in text


def test_traveler_barcodes_scan_as_the_order_number_and_the_station_operation_codes():
    work_order = released_order()

    pdf = traveler_pdf(work_order, language="zh-hans")

    assert scanned_codes(pdf) == ["WO-1001", "WO:WO-1001/10", "WO:WO-1001/20", "WO:WO-1001/30"]


def test_traveler_of_many_operations_runs_onto_more_pages_with_every_operation_once():
    work_order = released_order(operations=24)

    pdf = traveler_pdf(work_order, language="en")

    assert pdf_pages(pdf) == 3
    assert scanned_codes(pdf) == ["WO-1001"] + [f"WO:WO-1001/{sequence}" for sequence in range(10, 250, 10)]
    text = pdf_text(pdf)
    assert "Page 3 of 3" in text
    assert text.count("Work-order traveler WO-1001") == 2  # the running header of pages 2 and 3


@pytest.mark.parametrize("operations", [1, 30])
def test_traveler_queries_do_not_grow_with_operations(operations, django_assert_num_queries):
    work_order_id = released_order(operations=operations).pk
    work_order = WorkOrder.objects.get(pk=work_order_id)

    with django_assert_num_queries(4):  # item, unit, operations + work centers, components + items + units
        traveler_pdf(work_order, language="zh-hans")


def test_traveler_of_an_order_loaded_with_its_item_and_unit_takes_two_queries(django_assert_num_queries):
    work_order_id = released_order().pk
    work_order = WorkOrder.objects.select_related("item__unit").get(pk=work_order_id)

    with django_assert_num_queries(2):
        traveler_pdf(work_order, language="en")


def test_traveler_of_an_unreleased_order_says_it_has_no_operations_yet():
    work_order = released_order(operations=0)

    pdf = traveler_pdf(work_order, language="zh-hans")

    assert "没有工序：工单尚未下达。" in pdf_text(pdf)
    assert scanned_codes(pdf) == ["WO-1001"]


def test_traveler_refuses_a_language_the_project_does_not_speak():
    work_order = released_order()

    with pytest.raises(ValueError, match="Unsupported language 'fr'"):
        traveler_pdf(work_order, language="fr")


@pytest.mark.subprocess  # pdftotext and pdftoppm
def test_poppler_renders_the_chinese_of_a_traveler_without_a_font_file(tmp_path):
    """STSong-Light is not embedded: the reader substitutes its own Simplified Chinese face. Prove with
    poppler that the Chinese is there as text (pdftotext) and is drawn where that text is (pdftoppm)."""
    pdf_path = tmp_path / "traveler.pdf"
    pdf_path.write_bytes(traveler_pdf(released_order(), language="zh-hans"))

    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, check=True, text=True)
    boxes = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf_path), "-"], capture_output=True, check=True, text=True)
    image = subprocess.run(  # 72 dpi: one pixel per PDF point, so the text's box is its pixels
        ["pdftoppm", "-r", "72", "-gray", "-f", "1", "-l", "1", "-png", str(pdf_path), str(tmp_path / "page")],
        capture_output=True, check=True, text=True,
    )

    assert "工单流转卡" in text.stdout and "车架 Frame" in text.stdout and "下料" in text.stdout
    assert image.stderr == "", "poppler found a face for every text"
    title = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">工单流转卡</word>', boxes.stdout)
    assert title is not None, boxes.stdout[:2000]
    page = Image.open(tmp_path / "page-1.png").convert("L")
    box = page.crop(tuple(round(float(value)) for value in title.groups()))
    ink = sum(count for value, count in enumerate(box.histogram()) if value < 128)
    assert ink > box.width * box.height // 10, "the title's five characters are drawn, not left blank"
