"""The station PIN lock-out: every try is counted before the PIN is checked, per badge and per station,
so tries at the same moment cannot slip past it; wrong PINs are logged."""

from __future__ import annotations

import datetime
import logging
import threading
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from mes.models import Employee, Event
from mes.services.accounts import employee_pin_set
from shopfloor.models import PinTryCount
from shopfloor.station.services import PIN_TRIES, STATION_PIN_TRIES, station_create
from tests.factories import EmployeeFactory
from tests.station.conftest import post, station_client

SIGN_IN = "/station/api/sign-in"


@pytest.fixture
def pin_station(plant):
    employee_pin_set(badge="B-1001", pin="4711")
    station, secret = station_create(work_center_code="WC-CUT", name="PIN corner", is_pin_required=True)
    return station, secret


def _codes(answers) -> Counter:
    return Counter(answer.json()["error"]["code"] if answer.status_code != 200 else "signed_in" for answer in answers)


def _at_the_same_moment(tries: list[tuple[str, dict]]) -> list:
    """Send every (station secret, sign-in body) from its own thread, all released at once."""
    start = threading.Barrier(len(tries))
    answers = []

    def send(secret: str, body: dict) -> None:
        tablet = station_client(secret)
        start.wait()
        try:
            answers.append(post(tablet, SIGN_IN, body))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=attempt) for attempt in tries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_forty_wrong_pins_for_a_badge_at_the_same_moment_get_five_checks(pin_station):
    _station, secret = pin_station
    _other, other_secret = station_create(work_center_code="WC-CUT", name="Saw corner", is_pin_required=True)
    # Twenty at each of two stations: neither station reaches its own limit, the badge does.
    tries = [(secret if number % 2 else other_secret, {"badge": "B-1001", "pin": f"{number:04d}"}) for number in range(40)]

    answers = _at_the_same_moment(tries)
    after = post(station_client(secret), SIGN_IN, {"badge": "B-1001", "pin": "4711"})

    # Only the answers that checked the PIN say "wrong PIN"; the others never reached the hash.
    assert _codes(answers) == {"wrong_pin": PIN_TRIES, "pin_locked": 40 - PIN_TRIES}
    assert (after.status_code, after.json()["error"]["code"]) == (403, "pin_locked")
    assert PinTryCount.objects.get(key="badge:B-1001").count == 41


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_forty_wrong_pins_of_forty_badges_at_one_station_get_twenty_checks(pin_station):
    _station, secret = pin_station
    for number in range(40):
        EmployeeFactory(badge=f"B-3{number:03d}", name=f"Operator {number}")
    Employee.objects.filter(badge__startswith="B-3").update(station_pin=Employee.objects.get(badge="B-1001").station_pin)

    answers = _at_the_same_moment([(secret, {"badge": f"B-3{number:03d}", "pin": "0000"}) for number in range(40)])

    assert _codes(answers) == {"wrong_pin": STATION_PIN_TRIES, "station_pin_locked": 40 - STATION_PIN_TRIES}


@pytest.mark.django_db
def test_wrong_pins_for_many_badges_lock_the_station_but_not_the_others(pin_station):
    station, secret = pin_station
    _other_station, other_secret = station_create(work_center_code="WC-CUT", name="Saw corner", is_pin_required=True)
    EmployeeFactory(badge="B-2001", name="Zhao Min")
    employee_pin_set(badge="B-2001", pin="2468")
    tablet = station_client(secret)
    # Nineteen wrong PINs of other badges have been tried at this station in the last five minutes.
    PinTryCount.objects.create(key=f"station:{station.pk}", count=STATION_PIN_TRIES - 1, expires_at=timezone.now() + datetime.timedelta(minutes=4))

    twentieth = post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "1111"})
    here = post(tablet, SIGN_IN, {"badge": "B-2001", "pin": "2468"})
    in_chinese = post(station_client(secret, language="zh-hans"), SIGN_IN, {"badge": "B-2001", "pin": "2468"})
    elsewhere = post(station_client(other_secret), SIGN_IN, {"badge": "B-2001", "pin": "2468"})

    assert twentieth.json()["error"]["code"] == "wrong_pin"
    assert (here.status_code, here.json()["error"]) == (
        403,
        {"code": "station_pin_locked", "message": "Too many wrong PINs at this station; wait five minutes or ask a supervisor."},
    )
    assert in_chinese.json()["error"]["message"] == "该工位输错 PIN 次数过多；请等待五分钟或联系主管。"
    assert elsewhere.status_code == 200


@pytest.mark.django_db
def test_right_pins_do_not_count_towards_the_station_lock_out(pin_station):
    station, secret = pin_station
    PinTryCount.objects.create(key=f"station:{station.pk}", count=STATION_PIN_TRIES - 1, expires_at=timezone.now() + datetime.timedelta(minutes=4))
    tablet = station_client(secret)

    answers = [post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "4711"}) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert PinTryCount.objects.get(key=f"station:{station.pk}").count == STATION_PIN_TRIES - 1


@pytest.mark.django_db
def test_a_right_pin_before_the_limit_starts_the_badge_count_again(pin_station):
    _station, secret = pin_station
    tablet = station_client(secret)

    answers = []
    for _round in range(2):
        answers += [post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "0000"}) for _ in range(PIN_TRIES - 1)]
        answers.append(post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "4711"}))

    assert _codes(answers) == {"wrong_pin": 2 * (PIN_TRIES - 1), "signed_in": 2}
    assert not PinTryCount.objects.filter(key="badge:B-1001").exists()


@pytest.mark.django_db
def test_the_lock_out_ends_five_minutes_after_the_last_try(pin_station):
    _station, secret = pin_station
    tablet = station_client(secret)
    for _ in range(PIN_TRIES + 3):
        post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "0000"})
    locked = post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "4711"})
    PinTryCount.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    later = post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "4711"})

    assert locked.json()["error"]["code"] == "pin_locked"
    assert later.status_code == 200


@pytest.mark.django_db
def test_wrong_pins_and_refusals_are_logged_and_unknown_badges_count_nothing(pin_station, caplog):
    _station, secret = pin_station
    tablet = station_client(secret)

    with caplog.at_level(logging.WARNING, logger="shopfloor.station.services"):
        for _ in range(PIN_TRIES + 1):
            post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "0000"})
        post(tablet, SIGN_IN, {"badge": "B-4040", "pin": "0000"})

    messages = [record.getMessage() for record in caplog.records if record.name == "shopfloor.station.services"]
    assert messages == [f"Wrong PIN for badge B-1001 at station PIN corner (try {n} of 5)" for n in range(1, 6)] + [
        "PIN sign-in refused: badge B-1001 is locked out (try 6) at station PIN corner"
    ]
    assert sorted(PinTryCount.objects.values_list("key", "count")) == [("badge:B-1001", 6), (f"station:{_station.pk}", 6)]


@pytest.mark.django_db
def test_an_admin_lifts_a_badge_lock_out_in_the_admin_and_it_is_audited(pin_station):
    _station, secret = pin_station
    tablet = station_client(secret)
    for _ in range(PIN_TRIES):
        post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "0000"})
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", password="root-pass-1"))
    row = PinTryCount.objects.get(key="badge:B-1001")

    lifted = admin.post("/admin/shopfloor/pintrycount/", {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    signed_in = post(tablet, SIGN_IN, {"badge": "B-1001", "pin": "4711"})

    assert lifted.status_code == 302 and signed_in.status_code == 200
    event = Event.objects.get(object_type="station_pin_lockout")
    assert (event.object_key, event.action, event.before["count"]) == ("badge:B-1001", "delete", PIN_TRIES)
