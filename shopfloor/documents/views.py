"""The one traveler view, reached from the planner's pages and from an operator station.

Who may print which order differs by the way in: at ``planning/orders/<number>/traveler.pdf`` a person
whose role may see the planning pages prints any order; at ``station/documents/traveler/<number>.pdf``
a station prints the orders with an operation at its work center, and a person who manages stations
any order. Everything else is the same on both: the language (``?lang=`` or ``?language=``, else the
reader's), the refusals and the file.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from common.roles import may
from mes.models import WorkOrder
from shopfloor.documents.barcodes import UnprintableCode
from shopfloor.documents.traveler import traveler_pdf
from shopfloor.station.access import station_of
from shopfloor.station.selectors import station_has_work_on

PLANNING, STATION = "planning", "station"
_LONGEST_NUMBER = 64


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def document_language(request: HttpRequest) -> str | None:
    """The language a document is asked for (``?lang=`` or ``?language=``), else the reader's; None if unknown."""
    asked = request.GET.get("lang") or request.GET.get("language") or get_language()
    return asked if asked in dict(settings.LANGUAGES) else None


def unknown_language() -> HttpResponse:
    return _text(
        _("Unknown language for the traveler; use one of: %(languages)s.") % {"languages": ", ".join(dict(settings.LANGUAGES))}, 400
    )


@require_GET
def traveler(request: HttpRequest, number: str, *, way_in: str) -> HttpResponse:
    station = station_of(request) if way_in == STATION else None
    prints_any = may(request.user, "planning.view" if way_in == PLANNING else "station.manage")
    if station is None and not prints_any:
        if way_in == STATION:
            return redirect("station-welcome")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied
    language = document_language(request)
    if language is None:
        return unknown_language()
    work_order = WorkOrder.objects.select_related("item__unit").filter(number=number[:_LONGEST_NUMBER]).first()
    if work_order is None or len(number) > _LONGEST_NUMBER:
        shown = number[:80].encode("unicode_escape").decode()
        return _text(_("Work order %(number)s does not exist.") % {"number": shown}, 404)
    if not prints_any and not station_has_work_on(station=station, work_order=work_order):
        return _text(
            _("Work order %(number)s has no operation at this station's work center %(code)s.")
            % {"number": work_order.number, "code": station.work_center.code},
            403,
        )
    try:
        pdf = traveler_pdf(work_order, language=language)
    except UnprintableCode:
        return _text(
            _("Work order %(number)s cannot be printed: its number holds characters a barcode cannot carry.") % {"number": number},
            422,
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, f"traveler-{work_order.number}-{language}.pdf")
    return response
