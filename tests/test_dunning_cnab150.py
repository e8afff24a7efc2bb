"""Tests for ``rbm_dunning/engine/cnab150.py``: FEBRABAN CNAB 150 (layout 04)
direct debit (plain Python, no Odoo). Record positions and return codes as in
the project's notes on Brazil."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import cnab150
from rbm_dunning_engine.cnab150 import RECORDS, CnabError

D = Decimal

DEBITS = [
    cnab150.Debit("CONTRATO-0001", "1234", "00001234567", date(2026, 3, 10), D("199.90"), "FAT 1"),
    cnab150.Debit("CONTRATO-0002", "0042", "98765", date(2026, 3, 10), D("49.10")),
    cnab150.Debit("CONTRATO-0003", "0042", "55555", date(2026, 2, 10), D("10.00"), cancel=True),
]


def _remittance(file_sequence=12):
    return cnab150.cnab150_remittance(
        agreement="CONV123",
        company_name="Empresa Recorrente",
        bank="341",
        bank_name="Banco Itaú",
        file_sequence=file_sequence,
        generated_on=date(2026, 2, 20),
        debits=DEBITS,
    )


def test_remittance_layout():
    lines = _remittance().split("\r\n")
    assert lines[-1] == "" and all(len(line) == 150 for line in lines[:-1])
    header, *details, trailer = lines[:-1]
    assert header[0] == "A" and header[1] == "1"
    assert header[2:22] == "CONV123".ljust(20)
    assert header[42:45] == "341"
    assert header[45:65] == "BANCO ITAU".ljust(20)
    assert header[65:73] == "20260220"
    assert header[73:79] == "000012"
    assert header[79:81] == "04"
    assert header[81:98] == "DEBITO AUTOMATICO"
    first = details[0]
    assert first[0] == "E" and first[1:26] == "CONTRATO-0001".ljust(25)
    assert first[26:30] == "1234" and first[30:44] == "00001234567".ljust(14)
    assert first[44:52] == "20260310"
    assert first[52:67] == "000000000019990"
    assert first[67:69] == "03"
    assert first[69:129] == "FAT 1".ljust(60)
    assert first[149] == "0" and details[2][149] == "1"
    assert trailer[0] == "Z" and trailer[1:7] == "000005"
    assert trailer[7:24] == "00000000000025900"


def test_remittance_with_refused_opt_ins():
    content = cnab150.cnab150_remittance(
        agreement="CONV123",
        company_name="Empresa Recorrente",
        bank="341",
        bank_name="Banco Itaú",
        file_sequence=3,
        generated_on=date(2026, 2, 20),
        debits=DEBITS[:1],
        refusals=[cnab150.Refusal("NOBODY", "0810", "0012345X", "Cliente não identificado")],
    )
    lines = content.split("\r\n")[:-1]
    assert [line[0] for line in lines] == ["A", "C", "E", "Z"]
    refusal = lines[1]
    assert len(refusal) == 150
    assert refusal[1:26] == "NOBODY".ljust(25)
    assert refusal[26:30] == "0810" and refusal[30:44] == "0012345X".ljust(14)
    assert refusal[44:84] == "CLIENTE NAO IDENTIFICADO".ljust(40)
    assert refusal[84:124] == " " * 40
    assert refusal[149] == "2"
    parsed = cnab150.parse_cnab150(content, expected_file_sequence=3)
    assert not parsed.errors
    (record,) = parsed.of_kind("C")
    assert (record["customer_id"], record["occurrence1"]) == ("NOBODY", "CLIENTE NAO IDENTIFICADO")
    # the trailer counts every record and totals the debits only
    assert parsed.records[-1]["record_count"] == 4
    assert parsed.records[-1]["total"] == D("199.90")


def test_remittance_round_trip():
    parsed = cnab150.parse_cnab150(_remittance(), expected_file_sequence=12)
    header = parsed.records[0]
    assert (header["file_type"], header["file_sequence"], header["layout_version"]) == (
        "1",
        12,
        "04",
    )
    assert header["generated_on"] == date(2026, 2, 20)
    debits = parsed.of_kind("E")
    assert [(r["customer_id"], r["branch"], r["account_id"]) for r in debits] == [
        (d.customer_id, d.branch, d.account_id) for d in DEBITS
    ]
    assert [(r["due_date"], r["amount"]) for r in debits] == [
        (d.due_date, d.amount) for d in DEBITS
    ]
    assert [r["movement"] for r in debits] == ["0", "0", "1"]
    trailer = parsed.records[-1]
    assert (trailer["record_count"], trailer["total"]) == (5, D("259.00"))


def _return_file(results, file_sequence=7, mandates=()):
    lines = [
        RECORDS["A"].to_line(
            {
                "file_type": "2",
                "agreement": "CONV123",
                "company_name": "EMPRESA",
                "bank": "341",
                "bank_name": "BANCO ITAU",
                "generated_on": date(2026, 3, 11),
                "file_sequence": file_sequence,
            }
        )
    ]
    for customer_id, option_date, movement in mandates:
        lines.append(
            RECORDS["B"].to_line(
                {
                    "customer_id": customer_id,
                    "branch": "1234",
                    "account_id": "00001234567",
                    "option_date": option_date,
                    "movement": movement,
                }
            )
        )
    total = D(0)
    for customer_id, amount, code in results:
        total += amount
        lines.append(
            RECORDS["F"].to_line(
                {
                    "customer_id": customer_id,
                    "branch": "1234",
                    "account_id": "00001234567",
                    "debit_date": date(2026, 3, 10),
                    "amount": amount,
                    "return_code": code,
                    "company_use": "FAT " + customer_id[-1],
                    "movement": "0",
                }
            )
        )
    lines.append(RECORDS["Z"].to_line({"record_count": len(lines) + 1, "total": total}))
    return "\r\n".join(lines) + "\r\n"


def test_return_results_and_mandates():
    content = _return_file(
        [("CONTRATO-0001", D("199.90"), "00"), ("CONTRATO-0002", D("49.10"), "01")],
        mandates=[("CONTRATO-0009", date(2026, 3, 1), "2"), ("CONTRATO-0008", None, "1")],
    )
    parsed = cnab150.parse_cnab150(content, expected_file_sequence=7)
    paid, unpaid = cnab150.cnab150_results(parsed)
    assert (paid.customer_id, paid.amount, paid.debit_date) == (
        "CONTRATO-0001",
        D("199.90"),
        date(2026, 3, 10),
    )
    assert paid.debited and paid.return_code.key == "debited"
    assert paid.return_code.description == "Débito efetuado"
    assert (paid.company_use, paid.cancel, paid.line_number) == ("FAT 1", False, 4)
    assert not unpaid.debited and unpaid.return_code.key == "insufficient_funds"
    inclusion, exclusion = cnab150.cnab150_mandates(parsed)
    assert (inclusion.customer_id, inclusion.action, inclusion.option_date) == (
        "CONTRATO-0009",
        "inclusion",
        date(2026, 3, 1),
    )
    assert (exclusion.action, exclusion.option_date) == ("exclusion", None)


RETURN_CODES = {  # BRAZIL.md
    "00": "debited",
    "01": "insufficient_funds",
    "02": "account_not_registered",
    "04": "other_restrictions",
    "05": "over_limit",
    "10": "branch_closing",
    "12": "invalid_amount",
    "13": "invalid_date",
    "14": "invalid_branch",
    "15": "invalid_account",
    "18": "date_before_processing",
    "30": "no_authorization",
    "31": "debited_another_date",
    "96": "maintenance",
    "97": "cancellation_not_found",
    "98": "out_of_time",
    "99": "cancelled",
}


def test_return_code_table():
    assert {code: rc.key for code, rc in cnab150.RETURN_CODES.items()} == RETURN_CODES
    assert {code for code, rc in cnab150.RETURN_CODES.items() if rc.debited} == {"00", "31"}
    unknown = cnab150.return_code("77")
    assert (unknown.key, unknown.debited) == ("unknown", False)


def test_file_sequence_must_be_strictly_sequential():
    cnab150.check_file_sequence(41, 42)
    with pytest.raises(CnabError, match="is 44, expected 42 after 41 \\(skips files\\)"):
        cnab150.check_file_sequence(41, 44)
    with pytest.raises(CnabError, match="is 41, expected 42 after 41 \\(repeats"):
        cnab150.check_file_sequence(41, 41)
    with pytest.raises(CnabError) as exc:
        cnab150.parse_cnab150(_return_file([], file_sequence=9), expected_file_sequence=8)
    assert (exc.value.line_number, exc.value.field) == (1, "file_sequence")


def _lines(content):
    return content.split("\r\n")[:-1]


def _put(line, start, text):
    return line[: start - 1] + text + line[start - 1 + len(text) :]


@pytest.mark.parametrize(
    "change, line_number, field, message",
    [
        (lambda ls: ls.__setitem__(4, _put(ls[4], 2, "000009")), 5, "record_count", "expected 5"),
        (lambda ls: ls.__setitem__(4, _put(ls[4], 8, "1" * 17)), 5, "total", "sum of the E"),
        (lambda ls: ls.__setitem__(1, _put(ls[1], 53, "0000000001999O")), 2, "amount", "digits"),
        (lambda ls: ls.__setitem__(1, _put(ls[1], 45, "20260231")), 2, "due_date", "not a date"),
        (lambda ls: ls.__setitem__(1, "X" + ls[1][1:]), 2, "record_type", "unknown or unsup"),
        (lambda ls: ls.__setitem__(0, _put(ls[0], 80, "03")), 1, "layout_version", "only 04"),
        (lambda ls: ls.__setitem__(2, ls[2][:149]), 3, "line", "has 149 characters"),
        (lambda ls: ls.pop(), 4, "record_type", "last record must be the Z"),
        (lambda ls: ls.pop(0), 1, "record_type", "first record must be the A"),
        (lambda ls: ls.insert(2, ls[0]), 3, "record_type", "a second A record"),
    ],
)
def test_errors_name_line_and_field(change, line_number, field, message):
    lines = _lines(_remittance())
    change(lines)
    content = "\r\n".join(lines) + "\r\n"
    parsed = cnab150.parse_cnab150(content, strict=False)
    matching = [e for e in parsed.errors if (e.line_number, e.field) == (line_number, field)]
    assert matching and message in matching[0].message
    with pytest.raises(CnabError):
        cnab150.parse_cnab150(content)


def test_remittance_rejects_values_that_do_not_fit():
    debit = cnab150.Debit("X" * 26, "1234", "1", date(2026, 3, 10), D("1"))
    with pytest.raises(CnabError, match="line 2: customer_id: .* holds 25"):
        cnab150.cnab150_remittance("C", "E", "341", "B", 1, date(2026, 1, 1), [debit])
    debit = cnab150.Debit("X", "12345", "1", date(2026, 3, 10), D("1"))
    with pytest.raises(CnabError, match="line 2: branch"):
        cnab150.cnab150_remittance("C", "E", "341", "B", 1, date(2026, 1, 1), [debit])


debits = st.builds(
    cnab150.Debit,
    customer_id=st.text(alphabet="ABCXYZ0123456789-/ ", max_size=25).map(str.rstrip),
    branch=st.text(alphabet="0123456789", min_size=4, max_size=4),
    account_id=st.text(alphabet="0123456789X", max_size=14),
    due_date=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    amount=st.integers(0, 10**15 - 1).map(lambda c: D(c).scaleb(-2)),
    company_use=st.text(alphabet="ABC 123", max_size=60).map(str.rstrip),
    cancel=st.booleans(),
)


@given(st.lists(debits, max_size=5), st.integers(1, 999_999))
def test_remittance_round_trip_property(items, file_sequence):
    content = cnab150.cnab150_remittance(
        "CONV", "EMPRESA", "001", "BB", file_sequence, date(2026, 1, 1), items
    )
    parsed = cnab150.parse_cnab150(content, expected_file_sequence=file_sequence)
    read = [
        cnab150.Debit(
            r["customer_id"],
            r["branch"],
            r["account_id"],
            r["due_date"],
            r["amount"],
            r["company_use"],
            r["movement"] == "1",
        )
        for r in parsed.of_kind("E")
    ]
    assert read == items
    assert parsed.records[-1]["total"] == sum((d.amount for d in items), D(0))
