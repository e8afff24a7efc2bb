"""FEBRABAN boleto: due-date factor, barcode, typeable line, per-bank free field.

Everything here is plain Python (no Odoo import).

Terms (code name — FEBRABAN term):

- barcode — código de barras (44 digits);
- typeable line — linha digitável (47 digits);
- free field — campo livre (barcode positions 20–44, bank-specific);
- our number — nosso número (the bank's id of the boleto), with its check digit;
- factor — fator de vencimento (due-date factor).

Barcode (positions 1-based): 1–3 bank, 4 currency (``9`` = real), 5 general
check digit, 6–9 due-date factor, 10–19 amount in cents, 20–44 free field.

The due-date factor counts days since 1997-10-07 (1000 = 2000-07-03,
9999 = 2025-02-21) and restarts at 1000 on 2025-02-22. Decoding a factor needs
a reference date: the due date is the candidate within 3000 days before and
5500 days after it.

Each bank's free field and our number are *data* (``BANKS``): the input fields
with their number of digits, check digits computed from templates of those
fields, and the free-field template. Templates are space-separated tokens: a
field name, a 1-based inclusive slice of one (``our_number[3:5]``), or a literal
(``000``; punctuation such as ``/`` or ``-`` in our-number display templates).
Parsing a free field reads the same template backwards and recomputes every
check digit.

A bank may have several free-field layouts (``LAYOUTS``): Banco do Brasil by
the number of digits of its convênio, Caixa by the length of the código do
beneficiário, Itaú by carteira. ``layout_for`` picks the one that applies to
the inputs; parsing tries each in turn. A free field that follows none of
them is reported as an unknown layout (``UnknownLayoutError``), not as a
wrong check digit.
"""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial

from ...rbm_recurring.engine import money
from .checkdigits import WEIGHTS_2_7, digits_only, mod10, mod11

BASE_DATE = date(1997, 10, 7)
RESET_DATE = date(2025, 2, 22)  # factor 1000 again
FIRST_DATE = date(2000, 7, 3)  # factor 1000 the first time
FACTOR_CYCLE = 9000
DAYS_BEFORE = 3000
DAYS_AFTER = 5500
MAX_AMOUNT = Decimal("99999999.99")
CURRENCY_REAL = "9"


class BoletoError(ValueError):
    """Invalid boleto data; ``field`` names the offending part."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownLayoutError(BoletoError):
    """A free field that follows none of the bank's known layouts."""

    def __init__(self, message):
        super().__init__("layout", message)


# ---------------------------------------------------------------------------
# Due-date factor and amount
# ---------------------------------------------------------------------------


def due_date_factor(due_date):
    """Factor (1000..9999) of ``due_date``; 0 when there is no due date."""
    if due_date is None:
        return 0
    if due_date < FIRST_DATE:
        raise BoletoError("due_date", f"{due_date} is before {FIRST_DATE} (factor 1000)")
    factor = (due_date - BASE_DATE).days
    while factor > 9999:
        factor -= FACTOR_CYCLE
    return factor


def due_date_from_factor(factor, today):
    """Due date of ``factor``: the candidate within 3000 days before and 5500
    days after ``today``. None for factor 0 (no due date)."""
    if isinstance(factor, str):
        factor = int(digits_only(factor, "due-date factor"))
    if factor == 0:
        return None
    if not 1000 <= factor <= 9999:
        raise BoletoError("factor", f"a due-date factor is 0 or 1000..9999, got {factor}")
    low = (today - BASE_DATE).days - DAYS_BEFORE
    high = (today - BASE_DATE).days + DAYS_AFTER
    cycles = max(0, -(-(low - factor) // FACTOR_CYCLE))  # ceil division
    days = factor + cycles * FACTOR_CYCLE
    if days > high:
        raise BoletoError(
            "factor", f"factor {factor} gives no due date within -3000/+5500 days of {today}"
        )
    return BASE_DATE + timedelta(days=days)


def to_cents(amount):
    """Integer cents of ``amount`` (Decimal, int, str or float), validated for a
    boleto: 0 <= amount <= 99,999,999.99, at most two decimal places."""
    try:
        value = money.to_decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise BoletoError("amount", f"not a number: {amount!r}") from None
    if not value.is_finite():
        raise BoletoError("amount", f"not a number: {amount!r}")
    if value < 0:
        raise BoletoError("amount", f"must not be negative, got {value}")
    if value > MAX_AMOUNT:
        raise BoletoError("amount", f"{value} exceeds the boleto maximum of {MAX_AMOUNT}")
    if not money.is_whole_cents(value):
        raise BoletoError("amount", f"{value} has more than two decimal places")
    return money.to_cents(value)


# ---------------------------------------------------------------------------
# Barcode and typeable line
# ---------------------------------------------------------------------------

general_check_digit = partial(mod11, mapping={0: 1, 10: 1, 11: 1})
general_check_digit.__doc__ = "Barcode check digit: mod 11, weights 2..9; 0, 10, 11 become 1."


def barcode(bank, due_date, amount, free_field, currency=CURRENCY_REAL):
    """44-digit barcode from its parts (``free_field`` has 25 digits)."""
    _expect_digits("bank", bank, 3)
    _expect_digits("free_field", free_field, 25)
    if currency != CURRENCY_REAL:
        raise BoletoError(
            "currency", f"only {CURRENCY_REAL!r} (real) is supported, got {currency!r}"
        )
    body = f"{due_date_factor(due_date):04d}{to_cents(amount):010d}{free_field}"
    dv = general_check_digit(f"{bank}{currency}{body}")
    return f"{bank}{currency}{dv}{body}"


def typeable_line(code, formatted=True):
    """Typeable line (linha digitável) of a 44-digit barcode.

    ``AAAAA.AAAAA BBBBB.BBBBBB CCCCC.CCCCCC D EEEEFFFFFFFFFF`` when formatted,
    47 digits otherwise."""
    _expect_digits("barcode", code, 44)
    _check_general_digit(code)
    field1 = code[0:4] + code[19:24]
    field2 = code[24:34]
    field3 = code[34:44]
    field1, field2, field3 = (f + mod10(f) for f in (field1, field2, field3))
    if not formatted:
        return field1 + field2 + field3 + code[4] + code[5:19]
    return (
        f"{field1[:5]}.{field1[5:]} {field2[:5]}.{field2[5:]} "
        f"{field3[:5]}.{field3[5:]} {code[4]} {code[5:19]}"
    )


def barcode_from_typeable_line(line):
    """44-digit barcode of a typeable line (formatted or not), checking every
    check digit."""
    digits = normalize_code(line)
    _expect_digits("typeable line", digits, 47)
    for number, start, end in ((1, 0, 9), (2, 10, 20), (3, 21, 31)):
        body, dv = digits[start:end], digits[end]
        if mod10(body) != dv:
            raise BoletoError(
                f"field {number}", f"check digit is {dv}, expected {mod10(body)} ({line!r})"
            )
    code = digits[0:4] + digits[32] + digits[33:47] + digits[4:9] + digits[10:20] + digits[21:31]
    _check_general_digit(code)
    return code


def normalize_code(value):
    """Digits of a barcode or typeable line typed with spaces, dots or dashes."""
    if not isinstance(value, str):
        raise BoletoError("code", f"must be a string, got {value!r}")
    stripped = re.sub(r"[\s.\-]", "", value)
    bad = sorted({c for c in stripped if not ("0" <= c <= "9")})
    if bad:
        raise BoletoError("code", f"contains non-digit characters {''.join(bad)!r}")
    return stripped


def _expect_digits(name, value, length):
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        raise BoletoError(name, f"must contain only digits, got {value!r}")
    if len(value) != length:
        raise BoletoError(name, f"must have {length} digits, got {len(value)}")


def _check_general_digit(code):
    expected = general_check_digit(code[:4] + code[5:])
    if code[4] != expected:
        raise BoletoError("general check digit", f"is {code[4]}, expected {expected}")
    if code[3] != CURRENCY_REAL:
        raise BoletoError(
            "currency", f"only {CURRENCY_REAL!r} (real) is supported, got {code[3]!r}"
        )


# ---------------------------------------------------------------------------
# Per-bank free field and our number (data)
# ---------------------------------------------------------------------------


_TOKEN = re.compile(r"(?P<name>[a-z_]+)(?:\[(?P<start>\d+)(?::(?P<end>\d+))?\])?")


def _tokens(template):
    """(name, start, end) for field tokens, (None, literal, None) for literals."""
    for token in template.split():
        match = _TOKEN.fullmatch(token)
        if not match:
            yield None, token, None
            continue
        start = match["start"]
        end = match["end"] or start
        yield match["name"], int(start) if start else None, int(end) if end else None


@dataclass(frozen=True)
class Check:
    """A check digit computed by ``function`` over the digits of ``source``
    (a template of fields and literals)."""

    function: object
    source: str


@dataclass(frozen=True)
class Variant:
    """Checks replaced when ``field`` has one of ``values`` (e.g. Itaú carteiras
    whose our-number DAC leaves out agência and conta)."""

    field: str
    values: tuple
    checks: dict


@dataclass(frozen=True)
class BankLayout:
    """Free field (campo livre) and our number (nosso número) of one bank.

    ``fields`` maps each input to its number of digits (shorter inputs are
    zero-padded on the left). ``checks`` are computed in order and may use
    earlier checks. ``free_field`` is the 25-digit template, or 24 digits when
    ``free_field_check`` appends a check digit over them. ``our_number`` is the
    display template. ``choices`` restricts inputs to listed values;
    ``unsupported`` lists values with another free-field layout.

    ``variant`` names the layout among its bank's layouts; ``applies`` (a
    function of the raw inputs, None for any) tells when it is the one to
    use. ``check_fields`` are inputs used only by a check digit printed
    outside the barcode (Itaú's our-number DAC of the "seu número"
    carteiras): they are not read back from a free field."""

    code: str
    name: str
    fields: dict
    free_field: str
    our_number: str
    checks: dict = field(default_factory=dict)
    free_field_check: object = None
    defaults: dict = field(default_factory=dict)
    choices: dict = field(default_factory=dict)
    unsupported: dict = field(default_factory=dict)
    variants: tuple = ()
    variant: str = ""
    applies: object = None
    check_fields: tuple = ()

    def __post_init__(self):
        # every input must be readable back from the free field, and the
        # template must add up to 25 digits
        names = set(self.fields) | set(self.checks)
        width = 0
        seen = set()
        for name, start, end in _tokens(self.free_field):
            if name is None:
                width += len(start)
                continue
            if name not in names:
                raise ValueError(f"bank {self.code}: unknown field {name!r} in the free field")
            seen.add(name)
            size = self.fields.get(name, 1)
            width += size if start is None else end - start + 1
        width += 1 if self.free_field_check else 0
        if width != 25:
            raise ValueError(f"bank {self.code}: free field template has {width} digits, not 25")
        if set(self.fields) - seen - set(self.check_fields):
            missing = ", ".join(sorted(set(self.fields) - seen - set(self.check_fields)))
            raise ValueError(f"bank {self.code}: {missing} missing from the free field")


mod11_zero = partial(mod11, mapping={10: 0, 11: 0})
mod11_zero.__doc__ = "mod 11, weights 2..9, DV = 11 - r, 10 and 11 become 0."

mod11_bb = partial(mod11, weights=(9, 8, 7, 6, 5, 4, 3, 2), complement=False, mapping={10: "X"})
mod11_bb.__doc__ = "Banco do Brasil: mod 11, weights 9..2 from the right, DV = r, 10 becomes X."


@dataclass(frozen=True)
class When:
    """When a layout applies: input ``field`` has a number of significant
    digits (leading zeros left out) in ``digits``, or a value in ``values``."""

    field: str
    digits: tuple = ()
    values: tuple = ()

    def __call__(self, inputs):
        value = str(inputs.get(self.field) or "")
        if self.values:
            return value.zfill(len(self.values[0])) in self.values
        return len(value.lstrip("0")) in self.digits

    def describe(self):
        if self.values:
            return ", ".join(self.values)
        return " or ".join(str(d) for d in self.digits) + " digits"


_ITAU_SEU_NUMERO = ("106", "107", "122", "142", "143", "195", "196", "198")

LAYOUTS = {}
for _layout in (
    BankLayout(
        code="001",
        name="Banco do Brasil (convênio de 7 dígitos, carteira 17/18)",
        fields={"agreement": 7, "sequence": 10, "portfolio": 2},
        free_field="000000 agreement sequence portfolio",
        our_number="agreement sequence",
        variant="agreement7",
        applies=When("agreement", digits=(7,)),
    ),
    BankLayout(
        # convênio of 6 digits, our number of 11 (convênio + 5-digit sequence)
        # with a check digit printed beside it, not in the barcode
        code="001",
        name="Banco do Brasil (convênio de 6 dígitos)",
        fields={"agreement": 6, "sequence": 5, "branch": 4, "account": 8, "portfolio": 2},
        checks={"our_number_digit": Check(mod11_bb, "agreement sequence")},
        free_field="agreement sequence branch account portfolio",
        our_number="agreement sequence - our_number_digit",
        variant="agreement6",
        applies=When("agreement", digits=(6,)),
    ),
    BankLayout(
        # convênio of 4 digits, our number of 11 (convênio + 7-digit sequence)
        code="001",
        name="Banco do Brasil (convênio de 4 dígitos)",
        fields={"agreement": 4, "sequence": 7, "branch": 4, "account": 8, "portfolio": 2},
        checks={"our_number_digit": Check(mod11_bb, "agreement sequence")},
        free_field="agreement sequence branch account portfolio",
        our_number="agreement sequence - our_number_digit",
        variant="agreement4",
        applies=When("agreement", digits=(1, 2, 3, 4)),
    ),
    BankLayout(
        code="033",
        name="Santander",
        fields={"beneficiary_code": 7, "our_number": 12, "portfolio": 3},
        checks={"our_number_digit": Check(mod11_zero, "our_number")},
        free_field="9 beneficiary_code our_number our_number_digit 0 portfolio",
        our_number="our_number - our_number_digit",
        choices={"portfolio": ("101", "102", "201")},
    ),
    BankLayout(
        code="104",
        name="Caixa Econômica Federal (SIGCB)",
        # our number: modalidade (1 registrada) + emissão (4 beneficiário) + 15 digits
        fields={"beneficiary_code": 6, "our_number": 17},
        checks={
            "beneficiary_digit": Check(mod11_zero, "beneficiary_code"),
            "our_number_digit": Check(mod11_zero, "our_number"),
        },
        free_field=(
            "beneficiary_code beneficiary_digit our_number[3:5] our_number[1]"
            " our_number[6:8] our_number[2] our_number[9:17]"
        ),
        free_field_check=mod11_zero,
        our_number="our_number - our_number_digit",
        variant="beneficiary6",
        applies=When("beneficiary_code", digits=(1, 2, 3, 4, 5, 6)),
    ),
    BankLayout(
        # código do beneficiário of 7 digits (from 1100000): barcode positions
        # 20-26 hold it without a check digit; the rest as with 6 digits
        code="104",
        name="Caixa Econômica Federal (SIGCB, beneficiário de 7 dígitos)",
        fields={"beneficiary_code": 7, "our_number": 17},
        checks={"our_number_digit": Check(mod11_zero, "our_number")},
        free_field=(
            "beneficiary_code our_number[3:5] our_number[1]"
            " our_number[6:8] our_number[2] our_number[9:17]"
        ),
        free_field_check=mod11_zero,
        our_number="our_number - our_number_digit",
        variant="beneficiary7",
        applies=When("beneficiary_code", digits=(7,)),
    ),
    BankLayout(
        code="237",
        name="Bradesco",
        fields={"branch": 4, "portfolio": 2, "our_number": 11, "account": 7},
        checks={
            "our_number_digit": Check(
                partial(mod11, weights=WEIGHTS_2_7, mapping={10: "P", 11: 0}),
                "portfolio our_number",
            )
        },
        free_field="branch portfolio our_number account 0",
        our_number="portfolio / our_number - our_number_digit",
    ),
    BankLayout(
        code="341",
        name="Itaú",
        fields={"portfolio": 3, "our_number": 8, "branch": 4, "account": 5},
        checks={
            "our_number_digit": Check(mod10, "branch account portfolio our_number"),
            "account_digit": Check(mod10, "branch account"),
        },
        free_field="portfolio our_number our_number_digit branch account account_digit 000",
        our_number="portfolio / our_number - our_number_digit",
        variants=(
            Variant(
                "portfolio",
                ("112", "126", "131", "146", "150", "168"),
                {"our_number_digit": Check(mod10, "portfolio our_number")},
            ),
        ),
        # these carteiras put seu número + código do cliente in the free field
        unsupported={"portfolio": _ITAU_SEU_NUMERO},
    ),
    BankLayout(
        # carteiras with "seu número" (7) and código do cliente (5) in the
        # free field, closed by a DAC over them; the our-number DAC printed on
        # the boleto still covers agência and conta, which the barcode lacks
        code="341",
        name="Itaú (carteiras com seu número)",
        fields={
            "portfolio": 3,
            "our_number": 8,
            "your_number": 7,
            "client_code": 5,
            "branch": 4,
            "account": 5,
        },
        checks={
            "free_field_digit": Check(mod10, "portfolio our_number your_number client_code"),
            "our_number_digit": Check(mod10, "branch account portfolio our_number"),
        },
        free_field="portfolio our_number your_number client_code free_field_digit 0",
        our_number="portfolio / our_number - our_number_digit",
        choices={"portfolio": _ITAU_SEU_NUMERO},
        variant="your_number",
        applies=When("portfolio", values=_ITAU_SEU_NUMERO),
        check_fields=("branch", "account"),
    ),
    BankLayout(
        code="748",
        name="Sicredi",
        # our number: YY + byte (2..9) + 5-digit sequence, then its check digit
        fields={
            "charge_type": 1,
            "our_number": 8,
            "branch": 4,
            "post": 2,
            "beneficiary_code": 5,
        },
        checks={"our_number_digit": Check(mod11_zero, "branch post beneficiary_code our_number")},
        free_field=("charge_type 1 our_number our_number_digit branch post beneficiary_code 1 0"),
        free_field_check=mod11_zero,
        our_number="our_number[1:2] / our_number[3:8] - our_number_digit",
        defaults={"charge_type": "1"},
        choices={"charge_type": ("1", "3")},
    ),
    BankLayout(
        code="756",
        name="Sicoob",
        fields={
            "portfolio": 1,
            "cooperative": 4,
            "modality": 2,
            "beneficiary_code": 7,
            "our_number": 7,
            "installment": 3,
        },
        checks={
            "our_number_digit": Check(
                partial(mod11, weights=(3, 1, 9, 7), from_right=False, mapping={10: 0, 11: 0}),
                "cooperative 000 beneficiary_code our_number",
            )
        },
        free_field=(
            "portfolio cooperative modality beneficiary_code our_number our_number_digit"
            " installment"
        ),
        our_number="our_number - our_number_digit",
        defaults={"portfolio": "1", "modality": "01", "installment": "001"},
    ),
):
    LAYOUTS.setdefault(_layout.code, []).append(_layout)
LAYOUTS = {code: tuple(layouts) for code, layouts in LAYOUTS.items()}

# the first (usual) layout of each bank
BANKS = {code: layouts[0] for code, layouts in LAYOUTS.items()}


def _render(template, values):
    """``template`` filled from ``values``; None when a field it names is
    missing (a check digit that a free field alone cannot give)."""
    parts = []
    for name, start, end in _tokens(template):
        if name is None:
            parts.append(start)
        elif name not in values:
            return None
        elif start is None:
            parts.append(values[name])
        else:
            parts.append(values[name][start - 1 : end])
    return "".join(parts)


def get_layout(bank):
    """The usual free-field layout of ``bank`` (its first in ``LAYOUTS``)."""
    try:
        return BANKS[bank]
    except KeyError:
        raise BoletoError(
            "bank", f"no free-field layout for bank {bank!r} (known: {', '.join(sorted(BANKS))})"
        ) from None


def bank_fields(bank):
    """Every input name of ``bank``'s layouts, in layout order."""
    get_layout(bank)
    names = {}
    for layout in LAYOUTS[bank]:
        names.update(dict.fromkeys(layout.fields))
    return tuple(names)


def layout_for(bank, **fields):
    """The layout of ``bank`` that applies to the inputs ``fields``: the
    first whose condition holds, else the bank's layout without one.
    BoletoError naming the deciding input when none applies."""
    layouts = LAYOUTS.get(bank) or (get_layout(bank),)
    conditional = [layout for layout in layouts if layout.applies is not None]
    for layout in conditional:
        if layout.applies(fields):
            return layout
    for layout in layouts:
        if layout.applies is None:
            return layout
    condition = conditional[0].applies
    value = fields.get(condition.field)
    if value in (None, ""):
        raise BoletoError(condition.field, f"is required for {conditional[0].name}")
    known = "; ".join(f"{layout.name}: {layout.applies.describe()}" for layout in conditional)
    raise BoletoError(
        condition.field,
        f"no free-field layout of bank {bank} for {value!r} (known: {known})",
    )


def _checks_for(layout, values):
    checks = dict(layout.checks)
    for variant in layout.variants:
        if values.get(variant.field) in variant.values:
            checks.update(variant.checks)
    return checks


def _validate_inputs(layout, values):
    for name, choices in layout.choices.items():
        if values[name] not in choices:
            raise BoletoError(name, f"must be one of {', '.join(choices)}, got {values[name]!r}")
    for name, rejected in layout.unsupported.items():
        if values[name] in rejected:
            raise BoletoError(
                name, f"{layout.name} {name} {values[name]} uses a free-field layout not supported"
            )


def bank_values(bank, **fields):
    """Inputs of ``bank`` zero-padded, plus every check digit, as a dict.
    Inputs of the bank's other layouts are accepted and left out."""
    known = bank_fields(bank)
    unknown = set(fields) - set(known)
    if unknown:
        raise BoletoError(
            ", ".join(sorted(unknown)),
            f"not a field of {get_layout(bank).name}; expected {', '.join(known)}",
        )
    layout = layout_for(bank, **fields)
    values = {}
    for name, width in layout.fields.items():
        value = fields.get(name, layout.defaults.get(name))
        if value is None or value == "":
            raise BoletoError(name, f"is required for {layout.name}")
        value = str(value) if isinstance(value, int) else value
        if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
            raise BoletoError(name, f"must contain only digits, got {value!r}")
        if len(value) > width:
            raise BoletoError(name, f"has {len(value)} digits, at most {width}")
        values[name] = value.zfill(width)
    _validate_inputs(layout, values)
    for name, check in _checks_for(layout, values).items():
        values[name] = check.function(_render(check.source, values))
    return values


def free_field(bank, **fields):
    """25-digit free field (campo livre) of ``bank``."""
    layout = layout_for(bank, **fields)
    values = bank_values(bank, **fields)
    result = _render(layout.free_field, values)
    if layout.free_field_check:
        result += layout.free_field_check(result)
    if len(result) != 25 or not result.isdigit():
        raise BoletoError("free_field", f"{layout.name} free field is not 25 digits: {result!r}")
    return result


def our_number(bank, **fields):
    """Our number (nosso número) of ``bank`` as printed on the boleto, with its
    check digit."""
    return _render(layout_for(bank, **fields).our_number, bank_values(bank, **fields))


def _decode_free_field(layout, value):
    """Fields and check digits read from a free field; None when its literals
    or inputs do not match (another layout of that bank); BoletoError when a
    check digit is wrong. Check digits over inputs the free field lacks are
    left out."""
    buffers = {}
    position = 0
    for name, start, end in _tokens(layout.free_field):
        if name is None:
            if value[position : position + len(start)] != start:
                return None
            position += len(start)
            continue
        width = layout.fields.get(name, 1)  # checks are one digit
        start, end = (1, width) if start is None else (start, end)
        chunk = value[position : position + end - start + 1]
        buffer = buffers.setdefault(name, [""] * width)
        buffer[start - 1 : end] = list(chunk)
        position += end - start + 1
    values = {name: "".join(chars) for name, chars in buffers.items()}
    fields = {name: values[name] for name in layout.fields if name in values}
    try:
        _validate_inputs(layout, fields)
    except BoletoError:
        return None
    if layout.applies is not None and not layout.applies(fields):
        return None
    if layout.free_field_check:
        body, dv = value[:24], value[24]
        if layout.free_field_check(body) != dv:
            raise BoletoError(
                "free field check digit", f"is {dv}, expected {layout.free_field_check(body)}"
            )
    for name, check in _checks_for(layout, values).items():
        source = _render(check.source, values)
        if source is None:
            continue
        expected = check.function(source)
        if name in values and values[name] != expected:
            raise BoletoError(name, f"is {values[name]}, expected {expected}")
        values[name] = expected
    return values


def _decode_any(bank, value, variant=None):
    """(layout, values) of the first layout of ``bank`` whose free field
    ``value`` follows with every check digit right. UnknownLayoutError when
    it follows none of them; when it follows some but with a wrong check
    digit, the first such BoletoError. ``variant`` restricts the search to
    that layout (a barcode alone cannot tell Banco do Brasil's 4- from its
    6-digit convênios)."""
    layouts = LAYOUTS.get(bank) or (get_layout(bank),)
    if variant is not None:
        layouts = [layout for layout in layouts if layout.variant == variant]
    first_error = None
    for layout in layouts:
        try:
            values = _decode_free_field(layout, value)
        except BoletoError as error:
            first_error = first_error or error
            continue
        if values is not None:
            return layout, values
    if first_error:
        raise first_error
    names = ", ".join(layout.name for layout in layouts)
    raise UnknownLayoutError(f"{value} follows none of the known layouts ({names})")


def parse_free_field(bank, value, variant=None):
    """Fields and check digits of a 25-digit free field, every check digit
    verified (BoletoError naming the field otherwise; UnknownLayoutError when
    the free field follows none of the bank's layouts)."""
    _expect_digits("free_field", value, 25)
    get_layout(bank)
    return _decode_any(bank, value, variant)[1]


# ---------------------------------------------------------------------------
# Whole boleto
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Boleto:
    """A boleto's codes and decoded parts. ``fields``, ``our_number`` and
    ``layout`` (the variant of the bank's layout) are filled when the bank's
    free-field layout is known and matches; ``layout_unknown`` says that the
    bank is known but the free field follows none of its layouts."""

    bank: str
    currency: str
    factor: int
    due_date: date | None
    amount: Decimal
    free_field: str
    barcode: str
    typeable_line: str
    our_number: str | None = None
    fields: dict | None = None
    layout: str | None = None
    layout_unknown: bool = False


def make_boleto(bank, due_date, amount, **fields):
    """Build the boleto of ``bank`` from its free-field inputs (see ``BANKS``)."""
    layout = layout_for(bank, **fields)
    values = bank_values(bank, **fields)
    ff = free_field(bank, **fields)
    code = barcode(bank, due_date, amount, ff)
    return Boleto(
        bank=bank,
        currency=CURRENCY_REAL,
        factor=int(code[5:9]),
        due_date=due_date,
        amount=money.from_cents(to_cents(amount)),
        free_field=ff,
        barcode=code,
        typeable_line=typeable_line(code),
        our_number=_render(layout.our_number, values),
        fields=values,
        layout=layout.variant,
    )


def parse_boleto(code, today=None, variant=None):
    """Decode a barcode (44 digits) or typeable line (47 digits, formatted or
    not), verifying every check digit.

    ``today`` is the reference date for the due-date factor (default: the
    current date). For banks in ``BANKS`` the free field is decoded and its
    check digits verified too; when it follows none of the bank's layouts the
    boleto is returned with ``layout_unknown`` set (not refused). ``variant``
    chooses among the bank's layouts when the barcode alone cannot.
    """
    digits = normalize_code(code)
    if len(digits) == 47:
        bar = barcode_from_typeable_line(digits)
    elif len(digits) == 44:
        bar = digits
        _check_general_digit(bar)
    elif len(digits) == 48:
        raise BoletoError("code", "48 digits is a utility/tax bill (arrecadação), not a boleto")
    else:
        raise BoletoError(
            "code",
            f"must have 44 (barcode) or 47 (typeable line) digits, got {len(digits)}",
        )
    bank = bar[:3]
    factor = int(bar[5:9])
    due = due_date_from_factor(factor, today or date.today())
    layout = values = None
    unknown = False
    if bank in LAYOUTS:
        try:
            layout, values = _decode_any(bank, bar[19:44], variant)
        except UnknownLayoutError:
            unknown = True
    return Boleto(
        bank=bank,
        currency=bar[3],
        factor=factor,
        due_date=due,
        amount=money.from_cents(bar[9:19]),
        free_field=bar[19:44],
        barcode=bar,
        typeable_line=typeable_line(bar),
        our_number=_render(layout.our_number, values) if values else None,
        fields=values,
        layout=layout.variant if layout else None,
        layout_unknown=unknown,
    )
