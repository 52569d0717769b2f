from django.urls import path

from shopfloor.documents import views as documents
from shopfloor.station import views

urlpatterns = [
    path("", views.station_page, name="station"),
    path("welcome/", views.welcome, name="station-welcome"),
    path("sw.js", views.service_worker, name="station-service-worker"),
    path("setup/", views.setup, name="station-setup"),
    path("link/<str:secret>/", views.link, name="station-link"),
    path("documents/station-sheet.pdf", views.station_sheet, name="station-sheet"),
    path("instructions/<int:document_id>", views.instruction, name="station-instruction"),
    path("documents/badge-cards.pdf", views.badge_cards, name="station-badge-cards"),
    path("documents/traveler/<str:number>.pdf", documents.traveler, {"way_in": documents.STATION}, name="station-traveler"),
    path("api/sign-in", views.api_sign_in, name="station-api-sign-in"),
    path("api/operation", views.api_operation, name="station-api-operation"),
    path("api/report", views.api_report, name="station-api-report"),
    path("api/start", views.api_start, name="station-api-start"),
    path("api/pause", views.api_pause, name="station-api-pause"),
    path("api/clock-off", views.api_clock_off, name="station-api-clock-off"),
    path("api/andon", views.api_andon, name="station-api-andon"),
    path("api/downtime", views.api_downtime, name="station-api-downtime"),
    path("api/inspection", views.api_inspection, name="station-api-inspection"),
    path("api/issue", views.api_issue, name="station-api-issue"),
    path("api/issue/approve", views.api_issue_approve, name="station-api-issue-approve"),
    path("api/my-reports", views.api_my_reports, name="station-api-my-reports"),
    path("api/correct", views.api_correct, name="station-api-correct"),
]
