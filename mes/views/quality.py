"""The quality pages: open NCRs and holds, one NCR with its disposition form and history, and the
SPC chart of a characteristic. Decisions go through the same services as the API."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from common.access import capability_required
from common.errors import DomainError
from common.period import PeriodError
from common.roles import may
from mes.forms import DispositionForm, QualityFilterForm, is_key
from mes.models import Nonconformance
from mes.selectors.history import history_entries
from mes.selectors.nonconformances import defect_codes, nonconformance_events, nonconformance_get, quality_open_work
from mes.selectors.planning import production_lines
from mes.selectors.spc import A2, D2, D3, D4, spc_report
from mes.services.dispositions import DispositionRequest, nonconformance_disposition
from mes.services.holds import hold_release
from mes.services.nonconformances import nonconformance_close
from mes.views.spc_chart import spc_charts

RULES = {
    1: gettext_lazy("one point beyond 3 sigma from the centre line"),
    2: gettext_lazy("two of three consecutive points beyond 2 sigma, on the same side"),
    3: gettext_lazy("four of five consecutive points beyond 1 sigma, on the same side"),
    4: gettext_lazy("eight consecutive points on the same side of the centre line"),
}


def _release_hold(request: HttpRequest) -> str | None:
    """Release the posted hold as ``POST /api/v1/holds/{id}/release`` does; the refusal in words, or None when done."""
    reason = request.POST.get("reason", "").strip()
    hold_id = request.POST.get("hold", "")
    if not hold_id.isdigit() or len(hold_id) > 12:
        return _("Choose a hold to release.")
    if not reason:
        return _("Give a reason to release hold %(id)s; it is kept in the audit trail.") % {"id": hold_id}
    try:
        hold_release(hold_id=int(hold_id), reason=reason[:500], actor=request.user)
    except DomainError as error:
        return error.message
    return None


@capability_required("quality.view")
@require_http_methods(["GET", "POST"])
def quality_page(request: HttpRequest) -> HttpResponse:
    refusal = None
    if request.method == "POST":
        if not may(request.user, "hold.manage"):  # as the API: a 403, in words
            return HttpResponse(_("Your role may not release holds."), status=403, content_type="text/plain; charset=utf-8")
        refusal = _release_hold(request)
        if refusal is None:
            flash.success(request, _("Hold %(id)s released.") % {"id": request.POST["hold"]})
            return redirect(request.get_full_path())
    form = QualityFilterForm(request.GET, lines=production_lines())
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    work = quality_open_work(line=data.get("line") or "", item=(data.get("item") or "").strip(), older_than_days=data.get("older_than"))
    context = {"form": form, **work, "refusal": refusal, "may_release_holds": may(request.user, "hold.manage")}
    return render(request, "mes/quality/list.html#open-work" if request.htmx else "mes/quality/list.html", context)


def _decide(request: HttpRequest, nonconformance_id: int) -> str | None:
    """Run the posted disposition or close; the refusal in words, or None when done."""
    action = request.POST.get("action", "disposition")
    try:
        if action == "close":
            nonconformance_close(nonconformance_id=nonconformance_id, reason=request.POST.get("reason", "").strip()[:500], actor=request.user)
            return None
        form = DispositionForm(request.POST, defect_codes=defect_codes())
        if not form.is_valid():
            return form.refusal()
        data = form.cleaned_data
        nonconformance_disposition(
            nonconformance_id=nonconformance_id, actor=request.user,
            request=DispositionRequest(disposition=data["disposition"], reason=data["reason"].strip(), quantity=data["quantity"],
                                       defect_code=data["defect_code"].strip()),
        )
    except DomainError as error:
        return error.message
    return None


@capability_required("quality.view")
@require_http_methods(["GET", "POST"])
def nonconformance_page(request: HttpRequest, nonconformance_id: int) -> HttpResponse:
    refusal = None
    if request.method == "POST":
        if not may(request.user, "nonconformance.disposition"):  # as the API: a 403, in words
            return render(request, "mes/quality/ncr.html", {"missing": _("Your role may not decide nonconformances.")}, status=403)
        refusal = _decide(request, nonconformance_id)
        if refusal is None:
            done = _("NCR %(id)s closed.") if request.POST.get("action") == "close" else _("Disposition of NCR %(id)s recorded.")
            flash.success(request, done % {"id": nonconformance_id})
            return redirect("quality-ncr", nonconformance_id=nonconformance_id)
    try:
        nonconformance = nonconformance_get(nonconformance_id=nonconformance_id)
    except DomainError as error:
        return render(request, "mes/quality/ncr.html", {"missing": error.message}, status=404)
    may_decide = may(request.user, "nonconformance.disposition")
    context = {
        "ncr": nonconformance,
        "events": history_entries(events=nonconformance_events(nonconformance=nonconformance)),
        "may_decide": may_decide,
        "form": DispositionForm(request.POST if refusal else None, defect_codes=defect_codes()),
        "refusal": refusal,
        "is_open": nonconformance.state == Nonconformance.State.OPEN,
        "is_dispositioned": nonconformance.state == Nonconformance.State.DISPOSITIONED,
        "item": nonconformance.work_order.item.code,
    }
    return render(request, "mes/quality/ncr.html", context)


def _formulas(report) -> dict:
    """The constants the written-out formulas name, for the chart's subgroup size."""
    size = report.result.subgroup_size
    if report.result.chart == "xbar_r":
        return {"d2": D2[size], "a2": A2[size], "d3": D3[size], "d4": D4[size], "size": size}
    return {"d2": D2[2], "d3": D3[2], "d4": D4[2], "size": 1}


@capability_required("quality.view")
@require_http_methods(["GET"])
def spc_page(request: HttpRequest, item_code: str, sequence: int, characteristic: str) -> HttpResponse:
    if not (is_key(item_code) and is_key(characteristic)):
        return render(request, "mes/quality/spc.html", {"missing": _("No such characteristic.")}, status=404)
    try:
        report = spc_report(item_code=item_code, sequence=sequence, characteristic=characteristic,
                            from_text=request.GET.get("from"), to_text=request.GET.get("to"))
    except DomainError as error:
        return render(request, "mes/quality/spc.html", {"missing": error.message}, status=404)
    except PeriodError as error:
        context = {"period_error": f"{error.field}: {error.message}", "from": request.GET.get("from", ""), "to": request.GET.get("to", "")}
        return render(request, "mes/quality/spc.html", context, status=400)
    result = report.result
    context = {
        "report": report, "result": result, "charts": spc_charts(report), "constants": _formulas(report),
        "violations": [{"rule": violation.rule, "words": RULES[violation.rule], "sample_nos": violation.sample_nos} for violation in result.violations],
        "from": request.GET.get("from", ""), "to": request.GET.get("to", ""),
        "cpk_sides": _cpk_sides(report),
    }
    return render(request, "mes/quality/spc.html", context)


def _cpk_sides(report) -> list[dict]:
    """Each side of Cpk written out: (USL − x̄) / 3σ and (x̄ − LSL) / 3σ, for the limits the plan has."""
    result = report.result
    if not result.sigma or result.mean is None:
        return []
    sides = []
    if report.upper_limit is not None:
        sides.append({"text": f"(USL − x̄) / 3σ = ({report.upper_limit:.4f} − {result.mean:.4f}) / (3 × {result.sigma:.4f})",
                      "value": (report.upper_limit - result.mean) / (3 * result.sigma)})
    if report.lower_limit is not None:
        sides.append({"text": f"(x̄ − LSL) / 3σ = ({result.mean:.4f} − {report.lower_limit:.4f}) / (3 × {result.sigma:.4f})",
                      "value": (result.mean - report.lower_limit) / (3 * result.sigma)})
    return sides
