from __future__ import annotations

from rest_framework.permissions import BasePermission

from common.roles import roles_for, user_roles


class HasCapability(BasePermission):
    """Lets a request through when the user holds a role with the capability the view names for its method.

    Views declare ``capabilities = {"GET": "api.read", "PUT": "master_data.write"}`` (names from
    ``common.roles.CAPABILITIES``); a method a view does not name is refused.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if not hasattr(view, request.method.lower()):
            return True  # let the view answer 405 Method Not Allowed
        capabilities = getattr(view, "capabilities", {})
        capability = capabilities.get(request.method)
        if capability is None and request.method in {"HEAD", "OPTIONS"}:
            capability = capabilities.get("GET")
        if capability is None:
            return False
        allowed = roles_for(capability)
        roles = user_roles(request.user)
        if not roles & allowed:
            self.message = f"Your role ({', '.join(sorted(roles)) or 'none'}) does not allow {request.method} here; needed: {', '.join(sorted(allowed))}."
            return False
        return True
