"""Price adjustment by index (reajuste): the arithmetic, exact in Decimal
(no Odoo import).

The yearly adjustment of a contract on its anniversary uses the 12 calendar
months before the anniversary's month (:func:`adjustment_window`); their
monthly percentages accumulate as ``Π(1 + v/100) − 1``
(:func:`compound_variation`); the contract terms floor or cap the result
(:func:`applied_variation`); each price becomes ``price × (1 + variation)``
rounded half-up to the price's decimals (:func:`adjusted_price`).
"""

from decimal import Decimal

from dateutil.relativedelta import relativedelta

from . import money

ADJUSTMENT_MONTHS = 12


def compound_variation(percents):
    """Accumulated variation of monthly percentages: Π(1 + v/100) − 1, as a Decimal."""
    factor = Decimal(1)
    for percent in percents:
        factor *= 1 + Decimal(percent) / 100
    return factor - 1


def applied_variation(variation, negative_policy, cap_percent):
    """The variation after the contract terms: a negative one becomes 0 with
    the ``floor`` policy; a cap (percent, 0 = none) bounds it from above."""
    if negative_policy == "floor" and variation < 0:
        variation = Decimal(0)
    if cap_percent and cap_percent > 0:
        variation = min(variation, money.fixed(cap_percent, 4) / 100)
    return variation


def adjusted_price(price, variation, digits):
    """``price × (1 + variation)`` rounded half-up to ``digits`` decimals."""
    return money.round_digits(price * (1 + variation), digits)


def month_range(first, last):
    """First days of the months from ``first`` to ``last``, both included."""
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month += relativedelta(months=1)
    return months


def adjustment_window(anniversary):
    """First and last month (first days) of the 12 months used for an
    anniversary: the 12 calendar months ending with the month before it."""
    last = anniversary.replace(day=1) - relativedelta(months=1)
    return last - relativedelta(months=ADJUSTMENT_MONTHS - 1), last


def anniversary_years(date_start, day):
    """Number of whole years from ``date_start`` to ``day`` (a 29 February start
    reaches its anniversary on 28 February in other years)."""
    if day < date_start:
        return 0
    years = relativedelta(day, date_start).years
    if date_start + relativedelta(years=years + 1) <= day:
        years += 1
    return years
