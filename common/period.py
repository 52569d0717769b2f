"""A period of time asked for in a query (``from``/``to``): ISO 8601 dates or date-times, plant time
when no offset is given, a date alone for ``to`` meaning the end of that day."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

MAX_PERIOD = datetime.timedelta(days=93)
EARLIEST = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2200, 1, 1, tzinfo=datetime.UTC)


class PeriodError(ValueError):
    """A ``from``/``to`` that cannot make a period; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _moment(field: str, text: str) -> datetime.datetime:
    """ISO 8601 date-time (no offset: plant time) or date (its 00:00 in plant time)."""
    text = text.strip()
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(
            field, _("%(field)s must be an ISO 8601 date or date-time such as 2026-11-16 or 2026-11-16T06:00+08:00, not %(value)r.")
            % {"field": field, "value": text[:40]}
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.get_default_timezone())
    if not EARLIEST <= moment <= LATEST:
        raise PeriodError(field, _("%(field)s must lie between 1970 and 2200.") % {"field": field})
    return moment


def period_parse(
    *, from_text: str | None, to_text: str | None, default_start: datetime.datetime, now: datetime.datetime,
    longest: datetime.timedelta = MAX_PERIOD,
) -> tuple[datetime.datetime, datetime.datetime]:
    """``[from, to)`` from query text; a missing ``from`` is ``default_start``, a missing ``to`` now.

    A date alone for ``to`` means the end of that day. Raises ``PeriodError`` for text that is
    not ISO 8601, ``from`` after ``to``, or a period longer than ``longest``.
    """
    start = _moment("from", from_text) if from_text else default_start
    if to_text:
        end = _moment("to", to_text)
        if "T" not in to_text and " " not in to_text.strip():
            end += datetime.timedelta(days=1)
    else:
        end = max(now, start)
    if start > end:
        raise PeriodError("from", _("from must not be after to."))
    if end - start > longest:
        raise PeriodError("to", _("A period may be at most %(days)s days long.") % {"days": longest.days})
    return start, end


def days_parse(*, from_text: str | None, to_text: str | None, longest_days: int) -> tuple[datetime.date, datetime.date]:
    """Production days ``from`` to ``to`` (both given, ISO dates, ``to`` included) for a report.

    Raises ``PeriodError`` naming the field: missing, not a date, ``from`` after ``to``, more than
    ``longest_days`` days.
    """
    days = {}
    for field, text in (("from", from_text), ("to", to_text)):
        text = (text or "").strip()
        if not text:
            raise PeriodError(field, _("%(field)s is required: a date such as 2026-11-16.") % {"field": field})
        try:
            days[field] = datetime.date.fromisoformat(text)
        except ValueError:
            raise PeriodError(
                field, _("%(field)s must be a date such as 2026-11-16, not %(value)r.") % {"field": field, "value": text[:40]}
            ) from None
        if not EARLIEST.date() <= days[field] < LATEST.date():
            raise PeriodError(field, _("%(field)s must lie between 1970 and 2200.") % {"field": field})
    if days["from"] > days["to"]:
        raise PeriodError("from", _("from must not be after to."))
    if (days["to"] - days["from"]).days + 1 > longest_days:
        raise PeriodError("to", _("A period may be at most %(days)s days long.") % {"days": longest_days})
    return days["from"], days["to"]
