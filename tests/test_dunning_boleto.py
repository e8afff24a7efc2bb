"""Tests for ``rbm_dunning/engine/boleto.py`` (plain Python, no Odoo).

Public vectors: tests/vectors/br_vectors.json (``due_date_factor`` and
``boletos``), and kivanio/brcobranca (commit 325e0eae)
spec/brcobranca/boleto/{sicredi,sicoob,itau}_spec.rb for banks and cases the
vector file lacks.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import boleto as b

D = Decimal

# ---------------------------------------------------------------------------
# Due-date factor
# ---------------------------------------------------------------------------

FACTOR_VECTORS = [  # br_vectors.json due_date_factor.cases
    ("2000-07-03", 1000),
    ("2000-07-04", 1001),
    ("2008-02-01", 3769),
    ("2010-11-17", 4789),
    ("2014-01-18", 5947),
    ("2014-03-12", 6000),
    ("2017-01-21", 7046),
    ("2025-02-20", 9998),
    ("2025-02-21", 9999),
    ("2025-02-22", 1000),
    ("2025-02-23", 1001),
    ("2029-05-20", 2548),
]


@pytest.mark.parametrize("day, factor", FACTOR_VECTORS)
def test_factor_vectors(day, factor):
    due = date.fromisoformat(day)
    assert b.due_date_factor(due) == factor
    assert b.due_date_from_factor(factor, today=due) == due
    assert b.due_date_from_factor(f"{factor:04d}", today=due + timedelta(days=100)) == due


def test_factor_decoding_depends_on_today():
    # factor 1000 is 2000-07-03 seen from 2001, 2025-02-22 seen from 2026
    assert b.due_date_from_factor(1000, today=date(2001, 1, 1)) == date(2000, 7, 3)
    assert b.due_date_from_factor(1000, today=date(2026, 1, 1)) == date(2025, 2, 22)
    # 9999 seen the day after the reset is still the day before it
    assert b.due_date_from_factor(9999, today=date(2025, 2, 22)) == date(2025, 2, 21)


def test_factor_window_bounds():
    due = date(2027, 6, 1)
    factor = b.due_date_factor(due)
    assert b.due_date_from_factor(factor, today=due - timedelta(days=5500)) == due
    assert b.due_date_from_factor(factor, today=due + timedelta(days=3000)) == due
    # 3001 days late: the next cycle is 5999 days ahead, outside the window too
    with pytest.raises(b.BoletoError, match="no due date within"):
        b.due_date_from_factor(factor, today=due + timedelta(days=3001))


def test_factor_zero_means_no_due_date():
    assert b.due_date_factor(None) == 0
    assert b.due_date_from_factor(0, today=date(2026, 1, 1)) is None


@pytest.mark.parametrize("factor", [1, 999, 10000])
def test_factor_out_of_range(factor):
    with pytest.raises(b.BoletoError, match="0 or 1000..9999"):
        b.due_date_from_factor(factor, today=date(2026, 1, 1))


def test_factor_before_first_date():
    with pytest.raises(b.BoletoError, match="before 2000-07-03"):
        b.due_date_factor(date(2000, 7, 2))


@given(
    st.dates(date(2000, 7, 3), date(2049, 12, 31)),
    st.integers(-3000, 5500),
)
def test_factor_round_trip(due, days_ahead):
    # decoding finds ``due`` from any ``today`` that sees it within -3000/+5500
    today = due - timedelta(days=days_ahead)
    factor = b.due_date_factor(due)
    assert 1000 <= factor <= 9999
    assert b.due_date_from_factor(factor, today=today) == due


# ---------------------------------------------------------------------------
# Bank vectors (br_vectors.json "boletos")
# ---------------------------------------------------------------------------

BOLETO_VECTORS = [
    (
        "001",
        {"agreement": "1474166", "sequence": "0000000328", "portfolio": "17"},
        "2016-07-05",
        "2246.74",
        "0000001474166000000032817",
        "00191684600002246740000001474166000000032817",
        "00190.00009 01474.166004 00000.328179 1 68460000224674",
        "14741660000000328",
    ),
    (
        "341",
        {"branch": "0810", "account": "53678", "portfolio": "175", "our_number": "12345678"},
        "2009-08-14",
        "0.00",
        "1751234567840810536789000",
        "34191432900000000001751234567840810536789000",
        "34191.75124 34567.840813 05367.890000 1 43290000000000",
        "175/12345678-4",
    ),
    (
        "237",
        {"branch": "1172", "account": "0403005", "portfolio": "06", "our_number": "00075896452"},
        "2009-04-30",
        "2952.95",
        "1172060007589645204030050",
        "23795422300002952951172060007589645204030050",
        "23791.17209 60007.589645 52040.300502 5 42230000295295",
        "06/00075896452-5",  # nosso_numero_dv "5"
    ),
    (
        "033",
        {"beneficiary_code": "1899775", "our_number": "000009000026", "portfolio": "102"},
        "2011-10-09",
        "25.00",
        "9189977500000900002690102",
        "03399511500000025009189977500000900002690102",
        "03399.18997 77500.000904 00026.901025 9 51150000002500",
        "000009000026-9",  # nosso_numero_dv "9"
    ),
]


@pytest.mark.parametrize(
    "bank, fields, due, amount, free_field, barcode, line, our_number", BOLETO_VECTORS
)
def test_bank_vectors(bank, fields, due, amount, free_field, barcode, line, our_number):
    boleto = b.make_boleto(bank, date.fromisoformat(due), D(amount), **fields)
    assert boleto.free_field == free_field
    assert boleto.barcode == barcode
    assert boleto.typeable_line == line
    assert boleto.our_number == our_number
    assert b.typeable_line(barcode) == line
    assert b.barcode_from_typeable_line(line) == barcode


@pytest.mark.parametrize(
    "bank, fields, due, amount, free_field, barcode, line, our_number", BOLETO_VECTORS
)
def test_parse_bank_vectors(bank, fields, due, amount, free_field, barcode, line, our_number):
    today = date.fromisoformat(due) + timedelta(days=30)
    for code in (line, line.replace(" ", "").replace(".", ""), barcode):
        parsed = b.parse_boleto(code, today=today)
        assert parsed.bank == bank
        assert parsed.due_date == date.fromisoformat(due)
        assert parsed.amount == D(amount)
        assert parsed.barcode == barcode
        assert parsed.typeable_line == line
        assert parsed.our_number == our_number
        assert {k: parsed.fields[k] for k in fields} == {
            k: v.zfill(len(parsed.fields[k])) for k, v in fields.items()
        }


def test_caixa_vector():
    # br_vectors.json: Caixa SIGCB free field and nosso número (no full barcode)
    fields = {"beneficiary_code": "245274", "our_number": "14000000000000001"}
    assert b.free_field("104", **fields) == "2452740000100040000000017"
    assert b.our_number("104", **fields) == "14000000000000001-4"
    parsed = b.parse_free_field("104", "2452740000100040000000017")
    assert parsed["our_number"] == "14000000000000001"
    assert parsed["our_number_digit"] == "4"
    assert parsed["beneficiary_digit"] == "0"


# ---------------------------------------------------------------------------
# Examples for the banks and cases the vector file lacks
# ---------------------------------------------------------------------------

BRCOBRANCA_EXAMPLES = [
    (  # sicredi_spec.rb "carteira número 1"
        "748",
        {"our_number": "16208879", "branch": "0710", "post": "65", "beneficiary_code": "129"},
        "2016-08-22",
        "195.57",
        "74891.11620 08879.307109 65001.291015 1 68940000019557",
        "16/208879-3",
    ),
    (  # sicredi_spec.rb "carteira número 3" (sem registro)
        "748",
        {
            "charge_type": "3",
            "our_number": "16208879",
            "branch": "0710",
            "post": "65",
            "beneficiary_code": "129",
        },
        "2016-08-22",
        "195.57",
        "74893.11626 08879.307109 65001.291056 1 68940000019557",
        "16/208879-3",
    ),
    (  # sicoob_spec.rb "Montar código de barras modalidade 01"
        "756",
        {"cooperative": "4327", "beneficiary_code": "229385", "our_number": "2"},
        "2016-02-18",
        "50.00",
        "75691.43279 01022.938508 00000.240010 2 67080000005000",
        "0000002-4",
    ),
    (  # itau_spec.rb: due date after the 2025 factor reset (factor 2548)
        "341",
        {"branch": "1248", "account": "02124", "portfolio": "109", "our_number": "00010152"},
        "2029-05-20",
        "6757.87",
        "34191.09008 01015.271248 80212.460002 4 25480000675787",
        "109/00010152-7",
    ),
]

# Our own examples, one per bank, due 2026-03-10 (factor 1381, after the
# reset), R$ 1.234,56; each our-number check digit was also worked by hand.
OWN_EXAMPLES = [
    (
        "001",
        {"agreement": "2345678", "sequence": "1", "portfolio": "17"},
        "00190.00009 02345.678003 00000.001172 7 13810000123456",
        "23456780000000001",
    ),
    (
        "033",
        {"beneficiary_code": "1899775", "our_number": "123456789012", "portfolio": "101"},
        "03399.18997 77512.345677 89012.301019 4 13810000123456",
        "123456789012-3",
    ),
    (
        "104",
        {"beneficiary_code": "245274", "our_number": "14000000000012345"},
        "10492.45275 40000.100046 00001.234533 4 13810000123456",
        "14000000000012345-0",
    ),
    (
        "237",
        {"branch": "1172", "portfolio": "09", "our_number": "123", "account": "0403005"},
        "23791.17209 90000.000019 23040.300503 7 13810000123456",
        "09/00000000123-9",
    ),
    (
        "341",
        {"branch": "0810", "account": "53678", "portfolio": "109", "our_number": "1234"},
        "34191.09008 00123.450819 05367.890000 4 13810000123456",
        "109/00001234-5",
    ),
    (
        "748",
        {"our_number": "26200001", "branch": "0710", "post": "65", "beneficiary_code": "129"},
        "74891.12628 00001.407105 65001.291007 1 13810000123456",
        "26/200001-4",
    ),
    (
        "756",
        {"cooperative": "4327", "beneficiary_code": "229385", "our_number": "15"},
        "75691.43279 01022.938508 00001.500016 6 13810000123456",
        "0000015-0",
    ),
]


@pytest.mark.parametrize("bank, fields, due, amount, line, our_number", BRCOBRANCA_EXAMPLES)
def test_brcobranca_examples(bank, fields, due, amount, line, our_number):
    boleto = b.make_boleto(bank, date.fromisoformat(due), D(amount), **fields)
    assert boleto.typeable_line == line
    assert boleto.our_number == our_number
    assert b.parse_boleto(line, today=date.fromisoformat(due)).our_number == our_number


@pytest.mark.parametrize("bank, fields, line, our_number", OWN_EXAMPLES)
def test_own_example_per_bank(bank, fields, line, our_number):
    boleto = b.make_boleto(bank, date(2026, 3, 10), D("1234.56"), **fields)
    assert boleto.typeable_line == line
    assert boleto.our_number == our_number
    assert boleto.factor == 1381
    parsed = b.parse_boleto(line, today=date(2026, 2, 1))
    assert parsed == boleto


def test_every_bank_has_an_example():
    assert {example[0] for example in OWN_EXAMPLES} == set(b.BANKS)


def test_itau_short_dac_portfolios():
    # BRAZIL.md: carteiras 112/126/131/146/150/168 use mod10(carteira + NN).
    # (brcobranca's itau_spec.rb 168 example passes the carteira as an Integer,
    # so its own carteira check never matches and it computes the general DAC.)
    fields = {"branch": "0810", "account": "53678", "our_number": "258281"}
    assert b.our_number("341", portfolio="168", **fields) == "168/00258281-0"  # mod10 16800258281
    assert b.our_number("341", portfolio="175", **fields) == "175/00258281-7"
    boleto = b.make_boleto("341", date(2004, 9, 5), D("135.00"), portfolio="168", **fields)
    assert boleto.typeable_line == "34191.68004 25828.100815 05367.890000 7 25250000013500"
    assert b.parse_boleto(boleto.barcode, today=date(2004, 9, 1)).our_number == "168/00258281-0"


def test_bradesco_p_check_digit():
    # bradesco_spec.rb: 19/00000000001-P and 06/00000000525-P
    assert b.our_number("237", branch="1", account="1", portfolio="19", our_number="1") == (
        "19/00000000001-P"
    )
    assert b.our_number("237", branch="1", account="1", portfolio="06", our_number="525") == (
        "06/00000000525-P"
    )


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

BRADESCO_LINE = "23791.17209 60007.589645 52040.300502 5 42230000295295"


def _replace_digit(line, index, new):
    assert line[index].isdigit() and line[index] != new
    return line[:index] + new + line[index + 1 :]


@pytest.mark.parametrize(
    "index, field",
    [
        (0, "field 1"),  # bank code digit
        (10, "field 1"),  # field 1 check digit itself
        (14, "field 2"),
        (32, "field 3"),
        (38, "general check digit"),  # field 4
        (47, "general check digit"),  # amount digit: caught by the general DV
    ],
)
def test_wrong_digit_names_the_field(index, field):
    line = _replace_digit(BRADESCO_LINE, index, "7" if BRADESCO_LINE[index] != "7" else "8")
    with pytest.raises(b.BoletoError) as exc:
        b.parse_boleto(line, today=date(2009, 4, 1))
    assert exc.value.field == field


def test_wrong_general_digit_in_barcode():
    barcode = "34191432900000000001751234567840810536789000"
    with pytest.raises(b.BoletoError, match="general check digit: is 2, expected 1"):
        b.parse_boleto(barcode[:4] + "2" + barcode[5:], today=date(2009, 8, 1))


def test_wrong_our_number_digit_inside_a_valid_barcode():
    # a barcode whose DVs are right but whose free field has a wrong Itaú DAC
    free_field = "17512345678" + "5" + "0810536789000"  # DAC 4 -> 5
    code = b.barcode("341", date(2009, 8, 14), 0, free_field)
    with pytest.raises(b.BoletoError) as exc:
        b.parse_boleto(code, today=date(2009, 8, 1))
    assert exc.value.field == "our_number_digit"
    assert "expected 4" in str(exc.value)


def test_wrong_caixa_free_field_digit():
    with pytest.raises(b.BoletoError, match="free field check digit: is 8, expected 7"):
        b.parse_free_field("104", "2452740000100040000000018")


def test_unknown_free_field_layout_is_not_an_error():
    # a Santander free field always starts with 9: one starting with 1 follows
    # no known Santander layout (a BB boleto with a 6-digit convênio, which
    # this test used before, is now a known layout: test_dunning_boleto_variants)
    code = b.barcode("033", date(2026, 3, 10), D("10.00"), "1238790123440420006190018")
    parsed = b.parse_boleto(code, today=date(2026, 3, 1))
    assert parsed.fields is None and parsed.our_number is None
    assert parsed.layout_unknown and parsed.layout is None
    assert parsed.amount == D("10.00")
    with pytest.raises(b.UnknownLayoutError, match="follows none of the known layouts"):
        b.parse_free_field("033", "1238790123440420006190018")


@pytest.mark.parametrize(
    "code, message",
    [
        ("3419175124345678408130536789000014329000000000", "44 .* or 47 .* got 46"),
        ("34191.75124 34567.840813 05367.89000X 1 43290000000000", "non-digit characters 'X'"),
        ("836200000005 667800481000 180975657313 001589636081", "arrecadação"),
        ("", "got 0"),
    ],
)
def test_bad_codes(code, message):
    with pytest.raises(b.BoletoError, match=message):
        b.parse_boleto(code, today=date(2026, 1, 1))


def test_currency_other_than_real():
    body = "0" * 4 + "0" * 10 + "1" * 25
    code43 = "3410" + body
    code = code43[:4] + b.general_check_digit(code43) + code43[4:]
    with pytest.raises(b.BoletoError, match="currency"):
        b.parse_boleto(code, today=date(2026, 1, 1))


@pytest.mark.parametrize(
    "amount, message",
    [
        (D("100000000.00"), "exceeds the boleto maximum of 99999999.99"),
        (D("-0.01"), "must not be negative"),
        (D("10.005"), "more than two decimal places"),
        ("abc", "not a number"),
        (D("NaN"), "not a number"),
        (0.1 + 0.2, "more than two decimal places"),
    ],
)
def test_bad_amounts(amount, message):
    with pytest.raises(b.BoletoError, match=message) as exc:
        b.barcode("341", date(2026, 1, 1), amount, "0" * 25)
    assert exc.value.field == "amount"


def test_amount_limits():
    assert b.to_cents(D("99999999.99")) == 9999999999
    assert b.to_cents(12.5) == 1250
    assert b.to_cents(7) == 700


@pytest.mark.parametrize(
    "bank, fields, field, message",
    [
        (
            "341",
            {"branch": "0810", "account": "53678", "portfolio": "175"},
            "our_number",
            "required",
        ),
        (
            "341",
            {"branch": "0810", "account": "53678", "portfolio": "175", "our_number": "123456789"},
            "our_number",
            "9 digits, at most 8",
        ),
        (
            "341",
            {"branch": "08A0", "account": "53678", "portfolio": "175", "our_number": "1"},
            "branch",
            "only digits",
        ),
        (  # carteira 198 has the "seu número" layout, which needs the client code
            "341",
            {
                "branch": "0810",
                "account": "53678",
                "portfolio": "198",
                "our_number": "1",
                "your_number": "1",
            },
            "client_code",
            "required",
        ),
        (
            "033",
            {"beneficiary_code": "1", "our_number": "1", "portfolio": "103"},
            "portfolio",
            "one of 101, 102, 201",
        ),
        ("237", {"agencia": "1172"}, "agencia", "not a field of Bradesco"),
    ],
)
def test_bad_bank_fields(bank, fields, field, message):
    with pytest.raises(b.BoletoError, match=message) as exc:
        b.make_boleto(bank, date(2026, 1, 1), D("1.00"), **fields)
    assert exc.value.field == field


def test_bank_layouts_are_checked_when_built():
    with pytest.raises(ValueError, match="bank 999: free field template has 8 digits, not 25"):
        b.BankLayout(code="999", name="x", fields={"a": 5}, free_field="a 000", our_number="a")
    with pytest.raises(ValueError, match="bank 999: b missing from the free field"):
        b.BankLayout(code="999", name="x", fields={"a": 25, "b": 1}, free_field="a", our_number="a")
    with pytest.raises(ValueError, match="unknown field 'c'"):
        b.BankLayout(code="999", name="x", fields={"a": 24}, free_field="a c", our_number="a")


def test_unknown_bank():
    with pytest.raises(b.BoletoError, match="no free-field layout for bank '077'"):
        b.free_field("077")


def test_barcode_part_lengths():
    with pytest.raises(b.BoletoError, match="free_field: must have 25 digits, got 24"):
        b.barcode("341", None, 1, "0" * 24)
    with pytest.raises(b.BoletoError, match="bank: must contain only digits"):
        b.barcode("34A", None, 1, "0" * 25)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

barcodes = st.builds(
    b.barcode,
    st.text(alphabet="0123456789", min_size=3, max_size=3),
    st.one_of(st.none(), st.dates(date(2000, 7, 3), date(2049, 12, 31))),
    st.integers(0, 9_999_999_999).map(lambda cents: D(cents).scaleb(-2)),
    st.text(alphabet="0123456789", min_size=25, max_size=25),
)


@given(barcodes)
def test_typeable_line_round_trip(code):
    line = b.typeable_line(code)
    assert len(line) == 54 and len(b.typeable_line(code, formatted=False)) == 47
    assert b.barcode_from_typeable_line(line) == code
    assert b.barcode_from_typeable_line(b.typeable_line(code, formatted=False)) == code


@given(
    st.sampled_from(OWN_EXAMPLES),
    st.dates(date(2000, 7, 3), date(2049, 12, 31)),
    st.integers(0, 9_999_999_999),
)
def test_make_and_parse_round_trip(example, due, cents):
    bank, fields, _, _ = example
    boleto = b.make_boleto(bank, due, D(cents).scaleb(-2), **fields)
    assert b.parse_boleto(boleto.typeable_line, today=due) == boleto
