"""Trace: a lot or serial backward (what it was made from) and forward (what was made from it), on
a three-level product; reversed issues and confirmations left out; unknown and ambiguous codes;
a cycle ends; the queries do not grow with the tree."""

from __future__ import annotations

import pytest

from mes.models import Lot
from mes.selectors.trace import trace, trace_edges
from tests.genealogy import at, confirmation, issue, lot, order, three_levels
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/trace"


@pytest.fixture
def genealogy(db):
    return three_levels()


def _sub_assembly(rows) -> dict:
    return {
        "kind": "serial", "item": "SUB-200", "code": "S-SUB-1",
        "produced_by": {
            "work_order": "WO-SUB",
            "operations": [
                {"sequence": 10, "name": "Cut", "confirmations": [
                    {"id": str(rows["cut"].uuid), "at": "2030-01-10T09:00:00Z", "operator_badge": "B-1001", "equipment": None,
                     "station": "ST-1", "good_qty": 1.0, "scrap_qty": 0.0},
                ], "inspections": []},
                {"sequence": 20, "name": "Press", "confirmations": [
                    {"id": str(rows["press"].uuid), "at": "2030-01-10T10:00:00Z", "operator_badge": None, "equipment": "PRESS-1",
                     "station": "PRESS-1", "good_qty": 1.0, "scrap_qty": 1.0},
                ], "inspections": []},
            ],
        },
        "consumed": [
            {"kind": "lot", "item": "STEEL-01", "code": "L-RAW-1", "produced_by": None, "consumed": [], "quantity": 5.0},
        ],
    }


def test_backward_from_the_finished_serial_reaches_the_raw_lot(operator, genealogy):
    response = operator.get(URL, {"code": "S-FIN-1"})

    assert response.status_code == 200
    assert response.json() == {
        "kind": "serial", "item": "BOX-300", "code": "S-FIN-1",
        "produced_by": {
            "work_order": "WO-FIN",
            "operations": [
                {"sequence": 10, "name": "Assemble", "confirmations": [
                    {"id": str(genealogy["assemble"].uuid), "at": "2030-01-11T09:00:00Z", "operator_badge": "B-1002",
                     "equipment": None, "station": "ST-2", "good_qty": 1.0, "scrap_qty": 0.0},
                ], "inspections": []},
            ],
        },
        "consumed": [{**_sub_assembly(genealogy), "quantity": 1.0}],
    }


def test_backward_from_the_sub_assembly_leaves_out_the_reversed_issue_and_confirmation(operator, genealogy):
    response = operator.get(URL, {"code": "S-SUB-1", "item": "SUB-200", "direction": "backward"})

    assert response.status_code == 200
    assert response.json() == _sub_assembly(genealogy)


def test_forward_from_the_raw_lot_reaches_the_finished_serial(operator, genealogy):
    response = operator.get(URL, {"code": "L-RAW-1", "direction": "forward"})

    assert response.status_code == 200
    assert response.json() == {
        "kind": "lot", "item": "STEEL-01", "code": "L-RAW-1",
        "consumed_by": [
            {"work_order": "WO-SUB", "operation": 10, "quantity": 5.0, "at": "2030-01-10T08:00:00Z", "produced": [
                {"kind": "serial", "item": "SUB-200", "code": "S-SUB-1", "consumed_by": [
                    {"work_order": "WO-FIN", "operation": 10, "quantity": 1.0, "at": "2030-01-11T08:00:00Z", "produced": [
                        {"kind": "serial", "item": "BOX-300", "code": "S-FIN-1", "consumed_by": []},
                    ]},
                ]},
            ]},
        ],
    }


def test_a_lot_fully_reversed_out_of_an_order_was_not_consumed_by_it(operator, genealogy):
    response = operator.get(URL, {"code": "L-RAW-2", "direction": "forward"})

    assert response.status_code == 200
    assert response.json() == {"kind": "lot", "item": "STEEL-01", "code": "L-RAW-2", "consumed_by": []}


def test_an_issue_awaiting_approval_or_rejected_consumes_nothing(operator, genealogy):
    for state in ("awaiting_approval", "rejected"):
        issue(genealogy["wo_fin"], 10, genealogy["other"], "1", at(11, 7), state=state)

    forward = operator.get(URL, {"code": "L-RAW-2", "direction": "forward"}).json()
    backward = operator.get(URL, {"code": "S-FIN-1"}).json()

    assert forward["consumed_by"] == []
    assert [node["code"] for node in backward["consumed"]] == ["S-SUB-1"]


def test_an_order_still_running_shows_where_the_lot_went_with_nothing_made_yet(operator, genealogy):
    running = order("WO-RUN", genealogy["finished"].item, [(10, "Assemble")])
    issue(running, 10, genealogy["raw"], "2.5", at(12, 8))
    issue(running, 10, genealogy["raw"], "1.5", at(12, 9))

    consumed_by = operator.get(URL, {"code": "L-RAW-1", "direction": "forward"}).json()["consumed_by"]

    assert [(entry["work_order"], entry["quantity"], entry["at"], entry["produced"]) for entry in consumed_by] == [
        ("WO-SUB", 5.0, "2030-01-10T08:00:00Z", consumed_by[0]["produced"]),
        ("WO-RUN", 4.0, "2030-01-12T08:00:00Z", []),
    ]


def test_an_unknown_code_is_404(operator, genealogy):
    response = operator.get(URL, {"code": "NO-SUCH-LOT"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_lot"


def test_a_known_code_of_another_item_is_404(operator, genealogy):
    response = operator.get(URL, {"code": "L-RAW-1", "item": "BOX-300"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_lot"


def test_a_code_of_several_items_needs_the_item(operator, genealogy):
    copper = ItemFactory(code="COPPER-02", tracking="lot")
    lot(copper, "L-RAW-1", quantity="10")

    ambiguous = operator.get(URL, {"code": "L-RAW-1", "direction": "forward"})
    named = operator.get(URL, {"code": "L-RAW-1", "item": "COPPER-02", "direction": "forward"})

    assert ambiguous.status_code == 422
    assert ambiguous.json()["error"]["code"] == "ambiguous_code"
    assert ambiguous.json()["error"]["fields"] == {"items": "COPPER-02, STEEL-01"}
    assert "COPPER-02, STEEL-01" in ambiguous.json()["error"]["message"]
    assert named.status_code == 200
    assert named.json() == {"kind": "lot", "item": "COPPER-02", "code": "L-RAW-1", "consumed_by": []}


@pytest.mark.parametrize("params", [{"code": "S-FIN-1", "direction": "sideways"}, {"code": "S-FIN-1", "direction": "BACKWARD"}])
def test_a_bad_direction_is_422_in_the_envelope(operator, genealogy, params):
    response = operator.get(URL, params)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_direction"
    assert response.json()["error"]["fields"] == {"direction": "backward | forward"}


def test_a_missing_code_is_400(operator, genealogy):
    response = operator.get(URL)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"code": "Must be 1 to 64 characters."}


def test_a_visitor_not_signed_in_is_refused(anonymous, genealogy):
    assert anonymous.get(URL, {"code": "S-FIN-1"}).status_code == 401


def test_a_cycle_ends_and_is_marked(operator, genealogy):
    """A booking error: the finished serial issued back into the order that made the sub-assembly."""
    issue(genealogy["wo_sub"], 10, genealogy["finished"], "1", at(12, 8))

    backward = operator.get(URL, {"code": "S-FIN-1"}).json()
    forward = operator.get(URL, {"code": "S-FIN-1", "direction": "forward"}).json()

    sub = backward["consumed"][0]
    assert [node["code"] for node in sub["consumed"]] == ["S-FIN-1", "L-RAW-1"]  # by item: BOX-300, STEEL-01
    again = sub["consumed"][0]
    assert again["cycle"] is True and again["consumed"] == []
    assert "truncated" not in backward
    sub_forward = forward["consumed_by"][0]["produced"][0]
    assert sub_forward["code"] == "S-SUB-1"
    assert sub_forward["consumed_by"][0]["produced"] == [{"kind": "serial", "item": "BOX-300", "code": "S-FIN-1", "consumed_by": [], "cycle": True}]


def test_the_walk_stops_at_the_depth_bound(genealogy):
    edges, is_cut_short = trace_edges(genealogy["finished"].pk, direction="backward", max_depth=1)
    complete, is_complete_cut_short = trace_edges(genealogy["finished"].pk, direction="backward")

    assert {edge.to_lot for edge in edges} == {genealogy["sub_serial"].pk}
    assert is_cut_short is True
    assert {edge.to_lot for edge in complete} == {genealogy["sub_serial"].pk, genealogy["raw"].pk}
    assert is_complete_cut_short is False


def _deeper(genealogy, levels: int) -> Lot:
    """``levels`` more orders on top of the finished serial, each with two confirmations."""
    below = genealogy["finished"]
    for level in range(levels):
        item = ItemFactory(code=f"TOP-{level}", tracking="serial")
        above = order(f"WO-TOP-{level}", item, [(10, "Pack"), (20, "Ship")])
        issue(above, 10, below, "1", at(13, 8))
        issue(above, 10, lot(genealogy["raw"].item, f"L-EXTRA-{level}", quantity="9"), "1", at(13, 8))
        confirmation(above, 10, at(13, 9), station="PRESS-1")
        confirmation(above, 20, at(13, 10), station="ST-9")
        below = lot(item, f"S-TOP-{level}", produced_by=above, kind="serial")
    return below


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_the_queries_do_not_grow_with_the_tree(genealogy, django_assert_num_queries, direction):
    code = "S-FIN-1" if direction == "backward" else "L-RAW-1"
    queries = 6 if direction == "backward" else 2  # find, walk (+ operations, confirmations, machines, inspection results)

    with django_assert_num_queries(queries):
        small = trace(code=code, direction=direction)
    top = _deeper(genealogy, 4)
    code = top.code if direction == "backward" else code
    with django_assert_num_queries(queries):
        big = trace(code=code, direction=direction)

    assert big != small


def test_deep_trees_come_back_whole(genealogy):
    top = _deeper(genealogy, 4)

    node, path = trace(code=top.code), []
    while node["produced_by"] is not None:
        path.append(node["code"])
        made_here = [child for child in node["consumed"] if child["produced_by"] is not None]
        node = made_here[0] if made_here else node["consumed"][0]
    path.append(node["code"])

    assert path == ["S-TOP-3", "S-TOP-2", "S-TOP-1", "S-TOP-0", "S-FIN-1", "S-SUB-1", "L-RAW-1"]
