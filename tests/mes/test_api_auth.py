"""Authentication and what each role may do; the create_api_token command."""

import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import translation

from common.roles import user_roles
from mes.models import Confirmation, Employee, Event
from mes.models.accounts import ApiAccess, ApiToken, token_digest
from mes.services.accounts import api_token_create, api_user_bind, api_user_ensure
from tests.conftest import ORDER, persona
from tests.factories import EmployeeFactory
from tests.helpers import confirm, snapshot

ITEM_BODY = {"name": "Shaft", "unit": "PCS"}
ORDER_BODY = {"item": "FRAME-100", "quantity": 5, "due_date": "2030-03-01"}


def confirmation_body() -> dict:
    return {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": 1}


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", f"/api/v1/work-orders/{ORDER}", None),
        ("put", "/api/v1/items/SHAFT-1", ITEM_BODY),
        ("post", "/api/v1/confirmations", None),
        ("post", f"/api/v1/work-orders/{ORDER}/release", None),
        ("get", "/api/v1/confirmations/6a453529-c57d-408d-86db-952fd2a2c02c", None),
    ],
)
def test_request_without_a_token_is_401(planned_order, anonymous, method, path, data):
    before = snapshot()

    response = getattr(anonymous, method)(path, data)

    assert response.status_code == 401
    assert response.json() == {"error": {"code": "not_authenticated", "message": response.json()["error"]["message"]}}
    assert response["WWW-Authenticate"] == "Token"
    assert snapshot() == before


@pytest.mark.parametrize("header", ["Token 0123456789abcdef0123456789abcdef01234567", "Token", "Token a b", "Bearer xyz"])
def test_request_with_a_bad_token_is_401(planned_order, anonymous, header):
    anonymous.credentials(HTTP_AUTHORIZATION=header)

    response = anonymous.put("/api/v1/items/SHAFT-1", ITEM_BODY)

    expected = "not_authenticated" if header.startswith("Bearer") else "authentication_failed"
    assert (response.status_code, response.json()["error"]["code"]) == (401, expected)
    assert response.json()["error"]["message"]


def test_token_of_an_inactive_user_is_401(planned_order, operator):
    operator.user.is_active = False
    operator.user.save(update_fields=["is_active"])

    response = operator.get(f"/api/v1/work-orders/{ORDER}")

    assert (response.status_code, response.json()["error"]["code"]) == (401, "authentication_failed")


# (persona, method, path, body) → status. Bodies are built per test so client ids are fresh.
def requests_for(persona_name):
    return {
        "read order": ("get", f"/api/v1/work-orders/{ORDER}", None),
        "upsert item": ("put", "/api/v1/items/SHAFT-1", ITEM_BODY),
        "bulk items": ("post", "/api/v1/items/bulk", {"records": [{"code": "SHAFT-1", **ITEM_BODY}]}),
        "upsert order": ("put", "/api/v1/work-orders/WO-7001", ORDER_BODY),
        "release": ("post", "/api/v1/work-orders/WO-7000/release", None),
        "pause": ("post", f"/api/v1/work-orders/{ORDER}/pause", None),
        "confirm": ("post", "/api/v1/confirmations", confirmation_body()),
        "bulk confirm": ("post", "/api/v1/confirmations/bulk", {"confirmations": [confirmation_body()]}),
        "reverse": ("post", "/api/v1/confirmations/{original}/reverse", None),
    }


MATRIX = {
    #              read  item  bulk  order release pause confirm bulkc reverse
    "operator":    (200, 403, 403, 403, 403, 403, 201, 200, 403),
    "erp_client":  (200, 201, 200, 201, 403, 403, 403, 403, 403),
    "planner":     (200, 403, 403, 201, 200, 200, 403, 403, 201),
    "supervisor":  (200, 403, 403, 403, 403, 200, 201, 200, 201),
    "quality":     (200, 403, 403, 403, 403, 403, 403, 403, 403),
    "admin_api":   (200, 201, 200, 201, 200, 200, 201, 200, 201),
}
CASES = [
    pytest.param(persona, action, expected, id=f"{persona}-{action.replace(' ', '-')}")
    for persona, statuses in MATRIX.items()
    for action, expected in zip(requests_for(persona), statuses)
]


@pytest.fixture
def setting(released_order, plant):
    """WO-1001 running with one confirmation to reverse; WO-7000 planned, ready to release."""
    from tests.factories import WorkOrderFactory

    WorkOrderFactory(number="WO-7000", item=plant["item"])
    return {"original": confirm(good_qty=2).confirmation.uuid}


@pytest.mark.parametrize(("persona", "action", "expected"), CASES)
def test_each_role_may_do_exactly_what_its_job_needs(request, setting, persona, action, expected):
    client = request.getfixturevalue(persona)
    method, path, data = requests_for(persona)[action]
    before = snapshot()

    response = getattr(client, method)(path.format(**setting), data)

    assert response.status_code == expected, response.json()
    if expected == 403:
        assert response.json()["error"]["code"] == "forbidden"
        assert snapshot() == before


def test_operator_refused_an_upsert_is_told_which_roles_may(operator, db):
    response = operator.put("/api/v1/items/SHAFT-1", ITEM_BODY)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Your role (operator) does not allow PUT here; needed: admin, integration."


def test_user_without_a_role_may_do_nothing(planned_order, anonymous):
    user = get_user_model().objects.create(username="nobody")
    key = "0123456789abcdef0123456789abcdef01234567"
    ApiToken.objects.create(user=user, key_hash=token_digest(key), prefix=key[:8])
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = anonymous.get(f"/api/v1/work-orders/{ORDER}")

    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


# --- where a token may be used from ------------------------------------------------------------


@pytest.fixture
def fenced_erp(planned_order, anonymous):
    """An integration token accepted only from 10.1.0.0/16 and 192.168.5.20."""
    token = api_token_create(username="erp", role="integration", allowed_networks=["10.1.0.0/16", "192.168.5.20"])
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return anonymous


@pytest.mark.parametrize("address", ["10.1.0.1", "10.1.255.254", "192.168.5.20"])
def test_fenced_token_is_accepted_from_its_networks(fenced_erp, address):
    response = fenced_erp.put("/api/v1/items/SHAFT-1", ITEM_BODY, REMOTE_ADDR=address)

    assert response.status_code == 201


@pytest.mark.parametrize("address", ["10.2.0.1", "192.168.5.21", "127.0.0.1", "::1", ""])
def test_fenced_token_is_refused_from_elsewhere_and_writes_nothing(fenced_erp, address):
    before = snapshot()

    response = fenced_erp.put("/api/v1/items/SHAFT-1", ITEM_BODY, REMOTE_ADDR=address)

    assert (response.status_code, response.json()["error"]["code"]) == (401, "authentication_failed")
    assert snapshot() == before


def test_fenced_token_is_accepted_from_an_ipv4_client_seen_through_a_dual_stack_socket(fenced_erp):
    """A server listening on "::" sees IPv4 clients as ::ffff:a.b.c.d; that is still 10.1.2.3."""
    response = fenced_erp.put("/api/v1/items/SHAFT-1", ITEM_BODY, REMOTE_ADDR="::ffff:10.1.2.3")

    assert response.status_code == 201


def test_token_without_an_allow_list_is_accepted_from_anywhere(planned_order, erp_client):
    response = erp_client.get(f"/api/v1/work-orders/{ORDER}", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 200


# --- create_api_token --------------------------------------------------------------------------


def test_create_api_token_prints_only_the_token_and_gives_the_role(db):
    out, err = io.StringIO(), io.StringIO()

    call_command("create_api_token", "gateway-1", "--role", "operator", stdout=out, stderr=err)

    user = get_user_model().objects.get(username="gateway-1")
    assert token_digest(out.getvalue().removesuffix("\n")) == ApiToken.objects.get(user=user).key_hash
    assert err.getvalue() == ""
    assert user_roles(user) == {"operator"}
    assert not user.has_usable_password()


def test_create_api_token_twice_refuses_the_second_since_the_token_cannot_be_shown_again(db):
    first, second = io.StringIO(), io.StringIO()
    call_command("create_api_token", "erp", "--role", "integration", stdout=first)

    with translation.override("en"), pytest.raises(CommandError, match="already has an API token .*--rotate replaces it"):
        call_command("create_api_token", "erp", "--role", "integration", stdout=second)

    assert second.getvalue() == ""
    assert ApiToken.objects.get(user__username="erp").key_hash == token_digest(first.getvalue().strip())
    assert get_user_model().objects.filter(username="erp").count() == 1


def test_token_from_the_command_authenticates_with_its_role(planned_order, anonymous):
    out = io.StringIO()
    call_command("create_api_token", "mrp", "--role", "planner", stdout=out)
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")

    response = anonymous.post(f"/api/v1/work-orders/{ORDER}/release")

    assert (response.status_code, response.json()["status"]) == (200, "released")


def test_create_api_token_for_admin_makes_a_staff_user(db):
    call_command("create_api_token", "root", "--role", "admin", stdout=io.StringIO())

    assert get_user_model().objects.get(username="root").is_staff is True


def test_create_api_token_with_an_unknown_role_fails_and_creates_no_user(db):
    with pytest.raises(CommandError):
        call_command("create_api_token", "someone", "--role", "emperor", stdout=io.StringIO(), stderr=io.StringIO())

    assert not get_user_model().objects.filter(username="someone").exists()


def test_create_api_token_with_allow_from_fences_the_token(db):
    out = io.StringIO()

    call_command("create_api_token", "erp", "--role", "integration", "--allow-from", "10.1.0.0/16",
                 "--allow-from", "192.168.5.20", stdout=out)

    user = get_user_model().objects.get(username="erp")
    assert token_digest(out.getvalue().strip()) == ApiToken.objects.get(user=user).key_hash
    assert ApiAccess.objects.get(user=user).allowed_networks == "10.1.0.0/16 192.168.5.20"


def test_create_api_token_with_a_bad_network_fails_and_creates_no_user(db):
    with pytest.raises(CommandError):
        call_command("create_api_token", "erp", "--role", "integration", "--allow-from", "10.1.0.0/33", stdout=io.StringIO())

    assert not get_user_model().objects.filter(username="erp").exists()


# --- who an API confirmation may name ----------------------------------------------------------


def reported_by(**names) -> dict:
    return {**confirmation_body(), **names}


@pytest.mark.parametrize(
    ("names", "code", "field"),
    [
        ({"operator_badge": "B-1001"}, "badge_not_bound", "operator_badge"),
        ({"station": "ST-07"}, "station_not_bound", "station"),
    ],
)
def test_an_operator_token_bound_to_nothing_may_name_no_badge_and_no_station(released_order, operator, names, code, field):
    before = snapshot()

    response = operator.post("/api/v1/confirmations", reported_by(**names))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["fields"] == {field: names[field]}
    assert snapshot() == before


def test_an_operator_token_names_only_the_badge_and_stations_bound_to_it(released_order, operator):
    EmployeeFactory(badge="B-1002", name="Zhao Min")
    api_user_bind(username="station-07", badge="B-1001", stations=["ST-07", "ST-08"])

    own = operator.post("/api/v1/confirmations", reported_by(operator_badge="B-1001", station="ST-08"))
    before = snapshot()
    other_badge = operator.post("/api/v1/confirmations", reported_by(operator_badge="B-1002", station="ST-07"), HTTP_ACCEPT_LANGUAGE="en")
    other_station = operator.post("/api/v1/confirmations", reported_by(operator_badge="B-1001", station="ST-09"))

    assert own.status_code == 201
    assert (other_badge.status_code, other_badge.json()["error"]["code"]) == (403, "badge_not_bound")
    assert (other_station.status_code, other_station.json()["error"]["code"]) == (403, "station_not_bound")
    assert other_badge.json()["error"]["message"] == "station-07 may report only for the badge linked to it (B-1001), not for B-1002."
    assert snapshot() == before


def test_in_a_bulk_each_record_naming_someone_else_is_refused_on_its_own(released_order, operator):
    api_user_bind(username="station-07", badge="B-1001", stations=["ST-07"])
    records = [reported_by(operator_badge="B-1001", station="ST-07"), reported_by(operator_badge="B-9999"), reported_by(station="ST-99")]

    response = operator.post("/api/v1/confirmations/bulk", {"confirmations": records})

    results = response.json()["results"]
    assert response.status_code == 200
    assert [result["status"] for result in results] == [201, 403, 403]
    assert [result.get("error", {}).get("code") for result in results] == [None, "badge_not_bound", "station_not_bound"]
    assert list(Confirmation.objects.values_list("client_id", flat=True)) == [uuid.UUID(records[0]["client_id"])]


@pytest.mark.parametrize("persona", ["supervisor", "admin_api"])
def test_supervisors_and_admins_report_for_any_badge_and_station(request, released_order, persona):
    client = request.getfixturevalue(persona)

    response = client.post("/api/v1/confirmations", reported_by(operator_badge="B-1001", station="GATEWAY-3"))

    assert response.status_code == 201


def test_a_gateway_holding_the_integration_role_reports_for_any_badge(released_order):
    api_user_ensure(username="gateway-1", role="integration")
    gateway = persona("gateway-1", "operator")  # its token: the user holds both roles

    response = gateway.post("/api/v1/confirmations", reported_by(operator_badge="B-1001", station="PRESS-LINE-2"))

    assert response.status_code == 201


def test_create_api_user_binds_an_operator_to_a_badge_and_stations_and_audits_it(plant):
    out = io.StringIO()

    call_command("create_api_token", "tablet-3", "--role", "operator", "--badge", "B-1001", "--station", "ST-07", "--station", "ST-08", stdout=out)
    api_user_bind(username="tablet-3", badge="B-1001", stations=["ST-08", "ST-07"])  # the same again: nothing to record

    user = get_user_model().objects.get(username="tablet-3")
    assert Employee.objects.get(badge="B-1001").user == user
    assert ApiAccess.objects.get(user=user).station_names() == {"ST-07", "ST-08"}
    assert list(Event.objects.filter(object_type="api_access").order_by("pk").values_list("action", "actor_label", "after")) == [
        ("bind_badge", "manage.py create_api_token", {"badge": "B-1001"}),
        ("bind_stations", "manage.py create_api_token", {"stations": ["ST-07", "ST-08"]}),
    ]


def test_a_badge_linked_to_another_user_is_not_taken_over(plant):
    api_token_create(username="tablet-3", role="operator")
    api_user_bind(username="tablet-3", badge="B-1001")

    with translation.override("en"), pytest.raises(CommandError, match="Badge B-1001 is linked to user tablet-3 already"):
        call_command("create_api_token", "tablet-4", "--role", "operator", "--badge", "B-1001", stdout=io.StringIO())

    assert Employee.objects.get(badge="B-1001").user.username == "tablet-3"
    assert not get_user_model().objects.filter(username="tablet-4").exists()
