from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


class PlantTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused from addresses outside the integration's allow-list."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        access = getattr(user, "api_access", None)
        address = request.META.get("REMOTE_ADDR", "")
        if access is not None and not access.allows(address):
            raise exceptions.AuthenticationFailed(f"This token may not be used from {address}.")
        return user, token

    def authenticate_credentials(self, key):
        try:
            token = Token.objects.select_related("user", "user__api_access").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
