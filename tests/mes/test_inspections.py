"""Inspections: plans per routing operation (PUT, validated, copied at release), results (judged by
the server, idempotent on client_id), an order's inspections, and the gate on every confirmation path."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.utils import translation

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Event, InspectionCharacteristic, InspectionResult, OrderCharacteristic, WorkOrderOperation
from mes.services.confirmations import operation_confirm_many
from mes.services.quality import InspectionRequest, Samples, inspection_plan_set, inspection_record
from mes.services.work_orders import work_order_transition
from tests.conftest import ITEM, ORDER
from tests.factories import EquipmentFactory, UnitOfMeasureFactory
from tests.helpers import confirm, confirmation_request, snapshot

PLAN_URL = f"/api/v1/inspection-plans/{ITEM}/10"
RESULTS_URL = "/api/v1/inspections"


def measured(code: str = "LEN", **fields) -> dict:
    return {
        "code": code, "name": "Length", "kind": "measured", "nominal": "100", "lower_limit": "99.5", "upper_limit": "100.5",
        "unit": "MM", "sampling": {"rule": "first_piece"}, "mandatory": True, **fields,
    }


def attribute(code: str = "LOOK", **fields) -> dict:
    return {"code": code, "name": "Visual", "kind": "attribute", "sampling": {"rule": "per_report"}, "mandatory": True, **fields}


@pytest.fixture
def millimetre(plant):
    return UnitOfMeasureFactory(code="MM")


def plan(*characteristics: dict, sequence: int = 10) -> None:
    inspection_plan_set(item_code=ITEM, sequence=sequence, characteristics=[_as_service(spec) for spec in characteristics])


def _as_service(spec: dict) -> dict:
    """A characteristic as the serializer hands it to the service."""
    converted = dict(spec)
    for name in ("nominal", "lower_limit", "upper_limit"):
        converted[name] = Decimal(spec[name]) if spec.get(name) is not None else None
    converted.setdefault("unit", "")
    converted["sampling"] = {"rule": spec["sampling"]["rule"], "n": spec["sampling"].get("n")}
    return converted


def result(characteristic: str = "LEN", operation: int = 10, **fields) -> tuple:
    request = InspectionRequest(client_id=fields.pop("client_id", uuid.uuid4()), work_order=ORDER, operation=operation, characteristic=characteristic, **fields)
    outcome = inspection_record(request=request)
    return outcome.result, outcome.created


# --- plans -----------------------------------------------------------------------------------------


def test_a_plan_is_created_then_answered_unchanged_then_replaced_and_audited(erp_client, millimetre):
    body = {"characteristics": [measured(), attribute()]}

    created = erp_client.put(PLAN_URL, body)
    unchanged = erp_client.put(PLAN_URL, body)
    replaced = erp_client.put(PLAN_URL, {"characteristics": [measured(upper_limit="101", sampling={"rule": "every_n", "n": 5})]})

    assert (created.status_code, unchanged.status_code, replaced.status_code) == (201, 200, 200)
    assert [row["code"] for row in created.json()["characteristics"]] == ["LEN", "LOOK"]
    assert created.json()["characteristics"][0] == {
        "code": "LEN", "name": "Length", "kind": "measured", "nominal": 100, "lower_limit": 99.5,
        "upper_limit": 100.5, "unit": "MM", "sampling": {"rule": "first_piece", "n": None}, "mandatory": True,
    }
    (only,) = InspectionCharacteristic.objects.filter(item__code=ITEM, sequence=10)
    assert (only.code, only.upper_limit, only.sampling_rule, only.sampling_n) == ("LEN", Decimal("101"), "every_n", 5)
    assert [event.action for event in Event.objects.filter(object_type="inspection_plan").order_by("pk")] == ["create", "update"]
    assert erp_client.get(PLAN_URL).json()["characteristics"][0]["sampling"] == {"rule": "every_n", "n": 5}
    none = erp_client.get(f"/api/v1/inspection-plans/{ITEM}/20")
    assert (none.status_code, none.json()["error"]["code"]) == (404, "unknown_inspection_plan")


@pytest.mark.parametrize(
    "characteristic, code, field",
    [
        pytest.param(measured(lower_limit="101"), "limits_not_ordered", "characteristics[0].lower_limit", id="lower-above-upper"),
        pytest.param(measured(lower_limit="100.5"), "limits_not_ordered", "characteristics[0].lower_limit", id="lower-equals-upper"),
        pytest.param(measured(nominal="200"), "limits_not_ordered", "characteristics[0].lower_limit", id="nominal-outside"),
        pytest.param(measured(lower_limit=None, upper_limit=None), "limits_required", "characteristics[0].upper_limit", id="no-limits"),
        pytest.param(measured(unit="FURLONG"), "unknown_unit", "characteristics[0].unit", id="unknown-unit"),
        pytest.param(measured(sampling={"rule": "every_n"}), "invalid_sampling", "characteristics[0].sampling.n", id="every-n-without-n"),
        pytest.param(measured(sampling={"rule": "every_n", "n": 0}), "invalid_sampling", "characteristics[0].sampling.n", id="n-zero"),
        pytest.param(measured(sampling={"rule": "first_piece", "n": 3}), "invalid_sampling", "characteristics[0].sampling.n", id="n-not-every-n"),
        pytest.param(attribute(upper_limit="1"), "limits_on_attribute", "characteristics[0].upper_limit", id="attribute-limits"),
    ],
)
def test_a_plan_breaking_a_rule_is_refused_naming_it_and_nothing_is_written(erp_client, millimetre, characteristic, code, field):
    response = erp_client.put(PLAN_URL, {"characteristics": [characteristic]})

    assert response.status_code == 422, response.json()
    assert response.json()["error"]["code"] == code
    assert field in response.json()["error"]["fields"]
    assert not InspectionCharacteristic.objects.exists()


def test_a_plan_needs_a_known_routing_operation_unique_codes_and_its_fields(erp_client, millimetre):
    unknown = erp_client.put(f"/api/v1/inspection-plans/{ITEM}/99", {"characteristics": [measured()]})
    twice = erp_client.put(PLAN_URL, {"characteristics": [measured(), measured()]})
    shapeless = erp_client.put(PLAN_URL, {"characteristics": [{"code": "LEN", "kind": "weighed"}]})

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_routing_operation")
    assert (twice.status_code, twice.json()["error"]["code"]) == (422, "duplicate_characteristic")
    assert shapeless.status_code == 400
    assert not InspectionCharacteristic.objects.exists()


def test_who_may_set_plans_and_record_results(operator, quality, planner, millimetre):
    assert operator.put(PLAN_URL, {"characteristics": [measured()]}).status_code == 403
    assert planner.put(PLAN_URL, {"characteristics": [measured()]}).status_code == 403
    assert quality.put(PLAN_URL, {"characteristics": [measured()]}).status_code == 201
    assert planner.post(RESULTS_URL, {}).status_code == 403
    assert planner.get(PLAN_URL).status_code == 200


def test_release_copies_the_plan_and_marks_the_gated_operations_and_later_changes_leave_it(planned_order, millimetre):
    plan(measured(), attribute(mandatory=False))
    plan(attribute("LEAK", sampling={"rule": "every_n", "n": 2}, mandatory=False), sequence=20)

    work_order_transition(number=ORDER, action="release")
    plan(measured(upper_limit="120"))

    gated = dict(WorkOrderOperation.objects.filter(work_order__number=ORDER).values_list("sequence", "inspection_gated"))
    assert gated == {10: True, 20: False, 30: False}  # operation 20's only characteristic is not mandatory
    copies = OrderCharacteristic.objects.filter(operation__work_order__number=ORDER).order_by("operation__sequence", "position")
    assert [(copy.operation.sequence, copy.code, copy.upper_limit) for copy in copies] == [
        (10, "LEN", Decimal("100.5")), (10, "LOOK", None), (20, "LEAK", None),
    ]


# --- results --------------------------------------------------------------------------------------


@pytest.fixture
def inspected_order(planned_order, millimetre):
    plan(measured(), attribute())
    work_order_transition(number=ORDER, action="release")
    return planned_order


def test_a_measured_value_is_judged_by_the_server_and_a_resend_answers_the_original(operator, supervisor, inspected_order):
    inside = {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "characteristic": "LEN", "value": "100.5"}
    outside = {**inside, "client_id": str(uuid.uuid4()), "value": "100.51"}

    first = supervisor.post(RESULTS_URL, inside)
    again = supervisor.post(RESULTS_URL, inside)
    failing = supervisor.post(RESULTS_URL, outside)
    conflict = supervisor.post(RESULTS_URL, {**inside, "value": "99"})

    assert (first.status_code, again.status_code, failing.status_code) == (201, 200, 201)
    assert (first.json()["passed"], failing.json()["passed"]) == (True, False)
    assert first.json()["id"] == again.json()["id"]
    assert (first.json()["sample_no"], failing.json()["sample_no"]) == (1, 2)  # the first piece passed: the next is sample 2
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "client_id_conflict")
    assert InspectionResult.objects.count() == 2
    assert Event.objects.filter(object_type="inspection_result").count() == 2


@pytest.mark.parametrize(
    "fields, code, status",
    [
        pytest.param({"characteristic": "LEN"}, "value_required", 422, id="measured-without-value"),
        pytest.param({"characteristic": "LEN", "passed": True}, "value_required", 422, id="measured-passed-only"),
        pytest.param({"characteristic": "LEN", "value": "100", "passed": True}, "value_or_passed", 422, id="both"),
        pytest.param({"characteristic": "LOOK"}, "passed_required", 422, id="attribute-without-passed"),
        pytest.param({"characteristic": "NOPE", "passed": True}, "unknown_characteristic", 422, id="unknown-characteristic"),
        pytest.param({"characteristic": "LOOK", "passed": True, "operation": 99}, "unknown_operation", 422, id="unknown-operation"),
        pytest.param({"characteristic": "LOOK", "passed": True, "inspector_badge": "B-9999"}, "unknown_inspector", 422, id="inactive-inspector"),
        pytest.param({"characteristic": "LOOK", "passed": True, "equipment": "GAUGE-9"}, "unknown_equipment", 422, id="unknown-gauge"),
        pytest.param({"characteristic": "LOOK", "passed": True, "work_order": "WO-NOPE"}, "unknown_work_order", 404, id="unknown-order"),
    ],
)
def test_a_result_breaking_a_rule_is_refused_and_nothing_is_recorded(supervisor, inspected_order, fields, code, status):
    body = {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, **fields}

    response = supervisor.post(RESULTS_URL, body)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert not InspectionResult.objects.exists()


def test_an_operator_records_only_as_its_own_badge_and_quality_as_anyone(operator, quality, inspected_order):
    from mes.services.accounts import api_user_bind

    api_user_bind(username="station-07", badge="B-1001", stations=["ST-07"])
    EquipmentFactory(code="GAUGE-1")
    body = {"work_order": ORDER, "operation": 10, "characteristic": "LOOK", "passed": True}

    own = operator.post(RESULTS_URL, {**body, "client_id": str(uuid.uuid4()), "inspector_badge": "B-1001", "equipment": "GAUGE-1"})
    other = operator.post(RESULTS_URL, {**body, "client_id": str(uuid.uuid4()), "inspector_badge": "B-2002"})
    by_quality = quality.post(RESULTS_URL, {**body, "client_id": str(uuid.uuid4()), "inspector_badge": "B-1001"})

    assert (own.status_code, own.json()["inspector_badge"], own.json()["equipment"]) == (201, "B-1001", "GAUGE-1")
    assert (other.status_code, other.json()["error"]["code"]) == (403, "badge_not_bound")
    assert by_quality.status_code == 201
    assert InspectionResult.objects.count() == 2


def test_the_orders_inspections_say_what_is_due_now_and_why(planner, inspected_order):
    before = planner.get(f"/api/v1/work-orders/{ORDER}/inspections", HTTP_ACCEPT_LANGUAGE="en").json()
    result("LOOK", passed=True)
    confirm(good_qty=1)  # the first piece reported: its check is still due
    due = planner.get(f"/api/v1/work-orders/{ORDER}/inspections", HTTP_ACCEPT_LANGUAGE="en").json()
    result("LEN", value=Decimal("100.2"))
    after = planner.get(f"/api/v1/work-orders/{ORDER}/inspections", HTTP_ACCEPT_LANGUAGE="en").json()

    operation = before["operations"][0]
    assert [c["code"] for c in operation["characteristics"]] == ["LEN", "LOOK"]
    assert operation["characteristics"][0]["next"] == {
        "sample_no": 1, "due_at_good": 1, "due_now": True, "reason": "first piece: a pass is needed before more than 1 good",
    }
    # Both due before the first report: the first piece is checked as it is made; per report before each report.
    assert [(d["characteristic"], d["sample_no"]) for d in operation["due"]] == [("LEN", 1), ("LOOK", 1)]
    assert [(d["characteristic"], d["sample_no"]) for d in due["operations"][0]["due"]] == [("LEN", 1), ("LOOK", 2)]
    assert [(d["characteristic"], d["sample_no"]) for d in after["operations"][0]["due"]] == [("LOOK", 2)]
    assert [(r["characteristic"], r["sample_no"], r["passed"], r["value"]) for r in after["operations"][0]["results"]] == [
        ("LOOK", 1, True, None), ("LEN", 1, True, 100.2),
    ]
    assert [o["characteristics"] for o in after["operations"][1:]] == [[], []]
    assert planner.get("/api/v1/work-orders/WO-NOPE/inspections").status_code == 404


# --- the gate ---------------------------------------------------------------------------------------


def refused(**fields) -> DomainError:
    before = snapshot()
    with pytest.raises(DomainError) as error:
        confirm(**fields)
    assert snapshot() == before  # nothing recorded, nothing queued
    assert error.value.code == "inspection_due"
    return error.value


@pytest.fixture
def gated(planned_order, millimetre):
    def given(*characteristics: dict) -> None:
        plan(*characteristics)
        work_order_transition(number=ORDER, action="release")

    return given


def test_first_piece_lets_one_good_through_then_wants_a_pass(gated):
    gated(measured())

    confirm(good_qty=1)
    error = refused(good_qty=1)
    with translation.override("en"):
        english = refused(good_qty=1).message
    result("LEN", value=Decimal("102"))  # a failing first piece does not open the gate
    refused(good_qty=1)
    result("LEN", value=Decimal("100"), sample_no=1)
    confirm(good_qty=9)

    assert error.fields == {"characteristic": "LEN", "sample_no": 1, "operation": 10}
    assert "LEN" in error.message and "样本 1" in error.message  # in the plant's language
    assert "characteristic LEN (Length), sample 1 (first piece" in english
    assert WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10).good_qty == 10


def test_first_piece_refuses_a_first_report_of_more_than_one(gated):
    gated(measured())

    refused(good_qty=2)
    confirm(scrap_qty=1, reason_code="SCRAP-01")  # no good: not gated


def test_every_n_wants_one_result_per_n_good(gated):
    gated(measured(sampling={"rule": "every_n", "n": 3}))

    confirm(good_qty=3)  # up to the first due point
    assert refused(good_qty=1).fields["sample_no"] == 1
    result("LEN", value=Decimal("100"))
    confirm(good_qty=2)
    assert refused(good_qty=2).fields["sample_no"] == 2  # 5 + 2 passes the piece 6
    result("LEN", value=Decimal("100"))
    confirm(good_qty=4)  # 9: up to sample 3's piece
    assert refused(good_qty=1).fields["sample_no"] == 3


def test_per_report_wants_a_result_since_the_previous_report(gated):
    gated(attribute())

    assert refused(good_qty=1).fields["sample_no"] == 1
    result("LOOK", passed=True)
    confirm(good_qty=1)
    assert refused(good_qty=1).fields["sample_no"] == 2
    result("LOOK", passed=False)
    refused(good_qty=1)
    result("LOOK", passed=True)
    confirm(good_qty=4)


def test_each_serial_wants_a_pass_for_every_serial_reported(planned_order):
    from mes.models import Item, RoutingOperation

    Item.objects.filter(code=ITEM).update(tracking=Item.Tracking.SERIAL)
    RoutingOperation.objects.filter(routing__item__code=ITEM, sequence__gt=10).delete()
    plan(attribute("FUNC", sampling={"rule": "each_serial"}))
    work_order_transition(number=ORDER, action="release")
    result("FUNC", passed=True, serial="SN-1")
    result("FUNC", passed=False, serial="SN-2")

    error = refused(good_qty=2, serials=("SN-1", "SN-2"))
    confirm(good_qty=1, serials=("SN-1",))

    assert error.fields["serial"] == "SN-2"
    assert "SN-2" in error.message


def test_each_serial_without_serials_wants_a_pass_per_piece(gated):
    gated(attribute("FUNC", sampling={"rule": "each_serial"}))

    assert refused(good_qty=1).fields["sample_no"] == 1
    result("FUNC", passed=True)
    result("FUNC", passed=True)
    confirm(good_qty=2)
    assert refused(good_qty=1).fields["sample_no"] == 3


def test_samples_recorded_out_of_order_count_only_once_the_gap_is_filled(gated):
    gated(measured(sampling={"rule": "every_n", "n": 1}))
    result("LEN", value=Decimal("100"), sample_no=2)
    result("LEN", value=Decimal("100"), sample_no=3)

    assert refused(good_qty=2).fields["sample_no"] == 1
    result("LEN", value=Decimal("100"))  # the sample due next: 1
    confirm(good_qty=4)  # samples 1, 2 and 3 cover the pieces up to 4
    assert refused(good_qty=1).fields["sample_no"] == 4
    assert InspectionResult.objects.order_by("pk").values_list("sample_no", flat=True)[2] == 1


def test_samples_hold_a_long_run_as_one_number():
    samples = Samples(contiguous_to=1000, others=[1003, 1002])

    assert (1 in samples, 1000 in samples, 1001 in samples, 1003 in samples, 0 in samples) == (True, True, False, True, False)
    samples.add(1001)
    assert (samples.contiguous_to, samples.others, samples.lowest_missing(), samples.highest()) == (1003, set(), 1004, 1003)


def test_a_characteristic_that_is_not_mandatory_gates_nothing(gated):
    gated(measured(mandatory=False))

    confirm(good_qty=10, final=True)

    assert Confirmation.objects.count() == 1


def test_a_batch_judges_each_report_on_what_the_batch_recorded_before_it(gated):
    gated(attribute())
    result("LOOK", passed=True)
    requests = [confirmation_request(good_qty=1), confirmation_request(good_qty=1)]

    answers = operation_confirm_many(requests=requests)

    assert not isinstance(answers[0], DomainError)
    assert (answers[1].code, answers[1].fields["sample_no"]) == ("inspection_due", 2)
    assert Confirmation.objects.count() == 1 and OutboxMessage.objects.filter(kind="confirmation").count() == 1


def test_the_gate_costs_no_statement_on_postgresql_and_one_query_elsewhere(released_order):
    """On PostgreSQL what has passed comes with the order's operations; elsewhere the gate reads on its own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(**fields) -> int:
        with CaptureQueriesContext(connection) as captured:
            confirm(**fields)
        return len(captured)

    confirm(good_qty=1)  # the order and the operation start: status moves of their own
    without = queries(good_qty=1)
    WorkOrderOperation.objects.filter(work_order__number=ORDER, sequence=10).update(inspection_gated=True)
    operation = WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10)
    OrderCharacteristic.objects.create(
        operation=operation, position=1, code="LOOK", name="Visual", kind="attribute", sampling_rule="every_n", sampling_n=100, mandatory=True,
    )
    with_plan = queries(good_qty=1)

    assert with_plan == without + (0 if connection.vendor == "postgresql" else 1)


# --- the admin -----------------------------------------------------------------------------------------


def test_the_admin_refuses_what_the_plan_service_refuses_and_audits_what_it_saves(admin_client, plant, millimetre):
    url = "/admin/mes/inspectioncharacteristic/add/"
    row = {
        "item": plant["item"].pk, "sequence": "10", "position": "1", "code": "LEN", "name": "Length", "kind": "measured",
        "nominal": "100", "lower_limit": "101", "upper_limit": "100.5", "unit": millimetre.pk, "sampling_rule": "first_piece",
        "sampling_n": "", "mandatory": "on",
    }

    with translation.override("en"):  # the admin's answers leave the language they were read in active
        unordered = admin_client.post(url, row, HTTP_ACCEPT_LANGUAGE="en")
        no_operation = admin_client.post(url, row | {"lower_limit": "99.5", "sequence": "99"}, HTTP_ACCEPT_LANGUAGE="en")
        saved = admin_client.post(url, row | {"lower_limit": "99.5"}, HTTP_ACCEPT_LANGUAGE="en")

    assert unordered.status_code == 200 and "the limits must be ordered" in unordered.content.decode()
    assert no_operation.status_code == 200 and "has no operation 99" in no_operation.content.decode()
    assert saved.status_code == 302
    (characteristic,) = InspectionCharacteristic.objects.all()
    assert (characteristic.code, characteristic.lower_limit) == ("LEN", Decimal("99.5"))
    assert Event.objects.filter(object_type="inspection_plan", object_key=f"{ITEM}/10", action="create").count() == 1


# --- holds --------------------------------------------------------------------------------------------


def test_a_failing_result_holds_its_piece_so_later_operations_cannot_take_it(gated):
    gated(measured(mandatory=False), attribute("LOOK", mandatory=False))
    confirm(good_qty=10, final=True)
    failed, _created = result("LEN", value=Decimal("98"))
    result("LOOK", passed=True)  # a pass holds nothing

    held = WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10).held_qty
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        confirm(operation=20, good_qty=9, scrap_qty=1, reason_code="SCRAP-01")
    after_refusal = snapshot()
    confirm(operation=20, good_qty=9)

    assert held == 1 and not failed.passed
    assert (refused.value.code, refused.value.kind, refused.value.fields) == ("quality_hold", 409, {"operation": "10", "held_qty": "1"})
    assert after_refusal == before
    assert WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=20).good_qty == 9


def test_a_batch_reads_the_gate_once_per_operation(released_order):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            answers = operation_confirm_many(requests=[confirmation_request(good_qty=1) for _ in range(count)])
        assert not [answer.code for answer in answers if isinstance(answer, DomainError)]
        return len(captured)

    queries(1)  # the order and the operation start: status moves of their own
    without = queries(3)
    WorkOrderOperation.objects.filter(work_order__number=ORDER, sequence=10).update(inspection_gated=True)
    operation = WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10)
    OrderCharacteristic.objects.create(
        operation=operation, position=1, code="LOOK", name="Visual", kind="attribute", sampling_rule="every_n", sampling_n=100, mandatory=True,
    )
    with_plan = queries(3)

    assert with_plan == without + 1
