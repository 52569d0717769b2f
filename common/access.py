"""Who may open a page: signed-in people in the roles the capability table (``common.roles``) names."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django_htmx.http import HttpResponseClientRedirect

from common.roles import may, roles_for


def capability_required(capability: str):
    """Send anonymous visitors to sign in (htmx requests by ``HX-Redirect``); refuse (403) signed-in
    people whose roles lack ``capability``. Actions inside the page that need more ask ``may()``."""
    roles_for(capability)  # an unknown capability fails at import, not at the first request

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                to_login = redirect_to_login(request.get_full_path())
                if getattr(request, "htmx", False):
                    # A poll after the session ended: send the whole page to sign in, not into a fragment.
                    return HttpResponseClientRedirect(to_login.url)
                return to_login
            if not may(request.user, capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def check_capability(request, capability: str) -> None:
    """Refuse (403) an action inside a page that needs more than the page itself."""
    if not may(request.user, capability):
        raise PermissionDenied
