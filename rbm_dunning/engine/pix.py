"""Pix BR Code: the EMV merchant-presented payload behind a Pix QR code.

Everything here is plain Python (no Odoo import).

Sources:

- Banco Central do Brasil, *Manual de Padrões para Iniciação do Pix* (the
  Pix regulation's annex on initiation; version 2.8.0 published by IN BCB
  553/2024), chapter on the BR Code: the fields of a static and of a dynamic
  code listed below, the txid rules and the CRC.
- Banco Central do Brasil, *Manual do BR Code* (2020): the EMV MPM structure
  the Pix code follows; its dynamic example (reference label
  ``RP12345678-2019``, as public parsers of that manual reproduce it) is why
  the parser takes any txid of at most 25 characters on codes that are not
  static.
- EMVCo, *QR Code Specification for Payment Systems: Merchant-Presented Mode*
  v1.1: field ids and lengths of two digits, templates 26-51 (merchant
  account information), 62 (additional data), 64 (language template) and
  80-99 (unreserved templates), the payload of at most 512 characters.
- The Banco Central's *API Pix* specification, repository ``bacen/pix-api``,
  ``openapi.yaml`` version 2.9.0: ``PayloadLocation.location`` has at most 77
  characters, ``pixCopiaECola`` at most 512, and the ``dadosQR`` examples of
  ``GET /rec/{idRec}`` (``recResponse3``, ``recResponse6``, ``recResponse7``)
  are the published Pix Automático codes of journeys 2, 3 and 4: the
  recurrence location travels in template 80.

A payload is a list of TLV fields ``IDLLvalue`` (two-digit id, two-digit
length, value of 1 to 99 characters); templates nest fields the same way:

- 00 payload format ``01`` (first field); 01 point of initiation (``11``
  reusable, ``12`` single use; written on every code that points at a
  charge);
- 26 merchant account (any of 26-51 may carry it; the Pix one is the template
  whose 00 is the GUI ``br.gov.bcb.pix``, compared case-insensitively), then:

  - static code: 01 key (at most 77 characters) and optionally 02 free text;
  - dynamic code (``cob``/``cobv``): 25 location, the charge's URL without
    scheme (at most 77 characters, so the template fits in 99);
  - Pix Automático recurrence alone (journey 2): the GUI only;
  - Pix Automático composite code (journeys 3 and 4): 25 the location of the
    ``cob`` (journey 3) or ``cobv`` (journey 4) paid now;

- 52 merchant category ``0000``; 53 ``986`` (BRL); 54 amount ``n.nn``
  (optional, at most 13 characters); 58 ``BR``; 59 merchant name (≤ 25);
  60 merchant city (≤ 15); 61 postal code (optional);
- 62 additional data: 05 txid (static code: ≤ 25 letters and digits, or
  ``***`` when absent; the other codes write ``***``, their charge's txid
  living in the payload the location serves);
- 80 Pix Automático: 00 GUI ``br.gov.bcb.pix`` and 25 the recurrence's
  location (``locrec``), at most 77 characters;
- 63 CRC (last field): CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no
  reflection) over the whole payload including the literal ``6304``, four
  hex digits (check value ``29B1`` for ``123456789``).

The parser gives every code one kind: ``static`` (key), ``dynamic``
(location), ``recurrence`` (journey 2: GUI alone plus template 80) or
``composite`` (location plus template 80; journey 3 or 4, which the code
itself does not tell apart). Fields it does not use (other arrangements'
templates, 64, unreserved templates of other GUIs) are kept in ``fields``.

Names and cities are folded to ASCII (``São Paulo`` → ``Sao Paulo``) so that
lengths count bytes and characters alike.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ...rbm_recurring.engine import money
from .checkdigits import is_valid_cnpj, is_valid_cpf

GUI = "br.gov.bcb.pix"
MAX_NAME = 25
MAX_CITY = 15
MAX_TXID = 25
MAX_KEY = 77
MAX_LOCATION = 77
MAX_AMOUNT = 13
MAX_VALUE = 99
MAX_PAYLOAD = 512
TXID_ABSENT = "***"
RECURRENCE_TEMPLATE = "80"

STATIC = "static"
DYNAMIC = "dynamic"
RECURRENCE = "recurrence"
COMPOSITE = "composite"

_ACCOUNT_IDS = tuple(f"{i:02d}" for i in range(26, 52))
_UNRESERVED_IDS = tuple(f"{i:02d}" for i in range(80, 100))
_TEMPLATE_IDS = frozenset({*_ACCOUNT_IDS, "62", "64", *_UNRESERVED_IDS})
_HEADER_RE = re.compile(r"[0-9]{4}")
_TXID_RE = re.compile(r"[A-Za-z0-9]{1,25}")
_AMOUNT_RE = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
_EVP_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PHONE_RE = re.compile(r"\+[1-9][0-9]{7,14}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class PixError(ValueError):
    """Invalid Pix payload or input; ``field`` names the offending part."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------
# CRC and TLV
# ---------------------------------------------------------------------------


def crc16(data):
    """CRC-16/CCITT-FALSE of ``data`` (str, encoded UTF-8, or bytes) as four
    upper-case hex digits. ``crc16("123456789") == "29B1"``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return f"{crc:04X}"


def tlv(tag, value):
    """One EMV field ``IDLLvalue``."""
    if not isinstance(tag, str) or not re.fullmatch(r"[0-9]{2}", tag):
        raise PixError(str(tag), "an EMV field id has two digits")
    if not value:
        raise PixError(tag, "an EMV field value must not be empty")
    if len(value) > MAX_VALUE:
        raise PixError(
            tag, f"an EMV field value has at most {MAX_VALUE} characters, got {len(value)}"
        )
    return f"{tag}{len(value):02d}{value}"


def with_crc(body):
    """``body`` + ``6304`` + its CRC."""
    body += "6304"
    return body + crc16(body)


def _ascii_text(name, value, max_length):
    if not isinstance(value, str):
        raise PixError(name, f"must be a string, got {value!r}")
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    folded = " ".join(folded.split())
    if not folded:
        raise PixError(name, "is required")
    if not folded.isprintable():
        raise PixError(name, f"has characters a BR Code cannot carry: {value!r}")
    if len(folded) > max_length:
        raise PixError(name, f"has at most {max_length} characters, got {len(folded)}: {folded!r}")
    return folded


def format_amount(amount):
    """``n.nn`` for a positive amount with at most two decimal places."""
    try:
        value = money.to_decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise PixError("amount", f"not a number: {amount!r}") from None
    if not value.is_finite() or value <= 0:
        raise PixError("amount", f"must be positive, got {amount!r}")
    if not money.is_whole_cents(value):
        raise PixError("amount", f"{value} has more than two decimal places")
    text = f"{value:.2f}"
    if len(text) > MAX_AMOUNT:
        raise PixError("amount", f"{text} is longer than {MAX_AMOUNT} characters")
    return text


def key_type(key):
    """``cpf``, ``cnpj``, ``phone``, ``email`` or ``evp`` (random key) of a Pix
    key written the way DICT stores it; PixError for anything else."""
    if not isinstance(key, str) or not key:
        raise PixError("key", f"must be a non-empty string, got {key!r}")
    if key.isdigit() and len(key) == 11 and is_valid_cpf(key):
        return "cpf"
    if len(key) == 14 and is_valid_cnpj(key) and key == key.upper():
        return "cnpj"
    if _PHONE_RE.fullmatch(key):
        return "phone"
    if _EVP_RE.fullmatch(key):
        return "evp"
    if len(key) <= MAX_KEY and _EMAIL_RE.fullmatch(key):
        return "email"
    raise PixError(
        "key",
        f"{key!r} is not a Pix key (CPF/CNPJ without punctuation, +55 phone, e-mail or random key)",
    )


def _location_problem(location):
    """Why ``location`` cannot be a BR Code location, or None."""
    if not isinstance(location, str) or not location:
        return "is required"
    if "://" in location:
        return f"is a URL without scheme, got {location!r}"
    if not location.isascii() or not location.isprintable() or " " in location:
        return f"must be printable ASCII without spaces, got {location!r}"
    if len(location) > MAX_LOCATION:
        # 0014br.gov.bcb.pix + 25LL + location fills the template's 99
        return (
            f"has at most {MAX_LOCATION} characters (its template has at most 99), "
            f"got {len(location)}"
        )
    return None


def _check_location(name, location):
    problem = _location_problem(location)
    if problem:
        raise PixError(name, problem)
    return location


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------


def _payload(
    account, merchant_name, merchant_city, amount, txid, initiation, recurrence_location=None
):
    name = _ascii_text("merchant_name", merchant_name, MAX_NAME)
    city = _ascii_text("merchant_city", merchant_city, MAX_CITY)
    if len(account) > MAX_VALUE:
        raise PixError("26", f"merchant account is {len(account)} characters, at most 99")
    parts = [tlv("00", "01")]
    if initiation:
        parts.append(tlv("01", initiation))
    parts += [tlv("26", account), tlv("52", "0000"), tlv("53", "986")]
    if amount is not None:
        parts.append(tlv("54", format_amount(amount)))
    parts += [tlv("58", "BR"), tlv("59", name), tlv("60", city), tlv("62", tlv("05", txid))]
    if recurrence_location is not None:
        parts.append(tlv(RECURRENCE_TEMPLATE, tlv("00", GUI) + tlv("25", recurrence_location)))
    return with_crc("".join(parts))


def static_payload(
    key, merchant_name, merchant_city, amount=None, txid=None, description=None, gui=GUI
):
    """Static BR Code (``pix copia e cola``) for ``key``.

    ``amount`` is optional (the payer types it when absent); ``txid`` (≤ 25
    letters and digits) identifies the charge in the receiver's statement,
    ``***`` when absent; ``description`` is free text shown to the payer."""
    key_type(key)
    if txid is None:
        txid = TXID_ABSENT
    elif txid != TXID_ABSENT and not (isinstance(txid, str) and _TXID_RE.fullmatch(txid)):
        raise PixError("txid", f"has 1 to {MAX_TXID} letters and digits, got {txid!r}")
    account = tlv("00", gui) + tlv("01", key)
    if description:
        account += tlv("02", _ascii_text("description", description, MAX_VALUE))
    return _payload(account, merchant_name, merchant_city, amount, txid, None)


def dynamic_payload(location, merchant_name, merchant_city, gui=GUI):
    """Dynamic BR Code pointing at the PSP ``location`` (URL without scheme)
    that serves the charge (``cob`` or ``cobv``); the amount and txid live in
    that charge."""
    _check_location("location", location)
    account = tlv("00", gui) + tlv("25", location)
    return _payload(account, merchant_name, merchant_city, None, TXID_ABSENT, "12")


def recurrence_payload(recurrence_location, merchant_name, merchant_city, gui=GUI):
    """Pix Automático journey 2: the QR of a recurrence alone.

    Template 26 holds only the GUI and template 80 the recurrence's location
    (``loc.location`` of the ``rec``, URL without scheme). As in the API's
    journey 2 example, no point of initiation is written: nothing is paid by
    reading this code, only the authorization is asked for."""
    _check_location("recurrence_location", recurrence_location)
    return _payload(
        tlv("00", gui),
        merchant_name,
        merchant_city,
        None,
        TXID_ABSENT,
        None,
        recurrence_location=recurrence_location,
    )


def composite_payload(location, recurrence_location, merchant_name, merchant_city, gui=GUI):
    """Pix Automático journeys 3 and 4: the composite QR.

    Template 26 carries the ``location`` of the charge paid now (a ``cob`` in
    journey 3, a ``cobv`` in journey 4) and template 80 the recurrence's
    location; paying the charge authorizes the recurrence (journey 3) or
    offers it (journey 4). Single use (01 = ``12``) like any dynamic code."""
    _check_location("location", location)
    _check_location("recurrence_location", recurrence_location)
    account = tlv("00", gui) + tlv("25", location)
    return _payload(
        account,
        merchant_name,
        merchant_city,
        None,
        TXID_ABSENT,
        "12",
        recurrence_location=recurrence_location,
    )


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PixPayload:
    """A parsed BR Code. ``fields`` holds every TLV (templates as dicts).

    ``location`` is the charge's location (field 26-25: dynamic and composite
    codes), ``recurrence_location`` the Pix Automático recurrence's (80-25:
    recurrence and composite codes); ``additional_data`` is template 62."""

    kind: str  # STATIC, DYNAMIC, RECURRENCE or COMPOSITE
    merchant_name: str
    merchant_city: str
    txid: str
    crc: str
    amount: Decimal | None = None
    key: str | None = None
    description: str | None = None
    location: str | None = None
    point_of_initiation: str | None = None
    fields: dict = field(default_factory=dict)
    recurrence_location: str | None = None
    merchant_category: str = "0000"
    postal_code: str | None = None
    additional_data: dict = field(default_factory=dict)
    account_id: str = "26"

    @property
    def single_use(self):
        """Whether the code may be paid only once (point of initiation 12)."""
        return self.point_of_initiation == "12"

    @property
    def locations(self):
        """``{"cob": ..., "rec": ...}`` with the locations the code carries."""
        return {
            name: value
            for name, value in (("cob", self.location), ("rec", self.recurrence_location))
            if value
        }


def parse_tlv(text, where="payload"):
    """Ordered dict ``id -> value`` of a TLV string (no nesting).

    At the top level (``where == "payload"``) an error names the field it is
    in; inside a template it names the template (``where``)."""
    nested = where != "payload"
    result = {}
    position = 0
    while position < len(text):
        header = text[position : position + 4]
        if not _HEADER_RE.fullmatch(header):
            raise PixError(where, f"malformed field header {header!r} at offset {position}")
        tag, length = header[:2], int(header[2:])
        name = f"subfield {tag}" if nested else "field"
        value = text[position + 4 : position + 4 + length]
        if len(value) != length:
            raise PixError(
                where if nested else tag,
                f"{name} declares {length} characters but only {len(value)} remain",
            )
        if not length:
            raise PixError(where if nested else tag, f"{name} is empty")
        if tag in result:
            raise PixError(where if nested else tag, f"{name} {tag} appears twice")
        result[tag] = value
        position += 4 + length
    return result


def verify_crc(payload):
    """Raise PixError unless ``payload`` ends with a correct ``6304XXXX``."""
    if not isinstance(payload, str) or len(payload) < 8 or payload[-8:-4] != "6304":
        raise PixError("63", "payload must end with the CRC field 6304XXXX")
    try:
        expected = crc16(payload[:-4])
    except UnicodeError:
        raise PixError("payload", "is not valid text") from None
    if payload[-4:].upper() != expected:
        raise PixError("63", f"CRC is {payload[-4:]}, expected {expected}")


def _pix_templates(fields, ids):
    """``(id, template)`` of the templates among ``ids`` whose GUI is Pix's."""
    return [
        (tag, fields[tag])
        for tag in ids
        if tag in fields and fields[tag].get("00", "").lower() == GUI
    ]


def _parse_amount(text):
    if len(text) > MAX_AMOUNT or not _AMOUNT_RE.fullmatch(text):
        raise PixError(
            "54", f"amount is digits with at most two decimals after a '.', got {text!r}"
        )
    amount = Decimal(text)
    if amount <= 0:
        raise PixError("54", f"amount must be positive, got {text!r}")
    return amount


def parse_payload(payload):
    """Parse and validate a BR Code (CRC, mandatory fields, lengths, the
    combination of key, location and recurrence); PixError names the field
    of the first problem found."""
    verify_crc(payload)
    if len(payload) > MAX_PAYLOAD:
        raise PixError("payload", f"has at most {MAX_PAYLOAD} characters, got {len(payload)}")
    fields = parse_tlv(payload)
    order = list(fields)
    if order[0] != "00" or fields["00"] != "01":
        raise PixError("00", "a BR Code starts with payload format indicator 000201")
    if order[-1] != "63":
        raise PixError("63", "the CRC must be the last field")
    for tag in sorted(_TEMPLATE_IDS & fields.keys()):
        fields[tag] = parse_tlv(fields[tag], where=tag)

    for tag, expected in (("52", None), ("53", "986"), ("58", "BR"), ("59", None), ("60", None)):
        if tag not in fields:
            raise PixError(tag, "mandatory field is missing")
        if expected and fields[tag] != expected:
            raise PixError(tag, f"must be {expected!r}, got {fields[tag]!r}")
    if "01" in fields and fields["01"] not in ("11", "12"):
        raise PixError("01", f"point of initiation is '11' or '12', got {fields['01']!r}")
    if not re.fullmatch(r"[0-9]{4}", fields["52"]):
        raise PixError("52", f"merchant category has four digits, got {fields['52']!r}")
    if len(fields["59"]) > MAX_NAME:
        raise PixError("59", f"merchant name has at most {MAX_NAME} characters")
    if len(fields["60"]) > MAX_CITY:
        raise PixError("60", f"merchant city has at most {MAX_CITY} characters")
    amount = _parse_amount(fields["54"]) if "54" in fields else None

    accounts = _pix_templates(fields, _ACCOUNT_IDS)
    if not accounts:
        raise PixError("26", f"no merchant account with GUI {GUI!r}")
    if len(accounts) > 1:
        raise PixError(accounts[1][0], "a BR Code has one Pix merchant account")
    account_id, account = accounts[0]
    recurrences = _pix_templates(fields, _UNRESERVED_IDS)
    if len(recurrences) > 1:
        raise PixError(recurrences[1][0], "a BR Code has one Pix Automático template")
    recurrence_location = None
    if recurrences:
        recurrence_id, recurrence = recurrences[0]
        if "25" not in recurrence:
            raise PixError(recurrence_id, "Pix Automático template has no location (25)")
        recurrence_location = recurrence["25"]
        problem = _location_problem(recurrence_location)
        if problem:
            raise PixError(recurrence_id, f"recurrence location {problem}")

    key, location = account.get("01"), account.get("25")
    if key is not None and location is not None:
        raise PixError(account_id, "merchant account has both a key (01) and a location (25)")
    if key is not None:
        if recurrence_location is not None:
            raise PixError(
                recurrence_id, "a Pix Automático recurrence goes with a location, not a key"
            )
        try:
            key_type(key)
        except PixError as error:
            raise PixError(account_id, error.message) from None
        kind = STATIC
    elif location is not None:
        problem = _location_problem(location)
        if problem:
            raise PixError(account_id, f"location {problem}")
        kind = COMPOSITE if recurrence_location else DYNAMIC
    elif recurrence_location is not None:
        kind = RECURRENCE
    else:
        raise PixError(account_id, "merchant account has neither a key (01) nor a location (25)")

    additional = fields.get("62", {})
    txid = additional.get("05")
    if txid is None:
        raise PixError("62", "additional data field 05 (txid) is missing")
    if txid != TXID_ABSENT:
        if kind == STATIC and not _TXID_RE.fullmatch(txid):
            raise PixError(
                "62", f"static txid has 1 to {MAX_TXID} letters and digits, got {txid!r}"
            )
        if len(txid) > MAX_TXID:
            raise PixError("62", f"txid has at most {MAX_TXID} characters, got {len(txid)}")
    return PixPayload(
        kind=kind,
        merchant_name=fields["59"],
        merchant_city=fields["60"],
        txid=txid,
        crc=payload[-4:].upper(),
        amount=amount,
        key=key,
        description=account.get("02"),
        location=location,
        point_of_initiation=fields.get("01"),
        fields=fields,
        recurrence_location=recurrence_location,
        merchant_category=fields["52"],
        postal_code=fields.get("61"),
        additional_data=additional,
        account_id=account_id,
    )
