"""Statistical process control of a measured characteristic: the numbers of a control chart,
computed from the results alone so an engineer can check each by hand.

Two charts, chosen by how the results come:

- **Individuals and moving range (I-MR)**, one value per sample: the centre line is the mean x̄;
  the moving ranges are MRᵢ = |xᵢ − xᵢ₋₁|; the process sigma is estimated as σ = MR̄ / d₂ with
  d₂ = 1.128 (ranges of two); control limits x̄ ± 3σ (= x̄ ± 2.66 MR̄); the MR chart's upper limit
  is D₄·MR̄ = 3.267 MR̄.
- **X̄-R**, subgroups of 2–10 values (the same sample number measured several times): the plotted
  points are the subgroup means; the centre line is their mean X̿; σ = R̄ / d₂(n); limits
  X̿ ± A₂·R̄; the R chart's limits D₃·R̄ and D₄·R̄. Subgroups of another size than the most common
  one are left out (and counted), as the constants hold for one size.

Capability uses the same within-process sigma: Cp = (USL − LSL) / 6σ, Cpk = min(USL − μ, μ − LSL) / 3σ
(one-sided with only one limit: Cp is then undefined, Cpk uses the side given).

Western Electric rules, on the plotted points against the centre line and the sigma of the plotted
statistic (σ for individuals, σ/√n for subgroup means):

1. a point beyond 3 sigma;
2. two of three consecutive points beyond 2 sigma, on the same side;
3. four of five consecutive points beyond 1 sigma, on the same side;
4. eight consecutive points on the same side of the centre line.

Each violation lists the sample numbers that make its pattern; overlapping windows of one rule and
side (a run of nine is two windows of eight) are merged into one violation.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.period import period_parse
from mes.models import InspectionCharacteristic, InspectionResult, OrderCharacteristic

# Shewhart's constants by subgroup size n (ASTM STP 15D; Montgomery, Appendix VI).
D2 = {2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970, 10: 3.078}
A2 = {2: 1.880, 3: 1.023, 4: 0.729, 5: 0.577, 6: 0.483, 7: 0.419, 8: 0.373, 9: 0.337, 10: 0.308}
D3 = {2: 0.0, 3: 0.0, 4: 0.0, 5: 0.0, 6: 0.0, 7: 0.076, 8: 0.136, 9: 0.184, 10: 0.223}
D4 = {2: 3.267, 3: 2.574, 4: 2.282, 5: 2.114, 6: 2.004, 7: 1.924, 8: 1.864, 9: 1.816, 10: 1.777}

# (rule, points in the window, how many of them must be beyond, how many sigmas)
_ZONE_RULES = ((1, 1, 1, 3.0), (2, 3, 2, 2.0), (3, 5, 4, 1.0))
_RUN_LENGTH = 8


@dataclass(frozen=True)
class Point:
    sample_no: int
    value: float  # the value (individuals) or the subgroup's mean
    spread: float | None  # the moving range to the previous point, or the subgroup's range


@dataclass(frozen=True)
class Violation:
    rule: int
    sample_nos: tuple[int, ...]


@dataclass
class SpcResult:
    chart: str  # "individuals" or "xbar_r"
    n: int  # values used
    subgroup_size: int  # 1 for individuals
    mean: float | None
    sigma: float | None
    ucl: float | None
    lcl: float | None
    spread_mean: float | None  # MR̄ or R̄
    spread_ucl: float | None
    spread_lcl: float | None
    cp: float | None
    cpk: float | None
    points: list[Point] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    left_out: int = 0  # values of subgroups of another size


def spc_compute(*, samples: Sequence[tuple[int, float]], lower_limit: float | None, upper_limit: float | None) -> SpcResult:
    """The chart of ``samples`` (``(sample_no, value)`` in the order taken; a sample number given
    more than once is a subgroup) against the specification limits."""
    groups: dict[int, list[float]] = {}
    for sample_no, value in samples:
        groups.setdefault(sample_no, []).append(float(value))
    sizes = Counter(len(values) for values in groups.values())
    size = max(sizes, key=lambda s: (sizes[s], s)) if sizes else 1
    if size > 1 and size in D2:
        return _subgroups(groups, size, lower_limit, upper_limit)
    values = [(sample_no, value) for sample_no, group in groups.items() for value in group]
    return _individuals(values, lower_limit, upper_limit)


def _individuals(values: list[tuple[int, float]], lower: float | None, upper: float | None) -> SpcResult:
    points = [
        Point(sample_no, value, abs(value - values[index - 1][1]) if index else None)
        for index, (sample_no, value) in enumerate(values)
    ]
    result = SpcResult("individuals", len(values), 1, None, None, None, None, None, None, None, None, None, points)
    if not values:
        return result
    mean = sum(value for _no, value in values) / len(values)
    result.mean = mean
    ranges = [point.spread for point in points[1:]]
    if not ranges:
        return result
    mr_bar = sum(ranges) / len(ranges)
    sigma = mr_bar / D2[2]
    result.sigma, result.spread_mean = sigma, mr_bar
    result.ucl, result.lcl = mean + 3 * sigma, mean - 3 * sigma
    result.spread_ucl, result.spread_lcl = D4[2] * mr_bar, D3[2] * mr_bar
    result.cp, result.cpk = _capability(mean, sigma, lower, upper)
    result.violations = _violations(points, mean, sigma)
    return result


def _subgroups(groups: dict[int, list[float]], size: int, lower: float | None, upper: float | None) -> SpcResult:
    kept = {sample_no: values for sample_no, values in groups.items() if len(values) == size}
    points = [Point(sample_no, sum(values) / size, max(values) - min(values)) for sample_no, values in kept.items()]
    left_out = sum(len(values) for values in groups.values()) - size * len(kept)
    grand = sum(point.value for point in points) / len(points)
    r_bar = sum(point.spread for point in points) / len(points)
    sigma = r_bar / D2[size]
    cp, cpk = _capability(grand, sigma, lower, upper)
    return SpcResult(
        chart="xbar_r", n=size * len(points), subgroup_size=size, mean=grand, sigma=sigma,
        ucl=grand + A2[size] * r_bar, lcl=grand - A2[size] * r_bar,
        spread_mean=r_bar, spread_ucl=D4[size] * r_bar, spread_lcl=D3[size] * r_bar,
        cp=cp, cpk=cpk, points=points, violations=_violations(points, grand, sigma / math.sqrt(size)), left_out=left_out,
    )


def _capability(mean: float, sigma: float, lower: float | None, upper: float | None) -> tuple[float | None, float | None]:
    if not sigma:
        return None, None
    cp = (upper - lower) / (6 * sigma) if lower is not None and upper is not None else None
    sides = [(upper - mean) / (3 * sigma)] if upper is not None else []
    sides += [(mean - lower) / (3 * sigma)] if lower is not None else []
    return cp, (min(sides) if sides else None)


def _violations(points: list[Point], centre: float, sigma: float) -> list[Violation]:
    """Western Electric rules 1–4 on the plotted points."""
    found: dict[tuple[int, int], list[set[int]]] = {}  # (rule, side) -> merged sets of sample numbers

    def add(rule: int, side: int, sample_nos: set[int]) -> None:
        patterns = found.setdefault((rule, side), [])
        touching = [pattern for pattern in patterns if pattern & sample_nos]  # overlapping windows of one pattern
        merged = set(sample_nos).union(*touching)
        patterns[:] = [pattern for pattern in patterns if not pattern & sample_nos] + [merged]

    if sigma and sigma > 0:
        for rule, window, needed, sigmas in _ZONE_RULES:
            for end in range(window - 1, len(points)):
                span = points[end - window + 1 : end + 1]
                for side in (1, -1):
                    beyond = {point.sample_no for point in span if side * (point.value - centre) > sigmas * sigma}
                    if len(beyond) >= needed:
                        add(rule, side, beyond)
    for end in range(_RUN_LENGTH - 1, len(points)):
        span = points[end - _RUN_LENGTH + 1 : end + 1]
        for side in (1, -1):
            if all(side * (point.value - centre) > 0 for point in span):
                add(4, side, {point.sample_no for point in span})
    order = {point.sample_no: index for index, point in enumerate(points)}
    violations = [
        Violation(rule, tuple(sorted(pattern, key=order.__getitem__)))
        for (rule, _side), patterns in found.items()
        for pattern in patterns
    ]
    return sorted(violations, key=lambda violation: (order[violation.sample_nos[0]], violation.rule))



# --- the chart of one characteristic, read from the results ---------------------------------------

SPC_LONGEST = datetime.timedelta(days=366)
SPC_DEFAULT_DAYS = 30
MAX_RESULTS = 10_000


@dataclass
class SpcReport:
    """The chart of an item's operation's characteristic over a period, with where each point came from."""

    item: str
    sequence: int
    characteristic: str
    name: str
    unit: str | None
    nominal: float | None
    lower_limit: float | None
    upper_limit: float | None
    start: datetime.datetime
    end: datetime.datetime
    result: SpcResult
    sources: list[dict] = field(default_factory=list)  # per plotted point: order, its sample number, when
    cut_short: bool = False


def spc_report(*, item_code: str, sequence: int, characteristic: str, from_text: str | None = None, to_text: str | None = None) -> SpcReport:
    """The measured results of ``characteristic`` on operation ``sequence`` of every order of
    ``item_code`` recorded in ``[from, to)`` (default the last 30 days), as a chart: the chart's
    sample numbers are the points in time order (1, 2, …); several results of one order's sample
    make one subgroup. Specification limits: the item's plan as it stands, else the latest order's copy."""
    now = timezone.now()
    start, end = period_parse(
        from_text=from_text, to_text=to_text, default_start=now - datetime.timedelta(days=SPC_DEFAULT_DAYS), now=now, longest=SPC_LONGEST
    )
    plan = (
        InspectionCharacteristic.objects.select_related("unit").filter(item__code=item_code, sequence=sequence, code=characteristic).first()
        or OrderCharacteristic.objects.select_related("unit").filter(
            operation__work_order__item__code=item_code, operation__sequence=sequence, code=characteristic
        ).order_by("-pk").first()
    )
    if plan is None:
        raise DomainError(
            "unknown_characteristic",
            _("Operation %(sequence)04d of %(item)s has no characteristic %(code)s.") % {"sequence": sequence, "item": item_code, "code": characteristic},
            kind=ErrorKind.NOT_FOUND, fields={"characteristic": characteristic},
        )
    rows = list(
        InspectionResult.objects.filter(
            characteristic__code=characteristic, operation__sequence=sequence, work_order__item__code=item_code,
            value__isnull=False, recorded_at__gte=start, recorded_at__lt=end,
        )
        .order_by("recorded_at", "pk")
        .values_list("work_order__number", "sample_no", "value", "recorded_at")[: MAX_RESULTS + 1]
    )
    cut_short = len(rows) > MAX_RESULTS
    rows = rows[:MAX_RESULTS]
    numbers: dict[tuple[str, int], int] = {}
    sources: list[dict] = []
    samples = []
    for order, sample_no, value, at in rows:
        key = (order, sample_no)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            sources.append({"sample_no": numbers[key], "work_order": order, "order_sample_no": sample_no, "at": at})
        samples.append((numbers[key], float(value)))

    def number(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    result = spc_compute(samples=samples, lower_limit=number(plan.lower_limit), upper_limit=number(plan.upper_limit))
    kept = {point.sample_no for point in result.points}
    return SpcReport(
        item=item_code, sequence=sequence, characteristic=characteristic, name=plan.name, unit=plan.unit.code if plan.unit_id else None,
        nominal=number(plan.nominal), lower_limit=number(plan.lower_limit), upper_limit=number(plan.upper_limit),
        start=start, end=end, result=result, sources=[source for source in sources if source["sample_no"] in kept], cut_short=cut_short,
    )


def spc_json(report: SpcReport) -> dict:
    result = report.result
    by_number = {source["sample_no"]: source for source in report.sources}
    return {
        "item": report.item, "sequence": report.sequence, "characteristic": report.characteristic, "name": report.name,
        "unit": report.unit, "nominal": report.nominal, "lower_limit": report.lower_limit, "upper_limit": report.upper_limit,
        "from": report.start.isoformat(), "to": report.end.isoformat(),
        "chart": result.chart, "subgroup_size": result.subgroup_size,
        "n": result.n, "mean": result.mean, "sigma": result.sigma, "ucl": result.ucl, "lcl": result.lcl,
        "range_mean": result.spread_mean,  # MR̄ (individuals) or R̄ (subgroups)
        "range_ucl": result.spread_ucl, "range_lcl": result.spread_lcl,
        "cp": result.cp, "cpk": result.cpk,
        "violations": [{"rule": violation.rule, "sample_nos": list(violation.sample_nos)} for violation in result.violations],
        "points": [
            {
                "sample_no": point.sample_no, "value": point.value, "range": point.spread,
                "work_order": by_number[point.sample_no]["work_order"], "order_sample_no": by_number[point.sample_no]["order_sample_no"],
                "at": by_number[point.sample_no]["at"].isoformat(),
            }
            for point in result.points
        ],
        "left_out": result.left_out,
        "cut_short": report.cut_short,
    }
