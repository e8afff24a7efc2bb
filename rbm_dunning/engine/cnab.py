"""CNAB 240 and CNAB 400 collection (cobrança) files: remittance writers,
return parsers.

Everything here is plain Python (no Odoo import). Records are read and written
by ``fixedwidth``; the per-bank layouts are data in ``cnab_layouts``.

Parsers read every line, collect ``CnabError(line_number, field, message)``
and, when ``strict`` (the default), raise the first one; with ``strict=False``
they return the errors in ``CnabFile.errors`` next to the records that could
be read. Besides each field, the file structure is checked (first and last
records, sequence numbers, trailer counts).

Terms (code name — FEBRABAN term): remittance — remessa; return — retorno;
our number — nosso número; movement — código de movimento (remessa);
occurrence — código de ocorrência (retorno); payer — pagador; beneficiary —
beneficiário (the company); agreement — código do convênio/beneficiário;
branch/account — agência/conta; portfolio — carteira; write-off — baixa;
fine/interest — multa/juros; rebate — abatimento; fee — tarifa; file sequence
— NSA (número sequencial do arquivo).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType

from . import cnab_layouts as layouts
from .checkdigits import validate_document
from .fixedwidth import (
    CnabError,
    CnabFile,
    CnabRecord,
    ascii_text,
    check_count,
    check_sequence,
    finish,
    read_lines,
    split_lines,
)

__all__ = [
    "Beneficiary",
    "CnabError",
    "CnabFile",
    "CnabRecord",
    "Payer",
    "ReturnItem",
    "Title",
    "cnab240_layout",
    "cnab240_remittance",
    "cnab240_return_items",
    "cnab400_layout",
    "cnab400_remittance",
    "cnab400_return_items",
    "parse_cnab240",
    "parse_cnab400",
]


# ---------------------------------------------------------------------------
# Remittance inputs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Beneficiary:
    """The company that issues the boletos (beneficiário), as registered at
    its bank. ``agreement`` is the convênio / código do beneficiário;
    ``extra`` holds bank-specific header fields; ``variant`` is the bank's
    free-field variant (``boleto.LAYOUTS``) when it moves CNAB fields."""

    bank: str
    name: str
    document: str
    branch: str
    account: str = ""
    branch_digit: str = ""
    account_digit: str = ""
    agreement: str = ""
    portfolio: str = ""
    extra: dict = field(default_factory=dict)
    variant: str = ""


@dataclass(frozen=True)
class Payer:
    """The customer who pays (pagador)."""

    name: str
    document: str
    address: str = ""
    district: str = ""
    postal_code: str = ""
    city: str = ""
    state: str = ""


@dataclass(frozen=True)
class Title:
    """One boleto in a remittance (título). ``movement``: 01 entrada, 02 baixa,
    06 alterar vencimento (see ``cnab_layouts.MOVEMENTS``). Codes follow the
    FEBRABAN tables: interest 1 = value per day, 2 = monthly rate, 3 = exempt;
    discount 0 = none, 1 = fixed value until a date; fine 0 = none, 1 = value,
    2 = percent; protest 3 = do not protest; write-off 1 = write off/return,
    2 = do not. Codes left as None take the layout default (espécie 02 DM in
    CNAB 240, 01 in Bradesco CNAB 400; juros isento; não protestar...).
    ``our_number_digit`` goes where a layout keeps the our-number check digit
    apart (Itaú and Santander CNAB 240, Bradesco CNAB 400); ``bank_fields``
    holds other bank-specific detail fields."""

    our_number: str
    due_date: date
    amount: Decimal
    document_number: str = ""
    movement: str = "01"
    payer: Payer | None = None
    issue_date: date | None = None
    our_number_digit: str = ""
    document_kind: str | None = None
    acceptance: str | None = None
    portfolio_code: str | None = None
    interest_code: str | None = None
    interest_date: date | None = None
    interest: Decimal = Decimal(0)
    discount_code: str | None = None
    discount_date: date | None = None
    discount: Decimal = Decimal(0)
    rebate: Decimal = Decimal(0)
    fine_code: str = "0"
    fine_date: date | None = None
    fine: Decimal = Decimal(0)
    protest_code: str | None = None
    protest_days: int = 0
    write_off_code: str | None = None
    write_off_days: int = 0
    company_use: str = ""
    bank_fields: dict = field(default_factory=dict)


def _upper(value):
    return ascii_text(value).upper() if isinstance(value, str) else value


def _payer_values(payer):
    if payer is None:
        return {}
    kind, document = validate_document(payer.document)
    postal_code = "".join(c for c in payer.postal_code if c.isdigit())
    return {
        "payer_document_type": "1" if kind == "cpf" else "2",
        "payer_document": document,
        "payer_name": _upper(payer.name),
        "payer_address": _upper(payer.address),
        "payer_district": _upper(payer.district),
        "payer_postal_code": postal_code,
        "payer_city": _upper(payer.city),
        "payer_state": _upper(payer.state),
    }


def _company_values(beneficiary):
    kind, document = validate_document(beneficiary.document)
    return {
        "company_document_type": "1" if kind == "cpf" else "2",
        "company_document": document,
        "company_name": _upper(beneficiary.name),
        "branch": beneficiary.branch,
        "branch_digit": beneficiary.branch_digit,
        "account": beneficiary.account,
        "account_digit": beneficiary.account_digit,
        "agreement": beneficiary.agreement,
        "portfolio": beneficiary.portfolio,
        **beneficiary.extra,
    }


def _title_values(title):
    values = {name: getattr(title, name) for name in Title.__dataclass_fields__}
    del values["payer"], values["bank_fields"]
    return {**values, **_payer_values(title.payer), **title.bank_fields}


def _line(record, values, line_number):
    """Write ``record`` with those of ``values`` it has a field for; None and
    empty values leave the field to its layout default."""
    return record.to_line(
        {k: v for k, v in values.items() if k in record.names and v not in (None, "")},
        line_number,
    )


# ---------------------------------------------------------------------------
# CNAB 240
# ---------------------------------------------------------------------------


@lru_cache
def cnab240_layout(bank, direction="remittance", variant=""):
    """Records (name -> Record) of the CNAB 240 cobrança layout of ``bank``
    for ``direction`` (``remittance`` or ``return``): the FEBRABAN records with
    the bank's overrides applied (and those of its free-field ``variant``)."""
    try:
        spec = layouts.cnab240_bank(bank)
    except KeyError as exc:
        raise CnabError(None, "bank", exc.args[0]) from None
    if direction not in ("remittance", "return"):
        raise CnabError(None, "direction", f"is 'remittance' or 'return', got {direction!r}")
    overrides = dict(spec.overrides)
    if direction == "return":
        overrides.update(spec.return_overrides)
    for name, moved in spec.variants.get(variant, {}).items():
        kept = [
            f
            for f in overrides.get(name, ())
            if not any(f.name == m.name or (f.start <= m.end and m.start <= f.end) for m in moved)
        ]
        overrides[name] = (*kept, *moved)
    return MappingProxyType(
        {
            name: base.derive(*overrides.get(name, ()), defaults={"bank": bank})
            for name, base in layouts.CNAB240.items()
        }
    )


def cnab240_remittance(beneficiary, titles, file_sequence, generated_at, batch=1):
    """CNAB 240 remittance (remessa) file, lines joined with CRLF.

    One batch of ``titles``: segment P always, Q when the title has a payer,
    R when it has a fine. ``generated_at`` is a datetime."""
    bank = beneficiary.bank
    spec = layouts.cnab240_bank(bank)
    company = _company_values(beneficiary)
    common = {
        **company,
        "bank_name": spec.name,
        "batch": batch,
        "file_sequence": file_sequence,
        "remittance_number": file_sequence,
        "generated_on": generated_at.date(),
        "generated_at": generated_at.time(),
        "recorded_on": generated_at.date(),
        "file_version": spec.file_version,
        "batch_version": spec.batch_version,
    }
    records = cnab240_layout(bank, "remittance", beneficiary.variant)
    lines = [_line(records["file_header"], {**common, "file_type": "1"}, 1)]
    lines.append(_line(records["batch_header"], {**common, "operation": "R"}, 2))
    sequence = 0
    for title in titles:
        if title.movement not in layouts.MOVEMENTS.values():
            raise CnabError(len(lines) + 1, "movement", f"unknown movement {title.movement!r}")
        segments = ["P"]
        if title.payer is not None:
            segments.append("Q")
        if title.fine_code != "0":
            segments.append("R")
        values = {**common, **_title_values(title)}
        for segment in segments:
            sequence += 1
            values["sequence"] = sequence
            lines.append(_line(records[segment], values, len(lines) + 1))
    batch_values = {
        **common,
        "record_count": sequence + 2,
        "simple_count": len(titles),
        "simple_total": sum((Decimal(t.amount) for t in titles), Decimal(0)),
    }
    lines.append(_line(records["batch_trailer"], batch_values, len(lines) + 1))
    trailer = {**common, "batch_count": 1, "record_count": len(lines) + 1}
    lines.append(_line(records["file_trailer"], trailer, len(lines) + 1))
    return "\r\n".join(lines) + "\r\n"


_RECORD_TYPES_240 = {
    "0": "file_header",
    "1": "batch_header",
    "5": "batch_trailer",
    "9": "file_trailer",
}


def parse_cnab240(content, bank=None, direction=None, strict=True, pad_short_lines=False):
    """Parse a CNAB 240 cobrança file (remittance or return).

    The bank (positions 1–3) and direction (position 143: 1 remittance,
    2 return) come from the file header unless given. Besides each field, the
    structure is checked: file header first and trailer last, the bank code and
    batch number of every line, record sequence numbers inside each batch, and
    the record counts in the batch and file trailers."""
    lines = split_lines(content)
    header = lines[0] if lines else ""
    bank = bank or header[:3]
    direction = direction or {"1": "remittance", "2": "return"}.get(header[142:143])
    if direction is None:
        raise CnabError(1, "file_type", f"position 143 must be 1 or 2, got {header[142:143]!r}")
    try:
        records = cnab240_layout(bank, direction)
    except CnabError as exc:
        raise CnabError(1, exc.field, exc.message) from None

    def classify(line, number):
        if line[7] == "3":
            if line[13] not in "PQRTU":
                raise CnabError(number, "segment", f"unknown segment {line[13]!r}")
            return records[line[13]]
        if line[7] not in _RECORD_TYPES_240:
            raise CnabError(number, "record_type", f"unknown record type {line[7]!r}")
        return records[_RECORD_TYPES_240[line[7]]]

    result = read_lines(content, 240, classify, bank, pad_short_lines)
    _check_cnab240_structure(result, len(lines))
    return finish(result, strict)


def _check_cnab240_structure(result, line_count):
    records = result.records
    if not records:
        result.errors.append(CnabError(1, "line", "the file is empty"))
        return
    if records[0].line_number != 1 or records[0].kind != "file_header":
        result.errors.append(CnabError(1, "record_type", "the first line must be the file header"))
    if records[-1].line_number != line_count or records[-1].kind != "file_trailer":
        result.errors.append(
            CnabError(line_count, "record_type", "the last line must be the file trailer")
        )
    for record in records:
        if record.get("bank") not in (None, result.bank):
            result.errors.append(
                CnabError(
                    record.line_number, "bank", f"is {record['bank']}, the file is {result.bank}"
                )
            )
    batches, current = [], None
    for record in records:
        if record.kind == "batch_header":
            current = [record]
            batches.append(current)
        elif current is not None and record.kind not in ("file_header", "file_trailer"):
            current.append(record)
            if record.kind == "batch_trailer":
                current = None
        elif record.kind not in ("file_header", "file_trailer"):
            result.errors.append(
                CnabError(record.line_number, "record_type", f"{record.kind} outside a batch")
            )
    for number, batch in enumerate(batches, 1):
        for record in batch:
            if record.get("batch") not in (None, number):
                result.errors.append(
                    CnabError(
                        record.line_number, "batch", f"is {record['batch']}, expected {number}"
                    )
                )
        details = [r for r in batch if r.kind in "PQRTU"]
        check_sequence(
            result, details, "sequence", batch[0].line_number + 1, "record number in the batch"
        )
        if batch[-1].kind == "batch_trailer":
            lines_in_batch = batch[-1].line_number - batch[0].line_number + 1
            check_count(result, batch[-1], "record_count", lines_in_batch, "records in the batch")
        else:
            result.errors.append(
                CnabError(batch[-1].line_number, "record_type", "batch without a trailer")
            )
    trailer = records[-1] if records[-1].kind == "file_trailer" else None
    check_count(result, trailer, "batch_count", len(batches), "batches in the file")
    check_count(result, trailer, "record_count", line_count, "lines in the file")


# ---------------------------------------------------------------------------
# Return items (CNAB 240 T + U, CNAB 400 detail)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnItem:
    """One occurrence about one boleto in a return file.

    ``kind`` classifies the occurrence (``registered``, ``rejected``,
    ``paid``, ``written_off``, ``rebate``, ``due_date_changed``, ``fee``,
    or ``other``); ``values`` has every field read from the line(s). The
    ``pix_*`` fields come from a Pix record that follows the title's detail
    (boleto híbrido): its copy-and-paste code (EMV), txid and QR location."""

    line_number: int
    occurrence: str
    kind: str
    description: str
    our_number: str | None
    document_number: str | None = None
    due_date: date | None = None
    amount: Decimal | None = None
    amount_paid: Decimal | None = None
    net_amount: Decimal | None = None
    interest_fine: Decimal | None = None
    discount: Decimal | None = None
    rebate: Decimal | None = None
    fee: Decimal | None = None
    occurrence_date: date | None = None
    credit_date: date | None = None
    rejection_reasons: tuple = ()
    values: dict = field(default_factory=dict)
    pix_code: str | None = None
    pix_txid: str | None = None
    pix_location: str | None = None


def _reasons(raw):
    raw = (raw or "").strip()
    pairs = (raw[i : i + 2] for i in range(0, len(raw), 2))
    return tuple(p for p in pairs if p.strip("0 "))


def _return_item(line_number, values, table):
    occurrence = values.get("occurrence") or ""
    kind, description = table.get(occurrence, ("other", f"ocorrência {occurrence}"))
    copied = set(ReturnItem.__dataclass_fields__) - {
        "line_number",
        "occurrence",
        "kind",
        "description",
        "rejection_reasons",
        "values",
        "pix_code",
        "pix_txid",
        "pix_location",
    }
    return ReturnItem(
        line_number=line_number,
        occurrence=occurrence,
        kind=kind,
        description=description,
        rejection_reasons=_reasons(values.get("rejection_reasons")),
        values=dict(values),
        pix_code=(values.get("pix_code") or "").strip() or None,
        pix_txid=(values.get("pix_txid") or "").strip() or None,
        pix_location=(values.get("pix_location") or "").strip() or None,
        **{name: values.get(name) for name in copied},
    )


def cnab240_return_items(cnab_file):
    """ReturnItems of a parsed CNAB 240 return: each segment T merged with the
    segment U that follows it."""
    table = layouts.occurrences_240(cnab_file.bank)
    items, pending = [], None
    for record in cnab_file.records:
        if record.kind == "T":
            if pending:
                items.append(_return_item(pending.line_number, pending.values, table))
            pending = record
        elif record.kind == "U" and pending:
            merged = {**record.values, **pending.values}
            items.append(_return_item(pending.line_number, merged, table))
            pending = None
    if pending:
        items.append(_return_item(pending.line_number, pending.values, table))
    return items


# ---------------------------------------------------------------------------
# CNAB 400
# ---------------------------------------------------------------------------


def cnab400_layout(bank, direction):
    """Records (``header``, ``detail``, ``trailer``) of the CNAB 400
    ``direction`` (``remittance`` or ``return``) layout of ``bank``."""
    try:
        return layouts.CNAB400[bank, direction]
    except KeyError:
        known = ", ".join(sorted(b for b, d in layouts.CNAB400 if d == direction))
        raise CnabError(
            None, "bank", f"no CNAB 400 {direction} layout for bank {bank!r} (known: {known})"
        ) from None


def cnab400_remittance(beneficiary, titles, file_sequence, generated_on):
    """CNAB 400 remittance (remessa) file, lines joined with CRLF."""
    records = cnab400_layout(beneficiary.bank, "remittance")
    common = {
        **_company_values(beneficiary),
        "file_sequence": file_sequence,
        "generated_on": generated_on,
    }
    lines = [_line(records["header"], {**common, "sequence": 1}, 1)]
    fine_codes = layouts.FINE_CODES_400.get(beneficiary.bank, {})
    for title in titles:
        values = {**common, **_title_values(title), "sequence": len(lines) + 1}
        values["fine_code"] = fine_codes.get(title.fine_code, title.fine_code)
        lines.append(_line(records["detail"], values, len(lines) + 1))
    trailer = {
        "sequence": len(lines) + 1,
        "record_count": len(lines) + 1,
        "title_total": sum((Decimal(t.amount) for t in titles), Decimal(0)),
    }
    lines.append(_line(records["trailer"], trailer, len(lines) + 1))
    return "\r\n".join(lines) + "\r\n"


def parse_cnab400(content, bank=None, direction=None, strict=True, pad_short_lines=False):
    """Parse a CNAB 400 cobrança file. The bank (header 77–79) and direction
    (header position 2: 1 remittance, 2 return) come from the header unless
    given. Record sequence numbers (395–400) must run 1, 2, 3..."""
    lines = split_lines(content)
    header = lines[0] if lines else ""
    bank = bank or header[76:79]
    direction = direction or {"1": "remittance", "2": "return"}.get(header[1:2])
    if direction is None:
        raise CnabError(1, "file_type", f"position 2 must be 1 or 2, got {header[1:2]!r}")
    try:
        records = cnab400_layout(bank, direction)
    except CnabError as exc:
        raise CnabError(1, exc.field, exc.message) from None
    by_type = {r["record_type"].default: r for r in records.values()}

    def classify(line, number):
        try:
            return by_type[line[0]]
        except KeyError:
            raise CnabError(number, "record_type", f"unknown record type {line[0]!r}") from None

    result = read_lines(content, 400, classify, bank, pad_short_lines)
    kinds = [r.kind for r in result.records]
    if not kinds or kinds[0] != "header" or result.records[0].line_number != 1:
        result.errors.append(CnabError(1, "record_type", "the first line must be the header"))
    if not kinds or kinds[-1] != "trailer" or result.records[-1].line_number != len(lines):
        result.errors.append(
            CnabError(len(lines), "record_type", "the last line must be the trailer")
        )
    check_sequence(result, result.records, "sequence", 1, "sequential record number")
    return finish(result, strict)


def cnab400_return_items(cnab_file):
    """ReturnItems of the detail records of a parsed CNAB 400 return, each
    with the Pix record that follows it, if any."""
    table = layouts.OCCURRENCES_400
    details = []
    for record in cnab_file.records:
        if record.kind == "detail":
            details.append((record.line_number, dict(record.values)))
        elif record.kind == "pix" and details:
            pix = {k: v for k, v in record.values.items() if k.startswith("pix_")}
            details[-1][1].update(pix)
    return [_return_item(number, values, table) for number, values in details]
