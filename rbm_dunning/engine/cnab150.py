"""FEBRABAN CNAB 150: direct debit (débito automático), layout versions 04,
05 and 08.

Everything here is plain Python (no Odoo import).

150-character records, identified by their first character:

- A header (both directions): position 2 is 1 remittance / 2 return; 74–79 the
  file sequence (NSA), which must grow by exactly one per file and direction;
  80–81 the layout version, which decides how every other record is read;
- B (bank → company) a customer opted in (2) or out (1) at the bank;
- C (company → bank) refusal of an opt-in; D (company → bank) customer id
  change;
- E (company → bank) a debit to make (150: 0 normal, 1 cancel a sent debit);
- F (bank → company) the result of a debit, with a return code
  (``return_code``);
- Z trailer: number of records including A and Z, and the total of the E
  (remittance) or F (return) amounts.

Dates are AAAAMMDD; amounts have two implied decimals; currency ``03`` is the
real. Terms: customer id — identificação do cliente na empresa; account id —
identificação do cliente no banco (conta); file sequence — NSA.

Sources of the positions (``MANUALS``):

- 04: FEBRABAN, "Manual do Débito Automático", versão 04 (editions of
  28.11.2003 and 02.05.2007);
- 05: FEBRABAN, "Manual do Débito Automático", versão 05, "Cadastramento pela
  Empresa ou Órgão com validação da titularidade", 06.05.2008 (Banrisul's
  "Manual do Débito Automático — Versão 05" states the same standard, updated
  01.05.2007);
- 08: FEBRABAN, "Manual do Débito Automático", versão 08, "Cadastramento pela
  Instituição Financeira Destinatária — Resolução 4.790/2020 e Circular
  4.022/2020", standard updated 27.05.2020, manual of 03.11.2020.

What changes between versions, for the records written or read here:

- A: only the version (80–81). The service name is written plain
  (``DEBITO AUTOMATICO``, the files are ASCII); a header read with accents is
  accepted, the field is not checked;
- 05: E and F carry the payer's CPF/CNPJ (130 type 1 CNPJ / 2 CPF, 131–145
  number): the bank checks that the account belongs to that document
  (return codes 19 and 20). The E company-use area is 70–128 (59 characters;
  129 is left blank), the F one 70–129;
- 08: the account id grows from 14 (31–44) to 20 characters (31–50), moving
  every later field of B, C, D, E and F by 6 positions; the E company-use area
  shrinks to 76–128 (53) and 146–148 carry the operation type, the overdraft
  (cheque especial) option and the partial / after-due debit option; F
  company use is 76–129; return codes gain two-letter codes (``DP``, ``PB``…).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .checkdigits import DocumentError, validate_document
from .fixedwidth import (
    CnabError,
    Record,
    alpha,
    amount,
    check_count,
    const,
    date_,
    doc,
    finish,
    int_,
    num,
    read_lines,
    split_lines,
    text,
)

LAYOUT_VERSION = "04"  # agreements that name no version
LAYOUT_VERSIONS = ("04", "05", "08")
MANUALS = {
    "04": "FEBRABAN Manual do Débito Automático, versão 04 (2003, rev. 2007)",
    "05": "FEBRABAN Manual do Débito Automático, versão 05 (06.05.2008)",
    "08": "FEBRABAN Manual do Débito Automático, versão 08 (27.05.2020, manual 03.11.2020)",
}
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


# -- version 05: B, C, D as in 04; E and F carry the payer's CPF/CNPJ --------
# (FEBRABAN versão 05, 06.05.2008, records E and F)
_PAYER = (
    num("payer_document_type", 130, 130),  # 1 CNPJ, 2 CPF
    doc("payer_document", 131, 145),  # right-aligned, zero-filled (letters: alphanumeric CNPJ)
)
_RECORDS_05 = {
    **RECORDS,
    "A": RECORDS["A"].derive(num("layout_version", 80, 81, "05")),
    "E": Record(
        "E",
        150,
        (
            const("record_type", 1, 1, "E"),
            *_CUSTOMER,
            _ymd("due_date", 45, 52),
            amount("amount", 53, 67),
            num("currency", 68, 69, CURRENCY_REAL),
            alpha("company_use", 70, 128),  # 129 left blank
            *_PAYER,
            num("movement", 150, 150, "0"),  # 146-149 reserved
        ),
    ),
    "F": Record(
        "F",
        150,
        (
            const("record_type", 1, 1, "F"),
            *_CUSTOMER,
            _ymd("debit_date", 45, 52),
            amount("amount", 53, 67),
            num("return_code", 68, 69),
            alpha("company_use", 70, 129),
            *_PAYER,
            num("movement", 150, 150),  # 146-149 reserved
        ),
    ),
}

# -- version 08: the account id has 20 characters (31-50) -------------------
# (FEBRABAN versão 08, 27.05.2020, records B, C, D, E, F)
_CUSTOMER_08 = (
    alpha("customer_id", 2, 26),
    num("branch", 27, 30),
    alpha("account_id", 31, 50),
)
_RECORDS_08 = {
    "A": RECORDS["A"].derive(num("layout_version", 80, 81, "08")),
    "B": Record(
        "B",
        150,
        (
            const("record_type", 1, 1, "B"),
            *_CUSTOMER_08,
            _ymd("option_date", 51, 58),
            num("movement", 150, 150),  # 1 exclusão, 2 inclusão
        ),
    ),
    "C": Record(
        "C",
        150,
        (
            const("record_type", 1, 1, "C"),
            *_CUSTOMER_08,
            text("occurrence1", 51, 90),
            text("occurrence2", 91, 130),
            num("movement", 150, 150),
        ),
    ),
    "D": Record(
        "D",
        150,
        (
            const("record_type", 1, 1, "D"),
            alpha("previous_customer_id", 2, 26),
            num("branch", 27, 30),
            alpha("account_id", 31, 50),
            alpha("customer_id", 51, 75),
            text("occurrence", 76, 130),
            _ymd("authorization_until", 131, 138),  # nova data de vencimento da autorização
            num("overdraft_change", 139, 139),  # 0 sem alteração, 1 sim, 2 não
            num("after_due_change", 140, 140),  # idem, débito parcial / após o vencimento
            num("movement", 150, 150),  # 0 alteração, 1 exclusão
        ),
    ),
    "E": Record(
        "E",
        150,
        (
            const("record_type", 1, 1, "E"),
            *_CUSTOMER_08,
            _ymd("due_date", 51, 58),
            amount("amount", 59, 73),
            num("currency", 74, 75, CURRENCY_REAL),
            alpha("company_use", 76, 128),  # 129 left blank
            *_PAYER,
            num("operation_type", 146, 146, "3"),  # 1 arred. mercantil, 2 crédito, 3 outro
            num("overdraft", 147, 147, "2"),  # uso do cheque especial: 1 sim, 2 não
            num("partial_after_due", 148, 148, "2"),  # débito parcial/após venc.: 1 sim, 2 não
            num("movement", 150, 150, "0"),  # 0 normal, 1 cancelamento
        ),
    ),
    "F": Record(
        "F",
        150,
        (
            const("record_type", 1, 1, "F"),
            *_CUSTOMER_08,
            _ymd("debit_date", 51, 58),
            amount("amount", 59, 73),
            alpha("return_code", 74, 75),  # two digits or two letters
            alpha("company_use", 76, 129),
            *_PAYER,
            num("movement", 150, 150),  # 146-149 reserved
        ),
    ),
    "Z": RECORDS["Z"],
}

LAYOUTS = {"04": RECORDS, "05": _RECORDS_05, "08": _RECORDS_08}


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


# version 05 adds the answers of the holder check (validação da titularidade)
_RETURN_CODES_05 = {
    **RETURN_CODES,
    **{
        rc.code: rc
        for rc in (
            ReturnCode("19", "not_holder", "Agência/conta não pertence ao CPF/CNPJ informado"),
            ReturnCode("20", "joint_account", "Conta conjunta não solidária"),
        )
    },
}
# version 08 adds two-letter codes: partial debits, opt-ins registered by the
# company (Resolução 4.790/2020) and account portability
_RETURN_CODES_08 = {
    **_RETURN_CODES_05,
    **{
        rc.code: rc
        for rc in (
            ReturnCode("DP", "debited_partially", "Débito efetuado parcialmente", debited=True),
            ReturnCode(
                "FP", "short_notice", "Prazo inferior a 10 dias de antecedência do vencimento"
            ),
            ReturnCode("CF", "registered", "Cadastramento: cadastro realizado"),
            ReturnCode(
                "NC", "registration_bad_account", "Cadastramento não realizado: conta inválida"
            ),
            ReturnCode(
                "CH",
                "registration_bad_overdraft",
                "Cadastramento não realizado: opção de uso do cheque especial inválida",
            ),
            ReturnCode(
                "PV",
                "registration_bad_after_due",
                "Cadastramento não realizado: opção de débito após o vencimento inválida",
            ),
            ReturnCode(
                "DT",
                "registration_bad_date",
                "Cadastramento não realizado: data de vencimento do cadastramento inválida",
            ),
            ReturnCode(
                "OP",
                "registration_bad_operation",
                "Cadastramento não realizado: tipo de operação inválido",
            ),
            ReturnCode(
                "CE", "registration_exists", "Cadastramento não realizado: cadastro já existente"
            ),
            ReturnCode(
                "CD", "registration_cancelled", "Cancelamento de cadastro realizado na depositária"
            ),
            ReturnCode("PB", "portability", "Débito não realizado: cliente com portabilidade"),
        )
    },
}
RETURN_CODES_BY_VERSION = {"04": RETURN_CODES, "05": _RETURN_CODES_05, "08": _RETURN_CODES_08}


def return_code(code, version=LAYOUT_VERSION):
    """The ReturnCode of ``code`` in layout ``version``; an ``unknown`` one
    for codes that version does not define."""
    table = RETURN_CODES_BY_VERSION.get(version, RETURN_CODES)
    return table.get(code) or ReturnCode(code, "unknown", f"Código de retorno {code}")


def payer_document(value):
    """``(type, number)`` of the payer's CPF/CNPJ as records E and F of
    versions 05 and 08 carry it: type ``1`` CNPJ / ``2`` CPF, the number
    right-aligned and zero-filled in 15 positions — an alphanumeric CNPJ
    (IN RFB 2.229/2024) with its letters in the same positions, as in the
    CNAB 240/400 inscription fields. ValueError for a missing or invalid
    document."""
    if not value:
        raise DocumentError("the payer's CPF/CNPJ is required from layout 05 on", "missing")
    kind, number = validate_document(value)
    return ("1" if kind == "cnpj" else "2"), number.zfill(15)


def layout(version):
    """The records of layout ``version``; CnabError for a version not supported."""
    try:
        return LAYOUTS[version]
    except KeyError:
        raise CnabError(
            None,
            "layout_version",
            f"is {version!r}, only {', '.join(LAYOUT_VERSIONS)} are supported",
        ) from None


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
    payer_document: str = ""  # CPF/CNPJ, written from layout 05 on


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


ACCOUNT_FILLS = ("spaces", "zeros")


def _account(value, records, fill):
    """The account id as the agreement's bank wants it: left-aligned with
    spaces (FEBRABAN), or right-aligned with zeros."""
    if fill == "zeros" and value:
        return value.rjust(records["E"]["account_id"].width, "0")
    return value


def cnab150_remittance(
    agreement,
    company_name,
    bank,
    bank_name,
    file_sequence,
    generated_on,
    debits,
    refusals=(),
    version=LAYOUT_VERSION,
    account_fill="spaces",
):
    """CNAB 150 remittance in layout ``version``: header A, one C per refused
    opt-in, one E per debit, trailer Z (CRLF). ``account_fill`` is how the
    account id is filled (``spaces`` or ``zeros``, see ``_account``)."""
    records = layout(version)
    if account_fill not in ACCOUNT_FILLS:
        raise CnabError(None, "account_id", f"unknown filling {account_fill!r}")
    lines = [
        records["A"].to_line(
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
            "account_id": _account(refusal.account_id, records, account_fill),
            "occurrence1": refusal.occurrence1.upper(),
            "occurrence2": refusal.occurrence2.upper(),
            "movement": refusal.movement,
        }
        lines.append(records["C"].to_line(values, len(lines) + 1))
    total = Decimal(0)
    for debit in debits:
        total += Decimal(debit.amount)
        values = {
            "customer_id": debit.customer_id,
            "branch": debit.branch,
            "account_id": _account(debit.account_id, records, account_fill),
            "due_date": debit.due_date,
            "amount": debit.amount,
            "company_use": debit.company_use,
            "movement": "1" if debit.cancel else "0",
        }
        if "payer_document" in records["E"].names:
            try:
                kind, number = payer_document(debit.payer_document)
            except ValueError as exc:
                raise CnabError(len(lines) + 1, "payer_document", str(exc)) from None
            values.update(payer_document_type=kind, payer_document=number)
        lines.append(records["E"].to_line(values, len(lines) + 1))
    lines.append(
        records["Z"].to_line({"record_count": len(lines) + 1, "total": total}, len(lines) + 1)
    )
    return "\r\n".join(lines) + "\r\n"


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


def declared_version(content):
    """The layout version the header (first line, positions 80-81) declares,
    or None when the file does not start with an A record."""
    lines = split_lines(content)
    first = lines[0] if lines else ""
    return first[79:81] if first[:1] == "A" and len(first) >= 81 else None


def parse_cnab150(
    content, expected_file_sequence=None, strict=True, pad_short_lines=False, expected_version=None
):
    """Parse a CNAB 150 file (remittance or return), each record read in the
    layout version its header declares.

    Checks each field, the layout version (one of ``LAYOUT_VERSIONS`` and,
    when ``expected_version`` is given, that one), header first and trailer
    last, the trailer's record count and total (E amounts in a remittance, F
    amounts in a return) and, when ``expected_file_sequence`` is given, that
    the header's NSA is exactly that number."""
    version = declared_version(content)
    # an unknown version is reported; the lines are then read as 04 to find
    # what else is wrong, never applied (the version error stops the import)
    records_of = LAYOUTS.get(version, RECORDS)

    def classify(line, number):
        try:
            return records_of[line[0]]
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
        if version not in LAYOUTS:
            result.errors.append(
                CnabError(
                    1,
                    "layout_version",
                    f"is {version!r}, only {', '.join(LAYOUT_VERSIONS)} are supported",
                )
            )
        elif expected_version and version != expected_version:
            result.errors.append(
                CnabError(
                    1, "layout_version", f"is {version!r}, the agreement uses {expected_version}"
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
    """DebitResults of the F records of a parsed return, their return codes
    read in the version the header declares."""
    version = cnab_file.header.get("layout_version") if cnab_file.header else LAYOUT_VERSION
    return [
        DebitResult(
            line_number=r.line_number,
            customer_id=r["customer_id"],
            branch=r["branch"],
            account_id=r["account_id"],
            debit_date=r["debit_date"],
            amount=r["amount"],
            return_code=return_code(r["return_code"], version),
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
