"""Error pages: JSON under /api/ (the API's error shape); elsewhere pages inside the site's layout,
with its menu, in the reader's language (the locale middleware has chosen it before any view runs)."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults

logger = logging.getLogger(__name__)

# status → (title, what happened, what to do), in the reader's language
PAGES = {
    403: (
        gettext_lazy("Not for your role"),
        gettext_lazy("Your role may not open this page or do this here."),
        gettext_lazy("The menu above lists the pages you may use. If you need this one, ask an administrator for the role that includes it."),
    ),
    404: (
        gettext_lazy("Page not found"),
        gettext_lazy("There is no page at %(path)s."),
        gettext_lazy("The address may be mistyped, or what it named no longer exists. The menu above lists the pages you may use."),
    ),
    500: (
        gettext_lazy("Something went wrong"),
        gettext_lazy("The page could not be shown because of an error on our side. It has been logged for the administrators."),
        gettext_lazy("Try again in a moment; if it keeps happening, tell your administrator when it happened."),
    ),
}


def _page(request: HttpRequest, status: int) -> HttpResponse:
    """The error page inside the site's layout, with its menu."""
    title, problem, advice = PAGES[status]
    if status == 404:
        problem = str(problem) % {"path": request.path}
    context = {"status": status, "title": title, "problem": problem, "advice": advice}
    return render(request, "plant/errors/error.html", context, status=status)


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
    return _page(request, 403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by the CSRF check (expired, or sent from another site): the 403 page saying so."""
    if _api(request):
        return _json("csrf_failed", "The request lacks a valid CSRF token: send the token the session's cookie holds.", 403)
    context = {
        "status": 403,
        "title": _("The form has expired"),
        "problem": _("This form was open too long, or the page was reloaded elsewhere, so it could not be checked as yours."),
        "advice": _("Go back, reload the page and send the form again. Nothing was changed."),
    }
    return render(request, "plant/errors/error.html", context, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _api(request):
        return _json("not_found", f"No API resource at {request.path}.", 404)
    return _page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return _json("server_error", "An unexpected error occurred; it has been logged.", 500)
    try:
        # The layout asks the database for the menu and the ERP banner; the error may be the database itself.
        return _page(request, 500)
    except Exception:  # noqa: BLE001 - the plain page below is the answer whatever failed
        logger.exception("The error page inside the layout failed; answering the plain one")
        return defaults.server_error(request)
