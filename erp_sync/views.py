"""Pages of ERP sync for supervisors and integration admins: health, dead letters, a message's journey, reconciliation."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from common.access import capability_required, check_capability
from common.errors import DomainError
from common.roles import may
from erp_sync import pulls, reconciliation, services
from erp_sync.models import Drift, OutboxMessage, PullRun
from erp_sync.selectors import NO_CONNECTION, WAITING, message_journey, message_list, sync_health

MAX_ID = 2**63 - 1


@capability_required("erp_sync.view")
@require_safe
def health_page(request: HttpRequest) -> HttpResponse:
    template = "erp_sync/health.html#health-panel" if request.htmx else "erp_sync/health.html"
    return render(request, template, {"health": sync_health()})


@capability_required("erp_sync.view")
@require_http_methods(["GET", "POST"])
def dead_letters_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        check_capability(request, "erp_sync.resolve")  # as POST /api/v1/sync/messages/…/replay|discard
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
    return render(request, "erp_sync/dead_letters.html", {"dead": dead, "may_act": may(request.user, "erp_sync.resolve")})


@capability_required("erp_sync.view")
@require_safe
def message_page(request: HttpRequest, message_id: int) -> HttpResponse:
    if message_id > MAX_ID:
        return render(request, "erp_sync/message.html", {"missing": _("No such message.")}, status=404)
    try:
        journey = message_journey(message_id=message_id)
    except DomainError as error:
        return render(request, "erp_sync/message.html", {"missing": error.message}, status=404)
    return render(request, "erp_sync/message.html", {"message": journey})



@capability_required("erp_sync.view")
@require_safe
def message_list_page(request: HttpRequest) -> HttpResponse:
    """Messages by state (``waiting``: every one still on its way), work order and connection; each a way to its journey."""
    state = request.GET.get("state", "")
    state = state if state in {WAITING, *OutboxMessage.State.values} else ""
    filters = {"state": state, "work_order": request.GET.get("work_order", "").strip()[:64],
               "connection": request.GET.get("connection", "").strip()[:64]}
    return render(request, "erp_sync/messages.html", {
        **message_list(**filters), "filters": filters, "waiting_state": WAITING, "no_connection": NO_CONNECTION,
    })


@capability_required("erp_sync.view")
@require_safe
def pulls_page(request: HttpRequest) -> HttpResponse:
    """The pull journal: each connection that pulls orders (its high-water mark and latest run), then its runs,
    newest first, paged, each with its refused records. While a run is running, the table asks again every few
    seconds (the ``pull-table`` partial when HTMX asks for it)."""
    connection = "".join(character for character in request.GET.get("connection", "") if ord(character) >= 32).strip()[:64]
    state = request.GET.get("state", "") if request.GET.get("state", "") in PullRun.State.values else ""
    page = request.GET.get("page", "1")
    page = int(page) if re.fullmatch(r"[0-9]{1,9}", page) and int(page) >= 1 else 1
    journal = pulls.pull_page(connection=connection, state=state, page=page, page_size=25)
    context = {
        **journal,
        "filters": {"connection": connection, "state": state},
        "states": PullRun.State.choices,
        "connections": pulls.pull_connections_state(),
        "running": any(run.state == PullRun.State.RUNNING for run in journal["results"]),
        "interval": settings.MES_ERP_PULL_INTERVAL,
    }
    template = "erp_sync/pulls.html#pull-table" if request.htmx else "erp_sync/pulls.html"
    return render(request, template, context)


@capability_required("erp_sync.view")
@require_http_methods(["GET", "POST"])
def reconciliation_page(request: HttpRequest) -> HttpResponse:
    """The latest runs and the drifts they found; supervisors and admins queue a run and repair drifts, with a reason.

    A run is queued for a worker and the page returns to itself; while a run waits or runs, the
    table of runs asks again every few seconds (the ``run-table`` partial when HTMX asks for it).
    A repair answers on the page itself, each drift's outcome or refusal in its row (the
    ``drift-table`` partial); its ERP write goes through the outbox, so no ERP call is made here.
    """
    may_act = may(request.user, "erp_sync.resolve")
    outcomes: dict[int, DomainError | None] = {}
    notes: list[str] = []
    if request.method == "POST":
        check_capability(request, "erp_sync.resolve")  # as POST /api/v1/sync/drifts/…/repair
        if request.POST.get("action") == "run":
            _reconciliation_queue(request)
            return redirect(request.get_full_path())
        ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit() and int(value) <= MAX_ID]
        if not ids:
            notes.append(_("Select at least one drift to repair."))
        else:
            try:
                outcomes = reconciliation.drifts_repair(drift_ids=ids, reason=request.POST.get("reason", ""), actor=request.user)
            except DomainError as error:  # no reason: nothing was repaired
                outcomes = dict.fromkeys(ids, error)
    runs = reconciliation.reconciliation_runs_recent(limit=10)
    for run in runs:
        run.failure_texts = [reconciliation.failure_text(failure) for failure in run.failures[:20]]
    run_context = {"runs": runs, "runs_unfinished": any(run.is_in_progress for run in runs)}
    if request.htmx and request.htmx.target == "run-table":
        return render(request, "erp_sync/reconciliation.html#run-table", run_context)
    status = request.GET.get("status") if request.GET.get("status") in reconciliation.DRIFT_STATUSES else "open"
    kind = request.GET.get("kind") if request.GET.get("kind") in Drift.Kind.values else ""
    work_order = request.GET.get("work_order", "").strip()[:64]
    drifts = reconciliation.drift_list(status=status, work_order=work_order or None, kind=kind or None)
    for drift in drifts:
        if drift["message"]:
            drift["message"]["state_label"] = OutboxMessage.State(drift["message"]["state"]).label
        if drift["id"] in outcomes:
            drift["outcome"] = outcomes.pop(drift["id"]) or "repaired"
    # Drifts asked about but not listed under the current filter still get their answer.
    notes += [
        _("Drift %(id)s: %(outcome)s") % {"id": drift_id, "outcome": error.message if error else _("repaired.")}
        for drift_id, error in outcomes.items()
    ]
    context = {
        **run_context,
        "drifts": drifts,
        "counts": reconciliation.drift_counts(),
        "kinds": Drift.Kind.choices,
        "filters": {"status": status, "kind": kind, "work_order": work_order},
        "may_act": may_act,
        "may_repair_some": may_act and any(drift["repairable"] for drift in drifts),
        "notes": notes,
    }
    template = "erp_sync/reconciliation.html#drift-table" if request.htmx else "erp_sync/reconciliation.html"
    return render(request, template, context)


def _reconciliation_queue(request: HttpRequest) -> None:
    """One order or every order: a run for a worker, which the table of runs shows as it goes."""
    work_order = request.POST.get("work_order", "").strip()[:64]
    try:
        reconciliation.reconciliation_run_queue(work_order=work_order or None, actor=request.user)
    except DomainError as error:  # an order the MES does not know: nothing to ask the ERP about
        flash.error(request, error.message)
        return
    if work_order:
        flash.success(request, _("A worker is checking %(order)s now; its run appears below when it finishes.") % {"order": work_order})
    else:
        flash.success(request, _("A worker is checking every order now; its run appears below when it finishes."))
