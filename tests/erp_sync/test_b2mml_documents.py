"""The B2MML documents the ``b2mml`` connector makes of real outbox messages (reports with an operator,
a work center, backflushed and received lots; a scanned issue; reversals) are valid against MESA's
official schemas and say what happened; a document that would not validate is never sent."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from erp_sync.b2mml.validation import SCHEMA_DIR, b2mml_schema
from erp_sync.connectors.b2mml import B2mmlConnector
from erp_sync.connectors.base import ConnectionConfig, Outcome
from erp_sync.dispatcher import _posting
from erp_sync.models import OutboxMessage
from mes.models import BomLine, Item, Lot
from mes.services.confirmation_materials import LotUse
from mes.services.confirmations import confirmation_reverse
from mes.services.material_issues import MaterialIssueRequest, material_issue, material_issue_reverse
from mes.services.work_orders import work_order_transition
from tests.erp_sync.b2mml import OFFICIAL_DIR, assert_valid, texts
from tests.helpers import confirm

pytestmark = pytest.mark.django_db
ORDER = "WO-1001"
ROOT = "DataArea/OperationsPerformance"
SEGMENT = f"{ROOT}/OperationsResponse/SegmentResponse"


@pytest.fixture
def order(plant, planned_order):
    """FRAME-100 tracked by lot; operation 10 backflushes tube from lot T-OLD and bolts (untracked)."""
    Item.objects.filter(pk=plant["item"].pk).update(tracking=Item.Tracking.LOT)
    Item.objects.filter(pk=plant["tube"].pk).update(tracking=Item.Tracking.LOT)
    BomLine.objects.filter(bom__item=plant["item"]).update(backflush=True, operation=10)
    Lot.objects.create(item=plant["tube"], code="T-OLD", unit=plant["tube"].unit, received_qty=Decimal(100))
    work_order_transition(number=ORDER, action="release")
    return planned_order


def _connector() -> B2mmlConnector:
    return B2mmlConnector(ConnectionConfig(name="hub", kind="b2mml", base_url="http://127.0.0.1:9/b2mml", options={"receiver": "HUB-1"}))


def _document(message: OutboxMessage) -> tuple[str, bytes]:
    document = _connector().document(_posting(message))
    assert not hasattr(document, "outcome"), document
    return document


def _messages(kind: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(partition_key=ORDER, kind=kind).order_by("sequence"))


def test_a_report_with_operator_work_center_and_backflushed_lot_is_a_valid_process_operations_performance(order):
    confirm(
        ORDER, 10, good_qty=Decimal(4), scrap_qty=Decimal(1), reason_code="SCRAP-01", operator_badge="B-1001",
        labor_minutes=Decimal(30), machine_minutes=Decimal(20), lots=(LotUse("TUBE-20", "T-OLD"),),
    )
    (message,) = _messages("confirmation")

    name, data = _document(message)
    root = assert_valid(data)

    assert name == "ProcessOperationsPerformance" and root.tag.endswith("}ProcessOperationsPerformance")
    key = str(message.idempotency_key)
    assert texts(root, "ApplicationArea/BODID") == [key] and texts(root, f"{ROOT}/ID") == [key]
    assert texts(root, "ApplicationArea/Sender/LogicalID") == ["open-mes"]
    assert texts(root, "ApplicationArea/Receiver/LogicalID") == ["HUB-1"]
    assert texts(root, f"{ROOT}/OperationsResponse/ID") == [ORDER]
    assert texts(root, f"{SEGMENT}/ID") == ["0010"] and texts(root, f"{SEGMENT}/SegmentState") == ["Running"]
    assert texts(root, f"{SEGMENT}/PersonnelActual/PersonID") == ["B-1001"]
    assert texts(root, f"{SEGMENT}/PersonnelActual/Quantity/QuantityString") == ["30"]
    assert texts(root, f"{SEGMENT}/EquipmentActual/EquipmentID") == ["WC-CUT"]
    assert texts(root, f"{SEGMENT}/EquipmentActual/Quantity/QuantityString") == ["20"]
    materials = [
        (m.findtext(f"{{*}}MaterialDefinitionID"), m.findtext("{*}MaterialLotID"), m.findtext("{*}MaterialUse"),
         m.findtext("{*}Quantity/{*}QuantityString"), m.findtext("{*}Quantity/{*}UnitOfMeasure"))
        for m in root.iterfind(f"{{*}}DataArea/{{*}}OperationsPerformance/{{*}}OperationsResponse/{{*}}SegmentResponse/{{*}}MaterialActual")
    ]
    # 5 frames (4 good, 1 scrap) × 2.5 m of tube from T-OLD and × 4 bolts (untracked: no lot)
    assert materials == [
        ("FRAME-100", None, "Produced", "4", "PCS"),
        ("TUBE-20", "T-OLD", "Consumed", "12.5", "M"),
        ("BOLT-M8", None, "Consumed", "20", "PCS"),
    ]
    data_values = dict(zip(texts(root, f"{SEGMENT}/SegmentData/ID"), texts(root, f"{SEGMENT}/SegmentData/Value/ValueString"), strict=True))
    assert data_values == {"ScrapQuantity": "1", "ReworkQuantity": "0", "ReasonCode": "SCRAP-01", "FinalConfirmation": "false"}
    # The goods issue the report caused rode inside it: nothing is sent for it again.
    (goods,) = _messages("goods_issue")
    result = _connector().post(_posting(goods))
    assert result.outcome == Outcome.ACCEPTED and result.erp_ref == {"booked_with_confirmation": str(message.idempotency_key)}


def test_the_last_operation_reports_its_output_lot_and_a_final_report_completes_the_segment(order):
    confirm(ORDER, 10, good_qty=Decimal(2), lots=(LotUse("TUBE-20", "T-OLD"),))
    confirm(ORDER, 20, good_qty=Decimal(2))
    confirm(ORDER, 30, good_qty=Decimal(2), output_lot="FR-A", final=True, operator_badge="B-1001")
    last = _messages("confirmation")[-1]

    root = assert_valid(_document(last)[1])

    assert texts(root, f"{SEGMENT}/ID") == ["0030"] and texts(root, f"{SEGMENT}/SegmentState") == ["Completed"]
    assert texts(root, f"{SEGMENT}/MaterialActual/MaterialLotID") == ["FR-A"]
    assert texts(root, f"{SEGMENT}/MaterialActual/MaterialUse") == ["Produced"]


def test_a_reversal_is_a_cancel_operations_performance_naming_the_original(order):
    original = confirm(ORDER, 10, good_qty=Decimal(3), operator_badge="B-1001", lots=(LotUse("TUBE-20", "T-OLD"),)).confirmation
    confirmation_reverse(confirmation_id=original.uuid, reason="miscounted")
    (reversal,) = _messages("reversal")

    name, data = _document(reversal)
    root = assert_valid(data)

    assert name == "CancelOperationsPerformance"
    assert texts(root, "ApplicationArea/BODID") == [str(reversal.idempotency_key)]
    assert texts(root, f"{ROOT}/ID") == [str(original.uuid)]  # the document to take back
    assert texts(root, f"{SEGMENT}/MaterialActual/Quantity/QuantityString") == ["3", "7.5", "12"]  # as booked, positive
    (goods_reversal,) = _messages("goods_issue_reversal")
    assert _connector().post(_posting(goods_reversal)).outcome == Outcome.ACCEPTED  # inside the cancellation


def test_a_scanned_issue_and_its_reversal_are_documents_of_their_own(order):
    issued = material_issue(
        request=MaterialIssueRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, item="TUBE-20", lot="T-OLD", quantity=Decimal("1.5"))
    ).movement
    material_issue_reverse(movement_id=issued.uuid, reason="wrong lot")
    issue, reversal = _messages("goods_issue")[0], _messages("goods_issue_reversal")[0]

    issue_root = assert_valid(_document(issue)[1])
    reversal_name, reversal_data = _document(reversal)
    reversal_root = assert_valid(reversal_data)

    assert texts(issue_root, f"{SEGMENT}/MaterialActual/MaterialLotID") == ["T-OLD"]
    assert texts(issue_root, f"{SEGMENT}/MaterialActual/MaterialUse") == ["Consumed"]
    assert texts(issue_root, f"{SEGMENT}/MaterialActual/Quantity/QuantityString") == ["1.5"]
    assert reversal_name == "CancelOperationsPerformance"
    assert texts(reversal_root, f"{ROOT}/ID") == [str(issue.idempotency_key)]


def test_a_resend_is_the_same_bytes(order):
    confirm(ORDER, 10, good_qty=Decimal(1), lots=(LotUse("TUBE-20", "T-OLD"),))
    (message,) = _messages("confirmation")
    assert _document(message) == _document(message)


def test_a_message_that_would_not_validate_is_refused_and_names_the_rule(order):
    confirm(ORDER, 10, good_qty=Decimal(1), lots=(LotUse("TUBE-20", "T-OLD"),))
    posting = _posting(_messages("confirmation")[0])
    broken = type(posting)(**{**posting.__dict__, "payload": {**posting.payload, "confirmed_at": "2025-13-45T99:00:00"}})

    result = _connector().post(broken)

    assert result.outcome == Outcome.REJECTED and "cannot be written as B2MML" in result.error


def test_the_shipped_schemas_are_the_official_ones_with_their_notice():
    if OFFICIAL_DIR.exists():
        official = {path.name: path.read_bytes() for path in OFFICIAL_DIR.glob("*.xsd")}
        assert {path.name: path.read_bytes() for path in SCHEMA_DIR.glob("*.xsd")} == official
    notice = (SCHEMA_DIR / "LICENSE").read_text()
    assert "The Business To Manufacturing Markup Language (B2MML) is used" in notice
    assert b2mml_schema() is b2mml_schema()  # built once per process
