"""CNAB 150 layout versions 05 and 08 next to 04 (``rbm_dunning/engine/cnab150.py``).

Positions are those of the FEBRABAN "Manual do Débito Automático": versão 05
(06.05.2008) and versão 08 (standard of 27.05.2020, manual of 03.11.2020),
records A, B, C, D, E, F and Z. Each assertion cites the 1-based positions of
the manual; Python slices are ``[start - 1:end]``."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import cnab150
from rbm_dunning_engine.cnab150 import CnabError

D = Decimal
CPF = "390.533.447-05"  # valid: check digits 0 and 5 (Receita's mod 11)
CNPJ = "11.222.333/0001-81"  # valid: check digits 8 and 1


def _pos(line, start, end):
    """Positions ``start``..``end`` (1-based, inclusive) of a record."""
    return line[start - 1 : end]


def _remittance(version, debits, refusals=(), account_fill="spaces"):
    return cnab150.cnab150_remittance(
        agreement="CONV123",
        company_name="Empresa Recorrente",
        bank="041",
        bank_name="Banrisul",
        file_sequence=7,
        generated_on=date(2026, 3, 2),
        debits=debits,
        refusals=refusals,
        version=version,
        account_fill=account_fill,
    )


DEBIT = cnab150.Debit(
    "CLI-0001", "0810", "0012345X", date(2026, 3, 10), D("199.90"), "RBMD12", payer_document=CPF
)
DEBIT_CNPJ = cnab150.Debit(
    "CLI-0002", "0042", "77777", date(2026, 3, 10), D("49.10"), "RBMD13", payer_document=CNPJ
)


# ---------------------------------------------------------------------------
# Remittances, field by field
# ---------------------------------------------------------------------------


def test_v05_remittance_field_by_field():
    header, refusal, first, second, trailer = _remittance(
        "05",
        [DEBIT, DEBIT_CNPJ],
        [cnab150.Refusal("NOBODY", "0810", "0012345X", "Cliente não identificado")],
    ).split("\r\n")[:-1]
    # A: 80-81 version "05"; the rest as in 04
    assert (_pos(header, 1, 2), _pos(header, 74, 79)) == ("A1", "000007")
    assert _pos(header, 80, 81) == "05"
    assert _pos(header, 82, 98) == "DEBITO AUTOMATICO"
    # C: 31-44 account (14), 45-84 and 85-124 occurrences, 150 movement
    assert _pos(refusal, 31, 44) == "0012345X      "
    assert _pos(refusal, 45, 84) == "CLIENTE NAO IDENTIFICADO".ljust(40)
    assert _pos(refusal, 150, 150) == "2"
    # E: 2-26 customer, 27-30 agency, 31-44 account, 45-52 due date,
    # 53-67 amount (199.90 -> 19990 cents in 15 digits), 68-69 currency 03
    assert _pos(first, 1, 1) == "E"
    assert _pos(first, 2, 26) == "CLI-0001".ljust(25)
    assert _pos(first, 27, 30) == "0810"
    assert _pos(first, 31, 44) == "0012345X".ljust(14)
    assert _pos(first, 45, 52) == "20260310"
    assert _pos(first, 53, 67) == "000000000019990"
    assert _pos(first, 68, 69) == "03"
    # 70-128 company use (59), 129 blank
    assert _pos(first, 70, 128) == "RBMD12".ljust(59)
    assert _pos(first, 129, 129) == " "
    # 130 type 2 CPF, 131-145 the CPF right-aligned, zero-filled (15 - 11 = 4 zeros)
    assert _pos(first, 130, 130) == "2"
    assert _pos(first, 131, 145) == "000039053344705"
    # 146-149 reserved, 150 movement 0 (normal debit)
    assert _pos(first, 146, 149) == "    "
    assert _pos(first, 150, 150) == "0"
    # a CNPJ: type 1, 14 digits after one zero
    assert (_pos(second, 130, 130), _pos(second, 131, 145)) == ("1", "011222333000181")
    # Z: 5 records; total 199.90 + 49.10 = 249.00 -> 24900 in 17 digits
    assert _pos(trailer, 2, 7) == "000005"
    assert _pos(trailer, 8, 24) == "00000000000024900"
    assert all(len(line) == 150 for line in (header, refusal, first, second, trailer))


def test_v08_remittance_field_by_field():
    header, refusal, first, trailer = _remittance(
        "08",
        [DEBIT],
        [cnab150.Refusal("NOBODY", "0810", "0012345X", "Cliente não identificado")],
    ).split("\r\n")[:-1]
    assert _pos(header, 80, 81) == "08"
    # C: 31-50 account (20), 51-90 and 91-130 occurrences
    assert _pos(refusal, 31, 50) == "0012345X".ljust(20)
    assert _pos(refusal, 51, 90) == "CLIENTE NAO IDENTIFICADO".ljust(40)
    assert _pos(refusal, 91, 130) == " " * 40
    assert _pos(refusal, 150, 150) == "2"
    # E: account 31-50, then every field 6 positions further than in 04/05
    assert _pos(first, 2, 26) == "CLI-0001".ljust(25)
    assert _pos(first, 27, 30) == "0810"
    assert _pos(first, 31, 50) == "0012345X".ljust(20)
    assert _pos(first, 51, 58) == "20260310"
    assert _pos(first, 59, 73) == "000000000019990"
    assert _pos(first, 74, 75) == "03"
    # 76-128 company use (53), 129 blank
    assert _pos(first, 76, 128) == "RBMD12".ljust(53)
    assert _pos(first, 129, 129) == " "
    assert (_pos(first, 130, 130), _pos(first, 131, 145)) == ("2", "000039053344705")
    # 146 operation type 3 (other), 147 overdraft 2 (no), 148 partial/after due 2 (no)
    assert (_pos(first, 146, 146), _pos(first, 147, 147), _pos(first, 148, 148)) == ("3", "2", "2")
    assert (_pos(first, 149, 149), _pos(first, 150, 150)) == (" ", "0")
    assert (_pos(trailer, 2, 7), _pos(trailer, 8, 24)) == ("000004", "00000000000019990")


def test_v04_remittance_is_unchanged_by_the_new_versions():
    """The same debit in 04 has no document, 60 positions of company use."""
    content = _remittance("04", [DEBIT])
    assert content == cnab150.cnab150_remittance(
        "CONV123", "Empresa Recorrente", "041", "Banrisul", 7, date(2026, 3, 2), [DEBIT]
    )
    first = content.split("\r\n")[1]
    assert _pos(first, 70, 129) == "RBMD12".ljust(60)
    assert _pos(first, 130, 150) == " " * 20 + "0"


@pytest.mark.parametrize("version", ["05", "08"])
def test_payer_document_required_from_v05(version):
    no_document = cnab150.Debit("CLI-0001", "0810", "12345", date(2026, 3, 10), D("1"))
    with pytest.raises(CnabError, match="line 2: payer_document: .*required from layout 05"):
        _remittance(version, [no_document])
    bad = cnab150.Debit(
        "CLI-0001", "0810", "12345", date(2026, 3, 10), D("1"), payer_document="390.533.447-06"
    )
    with pytest.raises(CnabError, match="line 2: payer_document: .*wrong check digits"):
        _remittance(version, [bad])
    # a document is not needed in 04
    _remittance("04", [no_document])


def test_payer_document_function():
    assert cnab150.payer_document(CPF) == ("2", "000039053344705")
    assert cnab150.payer_document("11222333000181") == ("1", "011222333000181")
    # the alphanumeric CNPJ (IN RFB 2.229/2024) keeps its letters, right-aligned
    assert cnab150.payer_document("12.ABC.345/01DE-35") == ("1", "012ABC34501DE35")
    with pytest.raises(ValueError, match="wrong check digits"):
        cnab150.payer_document("12.ABC.345/01DE-36")


@pytest.mark.parametrize("version", ["05", "08"])
def test_alphanumeric_cnpj_written_and_read_back(version):
    debit = cnab150.Debit(
        "CLI-0003",
        "0810",
        "12345",
        date(2026, 9, 10),
        D("350.00"),
        "RBMD14",
        payer_document="12.abc.345/01de-35",
    )
    content = _remittance(version, [debit])
    line = content.split("\r\n")[1]
    # record E: 130 type (1 = CNPJ), 131-145 the inscription, in both versions
    assert (line[129], line[130:145]) == ("1", "012ABC34501DE35")
    (record,) = [r for r in cnab150.parse_cnab150(content).records if r.kind == "E"]
    assert record["payer_document"] == "012ABC34501DE35"


@pytest.mark.parametrize("version, start, end", [("04", 31, 44), ("05", 31, 44), ("08", 31, 50)])
def test_account_zero_filled_when_the_bank_asks(version, start, end):
    content = _remittance(version, [DEBIT], account_fill="zeros")
    first = content.split("\r\n")[1]
    width = end - start + 1
    assert _pos(first, start, end) == "0" * (width - 8) + "0012345X"
    with pytest.raises(CnabError, match="unknown filling"):
        _remittance(version, [DEBIT], account_fill="left")


def test_unknown_version_is_refused_when_writing():
    with pytest.raises(CnabError, match="layout_version: is '06', only 04, 05, 08"):
        _remittance("06", [DEBIT])


# ---------------------------------------------------------------------------
# Round trips of every record of every version
# ---------------------------------------------------------------------------

VALUES = {
    "A": {
        "file_type": "2",
        "agreement": "CONV123",
        "company_name": "EMPRESA",
        "bank": "041",
        "bank_name": "BANRISUL",
        "generated_on": date(2026, 3, 11),
        "file_sequence": 42,
    },
    "B": {
        "customer_id": "CLI-0001",
        "branch": "0810",
        "account_id": "0012345X",
        "option_date": date(2026, 2, 20),
        "movement": "2",
    },
    "C": {
        "customer_id": "CLI-0001",
        "branch": "0810",
        "account_id": "0012345X",
        "occurrence1": "CLIENTE NAO IDENTIFICADO",
        "occurrence2": "VER CADASTRO",
        "movement": "2",
    },
    "D": {
        "previous_customer_id": "CLI-0001",
        "branch": "0810",
        "account_id": "0012345X",
        "customer_id": "CLI-0100",
        "occurrence": "NOVO CODIGO",
        "movement": "0",
    },
    "E": {
        "customer_id": "CLI-0001",
        "branch": "0810",
        "account_id": "0012345X",
        "due_date": date(2026, 3, 10),
        "amount": D("199.90"),
        "currency": "03",
        "company_use": "RBMD12",
        "movement": "0",
    },
    "F": {
        "customer_id": "CLI-0001",
        "branch": "0810",
        "account_id": "0012345X",
        "debit_date": date(2026, 3, 10),
        "amount": D("199.90"),
        "return_code": "00",
        "company_use": "RBMD12",
        "movement": "0",
    },
    "Z": {"record_count": 3, "total": D("199.90")},
}
EXTRA = {
    "05": {
        "E": {"payer_document_type": "2", "payer_document": "000039053344705"},
        "F": {"payer_document_type": "1", "payer_document": "011222333000181"},
    },
    "08": {
        "D": {
            "authorization_until": date(2027, 3, 10),
            "overdraft_change": "0",
            "after_due_change": "1",
        },
        "E": {
            "payer_document_type": "2",
            "payer_document": "000039053344705",
            "operation_type": "3",
            "overdraft": "2",
            "partial_after_due": "1",
        },
        "F": {"payer_document_type": "1", "payer_document": "011222333000181", "return_code": "DP"},
    },
}


@pytest.mark.parametrize("version", cnab150.LAYOUT_VERSIONS)
@pytest.mark.parametrize("kind", ["A", "B", "C", "D", "E", "F", "Z"])
def test_every_record_round_trips(version, kind):
    record = cnab150.LAYOUTS[version][kind]
    values = {**VALUES[kind], **EXTRA.get(version, {}).get(kind, {})}
    line = record.to_line(values)
    assert len(line) == 150 and line[0] == kind
    read, errors = record.from_line(line)
    assert not errors
    expected = {
        **values,
        "record_type": kind,
        "layout_version": version,
        "service": "DEBITO AUTOMATICO",
    }
    assert read == {k: v for k, v in expected.items() if k in record.names}
    assert set(read) == record.names


def test_the_account_field_per_version():
    """The account id ends at 44 in 04 and 05, at 50 in 08; what follows moves."""
    for version, end, date_at in (("04", 44, 45), ("05", 44, 45), ("08", 50, 51)):
        line = cnab150.LAYOUTS[version]["B"].to_line(VALUES["B"])
        assert _pos(line, 31, end) == "0012345X".ljust(end - 30)
        assert _pos(line, date_at, date_at + 7) == "20260220"


# ---------------------------------------------------------------------------
# Returns read in the version their header declares
# ---------------------------------------------------------------------------


def _return(version, results, mandates=()):
    records = cnab150.LAYOUTS[version]
    lines = [records["A"].to_line({**VALUES["A"], "file_sequence": 3})]
    for values in mandates:
        lines.append(records["B"].to_line({**VALUES["B"], **values}))
    total = D(0)
    for values in results:
        values = {**VALUES["F"], **EXTRA.get(version, {}).get("F", {}), **values}
        total += values["amount"]
        lines.append(records["F"].to_line(values))
    lines.append(records["Z"].to_line({"record_count": len(lines) + 1, "total": total}))
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("version", cnab150.LAYOUT_VERSIONS)
def test_return_read_in_its_declared_version(version):
    content = _return(
        version,
        [
            {"return_code": "00", "amount": D("199.90")},
            {"return_code": "01", "amount": D("49.10"), "company_use": "RBMD13"},
        ],
        mandates=[{"customer_id": "CLI-0009", "movement": "1"}],
    )
    assert cnab150.declared_version(content) == version
    parsed = cnab150.parse_cnab150(content, expected_file_sequence=3, expected_version=version)
    paid, unpaid = cnab150.cnab150_results(parsed)
    assert (paid.account_id, paid.amount, paid.debit_date, paid.company_use) == (
        "0012345X",
        D("199.90"),
        date(2026, 3, 10),
        "RBMD12",
    )
    assert paid.debited and not unpaid.debited
    assert unpaid.return_code.description == "Insuficiência de fundos"
    (exclusion,) = cnab150.cnab150_mandates(parsed)
    assert (exclusion.customer_id, exclusion.action, exclusion.account_id) == (
        "CLI-0009",
        "exclusion",
        "0012345X",
    )
    if version != "04":
        assert paid.values["payer_document"] == "011222333000181"


@pytest.mark.parametrize(
    "written, expected", [("05", "04"), ("08", "05"), ("04", "08"), ("08", "04")]
)
def test_return_of_another_version_is_refused(written, expected):
    content = _return(written, [{"return_code": "00"}])
    with pytest.raises(CnabError) as exc:
        cnab150.parse_cnab150(content, expected_version=expected)
    assert (exc.value.line_number, exc.value.field) == (1, "layout_version")
    assert exc.value.message == f"is '{written}', the agreement uses {expected}"


def test_a_v08_file_is_not_misread_as_04():
    """The same F values land in different positions: read as 04 (header
    rewritten) the amount and code are wrong, so the version decides."""
    content = _return("08", [{"return_code": "00"}])
    parsed = cnab150.parse_cnab150(content)
    assert cnab150.cnab150_results(parsed)[0].amount == D("199.90")
    as_04 = content[:79] + "04" + content[81:]
    parsed = cnab150.parse_cnab150(as_04, strict=False)
    assert parsed.errors  # the 04 layout finds digits where a date should be, etc.


# ---------------------------------------------------------------------------
# Return codes
# ---------------------------------------------------------------------------

CODES_05 = {"19": "not_holder", "20": "joint_account"}
CODES_08 = {
    "DP": "debited_partially",
    "FP": "short_notice",
    "CF": "registered",
    "NC": "registration_bad_account",
    "CH": "registration_bad_overdraft",
    "PV": "registration_bad_after_due",
    "DT": "registration_bad_date",
    "OP": "registration_bad_operation",
    "CE": "registration_exists",
    "CD": "registration_cancelled",
    "PB": "portability",
}


def test_return_codes_per_version():
    v04 = cnab150.RETURN_CODES_BY_VERSION["04"]
    v05 = cnab150.RETURN_CODES_BY_VERSION["05"]
    v08 = cnab150.RETURN_CODES_BY_VERSION["08"]
    # 17 codes in 04; 05 adds 2; 08 adds 11 two-letter codes
    assert (len(v04), len(v05), len(v08)) == (17, 19, 30)
    assert {c: rc.key for c, rc in v05.items() if c not in v04} == CODES_05
    assert {c: rc.key for c, rc in v08.items() if c not in v05} == CODES_08
    assert {c for c, rc in v08.items() if rc.debited} == {"00", "31", "DP"}
    # a code of a newer version is unknown to an older one, shown with its number
    assert cnab150.return_code("19", "04").key == "unknown"
    assert cnab150.return_code("19", "05").description == (
        "Agência/conta não pertence ao CPF/CNPJ informado"
    )
    assert cnab150.return_code("PB", "05").description == "Código de retorno PB"
    assert cnab150.return_code("PB", "08").description == (
        "Débito não realizado: cliente com portabilidade"
    )
    assert all(rc.description for rc in v08.values())


def test_v08_partial_debit_is_read_with_its_amount():
    content = _return("08", [{"return_code": "DP", "amount": D("120.00")}])
    (result,) = cnab150.cnab150_results(cnab150.parse_cnab150(content))
    assert (result.debited, result.amount, result.return_code.key) == (
        True,
        D("120.00"),
        "debited_partially",
    )


debits_05 = st.builds(
    cnab150.Debit,
    customer_id=st.text(alphabet="ABCXYZ0123456789-/ ", max_size=25).map(str.rstrip),
    branch=st.text(alphabet="0123456789", min_size=4, max_size=4),
    account_id=st.text(alphabet="0123456789X", max_size=14),
    due_date=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    amount=st.integers(0, 10**15 - 1).map(lambda c: D(c).scaleb(-2)),
    company_use=st.text(alphabet="ABC 123", max_size=53).map(str.rstrip),
    cancel=st.booleans(),
    payer_document=st.sampled_from([CPF, CNPJ]),
)


@given(st.sampled_from(["05", "08"]), st.lists(debits_05, max_size=5))
def test_remittance_round_trip_property(version, items):
    content = _remittance(version, items)
    parsed = cnab150.parse_cnab150(content, expected_file_sequence=7, expected_version=version)
    read = parsed.of_kind("E")
    assert [
        (r["customer_id"], r["branch"], r["account_id"], r["due_date"], r["amount"]) for r in read
    ] == [(d.customer_id, d.branch, d.account_id, d.due_date, d.amount) for d in items]
    assert [r["company_use"] for r in read] == [d.company_use for d in items]
    assert [r["movement"] == "1" for r in read] == [d.cancel for d in items]
    assert [r["payer_document"] for r in read] == [
        cnab150.payer_document(d.payer_document)[1] for d in items
    ]
    assert parsed.records[-1]["total"] == sum((d.amount for d in items), D(0))
