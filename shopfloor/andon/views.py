"""The andon board: calls not yet closed, the oldest open call first, coloured by age; those who may
handle them acknowledge, resolve and close them here (the same service as the API); MTTA and MTTR
per kind, line and week. ``?wall=1`` for a wall screen (no navigation, polled, a sound on a new call)."""

from __future__ import annotations

import uuid

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from common.access import capability_required
from common.errors import DomainError
from common.roles import may
from shopfloor.andon.selectors import andon_board, andon_response_times
from shopfloor.andon.services import TRANSITIONS, andon_transition
from shopfloor.models import AndonCall

# Age at which an open call turns amber, then red (minutes).
AMBER_MINUTES, RED_MINUTES = 5, 15


@capability_required("board.view")
@require_http_methods(["GET", "HEAD", "POST"])
def andon_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not may(request.user, "andon.handle"):
            raise PermissionDenied(_("Your role may not handle andon calls."))
        _decide(request)
        return redirect(request.get_full_path())
    now = timezone.now()
    work_center = request.GET.get("work_center", "")[:64]
    rows = []
    for call in andon_board(work_center=work_center):
        minutes = int((now - call.raised_at).total_seconds() // 60)
        age = "fresh"
        if call.state == AndonCall.State.OPEN:
            age = "red" if minutes >= RED_MINUTES else "amber" if minutes >= AMBER_MINUTES else "fresh"
        rows.append({"call": call, "minutes": minutes, "age": age})
    context = {
        "rows": rows,
        "open_count": sum(1 for row in rows if row["call"].state == AndonCall.State.OPEN),
        "may_handle": may(request.user, "andon.handle"),
        "wall": request.GET.get("wall") == "1",
        "work_center": work_center,
        "checked_at": now,
    }
    if request.htmx:
        return render(request, "shopfloor/andon.html#andon-calls", context)
    context["times"] = andon_response_times()
    return render(request, "shopfloor/andon.html", context)


def _decide(request: HttpRequest) -> None:
    """Acknowledge, resolve or close the call the form names, as the user; the outcome is flashed."""
    action = request.POST.get("action", "")
    try:
        call_id = uuid.UUID(request.POST.get("call", ""))
    except ValueError:
        flash.error(request, _("Choose a call."))
        return
    if action not in TRANSITIONS:
        flash.error(request, _("Choose what to do with the call."))
        return
    try:
        call = andon_transition(
            call_id=call_id, action=action, note=request.POST.get("note", "")[:1000], root_cause=request.POST.get("root_cause", "")[:500],
            actor=request.user,
        )
    except DomainError as error:
        flash.error(request, error.message)
        return
    flash.success(request, _("The call is %(state)s.") % {"state": AndonCall.State(call.state).label})
