from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from mes.roles import Role
from mes.services.errors import DomainError


@transaction.atomic
def api_token_create(*, username: str, role: str) -> Token:
    """Give a user (created if needed, without a usable password) a role and an API token."""
    if role not in Role.values:
        raise DomainError("unknown_role", f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", fields={"role": role})
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    group, _created = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    if role == Role.ADMIN and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    token, _created = Token.objects.get_or_create(user=user)
    return token
