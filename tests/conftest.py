"""Fixtures: a small plant, a released order, and the named personas of the API.

The plant (fixed keys, so tests and JSON payloads can name them):
  item FRAME-100 (PCS), routing 10 Cut @ WC-CUT, 20 Weld @ WC-WELD, 30 Paint @ WC-PAINT,
  BOM v1: 2.5 M of TUBE-20 and 4 PCS of BOLT-M8 per frame;
  operator badge B-1001 (active) and B-9999 (inactive);
  reason codes SCRAP-01 (scrap), REWORK-01 (rework), PAUSE-01 (pause).
Orders: WO-1001, quantity 10, planned (``planned_order``) or released (``released_order``).

``MES_TEST_CLOCK`` runs the whole suite at a chosen plant time, to prove it passes at every hour:
``MES_TEST_CLOCK=03:00`` (today, plant time) or ``MES_TEST_CLOCK=2026-12-07T03:00`` (no offset: plant
time). The process clock (time-machine: this thread, the live server's, every thread) starts there
before collection, and every test starts there again; it ticks, so waits and timeouts still pass.
A Python process a test starts with ``clock_environment()`` (the collector, the ERP worker) keeps the
same clock; other processes (PostgreSQL, simulators, the browser) keep the real one.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from mes.models import ReasonCode, WorkOrder
from mes.services.accounts import api_token_create
from mes.services.work_orders import work_order_transition
from tests.factories import (
    BomFactory,
    EmployeeFactory,
    ItemFactory,
    ReasonCodeFactory,
    RoutingFactory,
    UnitOfMeasureFactory,
    WorkCenterFactory,
    WorkOrderFactory,
)

ORDER = "WO-1001"
ITEM = "FRAME-100"


def persona(username: str, role: str) -> APIClient:
    """An API client authenticated by token as a user holding ``role``; it speaks JSON by default."""
    token = api_token_create(username=username, role=role)
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = token.user
    return client


@pytest.fixture
def erp_client(db) -> APIClient:
    return persona("erp", "integration")


@pytest.fixture
def planner(db) -> APIClient:
    return persona("planner-wang", "planner")


@pytest.fixture
def operator(db) -> APIClient:
    return persona("station-07", "operator")


@pytest.fixture
def supervisor(db) -> APIClient:
    return persona("supervisor-zhang", "supervisor")


@pytest.fixture
def quality(db) -> APIClient:
    return persona("inspector-liu", "quality")


@pytest.fixture
def admin_api(db) -> APIClient:
    return persona("admin", "admin")


@pytest.fixture
def anonymous() -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


@pytest.fixture
def plant(db) -> dict:
    pcs = UnitOfMeasureFactory(code="PCS")
    meter = UnitOfMeasureFactory(code="M")
    centers = {code: WorkCenterFactory(code=code) for code in ("WC-CUT", "WC-WELD", "WC-PAINT")}
    item = ItemFactory(code=ITEM, name="Frame", unit=pcs)
    tube = ItemFactory(code="TUBE-20", name="Tube 20 mm", unit=meter)
    bolt = ItemFactory(code="BOLT-M8", name="Bolt M8", unit=pcs)
    RoutingFactory(
        item=item,
        operations=[
            {"sequence": 10, "name": "Cut", "work_center": centers["WC-CUT"], "setup_minutes": Decimal("10")},
            {"sequence": 20, "name": "Weld", "work_center": centers["WC-WELD"], "run_minutes_per_unit": Decimal("4")},
            {"sequence": 30, "name": "Paint", "work_center": centers["WC-PAINT"]},
        ],
    )
    BomFactory(item=item, version="1", lines=[(tube, Decimal("2.5")), (bolt, Decimal("4"))])
    EmployeeFactory(badge="B-1001", name="Li Wei")
    EmployeeFactory(badge="B-9999", name="Former Employee", is_active=False)
    ReasonCodeFactory(code="SCRAP-01", kind=ReasonCode.Kind.SCRAP, name="Material defect")
    ReasonCodeFactory(code="REWORK-01", kind=ReasonCode.Kind.REWORK, name="Weld seam")
    ReasonCodeFactory(code="PAUSE-01", kind=ReasonCode.Kind.PAUSE, name="Break")
    return {"item": item, "tube": tube, "bolt": bolt, "centers": centers}


@pytest.fixture
def planned_order(plant) -> WorkOrder:
    return WorkOrderFactory(number=ORDER, item=plant["item"], quantity=Decimal("10"), due_date=datetime.date(2030, 1, 31))


@pytest.fixture
def released_order(planned_order) -> WorkOrder:
    work_order_transition(number=planned_order.number, action="release")
    planned_order.refresh_from_db()
    return planned_order


@pytest.fixture(autouse=True)
def _scenario_week_stays_plausible(settings):
    """The OEE scenario (tests/shopfloor/oee_scenario.py) reports production of a fixed week in
    November 2026 through the real services. Confirmation times older than
    MES_CONFIRMED_AT_MAX_PAST_DAYS are refused, so the window reaches back to that week however
    long ago it is by now; tests of the window itself set it as they need."""
    from django.utils import timezone

    from tests.shopfloor.oee_scenario import MONDAY

    needed = (timezone.localdate() - MONDAY).days + 7
    if needed > settings.MES_CONFIRMED_AT_MAX_PAST_DAYS:
        settings.MES_CONFIRMED_AT_MAX_PAST_DAYS = needed


@pytest.fixture(autouse=True)
def _no_quality_stop_unless_asked(settings):
    """Scenarios that report scrap by the dozen (OEE, reports, labour) are about something else: the quality
    stop (MES_QUALITY_STOP_*, default more than 3 bad in 20) stays out of them. Tests of the stop set the window
    and threshold they check (tests/mes/test_quality_stop.py and the andon, station and ERP ones)."""
    settings.MES_QUALITY_STOP_THRESHOLD = 1_000_000


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (no PIN lock-outs left by another test)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _forget_event_destinations():
    """Each test reads the event destinations afresh (a process trusts what it read for a few seconds)."""
    from erp_sync.wakeups import destinations_changed

    destinations_changed()


@pytest.fixture(autouse=True)
def _forget_api_tokens():
    """Each test starts with no remembered tokens, as a freshly started worker does."""
    from mes.api import authentication

    authentication._tokens.clear()
    yield
    authentication._tokens.clear()


_test_clock: dict[str, object] = {}


def _clock_start(text: str, zone: datetime.tzinfo, today: datetime.date) -> datetime.datetime:
    """The moment ``MES_TEST_CLOCK`` names: a time alone is ``today``'s; no offset means plant time."""
    try:
        if "T" in text or " " in text.strip():
            moment = datetime.datetime.fromisoformat(text.strip())
        else:
            moment = datetime.datetime.combine(today, datetime.time.fromisoformat(text.strip()))
    except ValueError:
        raise pytest.UsageError(f"MES_TEST_CLOCK must be a plant time such as 03:00 or 2026-12-07T03:00, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _flush_by_delete() -> None:
    """Empty PostgreSQL test tables after a transactional test by DELETE rather than TRUNCATE.

    Django flushes the database after each test that commits (the browser tests, the live
    server's, the workers') with one TRUNCATE of every table. PostgreSQL gives each truncated table
    new files, synced at commit: 1.5–2 s per test for our ~100 tables, most of them empty. A DELETE
    of an empty table costs next to nothing, and Django's foreign keys are checked at commit, so any
    order works. The append-only audit tables refuse DELETE (their trigger), so they alone are
    truncated, when they hold rows; a flush that resets sequences keeps Django's own way."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush
    append_only = set(importlib.import_module("mes.migrations.0005_audit_append_only").APPEND_ONLY_TABLES)

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        statements = [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables if table not in append_only]
        kept = ", ".join(self.quote_name(table) for table in tables if table in append_only)
        if kept:  # truncated only when they hold rows: most tests leave them empty
            holds_rows = " OR ".join(f"EXISTS (SELECT 1 FROM {self.quote_name(table)})" for table in tables if table in append_only)
            statements.append(f"DO $$ BEGIN IF {holds_rows} THEN TRUNCATE {kept}; END IF; END $$;")
        return statements

    DatabaseOperations.sql_flush = sql_flush


def pytest_configure(config):
    sys.addaudithook(_process_watch)  # cannot be removed: it looks only while a test runs
    _flush_by_delete()
    text = os.environ.get("MES_TEST_CLOCK", "")
    if not text:
        return
    from django.conf import settings

    zone = ZoneInfo(settings.TIME_ZONE)
    start = _clock_start(text, zone, datetime.datetime.now(zone).date()).astimezone(datetime.UTC)
    traveller = time_machine.travel(start, tick=True)
    _test_clock.update(start=start, traveller=traveller, moving=traveller.start())


def pytest_unconfigure(config):
    if "traveller" in _test_clock:
        _test_clock.pop("traveller").stop()
        _test_clock.clear()


def pytest_report_header(config):
    if "start" in _test_clock:
        return f"MES_TEST_CLOCK: every test starts at {_test_clock['start'].isoformat()} (process clock, ticking)"
    return None


@pytest.fixture(autouse=True)
def _at_test_clock():
    """Under ``MES_TEST_CLOCK``, each test starts at that moment whatever ran before it."""
    if "moving" in _test_clock:
        _test_clock["moving"].move_to(_test_clock["start"], tick=True)


CLOCK_HOOK = Path(__file__).resolve().parent / "clock_hook"  # its sitecustomize sets a child's clock


def clock_environment() -> dict[str, str]:
    """What to add to the environment of a Python process a test starts (a collector, a worker) so
    that it keeps the test's clock: under ``MES_TEST_CLOCK``, the offset from the real one, and the
    start-up hook that applies it. Nothing otherwise."""
    if "moving" not in _test_clock:
        return {}
    offset = datetime.datetime.now(datetime.UTC) - time_machine.escape_hatch.datetime.datetime.now(datetime.UTC)
    path = os.pathsep.join(filter(None, [str(CLOCK_HOOK), os.environ.get("PYTHONPATH", "")]))
    return {"MES_TEST_CLOCK_OFFSET": str(offset.total_seconds()), "PYTHONPATH": path}


# --- the markers (pyproject.toml) -----------------------------------------------------------------
# `make test` runs the suite on PostgreSQL, then what is not `browser` or `subprocess` again on SQLite;
# `make test-fast` leaves out `browser`, `subprocess` and `slow`. So the markers must be true: a test
# that starts a process without `subprocess` (or `browser`: Playwright starts its driver) fails,
# and `postgresql_only` must say why, which is the skip reason on SQLite.

PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "os.fork", "os.forkpty"})
PROCESS_MARKERS = ("subprocess", "browser")
_processes: dict[str, object] = {"item": None, "started": []}


def _process_watch(event: str, args: tuple) -> None:
    if event in PROCESS_EVENTS and _processes["item"] is not None:
        _processes["started"].append(f"{event} {args[1] if event == 'subprocess.Popen' else args}")


def _postgresql_only_reason(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("postgresql_only")
    if marker is None:
        return None
    reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
    if not reason:
        raise pytest.UsageError(f"{item.nodeid}: postgresql_only(reason=...) must say which PostgreSQL feature it needs")
    return reason


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the markers added here count
def pytest_collection_modifyitems(config, items):
    from django.db import connection

    on_postgresql = connection.vendor == "postgresql"
    for item in items:
        # A fixture named ``*_process`` starts one (an ERP or a device simulator) and is often shared by a
        # module: every test that takes it is marked, not only the one that happens to start it.
        if any(name.endswith("_process") for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.subprocess)
        reason = _postgresql_only_reason(item)
        if reason and not on_postgresql:
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {reason}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _processes.update(item=item, started=[])
    try:
        return (yield)
    finally:
        _processes.update(item=None, started=[])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    started = _processes["started"]
    if call.when == "call" and report.passed and started and not any(item.get_closest_marker(name) for name in PROCESS_MARKERS):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} started a process but is not marked `subprocess`, so `make test-fast` and the SQLite "
            f"pass would run it: add @pytest.mark.subprocess (or pytestmark). It started: {started[0]}"
        )
    return report


_deselected: list[pytest.Item] = []


def pytest_deselected(items):
    _deselected.extend(items)


def pytest_collection_finish(session):
    """With ``MES_COLLECTION_REPORT=path``, what was selected and deselected, with each test's markers and
    fixtures, as JSON (tests/test_suite_layout.py checks the selections of the Makefile with it)."""
    path = os.environ.get("MES_COLLECTION_REPORT")
    if not path:
        return

    def described(item: pytest.Item, selected: bool) -> dict:
        return {
            "nodeid": item.nodeid,
            "path": str(item.path),
            "selected": selected,
            "markers": sorted({marker.name for marker in item.iter_markers()}),
            "fixtures": sorted(getattr(item, "fixturenames", ())),
        }

    tests = [described(item, True) for item in session.items] + [described(item, False) for item in _deselected]
    Path(path).write_text(json.dumps(tests))
