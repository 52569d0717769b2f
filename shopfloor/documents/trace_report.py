"""The trace report: a lot or serial on paper, what it was made from and what was made from it.

Built from the two trees ``mes.selectors.trace`` answers (no query of its own), each as one table
whose first column is indented by level: backward, every lot with the order that made it and that
order's reports; forward, every order a lot went into, with what that order made under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Spacer

from shopfloor.documents.layout import (
    ACCENT,
    CONTENT_WIDTH,
    DATETIME_FORMAT,
    MUTED,
    HeavyText,
    check_language,
    format_quantity,
    grid,
    paragraph,
    paragraph_style,
    render,
)

INDENT = 4 * mm
MAX_INDENT_LEVELS = 12  # deeper levels print at this indent, so a deep tree keeps a readable column


def trace_report_pdf(*, backward: dict[str, Any], forward: dict[str, Any], language: str) -> bytes:
    """The report of one lot or serial as a PDF in ``language`` ("zh-hans" or "en")."""
    check_language(language)
    with override(language):
        return _render(backward, forward)


def _when(value) -> str:
    return formats.date_format(timezone.localtime(value), DATETIME_FORMAT)


def _kind(node: dict[str, Any]) -> str:
    return _("serial") if node["kind"] == "serial" else _("lot")


def _render(backward: dict[str, Any], forward: dict[str, Any]) -> bytes:
    title = _("Trace report")
    subject = f"{backward['item']} {backward['code']}"
    note = paragraph_style("note", size=9, color=MUTED, label=True)
    flowables: list[Flowable] = [
        HeavyText(title, size=20),
        Spacer(0, 1.5 * mm),
        HeavyText(f"{_kind(backward)} {subject}", size=15, color=ACCENT, rule=True, space_after=3 * mm),
        paragraph(_("Genealogy by order: a lot made by an order was made from every lot net-issued to that order."), note),
        CondPageBreak(30 * mm),
        HeavyText(_("Made from (backward)"), size=12, rule=True, space_before=6 * mm, space_after=2 * mm),
        _backward_table(backward),
        CondPageBreak(30 * mm),
        HeavyText(_("Went into (forward)"), size=12, rule=True, space_before=6 * mm, space_after=2 * mm),
        _forward_table(forward) if forward["consumed_by"] else paragraph(_("Not used in any order yet."), note),
    ]
    if backward.get("truncated") or forward.get("truncated"):
        flowables.append(paragraph(_("The tree is cut at 50 levels."), note))
    return render(flowables, title=f"{title} {subject}", running_header=f"{title} {subject}", footer_center=subject)


def _indented(level: int):
    return paragraph_style(f"level-{level}", size=9.5, leading=12).clone(
        f"level-{level}", leftIndent=min(level, MAX_INDENT_LEVELS) * INDENT
    )


def _walk_backward(node: dict[str, Any], level: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    yield level, node
    for child in node["consumed"]:
        yield from _walk_backward(child, level + 1)


def _reports(node: dict[str, Any]) -> list[str]:
    lines = []
    for operation in node["produced_by"]["operations"]:
        for row in operation["confirmations"]:
            who = " ".join(part for part in (row["operator_badge"], row["station"]) if part)
            lines.append(
                f"{operation['sequence']} {operation['name']} · {_when(row['at'])} · "
                + _("good %(good)s, scrap %(scrap)s") % {"good": format_quantity(row["good_qty"]), "scrap": format_quantity(row["scrap_qty"])}
                + (f" · {who}" if who else "")
            )
        if not operation["confirmations"]:
            lines.append(f"{operation['sequence']} {operation['name']} · —")
    return lines


def _header(*labels: str) -> list:
    style = paragraph_style("header", size=8, color=MUTED, label=True)
    return [paragraph(label, style) for label in labels]


def _backward_table(root: dict[str, Any]):
    cell = paragraph_style("cell", size=9, leading=11.5)
    rows = [_header(_("Lot or serial"), _("Quantity"), _("Made by order"), _("Reports"))]
    for level, node in _walk_backward(root):
        label = f"{_kind(node)} {node['item']} {node['code']}" + (" " + _("(again: a cycle, not followed)") if node.get("cycle") else "")
        made_by = node["produced_by"]["work_order"] if node["produced_by"] else _("from the ERP")
        quantity = format_quantity(node["quantity"]) if "quantity" in node else ""
        reports = _reports(node) if node["produced_by"] and not node.get("cycle") else []
        rows.append(
            [paragraph(label, _indented(level)), paragraph(quantity, cell), paragraph(made_by, cell),
             [paragraph(line, cell) for line in reports]]
        )
    return grid(rows, widths=[70 * mm, 18 * mm, 28 * mm, CONTENT_WIDTH - 116 * mm], valign="TOP")


def _walk_forward(node: dict[str, Any], level: int = 0) -> Iterator[tuple[int, str, str, str]]:
    yield level, f"{_kind(node)} {node['item']} {node['code']}" + (" " + _("(again: a cycle, not followed)") if node.get("cycle") else ""), "", ""
    for use in node["consumed_by"]:
        order = _("→ order %(number)s, operation %(sequence)s") % {"number": use["work_order"], "sequence": use["operation"]}
        yield level + 1, order, format_quantity(use["quantity"]), _when(use["at"])
        for child in use["produced"]:
            yield from _walk_forward(child, level + 2)


def _forward_table(root: dict[str, Any]):
    cell = paragraph_style("cell", size=9, leading=11.5)
    rows = [_header(_("Lot, serial or order"), _("Quantity"), _("First issued"))]
    for level, label, quantity, when in _walk_forward(root):
        rows.append([paragraph(label, _indented(level)), paragraph(quantity, cell), paragraph(when, cell)])
    return grid(rows, widths=[CONTENT_WIDTH - 58 * mm, 22 * mm, 36 * mm], valign="TOP")
