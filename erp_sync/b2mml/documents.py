"""The B2MML document an outbox message becomes (what the ``b2mml`` connector sends).

Every message is one BOD whose ``BODID`` and ``OperationsPerformance/ID`` are our idempotency key:

- a **confirmation** → ``ProcessOperationsPerformance``: one ``OperationsResponse`` (ID = the work
  order) with one ``SegmentResponse`` (ID = the operation's sequence, ``0010``; Description = its name;
  ``SegmentState`` Completed for a final report, else Running; ``ActualEndTime`` = when it was
  reported). Inside: ``PersonnelActual`` (PersonID = the operator's badge, Quantity = labour minutes),
  ``EquipmentActual`` (EquipmentID = the work center, Quantity = machine minutes), ``MaterialActual``
  Produced (the item, the good quantity in its unit, ``MaterialLotID`` = each output lot received)
  and Consumed (each backflushed component with its lot), and ``SegmentData`` for what has no place
  of its own: ScrapQuantity, ReworkQuantity, ReasonCode, Station, FinalConfirmation.
- a scanned **goods issue** (or receipt) of its own → ``ProcessOperationsPerformance`` whose segment
  carries only the ``MaterialActual`` rows (Consumed, or Produced) with their lots.
- a **reversal** (of a report or of a scanned issue) → ``CancelOperationsPerformance``: the verb B2MML
  (after OAGIS) gives to "withdraw what I told you before", with ``OperationsPerformance/ID`` = the
  original's key so the receiver knows which document to take back, and the original's quantities,
  positive, so it can check what it undoes. Its own ``BODID`` is the reversal's key. A
  ProcessOperationsPerformance with negative quantities would look like any new report to a receiver
  that adds them up, and a negative count of produced parts is not a quantity ISA-95 knows.
- the goods messages a report caused (``confirmation_id`` set) travel inside that report's document
  (and its cancellation): nothing is sent for them again (see the connector).

``CreationDateTime`` is the fact's own time (when it was reported or posted), so a resend is the same
bytes as the first send.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from erp_sync.b2mml import NAMESPACE, RELEASE_ID
from erp_sync.connectors.base import GOODS_KINDS, Posting, decimal_or_zero

ET.register_namespace("", NAMESPACE)

PROCESS = "ProcessOperationsPerformance"
CANCEL = "CancelOperationsPerformance"
#: Movement types (SAP's, as the payloads carry them): issued to the order, or received from it.
CONSUMED_TYPES = frozenset({"261", "262"})
PRODUCED_TYPES = frozenset({"101", "102"})
MINUTES = "min"


def _element(parent: ET.Element, name: str, text: Any = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{name}", attributes)
    if text is not None:
        element.text = str(text)
    return element


def _quantity(parent: ET.Element, amount: Decimal, unit: str | None, name: str = "Quantity") -> None:
    quantity = _element(parent, name)
    _element(quantity, "QuantityString", _plain(amount))
    _element(quantity, "DataType", "decimal")
    if unit:
        _element(quantity, "UnitOfMeasure", unit)


def _value(parent: ET.Element, identifier: str, value: Any, data_type: str, unit: str | None = None) -> None:
    data = _element(parent, "SegmentData")
    _element(data, "ID", identifier)
    holder = _element(data, "Value")
    _element(holder, "ValueString", value)
    _element(holder, "DataType", data_type)
    if unit:
        _element(holder, "UnitOfMeasure", unit)


def _plain(amount: Decimal) -> str:
    """A quantity as plain decimal text (``5``, ``2.5``), never in exponent form."""
    if amount == 0:
        return "0"
    text = format(amount.normalize(), "f")
    return text


def _moment(iso: str | None) -> str:
    moment = dt.datetime.fromisoformat(iso) if iso else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat(timespec="seconds")


def document_name(posting: Posting) -> str:
    """The BOD a posting becomes: Process…, or Cancel… for anything that takes an earlier message back."""
    return CANCEL if posting.kind == "reversal" or posting.kind.endswith("_reversal") else PROCESS


def original_key(posting: Posting) -> str:
    """For a reversal, the key of the message it takes back (the ID of the document to cancel)."""
    reverses = posting.payload.get("reverses") or {}
    return str(posting.reverses_key or reverses.get("idempotency_key") or reverses.get("confirmation_id") or "")


def performance_document(posting: Posting, *, sender: str, receiver: str = "") -> tuple[str, bytes]:
    """The document's name and its bytes (UTF-8, with an XML declaration) for one outbox message.
    Raises ``KeyError``/``ValueError`` for a payload that lacks what it needs."""
    name = document_name(posting)
    payload = posting.payload
    moment = _moment(payload.get("confirmed_at") or payload.get("posted_at"))
    root = ET.Element(f"{{{NAMESPACE}}}{name}", {"releaseID": RELEASE_ID})
    area = _element(root, "ApplicationArea")
    _element(_element(area, "Sender"), "LogicalID", sender)
    if receiver:
        _element(_element(area, "Receiver"), "LogicalID", receiver)
    _element(area, "CreationDateTime", moment)
    _element(area, "BODID", posting.idempotency_key)
    data_area = _element(root, "DataArea")
    _element(data_area, "Cancel" if name == CANCEL else "Process")
    performance = _element(data_area, "OperationsPerformance")
    _element(performance, "ID", original_key(posting) if name == CANCEL else posting.idempotency_key)
    if name == CANCEL:
        _element(performance, "Description", f"Cancelled by {posting.idempotency_key}")
    _element(performance, "OperationsType", "Production")
    response = _element(performance, "OperationsResponse")
    _element(response, "ID", payload.get("work_order") or posting.work_order)
    _element(response, "OperationsType", "Production")
    _element(response, "OperationsRequestID", payload.get("work_order") or posting.work_order)
    segment = _element(response, "SegmentResponse")
    _element(segment, "ID", f"{int(payload['operation']):04d}")
    if payload.get("operation_name"):
        _element(segment, "Description", payload["operation_name"])
    _element(segment, "ActualEndTime", moment)
    _element(segment, "OperationsType", "Production")
    if posting.kind in GOODS_KINDS:
        _goods_segment(segment, payload)
    else:
        _confirmation_segment(segment, payload)
    return name, ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _confirmation_segment(segment: ET.Element, payload: dict[str, Any]) -> None:
    unit = payload.get("unit") or None
    _element(segment, "SegmentState", "Completed" if payload.get("final") else "Running")
    _value(segment, "ScrapQuantity", _plain(abs(decimal_or_zero(payload.get("scrap_qty")))), "decimal", unit)
    _value(segment, "ReworkQuantity", _plain(abs(decimal_or_zero(payload.get("rework_qty")))), "decimal", unit)
    if payload.get("reason_code"):
        _value(segment, "ReasonCode", payload["reason_code"], "string")
    if payload.get("station"):
        _value(segment, "Station", payload["station"], "string")
    _value(segment, "FinalConfirmation", "true" if payload.get("final") else "false", "boolean")
    if payload.get("operator_badge"):
        personnel = _element(segment, "PersonnelActual")
        _element(personnel, "ID", payload["operator_badge"])
        _element(personnel, "PersonID", payload["operator_badge"])
        if payload.get("operator_name"):
            _element(personnel, "Description", payload["operator_name"])
        _element(personnel, "PersonnelUse", "Operator")
        _quantity(personnel, abs(decimal_or_zero(payload.get("labor_minutes"))), MINUTES)
    if payload.get("work_center"):
        equipment = _element(segment, "EquipmentActual")
        _element(equipment, "ID", payload["work_center"])
        _element(equipment, "EquipmentID", payload["work_center"])
        _element(equipment, "EquipmentUse", "Production")
        _quantity(equipment, abs(decimal_or_zero(payload.get("machine_minutes"))), MINUTES)
    movements = payload.get("goods_movements") or []
    produced = [m for m in movements if str(m.get("movement_type")) in PRODUCED_TYPES]
    good = abs(decimal_or_zero(payload.get("good_qty")))
    lots = [str(m["lot"]) for m in produced if m.get("lot")]
    _material(segment, "Produced", payload.get("item") or "", good, unit, lots)
    for movement in movements:
        if str(movement.get("movement_type")) in CONSUMED_TYPES:
            _movement(segment, movement, "Consumed")


def _goods_segment(segment: ET.Element, payload: dict[str, Any]) -> None:
    for movement in payload.get("movements") or []:
        kind = str(movement.get("movement_type"))
        _movement(segment, movement, "Consumed" if kind in CONSUMED_TYPES else "Produced")


def _movement(segment: ET.Element, movement: dict[str, Any], use: str) -> None:
    lots = [str(movement["lot"])] if movement.get("lot") else []
    amount = abs(decimal_or_zero(movement.get("quantity")))
    _material(segment, use, str(movement["item"]), amount, movement.get("unit") or None, lots)


def _material(segment: ET.Element, use: str, item: str, amount: Decimal, unit: str | None, lots: list[str]) -> None:
    index = sum(1 for child in segment if child.tag.endswith("}MaterialActual")) + 1
    material = _element(segment, "MaterialActual")
    _element(material, "ID", f"{use[0]}{index}")
    _element(material, "MaterialDefinitionID", item)
    for lot in lots:
        _element(material, "MaterialLotID", lot)
    _element(material, "MaterialUse", use)
    _quantity(material, amount, unit)
