"""What the three documents share: A4 pages, the type scale, the barcode block, page furniture.

Every text is drawn in the one CJK face (``fonts.FONT``). It has a single weight, so
headings are set bolder by stroking the glyph outline as well as filling it (``draw_heavy``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from shopfloor.documents.barcodes import code128
from shopfloor.documents.fonts import FONT, register_font

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_Y = 9 * mm

INK = colors.HexColor("#111827")
MUTED = colors.HexColor("#4B5563")
RULE = colors.HexColor("#9CA3AF")
FILL = colors.HexColor("#EEF0F3")
ACCENT = colors.HexColor("#1E3A5F")

DATE_FORMAT = "Y-m-d"  # ISO 8601 (GB/T 7408): one reading on the floor, in either language
DATETIME_FORMAT = "Y-m-d H:i"


def check_language(language: str) -> None:
    """Refuse a language the project does not translate into, rather than print the default one."""
    languages = {code for code, _name in settings.LANGUAGES}
    if language not in languages:
        raise ValueError(f"Unsupported language {language!r}; expected one of {', '.join(sorted(languages))}")


def format_quantity(value: Decimal | int) -> str:
    """A quantity without trailing zeros (10.000 → 10, 2.500 → 2.5), in the active locale."""
    value = Decimal(value)
    value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return formats.number_format(value, use_l10n=True)


def format_date(value: Any) -> str:
    return formats.date_format(value, DATE_FORMAT)


def printed_at() -> str:
    return formats.date_format(timezone.localtime(), DATETIME_FORMAT)


def paragraph_style(
    name: str,
    *,
    size: float,
    leading: float | None = None,
    color: colors.Color = INK,
    alignment: int = TA_LEFT,
    label: bool = False,
) -> ParagraphStyle:
    """A paragraph style in the CJK face. Data text (names from the ERP, Chinese or not) may break
    between any two characters, as Chinese does; a ``label`` of ours breaks only between words
    unless the active language is Chinese, so that "Signature / date" never splits inside a word."""
    word_wrap = None if label and not get_language().startswith("zh") else "CJK"
    return ParagraphStyle(
        name,
        fontName=register_font(),
        fontSize=size,
        leading=leading or size * 1.3,
        textColor=color,
        alignment=alignment,
        wordWrap=word_wrap,
    )


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of data text: escaped, since names and codes come from the ERP, not from us."""
    return Paragraph(escape(text), style)


def table(rows: list[list[Any]], *, widths: list[float], style: list[tuple], repeat_rows: int = 0) -> Table:
    """A reportlab table set in the CJK face (a table sets its font even for a cell that holds a
    flowable, and the default would name the unembedded Helvetica)."""
    result = Table(rows, colWidths=widths, repeatRows=repeat_rows)
    result.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), register_font(), 9), *style]))
    return result


def grid(rows: list[list[Any]], *, widths: list[float], valign: str = "MIDDLE", style: Sequence[tuple] = ()) -> Table:
    """A table of data with a header row: the header shaded and ruled off, a frame, a fine inner
    grid, the header repeated on every page it runs onto; ``style`` adds to that."""
    return table(
        rows,
        widths=widths,
        repeat_rows=1,
        style=[
            ("VALIGN", (0, 0), (-1, -1), valign),
            ("BACKGROUND", (0, 0), (-1, 0), FILL),
            ("BOX", (0, 0), (-1, -1), 0.8, INK),
            ("INNERGRID", (0, 0), (-1, -1), 0.4, RULE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
            *style,
        ],
    )


_TOKEN = re.compile(r"[0-9A-Za-z_\-./:#()+]+|\s+|.")


def wrap_lines(text: str, *, width: float, size: float, max_lines: int) -> list[str]:
    """Break ``text`` into at most ``max_lines`` lines no wider than ``width``, keeping Latin words
    whole where they fit and breaking between any two Chinese characters; a cut last line ends in …"""
    register_font()  # measured before anything else of a document may have registered the face
    lines: list[str] = []
    line = ""
    tokens = _TOKEN.findall(" ".join(text.split()))
    while tokens:
        token = tokens.pop(0)
        if stringWidth(line + token, FONT, size) <= width:
            line += token
            continue
        if not line.strip() and len(token) > 1:
            # A single word wider than the line: break it by character.
            tokens[:0] = list(token)
            continue
        lines.append(line.rstrip())
        line = "" if token.isspace() else token
        if len(lines) == max_lines:
            break
    else:
        if line.strip():
            lines.append(line.rstrip())
        return lines
    last = lines[-1]
    while last and stringWidth(last + "…", FONT, size) > width:
        last = last[:-1]
    lines[-1] = last.rstrip() + "…"
    return lines


def draw_heavy(
    canvas: Canvas, x: float, y: float, text: str, *, size: float, color: colors.Color = INK, anchor: str = "start"
) -> None:
    """Draw ``text`` in a heavier weight than the face has: the outline is stroked as well as filled."""
    register_font()
    width = stringWidth(text, FONT, size)
    if anchor == "middle":
        x -= width / 2
    elif anchor == "end":
        x -= width
    canvas.saveState()
    canvas.setFillColor(color)
    canvas.setStrokeColor(color)
    canvas.setLineWidth(size * 0.035)
    text_object = canvas.beginText(x, y)
    text_object.setFont(FONT, size)
    text_object.setTextRenderMode(2)  # fill, then stroke
    text_object.textOut(text)
    canvas.drawText(text_object)
    canvas.restoreState()


def draw_text(
    canvas: Canvas, x: float, y: float, text: str, *, size: float, color: colors.Color = INK, anchor: str = "start"
) -> None:
    canvas.saveState()
    canvas.setFillColor(color)
    canvas.setFont(register_font(), size)
    if anchor == "middle":
        canvas.drawCentredString(x, y, text)
    elif anchor == "end":
        canvas.drawRightString(x, y, text)
    else:
        canvas.drawString(x, y, text)
    canvas.restoreState()


class BarcodeBlock(Flowable):
    """A Code 128 symbol with its text printed under it, and optionally a caption above.

    The line under the bars is exactly what the scanner types, so a code can be keyed in by hand
    when a label is damaged.
    """

    def __init__(
        self,
        value: str,
        *,
        width: float,
        bar_height: float,
        caption: str = "",
        caption_lines: int = 0,
        caption_size: float = 10,
        heavy_caption: bool = False,
        text_size: float = 8,
        align: str = "center",
    ) -> None:
        super().__init__()
        self.value = value
        self.width = width
        self.bar_height = bar_height
        self.caption_size = caption_size
        self.heavy_caption = heavy_caption
        self.text_size = text_size
        self.align = align
        self.symbol = code128(value, max_width=width, bar_height=bar_height)
        self.caption_lines = (
            wrap_lines(caption, width=width, size=caption_size, max_lines=caption_lines) if caption_lines else []
        )
        # The caption's full height is reserved even when it wraps to fewer lines, so rows line up.
        self.caption_height = caption_lines * caption_size * 1.25 + 1.5 * mm if caption_lines else 0
        self.height = self.caption_height + bar_height + 1.2 * mm + text_size * 1.1

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        if self.align == "center":
            symbol_x = (self.width - self.symbol.width) / 2
            text_x, anchor = self.width / 2, "middle"
        else:
            symbol_x = 0
            text_x, anchor = self.symbol.lquiet, "start"
        y = self.height
        for line in self.caption_lines:
            y_line = y - self.caption_size
            if self.heavy_caption:
                draw_heavy(canvas, text_x, y_line, line, size=self.caption_size, anchor=anchor)
            else:
                draw_text(canvas, text_x, y_line, line, size=self.caption_size, anchor=anchor)
            y -= self.caption_size * 1.25
        bars_bottom = self.height - self.caption_height - self.bar_height
        canvas.saveState()
        canvas.setFillColor(colors.black)
        self.symbol.drawOn(canvas, symbol_x, bars_bottom)
        canvas.restoreState()
        draw_text(
            canvas,
            text_x,
            bars_bottom - 1.2 * mm - self.text_size * 0.8,
            self.value,
            size=self.text_size,
            anchor=anchor,
        )


class NumberedCanvas(Canvas):
    """A canvas that knows the page count when it writes the pages, for "page 2 of 3"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_states: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            draw_text(
                self,
                PAGE_WIDTH - MARGIN,
                FOOTER_Y,
                _("Page %(page)s of %(pages)s") % {"page": self._pageNumber, "pages": pages},
                size=7.5,
                color=MUTED,
                anchor="end",
            )
            super().showPage()
        super().save()


RUNNING_HEADER_HEIGHT = 11 * mm


def render(flowables: Sequence[Flowable], *, title: str, running_header: str, footer_center: str = "") -> bytes:
    """Lay ``flowables`` out on as many A4 pages as they need.

    Every page gets a footer (when it was printed, ``footer_center``, "page 2 of 3"); every page
    after the first starts under ``running_header``, so that a page that comes loose still says
    what it belongs to. ``title`` goes into the PDF's metadata.
    """
    register_font()
    printed = _("Printed %(time)s") % {"time": printed_at()}

    def first_page(canvas: Canvas, document: BaseDocTemplate) -> None:
        _draw_footer(canvas, left=printed, center=footer_center)

    def later_page(canvas: Canvas, document: BaseDocTemplate) -> None:
        baseline = PAGE_HEIGHT - MARGIN - 4 * mm
        header = wrap_lines(running_header, width=CONTENT_WIDTH, size=10, max_lines=1)
        draw_heavy(canvas, MARGIN, baseline, header[0] if header else "", size=10)
        _draw_rule(canvas, baseline - 2.5 * mm)
        _draw_footer(canvas, left=printed, center=footer_center)

    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="MES",
        creator="MES",
        initialFontName=FONT,  # else every page names Helvetica as well, a second face for nothing
    )
    document.addPageTemplates(
        [
            PageTemplate(id="first", frames=[_frame(top=MARGIN)], onPage=first_page),
            PageTemplate(id="later", frames=[_frame(top=MARGIN + RUNNING_HEADER_HEIGHT)], onPage=later_page),
        ]
    )
    document.build([NextPageTemplate("later"), *flowables], canvasmaker=NumberedCanvas)
    return buffer.getvalue()


def _frame(*, top: float) -> Frame:
    bottom = FOOTER_Y + 8 * mm
    return Frame(
        MARGIN,
        bottom,
        CONTENT_WIDTH,
        PAGE_HEIGHT - top - bottom,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )


def _draw_rule(canvas: Canvas, y: float) -> None:
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, y, PAGE_WIDTH - MARGIN, y)
    canvas.restoreState()


def _draw_footer(canvas: Canvas, *, left: str, center: str) -> None:
    _draw_rule(canvas, FOOTER_Y + 4 * mm)
    draw_text(canvas, MARGIN, FOOTER_Y, left, size=7.5, color=MUTED)
    if center:
        draw_text(canvas, PAGE_WIDTH / 2, FOOTER_Y, center, size=7.5, color=MUTED, anchor="middle")


class HeavyText(Flowable):
    """One line of heavy text, e.g. a title or a section heading, with an optional rule under it;
    cut short with … if the line is too narrow for it."""

    def __init__(
        self,
        text: str,
        *,
        size: float,
        color: colors.Color = INK,
        rule: bool = False,
        space_before: float = 0,
        space_after: float = 0,
    ) -> None:
        super().__init__()
        self.text = text
        self.size = size
        self.color = color
        self.rule = rule
        self.spaceBefore = space_before
        self.spaceAfter = space_after

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        self.height = self.size * 1.25 + (2 * mm if self.rule else 0)
        return self.width, self.height

    def draw(self) -> None:
        baseline = self.height - self.size
        line = wrap_lines(self.text, width=self.width, size=self.size, max_lines=1)
        draw_heavy(self.canv, 0, baseline, line[0] if line else "", size=self.size, color=self.color)
        if self.rule:
            self.canv.saveState()
            self.canv.setStrokeColor(self.color)
            self.canv.setLineWidth(0.8)
            self.canv.line(0, 0.6 * mm, self.width, 0.6 * mm)
            self.canv.restoreState()
