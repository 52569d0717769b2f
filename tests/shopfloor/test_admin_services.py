"""The shift and station admin pages write through the shop-floor services: the same checks as the
command and the tablet's set-up page, refusals shown on the form (never a server error), a shift
changed in place (it keeps its id), and the event the service records."""

from __future__ import annotations

import datetime

import pytest

from mes.models import Event
from mes.services.master_data import equipment_upsert, work_center_upsert
from shopfloor.models import Shift, Station
from shopfloor.services import ShiftSpec, shifts_set
from shopfloor.station.services import station_create
from tests.mes.test_admin_audit import admin_form_data

pytestmark = pytest.mark.django_db

EARLY = ShiftSpec("Early", datetime.time(6), datetime.time(14), "12345")
LATE = ShiftSpec("Late", datetime.time(14), datetime.time(22), "12345")


@pytest.fixture
def cutting():
    """Work center WC-CUT with machine SAW-1, and WC-WELD with WELD-1."""
    work_center_upsert(code="WC-CUT", name="Cutting")
    work_center_upsert(code="WC-WELD", name="Welding")
    equipment_upsert(code="SAW-1", name="Saw", work_center="WC-CUT")
    equipment_upsert(code="WELD-1", name="Welder", work_center="WC-WELD")


def _events(object_type: str) -> list[Event]:
    return list(Event.objects.filter(object_type=object_type).order_by("id"))


# --- shifts ----------------------------------------------------------------------------------


def test_shifts_set_again_are_changed_in_place_and_keep_their_ids(cutting):
    early, late = shifts_set(work_center_code="WC-CUT", shifts=[EARLY, LATE])

    shifts_set(work_center_code="WC-CUT", shifts=[ShiftSpec("Early", datetime.time(5), datetime.time(14), "123456"), LATE])
    shifts_set(work_center_code="WC-CUT", shifts=[ShiftSpec("Early", datetime.time(5), datetime.time(14), "123456")])

    assert list(Shift.objects.values_list("pk", "name", "start_time", "weekdays")) == [
        (early.pk, "Early", datetime.time(5), "123456")
    ]
    assert not Shift.objects.filter(pk=late.pk).exists()
    events = Event.objects.filter(object_type="work_center", object_key="WC-CUT", action="shifts_set").order_by("id")
    assert [[shift["name"] for shift in event.after["shifts"]] for event in events] == [["Early", "Late"], ["Early", "Late"], ["Early"]]


def test_a_shift_changed_in_the_admin_keeps_its_id_and_the_service_records_the_change(admin_client, cutting):
    early, _late = shifts_set(work_center_code="WC-CUT", shifts=[EARLY, LATE])
    url = f"/admin/shopfloor/shift/{early.pk}/change/"

    saved = admin_client.post(url, admin_form_data(admin_client.get(url)) | {"start_time": "05:30", "weekdays": ["1", "2"]})

    assert saved.status_code == 302
    assert Shift.objects.get(pk=early.pk).start_time == datetime.time(5, 30)
    (event,) = _events("shift")
    assert (event.object_key, event.action, event.actor.username) == ("WC-CUT/Early", "update", "admin")
    assert (event.before["start_time"], event.after["start_time"]) == ("06:00:00", "05:30:00")
    assert (event.before["weekdays"], event.after["weekdays"]) == ("12345", "12")


def test_a_shift_saved_unchanged_in_the_admin_records_nothing(admin_client, cutting):
    (early,) = shifts_set(work_center_code="WC-CUT", shifts=[EARLY])
    url = f"/admin/shopfloor/shift/{early.pk}/change/"

    saved = admin_client.post(url, admin_form_data(admin_client.get(url)))

    assert saved.status_code == 302
    assert _events("shift") == []


def test_a_shift_changed_in_the_admin_to_overlap_another_is_refused_on_the_form(admin_client, cutting):
    early, _late = shifts_set(work_center_code="WC-CUT", shifts=[EARLY, LATE])
    url = f"/admin/shopfloor/shift/{early.pk}/change/"

    refused = admin_client.post(
        url, admin_form_data(admin_client.get(url)) | {"end_time": "15:00"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    renamed = admin_client.post(url, admin_form_data(admin_client.get(url)) | {"name": "Late"}, HTTP_ACCEPT_LANGUAGE="en")

    assert refused.status_code == 200 and "Shifts Late and Early overlap" in refused.content.decode()
    assert renamed.status_code == 200 and "Two shifts have the same name." in renamed.content.decode()
    assert Shift.objects.get(pk=early.pk).end_time == datetime.time(14)
    assert _events("shift") == []


def test_a_shift_moved_to_a_machine_in_the_admin_is_judged_with_the_machines_shifts(admin_client, cutting):
    (early,) = shifts_set(work_center_code="WC-CUT", shifts=[EARLY])
    shifts_set(equipment_code="SAW-1", shifts=[ShiftSpec("Long", datetime.time(6), datetime.time(18), "12345")])
    saw = Shift.objects.get(name="Long").equipment
    url = f"/admin/shopfloor/shift/{early.pk}/change/"
    data = admin_form_data(admin_client.get(url)) | {"work_center": "", "equipment": str(saw.pk)}

    refused = admin_client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    moved = admin_client.post(url, data | {"start_time": "18:00", "end_time": "22:00"})

    assert refused.status_code == 200 and "Shifts Long and Early overlap" in refused.content.decode()
    assert moved.status_code == 302
    shift = Shift.objects.get(pk=early.pk)
    assert (shift.work_center_id, shift.equipment.code, shift.start_time) == (None, "SAW-1", datetime.time(18))
    (event,) = _events("shift")
    assert (event.object_key, event.before["work_center"], event.after["equipment"]) == ("SAW-1/Early", "WC-CUT", "SAW-1")


def test_shifts_deleted_in_the_admin_are_recorded_by_the_service(admin_client, cutting):
    early, late = shifts_set(work_center_code="WC-CUT", shifts=[EARLY, LATE])

    one = admin_client.post(f"/admin/shopfloor/shift/{early.pk}/delete/", {"post": "yes"})
    several = admin_client.post(
        "/admin/shopfloor/shift/", {"action": "delete_selected", "_selected_action": [str(late.pk)], "post": "yes"}
    )

    assert one.status_code == 302 and several.status_code == 302
    assert not Shift.objects.exists()
    deleted = _events("shift")
    assert [(event.object_key, event.action, event.after) for event in deleted] == [
        ("WC-CUT/Early", "delete", None), ("WC-CUT/Late", "delete", None)
    ]
    assert deleted[1].before["start_time"] == "14:00:00" and deleted[1].actor.username == "admin"


# --- stations --------------------------------------------------------------------------------


@pytest.fixture
def station(cutting) -> Station:
    station, _secret = station_create(work_center_code="WC-CUT", name="CUT-TABLET")
    return station


def _change(admin_client, station: Station, **changes):
    url = f"/admin/shopfloor/station/{station.pk}/change/"
    return admin_client.post(url, admin_form_data(admin_client.get(url)) | changes, HTTP_ACCEPT_LANGUAGE="en")


def test_a_station_changed_in_the_admin_is_written_and_recorded_by_the_station_service(admin_client, station):
    saw = station.work_center.equipment.get(code="SAW-1")
    credential = station.credential_hash

    saved = _change(admin_client, station, name=" CUT-1 ", equipment=str(saw.pk), is_pin_required="on")

    assert saved.status_code == 302
    station.refresh_from_db()
    assert (station.name, station.equipment.code, station.is_pin_required) == ("CUT-1", "SAW-1", True)
    assert station.credential_hash == credential, "the tablet keeps working"
    (event,) = [event for event in _events("station") if event.action == "update"]
    assert (event.object_key, event.actor.username) == ("CUT-1", "admin")
    assert event.before == {"name": "CUT-TABLET", "equipment": None, "pin": False}
    assert event.after == {"name": "CUT-1", "equipment": "SAW-1", "pin": True}


def test_a_station_saved_unchanged_in_the_admin_records_nothing(admin_client, station):
    saved = _change(admin_client, station)

    assert saved.status_code == 302
    assert [event.action for event in _events("station")] == ["create"]


@pytest.mark.parametrize(
    ("changes", "field", "said"),
    [
        ({"equipment": "WELD-1"}, "equipment", "Work center WC-CUT has no machine WELD-1."),
        ({"name": "TAKEN"}, "name", "A station named TAKEN exists already; choose another name."),
        ({"name": "   "}, "name", "This field is required."),
    ],
    ids=["machine-of-another-work-center", "name-taken", "blank-name"],
)
def test_what_the_station_service_refuses_is_shown_on_the_admin_form(admin_client, station, changes, field, said):
    station_create(work_center_code="WC-CUT", name="TAKEN")
    if "equipment" in changes:
        changes = {"equipment": str(Station.equipment.field.related_model.objects.get(code=changes["equipment"]).pk)}

    refused = _change(admin_client, station, **changes)

    assert refused.status_code == 200
    assert said in refused.context["adminform"].form.errors[field]
    station.refresh_from_db()
    assert (station.name, station.equipment_id) == ("CUT-TABLET", None)
    assert [event.action for event in _events("station")] == ["create", "create"]
