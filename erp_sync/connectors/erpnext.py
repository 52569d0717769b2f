"""ERPNext (Frappe REST): a confirmation becomes a submitted Job Card, or a Manufacture Stock Entry.

``ConnectionConfig.base_url`` is the site, e.g. ``https://erp.example.com``. Authentication is
``Authorization: token <api_key>:<api_secret>``: ``token`` holds ``key:secret``, or
``username``/``password`` hold the key and the secret.

- Our idempotency key goes into a custom field with ``unique: 1`` (``mes_confirmation_id``
  on Job Card and Stock Entry; it must be created in ERPNext). Inserting it twice fails:
  409 ``DuplicateEntryError``, or on real Frappe 417 ``UniqueValidationError``; both mean
  "already posted", and the document's name is then looked up by the key for ``erp_ref``.
  Insert and submit are one request (``docstatus: 1``), so a document is never left half done
  by us; a draft found under our key (made by hand) is submitted rather than duplicated.
- 417 is a permanent business error (``ValidationError``, ``OperationSequenceError``, …) and
  dead-letters with ERPNext's own message from ``_server_messages``, except Frappe's lock
  errors (``DocumentLockedError``, ``TimestampMismatchError``, ``QueryDeadlockError``,
  ``QueryTimeoutError``), which are transient. 401/403/404 are permanent; 408/423/425/429/5xx
  transient.
- A reversal cancels the original document with ``frappe.client.cancel`` (docstatus 2), the
  way ERPNext reverses a submitted document; one already cancelled counts as done.

- Goods movements: a ``goods_issue`` becomes a submitted Stock Entry ``Material Transfer for
  Manufacture`` for the Work Order (a row per movement: ``item_code``, ``qty``, ``batch_no`` =
  the lot), a ``goods_receipt`` a ``Manufacture`` with the finished item (``is_finished_item``,
  ``batch_no`` = the output lot); our key goes into the key field, found by it before a resend as
  for Job Cards. Their reversals cancel that Stock Entry (by its stored name, else by the
  original's key). In ``stock_entry`` mode a report is itself a Manufacture entry carrying its
  output (``goods_movements``), so the receipt it caused and that receipt's reversal are
  acknowledged without a call. ``goods_totals`` sums the order's submitted Stock Entries.

- Quality: an ``inspection_result`` becomes a submitted ``Quality Inspection`` (``In Process``,
  ``manual_inspection``: the MES judged it) with one reading: a measured characteristic as a
  numeric reading (``reading_1``, ``min_value``/``max_value`` = the limits), a pass/fail one as
  ``reading_value`` Ok / Not Ok; ``specification`` is the characteristic's code (a Quality
  Inspection Parameter of that name must exist), ``sample_size`` the quantity judged,
  ``batch_no``/``item_serial_no`` the lot and serial, ``verified_by`` the inspector's badge, and,
  when the operation had a report already in ERPNext, ``reference_type``/``reference_name`` its
  Job Card (or Stock Entry). A ``nonconformance_disposition`` becomes a ``Non Conformance``
  (``status`` Resolved, ``procedure`` the ``quality_procedure`` option, the decision and its reason
  in ``corrective_action``); that doctype is not submittable, so saved is booked. Both carry our
  key in the key field and the order and operation in ``order_field`` / ``operation_field``
  (custom fields to create on both doctypes), and are found by the key before a resend.

Options (all optional):

``mode`` ("job_card")
    ``job_card``: a submitted Job Card per confirmation with one time log (completed quantity
    and minutes) and the scrap as ``process_loss_qty``. ``stock_entry``: a submitted Stock
    Entry of purpose Manufacture with ``fg_completed_qty`` — meant for orders reported at one
    operation, since every confirmation becomes a finished-goods receipt.
``operation_as`` ("name")
    the Job Card's ``operation``: the MES operation name (ERPNext's Operation), or
    ``sequence`` for the 4-digit sequence ("0010"); ``sequence_id`` is always our sequence.
``key_field`` ("mes_confirmation_id"), ``operation_field`` ("mes_operation", stock_entry mode)
    custom fields holding our key and, on Stock Entries, the operation sequence.
``rework_field`` ("")
    a custom numeric field for the rework quantity (ERPNext has none); without it rework is
    only written into ``remarks`` and totals report it as 0.
``time_source`` ("labor")
    minutes booked in the time log: ``labor``, ``machine`` or ``max`` of the two.
``send_workstation`` (true), ``employee_from_badge`` (false), ``company`` ("")
    send the work center as ``workstation``, the operator badge as the time log's
    ``employee``, and a ``company``.
``order_field`` ("mes_work_order"), ``quality_procedure`` ("MES Nonconformance"), ``inspected_by`` ("Administrator")
    the custom field holding the order on Quality Inspection and Non Conformance; the Quality
    Procedure a Non Conformance names; the ERPNext user a Quality Inspection is inspected by.
``time_zone`` (settings.TIME_ZONE)
    the site's zone; Frappe stores naive local date-times.
``use_batch_no`` (true)
    send the lot of a goods movement as the row's ``batch_no`` (false for items not batch-managed).
``source_warehouse``, ``wip_warehouse``, ``fg_warehouse`` ("")
    the rows' ``s_warehouse`` / ``t_warehouse`` (transfer from source to work-in-progress; finished
    goods into ``fg_warehouse``); a real ERPNext needs them unless its Stock Entry defaults supply them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from erp_sync.connectors.base import (
    GOODS_KINDS,
    GOODS_REVERSALS,
    QUALITY_KINDS,
    ConnectionConfig,
    Connector,
    ErpTotals,
    GoodsTotals,
    Health,
    Outcome,
    Posting,
    PostResult,
    PulledOrder,
    PulledOrders,
    as_retryable,
    classify_exception,
    classify_status,
    header_value_problem,
    http_session,
    option_problems,
    plant_zone,
)

MODES = {"job_card": "Job Card", "stock_entry": "Stock Entry"}
STOCK_ENTRY = "Stock Entry"
QUALITY_INSPECTION = "Quality Inspection"
NON_CONFORMANCE = "Non Conformance"
#: The doctype each quality kind becomes; a Non Conformance is not submittable (saved is booked).
QUALITY_DOCTYPES = {"inspection_result": QUALITY_INSPECTION, "nonconformance_disposition": NON_CONFORMANCE}
NOT_SUBMITTABLE = frozenset({NON_CONFORMANCE})
#: The Stock Entry purpose of each goods kind that ERPNext gets as a document of its own.
GOODS_PURPOSES = {"goods_issue": "Material Transfer for Manufacture", "goods_receipt": "Manufacture"}
LOCK_ERRORS = frozenset({"DocumentLockedError", "TimestampMismatchError", "QueryDeadlockError", "QueryTimeoutError"})
TIME_SOURCES = ("labor", "machine", "max")
FRAPPE_DATETIME = "%Y-%m-%d %H:%M:%S"
_TAGS = re.compile(r"<[^>]+>")


class ErpNextConnector(Connector):
    kind: ClassVar[str] = "erpnext"
    kinds: ClassVar[frozenset[str]] = Connector.kinds | QUALITY_KINDS
    pulls_orders: ClassVar[bool] = True

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.base_url = config.base_url.rstrip("/")
        self.options = config.options or {}
        self.doctype = MODES.get(self.options.get("mode", "job_card"), "Job Card")
        self.key_field = self.options.get("key_field") or "mes_confirmation_id"
        self.operation_field = self.options.get("operation_field") or "mes_operation"
        self.rework_field = self.options.get("rework_field") or ""
        self.order_field = self.options.get("order_field") or "mes_work_order"
        self.time_zone = plant_zone(self.options.get("time_zone"))
        self.timeout = (config.timeout_seconds, config.timeout_seconds)
        credentials = _credentials(config.username, config.password, config.token)
        self.session = http_session()
        self.session.headers.update({"Authorization": f"token {credentials}", "Accept": "application/json"})

    @property
    def tracks_rework(self) -> bool:  # type: ignore[override]
        """ERPNext has no rework quantity of its own; only a configured custom field carries it."""
        return bool(self.rework_field)

    # -- the interface -------------------------------------------------------------------

    def post(self, posting: Posting) -> PostResult:
        if self._booked_with_report(posting):
            return _booked_with_report(posting)
        if posting.kind == "reversal" or posting.kind in GOODS_REVERSALS:
            return self._cancel(posting)
        doctype = self._doctype(posting)
        try:
            if posting.kind in GOODS_KINDS:
                document = self._goods_entry(posting)
            elif posting.kind == "inspection_result":
                document = self._quality_inspection(posting)
            elif posting.kind == "nonconformance_disposition":
                document = self._non_conformance(posting)
            else:
                document = self._job_card(posting) if self.doctype == "Job Card" else self._stock_entry(posting)
        except (KeyError, ValueError, InvalidOperation) as error:
            return PostResult(Outcome.REJECTED, error=f"The message cannot be sent to ERPNext: {error}")
        response = self._call("POST", f"/api/resource/{quote(doctype)}", json=document)
        if isinstance(response, PostResult):
            return response
        if response.status_code == 200:
            return self._accepted(_data(response), doctype=doctype)
        if self._is_duplicate(response):
            return self._already_posted(posting, response)
        return _failure(response)

    def find(self, posting: Posting) -> PostResult | None:
        if self._booked_with_report(posting):
            return _booked_with_report(posting)
        if posting.kind == "reversal" or posting.kind in GOODS_REVERSALS:
            original = self._original(posting)
            if isinstance(original, PostResult):
                return original
            if original is None or original.get("docstatus") == 2:
                return self._cancelled(original)
            return None
        doctype = self._doctype(posting)
        existing = self._by_key(posting.idempotency_key, doctype)
        if isinstance(existing, PostResult):
            return existing
        if existing is None or (existing.get("docstatus") == 0 and doctype not in NOT_SUBMITTABLE):
            return None  # a draft is not booked; post() submits it
        return self._accepted(existing, doctype=doctype)

    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        job_cards = self.doctype == "Job Card"
        fields = ["name", self.key_field]
        fields += (
            ["operation", "sequence_id", "total_completed_qty", "process_loss_qty"]
            if job_cards
            else [self.operation_field, "fg_completed_qty", "process_loss_qty"]
        )
        if self.rework_field:
            fields.append(self.rework_field)
        filters = [["work_order", "=", work_order], ["docstatus", "=", 1]]
        if not job_cards:
            filters.append(["purpose", "=", "Manufacture"])
        rows = self._list(filters, fields)
        if isinstance(rows, PostResult):
            return rows
        sums: dict[int, list[Any]] = {}
        for row in rows:
            operation = _operation_number(row.get("sequence_id") if job_cards else row.get(self.operation_field), row)
            entry = sums.setdefault(operation, [Decimal(0), Decimal(0), Decimal(0), []])
            entry[0] += _decimal(row.get("total_completed_qty" if job_cards else "fg_completed_qty"))
            entry[1] += _decimal(row.get("process_loss_qty"))
            if self.rework_field:
                entry[2] += _decimal(row.get(self.rework_field))
            if row.get(self.key_field):
                entry[3].append(str(row[self.key_field]))
        return [
            ErpTotals(work_order, operation, good, scrap, rework, tuple(keys))
            for operation, (good, scrap, rework, keys) in sorted(sums.items())
        ]

    def goods_totals(self, work_order: str) -> list[GoodsTotals] | PostResult:
        """Submitted Stock Entries of the order: material transferred for it (issued) and finished
        items manufactured (received), per item. Frappe's list gives no child rows, so each entry is read."""
        entries = self._list(
            [["work_order", "=", work_order], ["docstatus", "=", 1], ["purpose", "in", list(GOODS_PURPOSES.values())]],
            ["name", "purpose"],
            STOCK_ENTRY,
        )
        if isinstance(entries, PostResult):
            return entries
        sums: dict[str, list[Decimal]] = {}
        for entry in entries:
            document = self._document(STOCK_ENTRY, str(entry["name"]))
            if isinstance(document, PostResult):
                return document
            for row in document.get("items") or []:
                totals = sums.setdefault(str(row.get("item_code") or ""), [Decimal(0), Decimal(0)])
                if document.get("purpose") == GOODS_PURPOSES["goods_issue"]:
                    totals[0] += _decimal(row.get("qty"))
                elif row.get("is_finished_item"):
                    totals[1] += _decimal(row.get("qty"))
        return [GoodsTotals(work_order, item, issued, received) for item, (issued, received) in sorted(sums.items())]

    def health(self) -> Health:
        started = time.monotonic()
        response = self._call("GET", "/api/method/frappe.auth.get_logged_user")
        latency = int((time.monotonic() - started) * 1000)
        if isinstance(response, PostResult):
            return Health(False, detail=response.error, latency_ms=latency)
        if response.status_code != 200:
            return Health(False, detail=_failure(response).error, latency_ms=latency)
        user = _body(response).get("message") or ""
        return Health(True, detail=f"logged in as {user}".strip(), latency_ms=latency)

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def validate_credentials(*, username: str, password: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        """ERPNext reads its API key and secret from a header, which carries Latin-1 text only."""
        if not header_value_problem(_credentials(username, password, token)):
            return {}
        fields = {"user": username, "password": password, "token": token}
        return {name: problem for name, value in fields.items() if (problem := header_value_problem(value))}

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        problems = option_problems(
            options, choices={"time_source": (TIME_SOURCES, "labor")}, flags={"use_batch_no": True}, time_zone=True, pulls=True
        )
        if options.get("mode", "job_card") not in MODES:
            problems["mode"] = "Use job_card or stock_entry."
        if options.get("operation_as", "name") not in ("name", "sequence"):
            problems["operation_as"] = "Use name or sequence."
        for name in ("source_warehouse", "wip_warehouse", "fg_warehouse"):
            if not isinstance(options.get(name, ""), str):
                problems[name] = "A warehouse name, e.g. Stores - MES."
        for name in ("inspected_by", "quality_procedure"):
            if not isinstance(options.get(name, ""), str):
                problems[name] = "A name in ERPNext, as text."
        for name in ("key_field", "operation_field", "order_field", "rework_field", "company"):
            value = options.get(name, "")
            if not isinstance(value, str) or (value and name != "company" and not re.fullmatch(r"[a-z_][a-z0-9_]*", value)):
                problems[name] = "A field name in lower case (letters, digits, underscores)."
        return problems

    # -- pulled production orders --------------------------------------------------------

    def pull_orders(self, since: str) -> PulledOrders | PostResult:
        """Submitted ``Work Order`` documents not started or in process, with ``modified >=`` the mark (of the
        option ``company`` when set), listed oldest change first; then each one read whole
        (``GET /api/resource/Work Order/<name>``), since a list answers no child tables: its ``operations``
        (``sequence_id``, ``operation``, ``workstation``, ``time_in_mins`` for the whole quantity) and
        ``required_items`` (``item_code``, ``required_qty``, ``operation``). ERPNext keeps no setup time on a
        Work Order, nor a backflush flag per item: both are sent as zero / false."""
        filters: list[Any] = [["modified", ">=", since]] if since else []
        filters += [["docstatus", "=", 1], ["status", "in", list(PULLED_STATUSES)]]
        if self.options.get("company"):
            filters.append(["company", "=", self.options["company"]])
        rows = self._list(filters, ["name", "modified"], "Work Order", order_by="modified asc")
        if isinstance(rows, PostResult):
            return rows
        orders, mark = [], since
        for row in rows:
            document = self._document("Work Order", str(row.get("name")))
            if isinstance(document, PostResult):
                return document
            mark = max(mark, str(document.get("modified") or row.get("modified") or ""))
            orders.append(_pulled_work_order(document))
        return PulledOrders(orders, mark)

    # -- documents -----------------------------------------------------------------------

    def _job_card(self, posting: Posting) -> dict[str, Any]:
        payload = posting.payload
        sequence = int(payload["operation"])
        good, scrap = _decimal(payload.get("good_qty")), _decimal(payload.get("scrap_qty"))
        minutes = self._minutes(payload)
        finished = self._local(payload.get("confirmed_at"))
        operation = payload.get("operation_name") if self.options.get("operation_as", "name") == "name" else None
        time_log: dict[str, Any] = {
            "from_time": (finished - dt.timedelta(minutes=float(minutes))).strftime(FRAPPE_DATETIME),
            "to_time": finished.strftime(FRAPPE_DATETIME),
            "time_in_mins": float(minutes),
            "completed_qty": float(good),
        }
        if self.options.get("employee_from_badge") and payload.get("operator_badge"):
            time_log["employee"] = payload["operator_badge"]
        document: dict[str, Any] = {
            "work_order": str(payload.get("work_order") or posting.work_order),
            "operation": str(operation or f"{sequence:04d}"),
            "sequence_id": sequence,
            "for_quantity": float(good + scrap),
            "time_logs": [time_log],
            "process_loss_qty": float(scrap),
            "remarks": self._remarks(posting),
            self.key_field: posting.idempotency_key,
            "docstatus": 1,
        }
        if self.options.get("send_workstation", True) and payload.get("work_center"):
            document["workstation"] = payload["work_center"]
        return self._common(document, payload)

    def _goods_entry(self, posting: Posting) -> dict[str, Any]:
        """A goods issue as a Stock Entry ``Material Transfer for Manufacture`` (the components to the
        order), a goods receipt as ``Manufacture`` (the finished item, batch = the output lot)."""
        payload = posting.payload
        purpose = GOODS_PURPOSES[posting.kind]
        receipt = posting.kind == "goods_receipt"
        posted = self._local(payload.get("posted_at"))
        items = [self._stock_row(movement, finished=receipt) for movement in payload["movements"]]
        document: dict[str, Any] = {
            "purpose": purpose,
            "stock_entry_type": purpose,
            "work_order": str(payload.get("work_order") or posting.work_order),
            "items": items,
            "posting_date": posted.strftime("%Y-%m-%d"),
            "posting_time": posted.strftime("%H:%M:%S"),
            "set_posting_time": 1,
            "remarks": f"MES {posting.kind.replace('_', ' ')} {payload.get('document_id') or posting.idempotency_key}"
            + (f", station {payload['station']}" if payload.get("station") else ""),
            self.key_field: posting.idempotency_key,
            self.operation_field: int(payload["operation"]),
            "docstatus": 1,
        }
        if receipt:
            document["fg_completed_qty"] = float(sum((_decimal(row["qty"]) for row in items), Decimal(0)))
        if self.options.get("company"):
            document["company"] = self.options["company"]
        return document

    def _stock_row(self, movement: dict[str, Any], *, finished: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"item_code": str(movement["item"]), "qty": float(_decimal(movement["quantity"]))}
        if movement.get("unit"):
            row["uom"] = row["stock_uom"] = str(movement["unit"])
            row["conversion_factor"] = 1
        if movement.get("lot") and self.options.get("use_batch_no", True):
            row["batch_no"] = str(movement["lot"])
        if finished:
            row["is_finished_item"] = 1
            if self.options.get("fg_warehouse"):
                row["t_warehouse"] = self.options["fg_warehouse"]
        else:
            if self.options.get("source_warehouse"):
                row["s_warehouse"] = self.options["source_warehouse"]
            if self.options.get("wip_warehouse"):
                row["t_warehouse"] = self.options["wip_warehouse"]
        return row

    def _booked_with_report(self, posting: Posting) -> bool:
        """In ``stock_entry`` mode a report is itself a Manufacture entry, which carries its output
        (``goods_movements``): the separate receipt it caused, and that receipt's reversal, are booked."""
        return (
            self.doctype == STOCK_ENTRY
            and posting.kind in ("goods_receipt", "goods_receipt_reversal")
            and bool(posting.payload.get("confirmation_id"))
        )

    def _doctype(self, posting: Posting) -> str:
        if posting.kind in QUALITY_DOCTYPES:
            return QUALITY_DOCTYPES[posting.kind]
        return STOCK_ENTRY if posting.kind in GOODS_KINDS else self.doctype

    def _quality_inspection(self, posting: Posting) -> dict[str, Any]:
        """An inspection result as a submitted Quality Inspection with its one reading, judged by the MES."""
        payload = posting.payload
        status = "Accepted" if payload["passed"] else "Rejected"
        reading: dict[str, Any] = {"specification": str(payload["characteristic"]), "status": status, "manual_inspection": 1}
        if payload.get("value") is not None:
            reading.update({"numeric": 1, "reading_1": str(payload["value"])})
            for limit, field in (("lower_limit", "min_value"), ("upper_limit", "max_value")):
                if payload.get(limit) is not None:
                    reading[field] = float(Decimal(str(payload[limit])))
        else:
            reading.update({"numeric": 0, "reading_value": "Ok" if payload["passed"] else "Not Ok"})
        unit = f" {payload['unit']}" if payload.get("unit") else ""
        limits = " – ".join(str(payload.get(limit) or "") for limit in ("lower_limit", "upper_limit")).strip(" –")
        document: dict[str, Any] = {
            "inspection_type": "In Process",
            "item_code": str(payload["item"]),
            "sample_size": float(_decimal(payload.get("quantity")) or 1),
            "inspected_by": self.options.get("inspected_by") or "Administrator",
            "report_date": self._local(payload.get("recorded_at")).strftime("%Y-%m-%d"),
            "manual_inspection": 1,
            "status": status,
            "readings": [reading],
            "remarks": (
                f"MES inspection result {payload.get('result_id') or posting.idempotency_key}: work order {payload['work_order']}, "
                f"operation {int(payload['operation']):04d}, sample {payload['sample_no']}, {payload['characteristic']} "
                f"{payload.get('characteristic_name') or ''}" + (f" (limits {limits}{unit})" if limits else "")
            ).strip(),
            self.key_field: posting.idempotency_key,
            self.order_field: str(payload["work_order"]),
            self.operation_field: int(payload["operation"]),
            "docstatus": 1,
        }
        if payload.get("inspector_badge"):
            document["verified_by"] = str(payload["inspector_badge"])
        if payload.get("lot") and self.options.get("use_batch_no", True):
            document["batch_no"] = str(payload["lot"])
        if payload.get("serial"):
            document["item_serial_no"] = str(payload["serial"])
        reference = posting.confirmation_ref or {}
        if reference.get("doctype") in ("Job Card", STOCK_ENTRY) and reference.get("name"):
            document["reference_type"], document["reference_name"] = reference["doctype"], str(reference["name"])
        if self.options.get("company"):
            document["company"] = self.options["company"]
        return document

    def _non_conformance(self, posting: Posting) -> dict[str, Any]:
        """A disposition as a saved (resolved) Non Conformance: what was found, what was decided and why."""
        payload = posting.payload
        defect = " ".join(str(part) for part in (payload.get("defect_code"), payload.get("defect_name")) if part)
        decided = f"{payload['disposition']} {payload['quantity']} {payload.get('unit') or ''}".strip()
        subject = f"MES NCR {payload['nonconformance']} {payload['work_order']}/{int(payload['operation']):04d}: {decided}"
        details = [f"{payload['nonconformance_qty']} {payload.get('unit') or ''} of operation {int(payload['operation']):04d} {payload.get('operation_name') or ''}".strip()]
        details += [f"{label}: {value}" for label, value in (
            ("Defect", defect), ("Description", payload.get("description")), ("Serial", payload.get("serial")), ("Lot", payload.get("lot")),
        ) if value]
        action = f"{decided}: {payload['reason']}" + (f" (approved by {payload['approved_by']})" if payload.get("approved_by") else "")
        return {
            "subject": subject[:140],
            "procedure": self.options.get("quality_procedure") or "MES Nonconformance",
            "status": "Resolved",
            "details": "\n".join(details),
            "corrective_action": action,
            self.key_field: posting.idempotency_key,
            self.order_field: str(payload["work_order"]),
            self.operation_field: int(payload["operation"]),
            "docstatus": 0,
        }

    def _stock_entry(self, posting: Posting) -> dict[str, Any]:
        payload = posting.payload
        posted = self._local(payload.get("confirmed_at"))
        document: dict[str, Any] = {
            "purpose": "Manufacture",
            "stock_entry_type": "Manufacture",
            "work_order": str(payload.get("work_order") or posting.work_order),
            "fg_completed_qty": float(_decimal(payload.get("good_qty"))),
            "process_loss_qty": float(_decimal(payload.get("scrap_qty"))),
            "posting_date": posted.strftime("%Y-%m-%d"),
            "posting_time": posted.strftime("%H:%M:%S"),
            "set_posting_time": 1,
            "remarks": self._remarks(posting),
            self.key_field: posting.idempotency_key,
            self.operation_field: int(payload["operation"]),
            "docstatus": 1,
        }
        output = [m for m in payload.get("goods_movements") or [] if str(m.get("movement_type")) == "101"]
        if output:
            document["items"] = [self._stock_row(movement, finished=True) for movement in output]
        return self._common(document, payload)

    def _common(self, document: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        if self.rework_field:
            document[self.rework_field] = float(_decimal(payload.get("rework_qty")))
        if self.options.get("company"):
            document["company"] = self.options["company"]
        return document

    def _minutes(self, payload: dict[str, Any]) -> Decimal:
        labor, machine = _decimal(payload.get("labor_minutes")), _decimal(payload.get("machine_minutes"))
        source = self.options.get("time_source", "labor")
        return {"labor": labor, "machine": machine}.get(source, max(labor, machine))

    def _local(self, iso: str | None) -> dt.datetime:
        moment = dt.datetime.fromisoformat(iso) if iso else dt.datetime.now(dt.UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(self.time_zone).replace(tzinfo=None)

    @staticmethod
    def _remarks(posting: Posting) -> str:
        payload = posting.payload
        parts = [f"MES confirmation {payload.get('confirmation_id') or posting.idempotency_key}"]
        if _decimal(payload.get("rework_qty")):
            parts.append(f"rework {payload['rework_qty']}")
        if payload.get("reason_code"):
            parts.append(f"reason {payload['reason_code']}")
        if payload.get("station"):
            parts.append(f"station {payload['station']}")
        return ", ".join(parts)

    # -- outcomes ------------------------------------------------------------------------

    def _accepted(self, document: dict[str, Any], outcome: Outcome = Outcome.ACCEPTED, *, doctype: str | None = None) -> PostResult:
        name = str(document.get("name", ""))
        return PostResult(outcome, erp_ref={"doctype": doctype or self.doctype, "name": name}, erp_document=name)

    def _is_duplicate(self, response: requests.Response) -> bool:
        if response.status_code == 409:
            return True
        if response.status_code != 417:
            return False
        body = _body(response)
        return body.get("exc_type") == "UniqueValidationError" and self.key_field in json.dumps(body)

    def _already_posted(self, posting: Posting, response: requests.Response) -> PostResult:
        doctype = self._doctype(posting)
        existing = self._by_key(posting.idempotency_key, doctype)
        if isinstance(existing, PostResult):
            # ERPNext said "already there" but could not tell us its name now: ask again later.
            return PostResult(
                Outcome.RETRYABLE, error=f"duplicate, but the look-up failed: {existing.error}", failure_kind=existing.failure_kind
            )
        if existing is None:
            return _failure(response)
        if existing.get("docstatus") == 0 and doctype not in NOT_SUBMITTABLE:
            submitted = self._call(
                "PUT", f"/api/resource/{quote(doctype)}/{quote(str(existing['name']))}", json={"docstatus": 1}
            )
            if isinstance(submitted, PostResult):
                return submitted
            if submitted.status_code != 200:
                return _failure(submitted)
            return self._accepted(_data(submitted), doctype=doctype)
        return self._accepted(existing, Outcome.DUPLICATE, doctype=doctype)

    # -- reversal ------------------------------------------------------------------------

    def _original(self, posting: Posting) -> dict[str, Any] | None | PostResult:
        """The document the reversal cancels: by the stored name, else by the original's key."""
        reference = posting.reverses_ref or {}
        doctype = reference.get("doctype") or self._doctype(posting)
        if reference.get("name"):
            response = self._call("GET", f"/api/resource/{quote(doctype)}/{quote(str(reference['name']))}")
            if isinstance(response, PostResult):
                return as_retryable(response)
            if response.status_code == 200:
                return {"doctype": doctype, **_data(response)}
            if response.status_code != 404:
                return _failure(response)
            return None
        original_key = posting.reverses_key or (posting.payload.get("reverses") or {}).get("idempotency_key")
        if not original_key:
            return PostResult(Outcome.REJECTED, error="The reversal does not say which confirmation it reverses.")
        found = self._by_key(str(original_key), doctype)
        return found if found is None or isinstance(found, PostResult) else {"doctype": doctype, **found}

    def _cancelled(self, original: dict[str, Any] | None, outcome: Outcome = Outcome.ACCEPTED) -> PostResult:
        if original is None:
            # The original is not in ERPNext (never posted, or deleted there): nothing to
            # cancel, and ERPNext already holds what the MES holds after the reversal.
            return PostResult(outcome, erp_ref={"nothing_to_cancel": True})
        name = str(original.get("name", ""))
        return PostResult(
            outcome,
            erp_ref={"doctype": original.get("doctype", self.doctype), "name": name, "cancelled": True},
            erp_document=f"{name} (cancelled)",
        )

    def _cancel(self, posting: Posting) -> PostResult:
        original = self._original(posting)
        if isinstance(original, PostResult):
            return original
        if original is None:
            return self._cancelled(None)
        if original.get("docstatus") == 2:
            return self._cancelled(original, Outcome.DUPLICATE)
        response = self._call(
            "POST",
            "/api/method/frappe.client.cancel",
            json={"doctype": original["doctype"], "name": original["name"]},
        )
        if isinstance(response, PostResult):
            return response
        if response.status_code == 200:
            return self._cancelled(original)
        if response.status_code == 417 and _exc_type(response) == "DocstatusTransitionError":
            again = self._original(posting)
            if isinstance(again, dict) and again.get("docstatus") == 2:
                return self._cancelled(again, Outcome.DUPLICATE)
        return _failure(response)

    # -- HTTP ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response | PostResult:
        try:
            return self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            result = classify_exception(error)
            return result if method != "GET" else as_retryable(result)

    def _document(self, doctype: str, name: str) -> dict[str, Any] | PostResult:
        """One document whole, child tables included."""
        response = self._call("GET", f"/api/resource/{quote(doctype)}/{quote(name, safe='')}")
        if isinstance(response, PostResult):
            return response
        if response.status_code != 200:
            return _failure(response)
        return _data(response)

    def _list(
        self, filters: list[Any], fields: list[str], doctype: str | None = None, *, order_by: str = ""
    ) -> list[dict[str, Any]] | PostResult:
        params = {"filters": json.dumps(filters), "fields": json.dumps(fields), "limit_page_length": "0"}
        if order_by:
            params["order_by"] = order_by
        response = self._call("GET", f"/api/resource/{quote(doctype or self.doctype)}", params=params)
        if isinstance(response, PostResult):
            return response
        if response.status_code != 200:
            return _failure(response)
        data = _body(response).get("data")
        if not isinstance(data, list):
            return PostResult(Outcome.RETRYABLE, error=f"ERPNext answered something unreadable: {response.text[:200]}")
        return data

    def _by_key(self, key: str, doctype: str | None = None) -> dict[str, Any] | None | PostResult:
        rows = self._list([[self.key_field, "=", key]], ["name", "docstatus"], doctype)
        if isinstance(rows, PostResult):
            return rows
        return rows[0] if rows else None


# -- helpers ----------------------------------------------------------------------------------


def _booked_with_report(posting: Posting) -> PostResult:
    confirmation = str(posting.payload.get("confirmation_id"))
    reference = posting.confirmation_ref or {}
    name = str(reference.get("name") or "")
    return PostResult(
        Outcome.ACCEPTED,
        erp_ref={"booked_with_confirmation": confirmation, **({"doctype": STOCK_ENTRY, "name": name} if name else {})},
        erp_document=name or f"confirmation {confirmation}",
    )


def _body(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, or an empty one (an HTML error page from a proxy, say)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _data(response: requests.Response) -> dict[str, Any]:
    body = _body(response)
    data = body.get("data") or body.get("message")
    return data if isinstance(data, dict) else {}


def _exc_type(response: requests.Response) -> str:
    return str(_body(response).get("exc_type") or "")


def _message(response: requests.Response) -> str:
    """ERPNext's own words: ``_server_messages`` (JSON strings inside a JSON string), else ``exception``."""
    body = _body(response) or None
    if body is None:
        text = _TAGS.sub(" ", response.text)
        return " ".join(text.split())[:500] or response.reason or ""
    messages: list[str] = []
    try:
        for item in json.loads(body.get("_server_messages") or "[]"):
            entry = json.loads(item) if isinstance(item, str) else item
            text = entry.get("message") if isinstance(entry, dict) else str(entry)
            if text:
                messages.append(" ".join(_TAGS.sub(" ", str(text)).split()))
    except (ValueError, TypeError):
        pass
    text = "; ".join(messages) or str(body.get("exception") or body.get("message") or "") or response.text[:500]
    exc_type = body.get("exc_type")
    return f"{exc_type}: {text}" if exc_type and not text.startswith(str(exc_type)) else text


def _failure(response: requests.Response) -> PostResult:
    error = f"ERPNext HTTP {response.status_code}: {_message(response)}"
    if response.status_code == 417 and _exc_type(response) in LOCK_ERRORS:
        return PostResult(Outcome.RETRYABLE, error=error, http_status=417)
    return classify_status(response, error)


def _decimal(value: Any) -> Decimal:
    if value in (None, "", False):
        return Decimal(0)
    return Decimal(str(value))


def _operation_number(value: Any, row: dict[str, Any]) -> int:
    for candidate in (value, row.get("operation")):
        try:
            return int(str(candidate))
        except (TypeError, ValueError):
            continue
    return 0


def _credentials(username: str, password: str, token: str) -> str:
    """``key:secret`` for the ``Authorization: token`` header: the token when it holds both, else user and password (or token)."""
    return token if ":" in token else f"{username}:{password or token}"


#: The statuses of a Work Order the shop floor still has to make.
PULLED_STATUSES = ("Not Started", "In Process")


def _pulled_work_order(document: dict[str, Any]) -> PulledOrder:
    """A Work Order with its child tables, in the push API's words (values as ERPNext wrote them)."""
    quantity = document.get("qty")
    rows = [row for row in document.get("operations") or [] if isinstance(row, dict)]
    sequences = {row.get("operation"): row.get("sequence_id") for row in rows}
    operations = []
    for row in rows:
        run: Any = row.get("time_in_mins")
        try:
            run = (Decimal(str(run or 0)) / Decimal(str(quantity))).quantize(Decimal("0.01"))
        except (InvalidOperation, ZeroDivisionError):
            pass
        operations.append({
            "sequence": row.get("sequence_id"), "name": str(row.get("operation") or ""), "work_center": str(row.get("workstation") or ""),
            "setup_minutes": 0, "run_minutes_per_unit": run,
        })
    components = [
        {
            "item": str(row.get("item_code") or ""), "quantity": row.get("required_qty"),
            "operation": sequences.get(row.get("operation")) if row.get("operation") else None, "backflush": False,
        }
        for row in document.get("required_items") or [] if isinstance(row, dict)
    ]
    due = document.get("expected_delivery_date") or str(document.get("planned_end_date") or "")[:10]
    return PulledOrder(
        key=str(document.get("name") or ""),
        changed_at=str(document.get("modified") or ""),
        work_order={"item": str(document.get("production_item") or ""), "quantity": quantity, "due_date": due},
        operations=operations or None,
        components=components or None,
    )
