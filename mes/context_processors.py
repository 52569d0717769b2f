from __future__ import annotations

from mes.roles import BOARD_ROLES, OEE_ROLES, PLANNING_ROLES, SUPERVISOR_ROLES, user_roles


def pages(request) -> dict:
    """Which of the people's pages the signed-in person may open, for the navigation and home page."""
    roles = user_roles(getattr(request, "user", None))
    return {
        "may_plan": bool(roles & set(PLANNING_ROLES)),
        "may_see_board": bool(roles & set(BOARD_ROLES)),
        "may_see_oee": bool(roles & set(OEE_ROLES)),
        "may_supervise": bool(roles & set(SUPERVISOR_ROLES)),
    }
