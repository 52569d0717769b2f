"""Refuses a NUL character in the address before any view reads it.

PostgreSQL text cannot hold NUL, so a path or query parameter carrying one (``%00``) would
reach the database and fail there as a 500. The API answers with its error envelope, pages
with a page in the reader's language. Bodies are checked by the API's JSON parser
(``common.api.parsers``); form posts of the pages here.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from common.api.errors import validation_error_body
from common.api.parsers import NUL, NUL_REFUSAL

#: What a page's form posts; no page takes files, so a multipart body is a form too.
FORMS = {"application/x-www-form-urlencoded", "multipart/form-data"}


def _nul_in(request: HttpRequest) -> str | None:
    """The part of the request holding a NUL character: ``path``, or a parameter's name; else None."""
    if NUL in request.path:
        return "path"
    parameters = [request.GET]
    if request.method == "POST" and request.content_type in FORMS and not _api(request):
        request.body  # noqa: B018 - kept first, so the form is parsed from it and a view may still read it raw
        parameters.append(request.POST)
    for query in parameters:
        for name, values in query.lists():
            if NUL in name or any(NUL in value for value in values):
                return name.replace(NUL, "\\u0000")
    return None


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _nul_in(request)
        if where is None:
            return self.get_response(request)
        if _api(request):
            return JsonResponse({"error": validation_error_body({where: [NUL_REFUSAL]})}, status=400)
        if where == "path":
            problem = _("The address holds a NUL character (%(nul)s), which no page accepts.") % {"nul": "%00"}
        else:
            problem = _("The field %(name)s holds a NUL character (%(nul)s), which no page accepts.") % {"name": where, "nul": "%00"}
        return render(request, "common/bad_request.html", {"problem": problem}, status=400)


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")
