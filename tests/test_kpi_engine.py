"""Tests for ``rbm_recurring/engine/kpi.py`` (plain Python, no Odoo)."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rbm_recurring_engine import kpi

D = date.fromisoformat

# (contract, customer, date, type, delta, mrr_after)
ROWS = [
    (1, "P1", D("2025-12-01"), "new", 100.0, 100.0),
    (2, "P2", D("2025-12-15"), "new", 200.0, 200.0),
    (3, "P3", D("2026-01-10"), "new", 100.0, 100.0),
    (1, "P1", D("2026-01-20"), "expansion", 50.0, 150.0),
    (2, "P2", D("2026-02-01"), "churn", -200.0, 0.0),
    (3, "P3", D("2026-02-15"), "contraction", -50.0, 50.0),
    (4, "P1", D("2026-03-01"), "new", 100.0, 100.0),
    (2, "P2", D("2026-03-10"), "reactivation", 200.0, 200.0),
]
FROM, TO = D("2026-01-01"), D("2026-03-31")


def test_mrr_at_a_date():
    assert kpi.mrr_at(ROWS, D("2025-11-30")) == 0.0
    assert kpi.mrr_at(ROWS, D("2025-12-31")) == 300.0
    assert kpi.mrr_at(ROWS, D("2026-02-01")) == 250.0  # the churn counts on its day
    assert kpi.mrr_at(ROWS, TO) == 500.0
    contracts, customers = kpi.state_at(ROWS, D("2026-02-20"))
    assert (contracts, customers) == ({1, 3}, {"P1", "P3"})


def test_period_figures():
    r = kpi.compute_kpis(ROWS, FROM, TO)
    assert (r["mrr_start"], r["mrr"], r["arr"]) == (300.0, 500.0, 6000.0)
    assert (r["new"], r["expansion"], r["contraction"], r["churn"], r["reactivation"]) == (
        200.0,
        50.0,
        -50.0,
        -200.0,
        200.0,
    )
    assert r["net_new"] == 200.0 == r["mrr"] - r["mrr_start"]
    assert (r["active_customers"], r["active_contracts"], r["customers_start"]) == (3, 4, 2)
    # opening customers P1 and P2 are both active at the end
    assert (r["churned_customers"], r["logo_churn_rate"]) == (0, 0.0)
    # only P2's churn: P3 was not a customer at the start
    assert r["revenue_churn"] == 200.0
    assert r["revenue_churn_rate"] == pytest.approx(2 / 3)
    assert r["grr"] == pytest.approx(1 / 3)
    assert r["nrr"] == pytest.approx(450 / 300)  # P1 250 + P2 200 (won back)
    assert r["arpa"] == 166.67
    assert r["avg_monthly_revenue_churn_rate"] == pytest.approx((250 / 450) / 3)
    assert r["ltv"] == pytest.approx(166.67 / ((250 / 450) / 3), abs=0.01)


def test_months():
    months = kpi.compute_kpis(ROWS, FROM, TO)["months"]
    assert [m["month"] for m in months] == [D("2026-01-01"), D("2026-02-01"), D("2026-03-01")]
    jan, feb, mar = months
    assert (jan["mrr_start"], jan["new"], jan["expansion"], jan["mrr_end"]) == (300, 100, 50, 450)
    assert (jan["grr"], jan["nrr"]) == (1.0, pytest.approx(350 / 300))
    assert (feb["churn"], feb["contraction"], feb["revenue_churn"]) == (-200, -50, 250)
    assert (feb["churned_customers"], feb["logo_churn_rate"]) == (1, pytest.approx(1 / 3))
    assert feb["revenue_churn_rate"] == pytest.approx(250 / 450)
    assert feb["grr"] == feb["nrr"] == pytest.approx(200 / 450)
    assert (mar["new"], mar["reactivation"], mar["mrr_end"]) == (100, 200, 500)
    assert (mar["customers_start"], mar["customers_end"], mar["logo_churn_rate"]) == (2, 3, 0)
    assert mar["nrr"] == 1.5  # P1 150 -> 250, P3 50 -> 50


def test_customers_lost_add_up_the_month_table():
    """The summary's churned customers are those of the start that are gone
    at the end (none here: P2 came back); the customers lost in the period
    add up the month table's churned customers, each customer once."""
    r = kpi.compute_kpis(ROWS, FROM, TO)
    assert r["churned_customers"] == 0
    assert [m["churned_customers"] for m in r["months"]] == [0, 1, 0]
    assert r["customers_lost"] == 1  # P2 in February
    # P2 lost again on 20/03 (back on 10/03): the table counts it in February
    # only (it was no customer on 1 March), the period once, and it is now one
    # of the customers of the start gone at the end
    rows = [*ROWS, (2, "P2", D("2026-03-20"), "churn", -200.0, 0.0)]
    r = kpi.compute_kpis(rows, FROM, TO)
    assert [m["churned_customers"] for m in r["months"]] == [0, 1, 0]
    assert (r["customers_lost"], r["churned_customers"]) == (1, 1)


def test_cohorts():
    cohorts = kpi.compute_kpis(ROWS, FROM, TO)["cohorts"]
    assert len(cohorts) == 1
    jan = cohorts[0]
    assert (jan["month"], jan["customers"], jan["mrr"], jan["partner_ids"]) == (
        D("2026-01-01"),
        1,
        100.0,
        ["P3"],
    )
    assert [(c["customer_rate"], c["mrr_rate"]) for c in jan["cells"]] == [
        (1.0, 1.0),
        (1.0, 0.5),
        (1.0, 0.5),
    ]
    assert kpi.cohort_members(ROWS, TO, D("2026-01-01")) == {"P3"}
    assert kpi.cohort_members(ROWS, TO, D("2025-12-01"), offset=2) == {"P1"}


def test_opening_rows_give_the_same_figures():
    """rbm.kpi passes only the last row of each contract before the period."""
    last = {}
    for row in ROWS:
        if row[2] < FROM:
            last[row[0]] = (row[0], row[1], row[2], "opening", 0.0, row[5])
    rows = list(last.values()) + [row for row in ROWS if row[2] >= FROM]
    first_new = {"P3": D("2026-01-10")}
    assert kpi.compute_kpis(rows, FROM, TO, first_new) == kpi.compute_kpis(ROWS, FROM, TO)


def test_empty_book_and_no_churn():
    r = kpi.compute_kpis([], FROM, TO)
    assert (r["mrr"], r["arpa"], r["ltv"], r["grr"], r["nrr"], r["cohorts"]) == (
        0.0,
        None,
        None,
        None,
        None,
        [],
    )
    r = kpi.compute_kpis(ROWS[:2], FROM, TO)
    assert (r["avg_monthly_revenue_churn_rate"], r["ltv"]) == (0.0, None)


def test_month_windows_clip_the_period():
    assert kpi.month_windows(D("2026-01-15"), D("2026-02-10")) == [
        (D("2026-01-15"), D("2026-01-31")),
        (D("2026-02-01"), D("2026-02-10")),
    ]
    assert kpi.add_months(D("2026-01-31"), -13) == D("2024-12-01")
    assert kpi.month_end(D("2024-02-03")) == D("2024-02-29")


@st.composite
def books(draw):
    rows, mrr = [], {}
    day = D("2025-06-01")
    for _ in range(draw(st.integers(0, 60))):
        day += timedelta(days=draw(st.integers(0, 20)))
        contract = draw(st.integers(1, 8))
        after = float(draw(st.sampled_from([0, 50, 100, 150, 300])))
        before = mrr.get(contract, 0.0)
        if after == before:
            continue
        if before == 0:
            kind = "reactivation" if contract in mrr else "new"
        elif after == 0:
            kind = "churn"
        else:
            kind = "expansion" if after > before else "contraction"
        mrr[contract] = after
        rows.append((contract, contract % 3, day, kind, after - before, after))
    return rows


@settings(max_examples=150, deadline=None)
@given(books())
def test_bridges_add_up(rows):
    r = kpi.compute_kpis(rows, D("2025-09-01"), D("2026-04-30"))
    assert r["mrr"] == pytest.approx(r["mrr_start"] + r["net_new"])
    assert r["mrr"] == pytest.approx(kpi.mrr_at(rows, D("2026-04-30")))
    previous = r["mrr_start"]
    for month in r["months"]:
        assert month["mrr_start"] == pytest.approx(previous)
        assert month["mrr_end"] == pytest.approx(month["mrr_start"] + month["net_new"])
        assert month["net_new"] == pytest.approx(
            sum(month[k] for k in ("new", "expansion", "contraction", "churn", "reactivation"))
        )
        if month["grr"] is not None:
            assert month["grr"] <= 1.0 + 1e-9
        previous = month["mrr_end"]
