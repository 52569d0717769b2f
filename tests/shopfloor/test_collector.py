"""The device collector end to end: the real simulator on loopback (or Mosquitto), the real
``run_collector`` process on this test's PostgreSQL database, windows of one second.

Every test starts with the machine still (the folder's ``simulator`` fixture: counters at 0, a
cycle time of an hour), lets the collector take its baseline, makes the machine produce, stops
it, waits until the collector has read the final count and closed its window, and then checks
the records against the counters the simulator reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from mes.models import Confirmation, WorkOrderOperation
from mes.services.master_data import equipment_upsert
from mes.services.work_orders import work_order_transition
from shopfloor.models import CounterState, DeviceException, EquipmentState, UnassignedProduction
from shopfloor.production import (
    counter_advance,
    reading_record,
    window_client_id,
    window_confirm,
    window_start_for,
)
from shopfloor.services import equipment_signals_set, operation_start_on_equipment
from tests.conftest import clock_environment
from tests.factories import WorkOrderFactory

# The collector runs in another process: it sees only what this test has committed.
with_collector = pytest.mark.django_db(transaction=True)

PRESS = "PRESS-1"
ORDER = "WO-2001"
WINDOW_SECONDS = 1.0
MQTT_BROKER = ("127.0.0.1", 1883)


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def press(plant):
    return equipment_upsert(code=PRESS, name="Press 1", work_center="WC-CUT").obj


@pytest.fixture
def big_order(plant):
    """An order of 100,000 frames, released: room for everything a test's machine makes."""
    WorkOrderFactory(number=ORDER, item=plant["item"], quantity=Decimal(100000))
    work_order_transition(number=ORDER, action="release")
    return ORDER


def _bind(order: str = ORDER) -> None:
    operation_start_on_equipment(number=order, sequence=10, equipment_code=PRESS)


def _map_to_simulator(simulator, unit: int = 1) -> None:
    equipment_signals_set(
        equipment_code=PRESS, config=simulator.modbus_mapping(unit, poll_interval_s=0.2, timeout_s=0.3)
    )


@contextlib.contextmanager
def collector(tmp_path: Path, name: str = "collector", *arguments: str, kill: bool = False) -> Iterator[subprocess.Popen]:
    """``manage.py run_collector`` on this test's database; stopped by SIGTERM (must exit 0) or SIGKILL."""
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mes.settings_test",
        "DATABASE_URL": f"postgresql://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}",
        "MES_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        **clock_environment(),  # under MES_TEST_CLOCK: this test's clock
    }
    log = tmp_path / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable, str(settings.BASE_DIR / "manage.py"), "run_collector",
                "--window-seconds", str(WINDOW_SECONDS), "--unanswered-after", "1", "--reload-seconds", "1",
                *arguments,
            ],
            cwd=settings.BASE_DIR, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"the collector did not stop on SIGTERM:\n{log.read_text()[-3000:]}") from None
    if not kill:
        assert process.returncode == 0, log.read_text()[-3000:]


def wait_until(check: Callable[[], Any], *, within: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what or check}")
        time.sleep(0.05)


def _counters() -> dict[str, CounterState]:
    return {row.signal: row for row in CounterState.objects.filter(equipment__code=PRESS)}


def _baseline_taken(good: int, scrap: int = 0) -> bool:
    counters = _counters()
    return len(counters) == 2 and counters["good_count"].last_value == good and counters["scrap_count"].last_value == scrap


def _settled(good: int, scrap: int) -> bool:
    """The collector has read these final counts and confirmed (or set aside) every window."""
    return _baseline_taken(good, scrap) and all(row.pending == 0 and row.window_start is None for row in _counters().values())


def _confirmed() -> tuple[int, int]:
    totals = Confirmation.objects.filter(station=PRESS).aggregate(good=Sum("good_qty"), scrap=Sum("scrap_qty"))
    return int(totals["good"] or 0), int(totals["scrap"] or 0)


def _states() -> list[str]:
    return list(EquipmentState.objects.filter(equipment__code=PRESS).order_by("started_at", "id").values_list("state", flat=True))


def _produce(simulator, seconds: float, **changes: Any) -> dict[str, Any]:
    """Run machine 1 fast for ``seconds``, then put it idle; answers its status (final counts) at the stop."""
    simulator.control.set_machine(1, state="running", cycle_time_s=0.05, **changes)
    time.sleep(seconds)
    return simulator.control.set_machine(1, state="idle")


# --- counts become confirmations ---------------------------------------------------------


@with_collector
@pytest.mark.subprocess
@pytest.mark.slow
def test_counts_become_exactly_the_right_confirmations(simulator, press, big_order, tmp_path):
    _bind()
    _map_to_simulator(simulator)
    # Another work center's machine: a collector sharded to WC-CUT leaves it to another process.
    equipment_upsert(code="WELD-1", name="Weld 1", work_center="WC-WELD")
    equipment_signals_set(equipment_code="WELD-1", config=simulator.modbus_mapping(2, poll_interval_s=0.2))

    with collector(tmp_path, "collector", "--work-center", "WC-CUT"):
        wait_until(lambda: _baseline_taken(0, 0), what="the collector reads the baseline")
        stopped = _produce(simulator, 2.5, scrap_rate=0.2)
        wait_until(lambda: _settled(stopped["good_count"], stopped["scrap_count"]), what="the last window closes")

    assert stopped["good_count"] > 20 and stopped["scrap_count"] > 0
    assert _confirmed() == (stopped["good_count"], stopped["scrap_count"])
    confirmations = list(Confirmation.objects.filter(station=PRESS).select_related("operation", "reason_code"))
    assert len(confirmations) >= 3  # one per window, not one per part
    assert {(c.operation.work_order.number, c.operation.sequence) for c in confirmations} == {(ORDER, 10)}
    assert {c.reason_code.code for c in confirmations if c.scrap_qty} == {"SCRAP-01"}
    operation = WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10)
    assert (operation.good_qty, operation.scrap_qty) == (stopped["good_count"], stopped["scrap_count"])
    assert not UnassignedProduction.objects.exists()
    assert _states() == ["run", "idle"]
    assert not CounterState.objects.filter(equipment__code="WELD-1").exists()
    assert not EquipmentState.objects.filter(equipment__code="WELD-1").exists()


@with_collector
@pytest.mark.subprocess
def test_a_collector_killed_mid_run_and_restarted_counts_nothing_twice(simulator, press, big_order, tmp_path):
    _bind()
    _map_to_simulator(simulator)

    with collector(tmp_path, "first", kill=True):
        wait_until(lambda: _baseline_taken(0, 0), what="the collector reads the baseline")
        simulator.control.set_machine(1, cycle_time_s=0.05, scrap_rate=0.1)
        time.sleep(1.7)  # killed with one window confirmed and the next one half counted
    confirmed_before_restart = _confirmed()
    time.sleep(0.8)  # the machine goes on producing while no collector runs
    with collector(tmp_path, "second"):
        time.sleep(1.5)
        stopped = simulator.control.set_machine(1, state="idle")
        wait_until(lambda: _settled(stopped["good_count"], stopped["scrap_count"]), what="the last window closes")

    assert 0 < confirmed_before_restart[0] < stopped["good_count"]
    assert _confirmed() == (stopped["good_count"], stopped["scrap_count"])
    assert not UnassignedProduction.objects.exists()


@with_collector
@pytest.mark.subprocess
def test_a_counter_roll_over_and_a_plc_restart_lose_nothing_and_never_count_back(simulator, press, big_order, tmp_path):
    start = 2**32 - 6
    simulator.control.set_machine(1, good_count=start)
    _bind()
    _map_to_simulator(simulator)

    with collector(tmp_path):
        wait_until(lambda: _baseline_taken(start, 0), what="the collector reads the baseline")
        before_restart = _produce(simulator, 1.2)  # about 24 parts: past 2**32 - 1 and round to the start
        assert before_restart["good_count"] < 100, "the counter must have rolled over"
        wait_until(lambda: _baseline_taken(before_restart["good_count"], 0), what="the collector reads the stop")
        simulator.control.reset_counters(1)
        wait_until(lambda: _baseline_taken(0, 0), what="the collector reads the restart")
        after_restart = _produce(simulator, 1.0)
        wait_until(lambda: _settled(after_restart["good_count"], 0), what="the last window closes")

    rolled_over = before_restart["good_count"] + 2**32 - start
    assert _confirmed() == (rolled_over + after_restart["good_count"], 0)
    counters = _counters()
    assert (counters["good_count"].rollovers, counters["good_count"].resets) == (1, 1)
    assert not Confirmation.objects.filter(good_qty__lt=0).exists()


@with_collector
@pytest.mark.subprocess
def test_counts_with_no_running_operation_become_unassigned_production(simulator, press, big_order, tmp_path):
    with collector(tmp_path):
        _map_to_simulator(simulator)  # added while the collector runs: its next reload picks it up
        wait_until(lambda: _baseline_taken(0, 0), what="the collector reads the baseline")
        stopped = _produce(simulator, 2.0, scrap_rate=0.2)
        wait_until(lambda: _settled(stopped["good_count"], stopped["scrap_count"]), what="the last window closes")

    unassigned = UnassignedProduction.objects.filter(equipment__code=PRESS)
    totals = unassigned.aggregate(good=Sum("good"), scrap=Sum("scrap"))
    assert (totals["good"], totals["scrap"]) == (stopped["good_count"], stopped["scrap_count"])
    assert set(unassigned.values_list("reason", flat=True)) == {UnassignedProduction.NO_RUNNING_OPERATION}
    assert unassigned.count() >= 2  # one row per window
    assert not Confirmation.objects.exists()


# --- states and devices that stop answering ----------------------------------------------


@with_collector
@pytest.mark.subprocess
def test_a_machine_that_stops_answering_is_unknown_with_an_exception_until_it_answers(simulator, press, tmp_path):
    _map_to_simulator(simulator)

    def open_exceptions():
        return list(DeviceException.objects.filter(equipment__code=PRESS, closed_at__isnull=True))

    with collector(tmp_path):
        wait_until(lambda: _states() == ["run"], what="the machine is seen running")
        simulator.control.stop_answering(1)
        wait_until(lambda: open_exceptions() and _states()[-1] == "unknown", what="the machine is marked unknown")
        simulator.control.resume(1)
        wait_until(lambda: not open_exceptions() and _states()[-1] == "run", within=15, what="recovery closes it")

    assert _states() == ["run", "unknown", "run"]
    (exception,) = DeviceException.objects.filter(equipment__code=PRESS)
    assert exception.kind == DeviceException.Kind.NOT_ANSWERING
    assert exception.closed_at > exception.opened_at
    assert "modbus://" in exception.detail
    unknown = EquipmentState.objects.get(equipment__code=PRESS, state="unknown")
    assert unknown.ended_at is not None and unknown.started_at == exception.opened_at


# --- MQTT --------------------------------------------------------------------------------


async def _publish(*messages: tuple[str, str | bytes], retain: bool = False) -> None:
    async with aiomqtt.Client(*MQTT_BROKER, timeout=5) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1, retain=retain)
            await asyncio.sleep(0.02)


@with_collector
@pytest.mark.subprocess
def test_an_mqtt_machine_through_mosquitto_gives_the_same_confirmations(press, big_order, tmp_path):
    base = f"open-mes-test/{uuid.uuid4().hex}"
    counts, running = f"{base}/counts", f"{base}/running"
    equipment_signals_set(
        equipment_code=PRESS,
        config={
            "protocol": "mqtt", "host": MQTT_BROKER[0], "port": MQTT_BROKER[1], "poll_interval_s": 0.2,
            "signals": {
                "good_count": {"topic": counts, "json_path": "$.good"},
                "scrap_count": {"topic": counts, "json_path": "$.scrap"},
                "running": {"topic": running},
            },
        },
    )
    _bind()
    # Retained, as a gateway publishes its state: the collector sees the baseline on subscribing.
    asyncio.run(_publish((counts, '{"good": 500, "scrap": 7}'), (running, "true"), retain=True))
    try:
        with collector(tmp_path):
            wait_until(lambda: _baseline_taken(500, 7), what="the collector reads the baseline")
            asyncio.run(_publish(*((counts, f'{{"good": {good}, "scrap": {7 + (good - 500) // 15}}}') for good in range(501, 541))))
            wait_until(lambda: _settled(540, 9), what="the last window closes")
    finally:
        asyncio.run(_publish((counts, b""), (running, b""), retain=True))  # clear the retained messages

    assert _confirmed() == (40, 2)
    assert _states() == ["run"]


def _mqtt_mapping(base: str, *signals: str, silent_after_s: float) -> dict[str, Any]:
    topics = {
        "good_count": {"topic": f"{base}/counts", "json_path": "$.good"},
        "scrap_count": {"topic": f"{base}/counts", "json_path": "$.scrap"},
        "running": {"topic": f"{base}/running"},
    }
    return {
        "protocol": "mqtt", "host": MQTT_BROKER[0], "port": MQTT_BROKER[1], "poll_interval_s": 0.2,
        "silent_after_s": silent_after_s, "signals": {name: topics[name] for name in signals},
    }


@with_collector
@pytest.mark.subprocess
def test_an_mqtt_machine_that_goes_silent_is_unknown_with_an_exception_until_it_publishes(press, tmp_path):
    base = f"open-mes-test/{uuid.uuid4().hex}"
    equipment_signals_set(equipment_code=PRESS, config=_mqtt_mapping(base, "good_count", "running", silent_after_s=1))

    def open_exceptions():
        return list(DeviceException.objects.filter(equipment__code=PRESS, closed_at__isnull=True))

    with collector(tmp_path):
        # Published until the collector has seen it running; then the device says nothing more.
        wait_until(
            lambda: asyncio.run(_publish((f"{base}/running", "true"), (f"{base}/counts", '{"good": 7}'))) or _states() == ["run"],
            what="the machine is seen running",
        )
        wait_until(lambda: open_exceptions() and _states()[-1] == "unknown", what="the silent machine is marked unknown")
        wait_until(
            lambda: asyncio.run(_publish((f"{base}/running", "true"))) or (not open_exceptions() and _states()[-1] == "run"),
            what="a message closes the exception",
        )

    assert _states() == ["run", "unknown", "run"]
    (exception,) = DeviceException.objects.filter(equipment__code=PRESS)
    assert exception.kind == DeviceException.Kind.NOT_ANSWERING
    assert "mqtt://127.0.0.1:1883: nothing received on any topic for" in exception.detail
    unknown = EquipmentState.objects.get(equipment__code=PRESS, state="unknown")
    assert unknown.started_at == exception.opened_at and unknown.ended_at is not None


@with_collector
@pytest.mark.subprocess
def test_without_a_running_signal_the_collector_runs_a_machine_while_it_counts_and_idles_it_after(press, big_order, tmp_path):
    base = f"open-mes-test/{uuid.uuid4().hex}"
    counts = f"{base}/counts"
    equipment_signals_set(equipment_code=PRESS, config=_mqtt_mapping(base, "good_count", silent_after_s=60))
    _bind()
    asyncio.run(_publish((counts, '{"good": 100}'), retain=True))
    try:
        with collector(tmp_path, "collector", "--idle-after", "1"):
            wait_until(lambda: _counters().get("good_count") and _counters()["good_count"].last_value == 100, what="the baseline")
            asyncio.run(_publish(*((counts, f'{{"good": {good}}}') for good in range(101, 121))))
            wait_until(lambda: _states()[-2:] == ["run", "idle"], within=15, what="run while counting, idle after")
            wait_until(lambda: _counters()["good_count"].pending == 0, what="the last window closes")
    finally:
        asyncio.run(_publish((counts, b""), retain=True))

    assert _states() == ["idle", "run", "idle"]
    last_part = CounterState.objects.get(equipment__code=PRESS, signal="good_count").last_changed_at
    idle = EquipmentState.objects.get(equipment__code=PRESS, state="idle", ended_at__isnull=True)
    assert idle.started_at == last_part  # idle since the last part, not since it was noticed
    assert _confirmed() == (20, 0)


# --- the services on their own -------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "modulus", "expected"),
    [
        (None, 1234, 2**32, (0, "first")),
        (1234, 1234, 2**32, (0, "same")),
        (1234, 1240, 2**32, (6, "advance")),
        (2**32 - 3, 2, 2**32, (5, "rollover")),
        (65530, 4, 2**16, (10, "rollover")),
        (1240, 0, 2**32, (0, "reset")),
        (1240, 3, 2**32, (3, "reset")),
        (40000, 3, 2**16, (3, "reset")),
        (4_000_000_000, 5, 2**32, (5, "reset")),
    ],
)
def test_counter_advance_is_never_negative(previous, current, modulus, expected):
    assert counter_advance(previous, current, modulus) == expected


@pytest.mark.django_db
def test_a_replayed_window_answers_the_original_confirmation(press, big_order):
    _bind()
    equipment_id = press.pk
    start = window_start_for(datetime.datetime.now(datetime.UTC), WINDOW_SECONDS) + datetime.timedelta(seconds=5)
    reading_record(equipment_id=equipment_id, values={"good_count": 100, "scrap_count": 0}, read_at=start, window_seconds=1)
    reading_record(
        equipment_id=equipment_id, values={"good_count": 112, "scrap_count": 2},
        read_at=start + datetime.timedelta(milliseconds=500), window_seconds=1,
    )
    saved = {row.signal: (row.pending, row.window_start) for row in CounterState.objects.filter(equipment=press)}

    first = window_confirm(equipment_id=equipment_id, now=start + datetime.timedelta(seconds=1), window_seconds=1)
    # A crash that lost the counters' reset (it cannot: they commit with the confirmation) would replay the window.
    for name, (pending, window_start) in saved.items():
        CounterState.objects.filter(equipment=press, signal=name).update(pending=pending, window_start=window_start)
    replay = window_confirm(equipment_id=equipment_id, now=start + datetime.timedelta(seconds=2), window_seconds=1)
    nothing_left = window_confirm(equipment_id=equipment_id, now=start + datetime.timedelta(seconds=3), window_seconds=1)

    assert first.confirmation_id == replay.confirmation_id
    assert nothing_left is None
    (confirmation,) = Confirmation.objects.all()
    assert confirmation.client_id == window_client_id(PRESS, start)
    assert (confirmation.good_qty, confirmation.scrap_qty, confirmation.reason_code.code) == (12, 2, "SCRAP-01")
    assert _confirmed() == (12, 2)
    assert WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10).good_qty == 12


@pytest.mark.django_db
def test_a_refused_confirmation_keeps_the_counts_as_unassigned_production(press, released_order):
    _bind(released_order.number)  # an order of 10: 15 parts are more than the operation may take
    start = window_start_for(datetime.datetime.now(datetime.UTC), WINDOW_SECONDS) + datetime.timedelta(seconds=5)
    reading_record(equipment_id=press.pk, values={"good_count": 0}, read_at=start, window_seconds=1)
    reading_record(equipment_id=press.pk, values={"good_count": 15}, read_at=start + datetime.timedelta(milliseconds=100), window_seconds=1)

    outcome = window_confirm(equipment_id=press.pk, now=start + datetime.timedelta(seconds=1), window_seconds=1)

    assert outcome.confirmation_id is None
    (row,) = UnassignedProduction.objects.all()
    assert (row.good, row.scrap, row.reason, row.window_start) == (15, 0, "quantity_exceeds_available", start)
    assert (row.operation.work_order.number, row.operation.sequence) == (released_order.number, 10)
    assert not Confirmation.objects.exists()
    assert WorkOrderOperation.objects.get(work_order=released_order, sequence=10).good_qty == 0
    # The same window closed again adds nothing.
    assert window_confirm(equipment_id=press.pk, now=start + datetime.timedelta(seconds=2), window_seconds=1) is None
    assert UnassignedProduction.objects.count() == 1


@pytest.mark.django_db
def test_without_a_running_signal_the_state_follows_count_activity(press):
    start = window_start_for(datetime.datetime.now(datetime.UTC), 60)

    def read(seconds: float, good: int) -> None:
        reading_record(
            equipment_id=press.pk, values={"good_count": good}, read_at=start + datetime.timedelta(seconds=seconds),
            window_seconds=60, idle_after_s=10,
        )

    read(0, 5)  # a baseline says nothing yet: no part seen, so idle
    read(1, 6)
    read(5, 7)
    read(14, 7)  # 9 s without a part: still running
    read(16, 7)  # 11 s: idle since the last part
    read(20, 8)

    intervals = list(EquipmentState.objects.filter(equipment=press).order_by("started_at").values_list("state", "started_at"))
    assert intervals == [
        ("idle", start),
        ("run", start + datetime.timedelta(seconds=1)),
        ("idle", start + datetime.timedelta(seconds=5)),
        ("run", start + datetime.timedelta(seconds=20)),
    ]


@pytest.mark.django_db
def test_a_counter_read_from_a_new_source_takes_a_new_baseline(press):
    start = window_start_for(datetime.datetime.now(datetime.UTC), 60)

    def read(seconds: float, good: int, source: str) -> None:
        reading_record(
            equipment_id=press.pk, values={"good_count": good}, read_at=start + datetime.timedelta(seconds=seconds),
            window_seconds=60, counter_sources={"good_count": source},
        )

    read(0, 500, "unit-1")
    read(1, 510, "unit-1")
    read(2, 90_000, "unit-2")  # the mapping now points at another PLC: its count is no advance
    read(3, 90_004, "unit-2")

    counter = CounterState.objects.get(equipment=press, signal="good_count")
    assert (counter.pending, counter.last_value, counter.resets) == (14, 90_004, 0)


def test_a_window_has_one_client_id_whatever_the_time_zone_it_is_written_in():
    start = datetime.datetime(2030, 1, 1, 8, 0, tzinfo=datetime.UTC)
    shanghai = start.astimezone(datetime.timezone(datetime.timedelta(hours=8)))

    assert window_client_id(PRESS, start) == window_client_id(PRESS, shanghai)
    assert window_client_id(PRESS, start) != window_client_id("PRESS-2", start)
    assert window_client_id(PRESS, start) != window_client_id(PRESS, start + datetime.timedelta(seconds=1))
