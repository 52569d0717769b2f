from django.urls import path

from shopfloor import api
from shopfloor.andon import api as andon_api
from shopfloor.labor_report import api as labor_report_api
from shopfloor.planning import api as planning_api
from shopfloor.reports import api as reports_api

urlpatterns = [
    path("capacity", planning_api.CapacityView.as_view(), name="api-capacity"),
    path("schedule", planning_api.ScheduleView.as_view(), name="api-schedule"),
    path("equipment/<str:code>/signals", api.EquipmentSignalsView.as_view(), name="api-equipment-signals"),
    path("equipment/<str:code>/oee", api.EquipmentOeeView.as_view(), name="api-equipment-oee"),
    path("equipment/<str:code>/signals/test", api.EquipmentSignalsTestView.as_view(), name="api-equipment-signals-test"),
    path("work-orders/<str:number>/operations/<int:sequence>/start", api.OperationStartView.as_view(), name="api-operation-start"),
    path("work-orders/<str:number>/operations/<int:sequence>/stop", api.OperationStopView.as_view(), name="api-operation-stop"),
    # Beside the lots API of mes.api (lots/<item>/<lot>), one segment longer, so the two never meet.
    path("lots/<str:item_code>/<str:lot_code>/label.pdf", api.LotLabelView.as_view(), name="api-lot-label"),
    path("andon", andon_api.AndonListView.as_view(), name="api-andon"),
    path("andon/<str:call_id>", andon_api.AndonDetailView.as_view(), name="api-andon-call"),
    path("andon/<str:call_id>/acknowledge", andon_api.AndonAcknowledgeView.as_view(), name="api-andon-acknowledge"),
    path("andon/<str:call_id>/resolve", andon_api.AndonResolveView.as_view(), name="api-andon-resolve"),
    path("andon/<str:call_id>/close", andon_api.AndonCloseView.as_view(), name="api-andon-close"),
    path("andon-ladders/<str:code>", andon_api.AndonLadderView.as_view(), name="api-andon-ladder"),
    # --- reports: labor per operator (issue 15, R-5.4) ---
    path("reports/labor", labor_report_api.LaborReportView.as_view(), name="api-reports-labor"),
]

# --- reports: the daily execution report ---------------------------------------------------
urlpatterns += [
    path("reports/daily", reports_api.DailyReportView.as_view(), name="api-report-daily"),
]
