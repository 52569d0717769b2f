from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from erp_sync import api as erp_sync_api
from erp_sync import views as erp_sync_views
from mes.views import planning, quality
from plant.views import board, errors, home, trace
from shopfloor import machine_pages
from shopfloor.andon import views as andon_views
from shopfloor.labor_report import pages as labor_report_pages
from shopfloor.planning import pages as planning_pages
from shopfloor.reports import pages as report_pages
from shopfloor.documents import views as documents

urlpatterns = [
    path("", home.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mes.api.urls")),
    path("api/v1/", include("erp_sync.urls")),
    path("api/v1/", include("shopfloor.urls")),
    path("station/", include("shopfloor.station.urls")),
    path("metrics", erp_sync_api.metrics, name="metrics"),
    path("sync/", erp_sync_views.health_page, name="sync-health"),
    path("sync/dead-letters/", erp_sync_views.dead_letters_page, name="sync-dead-letters"),
    path("sync/messages/", erp_sync_views.message_list_page, name="sync-messages"),
    path("sync/pulls/", erp_sync_views.pulls_page, name="sync-pulls"),
    path("sync/messages/<int:message_id>/", erp_sync_views.message_page, name="sync-message"),
    path("andon/", andon_views.andon_page, name="andon"),
    path("oee/", machine_pages.oee_overview, name="oee-overview"),
    path("oee/<str:code>/", machine_pages.oee_detail, name="oee-detail"),
    path("unassigned-production/", machine_pages.unassigned_production_page, name="unassigned-production"),
    path("planning/", planning.work_order_list_page, name="planning"),
    path("planning/load/", planning_pages.load_page, name="planning-load"),
    path("planning/gantt/", planning_pages.gantt_page, name="planning-gantt"),
    path("planning/orders/<str:number>/", planning.work_order_page, name="planning-order"),
    path("quality/", quality.quality_page, name="quality"),
    path("quality/ncr/<int:nonconformance_id>/", quality.nonconformance_page, name="quality-ncr"),
    path("quality/spc/<str:item_code>/<int:sequence>/<str:characteristic>/", quality.spc_page, name="quality-spc"),
    path("planning/orders/<str:number>/traveler.pdf", documents.traveler, {"way_in": documents.PLANNING}, name="planning-traveler"),
    path("board/", board.board_page, name="board"),
    # --- reports: labor per operator (issue 15, R-5.4) ---
    path("reports/labor/", labor_report_pages.labor_report_page, name="reports-labor"),
    path("trace/", trace.trace_page, name="trace"),
    path("trace/report.pdf", trace.trace_report, name="trace-report"),
    path("sync/reconciliation/", erp_sync_views.reconciliation_page, name="sync-reconciliation"),
    # --- reports (R-5.4) ---
    path("reports/daily/", report_pages.daily_page, name="report-daily"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Both documentation pages pass the site's Content-Security-Policy: Swagger UI loads its start-up
    # script from a second request; ReDoc styles itself with inline <style> elements and searches in a
    # worker it starts from a blob: URL, which its page alone allows.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="plant/api_docs/swagger_ui.html"), name="api-docs"),
    path(
        "api/redoc/",
        csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="plant/api_docs/redoc.html")
        ),
        name="api-redoc",
    ),
    path("health", home.health, name="health"),
    # Pages that link no icon of their own (the admin, ReDoc) make the browser ask for /favicon.ico.
    path("favicon.ico", require_safe(RedirectView.as_view(url=static("mes/favicon.svg"), permanent=True)), name="favicon"),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
