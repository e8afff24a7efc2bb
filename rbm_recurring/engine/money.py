"""Money arithmetic and its Brazilian text form (no Odoo import).

One copy of what every addon's engine and models need about amounts:

- :func:`to_decimal`: the exact ``Decimal`` of a number, a float by its
  shortest representation (``0.1`` is ``Decimal("0.1")``, never
  ``0.1000000000000000055...``);
- :func:`round_money`, :func:`round_digits`: rounding half away from zero to
  a currency quantum (``0.01``) or to a number of decimals;
- :func:`to_cents`, :func:`from_cents`, :func:`is_whole_cents`: integer cents
  as bank files, barcodes and gateways carry them;
- :func:`fixed`: the ``Decimal`` of a float the currency already rounded,
  with the currency's decimals (``12.5`` with 2 decimals is ``12.50``);
- :func:`format_br_amount`, :func:`parse_br_amount`, :func:`format_br_rate`:
  ``1.234,56`` and ``2,5`` as printed on boletos and bank instructions.

Addons' engines import it relatively (``from ...rbm_recurring.engine import
money``): inside Odoo that is ``odoo.addons.rbm_recurring.engine.money``, in
the plain tests the same layout is rebuilt by ``tests/conftest.py``.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)

_BR_AMOUNT = re.compile(r"-?(\d{1,3}(\.\d{3})*|\d+)(,\d+)?")


def to_decimal(value):
    """``value`` (Decimal, int, str or float) as a Decimal; a float by its
    ``repr`` (exact to what was typed). Raises what ``Decimal`` raises for
    anything else (``InvalidOperation``, ``TypeError``)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def round_money(value, quantum=CENT):
    """``value`` rounded half away from zero to a multiple of ``quantum``
    (``0.01``, ``0.05``, ``1``...)."""
    q = to_decimal(quantum)
    return (to_decimal(value) / q).quantize(Decimal(1), rounding=ROUND_HALF_UP) * q


def round_digits(value, digits):
    """``value`` rounded half away from zero to ``digits`` decimals, with
    exactly ``digits`` decimals (``round_digits(2, 2)`` is ``2.00``)."""
    return to_decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def fixed(value, digits):
    """The Decimal of ``value`` written with ``digits`` decimals: for a float
    already rounded by its currency (``12.5`` with 2 digits is ``12.50``)."""
    return Decimal(f"{value:.{digits}f}")


def is_whole_cents(value):
    """Whether the Decimal ``value`` has no fraction of a cent."""
    cents = value * HUNDRED
    return cents == cents.to_integral_value()


def to_cents(value):
    """Integer cents of ``value``, rounded half away from zero."""
    return int((to_decimal(value) * HUNDRED).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents):
    """The amount of ``cents`` (an int or a string of digits), two decimals."""
    return Decimal(int(cents)).scaleb(-2)


def format_br_amount(value):
    """``1.234,56``: two decimals, dot for thousands, comma for decimals."""
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def parse_br_amount(text):
    """The Decimal of ``1.234,56``, ``1234,56`` or ``1234``; ValueError otherwise."""
    text = (text or "").strip()
    if not _BR_AMOUNT.fullmatch(text):
        raise ValueError(f"not an amount written 1.234,56: {text!r}")
    return Decimal(text.replace(".", "").replace(",", "."))


def format_br_rate(rate):
    """A percentage as written in bank instructions: ``2,5`` (no trailing zeros)."""
    return f"{Decimal(str(rate)).normalize():f}".replace(".", ",")
