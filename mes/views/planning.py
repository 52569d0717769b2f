"""The planner's pages: the work-order list (filters, search, bulk release), one order with its
actions, and its traveler PDF. Every change goes through ``work_order_transition``."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from common.access import capability_required
from common.errors import DomainError
from common.roles import may, transition_capability
from mes.forms import TransitionForm, WorkOrderFilterForm, is_key
from mes.models import Status
from mes.selectors.nonconformances import holds_list
from mes.selectors.planning import (
    production_lines,
    work_order_detail,
    work_order_list,
    work_order_status_counts,
    with_schedule,
)
from mes.selectors.costs import work_order_cost
from mes.selectors.quality import work_order_inspections
from mes.services.transitions import ACTION_LABELS, ACTIONS, REQUESTABLE_ACTIONS
from mes.services.work_orders import (
    work_order_release,
    work_order_release_preview,
    work_order_transition,
    work_orders_transition,
)

PAGE_SIZE = 50

# Actions that stop or end an order ask "are you sure?" first; those that stop the shop floor, or
# throw the work away, need a reason too (the audit trail keeps it; the API takes it as optional).
CONFIRMED_ACTIONS = frozenset({"pause", "cancel", "close"})
REASON_REQUIRED = frozenset({"pause", "cancel"})


@dataclass(frozen=True)
class Outcome:
    """What became of a requested action, for the message next to it."""

    is_done: bool
    action: str
    message: str
    code: str = ""
    reason: str = ""

    @property
    def is_question(self) -> bool:
        """Not done yet: the action waits for the person to confirm it (and to give a reason)."""
        return self.code in {"confirm", "reason_required"}


def _refused_by_role(request: HttpRequest, action: str) -> Outcome | None:
    """The same rule as ``POST /api/v1/work-orders/{number}/{action}`` (one capability per action)."""
    if action in REQUESTABLE_ACTIONS and not may(request.user, transition_capability(action)):
        return Outcome(False, action, _("Your role may not %(action)s work orders.") % {"action": ACTION_LABELS[action]}, "forbidden")
    return None


def _apply(request: HttpRequest, *, number: str | None = None) -> Outcome:
    """Run the posted action on ``number``, or on the posted selection when no number is given."""
    form = TransitionForm(request.POST, many=number is None)
    if not form.is_valid():
        return Outcome(False, request.POST.get("action", "")[:32], form.refusal(), "invalid")
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"].strip()
    refused = _refused_by_role(request, action)
    if refused:
        return refused
    if number is not None and action in CONFIRMED_ACTIONS:
        question = _confirmation_asked(request, action=action, number=number, reason=reason)
        if question is not None:
            return question
    try:
        if number is None:
            count = len(work_orders_transition(numbers=form.cleaned_data["numbers"], action=action, actor=request.user, reason=reason))
        elif action == "release":  # the reason doubles as the override a strict capacity check asks for
            work_order_release(number=number, actor=request.user, reason=reason, override_reason=reason)
        else:
            work_order_transition(number=number, action=action, actor=request.user, reason=reason)
    except DomainError as error:
        return Outcome(False, action, error.message, error.code)
    status = Status(ACTIONS[action].target).label
    if number is not None:
        return Outcome(True, action, _("%(number)s is now %(status)s.") % {"number": number, "status": status})
    message = ngettext("%(count)d work order is now %(status)s.", "%(count)d work orders are now %(status)s.", count)
    return Outcome(True, action, message % {"count": count, "status": status})


def _confirmation_asked(request: HttpRequest, *, action: str, number: str, reason: str) -> Outcome | None:
    """The question to answer before ``action`` runs, or None once it was confirmed (with a reason where one is needed)."""
    if request.POST.get("confirmed") != "1":
        return Outcome(False, action, CONFIRM_QUESTIONS[action] % {"number": number}, "confirm", reason)
    if action in REASON_REQUIRED and not reason:
        message = _("Give a reason to %(action)s %(number)s; it is kept in the order's history.")
        return Outcome(False, action, message % {"action": ACTION_LABELS[action], "number": number}, "reason_required", reason)
    return None


CONFIRM_QUESTIONS = {
    "pause": gettext_lazy("Pause %(number)s? The stations stop working on it until it is resumed."),
    "cancel": gettext_lazy("Cancel %(number)s? What was reported stays, but nothing more can be made on it. This cannot be undone."),
    "close": gettext_lazy("Close %(number)s? No more reports or corrections are accepted on it. This cannot be undone."),
}


def _status(outcome: Outcome | None) -> int:
    """A refusal by role is a 403, as the API answers; other refusals are shown on a normal page."""
    return 403 if outcome is not None and outcome.code == "forbidden" else 200


def _actions_for(request: HttpRequest, status: str | None = None) -> list[dict]:
    """The actions the person's role may ask for and the status allows now; the rest are not offered."""
    return [
        {"name": name, "label": capfirst(ACTION_LABELS[name]), "confirmed": name in CONFIRMED_ACTIONS,
         "reason_required": name in REASON_REQUIRED}
        for name in REQUESTABLE_ACTIONS
        if may(request.user, transition_capability(name)) and (status is None or status in ACTIONS[name].sources)
    ]


@capability_required("planning.view")
@require_http_methods(["GET", "POST"])
def work_order_list_page(request: HttpRequest) -> HttpResponse:
    outcome = _apply(request) if request.method == "POST" else None
    form = WorkOrderFilterForm(request.GET, lines=production_lines())
    form.is_valid()
    filters = form.filters()
    page = Paginator(work_order_list(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = with_schedule(orders=list(page.object_list))
    predictions = _predicted_finishes([order.number for order in page.object_list])
    for order in page.object_list:
        order.prediction = predictions.get(order.number)
    query = request.GET.copy()
    query.pop("page", None)
    query_without_status = query.copy()
    query_without_status.pop("status", None)
    selected = set(request.POST.getlist("numbers")) if outcome is not None and not outcome.is_done else set()
    context = {
        "form": form,
        "page": page,
        "counts": work_order_status_counts(filters=filters),
        "query": query.urlencode(),
        "query_without_status": query_without_status.urlencode(),
        "outcome": outcome,
        "selected": selected,
        "may_release": any(action["name"] == "release" for action in _actions_for(request)),
    }
    return render(request, "mes/planning/list.html#orders" if request.htmx else "mes/planning/list.html", context, status=_status(outcome))


def _predicted_finishes(numbers: list[str]) -> dict:
    """Each active order's finish at its own pace (``settings.MES_PREDICTED_FINISH``), by number."""
    return import_string(settings.MES_PREDICTED_FINISH)(numbers=numbers)


def _no_such_order(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "mes/planning/order.html", {"missing": message}, status=404)


def _unknown_number(number: str) -> str:
    return _("Work order %(number)s does not exist.") % {"number": number[:80].encode("unicode_escape").decode()}


@capability_required("work_order.view")
@require_http_methods(["GET", "POST"])
def work_order_page(request: HttpRequest, number: str) -> HttpResponse:
    if not is_key(number):
        return _no_such_order(request, _unknown_number(number))
    outcome = _apply(request, number=number) if request.method == "POST" else None
    if outcome is not None and outcome.is_done and not request.htmx:
        flash.success(request, outcome.message)
        return redirect("planning-order", number=number)
    try:
        detail = work_order_detail(number=number)
    except DomainError as error:
        return _no_such_order(request, error.message)
    actions = _actions_for(request, detail["work_order"].status)
    may_release_now = any(action["name"] == "release" for action in actions)  # offered only when the status allows it
    context = {**detail, "outcome": outcome, "actions": actions,
               "may_change_orders": bool(_actions_for(request)),
               "languages": settings.LANGUAGES,
               "inspections": work_order_inspections(number=number)["operations"],
               "holds": holds_list(state="active", work_order=number),
               "release_warnings": work_order_release_preview(number=number) if may_release_now else [],
               "is_capacity_strict": settings.MES_RELEASE_CAPACITY == "strict",
               "prediction": _predicted_finishes([detail["work_order"].number]).get(detail["work_order"].number),
               "cost": work_order_cost(number=number) if may(request.user, "cost.view") else None}
    return render(request, "mes/planning/order.html#order" if request.htmx else "mes/planning/order.html", context, status=_status(outcome))
