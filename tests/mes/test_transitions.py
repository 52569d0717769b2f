"""The work-order state machine: allowed moves, refusals, idempotent repeats, release snapshot, cascades, events."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from common.errors import DomainError
from mes.models import Event, Status, WorkOrder, WorkOrderComponent, WorkOrderOperation
from mes.services.master_data import routing_upsert
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.factories import BomFactory, ItemFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import bring_to, confirm, snapshot, statuses

D = Decimal
STATUSES = [status.value for status in Status]
ACTIONS = ["release", "pause", "resume", "cancel", "close"]

# The requested moves the issue allows, written out by hand (not derived from the product's map).
ALLOWED = {
    ("planned", "release"): "released",
    ("planned", "cancel"): "cancelled",
    ("released", "cancel"): "cancelled",
    ("in_progress", "pause"): "paused",
    ("paused", "resume"): "in_progress",
    ("paused", "cancel"): "cancelled",
    ("completed", "close"): "closed",
}
ALREADY_THERE = {
    ("released", "release"),
    ("paused", "pause"),
    ("in_progress", "resume"),
    ("cancelled", "cancel"),
    ("closed", "close"),
}
ILLEGAL = [
    (status, action)
    for status in STATUSES
    for action in ACTIONS
    if (status, action) not in ALLOWED and (status, action) not in ALREADY_THERE
]


def test_the_table_of_illegal_moves_is_complete():
    assert len(ILLEGAL) == 7 * 5 - len(ALLOWED) - len(ALREADY_THERE) == 23


@pytest.mark.parametrize(("status", "action"), sorted(ALLOWED))
def test_allowed_move_changes_status_and_writes_one_order_event(planned_order, django_user_model, status, action):
    bring_to(ORDER, status)
    planner = django_user_model.objects.create(username="planner-wang")
    last_event = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0

    work_order, changed = work_order_transition(number=ORDER, action=action, actor=planner, reason="shift change")

    assert changed is True
    assert work_order.status == ALLOWED[(status, action)]
    assert WorkOrder.objects.get(number=ORDER).status == ALLOWED[(status, action)]
    order_events = list(Event.objects.filter(id__gt=last_event, object_type="work_order").values(
        "object_key", "action", "before", "after", "reason", "actor", "actor_label", "work_order__number"
    ))
    assert order_events == [
        {
            "object_key": ORDER,
            "action": action,
            "before": {"status": status},
            "after": {"status": ALLOWED[(status, action)]},
            "reason": "shift change",
            "actor": planner.pk,
            "actor_label": "planner-wang",
            "work_order__number": ORDER,
        }
    ]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_move_is_refused_and_writes_nothing(planned_order, status, action):
    bring_to(ORDER, status)
    before = snapshot()

    with pytest.raises(DomainError) as refused:
        work_order_transition(number=ORDER, action=action, reason="try")

    assert refused.value.code == "illegal_transition"
    assert int(refused.value.kind) == 409
    assert refused.value.fields == {"status": status}
    assert refused.value.message  # a human sentence, not an empty string
    assert snapshot() == before


@pytest.mark.parametrize(("status", "action"), sorted(ALREADY_THERE))
def test_asking_for_the_state_already_reached_answers_unchanged_and_writes_nothing(planned_order, status, action):
    bring_to(ORDER, status)
    before = snapshot()

    work_order, changed = work_order_transition(number=ORDER, action=action)

    assert changed is False
    assert work_order.status == status
    assert snapshot() == before


def test_unknown_action_is_refused(released_order):
    before = snapshot()

    with pytest.raises(DomainError) as refused:
        work_order_transition(number=ORDER, action="start")  # internal move, not requestable

    assert refused.value.code == "unknown_action"
    assert snapshot() == before


def test_transition_of_unknown_order_is_not_found(db):
    with pytest.raises(DomainError) as refused:
        work_order_transition(number="WO-NOPE", action="release")

    assert refused.value.code == "unknown_work_order"
    assert int(refused.value.kind) == 404
    assert Event.objects.count() == 0


def test_release_snapshots_the_routing_into_operations(planned_order):
    work_order, changed = work_order_transition(number=ORDER, action="release")

    assert changed is True
    assert work_order.status == "released"
    assert work_order.released_at is not None
    assert list(
        WorkOrderOperation.objects.filter(work_order=work_order).order_by("sequence").values_list(
            "sequence", "name", "work_center__code", "setup_minutes", "run_minutes_per_unit", "quality_checkpoint",
            "status", "planned_qty", "good_qty", "scrap_qty", "rework_qty",
        )
    ) == [
        (10, "Cut", "WC-CUT", D("10"), D("2.5"), False, "released", D("10"), 0, 0, 0),
        (20, "Weld", "WC-WELD", D("15"), D("4"), False, "released", D("10"), 0, 0, 0),
        (30, "Paint", "WC-PAINT", D("15"), D("2.5"), False, "released", D("10"), 0, 0, 0),
    ]


def test_release_snapshots_the_bom_into_components(planned_order):
    work_order, _changed = work_order_transition(number=ORDER, action="release")

    assert work_order.bom_version == "1"
    assert list(
        WorkOrderComponent.objects.filter(work_order=work_order).order_by("position").values_list(
            "position", "item__code", "required_qty", "unit__code"
        )
    ) == [(1, "TUBE-20", D("25"), "M"), (2, "BOLT-M8", D("40"), "PCS")]


def test_release_uses_the_bom_version_in_force_today(db):
    today = datetime.date.today()
    item = ItemFactory(code="TABLE")
    leg = ItemFactory(code="LEG")
    RoutingFactory(item=item, operations=1)
    BomFactory(item=item, version="0", valid_from=datetime.date(2000, 1, 1), valid_to=datetime.date(2001, 1, 1),
               lines=[(leg, D("99"))])
    BomFactory(item=item, version="1", valid_from=datetime.date(2010, 1, 1), lines=[(leg, D("3"))])
    BomFactory(item=item, version="2", valid_from=today - datetime.timedelta(days=1), lines=[(leg, D("4"))])
    BomFactory(item=item, version="3", valid_from=today + datetime.timedelta(days=30), lines=[(leg, D("5"))])
    WorkOrderFactory(number="WO-TABLE", item=item, quantity=D("15"))

    work_order, _changed = work_order_transition(number="WO-TABLE", action="release")

    assert work_order.bom_version == "2"
    assert list(work_order.components.values_list("item__code", "required_qty")) == [("LEG", D("60"))]


def test_release_prefers_a_dated_bom_version_over_an_undated_one(db):
    """Version 1 has no start date, version 2 starts in 2020: version 2 is "the most recently
    effective one" (effective_bom's own docstring). PostgreSQL sorts NULL first in a descending
    ORDER BY, so ``order_by("-valid_from")`` picks the undated version 1 there (SQLite picks 2)."""
    item = ItemFactory(code="SHELF")
    component = ItemFactory(code="BOARD")
    RoutingFactory(item=item, operations=1)
    BomFactory(item=item, version="1", valid_from=None, lines=[(component, D("1"))])
    BomFactory(item=item, version="2", valid_from=datetime.date(2020, 1, 1), lines=[(component, D("2"))])
    WorkOrderFactory(number="WO-SHELF", item=item, quantity=D("5"))

    work_order, _changed = work_order_transition(number="WO-SHELF", action="release")

    assert work_order.bom_version == "2"
    assert list(work_order.components.values_list("item__code", "required_qty")) == [("BOARD", D("10"))]


def test_release_without_a_bom_has_no_components(db):
    item = ItemFactory(code="PLAIN")
    RoutingFactory(item=item, operations=2)
    WorkOrderFactory(number="WO-PLAIN", item=item)

    work_order, changed = work_order_transition(number="WO-PLAIN", action="release")

    assert changed is True
    assert work_order.bom_version == ""
    assert work_order.components.count() == 0
    assert work_order.operations.count() == 2


def test_released_order_keeps_its_snapshot_when_the_routing_changes(released_order):
    routing_upsert(item_code="FRAME-100", operations=[{"sequence": 5, "name": "Laser", "work_center": "WC-CUT"}])

    assert list(released_order.operations.order_by("sequence").values_list("sequence", "name")) == [
        (10, "Cut"), (20, "Weld"), (30, "Paint")
    ]


def test_release_without_routing_is_refused_with_routing_missing(db):
    item = ItemFactory(code="NO-ROUTING")
    WorkOrderFactory(number="WO-2000", item=item)
    before = snapshot()

    with pytest.raises(DomainError) as refused:
        work_order_transition(number="WO-2000", action="release")

    assert refused.value.code == "routing_missing"
    assert int(refused.value.kind) == 422
    assert refused.value.fields == {"item": "NO-ROUTING"}
    assert snapshot() == before
    assert WorkOrder.objects.get(number="WO-2000").status == "planned"


def test_release_with_a_routing_without_operations_is_refused_with_routing_missing(db):
    item = ItemFactory(code="EMPTY-ROUTING")
    RoutingFactory(item=item)
    WorkOrderFactory(number="WO-2001", item=item)
    before = snapshot()

    with pytest.raises(DomainError) as refused:
        work_order_transition(number="WO-2001", action="release")

    assert refused.value.code == "routing_missing"
    assert snapshot() == before


def test_pause_cascades_to_running_operations_only(released_order):
    confirm(ORDER, 10, good_qty=4)  # order and operation 10 run; 20 and 30 stay released
    last_event = Event.objects.order_by("-id").first().id

    work_order_transition(number=ORDER, action="pause", reason="material shortage")

    assert statuses(ORDER) == ("paused", {10: "paused", 20: "released", 30: "released"})
    assert list(Event.objects.filter(id__gt=last_event).order_by("id").values_list(
        "object_type", "object_key", "action", "before", "after", "reason"
    )) == [
        ("work_order", ORDER, "pause", {"status": "in_progress"}, {"status": "paused"}, "material shortage"),
        ("operation", f"{ORDER}/0010", "pause", {"status": "in_progress"}, {"status": "paused"}, "material shortage"),
    ]


def test_resume_cascades_to_paused_operations(released_order):
    confirm(ORDER, 10, good_qty=4)
    confirm(ORDER, 20, good_qty=2)
    work_order_transition(number=ORDER, action="pause")
    last_event = Event.objects.order_by("-id").first().id

    work_order_transition(number=ORDER, action="resume")

    assert statuses(ORDER) == ("in_progress", {10: "in_progress", 20: "in_progress", 30: "released"})
    assert list(Event.objects.filter(id__gt=last_event).order_by("id").values_list("object_key", "action", "before", "after")) == [
        (ORDER, "resume", {"status": "paused"}, {"status": "in_progress"}),
        (f"{ORDER}/0010", "resume", {"status": "paused"}, {"status": "in_progress"}),
        (f"{ORDER}/0020", "resume", {"status": "paused"}, {"status": "in_progress"}),
    ]


def test_cancel_of_a_released_order_cancels_every_operation(released_order):
    last_event = Event.objects.order_by("-id").first().id

    work_order_transition(number=ORDER, action="cancel", reason="customer cancelled")

    assert statuses(ORDER) == ("cancelled", {10: "cancelled", 20: "cancelled", 30: "cancelled"})
    assert list(Event.objects.filter(id__gt=last_event).order_by("id").values_list("object_key", "action", "before", "after")) == [
        (ORDER, "cancel", {"status": "released"}, {"status": "cancelled"}),
        (f"{ORDER}/0010", "cancel", {"status": "released"}, {"status": "cancelled"}),
        (f"{ORDER}/0020", "cancel", {"status": "released"}, {"status": "cancelled"}),
        (f"{ORDER}/0030", "cancel", {"status": "released"}, {"status": "cancelled"}),
    ]


def test_cancel_of_a_paused_order_keeps_completed_operations(released_order):
    confirm(ORDER, 10, good_qty=10, final=True)
    confirm(ORDER, 20, good_qty=3)
    work_order_transition(number=ORDER, action="pause")

    work_order_transition(number=ORDER, action="cancel")

    assert statuses(ORDER) == ("cancelled", {10: "completed", 20: "cancelled", 30: "cancelled"})


def test_close_cascades_to_completed_operations(planned_order):
    bring_to(ORDER, "completed")
    last_event = Event.objects.order_by("-id").first().id

    work_order_transition(number=ORDER, action="close")

    assert statuses(ORDER) == ("closed", {10: "closed", 20: "closed", 30: "closed"})
    assert list(Event.objects.filter(id__gt=last_event).order_by("id").values_list("object_key", "action")) == [
        (ORDER, "close"), (f"{ORDER}/0010", "close"), (f"{ORDER}/0020", "close"), (f"{ORDER}/0030", "close"),
    ]


def test_release_writes_one_event_with_before_and_after(planned_order, django_user_model):
    planner = django_user_model.objects.create(username="planner-wang")

    work_order_transition(number=ORDER, action="release", actor=planner, reason="week 12")

    assert list(Event.objects.values_list("object_type", "object_key", "action", "before", "after", "reason", "actor_label")) == [
        ("work_order", ORDER, "release", {"status": "planned"}, {"status": "released"}, "week 12", "planner-wang")
    ]


# --- the order lock -----------------------------------------------------------------------------


def test_the_order_lock_reads_each_named_order_with_its_item_and_unit_in_one_query(planned_order, plant, django_assert_num_queries):
    from django.db import transaction

    from mes.services.transitions import work_order_lock, work_orders_lock

    WorkOrderFactory(number="WO-0999", item=plant["tube"], quantity=D("3"))  # after WO-1001 in key, before it in name
    stored = {order.number: order for order in WorkOrder.objects.select_related("item__unit")}

    with transaction.atomic(), django_assert_num_queries(1):
        locked = work_orders_lock(numbers=["WO-0999", ORDER, "WO-NOPE", ORDER])
        read = {number: (order.pk, order.status, order.quantity, order.due_date, order.item.code, order.item.unit.code)
                for number, order in locked.items()}

    assert read == {
        number: (order.pk, order.status, order.quantity, order.due_date, order.item.code, order.item.unit.code)
        for number, order in stored.items()
    }
    assert list(read) == sorted(read, key=lambda number: stored[number].pk)  # locked in primary-key order
    with pytest.raises(DomainError) as error, transaction.atomic():
        work_order_lock(number="WO-NOPE")
    assert (error.value.code, int(error.value.kind), error.value.fields) == ("unknown_work_order", 404, {"work_order": "WO-NOPE"})


def test_a_release_replayed_from_history_keeps_its_moment_and_one_in_the_future_is_refused(planned_order):
    later = timezone.now() + datetime.timedelta(minutes=5)
    with pytest.raises(DomainError) as refused:
        work_order_transition(number=planned_order.number, action="release", released_at=later)
    assert refused.value.code == "released_at_in_future"
    planned_order.refresh_from_db()
    assert (planned_order.status, planned_order.released_at) == ("planned", None)
    assert not Event.objects.filter(action="release").exists()

    earlier = timezone.now() - datetime.timedelta(days=2)
    work_order_transition(number=planned_order.number, action="release", released_at=earlier)
    planned_order.refresh_from_db()
    assert (planned_order.status, planned_order.released_at) == ("released", earlier)
    # The audit trail records when the release was recorded, not the moment it took effect.
    assert Event.objects.get(action="release").occurred_at > earlier + datetime.timedelta(days=1)
