"""Error pages: JSON under /api/ (the API's error shape); elsewhere pages inside the site's layout,
with its menu, in the reader's language (the locale middleware has chosen it before any view runs)."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger(__name__)


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _json(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _api(request):
        return _json("bad_request", "The request could not be understood.", 400)
    problem = _("The request could not be understood. Go back and try again from the page.")
    return render(request, "common/bad_request.html", {"problem": problem}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _api(request):
        return _json("forbidden", "You may not do this.", 403)
    return render(request, "plant/errors/403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _api(request):
        return _json("not_found", f"No API resource at {request.path}.", 404)
    return render(request, "plant/errors/404.html", {"path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return _json("server_error", "An unexpected error occurred; it has been logged.", 500)
    try:
        # The layout asks the database for the menu and the ERP banner; the error may be the database itself.
        return render(request, "plant/errors/500.html", status=500)
    except Exception:  # noqa: BLE001 - the plain page below is the answer whatever failed
        logger.exception("The error page inside the layout failed; answering the plain one")
        return defaults.server_error(request)
