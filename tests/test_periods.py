"""Tests for ``rbm_recurring/engine/periods.py`` (plain Python, no Odoo)."""

import os
from calendar import monthrange
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rbm_recurring_engine import periods

D = Decimal


# ---------------------------------------------------------------------------
# period_start / period_bounds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index, expected",
    [
        (0, date(2026, 1, 31)),
        (1, date(2026, 2, 28)),
        (2, date(2026, 3, 31)),
        (3, date(2026, 4, 30)),
        (4, date(2026, 5, 31)),
        (11, date(2026, 12, 31)),
        (13, date(2027, 2, 28)),
        (-1, date(2025, 12, 31)),
        (-2, date(2025, 11, 30)),
    ],
)
def test_monthly_start_anchored_on_31st(index, expected):
    assert periods.period_start(date(2026, 1, 31), "month", 1, index) == expected


def test_monthly_anchored_on_31st_leap_year():
    anchor = date(2028, 1, 31)
    assert periods.period_start(anchor, "month", 1, 1) == date(2028, 2, 29)
    assert periods.period_start(anchor, "month", 1, 2) == date(2028, 3, 31)
    assert periods.period_bounds(anchor, "month", 1, 0) == (date(2028, 1, 31), date(2028, 2, 28))
    assert periods.period_bounds(anchor, "month", 1, 1) == (date(2028, 2, 29), date(2028, 3, 30))


@pytest.mark.parametrize(
    "index, expected",
    [
        (0, (date(2026, 1, 31), date(2026, 2, 27))),
        (1, (date(2026, 2, 28), date(2026, 3, 30))),
        (2, (date(2026, 3, 31), date(2026, 4, 29))),
        (3, (date(2026, 4, 30), date(2026, 5, 30))),
        (-1, (date(2025, 12, 31), date(2026, 1, 30))),
        (-2, (date(2025, 11, 30), date(2025, 12, 30))),
    ],
)
def test_monthly_bounds_end_is_day_before_next_start(index, expected):
    assert periods.period_bounds(date(2026, 1, 31), "month", 1, index) == expected


def test_monthly_bounds_plain_calendar_month():
    anchor = date(2026, 1, 1)
    assert periods.period_bounds(anchor, "month", 1, 1) == (date(2026, 2, 1), date(2026, 2, 28))
    assert periods.period_bounds(anchor, "month", 1, 10) == (date(2026, 11, 1), date(2026, 11, 30))
    assert periods.period_bounds(anchor, "month", 1, 11) == (date(2026, 12, 1), date(2026, 12, 31))


def test_quarterly_periods():
    anchor = date(2026, 1, 31)
    assert periods.period_start(anchor, "month", 3, 1) == date(2026, 4, 30)
    assert periods.period_start(anchor, "month", 3, 2) == date(2026, 7, 31)
    assert periods.period_start(anchor, "month", 3, 3) == date(2026, 10, 31)
    assert periods.period_bounds(anchor, "month", 3, 1) == (date(2026, 4, 30), date(2026, 7, 30))
    assert periods.period_bounds(anchor, "month", 3, -1) == (date(2025, 10, 31), date(2026, 1, 30))

    anchor = date(2025, 11, 30)
    assert periods.period_start(anchor, "month", 3, 1) == date(2026, 2, 28)
    assert periods.period_start(anchor, "month", 3, 2) == date(2026, 5, 30)
    assert periods.period_bounds(anchor, "month", 3, 0) == (date(2025, 11, 30), date(2026, 2, 27))


def test_yearly_periods_anchored_on_feb_29():
    anchor = date(2028, 2, 29)
    assert periods.period_start(anchor, "year", 1, 1) == date(2029, 2, 28)
    assert periods.period_start(anchor, "year", 1, 2) == date(2030, 2, 28)
    assert periods.period_start(anchor, "year", 1, 3) == date(2031, 2, 28)
    assert periods.period_start(anchor, "year", 1, 4) == date(2032, 2, 29)
    assert periods.period_start(anchor, "year", 1, -1) == date(2027, 2, 28)
    assert periods.period_bounds(anchor, "year", 1, 0) == (date(2028, 2, 29), date(2029, 2, 27))
    assert periods.period_bounds(anchor, "year", 1, 3) == (date(2031, 2, 28), date(2032, 2, 28))
    assert periods.period_bounds(anchor, "year", 1, 4) == (date(2032, 2, 29), date(2033, 2, 27))
    # every other year
    assert periods.period_start(anchor, "year", 2, 2) == date(2032, 2, 29)
    assert periods.period_bounds(anchor, "year", 2, 1) == (date(2030, 2, 28), date(2032, 2, 28))


def test_weekly_periods():
    anchor = date(2026, 1, 1)
    assert periods.period_bounds(anchor, "week", 1, 0) == (date(2026, 1, 1), date(2026, 1, 7))
    assert periods.period_bounds(anchor, "week", 2, 0) == (date(2026, 1, 1), date(2026, 1, 14))
    assert periods.period_bounds(anchor, "week", 2, 1) == (date(2026, 1, 15), date(2026, 1, 28))
    assert periods.period_bounds(anchor, "week", 2, -1) == (date(2025, 12, 18), date(2025, 12, 31))


def test_daily_periods():
    anchor = date(2026, 2, 27)
    assert periods.period_bounds(anchor, "day", 1, 0) == (anchor, anchor)
    assert periods.period_bounds(anchor, "day", 1, 2) == (date(2026, 3, 1), date(2026, 3, 1))
    assert periods.period_bounds(anchor, "day", 10, 1) == (date(2026, 3, 9), date(2026, 3, 18))
    assert periods.period_bounds(anchor, "day", 10, -1) == (date(2026, 2, 17), date(2026, 2, 26))


def test_step():
    from dateutil.relativedelta import relativedelta

    assert periods.step("day", 3) == relativedelta(days=3)
    assert periods.step("week", 2, 3) == relativedelta(weeks=6)
    assert periods.step("month", 3, -2) == relativedelta(months=-6)
    assert periods.step("year", 1, 5) == relativedelta(years=5)


@pytest.mark.parametrize("unit", ["fortnight", "months", "", None])
def test_bad_unit_raises(unit):
    with pytest.raises(ValueError):
        periods.period_bounds(date(2026, 1, 1), unit, 1, 0)
    with pytest.raises(ValueError):
        periods.period_index(date(2026, 1, 1), unit, 1, date(2026, 3, 1))
    with pytest.raises(ValueError):
        periods.monthly_factor(unit, 1)


@pytest.mark.parametrize("interval", [0, -1, 1.5, "1", None])
def test_bad_interval_raises(interval):
    with pytest.raises(ValueError):
        periods.period_bounds(date(2026, 1, 1), "month", interval, 0)
    with pytest.raises(ValueError):
        periods.period_index(date(2026, 1, 1), "day", interval, date(2026, 3, 1))
    with pytest.raises(ValueError):
        periods.monthly_factor("week", interval)


# ---------------------------------------------------------------------------
# period_index / period_containing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2026, 1, 31), 0),
        (date(2026, 2, 1), 0),
        (date(2026, 2, 27), 0),
        (date(2026, 2, 28), 1),
        (date(2026, 3, 1), 1),
        (date(2026, 3, 30), 1),
        (date(2026, 3, 31), 2),
        (date(2026, 4, 29), 2),
        (date(2026, 4, 30), 3),
        (date(2026, 1, 30), -1),
        (date(2026, 1, 1), -1),
        (date(2025, 12, 31), -1),
        (date(2025, 12, 30), -2),
        (date(2025, 11, 30), -2),
        (date(2025, 11, 29), -3),
        (date(2027, 1, 31), 12),
        (date(2027, 1, 30), 11),
    ],
)
def test_period_index_monthly_around_month_ends(day, expected):
    assert periods.period_index(date(2026, 1, 31), "month", 1, day) == expected


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2028, 2, 29), 0),
        (date(2029, 2, 27), 0),
        (date(2029, 2, 28), 1),
        (date(2032, 2, 28), 3),
        (date(2032, 2, 29), 4),
        (date(2028, 2, 28), -1),
        (date(2027, 2, 28), -1),
        (date(2027, 2, 27), -2),
    ],
)
def test_period_index_yearly(day, expected):
    assert periods.period_index(date(2028, 2, 29), "year", 1, day) == expected


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2026, 1, 1), 0),
        (date(2026, 1, 14), 0),
        (date(2026, 1, 15), 1),
        (date(2025, 12, 31), -1),
        (date(2025, 12, 18), -1),
        (date(2025, 12, 17), -2),
    ],
)
def test_period_index_biweekly(day, expected):
    assert periods.period_index(date(2026, 1, 1), "week", 2, day) == expected


def test_period_index_daily():
    anchor = date(2026, 2, 27)
    assert periods.period_index(anchor, "day", 1, date(2026, 3, 1)) == 2
    assert periods.period_index(anchor, "day", 10, date(2026, 3, 8)) == 0
    assert periods.period_index(anchor, "day", 10, date(2026, 3, 9)) == 1
    assert periods.period_index(anchor, "day", 10, date(2026, 2, 26)) == -1
    assert periods.period_index(anchor, "day", 10, date(2026, 2, 17)) == -1
    assert periods.period_index(anchor, "day", 10, date(2026, 2, 16)) == -2


def test_period_containing():
    anchor = date(2026, 1, 31)
    assert periods.period_containing(anchor, "month", 1, date(2026, 3, 15)) == (
        date(2026, 2, 28),
        date(2026, 3, 30),
    )
    assert periods.period_containing(anchor, "month", 1, date(2026, 3, 31)) == (
        date(2026, 3, 31),
        date(2026, 4, 29),
    )
    assert periods.period_containing(anchor, "month", 1, date(2026, 1, 15)) == (
        date(2025, 12, 31),
        date(2026, 1, 30),
    )
    assert periods.period_containing(anchor, "month", 3, date(2026, 7, 30)) == (
        date(2026, 4, 30),
        date(2026, 7, 30),
    )
    assert periods.period_containing(date(2026, 1, 1), "month", 1, date(2026, 2, 28)) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
    )


# ---------------------------------------------------------------------------
# clamp_day / aligned_anchor
# ---------------------------------------------------------------------------


def test_clamp_day():
    assert periods.clamp_day(2026, 2, 31) == date(2026, 2, 28)
    assert periods.clamp_day(2028, 2, 30) == date(2028, 2, 29)
    assert periods.clamp_day(2026, 4, 31) == date(2026, 4, 30)
    assert periods.clamp_day(2026, 1, 31) == date(2026, 1, 31)
    assert periods.clamp_day(2026, 1, 10) == date(2026, 1, 10)


@pytest.mark.parametrize(
    "start, billing_day, expected",
    [
        (date(2026, 3, 5), 1, date(2026, 4, 1)),
        (date(2026, 3, 5), 10, date(2026, 3, 10)),
        (date(2026, 3, 5), 28, date(2026, 3, 28)),
        (date(2026, 3, 5), 31, date(2026, 3, 31)),
        (date(2026, 3, 15), 10, date(2026, 4, 10)),
        (date(2026, 12, 15), 10, date(2027, 1, 10)),
        (date(2026, 12, 31), 1, date(2027, 1, 1)),
        # February clamp
        (date(2026, 2, 5), 31, date(2026, 2, 28)),
        (date(2028, 2, 5), 31, date(2028, 2, 29)),
        (date(2026, 2, 5), 30, date(2026, 2, 28)),
        (date(2026, 1, 31), 30, date(2026, 2, 28)),
        (date(2026, 4, 5), 31, date(2026, 4, 30)),
        # start equal to the billing day
        (date(2026, 3, 1), 1, date(2026, 3, 1)),
        (date(2026, 3, 10), 10, date(2026, 3, 10)),
        (date(2026, 2, 28), 28, date(2026, 2, 28)),
        (date(2026, 1, 31), 31, date(2026, 1, 31)),
        # start equal to the clamped billing day
        (date(2026, 2, 28), 31, date(2026, 2, 28)),
        (date(2026, 4, 30), 31, date(2026, 4, 30)),
    ],
)
def test_aligned_anchor(start, billing_day, expected):
    assert periods.aligned_anchor(start, billing_day) == expected


@pytest.mark.parametrize("billing_day", [0, 32, -1, 100])
def test_aligned_anchor_bad_billing_day(billing_day):
    with pytest.raises(ValueError):
        periods.aligned_anchor(date(2026, 3, 5), billing_day)


# ---------------------------------------------------------------------------
# days360 / day_offsets
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (date(2026, 1, 15), date(2026, 1, 15), 0),
        (date(2026, 1, 1), date(2026, 2, 1), 30),
        (date(2026, 1, 1), date(2027, 1, 1), 360),
        (date(2026, 1, 30), date(2026, 1, 31), 0),
        (date(2026, 1, 31), date(2026, 2, 28), 28),
        (date(2026, 2, 1), date(2026, 2, 15), 14),
        (date(2026, 2, 1), date(2026, 3, 1), 30),
        (date(2026, 2, 28), date(2026, 3, 31), 32),
        (date(2026, 1, 31), date(2026, 3, 31), 60),
        (date(2026, 11, 16), date(2026, 12, 1), 15),
        (date(2026, 12, 31), date(2026, 1, 1), -359),
    ],
)
def test_days360(start, end, expected):
    assert periods.days360(start, end) == expected


def test_day_offsets_actual():
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    assert periods.day_offsets(*nov, date(2026, 11, 16), date(2026, 11, 30), "month", 1) == (
        15,
        30,
        30,
    )
    assert periods.day_offsets(*nov, date(2026, 11, 1), date(2026, 11, 15), "month", 1) == (
        0,
        15,
        30,
    )
    assert periods.day_offsets(*nov, *nov, "month", 1) == (0, 30, 30)
    feb = (date(2026, 2, 1), date(2026, 2, 28))
    assert periods.day_offsets(*feb, date(2026, 2, 15), date(2026, 2, 28), "month", 1) == (
        14,
        28,
        28,
    )
    # one-day sub-interval
    assert periods.day_offsets(*feb, date(2026, 2, 10), date(2026, 2, 10), "month", 1) == (
        9,
        10,
        28,
    )


def test_day_offsets_commercial():
    feb = (date(2026, 2, 1), date(2026, 2, 28))
    commercial = {"day_count": "commercial"}
    assert periods.day_offsets(
        *feb, date(2026, 2, 15), date(2026, 2, 28), "month", 1, **commercial
    ) == (14, 30, 30)
    assert periods.day_offsets(
        *feb, date(2026, 2, 1), date(2026, 2, 14), "month", 1, **commercial
    ) == (0, 14, 30)
    assert periods.day_offsets(*feb, *feb, "month", 1, **commercial) == (0, 30, 30)
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    assert periods.day_offsets(
        *nov, date(2026, 11, 16), date(2026, 11, 30), "month", 1, **commercial
    ) == (15, 30, 30)
    # quarter and year: 90 and 360 commercial days
    q1 = (date(2026, 1, 1), date(2026, 3, 31))
    assert periods.day_offsets(
        *q1, date(2026, 2, 1), date(2026, 3, 31), "month", 3, **commercial
    ) == (30, 90, 90)
    year = (date(2026, 1, 1), date(2026, 12, 31))
    assert periods.day_offsets(
        *year, date(2026, 7, 1), date(2026, 12, 31), "year", 1, **commercial
    ) == (180, 360, 360)
    # period starting on the 31st
    p = (date(2026, 1, 31), date(2026, 2, 27))
    assert periods.day_offsets(
        *p, date(2026, 2, 1), date(2026, 2, 27), "month", 1, **commercial
    ) == (1, 30, 30)
    # offsets past the 30E/360 length are clamped to the total
    p = (date(2026, 2, 28), date(2026, 3, 30))
    assert periods.day_offsets(
        *p, date(2026, 3, 30), date(2026, 3, 30), "month", 1, **commercial
    ) == (30, 30, 30)


def test_day_offsets_commercial_ignored_for_day_and_week_units():
    week = (date(2026, 1, 5), date(2026, 1, 11))
    assert periods.day_offsets(
        *week, date(2026, 1, 7), date(2026, 1, 11), "week", 1, "commercial"
    ) == (2, 7, 7)
    days = (date(2026, 1, 25), date(2026, 2, 3))
    assert periods.day_offsets(
        *days, date(2026, 2, 1), date(2026, 2, 3), "day", 10, "commercial"
    ) == (7, 10, 10)


@pytest.mark.parametrize(
    "sub_start, sub_end",
    [
        (date(2026, 10, 31), date(2026, 11, 10)),
        (date(2026, 11, 20), date(2026, 12, 1)),
        (date(2026, 11, 20), date(2026, 11, 19)),
        (date(2026, 10, 1), date(2026, 10, 5)),
    ],
)
@pytest.mark.parametrize("day_count", ["actual", "commercial"])
def test_day_offsets_sub_interval_outside_period(sub_start, sub_end, day_count):
    with pytest.raises(ValueError):
        periods.day_offsets(
            date(2026, 11, 1), date(2026, 11, 30), sub_start, sub_end, "month", 1, day_count
        )


def test_day_offsets_bad_day_count():
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    with pytest.raises(ValueError):
        periods.day_offsets(*nov, *nov, "month", 1, "30/360")


# ---------------------------------------------------------------------------
# round_money / prorate / prorate_interval
# ---------------------------------------------------------------------------


def test_round_money():
    assert periods.round_money("10.005") == D("10.01")
    assert periods.round_money("-10.005") == D("-10.01")
    assert periods.round_money("10.004") == D("10.00")
    assert periods.round_money(10.005) == D("10.01")  # float via repr
    assert periods.round_money(3, "0.01") == D("3.00")
    assert periods.round_money("2.5", "1") == D("3")
    assert periods.round_money("-2.5", "1") == D("-3")
    assert periods.round_money("12.34", "0.05") == D("12.35")


@pytest.mark.parametrize(
    "amount, a, b, total, expected",
    [
        # 100.00 over a 31-day period
        ("100.00", 0, 10, 31, "32.26"),  # 32.2580... -> 32.26
        ("100.00", 10, 31, 31, "67.74"),  # 100.00 - 32.26
        ("100.00", 10, 20, 31, "32.26"),  # 64.52 - 32.26
        ("100.00", 20, 31, 31, "35.48"),  # 100.00 - 64.52
        ("100.00", 0, 1, 31, "3.23"),  # 3.2258... -> 3.23
        ("100.00", 0, 31, 31, "100.00"),
        ("100.00", 5, 5, 31, "0.00"),
        ("100.00", 31, 31, 31, "0.00"),
        # 30-day (commercial) periods
        ("100.00", 14, 30, 30, "53.33"),  # 100.00 - 46.67
        ("100.00", 0, 14, 30, "46.67"),  # 46.666... -> 46.67
        ("100.00", 15, 30, 30, "50.00"),
        ("99.90", 0, 10, 30, "33.30"),
        ("250.00", 0, 1, 360, "0.69"),  # 0.6944... -> 0.69
        ("250.00", 1, 360, 360, "249.31"),
        # ties round half away from zero
        ("0.05", 0, 1, 2, "0.03"),
        ("0.05", 1, 2, 2, "0.02"),
        # negative amounts (credits)
        ("-100.00", 0, 10, 31, "-32.26"),
        ("-100.00", 10, 31, 31, "-67.74"),
        ("-0.05", 0, 1, 2, "-0.03"),
        ("-0.05", 1, 2, 2, "-0.02"),
        # the amount itself is rounded to the quantum first
        ("10.005", 0, 1, 1, "10.01"),
    ],
)
def test_prorate_examples(amount, a, b, total, expected):
    result = periods.prorate(D(amount), a, b, total)
    assert result == D(expected)
    assert result.as_tuple().exponent == -2


def test_prorate_quantum_one():
    parts = [periods.prorate(D("100.00"), i, i + 1, 3, "1") for i in range(3)]
    assert parts == [D(33), D(34), D(33)]  # 33, 67 - 33, 100 - 67


def test_prorate_accepts_str_int_and_float():
    assert periods.prorate("100", 0, 10, 31) == D("32.26")
    assert periods.prorate(100, 0, 10, 31) == D("32.26")
    assert periods.prorate(100.0, 0, 10, 31) == D("32.26")


@pytest.mark.parametrize(
    "a, b, total",
    [(-1, 5, 31), (0, 32, 31), (10, 5, 31), (0, 0, 0), (0, 1, -1), (32, 32, 31)],
)
def test_prorate_bad_offsets(a, b, total):
    with pytest.raises(ValueError):
        periods.prorate(D("100.00"), a, b, total)


def test_prorate_interval():
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    assert periods.prorate_interval(
        D("100.00"), *nov, date(2026, 11, 16), date(2026, 11, 30), "month", 1
    ) == D("50.00")
    feb = (date(2026, 2, 1), date(2026, 2, 28))
    assert periods.prorate_interval(
        D("100.00"), *feb, date(2026, 2, 15), date(2026, 2, 28), "month", 1, "commercial"
    ) == D("53.33")
    assert periods.prorate_interval(
        D("100.00"), *feb, date(2026, 2, 15), date(2026, 2, 28), "month", 1
    ) == D("50.00")
    jan = (date(2026, 1, 1), date(2026, 1, 31))
    assert periods.prorate_interval(
        D("100.00"), *jan, date(2026, 1, 1), date(2026, 1, 10), "month", 1
    ) == D("32.26")
    with pytest.raises(ValueError):
        periods.prorate_interval(D("100.00"), *jan, date(2026, 1, 20), date(2026, 2, 5), "month", 1)


# ---------------------------------------------------------------------------
# split_amount / monthly_factor
# ---------------------------------------------------------------------------


def test_split_amount_thirds():
    parts = periods.split_amount(D("100.00"), 3)
    assert sum(parts) == D("100.00")
    assert max(parts) - min(parts) <= D("0.01")
    assert sorted(parts) == [D("33.33"), D("33.33"), D("33.34")]


def test_split_amount_examples():
    assert periods.split_amount(D("100.00"), 4) == [D("25.00")] * 4
    assert periods.split_amount(D("100.00"), 1) == [D("100.00")]
    parts = periods.split_amount(D("0.10"), 3)
    assert sum(parts) == D("0.10")
    assert sorted(parts) == [D("0.03"), D("0.03"), D("0.04")]
    parts = periods.split_amount(D("-100.00"), 3)
    assert sum(parts) == D("-100.00")
    assert sorted(parts) == [D("-33.34"), D("-33.33"), D("-33.33")]
    parts = periods.split_amount(D("0.01"), 3)
    assert sum(parts) == D("0.01")
    assert sorted(parts) == [D("0.00"), D("0.00"), D("0.01")]
    assert sorted(periods.split_amount(D("100.00"), 3, "1")) == [D(33), D(33), D(34)]


@pytest.mark.parametrize("parts", [0, -1, 1.5, "3", None])
def test_split_amount_bad_parts(parts):
    with pytest.raises(ValueError):
        periods.split_amount(D("100.00"), parts)


@pytest.mark.parametrize(
    "unit, interval, expected",
    [
        ("month", 1, D(1)),
        ("month", 3, D(1) / 3),  # quarterly
        ("month", 6, D(1) / 6),
        ("year", 1, D(1) / 12),
        ("year", 2, D(1) / 24),
        ("week", 1, D(365) / 12 / 7),
        ("week", 2, D(365) / 12 / 14),
        ("day", 1, D(365) / 12),
        ("day", 30, D(365) / 12 / 30),
    ],
)
def test_monthly_factor(unit, interval, expected):
    factor = periods.monthly_factor(unit, interval)
    assert isinstance(factor, Decimal)
    assert factor == expected


def test_monthly_factor_values():
    q = D("0.000001")
    assert periods.monthly_factor("month", 3).quantize(q) == D("0.333333")
    assert periods.monthly_factor("year", 1).quantize(q) == D("0.083333")
    assert periods.monthly_factor("week", 1).quantize(q) == D("4.345238")
    assert periods.monthly_factor("day", 1).quantize(q) == D("30.416667")
    # a quarterly price of 300.00 is 100.00 per month
    assert periods.round_money(D("300.00") * periods.monthly_factor("month", 3)) == D("100.00")


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------

FAST = settings(max_examples=int(os.environ.get("RBM_HYPOTHESIS_EXAMPLES", "300")), deadline=None)

anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
units = st.sampled_from(periods.UNITS)
intervals = st.integers(min_value=1, max_value=24)
day_counts = st.sampled_from(periods.DAY_COUNTS)
quantums = st.sampled_from([D("0.01"), D("1")])
amounts = st.decimals(
    min_value=D("-1000000.00"),
    max_value=D("1000000.00"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
positive_amounts = st.decimals(
    min_value=D("0.00"),
    max_value=D("1000000.00"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@st.composite
def periods_st(draw):
    """A random period: (p_start, p_end, unit, interval)."""
    anchor = draw(anchors)
    unit = draw(units)
    interval = draw(intervals)
    index = draw(st.integers(min_value=-20, max_value=20))
    p_start, p_end = periods.period_bounds(anchor, unit, interval, index)
    return p_start, p_end, unit, interval


@FAST
@given(
    anchor=anchors,
    unit=units,
    interval=intervals,
    first=st.integers(min_value=-30, max_value=30),
    count=st.integers(min_value=1, max_value=15),
    data=st.data(),
)
def test_property_periods_tile(anchor, unit, interval, first, count, data):
    assert periods.period_start(anchor, unit, interval, 0) == anchor
    bounds = [periods.period_bounds(anchor, unit, interval, k) for k in range(first, first + count)]
    for k, (start, end) in enumerate(bounds, start=first):
        assert start <= end
        assert periods.period_index(anchor, unit, interval, start) == k
        assert periods.period_index(anchor, unit, interval, end) == k
        assert periods.period_containing(anchor, unit, interval, start) == (start, end)
        assert periods.period_containing(anchor, unit, interval, end) == (start, end)
        inside = start + timedelta(days=data.draw(st.integers(0, (end - start).days)))
        assert periods.period_index(anchor, unit, interval, inside) == k
        next_start = periods.period_start(anchor, unit, interval, k + 1)
        assert end + timedelta(days=1) == next_start
    for (_, end), (next_start, _) in pairwise(bounds):
        assert end + timedelta(days=1) == next_start


@FAST
@given(anchor=anchors, interval=st.integers(min_value=1, max_value=24), data=st.data())
def test_property_monthly_periods_keep_anchor_day(anchor, interval, data):
    unit = data.draw(st.sampled_from(["month", "year"]))
    k = data.draw(st.integers(min_value=-30, max_value=30))
    start = periods.period_start(anchor, unit, interval, k)
    last_day = monthrange(start.year, start.month)[1]
    assert start.day == min(anchor.day, last_day)


@FAST
@given(
    period=periods_st(),
    day_count=day_counts,
    amount=amounts,
    quantum=quantums,
    data=st.data(),
)
def test_property_partition_sums_to_amount(period, day_count, amount, quantum, data):
    p_start, p_end, unit, interval = period
    length = (p_end - p_start).days + 1
    cuts = []
    if length > 1:
        cuts = data.draw(
            st.lists(st.integers(min_value=1, max_value=length - 1), max_size=10, unique=True)
        )
    bounds = [0, *sorted(cuts), length]
    parts = []
    for lo, hi in pairwise(bounds):
        sub_start = p_start + timedelta(days=lo)
        sub_end = p_start + timedelta(days=hi - 1)
        parts.append(
            periods.prorate_interval(
                amount, p_start, p_end, sub_start, sub_end, unit, interval, day_count, quantum
            )
        )
    assert sum(parts) == periods.round_money(amount, quantum)
    for part in parts:
        assert part % quantum == 0


@FAST
@given(
    amount=amounts,
    parts=st.integers(min_value=1, max_value=60),
    quantum=quantums,
)
def test_property_split_amount(amount, parts, quantum):
    result = periods.split_amount(amount, parts, quantum)
    assert len(result) == parts
    assert sum(result) == periods.round_money(amount, quantum)
    assert max(result) - min(result) <= quantum
    for part in result:
        assert part % quantum == 0


@FAST
@given(
    period=periods_st(),
    day_count=day_counts,
    amount=positive_amounts,
    quantum=quantums,
    data=st.data(),
)
def test_property_prorate_bounded(period, day_count, amount, quantum, data):
    p_start, p_end, unit, interval = period
    length = (p_end - p_start).days
    lo = data.draw(st.integers(min_value=0, max_value=length))
    hi = data.draw(st.integers(min_value=lo, max_value=length))
    sub_start, sub_end = p_start + timedelta(days=lo), p_start + timedelta(days=hi)
    a, b, total = periods.day_offsets(p_start, p_end, sub_start, sub_end, unit, interval, day_count)
    assert 0 <= a <= b <= total
    part = periods.prorate_interval(
        amount, p_start, p_end, sub_start, sub_end, unit, interval, day_count, quantum
    )
    assert 0 <= part <= periods.round_money(amount, quantum)
    # a credit of the same amount is the exact opposite
    credit = periods.prorate_interval(
        -amount, p_start, p_end, sub_start, sub_end, unit, interval, day_count, quantum
    )
    assert credit == -part


@FAST
@given(
    start=anchors,
    billing_day=st.integers(min_value=1, max_value=31),
)
def test_property_aligned_anchor(start, billing_day):
    result = periods.aligned_anchor(start, billing_day)
    assert start <= result
    assert result.day == min(billing_day, monthrange(result.year, result.month)[1])
    # it is the first such date: nothing between start and result qualifies
    day = start
    while day < result:
        assert day.day != min(billing_day, monthrange(day.year, day.month)[1])
        day += timedelta(days=1)


# ---------------------------------------------------------------- fixed billing day


def test_anchor_day_brings_clamped_anchor_back_to_month_end():
    anchor = periods.aligned_anchor(date(2027, 2, 10), 31)
    assert anchor == date(2027, 2, 28)
    starts = [periods.period_start(anchor, "month", 1, k, anchor_day=31) for k in range(-1, 4)]
    assert starts == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
    ]
    assert periods.period_containing(anchor, "month", 1, date(2027, 2, 10), anchor_day=31) == (
        date(2027, 1, 31),
        date(2027, 2, 27),
    )


@FAST
@given(
    start=anchors,
    billing_day=st.integers(min_value=1, max_value=31),
    unit=st.sampled_from(["month", "year"]),
    interval=st.integers(min_value=1, max_value=12),
    first=st.integers(min_value=-12, max_value=12),
    count=st.integers(min_value=1, max_value=14),
)
def test_property_fixed_billing_day_periods_tile_and_keep_the_day(
    start, billing_day, unit, interval, first, count
):
    anchor = periods.aligned_anchor(start, billing_day)
    bounds = [
        periods.period_bounds(anchor, unit, interval, k, anchor_day=billing_day)
        for k in range(first, first + count)
    ]
    for k, (p_start, p_end) in enumerate(bounds, start=first):
        assert p_start <= p_end
        assert p_start.day == min(billing_day, monthrange(p_start.year, p_start.month)[1])
        for day in (p_start, p_end):
            assert periods.period_index(anchor, unit, interval, day, billing_day) == k
    for (_, end), (next_start, _) in pairwise(bounds):
        assert end + timedelta(days=1) == next_start
