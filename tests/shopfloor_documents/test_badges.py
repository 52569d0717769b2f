"""Badge cards: name, badge number and the EMP:<badge> barcode, ten ID-1 cards to an A4 page."""

from __future__ import annotations

import pytest

from mes.models import Employee
from shopfloor.documents import badge_cards_pdf
from tests.shopfloor_documents.pdf_reading import (
    embedded_fonts,
    pdf_pages,
    pdf_text,
    scanned_codes,
    unembedded_fonts,
)

pytestmark = pytest.mark.django_db

NAMES = ["李伟", "王芳", "张伟", "刘洋", "陈静", "Maria Schmidt", "欧阳明轩", "赵敏", "周杰", "孙丽", "黄磊", "Tom Li"]


def employees() -> list[Employee]:
    Employee.objects.bulk_create(Employee(badge=f"B-{1001 + index}", name=name) for index, name in enumerate(NAMES))
    return list(Employee.objects.order_by("badge"))


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("zh-hans", ["工牌卡片", "员工工牌", "工牌号 B-1001", "工牌号 B-1012", "请沿裁切线裁剪。", "第 2 页，共 2 页"]),
        (
            "en",
            ["Badge cards", "Employee badge", "Badge B-1001", "Badge B-1012", "Cut along the marks.", "Page 2 of 2"],
        ),
    ],
)
def test_badge_cards_print_name_badge_and_login_code_ten_to_a_page(language, labels):
    people = employees()

    pdf = badge_cards_pdf(people, language=language)

    assert pdf.startswith(b"%PDF-")
    assert pdf_pages(pdf) == 2
    assert embedded_fonts(pdf) == set(), "reportlab's built-in CID face needs no font file"
    assert unembedded_fonts(pdf) == {"STSong-Light"}
    text = pdf_text(pdf)
    for expected in [*labels, *NAMES, "EMP:B-1001", "EMP:B-1012"]:
        assert expected in text, expected


def test_badge_card_barcodes_scan_as_the_login_codes_in_the_order_given():
    people = employees()

    pdf = badge_cards_pdf(people, language="en")

    assert scanned_codes(pdf) == [f"EMP:B-{badge}" for badge in range(1001, 1013)]


def test_badge_cards_read_a_queryset_once(django_assert_num_queries):
    employees()

    with django_assert_num_queries(1):
        badge_cards_pdf(Employee.objects.order_by("badge"), language="zh-hans")


def test_badge_cards_of_nobody_print_a_page_that_says_so():
    pdf = badge_cards_pdf([], language="en")

    assert pdf_pages(pdf) == 1
    assert "No employees." in pdf_text(pdf)
    assert scanned_codes(pdf) == []
