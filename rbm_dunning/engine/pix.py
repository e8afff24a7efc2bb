"""Pix BR Code: the EMV merchant-presented payload behind a Pix QR code.

Everything here is plain Python (no Odoo import).

A payload is a list of TLV fields ``IDLLvalue`` (two-digit id, two-digit
length, value of at most 99 characters); templates nest fields the same way:

- 00 payload format ``01``; 01 point of initiation (``12`` = single use,
  always present on dynamic codes);
- 26 merchant account: 00 GUI ``br.gov.bcb.pix``, then 01 key and 02 free text
  (static code) or 25 location URL without scheme (dynamic code);
- 52 ``0000``; 53 ``986`` (BRL); 54 amount ``n.nn`` (optional); 58 ``BR``;
  59 merchant name (≤ 25); 60 merchant city (≤ 15);
- 62 additional data: 05 txid (≤ 25 letters and digits on static codes,
  ``***`` when absent and always ``***`` on dynamic codes);
- 63 CRC: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over the whole payload
  including the literal ``6304``, four upper-case hex digits.

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
TXID_ABSENT = "***"
_TEMPLATE_IDS = frozenset({*(f"{i:02d}" for i in range(26, 52)), "62", *map(str, range(80, 100))})
_TXID_RE = re.compile(r"[A-Za-z0-9]{1,25}")
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
    if not re.fullmatch(r"\d\d", tag):
        raise PixError(tag, "an EMV field id has two digits")
    if not value:
        raise PixError(tag, "an EMV field value must not be empty")
    if len(value) > 99:
        raise PixError(tag, f"an EMV field value has at most 99 characters, got {len(value)}")
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
    if len(text) > 13:
        raise PixError("amount", f"{text} is longer than 13 characters")
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
    if len(key) <= 77 and _EMAIL_RE.fullmatch(key):
        return "email"
    raise PixError(
        "key",
        f"{key!r} is not a Pix key (CPF/CNPJ without punctuation, +55 phone, e-mail or random key)",
    )


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------


def _payload(account, merchant_name, merchant_city, amount, txid, initiation):
    name = _ascii_text("merchant_name", merchant_name, MAX_NAME)
    city = _ascii_text("merchant_city", merchant_city, MAX_CITY)
    if len(account) > 99:
        raise PixError("26", f"merchant account is {len(account)} characters, at most 99")
    parts = [tlv("00", "01")]
    if initiation:
        parts.append(tlv("01", initiation))
    parts += [tlv("26", account), tlv("52", "0000"), tlv("53", "986")]
    if amount is not None:
        parts.append(tlv("54", format_amount(amount)))
    parts += [tlv("58", "BR"), tlv("59", name), tlv("60", city), tlv("62", tlv("05", txid))]
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
    elif txid != TXID_ABSENT and not _TXID_RE.fullmatch(txid):
        raise PixError("txid", f"has 1 to {MAX_TXID} letters and digits, got {txid!r}")
    account = tlv("00", gui) + tlv("01", key)
    if description:
        account += tlv("02", _ascii_text("description", description, 99))
    return _payload(account, merchant_name, merchant_city, amount, txid, None)


def dynamic_payload(location, merchant_name, merchant_city, gui=GUI):
    """Dynamic BR Code pointing at the PSP ``location`` (URL without scheme)
    that serves the charge; the amount and txid live in that charge."""
    if not isinstance(location, str) or not location:
        raise PixError("location", "is required")
    if "://" in location:
        raise PixError("location", f"is a URL without scheme, got {location!r}")
    if not location.isascii() or not location.isprintable() or " " in location:
        raise PixError("location", f"must be printable ASCII without spaces, got {location!r}")
    account = tlv("00", gui) + tlv("25", location)
    return _payload(account, merchant_name, merchant_city, None, TXID_ABSENT, "12")


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PixPayload:
    """A parsed BR Code. ``fields`` holds every TLV (templates as dicts)."""

    kind: str  # "static" or "dynamic"
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


def parse_tlv(text, where="payload"):
    """Ordered dict ``id -> value`` of a TLV string (no nesting)."""
    result = {}
    position = 0
    while position < len(text):
        header = text[position : position + 4]
        if len(header) < 4 or not header.isdigit():
            raise PixError(where, f"malformed field header {header!r} at offset {position}")
        tag, length = header[:2], int(header[2:])
        value = text[position + 4 : position + 4 + length]
        if len(value) != length:
            raise PixError(tag, f"declares {length} characters but only {len(value)} remain")
        if tag in result:
            raise PixError(tag, "appears twice")
        result[tag] = value
        position += 4 + length
    return result


def verify_crc(payload):
    """Raise PixError unless ``payload`` ends with a correct ``6304XXXX``."""
    if not isinstance(payload, str) or len(payload) < 8 or payload[-8:-4] != "6304":
        raise PixError("63", "payload must end with the CRC field 6304XXXX")
    expected = crc16(payload[:-4])
    if payload[-4:].upper() != expected:
        raise PixError("63", f"CRC is {payload[-4:]}, expected {expected}")


def parse_payload(payload):
    """Parse and validate a BR Code (CRC, mandatory fields, lengths)."""
    verify_crc(payload)
    fields = parse_tlv(payload)
    if list(fields)[0] != "00" or fields["00"] != "01":
        raise PixError("00", "a BR Code starts with payload format indicator 000201")
    if list(fields)[-1] != "63":
        raise PixError("63", "the CRC must be the last field")
    for tag in _TEMPLATE_IDS & fields.keys():
        fields[tag] = parse_tlv(fields[tag], where=tag)
    for tag, expected in (("52", None), ("53", "986"), ("58", "BR"), ("59", None), ("60", None)):
        if tag not in fields:
            raise PixError(tag, "mandatory field is missing")
        if expected and fields[tag] != expected:
            raise PixError(tag, f"must be {expected!r}, got {fields[tag]!r}")
    if len(fields["59"]) > MAX_NAME:
        raise PixError("59", f"merchant name has at most {MAX_NAME} characters")
    if len(fields["60"]) > MAX_CITY:
        raise PixError("60", f"merchant city has at most {MAX_CITY} characters")
    account = next(
        (
            value
            for tag, value in fields.items()
            if "26" <= tag <= "51" and value.get("00", "").lower() == GUI
        ),
        None,
    )
    if account is None:
        raise PixError("26", f"no merchant account with GUI {GUI!r}")
    if "25" in account:
        kind = "dynamic"
    elif "01" in account:
        kind = "static"
    else:
        raise PixError("26", "merchant account has neither a key (01) nor a location (25)")
    txid = fields.get("62", {}).get("05")
    if txid is None:
        raise PixError("62", "additional data field 05 (txid) is missing")
    if kind == "static" and txid != TXID_ABSENT and not _TXID_RE.fullmatch(txid):
        raise PixError("62", f"static txid has 1 to {MAX_TXID} letters and digits, got {txid!r}")
    amount = None
    if "54" in fields:
        try:
            amount = Decimal(fields["54"])
        except InvalidOperation:
            raise PixError("54", f"amount is not a number: {fields['54']!r}") from None
    return PixPayload(
        kind=kind,
        merchant_name=fields["59"],
        merchant_city=fields["60"],
        txid=txid,
        crc=payload[-4:].upper(),
        amount=amount,
        key=account.get("01"),
        description=account.get("02"),
        location=account.get("25"),
        point_of_initiation=fields.get("01"),
        fields=fields,
    )
