"""The trace page (one scan field, both directions as a tree) and its PDF report.

Composition: the genealogy comes from ``mes.selectors.trace``, the PDF from
``shopfloor.documents.trace_report``. The page links an order to its planning page only for a
person who may open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from common.access import capability_required
from common.errors import DomainError
from mes.selectors.trace import BACKWARD, FORWARD, lot_trace, trace_lot_find
from shopfloor.documents.trace_report import trace_report_pdf
from shopfloor.documents.views import document_language

_LONGEST_CODE = 64


@dataclass
class Lookup:
    code: str
    item: str
    backward: dict[str, Any] | None = None
    forward: dict[str, Any] | None = None
    error: DomainError | None = None

    @property
    def items(self) -> list[str]:
        """The items to choose from when the code is ambiguous."""
        if self.error is None or self.error.code != "ambiguous_code":
            return []
        return self.error.fields["items"].split(", ")


def _scanned(text: str) -> str:
    """What was scanned, without control characters (a scanner's prefix, or a NUL the database refuses)."""
    return " ".join("".join(character for character in text if ord(character) >= 32).split())[:_LONGEST_CODE]


def _lookup(request: HttpRequest) -> Lookup | None:
    code = _scanned(request.GET.get("code", ""))
    item = _scanned(request.GET.get("item", ""))
    if not code:
        return None
    lookup = Lookup(code=code, item=item)
    try:
        root = trace_lot_find(code=code, item=item or None)
    except DomainError as error:
        lookup.error = error
        return lookup
    lookup.backward = lot_trace(root, direction=BACKWARD)
    lookup.forward = lot_trace(root, direction=FORWARD)
    return lookup


@capability_required("trace.view")
@require_GET
def trace_page(request: HttpRequest) -> HttpResponse:
    context = {"lookup": _lookup(request)}
    return render(request, "plant/trace.html#trace-result" if request.htmx else "plant/trace.html", context)


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@capability_required("trace.view")
@require_GET
def trace_report(request: HttpRequest) -> HttpResponse:
    language = document_language(request)
    if language is None:
        return _text(_("Unknown language; use zh-hans or en."), 400)
    lookup = _lookup(request)
    if lookup is None:
        return _text(_("Name the lot or serial: ?code=…"), 400)
    if lookup.error is not None:
        return _text(lookup.error.message, int(lookup.error.kind))
    pdf = trace_report_pdf(backward=lookup.backward, forward=lookup.forward, language=language)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"trace-{lookup.backward['item']}-{lookup.backward['code']}-{language}.pdf"
    response["Content-Disposition"] = content_disposition_header(False, name)
    return response
