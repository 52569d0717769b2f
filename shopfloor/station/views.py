"""The operator station's pages and the small JSON interface its script talks to. Thin: parse,
call one service or selector, answer. Refusals are ``{"error": {"code", "message", "fields"}}``
in the operator's language, with the domain error's status (409, 422, …); never a 500."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any, Callable

from csp.constants import SELF
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import logout
from django.contrib.staticfiles import finders
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers
from rest_framework.exceptions import ValidationError

from common.access import capability_required
from common.api.errors import validation_error_body
from common.errors import DomainError
from common.roles import may
from erp_sync.outbox import confirmation_sync_state
from mes.models import Employee, MaterialMovement, OperationDocument, ReasonCode, WorkCenter
from mes.api.representations import confirmation_materials_json
from mes.services.confirmations import ConfirmationRequest, plain
from mes.services.material_issues import MaterialIssueResult, over_issue_summary
from shopfloor.documents import badge_cards_pdf, station_sheet_pdf
from shopfloor.andon.services import andon_json
from shopfloor.documents.barcodes import ACTIONS, UnprintableCode
from shopfloor.models import Station
from shopfloor.station import forms as shapes
from shopfloor.station import selectors, services
from shopfloor.station.access import (
    COOKIE,
    fingerprint,
    operator_token,
    set_station_cookie,
    station_error,
    station_of,
    station_required,
)
from shopfloor.station.text import station_text

PARTIALS = {"recent", "downtime", "queue"}
# What the service worker keeps so the station opens without the server.
SHELL_ASSETS = (
    "shopfloor/station.css", "shopfloor/station.js", "shopfloor/scan.js", "shopfloor/store.js", "shopfloor/instructions.js", "shopfloor/my_reports.js",
    "django_htmx/htmx-2.min.js", "mes/favicon.svg",
)


# --- pages --------------------------------------------------------------------------------


@require_safe
def welcome(request: HttpRequest) -> HttpResponse:
    """A browser that is not a station: how it becomes one."""
    if station_of(request) is not None:
        return redirect("station")
    return render(request, "shopfloor/station_welcome.html")


def _station_context(station: Station) -> dict[str, Any]:
    reasons = selectors.station_reason_codes()
    return {
        "station": station,
        "machine": selectors.station_machine(station=station),
        "recent": selectors.station_recent_reports(station=station),
        "queue": selectors.station_work_queue(station=station),
        "prompts": selectors.station_downtime_prompts(station=station),
        "reasons": reasons,
        "downtime_reasons": selectors.downtime_reasons(reasons=reasons),
        "config": {
            "station": station.name,
            "work_center": station.work_center.code,
            "pin_required": station.is_pin_required,
            "actions": list(ACTIONS),
            "reasons": {reason.code: {"kind": reason.kind, "kind_label": str(reason.get_kind_display()), "name": reason.name} for reason in reasons},
            "language": get_language(),
            "correction_minutes": settings.MES_OPERATOR_CORRECTION_MINUTES,
            "csrf_cookie": settings.CSRF_COOKIE_NAME,
            "urls": {
                "station": reverse("station"),
                "service_worker": reverse("station-service-worker"),
                "sign_in": reverse("station-api-sign-in"),
                "operation": reverse("station-api-operation"),
                "report": reverse("station-api-report"),
                "start": reverse("station-api-start"),
                "pause": reverse("station-api-pause"),
                "clock_off": reverse("station-api-clock-off"),
                "downtime": reverse("station-api-downtime"),
                "andon": reverse("station-api-andon"),
                "issue": reverse("station-api-issue"),
                "issue_approve": reverse("station-api-issue-approve"),
                "inspection": reverse("station-api-inspection"),
                "my_reports": reverse("station-api-my-reports"),
                "correct": reverse("station-api-correct"),
                "traveler": reverse("station-traveler", args=["__NUMBER__"]),
            },
        },
        "text": station_text(),
        "correction_minutes": settings.MES_OPERATOR_CORRECTION_MINUTES,
    }


@require_GET
@never_cache
@ensure_csrf_cookie
@vary_on_headers("HX-Request")
@station_required(api=False)
def station_page(request: HttpRequest) -> HttpResponse:
    """The station: the whole page, or its ``recent``, ``queue`` or ``downtime`` panel for htmx's polling."""
    station = request.station
    if request.htmx and request.htmx.target in PARTIALS:
        context = {"station": station}
        if request.htmx.target == "recent":
            context["recent"] = selectors.station_recent_reports(station=station)
        elif request.htmx.target == "queue":
            context["queue"] = selectors.station_work_queue(station=station)
        else:
            context["prompts"] = selectors.station_downtime_prompts(station=station)
            context["downtime_reasons"] = selectors.downtime_reasons(reasons=selectors.station_reason_codes())
        return render(request, f"shopfloor/station.html#{request.htmx.target}", context)
    response = render(request, "shopfloor/station.html", _station_context(station))
    # Each visit renews the long-lived cookie, so a station in daily use never expires.
    return set_station_cookie(response, request, request.COOKIES[COOKIE])


@functools.cache
def _assets_version() -> str:
    digest = hashlib.sha256()
    for asset in SHELL_ASSETS:
        path = finders.find(asset)
        if path:
            with open(path, "rb") as file:
                digest.update(file.read())
    return digest.hexdigest()[:16]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The station's service worker, served from /station/ so that its scope covers the station."""
    context = {"version": _assets_version(), "assets": [static(asset) for asset in SHELL_ASSETS]}
    response = render(request, "shopfloor/station_sw.js", context, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@capability_required("station.manage")
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """A supervisor makes this tablet a station (and is signed out), or revokes stations."""
    form = shapes.StationSetupForm(request.POST if request.POST.get("action") == "create" else None)
    if request.method == "POST" and request.POST.get("action") == "revoke":
        try:
            station = services.station_revoke(station_id=int(request.POST.get("station", "0") or 0), actor=request.user)
            flash.success(request, _("Station %(name)s is revoked; its tablet can no longer report.") % {"name": station.name})
        except (DomainError, ValueError, OverflowError):
            flash.error(request, _("No such station."))
        return redirect("station-setup")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            station, secret = services.station_create(
                work_center_code=data["work_center"].code,
                equipment_code=data["equipment"].code if data["equipment"] else "",
                name=data["name"], is_pin_required=data["is_pin_required"], actor=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            # The tablet keeps the station's credential only: the supervisor's session ends here.
            logout(request)
            return set_station_cookie(redirect("station"), request, secret)
    stations = Station.objects.select_related("work_center", "equipment").order_by("revoked_at", "work_center__code", "name")
    return render(request, "shopfloor/station_setup.html", {"form": form, "stations": stations, "work_centers": form.fields["work_center"].queryset})


@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, secret: str) -> HttpResponse:
    """A one-time station link: shown first, spent by the button (a link preview cannot spend it)."""
    digest = fingerprint(secret[:100])
    try:
        if request.method == "POST":
            station, credential = services.station_link_use(secret_hash=digest)
            logout(request)
            return set_station_cookie(redirect("station"), request, credential)
        station_link = services.station_link_check(secret_hash=digest)
    except DomainError as error:
        return render(request, "shopfloor/station_link.html", {"error": error.message}, status=int(error.kind))
    return render(request, "shopfloor/station_link.html", {"link": station_link})


# --- documents ----------------------------------------------------------------------------


def _language(request: HttpRequest) -> str:
    return "en" if request.GET.get("language") == "en" else "zh-hans"


def _file_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def _station_or_supervisor(request: HttpRequest) -> tuple[Station | None, bool]:
    """The station this browser is (if any), and whether it is a supervisor's."""
    return station_of(request), may(request.user, "station.manage")


@require_GET
def station_sheet(request: HttpRequest) -> HttpResponse:
    """The station sheet of this station's work center; a supervisor may ask for any (``?work_center=``) or all."""
    station, is_supervisor = _station_or_supervisor(request)
    if station is None and not is_supervisor:
        return redirect("station-welcome")
    work_center = station.work_center if station else None
    code = request.GET.get("work_center", "")[:64]
    if is_supervisor and code:
        work_center = WorkCenter.objects.filter(code=code).first()
        if work_center is None:
            return HttpResponse(_("No work center has the code %(code)s.") % {"code": code}, status=404, content_type="text/plain; charset=utf-8")
    try:
        content = station_sheet_pdf(work_center, ReasonCode.objects.order_by("kind", "code"), language=_language(request))
    except UnprintableCode as error:
        return HttpResponse(str(error), status=422, content_type="text/plain; charset=utf-8")
    return _pdf(content, f"station-sheet-{_file_name(work_center.code) if work_center else 'all'}.pdf")


@require_GET
@xframe_options_sameorigin
@csp_replace({"frame-ancestors": [SELF]})
def instruction(request: HttpRequest, document_id: int) -> HttpResponse:
    """A work instruction's file, for a station (its cookie) or anyone signed in who may read the API. Its address
    carries ``?v=<content hash>``: the same address is always the same bytes, so browsers and the service worker keep it.
    Shown in the station's viewer (a PDF in a frame of the station's own page, hence same-origin framing)."""
    if station_of(request) is None and not may(request.user, "api.read"):
        return HttpResponse(_("Only a station or a signed-in user may read work instructions."), status=403, content_type="text/plain; charset=utf-8")
    document = OperationDocument.objects.filter(pk=document_id).first()
    try:
        if document is None:
            raise FileNotFoundError(document_id)
        content = document.file.open("rb")
    except FileNotFoundError:  # removed, or its file lost (a restore without var/media)
        return HttpResponse(_("This work instruction was removed."), status=404, content_type="text/plain; charset=utf-8")
    response = FileResponse(content, content_type=document.content_type, filename=document.name)
    response["ETag"] = f'"{document.sha256}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
@capability_required("station.manage")
def badge_cards(request: HttpRequest) -> HttpResponse:
    """Badge cards of every active operator; supervisors only, since a badge signs its holder in."""
    try:
        content = badge_cards_pdf(Employee.objects.filter(is_active=True).order_by("badge"), language=_language(request))
    except UnprintableCode as error:
        return HttpResponse(str(error), status=422, content_type="text/plain; charset=utf-8")
    return _pdf(content, "badge-cards.pdf")


# --- the JSON interface of the station's script -----------------------------------------------


def _body(request: HttpRequest, shape: type) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError({"_": ["The request is not JSON."]}) from None
    serializer = shape(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _operator_body(request: HttpRequest, shape: type) -> dict[str, Any]:
    """The body of an operator's request, once the operator's badge (and token) is checked at this station."""
    data = _body(request, shape)
    services.station_operator_check(station=request.station, badge=data["operator_badge"], token=data.get("operator_token", ""))
    return data


def station_api(view):
    """A JSON endpoint of the station: station credential required, refusals as JSON, never a 500."""

    @functools.wraps(view)
    @station_required(api=True)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ValidationError as error:
            return JsonResponse({"error": validation_error_body(error.detail)}, status=400)
        except DomainError as error:
            return station_error(error.code, error.message, int(error.kind), error.fields)

    return wrapped


@require_POST
@station_api
def api_sign_in(request: HttpRequest) -> JsonResponse:
    data = _body(request, shapes.SignInSerializer)
    employee = services.station_operator_sign_in(station=request.station, badge=data["badge"], pin=data["pin"])
    return JsonResponse({"badge": employee.badge, "name": employee.name, "token": operator_token(request.station, employee.badge)})


@require_GET
@station_api
def api_operation(request: HttpRequest) -> JsonResponse:
    serializer = shapes.OperationQuerySerializer(data={name: request.GET.get(name, "") for name in ("work_order", "operation")})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return JsonResponse(selectors.station_operation(station=request.station, number=data["work_order"], sequence=data["operation"]))


@require_POST
@station_api
def api_report(request: HttpRequest) -> JsonResponse:
    station = request.station
    data = _operator_body(request, shapes.ReportSerializer)
    confirmation_request = ConfirmationRequest(
        client_id=data["client_id"], work_order=data["work_order"], operation=data["operation"],
        good_qty=data["good_qty"], scrap_qty=data["scrap_qty"], rework_qty=data["rework_qty"],
        reason_code=data["reason_code"].strip(), operator_badge=data["operator_badge"], station=station.name,
        final=data["final"], confirmed_at=data["confirmed_at"],
    )
    lots = [services.Lot(lot=lot["lot"].strip(), gtin=lot["gtin"]) for lot in data["lots"] if lot["lot"].strip()]
    result = services.station_report(station=station, request=confirmation_request, lots=lots)
    confirmation = result.confirmation
    erp = confirmation_sync_state(source_uuid=confirmation.uuid, message=result.message)
    try:
        operation = selectors.station_operation(station=station, number=data["work_order"], sequence=data["operation"])
    except DomainError:
        operation = None  # done now (a final report), or no longer this station's: nothing to show
    return JsonResponse(
        {
            "created": result.created,
            "confirmation": {
                "id": str(confirmation.uuid), "client_id": str(confirmation.client_id),
                "good_qty": plain(quantity=confirmation.good_qty), "scrap_qty": plain(quantity=confirmation.scrap_qty),
                "rework_qty": plain(quantity=confirmation.rework_qty), "final": confirmation.is_final,
                "erp_state": erp["state"] if erp else None,
            },
            "operation": operation,
            "output": _report_output(confirmation),
        },
        status=201 if result.created else 200,
    )


def _report_output(confirmation) -> dict[str, Any] | None:
    """What a last operation's report received, with the label of each lot or serial to print."""
    output = confirmation_materials_json(confirmation)["output"]
    if output is None:
        return None
    codes = output["serials"] or [output["lot"]]
    return {
        "item": output["item"], "lot": output["lot"], "serials": output["serials"], "quantity": plain(quantity=output["quantity"]),
        "label_urls": [reverse("api-lot-label", args=[output["item"], code]) for code in codes],
    }


def _operation_action(request: HttpRequest, shape: type, act: Callable[[Station, dict[str, Any]], Any]) -> JsonResponse:
    """Start or pause: check the operator, act, answer the operation as it is now."""
    data = _body(request, shape)
    services.station_operator_check(station=request.station, badge=data["operator_badge"], token=data.get("operator_token", ""))
    act(request.station, data)
    return JsonResponse(selectors.station_operation(station=request.station, number=data["work_order"], sequence=data["operation"]))


def _operator_on_operation(request: HttpRequest, service: Callable[..., Any]) -> JsonResponse:
    """An act of the operator on the operation that needs nothing else (start, clock off)."""
    return _operation_action(
        request,
        shapes.OperationSerializer,
        lambda station, data: service(station=station, number=data["work_order"], sequence=data["operation"], operator_badge=data["operator_badge"]),
    )


@require_POST
@station_api
def api_start(request: HttpRequest) -> JsonResponse:
    return _operator_on_operation(request, services.station_operation_start)


@require_POST
@station_api
def api_pause(request: HttpRequest) -> JsonResponse:
    return _operation_action(
        request,
        shapes.PauseSerializer,
        lambda station, data: services.station_operation_pause(
            station=station, number=data["work_order"], sequence=data["operation"],
            reason_code=data["reason_code"], operator_badge=data["operator_badge"],
        ),
    )


@require_POST
@station_api
def api_clock_off(request: HttpRequest) -> JsonResponse:
    return _operator_on_operation(request, services.station_clock_off)


@require_POST
@station_api
def api_andon(request: HttpRequest) -> JsonResponse:
    data = _operator_body(request, shapes.AndonSerializer)
    result = services.station_andon(
        station=request.station, badge=data["operator_badge"], kind=data["kind"], severity=data["severity"],
        client_id=data["client_id"], work_order=data["work_order"], reason_code=data["reason_code"],
    )
    return JsonResponse(andon_json(result.call), status=201 if result.created else 200)


@require_POST
@station_api
def api_downtime(request: HttpRequest) -> JsonResponse:
    data = _operator_body(request, shapes.DowntimeSerializer)
    state = services.station_downtime_reason(
        station=request.station, state_id=data["state"], reason_code=data["reason_code"], operator_badge=data["operator_badge"]
    )
    return JsonResponse({"state": state.pk, "equipment": state.equipment.code, "reason_code": data["reason_code"]})


# --- inspections at the station: VAL:<number>, PASS, FAIL:<defect code> ------------------------


def _inspection_message(recorded: services.StationInspection) -> str:
    """The sentence the operator reads: passed, or what failing means now (the NCR, the hold, who decides)."""
    result, nonconformance = recorded.outcome.result, recorded.nonconformance
    characteristic = result.characteristic
    what = {
        "code": characteristic.code, "name": characteristic.name, "sample": result.sample_no,
        "value": f"{result.value.normalize():f}" if result.value is not None else "", "unit": characteristic.unit.code if characteristic.unit_id else "",
    }
    if result.passed:
        if result.value is not None:
            return _("%(code)s (%(name)s) sample %(sample)s: %(value)s %(unit)s is within the limits; passed.") % what
        return _("%(code)s (%(name)s) sample %(sample)s: passed.") % what
    if result.value is not None:
        limits = {
            "lower": f"{characteristic.lower_limit.normalize():f}" if characteristic.lower_limit is not None else "–",
            "upper": f"{characteristic.upper_limit.normalize():f}" if characteristic.upper_limit is not None else "–",
        }
        failed = _("%(code)s (%(name)s) sample %(sample)s: %(value)s %(unit)s is outside the limits %(lower)s – %(upper)s.") % (what | limits)
    else:
        failed = _("%(code)s (%(name)s) sample %(sample)s: failed.") % what
    ncr = _("Nonconformance NCR %(id)s is opened.") % {"id": nonconformance.pk} if nonconformance is not None else ""
    return " ".join(
        part for part in (failed, ncr, _("The piece is on hold: set it aside and mark it; quality decides (scrap, rework or use as is)."))
        if part
    )


@require_POST
@station_api
def api_inspection(request: HttpRequest) -> JsonResponse:
    station = request.station
    data = _operator_body(request, shapes.InspectionSerializer)
    recorded = services.station_inspection_record(
        station=station, client_id=data["client_id"], work_order=data["work_order"], operation=data["operation"],
        characteristic=data["characteristic"], value=data["value"], passed=data["passed"], defect_code=data["defect_code"],
        operator_badge=data["operator_badge"],
    )
    result, nonconformance = recorded.outcome.result, recorded.nonconformance
    return JsonResponse(
        {
            "created": recorded.outcome.created,
            "result": {
                "id": str(result.uuid), "client_id": str(result.client_id), "characteristic": result.characteristic.code,
                "sample_no": result.sample_no, "value": f"{result.value.normalize():f}" if result.value is not None else None,
                "passed": result.passed,
            },
            "nonconformance": (
                {"id": nonconformance.pk, "state": nonconformance.state, "defect_code": nonconformance.defect_code.code if nonconformance.defect_code_id else None}
                if nonconformance is not None else None
            ),
            "message": _inspection_message(recorded),
            "operation": selectors.station_operation(station=station, number=data["work_order"], sequence=data["operation"]),
        },
        status=201 if recorded.outcome.created else 200,
    )


# --- material issues at the station --------------------------------------------------------


def _issue_answer(result: MaterialIssueResult) -> JsonResponse:
    """The issue as the station shows it; 202 with the over-issue in words when it needs a supervisor."""
    movement = result.movement
    erp = confirmation_sync_state(source_uuid=movement.uuid, message=result.message) if movement.state == MaterialMovement.State.POSTED else None
    body = {
        "created": result.created,
        "issue": {
            "id": str(movement.uuid), "state": movement.state, "item": movement.item.code,
            "lot": movement.lot.code if movement.lot_id else None, "quantity": plain(quantity=movement.quantity),
            "unit": movement.unit.code, "work_order": movement.work_order.number, "operation": movement.operation.sequence,
            "erp_state": erp["state"] if erp else None,
        },
        "approval": None,
    }
    if result.is_awaiting_approval:
        summary = over_issue_summary(movement=movement)
        body["approval"] = {
            "code": summary["code"], "message": summary["message"], "required": plain(quantity=summary["required"]),
            "issued": plain(quantity=summary["issued"]), "requested": plain(quantity=summary["requested"]),
        }
        return JsonResponse(body, status=202)
    return JsonResponse(body, status=201 if result.created else 200)


@require_POST
@station_api
def api_issue(request: HttpRequest) -> JsonResponse:
    data = _operator_body(request, shapes.IssueSerializer)
    result = services.station_material_issue(
        station=request.station, client_id=data["client_id"], work_order=data["work_order"], operation=data["operation"],
        item=data["item"], lot=data["lot"], quantity=data["quantity"], operator_badge=data["operator_badge"],
    )
    return _issue_answer(result)


@require_POST
@station_api
def api_issue_approve(request: HttpRequest) -> JsonResponse:
    data = _body(request, shapes.IssueApprovalSerializer)
    result = services.station_material_approve(station=request.station, movement_id=data["issue"], supervisor_badge=data["badge"])
    return _issue_answer(result)


# --- the operator's reports of the shift, and correcting the last one -------------------------


@require_POST
@station_api
def api_my_reports(request: HttpRequest) -> JsonResponse:
    """The signed-in operator's reports of this shift (POST: the operator's proof travels in the body, not the URL)."""
    data = _operator_body(request, shapes.OperatorSerializer)
    return JsonResponse(selectors.station_my_reports(station=request.station, badge=data["operator_badge"]))


@require_POST
@station_api
def api_correct(request: HttpRequest) -> JsonResponse:
    data = _operator_body(request, shapes.CorrectionSerializer)
    result = services.station_report_correct(
        station=request.station, confirmation_id=data["confirmation"], operator_badge=data["operator_badge"],
        reason=data["reason"], supervisor_badge=data["supervisor_badge"].strip(),
    )
    reversal = result.confirmation
    erp = confirmation_sync_state(source_uuid=reversal.uuid, message=result.message)
    return JsonResponse(
        {
            "reversal": {
                "id": str(reversal.uuid), "reverses": str(data["confirmation"]), "work_order": reversal.work_order.number,
                "operation": reversal.operation.sequence, "good_qty": plain(quantity=reversal.good_qty),
                "scrap_qty": plain(quantity=reversal.scrap_qty), "erp_state": erp["state"] if erp else None,
            },
            "reports": selectors.station_my_reports(station=request.station, badge=data["operator_badge"]),
        },
        status=201 if result.created else 200,
    )
