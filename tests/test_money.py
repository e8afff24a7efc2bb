"""Tests for ``rbm_recurring/engine/money.py`` and the Brazilian dates of
``periods`` (plain Python, no Odoo). Expected values worked out by hand."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import boleto, fixedwidth, pix
from rbm_metering_engine import rating
from rbm_recurring_engine import money, periods

D = Decimal

cents_values = st.integers(min_value=-(10**13), max_value=10**13)
amounts = st.decimals(
    min_value=D("-1000000000"), max_value=D("1000000000"), places=6, allow_nan=False
)


# ---------------------------------------------------------------------------
# one copy: the engines use the money module itself
# ---------------------------------------------------------------------------


def test_engines_share_one_money_module():
    assert periods.round_money is money.round_money
    assert periods.to_decimal is money.to_decimal
    assert rating.round_money is money.round_money
    assert boleto.money is money
    assert pix.money is money
    assert fixedwidth.money is money


# ---------------------------------------------------------------------------
# to_decimal
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.1, "0.1"),  # the float's repr, not 0.1000000000000000055511151231257827
        (19.99, "19.99"),
        (12, "12"),
        ("1.005", "1.005"),
        (D("2.50"), "2.50"),
    ],
)
def test_to_decimal(value, expected):
    assert str(money.to_decimal(value)) == expected


def test_to_decimal_refuses_what_decimal_refuses():
    with pytest.raises(InvalidOperation):
        money.to_decimal("abc")
    with pytest.raises(TypeError):
        money.to_decimal(None)
    # rating reads an empty value as 0
    assert rating.to_decimal(None) == 0


# ---------------------------------------------------------------------------
# rounding
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, quantum, expected",
    [
        (2.675, "0.01", "2.68"),  # the float 2.675 is 2.67499999...: read as 2.675
        (D("0.125"), "0.01", "0.13"),  # half up, not half even (0.12)
        (D("-0.005"), "0.01", "-0.01"),  # half away from zero
        (D("-0.0049"), "0.01", "0.00"),
        (D("1.024"), "0.05", "1.00"),
        (D("1.025"), "0.05", "1.05"),
        (D("7.5"), "1", "8"),
    ],
)
def test_round_money(value, quantum, expected):
    assert money.round_money(value, quantum) == D(expected)


def test_round_digits_keeps_the_digits():
    assert str(money.round_digits(2, 2)) == "2.00"
    assert str(money.round_digits(D("0.0000005"), 6)) == "0.000001"
    assert str(money.round_digits(D("-2.5"), 0)) == "-3"


@given(amounts)
def test_round_money_is_half_up_to_the_cent(value):
    rounded = money.round_money(value)
    assert rounded == value.quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert abs(rounded - value) <= D("0.005")
    assert money.round_money(rounded) == rounded
    assert money.round_digits(value, 2) == rounded


# ---------------------------------------------------------------------------
# cents
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (19.99, 1999),  # 19.99 * 100 is 1998.9999999999998 in floats
        (12.5, 1250),
        ("0.005", 1),
        (D("-0.005"), -1),
        (D("99999999.99"), 9999999999),
    ],
)
def test_to_cents(value, expected):
    assert money.to_cents(value) == expected


def test_from_cents():
    assert str(money.from_cents("0000012345")) == "123.45"
    assert str(money.from_cents(5)) == "0.05"
    assert money.from_cents(0) == 0


def test_is_whole_cents():
    assert money.is_whole_cents(D("10.10"))
    assert money.is_whole_cents(D("10.1000"))
    assert not money.is_whole_cents(D("10.101"))


@given(cents_values)
def test_cents_round_trip(cents):
    amount = money.from_cents(cents)
    assert money.is_whole_cents(amount)
    assert money.to_cents(amount) == cents


@given(amounts)
def test_to_cents_is_the_rounded_amount(value):
    assert money.from_cents(money.to_cents(value)) == money.round_money(value)


def test_fixed():
    assert str(money.fixed(12.5, 2)) == "12.50"
    assert str(money.fixed(0.01, 2)) == "0.01"
    assert str(money.fixed(1.0, 0)) == "1"
    assert str(money.fixed(2.5, 4)) == "2.5000"


# ---------------------------------------------------------------------------
# Brazilian text
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (1234.56, "1.234,56"),
        (D("1234567.8"), "1.234.567,80"),
        (0, "0,00"),
        (D("-1234.5"), "-1.234,50"),
        (D("999.99"), "999,99"),
    ],
)
def test_format_br_amount(value, expected):
    assert money.format_br_amount(value) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("1.234,56", "1234.56"), ("1234,56", "1234.56"), ("1.234", "1234"), (" 0,5 ", "0.5")],
)
def test_parse_br_amount(text, expected):
    assert money.parse_br_amount(text) == D(expected)


@pytest.mark.parametrize("text", ["1,234.56", "12.34", "1.2345,00", "", "R$ 1,00", "1,2,3"])
def test_parse_br_amount_refuses(text):
    with pytest.raises(ValueError):
        money.parse_br_amount(text)


@given(cents_values)
def test_br_amount_round_trip(cents):
    amount = money.from_cents(cents)
    text = money.format_br_amount(amount)
    assert "." not in text[-3:] and text[-3] == ","
    assert money.parse_br_amount(text) == amount


@pytest.mark.parametrize("rate, expected", [(2.5, "2,5"), (2.0, "2"), (0.033, "0,033"), (10, "10")])
def test_format_br_rate(rate, expected):
    assert money.format_br_rate(rate) == expected


def test_br_date():
    assert periods.format_br_date(date(2026, 1, 31)) == "31/01/2026"
    assert periods.format_br_date(None) == ""
    assert periods.parse_br_date("05/02/2026") == date(2026, 2, 5)
    with pytest.raises(ValueError):
        periods.parse_br_date("2026-02-05")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31)))
def test_br_date_round_trip(day):
    assert periods.parse_br_date(periods.format_br_date(day)) == day
