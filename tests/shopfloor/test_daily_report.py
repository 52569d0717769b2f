"""The daily execution report on a day computed by hand: its numbers, its PDF and XLSX read back,
its page and API (who may, bad input), and its sending after the shift's end to a real HTTP
receiver on loopback, exactly once.

Monday 16 November 2026 (Asia/Shanghai), line L1, both work centers on shift "Early" 06:00–14:00:

- WC-PRESS (冲压, machine PRESS-01): WO-7001, 800 × 0.5 min = 6.667 h planned. Confirmed: 07:00 100
  good, 10:00 300 good 10 scrap, 14:00 300 good 10 scrap (in the day: start < at ≤ end), 14:30 50 good
  (after the day). Good 700, scrap 20: completion 700/800, scrap rate 20/720, earned 720 × 0.5 min = 6 h
  of 8 h capacity → utilisation 0.75 (the bottleneck). Queue at 15:00: 800 − 770 = 30 × 0.5 min = 0.25 h.
  Machine states as tests/shopfloor/oee_scenario.py: down 06:30–07:30 for DT-01 (3,600 s, one stop),
  idle 08:00–08:30 without a reason (1,800 s unexplained); OEE = 700 × 30 s / 28,800 s.
- WC-PACK (no machine): WO-7002, 100 × 2 min = 3.333 h planned. Confirmed: 09:00 40 good 5 scrap,
  13:00 20 good. Good 60, scrap 5: completion 0.6, earned 65 × 2 min = 2.167 h → utilisation 0.2708.
  Queue: 35 × 2 min = 1.17 h.
- Line L1: planned 900, good 760, scrap 25.
"""

from __future__ import annotations

import datetime
import io
import json
import uuid
from decimal import Decimal
from fractions import Fraction

import openpyxl
import pytest
from django.core import mail
from django.test import Client

from mes.models import ReasonCode
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from mes.services.master_data import equipment_upsert, work_center_upsert
from mes.services.work_orders import work_order_transition
from shopfloor.models import DailyPlan, DailyReportSend
from shopfloor.oee import equipment_oee
from shopfloor.planning.services import schedule_refresh
from shopfloor.reports.daily import PLAN_NONE, PLAN_RECORDED, PLAN_SCHEDULE, daily_report
from shopfloor.reports.services import daily_plans_take, daily_reports_due
from shopfloor.services import ShiftSpec, shifts_set
from tests.factories import ItemFactory, ReasonCodeFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import signed_in
from tests.shopfloor.oee_scenario import MONDAY, at, state
from tests.shopfloor.test_andon import receiver  # noqa: F401 — the loopback receiver fixture
from tests.shopfloor_documents.pdf_reading import pdf_text

URL = "/api/v1/reports/daily"
INJECTION = '=HYPERLINK("http://evil.example/","click")'


def confirm(order: str, good: int, scrap: int, when: datetime.datetime, *, station: str = "") -> None:
    operation_confirm(
        request=ConfirmationRequest(
            client_id=uuid.uuid4(), work_order=order, operation=10, good_qty=Decimal(good), scrap_qty=Decimal(scrap),
            reason_code="SCRAP-01" if scrap else "", station=station, confirmed_at=when,
        )
    )


@pytest.fixture
def day(db):
    """The Monday of the module's docstring, its plan recorded at 06:01."""
    press = work_center_upsert(code="WC-PRESS", name="冲压", line="L1").obj
    pack = work_center_upsert(code="WC-PACK", name="+Packing", line="L1").obj
    machine = equipment_upsert(code="PRESS-01", name="Press 1", work_center="WC-PRESS").obj
    for code in ("WC-PRESS", "WC-PACK"):
        shifts_set(work_center_code=code, shifts=[ShiftSpec("Early", datetime.time(6), datetime.time(14), "12345")])
    ReasonCodeFactory(code="SCRAP-01", kind=ReasonCode.Kind.SCRAP, name="Material defect")
    ReasonCodeFactory(code="DT-01", kind=ReasonCode.Kind.DOWNTIME, name=INJECTION)
    panel, box = ItemFactory(code="PANEL-1"), ItemFactory(code="BOX-1")
    RoutingFactory(item=panel, operations=[{"sequence": 10, "name": "Press", "work_center": press, "run_minutes_per_unit": Decimal("0.5"), "setup_minutes": Decimal(0)}])
    RoutingFactory(item=box, operations=[{"sequence": 10, "name": "Pack", "work_center": pack, "run_minutes_per_unit": Decimal("2"), "setup_minutes": Decimal(0)}])
    WorkOrderFactory(number="WO-7001", item=panel, quantity=Decimal(800), due_date=datetime.date(2030, 1, 31))
    WorkOrderFactory(number="WO-7002", item=box, quantity=Decimal(100), due_date=datetime.date(2030, 1, 31))
    for number in ("WO-7001", "WO-7002"):
        work_order_transition(number=number, action="release")
    schedule_refresh(now=at(6))
    assert daily_plans_take(now=at(6, 1)) >= 2
    assert daily_plans_take(now=at(6, 2)) == 0  # once a day
    state(machine, "run", at(5), at(6, 30))
    state(machine, "down", at(6, 30), at(7, 30), reason="DT-01")
    state(machine, "run", at(7, 30), at(8))
    state(machine, "idle", at(8), at(8, 30))
    state(machine, "run", at(8, 30), at(14, 30))
    confirm("WO-7001", 100, 0, at(7), station="PRESS-01")
    confirm("WO-7001", 300, 10, at(10), station="PRESS-01")
    confirm("WO-7001", 300, 10, at(14), station="PRESS-01")
    confirm("WO-7001", 50, 0, at(14, 30), station="PRESS-01")
    confirm("WO-7002", 40, 5, at(9))
    confirm("WO-7002", 20, 0, at(13))
    return machine


def test_the_numbers_of_a_day_computed_by_hand(day):
    report = daily_report(day=MONDAY, line="L1", now=at(15)).as_json()

    assert report["date"] == "2026-11-16" and report["line"] == "L1" and report["bottleneck"] == "WC-PRESS"
    [line] = report["lines"]
    centers = {center["code"]: center for center in line["work_centers"]}
    press, pack = centers["WC-PRESS"], centers["WC-PACK"]
    assert (press["from"], press["to"]) == (at(6), at(14))
    assert (press["plan_source"], press["planned_qty"], press["planned_hours"], press["planned_operations"]) == (PLAN_RECORDED, 800, 6.67, 1)
    assert (press["good_qty"], press["scrap_qty"], press["rework_qty"]) == (700, 20, 0)
    assert press["completion"] == 0.875 and press["scrap_rate"] == float(Fraction(20, 720))
    assert (press["capacity_hours"], press["earned_hours"], press["utilisation"]) == (8, 6, 0.75)
    assert (press["queue_operations"], press["queue_hours"], press["is_bottleneck"]) == (1, 0.25, True)
    assert press["downtime_by_reason"] == [{"reason_code": "DT-01", "name": INJECTION, "seconds": 3600.0, "stops": 1}]
    assert press["unexplained_downtime_seconds"] == 1800.0
    # OEE as the OEE module computes it, which is good × ideal cycle ÷ planned time.
    oee = equipment_oee(equipment=day, start=at(6), end=at(14), now=at(15)).total
    assert press["oee"]["oee"] == float(oee.oee()) == float(Fraction(700 * 30, 28800))
    assert press["oee"]["availability"] == float(Fraction(23400, 28800))

    assert (pack["planned_qty"], pack["planned_hours"], pack["good_qty"], pack["scrap_qty"]) == (100, 3.33, 60, 5)
    assert pack["completion"] == 0.6 and pack["scrap_rate"] == float(Fraction(5, 65))
    assert pack["earned_hours"] == 2.17 and pack["utilisation"] == float(Fraction(65 * 2, 60 * 8))
    assert (pack["queue_operations"], pack["queue_hours"], pack["is_bottleneck"]) == (1, 1.17, False)
    assert pack["oee"]["oee"] is None and pack["downtime_by_reason"] == []

    totals = line["totals"]
    assert (totals["planned_qty"], totals["good_qty"], totals["scrap_qty"]) == (900, 760, 25)
    assert totals["completion"] == float(Fraction(760, 900)) and totals["scrap_rate"] == float(Fraction(25, 785))
    assert totals["oee"]["oee"] == press["oee"]["oee"]  # the line's only machine


def test_the_plan_comes_from_the_schedule_until_recorded_and_is_none_for_a_past_day_never_recorded(day):
    DailyPlan.objects.all().delete()
    today = daily_report(day=MONDAY, line="L1", now=at(15)).as_json()
    # Unrecorded, today's plan is what the stored schedule still places in the day: what is left to make.
    assert {center["code"]: (center["plan_source"], center["planned_qty"]) for center in today["lines"][0]["work_centers"]} == {
        "WC-PRESS": (PLAN_SCHEDULE, 30), "WC-PACK": (PLAN_SCHEDULE, 35),
    }
    later = daily_report(day=MONDAY, line="L1", now=at(6, 30, day=MONDAY + datetime.timedelta(days=1))).as_json()
    assert {center["plan_source"] for center in later["lines"][0]["work_centers"]} == {PLAN_NONE}
    assert later["lines"][0]["totals"]["completion"] is None


def test_the_pdf_reads_back_in_chinese_and_in_english(day, client):
    signed_in(client, "supervisor")
    chinese = client.get(URL, {"date": "2026-11-16", "line": "L1", "format": "pdf", "lang": "zh-hans"})
    english = client.get(URL, {"date": "2026-11-16", "line": "L1", "format": "pdf", "lang": "en"})

    assert chinese.status_code == 200 and chinese["Content-Type"] == "application/pdf"
    text = pdf_text(chinese.content)
    assert "生产日报" in text and "冲压" in text and "WC-PRESS" in text and "DT-01" in text and "87.5 %" in text
    text = pdf_text(english.content)
    assert "Daily execution report" in text and "Downtime by reason" in text and "冲压" in text and "75.0 %" in text


def test_the_xlsx_reads_back_typed_and_safe_against_formulas(day, planner):
    answer = planner.get(URL, {"date": "2026-11-16", "line": "L1", "format": "xlsx", "lang": "en"})

    assert answer.status_code == 200 and "attachment" in answer["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(answer.content))
    summary, downtime = workbook["Summary"], workbook["Downtime"]
    rows = {row[1]: row for row in summary.iter_rows(min_row=3, values_only=True)}
    press = rows["WC-PRESS"]
    assert press[3:7] == (800, 700, 20, 0) and press[7] == 0.875 and press[-1] is True
    assert summary.cell(row=3, column=8).number_format == "0.0%"
    assert rows["WC-PACK"][2] == "'+Packing"  # a name that starts like a formula stays text
    assert rows["total"][3:6] == (900, 760, 25)
    reasons = list(downtime.iter_rows(min_row=2, values_only=True))
    assert reasons[0] == ("L1", "WC-PRESS", "DT-01", "'" + INJECTION, 60, 1)
    assert all(cell.data_type != "f" for row in downtime.iter_rows() for cell in row)


@pytest.mark.parametrize("role", ["planner", "supervisor", "admin"])
def test_planners_supervisors_and_admins_open_the_page_from_the_menu(day, client, role):
    signed_in(client, role)
    page = client.get("/reports/daily/", {"date": "2026-11-16", "line": "L1"})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/reports/daily/"' in html  # in the menu
    assert 'data-work-center="WC-PRESS"' in html and 'type="date"' in html and "format=xlsx" in html


@pytest.mark.parametrize("role", ["operator", "quality", "integration"])
def test_other_roles_are_refused_the_page_and_the_api(day, client, role):
    signed_in(client, role)
    assert client.get("/reports/daily/").status_code == 403
    assert client.get(URL, {"date": "2026-11-16"}).status_code == 403
    assert 'href="/reports/daily/"' not in client.get("/trace/").content.decode()


def test_the_page_speaks_both_languages(day, client):
    signed_in(client, "planner")
    english = client.get("/reports/daily/", {"date": "2026-11-16"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get("/reports/daily/", {"date": "2026-11-16"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Daily execution report" in english and "生产日报" in chinese


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "16.11.2026", "1999-12-31"])
def test_a_bad_date_is_a_400_naming_it(day, supervisor, client, text):
    answer = supervisor.get(URL, {"date": text}, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and ("YYYY-MM-DD" in error["fields"]["date"] or "between 2000-01-01" in error["fields"]["date"])
    signed_in(client, "supervisor")
    page = client.get("/reports/daily/", {"date": text}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 400 and 'role="alert"' in page.content.decode()


def test_an_unknown_line_and_format_are_refused_by_name(day, supervisor):
    line = supervisor.get(URL, {"date": "2026-11-16", "line": "L9"})
    assert line.status_code == 404 and line.json()["error"]["code"] == "unknown_line"
    kind = supervisor.get(URL, {"date": "2026-11-16", "format": "docx"})
    assert kind.status_code == 400 and "format" in kind.json()["error"]["fields"]


def test_after_the_shift_the_report_goes_to_the_webhook_once_retried_after_a_failure(day, settings, receiver):  # noqa: F811
    settings.MES_DAILY_REPORT_CHANNELS = {"L1": {"type": "webhook", "url": receiver.url()}}
    settings.MES_PUBLIC_URL = "https://mes.example.com"
    receiver.answers = [(503, {"busy": True})]

    assert daily_reports_due(now=at(13, 59)) == 0 and DailyReportSend.objects.count() == 0  # the shift still runs
    assert daily_reports_due(now=at(14, 5)) == 0  # recorded, tried, refused
    send = DailyReportSend.objects.get()
    assert (send.state, send.attempts, send.shift, send.day) == ("failed", 1, "Early", MONDAY)
    assert daily_reports_due(now=at(14, 5) + datetime.timedelta(seconds=5)) == 0  # not due again yet
    assert daily_reports_due(now=at(14, 5) + datetime.timedelta(seconds=11)) == 1
    assert daily_reports_due(now=at(14, 30)) == 0 and daily_reports_due(now=at(16)) == 0

    assert len(receiver.requests) == 2 and DailyReportSend.objects.count() == 1
    body = receiver.bodies()[-1]
    assert body["event"] == "daily_report" and body["report"]["date"] == "2026-11-16" and body["report"]["shift"] == "Early"
    assert body["report"]["link"] == "https://mes.example.com/reports/daily/?date=2026-11-16&line=L1"
    assert body["report"]["lines"][0]["totals"]["good_qty"] == 760 and body["report"]["bottleneck"] == "WC-PRESS"
    assert DailyReportSend.objects.get().state == "sent"


def test_by_e_mail_the_pdf_is_attached(day, settings):
    settings.MES_DAILY_REPORT_CHANNELS = {"*": {"type": "email", "to": "plant-manager@example.com"}}
    settings.LANGUAGE_CODE = "en"

    assert daily_reports_due(now=at(14, 1)) == 1 and daily_reports_due(now=at(14, 2)) == 0

    [message] = mail.outbox
    assert message.to == ["plant-manager@example.com"] and "L1" in message.subject
    [(name, content, kind)] = message.attachments
    assert name == "daily-report-2026-11-16-L1.pdf" and kind == "application/pdf" and "WC-PRESS" in pdf_text(content)


def test_the_api_answers_json_for_today_by_default(day, supervisor):
    answer = supervisor.get(URL, {"line": "L1"})
    assert answer.status_code == 200
    assert json.loads(answer.content)["line"] == "L1"


def test_a_client_without_a_session_is_sent_to_sign_in(db):
    assert Client().get("/reports/daily/").status_code == 302


def test_the_administration_lists_the_sends_and_plans_without_the_channels_secret(day, settings, receiver, admin_client):  # noqa: F811
    settings.MES_DAILY_REPORT_CHANNELS = {"*": {"type": "webhook", "url": receiver.url(), "secret": "very-secret-signing-key"}}
    assert daily_reports_due(now=at(14, 1)) == 1
    assert receiver.requests[0][1]["X-MES-Signature"].startswith("sha256=")

    sends = admin_client.get("/admin/shopfloor/dailyreportsend/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    detail = admin_client.get(f"/admin/shopfloor/dailyreportsend/{DailyReportSend.objects.get().pk}/change/").content.decode()
    plans = admin_client.get("/admin/shopfloor/dailyplan/", HTTP_ACCEPT_LANGUAGE="en")

    assert "Early" in sends and "very-secret-signing-key" not in sends + detail
    assert plans.status_code == 200 and "WC-PRESS" in plans.content.decode()


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+2", "'=1+2"), ("+86 138", "'+86 138"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("Material defect", "Material defect"), ("", ""), (3, 3), (Decimal("2.5"), Decimal("2.5")), (None, None)],
)
def test_a_text_that_starts_like_a_formula_is_kept_as_text_and_other_cells_keep_their_type(value, cell):
    from common.spreadsheet import safe_cell

    assert safe_cell(value) == cell and type(safe_cell(value)) is type(cell)


def test_the_report_reads_a_constant_number_of_queries_however_many_work_centers(day, django_assert_num_queries):
    with django_assert_num_queries(11):  # every plan recorded
        daily_report(day=MONDAY, line="", now=at(15))
    DailyPlan.objects.all().delete()
    with django_assert_num_queries(12) as two:  # plans read from the stored schedule
        daily_report(day=MONDAY, line="", now=at(15))
    for number in range(3):
        center = work_center_upsert(code=f"WC-MORE-{number}", name="More", line=f"L{number + 2}").obj
        equipment_upsert(code=f"MORE-{number}", name="More", work_center=center.code)
        shifts_set(work_center_code=center.code, shifts=[ShiftSpec("Early", datetime.time(6), datetime.time(14), "12345")])
    with django_assert_num_queries(len(two.captured_queries)):
        report = daily_report(day=MONDAY, line="", now=at(15))
    assert [line.line for line in report.lines] == ["L1", "L2", "L3", "L4"]


def test_the_demo_sends_the_daily_report_to_its_webhook_sink_unless_told_otherwise(monkeypatch):
    from mes.settings import env_json_object
    from plant.management.commands.run_plant import WEBHOOK_SINK_PORT, demo_report_environment

    monkeypatch.delenv("MES_DAILY_REPORT_CHANNELS", raising=False)
    monkeypatch.delenv("MES_PUBLIC_URL", raising=False)
    environment = demo_report_environment(host="127.0.0.1", port=8000)
    monkeypatch.setenv("MES_DAILY_REPORT_CHANNELS", environment["MES_DAILY_REPORT_CHANNELS"])
    assert env_json_object("MES_DAILY_REPORT_CHANNELS")["*"]["url"] == f"http://127.0.0.1:{WEBHOOK_SINK_PORT}/daily-report"
    assert environment["MES_PUBLIC_URL"] == "http://127.0.0.1:8000"
    monkeypatch.setenv("MES_PUBLIC_URL", "https://mes.example.com")
    assert demo_report_environment(host="127.0.0.1", port=8000) == {}  # what the environment names is kept


def test_a_wecom_robot_gets_the_text_with_the_link(day, settings, receiver):  # noqa: F811
    settings.MES_DAILY_REPORT_CHANNELS = {"L1": {"type": "wecom", "url": receiver.url("/cgi-bin/webhook/send?key=k")}}
    settings.LANGUAGE_CODE = "zh-hans"

    assert daily_reports_due(now=at(14, 1)) == 1

    [body] = receiver.bodies()
    assert body["msgtype"] == "text"
    content = body["text"]["content"]
    assert content.startswith("生产日报 2026-11-16，产线 L1，Early 班次结束") and "瓶颈：WC-PRESS。" in content
    assert content.endswith("/reports/daily/?date=2026-11-16&line=L1")
