from __future__ import annotations

import time

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from common.client_ip import client_ip
from common.roles import user_roles
from mes.models.accounts import ApiToken, token_digest


class PlantTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused from addresses outside the integration's allow-list
    and after the token's expiry. Only a hash of each token is stored (``ApiToken``)."""

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
        a changed role takes effect within ``API_TOKEN_CACHE_SECONDS``. The cache is keyed by
        the token's hash, as the table is: SHA-256 of a short string costs about a microsecond.
        """
        digest = token_digest(key)
        now = time.monotonic()
        cached = _tokens.get(digest)
        if cached is not None and cached[0] > now:
            token = cached[2]
        else:
            token = ApiToken.objects.select_related("user", "user__api_access").filter(key_hash=digest).first()
            if token is None:
                raise exceptions.AuthenticationFailed("Invalid token.")
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed("User inactive or deleted.")
            user_roles(token.user)  # resolved now, remembered with the user
            if len(_tokens) > 10_000:
                _tokens.clear()
            _tokens[digest] = (now + settings.API_TOKEN_CACHE_SECONDS, token.user, token)
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(
                _("This token expired on %(when)s. Ask an administrator for a new one (manage.py create_api_token … --rotate).")
                % {"when": formats.date_format(timezone.localtime(token.expires_at), "Y-m-d H:i")}
            )
        return token.user, token


# token hash → (valid until, user, token); plain dict operations are atomic across threads.
_tokens: dict[str, tuple[float, object, ApiToken]] = {}
