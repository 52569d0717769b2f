"""Kingdee K/3 Cloud (金蝶云星空) WebAPI, as far as an MES connector sees it (``shared/erp/INTERFACES.md`` §5.1).

- Every call is ``POST <site>/<Service>.common.kdsvc`` with a JSON body; the site prefix (``/k3cloud/``)
  is whatever comes before the service name. Answers are HTTP 200 even when the call failed: the
  outcome is ``Result.ResponseStatus`` ``{ErrorCode, IsSuccess, Errors[{FieldName, Message, DIndex}],
  SuccessEntitys[{Id, Number, DIndex}], SuccessMessages, MsgCode}``.
- Log in with ``Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser`` (``{"acctID", "username",
  "password", "lcid"}``, or the SDK's ``{"parameters": [acctID, username, password, lcid]}``): answered
  ``{"LoginResultType": 1, "KDSVCSessionId", "Context", "IsSuccessByAPI": true}`` with the cookie
  ``kdservice-sessionid``; a wrong user, password or account set gives ``LoginResultType`` 0 and a
  ``Message``. ``LoginByAppSecret`` (``[acctID, username, appId, appSecret, lcid]``) logs in the same way.
- Or sign each request as the official SDK does (third-party authorisation): ``X-Api-ClientID``,
  ``X-Api-Auth-Version`` 2.0, ``x-api-timestamp`` (Unix seconds; within 5 minutes of the simulator's clock),
  ``x-api-nonce``, ``x-api-signheaders``,
  ``X-Api-Signature`` (HMAC-SHA256 of ``"POST\\n" + quote(path) + "\\n\\nx-api-nonce:…\\nx-api-timestamp:…\\n"``
  with the secret decoded from the AppID, hex, then base64), ``X-Kd-Appkey`` (the AppID),
  ``X-Kd-Appdata`` (base64 of ``acctID,username,lcid,orgNumber``) and ``X-Kd-Signature`` (the same
  HMAC of AppID + appdata with the app secret). A valid signature authenticates the call and sets the
  session cookie; a bad one is refused like a lost session.
- Sessions expire after ``session_ttl_s`` without use (config) or when the control API invalidates them:
  a call then gets ``IsSuccess: false``, ``MsgCode`` 1 and "会话信息已丢失，请重新登录".
- ``DynamicFormService.Save`` ``{"formid", "data": {"Model": {...}}}`` for ``PRD_MORPT`` (生产汇报单),
  ``PRD_PickMtrl`` (生产领料单) and ``PRD_INSTOCK`` (生产入库单); a new bill is status ``A``. ``Submit`` (→ B),
  ``Audit`` (→ C), ``UnAudit`` (→ D), ``Delete`` (A, D or Z only) take ``{"formid", "data": {"Numbers": [...]}}``
  or ``"Ids": "1,2"``. Save is **not** idempotent: the same Model saved twice is two bills.
- ``ExecuteBillQuery`` ``{"data": {"FormId", "FieldKeys": "FID,FBillNo,…", "FilterString", "Limit"}}`` answers
  one row (a JSON array) per bill entry; header fields repeat on each row; ``<Field>.FNumber`` reads a
  base-data field's number. The filter understands ``F='text'``, ``F=number``, ``F in ('a','b')`` and
  ``F<>'x'`` joined by ``and``. An error comes back as ``[[{"Result": {"ResponseStatus": …}}]]``.
- The ledger: a ``post`` when a bill is saved (its key: the value of ``key_field`` — ``goods_key_field`` for
  the goods bills), a ``cancel`` when one is deleted (``cancels`` names it), and for a production report
  with negative quantities whose entries name an earlier report in ``FSrcBillNo`` a ``cancel`` of that one.
  Goods bills book stock per material and lot (``FLot.FNumber``): picked is issued, put in stock is received;
  deleting takes it back.
- Faults: a lock is ``MsgCode`` 13 (网络控制冲突, transient); a rejected order ``MsgCode`` 11 "生产订单…已结案"
  (a business error); injected 5xx are IIS error pages.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from simulators.erp.base import BadRequest, ErpFlavor, SimRequest, SimResponse, json_response, parse_decimal, plain
from simulators.erp.ledger import CANCEL, POST, Ledger
from simulators.erp.orders import number_or_text

SERVICE_PREFIX = "Kingdee.BOS.WebApi.ServicesStub."
SESSION_COOKIE = "kdservice-sessionid"
#: The key the SDKs XOR the AppID's secret part with (Java SDK; the Go and PHP ports use the same).
APP_SECRET_XOR = b"0054f397c6234378b09ca7d3e5debce7"
SIGNATURE_WINDOW_S = 5 * 60
REPORT, PICK, INSTOCK = "PRD_MORPT", "PRD_PickMtrl", "PRD_INSTOCK"
FORMS = {REPORT: "SCHB", PICK: "SCLL", INSTOCK: "SCRK"}
REPORT_BILL_TYPES = ("SCHBD01_SYS", "SCHBD02_SYS")
DELETABLE = frozenset({"A", "D", "Z"})
_COMMON_FIELDS = frozenset({
    "FID", "FBillNo", "FDocumentStatus", "FDate", "FBillType", "FCreateDate", "FEntity_FEntryID", "FEntryID",
    "FMoBillNo", "FMaterialId", "FUnitID", "FLot", "FSrcBillNo", "FDescription", "FPrdOrgId",
})
#: The fields each bill has whether or not a saved bill filled them (others: only once some bill did).
STANDARD_FIELDS = {
    REPORT: _COMMON_FIELDS | {
        "FWorkshipIdH", "FWorkshipId", "FReportType", "FFinishQty", "FQuaQty", "FFailQty", "FReworkQty", "FHrWorkTime",
        "FDescriptionE",
    },
    PICK: _COMMON_FIELDS | {"FStockOrgId", "FActualQty", "FAppQty", "FStockId"},
    INSTOCK: _COMMON_FIELDS | {"FStockOrgId", "FRealQty", "FMustQty", "FStockId", "FInStockType"},
}
SESSION_LOST = "会话信息已丢失，请重新登录"

# MsgCode values as Kingdee's WebAPI documents them.
MSG_SESSION_LOST, MSG_NO_PERMISSION, MSG_EXCEPTION, MSG_PARAMETER = 1, 2, 4, 8
MSG_NOT_FOUND, MSG_VALIDATION, MSG_NOT_OPERABLE, MSG_NETWORK_CONTROL = 10, 11, 12, 13


def hmac_hex_base64(message: str, key: str) -> str:
    """HMAC-SHA256 of ``message`` with ``key``, as hex text, then base64 (the SDKs' signature form)."""
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def decode_app_secret(encoded: str) -> str:
    """The API secret hidden in an AppID's part after ``_`` (32 base64 characters), as the SDKs decode it."""
    if len(encoded) != 32:
        return encoded
    raw = base64.b64decode(encoded)
    return base64.b64encode(bytes(byte ^ APP_SECRET_XOR[index] for index, byte in enumerate(raw))).decode()


def signature_message(path: str, nonce: str, timestamp: str) -> str:
    return f"POST\n{quote(path, safe='')}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"


class KingdeeError(Exception):
    def __init__(self, message: str, *, msg_code: int = MSG_VALIDATION, field: str = "", index: int = 0) -> None:
        super().__init__(message)
        self.message, self.msg_code, self.field, self.index = message, msg_code, field, index


class KingdeeFlavor(ErpFlavor):
    name = "kingdee"

    def __init__(
        self,
        *,
        ledger: Ledger,
        acct_id: str,
        user: str,
        password: str,
        app_id: str,
        app_secret: str,
        session_ttl_s: float = 1200.0,
        key_field: str = "FDescriptionE",
        goods_key_field: str = "FDescription",
        operation_field: str = "F_MES_OperNo",
    ) -> None:
        super().__init__(ledger=ledger)
        self.acct_id, self.user, self.password = acct_id, user, password
        self.app_id, self.app_secret = app_id, app_secret
        self.session_ttl_s = session_ttl_s
        #: Answer ``IsSuccess`` as the text "true"/"false", as some Kingdee versions do.
        self.is_success_text = False
        self.key_field, self.goods_key_field, self.operation_field = key_field, goods_key_field, operation_field
        self.reset()

    def reset(self) -> None:
        self.bills: dict[str, dict[int, dict[str, Any]]] = {form: {} for form in FORMS}
        self.numbers: dict[tuple[str, str], int] = {}
        self.sessions: dict[str, float] = {}  # session id → last use (monotonic)
        self.next_id = 100001
        self.counters = {form: 0 for form in FORMS}
        self.logins = 0
        self.sessions_lost = 0

    def flavor_counters(self) -> dict[str, int]:
        return {"kingdee_logins": self.logins, "kingdee_sessions_lost": self.sessions_lost}

    def config(self) -> dict[str, Any]:
        return {
            "is_success_text": self.is_success_text,
            "session_ttl_s": self.session_ttl_s,
            "key_field": self.key_field,
            "goods_key_field": self.goods_key_field,
            "operation_field": self.operation_field,
        }

    def _set_config(self, key: str, value: Any) -> None:
        if key == "is_success_text":
            if not isinstance(value, bool):
                raise ValueError("is_success_text must be true or false")
            self.is_success_text = value
        elif key == "session_ttl_s":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError("session_ttl_s must be a number of seconds, 0 for no expiry")
            self.session_ttl_s = float(value)
        elif not isinstance(value, str) or not re.fullmatch(r"F[A-Za-z0-9_]*", value):
            raise ValueError(f"{key} must be a field key such as FDescriptionE")
        else:
            setattr(self, key, value)

    def invalidate_sessions(self) -> None:
        self.sessions.clear()

    def unavailable(self, status: int) -> SimResponse:
        reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Service Unavailable")
        html = f"<!DOCTYPE html><html><head><title>{status} - {reason}</title></head><body><h2>{status} - {reason}</h2>" \
               "<p>Internet Information Services (IIS)</p></body></html>"
        return SimResponse(status=status, body=html.encode(), content_type="text/html")

    # -- entry point -------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        service = request.path.rsplit("/", 1)[-1]
        if request.method != "POST" or not service.startswith(SERVICE_PREFIX) or not service.endswith(".common.kdsvc"):
            return SimResponse(status=404, body=b"<h2>404 - File or directory not found.</h2>", content_type="text/html")
        operation = service[len(SERVICE_PREFIX) : -len(".common.kdsvc")]
        query = operation == "DynamicFormService.ExecuteBillQuery"
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            if operation in ("AuthService.ValidateUser", "AuthService.LoginByAppSecret"):
                return self._login(operation, body)
            cookie = self._authenticate(request)
            headers = [("Set-Cookie", f"{SESSION_COOKIE}={cookie}; path=/; HttpOnly")] if cookie else []
            response = self._route(operation, body, request)
            response.headers.extend(headers)
        except KingdeeError as error:
            response = _failure(error, wrapped=query)
        except (BadRequest, ValueError, TypeError) as error:  # a body Kingdee cannot read: a parameter error
            response = _failure(KingdeeError(f"参数错误：{error}", msg_code=MSG_PARAMETER), wrapped=query)
        if self.is_success_text:
            response.body = re.sub(rb'"IsSuccess": (true|false)', rb'"IsSuccess": "\1"', response.body)
        return response

    def _route(self, operation: str, body: dict[str, Any], request: SimRequest) -> SimResponse:
        data = body.get("data")
        if isinstance(data, str):  # the SDKs send data as a JSON text as often as an object
            try:
                data = json.loads(data)
            except json.JSONDecodeError as error:
                raise KingdeeError(f"data is not JSON: {error}", msg_code=MSG_PARAMETER) from None
        if not isinstance(data, dict):
            raise KingdeeError("data must be an object", msg_code=MSG_PARAMETER)
        if operation == "DynamicFormService.ExecuteBillQuery":
            return json_response(200, self._query(data))
        form = str(body.get("formid") or body.get("FormId") or "")
        if form not in FORMS:
            raise KingdeeError(f"业务对象“{form}”不存在", msg_code=MSG_PARAMETER)
        if operation == "DynamicFormService.Save":
            return self._save(form, data, request)
        states = {"Submit": ("A", "B"), "Audit": ("B", "C"), "UnAudit": ("C", "D"), "CancelAssign": ("B", "A")}
        name = operation.rsplit(".", 1)[-1]
        if name in states:
            return self._transition(form, data, name, *states[name], request)
        if name == "Delete":
            return self._delete(form, data, request)
        raise KingdeeError(f"服务 {operation} 未实现", msg_code=MSG_PARAMETER)

    # -- sessions ----------------------------------------------------------------------

    def _login(self, operation: str, body: dict[str, Any]) -> SimResponse:
        parameters = body.get("parameters")
        if isinstance(parameters, str):
            parameters = json.loads(parameters)
        if operation == "AuthService.ValidateUser":
            names = ("acctID", "username", "password", "lcid")
            acct, user, password, _lcid = parameters if isinstance(parameters, list) and len(parameters) == 4 else (
                body.get(name) for name in names
            )
            good = (acct, user) == (self.acct_id, self.user) and secrets.compare_digest(str(password or ""), self.password)
        else:
            acct, user, app_id, app_secret, _lcid = parameters if isinstance(parameters, list) and len(parameters) == 5 else (
                body.get(name) for name in ("acctID", "username", "appid", "appsecret", "lcid")
            )
            good = (acct, user, app_id) == (self.acct_id, self.user, self.app_id) and secrets.compare_digest(
                str(app_secret or ""), self.app_secret
            )
        if not good:
            message = "数据中心不存在" if acct != self.acct_id else "用户名或密码错误！"
            refused = {"Message": message, "LoginResultType": 0, "Context": None, "KDSVCSessionId": None, "IsSuccessByAPI": False}
            return json_response(200, refused)
        self.logins += 1
        session = self._new_session()
        answer = {
            "Message": None,
            "MessageCode": "CheckPasswordPolicy",
            "LoginResultType": 1,
            "Context": {
                "UserLocale": "zh-CN", "UserId": 100008, "UserName": self.user, "DBid": self.acct_id, "SessionId": session,
            },
            "KDSVCSessionId": session,
            "IsSuccessByAPI": True,
        }
        return json_response(200, answer, headers=[("Set-Cookie", f"{SESSION_COOKIE}={session}; path=/; HttpOnly")])

    def _new_session(self) -> str:
        session = secrets.token_hex(16)
        self.sessions[session] = time.monotonic()
        return session

    def _authenticate(self, request: SimRequest) -> str | None:
        """Nothing when the call's session is alive; a new session id when signed headers authenticate it."""
        session = request.cookies().get(SESSION_COOKIE) or request.header(SESSION_COOKIE) or ""
        last = self.sessions.get(session)
        now = time.monotonic()
        if last is not None and (not self.session_ttl_s or now - last <= self.session_ttl_s):
            self.sessions[session] = now
            return None
        self.sessions.pop(session, None)
        if request.header("X-Kd-Appkey"):
            self._check_signature(request)
            return self._new_session()
        self.sessions_lost += 1
        raise KingdeeError(SESSION_LOST, msg_code=MSG_SESSION_LOST)

    def _check_signature(self, request: SimRequest) -> None:
        header = request.header
        client_id, _, encoded = self.app_id.partition("_")
        problems = []
        if header("X-Kd-Appkey") != self.app_id or header("X-Api-ClientID") != client_id:
            problems.append("AppID")
        timestamp, nonce = header("x-api-timestamp") or "", header("x-api-nonce") or ""
        # The SDK sends Unix seconds; milliseconds are taken as well.
        moment = (int(timestamp) / (1000 if len(timestamp) > 11 else 1)) if timestamp.isdigit() else 0
        if abs(moment - time.time()) > SIGNATURE_WINDOW_S:
            problems.append("x-api-timestamp")
        expected = hmac_hex_base64(signature_message(request.raw_path, nonce, timestamp), decode_app_secret(encoded))
        if not secrets.compare_digest(header("X-Api-Signature") or "", expected):
            problems.append("X-Api-Signature")
        try:
            app_data = base64.b64decode(header("X-Kd-Appdata") or "", validate=True).decode()
            acct, user, _lcid, _org = app_data.split(",")
        except ValueError:
            app_data, acct, user = "", "", ""
        if (acct, user) != (self.acct_id, self.user):
            problems.append("X-Kd-Appdata")
        if not secrets.compare_digest(header("X-Kd-Signature") or "", hmac_hex_base64(self.app_id + app_data, self.app_secret)):
            problems.append("X-Kd-Signature")
        if problems:
            raise KingdeeError(f"授权密钥校验失败，请获取最新密钥加密 ({', '.join(problems)})", msg_code=MSG_NO_PERMISSION)

    # -- writes ------------------------------------------------------------------------

    def _save(self, form: str, data: dict[str, Any], request: SimRequest) -> SimResponse:
        model = data.get("Model")
        if not isinstance(model, dict):
            raise KingdeeError("Model 不能为空", msg_code=MSG_PARAMETER)
        if model.get("FID") not in (None, 0, "0", ""):
            raise KingdeeError("修改单据未实现：FID 必须为 0", msg_code=MSG_PARAMETER)
        entries = model.get("FEntity")
        if not isinstance(entries, list) or not entries or not all(isinstance(entry, dict) for entry in entries):
            raise KingdeeError("单据体“FEntity”至少需要一行", field="FEntity")
        orders = {str(entry.get("FMoBillNo") or "") for entry in entries}
        for order in sorted(orders):
            if not order:
                raise KingdeeError("字段“生产订单编号”是必填项", field="FMoBillNo")
            if request.lock_rolled or order in request.locked_orders:
                raise KingdeeError(f"生产订单{order}正在被其他用户操作（网络控制冲突），请稍后再试", msg_code=MSG_NETWORK_CONTROL)
            if order in request.rejected_orders:
                raise KingdeeError(f"生产订单{order}已结案，不能汇报", field="FMoBillNo")
        if form == REPORT:
            bill_type = _number(model.get("FBillType"))
            if bill_type not in REPORT_BILL_TYPES:
                raise KingdeeError(f"单据类型“{bill_type}”不存在", field="FBillType")
            for name in ("FPrdOrgId", "FWorkshipIdH"):
                if not _number(model.get(name)):
                    raise KingdeeError(f"字段“{name}”是必填项", field=name)
        elif not _number(model.get("FStockOrgId")):
            raise KingdeeError("字段“发料组织”是必填项" if form == PICK else "字段“入库组织”是必填项", field="FStockOrgId")
        rows = [self._entry(form, entry, index) for index, entry in enumerate(entries)]
        key_field = self.key_field if form == REPORT else self.goods_key_field
        key = str((rows[0] if form == REPORT else model).get(key_field) or "") or None
        cancels = self._cancelled_report(rows) if form == REPORT else None

        self.counters[form] += 1
        bill_id, number = self.next_id, f"{FORMS[form]}{self.counters[form]:08d}"
        self.next_id += 1
        header = {name: value for name, value in model.items() if name != "FEntity"}
        header.update({"FID": bill_id, "FBillNo": number, "FDocumentStatus": "A", "FCreateDate": _now()})
        bill = {"header": header, "entries": rows, "form": form, "key": key}
        self.bills[form][bill_id] = bill
        self.numbers[(form, number)] = bill_id
        self._record(bill, cancels=cancels, dropped=request.response_will_drop)
        result = {"Result": {"ResponseStatus": _status(entities=[{"Id": bill_id, "Number": number, "DIndex": 0}]),
                             "Id": bill_id, "Number": number, "NeedReturnData": [{"FBillNo": number}]}}
        return json_response(200, result, committed=True)

    def _entry(self, form: str, entry: dict[str, Any], index: int) -> dict[str, Any]:
        row = dict(entry)
        row["FEntryID"] = index + 1
        if not _number(entry.get("FMaterialId")):
            raise KingdeeError("字段“物料编码”是必填项", field="FMaterialId", index=index)
        fields = {REPORT: ("FFinishQty", "FQuaQty", "FFailQty", "FReworkQty"), PICK: ("FActualQty",), INSTOCK: ("FRealQty",)}[form]
        for name in fields:
            try:
                row[name] = parse_decimal(entry.get(name, 0))
            except ValueError:
                raise KingdeeError(f"字段“{name}”的值不是数字", field=name, index=index) from None
        if form == REPORT:
            parts = row["FQuaQty"] + row["FFailQty"] + row["FReworkQty"]
            if row["FFinishQty"] != parts:
                raise KingdeeError("完成数量必须等于合格数量、不合格数量与返工数量之和", field="FFinishQty", index=index)
            if row["FFinishQty"] < 0 and not entry.get("FSrcBillNo"):
                raise KingdeeError("完成数量不能为负数", field="FFinishQty", index=index)
        elif row[fields[0]] <= 0:
            raise KingdeeError(f"字段“{fields[0]}”必须大于0", field=fields[0], index=index)
        return row

    def _cancelled_report(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """A report with negative quantities naming an earlier report in ``FSrcBillNo`` takes that one back."""
        source = str(rows[0].get("FSrcBillNo") or "")
        if not source or rows[0]["FFinishQty"] >= 0:
            return None
        original = self.numbers.get((REPORT, source))
        if original is None:
            raise KingdeeError(f"源单“{source}”不存在", field="FSrcBillNo")
        return self.bills[REPORT][original]

    def _record(self, bill: dict[str, Any], *, cancels: dict[str, Any] | None, dropped: bool, action: str = POST) -> None:
        form, header, rows = bill["form"], bill["header"], bill["entries"]
        first = rows[0]
        sign = 1 if action == POST else -1
        movements = []
        for row in rows:
            if form == REPORT:
                continue
            item, lot = _number(row.get("FMaterialId")), _number(row.get("FLot"))
            quantity = row["FActualQty" if form == PICK else "FRealQty"]
            if form == PICK:
                self.ledger.book(item=item, batch=lot, issued=sign * quantity)
            else:
                self.ledger.book(item=item, batch=lot, received=sign * quantity)
            movements.append({"item": item, "batch": lot, "quantity": plain(quantity), "finished": form == INSTOCK})
        target = cancels if cancels is not None else (bill if action == CANCEL else None)
        self.ledger.record(
            action=CANCEL if target is not None else POST,
            document=f"{form}/{header['FBillNo']}",
            document_type=form,
            key=bill["key"] if action == POST else None,
            order=str(first.get("FMoBillNo") or ""),
            operation=str(first.get(self.operation_field) or "") or None,
            yield_qty=plain(sum((row.get("FQuaQty", Decimal(0)) for row in rows), Decimal(0))) if form == REPORT else "0",
            scrap_qty=plain(sum((row.get("FFailQty", Decimal(0)) for row in rows), Decimal(0))) if form == REPORT else "0",
            rework_qty=plain(sum((row.get("FReworkQty", Decimal(0)) for row in rows), Decimal(0))) if form == REPORT else "0",
            cancels=f"{form}/{target['header']['FBillNo']}" if target is not None else None,
            cancels_key=target["key"] if target is not None else None,
            response_dropped=dropped,
            details={"id": header["FID"], **({"movements": movements} if movements else {})},
        )

    def _targets(self, form: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        numbers = data.get("Numbers") or []
        ids = data.get("Ids") or ""
        if not isinstance(numbers, list) or not isinstance(ids, (str, int)):
            raise KingdeeError("Numbers 是数组，Ids 是以逗号分隔的文本", msg_code=MSG_PARAMETER)
        wanted = [self.numbers.get((form, str(number))) for number in numbers]
        for text in str(ids).split(","):
            if text.strip():
                wanted.append(int(text) if text.strip().isdigit() else None)
        if not wanted:
            raise KingdeeError("请指定单据编号（Numbers）或内码（Ids）", msg_code=MSG_PARAMETER)
        if any(bill_id is None or bill_id not in self.bills[form] for bill_id in wanted):
            raise KingdeeError("单据不存在或已被删除", msg_code=MSG_NOT_FOUND)
        return [self.bills[form][bill_id] for bill_id in wanted]

    def _transition(
        self, form: str, data: dict[str, Any], name: str, before: str, after: str, request: SimRequest
    ) -> SimResponse:
        bills = self._targets(form, data)
        verbs = {"Submit": "提交", "Audit": "审核", "UnAudit": "反审核", "CancelAssign": "撤销"}
        for index, bill in enumerate(bills):
            status = bill["header"]["FDocumentStatus"]
            allowed = {before} | ({"D"} if name == "Submit" else set())
            if status not in allowed:
                number = bill["header"]["FBillNo"]
                message = f"单据编号为“{number}”的单据，状态不允许{verbs[name]}！（当前状态 {status}）"
                raise KingdeeError(message, msg_code=MSG_NOT_OPERABLE, index=index)
        for bill in bills:
            bill["header"]["FDocumentStatus"] = after
        return json_response(200, {"Result": {"ResponseStatus": _status(entities=_entities(bills))}}, committed=True)

    def _delete(self, form: str, data: dict[str, Any], request: SimRequest) -> SimResponse:
        bills = self._targets(form, data)
        for index, bill in enumerate(bills):
            if bill["header"]["FDocumentStatus"] not in DELETABLE:
                number = bill["header"]["FBillNo"]
                raise KingdeeError(f"单据编号为“{number}”的单据已经提交或审核，不能删除！", msg_code=MSG_NOT_OPERABLE, index=index)
        for bill in bills:
            del self.bills[form][bill["header"]["FID"]]
            del self.numbers[(form, bill["header"]["FBillNo"])]
            self._record(bill, cancels=None, dropped=request.response_will_drop, action=CANCEL)
        return json_response(200, {"Result": {"ResponseStatus": _status(entities=_entities(bills))}}, committed=True)

    # -- read --------------------------------------------------------------------------

    def _query(self, data: dict[str, Any]) -> list[list[Any]]:
        form = str(data.get("FormId") or "")
        if form in ORDER_FORMS:
            return self._order_query(form, data)
        if form not in FORMS:
            raise KingdeeError(f"业务对象“{form}”不存在", msg_code=MSG_PARAMETER)
        keys = [key.strip() for key in str(data.get("FieldKeys") or "").split(",") if key.strip()]
        if not keys:
            raise KingdeeError("FieldKeys 不能为空", msg_code=MSG_PARAMETER)
        conditions = _filter(str(data.get("FilterString") or ""))
        rows = [
            {**bill["header"], **entry, "FEntity_FEntryID": entry["FEntryID"]}
            for bill in sorted(self.bills[form].values(), key=lambda bill: bill["header"]["FID"])
            for entry in bill["entries"]
        ]
        known = STANDARD_FIELDS[form] | {self.key_field, self.goods_key_field, self.operation_field}
        known = known.union(*(row.keys() for row in rows))
        for name in keys + [condition[0] for condition in conditions]:
            if name.split(".", 1)[0] not in known:
                raise KingdeeError(f"字段“{name}”不存在", msg_code=MSG_NOT_FOUND)
        matching = [row for row in rows if all(_test(row, condition) for condition in conditions)]
        start = int(data.get("StartRow") or 0)
        limit = int(data.get("Limit") or data.get("TopRowCount") or 0)
        matching = matching[start : start + limit] if limit else matching[start:]
        return [[_value(row, key) for key in keys] for row in matching]

    def _order_query(self, form: str, data: dict[str, Any]) -> list[list[Any]]:
        """生产订单 ``PRD_MO`` (one entry per order) and 生产用料清单 ``PRD_PPBOM`` rows of the order book
        (``simulators/erp/orders.py``), with the same FieldKeys, FilterString (``>=`` on ``FModifyDate``) and paging."""
        keys = [key.strip() for key in str(data.get("FieldKeys") or "").split(",") if key.strip()]
        if not keys:
            raise KingdeeError("FieldKeys 不能为空", msg_code=MSG_PARAMETER)
        conditions = _filter(str(data.get("FilterString") or ""))
        rows = [row for order in self.orders.changed_since(None) for row in _order_rows(form, order)]
        for name in keys + [condition[0] for condition in conditions]:
            if name.split(".", 1)[0] not in ORDER_FORMS[form]:
                raise KingdeeError(f"字段“{name}”不存在", msg_code=MSG_NOT_FOUND)
        matching = [row for row in rows if all(_test(row, condition) for condition in conditions)]
        start = int(data.get("StartRow") or 0)
        limit = int(data.get("Limit") or data.get("TopRowCount") or 0)
        matching = matching[start : start + limit] if limit else matching[start:]
        return [[_value(row, key) for key in keys] for row in matching]


#: PRD_MO's FStatus: 1 计划, 3 下达 (released), 4 开工, 5 完工, 6 结案.
MO_STATUS = {"planned": "1", "released": "3", "completed": "5", "closed": "6"}
ORDER_FORMS = {
    "PRD_MO": frozenset({"FID", "FBillNo", "FMaterialId", "FUnitId", "FQty", "FPlanStartDate", "FPlanFinishDate", "FStatus",
                         "FDocumentStatus", "FModifyDate", "FPrdOrgId", "FTreeEntity_FEntryId"}),
    "PRD_PPBOM": frozenset({"FID", "FBillNo", "FMOBillNO", "FMaterialID2", "FUnitID2", "FMustQty", "FIssueType", "FOperID",
                            "FModifyDate", "FPrdOrgId"}),
}


def _order_rows(form: str, order: dict[str, Any]) -> list[dict[str, Any]]:
    modified = order["changed_at"].strftime("%Y-%m-%dT%H:%M:%S")
    number = order["number"]
    identity = 200000 + sum(ord(character) for character in number)
    if form == "PRD_MO":
        return [{
            "FID": identity, "FBillNo": number, "FMaterialId": {"FNumber": order["item"]}, "FUnitId": {"FNumber": order.get("unit") or ""},
            "FQty": number_or_text(order["quantity"]), "FPlanStartDate": f"{order.get('start_date')}T00:00:00",
            "FPlanFinishDate": f"{order['due_date']}T00:00:00", "FStatus": MO_STATUS[order["status"]], "FDocumentStatus": "C",
            "FModifyDate": modified, "FPrdOrgId": {"FNumber": "100"}, "FTreeEntity_FEntryId": identity,
        }]
    return [
        {
            "FID": identity, "FBillNo": f"PPBOM{number}", "FMOBillNO": number, "FMaterialID2": {"FNumber": component.get("item") or ""},
            "FUnitID2": {"FNumber": component.get("unit") or ""}, "FMustQty": number_or_text(component.get("quantity")),
            "FIssueType": "2" if component.get("backflush") else "1", "FOperID": int(component["operation"]) if component.get("operation") else 0,
            "FModifyDate": modified, "FPrdOrgId": {"FNumber": "100"},
        }
        for component in order.get("components") or []
    ]


# -- helpers ---------------------------------------------------------------------------


def _status(*, entities: list[dict[str, Any]] | None = None, error: KingdeeError | None = None) -> dict[str, Any]:
    return {
        "ErrorCode": 500 if error else 0,
        "IsSuccess": error is None,
        "Errors": [{"FieldName": error.field or None, "Message": error.message, "DIndex": error.index}] if error else [],
        "SuccessEntitys": entities or [],
        "SuccessMessages": [],
        "MsgCode": error.msg_code if error else 0,
    }


def _failure(error: KingdeeError, *, wrapped: bool) -> SimResponse:
    answer: Any = {"Result": {"ResponseStatus": _status(error=error)}}
    return json_response(200, [[answer]] if wrapped else answer)


def _entities(bills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"Id": bill["header"]["FID"], "Number": bill["header"]["FBillNo"], "DIndex": index} for index, bill in enumerate(bills)
    ]


def _number(value: Any) -> str:
    """A base-data field's number: ``{"FNumber": "100"}`` (any case of the key) or the plain text."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() == "fnumber":
                return str(item or "")
        return ""
    return "" if value is None else str(value)


def _value(row: dict[str, Any], key: str) -> Any:
    name, _, sub = key.partition(".")
    value = row.get(name)
    if sub:
        return _number(value) if sub.lower() == "fnumber" else None
    if isinstance(value, dict):
        return _number(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


_CONDITION = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|=|<>|!=|\s+in\s+)\s*(\('(?:[^']|'')*'(?:\s*,\s*'(?:[^']|'')*')*\)|'(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*",
    re.IGNORECASE,
)


def _filter(text: str) -> list[tuple[str, str, list[str]]]:
    conditions = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CONDITION.fullmatch(part)
        if match is None:
            raise KingdeeError(f"过滤条件“{part}”无法解析", msg_code=MSG_PARAMETER)
        field, operator, raw = match.groups()
        values = re.findall(r"'((?:[^']|'')*)'", raw) if raw.startswith(("(", "'")) else [raw]
        conditions.append((field, operator.strip().lower(), [value.replace("''", "'") for value in values]))
    return conditions


def _test(row: dict[str, Any], condition: tuple[str, str, list[str]]) -> bool:
    field, operator, values = condition
    actual = _value(row, field)
    text = "" if actual is None else (plain(Decimal(str(actual))) if isinstance(actual, (int, float)) else str(actual))
    numeric = isinstance(actual, (int, float))
    wanted = [plain(Decimal(value)) if numeric and re.fullmatch(r"-?\d+(\.\d+)?", value) else value for value in values]
    if operator in (">=", "<="):  # dates and times, compared as Kingdee's text of them
        left, right = text.replace("T", " "), (wanted[0] if wanted else "").replace("T", " ")
        return left >= right if operator == ">=" else left <= right
    found = text in wanted
    return not found if operator in ("<>", "!=") else found


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
