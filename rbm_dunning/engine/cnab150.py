"""FEBRABAN CNAB 150 (layout 04): direct debit (débito automático).

Everything here is plain Python (no Odoo import).

150-character records, identified by their first character:

- A header (both directions): position 2 is 1 remittance / 2 return; 74–79 the
  file sequence (NSA), which must grow by exactly one per file and direction;
- B (bank → company) a customer opted in (2) or out (1) at the bank;
- C (company → bank) refusal of an opt-in; D (company → bank) customer id
  change;
- E (company → bank) a debit to make (150: 0 normal, 1 cancel a sent debit);
- F (bank → company) the result of a debit, with a return code
  (``RETURN_CODES``);
- Z trailer: number of records including A and Z, and the total of the E
  (remittance) or F (return) amounts.

Dates are AAAAMMDD; amounts have two implied decimals; currency ``03`` is the
real. Terms: customer id — identificação do cliente na empresa; account id —
identificação do cliente no banco (conta); file sequence — NSA.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .fixedwidth import (
    CnabError,
    Record,
    alpha,
    amount,
    check_count,
    const,
    date_,
    finish,
    int_,
    num,
    read_lines,
    split_lines,
    text,
)

LAYOUT_VERSION = "04"
SERVICE = "DEBITO AUTOMATICO"
CURRENCY_REAL = "03"
_YMD = "%Y%m%d"


def _ymd(name, start, end):
    return date_(name, start, end, _YMD)


_CUSTOMER = (
    alpha("customer_id", 2, 26),
    num("branch", 27, 30),
    alpha("account_id", 31, 44),
)

RECORDS = {
    record.name: record
    for record in (
        Record(
            "A",
            150,
            (
                const("record_type", 1, 1, "A"),
                num("file_type", 2, 2),  # 1 remessa, 2 retorno
                alpha("agreement", 3, 22),
                text("company_name", 23, 42),
                num("bank", 43, 45),
                text("bank_name", 46, 65),
                _ymd("generated_on", 66, 73),
                int_("file_sequence", 74, 79),
                num("layout_version", 80, 81, LAYOUT_VERSION),
                alpha("service", 82, 98, SERVICE),
            ),
        ),
        Record(
            "B",
            150,
            (
                const("record_type", 1, 1, "B"),
                *_CUSTOMER,
                _ymd("option_date", 45, 52),
                num("movement", 150, 150),  # 1 exclusão, 2 inclusão
            ),
        ),
        Record(
            "C",
            150,
            (
                const("record_type", 1, 1, "C"),
                *_CUSTOMER,
                text("occurrence1", 45, 84),
                text("occurrence2", 85, 124),
                num("movement", 150, 150),
            ),
        ),
        Record(
            "D",
            150,
            (
                const("record_type", 1, 1, "D"),
                alpha("previous_customer_id", 2, 26),
                num("branch", 27, 30),
                alpha("account_id", 31, 44),
                alpha("customer_id", 45, 69),
                text("occurrence", 70, 129),
                num("movement", 150, 150),  # 0 alteração, 1 exclusão
            ),
        ),
        Record(
            "E",
            150,
            (
                const("record_type", 1, 1, "E"),
                *_CUSTOMER,
                _ymd("due_date", 45, 52),
                amount("amount", 53, 67),
                num("currency", 68, 69, CURRENCY_REAL),
                alpha("company_use", 70, 129),
                num("movement", 150, 150, "0"),  # 0 débito normal, 1 cancelamento
            ),
        ),
        Record(
            "F",
            150,
            (
                const("record_type", 1, 1, "F"),
                *_CUSTOMER,
                _ymd("debit_date", 45, 52),
                amount("amount", 53, 67),
                num("return_code", 68, 69),
                alpha("company_use", 70, 129),
                num("movement", 150, 150),
            ),
        ),
        Record(
            "Z",
            150,
            (
                const("record_type", 1, 1, "Z"),
                int_("record_count", 2, 7),
                amount("total", 8, 24),
            ),
        ),
    )
}


@dataclass(frozen=True)
class ReturnCode:
    code: str
    key: str
    description: str  # pt_BR, as in the FEBRABAN manual
    debited: bool = False


RETURN_CODES = {
    rc.code: rc
    for rc in (
        ReturnCode("00", "debited", "Débito efetuado", debited=True),
        ReturnCode("01", "insufficient_funds", "Insuficiência de fundos"),
        ReturnCode("02", "account_not_registered", "Conta corrente não cadastrada"),
        ReturnCode("04", "other_restrictions", "Outras restrições"),
        ReturnCode("05", "over_limit", "Valor do débito excede o limite aprovado"),
        ReturnCode("10", "branch_closing", "Agência em regime de encerramento"),
        ReturnCode("12", "invalid_amount", "Valor inválido"),
        ReturnCode("13", "invalid_date", "Data de lançamento inválida"),
        ReturnCode("14", "invalid_branch", "Agência inválida"),
        ReturnCode("15", "invalid_account", "Conta corrente inválida"),
        ReturnCode("18", "date_before_processing", "Data do débito anterior à do processamento"),
        ReturnCode("30", "no_authorization", "Sem contrato de débito automático"),
        ReturnCode(
            "31",
            "debited_another_date",
            "Débito efetuado em data diferente da informada (feriado na praça de débito)",
            debited=True,
        ),
        ReturnCode("96", "maintenance", "Manutenção do cadastro"),
        ReturnCode("97", "cancellation_not_found", "Cancelamento: não encontrado"),
        ReturnCode("98", "out_of_time", "Cancelamento: não efetuado, fora do tempo hábil"),
        ReturnCode("99", "cancelled", "Cancelamento: cancelado conforme solicitação"),
    )
}


def return_code(code):
    """The ReturnCode of ``code``; an ``unknown`` one for codes not in the table."""
    return RETURN_CODES.get(code) or ReturnCode(code, "unknown", f"Código de retorno {code}")


def check_file_sequence(previous, current, line_number=1):
    """CnabError unless ``current`` follows ``previous`` (NSA strictly
    sequential: no gap, no repeat)."""
    if current != previous + 1:
        problem = "repeats an earlier file" if current <= previous else "skips files"
        raise CnabError(
            line_number,
            "file_sequence",
            f"is {current}, expected {previous + 1} after {previous} ({problem})",
        )


# ---------------------------------------------------------------------------
# Remittance
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Debit:
    """One debit to request (record E). ``cancel`` asks the bank to cancel a
    debit sent in an earlier file."""

    customer_id: str
    branch: str
    account_id: str
    due_date: date
    amount: Decimal
    company_use: str = ""
    cancel: bool = False


@dataclass(frozen=True)
class Refusal:
    """An opt-in the bank sent (record B) that the company does not accept
    (record C, "ocorrências no cadastramento"): the customer as the B record
    named them, and why (two texts of 40 characters)."""

    customer_id: str
    branch: str
    account_id: str
    occurrence1: str
    occurrence2: str = ""
    movement: str = "2"


def cnab150_remittance(
    agreement, company_name, bank, bank_name, file_sequence, generated_on, debits, refusals=()
):
    """CNAB 150 remittance: header A, one C per refused opt-in, one E per
    debit, trailer Z (CRLF)."""
    lines = [
        RECORDS["A"].to_line(
            {
                "file_type": "1",
                "agreement": agreement,
                "company_name": company_name.upper(),
                "bank": bank,
                "bank_name": bank_name.upper(),
                "generated_on": generated_on,
                "file_sequence": file_sequence,
            },
            1,
        )
    ]
    for refusal in refusals:
        values = {
            "customer_id": refusal.customer_id,
            "branch": refusal.branch,
            "account_id": refusal.account_id,
            "occurrence1": refusal.occurrence1.upper(),
            "occurrence2": refusal.occurrence2.upper(),
            "movement": refusal.movement,
        }
        lines.append(RECORDS["C"].to_line(values, len(lines) + 1))
    total = Decimal(0)
    for debit in debits:
        total += Decimal(debit.amount)
        values = {
            "customer_id": debit.customer_id,
            "branch": debit.branch,
            "account_id": debit.account_id,
            "due_date": debit.due_date,
            "amount": debit.amount,
            "company_use": debit.company_use,
            "movement": "1" if debit.cancel else "0",
        }
        lines.append(RECORDS["E"].to_line(values, len(lines) + 1))
    lines.append(
        RECORDS["Z"].to_line({"record_count": len(lines) + 1, "total": total}, len(lines) + 1)
    )
    return "\r\n".join(lines) + "\r\n"


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


def parse_cnab150(content, expected_file_sequence=None, strict=True, pad_short_lines=False):
    """Parse a CNAB 150 file (remittance or return).

    Checks each field, the layout version (04), header first and trailer
    last, the trailer's record count and total (E amounts in a remittance, F
    amounts in a return) and, when ``expected_file_sequence`` is given, that
    the header's NSA is exactly that number."""

    def classify(line, number):
        try:
            return RECORDS[line[0]]
        except KeyError:
            raise CnabError(
                number, "record_type", f"unknown or unsupported record type {line[0]!r}"
            ) from None

    line_count = len(split_lines(content))
    result = read_lines(content, 150, classify, pad_short_lines=pad_short_lines)
    records = result.records
    header = records[0] if records and records[0].kind == "A" else None
    if header is None or header.line_number != 1:
        result.errors.append(CnabError(1, "record_type", "the first record must be the A header"))
    else:
        if header.get("layout_version") != LAYOUT_VERSION:
            result.errors.append(
                CnabError(
                    1,
                    "layout_version",
                    f"is {header.get('layout_version')!r}, only {LAYOUT_VERSION} is supported",
                )
            )
        if expected_file_sequence is not None:
            try:
                check_file_sequence(expected_file_sequence - 1, header.get("file_sequence"))
            except CnabError as exc:
                result.errors.append(exc)
    trailer = records[-1] if records and records[-1].kind == "Z" else None
    if trailer is None or trailer.line_number != line_count:
        result.errors.append(
            CnabError(line_count, "record_type", "the last record must be the Z trailer")
        )
    else:
        check_count(
            result, trailer, "record_count", line_count, "records in the file, A and Z included"
        )
        kind = "F" if header and header.get("file_type") == "2" else "E"
        total = sum((r.get("amount") or 0 for r in result.of_kind(kind)), Decimal(0))
        check_count(result, trailer, "total", total, f"sum of the {kind} records")
    for record in records[1:-1]:
        if record.kind in ("A", "Z"):
            result.errors.append(
                CnabError(record.line_number, "record_type", f"a second {record.kind} record")
            )
    return finish(result, strict)


@dataclass(frozen=True)
class DebitResult:
    """The bank's answer about one debit (record F)."""

    line_number: int
    customer_id: str
    branch: str
    account_id: str
    debit_date: date | None
    amount: Decimal | None
    return_code: ReturnCode
    company_use: str
    cancel: bool
    values: dict = field(default_factory=dict)

    @property
    def debited(self):
        return self.return_code.debited


@dataclass(frozen=True)
class MandateChange:
    """A customer's opt-in (``inclusion``) or opt-out (``exclusion``) at the
    bank (record B)."""

    line_number: int
    customer_id: str
    branch: str
    account_id: str
    option_date: date | None
    action: str


def cnab150_results(cnab_file):
    """DebitResults of the F records of a parsed return."""
    return [
        DebitResult(
            line_number=r.line_number,
            customer_id=r["customer_id"],
            branch=r["branch"],
            account_id=r["account_id"],
            debit_date=r["debit_date"],
            amount=r["amount"],
            return_code=return_code(r["return_code"]),
            company_use=r["company_use"],
            cancel=r["movement"] == "1",
            values=dict(r.values),
        )
        for r in cnab_file.of_kind("F")
    ]


def cnab150_mandates(cnab_file):
    """MandateChanges of the B records of a parsed return."""
    actions = {"1": "exclusion", "2": "inclusion"}
    return [
        MandateChange(
            line_number=r.line_number,
            customer_id=r["customer_id"],
            branch=r["branch"],
            account_id=r["account_id"],
            option_date=r["option_date"],
            action=actions.get(r["movement"], "unknown"),
        )
        for r in cnab_file.of_kind("B")
    ]
