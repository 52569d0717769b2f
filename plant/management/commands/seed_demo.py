"""A deterministic demo plant, built only through the services, safe to run again.

Two lines, six work centers with their machines and two shifts each, sixteen items with multi-level BOMs,
routings, twenty employees, reason codes of every kind and thirty work orders in every
state; plus demo logins and API tokens, printed at the end with the URLs to open.

Every report of the history was worked by its operator clocked on its operation for the report's
labor minutes and made as they clocked off (an operator's sessions, and an order's, one after the
other, each inside a shift, ending as the demo is seeded, none left open), its labor minutes the
standard time at the operator's pace: the labor report shows clocked hours and an efficiency near 100 %.

Running it again changes nothing: master data and orders go through idempotent upserts,
confirmations carry fixed ``client_id`` values (uuid5), and an order's story (release,
confirmations, pause, close, cancel) is played in one transaction only while the order
is still planned, so a story is either fully told or not at all.
"""

from __future__ import annotations

import datetime
import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common.errors import DomainError
from common.roles import Role
from erp_sync.models import ErpConnection
from erp_sync.services import erp_connection_upsert
from mes.models import ApiToken, Employee, Equipment, Item, Lot, Status, WorkOrder, WorkOrderComponent, WorkOrderOperation
from mes.services.accounts import api_token_create, api_user_bind, api_user_ensure
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from mes.services.labor import labor_clock_off, labor_clock_on
from mes.services.material_issues import MaterialIssueRequest, material_issue
from mes.services.master_data import (
    bom_upsert,
    employee_upsert,
    equipment_upsert,
    item_upsert,
    lot_upsert,
    reason_code_upsert,
    routing_upsert,
    unit_of_measure_ensure,
    work_center_upsert,
)
from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
from mes.services.transitions import operation_start_locked, work_order_lock
from mes.services.work_orders import work_order_transition, work_order_upsert
from plant.management.commands.run_plant import ERP_SIMULATOR_PORT, WEBHOOK_SINK_PORT
from shopfloor.andon.services import andon_ladder_put
from shopfloor.models import AndonLadder, EquipmentAssignment
from shopfloor.shift_calendar import plant_zone
from shopfloor.services import (
    ShiftSpec,
    equipment_signals_set,
    operation_start_on_equipment,
    shifts_set,
)

# Confirmation client_ids are uuid5(DEMO_NAMESPACE, "<order>/<operation>/<n>"): the same on every run.
DEMO_NAMESPACE = uuid.UUID("3b0c5a5e-9d27-4c44-8c6b-7f1e2a9d4b60")

# username, role, password (None: token only, no password login)
DEMO_USERS = [
    ("admin", Role.ADMIN, "admin"),
    ("planner", Role.PLANNER, "planner"),
    ("supervisor", Role.SUPERVISOR, "supervisor"),
    ("quality", Role.QUALITY, "quality"),
    ("erp", Role.INTEGRATION, None),
    ("station", Role.OPERATOR, None),
]

# code, name, line, capacity hours per day, skill its operators need
WORK_CENTERS = [
    ("WC-CUT", "激光切割 Laser cutting", "L1", "16", "cutting"),
    ("WC-BEND", "折弯 Bending", "L1", "16", "bending"),
    ("WC-WELD", "焊接 Welding", "L1", "16", "welding"),
    ("WC-PAINT", "喷涂 Powder coating", "L1", "8", "painting"),
    ("WC-SMT", "贴片 SMT", "L2", "20", "smt"),
    ("WC-ASM", "总装与测试 Assembly and test", "L2", "16", "assembly"),
]

EQUIPMENT = [
    ("CUT-01", "光纤激光切割机 6 kW fiber laser", "WC-CUT"),
    ("CUT-02", "光纤激光切割机 3 kW fiber laser", "WC-CUT"),
    ("BEND-01", "数控折弯机 CNC press brake", "WC-BEND"),
    ("WELD-01", "焊接机器人 Welding robot", "WC-WELD"),
    ("WELD-02", "氩弧焊机 TIG welder", "WC-WELD"),
    ("PAINT-01", "静电喷粉线 Powder coating line", "WC-PAINT"),
    ("SMT-01", "贴片机 Pick-and-place machine", "WC-SMT"),
    ("SMT-02", "回流焊炉 Reflow oven", "WC-SMT"),
    ("ASM-01", "装配工位 Assembly bench", "WC-ASM"),
    ("ASM-02", "功能测试台 Function test stand", "WC-ASM"),
]

# code, name, unit, description
ITEMS = [
    ("RM-0001", "冷轧钢板 Cold-rolled steel sheet", "kg", "DC01, 2 mm"),
    ("RM-0002", "M8 螺栓 M8 bolt", "pcs", "M8x20, 8.8, zinc plated"),
    ("RM-0003", "铜芯电线 Copper wire", "m", "1.5 mm², red"),
    ("RM-0004", "连接器 Connector", "pcs", "4-pin, IP67"),
    ("RM-0005", "印制电路板 PCB blank", "pcs", "FR-4, 2 layers"),
    ("RM-0006", "铝锭 Aluminium ingot", "kg", "ADC12"),
    ("RM-0007", "粉末涂料 Powder coating", "kg", "RAL 7035"),
    ("RM-0008", "O 形密封圈 O-ring", "pcs", "NBR 40x3"),
    ("SA-1100", "支架 Bracket", "pcs", ""),
    ("SA-1200", "底板 Base plate", "pcs", ""),
    ("SA-2100", "线束 Wire harness", "pcs", ""),
    ("SA-2200", "电路板组件 PCB assembly", "pcs", ""),
    ("SA-3100", "泵壳 Pump housing", "pcs", ""),
    ("FG-1000", "电机支架总成 Motor bracket assembly", "pcs", "Finished good, line L1"),
    ("FG-2000", "控制箱 Control box", "pcs", "Finished good, lines L1 and L2"),
    ("FG-3000", "泵组 Pump unit", "pcs", "Finished good, lines L1 and L2"),
]

# Costing (GET /api/v1/work-orders/{number}/cost, the order page's panel), in MES_CURRENCY (CNY):
# labor and machine rate per hour of each work center, standard cost per unit of each item; the
# steel lots carry their own cost, a little off the standard, so the demo shows a material variance.
WORK_CENTER_RATES = {
    "WC-CUT": ("45", "180"), "WC-BEND": ("45", "90"), "WC-WELD": ("55", "120"),
    "WC-PAINT": ("40", "75"), "WC-SMT": ("50", "260"), "WC-ASM": ("42", "30"),
}
ITEM_STANDARD_COSTS = {
    "RM-0001": "6.20", "RM-0002": "0.35", "RM-0003": "2.80", "RM-0004": "4.50", "RM-0005": "12.00",
    "RM-0006": "18.50", "RM-0007": "32.00", "RM-0008": "0.60", "SA-1100": "28.00", "SA-1200": "36.00",
    "SA-2100": "25.00", "SA-2200": "95.00", "SA-3100": "140.00", "FG-1000": "120.00", "FG-2000": "380.00",
    "FG-3000": "620.00",
}
LOT_UNIT_COSTS = {("RM-0001", "RM1-2611-A"): "6.35", ("RM-0001", "RM1-2611-B"): "6.10"}

# Items traced by lot; the rest untracked. The raw materials are issued by scanning their lot at
# the station; the base plate SA-1200 and the motor bracket FG-1000 made of it are received into an
# output lot by the report of their last operation (``<order>-<YYYYMMDD>``), and the base plate's lot
# is scanned into the bracket's orders in turn: steel lot → base plate lot → bracket lot, traceable
# both ways. Nothing tracked is backflushed, so no report (nor a machine's count) waits for a lot.
ITEM_TRACKING = {"RM-0001": "lot", "RM-0005": "lot", "RM-0006": "lot", "SA-1200": "lot", "FG-1000": "lot"}
# Lots the ERP staged for production: item, lot, quantity, status, supplier lot, location.
DEMO_LOTS = [
    ("RM-0001", "RM1-2611-A", "5000", "available", "BAOSTEEL-88412", "RACK-A1"),
    ("RM-0001", "RM1-2611-B", "2500", "available", "BAOSTEEL-88517", "RACK-A2"),
    ("RM-0001", "RM1-2610-Q", "800", "hold", "BAOSTEEL-87102", "QA-CAGE"),
    ("RM-0005", "PCB-2611-01", "2000", "available", "SHENNAN-5521", "SMT-STORE"),
    ("RM-0006", "AL-2611-07", "3000", "available", "CHALCO-0704", "RACK-C1"),
]
# How BOM lines are consumed, by (BOM item, component): the routing sequence that consumes it and
# whether reports backflush it. Lines not named are issued by scan at the first operation. Only
# untracked components are backflushed, so a report never waits for a lot to take them from.
BOM_LINE_USE = {
    ("SA-1200", "RM-0002"): (30, True),  # bolts welded on as nuts: taken by the report of 30
    ("FG-1000", "RM-0002"): (50, True),
    ("FG-1000", "RM-0007"): (40, True),  # powder: taken by the report of powder coating
    ("FG-2000", "RM-0002"): (40, True),
    ("FG-2000", "RM-0007"): (30, True),
    ("FG-3000", "RM-0007"): (30, True),
    ("FG-3000", "RM-0002"): (10, True),
    ("SA-3100", "RM-0008"): (30, False),  # O-ring fitted by scan before the pressure test
}

D = datetime.date
# item, version, valid from, valid to, lines (component, quantity)
BOMS = [
    ("SA-1100", "1", D(2026, 1, 1), None, [("RM-0001", "1.2")]),
    ("SA-1200", "1", D(2026, 1, 1), None, [("RM-0001", "3.5"), ("RM-0002", "4")]),
    ("SA-2100", "1", D(2026, 1, 1), None, [("RM-0003", "2.5"), ("RM-0004", "2")]),
    # An engineering change announced ahead: version 2 takes over on 1 January 2027.
    ("SA-2200", "1", D(2026, 3, 1), D(2026, 12, 31), [("RM-0005", "1"), ("RM-0004", "2")]),
    ("SA-2200", "2", D(2027, 1, 1), None, [("RM-0005", "1"), ("RM-0004", "3")]),
    ("SA-3100", "1", D(2026, 1, 1), None, [("RM-0006", "4.2"), ("RM-0008", "1")]),
    # Version 1 expired: two fewer bolts and less coating since October.
    ("FG-1000", "1", D(2026, 1, 1), D(2026, 9, 30), [("SA-1100", "2"), ("SA-1200", "1"), ("RM-0002", "8"), ("RM-0007", "0.2")]),
    ("FG-1000", "2", D(2026, 10, 1), None, [("SA-1100", "2"), ("SA-1200", "1"), ("RM-0002", "6"), ("RM-0007", "0.15")]),
    ("FG-2000", "1", D(2026, 1, 1), None, [("SA-2100", "1"), ("SA-2200", "1"), ("RM-0001", "2.0"), ("RM-0002", "4"), ("RM-0007", "0.1")]),
    ("FG-3000", "1", D(2026, 1, 1), None, [("SA-3100", "1"), ("SA-2100", "1"), ("RM-0008", "2"), ("RM-0002", "6")]),
]

# item: [(sequence, name, work center, setup minutes, run minutes per unit, quality checkpoint)]
ROUTINGS = {
    "SA-1100": [
        (10, "下料 Laser cut", "WC-CUT", "15", "0.8", False),
        (20, "折弯 Bend", "WC-BEND", "20", "1.2", False),
        (30, "去毛刺检验 Deburr and inspect", "WC-BEND", "0", "0.5", True),
    ],
    "SA-1200": [
        (10, "下料 Laser cut", "WC-CUT", "15", "1.5", False),
        (20, "折弯 Bend", "WC-BEND", "20", "1.0", False),
        (30, "焊螺母 Weld nuts", "WC-WELD", "10", "2.0", False),
    ],
    "SA-2100": [
        (10, "裁线 Cut wire", "WC-ASM", "5", "0.5", False),
        (20, "压接 Crimp", "WC-ASM", "10", "1.0", False),
        (30, "导通测试 Continuity test", "WC-ASM", "5", "0.5", True),
    ],
    "SA-2200": [
        (10, "印刷锡膏 Print solder paste", "WC-SMT", "30", "0.3", False),
        (20, "贴片 Place components", "WC-SMT", "45", "0.5", False),
        (30, "回流焊 Reflow", "WC-SMT", "15", "0.4", False),
        (40, "AOI 检测 AOI inspection", "WC-SMT", "10", "0.3", True),
    ],
    "SA-3100": [
        (10, "下料 Cut", "WC-CUT", "20", "2.0", False),
        (20, "焊接 Weld", "WC-WELD", "30", "6.0", False),
        (30, "气密检验 Pressure test", "WC-WELD", "10", "3.0", True),
    ],
    "FG-1000": [
        (10, "组焊 Tack and weld", "WC-WELD", "30", "4.0", False),
        (20, "打磨 Grind", "WC-WELD", "5", "2.0", False),
        (30, "焊缝检验 Weld inspection", "WC-WELD", "0", "1.0", True),
        (40, "喷粉 Powder coat", "WC-PAINT", "40", "1.5", False),
        (50, "装配 Assemble", "WC-ASM", "15", "5.0", False),
        (60, "终检 Final inspection", "WC-ASM", "0", "2.0", True),
    ],
    "FG-2000": [
        (10, "下料 Laser cut", "WC-CUT", "15", "1.0", False),
        (20, "折弯 Bend", "WC-BEND", "20", "1.5", False),
        (30, "喷粉 Powder coat", "WC-PAINT", "40", "1.0", False),
        (40, "装配 Assemble", "WC-ASM", "20", "12.0", False),
        (50, "功能测试 Function test", "WC-ASM", "10", "4.0", True),
    ],
    "FG-3000": [
        (10, "装配 Assemble", "WC-ASM", "20", "15.0", False),
        (20, "泄漏测试 Leak test", "WC-ASM", "10", "5.0", True),
        (30, "喷粉 Powder coat", "WC-PAINT", "40", "2.0", False),
        (40, "包装 Pack", "WC-ASM", "5", "1.0", False),
    ],
}

# badge, name, skills
EMPLOYEES = [
    ("E1001", "王伟 Wang Wei", ["cutting", "bending"]),
    ("E1002", "李娜 Li Na", ["smt"]),
    ("E1003", "张强 Zhang Qiang", ["welding"]),
    ("E1004", "刘洋 Liu Yang", ["painting"]),
    ("E1005", "陈静 Chen Jing", ["assembly", "inspection"]),
    ("E1006", "杨磊 Yang Lei", ["cutting"]),
    ("E1007", "赵敏 Zhao Min", ["smt", "inspection"]),
    ("E1008", "黄勇 Huang Yong", ["welding", "cutting"]),
    ("E1009", "周芳 Zhou Fang", ["assembly"]),
    ("E1010", "吴军 Wu Jun", ["bending"]),
    ("E1011", "徐丽 Xu Li", ["inspection"]),
    ("E1012", "孙涛 Sun Tao", ["welding"]),
    ("E1013", "马超 Ma Chao", ["painting", "assembly"]),
    ("E1014", "朱婷 Zhu Ting", ["smt"]),
    ("E1015", "胡斌 Hu Bin", ["assembly"]),
    ("E1016", "郭霞 Guo Xia", ["inspection", "smt"]),
    ("E1017", "何鹏 He Peng", ["cutting", "welding"]),
    ("E1018", "林芳 Lin Fang", ["assembly"]),
    ("E1019", "高峰 Gao Feng", ["bending", "painting"]),
    ("E1020", "罗敏 Luo Min", ["assembly", "inspection"]),
]

# code, kind, name
REASON_CODES = [
    ("SCR-01", "scrap", "尺寸超差 Out of tolerance"),
    ("SCR-02", "scrap", "材料缺陷 Material defect"),
    ("SCR-03", "scrap", "焊接缺陷 Weld defect"),
    ("RWK-01", "rework", "毛刺 Burrs"),
    ("RWK-02", "rework", "涂层不良 Coating defect"),
    ("PAU-01", "pause", "换班 Shift change"),
    ("PAU-02", "pause", "等待物料 Waiting for material"),
    ("DT-01", "downtime", "设备故障 Machine breakdown"),
    ("DT-02", "downtime", "换模 Tool change"),
    # Defect codes name what a nonconformance found; a scrap or rework disposition is booked with them.
    ("DEF-01", "defect", "尺寸超差 Dimension out of tolerance"),
    ("DEF-02", "defect", "表面划伤 Surface scratch"),
    ("DEF-03", "defect", "焊缝裂纹 Weld crack"),
    # Andon reasons: ACT:ANDON then RC:<code> at the station; the code's first word is the kind of call.
    ("EQUIPMENT-01", "andon", "设备故障 Machine broken down"),
    ("MATERIAL-01", "andon", "缺料 Material missing"),
    ("QUALITY-01", "andon", "质量问题 Quality problem"),
    ("MAINTENANCE-01", "andon", "需要保养 Maintenance needed"),
    ("HELP-01", "andon", "需要帮助 Need a hand"),
]
# Every demo work center works three shifts round the clock, every day (its planned time for OEE),
# so whenever someone tries the demo a shift is running and the board and OEE pages have numbers.
DEMO_SHIFTS = [
    ShiftSpec("早班 Early", datetime.time(6), datetime.time(14), "1234567"),
    ShiftSpec("中班 Late", datetime.time(14), datetime.time(22), "1234567"),
    ShiftSpec("夜班 Night", datetime.time(22), datetime.time(6), "1234567"),
]
# Machines wired to the simulated PLCs that make run starts (Modbus TCP on 127.0.0.1:5020, units 1…4).
DEMO_MACHINES = ["CUT-01", "BEND-01", "WELD-01", "SMT-01"]
DEMO_MODBUS_PORT = 5020


def demo_cycle_times() -> tuple[float, ...]:
    """Seconds per part of each simulated machine (as DEMO_MACHINES): a little slower than the slowest
    ideal cycle (run minutes per unit) of the demo's operations at its work center, so a machine never
    outruns the operation it works on and its OEE performance stays under 100 %, as on a real line."""
    centers = {code: center for code, _name, center in EQUIPMENT}
    slowest = {
        center: max(Decimal(minutes) for operations in ROUTINGS.values() for _seq, _name, at, _setup, minutes, _check in operations if at == center)
        for center in {centers[code] for code in DEMO_MACHINES}
    }
    return tuple(float(round(slowest[centers[code]] * 60 * Decimal("1.1"))) for code in DEMO_MACHINES)


def demo_machine_mapping(unit_id: int) -> dict:
    """How the demo's machine ``unit_id`` is read: Modbus TCP on loopback, as the simulated PLCs of
    ``make run`` lay out their registers (a plant enters its own PLCs' layout the same way)."""
    counter = {"kind": "holding", "type": "uint32", "word_order": "big"}
    return {
        "protocol": "modbus",
        "host": "127.0.0.1",
        "port": DEMO_MODBUS_PORT,
        "unit_id": unit_id,
        "poll_interval_s": 1,
        "signals": {
            "good_count": {"register": 0, **counter},
            "scrap_count": {"register": 2, **counter},
            "running": {"register": 4, "kind": "holding", "type": "uint16"},
            "alarm": {"register": 6, "kind": "holding", "type": "uint16"},
        },
    }
# SAP's VarianceReasonCode has 4 characters: the demo's SAP connection maps our codes to the
# plant's SAP customizing, as a real connection must.
SAP_REASON_CODES = {
    "SCR-01": "S001", "SCR-02": "S002", "SCR-03": "S003", "RWK-01": "R001", "RWK-02": "R002",
    "DEF-01": "D001", "DEF-02": "D002", "DEF-03": "D003",
}
# Inspection plans (item, sequence) -> characteristics: the bracket's cut length is checked on the
# first piece (so the station of a released bracket order asks for it), its bend angle on every 10th
# good piece. Played orders record the passing results their reports need: the SPC page's history.
DEMO_UNITS = ["mm", "deg"]
INSPECTION_PLANS = {
    ("SA-1100", 10): [
        {"code": "LEN", "name": "长度 Cut length", "kind": "measured", "nominal": "120.0", "lower_limit": "119.5", "upper_limit": "120.5",
         "unit": "mm", "sampling": {"rule": "first_piece"}, "mandatory": True},
    ],
    ("SA-1100", 20): [
        {"code": "ANGLE", "name": "折弯角度 Bend angle", "kind": "measured", "nominal": "90.0", "lower_limit": "89.0", "upper_limit": "91.0",
         "unit": "deg", "sampling": {"rule": "every_n", "n": 10}, "mandatory": True},
    ],
}
# Deviations from the nominal of the demo's recorded values, taken in turn (a process in control).
DEMO_DEVIATIONS = ["0.12", "-0.08", "0.05", "0.21", "-0.15", "0.02", "-0.04", "0.18", "-0.22", "0.09", "-0.11", "0.07", "0.15", "-0.03"]



def demo_plan_row(characteristic: dict) -> dict:
    """A plan row as the API's parser hands it to the service: limits as decimals."""
    return {key: Decimal(value) if key in {"nominal", "lower_limit", "upper_limit"} else value for key, value in characteristic.items()}


SCRAP_REASONS = ["SCR-01", "SCR-02", "SCR-03"]
REWORK_REASONS = ["RWK-01", "RWK-02"]

# Where each demo order's story ends, in order of number: the status it is left in (two
# orders are cancelled: one while planned, one after release).
ORDER_STORIES = (
    ["closed"] * 2
    + ["completed"] * 4
    + ["in_progress"] * 7
    + ["paused"] * 3
    + ["released"] * 6
    + ["planned"] * 6
    + ["cancelled_planned", "cancelled_released"]
)
ORDERED_ITEMS = ["FG-1000", "SA-1100", "FG-2000", "SA-2200", "FG-3000", "SA-1200", "SA-2100", "SA-3100"]
QUANTITIES = [50, 100, 80, 120, 60, 200, 40, 150, 30, 90]
PRIORITIES = [3, 5, 5, 2, 5, 4, 1, 5, 3, 5]
# The first order is due this many days before the day the demo is seeded, the others a day apart: the
# finished ones were due last week, two running ones are late, the rest due in the coming days and weeks.
FIRST_DUE_DAYS = -8


# How fast each demo operator works against the routings' standard times: a report's labor minutes (and
# the operator's clocked time behind it) are its standard minutes over the pace, so the labor report's
# efficiency (standard ÷ clocked) is near 100 % and differs a little from one operator to the next.
PACES = ["1.04", "0.93", "1.08", "0.97", "1.00", "0.91", "1.06"]
OPERATOR_PACE = {badge: Decimal(PACES[int(badge[1:]) % len(PACES)]) for badge, _name, _skills in EMPLOYEES}
# The most labor one report of the demo's history holds: an operation longer than a shift is reported once a
# shift. Sessions never cross a shift change: one that would ends this long before it (the handover).
SHIFT_MINUTES = Decimal(450)
HANDOVER = datetime.timedelta(minutes=5)
RELEASE_LEAD = datetime.timedelta(hours=1)  # an order with history was released this long before its first session


@dataclass(frozen=True)
class DemoReport:
    """One report of an order's story: its routing operation, its number among that operation's reports, quantities."""

    operation: tuple
    number: int
    good: Decimal
    scrap: int = 0
    rework: int = 0
    reason: str = ""
    final: bool = False


def standard_minutes(order: DemoOrder, operation: tuple, pieces: Decimal) -> Decimal:
    """Standard minutes of ``pieces`` of a routing operation, as the labor report counts them: the run time
    per piece plus the setup shared over the order's quantity."""
    _sequence, _name, _work_center, setup, run, _checkpoint = operation
    return (Decimal(run) + Decimal(setup) / order.quantity) * pieces


@dataclass(frozen=True)
class DemoOrder:
    index: int
    number: str
    item: str
    quantity: int
    due_date: datetime.date
    priority: int
    story: str


def demo_orders(*, today: datetime.date | None = None) -> list[DemoOrder]:
    """The demo's orders, due from ``today`` (the plant's date now) on, as ``FIRST_DUE_DAYS`` says."""
    first_due = (today or timezone.localdate()) + datetime.timedelta(days=FIRST_DUE_DAYS)
    return [
        DemoOrder(
            index=index,
            number=f"WO-{1001 + index}",
            item=ORDERED_ITEMS[index % len(ORDERED_ITEMS)],
            quantity=QUANTITIES[index % len(QUANTITIES)],
            due_date=first_due + datetime.timedelta(days=index),
            priority=PRIORITIES[index % len(PRIORITIES)],
            story=story,
        )
        for index, story in enumerate(ORDER_STORIES)
    ]


def demo_crew(order: DemoOrder, work_center: str, checkpoint: bool) -> tuple[str, str]:
    """An operator with the right skill, rotating by order, reporting at the work center's tablet.

    The history is reported by hand at a station (named like the ones `create_station_link`
    makes), not by a machine: only what a machine's counters report counts towards its OEE.
    """
    skill = "inspection" if checkpoint else next(wc[4] for wc in WORK_CENTERS if wc[0] == work_center)
    badges = [badge for badge, _name, skills in EMPLOYEES if skill in skills]
    return badges[order.index % len(badges)], f"{work_center}-1"


def demo_reports(order: DemoOrder) -> list[DemoReport]:
    """The reports of an order's story. Running or paused: two shifts on the first operation (one with
    scrap), some good parts through the second. Completed or closed: every operation finished in turn,
    reported once a shift (at most ``SHIFT_MINUTES`` of labor a report); the first loses two
    parts to scrap, the rest pass on what they got."""
    routing = ROUTINGS[order.item]
    if order.story in {"in_progress", "paused"}:
        first, second = routing[:2]
        quantity = order.quantity
        reports = [
            DemoReport(first, 1, good=Decimal(quantity * 3 // 10)),
            DemoReport(first, 2, good=Decimal(quantity * 2 // 10), scrap=1, reason=SCRAP_REASONS[order.index % len(SCRAP_REASONS)]),
        ]
        if order.index % 2 == 0:
            return [*reports, DemoReport(second, 1, good=Decimal(quantity // 4), rework=1, reason=REWORK_REASONS[order.index % len(REWORK_REASONS)])]
        return [*reports, DemoReport(second, 1, good=Decimal(quantity // 5))]
    if order.story not in {"completed", "closed"}:
        return []
    good = Decimal(order.quantity - 2)
    reports = []
    for position, operation in enumerate(routing):
        scrap = 2 if position == 0 else 0
        pace = OPERATOR_PACE[demo_crew(order, operation[2], operation[5])[0]]
        shifts = math.ceil(standard_minutes(order, operation, good + scrap) / pace / SHIFT_MINUTES)
        for number in range(1, shifts + 1):
            first = number == 1
            reports.append(
                DemoReport(
                    operation, number, good=good * number // shifts - good * (number - 1) // shifts, scrap=scrap if first else 0,
                    reason=SCRAP_REASONS[order.index % len(SCRAP_REASONS)] if scrap and first else "", final=number == shifts,
                )
            )
    return reports


def demo_labor_minutes(order: DemoOrder, report: DemoReport) -> Decimal:
    """A report's labor minutes: its standard minutes (rework takes its run time again) at its operator's pace."""
    _sequence, _name, work_center, _setup, run, checkpoint = report.operation
    badge = demo_crew(order, work_center, checkpoint)[0]
    work = standard_minutes(order, report.operation, report.good + report.scrap) + Decimal(run) * report.rework
    return (work / OPERATOR_PACE[badge]).quantize(Decimal("0.1"))


def demo_schedule(orders: list[DemoOrder], *, until: datetime.datetime) -> dict[tuple[str, int, int], tuple[datetime.datetime, datetime.datetime]]:
    """When each report of ``orders`` (by order number, sequence and report number) was worked: its operator's
    session, from clocking on to clocking off and reporting. Laid back from ``until`` (the demo's history
    ends as it is seeded): an operator's reports, and an order's, follow each other in the order of
    ``orders`` and of the story; a session lies inside one shift, so the labor report counts its clocked
    time, good and standard time in the same shift."""
    schedule = {}
    free_from: dict[str, datetime.datetime] = {}  # operator or order: the start of its next session laid so far
    for order, report in reversed([(order, report) for order in orders for report in demo_reports(order)]):
        badge = demo_crew(order, report.operation[2], report.operation[5])[0]
        length = datetime.timedelta(minutes=float(demo_labor_minutes(order, report)))
        end = min(free_from.get(badge, until), free_from.get(order.number, until))
        shift_start = demo_shift_start(end)
        if end - length < shift_start:
            end = shift_start - HANDOVER
        schedule[order.number, report.operation[0], report.number] = (end - length, end)
        free_from[badge] = free_from[order.number] = end - length
    return schedule


def demo_shift_start(moment: datetime.datetime) -> datetime.datetime:
    """The start of the demo shift running at ``moment`` (the latest shift change before it)."""
    zone = plant_zone()
    day = moment.astimezone(zone).date()
    return max(
        start
        for date in (day - datetime.timedelta(days=1), day)
        for shift in DEMO_SHIFTS
        if (start := datetime.datetime.combine(date, shift.start_time, tzinfo=zone)) < moment
    )


class Command(BaseCommand):
    help = "Build (or complete) the deterministic demo plant and print the logins, tokens and URLs to use it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing (but print how to get in) when any work order exists."
        )
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the web server listens, for the printed links.")
        parser.add_argument("--quiet", action="store_true", help="Print nothing.")

    def handle(self, *args, if_empty: bool, base_url: str, quiet: bool, **options):
        self.quiet = quiet
        base_url = base_url.rstrip("/")
        if if_empty and WorkOrder.objects.exists():
            self.say("The database already holds work orders; the demo plant was not added.")
            self.print_access(base_url, tokens={})
            return
        try:
            tokens = self.seed()
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from None
        self.print_summary()
        self.print_access(base_url, tokens=tokens)

    def say(self, text: str = "") -> None:
        if not self.quiet:
            self.stdout.write(text)

    # --- building ----------------------------------------------------------------

    def seed(self) -> dict[str, str]:
        created = {username: self.user(username, role, password) for username, role, password in DEMO_USERS}
        tokens = {username: key for username, key in created.items() if key}
        users = get_user_model().objects.in_bulk(list(created), field_name="username")
        erp = users["erp"]
        with transaction.atomic():
            for code, name, line, capacity, _skill in WORK_CENTERS:
                labor_rate, machine_rate = WORK_CENTER_RATES[code]
                work_center_upsert(
                    code=code, name=name, line=line, capacity_hours_per_day=Decimal(capacity),
                    labor_rate=Decimal(labor_rate), machine_rate=Decimal(machine_rate), actor=erp,
                )
            for code, name, work_center in EQUIPMENT:
                equipment_upsert(code=code, name=name, work_center=work_center, actor=erp)
            for code, *_rest in WORK_CENTERS:
                shifts_set(work_center_code=code, shifts=DEMO_SHIFTS, actor=users["admin"])
            for code, name, unit, description in ITEMS:
                item_upsert(
                    code=code, name=name, unit=unit, description=description, tracking=ITEM_TRACKING.get(code, "none"),
                    standard_cost=Decimal(ITEM_STANDARD_COSTS[code]), actor=erp,
                )
            for item, version, valid_from, valid_to, lines in BOMS:
                bom_upsert(
                    item_code=item,
                    version=version,
                    valid_from=valid_from,
                    valid_to=valid_to,
                    lines=[
                        {
                            "item": component,
                            "quantity": Decimal(quantity),
                            "operation": BOM_LINE_USE.get((item, component), (None, False))[0],
                            "backflush": BOM_LINE_USE.get((item, component), (None, False))[1],
                        }
                        for component, quantity in lines
                    ],
                    actor=erp,
                )
            for item, operations in ROUTINGS.items():
                routing_upsert(
                    item_code=item,
                    operations=[
                        {
                            "sequence": sequence,
                            "name": name,
                            "work_center": work_center,
                            "setup_minutes": Decimal(setup),
                            "run_minutes_per_unit": Decimal(run),
                            "quality_checkpoint": checkpoint,
                        }
                        for sequence, name, work_center, setup, run, checkpoint in operations
                    ],
                    actor=erp,
                )
            for code in DEMO_UNITS:
                unit_of_measure_ensure(code=code)
            for (item, sequence), characteristics in INSPECTION_PLANS.items():
                inspection_plan_set(item_code=item, sequence=sequence, characteristics=[demo_plan_row(row) for row in characteristics], actor=users["admin"])
            for item, lot, quantity, status, supplier_lot, location in DEMO_LOTS:
                lot_upsert(
                    item_code=item, lot_code=lot, quantity=Decimal(quantity), status=status, supplier_lot=supplier_lot, location=location,
                    **({"unit_cost": Decimal(LOT_UNIT_COSTS[item, lot])} if (item, lot) in LOT_UNIT_COSTS else {}), actor=erp,
                )
            for badge, name, skills in EMPLOYEES:
                employee_upsert(badge=badge, name=name, skills=skills, actor=erp)
            # The demo's operator token reports as E1001 at WC-CUT-1 (the example printed below).
            api_user_bind(username="station", badge="E1001", stations=["WC-CUT-1"], actor=users["admin"])
            for code, kind, name in REASON_CODES:
                reason_code_upsert(code=code, kind=kind, name=name, actor=erp)
            if not ErpConnection.objects.exists():  # never replace a connection someone configured
                erp_connection_upsert(
                    name="demo-sap",
                    kind="sap",
                    base_url=f"http://127.0.0.1:{ERP_SIMULATOR_PORT}/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV",
                    username="MES_INTEGRATION",
                    password="mes-demo-password",
                    options={"reason_code_map": SAP_REASON_CODES},
                    is_default=True,
                    actor=erp,
                )
            if not AndonLadder.objects.exists():  # never replace ladders someone configured
                andon_ladder_put(code="demo", data=demo_andon_ladder(), actor=users["admin"])
        # Sub-assemblies first: a finished good's order is issued the lot its sub-assembly's order made.
        orders = sorted(demo_orders(), key=lambda order: order.item.startswith("FG"))
        self.schedule = demo_schedule(orders, until=timezone.now())
        for order in orders:
            self.play(order, users)
        self.connect_machines(erp)
        return tokens

    def connect_machines(self, actor) -> None:
        """Map the demo machines to the simulated PLCs and start an open operation on each, so their
        counts become confirmations (and reach the simulated ERP) as soon as make run is up."""
        for unit_id, code in enumerate(DEMO_MACHINES, start=1):
            equipment_signals_set(equipment_code=code, config=demo_machine_mapping(unit_id), actor=actor)
            center = Equipment.objects.get(code=code).work_center_id
            operation = (
                WorkOrderOperation.objects.filter(work_center_id=center, status__in=[Status.RELEASED, Status.IN_PROGRESS])
                .filter(work_order__status__in=[Status.RELEASED, Status.IN_PROGRESS])
                .select_related("work_order")
                .order_by("work_order__due_date", "work_order__number", "sequence")
                .first()
            )
            if operation is not None and not EquipmentAssignment.objects.filter(equipment__code=code, ended_at__isnull=True).exists():
                operation_start_on_equipment(
                    number=operation.work_order.number, sequence=operation.sequence, equipment_code=code, actor=actor
                )

    def user(self, username: str, role: str, password: str | None) -> str | None:
        """A demo login in its role, by the accounts service; people get a password. Returns its API
        token when one was made now (only its hash is kept, so it is shown this once), else None."""
        user = api_user_ensure(username=username, role=role)
        key = None
        if not ApiToken.objects.filter(user=user).exists():
            key = api_token_create(username=username, role=role, actor_label="manage.py seed_demo").key
        update_fields = []
        # Only a user the service has just made has no usable password: a changed one stays changed.
        if password is not None and not user.has_usable_password():
            user.set_password(password)
            update_fields.append("password")
        if role == Role.ADMIN and not user.is_superuser:
            user.is_superuser = True
            update_fields.append("is_superuser")
        if update_fields:
            user.save(update_fields=update_fields)
        return key

    def play(self, order: DemoOrder, users: dict[str, Any]) -> None:
        """Upsert one order and, while it is still planned, play its story up to its demo state."""

        def move(action: str, actor: str, reason: str = "", released_at: datetime.datetime | None = None) -> None:
            work_order_transition(number=order.number, action=action, actor=users[actor], reason=reason, released_at=released_at)

        with transaction.atomic():
            # Seeded again on a later day, an order keeps the due date it was given the first time.
            seeded_due = WorkOrder.objects.filter(number=order.number).values_list("due_date", flat=True).first()
            result = work_order_upsert(
                number=order.number,
                item=order.item,
                quantity=Decimal(order.quantity),
                due_date=seeded_due or order.due_date,
                priority=order.priority,
                actor=users["erp"],
            )
            if order.story == "planned" or result.obj.status != Status.PLANNED:
                return
            if order.story == "cancelled_planned":
                move("cancel", "planner", "客户取消 Cancelled by customer")
                return
            move("release", "planner", released_at=self.release_moment(order))
            if order.story in {"in_progress", "paused", "completed", "closed"}:
                self.issue_tracked(order, users["station"])
            if order.story == "cancelled_released":
                move("cancel", "planner", "工程变更 Engineering change")
            elif order.story in {"in_progress", "paused", "completed", "closed"}:
                self.report(order, users["station"])
                if order.story == "paused":
                    move("pause", "supervisor", "PAU-02 等待物料 Waiting for material")
                elif order.story == "closed":
                    move("close", "supervisor")

    def release_moment(self, order: DemoOrder) -> datetime.datetime | None:
        """When an order with reports was released: ``RELEASE_LEAD`` before its first report's session
        began (its history lies in the past days, and the board plans from the release), else now (None)."""
        starts = [start for (number, _sequence, _report), (start, _end) in self.schedule.items() if number == order.number]
        return min(starts) - RELEASE_LEAD if starts else None

    def issue_tracked(self, order: DemoOrder, actor: Any) -> None:
        """Scan, before the order's first report, a lot of each of its tracked components issued by scan:
        the oldest available lot holding the whole requirement (raw material from the ERP's lots, a
        sub-assembly from the lot an order of it made), as an operator at the operation's station does."""
        components = (
            WorkOrderComponent.objects.select_related("item")
            .filter(work_order__number=order.number, backflush=False)
            .exclude(item__tracking=Item.Tracking.NONE)
            .order_by("operation_sequence", "position")
        )
        for component in components:
            lot = (
                Lot.objects.filter(item=component.item, kind=Lot.Kind.LOT, status=Lot.Status.AVAILABLE)
                .annotate(on_hand=F("received_qty") + F("produced_qty") - F("issued_qty"))
                .filter(on_hand__gte=component.required_qty)
                .order_by("pk")
                .first()
            )
            if lot is None:
                continue
            operation = next(op for op in ROUTINGS[order.item] if op[0] == component.operation_sequence)
            operator_badge, station = demo_crew(order, operation[2], operation[5])
            material_issue(
                request=MaterialIssueRequest(
                    client_id=uuid.uuid5(DEMO_NAMESPACE, f"{order.number}/{component.operation_sequence}/issue/{component.item.code}"),
                    work_order=order.number,
                    operation=component.operation_sequence,
                    item=component.item.code,
                    lot=lot.code,
                    quantity=component.required_qty,
                    operator_badge=operator_badge,
                    station=station,
                ),
                actor=actor,
            )

    def report(self, order: DemoOrder, actor: Any) -> None:
        """Report the order's story, each report by its operator clocked on for it as ``demo_schedule`` says."""
        for report in demo_reports(order):
            clocked = self.schedule[order.number, report.operation[0], report.number]
            self.confirm(order, report, actor, minutes=demo_labor_minutes(order, report), clocked=clocked)

    def confirm(
        self, order: DemoOrder, report: DemoReport, actor: Any, *, minutes: Decimal, clocked: tuple[datetime.datetime, datetime.datetime]
    ) -> None:
        """Start the operation, clock the operator on and off it at ``clocked`` (as at the station: a badge
        scan starts the operation and clocks on), and report at the clock-off: the labor report counts the
        report's good and standard time in the shift its clocked time ends in."""
        sequence, _name, work_center, _setup, _run, checkpoint = report.operation
        operator_badge, station = demo_crew(order, work_center, checkpoint)
        self.inspect(order, sequence, work_center, good=report.good, actor=actor)
        with transaction.atomic():
            work_order = work_order_lock(number=order.number)
            operation = WorkOrderOperation.objects.get(work_order=work_order, sequence=sequence)
            operation_start_locked(operation=operation, work_order=work_order, actor=actor, actor_label=operator_badge)
            employee = Employee.objects.get(badge=operator_badge)
            labor_clock_on(operation=operation, employee=employee, station=station, at=clocked[0])
            labor_clock_off(operation=operation, employee=employee, at=clocked[1])
            operation_confirm(
                request=ConfirmationRequest(
                    client_id=uuid.uuid5(DEMO_NAMESPACE, f"{order.number}/{sequence}/{report.number}"),
                    work_order=order.number,
                    operation=sequence,
                    good_qty=report.good,
                    scrap_qty=Decimal(report.scrap),
                    rework_qty=Decimal(report.rework),
                    reason_code=report.reason,
                    operator_badge=operator_badge,
                    station=station,
                    labor_minutes=minutes,
                    machine_minutes=Decimal(0) if checkpoint else minutes,
                    final=report.final,
                    confirmed_at=clocked[1],  # reported as the operator clocks off, like the station's report then
                ),
                actor=actor,
            )

    def inspect(self, order: DemoOrder, sequence: int, work_center: str, *, good: Decimal, actor: Any) -> None:
        """Record the passing results the next report of ``good`` needs, as an inspector at the station would."""
        plan = INSPECTION_PLANS.get((order.item, sequence), [])
        if not plan or not good:
            return
        done = WorkOrderOperation.objects.get(work_order__number=order.number, sequence=sequence).good_qty
        inspector, station = demo_crew(order, work_center, True)
        for characteristic in plan:
            rule = characteristic["sampling"]["rule"]
            samples = [1] if rule == "first_piece" else range(1, int((done + good) // characteristic["sampling"]["n"]) + 1)
            for sample in samples:
                deviation = Decimal(DEMO_DEVIATIONS[(order.index * 7 + sample) % len(DEMO_DEVIATIONS)])
                inspection_record(
                    request=InspectionRequest(
                        client_id=uuid.uuid5(DEMO_NAMESPACE, f"{order.number}/{sequence}/inspection/{characteristic['code']}/{sample}"),
                        work_order=order.number, operation=sequence, characteristic=characteristic["code"],
                        value=Decimal(characteristic["nominal"]) + deviation, sample_no=sample, inspector_badge=inspector,
                    ),
                    actor=actor,
                )

    # --- printing ----------------------------------------------------------------

    def print_summary(self) -> None:
        counts = {status: 0 for status in Status.values}
        numbers = [order.number for order in demo_orders()]
        for status in WorkOrder.objects.filter(number__in=numbers).values_list("status", flat=True):
            counts[status] += 1
        self.say("Demo plant ready (running this again changes nothing).")
        self.say(
            f"  lines L1, L2; {len(WORK_CENTERS)} work centers; {len(EQUIPMENT)} machines; {len(ITEMS)} items; "
            f"{len(BOMS)} BOM versions; {len(ROUTINGS)} routings; {len(EMPLOYEES)} employees (badges E1001-E1020); "
            f"{len(REASON_CODES)} reason codes"
        )
        self.say(
            f"  {len(numbers)} work orders WO-1001..WO-{1000 + len(numbers)}: "
            + ", ".join(f"{count} {status}" for status, count in counts.items() if count)
        )

    def traced_chain(self) -> tuple[Lot, Lot] | None:
        """A finished lot the demo made of a sub-assembly lot made of a raw lot, and that raw lot."""
        def issued_to(order_id: int, *, made: bool):
            return Lot.objects.select_related("item").filter(
                movements__work_order=order_id, movements__kind="issue", movements__state="posted", produced_by__isnull=not made
            ).distinct().order_by("pk")

        for finished in Lot.objects.select_related("item").filter(item__code__startswith="FG-", produced_by__isnull=False).order_by("pk"):
            for sub in issued_to(finished.produced_by_id, made=True):
                raw = issued_to(sub.produced_by_id, made=False).first()
                if raw is not None:
                    return raw, finished
        return None

    def lot_to_scan(self) -> tuple[str, int, str, str] | None:
        """An order's cutting operation still open that needs a lot of steel, and the lot to scan for it."""
        lot = Lot.objects.filter(item__code="RM-0001", status=Lot.Status.AVAILABLE).order_by("pk").first()
        components = (
            WorkOrderComponent.objects.filter(item__code="RM-0001", backflush=False, work_order__status__in=[Status.RELEASED, Status.IN_PROGRESS])
            .filter(issued_qty__lt=F("required_qty"))
            .order_by("work_order__number")
            .values_list("work_order_id", "work_order__number", "operation_sequence")
        )
        for order_id, number, sequence in components:
            if lot and WorkOrderOperation.objects.filter(
                work_order_id=order_id, sequence=sequence, work_center__code="WC-CUT", status__in=[Status.RELEASED, Status.IN_PROGRESS]
            ).exists():
                return number, sequence, "RM-0001", lot.code
        return None

    def print_access(self, base_url: str, *, tokens: dict[str, str]) -> None:
        self.say()
        self.say("Open in a browser:")
        self.say(f"  {base_url}/            home")
        self.say(f"  {base_url}/api/docs/   API documentation (Swagger UI)")
        self.say(f"  {base_url}/admin/      administration")
        self.say(f"  {base_url}/planning/   work orders: release, pause, close, print travelers (planner)")
        self.say(f"  {base_url}/board/      progress board, live; {base_url}/board/?wall=1 for a wall screen")
        self.say(f"  {base_url}/oee/        machines' state and OEE (supervisor)")
        self.say(f"  {base_url}/sync/       ERP sync health, dead letters, reconciliation (supervisor)")
        self.say(f"  {base_url}/station/    operator station: make this browser one at {base_url}/station/setup/ (supervisor),")
        self.say(f"                           or open the one-time link of: python manage.py create_station_link WC-CUT --base-url {base_url}")
        self.say("                           then scan or type EMP:E1001, WO:<order>/<operation>, QTY:5, ACT:REPORT")
        scan = self.lot_to_scan()
        if scan:
            self.say(f"                           and LOT:{scan[2]}:{scan[3]} to issue that lot of steel to {scan[0]}/{scan[1]}")
        self.say(f"  {base_url}/quality/    open NCRs and holds, dispositions (quality); the SPC chart of the bracket's bend angle:")
        self.say(f"                           {base_url}/quality/spc/SA-1100/20/ANGLE/ ; a released SA-1100 order asks for a first-piece LEN check")
        self.say(f"  {base_url}/trace/      trace a lot or serial forward (where it went) and backward (what it was made of)")
        chain = self.traced_chain()
        if chain:
            raw, finished = chain
            self.say(f"                           e.g. {raw.code} (steel, {raw.item.code}) or {finished.code} ({finished.item.code}, made of it);")
            self.say(f"                           the label of {finished.code}: {base_url}/api/v1/lots/{finished.item.code}/{finished.code}/label.pdf")
        people = [(username, role, password) for username, role, password in DEMO_USERS if password]
        if any(username in tokens for username, _role, _password in people):
            self.say()
            self.say("Demo logins (username / password, role):")
            for username, role, password in people:
                self.say(f"  {username} / {password}  ({role})")
        if not tokens:
            self.say()
            self.say("API tokens are shown once, when they are made (only a hash is kept). A new one for a user:")
            self.say("  python manage.py create_api_token <username> --role <role> --rotate")
            return
        self.say()
        self.say("API tokens (header  Authorization: Token <key>), shown this once: only a hash is kept:")
        for username, role, _password in DEMO_USERS:
            if username in tokens:
                self.say(f"  {username:<10} {role:<11} {tokens[username]}")
        example = (
            WorkOrder.objects.filter(status=Status.RELEASED, operations__isnull=False)
            .order_by("number")
            .values_list("number", flat=True)
            .first()
        )
        if "station" in tokens and example:
            sequence = WorkOrder.objects.get(number=example).operations.order_by("sequence").values_list("sequence", flat=True)[0]
            self.say()
            self.say(f"Report 5 good parts on {example}, operation {sequence} (paste twice: 201 Created, then 200 for the replay):")
            self.say(
                f"  curl -i -X POST {base_url}/api/v1/confirmations \\\n"
                f"    -H 'Authorization: Token {tokens['station']}' -H 'Content-Type: application/json' \\\n"
                f"    -d '{{\"client_id\": \"{uuid.uuid4()}\", \"work_order\": \"{example}\", \"operation\": {sequence}, "
                f"\"good_qty\": 5, \"operator_badge\": \"E1001\", \"station\": \"WC-CUT-1\"}}'"
            )
            self.say(f"  curl -s {base_url}/api/v1/work-orders/{example} -H 'Authorization: Token {tokens['station']}'")


def demo_andon_ladder() -> dict:
    """Every andon call of the demo: the line lead's chat group at once, a DingTalk robot (signed) when
    nobody acknowledged within 2 minutes, the plant manager when it is not resolved within 10, all
    received by the demo's webhook sink (``var/webhook-ledger.jsonl``)."""
    sink = f"http://127.0.0.1:{WEBHOOK_SINK_PORT}"
    return {
        "steps": [
            {"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "webhook", "url": f"{sink}/line-lead", "secret": "demo-webhook-secret"}},
            {"after_seconds": 120, "when": "unacknowledged", "channel": {"type": "dingtalk", "url": f"{sink}/robot/send?access_token=demo", "secret": "SECdemo"}},
            {"after_seconds": 600, "when": "unresolved", "channel": {"type": "wecom", "url": f"{sink}/cgi-bin/webhook/send?key=demo"}},
        ]
    }
