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


# ------------------------------------------------------------ sub-cent prices


API_TIERS = [(0, 1000, "0"), (1000, 10000, "0.01"), (10000, None, "0.005")]


def test_sub_cent_tiers_are_exact():
    # 12.500 calls: 1.000 free + 9.000 x 0,01 + 2.500 x 0,005 = 0 + 90,00 + 12,50 = 102,50
    assert rating.price_usage(12500, "graduated", tiers=API_TIERS).amount == D("102.50")
    # volume: all 12.500 in the last tier: 12.500 x 0,005 = 62,50
    assert rating.price_usage(12500, "volume", tiers=API_TIERS).amount == D("62.50")
    # 0,0002 up to 1.000.000, then 0,0001: 3.500.000 -> 200,00 + 250,00 = 450,00
    tiers = [(0, 1000000, "0.0002"), (1000000, None, "0.0001")]
    assert rating.price_usage(3500000, "graduated", tiers=tiers).amount == D("450.00")
    # per unit 0,000125 x 3.000.000 = 375,00
    assert rating.price_usage(3000000, "per_unit", unit_price="0.000125").amount == D("375.00")


def test_rounding_happens_once_on_the_total():
    # 5 tiers of 15 units at 0,0001 = 0,0015 each: rounded per tier 5 x 0,00 = 0,00;
    # rounded once on the total 5 x 0,0015 = 0,0075 -> 0,01
    tiers = [(0, 15, "0.0001"), (15, 30, "0.0001"), (30, 45, "0.0001"), (45, 60, "0.0001")]
    tiers.append((60, None, "0.0001"))
    assert rating.price_usage(75, "graduated", tiers=tiers).amount == D("0.01")


# ------------------------------------------------------------ percentage (Lago)

FACILITATOR = rating.Percentage(rate="1.99", fixed_fee="0.39", event_min="0.50", event_max="5.00")


def test_percentage_with_fixed_fee_min_and_max():
    amounts = [D("5.00"), D("1000.00"), D("100.00"), D("10.00"), D("10.00"), D("10.00")]
    r = rating.price_usage(
        sum(amounts), "percentage", percentage=FACILITATOR, amounts=amounts, count=6
    )
    # 5,00: 0,0995 + 0,39 = 0,4895 -> at least 0,50
    # 1.000,00: 19,90 + 0,39 = 20,29 -> at most 5,00
    # 100,00: 1,99 + 0,39 = 2,38
    # 10,00 x 3: (0,199 + 0,39) x 3 = 1,767
    # total 0,50 + 5,00 + 2,38 + 1,767 = 9,647 -> 9,65
    assert r.parts == [D("0.50"), D("5.00"), D("2.3800"), D("0.5890"), D("0.5890"), D("0.5890")]
    assert r.amount == D("9.65")


def test_percentage_rounds_once_not_per_event():
    # 7 x (10,00 x 1,99% + 0,39) = 7 x 0,589 = 4,123 -> 4,12 (per event: 7 x 0,59 = 4,13)
    terms = rating.Percentage(rate="1.99", fixed_fee="0.39")
    r = rating.price_usage(70, "percentage", percentage=terms, count=7)
    assert r.amount == D("4.12")


def test_percentage_free_events_and_free_amount():
    terms = rating.Percentage(rate="2", fixed_fee="0.10", free_events=3)
    amounts = [D(100), D(200), D(300), D(400)]
    # the first 3 events are free; the 4th: 400 x 2% + 0,10 = 8,10
    r = rating.price_usage(1000, "percentage", percentage=terms, amounts=amounts, count=4)
    assert r.amount == D("8.10")
    # with a free amount of 250 too, whichever comes first: 100 free, 200 -> 150 free and
    # 50 x 2% + 0,10 = 1,10; then nothing is free: 300 -> 6,10; 400 -> 8,10; total 15,30
    r = rating.price_usage(
        1000, "percentage", percentage=terms, amounts=amounts, count=4, allowance=250
    )
    assert r.amount == D("15.30")
    # only the free amount (no free events): the rate on 1.000 - 250 = 750 -> 15,00,
    # the fixed fee on every event: 4 x 0,10 = 0,40; total 15,40
    plain = rating.Percentage(rate="2", fixed_fee="0.10")
    assert rating.price_usage(
        1000, "percentage", percentage=plain, count=4, allowance=250
    ).amount == D("15.40")


def test_percentage_per_event_rules_need_the_events():
    with pytest.raises(ValueError):
        rating.price_usage(10, "percentage", percentage=FACILITATOR, count=1)


def test_graduated_percentage_follows_lagos_example():
    # Lago's documented tiers: 0-1.000 at 1% + 200, 1.000-10.000 at 2% + 300, above 3% + 400
    tiers = [(0, 1000, "1", "200"), (1000, 10000, "2", "300"), (10000, None, "3", "400")]
    # 500: 500 x 1% + 200 = 205,00
    assert rating.price_usage(500, "graduated_percentage", tiers=tiers).amount == D("205.00")
    # 1.050: 1.000 x 1% + 200 + 50 x 2% + 300 = 10 + 200 + 1 + 300 = 511,00
    assert rating.price_usage(1050, "graduated_percentage", tiers=tiers).amount == D("511.00")


amounts_st = st.lists(st.decimals(min_value=0, max_value=10**5, places=2), max_size=40)
money_st = st.decimals(min_value=0, max_value=50, places=6)


@given(amounts_st, money_st, money_st, st.decimals(min_value=0, max_value=100, places=4))
def test_percentage_per_event_bounds_are_respected(amounts, low, span, rate):
    terms = rating.Percentage(rate=rate, fixed_fee="0.39", event_min=low, event_max=low + span)
    parts = rating.percentage_parts(terms, amounts=amounts)
    assert len(parts) == len(amounts)
    assert all(low <= part <= low + span for part in parts)
    r = rating.price_usage(sum(amounts, D(0)), "percentage", percentage=terms, amounts=amounts)
    assert r.amount == rating.round_money(sum(parts, D(0)))


@given(amounts_st, st.decimals(min_value=0, max_value=100, places=4), money_st, money_st)
def test_percentage_without_per_event_rules_needs_only_totals(amounts, rate, fee, free):
    terms = rating.Percentage(rate=rate, fixed_fee=fee)
    total = sum(amounts, D(0))
    by_event = rating.percentage_parts(terms, amounts=amounts, free_amount=free)
    by_total = rating.percentage_parts(terms, total=total, count=len(amounts), free_amount=free)
    assert sum(by_event, D(0)) == sum(by_total, D(0))


@given(quantities)
def test_graduated_percentage_is_the_sum_of_its_tiers(q):
    tiers = [(0, 1000, "1", "200"), (1000, 10000, "2", "300"), (10000, None, "3", "400")]
    r = rating.price_usage(q, "graduated_percentage", tiers=tiers)
    expected = D(0)
    for low, high, pct, fee in tiers:
        if q > low:
            top = q if high is None else min(q, D(high))
            expected += (top - low) * D(pct) / 100 + D(fee)
    assert r.amount == rating.round_money(expected)


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


def test_format_unit_prices_keeps_every_decimal():
    assert rating.format_unit_price(D("0.000125")) == "0,000125"
    assert rating.format_unit_price(D("0.5")) == "0,50"
    assert rating.format_unit_price(D("1234")) == "1.234,00"
    assert rating.format_unit_price(0.005, "en_US") == "0.005"


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
