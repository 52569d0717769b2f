"""Writes of the reports: each day's plan recorded as the day begins, and the daily report sent after
each shift's end to the channel configured for its line.

``daily_reports_due`` is the periodic task's one call (every ``MES_DAILY_REPORT_CHECK_SECONDS``):

1. **Plans.** Each work center whose production day has begun and has no ``DailyPlan`` yet gets one,
   from the stored schedule (``daily.planned_from_schedule``).
2. **Record.** For each line with a channel in ``MES_DAILY_REPORT_CHANNELS`` (its own entry, else
   ``"*"``), every shift of its work centers that ended in the last ``RECORD_WITHIN`` is recorded once
   as a ``DailyReportSend`` (unique per line and shift end: two workers, or the task run twice, record
   it once). Shifts that ended before that (a worker down for longer, a channel configured later) are
   not sent after the fact.
3. **Send.** Every send due is claimed as an andon notice is (``shopfloor.andon.delivery``), the
   report of its production day so far is built and sent outside any transaction, and the outcome
   recorded: ``sent``, or ``failed`` with a back-off (10 s, 20 s, 40 s … up to 10 min), given up
   after ``MES_DAILY_REPORT_SEND_ATTEMPTS``.

E-mail gets the PDF attached; a webhook the JSON summary (``daily.DailyReport.as_json``) with the
page's link; a WeCom or DingTalk robot a short text with the link. The link is absolute when
``MES_PUBLIC_URL`` is set, else the page's path.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common.errors import DomainError
from mes.models import WorkCenter
from shopfloor.andon.channels import ChannelError, channel_problems, report_send
from shopfloor.andon.delivery import deliveries_due, delivery_claim, delivery_failed, delivery_sent
from shopfloor.documents.daily_report import daily_report_pdf
from shopfloor.models import DailyPlan, DailyReportSend
from shopfloor.reports.daily import DailyReport, daily_report, planned_from_schedule
from shopfloor.shift_calendar import occurrences, production_day, production_day_period, shift_rules_by_work_center

logger = logging.getLogger(__name__)

RECORD_WITHIN = datetime.timedelta(hours=6)


def daily_plans_take(*, now: datetime.datetime | None = None) -> int:
    """Record the plan of each work center whose production day has begun and has none yet; answers how many."""
    now = now or timezone.now()
    centers = list(WorkCenter.objects.values_list("pk", flat=True))
    rules = shift_rules_by_work_center(centers)
    days = {center: production_day(rules[center], now) for center in centers}
    recorded = set(
        DailyPlan.objects.filter(work_center_id__in=centers, day__in=set(days.values())).values_list("work_center_id", "day")
    )
    periods = {}
    for center, day in days.items():
        start, end = production_day_period(rules[center], day)
        if (center, day) not in recorded and start <= now:
            periods[center] = (start, end)
    planned = planned_from_schedule(periods=periods)
    DailyPlan.objects.bulk_create(
        [
            DailyPlan(work_center_id=center, day=days[center], planned_qty=quantity, planned_hours=hours, operations=operations, taken_at=now)
            for center, (quantity, hours, operations) in planned.items()
        ],
        ignore_conflicts=True,
    )
    return len(planned)


def channel_for(line: str) -> dict[str, Any] | None:
    """The channel configured for ``line`` (its own entry, else ``"*"``), or None."""
    channels = settings.MES_DAILY_REPORT_CHANNELS
    return channels.get(line) or channels.get("*")


def daily_report_sends_record(*, now: datetime.datetime | None = None) -> int:
    """Record a send for every shift of a line with a channel that ended within ``RECORD_WITHIN``; answers how many are new."""
    now = now or timezone.now()
    if not settings.MES_DAILY_REPORT_CHANNELS:
        return 0
    centers = list(WorkCenter.objects.exclude(line="").values_list("pk", "line"))
    rules = shift_rules_by_work_center([pk for pk, _line in centers])
    by_line: dict[str, set] = {}
    for pk, line in centers:
        by_line.setdefault(line, set()).update(rules[pk])
    rows = []
    for line, line_rules in sorted(by_line.items()):
        channel = channel_for(line)
        if channel is None:
            continue
        problems = channel_problems(channel)
        if problems:
            logger.error("daily report channel of line %s is not usable: %s", line, problems)
            continue
        ends = {}
        for span in occurrences(sorted(line_rules, key=lambda rule: (rule.start_time, rule.name)), now - RECORD_WITHIN, now):
            if now - RECORD_WITHIN < span.end <= now:
                ends.setdefault(span.end, span)  # two work centers' shifts ending together: one report
        rows += [
            DailyReportSend(line=line, day=span.day, shift=str(span.shift), shift_end=end, channel=channel, next_attempt_at=now)
            for end, span in sorted(ends.items())
        ]
    before = DailyReportSend.objects.count()
    DailyReportSend.objects.bulk_create(rows, ignore_conflicts=True)
    return DailyReportSend.objects.count() - before


def daily_report_sends_due(*, now: datetime.datetime | None = None) -> int:
    """Send every send that is due, oldest shift first; answers how many were sent."""
    now = now or timezone.now()
    due = deliveries_due(DailyReportSend, now=now, limit=50, order=("shift_end", "pk"))
    return sum(daily_report_send(send_id=send_id, now=now) for send_id in due)


def daily_reports_due(*, now: datetime.datetime | None = None) -> int:
    """The periodic task's work: record today's plans, record the shift ends passed, send what is due."""
    now = now or timezone.now()
    daily_plans_take(now=now)
    daily_report_sends_record(now=now)
    return daily_report_sends_due(now=now)


def report_link(*, day: datetime.date, line: str) -> str:
    path = f"{reverse('report-daily')}?{urlencode({'date': day.isoformat(), 'line': line})}"
    return f"{settings.MES_PUBLIC_URL.rstrip('/')}{path}" if settings.MES_PUBLIC_URL else path


def report_text(report: DailyReport, *, shift: str, link: str) -> tuple[str, str]:
    """The subject and a short text of the report (in the current language)."""
    subject = _("Daily report %(date)s, line %(line)s, after shift %(shift)s") % {
        "date": report.day.isoformat(), "line": report.line, "shift": shift,
    }
    lines = [subject]
    for line in report.lines:
        totals = line.totals
        completion = totals.completion()
        scrap_rate = totals.scrap_rate()
        oee = totals.tally.oee()
        lines.append(
            _("Planned %(planned)s, good %(good)s, scrap %(scrap)s; completion %(completion)s, scrap rate %(scrap_rate)s, OEE %(oee)s.") % {
                "planned": f"{totals.planned_qty.normalize():f}", "good": f"{totals.good.normalize():f}", "scrap": f"{totals.scrap.normalize():f}",
                "completion": "-" if completion is None else f"{completion:.1%}",
                "scrap_rate": "-" if scrap_rate is None else f"{scrap_rate:.1%}",
                "oee": "-" if oee is None else f"{float(oee):.1%}",
            }
        )
    if report.bottleneck is not None:
        lines.append(_("Bottleneck: %(code)s.") % {"code": report.bottleneck.code})
    lines.append(link)
    return subject, "\n".join(lines)


def daily_report_send(*, send_id: int, now: datetime.datetime | None = None) -> int:
    """Claim one send and send the report; record the outcome. Answers 1 if this call sent it."""
    now = now or timezone.now()
    if not delivery_claim(DailyReportSend, pk=send_id, now=now):
        return 0
    send = DailyReportSend.objects.get(pk=send_id)
    try:
        with translation.override(settings.LANGUAGE_CODE):
            report = daily_report(day=send.day, line=send.line, now=now)
            link = report_link(day=send.day, line=send.line)
            subject, text = report_text(report, shift=send.shift, link=link)
            attachment = None
            if send.channel.get("type") == "email":
                name = f"daily-report-{send.day.isoformat()}-{send.line}.pdf"
                attachment = (name, daily_report_pdf(report, language=settings.LANGUAGE_CODE), "application/pdf")
            summary = {**report.as_json(), "shift": send.shift, "shift_end": send.shift_end, "link": link}
            report_send(channel=send.channel, subject=subject, text=text, summary=summary, attachment=attachment)
    except (ChannelError, DomainError) as error:  # DomainError: the line has no work center any more
        attempts = send.attempts + 1
        delivery_failed(
            DailyReportSend, pk=send_id, attempts=attempts, max_attempts=settings.MES_DAILY_REPORT_SEND_ATTEMPTS, error=str(error), now=now
        )
        logger.warning("daily report %s not sent (attempt %s): %s", send_id, attempts, error)
        return 0
    delivery_sent(DailyReportSend, pk=send_id, attempts=send.attempts + 1)
    return 1
