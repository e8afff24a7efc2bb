"""Check digits: FEBRABAN modulo 10 and modulo 11, CPF and CNPJ.

Everything here is plain Python (no Odoo import). Check digits are returned as
one-character strings, because they are concatenated onto identifiers and some
banks use a letter (Bradesco's ``P``).

Modulo 11 (``mod11``) is parameterised the way bank manuals describe it:

- ``weights`` are applied cyclically, from the rightmost digit by default
  (``from_right=False`` starts at the leftmost digit, as Sicoob does);
- ``r`` is the weighted sum modulo 11; the raw result is ``11 - r`` (or ``r``
  itself with ``complement=False``);
- ``mapping`` translates raw results that a bank maps specially, typically 10
  and 11, which are not single digits. Example: the boleto general check digit
  is ``mod11(digits, mapping={10: 1, 11: 1})``; Bradesco's our number uses
  weights 2..7 and ``mapping={10: "P", 11: 0}``.

CPF and CNPJ follow the Receita Federal rules, including the alphanumeric CNPJ
that starts in July 2026 (``12.ABC.345/01DE-35``): the first twelve characters
may be digits or upper-case letters, each counting as ``ord(char) - 48`` in the
weighted sums; the two check digits stay numeric. The installed python-stdnum
predates the alphanumeric CNPJ, so the rules are implemented here (stdnum is
used as an oracle in the tests for numeric documents).
"""

import re
from itertools import cycle

WEIGHTS_2_9 = (2, 3, 4, 5, 6, 7, 8, 9)
WEIGHTS_2_7 = (2, 3, 4, 5, 6, 7)

_CPF_WEIGHTS = tuple(range(11, 1, -1))  # 11..2 (the first check digit uses 10..2)
_CNPJ_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)  # the first check digit drops the 6
_SEPARATORS = re.compile(r"[\s./-]")
_CNPJ_RE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")


def digits_only(value, what="number"):
    """``value`` if it is a non-empty string of ASCII digits, else ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string of digits, got {value!r}")
    if not value or not (value.isascii() and value.isdigit()):
        raise ValueError(f"{what} must contain only digits, got {value!r}")
    return value


def mod10(number):
    """FEBRABAN modulo-10 check digit (DV10) of a string of digits.

    Weights 2, 1, 2, 1, ... from the rightmost digit; the digits of each
    product are summed (12 counts as 1 + 2); DV = (10 - sum mod 10) mod 10.
    """
    digits_only(number)
    total = 0
    for position, char in enumerate(reversed(number)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return str((10 - total % 10) % 10)


def weighted_sum(number, weights, from_right=True):
    """Sum of the digits of ``number`` times ``weights`` repeated cyclically."""
    digits_only(number)
    chars = reversed(number) if from_right else iter(number)
    return sum(int(char) * weight for char, weight in zip(chars, cycle(weights)))


def mod11(number, weights=WEIGHTS_2_9, from_right=True, mapping=None, complement=True):
    """Modulo-11 check digit of a string of digits (see the module docstring).

    Raises ValueError when the raw result is not a single digit and
    ``mapping`` does not say what it becomes.
    """
    remainder = weighted_sum(number, weights, from_right) % 11
    value = 11 - remainder if complement else remainder
    if mapping and value in mapping:
        return str(mapping[value])
    if value > 9:
        raise ValueError(f"modulo-11 result {value} of {number!r} has no check-digit mapping")
    return str(value)


# ---------------------------------------------------------------------------
# CPF / CNPJ
# ---------------------------------------------------------------------------


class DocumentError(ValueError):
    """An invalid CPF/CNPJ; ``reason`` says what is wrong, for messages:
    ``length`` (not 11 / 14 characters), ``characters`` (a CPF with a
    non-digit, a CNPJ with a character outside 0-9 A-Z or a letter in its
    check digits), ``repeated`` (one character repeated) or ``check_digits``."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


def compact_document(value):
    """``value`` without spaces and the usual ``. / -`` separators, upper-cased
    (the Receita's letters are A-Z: ``12.abc.345/01de-35`` is read as
    ``12ABC34501DE35``). Characters outside ASCII are refused before
    upper-casing, so that no other alphabet's letter turns into one of A-Z."""
    if not isinstance(value, str):
        raise DocumentError(f"a CPF/CNPJ must be a string, got {value!r}", "characters")
    compact = _SEPARATORS.sub("", value)
    if not compact.isascii():
        raise DocumentError(
            f"a CPF/CNPJ has only digits and letters A-Z, got {value!r}", "characters"
        )
    return compact.upper()


def _receita_digit(values, weights):
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def cpf_check_digits(base):
    """The two check digits of the 9-digit CPF base."""
    digits_only(base, "CPF base")
    if len(base) != 9:
        raise ValueError(f"a CPF base has 9 digits, got {len(base)}")
    values = [int(c) for c in base]
    first = _receita_digit(values, _CPF_WEIGHTS[1:])
    second = _receita_digit([*values, int(first)], _CPF_WEIGHTS)
    return first + second


def validate_cpf(value):
    """Compact form of a valid CPF; ValueError explaining what is wrong otherwise.

    CPFs made of one repeated digit (``111.111.111-11``) pass the check-digit
    arithmetic but are not issued, so they are rejected."""
    number = compact_document(value)
    if not (number.isascii() and number.isdigit()):
        raise DocumentError(f"a CPF has only digits, got {value!r}", "characters")
    if len(number) != 11:
        raise DocumentError(f"a CPF has 11 digits, got {len(number)} in {value!r}", "length")
    if len(set(number)) == 1:
        raise DocumentError(f"{value!r} is not a valid CPF (repeated digit)", "repeated")
    if cpf_check_digits(number[:9]) != number[9:]:
        raise DocumentError(f"{value!r} is not a valid CPF (wrong check digits)", "check_digits")
    return number


def cnpj_check_digits(base):
    """The two check digits of the 12-character CNPJ base (digits or A-Z)."""
    if not isinstance(base, str) or not re.fullmatch(r"[0-9A-Z]{12}", base):
        raise ValueError(f"a CNPJ base has 12 digits or upper-case letters, got {base!r}")
    values = [ord(c) - 48 for c in base]
    first = _receita_digit(values, _CNPJ_WEIGHTS[1:])
    second = _receita_digit([*values, int(first)], _CNPJ_WEIGHTS)
    return first + second


def validate_cnpj(value):
    """Compact form of a valid CNPJ (numeric or alphanumeric), else ValueError."""
    number = compact_document(value)
    if len(number) != 14:
        raise DocumentError(f"a CNPJ has 14 characters, got {len(number)} in {value!r}", "length")
    if not _CNPJ_RE.fullmatch(number):
        raise DocumentError(
            f"a CNPJ has 12 digits or letters followed by 2 check digits, got {value!r}",
            "characters",
        )
    if len(set(number)) == 1:
        raise DocumentError(f"{value!r} is not a valid CNPJ (repeated digit)", "repeated")
    if cnpj_check_digits(number[:12]) != number[12:]:
        raise DocumentError(f"{value!r} is not a valid CNPJ (wrong check digits)", "check_digits")
    return number


def is_valid_cpf(value):
    try:
        validate_cpf(value)
    except ValueError:
        return False
    return True


def is_valid_cnpj(value):
    try:
        validate_cnpj(value)
    except ValueError:
        return False
    return True


def format_cpf(value):
    """``390.533.447-05`` from any valid spelling of the CPF."""
    n = validate_cpf(value)
    return f"{n[:3]}.{n[3:6]}.{n[6:9]}-{n[9:]}"


def format_cnpj(value):
    """``16.727.230/0001-97`` (or ``12.ABC.345/01DE-35``) from a valid CNPJ."""
    n = validate_cnpj(value)
    return f"{n[:2]}.{n[2:5]}.{n[5:8]}/{n[8:12]}-{n[12:]}"


def validate_document(value):
    """``("cpf" | "cnpj", compact)`` for a valid CPF or CNPJ, told apart by length."""
    number = compact_document(value)
    if not number:
        raise DocumentError("no CPF/CNPJ", "missing")
    if len(number) == 11:
        return "cpf", validate_cpf(number)
    if len(number) == 14:
        return "cnpj", validate_cnpj(number)
    raise DocumentError(
        f"{value!r} is neither a CPF (11 digits) nor a CNPJ (14 characters): "
        f"it has {len(number)} characters",
        "length",
    )


def format_document(value):
    """Formatted CPF or CNPJ."""
    kind, number = validate_document(value)
    return format_cpf(number) if kind == "cpf" else format_cnpj(number)
