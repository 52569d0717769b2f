"""The work-order traveler: the paper that goes with the parts from operation to operation.

Page one carries the order (its number, and a barcode of the bare number, the ERP's key; item,
quantity, due date, priority, status, BOM version), then the BOM snapshot taken at release, then
one row per operation with its ``WO:<number>/<sequence>`` barcode, the planned quantity and
boxes to write good, scrap and rework quantities. The operations run onto further pages, under a
running header and the table's repeated header row.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer, Table

from mes.models import WorkOrder, WorkOrderComponent, WorkOrderOperation
from shopfloor.documents.barcodes import operation_code
from shopfloor.documents.layout import (
    ACCENT,
    CONTENT_WIDTH,
    DATETIME_FORMAT,
    FILL,
    INK,
    MUTED,
    RULE,
    BarcodeBlock,
    HeavyText,
    check_language,
    format_date,
    format_quantity,
    grid,
    paragraph,
    paragraph_style,
    render,
    table,
)


def traveler_pdf(work_order: WorkOrder, *, language: str) -> bytes:
    """The traveler of ``work_order`` as a PDF, with labels in ``language`` ("zh-hans" or "en").

    Four queries at most, however many operations and components the order has: its item and the
    item's unit (none when the caller loaded them with ``select_related("item__unit")``), its
    operations with their work centers, and its components with their items and units. Raises
    ``barcodes.UnprintableCode`` for an order number outside printable ASCII.
    """
    check_language(language)
    operations = list(work_order.operations.select_related("work_center").order_by("sequence"))
    components = list(work_order.components.select_related("item", "unit").order_by("position"))
    with override(language):
        return _render(work_order, operations, components)


def _render(work_order: WorkOrder, operations: list[WorkOrderOperation], components: list[WorkOrderComponent]) -> bytes:
    title = _("Work-order traveler")
    note = paragraph_style("note", size=9, color=MUTED, label=True)
    flowables: list[Flowable] = [
        _title_block(title, work_order),
        Spacer(0, 4 * mm),
        _order_table(work_order),
        # Materials come first: they are staged before the first operation starts.
        CondPageBreak(30 * mm),  # a heading never ends a page alone
        HeavyText(_("Bill of materials"), size=12, rule=True, space_before=6 * mm, space_after=2 * mm),
        _components_table(components) if components else paragraph(_("No components."), note),
        CondPageBreak(45 * mm),
        HeavyText(_("Operations"), size=12, rule=True, space_before=6 * mm, space_after=2 * mm),
        _operations_table(work_order, operations)
        if operations
        else paragraph(_("No operations: the order has not been released yet."), note),
    ]
    return render(
        flowables,
        title=f"{title} {work_order.number}",
        running_header=f"{title} {work_order.number}",
        footer_center=f"{work_order.number} · {work_order.item.code}",
    )


def _title_block(title: str, work_order: WorkOrder) -> Table:
    barcode_width = 78 * mm
    left = [HeavyText(title, size=20), Spacer(0, 1.5 * mm), HeavyText(work_order.number, size=15, color=ACCENT)]
    barcode = BarcodeBlock(work_order.number, width=barcode_width, bar_height=14 * mm, text_size=9)
    return table(
        [[left, barcode]],
        widths=[CONTENT_WIDTH - barcode_width, barcode_width],
        style=[
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("LINEBELOW", (0, 0), (-1, 0), 1.2, INK),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm),
        ],
    )


def _order_table(work_order: WorkOrder) -> Table:
    label = paragraph_style("label", size=8, color=MUTED, label=True)
    value = paragraph_style("value", size=10.5)
    item = work_order.item
    released_at = (
        formats.date_format(timezone.localtime(work_order.released_at), DATETIME_FORMAT)
        if work_order.released_at
        else "—"
    )
    rows = [
        [paragraph(_("Item"), label), paragraph(f"{item.code}  {item.name}", value), "", ""],
        [
            paragraph(_("Quantity"), label),
            paragraph(f"{format_quantity(work_order.quantity)} {item.unit.code}", value),
            paragraph(_("Due date"), label),
            paragraph(format_date(work_order.due_date), value),
        ],
        [
            paragraph(_("Priority"), label),
            paragraph(str(work_order.priority), value),
            paragraph(_("Status"), label),
            paragraph(capfirst(work_order.get_status_display()), value),
        ],
        [
            paragraph(_("BOM version"), label),
            paragraph(work_order.bom_version or "—", value),
            paragraph(_("Released at"), label),
            paragraph(released_at, value),
        ],
    ]
    return table(
        rows,
        widths=[24 * mm, 66 * mm, 24 * mm, CONTENT_WIDTH - 114 * mm],
        style=[
            ("SPAN", (1, 0), (3, 0)),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("BACKGROUND", (0, 0), (0, -1), FILL),
            ("BACKGROUND", (2, 1), (2, -1), FILL),  # row 0 is the item, spanning three cells
            ("BOX", (0, 0), (-1, -1), 0.8, INK),
            ("INNERGRID", (0, 0), (-1, -1), 0.4, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 2.2 * mm),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2 * mm),
        ],
    )


def _operations_table(work_order: WorkOrder, operations: list[WorkOrderOperation]) -> Table:
    unit = work_order.item.unit.code
    header_style = paragraph_style("header", size=8, color=MUTED, label=True)
    name_style = paragraph_style("operation", size=10.5, leading=13)
    detail_style = paragraph_style("detail", size=8, color=MUTED)
    flag_style = paragraph_style("flag", size=8, color=ACCENT)
    planned_style = paragraph_style("planned", size=10.5)
    widths = [40 * mm, 56 * mm, 18 * mm, 16 * mm, 16 * mm, 16 * mm]
    widths.append(CONTENT_WIDTH - sum(widths))
    headers = [_("Operation"), _("Barcode"), _("Planned"), _("Good"), _("Scrap"), _("Rework"), _("Signature / date")]
    data: list[list[object]] = [[paragraph(text, header_style) for text in headers]]
    for operation in operations:
        center = operation.work_center
        cell = [
            Paragraph(
                f'<font color="{ACCENT.hexval()}">{operation.sequence:04d}</font>&nbsp;&nbsp;{escape(operation.name)}',
                name_style,
            ),
            paragraph(f"{center.code}  {center.name}", detail_style),
        ]
        if operation.quality_checkpoint:
            cell.append(paragraph("◆ " + _("Quality checkpoint"), flag_style))
        barcode = BarcodeBlock(
            operation_code(work_order.number, operation.sequence),
            width=widths[1] - 4 * mm,
            bar_height=11 * mm,
            align="left",
        )
        planned = paragraph(f"{format_quantity(operation.planned_qty)} {unit}", planned_style)
        data.append([cell, barcode, planned, "", "", "", ""])
    return grid(
        data,
        widths=widths,
        style=[
            # The write-in boxes: a heavier frame so that they read as fields to fill.
            ("BOX", (3, 1), (5, -1), 0.8, INK),
            ("TOPPADDING", (0, 1), (-1, -1), 2 * mm),
            ("BOTTOMPADDING", (0, 1), (-1, -1), 2 * mm),
        ],
    )


def _components_table(components: list[WorkOrderComponent]) -> Table:
    header_style = paragraph_style("header", size=8, color=MUTED, label=True)
    cell_style = paragraph_style("cell", size=9.5)
    number_style = paragraph_style("number", size=9.5, alignment=TA_RIGHT)
    widths = [13 * mm, 40 * mm, 69 * mm, 24 * mm, 14 * mm]
    widths.append(CONTENT_WIDTH - sum(widths))
    headers = [_("Pos."), _("Item code"), _("Name"), _("Required"), _("Unit"), _("Lot")]
    data: list[list[object]] = [[paragraph(text, header_style) for text in headers]]
    for component in components:
        data.append(
            [
                paragraph(str(component.position), cell_style),
                paragraph(component.item.code, cell_style),
                paragraph(component.item.name, cell_style),
                paragraph(format_quantity(component.required_qty), number_style),
                paragraph(component.unit.code, cell_style),
                "",
            ]
        )
    return grid(
        data,
        widths=widths,
        style=[
            ("TOPPADDING", (0, 1), (-1, -1), 1.6 * mm),
            ("BOTTOMPADDING", (0, 1), (-1, -1), 1.6 * mm),
        ],
    )
