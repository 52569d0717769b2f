"""ACT:ANDON then RC:<andon reason> at the station: the call is raised through the andon service with the reason's
kind (the code's first word) and the reason as its note; a reason of another kind is refused and nothing is raised."""

from __future__ import annotations

import uuid

import pytest

from mes.models import ReasonCode
from shopfloor.models import AndonCall
from tests.factories import ReasonCodeFactory
from tests.station.conftest import post

pytestmark = pytest.mark.django_db


def andon(tablet, **fields):
    return post(tablet, "/station/api/andon", {"client_id": str(uuid.uuid4()), "operator_badge": "B-1001", **fields})


@pytest.mark.parametrize(("code", "kind"), [("MATERIAL-01", "material"), ("EQUIPMENT-JAM", "equipment"), ("CALL-LEADER", "help")])
def test_an_andon_reason_decides_the_kind_and_is_the_note(released_order, tablet, code, kind):
    ReasonCodeFactory(code=code, kind=ReasonCode.Kind.ANDON, name="缺料 Material missing")
    answer = andon(tablet, reason_code=code, work_order="WO-1001")
    assert answer.status_code == 201, answer.content
    call = AndonCall.objects.get()
    assert (call.kind, call.severity, call.note, call.work_center.code, call.raised_by) == (
        kind, "high", f"{code} 缺料 Material missing", "WC-CUT", "B-1001 Li Wei",
    )
    assert answer.json()["note"] == f"{code} 缺料 Material missing"


def test_a_reason_of_another_kind_is_refused(released_order, tablet):
    answer = andon(tablet, reason_code="SCRAP-01")
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "not_an_andon_reason")
    assert andon(tablet).json()["error"]["fields"]["kind"]  # neither a kind nor a reason
    assert AndonCall.objects.count() == 0


def test_a_kind_alone_still_works(released_order, tablet):
    assert andon(tablet, kind="quality", severity="critical").status_code == 201
    assert AndonCall.objects.get().kind == "quality"
