"""A station's report backflushes like the API's, is refused alike with nothing written, and a
report on the order's last operation answers the labels of what it received, to print at once."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from mes.models import MaterialMovement
from mes.services.confirmation_materials import output_lot_code
from shopfloor.station.services import station_create
from tests.conftest import ORDER
from tests.helpers import confirm
from tests.mes.test_backflush import counts, materials, order, scan  # noqa: F401  (fixtures)
from tests.station.conftest import post, report_body, station_client

D = Decimal


def test_a_station_report_backflushes_and_the_last_operation_offers_its_label(order):
    cut = station_client(station_create(work_center_code="WC-CUT")[1])
    scan(order, "T-OLD", "1")
    answer = post(cut, "/station/api/report", report_body(good_qty="2"))
    assert answer.status_code == 201 and answer.json()["output"] is None
    # The metre scanned first (on the line already), then the rest from the scanned lot's stock.
    assert list(MaterialMovement.objects.filter(source="backflush").order_by("pk").values_list("kind", "lot__code", "quantity")) == [
        ("consume", "T-OLD", D(1)), ("issue", "T-OLD", D(4)), ("issue", None, D(8)),
    ]
    assert post(cut, "/station/api/report", report_body(good_qty="2")).status_code == 201  # T-OLD still holds plenty

    confirm(ORDER, 20, good_qty=4)
    paint = station_client(station_create(work_center_code="WC-PAINT")[1])
    final = post(paint, "/station/api/report", report_body(operation=30, good_qty="3", final=True))

    assert final.status_code == 201
    code = output_lot_code(work_order=order, day=timezone.localdate())
    assert final.json()["output"] == {"item": "FRAME-100", "lot": code, "serials": [], "quantity": "3", "label_urls": [f"/api/v1/lots/FRAME-100/{code}/label.pdf"]}


def test_a_station_report_is_refused_like_the_api_with_nothing_written(order):
    cut = station_client(station_create(work_center_code="WC-CUT")[1])
    before = counts()
    answer = post(cut, "/station/api/report", report_body(good_qty="2"))
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "lot_required")
    assert counts() == before
