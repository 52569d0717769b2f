"""Badge cards: one ID-1 card (the size of a bank card) per employee, ten to an A4 sheet.

Each card carries the name, the badge number and the ``EMP:<badge>`` barcode an operator scans to
log in at a station. The cards touch one another; crop marks in the margins and a faint line
between the cards show where to cut, and nothing is printed within 3 mm of a card's edge, so a
cut that is a little off stays clean.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from mes.models import Employee
from shopfloor.documents.barcodes import code128, employee_code
from shopfloor.documents.fonts import FONT, register_font
from shopfloor.documents.layout import (
    ACCENT,
    FOOTER_Y,
    INK,
    MUTED,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE,
    check_language,
    draw_heavy,
    draw_text,
    printed_at,
    wrap_lines,
)

CARD_WIDTH = 85.6 * mm  # ISO/IEC 7810 ID-1
CARD_HEIGHT = 53.98 * mm
COLUMNS, ROWS = 2, 5
CARDS_PER_PAGE = COLUMNS * ROWS
GRID_LEFT = (PAGE_WIDTH - COLUMNS * CARD_WIDTH) / 2
GRID_RIGHT = GRID_LEFT + COLUMNS * CARD_WIDTH
GRID_TOP = (PAGE_HEIGHT + ROWS * CARD_HEIGHT) / 2
SAFE = 3 * mm
CROP_GAP = 2 * mm
CROP_LENGTH = 5 * mm


def badge_cards_pdf(employees: Iterable[Employee], *, language: str) -> bytes:
    """Badge cards for ``employees``, in the order given, with labels in ``language`` ("zh-hans" or "en").

    No query of its own: it reads only the employees' badge and name (a queryset passed is
    evaluated once). Inactive employees are printed like the others; filter them first if they
    should not be. Raises ``barcodes.UnprintableCode`` for a badge outside printable ASCII.
    """
    check_language(language)
    employees = list(employees)
    with override(language):
        return _render(employees)


def _render(employees: list[Employee]) -> bytes:
    register_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, initialFontName=FONT)
    title = _("Badge cards")
    canvas.setTitle(title)
    canvas.setAuthor("MES")
    canvas.setCreator("MES")
    printed = _("Printed %(time)s") % {"time": printed_at()}
    pages = [employees[start : start + CARDS_PER_PAGE] for start in range(0, len(employees), CARDS_PER_PAGE)] or [[]]
    # The page's own lines sit between the crop marks, clear of them.
    left, right = GRID_LEFT + SAFE, GRID_RIGHT - SAFE
    for number, page in enumerate(pages, start=1):
        draw_heavy(canvas, left, PAGE_HEIGHT - 9 * mm, title, size=10)
        draw_text(canvas, right, PAGE_HEIGHT - 9 * mm, _("Cut along the marks."), size=8, color=MUTED, anchor="end")
        draw_text(canvas, left, FOOTER_Y, printed, size=7.5, color=MUTED)
        page_label = _("Page %(page)s of %(pages)s") % {"page": number, "pages": len(pages)}
        draw_text(canvas, right, FOOTER_Y, page_label, size=7.5, color=MUTED, anchor="end")
        if not page:
            draw_text(
                canvas, PAGE_WIDTH / 2, PAGE_HEIGHT / 2, _("No employees."), size=11, color=MUTED, anchor="middle"
            )
        else:
            _draw_cut_marks(canvas, rows=(len(page) + COLUMNS - 1) // COLUMNS)
        for index, employee in enumerate(page):
            row, column = divmod(index, COLUMNS)
            x = GRID_LEFT + column * CARD_WIDTH
            y = GRID_TOP - (row + 1) * CARD_HEIGHT
            _draw_card(canvas, x, y, employee)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_cut_marks(canvas: Canvas, *, rows: int) -> None:
    xs = [GRID_LEFT + column * CARD_WIDTH for column in range(COLUMNS + 1)]
    ys = [GRID_TOP - row * CARD_HEIGHT for row in range(rows + 1)]
    canvas.saveState()
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.3)
    for x in xs:
        canvas.line(x, ys[0] + CROP_GAP, x, ys[0] + CROP_GAP + CROP_LENGTH)
        canvas.line(x, ys[-1] - CROP_GAP, x, ys[-1] - CROP_GAP - CROP_LENGTH)
    for y in ys:
        canvas.line(xs[0] - CROP_GAP, y, xs[0] - CROP_GAP - CROP_LENGTH, y)
        canvas.line(xs[-1] + CROP_GAP, y, xs[-1] + CROP_GAP + CROP_LENGTH, y)
    # The cut lines themselves, faint, for cutting with scissors rather than a trimmer.
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.25)
    canvas.setDash(1, 2)
    for x in xs:
        canvas.line(x, ys[0], x, ys[-1])
    for y in ys:
        canvas.line(xs[0], y, xs[-1], y)
    canvas.restoreState()


def _draw_card(canvas: Canvas, x: float, y: float, employee: Employee) -> None:
    inner_width = CARD_WIDTH - 2 * SAFE
    band_height = 9 * mm
    band_y = y + CARD_HEIGHT - SAFE - band_height
    canvas.saveState()
    canvas.setFillColor(ACCENT)
    canvas.roundRect(x + SAFE, band_y, inner_width, band_height, 1.5 * mm, stroke=0, fill=1)
    canvas.restoreState()
    text_x = x + SAFE + 3 * mm
    draw_heavy(canvas, text_x, band_y + 3.2 * mm, _("Employee badge"), size=9.5, color=colors.white)

    name_width = inner_width - 6 * mm
    size = 17.0
    while size > 11 and stringWidth(employee.name, FONT, size) > name_width:
        size -= 1
    name = wrap_lines(employee.name, width=name_width, size=size, max_lines=1)[0] if employee.name else ""
    name_baseline = band_y - 3 * mm - size * 0.8
    draw_heavy(canvas, text_x, name_baseline, name, size=size)
    draw_text(
        canvas, text_x, name_baseline - 5.5 * mm, _("Badge %(badge)s") % {"badge": employee.badge}, size=9, color=MUTED
    )

    value = employee_code(employee.badge)
    text_size = 8
    text_baseline = y + SAFE + 0.8 * mm
    bar_height = 13 * mm
    symbol = code128(value, max_width=inner_width, bar_height=bar_height)
    bars_y = text_baseline + text_size + 0.8 * mm
    canvas.saveState()
    canvas.setFillColor(colors.black)
    symbol.drawOn(canvas, x + (CARD_WIDTH - symbol.width) / 2, bars_y)
    canvas.restoreState()
    draw_text(canvas, x + CARD_WIDTH / 2, text_baseline, value, size=text_size, anchor="middle")
