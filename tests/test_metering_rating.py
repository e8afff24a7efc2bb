from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_metering_engine import rating

D = Decimal
TIERS = [(0, 1000, "0.10"), (1000, 5000, "0.08", "5.00"), (5000, None, "0.05")]

quantities = st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False)


# ------------------------------------------------------------ aggregation


def test_last_value_takes_the_latest_timestamp():
    t = datetime(2027, 1, 1)
    events = [(t + timedelta(hours=2), 7), (t, 3), (t + timedelta(hours=1), 9)]
    assert rating.last_value(events) == D(7)
    assert rating.last_value([]) == D(0)


def test_time_weighted_sum_in_periods_and_hours():
    start, end = datetime(2027, 4, 1), datetime(2027, 5, 1)  # 30 days
    events = [(datetime(2027, 4, 16), 100)]  # 0 GB for 15 days, then 100 GB
    assert rating.time_weighted_sum(events, start, end) == D(50)
    assert rating.time_weighted_sum(events, start, end, unit_seconds=3600) == D(100 * 15 * 24)
    # level carried from before the period
    assert rating.time_weighted_sum([], start, end, initial=10) == D(10)
    early = [(datetime(2027, 3, 20), 20), (datetime(2027, 4, 11), 50)]
    assert rating.time_weighted_sum(early, start, end) == D(20) * 10 / 30 + D(50) * 20 / 30
    # events at or after the end are ignored
    assert rating.time_weighted_sum([(end, 99)], start, end) == D(0)
    with pytest.raises(ValueError):
        rating.time_weighted_sum([], end, start)


# ------------------------------------------------------------ pricing


def test_per_unit_with_allowance_and_minimum():
    assert rating.price_usage("12.5", "per_unit", unit_price="0.333").amount == D("4.16")
    r = rating.price_usage(1500, "per_unit", unit_price="0.10", allowance=1000)
    assert (r.billable, r.amount) == (D(500), D("50.00"))
    assert rating.price_usage(3, "per_unit", unit_price=1, minimum=10).amount == D("10.00")


def test_allowance_boundary_is_exact():
    def price(q):
        return rating.price_usage(q, "allowance", allowance=1000, overage_price="0.50").amount

    assert price(D("1000")) == D("0.00")
    assert price(D("1000.000")) == D("0.00")
    assert price(D("1000.01")) == D("0.01")  # 0.005 rounds half up
    assert price(D("1001")) == D("0.50")
    assert price(0) == D("0.00")


def test_graduated_tiers():
    r = rating.price_usage(6000, "graduated", tiers=TIERS)
    # 1000 x 0.10 + 4000 x 0.08 + 5 + 1000 x 0.05
    assert r.parts == [D("100.00"), D("325.00"), D("50.00")]
    assert r.amount == D("475.00")
    assert rating.price_usage(1000, "graduated", tiers=TIERS).amount == D("100.00")
    assert rating.price_usage(0, "graduated", tiers=TIERS).amount == D("0.00")


def test_volume_tiers():
    assert rating.price_usage(6000, "volume", tiers=TIERS).amount == D("300.00")
    assert rating.price_usage(1000, "volume", tiers=TIERS).amount == D("100.00")
    assert rating.price_usage(1001, "volume", tiers=TIERS).amount == D("85.08")


def test_package_rounds_up_to_whole_blocks():
    assert rating.package_count(0, 100) == 0
    assert rating.package_count(1, 100) == 1
    assert rating.package_count(100, 100) == 1
    assert rating.package_count(D("100.001"), 100) == 2
    assert rating.price_usage(250, "package", unit_price=9, package_size=100).amount == D("27.00")
    with pytest.raises(ValueError):
        rating.package_count(1, 0)


def test_bad_tiers_are_refused():
    with pytest.raises(ValueError):
        rating.normalize_tiers([(0, 10, 1), (20, None, 1)])  # gap
    with pytest.raises(ValueError):
        rating.normalize_tiers([(0, None, 1), (10, None, 1)])
    with pytest.raises(ValueError):
        rating.normalize_tiers([])


def test_prorated_allowance():
    assert rating.prorate_allowance(1000, 15, 30) == D(500)
    assert rating.prorate_allowance(1000, 10, 30, digits=3) == D("333.333")
    assert rating.prorate_allowance(1000, 10, 30, policy="full") == D(1000)
    assert rating.prorate_allowance(1000, 30, 30) == D(1000)


@given(quantities)
def test_graduated_total_is_the_sum_of_tier_parts(q):
    r = rating.price_usage(q, "graduated", tiers=TIERS, quantum="0.01")
    assert sum(r.parts, D(0)) == sum(rating.graduated_parts(q, TIERS), D(0))
    assert r.amount == rating.round_money(sum(r.parts, D(0)))
    # each part is the tier's own units times its price (plus its flat fee)
    tiers = rating.normalize_tiers(TIERS)
    for part, tier in zip(r.parts, tiers, strict=False):
        top = q if tier.to_qty is None else min(q, tier.to_qty)
        assert part == (top - tier.from_qty) * tier.price + tier.flat_fee


@given(quantities)
def test_volume_is_never_negative(q):
    assert rating.price_usage(q, "volume", tiers=TIERS).amount >= 0


@given(quantities, quantities, st.integers(min_value=1, max_value=5000))
def test_package_is_monotonic(a, b, size):
    lo, hi = sorted((a, b))
    price_lo = rating.price_usage(lo, "package", unit_price=3, package_size=size).amount
    price_hi = rating.price_usage(hi, "package", unit_price=3, package_size=size).amount
    assert price_lo <= price_hi


@given(quantities, st.decimals(min_value=0, max_value=10**6, places=3))
def test_allowance_charges_exactly_the_overage(q, allowance):
    r = rating.price_usage(q, "allowance", allowance=allowance, overage_price=1, quantum="0.001")
    assert r.amount == max(q - allowance, D(0))


# ------------------------------------------------------------ formatting and parsing


def test_format_brazilian_quantities():
    assert rating.format_quantity(D("1234.5")) == "1.234,5"
    assert rating.format_quantity(1000) == "1.000"
    assert rating.format_quantity(D("1234567.891")) == "1.234.567,891"
    assert rating.format_quantity(D("0.0004")) == "0"
    assert rating.format_quantity(D("1234.5"), "en_US") == "1,234.5"
    assert rating.format_usage(D("1234.5"), "GB", 1000) == "1.234,5 GB — franquia 1.000 GB"
    assert rating.format_usage(D("1234.5"), "GB", 1000, "en_US") == (
        "1,234.5 GB — allowance 1,000 GB"
    )
    assert rating.format_usage(12, "h") == "12 h"


def test_parse_timestamp_and_quantity():
    assert rating.parse_timestamp("2027-01-01T12:00:00Z") == datetime(2027, 1, 1, 12)
    assert rating.parse_timestamp("2027-01-01T09:00:00-03:00") == datetime(2027, 1, 1, 12)
    assert rating.parse_timestamp("2027-01-01 12:00:00") == datetime(2027, 1, 1, 12)
    for bad in ("", "yesterday", 12, None):
        with pytest.raises(ValueError):
            rating.parse_timestamp(bad)
    assert rating.parse_quantity("1.5") == D("1.5")
    assert rating.parse_quantity(2) == D(2)
    assert rating.parse_quantity(0.1) == D("0.1")
    for bad in (True, None, "abc", "NaN", "Infinity", -1, [1]):
        with pytest.raises(ValueError):
            rating.parse_quantity(bad)


# ------------------------------------------------------------ local days


def test_day_start_in_sao_paulo_is_three_in_the_morning_utc():
    from datetime import date

    assert rating.day_start_utc(date(2027, 1, 31), "America/Sao_Paulo") == datetime(2027, 1, 31, 3)
    assert rating.day_start_utc(date(2027, 1, 31), "UTC") == datetime(2027, 1, 31)
    # empty or unknown zone: UTC
    assert rating.day_start_utc(date(2027, 1, 31), False) == datetime(2027, 1, 31)
    assert rating.day_start_utc(date(2027, 1, 31), "Nowhere/Atlantis") == datetime(2027, 1, 31)


def test_day_start_across_brazilian_daylight_saving_changes():
    from datetime import date

    # 2018-11-04: clocks jumped from 00:00 to 01:00 (UTC-2): the day began at 03:00 UTC
    assert rating.day_start_utc(date(2018, 11, 4), "America/Sao_Paulo") == datetime(2018, 11, 4, 3)
    # 2019-02-16 began in summer time (UTC-2); 2019-02-17 after the change (UTC-3)
    assert rating.day_start_utc(date(2019, 2, 16), "America/Sao_Paulo") == datetime(2019, 2, 16, 2)
    assert rating.day_start_utc(date(2019, 2, 17), "America/Sao_Paulo") == datetime(2019, 2, 17, 3)


def test_local_day_around_midnight():
    from datetime import date

    # 23:30 local on January 31st is 02:30 UTC on February 1st
    assert rating.local_day(datetime(2027, 2, 1, 2, 30), "America/Sao_Paulo") == date(2027, 1, 31)
    assert rating.local_day(datetime(2027, 2, 1, 3, 0), "America/Sao_Paulo") == date(2027, 2, 1)
    assert rating.local_day(datetime(2027, 2, 1, 2, 30), None) == date(2027, 2, 1)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)))
def test_local_day_starts_at_day_start(timestamp):
    day = rating.local_day(timestamp, "America/Sao_Paulo")
    assert rating.day_start_utc(day, "America/Sao_Paulo") <= timestamp
    assert timestamp < rating.day_start_utc(day + timedelta(days=1), "America/Sao_Paulo")
