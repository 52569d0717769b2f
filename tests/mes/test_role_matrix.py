"""The whole role matrix: every page and API action, asked by each of the six roles, by a
visitor who is not signed in and by a station, is allowed exactly when the capability table in
``common.roles`` says so; a refused request changes nothing.

``ACTIONS`` names, for every URL of the URLconf and every HTTP method it answers, the capability it
needs (a page's POST action also the one of its API twin). A URL or method without an entry fails
``test_every_url_and_method_has_an_entry``, so a new endpoint cannot slip past this test.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from common.roles import CAPABILITIES, Role, roles_for, roles_table
from erp_sync.models import ErpConnection, OutboxMessage
from mes.models import Event
from mes.services.accounts import api_token_create
from shopfloor.models import DeviceMapping, Station
from shopfloor.station.access import COOKIE
from shopfloor.station.services import station_create
from tests.factories import WorkOrderFactory
from tests.helpers import confirm, dead_message, snapshot

PUBLIC = "public"  # anyone, signed in or not, station or not
SIGNED_IN = "signed in"  # any signed-in person, whatever the role
STATION = "station"  # a station's credential only (the cookie), no role
ANONYMOUS = "anonymous"
CALLERS = (*Role.values, ANONYMOUS, STATION)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Action:
    """One request: a URL (by name), a method, what it sends, and what it needs."""

    url: str
    method: str
    needs: tuple[str, ...]  # capabilities (all needed), or one of PUBLIC, SIGNED_IN, STATION
    kwargs: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    action: str = ""  # the page form's "action" (sent in data), for the test id
    station: bool = False  # a station may also do it
    twin: str = ""  # the API action (url name) a page POST must match

    @property
    def is_api(self) -> bool:
        return self.url.startswith("api-") and self.url not in {"api-schema", "api-docs", "api-redoc"}

    @property
    def id(self) -> str:
        return " ".join(part for part in (self.method, self.url, self.action) if part)

    def allowed(self) -> frozenset[str]:
        """The callers the capability table lets through."""
        if self.needs == (PUBLIC,):
            return frozenset(CALLERS)
        if self.needs == (SIGNED_IN,):
            return frozenset(Role.values)
        if self.needs == (STATION,):
            return frozenset({STATION})
        roles = frozenset(Role.values)
        for capability in self.needs:
            roles &= roles_for(capability)
        return roles | ({STATION} if self.station else frozenset())


ORDER = "WO-1001"
NUMBER = {"number": ORDER}
KEY = {"key": ORDER}
MESSAGE = {"message_id": 0}  # replaced by the dead message's id
OPERATION = {"number": ORDER, "sequence": 10}
LOT = {"item_code": "TUBE-20", "lot_code": "L-1"}
MOVEMENT = {"movement_id": str(uuid.UUID(int=1))}
ANDON = {"call_id": str(uuid.UUID(int=1))}


def _resource(name: str, key: str) -> list[Action]:
    needs = ("work_order.write",) if name == "work-orders" else ("master_data.write",)
    return [
        Action(f"api-{name}", "GET", ("api.read",), {"key": key}),
        Action(f"api-{name}", "PUT", needs, {"key": key}, {}),
        Action(f"api-{name}-bulk", "POST", needs, data={"records": []}),
    ]


ACTIONS: list[Action] = [
    # --- open to everyone --------------------------------------------------------------------
    Action("home", "GET", (PUBLIC,)),
    Action("health", "GET", (PUBLIC,)),
    Action("favicon", "GET", (PUBLIC,)),
    Action("set_language", "GET", (PUBLIC,)),
    Action("set_language", "POST", (PUBLIC,), data={"language": "en", "next": "/"}),
    Action("login", "GET", (PUBLIC,)),
    Action("login", "POST", (PUBLIC,), data={"username": "nobody", "password": "wrong"}),
    Action("logout", "POST", (PUBLIC,)),
    Action("password_reset", "GET", (PUBLIC,)),
    Action("password_reset", "POST", (PUBLIC,), data={"email": "nobody@example.com"}),
    Action("password_reset_done", "GET", (PUBLIC,)),
    Action("password_reset_confirm", "GET", (PUBLIC,), {"uidb64": "MQ", "token": "set-password"}),
    Action("password_reset_confirm", "POST", (PUBLIC,), {"uidb64": "MQ", "token": "set-password"}, {}),
    Action("password_reset_complete", "GET", (PUBLIC,)),
    Action("password_change", "GET", (SIGNED_IN,)),
    Action("password_change", "POST", (SIGNED_IN,), data={"old_password": "wrong"}),
    Action("password_change_done", "GET", (SIGNED_IN,)),
    Action("api-schema", "GET", (PUBLIC,)),
    Action("api-docs", "GET", (PUBLIC,)),
    Action("api-redoc", "GET", (PUBLIC,)),
    Action("station-welcome", "GET", (PUBLIC,)),
    Action("station-service-worker", "GET", (PUBLIC,)),
    Action("station-link", "GET", (PUBLIC,), {"secret": "no-such-link"}),
    Action("station-link", "POST", (PUBLIC,), {"secret": "no-such-link"}, {}),
    # --- the administration ------------------------------------------------------------------
    Action("admin:index", "GET", ("admin.site",)),
    Action("admin:shopfloor_devicemapping_add", "GET", ("admin.site", "device_mapping.write")),
    # --- people's pages ----------------------------------------------------------------------
    Action("board", "GET", ("board.view",)),
    Action("andon", "GET", ("board.view",)),
    Action("andon", "POST", ("board.view", "andon.handle"), data={"call": str(uuid.UUID(int=1)), "action": "acknowledge"}, twin="api-andon-acknowledge"),
    Action("planning", "GET", ("planning.view",)),
    Action("planning-load", "GET", ("planning.view",)),
    Action("planning-gantt", "GET", ("planning.view",)),
    Action("reports-labor", "GET", ("labor_report.view",)),
    Action("planning", "POST", ("planning.view", "work_order.release"), data={"action": "release", "numbers": ["WO-7000"]},
           action="release", twin="api-work-order-release"),
    *[
        Action("planning-order", "POST", ("work_order.view", f"work_order.{name}"), NUMBER, {"action": name, "reason": "matrix"},
               action=name, twin=f"api-work-order-{name}")
        for name in ("release", "pause", "resume", "cancel", "close")
    ],
    Action("planning-order", "GET", ("work_order.view",), NUMBER),
    Action("planning-traveler", "GET", ("planning.view",), NUMBER),
    Action("quality", "GET", ("quality.view",)),
    Action("quality", "POST", ("quality.view", "hold.manage"), data={"hold": "999999", "reason": "matrix"}, twin="api-hold-release"),
    Action("quality-ncr", "GET", ("quality.view",), {"nonconformance_id": 999999}),
    Action("quality-ncr", "POST", ("quality.view", "nonconformance.disposition"), {"nonconformance_id": 999999},
           {"action": "disposition", "disposition": "scrap", "reason": "matrix"}, action="disposition", twin="api-nonconformance-disposition"),
    Action("quality-ncr", "POST", ("quality.view", "nonconformance.disposition"), {"nonconformance_id": 999999},
           {"action": "close"}, action="close", twin="api-nonconformance-close"),
    Action("quality-spc", "GET", ("quality.view",), {"item_code": "FRAME-100", "sequence": 10, "characteristic": "NOPE"}),
    Action("trace", "GET", ("trace.view",)),
    Action("trace-report", "GET", ("trace.view",)),
    Action("oee-overview", "GET", ("oee.view",)),
    Action("report-daily", "GET", ("report.view",)),
    Action("oee-detail", "GET", ("oee.view",), {"code": "PRESS-1"}),
    Action("unassigned-production", "GET", ("unassigned_production.resolve",)),
    Action("unassigned-production", "POST", ("unassigned_production.resolve",), data={"action": "dismiss", "row": "999999", "reason": "x"},
           action="dismiss"),
    Action("sync-health", "GET", ("erp_sync.view",)),
    Action("sync-message", "GET", ("erp_sync.view",), MESSAGE),
    Action("sync-messages", "GET", ("erp_sync.view",)),
    Action("sync-pulls", "GET", ("erp_sync.view",)),
    Action("sync-dead-letters", "GET", ("erp_sync.view",)),
    Action("sync-dead-letters", "POST", ("erp_sync.view", "erp_sync.resolve"), data={"action": "replay", "reason": "fixed"},
           action="replay", twin="api-sync-messages-replay"),
    Action("sync-dead-letters", "POST", ("erp_sync.view", "erp_sync.resolve"), data={"action": "discard", "reason": "booked by hand"},
           action="discard", twin="api-sync-message-discard"),
    Action("sync-reconciliation", "GET", ("erp_sync.view",)),
    Action("sync-reconciliation", "POST", ("erp_sync.view", "erp_sync.resolve"), data={"action": "repair", "reason": "x"},
           action="repair", twin="api-sync-drift-repair"),
    Action("metrics", "GET", ("metrics.read",)),
    # --- the station -------------------------------------------------------------------------
    Action("station", "GET", (STATION,)),
    Action("station-setup", "GET", ("station.manage",)),
    Action("station-setup", "POST", ("station.manage",), data={"action": "revoke", "station": "999999"}, action="revoke"),
    Action("station-sheet", "GET", ("station.manage",), station=True),
    Action("station-badge-cards", "GET", ("station.manage",)),
    Action("station-traveler", "GET", ("station.manage",), NUMBER, station=True),
    Action("station-api-sign-in", "POST", (STATION,), data={}),
    Action("station-api-operation", "GET", (STATION,)),
    Action("station-api-report", "POST", (STATION,), data={}),
    Action("station-api-start", "POST", (STATION,), data={}),
    Action("station-api-pause", "POST", (STATION,), data={}),
    Action("station-api-downtime", "POST", (STATION,), data={}),
    Action("station-api-issue", "POST", (STATION,), data={}),
    Action("station-api-issue-approve", "POST", (STATION,), data={}),
    Action("station-api-clock-off", "POST", (STATION,), data={}),
    Action("station-api-andon", "POST", (STATION,), data={}),
    Action("station-api-inspection", "POST", (STATION,), data={}),
    Action("station-api-my-reports", "POST", (STATION,), data={}),
    Action("station-api-correct", "POST", (STATION,), data={}),
    Action("station-instruction", "GET", ("api.read",), {"document_id": 999999}, station=True),
    # --- the API -----------------------------------------------------------------------------
    *_resource("items", "FRAME-100"),
    *_resource("work-centers", "WC-CUT"),
    *_resource("equipment", "PRESS-1"),
    *_resource("employees", "B-1001"),
    *_resource("reason-codes", "SCRAP-01"),
    *_resource("boms", "FRAME-100"),
    *_resource("routings", "FRAME-100"),
    *_resource("work-orders", ORDER),
    *[Action(f"api-work-order-{name}", "POST", (f"work_order.{name}",), KEY, {}) for name in ("release", "pause", "resume", "cancel", "close")],
    Action("api-confirmations", "POST", ("confirmation.report",), data={}),
    Action("api-confirmations-bulk", "POST", ("confirmation.report",), data={"confirmations": []}),
    Action("api-confirmation", "GET", ("api.read",), {"confirmation_id": str(uuid.UUID(int=1))}),
    Action("api-confirmation-reverse", "POST", ("confirmation.reverse",), {"confirmation_id": str(uuid.UUID(int=1))}, {}),
    Action("api-lot", "GET", ("api.read",), LOT),
    Action("api-lot", "PUT", ("lot.write",), LOT, {}),
    Action("api-lots-bulk", "POST", ("lot.write",), data={"lots": []}),
    Action("api-material-issues", "POST", ("material.issue",), data={}),
    Action("api-material-issue", "GET", ("api.read",), MOVEMENT),
    Action("api-material-issue-approve", "POST", ("material.approve",), MOVEMENT, {}),
    Action("api-material-issue-reject", "POST", ("material.approve",), MOVEMENT, {}),
    Action("api-material-issue-reverse", "POST", ("material.reverse",), MOVEMENT, {}),
    Action("api-erp-connections", "GET", ("erp_connection.manage",)),
    Action("api-erp-mapping-preview", "POST", ("erp_connection.manage",), data={}),
    Action("api-erp-connection", "GET", ("erp_connection.manage",), {"name": "no-such-erp"}),
    Action("api-erp-connection", "PUT", ("erp_connection.manage",), {"name": "matrix-erp"}, {"kind": "sap", "url": "http://127.0.0.1:9/sap"}),
    Action("api-erp-connection-test", "POST", ("erp_connection.manage",), {"name": "no-such-erp"}),
    Action("api-event-destinations", "GET", ("erp_connection.manage",)),
    Action("api-event-destination", "GET", ("erp_connection.manage",), {"name": "no-such-destination"}),
    Action("api-event-destination", "PUT", ("erp_connection.manage",), {"name": "matrix-destination"}, {"url": "mqtt://127.0.0.1:9"}),
    Action("api-event-destination", "DELETE", ("erp_connection.manage",), {"name": "no-such-destination"}),
    Action("api-event-destination-enable", "POST", ("erp_connection.manage",), {"name": "no-such-destination"}, {"is_enabled": False}),
    Action("api-event-destination-test", "POST", ("erp_connection.manage",), {"name": "no-such-destination"}),
    Action("api-sync-health", "GET", ("api.read",)),
    Action("api-b2mml-operations-schedule", "POST", ("work_order.write",), data={}),
    Action("api-sync-drifts", "GET", ("api.read",)),
    Action("api-sync-drift-repair", "POST", ("erp_sync.resolve",), {"drift_id": 999999}, {"reason": "x"}),
    Action("api-sync-messages", "GET", ("api.read",)),
    Action("api-sync-pulls", "GET", ("api.read",)),
    Action("api-sync-messages-replay", "POST", ("erp_sync.resolve",), data={"ids": [], "reason": "x"}),
    Action("api-sync-message", "GET", ("api.read",), MESSAGE),
    Action("api-sync-message-replay", "POST", ("erp_sync.resolve",), MESSAGE, {"reason": "fixed"}),
    Action("api-sync-message-discard", "POST", ("erp_sync.resolve",), MESSAGE, {"reason": "booked by hand"}),
    Action("api-equipment-signals", "GET", ("api.read",), {"code": "PRESS-1"}),
    Action("api-equipment-signals", "PUT", ("device_mapping.write",), {"code": "PRESS-1"},
           {"protocol": "modbus", "host": "127.0.0.1", "port": 5020, "signals": {"good_count": {"register": 0}}}),
    Action("api-equipment-signals-test", "POST", ("device_mapping.test",), {"code": "NO-SUCH-MACHINE"}),
    Action("api-equipment-oee", "GET", ("api.read",), {"code": "PRESS-1"}),
    Action("api-trace", "GET", ("api.read",)),
    Action("api-capacity", "GET", ("api.read",)),
    Action("api-report-daily", "GET", ("report.view",)),
    Action("api-schedule", "GET", ("api.read",)),
    Action("api-inspection-plan", "GET", ("api.read",), {"item_code": "FRAME-100", "sequence": 10}),
    Action("api-inspection-plan", "PUT", ("inspection_plan.write",), {"item_code": "FRAME-100", "sequence": 10}, {}),
    Action("api-work-instructions", "GET", ("api.read",), {"item_code": "FRAME-100", "sequence": 10}),
    Action("api-work-instruction", "GET", ("api.read",), {"item_code": "FRAME-100", "sequence": 10, "name": "guide.pdf"}),
    Action("api-work-instruction", "PUT", ("work_instruction.write",), {"item_code": "FRAME-100", "sequence": 10, "name": "guide.pdf"}, {}),
    Action("api-work-instruction", "DELETE", ("work_instruction.write",), {"item_code": "FRAME-100", "sequence": 10, "name": "guide.pdf"}),
    Action("api-inspections", "POST", ("inspection.record",), data={}),
    Action("api-work-order-inspections", "GET", ("api.read",), KEY),
    Action("api-operation-start", "POST", ("operation.run_on_equipment",), OPERATION, {}),
    Action("api-operation-stop", "POST", ("operation.run_on_equipment",), OPERATION, {"equipment": "NO-SUCH-MACHINE"}),
    Action("api-lot-label", "GET", ("trace.view",), {"item_code": "FRAME-100", "lot_code": "NO-SUCH-LOT"}, station=True),
    Action("api-spc", "GET", ("api.read",), {"item_code": "FRAME-100", "sequence": 10, "characteristic": "NOPE"}),
    Action("api-holds", "GET", ("api.read",)),
    Action("api-holds", "POST", ("hold.manage",), data={"work_order": "WO-NOPE", "reason": "x"}),
    Action("api-hold-release", "POST", ("hold.manage",), {"hold_id": 999999}, {"reason": "x"}),
    Action("api-nonconformances", "GET", ("api.read",)),
    Action("api-nonconformances", "POST", ("nonconformance.open",), data={}),
    Action("api-nonconformance", "GET", ("api.read",), {"nonconformance_id": 999999}),
    Action("api-nonconformance-disposition", "POST", ("nonconformance.disposition",), {"nonconformance_id": 999999}, {"disposition": "scrap", "reason": "x"}),
    Action("api-nonconformance-close", "POST", ("nonconformance.disposition",), {"nonconformance_id": 999999}, {}),
    Action("api-andon", "GET", ("api.read",)),
    Action("api-andon", "POST", ("andon.raise",), data={"kind": "help", "severity": "low", "work_center": "WC-NOPE"}),
    Action("api-andon-call", "GET", ("api.read",), ANDON),
    *[Action(f"api-andon-{name}", "POST", ("andon.handle",), ANDON, {}) for name in ("acknowledge", "resolve", "close")],
    Action("api-andon-ladder", "GET", ("api.read",), {"code": "NO-SUCH-LADDER"}),
    Action("api-andon-ladder", "PUT", ("andon_ladder.write",), {"code": "MATRIX"}, {"steps": []}),
    Action("api-reports-labor", "GET", ("labor_report.view",)),
    Action("api-work-order-cost", "GET", ("cost.view",), {"number": "WO-NOPE"}),
]


# --- the URLconf and the schema against the table --------------------------------------------------


def _urls(patterns=None, prefix: str = "", namespace: str = "") -> list[tuple[str, str, Any]]:
    """(name, route, view) of every URL; the administration counts as one URL, ``admin:*``."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                found.append(("admin:*", prefix + str(pattern.pattern), None))
                continue
            found += _urls(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            found.append(((f"{namespace}:" if namespace else "") + (pattern.name or ""), prefix + str(pattern.pattern), pattern.callback))
    return found


def _table_key(action: Action) -> tuple[str, str]:
    return ("admin:*" if action.url.startswith("admin:") else action.url, action.method)


def test_every_url_and_method_has_an_entry(db):
    """Every URL is in the table; every method an API view answers is too, and a page answers 405 to the rest."""
    table = {_table_key(action) for action in ACTIONS}
    urls = _urls()
    names = {name for name, _route, _view in urls}

    assert all(name for name in names), "every URL has a name"
    assert names == {name for name, _method in table}, "URLs without an entry, or entries without a URL"
    root = get_user_model().objects.create_superuser("matrix-root", password="pw-123456")
    client = Client()
    client.force_login(root)
    for name, route, view in urls:
        view_class = getattr(view, "cls", None)
        if view_class is not None:  # DRF: the methods the class answers
            answered = {method for method in METHODS if hasattr(view_class, method.lower())}
            assert answered == {method for url, method in table if url == name}, name
        elif name != "admin:*":
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", "1", route)
            # Django's own views (sign-in, language) take PUT as POST; ours answer only what they name.
            for method in ("GET", "POST") if view.__module__.startswith("django.") else METHODS:
                if (name, method) not in table:
                    response = client.generic(method, path)
                    assert response.status_code == 405, f"{method} {path} answers {response.status_code} but has no entry"


def test_every_operation_of_the_api_schema_has_an_entry(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {(path, method.upper()) for path, operations in schema["paths"].items() for method in operations}
    routes = {name: route for name, route, _view in _urls()}
    tested = {
        ("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", routes[action.url]), action.method)
        for action in ACTIONS
        if action.is_api
    }

    assert documented == tested


def test_a_page_post_needs_what_its_api_twin_needs():
    by_url = {(action.url, action.method): action for action in ACTIONS if action.is_api}
    twins = [action for action in ACTIONS if action.twin]

    assert twins
    for page in twins:
        assert page.allowed() == by_url[(page.twin, "POST")].allowed(), page.id


def test_every_capability_is_used_by_some_action():
    used = {capability for action in ACTIONS for capability in action.needs}

    assert set(CAPABILITIES) - used == {
        "confirmation.report_for_anyone", "inspection.record_for_anyone", "erp_sync.alerts", "quality_stop.release",
    }  # rules inside actions


# --- the walk -----------------------------------------------------------------------------------


@pytest.fixture
def world(released_order, plant, settings):
    """Everything the actions name: WO-1001 running with a dead message, WO-7000 planned, PRESS-1
    at WC-CUT, a station of WC-CUT, and one person (with an API token) in each role."""
    settings.METRICS_ALLOW_FROM = ["192.0.2.0/24"]  # the test client's 127.0.0.1 needs a role, as from afar
    from tests.factories import EquipmentFactory

    EquipmentFactory(code="PRESS-1", work_center=plant["centers"]["WC-CUT"])
    WorkOrderFactory(number="WO-7000", item=plant["item"])
    confirm(ORDER, 10, good_qty=1)
    message = dead_message(ORDER, error="Material 4711 is blocked")
    _station, secret = station_create(work_center_code="WC-CUT")
    tokens = {role: api_token_create(username=f"matrix-{role}", role=role) for role in Role.values}
    return {"message": message, "station_secret": secret, "tokens": tokens}


def _client(world: dict, caller: str, *, api: bool) -> Client:
    if caller == STATION:
        client = Client()
        client.cookies[COOKIE] = world["station_secret"]
        return client
    if caller == ANONYMOUS:
        return APIClient() if api else Client()
    token = world["tokens"][caller]
    if api:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client
    client = Client()
    client.force_login(token.user)
    return client


def _refused(response) -> bool:
    """401 or 403, or sent to sign in (the site's or the administration's), or away from the station."""
    if response.status_code in (401, 403):
        return True
    location = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
    return response.status_code in (301, 302, 303) and location.startswith(("/accounts/login/", "/admin/login/", "/station/welcome/"))


def _state() -> dict:
    return {
        **snapshot(),
        "events": Event.objects.count(),
        "messages": list(OutboxMessage.objects.order_by("pk").values_list("pk", "state")),
        "mappings": list(DeviceMapping.objects.values_list("equipment__code", "config")),
        "connections": list(ErpConnection.objects.values_list("name", "base_url")),
        "stations": list(Station.objects.values_list("name", "revoked_at")),
    }


def _request(client: Client, action: Action, world: dict):
    kwargs = {key: (world["message"].pk if key == "message_id" else value) for key, value in action.kwargs.items()}
    path = reverse(action.url, kwargs=kwargs)
    data = action.data
    if action.url in {"sync-dead-letters", "api-sync-messages-replay"} and action.method == "POST":
        data = {**data, "ids": [world["message"].pk]}
    if action.is_api:
        return client.generic(action.method, path, data=None if data is None else json.dumps(data), content_type="application/json")
    if action.method == "GET":
        return client.get(path)
    return client.post(path, data or {})


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.id)
def test_each_caller_gets_exactly_what_the_capability_table_allows(world, action):
    allowed = action.allowed()
    answers = {}
    for caller in CALLERS:
        before = _state()
        response = _request(_client(world, caller, api=action.is_api), action, world)
        answers[caller] = "refused" if _refused(response) else "allowed"
        if answers[caller] == "refused":
            assert _state() == before, f"{caller} was refused {action.id} but something changed"
        assert response.status_code != 500

    assert answers == {caller: "allowed" if caller in allowed else "refused" for caller in CALLERS}


# --- the README ----------------------------------------------------------------------------------


def test_the_readme_role_table_is_the_one_in_the_code():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- roles-table:start -->\n(.*?)<!-- roles-table:end -->", readme, re.DOTALL)

    assert found, "README.md lacks the generated role table between its markers"
    assert found.group(1) == roles_table(), "run: python manage.py roles_table --update README.md"
