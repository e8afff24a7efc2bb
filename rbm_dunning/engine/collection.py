"""From a collection account's settings to boleto fields and CNAB title ids.

Everything here is plain Python (no Odoo import). Per bank, as data:

- ``ACCOUNT_FIELDS``: which setting of the collection account (``branch``,
  ``account``, ``portfolio``, ``agreement``, ``post``) feeds which free-field
  input of ``boleto.BANKS``, and which input carries the sequence;
- ``SEQUENCE_FORMATS``: how the sequence becomes that input (Caixa prefixes
  the modality ``14``, Sicredi the year and the byte ``2``);
- ``CNAB_OUR_NUMBER``: the our-number field(s) of a remittance title per
  layout (Itaú and Santander keep the check digit apart, Bradesco CNAB 240
  puts the carteira before it, Sicoob adds installment and modality);
- ``RETURN_KEY``: the slice of a return file's our-number field that
  identifies the title. ``title_key`` of what we write and ``return_key`` of
  what the bank sends back are the same number, whatever the layout.
"""

from . import boleto

SEQUENCE = "sequence"

ACCOUNT_FIELDS = {
    "001": {
        "agreement": "agreement",
        "portfolio": "portfolio",
        "sequence": SEQUENCE,
        "branch": "branch",  # in the free field of 4- and 6-digit convênios
        "account": "account",
    },
    "033": {"beneficiary_code": "agreement", "portfolio": "portfolio", "our_number": SEQUENCE},
    "104": {"beneficiary_code": "agreement", "our_number": SEQUENCE},
    "237": {
        "branch": "branch",
        "portfolio": "portfolio",
        "account": "account",
        "our_number": SEQUENCE,
    },
    "341": {
        "portfolio": "portfolio",
        "branch": "branch",
        "account": "account",
        "our_number": SEQUENCE,
        "your_number": SEQUENCE,  # carteiras with seu número
        "client_code": "agreement",
    },
    "748": {
        "branch": "branch",
        "post": "post",
        "beneficiary_code": "agreement",
        "our_number": SEQUENCE,
    },
    "756": {"cooperative": "branch", "beneficiary_code": "agreement", "our_number": SEQUENCE},
}

# str.format templates of the sequence input; ``{year}`` is the issue year (2 digits)
SEQUENCE_FORMATS = {"104": "14{sequence:015d}", "748": "{year:02d}2{sequence:05d}"}
SEQUENCE_LIMITS = {"104": 10**15 - 1, "748": 99999}

CNAB_OUR_NUMBER = {
    # (bank, layout[, free-field variant]): (our number template, our-number
    # digit template or None); a variant's entry wins over its bank's
    ("001", "cnab240", "agreement4"): ("{agreement}{sequence}{our_number_digit}", None),
    ("001", "cnab240", "agreement6"): ("{agreement}{sequence}{our_number_digit}", None),
    ("001", "cnab240"): ("{agreement}{sequence}", None),
    ("033", "cnab240"): ("{our_number}", "{our_number_digit}"),
    ("104", "cnab240"): ("{our_number}", None),
    ("237", "cnab240"): ("{portfolio:0>3}00000{our_number}{our_number_digit}", None),
    ("341", "cnab240"): ("{our_number}", "{our_number_digit}"),
    ("748", "cnab240"): ("{our_number}{our_number_digit}", None),
    ("756", "cnab240"): ("00{our_number}{our_number_digit}{installment_2}{modality}1", None),
    ("001", "cnab400"): ("{agreement}{sequence}", None),
    ("237", "cnab400"): ("{our_number}", "{our_number_digit}"),
    ("341", "cnab400"): ("{our_number}", None),
}

# (bank, layout): 0-based slice of the our-number field read from a return file
RETURN_KEY = {
    # convênios of 4 and 6 digits: convênio + sequence (11), then the digit
    ("001", "cnab240", "agreement4"): (0, 11),
    ("001", "cnab240", "agreement6"): (0, 11),
    ("001", "cnab240"): (0, 17),
    ("033", "cnab240"): (0, 12),
    ("104", "cnab240"): (0, 17),
    ("237", "cnab240"): (8, 19),
    ("341", "cnab240"): (0, 8),
    ("748", "cnab240"): (0, 8),
    ("756", "cnab240"): (0, 9),
    ("001", "cnab400"): (0, 17),
    ("237", "cnab400"): (0, 11),
    ("341", "cnab400"): (0, 8),
}

# bank code check digit printed next to the code (341-7); published per bank,
# not one rule (Caixa prints 104-0, Sicredi 748-X)
BANK_DIGITS = {
    "001": "9",
    "033": "7",
    "104": "0",
    "237": "2",
    "341": "7",
    "748": "X",
    "756": "0",
}


# espécie do título: the kind of credit the boleto collects. CNAB 240 takes
# FEBRABAN's table (02 duplicata mercantil, 04 duplicata de serviço); each
# bank's CNAB 400 has its own table, in positions 148-149 of the detail record,
# cited below from the bank's own manual.
DOCUMENT_SPECIES = ("DM", "DS")
DOCUMENT_KIND_CODES = {
    # FEBRABAN "Layout Padrão Febraban 240 posições" V10.6, segment P field
    # 24.3P (107-108), code C015 (espécie do título): 02 DM, 04 DS
    "cnab240": {"DM": "02", "DS": "04"},
    "cnab400": {
        # Banco do Brasil, "Cobrança BB - Layout de Arquivo Remessa CNAB400 -
        # Manual Técnico, convênios com numeração acima de 1.000.000", version
        # April 2012, note 07 (espécie de título): 01 duplicata mercantil,
        # 12 duplicata de serviço
        "001": {"DM": "01", "DS": "12"},
        # Santander, "CNAB 400 (padrão Santander) com registro", H7800,
        # version 2.15 of March 2017, detail record 148-149 (espécie de
        # documento): 01 duplicata, 06 duplicata de serviço
        "033": {"DM": "01", "DS": "06"},
        # Bradesco, "Manual de Procedimentos Operacionais para Troca de
        # Arquivos - Cobrança Bradesco", nº 4008.524.0121, version 11, detail
        # record type 1, 148-149 (espécie de título): 01 duplicata,
        # 12 duplicata de serviço
        "237": {"DM": "01", "DS": "12"},
        # Itaú, "Cobrança Bancária - Intercâmbio Eletrônico de Arquivos"
        # (CNAB 400), July 2021, detail 148-149, note 10 (espécie): 01 duplicata
        # mercantil, 08 duplicata de serviço
        "341": {"DM": "01", "DS": "08"},
        # Sicoob, "Instruções para montagem e validação de boletos de
        # cobrança", updated 24 February 2017, sheet "Remessa - CNAB400",
        # field 31, 148-149 (espécie do título): 01 duplicata mercantil,
        # 12 duplicata de serviço
        "756": {"DM": "01", "DS": "12"},
    },
}


def document_kind_code(bank, layout, species):
    """The remittance code of ``species`` (DM or DS) for ``bank`` in
    ``layout``; ValueError for a species or bank the table does not know."""
    if species not in DOCUMENT_SPECIES:
        raise ValueError(f"unknown document species {species!r} (known: DM, DS)")
    codes = DOCUMENT_KIND_CODES.get(layout, {})
    if layout == "cnab400":
        codes = codes.get(bank)
        if not codes:
            raise ValueError(f"no CNAB 400 document species codes for bank {bank}")
    if not codes:
        raise ValueError(f"no document species codes for layout {layout}")
    return codes[species]


# CNAB layouts without a title format for a free-field variant (Banco do
# Brasil's CNAB 400 of 4- and 6-digit convênios has its own detail record)
VARIANT_LAYOUTS_MISSING = {("001", "agreement4"): ("cnab400",), ("001", "agreement6"): ("cnab400",)}


def _layout_of(bank, settings):
    """The free-field layout of ``bank`` for the account ``settings`` (the
    bank's usual one when the settings choose none)."""
    if settings is None:
        return boleto.get_layout(bank)
    inputs = {
        name: "1" if source == SEQUENCE else (settings.get(source) or "")
        for name, source in ACCOUNT_FIELDS.get(bank, {}).items()
    }
    try:
        return boleto.layout_for(bank, **inputs)
    except boleto.BoletoError:
        return boleto.get_layout(bank)


def variant_of(bank, settings):
    """Free-field variant of ``bank`` chosen by the account ``settings``."""
    return _layout_of(bank, settings).variant


def sequence_limit(bank, settings=None):
    """Largest sequence number the our number of ``bank`` can hold (with the
    layout the account ``settings`` choose, when given)."""
    if bank in SEQUENCE_LIMITS:
        return SEQUENCE_LIMITS[bank]
    layout = _layout_of(bank, settings)
    widths = [
        layout.fields[name]
        for name, source in ACCOUNT_FIELDS[bank].items()
        if source == SEQUENCE and name in layout.fields
    ]
    return 10 ** min(widths) - 1


def boleto_fields(bank, settings, sequence, issue_date):
    """Free-field inputs of ``boleto.make_boleto`` for ``bank`` from the
    account ``settings`` (dict of branch, account, portfolio, agreement, post)
    and a sequence number. Raises ``boleto.BoletoError`` naming the input."""
    try:
        fields = ACCOUNT_FIELDS[bank]
    except KeyError:
        raise boleto.BoletoError("bank", f"no collection settings for bank {bank!r}") from None
    limit = sequence_limit(bank, settings)
    if not 1 <= sequence <= limit:
        raise boleto.BoletoError("sequence", f"{sequence} is outside 1..{limit} for bank {bank}")
    template = SEQUENCE_FORMATS.get(bank, "{sequence}")
    number = template.format(sequence=sequence, year=issue_date.year % 100)
    return {
        name: number if source == SEQUENCE else (settings.get(source) or "")
        for name, source in fields.items()
    }


def source_of(bank, name):
    """Account setting that feeds the free-field input ``name`` (``sequence``
    for the sequence input, None when the input has no source)."""
    return ACCOUNT_FIELDS.get(bank, {}).get(name)


def layouts_of(bank, variant=""):
    """CNAB layouts with both a remittance title format and a return key
    (for the free-field ``variant`` of the account, when given)."""
    missing = VARIANT_LAYOUTS_MISSING.get((bank, variant), ())
    return [
        layout
        for layout in ("cnab240", "cnab400")
        if (bank, layout) in CNAB_OUR_NUMBER
        and (bank, layout) in RETURN_KEY
        and layout not in missing
    ]


def _variant_of_values(bank, values):
    names = set(boleto.bank_fields(bank))
    try:
        return boleto.layout_for(bank, **{k: v for k, v in values.items() if k in names}).variant
    except boleto.BoletoError:
        return ""


def title_ids(bank, layout, values):
    """(our number, our-number digit) of a remittance title from the values of
    ``boleto.bank_values`` (digit is "" when the layout keeps it inside)."""
    variant = _variant_of_values(bank, values)
    try:
        number, digit = (
            CNAB_OUR_NUMBER.get((bank, layout, variant)) or CNAB_OUR_NUMBER[bank, layout]
        )
    except KeyError:
        raise boleto.BoletoError("layout", f"no {layout} title format for bank {bank}") from None
    values = {**values, "installment_2": values.get("installment", "")[-2:]}
    return number.format(**values), digit.format(**values) if digit else ""


def return_key(bank, layout, our_number, variant=""):
    """Identifying number (as a string without leading zeros) of the
    our-number field of a return file line; None when it holds no number."""
    start, end = RETURN_KEY.get((bank, layout, variant)) or RETURN_KEY[bank, layout]
    chunk = (our_number or "")[start:end].strip()
    if not chunk.isdigit():
        return None
    return str(int(chunk))


def title_key(bank, layout, values):
    """The ``return_key`` the bank will send back for the title of ``values``."""
    variant = _variant_of_values(bank, values)
    return return_key(bank, layout, title_ids(bank, layout, values)[0], variant)
