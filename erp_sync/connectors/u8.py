"""Yonyou U8+ OpenAPI (用友 U8 开放平台): a confirmation becomes a 产成品入库单 ``productin``, consumption a 材料出库单
``materialout`` (``shared/erp/INTERFACES.md`` §5.2).

``ConnectionConfig.base_url`` is the gateway, ``https://api.yonyouup.com``; the U8 server reaches it through the
"用友开放平台客户端". Every call names the caller and the enterprise in its query: ``from_account``, ``to_account``,
``app_key`` and a ``token``.

- **Token**: ``GET /system/token?from_account&app_key&app_secret`` → ``{"token": {"id", "expiresIn"}}``, shared by
  the worker's threads and fetched again shortly before ``expiresIn`` runs out (as the yonyouup SDK's
  ``TokenManager`` does); an answer saying the token is invalid or expired renews it and repeats that call once.
  ``expiresIn`` is read as seconds (a value above a day as milliseconds, as the SDK compares it).
- **Adds**: ``POST /api/<object>/add?…&biz_id=<our key>`` (option ``idempotency`` ``biz_id``, the default: the
  gateway keeps one voucher per ``biz_id``) or ``&tradeid=<fresh from GET /system/tradeid>`` (``tradeid``: one per
  add, so a resend is a new trade) with ``{"<object>": {header…, "entry": [rows…]}}``. The add is asynchronous:
  its answer carries a ``url``; that url is polled (``poll_seconds``) until the result has the voucher's ``id`` /
  ``code`` or an error. A result that does not come in time is *unknown*: the dispatcher looks the voucher up by
  our key before anything is sent again.
- **Errors**: HTTP 200 with ``errcode`` other than "0" is an error. A token error → renewed once (above); a busy
  gateway or U8, a voucher locked by another user, an enterprise client offline → retried later; everything else
  (a closed order, a missing inventory code, a refused parameter) is a business error: permanent, dead-lettered
  with U8's own ``errmsg``. HTTP errors and network failures as for every connector.
- **Idempotency**: before any add the voucher is looked up by our key (``<object>list/batch_get`` filtered on
  ``key_field``, default ``memory``, the voucher's remark, where the key is written): found → a duplicate.

A confirmation: ``productin`` with ``warehousecode`` (``warehouse_code``), ``receivecode`` / ``departmentcode``
when set, the key, and one row: ``inventorycode`` the item, ``quantity`` the good quantity, ``mocode`` the order,
``batch`` the output lot when the report received one, the operation in ``operation_field`` (``define22``) and the
scrap in ``scrap_field`` (``define23``): 产成品入库单 has neither, so the plant names two of its custom fields.
Rework is not sent (``tracks_rework`` false). A ``goods_issue`` is a ``materialout`` with one row per movement
(``inventorycode``, ``quantity``, ``batch`` the lot, ``mocode``; ``material_warehouse_code`` if set). A
``goods_receipt`` that rode with a report is booked in that report's ``productin`` (its lot is the row's batch):
acknowledged without a call; one of its own (no report) is a ``productin`` of its movements.

With ``audit_user`` (an operator code U8 authorised for the app), every voucher is then audited (``<object>/audit``,
``voucher_code``, ``user_id``, ``agree`` 1); a voucher found by our key but not yet audited (its ``handler`` empty: an
earlier attempt stopped between the add and the audit) is audited, never added again.

Reversals: U8 keeps what it booked; a voucher is taken back by a **red voucher** (红字): the original as U8
holds it (read with ``<object>/get``), every quantity negated, naming the original's code in ``source_field``
(``define1``), under the reversal's key. Of a voucher U8 does not hold, nothing is sent. (Deleting an unaudited
voucher is possible in U8's own client, but no OpenAPI delete is documented.)

Totals: ``productinlist/batch_get`` filtered by ``mocode``, summed per ``operation_field``, red vouchers taking
their originals back; goods totals: ``materialout`` rows issued and ``productin`` rows with a batch received, per
inventory code.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

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
    decimal_or_zero,
    http_session,
    int_or_zero,
    is_reversal,
    json_answer,
    option_problems,
    plant_date,
    plant_zone,
)

PRODUCTIN, MATERIALOUT = "productin", "materialout"
IDEMPOTENCY = ("biz_id", "tradeid")
#: Token answers (invalid, expired) as the gateway words them [G: the codes are the simulator's].
TOKEN_CODES = frozenset({"20001", "20002"})
_TOKEN_WORDS = re.compile(r"token.*(无效|过期|失效|不存在|invalid|expired)", re.IGNORECASE)
#: Answers worth another try later: a lock held by another user, a busy or unreachable U8 behind the gateway.
TRANSIENT_CODES = frozenset({"30006"})
_TRANSIENT_WORDS = re.compile(r"繁忙|稍后|超时|不在线|离线|未启动|其他用户|死锁|busy|timed? ?out|try again", re.IGNORECASE)
FIELD = re.compile(r"[a-z][a-z0-9_]*")
ACCOUNT = re.compile(r"[A-Za-z0-9_.\-]+")
PAGE_SIZE = 200


class U8Connector(Connector):
    kind: ClassVar[str] = "u8"
    #: Quality records stay in the MES: the connector books U8's production documents, whose scrap
    #: quantity carries a disposition's scrap; U8's quality module is not posted to.
    not_booked: ClassVar[Mapping[str, str]] = {
        "inspection_result": "U8's quality inspection documents are not posted by this connector; the MES keeps the result.",
        "nonconformance_disposition": "Scrap and rework reached U8 with the report the disposition booked; the decision is kept in the MES.",
    }
    tracks_rework = False

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.gateway = config.base_url.rstrip("/")
        options = self.options = config.options or {}
        self.from_account = str(options.get("from_account") or "")
        self.to_account = str(options.get("to_account") or "")
        self.app_key = str(options.get("app_key") or "")
        self.app_secret = str(options.get("app_secret") or "")
        self.ds_sequence = options.get("ds_sequence")
        self.idempotency = options.get("idempotency", "biz_id")
        self.key_field = str(options.get("key_field") or "memory")
        self.operation_field = str(options.get("operation_field") or "define22")
        self.scrap_field = str(options.get("scrap_field") or "define23")
        self.source_field = str(options.get("source_field") or "define1")
        self.poll_seconds = float(options.get("poll_seconds", 10))
        self.audit_user = str(options.get("audit_user") or "")
        self.time_zone = plant_zone(options.get("time_zone"))
        self.timeout = (config.timeout_seconds, config.timeout_seconds)
        self.session = http_session()
        self.session.headers.update({"Accept": "application/json"})
        self._token_lock = threading.Lock()
        self._token = ""
        self._token_renew_at = 0.0
        self._token_generation = 0

    # -- the interface -------------------------------------------------------------------

    def post(self, posting: Posting) -> PostResult:
        if _rides_with_report(posting):
            return _booked_with_report(posting)
        name = _object(posting)
        existing = self._by_key(name, posting.idempotency_key)
        if isinstance(existing, PostResult):
            return existing
        if existing is not None:
            if self.audit_user and not existing.get("handler"):
                return self._audit(name, existing)  # added before, its audit did not happen: finish it
            return _booked(name, existing, Outcome.DUPLICATE)
        try:
            voucher = self._red_voucher(posting, name) if is_reversal(posting) else self._voucher(posting, name)
        except (KeyError, ValueError, InvalidOperation, TypeError) as error:
            return PostResult(Outcome.REJECTED, error=f"The message cannot be sent to U8: {error}")
        if isinstance(voucher, PostResult):
            return voucher
        return self._add(name, voucher, posting.idempotency_key)

    def find(self, posting: Posting) -> PostResult | None:
        if _rides_with_report(posting):
            return _booked_with_report(posting)
        name = _object(posting)
        existing = self._by_key(name, posting.idempotency_key)
        if isinstance(existing, PostResult) or existing is None:
            return existing
        if self.audit_user and not existing.get("handler"):
            return None  # added but not audited: post() finishes it rather than adding again
        return _booked(name, existing, Outcome.ACCEPTED)

    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        vouchers = self._list(PRODUCTIN, {"mocode": work_order})
        if isinstance(vouchers, PostResult):
            return vouchers
        cancelled = {str(voucher.get(self.source_field) or "") for voucher in vouchers if _is_red(voucher)}
        sums: dict[int, list[Any]] = {}
        for voucher in vouchers:
            key = str(voucher.get(self.key_field) or "")
            for row in voucher.get("entry") or []:
                if str(row.get("mocode") or "") != work_order:
                    continue
                entry = sums.setdefault(int_or_zero(row.get(self.operation_field)), [Decimal(0), Decimal(0), []])
                entry[0] += decimal_or_zero(row.get("quantity"))
                entry[1] += decimal_or_zero(row.get(self.scrap_field))
                if key and not _is_red(voucher) and voucher.get("code") not in cancelled and key not in entry[2]:
                    entry[2].append(key)
        return [
            ErpTotals(work_order, operation, good, scrap, Decimal(0), tuple(keys))
            for operation, (good, scrap, keys) in sorted(sums.items())
        ]

    def goods_totals(self, work_order: str) -> list[GoodsTotals] | PostResult:
        sums: dict[str, list[Decimal]] = {}
        for name, column in ((MATERIALOUT, 0), (PRODUCTIN, 1)):
            vouchers = self._list(name, {"mocode": work_order})
            if isinstance(vouchers, PostResult):
                return vouchers
            for voucher in vouchers:
                for row in voucher.get("entry") or []:
                    if str(row.get("mocode") or "") == work_order and (name == MATERIALOUT or row.get("batch")):
                        item = sums.setdefault(str(row.get("inventorycode") or ""), [Decimal(0), Decimal(0)])
                        item[column] += decimal_or_zero(row.get("quantity"))
        return [GoodsTotals(work_order, item, issued, received) for item, (issued, received) in sorted(sums.items())]

    def health(self) -> Health:
        started = time.monotonic()
        token = self._renew_token(force=True)
        if isinstance(token, PostResult):
            return Health(False, detail=token.error, latency_ms=int((time.monotonic() - started) * 1000))
        answer = self._call("GET", f"/api/{PRODUCTIN}list/batch_get", {"page_index": 1, "rows_per_page": 1}, read=True)
        latency = int((time.monotonic() - started) * 1000)
        if isinstance(answer, PostResult):
            return Health(False, detail=answer.error, latency_ms=latency)
        return Health(True, detail=f"token for app {self.app_key} as {self.from_account}, enterprise {self.to_account}", latency_ms=latency)

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def validate_credentials(*, username: str, password: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        """U8 takes its credentials as options (``from_account``, ``to_account``, ``app_key``, ``app_secret``); the user,
        if given, is the voucher's maker (制单人)."""
        problems: dict[str, str] = {}
        if password:
            problems["password"] = "U8 takes no password: give the option app_secret."
        if token:
            problems["token"] = "U8 takes no token: the connection fetches one with the options app_key and app_secret."
        return problems

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        problems = option_problems(options, choices={"idempotency": (IDEMPOTENCY, "biz_id")}, time_zone=True)
        examples = {"from_account": "openapi_dev", "to_account": "openapi_ent", "app_key": "opa6fdd4bea98b95ad7"}
        for name, example in examples.items():
            value = options.get(name)
            if not isinstance(value, str) or not ACCOUNT.fullmatch(value):
                problems[name] = f"Required: as the U8 open platform shows it (letters, digits, _ . -), e.g. {example}."
        secret = options.get("app_secret")
        if not isinstance(secret, str) or not secret.strip():
            problems["app_secret"] = "Required: the app secret the U8 open platform issued with the app key."
        for name in ("key_field", "operation_field", "scrap_field", "source_field"):
            value = options.get(name, "memory")
            if not isinstance(value, str) or not FIELD.fullmatch(value):
                problems[name] = "A field of the voucher, e.g. memory or define22."
        for name in ("warehouse_code", "material_warehouse_code", "receive_code", "department_code", "audit_user"):
            value = options.get(name, "")
            if not isinstance(value, (str, int)) or isinstance(value, bool) or (str(value) and not ACCOUNT.fullmatch(str(value))):
                problems[name] = "A code as U8 numbers it (letters, digits, _ . -), e.g. 01."
        sequence = options.get("ds_sequence", 1)
        if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
            problems["ds_sequence"] = "The data source's number, 1 or more."
        poll = options.get("poll_seconds", 10)
        if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not 0 < poll <= 60:
            # The dispatcher's claim on a message (ERP_SYNC_LEASE_SECONDS, 60) must outlast a send.
            problems["poll_seconds"] = "Seconds to wait for an add's result, more than 0 and at most 60."
        return problems

    # -- vouchers --------------------------------------------------------------------------

    def _header(self, name: str, key: str, date: str | None) -> dict[str, Any]:
        warehouse = self.options.get("material_warehouse_code") if name == MATERIALOUT else None
        header: dict[str, Any] = {
            "warehousecode": str(warehouse or self.options.get("warehouse_code") or "01"),
            "date": plant_date(date, self.time_zone),
            self.key_field: key,
        }
        for option, field in (("receive_code", "receivecode"), ("department_code", "departmentcode")):
            if self.options.get(option):
                header[field] = str(self.options[option])
        if self.config.username:
            header["maker"] = self.config.username
        return header

    def _voucher(self, posting: Posting, name: str) -> dict[str, Any]:
        payload = posting.payload
        order = str(payload.get("work_order") or posting.work_order)
        header = self._header(name, posting.idempotency_key, payload.get("confirmed_at") or payload.get("posted_at"))
        if posting.kind == "confirmation":
            lot = next(
                (m.get("lot") for m in payload.get("goods_movements") or [] if str(m.get("movement_type")) == "101" and m.get("lot")), None
            )
            row: dict[str, Any] = {
                "inventorycode": str(payload["item"]),
                "quantity": float(decimal_or_zero(payload.get("good_qty"))),
                "mocode": order,
                self.operation_field: str(int(payload["operation"])),
                self.scrap_field: float(decimal_or_zero(payload.get("scrap_qty"))),
            }
            if lot:
                row["batch"] = str(lot)
            return {**header, "entry": [row]}
        rows = []
        for movement in payload["movements"]:
            row = {
                "inventorycode": str(movement["item"]),
                "quantity": float(abs(Decimal(str(movement["quantity"])))),
                "mocode": order,
                self.operation_field: str(int(payload["operation"])),
            }
            if movement.get("lot"):
                row["batch"] = str(movement["lot"])
            rows.append(row)
        if not rows:
            raise ValueError("a goods message without movements")
        return {**header, "entry": rows}

    def _red_voucher(self, posting: Posting, name: str) -> dict[str, Any] | PostResult:
        """The original as U8 holds it (by the code U8 gave it, else by the original's key), every quantity negated,
        naming it in ``source_field``; of an original U8 does not hold, nothing is sent."""
        original = self._original(posting, name)
        if isinstance(original, PostResult):
            return original
        if original is None:
            return PostResult(Outcome.ACCEPTED, erp_ref={"nothing_to_cancel": True})
        header = self._header(name, posting.idempotency_key, posting.payload.get("confirmed_at") or posting.payload.get("posted_at"))
        header["warehousecode"] = str(original.get("warehousecode") or header["warehousecode"])
        header[self.source_field] = str(original["code"])
        rows = []
        for row in original.get("entry") or []:
            red = {key: row[key] for key in ("inventorycode", "mocode", "batch", self.operation_field) if row.get(key) not in (None, "")}
            red["quantity"] = float(-decimal_or_zero(row.get("quantity")))
            if name == PRODUCTIN:
                red[self.scrap_field] = float(-decimal_or_zero(row.get(self.scrap_field)))
            rows.append(red)
        return {**header, "entry": rows}

    def _original(self, posting: Posting, name: str) -> dict[str, Any] | None | PostResult:
        reference = posting.reverses_ref or {}
        if reference.get("object") == name and reference.get("code"):
            vouchers = self._list(name, {"code": reference["code"]})
            if isinstance(vouchers, PostResult):
                return vouchers
            return next((voucher for voucher in vouchers if str(voucher.get("code")) == str(reference["code"])), None)
        key = posting.reverses_key or (posting.payload.get("reverses") or {}).get("idempotency_key")
        if not key:
            return PostResult(Outcome.REJECTED, error="The reversal does not say which message it reverses.")
        return self._by_key(name, str(key))

    # -- calls ---------------------------------------------------------------------------

    def _add(self, name: str, voucher: dict[str, Any], key: str) -> PostResult:
        for attempt in (1, 2):
            params: dict[str, Any] = {}
            if self.idempotency == "tradeid":
                trade = self._call("GET", "/system/tradeid", {}, read=True, enterprise=False)
                if isinstance(trade, PostResult):
                    return trade
                params["tradeid"] = str((trade.get("trade") or {}).get("id") or "")
            else:
                params["biz_id"] = key
            answer = self._call("POST", f"/api/{name}/add", params, body={name: voucher}, renew=False)
            if isinstance(answer, PostResult):
                if answer is _TOKEN and attempt == 1:
                    continue
                return _token_lost() if answer is _TOKEN else answer
            url = str(answer.get("url") or "")
            if not url:
                return PostResult(Outcome.UNKNOWN, error=f"U8 accepted the add but named no result url: {str(answer)[:200]}")
            return self._poll(name, url)
        raise AssertionError("unreachable")

    def _poll(self, name: str, url: str) -> PostResult:
        """The add's result from its url: the voucher, U8's refusal, or unknown when it does not come in time."""
        deadline = time.monotonic() + self.poll_seconds
        pause = 0.02
        target = self._local(url)
        while True:
            try:
                response = self.session.get(target, timeout=self.timeout)
            except requests.RequestException as error:
                return PostResult(Outcome.UNKNOWN, error=f"U8 accepted the add; its result could not be read: {error}")
            if response.status_code != 200:
                return PostResult(Outcome.UNKNOWN, error=f"U8 accepted the add; its result answered HTTP {response.status_code}")
            result = _json(response)
            if not isinstance(result, dict):
                return PostResult(Outcome.UNKNOWN, error=f"U8 accepted the add; its result is unreadable: {response.text[:200]}")
            if str(result.get("errcode", "0")) != "0":
                failure = _failure(result)
                return _token_lost() if failure is _TOKEN else failure
            if result.get("id") or result.get("code"):
                voucher = {"id": str(result.get("id") or ""), "code": str(result.get("code") or result.get("id"))}
                return self._audit(name, voucher) if self.audit_user else _booked(name, voucher, Outcome.ACCEPTED)
            if time.monotonic() >= deadline:
                return PostResult(Outcome.UNKNOWN, error=f"U8 has not finished the add after {self.poll_seconds:g} s; it will be looked up")
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _audit(self, name: str, voucher: dict[str, Any]) -> PostResult:
        """``<object>/audit`` of a voucher by ``audit_user`` (U8 wants that operator authorised for the app). Refused, the
        voucher stays unaudited and the next attempt, finding it by our key, audits it."""
        body = {name: {"voucher_code": voucher["code"], "user_id": self.audit_user, "opinion": "MES", "agree": 1}}
        answer = self._call("POST", f"/api/{name}/audit", {}, body=body)
        if isinstance(answer, PostResult):
            return answer
        return _booked(name, voucher, Outcome.ACCEPTED)

    def _local(self, url: str) -> str:
        """The result url as given; a relative one is taken against the gateway."""
        return url if urlsplit(url).scheme else self.gateway + "/" + url.lstrip("/")

    def _by_key(self, name: str, key: str) -> dict[str, Any] | None | PostResult:
        vouchers = self._list(name, {self.key_field: key})
        if isinstance(vouchers, PostResult):
            return vouchers
        found = [voucher for voucher in vouchers if str(voucher.get(self.key_field) or "") == key]
        return found[0] if found else None

    def _list(self, name: str, filters: dict[str, Any]) -> list[dict[str, Any]] | PostResult:
        """Every voucher of the list the filters select, page by page, each with its rows (read one by one where the
        list gives headers only)."""
        vouchers: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self._call("GET", f"/api/{name}list/batch_get", {**filters, "page_index": page, "rows_per_page": PAGE_SIZE}, read=True)
            if isinstance(answer, PostResult):
                return answer
            chunk = answer.get(f"{name}list") or []
            if not isinstance(chunk, list):
                return PostResult(Outcome.RETRYABLE, error=f"U8 answered a list with something unreadable: {str(answer)[:200]}")
            for voucher in chunk:
                if isinstance(voucher, dict) and "entry" not in voucher and voucher.get("code"):
                    full = self._call("GET", f"/api/{name}/get", {"id": voucher["code"]}, read=True)
                    if isinstance(full, PostResult):
                        return full
                    voucher = full.get(name) or voucher
                vouchers.append(voucher)
            if page >= int(answer.get("page_count") or 1) or not chunk:
                return vouchers
            page += 1

    def _call(
        self, method: str, path: str, params: dict[str, Any], *, body: Any = None, read: bool = False,
        enterprise: bool = True, renew: bool = True,
    ) -> Any:
        """One gateway call with the token: its parsed answer, or how it failed. A token the gateway refuses is renewed
        and the call made once more (``renew``; an add is repeated by ``_add`` with a fresh trade id instead)."""
        for attempt in (1, 2):
            token = self._renew_token()
            if isinstance(token, PostResult):
                return token
            generation = self._token_generation
            query = {"from_account": self.from_account, "app_key": self.app_key, "token": token}
            if enterprise:
                query["to_account"] = self.to_account
            if self.ds_sequence:
                query["ds_sequence"] = self.ds_sequence
            answer = self._send(method, path, {**query, **params}, body=body, read=read)
            if isinstance(answer, PostResult):
                return answer
            if str(answer.get("errcode", "0")) == "0":
                return answer
            failure = _failure(answer)
            if failure is not _TOKEN:
                return failure
            self._token_lost(generation)
            if not renew:
                return _TOKEN
            if attempt == 2:
                return _token_lost()
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, params: dict[str, Any], *, body: Any, read: bool) -> Any:
        answer = json_answer(
            lambda: self.session.request(method, self.gateway + path, params=params, json=body, timeout=self.timeout),
            erp="U8", read=read,
        )
        if isinstance(answer, (PostResult, dict)):
            return answer
        error = f"U8 answered something unreadable: {str(answer)[:200]}"
        return PostResult(Outcome.RETRYABLE if read else Outcome.UNKNOWN, error=error, http_status=200)

    def _renew_token(self, *, force: bool = False) -> str | PostResult:
        """The shared token, fetched again a little before ``expiresIn`` runs out (or when ``force``)."""
        with self._token_lock:
            if self._token and not force and time.monotonic() < self._token_renew_at:
                return self._token
            params = {"from_account": self.from_account, "app_key": self.app_key, "app_secret": self.app_secret}
            answer = self._send("GET", "/system/token", params, body=None, read=True)
            if isinstance(answer, PostResult):
                return answer
            token = answer.get("token") if str(answer.get("errcode", "0")) == "0" else None
            if not isinstance(token, dict) or not token.get("id"):
                message = answer.get("errmsg") or str(answer)[:200]
                refused = f"U8 refused a token to app {self.app_key} of {self.from_account}: errcode {answer.get('errcode')} {message}"
                return PostResult(Outcome.REJECTED, error=refused, http_status=200)
            lifetime = _seconds(token.get("expiresIn"))
            self._token = str(token["id"])
            self._token_renew_at = time.monotonic() + max(lifetime - min(60.0, lifetime / 10), 0.0)
            self._token_generation += 1
            return self._token

    def _token_lost(self, generation: int) -> None:
        """Forget the token, unless another thread already fetched a new one since this call began."""
        with self._token_lock:
            if generation == self._token_generation:
                self._token = ""
                self._token_generation += 1



# -- helpers ----------------------------------------------------------------------------------

_TOKEN = PostResult(Outcome.RETRYABLE, error="U8 token refused")


def _token_lost() -> PostResult:
    return PostResult(Outcome.RETRYABLE, error="U8 refused a token it had just issued; trying again later.", http_status=200)


def _failure(answer: dict[str, Any]) -> PostResult:
    """An answer with ``errcode`` other than "0": a token error, a transient one, or a business error (permanent)."""
    code, message = str(answer.get("errcode")), str(answer.get("errmsg") or "")
    if code in TOKEN_CODES or _TOKEN_WORDS.search(message):
        return _TOKEN
    error = f"U8 errcode {code}: {message or 'no errmsg'}"[:2000]
    if code in TRANSIENT_CODES or _TRANSIENT_WORDS.search(message):
        return PostResult(Outcome.RETRYABLE, error=error, http_status=200)
    return PostResult(Outcome.REJECTED, error=error, http_status=200)


def _object(posting: Posting) -> str:
    return MATERIALOUT if posting.kind in ("goods_issue", "goods_issue_reversal") else PRODUCTIN


def _rides_with_report(posting: Posting) -> bool:
    """A receipt (or its reversal) booked with its report: in that report's productin (or its red voucher)."""
    return posting.kind in GOODS_KINDS and posting.kind.startswith("goods_receipt") and bool(posting.payload.get("confirmation_id"))


def _booked_with_report(posting: Posting) -> PostResult:
    confirmation = str(posting.payload.get("confirmation_id"))
    reference = posting.confirmation_ref or {}
    document = f"{reference['object']}/{reference['code']}" if reference.get("code") else f"confirmation {confirmation}"
    return PostResult(Outcome.ACCEPTED, erp_ref={"booked_with_confirmation": confirmation}, erp_document=document)


def _booked(name: str, voucher: dict[str, Any], outcome: Outcome) -> PostResult:
    code = str(voucher.get("code") or "")
    return PostResult(outcome, erp_ref={"object": name, "id": str(voucher.get("id") or ""), "code": code}, erp_document=f"{name}/{code}")


def _is_red(voucher: dict[str, Any]) -> bool:
    return any(decimal_or_zero(row.get("quantity")) < 0 for row in voucher.get("entry") or [])


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _seconds(value: Any) -> float:
    """``expiresIn`` as seconds: the gateway gives 7200; a value above a day is taken as milliseconds."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 7200.0
    return seconds / 1000 if seconds > 86_400 else seconds
