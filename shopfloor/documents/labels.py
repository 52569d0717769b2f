"""The label of a lot or a serial: 100 × 60 mm, a QR code holding the lot's code (what a station's
lot scan reads) and the text a person checks by eye: item and name, lot or serial, quantity and
unit, the order that made it and when.
"""

from __future__ import annotations

import io

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from mes.models import Lot
from shopfloor.documents.fonts import FONT, register_font
from shopfloor.documents.layout import (
    ACCENT,
    MUTED,
    check_language,
    draw_heavy,
    draw_text,
    format_date,
    format_quantity,
    printed_at,
    wrap_lines,
)

LABEL_WIDTH, LABEL_HEIGHT = 100 * mm, 60 * mm
EDGE = 3 * mm
QR_SIZE = 30 * mm


def lot_label_pdf(lot: Lot, *, language: str) -> bytes:
    """The label of ``lot`` (its item, unit and producing order read through it) in ``language``."""
    check_language(language)
    with override(language):
        return _render(lot)


def _render(lot: Lot) -> bytes:
    register_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(LABEL_WIDTH, LABEL_HEIGHT), initialFontName=FONT)
    is_serial = lot.kind == Lot.Kind.SERIAL
    title = _("Serial label") if is_serial else _("Lot label")
    canvas.setTitle(f"{title} {lot.item.code} {lot.code}")
    canvas.setAuthor("MES")
    canvas.setCreator("MES")

    band_height = 8 * mm
    canvas.saveState()
    canvas.setFillColor(ACCENT)
    canvas.rect(0, LABEL_HEIGHT - band_height, LABEL_WIDTH, band_height, stroke=0, fill=1)
    canvas.restoreState()
    draw_heavy(canvas, EDGE, LABEL_HEIGHT - band_height + 2.6 * mm, title, size=10, color=colors.white)

    qr = QrCodeWidget(lot.code, barLevel="M")
    left, bottom, right, top = qr.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (right - left), 0, 0, QR_SIZE / (top - bottom), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, canvas, LABEL_WIDTH - EDGE - QR_SIZE, LABEL_HEIGHT - band_height - 2 * mm - QR_SIZE)

    text_width = LABEL_WIDTH - 3 * EDGE - QR_SIZE
    y = LABEL_HEIGHT - band_height - 7 * mm
    draw_heavy(canvas, EDGE, y, wrap_lines(lot.code, width=text_width, size=13, max_lines=1)[0], size=13)
    y -= 5.5 * mm
    draw_text(canvas, EDGE, y, (_("Serial") if is_serial else _("Lot")) + f" · {lot.item.code}", size=8, color=MUTED)
    for line in wrap_lines(lot.item.name, width=text_width, size=9, max_lines=2):
        y -= 4.5 * mm
        draw_text(canvas, EDGE, y, line, size=9)
    y -= 6 * mm
    draw_heavy(canvas, EDGE, y, f"{format_quantity(lot.quantity_on_hand)} {lot.unit.code}", size=11)
    facts = [
        _("Produced by %(order)s") % {"order": lot.produced_by.number} if lot.produced_by_id else _("Received from the ERP"),
        _("Date %(date)s") % {"date": format_date(timezone.localdate(lot.created_at))},
    ]
    y = EDGE + 4 * mm
    for fact in reversed(facts):
        draw_text(canvas, EDGE, y, fact, size=8)
        y += 4 * mm
    draw_text(canvas, LABEL_WIDTH - EDGE, EDGE, _("Printed %(time)s") % {"time": printed_at()}, size=6, color=MUTED, anchor="end")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
