"""The roles people and integrations act in, and the one table of what each role may do.

A role is a Django group of the same name; a superuser holds every role. ``CAPABILITIES`` is
the single source of who may do what: API views name a capability per HTTP method
(``ApiView.capabilities``), pages name one in ``capability_required`` (``common.access``) or
ask ``may(user, capability)`` for an action inside a page, and a page's POST names the same
capability as its API twin. The README's role table is generated from it
(``manage.py roles_table``), and a test walks every page and API action against it.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Capability:
    roles: frozenset[str]
    description: str  # for the README's role table (English, like the README)


def _roles(*roles: Role) -> frozenset[str]:
    return frozenset(str(role) for role in roles)


OPERATOR, PLANNER, SUPERVISOR, QUALITY, INTEGRATION, ADMIN = (
    Role.OPERATOR, Role.PLANNER, Role.SUPERVISOR, Role.QUALITY, Role.INTEGRATION, Role.ADMIN,
)

CAPABILITIES: dict[str, Capability] = {
    # --- the API ----------------------------------------------------------------------------
    "api.read": Capability(
        ALL_ROLES, "read the API (`GET`): orders, confirmations, master data, ERP sync state, OEE, signal mappings"
    ),
    "master_data.write": Capability(
        _roles(INTEGRATION, ADMIN),
        "upsert master data: items, BOMs, routings, work centers, equipment, employees, reason codes",
    ),
    "work_order.write": Capability(_roles(PLANNER, INTEGRATION, ADMIN), "upsert work orders"),
    "work_order.release": Capability(_roles(PLANNER, ADMIN), "release work orders (API and planning pages)"),
    "work_order.cancel": Capability(_roles(PLANNER, ADMIN), "cancel work orders (API and planning pages)"),
    "work_order.pause": Capability(_roles(PLANNER, SUPERVISOR, ADMIN), "pause work orders (API and planning pages)"),
    "work_order.resume": Capability(_roles(PLANNER, SUPERVISOR, ADMIN), "resume work orders (API and planning pages)"),
    "work_order.close": Capability(_roles(PLANNER, SUPERVISOR, ADMIN), "close work orders (API and planning pages)"),
    "confirmation.report": Capability(_roles(OPERATOR, SUPERVISOR, ADMIN), "report confirmations (single and bulk)"),
    "confirmation.report_for_anyone": Capability(
        _roles(SUPERVISOR, INTEGRATION, ADMIN),
        "name any `operator_badge` and `station` in a confirmation (a token without it names only the badge and "
        "stations bound to it)",
    ),
    "confirmation.reverse": Capability(_roles(PLANNER, SUPERVISOR, ADMIN), "reverse confirmations"),
    "inspection_plan.write": Capability(
        _roles(QUALITY, INTEGRATION, ADMIN), "set inspection plans of routing operations (copied into orders at release)"
    ),
    "work_instruction.write": Capability(
        _roles(PLANNER, ADMIN), "attach, replace and remove work instructions (documents) of routing operations (API and administration)"
    ),
    "inspection.record": Capability(
        _roles(OPERATOR, SUPERVISOR, QUALITY, ADMIN), "record inspection results (API and station)"
    ),
    "inspection.record_for_anyone": Capability(
        _roles(SUPERVISOR, QUALITY, ADMIN),
        "name any `inspector_badge` in a result (a token without it names only the badge bound to it)",
    ),
    "hold.manage": Capability(
        _roles(SUPERVISOR, QUALITY, ADMIN), "place and release quality holds on orders, operations, lots and serials"
    ),
    "quality_stop.release": Capability(
        _roles(QUALITY, ADMIN), "release a quality stop (an operation the MES stopped for too many failed or scrapped pieces)"
    ),
    "nonconformance.open": Capability(
        _roles(OPERATOR, SUPERVISOR, QUALITY, ADMIN), "report a nonconformance (NCR) by hand"
    ),
    "nonconformance.disposition": Capability(
        _roles(QUALITY, ADMIN), "decide nonconformances (scrap, use as is, return to supplier) and close them"
    ),
    "lot.write": Capability(_roles(INTEGRATION, ADMIN), "upsert the ERP's lots staged for production (single and bulk)"),
    "material.issue": Capability(
        _roles(OPERATOR, SUPERVISOR, INTEGRATION, ADMIN), "issue components to an order's operation (API and station scans)"
    ),
    "material.approve": Capability(
        _roles(SUPERVISOR, ADMIN), "approve or reject an issue beyond the order's requirement (API and a badge scan at the station)"
    ),
    "material.reverse": Capability(_roles(PLANNER, SUPERVISOR, ADMIN), "reverse material issues"),
    "operation.run_on_equipment": Capability(
        _roles(OPERATOR, SUPERVISOR, ADMIN), "start and stop an operation on a machine (API)"
    ),
    "device_mapping.write": Capability(_roles(ADMIN), "change machines' signal mappings (API and administration)"),
    "device_mapping.test": Capability(_roles(SUPERVISOR, ADMIN), "test-read a machine with its signal mapping"),
    "erp_connection.manage": Capability(
        _roles(ADMIN), "read, change and test ERP connections; preview a REST field mapping"
    ),
    "metrics.read": Capability(
        _roles(SUPERVISOR, INTEGRATION, ADMIN), "read `/metrics` from outside `METRICS_ALLOW_FROM` (with a token)"
    ),
    "andon.raise": Capability(
        _roles(OPERATOR, SUPERVISOR, QUALITY, ADMIN), "raise an andon call (API, station)"
    ),
    "andon.handle": Capability(
        _roles(SUPERVISOR, QUALITY, ADMIN), "acknowledge, resolve and close andon calls"
    ),
    "andon_ladder.write": Capability(_roles(ADMIN), "set andon escalation ladders (API and administration)"),
    "labor_report.view": Capability(
        _roles(PLANNER, SUPERVISOR, INTEGRATION, ADMIN),
        "read labor per operator for payroll (`GET /api/v1/reports/labor`, its page and CSV/XLSX downloads)",
    ),
    "cost.view": Capability(
        _roles(PLANNER, SUPERVISOR, INTEGRATION, ADMIN),
        "read an order's actual against standard cost (`GET /api/v1/work-orders/{number}/cost`, the order page's cost panel)",
    ),
    # --- pages ------------------------------------------------------------------------------
    "board.view": Capability(_roles(OPERATOR, PLANNER, SUPERVISOR, QUALITY, ADMIN), "open the progress board"),
    "planning.view": Capability(
        _roles(PLANNER, SUPERVISOR, ADMIN), "open the planning pages (order list, an order, its traveler, the load chart and the Gantt)"
    ),
    "work_order.view": Capability(
        _roles(PLANNER, SUPERVISOR, QUALITY, ADMIN), "open an order's page (read-only without the capabilities of its actions)"
    ),
    "trace.view": Capability(ALL_ROLES, "open the trace page and its PDF report (a lot or serial, backward and forward)"),
    "quality.view": Capability(
        _roles(PLANNER, SUPERVISOR, QUALITY, ADMIN), "open the quality pages: open NCRs and holds, an NCR, SPC charts"
    ),
    "report.view": Capability(
        _roles(PLANNER, SUPERVISOR, ADMIN), "open the daily execution report and download it (page, PDF, XLSX, `GET /api/v1/reports/daily`)"
    ),
    "oee.view": Capability(_roles(PLANNER, SUPERVISOR, QUALITY, ADMIN), "open the OEE pages"),
    "unassigned_production.resolve": Capability(
        _roles(SUPERVISOR, ADMIN), "assign or dismiss unassigned production (its page)"
    ),
    "station.manage": Capability(
        _roles(SUPERVISOR, ADMIN),
        "set up and revoke stations; print badge cards, any work center's station sheet and any order's traveler",
    ),
    "erp_sync.view": Capability(
        _roles(PLANNER, SUPERVISOR, ADMIN), "open the ERP sync pages: health, dead letters, a message, reconciliation"
    ),
    "erp_sync.resolve": Capability(
        _roles(SUPERVISOR, ADMIN),
        "replay and discard dead letters, run reconciliation, repair drifts (pages and API)",
    ),
    "erp_sync.alerts": Capability(_roles(SUPERVISOR, ADMIN), "see the ERP sync alert on every page"),
    "admin.site": Capability(
        _roles(ADMIN), "the administration (`/admin/`): master data, users and roles, connections, shifts, mappings"
    ),
}


def transition_capability(action: str) -> str:
    """The capability a requested work-order action (``release``, ``pause``, …) needs."""
    return f"work_order.{action}"


def roles_for(capability: str) -> frozenset[str]:
    """The roles holding ``capability``; an unknown name is a programming error (KeyError)."""
    return CAPABILITIES[capability].roles


def may(user, capability: str) -> bool:
    """Whether ``user`` (signed in or not) holds a role with ``capability``."""
    return bool(user_roles(user) & roles_for(capability))


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


def roles_table() -> str:
    """The README's role table (Markdown): one row per capability, one column per role."""
    header = "| Capability | May | " + " | ".join(Role.values) + " |"
    lines = [header, "|---|---|" + "---|" * len(Role.values)]
    for name, capability in CAPABILITIES.items():
        marks = " | ".join("✓" if role in capability.roles else "" for role in Role.values)
        lines.append(f"| `{name}` | {capability.description} | {marks} |")
    return "\n".join(lines) + "\n"
