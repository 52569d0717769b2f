"""A confirmation's time must be plausible: not further back than MES_CONFIRMED_AT_MAX_PAST_DAYS, not
further ahead than MES_CONFIRMED_AT_MAX_FUTURE_MINUTES. Years 0001 and 9999 would become posting
dates the ERP refuses, dead-lettering the message and blocking its order. Refused on every path
(single, bulk, station) with 422 implausible_confirmed_at naming the field; nothing is written."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone, translation

from common.errors import DomainError
from mes.models import Confirmation
from mes.services.confirmations import operation_confirm, operation_confirm_many
from shopfloor.station.services import station_create
from tests.conftest import ORDER
from tests.helpers import confirmation_request, snapshot
from tests.station.conftest import post, report_body, station_client

URL = "/api/v1/confirmations"


@pytest.fixture
def tablet(plant):
    """A station of WC-CUT (operation 10) and the browser holding its cookie."""
    _station, secret = station_create(work_center_code="WC-CUT")
    return station_client(secret)


@pytest.fixture
def window(settings):
    settings.MES_CONFIRMED_AT_MAX_PAST_DAYS = 10
    settings.MES_CONFIRMED_AT_MAX_FUTURE_MINUTES = 5
    return settings


def body(**fields) -> dict:
    return {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": 1, **fields}


@pytest.mark.parametrize(
    "confirmed_at", ["0001-01-01T00:00:00Z", "9999-12-30T00:00:00Z", "9999-12-31T23:59:59", "1970-01-01T00:00:00+08:00"]
)
def test_a_confirmation_in_year_1_or_9999_is_422_naming_the_field_and_writes_nothing(released_order, operator, confirmed_at):
    before = snapshot()

    response = operator.post(URL, body(confirmed_at=confirmed_at))

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "implausible_confirmed_at"
    assert list(error["fields"]) == ["confirmed_at"]
    assert "不合理：必须在" in error["message"]  # the API speaks the plant's language unless asked otherwise
    assert snapshot() == before


@pytest.mark.parametrize("confirmed_at", ["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_at_the_ends_of_the_calendar_is_400_not_500(released_order, operator, confirmed_at):
    operator.raise_request_exception = False
    before = snapshot()

    single = operator.post(URL, body(confirmed_at=confirmed_at))
    bulk = operator.post(f"{URL}/bulk", {"confirmations": [body(confirmed_at=confirmed_at)]})

    assert single.status_code == 400, single.content
    assert list(single.json()["error"]["fields"]) == ["confirmed_at"]
    assert bulk.status_code == 200 and [result["status"] for result in bulk.json()["results"]] == [400]
    assert snapshot() == before


def test_bulk_refuses_the_implausible_record_and_records_the_others(released_order, operator):
    plausible = body(confirmed_at=(timezone.now() - datetime.timedelta(days=2)).isoformat())

    response = operator.post(f"{URL}/bulk", {"confirmations": [body(confirmed_at="9999-12-30T00:00:00Z"), plausible]})

    results = response.json()["results"]
    assert [result["status"] for result in results] == [422, 201]
    assert results[0]["error"]["code"] == "implausible_confirmed_at"
    assert list(Confirmation.objects.values_list("client_id", flat=True)) == [uuid.UUID(plausible["client_id"])]


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (-datetime.timedelta(days=10) + datetime.timedelta(minutes=1), True),
        (-datetime.timedelta(days=10) - datetime.timedelta(minutes=1), False),
        (datetime.timedelta(minutes=4), True),
        (datetime.timedelta(minutes=6), False),
    ],
    ids=["just-inside-the-past", "just-outside-the-past", "just-inside-the-future", "just-outside-the-future"],
)
@pytest.mark.parametrize("path", ["single", "bulk"])
def test_the_window_follows_the_settings_on_both_service_paths(released_order, window, offset, accepted, path):
    request = confirmation_request(good_qty=1, confirmed_at=timezone.now() + offset)
    before = snapshot()

    with translation.override("en"):
        if path == "single":
            try:
                outcome = operation_confirm(request=request)
            except DomainError as error:
                outcome = error
        else:
            (outcome,) = operation_confirm_many(requests=[request])

    if accepted:
        assert outcome.created is True
        assert Confirmation.objects.get().confirmed_at == request.confirmed_at
    else:
        assert isinstance(outcome, DomainError) and outcome.code == "implausible_confirmed_at"
        assert "(at most 10 days back and 5 minutes ahead of now)" in outcome.message
        assert snapshot() == before


def test_a_resend_of_a_recorded_report_is_answered_whatever_time_it_carries(released_order, operator):
    sent = body()
    first = operator.post(URL, sent)

    resent = operator.post(URL, {**sent, "confirmed_at": "9999-12-30T00:00:00Z"})

    assert (first.status_code, resent.status_code) == (201, 200)
    assert resent.json() == first.json()


def test_a_station_report_with_an_implausible_time_is_refused(released_order, tablet):
    before = snapshot()

    response = post(tablet, "/station/api/report", report_body(confirmed_at="2000-01-01T08:00:00+08:00"))

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "implausible_confirmed_at"
    assert snapshot() == before


def test_a_station_report_sent_a_week_late_from_offline_is_accepted_with_the_defaults(released_order, tablet):
    from django.conf import settings

    assert (settings.MES_CONFIRMED_AT_MAX_PAST_DAYS, settings.MES_CONFIRMED_AT_MAX_FUTURE_MINUTES) >= (30, 15)
    late = timezone.now() - datetime.timedelta(hours=settings.MES_STATION_OPERATOR_PROOF_HOURS - 1)

    response = post(tablet, "/station/api/report", report_body(confirmed_at=late.isoformat()))

    assert response.status_code == 201, response.content
    assert Confirmation.objects.get().confirmed_at == late


@pytest.mark.parametrize(
    ("env", "variable", "value"),
    [
        ({"MES_CONFIRMED_AT_MAX_PAST_DAYS": "5"}, "MES_CONFIRMED_AT_MAX_PAST_DAYS", "5"),  # < 168 h of station proof
        (
            {"MES_CONFIRMED_AT_MAX_PAST_DAYS": "10", "MES_STATION_OPERATOR_PROOF_HOURS": "480"},
            "MES_CONFIRMED_AT_MAX_PAST_DAYS",
            "10",
        ),
        ({"MES_CONFIRMED_AT_MAX_FUTURE_MINUTES": "-1"}, "MES_CONFIRMED_AT_MAX_FUTURE_MINUTES", "-1"),
        ({"MES_CONFIRMED_AT_MAX_PAST_DAYS": "a month"}, "MES_CONFIRMED_AT_MAX_PAST_DAYS", "a month"),
    ],
)
@pytest.mark.subprocess
def test_a_bad_window_or_one_shorter_than_what_stations_send_late_stops_start_up(tmp_path, env, variable, value):
    from tests.test_settings import _start

    result = _start(tmp_path, **env)

    assert result.returncode != 0 and "started" not in result.stdout
    assert f"Environment variable {variable}={value!r} is invalid" in result.stderr
