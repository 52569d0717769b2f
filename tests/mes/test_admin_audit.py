"""Changes made on the admin pages join the audit trail: who, when, before and after —
inline rows included, secrets never shown — and the admin refuses what the services would refuse."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django import forms
from django.contrib.auth.models import Group, User

from erp_sync.models import ErpConnection
from erp_sync.services import erp_connection_upsert
from mes.models import Event, ReasonCode, Routing
from mes.services.master_data import item_upsert, reason_code_upsert, work_center_upsert
from shopfloor.models import StationLink
from shopfloor.station.services import station_link_create

pytestmark = pytest.mark.django_db

SAP_URL = "https://sap.example.test/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV"


def admin_form_data(response) -> dict:
    """What the browser would send back for an admin change page as it was rendered."""
    assert response.status_code == 200, response.status_code
    data: dict = {}

    def add(form: forms.BaseForm) -> None:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            key, value, widget = form.add_prefix(name), form[name].value(), field.widget
            if isinstance(widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(widget, forms.MultiWidget):
                for index, part in enumerate(widget.decompress(value)):
                    data[f"{key}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, (list, tuple)):
                data[key] = [str(part) for part in value]
            else:
                data[key] = "" if value is None else str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data


def _latest(object_type: str, object_key: str) -> Event:
    return Event.objects.filter(object_type=object_type, object_key=object_key).latest("id")


def test_an_item_changed_in_the_admin_is_audited_with_before_and_after(admin_client):
    item = item_upsert(code="FRAME", name="Frame", unit="PCS").obj
    url = f"/admin/mes/item/{item.pk}/change/"

    saved = admin_client.post(url, admin_form_data(admin_client.get(url)) | {"name": "Frame, welded"})

    assert saved.status_code == 302
    event = _latest("item", "FRAME")
    assert (event.action, event.actor.username, event.actor_label) == ("update", "admin", "admin")
    assert (event.before["name"], event.after["name"]) == ("Frame", "Frame, welded")
    assert event.after["unit"] == "PCS"  # related records by their name, not a bare id

    events = Event.objects.count()
    unchanged = admin_client.post(url, admin_form_data(admin_client.get(url)))
    assert unchanged.status_code == 302
    assert Event.objects.count() == events, "a save without a change adds no event"


def test_routing_operations_edited_inline_are_part_of_the_routings_event(admin_client, plant):
    url = f"/admin/mes/routing/{Routing.objects.get(item=plant['item']).pk}/change/"
    data = admin_form_data(admin_client.get(url))
    (name_key,) = [key for key, value in data.items() if key.endswith("-name") and value == "Weld"]
    run_key = name_key.replace("-name", "-run_minutes_per_unit")

    saved = admin_client.post(url, data | {name_key: "Weld and grind", run_key: "2.25"})

    assert saved.status_code == 302
    event = _latest("routing", plant["item"].code)
    assert event.action == "update"
    before, after = event.before["routingoperation"], event.after["routingoperation"]
    assert [(row["sequence"], row["name"], row["work_center"]) for row in before] == [
        (10, "Cut", "WC-CUT"), (20, "Weld", "WC-WELD"), (30, "Paint", "WC-PAINT")
    ]
    assert (after[1]["name"], Decimal(after[1]["run_minutes_per_unit"])) == ("Weld and grind", Decimal("2.25"))
    assert (before[1]["name"], Decimal(before[1]["run_minutes_per_unit"])) == ("Weld", Decimal(4))
    assert (after[0], after[2]) == (before[0], before[2])


def test_a_connection_changed_in_the_admin_never_shows_its_secrets_in_the_trail(admin_client):
    connection, _created = erp_connection_upsert(
        name="plant-sap", kind="sap", base_url=SAP_URL, username="MES_RFC", password="old-pass-4711", is_default=True
    )
    url = f"/admin/erp_sync/erpconnection/{connection.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    assert "old-pass-4711" not in admin_client.get(url).content.decode(), "the stored password is never shown back"

    saved = admin_client.post(url, data | {"password": "new-pass-0815", "timeout_seconds": "20"})

    assert saved.status_code == 302
    connection.refresh_from_db()
    assert (connection.password, connection.timeout_seconds) == ("new-pass-0815", 20)
    event = _latest("erp_connection", "plant-sap")
    assert (event.before["password"], event.after["password"]) == ("***", "*** (changed)")
    assert (event.before["timeout_seconds"], event.after["timeout_seconds"]) == (10, 20)
    trail = json.dumps(list(Event.objects.values("before", "after")))
    assert "old-pass-4711" not in trail and "new-pass-0815" not in trail

    # An empty password field keeps the stored one, and says nothing changed about it.
    admin_client.post(url, admin_form_data(admin_client.get(url)) | {"password": "", "username": "MES_RFC2"})
    event = _latest("erp_connection", "plant-sap")
    assert (event.after["username"], event.after["password"]) == ("MES_RFC2", "***")
    connection.refresh_from_db()
    assert connection.password == "new-pass-0815"


def test_the_admin_refuses_connection_options_as_the_api_would(admin_client):
    erp_connection_upsert(name="plant-sap", kind="sap", base_url=SAP_URL, is_default=True)
    backup, _ = erp_connection_upsert(name="backup-sap", kind="sap", base_url=SAP_URL)
    events = Event.objects.count()
    url = f"/admin/erp_sync/erpconnection/{backup.pk}/change/"
    data = admin_form_data(admin_client.get(url))

    bad_options = admin_client.post(url, data | {"options": '{"csrf": "yes"}'}, HTTP_ACCEPT_LANGUAGE="en")

    assert bad_options.status_code == 200 and "csrf: true or false." in bad_options.content.decode()
    backup.refresh_from_db()
    assert (backup.options, backup.is_default) == ({}, False)
    assert Event.objects.count() == events, "a refused form records nothing"


def test_a_second_default_set_in_the_admin_takes_the_role_as_the_service_does(admin_client):
    erp_connection_upsert(name="plant-sap", kind="sap", base_url=SAP_URL, is_default=True)
    backup, _ = erp_connection_upsert(name="backup-sap", kind="sap", base_url=SAP_URL)
    url = f"/admin/erp_sync/erpconnection/{backup.pk}/change/"

    saved = admin_client.post(url, admin_form_data(admin_client.get(url)) | {"is_default": "on"}, HTTP_ACCEPT_LANGUAGE="en")

    assert saved.status_code == 302
    assert list(ErpConnection.objects.filter(is_default=True).values_list("name", flat=True)) == ["backup-sap"]
    event = _latest("erp_connection", "backup-sap")
    assert (event.action, event.before["is_default"], event.after["is_default"]) == ("update", False, True)


def test_a_connection_added_in_the_admin_as_default_takes_the_role_too(admin_client):
    erp_connection_upsert(name="plant-sap", kind="sap", base_url=SAP_URL, is_default=True)
    data = admin_form_data(admin_client.get("/admin/erp_sync/erpconnection/add/"))

    added = admin_client.post(
        "/admin/erp_sync/erpconnection/add/",
        data | {"name": "new-sap", "kind": "sap", "base_url": SAP_URL, "timeout_seconds": "10", "options": "{}", "is_default": "on", "is_enabled": "on"},
    )

    assert added.status_code == 302
    assert list(ErpConnection.objects.filter(is_default=True).values_list("name", flat=True)) == ["new-sap"]
    assert _latest("erp_connection", "new-sap").action == "create"


def test_deleting_in_the_admin_keeps_what_was_deleted_in_the_trail(admin_client):
    scrap = reason_code_upsert(code="SC-01", kind="scrap", name="Burr").obj
    reason_code_upsert(code="SC-02", kind="scrap", name="Crack")
    reason_code_upsert(code="SC-03", kind="scrap", name="Dent")

    one = admin_client.post(f"/admin/mes/reasoncode/{scrap.pk}/delete/", {"post": "yes"})
    several = admin_client.post(
        "/admin/mes/reasoncode/",
        {"action": "delete_selected", "_selected_action": list(ReasonCode.objects.values_list("pk", flat=True)), "post": "yes"},
    )

    assert one.status_code == 302 and several.status_code == 302
    assert not ReasonCode.objects.exists()
    deleted = {event.object_key: event for event in Event.objects.filter(object_type="reasoncode", action="delete")}
    assert set(deleted) == {"SC-01", "SC-02", "SC-03"}
    assert deleted["SC-02"].before["name"] == "Crack" and deleted["SC-02"].after is None
    assert all(event.actor.username == "admin" for event in deleted.values())


def test_giving_a_user_a_role_in_the_admin_is_audited(admin_client):
    planner_role, _ = Group.objects.get_or_create(name="planner")
    user = User.objects.create_user("li.wei", password="a-long-password-1")
    url = f"/admin/auth/user/{user.pk}/change/"

    saved = admin_client.post(url, admin_form_data(admin_client.get(url)) | {"groups": [str(planner_role.pk)]})

    assert saved.status_code == 302
    assert list(user.groups.values_list("name", flat=True)) == ["planner"]
    event = _latest("user", "li.wei")
    assert (event.before["groups"], event.after["groups"]) == ([], ["planner"])
    assert event.after["password"] == "***", "not even the password's hash is copied into the trail"


def test_shifts_added_in_the_admin_and_links_revoked_there_are_audited(admin_client):
    center = work_center_upsert(code="WC-A", name="A").obj
    link, _secret = station_link_create(work_center_code="WC-A")

    added = admin_client.post(
        "/admin/shopfloor/shift/add/",
        {"work_center": center.pk, "name": "Early", "start_time": "06:00", "end_time": "14:00", "weekdays": ["1", "2"]},
    )
    revoked = admin_client.post(
        "/admin/shopfloor/stationlink/", {"action": "revoke_links", "_selected_action": [str(link.pk)]}
    )

    assert added.status_code == 302 and revoked.status_code == 302
    shift = _latest("shift", "WC-A/Early")
    assert (shift.action, shift.before, shift.after["start_time"], shift.after["weekdays"]) == ("create", None, "06:00:00", "12")
    assert StationLink.objects.get(pk=link.pk).revoked_at is not None
    assert _latest("station_link", str(link.pk)).action == "revoke"
