"""Labor per operator for payroll: ``GET /api/v1/reports/labor`` (JSON, CSV, XLSX) and ``/reports/labor/``.

The clocked data (plant time, Asia/Shanghai by default): WC-WELD works two shifts, Early 06:00–14:00
and Late 14:00–22:00, every day; WC-CUT has no shifts (all day). On Monday 2026-11-16, on WO-1001's
operation 20 (Weld: run 4 min per piece, no setup):

- B-1001 Li Wei is clocked 12:00–16:00 (2 h Early, 2 h Late) and 22:00–23:00 (outside the shifts);
- B-2002, whose name is a formula, is clocked 13:00–15:30 (1 h Early, 1.5 h Late), overlapping Li Wei;
- Li Wei reports 5 good + 1 scrap at 13:30 (Early) and 3 good at 15:45 (Late); B-2002 1 good at 15:00 (Late).

Li Wei also reports operation 10 (Cut: setup 10 min, run 2.5 min, planned 10) with 10 good at 11:00, not
clocked; and is clocked on Tuesday 07:00–08:00 (a day outside a Monday-only report)."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.conf import settings

from common.spreadsheet import safe_cell
from mes.models import Employee, LaborSession, RoutingOperation
from shopfloor.models import Shift
from tests.factories import EmployeeFactory
from tests.helpers import confirm, operation_of, signed_in

pytestmark = pytest.mark.django_db

D = Decimal
ZONE = zoneinfo.ZoneInfo(settings.TIME_ZONE)
MONDAY = datetime.date(2026, 11, 16)
EVIL = '=HYPERLINK("http://evil.example/","click")'
URL = "/api/v1/reports/labor"


def at(hour: float, day: datetime.date = MONDAY) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=ZONE) + datetime.timedelta(hours=hour)


def clocked(badge: str, start: datetime.datetime, end: datetime.datetime, sequence: int = 20) -> None:
    LaborSession.objects.create(
        operation=operation_of("WO-1001", sequence), employee=Employee.objects.get(badge=badge), station="ST-1",
        started_at=start, ended_at=end, end_reason=LaborSession.EndReason.CLOCK_OFF,
    )


def clocked_week_make(plant) -> None:
    """The scenario of the module's docstring (WO-1001 planned, as ``planned_order`` leaves it)."""
    from mes.services.work_orders import work_order_transition

    RoutingOperation.objects.filter(routing__item__code="FRAME-100", sequence=20).update(setup_minutes=0)
    for name, start, end in (("Early", 6, 14), ("Late", 14, 22)):
        Shift.objects.create(
            work_center=plant["centers"]["WC-WELD"], name=name, start_time=datetime.time(start),
            end_time=datetime.time(end), weekdays="1234567",
        )
    EmployeeFactory(badge="B-2002", name=EVIL)
    work_order_transition(number="WO-1001", action="release")
    confirm("WO-1001", 10, good_qty=10, operator_badge="B-1001", confirmed_at=at(11), labor_minutes=0, final=True)
    confirm("WO-1001", 20, good_qty=5, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001", confirmed_at=at(13.5), labor_minutes=90)
    confirm("WO-1001", 20, good_qty=1, operator_badge="B-2002", confirmed_at=at(15), labor_minutes=60)
    confirm("WO-1001", 20, good_qty=3, operator_badge="B-1001", confirmed_at=at(15.75), labor_minutes=60)
    clocked("B-1001", at(12), at(16))
    clocked("B-2002", at(13), at(15.5))
    clocked("B-1001", at(22), at(23))
    clocked("B-1001", at(7, MONDAY + datetime.timedelta(days=1)), at(8, MONDAY + datetime.timedelta(days=1)))


@pytest.fixture
def clocked_week(plant, planned_order):
    """The scenario, with the clock standing on Wednesday 2026-11-18, 09:00."""
    with time_machine.travel(at(9, MONDAY + datetime.timedelta(days=2)), tick=False):
        clocked_week_make(plant)
        yield


# (day, shift, badge, order, operation, clocked h, good, scrap, standard h, efficiency)
MONDAY_ROWS = [
    # Cut (a work center without shifts): 10 good; 10 × 2.5 min run + setup 10 min shared over the 10 planned
    # (10 × 10 / 10) = 35 min standard (0.58 h); not clocked.
    ("2026-11-16", "", "B-1001", "WO-1001", 10, 0.0, 10.0, 0.0, 0.58, None),
    # Outside the shifts: 22:00–23:00, nothing reported.
    ("2026-11-16", "", "B-1001", "WO-1001", 20, 1.0, 0.0, 0.0, 0.0, 0.0),
    # Early: (5 + 1) × 4 min = 24 min standard over 2 h clocked = 0.2.
    ("2026-11-16", "Early", "B-1001", "WO-1001", 20, 2.0, 5.0, 1.0, 0.4, 0.2),
    ("2026-11-16", "Early", "B-2002", "WO-1001", 20, 1.0, 0.0, 0.0, 0.0, 0.0),
    # Late: 3 × 4 = 12 min over 2 h = 0.1; B-2002: 4 min over 1.5 h = 0.044.
    ("2026-11-16", "Late", "B-1001", "WO-1001", 20, 2.0, 3.0, 0.0, 0.2, 0.1),
    ("2026-11-16", "Late", "B-2002", "WO-1001", 20, 1.5, 1.0, 0.0, 0.07, 0.044),
]


def row_tuple(row: dict) -> tuple:
    return (
        row["day"], row["shift"], row["operator_badge"], row["work_order"], row["operation"], row["clocked_hours"],
        row["good_qty"], row["scrap_qty"], row["standard_hours"], row["efficiency"],
    )


def test_the_json_report_counts_each_operator_by_day_shift_and_operation(clocked_week, planner):
    answer = planner.get(URL, {"from": "2026-11-16", "to": "2026-11-16"})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["from"], body["to"]) == ("2026-11-16", "2026-11-16")
    assert [row_tuple(row) for row in body["rows"]] == MONDAY_ROWS
    assert body["rows"][3]["operator_name"] == EVIL and body["rows"][2]["work_center"] == "WC-WELD"
    # Per operator: Li Wei 1 + 2 + 2 = 5 h clocked, 18 good, 1 scrap, 35 + 24 + 12 = 71 min standard (1.18 h) → 71 / 300 = 0.237.
    # B-2002: 2.5 h, 1 good, 4 min → 4 / 150 = 0.027.
    assert [
        (total["operator_badge"], total["clocked_hours"], total["good_qty"], total["scrap_qty"], total["standard_hours"], total["efficiency"])
        for total in body["operators"]
    ] == [("B-1001", 5.0, 18.0, 1.0, 1.18, 0.237), ("B-2002", 2.5, 1.0, 0.0, 0.07, 0.027)]


def test_days_outside_the_period_are_left_out_and_a_longer_period_takes_them_in(clocked_week, planner):
    tuesday = planner.get(URL, {"from": "2026-11-17", "to": "2026-11-17"}).json()
    assert [row_tuple(row) for row in tuesday["rows"]] == [("2026-11-17", "Early", "B-1001", "WO-1001", 20, 1.0, 0.0, 0.0, 0.0, 0.0)]
    both = planner.get(URL, {"from": "2026-11-16", "to": "2026-11-17"}).json()
    assert [row_tuple(row) for row in both["rows"]] == [*MONDAY_ROWS, row_tuple(tuesday["rows"][0])]
    assert planner.get(URL, {"from": "2026-11-10", "to": "2026-11-15"}).json() == {"from": "2026-11-10", "to": "2026-11-15", "rows": [], "operators": []}


def test_the_csv_has_the_same_numbers_and_no_live_formula(clocked_week, supervisor):
    answer = supervisor.get(URL, {"from": "2026-11-16", "to": "2026-11-16", "format": "csv"})
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"] == 'attachment; filename="labor-2026-11-16-2026-11-16.csv"'
    text = answer.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        (row["day"], row["shift"], row["operator_badge"], row["work_order"], int(row["operation"]), float(row["clocked_hours"]),
         float(row["good_qty"]), float(row["scrap_qty"]), float(row["standard_hours"]), float(row["efficiency"]) if row["efficiency"] else None)
        for row in rows
    ] == MONDAY_ROWS
    names = {row["operator_name"] for row in rows}
    assert names == {"Li Wei", "'" + EVIL}  # inert: a spreadsheet shows the text, runs nothing
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values() if cell)


def test_the_xlsx_has_typed_numbers_and_no_live_formula(clocked_week, planner):
    answer = planner.get(URL, {"from": "2026-11-16", "to": "2026-11-16", "format": "xlsx"})
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["labor", "operators"]
    sheet = book["labor"]
    header = [cell.value for cell in sheet[1]]
    records = [dict(zip(header, (cell.value for cell in row))) for row in sheet.iter_rows(min_row=2)]
    assert [
        (row["day"].date().isoformat(), row["shift"] or "", row["operator_badge"], row["work_order"], row["operation"], row["clocked_hours"],
         row["good_qty"], row["scrap_qty"], row["standard_hours"], row["efficiency"])
        for row in records
    ] == MONDAY_ROWS
    for row in sheet.iter_rows(min_row=2):
        cells = dict(zip(header, row))
        assert cells["clocked_hours"].data_type == "n" and cells["good_qty"].data_type == "n"
        assert cells["operator_name"].data_type == "s"  # never "f" (a formula)
    assert {row["operator_name"] for row in records} == {"Li Wei", "'" + EVIL}
    totals = book["operators"]
    assert [[cell.value for cell in row] for row in totals.iter_rows(min_row=2)] == [
        ["B-1001", "Li Wei", 5, 18, 1, 1.18, 0.237],
        ["B-2002", "'" + EVIL, 2.5, 1, 0, 0.07, 0.027],
    ]
    assert not any(cell.data_type == "f" for sheet in book for row in sheet.iter_rows() for cell in row)


def test_a_session_still_open_counts_up_to_now(plant, planned_order, planner):
    Shift.objects.create(work_center=plant["centers"]["WC-WELD"], name="Day", start_time=datetime.time(8), end_time=datetime.time(20), weekdays="1234567")
    with time_machine.travel(at(9), tick=False):
        from mes.services.work_orders import work_order_transition

        work_order_transition(number="WO-1001", action="release")
    LaborSession.objects.create(operation=operation_of("WO-1001", 20), employee=Employee.objects.get(badge="B-1001"), started_at=at(9))
    with time_machine.travel(at(11.5), tick=False):
        body = planner.get(URL, {"from": "2026-11-16", "to": "2026-11-16"}).json()
    assert [(row["shift"], row["clocked_hours"]) for row in body["rows"]] == [("Day", 2.5)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2026-11-16"}, "from"),
        ({"from": "2026-11-16"}, "to"),
        ({"from": "16.11.2026", "to": "2026-11-16"}, "from"),
        ({"from": "2026-11-16", "to": "2026-13-01"}, "to"),
        ({"from": "2026-11-17", "to": "2026-11-16"}, "from"),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "to"),
        ({"from": "2026-11-16", "to": "2026-11-16", "format": "pdf"}, "format"),
    ],
)
def test_a_bad_period_or_format_is_a_400_naming_the_field(plant, planner, query, field):
    answer = planner.get(URL, query)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and list(error["fields"]) == [field]


def test_the_longest_period_is_a_setting(plant, planner, settings):
    settings.MES_LABOR_REPORT_MAX_DAYS = 7
    assert planner.get(URL, {"from": "2026-11-16", "to": "2026-11-22"}).status_code == 200
    answer = planner.get(URL, {"from": "2026-11-16", "to": "2026-11-23"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "at most 7 days" in answer.json()["error"]["fields"]["to"]


def test_who_may_read_the_labor_report(plant, planner, supervisor, erp_client, admin_api, operator, quality, anonymous):
    query = {"from": "2026-11-16", "to": "2026-11-16"}
    for client in (planner, supervisor, erp_client, admin_api):
        assert client.get(URL, query).status_code == 200
    for client in (operator, quality):
        answer = client.get(URL, {**query, "format": "csv"})
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert anonymous.get(URL, query).status_code in (401, 403)


def test_safe_cell_quotes_only_text_that_starts_like_a_formula():
    for text in ("=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    for value in ("Li Wei", "a=b", "", D("-1.5"), -3, None, datetime.date(2026, 1, 1)):
        assert safe_cell(value) == value


# --- the page -------------------------------------------------------------------------------------


def test_the_page_shows_the_period_with_downloads_in_both_languages(clocked_week, client):
    signed_in(client, "supervisor")
    page = client.get("/reports/labor/", {"from": "2026-11-16", "to": "2026-11-16"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Labor per operator" in html
    assert 'href="/api/v1/reports/labor?from=2026-11-16&amp;to=2026-11-16&amp;format=csv"' in html
    assert 'href="/api/v1/reports/labor?from=2026-11-16&amp;to=2026-11-16&amp;format=xlsx"' in html
    assert html.count('data-badge="B-1001"') == 1 + 4  # the total and four rows
    assert "=HYPERLINK(&quot;http://evil.example/&quot;" in html  # escaped on the page, not quoted
    assert 'href="/reports/labor/"' in html  # in the menu
    chinese = client.get("/reports/labor/", {"from": "2026-11-16", "to": "2026-11-16"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "按操作员的工时" in chinese and "下载" in chinese


def test_the_page_explains_a_bad_period(plant, client):
    signed_in(client, "planner")
    page = client.get("/reports/labor/", {"from": "2026-11-20", "to": "2026-11-16"})
    assert page.status_code == 400
    assert "from must not be after to." in page.content.decode()


@pytest.mark.parametrize(("role", "status"), [("planner", 200), ("supervisor", 200), ("admin", 200), ("operator", 403), ("quality", 403)])
def test_who_may_open_the_page_and_sees_it_in_the_menu(plant, client, role, status):
    signed_in(client, role)
    assert client.get("/reports/labor/").status_code == status
    home = client.get("/").content.decode()
    assert ('href="/reports/labor/"' in home) is (status == 200)


def test_the_report_reads_in_a_fixed_number_of_queries(clocked_week, django_assert_num_queries):
    from shopfloor.labor_report.selectors import labor_report

    # The work centers' shifts, the sessions, the confirmations: however many rows there are.
    with django_assert_num_queries(3):
        report = labor_report(first_day=MONDAY, last_day=MONDAY + datetime.timedelta(days=1))
    assert len(report.rows) == 7
