"""How a tablet becomes a station: a supervisor at the set-up page, or a one-time link; and how a
station stops being one (revocation)."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone, translation

from mes.models import Event
from shopfloor.models import Station, StationLink
from shopfloor.station.access import COOKIE
from shopfloor.station.services import station_link_create, station_revoke
from tests.browser.conftest import person
from tests.station.conftest import post, report_body, station_client

pytestmark = pytest.mark.django_db


def link_command(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"):
        call_command("create_station_link", *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def path_of(url: str) -> str:
    return url.split("127.0.0.1:8000", 1)[1]


def test_a_station_link_makes_one_station_and_works_only_once(plant):
    url = link_command("WC-CUT", "--base-url", "http://127.0.0.1:8000")
    assert url.startswith("http://127.0.0.1:8000/station/link/")
    tablet = Client(HTTP_ACCEPT_LANGUAGE="en")

    shown = tablet.get(path_of(url))
    assert shown.status_code == 200 and b"WC-CUT" in shown.content
    assert Station.objects.count() == 0  # opening the link spends nothing

    used = tablet.post(path_of(url))
    assert used.status_code == 302 and used["Location"] == "/station/"
    station = Station.objects.get()
    assert (station.work_center.code, station.name, station.is_active) == ("WC-CUT", "WC-CUT-1", True)
    assert used.cookies[COOKIE]["path"] == "/station/" and used.cookies[COOKIE]["httponly"]
    assert tablet.get("/station/").status_code == 200

    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    again = other.post(path_of(url))
    assert again.status_code == 409
    assert b"was used already" in again.content
    assert Station.objects.count() == 1 and COOKIE not in again.cookies


def test_an_expired_link_is_refused_and_makes_no_station(plant):
    link, secret = station_link_create(work_center_code="WC-CUT", hours=1)
    StationLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post(f"/station/link/{secret}/")
    assert response.status_code == 409
    assert b"This station link expired at" in response.content
    assert Station.objects.count() == 0


def test_a_wrong_or_revoked_link_is_refused(plant):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/station/link/not-a-real-secret/")
    assert response.status_code == 404 and b"This station link is not valid" in response.content
    link, secret = station_link_create(work_center_code="WC-CUT")
    StationLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now())
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post(f"/station/link/{secret}/")
    assert response.status_code == 409 and b"was revoked" in response.content
    assert Station.objects.count() == 0


def test_an_unknown_work_center_is_a_clear_error_of_the_command(plant):
    with pytest.raises(CommandError) as refused:
        link_command("WC-NOPE")
    assert str(refused.value) == "No work center has the code WC-NOPE. Known work centers: WC-CUT, WC-PAINT, WC-WELD."
    assert StationLink.objects.count() == 0


def test_the_link_can_name_a_machine_and_ask_for_a_pin(plant):
    from tests.factories import EquipmentFactory

    EquipmentFactory(code="SAW-01", work_center=plant["centers"]["WC-CUT"])
    url = link_command("WC-CUT", "--equipment", "SAW-01", "--pin", "--base-url", "http://127.0.0.1:8000")
    Client().post(path_of(url))
    station = Station.objects.get()
    assert (station.equipment.code, station.is_pin_required) == ("SAW-01", True)
    with pytest.raises(CommandError, match="Work center WC-WELD has no machine SAW-01."):
        link_command("WC-WELD", "--equipment", "SAW-01")


def test_a_revoked_station_is_refused_at_once_and_its_reports_are_kept_by_the_tablet(released_order, station_pair):
    station, secret = station_pair
    supervisor = person("chief", "supervisor")
    station_revoke(station_id=station.pk, actor=supervisor)
    station_revoke(station_id=station.pk, actor=supervisor)  # again: nothing changes
    tablet = station_client(secret)

    assert tablet.get("/station/").status_code == 302
    response = post(tablet, "/station/api/report", report_body())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_station"
    assert released_order.confirmations.count() == 0
    assert Event.objects.filter(object_type="station", action="revoke").count() == 1


def test_a_supervisor_makes_a_tablet_a_station_and_is_signed_out_of_it(plant):
    chief = person("chief", "supervisor")
    tablet = Client(HTTP_ACCEPT_LANGUAGE="en")
    tablet.force_login(chief)
    assert tablet.get("/station/setup/").status_code == 200

    response = tablet.post("/station/setup/", {"action": "create", "work_center": "WC-CUT", "name": "Saw corner"})

    assert response.status_code == 302 and response["Location"] == "/station/"
    station = Station.objects.get()
    assert (station.name, station.work_center.code, station.created_by) == ("Saw corner", "WC-CUT", "chief")
    assert tablet.get("/station/").status_code == 200
    assert tablet.get("/station/setup/").status_code == 302  # the supervisor's session ended on the tablet


def test_a_supervisor_revokes_a_station_on_the_set_up_page(station_pair):
    station, secret = station_pair
    chief = person("chief", "supervisor")
    office = Client(HTTP_ACCEPT_LANGUAGE="en")
    office.force_login(chief)
    response = office.post("/station/setup/", {"action": "revoke", "station": station.pk}, follow=True)
    assert b"is revoked" in response.content
    station.refresh_from_db()
    assert (station.is_active, station.revoked_by) == (False, "chief")
    assert station_client(secret).get("/station/").status_code == 302
    assert office.post("/station/setup/", {"action": "revoke", "station": "x" * 30}, follow=True).status_code == 200


def test_only_supervisors_open_the_set_up_page(plant):
    assert Client().get("/station/setup/")["Location"].startswith("/accounts/login/")
    li = person("li", "operator")
    operator = Client()
    operator.force_login(li)
    assert operator.get("/station/setup/").status_code == 403
    assert operator.get("/station/documents/badge-cards.pdf").status_code == 403
