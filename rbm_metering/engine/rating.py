"""Rating of metered usage: aggregation that SQL cannot do, and pricing.

Plain Python (no Odoo import), exact in :class:`~decimal.Decimal`.

Pricing models (``price_usage``):

- ``per_unit``: every billable unit at ``unit_price``;
- ``allowance``: the quantity above ``allowance`` (franquia) at ``overage_price``;
- ``graduated``: each unit at the price of the tier it falls in (plus the flat
  fee of every tier reached);
- ``volume``: every unit at the price of the tier the *total* falls in (plus
  that tier's flat fee);
- ``package``: ``unit_price`` per started block of ``package_size`` units;
- ``percentage``: a ``rate`` (percent) of the amount carried by each event
  (the metric's quantity, a sum of e.g. the ``amount`` property), plus a
  ``fixed_fee`` per event, each event's charge kept between ``event_min``
  and ``event_max``, the first ``free_events`` events free and the
  ``allowance`` as the free amount of the period (see :func:`percentage_parts`);
- ``graduated_percentage``: the period's amount split into tiers, each tier's
  share at the tier's ``rate`` (percent) plus its flat fee once the tier is
  reached (see :func:`graduated_percentage_parts`).

The percentage models follow Lago's "Percentage" and "Graduated percentage"
charge models (getlago.com/docs/guide/plans/charges/charge-models/percentage
and .../graduated-percentage).

For every model an ``allowance`` is deducted first (free units; for
``percentage`` the free amount, deducted event by event), and a ``minimum``
charge applies last. Nothing is rounded before the total: the exact parts are
added and the sum is rounded once to the currency. Tiers are ``(from_qty, to_qty, price, flat_fee)``
with ``to_qty`` ``None`` for the last, open-ended tier; a tier covers the
quantities ``(from_qty, to_qty]``.
"""

from collections import namedtuple
from datetime import UTC, datetime, time
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...rbm_recurring.engine import money
from ...rbm_recurring.engine.money import round_money

AGGREGATIONS = ("sum", "max", "count", "count_unique", "last", "time_weighted_sum")
PRICE_MODELS = (
    "per_unit",
    "allowance",
    "graduated",
    "volume",
    "package",
    "percentage",
    "graduated_percentage",
)
HUNDRED = Decimal(100)
PRORATION_POLICIES = ("prorate", "full")

Tier = namedtuple("Tier", "from_qty to_qty price flat_fee", defaults=(Decimal(0),))
Percentage = namedtuple(
    "Percentage",
    "rate fixed_fee event_min event_max free_events",
    defaults=(Decimal(0), Decimal(0), None, None, 0),
)
Rating = namedtuple("Rating", "quantity billable amount parts")

ZERO = Decimal(0)


def to_decimal(value):
    """:func:`money.to_decimal`, with None (an empty value) as 0."""
    return ZERO if value is None else money.to_decimal(value)


def round_quantity(value, digits=None):
    """Round a quantity to ``digits`` decimals (half up); ``None`` keeps it."""
    value = to_decimal(value)
    if digits is None:
        return value
    return money.round_digits(value, digits)


# ------------------------------------------------------------
# AGGREGATION
# ------------------------------------------------------------


def last_value(events):
    """Quantity of the latest event of ``(timestamp, quantity)`` pairs (the
    later one wins on equal timestamps, in input order); 0 without events."""
    result = None
    for timestamp, quantity in events:
        if result is None or timestamp >= result[0]:
            result = (timestamp, quantity)
    return to_decimal(result[1]) if result else ZERO


def time_weighted_sum(events, start, end, initial=0, unit_seconds=None):
    """Integral of a level over ``[start, end)``, in ``quantity x unit``.

    ``events`` are ``(timestamp, level)`` pairs: the level holds from its
    timestamp until the next event (``initial`` before the first one).
    Events before ``start`` only set the level at ``start``; events at or
    after ``end`` are ignored. ``unit_seconds`` is the length of the time unit
    (3600 for GB-hours); ``None`` measures time in periods, so a constant
    level ``L`` over the whole period gives ``L`` (e.g. GB-month)."""
    if end <= start:
        raise ValueError(f"empty interval {start}..{end}")
    span = Decimal(_seconds(end - start))
    unit = span if unit_seconds is None else Decimal(unit_seconds)
    level = to_decimal(initial)
    cursor = start
    total = ZERO
    for timestamp, quantity in sorted(events, key=lambda e: e[0]):
        if timestamp >= end:
            break
        if timestamp > cursor:
            total += level * Decimal(_seconds(timestamp - cursor))
            cursor = timestamp
        level = to_decimal(quantity)
    total += level * Decimal(_seconds(end - cursor))
    return total / unit


def _seconds(delta):
    return delta.days * 86400 + delta.seconds + Decimal(delta.microseconds) / 1000000


# ------------------------------------------------------------
# PRICING
# ------------------------------------------------------------


def prorate_allowance(allowance, days, total_days, policy="prorate", digits=None):
    """Allowance for ``days`` of a period of ``total_days`` days: in proportion
    (``prorate``) or whole (``full``)."""
    if policy not in PRORATION_POLICIES:
        raise ValueError(f"unknown allowance policy {policy!r}")
    allowance = to_decimal(allowance)
    if policy == "full" or days >= total_days:
        return allowance
    if total_days <= 0 or days < 0:
        raise ValueError(f"bad day counts {days}/{total_days}")
    return round_quantity(allowance * days / total_days, digits)


def normalize_tiers(tiers):
    """Tiers sorted by their lower bound, as :class:`Tier` of Decimals; checks
    they tile ``[0, +inf)`` without gaps or overlaps."""
    result = sorted(
        (
            Tier(
                to_decimal(t[0]),
                None if t[1] is None or t[1] is False else to_decimal(t[1]),
                to_decimal(t[2]),
                to_decimal(t[3]) if len(t) > 3 else ZERO,
            )
            for t in tiers
        ),
        key=lambda t: t.from_qty,
    )
    if not result:
        raise ValueError("tiered pricing needs at least one tier")
    expected = ZERO
    for index, tier in enumerate(result):
        if tier.from_qty != expected:
            raise ValueError(f"tier {index + 1} starts at {tier.from_qty}, expected {expected}")
        if tier.to_qty is None:
            if index != len(result) - 1:
                raise ValueError("only the last tier may be open-ended")
        elif tier.to_qty <= tier.from_qty:
            raise ValueError(f"tier {index + 1} ends before it starts")
        expected = tier.to_qty
    return result


def graduated_parts(quantity, tiers):
    """Exact (unrounded) charge of each tier for ``quantity`` (graduated)."""
    quantity = to_decimal(quantity)
    parts = []
    for tier in normalize_tiers(tiers):
        if quantity <= tier.from_qty:
            break
        top = quantity if tier.to_qty is None else min(quantity, tier.to_qty)
        units = max(top - tier.from_qty, ZERO)
        parts.append(units * tier.price + tier.flat_fee)
    return parts


def volume_tier(quantity, tiers):
    """The tier the whole ``quantity`` falls in (the first one for 0)."""
    quantity = to_decimal(quantity)
    tiers = normalize_tiers(tiers)
    for tier in tiers:
        if tier.to_qty is None or quantity <= tier.to_qty:
            return tier
    return tiers[-1]


def percentage_needs_events(percentage):
    """Whether the ``percentage`` terms need each event's amount (a per-event
    minimum or maximum, or free events); otherwise the period's total amount
    and event count are enough."""
    if percentage is None:
        return False
    return bool(percentage.event_min is not None or percentage.event_max is not None) or bool(
        percentage.free_events
    )


def percentage_parts(percentage, amounts=None, total=0, count=0, free_amount=0):
    """Exact (unrounded) charge of the percentage model, Lago's "Percentage"
    charge model: ``rate`` percent of the amount, plus ``fixed_fee`` per event.

    - ``free_events``: the first N events (in the order given: timestamp
      order) are free: neither the rate nor the fixed fee applies to them
      (Lago's free units per events);
    - ``free_amount``: the first part of the period's amount is free of the
      rate (Lago's free units per total aggregation); the fixed fee still
      applies. When both are set the free part ends at whichever comes first
      (the first 3 events *or* the first R$ 500,00): an event past the N-th
      is charged in full, and an event crossing the free amount pays the rate
      on its excess and the fixed fee;
    - ``event_min`` / ``event_max``: each charged event costs at least / at
      most this much (rate + fixed fee together); a free event costs nothing.

    ``amounts`` are the events' amounts, needed when a per-event rule is set
    (:func:`percentage_needs_events`); without them ``total`` and ``count``
    are used. Returns a list of exact parts (one per event, or two)."""
    rate = to_decimal(percentage.rate) / HUNDRED
    fixed = to_decimal(percentage.fixed_fee)
    free_left = to_decimal(free_amount)
    if amounts is None:
        if percentage_needs_events(percentage):
            raise ValueError("per-event percentage rules need the events' amounts")
        total = to_decimal(total)
        return [max(total - free_left, ZERO) * rate, Decimal(count) * fixed]
    low = None if percentage.event_min is None else to_decimal(percentage.event_min)
    high = None if percentage.event_max is None else to_decimal(percentage.event_max)
    free_events = int(percentage.free_events or 0)
    if not free_events:
        # the usual case, kept lean: one pass, no free events
        parts = []
        append = parts.append
        for amount in map(to_decimal, amounts):
            if free_left:
                free_part = min(amount, free_left)
                free_left -= free_part
                charge = (amount - free_part) * rate + fixed
            else:
                charge = amount * rate + fixed
            if low is not None and charge < low:
                charge = low
            if high is not None and charge > high:
                charge = high
            append(charge)
        return parts
    parts = []
    for index, amount in enumerate(amounts):
        amount = to_decimal(amount)
        if free_events and index >= free_events:
            free_part = ZERO
            free_left = ZERO  # the free window is over
        elif free_events:
            free_part = amount if not free_amount else min(amount, free_left)
        else:
            free_part = min(amount, free_left)
        free_left -= min(free_part, free_left)
        if free_events and index < free_events and free_part == amount:
            parts.append(ZERO)  # a free event
            continue
        charge = (amount - free_part) * rate + fixed
        if low is not None:
            charge = max(charge, low)
        if high is not None:
            charge = min(charge, high)
        parts.append(charge)
    return parts


def graduated_percentage_parts(amount, tiers):
    """Exact charge of each tier for the period's ``amount``, Lago's
    "Graduated percentage" model: the amount fills the tiers in order, each
    tier's share at the tier's rate (``price``, in percent), plus the tier's
    flat fee once the tier is reached."""
    return [
        part
        for part in graduated_parts(
            amount,
            [(t.from_qty, t.to_qty, t.price / HUNDRED, t.flat_fee) for t in normalize_tiers(tiers)],
        )
    ]


def package_count(quantity, package_size):
    """Number of started packages of ``package_size`` units."""
    size = to_decimal(package_size)
    if size <= 0:
        raise ValueError("the package size must be positive")
    quantity = to_decimal(quantity)
    if quantity <= 0:
        return 0
    return int((quantity / size).to_integral_value(rounding=ROUND_CEILING))


def price_usage(
    quantity,
    model="per_unit",
    unit_price=0,
    allowance=0,
    overage_price=0,
    tiers=(),
    package_size=1,
    minimum=0,
    quantum="0.01",
    percentage=None,
    amounts=None,
    count=0,
):
    """Price ``quantity`` with a pricing model; returns a :class:`Rating`
    (quantity, billable quantity after the allowance, amount rounded to
    ``quantum`` once, exact parts before the minimum). ``percentage`` (a
    :class:`Percentage`), ``amounts`` (each event's amount, in timestamp
    order) and ``count`` (events) are for the ``percentage`` model."""
    if model not in PRICE_MODELS:
        raise ValueError(f"unknown price model {model!r}")
    quantity = to_decimal(quantity)
    if quantity < 0:
        raise ValueError("a usage quantity cannot be negative")
    billable = max(quantity - to_decimal(allowance), ZERO)
    if model == "per_unit":
        parts = [billable * to_decimal(unit_price)]
    elif model == "allowance":
        parts = [billable * to_decimal(overage_price)]
    elif model == "graduated":
        parts = graduated_parts(billable, tiers) if billable else []
    elif model == "volume":
        if billable:
            tier = volume_tier(billable, tiers)
            parts = [billable * tier.price + tier.flat_fee]
        else:
            parts = []
    elif model == "package":
        parts = [package_count(billable, package_size) * to_decimal(unit_price)]
    elif model == "graduated_percentage":
        parts = graduated_percentage_parts(billable, tiers) if billable else []
    else:
        parts = percentage_parts(
            percentage or Percentage(),
            amounts=amounts,
            total=quantity,
            count=count,
            free_amount=allowance,
        )
    amount = round_money(sum(parts, ZERO), quantum)
    amount = max(amount, round_money(to_decimal(minimum), quantum))
    return Rating(quantity, billable, amount, parts)


# ------------------------------------------------------------
# FORMATTING
# ------------------------------------------------------------

# separators (decimal point, thousands) by language prefix; the rest as en_US
SEPARATORS = {
    "pt": (",", "."),
    "es": (",", "."),
    "de": (",", "."),
    "it": (",", "."),
    "fr": (",", "\N{NO-BREAK SPACE}"),
}
ALLOWANCE_WORDS = {"pt": "franquia", "es": "franquicia", "en": "allowance"}


def separators(lang):
    return SEPARATORS.get((lang or "en_US")[:2], (".", ","))


def format_quantity(
    value, lang="pt_BR", max_digits=3, decimal_point=None, thousands_sep=None, min_digits=0
):
    """``1234.5`` as ``1.234,5`` (pt_BR) or ``1,234.5`` (en_US): grouped
    thousands, at most ``max_digits`` decimals, trailing zeros dropped (down
    to ``min_digits`` decimals)."""
    point, sep = separators(lang)
    point = decimal_point if decimal_point is not None else point
    sep = thousands_sep if thousands_sep is not None else sep
    value = round_quantity(value, max_digits)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):.{max_digits}f}"
    whole, _dot, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min(min_digits, max_digits), "0")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + sep.join(groups) + (point + frac if frac else "")


def format_unit_price(value, lang="pt_BR", max_digits=6, decimal_point=None, thousands_sep=None):
    """A price per unit with all its decimals and at least two:
    ``0.000125`` as ``0,000125``, ``0.5`` as ``0,50`` (pt_BR)."""
    return format_quantity(value, lang, max_digits, decimal_point, thousands_sep, min_digits=2)


def format_usage(
    quantity,
    unit,
    allowance=None,
    lang="pt_BR",
    max_digits=3,
    word=None,
    decimal_point=None,
    thousands_sep=None,
):
    """``1.234,5 GB — franquia 1.000 GB`` (the allowance part only when there
    is one)."""
    seps = {"decimal_point": decimal_point, "thousands_sep": thousands_sep}
    text = _with_unit(format_quantity(quantity, lang, max_digits, **seps), unit)
    if allowance:
        word = word or ALLOWANCE_WORDS.get((lang or "en")[:2], ALLOWANCE_WORDS["en"])
        allowance_text = _with_unit(format_quantity(allowance, lang, max_digits, **seps), unit)
        text = f"{text} \N{EM DASH} {word} {allowance_text}"
    return text


def _with_unit(number, unit):
    return f"{number} {unit}" if unit else number


def parse_timestamp(value):
    """ISO 8601 text (``Z`` or an offset, or naive = UTC) as a naive UTC
    datetime; raises ValueError."""
    if not isinstance(value, str) or not value:
        raise ValueError("timestamp must be an ISO 8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = (parsed - parsed.utcoffset()).replace(tzinfo=None)
    return parsed


@lru_cache(maxsize=1024)
def get_zone(tz_name):
    """The time zone named ``tz_name`` (IANA, e.g. ``America/Sao_Paulo``);
    UTC when empty, ``UTC`` or unknown."""
    if not tz_name or tz_name in ("UTC", "Etc/UTC"):
        return UTC
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@lru_cache(maxsize=65536)
def day_start_utc(day, tz_name):
    """Naive UTC datetime at which the local ``day`` begins in ``tz_name``
    (its local midnight; when a daylight-saving change skips midnight, the
    first local instant of the day)."""
    zone = get_zone(tz_name)
    if zone is UTC:
        return datetime.combine(day, time.min)
    # fold=0: a skipped midnight resolves with the offset before the jump,
    # i.e. the first instant of the day; a repeated one to its first occurrence
    local = datetime.combine(day, time.min, tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def local_day(timestamp, tz_name):
    """Local date in ``tz_name`` of the naive UTC ``timestamp``."""
    zone = get_zone(tz_name)
    if zone is UTC:
        return timestamp.date()
    return timestamp.replace(tzinfo=UTC).astimezone(zone).date()


def parse_quantity(value):
    """A JSON number or a numeric string as a finite Decimal; raises ValueError."""
    if isinstance(value, bool) or value is None:
        raise ValueError("quantity must be a number")
    if isinstance(value, (int, float, Decimal)):
        result = to_decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except ArithmeticError as error:
            raise ValueError("quantity must be a number") from error
    else:
        raise ValueError("quantity must be a number")
    if not result.is_finite():
        raise ValueError("quantity must be a finite number")
    if result < 0:
        raise ValueError("quantity must not be negative")
    return result
