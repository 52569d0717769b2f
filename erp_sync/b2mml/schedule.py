"""Reading a ``ProcessOperationsSchedule`` (already valid B2MML) into orders, and the acknowledgement BOD.

Each ``OperationsRequest`` is one work order:

- number: its ``ID``;
- item and quantity: the first ``MaterialRequirement`` of its segment requirements whose
  ``MaterialUse`` is Produced (or Yield Produced): ``MaterialDefinitionID`` and ``Quantity``
  (``QuantityString``, with ``UnitOfMeasure`` when given, which must be the item's unit); without one,
  the item is the request's ``OperationsDefinitionID`` and the order is refused for want of a quantity;
- due date: the request's ``EndTime``, else its last segment's ``LatestEndTime``, else the schedule's
  ``EndTime`` (the plant's calendar day of that moment);
- priority: ``Priority`` (1 to 99), when given;
- routing: the segment requirements that name a work center (``EquipmentRequirement/EquipmentID``),
  each an operation: sequence = its ``ID`` when that is a whole number, else 10, 20, 30 … in document
  order; name = its ``Description``, else its ``ProcessSegmentID``. Segments that name no work center
  at all leave the item's routing as it is.

No Django here: the service (``erp_sync.b2mml.services``) applies what this reads.
"""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from erp_sync.b2mml import NAMESPACE, RELEASE_ID

NS = f"{{{NAMESPACE}}}"
PRODUCED_USES = ("Produced", "Yield Produced")


@dataclass(frozen=True)
class ScheduledOperation:
    sequence: int
    name: str
    work_center: str


@dataclass
class ScheduledOrder:
    """One OperationsRequest as read; ``problem`` says why it cannot become an order, when it cannot."""

    number: str
    line: int | None = None
    item: str = ""
    quantity: Decimal | None = None
    unit: str = ""
    due: dt.datetime | None = None
    priority: int | None = None
    operations: list[ScheduledOperation] = field(default_factory=list)
    problem: str = ""


def _find(element: ET.Element, path: str) -> ET.Element | None:
    return element.find("/".join(f"{NS}{part}" for part in path.split("/")))


def _text(element: ET.Element | None, path: str) -> str:
    found = _find(element, path) if element is not None else None
    return " ".join((found.text or "").split()) if found is not None else ""


def _moment(text: str) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def schedule_orders(root: ET.Element) -> list[ScheduledOrder]:
    """Every OperationsRequest of every OperationsSchedule in the document, in document order."""
    orders = []
    for schedule in root.iterfind(f"{NS}DataArea/{NS}OperationsSchedule"):
        schedule_end = _text(schedule, "EndTime")
        for request in schedule.iterfind(f"{NS}OperationsRequest"):
            orders.append(_order(request, schedule_end))
    return orders


def _order(request: ET.Element, schedule_end: str) -> ScheduledOrder:
    order = ScheduledOrder(number=_text(request, "ID"), line=getattr(request, "sourceline", None))
    segments = request.findall(f"{NS}SegmentRequirement")
    try:
        order.due = _moment(_text(request, "EndTime") or _text(segments[-1], "LatestEndTime") or schedule_end)
        priority = _text(request, "Priority")
        if priority:
            value = Decimal(priority)
            if value != value.to_integral_value() or not 1 <= value <= 99:
                order.problem = f"Priority {priority} is not a whole number from 1 to 99."
            order.priority = int(value)
    except (ValueError, InvalidOperation) as error:
        order.problem = f"A time or priority cannot be read: {error}"
    produced = next(
        (
            material
            for segment in segments
            for material in segment.iterfind(f"{NS}MaterialRequirement")
            if _text(material, "MaterialUse") in PRODUCED_USES
        ),
        None,
    )
    if produced is not None:
        order.item = _text(produced, "MaterialDefinitionID")
        order.unit = _text(produced, "Quantity/UnitOfMeasure")
        quantity = _text(produced, "Quantity/QuantityString")
        try:
            order.quantity = Decimal(quantity) if quantity else None
        except InvalidOperation:
            order.quantity = None
        if quantity and (order.quantity is None or not order.quantity.is_finite()):
            order.quantity = None
            order.problem = order.problem or f"The produced quantity {quantity!r} is not a number."
    else:
        order.item = _text(request, "OperationsDefinitionID")
    if order.quantity is None and not order.problem:
        order.problem = "No MaterialRequirement with MaterialUse Produced and a Quantity: the order's item and quantity are unknown."
    if not order.item and not order.problem:
        order.problem = "No MaterialDefinitionID of the produced material: the order's item is unknown."
    if order.due is None and not order.problem:
        order.problem = "No EndTime (of the request, its last segment or the schedule): the order's due date is unknown."
    routed = [(index, segment) for index, segment in enumerate(segments) if _text(segment, "EquipmentRequirement/EquipmentID")]
    if routed and len(routed) != len(segments) and not order.problem:
        unnamed = next(_text(segment, "ID") for segment in segments if not _text(segment, "EquipmentRequirement/EquipmentID"))
        order.problem = f"Segment requirement {unnamed} names no work center (EquipmentRequirement/EquipmentID) while others do."
    for index, segment in routed:
        identifier = _text(segment, "ID")
        order.operations.append(
            ScheduledOperation(
                sequence=int(identifier) if identifier.isdigit() else (index + 1) * 10,
                name=_text(segment, "Description") or _text(segment, "ProcessSegmentID"),
                work_center=_text(segment, "EquipmentRequirement/EquipmentID"),
            )
        )
    return order


@dataclass(frozen=True)
class OrderOutcome:
    """How one OperationsRequest went: written (created or changed, or already so), or refused with a code and why."""

    number: str
    accepted: bool
    code: str = ""
    message: str = ""
    created: bool = False
    changed: bool = False


def acknowledgement(root: ET.Element, outcomes: list[OrderOutcome], *, sender: str, now: dt.datetime) -> bytes:
    """``AcknowledgeOperationsSchedule``: the received ApplicationArea, one ResponseCriteria per order
    (actionCode Accepted or Rejected, the order's ID; the reason's code and words when refused), and
    the schedules as received."""
    document = ET.Element(f"{NS}AcknowledgeOperationsSchedule", {"releaseID": RELEASE_ID})
    area = ET.SubElement(document, f"{NS}ApplicationArea")
    ET.SubElement(ET.SubElement(area, f"{NS}Sender"), f"{NS}LogicalID").text = sender
    ET.SubElement(area, f"{NS}CreationDateTime").text = now.isoformat(timespec="seconds")
    ET.SubElement(area, f"{NS}BODID").text = str(uuid.uuid4())
    data_area = ET.SubElement(document, f"{NS}DataArea")
    acknowledge = ET.SubElement(data_area, f"{NS}Acknowledge")
    original = _find(root, "ApplicationArea")
    if original is not None:
        copy = ET.SubElement(acknowledge, f"{NS}OriginalApplicationArea")
        copy.extend(list(original))
    for outcome in outcomes:
        verdict = "Accepted" if outcome.accepted else "Rejected"
        criteria = ET.SubElement(acknowledge, f"{NS}ResponseCriteria")
        expression = ET.SubElement(criteria, f"{NS}ResponseExpression", {"actionCode": verdict})
        expression.text = outcome.number
        status = ET.SubElement(criteria, f"{NS}ChangeStatus")
        ET.SubElement(status, f"{NS}Code").text = verdict
        description = outcome.message or ("created" if outcome.created else "updated" if outcome.changed else "unchanged")
        ET.SubElement(status, f"{NS}Description").text = description
        if outcome.code:
            ET.SubElement(status, f"{NS}ReasonCode").text = outcome.code
    data_area.extend(root.findall(f"{NS}DataArea/{NS}OperationsSchedule"))
    return ET.tostring(document, encoding="utf-8", xml_declaration=True)
