from __future__ import annotations

from rest_framework.permissions import BasePermission

from mes.roles import user_roles


class HasRole(BasePermission):
    """Lets a request through when the user holds one of the roles the view names for its method.

    Views declare ``roles = {"GET": ALL_ROLES, "PUT": {...}}``; a method a view does not name is refused.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if not hasattr(view, request.method.lower()):
            return True  # let the view answer 405 Method Not Allowed
        allowed = getattr(view, "roles", {}).get(request.method)
        if allowed is None and request.method in {"HEAD", "OPTIONS"}:
            allowed = getattr(view, "roles", {}).get("GET")
        if allowed is None:
            return False
        roles = user_roles(request.user)
        if not roles & allowed:
            self.message = f"Your role ({', '.join(sorted(roles)) or 'none'}) does not allow {request.method} here; needed: {', '.join(sorted(allowed))}."
            return False
        return True
