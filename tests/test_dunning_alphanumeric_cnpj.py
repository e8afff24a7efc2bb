"""The alphanumeric CNPJ (IN RFB 2.229/2024, issued since July 2026) through
the collection codecs: the check-digit rule, and the inscription-number fields
of CNAB 240 and CNAB 400 remittances and returns.

The rule (Receita Federal): twelve characters ``[0-9A-Z]``, each worth its
ASCII code minus 48 ('0'→0 … '9'→9, 'A'→17 … 'Z'→42), then two numeric check
digits computed with the CNPJ's modulo 11 weights. The Receita's own example
is ``12.ABC.345/01DE-35``. The banks' guidance keeps the inscription number in
the same positions, right-aligned with zeros on the left.
"""

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import checkdigits as cd
from rbm_dunning_engine import cnab, cnab_layouts

D = Decimal
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
RECEITA = "12ABC34501DE35"  # the Receita's example, compact
PAYER_CNPJ = "12.ABC.345/01DE-35"


# ---------------------------------------------------------------------------
# The rule
# ---------------------------------------------------------------------------


def test_receita_example_worked_by_hand():
    # values: 1 2 A=17 B=18 C=19 3 4 5 0 1 D=20 E=21
    # first digit, weights 5 4 3 2 9 8 7 6 5 4 3 2:
    #   5+8+51+36+171+24+28+30+0+4+60+42 = 459; 459 % 11 = 8 -> 11-8 = 3
    # second digit, weights 6 5 4 3 2 9 8 7 6 5 4 3 2 (with the 3):
    #   6+10+68+54+38+27+32+35+0+5+80+63+6 = 424; 424 % 11 = 6 -> 11-6 = 5
    assert cd.cnpj_check_digits("12ABC34501DE") == "35"
    assert cd.validate_document(PAYER_CNPJ) == ("cnpj", RECEITA)
    assert cd.format_document(RECEITA) == PAYER_CNPJ


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12.ABC.345/01DE-36", "check_digits"),  # last digit changed
        ("12.ABC.345/01DF-35", "check_digits"),  # a letter of the base changed
        ("12.ABC.345/01DE-3A", "characters"),  # a letter in the check digits
        ("12.ABC.345/01DE-AB", "characters"),
        ("12.ABÇ.345/01DE-35", "characters"),  # not A-Z
        ("12.ABC.345/01Dı-35", "characters"),  # dotless i upper-cases to I: refused first
        ("12.ABC.345/01DE", "length"),
        ("12.ABC.345/01DE-355", "length"),
        ("AAAAAAAAAAAAAA", "characters"),  # letters in the check digits
        ("00.000.000/0000-00", "repeated"),  # passes the arithmetic, never issued
        ("", "missing"),
        ("   ", "missing"),
    ],
)
def test_wrong_cnpjs_refused_with_their_reason(value, reason):
    with pytest.raises(cd.DocumentError) as caught:
        cd.validate_document(value)
    assert caught.value.reason == reason


def test_lower_case_is_read_as_the_capital_letters():
    # the Receita's letters are capitals; a customer typing in lower case
    # means the same CNPJ
    assert cd.validate_cnpj("12.abc.345/01de-35") == RECEITA
    assert cd.format_document("12abc34501de35") == PAYER_CNPJ


@given(st.text(alphabet=ALNUM, min_size=12, max_size=12))
def test_any_base_round_trips_through_digits_mask_and_compact_form(base):
    number = base + cd.cnpj_check_digits(base)
    if len(set(number)) == 1:
        return  # "00000000000000": refused as repeated
    masked = cd.format_cnpj(number)
    assert masked == f"{base[:2]}.{base[2:5]}.{base[5:8]}/{base[8:12]}-{number[12:]}"
    assert cd.validate_document(masked) == ("cnpj", number)
    assert cd.validate_document(masked.lower()) == ("cnpj", number)
    assert cd.format_document(number) == masked


def _remainders(base):
    """The two weighted sums modulo 11, written from the Receita's rule."""
    values = [ord(c) - 48 for c in base]
    first_weights = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    first = sum(v * w for v, w in zip(values, first_weights, strict=True)) % 11
    digit = 0 if first < 2 else 11 - first
    weights = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    second = sum(v * w for v, w in zip([*values, digit], weights, strict=True)) % 11
    return first, second


@given(st.text(alphabet=ALNUM, min_size=12, max_size=12), st.data())
def test_one_changed_character_is_caught_unless_the_rule_cannot_see_it(base, data):
    """The modulo 11 catches the change of one character, with two limits
    of the rule itself, which the test states rather than hides: a value
    moving by a multiple of 11 ('0' = 0 and 'F' = 22, 'A' = 17 and 'R' =
    39...) leaves both sums unchanged; and remainders 0 and 1 both give the
    digit 0, so a change moving a remainder between them is not seen by
    that digit."""
    number = base + cd.cnpj_check_digits(base)
    position = data.draw(st.integers(0, 11))
    other = data.draw(st.sampled_from(ALNUM.replace(base[position], "")))
    changed = base[:position] + other + base[position + 1 :]
    if (ord(other) - ord(base[position])) % 11 == 0:
        assert cd.cnpj_check_digits(changed) == number[12:]
        return
    before, after = _remainders(base), _remainders(changed)
    collapsed = all(
        b != a and {b, a} <= {0, 1} or b == a for b, a in zip(before, after, strict=True)
    )
    assert (cd.cnpj_check_digits(changed) == number[12:]) == collapsed


# ---------------------------------------------------------------------------
# CNAB 240 (FEBRABAN 240, v. 10.7 / 10.11 positions)
# ---------------------------------------------------------------------------

PAYER = cnab.Payer(
    name="Padaria Pão Quente Ltda",
    document=PAYER_CNPJ,
    address="Rua Augusta, 500",
    district="Consolação",
    postal_code="01305-000",
    city="São Paulo",
    state="SP",
)


def test_beneficiary_cnpj_check_digits_worked_by_hand():
    # A=17 B=18 C=19 D=20 E=21 F=22 G=23 H=24 0 0 0 1
    # first, weights 5 4 3 2 9 8 7 6 5 4 3 2:
    #   85+72+57+40+189+176+161+144+0+0+0+2 = 926 = 11*84 + 2 -> 11-2 = 9
    # second, weights 6 5 4 3 2 9 8 7 6 5 4 3 2 (with the 9):
    #   102+90+76+60+42+198+184+168+0+0+0+3+18 = 941 = 11*85 + 6 -> 11-6 = 5
    assert cd.cnpj_check_digits("ABCDEFGH0001") == "95"


BENEFICIARY = "AB.CDE.FGH/0001-95"


def _beneficiary(bank, **extra):
    values = {
        "001": {"agreement": "1234567", "branch": "1234", "account": "12345"},
        "033": {"agreement": "000100001234567", "branch": "0001", "account": "013001234"},
        "104": {"agreement": "123456", "branch": "1234", "account": "5678"},
        "237": {"agreement": "4540691", "branch": "1172", "account": "0403005", "portfolio": "09"},
        "341": {"agreement": "", "branch": "0810", "account": "53678", "portfolio": "109"},
        "748": {"agreement": "12345", "branch": "0710", "account": "00129"},
        "756": {"agreement": "229385", "branch": "4327", "account": "417270"},
    }[bank]
    return cnab.Beneficiary(
        bank=bank,
        name="Conecta Serviços Digitais Ltda",
        document=BENEFICIARY,
        **{"branch_digit": "0", "account_digit": "1", **values, **extra},
    )


def _title(our_number="12345678"):
    return cnab.Title(
        our_number=our_number,
        due_date=date(2026, 9, 10),
        amount=D("350.00"),
        document_number="NF-26-090",
        payer=PAYER,
        issue_date=date(2026, 8, 25),
    )


@pytest.mark.parametrize("bank", sorted(cnab_layouts.CNAB240_BANKS))
def test_240_remittance_carries_the_letters_in_the_inscription_positions(bank):
    content = cnab.cnab240_remittance(
        _beneficiary(bank), [_title()], file_sequence=7, generated_at=datetime(2026, 8, 25, 9)
    )
    lines = content.split("\r\n")[:-1]
    header, batch_header = lines[0], lines[1]
    q = next(line for line in lines if line[7] == "3" and line[13] == "Q")
    if bank == "033":
        # Santander's 240 file header: 17 inscription type, 18-32 inscription (15)
        assert (header[16], header[17:32]) == ("2", "0ABCDEFGH000195")
    else:
        # FEBRABAN file header: 18 inscription type (2 = CNPJ), 19-32 CNPJ (14)
        assert (header[17], header[18:32]) == ("2", "ABCDEFGH000195")
    # batch header: 18 type, 19-33 inscription (15): right-aligned, zero on the left
    assert (batch_header[17], batch_header[18:33]) == ("2", "0ABCDEFGH000195")
    # segment Q: 18 type, 19-33 payer inscription (15)
    assert (q[17], q[18:33]) == ("2", "0" + RECEITA)
    parsed = cnab.parse_cnab240(content)
    assert parsed.of_kind("Q")[0]["payer_document"] == "0" + RECEITA


@pytest.mark.parametrize("bank", sorted(cnab_layouts.CNAB240_BANKS))
def test_240_return_with_letters_is_read(bank):
    layout = cnab.cnab240_layout(bank, "return")
    common = {"batch": 1, "company_document_type": "2", "company_document": "ABCDEFGH000195"}

    def write(record, values):
        return record.to_line({k: v for k, v in values.items() if k in record.names})

    t = {
        **common,
        "sequence": 1,
        "occurrence": "06",
        "our_number": "12345678",
        "due_date": date(2026, 9, 10),
        "amount": D("350.00"),
        "payer_document_type": "2",
        "payer_document": "0" + RECEITA,
    }
    u = {
        **common,
        "sequence": 2,
        "occurrence": "06",
        "amount_paid": D("350.00"),
        "net_amount": D("350.00"),
        "occurrence_date": date(2026, 9, 10),
        "credit_date": date(2026, 9, 11),
    }
    lines = [
        write(layout["file_header"], {**common, "file_type": "2", "file_sequence": 3}),
        write(layout["batch_header"], {**common, "operation": "T"}),
        write(layout["T"], t),
        write(layout["U"], u),
        write(layout["batch_trailer"], {**common, "record_count": 4}),
    ]
    lines.append(layout["file_trailer"].to_line({"batch_count": 1, "record_count": 6}))
    content = "\r\n".join(lines) + "\r\n"
    parsed = cnab.parse_cnab240(content)
    (item,) = cnab.cnab240_return_items(parsed)
    assert (item.kind, item.amount_paid) == ("paid", D("350.00"))
    assert item.our_number.lstrip("0") == "12345678"
    if "payer_document" in layout["T"].names:
        assert parsed.of_kind("T")[0]["payer_document"] == "0" + RECEITA


# ---------------------------------------------------------------------------
# CNAB 400: payer inscription at 219-220 (type 01 CPF / 02 CNPJ) and 221-234
# in the manuals of Itaú, Bradesco, Banco do Brasil, Santander and Sicoob
# ---------------------------------------------------------------------------

BANKS_400 = sorted(bank for bank, direction in cnab_layouts.CNAB400 if direction == "remittance")


@pytest.mark.parametrize("bank", BANKS_400)
def test_400_remittance_carries_the_letters_in_the_inscription_positions(bank):
    extra = {
        "756": {"branch": "4327", "branch_digit": "3", "account": "12345678", "agreement": "1"},
        "033": {"branch": "4042", "account": "61900", "agreement": "17777751042700080112"},
        "001": {"branch": "1234", "branch_digit": "3", "account": "12343", "agreement": "1234567"},
    }.get(bank, {})
    title = _title(
        {
            "756": "000000000427",
            "033": "00000420",
            "001": "12345670000000042",
            "237": "00000000042",
            "341": "00000042",
        }[bank]
    )
    content = cnab.cnab400_remittance(_beneficiary(bank, **extra), [title], 7, date(2026, 8, 25))
    detail = content.split("\r\n")[1]
    assert (detail[218:220], detail[220:234]) == ("02", RECEITA)
    detail_layout = cnab.cnab400_layout(bank, "remittance")["detail"]
    if "company_document" in detail_layout.names:
        # beneficiary inscription: 02-03 type, 04-17 number
        assert (detail[1:3], detail[3:17]) == ("02", "ABCDEFGH000195")
    parsed = cnab.parse_cnab400(content)
    assert parsed.of_kind("detail")[0]["payer_document"] == RECEITA


def test_a_title_with_a_letter_outside_a_z_is_refused_naming_the_field():
    record = cnab.cnab240_layout("341")["Q"]
    with pytest.raises(cnab.CnabError) as caught:
        record.to_line({"payer_document_type": "2", "payer_document": "12abc34501de35"})
    assert caught.value.field == "payer_document"
    assert "upper-case letters" in caught.value.message
