from django.urls import path

from mes.api import trace, views
from mes.services.transitions import REQUESTABLE_ACTIONS

urlpatterns = [
    path("confirmations", views.ConfirmationCreateView.as_view(), name="api-confirmations"),
    path("confirmations/bulk", views.ConfirmationBulkView.as_view(), name="api-confirmations-bulk"),
    path("confirmations/<str:confirmation_id>", views.ConfirmationDetailView.as_view(), name="api-confirmation"),
    path("confirmations/<str:confirmation_id>/reverse", views.ConfirmationReverseView.as_view(), name="api-confirmation-reverse"),
    path("trace", trace.TraceView.as_view(), name="api-trace"),
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
