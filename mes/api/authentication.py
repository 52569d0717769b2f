from __future__ import annotations

import time

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from mes.client_ip import client_ip
from mes.roles import user_roles


class PlantTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused from addresses outside the integration's allow-list."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        access = getattr(user, "api_access", None)
        address = client_ip(request)
        if access is not None and not access.allows(address):
            raise exceptions.AuthenticationFailed(f"This token may not be used from {address}.")
        return user, token

    def authenticate_credentials(self, key):
        """The token's user, with roles and allow-list, remembered for a few seconds per process.

        Stations and gateways send many requests a second; looking the token, the user and
        the roles up every time cost two queries each. A revoked token, a deactivated user or
        a changed role takes effect within ``API_TOKEN_CACHE_SECONDS``.
        """
        now = time.monotonic()
        cached = _tokens.get(key)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        try:
            token = Token.objects.select_related("user", "user__api_access").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        user_roles(token.user)  # resolved now, remembered with the user
        if len(_tokens) > 10_000:
            _tokens.clear()
        _tokens[key] = (now + settings.API_TOKEN_CACHE_SECONDS, token.user, token)
        return token.user, token


# key → (valid until, user, token); plain dict operations are atomic across threads.
_tokens: dict[str, tuple[float, object, Token]] = {}
