"""Pages of ERP sync for supervisors and integration admins: health, dead letters, a message's journey."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from erp_sync import services
from erp_sync.models import OutboxMessage
from erp_sync.selectors import message_journey, sync_health
from mes.roles import Role
from mes.services.errors import DomainError
from mes.views.access import role_required

SYNC_PAGE_ROLES = (Role.SUPERVISOR, Role.ADMIN, Role.PLANNER)
MAX_ID = 2**63 - 1


@role_required(*SYNC_PAGE_ROLES)
def health_page(request: HttpRequest) -> HttpResponse:
    template = "erp_sync/health.html#health-panel" if request.htmx else "erp_sync/health.html"
    return render(request, template, {"health": sync_health()})


@role_required(*SYNC_PAGE_ROLES)
@require_http_methods(["GET", "POST"])
def dead_letters_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit() and int(value) <= MAX_ID]
        reason = request.POST.get("reason", "")
        try:
            if request.POST.get("action") == "discard":
                services.messages_discard(message_ids=ids, reason=reason, actor=request.user)
                flash.success(request, _("Discarded %(count)s message(s).") % {"count": len(ids)})
            else:
                services.messages_replay(message_ids=ids, reason=reason, actor=request.user)
                flash.success(request, _("Sent %(count)s message(s) again.") % {"count": len(ids)})
        except DomainError as error:
            flash.error(request, error.message)
        return redirect("sync-dead-letters")
    dead = OutboxMessage.objects.filter(state=OutboxMessage.State.DEAD).order_by("partition_key", "sequence")[:500]
    return render(request, "erp_sync/dead_letters.html", {"dead": dead})


@role_required(*SYNC_PAGE_ROLES)
def message_page(request: HttpRequest, message_id: int) -> HttpResponse:
    if message_id > MAX_ID:
        return render(request, "erp_sync/message.html", {"missing": _("No such message.")}, status=404)
    try:
        journey = message_journey(message_id)
    except DomainError as error:
        return render(request, "erp_sync/message.html", {"missing": error.message}, status=404)
    return render(request, "erp_sync/message.html", {"message": journey})
