"""The roles people and integrations act in. A role is a Django group of the same name."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OPERATOR = "operator", _("operator")
    PLANNER = "planner", _("planner")
    SUPERVISOR = "supervisor", _("supervisor")
    QUALITY = "quality", _("quality")
    INTEGRATION = "integration", _("integration")
    ADMIN = "admin", _("admin")


ALL_ROLES = frozenset(Role.values)

# Who may ask for each work-order action, through the API and on the planning pages alike.
TRANSITION_ROLES = {
    "release": {Role.PLANNER, Role.ADMIN},
    "cancel": {Role.PLANNER, Role.ADMIN},
    "close": {Role.PLANNER, Role.SUPERVISOR, Role.ADMIN},
    "pause": {Role.PLANNER, Role.SUPERVISOR, Role.ADMIN},
    "resume": {Role.PLANNER, Role.SUPERVISOR, Role.ADMIN},
}
# The planning pages; the progress board is for everyone who works in the plant (not integrations).
PLANNING_ROLES = (Role.PLANNER, Role.SUPERVISOR, Role.ADMIN)
BOARD_ROLES = (Role.OPERATOR, Role.PLANNER, Role.SUPERVISOR, Role.QUALITY, Role.ADMIN)
# The machines' pages: OEE for those who run or judge production; unassigned counts and station set-up for supervisors.
OEE_ROLES = (Role.SUPERVISOR, Role.PLANNER, Role.QUALITY, Role.ADMIN)
SUPERVISOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)


def user_roles(user) -> frozenset[str]:
    """The roles of a user, read once per request; a superuser holds every role."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_mes_roles", None)
    if cached is None:
        if user.is_superuser:
            cached = ALL_ROLES
        else:
            cached = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        user._mes_roles = cached
    return cached
