"""Reading back what the documents print: text, embedded fonts, and the barcodes a scanner would read."""

from __future__ import annotations

import io
import re

import pypdf
import pypdfium2
import zxingcpp

SCAN_DPI = 300


def pdf_pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def embedded_fonts(pdf: bytes) -> set[str]:
    """The names of the fonts whose program is inside the file, without reportlab's subset prefix
    and suffix ("AAAAAB+NotoSans-1" is "NotoSans")."""
    names = set()
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                names.add(re.sub(r"-\d+$", "", str(font["/BaseFont"]).lstrip("/").split("+")[-1]))
    return names


def unembedded_fonts(pdf: bytes) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None or not any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                names.add(str(font["/BaseFont"]).lstrip("/"))
    return names


def scanned_codes(pdf: bytes) -> list[str]:
    """What a Code 128 scanner reads off each page printed at 300 dpi, page by page, top to bottom."""
    codes = []
    document = pypdfium2.PdfDocument(pdf)
    try:
        for page in document:
            image = page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil()
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)
            codes.extend(
                barcode.text for barcode in sorted(found, key=lambda b: (b.position.top_left.y, b.position.top_left.x))
            )
    finally:
        document.close()
    return codes
