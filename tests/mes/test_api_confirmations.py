"""Confirmations over the API: 201 then 200 on replay, 409 on conflict, the read shape, bulk, reversal."""

import datetime
import uuid

import pytest
from django.utils import timezone

from erp_sync.models import OutboxMessage
from mes.models import Confirmation
from mes.services.accounts import api_user_bind
from tests.conftest import ORDER
from tests.helpers import operation_of, snapshot

URL = "/api/v1/confirmations"


@pytest.fixture
def operator(operator, plant):
    """The operator's token, bound to the badge and station its reports name (it may name no other)."""
    api_user_bind(username="station-07", badge="B-1001", stations=["ST-07"])
    return operator


def body(**overrides) -> dict:
    return {
        "client_id": str(uuid.uuid4()),
        "work_order": ORDER,
        "operation": 10,
        "good_qty": 4,
        "scrap_qty": 1,
        "rework_qty": 0,
        "reason_code": "SCRAP-01",
        "operator_badge": "B-1001",
        "station": "ST-07",
        "labor_minutes": 30,
        "machine_minutes": 25,
        "final": False,
        **overrides,
    }


def instant(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_post_confirmation_is_201_with_the_documented_shape(released_order, operator):
    reported_at = (timezone.now() - datetime.timedelta(hours=3)).replace(microsecond=0)  # sent later, from offline
    sent = body(confirmed_at=reported_at.astimezone(datetime.timezone(datetime.timedelta(hours=8))).isoformat())

    response = operator.post(URL, sent)

    assert response.status_code == 201
    answer = response.json()
    row = Confirmation.objects.get()
    assert set(answer) == {
        "id", "client_id", "kind", "work_order", "operation", "good_qty", "scrap_qty", "rework_qty", "reason_code",
        "operator_badge", "station", "labor_minutes", "machine_minutes", "final", "confirmed_at", "recorded_at",
        "reverses", "reversed_by", "erp_sync", "consumptions", "output",
    }
    assert {key: value for key, value in answer.items() if key not in {"confirmed_at", "recorded_at", "erp_sync"}} == {
        "id": str(row.uuid), "client_id": sent["client_id"], "kind": "confirmation", "work_order": ORDER, "operation": 10,
        "good_qty": 4, "scrap_qty": 1, "rework_qty": 0, "reason_code": "SCRAP-01", "operator_badge": "B-1001",
        "station": "ST-07", "labor_minutes": 30, "machine_minutes": 25, "final": False, "reverses": None, "reversed_by": None,
        "consumptions": [], "output": None,
    }
    assert instant(answer["confirmed_at"]) == reported_at
    assert instant(answer["recorded_at"]) == row.recorded_at
    assert {key: value for key, value in answer["erp_sync"].items() if key != "queued_at"} == {
        "state": "queued", "attempts": 0, "erp_document": None, "last_error": None, "acknowledged_at": None
    }
    assert row.recorded_by == operator.user


def test_get_confirmation_answers_what_post_answered_with_sync_state_queued(released_order, operator, quality):
    posted = operator.post(URL, body()).json()

    response = quality.get(f"{URL}/{posted['id']}")

    assert response.status_code == 200
    assert response.json() == posted
    assert response.json()["erp_sync"]["state"] == "queued"
    assert instant(response.json()["erp_sync"]["queued_at"]) == OutboxMessage.objects.get().created_at


def test_replay_is_200_with_the_same_id_and_writes_nothing(released_order, operator):
    sent = body()
    first = operator.post(URL, sent)
    before = snapshot()

    replay = operator.post(URL, {**sent, "good_qty": "4.000", "confirmed_at": "2030-01-15T09:00:00Z"})

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    assert snapshot() == before


def test_same_client_id_with_different_content_is_409_and_changes_nothing(released_order, operator):
    sent = body()
    operator.post(URL, sent)
    before = snapshot()

    response = operator.post(URL, {**sent, "good_qty": 5})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "client_id_conflict"
    assert response.json()["error"]["fields"] == {"client_id": sent["client_id"]}
    assert snapshot() == before


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"good_qty": 10}, 422, "quantity_exceeds_available"),
        ({"scrap_qty": 0, "good_qty": 0}, 422, "empty_confirmation"),
        ({"reason_code": ""}, 422, "reason_code_required"),
        ({"reason_code": "PAUSE-01"}, 422, "reason_code_wrong_kind"),
        ({"operator_badge": "B-0000"}, 403, "badge_not_bound"),  # an operator names only its own badge
        ({"operation": 40}, 422, "unknown_operation"),
        ({"labor_minutes": 721}, 422, "implausible_labor_minutes"),
        ({"work_order": "WO-NOPE"}, 404, "unknown_work_order"),
    ],
)
def test_refused_confirmation_answers_its_code_and_leaves_nothing(released_order, operator, overrides, status, code):
    before = snapshot()

    response = operator.post(URL, body(**overrides))

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert response.json()["error"]["message"]
    assert snapshot() == before


def test_a_supervisor_naming_a_badge_nobody_holds_is_told_so(released_order, supervisor):
    before = snapshot()

    response = supervisor.post(URL, body(operator_badge="B-0000"))

    assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_operator")
    assert snapshot() == before


def test_confirmation_on_a_planned_order_is_409(planned_order, operator):
    response = operator.post(URL, body())

    assert (response.status_code, response.json()["error"]["code"]) == (409, "work_order_not_released")
    assert Confirmation.objects.count() == OutboxMessage.objects.count() == 0


def test_null_optional_fields_are_read_as_empty(released_order, operator):
    response = operator.post(URL, body(scrap_qty=0, reason_code=None, operator_badge=None, station=None))

    assert response.status_code == 201
    assert (response.json()["reason_code"], response.json()["operator_badge"], response.json()["station"]) == (None, None, "")


# --- bulk ------------------------------------------------------------------------------------


def test_bulk_answers_each_confirmation_on_its_own_and_in_order(released_order, operator):
    replayed = operator.post(URL, body(good_qty=1, scrap_qty=0)).json()
    confirmations = [
        body(good_qty=2, scrap_qty=0),
        {**body(), "good_qty": "lots"},
        body(good_qty=100, scrap_qty=0),
        body(client_id=replayed["client_id"], good_qty=1, scrap_qty=0),
        body(good_qty=1, scrap_qty=0, work_order="WO-NOPE"),
        body(operation=20, good_qty=3, scrap_qty=0),
    ]

    response = operator.post(f"{URL}/bulk", {"confirmations": confirmations})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["status"] for result in results] == [201, 400, 422, 200, 404, 201]
    assert [result.get("error", {}).get("code") for result in results] == [
        None, "invalid_request", "quantity_exceeds_available", None, "unknown_work_order", None
    ]
    assert set(results[1]["error"]["fields"]) == {"good_qty"}
    assert results[3]["id"] == replayed["id"]
    assert [result["id"] for result in results if result["status"] == 201] == [
        str(Confirmation.objects.get(client_id=confirmations[index]["client_id"]).uuid) for index in (0, 5)
    ]
    assert (operation_of(ORDER, 10).good_qty, operation_of(ORDER, 20).good_qty) == (3, 3)
    assert OutboxMessage.objects.count() == 3


def test_bulk_replayed_as_a_whole_answers_200_for_each_and_writes_nothing(released_order, operator):
    confirmations = [body(good_qty=1, scrap_qty=0) for _ in range(5)]
    first = operator.post(f"{URL}/bulk", {"confirmations": confirmations}).json()
    before = snapshot()

    replay = operator.post(f"{URL}/bulk", {"confirmations": confirmations})

    assert [result["status"] for result in first["results"]] == [201] * 5
    assert replay.json() == {"results": [{"status": 200, "id": result["id"]} for result in first["results"]]}
    assert snapshot() == before


@pytest.mark.parametrize("envelope", [{"confirmations": []}, {"records": [body()]}, {"confirmations": body()}, [body()]])
def test_bulk_with_a_wrong_envelope_is_400(released_order, operator, envelope):
    response = operator.post(f"{URL}/bulk", envelope)

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_request")
    assert Confirmation.objects.count() == 0


def test_bulk_over_a_thousand_is_400(released_order, operator):
    response = operator.post(f"{URL}/bulk", {"confirmations": [body(good_qty="0.001", scrap_qty=0) for _ in range(1001)]})

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"confirmations"}
    assert Confirmation.objects.count() == 0


# --- reversal --------------------------------------------------------------------------------


def test_reverse_is_201_then_200_with_the_same_reversal(released_order, operator, supervisor):
    original = operator.post(URL, body()).json()

    first = supervisor.post(f"{URL}/{original['id']}/reverse", {"reason": "wrong order"})
    before = snapshot()
    second = supervisor.post(f"{URL}/{original['id']}/reverse")

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == first.json()
    assert snapshot() == before
    reversal = first.json()
    assert (reversal["kind"], reversal["reverses"], reversal["good_qty"], reversal["scrap_qty"], reversal["final"]) == (
        "reversal", original["id"], -4, -1, False
    )
    assert reversal["erp_sync"]["state"] == "queued"
    assert supervisor.get(f"{URL}/{original['id']}").json()["reversed_by"] == reversal["id"]
    assert operation_of(ORDER, 10).good_qty == 0


def test_reverse_of_a_reversal_is_409(released_order, operator, supervisor):
    original = operator.post(URL, body()).json()
    reversal = supervisor.post(f"{URL}/{original['id']}/reverse").json()
    before = snapshot()

    response = supervisor.post(f"{URL}/{reversal['id']}/reverse")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "cannot_reverse_reversal")
    assert snapshot() == before


def test_reverse_of_an_unknown_confirmation_is_404(released_order, supervisor):
    response = supervisor.post(f"{URL}/{uuid.uuid4()}/reverse")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "unknown_confirmation")


def test_get_unknown_confirmation_is_404(released_order, operator):
    response = operator.get(f"{URL}/{uuid.uuid4()}")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "unknown_confirmation")


# --- query budget ------------------------------------------------------------------------------


def test_confirmation_post_stays_within_its_query_budget(released_order, operator, django_assert_max_num_queries):
    operator.post(URL, body())  # the first report also starts the order and the operation

    with django_assert_max_num_queries(13):  # a good-only report by badge, as stations send most
        response = operator.post(URL, body(good_qty=1, scrap_qty=0, reason_code=""))

    assert response.status_code == 201


def test_bulk_confirmation_queries_do_not_grow_with_the_batch(released_order, operator, django_assert_max_num_queries):
    operator.post(URL, body())
    small = [body(good_qty="0.001", scrap_qty=0) for _ in range(5)]
    large = [body(good_qty="0.001", scrap_qty=0) for _ in range(40)]  # under SQLite's bulk_create batch size

    with django_assert_max_num_queries(15) as for_small:
        operator.post(f"{URL}/bulk", {"confirmations": small})
    with django_assert_max_num_queries(15) as for_large:
        response = operator.post(f"{URL}/bulk", {"confirmations": large})

    assert [result["status"] for result in response.json()["results"]] == [201] * 40
    assert len(for_large.captured_queries) == len(for_small.captured_queries)
