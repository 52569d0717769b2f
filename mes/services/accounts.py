from __future__ import annotations

import datetime
import re
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.roles import Role
from mes.models import Employee, Event
from mes.models.accounts import (
    ApiAccess,
    ApiToken,
    token_digest,
    validate_networks,
    validate_station_names,
)
from mes.services.audit import event_record

PIN_PATTERN = re.compile(r"^\d{4,8}$")


TOKEN_BYTES = 20  # 40 hex characters, as DRF's tokens were: clients' header and storage stay as they are
MAX_TOKEN_DAYS = 3650


@transaction.atomic
def api_user_ensure(*, username: str, role: str, allowed_networks: list[str] | None = None) -> Any:
    """A user (created if needed, without a usable password) holding ``role``, for the API.

    ``allowed_networks`` (IP addresses or CIDR networks) limits where its token is accepted from.
    """
    if role not in Role.values:
        raise DomainError("unknown_role", f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", fields={"role": role})
    networks = " ".join(allowed_networks or [])
    try:
        validate_networks(networks)
    except ValidationError as error:
        raise DomainError("invalid_network", " ".join(error.messages), fields={"allowed_networks": networks}) from None
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    group, _created = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    if role == Role.ADMIN and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if allowed_networks is not None:
        ApiAccess.objects.update_or_create(user=user, defaults={"allowed_networks": networks})
    return user


@transaction.atomic
def api_token_create(
    *,
    username: str,
    role: str,
    allowed_networks: list[str] | None = None,
    expires_in_days: int | None = None,
    rotate: bool = False,
    actor: Any = None,
    actor_label: str = "",
) -> ApiToken:
    """Give a user (see ``api_user_ensure``) a role and a new API token; audited.

    Only the token's hash is stored: the returned row carries the token itself in ``key``, the one
    time it can be shown. A user who has a token keeps it unless ``rotate`` replaces it (the old one
    stops working at once in this process, within API_TOKEN_CACHE_SECONDS in the others).
    """
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise DomainError(
            "invalid_expiry", _("A token expires after 1 to %(days)s days.") % {"days": MAX_TOKEN_DAYS},
            fields={"expires_in_days": expires_in_days},
        )
    user = api_user_ensure(username=username, role=role, allowed_networks=allowed_networks)
    existing = ApiToken.objects.select_for_update().filter(user=user).first()
    if existing is not None and not rotate:
        raise DomainError(
            "token_exists",
            _("%(user)s already has an API token (%(prefix)s…, created %(created)s); it cannot be shown again. "
              "--rotate replaces it.") % {"user": username, "prefix": existing.prefix, "created": f"{existing.created_at:%Y-%m-%d}"},
            kind=ErrorKind.CONFLICT,
        )
    key = secrets.token_hex(TOKEN_BYTES)
    now = timezone.now()
    token = ApiToken(user=user, key_hash=token_digest(key), prefix=key[:8], created_at=now,
                     expires_at=now + datetime.timedelta(days=expires_in_days) if expires_in_days else None)
    before = None
    if existing is not None:
        before = _token_public(existing)
        existing.delete()
    token.save()
    event_record(
        object_type="api_token", object_key=username, action="rotate" if existing is not None else "create",
        actor=actor, actor_label=actor_label, before=before, after=_token_public(token),
    )
    token.key = key
    return token


@transaction.atomic
def api_token_revoke(*, username: str, actor: Any = None, actor_label: str = "") -> None:
    """Take a user's API token away; audited. It stops working within API_TOKEN_CACHE_SECONDS."""
    token = ApiToken.objects.select_for_update().filter(user__username=username).first()
    if token is None:
        raise DomainError("no_token", _("%(user)s has no API token.") % {"user": username}, kind=ErrorKind.NOT_FOUND)
    before = _token_public(token)
    token.delete()
    event_record(object_type="api_token", object_key=username, action="revoke", actor=actor, actor_label=actor_label, before=before)


def _token_public(token: ApiToken) -> dict[str, Any]:
    return {"prefix": token.prefix, "created_at": token.created_at.isoformat(),
            "expires_at": token.expires_at.isoformat() if token.expires_at else None}


@transaction.atomic
def api_user_bind(
    *, username: str, badge: str | None = None, stations: list[str] | None = None, actor: Any = None, actor_label: str = ""
) -> None:
    """Bind an operator's user to the badge (the employee linked to it) and the stations its confirmations
    may name. ``None`` leaves that part as it is; ``stations=[]`` removes every station."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise DomainError("unknown_user", _("No user %(user)s.") % {"user": username}, kind=ErrorKind.NOT_FOUND)
    if badge is not None:
        employee = Employee.objects.select_for_update().filter(badge=badge).first()
        if employee is None:
            raise DomainError("unknown_operator", _("No employee has badge %(badge)s.") % {"badge": badge}, kind=ErrorKind.NOT_FOUND)
        if employee.user_id not in (None, user.pk):
            raise DomainError(
                "badge_bound_elsewhere",
                _("Badge %(badge)s is linked to user %(other)s already; unlink it there first.")
                % {"badge": badge, "other": employee.user.get_username()},
                kind=ErrorKind.CONFLICT,
            )
        if employee.user_id is None:
            before = Employee.objects.filter(user=user).values_list("badge", flat=True).first()
            Employee.objects.filter(user=user).update(user=None)
            employee.user = user
            employee.save(update_fields=["user", "updated_at"])
            event_record(
                object_type="api_access", object_key=username, action="bind_badge", actor=actor, actor_label=actor_label,
                before={"badge": before}, after={"badge": badge},
            )
    if stations is not None:
        names = "\n".join(sorted({name.strip() for name in stations if name.strip()}))
        try:
            validate_station_names(names)
        except ValidationError as error:
            raise DomainError("invalid_station", " ".join(error.messages), fields={"stations": names}) from None
        access, _created = ApiAccess.objects.get_or_create(user=user)
        if access.stations != names:
            before = access.stations
            access.stations = names
            access.save(update_fields=["stations"])
            event_record(
                object_type="api_access", object_key=username, action="bind_stations", actor=actor, actor_label=actor_label,
                before={"stations": before.splitlines()}, after={"stations": names.splitlines()},
            )


@transaction.atomic
def employee_pin_set(*, badge: str, pin: str, actor: Any = None) -> Employee:
    """Give an operator the PIN stations ask for after the badge (4 to 8 digits, stored hashed); empty removes it."""
    employee = Employee.objects.select_for_update().filter(badge=badge).first()
    if employee is None:
        raise DomainError("unknown_operator", _("No employee has badge %(badge)s.") % {"badge": badge}, kind=ErrorKind.NOT_FOUND)
    if pin and not PIN_PATTERN.match(pin):
        raise DomainError("invalid_pin", _("A PIN has 4 to 8 digits."), fields={"pin": "4 to 8 digits"})
    employee.station_pin = make_password(pin) if pin else ""
    employee.save(update_fields=["station_pin", "updated_at"])
    event_record(object_type="employee", object_key=badge, action="set_pin" if pin else "remove_pin", actor=actor)
    return employee


FIRST_ADMIN_ACTION = "first_admin_created"


@transaction.atomic
def first_admin_create(*, username: str, password: str, source: str) -> Any | None:
    """Create the plant's first administrator (a superuser in the admin role), once in the database's life.

    Returns None, changing nothing, when an administrator was created this way before (even one
    deleted or renamed since) or any superuser exists (``createsuperuser`` came first): the
    settings that name the first admin may stay set without ever resetting a changed password.
    ``source`` says where the name and password came from, for the audit trail.
    """
    User = get_user_model()
    if Event.objects.filter(object_type="user", action=FIRST_ADMIN_ACTION).exists() or User.objects.filter(is_superuser=True).exists():
        return None
    try:
        User.username_validator(username)
        validate_password(password, User(username=username))
    except ValidationError as error:
        raise DomainError("invalid_first_admin", " ".join(error.messages), fields={"username": username}) from None
    if User.objects.filter(username=username).exists():
        raise DomainError(
            "first_admin_exists", _("A user named %(username)s exists and is no superuser.") % {"username": username},
            fields={"username": username},
        )
    user = User.objects.create_superuser(username=username, email="", password=password)
    user.groups.add(Group.objects.get_or_create(name=Role.ADMIN)[0])
    event_record(object_type="user", object_key=username, action=FIRST_ADMIN_ACTION, actor_label=source)
    return user
