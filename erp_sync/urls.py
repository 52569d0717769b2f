from django.urls import path

from erp_sync import api, api_b2mml, api_events, api_reconciliation

urlpatterns = [
    path("b2mml/operations-schedule", api_b2mml.OperationsScheduleView.as_view(), name="api-b2mml-operations-schedule"),
    path("erp-connections", api.ConnectionListView.as_view(), name="api-erp-connections"),
    path("erp-connections/mapping-preview", api.MappingPreviewView.as_view(), name="api-erp-mapping-preview"),
    path("erp-connections/<str:name>", api.ConnectionView.as_view(), name="api-erp-connection"),
    path("erp-connections/<str:name>/test", api.ConnectionTestView.as_view(), name="api-erp-connection-test"),
    path("event-destinations", api_events.EventDestinationListView.as_view(), name="api-event-destinations"),
    path("event-destinations/<str:name>", api_events.EventDestinationView.as_view(), name="api-event-destination"),
    path("event-destinations/<str:name>/enable", api_events.EventDestinationEnableView.as_view(), name="api-event-destination-enable"),
    path("event-destinations/<str:name>/test", api_events.EventDestinationTestView.as_view(), name="api-event-destination-test"),
    path("sync/health", api.SyncHealthView.as_view(), name="api-sync-health"),
    path("sync/drifts", api_reconciliation.DriftListView.as_view(), name="api-sync-drifts"),
    path("sync/drifts/<int:drift_id>/repair", api_reconciliation.DriftRepairView.as_view(), name="api-sync-drift-repair"),
    path("sync/messages", api.MessageListView.as_view(), name="api-sync-messages"),
    path("sync/pulls", api.PullListView.as_view(), name="api-sync-pulls"),
    path("sync/messages/replay", api.MessageBulkReplayView.as_view(), name="api-sync-messages-replay"),
    path("sync/messages/<int:message_id>", api.MessageDetailView.as_view(), name="api-sync-message"),
    path("sync/messages/<int:message_id>/replay", api.MessageReplayView.as_view(), name="api-sync-message-replay"),
    path("sync/messages/<int:message_id>/discard", api.MessageDiscardView.as_view(), name="api-sync-message-discard"),
]
