"""Yonyou U8+ OpenAPI (用友 U8 开放平台, gateway ``api.yonyouup.com``), as far as an MES connector sees it
(``shared/erp/INTERFACES.md`` §5.2). Facts from the official API centre pages (``otherout/add``,
``productin/get``, ``materialout/audit``) and the yonyouup Java SDK; what no public source shows is marked [G].

- ``GET /system/token?from_account&app_key&app_secret`` → ``{"errcode": "0", "errmsg": "", "token": {"id",
  "appKey", "expiresIn"}}`` (``expiresIn`` in seconds, ``token_ttl_s``). A token expires after that time or
  when the control API invalidates it; a call with it is then answered ``errcode`` "20002" "token无效或已过期" [G code].
- ``GET /system/tradeid?from_account&app_key&token`` → ``{"errcode": "0", "trade": {"id"}}``: one trade id per add.
- ``POST /api/<object>/add?from_account&to_account&app_key&token&tradeid=…`` (or ``&biz_id=…``, exactly one of the
  two) with ``{"<object>": {header…, "entry": [rows…]}}`` for ``productin`` (产成品入库单) and ``materialout``
  (材料出库单). The add is asynchronous: answered ``{"errcode": "0", "errmsg": "", "tradeid"|"biz_id", "url":
  "<this host>/result?requestid=…"}``; ``GET`` that url → ``{"errcode": "0", "errmsg": "", "id", "code",
  "tradeid"}`` once done (after ``async_delay_ms``), ``{"errcode": "0", "errmsg": "处理中"}`` (no ``id``) before,
  or the business error (``errcode`` other than "0") — nothing booked then [G result shape].
  A used or unknown trade id is refused ("30002"); a ``biz_id`` booked before is answered with the url of its first
  add and nothing is booked again (a refused add leaves it free) (``biz_id_dedupe`` "replay"; "off": booked again) [G exact dedupe].
- Rows: ``inventorycode``, ``quantity`` (negative in a red voucher, 红字), ``mocode`` (the production order),
  ``batch`` [G], and the plant's custom fields: ``operation_field`` (``define22``), ``scrap_field`` (``define23``).
  Header: ``warehousecode`` (required), ``date``, ``memory``, and ``key_field`` (``memory``) holds the caller's key.
  A red voucher names the voucher it takes back by its code in ``source_field`` (``define1``): the ledger has a
  ``cancel`` of that one. A red voucher naming nothing, or a voucher that does not exist, is refused.
- ``POST /api/<object>/audit`` with ``{"<object>": {"voucher_code", "user_id"|"person_code", "opinion", "agree"}}``
  sets the voucher's ``handler`` (审核人); an audited voucher cannot be audited again ("30010"). The ledger is not touched.
- ``GET /api/<object>/get?…&id=<code>`` → ``{"errcode": "0", "<object>": {…}}``; ``GET /api/<object>list/batch_get?…
  &page_index&rows_per_page`` with any header field as a filter (and ``mocode`` matching a row) →
  ``{"errcode": "0", "page_index", "rows_per_page", "row_count", "page_count", "<object>list": [vouchers with
  their "entry" rows]}``.
- Faults: a lock is answered in the result as "30006" "单据正在被其他用户操作，请稍后再试" (transient); a rejected order
  as "50001" "生产订单…已关闭，不能入库/出库" (a business error); injected 5xx are nginx pages.
- Stock: ``materialout`` rows are issued per item and batch; ``productin`` rows with a batch are received (a row
  without a batch is an operation's report without output: in the ledger, not in the stock view).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from decimal import Decimal
from typing import Any

from simulators.erp.base import BadRequest, ErpFlavor, SimRequest, SimResponse, json_response, parse_decimal, plain
from simulators.erp.ledger import CANCEL, POST, Ledger

OBJECTS = ("productin", "materialout")
CODE_TOKEN_INVALID = "20001"
CODE_TOKEN_EXPIRED = "20002"
CODE_PARAMETER = "30001"
CODE_TRADEID = "30002"
CODE_LOCKED = "30006"
CODE_NOT_FOUND = "40004"
CODE_AUDITED = "30010"
CODE_BUSINESS = "50001"
CODE_AUTH = "10002"
_FIELD = re.compile(r"[a-z][a-z0-9_]*")
RESERVED = frozenset({"from_account", "to_account", "app_key", "token", "ds_sequence", "page_index", "rows_per_page", "id"})


class U8Error(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class U8Flavor(ErpFlavor):
    name = "u8"

    def __init__(
        self,
        *,
        ledger: Ledger,
        from_account: str,
        to_account: str,
        app_key: str,
        app_secret: str,
        token_ttl_s: float = 7200.0,
        async_delay_ms: int = 30,
    ) -> None:
        super().__init__(ledger=ledger)
        self.from_account, self.to_account, self.app_key, self.app_secret = from_account, to_account, app_key, app_secret
        self.token_ttl_s = token_ttl_s
        self.async_delay_ms = async_delay_ms
        self.biz_id_dedupe = "replay"
        self.key_field, self.operation_field, self.scrap_field, self.source_field = "memory", "define22", "define23", "define1"
        self.reset()

    def reset(self) -> None:
        self.tokens: dict[str, float] = {}  # token → expiry (monotonic)
        self.tradeids: dict[str, bool] = {}  # trade id → used
        self.vouchers: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECTS}
        self.requests: dict[str, dict[str, Any]] = {}  # request id → {ready_at, result}
        self.biz_ids: dict[tuple[str, str], str] = {}
        self.counters = {"u8_tokens_issued": 0, "u8_token_refusals": 0, "u8_tradeids": 0, "u8_results_polled": 0}

    def flavor_counters(self) -> dict[str, int]:
        return dict(self.counters)

    def config(self) -> dict[str, Any]:
        return {
            "token_ttl_s": self.token_ttl_s, "async_delay_ms": self.async_delay_ms, "biz_id_dedupe": self.biz_id_dedupe,
            "key_field": self.key_field, "operation_field": self.operation_field, "scrap_field": self.scrap_field,
            "source_field": self.source_field,
        }

    def _set_config(self, key: str, value: Any) -> None:
        if key == "token_ttl_s":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError("token_ttl_s must be a positive number of seconds")
            self.token_ttl_s = float(value)
        elif key == "async_delay_ms":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60_000:
                raise ValueError("async_delay_ms must be whole milliseconds between 0 and 60000")
            self.async_delay_ms = value
        elif key == "biz_id_dedupe":
            if value not in ("replay", "off"):
                raise ValueError("biz_id_dedupe must be replay or off")
            self.biz_id_dedupe = value
        elif not isinstance(value, str) or not _FIELD.fullmatch(value):
            raise ValueError(f"{key} must be a field name such as memory or define22")
        else:
            setattr(self, key, value)

    def invalidate_sessions(self) -> None:
        self.tokens.clear()

    def unavailable(self, status: int) -> SimResponse:
        reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable"}.get(status, "Error")
        html = f"<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center>" \
               "<hr><center>nginx</center></body></html>"
        return SimResponse(status=status, body=html.encode(), content_type="text/html")

    # -- entry point -------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        path = request.path.rstrip("/")
        query = request.query
        try:
            if path == "/system/token" and request.method == "GET":
                return self._token(query)
            if path == "/system/tradeid" and request.method == "GET":
                self._check_token(query, to_account=False)
                trade = secrets.token_hex(16)
                self.tradeids[trade] = False
                self.counters["u8_tradeids"] += 1
                return _ok({"trade": {"id": trade}})
            if path == "/result" and request.method == "GET":
                return self._result(query)
            match = re.fullmatch(r"/api/([a-z]+)/(add|get|batch_get|audit)", path)
            if match is None:
                return json_response(404, {"errcode": "404", "errmsg": f"接口{path}不存在"})
            name, verb = match.groups()
            if verb == "batch_get" and name.endswith("list") and name[:-4] in OBJECTS:
                self._check_token(query)
                return self._list(name[:-4], query)
            if name not in OBJECTS or verb == "batch_get":
                return json_response(404, {"errcode": "404", "errmsg": f"接口{path}不存在"})
            self._check_token(query)
            if verb == "get":
                voucher = self.vouchers[name].get(query.get("id", ""))
                if voucher is None:
                    raise U8Error(CODE_NOT_FOUND, f"单据{query.get('id', '')}不存在")
                return _ok({name: _public(voucher)})
            if request.method != "POST":
                raise U8Error(CODE_PARAMETER, "新增、审核请使用POST")
            return self._audit(name, request) if verb == "audit" else self._add(name, query, request)
        except U8Error as error:
            return json_response(200, {"errcode": error.code, "errmsg": error.message})
        except (BadRequest, ValueError, TypeError) as error:
            return json_response(200, {"errcode": CODE_PARAMETER, "errmsg": f"参数错误：{error}"})

    # -- access ------------------------------------------------------------------------

    def _token(self, query: dict[str, str]) -> SimResponse:
        good = (query.get("from_account"), query.get("app_key")) == (self.from_account, self.app_key)
        if not good or not secrets.compare_digest(query.get("app_secret", ""), self.app_secret):
            raise U8Error(CODE_AUTH, "from_account、app_key或app_secret不正确")
        token = secrets.token_hex(16)
        self.tokens[token] = time.monotonic() + self.token_ttl_s
        self.counters["u8_tokens_issued"] += 1
        return _ok({"token": {"id": token, "appKey": self.app_key, "expiresIn": int(self.token_ttl_s)}})

    def _check_token(self, query: dict[str, str], *, to_account: bool = True) -> None:
        if (query.get("from_account"), query.get("app_key")) != (self.from_account, self.app_key):
            raise U8Error(CODE_AUTH, "from_account或app_key不正确")
        if to_account and query.get("to_account") != self.to_account:
            raise U8Error(CODE_AUTH, f"提供方{query.get('to_account', '')}未授权此应用")
        expiry = self.tokens.get(query.get("token", ""))
        if expiry is None or expiry < time.monotonic():
            self.tokens.pop(query.get("token", ""), None)
            self.counters["u8_token_refusals"] += 1
            code = CODE_TOKEN_EXPIRED if expiry is not None else CODE_TOKEN_INVALID
            raise U8Error(code, "token无效或已过期")

    # -- writes ------------------------------------------------------------------------

    def _add(self, name: str, query: dict[str, str], request: SimRequest) -> SimResponse:
        tradeid, biz_id = query.get("tradeid", ""), query.get("biz_id", "")
        if bool(tradeid) == bool(biz_id):
            raise U8Error(CODE_PARAMETER, "tradeid与biz_id只能传入一个，且必须传入一个")
        if tradeid and self.tradeids.get(tradeid, True):
            raise U8Error(CODE_TRADEID, f"tradeid {tradeid} 无效或已使用")
        if biz_id and self.biz_id_dedupe == "replay" and (name, biz_id) in self.biz_ids:
            return _ok({"biz_id": biz_id, "url": self._url(request, self.biz_ids[(name, biz_id)])})
        body = request.json()
        voucher = body.get(name) if isinstance(body, dict) else None
        if not isinstance(voucher, dict):
            raise U8Error(CODE_PARAMETER, f"请求体须为{{\"{name}\": {{…}}}}")
        rows = voucher.get("entry")
        if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
            raise U8Error(CODE_PARAMETER, "表体entry至少需要一行")
        if not str(voucher.get("warehousecode") or ""):
            raise U8Error(CODE_PARAMETER, "仓库编码warehousecode不能为空")
        if tradeid:
            self.tradeids[tradeid] = True
        request_id = secrets.token_hex(12)
        result = self._book(name, voucher, rows, request, trade=tradeid or biz_id)
        self.requests[request_id] = {"ready_at": time.monotonic() + self.async_delay_ms / 1000, "result": result}
        if biz_id and result.get("errcode") == "0":  # a refused add leaves the biz_id free for a corrected one
            self.biz_ids[(name, biz_id)] = request_id
        answer = _ok({"tradeid" if tradeid else "biz_id": tradeid or biz_id, "url": self._url(request, request_id)})
        answer.committed = result.get("errcode") == "0"
        return answer

    def _book(self, name: str, voucher: dict[str, Any], rows: list[dict[str, Any]], request: SimRequest, *, trade: str) -> dict[str, Any]:
        """Book the voucher now (or find why not): the result the caller polls for."""
        try:
            entries = [self._row(row, index) for index, row in enumerate(rows)]
            for order in sorted({row["mocode"] for row in entries}):
                if request.lock_rolled or order in request.locked_orders:
                    raise U8Error(CODE_LOCKED, f"单据正在被其他用户操作（生产订单{order}），请稍后再试")
                if order in request.rejected_orders:
                    raise U8Error(CODE_BUSINESS, f"生产订单{order}已关闭，不能{'入库' if name == 'productin' else '出库'}")
            negative = [row["quantity"] < 0 for row in entries]
            source = str(voucher.get(self.source_field) or "")
            cancels = None
            if any(negative):
                if not all(negative) or not source:
                    raise U8Error(CODE_PARAMETER, f"红字单据的数量须全为负数，并在{self.source_field}中指明原单号")
                cancels = self.vouchers[name].get(source)
                if cancels is None:
                    raise U8Error(CODE_NOT_FOUND, f"原单{source}不存在")
        except U8Error as error:
            return {"errcode": error.code, "errmsg": error.message, "tradeid": trade}
        number = len(self.vouchers[name]) + 1
        code = f"{number:010d}"
        header = {key: value for key, value in voucher.items() if key != "entry"}
        header.update({"code": code, "id": str(number), "date": str(voucher.get("date") or dt.date.today().isoformat())})
        stored = {**header, "entry": entries, "object": name}
        self.vouchers[name][code] = stored
        self._record(stored, cancels=cancels, dropped=request.response_will_drop)
        return {"errcode": "0", "errmsg": "", "id": header["id"], "code": code, "tradeid": trade}

    def _audit(self, name: str, request: SimRequest) -> SimResponse:
        body = request.json()
        order = body.get(name) if isinstance(body, dict) else None
        if not isinstance(order, dict) or not (order.get("user_id") or order.get("person_code")):
            raise U8Error(CODE_PARAMETER, f"请求体须为{{\"{name}\": {{\"voucher_code\", \"user_id\"|\"person_code\", \"agree\"}}}}")
        voucher = self.vouchers[name].get(str(order.get("voucher_code") or ""))
        if voucher is None:
            raise U8Error(CODE_NOT_FOUND, f"单据{order.get('voucher_code')}不存在")
        if voucher.get("handler"):
            raise U8Error(CODE_AUDITED, f"单据{voucher['code']}已审核")
        if str(order.get("agree", "1")) == "1":
            voucher["handler"] = str(order.get("user_id") or order.get("person_code"))
            voucher["verifydate"] = dt.date.today().isoformat()
        return _ok({})

    def _row(self, row: dict[str, Any], index: int) -> dict[str, Any]:
        entry = dict(row)
        if not str(row.get("inventorycode") or ""):
            raise U8Error(CODE_PARAMETER, f"第{index + 1}行存货编码inventorycode不能为空")
        if not str(row.get("mocode") or ""):
            raise U8Error(CODE_PARAMETER, f"第{index + 1}行生产订单号mocode不能为空")
        try:
            entry["quantity"] = parse_decimal(row.get("quantity"))
            entry[self.scrap_field] = parse_decimal(row.get(self.scrap_field) or 0)
        except ValueError:
            raise U8Error(CODE_PARAMETER, f"第{index + 1}行数量不是数字") from None
        entry["mocode"] = str(row["mocode"])
        return entry

    def _record(self, voucher: dict[str, Any], *, cancels: dict[str, Any] | None, dropped: bool) -> None:
        name, rows = voucher["object"], voucher["entry"]
        movements = []
        for row in rows:
            batch = str(row.get("batch") or "")
            if name == "materialout":
                self.ledger.book(item=str(row["inventorycode"]), batch=batch, issued=row["quantity"])
            elif batch:
                self.ledger.book(item=str(row["inventorycode"]), batch=batch, received=row["quantity"])
            else:
                continue
            movements.append(
                {"item": row["inventorycode"], "batch": batch, "quantity": plain(row["quantity"]), "finished": name == "productin"}
            )
        produced = name == "productin"
        self.ledger.record(
            action=CANCEL if cancels is not None else POST,
            document=f"{name}/{voucher['code']}",
            document_type=name,
            key=str(voucher.get(self.key_field) or "") or None,
            order=rows[0]["mocode"],
            operation=str(rows[0].get(self.operation_field) or "") or None,
            yield_qty=plain(sum((row["quantity"] for row in rows), Decimal(0))) if produced else "0",
            scrap_qty=plain(sum((row[self.scrap_field] for row in rows), Decimal(0))) if produced else "0",
            rework_qty="0",
            cancels=f"{name}/{cancels['code']}" if cancels is not None else None,
            cancels_key=str(cancels.get(self.key_field) or "") or None if cancels is not None else None,
            response_dropped=dropped,
            details={"id": voucher["id"], **({"movements": movements} if movements else {})},
        )

    # -- reads -------------------------------------------------------------------------

    def _result(self, query: dict[str, str]) -> SimResponse:
        self.counters["u8_results_polled"] += 1
        waiting = self.requests.get(query.get("requestid", ""))
        if waiting is None:
            raise U8Error(CODE_NOT_FOUND, "requestid不存在")
        if time.monotonic() < waiting["ready_at"]:
            return _ok({"errmsg": "处理中"})
        return json_response(200, waiting["result"])

    def _list(self, name: str, query: dict[str, str]) -> SimResponse:
        filters = {key: value for key, value in query.items() if key not in RESERVED}
        for key in filters:
            if not _FIELD.fullmatch(key):
                raise U8Error(CODE_PARAMETER, f"查询条件{key}无法识别")
        matching = [
            voucher for voucher in self.vouchers[name].values()
            if all(
                any(row["mocode"] == value for row in voucher["entry"]) if key == "mocode" else str(voucher.get(key) or "") == value
                for key, value in filters.items()
            )
        ]
        page, size = int(query.get("page_index") or 1), int(query.get("rows_per_page") or 20)
        if page < 1 or not 1 <= size <= 200:
            raise U8Error(CODE_PARAMETER, "page_index须≥1，rows_per_page须在1到200之间")
        chunk = matching[(page - 1) * size : page * size]
        return _ok({
            "page_index": page, "rows_per_page": size, "row_count": len(matching),
            "page_count": (len(matching) + size - 1) // size, f"{name}list": [_public(voucher) for voucher in chunk],
        })

    @staticmethod
    def _url(request: SimRequest, request_id: str) -> str:
        return f"http://{request.header('Host') or '127.0.0.1'}/result?requestid={request_id}"


def _ok(payload: dict[str, Any]) -> SimResponse:
    return json_response(200, {"errcode": "0", "errmsg": "", **payload})


def _public(voucher: dict[str, Any]) -> dict[str, Any]:
    """A voucher as the gateway answers it: quantities as numbers, without our bookkeeping."""
    rows = [{key: float(value) if isinstance(value, Decimal) else value for key, value in row.items()} for row in voucher["entry"]]
    return {**{key: value for key, value in voucher.items() if key not in ("entry", "object")}, "entry": rows}
