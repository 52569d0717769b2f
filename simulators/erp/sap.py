"""SAP S/4HANA ``API_PROD_ORDER_CONFIRMATION_2_SRV`` (OData V2), as far as an MES connector sees it.

What is simulated (facts from ``shared/erp/INTERFACES.md`` §1.1):

- Basic authentication on every request (401 with ``WWW-Authenticate`` otherwise).
- CSRF: a GET or HEAD carrying ``X-CSRF-Token: Fetch`` answers a token in ``X-CSRF-Token``
  and sets the cookie ``sap-XSRF_<SID>_<client>``. Every POST must send the token and that
  cookie, or it gets 403 with ``X-CSRF-Token: Required`` and the text "CSRF token validation
  failed". Tokens expire after ``csrf_ttl_s`` seconds and/or ``csrf_max_uses`` writes.
- ``POST /ProdnOrdConf2`` creates a confirmation: 201 with ``{"d": {...}}``, quantities as
  strings with three decimals, ``ConfirmationGroup`` fixed per order and operation and
  ``ConfirmationCount`` counting up within it. ``ExternalSystemConfirmation`` is stored
  but **not** deduplicated unless ``dedupe`` is ``reject`` or ``replay`` — SAP documents no
  uniqueness for it, so a blind resend books twice, as it would on a real system.
- No confirmation is accepted for an operation after a final one (until that is
  cancelled): 400 with SAP's ``{"error": {"code", "message": {"lang", "value"}}}``.
- ``GET /ProdnOrdConf2`` with ``$filter`` (``eq``/``ne`` joined by ``and``; ``guid'…'``,
  ``'…'``, ``true``/``false``), ``$top``, ``$skip``, ``$select``, ``$orderby``,
  ``$inlinecount=allpages``; one entity by key; its ``to_ProdnOrdConfMatlDocItm``.
- ``POST /CancelProdnOrdConf?ConfirmationGroup='…'&ConfirmationCount='…'`` answers 200 with
  the cancellation record (``IsReversal`` true, same group, next count); the original gets
  ``IsReversed`` true.
- ``POST /GetConfProposal`` answers a small proposal; ``$metadata`` and the service
  document exist for connectors that fetch the token there.
- ``POST /$batch`` (``multipart/mixed``): each changeset is processed on its own, in order,
  and answered as a ``multipart/mixed`` part with one HTTP response per request, or — if it
  failed — as a single ``application/http`` part carrying the error, as SAP Gateway does.
  A changeset here holds one write (``ProdnOrdConf2`` or ``CancelProdnOrdConf``; several
  writes in one changeset would need a rollback the simulator does not have: 501); reads
  outside changesets are answered too. Authentication and CSRF are checked once, on the
  ``$batch`` request; injected faults (latency, 5xx, down, drop after commit) apply to it as
  one HTTP request, so a batch of N pays the latency once — a real SAP spends its own time
  on each changeset, which the simulator does not model.
- Injected lock → 423 with the error envelope, as [KMJ] saw from real systems.

Message codes such as ``RU/505`` are placeholders in SAP's ``CLASS/NUMBER`` shape; connectors
must classify by HTTP status, not by these codes. Unknown properties in a create are kept
rather than rejected (the real service rejects them; the property list is too long to copy).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email
import email.message
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from simulators.erp import ledger as journal
from simulators.erp.base import (
    BadRequest,
    ErpFlavor,
    SimRequest,
    SimResponse,
    all_headers,
    json_response,
    parse_decimal,
    plain,
    text_response,
)
from simulators.erp.ledger import Ledger
from simulators.erp.orders import minutes, number_text

SERVICE = "API_PROD_ORDER_CONFIRMATION_2_SRV"
SERVICE_PATH = f"/sap/opu/odata/sap/{SERVICE}"
#: The production orders an MES pulls (``simulators/erp/orders.py``): a sibling service.
ORDER_SERVICE = "API_PRODUCTION_ORDER_2_SRV"
ORDER_SERVICE_PATH = f"/sap/opu/odata/sap/{ORDER_SERVICE}"
_ORDER_FILTER = re.compile(r"^(?:LastChangeDateTime ge '(\d{14})'|OrderIsReleased eq true|ProductionPlant eq '([^']*)')$")
ENTITY_TYPE = f"{SERVICE}.ProdnOrdConf2Type"
MATERIAL_DOCUMENT_TYPE = f"{SERVICE}.ProdnOrdConfMatlDocItmType"

QUANTITY_FIELDS = (
    "ConfirmationYieldQuantity",
    "ConfirmationScrapQuantity",
    "ConfirmationReworkQuantity",
    *(f"OpConfirmedWorkQuantity{slot}" for slot in range(1, 7)),
    "ConfirmedBreakDuration",
    "NumberOfEmployees",
    "BusinessProcessConfirmedQty",
)
BOOLEAN_FIELDS = (
    "IsFinalConfirmation",
    "OpenReservationsIsCleared",
    "APIConfHasNoGoodsMovements",
    *(f"NoFurtherOpWorkQuantity{slot}IsExpd" for slot in range(1, 7)),
    "NoFurtherBusinessProcQtyIsExpd",
)
DATE_FIELDS = (
    "PostingDate",
    "ConfirmedExecutionStartDate",
    "ConfirmedExecutionEndDate",
    "ConfirmedSetupEndDate",
    "ConfirmedProcessingStartDate",
    "ConfirmedProcessingEndDate",
    "ConfirmedTeardownStartDate",
    "ConfirmationExternalEntryDate",
)
TIME_FIELDS = tuple(name.replace("Date", "Time") for name in DATE_FIELDS if name != "PostingDate")
STRING_FIELDS = {
    "OrderID": 12,
    "Sequence": 6,
    "OrderOperation": 4,
    "OrderSuboperation": 4,
    "Plant": 4,
    "WorkCenter": 8,
    "Personnel": 8,
    "ConfirmationUnit": 3,
    "ConfirmationUnitISOCode": 3,
    "ConfirmationUnitSAPCode": 3,
    "VarianceReasonCode": 4,
    "FinalConfirmationType": 1,
    "OrderConfirmationRecordType": 3,
    "EnteredByExternalUser": 12,
    "ConfirmationText": 40,
    "BreakDurationUnit": 3,
    **{f"OpWorkQuantityUnit{slot}": 3 for slot in range(1, 7)},
}
#: Properties the service sets; a create may send them but they are ignored.
READ_ONLY_FIELDS = ("ConfirmationGroup", "ConfirmationCount", "IsReversed", "IsReversal", "__metadata")
#: Fields a $filter or $orderby may name (the usual read keys).
FILTERABLE = (
    "ConfirmationGroup",
    "ConfirmationCount",
    "OrderID",
    "Sequence",
    "OrderOperation",
    "ExternalSystemConfirmation",
    "IsReversed",
    "IsReversal",
    "IsFinalConfirmation",
    "Plant",
    "WorkCenter",
    "EnteredByExternalUser",
)

#: Goods movement types a confirmation may carry: (sign, stock field) they book.
MOVEMENT_TYPES = {"261": (1, "issued"), "262": (-1, "issued"), "101": (1, "received"), "102": (-1, "received")}
REVERSAL_TYPES = {"261": "262", "262": "261", "101": "102", "102": "101"}
_MATERIAL_DOCUMENT_KEYS = ("ConfirmationGroup", "ConfirmationCount", "MaterialDocument", "MaterialDocumentItem", "MaterialDocumentYear")

_OPERATION = re.compile(r"^\d{4}$")
_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_TIME = re.compile(r"^PT(\d{1,2}H)?(\d{1,2}M)?(\d{1,2}(\.\d+)?S)?$")
#: How a gateway that offers no OData batch answers ``POST $batch`` (the fault ``batch_not_offered``).
_BATCH_NOT_OFFERED = {
    404: (404, "/IWBEP/CM_MGW_RT/021", "Resource not found for segment '$batch'"),
    405: (405, "/IWBEP/CM_MGW_RT/002", "Method 'POST' not allowed for '$batch'"),
    501: (501, "/IWBEP/CM_MGW_RT/001", "Batch requests are not implemented by this service"),
}
_KEY_SEGMENT = re.compile(
    r"^ProdnOrdConf2\(ConfirmationGroup='([^']*)',ConfirmationCount='([^']*)'\)(/to_ProdnOrdConfMatlDocItm)?$"
)
_CLAUSE = re.compile(
    r"^\s*(\w+)\s+(eq|ne)\s+(guid'[^']*'|'(?:[^']|'')*'|true|false|-?\d+(?:\.\d+)?M?)\s*$", re.IGNORECASE
)


class SapError(Exception):
    def __init__(self, status: int, code: str, message: str, *, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


@dataclass
class CsrfToken:
    cookie_value: str
    issued_at: float
    uses: int = 0


class SapFlavor(ErpFlavor):
    name = "sap"

    def __init__(
        self,
        *,
        ledger: Ledger,
        user: str,
        password: str,
        system_id: str = "S4H",
        client: str = "100",
        csrf_ttl_s: float = 1800.0,
        csrf_max_uses: int = 0,
        dedupe: str = "off",
    ) -> None:
        super().__init__(ledger=ledger)
        self.user = user
        self.password = password
        self.system_id = system_id
        self.client = client
        self.csrf_ttl_s = csrf_ttl_s
        self.csrf_max_uses = csrf_max_uses
        self.dedupe = dedupe
        self._check_dedupe(dedupe)
        self.reset()

    # -- state -------------------------------------------------------------------------

    def reset(self) -> None:
        self.tokens: dict[str, CsrfToken] = {}
        self.groups: dict[tuple[str, str, str], str] = {}  # (order, sequence, operation) → group
        self.next_group = 1000
        self.counts: dict[str, int] = {}
        self.confirmations: dict[tuple[str, str], dict[str, Any]] = {}
        # Indexes for the two look-ups connectors make: by our key and by order.
        self.by_external_key: dict[str, list[tuple[str, str]]] = {}
        self.by_order: dict[str, list[tuple[str, str]]] = {}
        self.material_documents: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.next_material_document = 4900000000
        # (order, sequence, operation) → key of the active final confirmation
        self.finally_confirmed: dict[tuple[str, str, str], tuple[str, str]] = {}

    def invalidate_sessions(self) -> None:
        self.tokens.clear()

    def config(self) -> dict[str, Any]:
        return {"dedupe": self.dedupe, "csrf_ttl_s": self.csrf_ttl_s, "csrf_max_uses": self.csrf_max_uses}

    def _set_config(self, key: str, value: Any) -> None:
        if key == "dedupe":
            self._check_dedupe(value)
            self.dedupe = value
        elif key == "csrf_ttl_s":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError("csrf_ttl_s must be a number of seconds, 0 for no expiry")
            self.csrf_ttl_s = float(value)
        elif key == "csrf_max_uses":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("csrf_max_uses must be a whole number, 0 for unlimited")
            self.csrf_max_uses = value

    @staticmethod
    def _check_dedupe(value: Any) -> None:
        if value not in {"off", "reject", "replay"}:
            raise ValueError("dedupe must be one of off, reject, replay")

    @property
    def csrf_cookie_name(self) -> str:
        return f"sap-XSRF_{self.system_id}_{self.client}"

    # -- answers -----------------------------------------------------------------------

    def _error(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> SimResponse:
        body = {
            "error": {
                "code": code,
                "message": {"lang": "en", "value": message},
                "innererror": {
                    "application": {
                        "component_id": "PP-SFC-EXE-CON",
                        "service_namespace": "/SAP/",
                        "service_id": SERVICE,
                        "service_version": "0001",
                    },
                    "transactionid": uuid.uuid4().hex.upper(),
                    "timestamp": dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S.%f")[:-3],
                    "Error_Resolution": {
                        "SAP_Transaction": 'For backend administrators: use ADT feed reader "SAP Gateway Error Log" '
                        "or run transaction /IWFND/ERROR_LOG on SAP Gateway hub system",
                        "SAP_Note": "See SAP Note 1797736 for error analysis",
                    },
                    "errordetails": [
                        {"code": code, "message": message, "propertyref": "", "severity": "error", "target": ""}
                    ],
                },
            }
        }
        return json_response(status, body, headers=[("DataServiceVersion", "1.0"), *(headers or [])])

    def unavailable(self, status: int) -> SimResponse:
        texts = {
            500: ("/IWFND/CM_BEC/076", "Unable to open connection to backend system"),
            502: ("/IWFND/CM_BEC/076", "Unable to open connection to backend system"),
            503: ("/IWFND/CM_BEC/026", "Service Unavailable: backend system is not reachable"),
        }
        code, message = texts.get(status, texts[503])
        return self._error(status, code, message)

    def _locked(self, order: str) -> SimResponse:
        return self._error(423, "RU/505", f"Order {order} is currently being processed by user BATCHJOB (locked)")

    # -- entry point -------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        path = request.path
        if path == f"{ORDER_SERVICE_PATH}/A_ProductionOrder_2" and request.method == "GET":
            if not self._authenticated(request):
                return text_response(401, "<html><body>Logon failed</body></html>", content_type="text/html; charset=utf-8")
            try:
                return self._production_orders(request)
            except SapError as error:
                return self._error(error.status, error.code, error.message)
        if path != SERVICE_PATH and not path.startswith(SERVICE_PATH + "/"):
            return self._error(
                404,
                "/IWFND/MED/170",
                f"No service found for namespace '/SAP/', name '{SERVICE}'"
                if "/sap/opu/odata/" in path
                else "Resource not found",
            )
        if not self._authenticated(request):
            return text_response(
                401,
                "<html><head><title>Logon Error Message</title></head><body>Logon failed</body></html>",
                content_type="text/html; charset=utf-8",
                headers=[
                    (
                        "WWW-Authenticate",
                        f'Basic realm="SAP NetWeaver Application Server [{self.system_id}/{self.client}]"',
                    )
                ],
            )
        extra_headers: list[tuple[str, str]] = []
        if request.method in {"GET", "HEAD"} and (request.header("X-CSRF-Token") or "").lower() == "fetch":
            extra_headers = self._issue_token()
        elif request.method not in {"GET", "HEAD"} and not self._csrf_valid(request):
            return text_response(403, "CSRF token validation failed", headers=[("X-CSRF-Token", "Required")])

        resource = path[len(SERVICE_PATH) :].lstrip("/")
        try:
            response = self._route(request, resource)
        except SapError as error:
            response = self._error(error.status, error.code, error.message, error.headers)
        except BadRequest as error:
            response = self._error(400, "/IWBEP/CM_MGW_RT/004", f"Malformed syntax in request body: {error}")
        response.headers.extend(extra_headers)
        if request.method == "HEAD":
            response.body = b""
        return response

    def _route(self, request: SimRequest, resource: str) -> SimResponse:
        method = request.method
        if method in {"GET", "HEAD"}:
            if resource == "":
                return json_response(
                    200, {"d": {"EntitySets": ["ProdnOrdConf2", "ProdnOrdConfMatlDocItm", "ProdnOrderConfBatchCharc"]}}
                )
            if resource == "$metadata":
                return text_response(200, METADATA, content_type="application/xml")
            if resource == "ProdnOrdConf2":
                return self._query(request)
            match = _KEY_SEGMENT.match(resource)
            if match:
                return self._read_one(request, match.group(1), match.group(2), bool(match.group(3)))
            raise SapError(404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{resource.split('(')[0]}'")
        if method == "POST":
            if resource == "ProdnOrdConf2":
                return self._create(request)
            if resource == "CancelProdnOrdConf":
                return self._cancel(request)
            if resource == "GetConfProposal":
                return self._proposal(request)
            if resource == "$batch":
                if request.batch_not_offered:
                    raise SapError(*_BATCH_NOT_OFFERED[request.batch_not_offered])
                return self._batch(request)
            raise SapError(
                405 if _KEY_SEGMENT.match(resource) else 404,
                "/IWBEP/CM_MGW_RT/021",
                f"Resource not found for segment '{resource}'",
            )
        raise SapError(405, "/IWBEP/CM_MGW_RT/002", f"Method '{method}' not allowed for '{resource}'")

    # -- $batch -------------------------------------------------------------------------
    # (a gateway without it answers as in _BATCH_NOT_OFFERED, set by the fault batch_not_offered)

    def _batch(self, request: SimRequest) -> SimResponse:
        content_type = request.header("Content-Type") or ""
        parts = _mime_parts(content_type, request.body)
        if parts is None:
            raise SapError(400, "/IWBEP/CM_MGW_RT/004", "Malformed syntax in request body: a $batch must be multipart/mixed")
        boundary = f"batchresponse_{uuid.uuid4()}"
        chunks: list[bytes] = []
        committed = False
        for part in parts:
            part_type = part.get_content_type()
            if part_type == "multipart/mixed":
                writes = [inner for inner in part.get_payload() if inner.get_content_type() == "application/http"]
                if len(writes) != 1:
                    raise SapError(
                        501, "/IWBEP/CM_MGW_RT/000", "The ERP simulator takes exactly one request per changeset"
                    )
                inner = self._inner_request(request, writes[0].get_payload(decode=True) or b"")
                if inner.method != "POST":
                    raise SapError(400, "/IWBEP/CM_MGW_RT/004", "Only modifying requests belong in a changeset")
                answer = self._inner_answer(inner)
                committed = committed or answer.committed
                if answer.status < 400:
                    changeset = f"changesetresponse_{uuid.uuid4()}"
                    chunks.append(
                        f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
                        f"--{changeset}\r\n".encode()
                        + _http_part(answer)
                        + f"\r\n--{changeset}--\r\n".encode()
                    )
                else:
                    chunks.append(f"--{boundary}\r\n".encode() + _http_part(answer) + b"\r\n")
            elif part_type == "application/http":
                inner = self._inner_request(request, part.get_payload(decode=True) or b"")
                if inner.method not in {"GET", "HEAD"}:
                    raise SapError(400, "/IWBEP/CM_MGW_RT/004", "A modifying request outside a changeset")
                chunks.append(f"--{boundary}\r\n".encode() + _http_part(self._inner_answer(inner)) + b"\r\n")
            else:
                raise SapError(400, "/IWBEP/CM_MGW_RT/004", f"Unexpected part of type {part_type} in $batch")
        body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
        return SimResponse(
            status=202, body=body, content_type=f"multipart/mixed; boundary={boundary}",
            headers=[("DataServiceVersion", "2.0")], committed=committed,
        )

    def _inner_request(self, outer: SimRequest, raw: bytes) -> SimRequest:
        """A request inside a $batch: its own line, headers and body; the batch's credentials and dice."""
        head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        request_line, *header_lines = head.decode("latin-1").split("\n")
        try:
            method, target, _version = request_line.split(" ", 2)
        except ValueError:
            raise SapError(400, "/IWBEP/CM_MGW_RT/004", f"Malformed request line in $batch: {request_line[:80]}") from None
        headers = email.message.Message()
        for name in ("Authorization", "Cookie"):
            for value in all_headers(outer.headers, name):
                headers[name] = value
        for line in header_lines:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip()] = value.strip()
        target = target if target.startswith("/") else f"{SERVICE_PATH}/{target}"
        length = headers.get("Content-Length")
        if length and length.isdigit():
            body = body[: int(length)]
        return SimRequest(
            method=method.upper(), target=target, headers=headers, body=body.rstrip(b"\n") if not length else body,
            lock_rolled=outer.lock_rolled, locked_orders=outer.locked_orders,
            rejected_orders=outer.rejected_orders, response_will_drop=outer.response_will_drop,
        )

    def _inner_answer(self, request: SimRequest) -> SimResponse:
        path = request.path
        if path != SERVICE_PATH and not path.startswith(SERVICE_PATH + "/"):
            return self._error(404, "/IWBEP/CM_MGW_RT/021", "Resource not found")
        resource = path[len(SERVICE_PATH) :].lstrip("/")
        if resource == "$batch":
            return self._error(400, "/IWBEP/CM_MGW_RT/004", "A $batch cannot hold another $batch")
        try:
            return self._route(request, resource)
        except SapError as error:
            return self._error(error.status, error.code, error.message, error.headers)
        except BadRequest as error:
            return self._error(400, "/IWBEP/CM_MGW_RT/004", f"Malformed syntax in request body: {error}")

    # -- authentication and CSRF -------------------------------------------------------

    def _production_orders(self, request: SimRequest) -> SimResponse:
        """``A_ProductionOrder_2`` filtered by ``LastChangeDateTime ge '…'``, ``OrderIsReleased eq true`` and
        ``ProductionPlant eq '…'`` (joined by ``and``), with ``$expand`` of its operations and components."""
        since, released_only = None, False
        text = request.query.get("$filter", "").strip()
        for term in re.split(r"\s+and\s+", text) if text else []:
            match = _ORDER_FILTER.match(term.strip())
            if match is None:
                raise SapError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid filter expression: '{term}'")
            if match.group(1):
                since = dt.datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
            elif term.strip().startswith("OrderIsReleased"):
                released_only = True
        expand = {part.strip() for part in request.query.get("$expand", "").split(",") if part.strip()}
        results = []
        for order in self.orders.changed_since(since):
            if released_only and order["status"] == "planned":
                continue
            results.append(self._production_order(order, expand))
        return json_response(200, {"d": {"results": results}}, headers=[("DataServiceVersion", "2.0")])

    def _production_order(self, order: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        number = order["number"]
        record: dict[str, Any] = {
            "__metadata": {"type": f"{ORDER_SERVICE}.A_ProductionOrder_2Type"},
            "ManufacturingOrder": number,
            "ManufacturingOrderType": "PP01",
            "ProductionPlant": "1010",
            "Material": order["item"],
            "TotalQuantity": number_text(order["quantity"]),
            "ProductionUnit": order.get("unit") or "",
            "MfgOrderPlannedStartDate": _sap_date(order.get("start_date")),
            "MfgOrderPlannedEndDate": _sap_date(order["due_date"]),
            "OrderIsReleased": order["status"] != "planned",
            "OrderIsTechnicallyCompleted": order["status"] in ("completed", "closed"),
            "OrderIsClosed": order["status"] == "closed",
            "OrderIsDeleted": False,
            "LastChangeDateTime": order["changed_at"].strftime("%Y%m%d%H%M%S"),
        }
        if "to_ProductionOrderOperation" in expand:
            record["to_ProductionOrderOperation"] = {"results": [
                {
                    "ManufacturingOrder": number,
                    "ManufacturingOrderSequence": "0",
                    "ManufacturingOrderOperation": f"{int(operation['sequence']):04d}",
                    "MfgOrderOperationText": operation.get("name") or "",
                    "WorkCenter": operation.get("work_center") or "",
                    "OpPlannedTotalQuantity": number_text(order["quantity"]),
                    "OpPlannedSetupDurn": number_text(minutes(operation.get("setup_minutes"))),
                    "OpPlannedSetupDurnUnit": "MIN",
                    "OpPlannedProcessingDurn": number_text(minutes(operation.get("run_minutes_per_unit")) * minutes(order["quantity"])),
                    "OpPlannedProcessingDurnUnit": "MIN",
                }
                for operation in order.get("operations") or []
            ]}
        if "to_ProductionOrderComponent" in expand:
            record["to_ProductionOrderComponent"] = {"results": [
                {
                    "Reservation": f"{1000 + int(number) % 1000 if number.isdigit() else 1000}",
                    "ReservationItem": f"{index:04d}",
                    "ManufacturingOrder": number,
                    "Material": component.get("item") or "",
                    "RequiredQuantity": number_text(component.get("quantity")),
                    "BaseUnit": component.get("unit") or "",
                    "ManufacturingOrderOperation": f"{int(component['operation']):04d}" if component.get("operation") else "",
                    "MatlCompIsMarkedForBackflush": bool(component.get("backflush")),
                    "WithdrawnQuantity": "0",
                }
                for index, component in enumerate(order.get("components") or [], start=1)
            ]}
        return record

    def _authenticated(self, request: SimRequest) -> bool:
        header = request.header("Authorization") or ""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # As bytes: compare_digest refuses text outside ASCII, and a user may be called 张三.
        return secrets.compare_digest(user.upper().encode(), self.user.upper().encode()) and secrets.compare_digest(
            password.encode(), self.password.encode()
        )

    def _issue_token(self) -> list[tuple[str, str]]:
        token = base64.b64encode(secrets.token_bytes(18)).decode()
        cookie_value = secrets.token_urlsafe(24)
        self.tokens[token] = CsrfToken(cookie_value=cookie_value, issued_at=time.monotonic())
        return [
            ("X-CSRF-Token", token),
            ("Set-Cookie", f"{self.csrf_cookie_name}={quote(cookie_value)}; path=/sap/opu/odata/; HttpOnly"),
            (
                "Set-Cookie",
                f"SAP_SESSIONID_{self.system_id}_{self.client}={secrets.token_urlsafe(24)}; path=/; HttpOnly",
            ),
        ]

    def _csrf_valid(self, request: SimRequest) -> bool:
        token = self.tokens.get(request.header("X-CSRF-Token") or "")
        if token is None:
            return False
        if self.csrf_ttl_s and time.monotonic() - token.issued_at > self.csrf_ttl_s:
            self.tokens.pop(request.header("X-CSRF-Token") or "", None)
            return False
        if self.csrf_max_uses and token.uses >= self.csrf_max_uses:
            self.tokens.pop(request.header("X-CSRF-Token") or "", None)
            return False
        if request.cookies().get(self.csrf_cookie_name) != token.cookie_value:
            return False
        token.uses += 1
        return True

    # -- create ------------------------------------------------------------------------

    def _create(self, request: SimRequest) -> SimResponse:
        payload = request.json()
        if not isinstance(payload, dict):
            raise BadRequest("expected a JSON object")
        data = payload.get("d", payload) if isinstance(payload.get("d"), dict) else payload
        fields = self._validated(data)
        items = self._validated_items(data, fields)
        order, sequence, operation = fields["OrderID"], fields["Sequence"], fields["OrderOperation"]
        if request.lock_rolled or order in request.locked_orders:
            return self._locked(order)
        if order in request.rejected_orders:
            raise SapError(400, "RU/100", f"Order {order} is not released; no confirmation possible")

        external_key = fields.get("ExternalSystemConfirmation")
        if external_key and self.dedupe != "off":
            existing = self._find_by_external_key(external_key)
            if existing is not None and self.dedupe == "reject":
                raise SapError(
                    400,
                    "RU/501",
                    f"Confirmation {existing['ConfirmationGroup']}/{existing['ConfirmationCount']} already exists "
                    f"for external key {external_key}",
                )
            if existing is not None:
                return json_response(201, {"d": self._entity(existing)}, headers=self._created_headers(existing))

        slot = (order, sequence, operation)
        if slot in self.finally_confirmed:
            group, count = self.finally_confirmed[slot]
            raise SapError(
                400,
                "RU/153",
                f"Operation {operation} of order {order} is already finally confirmed (confirmation {group}/{count})",
            )
        group = self.groups.get(slot)
        if group is None:
            group = str(self.next_group)
            self.next_group += 1
            self.groups[slot] = group
        count = self.counts.get(group, 0) + 1
        self.counts[group] = count
        final = bool(fields.get("IsFinalConfirmation")) or fields.get("FinalConfirmationType") in {"X", "1"}
        now = dt.datetime.now(dt.UTC)
        record: dict[str, Any] = {
            **fields,
            "ConfirmationGroup": group,
            "ConfirmationCount": str(count),
            "IsFinalConfirmation": final,
            "FinalConfirmationType": fields.get("FinalConfirmationType") or ("X" if final else ""),
            "OrderConfirmationRecordType": fields.get("OrderConfirmationRecordType") or ("L40" if final else "L20"),
            "PostingDate": fields.get("PostingDate") or _odata_date(now),
            "ConfirmationEntryDate": _odata_date(now),
            "ConfirmationEntryTime": now.strftime("PT%HH%MM%SS"),
            "EnteredByUser": self.user.upper(),
            "IsReversed": False,
            "IsReversal": False,
        }
        key = (group, str(count))
        self._store(key, record)
        self.material_documents[key] = self._material_documents(group, str(count), items, now)
        self._book(self.material_documents[key])
        if final:
            self.finally_confirmed[slot] = key
        self.ledger.record(
            action=journal.POST,
            key=external_key,
            order=order,
            operation=operation,
            yield_qty=plain(record["ConfirmationYieldQuantity"]),
            scrap_qty=plain(record["ConfirmationScrapQuantity"]),
            rework_qty=plain(record["ConfirmationReworkQuantity"]),
            final=final,
            document_type="ProdnOrdConf2",
            document=f"{group}/{count}",
            response_dropped=request.response_will_drop,
            details={
                "ConfirmationGroup": group, "ConfirmationCount": str(count), "Sequence": sequence,
                "VarianceReasonCode": record.get("VarianceReasonCode") or "",
                **_movements_detail(self.material_documents[key]),
            },
        )
        response = json_response(
            201, {"d": self._entity(record)}, headers=self._created_headers(record), committed=True
        )
        return response

    def _validated(self, data: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name, value in data.items():
            if name in READ_ONLY_FIELDS or name == "to_ProdnOrdConfMatlDocItm":
                continue
            if value is None:
                continue
            if name in QUANTITY_FIELDS:
                fields[name] = self._quantity(name, value)
            elif name in BOOLEAN_FIELDS:
                if not isinstance(value, bool):
                    raise SapError(
                        400, "/IWBEP/CM_MGW_RT/022", f"Invalid value for property '{name}': expected true or false"
                    )
                fields[name] = value
            elif name in DATE_FIELDS:
                if not isinstance(value, str) or not _DATE.match(value):
                    raise SapError(
                        400, "/IWBEP/CM_MGW_RT/022", f"Invalid value for property '{name}': expected /Date(ms)/"
                    )
                fields[name] = value
            elif name in TIME_FIELDS:
                if not isinstance(value, str) or not _TIME.match(value):
                    raise SapError(
                        400, "/IWBEP/CM_MGW_RT/022", f"Invalid value for property '{name}': expected PTxxHxxMxxS"
                    )
                fields[name] = value
            elif name == "ExternalSystemConfirmation":
                try:
                    fields[name] = str(uuid.UUID(str(value)))
                except ValueError:
                    raise SapError(
                        400, "/IWBEP/CM_MGW_RT/022", f"Invalid GUID '{value}' for property '{name}'"
                    ) from None
            elif name in STRING_FIELDS:
                if not isinstance(value, str):
                    raise SapError(
                        400, "/IWBEP/CM_MGW_RT/022", f"Invalid value for property '{name}': expected a string"
                    )
                if len(value) > STRING_FIELDS[name]:
                    raise SapError(
                        400,
                        "/IWBEP/CM_MGW_RT/022",
                        f"Value '{value}' for property '{name}' exceeds {STRING_FIELDS[name]} characters",
                    )
                fields[name] = value
            else:
                fields[name] = value
        order = fields.get("OrderID", "")
        if not order:
            raise SapError(400, "RU/003", "Enter an order number (OrderID)")
        operation = fields.get("OrderOperation", "")
        if operation and not _OPERATION.match(operation):
            raise SapError(
                400, "RU/004", f"Operation '{operation}' does not exist in order {order} (use 4 digits, e.g. 0010)"
            )
        fields.setdefault("Sequence", "0")
        fields["OrderOperation"] = operation
        for name in ("ConfirmationYieldQuantity", "ConfirmationScrapQuantity", "ConfirmationReworkQuantity"):
            fields.setdefault(name, Decimal(0))
            if fields[name] < 0:
                raise SapError(400, "RU/024", f"Enter a positive quantity for {name}")
        return fields

    @staticmethod
    def _quantity(name: str, value: Any) -> Decimal:
        # OData V2 JSON carries Edm.Decimal as a string; a bare number is a client bug.
        if not isinstance(value, str):
            raise SapError(
                400, "/IWBEP/CM_MGW_RT/022", f"Invalid value for property '{name}': Edm.Decimal must be a string"
            )
        try:
            number = parse_decimal(value)
        except ValueError:
            raise SapError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid value '{value}' for property '{name}'") from None
        if number != number.quantize(Decimal("0.001")) or abs(number) >= Decimal("10000000000"):
            raise SapError(
                400, "/IWBEP/CM_MGW_RT/022", f"Value '{value}' for property '{name}' exceeds precision 13, scale 3"
            )
        return number

    def _validated_items(self, data: dict[str, Any], fields: dict[str, Any]) -> list[dict[str, Any]]:
        """The deep-inserted goods movements (``to_ProdnOrdConfMatlDocItm``), checked as SAP checks them
        before anything is booked: a movement type it knows, a material, a positive quantity in an
        entry unit, and a receipt (101) referring to the order (``GoodsMovementRefDocType`` "F")."""
        items = data.get("to_ProdnOrdConfMatlDocItm") or []
        if isinstance(items, dict):
            items = items.get("results") or []  # the OData V2 verbose form
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise BadRequest("to_ProdnOrdConfMatlDocItm must be a list of objects")
        if items and fields.get("APIConfHasNoGoodsMovements"):
            raise SapError(400, "RU/240", "Goods movements were sent although APIConfHasNoGoodsMovements is set")
        rows = []
        for index, item in enumerate(items, start=1):
            row = {key: value for key, value in item.items() if key != "__metadata"}
            kind = str(row.get("GoodsMovementType") or "")
            if kind not in MOVEMENT_TYPES:
                raise SapError(400, "M7/096", f"Item {index}: movement type '{kind}' is not allowed here")
            if not isinstance(row.get("Material"), str) or not row["Material"] or len(row["Material"]) > 40:
                raise SapError(400, "M7/018", f"Item {index}: enter a material")
            if "QuantityInEntryUnit" not in row:
                raise SapError(400, "M7/019", f"Item {index}: enter a quantity")
            quantity = self._quantity("QuantityInEntryUnit", row["QuantityInEntryUnit"])
            if quantity <= 0:
                raise SapError(400, "M7/019", f"Item {index}: enter a positive quantity")
            row["QuantityInEntryUnit"] = _three_decimals(quantity)
            if not isinstance(row.get("EntryUnit"), str) or not 1 <= len(row["EntryUnit"]) <= 3:
                raise SapError(400, "M7/020", f"Item {index}: enter a unit of entry")
            if kind in {"101", "102"} and row.get("GoodsMovementRefDocType") != "F":
                raise SapError(400, "M7/097", f"Item {index}: a receipt from a production order needs GoodsMovementRefDocType F")
            rows.append(row)
        return rows

    def _material_documents(
        self, group: str, count: str, items: list[dict[str, Any]], now: dt.datetime
    ) -> list[dict[str, Any]]:
        if not items:
            return []
        document = str(self.next_material_document)
        self.next_material_document += 1
        return [
            {
                **item,
                "ConfirmationGroup": group,
                "ConfirmationCount": count,
                "MaterialDocument": document,
                "MaterialDocumentItem": str(index),
                "MaterialDocumentYear": str(now.year),
            }
            for index, item in enumerate(items, start=1)
        ]

    def _book(self, rows: list[dict[str, Any]]) -> None:
        """Book material document items in the stock: 261 issues, 101 receives, 262/102 take them back."""
        for row in rows:
            sign, field = MOVEMENT_TYPES[str(row["GoodsMovementType"])]
            quantity = sign * Decimal(row["QuantityInEntryUnit"])
            self.ledger.book(item=row["Material"], batch=row.get("Batch"), **{field: quantity})

    def _created_headers(self, record: dict[str, Any]) -> list[tuple[str, str]]:
        return [("Location", self._uri(record)), ("DataServiceVersion", "2.0")]

    # -- cancel ------------------------------------------------------------------------

    def _cancel(self, request: SimRequest) -> SimResponse:
        query = request.query
        group = _literal(query.get("ConfirmationGroup", ""))
        count = _literal(query.get("ConfirmationCount", ""))
        if not group or not count:
            raise SapError(
                400, "/IWBEP/CM_MGW_RT/004", "Parameters ConfirmationGroup and ConfirmationCount are mandatory"
            )
        original = self.confirmations.get((group, count))
        if original is None:
            raise SapError(404, "RU/110", f"Confirmation {group}/{count} does not exist")
        order = original["OrderID"]
        if request.lock_rolled or order in request.locked_orders:
            return self._locked(order)
        if order in request.rejected_orders:
            raise SapError(400, "RU/100", f"Order {order} is not released; no cancellation possible")
        if original["IsReversal"]:
            raise SapError(
                400, "RU/111", f"Confirmation {group}/{count} is itself a cancellation and cannot be cancelled"
            )
        if original["IsReversed"]:
            raise SapError(400, "RU/112", f"Confirmation {group}/{count} has already been cancelled")
        new_count = self.counts[group] + 1
        self.counts[group] = new_count
        now = dt.datetime.now(dt.UTC)
        external_key = _literal(query.get("ExternalSystemConfirmation", "")) or None
        reversal = {
            **original,
            "ConfirmationCount": str(new_count),
            "IsReversal": True,
            "IsReversed": False,
            "PostingDate": _posting_date(query.get("PostingDate")) or _odata_date(now),
            "ConfirmationText": _literal(query.get("ConfirmationText", "")) or original.get("ConfirmationText", ""),
            "ConfirmationEntryDate": _odata_date(now),
            "ConfirmationEntryTime": now.strftime("PT%HH%MM%SS"),
            "ExternalSystemConfirmation": external_key or "",
        }
        original["IsReversed"] = True
        key = (group, str(new_count))
        self._store(key, reversal)
        # SAP reverses the confirmation's goods movements with it: 261 by 262, 101 by 102.
        self.material_documents[key] = self._material_documents(
            group, str(new_count),
            [
                {**_unkeyed(item), "GoodsMovementType": REVERSAL_TYPES.get(str(item["GoodsMovementType"]), str(item["GoodsMovementType"]))}
                for item in self.material_documents.get((group, count), [])
            ],
            now,
        )
        self._book(self.material_documents[key])
        slot = (order, original["Sequence"], original["OrderOperation"])
        if self.finally_confirmed.get(slot) == (group, count):
            del self.finally_confirmed[slot]
        self.ledger.record(
            action=journal.CANCEL,
            key=external_key,
            order=order,
            operation=original["OrderOperation"],
            yield_qty=plain(original["ConfirmationYieldQuantity"]),
            scrap_qty=plain(original["ConfirmationScrapQuantity"]),
            rework_qty=plain(original["ConfirmationReworkQuantity"]),
            final=bool(original["IsFinalConfirmation"]),
            document_type="ProdnOrdConf2",
            document=f"{group}/{new_count}",
            cancels=f"{group}/{count}",
            cancels_key=original.get("ExternalSystemConfirmation") or None,
            response_dropped=request.response_will_drop,
            details={"ConfirmationGroup": group, "ConfirmationCount": str(new_count), **_movements_detail(self.material_documents[key])},
        )
        return json_response(
            200, {"d": self._entity(reversal)}, headers=[("DataServiceVersion", "2.0")], committed=True
        )

    # -- proposal ----------------------------------------------------------------------

    def _proposal(self, request: SimRequest) -> SimResponse:
        query = request.query
        order = _literal(query.get("OrderID", ""))
        if not order:
            raise SapError(400, "/IWBEP/CM_MGW_RT/004", "Parameter OrderID is mandatory")
        operation = _literal(query.get("OrderOperation", ""))
        sequence = _literal(query.get("Sequence", "")) or "0"
        proposal = {
            "__metadata": {"type": f"{SERVICE}.AProductionorderconf2"},
            "ConfirmationGroup": self.groups.get((order, sequence, operation), ""),
            "OrderID": order,
            "Sequence": sequence,
            "OrderOperation": operation,
            "ConfirmationYieldQuantity": _three_decimals(_decimal_literal(query.get("ConfirmationYieldQuantity"))),
            "ConfirmationScrapQuantity": _three_decimals(_decimal_literal(query.get("ConfirmationScrapQuantity"))),
            "ConfirmationReworkQuantity": "0.000",
            **{f"OpWorkQuantityUnit{slot}": "" for slot in range(1, 7)},
            **{f"OpConfirmedWorkQuantity{slot}": "0.000" for slot in range(1, 7)},
        }
        return json_response(200, {"d": {"GetConfProposal": proposal}})

    # -- read --------------------------------------------------------------------------

    def _store(self, key: tuple[str, str], record: dict[str, Any]) -> None:
        self.confirmations[key] = record
        self.by_order.setdefault(record["OrderID"], []).append(key)
        external_key = (record.get("ExternalSystemConfirmation") or "").lower()
        if external_key:
            self.by_external_key.setdefault(external_key, []).append(key)

    def _find_by_external_key(self, external_key: str) -> dict[str, Any] | None:
        for key in self.by_external_key.get(external_key.lower(), []):
            record = self.confirmations[key]
            if not record["IsReversal"]:
                return record
        return None

    def _read_one(self, request: SimRequest, group: str, count: str, navigation: bool) -> SimResponse:
        record = self.confirmations.get((group, count))
        if record is None:
            raise SapError(404, "/IWBEP/CM_MGW_RT/020", "Resource not found for segment 'ProdnOrdConf2'")
        if navigation:
            items = [self._material_entity(item) for item in self.material_documents.get((group, count), [])]
            return json_response(200, {"d": {"results": items}})
        entity = self._entity(record)
        return json_response(200, {"d": _select(entity, request.query.get("$select"))})

    def _query(self, request: SimRequest) -> SimResponse:
        query = request.query
        clauses = _parse_filter(query.get("$filter", ""))
        candidates: Any = self.confirmations.keys()
        for field, operator, expected in clauses:
            if operator == "eq" and field == "ExternalSystemConfirmation":
                candidates = self.by_external_key.get(expected, [])
                break
            if operator == "eq" and field == "OrderID":
                candidates = self.by_order.get(expected, [])
        records = [self.confirmations[key] for key in candidates if _matches(self.confirmations[key], clauses)]
        records.sort(key=lambda record: (int(record["ConfirmationGroup"]), int(record["ConfirmationCount"])))
        orderby = query.get("$orderby", "").strip()
        if orderby:
            for clause in reversed([part.strip() for part in orderby.split(",") if part.strip()]):
                field, _, direction = clause.partition(" ")
                if field not in FILTERABLE:
                    raise SapError(400, "/IWBEP/CM_MGW_RT/006", f"Property '{field}' not found for $orderby")
                records.sort(
                    key=lambda record: _sort_key(record.get(field)), reverse=direction.strip().lower() == "desc"
                )
        total = len(records)
        skip = _non_negative(query.get("$skip"), "$skip") or 0
        top = _non_negative(query.get("$top"), "$top")
        records = records[skip:] if top is None else records[skip : skip + top]
        results = [_select(self._entity(record), query.get("$select")) for record in records]
        body: dict[str, Any] = {"results": results}
        if query.get("$inlinecount") == "allpages":
            body["__count"] = str(total)
        return json_response(200, {"d": body}, headers=[("DataServiceVersion", "2.0")])

    def _uri(self, record: dict[str, Any]) -> str:
        return (
            f"{SERVICE_PATH}/ProdnOrdConf2(ConfirmationGroup='{record['ConfirmationGroup']}',"
            f"ConfirmationCount='{record['ConfirmationCount']}')"
        )

    def _entity(self, record: dict[str, Any]) -> dict[str, Any]:
        uri = self._uri(record)
        entity: dict[str, Any] = {"__metadata": {"id": uri, "uri": uri, "type": ENTITY_TYPE}}
        for name, value in record.items():
            entity[name] = _three_decimals(value) if isinstance(value, Decimal) else value
        entity.setdefault("ExternalSystemConfirmation", "")
        entity["to_ProdnOrdConfMatlDocItm"] = {"__deferred": {"uri": f"{uri}/to_ProdnOrdConfMatlDocItm"}}
        return entity

    @staticmethod
    def _material_entity(item: dict[str, Any]) -> dict[str, Any]:
        uri = (
            f"{SERVICE_PATH}/ProdnOrdConfMatlDocItm(ConfirmationGroup='{item['ConfirmationGroup']}',"
            f"ConfirmationCount='{item['ConfirmationCount']}',MaterialDocument='{item['MaterialDocument']}',"
            f"MaterialDocumentItem='{item['MaterialDocumentItem']}',MaterialDocumentYear='{item['MaterialDocumentYear']}')"
        )
        return {"__metadata": {"id": uri, "uri": uri, "type": MATERIAL_DOCUMENT_TYPE}, **item}


def _unkeyed(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in _MATERIAL_DOCUMENT_KEYS}


def _movements_detail(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The goods movements of a ledger entry, for tests and people reading it; nothing when there are none."""
    if not rows:
        return {}
    return {
        "movements": [
            {
                "type": str(row["GoodsMovementType"]), "material": row["Material"], "batch": row.get("Batch") or "",
                "quantity": plain(Decimal(row["QuantityInEntryUnit"])), "document": f"{row['MaterialDocument']}/{row['MaterialDocumentItem']}",
            }
            for row in rows
        ]
    }


# -- OData helpers -----------------------------------------------------------------------


def _mime_parts(content_type: str, body: bytes) -> list[email.message.Message] | None:
    """The top-level parts of a multipart/mixed body, or None if it is not one."""
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type.lower():
        return None
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None
    return list(message.get_payload())


def _http_part(answer: SimResponse) -> bytes:
    """One HTTP response as an ``application/http`` part."""
    reason = HTTPStatus(answer.status).phrase if answer.status in HTTPStatus._value2member_map_ else ""
    lines = [
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        f"HTTP/1.1 {answer.status} {reason}",
        f"Content-Type: {answer.content_type}",
        f"Content-Length: {len(answer.body)}",
        *(f"{name}: {value}" for name, value in answer.headers),
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + answer.body


def _odata_date(moment: dt.datetime) -> str:
    midnight = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
    return f"/Date({int(midnight.timestamp() * 1000)})/"


def _three_decimals(number: Decimal) -> str:
    return format(number.quantize(Decimal("0.001")), "f")


def _literal(value: str) -> str:
    """``'13985'`` → ``13985``; ``guid'…'`` → ``…``; anything else unchanged."""
    value = value.strip()
    if value.lower().startswith("guid'") and value.endswith("'"):
        return value[5:-1]
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _decimal_literal(value: str | None) -> Decimal:
    if not value:
        return Decimal(0)
    try:
        return parse_decimal(value.rstrip("Mm"))
    except ValueError:
        raise SapError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid decimal literal '{value}'") from None


def _posting_date(value: str | None) -> str | None:
    if not value:
        return None
    text = value.strip()
    if text.lower().startswith("datetime'") and text.endswith("'"):
        try:
            moment = dt.datetime.fromisoformat(text[9:-1]).replace(tzinfo=dt.UTC)
        except ValueError:
            raise SapError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid datetime literal {value}") from None
        return _odata_date(moment)
    raise SapError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid datetime literal {value}")


def _parse_filter(expression: str) -> list[tuple[str, str, Any]]:
    expression = expression.strip()
    while expression.startswith("(") and expression.endswith(")"):
        expression = expression[1:-1].strip()
    if not expression:
        return []
    clauses: list[tuple[str, str, Any]] = []
    for clause in re.split(r"\s+and\s+", expression):
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        match = _CLAUSE.match(clause)
        if not match:
            raise SapError(400, "/IWBEP/CM_MGW_RT/006", f"Invalid filter expression: '{clause}'")
        field, operator, raw = match.group(1), match.group(2).lower(), match.group(3)
        if field not in FILTERABLE:
            raise SapError(400, "/IWBEP/CM_MGW_RT/006", f"Property '{field}' not found in type '{ENTITY_TYPE}'")
        if raw.lower() in {"true", "false"}:
            expected: Any = raw.lower() == "true"
        else:
            expected = _literal(raw)
            if field == "ExternalSystemConfirmation":
                expected = expected.lower()
        clauses.append((field, operator, expected))
    return clauses


def _matches(record: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for field, operator, expected in clauses:
        actual = record.get(field, False if isinstance(expected, bool) else "")
        if isinstance(actual, str) and field == "ExternalSystemConfirmation":
            actual = actual.lower()
        if (actual == expected) != (operator == "eq"):
            return False
    return True


def _select(entity: dict[str, Any], select: str | None) -> dict[str, Any]:
    if not select:
        return entity
    wanted = {name.strip() for name in select.split(",") if name.strip()}
    return {name: value for name, value in entity.items() if name in wanted or name == "__metadata"}


def _sort_key(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit():
        return (0, int(value), "")
    return (1, 0, str(value))


def _non_negative(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise SapError(400, "/IWBEP/CM_MGW_RT/006", f"Invalid value '{value}' for system query option {name}")
    return int(value)


def _metadata() -> str:
    properties = [
        '<Property Name="ConfirmationGroup" Type="Edm.String" Nullable="false" MaxLength="10"/>',
        '<Property Name="ConfirmationCount" Type="Edm.String" Nullable="false" MaxLength="8"/>',
        '<Property Name="ExternalSystemConfirmation" Type="Edm.Guid"/>',
        *(
            f'<Property Name="{name}" Type="Edm.String" MaxLength="{length}"/>'
            for name, length in STRING_FIELDS.items()
        ),
        *(f'<Property Name="{name}" Type="Edm.Decimal" Precision="13" Scale="3"/>' for name in QUANTITY_FIELDS),
        *(f'<Property Name="{name}" Type="Edm.Boolean"/>' for name in (*BOOLEAN_FIELDS, "IsReversed", "IsReversal")),
        *(f'<Property Name="{name}" Type="Edm.DateTime" Precision="0"/>' for name in DATE_FIELDS),
        *(f'<Property Name="{name}" Type="Edm.Time" Precision="0"/>' for name in TIME_FIELDS),
    ]
    joined = "\n        ".join(properties)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
  <edmx:DataServices m:DataServiceVersion="2.0">
    <Schema Namespace="{SERVICE}" xml:lang="en" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
      <EntityType Name="ProdnOrdConf2Type">
        <Key><PropertyRef Name="ConfirmationGroup"/><PropertyRef Name="ConfirmationCount"/></Key>
        {joined}
      </EntityType>
      <EntityContainer Name="{SERVICE}_Entities" m:IsDefaultEntityContainer="true">
        <EntitySet Name="ProdnOrdConf2" EntityType="{SERVICE}.ProdnOrdConf2Type"/>
        <FunctionImport Name="CancelProdnOrdConf" ReturnType="{SERVICE}.ProdnOrdConf2Type" EntitySet="ProdnOrdConf2" m:HttpMethod="POST">
          <Parameter Name="ConfirmationGroup" Type="Edm.String" Mode="In" MaxLength="10"/>
          <Parameter Name="ConfirmationCount" Type="Edm.String" Mode="In" MaxLength="8"/>
          <Parameter Name="PostingDate" Type="Edm.DateTime" Mode="In" Nullable="true"/>
          <Parameter Name="ConfirmationText" Type="Edm.String" Mode="In" Nullable="true" MaxLength="40"/>
          <Parameter Name="ExternalSystemConfirmation" Type="Edm.Guid" Mode="In" Nullable="true"/>
        </FunctionImport>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""


METADATA = _metadata()


def _sap_date(iso: str | None) -> str | None:
    """OData V2 ``Edm.DateTime`` of a calendar day (midnight UTC), as SAP answers dates."""
    if not iso:
        return None
    day = dt.date.fromisoformat(str(iso))
    return f"/Date({int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)})/"
