from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from erp_sync import api as erp_sync_api
from erp_sync import views as erp_sync_views
from mes.views import board, errors, home, planning
from shopfloor import machine_pages

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
    path("sync/messages/<int:message_id>/", erp_sync_views.message_page, name="sync-message"),
    path("oee/", machine_pages.oee_overview, name="oee-overview"),
    path("oee/<str:code>/", machine_pages.oee_detail, name="oee-detail"),
    path("unassigned-production/", machine_pages.unassigned_production_page, name="unassigned-production"),
    path("planning/", planning.work_order_list_page, name="planning"),
    path("planning/orders/<str:number>/", planning.work_order_page, name="planning-order"),
    path("planning/orders/<str:number>/traveler.pdf", planning.traveler_page, name="planning-traveler"),
    path("board/", board.board_page, name="board"),
    path("sync/reconciliation/", erp_sync_views.reconciliation_page, name="sync-reconciliation"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("health", home.health, name="health"),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
