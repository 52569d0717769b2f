"""A known shift of one machine, built through the services, for the OEE tests to check by hand.

Monday 16 November 2026 (Asia/Shanghai), machine PRESS-01 of work center WC-PRESS, whose one
shift "Early" runs 06:00–14:00 Monday to Friday: 8 h = 28,800 s planned.

States (local time):        05:00–06:30 run   (30 min of it in the shift)
                            06:30–07:30 down  reason DT-01 (1 h)
                            07:30–08:00 run
                            08:00–08:30 idle  no reason (30 min, unexplained)
                            08:30–14:30 run   (5 h 30 min of it in the shift)
Run = 30 + 30 + 330 min = 390 min = 23,400 s.

Confirmations at station PRESS-01 on operation 10 of WO-7001 (ideal cycle 0.5 min = 30 s):
07:00 100 good; 10:00 300 good 10 scrap; 14:00 300 good 10 scrap (a window ending at the shift's
end is in it); 06:00 5 good and 14:30 50 good are outside the shift (not counted).
Counted: 700 good, 20 scrap.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from mes.models import Equipment, ReasonCode
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from mes.services.master_data import equipment_upsert, work_center_upsert
from mes.services.work_orders import work_order_transition
from shopfloor.models import EquipmentState
from shopfloor.services import ShiftSpec, shifts_set
from tests.factories import ItemFactory, ReasonCodeFactory, RoutingFactory, WorkOrderFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime.date(2026, 11, 16)
MACHINE = "PRESS-01"
ORDER = "WO-7001"


def at(hour: int, minute: int = 0, day: datetime.date = MONDAY) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


def state(machine: Equipment, name: str, start: datetime.datetime, end: datetime.datetime | None, reason: str = "") -> EquipmentState:
    return EquipmentState.objects.create(
        equipment=machine,
        state=name,
        started_at=start,
        ended_at=end,
        reason_code=ReasonCode.objects.get(code=reason) if reason else None,
    )


def confirm(good: int, scrap: int, when: datetime.datetime, *, station: str = MACHINE, order: str = ORDER):
    return operation_confirm(
        request=ConfirmationRequest(
            client_id=uuid.uuid4(),
            work_order=order,
            operation=10,
            good_qty=Decimal(good),
            scrap_qty=Decimal(scrap),
            reason_code="SCRAP-01" if scrap else "",
            station=station,
            confirmed_at=when,
        )
    ).confirmation


def press(*, shifts: list[ShiftSpec] | None = None) -> Equipment:
    """PRESS-01 on WC-PRESS (shift Early 06:00–14:00 Mon–Fri unless told), an order WO-7001 of
    100,000 released on it with an ideal cycle of 0.5 min, reason codes SCRAP-01 and DT-01."""
    work_center_upsert(code="WC-PRESS", name="Pressing", line="L1")
    machine = equipment_upsert(code=MACHINE, name="Press 1", work_center="WC-PRESS").obj
    shifts_set(
        work_center_code="WC-PRESS",
        shifts=shifts if shifts is not None else [ShiftSpec("Early", datetime.time(6), datetime.time(14), "12345")],
    )
    ReasonCodeFactory(code="SCRAP-01", kind=ReasonCode.Kind.SCRAP, name="Material defect")
    ReasonCodeFactory(code="DT-01", kind=ReasonCode.Kind.DOWNTIME, name="Machine breakdown")
    item = ItemFactory(code="PANEL-1")
    RoutingFactory(item=item, operations=[{"sequence": 10, "name": "Press", "work_center": machine.work_center, "run_minutes_per_unit": Decimal("0.5")}])
    WorkOrderFactory(number=ORDER, item=item, quantity=Decimal(100000), due_date=datetime.date(2030, 1, 31))
    work_order_transition(number=ORDER, action="release")
    return machine


def known_shift(day: datetime.date = MONDAY, machine: Equipment | None = None) -> Equipment:
    """The Monday of the module's docstring (or the same on ``day``, for a ``machine`` already made)."""
    machine = machine or press()
    state(machine, "run", at(5, day=day), at(6, 30, day=day))
    state(machine, "down", at(6, 30, day=day), at(7, 30, day=day), reason="DT-01")
    state(machine, "run", at(7, 30, day=day), at(8, day=day))
    state(machine, "idle", at(8, day=day), at(8, 30, day=day))
    state(machine, "run", at(8, 30, day=day), at(14, 30, day=day))
    confirm(5, 0, at(6, day=day))
    confirm(100, 0, at(7, day=day))
    confirm(300, 10, at(10, day=day))
    confirm(300, 10, at(14, day=day))
    confirm(50, 0, at(14, 30, day=day))
    return machine
