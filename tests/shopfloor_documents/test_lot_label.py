"""The label of a lot or a serial: a PDF with a QR code and the lot's text, in either language,
for anyone who may trace and for a station; an unknown lot is a 404."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp

from mes.models import Lot
from shopfloor.station.services import station_create
from tests.shopfloor_documents.pdf_reading import SCAN_DPI, pdf_pages, pdf_text
from tests.station.conftest import station_client

URL = "/api/v1/lots/{item}/{lot}/label.pdf"


def text_of(pdf: bytes, tmp_path) -> str:
    return pdf_text(pdf)


def qr_codes(pdf: bytes) -> list[str]:
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil()
    return [code.text for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def renders(pdf: bytes, tmp_path) -> bool:
    path = tmp_path / "label.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "72", str(path), str(tmp_path / "page")], check=True)
    return (tmp_path / "page-1.png").stat().st_size > 1000


@pytest.fixture
def output_lot(released_order):
    return Lot.objects.create(item=released_order.item, code="WO-1001-20261207", unit=released_order.item.unit, produced_qty=Decimal(6), produced_by=released_order)


@pytest.mark.subprocess
@pytest.mark.parametrize(("language", "words"), [("en", ["Lot label", "Produced by WO-1001"]), ("zh-hans", ["批次标签", "生产工单 WO-1001"])])
def test_the_label_of_an_output_lot_carries_its_text_in_the_language_asked(output_lot, supervisor, tmp_path, language, words):
    response = supervisor.get(URL.format(item="FRAME-100", lot=output_lot.code) + f"?lang={language}")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = text_of(response.content, tmp_path)
    assert output_lot.code in text and "FRAME-100" in text and "6 PCS" in text
    assert all(word in text for word in words), text
    assert qr_codes(response.content) == [output_lot.code] and pdf_pages(response.content) == 1
    assert renders(response.content, tmp_path)


def test_a_serial_prints_as_a_serial_label_and_a_station_may_print_it(released_order, tmp_path):
    Lot.objects.create(item=released_order.item, code="SN-0001", kind="serial", unit=released_order.item.unit, produced_qty=1, produced_by=released_order)
    tablet = station_client(station_create(work_center_code="WC-PAINT")[1])

    response = tablet.get(URL.format(item="FRAME-100", lot="SN-0001") + "?lang=en")

    assert response.status_code == 200
    assert "Serial label" in text_of(response.content, tmp_path) and "SN-0001" in text_of(response.content, tmp_path)


def test_an_unknown_lot_is_404_and_a_stranger_is_refused(output_lot, supervisor, anonymous):
    missing = supervisor.get(URL.format(item="FRAME-100", lot="NOPE"))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "lot_unknown")
    assert anonymous.get(URL.format(item="FRAME-100", lot=output_lot.code)).status_code in (401, 403)
    assert supervisor.get(URL.format(item="FRAME-100", lot=output_lot.code) + "?lang=fr").status_code == 400
