from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from mes.models import WorkOrder, WorkOrderComponent, WorkOrderOperation


def work_order_get(*, number: str) -> WorkOrder:
    """One order with its item, unit, operations and components (three queries)."""
    try:
        return (
            WorkOrder.objects.select_related("item__unit")
            .prefetch_related(
                Prefetch("operations", queryset=WorkOrderOperation.objects.select_related("work_center").order_by("sequence")),
                Prefetch("components", queryset=WorkOrderComponent.objects.select_related("item", "unit").order_by("position")),
            )
            .get(number=number)
        )
    except WorkOrder.DoesNotExist:
        raise DomainError(
            "unknown_work_order",
            _("Work order %(number)s does not exist.") % {"number": number},
            kind=ErrorKind.NOT_FOUND,
            fields={"number": number},
        ) from None
