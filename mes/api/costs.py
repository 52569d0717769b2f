"""``GET /api/v1/work-orders/{number}/cost``: actual against standard cost of one order. Thin."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, check_key
from mes.selectors.costs import work_order_cost

_LINE = {"standard": 1200.0, "actual": 1262.5, "variance": 62.5, "complete": True}


class WorkOrderCostView(ApiView):
    capabilities = {"GET": "cost.view"}

    @extend_schema(
        tags=["work-orders"],
        operation_id="work_orders_cost",
        summary="Actual against standard cost of an order, by category (material, labor, machine, scrap)",
        description=(
            "In `currency` (`MES_CURRENCY`, default CNY). **Standard** of the pieces made (the last operation's good + every "
            "operation's scrap): components per piece (BOM snapshot) × their item's `standard_cost`; per operation setup + "
            "run time × pieces, × its work center's `labor_rate` and `machine_rate` per hour. **Actual**: material issued "
            "(net of reversals) at its lot's `unit_cost`, else its item's `standard_cost`; the confirmations' `labor_minutes` "
            "and `machine_minutes` × the rates. **Scrap**: the scrapped pieces at standard (standard 0; already spent in "
            "the other categories, so not added to the total). `variance` = actual − standard; `totals` compare what was "
            "spent with the standard of the good output, so the category variances add up to the total variance. A figure "
            "needing a cost or rate that is not set is null, its category `complete: false`, and `missing` says which. "
            "404 `unknown_work_order`."
        ),
        responses={200: dict, **ERRORS},
        examples=[
            OpenApiExample(
                "An order with every rate set",
                value={
                    "work_order": "WO-100", "item": "FG-1000", "currency": "CNY",
                    "quantities": {"good": 10, "scrap": 1, "made": 11}, "complete": True, "missing": [],
                    "categories": {"material": _LINE, "labor": _LINE, "machine": _LINE,
                                   "scrap": {"standard": 0.0, "actual": 95.0, "variance": 95.0, "complete": True}},
                    "totals": {"standard": 3505.0, "actual": 3787.5, "variance": 282.5},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, number: str) -> Response:
        return Response(work_order_cost(number=check_key("number", number)).as_dict())
