from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from erp_sync import api as erp_sync_api
from erp_sync import views as erp_sync_views
from mes.views import errors, home

urlpatterns = [
    path("", home.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mes.api.urls")),
    path("api/v1/", include("erp_sync.urls")),
    path("api/v1/", include("shopfloor.urls")),
    path("metrics", erp_sync_api.metrics, name="metrics"),
    path("sync/", erp_sync_views.health_page, name="sync-health"),
    path("sync/dead-letters/", erp_sync_views.dead_letters_page, name="sync-dead-letters"),
    path("sync/messages/<int:message_id>/", erp_sync_views.message_page, name="sync-message"),
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
