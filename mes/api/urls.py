from django.urls import path

from mes.api import costs, nonconformances, quality, trace, views, work_instructions
from mes.services.transitions import REQUESTABLE_ACTIONS

urlpatterns = [
    path("confirmations", views.ConfirmationCreateView.as_view(), name="api-confirmations"),
    path("confirmations/bulk", views.ConfirmationBulkView.as_view(), name="api-confirmations-bulk"),
    path("confirmations/<str:confirmation_id>", views.ConfirmationDetailView.as_view(), name="api-confirmation"),
    path("confirmations/<str:confirmation_id>/reverse", views.ConfirmationReverseView.as_view(), name="api-confirmation-reverse"),
    path("lots/bulk", views.LotBulkView.as_view(), name="api-lots-bulk"),
    path("lots/<str:item_code>/<str:lot_code>", views.LotView.as_view(), name="api-lot"),
    path("material-issues", views.MaterialIssueCreateView.as_view(), name="api-material-issues"),
    path("material-issues/<str:movement_id>", views.MaterialIssueDetailView.as_view(), name="api-material-issue"),
    *[
        path(f"material-issues/<str:movement_id>/{action}", views.material_issue_decision_view(action), name=f"api-material-issue-{action}")
        for action in views.DECISIONS
    ],
    path("trace", trace.TraceView.as_view(), name="api-trace"),
    path("inspection-plans/<str:item_code>/<int:sequence>", quality.InspectionPlanView.as_view(), name="api-inspection-plan"),
    path(
        "routings/<str:item_code>/operations/<int:sequence>/documents", work_instructions.OperationDocumentListView.as_view(),
        name="api-work-instructions",
    ),
    path(
        "routings/<str:item_code>/operations/<int:sequence>/documents/<str:name>", work_instructions.OperationDocumentView.as_view(),
        name="api-work-instruction",
    ),
    path("inspections", quality.InspectionCreateView.as_view(), name="api-inspections"),
    # Costing (issue 15, R-5.4): actual against standard cost of one order.
    path("work-orders/<str:number>/cost", costs.WorkOrderCostView.as_view(), name="api-work-order-cost"),
    path("work-orders/<str:key>/inspections", quality.WorkOrderInspectionsView.as_view(), name="api-work-order-inspections"),
    path("spc/<str:item_code>/<int:sequence>/<str:characteristic>", quality.SpcView.as_view(), name="api-spc"),
    path("holds", nonconformances.HoldListView.as_view(), name="api-holds"),
    path("holds/<int:hold_id>/release", nonconformances.HoldReleaseView.as_view(), name="api-hold-release"),
    path("nonconformances", nonconformances.NonconformanceListView.as_view(), name="api-nonconformances"),
    path("nonconformances/<int:nonconformance_id>", nonconformances.NonconformanceDetailView.as_view(), name="api-nonconformance"),
    path(
        "nonconformances/<int:nonconformance_id>/disposition", nonconformances.NonconformanceDispositionView.as_view(),
        name="api-nonconformance-disposition",
    ),
    path("nonconformances/<int:nonconformance_id>/close", nonconformances.NonconformanceCloseView.as_view(), name="api-nonconformance-close"),
]
for name, resource in views.RESOURCES.items():
    single, bulk = views.resource_views(resource)
    urlpatterns += [
        path(f"{name}/bulk", bulk, name=f"api-{name}-bulk"),
        path(f"{name}/<str:key>", single, name=f"api-{name}"),
    ]
urlpatterns += [
    path(f"work-orders/<str:key>/{action}", views.transition_view(action), name=f"api-work-order-{action}")
    for action in REQUESTABLE_ACTIONS
]
