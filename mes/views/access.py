"""Who may open a page: signed-in people in the roles the page names."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django_htmx.http import HttpResponseClientRedirect

from mes.roles import user_roles


def role_required(*roles: str):
    """Send anonymous visitors to sign in (htmx requests by ``HX-Redirect``); refuse (403) signed-in people without one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                to_login = redirect_to_login(request.get_full_path())
                if getattr(request, "htmx", False):
                    # A poll after the session ended: send the whole page to sign in, not into a fragment.
                    return HttpResponseClientRedirect(to_login.url)
                return to_login
            if not user_roles(request.user) & set(roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
