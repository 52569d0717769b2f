"""``POST /api/v1/b2mml/operations-schedule``: an ERP's ISA-95 ProcessOperationsSchedule, answered with an
AcknowledgeOperationsSchedule. Thin: parse and validate, call the service, answer."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

from common.api.base import ERROR_RESPONSE, InboundWriteView
from common.api.errors import error_response
from common.roles import may
from erp_sync.b2mml.schedule import acknowledgement
from erp_sync.b2mml.services import operations_schedule_apply
from erp_sync.b2mml.validation import DocumentRefused, document_check
from erp_sync.connectors.b2mml import DEFAULT_SENDER

XML = "application/xml"
REFUSAL_CODES = {"malformed": "malformed_xml", "invalid": "b2mml_invalid", "unexpected": "b2mml_unexpected_document"}

SCHEDULE_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<ProcessOperationsSchedule xmlns="http://www.mesa.org/xml/B2MML" releaseID="0701">
  <ApplicationArea>
    <Sender><LogicalID>ERP-PLANT-1</LogicalID></Sender>
    <CreationDateTime>2026-12-07T08:00:00Z</CreationDateTime>
    <BODID>6f1c3f4a-0b5e-4a57-8f7e-0c1d2e3f4a5b</BODID>
  </ApplicationArea>
  <DataArea>
    <Process/>
    <OperationsSchedule>
      <ID>SCHED-2026-12-07</ID>
      <OperationsRequest>
        <ID>WO-1001</ID>
        <EndTime>2026-12-18T16:00:00+08:00</EndTime>
        <Priority>3</Priority>
        <SegmentRequirement>
          <ID>10</ID>
          <Description>Cut</Description>
          <ProcessSegmentID>CUT</ProcessSegmentID>
          <OperationsDefinitionID>FRAME-100</OperationsDefinitionID>
          <OperationsSegmentID>CUT</OperationsSegmentID>
          <EquipmentRequirement><ID>E10</ID><EquipmentID>WC-CUT</EquipmentID></EquipmentRequirement>
          <MaterialRequirement>
            <ID>M10</ID>
            <MaterialDefinitionID>FRAME-100</MaterialDefinitionID>
            <MaterialUse>Produced</MaterialUse>
            <Quantity><QuantityString>250</QuantityString><UnitOfMeasure>PCS</UnitOfMeasure></Quantity>
          </MaterialRequirement>
        </SegmentRequirement>
        <SegmentRequirement>
          <ID>20</ID>
          <Description>Weld</Description>
          <ProcessSegmentID>WELD</ProcessSegmentID>
          <OperationsDefinitionID>FRAME-100</OperationsDefinitionID>
          <OperationsSegmentID>WELD</OperationsSegmentID>
          <EquipmentRequirement><ID>E20</ID><EquipmentID>WC-WELD</EquipmentID></EquipmentRequirement>
        </SegmentRequirement>
      </OperationsRequest>
    </OperationsSchedule>
  </DataArea>
</ProcessOperationsSchedule>
"""

DESCRIPTION = (
    "Each OperationsRequest becomes a work order, upserted by its ID exactly as `PUT /api/v1/work-orders/{number}` "
    "does: item and quantity from the segment's MaterialRequirement with MaterialUse Produced, due date from "
    "EndTime, Priority; segment requirements that name a work center (EquipmentRequirement/EquipmentID) are the "
    "item's routing (sequence = the segment's ID; changing a routing also needs `master_data.write`). Posting the "
    "same schedule again changes nothing.\n\n"
    "Send `Content-Type: application/xml`. A document that is not well-formed XML, not valid against the B2MML "
    "V0701 schemas or not a ProcessOperationsSchedule is refused whole with 400, naming the line and the rule "
    "(`fields`: `line N` → rule). Otherwise the answer is an AcknowledgeOperationsSchedule (XML) with one "
    "ResponseCriteria per order (actionCode Accepted or Rejected, the reason's code and words): **200** when every "
    "order was accepted, **422** when any was refused — the accepted ones are written all the same (each order "
    "stands alone), so fix the refused ones and post the schedule again."
)


class XmlParser(BaseParser):
    """The body as bytes, for the view to parse and validate against the schemas itself."""

    media_type = XML

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        data = stream.read() if stream is not None else b""
        if not data:
            raise ParseError("The body is empty: send a ProcessOperationsSchedule document.")
        return data


class TextXmlParser(XmlParser):
    media_type = "text/xml"


def refusal_body(refused: DocumentRefused) -> dict:
    """The API's error envelope for a refused document: each problem by its line, the first in the message."""
    first = refused.problems[0]
    fields: dict[str, str] = {}
    for problem in refused.problems:
        key = f"line {problem.line}" if problem.line else "document"
        fields[key] = f"{fields[key]}; {problem.rule}" if key in fields else problem.rule
    words = {"malformed": "is not well-formed XML", "invalid": "is not valid B2MML", "unexpected": "is not a ProcessOperationsSchedule"}
    return {"code": REFUSAL_CODES[refused.kind], "message": f"The document {words[refused.kind]}: {first}", "fields": fields}


class OperationsScheduleView(InboundWriteView):
    capabilities = {"POST": "work_order.write"}
    parser_classes = [XmlParser, TextXmlParser]

    @extend_schema(
        tags=["b2mml"],
        summary="Upsert work orders (and routings) from an ISA-95 ProcessOperationsSchedule",
        description=DESCRIPTION,
        request={XML: OpenApiTypes.STR},
        examples=[OpenApiExample("One order with a two-step routing", value=SCHEDULE_EXAMPLE, request_only=True, media_type=XML)],
        responses={
            (200, XML): OpenApiResponse(OpenApiTypes.STR, description="AcknowledgeOperationsSchedule: every order accepted"),
            (422, XML): OpenApiResponse(OpenApiTypes.STR, description="AcknowledgeOperationsSchedule naming each refused order"),
            400: OpenApiResponse(ERROR_RESPONSE, description="Not well-formed, not valid B2MML, or not a ProcessOperationsSchedule"),
            401: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            415: OpenApiResponse(ERROR_RESPONSE, description="Not sent as application/xml"),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        if not isinstance(request.data, bytes):  # no body at all: DRF asks no parser
            raise ParseError("The body is empty: send a ProcessOperationsSchedule document (application/xml).")
        try:
            root = document_check(request.data, expected="ProcessOperationsSchedule")
        except DocumentRefused as refused:
            return error_response(refusal_body(refused), 400)
        outcomes = operations_schedule_apply(root=root, actor=request.user, routing_allowed=may(request.user, "master_data.write"))
        body = acknowledgement(root, outcomes, sender=DEFAULT_SENDER, now=timezone.now())
        status = 200 if all(outcome.accepted for outcome in outcomes) else 422
        return HttpResponse(body, status=status, content_type=f"{XML}; charset=utf-8")
