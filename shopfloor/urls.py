from django.urls import path

from shopfloor import api

urlpatterns = [
    path("equipment/<str:code>/signals", api.EquipmentSignalsView.as_view(), name="api-equipment-signals"),
    path("equipment/<str:code>/oee", api.EquipmentOeeView.as_view(), name="api-equipment-oee"),
    path("equipment/<str:code>/signals/test", api.EquipmentSignalsTestView.as_view(), name="api-equipment-signals-test"),
    path("work-orders/<str:number>/operations/<int:sequence>/start", api.OperationStartView.as_view(), name="api-operation-start"),
    path("work-orders/<str:number>/operations/<int:sequence>/stop", api.OperationStopView.as_view(), name="api-operation-stop"),
    # Beside the lots API of mes.api (lots/<item>/<lot>), one segment longer, so the two never meet.
    path("lots/<str:item_code>/<str:lot_code>/label.pdf", api.LotLabelView.as_view(), name="api-lot-label"),
]
