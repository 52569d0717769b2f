"""SPC numbers against a textbook and against an independent computation written out here.

The individuals data set is Montgomery's (Introduction to Statistical Quality Control, the
individuals chart for the weekly cost of processing mortgage loans): x̄ = 300.5, MR̄ = 7.79,
UCL = 321.22, LCL = 279.78 as the book prints them."""

from __future__ import annotations

import math
import statistics

import pytest

pytestmark = pytest.mark.django_db

from mes.selectors.spc import spc_compute

MORTGAGE = [310, 288, 297, 298, 307, 303, 294, 297, 308, 306, 294, 299, 297, 299, 314, 295, 293, 306, 301, 304]


def numbered(values):
    return [(index + 1, value) for index, value in enumerate(values)]


def test_individuals_chart_matches_the_textbook():
    result = spc_compute(samples=numbered(MORTGAGE), lower_limit=280, upper_limit=320)

    assert result.chart == "individuals" and result.n == 20
    assert result.mean == pytest.approx(300.5)
    assert result.spread_mean == pytest.approx(7.79, abs=0.005)
    assert (result.ucl, result.lcl) == (pytest.approx(321.22, abs=0.01), pytest.approx(279.78, abs=0.01))
    assert result.spread_ucl == pytest.approx(3.267 * 7.7895, abs=0.01)
    # Capability with the same within sigma, σ = MR̄ / 1.128, written out:
    sigma = (sum(abs(b - a) for a, b in zip(MORTGAGE, MORTGAGE[1:], strict=False)) / 19) / 1.128
    assert result.sigma == pytest.approx(sigma)
    assert result.cp == pytest.approx(40 / (6 * sigma))
    assert result.cpk == pytest.approx(min(320 - 300.5, 300.5 - 280) / (3 * sigma))
    assert result.violations == []  # the book's chart is in control


def test_xbar_r_chart_of_subgroups_against_an_independent_computation():
    subgroups = [
        [74.030, 74.002, 74.019, 73.992, 74.008], [73.995, 73.992, 74.001, 74.011, 74.004], [73.988, 74.024, 74.021, 74.005, 74.002],
        [74.002, 73.996, 73.993, 74.015, 74.009], [73.992, 74.007, 74.015, 73.989, 74.014], [74.009, 73.994, 73.997, 73.985, 73.993],
        [73.995, 74.006, 73.994, 74.000, 74.005], [73.985, 74.003, 73.993, 74.015, 73.988], [74.008, 73.995, 74.009, 74.005, 74.004],
        [73.998, 74.000, 73.990, 74.007, 73.995],
    ]
    samples = [(number, value) for number, group in enumerate(subgroups, start=1) for value in group]

    result = spc_compute(samples=samples, lower_limit=73.95, upper_limit=74.05)

    means = [statistics.fmean(group) for group in subgroups]
    ranges = [max(group) - min(group) for group in subgroups]
    grand, r_bar = statistics.fmean(means), statistics.fmean(ranges)
    assert (result.chart, result.subgroup_size, result.n) == ("xbar_r", 5, 50)
    assert result.mean == pytest.approx(grand)
    assert result.spread_mean == pytest.approx(r_bar)
    assert (result.ucl, result.lcl) == (pytest.approx(grand + 0.577 * r_bar), pytest.approx(grand - 0.577 * r_bar))
    assert (result.spread_lcl, result.spread_ucl) == (0, pytest.approx(2.114 * r_bar))
    sigma = r_bar / 2.326
    assert result.cp == pytest.approx(0.1 / (6 * sigma))
    assert result.cpk == pytest.approx(min(74.05 - grand, grand - 73.95) / (3 * sigma))
    assert [point.value for point in result.points] == pytest.approx(means)


def test_a_subgroup_of_another_size_is_left_out_and_counted():
    samples = [(1, 1.0), (1, 2.0), (2, 2.0), (2, 4.0), (3, 3.0)]
    result = spc_compute(samples=samples, lower_limit=None, upper_limit=10)
    assert (result.chart, result.n, result.left_out) == ("xbar_r", 4, 1)
    assert result.cp is None and result.cpk == pytest.approx((10 - 2.25) / (3 * (1.5 / 1.128)))


def chart_of(values):
    """Individuals with a known centre and sigma: the first twenty alternate ±1 around 10 (x̄ = 10,
    MR̄ = 2, σ = 2/1.128 ≈ 1.773), then the values under test, which shift both only a little."""
    return [10 + (1 if index % 2 == 0 else -1) for index in range(20)] + list(values)


@pytest.mark.parametrize(
    ("tail", "rule", "expected"),
    [
        ([16.5], 1, [21]),  # beyond 3σ
        ([15, 10.2, 15], 2, [21, 23]),  # two of three beyond 2σ, same side
        ([12.2, 12.2, 9.5, 12.2, 12.2], 3, [21, 22, 24, 25]),  # four of five beyond 1σ
        ([10.5] * 9, 4, list(range(21, 30))),  # nine in a row above the centre: one run, not two
    ],
    ids=["rule1", "rule2", "rule3", "rule4"],
)
def test_western_electric_rules(tail, rule, expected):
    result = spc_compute(samples=numbered(chart_of(tail)), lower_limit=None, upper_limit=None)
    assert [list(v.sample_nos) for v in result.violations if v.rule == rule] == [expected], result.violations
    # Written out: the rule's premise holds with the chart's own centre and sigma.
    beyond = {1: 3, 2: 2, 3: 1, 4: 0}[rule]
    assert all(result.points[no - 1].value - result.mean > beyond * result.sigma for no in expected)


def test_alternating_values_break_no_rule_and_no_limits_give_no_capability():
    result = spc_compute(samples=numbered(chart_of([])), lower_limit=None, upper_limit=None)
    assert result.violations == [] and result.cp is None and result.cpk is None
    assert result.sigma == pytest.approx(2 / 1.128) and math.isclose(result.mean, 10)


def test_too_few_values_give_what_they_can():
    assert spc_compute(samples=[], lower_limit=1, upper_limit=2).mean is None
    one = spc_compute(samples=[(1, 5.0)], lower_limit=1, upper_limit=9)
    assert (one.mean, one.sigma, one.ucl, one.cpk) == (5.0, None, None, None)


# --- through the API: the results of an item's operation, charted ------------------------------------


@pytest.fixture
def costed_order(plant, planned_order, erp_client):
    from mes.services.work_orders import work_order_transition
    from tests.factories import UnitOfMeasureFactory

    UnitOfMeasureFactory(code="CNY")
    characteristic = {
        "code": "COST", "name": "Cost", "kind": "measured", "nominal": "300", "lower_limit": "280", "upper_limit": "320",
        "unit": "CNY", "sampling": {"rule": "per_report"}, "mandatory": False,
    }
    assert erp_client.put("/api/v1/inspection-plans/FRAME-100/10", {"characteristics": [characteristic]}).status_code == 201
    work_order_transition(number="WO-1001", action="release")


def test_the_api_charts_an_operations_results_as_the_textbook_does(costed_order, quality):
    import uuid

    for number, value in numbered(MORTGAGE):
        answer = quality.post(
            "/api/v1/inspections",
            {"client_id": str(uuid.uuid4()), "work_order": "WO-1001", "operation": 10, "characteristic": "COST", "value": str(value), "sample_no": number},
        )
        assert answer.status_code == 201, answer.json()

    chart = quality.get("/api/v1/spc/FRAME-100/10/COST").json()

    assert (chart["chart"], chart["n"], chart["unit"], chart["lower_limit"], chart["upper_limit"]) == ("individuals", 20, "CNY", 280, 320)
    assert chart["mean"] == pytest.approx(300.5) and chart["range_mean"] == pytest.approx(7.79, abs=0.005)
    assert (chart["ucl"], chart["lcl"]) == (pytest.approx(321.22, abs=0.01), pytest.approx(279.78, abs=0.01))
    assert chart["violations"] == [] and chart["cpk"] == pytest.approx(min(19.5, 20.5) / (3 * chart["sigma"]))
    assert [(p["sample_no"], p["work_order"], p["order_sample_no"], p["value"]) for p in chart["points"][:2]] == [(1, "WO-1001", 1, 310), (2, "WO-1001", 2, 288)]


def test_the_api_refuses_what_it_cannot_chart(costed_order, quality):
    assert quality.get("/api/v1/spc/FRAME-100/10/NOPE").json()["error"]["code"] == "unknown_characteristic"
    assert quality.get("/api/v1/spc/FRAME-100/10/NOPE").status_code == 404
    bad = quality.get("/api/v1/spc/FRAME-100/10/COST?from=yesterday")
    assert bad.status_code == 400 and "from" in bad.json()["error"]["fields"]
    assert quality.get("/api/v1/spc/FRAME-100/10/COST?from=2020-01-01&to=2026-01-01").status_code == 400  # longer than a year
    empty = quality.get("/api/v1/spc/FRAME-100/10/COST").json()
    assert (empty["n"], empty["mean"], empty["points"]) == (0, None, [])
