"""The page a locked-out sign-in gets (django-axes calls it; see AXES_LOCKOUT_CALLABLE in the settings)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def sign_in_locked_out(request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None) -> HttpResponse:
    """429 with the site's layout, in the visitor's language, saying how long the lock-out lasts."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
