"""The station sheet: the barcodes an operator scans besides the traveler's, pinned at the station.

Actions (ACT:…), quantity shortcuts (QTY:…, SCRAP:1, REWORK:1), the andon reasons (RC:…, scanned after
ACT:ANDON), inspection results (PASS and each defect code as FAIL:…) and every other reason code (RC:…) grouped by kind, each a Code 128 with its
caption above and its exact text below.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Spacer, Table

from mes.models import ReasonCode, WorkCenter
from shopfloor.documents.barcodes import (
    ACTIONS,
    PASS,
    action_code,
    fail_code,
    quantity_code,
    reason_code,
    rework_code,
    scrap_code,
)
from shopfloor.documents.layout import (
    ACCENT,
    CONTENT_WIDTH,
    MUTED,
    RULE,
    BarcodeBlock,
    HeavyText,
    check_language,
    paragraph,
    paragraph_style,
    render,
    table,
)

QUANTITY_SHORTCUTS = (1, 2, 5, 10, 20, 50)
CELL_PADDING = 3 * mm


def station_sheet_pdf(work_center: WorkCenter | None, reason_codes: Iterable[ReasonCode], *, language: str) -> bytes:
    """The station sheet as a PDF, for ``work_center`` (or for every station when None), with labels in
    ``language`` ("zh-hans" or "en").

    No query of its own: it reads only the fields of the objects given (a queryset passed as
    ``reason_codes`` is evaluated once). Pass the reason codes in the order to print; they are
    grouped by kind in the order of ``ReasonCode.Kind``. Raises ``barcodes.UnprintableCode`` for a
    reason code outside printable ASCII.
    """
    check_language(language)
    reason_codes = list(reason_codes)
    with override(language):
        return _render(work_center, reason_codes)


def _action_labels() -> dict[str, str]:
    return {
        "START": _("Start"),
        "PAUSE": _("Pause"),
        "REPORT": _("Report"),
        "FINISH": _("Finish (final report)"),
        "LOGOUT": _("Log out"),
        "CLOCKOFF": _("Clock off"),
        "ANDON": _("Andon: call for help"),
    }


def _render(work_center: WorkCenter | None, reason_codes: list[ReasonCode]) -> bytes:
    title = _("Station barcode sheet")
    if work_center is None:
        station = _("All work centers")
    else:
        station = f"{work_center.code}  {work_center.name}"
        if work_center.line:
            station += "  ·  " + _("Line %(line)s") % {"line": work_center.line}
    labels = _action_labels()
    actions = [
        BarcodeBlock(
            action_code(action),
            caption=labels[action],
            caption_lines=1,
            caption_size=13,
            heavy_caption=True,
            width=_cell_width(3),
            bar_height=15 * mm,
            text_size=9,
        )
        for action in ACTIONS
    ]
    quantities = [
        BarcodeBlock(
            quantity_code(quantity),
            caption=_("Good %(quantity)s") % {"quantity": quantity},
            caption_lines=1,
            caption_size=11,
            heavy_caption=True,
            width=_cell_width(4),
            bar_height=12 * mm,
        )
        for quantity in QUANTITY_SHORTCUTS
    ]
    quantities += [
        BarcodeBlock(
            scrap_code(1),
            caption=_("Scrap %(quantity)s") % {"quantity": 1},
            caption_lines=1,
            caption_size=11,
            heavy_caption=True,
            width=_cell_width(4),
            bar_height=12 * mm,
        ),
        BarcodeBlock(
            rework_code(1),
            caption=_("Rework %(quantity)s") % {"quantity": 1},
            caption_lines=1,
            caption_size=11,
            heavy_caption=True,
            width=_cell_width(4),
            bar_height=12 * mm,
        ),
    ]
    flowables: list[Flowable] = [
        HeavyText(title, size=20, space_after=1.5 * mm),
        HeavyText(station, size=13, color=ACCENT, rule=True, space_after=2.5 * mm),
        paragraph(
            _("A report takes three scans: the operation's barcode on the traveler, a quantity, then Report."),
            paragraph_style("hint", size=9, color=MUTED, label=True),
        ),
        HeavyText(_("Actions"), size=12, space_before=5 * mm, space_after=1.5 * mm),
        _grid(actions, columns=3),
        CondPageBreak(60 * mm),  # a heading never ends a page alone
        HeavyText(_("Quantities"), size=12, space_before=5 * mm, space_after=1.5 * mm),
        _grid(quantities, columns=4),
    ]
    flowables.extend(_andon_codes([code for code in reason_codes if code.kind == ReasonCode.Kind.ANDON]))
    flowables.extend(_inspection_codes([code for code in reason_codes if code.kind == ReasonCode.Kind.DEFECT]))
    flowables += [CondPageBreak(50 * mm), HeavyText(_("Reason codes"), size=12, space_before=5 * mm)]
    flowables.extend(_reason_code_groups([code for code in reason_codes if code.kind not in (ReasonCode.Kind.DEFECT, ReasonCode.Kind.ANDON)]))
    return render(
        flowables,
        title=f"{title} {station}",
        running_header=f"{title}  {station}",
        footer_center=work_center.code if work_center else "",
    )


def _andon_codes(andon_codes: list[ReasonCode]) -> list[Flowable]:
    """The andon reasons, each as RC:<code>: scanned after ACT:ANDON, they call for help of their kind."""
    if not andon_codes:
        return []
    blocks = [
        BarcodeBlock(reason_code(code.code), caption=code.name, caption_lines=2, caption_size=10, heavy_caption=True,
                     width=_cell_width(3), bar_height=12 * mm)
        for code in andon_codes
    ]
    return [
        CondPageBreak(50 * mm),
        HeavyText(_("Andon: call for help"), size=12, color=ACCENT, space_before=5 * mm, space_after=1.5 * mm),
        paragraph(
            _("Scan ACT:ANDON, then the reason: the call goes to the people who handle it, and escalates until someone answers."),
            paragraph_style("hint", size=9, color=MUTED, label=True),
        ),
        _grid(blocks, columns=3),
    ]


def _inspection_codes(defect_codes: list[ReasonCode]) -> list[Flowable]:
    """PASS, and each defect code as FAIL:<code>, for the inspection the station asks for."""
    blocks = [
        BarcodeBlock(PASS, caption=_("Inspection passed"), caption_lines=1, caption_size=11, heavy_caption=True, width=_cell_width(3), bar_height=12 * mm)
    ] + [
        BarcodeBlock(fail_code(code.code), caption=_("Failed: %(name)s") % {"name": code.name}, caption_lines=2, caption_size=9.5,
                     width=_cell_width(3), bar_height=11 * mm)
        for code in defect_codes
    ]
    return [
        CondPageBreak(50 * mm),
        HeavyText(_("Inspection"), size=12, space_before=5 * mm, space_after=1.5 * mm),
        paragraph(
            _("A measured value: type it (or let the gauge type it) and press Enter, or scan VAL:<value>. A pass/fail check: PASS, or FAIL with the defect."),
            paragraph_style("hint", size=9, color=MUTED, label=True),
        ),
        _grid(blocks, columns=3),
    ]


def _reason_code_groups(reason_codes: list[ReasonCode]) -> list[Flowable]:
    if not reason_codes:
        return [
            Spacer(0, 1.5 * mm),
            paragraph(_("No reason codes."), paragraph_style("note", size=9, color=MUTED, label=True)),
        ]
    by_kind: dict[str, list[ReasonCode]] = {}
    for code in reason_codes:
        by_kind.setdefault(code.kind, []).append(code)
    known = [kind for kind in ReasonCode.Kind.values if kind in by_kind]
    groups: list[Flowable] = []
    for kind in known + [kind for kind in by_kind if kind not in known]:
        label = capfirst(ReasonCode.Kind(kind).label) if kind in ReasonCode.Kind.values else kind
        blocks = [
            BarcodeBlock(
                reason_code(code.code),
                caption=code.name,
                caption_lines=2,
                caption_size=9.5,
                width=_cell_width(3),
                bar_height=11 * mm,
            )
            for code in by_kind[kind]
        ]
        groups += [
            CondPageBreak(40 * mm),
            HeavyText(f"{label} ({len(blocks)})", size=10, color=MUTED, space_before=2.5 * mm, space_after=1 * mm),
            _grid(blocks, columns=3),
        ]
    return groups


def _cell_width(columns: int) -> float:
    return CONTENT_WIDTH / columns - 2 * CELL_PADDING


def _grid(blocks: list[BarcodeBlock], *, columns: int) -> Table:
    """Blocks in rows of ``columns`` equal cells, each framed, so that one scan aims at one code."""
    rows = [blocks[start : start + columns] for start in range(0, len(blocks), columns)]
    rows[-1] = rows[-1] + [""] * (columns - len(rows[-1]))
    style = [
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("BOTTOMPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]
    for row_index, row in enumerate(rows):
        for column_index, cell in enumerate(row):
            if cell != "":
                style.append(("BOX", (column_index, row_index), (column_index, row_index), 0.5, RULE))
    return table(rows, widths=[CONTENT_WIDTH / columns] * columns, style=style)
