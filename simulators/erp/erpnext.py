"""ERPNext / Frappe REST, as far as an MES connector sees it (``shared/erp/INTERFACES.md`` §2).

- ``Authorization: token <api_key>:<api_secret>``; a wrong token → 401 ``AuthenticationError``,
  none → 403 ``PermissionError``.
- ``POST /api/resource/Job Card`` (and ``Stock Entry``, ``Work Order``) answers
  ``{"data": {...the saved document...}}``. ``docstatus: 1`` submits at once; a draft may be
  submitted later with ``PUT /api/resource/<doctype>/<name>`` ``{"docstatus": 1}``.
  Only submitted documents count, and only they go to the ledger.
- ``mes_confirmation_id`` is a unique custom field on every doctype: a second insert with
  the same value → **409 ``DuplicateEntryError``** (the contract in INTERFACES.md §2).
  Real Frappe raises that only for a clash on ``name``; a unique custom field gives 417
  ``UniqueValidationError`` there. ``duplicate_error = "unique_validation"`` switches to
  that behaviour so a connector can be tried against both.
- Errors use Frappe's envelope: ``exc_type``, ``exception``, ``exc`` (a JSON list of
  tracebacks) and ``_server_messages`` (a JSON string of JSON strings).
- Job Card sequence check as in ``job_card.py: validate_sequence_id``: when operation *N*'s
  completed quantity (this card included) would exceed that of any earlier operation
  (lower ``sequence_id``) of the same Work Order that is not complete → 417
  ``OperationSequenceError``. The sequence comes from the card's ``sequence_id`` or, when
  absent, from a purely numeric ``operation`` (``"0010"`` → 10). Work Orders referred to but
  never created are created on the fly; create them first (with their ``operations``) when
  an out-of-order post must be caught before the earlier operation was ever posted.
- ``GET /api/resource/<doctype>?filters=[["mes_confirmation_id","=","…"]]&fields=[...]`` and
  ``GET /api/resource/<doctype>/<name>``.
- ``POST /api/method/frappe.client.cancel`` ``{"doctype", "name"}`` → docstatus 2.
- Stock Entries ``Material Transfer for Manufacture`` and ``Manufacture`` need a ``work_order``;
  their ``items`` need ``item_code`` and a positive ``qty`` (a transfer at least one row, a
  Manufacture with rows at least one ``is_finished_item``). Submitting books the stock (per
  ``item_code`` and ``batch_no``: transferred rows issued, finished rows received); cancelling
  takes it back.
- ``Quality Inspection`` (submittable) needs ``item_code``, ``inspection_type``, ``inspected_by``,
  ``report_date`` and ``readings`` each with a ``specification`` and a ``status`` (Accepted or
  Rejected); the ledger books it on submit with its readings. ``Non Conformance`` (not
  submittable: ``docstatus`` stays 0, a 1 is refused) needs ``subject``, ``procedure`` and a
  ``status`` (Open, Resolved, Cancelled); saved is booked. Both take the unique key field as the
  other doctypes, and the MES's order and operation in custom fields (``mes_work_order``,
  ``mes_operation``), which the ledger shows.
- Injected lock → 417 ``DocumentLockedError`` — Frappe's own wording for a document that is
  busy; a connector must treat that ``exc_type`` (and ``TimestampMismatchError``,
  ``QueryDeadlockError``) as transient even though the status is 417.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from simulators.erp import ledger as journal
from simulators.erp.base import (
    BadRequest,
    ErpFlavor,
    SimRequest,
    SimResponse,
    json_response,
    parse_decimal,
    plain,
)
from simulators.erp.ledger import Ledger
from simulators.erp.orders import minutes, number_or_text

KEY_FIELD = "mes_confirmation_id"
TRANSFER = "Material Transfer for Manufacture"
#: The status of a Work Order made from the order book, by the book's status.
WORK_ORDER_STATUS = {"planned": "Draft", "released": "Not Started", "completed": "Completed", "closed": "Closed"}
#: Stock Entry purposes that move material for a Work Order, and so need one.
GOODS_PURPOSES = (TRANSFER, "Manufacture")
QUALITY_INSPECTION = "Quality Inspection"
NON_CONFORMANCE = "Non Conformance"
DOCTYPES = ("Job Card", "Stock Entry", "Work Order", QUALITY_INSPECTION, NON_CONFORMANCE)
#: Doctypes that are saved, never submitted: a saved one is committed (and booked).
NOT_SUBMITTABLE = frozenset({NON_CONFORMANCE})
ORDER_FIELD = "mes_work_order"
OPERATION_FIELD = "mes_operation"
LOGGED_USER = "mes-integration@example.com"

EXCEPTION_MODULES = {
    "OperationSequenceError": "erpnext.manufacturing.doctype.job_card.job_card.OperationSequenceError",
    "JobCardCancelError": "erpnext.manufacturing.doctype.job_card.job_card.JobCardCancelError",
}
STATUS_BY_EXCEPTION = {
    "ValidationError": 417,
    "MandatoryError": 417,
    "LinkValidationError": 417,
    "UniqueValidationError": 417,
    "DocstatusTransitionError": 417,
    "UpdateAfterSubmitError": 417,
    "DocumentLockedError": 417,
    "OperationSequenceError": 417,
    "NonNegativeError": 417,
    "DuplicateEntryError": 409,
    "DoesNotExistError": 404,
    "PermissionError": 403,
    "AuthenticationError": 401,
}


class FrappeError(Exception):
    def __init__(self, exc_type: str, message: str, *, exception_args: str | None = None) -> None:
        super().__init__(message)
        self.exc_type = exc_type
        self.message = message
        self.exception_args = exception_args


class ErpnextFlavor(ErpFlavor):
    name = "erpnext"

    def __init__(self, *, ledger: Ledger, token: str, duplicate_error: str = "duplicate_entry") -> None:
        super().__init__(ledger=ledger)
        if ":" not in token:
            raise ValueError("the ERPNext token must be api_key:api_secret")
        self.token = token
        self._check_duplicate_error(duplicate_error)
        self.duplicate_error = duplicate_error
        self.reset()
        self.orders_changed()

    def orders_changed(self) -> None:
        """The order book's orders as submitted Work Orders (``docstatus`` 1; a planned one a draft), with their
        ``operations`` and ``required_items``; ``modified`` = the order's change stamp. Work Orders made from the
        book and no longer in it are dropped; quantities the MES reported onto an operation are kept."""
        book = self.orders.orders
        for name in [name for name in self.pulled if name not in book]:
            self.documents["Work Order"].pop(name, None)
        self.pulled = set(book)
        for order in book.values():
            current = self.documents["Work Order"].get(order["number"], {})
            done = {row["operation"]: row for row in current.get("operations") or []}
            modified = order["changed_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
            names = {int(operation["sequence"]): operation.get("name") or f"{int(operation['sequence']):04d}" for operation in order.get("operations") or []}
            self.documents["Work Order"][order["number"]] = {
                **current,
                "name": order["number"], "doctype": "Work Order",
                "docstatus": 0 if order["status"] == "planned" else 1,
                "status": WORK_ORDER_STATUS[order["status"]],
                "production_item": order["item"], "qty": number_or_text(order["quantity"]), "stock_uom": order.get("unit") or "",
                "planned_start_date": f"{order.get('start_date')} 08:00:00", "expected_delivery_date": order["due_date"],
                "produced_qty": current.get("produced_qty", Decimal(0)),
                "creation": current.get("creation", modified), "modified": modified,
                "operations": [
                    {
                        **done.get(names[int(operation["sequence"])], {"completed_qty": Decimal(0), "process_loss_qty": Decimal(0), "status": "Pending"}),
                        "name": f"{order['number']}-{operation['sequence']}", "idx": index,
                        "operation": names[int(operation["sequence"])], "sequence_id": int(operation["sequence"]),
                        "workstation": operation.get("work_center"),
                        "time_in_mins": float(minutes(operation.get("run_minutes_per_unit")) * minutes(order["quantity"])),
                    }
                    for index, operation in enumerate(order.get("operations") or [], start=1)
                ],
                "required_items": [
                    {
                        "name": f"{order['number']}-item-{index}", "idx": index, "item_code": component.get("item"),
                        "required_qty": number_or_text(component.get("quantity")), "stock_uom": component.get("unit") or "",
                        "operation": names.get(int(component["operation"])) if component.get("operation") else None,
                        "transferred_qty": 0, "consumed_qty": 0,
                    }
                    for index, component in enumerate(order.get("components") or [], start=1)
                ],
            }

    def reset(self) -> None:
        self.pulled: set[str] = set()  # Work Orders made from the order book (simulators/erp/orders.py)
        self.documents: dict[str, dict[str, dict[str, Any]]] = {doctype: {} for doctype in DOCTYPES}
        self.by_key: dict[tuple[str, str], str] = {}  # (doctype, mes_confirmation_id) → name
        self.counters: dict[str, int] = {doctype: 0 for doctype in DOCTYPES}

    def config(self) -> dict[str, Any]:
        return {"duplicate_error": self.duplicate_error}

    def _set_config(self, key: str, value: Any) -> None:
        self._check_duplicate_error(value)
        self.duplicate_error = value

    @staticmethod
    def _check_duplicate_error(value: Any) -> None:
        if value not in {"duplicate_entry", "unique_validation"}:
            raise ValueError("duplicate_error must be duplicate_entry (409) or unique_validation (417)")

    # -- answers -----------------------------------------------------------------------

    def _error(self, error: FrappeError) -> SimResponse:
        status = STATUS_BY_EXCEPTION.get(error.exc_type, 417)
        module = EXCEPTION_MODULES.get(error.exc_type, f"frappe.exceptions.{error.exc_type}")
        detail = error.exception_args or error.message
        traceback = (
            "Traceback (most recent call last):\n"
            '  File "apps/frappe/frappe/app.py", line 115, in application\n'
            "    response = frappe.api.handle(request)\n"
            f"{module}: {detail}\n"
        )
        body = {
            "exc_type": error.exc_type,
            "exception": f"{module}: {detail}",
            "exc": json.dumps([traceback]),
            "_server_messages": json.dumps(
                [
                    json.dumps(
                        {
                            "message": error.message,
                            "title": "Message",
                            "indicator": "red",
                            "raise_exception": 1,
                            "__frappe_exc_id": secrets.token_hex(8),
                        }
                    )
                ]
            ),
        }
        return json_response(status, body)

    def unavailable(self, status: int) -> SimResponse:
        if status == 500:
            return json_response(
                500,
                {
                    "exc_type": "QueryTimeoutError",
                    "exception": "frappe.exceptions.QueryTimeoutError: "
                    "(1205, 'Lock wait timeout exceeded; try restarting transaction')",
                    "exc": json.dumps(["Traceback (most recent call last): ..."]),
                },
            )
        reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}.get(
            status, "Service Temporarily Unavailable"
        )
        html = (
            f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return SimResponse(status=status, body=html.encode(), content_type="text/html")

    # -- entry point -------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        try:
            self._authenticate(request)
            return self._route(request)
        except FrappeError as error:
            return self._error(error)
        except BadRequest as error:
            return self._error(FrappeError("ValidationError", str(error)))

    def _authenticate(self, request: SimRequest) -> None:
        header = request.header("Authorization") or ""
        scheme, _, credentials = header.partition(" ")
        if not header:
            raise FrappeError("PermissionError", "Not permitted. You need to be logged in to access this resource.")
        if scheme.lower() != "token" or not secrets.compare_digest(credentials.strip(), self.token):
            raise FrappeError("AuthenticationError", "Invalid token. Please check your API key and secret.")

    def _route(self, request: SimRequest) -> SimResponse:
        parts = request.raw_path.split("/")
        if request.raw_path.startswith("/api/v1/"):
            parts = ["", "api", *parts[3:]]  # /api/v1/... is an alias since v15
        if len(parts) >= 4 and parts[1] == "api" and parts[2] == "resource":
            doctype = unquote(parts[3])
            name = unquote("/".join(parts[4:])) if len(parts) > 4 else None
            if doctype not in self.documents:
                raise FrappeError("DoesNotExistError", f"DocType {doctype} not found")
            if request.method == "GET" and name is None:
                return self._list(request, doctype)
            if request.method == "GET":
                return json_response(200, {"data": self._get(doctype, name)})
            if request.method == "POST" and name is None:
                return self._insert(request, doctype)
            if request.method == "PUT" and name is not None:
                return self._update(request, doctype, name)
            raise FrappeError("PermissionError", f"Method {request.method} is not allowed here")
        if len(parts) == 4 and parts[1] == "api" and parts[2] == "method":
            method = parts[3]
            if method == "frappe.auth.get_logged_user":
                return json_response(200, {"message": LOGGED_USER})
            if method == "frappe.client.cancel" and request.method == "POST":
                return self._cancel(request)
            raise FrappeError("DoesNotExistError", f"Failed to get method for command {method}")
        return json_response(404, {"exc_type": "DoesNotExistError", "exception": "Page not found"})

    # -- read --------------------------------------------------------------------------

    def _get(self, doctype: str, name: str) -> dict[str, Any]:
        document = self.documents[doctype].get(name)
        if document is None:
            raise FrappeError("DoesNotExistError", f"{doctype} {name} not found")
        return _public(document)

    def _list(self, request: SimRequest, doctype: str) -> SimResponse:
        query = request.query
        filters = _json_param(query.get("filters"), "filters", default=[])
        fields = _json_param(query.get("fields"), "fields", default=["name"])
        if not isinstance(fields, list):
            raise BadRequest("fields must be a JSON list")
        limit = _int_param(query.get("limit_page_length", query.get("limit")), default=20)
        start = _int_param(query.get("limit_start"), default=0)
        conditions = _conditions(doctype, filters)
        if len(conditions) >= 1 and conditions[0][0] == KEY_FIELD and conditions[0][1] == "=":
            name = self.by_key.get((doctype, str(conditions[0][2])))
            candidates = [self.documents[doctype][name]] if name else []
        else:
            candidates = list(self.documents[doctype].values())
        rows = [document for document in candidates if all(_test(document, condition) for condition in conditions)]
        order_by = (query.get("order_by") or "creation desc").strip()
        field, _, direction = order_by.partition(" ")
        rows.sort(
            key=lambda document: _sortable(document.get(field.strip("`"))), reverse=direction.strip().lower() != "asc"
        )
        if limit:
            rows = rows[start : start + limit]
        else:
            rows = rows[start:]
        wanted = None if "*" in fields else [str(name).split(" as ")[0].strip("`") for name in fields]
        data = [_public(row) if wanted is None else {name: _public(row).get(name) for name in wanted} for row in rows]
        return json_response(200, {"data": data})

    # -- write -------------------------------------------------------------------------

    def _insert(self, request: SimRequest, doctype: str) -> SimResponse:
        payload = request.json()
        if isinstance(payload, dict) and isinstance(payload.get("data"), (dict, str)):
            payload = payload["data"] if isinstance(payload["data"], dict) else json.loads(payload["data"])
        if not isinstance(payload, dict):
            raise BadRequest("the body must be a JSON object")
        document = {key: value for key, value in payload.items() if key not in {"doctype", "creation", "modified"}}
        docstatus = _docstatus(document.pop("docstatus", 0))
        if docstatus == 2:
            raise FrappeError("DocstatusTransitionError", "Cannot create a cancelled document")
        if doctype in NOT_SUBMITTABLE and docstatus != 0:
            raise FrappeError("ValidationError", f"{doctype} is not submittable; save it with docstatus 0")
        order = str(document.get("work_order") or document.get(ORDER_FIELD) or "")
        if doctype != "Work Order" and order:
            if request.lock_rolled or order in request.locked_orders:
                raise FrappeError(
                    "DocumentLockedError",
                    "This document is currently locked and queued for execution. Please try again after some time.",
                )
            if order in request.rejected_orders:
                raise FrappeError(
                    "ValidationError", f"Work Order {order} is Stopped. Please unstop it before making changes."
                )

        key = document.get(KEY_FIELD)
        if key:
            key = str(key)
            existing = self.by_key.get((doctype, key))
            if existing is not None:
                self._raise_duplicate(doctype, existing, key)
        name = document.get("name")
        if name and name in self.documents[doctype]:
            raise FrappeError(
                "DuplicateEntryError",
                f"{doctype} {name} already exists",
                exception_args=_integrity_error(doctype, name, value=name, index="PRIMARY"),
            )

        if doctype == "Job Card":
            self._prepare_job_card(document)
        elif doctype == "Stock Entry":
            self._prepare_stock_entry(document)
        elif doctype == QUALITY_INSPECTION:
            _prepare_quality_inspection(document)
        elif doctype == NON_CONFORMANCE:
            _prepare_non_conformance(document)
        else:
            self._prepare_work_order(document)

        if not name:
            self.counters[doctype] += 1
            name = _series(doctype, self.counters[doctype])
        now = _now()
        document.update(
            {
                "name": name,
                "doctype": doctype,
                "docstatus": 0,
                "creation": now,
                "modified": now,
                "owner": LOGGED_USER,
                "modified_by": LOGGED_USER,
            }
        )
        if doctype == "Job Card" and docstatus == 1:
            self._validate_sequence(document)
        self.documents[doctype][name] = document
        if key:
            self.by_key[(doctype, key)] = name
        committed = False
        if docstatus == 1:
            self._submit(request, document)
            committed = doctype != "Work Order"
        elif doctype in NOT_SUBMITTABLE:
            self._record_quality(request, document)
            committed = True
        return json_response(200, {"data": _public(document)}, committed=committed)

    def _record_quality(self, request: SimRequest, document: dict[str, Any]) -> None:
        """The ledger entry of a Quality Inspection submitted or a Non Conformance saved: what it says of quality."""
        if document["doctype"] == QUALITY_INSPECTION:
            details = {
                "item_code": document.get("item_code"), "status": document.get("status"), "batch_no": document.get("batch_no"),
                "item_serial_no": document.get("item_serial_no"), "sample_size": plain(document["sample_size"]),
                "reference": f"{document.get('reference_type') or ''}/{document.get('reference_name') or ''}".strip("/"),
                "readings": [
                    {
                        "specification": row["specification"], "status": row["status"],
                        **{field: row[field] for field in ("reading_1", "reading_value", "min_value", "max_value") if row.get(field) not in (None, "")},
                    }
                    for row in document["readings"]
                ],
            }
        else:
            details = {field: document.get(field) for field in ("subject", "procedure", "status", "details", "corrective_action")}
        operation = document.get(OPERATION_FIELD)
        self.ledger.record(
            action=journal.POST,
            key=document.get(KEY_FIELD),
            order=document.get(ORDER_FIELD),
            operation=f"{int(operation):04d}" if str(operation or "").isdigit() else None,
            document_type=document["doctype"],
            document=f"{document['doctype']}/{document['name']}",
            response_dropped=request.response_will_drop,
            details=details,
        )

    def _raise_duplicate(self, doctype: str, existing: str, key: str) -> None:
        if self.duplicate_error == "unique_validation":
            raise FrappeError(
                "UniqueValidationError",
                f"Mes Confirmation Id must be unique: {key} is already used by {doctype} {existing}",
                exception_args=_integrity_error(doctype, existing, value=key, index=KEY_FIELD),
            )
        raise FrappeError(
            "DuplicateEntryError",
            f"{doctype} {existing} already exists",
            exception_args=_integrity_error(doctype, existing, value=key, index=KEY_FIELD),
        )

    def _update(self, request: SimRequest, doctype: str, name: str) -> SimResponse:
        document = self.documents[doctype].get(name)
        if document is None:
            raise FrappeError("DoesNotExistError", f"{doctype} {name} not found")
        changes = request.json()
        if not isinstance(changes, dict):
            raise BadRequest("the body must be a JSON object")
        target = _docstatus(changes.pop("docstatus", document["docstatus"]))
        if document["docstatus"] != 0:
            if changes or target != document["docstatus"]:
                raise FrappeError(
                    "UpdateAfterSubmitError", f"Not allowed to change fields after submission of {doctype} {name}"
                )
            return json_response(200, {"data": _public(document)})
        if target == 2:
            raise FrappeError("DocstatusTransitionError", "Cannot change docstatus from 0 to 2")
        if doctype in NOT_SUBMITTABLE and target != 0:
            raise FrappeError("ValidationError", f"{doctype} is not submittable")
        work_order = str(changes.get("work_order") or document.get("work_order") or "")
        if work_order and (request.lock_rolled or work_order in request.locked_orders):
            raise FrappeError(
                "DocumentLockedError",
                "This document is currently locked and queued for execution. Please try again after some time.",
            )
        if work_order and work_order in request.rejected_orders and doctype != "Work Order":
            raise FrappeError(
                "ValidationError", f"Work Order {work_order} is Stopped. Please unstop it before making changes."
            )
        key = changes.get(KEY_FIELD)
        if key and str(key) != document.get(KEY_FIELD):
            existing = self.by_key.get((doctype, str(key)))
            if existing is not None:
                self._raise_duplicate(doctype, existing, str(key))
        candidate = {**document, **{k: v for k, v in changes.items() if k not in {"name", "doctype"}}}
        if doctype == "Job Card":
            self._prepare_job_card(candidate)
            if target == 1:
                self._validate_sequence(candidate)
        elif doctype == "Stock Entry":
            self._prepare_stock_entry(candidate)
        elif doctype == QUALITY_INSPECTION:
            _prepare_quality_inspection(candidate)
        elif doctype == NON_CONFORMANCE:
            _prepare_non_conformance(candidate)
        else:
            self._prepare_work_order(candidate)
        if document.get(KEY_FIELD):
            self.by_key.pop((doctype, document[KEY_FIELD]), None)
        document.clear()
        document.update(candidate)
        document["modified"] = _now()
        if document.get(KEY_FIELD):
            self.by_key[(doctype, str(document[KEY_FIELD]))] = name
        committed = False
        if target == 1:
            self._submit(request, document)
            committed = doctype != "Work Order"
        return json_response(200, {"data": _public(document)}, committed=committed)

    def _cancel(self, request: SimRequest) -> SimResponse:
        arguments = request.form_or_json()
        doctype, name = arguments.get("doctype"), arguments.get("name")
        if not doctype or not name:
            raise FrappeError("MandatoryError", "doctype and name are required")
        if doctype not in self.documents:
            raise FrappeError("DoesNotExistError", f"DocType {doctype} not found")
        document = self.documents[doctype].get(name)
        if document is None:
            raise FrappeError("DoesNotExistError", f"{doctype} {name} not found")
        order = str(document.get("work_order") or "")
        if order and (request.lock_rolled or order in request.locked_orders):
            raise FrappeError(
                "DocumentLockedError",
                "This document is currently locked and queued for execution. Please try again after some time.",
            )
        if order and order in request.rejected_orders:
            raise FrappeError(
                "ValidationError", f"Work Order {order} is Stopped. Please unstop it before making changes."
            )
        if document["docstatus"] != 1:
            raise FrappeError("DocstatusTransitionError", f"Cannot change docstatus from {document['docstatus']} to 2")
        document["docstatus"] = 2
        document["status"] = "Cancelled"
        document["modified"] = _now()
        if doctype == "Job Card":
            operation = self._operation(document["work_order"], document["operation"])
            operation["completed_qty"] -= document["total_completed_qty"]
            operation["process_loss_qty"] -= document["process_loss_qty"]
            self._refresh_operation_status(document["work_order"], operation)
        elif doctype == "Stock Entry" and document.get("purpose") == "Manufacture" and document.get("work_order"):
            work_order = self.documents["Work Order"].get(document["work_order"])
            if work_order is not None:
                work_order["produced_qty"] -= document["fg_completed_qty"]
        if doctype == "Stock Entry":
            self._book(document, -1)
        if doctype != "Work Order":
            self.ledger.record(
                action=journal.CANCEL,
                key=None,
                order=document.get("work_order"),
                operation=document.get("operation"),
                yield_qty=plain(_yield(document)),
                scrap_qty=plain(document.get("process_loss_qty", Decimal(0))),
                document_type=doctype,
                document=f"{doctype}/{name}#cancelled",
                cancels=f"{doctype}/{name}",
                cancels_key=document.get(KEY_FIELD),
                response_dropped=request.response_will_drop,
            )
        return json_response(200, {"message": _public(document)}, committed=doctype != "Work Order")

    def _submit(self, request: SimRequest, document: dict[str, Any]) -> None:
        doctype = document["doctype"]
        document["docstatus"] = 1
        if doctype == "Job Card":
            operation = self._operation(document["work_order"], document["operation"])
            operation["completed_qty"] += document["total_completed_qty"]
            operation["process_loss_qty"] += document["process_loss_qty"]
            self._refresh_operation_status(document["work_order"], operation)
            document["status"] = "Completed"
        elif doctype == QUALITY_INSPECTION:
            self._record_quality(request, document)
            return
        elif doctype == "Stock Entry":
            if document.get("purpose") == "Manufacture" and document.get("work_order"):
                work_order = self._work_order(document["work_order"])
                work_order["produced_qty"] += document["fg_completed_qty"]
            self._book(document, 1)
            document["status"] = "Submitted"
        else:
            document["status"] = "Not Started"
            return
        self.ledger.record(
            action=journal.POST,
            key=document.get(KEY_FIELD),
            order=document.get("work_order"),
            operation=document.get("operation"),
            yield_qty=plain(_yield(document)),
            scrap_qty=plain(document.get("process_loss_qty", Decimal(0))),
            document_type=doctype,
            document=f"{doctype}/{document['name']}",
            response_dropped=request.response_will_drop,
            details={"sequence_id": document.get("sequence_id"), "purpose": document.get("purpose"), **_movements(document)},
        )

    # -- documents ---------------------------------------------------------------------

    def _prepare_job_card(self, document: dict[str, Any]) -> None:
        missing = [field for field in ("work_order", "operation") if not document.get(field)]
        if missing:
            raise FrappeError("MandatoryError", f"[Job Card, new-job-card]: {', '.join(missing)}")
        document["work_order"] = str(document["work_order"])
        document["operation"] = str(document["operation"])
        time_logs = document.get("time_logs") or []
        if not isinstance(time_logs, list) or not all(isinstance(row, dict) for row in time_logs):
            raise FrappeError("ValidationError", "time_logs must be a list of rows")
        total = Decimal(0)
        for index, row in enumerate(time_logs, start=1):
            row["completed_qty"] = _quantity(row.get("completed_qty", 0), f"Row #{index}: Completed Qty")
            total += row["completed_qty"]
            row.setdefault("idx", index)
            row.setdefault("doctype", "Job Card Time Log")
        document["time_logs"] = time_logs
        document["total_completed_qty"] = total
        document["process_loss_qty"] = _quantity(document.get("process_loss_qty", 0), "Process Loss Qty")
        document["for_quantity"] = _quantity(document.get("for_quantity", total), "Qty To Manufacture")
        sequence = document.get("sequence_id")
        if sequence in (None, ""):
            sequence = int(document["operation"]) if document["operation"].isdigit() else None
        elif isinstance(sequence, bool) or not isinstance(sequence, (int, str)) or not str(sequence).isdigit():
            raise FrappeError("ValidationError", f"Sequence ID {sequence!r} must be a whole number")
        document["sequence_id"] = int(sequence) if sequence is not None else None
        document.setdefault("status", "Open")
        document.setdefault("is_corrective_job_card", 0)
        work_order = self._work_order(document["work_order"])
        operation = self._operation(document["work_order"], document["operation"], sequence_id=document["sequence_id"])
        if document["sequence_id"] is None:
            document["sequence_id"] = operation["sequence_id"]  # ERPNext fetches it from the Work Order
        document.setdefault("operation_id", operation["name"])
        document.setdefault("production_item", work_order.get("production_item"))

    def _validate_sequence(self, document: dict[str, Any]) -> None:
        sequence = document.get("sequence_id")
        if not sequence or document.get("is_corrective_job_card"):
            return
        work_order = self._work_order(document["work_order"])
        this = self._operation(document["work_order"], document["operation"])
        current = this["completed_qty"] + document["total_completed_qty"]
        earlier = sorted(
            (
                row
                for row in work_order["operations"]
                if row.get("sequence_id") is not None and row["sequence_id"] < sequence
            ),
            key=lambda row: (row["sequence_id"], row["idx"]),
        )
        for row in earlier:
            if row["status"] != "Completed" and row["completed_qty"] < current:
                raise FrappeError(
                    "OperationSequenceError",
                    f"Job Card {document['name']}: As per the sequence of the operations in the work order "
                    f"{document['work_order']}, complete the operation {row['operation']} before the operation "
                    f"{document['operation']}.",
                )

    def _prepare_stock_entry(self, document: dict[str, Any]) -> None:
        purpose = document.get("purpose") or document.get("stock_entry_type")
        if not purpose:
            raise FrappeError("MandatoryError", "[Stock Entry, new-stock-entry]: purpose")
        document["purpose"] = purpose
        document.setdefault("stock_entry_type", purpose)
        document["fg_completed_qty"] = _quantity(document.get("fg_completed_qty", 0), "For Quantity")
        if purpose == "Manufacture" and not document.get("work_order"):
            raise FrappeError("MandatoryError", "[Stock Entry, new-stock-entry]: work_order")
        if document.get("work_order"):
            document["work_order"] = str(document["work_order"])
            self._work_order(document["work_order"])
        items = document.get("items") or []
        if not isinstance(items, list) or not all(isinstance(row, dict) for row in items):
            raise FrappeError("ValidationError", "items must be a list of rows")
        if purpose in GOODS_PURPOSES and not document.get("work_order"):
            raise FrappeError("MandatoryError", "[Stock Entry, new-stock-entry]: work_order")
        if purpose == TRANSFER and not items:
            raise FrappeError("ValidationError", "Items are mandatory")
        for index, row in enumerate(items, start=1):
            if not row.get("item_code"):
                raise FrappeError("MandatoryError", f"[Stock Entry Detail, Row #{index}]: item_code")
            row["qty"] = _quantity(row.get("qty", 0), f"Row #{index}: Qty")
            if purpose in GOODS_PURPOSES and row["qty"] <= 0:
                raise FrappeError("ValidationError", f"Row #{index}: Quantity must be greater than zero")
            if row.get("batch_no") is not None and not isinstance(row["batch_no"], str):
                raise FrappeError("ValidationError", f"Row #{index}: Batch No must be text")
            row.setdefault("idx", index)
        if purpose == "Manufacture" and items and not any(row.get("is_finished_item") for row in items):
            raise FrappeError("ValidationError", "Atleast one row must be the finished item (is_finished_item)")
        document["items"] = items
        document["process_loss_qty"] = _quantity(document.get("process_loss_qty", 0), "Process Loss Qty")

    def _book(self, document: dict[str, Any], sign: int) -> None:
        """Book a Stock Entry's rows in the stock (``sign`` -1 when it is cancelled): material transferred
        for manufacture is issued to the order; finished items of a Manufacture are received from it."""
        for row in document.get("items") or []:
            if document.get("purpose") == TRANSFER:
                self.ledger.book(item=row["item_code"], batch=row.get("batch_no"), issued=sign * row["qty"])
            elif document.get("purpose") == "Manufacture" and row.get("is_finished_item"):
                self.ledger.book(item=row["item_code"], batch=row.get("batch_no"), received=sign * row["qty"])

    def _prepare_work_order(self, document: dict[str, Any]) -> None:
        document["qty"] = (
            _quantity(document.get("qty", 0), "Qty To Manufacture") if document.get("qty") is not None else None
        )
        operations = document.get("operations") or []
        if not isinstance(operations, list) or not all(
            isinstance(row, dict) and row.get("operation") for row in operations
        ):
            raise FrappeError("ValidationError", "operations must be a list of rows with an operation")
        rows = []
        for index, row in enumerate(operations, start=1):
            sequence = row.get("sequence_id")
            rows.append(
                {
                    "name": secrets.token_hex(5),
                    "idx": index,
                    "operation": str(row["operation"]),
                    "sequence_id": int(sequence) if sequence not in (None, "") else None,
                    "workstation": row.get("workstation"),
                    "completed_qty": Decimal(0),
                    "process_loss_qty": Decimal(0),
                    "status": "Pending",
                }
            )
        document["operations"] = rows
        document.setdefault("produced_qty", Decimal(0))
        document["produced_qty"] = _quantity(document["produced_qty"], "Manufactured Qty")
        document.setdefault("status", "Draft")

    def _work_order(self, name: str) -> dict[str, Any]:
        work_order = self.documents["Work Order"].get(name)
        if work_order is None:
            # Referred to but never created: the MES's order numbers are ERPNext's here.
            now = _now()
            work_order = {
                "name": name,
                "doctype": "Work Order",
                "docstatus": 1,
                "status": "Not Started",
                "qty": None,
                "produced_qty": Decimal(0),
                "operations": [],
                "creation": now,
                "modified": now,
            }
            self.documents["Work Order"][name] = work_order
        return work_order

    def _operation(self, work_order_name: str, operation: str, *, sequence_id: int | None = None) -> dict[str, Any]:
        """The Work Order's row for ``operation``, added when missing. A sequence the Work Order
        already knows wins over the one a Job Card brings."""
        work_order = self._work_order(work_order_name)
        for row in work_order["operations"]:
            if row["operation"] == operation:
                if row["sequence_id"] is None and sequence_id is not None:
                    row["sequence_id"] = sequence_id
                return row
        if sequence_id is None and operation.isdigit():
            sequence_id = int(operation)
        row = {
            "name": secrets.token_hex(5),
            "idx": len(work_order["operations"]) + 1,
            "operation": operation,
            "sequence_id": sequence_id,
            "workstation": None,
            "completed_qty": Decimal(0),
            "process_loss_qty": Decimal(0),
            "status": "Pending",
        }
        work_order["operations"].append(row)
        return row

    def _refresh_operation_status(self, work_order_name: str, operation: dict[str, Any]) -> None:
        quantity = self._work_order(work_order_name).get("qty")
        if quantity and operation["completed_qty"] >= quantity:
            operation["status"] = "Completed"
        elif operation["completed_qty"] > 0:
            operation["status"] = "Work in Progress"
        else:
            operation["status"] = "Pending"


# -- helpers ---------------------------------------------------------------------------


def _movements(document: dict[str, Any]) -> dict[str, Any]:
    """A Stock Entry's rows for its ledger entry; nothing for a document without rows."""
    rows = document.get("items") if document.get("doctype") == "Stock Entry" else None
    if not rows:
        return {}
    return {
        "movements": [
            {"item": row["item_code"], "batch": row.get("batch_no") or "", "quantity": plain(row["qty"]), "finished": bool(row.get("is_finished_item"))}
            for row in rows
        ]
    }


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


def _series(doctype: str, number: int) -> str:
    year = dt.date.today().year
    return {
        "Job Card": f"PO-JOB{number:05d}",
        "Stock Entry": f"MAT-STE-{year}-{number:05d}",
        "Work Order": f"MFG-WO-{year}-{number:05d}",
        QUALITY_INSPECTION: f"MAT-QA-{year}-{number:05d}",
        NON_CONFORMANCE: f"QA-NC-{number:05d}",
    }[doctype]


def _integrity_error(doctype: str, name: str, *, value: str, index: str) -> str:
    """The arguments Frappe's DuplicateEntryError carries: the clashing document and MariaDB's error."""
    return f"('{doctype}', '{name}', IntegrityError(1062, \"Duplicate entry '{value}' for key '{index}'\"))"


def _docstatus(value: Any) -> int:
    if value in (0, 1, 2) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value in {"0", "1", "2"}:
        return int(value)
    raise FrappeError("ValidationError", f"Invalid docstatus {value!r}")


def _quantity(value: Any, label: str) -> Decimal:
    try:
        number = parse_decimal(value if value not in (None, "") else 0)
    except ValueError:
        raise FrappeError("ValidationError", f"{label}: {value!r} is not a number") from None
    if number < 0:
        raise FrappeError("NonNegativeError", f"{label} cannot be negative")
    return number


def _prepare_quality_inspection(document: dict[str, Any]) -> None:
    missing = [field for field in ("item_code", "inspection_type", "inspected_by", "report_date") if not document.get(field)]
    if missing:
        raise FrappeError("MandatoryError", f"[Quality Inspection, new-quality-inspection]: {', '.join(missing)}")
    if document["inspection_type"] not in ("Incoming", "Outgoing", "In Process"):
        raise FrappeError("ValidationError", f"Inspection Type cannot be {document['inspection_type']!r}")
    readings = document.get("readings") or []
    if not isinstance(readings, list) or not readings or not all(isinstance(row, dict) for row in readings):
        raise FrappeError("ValidationError", "Readings are mandatory: a list of rows")
    for index, row in enumerate(readings, start=1):
        if not row.get("specification"):
            raise FrappeError("MandatoryError", f"[Quality Inspection Reading, Row #{index}]: specification")
        if row.get("status") not in ("Accepted", "Rejected"):
            raise FrappeError("ValidationError", f"Row #{index}: Status is mandatory (Accepted or Rejected)")
        row.setdefault("idx", index)
        row.setdefault("doctype", "Quality Inspection Reading")
    document["readings"] = readings
    document["sample_size"] = _quantity(document.get("sample_size", 0), "Sample Size")
    if not document.get("manual_inspection"):
        document["status"] = "Rejected" if any(row["status"] == "Rejected" for row in readings) else "Accepted"
    elif document.get("status") not in ("Accepted", "Rejected"):
        raise FrappeError("ValidationError", "Status is mandatory for a manual inspection (Accepted or Rejected)")


def _prepare_non_conformance(document: dict[str, Any]) -> None:
    missing = [field for field in ("subject", "procedure", "status") if not document.get(field)]
    if missing:
        raise FrappeError("MandatoryError", f"[Non Conformance, new-non-conformance]: {', '.join(missing)}")
    if document["status"] not in ("Open", "Resolved", "Cancelled"):
        raise FrappeError("ValidationError", f"Status cannot be {document['status']!r}")
    if len(str(document["subject"])) > 140:
        raise FrappeError("CharacterLengthExceededError", "Subject will get truncated, as max characters allowed is 140")


def _yield(document: dict[str, Any]) -> Decimal:
    if document["doctype"] == "Job Card":
        return document["total_completed_qty"]
    return document.get("fg_completed_qty", Decimal(0))


def _public(document: dict[str, Any]) -> dict[str, Any]:
    """Decimals as JSON numbers, the way Frappe answers floats."""

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        return value

    return convert(document)


def _json_param(value: str | None, name: str, *, default: Any) -> Any:
    if value is None or value == "":
        return default
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise FrappeError("ValidationError", f"{name} is not valid JSON: {value}") from None


def _int_param(value: str | None, *, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise FrappeError("ValidationError", f"{value!r} is not a whole number") from None


def _conditions(doctype: str, filters: Any) -> list[tuple[str, str, Any]]:
    if isinstance(filters, dict):
        return [
            (field, "=", value) if not isinstance(value, list) else (field, value[0], value[1])
            for field, value in filters.items()
        ]
    if not isinstance(filters, list):
        raise FrappeError("ValidationError", "filters must be a list or an object")
    conditions = []
    for item in filters:
        if not isinstance(item, list) or len(item) not in (3, 4):
            raise FrappeError("ValidationError", f"Invalid filter {item!r}")
        if len(item) == 4:
            if item[0] != doctype:
                raise FrappeError(
                    "ValidationError", f"Filters on child tables ({item[0]}) are not supported by the simulator"
                )
            item = item[1:]
        field, operator, value = item
        if operator not in {"=", "!=", "in", "not in", ">", "<", ">=", "<=", "like", "is"}:
            raise FrappeError("ValidationError", f"Unsupported operator {operator}")
        conditions.append((str(field), operator, value))
    return conditions


def _test(document: dict[str, Any], condition: tuple[str, str, Any]) -> bool:
    field, operator, expected = condition
    actual = document.get(field)
    if isinstance(actual, Decimal):
        actual = float(actual)
    if operator == "=":
        return actual == expected or (actual is not None and str(actual) == str(expected))
    if operator == "!=":
        return not (actual == expected or (actual is not None and str(actual) == str(expected)))
    if operator in {"in", "not in"}:
        values = expected.split(",") if isinstance(expected, str) else list(expected)
        found = actual in values or str(actual) in [str(value) for value in values]
        return found if operator == "in" else not found
    if operator == "is":
        return (actual not in (None, "")) if expected == "set" else (actual in (None, ""))
    if operator == "like":
        pattern = str(expected).replace("%", "")
        return pattern.lower() in str(actual or "").lower()
    if actual is None:
        return False
    try:
        left, right = float(actual), float(expected)
    except (TypeError, ValueError):
        left, right = str(actual), str(expected)  # type: ignore[assignment]
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[operator]


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, (int, float, Decimal)):
        return (1, float(value))
    return (2, str(value))
