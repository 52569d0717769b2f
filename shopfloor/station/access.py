"""Who is at the tablet: the station cookie, and the operator signed in by badge.

The station cookie holds a random secret; only its SHA-256 is stored (``Station.credential_hash``),
so a database dump opens no station. It is limited to ``/station/`` so no other page ever sees it,
and it is not a Django session: a station holds no role and reaches no other page or API.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from functools import wraps

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from shopfloor.models import Station

COOKIE = "mes_station"
COOKIE_PATH = "/station/"
# Browsers cap a cookie's lifetime at 400 days; every visit of the station page renews it.
COOKIE_MAX_AGE = 400 * 24 * 3600
OPERATOR_SALT = "shopfloor.station.operator"
SEEN_EVERY = datetime.timedelta(minutes=1)


def new_secret() -> tuple[str, str]:
    """A fresh secret for a cookie or link, and the fingerprint stored in its place."""
    secret = secrets.token_urlsafe(32)
    return secret, fingerprint(secret)


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def station_of(request: HttpRequest) -> Station | None:
    """The active station this browser is, or None. Notes when it was last seen (at most once a minute)."""
    secret = request.COOKIES.get(COOKIE, "")
    if not secret or len(secret) > 100:
        return None
    station = (
        Station.objects.select_related("work_center", "equipment")
        .filter(credential_hash=fingerprint(secret), revoked_at__isnull=True)
        .first()
    )
    if station is not None:
        now = timezone.now()
        if station.last_seen_at is None or now - station.last_seen_at > SEEN_EVERY:
            Station.objects.filter(pk=station.pk).update(last_seen_at=now)
            station.last_seen_at = now
    return station


def set_station_cookie(response: HttpResponse, request: HttpRequest, secret: str) -> HttpResponse:
    response.set_cookie(
        COOKIE, secret, max_age=COOKIE_MAX_AGE, path=COOKIE_PATH, secure=request.is_secure(), httponly=True, samesite="Lax"
    )
    return response


def station_error(code: str, message: str, status: int, fields: dict | None = None) -> JsonResponse:
    body = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = {name: str(value) for name, value in fields.items()}
    return JsonResponse({"error": body}, status=status)


def station_required(*, api: bool):
    """Only a browser holding an active station credential gets through (``request.station``).

    Pages send anyone else to the explanation of how a tablet becomes a station; the JSON
    interface answers 403 ``not_a_station`` so the tablet keeps what it has not sent yet.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            station = station_of(request)
            if station is None:
                if api:
                    return station_error(
                        "not_a_station",
                        _("This tablet is no longer a station (revoked or never set up). Ask a supervisor to set it up again; nothing waiting on it is lost."),
                        403,
                    )
                return redirect("station-welcome")
            request.station = station
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# --- the operator -------------------------------------------------------------------


def operator_token(station: Station, badge: str) -> str:
    """Proof, for the reports that follow, that ``badge`` signed in at ``station`` (with PIN if asked)."""
    return signing.dumps({"station": station.pk, "badge": badge}, salt=OPERATOR_SALT, compress=True)


def operator_token_valid(station: Station, badge: str, token: str) -> bool:
    """A report made offline may arrive days later, so the proof lasts as long as a report may wait."""
    try:
        payload = signing.loads(token, salt=OPERATOR_SALT, max_age=settings.MES_STATION_OPERATOR_PROOF_HOURS * 3600)
    except signing.BadSignature:
        return False
    return payload == {"station": station.pk, "badge": badge}
