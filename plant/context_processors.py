from __future__ import annotations

from django.contrib import admin

from common.roles import may


def pages(request) -> dict:
    """Which of the people's pages the signed-in person may open, for the navigation and home page."""
    user = getattr(request, "user", None)
    return {
        "may_plan": may(user, "planning.view"),
        "may_open_orders": may(user, "work_order.view"),  # an order's page (quality: read-only)
        "may_see_board": may(user, "board.view"),
        "may_see_oee": may(user, "oee.view"),
        "may_see_reports": may(user, "report.view"),
        "may_see_quality": may(user, "quality.view"),
        "may_trace": may(user, "trace.view"),
        "may_supervise": may(user, "station.manage"),
        "may_resolve_unassigned": may(user, "unassigned_production.resolve"),
        "may_see_sync": may(user, "erp_sync.view"),
        "may_see_labor": may(user, "labor_report.view"),
        "may_read_api": may(user, "api.read"),
        # The administration's own door: its role and Django's staff flag (plant.admin_site), so the
        # menu never offers a page that would answer with its sign-in form.
        "may_administer": user is not None and admin.site.has_permission(request),
    }
