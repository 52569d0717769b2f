from mes.models.accounts import ApiAccess, ApiToken
from mes.models.audit import Event, EventSeal
from mes.models.bom import Bom, BomLine
from mes.models.confirmations import Confirmation
from mes.models.items import Item, UnitOfMeasure
from mes.models.materials import LaborSession, Lot, MaterialMovement
from mes.models.quality import (
    Hold,
    InspectionCharacteristic,
    InspectionResult,
    Nonconformance,
    NonconformanceDisposition,
    OrderCharacteristic,
)
from mes.models.resources import Employee, Equipment, ReasonCode, Skill, WorkCenter
from mes.models.routing import OperationDocument, Routing, RoutingOperation
from mes.models.status import Status
from mes.models.work_orders import WorkOrder, WorkOrderComponent, WorkOrderOperation

__all__ = [
    "ApiAccess",
    "ApiToken",
    "Bom",
    "BomLine",
    "Confirmation",
    "Employee",
    "Equipment",
    "Event",
    "EventSeal",
    "Hold",
    "InspectionCharacteristic",
    "InspectionResult",
    "Item",
    "LaborSession",
    "Lot",
    "MaterialMovement",
    "Nonconformance",
    "NonconformanceDisposition",
    "OperationDocument",
    "OrderCharacteristic",
    "ReasonCode",
    "Routing",
    "RoutingOperation",
    "Skill",
    "Status",
    "UnitOfMeasure",
    "WorkCenter",
    "WorkOrder",
    "WorkOrderComponent",
    "WorkOrderOperation",
]
