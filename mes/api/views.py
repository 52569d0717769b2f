"""REST API views: parse, call one service or selector, answer. No business rules here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import (
    ERROR_RESPONSE,
    ERRORS,
    KEY_MAX_LENGTH,
    ApiView,
    InboundWriteView,
    check_key,
    parse_uuid,
    validated,
)
from common.api.errors import validation_error_body
from common.errors import DomainError, ErrorKind
from common.roles import transition_capability
from erp_sync.outbox import confirmation_sync_state
from mes.api import serializers as s
from mes.api.docs import RESOURCE_WORDS, TRANSITION_WORDS, documented
from mes.api.representations import (
    bom_json,
    confirmation_json,
    employee_json,
    equipment_json,
    item_json,
    lot_json,
    material_issue_json,
    reason_code_json,
    routing_json,
    work_center_json,
    work_order_json,
)
from mes.models import Bom, Employee, Equipment, Item, ReasonCode, Routing, WorkCenter
from mes.selectors.confirmations import confirmation_get
from mes.selectors.material_issues import lot_get, material_issue_get
from mes.selectors.work_orders import work_order_get
from mes.services import master_data
from mes.services.confirmations import (
    ConfirmationRequest,
    confirmation_reverse,
    operation_confirm,
    operation_confirm_many,
    reporting_rights,
)
from mes.services.material_issues import (
    MaterialIssueRequest,
    MaterialIssueResult,
    material_issue,
    material_issue_approve,
    material_issue_reject,
    material_issue_reverse,
    over_issue_summary,
)
from mes.services.work_orders import work_order_release, work_order_transition, work_order_upsert


def _records(request: Request, envelope: str) -> list[Any]:
    data = request.data
    if not isinstance(data, dict) or set(data) != {envelope} or not isinstance(data[envelope], list):
        raise ValidationError({envelope: [f'Send {{"{envelope}": [...]}} and nothing else.']})
    records = data[envelope]
    if not 1 <= len(records) <= settings.MES_BULK_LIMIT:
        raise ValidationError({envelope: [f"Send between 1 and {settings.MES_BULK_LIMIT} records; got {len(records)}."]})
    return records


# --- master data and work orders: idempotent upserts ---------------------------------


@dataclass(frozen=True)
class Resource:
    """One kind of ERP-owned record: how to validate, upsert, read and show it."""

    name: str
    key_field: str  # the key's name in bulk records and in the URL
    service_key: str  # the key's keyword in the upsert service
    serializer: type[serializers.Serializer]
    upsert: Callable[..., master_data.UpsertResult]
    read: Callable[[str], Any]
    represent: Callable[[Any], dict[str, Any]]
    write_capability: str  # in common.roles.CAPABILITIES

    def bulk_serializer(self) -> type[serializers.Serializer]:
        return type(
            f"Bulk{self.serializer.__name__}",
            (self.serializer,),
            {self.key_field: serializers.CharField(max_length=KEY_MAX_LENGTH)},
        )


def _read(model, key_field: str, kind: str, *related: str) -> Callable[[str], Any]:
    def read(key: str):
        try:
            return model.objects.select_related(*related).get(**{key_field: key})
        except model.DoesNotExist:
            raise DomainError(f"unknown_{kind}", f"No {kind.replace('_', ' ')} with key {key!r} exists.", kind=ErrorKind.NOT_FOUND) from None

    return read


def _read_bom(item_code: str) -> Bom:
    bom = (
        Bom.objects.select_related("item")
        .filter(item__code=item_code)
        .order_by(F("valid_from").desc(nulls_last=True), "-version")
        .first()
    )
    if bom is None:
        raise DomainError("unknown_bom", f"Item {item_code!r} has no BOM.", kind=ErrorKind.NOT_FOUND)
    return bom


RESOURCES = {
    "items": Resource("items", "code", "code", s.ItemSerializer, master_data.item_upsert, _read(Item, "code", "item", "unit"), item_json, "master_data.write"),
    "work-centers": Resource("work-centers", "code", "code", s.WorkCenterSerializer, master_data.work_center_upsert, _read(WorkCenter, "code", "work_center"), work_center_json, "master_data.write"),
    "equipment": Resource("equipment", "code", "code", s.EquipmentSerializer, master_data.equipment_upsert, _read(Equipment, "code", "equipment", "work_center"), equipment_json, "master_data.write"),
    "employees": Resource("employees", "badge", "badge", s.EmployeeSerializer, master_data.employee_upsert, _read(Employee, "badge", "employee"), employee_json, "master_data.write"),
    "reason-codes": Resource("reason-codes", "code", "code", s.ReasonCodeSerializer, master_data.reason_code_upsert, _read(ReasonCode, "code", "reason_code"), reason_code_json, "master_data.write"),
    "boms": Resource("boms", "item", "item_code", s.BomSerializer, master_data.bom_upsert, _read_bom, bom_json, "master_data.write"),
    "routings": Resource("routings", "item", "item_code", s.RoutingSerializer, master_data.routing_upsert, _read(Routing, "item__code", "routing", "item"), routing_json, "master_data.write"),
    "work-orders": Resource("work-orders", "number", "number", s.WorkOrderSerializer, work_order_upsert, lambda number: work_order_get(number=number), work_order_json, "work_order.write"),
}


class ResourceView(InboundWriteView):
    """GET or PUT one record by the ERP's key: 201 created, 200 updated or unchanged."""

    resource: Resource

    def get(self, request: Request, key: str) -> Response:
        return Response(self.resource.represent(self.resource.read(check_key(self.resource.key_field, key))))

    def put(self, request: Request, key: str) -> Response:
        resource = self.resource
        data = validated(resource.serializer, request.data)
        result = resource.upsert(**{resource.service_key: check_key(resource.key_field, key)}, **data, actor=request.user)
        body = resource.represent(result.obj)  # what was written: a BOM PUT answers its own version
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


def bulk_upsert(
    request: Request,
    envelope: str,
    record_serializer: type[serializers.Serializer],
    key_of: Callable[[dict[str, Any]], str],
    write: Callable[[dict[str, Any]], master_data.UpsertResult],
) -> Response:
    """Upsert the records of ``{envelope: [...]}``, all or nothing: if any record is refused, none is
    written. ``key_of`` names a record in the answer; ``write`` upserts its validated data."""
    results: list[dict[str, Any]] = []
    with transaction.atomic():
        for record in _records(request, envelope):
            serializer = record_serializer(data=record)
            if not serializer.is_valid():
                results.append({"status": 400, "error": validation_error_body(serializer.errors)})
                continue
            data = dict(serializer.validated_data)
            key = key_of(data)
            try:
                with transaction.atomic():
                    result = write(data)
            except DomainError as error:
                results.append({"status": int(error.kind), "id": key, "error": error.as_dict()})
                continue
            results.append({"status": 201 if result.created else 200, "id": key})
        failed = [result for result in results if result["status"] >= 400]
        if failed:
            transaction.set_rollback(True)
    if not failed:
        return Response({"results": results})
    for result in results:
        if result["status"] < 400:
            result["status"] = 424
            result["error"] = {"code": "not_applied", "message": "Not written: another record in this batch was refused."}
    worst = 400 if all(result["status"] == 400 for result in failed) else 422
    return Response({"results": results}, status=worst)


class ResourceBulkView(InboundWriteView):
    """Upsert up to 1,000 records, all or nothing: if any record is refused, none is written."""

    resource: Resource

    def post(self, request: Request) -> Response:
        resource = self.resource

        def write(data: dict[str, Any]) -> master_data.UpsertResult:
            key = data.pop(resource.key_field)
            return resource.upsert(**{resource.service_key: key}, **data, actor=request.user)

        return bulk_upsert(request, "records", resource.bulk_serializer(), lambda data: data[resource.key_field], write)


BULK_RULE = (
    " Send `{\"records\": [...]}`, each record with its key. If any record is refused, none is written: the answer "
    "names each record's status (424 for those not written because of another)."
)


def resource_views(resource: Resource) -> tuple[Callable, Callable]:
    """The single and bulk views of one resource, each documented in the resource's own words and tag."""
    tag = resource.name
    words = RESOURCE_WORDS[resource.name]
    summaries = words.summaries()
    single = type(
        f"{resource.serializer.__name__.removesuffix('Serializer')}View",
        (ResourceView,),
        {"resource": resource, "capabilities": {"GET": "api.read", "PUT": resource.write_capability}},
    )
    single.get = documented(ResourceView.get, tags=[tag], summary=summaries["get"], description=words.description, responses={200: dict, **ERRORS})
    single.put = documented(
        ResourceView.put,
        tags=[tag],
        summary=summaries["put"],
        description=words.description,
        request=resource.serializer,
        examples=words.put_examples(),
        responses={200: dict, 201: dict, **ERRORS},
    )
    bulk = type(
        f"{resource.serializer.__name__.removesuffix('Serializer')}BulkView",
        (ResourceBulkView,),
        {"resource": resource, "capabilities": {"POST": resource.write_capability}},
    )
    bulk.post = documented(
        ResourceBulkView.post,
        tags=[tag],
        summary=summaries["bulk"],
        description=words.description + BULK_RULE,
        request=inline_serializer(f"{resource.serializer.__name__}Bulk", {"records": resource.bulk_serializer()(many=True)}),
        examples=words.bulk_examples(),
        responses={200: s.BulkResponseSerializer, 400: s.BulkResponseSerializer, 422: s.BulkResponseSerializer},
    )
    return single.as_view(), bulk.as_view()


# --- work-order transitions ------------------------------------------------------------


class WorkOrderTransitionView(InboundWriteView):
    action: str = ""

    def post(self, request: Request, key: str) -> Response:
        data = validated(s.TransitionSerializer, request.data or {})
        work_order_transition(number=check_key("number", key), action=self.action, actor=request.user, reason=data["reason"])
        return Response(work_order_json(work_order_get(number=key)))


class WorkOrderReleaseView(InboundWriteView):
    """The release answers the order and the warnings of its capacity check (``work_order_release``)."""

    def post(self, request: Request, key: str) -> Response:
        data = validated(s.ReleaseSerializer, request.data or {})
        result = work_order_release(
            number=check_key("number", key), actor=request.user, reason=data["reason"], override_reason=data["override_reason"]
        )
        return Response({**work_order_json(work_order_get(number=key)), "warnings": result.warnings})


RELEASE_DESCRIPTION = (
    "Answers the order with `warnings`: each day of a work center the order loads beyond its capacity "
    "(`work_center_overloaded`: `work_center`, `date`, `load_hours`, `capacity_hours`) and, when the finite schedule "
    "finishes it after its due date, `cannot_make_due_date` (`predicted_finish`, `due_date`). With "
    "`MES_RELEASE_CAPACITY=strict` a warning refuses the release (409 `capacity_exceeded`) unless the request "
    "carries an `override_reason`, which the audit trail keeps. A released order is answered with no warnings."
)


def transition_view(action: str) -> Callable:
    base = WorkOrderReleaseView if action == "release" else WorkOrderTransitionView
    view = type(
        f"WorkOrder{action.title()}View",
        (base,),
        {"action": action, "capabilities": {"POST": transition_capability(action)}},
    )
    summary, reason = TRANSITION_WORDS[action]
    is_release = action == "release"
    view.post = documented(
        base.post,
        tags=["work-orders"],
        summary=summary,
        description=(RELEASE_DESCRIPTION + " " if is_release else "")
        + "The reason is kept in the order's history. A transition the order's status does not allow is refused (409 `illegal_transition`).",
        request=s.ReleaseSerializer if is_release else s.TransitionSerializer,
        examples=[OpenApiExample("With a reason", value={"reason": reason}, request_only=True)],
        responses={200: s.ReleaseOutSerializer if is_release else s.WorkOrderOutSerializer, **ERRORS},
    )
    return view.as_view()


# --- confirmations ---------------------------------------------------------------------


def _confirmation_request(data: dict[str, Any]) -> ConfirmationRequest:
    for name in ("reason_code", "operator_badge", "station"):
        data[name] = (data.get(name) or "").strip()
    return ConfirmationRequest(
        client_id=data["client_id"],
        work_order=data["work_order"],
        operation=data["operation"],
        good_qty=data["good_qty"],
        scrap_qty=data["scrap_qty"],
        rework_qty=data["rework_qty"],
        reason_code=data["reason_code"],
        operator_badge=data["operator_badge"],
        station=data["station"],
        labor_minutes=data["labor_minutes"],
        machine_minutes=data["machine_minutes"],
        final=data["final"],
        confirmed_at=data["confirmed_at"],
        **s.material_request_fields(data),
    )


def _confirmation_body(confirmation, message=None) -> dict[str, Any]:
    erp_sync = confirmation_sync_state(source_uuid=confirmation.uuid, message=message)
    return confirmation_json(confirmation, erp_sync)


BINDING_RULE = (
    "An operator's token may name only the `operator_badge` of the employee linked to its user and the `station`s "
    "bound to it (403 `badge_not_bound`, `station_not_bound`); supervisor, integration and admin tokens may name any."
)


CONFIRMATION_EXAMPLE = {
    "client_id": "6f1c2b9e-3d4a-4c8e-9b1f-2a7d5e0c4b13", "work_order": "WO-1001", "operation": 10, "good_qty": "48",
    "scrap_qty": "2", "reason_code": "SCRAP-01", "operator_badge": "B-1001", "station": "WC-CUT-1",
    "confirmed_at": "2026-12-07T10:15:00+08:00",
}


class ConfirmationCreateView(ApiView):
    capabilities = {"POST": "confirmation.report"}

    @extend_schema(
        tags=["confirmations"],
        summary="Report work done (报工); a resend with the same client_id answers the original",
        description=BINDING_RULE,
        request=s.ConfirmationSerializer,
        examples=[
            OpenApiExample("Good and scrap with its reason", value=CONFIRMATION_EXAMPLE, request_only=True),
            OpenApiExample(
                "Final report of the last operation, into an output lot",
                value={"client_id": "0b5e7c1a-8f2d-4e6b-a3c9-71d4f2e8b560", "work_order": "WO-1001", "operation": 20, "good_qty": "50", "final": True, "output_lot": "WO-1001-20261207"},
                request_only=True,
            ),
        ],
        responses={201: s.ConfirmationOutSerializer, 200: s.ConfirmationOutSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        confirmation_request = _confirmation_request(s.confirmation_input(request.data))
        reporting_rights(actor=request.user).check(confirmation_request)
        result = operation_confirm(request=confirmation_request, actor=request.user)
        return Response(
            _confirmation_body(result.confirmation, result.message),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ConfirmationBulkView(ApiView):
    capabilities = {"POST": "confirmation.report"}

    @extend_schema(
        tags=["confirmations"],
        summary="Report up to 1,000 confirmations; each is answered on its own",
        description=BINDING_RULE,
        request=inline_serializer("ConfirmationBulk", {"confirmations": s.ConfirmationSerializer(many=True)}),
        examples=[
            OpenApiExample(
                "Two reports from a gateway",
                value={"confirmations": [CONFIRMATION_EXAMPLE, {**CONFIRMATION_EXAMPLE, "client_id": "9d3a4f60-1c2b-4e7a-8b5d-0f6e2c9a7b41", "good_qty": "20", "scrap_qty": "0", "reason_code": ""}]},
                request_only=True,
            )
        ],
        responses={200: s.BulkResponseSerializer, 400: ERROR_RESPONSE},
    )
    def post(self, request: Request) -> Response:
        # One serializer for the records off the quick path: building one per record cost
        # more than confirming it.
        validator = s.ConfirmationSerializer()
        rights = reporting_rights(actor=request.user)
        results: list[dict[str, Any] | None] = []
        accepted: list[tuple[int, ConfirmationRequest]] = []
        for index, record in enumerate(_records(request, "confirmations")):
            try:
                data = s.confirmation_input(record, validator)
            except ValidationError as error:
                results.append({"status": 400, "error": validation_error_body(error.detail)})
                continue
            confirmation_request = _confirmation_request(data)
            try:
                rights.check(confirmation_request)
            except DomainError as error:
                results.append({"status": int(error.kind), "error": error.as_dict()})
                continue
            accepted.append((index, confirmation_request))
            results.append(None)
        answers = operation_confirm_many(requests=[request for _index, request in accepted], actor=request.user) if accepted else []
        for (index, _request), answer in zip(accepted, answers):
            if isinstance(answer, DomainError):
                results[index] = {"status": int(answer.kind), "error": answer.as_dict()}
            else:
                results[index] = {"status": 201 if answer.created else 200, "id": str(answer.confirmation.uuid)}
        return Response({"results": results})


class ConfirmationDetailView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(tags=["confirmations"], summary="A confirmation with its ERP sync state", responses={200: s.ConfirmationOutSerializer, **ERRORS})
    def get(self, request: Request, confirmation_id) -> Response:
        return Response(_confirmation_body(confirmation_get(confirmation_id=parse_uuid("id", confirmation_id))))


class ConfirmationReverseView(ApiView):
    capabilities = {"POST": "confirmation.reverse"}

    @extend_schema(
        tags=["confirmations"],
        summary="Reverse a confirmation (idempotent: a second call answers the first reversal)",
        request=s.ReversalSerializer,
        examples=[OpenApiExample("With a reason", value={"reason": "Reported on the wrong order."}, request_only=True)],
        responses={201: s.ConfirmationOutSerializer, 200: s.ConfirmationOutSerializer, **ERRORS},
    )
    def post(self, request: Request, confirmation_id) -> Response:
        data = validated(s.ReversalSerializer, request.data or {})
        result = confirmation_reverse(confirmation_id=parse_uuid("id", confirmation_id), reason=data["reason"], actor=request.user)
        body = _confirmation_body(confirmation_get(confirmation_id=result.confirmation.uuid))
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


# --- lots --------------------------------------------------------------------------------


def _lot_upsert(*, item: str, lot: str, data: dict[str, Any], actor: Any) -> master_data.UpsertResult:
    return master_data.lot_upsert(item_code=item, lot_code=lot, **data, actor=actor)


LOT_EXAMPLE = {
    "quantity": "5000", "unit": "kg", "status": "available", "supplier_lot": "BAOSTEEL-88412", "location": "RACK-A1", "unit_cost": "6.2500",
}


class LotView(InboundWriteView):
    """GET or PUT one lot by item and lot code: 201 created, 200 updated or unchanged."""

    capabilities = {"GET": "api.read", "PUT": "lot.write"}

    @extend_schema(
        tags=["lots"],
        summary="A lot with its quantity on hand as the MES sees it (received + produced - issued)",
        responses={200: s.LotOutSerializer, **ERRORS},
    )
    def get(self, request: Request, item_code: str, lot_code: str) -> Response:
        return Response(lot_json(lot_get(item_code=check_key("item", item_code), lot_code=check_key("lot", lot_code))))

    @extend_schema(
        tags=["lots"],
        summary="Create or update a lot the ERP staged for production (idempotent)",
        description=(
            "`quantity` is what the ERP staged (received). `unit` defaults to the item's and must be known. Fields left out "
            "keep their value. A serial-tracked item's lots are serials (`kind` serial, one piece at most). A lot under a quality "
            "hold placed in the MES stays unusable whatever `status` is sent (`blocked` if blocked, else `hold`): the status sent is "
            "the one it gets when the hold is released."
        ),
        request=s.LotSerializer,
        examples=[OpenApiExample("A staged coil", value=LOT_EXAMPLE, request_only=True)],
        responses={200: s.LotOutSerializer, 201: s.LotOutSerializer, **ERRORS},
    )
    def put(self, request: Request, item_code: str, lot_code: str) -> Response:
        data = validated(s.LotSerializer, request.data)
        result = _lot_upsert(item=check_key("item", item_code), lot=check_key("lot", lot_code), data=data, actor=request.user)
        body = lot_json(lot_get(item_code=item_code, lot_code=lot_code))
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class LotBulkView(InboundWriteView):
    capabilities = {"POST": "lot.write"}

    @extend_schema(
        tags=["lots"],
        summary="Upsert up to 1,000 lots, all or nothing",
        request=inline_serializer("LotsBulk", {"lots": s.LotBulkSerializer(many=True)}),
        examples=[
            OpenApiExample(
                "Two lots", value={"lots": [{"item": "RM-0001", "lot": "RM1-2611-A", **LOT_EXAMPLE}, {"item": "RM-0001", "lot": "RM1-2611-B", "quantity": "2500"}]},
                request_only=True,
            )
        ],
        responses={200: s.BulkResponseSerializer, 400: s.BulkResponseSerializer, 422: s.BulkResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        def write(data: dict[str, Any]) -> master_data.UpsertResult:
            return _lot_upsert(item=data.pop("item"), lot=data.pop("lot"), data=data, actor=request.user)

        return bulk_upsert(request, "lots", s.LotBulkSerializer, lambda data: f"{data['item']}/{data['lot']}", write)


# --- material issues ---------------------------------------------------------------------


def material_issue_body(result: MaterialIssueResult) -> tuple[dict[str, Any], int]:
    """The answer to an issue: 202 with what the supervisor will see when it awaits approval,
    else the record with 201 (new) or 200 (a resend, or a decision already made)."""
    movement = result.movement
    erp = confirmation_sync_state(source_uuid=movement.uuid, message=result.message) if movement.state == "posted" else None
    body = material_issue_json(material_issue_get(movement_id=movement.uuid), erp)
    if result.is_awaiting_approval:
        body.update(over_issue_summary(movement=movement))
        return body, status.HTTP_202_ACCEPTED
    return body, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK


class MaterialIssueCreateView(ApiView):
    capabilities = {"POST": "material.issue"}

    @extend_schema(
        tags=["material-issues"],
        summary="Issue material to an operation; a resend with the same client_id answers the original",
        description=(
            BINDING_RULE + " Beyond the requirement and its tolerance (`MES_OVER_ISSUE_TOLERANCE_PERCENT`) the issue is "
            "recorded awaiting a supervisor's approval and answered 202 (`over_issue_needs_approval`): nothing consumed, "
            "nothing queued. Refusals (422): `not_a_component`, `lot_required`, `lot_unknown`, `lot_on_hold`, "
            "`lot_expired`, `lot_insufficient`, `invalid_quantity`, `unknown_operator`, `unknown_operation`."
        ),
        request=s.MaterialIssueSerializer,
        examples=[
            OpenApiExample(
                "A lot scanned at the station",
                value={"client_id": "3c8e1d2f-5a6b-4c7d-9e0f-1a2b3c4d5e6f", "work_order": "WO-1001", "operation": 10, "item": "RM-0001", "lot": "RM1-2611-A", "quantity": "240", "operator_badge": "B-1001", "station": "WC-CUT-1"},
                request_only=True,
            )
        ],
        responses={201: s.MaterialIssueOutSerializer, 200: s.MaterialIssueOutSerializer, 202: s.MaterialIssueAwaitingSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.MaterialIssueSerializer, request.data)
        for name in ("lot", "operator_badge", "station"):
            data[name] = (data.get(name) or "").strip()
        issue_request = MaterialIssueRequest(**data)
        reporting_rights(actor=request.user).check(issue_request)
        body, code = material_issue_body(material_issue(request=issue_request, actor=request.user))
        return Response(body, status=code)


class MaterialIssueDetailView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(tags=["material-issues"], summary="A material issue (or its reversal) with its ERP sync state", responses={200: s.MaterialIssueOutSerializer, **ERRORS})
    def get(self, request: Request, movement_id: str) -> Response:
        movement = material_issue_get(movement_id=parse_uuid("id", movement_id))
        erp = confirmation_sync_state(source_uuid=movement.uuid) if movement.state == "posted" else None
        return Response(material_issue_json(movement, erp))


class MaterialIssueDecisionView(ApiView):
    """Approve, reject or reverse one issue with a reason (audited)."""

    decide: Callable[..., MaterialIssueResult]

    def post(self, request: Request, movement_id: str) -> Response:
        data = validated(s.DecisionSerializer, request.data or {})
        result = type(self).decide(movement_id=parse_uuid("id", movement_id), reason=data["reason"], actor=request.user)
        body, code = material_issue_body(result)
        return Response(body, status=code)


DECISIONS = {
    "approve": (
        material_issue_approve, "material.approve",
        "Approve an issue awaiting approval: the lot is checked again, then it is consumed and queued. Approving again "
        "answers 200 with the approval; approving a rejected issue is refused (409 `material_issue_already_decided`).",
    ),
    "reject": (
        material_issue_reject, "material.approve",
        "Reject an issue awaiting approval: nothing is consumed. Rejecting again answers 200; rejecting an approved issue "
        "is refused (409 `material_issue_already_decided`).",
    ),
    "reverse": (
        material_issue_reverse, "material.reverse",
        "Reverse a posted issue by scan with a negated record: the lot and the component get it back and the reversal is "
        "queued to the ERP. Reversing again answers 200 with the reversal. Backflushed movements are reversed with their "
        "confirmation (409 `reverse_the_confirmation`).",
    ),
}


DECISION_REASONS = {
    "approve": "Second sheet bent at the press; the extra is needed.",
    "reject": "Issued to the wrong order.",
    "reverse": "Lot returned to the rack unused.",
}


def material_issue_decision_view(action: str) -> Callable:
    decide, capability, description = DECISIONS[action]
    view = type(
        f"MaterialIssue{action.title()}View",
        (MaterialIssueDecisionView,),
        {"decide": staticmethod(decide), "capabilities": {"POST": capability}},
    )
    view.post = documented(
        MaterialIssueDecisionView.post,
        tags=["material-issues"],
        summary=f"{action.title()} a material issue",
        description=description,
        request=s.DecisionSerializer,
        examples=[OpenApiExample("With a reason", value={"reason": DECISION_REASONS[action]}, request_only=True)],
        responses={201: s.MaterialIssueOutSerializer, 200: s.MaterialIssueOutSerializer, **ERRORS},
    )
    return view.as_view()
