"""Tests for ``rbm_recurring/engine/price_adjustment.py`` (plain Python, no
Odoo). Expected values worked out by hand."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_recurring_engine import price_adjustment as pa

D = Decimal


def test_compound_variation():
    # 1.01 × 1.02 = 1.0302
    assert pa.compound_variation([D("1"), D("2")]) == D("0.0302")
    # +10% then -10%: 1.1 × 0.9 = 0.99
    assert pa.compound_variation(["10", "-10"]) == D("-0.01")
    assert pa.compound_variation([]) == 0


@pytest.mark.parametrize(
    "variation, policy, cap, expected",
    [
        (D("-0.02"), "floor", 0, D("0")),
        (D("-0.02"), "apply", 0, D("-0.02")),
        (D("0.08"), "floor", 5.0, D("0.05")),  # capped at 5%
        (D("0.03"), "floor", 5.0, D("0.03")),
        (D("0.08"), "apply", 4.37, D("0.0437")),  # the float cap read with 4 decimals
    ],
)
def test_applied_variation(variation, policy, cap, expected):
    assert pa.applied_variation(variation, policy, cap) == expected


def test_adjusted_price():
    # 99.90 × 1.0302 = 102.91698 → 102.92
    assert pa.adjusted_price(D("99.90"), D("0.0302"), 2) == D("102.92")
    # 10 × 1.00045 = 10.0045 → half up to 10.005 with 3 decimals
    assert str(pa.adjusted_price(D("10"), D("0.00045"), 3)) == "10.005"
    assert str(pa.adjusted_price(D("10"), D("0"), 2)) == "10.00"


def test_adjustment_window():
    # anniversary in March 2026: March 2025 .. February 2026
    assert pa.adjustment_window(date(2026, 3, 15)) == (date(2025, 3, 1), date(2026, 2, 1))


def test_month_range():
    assert pa.month_range(date(2025, 11, 20), date(2026, 2, 1)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert pa.month_range(date(2026, 3, 1), date(2026, 2, 1)) == []


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_window_has_twelve_months(anniversary):
    first, last = pa.adjustment_window(anniversary)
    assert len(pa.month_range(first, last)) == pa.ADJUSTMENT_MONTHS


@pytest.mark.parametrize(
    "start, day, expected",
    [
        (date(2024, 3, 10), date(2025, 3, 9), 0),
        (date(2024, 3, 10), date(2025, 3, 10), 1),
        (date(2024, 2, 29), date(2025, 2, 28), 1),  # leap-day start
        (date(2024, 2, 29), date(2028, 2, 29), 4),
        (date(2024, 3, 10), date(2024, 1, 1), 0),
    ],
)
def test_anniversary_years(start, day, expected):
    assert pa.anniversary_years(start, day) == expected
