"""Billing periods and proration.

Everything here is plain Python (no Odoo import) so it can be tested on its own.

Periods are defined from an *anchor* date: period ``k`` starts at
``anchor + k * step`` (computed from the anchor each time, never chained, so a
contract anchored on the 31st comes back to the 31st after February) and ends
the day before period ``k + 1`` starts. Periods therefore tile the calendar
without gaps or overlaps.

Proration of an amount over a sub-interval of a period uses *cumulative
rounding*: the part of ``price`` for the days ``[a, b)`` of a period of ``T``
days is ``R(price * b / T) - R(price * a / T)``. Any partition of a period into
intervals therefore sums exactly to ``price`` (the sum telescopes), whatever the
rounding.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

# the models call them as periods.round_money and periods.to_decimal
from .money import round_money, to_decimal  # noqa: F401

UNITS = ("day", "week", "month", "year")
DAY_COUNTS = ("actual", "commercial")


def _check_period(unit, interval):
    if unit not in UNITS:
        raise ValueError(f"unknown period unit {unit!r}")
    if not isinstance(interval, int) or interval < 1:
        raise ValueError(f"period interval must be a positive integer, got {interval!r}")


def step(unit, interval, count=1):
    """relativedelta for ``count`` periods of ``interval`` ``unit``."""
    _check_period(unit, interval)
    n = interval * count
    if unit == "day":
        return relativedelta(days=n)
    if unit == "week":
        return relativedelta(weeks=n)
    if unit == "month":
        return relativedelta(months=n)
    return relativedelta(years=n)


def period_start(anchor, unit, interval, index, anchor_day=None):
    """Start of period ``index`` (may be negative) counted from ``anchor``.

    ``anchor_day`` (month- and year-based periods) is the day of month periods
    start on when the anchor itself was clamped: an anchor of February 28 for a
    billing day of 31 gives March 31, April 30, ..."""
    start = anchor + step(unit, interval, index)
    if anchor_day and unit in ("month", "year"):
        start += relativedelta(day=anchor_day)
    return start


def period_bounds(anchor, unit, interval, index, anchor_day=None):
    """(start, end) of period ``index``; ``end`` is inclusive."""
    start = period_start(anchor, unit, interval, index, anchor_day)
    end = period_start(anchor, unit, interval, index + 1, anchor_day) - timedelta(days=1)
    return start, end


def period_index(anchor, unit, interval, day, anchor_day=None):
    """Index of the period containing ``day``."""
    _check_period(unit, interval)
    if unit in ("day", "week"):
        length = interval * (7 if unit == "week" else 1)
        return (day - anchor).days // length
    months = interval * (12 if unit == "year" else 1)
    # first guess from the month difference, then adjust (month-end clamping)
    diff = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    index = diff // months
    while period_start(anchor, unit, interval, index, anchor_day) > day:
        index -= 1
    while period_start(anchor, unit, interval, index + 1, anchor_day) <= day:
        index += 1
    return index


def period_containing(anchor, unit, interval, day, anchor_day=None):
    """(start, end) of the period that contains ``day``."""
    index = period_index(anchor, unit, interval, day, anchor_day)
    return period_bounds(anchor, unit, interval, index, anchor_day)


def clamp_day(year, month, day):
    """``date(year, month, day)`` with ``day`` clamped to the month's last day."""
    return date(year, month, 1) + relativedelta(day=day)


def aligned_anchor(start, billing_day):
    """First date on or after ``start`` whose day of month is ``billing_day``
    (clamped to the month's end: day 31 means the last day in short months)."""
    if not 1 <= billing_day <= 31:
        raise ValueError(f"billing day must be between 1 and 31, got {billing_day!r}")
    candidate = clamp_day(start.year, start.month, billing_day)
    if candidate < start:
        nxt = start + relativedelta(months=1)
        candidate = clamp_day(nxt.year, nxt.month, billing_day)
    return candidate


def days360(start, end):
    """Days between two dates in the 30/360 European convention (30E/360)."""
    d1 = min(start.day, 30)
    d2 = min(end.day, 30)
    return (end.year - start.year) * 360 + (end.month - start.month) * 30 + (d2 - d1)


def _months_in(unit, interval):
    if unit == "month":
        return interval
    if unit == "year":
        return 12 * interval
    return None


def day_offsets(p_start, p_end, sub_start, sub_end, unit, interval, day_count="actual"):
    """Offsets ``(a, b, total)`` of the sub-interval ``[sub_start, sub_end]``
    (inclusive) inside the period ``[p_start, p_end]`` (inclusive), in days of
    the chosen day count. The commercial count (30-day months) applies to
    month- and year-based periods; day and week periods always count actual
    days."""
    if day_count not in DAY_COUNTS:
        raise ValueError(f"unknown day count {day_count!r}")
    if not (p_start <= sub_start <= sub_end <= p_end):
        raise ValueError(
            f"interval {sub_start}..{sub_end} is not inside the period {p_start}..{p_end}"
        )
    months = _months_in(unit, interval)
    after_end = sub_end + timedelta(days=1)
    if day_count == "commercial" and months:
        total = 30 * months
        a = days360(p_start, sub_start)
        b = total if sub_end == p_end else days360(p_start, after_end)
        a = min(a, total)
        b = max(min(b, total), a)
        return a, b, total
    total = (p_end - p_start).days + 1
    return (sub_start - p_start).days, (after_end - p_start).days, total


def prorate(amount, a, b, total, quantum="0.01"):
    """Part of ``amount`` for the days ``[a, b)`` of a period of ``total`` days,
    by cumulative rounding: parts of a partition always sum to ``amount``."""
    if total <= 0:
        raise ValueError("a period must have at least one day")
    if not 0 <= a <= b <= total:
        raise ValueError(f"offsets {a}..{b} are outside 0..{total}")
    amount = round_money(amount, quantum)
    if a == 0 and b == total:
        return amount
    hi = amount if b == total else round_money(amount * b / total, quantum)
    lo = round_money(amount * a / total, quantum) if a else Decimal(0) * amount
    return hi - lo


def prorate_interval(
    amount, p_start, p_end, sub_start, sub_end, unit, interval, day_count="actual", quantum="0.01"
):
    """Prorated ``amount`` for ``[sub_start, sub_end]`` inside a period."""
    a, b, total = day_offsets(p_start, p_end, sub_start, sub_end, unit, interval, day_count)
    return prorate(amount, a, b, total, quantum)


def split_amount(amount, parts, quantum="0.01"):
    """Split ``amount`` into ``parts`` installments that add up exactly (the
    extra cents are spread by cumulative rounding)."""
    if not isinstance(parts, int) or parts < 1:
        raise ValueError(f"number of installments must be a positive integer, got {parts!r}")
    return [prorate(amount, i, i + 1, parts, quantum) for i in range(parts)]


def monthly_factor(unit, interval):
    """Factor turning an amount per period into an amount per month."""
    _check_period(unit, interval)
    if unit == "month":
        return Decimal(1) / interval
    if unit == "year":
        return Decimal(1) / (12 * interval)
    days = interval * (7 if unit == "week" else 1)
    return Decimal("365") / 12 / days


def format_br_date(value):
    """``31/01/2026`` (dd/mm/aaaa) for a date; an empty string for none."""
    return value.strftime("%d/%m/%Y") if value else ""


def parse_br_date(text):
    """The date written ``31/01/2026`` (dd/mm/aaaa); ValueError otherwise."""
    return datetime.strptime(text.strip(), "%d/%m/%Y").date()
