"""How many wrong passwords lock a sign-in (django-axes calls ``failure_limit``; see AXES_FAILURE_LIMIT).

Two limits: a low one per user name (``MES_SIGN_IN_FAILURE_LIMIT``), since one person's password is
being guessed, and a higher one per client address (``MES_SIGN_IN_ADDRESS_FAILURE_LIMIT``), since many
people sign in from one address in a plant: a shared terminal, a tablet, or every browser behind a
proxy that is not (yet) in ``MES_TRUSTED_PROXIES``. With one limit for both, five mistakes by one
person would lock everybody at that address out.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def _failures(attempts) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def failure_limit(request: HttpRequest, credentials: dict | None = None) -> int:
    """The limit axes compares the larger of the two counts with, chosen so that the comparison
    locks exactly when the user name's count reaches its limit or the address's count reaches its."""
    by_user_name, by_address = (_failures(attempts) for attempts in AxesDatabaseHandler().get_user_attempts(request, credentials))
    if by_user_name >= settings.MES_SIGN_IN_FAILURE_LIMIT or by_address >= settings.MES_SIGN_IN_ADDRESS_FAILURE_LIMIT:
        return 1
    return max(by_user_name, by_address) + 1


class SignInHandler(AxesDatabaseHandler):
    """axes' database handler, except that a right password clears only its own user name's count.

    axes clears every count the request matches, the address's included: then anybody with an account
    could clear, from a shared address, the count of a user name being guessed there, and guess on.
    """

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _deleted = AccessAttempt.objects.filter(username=username).delete()
        return count
