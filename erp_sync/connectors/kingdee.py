"""Kingdee K/3 Cloud (金蝶云星空) WebAPI: a confirmation becomes an audited 生产汇报单 ``PRD_MORPT``.

``ConnectionConfig.base_url`` is the customer's site, e.g. ``http://host/k3cloud/``; every call is
``POST <site>Kingdee.BOS.WebApi.ServicesStub.<Service>.common.kdsvc`` with a JSON body
(``shared/erp/INTERFACES.md`` §5.1).

Access, two ways:

- **User and password**: ``AuthService.ValidateUser`` (``acctID``, ``username``, ``password``, ``lcid``) once,
  then the session cookie ``kdservice-sessionid`` on every call, shared by the worker's threads. An answer
  saying the session is lost (``MsgCode`` 1, "会话信息已丢失") logs in again and repeats that call once.
- **Signed** (a third-party app; options ``app_id`` and ``app_secret`` instead of a password): every call
  carries the headers the official SDK (``kingdee.cdp.webapi.sdk`` 8.2.0, ``WebApiClient.BuildHeader``)
  computes — ``X-Api-ClientID`` (the AppID before ``_``), ``X-Api-Auth-Version`` 2.0, ``x-api-timestamp``
  (Unix seconds), ``x-api-nonce`` (the same text), ``x-api-signheaders``,
  ``X-Api-Signature`` = base64(hex(HMAC-SHA256(secret decoded from the AppID, ``"POST\\n" + quote(path) +
  "\\n\\nx-api-nonce:…\\nx-api-timestamp:…\\n"``))), ``X-Kd-Appkey`` (the AppID), ``X-Kd-Appdata`` =
  base64(``acct_id,user,lcid,org_number``) and ``X-Kd-Signature`` = base64(hex(HMAC-SHA256(app_secret,
  AppID + appdata))); the session cookie the ERP sets is kept and sent back as well.

Answers are HTTP 200 even when a call failed: ``Result.ResponseStatus.IsSuccess`` false (a bool, or the
text "false") is an error, classified by ``MsgCode`` and the message: a lost session → log in again
(above); a network-control conflict (13), a call limit (14), a deadlock or time-out → retried later;
everything else (validation 11, not operable 12, no permission 2, unknown field …) is a business error:
permanent, dead-lettered with Kingdee's own message. HTTP errors and network failures are classified as
for every connector (``base.classify_status``, ``classify_exception``).

Idempotency: Kingdee has none of its own (Save twice = two bills), so our key goes into a field the plant
names (option ``key_field``, default ``FDescriptionE``, the report entry's remark; goods bills:
``goods_key_field``, default ``FDescription``), and every post first looks the bill up by that key with
``ExecuteBillQuery``: found and audited → a duplicate; found but not yet submitted or audited (an
earlier try stopped half-way) → the remaining Submit/Audit are done, never a second Save.

A confirmation: ``Save`` of ``PRD_MORPT`` (header ``FBillType`` = ``bill_type``, ``FPrdOrgId`` = ``org_number``,
``FWorkshipIdH`` = ``workshop_number`` or the work center; one entry: ``FMoBillNo`` the order, ``FMaterialId``
the item, ``FUnitID``, ``FFinishQty`` = good + scrap + rework, ``FQuaQty`` good, ``FFailQty`` scrap,
``FReworkQty`` rework, ``FHrWorkTime`` labour hours, the key and the operation), then ``Submit`` and ``Audit``
when ``submit_and_audit`` (default true).

A reversal, option ``reversal``:

``unaudit_delete`` (default)
    the original bill (by its stored Id, else by the original's key) is un-audited (``UnAudit``; a bill
    still in approval is taken back with ``CancelAssign``) and ``Delete``\\ d. A bill already gone counts as
    reversed.
``negative``
    a report of its own under the reversal's key with the original's quantities negated and the original's
    number in ``FSrcBillNo`` (submitted and audited like any report), for account sets that keep every
    report; the original stays.

Goods: a ``goods_issue`` is a 生产领料单 ``PRD_PickMtrl`` (``FBillType`` ``pick_bill_type``, ``FStockOrgId`` /
``FPrdOrgId`` = ``org_number``; per movement ``FMaterialId``, ``FActualQty`` = ``FAppQty``, ``FUnitID``,
``FLot`` = the lot, ``FMoBillNo``, ``FStockId`` = ``warehouse_number`` if set), a ``goods_receipt`` a 生产入库单
``PRD_INSTOCK`` (``instock_bill_type``; ``FRealQty`` = ``FMustQty``, ``FLot`` = the output lot); both saved,
submitted and audited like reports, found by ``goods_key_field``. Their reversals always un-audit and delete
that bill (in either ``reversal`` mode: a 退料单 would be a document of another kind).

Totals: ``ExecuteBillQuery`` of the order's reports summed per ``operation_field`` (a field the plant adds
to the report entry, default ``F_MES_OperNo``: 生产汇报单 has no routing operation of its own); goods totals
sum the order's pick and in-stock bills per material.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from erp_sync.connectors.base import (
    GOODS_KINDS,
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
    decimal_or_zero,
    header_value_problem,
    http_session,
    int_or_zero,
    is_reversal,
    json_answer,
    option_problems,
    plant_date,
    plant_zone,
)

SERVICES = "Kingdee.BOS.WebApi.ServicesStub."
SESSION_COOKIE = "kdservice-sessionid"
REPORT, PICK, INSTOCK = "PRD_MORPT", "PRD_PickMtrl", "PRD_INSTOCK"
GOODS_FORMS = {"goods_issue": PICK, "goods_receipt": INSTOCK, "goods_issue_reversal": PICK, "goods_receipt_reversal": INSTOCK}
REVERSALS = ("unaudit_delete", "negative")
#: What a pull reads of 生产订单 and of 生产用料清单 (``FIssueType`` 2 直接倒冲 and 4 调拨倒冲 are backflushed).
MO_KEYS = ("FBillNo", "FMaterialId.FNumber", "FQty", "FPlanFinishDate", "FModifyDate")
PPBOM_KEYS = ("FMOBillNO", "FMaterialID2.FNumber", "FMustQty", "FIssueType", "FOperID")
BACKFLUSH_ISSUE_TYPES = frozenset({"2", "4"})
#: The key the SDKs XOR an AppID's secret part with, before base64 (Java SDK; the Go and PHP ports agree).
APP_SECRET_XOR = b"0054f397c6234378b09ca7d3e5debce7"
#: Kingdee's ``MsgCode``: 1 the session (context) is lost; 13 a network-control conflict (another user holds
#: the bill); 14 too many calls. Every other code is an answer about the request itself.
SESSION_CODES = frozenset({1})
TRANSIENT_CODES = frozenset({13, 14})
_SESSION_WORDS = re.compile(r"会话.*(丢失|过期|失效)|重新登录|session.*(lost|expired|invalid)", re.IGNORECASE)
_TRANSIENT_WORDS = re.compile(r"死锁|deadlock|超时|timed? ?out|网络控制|网络互斥|稍后再试", re.IGNORECASE)
FIELD_KEY = re.compile(r"F[A-Za-z0-9_]*")
CODE = re.compile(r"[A-Za-z0-9_.\-]+")
DELETABLE = frozenset({"A", "D", "Z"})


class KingdeeConnector(Connector):
    kind: ClassVar[str] = "kingdee"
    #: Quality records stay in the MES: the connector books production reports (PRD_MORPT), whose
    #: scrap quantity carries a disposition's scrap; Kingdee's QM inspection bills are not posted.
    not_booked: ClassVar[Mapping[str, str]] = {
        "inspection_result": "Kingdee's inspection bills are not posted by this connector; the MES keeps the result.",
        "nonconformance_disposition": "Scrap and rework reached Kingdee with the report the disposition booked; the decision is kept in the MES.",
    }
    pulls_orders: ClassVar[bool] = True

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.site = config.base_url.rstrip("/") + "/"
        self.site_path = urlsplit(self.site).path or "/"
        options = self.options = config.options or {}
        self.acct_id = str(options.get("acct_id") or "")
        self.lcid = int(options.get("lcid", 2052))
        self.org_number = str(options.get("org_number") or "")
        self.workshop_number = str(options.get("workshop_number") or "")
        self.bill_type = str(options.get("bill_type") or "SCHBD02_SYS")
        self.key_field = str(options.get("key_field") or "FDescriptionE")
        self.goods_key_field = str(options.get("goods_key_field") or "FDescription")
        self.operation_field = str(options.get("operation_field", "F_MES_OperNo") or "")
        self.submit_and_audit = options.get("submit_and_audit", True) is not False
        self.reversal = options.get("reversal", "unaudit_delete")
        self.app_id = str(options.get("app_id") or "")
        self.app_secret = str(options.get("app_secret") or "")
        self.signed = bool(self.app_id and self.app_secret)
        self.time_zone = plant_zone(options.get("time_zone"))
        self.timeout = (config.timeout_seconds, config.timeout_seconds)
        self.session = http_session()
        self.session.headers.update({"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"})
        self._login_lock = threading.Lock()
        self._session_generation = 0  # bumped at each login, so threads that saw the same lost session log in once
        self._logged_in = False

    # -- the interface -------------------------------------------------------------------

    def post(self, posting: Posting) -> PostResult:
        if self._deletes(posting):
            return self._remove_original(posting)
        form = self._form(posting)
        try:
            model = self._model(posting, form)
        except (KeyError, ValueError, InvalidOperation, TypeError) as error:
            return PostResult(Outcome.REJECTED, error=f"The message cannot be sent to Kingdee: {error}")
        if isinstance(model, PostResult):
            return model
        existing = self._by_key(form, posting.idempotency_key)
        if isinstance(existing, PostResult):
            return existing
        if existing is not None:
            return self._complete(form, existing, duplicate=True)
        data = {"NeedReturnFields": ["FBillNo"], "IsDeleteEntry": "true", "Model": model}
        saved = self._call("DynamicFormService.Save", {"formid": form, "data": data})
        if isinstance(saved, PostResult):
            return saved
        result = saved.get("Result") or {}
        entity = (_status(saved).get("SuccessEntitys") or [{}])[0]
        number = str(result.get("Number") or entity.get("Number") or "")
        bill = {"id": result.get("Id") or entity.get("Id"), "number": number, "status": "A"}
        return self._complete(form, bill, duplicate=False)

    def find(self, posting: Posting) -> PostResult | None:
        if self._deletes(posting):
            original = self._original(posting)
            if isinstance(original, PostResult):
                return original
            return self._removed(posting, None, Outcome.ACCEPTED) if original is None else None
        form = self._form(posting)
        existing = self._by_key(form, posting.idempotency_key)
        if isinstance(existing, PostResult) or existing is None:
            return existing
        if self.submit_and_audit and existing["status"] != "C":
            return None  # saved but not audited: post() finishes it rather than saving again
        return self._booked(form, existing, Outcome.ACCEPTED)

    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        if not self.operation_field:
            return PostResult(Outcome.REJECTED, error="Kingdee totals per operation need the option operation_field.")
        keys = ["FID", "FBillNo", self.key_field, self.operation_field, "FQuaQty", "FFailQty", "FReworkQty", "FSrcBillNo"]
        rows = self._query(REPORT, keys, f"FMoBillNo={_text(work_order)}")
        if isinstance(rows, PostResult):
            return rows
        sums: dict[int, list[Any]] = {}
        by_number: dict[str, tuple[int, str]] = {}
        cancelled: set[str] = set()
        for _id, number, key, operation, good, scrap, rework, source in rows:
            operation = int_or_zero(operation)
            entry = sums.setdefault(operation, [Decimal(0), Decimal(0), Decimal(0), []])
            entry[0] += decimal_or_zero(good)
            entry[1] += decimal_or_zero(scrap)
            entry[2] += decimal_or_zero(rework)
            if source and decimal_or_zero(good) + decimal_or_zero(scrap) + decimal_or_zero(rework) < 0:
                cancelled.add(str(source))
            elif key:
                by_number[str(number)] = (operation, str(key))
        for number, (operation, key) in by_number.items():
            if number not in cancelled and key not in sums[operation][3]:
                sums[operation][3].append(key)
        return [
            ErpTotals(work_order, operation, good, scrap, rework, tuple(keys))
            for operation, (good, scrap, rework, keys) in sorted(sums.items())
        ]

    def goods_totals(self, work_order: str) -> list[GoodsTotals] | PostResult:
        sums: dict[str, list[Decimal]] = {}
        for form, quantity, column in ((PICK, "FActualQty", 0), (INSTOCK, "FRealQty", 1)):
            rows = self._query(form, ["FMaterialId.FNumber", quantity], f"FMoBillNo={_text(work_order)}")
            if isinstance(rows, PostResult):
                return rows
            for item, amount in rows:
                sums.setdefault(str(item or ""), [Decimal(0), Decimal(0)])[column] += decimal_or_zero(amount)
        return [GoodsTotals(work_order, item, issued, received) for item, (issued, received) in sorted(sums.items())]

    def health(self) -> Health:
        started = time.monotonic()
        if not self.signed:
            login = self._login(force=True)
            if isinstance(login, PostResult):
                return Health(False, detail=login.error, latency_ms=int((time.monotonic() - started) * 1000))
        rows = self._query(REPORT, ["FID"], "FID=0")
        latency = int((time.monotonic() - started) * 1000)
        if isinstance(rows, PostResult):
            return Health(False, detail=rows.error, latency_ms=latency)
        how = f"signed as app {self.app_id.split('_', 1)[0]}" if self.signed else "logged in"
        return Health(True, detail=f"{how} as {self.config.username} to account set {self.acct_id}", latency_ms=latency)

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def validate_credentials(*, username: str, password: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        """A user always (Kingdee names him in the login and in the signed app data), and a password or the
        options ``app_id`` and ``app_secret``; the AppID travels in a header, so Latin-1 only."""
        problems: dict[str, str] = {}
        if not username:
            problems["user"] = "Kingdee needs the user name (the login, or the user a signed app acts as)."
        if not password and not (options.get("app_id") and options.get("app_secret")):
            problems["password"] = "Give the password (ValidateUser) or the options app_id and app_secret (signed access)."
        if token:
            problems["token"] = "Kingdee takes no token: give a password, or the options app_id and app_secret."
        return problems

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        problems = option_problems(
            options, choices={"reversal": (REVERSALS, "unaudit_delete")}, flags={"submit_and_audit": True}, time_zone=True, pulls=True
        )
        acct_id = _code_text(options.get("acct_id")) or ""
        if not acct_id.strip():
            problems["acct_id"] = "Required: the account set (数据中心) id, e.g. 62e8a1f0c3b24d5e9f7a6b8c."
        elif header_value_problem(acct_id) or "," in acct_id:
            problems["acct_id"] = "Letters and digits only, as Kingdee shows it."
        lcid = options.get("lcid", 2052)
        if isinstance(lcid, bool) or not isinstance(lcid, int) or lcid <= 0:
            problems["lcid"] = "A language id such as 2052 (简体中文), 1033 (English) or 3076 (繁體中文)."
        for name in ("org_number", "workshop_number", "warehouse_number", "bill_type", "pick_bill_type", "instock_bill_type"):
            value = _code_text(options.get(name, ""))
            if value is None or (value and not CODE.fullmatch(value)):
                problems[name] = "A code as Kingdee numbers it (letters, digits, _ . -), e.g. 100 or SCHBD02_SYS."
        for name in ("key_field", "goods_key_field", "operation_field"):
            value = options.get(name, "")
            required = name != "operation_field" and name in options
            if not isinstance(value, str) or (value and not FIELD_KEY.fullmatch(value)) or (not value and required):
                problems[name] = "A field key of the bill, e.g. FDescriptionE or F_MES_OperNo."
        app_id, app_secret = options.get("app_id", ""), options.get("app_secret", "")
        if app_id or app_secret:
            if not isinstance(app_id, str) or not re.fullmatch(r"[^_\s]+_\S+", app_id) or header_value_problem(app_id):
                problems["app_id"] = "The AppID Kingdee issued for the third-party app: <client id>_<secret part>."
            if not isinstance(app_secret, str) or not app_secret:
                problems["app_secret"] = "The app secret issued with the AppID."
        return problems

    # -- bills ---------------------------------------------------------------------------

    def _deletes(self, posting: Posting) -> bool:
        """Whether the posting reverses by deleting the original: goods reversals always, reports unless ``negative``."""
        return is_reversal(posting) and (posting.kind != "reversal" or self.reversal == "unaudit_delete")

    def _form(self, posting: Posting) -> str:
        return GOODS_FORMS[posting.kind] if posting.kind in GOODS_KINDS else REPORT

    def _model(self, posting: Posting, form: str) -> dict[str, Any] | PostResult:
        if form == REPORT:
            return self._report(posting)
        payload = posting.payload
        order = str(payload.get("work_order") or posting.work_order)
        entries = [self._goods_entry(movement, order, int(payload["operation"]), form) for movement in payload["movements"]]
        if not entries:
            raise ValueError("a goods message without movements")
        bill_type = self.options.get("pick_bill_type" if form == PICK else "instock_bill_type") or (
            "SCLLD01_SYS" if form == PICK else "SCRKD02_SYS"
        )
        model: dict[str, Any] = {
            "FID": 0,
            "FBillType": {"FNUMBER": bill_type},
            "FDate": plant_date(payload.get("posted_at"), self.time_zone),
            "FStockOrgId": {"FNumber": self.org_number},
            "FPrdOrgId": {"FNumber": self.org_number},
            self.goods_key_field: posting.idempotency_key,
            "FEntity": entries,
        }
        return model

    def _goods_entry(self, movement: dict[str, Any], order: str, operation: int, form: str) -> dict[str, Any]:
        quantity = abs(Decimal(str(movement["quantity"])))
        entry: dict[str, Any] = {
            "FMaterialId": {"FNumber": str(movement["item"])},
            "FMoBillNo": order,
        }
        if form == PICK:
            entry.update({"FActualQty": float(quantity), "FAppQty": float(quantity)})
        else:
            entry.update({"FRealQty": float(quantity), "FMustQty": float(quantity), "FInStockType": "1"})
        if movement.get("unit"):
            entry["FUnitID"] = {"FNumber": str(movement["unit"])}
        if movement.get("lot"):
            entry["FLot"] = {"FNumber": str(movement["lot"])}
        if self.options.get("warehouse_number"):
            entry["FStockId"] = {"FNumber": self.options["warehouse_number"]}
        if self.operation_field:
            entry[self.operation_field] = operation
        return entry

    def _report(self, posting: Posting) -> dict[str, Any] | PostResult:
        if posting.kind == "reversal":
            return self._negative_report(posting)
        payload = posting.payload
        good, scrap, rework = (decimal_or_zero(payload.get(name)) for name in ("good_qty", "scrap_qty", "rework_qty"))
        workshop = self.workshop_number or str(payload.get("work_center") or "")
        entry: dict[str, Any] = {
            "FMoBillNo": str(payload.get("work_order") or posting.work_order),
            "FMaterialId": {"FNumber": str(payload["item"])},
            "FReportType": {"FNumber": "HBLX01_SYS"},
            "FFinishQty": float(good + scrap + rework),
            "FQuaQty": float(good),
            "FFailQty": float(scrap),
            "FReworkQty": float(rework),
            "FHrWorkTime": float((decimal_or_zero(payload.get("labor_minutes")) / 60).quantize(Decimal("0.0001"))),
            "FWorkshipId": {"FNumber": workshop},
            self.key_field: posting.idempotency_key,
        }
        if payload.get("unit"):
            entry["FUnitID"] = {"FNumber": str(payload["unit"])}
        if self.operation_field:
            entry[self.operation_field] = int(payload["operation"])
        return self._report_bill(entry, workshop=workshop, date=plant_date(payload.get("confirmed_at"), self.time_zone))

    def _negative_report(self, posting: Posting) -> dict[str, Any] | PostResult:
        """Reversal ``negative``: the original report as Kingdee holds it, every quantity negated, naming it in ``FSrcBillNo``."""
        original = self._original(posting)
        if isinstance(original, PostResult):
            return original
        if original is None:
            return self._removed(posting, None, Outcome.ACCEPTED)  # nothing in Kingdee to take back
        copied = [
            "FMoBillNo", "FMaterialId.FNumber", "FUnitID.FNumber", "FWorkshipIdH.FNumber",
            "FQuaQty", "FFailQty", "FReworkQty", "FHrWorkTime",
        ]
        rows = self._query(REPORT, copied + ([self.operation_field] if self.operation_field else []), f"FID={int(original['id'])}")
        if isinstance(rows, PostResult):
            return rows
        if not rows:
            return self._removed(posting, None, Outcome.ACCEPTED)
        order, item, unit, workshop, good, scrap, rework, hours, *operation = rows[0]
        good, scrap, rework, hours = (-decimal_or_zero(value) for value in (good, scrap, rework, hours))
        entry: dict[str, Any] = {
            "FMoBillNo": str(order),
            "FMaterialId": {"FNumber": str(item)},
            "FReportType": {"FNumber": "HBLX01_SYS"},
            "FFinishQty": float(good + scrap + rework),
            "FQuaQty": float(good),
            "FFailQty": float(scrap),
            "FReworkQty": float(rework),
            "FHrWorkTime": float(hours),
            "FWorkshipId": {"FNumber": str(workshop)},
            "FSrcBillNo": original["number"],
            self.key_field: posting.idempotency_key,
        }
        if unit:
            entry["FUnitID"] = {"FNumber": str(unit)}
        if operation:
            entry[self.operation_field] = operation[0]
        return self._report_bill(entry, workshop=str(workshop), date=plant_date(posting.payload.get("confirmed_at"), self.time_zone))

    def _report_bill(self, entry: dict[str, Any], *, workshop: str, date: str) -> dict[str, Any]:
        return {
            "FID": 0,
            "FBillType": {"FNUMBER": self.bill_type},
            "FDate": date,
            "FPrdOrgId": {"FNumber": self.org_number},
            "FWorkshipIdH": {"FNumber": workshop},
            "FEntity": [entry],
        }

    def _complete(self, form: str, bill: dict[str, Any], *, duplicate: bool) -> PostResult:
        """Submit and audit a saved bill as far as it is not yet (when configured)."""
        if self.submit_and_audit:
            steps = {"A": ("Submit", "Audit"), "D": ("Submit", "Audit"), "Z": ("Submit", "Audit"), "B": ("Audit",)}
            remaining = steps.get(bill["status"], ())
            for step in remaining:
                done = self._call(f"DynamicFormService.{step}", {"formid": form, "data": {"Numbers": [bill["number"]]}})
                if isinstance(done, PostResult):
                    return done
            if remaining:
                duplicate = False  # it was not booked as configured before; now it is
        return self._booked(form, bill, Outcome.DUPLICATE if duplicate else Outcome.ACCEPTED)

    @staticmethod
    def _booked(form: str, bill: dict[str, Any], outcome: Outcome) -> PostResult:
        return PostResult(outcome, erp_ref={"form": form, "id": bill["id"], "number": bill["number"]}, erp_document=bill["number"])

    # -- reversal by deletion ---------------------------------------------------------------

    def _original(self, posting: Posting) -> dict[str, Any] | None | PostResult:
        """The bill a reversal takes back: by its stored Id, else by the original's key."""
        reference = _own_reference(posting)
        form = str(reference.get("form") or self._form(posting))
        if not reference.get("id"):
            key = posting.reverses_key or (posting.payload.get("reverses") or {}).get("idempotency_key")
            if not key:
                return PostResult(Outcome.REJECTED, error="The reversal does not say which message it reverses.")
            return self._by_key(form, str(key))
        rows = self._query(form, ["FID", "FBillNo", "FDocumentStatus"], f"FID={int(reference['id'])}")
        return rows if isinstance(rows, PostResult) else _bill(rows, form)

    def _remove_original(self, posting: Posting) -> PostResult:
        original = self._original(posting)
        if isinstance(original, PostResult):
            return original
        if original is None:
            return self._removed(posting, None, Outcome.DUPLICATE if _own_reference(posting).get("number") else Outcome.ACCEPTED)
        form = original.get("form") or self._form(posting)
        steps = {"C": ("UnAudit",), "B": ("CancelAssign",)}.get(original["status"], ())
        if original["status"] not in DELETABLE and not steps:
            error = f"Kingdee bill {original['number']} has status {original['status']}: it cannot be deleted."
            return PostResult(Outcome.REJECTED, error=error)
        for step in (*steps, "Delete"):
            done = self._call(f"DynamicFormService.{step}", {"formid": form, "data": {"Numbers": [original["number"]]}})
            if isinstance(done, PostResult):
                return done
        return self._removed(posting, {**original, "form": form}, Outcome.ACCEPTED)

    def _removed(self, posting: Posting, original: dict[str, Any] | None, outcome: Outcome) -> PostResult:
        reference = _own_reference(posting)
        if original is None and not reference.get("number"):
            # Never in Kingdee (or deleted there by hand): Kingdee already holds what the MES holds.
            return PostResult(outcome, erp_ref={"nothing_to_cancel": True})
        source = original or reference
        form = source.get("form") or self._form(posting)
        ref = {"form": form, "id": source.get("id"), "number": source.get("number"), "deleted": True}
        return PostResult(outcome, erp_ref=ref, erp_document=f"{ref['number']} (deleted)")

    # -- pulled production orders --------------------------------------------------------

    def pull_orders(self, since: str) -> PulledOrders | PostResult:
        """生产订单 ``PRD_MO`` audited and released (``FStatus`` 3 下达 or 4 开工) with ``FModifyDate >=`` the mark,
        of the option ``org_number`` when set, then their 生产用料清单 ``PRD_PPBOM`` rows by ``FMOBillNO``. PRD_MO
        carries no routing: the item's routing in the MES stands (operations are not sent)."""
        conditions = [f"FModifyDate>={_text(since)}"] if since else []
        conditions += ["FDocumentStatus='C'", "FStatus in ('3','4')"]
        if self.org_number:
            conditions.append(f"FPrdOrgId.FNumber={_text(self.org_number)}")
        rows = self._query("PRD_MO", list(MO_KEYS), " and ".join(conditions))
        if isinstance(rows, PostResult):
            return rows
        orders: dict[str, dict[str, Any]] = {}
        mark = since
        for row in rows:
            record = dict(zip(MO_KEYS, row, strict=True))
            mark = max(mark, _stamp(record["FModifyDate"]))
            orders.setdefault(str(record["FBillNo"]), record)  # one product per order: its first entry
        components: dict[str, list[dict[str, Any]]] = {number: [] for number in orders}
        numbers = list(orders)
        for start in range(0, len(numbers), 100):
            chunk = ",".join(_text(number) for number in numbers[start : start + 100])
            lines = self._query("PRD_PPBOM", list(PPBOM_KEYS), f"FMOBillNO in ({chunk})")
            if isinstance(lines, PostResult):
                return lines
            for line in lines:
                entry = dict(zip(PPBOM_KEYS, line, strict=True))
                components.setdefault(str(entry["FMOBillNO"]), []).append({
                    "item": str(entry["FMaterialID2.FNumber"] or ""),
                    "quantity": entry["FMustQty"],
                    "operation": int_or_zero(entry["FOperID"]) or None,
                    "backflush": str(entry["FIssueType"]) in BACKFLUSH_ISSUE_TYPES,
                })
        return PulledOrders(
            [
                PulledOrder(
                    key=number,
                    changed_at=_stamp(record["FModifyDate"]),
                    work_order={
                        "item": str(record["FMaterialId.FNumber"] or ""),
                        "quantity": record["FQty"],
                        "due_date": str(record["FPlanFinishDate"] or "")[:10],
                    },
                    components=components.get(number) or None,
                )
                for number, record in orders.items()
            ],
            mark,
        )

    # -- calls ---------------------------------------------------------------------------

    def _by_key(self, form: str, key: str) -> dict[str, Any] | None | PostResult:
        field = self.key_field if form == REPORT else self.goods_key_field
        rows = self._query(form, ["FID", "FBillNo", "FDocumentStatus"], f"{field}={_text(key)}")
        return rows if isinstance(rows, PostResult) else _bill(rows, form)

    def _query(self, form: str, keys: list[str], filter_string: str) -> list[list[Any]] | PostResult:
        data = {
            "FormId": form, "FieldKeys": ",".join(keys), "FilterString": filter_string,
            "OrderString": "FID", "TopRowCount": 0, "StartRow": 0, "Limit": 0,
        }
        answer = self._call("DynamicFormService.ExecuteBillQuery", {"data": data}, read=True)
        if isinstance(answer, PostResult):
            return answer
        if not isinstance(answer, list) or not all(isinstance(row, list) and len(row) == len(keys) for row in answer):
            return PostResult(Outcome.RETRYABLE, error=f"Kingdee answered a query with something unreadable: {str(answer)[:200]}")
        return answer

    def _call(self, service: str, body: dict[str, Any], *, read: bool = False) -> Any:
        """One WebAPI call: its parsed answer, or how it failed. A lost session is renewed and the call made once more."""
        for attempt in (1, 2):
            if not self.signed:
                login = self._login()
                if isinstance(login, PostResult):
                    return login
            generation = self._session_generation
            answer = self._send(service, body, read=read)
            if isinstance(answer, PostResult):
                return answer
            status = _status(answer)
            if not status or _success(status.get("IsSuccess")):
                return answer
            failure = _business_failure(status)
            if failure is not _SESSION or attempt == 2:
                if failure is _SESSION:
                    return PostResult(Outcome.RETRYABLE, error=f"Kingdee session lost again: {_messages(status)}")
                return failure
            self._session_lost(generation)
        raise AssertionError("unreachable")

    def _send(self, service: str, body: dict[str, Any], *, read: bool) -> Any:
        path = f"{self.site_path}{SERVICES}{service}.common.kdsvc"
        url = self.site + SERVICES + service + ".common.kdsvc"
        # The SDK takes 206 (partial content) as an answer too.
        return json_answer(
            lambda: self.session.post(url, json=body, headers=self._headers(path), timeout=self.timeout),
            erp="Kingdee", read=read, answered=(200, 206),
        )

    def _login(self, *, force: bool = False) -> None | PostResult:
        with self._login_lock:
            if self._logged_in and not force:
                return None
            self.session.cookies.clear()
            body = {"acctID": self.acct_id, "username": self.config.username, "password": self.config.password, "lcid": self.lcid}
            answer = self._send("AuthService.ValidateUser", body, read=True)
            if isinstance(answer, PostResult):
                return answer
            if not isinstance(answer, dict) or answer.get("LoginResultType") not in (1, -5):
                message = answer.get("Message") if isinstance(answer, dict) else str(answer)[:200]
                refused = f"Kingdee refused the login of {self.config.username} to account set {self.acct_id}: {message}"
                return PostResult(Outcome.REJECTED, error=refused)
            if not self.session.cookies.get(SESSION_COOKIE) and answer.get("KDSVCSessionId"):
                self.session.cookies.set(SESSION_COOKIE, str(answer["KDSVCSessionId"]))
            self._logged_in = True
            self._session_generation += 1
            return None

    def _session_lost(self, generation: int) -> None:
        """Forget the session, unless another thread already logged in again since this call began."""
        with self._login_lock:
            if generation == self._session_generation:
                self._logged_in = False
                self.session.cookies.clear()
                self._session_generation += 1

    def _headers(self, path: str) -> dict[str, str]:
        """The session id as a header too (the SDK sends it both ways), and the signed headers for signed access."""
        session = self.session.cookies.get(SESSION_COOKIE)
        headers = {SESSION_COOKIE: session} if session else {}
        return {**headers, **self._signed_headers(path)} if self.signed else headers

    def _signed_headers(self, path: str) -> dict[str, str]:
        client_id, _, encoded = self.app_id.partition("_")
        timestamp = nonce = str(int(time.time()))  # seconds, and the nonce is the same text: the SDK does so
        message = f"POST\n{quote(path, safe='')}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"
        app_data = f"{self.acct_id},{self.config.username},{self.lcid},{self.org_number or 0}"
        return {
            "X-Api-ClientID": client_id,
            "X-Api-Auth-Version": "2.0",
            "x-api-timestamp": timestamp,
            "x-api-nonce": nonce,
            "x-api-signheaders": "x-api-timestamp,x-api-nonce",
            "X-Api-Signature": hmac_hex_base64(message, decode_app_secret(encoded)),
            "X-Kd-Appkey": self.app_id,
            "X-Kd-Appdata": base64.b64encode(app_data.encode()).decode(),
            "X-Kd-Signature": hmac_hex_base64(self.app_id + app_data, self.app_secret),
        }



# -- helpers ----------------------------------------------------------------------------------

_SESSION = PostResult(Outcome.RETRYABLE, error="Kingdee session lost")


def hmac_hex_base64(message: str, key: str) -> str:
    """HMAC-SHA256 as the Kingdee SDKs give it: the hex digest, then base64 of that text."""
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest().encode()).decode()


def decode_app_secret(encoded: str) -> str:
    """The API secret in an AppID's part after ``_``: base64-decoded, XORed with the SDK's key, base64 again."""
    if len(encoded) != 32:
        return encoded
    raw = base64.b64decode(encoded)
    return base64.b64encode(bytes(byte ^ APP_SECRET_XOR[index] for index, byte in enumerate(raw))).decode()


def _own_reference(posting: Posting) -> dict[str, Any]:
    """What Kingdee answered for the original (form, Id, number); nothing when another ERP acknowledged it."""
    reference = posting.reverses_ref or {}
    return reference if reference.get("form") in (REPORT, PICK, INSTOCK) else {}


def _bill(rows: list[list[Any]], form: str) -> dict[str, Any] | None:
    """The first bill of a query for ``FID, FBillNo, FDocumentStatus``, or None."""
    return {"id": rows[0][0], "number": str(rows[0][1]), "status": str(rows[0][2]), "form": form} if rows else None


def _status(answer: Any) -> dict[str, Any]:
    """``Result.ResponseStatus`` of an answer; a failed query wraps it as ``[[{"Result": …}]]``."""
    if isinstance(answer, list) and answer and isinstance(answer[0], list) and answer[0] and isinstance(answer[0][0], dict):
        answer = answer[0][0]
    if isinstance(answer, dict):
        status = (answer.get("Result") or {}).get("ResponseStatus") if isinstance(answer.get("Result"), dict) else None
        return status if isinstance(status, dict) else {}
    return {}


def _success(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _messages(status: dict[str, Any]) -> str:
    parts = []
    for error in status.get("Errors") or []:
        if isinstance(error, dict):
            field = error.get("FieldName")
            parts.append(f"{field}: {error.get('Message')}" if field else str(error.get("Message")))
    return "; ".join(parts) or "IsSuccess false without a message"


def _business_failure(status: dict[str, Any]) -> PostResult:
    """A call Kingdee answered with ``IsSuccess: false``: a lost session, a transient conflict, or a business error."""
    code = status.get("MsgCode")
    code = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
    text = _messages(status)
    if code in SESSION_CODES or _SESSION_WORDS.search(text):
        return _SESSION
    error = f"Kingdee MsgCode {code}: {text}"[:2000]
    if code in TRANSIENT_CODES or _TRANSIENT_WORDS.search(text):
        return PostResult(Outcome.RETRYABLE, error=error, http_status=200)
    return PostResult(Outcome.REJECTED, error=error, http_status=200)


def _code_text(value: Any) -> Any:
    """A code option as text: ``--option org_number=100`` arrives as the number 100. None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None if value is not None else ""
    return str(value)


def _text(value: str) -> str:
    """A text literal of a FilterString."""
    return "'" + str(value).replace("'", "''") + "'"


def _stamp(value: Any) -> str:
    """Kingdee's ``2026-12-07T10:48:00(.123)`` as a FilterString compares it: ``2026-12-07 10:48:00(.123)``."""
    return str(value or "").replace("T", " ")
